//! The host harness: the reclaim policy run natively, std threads playing the
//! workloads, kswapd and the kcompressd workers, over a real buddy `Zone` on a host
//! buffer, the real `ZramStore`, real rings and a simulated page table (`mmu`). The run
//! itself is `run::run`, the kernel's too: this module is its host `Machine` (threads,
//! park/unpark, `Instant`) and the final check of the simulated PTEs. Host-only (`std`).

mod config;
mod mmu;
mod workload;

use std::string::{String, ToString};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::thread::{self, Scope, ScopedJoinHandle, Thread};
use std::time::Instant;
use std::vec::Vec;
use std::{format, vec};

use serde::Serialize;
use spin::RelaxStrategy;
use spin::mutex::Mutex;

pub use config::{APP_SWITCHES, HarnessConfig, Pattern, RING_CAPACITY, USAGE, named_mix};
use config::{MAX_WORKERS, MAX_WORKLOADS};
use mmu::{HostPage, NodeFrames, PFN_MASK, PRESENT, PageTable, SWAPPED, SimMmu};
use workload::{Workload, WorkloadResult};

use super::policy::{
    CompressorQueue, Queues, Reclaim, ReclaimConfig, ReclaimMode, Reclaimer, RingFull,
    SwapRaceStats, Ticket,
};
use super::report::RunStats;
use super::run::{
    self, DaemonTimes, Finished, FrameCount, Machine, PageCheck, RunFields, RunReport, Work,
};
use super::swap::{SwapEntry, SwapMap, SwapState};
use crate::addr::{PAGE_SIZE, Pfn, PhysRange};
use crate::apps::session::AppFigures;
use crate::apps::table::AppTable;
use crate::busy::BusyClock;
use crate::frame::{Watermarks, Zone, ZoneConfig};
use crate::latency::LatencyHist;
use crate::lmk::{Killer, LmkConfig};
use crate::pagegen::PageGen;
use crate::psi::{PsiGroup, PsiSnapshot};
use crate::reclaim::policy::{Node, NodeLru};
use crate::ring::{Producer, Ring};
use crate::rmap::Rmap;
use crate::vmstat::{VmStat, VmStatSnapshot};
use crate::zram::{Compressor, MmStat, ZramStore};

const CPUS: usize = 1 + MAX_WORKERS + MAX_WORKLOADS;

/// The policy's clock on the host: nanoseconds since the first call.
fn host_clock_ns() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    u64::try_from(START.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Host locks yield instead of spinning: the threads outnumber the host's cores.
pub struct YieldRelax;

impl RelaxStrategy for YieldRelax {
    fn relax() {
        thread::yield_now();
    }
}

type Shared<'a> = Reclaim<'a, NodeFrames<'a>, YieldRelax>;

/// What a run measured: the run (the kernel's report), in its configuration.
#[derive(Clone, Debug)]
pub struct HarnessReport {
    /// The configuration it ran in.
    pub config: HarnessConfig,
    /// The zone's watermarks.
    pub watermarks: Watermarks,
    /// The run, as `run::run` measured it (ticks are nanoseconds).
    pub run: RunReport,
}

/// The harness's `RESULT`: its settings, then the run's fields.
#[derive(Serialize)]
struct HarnessResult<'a> {
    scenario: &'a str,
    mode: &'a str,
    ring_full: &'a str,
    lru: &'a str,
    workers: usize,
    ring: usize,
    #[serde(flatten)]
    run: RunFields,
}

impl HarnessReport {
    /// True when nothing was lost: no corrupt page and every frame accounted for.
    pub fn clean(&self) -> bool {
        self.run.clean()
    }

    /// The run in the kernel bench's terms, for `report`'s table.
    pub fn run_stats(&self) -> RunStats {
        self.run.stats.clone()
    }

    /// The `RESULT {json}` line: the harness's settings, then the run's fields.
    pub fn result_line(&self) -> String {
        let c = &self.config;
        let result = HarnessResult {
            scenario: "reclaim",
            mode: c.mode_name(),
            ring_full: match c.ring_full {
                RingFull::New => "new",
                RingFull::Oldest => "oldest",
            },
            lru: c.lru_name(),
            workers: c.workers,
            ring: c.ring_size,
            run: self.run.fields(),
        };
        match serde_json::to_string(&result) {
            Ok(json) => format!("RESULT {json}"),
            Err(e) => format!("RESULT {{\"error\":\"{e}\"}}"),
        }
    }

