//! QEMU's PCI serial port (`-device pci-serial`: vendor 0x1b36, device 0x0002, class
//! 0x0700, a 16550 behind I/O BAR0), found on the first bus of the DTB's generic ECAM
//! host bridge, its BAR placed in the bridge's I/O window and I/O decoding turned on.
//! Owns only this probe: the config-space logic is `platform::pci`'s, the UART's
//! registers `kernel::ns16550`'s.

use core::fmt;

use kernel::gic::Mmio;
use platform::pci::{Bdf, ConfigSpace, IoBar, PciError, PciHost};

use crate::arch::aarch64::mmio::MmioFrame;

/// Red Hat, Inc. (QEMU's devices).
pub const VENDOR_ID: u16 = 0x1b36;
/// QEMU's PCI 16550A.
pub const DEVICE_ID: u16 = 0x0002;

/// The ECAM window of the host bridge's first bus.
struct Ecam(MmioFrame);

impl ConfigSpace for Ecam {
    fn read32(&mut self, offset: u64) -> u32 {
        self.0.read_u32(offset as usize)
    }

    fn write32(&mut self, offset: u64, value: u32) {
        self.0.write_u32(offset as usize, value);
    }
}

/// Why no PCI serial port could be set up.
#[derive(Clone, Copy, Debug)]
pub enum ProbeError {
    /// No function 1b36:0002 on the bridge's first bus.
    NotFound,
    /// Found at `bdf`, but its BAR0 could not be placed.
    Bar(Bdf, PciError),
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::NotFound => write!(
                f,
                "no PCI serial port ({VENDOR_ID:04x}:{DEVICE_ID:04x}) on the host bridge's first bus"
            ),
            ProbeError::Bar(bdf, e) => write!(f, "PCI serial port at {bdf}: {e}"),
        }
    }
}

/// Finds the PCI serial port behind `host` and places its BAR0 at `port` (or where
/// the I/O window has room): where its registers are, and where it sits.
///
/// # Safety
/// `host.first_bus()` and `host.io` are mapped as Device memory, and nothing else
/// touches that config space or the ports placed.
pub unsafe fn probe(host: &PciHost, port: Option<u64>) -> Result<(Bdf, IoBar), ProbeError> {
    let bus = host.first_bus();
    // SAFETY: the caller mapped the first bus's config space as Device memory.
    let mut ecam = Ecam(unsafe { MmioFrame::new(bus.base, bus.size) });
    let bdf = host
        .find_function(&mut ecam, VENDOR_ID, DEVICE_ID)
        .ok_or(ProbeError::NotFound)?;
    let bar = host
        .assign_io_bar(&mut ecam, bdf, 0, port)
        .map_err(|e| ProbeError::Bar(bdf, e))?;
    Ok((bdf, bar))
}
