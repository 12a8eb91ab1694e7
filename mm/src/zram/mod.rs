//! The compressed store (zram over zsmalloc): pages evicted to swap are kept compressed in
//! frames taken from a `FrameSource`, in slots keyed by swap entry. Split in two so that
//! compression runs outside the store's lock: a `Compressor` per worker (lz4 hash table and
//! output buffer) and the shared `ZramStore` (slot table, object allocation, copy in and
//! out). Neither allocates from the heap; this module never maps or unmaps anything.

mod zsmalloc;

#[cfg(any(test, feature = "std"))]
mod host;

#[cfg(any(test, feature = "std"))]
pub use host::HostFrames;
pub use zsmalloc::{HUGE_CLASS_SIZE, NR_SIZE_CLASSES, ZS_MIN_ALLOC_SIZE, ZS_SIZE_CLASS_DELTA};

use crate::addr::{PAGE_SIZE, Pfn};
use core::fmt;
use lz4_flex::block::{
    CompressTable, compress_into_with_table, decompress_into, get_maximum_output_size,
};
use zsmalloc::{HUGE_CLASS, Pool, ZSPAGE_WORDS, ZsPage, class_of_len};

/// Where the store's frames come from (the buddy allocator in the kernel).
///
/// # Safety
/// A frame returned by `alloc_frame` must be `PAGE_SIZE` bytes reachable for reads and
/// writes at `pfn.page_address()`, used by nothing else until it is passed back to
/// `free_frame`. The store passes back only frames it was given, once each.
pub unsafe trait FrameSource {
    /// One frame, or `None` when there is no memory.
    fn alloc_frame(&mut self) -> Option<Pfn>;
    /// Gives back a frame obtained from `alloc_frame`.
    fn free_frame(&mut self, pfn: Pfn);
}

/// A swap slot: index into the store's slot table (Linux's swap offset).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SwapSlot(pub u32);

/// Why a page was not stored. The store is unchanged after any of them.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// The entry is past the end of the slot table.
    OutOfRange,
    /// The slot already holds a page: free it first.
    SlotInUse,
    /// Storing would take `mem_used_total` past `mem_limit`.
    MemLimit,
    /// The frame source is empty (or, after corruption leaked objects, no zspage
    /// descriptor is left).
    NoMemory,
}

/// Why a slot could not be read or freed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The entry is past the end of the slot table.
    OutOfRange,
    /// Nothing is stored in the slot.
    Empty,
    /// The slot's metadata or its compressed bytes are damaged: the page is lost.
    Corrupt,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreError::OutOfRange => "swap entry past the end of the slot table",
            StoreError::SlotInUse => "swap slot already in use",
            StoreError::MemLimit => "compressed store at its mem_limit",
            StoreError::NoMemory => "no frame left for the compressed store",
        })
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LoadError::OutOfRange => "swap entry past the end of the slot table",
            LoadError::Empty => "swap slot is empty",
            LoadError::Corrupt => "compressed swap slot is corrupt",
        })
    }
}

impl core::error::Error for StoreError {}
impl core::error::Error for LoadError {}

/// zram's `mm_stat` (sizes in bytes) and the read/write counts of its `stat`/`io_stat`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct MmStat {
    /// Uncompressed size of the pages stored.
    pub orig_data_size: u64,
    /// Compressed size of the pages stored (whole pages for huge ones, 0 for same-filled).
    pub compr_data_size: u64,
    /// Memory the store's frames take (zspages and huge pages), metadata table excluded.
    pub mem_used_total: u64,
    /// Limit on `mem_used_total`; 0 means none.
    pub mem_limit: u64,
    /// Highest `mem_used_total` seen.
    pub mem_used_max: u64,
    /// Pages stored as one repeated word.
    pub same_pages: u64,
    /// Frames freed by compaction, ever.
    pub pages_compacted: u64,
    /// Pages stored whole because they did not compress below `HUGE_CLASS_SIZE`.
    pub huge_pages: u64,
    /// Huge pages stored, ever.
    pub huge_pages_since: u64,
    /// Store attempts.
    pub num_writes: u64,
    /// Load attempts.
    pub num_reads: u64,
    /// Stores that failed (any `StoreError`).
    pub failed_writes: u64,
    /// Loads that failed (any `LoadError`).
    pub failed_reads: u64,
}

/// Worst-case lz4 output for one page.
pub const LZ4_PAGE_BOUND: usize = get_maximum_output_size(PAGE_SIZE);

