//! The multi-gen LRU over a real zone against a model (one deque per generation, head
//! at the front) checked after every random operation: faults, refaults with and
//! without a recent shadow, touches, aging walks, eviction with isolation held or not,
//! unmaps. Also the LRU's own invariants: every page on exactly one generation, the
//! generation in its flags, counts, `min_seq <= max_seq` within `MAX_NR_GENS`.

mod frame_support;

use std::collections::{BTreeMap, VecDeque};

use frame_support::HostRam;
use mm::addr::{PAGE_SIZE, Pfn};
use mm::frame::{Zone, ZoneConfig};
use mm::lru::{IsolatedBatch, LruError, SWAP_CLUSTER_MAX};
use mm::lru_gen::{LruGen, MAX_NR_GENS, MIN_NR_GENS, Shadow, lru_tier_from_refs};
use mm::page::PageFlags;
use proptest::prelude::*;

const MIB: u64 = 1 << 20;
/// Pages one `isolate` looks at, at most (the module's `SCAN_BATCH`).
const SCAN_BATCH: usize = 4 * SWAP_CLUSTER_MAX;

fn zone(ram: &HostRam) -> Zone {
    // SAFETY: the range is `ram`, which outlives the zone and serves no one else.
    unsafe { Zone::new(&[ram.range(0, 4 * MIB)], ZoneConfig::default()) }.expect("zone")
}

fn new_ram() -> HostRam {
    HostRam::new(4 * MIB as usize, PAGE_SIZE)
}

fn gen_bits(flags: PageFlags) -> u64 {
    u64::from((flags & PageFlags::LRU_GEN).bits() >> 11)
}

fn refs_bits(flags: PageFlags) -> u8 {
    ((flags & PageFlags::LRU_REFS).bits() >> 13) as u8
}

#[test]
fn aging_moves_young_pages_to_the_youngest_generation_and_eviction_takes_the_oldest() {
    let ram = new_ram();
    let mut zone = zone(&ram);
    let mut lru = LruGen::new(0);
    let pages: Vec<Pfn> = (0..4).map(|_| zone.alloc_pages(0).unwrap()).collect();
    for &pfn in &pages {
        lru.add_new(&mut zone, pfn).unwrap();
    }
    // New pages join max_seq - 1; with only MIN_NR_GENS generations left after the
    // empty ones, eviction waits for aging.
    let mut batch = IsolatedBatch::new();
    assert_eq!(lru.isolate(&mut zone, 32, &mut batch).isolated, 0);
    assert!(lru.should_run_aging());
    assert_eq!((lru.min_seq(), lru.max_seq()), (2, 3));
    // Page 1 is young at the walk.
    lru.update_gen(&mut zone, pages[1]);
    assert!(lru.try_to_inc_max_seq(&mut zone, 3, 10));
    assert!(
        !lru.try_to_inc_max_seq(&mut zone, 3, 10),
        "another aging got there first"
    );
    assert_eq!((lru.min_seq(), lru.max_seq()), (2, 4));
    let sizes: Vec<(u64, u64, u64)> = lru
        .generations()
        .map(|g| (g.seq, g.birth_ns, g.nr_pages))
        .collect();
    assert_eq!(sizes, [(2, 0, 3), (3, 0, 1), (4, 10, 0)]);
    assert_eq!((lru.nr_inactive_anon(), lru.nr_active_anon()), (3, 1));
    let mut debugfs = String::new();
    lru.write_debugfs(&mut debugfs, 5_000_010).unwrap();
    let rows: Vec<Vec<&str>> = debugfs
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[..3],
        [["2", "5", "3"], ["3", "5", "1"], ["4", "5", "0"]]
    );
    assert_eq!(rows[3], ["tier", "0", "0", "0", "0"]);
    // The oldest generation goes first, oldest page first; then only two are left.
    assert_eq!(lru.isolate(&mut zone, 32, &mut batch).isolated, 3);
    assert_eq!(batch.as_slice(), [pages[0], pages[2], pages[3]]);
    assert_eq!((lru.min_seq(), lru.max_seq()), (3, 4));
    // A young page goes back to the youngest generation with one more ref.
    assert_eq!(
        lru.folio_check_references(&mut zone, pages[0], true),
        Ok(None)
    );
    lru.putback(&mut zone, pages[0]).unwrap();
    let flags = zone.page(pages[0]).unwrap().flags();
    assert_eq!((gen_bits(flags), refs_bits(flags)), (0, 1));
    // An old one is evicted with a shadow; a refault while min_seq holds is recent.
    let shadow = lru
        .folio_check_references(&mut zone, pages[2], false)
        .unwrap()
        .unwrap();
    lru.note_evicted(shadow);
    zone.free_pages(pages[2], 0).unwrap();
    let again = zone.alloc_pages(0).unwrap();
    assert_eq!(lru.add_refault(&mut zone, again, Some(shadow)), Ok(true));
    assert!(
        zone.page(again)
            .unwrap()
            .flags()
            .contains(PageFlags::WORKINGSET)
    );
    assert_eq!(lru.stats().workingset_refault, 1);
    assert_eq!(
        lru.add_refault(&mut zone, again, None),
        Err(LruError::OnLru)
    );
    lru.putback(&mut zone, pages[3]).unwrap();
    lru.check_invariants(&zone).unwrap();
}