    /// The `/proc/vmstat` and zram `mm_stat` blocks, a summary, then `RESULT`.
    pub fn render(&self) -> String {
        let r = &self.run;
        let m = &r.mm_stat;
        format!(
            "--- /proc/vmstat ---\n{}\n--- zram mm_stat (orig compr used limit used_max same compacted huge huge_since) ---\n{} {} {} {} {} {} {} {} {}\n--- summary ---\naccesses {} in {} ms, verified {}, corrupt {}, rescued {}, waited {}, oom stops {}, frames: {}\n{}",
            r.total,
            m.orig_data_size,
            m.compr_data_size,
            m.mem_used_total,
            m.mem_limit,
            m.mem_used_max,
            m.same_pages,
            m.pages_compacted,
            m.huge_pages,
            m.huge_pages_since,
            r.work.accesses,
            r.ms(r.window_ticks),
            r.verified(),
            r.corrupt(),
            r.race.rescued,
            r.race.waited,
            r.work.oom_stops,
            r.frames,
            self.result_line()
        )
    }
}

/// What every thread of a run shares; built by `run`, outliving the threads.
struct Parts<'a> {
    cfg: &'a HarnessConfig,
    reclaim: Shared<'a>,
    table: PageTable<'a>,
    pages_gen: PageGen,
    vmstat: VmStat<CPUS>,
    /// Memory PSI of the workloads' CPUs (the daemons' slots stay idle), on the
    /// policy's clock.
    psi: PsiGroup<CPUS>,
    queues: Vec<CompressorQueue<'a, YieldRelax, RING_CAPACITY>>,
    stop_kswapd: AtomicBool,
    stop_workers: AtomicBool,
    kswapd_clock: BusyClock,
    worker_clocks: Vec<BusyClock>,
    worker_pages: Vec<AtomicU64>,
    start: Instant,
    managed: u64,
    /// The apps of `AppSwitch`, shared by the workloads and the killer.
    apps: AppTable<YieldRelax>,
}

impl Parts<'_> {
    /// Nanoseconds since the run's start: the run's clock.
    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// The host `Machine`: threads in `scope`, parked when idle, unparked to wake.
