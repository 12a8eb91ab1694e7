//! The benchmark's report, printed alike by the kernel's `scenario=bench` and the host
//! harness: one run's measurements (`RunStats`), medians over runs, the side-by-side
//! table, and the pipeline model from per-page costs. Arithmetic and formatting into
//! any `fmt::Write`, no allocation; taking the measurements (timers, counters,
//! checking pages) is the caller's. A figure that cannot be computed (a division by
//! zero, a stage that did not run) is NaN and prints as `n/a` (`null` in JSON), never 0.

use core::fmt::{self, Write};

use crate::apps::session::AppFigures;
use crate::latency::LatencyHist;
use crate::psi::PsiSnapshot;
use crate::vmstat::{VmEvent, VmStatSnapshot};
use crate::zram::MmStat;

macro_rules! metrics {
    ($( $(#[$doc:meta])* $variant:ident = $key:literal, $integer:literal; )*) => {
        /// One measured quantity of a run, in table order.
        #[derive(Copy, Clone, Debug, PartialEq, Eq)]
        pub enum Metric {
            $(
                $(#[$doc])*
                #[doc = concat!("The `", $key, "` row of the table and key of `RESULT`.")]
                $variant,
            )*
        }

        impl Metric {
            /// Every metric, in table order.
            pub const ALL: [Metric; NR_METRICS] = [$( Metric::$variant, )*];

            /// The JSON key and table row name.
            pub const fn key(self) -> &'static str {
                match self {
                    $( Metric::$variant => $key, )*
                }
            }

            /// A count (printed as an integer) rather than a rate or ratio.
            pub const fn integer(self) -> bool {
                match self {
                    $( Metric::$variant => $integer, )*
                }
            }
        }
    };
}

/// How many metrics a run has.
pub const NR_METRICS: usize = 42;

metrics! {
    PgstealAnonPerS = "pgsteal_anon_per_s", false;
    PgstealKswapdPerS = "pgsteal_kswapd_per_s", false;
    PgstealAnon = "pgsteal_anon", true;
    PgstealKswapd = "pgsteal_kswapd", true;
    PgstealDirect = "pgsteal_direct", true;
    PgscanKswapd = "pgscan_kswapd", true;
    PgscanDirect = "pgscan_direct", true;
    AllocStall = "allocstall", true;
    PswpOut = "pswpout", true;
    PswpIn = "pswpin", true;
    /// Refaults of anonymous pages evicted recently.
    WorkingsetRefaultAnon = "workingset_refault_anon", true;
    KcompressdQueued = "kcompressd_queued", true;
    KcompressdRingFull = "kcompressd_ring_full", true;
    /// Faults that took a queued page's frame back before it was compressed.
    Rescued = "rescued", true;
    /// Workload accesses per second.
    OpsPerS = "ops_per_s", false;
    /// Faults that needed a frame (first touch, swap-in): the latency histogram's count.
    Faults = "faults", true;
    AllocP50Ns = "alloc_p50_ns", true;
    AllocP99Ns = "alloc_p99_ns", true;
    AllocMaxNs = "alloc_max_ns", true;
    /// From an app switch until the app touched its whole working set again.
    AppSwitchP50Us = "app_switch_p50_us", true;
    AppSwitchP99Us = "app_switch_p99_us", true;
    /// Switches to an app the low-memory killer had taken: its pages regenerated.
    ColdStarts = "cold_starts", true;
    /// Their median latency (a cold start is one kind of switch).
    ColdStartP50Us = "cold_start_p50_us", true;
    /// Apps the low-memory killer took.
    LmkKills = "lmk_kills", true;
    /// Memory PSI over the window (/proc/pressure/memory): some workload stalled.
    PsiSomeTotalUs = "psi_some_total_us", true;
    /// Every workload on a CPU stalled.
    PsiFullTotalUs = "psi_full_total_us", true;
    /// The averages as the window closed, percent.
    PsiSomeAvg10 = "psi_some_avg10", false;
    PsiSomeAvg60 = "psi_some_avg60", false;
    PsiSomeAvg300 = "psi_some_avg300", false;
    PsiFullAvg10 = "psi_full_avg10", false;
    PsiFullAvg60 = "psi_full_avg60", false;
    PsiFullAvg300 = "psi_full_avg300", false;
    KswapdBusyPct = "kswapd_busy_pct", false;
    /// Per worker: all workers' busy time over (elapsed x workers).
    KcompressdBusyPct = "kcompressd_busy_pct", false;
    KswapdNsPerPage = "kswapd_ns_per_page", true;
    KcompressdNsPerPage = "kcompressd_ns_per_page", true;
    /// lz4: `orig_data_size / compr_data_size`.
    ComprRatio = "compr_ratio", false;
    SamePages = "same_pages", true;
    /// zram's `mem_used_total`: bytes the store's pool holds, at the window's end.
    MemUsedTotal = "mem_used_total", true;
    ElapsedMs = "elapsed_ms", true;
    VerifiedPages = "verified_pages", true;
    /// Summed over runs, not a median.
    CorruptPages = "corrupt_pages", true;
}

/// A value per metric, in `Metric::ALL` order; NaN where there is no figure.
pub type Values = [f64; NR_METRICS];

/// A figure for a table cell: the number with `precision` decimals, or `n/a` for NaN
/// (and infinities); honours the width and alignment of the format it is put in.
#[derive(Clone, Copy, Debug)]
pub struct Figure(pub f64, pub usize);

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Figure(x, precision) = *self;
        if x.is_finite() {
            f.pad(Cell::new(format_args!("{x:.precision$}")).as_str())
        } else {
            f.pad("n/a")
        }
    }
}

