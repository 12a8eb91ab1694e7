//! The trace converter on a recorded dump: `fixtures/trace-bench.log` is the console
//! of a real run, `./qemu-run.sh --mem 128M -- scenario=bench bench_ram=8 ops=256 trace=on`
//! (sync then async, one dump after each). `trace-convert` must turn it into valid
//! Trace Event Format JSON with the spans, instants, counters and thread names a
//! student looks for, and an SVG with a line per mode in each of its three panels.
//! Host only: no QEMU. Re-record the fixture when the dump format changes.
#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use qemu_tests::trace_convert::{chrome_trace, parse_log};
use serde_json::Value;

fn fixture() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/trace-bench.log");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn recorded_dump_has_one_dump_per_mode_and_loses_nothing() {
    let dumps = parse_log(&fixture()).unwrap();
    let labels: Vec<&str> = dumps.iter().map(|d| d.label.as_str()).collect();
    assert_eq!(labels, ["sync", "async"]);
    for d in &dumps {
        assert_eq!(d.lost(), 0, "{}: the buffers held the whole run", d.label);
        assert!(d.freq_hz > 0);
    }
}

#[test]
fn trace_convert_writes_valid_json_and_svg() {
    let dir = std::env::temp_dir().join(format!("trace-convert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("log");
    let (json, svg) = (dir.join("out.json"), dir.join("out.svg"));
    std::fs::write(&log, fixture()).unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_trace-convert"))
        .args([&log, &json, &svg])
        .status()
        .unwrap();
    assert!(status.success());
    let trace: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let svg = std::fs::read_to_string(&svg).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    let events = trace["traceEvents"].as_array().expect("traceEvents array");
    let kinds: BTreeSet<(String, String)> = events
        .iter()
        .map(|e| {
            let field = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (field("ph"), field("name"))
        })
        .collect();
    for (ph, name) in [
        ("B", "kswapd awake"),
        ("E", "kswapd awake"),
        ("B", "direct reclaim"),
        ("E", "direct reclaim"),
        ("i", "mm_vmscan_lru_shrink_inactive"),
        ("i", "mm_vmscan_wakeup_kswapd"),
        ("i", "kcompressd_enqueue"),
        ("i", "kcompressd_compress_done"),
        ("i", "page_fault_first_touch"),
        ("i", "page_fault_swap"),
        ("i", "swapin_done"),
        ("C", "free frames"),
        ("C", "kcompressd ring depth"),
        ("C", "reclaim rate (pgsteal_anon/s)"),
        ("M", "process_name"),
        ("M", "thread_name"),
    ] {
        assert!(
            kinds.contains(&(ph.to_string(), name.to_string())),
            "no {ph} {name}"
        );
    }
    // Every B has its E on the same thread, and time never runs backwards per thread.
    let mut depth = std::collections::BTreeMap::new();
    for e in events.iter().filter(|e| e["ph"] == "B" || e["ph"] == "E") {
        let d = depth
            .entry((e["tid"].as_u64(), e["name"].to_string()))
            .or_insert(0i64);
        *d += if e["ph"] == "B" { 1 } else { -1 };
        assert!((0..=1).contains(d), "unbalanced span {e}");
        assert!(e["ts"].as_f64().unwrap() >= 0.0);
    }
    assert!(depth.values().all(|&d| d == 0));
    let threads: Vec<&str> = events
        .iter()
        .filter(|e| e["name"] == "thread_name")
        .filter_map(|e| e["args"]["name"].as_str())
        .collect();
    for role in ["kswapd", "kcompressd", "workload"] {
        assert!(threads.iter().any(|t| t.contains(role)), "no {role} thread");
    }
    assert_eq!(
        events.len(),
        chrome_trace(&parse_log(&fixture()).unwrap())["traceEvents"]
            .as_array()
            .unwrap()
            .len()
    );

    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
    assert_eq!(
        qemu_tests::plot::series_lines(&svg),
        6,
        "3 panels x 2 modes"
    );
    for title in ["free frames", "reclaimed pages per second", "pages queued"] {
        assert!(svg.contains(title), "no panel {title}");
    }
}
