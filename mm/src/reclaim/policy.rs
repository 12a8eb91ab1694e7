//! The reclaim policy, written once for the kernel and the host harness: kswapd's
//! `balance_pgdat`, direct reclaim for allocations below `min`, the shrink step that
//! isolates, ages, unmaps and hands pages to compression (sync, or async through the
//! compressor rings with a selectable overflow order), the kcompressd loop body and
//! the swap-in fault. It drives the zone, LRU, store and rings through their APIs and
//! the caller's page tables through [`Mmu`]; it owns no memory of its own.
//!
//! Locks: the zone and its LRU sit under one lock (`Node`), the store under another;
//! the store takes the node lock inside its `FrameSource` (order: store -> node). No
//! lock is held while compressing, while calling [`Mmu`], or across two pages' worth
//! of work; the node lock is taken about three times per batch of 32.
//!
//! Each step emits an `mm::trace` event under Linux's tracepoint name
//! (`mm_vmscan_lru_shrink_inactive`, `mm_vmscan_direct_reclaim_begin`, ...): one
//! relaxed load while tracing is off.

use core::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};

use spin::RelaxStrategy;
use spin::mutex::Mutex;

pub use super::node_lru::{LruBusy, LruKind, NodeLru};
use super::swap::{Fault, SwapEntry, SwapMap};
use crate::addr::{PAGE_SIZE, Pfn};
use crate::frame::Zone;
use crate::lru::{FolioReferences, IsolatedBatch, LruError, LruList, SWAP_CLUSTER_MAX};
use crate::lru_gen::Shadow;
use crate::psi::PsiCpu;
use crate::ring::{Consumer, Producer};
use crate::trace::{self, Event};
use crate::vmstat::{CpuVmStat, VmEvent};
use crate::zram::{Compressor, FrameSource, LoadError, ZramStore};

/// Linux's `DEF_PRIORITY`: the first pass scans `lru_size >> 12`.
pub const DEF_PRIORITY: u32 = 12;
/// Linux's `MAX_RECLAIM_RETRIES`: direct reclaim rounds before an allocation fails.
pub const MAX_RECLAIM_RETRIES: u32 = 16;

/// The caller's page tables, as reclaim sees them (kernel: real PTEs, a reverse map
/// from frame to PTE and TLB shootdown; host: simulated PTEs). Called without any of
/// the policy's locks held.
pub trait Mmu {
    /// `folio_referenced()` for an anonymous page: tests and clears the access flag
    /// of the PTE mapping `pfn`. False if nothing maps `pfn` (any more). The TLB
    /// invalidation may be deferred to [`Mmu::flush_tlb`] (until then a core may
    /// still use an entry that has the flag set, so an access can go unnoticed).
    fn test_and_clear_young(&mut self, pfn: Pfn) -> bool;

    /// `try_to_unmap()` with `TTU_BATCH_FLUSH`: atomically replaces the PTE mapping
    /// `pfn` with `entry`. Fails, leaving the PTE alone, if the page was accessed
    /// since `test_and_clear_young` (access flag set again, or in use right now) or
    /// if `pfn` is not mapped: reclaim then puts the page back on the LRU. Until
    /// [`Mmu::flush_tlb`] returns, a core may still reach the frame through a stale
    /// TLB entry: nobody may read the frame for compression before that.
    fn try_to_unmap(&mut self, pfn: Pfn, entry: SwapEntry) -> bool;

    /// Linux's `try_to_unmap_flush()`: completes every invalidation the two calls
    /// above deferred. When it returns, no core can reach an unmapped frame and every
    /// write made through the old mappings is visible to this core (kernel: one
    /// broadcast `tlbi` + `dsb ish` for the whole batch instead of one per page;
    /// host: nothing to do, the unmapping CAS already Acquired the workload's Release).
    fn flush_tlb(&mut self);

    /// The multi-gen LRU's aging walk (Linux's `walk_mm()`): tests and clears the
    /// access flag of every present PTE of the workloads and calls `young` with each
    /// frame that had it set. Called without the policy's locks; `young` may take
    /// them. No TLB invalidation is owed (a missed access only makes a page look
    /// older, as with `test_and_clear_young`).
    fn walk_young(&mut self, young: &mut dyn FnMut(Pfn));
}

/// Who compresses the pages kswapd evicts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ReclaimMode {
    /// kswapd compresses each page itself, as Linux does today.
    Sync,
    /// kswapd queues pages to kcompressd workers through SPSC rings.
    Async,
}

/// What kswapd does when every compressor ring is full (see docs/reclaim-policy.md).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RingFull {
    /// Compress the page that did not fit, now; the queue keeps its order (the first
    /// kcompressd patch: `kfifo_in` fails, zram writes the page synchronously).
    New,
    /// Take the oldest queued page out, compress it now, queue the new page in its
    /// place: pages reach the store in LRU order (the later version of the patch,
    /// which pops the fifo head under the fifo lock and writes it synchronously).
    Oldest,
}

/// Policy settings.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ReclaimConfig {
    /// Who compresses the pages kswapd evicts (`reclaim=`).
    pub mode: ReclaimMode,
    /// What kswapd does when every compressor ring is full (`ring_full=`).
    pub ring_full: RingFull,
    /// Tickets kswapd keeps queued per compressor ring at most (the kfifo's size;
    /// rings are built larger, this is the tunable): more means full less often.
    pub ring_size: usize,
    /// Which LRU (`lru=`); switched by `set_config` while the LRU is empty.
    pub lru: LruKind,
    /// Linux's `lru_gen_min_ttl` in ms (`lru_gen_min_ttl_ms=`, 0 = off): kswapd
    /// does not evict from a generation younger than this (multi-gen LRU only).
    /// At most [`MAX_MIN_TTL_MS`].
    pub min_ttl_ms: u32,
}

impl ReclaimConfig {
    /// The defaults: kswapd compresses itself, `ring_full=new`, the patch's ring size,
    /// the classic LRU, no `min_ttl`.
    pub const DEFAULT: ReclaimConfig = ReclaimConfig {
        mode: ReclaimMode::Sync,
        ring_full: RingFull::New,
        ring_size: DEFAULT_RING_SIZE,
        lru: LruKind::Classic,
        min_ttl_ms: 0,
    };
}

/// Largest `min_ttl_ms` (the bits left in the packed word: about six days).
pub const MAX_MIN_TTL_MS: u32 = (1 << 29) - 1;

