//! The command-line fuzzer for the whole kernel (issue 15): random command lines, valid
//! and invalid, drawn from every key's grammar (`platform::cmdline::Key::ALL`), each
//! booted with a short timeout on a random machine and judged: no panic or unexpected
//! exception, no hang, exactly one `RESULT` line that parses, and an exit status that
//! agrees with it (0 iff no `"error"`, no corrupt page in a pass, 2 iff the kernel's own
//! parser, run here too, refuses the line). `CMDLINE_FUZZ_CASES` (default 24, the CI
//! size) and `CMDLINE_FUZZ_SEED` (default: from the clock) choose the run, and
//! `CMDLINE_FUZZ_ONLY=3,17` replays single cases of it; the seed and every failing
//! command are printed (docs/testing.md).
#![forbid(unsafe_code)]

use mm::pagegen::SplitMix64;
use platform::cmdline::{
    CmdLine, ExitMethod, Key, LruKind, MAX_BENCH_MIB, MAX_RING, MAX_WATERMARK_SCALE_FACTOR, OnOff,
    Placement, ReclaimMode, RingFull, Scenario,
};
use qemu_tests::{Boot, Run};
use serde_json::{Map, Value};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Cases when `CMDLINE_FUZZ_CASES` is not set: what CI runs (a few minutes on 2 cores).
const CI_CASES: usize = 24;
/// Seconds a boot may take before it counts as a hang.
const TIMEOUT_SECS: u32 = 60;
/// Tiny machines (too small for reclaim's metadata), one case in ten.
const TINY_MEM: &[&str] = &["8M", "12M"];
/// The usual sizes: `SMALL` of them (at the edge of what reclaim's metadata needs,
/// 30 to 70 MiB with the CPUs) are a scenario's one case in five when it sets reclaim
/// up; the scenarios that first touch twice the RAM get at most `RECLAIM_MEM_MAX` of
/// them (a few seconds).
const MEM: &[&str] = &["24M", "32M", "48M", "64M", "96M", "128M", "256M", "512M"];
const SMALL: usize = 3;
const RECLAIM_MEM_MAX: usize = 6;
/// Commands `scenario=shell` may get (`shell_script`).
const SHELL_COMMANDS: &[&str] = &[
    "help",
    "meminfo",
    "vmstat",
    "zram",
    "buddyinfo",
    "zoneinfo",
    "top",
    "show",
    "nosuch",
    "set seed=7",
    "set ring=0",
    "set pace=0",
    "sleep 0",
];

/// u64::MAX + 1, and numbers of every edge.
const TOO_BIG: &str = "18446744073709551616";
const U64_MAX: &str = "18446744073709551615";

/// The seeded generator: every draw of a case comes from its own seed.
struct Gen(SplitMix64);

impl Gen {
    fn below(&mut self, n: usize) -> usize {
        self.0.below(n)
    }

    /// True `pct` percent of the time.
    fn chance(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.0.next_u64() % (hi - lo + 1)
    }
}

/// How a key's value is drawn.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Draw {
    Valid,
    Edge,
    Invalid,
}

/// One case: the machine, the words, the console input.
struct Case {
    mem: &'static str,
    smp: u32,
    words: Vec<String>,
    input: Option<String>,
}

/// Whether `scenario` does work in proportion to `key` (so large values would only
/// make it long, not wrong: they are drawn only where the key is ignored or refused).
fn costly(scenario: Scenario, key: Key) -> bool {
    use Scenario::*;
    match key {
        Key::Ops => matches!(scenario, Reclaim | Race | Oom | Bench | Apps),
        Key::SoakS => scenario == Soak,
        Key::BenchRuns
        | Key::BenchRam
        | Key::BenchAnon
        | Key::Pace
        | Key::BenchWorkers
        | Key::BenchBudgetS => matches!(scenario, Bench | Apps),
        _ => false,
    }
}

