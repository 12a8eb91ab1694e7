//! GICv3 (and GICv4, used the same way): a memory-mapped distributor (GICD), one
//! memory-mapped redistributor (GICR) per core for that core's SGIs and PPIs, and a CPU
//! interface reached through ICC_* system registers. Register names and offsets: GIC
//! architecture specification v3/v4 (IHI 0069H) chapters 12.8 (GICD), 12.10-12.11
//! (GICR) and 12.2 (ICC). Owns the sequences on those registers and which
//! redistributor serves each core; nothing else.
//!
//! Interrupts are all put in non-secure group 1, the group a non-secure EL1 handles
//! through ICC_IAR1_EL1, as Linux does.

use core::sync::atomic::{AtomicUsize, Ordering};
use core::time::Duration;

use tock_registers::{LocalRegisterCopy, register_bitfields};

use super::{
    Acked, DEFAULT_PRIORITY, FIRST_SPI, GicError, Mmio, PRIORITY_MASK, SPURIOUS, bit_register,
};
use crate::sysreg::{Barrier, ReadReg, SysRegs, WriteReg};
use crate::timer::Timer;

register_bitfields! {u32,
    /// GICD_CTLR as a non-secure access sees it (with one security state, bit 0 is
    /// EnableGrp0 and bit 1 EnableGrp1; setting both is what Linux does in either case).
    GICD_CTLR [
        /// Register write pending: a write to CTLR or ICENABLER has not taken effect yet.
        RWP OFFSET(31) NUMBITS(1) [],
        /// Affinity routing enable: interrupts are routed by MPIDR affinity (GICv3 mode).
        ARE_NS OFFSET(4) NUMBITS(1) [],
        /// Enable non-secure group 1 interrupts (the alias a non-secure access sees).
        EnableGrp1A OFFSET(1) NUMBITS(1) [],
        /// Enable group 1 interrupts (group 0 with a single security state).
        EnableGrp1 OFFSET(0) NUMBITS(1) []
    ],
    /// GICD_TYPER: what this distributor implements.
    GICD_TYPER [
        /// Interrupt lines: the distributor handles 32 * (ITLinesNumber + 1) INTIDs.
        ITLinesNumber OFFSET(0) NUMBITS(5) []
    ],
    /// GICR_CTLR: this redistributor's control register.
    GICR_CTLR [
        /// Register write pending: a write to GICR_ICENABLER0 has not taken effect yet.
        RWP OFFSET(3) NUMBITS(1) []
    ],
    /// GICR_WAKER: power handshake between a core and its redistributor.
    GICR_WAKER [
        /// Read-only: 1 while the redistributor's interface to the core is quiescent.
        ChildrenAsleep OFFSET(2) NUMBITS(1) [],
        /// 1 (reset value): the core is asleep and gets no interrupts. Clear it to wake.
        ProcessorSleep OFFSET(1) NUMBITS(1) []
    ]
}

register_bitfields! {u64,
    /// GICR_TYPER: identifies the redistributor.
    GICR_TYPER [
        /// The MPIDR affinity (Aff3.Aff2.Aff1.Aff0) of the core this redistributor serves.
        Affinity OFFSET(32) NUMBITS(32) [],
        /// This is the last redistributor in its region.
        Last OFFSET(4) NUMBITS(1) [],
        /// Virtual LPIs supported (GICv4): each redistributor has four 64 KiB frames, not two.
        VLPIS OFFSET(1) NUMBITS(1) []
    ],
    /// IROUTER<n>: where SPI n goes.
    GICD_IROUTER [
        /// 1: any participating core; 0: the core named by the affinity fields.
        InterruptRoutingMode OFFSET(31) NUMBITS(1) [],
        Aff3 OFFSET(32) NUMBITS(8) [],
        Aff2 OFFSET(16) NUMBITS(8) [],
        Aff1 OFFSET(8) NUMBITS(8) [],
        Aff0 OFFSET(0) NUMBITS(8) []
    ]
}

/// The distributor's registers (byte offsets): SPI configuration (SGIs and PPIs live
/// in the redistributors).
pub mod gicd {
    pub const CTLR: usize = 0x0000;
    pub const TYPER: usize = 0x0004;
    /// Group: bit n of word i set puts INTID 32 * i + n in group 1.
    pub const IGROUPR: usize = 0x0080;
    pub const ISENABLER: usize = 0x0100;
    pub const ICENABLER: usize = 0x0180;
    pub const ICPENDR: usize = 0x0280;
    /// One priority byte per INTID; lower is more urgent.
    pub const IPRIORITYR: usize = 0x0400;
    /// One 64-bit route per INTID; entries 0..31 are reserved (SGIs and PPIs).
    pub const IROUTER: usize = 0x6000;
}

