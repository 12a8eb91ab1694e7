//! The Android-style app workload over one workload's pages: launch every app, then
//! switch apps on the pattern's schedule. A switch first brings the app's whole
//! working set back (a warm start reads every page, a cold start after a kill writes
//! every page anew), timed from the switch until the last of those pages is touched:
//! the app-switch latency. Then the app takes random accesses until the next switch.
//! Between accesses the workload carries out the kills the killer asked of it.
//! Owns the schedule and its figures; touching, checking and freeing pages is the
//! caller's ([`AppHost`]).

use core::ops::Range;

use spin::RelaxStrategy;

use super::table::{AppId, AppTable, Switch};
use super::{AppPattern, is_write};
use crate::latency::LatencyHist;
use crate::pagegen::SplitMix64;

/// Accesses between two looks for a kill to carry out.
const KILL_POLL: usize = 64;

/// The workload cannot go on (an allocation failed after direct reclaim).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Stop;

/// What the session needs from the workload that runs it.
pub trait AppHost {
    /// Touches page `local`: reads and checks it, or writes its next version.
    fn access(&mut self, local: usize, write: bool) -> Result<(), Stop>;
    /// Frees pages `pages` now, their app killed: their frames and swap slots go back
    /// and they count as never written.
    fn zap(&mut self, pages: Range<usize>);
    /// A clock read, in the caller's ticks.
    fn now(&self) -> u64;
}

/// What the apps saw, in the host's ticks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppFigures {
    /// Every switch after the launch, warm or cold: from the switch until the app
    /// touched its whole working set again.
    pub switch: LatencyHist,
    /// The cold starts among them.
    pub cold: LatencyHist,
    /// Apps killed (their pages freed by this workload).
    pub kills: u64,
}

impl AppFigures {
    /// Adds another workload's figures.
    pub fn merge(&mut self, other: &AppFigures) {
        self.switch.merge(&other.switch);
        self.cold.merge(&other.cold);
        self.kills += other.kills;
    }
}

/// One workload's apps.
pub struct Session<'t, R> {
    /// The run's apps, shared with the killer.
    pub table: &'t AppTable<R>,
    /// This workload's index in the table.
    pub workload: usize,
    /// The apps and their schedule over `pages`.
    pub pattern: AppPattern,
    /// The workload's pages (local indices `0..pages`).
    pub pages: usize,
    /// Random accesses after the launch (switch passes come on top).
    pub ops: u64,
    /// Percentage of the random accesses that write.
    pub write_pct: u64,
}

