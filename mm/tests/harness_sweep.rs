//! The host bench and sweeps end to end on a tiny setting: the kernel bench's app
//! workload, sync vs async (one and two workers), medians over runs, the shared table
//! and a sweep table; nothing may be lost in any run.
#![cfg(not(loom))]
#![forbid(unsafe_code)]

use mm::reclaim::harness::{HarnessConfig, Pattern};
use mm::reclaim::report::Metric;
use mm::reclaim::sweep::{self, bench_columns};

/// 512 frames, 1024 pages in 8 apps; a mix that compresses well (zero, same-filled,
/// text and structured only), so the small store never runs out.
fn tiny_args() -> Vec<String> {
    ["ram=512", "mix=10,5,50,35,0", "ops=1500"]
        .map(String::from)
        .to_vec()
}

#[test]
fn harness_bench_table_runs_clean_with_two_workers() {
    let mut args = tiny_args();
    args.push("workers=2".to_string());
    let cfg = HarnessConfig::parse_onto(HarnessConfig::bench(), &args).unwrap();
    assert_eq!(cfg.pattern, Pattern::Apps { apps: 8 });
    assert_eq!(cfg.wss_pages, 1024);
    let comparison = sweep::compare(&cfg, bench_columns(&cfg), 2).unwrap();
    assert!(comparison.clean(), "{comparison:#?}");
    let labels: Vec<&str> = comparison
        .columns
        .iter()
        .map(|c| c.label.as_str())
        .collect();
    assert_eq!(labels, ["sync", "async", "async_2w"]);
    for column in &comparison.columns {
        assert_eq!(column.runs.len(), 2);
        assert!(!column.oom, "{} ran out of memory", column.label);
        // The launch wrote all 1024 pages into 512 frames: reclaim had to run.
        assert!(column.median(Metric::PswpOut) > 0.0, "{}", column.label);
        assert!(column.median(Metric::PswpIn) > 0.0, "{}", column.label);
        assert!(column.median(Metric::Faults) >= 1024.0, "{}", column.label);
        assert!(column.median(Metric::AllocP99Ns) > 0.0, "{}", column.label);
        assert!(
            column.median(Metric::VerifiedPages) > 0.0,
            "{}",
            column.label
        );
        assert_eq!(column.median(Metric::CorruptPages), 0.0);
    }
    assert_eq!(comparison.columns[0].median(Metric::KcompressdQueued), 0.0);
    assert!(comparison.columns[1].median(Metric::KcompressdQueued) > 0.0);
    let mut out = String::new();
    comparison.write_table(&mut out).unwrap();
    assert!(out.starts_with("--- bench: sync vs async vs async_2w (medians of 2 runs) ---"));
    // A row per metric: its name, three medians, two ratios.
    for m in Metric::ALL {
        let row = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(m.key()))
            .unwrap_or_else(|| panic!("no row {}", m.key()));
        assert_eq!(row.split_whitespace().count(), 6, "{row}");
    }
    assert!(out.contains("PIPELINE {\"t_scan_ns\":"));
    assert!(out.contains("\"async_2w_model_per_s\":"));
}

#[test]
fn harness_sweep_table_has_a_row_per_value() {
    let result = sweep::sweep(&tiny_args(), "ring", &["16", "256"], 1).unwrap();
    assert!(result.clean());
    assert_eq!(result.points.len(), 2);
    assert_eq!(result.points[0].1.config.ring_size, 16);
    let mut out = String::new();
    result.write_table(&mut out).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "--- sweep ring: sync vs async per value (medians of 1 runs; settings of the first row below) ---"
    );
    assert!(lines[1].starts_with("host: "));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ring ") && l.contains("steal/s S"))
    );
    let rows: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("16 ") || l.starts_with("256 "))
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    // A bad value is an error, not a row.
    assert!(sweep::sweep(&tiny_args(), "wsf", &["0"], 1).is_err());
    // Sync never queues, whatever the ring.
    for (_, c) in &result.points {
        assert_eq!(c.columns[0].runs[0].get(Metric::KcompressdQueued), 0.0);
    }
}
