//! `scenario=bench`: the headline benchmark. The same app-switching workload runs with
//! kswapd compressing by itself (sync), then with one kcompressd worker (async), then,
//! when `kcompressd_cpu=` lists several, with all of them (`async_<N>w`); `bench_runs`
//! times each, in one boot; between runs the region, store and counters start over.
//! Prints a progress line every `PROGRESS_EVERY`, a side-by-side table of medians, the per-page
//! costs and pipeline bounds, and `RESULT {"scenario":"bench","sync":{..},"async":{..}}`.
//! Owns only the orchestration; the measurements, medians, table and pipeline bound
//! are `mm::reclaim::report`'s (the host harness prints the same), reclaim is
//! `reclaim`'s, the workload `workload`'s.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use kernel::sizing::{Anon, BenchShortfall, BenchZone};
use mm::addr::PAGE_SIZE;
use mm::pagegen::{POOL_PAGES, PageGen, PagePool};
use mm::reclaim::policy::{LruKind, ReclaimMode};
use mm::reclaim::report::{self, Figure, Metric, RunStats, Values};
use mm::reclaim::run::{Progress, RunReport, Sampler, ValuesJson};
use mm::vmstat::VmEvent;
use platform::cmdline;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::{BootInfo, Cpus, List, settings};
use crate::arch::aarch64::{smp, timer};
use crate::reclaim::{self, Layout};
use crate::run::{self, KernelRun};
use crate::workload::{self, Pattern, Spec};
use crate::{println, vm};

/// Anonymous memory, in halves of the RAM: 2 x RAM.
const ANON_HALVES: usize = 4;
/// Apps sharing it: each working set is half the RAM, so one fits, two do not.
const APPS: usize = 8;
/// App switches after the launch of every app (the default amount of work).
const SWITCHES: u64 = 12;
const WRITE_PCT: u64 = 25;
/// How often a run prints its `PROGRESS` line (the plot's resolution).
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Which core does what: the same workload cores in both modes.
struct Cores {
    kswapd: usize,
    workers: Vec<usize>,
    workloads: Vec<usize>,
}

fn assign_cores(cmd: &cmdline::CmdLine) -> Result<Cores, String> {
    let online: Vec<usize> = smp::online_cpus().collect();
    let usable = |cpu: usize| cpu != 0 && online.contains(&cpu);
    let kswapd = cmd.kswapd_cpu as usize;
    if !usable(kswapd) {
        return Err(format!(
            "kswapd_cpu={kswapd} is not an online CPU other than 0"
        ));
    }
    let listed: Vec<usize> = cmd.kcompressd_cpu.iter().map(|&c| c as usize).collect();
    if cmd.given(cmdline::Key::KcompressdCpu)
        && let Some(&bad) = listed.iter().find(|&&c| !usable(c) || c == kswapd)
    {
        return Err(format!(
            "kcompressd_cpu={bad} is not an online CPU free of CPU 0 and kswapd (kswapd_cpu={kswapd})"
        ));
    }
    let workers: Vec<usize> = listed
        .iter()
        .copied()
        .filter(|&c| usable(c) && c != kswapd)
        .collect();
    if workers.is_empty() {
        return Err(String::from(
            "no kcompressd_cpu is online and free of kswapd and CPU 0: nothing to compare (use --smp 3 or more)",
        ));
    }
    let workloads = match &cmd.workload_cpu {
        Some(asked) => {
            let asked: Vec<usize> = asked.iter().map(|&c| c as usize).collect();
            if let Some(&bad) = asked
                .iter()
                .find(|&&c| !usable(c) || c == kswapd || listed.contains(&c))
            {
                return Err(format!(
                    "workload_cpu={bad} is not an online CPU free of CPU 0 (which reports), kswapd and kcompressd"
                ));
            }
            asked
        }
        // A core of its own if there is one, so CPU 0 can report.
        None => alloc::vec![
            online
                .iter()
                .copied()
                .find(|&c| usable(c) && c != kswapd && !listed.contains(&c))
                .unwrap_or(0)
        ],
    };
    Ok(Cores {
        kswapd,
        workers,
        workloads,
    })
}