/// Up to `most` distinct CPUs, mostly among those a daemon or workload may take (2 and
/// up: 0 reports, 1 is kswapd's by default), sometimes any up to one past the last.
fn cpu_list(g: &mut Gen, smp: u32, most: usize) -> String {
    let (lo, hi) = if smp > 2 && g.chance(80) {
        (2, u64::from(smp) - 1)
    } else {
        (0, u64::from(smp))
    };
    let n = (1 + g.below(most)).min((hi - lo + 1) as usize);
    let mut cpus: Vec<u64> = Vec::new();
    while cpus.len() < n {
        let cpu = g.range(lo, hi);
        if !cpus.contains(&cpu) {
            cpus.push(cpu);
        }
    }
    join(&cpus)
}

fn join(values: &[u64]) -> String {
    values
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn words_of<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|&v| name(v)).collect()
}

/// A value for `key` drawn as `draw` (the scenario and the core count keep valid runs
/// short and cores plausible).
fn value(g: &mut Gen, key: Key, draw: Draw, scenario: Scenario, smp: u32) -> String {
    let costly = costly(scenario, key);
    let number = |g: &mut Gen, valid: (u64, u64), edges: &[&str]| match draw {
        Draw::Valid => g.range(valid.0, valid.1).to_string(),
        Draw::Edge => g.pick(edges).to_string(),
        Draw::Invalid => g
            .pick(&["", "-1", "+1", "1e3", "0x10", "1.5", "x", TOO_BIG, "٣"])
            .to_string(),
    };
    let word = |g: &mut Gen, valid: &[&'static str]| match draw {
        Draw::Invalid => g
            .pick(&["", "bogus", "ON", "Sync", "1", "boot=1", "é"])
            .to_string(),
        _ => g.pick(valid).to_string(),
    };
    let list = |g: &mut Gen, valid: String, edges: &[&str]| match draw {
        Draw::Valid => valid,
        Draw::Edge => g.pick(edges).to_string(),
        Draw::Invalid => g
            .pick(&["", "1,,2", "2,2", "0,1,2,3,4,5,6,7,8", "1,x", ",", "-1"])
            .to_string(),
    };
    match key {
        Key::Scenario => word(g, &words_of(Scenario::ALL, Scenario::name)),
        Key::Exit => word(g, &words_of(ExitMethod::ALL, ExitMethod::name)),
        Key::Reclaim => word(g, &words_of(ReclaimMode::ALL, ReclaimMode::name)),
        Key::RingFull => word(g, &words_of(RingFull::ALL, RingFull::name)),
        Key::Lru => word(g, &words_of(LruKind::ALL, LruKind::name)),
        Key::LruGenMinTtlMs => number(
            g,
            (0, 5000),
            &["0", "1", "536870911", "536870912", "4294967296"],
        ),
        Key::Trace | Key::Lmk => word(g, &words_of(OnOff::ALL, OnOff::name)),
        Key::Placement => word(g, &words_of(Placement::ALL, Placement::name)),
        Key::KswapdCpu => number(
            g,
            (1, u64::from(smp.max(2)) - 1),
            &["0", "1", "7", "15", "4294967295", "4294967296"],
        ),
        Key::KcompressdCpu | Key::WorkloadCpu => {
            let valid = cpu_list(g, smp, 3);
            list(g, valid, &["0", "0,1,2,3,4,5,6,7", "4294967295", "9"])
        }
        Key::BenchWorkers => {
            let valid = match g.below(4) {
                0 => "1,2",
                1 => "2",
                2 => "2,1",
                _ => "1",
            };
            list(
                g,
                valid.to_string(),
                &["8", "1,2,3,4,5,6,7,8", "4294967295"],
            )
        }
        Key::Mix => match draw {
            Draw::Valid => {
                let mut parts = [0u64; 5];
                let mut left = 100;
                for part in parts.iter_mut().take(4) {
                    *part = g.range(0, left);
                    left -= *part;
                }
                parts[4] = left;
                join(&parts)
            }
            Draw::Edge => g
                .pick(&["0,0,0,0,100", "100,0,0,0,0", "0,100,0,0,0", "0,0,100,0,0"])
                .to_string(),
            Draw::Invalid => g
                .pick(&["1,2,3", "3,1,30,59,8", "3,1,30,59,7,0", "101,0,0,0,0", ""])
                .to_string(),
        },
        Key::Ring => number(g, (1, u64::from(MAX_RING)), &["1", "1024", "0", "1025"]),
        Key::WatermarkScaleFactor => number(
            g,
            (1, u64::from(MAX_WATERMARK_SCALE_FACTOR)),
            &["1", "3000", "0", "3001"],
        ),
        Key::Seed => number(g, (0, u64::MAX - 1), &["0", "1", U64_MAX, TOO_BIG]),
        Key::Ops if costly => number(g, (0, 3000), &["0", "1"]),
        Key::Ops => number(g, (0, 1 << 20), &["0", "1", U64_MAX, TOO_BIG]),
        Key::SoakS if costly => number(g, (0, 3), &["0", "1"]),
        Key::SoakS => number(g, (0, 600), &["0", U64_MAX, TOO_BIG]),
        Key::BenchRuns if costly => number(g, (1, 1), &["1", "0"]),
        Key::BenchRuns => number(g, (1, 5), &["0", "1", U64_MAX]),
        // A bench RAM or anonymous memory beyond the machine's is refused at once.
        Key::BenchRam if costly => number(g, (1, 8), &["1", "2", "1048576", "1048577", "0"]),
        Key::BenchAnon if costly => number(g, (1, 16), &["1", "1048576", "1048577", "0"]),
        Key::BenchRam | Key::BenchAnon => number(
            g,
            (1, MAX_BENCH_MIB),
            &["0", "1", "1048576", "1048577", U64_MAX],
        ),
        Key::Pace if costly => number(g, (5000, 1_000_000), &[U64_MAX, "0"]),
        Key::Pace => number(g, (1, 1_000_000), &["0", "1", U64_MAX]),
        Key::BenchBudgetS if costly => number(g, (1, 600), &["1", U64_MAX, "0"]),
        Key::BenchBudgetS => number(g, (1, 600), &["0", "1", U64_MAX, TOO_BIG]),
        // The consoles every fuzzed machine has (its PL011, by name or address): a UART
        // it lacks is refused by the kernel although the parser takes it, and one at a
        // random address would be written to.
        Key::Console => match draw {
            Draw::Invalid => g
                .pick(&["ttyS1", "tty0", "ttyS0,fast", "ttyS0,", ""])
                .to_string(),
            _ => g.pick(&["ttyAMA0", "ttyAMA0,115200n8"]).to_string(),
        },
        Key::Earlycon => match draw {
            Draw::Invalid => g
                .pick(&[
                    "uart8250",
                    "uart8250,io,0x10000",
                    "pl011,io,0x1000",
                    "cdns,0x0",
                    "",
                ])
                .to_string(),
            _ => g
                .pick(&["pl011,0x9000000", "pl011,mmio32,0x9000000,115200"])
                .to_string(),
        },
    }
}

