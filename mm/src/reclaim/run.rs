//! One reclaim run, the same wherever it runs: the kernel's `scenario=reclaim` family,
//! its `scenario=bench` and the host harness all call [`run`] with a [`Machine`] that
//! owns the cores or threads, the page tables and the clock. Owns the order of the
//! steps, the measurement window, the frame count and the run's `RESULT` fields; never
//! touches a core, a thread or a PTE itself.
//!
//! ```text
//! before = counters, clock, race stats, memory PSI
//! start_daemons  -> start_workloads  -> wait (a progress sample every period)
//! window closes as the last workload ends: counters, busy times, store, PSI read together
//! stop_daemons (they drain the ring)  -> finish: every page checked, frames counted
//! ```

use core::fmt;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::policy::SwapRaceStats;
use super::report::{Metric, RunInput, RunStats, Values};
use crate::apps::session::AppFigures;
use crate::latency::LatencyHist;
use crate::psi::PsiSnapshot;
use crate::vmstat::{VmEvent, VmStatSnapshot};
use crate::zram::MmStat;

/// Where a run happens: the kernel (cores, SGIs, WFI) or the host harness (threads).
/// `run` calls these in a fixed order; each returns quickly except `wait_workloads`.
pub trait Machine {
    /// Why a step failed (the kernel and the host say it in a `String`).
    type Error;
    /// Ticks per second of [`Machine::now`].
    fn tick_hz(&self) -> u64;
    /// A clock read, in ticks, monotonic, the same on every core.
    fn now(&self) -> u64;
    /// `/proc/vmstat` as it is now, summed over CPUs.
    fn vmstat(&self) -> VmStatSnapshot;
    /// The daemons' busy times (ticks) and pages compressed, totals so far.
    fn daemon_times(&self) -> DaemonTimes;
    /// zram's `mm_stat` as it is now.
    fn mm_stat(&self) -> MmStat;
    /// Free pages in the zone.
    fn nr_free_pages(&self) -> u64;
    /// How faults on pages in writeback ended, totals so far.
    fn race_stats(&self) -> SwapRaceStats;
    /// Accesses the workloads made so far, all together (progress samples only).
    fn accesses(&self) -> u64;
    /// Memory PSI of the workloads' CPUs now, since the machine started: totals and
    /// averages brought up to date (psi.c's read). The machine also updates it while
    /// it waits for the workloads, at least every 2 s (psi.c's averages worker).
    fn psi(&self) -> PsiSnapshot;
    /// Starts kswapd and the kcompressd workers, asleep until there is work.
    fn start_daemons(&mut self) -> Result<(), Self::Error>;
    /// Starts every workload.
    fn start_workloads(&mut self) -> Result<(), Self::Error>;
    /// Waits until every workload has ended (`true`) or the clock passed `until`
    /// (`false`).
    fn wait_workloads(&mut self, until: Option<u64>) -> bool;
    /// The measurement window just closed (the last workload ended): a machine may
    /// read what it measures over the window itself (the kernel: each CPU's idle time).
    fn window_closed(&mut self) {}
    /// The measurement window opens (before the daemons start): the kernel marks it
    /// for the instruction profiler.
    fn window_opened(&mut self) {}
    /// Stops the daemons once they have drained what was queued.
    fn stop_daemons(&mut self);
    /// Collects the workloads' results and checks every page of the region wherever
    /// it is (mapped, in the store, parked in writeback), counting the frames.
    fn finish(&mut self) -> Result<Finished, Self::Error>;
    /// The latency of the faults that needed a frame, all workloads merged (after
    /// `finish`; kept by the machine: a histogram is too big to pass around on a
    /// kernel stack).
    fn fault_latency(&self) -> &LatencyHist;
    /// The apps' switches, cold starts and kills, all workloads merged (after
    /// `finish`); `None` when the workloads do not switch apps.
    fn app_figures(&self) -> Option<&AppFigures>;
}

