//! Device drivers the kernel needs before anything else: the console UARTs (the PL011
//! here, the 16550's register sequences in `kernel::ns16550`) and the probe that finds
//! QEMU's PCI serial port. Polled only (no interrupts), so they work from any core and
//! from exception handlers.

pub mod pci_serial;
pub mod pl011;
