//! The low-memory killer's decisions, after Android's lmkd in PSI mode: two memory PSI
//! triggers (a partial stall of `psi_partial_stall_ms` and a complete stall of
//! `psi_complete_stall_ms` in a 1 s window) say when to kill, [`AppLru`] says whom.
//! Owns no app and kills nothing: the workload asks [`Lmk::poll`], kills the victim
//! itself, and tells both what happened. Portable; the caller gives the time.

use core::fmt;

use crate::psi::{PsiGroup, PsiStall, PsiTrigger, PsiTriggerError, PsiTriggerSpec};

/// lmkd's `ro.lmk.psi_partial_stall_ms` default.
pub const PSI_PARTIAL_STALL_MS: u64 = 70;
/// lmkd's `ro.lmk.psi_complete_stall_ms` default.
pub const PSI_COMPLETE_STALL_MS: u64 = 700;
/// lmkd's `PSI_WINDOW_SIZE_MS`.
pub const PSI_WINDOW_SIZE_MS: u64 = 1000;

const NSEC_PER_MSEC: u64 = 1_000_000;

/// The killer's settings, named after lmkd's properties.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LmkConfig {
    /// SOME stall in a window that asks for a kill (`psi_partial_stall_ms`).
    pub psi_partial_stall_ms: u64,
    /// FULL stall in a window that asks for a kill (`psi_complete_stall_ms`).
    pub psi_complete_stall_ms: u64,
    /// The triggers' window, and the least time between two kills.
    pub psi_window_ms: u64,
}

impl Default for LmkConfig {
    fn default() -> Self {
        LmkConfig {
            psi_partial_stall_ms: PSI_PARTIAL_STALL_MS,
            psi_complete_stall_ms: PSI_COMPLETE_STALL_MS,
            psi_window_ms: PSI_WINDOW_SIZE_MS,
        }
    }
}

/// Which trigger asked for the kill.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum KillReason {
    /// `some`: the partial stall reached `psi_partial_stall_ms` in a window.
    PartialStall,
    /// `full`: the complete stall reached `psi_complete_stall_ms` in a window.
    CompleteStall,
}

impl KillReason {
    /// The reason as a word for reports.
    pub fn name(self) -> &'static str {
        match self {
            KillReason::PartialStall => "partial_stall",
            KillReason::CompleteStall => "complete_stall",
        }
    }
}

/// lmkd's PSI mode: polled with the PSI group, it says when to kill and why; after a
/// kill it waits for the victim's memory to be freed, and kills at most once a window.
#[derive(Copy, Clone, Debug)]
pub struct Lmk {
    partial: PsiTrigger,
    complete: PsiTrigger,
    window_ns: u64,
    last_kill: Option<u64>,
    /// A victim was killed and its memory is not freed yet.
    waiting_for_victim: bool,
}

impl Lmk {
    /// Arms both triggers at `now` over `psi`; refused (with psi's reason) when a
    /// stall or the window is not a trigger Linux would take.
    pub fn new<const N: usize>(
        config: LmkConfig,
        psi: &PsiGroup<N>,
        now: u64,
    ) -> Result<Self, PsiTriggerError> {
        let ms = |ms: u64| ms.saturating_mul(1000);
        let window_us = ms(config.psi_window_ms);
        let partial =
            PsiTriggerSpec::new(PsiStall::Some, ms(config.psi_partial_stall_ms), window_us)?;
        let complete =
            PsiTriggerSpec::new(PsiStall::Full, ms(config.psi_complete_stall_ms), window_us)?;
        let snap = psi.update(now);
        Ok(Lmk {
            partial: PsiTrigger::new(partial, now, &snap),
            complete: PsiTrigger::new(complete, now, &snap),
            window_ns: config.psi_window_ms * NSEC_PER_MSEC,
            last_kill: None,
            waiting_for_victim: false,
        })
    }

    /// Polls both triggers at `now` (call it at least once per window while apps
    /// run): the reason to kill, if one fired and no kill is pending or too recent.
    /// A complete stall wins over a partial one. The caller picks the victim
    /// ([`AppLru::victim`]) and, if it killed, says so ([`Lmk::killed`]).
    pub fn poll<const N: usize>(&mut self, psi: &PsiGroup<N>, now: u64) -> Option<KillReason> {
        let snap = psi.update(now);
        // Both are updated every poll, so their windows follow the stall either way.
        let partial = self.partial.update(now, &snap);
        let complete = self.complete.update(now, &snap);
        if self.waiting_for_victim {
            return None;
        }
        if self
            .last_kill
            .is_some_and(|at| now < at.saturating_add(self.window_ns))
        {
            return None;
        }
        if complete {
            Some(KillReason::CompleteStall)
        } else if partial {
            Some(KillReason::PartialStall)
        } else {
            None
        }
    }