/// A word that breaks the line's grammar rather than one key's.
fn broken_word(g: &mut Gen, words: &[String]) -> String {
    match g.below(4) {
        0 => g
            .pick(&["quiet", "scenario", "ops", "--", "root=/dev/sda"])
            .to_string(),
        1 => g
            .pick(&["nosuchkey=1", "Scenario=boot", "=boot", "ops =1", "mem=64M"])
            .to_string(),
        // A key given twice (the first word's key, another value).
        2 if !words.is_empty() => {
            let first = &words[g.below(words.len())];
            let key = first.split_once('=').map_or(first.as_str(), |(k, _)| k);
            format!("{key}=1")
        }
        _ => g
            .pick(&["=", "a=b=c", "é=1", "ops==1", "%", "\u{7f}=1"])
            .to_string(),
    }
}

/// Case `index` of the run with `seed`: every draw comes from both, so a case is the
/// same whatever ran before it.
fn case(seed: u64, index: usize) -> Case {
    let mut g = Gen(SplitMix64(
        seed ^ (index as u64).wrapping_mul(0xd134_2543_de82_ef95),
    ));
    let scenario = g.pick(Scenario::ALL);
    // Mostly 3 CPUs or more: the bench and async reclaim need them, fewer are refused.
    let smp = if g.chance(20) {
        g.range(1, 2)
    } else {
        g.range(3, 8)
    } as u32;
    let reclaim_like = matches!(
        scenario,
        Scenario::Reclaim | Scenario::Race | Scenario::Oom | Scenario::Soak
    );
    let sets_up_reclaim = reclaim_like || matches!(scenario, Scenario::Bench | Scenario::Apps);
    let mem = if g.chance(10) {
        g.pick(TINY_MEM)
    } else if !sets_up_reclaim || g.chance(20) {
        g.pick(
            &MEM[..if reclaim_like {
                RECLAIM_MEM_MAX
            } else {
                MEM.len()
            }],
        )
    } else if reclaim_like {
        g.pick(&MEM[SMALL..RECLAIM_MEM_MAX])
    } else {
        g.pick(&MEM[SMALL..])
    };
    // Two cases in five are well-formed (every value valid, no broken word, no exit=),
    // so that runs get past the parser as often as they stop at it.
    let clean = g.chance(40);
    let mut words = Vec::new();
    match g.below(100) {
        _ if clean => words.push(format!("scenario={}", scenario.name())),
        0..=2 => {}
        3..=5 => words.push(format!(
            "scenario={}",
            value(&mut g, Key::Scenario, Draw::Invalid, scenario, smp)
        )),
        _ => words.push(format!("scenario={}", scenario.name())),
    }
    // Keys that keep a valid run short, given whenever the scenario does that work.
    let forced: &[Key] = match scenario {
        Scenario::Bench | Scenario::Apps => &[Key::BenchRam, Key::BenchRuns],
        Scenario::Soak => &[Key::SoakS],
        Scenario::Reclaim | Scenario::Race | Scenario::Oom => &[Key::Ops],
        _ => &[],
    };
    // A well-formed line with 3 CPUs or more gets, half the time, a layout whose
    // cores agree (drawn one key at a time they mostly clash, and are refused).
    let layout = clean && smp >= 3 && g.chance(50);
    if layout {
        words.extend(layout_words(&mut g, smp));
    }
    let mut keys: Vec<Key> = Key::ALL
        .iter()
        .copied()
        .filter(|&k| k != Key::Scenario && k != Key::Exit)
        .filter(|k| !(layout && LAYOUT_KEYS.contains(k)))
        .filter(|k| forced.contains(k) || g.chance(20))
        .collect();
    // Shuffled: order must not matter.
    for i in (1..keys.len()).rev() {
        keys.swap(i, g.below(i + 1));
    }
    for key in keys {
        let draw = match g.below(100) {
            _ if clean => Draw::Valid,
            0..=81 => Draw::Valid,
            82..=95 => Draw::Edge,
            _ => Draw::Invalid,
        };
        let draw = if forced.contains(&key) && draw == Draw::Edge {
            Draw::Valid
        } else {
            draw
        };
        words.push(format!(
            "{}={}",
            key.name(),
            value(&mut g, key, draw, scenario, smp)
        ));
    }
    // exit=: mostly qemu-run.sh's own exit=semihosting; sometimes given (PSCI loses
    // the status), sometimes bad (qemu-run.sh refuses it before booting).
    match g.below(100) {
        _ if clean => {}
        0..=3 => words.push("exit=semihosting".to_string()),
        4..=5 => words.push(format!("exit={}", g.pick(&["psci", "reset"]))),
        6..=8 => words.push(format!(
            "exit={}",
            value(&mut g, Key::Exit, Draw::Invalid, scenario, smp)
        )),
        _ => {}
    }
    if !clean && g.chance(12) {
        let word = broken_word(&mut g, &words);
        let at = g.below(words.len() + 1);
        words.insert(at, word);
    }
    let input = (scenario == Scenario::Shell).then(|| shell_script(&mut g, mem, smp));
    Case {
        mem,
        smp,
        words,
        input,
    }
}