/// A redistributor's registers (byte offsets from its RD_base frame). The SGI_base
/// frame follows RD_base and holds its core's SGIs (INTID 0..15) and PPIs (16..31),
/// laid out like the distributor's first word or bytes of each array.
pub mod gicr {
    pub const CTLR: usize = 0x0000;
    pub const TYPER: usize = 0x0008;
    pub const WAKER: usize = 0x0014;
    /// RD_base to SGI_base (and the size of each 64 KiB frame).
    pub const FRAME_SIZE: usize = 0x1_0000;
    pub const IGROUPR0: usize = FRAME_SIZE + 0x0080;
    pub const ISENABLER0: usize = FRAME_SIZE + 0x0100;
    pub const ICENABLER0: usize = FRAME_SIZE + 0x0180;
    pub const IPRIORITYR: usize = FRAME_SIZE + 0x0400;
}

/// Mask of the affinity fields of MPIDR_EL1 (Aff3, Aff2, Aff1, Aff0).
const MPIDR_AFFINITY: u64 = 0xff_00ff_ffff;

/// How long a GIC register bit may take to clear; still set after that means a
/// broken GIC or a wrong address.
const WAIT_LIMIT: Duration = Duration::from_millis(10);

/// No redistributor found yet for that CPU.
const NO_REDISTRIBUTOR: usize = usize::MAX;

/// Packs MPIDR affinity the way GICR_TYPER reports it: Aff3.Aff2.Aff1.Aff0, 8 bits each.
fn packed_affinity(mpidr: u64) -> u64 {
    ((mpidr >> 8) & 0xff00_0000) | (mpidr & 0x00ff_ffff)
}

/// The distributor and redistributor region of one GICv3, for up to `CPUS` logical CPUs.
pub struct GicV3<M, S, const CPUS: usize> {
    gicd: M,
    /// The whole redistributor region, `gicr_size` bytes: every core's frames.
    gicr: M,
    gicr_size: usize,
    sys: S,
    /// Each logical CPU's redistributor (RD_base offset in the region), found on that
    /// core by `init_this_cpu`.
    redistributor: [AtomicUsize; CPUS],
}

impl<M: Mmio, S: SysRegs, const CPUS: usize> GicV3<M, S, CPUS> {
    /// The GICv3 whose distributor is `gicd` and redistributor region `gicr`
    /// (`gicr_size` bytes); `sys` gives the ICC_* registers, barriers and counter.
    pub fn new(gicd: M, gicr: M, gicr_size: usize, sys: S) -> Self {
        Self {
            gicd,
            gicr,
            gicr_size,
            sys,
            redistributor: [const { AtomicUsize::new(NO_REDISTRIBUTOR) }; CPUS],
        }
    }

    /// Waits for a register bit to clear (it takes a few cycles), at most `WAIT_LIMIT`.
    fn wait_clear(&self, what: &'static str, busy: impl Fn() -> bool) -> Result<(), GicError> {
        let timer = Timer::new(&self.sys);
        let deadline = timer.deadline_after(WAIT_LIMIT);
        while busy() {
            if timer.now_ticks() > deadline {
                return Err(GicError::Timeout(what));
            }
            core::hint::spin_loop();
        }
        Ok(())
    }

    fn wait_gicd_rwp(&self) -> Result<(), GicError> {
        self.wait_clear("GICD_CTLR.RWP", || {
            LocalRegisterCopy::<u32, GICD_CTLR::Register>::new(self.gicd.read_u32(gicd::CTLR))
                .is_set(GICD_CTLR::RWP)
        })
    }

