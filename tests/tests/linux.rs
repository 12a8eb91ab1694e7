//! Linux beside the kernel, the smoke test: `tools/compare-linux.sh --small` boots
//! Debian's arm64 Linux with zram and this kernel on a tiny run of the same workload
//! (and both under -icount), and must print its table and a RESULT where every side
//! reclaimed, read back every page exactly, and has a cost per page. Under 2 minutes
//! on 2 cores once the Debian packages are cached (the first run downloads 60 MB).
#![forbid(unsafe_code)]

use qemu_tests::{number, run_tool};
use serde_json::Value;

#[test]
fn compare_linux_small_run_reports_every_side_clean() {
    let run = run_tool("tools/compare-linux.sh", &["--small", "--runs", "1"], true);
    let result = run.expect_tool_result("linux-compare");
    for side in ["linux", "sync", "async"] {
        let Some(Value::Object(m)) = result.get(side) else {
            run.fail(&format!("RESULT has no '{side}'"));
        };
        if number(&run, m, "corrupt_pages") != 0 {
            run.fail(&format!("{side}: corrupt pages"));
        }
        // The same workload: the same pages read back on every side.
        if number(&run, m, "verified_pages") != 8953 {
            run.fail(&format!("{side}: not the workload's 8,953 verified pages"));
        }
        if number(&run, m, "pswpout") == 0 {
            run.fail(&format!("{side}: nothing swapped out"));
        }
    }
    for side in ["linux", "sync"] {
        let m = result.get(side).and_then(Value::as_object).unwrap();
        if number(&run, m, "instructions_per_page") == 0 {
            run.fail(&format!("{side}: no instructions per page"));
        }
    }
    if !run.stdout.contains("sync/linux") {
        run.fail("no table");
    }
}
