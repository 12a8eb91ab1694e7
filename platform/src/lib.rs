//! Board description from a flattened devicetree: memory, reserved regions, console,
//! GIC, PSCI, CPUs, PCI host bridge, bootargs; PCI config-space logic over an accessor
//! (`pci`); and the kernel command-line parser. Pure parsing: no
//! hardware access, no allocation, never a panic on a damaged DTB. Always `no_std`
//! (the `std` feature only builds the host tool `dtb-info`).
#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod board;
pub mod cmdline;
mod fdt;
pub mod pci;
pub mod placement;
mod regions;
mod tree;

pub use arrayvec::ArrayVec;
pub use board::{
    Board, Console, ConsoleKind, Cpu, DTB_HEADER_SIZE, DtbError, Gic, MAX_CPUS, MAX_DTB_SIZE,
    MAX_MEMORY_BANKS, MAX_RESERVED, MAX_USABLE, PsciMethod, dtb_total_size,
};
pub use regions::{Region, TooManyRegions, normalize, subtract, total_size};