struct Host<'s, 'a> {
    scope: &'s Scope<'s, 'a>,
    parts: &'a Parts<'a>,
    producers: Option<Vec<Producer<'a, Ticket, RING_CAPACITY>>>,
    workers: Vec<(Thread, ScopedJoinHandle<'s, ()>)>,
    kswapd: Option<(Thread, ScopedJoinHandle<'s, ()>)>,
    workloads: Vec<ScopedJoinHandle<'s, WorkloadResult>>,
    /// The workloads' results, merged as they are joined; `None` until all were.
    done: Option<(WorkloadResult, u64)>,
    /// Their faults' latency, merged by `finish`.
    faults: LatencyHist,
    /// Their apps' figures, merged by `finish`.
    apps: AppFigures,
    /// The low-memory killer (`lmk=on`), polled while the run waits.
    killer: Option<Killer>,
}

impl<'s, 'a> Host<'s, 'a> {
    fn slice(&self, w: usize) -> (usize, usize) {
        let cfg = self.parts.cfg;
        let per = cfg.wss_pages / cfg.workloads;
        let first = w * per;
        let pages = if w + 1 == cfg.workloads {
            cfg.wss_pages - first
        } else {
            per
        };
        (first, pages)
    }

    /// Joins every workload and merges their results (once).
    fn join_workloads(&mut self) -> Result<(), String> {
        if self.done.is_some() {
            return Ok(());
        }
        let mut all = WorkloadResult {
            versions: vec![0u32; self.parts.cfg.wss_pages],
            ..WorkloadResult::default()
        };
        let mut failed = false;
        for (w, handle) in core::mem::take(&mut self.workloads).into_iter().enumerate() {
            match handle.join() {
                Ok(out) => all.add(self.slice(w).0, &out),
                Err(_) => failed = true,
            }
        }
        self.done = Some((all, self.parts.now()));
        if failed {
            return Err("a workload thread panicked".to_string());
        }
        Ok(())
    }
}

impl<'s, 'a> Machine for Host<'s, 'a> {
    type Error = String;

    fn tick_hz(&self) -> u64 {
        1_000_000_000
    }

    fn now(&self) -> u64 {
        self.parts.now()
    }

    fn vmstat(&self) -> VmStatSnapshot {
        self.parts.vmstat.snapshot()
    }

    fn daemon_times(&self) -> DaemonTimes {
        let p = self.parts;
        let now = p.now();
        DaemonTimes {
            kswapd_busy: p.kswapd_clock.read(now),
            kcompressd_busy: p.worker_clocks.iter().map(|c| c.read(now)).sum(),
            kcompressd_pages: p
                .worker_pages
                .iter()
                .map(|n| n.load(Ordering::Relaxed))
                .sum(),
        }
    }

    fn mm_stat(&self) -> MmStat {
        self.parts.reclaim.store().lock().mm_stat()
    }

    fn nr_free_pages(&self) -> u64 {
        self.parts.reclaim.node().lock().zone.nr_free_pages()
    }

    fn race_stats(&self) -> SwapRaceStats {
        self.parts.reclaim.race_stats()
    }

    fn accesses(&self) -> u64 {
        self.done.as_ref().map_or(0, |(w, _)| w.accesses)
    }

    fn start_daemons(&mut self) -> Result<(), String> {
        let p = self.parts;
        for (i, queue) in p.queues.iter().enumerate() {
            let handle = self.scope.spawn(move || {
                let stat = p.vmstat.cpu(1 + i).expect("worker slot");
                let mut compressor = Compressor::new();
                loop {
                    p.worker_clocks[i].begin(p.now());
                    let done = p.reclaim.kcompressd_run(queue, &mut compressor, stat);
                    p.worker_clocks[i].end(p.now());
                    if done > 0 {
                        p.worker_pages[i].fetch_add(done as u64, Ordering::Relaxed);
                        continue;
                    }
                    if p.stop_workers.load(Ordering::Acquire) {
                        break;
                    }
                    if queue.prepare_to_wait() {
                        thread::park();
                    }
                    queue.finish_wait();
                }
            });
            self.workers.push((handle.thread().clone(), handle));
        }
        let mut producers = self.producers.take().ok_or("daemons started twice")?;
        let worker_threads: Vec<Thread> = self.workers.iter().map(|(t, _)| t.clone()).collect();
        let handle = self.scope.spawn(move || {
            let stat = p.vmstat.cpu(0).expect("kswapd slot");
            let mut compressor = Compressor::new();
            let mut reclaimer = Reclaimer {
                mmu: SimMmu(&p.table),
                compressor: &mut compressor,
                stat,
                psi: None,
            };
            let mut queues = Queues {
                producers: &mut producers,
                queues: &p.queues,
                wake: |i: usize| worker_threads[i].unpark(),
            };
            while !p.stop_kswapd.load(Ordering::Acquire) {
                p.kswapd_clock.begin(p.now());
                let balanced = p.reclaim.balance_pgdat(&mut reclaimer, &mut queues);
                let sleep = p.reclaim.kswapd_try_to_sleep(balanced);
                p.kswapd_clock.end(p.now());
                if sleep && !p.stop_kswapd.load(Ordering::Acquire) {
                    thread::park();
                }
            }
        });
        self.kswapd = Some((handle.thread().clone(), handle));
        Ok(())
    }

    fn start_workloads(&mut self) -> Result<(), String> {
        let p = self.parts;
        let cfg = p.cfg;
        let kswapd = self.kswapd.as_ref().ok_or("no kswapd")?.0.clone();
        for w in 0..cfg.workloads {
            let (first, pages) = self.slice(w);
            let ctx = Workload {
                reclaim: &p.reclaim,
                table: &p.table,
                pages_gen: p.pages_gen,
                first,
                pages,
                kswapd: kswapd.clone(),
                pattern: cfg.pattern,
                write_pct: cfg.write_pct,
                seed: cfg.seed ^ (w as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                apps: &p.apps,
                index: w,
            };
            let ops = cfg.ops / cfg.workloads as u64;
            let slot = 1 + MAX_WORKERS + w;
            self.workloads.push(self.scope.spawn(move || {
                ctx.run(
                    ops,
                    p.vmstat.cpu(slot).expect("workload slot"),
                    p.psi.cpu(slot).expect("workload slot"),
                )
            }));
        }
        Ok(())
    }

    fn psi(&self) -> PsiSnapshot {
        self.parts.psi.update(self.parts.reclaim.now_ns())
    }

    fn wait_workloads(&mut self, until: Option<u64>) -> bool {
        loop {
            if self.workloads.iter().all(ScopedJoinHandle::is_finished) {
                break;
            }
            if until.is_some_and(|until| self.parts.now() >= until) {
                return false;
            }
            // The PSI averages' periodic update (psi.c's 2 s worker), and lmkd's look.
            self.psi();
            if let Some(killer) = self.killer.as_mut() {
                let p = self.parts;
                killer.poll(&p.psi, &p.apps, p.reclaim.now_ns());
            }
            thread::sleep(std::time::Duration::from_millis(1));
        }
        // A panicked workload is reported by `finish`.
        let _ = self.join_workloads();
        true
    }

    fn stop_daemons(&mut self) {
        let p = self.parts;
        p.stop_kswapd.store(true, Ordering::Release);
        if let Some((thread, handle)) = self.kswapd.take() {
            thread.unpark();
            let _ = handle.join();
        }
        p.stop_workers.store(true, Ordering::Release);
        for (thread, _) in &self.workers {
            thread.unpark();
        }
        for (_, handle) in self.workers.drain(..) {
            let _ = handle.join();
        }
    }

    fn fault_latency(&self) -> &LatencyHist {
        &self.faults
    }

    fn app_figures(&self) -> Option<&AppFigures> {
        matches!(self.parts.cfg.pattern, Pattern::AppSwitch { .. }).then_some(&self.apps)
    }

    fn finish(&mut self) -> Result<Finished, String> {
        self.join_workloads()?;
        let (all, ended) = self.done.take().ok_or("no workload results")?;
        self.faults = all.faults.clone();
        self.apps = all.apps.clone();
        let p = self.parts;
        let check = final_check(p, &all.versions)?;
        let frames = FrameCount {
            free: self.nr_free_pages(),
            mapped: check.mapped,
            parked: check.parked,
            store: self.mm_stat().mem_used_total / PAGE_SIZE as u64,
            tables: 0,
            managed: p.managed,
        };
        Ok(Finished {
            work: Work {
                accesses: all.accesses,
                verified: all.verified,
                corrupt: all.corrupt,
                oom_stops: u64::from(all.oom),
                ticks: ended,
            },
            check,
            frames,
        })
    }
}

/// Every page of the region, wherever it is, must be at its last version.
fn final_check(p: &Parts<'_>, versions: &[u32]) -> Result<PageCheck, String> {
    let mut check = PageCheck::default();
    let mut buf = HostPage([0; PAGE_SIZE]);
    let swap = p.reclaim.swap();
    for (page, pte) in p.table.ptes.iter().enumerate() {
        let v = pte.load(Ordering::Acquire);
        let ok = if v & PRESENT != 0 {
            check.mapped += 1;
            // SAFETY: all threads are joined; the frame is mapped, so it is a frame of
            // the zone holding this page.
            let frame = unsafe { &*(Pfn(v & PFN_MASK).page_address() as *const [u8; PAGE_SIZE]) };
            p.pages_gen.matches(page as u64, versions[page], frame)
        } else if v & SWAPPED != 0 {
            let entry = SwapEntry::from_bits(v & !SWAPPED).ok_or("bad swap pte")?;
            match swap.state(entry) {
                Some(SwapState::Stored) => {
                    p.reclaim
                        .store()
                        .lock()
                        .load(entry.slot(), &mut buf.0)
                        .is_ok()
                        && p.pages_gen.matches(page as u64, versions[page], &buf.0)
                }
                Some(SwapState::Writeback(pfn)) => {
                    check.parked += 1;
                    // SAFETY: all threads are joined; a parked page's frame is its own.
                    let frame = unsafe { &*(pfn.page_address() as *const [u8; PAGE_SIZE]) };
                    p.pages_gen.matches(page as u64, versions[page], frame)
                }
                _ => false,
            }
        } else {
            continue;
        };
        if ok {
            check.verified += 1;
        } else {
            check.corrupt += 1;
        }
    }
    Ok(check)
}

/// Runs the harness once.
pub fn run(cfg: &HarnessConfig) -> Result<HarnessReport, String> {
    cfg.validate()?;
    // RAM: the zone's frames plus room for its memmap (one descriptor per page).
    let memmap_frames =
        (cfg.ram_frames * core::mem::size_of::<crate::page::PageDesc>()).div_ceil(PAGE_SIZE) + 1;
    let mut ram: Vec<HostPage> = (0..cfg.ram_frames + memmap_frames)
        .map(|_| HostPage([0; PAGE_SIZE]))
        .collect();
    let base = ram.as_mut_ptr() as u64;
    let range = PhysRange {
        base,
        size: (ram.len() * PAGE_SIZE) as u64,
    };
    let zone_cfg = ZoneConfig {
        min_free_kbytes: None,
        watermark_scale_factor: cfg.watermark_scale_factor,
    };
    // SAFETY: `ram` is host memory we own, addressed directly (the host's "direct
    // map"), outliving the zone and untouched except through the zone's frames.
    let zone = unsafe { Zone::new(&[range], zone_cfg) }.map_err(|e| format!("zone: {e:?}"))?;
    let managed = zone.managed_pages();
    let watermarks = zone.watermarks();
    let node = Mutex::<_, YieldRelax>::new(Node {
        zone,
        lru: NodeLru::new(cfg.lru, host_clock_ns()),
    });
    let mut meta = vec![0u64; ZramStore::<NodeFrames>::meta_words(cfg.wss_pages)];
    let store = Mutex::<_, YieldRelax>::new(ZramStore::new(NodeFrames(&node), &mut meta));
    let words: Vec<crate::sync::AtomicU64> = (0..cfg.wss_pages)
        .map(|_| crate::sync::AtomicU64::new(0))
        .collect();
    let swap = SwapMap::new(&words).map_err(|e| format!("swap map: {e:?}"))?;
    let shadows: Vec<AtomicU16> = (0..cfg.wss_pages).map(|_| AtomicU16::new(0)).collect();
    let workers = match cfg.mode {
        ReclaimMode::Async => cfg.workers,
        ReclaimMode::Sync => 0,
    };
    let rings: Vec<Ring<Ticket, RING_CAPACITY>> = (0..workers).map(|_| Ring::new()).collect();
    let mut producers = Vec::new();
    let mut queues = Vec::new();
    for ring in &rings {
        let (producer, consumer) = ring.split().map_err(|e| e.to_string())?;
        producers.push(producer);
        queues.push(CompressorQueue::new(consumer));
    }
    let rmap_slots: Vec<AtomicU64> = (0..ram.len()).map(|_| AtomicU64::new(0)).collect();
    let parts = Parts {
        cfg,
        reclaim: Reclaim::new(
            &node,
            &store,
            &swap,
            ReclaimConfig {
                mode: cfg.mode,
                ring_full: cfg.ring_full,
                ring_size: cfg.ring_size,
                lru: cfg.lru,
                min_ttl_ms: 0,
            },
            host_clock_ns,
        )
        .with_shadows(&shadows)
        .map_err(|_| "shadows sized unlike the swap map")?,
        table: PageTable {
            ptes: (0..cfg.wss_pages).map(|_| AtomicU64::new(0)).collect(),
            rmap: Rmap::new(Pfn::containing(base), &rmap_slots),
        },
        pages_gen: PageGen::new(cfg.seed, cfg.mix).ok_or("bad mix")?,
        vmstat: VmStat::new(),
        psi: PsiGroup::new(host_clock_ns()),
        queues,
        stop_kswapd: AtomicBool::new(false),
        stop_workers: AtomicBool::new(false),
        kswapd_clock: BusyClock::new(),
        worker_clocks: (0..workers).map(|_| BusyClock::new()).collect(),
        worker_pages: (0..workers).map(|_| AtomicU64::new(0)).collect(),
        start: Instant::now(),
        managed,
        apps: AppTable::new(),
    };
    if let Some(apps) = cfg.pattern.apps() {
        parts
            .apps
            .reset(cfg.workloads, apps)
            .map_err(|e| format!("{} apps in all: more than the table holds", e.apps))?;
    }
    let report = thread::scope(|scope| {
        let mut host = Host {
            scope,
            parts: &parts,
            producers: Some(producers),
            workers: Vec::new(),
            kswapd: None,
            workloads: Vec::new(),
            done: None,
            faults: LatencyHist::default(),
            apps: AppFigures::default(),
            killer: None,
        };
        if cfg.lmk {
            host.killer = Some(
                Killer::new(LmkConfig::default(), &parts.psi, parts.reclaim.now_ns())
                    .map_err(|e| format!("lmk: {e}"))?,
            );
        }
        let report = run::run(&mut host, workers as u64, None);
        // On an error the threads still running are stopped before the scope joins them.
        host.stop_daemons();
        report
    })?;
    Ok(HarnessReport {
        config: cfg.clone(),
        watermarks,
        run: report,
    })
}