/// The worker counts to run against sync: `bench_workers=`, or one worker and, when
/// several are listed, all of them.
fn worker_counts(cmd: &cmdline::CmdLine, listed: usize) -> Result<Vec<usize>, String> {
    match &cmd.bench_workers {
        Some(counts) => counts
            .iter()
            .map(|&n| {
                let n = n as usize;
                if n <= listed {
                    Ok(n)
                } else {
                    Err(format!(
                        "bench_workers={n}: only {listed} kcompressd CPU(s) usable (kcompressd_cpu=)"
                    ))
                }
            })
            .collect(),
        None if listed > 1 => Ok(alloc::vec![1, listed]),
        None => Ok(alloc::vec![1]),
    }
}

/// One column of the table: who compresses, on which cores, with which LRU (`None`:
/// `lru=`'s).
struct Variant {
    label: String,
    mode: ReclaimMode,
    workers: Vec<usize>,
    lru: Option<LruKind>,
}

/// The columns, run in this order in every round. `bench`: sync, then one async
/// variant per worker count (one worker: the plain design). `apps`: sync and async
/// (one worker) for each LRU, classic first; only `lru=`'s when it is given.
fn variants(
    cmd: &cmdline::CmdLine,
    kind: Kind,
    counts: &[usize],
    workers: &[usize],
) -> Vec<Variant> {
    let variant = |label: String, mode, workers: &[usize], lru| Variant {
        label,
        mode,
        workers: workers.to_vec(),
        lru,
    };
    match kind {
        Kind::Kcompressd => {
            let mut out = alloc::vec![variant(String::from("sync"), ReclaimMode::Sync, &[], None)];
            for &count in counts {
                let label = match count {
                    1 => String::from("async"),
                    n => format!("async_{n}w"),
                };
                out.push(variant(label, ReclaimMode::Async, &workers[..count], None));
            }
            out
        }
        Kind::Apps => {
            let lrus: &[LruKind] = if cmd.given(cmdline::Key::Lru) {
                match cmd.lru {
                    cmdline::LruKind::Classic => &[LruKind::Classic],
                    cmdline::LruKind::Mglru => &[LruKind::Mglru],
                }
            } else {
                &[LruKind::Classic, LruKind::Mglru]
            };
            let mut out = Vec::new();
            for &lru in lrus {
                let name = match lru {
                    LruKind::Classic => "classic",
                    LruKind::Mglru => "mglru",
                };
                out.push(variant(
                    format!("{name}_sync"),
                    ReclaimMode::Sync,
                    &[],
                    Some(lru),
                ));
                out.push(variant(
                    format!("{name}_async"),
                    ReclaimMode::Async,
                    &workers[..1],
                    Some(lru),
                ));
            }
            out
        }
    }
}

/// The table's ratio columns: each variant over the first (`bench`); for `apps`,
/// async over sync within each LRU, then mglru over classic within each mode.
fn ratios(variants: &[Variant]) -> Vec<(usize, usize)> {
    if variants.iter().all(|v| v.lru.is_none()) || variants.len() != 4 {
        return (1..variants.len()).map(|i| (i, 0)).collect();
    }
    report::APPS_RATIOS.to_vec()
}

/// What stays the same for every run.
struct Bench {
    kind: Kind,
    /// The low-memory killer runs (`scenario=apps`, unless `lmk=off`).
    lmk: bool,
    cores: Cores,
    /// One workload per core in `cores.workloads`, each on its own slice.
    specs: Vec<Spec>,
}

/// Which comparison a bench makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `scenario=bench`: kswapd compressing itself against kcompressd workers.
    Kcompressd,
    /// `scenario=apps`: Android's measures (app-switch latency, kills, cold starts)
    /// with each switch bringing the app's working set back and the low-memory killer
    /// on (unless `lmk=off`), in each reclaim mode.
    Apps,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Kcompressd => "bench",
            Kind::Apps => "apps",
        }
    }
}

pub fn run(info: &BootInfo<'_>, kind: Kind) -> u32 {
    run_polling(info.cmdline, None, kind)
}

