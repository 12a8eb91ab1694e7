//! Reclaim in the kernel: the one `mm::reclaim::policy::Reclaim` instance and what it
//! drives (the zone and LRU under the node lock, the compressed store, the swap map,
//! the kcompressd rings), its `Mmu` over the workload region (`vm`), the store's frames
//! from the zone, and the two daemons: kswapd on its core and kcompressd workers on
//! theirs, each sleeping in WFI until an SGI says there is work. Owns those statics,
//! built once per boot, every allocation reserved before any is used, and set up again
//! in place for each run (nothing allocated per run), the daemons' loops and their busy times, and emptying the region between runs;
//! the policy itself is `mm`'s, the PTEs `vm`'s, the run's steps `mm::reclaim::run`'s.

use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;

use kernel::anon_pte::AnonPte;
use kernel::sizing::Costs;
use mm::addr::Pfn;
use mm::apps::table::{AppId, AppTable};
use mm::busy::BusyClock;
use mm::frame::Zone;
use mm::lmk::{KillReason, Killer, LmkConfig};
use mm::psi::{PsiCpu, PsiGroup, PsiSnapshot};
use mm::reclaim::policy::{
    CompressorQueue, LruKind, Mmu, Node, NodeLru, Queues, Reclaim, ReclaimConfig, Reclaimer, Ticket,
};
use mm::reclaim::run::DaemonTimes;
use mm::reclaim::swap::{SwapEntry, SwapMap};
use mm::ring::{Producer, Ring};
use mm::rmap::Rmap;
use mm::trace::{self, Event};
use mm::vmstat::{CpuVmStat, VmEvent, VmStat};
use mm::zram::{Compressor, FrameSource, ZramStore};

use crate::arch::aarch64::relax::Yield;
use crate::arch::aarch64::{MAX_CPUS, percpu, smp, timer};
use crate::vm;

/// kcompressd ring capacity: the largest `ring=`; the policy's `ring_size` (default
/// the patch's kfifo of 256 folios) is how much of it kswapd uses.
pub const RING: usize = platform::cmdline::MAX_RING as usize;

pub type NodeLock = spin::mutex::Mutex<Node, Yield>;
pub type Policy = Reclaim<'static, NodeFrames, Yield>;

/// `/proc/vmstat` counters, one block per CPU.
pub static VMSTAT: VmStat<MAX_CPUS> = VmStat::new();

/// Memory PSI since boot, on the policy's clock (0 at boot). Only workload CPUs run
/// tasks and stall in it; kswapd's and kcompressd's cores stay idle (their time is
/// `daemon_times`).
static PSI: PsiGroup<MAX_CPUS> = PsiGroup::new(0);

/// The store's frames come from the zone, as zram's do.
pub struct NodeFrames(&'static NodeLock);

// SAFETY: frames come from the zone, which manages identity-mapped RAM (the direct
// map); a frame allocated here is the store's until it comes back through `free_frame`.
unsafe impl FrameSource for NodeFrames {
    fn alloc_frame(&mut self) -> Option<Pfn> {
        self.0.lock().zone.alloc_pages(0).ok()
    }

    fn free_frame(&mut self, pfn: Pfn) {
        let _ = self.0.lock().zone.free_pages(pfn, 0);
    }
}

/// No CPU (a layout slot that is empty).
const NO_CPU: usize = usize::MAX;

/// Everything reclaim shares, built once by `init`; `configure` sets it up for each
/// run in place.
pub struct System {
    pub policy: Policy,
    /// kswapd's core for this run (`NO_CPU`: none).
    kswapd_cpu: AtomicUsize,
    /// kcompressd worker `i` runs on `workers[i]`, for `i < nr_workers`.
    workers: [AtomicUsize; MAX_CPUS],
    nr_workers: AtomicUsize,
    /// One ring per possible worker, built once; a run uses the first `nr_workers`.
    queues: &'static [CompressorQueue<'static, Yield, RING>],
    /// Compressors, built once: kswapd's first, then worker `i`'s at `1 + i`; each
    /// daemon holds its own while it runs.
    compressors: &'static [spin::Mutex<Compressor>],
    /// The rings' producer ends: kswapd holds them while it runs, then gives them back.
    producers: spin::Mutex<Vec<Producer<'static, Ticket, RING>>>,
    /// Pages of the workload region (one swap slot each).
    pub region_pages: usize,
}

