//! GICv3 (and GICv4, used the same way): a memory-mapped distributor (GICD), one
//! memory-mapped redistributor (GICR) per core for that core's SGIs and PPIs, and a CPU
//! interface reached through ICC_* system registers. Register names and offsets: GIC
//! architecture specification v3/v4 (IHI 0069H) chapters 12.8 (GICD), 12.10-12.11
//! (GICR) and 12.2 (ICC). Owns those registers; nothing else.
//!
//! Interrupts are all put in non-secure group 1, the group a non-secure EL1 handles
//! through ICC_IAR1_EL1, as Linux does.

use core::arch::asm;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::time::Duration;

use aarch64_cpu::asm::barrier;
use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite};
use tock_registers::{register_bitfields, register_structs};

use super::{Acked, DEFAULT_PRIORITY, GicError, Mmio, PRIORITY_MASK, SPURIOUS};
use crate::arch::aarch64::{MAX_CPUS, timer};

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

register_structs! {
    /// The distributor: SPI configuration (SGIs and PPIs live in the redistributors).
    GicdRegs {
        (0x0000 => ctlr: ReadWrite<u32, GICD_CTLR::Register>),
        (0x0004 => typer: ReadOnly<u32, GICD_TYPER::Register>),
        (0x0008 => _reserved0),
        /// Group: bit n set puts INTID 32 * i + n in group 1.
        (0x0080 => igroupr: [ReadWrite<u32>; 32]),
        (0x0100 => isenabler: [ReadWrite<u32>; 32]),
        (0x0180 => icenabler: [ReadWrite<u32>; 32]),
        (0x0200 => _reserved1),
        (0x0280 => icpendr: [ReadWrite<u32>; 32]),
        (0x0300 => _reserved2),
        /// One priority byte per INTID; lower is more urgent.
        (0x0400 => ipriorityr: [ReadWrite<u8>; 1020]),
        (0x07fc => _reserved3),
        /// One 64-bit route per INTID; entries 0..31 are reserved (SGIs and PPIs).
        (0x6000 => irouter: [ReadWrite<u64, GICD_IROUTER::Register>; 1020]),
        (0x7fe0 => @END),
    }
}

register_structs! {
    /// A redistributor's first 64 KiB frame (RD_base): control and identification.
    GicrRdRegs {
        (0x0000 => ctlr: ReadWrite<u32, GICR_CTLR::Register>),
        (0x0004 => _reserved0),
        (0x0008 => typer: ReadOnly<u64, GICR_TYPER::Register>),
        (0x0010 => _reserved1),
        (0x0014 => waker: ReadWrite<u32, GICR_WAKER::Register>),
        (0x0018 => @END),
    }
}

register_structs! {
    /// A redistributor's second 64 KiB frame (SGI_base): its core's SGIs (INTID 0..15)
    /// and PPIs (16..31), laid out like the distributor's first word/bytes of each array.
    GicrSgiRegs {
        (0x0000 => _reserved0),
        (0x0080 => igroupr0: ReadWrite<u32>),
        (0x0084 => _reserved1),
        (0x0100 => isenabler0: ReadWrite<u32>),
        (0x0104 => _reserved2),
        (0x0180 => icenabler0: ReadWrite<u32>),
        (0x0184 => _reserved3),
        (0x0400 => ipriorityr: [ReadWrite<u8>; 32]),
        (0x0420 => @END),
    }
}

const FRAME_SIZE: usize = 0x1_0000;
const FIRST_SPI: usize = 32;

/// Each logical CPU's redistributor (RD_base address), found on that core at init.
static REDISTRIBUTOR: [AtomicUsize; MAX_CPUS] = [const { AtomicUsize::new(0) }; MAX_CPUS];

/// The distributor and redistributor region of one GICv3.
pub struct GicV3 {
    gicd: Mmio<GicdRegs>,
    gicr_base: usize,
    gicr_size: usize,
}

/// Writes a GIC CPU-interface system register.
macro_rules! write_icc {
    ($name:literal, $value:expr) => {{
        let value: u64 = $value;
        // SAFETY: writing an ICC_* register changes only the GIC CPU interface state of
        // this core, which this driver owns; it does not touch memory.
        unsafe { asm!(concat!("msr ", $name, ", {}"), in(reg) value, options(nostack)) }
    }};
}

/// Reads a GIC CPU-interface system register.
macro_rules! read_icc {
    ($name:literal) => {{
        let value: u64;
        // SAFETY: reading an ICC_* register has no effect on memory; for ICC_IAR1_EL1 it
        // acknowledges an interrupt, which is what the caller asked for.
        unsafe { asm!(concat!("mrs {}, ", $name), out(reg) value, options(nostack)) };
        value
    }};
}

/// Mask of the affinity fields of MPIDR_EL1 (Aff3, Aff2, Aff1, Aff0).
const MPIDR_AFFINITY: u64 = 0xff_00ff_ffff;

