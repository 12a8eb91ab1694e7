//! GICv2 (Arm GIC-400 and compatibles): a memory-mapped distributor (GICD) shared by all
//! cores and a memory-mapped CPU interface (GICC) whose registers are banked per core.
//! Register names and offsets: GIC architecture specification v2 (IHI 0048B) chapter 4,
//! and the GIC-400 TRM (DDI 0471B). Owns the sequences on those two frames and each
//! core's CPU-interface mask; nothing else.

use core::sync::atomic::{AtomicU8, Ordering};

use tock_registers::{LocalRegisterCopy, register_bitfields};

use super::{
    Acked, DEFAULT_PRIORITY, FIRST_SPI, GicError, Mmio, PRIORITY_MASK, SPURIOUS, bit_register,
};
use crate::sysreg::{Barrier, SysRegs};

register_bitfields! {u32,
    /// GICD_CTLR, as a non-secure access sees it (the view a kernel at EL1 has on a
    /// board with TrustZone; without security extensions bit 0 is EnableGrp0 and the
    /// interrupts stay in group 0, which a GICC with FIQEn = 0 signals as IRQ too).
    GICD_CTLR [
        /// Forward pending interrupts of our group from the distributor to the CPU interfaces.
        Enable OFFSET(0) NUMBITS(1) []
    ],
    /// GICD_TYPER: what this distributor implements.
    GICD_TYPER [
        /// Number of implemented CPU interfaces, minus one.
        CPUNumber OFFSET(5) NUMBITS(3) [],
        /// Interrupt lines: the distributor handles 32 * (ITLinesNumber + 1) INTIDs.
        ITLinesNumber OFFSET(0) NUMBITS(5) []
    ],
    /// GICD_SGIR: writing it sends a software-generated interrupt.
    GICD_SGIR [
        /// 0: to the CPU interfaces in CPUTargetList; 1: to all but self; 2: to self only.
        TargetListFilter OFFSET(24) NUMBITS(2) [
            TargetList = 0,
            AllOthers = 1,
            SelfOnly = 2
        ],
        /// One bit per CPU interface (0..7) that receives the SGI.
        CPUTargetList OFFSET(16) NUMBITS(8) [],
        /// SGI number, 0..15.
        SGIINTID OFFSET(0) NUMBITS(4) []
    ],
    /// GICC_CTLR, non-secure view (see GICD_CTLR).
    GICC_CTLR [
        /// Signal interrupts of our group from this CPU interface to the core.
        Enable OFFSET(0) NUMBITS(1) []
    ],
    /// GICC_IAR: reading it acknowledges the highest-priority pending interrupt.
    GICC_IAR [
        /// For an SGI, the CPU interface that sent it (must be written back to GICC_EOIR).
        CPUID OFFSET(10) NUMBITS(3) [],
        /// The interrupt ID; 1023 means nothing was pending (spurious).
        InterruptID OFFSET(0) NUMBITS(10) []
    ]
}

/// The distributor's registers (byte offsets): global interrupt configuration, one bit
/// or byte per INTID.
pub mod gicd {
    pub const CTLR: usize = 0x000;
    pub const TYPER: usize = 0x004;
    /// Set-enable: writing 1 to bit n of word i enables INTID 32 * i + n.
    pub const ISENABLER: usize = 0x100;
    /// Clear-enable, same layout.
    pub const ICENABLER: usize = 0x180;
    /// Clear-pending, same layout.
    pub const ICPENDR: usize = 0x280;
    /// One priority byte per INTID; lower is more urgent.
    pub const IPRIORITYR: usize = 0x400;
    /// One byte per INTID: the CPU interfaces an SPI goes to. For SGIs and PPIs the
    /// bytes are read-only and banked: they read as the mask of the reading core.
    pub const ITARGETSR: usize = 0x800;
    pub const SGIR: usize = 0xf00;
}

/// The CPU interface's registers (byte offsets), banked per core.
pub mod gicc {
    pub const CTLR: usize = 0x00;
    /// Priority mask: only interrupts with a priority value below it are signalled.
    pub const PMR: usize = 0x04;
    /// Binary point: how the priority splits into group priority and subpriority.
    pub const BPR: usize = 0x08;
    pub const IAR: usize = 0x0c;
    /// End of interrupt: write back the value GICC_IAR gave.
    pub const EOIR: usize = 0x10;
}

