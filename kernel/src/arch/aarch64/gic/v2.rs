//! GICv2 (Arm GIC-400 and compatibles): a memory-mapped distributor (GICD) shared by all
//! cores and a memory-mapped CPU interface (GICC) whose registers are banked per core.
//! Register names and offsets: GIC architecture specification v2 (IHI 0048B) chapter 4,
//! and the GIC-400 TRM (DDI 0471B). Owns those two register frames; nothing else.

use core::sync::atomic::{AtomicU8, Ordering};

use aarch64_cpu::asm::barrier;
use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use tock_registers::{register_bitfields, register_structs};

use super::{Acked, DEFAULT_PRIORITY, GicError, Mmio, PRIORITY_MASK, SPURIOUS};
use crate::arch::aarch64::MAX_CPUS;

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

register_structs! {
    /// The distributor: global interrupt configuration, one bit or byte per INTID.
    GicdRegs {
        (0x000 => ctlr: ReadWrite<u32, GICD_CTLR::Register>),
        (0x004 => typer: ReadOnly<u32, GICD_TYPER::Register>),
        (0x008 => _reserved0),
        /// Set-enable: writing 1 to bit n enables INTID 32 * i + n.
        (0x100 => isenabler: [ReadWrite<u32>; 32]),
        /// Clear-enable: writing 1 to bit n disables INTID 32 * i + n.
        (0x180 => icenabler: [ReadWrite<u32>; 32]),
        /// Clear-pending, same layout.
        (0x200 => _reserved1),
        (0x280 => icpendr: [ReadWrite<u32>; 32]),
        (0x300 => _reserved2),
        /// One priority byte per INTID; lower is more urgent.
        (0x400 => ipriorityr: [ReadWrite<u8>; 1020]),
        (0x7fc => _reserved3),
        /// One byte per INTID: the CPU interfaces an SPI goes to. For SGIs and PPIs the
        /// bytes are read-only and banked: they read as the mask of the reading core.
        (0x800 => itargetsr: [ReadWrite<u8>; 1020]),
        (0xbfc => _reserved4),
        (0xf00 => sgir: WriteOnly<u32, GICD_SGIR::Register>),
        (0xf04 => @END),
    }
}

register_structs! {
    /// The CPU interface: banked per core, so each core sees its own.
    GiccRegs {
        (0x00 => ctlr: ReadWrite<u32, GICC_CTLR::Register>),
        /// Priority mask: only interrupts with a priority value below it are signalled.
        (0x04 => pmr: ReadWrite<u32>),
        /// Binary point: how the priority splits into group priority and subpriority.
        (0x08 => bpr: ReadWrite<u32>),
        (0x0c => iar: ReadOnly<u32, GICC_IAR::Register>),
        /// End of interrupt: write back the value GICC_IAR gave.
        (0x10 => eoir: WriteOnly<u32>),
        (0x14 => @END),
    }
}

/// INTIDs 0..31 are banked per core (SGIs, PPIs); 32.. are shared (SPIs).
const FIRST_SPI: usize = 32;

/// The distributor and CPU interface of one GICv2.
pub struct GicV2 {
    gicd: Mmio<GicdRegs>,
    gicc: Mmio<GiccRegs>,
}

/// Each logical CPU's CPU-interface mask, learned on that core (GICD_ITARGETSR0 is
/// banked), since GICD_SGIR addresses cores by interface number, not by MPIDR.
static CPU_MASK: [AtomicU8; MAX_CPUS] = [const { AtomicU8::new(0) }; MAX_CPUS];

impl GicV2 {
    /// # Safety
    /// `gicd` and `gicc` must be the GICD and GICC frames of a GICv2, mapped as device
    /// memory for the kernel's lifetime and accessed through nothing else.
    pub unsafe fn new(gicd: usize, gicc: usize) -> Self {
        // SAFETY: the caller guarantees both frames are mapped device memory that
        // only this driver touches; the structs match the architected layout.
        unsafe {
            Self {
                gicd: Mmio::new(gicd),
                gicc: Mmio::new(gicc),
            }
        }
    }

    /// Distributor setup, on the boot CPU before any other core runs: every SPI
    /// disabled and not pending (firmware may have left some on), then forwarding on.
    pub fn init_distributor(&self) {
        let lines = 32 * (self.gicd.typer.read(GICD_TYPER::ITLinesNumber) as usize + 1);
        self.gicd.ctlr.set(0);
        for i in FIRST_SPI / 32..lines.min(1020).div_ceil(32) {
            self.gicd.icenabler[i].set(u32::MAX);
            self.gicd.icpendr[i].set(u32::MAX);
        }
        self.gicd.ctlr.write(GICD_CTLR::Enable::SET);
    }

    /// Sets up the calling core's banked state and CPU interface (see `gic::init_this_cpu`).
    pub fn init_this_cpu(&self, cpu: usize) -> Result<(), GicError> {
        let cpus = self.gicd.typer.read(GICD_TYPER::CPUNumber) as usize + 1;
        if cpu >= cpus {
            return Err(GicError::TooManyCpus { cpus });
        }
        CPU_MASK[cpu].store(self.gicd.itargetsr[0].get(), Ordering::Relaxed);
        // SGIs and PPIs: all off at a known priority; `enable` turns on what is used.
        self.gicd.icenabler[0].set(u32::MAX);
        for intid in 0..FIRST_SPI {
            self.gicd.ipriorityr[intid].set(DEFAULT_PRIORITY);
        }
        self.gicc.pmr.set(u32::from(PRIORITY_MASK));
        self.gicc.bpr.set(0);
        self.gicc.ctlr.write(GICC_CTLR::Enable::SET);
        Ok(())
    }

    /// Sends SGI `sgi` to logical CPU `target`. The caller has ordered its memory
    /// writes before this (see `gic::send_sgi`).
    pub fn send_sgi(&self, target: usize, sgi: u8) {
        let mask = CPU_MASK[target].load(Ordering::Relaxed);
        self.gicd.sgir.write(
            GICD_SGIR::TargetListFilter::TargetList
                + GICD_SGIR::CPUTargetList.val(u32::from(mask))
                + GICD_SGIR::SGIINTID.val(u32::from(sgi)),
        );
    }

    pub fn ack(&self) -> Option<Acked> {
        let iar = self.gicc.iar.extract();
        // Later loads (of whatever the interrupt announces) come after the GICC_IAR read,
        // as in Linux's GICv2 driver.
        barrier::dmb(barrier::ISHLD);
        let intid = iar.read(GICC_IAR::InterruptID);
        // The whole value goes back to GICC_EOIR: for an SGI it includes CPUID.
        (intid < SPURIOUS).then_some(Acked {
            intid,
            raw: iar.get(),
        })
    }

    pub fn eoi(&self, irq: Acked) {
        self.gicc.eoir.set(irq.raw);
    }

    /// Enables `intid`: an SGI or PPI on the calling core, an SPI routed to it.
    pub fn enable(&self, intid: u32, cpu: usize) {
        let i = intid as usize;
        self.gicd.ipriorityr[i].set(DEFAULT_PRIORITY);
        if i >= FIRST_SPI {
            self.gicd.itargetsr[i].set(CPU_MASK[cpu].load(Ordering::Relaxed));
        }
        self.gicd.isenabler[i / 32].set(1 << (i % 32));
    }

    pub fn disable(&self, intid: u32) {
        let i = intid as usize;
        self.gicd.icenabler[i / 32].set(1 << (i % 32));
    }
}
