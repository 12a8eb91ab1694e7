//! `scenario=bench`: the headline benchmark. The same app-switching workload runs with
//! kswapd compressing by itself (sync), then with one kcompressd worker (async), then,
//! when `kcompressd_cpu=` lists several, with all of them (`async_<N>w`); `bench_runs`
//! times each, in one boot; between runs the region, store and counters start over.
//! Prints a progress line a second, a side-by-side table of medians, the per-page
//! costs and pipeline bounds, and `RESULT {"scenario":"bench","sync":{..},"async":{..}}`.
//! Owns only the orchestration and the arithmetic; reclaim is `reclaim`'s, the
//! workload `workload`'s.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use mm::addr::PAGE_SIZE;
use mm::pagegen::{PageGen, PageMix};
use mm::reclaim::policy::{ReclaimConfig, ReclaimMode, RingFull};
use mm::vmstat::{VmEvent, VmStatSnapshot};
use platform::cmdline;

use super::BootInfo;
use crate::arch::aarch64::{smp, timer};
use crate::reclaim::{self, VMSTAT};
use crate::workload::{self, LatencyHist, Pattern, Spec};
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

/// Which core does what: the same workload core in both modes.
struct Cores {
    kswapd: usize,
    workers: Vec<usize>,
    workload: usize,
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
    // The workload gets a core of its own if there is one, so CPU 0 can report.
    let workload = online
        .iter()
        .copied()
        .find(|&c| usable(c) && c != kswapd && !listed.contains(&c))
        .unwrap_or(0);
    Ok(Cores {
        kswapd,
        workers,
        workload,
    })
}

/// One measured quantity: its JSON key and whether it is a count (printed as an
/// integer) or a rate / ratio.
struct Metric {
    key: &'static str,
    integer: bool,
}

const fn count(key: &'static str) -> Metric {
    Metric { key, integer: true }
}

const fn real(key: &'static str) -> Metric {
    Metric {
        key,
        integer: false,
    }
}

/// Every quantity a mode reports, in table order.
const METRICS: &[Metric] = &[
    real("pgsteal_anon_per_s"),
    real("pgsteal_kswapd_per_s"),
    count("pgsteal_anon"),
    count("pgsteal_kswapd"),
    count("pgsteal_direct"),
    count("pgscan_kswapd"),
    count("pgscan_direct"),
    count("allocstall"),
    count("pswpout"),
    count("pswpin"),
    count("kcompressd_queued"),
    count("kcompressd_ring_full"),
    count("rescued"),
    real("ops_per_s"),
    count("faults"),
    count("alloc_p50_ns"),
    count("alloc_p99_ns"),
    count("alloc_max_ns"),
    real("kswapd_busy_pct"),
    real("kcompressd_busy_pct"),
    count("kswapd_ns_per_page"),
    count("kcompressd_ns_per_page"),
    real("compr_ratio"),
    count("same_pages"),
    count("elapsed_ms"),
    count("verified_pages"),
    count("corrupt_pages"),
];

fn index(key: &str) -> usize {
    METRICS
        .iter()
        .position(|m| m.key == key)
        .unwrap_or_else(|| panic!("no metric {key}"))
}

/// One run of one mode: a value per metric, plus the raw ticks the pipeline
/// arithmetic sums over runs.
struct Measured {
    values: Vec<f64>,
    kswapd_busy: u64,
    kcompressd_busy: u64,
    kcompressd_pages: u64,
    pgsteal_kswapd: u64,
    ring_full: u64,
    frames_accounted: bool,
}

impl Measured {
    fn get(&self, key: &str) -> f64 {
        self.values[index(key)]
    }
}

/// What stays the same for every run.
struct Bench {
    cores: Cores,
    wss: usize,
    held: u64,
    managed: u64,
    generator: PageGen,
    spec: Spec,
}

