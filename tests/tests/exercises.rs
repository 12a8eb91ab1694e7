//! The commands docs/reclaim.md, docs/shell.md and docs/trace.md tell a reader to run, run as
//! written, each claim of their text about the output checked (quoted figures within a factor,
//! for host noise). Cheap ones run in CI; `#[ignore]`d ones with `tests/run-all.sh --exercises`.
#![forbid(unsafe_code)]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use mm::trace::Event;
use qemu_tests::trace_convert::{Dump, parse_log};
use qemu_tests::{Boot, Run, number, string};
use serde_json::{Map, Value};

/// How far a quoted figure may move when it depends on how the host schedules the vCPUs
/// (rates, busy shares, stalls, ring-full events, rescues): a factor either way.
const TIMING: f64 = 3.0;

/// `TIMING` where the run has the host to itself (`tests/run-all.sh --exercises` sets
/// `EXERCISES_STRICT`); in CI, on a shared 2-core host, an order of magnitude, so that
/// host noise never fails a build while a figure off by 10x still does.
fn timing() -> f64 {
    if std::env::var_os("EXERCISES_STRICT").is_some() {
        TIMING
    } else {
        ORDER
    }
}
/// The same for figures of work done, which timing moves less (pages reclaimed or queued,
/// events recorded, accesses before an out-of-memory stop).
const WORK: f64 = 1.5;
/// The same for the figures an overloaded host moves most, ring overflows with five
/// vCPUs on two host cores: an order of magnitude.
const ORDER: f64 = 10.0;

// ---------------------------------------------------------------------------------------
// Running the documented commands

/// qemu-run.sh's machine with the `--smp`, `--mem` and `--cpu` the docs give (their
/// defaults otherwise: 4 cores, 512 MiB, cortex-a53, GICv3).
fn machine(smp: u32, mem: &'static str, cpu: &'static str) -> Boot {
    Boot {
        cpu,
        smp,
        mem,
        timeout_secs: 300,
        ..Boot::default()
    }
}

fn default_machine() -> Boot {
    machine(4, "512M", "cortex-a53")
}

/// Boots `machine` with the kernel words `words`, written as in the docs.
fn qemu(machine: &Boot, words: &str) -> Run {
    machine.run(&words.split_whitespace().collect::<Vec<_>>())
}

/// Pipes the console `lines` (one command each) into `scenario=shell` on `machine`;
/// checks that the session powered off with status 0 and that its RESULT counts every
/// line, none refused, and `runs` completed runs.
fn console(machine: &Boot, lines: &[&str], runs: u64) -> Run {
    let script: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let run = machine.run_with_input(&["scenario=shell"], Some(script.as_bytes()));
    if run.status != Some(0) {
        run.fail("the console did not power off with status 0");
    }
    let shell = of_scenario(&run, "shell");
    let [shell] = shell.as_slice() else {
        run.fail("expected one RESULT line from the console");
    };
    let counts = ["commands", "errors", "runs", "runs_failed"].map(|k| number(&run, shell, k));
    if counts != [lines.len() as u64, 0, runs, 0] {
        run.fail(&format!(
            "expected {} commands, 0 errors, {runs} runs, 0 failed; RESULT says {shell:?}",
            lines.len()
        ));
    }
    run
}

/// Every `RESULT {json}` object of scenario `scenario` the console printed, in order.
fn of_scenario(run: &Run, scenario: &str) -> Vec<Map<String, Value>> {
    qemu_tests::parse_results(&run.stdout)
        .unwrap_or_else(|e| run.fail(&e))
        .into_iter()
        .filter(|r| r.get("scenario").and_then(Value::as_str) == Some(scenario))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Checking what they printed

fn expect_lines(run: &Run, wanted: &[&str]) {
    for want in wanted {
        if !run.stdout.contains(want) {
            run.fail(&format!("the output has no \"{want}\""));
        }
    }
}

/// Fails unless `got` is within `factor` of `seen`, the figure the docs quote for `what`.
fn near(run: &Run, what: &str, got: f64, seen: f64, factor: f64) {
    if !(seen / factor..=seen * factor).contains(&got) {
        run.fail(&format!(
            "{what}: {got} is not within {factor}x of the {seen} the docs quote"
        ));
    }
}

/// Fails unless `holds`, naming the claim of the docs it checks.
fn claim(run: &Run, holds: bool, what: &str) {
    if !holds {
        run.fail(&format!("the docs say: {what}; this run does not show it"));
    }
}

/// Fails unless `low` is below `high`: a direction the docs expect (e.g. async's stalls
/// below sync's), both figures in the message.
fn below(run: &Run, low: f64, high: f64, what: &str) {
    claim(run, low < high, &format!("{what} ({low} against {high})"));
}

/// Number field `key` of a RESULT object, as a float (rates and shares are floats).
fn float(run: &Run, result: &Map<String, Value>, key: &str) -> f64 {
    result
        .get(key)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| run.fail(&format!("RESULT has no number '{key}'")))
}

/// The first line starting with `prefix` once trimmed (of indentation and `\r`).
fn line<'a>(run: &'a Run, prefix: &str) -> &'a str {
    run.stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| run.fail(&format!("no line starts with \"{prefix}\"")))
}

/// The unsigned number that follows `key` in `text` (`"... key 123 ..."`).
fn after(run: &Run, text: &str, key: &str) -> u64 {
    text.split_once(key)
        .and_then(|(_, rest)| {
            rest.split(|c: char| !c.is_ascii_digit())
                .find(|s| !s.is_empty())
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| run.fail(&format!("no number after \"{key}\" in: {text}")))
}

/// Linux's watermarks for a zone of `managed` pages (docs/reclaim.md, section 1):
/// `(min, low, high)`.
fn watermarks(managed: u64, watermark_scale_factor: u64) -> (u64, u64, u64) {
    let min_free_kbytes = (managed * 4 * 16).isqrt().clamp(128, 256 << 10);
    let min = min_free_kbytes / 4;
    let delta = (min / 4).max(managed * watermark_scale_factor / 10_000);
    (min, min + delta, min + 2 * delta)
}

/// A summary's `frames free A + mapped B + parked C + store D + tables E = managed F`:
/// fails unless the parts add up to the whole.
fn expect_frames_add_up(run: &Run, summary: &str) {
    let parts: u64 = ["frames free", "mapped", "parked", "store", "tables"]
        .iter()
        .map(|k| after(run, summary, &format!("{k} ")))
        .sum();
    claim(
        run,
        parts == after(run, summary, "= managed "),
        "free + mapped + parked + in the store + page tables = managed",
    );
}

// ---------------------------------------------------------------------------------------
// The bench's output

/// A documented `scenario=bench` command: exit 0, `runs` runs of each mode (the table's
/// title says medians of them), every mode in RESULT with zero corrupt pages.
fn bench(machine: &Boot, words: &str, runs: u64) -> (Run, Map<String, Value>) {
    let run = qemu(machine, words);
    let result = run.expect_pass("bench");
    if number(&run, &result, "runs") != runs {
        run.fail(&format!("expected {runs} runs of each mode"));
    }
    let medians = if runs == 1 {
        "(one run each) ---".to_string()
    } else {
        format!("(medians of {runs} runs) ---")
    };
    claim(
        &run,
        line(&run, "--- bench: sync vs async").ends_with(&medians),
        &format!("the table's title says {medians}"),
    );
    for name in ["sync", "async"] {
        if number(&run, mode(&run, &result, name), "corrupt_pages") != 0 {
            run.fail(&format!("{name}: corrupt pages"));
        }
    }
    (run, result)
}

/// One mode's object in a bench RESULT.
fn mode<'a>(run: &Run, result: &'a Map<String, Value>, name: &str) -> &'a Map<String, Value> {
    match result.get(name) {
        Some(Value::Object(m)) => m,
        _ => run.fail(&format!("RESULT has no object '{name}'")),
    }
}

/// `key` of mode `name`, sync and async: `(sync, async)` as floats.
fn pair(run: &Run, result: &Map<String, Value>, key: &str) -> (f64, f64) {
    (
        float(run, mode(run, result, "sync"), key),
        float(run, mode(run, result, "async"), key),
    )
}

/// The cells of the bench table's row `metric` (after its name; `n/a` included).
fn row<'a>(run: &'a Run, metric: &str) -> Vec<&'a str> {
    let table = run
        .stdout
        .split_once("--- bench: sync vs async")
        .map_or_else(|| run.fail("no bench table"), |t| t.1);
    table
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&metric))
        .map(|cells| cells[1..].to_vec())
        .unwrap_or_else(|| run.fail(&format!("the bench table has no row {metric}")))
}

