//! The Arm generic timer: a system-wide counter (CNTVCT_EL0, ticking at CNTFRQ_EL0) for
//! timestamps and timeouts, and each core's virtual timer (CNTV) as a one-shot interrupt
//! that bounds a WFI sleep. Owns the CNTV registers of the calling core; the GIC side of
//! the timer interrupt (enabling the PPI) goes through `gic`.
//!
//! The virtual timer because it is the one EL1 may always use: the physical one needs
//! EL2 to grant access (CNTHCTL_EL2), and Linux picks the virtual one at EL1 as well.
//! With CNTVOFF_EL2 = 0 (QEMU's reset value; boot code entered at EL2 should clear it)
//! the virtual count equals the physical count on every core.

use core::time::Duration;

use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::{CNTFRQ_EL0, CNTV_CTL_EL0, CNTV_CVAL_EL0, CNTVCT_EL0};
use tock_registers::interfaces::{Readable, Writeable};

use super::gic;

/// The virtual timer's interrupt: PPI 11, INTID 27, the ID the Arm Base System Architecture
/// fixes and every board we target uses (QEMU virt, MediaTek `arm,armv8-timer` nodes).
pub const VIRTUAL_TIMER_INTID: u32 = 27;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// The counter value now. The ISB keeps the read from being hoisted above earlier
/// instructions, so a timestamp taken after some work is not taken before it.
pub fn now_ticks() -> u64 {
    barrier::isb(barrier::SY);
    CNTVCT_EL0.get()
}

/// Counter frequency in Hz, as firmware programmed CNTFRQ_EL0 (QEMU: 62.5 MHz).
pub fn freq() -> u64 {
    CNTFRQ_EL0.get()
}

/// Time since the counter started (at reset, under QEMU).
pub fn uptime() -> Duration {
    ticks_to_duration(now_ticks())
}

/// Converts a tick count to a duration.
pub fn ticks_to_duration(ticks: u64) -> Duration {
    let nanos = u128::from(ticks) * NANOS_PER_SEC / u128::from(freq().max(1));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Converts a duration to ticks, rounding up so a timeout is never shorter than asked.
pub fn duration_to_ticks(d: Duration) -> u64 {
    let ticks = d.as_nanos() * u128::from(freq()) + NANOS_PER_SEC - 1;
    u64::try_from(ticks / NANOS_PER_SEC).unwrap_or(u64::MAX)
}

/// The counter value `d` from now, for `smp::wait_until` deadlines.
pub fn deadline_after(d: Duration) -> u64 {
    now_ticks().saturating_add(duration_to_ticks(d))
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
    CNTV_CVAL_EL0.set(deadline);
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
    barrier::isb(barrier::SY);
}

/// Stops this core's timer; its (level-triggered) interrupt drops.
pub fn disarm() {
    CNTV_CTL_EL0.set(0);
    barrier::isb(barrier::SY);
}

/// The timer interrupt handler: the deadline has passed, so stop the timer before the
/// GIC sees the end of the interrupt (it is level-triggered and would fire again).
/// Whoever armed it compares the counter with its deadline itself.
pub fn handle_interrupt() {
    disarm();
}
