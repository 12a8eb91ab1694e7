//! A daemon's busy time as a clock that can be read at any moment: the passes it
//! finished plus the one under way, so that a reading at the end of a measurement
//! window covers exactly the time up to it. The caller supplies the time (timer
//! ticks in the kernel, nanoseconds on the host); this module only adds it up.
//!
//! Single writer (the daemon), any number of readers. Uses `core` atomics even under
//! loom: relaxed accounting with no protocol between cores to model (as `vmstat`).

use core::sync::atomic::{AtomicU64, Ordering};

/// Busy time of one daemon. `begin` and `end` bracket a pass; `read` at any moment.
#[derive(Debug, Default)]
pub struct BusyClock {
    total: AtomicU64,
    /// Start of the pass under way, plus one (0: between passes), so a pass that
    /// starts at time 0 is still seen.
    since: AtomicU64,
}

impl BusyClock {
    /// A clock that has counted nothing, between passes.
    pub const fn new() -> Self {
        Self {
            total: AtomicU64::new(0),
            since: AtomicU64::new(0),
        }
    }

    /// A pass starts at `now`.
    pub fn begin(&self, now: u64) {
        self.since.store(now.saturating_add(1), Ordering::Relaxed);
    }

    /// The pass ends at `now`. Clears `since` before adding the pass: a reading in
    /// between misses this pass's last instant rather than counting it twice.
    pub fn end(&self, now: u64) {
        let since = self.since.swap(0, Ordering::Relaxed);
        if since != 0 {
            self.total
                .fetch_add(now.saturating_sub(since - 1), Ordering::Relaxed);
        }
    }

    /// Busy time up to `now`: finished passes and the one under way.
    pub fn read(&self, now: u64) -> u64 {
        let since = self.since.load(Ordering::Relaxed);
        let running = if since == 0 {
            0
        } else {
            now.saturating_sub(since - 1)
        };
        self.total.load(Ordering::Relaxed) + running
    }

    /// Back to zero, between passes (before the daemon starts again).
    pub fn reset(&self) {
        self.total.store(0, Ordering::Relaxed);
        self.since.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_finished_passes_and_the_one_under_way() {
        let c = BusyClock::new();
        assert_eq!(c.read(100), 0);
        c.begin(0);
        assert_eq!(c.read(30), 30);
        c.end(40);
        assert_eq!(c.read(1000), 40);
        c.begin(100);
        assert_eq!(c.read(150), 90);
        c.end(160);
        assert_eq!(c.read(150), 100);
        c.reset();
        assert_eq!(c.read(500), 0);
        // An end without a begin adds nothing.
        c.end(600);
        assert_eq!(c.read(700), 0);
    }
}
