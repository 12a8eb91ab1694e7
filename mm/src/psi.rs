//! Memory pressure stall information, as Linux's kernel/sched/psi.c defines it for
//! the memory resource: per-CPU stall states, their aggregation weighted by each CPU's
//! non-idle time, the 10 s / 60 s / 300 s running averages and `psi_trigger` windows.
//! Owns only its clocks' arithmetic; the callers say when a task starts, stops, or
//! stalls, and give the time. It never reads a clock or touches another CPU's state.
//!
//! Who counts: a workload running on a CPU makes it non-idle; the policy marks a
//! workload's stalls (direct reclaim, throttling while pages are in flight to the
//! compressors, waiting for a compressor to finish the page a fault wants, and the
//! swap-in that decompresses it). Linux also counts kswapd's `balance_pgdat` as a
//! memstall; here kswapd and kcompressd have cores of their own, whose time the run
//! reports as `daemon_times`, so their CPUs are not in the group.
//!
//! Cross-CPU access: each CPU changes only its own [`PsiCpu`], under that CPU's spin
//! lock (a few words of work, never across a call out); the reader takes each lock in
//! turn to copy the times, then folds them into the group's totals under the
//! aggregator lock. Linux uses a seqcount; locks need no lock-free protocol of their own.
//!
//! Linux keeps two aggregators (the 2 s averages worker and the trigger poller); here
//! both read one total, brought up to date by every read, so a trigger sees the same
//! figures `pressure` prints.

use core::fmt;

use spin::mutex::SpinMutex;

/// `PSI_MEM_SOME`: at least one non-idle task of the CPU is stalled on memory.
pub const PSI_MEM_SOME: usize = 0;
/// `PSI_MEM_FULL`: every non-idle task of the CPU is stalled on memory.
pub const PSI_MEM_FULL: usize = 1;
/// `PSI_NONIDLE`: the CPU has a task to run (or a stalled one).
pub const PSI_NONIDLE: usize = 2;
/// States per CPU.
pub const NR_PSI_STATES: usize = 3;

/// Fixed-point shift of the averages (`FSHIFT`).
pub const FSHIFT: u32 = 11;
/// 1.0 in fixed point (`FIXED_1`).
pub const FIXED_1: u64 = 1 << FSHIFT;
/// `1/exp(2s/10s)` in fixed point.
pub const EXP_10S: u64 = 1677;
/// `1/exp(2s/60s)` in fixed point.
pub const EXP_60S: u64 = 1981;
/// `1/exp(2s/300s)` in fixed point.
pub const EXP_300S: u64 = 2034;
/// The averages' period (`PSI_FREQ`), in ns: 2 s.
pub const PSI_PERIOD_NS: u64 = 2_000_000_000;

/// Shortest trigger window (`WINDOW_MIN_US`), µs.
pub const WINDOW_MIN_US: u64 = 500_000;
/// Longest trigger window (`WINDOW_MAX_US`), µs.
pub const WINDOW_MAX_US: u64 = 10_000_000;

const NSEC_PER_USEC: u64 = 1000;

/// `psi_group_cpu` for memory: task counts, the state they make, and the time spent
/// in each state up to `state_start`.
#[derive(Copy, Clone, Debug)]
struct CpuState {
    /// `NR_RUNNING`: tasks started on this CPU and not yet stopped.
    nr_running: u32,
    /// `NR_MEMSTALL`: tasks of this CPU in a memstall (running ones: they reclaim).
    nr_memstall: u32,
    /// Bit `s` set: the CPU is in state `s` since `state_start`.
    state_mask: u8,
    state_start: u64,
    times: [u64; NR_PSI_STATES],
}

impl CpuState {
    /// `record_times()`: the time since the last change goes to the states held.
    fn record_times(&mut self, now: u64) {
        let delta = now.saturating_sub(self.state_start);
        self.state_start = self.state_start.max(now);
        for (s, time) in self.times.iter_mut().enumerate() {
            if self.state_mask & (1 << s) != 0 {
                *time += delta;
            }
        }
    }

