//! Deterministic page contents for tests, the reclaim harness and the kernel's workloads:
//! a page is a pure function of (page index, version, seed), so anyone can regenerate it
//! and check a swapped-in page byte for byte. No allocation, no state; owns no memory
//! (a `PagePool` lives in memory its user lends).

use crate::addr::PAGE_SIZE;

/// What a generated page looks like, by how it compresses.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum PageKind {
    /// All zero bytes (never-written anonymous memory, cleared buffers).
    Zero,
    /// One non-zero 64-bit word repeated (memset patterns, poison values).
    SameFilled,
    /// Words and punctuation, like strings, logs and source text.
    Text,
    /// Heap-like records: pointers into a common region, small integers, tags, padding.
    Structured,
    /// Uniformly random bytes (already-compressed media, encrypted data).
    Random,
}

impl PageKind {
    /// Every kind, in the order `PageMix` lists them.
    pub const ALL: [PageKind; 5] = [
        PageKind::Zero,
        PageKind::SameFilled,
        PageKind::Text,
        PageKind::Structured,
        PageKind::Random,
    ];
}

/// Share of each kind, in percent; the five shares sum to 100.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PageMix {
    /// [`PageKind::Zero`] pages.
    pub zero: u8,
    /// [`PageKind::SameFilled`] pages.
    pub same_filled: u8,
    /// [`PageKind::Text`] pages.
    pub text: u8,
    /// [`PageKind::Structured`] pages.
    pub structured: u8,
    /// [`PageKind::Random`] pages.
    pub random: u8,
}

impl PageMix {
    /// Calibrated so that lz4 over the whole mix gives orig/compressed of about 2.7, with
    /// a few percent of zero and same-filled pages, as zram reports on phones
    /// (checked by the `zram_ratio` test).
    pub const DEFAULT: PageMix = PageMix {
        zero: 3,
        same_filled: 1,
        text: 30,
        structured: 59,
        random: 7,
    };

    /// A mix made of one kind only.
    pub const fn only(kind: PageKind) -> PageMix {
        let mut mix = PageMix {
            zero: 0,
            same_filled: 0,
            text: 0,
            structured: 0,
            random: 0,
        };
        match kind {
            PageKind::Zero => mix.zero = 100,
            PageKind::SameFilled => mix.same_filled = 100,
            PageKind::Text => mix.text = 100,
            PageKind::Structured => mix.structured = 100,
            PageKind::Random => mix.random = 100,
        }
        mix
    }

    /// Whether the shares add up to 100 (the only valid mixes).
    pub const fn is_valid(&self) -> bool {
        self.zero as u32
            + self.same_filled as u32
            + self.text as u32
            + self.structured as u32
            + self.random as u32
            == 100
    }

    /// The kind whose cumulative share covers `roll` (0..100).
    fn pick(&self, roll: u8) -> PageKind {
        let shares = [
            self.zero,
            self.same_filled,
            self.text,
            self.structured,
            self.random,
        ];
        let mut upto = 0u32;
        for (kind, share) in PageKind::ALL.into_iter().zip(shares) {
            upto += share as u32;
            if (roll as u32) < upto {
                return kind;
            }
        }
        PageKind::Random
    }
}

impl Default for PageMix {
    fn default() -> Self {
        PageMix::DEFAULT
    }
}

/// A page-content generator: a seed, a mix, and optionally a pool of pre-generated
/// pages to draw text, structured and random pages from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PageGen {
    seed: u64,
    mix: PageMix,
    pool: Option<&'static PagePool>,
}

/// Pages of the kinds that are costly to generate (text, structured, random), made
/// once: a pooled generator's page is one of them, chosen by (index, version), with a
/// 16-byte stamp of (index, version) at its start. Filling or checking a page is then a
/// copy or a compare, so a workload's own CPU per access stays small next to
/// reclaim's, as an app's does (generating a page from scratch costs about as much as
/// compressing it). Each page compresses like its pool page, so the mix's ratio holds.
pub struct PagePool {
    pages: &'static [[u8; PAGE_SIZE]],
}