/// The daemons' time outside sleep, in ticks, and the pages the workers compressed.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct DaemonTimes {
    /// kswapd's busy time.
    pub kswapd_busy: u64,
    /// All kcompressd workers' busy time, added.
    pub kcompressd_busy: u64,
    /// Pages the workers took from the rings and compressed.
    pub kcompressd_pages: u64,
}

impl DaemonTimes {
    /// What was added since `earlier`.
    pub fn since(&self, earlier: &DaemonTimes) -> DaemonTimes {
        DaemonTimes {
            kswapd_busy: self.kswapd_busy.saturating_sub(earlier.kswapd_busy),
            kcompressd_busy: self.kcompressd_busy.saturating_sub(earlier.kcompressd_busy),
            kcompressd_pages: self
                .kcompressd_pages
                .saturating_sub(earlier.kcompressd_pages),
        }
    }
}

/// What the workloads did, all together.
#[derive(Clone, Debug, Default)]
pub struct Work {
    /// Accesses made (first touches included).
    pub accesses: u64,
    /// Pages read back during the run and found exact / wrong.
    pub verified: u64,
    /// Pages found wrong (or lost) during the run.
    pub corrupt: u64,
    /// Workloads stopped by an allocation that failed after direct reclaim.
    pub oom_stops: u64,
    /// Ticks from the first workload's start to the last one's end.
    pub ticks: u64,
}

/// The final check of every page of the region, after the daemons stopped.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct PageCheck {
    /// Pages found at their last version.
    pub verified: u64,
    /// Pages found wrong or lost.
    pub corrupt: u64,
    /// Pages mapped in a frame.
    pub mapped: u64,
    /// Pages out of their PTE but still in their frame (in writeback).
    pub parked: u64,
}

impl PageCheck {
    /// Adds another part of the region's check.
    pub fn add(&mut self, other: PageCheck) {
        self.verified += other.verified;
        self.corrupt += other.corrupt;
        self.mapped += other.mapped;
        self.parked += other.parked;
    }
}

/// Where every frame of the zone is at the end of a run. Nothing is lost when they
/// add up to the managed pages.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct FrameCount {
    /// Free in the buddy allocator.
    pub free: u64,
    /// Mapped by a workload page.
    pub mapped: u64,
    /// Held by a page in writeback (unmapped, not yet stored).
    pub parked: u64,
    /// The compressed store's (zram's `mem_used_total` in frames).
    pub store: u64,
    /// Page tables of the workload region.
    pub tables: u64,
    /// The zone's managed pages.
    pub managed: u64,
}

impl FrameCount {
    /// Every frame is free, mapped, parked, the store's or a page table.
    pub fn accounted(&self) -> bool {
        self.free + self.mapped + self.parked + self.store + self.tables == self.managed
    }
}

impl fmt::Display for FrameCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "free {} + mapped {} + parked {} + store {} + tables {} {} managed {}",
            self.free,
            self.mapped,
            self.parked,
            self.store,
            self.tables,
            if self.accounted() { "=" } else { "!=" },
            self.managed
        )
    }
}

/// What [`Machine::finish`] hands back.
#[derive(Clone, Debug, Default)]
pub struct Finished {
    /// The workloads' results, added.
    pub work: Work,
    /// Every page of the region, checked.
    pub check: PageCheck,
    /// Where every frame is.
    pub frames: FrameCount,
}

/// A progress sample, taken every period while the workloads run.
#[derive(Copy, Clone, Debug)]
pub struct Progress {
    /// Ticks since the run started.
    pub ticks: u64,
    /// Free pages now.
    pub free: u64,
    /// Counters since the run started.
    pub vmstat: VmStatSnapshot,
    /// Accesses so far.
    pub accesses: u64,
}

/// Progress samples: every `period` ticks, `sample` is called.
pub struct Sampler<'a> {
    /// Ticks between samples.
    pub period: u64,
    /// Called with each sample.
    pub sample: &'a mut dyn FnMut(&Progress),
}