/// The reverse map (frame -> VA of the PTE mapping it), built once by `init` over the
/// zone's frames; read by reclaim with no lock.
static RMAP: spin::Once<Rmap<'static>> = spin::Once::new();

/// The live system, built once per boot by `init`.
static SYSTEM: spin::Once<System> = spin::Once::new();
/// An allocator saw free pages below `low` with kswapd asleep.
static KSWAPD_PENDING: AtomicBool = AtomicBool::new(false);
static STOP_KSWAPD: AtomicBool = AtomicBool::new(false);
static STOP_WORKERS: AtomicBool = AtomicBool::new(false);
/// Access-flag faults taken (0 where the hardware sets the flag itself).
pub static AF_FAULTS: AtomicU64 = AtomicU64::new(0);

/// How `init` sets reclaim up.
pub struct Setup {
    /// Swap entries (and store slots): the region's pages, the most that can be out.
    pub swap_slots: usize,
    /// Rings to build: the most kcompressd workers any run may ask for.
    pub max_workers: usize,
}

/// One run's layout and settings (`System::configure`).
pub struct Layout<'a> {
    pub config: ReclaimConfig,
    pub kswapd_cpu: Option<usize>,
    pub workers: &'a [usize],
    /// zram `mem_limit` in bytes, 0 for none.
    pub mem_limit: u64,
}

/// Heap left free after reclaim's metadata, for what a run allocates (the workloads'
/// outcomes and fault histograms, the report): what `heap_costs` adds once.
const HEAP_SLACK: u64 = 128 << 10;

/// What `init` and then every run take from the heap (`kernel::sizing`), for
/// `run::prepare` to check before anything is built: per swap slot the store's slot
/// metadata, the swap map's word, the multi-gen LRU's shadow, a workload's page version and the region's table
/// address (one word per 512 pages, counted as one byte per page); per frame of the
/// zone's span the reverse map's word; once a ring per worker, a compressor per daemon,
/// the system's parts,
/// `HEAP_SLACK` and `extra` (what the caller allocates next).
pub fn heap_costs(max_workers: usize, extra: u64) -> Costs {
    let word = size_of::<u64>() as u64;
    Costs {
        per_slot: ZramStore::<NodeFrames>::meta_words(1) as u64 * word
            + word
            + size_of::<AtomicU16>() as u64
            + size_of::<u32>() as u64
            + 1,
        per_frame: word,
        fixed: (max_workers * size_of::<Ring<Ticket, RING>>()
            + (1 + max_workers) * size_of::<spin::Mutex<Compressor>>()) as u64
            + (size_of::<NodeLock>() + size_of::<StoreLock>() + size_of::<SwapMap<'static>>())
                as u64
            + HEAP_SLACK
            + extra,
    }
}

type StoreLock = spin::mutex::Mutex<ZramStore<'static, NodeFrames>, Yield>;

/// An empty vector with room for `len` values, or an error naming `what` when the heap
/// has not that much in one piece (filling it then cannot fail).
fn reserve<T>(len: usize, what: &str) -> Result<Vec<T>, String> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| {
        alloc::format!(
            "no {} KiB of kernel heap in one piece for {what} ({} KiB free)",
            (len * size_of::<T>()) >> 10,
            crate::mem::heap_free() >> 10
        )
    })?;
    Ok(v)
}

/// Every heap allocation `init` makes, reserved before any is used, so that a
/// shortfall frees them all and leaves nothing half built.
struct Parts {
    rmap: Vec<AtomicU64>,
    node: Vec<NodeLock>,
    meta: Vec<u64>,
    store: Vec<StoreLock>,
    words: Vec<mm::sync::AtomicU64>,
    shadows: Vec<AtomicU16>,
    swap: Vec<SwapMap<'static>>,
    rings: Vec<Ring<Ticket, RING>>,
    producers: Vec<Producer<'static, Ticket, RING>>,
    queues: Vec<CompressorQueue<'static, Yield, RING>>,
    compressors: Vec<spin::Mutex<Compressor>>,
}