    /// `test_state()` for memory. Every stalled task here is running (it reclaims or
    /// waits on its CPU), so `NR_MEMSTALL_RUNNING` is `nr_memstall`.
    fn state_mask(&self) -> u8 {
        let some = self.nr_memstall > 0;
        let full = some && self.nr_running == self.nr_memstall;
        let nonidle = some || self.nr_running > 0;
        u8::from(some) << PSI_MEM_SOME
            | u8::from(full) << PSI_MEM_FULL
            | u8::from(nonidle) << PSI_NONIDLE
    }

    /// Times so far, the state held now included (`get_recent_times`' read side).
    fn times_at(&self, now: u64) -> [u64; NR_PSI_STATES] {
        let mut times = self.times;
        let held = now.saturating_sub(self.state_start);
        for (s, time) in times.iter_mut().enumerate() {
            if self.state_mask & (1 << s) != 0 {
                *time += held;
            }
        }
        times
    }
}

/// One CPU's memory PSI state. Only that CPU changes it; any CPU may read it.
#[derive(Debug)]
pub struct PsiCpu {
    state: SpinMutex<CpuState>,
}

impl Default for PsiCpu {
    fn default() -> Self {
        Self::new()
    }
}

impl PsiCpu {
    /// An idle CPU with no time recorded.
    pub const fn new() -> Self {
        PsiCpu {
            state: SpinMutex::new(CpuState {
                nr_running: 0,
                nr_memstall: 0,
                state_mask: 0,
                state_start: 0,
                times: [0; NR_PSI_STATES],
            }),
        }
    }

    /// `psi_group_change()`: records the time of the state held until `now`, applies
    /// `change` to the task counts, takes the new state.
    fn change(&self, now: u64, change: impl FnOnce(&mut CpuState)) {
        let mut s = self.state.lock();
        s.record_times(now);
        change(&mut s);
        s.state_mask = s.state_mask();
    }

    /// A task starts running on this CPU (a workload starts): the CPU is non-idle.
    pub fn task_start(&self, now: u64) {
        self.change(now, |s| s.nr_running += 1);
    }

    /// A task stops (a workload ended). A stop without a start changes no count.
    pub fn task_stop(&self, now: u64) {
        self.change(now, |s| s.nr_running = s.nr_running.saturating_sub(1));
    }

    /// `psi_memstall_enter()`: the task on this CPU stalls on memory. Pair it with
    /// [`PsiCpu::memstall_leave`]; stalls do not nest (Linux's `in_memstall`).
    pub fn memstall_enter(&self, now: u64) {
        self.change(now, |s| s.nr_memstall += 1);
    }

    /// `psi_memstall_leave()`: the stall ended. A leave without an enter changes no
    /// count.
    pub fn memstall_leave(&self, now: u64) {
        self.change(now, |s| s.nr_memstall = s.nr_memstall.saturating_sub(1));
    }

    /// Nanoseconds spent in each state until `now` (`PSI_MEM_SOME`, `PSI_MEM_FULL`,
    /// `PSI_NONIDLE`).
    pub fn times(&self, now: u64) -> [u64; NR_PSI_STATES] {
        self.state.lock().times_at(now)
    }
}

/// A running average: a percentage with `FSHIFT` fraction bits (`FIXED_1` is 1 %),
/// printed as /proc does: `9.05`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct PsiAvg(pub u64);

impl PsiAvg {
    /// `LOAD_INT`: the whole percent.
    pub fn int(self) -> u64 {
        self.0 >> FSHIFT
    }

    /// `LOAD_FRAC`: hundredths of a percent.
    pub fn frac(self) -> u64 {
        ((self.0 & (FIXED_1 - 1)) * 100) >> FSHIFT
    }

    /// The percentage /proc prints, as a number (`9.05`).
    pub fn percent(self) -> f64 {
        self.int() as f64 + self.frac() as f64 / 100.0
    }
}

impl fmt::Display for PsiAvg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.int(), self.frac())
    }
}

/// One line of /proc/pressure/memory: the averages and the total stall time.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct PsiLine {
    /// Over the last 10 s, 60 s and 300 s.
    pub avg: [PsiAvg; 3],
    /// Total stall time, ns.
    pub total_ns: u64,
}