/// One run, measured.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// Ticks per second of every tick count here.
    pub tick_hz: u64,
    /// kcompressd workers that ran (0 in sync mode).
    pub workers: u64,
    /// Counters over the measurement window (start to the last workload's end).
    pub window: VmStatSnapshot,
    /// Counters from the start until the daemons stopped (the drain included).
    pub total: VmStatSnapshot,
    /// The daemons' times over the window, and until they stopped.
    pub times: DaemonTimes,
    /// The daemons' times from the start until they stopped.
    pub times_total: DaemonTimes,
    /// The store at the window's end, and at the very end.
    pub mm_stat_window: MmStat,
    /// The store after the daemons stopped.
    pub mm_stat: MmStat,
    /// Faults on pages in writeback, over the run.
    pub race: SwapRaceStats,
    /// Memory PSI: stall totals over the window, averages at its close.
    pub psi: PsiSnapshot,
    /// Ticks from the start to the window's end, and to the daemons' stop.
    pub window_ticks: u64,
    /// Ticks from the window's end until the daemons had stopped.
    pub drain_ticks: u64,
    /// The workloads' results.
    pub work: Work,
    /// The final check of every page.
    pub check: PageCheck,
    /// Where every frame was at the end.
    pub frames: FrameCount,
    /// The window in the bench's terms, for `report`'s table.
    pub stats: RunStats,
}

/// Runs once on `machine`: starts the daemons and the workloads, waits (sampling
/// progress if asked), closes the measurement window as the last workload ends, stops
/// the daemons, checks every page and counts every frame. An error means the run
/// could not be started or finished; the daemons are stopped either way.
pub fn run<M: Machine>(
    machine: &mut M,
    workers: u64,
    mut sampler: Option<Sampler<'_>>,
) -> Result<RunReport, M::Error> {
    let before = machine.vmstat();
    let race_before = machine.race_stats();
    let psi_before = machine.psi();
    let start = machine.now();
    machine.window_opened();
    machine.start_daemons()?;
    // After the start: a machine may start its busy clocks over there.
    let times_before = machine.daemon_times();
    if let Err(e) = machine.start_workloads() {
        machine.stop_daemons();
        return Err(e);
    }
    match &mut sampler {
        None => {
            machine.wait_workloads(None);
        }
        Some(s) => {
            let mut next = start;
            loop {
                next += s.period.max(1);
                if machine.wait_workloads(Some(next)) {
                    break;
                }
                let now = machine.now();
                (s.sample)(&Progress {
                    ticks: now - start,
                    free: machine.nr_free_pages(),
                    vmstat: machine.vmstat().since(&before),
                    accesses: machine.accesses(),
                });
                // A slow sample must not make the next ones pile up.
                next = next.max(now);
            }
        }
    }
    // The window closes: counters, busy times and the store, read together.
    let window = machine.vmstat().since(&before);
    let times = machine.daemon_times().since(&times_before);
    let mm_stat_window = machine.mm_stat();
    let psi = machine.psi().since(&psi_before);
    let window_end = machine.now();
    machine.window_closed();
    machine.stop_daemons();
    let stopped = machine.now();
    let total = machine.vmstat().since(&before);
    let times_total = machine.daemon_times().since(&times_before);
    let race_after = machine.race_stats();
    let finished = machine.finish()?;
    let race = SwapRaceStats {
        rescued: race_after.rescued - race_before.rescued,
        waited: race_after.waited - race_before.waited,
        writeback_failed: race_after.writeback_failed - race_before.writeback_failed,
    };
    let mm_stat = machine.mm_stat();
    let (work, check, frames) = (finished.work, finished.check, finished.frames);
    let stats = RunStats::measure(&RunInput {
        vmstat: &window,
        mm_stat: &mm_stat_window,
        tick_hz: machine.tick_hz(),
        elapsed: work.ticks,
        accesses: work.accesses,
        faults: machine.fault_latency(),
        apps: machine.app_figures(),
        psi: &psi,
        kswapd_busy: times.kswapd_busy,
        kcompressd_busy: times.kcompressd_busy,
        kcompressd_pages: times.kcompressd_pages,
        workers,
        rescued: race.rescued,
        verified: work.verified + check.verified,
        corrupt: work.corrupt + check.corrupt,
        frames_accounted: frames.accounted(),
    });
    Ok(RunReport {
        tick_hz: machine.tick_hz(),
        workers,
        window,
        total,
        times,
        times_total,
        mm_stat_window,
        mm_stat,
        race,
        psi,
        window_ticks: window_end - start,
        drain_ticks: stopped - window_end,
        work,
        check,
        frames,
        stats,
    })
}

