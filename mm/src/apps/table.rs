//! Every app's life, as Android's lmkd sees its processes: launched, in the foreground
//! or the background, chosen by the killer, dead until it starts cold. Shared by the
//! workloads that own the apps (one workload owns `apps_each` of them) and the killer
//! on another core, under one lock; a per-workload hint lets a workload skip the lock
//! while no kill waits for it. It decides nothing about pressure (that is `lmk`'s)
//! and frees no page (the owning workload does, then says `killed`).

use spin::RelaxStrategy;
use spin::mutex::Mutex;

// The hint is not a protocol of its own (the lock orders everything it guards), so
// it uses core's atomics even under loom.
use core::sync::atomic::{AtomicBool, Ordering};

/// Most workloads a table serves.
pub const MAX_WORKLOADS: usize = 32;
/// Most apps a table holds, over all workloads.
pub const MAX_APPS: usize = 256;

/// One app's state.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AppState {
    /// Not launched yet: it has no pages.
    NotStarted,
    /// Alive, its workload's foreground app.
    Foreground,
    /// Alive, cached in the background: what the killer may choose.
    Background,
    /// Chosen by the killer; its workload frees its pages at its next look.
    KillPending,
    /// Killed: no pages; the next switch to it starts it cold.
    Dead,
}

/// How a switch to an app found it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Switch {
    /// Its first start (the launch): every page is new.
    Launch,
    /// Alive: its pages are where reclaim left them (a warm start).
    Warm,
    /// Killed since it last ran: every page is regenerated (a cold start).
    Cold,
}

/// A kill is waiting for this app: free it (`killed`) before switching to it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct KillPending;

/// An app: its workload and its index among that workload's apps.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct AppId {
    /// The workload that owns it.
    pub workload: usize,
    /// Its index among the workload's apps.
    pub app: usize,
}

#[derive(Copy, Clone)]
struct App {
    state: AppState,
    /// When it last came to the foreground (the table's switch count).
    last_foreground: u64,
}

struct Apps {
    apps: [App; MAX_APPS],
    workloads: usize,
    apps_each: usize,
    /// Switches so far: the clock of `last_foreground`.
    switches: u64,
}

impl Apps {
    fn index(&self, id: AppId) -> Option<usize> {
        (id.workload < self.workloads && id.app < self.apps_each)
            .then_some(id.workload * self.apps_each + id.app)
    }
}

/// The apps of one run.
pub struct AppTable<R> {
    apps: Mutex<Apps, R>,
    /// Workload `w` has a kill to carry out (set and cleared under the lock; read
    /// without it as a hint, the lock orders what matters).
    kill_hint: [AtomicBool; MAX_WORKLOADS],
}

/// Why a table cannot serve a run.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TooManyApps {
    /// Apps asked for in all.
    pub apps: usize,
}

impl<R: RelaxStrategy> Default for AppTable<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R: RelaxStrategy> AppTable<R> {
    /// A table with no app.
    pub const fn new() -> Self {
        AppTable {
            apps: Mutex::new(Apps {
                apps: [App {
                    state: AppState::NotStarted,
                    last_foreground: 0,
                }; MAX_APPS],
                workloads: 0,
                apps_each: 0,
                switches: 0,
            }),
            kill_hint: [const { AtomicBool::new(false) }; MAX_WORKLOADS],
        }
    }

    /// Starts a run: `workloads` workloads of `apps_each` apps, none launched. Call
    /// with no workload or killer running.
    pub fn reset(&self, workloads: usize, apps_each: usize) -> Result<(), TooManyApps> {
        let total = workloads.saturating_mul(apps_each);
        if workloads > MAX_WORKLOADS || total > MAX_APPS {
            return Err(TooManyApps { apps: total });
        }
        let mut apps = self.apps.lock();
        apps.workloads = workloads;
        apps.apps_each = apps_each;
        apps.switches = 0;
        for app in &mut apps.apps {
            *app = App {
                state: AppState::NotStarted,
                last_foreground: 0,
            };
        }
        for hint in &self.kill_hint {
            hint.store(false, Ordering::Relaxed);
        }
        Ok(())
    }

    /// `id` comes to its workload's foreground; the workload's previous foreground app
    /// goes to the background. Refused while a kill waits for `id`.
    pub fn switch_to(&self, id: AppId) -> Result<Switch, KillPending> {
        let mut apps = self.apps.lock();
        let Some(index) = apps.index(id) else {
            return Ok(Switch::Warm);
        };
        let how = match apps.apps[index].state {
            AppState::KillPending => return Err(KillPending),
            AppState::NotStarted => Switch::Launch,
            AppState::Dead => Switch::Cold,
            AppState::Foreground | AppState::Background => Switch::Warm,
        };
        let first = id.workload * apps.apps_each;
        let apps_each = apps.apps_each;
        for app in &mut apps.apps[first..first + apps_each] {
            if app.state == AppState::Foreground {
                app.state = AppState::Background;
            }
        }
        apps.switches += 1;
        let stamp = apps.switches;
        apps.apps[index] = App {
            state: AppState::Foreground,
            last_foreground: stamp,
        };
        Ok(how)
    }