impl Parts {
    fn reserve(frames: usize, setup: &Setup) -> Result<Parts, String> {
        let workers = setup.max_workers;
        Ok(Parts {
            rmap: reserve(frames, "the reverse map")?,
            node: reserve(1, "the node")?,
            meta: reserve(
                ZramStore::<NodeFrames>::meta_words(setup.swap_slots),
                "the store's slots",
            )?,
            store: reserve(1, "the store")?,
            words: reserve(setup.swap_slots, "the swap map")?,
            shadows: reserve(setup.swap_slots, "the multi-gen LRU's shadows")?,
            swap: reserve(1, "the swap map")?,
            rings: reserve(workers, "the kcompressd rings")?,
            producers: reserve(workers, "the rings' producers")?,
            queues: reserve(workers, "the rings' queues")?,
            compressors: reserve(1 + workers, "the compressors")?,
        })
    }
}

/// The only element of `v` (reserved for one), on the heap for good.
fn leak_one<T>(mut v: Vec<T>, value: T) -> &'static mut T {
    v.push(value);
    &mut v.leak()[0]
}

/// Builds the reclaim system around `zone` (taken from `mem::FRAMES`), once per boot;
/// a second call returns the live system. Every allocation is reserved first: when the
/// heap cannot hold one (`run::prepare` checked the sizes, so only a fragmented heap),
/// the zone goes back to `mem::FRAMES` and the error names what did not fit.
pub fn init(zone: Zone, setup: Setup) -> Result<&'static System, String> {
    if let Some(sys) = system() {
        return Ok(sys);
    }
    let first = zone.managed_spans().map(|s| s.start.0).min().unwrap_or(0);
    let end = zone.managed_spans().map(|s| s.end.0).max().unwrap_or(0);
    let mut parts = match Parts::reserve((end - first) as usize, &setup) {
        Ok(parts) => parts,
        Err(e) => {
            *crate::mem::FRAMES.lock() = Some(zone);
            return Err(e);
        }
    };
    // One slot per frame from the zone's first managed frame to its last.
    parts.rmap.extend((first..end).map(|_| AtomicU64::new(0)));
    let rmap = parts.rmap.leak();
    RMAP.call_once(|| Rmap::new(Pfn(first), rmap));
    let node: &'static NodeLock = leak_one(
        parts.node,
        NodeLock::new(Node {
            zone,
            lru: NodeLru::new(LruKind::Classic, clock_ns()),
        }),
    );
    parts
        .meta
        .resize(ZramStore::<NodeFrames>::meta_words(setup.swap_slots), 0);
    let store = ZramStore::new(NodeFrames(node), parts.meta.leak());
    let store: &'static StoreLock = leak_one(parts.store, StoreLock::new(store));
    parts
        .words
        .extend((0..setup.swap_slots).map(|_| mm::sync::AtomicU64::new(0)));
    let words: &'static [mm::sync::AtomicU64] = parts.words.leak();
    let swap = SwapMap::new(words)
        .map_err(|e| alloc::format!("swap map of {} slots: {e:?}", setup.swap_slots))?;
    let swap: &'static SwapMap<'static> = leak_one(parts.swap, swap);
    parts
        .shadows
        .extend((0..setup.swap_slots).map(|_| AtomicU16::new(0)));
    let shadows: &'static [AtomicU16] = parts.shadows.leak();
    parts
        .rings
        .extend((0..setup.max_workers).map(|_| Ring::new()));
    let rings: &'static [Ring<Ticket, RING>] = parts.rings.leak();
    for ring in rings {
        let (producer, consumer) = ring.split().map_err(|e| alloc::format!("ring: {e}"))?;
        parts.producers.push(producer);
        parts.queues.push(CompressorQueue::new(consumer));
    }
    parts
        .compressors
        .extend((0..=setup.max_workers).map(|_| spin::Mutex::new(Compressor::new())));
    let policy = Reclaim::new(node, store, swap, ReclaimConfig::DEFAULT, clock_ns)
        .with_shadows(shadows)
        .map_err(|_| String::from("the shadows are sized unlike the swap map"))?;
    Ok(SYSTEM.call_once(|| System {
        policy,
        kswapd_cpu: AtomicUsize::new(NO_CPU),
        workers: [const { AtomicUsize::new(NO_CPU) }; MAX_CPUS],
        nr_workers: AtomicUsize::new(0),
        queues: parts.queues.leak(),
        producers: spin::Mutex::new(parts.producers),
        compressors: parts.compressors.leak(),
        region_pages: setup.swap_slots,
    }))
}