/// The `RESULT` fields every reclaim run reports, by Linux's names (`/proc/vmstat`,
/// zram's `mm_stat`): counters from the start until the daemons stopped, so every page
/// that went out is counted. A scenario adds its own fields around them
/// (`#[serde(flatten)]`); the kernel and the harness pick the JSON writer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunFields {
    /// Pages kswapd scanned.
    pub pgscan_kswapd: u64,
    /// Pages direct reclaim scanned.
    pub pgscan_direct: u64,
    /// Pages kswapd reclaimed.
    pub pgsteal_kswapd: u64,
    /// Pages direct reclaim reclaimed.
    pub pgsteal_direct: u64,
    /// Anonymous pages reclaimed.
    pub pgsteal_anon: u64,
    /// Allocations that entered direct reclaim (Linux: `allocstall_normal`, one zone).
    pub allocstall: u64,
    /// Pages written to the store.
    pub pswpout: u64,
    /// Pages read back from the store.
    pub pswpin: u64,
    /// Swapped pages faulted back.
    pub workingset_refault_anon: u64,
    /// Pages kswapd queued to a kcompressd ring.
    pub kcompressd_queued: u64,
    /// Pages kswapd compressed itself because every ring was full.
    pub kcompressd_ring_full: u64,
    /// Wake-ups kswapd sent to a sleeping worker.
    pub kcompressd_wakeup: u64,
    /// Stored pages of one repeated word (zram `same_pages`).
    pub same_pages: u64,
    /// Pages stored whole (incompressible).
    pub huge_pages: u64,
    /// Bytes stored, uncompressed.
    pub orig_data_size: u64,
    /// Bytes stored, compressed.
    pub compr_data_size: u64,
    /// Bytes of the store's frames.
    pub mem_used_total: u64,
    /// Faults that took a page in writeback back without decompressing it.
    pub rescued: u64,
    /// Faults that waited for a compressor, then swapped in.
    pub waited: u64,
    /// Pages the store refused, left in writeback.
    pub writeback_failed: u64,
    /// Workloads stopped out of memory.
    pub oom_stops: u64,
    /// Accesses the workloads made.
    pub accesses: u64,
    /// Pages read back exact, during the run and in the final check.
    pub verified_pages: u64,
    /// Pages found wrong or lost.
    pub corrupt_pages: u64,
    /// Every frame free, mapped, parked, the store's or a page table at the end.
    pub frames_accounted: bool,
    /// `pgsteal_anon` per second of the window (NaN, written null: no figure).
    pub pgsteal_anon_per_s: f64,
    /// Accesses per second of the window (NaN, written null: no figure).
    pub ops_per_s: f64,
    /// The window's length.
    pub elapsed_ms: u64,
    /// Median app-switch latency, from a switch until the app touched its whole
    /// working set again (null: no app switched).
    pub app_switch_p50_us: Option<u64>,
    /// Its 99th percentile.
    pub app_switch_p99_us: Option<u64>,
    /// Switches to an app the killer had taken (null: no app switched).
    pub cold_starts: Option<u64>,
    /// Their median latency (null: no cold start).
    pub cold_start_p50_us: Option<u64>,
    /// Apps the low-memory killer took (null: no app switched).
    pub lmk_kills: Option<u64>,
    /// Memory stall of at least one workload (PSI `some`), over the window, µs.
    pub psi_some_total_us: u64,
    /// Memory stall of every workload on a CPU (PSI `full`), over the window, µs.
    pub psi_full_total_us: u64,
    /// PSI `some` avg10 at the window's close, percent.
    pub psi_some_avg10: f64,
    /// PSI `some` avg60 at the window's close, percent.
    pub psi_some_avg60: f64,
    /// PSI `some` avg300 at the window's close, percent.
    pub psi_some_avg300: f64,
    /// PSI `full` avg10 at the window's close, percent.
    pub psi_full_avg10: f64,
    /// PSI `full` avg60 at the window's close, percent.
    pub psi_full_avg60: f64,
    /// PSI `full` avg300 at the window's close, percent.
    pub psi_full_avg300: f64,
}

