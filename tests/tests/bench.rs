//! The headline benchmark (issue 5), judged from the host: one short `scenario=bench`
//! run on 4 cores must report both modes with the RESULT shape the docs and the plot
//! tool read, real reclaim in each, kcompressd used only in async mode, and zero
//! corrupt pages. No timing thresholds: the figures are measurements, not checks.
#![forbid(unsafe_code)]

use qemu_tests::{Boot, Run, number};
use serde_json::{Map, Value};

/// Fields every mode must carry (the docs' table reads more; these are the contract).
const MODE_KEYS: &[&str] = &[
    "pgsteal_anon_per_s",
    "allocstall",
    "corrupt_pages",
    "alloc_p99_ns",
    "ops_per_s",
];

fn mode<'a>(run: &Run, result: &'a Map<String, Value>, name: &str) -> &'a Map<String, Value> {
    let Some(Value::Object(m)) = result.get(name) else {
        run.fail(&format!("RESULT has no object '{name}'"));
    };
    for key in MODE_KEYS {
        if !m.get(*key).is_some_and(Value::is_number) {
            run.fail(&format!("'{name}' has no number '{key}'"));
        }
    }
    if number(run, m, "corrupt_pages") != 0 {
        run.fail(&format!("{name}: corrupt pages"));
    }
    if number(run, m, "pswpout") == 0 || number(run, m, "verified_pages") == 0 {
        run.fail(&format!("{name}: no page was swapped out and verified"));
    }
    m
}

#[test]
fn bench_short_run_reports_both_modes_clean() {
    let boot = Boot {
        timeout_secs: 240,
        ..Boot::default()
    };
    let run = boot.run(&["scenario=bench", "bench_ram=16", "ops=4096", "bench_runs=1"]);
    let result = run.expect_pass("bench");
    let sync = mode(&run, &result, "sync");
    let asyn = mode(&run, &result, "async");
    if number(&run, sync, "kcompressd_queued") != 0 {
        run.fail("sync mode queued pages to kcompressd");
    }
    if number(&run, asyn, "kcompressd_queued") == 0 {
        run.fail("async mode queued nothing to kcompressd");
    }
    for needle in ["PROGRESS mode=sync", "async/sync", "PIPELINE {"] {
        if !run.stdout.contains(needle) {
            run.fail(&format!("the output has no '{needle}'"));
        }
    }
}

/// The many-core layout's pieces on 5 CPUs: two workload cores splitting the region,
/// `bench_workers=` choosing the async variant, and a budget that stops after the
/// first round of the three asked for.
#[test]
fn bench_two_workloads_chosen_workers_and_budget() {
    let boot = Boot {
        smp: 5,
        timeout_secs: 240,
        ..Boot::default()
    };
    let run = boot.run(&[
        "scenario=bench",
        "bench_ram=16",
        "ops=4096",
        "bench_runs=3",
        "bench_budget_s=1",
        "kcompressd_cpu=2",
        "workload_cpu=3,4",
        "bench_workers=1",
    ]);
    let result = run.expect_pass("bench");
    mode(&run, &result, "sync");
    mode(&run, &result, "async");
    if number(&run, &result, "runs") != 1 {
        run.fail("the 1 s budget did not stop the bench after its first round");
    }
    for needle in [
        "2 workload(s)",
        "workload(s) on cpus 3,4",
        "stopping after 1 of 3 rounds",
        "vcpus busy",
        "nr_tlb_remote_flush",
    ] {
        if !run.stdout.contains(needle) {
            run.fail(&format!("the output has no '{needle}'"));
        }
    }
}

/// Layouts the bench cannot run are refused with the reason, before any run, and the
/// RESULT line says so.
#[test]
fn bench_refuses_impossible_layouts() {
    let boot = Boot {
        smp: 4,
        ..Boot::default()
    };
    for (words, needle) in [
        (["workload_cpu=2", "bench_workers=1"], "workload_cpu=2"),
        (["workload_cpu=3", "bench_workers=2"], "bench_workers=2"),
        (["workload_cpu=0", "bench_workers=1"], "workload_cpu=0"),
        (["kcompressd_cpu=2,7", "bench_runs=1"], "kcompressd_cpu=7"),
        (["kswapd_cpu=2", "kcompressd_cpu=2"], "kcompressd_cpu=2"),
        (["kswapd_cpu=9", "bench_runs=1"], "kswapd_cpu=9"),
    ] {
        let mut cmdline = vec!["scenario=bench", "bench_ram=16"];
        cmdline.extend(words);
        let run = boot.run(&cmdline);
        run.expect_refusal(needle);
        // A refused bench still ends with its RESULT line, naming the error.
        let result = run.result().unwrap_or_else(|e| run.fail(&e));
        if !result
            .get("error")
            .and_then(|e| e.as_str())
            .is_some_and(|e| e.contains(needle))
        {
            run.fail("RESULT has no error naming the refusal");
        }
    }
}