/// Pool pages per pooled kind.
pub const POOL_PAGES_PER_KIND: usize = 16;
/// Kinds a pool holds, in this order.
const POOLED: [PageKind; 3] = [PageKind::Text, PageKind::Structured, PageKind::Random];
/// Pages a pool needs: `POOL_PAGES_PER_KIND` of each pooled kind.
pub const POOL_PAGES: usize = POOLED.len() * POOL_PAGES_PER_KIND;
const STAMP: usize = 16;

impl PagePool {
    /// Fills `pages` (exactly `POOL_PAGES` of them) from `seed`. `None` for another
    /// length.
    pub fn generate(seed: u64, pages: &'static mut [[u8; PAGE_SIZE]]) -> Option<PagePool> {
        if pages.len() != POOL_PAGES {
            return None;
        }
        for (i, page) in pages.iter_mut().enumerate() {
            let kind = POOLED[i / POOL_PAGES_PER_KIND];
            fill_kind(
                kind,
                &mut SplitMix64(mix64(seed ^ mix64(i as u64 ^ 0x9001))),
                page,
            );
        }
        Some(PagePool { pages })
    }

    fn page(&self, kind: PageKind, pick: u64) -> Option<&[u8; PAGE_SIZE]> {
        let k = POOLED.iter().position(|&p| p == kind)?;
        self.pages
            .get(k * POOL_PAGES_PER_KIND + (pick % POOL_PAGES_PER_KIND as u64) as usize)
    }
}

impl core::fmt::Debug for PagePool {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PagePool({} pages)", self.pages.len())
    }
}

impl PartialEq for PagePool {
    fn eq(&self, other: &Self) -> bool {
        core::ptr::eq(self.pages, other.pages)
    }
}

impl Eq for PagePool {}

impl PageGen {
    /// `None` when the mix's shares do not sum to 100.
    pub const fn new(seed: u64, mix: PageMix) -> Option<PageGen> {
        if mix.is_valid() {
            Some(PageGen {
                seed,
                mix,
                pool: None,
            })
        } else {
            None
        }
    }

    /// The same generator drawing text, structured and random pages from `pool`
    /// (different contents, same kinds and compressibility).
    pub const fn with_pool(self, pool: &'static PagePool) -> PageGen {
        PageGen {
            pool: Some(pool),
            ..self
        }
    }

    /// The kind of page `index` at `version`.
    pub fn kind(&self, index: u64, version: u32) -> PageKind {
        let mut rng = self.rng(index, version);
        self.mix.pick((rng.next_u64() % 100) as u8)
    }

    /// Writes page `index` at `version` into `page`; returns its kind.
    pub fn fill(&self, index: u64, version: u32, page: &mut [u8; PAGE_SIZE]) -> PageKind {
        let mut rng = self.rng(index, version);
        let kind = self.mix.pick((rng.next_u64() % 100) as u8);
        match self.pooled(kind, &mut rng) {
            Some(source) => {
                page.copy_from_slice(source);
                page[..STAMP].copy_from_slice(&self.stamp(index, version));
            }
            None => fill_kind(kind, &mut rng, page),
        }
        kind
    }

    /// Whether `page` is exactly page `index` at `version`. Needs one page of stack
    /// (none for a pooled page: it is compared with its pool page in place).
    pub fn matches(&self, index: u64, version: u32, page: &[u8; PAGE_SIZE]) -> bool {
        let mut rng = self.rng(index, version);
        let kind = self.mix.pick((rng.next_u64() % 100) as u8);
        if let Some(source) = self.pooled(kind, &mut rng) {
            return page[..STAMP] == self.stamp(index, version) && page[STAMP..] == source[STAMP..];
        }
        let mut expected = [0u8; PAGE_SIZE];
        self.fill(index, version, &mut expected);
        expected == *page
    }