/// What the caller measured over one run. Times are in ticks of a counter running at
/// `tick_hz` (the generic timer in the kernel; nanoseconds on the host, `tick_hz` 1e9).
#[derive(Clone, Copy, Debug)]
pub struct RunInput<'a> {
    /// Counter differences over the run.
    pub vmstat: &'a VmStatSnapshot,
    /// zram's `mm_stat` as the window closed.
    pub mm_stat: &'a MmStat,
    /// Ticks per second of every time here.
    pub tick_hz: u64,
    /// The workload's time from start to end.
    pub elapsed: u64,
    /// Accesses the workloads made.
    pub accesses: u64,
    /// Latency of the faults that needed a frame, in ticks.
    pub faults: &'a LatencyHist,
    /// App switches (in ticks), cold starts and kills; `None` without app switching.
    pub apps: Option<&'a AppFigures>,
    /// kswapd's time outside sleep.
    pub kswapd_busy: u64,
    /// All kcompressd workers' time outside sleep, and the pages they took.
    pub kcompressd_busy: u64,
    /// Pages the workers compressed.
    pub kcompressd_pages: u64,
    /// kcompressd workers in the run (0 in sync mode).
    pub workers: u64,
    /// Faults that took a page in writeback back (no decompression).
    pub rescued: u64,
    /// Pages read back and found exact / wrong (during the run and in the final check).
    pub verified: u64,
    /// Pages found wrong.
    pub corrupt: u64,
    /// Every frame free, mapped, in the store or parked at the end.
    pub frames_accounted: bool,
    /// Memory PSI: stall over the run, averages at its end.
    pub psi: &'a PsiSnapshot,
}

/// One run's measurements: a value per metric, plus the sums the pipeline
/// arithmetic adds up over runs.
#[derive(Clone, Debug, PartialEq)]
pub struct RunStats {
    values: Values,
    /// kswapd's busy time, in ns.
    pub kswapd_busy_ns: u64,
    /// All workers' busy time, in ns.
    pub kcompressd_busy_ns: u64,
    /// Pages the workers compressed.
    pub kcompressd_pages: u64,
    /// Pages kswapd reclaimed (`pgsteal_kswapd`).
    pub pgsteal_kswapd: u64,
    /// Pages kswapd compressed itself because every ring was full.
    pub ring_full: u64,
    /// Every frame was accounted for at the end.
    pub frames_accounted: bool,
}

/// `a / b`, or NaN (no figure) when `b` is 0.
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        f64::NAN
    } else {
        a as f64 / b as f64
    }
}

/// Whole nanoseconds per page, or NaN without pages.
fn per_page(ns: u64, pages: u64) -> f64 {
    ns.checked_div(pages).map_or(f64::NAN, |x| x as f64)
}

/// Events per second for a cost of `ns` each; NaN unless the cost is positive.
fn per_s(ns: f64) -> f64 {
    if ns > 0.0 { 1e9 / ns } else { f64::NAN }
}

