//! `tools/mkboot.sh`, judged by the tools that read each artifact back: `dumpimage` for
//! the FIT, `unpack_bootimg` for the Android boot image, `futility` for the ChromeOS
//! kernel partition; and its one-line refusals. The FIT's boot under U-Boot is a row of
//! the boot matrix (tests/qemu.rs, `Via::Fit`).
#![forbid(unsafe_code)]

use qemu_tests::{Run, build_kernel_once, repo_root, run_tool};
use std::path::{Path, PathBuf};
use std::process::Command;

const DEVKEYS: &str = "/usr/share/vboot/devkeys";
/// The command line a Genio board would get (docs/boards.md).
const CMDLINE: &str =
    "scenario=boot earlycon=uart8250,mmio32,0x11002000,921600 console=ttyS0,921600n8";

/// One of the MediaTek DTBs the platform crate's tests read.
fn dtb(name: &str) -> PathBuf {
    repo_root()
        .join("platform/tests/dtb")
        .join(format!("{name}.dtb"))
}

/// A scratch directory of this test's own.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mkboot-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `tools/mkboot.sh kind` on the built Image with these DTBs and options, writing
/// `out`; fails the test unless it succeeds and prints the artifact's path.
fn mkboot(kind: &str, dtbs: &[&str], extra: &[&str], out: &Path) {
    let image = build_kernel_once().image.to_string_lossy().into_owned();
    let dtb_paths: Vec<String> = dtbs
        .iter()
        .map(|name| dtb(name).to_string_lossy().into_owned())
        .collect();
    let out_s = out.to_string_lossy().into_owned();
    let mut args = vec![kind, "--image", &image, "--out", &out_s];
    for path in &dtb_paths {
        args.extend(["--dtb", path]);
    }
    args.extend(extra);
    let run = run_tool("tools/mkboot.sh", &args, false);
    if run.status != Some(0) || run.stdout.trim() != out_s || !out.is_file() {
        run.fail(&format!("mkboot.sh {kind} did not write {out_s}"));
    }
}

/// Runs a host tool; its exit status and everything it printed.
fn tool(program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (tools/setup.sh installs it): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every needle is in the tool's output, or the test fails showing it.
fn expect_all(what: &str, output: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            output.contains(needle),
            "{what}: no '{needle}' in:\n{output}"
        );
    }
}

/// `dumpimage -l` lists the kernel at QEMU virt's load address and one configuration
/// per DTB, the first the default; the kernel and each DTB come back out byte for byte.
fn expect_fit(fit: &Path, dtbs: &[&str]) {
    let fit_s = fit.to_string_lossy();
    let (ok, list) = tool("dumpimage", &["-l", &fit_s]);
    assert!(ok, "dumpimage -l {fit_s}:\n{list}");
    let default = format!("Default Configuration: '{}'", dtbs[0]);
    expect_all(
        "dumpimage -l",
        &list,
        &[
            "Type:         Kernel Image",
            "Load Address: 0x40200000",
            &default,
        ],
    );
    for (i, name) in dtbs.iter().enumerate() {
        expect_all(
            "dumpimage -l",
            &list,
            &[&format!("Configuration {i} ({name})")],
        );
    }
    // Component 0 is the kernel, then the DTBs in order.
    let image = &build_kernel_once().image;
    let components = std::iter::once(image.clone()).chain(dtbs.iter().map(|name| dtb(name)));
    for (position, original) in components.enumerate() {
        let extracted = fit.with_extension(format!("part{position}"));
        let (ok, said) = tool(
            "dumpimage",
            &[
                "-T",
                "flat_dt",
                "-p",
                &position.to_string(),
                "-o",
                &extracted.to_string_lossy(),
                &fit_s,
            ],
        );
        assert!(ok, "dumpimage -p {position}: {said}");
        assert!(
            read(&extracted) == read(&original),
            "FIT component {position} differs from {}",
            original.display()
        );
    }
}