    /// The pool page for a page of `kind`, if this generator has a pool holding `kind`.
    fn pooled(&self, kind: PageKind, rng: &mut SplitMix64) -> Option<&'static [u8; PAGE_SIZE]> {
        let pool: &'static PagePool = self.pool?;
        if !POOLED.contains(&kind) {
            return None;
        }
        pool.page(kind, rng.next_u64())
    }

    /// (index, version) as 16 bytes unique to this generator's seed.
    fn stamp(&self, index: u64, version: u32) -> [u8; STAMP] {
        let a = mix64(self.seed ^ mix64(index ^ mix64(u64::from(version) ^ 0x57a4)));
        let mut out = [0u8; STAMP];
        out[..8].copy_from_slice(&a.to_le_bytes());
        out[8..].copy_from_slice(&mix64(a).to_le_bytes());
        out
    }

    fn rng(&self, index: u64, version: u32) -> SplitMix64 {
        let key = mix64(self.seed ^ mix64(index ^ mix64(version as u64 ^ 0x5851_f42d)));
        SplitMix64(key)
    }
}

/// Writes a page of `kind` whose content is derived from `key`.
pub fn fill_page(kind: PageKind, key: u64, page: &mut [u8; PAGE_SIZE]) {
    fill_kind(kind, &mut SplitMix64(mix64(key)), page);
}

fn fill_kind(kind: PageKind, rng: &mut SplitMix64, page: &mut [u8; PAGE_SIZE]) {
    match kind {
        PageKind::Zero => page.fill(0),
        PageKind::SameFilled => fill_same(rng, page),
        PageKind::Text => fill_text(rng, page),
        PageKind::Structured => fill_structured(rng, page),
        PageKind::Random => {
            for chunk in page.chunks_exact_mut(8) {
                chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
            }
        }
    }
}

fn fill_same(rng: &mut SplitMix64, page: &mut [u8; PAGE_SIZE]) {
    // Common memset patterns first, then an arbitrary non-zero word.
    const PATTERNS: [u64; 3] = [u64::MAX, 0x0101_0101_0101_0101, 0xdead_beef_dead_beef];
    let pick = rng.next_u64();
    let word = match (pick % 4) as usize {
        i @ 0..=2 => PATTERNS[i],
        _ => rng.next_u64() | 1,
    };
    for chunk in page.chunks_exact_mut(8) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
}

fn fill_text(rng: &mut SplitMix64, page: &mut [u8; PAGE_SIZE]) {
    const WORDS: [&[u8]; 64] = [
        b"the", b"of", b"and", b"to", b"in", b"is", b"that", b"for", b"it", b"as", b"was", b"with",
        b"be", b"by", b"on", b"not", b"he", b"this", b"are", b"or", b"his", b"from", b"at",
        b"which", b"but", b"have", b"an", b"had", b"they", b"you", b"were", b"their", b"one",
        b"all", b"we", b"can", b"her", b"has", b"there", b"been", b"if", b"more", b"when", b"will",
        b"would", b"who", b"so", b"no", b"memory", b"page", b"kernel", b"reclaim", b"swap",
        b"process", b"system", b"time", b"error", b"value", b"buffer", b"request", b"window",
        b"service", b"thread", b"file",
    ];
    // Log- and UI-string-like phrases repeat, as they do in real heaps; numbers do not.
    const PHRASES: [&[u8]; 16] = [
        b"I/ActivityManager: ",
        b"Start proc ",
        b"for service ",
        b"com.example.app",
        b"D/ConnectivityService: ",
        b"NetworkAgentInfo ",
        b"W/System.err: ",
        b"at android.os.Handler.dispatchMessage",
        b"{\"id\": ",
        b", \"name\": \"",
        b"\", \"enabled\": true}",
        b"<div class=\"item\">",
        b"</div>\n",
        b"Exception in thread \"main\" ",
        b"SELECT * FROM messages WHERE ",
        b"user_id = ",
    ];
    let mut pos = 0;
    while pos < PAGE_SIZE {
        let r = rng.next_u64();
        // Product of two uniform picks: a Zipf-like skew towards the first entries.
        let skewed = (((r & 0xff) * ((r >> 8) & 0xff)) >> 10) as usize;
        let token = if r & (1 << 40) != 0 {
            PHRASES[skewed % PHRASES.len()]
        } else {
            WORDS[skewed % WORDS.len()]
        };
        let sep: &[u8] = match (r >> 16) % 16 {
            0 => b". ",
            1 => b", ",
            2 => b"\n",
            3 => {
                // A number, as in logs: digits are where text stops repeating.
                let mut n = (r >> 24) % 100_000;
                let mut buf = [b' '; 6];
                for slot in buf[1..].iter_mut().rev() {
                    *slot = b'0' + (n % 10) as u8;
                    n /= 10;
                }
                let take = (PAGE_SIZE - pos).min(buf.len());
                page[pos..pos + take].copy_from_slice(&buf[..take]);
                pos += take;
                b" "
            }
            _ => b" ",
        };
        for part in [token, sep] {
            let take = (PAGE_SIZE - pos).min(part.len());
            page[pos..pos + take].copy_from_slice(&part[..take]);
            pos += take;
        }
    }
}