impl RunStats {
    /// Turns what was measured into the table's quantities.
    pub fn measure(i: &RunInput<'_>) -> RunStats {
        let hz = u128::from(i.tick_hz.max(1));
        let ns =
            |ticks: u64| u64::try_from(u128::from(ticks) * 1_000_000_000 / hz).unwrap_or(u64::MAX);
        let e = |ev: VmEvent| i.vmstat.get(ev);
        let elapsed = i.elapsed;
        let rate = |n: u64| ratio(n, ns(elapsed)) * 1e9;
        // Latencies only where a fault was timed.
        let latency = |ticks: u64| {
            if i.faults.count == 0 {
                f64::NAN
            } else {
                ns(ticks) as f64
            }
        };
        let us = |hist: fn(&AppFigures) -> &LatencyHist, pct: u64| {
            i.apps
                .map(hist)
                .filter(|h| h.count > 0)
                .map_or(f64::NAN, |h| (ns(h.percentile(pct)) / 1000) as f64)
        };
        let app_count = |f: fn(&AppFigures) -> u64| i.apps.map_or(f64::NAN, |a| f(a) as f64);
        let kswapd_busy_ns = ns(i.kswapd_busy);
        let kcompressd_busy_ns = ns(i.kcompressd_busy);
        let pgsteal_kswapd = e(VmEvent::PgStealKswapd);
        let value = |m: Metric| -> f64 {
            match m {
                Metric::PgstealAnonPerS => rate(e(VmEvent::PgStealAnon)),
                Metric::PgstealKswapdPerS => rate(pgsteal_kswapd),
                Metric::PgstealAnon => e(VmEvent::PgStealAnon) as f64,
                Metric::PgstealKswapd => pgsteal_kswapd as f64,
                Metric::PgstealDirect => e(VmEvent::PgStealDirect) as f64,
                Metric::PgscanKswapd => e(VmEvent::PgScanKswapd) as f64,
                Metric::PgscanDirect => e(VmEvent::PgScanDirect) as f64,
                Metric::AllocStall => e(VmEvent::AllocStall) as f64,
                Metric::PswpOut => e(VmEvent::PswpOut) as f64,
                Metric::PswpIn => e(VmEvent::PswpIn) as f64,
                Metric::WorkingsetRefaultAnon => e(VmEvent::WorkingsetRefaultAnon) as f64,
                Metric::KcompressdQueued => e(VmEvent::KcompressdQueued) as f64,
                Metric::KcompressdRingFull => e(VmEvent::KcompressdRingFull) as f64,
                Metric::Rescued => i.rescued as f64,
                Metric::OpsPerS => rate(i.accesses),
                Metric::Faults => i.faults.count as f64,
                Metric::AllocP50Ns => latency(i.faults.percentile(50)),
                Metric::AllocP99Ns => latency(i.faults.percentile(99)),
                Metric::AllocMaxNs => latency(i.faults.max),
                Metric::AppSwitchP50Us => us(|a| &a.switch, 50),
                Metric::AppSwitchP99Us => us(|a| &a.switch, 99),
                Metric::ColdStarts => app_count(|a| a.cold.count),
                Metric::ColdStartP50Us => us(|a| &a.cold, 50),
                Metric::LmkKills => app_count(|a| a.kills),
                Metric::PsiSomeTotalUs => i.psi.some.total_us() as f64,
                Metric::PsiFullTotalUs => i.psi.full.total_us() as f64,
                Metric::PsiSomeAvg10 => i.psi.some.avg[0].percent(),
                Metric::PsiSomeAvg60 => i.psi.some.avg[1].percent(),
                Metric::PsiSomeAvg300 => i.psi.some.avg[2].percent(),
                Metric::PsiFullAvg10 => i.psi.full.avg[0].percent(),
                Metric::PsiFullAvg60 => i.psi.full.avg[1].percent(),
                Metric::PsiFullAvg300 => i.psi.full.avg[2].percent(),
                Metric::KswapdBusyPct => 100.0 * ratio(i.kswapd_busy, elapsed),
                // No worker (sync): no figure.
                Metric::KcompressdBusyPct => {
                    100.0 * ratio(i.kcompressd_busy, elapsed.saturating_mul(i.workers))
                }
                Metric::KswapdNsPerPage => per_page(kswapd_busy_ns, pgsteal_kswapd),
                Metric::KcompressdNsPerPage => per_page(kcompressd_busy_ns, i.kcompressd_pages),
                Metric::ComprRatio => ratio(i.mm_stat.orig_data_size, i.mm_stat.compr_data_size),
                Metric::SamePages => i.mm_stat.same_pages as f64,
                Metric::MemUsedTotal => i.mm_stat.mem_used_total as f64,
                Metric::ElapsedMs => (ns(elapsed) / 1_000_000) as f64,
                Metric::VerifiedPages => i.verified as f64,
                Metric::CorruptPages => i.corrupt as f64,
            }
        };
        RunStats {
            values: Metric::ALL.map(value),
            kswapd_busy_ns,
            kcompressd_busy_ns,
            kcompressd_pages: i.kcompressd_pages,
            pgsteal_kswapd,
            ring_full: e(VmEvent::KcompressdRingFull),
            frames_accounted: i.frames_accounted,
        }
    }

    /// The value of `m` (NaN: no figure).
    pub fn get(&self, m: Metric) -> f64 {
        self.values[m as usize]
    }

    /// Every value, in `Metric::ALL` order.
    pub fn values(&self) -> &Values {
        &self.values
    }