impl System {
    /// Sets the system up for the next run, in place: the policy's settings, which
    /// cores run kswapd and the workers, the store's limit. Call with no daemon or
    /// workload running. Refused when more workers are asked than rings were built.
    pub fn configure(&self, layout: &Layout<'_>) -> Result<(), String> {
        if layout.workers.len() > self.queues.len() {
            return Err(alloc::format!(
                "{} kcompressd workers asked, {} rings built at the first run",
                layout.workers.len(),
                self.queues.len()
            ));
        }
        self.policy.set_config(layout.config).map_err(|busy| {
            alloc::format!(
                "lru= cannot switch: {} pages are still on the LRU",
                busy.nr_pages
            )
        })?;
        self.policy.store().lock().set_mem_limit(layout.mem_limit);
        self.kswapd_cpu
            .store(layout.kswapd_cpu.unwrap_or(NO_CPU), Ordering::Relaxed);
        for (slot, &cpu) in self.workers.iter().zip(layout.workers) {
            slot.store(cpu, Ordering::Relaxed);
        }
        // Release: the layout before any daemon started after this reads it.
        self.nr_workers
            .store(layout.workers.len(), Ordering::Release);
        Ok(())
    }

    /// kswapd's core in this run.
    pub fn kswapd_cpu(&self) -> Option<usize> {
        Some(self.kswapd_cpu.load(Ordering::Relaxed)).filter(|&c| c != NO_CPU)
    }

    /// The kcompressd workers' cores in this run (empty in sync mode).
    pub fn workers(&self) -> impl Iterator<Item = usize> + '_ {
        let n = self.nr_workers.load(Ordering::Acquire);
        self.workers[..n].iter().map(|c| c.load(Ordering::Relaxed))
    }

    /// The rings this run uses.
    fn run_queues(&self) -> &'static [CompressorQueue<'static, Yield, RING>] {
        &self.queues[..self.nr_workers.load(Ordering::Acquire)]
    }
}

/// Empties pages `0..pages` of the region after a run (see [`zap_pages`]). Call with
/// no daemon or workload running: a page still held by one is not waited for but
/// counted. Returns the pages it could not release (0 when the protocol held).
pub fn release_region(pages: usize) -> u64 {
    zap_pages(0..pages, &mut || false)
}

/// PTEs taken at once by `zap_pages` before one TLB flush.
const ZAP_BATCH: usize = 64;

/// Linux's `zap_page_range()` over pages `pages` of the region (a killed app's, or
/// every page after a run): frees every mapped frame (off the LRU), every stored slot
/// and every page parked in writeback; the PTEs become empty. Safe while reclaim runs:
/// each PTE is taken with one atomic swap (reclaim's unmapping CAS then fails, or has
/// already left a swap entry), and a frame is freed only once no TLB holds it and no
/// reclaim batch holds it isolated (`relax` between looks; false gives up). Only the
/// workload that owns the pages may call it while it runs. Returns the pages it could
/// not release.
pub fn zap_pages(pages: core::ops::Range<usize>, relax: &mut dyn FnMut() -> bool) -> u64 {
    let Some(sys) = system() else { return 0 };
    let policy = &sys.policy;
    let mut stuck = 0;
    let mut taken = [0u64; ZAP_BATCH];
    let mut start = pages.start;
    while start < pages.end {
        let batch = start..pages.end.min(start + ZAP_BATCH);
        let mut mapped = false;
        for (old, index) in taken.iter_mut().zip(batch.clone()) {
            // AcqRel: Acquire pairs with the Release of whoever wrote the PTE last.
            *old = vm::pte(index).map_or(0, |pte| pte.swap(0, Ordering::AcqRel));
            mapped |= matches!(AnonPte::decode(*old), AnonPte::Present { .. });
        }
        if mapped {
            vm::flush_tlb_all();
        }
        for &old in &taken[..batch.len()] {
            let released = match AnonPte::decode(old) {
                AnonPte::None => true,
                AnonPte::Present { pa, .. } => {
                    let pfn = Pfn::containing(pa);
                    if let Some(rmap) = RMAP.get() {
                        rmap.set(pfn, 0);
                    }
                    policy.zap_frame(pfn, relax)
                }
                AnonPte::Swap(bits) => SwapEntry::from_bits(bits)
                    .is_some_and(|entry| policy.zap_swap_entry(entry, relax)),
                AnonPte::Bad(_) => false,
            };
            stuck += u64::from(!released);
        }
        start = batch.end;
    }
    stuck
}

