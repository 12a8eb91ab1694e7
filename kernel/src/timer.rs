//! The Arm generic timer's register sequences, over `SysRegs`: the system counter
//! (CNTVCT_EL0, ticking at CNTFRQ_EL0) for timestamps and deadlines, and the calling
//! core's virtual timer (CNTV) as a one-shot interrupt, plus tick <-> duration
//! conversion. Owns the sequences only; the registers are reached through
//! `arch::aarch64::timer`, and the GIC side of the timer interrupt is `gic`'s.

use core::time::Duration;

use crate::sysreg::{Barrier, ReadReg, SysRegs, WriteReg};

/// The virtual timer's interrupt: PPI 11, INTID 27, the ID the Arm Base System
/// Architecture fixes and every board we target uses (QEMU virt, MediaTek
/// `arm,armv8-timer` nodes).
pub const VIRTUAL_TIMER_INTID: u32 = 27;

/// CNTV_CTL_EL0.ENABLE (bit 0) with IMASK (bit 1) clear: the timer fires.
const CNTV_CTL_ENABLE: u64 = 1;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Converts `ticks` of a counter running at `freq` Hz to a duration (rounding down;
/// a frequency of 0 counts as 1 Hz). Exact for every `u64` tick count.
pub fn ticks_to_duration(ticks: u64, freq: u64) -> Duration {
    let freq = freq.max(1);
    let nanos = u128::from(ticks % freq) * NANOS_PER_SEC / u128::from(freq);
    // Below NANOS_PER_SEC, since ticks % freq < freq.
    Duration::new(ticks / freq, nanos as u32)
}

/// Converts `d` to ticks of a counter running at `freq` Hz, rounding up so a timeout
/// is never shorter than asked; saturates at `u64::MAX`.
pub fn duration_to_ticks(d: Duration, freq: u64) -> u64 {
    let ticks = d
        .as_nanos()
        .saturating_mul(u128::from(freq))
        .saturating_add(NANOS_PER_SEC - 1);
    u64::try_from(ticks / NANOS_PER_SEC).unwrap_or(u64::MAX)
}

/// The counter and the calling core's virtual timer, through `S`.
pub struct Timer<S> {
    regs: S,
}

impl<S: SysRegs> Timer<S> {
    pub const fn new(regs: S) -> Self {
        Self { regs }
    }

    /// The counter value now. The ISB keeps the read from being hoisted above earlier
    /// instructions, so a timestamp taken after some work is not taken before it.
    pub fn now_ticks(&self) -> u64 {
        self.regs.barrier(Barrier::Isb);
        self.regs.read(ReadReg::Cntvct)
    }

    /// Counter frequency in Hz, as firmware programmed CNTFRQ_EL0 (QEMU: 62.5 MHz).
    pub fn freq(&self) -> u64 {
        self.regs.read(ReadReg::Cntfrq)
    }

    /// Time since the counter started (at reset, under QEMU).
    pub fn uptime(&self) -> Duration {
        self.ticks_to_duration(self.now_ticks())
    }

    /// `ticks_to_duration` at this counter's frequency.
    pub fn ticks_to_duration(&self, ticks: u64) -> Duration {
        ticks_to_duration(ticks, self.freq())
    }

    /// `duration_to_ticks` at this counter's frequency.
    pub fn duration_to_ticks(&self, d: Duration) -> u64 {
        duration_to_ticks(d, self.freq())
    }

    /// The counter value `d` from now (saturating).
    pub fn deadline_after(&self, d: Duration) -> u64 {
        self.now_ticks().saturating_add(self.duration_to_ticks(d))
    }

    /// Raises the timer interrupt on this core when the counter reaches `deadline` (at
    /// once if it already has). One deadline per core: arming again replaces it.
    pub fn arm(&self, deadline: u64) {
        self.regs.write(WriteReg::CntvCval, deadline);
        self.regs.write(WriteReg::CntvCtl, CNTV_CTL_ENABLE);
        self.regs.barrier(Barrier::Isb);
    }

    /// Stops this core's timer; its (level-triggered) interrupt drops.
    pub fn disarm(&self) {
        self.regs.write(WriteReg::CntvCtl, 0);
        self.regs.barrier(Barrier::Isb);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_hw::{Access, Bus};

    const QEMU_HZ: u64 = 62_500_000;
    const MEDIATEK_HZ: u64 = 24_000_000;

    #[test]
    fn ticks_to_duration_at_62_5_and_24_mhz() {
        assert_eq!(ticks_to_duration(QEMU_HZ, QEMU_HZ), Duration::from_secs(1));
        // One tick is 16 ns at 62.5 MHz, 41.66 ns (rounded down) at 24 MHz.
        assert_eq!(ticks_to_duration(1, QEMU_HZ), Duration::from_nanos(16));
        assert_eq!(ticks_to_duration(1, MEDIATEK_HZ), Duration::from_nanos(41));
        assert_eq!(ticks_to_duration(3, MEDIATEK_HZ), Duration::from_nanos(125));
        assert_eq!(
            ticks_to_duration(24_000, MEDIATEK_HZ),
            Duration::from_millis(1)
        );
        assert_eq!(ticks_to_duration(0, MEDIATEK_HZ), Duration::ZERO);
    }

    #[test]
    fn duration_to_ticks_rounds_up_at_62_5_and_24_mhz() {
        assert_eq!(
            duration_to_ticks(Duration::from_millis(10), QEMU_HZ),
            625_000
        );
        assert_eq!(
            duration_to_ticks(Duration::from_millis(10), MEDIATEK_HZ),
            240_000
        );
        assert_eq!(duration_to_ticks(Duration::from_nanos(16), QEMU_HZ), 1);
        assert_eq!(duration_to_ticks(Duration::from_nanos(17), QEMU_HZ), 2);
        assert_eq!(duration_to_ticks(Duration::from_nanos(1), MEDIATEK_HZ), 1);
        assert_eq!(duration_to_ticks(Duration::from_nanos(42), MEDIATEK_HZ), 2);
        assert_eq!(
            duration_to_ticks(Duration::from_micros(100), MEDIATEK_HZ),
            2_400
        );
        assert_eq!(duration_to_ticks(Duration::ZERO, MEDIATEK_HZ), 0);
    }

    #[test]
    fn conversions_do_not_overflow_at_large_values() {
        // 2^64 ticks at 24 MHz: about 24 000 years, exact to the nanosecond.
        assert_eq!(
            ticks_to_duration(u64::MAX, MEDIATEK_HZ),
            Duration::new(768_614_336_404, 564_650_625)
        );
        assert_eq!(
            ticks_to_duration(u64::MAX, QEMU_HZ),
            Duration::new(295_147_905_179, 352_825_840)
        );
        // A century is 2^61-ish ticks at 62.5 MHz: exact, not saturated.
        let century = Duration::from_secs(100 * 365 * 86_400);
        assert_eq!(duration_to_ticks(century, QEMU_HZ), 197_100_000_000_000_000);
        assert_eq!(
            duration_to_ticks(century, MEDIATEK_HZ),
            75_686_400_000_000_000
        );
        // Past 2^64 ticks: saturates instead of wrapping.
        assert_eq!(duration_to_ticks(Duration::MAX, QEMU_HZ), u64::MAX);
        assert_eq!(duration_to_ticks(Duration::MAX, u64::MAX), u64::MAX);
        // Frequency 0 (firmware left CNTFRQ unset) does not divide by zero.
        assert_eq!(ticks_to_duration(7, 0), Duration::from_secs(7));
    }

    #[test]
    fn now_ticks_reads_the_counter_after_an_isb() {
        let bus = Bus::new();
        bus.script_sys(ReadReg::Cntvct, &[1234]);
        let timer = Timer::new(bus.sys());
        assert_eq!(timer.now_ticks(), 1234);
        assert_eq!(
            bus.take(),
            [
                Access::Barrier(Barrier::Isb),
                Access::SysRead(ReadReg::Cntvct, 1234)
            ]
        );
    }

    #[test]
    fn freq_reads_cntfrq() {
        let bus = Bus::new();
        bus.script_sys(ReadReg::Cntfrq, &[MEDIATEK_HZ]);
        let timer = Timer::new(bus.sys());
        assert_eq!(timer.freq(), MEDIATEK_HZ);
        assert_eq!(timer.ticks_to_duration(48_000), Duration::from_millis(2));
        assert_eq!(
            bus.take(),
            [
                Access::SysRead(ReadReg::Cntfrq, MEDIATEK_HZ),
                Access::SysRead(ReadReg::Cntfrq, MEDIATEK_HZ)
            ]
        );
    }

    #[test]
    fn deadline_after_is_now_plus_the_rounded_up_ticks() {
        let bus = Bus::new();
        bus.script_sys(ReadReg::Cntvct, &[1_000_000]);
        bus.script_sys(ReadReg::Cntfrq, &[MEDIATEK_HZ]);
        let timer = Timer::new(bus.sys());
        assert_eq!(
            timer.deadline_after(Duration::from_millis(10)),
            1_000_000 + 240_000
        );
        assert_eq!(
            bus.take(),
            [
                Access::Barrier(Barrier::Isb),
                Access::SysRead(ReadReg::Cntvct, 1_000_000),
                Access::SysRead(ReadReg::Cntfrq, MEDIATEK_HZ),
            ]
        );
    }

    #[test]
    fn deadline_after_saturates() {
        let bus = Bus::new();
        bus.script_sys(ReadReg::Cntvct, &[u64::MAX - 5]);
        bus.script_sys(ReadReg::Cntfrq, &[QEMU_HZ]);
        let timer = Timer::new(bus.sys());
        assert_eq!(timer.deadline_after(Duration::from_secs(1)), u64::MAX);
    }

    #[test]
    fn arm_sets_the_compare_value_then_enables_unmasked() {
        let bus = Bus::new();
        Timer::new(bus.sys()).arm(0xdead_beef);
        assert_eq!(
            bus.take(),
            [
                Access::SysWrite(WriteReg::CntvCval, 0xdead_beef),
                Access::SysWrite(WriteReg::CntvCtl, 1),
                Access::Barrier(Barrier::Isb),
            ]
        );
    }

    #[test]
    fn disarm_clears_the_control_register() {
        let bus = Bus::new();
        Timer::new(bus.sys()).disarm();
        assert_eq!(
            bus.take(),
            [
                Access::SysWrite(WriteReg::CntvCtl, 0),
                Access::Barrier(Barrier::Isb),
            ]
        );
    }

    #[test]
    fn uptime_converts_the_counter() {
        let bus = Bus::new();
        bus.script_sys(ReadReg::Cntvct, &[3 * QEMU_HZ + 62_500]);
        bus.script_sys(ReadReg::Cntfrq, &[QEMU_HZ]);
        let timer = Timer::new(bus.sys());
        assert_eq!(timer.uptime(), Duration::from_millis(3_001));
    }
}