    /// Nothing lost: no corrupt page and every frame accounted for.
    pub fn clean(&self) -> bool {
        self.get(Metric::CorruptPages) == 0.0 && self.frames_accounted
    }
}

/// Per metric, the median over the runs that have a figure for it (the lower middle
/// one: always a value seen), except `corrupt_pages`, which is the total. NaN where no
/// run has a figure (and for no runs at all).
pub fn medians(runs: &[RunStats]) -> Values {
    let mut out = [f64::NAN; NR_METRICS];
    for (k, m) in Metric::ALL.into_iter().enumerate() {
        let x = |i: usize| runs[i].values[k];
        let with = || (0..runs.len()).filter(|&i| !x(i).is_nan());
        let count = with().count();
        if count == 0 {
            continue;
        }
        let middle = (count - 1) / 2;
        out[k] = if m == Metric::CorruptPages {
            with().map(x).sum()
        } else {
            // The value whose rank (ties broken by position) is the middle one: no
            // sorting buffer needed, and the runs are few.
            with()
                .find(|&j| {
                    let below = with()
                        .filter(|&i| {
                            x(i).total_cmp(&x(j)).is_lt()
                                || (i < j && x(i).total_cmp(&x(j)).is_eq())
                        })
                        .count();
                    below == middle
                })
                .map_or(f64::NAN, x)
        };
    }
    out
}

/// A short string built on the stack, so it can be padded as one field; `#` when
/// it does not fit (as a spreadsheet shows a number too wide for its cell).
struct Cell {
    buf: [u8; 48],
    len: usize,
}

impl Cell {
    fn new(args: fmt::Arguments<'_>) -> Cell {
        let mut cell = Cell {
            buf: [0; 48],
            len: 0,
        };
        if cell.write_fmt(args).is_err() {
            cell.buf[0] = b'#';
            cell.len = 1;
        }
        cell
    }

    fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in.
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("?")
    }
}

impl Write for Cell {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// `value / base` as `1.23x`, or `n/a` when the base is 0 or either has no figure.
pub fn write_ratio(out: &mut impl Write, value: f64, base: f64, width: usize) -> fmt::Result {
    if base == 0.0 || !(value / base).is_finite() {
        write!(out, "{:>width$}", "n/a")
    } else {
        let cell = Cell::new(format_args!("{:.2}x", value / base));
        write!(out, "{:>width$}", cell.as_str())
    }
}

/// The side-by-side table: a column per variant (the first is the baseline, sync),
/// then each other variant over the first.
pub fn write_table(out: &mut impl Write, columns: &[(&str, &Values)], runs: u64) -> fmt::Result {
    let ratios: [(usize, usize); 8] = core::array::from_fn(|i| (i + 1, 0));
    let n = columns.len().saturating_sub(1).min(ratios.len());
    write_table_with(out, columns, &ratios[..n], runs)
}

/// The ratio columns of the apps table, whose columns are sync and async with the
/// classic LRU, then the same with the multi-gen LRU: async over sync within each
/// LRU, then mglru over classic within each mode.
pub const APPS_RATIOS: [(usize, usize); 4] = [(1, 0), (3, 2), (2, 0), (3, 1)];

/// The side-by-side table with chosen ratio columns: `(a, b)` prints column `a` over
/// column `b` (pairs out of range are skipped).
pub fn write_table_with(
    out: &mut impl Write,
    columns: &[(&str, &Values)],
    ratios: &[(usize, usize)],
    runs: u64,
) -> fmt::Result {
    let ratios = ratios
        .iter()
        .filter(|&&(a, b)| a < columns.len() && b < columns.len());
    write!(out, "--- bench: ")?;
    for (i, (label, _)) in columns.iter().enumerate() {
        write!(out, "{}{label}", if i > 0 { " vs " } else { "" })?;
    }
    if runs > 1 {
        writeln!(out, " (medians of {runs} runs) ---")?;
    } else {
        writeln!(out, " (one run each) ---")?;
    }
    write!(out, "{:<24}", "metric")?;
    for (label, _) in columns {
        write!(out, " {label:>14}")?;
    }
    for &(a, b) in ratios.clone() {
        let head = Cell::new(format_args!("{}/{}", columns[a].0, columns[b].0));
        let width = head.as_str().len().max(14);
        write!(out, " {:>width$}", head.as_str())?;
    }
    writeln!(out)?;
    for (k, m) in Metric::ALL.into_iter().enumerate() {
        write!(out, "{:<24}", m.key())?;
        for (_, values) in columns {
            let precision = if m.integer() { 0 } else { 2 };
            write!(out, " {:>14}", Figure(values[k], precision))?;
        }
        for &(a, b) in ratios.clone() {
            let head = Cell::new(format_args!("{}/{}", columns[a].0, columns[b].0));
            write!(out, " ")?;
            write_ratio(
                out,
                columns[a].1[k],
                columns[b].1[k],
                head.as_str().len().max(14),
            )?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "alloc_p50/p99: log-linear histogram, each percentile at most {:.1} % above the true latency; alloc_max exact",
        crate::latency::RESOLUTION_PCT
    )
}

/// Per-page costs of kswapd's pipeline, from sync runs and one-worker async runs.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct PipelineCosts {
    /// Isolate, age, unmap, queue: async kswapd's busy time minus its ring-full
    /// compressions (at `t_compress_ns` each), per page kswapd reclaimed. Not clamped:
    /// negative when those compressions cost kswapd less than the worker's rate says.
    pub t_scan_ns: f64,
    /// Compress + store + free: kcompressd's busy time per page it took.
    pub t_compress_ns: f64,
    /// Sync kswapd's busy time per page it reclaimed (scan + compress, measured).
    pub t_sync_ns: f64,
}

impl PipelineCosts {
    /// Sums over every run given; NaN for a cost whose pages are 0.
    pub fn from_runs(sync: &[RunStats], one_worker: &[RunStats]) -> PipelineCosts {
        let sum = |runs: &[RunStats], f: fn(&RunStats) -> u64| runs.iter().map(f).sum::<u64>();
        let t_compress_ns = ratio(
            sum(one_worker, |m| m.kcompressd_busy_ns),
            sum(one_worker, |m| m.kcompressd_pages),
        );
        let async_kswapd = sum(one_worker, |m| m.kswapd_busy_ns) as f64;
        let ring_full = sum(one_worker, |m| m.ring_full);
        let victims = sum(one_worker, |m| m.pgsteal_kswapd);
        let compressing = if ring_full == 0 {
            0.0
        } else {
            ring_full as f64 * t_compress_ns
        };
        PipelineCosts {
            t_scan_ns: if victims == 0 {
                f64::NAN
            } else {
                (async_kswapd - compressing) / victims as f64
            },
            t_compress_ns,
            t_sync_ns: ratio(
                sum(sync, |m| m.kswapd_busy_ns),
                sum(sync, |m| m.pgsteal_kswapd),
            ),
        }
    }