impl RunReport {
    /// Pages read back exact, during the run and in the final check.
    pub fn verified(&self) -> u64 {
        self.work.verified + self.check.verified
    }

    /// Pages found wrong or lost, during the run and in the final check.
    pub fn corrupt(&self) -> u64 {
        self.work.corrupt + self.check.corrupt
    }

    /// No page lost or wrong and every frame accounted for.
    pub fn clean(&self) -> bool {
        self.corrupt() == 0 && self.frames.accounted()
    }

    /// Milliseconds in `ticks`.
    pub fn ms(&self, ticks: u64) -> u64 {
        (u128::from(ticks) * 1000 / u128::from(self.tick_hz.max(1))) as u64
    }

    /// A whole-number metric of the run, `None` when it has no figure.
    fn count(&self, m: Metric) -> Option<u64> {
        let x = self.stats.get(m);
        x.is_finite().then_some(x as u64)
    }

    /// The run's `RESULT` fields.
    pub fn fields(&self) -> RunFields {
        let v = |e: VmEvent| self.total.get(e);
        let m = &self.mm_stat;
        RunFields {
            pgscan_kswapd: v(VmEvent::PgScanKswapd),
            pgscan_direct: v(VmEvent::PgScanDirect),
            pgsteal_kswapd: v(VmEvent::PgStealKswapd),
            pgsteal_direct: v(VmEvent::PgStealDirect),
            pgsteal_anon: v(VmEvent::PgStealAnon),
            allocstall: v(VmEvent::AllocStall),
            pswpout: v(VmEvent::PswpOut),
            pswpin: v(VmEvent::PswpIn),
            workingset_refault_anon: v(VmEvent::WorkingsetRefaultAnon),
            kcompressd_queued: v(VmEvent::KcompressdQueued),
            kcompressd_ring_full: v(VmEvent::KcompressdRingFull),
            kcompressd_wakeup: v(VmEvent::KcompressdWakeup),
            same_pages: m.same_pages,
            huge_pages: m.huge_pages,
            orig_data_size: m.orig_data_size,
            compr_data_size: m.compr_data_size,
            mem_used_total: m.mem_used_total,
            rescued: self.race.rescued,
            waited: self.race.waited,
            writeback_failed: self.race.writeback_failed,
            oom_stops: self.work.oom_stops,
            accesses: self.work.accesses,
            verified_pages: self.verified(),
            corrupt_pages: self.corrupt(),
            frames_accounted: self.frames.accounted(),
            pgsteal_anon_per_s: self.stats.get(Metric::PgstealAnonPerS),
            ops_per_s: self.stats.get(Metric::OpsPerS),
            elapsed_ms: self.ms(self.window_ticks),
            app_switch_p50_us: self.count(Metric::AppSwitchP50Us),
            app_switch_p99_us: self.count(Metric::AppSwitchP99Us),
            cold_starts: self.count(Metric::ColdStarts),
            cold_start_p50_us: self.count(Metric::ColdStartP50Us),
            lmk_kills: self.count(Metric::LmkKills),
            psi_some_total_us: self.psi.some.total_us(),
            psi_full_total_us: self.psi.full.total_us(),
            psi_some_avg10: self.psi.some.avg[0].percent(),
            psi_some_avg60: self.psi.some.avg[1].percent(),
            psi_some_avg300: self.psi.some.avg[2].percent(),
            psi_full_avg10: self.psi.full.avg[0].percent(),
            psi_full_avg60: self.psi.full.avg[1].percent(),
            psi_full_avg300: self.psi.full.avg[2].percent(),
        }
    }
}

