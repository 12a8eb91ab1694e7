//! The interrupt controller: GICv2 or GICv3, picked at run time from the DTB, behind one
//! small API (init per core, enable/disable an INTID, acknowledge/end an interrupt, send
//! an SGI to a logical CPU). Owns the GIC; what an interrupt means is `irq`'s business.

mod v2;
mod v3;

use core::fmt;
use core::marker::PhantomData;
use core::ops::Deref;

use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::MPIDR_EL1;
use tock_registers::interfaces::Readable;

use super::{MAX_CPUS, percpu};

/// The SGI that wakes a core from WFI: its mailbox may hold work, or whatever it sleeps
/// on may have changed (see `smp`).
pub const SGI_WAKE: u8 = 0;

/// INTIDs from 1020 up are special; 1023 means "nothing pending".
const SPURIOUS: u32 = 1020;

/// Priority given to every interrupt we enable (Linux's GICD_INT_DEF_PRI); lower values
/// are more urgent.
const DEFAULT_PRIORITY: u8 = 0xa0;

/// Priority mask: interrupts less urgent than this are not signalled (Linux's value).
const PRIORITY_MASK: u8 = 0xf0;

/// An acknowledged interrupt, to be handed back to `eoi`.
#[derive(Clone, Copy, Debug)]
pub struct Acked {
    /// The interrupt ID: 0..15 SGI, 16..31 PPI, 32..1019 SPI.
    pub intid: u32,
    /// What the acknowledge register returned; GICv2 needs it back whole (it names the
    /// sending core of an SGI).
    raw: u32,
}

/// Why the GIC could not be set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GicError {
    /// The DTB names a GIC version we do not drive.
    UnsupportedVersion(u8),
    /// The DTB's GIC node lacks a register frame this version needs.
    MissingRegion(&'static str),
    /// GICv2 reaches at most 8 cores (GICD_TYPER.CPUNumber says how many).
    TooManyCpus { cpus: usize },
    /// No redistributor in the region serves the core with this MPIDR.
    NoRedistributor { mpidr: u64 },
    /// ICC_SRE_EL1.SRE stays 0: boot code entered at EL2 must set ICC_SRE_EL2.Enable/SRE.
    NoSystemRegisters,
    /// A GIC register bit did not clear within 10 ms.
    Timeout(&'static str),
    /// `init_this_cpu` before `init`.
    NotInitialised,
}

impl fmt::Display for GicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GicError::UnsupportedVersion(v) => write!(f, "GIC version {v} is not supported"),
            GicError::MissingRegion(what) => write!(f, "the DTB's GIC node has no {what}"),
            GicError::TooManyCpus { cpus } => {
                write!(f, "this GICv2 serves only {cpus} CPU interfaces")
            }
            GicError::NoRedistributor { mpidr } => {
                write!(f, "no GICv3 redistributor for cpu@{mpidr:#x}")
            }
            GicError::NoSystemRegisters => {
                f.write_str("ICC_SRE_EL1.SRE stays 0: the GICv3 CPU interface is not usable at EL1")
            }
            GicError::Timeout(what) => write!(f, "{what} still set after 10 ms"),
            GicError::NotInitialised => f.write_str("gic::init has not run"),
        }
    }
}

/// A register block at a fixed address, like the MMIO wrappers of the
/// rust-raspberrypi-OS-tutorials: dereferences to the tock-registers struct. Plain
/// address inside, so it can live in a static shared by every core (the GIC registers
/// we write from several cores are per-core banked, write-1-to-set/clear or per-INTID
/// bytes, so no two cores race on one read-modify-write).
struct Mmio<T> {
    base: usize,
    registers: PhantomData<fn() -> T>,
}

impl<T> Mmio<T> {
    /// # Safety
    /// `base` must be the address of a `T` register block, mapped as device memory for
    /// the kernel's lifetime and accessed through nothing else.
    const unsafe fn new(base: usize) -> Self {
        Self {
            base,
            registers: PhantomData,
        }
    }
}

impl<T> Deref for Mmio<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: `new`'s caller vouched that a mapped `T` block lives at `base`.
        unsafe { &*(self.base as *const T) }
    }
}

enum Driver {
    V2(v2::GicV2),
    V3(v3::GicV3),
}

static GIC: spin::Once<Driver> = spin::Once::new();

