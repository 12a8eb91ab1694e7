//! A latency histogram for fault timings, log-linear as HdrHistogram's: exact below
//! 128, then 64 buckets per power of two, so a percentile is at most 1/64 (1.6 %)
//! above the true value, fine enough to tell two modes apart; count and maximum are
//! exact. Unit-free (timer ticks in the kernel, nanoseconds on the host); fixed size
//! (2^40 and above share the last bucket), no allocation. It only records: what to
//! time is the caller's business.

/// Sub-buckets per power of two: 2^SUB_BITS.
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
// Buckets at most 3 % wide: 1/SUB <= 3/100.
const _: () = assert!(SUB * 3 >= 100);
/// Values below this have a bucket each.
const EXACT: u64 = 2 * SUB;
/// Values from 2^TOP_BITS up share the last bucket (the maximum stays exact).
const TOP_BITS: u32 = 40;
const BUCKETS: usize = EXACT as usize + (TOP_BITS - SUB_BITS - 1) as usize * SUB as usize;

/// How far above the true value a percentile may be, in percent (bucket width over
/// its lower end), for the reports that print it.
pub const RESOLUTION_PCT: f64 = 100.0 / SUB as f64;

/// Latencies recorded so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatencyHist {
    buckets: [u32; BUCKETS],
    /// Latencies recorded.
    pub count: u64,
    /// Largest latency recorded (exact, not bucketed); 0 when none.
    pub max: u64,
}

impl Default for LatencyHist {
    fn default() -> Self {
        LatencyHist::EMPTY
    }
}

impl LatencyHist {
    /// No latency recorded.
    pub const EMPTY: LatencyHist = LatencyHist {
        buckets: [0; BUCKETS],
        count: 0,
        max: 0,
    };

    fn bucket(value: u64) -> usize {
        if value < EXACT {
            return value as usize;
        }
        if value >> TOP_BITS != 0 {
            return BUCKETS - 1;
        }
        // value in [2^e, 2^(e+1)), e >= SUB_BITS + 1: 2^SUB_BITS buckets of 2^(e - SUB_BITS).
        let e = 63 - value.leading_zeros();
        let sub = (value >> (e - SUB_BITS)) - SUB;
        (EXACT + u64::from(e - SUB_BITS - 1) * SUB + sub) as usize
    }

    /// The largest value bucket `i` holds.
    fn upper(i: usize) -> u64 {
        if i == BUCKETS - 1 {
            return u64::MAX;
        }
        let i = i as u64;
        if i < EXACT {
            return i;
        }
        let (octave, sub) = ((i - EXACT) / SUB, (i - EXACT) % SUB);
        let e = octave + u64::from(SUB_BITS) + 1;
        ((SUB + sub + 1) << (e - u64::from(SUB_BITS))) - 1
    }

    /// Adds one latency `value` (in the caller's unit).
    pub fn record(&mut self, value: u64) {
        let b = &mut self.buckets[Self::bucket(value)];
        *b = b.saturating_add(1);
        self.count += 1;
        self.max = self.max.max(value);
    }

