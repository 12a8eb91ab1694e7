//! The QEMU boot matrix and the kernel's refusals, judged from the host. Every CPU
//! model, core count from 1 to 16 (GICv2: 8), memory from 128 MiB to 2 GiB and above 4 GiB, GICv2
//! and v3, EL1 and EL2 entry, Image, ELF, U-Boot booti and FIT boots, and the PL011 and PCI 16550
//! consoles each appear at least once; not the full cross product (docs/testing.md
//! lists the rows).
#![forbid(unsafe_code)]

use qemu_tests::{
    Boot, Uart, Via, backtrace_lines, build_kernel_once, expect_boot, number, repo_root,
    run_qemu_directly, run_script,
};
use std::path::Path;
use std::process::{Command, Stdio};

/// One test per row: `name: CPU model, cores, memory, GIC version, entry EL, how it boots;`
macro_rules! boot_matrix {
    ($($name:ident: $cpu:literal, $smp:literal, $mem:literal, $gic:literal, $el:ident, $via:ident;)*) => {
        $(
            #[test]
            fn $name() {
                expect_boot(&Boot {
                    cpu: $cpu,
                    smp: $smp,
                    mem: $mem,
                    gic: $gic,
                    el2: stringify!($el) == "el2",
                    via: Via::$via,
                    ..Boot::default()
                });
            }
        )*
    };
}

boot_matrix! {
    // qemu-run.sh's defaults: what `./qemu-run.sh` boots.
    a53_4cpu_512m_gic3_el1_image: "cortex-a53", 4, "512M", 3, el1, Image;
    a53_1cpu_128m_gic2_el1_image: "cortex-a53", 1, "128M", 2, el1, Image;
    a53_2cpu_256m_gic3_el2_image: "cortex-a53", 2, "256M", 3, el2, Image;
    a53_8cpu_2g_gic2_el2_image: "cortex-a53", 8, "2G", 2, el2, Image;
    a53_8cpu_5g_gic3_el1_image: "cortex-a53", 8, "5G", 3, el1, Image;
    a53_16cpu_1g_gic3_el1_image: "cortex-a53", 16, "1G", 3, el1, Image;
    a72_1cpu_1g_gic3_el2_image: "cortex-a72", 1, "1G", 3, el2, Image;
    a72_3cpu_5g_gic2_el1_image: "cortex-a72", 3, "5G", 2, el1, Image;
    a72_6cpu_128m_gic3_el1_image: "cortex-a72", 6, "128M", 3, el1, Image;
    a76_2cpu_2g_gic2_el1_image: "cortex-a76", 2, "2G", 2, el1, Image;
    a76_4cpu_5g_gic3_el2_image: "cortex-a76", 4, "5G", 3, el2, Image;
    a76_7cpu_1g_gic3_el1_image: "cortex-a76", 7, "1G", 3, el1, Image;
    max_4cpu_2g_gic2_el2_image: "max", 4, "2G", 2, el2, Image;
    max_5cpu_256m_gic3_el2_image: "max", 5, "256M", 3, el2, Image;
    max_8cpu_5g_gic3_el1_image: "max", 8, "5G", 3, el1, Image;
    // The ELF, as a debugger loads it.
    a53_4cpu_512m_gic3_el1_elf: "cortex-a53", 4, "512M", 3, el1, Elf;
    a76_3cpu_128m_gic2_el2_elf: "cortex-a76", 3, "128M", 2, el2, Elf;
    max_1cpu_1g_gic3_el1_elf: "max", 1, "1G", 3, el1, Elf;
    // Through U-Boot's booti, as on a board.
    a53_4cpu_512m_gic3_el1_uboot: "cortex-a53", 4, "512M", 3, el1, UBoot;
    a53_2cpu_512m_gic3_el2_uboot: "cortex-a53", 2, "512M", 3, el2, UBoot;
    a72_8cpu_2g_gic2_el1_uboot: "cortex-a72", 8, "2G", 2, el1, UBoot;
    max_6cpu_5g_gic3_el2_uboot: "max", 6, "5G", 3, el2, UBoot;
    // A FIT (tools/mkboot.sh fit) through U-Boot's bootm, as on MediaTek Genio boards.
    a53_4cpu_512m_gic3_el1_fit: "cortex-a53", 4, "512M", 3, el1, Fit;
    a72_2cpu_1g_gic2_el2_fit: "cortex-a72", 2, "1G", 2, el2, Fit;
}

/// The relocatable Image through U-Boot's booti from other load addresses (qemu-run.sh
/// `--load-addr`): MediaTek Genio's kernel_addr_r, and one above 1 GiB of RAM in a
/// 2 GiB VM (RAM 0x4000_0000..0xc000_0000); `expect_boot` checks the RESULT's
/// `load_address` is the one asked for (0x4040_0000, the default, is in the matrix).
#[test]
fn a53_2cpu_512m_gic3_el1_uboot_at_genio_kernel_addr_r() {
    expect_boot(&Boot {
        smp: 2,
        via: Via::UBoot,
        load_addr: Some(0x4500_0000),
        ..Boot::default()
    });
}

