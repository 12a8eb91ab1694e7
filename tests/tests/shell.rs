//! The console (`scenario=shell`, issues 6 and 15) driven through QEMU's serial port: a
//! script piped to qemu-run.sh's stdin, or a session that waits for output before
//! typing on, judged from what the console printed. Covers every command, bad input
//! (unknown command, bad values, an overlong line), the keys of a shell (history,
//! editing in the middle, Tab, Escape, Ctrl-W/L/C/D), `set KEY=default`, "did you
//! mean", `run pressure` in the background with counters that grow, a command answered
//! during a run's final check, the typed line redrawn after a run's output, a second
//! run in other settings, `run bench`, and `poweroff` with the session's RESULT.
#![forbid(unsafe_code)]

use qemu_tests::{Boot, Run, Step};
use serde_json::{Map, Value};

fn boot() -> Boot {
    Boot {
        mem: "128M",
        timeout_secs: 240,
        ..Boot::default()
    }
}

/// Pipes `script` into `scenario=shell` and checks the session ended with its RESULT
/// (`commands` lines run, `errors` refused) and exit status 0.
fn session(boot: &Boot, script: &str, commands: u64, errors: u64) -> Run {
    let run = boot.run_with_input(&["scenario=shell"], Some(script.as_bytes()));
    judge(run, commands, errors)
}

/// Checks `run` ended with the shell's RESULT (`commands` lines run, `errors` refused)
/// and exit status 0.
fn judge(run: Run, commands: u64, errors: u64) -> Run {
    if run.status != Some(0) {
        run.fail("the shell did not power off with status 0");
    }
    let shell = results(&run)
        .into_iter()
        .find(|r| r.get("scenario").and_then(Value::as_str) == Some("shell"))
        .unwrap_or_else(|| run.fail("no RESULT line from the shell"));
    let count = |key: &str| shell.get(key).and_then(Value::as_u64);
    if count("commands") != Some(commands) || count("errors") != Some(errors) {
        run.fail(&format!(
            "expected {commands} commands and {errors} errors, RESULT says {shell:?}"
        ));
    }
    run
}

/// Every `RESULT {json}` object the console printed: the runs' and the shell's.
fn results(run: &Run) -> Vec<Map<String, Value>> {
    qemu_tests::parse_results(&run.stdout).unwrap_or_else(|e| run.fail(&e))
}

/// The values of `/proc/vmstat` counter `name`, in the order the console printed them.
fn counter(run: &Run, name: &str) -> Vec<u64> {
    let prefix = format!("{name} ");
    run.stdout
        .lines()
        .filter_map(|line| line.trim_end().strip_prefix(&prefix))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| run.fail(&format!("{name}: bad value {v}")))
        })
        .collect()
}

fn expect_lines(run: &Run, wanted: &[&str]) {
    for want in wanted {
        if !run.stdout.contains(want) {
            run.fail(&format!("the console never printed \"{want}\""));
        }
    }
}

