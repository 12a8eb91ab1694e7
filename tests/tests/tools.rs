//! The tools that take the benchmark to another host, judged here: the QEMU bundle
//! must run with nothing of this host's QEMU on the path, and `tools/bench-many.sh`
//! must pick the documented layouts and print its table and RESULT from a short run.
#![forbid(unsafe_code)]

use qemu_tests::{build_kernel_once, number, run_tool};
use serde_json::Value;

/// The layout line `--dry-run` prints for `cores` host cores.
fn layout(cores: &str) -> String {
    let run = run_tool(
        "tools/bench-many.sh",
        &["--host-cores", cores, "--dry-run"],
        false,
    );
    if run.status != Some(0) {
        run.fail("bench-many.sh --dry-run failed");
    }
    run.stdout.lines().next().unwrap_or_default().to_string()
}

#[test]
fn bench_many_layouts_give_each_busy_vcpu_a_core() {
    for (cores, expected) in [
        (
            "16",
            "--smp 9: cpu0 reports, kswapd cpu1, kcompressd cpu2,3,4,5, workloads cpu6,7,8; 8 busy vCPUs for 16 host cores",
        ),
        (
            "8",
            "--smp 8: cpu0 reports, kswapd cpu1, kcompressd cpu2,3,4,5, workloads cpu6,7; 7 busy vCPUs for 8 host cores",
        ),
        (
            "4",
            "--smp 5: cpu0 reports, kswapd cpu1, kcompressd cpu2,3, workloads cpu4; 4 busy vCPUs for 4 host cores",
        ),
        (
            "2",
            "--smp 4: cpu0 reports, kswapd cpu1, kcompressd cpu2, workloads cpu3; 3 busy vCPUs for 2 host cores",
        ),
    ] {
        let line = layout(cores);
        assert!(line.ends_with(expected), "{cores} cores: {line}");
    }
    let run = run_tool("tools/bench-many.sh", &["--host-cores", "0"], false);
    assert_eq!(run.status, Some(2), "{}", run.output());
    assert!(run.stderr.contains("--host-cores wants a positive number"));
}

/// A short run of the 2-core layout: the table, the host-load rows and the RESULT
/// with one entry per worker count.
#[test]
fn bench_many_short_run_prints_table_and_result() {
    let kernel = build_kernel_once();
    let image = kernel.image.to_string_lossy();
    let run = run_tool(
        "tools/bench-many.sh",
        &[
            "--host-cores",
            "2",
            "--image",
            &image,
            "--runs",
            "1",
            "--ram",
            "16",
            "--budget",
            "200",
        ],
        true,
    );
    let result = run.expect_tool_result("bench-many");
    assert_eq!(number(&run, &result, "host_cores"), 2);
    assert_eq!(number(&run, &result, "smp"), 4);
    let Some(Value::Object(one)) = result.get("workers").and_then(|w| w.get("1")) else {
        run.fail("RESULT has no workers.1");
    };
    for mode in ["sync", "async"] {
        let Some(Value::Object(m)) = one.get(mode) else {
            run.fail(&format!("workers.1 has no {mode}"));
        };
        assert_eq!(number(&run, m, "corrupt_pages"), 0);
        assert!(number(&run, m, "pswpout") > 0);
    }
    let Some(Value::Array(host)) = result.get("host") else {
        run.fail("RESULT has no host rows");
    };
    assert_eq!(host.len(), 2, "one host row per run: {host:?}");
    for needle in ["pgsteal_anon/s", "1w/sync", "guest_vcpus", "qemu_cores"] {
        if !run.stdout.contains(needle) {
            run.fail(&format!("the output has no '{needle}'"));
        }
    }
}

/// The bundle runs under `env -i` and every library resolves inside it
/// (`--check`); then it boots the kernel through qemu-run.sh's `--qemu`/`--image`.
#[test]
fn qemu_bundle_packs_and_boots() {
    let kernel = build_kernel_once();
    let dir = std::env::temp_dir().join(format!("qemu-bundle-test-{}", std::process::id()));
    let archive = dir.join("qemu-bundle.tar.gz");
    let archive_s = archive.to_string_lossy().into_owned();
    let run = run_tool("tools/qemu-bundle.sh", &["--out", &archive_s], false);
    if run.status != Some(0) || !run.stdout.contains("runs under env -i") {
        run.fail("the bundle was not packed and checked");
    }
    let unpacked = dir.join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    let status = std::process::Command::new("tar")
        .args(["-xzf", &archive_s, "-C"])
        .arg(&unpacked)
        .status()
        .unwrap();
    assert!(status.success());
    let qemu = unpacked.join("qemu-bundle/bin/qemu-system-aarch64");
    let (qemu, image) = (qemu.to_string_lossy(), kernel.image.to_string_lossy());
    let run = run_tool(
        "qemu-run.sh",
        &[
            "--qemu",
            &qemu,
            "--image",
            &image,
            "--timeout",
            "60",
            "--",
            "scenario=boot",
        ],
        true,
    );
    let _ = std::fs::remove_dir_all(&dir);
    run.expect_pass("boot");
}

/// qemu-run.sh says in one line when busy vCPUs outnumber the host's cores.
#[test]
fn qemu_run_notes_too_few_host_cores() {
    let host_cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let run = run_tool(
        "qemu-run.sh",
        &[
            "--no-build",
            "--smp",
            "16",
            "--timeout",
            "60",
            "--",
            "scenario=bench",
            "bench_ram=16",
            "ops=64",
            "bench_runs=1",
            "kcompressd_cpu=2,3,4,5,6,7,8,9",
            "workload_cpu=10,11,12,13,14,15",
        ],
        true,
    );
    let noted = run
        .stderr
        .lines()
        .filter(|l| l.contains("15 busy vCPUs on"))
        .count();
    if host_cores < 15 && noted != 1 {
        run.fail("no one-line note about too few host cores");
    }
    if host_cores >= 15 && noted != 0 {
        run.fail("a note about host cores on a host with enough of them");
    }
    run.expect_pass("bench");
}

/// tools/check-relocs.sh (run by kernel/mkimage.sh) passes the kernel's ELF, whose only
/// dynamic relocations are the R_AARCH64_RELATIVE ones boot/head.s applies, and refuses
/// an ELF with others: this test's own host executable.
#[test]
fn check_relocs_passes_the_kernel_and_refuses_other_relocations() {
    let kernel = build_kernel_once();
    let elf = kernel.elf.to_string_lossy();
    let run = run_tool("tools/check-relocs.sh", &[&elf], false);
    assert_eq!(run.status, Some(0), "{}", run.output());
    let host = std::env::current_exe().expect("the test's own path");
    let run = run_tool("tools/check-relocs.sh", &[&host.to_string_lossy()], false);
    assert_eq!(run.status, Some(1), "{}", run.output());
    assert!(
        run.stderr
            .contains("boot/head.s applies only 8-byte-aligned R_AARCH64_RELATIVE"),
        "{}",
        run.output()
    );
}
