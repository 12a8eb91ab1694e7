//! The low-memory killer's decisions, after Android's lmkd in PSI mode: two memory PSI
//! triggers (a partial stall of `psi_partial_stall_ms` and a complete stall of
//! `psi_complete_stall_ms` in a 1 s window) say when to kill; [`Killer`] asks the app
//! table (`apps::table`) for the least recently foreground app and waits until its
//! workload has freed it. Owns no app and frees nothing. Portable; the caller gives
//! the time.

use spin::RelaxStrategy;

use crate::apps::table::{AppId, AppState, AppTable};
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
    /// A complete stall wins over a partial one. The caller picks the victim and, if
    /// it killed, says so ([`Lmk::killed`]); [`Killer`] does both.
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

/// lmkd's main loop body, polled on a core that runs no app (every 10 ms in the
/// kernel, every 1 ms on the host): the triggers say when, the app table whom (the
/// least recently foreground app alive in the background); the app's own workload
/// frees it, and the next kill waits until it has.
#[derive(Copy, Clone, Debug)]
pub struct Killer {
    lmk: Lmk,
    victim: Option<AppId>,
}

impl Killer {
    /// A killer with `config`'s triggers armed at `now` over `psi`.
    pub fn new<const N: usize>(
        config: LmkConfig,
        psi: &PsiGroup<N>,
        now: u64,
    ) -> Result<Self, PsiTriggerError> {
        Ok(Killer {
            lmk: Lmk::new(config, psi, now)?,
            victim: None,
        })
    }

    /// One look at `now`: the app it asked `apps` to kill and why, if it did.
    pub fn poll<const N: usize, R: RelaxStrategy>(
        &mut self,
        psi: &PsiGroup<N>,
        apps: &AppTable<R>,
        now: u64,
    ) -> Option<(AppId, KillReason)> {
        if let Some(victim) = self.victim
            && apps.state(victim) != Some(AppState::KillPending)
        {
            self.lmk.victim_freed();
            self.victim = None;
        }
        let reason = self.lmk.poll(psi, now)?;
        let victim = apps.request_kill()?;
        self.lmk.killed(now);
        self.victim = Some(victim);
        Some((victim, reason))
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
    fn the_killer_asks_the_app_table_and_waits_for_the_victim() {
        let (g, lmk) = armed();
        let mut killer = Killer { lmk, victim: None };
        let apps = AppTable::<spin::relax::Spin>::new();
        apps.reset(1, 3).unwrap();
        for app in 0..3 {
            apps.switch_to(AppId { workload: 0, app }).unwrap();
        }
        let cpu = g.cpu(0).unwrap();
        cpu.memstall_enter(S);
        cpu.memstall_leave(S + 100 * MS);
        let first = AppId {
            workload: 0,
            app: 0,
        };
        assert_eq!(
            killer.poll(&g, &apps, S + 100 * MS),
            Some((first, KillReason::PartialStall))
        );
        assert_eq!(apps.state(first), Some(AppState::KillPending));
        // Pressure goes on, but the victim is not freed yet: no second kill.
        cpu.memstall_enter(2 * S + 200 * MS);
        cpu.memstall_leave(2 * S + 300 * MS);
        assert_eq!(killer.poll(&g, &apps, 2 * S + 300 * MS), None);
        // Its workload frees it; a window later the next breach takes app 1.
        assert_eq!(apps.take_kill(0), Some(0));
        apps.killed(first);
        cpu.memstall_enter(3 * S + 400 * MS);
        cpu.memstall_leave(3 * S + 500 * MS);
        assert_eq!(
            killer.poll(&g, &apps, 3 * S + 500 * MS),
            Some((
                AppId {
                    workload: 0,
                    app: 1
                },
                KillReason::PartialStall
            ))
        );
        // Only the foreground app is left alive: pressure kills nothing more.
        apps.take_kill(0);
        apps.killed(AppId {
            workload: 0,
            app: 1,
        });
        cpu.memstall_enter(5 * S);
        cpu.memstall_leave(5 * S + 100 * MS);
        assert_eq!(killer.poll(&g, &apps, 5 * S + 100 * MS), None);
    }
}
