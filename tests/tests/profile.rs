//! The instruction profiler on a short kernel boot (`./qemu-run.sh --icount --profile`):
//! the plugin writes one window per bench run, the tool accounts for every counted
//! instruction exactly once, the window's count agrees with the guest clock under
//! -icount, compression is found where the layout puts it, and the step rules leave
//! almost nothing unnamed (a renamed function shows here first).
#![forbid(unsafe_code)]

use insn_profile::attribute::attribute;
use insn_profile::dump;
use insn_profile::steps::{Kernel, Steps};
use insn_profile::symbols::ElfSymbolizer;
use qemu_tests::{build_kernel_once, number, run_tool};
use serde_json::Value;

#[test]
fn a_profiled_bench_accounts_for_every_instruction() {
    let kernel = build_kernel_once();
    let dir = std::env::temp_dir().join(format!("profile-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let prof = dir.join("bench.prof");
    let prof_arg = prof.to_str().unwrap();
    let run = run_tool(
        "qemu-run.sh",
        &[
            "--no-build",
            "--icount",
            "--profile",
            prof_arg,
            "--",
            "scenario=bench",
            "bench_ram=16",
            "ops=1024",
            "bench_runs=1",
        ],
        true,
    );
    let result = run.expect_pass("bench");
    let text =
        std::fs::read_to_string(&prof).unwrap_or_else(|e| run.fail(&format!("{prof_arg}: {e}")));
    let d = dump::parse(&text).unwrap_or_else(|e| run.fail(&e));
    // One window per run: sync, then async (bench_runs=1).
    if d.windows.len() != 2 || d.vcpus != 4 {
        run.fail(&format!(
            "{} windows, {} vCPUs: want 2 and 4",
            d.windows.len(),
            d.vcpus
        ));
    }
    let steps = Steps::builtin();
    let step = |name: &str| steps.steps.iter().position(|s| s.name == name).unwrap();
    let mut sym = ElfSymbolizer {
        elf: kernel.elf.to_str().unwrap().to_string(),
        load_offset: 0,
    };
    for (w, mode) in d.windows.iter().zip(["sync", "async"]) {
        let a =
            attribute(w, d.vcpus, Kernel::This, &steps, &mut sym).unwrap_or_else(|e| run.fail(&e));
        // Every instruction the plugin counted is charged once: per vCPU and in all.
        let per_vcpu: Vec<u64> = (0..d.vcpus)
            .map(|v| a.by_step.iter().map(|s| s[v]).sum())
            .collect();
        if per_vcpu != w.per_vcpu(d.vcpus) {
            run.fail(&format!(
                "{mode}: steps per vCPU {per_vcpu:?} != counted {:?}",
                w.per_vcpu(d.vcpus)
            ));
        }
        // Under -icount the guest clock counts instructions (1 ns each): the window
        // (daemons started to workloads ended) and the workloads' elapsed time agree.
        let Some(Value::Object(m)) = result.get(mode) else {
            run.fail(&format!("RESULT has no '{mode}'"));
        };
        let clock = number(&run, m, "elapsed_ms") as f64 * 1e6;
        let total = a.total() as f64;
        if (total - clock).abs() > 0.1 * clock {
            run.fail(&format!(
                "{mode}: {total} instructions counted, guest clock {clock} ns"
            ));
        }
        // Compression is where the layout puts it: kswapd (cpu1) in sync, the worker
        // (cpu2) in async; and it is the known function.
        let compress = &a.by_step[step("compress")];
        let (by, idle) = if mode == "sync" { (1, 2) } else { (2, 1) };
        if compress[by] == 0 || compress[by] < 10 * compress[idle] {
            run.fail(&format!("{mode}: compression per vCPU {compress:?}"));
        }
        let known = a.by_function.iter().any(|((s, f), v)| {
            *s == step("compress") && f.starts_with("lz4_flex::block::compress::") && v[by] > 0
        });
        if !known {
            run.fail(&format!(
                "{mode}: lz4_flex's compressor not found on cpu{by}"
            ));
        }
        let other = a.by_step[steps.other()].iter().sum::<u64>() as f64;
        if other > 0.02 * total {
            run.fail(&format!(
                "{mode}: {other} of {total} instructions in no step (profile/steps.conf)"
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