impl PsiLine {
    /// Total stall time in µs, as /proc prints it.
    pub fn total_us(&self) -> u64 {
        self.total_ns / NSEC_PER_USEC
    }
}

/// /proc/pressure/memory: `some` and `full`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct PsiSnapshot {
    /// At least one task stalled.
    pub some: PsiLine,
    /// Every non-idle task stalled.
    pub full: PsiLine,
}

impl PsiSnapshot {
    /// Stall totals since `earlier`, the averages as they are now (a run's window).
    pub fn since(&self, earlier: &PsiSnapshot) -> PsiSnapshot {
        let line = |now: &PsiLine, then: &PsiLine| PsiLine {
            avg: now.avg,
            total_ns: now.total_ns.saturating_sub(then.total_ns),
        };
        PsiSnapshot {
            some: line(&self.some, &earlier.some),
            full: line(&self.full, &earlier.full),
        }
    }

    /// The line of `PSI_MEM_SOME` or `PSI_MEM_FULL`.
    pub fn line(&self, full: bool) -> &PsiLine {
        if full { &self.full } else { &self.some }
    }
}

impl fmt::Display for PsiSnapshot {
    /// The two lines of /proc/pressure/memory, each ending in a newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, line) in [("some", &self.some), ("full", &self.full)] {
            let [a10, a60, a300] = line.avg;
            writeln!(
                f,
                "{name} avg10={a10} avg60={a60} avg300={a300} total={}",
                line.total_us()
            )?;
        }
        Ok(())
    }
}

/// The reader's side of a group: the previous times of each CPU, the totals and the
/// averages (`psi_group`'s aggregator fields).
#[derive(Debug)]
struct Aggregator<const N: usize> {
    times_prev: [[u64; NR_PSI_STATES]; N],
    /// Stall time of SOME and FULL, ns.
    total: [u64; 2],
    /// The part of `total` already folded into the averages.
    avg_total: [u64; 2],
    avg: [[u64; 3]; 2],
    avg_last_update: u64,
    avg_next_update: u64,
}

/// `calc_load()`: one step of the exponential average towards `active`.
fn calc_load(load: u64, exp: u64, active: u64) -> u64 {
    let mut newload = load * exp + active * (FIXED_1 - exp);
    if active >= load {
        newload += FIXED_1 - 1;
    }
    newload / FIXED_1
}

/// `fixed_power_int()`: `x^n` in fixed point, rounding each product.
fn fixed_power_int(mut x: u64, mut n: u64) -> u64 {
    let mut result = FIXED_1;
    while n != 0 {
        if n & 1 != 0 {
            result = (result * x + (FIXED_1 >> 1)) >> FSHIFT;
        }
        n >>= 1;
        x = (x * x + (FIXED_1 >> 1)) >> FSHIFT;
    }
    result
}

/// `calc_avgs()`: decays the three averages over `missed` empty periods, then takes
/// the last period's sample (`time` stalled out of `period`).
fn calc_avgs(avg: &mut [u64; 3], missed: u64, time: u64, period: u64) {
    const EXP: [u64; 3] = [EXP_10S, EXP_60S, EXP_300S];
    for (avg, exp) in avg.iter_mut().zip(EXP) {
        if missed > 0 {
            *avg = calc_load(*avg, fixed_power_int(exp, missed), 0);
        }
        let pct = (u128::from(time) * 100 / u128::from(period.max(1))) as u64 * FIXED_1;
        *avg = calc_load(*avg, exp, pct);
    }
}

impl<const N: usize> Aggregator<N> {
    /// `collect_percpu_times()`: each CPU's SOME and FULL time since the last look,
    /// weighted by its non-idle time over the same span.
    fn collect(&mut self, cpus: &[PsiCpu; N], now: u64) {
        let mut deltas = [0u128; 2];
        let mut nonidle_total = 0u128;
        for (cpu, prev) in cpus.iter().zip(&mut self.times_prev) {
            let times = cpu.times(now);
            let mut delta = [0u64; NR_PSI_STATES];
            for s in 0..NR_PSI_STATES {
                // Times only grow; a reader's `now` behind the writer's is no change.
                delta[s] = times[s].saturating_sub(prev[s]);
                prev[s] = prev[s].max(times[s]);
            }
            let nonidle = u128::from(delta[PSI_NONIDLE]);
            nonidle_total += nonidle;
            for s in [PSI_MEM_SOME, PSI_MEM_FULL] {
                deltas[s] += u128::from(delta[s]) * nonidle;
            }
        }
        for s in [PSI_MEM_SOME, PSI_MEM_FULL] {
            self.total[s] += (deltas[s] / nonidle_total.max(1)) as u64;
        }
    }