/// zram's `page_same_filled`: the word repeated over the whole page, if there is one.
pub fn same_filled_word(page: &[u8; PAGE_SIZE]) -> Option<u64> {
    let (words, _) = page.as_chunks::<8>();
    let first = u64::from_ne_bytes(*words.first()?);
    // Whole cache lines at a time: the inner fold vectorises, the early exit stays cheap.
    for line in words.chunks(8) {
        let diff = line
            .iter()
            .fold(0, |acc, w| acc | (u64::from_ne_bytes(*w) ^ first));
        if diff != 0 {
            return None;
        }
    }
    Some(first)
}

/// A page ready to store, as produced by `Compressor::compress`.
pub struct CompressedPage<'a> {
    repr: Repr<'a>,
    /// Checksum of the payload bytes; the store binds it to the slot's metadata.
    checksum: u32,
}

enum Repr<'a> {
    Same(u64),
    Lz4(&'a [u8]),
    Huge(&'a [u8; PAGE_SIZE]),
}

impl CompressedPage<'_> {
    /// Bytes the page will take in the arena: 0 for same-filled, `PAGE_SIZE` for huge.
    pub fn compressed_len(&self) -> usize {
        match self.repr {
            Repr::Same(_) => 0,
            Repr::Lz4(bytes) => bytes.len(),
            Repr::Huge(_) => PAGE_SIZE,
        }
    }

    /// The repeated word, for a same-filled page.
    pub fn same_filled(&self) -> Option<u64> {
        match self.repr {
            Repr::Same(word) => Some(word),
            _ => None,
        }
    }

    /// Whether the page did not compress below `HUGE_CLASS_SIZE` and is kept whole.
    pub fn is_huge(&self) -> bool {
        matches!(self.repr, Repr::Huge(_))
    }
}

/// One compression worker's state (a kcompressd thread, or kswapd in sync mode): the lz4
/// hash table and an output buffer of the worst-case size. About 12.5 KiB; build it once.
pub struct Compressor {
    table: CompressTable,
    out: [u8; LZ4_PAGE_BOUND],
}

impl Default for Compressor {
    fn default() -> Self {
        Self::new()
    }
}

impl Compressor {
    /// A fresh hash table and output buffer.
    pub fn new() -> Self {
        Compressor {
            table: CompressTable::default(),
            out: [0; LZ4_PAGE_BOUND],
        }
    }

    /// The output buffer's first page, as the scratch a swap-in copies a slot's payload
    /// into (`ZramStore::take`) while this worker is not compressing: no 4 KiB zeroed on
    /// the stack for every swap-in (the instruction profile found it).
    pub fn scratch_page(&mut self) -> &mut [u8; PAGE_SIZE] {
        const { assert!(LZ4_PAGE_BOUND >= PAGE_SIZE) };
        self.out
            .first_chunk_mut()
            .expect("the output buffer holds a page (asserted above)")
    }

    /// Same-filled check, then lz4; pages that compress above `HUGE_CLASS_SIZE` are kept
    /// whole. Runs outside the store's lock and never allocates.
    pub fn compress<'a>(&'a mut self, page: &'a [u8; PAGE_SIZE]) -> CompressedPage<'a> {
        if let Some(word) = same_filled_word(page) {
            return CompressedPage {
                repr: Repr::Same(word),
                checksum: payload_checksum(&word.to_ne_bytes()),
            };
        }
        match compress_into_with_table(page, &mut self.out, &mut self.table) {
            Ok(len) if len <= HUGE_CLASS_SIZE => {
                let bytes = &self.out[..len];
                CompressedPage {
                    repr: Repr::Lz4(bytes),
                    checksum: payload_checksum(bytes),
                }
            }
            // Too big, or (never with this buffer size) no room: keep the page whole.
            _ => CompressedPage {
                repr: Repr::Huge(page),
                checksum: payload_checksum(page),
            },
        }
    }
}

/// xxh3-64 folded to 32 bits. Measured (benches/zram.rs): ~0.3 µs per page of the mix,
/// about 2% of lz4_flex compression and 7% of decompression.
fn payload_checksum(bytes: &[u8]) -> u32 {
    let h = xxhash_rust::xxh3::xxh3_64(bytes);
    (h ^ (h >> 32)) as u32
}