/// The benchmark in `cmd`'s settings; with `poll` (the console's `run bench`), CPU 0
/// calls it every `smp::POLL_PERIOD` while it waits and runs no workload itself.
pub fn run_polling(cmd: &cmdline::CmdLine, poll: Option<&mut dyn FnMut()>, kind: Kind) -> u32 {
    let outcome = bench(cmd, poll, kind);
    // The bench's RAM limit (as by mem=) ends with the bench: a later run has the zone.
    if let Some(sys) = reclaim::system() {
        let _ = sys
            .policy
            .node()
            .lock()
            .zone
            .lift_limit(settings::zone_config(cmd));
    }
    match outcome {
        Ok(status) => status,
        Err(why) => {
            // Every ending prints a RESULT line, a refused or failed bench too.
            println!("{}: {why}", kind.name());
            super::print_error(kind.name(), &why);
            1
        }
    }
}

/// The bench; an error ends it before its table (the caller prints it and RESULT).
fn bench(
    cmd: &cmdline::CmdLine,
    mut poll: Option<&mut dyn FnMut()>,
    kind: Kind,
) -> Result<u32, String> {
    if kind == Kind::Kcompressd && cmd.lmk {
        return Err(String::from(super::LMK_WITHOUT_APPS));
    }
    let cores = assign_cores(cmd)?;
    let counts = worker_counts(cmd, cores.workers.len())?;
    if poll.is_some() && cores.workloads.contains(&0) {
        return Err(String::from(
            "no core left for the workload but CPU 0, which runs the console",
        ));
    }
    let ram_pages =
        cmd.bench_ram.unwrap_or(cmdline::DEFAULT_BENCH_RAM_MIB) * (1 << 20) / PAGE_SIZE as u64;
    let wss = match cmd.bench_anon {
        Some(mib) => (mib * (1 << 20) / PAGE_SIZE as u64) as usize,
        None => ram_pages as usize * ANON_HALVES / 2,
    };
    let config = |mode| settings::reclaim_config(cmd, mode);
    let zone_cfg = settings::zone_config(cmd);
    let seed = cmd.seed.unwrap_or(cmdline::DEFAULT_SEED);
    let sys = run::prepare(
        Anon::Pages(wss as u64),
        page_pool_heap(seed),
        &Layout {
            config: config(ReclaimMode::Sync),
            kswapd_cpu: Some(cores.kswapd),
            workers: &[],
            mem_limit: 0,
        },
        zone_cfg,
    )?;
    let tables = vm::tables();
    let mut node = sys.policy.node().lock();
    let zone = &mut node.zone;
    // Like Linux's `mem=`: every frame above the asked RAM leaves the zone until the
    // bench ends (`run_polling` gives it back), and the watermarks follow the smaller
    // zone, the same for every mode. The store takes its frames from what is left, as
    // zram's pool does from the same RAM.
    let held = zone
        .limit_free_to(ram_pages, zone_cfg)
        .map_err(|e| format!("limiting the zone to bench_ram: {e}"))?;
    if zone.nr_free_pages() < ram_pages {
        return Err(format!(
            "bench_ram={} MiB is more than the {} MiB free",
            mib(ram_pages),
            mib(zone.nr_free_pages())
        ));
    }
    let managed = zone.managed_pages();
    let wmark = zone.watermarks();
    let other = managed.saturating_sub(zone.nr_free_pages());
    drop(node);
    let mix = settings::page_mix(cmd);
    let bench_zone = BenchZone {
        ram_pages,
        other,
        anon: match cmd.bench_anon {
            Some(_) => Anon::Pages(wss as u64),
            None => Anon::RamTimes(ANON_HALVES as u64 / 2),
        },
        mix: [
            mix.zero,
            mix.same_filled,
            mix.text,
            mix.structured,
            mix.random,
        ],
        cfg: zone_cfg,
    };
    if let Some(shortfall) = bench_zone.refusal() {
        return Err(bench_ram_refusal(&bench_zone, shortfall, wss));
    }
    let Some(generator) = PageGen::new(seed, mix) else {
        return Err(String::from("bad page mix"));
    };
    // The workload's own CPU must stay small next to reclaim's (as an app's does), so
    // its pages are copies of pool pages (stamped), not generated per access.
    let generator = generator.with_pool(page_pool(seed)?);
    // Each workload core gets an equal slice with the same app pattern, so the
    // foreground apps together stay an eighth of the anonymous memory and the total
    // work stays the same whatever the number of workloads.
    let n = cores.workloads.len();
    let slice = wss / n;
    let set = (slice / APPS) as u64;
    let specs: Vec<Spec> = (0..n)
        .map(|w| Spec {
            first: w * slice,
            pages: slice,
            pattern: match kind {
                Kind::Kcompressd => Pattern::Apps {
                    apps: APPS,
                    switch_every: set,
                },
                Kind::Apps => Pattern::AppSwitch {
                    apps: APPS,
                    switch_every: set,
                },
            },
            ops: cmd.ops.map_or(SWITCHES * set, |ops| ops / n as u64),
            deadline: None,
            write_pct: WRITE_PCT,
            // The first workload keeps the seed (one workload runs as it always did);
            // the others switch apps at other times.
            seed: seed ^ (w as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            index: w,
            generator,
            pace: cmd.pace.map(|p| (p / n as u64).max(1)),
        })
        .collect();
    // At least 1: the command line refuses `bench_runs=0`.
    let runs = cmd.bench_runs.unwrap_or(cmdline::DEFAULT_BENCH_RUNS);
    let budget = cmd
        .bench_budget_s
        .map(|s| timer::duration_to_ticks(Duration::from_secs(s)));
    println!(
        "bench: ram {} MiB ({} frames free, {} taken out of the zone as by mem=, {} managed, watermarks min {} low {} high {}), anonymous {} MiB = {} pages: {} workload(s), each {} apps of {} pages, {} tables",
        mib(ram_pages),
        ram_pages,
        held,
        managed,
        wmark.min,
        wmark.low,
        wmark.high,
        (wss * PAGE_SIZE) >> 20,
        wss,
        n,
        APPS,
        set,
        tables
    );
    println!(
        "bench: workload(s) on {}: launch every app (first touch), then {} accesses each, {} % writes, an app switch every {} accesses, {}; seed {}, page mix {} from a pool of {} pages",
        Cpus(&cores.workloads),
        specs[0].ops,
        WRITE_PCT,
        set,
        match specs[0].pace {
            Some(pace) => format!(
                "paced at {pace} accesses/s each in bursts of 64 on a fixed grid (WFI between, late bursts drop slots)"
            ),
            None => String::from("CPU-bound"),
        },
        seed,
        settings::MixWords(mix),
        POOL_PAGES
    );
    let variants = variants(cmd, kind, &counts, &cores.workers);
    let labels: Vec<&str> = variants.iter().map(|v| v.label.as_str()).collect();
    println!(
        "bench: kswapd on cpu{}, kcompressd (async) on {}, worker counts {}, ring {}, ring_full={}, lru={}, columns {}, watermark_scale_factor {}, {} run(s) of each mode{}",
        cores.kswapd,
        Cpus(&cores.workers),
        List(&counts),
        config(ReclaimMode::Async).ring_size,
        cmd.ring_full.name(),
        match kind {
            Kind::Apps if variants.len() == 4 => "classic and mglru",
            _ => cmd.lru.name(),
        },
        labels.join(" "),
        zone_cfg.watermark_scale_factor,
        runs,
        match cmd.bench_budget_s {
            Some(s) => format!(", within a budget of {s} s"),
            None => String::new(),
        }
    );
    let lmk = kind == Kind::Apps && (cmd.lmk || !cmd.given(cmdline::Key::Lmk));
    if kind == Kind::Apps {
        println!(
            "apps: each switch touches the new foreground app's {set} pages first (reads them back, or rewrites them after a kill: a cold start), timed as the app-switch latency; low-memory killer {}",
            if lmk {
                "on (lmkd's PSI mode: some 70 ms or full 700 ms in 1 s; lmk=off to run without)"
            } else {
                "off"
            }
        );
    }
    let bench = Bench {
        kind,
        lmk,
        cores,
        specs,
    };
    let mut results: Vec<Vec<RunStats>> = variants.iter().map(|_| Vec::new()).collect();
    let mut failure = None;
    let bench_start = timer::now_ticks();
    let mut longest_round = 0;
    let mut done = 0;
    for run in 1..=runs {
        let round_start = timer::now_ticks();
        if let Some(budget) = budget
            && round_start - bench_start + longest_round > budget
        {
            println!(
                "bench: budget: {} s spent, a round takes up to {} s: stopping after {done} of {runs} rounds",
                timer::ticks_to_duration(round_start - bench_start).as_secs(),
                timer::ticks_to_duration(longest_round).as_secs()
            );
            break;
        }
        for (variant, runs_of) in variants.iter().zip(&mut results) {
            let label = &variant.label;
            let mut config = config(variant.mode);
            config.lru = variant.lru.unwrap_or(config.lru);
            sys.configure(&Layout {
                config,
                kswapd_cpu: Some(bench.cores.kswapd),
                workers: &variant.workers,
                mem_limit: 0,
            })?;
            let m = run_mode(&bench, sys, label, run, poll.as_deref_mut())?;
            let stuck = reclaim::release_region(sys.region_pages);
            if stuck != 0 {
                println!("bench: {stuck} pages could not be released after the run");
            }
            if failure.is_none() {
                failure = if m.get(Metric::CorruptPages) != 0.0 {
                    Some(format!(
                        "{label} run {run}: {} corrupt pages",
                        m.get(Metric::CorruptPages)
                    ))
                } else if !m.clean() {
                    Some(format!("{label} run {run}: frames not accounted for"))
                } else if stuck != 0 {
                    Some(format!(
                        "{label} run {run}: {stuck} pages could not be released"
                    ))
                } else {
                    None
                };
            }
            runs_of.push(m);
        }
        longest_round = longest_round.max(timer::now_ticks() - round_start);
        done = run;
    }
    let runs = done;
    let columns: Vec<(&str, Values)> = variants
        .iter()
        .zip(&results)
        .map(|(v, r)| (v.label.as_str(), report::medians(r)))
        .collect();
    print_table(&columns, &ratios(&variants), runs);
    if kind == Kind::Kcompressd {
        let asyncs: Vec<report::Variant<'_>> = variants
            .iter()
            .zip(&results)
            .skip(1)
            .map(|(v, r)| (v.label.as_str(), r.as_slice(), v.workers.len()))
            .collect();
        print_pipeline(&results[0], &asyncs);
    } else {
        // Each LRU's pair on its own: t_scan is kswapd's cost per page without the
        // compression, the part an LRU can change.
        for (pair, runs) in variants.chunks(2).zip(results.chunks(2)) {
            if let ([sync, asyn], [sync_runs, async_runs]) = (pair, runs) {
                println!("apps: {} and {}:", sync.label, asyn.label);
                print_pipeline(sync_runs, &[(asyn.label.as_str(), async_runs, 1)]);
            }
        }
    }
    let status = u32::from(failure.is_some());
    super::print_result(&BenchResult {
        scenario: kind.name(),
        runs,
        columns: &columns,
        error: failure,
    });
    Ok(status)
}

/// One mode, once (`mm::reclaim::run`): the daemons, the workloads with a progress
/// line every `PROGRESS_EVERY`, the window, every page checked, measured.
fn run_mode(
    bench: &Bench,
    sys: &'static reclaim::System,
    name: &str,
    run: u64,
    poll: Option<&mut (dyn FnMut() + '_)>,
) -> Result<RunStats, String> {
    // The host's tools/bench-many.sh starts its load window here.
    println!("bench: {name} run {run} started");
    let cpus = &bench.cores.workloads;
    if cpus.contains(&0) {
        println!("bench: {name} run {run}: the workload runs on cpu0: no progress lines");
    }
    let mut progress = |p: &Progress| {
        reclaim::trace_sample(sys);
        println!(
            "bench: PROGRESS mode={name} run={run} t_ms={} free={} pgsteal_anon={} allocstall={} accesses={}",
            timer::ticks_to_duration(p.ticks).as_millis(),
            p.free,
            p.vmstat.get(VmEvent::PgStealAnon),
            p.vmstat.get(VmEvent::AllocStall),
            p.accesses
        );
    };
    if bench.kind == Kind::Apps {
        workload::APPS
            .reset(bench.specs.len(), APPS)
            .map_err(|e| format!("{} apps in all: more than the table holds", e.apps))?;
    }
    let mut machine = KernelRun::new(sys, cpus, &bench.specs, poll);
    if bench.lmk {
        machine.killer = Some(reclaim::new_killer()?);
    }
    let report = mm::reclaim::run::run(
        &mut machine,
        sys.workers().count() as u64,
        Some(Sampler {
            period: timer::duration_to_ticks(PROGRESS_EVERY),
            sample: &mut progress,
        }),
    )?;
    print_vcpus_busy(name, run, &report, &machine);
    print_drain(name, run, &report);
    crate::trace::dump_run(name);
    let total = &report.work;
    if total.oom_stops > 0 {
        // Rates over a run cut short compare nothing: say so and fail the bench.
        return Err(format!(
            "{name} run {run}: a workload stopped out of memory after {} of {} accesses (no frame after direct reclaim): no table",
            total.accesses,
            bench.specs.iter().fold(0u64, |sum, s| sum
                .saturating_add(s.pages as u64)
                .saturating_add(s.ops))
        ));
    }
    if bench.specs[0].pace.is_some() {
        let outs = machine.outcomes.iter().map(|(_, o)| o);
        let (bursts, missed) = outs.fold((0, 0), |(b, m), o| (b + o.bursts, m + o.bursts_missed));
        println!(
            "bench: {name} run {run}: paced: {bursts} bursts of 64 ran, {missed} grid slots dropped (a burst started a period or more late)"
        );
    }
    let m = report.stats.clone();
    println!(
        "bench: {name} run {run} done: {} ms, pgsteal_anon {}/s, allocstall {}, ops {}/s, fault p99 {} ns, corrupt {}, frames {}",
        Figure(m.get(Metric::ElapsedMs), 0),
        Figure(m.get(Metric::PgstealAnonPerS), 0),
        m.get(Metric::AllocStall),
        Figure(m.get(Metric::OpsPerS), 0),
        Figure(m.get(Metric::AllocP99Ns), 0),
        m.get(Metric::CorruptPages),
        report.frames
    );
    Ok(m)
}

/// Each CPU's share of the window outside WFI, and their sum: how many host cores QEMU
/// needed to run this guest without waiting (tools/bench-many.sh sets it beside the
/// cores QEMU used), and how many TLB shootdowns stopped every vCPU.
fn print_vcpus_busy(name: &str, run: u64, report: &RunReport, machine: &KernelRun<'_, '_>) {
    let elapsed = report.window_ticks.max(1);
    let mut line = String::new();
    let mut total = 0.0;
    let idle = machine
        .idle_at_start
        .iter()
        .zip(&machine.idle_at_window_end);
    for (cpu, (&before, &after)) in smp::online_cpus().zip(idle) {
        let busy = elapsed.saturating_sub(after.saturating_sub(before)) as f64 / elapsed as f64;
        total += busy;
        line.push_str(&format!(" cpu{cpu} {:.0}%", busy * 100.0));
    }
    let flushes = report.window.get(VmEvent::NrTlbRemoteFlush);
    println!(
        "bench: {name} run {run} vcpus busy {total:.2} of {}:{line}; nr_tlb_remote_flush {flushes} ({:.0}/s)",
        machine.idle_at_start.len(),
        flushes as f64 / timer::ticks_to_duration(elapsed).as_secs_f64()
    );
}

/// What the daemons did after the workloads ended, until they stopped: the queue
/// drained and kswapd's last pass. Outside the measurement window, so not in the table.
fn print_drain(name: &str, run: u64, report: &RunReport) {
    let extra = |e: VmEvent| report.total.get(e) - report.window.get(e);
    let after = report.times_total.since(&report.times);
    let ms = |ticks: u64| timer::ticks_to_duration(ticks).as_millis();
    println!(
        "bench: {name} run {run} drain (after the workloads, not in the table): daemons stopped {} ms later; pgsteal_kswapd +{}, pswpout +{}, kcompressd pages +{}, kswapd busy +{} ms, kcompressd busy +{} ms",
        ms(report.drain_ticks),
        extra(VmEvent::PgStealKswapd),
        extra(VmEvent::PswpOut),
        after.kcompressd_pages,
        ms(after.kswapd_busy),
        ms(after.kcompressd_busy)
    );
}

/// Why `bench_ram=` cannot work for this zone, with the smallest that can.
fn bench_ram_refusal(zone: &BenchZone, shortfall: BenchShortfall, wss: usize) -> String {
    let why = match shortfall {
        BenchShortfall::Watermark { high } => format!(
            "the zone's high watermark ({high} pages, watermark_scale_factor={}) is all of its {} pages",
            zone.cfg.watermark_scale_factor, zone.ram_pages
        ),
        BenchShortfall::Store { min, store } => format!(
            "{} MiB of anonymous memory of this mix take at least {store} frames in the store, and {min} stay free (the min watermark), of its {} pages",
            mib(wss as u64),
            zone.ram_pages
        ),
    };
    let advice = match zone.min_ram_mib(platform::cmdline::MAX_BENCH_MIB) {
        Some(k) => format!("needs bench_ram={k} or more"),
        None => String::from(
            "no bench_ram= can: give less anonymous memory (bench_anon=) or a more compressible mix=",
        ),
    };
    format!(
        "bench_ram={} MiB cannot work: {why}: {advice}",
        mib(zone.ram_pages)
    )
}

fn mib(pages: u64) -> u64 {
    (pages * PAGE_SIZE as u64) >> 20
}

/// Page pools generated so far, one per seed asked (never one per run).
static POOLS: spin::Mutex<Vec<(u64, &'static PagePool)>> = spin::Mutex::new(Vec::new());

/// Heap bytes one page pool takes.
const POOL_BYTES: u64 =
    (POOL_PAGES * PAGE_SIZE + size_of::<PagePool>() + size_of::<(u64, &PagePool)>()) as u64;

/// Heap bytes `page_pool(seed)` will take: none once that seed's pool exists.
fn page_pool_heap(seed: u64) -> u64 {
    if POOLS.lock().iter().any(|(s, _)| *s == seed) {
        return 0;
    }
    POOL_BYTES
}

/// The page pool the workloads copy from, for `seed`: generated at the first bench
/// with that seed and kept for later ones. Refused when the heap cannot hold it.
fn page_pool(seed: u64) -> Result<&'static PagePool, String> {
    let mut pools = POOLS.lock();
    if let Some(&(_, pool)) = pools.iter().find(|(s, _)| *s == seed) {
        return Ok(pool);
    }
    let no_heap = || {
        format!(
            "no kernel heap for the page pool of seed {seed} ({} KiB, {} KiB free)",
            POOL_BYTES >> 10,
            crate::mem::heap_free() >> 10
        )
    };
    let mut pages = Vec::new();
    let mut slot = Vec::new();
    pages.try_reserve_exact(POOL_PAGES).map_err(|_| no_heap())?;
    slot.try_reserve_exact(1).map_err(|_| no_heap())?;
    pools.try_reserve(1).map_err(|_| no_heap())?;
    pages.resize(POOL_PAGES, [0u8; PAGE_SIZE]);
    let pool = PagePool::generate(seed, pages.leak()).ok_or("page pool")?;
    slot.push(pool);
    let pool: &'static PagePool = &slot.leak()[0];
    pools.push((seed, pool));
    Ok(pool)
}

fn print_table(columns: &[(&str, Values)], ratios: &[(usize, usize)], runs: u64) {
    let columns: Vec<(&str, &Values)> = columns.iter().map(|(l, v)| (*l, v)).collect();
    let mut table = String::new();
    if report::write_table_with(&mut table, &columns, ratios, runs).is_ok() {
        crate::print!("{table}");
    }
}

/// Per-page costs and what a pipeline with them can reach, next to what kswapd's
/// pipeline reclaimed. Sums over every run of a mode.
fn print_pipeline(sync: &[RunStats], asyncs: &[report::Variant<'_>]) {
    let mut text = String::new();
    if report::write_pipeline(&mut text, sync, asyncs).is_ok() {
        crate::print!("{text}");
    }
}

/// `scenario=bench`'s RESULT: `{"scenario":"bench","runs":N,"<mode>":{figures},...}`,
/// one object of medians per mode, keyed by its label, and `"error"` when a run failed.
struct BenchResult<'a> {
    scenario: &'a str,
    runs: u64,
    columns: &'a [(&'a str, Values)],
    /// The first run that failed and why, if one did.
    error: Option<String>,
}

impl Serialize for BenchResult<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let error = usize::from(self.error.is_some());
        let mut map = serializer.serialize_map(Some(2 + self.columns.len() + error))?;
        map.serialize_entry("scenario", self.scenario)?;
        map.serialize_entry("runs", &self.runs)?;
        for (label, values) in self.columns {
            map.serialize_entry(label, &ValuesJson(values))?;
        }
        if let Some(error) = &self.error {
            map.serialize_entry("error", error)?;
        }
        map.end()
    }
}