/// The policy's clock: nanoseconds of the generic timer since boot.
pub fn clock_ns() -> u64 {
    u64::try_from(timer::uptime().as_nanos()).unwrap_or(u64::MAX)
}

/// /proc/pressure/memory now: totals and averages since boot, brought up to date.
pub fn psi() -> PsiSnapshot {
    PSI.update(clock_ns())
}

/// One look of the low-memory killer at memory PSI now, over `apps`: the app it
/// asked to be killed and why, if it did.
pub fn poll_killer(killer: &mut Killer, apps: &AppTable<Yield>) -> Option<(AppId, KillReason)> {
    killer.poll(&PSI, apps, clock_ns())
}

/// A low-memory killer with lmkd's defaults, armed now.
pub fn new_killer() -> Result<Killer, String> {
    Killer::new(LmkConfig::default(), &PSI, clock_ns()).map_err(|e| alloc::format!("lmk: {e}"))
}

/// This CPU's memory PSI state.
pub fn this_cpu_psi() -> &'static PsiCpu {
    // MAX_CPUS entries: every logical CPU has one.
    PSI.cpu(percpu::this_cpu_id())
        .unwrap_or_else(|| panic!("cpu{} has no PSI state", percpu::this_cpu_id()))
}

/// The live system (`None` before `init`).
pub fn system() -> Option<&'static System> {
    SYSTEM.get()
}

/// This CPU's vmstat block.
pub fn this_cpu_stat() -> &'static CpuVmStat {
    // MAX_CPUS blocks: every logical CPU has one.
    VMSTAT
        .cpu(percpu::this_cpu_id())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Linux's `wakeup_kswapd()`: latch the request, then the SGI (kswapd re-checks the
/// latch before every sleep, so a wake-up sent while it runs is not lost).
pub fn wake_kswapd() {
    if let Some(cpu) = system().and_then(System::kswapd_cpu) {
        trace::emit(Event::WakeupKswapd);
        KSWAPD_PENDING.store(true, Ordering::Release);
        smp::wake(cpu);
    }
}

/// The policy's page tables: the workload region, found from a frame through the
/// reverse map (the VA mapping it). Remembers whether a page was
/// unmapped since the last shootdown, so `flush_tlb` broadcasts only when needed
/// (aging alone owes none: see `vm::test_and_clear_young`).
#[derive(Default)]
pub struct KernelMmu {
    flush_pending: bool,
}

impl KernelMmu {
    /// The VA mapping `pfn`, from the reverse map: no lock taken per page.
    fn owner_va(pfn: Pfn) -> Option<u64> {
        RMAP.get()?.get(pfn)
    }
}

impl Mmu for KernelMmu {
    fn test_and_clear_young(&mut self, pfn: Pfn) -> bool {
        Self::owner_va(pfn).is_some_and(|va| vm::test_and_clear_young(va, pfn))
    }

    fn try_to_unmap(&mut self, pfn: Pfn, entry: SwapEntry) -> bool {
        let unmapped =
            Self::owner_va(pfn).is_some_and(|va| vm::try_to_unmap(va, pfn, entry.to_bits()));
        self.flush_pending |= unmapped;
        unmapped
    }

    fn flush_tlb(&mut self) {
        if core::mem::take(&mut self.flush_pending) {
            vm::flush_tlb_all();
            this_cpu_stat().count(VmEvent::NrTlbRemoteFlush);
        }
    }