pub fn run(info: &BootInfo<'_>) -> u32 {
    let cmd = info.cmdline;
    let cores = match assign_cores(cmd) {
        Ok(c) => c,
        Err(why) => {
            println!("bench: {why}");
            return 1;
        }
    };
    let Some(mut zone) = mem::FRAMES.lock().take() else {
        println!("bench: no frame allocator");
        return 1;
    };
    let ram_pages = cmd.bench_ram.unwrap_or(DEFAULT_RAM_MIB) * (1 << 20) / PAGE_SIZE as u64;
    let wss = ram_pages as usize * ANON_HALVES / 2;
    let tables = match vm::build(&mut zone, wss) {
        Ok(t) => t,
        Err(e) => {
            println!("bench: workload region: {e}");
            return 1;
        }
    };
    // Hold back every frame above the asked RAM, like Linux's `mem=`: taken once,
    // never given back, the same for both modes.
    let mut held = 0u64;
    for order in (0..=10u32).rev() {
        while zone.nr_free_pages() >= ram_pages + (1 << order) {
            if zone.alloc_pages(order).is_err() {
                break;
            }
            held += 1 << order;
        }
    }
    if zone.nr_free_pages() < ram_pages {
        println!(
            "bench: bench_ram={} MiB is more than the {} MiB free",
            mib(ram_pages),
            mib(zone.nr_free_pages())
        );
        return 1;
    }
    let managed = zone.managed_pages();
    let wmark = zone.watermarks();
    let seed = cmd.seed.unwrap_or(1);
    let Some(generator) = PageGen::new(seed, PageMix::DEFAULT) else {
        println!("bench: bad page mix");
        return 1;
    };
    let set = (wss / APPS) as u64;
    let spec = Spec {
        first: 0,
        pages: wss,
        pattern: Pattern::Apps {
            apps: APPS,
            switch_every: set,
        },
        ops: cmd.ops.unwrap_or(SWITCHES * set),
        deadline: None,
        write_pct: WRITE_PCT,
        seed,
        generator,
        pace: cmd.pace,
    };
    let ring_full = match cmd.ring_full {
        cmdline::RingFull::New => RingFull::New,
        cmdline::RingFull::Oldest => RingFull::Oldest,
    };
    let config = |mode| ReclaimConfig { mode, ring_full };
    reclaim::init(
        zone,
        reclaim::Setup {
            config: config(ReclaimMode::Sync),
            kswapd_cpu: Some(cores.kswapd),
            workers: Vec::new(),
            swap_slots: wss,
            mem_limit: 0,
        },
    );
    let runs = cmd.bench_runs.unwrap_or(1).max(1);
    println!(
        "bench: ram {} MiB ({} frames free, {} held back, watermarks min {} low {} high {}), anonymous {} MiB = {} pages in {} apps of {} pages, {} tables",
        mib(ram_pages),
        ram_pages,
        held,
        wmark.min,
        wmark.low,
        wmark.high,
        (wss * PAGE_SIZE) >> 20,
        wss,
        APPS,
        set,
        tables
    );
    println!(
        "bench: workload on cpu{}: launch every app (first touch), then {} accesses, {} % writes, an app switch every {} accesses, {}; seed {}, default page mix",
        cores.workload,
        spec.ops,
        WRITE_PCT,
        set,
        match cmd.pace {
            Some(p) => format!("paced at {p} accesses/s in bursts of 64 (WFI between)"),
            None => String::from("CPU-bound"),
        },
        seed
    );
    println!(
        "bench: kswapd on cpu{}, kcompressd (async) on {:?}, ring 256, ring_full={}, {} run(s) of each mode",
        cores.kswapd,
        cores.workers,
        cmd.ring_full.name(),
        runs
    );
    let bench = Bench {
        cores,
        wss,
        held,
        managed,
        generator,
        spec,
    };
    // The plain design (one kcompressd worker) and, when several are listed, all of
    // them: each against sync, in the same boot.
    let mut variants = alloc::vec![
        (String::from("sync"), ReclaimMode::Sync, Vec::new()),
        (
            String::from("async"),
            ReclaimMode::Async,
            bench.cores.workers[..1].to_vec()
        ),
    ];
    if bench.cores.workers.len() > 1 {
        variants.push((
            format!("async_{}w", bench.cores.workers.len()),
            ReclaimMode::Async,
            bench.cores.workers.clone(),
        ));
    }
    let mut results: Vec<Vec<Measured>> = variants.iter().map(|_| Vec::new()).collect();
    let mut ok = true;
    for run in 1..=runs {
        for ((label, mode, workers), runs_of) in variants.iter().zip(&mut results) {
            let Some(sys) =
                reclaim::switch_mode(config(*mode), Some(bench.cores.kswapd), workers.clone())
            else {
                println!("bench: reclaim is not set up");
                return 1;
            };
            let Some(m) = run_mode(&bench, sys, label, run) else {
                return 1;
            };
            let stuck = reclaim::release_region(bench.wss);
            if stuck != 0 {
                println!("bench: {stuck} pages could not be released after the run");
            }
            ok &= stuck == 0 && m.frames_accounted && m.get("corrupt_pages") == 0.0;
            runs_of.push(m);
        }
    }
    let columns: Vec<(&str, Vec<f64>)> = variants
        .iter()
        .zip(&results)
        .map(|((label, _, _), r)| (label.as_str(), medians(r)))
        .collect();
    print_table(&columns, runs);
    let asyncs: Vec<(&str, &[Measured], usize)> = variants
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
    u32::from(!ok)
}