/// Sets up the distributor and the boot CPU's interface. Call once, on the boot CPU
/// (logical CPU 0), with interrupts masked, after the MMU maps the GIC's frames.
pub fn init(gic: &platform::Gic) -> Result<(), GicError> {
    let driver = match gic.version {
        2 => {
            let gicc = gic
                .cpu_interface
                .ok_or(GicError::MissingRegion("CPU interface (GICC)"))?;
            // SAFETY: the DTB names these frames as this GIC's; the boot code maps device
            // regions from the DTB, and only this module touches them.
            Driver::V2(unsafe { v2::GicV2::new(gic.distributor.base as usize, gicc.base as usize) })
        }
        3 | 4 => {
            let gicr = gic
                .redistributor
                .ok_or(GicError::MissingRegion("redistributor region"))?;
            // SAFETY: as above.
            Driver::V3(unsafe {
                v3::GicV3::new(
                    gic.distributor.base as usize,
                    gicr.base as usize,
                    gicr.size as usize,
                )
            })
        }
        v => return Err(GicError::UnsupportedVersion(v)),
    };
    let driver = GIC.call_once(|| driver);
    match driver {
        Driver::V2(d) => d.init_distributor(),
        Driver::V3(d) => d.init_distributor()?,
    }
    // The GIC's per-core state is indexed by logical CPU, which `this_cpu` reads.
    percpu::set_this_cpu(0);
    init_this_cpu()
}

/// Sets up the calling core's share of the GIC (GICv2: banked distributor registers and
/// CPU interface; GICv3: its redistributor and ICC_* interface). Every core calls it once,
/// after `percpu::set_this_cpu`, with interrupts masked.
pub fn init_this_cpu() -> Result<(), GicError> {
    let cpu = percpu::this_cpu_id();
    match GIC.get().ok_or(GicError::NotInitialised)? {
        Driver::V2(d) => d.init_this_cpu(cpu)?,
        Driver::V3(d) => d.init_this_cpu(cpu, MPIDR_EL1.get())?,
    }
    enable(u32::from(SGI_WAKE));
    Ok(())
}

/// The GIC version in use (2 or 3), or 0 before `init`.
pub fn version() -> u8 {
    match GIC.get() {
        Some(Driver::V2(_)) => 2,
        Some(Driver::V3(_)) => 3,
        None => 0,
    }
}

fn driver() -> &'static Driver {
    GIC.get().expect("GIC used before gic::init")
}

/// Sends SGI `sgi` (0..15) to logical CPU `target_cpu`.
///
/// A barrier first: the SGI is a device write (GICv2) or a system-register write (GICv3),
/// which a Release store does not order, so without it the target could take the SGI,
/// look at memory and miss the very write it was woken for (Linux does the same).
pub fn send_sgi(target_cpu: usize, sgi: u8) {
    assert!(
        target_cpu < MAX_CPUS && sgi < 16,
        "SGI {sgi} to cpu {target_cpu}"
    );
    barrier::dsb(barrier::ISHST);
    match driver() {
        Driver::V2(d) => d.send_sgi(target_cpu, sgi),
        Driver::V3(d) => d.send_sgi(percpu::cpu(target_cpu).mpidr(), sgi),
    }
}

/// Acknowledges the most urgent pending interrupt of this core, if any.
pub fn ack() -> Option<Acked> {
    match driver() {
        Driver::V2(d) => d.ack(),
        Driver::V3(d) => d.ack(),
    }
}

/// Ends an interrupt `ack` returned (priority drop and deactivation together).
pub fn eoi(irq: Acked) {
    match driver() {
        Driver::V2(d) => d.eoi(irq),
        Driver::V3(d) => d.eoi(irq),
    }
}

/// Enables `intid`: an SGI or PPI for the calling core only, an SPI routed to it.
pub fn enable(intid: u32) {
    assert!(intid < SPURIOUS, "INTID {intid}");
    let cpu = percpu::this_cpu_id();
    match driver() {
        Driver::V2(d) => d.enable(intid, cpu),
        Driver::V3(d) => d.enable(intid, cpu, MPIDR_EL1.get()),
    }
}

/// Disables `intid` (an SGI or PPI on the calling core only).
pub fn disable(intid: u32) {
    assert!(intid < SPURIOUS, "INTID {intid}");
    match driver() {
        Driver::V2(d) => d.disable(intid),
        Driver::V3(d) => d.disable(intid, percpu::this_cpu_id()),
    }
}