impl ReclaimConfig {
    /// One word: bit 0 async, bit 1 oldest, bit 2 multi-gen LRU, the ring size in
    /// bits 3..35, `min_ttl_ms` (clamped) above.
    fn pack(self) -> u64 {
        u64::from(self.mode == ReclaimMode::Async)
            | u64::from(self.ring_full == RingFull::Oldest) << 1
            | u64::from(self.lru == LruKind::Mglru) << 2
            | (self.ring_size as u64 & 0xffff_ffff) << 3
            | u64::from(self.min_ttl_ms.min(MAX_MIN_TTL_MS)) << 35
    }

    fn unpack(word: u64) -> ReclaimConfig {
        ReclaimConfig {
            mode: if word & 1 != 0 {
                ReclaimMode::Async
            } else {
                ReclaimMode::Sync
            },
            ring_full: if word & 2 != 0 {
                RingFull::Oldest
            } else {
                RingFull::New
            },
            lru: if word & 4 != 0 {
                LruKind::Mglru
            } else {
                LruKind::Classic
            },
            ring_size: ((word >> 3) & 0xffff_ffff) as usize,
            min_ttl_ms: (word >> 35) as u32,
        }
    }
}

/// The kcompressd patch's kfifo: 256 folios.
pub const DEFAULT_RING_SIZE: usize = 256;

/// The zone and its LRU, which the LRU's methods need together: one lock.
pub struct Node {
    /// The one zone: free lists, memmap, watermarks.
    pub zone: Zone,
    /// The zone's anonymous LRU (classic or multi-gen).
    pub lru: NodeLru,
}

/// A page handed to compression: its swap entry and the frame still holding it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    /// The swap entry the PTE now holds; the store keeps the page under it.
    pub entry: SwapEntry,
    /// The frame, in writeback until the page is stored (or a fault takes it back).
    pub pfn: Pfn,
}

/// Filler for ticket arrays before they are written.
const NO_TICKET: Ticket = Ticket {
    entry: match SwapEntry::from_bits(0) {
        Some(entry) => entry,
        None => panic!("entry 0 is valid"),
    },
    pfn: Pfn(0),
};

/// One compressor worker's queue: the consumer side of its ring. Locked because in
/// `ring_full=oldest` mode kswapd pops the oldest ticket too (as the patch does under
/// its fifo lock); in `new` mode only the worker takes it, uncontended.
pub struct CompressorQueue<'a, R, const N: usize> {
    consumer: Mutex<Consumer<'a, Ticket, N>, R>,
}

impl<'a, R: RelaxStrategy, const N: usize> CompressorQueue<'a, R, N> {
    /// The queue over a ring's consumer side.
    pub fn new(consumer: Consumer<'a, Ticket, N>) -> Self {
        CompressorQueue {
            consumer: Mutex::new(consumer),
        }
    }

    /// Before the worker sleeps on an empty ring (see `ring::Consumer::prepare_to_wait`).
    pub fn prepare_to_wait(&self) -> bool {
        self.consumer.lock().prepare_to_wait()
    }

    /// After the worker woke (see `ring::Consumer::finish_wait`).
    pub fn finish_wait(&self) {
        self.consumer.lock().finish_wait()
    }

    /// Tickets queued (a lower bound, see `ring::Consumer::len`).
    pub fn len(&self) -> usize {
        self.consumer.lock().len()
    }

    /// Whether no ticket is queued (as far as `len` can tell).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Counters Linux has no `/proc/vmstat` line for: how faults on pages in writeback
/// ended, and stores the compressed store refused.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct SwapRaceStats {
    /// Faults that took a queued page's frame back (no decompression).
    pub rescued: u64,
    /// Faults that waited for a compressor to finish, then swapped in.
    pub waited: u64,
    /// Pages the store refused (at `mem_limit` / out of frames), left in writeback.
    pub writeback_failed: u64,
}

/// What every reclaiming context shares: the node, the store, the swap map.
pub struct Reclaim<'a, F: FrameSource, R> {
    node: &'a Mutex<Node, R>,
    store: &'a Mutex<ZramStore<'a, F>, R>,
    swap: &'a SwapMap<'a>,
    /// `ReclaimConfig`, packed (`ReclaimConfig::pack`): changed between runs by
    /// `set_config`, read Relaxed on every pass.
    config: AtomicU64,
    /// Tickets queued to a compressor and not yet done: frames about to be freed.
    /// Direct reclaim that finds nothing else waits for them instead of failing.
    in_flight: AtomicUsize,
    /// kswapd is running `balance_pgdat` (allocators need not wake it).
    kswapd_awake: AtomicBool,
    rescued: AtomicU64,
    waited: AtomicU64,
    writeback_failed: AtomicU64,
    /// Monotonic nanoseconds (the kernel's counter, the host's `Instant`, a test's
    /// script): for what the policy times itself.
    clock: fn() -> u64,
    /// The multi-gen LRU's shadow per swap slot (`Shadow::to_bits`, 0: none), if the
    /// caller gave one (`with_shadows`). A side array, not bits of the swap word: the
    /// word's states and their orderings are the swap protocol's (checked under
    /// loom), and a shadow is written once by reclaim before the unmap publishes the
    /// entry and read once by the fault before `swap_in_done` frees it, so a plain
    /// Relaxed slot carried by the protocol's own orderings is enough.
    shadows: Option<&'a [AtomicU16]>,
    /// kswapd passes that stopped because every generation was younger than
    /// `min_ttl_ms` (Linux then invokes the OOM killer).
    min_ttl_unmet: AtomicU64,
}

/// An allocation failed after direct reclaim made no progress: out of memory.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct OutOfMemory;

/// How a swap-in fault ended (see [`Reclaim::do_swap_page`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SwapIn {
    /// The frame was still in writeback and is mapped again (`rescued`).
    Rescued(Pfn),
    /// The page was decompressed into this new frame, now mapped (`pswpin`).
    Loaded(Pfn),
    /// The PTE no longer holds this entry: re-read it.
    Retry,
}

/// Why a swap-in fault failed. The entry is gone either way; the PTE still holds it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SwapInError {
    /// No frame for the page.
    OutOfMemory,
    /// The store could not give the page back (`Corrupt` slot): the page is lost.
    Load(LoadError),
}

