//! The kernel bench's comparison on the host harness: sync vs async (and N workers)
//! on the same workload, repeated, printed as `report`'s table with the pipeline
//! bound; and sweeps of one setting (ring size, watermark scale, workers, page mix),
//! a sync/async pair of medians per value in one compact table. Orchestration and
//! printing only: the runs are `harness`'s, the arithmetic `report`'s. Host-only.

use std::fmt::{self, Write};
use std::string::{String, ToString};
use std::vec::Vec;
use std::{format, vec};

use super::harness::{self, HarnessConfig, HarnessReport, Pattern};
use super::policy::{LruKind, ReclaimMode, RingFull};
use super::report::{self, Figure, Metric, RunStats, Values};
use crate::addr::PAGE_SIZE;
use crate::frame::Watermarks;

/// One column of a comparison: a mode with its workers, and each run's figures.
#[derive(Clone, Debug)]
pub struct Column {
    /// The column's heading: `sync`, `async`, `async_<N>w`.
    pub label: String,
    /// Who compresses in its runs.
    pub mode: ReclaimMode,
    /// kcompressd workers (0 for sync).
    pub workers: usize,
    /// The LRU of its runs (`None`: the configuration's).
    pub lru: Option<LruKind>,
    /// Each run's figures, in run order.
    pub runs: Vec<RunStats>,
    /// Some run stopped on an allocation that failed after direct reclaim.
    pub oom: bool,
}

impl Column {
    fn new(label: String, mode: ReclaimMode, workers: usize) -> Column {
        Column {
            label,
            mode,
            workers,
            lru: None,
            runs: Vec::new(),
            oom: false,
        }
    }

    /// Every metric's median over the runs.
    pub fn medians(&self) -> Values {
        report::medians(&self.runs)
    }

    /// Metric `m`'s median over the runs.
    pub fn median(&self, m: Metric) -> f64 {
        self.medians()[m as usize]
    }
}

/// Sync and async runs of one configuration, interleaved run by run.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// The configuration every column ran (mode and workers aside).
    pub config: HarnessConfig,
    /// Runs per column.
    pub runs: usize,
    /// Sync first: the baseline of every ratio.
    pub columns: Vec<Column>,
    /// The zone's watermarks (the same in every run).
    pub watermarks: Watermarks,
}

/// Like the kernel bench: sync, the plain design (one worker), and with `workers` > 1
/// all of them (`async_<N>w`).
pub fn bench_columns(cfg: &HarnessConfig) -> Vec<Column> {
    let mut columns = vec![
        Column::new("sync".to_string(), ReclaimMode::Sync, 0),
        Column::new("async".to_string(), ReclaimMode::Async, 1),
    ];
    if cfg.workers > 1 {
        columns.push(Column::new(
            format!("async_{}w", cfg.workers),
            ReclaimMode::Async,
            cfg.workers,
        ));
    }
    columns
}

/// Like the kernel's `scenario=apps`: sync and async (one worker) for each of `lrus`.
pub fn apps_columns(lrus: &[LruKind]) -> Vec<Column> {
    let mut columns = Vec::new();
    for &lru in lrus {
        let name = match lru {
            LruKind::Classic => "classic",
            LruKind::Mglru => "mglru",
        };
        for (mode, workers, suffix) in [
            (ReclaimMode::Sync, 0, "sync"),
            (ReclaimMode::Async, 1, "async"),
        ] {
            let mut column = Column::new(format!("{name}_{suffix}"), mode, workers);
            column.lru = Some(lru);
            columns.push(column);
        }
    }
    columns
}

/// A sweep point: sync against async with the configuration's workers.
pub fn pair_columns(cfg: &HarnessConfig) -> Vec<Column> {
    vec![
        Column::new("sync".to_string(), ReclaimMode::Sync, 0),
        Column::new("async".to_string(), ReclaimMode::Async, cfg.workers),
    ]
}

/// Runs every column `runs` times (run 1 of each column, then run 2, ...), so a
/// change in the host's load spreads over all of them.
pub fn compare(
    cfg: &HarnessConfig,
    mut columns: Vec<Column>,
    runs: usize,
) -> Result<Comparison, String> {
    let mut watermarks = None;
    for _ in 0..runs.max(1) {
        for column in &mut columns {
            let run_cfg = HarnessConfig {
                mode: column.mode,
                workers: column.workers.max(1),
                lru: column.lru.unwrap_or(cfg.lru),
                ..cfg.clone()
            };
            let report: HarnessReport = harness::run(&run_cfg)?;
            watermarks = Some(report.watermarks);
            column.oom |= report.run.work.oom_stops > 0;
            column.runs.push(report.run_stats());
        }
    }
    Ok(Comparison {
        config: cfg.clone(),
        runs: runs.max(1),
        columns,
        watermarks: watermarks.ok_or("no run")?,
    })
}