    /// The additive model of one thread doing both stages: 1 / (t_scan + t_compress).
    /// A model, not a bound: the two costs were measured in different runs.
    pub fn sync_model_per_s(&self) -> f64 {
        per_s(self.t_scan_ns + self.t_compress_ns)
    }

    /// A two-stage pipeline with `workers` compressors, each stage on cores of its own
    /// at these costs: 1 / max(t_scan, t_compress / N). Leaves out the ring-full pages
    /// kswapd compresses itself, so a measured rate can exceed it.
    pub fn async_model_per_s(&self, workers: usize) -> f64 {
        per_s(
            self.t_scan_ns
                .max(self.t_compress_ns / workers.max(1) as f64),
        )
    }
}

/// An async variant for the pipeline lines: its label, its runs, its workers.
pub type Variant<'a> = (&'a str, &'a [RunStats], usize);

/// ` -- ABOVE the model` when `measured` exceeds a finite `model`.
fn above(measured: f64, model: f64) -> &'static str {
    if measured > model {
        " -- ABOVE the model"
    } else {
        ""
    }
}

/// A JSON number, or `null` for no figure.
fn write_json_number(out: &mut impl Write, x: f64) -> fmt::Result {
    if x.is_finite() {
        write!(out, "{x:.0}")
    } else {
        out.write_str("null")
    }
}