    /// Distributor setup, on the boot CPU before any other core runs: affinity routing,
    /// every SPI in group 1, disabled and not pending, then group 1 forwarding on.
    pub fn init_distributor(&self) -> Result<(), GicError> {
        self.gicd.write_u32(gicd::CTLR, 0);
        self.wait_gicd_rwp()?;
        let typer =
            LocalRegisterCopy::<u32, GICD_TYPER::Register>::new(self.gicd.read_u32(gicd::TYPER));
        let lines = 32 * (typer.read(GICD_TYPER::ITLinesNumber) as usize + 1);
        for i in FIRST_SPI / 32..lines.min(1020).div_ceil(32) {
            self.gicd.write_u32(gicd::IGROUPR + 4 * i, u32::MAX);
            self.gicd.write_u32(gicd::ICENABLER + 4 * i, u32::MAX);
            self.gicd.write_u32(gicd::ICPENDR + 4 * i, u32::MAX);
        }
        self.wait_gicd_rwp()?;
        let ctlr =
            GICD_CTLR::ARE_NS::SET + GICD_CTLR::EnableGrp1A::SET + GICD_CTLR::EnableGrp1::SET;
        self.gicd.write_u32(gicd::CTLR, ctlr.value);
        self.wait_gicd_rwp()
    }

    /// Finds the calling core's redistributor: the one in the region whose GICR_TYPER
    /// affinity equals this core's MPIDR affinity. Returns its RD_base offset.
    fn find_redistributor(&self, mpidr: u64) -> Result<usize, GicError> {
        let want = packed_affinity(mpidr & MPIDR_AFFINITY);
        let mut offset = 0;
        while offset + 2 * gicr::FRAME_SIZE <= self.gicr_size {
            let typer = LocalRegisterCopy::<u64, GICR_TYPER::Register>::new(
                self.gicr.read_u64(offset + gicr::TYPER),
            );
            if typer.read(GICR_TYPER::Affinity) == want {
                return Ok(offset);
            }
            if typer.is_set(GICR_TYPER::Last) {
                break;
            }
            let frames = if typer.is_set(GICR_TYPER::VLPIS) {
                4
            } else {
                2
            };
            offset += frames * gicr::FRAME_SIZE;
        }
        Err(GicError::NoRedistributor { mpidr })
    }

    /// Sets up the calling core (logical CPU `cpu`, MPIDR_EL1 `mpidr`): wakes its
    /// redistributor, puts its SGIs and PPIs in group 1, all off at a known priority
    /// (`enable` turns on what is used), then opens the ICC_* CPU interface. Needs
    /// ICC_SRE_EL2.Enable set by boot code entered at EL2.
    pub fn init_this_cpu(&self, cpu: usize, mpidr: u64) -> Result<(), GicError> {
        let rd = self.find_redistributor(mpidr)?;
        self.redistributor[cpu].store(rd, Ordering::Relaxed);

        // Wake the redistributor: until then it does not forward interrupts to this core.
        let mut waker = LocalRegisterCopy::<u32, GICR_WAKER::Register>::new(
            self.gicr.read_u32(rd + gicr::WAKER),
        );
        waker.modify(GICR_WAKER::ProcessorSleep::CLEAR);
        self.gicr.write_u32(rd + gicr::WAKER, waker.get());
        self.wait_clear("GICR_WAKER.ChildrenAsleep", || {
            LocalRegisterCopy::<u32, GICR_WAKER::Register>::new(
                self.gicr.read_u32(rd + gicr::WAKER),
            )
            .is_set(GICR_WAKER::ChildrenAsleep)
        })?;

        self.gicr.write_u32(rd + gicr::IGROUPR0, u32::MAX);
        self.gicr.write_u32(rd + gicr::ICENABLER0, u32::MAX);
        self.wait_clear("GICR_CTLR.RWP", || {
            LocalRegisterCopy::<u32, GICR_CTLR::Register>::new(self.gicr.read_u32(rd + gicr::CTLR))
                .is_set(GICR_CTLR::RWP)
        })?;
        for intid in 0..FIRST_SPI {
            self.gicr
                .write_u8(rd + gicr::IPRIORITYR + intid, DEFAULT_PRIORITY);
        }

        // ICC_SRE_EL1.SRE reads back 0 when the system-register interface is not
        // available at EL1 (EL2 did not allow it); the ISB makes the write take effect.
        let sre = self.sys.read(ReadReg::IccSre);
        self.sys.write(WriteReg::IccSre, sre | 1);
        self.sys.barrier(Barrier::Isb);
        if self.sys.read(ReadReg::IccSre) & 1 == 0 {
            return Err(GicError::NoSystemRegisters);
        }
        self.sys.write(WriteReg::IccPmr, u64::from(PRIORITY_MASK));
        self.sys.write(WriteReg::IccBpr1, 0);
        // EOImode 0: writing ICC_EOIR1_EL1 both drops priority and deactivates.
        self.sys.write(WriteReg::IccCtlr, 0);
        self.sys.write(WriteReg::IccIgrpen1, 1);
        // The enables take effect before we return.
        self.sys.barrier(Barrier::Isb);
        Ok(())
    }