    fn walk_young(&mut self, young: &mut dyn FnMut(Pfn)) {
        vm::walk_young(young);
    }
}

/// Records that `va` maps `pfn` (the reverse map), before the PTE is written and
/// before the frame goes on the LRU.
pub fn set_rmap(pfn: Pfn, va: u64) {
    if let Some(rmap) = RMAP.get() {
        rmap.set(pfn, va);
    }
}

/// kswapd's job on its core: `balance_pgdat` to the high watermark, then sleep in WFI
/// until an allocator's SGI, until `stop`.
pub fn kswapd(_: usize) {
    let Some(sys) = system() else { return };
    let stat = this_cpu_stat();
    let Some(mut compressor) = sys.compressors.first().map(|c| c.lock()) else {
        return;
    };
    let mut producers = core::mem::take(&mut *sys.producers.lock());
    let queues = sys.run_queues();
    let mut reclaimer = Reclaimer {
        mmu: KernelMmu::default(),
        compressor: &mut compressor,
        stat,
        psi: None,
    };
    let mut queues = Queues {
        producers: &mut producers[..queues.len()],
        queues,
        wake: |i: usize| kick_worker(sys, i),
    };
    while !STOP_KSWAPD.load(Ordering::Acquire) {
        trace::emit(Event::KswapdWake);
        trace_sample(sys);
        KSWAPD_BUSY.begin(timer::now_ticks());
        let balanced = sys.policy.balance_pgdat(&mut reclaimer, &mut queues);
        let sleep = sys.policy.kswapd_try_to_sleep(balanced);
        KSWAPD_BUSY.end(timer::now_ticks());
        if sleep {
            trace_sample(sys);
            trace::emit(Event::KswapdSleep);
            smp::wait_until(None, || {
                KSWAPD_PENDING.swap(false, Ordering::Acquire) || STOP_KSWAPD.load(Ordering::Acquire)
            });
        }
    }
    // The rings are drained by their workers; the next run's kswapd takes them again.
    *sys.producers.lock() = producers;
}

/// When tracing is on, emits a `reclaim_sample` event: free frames, tickets queued in
/// the kcompressd rings and `pgsteal_anon`, for the host's plots. kswapd samples at
/// each wake-up and sleep, faulting CPUs every `SAMPLE_PERIOD` (`trace_sample_periodic`),
/// the bench's progress loop at each progress line.
pub fn trace_sample(sys: &System) {
    if !trace::enabled() {
        return;
    }
    let nr_free = sys.policy.node().lock().zone.nr_free_pages();
    let ring_depth: usize = sys.run_queues().iter().map(|q| q.len()).sum();
    trace::emit(Event::Sample {
        nr_free: nr_free as u32,
        ring_depth: ring_depth as u32,
        // Modulo 2^32, as the event documents: the host takes differences.
        pgsteal_anon: VMSTAT.read(VmEvent::PgStealAnon) as u32,
    });
}

/// How often a faulting CPU samples: kswapd's passes can last hundreds of ms in sync
/// mode, and the plots want a point every few ms while memory is under pressure.
const SAMPLE_PERIOD: Duration = Duration::from_millis(10);

/// Each CPU's last `trace_sample_periodic` (timer ticks).
static LAST_SAMPLE: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// `trace_sample`, at most once per `SAMPLE_PERIOD` on the calling CPU (the fault path).
pub fn trace_sample_periodic(sys: &System) {
    if !trace::enabled() {
        return;
    }
    let now = timer::now_ticks();
    let last = &LAST_SAMPLE[percpu::this_cpu_id()];
    // Relaxed: only this CPU uses its slot.
    let since = now.saturating_sub(last.load(Ordering::Relaxed));
    if since >= timer::duration_to_ticks(SAMPLE_PERIOD) {
        last.store(now, Ordering::Relaxed);
        trace_sample(sys);
    }
}