/// Isolates `n` pages (all old) and evicts them; returns their shadows in order.
fn evict(lru: &mut LruGen, zone: &mut Zone, n: usize) -> Vec<(Pfn, Shadow)> {
    let mut out = Vec::new();
    while out.len() < n {
        let mut batch = IsolatedBatch::new();
        let scan = lru.isolate(zone, (n - out.len()).min(SWAP_CLUSTER_MAX), &mut batch);
        assert_eq!(scan.protected, 0);
        for &pfn in batch.as_slice() {
            let shadow = lru
                .folio_check_references(zone, pfn, false)
                .unwrap()
                .unwrap();
            lru.note_evicted(shadow);
            zone.free_pages(pfn, 0).unwrap();
            out.push((pfn, shadow));
        }
    }
    out
}

/// Swaps the evicted pages back in (a fresh frame each) with their shadows.
fn refault(lru: &mut LruGen, zone: &mut Zone, evicted: &[(Pfn, Shadow)]) {
    for &(_, shadow) in evicted {
        let pfn = zone.alloc_pages(0).unwrap();
        assert_eq!(lru.add_refault(zone, pfn, Some(shadow)), Ok(true));
    }
}

#[test]
fn a_tier_that_refaults_more_than_twice_tier_0_is_protected_and_moves_to_the_next_generation() {
    let ram = new_ram();
    let mut zone = zone(&ram);
    let mut lru = LruGen::new(0);
    for _ in 0..400 {
        let pfn = zone.alloc_pages(0).unwrap();
        lru.add_new(&mut zone, pfn).unwrap();
    }
    assert!(lru.should_run_aging());
    assert!(lru.try_to_inc_max_seq(&mut zone, 3, 1));
    // Generation 2 holds the 400; it stays the oldest (min_seq 2) throughout, so
    // every shadow below is recent and the controller's window never closes.
    let first = evict(&mut lru, &mut zone, 200);
    refault(&mut lru, &mut zone, &first[..100]);
    assert_eq!(lru.stats().refaulted, [100, 0, 0, 0]);
    // 10 pages that nothing refers to join the generation behind the refaulted.
    for _ in 0..10 {
        let pfn = zone.alloc_pages(0).unwrap();
        assert_eq!(lru.add_refault(&mut zone, pfn, None), Ok(false));
    }
    // Tier 0: 400 evicted, 100 refaulted. The refaulted pages (PG_workingset: tier
    // 1) are evicted too and refault again: tier 1 has 100 of 100 refaulted.
    assert_eq!(lru.get_tier_idx(), 3, "tier 1 has no refaults yet");
    let again = evict(&mut lru, &mut zone, 300);
    assert!(again[..200].iter().all(|(_, s)| s.tier() == 0));
    assert!(again[200..].iter().all(|(_, s)| s.tier() == 1));
    refault(&mut lru, &mut zone, &again[200..]);
    assert_eq!(lru.stats().evicted, [400, 100, 0, 0]);
    assert_eq!(lru.stats().refaulted, [100, 100, 0, 0]);
    // 100 * (400 + 64) * 1 > (100 + 1) * 100 * 2: tier 1 refaults more than twice as
    // much as tier 0, so eviction may take tier 0 only.
    assert_eq!(lru.get_tier_idx(), 0);
    assert_eq!(lru.min_seq(), 2);
    // The 10 plain pages (oldest) are isolated; the 100 of tier 1 move to the tail of
    // generation 3 (`protected`, `workingset_activate`), retiring generation 2.
    let mut batch = IsolatedBatch::new();
    let scan = lru.isolate(&mut zone, 32, &mut batch);
    assert_eq!(
        (scan.isolated, scan.protected, scan.scanned),
        (10, 100, 110)
    );
    assert_eq!(lru.stats().protected, [0, 100, 0, 0]);
    assert_eq!(lru.stats().workingset_activate, 100);
    let sizes: Vec<(u64, u64)> = lru.generations().map(|g| (g.seq, g.nr_pages)).collect();
    assert_eq!(sizes, [(3, 100), (4, 0)]);
    for &pfn in batch.as_slice() {
        lru.putback(&mut zone, pfn).unwrap();
    }
    lru.check_invariants(&zone).unwrap();
}