/// The keys that place kswapd, kcompressd and the workloads.
const LAYOUT_KEYS: &[Key] = &[
    Key::KswapdCpu,
    Key::KcompressdCpu,
    Key::WorkloadCpu,
    Key::BenchWorkers,
];

/// A layout of `smp` (3 or more) CPUs whose cores agree: kswapd on one CPU other than
/// 0, kcompressd on 1..3 others, sometimes the workloads on the ones left, and worker
/// counts among those listed.
fn layout_words(g: &mut Gen, smp: u32) -> Vec<String> {
    let mut free: Vec<u64> = (1..u64::from(smp)).collect();
    for i in (1..free.len()).rev() {
        free.swap(i, g.below(i + 1));
    }
    let kswapd = free.remove(0);
    let workers = 1 + g.below(free.len().min(3));
    let kcompressd: Vec<u64> = free.drain(..workers).collect();
    let mut words = vec![
        format!("kswapd_cpu={kswapd}"),
        format!("kcompressd_cpu={}", join(&kcompressd)),
    ];
    if !free.is_empty() && g.chance(50) {
        let n = 1 + g.below(free.len().min(2));
        words.push(format!("workload_cpu={}", join(&free[..n])));
    }
    if g.chance(50) {
        let mut counts: Vec<u64> = (1..=workers as u64).filter(|_| g.chance(60)).collect();
        if counts.is_empty() {
            counts.push(1);
        }
        words.push(format!("bench_workers={}", join(&counts)));
    }
    words
}