/// Sizes that parse but cannot work are refused before any run, naming what would: a
/// `bench_ram=` under its own high watermark, one too small for the store of an
/// incompressible mix at any size, anonymous memory no heap holds.
#[test]
fn bench_refuses_sizes_that_cannot_work() {
    for (words, needle) in [
        (
            &["bench_ram=1", "watermark_scale_factor=3000"][..],
            "high watermark",
        ),
        (
            &["bench_ram=16", "mix=0,0,0,0,100"][..],
            "no bench_ram= can",
        ),
        (
            &["bench_ram=4", "bench_anon=1048576"][..],
            "no RAM size gives the heap that much",
        ),
    ] {
        let mut cmdline = vec!["scenario=bench", "bench_runs=1"];
        cmdline.extend(words);
        let run = Boot::default().run(&cmdline);
        let error = run.expect_refusal(needle);
        let names_a_size = error.contains("needs bench_ram=") || error.contains("no ");
        if !error.contains(needle) || !names_a_size || run.stdout.contains("run 1 started") {
            run.fail("not refused before any run with the size that would work");
        }
    }
}

/// `scenario=apps` (issue 13): one table for {classic, mglru} x {sync, async}, each
/// column with app-switch latencies, kills, cold starts and PSI, the killer on by
/// default; every page verified, none corrupt. No timing threshold.
#[test]
fn apps_reports_each_lru_and_mode_clean() {
    let boot = Boot {
        timeout_secs: 240,
        ..Boot::default()
    };
    let run = boot.run(&["scenario=apps", "bench_ram=16", "ops=4096", "bench_runs=1"]);
    let result = run.expect_pass("apps");
    for name in ["classic_sync", "classic_async", "mglru_sync", "mglru_async"] {
        let m = mode(&run, &result, name);
        for key in [
            "app_switch_p50_us",
            "app_switch_p99_us",
            "lmk_kills",
            "cold_starts",
            "psi_some_total_us",
            "psi_full_avg10",
            "kswapd_busy_pct",
        ] {
            if !m.get(key).is_some_and(Value::is_number) {
                run.fail(&format!("'{name}' has no number '{key}'"));
            }
        }
        if number(&run, m, "psi_some_total_us") == 0 {
            run.fail(&format!(
                "{name}: twice the RAM in apps and no memory stall"
            ));
        }
        if number(&run, m, "cold_starts") > number(&run, m, "lmk_kills") {
            run.fail(&format!("{name}: more cold starts than kills"));
        }
    }
    for needle in [
        "low-memory killer on",
        "mglru_sync/classic_sync",
        "mglru_async/classic_async",
    ] {
        if !run.stdout.contains(needle) {
            run.fail(&format!("the output has no '{needle}'"));
        }
    }
}

/// `lmk=off` runs the apps without the killer: no kill, no cold start; `lru=` picks
/// one LRU's pair; `lmk=on` where there are no apps is refused, not ignored.
#[test]
fn apps_without_the_killer_and_lmk_refused_elsewhere() {
    let boot = Boot {
        timeout_secs: 240,
        ..Boot::default()
    };
    let run = boot.run(&[
        "scenario=apps",
        "bench_ram=16",
        "ops=4096",
        "bench_runs=1",
        "lmk=off",
        "lru=mglru",
    ]);
    let result = run.expect_pass("apps");
    if result.contains_key("classic_sync") {
        run.fail("lru=mglru still ran the classic LRU");
    }
    for name in ["mglru_sync", "mglru_async"] {
        let m = mode(&run, &result, name);
        if number(&run, m, "lmk_kills") != 0 || number(&run, m, "cold_starts") != 0 {
            run.fail(&format!("{name}: kills with lmk=off"));
        }
    }
    let run = Boot::default().run(&["scenario=bench", "lmk=on", "bench_ram=16", "ops=4096"]);
    let error = run.expect_refusal("lmk=on");
    assert!(error.contains("only scenario=apps"), "{error}");
}

/// `lmk=` takes `on|off` only: anything else is refused before any run, with the
/// parser's one-line error in RESULT and status 2.
#[test]
fn an_unknown_lmk_value_is_refused() {
    let run = Boot::default().run(&["scenario=apps", "lmk=maybe"]);
    let error = run.expect_refusal("lmk=maybe");
    assert!(error.contains("expected on|off"), "{error}");
    assert_eq!(run.status, Some(2), "{}", run.output());
}