#[test]
fn every_command_bad_input_and_a_run_in_the_background() {
    let overlong = "x".repeat(200);
    let script = format!(
        "help\nmeminfo\nvmstat\nzram\nbuddyinfo\nzoneinfo\ntop\nshow\n\
         trace dump\ntrace on\ntrace off\ntrace dump\ntrace maybe\n\
         frobnicate\nset reclaim=fast\nset scenario=boot\nrun fast\nsleep 0\n{overlong}\n\
         set ops=2000 watermark_scale_factor=50\n\
         zoneinfx\x08o\nvmsx\x7ftat\x15buddyinfo\npoweroff\x03\n\
         run pressure\nrun bench\nset reclaim=sync\ntop\nwait\n\
         vmstat\nmeminfo\nzram\ntop\n\
         set reclaim=sync\nrun pressure\nwait\nshow\npoweroff\n"
    );
    // Non-blank lines but the cancelled one; refused: trace maybe, frobnicate, the two
    // bad sets, run fast, sleep 0, the overlong line, run bench and set during the run.
    let run = session(&boot(), &script, 36, 9);

    expect_lines(
        &run,
        &[
            // help, meminfo, vmstat, zram, buddyinfo, zoneinfo, top, show
            "  run pressure|bench|apps ",
            "MemTotal:",
            "Inactive(anon):",
            "SwapFree:",
            "kcompressd_queued 0",
            "mm_stat        0",
            "Node 0, zone   Normal ",
            "  pages free     ",
            "vm.watermark_scale_factor = 10 ",
            "vm.watermark_scale_factor = 50 ",
            "busy share of each core",
            "cpu0  shell",
            "reclaim=async  (default)\r\n",
            "scenario=shell  (fixed for this boot)",
            "trace: nothing recorded",
            "trace: on: each core records",
            "trace: off: what was recorded stays",
            "TRACE BEGIN label=console",
            "TRACE END label=console",
            // refusals, one line each
            "error: trace: bad argument \"maybe\": expected on|off|dump",
            "error: unknown command \"frobnicate\" (type help for the list)",
            "error: set: bad value in command-line word \"reclaim=fast\": expected sync|async",
            "error: set: \"scenario=boot\" is fixed for this boot",
            "error: run: bad argument \"fast\": expected pressure|bench|apps",
            "error: sleep: bad argument \"0\"",
            "error: line longer than 160 characters: refused",
            "error: run: run pressure is still active",
            "error: set: run pressure is active",
            // the run, with its cores, and the rerun in sync mode
            "cpu1  kswapd",
            "cpu3  workload",
            "run pressure: ended with status 0",
            "reclaim=sync\r\n",
        ],
    );
    for refused in ["zoneinfx", "vmstat", "poweroffbuddyinfo"] {
        if run.stdout.contains(&format!("unknown command \"{refused}")) {
            run.fail(&format!("line editing left \"{refused}\" in a line"));
        }
    }

    // Two pressure runs, async then sync, both clean.
    let runs: Vec<_> = results(&run)
        .into_iter()
        .filter(|r| r.get("scenario").and_then(Value::as_str) == Some("reclaim"))
        .collect();
    let modes: Vec<_> = runs.iter().map(|r| r["mode"].as_str()).collect();
    if modes != [Some("async"), Some("sync")] {
        run.fail(&format!("expected an async then a sync run, got {modes:?}"));
    }
    for r in &runs {
        if r["corrupt_pages"] != 0 || r["frames_accounted"] != true || r["pswpout"] == 0 {
            run.fail(&format!("a run from the console went wrong: {r:?}"));
        }
    }

    // vmstat before the run, then (from the runs and the console) after it: reclaim
    // counted scans and steals, and no counter went back.
    for name in ["pgscan_kswapd", "pgsteal_anon", "pswpout"] {
        let seen = counter(&run, name);
        if seen.len() < 4 || seen[0] != 0 || seen[1] == 0 || !seen.is_sorted() {
            run.fail(&format!(
                "{name}: expected 0 before the run, then growing, in at least 4 listings; saw {seen:?}"
            ));
        }
    }
}

/// `pressure`'s `some`/`full` totals (µs), in the order the console printed them,
/// each line checked against /proc/pressure/memory's format.
fn pressure_totals(run: &Run, which: &str) -> Vec<u64> {
    let prefix = format!("{which} avg10=");
    run.stdout
        .lines()
        .filter(|line| line.starts_with(&prefix))
        .map(|line| {
            let words: Vec<&str> = line.trim_end().split(' ').collect();
            let avg_ok = |w: &str, key: &str| {
                w.strip_prefix(key)
                    .and_then(|v| v.split_once('.'))
                    .is_some_and(|(i, f)| {
                        i.parse::<u64>().is_ok_and(|i| i <= 100)
                            && f.len() == 2
                            && f.bytes().all(|b| b.is_ascii_digit())
                    })
            };
            let total = words.get(4).and_then(|w| w.strip_prefix("total="));
            match (words.len(), total.and_then(|t| t.parse().ok())) {
                (5, Some(total))
                    if avg_ok(words[1], "avg10=")
                        && avg_ok(words[2], "avg60=")
                        && avg_ok(words[3], "avg300=") =>
                {
                    total
                }
                _ => run.fail(&format!(
                    "pressure: not /proc/pressure/memory's format: {line}"
                )),
            }
        })
        .collect()
}

