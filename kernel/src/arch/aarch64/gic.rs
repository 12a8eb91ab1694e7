//! The interrupt controller on this machine: GICv2 or GICv3, picked at run time from the
//! DTB, behind one small API (init per core, enable/disable an INTID, acknowledge/end an
//! interrupt, send an SGI to a logical CPU). Owns the one driver instance and its real
//! accessors (volatile MMIO on the DTB's frames, `sysreg::ThisCpu`); the register
//! sequences are `kernel::gic`'s, what an interrupt means is `irq`'s business.

use aarch64_cpu::registers::MPIDR_EL1;
use kernel::gic::v2::GicV2;
use kernel::gic::v3::GicV3;
use kernel::gic::{Acked, GicError};
use tock_registers::interfaces::Readable;

use super::mmio::MmioFrame;
use super::sysreg::ThisCpu;
use super::{MAX_CPUS, percpu};

/// The SGI that wakes a core from WFI: its mailbox may hold work, or whatever it sleeps
/// on may have changed (see `smp`).
pub const SGI_WAKE: u8 = 0;

// Shared by every core: the GIC registers written from several cores are per-core
// banked, write-1-to-set/clear or per-INTID bytes, so no two cores race on one
// read-modify-write of a frame.
enum Driver {
    V2(GicV2<MmioFrame, ThisCpu, MAX_CPUS>),
    V3(GicV3<MmioFrame, ThisCpu, MAX_CPUS>),
}

static GIC: spin::Once<Driver> = spin::Once::new();

/// Sets up the distributor and the boot CPU's interface. Call once, on the boot CPU
/// (logical CPU 0), with interrupts masked, after the MMU maps the GIC's frames.
pub fn init(gic: &platform::Gic) -> Result<(), GicError> {
    let gicd = gic.distributor;
    let driver = match gic.version {
        2 => {
            let gicc = gic
                .cpu_interface
                .ok_or(GicError::MissingRegion("CPU interface (GICC)"))?;
            // SAFETY: the DTB names these frames as this GIC's; the boot code maps device
            // regions from the DTB, and only this module touches them.
            let (gicd, gicc) = unsafe {
                (
                    MmioFrame::new(gicd.base, gicd.size),
                    MmioFrame::new(gicc.base, gicc.size),
                )
            };
            Driver::V2(GicV2::new(gicd, gicc, ThisCpu))
        }
        3 | 4 => {
            let gicr = gic
                .redistributor
                .ok_or(GicError::MissingRegion("redistributor region"))?;
            // SAFETY: as above.
            let (gicd, region) = unsafe {
                (
                    MmioFrame::new(gicd.base, gicd.size),
                    MmioFrame::new(gicr.base, gicr.size),
                )
            };
            Driver::V3(GicV3::new(gicd, region, gicr.size as usize, ThisCpu))
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

/// Sends SGI `sgi` (0..15) to logical CPU `target_cpu`, after a barrier that makes the
/// caller's memory writes visible to the woken core first (see the drivers' `send_sgi`).
pub fn send_sgi(target_cpu: usize, sgi: u8) {
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
    let cpu = percpu::this_cpu_id();
    match driver() {
        Driver::V2(d) => d.enable(intid, cpu),
        Driver::V3(d) => d.enable(intid, cpu, MPIDR_EL1.get()),
    }
}

/// Disables `intid` (an SGI or PPI on the calling core only).
pub fn disable(intid: u32) {
    match driver() {
        Driver::V2(d) => d.disable(intid),
        Driver::V3(d) => d.disable(intid, percpu::this_cpu_id()),
    }
}