    /// Sends SGI `sgi` to the core with affinity `mpidr` through ICC_SGI1R_EL1, whose
    /// target list holds 16 Aff0 values per range selector (RS). A barrier first: a
    /// system-register write is not ordered by a Release store, so without it the
    /// target could take the SGI, look at memory and miss the very write it was woken
    /// for (Linux does the same). The ISB issues the SGI before we go on.
    pub fn send_sgi(&self, mpidr: u64, sgi: u8) {
        assert!(sgi < 16, "SGI {sgi}");
        let aff0 = mpidr & 0xff;
        let value = (((mpidr >> 32) & 0xff) << 48) // Aff3
            | ((aff0 / 16) << 44) // RS
            | (((mpidr >> 16) & 0xff) << 32) // Aff2
            | ((u64::from(sgi) & 0xf) << 24) // INTID
            | (((mpidr >> 8) & 0xff) << 16) // Aff1
            | (1 << (aff0 % 16)); // target list
        self.sys.barrier(Barrier::DsbIshst);
        self.sys.write(WriteReg::IccSgi1r, value);
        self.sys.barrier(Barrier::Isb);
    }

    /// Acknowledges the most urgent pending interrupt of this core, if any.
    pub fn ack(&self) -> Option<Acked> {
        let intid = (self.sys.read(ReadReg::IccIar1) & 0xff_ffff) as u32;
        // A system-register read is no memory access, so only a DSB keeps later loads
        // (of whatever the interrupt announces) from being performed before it (Linux's
        // gic_read_iar does the same).
        self.sys.barrier(Barrier::DsbSy);
        (intid < SPURIOUS).then_some(Acked { intid, raw: intid })
    }

    /// Ends an interrupt `ack` returned (priority drop and deactivation together).
    pub fn eoi(&self, irq: Acked) {
        self.sys.write(WriteReg::IccEoir1, u64::from(irq.raw));
    }

    /// Enables `intid`: an SGI or PPI in the redistributor of the calling core (logical
    /// CPU `cpu`), an SPI in the distributor, routed to the calling core (`mpidr`).
    pub fn enable(&self, intid: u32, cpu: usize, mpidr: u64) {
        assert!(intid < SPURIOUS, "INTID {intid}");
        let i = intid as usize;
        if i < FIRST_SPI {
            let rd = self.redistributor(cpu);
            self.gicr
                .write_u8(rd + gicr::IPRIORITYR + i, DEFAULT_PRIORITY);
            self.gicr.write_u32(rd + gicr::ISENABLER0, 1 << i);
        } else {
            self.gicd.write_u8(gicd::IPRIORITYR + i, DEFAULT_PRIORITY);
            let route = GICD_IROUTER::InterruptRoutingMode::CLEAR
                + GICD_IROUTER::Aff3.val((mpidr >> 32) & 0xff)
                + GICD_IROUTER::Aff2.val((mpidr >> 16) & 0xff)
                + GICD_IROUTER::Aff1.val((mpidr >> 8) & 0xff)
                + GICD_IROUTER::Aff0.val(mpidr & 0xff);
            self.gicd.write_u64(gicd::IROUTER + 8 * i, route.value);
            let (offset, bit) = bit_register(gicd::ISENABLER, i);
            self.gicd.write_u32(offset, bit);
        }
    }

    /// Disables `intid`: an SGI or PPI of the calling core (logical CPU `cpu`), or an SPI.
    pub fn disable(&self, intid: u32, cpu: usize) {
        assert!(intid < SPURIOUS, "INTID {intid}");
        let i = intid as usize;
        if i < FIRST_SPI {
            let rd = self.redistributor(cpu);
            self.gicr.write_u32(rd + gicr::ICENABLER0, 1 << i);
        } else {
            let (offset, bit) = bit_register(gicd::ICENABLER, i);
            self.gicd.write_u32(offset, bit);
        }
    }