/// One reclaiming context's private state: kswapd, or a task in direct reclaim.
pub struct Reclaimer<'r, M> {
    /// Its view of the page tables (an [`Mmu`]).
    pub mmu: M,
    /// Its compression state (sync mode and direct reclaim compress themselves).
    pub compressor: &'r mut Compressor,
    /// The vmstat counters of the CPU it runs on.
    pub stat: &'r CpuVmStat,
    /// The memory PSI state of the CPU it runs on, for a workload's stalls (psi.c's
    /// memstalls); None for kswapd and kcompressd, whose cores are not in the group.
    pub psi: Option<&'r PsiCpu>,
}

/// Which reclaimer is scanning, for the `*_kswapd` / `*_direct` counters.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Scanner {
    Kswapd,
    Direct,
}

/// What one shrink step did.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
struct Shrunk {
    scanned: usize,
    /// Pages freed now plus pages queued to a compressor, each page once (a queued page
    /// kswapd takes back and stores under `ring_full=oldest` was counted when queued).
    reclaimed: usize,
}

/// kswapd's producer side: one producer per compressor worker, plus the queues for
/// `ring_full=oldest`, and how to wake worker `i`.
pub struct Queues<'q, 'r, R, W, const N: usize> {
    /// Producer side of worker `i`'s ring.
    pub producers: &'q mut [Producer<'r, Ticket, N>],
    /// Worker `i`'s queue (kswapd pops the oldest ticket in `ring_full=oldest`).
    pub queues: &'q [CompressorQueue<'r, R, N>],
    /// Wakes worker `i` after kswapd queued to it.
    pub wake: W,
}

/// A batch's worth of frames to handle under one node lock: room for a batch plus,
/// in `ring_full=oldest` mode, as many queued pages kswapd took back to store itself.
struct PfnBatch {
    pfns: [Pfn; 2 * SWAP_CLUSTER_MAX],
    len: usize,
}

impl PfnBatch {
    const fn new() -> Self {
        PfnBatch {
            pfns: [Pfn(0); 2 * SWAP_CLUSTER_MAX],
            len: 0,
        }
    }

    fn push(&mut self, pfn: Pfn) {
        self.pfns[self.len] = pfn;
        self.len += 1;
    }

    fn as_slice(&self) -> &[Pfn] {
        &self.pfns[..self.len]
    }
}

/// How a writeout (compress + store) of one ticket ended.
enum Writeout {
    /// Stored; the frame is ours to free.
    Stored(Pfn),
    /// A fault rescued the page first: nothing to do.
    Stale,
    /// The store refused it: the page stays in writeback until its next fault.
    Failed,
}

impl<'a, F: FrameSource, R: RelaxStrategy> Reclaim<'a, F, R> {
    /// The shared reclaim state over the node, store and swap map, with no page in
    /// flight and kswapd asleep; `clock` gives monotonic nanoseconds.
    pub fn new(
        node: &'a Mutex<Node, R>,
        store: &'a Mutex<ZramStore<'a, F>, R>,
        swap: &'a SwapMap<'a>,
        config: ReclaimConfig,
        clock: fn() -> u64,
    ) -> Self {
        Reclaim {
            node,
            store,
            swap,
            config: AtomicU64::new(config.pack()),
            in_flight: AtomicUsize::new(0),
            kswapd_awake: AtomicBool::new(false),
            rescued: AtomicU64::new(0),
            waited: AtomicU64::new(0),
            writeback_failed: AtomicU64::new(0),
            clock,
            shadows: None,
            min_ttl_unmet: AtomicU64::new(0),
        }
    }

    /// Gives the multi-gen LRU one shadow slot per swap entry (as many as the swap
    /// map's words, all 0) for its refault detection; without it no refault is
    /// recent and the tiers get no feedback. Refused (`Err` with the slots back) when
    /// the sizes differ.
    pub fn with_shadows(mut self, shadows: &'a [AtomicU16]) -> Result<Self, &'a [AtomicU16]> {
        if shadows.len() != self.swap.capacity() {
            return Err(shadows);
        }
        self.shadows = Some(shadows);
        Ok(self)
    }

    /// kswapd passes stopped by `min_ttl_ms` so far (for the caller's count or its
    /// low-memory killer).
    pub fn min_ttl_unmet(&self) -> u64 {
        self.min_ttl_unmet.load(Ordering::Relaxed)
    }

    /// Now, in nanoseconds of the clock it was made with.
    pub fn now_ns(&self) -> u64 {
        (self.clock)()
    }

    /// Runs `f` as a memory stall of `psi`'s CPU (`psi_memstall_enter`/`leave`
    /// around it); just runs it without a PSI state.
    fn memstall<T>(&self, psi: Option<&PsiCpu>, f: impl FnOnce() -> T) -> T {
        if let Some(psi) = psi {
            psi.memstall_enter(self.now_ns());
        }
        let out = f();
        if let Some(psi) = psi {
            psi.memstall_leave(self.now_ns());
        }
        out
    }

    /// The settings it was made with.
    pub fn config(&self) -> ReclaimConfig {
        ReclaimConfig::unpack(self.config.load(Ordering::Relaxed))
    }

    /// New settings for the next run, in place (nothing allocated), switching the
    /// node's LRU to `config.lru` (an empty one) if it is the other kind. Call with
    /// no daemon or workload running: a pass under way would mix the two. Refused,
    /// nothing changed, when the LRU must switch and still holds pages.
    pub fn set_config(&self, config: ReclaimConfig) -> Result<(), LruBusy> {
        self.node.lock().lru.switch(config.lru, self.now_ns())?;
        self.config.store(config.pack(), Ordering::Relaxed);
        Ok(())
    }

    /// The node (zone and LRU) under its lock.
    pub fn node(&self) -> &'a Mutex<Node, R> {
        self.node
    }

    /// The compressed store (zram) under its lock.
    pub fn store(&self) -> &'a Mutex<ZramStore<'a, F>, R> {
        self.store
    }

    /// The swap map: which entries are in use, in writeback, stored.
    pub fn swap(&self) -> &'a SwapMap<'a> {
        self.swap
    }

    /// Pages queued to compressors and not yet stored or dropped.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// How faults on pages in writeback ended, and stores refused, so far.
    pub fn race_stats(&self) -> SwapRaceStats {
        SwapRaceStats {
            rescued: self.rescued.load(Ordering::Relaxed),
            waited: self.waited.load(Ordering::Relaxed),
            writeback_failed: self.writeback_failed.load(Ordering::Relaxed),
        }
    }

    // ---- allocation: watermarks, kswapd wake-up, direct reclaim ----