/// Per-page costs and what a pipeline with them would reach (a model), next to what
/// kswapd reclaimed, ending with the `PIPELINE {json}` line. A measured rate above its
/// model is flagged, in the text and in `above_model`. The costs come from the first
/// async variant (one worker). Writes nothing without one.
pub fn write_pipeline(
    out: &mut impl Write,
    sync: &[RunStats],
    asyncs: &[Variant<'_>],
) -> fmt::Result {
    let Some(&(_, one, _)) = asyncs.first() else {
        return Ok(());
    };
    let c = PipelineCosts::from_runs(sync, one);
    let (t_scan, t_compress, t_sync) = (c.t_scan_ns, c.t_compress_ns, c.t_sync_ns);
    let sync_model = c.sync_model_per_s();
    let measured = |runs: &[RunStats]| medians(runs)[Metric::PgstealKswapdPerS as usize];
    writeln!(
        out,
        "--- bench: the pipeline model (per page kswapd reclaimed; each cost is a busy time over a page count, the rates are a model, not a measurement or a bound) ---"
    )?;
    writeln!(
        out,
        "t_scan (isolate, age, unmap, queue: async kswapd's busy time minus its ring-full pages at t_compress each) {} ns{}",
        Figure(t_scan, 0),
        if t_scan < 0.0 {
            " -- NEGATIVE: kswapd spent less on its ring-full pages than the worker does per page; the model does not hold"
        } else {
            ""
        }
    )?;
    writeln!(
        out,
        "t_compress (compress + store + free: kcompressd's busy time per page it took) {} ns",
        Figure(t_compress, 0)
    )?;
    writeln!(
        out,
        "t_sync (sync kswapd's busy time per page it reclaimed: scan + compress, measured) {} ns",
        Figure(t_sync, 0)
    )?;
    let sync_measured = measured(sync);
    writeln!(
        out,
        "sync: 1/t_sync = {} pages/s; additive model 1/(t_scan + t_compress) = {} pages/s; measured pgsteal_kswapd {}/s{}",
        Figure(per_s(t_sync), 0),
        Figure(sync_model, 0),
        Figure(sync_measured, 0),
        above(sync_measured, sync_model)
    )?;
    for &(label, runs, workers) in asyncs {
        let model = c.async_model_per_s(workers);
        let rate = measured(runs);
        writeln!(
            out,
            "{label}: model 1/max(t_scan, t_compress/{workers}) = {} pages/s; measured pgsteal_kswapd {}/s{}",
            Figure(model, 0),
            Figure(rate, 0),
            if rate > model {
                " -- ABOVE the model: kswapd also compressed the ring-full pages itself, which the model leaves out"
            } else {
                ""
            }
        )?;
    }
    write!(out, "PIPELINE {{\"t_scan_ns\":")?;
    write_json_number(out, t_scan)?;
    write!(out, ",\"t_compress_ns\":")?;
    write_json_number(out, t_compress)?;
    write!(out, ",\"t_sync_ns\":")?;
    write_json_number(out, t_sync)?;
    write!(out, ",\"sync_model_per_s\":")?;
    write_json_number(out, sync_model)?;
    for &(label, _, workers) in asyncs {
        write!(out, ",\"{label}_model_per_s\":")?;
        write_json_number(out, c.async_model_per_s(workers))?;
    }
    write!(out, ",\"above_model\":[")?;
    let mut first = true;
    let mut flag = |out: &mut dyn Write, label: &str| -> fmt::Result {
        let sep = if core::mem::take(&mut first) { "" } else { "," };
        write!(out, "{sep}\"{label}\"")
    };
    if sync_measured > sync_model {
        flag(out, "sync")?;
    }
    for &(label, runs, workers) in asyncs {
        if measured(runs) > c.async_model_per_s(workers) {
            flag(out, label)?;
        }
    }
    writeln!(out, "]}}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vmstat::VmStat;
    use std::string::String;

    /// A run of 2 s (ticks at 1 kHz) with known counters.
    fn known_run(pgsteal: u64, allocstall: u64, corrupt: u64) -> RunStats {
        let vmstat = VmStat::<1>::new();
        let cpu = vmstat.cpu(0).unwrap();
        cpu.add(VmEvent::PgStealAnon, pgsteal);
        cpu.add(VmEvent::PgStealKswapd, pgsteal / 2);
        cpu.add(VmEvent::AllocStall, allocstall);
        cpu.add(VmEvent::KcompressdRingFull, 10);
        let mut faults = LatencyHist::default();
        for t in [1, 2, 3, 4, 100] {
            faults.record(t);
        }
        let mm_stat = MmStat {
            orig_data_size: 27_000,
            compr_data_size: 10_000,
            same_pages: 3,
            ..MmStat::default()
        };
        RunStats::measure(&RunInput {
            vmstat: &vmstat.snapshot(),
            mm_stat: &mm_stat,
            tick_hz: 1000,
            elapsed: 2000,
            accesses: 5000,
            faults: &faults,
            apps: None,
            psi: &PsiSnapshot::default(),
            kswapd_busy: 1500,
            kcompressd_busy: 1000,
            kcompressd_pages: 400,
            workers: 2,
            rescued: 7,
            verified: 99,
            corrupt,
            frames_accounted: true,
        })
    }

    #[test]
    fn measure_turns_counts_into_rates_and_fractions() {
        let r = known_run(1000, 4, 0);
        assert_eq!(r.get(Metric::PgstealAnonPerS), 500.0);
        assert_eq!(r.get(Metric::PgstealKswapdPerS), 250.0);
        assert_eq!(r.get(Metric::AllocStall), 4.0);
        assert_eq!(r.get(Metric::OpsPerS), 2500.0);
        assert_eq!(r.get(Metric::Faults), 5.0);
        // 1 kHz ticks: 3 ticks = 3 ms; the maximum is exact.
        assert_eq!(r.get(Metric::AllocP50Ns), 3e6);
        assert_eq!(r.get(Metric::AllocMaxNs), 100e6);
        assert_eq!(r.get(Metric::KswapdBusyPct), 75.0);
        // Two workers: 1 s busy out of 2 x 2 s.
        assert_eq!(r.get(Metric::KcompressdBusyPct), 25.0);
        assert_eq!(r.get(Metric::KswapdNsPerPage), 1.5e9 / 500.0);
        assert_eq!(r.get(Metric::KcompressdNsPerPage), 2.5e6);
        assert_eq!(r.get(Metric::ComprRatio), 2.7);
        assert_eq!(r.get(Metric::ElapsedMs), 2000.0);
        assert_eq!(r.get(Metric::Rescued), 7.0);
        assert_eq!(r.kswapd_busy_ns, 1_500_000_000);
        assert_eq!(r.ring_full, 10);
        assert!(r.clean());
        assert!(!known_run(1000, 4, 1).clean());
    }

    #[test]
    fn medians_take_the_lower_middle_and_sum_corruption() {
        let runs = [
            known_run(3000, 9, 0),
            known_run(1000, 1, 2),
            known_run(2000, 5, 1),
        ];
        let m = medians(&runs);
        assert_eq!(m[Metric::PgstealAnon as usize], 2000.0);
        assert_eq!(m[Metric::AllocStall as usize], 5.0);
        assert_eq!(m[Metric::CorruptPages as usize], 3.0);
        // Even count: the lower of the two middle values; ties are fine.
        let m = medians(&runs[..2]);
        assert_eq!(m[Metric::PgstealAnon as usize], 1000.0);
        let same = [known_run(1000, 1, 0), known_run(1000, 1, 0)];
        assert_eq!(medians(&same)[Metric::AllocStall as usize], 1.0);
        assert!(medians(&[]).iter().all(|x| x.is_nan()));
        // One run: its own values (NaN where it has no figure, so compared as bits).
        let bits = |v: &Values| v.map(f64::to_bits);
        assert_eq!(bits(&medians(&runs[..1])), bits(runs[0].values()));
    }

    #[test]
    fn table_has_a_row_per_metric_and_ratio_columns() {
        let sync = known_run(1000, 4, 0);
        let fast = known_run(3600, 2, 0);
        let mut out = String::new();
        write_table(
            &mut out,
            &[("sync", sync.values()), ("async", fast.values())],
            3,
        )
        .unwrap();
        let lines: std::vec::Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "--- bench: sync vs async (medians of 3 runs) ---");
        assert_eq!(
            lines[1],
            "metric                             sync          async     async/sync"
        );
        assert_eq!(
            lines[2],
            "pgsteal_anon_per_s               500.00        1800.00          3.60x"
        );
        assert_eq!(
            lines[1 + 1 + Metric::AllocStall as usize],
            "allocstall                            4              2          0.50x"
        );
        // A zero baseline has no ratio.
        assert_eq!(
            lines[1 + 1 + Metric::CorruptPages as usize],
            "corrupt_pages                         0              0            n/a"
        );
        assert_eq!(lines.len(), 2 + NR_METRICS + 1);
        assert_eq!(
            lines[2 + NR_METRICS],
            "alloc_p50/p99: log-linear histogram, each percentile at most 1.6 % above the true latency; alloc_max exact"
        );
        let mut one = String::new();
        write_table(&mut one, &[("sync", sync.values())], 1).unwrap();
        assert!(one.starts_with("--- bench: sync (one run each) ---\nmetric "));
    }

    #[test]
    fn pipeline_bounds_follow_the_costs() {
        // sync: 1.5 s busy over 500 pages = 3 ms a page. async: 1.5 s busy with 10
        // ring-full pages at t_compress = 2.5 ms, over 500 pages: (1.5 s - 25 ms) / 500.
        let sync = [known_run(1000, 4, 0)];
        let one = [known_run(1000, 2, 0)];
        let c = PipelineCosts::from_runs(&sync, &one);
        assert_eq!(c.t_sync_ns, 3e6);
        assert_eq!(c.t_compress_ns, 2.5e6);
        assert_eq!(c.t_scan_ns, 2.95e6);
        assert!((c.sync_model_per_s() - 1e9 / 5.45e6).abs() < 1e-9);
        assert!((c.async_model_per_s(1) - 1e9 / 2.95e6).abs() < 1e-9);
        assert_eq!(c.async_model_per_s(2), c.async_model_per_s(1));
        let mut out = String::new();
        write_pipeline(
            &mut out,
            &sync,
            &[("async", &one, 1), ("async_2w", &one, 2)],
        )
        .unwrap();
        let last = out.lines().last().unwrap();
        assert_eq!(
            last,
            "PIPELINE {\"t_scan_ns\":2950000,\"t_compress_ns\":2500000,\"t_sync_ns\":3000000,\"sync_model_per_s\":183,\"async_model_per_s\":339,\"async_2w_model_per_s\":339,\"above_model\":[\"sync\"]}"
        );
        // Measured 250 pages/s against an additive model of 183: flagged.
        assert!(out.contains("measured pgsteal_kswapd 250/s -- ABOVE the model"));
        assert!(out.contains("async_2w: model 1/max(t_scan, t_compress/2) = 339 pages/s; measured pgsteal_kswapd 250/s\n"));
        let mut none = String::new();
        write_pipeline(&mut none, &sync, &[]).unwrap();
        assert!(none.is_empty());
    }

    /// A run with nothing to divide by: no elapsed time, no fault, no worker, no page.
    fn empty_run() -> RunStats {
        let vmstat = VmStat::<1>::new();
        RunStats::measure(&RunInput {
            vmstat: &vmstat.snapshot(),
            mm_stat: &MmStat::default(),
            tick_hz: 1000,
            elapsed: 0,
            accesses: 0,
            faults: &LatencyHist::default(),
            apps: None,
            psi: &PsiSnapshot::default(),
            kswapd_busy: 0,
            kcompressd_busy: 0,
            kcompressd_pages: 0,
            workers: 0,
            rescued: 0,
            verified: 0,
            corrupt: 0,
            frames_accounted: true,
        })
    }

    #[test]
    fn no_figure_is_nan_and_prints_na_never_zero() {
        let r = empty_run();
        for m in [
            Metric::PgstealAnonPerS,
            Metric::OpsPerS,
            Metric::AllocP99Ns,
            Metric::KswapdBusyPct,
            Metric::KcompressdBusyPct,
            Metric::KswapdNsPerPage,
            Metric::KcompressdNsPerPage,
            Metric::ComprRatio,
        ] {
            assert!(r.get(m).is_nan(), "{m:?}");
        }
        // Counts are counts: zero is a figure.
        assert_eq!(r.get(Metric::AllocStall), 0.0);
        // A sync column (no worker) beside an async one: the medians skip runs
        // without a figure, and the table prints n/a for them and their ratios.
        let sync = known_run(1000, 4, 0);
        let mut no_worker = sync.clone();
        no_worker.values[Metric::KcompressdBusyPct as usize] = f64::NAN;
        let m = medians(&[no_worker.clone(), sync.clone(), no_worker.clone()]);
        assert_eq!(m[Metric::KcompressdBusyPct as usize], 25.0);
        let mut out = String::new();
        write_table(
            &mut out,
            &[("sync", no_worker.values()), ("async", sync.values())],
            1,
        )
        .unwrap();
        let row = out
            .lines()
            .find(|l| l.starts_with("kcompressd_busy_pct"))
            .unwrap();
        assert_eq!(
            row,
            "kcompressd_busy_pct                 n/a          25.00            n/a"
        );
        assert_eq!(std::format!("[{:>5}]", Figure(f64::NAN, 2)), "[  n/a]");
        assert_eq!(std::format!("[{:>6}]", Figure(2.5, 2)), "[  2.50]");
    }

    #[test]
    fn negative_t_scan_is_reported_not_clamped() {
        // kswapd's 1.5 s of busy time against 1000 ring-full pages at 2.5 ms each.
        let sync = [known_run(1000, 4, 0)];
        let mut one = known_run(1000, 2, 0);
        one.ring_full = 1000;
        let c = PipelineCosts::from_runs(&sync, core::slice::from_ref(&one));
        assert_eq!(c.t_scan_ns, (1.5e9 - 1000.0 * 2.5e6) / 500.0);
        let mut out = String::new();
        write_pipeline(
            &mut out,
            &sync,
            &[("async", core::slice::from_ref(&one), 1)],
        )
        .unwrap();
        assert!(out.contains("ns -- NEGATIVE"), "{out}");
        assert!(out.contains("\"t_scan_ns\":-2000000,"), "{out}");
    }

    #[test]
    fn ratio_cells_pad_like_numbers() {
        let mut out = String::new();
        write_ratio(&mut out, 1.0, 3.0, 8).unwrap();
        write_ratio(&mut out, 1.0, 0.0, 3).unwrap();
        write_ratio(&mut out, 1e200, 1e-10, 3).unwrap();
        write_ratio(&mut out, f64::NAN, 1.0, 4).unwrap();
        assert_eq!(out, "   0.33xn/a  # n/a");
    }
}