fn fill_structured(rng: &mut SplitMix64, page: &mut [u8; PAGE_SIZE]) {
    // 64-byte heap objects: a vtable pointer (one of a few), a next pointer into the same
    // arena, an id that mostly counts up, a refcount, a small value, zero padding and a
    // second pointer; the mix of constants, near-constants and noise of real heaps.
    let arena = 0xffff_8000_0000_0000u64 | ((rng.next_u64() & 0xffff) << 20);
    let vtables = [0x4000u64, 0x4080, 0x4100, 0x4a40].map(|off| 0xffff_0000_1000_0000 | off);
    let mut id = (rng.next_u64() & 0xffff) as u32;
    for record in page.chunks_exact_mut(64) {
        let r = rng.next_u64();
        let next = arena + ((r & 0x3ff) << 5);
        id = id.wrapping_add(if r & 0x7000 == 0 {
            (r >> 16) as u32 & 0xff
        } else {
            1
        });
        let refcount: u32 = if r & (0xf << 24) == 0 {
            (r >> 28) as u32 & 0xf
        } else {
            1
        };
        let value = if r & (1 << 40) != 0 {
            0
        } else {
            (r >> 41) & 0xfff
        };
        let other = if r & (1 << 53) != 0 {
            0
        } else {
            arena + ((r >> 54) << 6)
        };
        record[0..8].copy_from_slice(&vtables[(r >> 62) as usize].to_le_bytes());
        record[8..16].copy_from_slice(&next.to_le_bytes());
        record[16..20].copy_from_slice(&id.to_le_bytes());
        record[20..24].copy_from_slice(&refcount.to_le_bytes());
        record[24..32].copy_from_slice(&value.to_le_bytes());
        record[32..48].fill(0);
        record[48..56].copy_from_slice(&other.to_le_bytes());
        record[56..64].fill(0);
    }
}