    /// Linux's `__alloc_pages()` for one anonymous page: from the free lists while
    /// above `low`; between `low` and `min` also wakes kswapd; below `min` the caller
    /// reclaims a batch itself (`allocstall`) and retries, up to
    /// [`MAX_RECLAIM_RETRIES`] rounds without progress. When direct reclaim finds
    /// nothing but pages are queued to compressors, `throttle` runs (a short wait)
    /// and the round does not count.
    pub fn alloc_page<M: Mmu>(
        &self,
        reclaimer: &mut Reclaimer<'_, M>,
        wake_kswapd: &mut dyn FnMut(),
        throttle: &mut dyn FnMut(),
    ) -> Result<Pfn, OutOfMemory> {
        let mut stalls = 0;
        loop {
            let (page, below_low) = {
                let mut node = self.node.lock();
                let marks = node.zone.watermarks();
                if node.zone.zone_watermark_ok(0, marks.low) {
                    (node.zone.alloc_pages(0).ok(), false)
                } else if node.zone.zone_watermark_ok(0, marks.min) {
                    (node.zone.alloc_pages(0).ok(), true)
                } else {
                    (None, true)
                }
            };
            // Read after the node lock: kswapd clears the flag before its last check
            // of the free count under that lock, so either it sees our allocation or
            // we see it asleep (see `kswapd_try_to_sleep`).
            if below_low && !self.kswapd_awake.load(Ordering::Relaxed) {
                wake_kswapd();
            }
            if let Some(pfn) = page {
                reclaimer.stat.count(VmEvent::PgAllocNormal);
                return Ok(pfn);
            }
            let psi = reclaimer.psi;
            if self.memstall(psi, || self.direct_reclaim(reclaimer)) == 0 {
                if self.in_flight() > 0 {
                    // Linux's `reclaim_throttle(VMSCAN_THROTTLE_WRITEBACK)`: frames
                    // are on their way back from the compressors; wait, not OOM.
                    self.memstall(psi, &mut *throttle);
                    continue;
                }
                stalls += 1;
                if stalls >= MAX_RECLAIM_RETRIES {
                    return Err(OutOfMemory);
                }
            }
        }
    }

    /// A page newly mapped by its first fault joins the LRU (inactive head, or
    /// generation `max_seq - 1`).
    pub fn lru_add_new(&self, pfn: Pfn) {
        let mut node = self.node.lock();
        let Node { zone, lru } = &mut *node;
        // A page the caller just allocated and mapped is allocated and on no list.
        let _ = lru.add_new(zone, pfn);
    }

    /// A page just swapped in joins the LRU: the classic inactive head (every
    /// refault counts), or the multi-gen LRU's refault path with the slot's shadow.
    fn lru_add_refault(&self, pfn: Pfn, shadow: Option<Shadow>, stat: &CpuVmStat) {
        let recent = {
            let mut node = self.node.lock();
            let Node { zone, lru } = &mut *node;
            match lru {
                NodeLru::Classic(lru) => lru.add(zone, pfn, LruList::InactiveAnon).is_ok(),
                NodeLru::Mglru(lru_gen) => lru_gen.add_refault(zone, pfn, shadow) == Ok(true),
            }
        };
        if recent {
            stat.count(VmEvent::WorkingsetRefaultAnon);
        }
    }

    /// The multi-gen LRU's aging, when only `MIN_NR_GENS` generations are left:
    /// walks the page tables (no lock held), moving young pages to the youngest
    /// generation in batches under the node lock, then `try_to_inc_max_seq`.
    fn lru_gen_age<M: Mmu>(&self, reclaimer: &mut Reclaimer<'_, M>) {
        let max_seq = match &mut self.node.lock().lru {
            NodeLru::Mglru(lru_gen) => {
                if !lru_gen.should_run_aging() {
                    return;
                }
                lru_gen.max_seq()
            }
            NodeLru::Classic(_) => return,
        };
        let update = |young: &mut PfnBatch| {
            let mut node = self.node.lock();
            let Node { zone, lru } = &mut *node;
            if let NodeLru::Mglru(lru_gen) = lru {
                for &pfn in young.as_slice() {
                    lru_gen.update_gen(zone, pfn);
                }
            }
            young.len = 0;
        };
        let mut young = PfnBatch::new();
        reclaimer.mmu.walk_young(&mut |pfn| {
            young.push(pfn);
            if young.len == young.pfns.len() {
                update(&mut young);
            }
        });
        update(&mut young);
        let now = self.now_ns();
        let mut node = self.node.lock();
        let Node { zone, lru } = &mut *node;
        if let NodeLru::Mglru(lru_gen) = lru {
            lru_gen.try_to_inc_max_seq(zone, max_seq, now);
        }
    }

    /// `lru_gen_min_ttl`: kswapd leaves the multi-gen LRU alone while its oldest
    /// generation is younger than `min_ttl_ms`.
    fn lru_gen_too_young(&self) -> bool {
        let ttl_ms = self.config().min_ttl_ms;
        if ttl_ms == 0 {
            return false;
        }
        let birth = match &self.node.lock().lru {
            NodeLru::Mglru(lru_gen) => lru_gen.oldest_birth_ns(),
            NodeLru::Classic(_) => return false,
        };
        self.now_ns().saturating_sub(birth) < u64::from(ttl_ms) * 1_000_000
    }

    /// Linux's `zap_pte_range()` for a page the caller has just unmapped for good (its
    /// app was killed): frees the frame off the LRU. A reclaim batch holding the page
    /// isolated cannot unmap it any more and puts it back, so this waits for that
    /// (`relax` between looks; it returns false to give up) rather than free a frame
    /// reclaim holds. False if the frame was not freed.
    pub fn zap_frame(&self, pfn: Pfn, relax: &mut dyn FnMut() -> bool) -> bool {
        loop {
            {
                let mut node = self.node.lock();
                let Node { zone, lru } = &mut *node;
                match lru.del(zone, pfn) {
                    Ok(()) => return zone.free_pages(pfn, 0).is_ok(),
                    Err(LruError::Isolated) => {}
                    Err(_) => return false,
                }
            }
            if !relax() {
                return false;
            }
        }
    }