/// The bench's first line (its zone): `(managed, min, low, high)`.
fn bench_zone(run: &Run) -> (u64, u64, u64, u64) {
    let first = line(run, "bench: ram ");
    let managed = first
        .split(", ")
        .find_map(|part| part.strip_suffix(" managed")?.parse().ok())
        .unwrap_or_else(|| run.fail(&format!("no managed count in: {first}")));
    (
        managed,
        after(run, first, "watermarks min "),
        after(run, first, " low "),
        after(run, first, " high "),
    )
}

// ---------------------------------------------------------------------------------------
// The console's output

/// One `zoneinfo` listing.
struct Zone {
    free: u64,
    min: u64,
    low: u64,
    high: u64,
    managed: u64,
    /// Its last line: what the kernel does at this level.
    state: String,
}

/// Every `zoneinfo` listing the console printed, in order.
fn zoneinfos(run: &Run) -> Vec<Zone> {
    let lines: Vec<&str> = run.stdout.lines().map(str::trim).collect();
    lines
        .iter()
        .enumerate()
        // buddyinfo's line starts the same but goes on with the free block counts.
        .filter(|(_, l)| {
            l.split_whitespace().collect::<Vec<_>>() == ["Node", "0,", "zone", "Normal"]
        })
        .map(|(at, _)| {
            let value = |key: &str| {
                lines[at + 1..]
                    .iter()
                    .take(5)
                    .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
                    .unwrap_or_else(|| run.fail(&format!("a zoneinfo without \"{key}\"")))
            };
            Zone {
                free: value("pages free"),
                min: value("min"),
                low: value("low"),
                high: value("high"),
                managed: value("managed"),
                state: lines
                    .get(at + 7)
                    .filter(|l| l.starts_with("free is "))
                    .unwrap_or_else(|| run.fail("a zoneinfo without its \"free is\" line"))
                    .to_string(),
            }
        })
        .collect()
}

/// One `top` listing: its interval and each core's `(job, busy %)`, by CPU number.
struct Top {
    interval_ms: u64,
    cores: Vec<(String, f64)>,
}

/// Every `top` listing the console printed, in order.
fn tops(run: &Run) -> Vec<Top> {
    let lines: Vec<&str> = run.stdout.lines().map(str::trim).collect();
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("busy share of each core over the last "))
        .map(|(at, l)| Top {
            interval_ms: after(run, l, "over the last "),
            cores: lines[at + 2..]
                .iter()
                .map_while(|l| {
                    let cells: Vec<&str> = l.split_whitespace().collect();
                    let busy = cells.get(2)?.strip_suffix('%')?.parse().ok()?;
                    cells[0]
                        .starts_with("cpu")
                        .then(|| (cells[1].to_string(), busy))
                })
                .collect(),
        })
        .collect()
}

/// Fails unless `top` shows the console, kswapd, kcompressd and the workload on CPUs 0 to
/// 3. (The daemons' shares are not checked: they depend on how far the run got, 0 % if
/// the launch has not filled memory yet.)
fn expect_jobs(run: &Run, top: &Top) {
    let jobs: Vec<&str> = top.cores.iter().map(|(job, _)| job.as_str()).collect();
    claim(
        run,
        jobs == ["shell", "kswapd", "kcompressd", "workload"],
        "top: the console, kswapd, kcompressd and the workload, a core each",
    );
}

/// `top`'s busy share of the core whose job is `job`; fails if no core runs it.
fn busy(run: &Run, top: &Top, cpu: usize, job: &str) -> f64 {
    match top.cores.get(cpu) {
        Some((j, busy)) if j == job => *busy,
        got => run.fail(&format!("top: cpu{cpu} should run {job}, got {got:?}")),
    }
}

/// The values of `/proc/vmstat` counter `name` (`vmstat` and the runs' reports), in order.
fn counter(run: &Run, name: &str) -> Vec<u64> {
    let prefix = format!("{name} ");
    run.stdout
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix(&prefix)?.parse().ok())
        .collect()
}