/// The finaliser of SplitMix64: a bijective 64-bit mixer.
const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// SplitMix64: tiny, fast and good enough for content that only has to look realistic
/// and for workloads' access sequences fixed by a seed (the kernel's and the harness's).
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next number of the sequence.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }

    /// A number in `0..n` (`n` > 0; the modulo bias is irrelevant for access patterns).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_give_same_page_and_versions_differ() {
        let generator = PageGen::new(7, PageMix::only(PageKind::Text)).unwrap();
        let mut a = [0u8; PAGE_SIZE];
        let mut b = [0u8; PAGE_SIZE];
        generator.fill(3, 1, &mut a);
        generator.fill(3, 1, &mut b);
        assert_eq!(a, b);
        assert!(generator.matches(3, 1, &a));
        assert!(!generator.matches(3, 2, &a));
        assert!(!generator.matches(4, 1, &a));
    }

    #[test]
    fn kinds_follow_the_mix() {
        let generator = PageGen::new(1, PageMix::DEFAULT).unwrap();
        let mut counts = [0u32; 5];
        for index in 0..10_000 {
            let kind = generator.kind(index, 0);
            counts[PageKind::ALL.iter().position(|k| *k == kind).unwrap()] += 1;
        }
        let expected = [3, 1, 30, 59, 7];
        for (count, percent) in counts.iter().zip(expected) {
            let share = *count as f64 / 100.0;
            assert!((share - percent as f64).abs() < 2.0, "{counts:?}");
        }
    }

    #[test]
    fn fill_reports_the_kind_it_wrote() {
        let generator = PageGen::new(9, PageMix::DEFAULT).unwrap();
        let mut page = [0u8; PAGE_SIZE];
        for index in 0..200 {
            let kind = generator.fill(index, 5, &mut page);
            assert_eq!(kind, generator.kind(index, 5));
            let first = u64::from_le_bytes(page[..8].try_into().unwrap());
            let same = page.chunks_exact(8).all(|w| w == first.to_le_bytes());
            match kind {
                PageKind::Zero => assert!(same && first == 0),
                PageKind::SameFilled => assert!(same && first != 0),
                _ => assert!(!same),
            }
        }
    }

    fn pool(seed: u64) -> &'static PagePool {
        let pages = Box::leak(vec![[0u8; PAGE_SIZE]; POOL_PAGES].into_boxed_slice());
        Box::leak(Box::new(PagePool::generate(seed, pages).unwrap()))
    }

    #[test]
    fn a_pooled_generator_keeps_kinds_and_checks_every_byte() {
        let plain = PageGen::new(9, PageMix::DEFAULT).unwrap();
        let pooled = plain.with_pool(pool(9));
        let mut page = [0u8; PAGE_SIZE];
        for index in 0..300 {
            let kind = pooled.fill(index, 5, &mut page);
            assert_eq!(kind, plain.kind(index, 5));
            assert!(pooled.matches(index, 5, &page));
            assert!(!pooled.matches(index, 6, &page), "{kind:?}");
            if matches!(kind, PageKind::Zero | PageKind::SameFilled) {
                continue;
            }
            assert!(!pooled.matches(index + 1, 5, &page));
            for byte in [0, STAMP, PAGE_SIZE - 1] {
                page[byte] ^= 1;
                assert!(!pooled.matches(index, 5, &page), "{kind:?} byte {byte}");
                page[byte] ^= 1;
            }
        }
        assert!(
            PagePool::generate(1, Box::leak(vec![[0u8; PAGE_SIZE]; 3].into_boxed_slice()))
                .is_none()
        );
    }

    #[test]
    fn a_pooled_mix_compresses_like_a_generated_one() {
        let ratio = |generator: PageGen| {
            let mut compressor = crate::zram::Compressor::new();
            let (mut orig, mut compressed) = (0usize, 0usize);
            let mut page = [0u8; PAGE_SIZE];
            for index in 0..2000 {
                generator.fill(index, 1, &mut page);
                orig += PAGE_SIZE;
                compressed += compressor.compress(&page).compressed_len();
            }
            orig as f64 / compressed as f64
        };
        let plain = PageGen::new(3, PageMix::DEFAULT).unwrap();
        let (a, b) = (ratio(plain), ratio(plain.with_pool(pool(3))));
        assert!((a - b).abs() / a < 0.1, "generated {a:.2}, pooled {b:.2}");
    }

    #[test]
    fn invalid_mix_is_refused() {
        let mut mix = PageMix::DEFAULT;
        mix.text += 1;
        assert!(PageGen::new(0, mix).is_none());
    }
}