    /// A victim was killed at `now`: no new kill until [`Lmk::victim_freed`] and a
    /// window has passed.
    pub fn killed(&mut self, now: u64) {
        self.last_kill = Some(now);
        self.waiting_for_victim = true;
    }

    /// The victim's memory is freed (lmkd: its pidfd polled readable).
    pub fn victim_freed(&mut self) {
        self.waiting_for_victim = false;
    }

    /// Whether a kill is waiting for its victim's memory.
    pub fn waiting_for_victim(&self) -> bool {
        self.waiting_for_victim
    }
}

/// Most apps an [`AppLru`] tracks.
pub const MAX_APPS: usize = 64;

/// An app number the [`AppLru`] does not have.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NoSuchApp {
    /// The app asked for.
    pub app: usize,
    /// Apps tracked.
    pub apps: usize,
}

impl fmt::Display for NoSuchApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "app {} of {}: no such app", self.app, self.apps)
    }
}

/// The apps in the order they were last in the foreground, and which are alive (the
/// order of Android's cached-app list that lmkd's `oom_score_adj` follows).
#[derive(Clone, Debug)]
pub struct AppLru {
    apps: usize,
    /// When each app last came to the foreground (a count of switches; 0: never).
    last_foreground: [u64; MAX_APPS],
    alive: [bool; MAX_APPS],
    foreground: Option<usize>,
    switches: u64,
}

impl AppLru {
    /// `apps` apps (1..=`MAX_APPS`), all alive (launched), none in the foreground.
    pub fn new(apps: usize) -> Result<Self, NoSuchApp> {
        if !(1..=MAX_APPS).contains(&apps) {
            return Err(NoSuchApp {
                app: apps,
                apps: MAX_APPS,
            });
        }
        let mut alive = [false; MAX_APPS];
        alive[..apps].fill(true);
        Ok(AppLru {
            apps,
            last_foreground: [0; MAX_APPS],
            alive,
            foreground: None,
            switches: 0,
        })
    }

    fn check(&self, app: usize) -> Result<(), NoSuchApp> {
        if app < self.apps {
            Ok(())
        } else {
            Err(NoSuchApp {
                app,
                apps: self.apps,
            })
        }
    }

    /// App `app` came to the foreground (it is alive: a killed app was started cold
    /// first, see [`AppLru::started_cold`]).
    pub fn foreground(&mut self, app: usize) -> Result<(), NoSuchApp> {
        self.check(app)?;
        self.switches += 1;
        self.last_foreground[app] = self.switches;
        self.alive[app] = true;
        self.foreground = Some(app);
        Ok(())
    }

    /// App `app` was killed: its memory is gone until it starts cold.
    pub fn killed(&mut self, app: usize) -> Result<(), NoSuchApp> {
        self.check(app)?;
        self.alive[app] = false;
        if self.foreground == Some(app) {
            self.foreground = None;
        }
        Ok(())
    }

    /// App `app` started again from nothing (a cold start after a kill).
    pub fn started_cold(&mut self, app: usize) -> Result<(), NoSuchApp> {
        self.check(app)?;
        self.alive[app] = true;
        Ok(())
    }

    /// Whether app `app` is alive (false for an app it does not have).
    pub fn is_alive(&self, app: usize) -> bool {
        app < self.apps && self.alive[app]
    }

    /// The app in the foreground, if any.
    pub fn foreground_app(&self) -> Option<usize> {
        self.foreground
    }