/// What `scenario=shell` reads: a few commands and `set` words of any key, sometimes
/// (on a machine small enough for a run to take seconds) a short `run pressure` or
/// `run bench` waited for, then `poweroff`.
fn shell_script(g: &mut Gen, mem: &str, smp: u32) -> String {
    let mut script = String::new();
    for _ in 0..g.below(4) {
        script.push_str(g.pick(SHELL_COMMANDS));
        script.push('\n');
    }
    for _ in 0..g.below(3) {
        let key = g.pick(Key::ALL);
        let draw = g.pick(&[Draw::Valid, Draw::Valid, Draw::Edge, Draw::Invalid]);
        // The bench's limits keep what a later run does short.
        let value = value(g, key, draw, Scenario::Bench, smp);
        script.push_str(&format!("set {}={value}\n", key.name()));
    }
    if MEM[..RECLAIM_MEM_MAX].contains(&mem) && g.chance(40) {
        let kind = g.pick(&["pressure", "bench", "apps"]);
        script.push_str(&format!(
            "set ops=300 bench_ram=2 bench_runs=1 soak_s=0\nrun {kind}\nwait\nvmstat\n"
        ));
    }
    script.push_str("poweroff\n");
    script
}

/// A console session's RESULT lines: each run's (`reclaim`, `bench` or `apps`), then the
/// shell's, whose `runs` and `runs_failed` must count them and their errors; the
/// shell's is returned.
fn shell_result(run: &Run) -> Result<Map<String, Value>, String> {
    let mut results = qemu_tests::parse_results(&run.stdout)?;
    let shell = results.pop().ok_or("no RESULT line")?;
    if shell.get("scenario").and_then(Value::as_str) != Some("shell") {
        return Err("the last RESULT is not the shell's".to_string());
    }
    let runs = results.len() as u64;
    let failed = results.iter().filter(|r| r.contains_key("error")).count() as u64;
    for r in &results {
        if !matches!(
            r.get("scenario").and_then(Value::as_str),
            Some("reclaim" | "bench" | "apps")
        ) {
            return Err(format!("a console run's RESULT is of no run: {r:?}"));
        }
        let mut corrupt = Vec::new();
        corrupt_figures(&Value::Object(r.clone()), &mut corrupt);
        if !r.contains_key("error") && corrupt.iter().any(|&c| c != 0.0) {
            return Err(format!("a run passed with corrupt pages {corrupt:?}"));
        }
    }
    let count = |key: &str| shell.get(key).and_then(Value::as_u64);
    if count("runs") != Some(runs) || count("runs_failed") != Some(failed) {
        return Err(format!(
            "the shell counts runs {:?}, failed {:?}; the console shows {runs}, {failed}",
            count("runs"),
            count("runs_failed")
        ));
    }
    Ok(shell)
}

