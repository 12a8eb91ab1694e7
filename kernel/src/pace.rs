//! Frame pacing for a paced workload: bursts of work due on a fixed grid of ticks, as
//! a phone app's frames are due on vsync. A burst that starts more than one period
//! late does not catch up: the grid slots it missed are dropped and counted (janky
//! frames), so a stalled workload leaves its core idle instead of running flat out.
//! Pure arithmetic on caller-provided ticks; the workload does the sleeping.

/// The grid and what it dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pacer {
    period: u64,
    next: u64,
    missed: u64,
    bursts: u64,
}

impl Pacer {
    /// The first burst is due at `start`, then one every `period` ticks (at least 1).
    pub const fn new(start: u64, period: u64) -> Pacer {
        Pacer {
            period: if period == 0 { 1 } else { period },
            next: start,
            missed: 0,
            bursts: 0,
        }
    }

    /// Called when a burst is ready to start at `now`: the tick to sleep until first,
    /// or `None` to start now. Late by a whole period or more: the slots already past
    /// are dropped, this burst takes the current one.
    pub fn start_burst(&mut self, now: u64) -> Option<u64> {
        self.bursts += 1;
        if now < self.next {
            let due = self.next;
            self.next += self.period;
            return Some(due);
        }
        let skipped = (now - self.next) / self.period;
        self.missed += skipped;
        self.next += (skipped + 1) * self.period;
        None
    }

    /// Grid slots no burst started in (dropped frames).
    pub const fn missed(&self) -> u64 {
        self.missed
    }

    /// Bursts started.
    pub const fn bursts(&self) -> u64 {
        self.bursts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn on_time_bursts_sleep_to_the_grid() {
        let mut p = Pacer::new(1000, 100);
        assert_eq!(p.start_burst(990), Some(1000));
        assert_eq!(p.start_burst(1050), Some(1100));
        assert_eq!(p.start_burst(1200), None, "exactly due: go");
        assert_eq!(p.missed(), 0);
    }

    #[test]
    fn a_late_burst_drops_the_slots_it_missed() {
        let mut p = Pacer::new(0, 100);
        assert_eq!(p.start_burst(0), None);
        // Due at 100; starts at 350: slots 100 and 200 are dropped, this one takes 300.
        assert_eq!(p.start_burst(350), None);
        assert_eq!(p.missed(), 2);
        assert_eq!(p.start_burst(360), Some(400), "no catching up");
        assert_eq!(p.bursts(), 3);
    }

    proptest! {
        /// Whatever the delays, every grid slot up to the last burst is either used by
        /// exactly one burst or counted as missed, and no burst starts before its slot.
        #[test]
        fn slots_are_used_or_missed(
            start in 0u64..1000,
            period in 1u64..500,
            work in proptest::collection::vec(0u64..2000, 1..100),
        ) {
            let mut p = Pacer::new(start, period);
            let mut now = start;
            for w in work {
                let begin = p.start_burst(now).unwrap_or(now);
                prop_assert!(begin >= now);
                // The slot this burst took starts at or before `begin`.
                let slot = (begin - start) / period;
                prop_assert_eq!(p.next, start + (slot + 1) * period);
                now = begin + w;
            }
            prop_assert_eq!(p.bursts() + p.missed(), (p.next - start) / period);
        }
    }
}