    /// Whom to kill: the alive app, not in the foreground, that was in the foreground
    /// least recently (never counts as oldest; the lowest number among equals). None
    /// when no app but the foreground one lives.
    pub fn victim(&self) -> Option<usize> {
        (0..self.apps)
            .filter(|&app| self.alive[app] && self.foreground != Some(app))
            .min_by_key(|&app| self.last_foreground[app])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    const MS: u64 = 1_000_000;
    const S: u64 = 1000 * MS;

    /// One CPU running one task, and a killer armed at 1 s with lmkd's defaults.
    fn armed() -> (PsiGroup<1>, Lmk) {
        let g = PsiGroup::<1>::new(0);
        g.cpu(0).unwrap().task_start(0);
        let lmk = Lmk::new(LmkConfig::default(), &g, S).unwrap();
        (g, lmk)
    }

    /// Stalls `ms` from `at`, then polls at the stall's end.
    fn stall(g: &PsiGroup<1>, lmk: &mut Lmk, at: u64, ms: u64) -> Option<KillReason> {
        let cpu = g.cpu(0).unwrap();
        cpu.memstall_enter(at);
        cpu.memstall_leave(at + ms * MS);
        lmk.poll(g, at + ms * MS)
    }

    #[test]
    fn a_partial_stall_of_70_ms_in_a_second_asks_for_a_kill() {
        let (g, mut lmk) = armed();
        assert_eq!(stall(&g, &mut lmk, S, 69), None);
        assert_eq!(
            stall(&g, &mut lmk, S + 100 * MS, 1),
            Some(KillReason::PartialStall)
        );
        assert_eq!(KillReason::PartialStall.name(), "partial_stall");
    }

    #[test]
    fn a_complete_stall_of_700_ms_wins_over_the_partial_one() {
        let (g, mut lmk) = armed();
        // One task per CPU: SOME and FULL together. 700 ms fires both.
        assert_eq!(stall(&g, &mut lmk, S, 700), Some(KillReason::CompleteStall));
    }

    #[test]
    fn after_a_kill_it_waits_for_the_victim_and_a_window() {
        let (g, mut lmk) = armed();
        assert_eq!(stall(&g, &mut lmk, S, 100), Some(KillReason::PartialStall));
        lmk.killed(S + 100 * MS);
        assert!(lmk.waiting_for_victim());
        // The partial trigger fires again a window later, but the victim lives on.
        assert_eq!(stall(&g, &mut lmk, 2 * S + 200 * MS, 100), None);
        lmk.victim_freed();
        // Freed, and a window since the kill: the next breach asks again.
        assert_eq!(
            stall(&g, &mut lmk, 3 * S + 300 * MS, 100),
            Some(KillReason::PartialStall)
        );
    }

    #[test]
    fn at_most_one_kill_per_window() {
        let (g, mut lmk) = armed();
        assert_eq!(stall(&g, &mut lmk, S, 100), Some(KillReason::PartialStall));
        lmk.killed(S + 100 * MS);
        lmk.victim_freed();
        // Memory freed at once, stall goes on: still the same window since the kill.
        assert_eq!(stall(&g, &mut lmk, S + 200 * MS, 100), None);
        assert_eq!(stall(&g, &mut lmk, S + 400 * MS, 100), None);
        // A window after the first trigger event, the held-back event fires.
        assert_eq!(
            stall(&g, &mut lmk, 2 * S + 100 * MS, 10),
            Some(KillReason::PartialStall)
        );
    }

    #[test]
    fn bad_settings_are_refused_with_psis_reason() {
        let g = PsiGroup::<1>::new(0);
        let bad = |config| Lmk::new(config, &g, 0).unwrap_err().to_string();
        let d = LmkConfig::default();
        assert!(
            bad(LmkConfig {
                psi_partial_stall_ms: 0,
                ..d
            })
            .contains("threshold 0 us")
        );
        assert!(
            bad(LmkConfig {
                psi_complete_stall_ms: 1001,
                ..d
            })
            .contains("threshold")
        );
        assert!(
            bad(LmkConfig {
                psi_window_ms: 100,
                ..d
            })
            .contains("window 100000 us")
        );
    }

    #[test]
    fn the_victim_is_the_least_recently_foreground_app_alive_in_the_background() {
        let mut lru = AppLru::new(4).unwrap();
        // Launched, never in the foreground: the lowest number goes first.
        assert_eq!(lru.victim(), Some(0));
        for app in [2, 0, 3, 1] {
            lru.foreground(app).unwrap();
        }
        assert_eq!(lru.foreground_app(), Some(1));
        assert_eq!(lru.victim(), Some(2));
        lru.killed(2).unwrap();
        assert!(!lru.is_alive(2));
        assert_eq!(lru.victim(), Some(0));
        // App 0 back to the foreground: app 3 is now the oldest in the background.
        lru.foreground(0).unwrap();
        assert_eq!(lru.victim(), Some(3));
        // The killed app starts cold and comes to the foreground: newest of all.
        lru.started_cold(2).unwrap();
        lru.foreground(2).unwrap();
        assert_eq!(lru.victim(), Some(3));
    }

    #[test]
    fn no_victim_when_only_the_foreground_app_lives() {
        let mut lru = AppLru::new(3).unwrap();
        lru.foreground(1).unwrap();
        lru.killed(0).unwrap();
        assert_eq!(lru.victim(), Some(2));
        lru.killed(2).unwrap();
        assert_eq!(lru.victim(), None);
        // A cold start brings a background app back.
        lru.started_cold(0).unwrap();
        assert_eq!(lru.victim(), Some(0));
    }

    #[test]
    fn unknown_apps_are_refused() {
        assert_eq!(AppLru::new(0).unwrap_err().app, 0);
        assert!(AppLru::new(MAX_APPS + 1).is_err());
        let mut lru = AppLru::new(2).unwrap();
        let err = lru.foreground(2).unwrap_err();
        assert_eq!(err.to_string(), "app 2 of 2: no such app");
        assert!(lru.killed(5).is_err() && lru.started_cold(2).is_err());
        assert!(!lru.is_alive(9));
        assert_eq!(lru.victim(), Some(0));
    }
}