impl<R: RelaxStrategy> Session<'_, R> {
    /// Runs the launch and the switches, adding to `figures`.
    pub fn run(&self, host: &mut impl AppHost, figures: &mut AppFigures) -> Result<(), Stop> {
        let apps = self.pattern.apps.clamp(1, self.pages.max(1));
        for app in 0..apps {
            self.switch(host, app, figures, false)?;
        }
        let mut foreground = apps - 1;
        let mut rng = SplitMix64(self.pattern.seed);
        for n in 0..self.ops {
            if n % KILL_POLL as u64 == 0 {
                self.carry_out_kills(host, figures);
            }
            let app = self.pattern.foreground(self.pages, n);
            if app != foreground {
                self.switch(host, app, figures, true)?;
                foreground = app;
            }
            let local = self.pattern.pick(self.pages, &mut rng, n);
            host.access(local, is_write(&mut rng, self.write_pct))?;
        }
        Ok(())
    }

    fn id(&self, app: usize) -> AppId {
        AppId {
            workload: self.workload,
            app,
        }
    }

    fn pages_of(&self, app: usize) -> Range<usize> {
        let set = self.pattern.set(self.pages);
        app * set..(app + 1) * set
    }

    /// Brings `app` to the foreground and touches its working set: reads it back
    /// (warm) or writes it anew (launch, cold start); `timed` records the latency.
    fn switch(
        &self,
        host: &mut impl AppHost,
        app: usize,
        figures: &mut AppFigures,
        timed: bool,
    ) -> Result<(), Stop> {
        let start = host.now();
        let how = loop {
            self.carry_out_kills(host, figures);
            if let Ok(how) = self.table.switch_to(self.id(app)) {
                break how;
            }
        };
        for (i, local) in self.pages_of(app).enumerate() {
            if i % KILL_POLL == KILL_POLL - 1 {
                self.carry_out_kills(host, figures);
            }
            host.access(local, how != Switch::Warm)?;
        }
        if timed {
            let took = host.now().saturating_sub(start);
            figures.switch.record(took);
            if how == Switch::Cold {
                figures.cold.record(took);
            }
        }
        Ok(())
    }

    fn carry_out_kills(&self, host: &mut impl AppHost, figures: &mut AppFigures) {
        while let Some(app) = self.table.take_kill(self.workload) {
            host.zap(self.pages_of(app));
            self.table.killed(self.id(app));
            figures.kills += 1;
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::vec;
    use std::vec::Vec;

    use super::*;
    use crate::apps::table::AppState;

    type Table = AppTable<spin::relax::Spin>;

    /// Pages as versions; the clock advances one tick per access; the killer asks for
    /// a kill at chosen accesses.
    struct Fake<'t> {
        versions: Vec<u32>,
        table: &'t Table,
        accesses: u64,
        kill_at: Vec<u64>,
        zapped: Vec<Range<usize>>,
        bad_reads: u64,
    }

    impl AppHost for Fake<'_> {
        fn access(&mut self, local: usize, write: bool) -> Result<(), Stop> {
            self.accesses += 1;
            if self.kill_at.contains(&self.accesses) {
                self.table.request_kill();
            }
            if write {
                self.versions[local] += 1;
            } else if self.versions[local] == 0 {
                self.bad_reads += 1;
            }
            Ok(())
        }
        fn zap(&mut self, pages: Range<usize>) {
            self.versions[pages.clone()].fill(0);
            self.zapped.push(pages);
        }
        fn now(&self) -> u64 {
            self.accesses
        }
    }

    fn session(table: &Table, ops: u64) -> Session<'_, spin::relax::Spin> {
        Session {
            table,
            workload: 0,
            pattern: AppPattern {
                apps: 4,
                switch_every: 100,
                seed: 3,
            },
            pages: 400,
            ops,
            write_pct: 25,
        }
    }

    fn switches(s: &Session<'_, spin::relax::Spin>) -> u64 {
        let mut foreground = s.pattern.apps - 1;
        let mut n = 0;
        for i in 0..s.ops {
            let app = s.pattern.foreground(s.pages, i);
            n += u64::from(app != foreground);
            foreground = app;
        }
        n
    }

    #[test]
    fn every_switch_touches_the_whole_working_set_and_is_timed() {
        let table = Table::new();
        table.reset(1, 4).unwrap();
        let s = session(&table, 2000);
        let mut host = Fake {
            versions: vec![0; 400],
            table: &table,
            accesses: 0,
            kill_at: Vec::new(),
            zapped: Vec::new(),
            bad_reads: 0,
        };
        let mut figures = AppFigures::default();
        s.run(&mut host, &mut figures).unwrap();
        let switches = switches(&s);
        assert!(switches > 5, "{switches}");
        assert_eq!(figures.switch.count, switches);
        // A warm switch reads the 100 pages of its set: 100 ticks, plus whatever
        // random accesses come in between (none inside a switch).
        assert_eq!(figures.switch.max, 100);
        assert_eq!(host.accesses, 400 + switches * 100 + 2000);
        assert_eq!(
            (figures.kills, figures.cold.count, host.bad_reads),
            (0, 0, 0)
        );
    }

    #[test]
    fn a_killed_app_is_freed_by_its_workload_and_starts_cold() {
        let table = Table::new();
        table.reset(1, 4).unwrap();
        let s = session(&table, 3000);
        let mut host = Fake {
            versions: vec![0; 400],
            table: &table,
            accesses: 0,
            // During the launch (after app 1) and twice later.
            kill_at: vec![250, 1500, 2500],
            zapped: Vec::new(),
            bad_reads: 0,
        };
        let mut figures = AppFigures::default();
        s.run(&mut host, &mut figures).unwrap();
        assert_eq!(figures.kills, 3);
        // The first kill took app 0, the least recently foreground one.
        assert_eq!(host.zapped[0], 0..100);
        // No read ever found a page never written: cold starts rewrote every page.
        assert_eq!(host.bad_reads, 0);
        assert!(figures.cold.count >= 1, "a killed app came back");
        assert!(figures.cold.count <= figures.kills);
        let dead = (0..4)
            .filter(|&app| table.state(AppId { workload: 0, app }) == Some(AppState::Dead))
            .count() as u64;
        assert_eq!(figures.kills, figures.cold.count + dead);
    }
}