/// Every `meminfo` value named `name` (e.g. `MemTotal:`), in kB, in order.
fn meminfo(run: &Run, name: &str) -> Vec<u64> {
    run.stdout
        .lines()
        .filter_map(|l| {
            l.strip_prefix(name)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .collect()
}

/// The nine numbers of each `mm_stat` line, in order.
fn mm_stats(run: &Run) -> Vec<Vec<u64>> {
    run.stdout
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("mm_stat "))
        .map(|rest| {
            let fields: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect();
            if fields.len() != 9 {
                run.fail(&format!(
                    "mm_stat has {} fields, zram's has 9",
                    fields.len()
                ));
            }
            fields
        })
        .collect()
}

/// zram's `mm_stat` field names, in its order (docs/reclaim.md, section 9).
const MM_STAT_FIELDS: [&str; 9] = [
    "orig_data_size",
    "compr_data_size",
    "mem_used_total",
    "mem_limit",
    "mem_used_max",
    "same_pages",
    "pages_compacted",
    "huge_pages",
    "huge_pages_since",
];

/// Fails unless each `mm_stat` line is followed by its nine fields, one a line, named.
fn expect_mm_stat_named(run: &Run) {
    let lines: Vec<&str> = run.stdout.lines().map(str::trim).collect();
    for (at, _) in lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("mm_stat "))
    {
        let names: Vec<&str> = lines[at + 1..]
            .iter()
            .take(9)
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        if names != MM_STAT_FIELDS {
            run.fail(&format!(
                "mm_stat's fields are not named in zram's order: {names:?}"
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Trace dumps

/// Records of event `name` in `dump`, on `cpu` if given.
fn events(dump: &Dump, name: &str, cpu: Option<u32>) -> usize {
    dump.records
        .iter()
        .filter(|(c, r)| r.event.name() == name && cpu.is_none_or(|cpu| *c == cpu))
        .count()
}

/// Spans on `cpu` from a `begin` event (the first of a row) to the next `end`: how many,
/// and their total length in seconds.
fn spans(dump: &Dump, cpu: u32, begin: &str, end: &str) -> (usize, f64) {
    let (mut count, mut ticks, mut open) = (0, 0, None);
    for (_, r) in dump.records.iter().filter(|(c, _)| *c == cpu) {
        let name = r.event.name();
        if name == begin && open.is_none() {
            open = Some(r.ticks);
        } else if let (true, Some(from)) = (name == end, open) {
            count += 1;
            ticks += r.ticks - from;
            open = None;
        }
    }
    (count, ticks as f64 / dump.freq_hz as f64)
}

/// The dump's length in seconds, first record to last.
fn seconds(dump: &Dump) -> f64 {
    let ticks = dump.records.iter().map(|(_, r)| r.ticks);
    let (first, last) = (ticks.clone().min(), ticks.max());
    first
        .zip(last)
        .map_or(0.0, |(a, b)| (b - a) as f64 / dump.freq_hz as f64)
}

/// Ticks from each `reclaim_sample` on kswapd's CPU to an `mm_vmscan_kswapd_sleep`
/// right after it: the cost of one emit.
fn emit_gaps(dump: &Dump) -> Vec<u64> {
    let kswapd: Vec<_> = dump.records.iter().filter(|(c, _)| *c == 1).collect();
    kswapd
        .windows(2)
        .filter(|w| {
            w[0].1.event.name() == "reclaim_sample"
                && w[1].1.event.name() == "mm_vmscan_kswapd_sleep"
        })
        .map(|w| w[1].1.ticks - w[0].1.ticks)
        .collect()
}

/// The ring depths `reclaim_sample` recorded in `dump`.
fn ring_depths(dump: &Dump) -> Vec<u32> {
    dump.records
        .iter()
        .filter_map(|(_, r)| match r.event {
            Event::Sample { ring_depth, .. } => Some(ring_depth),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// docs/reclaim.md, section 0 "Boot it and watch" (and what section 1 reads from it)

/// `./qemu-run.sh -- scenario=boot`: the machine, and section 1's `frames free 121688 of
/// 121688 managed`, a figure that "moves by a few frames as the kernel grows, the
/// watermarks do not": min 697, low 871, high 1045.
#[test]
fn section0_boot() {
    let run = qemu(&default_machine(), "scenario=boot");
    let result = run.expect_pass("boot");
    claim(
        &run,
        number(&run, &result, "cpus_online") == 4
            && number(&run, &result, "mem_usable_bytes") == 512 << 20,
        "the machine: 4 CPUs and 512 MiB",
    );
    let frames = line(&run, "boot: heap ");
    let (free, managed) = (
        after(&run, frames, "frames free "),
        after(&run, frames, " of "),
    );
    claim(&run, free == managed, "every managed frame is free at boot");
    near(&run, "managed frames", managed as f64, 121_688.0, 1.01);
    claim(
        &run,
        watermarks(managed, 10) == (697, 871, 1045),
        "min 697, low 871, high 1045 on the 512 MiB machine",
    );
}

/// `./qemu-run.sh --mem 64M -- scenario=reclaim reclaim=async`: twice the RAM in anonymous
/// memory (32768 pages), the report's blocks in order, section 9's counters and zram's
/// fields by name, and exit 0 meaning no corrupt page and every frame accounted for.
#[test]
fn section0_reclaim() {
    let run = qemu(
        &machine(4, "64M", "cortex-a53"),
        "scenario=reclaim reclaim=async",
    );
    let result = run.expect_pass("reclaim");
    claim(
        &run,
        number(&run, &result, "anon_pages") == 32768
            && number(&run, &result, "anon_pages") * 4096 == 2 * number(&run, &result, "ram_bytes"),
        "the workload gets twice the RAM in anonymous memory, 32768 pages",
    );
    let at = |marker: &str| {
        run.stdout
            .find(marker)
            .unwrap_or_else(|| run.fail(&format!("no \"{marker}\" in the report")))
    };
    let order = [
        "--- /proc/vmstat ---",
        "--- zram ---",
        "--- summary ---",
        "RESULT {",
    ]
    .map(at);
    claim(
        &run,
        order.is_sorted(),
        "vmstat, zram's mm_stat, summary, RESULT, in this order",
    );
    claim(
        &run,
        run.stdout[order[1]..]
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("mm_stat ")),
        "the zram block is zram's mm_stat line",
    );

    // Section 9's table: every counter, "always 0" where nothing counts it yet, and the sums.
    let value = |name: &str| match counter(&run, name).as_slice() {
        [v] => *v,
        seen => run.fail(&format!("vmstat: expected one {name} line, got {seen:?}")),
    };
    for name in [
        "pgfault",
        "pgmajfault",
        "pgalloc_normal",
        "pgfree",
        "pgactivate",
        "pgdeactivate",
        "pgrefill",
        "allocstall_normal",
        "pswpout",
        "pswpin",
        "workingset_refault_anon",
        "pageoutrun",
        "kcompressd_queued",
        "kcompressd_ring_full",
        "kcompressd_wakeup",
    ] {
        value(name);
    }
    for name in [
        "kswapd_low_wmark_hit_quickly",
        "kswapd_high_wmark_hit_quickly",
    ] {
        claim(&run, value(name) == 0, &format!("{name} is always 0"));
    }
    claim(
        &run,
        value("pgscan_anon") == value("pgscan_kswapd") + value("pgscan_direct")
            && value("pgsteal_anon") == value("pgsteal_kswapd") + value("pgsteal_direct"),
        "pgscan_anon and pgsteal_anon are the sums of kswapd's and direct reclaim's",
    );
    claim(&run, mm_stats(&run).len() == 1, "one mm_stat line");
    expect_mm_stat_named(&run);

    let summary = line(&run, "accesses ");
    for word in ["verified", "corrupt 0", "rescued", "waited"] {
        claim(
            &run,
            summary.contains(word),
            &format!("the summary has {word}"),
        );
    }
    expect_frames_add_up(&run, summary);
    claim(
        &run,
        result.get("frames_accounted") == Some(&Value::Bool(true))
            && number(&run, &result, "corrupt_pages") == 0,
        "exit status 0: no page corrupt, every frame accounted for",
    );
}

/// `./qemu-run.sh -- scenario=bench bench_ram=16 ops=4096`: three runs of each mode by
/// default (medians), a table with both columns and their ratio, then the per-page costs
/// (section 10's PIPELINE line); `bench_ram` MiB left to reclaim, the rest taken out of
/// the zone.
#[test]
fn section0_bench() {
    let (run, result) = bench(
        &default_machine(),
        "scenario=bench bench_ram=16 ops=4096",
        3,
    );
    claim(
        &run,
        row(&run, "metric") == ["sync", "async", "async/sync"],
        "a table with both columns and their ratio",
    );
    expect_lines(&run, &["t_scan ", "t_compress ", "\nPIPELINE {"]);
    claim(
        &run,
        line(&run, "bench: ram ").starts_with("bench: ram 16 MiB (4096 frames free, ")
            && line(&run, "bench: ram ").contains(" taken out of the zone as by mem="),
        "bench_ram MiB are left to reclaim, the rest is taken out of the zone",
    );
    let queued = pair(&run, &result, "kcompressd_queued");
    claim(
        &run,
        queued.0 == 0.0 && queued.1 > 0.0,
        "only async queues to kcompressd",
    );
    // Section 10: the PIPELINE line's terms, and a measured rate above its model flagged
    // twice, in the text and in `above_model`.
    let pipeline = line(&run, "PIPELINE {");
    let pipeline: Map<String, Value> = serde_json::from_str(&pipeline["PIPELINE ".len()..])
        .unwrap_or_else(|e| run.fail(&format!("PIPELINE is not JSON: {e}")));
    for term in ["t_scan_ns", "t_compress_ns", "t_sync_ns"] {
        claim(
            &run,
            number(&run, &pipeline, term) > 0,
            &format!("PIPELINE has {term}"),
        );
    }
    let above = pipeline
        .get("above_model")
        .and_then(Value::as_array)
        .unwrap_or_else(|| run.fail("PIPELINE has no above_model list"));
    claim(
        &run,
        above.is_empty() != run.stdout.contains("-- ABOVE the model"),
        "a measured rate above the model is flagged in the text and in above_model",
    );
}

/// The console session of section 0 on `--mem 64M`: the zone's marks before the run
/// (`min 240 low 300 high 360`), free hovering between min and high three seconds in,
/// `top` over the run only (a `top` before it starts the interval), counters moving,
/// mm_stat by field, and `wait` until the run's own report.
#[test]
fn section0_console() {
    let run = console(
        &machine(4, "64M", "cortex-a53"),
        &[
            "zoneinfo",
            "set reclaim=async ops=200000",
            "top",
            "run pressure",
            "sleep 3",
            "zoneinfo",
            "top",
            "vmstat",
            "zram",
            "wait",
            "poweroff",
        ],
        1,
    );
    let zones = zoneinfos(&run);
    let [before, during] = zones.as_slice() else {
        run.fail("expected two zoneinfo listings");
    };
    claim(
        &run,
        (before.min, before.low, before.high) == (240, 300, 360)
            && watermarks(before.managed, 10) == (240, 300, 360),
        "zoneinfo shows min 240 low 300 high 360 on the 64 MiB machine",
    );
    claim(
        &run,
        before.free == before.managed && before.state.contains("above high"),
        "before the run every page is free, above high",
    );
    claim(
        &run,
        (during.min / 2..=2 * during.high).contains(&during.free),
        "three seconds into the run free hovers between min and high",
    );
    near(
        &run,
        "pages free three seconds in",
        during.free as f64,
        368.0,
        timing(),
    );

    let [_, top] = tops(&run)
        .try_into()
        .unwrap_or_else(|_| run.fail("expected two top listings"));
    claim(
        &run,
        (3000..10_000).contains(&top.interval_ms),
        "top after sleep 3 covers the run since the first top",
    );
    expect_jobs(&run, &top);
    near(
        &run,
        "workload busy %",
        busy(&run, &top, 3, "workload"),
        99.4,
        2.0,
    );

    for name in [
        "pgscan_kswapd",
        "pgsteal_anon",
        "pswpout",
        "kcompressd_queued",
    ] {
        let seen = counter(&run, name);
        claim(
            &run,
            seen.len() == 2 && seen[0] > 0 && seen[1] >= seen[0],
            &format!("vmstat's {name} moving during the run, and more at its end"),
        );
    }
    claim(
        &run,
        mm_stats(&run).len() == 2,
        "zram mid-run and in the run's report",
    );
    expect_mm_stat_named(&run);
    expect_lines(
        &run,
        &[
            "wait: until run pressure ends",
            "run pressure: ended with status 0",
        ],
    );
    let pressure = of_scenario(&run, "reclaim");
    let [pressure] = pressure.as_slice() else {
        run.fail("expected the run's own RESULT");
    };
    claim(
        &run,
        string(&run, pressure, "mode") == "async" && number(&run, pressure, "corrupt_pages") == 0,
        "the run went in async mode, with no corrupt page",
    );
}

// ---------------------------------------------------------------------------------------
// docs/reclaim.md, sections 1 and 10

/// Section 1: `scenario=bench` (its default 64 MiB) prints its zone in its first line:
/// 16,862 managed pages (64 MiB and the region's 478 page tables), min 259 low 323 high 387.
#[test]
#[ignore = "the default bench: about half a minute (tests/run-all.sh --exercises)"]
fn section1_bench_watermarks() {
    let (run, _) = bench(&default_machine(), "scenario=bench", 3);
    let (managed, min, low, high) = bench_zone(&run);
    claim(
        &run,
        (managed, min, low, high) == (16_862, 259, 323, 387)
            && watermarks(managed, 10) == (min, low, high),
        "16,862 managed pages: watermarks min 259 low 323 high 387",
    );
    claim(
        &run,
        line(&run, "bench: ram ").ends_with(", 478 tables"),
        "the workload region's page tables: 478",
    );
}

/// Section 10: `./qemu-run.sh --mem 64M -- scenario=oom` (all random pages, the store
/// limited to RAM/8): mm_stat reads orig = compr = used = limit = 8388608, 2048 huge
/// pages, about 12,129 pages parked in writeback, both workloads stopped, none corrupt.
#[test]
fn section10_oom() {
    let run = qemu(&machine(4, "64M", "cortex-a53"), "scenario=oom");
    let result = run.expect_pass("oom");
    let stats = mm_stats(&run);
    let [stat] = stats.as_slice() else {
        run.fail("expected one mm_stat line");
    };
    claim(
        &run,
        stat[..4] == [8_388_608; 4] && stat[7] == 2048,
        "mm_stat reads 8388608 8388608 8388608 8388608 ... with 2048 huge pages",
    );
    near(
        &run,
        "pages parked in writeback",
        number(&run, &result, "writeback_failed") as f64,
        12_129.0,
        WORK,
    );
    claim(
        &run,
        number(&run, &result, "oom_stops") == 2
            && run
                .stdout
                .matches("out of memory: workload stopped")
                .count()
                == 2,
        "both workloads stopped by the out-of-memory guard",
    );
    claim(
        &run,
        number(&run, &result, "corrupt_pages") == 0,
        "no page corrupt",
    );
}

// ---------------------------------------------------------------------------------------
// docs/reclaim.md, section 11: the exercises

/// Exercise 1: `scenario=bench bench_ram=16 ops=4096 bench_runs=3`. Fewer stalls and less
/// direct reclaim in async, kswapd busy less of the time, kcompressd busy much of it; the
/// figures of the "Seen" line within their factors (rescues: too few to compare).
#[test]
#[ignore = "with exercise 3, 4, 6 and 9: tests/run-all.sh --exercises"]
fn exercise1_sync_against_async() {
    let (run, result) = bench(
        &default_machine(),
        "scenario=bench bench_ram=16 ops=4096 bench_runs=3",
        3,
    );
    for metric in [
        "allocstall",
        "pgsteal_direct",
        "pgsteal_kswapd_per_s",
        "rescued",
        "kswapd_busy_pct",
    ] {
        row(&run, metric);
    }
    expect_lines(&run, &["\nPIPELINE {"]);
    let stalls = pair(&run, &result, "allocstall");
    let direct = pair(&run, &result, "pgsteal_direct");
    let kswapd = pair(&run, &result, "kswapd_busy_pct");
    let kcompressd = float(&run, mode(&run, &result, "async"), "kcompressd_busy_pct");
    below(&run, stalls.1, stalls.0, "fewer stalls in async");
    below(&run, direct.1, direct.0, "less direct reclaim in async");
    below(
        &run,
        kswapd.1,
        kswapd.0,
        "kswapd busy less of the time in async",
    );
    near(&run, "allocstall sync", stalls.0, 109.0, timing());
    near(&run, "allocstall async", stalls.1, 67.0, timing());
    near(&run, "pgsteal_direct sync", direct.0, 3576.0, timing());
    near(&run, "pgsteal_direct async", direct.1, 2239.0, timing());
    near(&run, "kswapd busy % sync", kswapd.0, 73.3, timing());
    near(&run, "kswapd busy % async", kswapd.1, 50.8, timing());
    near(&run, "kcompressd busy %", kcompressd, 72.7, timing());
    let asyn = mode(&run, &result, "async");
    near(
        &run,
        "queued",
        float(&run, asyn, "kcompressd_queued"),
        6015.0,
        WORK,
    );
    near(
        &run,
        "ring full",
        float(&run, asyn, "kcompressd_ring_full"),
        1570.0,
        timing(),
    );
}

/// Exercise 2: `scenario=reclaim reclaim=async` on 1, 2 and 4 CPUs (64 MiB). One CPU:
/// async mode off and no kswapd, all reclaim direct; two: kswapd but no kcompressd
/// (`"mode":"sync","mode_asked":"async"`); four: both, with two workloads (CPUs 3 and 0).
#[test]
fn exercise2_one_cpu_two_cpus() {
    let reclaim = |smp: u32| {
        let run = qemu(
            &machine(smp, "64M", "cortex-a53"),
            "scenario=reclaim reclaim=async",
        );
        let result = run.expect_pass("reclaim");
        claim(
            &run,
            number(&run, &result, "corrupt_pages") == 0,
            "no corrupt page",
        );
        (run, result)
    };
    let at = |run: &Run, result: &Map<String, Value>, key: &str| number(run, result, key) as f64;

    let (run, result) = reclaim(1);
    expect_lines(&run, &["async mode off", "no kswapd, direct reclaim only"]);
    claim(
        &run,
        number(&run, &result, "pgsteal_kswapd") == 0
            && number(&run, &result, "pgsteal_direct") == number(&run, &result, "pgsteal_anon"),
        "with one CPU every page is reclaimed by the faulting task",
    );
    near(
        &run,
        "pgsteal_direct",
        at(&run, &result, "pgsteal_direct"),
        45_729.0,
        WORK,
    );
    near(
        &run,
        "allocstall",
        at(&run, &result, "allocstall"),
        1267.0,
        WORK,
    );

    let (run, result) = reclaim(2);
    expect_lines(
        &run,
        &[
            "\"mode\":\"sync\",\"mode_asked\":\"async\"",
            "async mode off",
            "kswapd on cpu1, kcompressd on no core, workloads on cpu0",
        ],
    );
    claim(
        &run,
        number(&run, &result, "kcompressd_queued") == 0,
        "with two CPUs kcompressd is off",
    );
    near(
        &run,
        "pgsteal_kswapd",
        at(&run, &result, "pgsteal_kswapd"),
        34_443.0,
        WORK,
    );
    near(
        &run,
        "pgsteal_direct",
        at(&run, &result, "pgsteal_direct"),
        11_439.0,
        timing(),
    );
    near(
        &run,
        "allocstall",
        at(&run, &result, "allocstall"),
        341.0,
        timing(),
    );

    let (run, result) = reclaim(4);
    expect_lines(
        &run,
        &["kswapd on cpu1, kcompressd on cpu2, workloads on cpus 3,0"],
    );
    claim(
        &run,
        string(&run, &result, "mode") == "async",
        "with four CPUs both run",
    );
    near(
        &run,
        "pgsteal_kswapd",
        at(&run, &result, "pgsteal_kswapd"),
        35_684.0,
        WORK,
    );
    near(
        &run,
        "pgsteal_direct",
        at(&run, &result, "pgsteal_direct"),
        9349.0,
        timing(),
    );
    near(
        &run,
        "allocstall",
        at(&run, &result, "allocstall"),
        279.0,
        timing(),
    );
    near(
        &run,
        "queued",
        at(&run, &result, "kcompressd_queued"),
        23_667.0,
        WORK,
    );
    near(
        &run,
        "ring full",
        at(&run, &result, "kcompressd_ring_full"),
        12_069.0,
        timing(),
    );
}

/// Exercise 3: `--smp 5 ... kcompressd_cpu=2,3`: a third column `async_2w`, with fewer
/// stalls than sync; whether the rings overflow less is left to the host (in the text too).
#[test]
#[ignore = "with exercise 1, 4, 6 and 9: tests/run-all.sh --exercises"]
fn exercise3_the_number_of_workers() {
    let (run, result) = bench(
        &machine(5, "512M", "cortex-a53"),
        "scenario=bench bench_ram=16 ops=4096 kcompressd_cpu=2,3",
        3,
    );
    claim(
        &run,
        row(&run, "metric") == ["sync", "async", "async_2w", "async/sync", "async_2w/sync"],
        "a third column, async_2w, and its ratio to sync",
    );
    let get = |name: &str, key: &str| float(&run, mode(&run, &result, name), key);
    let full = (
        get("async", "kcompressd_ring_full"),
        get("async_2w", "kcompressd_ring_full"),
    );
    let stalls = [
        get("sync", "allocstall"),
        get("async", "allocstall"),
        get("async_2w", "allocstall"),
    ];
    below(
        &run,
        stalls[2],
        stalls[0],
        "two workers: fewer stalls than sync",
    );
    near(&run, "ring full, one worker", full.0, 1216.0, ORDER);
    near(&run, "ring full, two workers", full.1, 564.0, ORDER);
    for (got, seen) in stalls.into_iter().zip([116.0, 89.0, 50.0]) {
        near(&run, "allocstall", got, seen, timing());
    }
}

/// Exercise 4: `ring=16` and `ring=1024`. A small ring overflows often, so async looks
/// more like sync; a large one overflows less (but still does) and holds pages in
/// writeback longer, where refaults rescue them. The table's rows within their factors.
#[test]
#[ignore = "with exercise 1, 3, 6 and 9: tests/run-all.sh --exercises"]
fn exercise4_the_ring_size() {
    let runs = [16, 1024].map(|ring| {
        let (run, result) = bench(
            &default_machine(),
            &format!("scenario=bench bench_ram=16 ops=4096 ring={ring}"),
            3,
        );
        expect_lines(&run, &[&format!(", ring {ring}, ")]);
        (run, result)
    });
    // Per ring: (share of victims finding the ring full, queued, async/sync stalls, rescued).
    let [small, large] = [0, 1].map(|i| {
        let (run, result) = &runs[i];
        let asyn = mode(run, result, "async");
        let queued = float(run, asyn, "kcompressd_queued");
        let full = float(run, asyn, "kcompressd_ring_full");
        let stalls = pair(run, result, "allocstall");
        (
            full / (queued + full),
            queued,
            stalls.1 / stalls.0,
            float(run, asyn, "rescued"),
        )
    });
    let run = &runs[1].0;
    below(
        run,
        large.0,
        small.0,
        "a small ring overflows more often than a large one",
    );
    below(
        run,
        small.1,
        large.1,
        "fewer pages queued through a small ring",
    );
    claim(run, large.0 > 0.0, "even 1024 tickets overflowed");
    below(
        run,
        large.2,
        small.2,
        "with a small ring async looks more like sync (more stalls)",
    );
    below(
        run,
        small.3,
        large.3,
        "a large ring holds pages in writeback, where refaults rescue them",
    );
    let (run16, run1024) = (&runs[0].0, &runs[1].0);
    near(
        run16,
        "ring=16: share of victims finding it full",
        small.0,
        0.57,
        timing(),
    );
    near(run16, "ring=16: pages queued", small.1, 2641.0, WORK);
    near(
        run1024,
        "ring=1024: share of victims finding it full",
        large.0,
        0.21,
        timing(),
    );
    near(run1024, "ring=1024: pages queued", large.1, 6501.0, WORK);
}

/// Exercise 5: `watermark_scale_factor=15` and `=100`. The first line's marks are the
/// ones the text computes for the bench's 4,574 managed frames: `min 135 low 168 high
/// 201` and `min 135 low 180 high 225`. The effects are within the noise: only the
/// stall figures, within their factor.
#[test]
fn exercise5_the_watermark_scale() {
    for (wsf, marks, stalls) in [
        (15, (135, 168, 201), (115.0, 57.0)),
        (100, (135, 180, 225), (105.0, 80.0)),
    ] {
        let (run, result) = bench(
            &default_machine(),
            &format!("scenario=bench bench_ram=16 ops=4096 watermark_scale_factor={wsf}"),
            3,
        );
        let (managed, min, low, high) = bench_zone(&run);
        claim(
            &run,
            managed == 4574 && (min, low, high) == marks && watermarks(managed, wsf) == marks,
            &format!("4,574 managed frames, watermarks {marks:?} at {wsf}"),
        );
        let got = pair(&run, &result, "allocstall");
        near(&run, "allocstall sync", got.0, stalls.0, timing());
        near(&run, "allocstall async", got.1, stalls.1, timing());
    }
}

/// Exercise 6: `ring_full=oldest`; which pages wait changes, not how many: only the
/// figures, within their factors.
#[test]
#[ignore = "with exercise 1, 3, 4 and 9: tests/run-all.sh --exercises"]
fn exercise6_the_overflow_order() {
    let (run, result) = bench(
        &default_machine(),
        "scenario=bench bench_ram=16 ops=4096 ring_full=oldest",
        3,
    );
    expect_lines(&run, &["ring_full=oldest"]);
    let asyn = mode(&run, &result, "async");
    near(
        &run,
        "queued",
        float(&run, asyn, "kcompressd_queued"),
        7732.0,
        WORK,
    );
    near(
        &run,
        "ring full",
        float(&run, asyn, "kcompressd_ring_full"),
        1779.0,
        timing(),
    );
    let stalls = pair(&run, &result, "allocstall");
    near(&run, "allocstall sync", stalls.0, 114.0, timing());
    near(&run, "allocstall async", stalls.1, 60.0, timing());
}

/// Exercise 7: `scenario=race` in both modes (64 MiB): many rescues in both, more in
/// async; a few `waited`; 0 corrupt always.
#[test]
fn exercise7_the_race_with_writeback() {
    let [asyn, sync] = [("async", 982.0), ("sync", 214.0)].map(|(reclaim, rescues)| {
        let run = qemu(
            &machine(4, "64M", "cortex-a53"),
            &format!("scenario=race reclaim={reclaim}"),
        );
        let result = run.expect_pass("race");
        claim(
            &run,
            number(&run, &result, "corrupt_pages") == 0,
            "0 corrupt always",
        );
        claim(&run, number(&run, &result, "waited") <= 50, "a few waited");
        let rescued = number(&run, &result, "rescued");
        near(&run, "rescued", rescued as f64, rescues, timing());
        (run, rescued)
    });
    below(
        &asyn.0,
        sync.1 as f64,
        asyn.1 as f64,
        "more rescues in async than in sync",
    );
}

/// Exercise 8: `--cpu max`: the MMU sets the access flag, so `"hw_af":true` and
/// `"af_faults":0`, and the second chance still works: 0 corrupt.
#[test]
fn exercise8_hardware_access_flag() {
    let run = qemu(&machine(4, "64M", "max"), "scenario=reclaim reclaim=async");
    let result = run.expect_pass("reclaim");
    expect_lines(
        &run,
        &["hardware AF on", "\"hw_af\":true", "\"af_faults\":0"],
    );
    claim(
        &run,
        number(&run, &result, "corrupt_pages") == 0,
        "0 corrupt",
    );
}

/// Exercise 9: `mix=` all random, all same-filled, all text. All random: the bench stops
/// out of memory during the launch, prints no table and exits 1 with RESULT's error.
/// Same-filled: no compression ratio (`n/a`), kcompressd hardly busy. Text: ratio
/// about 2.6, less direct reclaim in async.
#[test]
#[ignore = "with exercise 1, 3, 4 and 6: tests/run-all.sh --exercises"]
fn exercise9_the_page_mix() {
    let words = "scenario=bench bench_ram=16 ops=4096 mix=";
    let run = qemu(&default_machine(), &format!("{words}0,0,0,0,100"));
    claim(
        &run,
        run.status == Some(1),
        "all random: the bench fails with exit status 1",
    );
    let error = run.result().unwrap_or_else(|e| run.fail(&e));
    let error = string(&run, &error, "error");
    claim(
        &run,
        error.starts_with("bench_ram=16 MiB cannot work: ")
            && error.contains("no bench_ram= can")
            && !run.stdout.contains("run 1 started")
            && !run.stdout.contains("--- bench: sync vs async"),
        "all random: refused before any run, RESULT's error, no table",
    );

    let (run, result) = bench(&default_machine(), &format!("{words}50,50,0,0,0"), 3);
    claim(
        &run,
        row(&run, "compr_ratio")[..2] == ["n/a", "n/a"]
            && pair(&run, &result, "same_pages").0 > 0.0,
        "all same-filled: same_pages, and no compression ratio (n/a)",
    );
    let asyn = mode(&run, &result, "async");
    let kcompressd = float(&run, asyn, "kcompressd_busy_pct");
    claim(
        &run,
        kcompressd < 30.0,
        "all same-filled: kcompressd busy only a little",
    );
    // 4 to 16 µs a page, against about 60 µs with the default mix (exercise 1).
    claim(
        &run,
        float(&run, asyn, "kcompressd_ns_per_page") < 30_000.0,
        "all same-filled: a few µs a page for kcompressd, far below the default mix's",
    );
    near(
        &run,
        "same_pages",
        pair(&run, &result, "same_pages").0,
        4308.0,
        WORK,
    );

    let (run, result) = bench(&default_machine(), &format!("{words}0,0,100,0,0"), 3);
    let ratio = pair(&run, &result, "compr_ratio");
    claim(
        &run,
        (2.4..2.8).contains(&ratio.0),
        "all text: ratio about 2.6",
    );
    claim(
        &run,
        pair(&run, &result, "same_pages") == (0.0, 0.0),
        "all text: no same-filled page",
    );
    let direct = pair(&run, &result, "pgsteal_direct");
    below(
        &run,
        direct.1,
        direct.0,
        "all text: less direct reclaim in async",
    );
}

/// Exercise 10 and docs/trace.md's "Try it" and "What a student sees": `scenario=bench
/// bench_ram=16 ops=4096 bench_runs=1 trace=on` into a log, then `trace-convert` to JSON
/// and SVG. One dump per mode, none lost, the tracepoint names, the spans on their
/// cores, as many direct-reclaim spans as `allocstall` and rescues as `rescued`.
#[test]
fn exercise10_trace_a_run() {
    let (run, result) = bench(
        &default_machine(),
        "scenario=bench bench_ram=16 ops=4096 bench_runs=1 trace=on",
        1,
    );
    let dir = std::env::temp_dir().join(format!("exercise10-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let [log, json, svg] =
        ["bench-trace.log", "bench-trace.json", "bench-trace.svg"].map(|f| dir.join(f));
    std::fs::write(&log, &run.stdout).unwrap();
    let convert = Command::new(env!("CARGO_BIN_EXE_trace-convert"))
        .args([&log, &json, &svg])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&convert.stderr).into_owned();
    let (json, svg) = (read(&json), read(&svg));
    std::fs::remove_dir_all(&dir).unwrap();
    claim(
        &run,
        convert.status.success(),
        &format!("trace-convert converts the log ({said})"),
    );

    expect_lines(
        &run,
        &[
            "TRACE BEGIN label=sync freq_hz=",
            "TRACE END label=sync",
            "TRACE BEGIN label=async freq_hz=",
            "TRACE END label=async",
        ],
    );
    let dumps = parse_log(&run.stdout).unwrap_or_else(|e| run.fail(&e));
    let [sync, asyn] = dumps.as_slice() else {
        run.fail("expected one dump after each mode");
    };
    claim(
        &run,
        sync.label == "sync" && asyn.label == "async" && sync.lost() + asyn.lost() == 0,
        "one dump per mode, none lost",
    );
    claim(
        &run,
        said.matches(", 0 lost").count() == 2,
        "trace-convert says none was lost",
    );
    for name in [
        "mm_vmscan_wakeup_kswapd",
        "mm_vmscan_kswapd_wake",
        "mm_vmscan_kswapd_sleep",
        "mm_vmscan_lru_shrink_inactive",
        "mm_vmscan_direct_reclaim_begin",
        "mm_vmscan_direct_reclaim_end",
        "kcompressd_enqueue",
        "kcompressd_ring_full",
        "kcompressd_compress_done",
        "page_fault_first_touch",
        "page_fault_access_flag",
        "page_fault_swap",
        "swapin_done",
        "reclaim_sample",
    ] {
        claim(
            &run,
            events(sync, name, None) + events(asyn, name, None) > 0,
            &format!("the dumps carry {name}"),
        );
    }

    // What each dump shows, mode by mode: kswapd on CPU 1, the workload on CPU 3.
    for (dump, mode_name, seen_events, seen_wakes, seen_awake, seen_direct) in [
        (sync, "sync", 14_826.0, 39.0, 0.39 / 0.52, 98.0),
        (asyn, "async", 15_935.0, 24.0, 0.38 / 0.52, 78.0),
    ] {
        let m = mode(&run, &result, mode_name);
        let direct = spans(
            dump,
            3,
            "mm_vmscan_direct_reclaim_begin",
            "mm_vmscan_direct_reclaim_end",
        );
        claim(
            &run,
            direct.0 as u64 == number(&run, m, "allocstall")
                && events(dump, "mm_vmscan_direct_reclaim_begin", None) == direct.0,
            "the direct-reclaim spans, all on the workload's CPU, are allocstall",
        );
        claim(
            &run,
            events(dump, "swapin_rescue", None) as u64 == number(&run, m, "rescued"),
            "one swapin_rescue per rescued page",
        );
        let kswapd = spans(dump, 1, "mm_vmscan_kswapd_wake", "mm_vmscan_kswapd_sleep");
        claim(
            &run,
            kswapd.0 > 0 && kswapd.1 < seconds(dump),
            "kswapd's spans on CPU 1",
        );
        near(
            &run,
            "kswapd's awake share",
            kswapd.1 / seconds(dump),
            seen_awake,
            timing(),
        );
        near(
            &run,
            "direct-reclaim spans",
            direct.0 as f64,
            seen_direct,
            timing(),
        );
        near(
            &run,
            "events in the dump",
            dump.records.len() as f64,
            seen_events,
            WORK,
        );
        near(
            &run,
            "kswapd wake-ups",
            events(dump, "mm_vmscan_kswapd_wake", Some(1)) as f64,
            seen_wakes,
            timing(),
        );
        // A workload CPU emits 13,000 to 37,000 events a second under TCG.
        let rate = dump.records.iter().filter(|(c, _)| *c == 3).count() as f64 / seconds(dump);
        claim(
            &run,
            (13_000.0 / TIMING..37_000.0 * TIMING).contains(&rate),
            &format!("the workload CPU emits 13,000 to 37,000 events a second ({rate:.0})"),
        );
    }
    // trace.md's "Cost": one emit, a reclaim_sample to the kswapd_sleep right after it.
    let mut gaps: Vec<u64> = [sync, asyn].into_iter().flat_map(emit_gaps).collect();
    gaps.sort_unstable();
    let median = gaps.get(gaps.len() / 2).copied().unwrap_or(0);
    near(
        &run,
        "ticks per emit, median",
        median as f64,
        64.0,
        timing(),
    );
    claim(
        &run,
        ring_depths(sync).iter().all(|&d| d == 0)
            && events(sync, "kcompressd_compress_done", None) == 0,
        "in sync mode nothing is queued: the ring depth stays 0",
    );
    let batches = events(asyn, "kcompressd_compress_done", Some(2));
    claim(
        &run,
        batches > 0,
        "in async mode, CPU 2's compress batches alongside kswapd",
    );
    near(&run, "compress batches", batches as f64, 179.0, WORK);
    near(
        &run,
        "ring-full batches",
        events(asyn, "kcompressd_ring_full", None) as f64,
        116.0,
        timing(),
    );
    claim(
        &run,
        events(asyn, "kcompressd_ring_full", None) > 0
            && ring_depths(asyn).iter().any(|&d| d >= 200),
        "the ring depth reaching its limit at times",
    );
    let stalls = pair(&run, &result, "allocstall");
    below(
        &run,
        stalls.1,
        stalls.0,
        "fewer direct-reclaim spans in async",
    );

    // What trace-convert made: one process per dump, a thread per CPU named after its
    // role, kswapd's and direct reclaim's spans, counters, and an SVG of three panels.
    let trace: Value =
        serde_json::from_str(&json).unwrap_or_else(|e| run.fail(&format!("JSON: {e}")));
    let all = trace["traceEvents"]
        .as_array()
        .unwrap_or_else(|| run.fail("no traceEvents"));
    let named = |what: &str| -> Vec<&str> {
        all.iter()
            .filter(|e| e["name"] == what)
            .filter_map(|e| e["args"]["name"].as_str())
            .collect()
    };
    claim(
        &run,
        named("process_name") == ["sync", "async"],
        "one process per dump",
    );
    for thread in ["cpu1 kswapd", "cpu2 kcompressd", "cpu3 workload"] {
        claim(
            &run,
            named("thread_name").contains(&thread),
            &format!("a thread {thread}"),
        );
    }
    let thread_of = |tid: &Value| {
        all.iter()
            .find(|e| e["name"] == "thread_name" && e["tid"] == *tid)
            .and_then(|e| e["args"]["name"].as_str())
            .unwrap_or("")
    };
    for (span, thread) in [("kswapd awake", "kswapd"), ("direct reclaim", "workload")] {
        let on: Vec<&str> = all
            .iter()
            .filter(|e| e["ph"] == "B" && e["name"] == span)
            .map(|e| thread_of(&e["tid"]))
            .collect();
        claim(
            &run,
            !on.is_empty() && on.iter().all(|t| t.contains(thread)),
            &format!("{span} spans on the {thread}'s track"),
        );
    }
    for counter in [
        "free frames",
        "kcompressd ring depth",
        "reclaim rate (pgsteal_anon/s)",
    ] {
        claim(
            &run,
            all.iter().any(|e| e["ph"] == "C" && e["name"] == counter),
            &format!("a counter {counter}"),
        );
    }
    claim(
        &run,
        svg.starts_with("<svg")
            && qemu_tests::plot::series_lines(&svg) == 6
            && ["free frames", "reclaimed pages per second", "pages queued"]
                .iter()
                .all(|t| svg.contains(t)),
        "an SVG with three panels, sync and async overlaid",
    );
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// "The same knobs on the host": the harness's `--help` names every knob the text lists,
/// and `sweep runs=3 ring=16,256,1024 ram=4096` prints one row per value, the 16 MiB
/// zone's `min 128 low 160 high 192`, 0 corrupt, about a second a pair.
#[test]
#[ignore = "builds and runs the host harness: tests/run-all.sh --exercises"]
fn exercises_on_the_host() {
    let harness = |args: &[&str]| {
        let started = Instant::now();
        let out = Command::new(env!("CARGO"))
            .args(["run", "--release", "-q", "-p", "mm", "--features", "std"])
            .args(["--example", "reclaim-harness", "--"])
            .args(args)
            .current_dir(qemu_tests::repo_root())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "reclaim-harness {args:?} failed:\n{text}\n{said}"
        );
        (text, started.elapsed().as_secs_f64())
    };
    let (help, _) = harness(&["--help"]);
    for knob in [
        "mode=",
        "ring=",
        "ring_full=",
        "workers=",
        "wsf=",
        "mix=",
        "seed=",
    ] {
        assert!(help.contains(knob), "--help does not name {knob}:\n{help}");
    }
    let (sweep, took) = harness(&["sweep", "runs=3", "ring=16,256,1024", "ram=4096"]);
    assert!(
        sweep.contains("min 128 low 160 high 192"),
        "no 16 MiB watermarks:\n{sweep}"
    );
    // The rows follow the table's header, which starts with the swept key.
    let rows: Vec<Vec<&str>> = sweep
        .lines()
        .skip_while(|l| !l.starts_with("ring "))
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|cells| !cells.is_empty())
        .collect();
    let values: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(values, ["16", "256", "1024"], "one row per value:\n{sweep}");
    assert!(
        rows.iter().all(|r| r.last() == Some(&"0")),
        "corrupt pages:\n{sweep}"
    );
    // 3 values x 3 runs, a pair each.
    let per_pair = took / 9.0;
    assert!(
        per_pair < TIMING,
        "{per_pair:.2} s a pair, the docs say about a second"
    );
    // Section 12's host table: the four columns, each LRU's pipeline, nothing corrupt.
    let (apps, _) = harness(&["apps", "runs=5"]);
    for want in [
        "--- bench: classic_sync vs classic_async vs mglru_sync vs mglru_async (medians of 5 runs) ---",
        "apps: classic_sync and classic_async:",
        "apps: mglru_sync and mglru_async:",
    ] {
        assert!(apps.contains(want), "no \"{want}\":\n{apps}");
    }
    let corrupt = apps
        .lines()
        .find(|l| l.starts_with("corrupt_pages "))
        .unwrap_or_else(|| panic!("no corrupt_pages row:\n{apps}"));
    let cells: Vec<&str> = corrupt.split_whitespace().skip(1).take(4).collect();
    assert_eq!(cells, ["0"; 4], "corrupt pages:\n{apps}");
}

// ---------------------------------------------------------------------------------------
// docs/shell.md

/// The frames shell.md's session shows the 128 MiB zone managing: what RAM leaves once
/// the kernel image, its tables and the memmap are out, so any change in the kernel's
/// size moves it by a few frames.
const SHELL_ZONE_MANAGED: u64 = 29_766;

/// The example session (`--mem 128M`): the zone before the run (about 29,766 pages, min 345
/// low 431 high 517), the run's cores, `top` three seconds in, meminfo's lines and the
/// identities "What the numbers are" states, buddyinfo, the run's end, zram's ratio.
#[test]
fn shell_example_session() {
    let run = console(
        &machine(4, "128M", "cortex-a53"),
        &[
            "zoneinfo",
            "set ops=20000",
            "run pressure",
            "sleep 3",
            "top",
            "meminfo",
            "buddyinfo",
            "wait",
            "zram",
            "poweroff",
        ],
        1,
    );
    let zones = zoneinfos(&run);
    let [zone] = zones.as_slice() else {
        run.fail("expected one zoneinfo listing");
    };
    claim(
        &run,
        (zone.min, zone.low, zone.high) == (345, 431, 517)
            && zone.free == zone.managed
            && zone.managed.abs_diff(SHELL_ZONE_MANAGED) <= 64
            && watermarks(zone.managed, 10) == (345, 431, 517)
            && zone.state.contains("above high"),
        "pages free = managed = 29766 (within 64: the kernel image's size moves it), min 345, low 431, high 517: above high",
    );
    expect_lines(
        &run,
        &[
            "ops=20000",
            &format!(
                "ram=128 MiB ({} frames managed), anonymous 256 MiB (65536 pages, 130 tables)",
                zone.managed
            ),
            "kswapd on cpu1, kcompressd on cpu2, workloads on cpu3",
            "run pressure: ended with status 0",
        ],
    );

    let [top] = tops(&run)
        .try_into()
        .unwrap_or_else(|_| run.fail("expected one top"));
    near(
        &run,
        "top's interval, ms",
        top.interval_ms as f64,
        3035.0,
        1.5,
    );
    expect_jobs(&run, &top);
    claim(
        &run,
        busy(&run, &top, 0, "shell") < 20.0,
        "CPU 0 is busy only while it prints",
    );
    near(
        &run,
        "workload busy %",
        busy(&run, &top, 3, "workload"),
        99.0,
        2.0,
    );

    let kb = |name: &str| match meminfo(&run, name).as_slice() {
        [v] => *v,
        seen => run.fail(&format!("expected one meminfo {name}, got {seen:?}")),
    };
    for name in ["MemFree:", "Zswap:", "Zswapped:", "SwapFree:"] {
        kb(name);
    }
    claim(
        &run,
        kb("MemTotal:") == zone.managed * 4,
        "MemTotal is the zone's managed pages",
    );
    claim(
        &run,
        kb("AnonPages:") == kb("Active(anon):") + kb("Inactive(anon):"),
        "AnonPages counts the pages on the anon LRU lists",
    );
    claim(
        &run,
        kb("SwapTotal:") == 65_536 * 4 && kb("PageTables:") == 130 * 4,
        "SwapTotal: one entry per page of the region; PageTables: its 130 tables",
    );
    near(&run, "Slab: kB", kb("Slab:") as f64, 6237.0, WORK);
    let buddy = line(&run, "Node 0, zone   Normal ");
    claim(
        &run,
        buddy
            .split_whitespace()
            .skip(4)
            .filter(|n| n.parse::<u64>().is_ok())
            .count()
            == 11,
        "buddyinfo: free blocks of each order 0..10",
    );

    let pressure = of_scenario(&run, "reclaim");
    let [pressure] = pressure.as_slice() else {
        run.fail("expected the run's RESULT");
    };
    claim(
        &run,
        string(&run, pressure, "mode") == "async"
            && number(&run, pressure, "corrupt_pages") == 0
            && pressure.get("frames_accounted") == Some(&Value::Bool(true)),
        "the run ends clean: \"corrupt_pages\":0, \"frames_accounted\":true",
    );
    near(
        &run,
        "the run's ms",
        float(&run, pressure, "elapsed_ms"),
        6473.0,
        timing(),
    );
    // The parenthesis under the session: the run's /proc/vmstat at its end.
    let end = |name: &str| *counter(&run, name).last().unwrap_or(&0) as f64;
    near(
        &run,
        "pgsteal_anon at the end",
        end("pgsteal_anon"),
        78_026.0,
        WORK,
    );
    near(
        &run,
        "pgscan_kswapd at the end",
        end("pgscan_kswapd"),
        115_660.0,
        WORK,
    );
    near(
        &run,
        "allocstall_normal at the end",
        end("allocstall_normal"),
        335.0,
        timing(),
    );
    near(
        &run,
        "kcompressd_queued at the end",
        end("kcompressd_queued"),
        50_221.0,
        WORK,
    );
    expect_mm_stat_named(&run);
    let ratio = line(&run, "orig_data_size / compr_data_size = ");
    let ratio: f64 = ratio
        .rsplit(' ')
        .next()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0.0);
    near(&run, "compression ratio", ratio, 2.68, 1.15);
}

/// The two scripts of "Scripts". The first on 512 MiB: before any run everything is
/// free and zram all zero, `help` names every command, a `vmstat` piped right behind
/// `run pressure` already sees the run, and `poweroff` ends the run with the machine.
/// The second on 128 MiB: two runs, async then sync; vmstat never goes down, and each
/// run's RESULT counts only its own events.
#[test]
fn shell_scripts() {
    let run = console(
        &default_machine(),
        &[
            "help",
            "meminfo",
            "vmstat",
            "zram",
            "buddyinfo",
            "run pressure",
            "vmstat",
            "poweroff",
        ],
        0,
    );
    for command in [
        "help",
        "meminfo",
        "vmstat",
        "zram",
        "buddyinfo",
        "zoneinfo",
        "top",
        "show",
        "set",
        "run",
        "wait",
        "sleep",
        "trace",
        "poweroff",
    ] {
        claim(
            &run,
            run.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{command} "))),
            &format!("help lists {command}"),
        );
    }
    claim(
        &run,
        meminfo(&run, "MemFree:") == meminfo(&run, "MemTotal:")
            && mm_stats(&run)
                .first()
                .is_some_and(|s| s.iter().all(|&v| v == 0)),
        "before any run everything is free and zram is all zero",
    );
    claim(
        &run,
        counter(&run, "pgfault")
            .as_slice()
            .get(1)
            .is_some_and(|&v| v > 0),
        "a vmstat piped right behind run pressure already sees the run under way",
    );
    claim(
        &run,
        of_scenario(&run, "reclaim").is_empty(),
        "poweroff ends the run with the machine",
    );

    let run = console(
        &machine(4, "128M", "cortex-a53"),
        &[
            "set ops=2000",
            "run pressure",
            "wait",
            "vmstat",
            "set reclaim=sync",
            "run pressure",
            "wait",
            "poweroff",
        ],
        2,
    );
    let runs = of_scenario(&run, "reclaim");
    let modes: Vec<&str> = runs.iter().map(|r| string(&run, r, "mode")).collect();
    claim(
        &run,
        modes == ["async", "sync"],
        "an async run, then a sync one",
    );
    for r in &runs {
        claim(
            &run,
            number(&run, r, "corrupt_pages") == 0,
            "no corrupt page",
        );
    }
    // pgsteal_anon: run 1's report, the vmstat after it, run 2's report.
    let steal = counter(&run, "pgsteal_anon");
    claim(
        &run,
        steal.len() == 3
            && steal[1] == steal[0]
            && steal[2] == steal[1] + number(&run, &runs[1], "pgsteal_anon"),
        "vmstat never goes down; each run's RESULT counts only its own events",
    );
}

// ---------------------------------------------------------------------------------------
// Section 12: Android (scenario=apps)

/// The four columns of `scenario=apps`, in table order.
const APPS_COLUMNS: [&str; 4] = ["classic_sync", "classic_async", "mglru_sync", "mglru_async"];

/// `key` of each of the four columns, in `APPS_COLUMNS` order.
fn apps_row(run: &Run, result: &Map<String, Value>, key: &str) -> [f64; 4] {
    APPS_COLUMNS.map(|name| float(run, mode(run, result, name), key))
}

/// Runs a documented `scenario=apps` command: RESULT passes, 3 runs, every column
/// clean (verified pages, none corrupt).
fn apps(words: &str) -> (Run, Map<String, Value>) {
    let run = qemu(&default_machine(), words);
    let result = run.expect_pass("apps");
    if number(&run, &result, "runs") != 3 {
        run.fail("expected 3 runs of each column");
    }
    for name in APPS_COLUMNS {
        let m = mode(&run, &result, name);
        claim(&run, number(&run, m, "corrupt_pages") == 0, "0 corrupt");
        claim(
            &run,
            number(&run, m, "verified_pages") > 0,
            "pages verified",
        );
    }
    (run, result)
}

/// Exercise 11: the multi-gen LRU scans far fewer pages in both modes; about a kill a
/// run; the t_scan lines of both pairs.
#[test]
fn exercise11_classic_against_multi_gen() {
    let (run, result) = apps("scenario=apps bench_ram=16 ops=4096");
    expect_lines(
        &run,
        &[
            "apps: classic_sync and classic_async:",
            "apps: mglru_sync and mglru_async:",
            "mglru_sync/classic_sync",
        ],
    );
    let scanned = apps_row(&run, &result, "pgscan_kswapd");
    below(
        &run,
        scanned[2],
        scanned[0],
        "mglru scans fewer pages than classic, sync",
    );
    below(
        &run,
        scanned[3],
        scanned[1],
        "mglru scans fewer pages than classic, async",
    );
    for (what, got, seen) in [
        ("pgscan_kswapd classic sync", scanned[0], 20269.0),
        ("pgscan_kswapd mglru sync", scanned[2], 11229.0),
    ] {
        near(&run, what, got, seen, WORK);
    }
    let stalls = apps_row(&run, &result, "allocstall");
    near(&run, "allocstall classic sync", stalls[0], 86.0, timing());
    near(&run, "allocstall mglru sync", stalls[2], 90.0, timing());
    let kills: f64 = apps_row(&run, &result, "lmk_kills").iter().sum();
    claim(&run, kills >= 1.0, "the killer fires in the boot");
    claim(
        &run,
        run.stdout.contains("lmk: kill app"),
        "a line per kill",
    );
}

/// Exercise 12: `pressure` is zero before any run; after `run apps` some and full are
/// equal and non-zero, with kills while it ran.
#[test]
fn exercise12_watch_the_pressure() {
    let run = console(
        &machine(4, "128M", "cortex-a53"),
        &[
            "pressure",
            "set bench_ram=16 ops=4096 bench_runs=1",
            "run apps",
            "wait",
            "pressure",
            "poweroff",
        ],
        1,
    );
    let lines: Vec<&str> = run
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("some avg10=") || l.starts_with("full avg10="))
        .collect();
    let [some0, full0, some1, full1] = lines.as_slice() else {
        run.fail(&format!("expected two pressure reports, got {lines:?}"));
    };
    claim(
        &run,
        *some0 == "some avg10=0.00 avg60=0.00 avg300=0.00 total=0"
            && *full0 == "full avg10=0.00 avg60=0.00 avg300=0.00 total=0",
        "all zero before the run",
    );
    claim(
        &run,
        some1.strip_prefix("some") == full1.strip_prefix("full"),
        "some and full equal (one task per workload CPU)",
    );
    let total: f64 = some1
        .rsplit_once("total=")
        .and_then(|(_, t)| t.parse().ok())
        .unwrap_or_else(|| run.fail(&format!("no total in {some1}")));
    near(&run, "some total", total, 911_448.0, timing());
    claim(
        &run,
        run.stdout.contains("lmk: kill app"),
        "kill lines while it runs",
    );
}

/// Exercise 13: `lmk=off`: no kill, no cold start; the stall totals of the docs.
#[test]
fn exercise13_without_the_killer() {
    let (run, result) = apps("scenario=apps bench_ram=16 ops=4096 lmk=off");
    expect_lines(&run, &["low-memory killer off"]);
    claim(
        &run,
        apps_row(&run, &result, "lmk_kills") == [0.0; 4]
            && apps_row(&run, &result, "cold_starts") == [0.0; 4],
        "no kill and no cold start",
    );
    claim(&run, !run.stdout.contains("lmk: kill"), "no kill line");
    let stall = apps_row(&run, &result, "psi_some_total_us");
    for (name, got, seen) in [
        ("classic_sync", stall[0], 281_644.0),
        ("mglru_async", stall[3], 382_743.0),
    ] {
        near(
            &run,
            &format!("psi_some_total_us {name}"),
            got,
            seen,
            timing(),
        );
    }
}
