//! Reclaim in the kernel: the one `mm::reclaim::policy::Reclaim` instance and what it
//! drives (the zone and LRU under the node lock, the compressed store, the swap map,
//! the kcompressd rings), its `Mmu` over the workload region (`vm`), the store's frames
//! from the zone, and the two daemons: kswapd on its core and kcompressd workers on
//! theirs, each sleeping in WFI until an SGI says there is work. Owns those statics
//! and the daemons' loops; the policy itself is `mm`'s, the PTEs `vm`'s.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use mm::addr::Pfn;
use mm::frame::Zone;
use mm::lru::Lru;
use mm::reclaim::policy::{
    CompressorQueue, Mmu, Node, Queues, Reclaim, ReclaimConfig, Reclaimer, Ticket,
};
use mm::reclaim::swap::{SwapEntry, SwapMap};
use mm::ring::{Producer, Ring};
use mm::vmstat::{CpuVmStat, VmStat};
use mm::zram::{Compressor, FrameSource, ZramStore};
use spin::relax::Spin;

use crate::arch::aarch64::{MAX_CPUS, smp};
use crate::{percpu, vm};

/// kcompressd ring capacity: the patch's kfifo of 256 folios.
pub const RING: usize = 256;

pub type NodeLock = spin::mutex::Mutex<Node, Spin>;
pub type Policy = Reclaim<'static, NodeFrames, Spin>;

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
    queues: &'static [CompressorQueue<'static, Spin, RING>],
    producers: spin::Mutex<Option<Vec<Producer<'static, Ticket, RING>>>>,
}

static SYSTEM: spin::Once<System> = spin::Once::new();
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

/// Builds the reclaim system around `zone` (taken from `mem::FRAMES`). Once per boot.
pub fn init(zone: Zone, setup: Setup) -> &'static System {
    SYSTEM.call_once(|| {
        let node: &'static NodeLock = Box::leak(Box::new(NodeLock::new(Node {
            zone,
            lru: Lru::new(),
        })));
        let meta = vec_leak(ZramStore::<NodeFrames>::meta_words(setup.swap_slots), 0u64);
        let mut store = ZramStore::new(NodeFrames(node), meta);
        store.set_mem_limit(setup.mem_limit);
        let store = Box::leak(Box::new(spin::mutex::Mutex::<_, Spin>::new(store)));
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
        let mut producers = Vec::new();
        let mut queues = Vec::new();
        for _ in &setup.workers {
            let ring: &'static Ring<Ticket, RING> = Box::leak(Box::new(Ring::new()));
            // A fresh ring: the first split succeeds.
            let Ok((producer, consumer)) = ring.split() else {
                unreachable!("a new ring splits")
            };
            producers.push(producer);
            queues.push(CompressorQueue::new(consumer));
        }
        System {
            policy: Reclaim::new(node, store, swap, setup.config),
            kswapd_cpu: setup.kswapd_cpu,
            workers: setup.workers,
            queues: Box::leak(queues.into_boxed_slice()),
            producers: spin::Mutex::new(Some(producers)),
        }
    })
}

fn vec_leak<T: Clone>(len: usize, value: T) -> &'static mut [T] {
    Box::leak(alloc::vec![value; len].into_boxed_slice())
}

/// The system `init` built (`None` before).
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
    if let Some(cpu) = SYSTEM.get().and_then(|s| s.kswapd_cpu) {
        KSWAPD_PENDING.store(true, Ordering::Release);
        smp::wake(cpu);
    }
}

/// The policy's page tables: the workload region, found from a frame through the
/// owner slot of its page descriptor (the VA mapping it).
pub struct KernelMmu;

impl KernelMmu {
    fn owner_va(pfn: Pfn) -> Option<u64> {
        let sys = SYSTEM.get()?;
        let va = sys.policy.node().lock().zone.page(pfn)?.owner();
        (va != 0).then_some(va)
    }
}

impl Mmu for KernelMmu {
    fn test_and_clear_young(&mut self, pfn: Pfn) -> bool {
        Self::owner_va(pfn).is_some_and(|va| vm::test_and_clear_young(va, pfn))
    }

    fn try_to_unmap(&mut self, pfn: Pfn, entry: SwapEntry) -> bool {
        Self::owner_va(pfn).is_some_and(|va| vm::try_to_unmap(va, pfn, entry.to_bits()))
    }
}

/// Records that `va` maps `pfn` (the reverse map), before the PTE is written.
pub fn set_rmap(pfn: Pfn, va: u64) {
    if let Some(sys) = SYSTEM.get()
        && let Some(page) = sys.policy.node().lock().zone.page_mut(pfn)
    {
        page.set_owner(va);
    }
}

/// kswapd's job on its core: `balance_pgdat` to the high watermark, then sleep in WFI
/// until an allocator's SGI, until `stop`.
pub fn kswapd(_: usize) {
    let Some(sys) = SYSTEM.get() else { return };
    let stat = this_cpu_stat();
    let mut compressor = Box::new(Compressor::new());
    let mut producers = sys.producers.lock().take().unwrap_or_default();
    let mut reclaimer = Reclaimer {
        mmu: KernelMmu,
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
        let balanced = sys.policy.balance_pgdat(&mut reclaimer, &mut queues);
        if sys.policy.kswapd_try_to_sleep(balanced) {
            smp::wait_until(None, || {
                KSWAPD_PENDING.swap(false, Ordering::Acquire) || STOP_KSWAPD.load(Ordering::Acquire)
            });
        }
    }
}

/// kcompressd worker `i`'s job: pop, compress, store, free; when the ring is empty,
/// mark itself asleep (so kswapd's next push sends the SGI) and WFI.
pub fn kcompressd(i: usize) {
    let Some(sys) = SYSTEM.get() else { return };
    let (Some(queue), Some(kick)) = (sys.queues.get(i), KICKS.get(i)) else {
        return;
    };
    let stat = this_cpu_stat();
    let mut compressor = Box::new(Compressor::new());
    loop {
        if sys.policy.kcompressd_run(queue, &mut compressor, stat) > 0 {
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

/// Starts kswapd and the workers on their cores.
pub fn start_daemons(sys: &'static System) -> Result<Vec<smp::Ticket>, smp::RunError> {
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