/// The distributor and CPU interface of one GICv2, for up to `CPUS` logical CPUs.
pub struct GicV2<M, S, const CPUS: usize> {
    gicd: M,
    gicc: M,
    sys: S,
    /// Each logical CPU's CPU-interface mask, learned on that core (GICD_ITARGETSR0 is
    /// banked), since GICD_SGIR addresses cores by interface number, not by MPIDR.
    cpu_mask: [AtomicU8; CPUS],
}

impl<M: Mmio, S: SysRegs, const CPUS: usize> GicV2<M, S, CPUS> {
    /// The GICv2 whose distributor is `gicd` and CPU interface `gicc`; `sys` gives
    /// the barriers.
    pub fn new(gicd: M, gicc: M, sys: S) -> Self {
        Self {
            gicd,
            gicc,
            sys,
            cpu_mask: [const { AtomicU8::new(0) }; CPUS],
        }
    }

    fn typer(&self) -> LocalRegisterCopy<u32, GICD_TYPER::Register> {
        LocalRegisterCopy::new(self.gicd.read_u32(gicd::TYPER))
    }

    /// Distributor setup, on the boot CPU before any other core runs: every SPI
    /// disabled and not pending (firmware may have left some on), then forwarding on.
    pub fn init_distributor(&self) {
        let lines = 32 * (self.typer().read(GICD_TYPER::ITLinesNumber) as usize + 1);
        self.gicd.write_u32(gicd::CTLR, 0);
        for i in FIRST_SPI / 32..lines.min(1020).div_ceil(32) {
            self.gicd.write_u32(gicd::ICENABLER + 4 * i, u32::MAX);
            self.gicd.write_u32(gicd::ICPENDR + 4 * i, u32::MAX);
        }
        self.gicd
            .write_u32(gicd::CTLR, GICD_CTLR::Enable::SET.value);
    }

    /// Sets up the calling core's banked state and CPU interface: learns its
    /// interface mask, turns its SGIs and PPIs off at a known priority (`enable` turns
    /// on what is used), then opens the CPU interface.
    pub fn init_this_cpu(&self, cpu: usize) -> Result<(), GicError> {
        let cpus = self.typer().read(GICD_TYPER::CPUNumber) as usize + 1;
        if cpu >= cpus {
            return Err(GicError::TooManyCpus { cpus });
        }
        let mask = self.gicd.read_u8(gicd::ITARGETSR);
        self.cpu_mask[cpu].store(mask, Ordering::Relaxed);
        self.gicd.write_u32(gicd::ICENABLER, u32::MAX);
        for intid in 0..FIRST_SPI {
            self.gicd
                .write_u8(gicd::IPRIORITYR + intid, DEFAULT_PRIORITY);
        }
        self.gicc.write_u32(gicc::PMR, u32::from(PRIORITY_MASK));
        self.gicc.write_u32(gicc::BPR, 0);
        self.gicc
            .write_u32(gicc::CTLR, GICC_CTLR::Enable::SET.value);
        Ok(())
    }

    /// Sends SGI `sgi` to logical CPU `target`. A barrier first: GICD_SGIR is a device
    /// write, which a Release store does not order, so without it the target could
    /// take the SGI, look at memory and miss the very write it was woken for (Linux
    /// does the same).
    pub fn send_sgi(&self, target: usize, sgi: u8) {
        assert!(sgi < 16, "SGI {sgi}");
        self.sys.barrier(Barrier::DsbIshst);
        let mask = self.cpu_mask[target].load(Ordering::Relaxed);
        let sgir = GICD_SGIR::TargetListFilter::TargetList
            + GICD_SGIR::CPUTargetList.val(u32::from(mask))
            + GICD_SGIR::SGIINTID.val(u32::from(sgi));
        self.gicd.write_u32(gicd::SGIR, sgir.value);
    }

    /// Acknowledges the most urgent pending interrupt of this core, if any.
    pub fn ack(&self) -> Option<Acked> {
        let iar = LocalRegisterCopy::<u32, GICC_IAR::Register>::new(self.gicc.read_u32(gicc::IAR));
        // Later loads (of whatever the interrupt announces) come after the GICC_IAR read,
        // as in Linux's GICv2 driver.
        self.sys.barrier(Barrier::DmbIshld);
        let intid = iar.read(GICC_IAR::InterruptID);
        // The whole value goes back to GICC_EOIR: for an SGI it includes CPUID.
        (intid < SPURIOUS).then_some(Acked {
            intid,
            raw: iar.get(),
        })
    }

