//! The bench's access pattern, a phone's apps: `apps` equal working sets, the
//! foreground one takes every access uniformly over its pages, and every
//! `switch_every` accesses another app (picked from the seed) comes to the foreground.
//! Shared by the kernel's workload, the host harness and the Linux workload, so that
//! one seed gives all three the same sequence of pages, reads and writes. It only
//! picks; touching and checking the pages is the caller's. `table` keeps each app's
//! life (foreground, background, killed) for the low-memory killer; `session` runs
//! the Android-style app switching over a caller's pages.

pub mod session;
pub mod table;

use crate::pagegen::SplitMix64;

/// The app pattern over a workload's pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppPattern {
    /// Number of apps; the pages are split into this many equal working sets.
    pub apps: usize,
    /// Accesses between two app switches (0 counts as 1).
    pub switch_every: u64,
    /// Picks the foreground app of each switch (and nothing else).
    pub seed: u64,
}

impl AppPattern {
    /// The page (index among `pages`) of access number `n`, drawing from `rng`.
    pub fn pick(&self, pages: usize, rng: &mut SplitMix64, n: u64) -> usize {
        let set = self.set(pages);
        self.foreground(pages, n) * set + rng.below(set)
    }

    /// The app in the foreground at access number `n`.
    pub fn foreground(&self, pages: usize, n: u64) -> usize {
        let apps = self.apps.clamp(1, pages.max(1));
        let switch = n / self.switch_every.max(1);
        SplitMix64(self.seed ^ switch).below(apps)
    }

    /// Pages in each app's working set.
    pub fn set(&self, pages: usize) -> usize {
        (pages / self.apps.clamp(1, pages.max(1))).max(1)
    }
}

/// Whether the next access writes (`write_pct` percent of them), drawing from `rng`
/// after `pick`.
pub fn is_write(rng: &mut SplitMix64, write_pct: u64) -> bool {
    (rng.below(100) as u64) < write_pct
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_app_at_a_time_and_switches_on_schedule() {
        let p = AppPattern {
            apps: 8,
            switch_every: 100,
            seed: 1,
        };
        let mut rng = SplitMix64(1);
        let app = |page: usize| page / 128;
        for switch in 0..20u64 {
            let first = app(p.pick(1024, &mut rng, switch * 100));
            for n in switch * 100..(switch + 1) * 100 {
                assert_eq!(app(p.pick(1024, &mut rng, n)), first, "access {n}");
            }
        }
        // The same seed gives the same sequence.
        let (mut a, mut b) = (SplitMix64(7), SplitMix64(7));
        let seq = |rng: &mut SplitMix64| {
            (0..1000)
                .map(|n| (p.pick(1024, rng, n), is_write(rng, 25)))
                .collect::<std::vec::Vec<_>>()
        };
        assert_eq!(seq(&mut a), seq(&mut b));
        let writes = seq(&mut SplitMix64(3)).iter().filter(|(_, w)| *w).count();
        assert!((200..300).contains(&writes), "{writes} writes of 1000");
    }
}