/// Binds a payload checksum to the slot it belongs to and to the slot's length and flags,
/// so a slot whose metadata changed, or that points at another slot's object, fails.
fn seal(payload: u32, entry: usize, len: u16, flags: u16) -> u32 {
    let meta = (entry as u64) << 32 | (len as u64) << 16 | flags as u64;
    let mut z = meta ^ 0x9e37_79b9_7f4a_7c15;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    payload ^ (z ^ (z >> 31)) as u32
}

/// Slot flags (zram's `zram_pageflags`).
const ZRAM_ALLOCATED: u16 = 1 << 0;
const ZRAM_SAME: u16 = 1 << 1;
const ZRAM_HUGE: u16 = 1 << 2;

/// One slot: for compressed pages the handle is the zsmalloc object, for same-filled pages
/// the word itself. An empty slot is zero but for a checksum sealed to its entry, so
/// metadata damaged into "empty" still reads as corrupt.
#[repr(C)]
#[derive(Copy, Clone)]
struct Slot {
    handle: u64,
    checksum: u32,
    len: u16,
    flags: u16,
}

impl Slot {
    fn empty(entry: usize) -> Slot {
        Slot {
            handle: 0,
            checksum: seal(0, entry, 0, 0),
            len: 0,
            flags: 0,
        }
    }
}

const SLOT_WORDS: usize = size_of::<Slot>() / 8;
const _: () = assert!(size_of::<Slot>() == 16 && align_of::<Slot>() <= 8);

/// What a slot says it holds, after checking its flags and length agree.
enum Stored {
    Empty,
    Same(u64),
    Lz4 { class: usize, len: usize },
    Huge,
}

/// A slot's payload copied out of the store by `take` (or `load`): what it was, and
/// the slot's sealed checksum to verify it against.
#[derive(Debug)]
pub struct TakenPage {
    stored: Taken,
    sealed: u32,
    idx: usize,
    len: u16,
    flags: u16,
}

#[derive(Debug)]
enum Taken {
    Same(u64),
    Lz4(usize),
    Huge,
}

impl TakenPage {
    /// Verifies the payload `take` copied into `buf` and expands it into `dst`; needs
    /// no lock. `Corrupt` if a bit of the payload or of the slot's metadata changed
    /// after the store, or if the payload does not decompress to exactly one page.
    pub fn expand(
        &self,
        buf: &[u8; PAGE_SIZE],
        dst: &mut [u8; PAGE_SIZE],
    ) -> Result<(), LoadError> {
        let verify = |payload: &[u8]| {
            if seal(payload_checksum(payload), self.idx, self.len, self.flags) == self.sealed {
                Ok(())
            } else {
                Err(LoadError::Corrupt)
            }
        };
        match self.stored {
            Taken::Same(word) => {
                verify(&word.to_ne_bytes())?;
                for chunk in dst.as_chunks_mut::<8>().0 {
                    *chunk = word.to_ne_bytes();
                }
                Ok(())
            }
            Taken::Huge => {
                verify(buf)?;
                dst.copy_from_slice(buf);
                Ok(())
            }
            Taken::Lz4(len) => {
                let src = &buf[..len];
                verify(src)?;
                match decompress_into(src, dst) {
                    Ok(PAGE_SIZE) => Ok(()),
                    _ => Err(LoadError::Corrupt),
                }
            }
        }
    }
}

/// The compressed store. The kernel wraps it in a `spin::Mutex`; compression happens
/// before taking the lock, so only object allocation and copies happen under it.
///
/// Memory: the slot table and the zspage descriptors live in a metadata buffer the caller
/// lends at creation (`meta_words(nr_slots)` words, 80 bytes per slot: 16 for the slot, 64
/// for the descriptor of the at most one zspage a slot can account for); compressed objects
/// live in frames from the `FrameSource`, the only memory `mem_used_total` counts.
pub struct ZramStore<'m, F: FrameSource> {
    frames: F,
    slots: &'m mut [Slot],
    pool: Pool<'m>,
    mem_limit: u64,
    stat: MmStat,
    max_frames: usize,
    /// Where objects that straddle frames are gathered for decompression or a move.
    scratch: [u8; HUGE_CLASS_SIZE],
}

impl<'m, F: FrameSource> ZramStore<'m, F> {
    /// Metadata words needed for `nr_slots` slots.
    pub const fn meta_words(nr_slots: usize) -> usize {
        nr_slots * (SLOT_WORDS + ZSPAGE_WORDS)
    }