    /// Frees a swap entry the caller has just taken out of its PTE for good: the
    /// page's slot in the store, or its frame if it was still in writeback. A
    /// compressor at work on it is waited for (`relax` as for [`Self::zap_frame`]).
    /// False if the entry was not freed.
    pub fn zap_swap_entry(&self, entry: SwapEntry, relax: &mut dyn FnMut() -> bool) -> bool {
        loop {
            match self.swap.fault(entry) {
                Fault::SwapIn => {
                    let freed = self.store.lock().free(entry.slot()).is_ok();
                    return freed && self.swap.swap_in_done(entry).is_ok();
                }
                Fault::Rescued(pfn) => return self.node.lock().zone.free_pages(pfn, 0).is_ok(),
                Fault::Stale => return false,
                Fault::Compressing | Fault::OtherFault => {
                    if !relax() {
                        return false;
                    }
                }
            }
        }
    }

    fn direct_reclaim<M: Mmu>(&self, reclaimer: &mut Reclaimer<'_, M>) -> usize {
        reclaimer.stat.count(VmEvent::AllocStall);
        trace::emit(Event::DirectReclaimBegin);
        let mut reclaimed = 0;
        for priority in (0..=DEF_PRIORITY).rev() {
            let target = (self.nr_inactive() >> priority).max(SWAP_CLUSTER_MAX);
            let mut scanned = 0;
            while scanned < target && reclaimed < SWAP_CLUSTER_MAX {
                let step = self.shrink_inactive_list(
                    reclaimer,
                    (target - scanned).min(SWAP_CLUSTER_MAX),
                    Scanner::Direct,
                    None::<&mut Queues<'_, '_, R, fn(usize), 1>>,
                );
                if step.scanned == 0 {
                    break;
                }
                scanned += step.scanned;
                reclaimed += step.reclaimed;
            }
            if reclaimed >= SWAP_CLUSTER_MAX {
                break;
            }
        }
        trace::emit(Event::DirectReclaimEnd {
            nr_reclaimed: reclaimed as u32,
        });
        reclaimed
    }

    /// What a priority's scan target is a fraction of: the inactive list, or (as
    /// Linux's `get_nr_to_scan()` for the multi-gen LRU) every generation.
    fn nr_inactive(&self) -> usize {
        let node = self.node.lock();
        match &node.lru {
            NodeLru::Classic(lru) => lru.nr_inactive_anon() as usize,
            NodeLru::Mglru(lru_gen) => lru_gen.nr_pages() as usize,
        }
    }

    // ---- kswapd ----

    /// Linux's `pgdat_balanced()`: free pages at or above `high`. Pages queued to a
    /// compressor do not count, as pages under writeback do not in Linux: kswapd goes
    /// on reclaiming, and when the rings are full compresses alongside the workers.
    fn balanced(&self) -> bool {
        let (free, high) = {
            let node = self.node.lock();
            (node.zone.nr_free_pages(), node.zone.watermarks().high)
        };
        free >= high
    }