#[derive(Clone, Debug)]
enum Op {
    Fault,
    /// A refault of the i-th evicted page (if any); with `shadow`, its shadow is kept.
    Refault(usize, bool),
    Touch(usize),
    Unmap(usize),
    /// An aging walk, then `try_to_inc_max_seq`.
    Age,
    /// Isolate up to n and judge them; victims put back when `fail`, else evicted.
    Shrink(usize, bool),
    IsolateHold(usize),
    PutbackHeld,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Fault),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(i, s)| Op::Refault(i, s)),
        5 => any::<usize>().prop_map(Op::Touch),
        1 => any::<usize>().prop_map(Op::Unmap),
        2 => Just(Op::Age),
        3 => (0..40usize, any::<bool>()).prop_map(|(n, f)| Op::Shrink(n, f)),
        1 => (0..40usize).prop_map(Op::IsolateHold),
        1 => Just(Op::PutbackHeld),
    ]
}

#[derive(Clone, Copy, Debug, Default)]
struct Page {
    refs: u8,
    workingset: bool,
    young: bool,
    /// The walk found it young while isolated.
    referenced: bool,
}

/// An evicted page as the model remembers it.
struct Evicted {
    shadow: Shadow,
    min_seq: u64,
    refs: u8,
}

struct Model {
    min_seq: u64,
    max_seq: u64,
    /// Generation `seq`'s pages, head at the front.
    gens: BTreeMap<u64, VecDeque<Pfn>>,
    held: Vec<Pfn>,
    pages: BTreeMap<Pfn, Page>,
    evicted: Vec<Evicted>,
}

impl Model {
    fn new() -> Self {
        Model {
            min_seq: 0,
            max_seq: MIN_NR_GENS + 1,
            gens: (0..=MIN_NR_GENS + 1)
                .map(|s| (s, VecDeque::new()))
                .collect(),
            held: Vec::new(),
            pages: BTreeMap::new(),
            evicted: Vec::new(),
        }
    }

    fn on_lists(&self) -> Vec<Pfn> {
        self.gens.values().flatten().copied().collect()
    }

    fn remove(&mut self, pfn: Pfn) {
        for list in self.gens.values_mut() {
            list.retain(|&p| p != pfn);
        }
    }

    fn try_to_inc_min_seq(&mut self) {
        while self.min_seq + MIN_NR_GENS <= self.max_seq && self.gens[&self.min_seq].is_empty() {
            self.gens.remove(&self.min_seq);
            self.min_seq += 1;
        }
    }

    fn tier(&self, pfn: Pfn) -> usize {
        let p = self.pages[&pfn];
        lru_tier_from_refs(p.refs + u8::from(p.workingset))
    }