    /// A store with `meta.len() / meta_words(1)` slots, all empty, and no memory limit.
    /// `meta`'s previous content does not matter.
    pub fn new(frames: F, meta: &'m mut [u64]) -> Self {
        let nr_slots = meta.len() / Self::meta_words(1);
        let (slot_words, rest) = meta.split_at_mut(nr_slots * SLOT_WORDS);
        let zspage_words = &mut rest[..nr_slots * ZSPAGE_WORDS];
        // SAFETY: `Slot` is `repr(C)`, made of integers with no padding, 16 bytes and at
        // most 8-aligned (asserted above), so any initialised, 8-aligned run of
        // `SLOT_WORDS * nr_slots` words is a valid `[Slot; nr_slots]`; the words are
        // borrowed exclusively for 'm, as the returned slice is.
        let slots = unsafe {
            core::slice::from_raw_parts_mut(slot_words.as_mut_ptr().cast::<Slot>(), nr_slots)
        };
        // SAFETY: as above for `ZsPage` (integers only, 64 bytes, asserted in zsmalloc),
        // over the disjoint second part of `meta`.
        let zspages = unsafe {
            core::slice::from_raw_parts_mut(zspage_words.as_mut_ptr().cast::<ZsPage>(), nr_slots)
        };
        for (entry, slot) in slots.iter_mut().enumerate() {
            *slot = Slot::empty(entry);
        }
        ZramStore {
            frames,
            slots,
            pool: Pool::new(zspages),
            mem_limit: 0,
            stat: MmStat::default(),
            max_frames: 0,
            scratch: [0; HUGE_CLASS_SIZE],
        }
    }

    /// Number of slots.
    pub fn nr_slots(&self) -> usize {
        self.slots.len()
    }

    /// Sets zram's `mem_limit` in bytes (0: no limit). Pages already stored stay.
    pub fn set_mem_limit(&mut self, bytes: u64) {
        self.mem_limit = bytes;
    }

    /// zram's `mm_stat` and read/write counts.
    pub fn mm_stat(&self) -> MmStat {
        MmStat {
            mem_used_total: self.mem_used_frames() as u64 * PAGE_SIZE as u64,
            mem_limit: self.mem_limit,
            mem_used_max: self.max_frames as u64 * PAGE_SIZE as u64,
            ..self.stat
        }
    }

    /// The frame source (e.g. to read its counters).
    pub fn frames(&self) -> &F {
        &self.frames
    }

    /// The frame source, mutably (e.g. to change a test budget).
    pub fn frames_mut(&mut self) -> &mut F {
        &mut self.frames
    }

    /// Whether the slot holds a page.
    pub fn contains(&self, entry: SwapSlot) -> bool {
        self.slots
            .get(entry.0 as usize)
            .is_some_and(|slot| slot.flags != 0)
    }

    /// Stores a page compressed by a `Compressor` in an empty slot. Under the lock this is
    /// object allocation (frames taken when every zspage of the class is full) and a copy.
    pub fn store(&mut self, entry: SwapSlot, page: &CompressedPage<'_>) -> Result<(), StoreError> {
        self.stat.num_writes += 1;
        let result = self.store_slot(entry.0 as usize, page);
        if result.is_err() {
            self.stat.failed_writes += 1;
        }
        result
    }

    fn store_slot(&mut self, idx: usize, page: &CompressedPage<'_>) -> Result<(), StoreError> {
        let slot = self.slots.get(idx).ok_or(StoreError::OutOfRange)?;
        if slot.flags != 0 {
            return Err(StoreError::SlotInUse);
        }
        let limit_frames =
            (self.mem_limit != 0).then_some((self.mem_limit / PAGE_SIZE as u64) as usize);
        let (handle, len, flags) = match page.repr {
            Repr::Same(word) => {
                self.stat.same_pages += 1;
                (word, 0, ZRAM_ALLOCATED | ZRAM_SAME)
            }
            Repr::Lz4(bytes) => {
                let class = class_of_len(bytes.len()).ok_or(StoreError::NoMemory)?;
                let obj = self.pool.alloc(class, &mut self.frames, limit_frames)?;
                self.pool.write(obj, bytes);
                (obj.raw(), bytes.len(), ZRAM_ALLOCATED)
            }
            Repr::Huge(bytes) => {
                let obj = self
                    .pool
                    .alloc(HUGE_CLASS, &mut self.frames, limit_frames)?;
                self.pool.write(obj, bytes);
                self.stat.huge_pages += 1;
                self.stat.huge_pages_since += 1;
                (obj.raw(), PAGE_SIZE, ZRAM_ALLOCATED | ZRAM_HUGE)
            }
        };
        let len = len as u16;
        self.slots[idx] = Slot {
            handle,
            checksum: seal(page.checksum, idx, len, flags),
            len,
            flags,
        };
        self.stat.orig_data_size += PAGE_SIZE as u64;
        self.stat.compr_data_size += len as u64;
        self.max_frames = self.max_frames.max(self.mem_used_frames());
        Ok(())
    }

