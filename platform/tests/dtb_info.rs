//! End to end: the `dtb-info` binary on every test DTB prints one JSON object that
//! agrees with `Board::from_dtb`; damaged files give one line on stderr and exit 1.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use platform::{Board, Region};
use serde_json::Value;

fn dtb_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dtb")
}

fn dtb_files() -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dtb_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dtb"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "test DTBs missing: {files:?}");
    files
}

fn dtb_info(path: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dtb-info"))
        .arg(path)
        .output()
        .unwrap()
}

fn region_list(v: &Value) -> Vec<Region> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|pair| Region::new(pair[0].as_u64().unwrap(), pair[1].as_u64().unwrap()))
        .collect()
}

#[test]
fn json_matches_the_parser_for_every_dtb() {
    for path in dtb_files() {
        let out = dtb_info(&path);
        assert!(
            out.status.success(),
            "{path:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(stdout.lines().count(), 1, "{path:?}: one line");
        let json: Value = serde_json::from_str(&stdout).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let board = Board::from_dtb(&bytes).unwrap();

        assert_eq!(json["model"], board.model);
        assert_eq!(json["bootargs"], board.bootargs);
        assert_eq!(region_list(&json["memory"]), board.memory.as_slice());
        assert_eq!(region_list(&json["reserved"]), board.reserved.as_slice());
        assert_eq!(region_list(&json["usable"]), board.usable.as_slice());

        let console = board.console.unwrap();
        let c = &json["console"];
        assert_eq!(c["path"], console.path);
        assert_eq!(c["compatible"], console.compatible);
        assert_eq!(c["kind"], console.kind.name());
        assert_eq!(c["base"], console.base);
        assert_eq!(c["reg_shift"], console.reg_shift);

        let gic = board.gic.unwrap();
        let g = &json["gic"];
        assert_eq!(g["version"], gic.version);
        assert_eq!(
            g["distributor"],
            serde_json::json!([gic.distributor.base, gic.distributor.size])
        );
        let (present, absent) = if gic.version == 3 {
            ("redistributor", "cpu_interface")
        } else {
            ("cpu_interface", "redistributor")
        };
        assert!(
            g[present].is_array() && g.get(absent).is_none(),
            "{path:?}: {g}"
        );

        assert_eq!(json["psci"]["method"], board.psci.unwrap().name());
        let cpus = json["cpus"].as_array().unwrap();
        assert_eq!(cpus.len(), board.cpus.len());
        for (j, cpu) in cpus.iter().zip(&board.cpus) {
            assert_eq!(j["mpidr"], cpu.mpidr);
            assert_eq!(j["capacity"], serde_json::to_value(cpu.capacity).unwrap());
            assert_eq!(j["compatible"], cpu.compatible);
        }
    }
}

#[test]
fn json_escapes_quotes_and_backslashes() {
    let out = dtb_info(&dtb_dir().join("qemu-virt-el2-gic3-max-smp8-2g.dtb"));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["bootargs"],
        r#"scenario=boot exit=semihosting note="a\b""#
    );
    let out = dtb_info(&dtb_dir().join("edge-cases.dtb"));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["model"], r#"Edge "case" board\1"#);
    assert_eq!(
        json["memory"][1],
        serde_json::json!([0x40_0000_0000u64, 1u64 << 32])
    );
}

fn refused(bytes: &[u8], expect: &str) {
    let dir = std::env::temp_dir().join(format!("dtb-info-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.dtb", expect.len()));
    std::fs::write(&path, bytes).unwrap();
    let out = dtb_info(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(out.status.code(), Some(1), "{expect}");
    assert!(out.stdout.is_empty(), "{expect}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("dtb-info: ") && stderr.contains(expect),
        "{stderr}"
    );
}

#[test]
fn damaged_files_are_refused_with_one_line() {
    let good = std::fs::read(dtb_dir().join("mt8183-evb.dtb")).unwrap();
    refused(&[], "shorter than the 40-byte FDT header");
    refused(&good[..good.len() / 2], "totalsize larger than the data");
    refused(&good[..39], "shorter than the 40-byte FDT header");
    let mut bad_magic = good.clone();
    bad_magic[0] ^= 0xff;
    refused(&bad_magic, "bad magic");
    let mut bad_struct = good.clone();
    bad_struct[8..12].copy_from_slice(&0x7fff_0000u32.to_be_bytes());
    refused(&bad_struct, "structure block outside the blob");
    let random: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    refused(&random, "bad magic");
    refused(&vec![0u8; (2 << 20) + 1], "larger than 2097152 bytes");
}

#[test]
fn usage_and_missing_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_dtb-info"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = dtb_info(Path::new("/nonexistent/x.dtb"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.dtb"));
}