    /// `update_averages()`: folds the totals' growth since the last update into the
    /// averages, decaying them over periods missed. Returns the next update's time.
    fn update_averages(&mut self, now: u64) -> u64 {
        let expires = self.avg_next_update;
        let missed = now.saturating_sub(expires) / PSI_PERIOD_NS;
        // Fixed steps from the first deadline: no drift when a reader comes late.
        let next = expires + (1 + missed) * PSI_PERIOD_NS;
        let period = now.saturating_sub(self.avg_last_update + missed * PSI_PERIOD_NS);
        self.avg_last_update = now;
        for s in [PSI_MEM_SOME, PSI_MEM_FULL] {
            // A sample over the period is clamped; the rest carries to the next one.
            let sample = (self.total[s] - self.avg_total[s]).min(period);
            self.avg_total[s] += sample;
            calc_avgs(&mut self.avg[s], missed, sample, period);
        }
        next
    }

    fn snapshot(&self) -> PsiSnapshot {
        let line = |s: usize| PsiLine {
            avg: self.avg[s].map(PsiAvg),
            total_ns: self.total[s],
        };
        PsiSnapshot {
            some: line(PSI_MEM_SOME),
            full: line(PSI_MEM_FULL),
        }
    }
}

/// A PSI group over `N` CPUs (Linux's `psi_system` for the memory resource): each CPU
/// writes its own [`PsiCpu`]; any CPU reads the aggregate.
#[derive(Debug)]
pub struct PsiGroup<const N: usize> {
    cpus: [PsiCpu; N],
    aggregator: SpinMutex<Aggregator<N>>,
}

impl<const N: usize> PsiGroup<N> {
    /// A group of idle CPUs whose averages start at `now` (`group_init`).
    pub const fn new(now: u64) -> Self {
        PsiGroup {
            cpus: [const { PsiCpu::new() }; N],
            aggregator: SpinMutex::new(Aggregator {
                times_prev: [[0; NR_PSI_STATES]; N],
                total: [0; 2],
                avg_total: [0; 2],
                avg: [[0; 3]; 2],
                avg_last_update: now,
                avg_next_update: now + PSI_PERIOD_NS,
            }),
        }
    }

    /// CPU `cpu`'s state, for that CPU to change (None past the group's CPUs).
    pub fn cpu(&self, cpu: usize) -> Option<&PsiCpu> {
        self.cpus.get(cpu)
    }

    /// `psi_avgs_work()`: brings the totals up to `now` and, once a period has passed,
    /// the averages. Call it at least every [`PSI_PERIOD_NS`] while tasks run, or the
    /// next sample would cover more than a period.
    pub fn update(&self, now: u64) -> PsiSnapshot {
        let mut agg = self.aggregator.lock();
        agg.collect(&self.cpus, now);
        if now >= agg.avg_next_update {
            agg.avg_next_update = agg.update_averages(now);
        }
        agg.snapshot()
    }
}

/// Which stall a trigger watches.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PsiStall {
    /// `some`: `PSI_MEM_SOME`.
    Some,
    /// `full`: `PSI_MEM_FULL`.
    Full,
}

/// Why a trigger was refused (Linux: `-EINVAL` from `psi_trigger_create`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PsiTriggerError {
    /// Not `some|full THRESHOLD_US WINDOW_US`.
    Syntax,
    /// The window is outside `WINDOW_MIN_US..=WINDOW_MAX_US`.
    Window(u64),
    /// The threshold is 0 or longer than the window.
    Threshold(u64),
}