    /// What `isolate` must do, given the tier it may take.
    fn isolate(&mut self, n: usize, tier_idx: usize) -> Vec<Pfn> {
        let want = n.min(SWAP_CLUSTER_MAX);
        let mut out = Vec::new();
        let mut scanned = 0;
        self.try_to_inc_min_seq();
        while out.len() < want && scanned < SCAN_BATCH && self.min_seq + MIN_NR_GENS <= self.max_seq
        {
            let Some(pfn) = self.gens.get_mut(&self.min_seq).unwrap().pop_back() else {
                self.try_to_inc_min_seq();
                if self.gens[&self.min_seq].is_empty() {
                    break;
                }
                continue;
            };
            scanned += 1;
            if self.tier(pfn) > tier_idx {
                self.gens
                    .get_mut(&(self.min_seq + 1))
                    .unwrap()
                    .push_back(pfn);
            } else {
                out.push(pfn);
            }
        }
        self.try_to_inc_min_seq();
        out
    }

    fn putback(&mut self, pfn: Pfn) {
        self.gens.get_mut(&self.max_seq).unwrap().push_front(pfn);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn generations_match_the_model(ops in prop::collection::vec(op(), 1..300)) {
        let ram = new_ram();
        let mut zone = zone(&ram);
        let mut lru = LruGen::new(0);
        let mut m = Model::new();
        let mut now = 0;
        for op in ops {
            match op {
                Op::Fault => if let Ok(pfn) = zone.alloc_pages(0) {
                    lru.add_new(&mut zone, pfn).unwrap();
                    m.gens.get_mut(&(m.max_seq - 1)).unwrap().push_front(pfn);
                    m.pages.insert(pfn, Page { young: true, ..Page::default() });
                },
                Op::Refault(i, keep_shadow) => {
                    if m.evicted.is_empty() {
                        continue;
                    }
                    let e = m.evicted.swap_remove(i % m.evicted.len());
                    let Ok(pfn) = zone.alloc_pages(0) else { continue };
                    let shadow = keep_shadow.then_some(e.shadow);
                    let recent = keep_shadow && e.min_seq % 4096 == m.min_seq % 4096;
                    prop_assert_eq!(lru.add_refault(&mut zone, pfn, shadow), Ok(recent));
                    let page = if recent {
                        Page { refs: e.refs, workingset: true, young: true, referenced: false }
                    } else {
                        Page { young: true, ..Page::default() }
                    };
                    m.pages.insert(pfn, page);
                    m.gens.get_mut(&m.min_seq).unwrap().push_front(pfn);
                }
                Op::Touch(i) => {
                    let mapped: Vec<Pfn> = m.pages.keys().copied().collect();
                    if !mapped.is_empty() {
                        m.pages.get_mut(&mapped[i % mapped.len()]).unwrap().young = true;
                    }
                }
                Op::Unmap(i) => {
                    let listed = m.on_lists();
                    if !listed.is_empty() {
                        let pfn = listed[i % listed.len()];
                        lru.del(&mut zone, pfn).unwrap();
                        zone.free_pages(pfn, 0).unwrap();
                        m.remove(pfn);
                        m.pages.remove(&pfn);
                    }
                }
                Op::Age => {
                    let max_seq = lru.max_seq();
                    prop_assert_eq!(max_seq, m.max_seq);
                    let young: Vec<Pfn> = m.pages.iter().filter(|(_, p)| p.young).map(|(&f, _)| f).collect();
                    for pfn in young {
                        lru.update_gen(&mut zone, pfn);
                        let page = m.pages.get_mut(&pfn).unwrap();
                        page.young = false;
                        if m.held.contains(&pfn) {
                            page.referenced = true;
                        } else {
                            page.refs = 0;
                            page.workingset = false;
                            m.remove(pfn);
                            m.putback(pfn);
                        }
                    }
                    now += 1;
                    prop_assert!(lru.try_to_inc_max_seq(&mut zone, max_seq, now));
                    if m.max_seq - m.min_seq + 1 == MAX_NR_GENS {
                        let old = m.gens.remove(&m.min_seq).unwrap();
                        m.min_seq += 1;
                        let next = m.gens.get_mut(&m.min_seq).unwrap();
                        // Oldest stays oldest: the retired generation's tail becomes
                        // the next one's tail.
                        next.extend(old);
                    }
                    m.max_seq += 1;
                    m.gens.insert(m.max_seq, VecDeque::new());
                }
                Op::Shrink(n, fail) => {
                    let expected = m.isolate(n, lru.get_tier_idx());
                    let mut batch = IsolatedBatch::new();
                    let scan = lru.isolate(&mut zone, n, &mut batch);
                    prop_assert_eq!(batch.as_slice(), &expected[..]);
                    prop_assert_eq!(scan.isolated, expected.len());
                    for &pfn in batch.as_slice() {
                        let page = m.pages[&pfn];
                        let young = page.young || page.referenced;
                        let verdict = lru.folio_check_references(&mut zone, pfn, page.young).unwrap();
                        let p = m.pages.get_mut(&pfn).unwrap();
                        p.young = false;
                        p.referenced = false;
                        if young {
                            prop_assert_eq!(verdict, None);
                            p.refs = (p.refs + 1).min(3);
                            lru.putback(&mut zone, pfn).unwrap();
                            m.putback(pfn);
                            continue;
                        }
                        let shadow = verdict.expect("an old page is evicted");
                        prop_assert_eq!(shadow.tier(), lru_tier_from_refs(p.refs + u8::from(p.workingset)));
                        if fail {
                            lru.putback(&mut zone, pfn).unwrap();
                            m.putback(pfn);
                        } else {
                            lru.note_evicted(shadow);
                            zone.free_pages(pfn, 0).unwrap();
                            let p = m.pages.remove(&pfn).unwrap();
                            m.evicted.push(Evicted {
                                shadow,
                                min_seq: m.min_seq,
                                refs: p.refs,
                            });
                        }
                    }
                }
                Op::IsolateHold(n) => {
                    let expected = m.isolate(n, lru.get_tier_idx());
                    let mut batch = IsolatedBatch::new();
                    lru.isolate(&mut zone, n, &mut batch);
                    prop_assert_eq!(batch.as_slice(), &expected[..]);
                    for &pfn in batch.as_slice() {
                        prop_assert_eq!(
                            zone.page(pfn).unwrap().flags() & (PageFlags::LRU | PageFlags::ISOLATED),
                            PageFlags::ISOLATED
                        );
                        prop_assert_eq!(lru.del(&mut zone, pfn), Err(LruError::Isolated));
                    }
                    m.held.extend(expected);
                }
                Op::PutbackHeld => {
                    for pfn in std::mem::take(&mut m.held) {
                        lru.putback(&mut zone, pfn).unwrap();
                        m.putback(pfn);
                    }
                }
            }
            lru.check_invariants(&zone).map_err(TestCaseError::fail)?;
            zone.check_invariants().map_err(TestCaseError::fail)?;
            prop_assert_eq!((lru.min_seq(), lru.max_seq()), (m.min_seq, m.max_seq));
            prop_assert!(lru.max_seq() - lru.min_seq() < MAX_NR_GENS);
            let sizes: Vec<(u64, u64)> = lru.generations().map(|g| (g.seq, g.nr_pages)).collect();
            let want: Vec<(u64, u64)> = m.gens.iter().map(|(&s, l)| (s, l.len() as u64)).collect();
            prop_assert_eq!(sizes, want);
            for (&seq, list) in &m.gens {
                for &pfn in list {
                    let flags = zone.page(pfn).unwrap().flags();
                    prop_assert_eq!(gen_bits(flags), seq % MAX_NR_GENS);
                    prop_assert_eq!(refs_bits(flags), m.pages[&pfn].refs);
                    prop_assert_eq!(flags.contains(PageFlags::WORKINGSET), m.pages[&pfn].workingset);
                }
            }
            let tracked = (m.on_lists().len() + m.held.len()) as u64;
            prop_assert_eq!(tracked, m.pages.len() as u64, "no page lost or duplicated");
            prop_assert_eq!(zone.nr_free_pages() + tracked, zone.managed_pages());
        }
    }
}