#[test]
fn a72_4cpu_2g_gic3_el2_uboot_above_1g() {
    expect_boot(&Boot {
        cpu: "cortex-a72",
        mem: "2G",
        el2: true,
        via: Via::UBoot,
        load_addr: Some(0x8000_0000),
        ..Boot::default()
    });
}

/// Loaded 2 MiB below a 1 GiB boundary, the Image straddles it: the early map needs an
/// L2 table on each side.
#[test]
fn a53_2cpu_2g_gic3_el1_uboot_across_1g_boundary() {
    expect_boot(&Boot {
        smp: 2,
        mem: "2G",
        via: Via::UBoot,
        load_addr: Some(0x7fe0_0000),
        ..Boot::default()
    });
}

/// qemu-run.sh refuses a load address that breaks booting.rst's rule or leaves RAM,
/// before QEMU starts, in one line.
#[test]
fn load_addr_refusals() {
    build_kernel_once();
    for (addr, mem, needle) in [
        (
            "0x45080000",
            "512M",
            "is not a 2 MiB-aligned address + text_offset 0",
        ),
        (
            "0x60000000",
            "512M",
            "does not fit in RAM [0x40000000, 0x60000000)",
        ),
        ("45000000", "512M", "wants a hex address"),
    ] {
        let run = run_script(&[
            "--no-build".into(),
            "--uboot".into(),
            "--mem".into(),
            mem.into(),
            "--load-addr".into(),
            addr.into(),
        ]);
        assert_eq!(run.status, Some(2), "{addr}: {}", run.output());
        assert!(run.stderr.contains(needle), "{addr}: {}", run.output());
    }
}

/// QEMU's PCI 16550 as the console (`--uart 16550`: `-device pci-serial` and
/// `console=ttyS0`): the kernel finds it behind the DTB's ECAM host bridge and places
/// its I/O BAR; everything the kernel prints, the RESULT among it, reaches stdout only
/// through it (the PL011 writes to a file), and the RESULT says `ns16550`.
#[test]
fn a53_2cpu_256m_gic3_el1_image_16550() {
    expect_boot(&Boot {
        smp: 2,
        mem: "256M",
        uart: Uart::Ns16550,
        ..Boot::default()
    });
}

/// `console=ttyS0` with no 16550 to be had (no `-device pci-serial`) is refused on the
/// DTB's console, naming what is missing; a misaligned `earlycon=uart8250,io,` port too.
#[test]
fn a_console_the_machine_cannot_give_is_refused() {
    let run = Boot::default().run(&["scenario=boot", "console=ttyS0"]);
    run.expect_refusal("no PCI serial port (1b36:0002)");
    assert_eq!(run.status, Some(2), "{}", run.output());
    let pci = Boot {
        uart: Uart::Ns16550,
        ..Boot::default()
    };
    let run = pci.run(&["scenario=boot", "earlycon=uart8250,io,0x1004"]);
    // Refused on the PL011, which qemu-run.sh shows on stderr.
    assert_eq!(run.status, Some(2), "{}", run.output());
    assert!(
        run.stderr.contains("I/O port 0x1004 is not aligned"),
        "{}",
        run.output()
    );
}

/// `scenario=protect`: writing text, executing data, touching address 0 and
/// overflowing a stack each fault and are caught; q0-q31, FPSR and FPCR come back
/// unchanged across a workload-region fault the fault hook resolves.
fn expect_protect(boot: Boot) {
    let run = boot.run(&["scenario=protect"]);
    let result = run.expect_pass("protect");
    let checks = number(&run, &result, "checks");
    let caught = number(&run, &result, "caught");
    if checks == 0 || caught != checks {
        run.fail(&format!("protect caught {caught} of {checks} checks"));
    }
    if result.get("fpsimd_preserved") != Some(&true.into()) {
        run.fail("FP/SIMD registers changed across a resolved fault");
    }
}

#[test]
fn protect_el1() {
    expect_protect(Boot::default());
}

#[test]
fn protect_el2_uboot() {
    expect_protect(Boot {
        el2: true,
        via: Via::UBoot,
        ..Boot::default()
    });
}

