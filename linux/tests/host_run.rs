//! The Linux workload run natively on the host, small enough that nothing is
//! reclaimed: every page checks out, the RESULT carries the bench's field names, and
//! what the host cannot say (no zram) is null, not 0. Bad arguments are refused.
#![forbid(unsafe_code)]

use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_linux-bench"))
        .args(args)
        .output()
        .expect("linux-bench runs")
}

#[test]
fn small_run_is_clean_and_reports_the_bench_fields() {
    let out = run(&["pages=512", "ops=4000", "zram=/nonexistent"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let result = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("a RESULT line");
    for field in [
        "\"scenario\":\"linux-bench\"",
        "\"pgsteal_anon_per_s\":",
        "\"allocstall\":",
        "\"corrupt_pages\":0",
        "\"verified_pages\":",
        "\"compr_ratio\":null",
        "\"mem_used_total\":null",
        "\"accesses\":4512",
    ] {
        assert!(result.contains(field), "{field} in {result}");
    }
}

#[test]
fn bad_arguments_are_refused() {
    for bad in [
        &["pages"][..],
        &["pages=x"],
        &["nokey=1"],
        &["pages=4", "apps=8"],
    ] {
        let out = run(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("usage:"),
            "{bad:?}"
        );
    }
}
