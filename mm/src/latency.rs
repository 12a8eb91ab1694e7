//! A latency histogram for fault timings: log-linear buckets (four per power of two,
//! exact below 8), so a percentile is within 25 % of the true value; count and maximum
//! are exact. Unit-free (timer ticks in the kernel, nanoseconds on the host); fixed
//! size, no allocation. It only records: what to time is the caller's business.

/// Buckets: 8 exact ones, then four per power of two up to 2^63 (index 251 at most).
const BUCKETS: usize = 256;

/// Latencies recorded so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatencyHist {
    buckets: [u64; BUCKETS],
    pub count: u64,
    pub max: u64,
}

impl Default for LatencyHist {
    fn default() -> Self {
        LatencyHist {
            buckets: [0; BUCKETS],
            count: 0,
            max: 0,
        }
    }
}

impl LatencyHist {
    fn bucket(value: u64) -> usize {
        if value < 8 {
            return value as usize;
        }
        let e = 63 - value.leading_zeros() as u64;
        (8 + (e - 3) * 4 + ((value >> (e - 2)) & 3)) as usize
    }

    /// The largest value bucket `i` holds.
    fn upper(i: usize) -> u64 {
        if i < 8 {
            return i as u64;
        }
        let (e, sub) = ((i as u64 - 8) / 4 + 3, (i as u64 - 8) % 4);
        // For the last bucket (e = 63, sub = 3) this is 2^64 - 1: computed in u128.
        (((4 + sub + 1) as u128) << (e - 2)).saturating_sub(1) as u64
    }

    pub fn record(&mut self, value: u64) {
        self.buckets[Self::bucket(value)] += 1;
        self.count += 1;
        self.max = self.max.max(value);
    }

    /// Adds everything `other` recorded (one histogram per thread, summed at the end).
    pub fn merge(&mut self, other: &LatencyHist) {
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine += theirs;
        }
        self.count += other.count;
        self.max = self.max.max(other.max);
    }

    /// The `pct`-th percentile (bucket upper bound, at most the maximum), 0 if empty.
    pub fn percentile(&self, pct: u64) -> u64 {
        let rank = (self.count * pct.min(100)).div_ceil(100).max(1);
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
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
        for v in 0..8 {
            h.record(v);
        }
        assert_eq!(h.percentile(50), 3);
        assert_eq!(h.percentile(100), 7);
        assert_eq!(h.count, 8);
    }

    #[test]
    fn buckets_tile_the_range_without_gaps() {
        for i in 0..LatencyHist::bucket(u64::MAX) {
            let upper = LatencyHist::upper(i);
            assert_eq!(LatencyHist::bucket(upper), i, "upper of bucket {i}");
            assert_eq!(LatencyHist::bucket(upper + 1), i + 1, "after bucket {i}");
        }
        assert_eq!(LatencyHist::upper(LatencyHist::bucket(u64::MAX)), u64::MAX);
    }

    #[test]
    fn percentiles_of_a_known_spread() {
        // 1..=1000 µs in ns: p50 is 500 µs, p99 990 µs, within one bucket (25 %).
        let mut h = LatencyHist::default();
        for us in 1..=1000u64 {
            h.record(us * 1000);
        }
        let p50 = h.percentile(50);
        let p99 = h.percentile(99);
        assert!((500_000..=625_000).contains(&p50), "p50 {p50}");
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
        /// Any percentile is at least the true value and within 25 % above it.
        #[test]
        fn percentile_is_within_a_quarter(values in prop::collection::vec(0u64..u64::MAX / 2, 1..200), pct in 1u64..=100) {
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
            prop_assert!(got as u128 * 4 <= exact as u128 * 5 + 4, "p{pct}: {got} > 1.25 x {exact}");
            prop_assert_eq!(h.max, *sorted.last().unwrap());
        }
    }
}