/// A bench column's figures (`report::medians`) as a JSON object keyed by metric: a
/// count as a whole number, a figure that could not be computed as `null`.
pub struct ValuesJson<'a>(pub &'a Values);

impl Serialize for ValuesJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (m, &x) in Metric::ALL.into_iter().zip(self.0) {
            if m.integer() && x.is_finite() {
                map.serialize_entry(m.key(), &(x as u64))?;
            } else {
                map.serialize_entry(m.key(), &x)?;
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::psi::{PsiAvg, PsiLine};
    use std::string::String;
    use std::vec::Vec;

    /// A scripted machine: workloads that end after `rounds` waits.
    struct Script {
        clock: u64,
        rounds: u32,
        calls: Vec<&'static str>,
        frames: FrameCount,
        faults: LatencyHist,
        work_ticks: Option<u64>,
    }

    impl Machine for Script {
        type Error = String;
        fn tick_hz(&self) -> u64 {
            1000
        }
        fn now(&self) -> u64 {
            self.clock
        }
        fn vmstat(&self) -> VmStatSnapshot {
            VmStatSnapshot::default()
        }
        fn daemon_times(&self) -> DaemonTimes {
            DaemonTimes {
                kswapd_busy: self.clock / 2,
                ..DaemonTimes::default()
            }
        }
        fn mm_stat(&self) -> MmStat {
            MmStat::default()
        }
        fn nr_free_pages(&self) -> u64 {
            7
        }
        fn race_stats(&self) -> SwapRaceStats {
            SwapRaceStats::default()
        }
        fn accesses(&self) -> u64 {
            self.clock
        }
        fn psi(&self) -> PsiSnapshot {
            // A stall of a tenth of the clock (ticks are ms: 100 µs per tick).
            let line = |total_ns| PsiLine {
                avg: [PsiAvg(18550), PsiAvg(0), PsiAvg(2048)],
                total_ns,
            };
            PsiSnapshot {
                some: line(self.clock * 100_000),
                full: line(self.clock * 50_000),
            }
        }
        fn start_daemons(&mut self) -> Result<(), String> {
            self.calls.push("start_daemons");
            Ok(())
        }
        fn start_workloads(&mut self) -> Result<(), String> {
            self.calls.push("start_workloads");
            Ok(())
        }
        fn wait_workloads(&mut self, until: Option<u64>) -> bool {
            self.calls.push("wait");
            if self.rounds == 0 {
                return true;
            }
            self.rounds -= 1;
            self.clock = until.unwrap_or(self.clock + 10);
            false
        }
        fn stop_daemons(&mut self) {
            self.calls.push("stop_daemons");
            self.clock += 5;
        }
        fn fault_latency(&self) -> &LatencyHist {
            &self.faults
        }
        fn app_figures(&self) -> Option<&AppFigures> {
            None
        }
        fn finish(&mut self) -> Result<Finished, String> {
            self.calls.push("finish");
            Ok(Finished {
                work: Work {
                    accesses: 100,
                    ticks: self.work_ticks.unwrap_or(self.clock),
                    ..Work::default()
                },
                check: PageCheck::default(),
                frames: self.frames,
            })
        }
    }

    fn script(rounds: u32) -> Script {
        Script {
            clock: 0,
            rounds,
            calls: Vec::new(),
            faults: LatencyHist::default(),
            work_ticks: None,
            frames: FrameCount {
                free: 1,
                mapped: 2,
                parked: 3,
                store: 4,
                tables: 5,
                managed: 15,
            },
        }
    }

    #[test]
    fn steps_run_in_order_and_the_window_closes_before_the_drain() {
        let mut m = script(3);
        let mut samples = Vec::new();
        let mut sample = |p: &Progress| samples.push(p.ticks);
        let report = run(
            &mut m,
            1,
            Some(Sampler {
                period: 250,
                sample: &mut sample,
            }),
        )
        .unwrap();
        assert_eq!(samples, [250, 500, 750]);
        assert_eq!(
            m.calls,
            [
                "start_daemons",
                "start_workloads",
                "wait",
                "wait",
                "wait",
                "wait",
                "stop_daemons",
                "finish"
            ]
        );
        assert_eq!(report.window_ticks, 750);
        assert_eq!(report.drain_ticks, 5);
        assert_eq!(report.times.kswapd_busy, 375);
        assert_eq!(report.times_total.kswapd_busy, 377);
        // PSI totals over the window (750 ticks), averages at its close.
        let f = report.fields();
        assert_eq!((f.psi_some_total_us, f.psi_full_total_us), (75_000, 37_500));
        assert_eq!((f.psi_some_avg10, f.psi_some_avg60), (9.05, 0.0));
        assert_eq!(f.psi_full_avg300, 1.0);
        assert!(report.frames.accounted());
        assert!(report.clean());
    }

    #[test]
    fn a_frame_missing_from_the_count_fails_the_run() {
        let mut m = script(0);
        m.frames.managed = 16;
        let report = run(&mut m, 0, None).unwrap();
        assert!(!report.frames.accounted());
        assert!(!report.clean());
        assert_eq!(
            report.frames.to_string(),
            "free 1 + mapped 2 + parked 3 + store 4 + tables 5 != managed 16"
        );
    }

    #[test]
    fn a_workload_that_cannot_start_stops_the_daemons() {
        let mut m = script(0);
        struct NoWorkloads<'a>(&'a mut Script);
        impl Machine for NoWorkloads<'_> {
            type Error = String;
            fn tick_hz(&self) -> u64 {
                self.0.tick_hz()
            }
            fn now(&self) -> u64 {
                self.0.now()
            }
            fn vmstat(&self) -> VmStatSnapshot {
                self.0.vmstat()
            }
            fn daemon_times(&self) -> DaemonTimes {
                self.0.daemon_times()
            }
            fn mm_stat(&self) -> MmStat {
                self.0.mm_stat()
            }
            fn nr_free_pages(&self) -> u64 {
                self.0.nr_free_pages()
            }
            fn race_stats(&self) -> SwapRaceStats {
                self.0.race_stats()
            }
            fn accesses(&self) -> u64 {
                0
            }
            fn psi(&self) -> PsiSnapshot {
                self.0.psi()
            }
            fn start_daemons(&mut self) -> Result<(), String> {
                self.0.start_daemons()
            }
            fn start_workloads(&mut self) -> Result<(), String> {
                Err(String::from("no core"))
            }
            fn wait_workloads(&mut self, until: Option<u64>) -> bool {
                self.0.wait_workloads(until)
            }
            fn stop_daemons(&mut self) {
                self.0.stop_daemons()
            }
            fn finish(&mut self) -> Result<Finished, String> {
                self.0.finish()
            }
            fn fault_latency(&self) -> &LatencyHist {
                self.0.fault_latency()
            }
            fn app_figures(&self) -> Option<&AppFigures> {
                None
            }
        }
        let err = run(&mut NoWorkloads(&mut m), 0, None).unwrap_err();
        assert_eq!(err, "no core");
        assert_eq!(m.calls, ["start_daemons", "stop_daemons"]);
    }

    #[test]
    fn result_fields_use_linux_names_and_no_figure_is_nan_not_zero() {
        let mut m = script(0);
        // The workloads' time was too short to measure: no rate.
        m.work_ticks = Some(0);
        let f = run(&mut m, 0, None).unwrap().fields();
        assert_eq!((f.accesses, f.allocstall, f.corrupt_pages), (100, 0, 0));
        assert!(f.frames_accounted);
        // NaN: every JSON writer here prints it as null.
        assert!(f.pgsteal_anon_per_s.is_nan());
    }
}