impl fmt::Display for PsiTriggerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PsiTriggerError::Syntax => {
                write!(
                    f,
                    "psi trigger: expected `some|full THRESHOLD_US WINDOW_US`"
                )
            }
            PsiTriggerError::Window(w) => write!(
                f,
                "psi trigger: window {w} us is outside {WINDOW_MIN_US}..={WINDOW_MAX_US} us"
            ),
            PsiTriggerError::Threshold(t) => write!(
                f,
                "psi trigger: threshold {t} us must be at least 1 us and at most the window"
            ),
        }
    }
}

/// What a trigger watches: `some 70000 1000000` is 70 ms of SOME stall in any 1 s.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PsiTriggerSpec {
    /// SOME or FULL.
    pub stall: PsiStall,
    /// Stall time in a window that fires the trigger, µs.
    pub threshold_us: u64,
    /// The window, µs.
    pub window_us: u64,
}

impl PsiTriggerSpec {
    /// A checked spec, as `psi_trigger_create` checks it.
    pub fn new(
        stall: PsiStall,
        threshold_us: u64,
        window_us: u64,
    ) -> Result<Self, PsiTriggerError> {
        if !(WINDOW_MIN_US..=WINDOW_MAX_US).contains(&window_us) {
            return Err(PsiTriggerError::Window(window_us));
        }
        if threshold_us == 0 || threshold_us > window_us {
            return Err(PsiTriggerError::Threshold(threshold_us));
        }
        Ok(PsiTriggerSpec {
            stall,
            threshold_us,
            window_us,
        })
    }

    /// Parses what one writes to /proc/pressure/memory: `some 70000 1000000`.
    pub fn parse(text: &str) -> Result<Self, PsiTriggerError> {
        let mut words = text.split_ascii_whitespace();
        let stall = match words.next() {
            Some("some") => PsiStall::Some,
            Some("full") => PsiStall::Full,
            _ => return Err(PsiTriggerError::Syntax),
        };
        let mut number = || {
            words
                .next()
                .filter(|w| w.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|w| w.parse::<u64>().ok())
                .ok_or(PsiTriggerError::Syntax)
        };
        let (threshold_us, window_us) = (number()?, number()?);
        if words.next().is_some() {
            return Err(PsiTriggerError::Syntax);
        }
        Self::new(stall, threshold_us, window_us)
    }
}

/// `psi_window`: the growth of a total over a sliding window.
#[derive(Copy, Clone, Debug)]
struct PsiWindow {
    size: u64,
    start_time: u64,
    start_value: u64,
    /// The previous window's growth, for its part still inside the current window.
    prev_growth: u64,
}

impl PsiWindow {
    /// `window_reset()`.
    fn reset(&mut self, now: u64, value: u64, prev_growth: u64) {
        self.start_time = now;
        self.start_value = value;
        self.prev_growth = prev_growth;
    }

    /// `window_update()`: growth over the last `size` ns, the previous window's
    /// growth counted as linear for the part of it the window still covers.
    fn update(&mut self, now: u64, value: u64) -> u64 {
        let elapsed = now.saturating_sub(self.start_time);
        let mut growth = value.saturating_sub(self.start_value);
        if elapsed > self.size {
            self.reset(now, value, growth);
        } else {
            let remaining = self.size - elapsed;
            growth += (u128::from(self.prev_growth) * u128::from(remaining) / u128::from(self.size))
                as u64;
        }
        growth
    }
}

/// A PSI trigger (`psi_trigger`): fires when the stall grew by at least the threshold
/// within the window, at most once per window; a breach while rate-limited is kept
/// (`pending_event`) and fires when the window allows.
#[derive(Copy, Clone, Debug)]
pub struct PsiTrigger {
    spec: PsiTriggerSpec,
    threshold: u64,
    win: PsiWindow,
    /// The total at the last update: whether there was new stall since.
    last_total: u64,
    last_event_time: u64,
    pending_event: bool,
}

