//! Reclaim in the kernel: the one `mm::reclaim::policy::Reclaim` instance and what it
//! drives (the zone and LRU under the node lock, the compressed store, the swap map,
//! the kcompressd rings), its `Mmu` over the workload region (`vm`), the store's frames
//! from the zone, and the two daemons: kswapd on its core and kcompressd workers on
//! theirs, each sleeping in WFI until an SGI says there is work. Owns those statics,
//! the daemons' loops and their busy times, and (for the benchmark) replacing the
//! system between runs and emptying the region; the policy itself is `mm`'s, the PTEs
//! `vm`'s.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use core::time::Duration;

use kernel::anon_pte::AnonPte;
use mm::addr::Pfn;
use mm::busy::BusyClock;
use mm::frame::Zone;
use mm::lru::Lru;
use mm::reclaim::policy::{
    CompressorQueue, Mmu, Node, Queues, Reclaim, ReclaimConfig, Reclaimer, Ticket,
};
use mm::reclaim::swap::{Fault, SwapEntry, SwapMap, SwapState};
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

/// Everything reclaim shares, built once by `init`.
pub struct System {
    pub policy: Policy,
    /// kswapd's core, if it has one.
    pub kswapd_cpu: Option<usize>,
    /// kcompressd worker `i` runs on `workers[i]` (empty in sync mode).
    pub workers: Vec<usize>,
    queues: &'static [CompressorQueue<'static, Yield, RING>],
    producers: spin::Mutex<Option<Vec<Producer<'static, Ticket, RING>>>>,
}

/// The reverse map (frame -> VA of the PTE mapping it), built once by `init` over the
/// zone's frames and kept across `switch_mode`; read by reclaim with no lock.
static RMAP: spin::Once<Rmap<'static>> = spin::Once::new();

/// The live system (leaked, never freed): `init` sets it, `switch_mode` replaces it
/// between benchmark runs while no daemon or workload runs.
static SYSTEM: AtomicPtr<System> = AtomicPtr::new(core::ptr::null_mut());
/// An allocator saw free pages below `low` with kswapd asleep.
static KSWAPD_PENDING: AtomicBool = AtomicBool::new(false);
static STOP_KSWAPD: AtomicBool = AtomicBool::new(false);
static STOP_WORKERS: AtomicBool = AtomicBool::new(false);
/// Access-flag faults taken (0 where the hardware sets the flag itself).
pub static AF_FAULTS: AtomicU64 = AtomicU64::new(0);

/// How `init` sets reclaim up.
pub struct Setup {
    pub config: ReclaimConfig,
    pub kswapd_cpu: Option<usize>,
    pub workers: Vec<usize>,
    /// Swap entries (and store slots): how many pages can be out at once.
    pub swap_slots: usize,
    /// zram `mem_limit` in bytes, 0 for none.
    pub mem_limit: u64,
}

/// Heap left free after reclaim's metadata, for the workloads' page-version arrays
/// and the rest of the run: what `init` asks for beyond its own tables.
const HEAP_SLACK: usize = 128 << 10;