impl Comparison {
    /// No corrupt page and every frame accounted for, in every run.
    pub fn clean(&self) -> bool {
        self.columns
            .iter()
            .all(|c| c.runs.iter().all(RunStats::clean))
    }

    /// `report`'s side-by-side table of medians, then the pipeline lines.
    pub fn write_table(&self, out: &mut impl Write) -> fmt::Result {
        let medians: Vec<(&str, Values)> = self
            .columns
            .iter()
            .map(|c| (c.label.as_str(), c.medians()))
            .collect();
        let columns: Vec<(&str, &Values)> = medians.iter().map(|(l, v)| (*l, v)).collect();
        let apps = self.columns.len() == 4 && self.columns.iter().all(|c| c.lru.is_some());
        if apps {
            report::write_table_with(out, &columns, &report::APPS_RATIOS, self.runs as u64)?;
            // Each LRU's pair on its own: t_scan is kswapd's cost per page without
            // the compression, the part an LRU can change.
            for pair in self.columns.chunks(2) {
                if let [sync, asyn] = pair {
                    writeln!(out, "apps: {} and {}:", sync.label, asyn.label)?;
                    report::write_pipeline(
                        out,
                        &sync.runs,
                        &[(asyn.label.as_str(), &asyn.runs, 1)],
                    )?;
                }
            }
            return Ok(());
        }
        report::write_table(out, &columns, self.runs as u64)?;
        let Some((sync, asyncs)) = self.columns.split_first() else {
            return Ok(());
        };
        let asyncs: Vec<report::Variant<'_>> = asyncs
            .iter()
            .map(|c| (c.label.as_str(), c.runs.as_slice(), c.workers))
            .collect();
        report::write_pipeline(out, &sync.runs, &asyncs)?;
        for c in self.columns.iter().filter(|c| c.oom) {
            writeln!(
                out,
                "{}: out of memory (an allocation failed after direct reclaim) in some run",
                c.label
            )?;
        }
        Ok(())
    }
}

/// What the machine looked like: cores, and the load average if the host has one.
pub fn host_line() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| {
            let parts: Vec<&str> = l.split_whitespace().take(3).collect();
            (parts.len() == 3).then(|| parts.join(" "))
        })
        .unwrap_or_else(|| "unknown".to_string());
    format!(
        "host: {cores} cores, load average {load} (std threads share them: every thread below competes for these cores)"
    )
}

/// The configuration a table was measured with, in a few lines.
pub fn write_config(
    out: &mut impl Write,
    cfg: &HarnessConfig,
    watermarks: &Watermarks,
    runs: usize,
) -> fmt::Result {
    writeln!(out, "{}", host_line())?;
    let m = &cfg.mix;
    writeln!(
        out,
        "threads: {} workload + kswapd + {} kcompressd (async only); ram {} frames ({} MiB, watermarks min {} low {} high {}, wsf {}); anon {} pages ({:.1}x ram){}",
        cfg.workloads,
        cfg.workers,
        cfg.ram_frames,
        (cfg.ram_frames * PAGE_SIZE) >> 20,
        watermarks.min,
        watermarks.low,
        watermarks.high,
        cfg.watermark_scale_factor,
        cfg.wss_pages,
        cfg.wss_pages as f64 / cfg.ram_frames as f64,
        match cfg.pattern {
            Pattern::Apps { apps } => format!(
                " in {apps} apps of {} pages, launch then an app switch every {} accesses",
                cfg.wss_pages / cfg.workloads / apps,
                cfg.wss_pages / cfg.workloads / apps
            ),
            Pattern::AppSwitch { apps } => format!(
                " in {apps} apps of {} pages, launch then an app switch every {} accesses, each switch touching the app's whole set first; lmk {}",
                cfg.wss_pages / cfg.workloads / apps,
                cfg.wss_pages / cfg.workloads / apps,
                if cfg.lmk { "on" } else { "off" }
            ),
            other => format!(", pattern {other:?}"),
        }
    )?;
    writeln!(
        out,
        "{} accesses after the launch, {} % writes; mix zero {} same {} text {} structured {} random {} %; ring {}, ring_full={}; seed {}; {} run(s) per column",
        cfg.ops,
        cfg.write_pct,
        m.zero,
        m.same_filled,
        m.text,
        m.structured,
        m.random,
        cfg.ring_size,
        match cfg.ring_full {
            RingFull::New => "new",
            RingFull::Oldest => "oldest",
        },
        cfg.seed,
        runs
    )
}