/// `scenario=smp`: a job runs on every secondary core (woken by an SGI), a 10 ms sleep on
/// the timer lasts at least 10 ms, and every secondary powers off with PSCI CPU_OFF.
fn expect_smp(boot: Boot) {
    let run = boot.run(&["scenario=smp"]);
    let result = run.expect_pass("smp");
    let secondaries = u64::from(boot.smp - 1);
    if number(&run, &result, "cpus_online") != u64::from(boot.smp) {
        run.fail("not every CPU came online");
    }
    if number(&run, &result, "jobs_ok") != secondaries {
        run.fail("not every secondary ran its job");
    }
    if number(&run, &result, "cpus_offlined") != secondaries {
        run.fail("not every secondary powered off");
    }
    if number(&run, &result, "sleep_10ms_ns") < 10_000_000 {
        run.fail("a 10 ms sleep woke early");
    }
}

#[test]
fn smp_gic3_el1() {
    expect_smp(Boot::default());
}

#[test]
fn smp_8cpu_gic2_el2() {
    expect_smp(Boot {
        smp: 8,
        gic: 2,
        el2: true,
        ..Boot::default()
    });
}

/// A refused command line ends with a RESULT error line of the scenario it names, and
/// status 2.
#[test]
fn unknown_command_line_key_is_refused() {
    let run = Boot::default().run(&["scenario=smp", "no_such_key=1"]);
    let error = run.expect_refusal("no_such_key");
    assert!(error.contains("no_such_key"), "{error}");
    assert_eq!(run.status, Some(2));
    assert_eq!(run.result().unwrap()["scenario"], "smp");
}

/// The words Android bootloaders and depthcharge add are skipped and counted, so such
/// a boot goes on (boards.md); other unknown words are still refused (above).
#[test]
fn bootloader_words_are_skipped() {
    let run = Boot::default().run(&[
        "cros_secure",
        "scenario=boot",
        "androidboot.hardware=mt8183",
    ]);
    run.expect_pass("boot");
    if !run.stdout.contains("2 word(s) of the bootloader's own") {
        run.fail("the boot report does not count the skipped words");
    }
}

#[test]
fn unknown_scenario_is_refused() {
    let run = Boot::default().run(&["scenario=no_such_scenario"]);
    run.expect_refusal("no_such_scenario");
    assert_eq!(run.result().unwrap()["scenario"], "cmdline");
}

/// The kernel's side of a bad `exit=` (qemu-run.sh refuses it before booting, so QEMU
/// runs here without it): with a semihosting host the refusal's status 2 reaches QEMU;
/// without one the kernel falls back to PSCI (status 0, as QEMU reads any PSCI off),
/// and the RESULT line still says error.
#[test]
fn a_bad_exit_method_exits_through_semihosting_when_a_host_answers() {
    let image = build_kernel_once().image.display().to_string();
    for (semihosting, status) in [(true, 2), (false, 0)] {
        let mut args: Vec<String> = [
            "-machine",
            "virt,gic-version=3",
            "-cpu",
            "cortex-a53",
            "-m",
            "128M",
            "-nographic",
            "-nic",
            "none",
            "-no-reboot",
            "-kernel",
            &image,
            "-append",
            "scenario=boot exit=hlt",
        ]
        .map(String::from)
        .into();
        if semihosting {
            args.push("-semihosting".to_string());
        }
        let run = run_qemu_directly(&args, 60);
        if run.status != Some(status) {
            run.fail(&format!("expected exit status {status}"));
        }
        let result = run.result().unwrap_or_else(|e| run.fail(&e));
        let error = result.get("error").and_then(|e| e.as_str()).unwrap_or("");
        if !error.contains("exit=hlt") {
            run.fail("the RESULT error does not name exit=hlt");
        }
    }
}

/// A machine too small for reclaim's metadata gets a sized error naming the smallest
/// `--mem` that would do, not a heap panic, in both scenarios that set reclaim up; and
/// a machine of that size does run (8 MiB and 12 MiB used to panic on a failed heap
/// allocation with `reclaim=async`).
#[test]
fn too_little_memory_for_reclaim_is_refused_with_the_size_that_fits() {
    for (mem, args) in [
        ("8M", &["scenario=reclaim", "reclaim=async", "ops=1000"][..]),
        (
            "12M",
            &["scenario=reclaim", "reclaim=async", "ops=1000"][..],
        ),
        (
            "8M",
            &["scenario=bench", "bench_ram=4", "bench_runs=1", "ops=500"][..],
        ),
    ] {
        let tiny = Boot {
            mem,
            ..Boot::default()
        };
        let run = tiny.run(args);
        let error = run.expect_refusal("reclaim needs");
        let Some(mib) = error
            .split_once("needs at least ")
            .and_then(|(_, rest)| rest.split_once(" MiB of RAM (--mem "))
            .and_then(|(mib, _)| mib.parse::<u64>().ok())
        else {
            run.fail("the error names no smallest RAM size")
        };
        let size = format!("{mib}M");
        let enough = Boot {
            mem: Box::leak(size.into_boxed_str()),
            timeout_secs: 120,
            ..Boot::default()
        };
        let scenario = args[0].trim_start_matches("scenario=");
        enough.run(args).expect_pass(scenario);
    }
}