/// Builds the reclaim system around `zone` (taken from `mem::FRAMES`). Once per boot:
/// a second call returns the live system. Refused, with the sizes in the message, when
/// the heap cannot hold reclaim's metadata (swap map, store slots, reverse map, rings)
/// and one page-version word per swap slot for the workloads (a machine too small).
pub fn init(zone: Zone, setup: Setup) -> Result<&'static System, String> {
    if let Some(sys) = system() {
        return Ok(sys);
    }
    let first = zone.managed_spans().map(|s| s.start.0).min().unwrap_or(0);
    let end = zone.managed_spans().map(|s| s.end.0).max().unwrap_or(0);
    let word = core::mem::size_of::<u64>();
    let needed = ZramStore::<NodeFrames>::meta_words(setup.swap_slots) * word
        + setup.swap_slots * word
        + (end - first) as usize * word
        + setup.workers.len() * core::mem::size_of::<Ring<Ticket, RING>>()
        + setup.swap_slots * core::mem::size_of::<u32>()
        + HEAP_SLACK;
    let free = crate::mem::heap_free();
    if needed > free {
        return Err(alloc::format!(
            "reclaim needs {} KiB of kernel heap for {} swap slots over {} frames, {} KiB are free: give the machine more memory (the heap is 1/16 of it)",
            needed >> 10,
            setup.swap_slots,
            end - first,
            free >> 10
        ));
    }
    RMAP.call_once(|| {
        // One slot per frame from the zone's first managed frame to its last.
        let slots = (first..end).map(|_| AtomicU64::new(0)).collect::<Vec<_>>();
        Rmap::new(Pfn(first), Box::leak(slots.into_boxed_slice()))
    });
    Ok(publish({
        let node: &'static NodeLock = Box::leak(Box::new(NodeLock::new(Node {
            zone,
            lru: Lru::new(),
        })));
        let meta = vec_leak(ZramStore::<NodeFrames>::meta_words(setup.swap_slots), 0u64);
        let mut store = ZramStore::new(NodeFrames(node), meta);
        store.set_mem_limit(setup.mem_limit);
        let store = Box::leak(Box::new(spin::mutex::Mutex::<_, Yield>::new(store)));
        let words: &'static [mm::sync::AtomicU64] = Box::leak(
            (0..setup.swap_slots)
                .map(|_| mm::sync::AtomicU64::new(0))
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        );
        // Fresh zeroed words and fewer than 2^32 of them (the caller sizes from RAM).
        let swap: &'static SwapMap<'static> = Box::leak(Box::new(
            SwapMap::new(words).unwrap_or_else(|e| panic!("swap map: {e:?}")),
        ));
        System::with_rings(
            Reclaim::new(node, store, swap, setup.config),
            setup.kswapd_cpu,
            setup.workers,
        )
    }))
}

impl System {
    /// A system around `policy` with one fresh ring per worker.
    fn with_rings(policy: Policy, kswapd_cpu: Option<usize>, workers: Vec<usize>) -> System {
        let mut producers = Vec::new();
        let mut queues = Vec::new();
        for _ in &workers {
            let ring: &'static Ring<Ticket, RING> = Box::leak(Box::new(Ring::new()));
            // A fresh ring: the first split succeeds.
            let Ok((producer, consumer)) = ring.split() else {
                unreachable!("a new ring splits")
            };
            producers.push(producer);
            queues.push(CompressorQueue::new(consumer));
        }
        System {
            policy,
            kswapd_cpu,
            workers,
            queues: Box::leak(queues.into_boxed_slice()),
            producers: spin::Mutex::new(Some(producers)),
        }
    }
}

fn publish(sys: System) -> &'static System {
    let sys: &'static mut System = Box::leak(Box::new(sys));
    // Release: the system's contents before any core that loads the pointer.
    SYSTEM.store(sys, Ordering::Release);
    sys
}

/// Replaces the live system by one in `config` with `workers`, over the same zone,
/// LRU, store and swap map (the benchmark's next run). Call with no daemon or
/// workload running and the region emptied by `release_region`.
pub fn switch_mode(
    config: ReclaimConfig,
    kswapd_cpu: Option<usize>,
    workers: Vec<usize>,
) -> Option<&'static System> {
    let old = system()?;
    let p = &old.policy;
    Some(publish(System::with_rings(
        Reclaim::new(p.node(), p.store(), p.swap(), config),
        kswapd_cpu,
        workers,
    )))
}

/// Empties pages `0..pages` of the region: frees every mapped frame (off the LRU),
/// every stored slot and every page parked in writeback; PTEs become empty. Call with
/// no daemon or workload running. Returns the pages it could not release (0 when the
/// protocol held).
pub fn release_region(pages: usize) -> u64 {
    let Some(sys) = system() else { return 0 };
    let policy = &sys.policy;
    let mut stuck = 0;
    for index in 0..pages {
        let Some(pte) = vm::pte(index) else { continue };
        let released = match AnonPte::decode(pte.load(Ordering::Acquire)) {
            AnonPte::None => true,
            AnonPte::Present { pa, .. } => {
                pte.store(0, Ordering::Release);
                vm::flush_tlb_page(vm::page_va(index));
                let pfn = Pfn::containing(pa);
                if let Some(rmap) = RMAP.get() {
                    rmap.set(pfn, 0);
                }
                let mut node = policy.node().lock();
                let Node { zone, lru } = &mut *node;
                let off_lru = lru.del(zone, pfn).is_ok();
                off_lru && zone.free_pages(pfn, 0).is_ok()
            }
            AnonPte::Swap(bits) => {
                pte.store(0, Ordering::Release);
                SwapEntry::from_bits(bits).is_some_and(|entry| release_entry(sys, entry))
            }
            AnonPte::Bad(_) => false,
        };
        stuck += u64::from(!released);
    }
    stuck
}