/// Packs MPIDR affinity the way GICR_TYPER reports it: Aff3.Aff2.Aff1.Aff0, 8 bits each.
fn packed_affinity(mpidr: u64) -> u64 {
    ((mpidr >> 8) & 0xff00_0000) | (mpidr & 0x00ff_ffff)
}

/// Waits for a GIC register bit to clear (it takes a few cycles); one still set after
/// 10 ms means a broken GIC or a wrong address.
fn wait_clear(what: &'static str, mut busy: impl FnMut() -> bool) -> Result<(), GicError> {
    let deadline = timer::deadline_after(Duration::from_millis(10));
    while busy() {
        if timer::now_ticks() > deadline {
            return Err(GicError::Timeout(what));
        }
        core::hint::spin_loop();
    }
    Ok(())
}

impl GicV3 {
    /// # Safety
    /// `gicd` must be the distributor frame and `gicr_base..gicr_base + gicr_size` the
    /// redistributor region of a GICv3, mapped as device memory for the kernel's
    /// lifetime and accessed through nothing else.
    pub unsafe fn new(gicd: usize, gicr_base: usize, gicr_size: usize) -> Self {
        Self {
            // SAFETY: the caller guarantees the frame is mapped device memory that only
            // this driver touches; the struct matches the architected layout.
            gicd: unsafe { Mmio::new(gicd) },
            gicr_base,
            gicr_size,
        }
    }

    /// Distributor setup, on the boot CPU before any other core runs: affinity routing,
    /// every SPI in group 1, disabled and not pending, then group 1 forwarding on.
    pub fn init_distributor(&self) -> Result<(), GicError> {
        let gicd = &self.gicd;
        gicd.ctlr.set(0);
        wait_clear("GICD_CTLR.RWP", || gicd.ctlr.is_set(GICD_CTLR::RWP))?;
        let lines = 32 * (gicd.typer.read(GICD_TYPER::ITLinesNumber) as usize + 1);
        for i in FIRST_SPI / 32..lines.min(1020).div_ceil(32) {
            gicd.igroupr[i].set(u32::MAX);
            gicd.icenabler[i].set(u32::MAX);
            gicd.icpendr[i].set(u32::MAX);
        }
        wait_clear("GICD_CTLR.RWP", || gicd.ctlr.is_set(GICD_CTLR::RWP))?;
        gicd.ctlr.write(
            GICD_CTLR::ARE_NS::SET + GICD_CTLR::EnableGrp1A::SET + GICD_CTLR::EnableGrp1::SET,
        );
        wait_clear("GICD_CTLR.RWP", || gicd.ctlr.is_set(GICD_CTLR::RWP))
    }