    /// Reads the page in the slot into `dst`, leaving the slot as it is. On error `dst`
    /// holds no meaningful data. Corruption anywhere (slot metadata, arena bytes) gives
    /// `Corrupt`: the checksum is verified before decompression, and the decompressed
    /// length must be exactly one page.
    pub fn load(&mut self, entry: SwapSlot, dst: &mut [u8; PAGE_SIZE]) -> Result<(), LoadError> {
        self.stat.num_reads += 1;
        let idx = entry.0 as usize;
        let mut buf = [0u8; PAGE_SIZE];
        let result = self
            .copy_out(idx, &mut buf)
            .and_then(|taken| taken.expand(&buf, dst));
        if result.is_err() {
            self.stat.failed_reads += 1;
        }
        result
    }

    /// The swap-in path's half under the lock: copies the slot's payload (compressed
    /// bytes, the whole huge page, or nothing for a same-filled word) into `buf` and
    /// empties the slot, as `free` does. The caller checks and decompresses outside the
    /// lock with [`TakenPage::expand`], so one swap-in's decompression does not hold
    /// up every other store user (zram locks a slot, not the device, for its reads).
    /// A slot whose metadata does not check out is emptied and gives `Corrupt`.
    pub fn take(
        &mut self,
        entry: SwapSlot,
        buf: &mut [u8; PAGE_SIZE],
    ) -> Result<TakenPage, LoadError> {
        self.stat.num_reads += 1;
        let taken = self.copy_out(entry.0 as usize, buf);
        let freed = self.free(entry);
        let taken = taken.and_then(|t| freed.map(|()| t));
        if taken.is_err() {
            self.stat.failed_reads += 1;
        }
        taken
    }

    /// Counts a read that `TakenPage::expand` found corrupt (zram's `failed_reads`).
    pub fn count_failed_read(&mut self) {
        self.stat.failed_reads += 1;
    }

    /// The slot's payload into `buf`, checked against nothing yet.
    fn copy_out(&self, idx: usize, buf: &mut [u8; PAGE_SIZE]) -> Result<TakenPage, LoadError> {
        let slot = *self.slots.get(idx).ok_or(LoadError::OutOfRange)?;
        let stored = match classify(&slot, idx)? {
            Stored::Empty => return Err(LoadError::Empty),
            Stored::Same(word) => Taken::Same(word),
            Stored::Huge => {
                let obj = self
                    .pool
                    .locate(slot.handle, HUGE_CLASS)
                    .ok_or(LoadError::Corrupt)?;
                self.pool.read(obj, buf);
                Taken::Huge
            }
            Stored::Lz4 { class, len } => {
                let obj = self
                    .pool
                    .locate(slot.handle, class)
                    .ok_or(LoadError::Corrupt)?;
                self.pool.read(obj, &mut buf[..len]);
                Taken::Lz4(len)
            }
        };
        Ok(TakenPage {
            stored,
            sealed: slot.checksum,
            idx,
            len: slot.len,
            flags: slot.flags,
        })
    }

    /// Empties the slot, freeing its object (zram's `zram_free_page`); a zspage left empty
    /// gives its frames back. A slot whose handle does not check out is emptied and
    /// reported `Corrupt`, its object (if any) leaked rather than someone else's freed.
    pub fn free(&mut self, entry: SwapSlot) -> Result<(), LoadError> {
        let idx = entry.0 as usize;
        let slot = *self.slots.get(idx).ok_or(LoadError::OutOfRange)?;
        let stored = classify(&slot, idx);
        let obj = match stored {
            Ok(Stored::Empty) => return Err(LoadError::Empty),
            Ok(Stored::Same(_)) => None,
            Ok(Stored::Huge) => self.pool.locate(slot.handle, HUGE_CLASS),
            Ok(Stored::Lz4 { class, .. }) => self.pool.locate(slot.handle, class),
            Err(_) => None,
        };
        self.slots[idx] = Slot::empty(idx);
        let corrupt = match stored {
            Ok(Stored::Same(_)) => {
                self.stat.same_pages = self.stat.same_pages.saturating_sub(1);
                false
            }
            Ok(Stored::Huge | Stored::Lz4 { .. }) if obj.is_some() => false,
            _ => true,
        };
        if let Some(obj) = obj {
            self.pool.free(obj, &mut self.frames);
            if matches!(stored, Ok(Stored::Huge)) {
                self.stat.huge_pages = self.stat.huge_pages.saturating_sub(1);
            }
        }
        if corrupt {
            return Err(LoadError::Corrupt);
        }
        // Saturating: a slot damaged into a valid-looking one (e.g. an empty slot turned
        // same-filled) makes counters drift, never panic.
        self.stat.orig_data_size = self.stat.orig_data_size.saturating_sub(PAGE_SIZE as u64);
        self.stat.compr_data_size = self.stat.compr_data_size.saturating_sub(slot.len as u64);
        Ok(())
    }