/// Frees a swap entry nobody will fault on again: its slot, or its parked frame.
fn release_entry(sys: &System, entry: SwapEntry) -> bool {
    let policy = &sys.policy;
    let parked = match policy.swap().state(entry) {
        Some(SwapState::Writeback(pfn)) => Some(pfn),
        _ => None,
    };
    match policy.swap().fault(entry) {
        Fault::SwapIn => {
            let freed = policy.store().lock().free(entry.slot()).is_ok();
            freed && policy.swap().swap_in_done(entry).is_ok()
        }
        Fault::Rescued(pfn) if parked == Some(pfn) => {
            policy.node().lock().zone.free_pages(pfn, 0).is_ok()
        }
        _ => false,
    }
}

fn vec_leak<T: Clone>(len: usize, value: T) -> &'static mut [T] {
    Box::leak(alloc::vec![value; len].into_boxed_slice())
}

/// The live system (`None` before `init`).
pub fn system() -> Option<&'static System> {
    let sys = SYSTEM.load(Ordering::Acquire);
    // SAFETY: non-null only once `publish` stored a leaked, never-freed `System`.
    unsafe { sys.as_ref() }
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
    if let Some(cpu) = system().and_then(|s| s.kswapd_cpu) {
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
    let mut compressor = Box::new(Compressor::new());
    let mut producers = sys.producers.lock().take().unwrap_or_default();
    let mut reclaimer = Reclaimer {
        mmu: KernelMmu::default(),
        compressor: &mut compressor,
        stat,
    };
    let workers = &sys.workers;
    let mut queues = Queues {
        producers: &mut producers,
        queues: sys.queues,
        wake: |i: usize| kick_worker(workers, i),
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
    let ring_depth: usize = sys.queues.iter().map(|q| q.len()).sum();
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
    let (Some(queue), Some(kick)) = (sys.queues.get(i), KICKS.get(i)) else {
        return;
    };
    let Some(busy) = KCOMPRESSD_BUSY.get(i) else {
        return;
    };
    let stat = this_cpu_stat();
    let mut compressor = Box::new(Compressor::new());
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
fn kick_worker(workers: &[usize], i: usize) {
    if let (Some(&cpu), Some(kick)) = (workers.get(i), KICKS.get(i)) {
        kick.store(true, Ordering::Release);
        smp::wake(cpu);
    }
}

/// Timer ticks kswapd and the kcompressd workers (all together) spent outside WFI
/// since the daemons started, and pages the workers took from their rings.
#[derive(Clone, Copy, Debug, Default)]
pub struct DaemonTimes {
    pub kswapd_busy: u64,
    pub kcompressd_busy: u64,
    pub kcompressd_pages: u64,
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
    for (i, &cpu) in sys.workers.iter().enumerate() {
        tickets.push(smp::run_on(cpu, "kcompressd", kcompressd, i)?);
    }
    if let Some(cpu) = sys.kswapd_cpu {
        tickets.push(smp::run_on(cpu, "kswapd", kswapd, 0)?);
    }
    Ok(tickets)
}

/// Stops kswapd first (no more pushes), then the workers once their rings are
/// drained; waits for every daemon's job to return.
pub fn stop_daemons(sys: &'static System, tickets: &[smp::Ticket]) {
    STOP_KSWAPD.store(true, Ordering::Release);
    if let Some(cpu) = sys.kswapd_cpu {
        smp::wake(cpu);
    }
    // The kswapd ticket is last.
    if let Some((kswapd, _)) = tickets.split_last()
        && sys.kswapd_cpu.is_some()
    {
        smp::wait(*kswapd, None);
    }
    STOP_WORKERS.store(true, Ordering::Release);
    for &cpu in &sys.workers {
        smp::wake(cpu);
    }
    for t in tickets {
        smp::wait(*t, None);
    }
}
