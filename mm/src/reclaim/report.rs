//! The benchmark's report, printed alike by the kernel's `scenario=bench` and the host
//! harness: one run's measurements (`RunStats`), medians over runs, the side-by-side
//! table, and the pipeline bound from per-page costs. Arithmetic and formatting into
//! any `fmt::Write`, no allocation; taking the measurements (timers, counters,
//! checking pages) is the caller's.

use core::fmt::{self, Write};

use crate::latency::LatencyHist;
use crate::vmstat::{VmEvent, VmStatSnapshot};
use crate::zram::MmStat;

macro_rules! metrics {
    ($( $(#[$doc:meta])* $variant:ident = $key:literal, $integer:literal; )*) => {
        /// One measured quantity of a run, in table order.
        #[derive(Copy, Clone, Debug, PartialEq, Eq)]
        pub enum Metric {
            $( $(#[$doc])* $variant, )*
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
pub const NR_METRICS: usize = 27;

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
    KswapdBusyPct = "kswapd_busy_pct", false;
    /// Per worker: all workers' busy time over (elapsed x workers).
    KcompressdBusyPct = "kcompressd_busy_pct", false;
    KswapdNsPerPage = "kswapd_ns_per_page", true;
    KcompressdNsPerPage = "kcompressd_ns_per_page", true;
    /// lz4: `orig_data_size / compr_data_size`.
    ComprRatio = "compr_ratio", false;
    SamePages = "same_pages", true;
    ElapsedMs = "elapsed_ms", true;
    VerifiedPages = "verified_pages", true;
    /// Summed over runs, not a median.
    CorruptPages = "corrupt_pages", true;
}

/// A value per metric, in `Metric::ALL` order.
pub type Values = [f64; NR_METRICS];

/// What the caller measured over one run. Times are in ticks of a counter running at
/// `tick_hz` (the generic timer in the kernel; nanoseconds on the host, `tick_hz` 1e9).
#[derive(Clone, Copy, Debug)]
pub struct RunInput<'a> {
    /// Counter differences over the run.
    pub vmstat: &'a VmStatSnapshot,
    pub mm_stat: &'a MmStat,
    pub tick_hz: u64,
    /// The workload's time from start to end.
    pub elapsed: u64,
    pub accesses: u64,
    /// Latency of the faults that needed a frame, in ticks.
    pub faults: &'a LatencyHist,
    /// kswapd's time outside sleep.
    pub kswapd_busy: u64,
    /// All kcompressd workers' time outside sleep, and the pages they took.
    pub kcompressd_busy: u64,
    pub kcompressd_pages: u64,
    pub workers: u64,
    pub rescued: u64,
    /// Pages read back and found exact / wrong (during the run and in the final check).
    pub verified: u64,
    pub corrupt: u64,
    /// Every frame free, mapped, in the store or parked at the end.
    pub frames_accounted: bool,
}

/// One run's measurements: a value per metric, plus the sums the pipeline
/// arithmetic adds up over runs.
#[derive(Clone, Debug, PartialEq)]
pub struct RunStats {
    values: Values,
    pub kswapd_busy_ns: u64,
    pub kcompressd_busy_ns: u64,
    pub kcompressd_pages: u64,
    pub pgsteal_kswapd: u64,
    pub ring_full: u64,
    pub frames_accounted: bool,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn per_s(ns: f64) -> f64 {
    if ns > 0.0 { 1e9 / ns } else { 0.0 }
}

impl RunStats {
    /// Turns what was measured into the table's quantities.
    pub fn measure(i: &RunInput<'_>) -> RunStats {
        let hz = u128::from(i.tick_hz.max(1));
        let ns =
            |ticks: u64| u64::try_from(u128::from(ticks) * 1_000_000_000 / hz).unwrap_or(u64::MAX);
        let e = |ev: VmEvent| i.vmstat.get(ev);
        let elapsed = i.elapsed.max(1);
        let secs = ns(elapsed) as f64 / 1e9;
        let rate = |n: u64| n as f64 / secs;
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
                Metric::KcompressdQueued => e(VmEvent::KcompressdQueued) as f64,
                Metric::KcompressdRingFull => e(VmEvent::KcompressdRingFull) as f64,
                Metric::Rescued => i.rescued as f64,
                Metric::OpsPerS => rate(i.accesses),
                Metric::Faults => i.faults.count as f64,
                Metric::AllocP50Ns => ns(i.faults.percentile(50)) as f64,
                Metric::AllocP99Ns => ns(i.faults.percentile(99)) as f64,
                Metric::AllocMaxNs => ns(i.faults.max) as f64,
                Metric::KswapdBusyPct => 100.0 * ratio(i.kswapd_busy, elapsed),
                Metric::KcompressdBusyPct => {
                    100.0 * ratio(i.kcompressd_busy, elapsed * i.workers.max(1))
                }
                Metric::KswapdNsPerPage => (kswapd_busy_ns / pgsteal_kswapd.max(1)) as f64,
                Metric::KcompressdNsPerPage => {
                    (kcompressd_busy_ns / i.kcompressd_pages.max(1)) as f64
                }
                Metric::ComprRatio => ratio(i.mm_stat.orig_data_size, i.mm_stat.compr_data_size),
                Metric::SamePages => i.mm_stat.same_pages as f64,
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

    pub fn get(&self, m: Metric) -> f64 {
        self.values[m as usize]
    }

    pub fn values(&self) -> &Values {
        &self.values
    }

    /// Nothing lost: no corrupt page and every frame accounted for.
    pub fn clean(&self) -> bool {
        self.get(Metric::CorruptPages) == 0.0 && self.frames_accounted
    }
}

/// Per metric, the median over `runs` (the lower middle one: always a value seen),
/// except `corrupt_pages`, which is the total. All zero for no runs.
pub fn medians(runs: &[RunStats]) -> Values {
    let mut out = [0.0; NR_METRICS];
    if runs.is_empty() {
        return out;
    }
    let middle = (runs.len() - 1) / 2;
    for (k, m) in Metric::ALL.into_iter().enumerate() {
        let x = |i: usize| runs[i].values[k];
        out[k] = if m == Metric::CorruptPages {
            (0..runs.len()).map(x).sum()
        } else {
            // The value whose rank (ties broken by position) is the middle one: no
            // sorting buffer needed, and the runs are few.
            (0..runs.len())
                .find(|&j| {
                    let below = (0..runs.len())
                        .filter(|&i| {
                            x(i).total_cmp(&x(j)).is_lt()
                                || (i < j && x(i).total_cmp(&x(j)).is_eq())
                        })
                        .count();
                    below == middle
                })
                .map_or(0.0, x)
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

/// `value / base` as `1.23x`, or `-` when the base is 0.
pub fn write_ratio(out: &mut impl Write, value: f64, base: f64, width: usize) -> fmt::Result {
    if base == 0.0 {
        write!(out, "{:>width$}", "-")
    } else {
        let cell = Cell::new(format_args!("{:.2}x", value / base));
        write!(out, "{:>width$}", cell.as_str())
    }
}

/// The side-by-side table: a column per variant (the first is the baseline, sync),
/// then each other variant over the first.
pub fn write_table(out: &mut impl Write, columns: &[(&str, &Values)], runs: u64) -> fmt::Result {
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
    for (label, _) in columns.iter().skip(1) {
        write!(
            out,
            " {:>14}",
            Cell::new(format_args!("{label}/sync")).as_str()
        )?;
    }
    writeln!(out)?;
    let Some((_, base)) = columns.first() else {
        return Ok(());
    };
    for (k, m) in Metric::ALL.into_iter().enumerate() {
        write!(out, "{:<24}", m.key())?;
        for (_, values) in columns {
            if m.integer() {
                write!(out, " {:>14.0}", values[k])?;
            } else {
                write!(out, " {:>14.2}", values[k])?;
            }
        }
        for (_, values) in columns.iter().skip(1) {
            write!(out, " ")?;
            write_ratio(out, values[k], base[k], 14)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Per-page costs of kswapd's pipeline, from sync runs and one-worker async runs.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct PipelineCosts {
    /// Isolate, age, unmap, queue: async kswapd's busy time minus its ring-full
    /// compressions (at `t_compress_ns` each), per page kswapd reclaimed.
    pub t_scan_ns: f64,
    /// Compress + store + free: kcompressd's busy time per page it took.
    pub t_compress_ns: f64,
    /// Sync kswapd's busy time per page it reclaimed (scan + compress, measured).
    pub t_sync_ns: f64,
}

impl PipelineCosts {
    /// Sums over every run given.
    pub fn from_runs(sync: &[RunStats], one_worker: &[RunStats]) -> PipelineCosts {
        let sum = |runs: &[RunStats], f: fn(&RunStats) -> u64| runs.iter().map(f).sum::<u64>();
        let t_compress_ns = ratio(
            sum(one_worker, |m| m.kcompressd_busy_ns),
            sum(one_worker, |m| m.kcompressd_pages),
        );
        let async_kswapd = sum(one_worker, |m| m.kswapd_busy_ns) as f64;
        let ring_full = sum(one_worker, |m| m.ring_full) as f64;
        let victims = sum(one_worker, |m| m.pgsteal_kswapd).max(1) as f64;
        PipelineCosts {
            t_scan_ns: ((async_kswapd - ring_full * t_compress_ns) / victims).max(0.0),
            t_compress_ns,
            t_sync_ns: ratio(
                sum(sync, |m| m.kswapd_busy_ns),
                sum(sync, |m| m.pgsteal_kswapd),
            ),
        }
    }

    /// What one thread doing both stages can reclaim: 1 / (t_scan + t_compress).
    pub fn sync_bound_per_s(&self) -> f64 {
        per_s(self.t_scan_ns + self.t_compress_ns)
    }

    /// A two-stage pipeline with `workers` compressors: 1 / max(t_scan, t_compress / N).
    pub fn async_bound_per_s(&self, workers: usize) -> f64 {
        per_s(
            self.t_scan_ns
                .max(self.t_compress_ns / workers.max(1) as f64),
        )
    }
}

/// An async variant for the pipeline lines: its label, its runs, its workers.
pub type Variant<'a> = (&'a str, &'a [RunStats], usize);

/// Per-page costs and what a pipeline with them can reach, next to what kswapd
/// reclaimed, ending with the `PIPELINE {json}` line. The costs come from the first
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
    let sync_bound = c.sync_bound_per_s();
    let measured = |runs: &[RunStats]| medians(runs)[Metric::PgstealKswapdPerS as usize];
    writeln!(
        out,
        "--- bench: where the gain comes from (per page kswapd reclaimed) ---"
    )?;
    writeln!(
        out,
        "t_scan (isolate, age, unmap, queue: async kswapd minus its ring-full compressions) {t_scan:.0} ns"
    )?;
    writeln!(
        out,
        "t_compress (compress + store + free: kcompressd per page)                    {t_compress:.0} ns"
    )?;
    writeln!(
        out,
        "sync kswapd per page (scan + compress, measured directly)                     {t_sync:.0} ns"
    )?;
    writeln!(
        out,
        "sync bound 1/(t_scan + t_compress) = {sync_bound:.0} pages/s, 1/(sync kswapd per page) = {:.0} pages/s; measured pgsteal_kswapd {:.0}/s",
        per_s(t_sync),
        measured(sync)
    )?;
    for &(label, runs, workers) in asyncs {
        writeln!(
            out,
            "{label} bound 1/max(t_scan, t_compress/{workers}) = {:.0} pages/s; measured pgsteal_kswapd {:.0}/s",
            c.async_bound_per_s(workers),
            measured(runs)
        )?;
    }
    write!(
        out,
        "PIPELINE {{\"t_scan_ns\":{t_scan:.0},\"t_compress_ns\":{t_compress:.0},\"t_sync_ns\":{t_sync:.0},\"sync_bound_per_s\":{sync_bound:.0}"
    )?;
    for &(label, _, workers) in asyncs {
        write!(
            out,
            ",\"{label}_bound_per_s\":{:.0}",
            c.async_bound_per_s(workers)
        )?;
    }
    writeln!(out, "}}")
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
        assert_eq!(medians(&[]), [0.0; NR_METRICS]);
        assert_eq!(&medians(&runs[..1]), runs[0].values());
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
            "corrupt_pages                         0              0              -"
        );
        assert_eq!(lines.len(), 2 + NR_METRICS);
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
        assert!((c.sync_bound_per_s() - 1e9 / 5.45e6).abs() < 1e-9);
        assert!((c.async_bound_per_s(1) - 1e9 / 2.95e6).abs() < 1e-9);
        assert_eq!(c.async_bound_per_s(2), c.async_bound_per_s(1));
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
            "PIPELINE {\"t_scan_ns\":2950000,\"t_compress_ns\":2500000,\"t_sync_ns\":3000000,\"sync_bound_per_s\":183,\"async_bound_per_s\":339,\"async_2w_bound_per_s\":339}"
        );
        assert!(out.contains("async_2w bound 1/max(t_scan, t_compress/2) = 339 pages/s"));
        let mut none = String::new();
        write_pipeline(&mut none, &sync, &[]).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn ratio_cells_pad_like_numbers() {
        let mut out = String::new();
        write_ratio(&mut out, 1.0, 3.0, 8).unwrap();
        write_ratio(&mut out, 1.0, 0.0, 3).unwrap();
        write_ratio(&mut out, 1e200, 1e-10, 3).unwrap();
        assert_eq!(out, "   0.33x  -  #");
    }
}