    /// Linux's `balance_pgdat()`: from `DEF_PRIORITY` down, each pass scans
    /// `inactive >> priority` pages in `SWAP_CLUSTER_MAX` batches until the zone is
    /// balanced; the priority rises (the number falls) after a pass that scanned less
    /// than `max(high, SWAP_CLUSTER_MAX)` or reclaimed nothing. Returns whether the
    /// zone ended balanced (false: reclaim failed at every priority).
    pub fn balance_pgdat<M: Mmu, W: FnMut(usize), const N: usize>(
        &self,
        reclaimer: &mut Reclaimer<'_, M>,
        queues: &mut Queues<'_, '_, R, W, N>,
    ) -> bool {
        self.kswapd_awake.store(true, Ordering::Relaxed);
        reclaimer.stat.count(VmEvent::PageOutRun);
        let nr_to_reclaim = {
            let node = self.node.lock();
            (node.zone.watermarks().high as usize).max(SWAP_CLUSTER_MAX)
        };
        let mut priority = DEF_PRIORITY;
        loop {
            if self.balanced() {
                return true;
            }
            if priority == 0 {
                return false;
            }
            if self.lru_gen_too_young() {
                self.min_ttl_unmet.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            let target = self.nr_inactive() >> priority;
            let mut pass = Shrunk::default();
            while pass.scanned < target {
                let queues = (self.config().mode == ReclaimMode::Async).then_some(&mut *queues);
                let step = self.shrink_inactive_list(
                    reclaimer,
                    (target - pass.scanned).min(SWAP_CLUSTER_MAX),
                    Scanner::Kswapd,
                    queues,
                );
                if step.scanned == 0 {
                    break;
                }
                pass.scanned += step.scanned;
                pass.reclaimed += step.reclaimed;
                if pass.reclaimed >= nr_to_reclaim || self.balanced() {
                    break;
                }
            }
            if pass.scanned < nr_to_reclaim || pass.reclaimed == 0 {
                priority -= 1;
            }
        }
    }

    /// After `balance_pgdat` (which returned `balanced`): true if kswapd may sleep,
    /// i.e. free is above `low`, or reclaim failed at every priority (Linux's
    /// hopeless node: sleep until the next allocator wakes us rather than spin).
    /// Clears the awake flag *before* the check under the node lock, so an
    /// allocator that took the lock after us sees the flag clear and wakes us (no
    /// lost wake-up; the caller's sleep must latch a wake-up sent before it sleeps:
    /// SGI with IRQs masked + WFI, or thread park/unpark).
    pub fn kswapd_try_to_sleep(&self, balanced: bool) -> bool {
        self.kswapd_awake.store(false, Ordering::Relaxed);
        let node = self.node.lock();
        let marks = node.zone.watermarks();
        let sleep = !balanced || node.zone.zone_watermark_ok(0, marks.low);
        drop(node);
        if !sleep {
            self.kswapd_awake.store(true, Ordering::Relaxed);
        }
        sleep
    }

    // ---- the shrink step ----

    /// Linux's `shrink_inactive_list()` + `shrink_folio_list()` for one batch of at
    /// most `SWAP_CLUSTER_MAX` pages: deactivate if the inactive list is low, isolate,
    /// second chance, allocate swap entries, unmap, then compress now (`queues` is
    /// `None`) or queue to the compressors.
    fn shrink_inactive_list<M: Mmu, W: FnMut(usize), const N: usize>(
        &self,
        reclaimer: &mut Reclaimer<'_, M>,
        nr_to_scan: usize,
        scanner: Scanner,
        queues: Option<&mut Queues<'_, '_, R, W, N>>,
    ) -> Shrunk {
        if self.config().lru == LruKind::Mglru {
            self.lru_gen_age(reclaimer);
        }
        let mut batch = IsolatedBatch::new();
        let mut deactivated = PfnBatch::new();
        // Pages isolated (`pgscan`), and pages looked at: the multi-gen LRU also sorts
        // protected pages into the next generation, which is progress too.
        let (scanned, looked_at) = {
            let mut node = self.node.lock();
            let Node { zone, lru } = &mut *node;
            match lru {
                NodeLru::Classic(lru) => {
                    let n = Self::isolate_classic(
                        lru,
                        zone,
                        nr_to_scan,
                        &mut batch,
                        &mut deactivated,
                        reclaimer.stat,
                    );
                    (n, n)
                }
                NodeLru::Mglru(lru_gen) => {
                    let scan = lru_gen.isolate(zone, nr_to_scan, &mut batch);
                    reclaimer
                        .stat
                        .add(VmEvent::WorkingsetActivateAnon, scan.protected as u64);
                    (scan.isolated, scan.scanned)
                }
            }
        };
        // The access flags of the pages just deactivated are cleared outside the lock.
        for &pfn in deactivated.as_slice() {
            reclaimer.mmu.test_and_clear_young(pfn);
        }
        if scanned == 0 {
            reclaimer.mmu.flush_tlb();
            return Shrunk {
                scanned: looked_at,
                reclaimed: 0,
            };
        }
        self.shrink_isolated(reclaimer, &batch, looked_at, scanner, queues)
    }

    /// The classic half of isolation: `shrink_active_list` if the inactive list is
    /// low, then the inactive tail. Returns pages isolated.
    fn isolate_classic(
        lru: &mut crate::lru::Lru,
        zone: &mut Zone,
        nr_to_scan: usize,
        batch: &mut IsolatedBatch,
        deactivated: &mut PfnBatch,
        stat: &CpuVmStat,
    ) -> usize {
        if lru.inactive_is_low() {
            let before = lru.stats();
            lru.shrink_active_list(zone, SWAP_CLUSTER_MAX, |pfn| deactivated.push(pfn));
            let after = lru.stats();
            stat.add(VmEvent::PgRefill, after.pgrefill - before.pgrefill);
            stat.add(
                VmEvent::PgDeactivate,
                after.pgdeactivate - before.pgdeactivate,
            );
            trace::emit(Event::LruShrinkActive {
                nr_taken: (after.pgrefill - before.pgrefill) as u32,
                nr_deactivated: (after.pgdeactivate - before.pgdeactivate) as u32,
            });
        }
        lru.isolate(zone, LruList::InactiveAnon, nr_to_scan, batch)
    }

    /// The rest of the shrink step for an isolated batch (`looked_at` pages were
    /// scanned to fill it): age, unmap, compress or queue, free.
    fn shrink_isolated<M: Mmu, W: FnMut(usize), const N: usize>(
        &self,
        reclaimer: &mut Reclaimer<'_, M>,
        batch: &IsolatedBatch,
        looked_at: usize,
        scanner: Scanner,
        queues: Option<&mut Queues<'_, '_, R, W, N>>,
    ) -> Shrunk {
        let scanned = batch.len();
        let (scan_event, steal_event) = match scanner {
            Scanner::Kswapd => (VmEvent::PgScanKswapd, VmEvent::PgStealKswapd),
            Scanner::Direct => (VmEvent::PgScanDirect, VmEvent::PgStealDirect),
        };
        reclaimer.stat.add(scan_event, scanned as u64);
        reclaimer.stat.add(VmEvent::PgScanAnon, scanned as u64);

        let mut young = [false; SWAP_CLUSTER_MAX];
        for (young, &pfn) in young.iter_mut().zip(batch.as_slice()) {
            *young = reclaimer.mmu.test_and_clear_young(pfn);
        }
        let mut victims = PfnBatch::new();
        // The multi-gen LRU's shadow of each victim, by its place in `victims`.
        let mut victim_shadows: [Option<Shadow>; SWAP_CLUSTER_MAX] = [None; SWAP_CLUSTER_MAX];
        let mut keep = PfnBatch::new();
        let activated = {
            let mut node = self.node.lock();
            let Node { zone, lru } = &mut *node;
            let activated = match lru {
                NodeLru::Classic(lru) => {
                    let before = lru.stats().pgactivate;
                    for (&pfn, &young) in batch.as_slice().iter().zip(&young) {
                        match lru.folio_check_references(zone, pfn, young) {
                            Ok(FolioReferences::Reclaim) => victims.push(pfn),
                            Ok(FolioReferences::Activate | FolioReferences::Keep) | Err(_) => {
                                let _ = lru.putback(zone, pfn);
                            }
                        }
                    }
                    lru.stats().pgactivate - before
                }
                NodeLru::Mglru(lru_gen) => {
                    let before = lru_gen.stats().pgactivate;
                    for (&pfn, &young) in batch.as_slice().iter().zip(&young) {
                        match lru_gen.folio_check_references(zone, pfn, young) {
                            Ok(Some(shadow)) => {
                                victim_shadows[victims.len] = Some(shadow);
                                victims.push(pfn);
                            }
                            Ok(None) | Err(_) => {
                                let _ = lru_gen.putback(zone, pfn);
                            }
                        }
                    }
                    lru_gen.stats().pgactivate - before
                }
            };
            reclaimer.stat.add(VmEvent::PgActivate, activated);
            activated
        };

        let mut tickets = [NO_TICKET; SWAP_CLUSTER_MAX];
        let mut nr_tickets = 0;
        let mut evicted: [Option<Shadow>; SWAP_CLUSTER_MAX] = [None; SWAP_CLUSTER_MAX];
        for (&pfn, &shadow) in victims.as_slice().iter().zip(&victim_shadows) {
            let Some(entry) = self.swap.alloc(pfn) else {
                keep.push(pfn);
                continue;
            };
            // Before the unmap publishes the entry: a fault reads it after.
            if let Some(slot) = self.shadows.and_then(|s| s.get(entry.index() as usize)) {
                slot.store(shadow.map_or(0, Shadow::to_bits), Ordering::Relaxed);
            }
            if reclaimer.mmu.try_to_unmap(pfn, entry) {
                tickets[nr_tickets] = Ticket { entry, pfn };
                evicted[nr_tickets] = shadow;
                nr_tickets += 1;
            } else {
                // No PTE ever held the entry: it is ours to give back.
                let _ = self.swap.cancel(entry, pfn);
                keep.push(pfn);
            }
        }
        // One shootdown for the batch, before any frame is read or handed over.
        reclaimer.mmu.flush_tlb();

        let mut freed = PfnBatch::new();
        let mut queued = 0;
        // Frames in `freed` whose pages were already counted in `queued` (this batch's
        // or an earlier one's): `ring_full=oldest` took them back from a ring.
        let mut taken_back = 0;
        match queues {
            Some(queues) => {
                // Rings pushed to in this batch (bit i = worker i): only those may
                // need a wake-up; asking an untouched ring would spend its one wake-up
                // per sleep on a worker that has nothing to do.
                let mut pushed = 0u64;
                let ring_full_before = reclaimer.stat.get(VmEvent::KcompressdRingFull);
                for &ticket in &tickets[..nr_tickets] {
                    if let Some(ring) =
                        self.queue(reclaimer, queues, ticket, &mut freed, &mut taken_back)
                    {
                        queued += 1;
                        pushed |= 1u64.checked_shl(ring as u32).unwrap_or(u64::MAX);
                    }
                }
                if queued > 0 {
                    trace::emit(Event::KcompressdEnqueue {
                        nr_pages: queued as u32,
                    });
                }
                let ring_full = reclaimer.stat.get(VmEvent::KcompressdRingFull) - ring_full_before;
                if ring_full > 0 {
                    trace::emit(Event::KcompressdRingFull {
                        nr_pages: ring_full as u32,
                    });
                }
                for (i, producer) in queues.producers.iter_mut().enumerate() {
                    let touched = pushed & 1u64.checked_shl(i as u32).unwrap_or(u64::MAX) != 0;
                    if touched && producer.wake_needed() {
                        reclaimer.stat.count(VmEvent::KcompressdWakeup);
                        (queues.wake)(i);
                    }
                }
            }
            None => {
                for &ticket in &tickets[..nr_tickets] {
                    self.writeout_into(reclaimer.compressor, reclaimer.stat, ticket, &mut freed);
                }
            }
        }
        self.finish_batch(
            keep.as_slice(),
            &evicted[..nr_tickets],
            freed.as_slice(),
            reclaimer.stat,
            steal_event,
        );
        trace::emit(Event::LruShrinkInactive {
            nr_scanned: scanned as u32,
            nr_reclaimed: (freed.len + queued - taken_back) as u32,
            nr_activate: activated as u32,
        });
        Shrunk {
            scanned: looked_at,
            reclaimed: freed.len + queued - taken_back,
        }
    }

    /// Queues one ticket to the compressor whose ring has the most room; when every
    /// ring is full applies `ring_full`. The ring it was queued on (the page is in
    /// flight), or None if kswapd stored it itself. `taken_back` counts the frames of
    /// queued pages it took back and stored (already counted as reclaimed when queued).
    fn queue<M: Mmu, W: FnMut(usize), const N: usize>(
        &self,
        reclaimer: &mut Reclaimer<'_, M>,
        queues: &mut Queues<'_, '_, R, W, N>,
        ticket: Ticket,
        freed: &mut PfnBatch,
        taken_back: &mut usize,
    ) -> Option<usize> {
        let Some((best, _)) = queues
            .producers
            .iter()
            .enumerate()
            .min_by_key(|(_, p)| p.len())
        else {
            self.writeout_into(reclaimer.compressor, reclaimer.stat, ticket, freed);
            return None;
        };
        // Counted before the push: the worker may finish the ticket at once.
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let room = queues.producers[best].len() < self.config().ring_size;
        if room && queues.producers[best].push(ticket).is_ok() {
            reclaimer.stat.count(VmEvent::KcompressdQueued);
            return Some(best);
        }
        reclaimer.stat.count(VmEvent::KcompressdRingFull);
        match self.config().ring_full {
            RingFull::New => {
                self.in_flight.fetch_sub(1, Ordering::Relaxed);
                self.writeout_into(reclaimer.compressor, reclaimer.stat, ticket, freed);
                None
            }
            RingFull::Oldest => {
                let oldest = queues.queues[best].consumer.lock().pop();
                // The slot the pop freed (or the worker's pops) makes room.
                let pushed = queues.producers[best].push(ticket).is_ok();
                if pushed {
                    reclaimer.stat.count(VmEvent::KcompressdQueued);
                } else {
                    self.in_flight.fetch_sub(1, Ordering::Relaxed);
                    self.writeout_into(reclaimer.compressor, reclaimer.stat, ticket, freed);
                }
                if let Some(oldest) = oldest {
                    let before = freed.len;
                    self.writeout_into(reclaimer.compressor, reclaimer.stat, oldest, freed);
                    *taken_back += freed.len - before;
                    self.in_flight.fetch_sub(1, Ordering::Relaxed);
                }
                pushed.then_some(best)
            }
        }
    }

    /// Compresses and stores one ticket if it is still ours; its frame joins `freed`.
    fn writeout_into(
        &self,
        compressor: &mut Compressor,
        stat: &CpuVmStat,
        ticket: Ticket,
        freed: &mut PfnBatch,
    ) {
        if let Writeout::Stored(pfn) = self.writeout(compressor, stat, ticket) {
            freed.push(pfn);
        }
    }

    /// Linux's `swap_writepage()` to zram: claim the frame, compress it (no lock
    /// held), store it (store lock), complete the entry.
    fn writeout(&self, compressor: &mut Compressor, stat: &CpuVmStat, ticket: Ticket) -> Writeout {
        let Some(pfn) = self.swap.claim(ticket.entry, ticket.pfn) else {
            return Writeout::Stale;
        };
        // SAFETY: the claim made us the frame's only user until `complete`/`unclaim`
        // (the PTE holds the swap entry, faults wait, the frame is on no list); the
        // frame is a page of the zone, reachable through the direct map, and its
        // contents were published to us through the ticket (see `swap`).
        let page = unsafe { &*(pfn.page_address() as *const [u8; PAGE_SIZE]) };
        let compressed = compressor.compress(page);
        let stored = self.store.lock().store(ticket.entry.slot(), &compressed);
        let done = match stored {
            Ok(()) => self
                .swap
                .complete(ticket.entry, pfn)
                .map(|()| Writeout::Stored(pfn)),
            Err(_) => {
                self.writeback_failed.fetch_add(1, Ordering::Relaxed);
                self.swap
                    .unclaim(ticket.entry, pfn)
                    .map(|()| Writeout::Failed)
            }
        };
        match done {
            Ok(Writeout::Stored(pfn)) => {
                stat.count(VmEvent::PswpOut);
                Writeout::Stored(pfn)
            }
            // We held the claim: the word cannot have moved. Leave the frame alone.
            Ok(other) => other,
            Err(_) => Writeout::Failed,
        }
    }

    /// Under one node lock: pages that were not reclaimed go back to the LRU, the
    /// multi-gen LRU counts the unmapped pages' tiers as evicted, the frames of
    /// stored pages are freed and counted as stolen.
    fn finish_batch(
        &self,
        keep: &[Pfn],
        evicted: &[Option<Shadow>],
        freed: &[Pfn],
        stat: &CpuVmStat,
        steal: VmEvent,
    ) {
        if keep.is_empty() && evicted.is_empty() && freed.is_empty() {
            return;
        }
        let mut nr_freed = 0;
        {
            let mut node = self.node.lock();
            let Node { zone, lru } = &mut *node;
            for &pfn in keep {
                let _ = lru.putback(zone, pfn);
            }
            if let NodeLru::Mglru(lru_gen) = lru {
                evicted
                    .iter()
                    .flatten()
                    .for_each(|&s| lru_gen.note_evicted(s));
            }
            for &pfn in freed {
                if zone.free_pages(pfn, 0).is_ok() {
                    nr_freed += 1;
                }
            }
        }
        stat.add(steal, nr_freed);
        stat.add(VmEvent::PgStealAnon, nr_freed);
        stat.add(VmEvent::PgFree, nr_freed);
    }

    // ---- kcompressd ----

    /// The kcompressd loop body: pops up to `SWAP_CLUSTER_MAX` tickets, compresses
    /// and stores each, frees the frames under one node lock. Returns tickets popped
    /// (0: the ring was empty; sleep with `prepare_to_wait`).
    pub fn kcompressd_run<const N: usize>(
        &self,
        queue: &CompressorQueue<'_, R, N>,
        compressor: &mut Compressor,
        stat: &CpuVmStat,
    ) -> usize {
        let mut tickets = [NO_TICKET; SWAP_CLUSTER_MAX];
        let n = queue.consumer.lock().pop_slice(&mut tickets);
        let mut freed = PfnBatch::new();
        for &ticket in &tickets[..n] {
            self.writeout_into(compressor, stat, ticket, &mut freed);
        }
        // Queued pages were kswapd's reclaim.
        self.finish_batch(&[], &[], freed.as_slice(), stat, VmEvent::PgStealKswapd);
        self.in_flight.fetch_sub(n, Ordering::Relaxed);
        if n > 0 {
            trace::emit(Event::KcompressdCompressDone { nr_pages: n as u32 });
        }
        n
    }

    // ---- swap-in ----

    /// Linux's `do_swap_page()` for a PTE holding `entry`: a frame is allocated
    /// first (possibly through direct reclaim), then the entry decides: a page still
    /// in writeback is rescued (its frame mapped again, the new one freed); a page
    /// being compressed is waited for (`relax` between looks); a stored page is
    /// decompressed into the new frame and its slot freed (`relax` also throttles the
    /// allocation, see [`Reclaim::alloc_page`]). `map(pfn)` installs the
    /// PTE; it runs before the entry is released and before the page rejoins the LRU.
    pub fn do_swap_page<M: Mmu>(
        &self,
        reclaimer: &mut Reclaimer<'_, M>,
        entry: SwapEntry,
        wake_kswapd: &mut dyn FnMut(),
        relax: &mut dyn FnMut(),
        map: &mut dyn FnMut(Pfn),
    ) -> Result<SwapIn, SwapInError> {
        let new = self
            .alloc_page(reclaimer, wake_kswapd, relax)
            .map_err(|OutOfMemory| SwapInError::OutOfMemory)?;
        reclaimer.stat.count(VmEvent::PgFault);
        // A wait for the page's writeback (a compressor holds it) is a memstall from
        // the first look that has to wait.
        let psi = reclaimer.psi;
        let mut stalled = false;
        let outcome = self.swap.fault_wait(entry, || {
            if !stalled {
                stalled = true;
                if let Some(psi) = psi {
                    psi.memstall_enter(self.now_ns());
                }
            }
            relax();
        });
        if let Some(psi) = psi.filter(|_| stalled) {
            psi.memstall_leave(self.now_ns());
        }
        if outcome.waited_for_compressor {
            self.waited.fetch_add(1, Ordering::Relaxed);
        }
        match outcome.fault {
            Fault::Rescued(pfn) => {
                self.rescued.fetch_add(1, Ordering::Relaxed);
                map(pfn);
                trace::emit(Event::SwapinRescue);
                let mut node = self.node.lock();
                let Node { zone, lru } = &mut *node;
                let _ = lru.putback(zone, pfn);
                let _ = zone.free_pages(new, 0);
                Ok(SwapIn::Rescued(pfn))
            }
            Fault::SwapIn => {
                // SAFETY: `new` was just allocated for us: a page of the zone reached
                // through the direct map, used by nobody else until we map it.
                let dst = unsafe { &mut *(new.page_address() as *mut [u8; PAGE_SIZE]) };
                // Copied out and freed under the store lock (a corrupt slot is emptied
                // too, its object leaked, not reused); checked and decompressed after.
                // The swap-in is a memstall, as swap_read_folio() makes it in Linux.
                let payload = reclaimer.compressor.scratch_page();
                let loaded = self.memstall(psi, || {
                    let taken = self.store.lock().take(entry.slot(), payload);
                    taken.and_then(|t| {
                        let expanded = t.expand(payload, dst);
                        if expanded.is_err() {
                            self.store.lock().count_failed_read();
                        }
                        expanded
                    })
                });
                if let Err(error) = loaded {
                    let _ = self.swap.swap_in_done(entry);
                    let _ = self.node.lock().zone.free_pages(new, 0);
                    return Err(SwapInError::Load(error));
                }
                map(new);
                // Read before `swap_in_done` lets reclaim reuse the slot.
                let shadow = self
                    .shadows
                    .and_then(|s| s.get(entry.index() as usize))
                    .and_then(|slot| Shadow::from_bits(slot.load(Ordering::Relaxed)));
                let _ = self.swap.swap_in_done(entry);
                reclaimer.stat.count(VmEvent::PswpIn);
                reclaimer.stat.count(VmEvent::PgMajFault);
                self.lru_add_refault(new, shadow, reclaimer.stat);
                trace::emit(Event::SwapinDone);
                Ok(SwapIn::Loaded(new))
            }
            _ => {
                let _ = self.node.lock().zone.free_pages(new, 0);
                Ok(SwapIn::Retry)
            }
        }
    }
}
