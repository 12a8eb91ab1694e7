//! `scenario=bench`: the headline benchmark. The same app-switching workload runs with
//! kswapd compressing by itself (sync), then with one kcompressd worker (async), then,
//! when `kcompressd_cpu=` lists several, with all of them (`async_<N>w`); `bench_runs`
//! times each, in one boot; between runs the region, store and counters start over.
//! Prints a progress line every `PROGRESS_EVERY`, a side-by-side table of medians, the per-page
//! costs and pipeline bounds, and `RESULT {"scenario":"bench","sync":{..},"async":{..}}`.
//! Owns only the orchestration; the measurements, medians, table and pipeline bound
//! are `mm::reclaim::report`'s (the host harness prints the same), reclaim is
//! `reclaim`'s, the workload `workload`'s.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use mm::addr::PAGE_SIZE;
use mm::pagegen::{POOL_PAGES, PageGen, PagePool};
use mm::reclaim::policy::ReclaimMode;
use mm::reclaim::report::{self, Figure, Metric, RunInput, RunStats, Values};
use mm::vmstat::{VmEvent, VmStatSnapshot};
use platform::cmdline;

use super::{BootInfo, settings};
use crate::arch::aarch64::{smp, timer};
use crate::reclaim::{self, VMSTAT};
use crate::workload::{self, Pattern, Spec};
use crate::{mem, println, vm};

/// RAM left to reclaim unless `bench_ram=` says otherwise (MiB): small enough that
/// both modes finish in a couple of minutes under TCG.
const DEFAULT_RAM_MIB: u64 = 64;
/// Anonymous memory, in halves of the RAM: 2 x RAM.
const ANON_HALVES: usize = 4;
/// Apps sharing it: each working set is half the RAM, so one fits, two do not.
const APPS: usize = 8;
/// App switches after the launch of every app (the default amount of work).
const SWITCHES: u64 = 12;
const WRITE_PCT: u64 = 25;
/// Sync/async pairs by default: the table shows medians of three.
const DEFAULT_RUNS: u64 = 3;
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

/// What stays the same for every run.
struct Bench {
    cores: Cores,
    wss: usize,
    managed: u64,
    generator: PageGen,
    /// One workload per core in `cores.workloads`, each on its own slice.
    specs: Vec<Spec>,
}

pub fn run(info: &BootInfo<'_>) -> u32 {
    run_polling(info.cmdline, None)
}

/// The benchmark in `cmd`'s settings; with `poll` (the console's `run bench`), CPU 0
/// calls it every `smp::POLL_PERIOD` while it waits and runs no workload itself.
pub fn run_polling(cmd: &cmdline::CmdLine, poll: Option<&mut dyn FnMut()>) -> u32 {
    match bench(cmd, poll) {
        Ok(status) => status,
        Err(why) => {
            // Every ending prints a RESULT line, a refused or failed bench too.
            println!("bench: {why}");
            super::print_result(|o| {
                o.str("scenario", "bench")?.str("error", &why)?;
                Ok(())
            });
            1
        }
    }
}