    fn redistributor(&self, cpu: usize) -> usize {
        let rd = self.redistributor[cpu].load(Ordering::Relaxed);
        assert!(
            rd != NO_REDISTRIBUTOR,
            "GIC: cpu {cpu} used before gic::init_this_cpu on it"
        );
        rd
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_hw::{Access, Bus, FakeFrame, FakeSys};

    type Gic = GicV3<FakeFrame, FakeSys, 4>;

    const HZ: u64 = 62_500_000;
    /// Two redistributors (GICv3: two frames each).
    const REGION: usize = 4 * gicr::FRAME_SIZE;
    const RWP: u64 = 1 << 31;

    fn gic(bus: &Bus, gicr_size: usize) -> Gic {
        bus.script_sys(ReadReg::Cntfrq, &[HZ]);
        GicV3::new(bus.frame("GICD"), bus.frame("GICR"), gicr_size, bus.sys())
    }

    /// A bounded wait's start: the deadline is read from the counter.
    fn wait_start(now: u64) -> [Access; 3] {
        [
            Access::Barrier(Barrier::Isb),
            Access::SysRead(ReadReg::Cntvct, now),
            Access::SysRead(ReadReg::Cntfrq, HZ),
        ]
    }

    /// One look at the counter while the bit is still set.
    fn wait_poll(now: u64) -> [Access; 2] {
        [
            Access::Barrier(Barrier::Isb),
            Access::SysRead(ReadReg::Cntvct, now),
        ]
    }

    /// GICR_TYPER of the redistributor of `mpidr`'s core.
    fn gicr_typer(mpidr: u64, last: bool) -> u64 {
        (packed_affinity(mpidr) << 32) | (u64::from(last) << 4)
    }

    #[test]
    fn init_distributor_waits_for_rwp_around_the_spi_setup() {
        let bus = Bus::new();
        bus.script("GICD", gicd::TYPER, &[2]);
        // The first write takes one more look to complete.
        bus.script("GICD", gicd::CTLR, &[RWP, 0]);
        assert_eq!(gic(&bus, REGION).init_distributor(), Ok(()));
        let mut expect = vec![Access::w32("GICD", gicd::CTLR, 0)];
        expect.extend(wait_start(0));
        expect.push(Access::r32("GICD", gicd::CTLR, RWP as u32));
        expect.extend(wait_poll(0));
        expect.push(Access::r32("GICD", gicd::CTLR, 0));
        expect.push(Access::r32("GICD", gicd::TYPER, 2));
        for i in 1..3 {
            expect.extend([
                Access::w32("GICD", gicd::IGROUPR + 4 * i, u32::MAX),
                Access::w32("GICD", gicd::ICENABLER + 4 * i, u32::MAX),
                Access::w32("GICD", gicd::ICPENDR + 4 * i, u32::MAX),
            ]);
        }
        expect.extend(wait_start(0));
        expect.push(Access::r32("GICD", gicd::CTLR, 0));
        // ARE_NS | EnableGrp1A | EnableGrp1.
        expect.push(Access::w32("GICD", gicd::CTLR, 0x13));
        expect.extend(wait_start(0));
        expect.push(Access::r32("GICD", gicd::CTLR, 0));
        assert_eq!(bus.take(), expect);
    }

    #[test]
    fn a_bit_that_stays_set_times_out_after_10_ms() {
        let bus = Bus::new();
        bus.script("GICD", gicd::CTLR, &[RWP]);
        // Deadline 100 + 625 000 ticks; the second look is past it.
        bus.script_sys(ReadReg::Cntvct, &[100, 625_100, 625_101]);
        assert_eq!(
            gic(&bus, REGION).init_distributor(),
            Err(GicError::Timeout("GICD_CTLR.RWP"))
        );
        let mut expect = vec![Access::w32("GICD", gicd::CTLR, 0)];
        expect.extend(wait_start(100));
        expect.push(Access::r32("GICD", gicd::CTLR, RWP as u32));
        expect.extend(wait_poll(625_100));
        expect.push(Access::r32("GICD", gicd::CTLR, RWP as u32));
        expect.extend(wait_poll(625_101));
        assert_eq!(bus.take(), expect);
    }

    #[test]
    fn init_this_cpu_wakes_the_redistributor_and_opens_the_cpu_interface() {
        let bus = Bus::new();
        let mpidr = 0x8000_0001; // U/RES1 bit 31 set, Aff0 = 1.
        let rd = 2 * gicr::FRAME_SIZE;
        bus.script("GICR", gicr::TYPER, &[gicr_typer(0, false)]);
        bus.script("GICR", rd + gicr::TYPER, &[gicr_typer(1, true)]);
        // ProcessorSleep and ChildrenAsleep, then ChildrenAsleep for two more looks.
        bus.script("GICR", rd + gicr::WAKER, &[0b110, 0b100, 0b100, 0b000]);
        bus.script_sys(ReadReg::IccSre, &[0, 1]);
        let gic = gic(&bus, REGION);
        assert_eq!(gic.init_this_cpu(3, mpidr), Ok(()));

        let mut expect = vec![
            Access::r64("GICR", gicr::TYPER, gicr_typer(0, false)),
            Access::r64("GICR", rd + gicr::TYPER, gicr_typer(1, true)),
            Access::r32("GICR", rd + gicr::WAKER, 0b110),
            Access::w32("GICR", rd + gicr::WAKER, 0b100),
        ];
        expect.extend(wait_start(0));
        expect.push(Access::r32("GICR", rd + gicr::WAKER, 0b100));
        expect.extend(wait_poll(0));
        expect.push(Access::r32("GICR", rd + gicr::WAKER, 0b100));
        expect.extend(wait_poll(0));
        expect.push(Access::r32("GICR", rd + gicr::WAKER, 0));
        expect.extend([
            Access::w32("GICR", rd + gicr::IGROUPR0, u32::MAX),
            Access::w32("GICR", rd + gicr::ICENABLER0, u32::MAX),
        ]);
        expect.extend(wait_start(0));
        expect.push(Access::r32("GICR", rd + gicr::CTLR, 0));
        expect.extend((0..32).map(|i| Access::w8("GICR", rd + gicr::IPRIORITYR + i, 0xa0)));
        expect.extend([
            Access::SysRead(ReadReg::IccSre, 0),
            Access::SysWrite(WriteReg::IccSre, 1),
            Access::Barrier(Barrier::Isb),
            Access::SysRead(ReadReg::IccSre, 1),
            Access::SysWrite(WriteReg::IccPmr, 0xf0),
            Access::SysWrite(WriteReg::IccBpr1, 0),
            Access::SysWrite(WriteReg::IccCtlr, 0),
            Access::SysWrite(WriteReg::IccIgrpen1, 1),
            Access::Barrier(Barrier::Isb),
        ]);
        assert_eq!(bus.take(), expect);
        assert_eq!(gic.redistributor(3), rd);
    }

    #[test]
    fn gicv4_redistributors_span_four_frames() {
        let bus = Bus::new();
        bus.script("GICR", gicr::TYPER, &[gicr_typer(0, false) | 0b10]);
        bus.script(
            "GICR",
            0x4_0000 + gicr::TYPER,
            &[gicr_typer(0x0100, true) | 0b10],
        );
        let gic = gic(&bus, 8 * gicr::FRAME_SIZE);
        assert_eq!(gic.find_redistributor(0x0100), Ok(0x4_0000));
    }

    #[test]
    fn no_redistributor_for_an_unknown_core() {
        let bus = Bus::new();
        bus.script("GICR", gicr::TYPER, &[gicr_typer(0, false)]);
        bus.script("GICR", 0x2_0000 + gicr::TYPER, &[gicr_typer(1, true)]);
        let gic = gic(&bus, 64 * gicr::FRAME_SIZE);
        assert_eq!(
            gic.init_this_cpu(0, 7),
            Err(GicError::NoRedistributor { mpidr: 7 })
        );
        // Stopped at the frame marked Last, though the region goes on.
        assert_eq!(bus.take().len(), 2);
        // A region without a Last mark ends at its size.
        bus.script("GICR", 0x2_0000 + gicr::TYPER, &[gicr_typer(1, false)]);
        let gic = GicV3::<_, _, 4>::new(bus.frame("GICD"), bus.frame("GICR"), REGION, bus.sys());
        assert_eq!(
            gic.find_redistributor(7),
            Err(GicError::NoRedistributor { mpidr: 7 })
        );
        assert_eq!(bus.take().len(), 2);
    }

    #[test]
    fn init_this_cpu_without_system_registers_fails() {
        let bus = Bus::new();
        bus.script("GICR", gicr::TYPER, &[gicr_typer(0, true)]);
        let gic = gic(&bus, REGION);
        assert_eq!(gic.init_this_cpu(0, 0), Err(GicError::NoSystemRegisters));
        let log = bus.take();
        assert_eq!(
            log[log.len() - 4..],
            [
                Access::SysRead(ReadReg::IccSre, 0),
                Access::SysWrite(WriteReg::IccSre, 1),
                Access::Barrier(Barrier::Isb),
                Access::SysRead(ReadReg::IccSre, 0),
            ]
        );
    }

    #[test]
    fn send_sgi_writes_the_affinity_fields_of_sgi1r() {
        let bus = Bus::new();
        // Aff3 0x12, Aff2 0x34, Aff1 0x56, Aff0 23: range selector 1, target bit 7.
        let mpidr = 0x12_0034_5617;
        gic(&bus, REGION).send_sgi(mpidr, 5);
        let value = (0x12 << 48) | (1 << 44) | (0x34 << 32) | (5 << 24) | (0x56 << 16) | (1 << 7);
        assert_eq!(
            bus.take(),
            [
                Access::Barrier(Barrier::DsbIshst),
                Access::SysWrite(WriteReg::IccSgi1r, value),
                Access::Barrier(Barrier::Isb),
            ]
        );
    }

    #[test]
    fn send_sgi_to_aff0_0_and_15() {
        let bus = Bus::new();
        let gic = gic(&bus, REGION);
        gic.send_sgi(0, 0);
        gic.send_sgi(0x0f, 0);
        let sgi1r: Vec<u64> = bus
            .take()
            .into_iter()
            .filter_map(|a| match a {
                Access::SysWrite(WriteReg::IccSgi1r, v) => Some(v),
                _ => None,
            })
            .collect();
        assert_eq!(sgi1r, [1, 1 << 15]);
    }

    #[test]
    fn ack_then_eoi_through_the_group_1_registers() {
        let bus = Bus::new();
        bus.script_sys(ReadReg::IccIar1, &[27]);
        let gic = gic(&bus, REGION);
        let irq = gic.ack().expect("the timer PPI is pending");
        assert_eq!(irq.intid, 27);
        gic.eoi(irq);
        assert_eq!(
            bus.take(),
            [
                Access::SysRead(ReadReg::IccIar1, 27),
                Access::Barrier(Barrier::DsbSy),
                Access::SysWrite(WriteReg::IccEoir1, 27),
            ]
        );
        bus.script_sys(ReadReg::IccIar1, &[1023]);
        assert_eq!(gic.ack(), None);
    }

    #[test]
    fn enable_and_disable_an_sgi_ppi_and_spi() {
        let bus = Bus::new();
        bus.script("GICR", gicr::TYPER, &[gicr_typer(0x0102, true)]);
        bus.script_sys(ReadReg::IccSre, &[1]);
        let gic = gic(&bus, REGION);
        let mpidr = 0x8000_0102;
        gic.init_this_cpu(1, mpidr).expect("redistributor 0");
        bus.take();
        gic.enable(0, 1, mpidr);
        gic.enable(27, 1, mpidr);
        gic.enable(77, 1, 0x12_0034_5617);
        gic.disable(27, 1);
        gic.disable(77, 1);
        assert_eq!(
            bus.take(),
            [
                Access::w8("GICR", gicr::IPRIORITYR, 0xa0),
                Access::w32("GICR", gicr::ISENABLER0, 1),
                Access::w8("GICR", gicr::IPRIORITYR + 27, 0xa0),
                Access::w32("GICR", gicr::ISENABLER0, 1 << 27),
                // An SPI is routed to one core by affinity (routing mode 0).
                Access::w8("GICD", gicd::IPRIORITYR + 77, 0xa0),
                Access::w64("GICD", gicd::IROUTER + 8 * 77, 0x12_0034_5617),
                Access::w32("GICD", gicd::ISENABLER + 8, 1 << 13),
                Access::w32("GICR", gicr::ICENABLER0, 1 << 27),
                Access::w32("GICD", gicd::ICENABLER + 8, 1 << 13),
            ]
        );
    }

    #[test]
    #[should_panic(expected = "cpu 2 used before gic::init_this_cpu")]
    fn a_ppi_on_a_cpu_without_redistributor_panics() {
        let bus = Bus::new();
        gic(&bus, REGION).enable(27, 2, 0);
    }
}
