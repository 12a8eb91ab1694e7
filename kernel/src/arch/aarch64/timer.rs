//! The Arm generic timer on this machine: the system-wide counter (CNTVCT_EL0, ticking
//! at CNTFRQ_EL0) for timestamps and timeouts, and each core's virtual timer (CNTV) as
//! a one-shot interrupt that bounds a WFI sleep. Owns the one `kernel::timer::Timer`
//! over the real registers (`sysreg::ThisCpu`); the register sequences are the lib's,
//! the GIC side of the timer interrupt (enabling the PPI) goes through `gic`.
//!
//! The virtual timer because it is the one EL1 may always use: the physical one needs
//! EL2 to grant access (CNTHCTL_EL2), and Linux picks the virtual one at EL1 as well.
//! With CNTVOFF_EL2 = 0 (QEMU's reset value; boot code entered at EL2 should clear it)
//! the virtual count equals the physical count on every core.

use core::time::Duration;

use kernel::timer::Timer;
pub use kernel::timer::VIRTUAL_TIMER_INTID;

use super::gic;
use super::sysreg::ThisCpu;

static TIMER: Timer<ThisCpu> = Timer::new(ThisCpu);

/// The counter value now (read after an ISB, so not before earlier work).
pub fn now_ticks() -> u64 {
    TIMER.now_ticks()
}

/// Counter frequency in Hz, as firmware programmed CNTFRQ_EL0 (QEMU: 62.5 MHz).
pub fn freq() -> u64 {
    TIMER.freq()
}

/// Time since the counter started (at reset, under QEMU).
pub fn uptime() -> Duration {
    TIMER.uptime()
}

/// Converts a tick count to a duration.
pub fn ticks_to_duration(ticks: u64) -> Duration {
    TIMER.ticks_to_duration(ticks)
}

/// Converts a duration to ticks, rounding up so a timeout is never shorter than asked.
pub fn duration_to_ticks(d: Duration) -> u64 {
    TIMER.duration_to_ticks(d)
}

/// The counter value `d` from now, for `smp::wait_until` deadlines.
pub fn deadline_after(d: Duration) -> u64 {
    TIMER.deadline_after(d)
}

/// Sets up this core's virtual timer: stopped, its interrupt enabled in the GIC.
/// Called once on each core after `gic` is up on it.
pub fn init_this_cpu() {
    disarm();
    gic::enable(VIRTUAL_TIMER_INTID);
}

/// Raises the timer interrupt on this core when the counter reaches `deadline` (at once if
/// it already has). One deadline per core: arming again replaces it.
pub fn arm(deadline: u64) {
    TIMER.arm(deadline);
}

/// Stops this core's timer; its (level-triggered) interrupt drops.
pub fn disarm() {
    TIMER.disarm();
}

/// The timer interrupt handler: the deadline has passed, so stop the timer before the
/// GIC sees the end of the interrupt (it is level-triggered and would fire again).
/// Whoever armed it compares the counter with its deadline itself.
pub fn handle_interrupt() {
    disarm();
}