/// The bench; an error ends it before its table (the caller prints it and RESULT).
fn bench(cmd: &cmdline::CmdLine, mut poll: Option<&mut dyn FnMut()>) -> Result<u32, String> {
    let cores = assign_cores(cmd)?;
    let counts = worker_counts(cmd, cores.workers.len())?;
    if poll.is_some() && cores.workloads.contains(&0) {
        return Err(String::from(
            "no core left for the workload but CPU 0, which runs the console",
        ));
    }
    let Some(mut zone) = mem::FRAMES.lock().take() else {
        return Err(String::from("no frame allocator"));
    };
    let ram_pages = cmd.bench_ram.unwrap_or(DEFAULT_RAM_MIB) * (1 << 20) / PAGE_SIZE as u64;
    let wss = match cmd.bench_anon {
        Some(mib) => (mib * (1 << 20) / PAGE_SIZE as u64) as usize,
        None => ram_pages as usize * ANON_HALVES / 2,
    };
    let tables = vm::build(&mut zone, wss).map_err(|e| format!("workload region: {e}"))?;
    // Like Linux's `mem=`: every frame above the asked RAM leaves the zone for good,
    // and the watermarks follow the smaller zone, the same for both modes. The store
    // takes its frames from what is left, as zram's pool does from the same RAM.
    // The zone's `watermark_scale_factor` was validated with the command line.
    let zone_cfg = settings::zone_config(cmd);
    let held = zone
        .limit_free_to(ram_pages, zone_cfg)
        .map_err(|e| format!("limiting the zone to bench_ram: {e:?}"))?;
    if zone.nr_free_pages() < ram_pages {
        return Err(format!(
            "bench_ram={} MiB is more than the {} MiB free",
            mib(ram_pages),
            mib(zone.nr_free_pages())
        ));
    }
    let managed = zone.managed_pages();
    let wmark = zone.watermarks();
    let seed = cmd.seed.unwrap_or(1);
    let mix = settings::page_mix(cmd);
    let Some(generator) = PageGen::new(seed, mix) else {
        return Err(String::from("bad page mix"));
    };
    // The workload's own CPU must stay small next to reclaim's (as an app's does), so
    // its pages are copies of pool pages (stamped), not generated per access.
    let pool_pages = Box::leak(alloc::vec![[0u8; PAGE_SIZE]; POOL_PAGES].into_boxed_slice());
    let Some(pool) = PagePool::generate(seed, pool_pages) else {
        return Err(String::from("page pool"));
    };
    let generator = generator.with_pool(Box::leak(Box::new(pool)));
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
            pattern: Pattern::Apps {
                apps: APPS,
                switch_every: set,
            },
            ops: cmd.ops.map_or(SWITCHES * set, |ops| ops / n as u64),
            deadline: None,
            write_pct: WRITE_PCT,
            // The first workload keeps the seed (one workload runs as it always did);
            // the others switch apps at other times.
            seed: seed ^ (w as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            generator,
            pace: cmd.pace.map(|p| (p / n as u64).max(1)),
        })
        .collect();
    let config = |mode| settings::reclaim_config(cmd, mode);
    reclaim::init(
        zone,
        reclaim::Setup {
            config: config(ReclaimMode::Sync),
            kswapd_cpu: Some(cores.kswapd),
            workers: Vec::new(),
            swap_slots: wss,
            mem_limit: 0,
        },
    )?;
    // At least 1: the command line refuses `bench_runs=0`.
    let runs = cmd.bench_runs.unwrap_or(DEFAULT_RUNS);
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
        "bench: workload(s) on cpu{:?}: launch every app (first touch), then {} accesses each, {} % writes, an app switch every {} accesses, {}; seed {}, page mix {:?} from a pool of {} pages",
        cores.workloads,
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
        mix,
        POOL_PAGES
    );
    println!(
        "bench: kswapd on cpu{}, kcompressd (async) on {:?}, worker counts {:?}, ring {}, ring_full={}, watermark_scale_factor {}, {} run(s) of each mode{}",
        cores.kswapd,
        cores.workers,
        counts,
        config(ReclaimMode::Async).ring_size,
        cmd.ring_full.name(),
        zone_cfg.watermark_scale_factor,
        runs,
        match cmd.bench_budget_s {
            Some(s) => format!(", within a budget of {s} s"),
            None => String::new(),
        }
    );
    let bench = Bench {
        cores,
        wss,
        managed,
        generator,
        specs,
    };
    // sync, then one async variant per worker count (one worker: the plain design),
    // in the same boot, alternating.
    let mut variants = alloc::vec![(String::from("sync"), ReclaimMode::Sync, Vec::new())];
    for &count in &counts {
        let label = match count {
            1 => String::from("async"),
            n => format!("async_{n}w"),
        };
        variants.push((
            label,
            ReclaimMode::Async,
            bench.cores.workers[..count].to_vec(),
        ));
    }
    let mut results: Vec<Vec<RunStats>> = variants.iter().map(|_| Vec::new()).collect();
    let mut ok = true;
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
        for ((label, mode, workers), runs_of) in variants.iter().zip(&mut results) {
            let Some(sys) =
                reclaim::switch_mode(config(*mode), Some(bench.cores.kswapd), workers.clone())
            else {
                return Err(String::from("reclaim is not set up"));
            };
            let m = run_mode(&bench, sys, label, run, poll.as_deref_mut())?;
            let stuck = reclaim::release_region(bench.wss);
            if stuck != 0 {
                println!("bench: {stuck} pages could not be released after the run");
            }
            ok &= stuck == 0 && m.clean();
            runs_of.push(m);
        }
        longest_round = longest_round.max(timer::now_ticks() - round_start);
        done = run;
    }
    let runs = done;
    let columns: Vec<(&str, Values)> = variants
        .iter()
        .zip(&results)
        .map(|((label, _, _), r)| (label.as_str(), report::medians(r)))
        .collect();
    print_table(&columns, runs);
    let asyncs: Vec<report::Variant<'_>> = variants
        .iter()
        .zip(&results)
        .skip(1)
        .map(|((label, _, w), r)| (label.as_str(), r.as_slice(), w.len()))
        .collect();
    print_pipeline(&results[0], &asyncs);
    let mut line = format!("RESULT {{\"scenario\":\"bench\",\"runs\":{runs}");
    for (label, values) in &columns {
        line.push_str(&format!(",\"{label}\":{}", json(values)));
    }
    println!("{line}}}");
    Ok(u32::from(!ok))
}