/// A sweep of one setting: a comparison per value.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// The swept setting, e.g. `ring`.
    pub key: String,
    /// Each value, as given, with its comparison.
    pub points: Vec<(String, Comparison)>,
}

/// Sweeps `key` over `values`: each point is `base_args` plus `key=value`, parsed
/// onto the kernel bench's setting (`HarnessConfig::bench`), run as a sync/async pair.
pub fn sweep(
    base_args: &[String],
    key: &str,
    values: &[&str],
    runs: usize,
) -> Result<Sweep, String> {
    let mut points = Vec::new();
    for value in values {
        let args = base_args.iter().cloned().chain([format!("{key}={value}")]);
        let cfg = HarnessConfig::parse_onto(HarnessConfig::bench(), args)?;
        let comparison = compare(&cfg, pair_columns(&cfg), runs)?;
        points.push((value.to_string(), comparison));
    }
    Ok(Sweep {
        key: key.to_string(),
        points,
    })
}

/// Widths of the sweep table's columns after the first.
const W: usize = 9;

/// Sync's and async's medians of `m` and their ratio, as three columns.
fn write_pair(out: &mut impl Write, sync: &Values, asyn: &Values, m: Metric) -> fmt::Result {
    let (s, a) = (sync[m as usize], asyn[m as usize]);
    write!(out, " {:>W$} {:>W$} ", Figure(s, 0), Figure(a, 0))?;
    report::write_ratio(out, a, s, W)
}

impl Sweep {
    /// No corrupt page and every frame accounted for, at every point.
    pub fn clean(&self) -> bool {
        self.points.iter().all(|(_, c)| c.clean())
    }

    /// The configuration of the first point (the swept key aside), then a row per
    /// value: medians of sync and async and their ratio for reclaim rate and stalls,
    /// fault p99, busy fractions, ring-full events, lz4 ratio, corrupt pages.
    pub fn write_table(&self, out: &mut impl Write) -> fmt::Result {
        let Some((_, first)) = self.points.first() else {
            return Ok(());
        };
        writeln!(
            out,
            "--- sweep {}: sync vs async per value (medians of {} runs; settings of the first row below) ---",
            self.key, first.runs
        )?;
        write_config(out, &first.config, &first.watermarks, first.runs)?;
        let heads = [
            "steal/s S",
            "steal/s A",
            "A/S",
            "stall S",
            "stall A",
            "A/S",
            "p99us S",
            "p99us A",
            "kswapd%S",
            "kswapd%A",
            "kcd% A",
            "ringfull",
            "lz4",
            "corrupt",
        ];
        write!(out, "{:<12}", self.key)?;
        for h in heads {
            write!(out, " {h:>W$}")?;
        }
        writeln!(out)?;
        for (value, c) in &self.points {
            let (s, a) = (&c.columns[0], &c.columns[1]);
            let (sm, am) = (s.medians(), a.medians());
            let get = |v: &Values, m: Metric| v[m as usize];
            write!(out, "{value:<12}")?;
            write_pair(out, &sm, &am, Metric::PgstealAnonPerS)?;
            write_pair(out, &sm, &am, Metric::AllocStall)?;
            let p99 = Metric::AllocP99Ns;
            write!(
                out,
                " {:>W$} {:>W$}",
                Figure(get(&sm, p99) / 1e3, 0),
                Figure(get(&am, p99) / 1e3, 0)
            )?;
            write!(
                out,
                " {:>W$} {:>W$} {:>W$} {:>W$} {:>W$} {:>W$}",
                Figure(get(&sm, Metric::KswapdBusyPct), 1),
                Figure(get(&am, Metric::KswapdBusyPct), 1),
                Figure(get(&am, Metric::KcompressdBusyPct), 1),
                Figure(get(&am, Metric::KcompressdRingFull), 0),
                Figure(get(&am, Metric::ComprRatio), 2),
                Figure(
                    get(&sm, Metric::CorruptPages) + get(&am, Metric::CorruptPages),
                    0
                ),
            )?;
            if s.oom || a.oom {
                write!(
                    out,
                    "  oom:{}{}",
                    if s.oom { " sync" } else { "" },
                    if a.oom { " async" } else { "" }
                )?;
            }
            writeln!(out)?;
        }
        Ok(())
    }
}