#[test]
fn pressure_is_zero_before_any_run_and_counts_the_runs_stalls() {
    let script = "pressure\nset ops=2000\nrun pressure\nwait\npressure\npoweroff\n";
    let run = session(&boot(), script, 6, 0);
    expect_lines(
        &run,
        &[
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\r\n",
            "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\r\n",
        ],
    );
    let (some, full) = (pressure_totals(&run, "some"), pressure_totals(&run, "full"));
    let result = results(&run)
        .into_iter()
        .find(|r| r.get("scenario").and_then(Value::as_str) == Some("reclaim"))
        .unwrap_or_else(|| run.fail("no RESULT from run pressure"));
    let window = result
        .get("psi_some_total_us")
        .and_then(Value::as_u64)
        .unwrap_or_else(|| run.fail("RESULT has no psi_some_total_us"));
    // Since boot: zero before the run, then at least the run's window.
    if some.len() != 2 || some[0] != 0 || full[0] != 0 || window == 0 || some[1] < window {
        run.fail(&format!(
            "pressure: expected some total 0, then at least the run's {window} us; saw some {some:?} full {full:?}"
        ));
    }
    if full[1] > some[1] {
        run.fail(&format!("pressure: full {full:?} above some {some:?}"));
    }
}

/// meminfo's `Slab:` (kernel heap in use, kB), in the order the console printed it.
fn slab(run: &Run) -> Vec<u64> {
    run.stdout
        .lines()
        .filter_map(|line| line.strip_prefix("Slab:"))
        .map(|v| {
            let kb = v.trim().trim_end_matches("kB").trim();
            kb.parse()
                .unwrap_or_else(|_| run.fail(&format!("Slab: bad value {v}")))
        })
        .collect()
}

#[test]
fn repeated_runs_reuse_what_they_allocated_and_the_heap_comes_back_level() {
    let pressure = "run pressure\nwait\n";
    let script = format!(
        "set bench_ram=16 ops=2000 bench_runs=1\n{pressure}meminfo\n{}meminfo\n\
         run bench\nwait\nmeminfo\nrun bench\nwait\nmeminfo\n{pressure}meminfo\npoweroff\n",
        pressure.repeat(4)
    );
    let run = session(&boot(), &script, 23, 0);
    let all = results(&run);
    let of = |name: &str| -> Vec<&Map<String, Value>> {
        all.iter()
            .filter(|r| r.get("scenario").and_then(Value::as_str) == Some(name))
            .collect()
    };
    let (pressures, benches) = (of("reclaim"), of("bench"));
    if pressures.len() != 6 || benches.len() != 2 {
        run.fail(&format!(
            "expected 6 pressure and 2 bench RESULTs, got {} and {}",
            pressures.len(),
            benches.len()
        ));
    }
    for r in &pressures {
        if r["corrupt_pages"] != 0 || r["frames_accounted"] != true || r["pswpout"] == 0 {
            run.fail(&format!("a pressure run went wrong: {r:?}"));
        }
    }
    for r in &benches {
        let clean = |mode: &str| r.get(mode).is_some_and(|m| m["corrupt_pages"] == 0);
        if !clean("sync") || !clean("async") {
            run.fail(&format!("a bench run went wrong: {r:?}"));
        }
    }
    // Heap after the first run (the system built), after five, after each bench (the
    // first keeps its page pool for the next), and after a pressure run that follows.
    let heap = slab(&run);
    if heap.len() != 5 || heap[0] != heap[1] || heap[2] != heap[3] || heap[3] != heap[4] {
        run.fail(&format!(
            "Slab: after pressure x1, x5, bench x1, x2, then pressure: expected level, saw {heap:?} kB"
        ));
    }
    if heap[2] - heap[0] > 256 {
        run.fail(&format!(
            "the bench kept {} kB of heap; only its 192 kB page pool should stay",
            heap[2] - heap[0]
        ));
    }
    expect_lines(&run, &["run bench: ended with status 0"]);
}

/// `set lru=mglru` takes the next run to the multi-gen LRU (the LRU is empty between
/// runs, so it switches in place), `show` lists it, a later run goes back to the
/// classic LRU, and a bad value is refused with the parser's line.
#[test]
fn set_lru_switches_the_next_run() {
    let script = "set lru=mglru ops=4000\nshow\nrun pressure\nwait\nmeminfo\n\
                  set lru=classic\nrun pressure\nwait\nset lru=foo\npoweroff\n";
    let run = session(&boot(), script, 10, 1);
    expect_lines(
        &run,
        &[
            "lru=mglru\r\n",
            "lru=mglru ring 256",
            "lru=classic ring 256",
            "Inactive(anon):",
            "error: set: bad value in command-line word \"lru=foo\": expected classic|mglru",
        ],
    );
    let lrus: Vec<String> = results(&run)
        .iter()
        .filter_map(|r| r.get("lru").and_then(Value::as_str).map(String::from))
        .collect();
    assert_eq!(lrus, ["mglru", "classic"], "{}", run.output());
}