/// The line the kernel gets: qemu-run.sh appends `exit=semihosting` unless an `exit=`
/// is given.
fn kernel_line(words: &[String]) -> String {
    let mut line = words.join(" ");
    if !words.iter().any(|w| w.starts_with("exit=")) {
        line.push_str(" exit=semihosting");
    }
    line
}

/// Every `corrupt_pages` figure in a RESULT (the bench has one per mode).
fn corrupt_figures(value: &Value, out: &mut Vec<f64>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if key == "corrupt_pages" {
                    out.push(v.as_f64().unwrap_or(f64::NAN));
                }
                corrupt_figures(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| corrupt_figures(v, out)),
        _ => {}
    }
}

/// What is wrong with how the case's boot ended, if anything.
fn judge(case: &Case, run: &Run) -> Result<(), String> {
    let status = match run.status {
        Some(124) | Some(137) => return Err(format!("hang: no end within {TIMEOUT_SECS} s")),
        None => return Err("killed by a signal".to_string()),
        Some(s) => s,
    };
    let output = run.output();
    if let Some(line) = output.lines().find(|l| {
        let l = l.trim_start();
        l.starts_with("*** ") || l.contains("panicked") || l.contains("kernel panic")
    }) {
        return Err(format!("fatal report: {line}"));
    }
    let bad_exit = case
        .words
        .iter()
        .filter_map(|w| w.strip_prefix("exit="))
        .find(|v| ExitMethod::from_name(v).is_none());
    if let Some(bad) = bad_exit {
        // qemu-run.sh refuses it before booting.
        return if status == 2 && run.stderr.contains(&format!("'exit={bad}'")) {
            Ok(())
        } else {
            Err(format!(
                "a bad exit={bad} was not refused by qemu-run.sh with status 2"
            ))
        };
    }
    let line = kernel_line(&case.words);
    let result: Map<String, Value> = match CmdLine::parse(&line) {
        Ok(cmd) if cmd.scenario == Scenario::Shell => shell_result(run)?,
        _ => run.result()?,
    };
    let scenario = result.get("scenario").and_then(Value::as_str);
    let error = result.get("error").and_then(Value::as_str);
    let psci = CmdLine::parse(&line).map_or_else(
        |_| {
            !line
                .split_ascii_whitespace()
                .any(|w| w == "exit=semihosting")
        },
        |c| c.exit != ExitMethod::Semihosting,
    );
    match CmdLine::parse(&line) {
        Err(e) => {
            if error != Some(format!("command line: {e}").as_str()) {
                return Err(format!(
                    "the line is refused here ({e}), the RESULT error does not say so"
                ));
            }
            if !psci && status != 2 {
                return Err(format!("a refused line exited {status}, not 2"));
            }
        }
        Ok(cmd) => {
            if scenario != Some(cmd.scenario.name()) {
                return Err(format!("RESULT is not of scenario {}", cmd.scenario.name()));
            }
            if error.is_some_and(|m| m.starts_with("command line:")) {
                return Err("a line the parser takes was refused".to_string());
            }
        }
    }
    if psci {
        // PSCI SYSTEM_OFF and SYSTEM_RESET read as 0 whatever the kernel's status.
        return if status == 0 {
            Ok(())
        } else {
            Err(format!("exit by PSCI ended with status {status}"))
        };
    }
    match (status, error) {
        (0, Some(e)) => return Err(format!("status 0 with a RESULT error: {e}")),
        (0, None) => {}
        (1 | 2, Some(_)) => {}
        (s, _) => return Err(format!("status {s} with RESULT {result:?}")),
    }
    if status == 0 {
        let mut corrupt = Vec::new();
        corrupt_figures(&Value::Object(result), &mut corrupt);
        if corrupt.iter().any(|&c| c != 0.0) {
            return Err(format!("status 0 with corrupt pages {corrupt:?}"));
        }
    }
    Ok(())
}

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value}: not a number")),
    )
}