    /// Adds everything `other` recorded (one histogram per thread, summed at the end).
    pub fn merge(&mut self, other: &LatencyHist) {
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine = mine.saturating_add(*theirs);
        }
        self.count += other.count;
        self.max = self.max.max(other.max);
    }

    /// The `pct`-th percentile (bucket upper bound, at most the maximum), 0 if empty.
    pub fn percentile(&self, pct: u64) -> u64 {
        let rank = (self.count * pct.min(100)).div_ceil(100).max(1);
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += u64::from(n);
            if seen >= rank {
                return Self::upper(i).min(self.max);
            }
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_histogram_reports_zero() {
        let h = LatencyHist::default();
        assert_eq!(
            (h.percentile(50), h.percentile(99), h.max, h.count),
            (0, 0, 0, 0)
        );
    }

    #[test]
    fn small_values_are_exact() {
        let mut h = LatencyHist::default();
        for v in 0..EXACT {
            h.record(v);
        }
        assert_eq!(h.percentile(50), EXACT / 2 - 1);
        assert_eq!(h.percentile(100), EXACT - 1);
        assert_eq!(h.count, EXACT);
    }

    #[test]
    fn buckets_tile_the_range_without_gaps_and_are_at_most_1_6_pct_wide() {
        for i in 0..BUCKETS - 1 {
            let upper = LatencyHist::upper(i);
            assert_eq!(LatencyHist::bucket(upper), i, "upper of bucket {i}");
            assert_eq!(LatencyHist::bucket(upper + 1), i + 1, "after bucket {i}");
            let lower = if i == 0 {
                0
            } else {
                LatencyHist::upper(i - 1) + 1
            };
            // Width over the lower end: at most 1/64 (exact buckets have width 1).
            assert!(
                lower < EXACT || (upper - lower + 1) * SUB <= lower,
                "bucket {i}: {lower}..={upper}"
            );
        }
        assert_eq!(LatencyHist::bucket(1 << TOP_BITS), BUCKETS - 1);
        assert_eq!(LatencyHist::bucket(u64::MAX), BUCKETS - 1);
        assert_eq!(LatencyHist::upper(BUCKETS - 1), u64::MAX);
    }

    #[test]
    fn two_modes_three_percent_apart_stay_apart() {
        // Half the faults at 100 µs, half at 103 µs (ns): p25 and p75 fall in
        // different buckets, each within 1.6 % of its mode.
        let mut h = LatencyHist::default();
        for _ in 0..500 {
            h.record(100_000);
            h.record(103_000);
        }
        let (p25, p75) = (h.percentile(25), h.percentile(75));
        assert!((100_000..=101_600).contains(&p25), "p25 {p25}");
        assert!((103_000..=104_648).contains(&p75), "p75 {p75}");
    }

    #[test]
    fn percentiles_of_a_known_spread() {
        // 1..=1000 µs in ns: p50 is 500 µs, p99 990 µs, within one bucket (1.6 %).
        let mut h = LatencyHist::default();
        for us in 1..=1000u64 {
            h.record(us * 1000);
        }
        let p50 = h.percentile(50);
        let p99 = h.percentile(99);
        assert!((500_000..=508_000).contains(&p50), "p50 {p50}");
        assert!((990_000..=1_000_000).contains(&p99), "p99 {p99}");
        assert_eq!(h.max, 1_000_000);
        assert_eq!(h.percentile(100), 1_000_000);
    }

    #[test]
    fn merge_equals_recording_everything_in_one() {
        let (mut a, mut b, mut all) = Default::default();
        for v in [3u64, 70, 9000, 12, 1 << 40] {
            LatencyHist::record(&mut a, v);
            LatencyHist::record(&mut all, v);
        }
        for v in [5u64, 800_000, 1] {
            LatencyHist::record(&mut b, v);
            LatencyHist::record(&mut all, v);
        }
        let mut merged: LatencyHist = a;
        merged.merge(&b);
        assert_eq!(merged, all);
    }

    proptest! {
        /// Any percentile below 2^40 is at least the true value and at most 1/64 above it.
        #[test]
        fn percentile_is_within_its_resolution(values in prop::collection::vec(0u64..1 << TOP_BITS, 1..200), pct in 1u64..=100) {
            let mut h = LatencyHist::default();
            for &v in &values {
                h.record(v);
            }
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let rank = (sorted.len() as u64 * pct).div_ceil(100).max(1) as usize;
            let exact = sorted[rank - 1];
            let got = h.percentile(pct);
            prop_assert!(got >= exact, "p{pct}: {got} < {exact}");
            prop_assert!(got as u128 * 64 <= exact as u128 * 65 + 64, "p{pct}: {got} > (1 + 1/64) x {exact}");
            prop_assert_eq!(h.max, *sorted.last().unwrap());
        }
    }
}