/// One mode, once: start the daemons, run the workload (reporting every `PROGRESS_EVERY`),
/// stop, check every page, measure.
fn run_mode(
    bench: &Bench,
    sys: &'static reclaim::System,
    name: &str,
    run: u64,
    mut poll: Option<&mut (dyn FnMut() + '_)>,
) -> Result<RunStats, String> {
    // The host's tools/bench-many.sh starts its load window here.
    println!("bench: {name} run {run} started");
    let before = VMSTAT.snapshot();
    let start = timer::now_ticks();
    let idle_before: Vec<u64> = smp::online_cpus().map(smp::idle_ticks).collect();
    let daemons = reclaim::start_daemons(sys).map_err(|e| format!("starting the daemons: {e}"))?;
    let cpus = &bench.cores.workloads;
    for (&cpu, spec) in cpus.iter().zip(&bench.specs) {
        workload::assign(cpu, *spec);
    }
    if cpus.contains(&0) {
        println!("bench: {name} run {run}: the workload runs on cpu0: no progress lines");
        workload::job(0);
    } else {
        let mut jobs = Vec::new();
        for &cpu in cpus {
            jobs.push(
                smp::run_on(cpu, "workload", workload::job, 0)
                    .map_err(|e| format!("workload on cpu{cpu}: {e}"))?,
            );
        }
        let mut next = start;
        let mut waiting = 0;
        while waiting < jobs.len() {
            next += timer::duration_to_ticks(PROGRESS_EVERY);
            while waiting < jobs.len()
                && smp::wait_polling(jobs[waiting], Some(next), poll.as_deref_mut())
            {
                waiting += 1;
            }
            if waiting == jobs.len() {
                break;
            }
            let v = VMSTAT.snapshot().since(&before);
            let free = sys.policy.node().lock().zone.nr_free_pages();
            reclaim::trace_sample(sys);
            println!(
                "bench: PROGRESS mode={name} run={run} t_ms={} free={free} pgsteal_anon={} allocstall={} accesses={}",
                timer::ticks_to_duration(timer::now_ticks() - start).as_millis(),
                v.get(VmEvent::PgStealAnon),
                v.get(VmEvent::AllocStall),
                cpus.iter().map(|&cpu| workload::progress(cpu)).sum::<u64>()
            );
        }
    }
    // The measurement window closes as the last workload ends: counters, busy times
    // and the store's state are read here, over the same interval as the elapsed time.
    let v = VMSTAT.snapshot().since(&before);
    let times = reclaim::daemon_times();
    let mm_stat_window = sys.policy.store().lock().mm_stat();
    let window_end = timer::now_ticks();
    print_vcpus_busy(
        name,
        run,
        start,
        &idle_before,
        v.get(VmEvent::NrTlbRemoteFlush),
    );
    reclaim::stop_daemons(sys, &daemons);
    print_drain(name, run, window_end, &before, &v, &times);
    crate::trace::dump_run(name);
    let mut outs = Vec::new();
    for &cpu in cpus {
        let Some(out) = workload::take_outcome(cpu) else {
            return Err(format!("the workload on cpu{cpu} reported nothing"));
        };
        outs.push(out);
    }
    let total = workload::Outcome::total(&outs);
    if total.oom {
        // Rates over a run cut short compare nothing: say so and fail the bench.
        return Err(format!(
            "{name} run {run}: a workload stopped out of memory after {} of {} accesses (no frame after direct reclaim): no table",
            total.accesses,
            bench
                .specs
                .iter()
                .map(|s| s.pages as u64 + s.ops)
                .sum::<u64>()
        ));
    }
    if bench.specs[0].pace.is_some() {
        println!(
            "bench: {name} run {run}: paced: {} bursts of 64 ran, {} grid slots dropped (a burst started a period or more late)",
            total.bursts, total.bursts_missed
        );
    }
    let mut check = workload::Check::default();
    for (out, spec) in outs.iter().zip(&bench.specs) {
        check.add(workload::final_check(spec.first, out, &bench.generator));
    }
    let mm_stat = sys.policy.store().lock().mm_stat();
    let free = sys.policy.node().lock().zone.nr_free_pages();
    let store_frames = mm_stat.mem_used_total / PAGE_SIZE as u64;
    let frames_accounted =
        free + check.mapped + check.parked + store_frames + vm::tables() as u64 == bench.managed;
    let out = &total;
    let m = measure(MeasureInput {
        v: &v,
        out,
        verified: out.verified + check.verified,
        corrupt: out.corrupt + check.corrupt,
        times,
        workers: sys.workers.len() as u64,
        rescued: sys.policy.race_stats().rescued,
        mm_stat: &mm_stat_window,
        frames_accounted,
    });
    println!(
        "bench: {name} run {run} done: {} ms, pgsteal_anon {}/s, allocstall {}, ops {}/s, fault p99 {} ns, corrupt {}, frames accounted {frames_accounted}",
        Figure(m.get(Metric::ElapsedMs), 0),
        Figure(m.get(Metric::PgstealAnonPerS), 0),
        m.get(Metric::AllocStall),
        Figure(m.get(Metric::OpsPerS), 0),
        Figure(m.get(Metric::AllocP99Ns), 0),
        m.get(Metric::CorruptPages)
    );
    Ok(m)
}

/// Each CPU's share of the run outside WFI, and their sum: how many host cores QEMU
/// needed to run this guest without waiting (tools/bench-many.sh sets it beside the
/// cores QEMU used), and how many TLB shootdowns stopped every vCPU.
fn print_vcpus_busy(name: &str, run: u64, start: u64, idle_before: &[u64], flushes: u64) {
    let elapsed = (timer::now_ticks() - start).max(1);
    let mut line = String::new();
    let mut total = 0.0;
    for (cpu, &before) in smp::online_cpus().zip(idle_before) {
        let idle = smp::idle_ticks(cpu).saturating_sub(before);
        let busy = elapsed.saturating_sub(idle) as f64 / elapsed as f64;
        total += busy;
        line.push_str(&format!(" cpu{cpu} {:.0}%", busy * 100.0));
    }
    println!(
        "bench: {name} run {run} vcpus busy {total:.2} of {}:{line}; nr_tlb_remote_flush {flushes} ({:.0}/s)",
        idle_before.len(),
        flushes as f64 / timer::ticks_to_duration(elapsed).as_secs_f64()
    );
}

/// What the daemons did after the workloads ended, until they stopped: the queue
/// drained and kswapd's last pass. Outside the measurement window, so not in the table.
fn print_drain(
    name: &str,
    run: u64,
    window_end: u64,
    before: &VmStatSnapshot,
    window: &VmStatSnapshot,
    times: &reclaim::DaemonTimes,
) {
    let drained = VMSTAT.snapshot().since(before);
    let after = reclaim::daemon_times();
    let extra = |e: VmEvent| drained.get(e) - window.get(e);
    let ms = |ticks: u64| timer::ticks_to_duration(ticks).as_millis();
    println!(
        "bench: {name} run {run} drain (after the workloads, not in the table): daemons stopped {} ms later; pgsteal_kswapd +{}, pswpout +{}, kcompressd pages +{}, kswapd busy +{} ms, kcompressd busy +{} ms",
        ms(timer::now_ticks() - window_end),
        extra(VmEvent::PgStealKswapd),
        extra(VmEvent::PswpOut),
        after.kcompressd_pages - times.kcompressd_pages,
        ms(after.kswapd_busy.saturating_sub(times.kswapd_busy)),
        ms(after.kcompressd_busy.saturating_sub(times.kcompressd_busy))
    );
}

struct MeasureInput<'a> {
    v: &'a VmStatSnapshot,
    out: &'a workload::Outcome,
    verified: u64,
    corrupt: u64,
    times: reclaim::DaemonTimes,
    workers: u64,
    rescued: u64,
    mm_stat: &'a mm::zram::MmStat,
    frames_accounted: bool,
}