#[test]
fn two_cpus_leave_no_core_for_the_workload() {
    let boot = Boot { smp: 2, ..boot() };
    let run = session(&boot, "run pressure\nwait\npoweroff\n", 3, 0);
    expect_lines(
        &run,
        &[
            "reclaim: no core left for the workload",
            "run pressure: ended with status 1",
        ],
    );
}

const UP: &str = "\x1b[A";
const LEFT: &str = "\x1b[D";
const HOME: &str = "\x1b[H";
const END: &str = "\x1b[F";
const DELETE: &str = "\x1b[3~";

#[test]
fn keys_recall_edit_and_complete_as_in_a_shell() {
    let script = [
        // A near miss, then Up and Backspace to fix and rerun it.
        "vmstatt\n",
        UP,
        "\x7f\n",
        // Tab completes a command; Left and an insert fix a typo in the middle.
        "zon\t\n",
        "buddyifo",
        LEFT,
        LEFT,
        "n\n",
        // Escape then a key: the key counts.
        "\x1btop\n",
        // Ctrl-W kills the word before the cursor.
        "set frobnicate=1\x17seed=5\n",
        "set seed=default\n",
        "show\n",
        // Tab completes a set key; a second Tab lists what is ambiguous.
        "set wat\t50\n",
        "s\t\t\x15\n",
        // Ctrl-L clears the screen, Ctrl-C cancels.
        "help\x0c\x03",
        // Home, Delete, End.
        "xvmstat",
        HOME,
        DELETE,
        END,
        "\n",
        "set sed=1\n",
        // Ctrl-D on an empty line: poweroff.
        "\x04",
    ]
    .concat();
    // vmstatt, vmstat, zoneinfo, buddyinfo, top, three sets, show, vmstat, set sed=1,
    // poweroff; refused: vmstatt and set sed=1.
    let run = session(&boot(), &script, 12, 2);
    expect_lines(
        &run,
        &[
            "error: unknown command \"vmstatt\": did you mean vmstat? (type help for the list)",
            "kmm> vmstatt\x08 \x08\r\n",
            "pgscan_kswapd 0",
            "kmm> zoneinfo \r\n",
            "  pages free     ",
            "kmm> buddyifo\x08\x08nfo\x08\x08\r\n",
            "Node 0, zone   Normal      ",
            "kmm> top\r\n",
            "busy share of each core",
            "seed=5 (the next run uses it)",
            "seed=1 (default) (the next run uses it)",
            "\nseed=1  (default)\r\n",
            "\nring=256  (default)\r\n",
            "\nbench_anon=128  (default: twice bench_ram)\r\n",
            "watermark_scale_factor=50 (the next run uses it)",
            "\r\nshow  set  sleep\r\nkmm> s",
            "\x1b[H\x1b[2Jkmm> help^C\r\n",
            "error: set: unknown key \"sed\": did you mean seed?",
            "kmm> poweroff\r\n",
        ],
    );
    if run.stdout.matches("unknown command").count() != 1 {
        run.fail("a line fixed by editing was refused");
    }
    if run.stdout.matches("pgscan_kswapd 0").count() != 2 {
        run.fail("vmstat did not run twice (Up, and Home/Delete/End)");
    }
}

#[test]
fn the_console_answers_during_a_final_check_and_redraws_the_typed_line() {
    let steps = [
        Step::Type(b"run pressure\n"),
        Step::Await("run: checking every page"),
        // Ctrl-D is refused while the run is active; a command, then half a line that
        // the rest of the run's output prints over.
        Step::Type(b"\x04vmstat\nvms"),
        Step::Await("run pressure: ended with status 0"),
        Step::Type(b"tat\npoweroff\n"),
    ];
    let run = judge(boot().session(&["scenario=shell"], &steps), 5, 1);
    let at = |text: &str| {
        run.stdout
            .find(text)
            .unwrap_or_else(|| run.fail(&format!("the console never printed {text:?}")))
    };
    // vmstat answered while the run checked its pages: before the run's own vmstat.
    let answered = at("kmm> vmstat\r\npgfault ");
    if answered > at("--- /proc/vmstat ---") || answered < at("run: checking every page") {
        run.fail("vmstat was not answered during the run's final check");
    }
    // The run's output erased the half-typed line, and the prompt came back with it.
    expect_lines(
        &run,
        &[
            "error: Ctrl-D: run pressure is active (poweroff cuts it short)",
            "kmm> vms\r\x1b[K",
            "run pressure: ended with status 0\r\nkmm> vmstat\r\npgfault ",
        ],
    );
}