/// One mode, once: start the daemons, run the workload (reporting every second),
/// stop, check every page, measure.
fn run_mode(
    bench: &Bench,
    sys: &'static reclaim::System,
    name: &str,
    run: u64,
) -> Option<Measured> {
    let before = VMSTAT.snapshot();
    let start = timer::now_ticks();
    let daemons = match reclaim::start_daemons(sys) {
        Ok(t) => t,
        Err(e) => {
            println!("bench: starting the daemons: {e}");
            return None;
        }
    };
    let cpu = bench.cores.workload;
    workload::assign(cpu, bench.spec);
    if cpu == 0 {
        println!("bench: {name} run {run}: the workload runs on cpu0: no progress lines");
        workload::job(0);
    } else {
        let job = match smp::run_on(cpu, "workload", workload::job, 0) {
            Ok(t) => t,
            Err(e) => {
                println!("bench: workload on cpu{cpu}: {e}");
                return None;
            }
        };
        let mut next = start;
        loop {
            next += timer::duration_to_ticks(Duration::from_secs(1));
            if smp::wait(job, Some(next)) {
                break;
            }
            let v = VMSTAT.snapshot().since(&before);
            let free = sys.policy.node().lock().zone.nr_free_pages();
            println!(
                "bench: PROGRESS mode={name} run={run} t_ms={} free={free} pgsteal_anon={} allocstall={} accesses={}",
                timer::ticks_to_duration(timer::now_ticks() - start).as_millis(),
                v.get(VmEvent::PgStealAnon),
                v.get(VmEvent::AllocStall),
                workload::progress(cpu)
            );
        }
    }
    reclaim::stop_daemons(sys, &daemons);
    let times = reclaim::daemon_times();
    let Some(out) = workload::take_outcome(cpu) else {
        println!("bench: the workload reported nothing");
        return None;
    };
    let check = workload::final_check(0, &out, &bench.generator);
    let v = VMSTAT.snapshot().since(&before);
    let mm_stat = sys.policy.store().lock().mm_stat();
    let free = sys.policy.node().lock().zone.nr_free_pages();
    let store_frames = mm_stat.mem_used_total / PAGE_SIZE as u64;
    let frames_accounted =
        free + check.mapped + check.parked + store_frames + vm::tables() as u64 + bench.held
            == bench.managed;
    let m = measure(MeasureInput {
        v: &v,
        out: &out,
        verified: out.verified + check.verified,
        corrupt: out.corrupt + check.corrupt,
        times,
        workers: sys.workers.len() as u64,
        rescued: sys.policy.race_stats().rescued,
        compr_ratio: ratio(mm_stat.orig_data_size, mm_stat.compr_data_size),
        same_pages: mm_stat.same_pages,
        frames_accounted,
    });
    println!(
        "bench: {name} run {run} done: {} ms, pgsteal_anon {:.0}/s, allocstall {}, ops {:.0}/s, fault p99 {} ns, corrupt {}, frames accounted {frames_accounted}",
        m.get("elapsed_ms"),
        m.get("pgsteal_anon_per_s"),
        m.get("allocstall"),
        m.get("ops_per_s"),
        m.get("alloc_p99_ns"),
        m.get("corrupt_pages")
    );
    Some(m)
}

struct MeasureInput<'a> {
    v: &'a VmStatSnapshot,
    out: &'a workload::Outcome,
    verified: u64,
    corrupt: u64,
    times: reclaim::DaemonTimes,
    workers: u64,
    rescued: u64,
    compr_ratio: f64,
    same_pages: u64,
    frames_accounted: bool,
}