/// kcompressd worker `i`'s job: pop, compress, store, free; when the ring is empty,
/// mark itself asleep (so kswapd's next push sends the SGI) and WFI.
pub fn kcompressd(i: usize) {
    let Some(sys) = system() else { return };
    let (Some(queue), Some(kick)) = (sys.run_queues().get(i), KICKS.get(i)) else {
        return;
    };
    let Some(busy) = KCOMPRESSD_BUSY.get(i) else {
        return;
    };
    let Some(mut compressor) = sys.compressors.get(1 + i).map(|c| c.lock()) else {
        return;
    };
    let stat = this_cpu_stat();
    loop {
        busy.begin(timer::now_ticks());
        let done = sys.policy.kcompressd_run(queue, &mut compressor, stat);
        busy.end(timer::now_ticks());
        if done > 0 {
            KCOMPRESSD_PAGES.fetch_add(done as u64, Ordering::Relaxed);
            continue;
        }
        if STOP_WORKERS.load(Ordering::Acquire) {
            break;
        }
        // Every kick ends the sleep, even one that finds the ring still empty: the
        // next `prepare_to_wait` then marks a new sleep, which the next push wakes.
        if queue.prepare_to_wait() {
            smp::wait_until(None, || {
                kick.swap(false, Ordering::Acquire) || STOP_WORKERS.load(Ordering::Acquire)
            });
        }
        queue.finish_wait();
    }
}

/// One latch per kcompressd worker: set by kswapd's wake-up, cleared by the worker.
static KICKS: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];

/// kswapd's wake-up of worker `i` (the ring said it sleeps): latch, then the SGI.
fn kick_worker(sys: &System, i: usize) {
    if let (Some(cpu), Some(kick)) = (sys.workers().nth(i), KICKS.get(i)) {
        kick.store(true, Ordering::Release);
        smp::wake(cpu);
    }
}

static KSWAPD_BUSY: BusyClock = BusyClock::new();
/// Per kcompressd worker (index in `System::workers`).
static KCOMPRESSD_BUSY: [BusyClock; MAX_CPUS] = [const { BusyClock::new() }; MAX_CPUS];
static KCOMPRESSD_PAGES: AtomicU64 = AtomicU64::new(0);

/// The daemons' busy times and the workers' pages since `start_daemons`, up to now
/// (passes under way included).
pub fn daemon_times() -> DaemonTimes {
    let now = timer::now_ticks();
    DaemonTimes {
        kswapd_busy: KSWAPD_BUSY.read(now),
        kcompressd_busy: KCOMPRESSD_BUSY.iter().map(|c| c.read(now)).sum(),
        kcompressd_pages: KCOMPRESSD_PAGES.load(Ordering::Relaxed),
    }
}

/// Starts kswapd and the workers on their cores (again after `stop_daemons`: the
/// stop requests, wake-up latches and busy times start over).
pub fn start_daemons(sys: &'static System) -> Result<Vec<smp::Ticket>, smp::RunError> {
    for flag in [&STOP_KSWAPD, &STOP_WORKERS, &KSWAPD_PENDING]
        .into_iter()
        .chain(&KICKS)
    {
        flag.store(false, Ordering::Relaxed);
    }
    for clock in core::iter::once(&KSWAPD_BUSY).chain(&KCOMPRESSD_BUSY) {
        clock.reset();
    }
    KCOMPRESSD_PAGES.store(0, Ordering::Relaxed);
    let mut tickets = Vec::new();
    for (i, cpu) in sys.workers().enumerate() {
        tickets.push(smp::run_on(cpu, "kcompressd", kcompressd, i)?);
    }
    if let Some(cpu) = sys.kswapd_cpu() {
        tickets.push(smp::run_on(cpu, "kswapd", kswapd, 0)?);
    }
    Ok(tickets)
}

/// Stops kswapd first (no more pushes), then the workers once their rings are
/// drained; waits for every daemon's job to return.
pub fn stop_daemons(sys: &'static System, tickets: &[smp::Ticket]) {
    STOP_KSWAPD.store(true, Ordering::Release);
    if let Some(cpu) = sys.kswapd_cpu() {
        smp::wake(cpu);
    }
    // The kswapd ticket is last.
    if let Some((kswapd, _)) = tickets.split_last()
        && sys.kswapd_cpu().is_some()
    {
        smp::wait(*kswapd, None);
    }
    STOP_WORKERS.store(true, Ordering::Release);
    for cpu in sys.workers() {
        smp::wake(cpu);
    }
    for t in tickets {
        smp::wait(*t, None);
    }
}