    /// zsmalloc's `zs_compact`: in each class, moves the objects of the sparsest zspages
    /// into the free room of the others, then gives the emptied zspages' frames back
    /// (with any object leaked there by the free of a corrupt slot). Walks the slot table
    /// once. Returns the frames freed (added to `pages_compacted`).
    pub fn compact(&mut self) -> usize {
        if self.pool.isolate_sparse() == 0 {
            return 0;
        }
        for idx in 0..self.slots.len() {
            let slot = self.slots[idx];
            let Ok(Stored::Lz4 { class, len }) = classify(&slot, idx) else {
                continue;
            };
            let Some(src) = self.pool.locate(slot.handle, class) else {
                continue;
            };
            if !self.pool.is_isolated(src) {
                continue;
            }
            // The isolated zspages' objects fit in the others' free room by construction;
            // were it otherwise, this slot would read as corrupt, never as wrong data.
            let Some(dst) = self.pool.alloc_existing(class) else {
                continue;
            };
            self.pool.read(src, &mut self.scratch[..len]);
            self.pool.write(dst, &self.scratch[..len]);
            self.pool.free(src, &mut self.frames);
            self.slots[idx].handle = dst.raw();
        }
        let freed = self.pool.release_isolated(&mut self.frames);
        self.stat.pages_compacted += freed as u64;
        freed
    }

    fn mem_used_frames(&self) -> usize {
        self.pool.frames_held()
    }

    /// The slot table's raw bytes, for fault-injection tests and fuzzing: per slot,
    /// `handle: u64, checksum: u32, len: u16, flags: u16` in native byte order.
    #[cfg(any(test, feature = "std"))]
    pub fn slot_table_bytes_mut(&mut self) -> &mut [u8] {
        let len = size_of_val(&*self.slots);
        // SAFETY: `Slot` is plain integers without padding, so its bytes are initialised
        // and any byte pattern written back is a valid `Slot`; the borrow of `self` keeps
        // the table from being used otherwise meanwhile.
        unsafe { core::slice::from_raw_parts_mut(self.slots.as_mut_ptr().cast::<u8>(), len) }
    }
}

/// Offset of the checksum inside a slot's bytes (see `slot_table_bytes_mut`).
#[cfg(any(test, feature = "std"))]
pub const SLOT_CHECKSUM_OFFSET: usize = core::mem::offset_of!(Slot, checksum);
/// Bytes per slot in `slot_table_bytes_mut`.
#[cfg(any(test, feature = "std"))]
pub const SLOT_BYTES: usize = size_of::<Slot>();

/// Reads a slot's flags and length into what it holds; combinations zram never writes are
/// corruption. An empty slot must be exactly the sealed empty value.
fn classify(slot: &Slot, idx: usize) -> Result<Stored, LoadError> {
    let len = slot.len as usize;
    match slot.flags {
        0 if slot.handle == 0 && slot.len == 0 && slot.checksum == seal(0, idx, 0, 0) => {
            Ok(Stored::Empty)
        }
        f if f == ZRAM_ALLOCATED | ZRAM_SAME && len == 0 => Ok(Stored::Same(slot.handle)),
        f if f == ZRAM_ALLOCATED | ZRAM_HUGE && len == PAGE_SIZE => Ok(Stored::Huge),
        ZRAM_ALLOCATED => match class_of_len(len) {
            Some(class) => Ok(Stored::Lz4 { class, len }),
            None => Err(LoadError::Corrupt),
        },
        _ => Err(LoadError::Corrupt),
    }
}