fn mib(pages: u64) -> u64 {
    (pages * PAGE_SIZE as u64) >> 20
}

fn measure(i: MeasureInput<'_>) -> RunStats {
    RunStats::measure(&RunInput {
        vmstat: i.v,
        mm_stat: i.mm_stat,
        tick_hz: timer::freq(),
        elapsed: i.out.ticks,
        accesses: i.out.accesses,
        faults: &i.out.faults,
        kswapd_busy: i.times.kswapd_busy,
        kcompressd_busy: i.times.kcompressd_busy,
        kcompressd_pages: i.times.kcompressd_pages,
        workers: i.workers,
        rescued: i.rescued,
        verified: i.verified,
        corrupt: i.corrupt,
        frames_accounted: i.frames_accounted,
    })
}

fn print_table(columns: &[(&str, Values)], runs: u64) {
    let columns: Vec<(&str, &Values)> = columns.iter().map(|(l, v)| (*l, v)).collect();
    let mut table = String::new();
    if report::write_table(&mut table, &columns, runs).is_ok() {
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

fn json(values: &Values) -> String {
    let mut line = String::new();
    let written = kernel::json::Object::new(&mut line).and_then(|mut o| {
        for (m, &x) in Metric::ALL.into_iter().zip(values) {
            // A figure that could not be computed (NaN) is null, never 0.
            if m.integer() && x.is_finite() {
                o.uint(m.key(), x as u64)?;
            } else {
                o.float(m.key(), x)?;
            }
        }
        o.finish().map(|_| ())
    });
    match written {
        Ok(()) => line,
        Err(_) => String::from("{\"error\":\"could not format\"}"),
    }
}