    /// The killer: chooses the least recently foreground app alive in the background,
    /// marks it `KillPending` for its workload, and names it (`None`: every app alive
    /// is in the foreground or not launched).
    pub fn request_kill(&self) -> Option<AppId> {
        let mut apps = self.apps.lock();
        let apps_each = apps.apps_each.max(1);
        let total = apps.workloads * apps.apps_each;
        let index = (0..total)
            .filter(|&i| apps.apps[i].state == AppState::Background)
            .min_by_key(|&i| apps.apps[i].last_foreground)?;
        apps.apps[index].state = AppState::KillPending;
        let id = AppId {
            workload: index / apps_each,
            app: index % apps_each,
        };
        self.kill_hint[id.workload].store(true, Ordering::Relaxed);
        Some(id)
    }

    /// Workload `workload`: the next of its apps a kill waits for, if any.
    pub fn take_kill(&self, workload: usize) -> Option<usize> {
        if !self
            .kill_hint
            .get(workload)
            .is_some_and(|h| h.load(Ordering::Relaxed))
        {
            return None;
        }
        let apps = self.apps.lock();
        let first = workload * apps.apps_each;
        let found =
            (0..apps.apps_each).find(|&k| apps.apps[first + k].state == AppState::KillPending);
        if found.is_none() {
            self.kill_hint[workload].store(false, Ordering::Relaxed);
        }
        found
    }

    /// Workload `id.workload` freed app `id.app`'s pages: it is dead.
    pub fn killed(&self, id: AppId) {
        let mut apps = self.apps.lock();
        if let Some(index) = apps.index(id)
            && apps.apps[index].state == AppState::KillPending
        {
            apps.apps[index].state = AppState::Dead;
        }
    }

    /// `id`'s state now.
    pub fn state(&self, id: AppId) -> Option<AppState> {
        let apps = self.apps.lock();
        apps.index(id).map(|index| apps.apps[index].state)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    type Table = AppTable<spin::relax::Spin>;

    fn id(workload: usize, app: usize) -> AppId {
        AppId { workload, app }
    }

    #[test]
    fn launch_warm_and_cold_starts() {
        let t = Table::new();
        t.reset(1, 3).unwrap();
        assert_eq!(t.switch_to(id(0, 0)), Ok(Switch::Launch));
        assert_eq!(t.switch_to(id(0, 1)), Ok(Switch::Launch));
        assert_eq!(t.state(id(0, 0)), Some(AppState::Background));
        assert_eq!(t.switch_to(id(0, 0)), Ok(Switch::Warm));
        // App 1 is the least recently foreground one alive in the background.
        assert_eq!(t.request_kill(), Some(id(0, 1)));
        assert_eq!(t.switch_to(id(0, 1)), Err(KillPending));
        assert_eq!(t.take_kill(0), Some(1));
        t.killed(id(0, 1));
        assert_eq!(t.take_kill(0), None);
        assert_eq!(t.state(id(0, 1)), Some(AppState::Dead));
        assert_eq!(t.switch_to(id(0, 1)), Ok(Switch::Cold));
        assert_eq!(t.switch_to(id(0, 1)), Ok(Switch::Warm));
    }

    #[test]
    fn the_killer_spares_foreground_unlaunched_and_dead_apps() {
        let t = Table::new();
        t.reset(2, 2).unwrap();
        assert_eq!(t.request_kill(), None, "nothing launched");
        t.switch_to(id(0, 0)).unwrap();
        t.switch_to(id(1, 1)).unwrap();
        assert_eq!(t.request_kill(), None, "only foreground apps");
        t.switch_to(id(1, 0)).unwrap();
        assert_eq!(t.request_kill(), Some(id(1, 1)));
        assert_eq!(
            t.request_kill(),
            None,
            "the one candidate is already chosen"
        );
        assert_eq!(t.take_kill(0), None, "not workload 0's");
        assert_eq!(t.take_kill(1), Some(1));
        t.killed(id(1, 1));
        assert_eq!(t.request_kill(), None, "dead apps are not killed twice");
    }

    #[test]
    fn oldest_foreground_goes_first_across_workloads() {
        let t = Table::new();
        t.reset(2, 3).unwrap();
        for (w, k) in [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2), (1, 2)] {
            t.switch_to(id(w, k)).unwrap();
        }
        // Foreground: (0,2) and (1,2). Oldest first: (0,0), (1,0), (0,1), (1,1).
        let order: std::vec::Vec<_> = std::iter::from_fn(|| t.request_kill()).collect();
        assert_eq!(order, [id(0, 0), id(1, 0), id(0, 1), id(1, 1)]);
    }

    #[test]
    fn bad_sizes_and_ids_are_refused() {
        let t = Table::new();
        assert_eq!(
            t.reset(MAX_WORKLOADS + 1, 1),
            Err(TooManyApps {
                apps: MAX_WORKLOADS + 1
            })
        );
        assert_eq!(
            t.reset(2, MAX_APPS),
            Err(TooManyApps { apps: 2 * MAX_APPS })
        );
        t.reset(1, 2).unwrap();
        assert_eq!(t.state(id(0, 2)), None);
        assert_eq!(t.state(id(1, 0)), None);
        assert_eq!(t.take_kill(MAX_WORKLOADS + 5), None);
    }
}