    /// Ends an interrupt `ack` returned (priority drop and deactivation together).
    pub fn eoi(&self, irq: Acked) {
        self.gicc.write_u32(gicc::EOIR, irq.raw);
    }

    /// Enables `intid`: an SGI or PPI on the calling core (logical CPU `cpu`), an SPI
    /// routed to it.
    pub fn enable(&self, intid: u32, cpu: usize) {
        assert!(intid < SPURIOUS, "INTID {intid}");
        let i = intid as usize;
        self.gicd.write_u8(gicd::IPRIORITYR + i, DEFAULT_PRIORITY);
        if i >= FIRST_SPI {
            let mask = self.cpu_mask[cpu].load(Ordering::Relaxed);
            self.gicd.write_u8(gicd::ITARGETSR + i, mask);
        }
        let (offset, bit) = bit_register(gicd::ISENABLER, i);
        self.gicd.write_u32(offset, bit);
    }

    /// Disables `intid` (an SGI or PPI on the calling core only).
    pub fn disable(&self, intid: u32) {
        assert!(intid < SPURIOUS, "INTID {intid}");
        let (offset, bit) = bit_register(gicd::ICENABLER, intid as usize);
        self.gicd.write_u32(offset, bit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_hw::{Access, Bus};

    type Gic = GicV2<crate::fake_hw::FakeFrame, crate::fake_hw::FakeSys, 8>;

    fn gic(bus: &Bus) -> Gic {
        GicV2::new(bus.frame("GICD"), bus.frame("GICC"), bus.sys())
    }

    /// GICD_TYPER of a GIC-400 with `cpus` CPU interfaces and 32 * `words` INTIDs.
    fn typer(cpus: u32, words: u32) -> u64 {
        u64::from(((cpus - 1) << 5) | (words - 1))
    }

    /// What `init_this_cpu` does once the CPU number is accepted, for interface `mask`.
    fn this_cpu_sequence(cpus: u32, mask: u8) -> Vec<Access> {
        let mut expect = vec![
            Access::r32("GICD", gicd::TYPER, typer(cpus, 3) as u32),
            Access::r8("GICD", gicd::ITARGETSR, mask),
            Access::w32("GICD", gicd::ICENABLER, u32::MAX),
        ];
        expect.extend((0..32).map(|i| Access::w8("GICD", gicd::IPRIORITYR + i, 0xa0)));
        expect.extend([
            Access::w32("GICC", gicc::PMR, 0xf0),
            Access::w32("GICC", gicc::BPR, 0),
            Access::w32("GICC", gicc::CTLR, 1),
        ]);
        expect
    }

    #[test]
    fn init_distributor_disables_and_clears_every_spi_then_enables() {
        let bus = Bus::new();
        // 96 INTIDs: SPI words 1 and 2.
        bus.script("GICD", gicd::TYPER, &[typer(8, 3)]);
        gic(&bus).init_distributor();
        assert_eq!(
            bus.take(),
            [
                Access::r32("GICD", gicd::TYPER, 0xe2),
                Access::w32("GICD", gicd::CTLR, 0),
                Access::w32("GICD", gicd::ICENABLER + 4, u32::MAX),
                Access::w32("GICD", gicd::ICPENDR + 4, u32::MAX),
                Access::w32("GICD", gicd::ICENABLER + 8, u32::MAX),
                Access::w32("GICD", gicd::ICPENDR + 8, u32::MAX),
                Access::w32("GICD", gicd::CTLR, 1),
            ]
        );
    }

    #[test]
    fn init_distributor_stops_at_intid_1019() {
        let bus = Bus::new();
        // ITLinesNumber 31 claims 1024 INTIDs; 1020..1023 are special.
        bus.script("GICD", gicd::TYPER, &[typer(8, 32)]);
        gic(&bus).init_distributor();
        let cleared: Vec<usize> = bus
            .take()
            .into_iter()
            .filter_map(|a| match a {
                Access::Write { offset, .. }
                    if (gicd::ICENABLER..gicd::ICENABLER + 0x80).contains(&offset) =>
                {
                    Some((offset - gicd::ICENABLER) / 4)
                }
                _ => None,
            })
            .collect();
        assert_eq!(cleared, (1..32).collect::<Vec<_>>());
    }

    #[test]
    fn init_this_cpu_learns_the_mask_and_opens_the_cpu_interface() {
        let bus = Bus::new();
        bus.script("GICD", gicd::TYPER, &[typer(4, 3)]);
        bus.script("GICD", gicd::ITARGETSR, &[0b0100]);
        let gic = gic(&bus);
        assert_eq!(gic.init_this_cpu(2), Ok(()));
        assert_eq!(bus.take(), this_cpu_sequence(4, 0b0100));
        assert_eq!(gic.cpu_mask[2].load(Ordering::Relaxed), 0b0100);
    }

    #[test]
    fn init_this_cpu_refuses_a_cpu_beyond_the_interfaces() {
        let bus = Bus::new();
        bus.script("GICD", gicd::TYPER, &[typer(2, 3)]);
        assert_eq!(
            gic(&bus).init_this_cpu(2),
            Err(GicError::TooManyCpus { cpus: 2 })
        );
        assert_eq!(
            bus.take(),
            [Access::r32("GICD", gicd::TYPER, typer(2, 3) as u32)]
        );
    }

    #[test]
    fn send_sgi_targets_the_interface_mask_after_a_barrier() {
        let bus = Bus::new();
        bus.script("GICD", gicd::TYPER, &[typer(8, 3)]);
        bus.script("GICD", gicd::ITARGETSR, &[0b1000_0000]);
        let gic = gic(&bus);
        gic.init_this_cpu(5).expect("cpu 5 of 8");
        bus.take();
        gic.send_sgi(5, 3);
        assert_eq!(
            bus.take(),
            [
                Access::Barrier(Barrier::DsbIshst),
                // TargetListFilter 0, CPUTargetList 0x80, SGIINTID 3.
                Access::w32("GICD", gicd::SGIR, 0x0080_0003),
            ]
        );
    }

    #[test]
    fn enable_and_disable_an_sgi_ppi_and_spi() {
        let bus = Bus::new();
        bus.script("GICD", gicd::TYPER, &[typer(8, 3)]);
        bus.script("GICD", gicd::ITARGETSR, &[0b10]);
        let gic = gic(&bus);
        gic.init_this_cpu(1).expect("cpu 1 of 8");
        bus.take();
        gic.enable(0, 1);
        gic.enable(27, 1);
        gic.enable(77, 1);
        gic.disable(27);
        gic.disable(77);
        assert_eq!(
            bus.take(),
            [
                Access::w8("GICD", gicd::IPRIORITYR, 0xa0),
                Access::w32("GICD", gicd::ISENABLER, 1),
                Access::w8("GICD", gicd::IPRIORITYR + 27, 0xa0),
                Access::w32("GICD", gicd::ISENABLER, 1 << 27),
                // An SPI is also routed to the enabling core's interface.
                Access::w8("GICD", gicd::IPRIORITYR + 77, 0xa0),
                Access::w8("GICD", gicd::ITARGETSR + 77, 0b10),
                Access::w32("GICD", gicd::ISENABLER + 8, 1 << 13),
                Access::w32("GICD", gicd::ICENABLER, 1 << 27),
                Access::w32("GICD", gicd::ICENABLER + 8, 1 << 13),
            ]
        );
    }

    #[test]
    fn ack_then_eoi_hands_back_the_whole_iar() {
        let bus = Bus::new();
        // SGI 0 (InterruptID 0) sent by CPU interface 3.
        bus.script("GICC", gicc::IAR, &[3 << 10]);
        let gic = gic(&bus);
        let irq = gic.ack().expect("SGI 0 pending");
        assert_eq!(irq.intid, 0);
        gic.eoi(irq);
        assert_eq!(
            bus.take(),
            [
                Access::r32("GICC", gicc::IAR, 3 << 10),
                Access::Barrier(Barrier::DmbIshld),
                Access::w32("GICC", gicc::EOIR, 3 << 10),
            ]
        );
    }

    #[test]
    fn ack_of_a_spurious_interrupt_is_none() {
        let bus = Bus::new();
        bus.script("GICC", gicc::IAR, &[1023]);
        assert_eq!(gic(&bus).ack(), None);
        assert_eq!(
            bus.take(),
            [
                Access::r32("GICC", gicc::IAR, 1023),
                Access::Barrier(Barrier::DmbIshld),
            ]
        );
    }

    #[test]
    #[should_panic(expected = "INTID 1020")]
    fn enabling_a_special_intid_panics() {
        let bus = Bus::new();
        gic(&bus).enable(1020, 0);
    }
}