impl PsiTrigger {
    /// Arms `spec` at `now` over the totals in `psi` (`psi_trigger_create`).
    pub fn new(spec: PsiTriggerSpec, now: u64, psi: &PsiSnapshot) -> Self {
        let total = psi.line(spec.stall == PsiStall::Full).total_ns;
        let mut win = PsiWindow {
            size: spec.window_us * NSEC_PER_USEC,
            start_time: 0,
            start_value: 0,
            prev_growth: 0,
        };
        win.reset(now, total, 0);
        PsiTrigger {
            spec,
            threshold: spec.threshold_us * NSEC_PER_USEC,
            win,
            last_total: total,
            last_event_time: 0,
            pending_event: false,
        }
    }

    /// What it watches.
    pub fn spec(&self) -> PsiTriggerSpec {
        self.spec
    }

    /// `update_triggers()` for this trigger: true when it fires at `now` over the
    /// totals in `psi` (read at `now`).
    pub fn update(&mut self, now: u64, psi: &PsiSnapshot) -> bool {
        let total = psi.line(self.spec.stall == PsiStall::Full).total_ns;
        let new_stall = total != self.last_total;
        self.last_total = total;
        if !new_stall && !self.pending_event {
            return false;
        }
        if new_stall {
            let growth = self.win.update(now, total);
            if !self.pending_event {
                if growth < self.threshold {
                    return false;
                }
                self.pending_event = true;
            }
        }
        // At most one event per window.
        if now < self.last_event_time + self.win.size {
            return false;
        }
        self.last_event_time = now;
        self.pending_event = false;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;

    const MS: u64 = 1_000_000;
    const S: u64 = 1_000 * MS;

    #[test]
    fn one_cpu_stalled_30_of_100_ms_gives_30000_us() {
        let g = PsiGroup::<1>::new(0);
        let cpu = g.cpu(0).unwrap();
        cpu.task_start(0);
        cpu.memstall_enter(20 * MS);
        cpu.memstall_leave(50 * MS);
        cpu.task_stop(100 * MS);
        let snap = g.update(100 * MS);
        assert_eq!(snap.some.total_us(), 30_000);
        // One task on the CPU: stalled is every task stalled.
        assert_eq!(snap.full.total_us(), 30_000);
        assert_eq!(cpu.times(200 * MS), [30 * MS, 30 * MS, 100 * MS]);
    }

    #[test]
    fn a_stall_in_progress_counts_up_to_the_read() {
        let g = PsiGroup::<1>::new(0);
        let cpu = g.cpu(0).unwrap();
        cpu.task_start(0);
        cpu.memstall_enter(10 * MS);
        assert_eq!(g.update(15 * MS).some.total_us(), 5_000);
        assert_eq!(g.update(40 * MS).some.total_us(), 30_000);
    }

    #[test]
    fn two_cpus_are_weighted_by_their_nonidle_time() {
        let g = PsiGroup::<2>::new(0);
        let (a, b) = (g.cpu(0).unwrap(), g.cpu(1).unwrap());
        // CPU 0 busy 100 ms, stalled 50; CPU 1 busy 100 ms, never stalled.
        a.task_start(0);
        b.task_start(0);
        a.memstall_enter(0);
        a.memstall_leave(50 * MS);
        // (50 ms * 100 ms + 0 * 100 ms) / 200 ms = 25 ms.
        assert_eq!(g.update(100 * MS).some.total_us(), 25_000);
        // Then CPU 1 goes idle: the next 100 ms weigh CPU 0's alone.
        b.task_stop(100 * MS);
        a.memstall_enter(100 * MS);
        a.memstall_leave(140 * MS);
        assert_eq!(g.update(200 * MS).some.total_us(), 25_000 + 40_000);
        assert!(g.cpu(2).is_none());
    }

    #[test]
    fn full_needs_every_running_task_stalled() {
        let g = PsiGroup::<1>::new(0);
        let cpu = g.cpu(0).unwrap();
        cpu.task_start(0);
        cpu.task_start(0);
        cpu.memstall_enter(0);
        cpu.memstall_leave(10 * MS);
        let snap = g.update(10 * MS);
        assert_eq!((snap.some.total_us(), snap.full.total_us()), (10_000, 0));
    }

    /// The closed form of `calc_load` applied `n` times from 0 to a constant `pct`.
    fn closed_form(pct: f64, exp: u64, n: i32) -> f64 {
        pct * (1.0 - (exp as f64 / FIXED_1 as f64).powi(n))
    }

    #[test]
    fn averages_under_constant_half_pressure_follow_the_closed_form() {
        let g = PsiGroup::<1>::new(0);
        let cpu = g.cpu(0).unwrap();
        cpu.task_start(0);
        let mut snap = PsiSnapshot::default();
        for n in 1..=30u64 {
            let start = (n - 1) * PSI_PERIOD_NS;
            cpu.memstall_enter(start);
            cpu.memstall_leave(start + PSI_PERIOD_NS / 2);
            snap = g.update(n * PSI_PERIOD_NS);
            let want = closed_form(50.0, EXP_10S, n as i32);
            let got = snap.some.avg[0].percent();
            assert!((got - want).abs() < 0.1, "period {n}: {got} vs {want}");
            if n == 1 {
                // calc_load(0, 1677, 50 * 2048) = 18550: 9.05 %.
                assert_eq!(snap.some.avg[0], PsiAvg(18550));
                assert_eq!(snap.some.avg[0].to_string(), "9.05");
            }
        }
        let want60 = closed_form(50.0, EXP_60S, 30);
        let want300 = closed_form(50.0, EXP_300S, 30);
        assert!((snap.some.avg[1].percent() - want60).abs() < 0.1);
        assert!((snap.some.avg[2].percent() - want300).abs() < 0.1);
        assert_eq!(snap.some.total_us(), 30 * 1_000_000);
    }

    #[test]
    fn missed_periods_decay_the_averages() {
        let g = PsiGroup::<1>::new(0);
        let cpu = g.cpu(0).unwrap();
        cpu.task_start(0);
        cpu.memstall_enter(0);
        cpu.memstall_leave(PSI_PERIOD_NS);
        let busy = g.update(PSI_PERIOD_NS).some.avg;
        // calc_load(0, 1677, 100 %) = 37100: 18.11 %.
        assert_eq!(busy[0], PsiAvg(37100));
        // Five periods with no reader and no stall: decayed by EXP^5, then one sample of 0.
        let idle = g.update(7 * PSI_PERIOD_NS).some.avg;
        let decayed = calc_load(calc_load(37100, fixed_power_int(EXP_10S, 5), 0), EXP_10S, 0);
        assert_eq!(idle[0], PsiAvg(decayed));
        assert!(idle[0] < busy[0] && idle[2] < busy[2]);
    }

    #[test]
    fn the_proc_format_has_two_lines() {
        let g = PsiGroup::<1>::new(0);
        assert_eq!(
            g.update(0).to_string(),
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n\
             full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
        );
    }

    #[test]
    fn trigger_specs_are_checked_like_psi_trigger_create() {
        assert_eq!(
            PsiTriggerSpec::parse("some 70000 1000000"),
            Ok(PsiTriggerSpec {
                stall: PsiStall::Some,
                threshold_us: 70_000,
                window_us: 1_000_000
            })
        );
        assert_eq!(
            PsiTriggerSpec::parse("full 700000 1000000").map(|s| s.stall),
            Ok(PsiStall::Full)
        );
        for (bad, err) in [
            ("avg 1 1000000", PsiTriggerError::Syntax),
            ("some 1", PsiTriggerError::Syntax),
            ("some -1 1000000", PsiTriggerError::Syntax),
            ("some 1 1000000 2", PsiTriggerError::Syntax),
            ("some 1 499999", PsiTriggerError::Window(499_999)),
            ("some 1 10000001", PsiTriggerError::Window(10_000_001)),
            ("some 0 1000000", PsiTriggerError::Threshold(0)),
            (
                "some 1000001 1000000",
                PsiTriggerError::Threshold(1_000_001),
            ),
        ] {
            assert_eq!(PsiTriggerSpec::parse(bad), Err(err), "{bad}");
            assert!(!err.to_string().is_empty());
        }
    }

    /// A group of one CPU running one task, and a trigger armed at 1 s.
    fn armed(text: &str) -> (PsiGroup<1>, PsiTrigger) {
        let g = PsiGroup::<1>::new(0);
        g.cpu(0).unwrap().task_start(0);
        let t = PsiTrigger::new(PsiTriggerSpec::parse(text).unwrap(), S, &g.update(S));
        (g, t)
    }

    /// Stalls `ms` milliseconds from `at`, then polls the trigger at `at + ms`.
    fn stall(g: &PsiGroup<1>, t: &mut PsiTrigger, at: u64, ms: u64) -> bool {
        let cpu = g.cpu(0).unwrap();
        cpu.memstall_enter(at);
        cpu.memstall_leave(at + ms * MS);
        t.update(at + ms * MS, &g.update(at + ms * MS))
    }

    #[test]
    fn a_trigger_fires_at_the_threshold_and_not_below() {
        let (g, mut t) = armed("some 70000 1000000");
        assert!(!stall(&g, &mut t, S, 69));
        // 69 + 1 = 70 ms within the window: at the threshold.
        assert!(stall(&g, &mut t, S + 100 * MS, 1));
        let (g, mut t) = armed("some 70000 1000000");
        assert!(!stall(&g, &mut t, S, 69));
        // No new stall: nothing to look at.
        assert!(!t.update(S + 500 * MS, &g.update(S + 500 * MS)));
    }

    #[test]
    fn a_trigger_fires_once_per_window() {
        let (g, mut t) = armed("some 70000 1000000");
        assert!(stall(&g, &mut t, S, 80));
        // Over the threshold again within the same window: held back...
        assert!(!stall(&g, &mut t, S + 100 * MS, 80));
        assert!(!stall(&g, &mut t, S + 500 * MS, 10));
        // ...and fires (the pending event) once the window since the last event passed,
        // even with no new stall.
        let later = S + 80 * MS + S;
        assert!(t.update(later, &g.update(later)));
        assert!(!t.update(later + MS, &g.update(later + MS)));
    }

    #[test]
    fn the_previous_window_carries_over_linearly() {
        let (g, mut t) = armed("some 100000 1000000");
        // 60 ms in the first window: below 100 ms.
        assert!(!stall(&g, &mut t, S, 60));
        // The window ends (1.2 s after its start): reset, prev_growth = 60 + 10 ms.
        assert!(!stall(&g, &mut t, 2 * S + 190 * MS, 10));
        // 0.5 s into the new window: 40 ms new + 70 ms * 0.5 = 75 ms: below.
        assert!(!stall(&g, &mut t, 2 * S + 660 * MS, 40));
        // 0.6 s in: 60 ms new + 70 * 0.4 = 88: below; 0.7 s: 80 + 21 = 101: fires.
        assert!(!stall(&g, &mut t, 2 * S + 780 * MS, 20));
        assert!(stall(&g, &mut t, 2 * S + 880 * MS, 20));
    }

    proptest! {
        #[test]
        fn totals_grow_full_stays_under_some_and_averages_are_percentages(
            steps in proptest::collection::vec((0usize..2, 0u8..4, 1u64..3_000_000_000), 1..60)
        ) {
            let g = PsiGroup::<2>::new(0);
            let mut now = 0;
            let mut prev = PsiSnapshot::default();
            let mut stalled = [false; 2];
            let mut running = [0u32; 2];
            for (c, op, dt) in steps {
                now += dt;
                let cpu = g.cpu(c).unwrap();
                match op {
                    0 if running[c] < 2 => { cpu.task_start(now); running[c] += 1 }
                    1 if running[c] > 0 && !stalled[c] => { cpu.task_stop(now); running[c] -= 1 }
                    2 if !stalled[c] => { cpu.memstall_enter(now); stalled[c] = true }
                    3 if stalled[c] => { cpu.memstall_leave(now); stalled[c] = false }
                    _ => {}
                }
                let snap = g.update(now);
                prop_assert!(snap.some.total_ns >= prev.some.total_ns);
                prop_assert!(snap.full.total_ns >= prev.full.total_ns);
                prop_assert!(snap.full.total_ns <= snap.some.total_ns);
                prop_assert!(snap.some.total_ns <= now);
                for line in [snap.some, snap.full] {
                    for avg in line.avg {
                        prop_assert!(avg.int() <= 100, "{avg}");
                    }
                }
                prev = snap;
            }
        }
    }
}