    /// Finds the calling core's redistributor: the frame in the region whose GICR_TYPER
    /// affinity equals this core's MPIDR affinity.
    fn find_redistributor(&self, mpidr: u64) -> Result<&'static GicrRdRegs, GicError> {
        let want = packed_affinity(mpidr & MPIDR_AFFINITY);
        let mut offset = 0;
        while offset + 2 * FRAME_SIZE <= self.gicr_size {
            // SAFETY: `offset` stays inside the redistributor region the caller of `new`
            // vouched for, and each redistributor starts with an RD_base frame.
            let rd = unsafe { &*((self.gicr_base + offset) as *const GicrRdRegs) };
            let typer = rd.typer.extract();
            if typer.read(GICR_TYPER::Affinity) == want {
                return Ok(rd);
            }
            if typer.is_set(GICR_TYPER::Last) {
                break;
            }
            let frames = if typer.is_set(GICR_TYPER::VLPIS) {
                4
            } else {
                2
            };
            offset += frames * FRAME_SIZE;
        }
        Err(GicError::NoRedistributor { mpidr })
    }

    /// The SGI_base frame that follows an RD_base frame.
    fn sgi_frame(rd: &'static GicrRdRegs) -> &'static GicrSgiRegs {
        let base = core::ptr::from_ref(rd) as usize + FRAME_SIZE;
        // SAFETY: every redistributor has its SGI_base frame right after RD_base, in the
        // same region (IHI 0069H 12.10), so it is mapped as device memory too.
        unsafe { &*(base as *const GicrSgiRegs) }
    }

    /// Sets up the calling core's redistributor and CPU interface (see
    /// `gic::init_this_cpu`). Needs ICC_SRE_EL2.Enable set by boot code entered at EL2.
    pub fn init_this_cpu(&self, cpu: usize, mpidr: u64) -> Result<(), GicError> {
        let rd = self.find_redistributor(mpidr)?;
        REDISTRIBUTOR[cpu].store(core::ptr::from_ref(rd) as usize, Ordering::Relaxed);

        // Wake the redistributor: until then it does not forward interrupts to this core.
        rd.waker.modify(GICR_WAKER::ProcessorSleep::CLEAR);
        wait_clear("GICR_WAKER.ChildrenAsleep", || {
            rd.waker.is_set(GICR_WAKER::ChildrenAsleep)
        })?;

        // SGIs and PPIs: group 1, all off at a known priority; `enable` turns on what is used.
        let sgi = Self::sgi_frame(rd);
        sgi.igroupr0.set(u32::MAX);
        sgi.icenabler0.set(u32::MAX);
        wait_clear("GICR_CTLR.RWP", || rd.ctlr.is_set(GICR_CTLR::RWP))?;
        for priority in &sgi.ipriorityr {
            priority.set(DEFAULT_PRIORITY);
        }

        // CPU interface through system registers. ICC_SRE_EL1.SRE reads back 0 when the
        // system-register interface is not available at EL1 (EL2 did not allow it).
        write_icc!("icc_sre_el1", read_icc!("icc_sre_el1") | 1);
        // SAFETY: an ISB only synchronises context; it makes the SRE write take effect.
        unsafe { asm!("isb", options(nostack)) };
        if read_icc!("icc_sre_el1") & 1 == 0 {
            return Err(GicError::NoSystemRegisters);
        }
        write_icc!("icc_pmr_el1", u64::from(PRIORITY_MASK));
        write_icc!("icc_bpr1_el1", 0);
        // EOImode 0: writing ICC_EOIR1_EL1 both drops priority and deactivates.
        write_icc!("icc_ctlr_el1", 0);
        write_icc!("icc_igrpen1_el1", 1);
        // SAFETY: as above; makes the enables take effect before we return.
        unsafe { asm!("isb", options(nostack)) };
        Ok(())
    }

    /// Sends SGI `sgi` to the core with affinity `mpidr` through ICC_SGI1R_EL1, whose
    /// target list holds 16 Aff0 values per range selector (RS).
    pub fn send_sgi(&self, mpidr: u64, sgi: u8) {
        let aff0 = mpidr & 0xff;
        let value = (((mpidr >> 32) & 0xff) << 48) // Aff3
            | ((aff0 / 16) << 44) // RS
            | (((mpidr >> 16) & 0xff) << 32) // Aff2
            | ((u64::from(sgi) & 0xf) << 24) // INTID
            | (((mpidr >> 8) & 0xff) << 16) // Aff1
            | (1 << (aff0 % 16)); // target list
        write_icc!("icc_sgi1r_el1", value);
        // SAFETY: an ISB only synchronises context; it issues the SGI before we go on.
        unsafe { asm!("isb", options(nostack)) };
    }

    pub fn ack(&self) -> Option<Acked> {
        let intid = (read_icc!("icc_iar1_el1") & 0xff_ffff) as u32;
        // A system-register read is no memory access, so only a DSB keeps later loads
        // (of whatever the interrupt announces) from being performed before it (Linux's
        // gic_read_iar does the same).
        barrier::dsb(barrier::SY);
        (intid < SPURIOUS).then_some(Acked { intid, raw: intid })
    }

    pub fn eoi(&self, irq: Acked) {
        write_icc!("icc_eoir1_el1", u64::from(irq.raw));
    }

    /// Enables `intid`: an SGI or PPI in the calling core's redistributor, an SPI in the
    /// distributor, routed to the calling core (`mpidr`).
    pub fn enable(&self, intid: u32, cpu: usize, mpidr: u64) {
        let i = intid as usize;
        if i < FIRST_SPI {
            let sgi = Self::sgi_frame(self.redistributor(cpu));
            sgi.ipriorityr[i].set(DEFAULT_PRIORITY);
            sgi.isenabler0.set(1 << i);
        } else {
            self.gicd.ipriorityr[i].set(DEFAULT_PRIORITY);
            self.gicd.irouter[i].write(
                GICD_IROUTER::InterruptRoutingMode::CLEAR
                    + GICD_IROUTER::Aff3.val((mpidr >> 32) & 0xff)
                    + GICD_IROUTER::Aff2.val((mpidr >> 16) & 0xff)
                    + GICD_IROUTER::Aff1.val((mpidr >> 8) & 0xff)
                    + GICD_IROUTER::Aff0.val(mpidr & 0xff),
            );
            self.gicd.isenabler[i / 32].set(1 << (i % 32));
        }
    }

    pub fn disable(&self, intid: u32, cpu: usize) {
        let i = intid as usize;
        if i < FIRST_SPI {
            Self::sgi_frame(self.redistributor(cpu))
                .icenabler0
                .set(1 << i);
        } else {
            self.gicd.icenabler[i / 32].set(1 << (i % 32));
        }
    }

    fn redistributor(&self, cpu: usize) -> &'static GicrRdRegs {
        let base = REDISTRIBUTOR[cpu].load(Ordering::Relaxed);
        assert!(
            base != 0,
            "GIC: cpu {cpu} used before gic::init_this_cpu on it"
        );
        // SAFETY: `init_this_cpu` stored the RD_base of this core's redistributor, found
        // inside the region the caller of `new` vouched for.
        unsafe { &*(base as *const GicrRdRegs) }
    }
}