/// A bad `exit=` cannot carry the kernel's status back (QEMU would report 0), so
/// qemu-run.sh refuses it before booting.
#[test]
fn qemu_run_rejects_a_bad_exit_method() {
    let run = Boot::default().run(&["scenario=boot", "exit=hlt"]);
    assert_eq!(run.status, Some(2), "{}", run.output());
    assert!(run.stderr.contains("'exit=hlt'"), "{}", run.stderr);
}

/// Values the kernel refuses reach the kernel: qemu-run.sh's look at the layout (how
/// many vCPUs are busy) must not die on them first (`bench_workers=1,x` stopped it
/// with "x: unbound variable", status 1 and no RESULT; `08` was read as octal).
#[test]
fn qemu_run_leaves_bad_values_to_the_kernel() {
    for word in ["bench_workers=1,x", "bench_workers=08,1x"] {
        let run = Boot::default().run(&["scenario=bench", "bench_runs=1", word]);
        run.expect_refusal(word);
        assert_eq!(run.status, Some(2), "{}", run.output());
        assert!(!run.stderr.contains("line "), "{}", run.stderr);
    }
}

#[test]
fn qemu_run_rejects_unknown_options() {
    let out = Command::new(repo_root().join("qemu-run.sh"))
        .arg("--no-such-option")
        .output()
        .expect("qemu-run.sh starts");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown option '--no-such-option'"),
        "{stderr}"
    );
}

/// The console filter of qemu-run.sh appends `<function> at <file:line>` to backtrace
/// lines: feed it the address of a function of the kernel ELF, and one outside its code
/// (address 8, where the debug info of functions the linker dropped points) that must
/// stay as it is; then the same function run from another load address.
#[test]
fn backtrace_lines_are_symbolized_from_the_elf() {
    let kernel = build_kernel_once();
    let rustc = |args: &[&str]| {
        let out = Command::new("rustc")
            .args(args)
            .output()
            .expect("rustc runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let host = rustc(&["-vV"])
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("rustc -vV names the host");
    let bin = format!(
        "{}/lib/rustlib/{host}/bin",
        rustc(&["--print", "sysroot"]).trim()
    );
    let nm = Command::new(format!("{bin}/llvm-nm"))
        .args(["--defined-only", "--demangle"])
        .arg(&kernel.elf)
        .output()
        .expect("llvm-nm runs");
    let symbols = String::from_utf8_lossy(&nm.stdout);
    // Any plain function of the kernel crate will do: take the first one.
    let (addr, name) = symbols
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ' ');
            let (addr, kind, symbol) = (f.next()?, f.next()?, f.next()?);
            let path = symbol.strip_prefix("kernel::")?;
            // Legacy mangling keeps a "::h<16 hex>" hash at the end.
            let path = match path.rsplit_once("::h") {
                Some((p, hash)) if hash.len() == 16 => p,
                _ => path,
            };
            let name = path.rsplit("::").next()?;
            let plain = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            (kind.eq_ignore_ascii_case("t") && plain).then(|| (addr.to_string(), name.to_string()))
        })
        .next()
        .expect("the kernel ELF has kernel:: functions");

    let bundled = format!("{bin}/llvm-symbolizer");
    let symbolizer = if Path::new(&bundled).exists() {
        bundled
    } else {
        "llvm-symbolizer".to_string()
    };
    let mut filter = Command::new("perl")
        .arg(repo_root().join("tools/symbolize-backtrace.pl"))
        .arg(&symbolizer)
        .arg(&kernel.elf)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("perl runs");
    // Then the same function in a report from an Image that booti ran at 0x4500_0000:
    // the filter takes the load offset off the PC.
    let moved =
        u64::from_str_radix(&addr, 16).expect("llvm-nm prints hex") + 0x4500_0000 - 0x4020_0000;
    let input = format!(
        "panic!\r\nbacktrace #0 pc=0x{addr:0>16}\r\nbacktrace #1 pc=0x0000000000000008\r\n\
         backtrace: image at 0x45000000, linked at 0x40200000\r\nbacktrace #0 pc={moved:#018x}\r\n"
    );
    std::io::Write::write_all(&mut filter.stdin.take().expect("stdin"), input.as_bytes())
        .expect("filter reads");
    let out = filter.wait_with_output().expect("filter ends");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines = backtrace_lines(&text);
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].1 && lines[2].1, "not symbolized: {text}");
    assert!(lines[1].0.ends_with("pc=0x0000000000000008"), "{text:?}");
    assert_eq!(
        text.matches(&name).count(),
        2,
        "{name} not named twice in: {text}"
    );
    assert!(
        text.starts_with("panic!\r\n") && text.ends_with("\r\n"),
        "{text:?}"
    );
}