#[test]
fn fit_holds_the_image_and_a_configuration_per_dtb() {
    let dir = scratch("fit");
    let fit = dir.join("Image.itb");
    let dtbs = ["mt8183-evb", "mt8195-cherry-tomato-r2"];
    mkboot("fit", &dtbs, &[], &fit);
    expect_fit(&fit, &dtbs);
    // depthcharge picks a configuration by the board's compatible.
    let (ok, compatible) = tool(
        "fdtget",
        &[
            "-t",
            "s",
            &fit.to_string_lossy(),
            "/configurations/mt8195-cherry-tomato-r2",
            "compatible",
        ],
    );
    assert!(ok && compatible.contains("mediatek,mt8195"), "{compatible}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bootimg_is_header_v2_with_the_dtb() {
    let dir = scratch("bootimg");
    let img = dir.join("boot.img");
    mkboot("bootimg", &["mt8183-evb"], &["--cmdline", CMDLINE], &img);
    let unpacked = dir.join("unpacked");
    let (ok, header) = tool(
        "unpack_bootimg",
        &[
            "--boot_img",
            &img.to_string_lossy(),
            "--out",
            &unpacked.to_string_lossy(),
        ],
    );
    assert!(ok, "unpack_bootimg: {header}");
    let cmdline = format!("command line args: {CMDLINE}");
    expect_all(
        "unpack_bootimg",
        &header,
        &[
            "boot image header version: 2",
            "kernel load address: 0x40200000",
            "dtb address: 0x44000000",
            &cmdline,
        ],
    );
    assert!(read(&unpacked.join("kernel")) == read(&build_kernel_once().image));
    assert!(read(&unpacked.join("dtb")) == read(&dtb("mt8183-evb")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kpart_verifies_with_the_developer_keys() {
    let dir = scratch("kpart");
    let kpart = dir.join("kernel.kpart");
    let dtbs = ["mt8192-asurada-spherion-r0", "mt8183-evb"];
    mkboot("kpart", &dtbs, &["--cmdline", CMDLINE], &kpart);
    let kpart_s = kpart.to_string_lossy().into_owned();
    let subkey = format!("{DEVKEYS}/kernel_subkey.vbpubk");
    let verify = || {
        tool(
            "futility",
            &[
                "vbutil_kernel",
                "--verify",
                &kpart_s,
                "--signpubkey",
                &subkey,
            ],
        )
    };
    let (ok, report) = verify();
    assert!(ok, "vbutil_kernel --verify: {report}");
    expect_all(
        "vbutil_kernel --verify",
        &report,
        &[
            "Signature:           valid",
            "Body verification succeeded.",
            CMDLINE,
        ],
    );
    // The payload is the FIT depthcharge boots.
    let fit = dir.join("payload.itb");
    let (ok, said) = tool(
        "futility",
        &[
            "vbutil_kernel",
            "--get-vmlinuz",
            &kpart_s,
            "--vmlinuz-out",
            &fit.to_string_lossy(),
        ],
    );
    assert!(ok, "vbutil_kernel --get-vmlinuz: {said}");
    expect_fit(&fit, &dtbs);
    // A byte changed in the signed body no longer verifies.
    let mut bytes = read(&kpart);
    let body = 0x10000;
    bytes[body] ^= 0xff;
    std::fs::write(&kpart, &bytes).unwrap();
    let (ok, report) = verify();
    assert!(!ok, "a damaged kernel partition verified: {report}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Refused with exit status 2 and one line on stderr naming the problem; nothing written.
fn expect_one_line_refusal(run: &Run, needle: &str) {
    let lines: Vec<&str> = run.stderr.lines().collect();
    if run.status != Some(2)
        || !run.stdout.is_empty()
        || lines.len() != 1
        || !lines[0].starts_with("mkboot.sh: ")
        || !lines[0].contains(needle)
    {
        run.fail(&format!("expected one line of refusal with '{needle}'"));
    }
}

#[test]
fn bad_kinds_and_dtbs_are_refused_in_one_line() {
    let dir = scratch("refusals");
    let out = dir.join("out");
    let out_s = out.to_string_lossy().into_owned();
    let image = build_kernel_once().image.to_string_lossy().into_owned();
    let evb = dtb("mt8183-evb").to_string_lossy().into_owned();
    let missing = dir.join("missing.dtb").to_string_lossy().into_owned();
    let cases: [(&[&str], &str); 6] = [
        (&["uimage", "--dtb", &evb], "unknown artifact kind 'uimage'"),
        (&[], "no artifact kind"),
        (
            &["fit", "--image", &image, "--out", &out_s],
            "fit needs at least one --dtb",
        ),
        (
            &[
                "kpart", "--image", &image, "--dtb", &evb, "--dtb", &missing, "--out", &out_s,
            ],
            "no DTB '",
        ),
        (
            &[
                "bootimg", "--image", &image, "--dtb", &image, "--out", &out_s,
            ],
            "is not a DTB",
        ),
        (
            &["fit", "--image", &evb, "--dtb", &evb, "--out", &out_s],
            "is not an arm64 Image",
        ),
    ];
    for (args, needle) in cases {
        expect_one_line_refusal(&run_tool("tools/mkboot.sh", args, false), needle);
        assert!(!out.exists(), "{args:?} wrote {out_s}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