/// Boots every case, at most `QEMU_TESTS_JOBS` (default 2) at a time, and fails with
/// the list of cases that went wrong, each with the command that replays it.
#[test]
fn random_command_lines_never_panic_hang_or_pass_falsely() {
    let cases = env_number("CMDLINE_FUZZ_CASES").map_or(CI_CASES, |n| n as usize);
    let seed = env_number("CMDLINE_FUZZ_SEED").unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let only: Option<Vec<usize>> = std::env::var("CMDLINE_FUZZ_ONLY").ok().map(|list| {
        list.split(',')
            .map(|i| i.trim().parse().expect("CMDLINE_FUZZ_ONLY: case numbers"))
            .collect()
    });
    let indices: Vec<usize> = only.unwrap_or_else(|| (0..cases).collect());
    eprintln!(
        "cmdline_fuzz: seed {seed}, {} cases (replay: CMDLINE_FUZZ_SEED={seed} CMDLINE_FUZZ_CASES={cases})",
        indices.len()
    );
    let jobs = std::env::var("QEMU_TESTS_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(2);
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs.min(indices.len()) {
            s.spawn(|| {
                while let Some(&index) = indices.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let case = case(seed, index);
                    let boot = Boot {
                        mem: case.mem,
                        smp: case.smp,
                        timeout_secs: TIMEOUT_SECS,
                        ..Boot::default()
                    };
                    let words: Vec<&str> = case.words.iter().map(String::as_str).collect();
                    let began = Instant::now();
                    let run = boot.run_with_input(&words, case.input.as_deref().map(str::as_bytes));
                    let verdict = judge(&case, &run);
                    let error = run.result().ok().and_then(|r| {
                        r.get("error").and_then(Value::as_str).map(|e| format!(" ({e})"))
                    });
                    let input = case
                        .input
                        .as_ref()
                        .map(|i| format!(" < {:?}", i.trim_end().replace('\n', "; ")));
                    eprintln!(
                        "cmdline_fuzz: case {index}: {} in {:.1} s, status {:?}{}: {}{}",
                        if verdict.is_ok() { "ok" } else { "FAIL" },
                        began.elapsed().as_secs_f64(),
                        run.status,
                        error.unwrap_or_default(),
                        run.command,
                        input.unwrap_or_default()
                    );
                    if let Err(why) = verdict {
                        let lines: Vec<&str> = run.stdout.lines().collect();
                        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
                        failures.lock().unwrap().push(format!(
                            "case {index} (CMDLINE_FUZZ_SEED={seed} CMDLINE_FUZZ_ONLY={index}): {why}\n  command: {}\n  console input: {:?}\n  stderr: {}\n  console (end):\n{tail}",
                            run.command,
                            case.input,
                            run.stderr.trim_end()
                        ));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    eprintln!(
        "cmdline_fuzz: seed {seed}: {} cases in {:.0} s, {} failed",
        indices.len(),
        start.elapsed().as_secs_f64(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "cmdline_fuzz: seed {seed}: {} of {} cases failed:\n\n{}",
        failures.len(),
        indices.len(),
        failures.join("\n\n")
    );
}