fn mib(pages: u64) -> u64 {
    (pages * PAGE_SIZE as u64) >> 20
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn ns(ticks: u64) -> u64 {
    timer::ticks_to_duration(ticks).as_nanos() as u64
}

fn measure(i: MeasureInput<'_>) -> Measured {
    let e = |ev: VmEvent| i.v.get(ev);
    let ticks = i.out.ticks.max(1);
    let secs = timer::ticks_to_duration(ticks).as_secs_f64();
    let per_s = |n: u64| n as f64 / secs;
    let hist: &LatencyHist = &i.out.faults;
    let mut values = alloc::vec![0.0; METRICS.len()];
    let mut set = |key: &str, value: f64| values[index(key)] = value;
    set("pgsteal_anon_per_s", per_s(e(VmEvent::PgStealAnon)));
    set("pgsteal_kswapd_per_s", per_s(e(VmEvent::PgStealKswapd)));
    set("pgsteal_anon", e(VmEvent::PgStealAnon) as f64);
    set("pgsteal_kswapd", e(VmEvent::PgStealKswapd) as f64);
    set("pgsteal_direct", e(VmEvent::PgStealDirect) as f64);
    set("pgscan_kswapd", e(VmEvent::PgScanKswapd) as f64);
    set("pgscan_direct", e(VmEvent::PgScanDirect) as f64);
    set("allocstall", e(VmEvent::AllocStall) as f64);
    set("pswpout", e(VmEvent::PswpOut) as f64);
    set("pswpin", e(VmEvent::PswpIn) as f64);
    set("kcompressd_queued", e(VmEvent::KcompressdQueued) as f64);
    set(
        "kcompressd_ring_full",
        e(VmEvent::KcompressdRingFull) as f64,
    );
    set("rescued", i.rescued as f64);
    set("ops_per_s", per_s(i.out.accesses));
    set("faults", hist.count as f64);
    set("alloc_p50_ns", ns(hist.percentile(50)) as f64);
    set("alloc_p99_ns", ns(hist.percentile(99)) as f64);
    set("alloc_max_ns", ns(hist.max) as f64);
    set("kswapd_busy_pct", 100.0 * ratio(i.times.kswapd_busy, ticks));
    set(
        "kcompressd_busy_pct",
        100.0 * ratio(i.times.kcompressd_busy, ticks * i.workers.max(1)),
    );
    let pgsteal_kswapd = e(VmEvent::PgStealKswapd);
    set(
        "kswapd_ns_per_page",
        ns(i.times.kswapd_busy / pgsteal_kswapd.max(1)) as f64,
    );
    set(
        "kcompressd_ns_per_page",
        ns(i.times.kcompressd_busy / i.times.kcompressd_pages.max(1)) as f64,
    );
    set("compr_ratio", i.compr_ratio);
    set("same_pages", i.same_pages as f64);
    set(
        "elapsed_ms",
        timer::ticks_to_duration(ticks).as_millis() as f64,
    );
    set("verified_pages", i.verified as f64);
    set("corrupt_pages", i.corrupt as f64);
    Measured {
        values,
        kswapd_busy: i.times.kswapd_busy,
        kcompressd_busy: i.times.kcompressd_busy,
        kcompressd_pages: i.times.kcompressd_pages,
        pgsteal_kswapd,
        ring_full: e(VmEvent::KcompressdRingFull),
        frames_accounted: i.frames_accounted,
    }
}

/// Per metric, the median over runs (the lower middle one: always a value seen),
/// except `corrupt_pages`, which is the total.
fn medians(runs: &[Measured]) -> Vec<f64> {
    (0..METRICS.len())
        .map(|k| {
            let mut v: Vec<f64> = runs.iter().map(|m| m.values[k]).collect();
            if METRICS[k].key == "corrupt_pages" {
                return v.iter().sum();
            }
            v.sort_by(f64::total_cmp);
            v.get((v.len().max(1) - 1) / 2).copied().unwrap_or(0.0)
        })
        .collect()
}

fn print_table(columns: &[(&str, Vec<f64>)], runs: u64) {
    let labels: Vec<&str> = columns.iter().map(|c| c.0).collect();
    println!(
        "--- bench: {} ({}) ---",
        labels.join(" vs "),
        if runs > 1 {
            format!("medians of {runs} runs")
        } else {
            String::from("one run each")
        }
    );
    let mut header = format!("{:<24}", "metric");
    for label in &labels {
        header.push_str(&format!(" {label:>14}"));
    }
    for label in labels.iter().skip(1) {
        header.push_str(&format!(" {:>14}", format!("{label}/sync")));
    }
    println!("{header}");
    let sync = &columns[0].1;
    for (k, m) in METRICS.iter().enumerate() {
        let mut row = format!("{:<24}", m.key);
        for (_, values) in columns {
            let x = values[k];
            row.push_str(&if m.integer {
                format!(" {x:>14.0}")
            } else {
                format!(" {x:>14.2}")
            });
        }
        for (_, values) in columns.iter().skip(1) {
            let r = if sync[k] == 0.0 {
                String::from("-")
            } else {
                format!("{:.2}x", values[k] / sync[k])
            };
            row.push_str(&format!(" {r:>14}"));
        }
        println!("{row}");
    }
}

/// Per-page costs and what a pipeline with them can reach, next to what kswapd's
/// pipeline reclaimed. Sums over every run of a mode.
fn print_pipeline(sync: &[Measured], asyncs: &[(&str, &[Measured], usize)]) {
    let sum = |runs: &[Measured], f: fn(&Measured) -> u64| runs.iter().map(f).sum::<u64>();
    // The costs come from the one-worker async runs.
    let Some(&(_, one, _)) = asyncs.first() else {
        return;
    };
    // kcompressd's time per page it took from the ring: compress + store + free.
    let t_compress = ratio(
        ns(sum(one, |m| m.kcompressd_busy)),
        sum(one, |m| m.kcompressd_pages),
    );
    // kswapd's time in async mode is scanning and unmapping every victim plus
    // compressing the ring-full ones itself: take the latter out.
    let async_kswapd = ns(sum(one, |m| m.kswapd_busy)) as f64;
    let ring_full = sum(one, |m| m.ring_full) as f64;
    let victims = sum(one, |m| m.pgsteal_kswapd).max(1) as f64;
    let t_scan = ((async_kswapd - ring_full * t_compress) / victims).max(0.0);
    let t_sync = ratio(
        ns(sum(sync, |m| m.kswapd_busy)),
        sum(sync, |m| m.pgsteal_kswapd),
    );
    let per_s = |ns: f64| if ns > 0.0 { 1e9 / ns } else { 0.0 };
    let sync_bound = per_s(t_scan + t_compress);
    let measured = |runs: &[Measured]| medians(runs)[index("pgsteal_kswapd_per_s")];
    println!("--- bench: where the gain comes from (per page kswapd reclaimed) ---");
    println!(
        "t_scan (isolate, age, unmap, queue: async kswapd minus its ring-full compressions) {t_scan:.0} ns"
    );
    println!(
        "t_compress (compress + store + free: kcompressd per page)                    {t_compress:.0} ns"
    );
    println!(
        "sync kswapd per page (scan + compress, measured directly)                     {t_sync:.0} ns"
    );
    println!(
        "sync bound 1/(t_scan + t_compress) = {sync_bound:.0} pages/s, 1/(sync kswapd per page) = {:.0} pages/s; measured pgsteal_kswapd {:.0}/s",
        per_s(t_sync),
        measured(sync)
    );
    let mut bounds = String::new();
    for &(label, runs, workers) in asyncs {
        let bound = per_s(t_scan.max(t_compress / workers.max(1) as f64));
        println!(
            "{label} bound 1/max(t_scan, t_compress/{workers}) = {bound:.0} pages/s; measured pgsteal_kswapd {:.0}/s",
            measured(runs)
        );
        bounds.push_str(&format!(",\"{label}_bound_per_s\":{bound:.0}"));
    }
    println!(
        "PIPELINE {{\"t_scan_ns\":{t_scan:.0},\"t_compress_ns\":{t_compress:.0},\"t_sync_ns\":{t_sync:.0},\"sync_bound_per_s\":{sync_bound:.0}{bounds}}}"
    );
}

fn json(values: &[f64]) -> String {
    let mut line = String::new();
    let written = kernel::json::Object::new(&mut line).and_then(|mut o| {
        for (m, &x) in METRICS.iter().zip(values) {
            if m.integer {
                o.uint(m.key, x as u64)?;
            } else {
                o.float(m.key, x)?;
            }
        }
        o.finish().map(|_| ())
    });
    match written {
        Ok(()) => line,
        Err(_) => String::from("{\"error\":\"could not format\"}"),
    }
}
