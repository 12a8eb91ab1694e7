//! PCI behind a generic ECAM host bridge (`pci-host-ecam-generic`, QEMU virt's): the
//! bridge's config window, bus range and I/O and memory windows from the DTB
//! (`PciHost`), config-space offsets, finding a function by vendor and device ID on
//! the bridge's first bus, and placing an I/O BAR in the I/O window. Portable: config
//! space is reached through `ConfigSpace`, which the kernel implements over the mapped
//! ECAM window (the tests over a model). Touches no hardware and enumerates nothing
//! beyond the first bus (no bridges are followed).

use core::fmt;
use serde::Serialize;

use crate::board::DtbError;
use crate::fdt::Node;
use crate::regions::Region;
use crate::tree::{self, NodePath};

/// Config space one bus takes in an ECAM window: 32 devices x 8 functions x 4 KiB.
pub const ECAM_BUS_SIZE: u64 = 1 << 20;
/// The `compatible` of a generic ECAM host bridge.
pub const ECAM_COMPATIBLE: &str = "pci-host-ecam-generic";
/// Lowest I/O port given out when the caller names none: Linux's `PCIBIOS_MIN_IO`
/// (ports below are legacy ISA's).
pub const MIN_IO_PORT: u64 = 0x1000;

/// Config-space registers (PCI Local Bus spec, type 0 header).
const VENDOR_ID: u16 = 0x00;
const COMMAND: u16 = 0x04;
const HEADER_TYPE: u16 = 0x0c;
const BAR0: u16 = 0x10;
/// Command register: I/O space decoding on.
const COMMAND_IO: u32 = 1 << 0;
/// A BAR's bit 0: 1 = I/O space.
const BAR_IO: u32 = 1;
/// Header type bit 7: the device has functions other than 0.
const MULTI_FUNCTION: u32 = 1 << 23;
const NO_DEVICE: u16 = 0xffff;

/// A window of PCI space the bridge forwards: PCI (bus) address `pci` is CPU physical
/// address `cpu`, for `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    /// First PCI address.
    pub pci: u64,
    /// The CPU physical address it appears at.
    pub cpu: u64,
    /// Bytes.
    pub size: u64,
}

impl Window {
    /// The CPU address of PCI address `pci`, if the window holds `size` bytes there.
    pub fn cpu_address(&self, pci: u64, size: u64) -> Option<u64> {
        let offset = pci.checked_sub(self.pci)?;
        (offset.checked_add(size)? <= self.size).then(|| self.cpu + offset)
    }
}

/// A generic ECAM host bridge, from its DTB node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PciHost {
    /// The ECAM window (`reg`), CPU physical.
    pub ecam: Region,
    /// `bus-range`: the first and last bus the window covers (default 0..=255, cut to
    /// what `reg` holds, as Linux does).
    pub bus_start: u8,
    /// Last bus.
    pub bus_end: u8,
    /// The I/O window (`ranges` space code 01), if any.
    pub io: Option<Window>,
    /// The 32-bit memory window (`ranges` space code 10), if any.
    pub mem32: Option<Window>,
}

/// Bus, device, function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bdf {
    /// Bus number.
    pub bus: u8,
    /// Device, 0..32.
    pub device: u8,
    /// Function, 0..8.
    pub function: u8,
}

impl fmt::Display for Bdf {
    /// Linux's spelling: `00:01.0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.bus, self.device, self.function)
    }
}

/// 32-bit accesses to an ECAM window, by byte offset into it (4-byte aligned).
pub trait ConfigSpace {
    /// Reads the config dword at `offset`.
    fn read32(&mut self, offset: u64) -> u32;
    /// Writes the config dword at `offset`.
    fn write32(&mut self, offset: u64, value: u32);
}

/// Why a PCI function could not be set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PciError {
    /// The bridge forwards no I/O space.
    NoIoWindow,
    /// The BAR decodes memory, not I/O.
    NotIoBar {
        /// BAR index.
        bar: u8,
    },
    /// The BAR is not implemented (reads 0 after sizing).
    NoBar {
        /// BAR index.
        bar: u8,
    },
    /// The port asked for is not a multiple of the BAR's size.
    Misaligned {
        /// The port.
        port: u64,
        /// The BAR's size.
        size: u64,
    },
    /// The ports asked for (or any aligned ones) do not fit the I/O window.
    NotInWindow {
        /// The first port.
        port: u64,
        /// The BAR's size.
        size: u64,
    },
}

impl fmt::Display for PciError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PciError::NoIoWindow => f.write_str("the PCI host bridge has no I/O window"),
            PciError::NotIoBar { bar } => write!(f, "BAR{bar} is a memory BAR, not I/O"),
            PciError::NoBar { bar } => write!(f, "BAR{bar} is not implemented"),
            PciError::Misaligned { port, size } => {
                write!(
                    f,
                    "I/O port {port:#x} is not aligned to the BAR's {size:#x} bytes"
                )
            }
            PciError::NotInWindow { port, size } => write!(
                f,
                "I/O ports {port:#x}..{:#x} are outside the host bridge's I/O window",
                port.saturating_add(*size)
            ),
        }
    }
}

impl core::error::Error for PciError {}

/// An I/O BAR as placed: PCI port and CPU physical address of its registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoBar {
    /// The first port (what the BAR holds).
    pub port: u64,
    /// Where the CPU reaches it (through the bridge's I/O window).
    pub cpu: u64,
    /// Bytes (ports) it decodes.
    pub size: u64,
}

impl PciHost {
    /// Byte offset into the ECAM window of `bdf`'s config register `reg`; `None` for a
    /// bus outside the bridge's range or a device or function out of range.
    pub fn config_offset(&self, bdf: Bdf, reg: u16) -> Option<u64> {
        if !(self.bus_start..=self.bus_end).contains(&bdf.bus)
            || bdf.device >= 32
            || bdf.function >= 8
            || reg >= 4096
        {
            return None;
        }
        let bus = u64::from(bdf.bus - self.bus_start);
        Some(
            (bus * ECAM_BUS_SIZE)
                | (u64::from(bdf.device) << 15)
                | (u64::from(bdf.function) << 12)
                | u64::from(reg),
        )
    }

    /// The ECAM bytes of the bridge's first bus, CPU physical: all that `find_function`
    /// reads, so all a caller must map.
    pub fn first_bus(&self) -> Region {
        Region::new(self.ecam.base, ECAM_BUS_SIZE.min(self.ecam.size))
    }

    fn read(&self, cfg: &mut impl ConfigSpace, bdf: Bdf, reg: u16) -> u32 {
        self.config_offset(bdf, reg)
            .map_or(u32::MAX, |offset| cfg.read32(offset))
    }

    fn write(&self, cfg: &mut impl ConfigSpace, bdf: Bdf, reg: u16, value: u32) {
        if let Some(offset) = self.config_offset(bdf, reg) {
            cfg.write32(offset, value);
        }
    }

    /// The first function on the bridge's first bus with this vendor and device ID.
    pub fn find_function(
        &self,
        cfg: &mut impl ConfigSpace,
        vendor: u16,
        device: u16,
    ) -> Option<Bdf> {
        let bus = self.bus_start;
        for dev in 0..32 {
            for function in 0..8 {
                let bdf = Bdf {
                    bus,
                    device: dev,
                    function,
                };
                let id = self.read(cfg, bdf, VENDOR_ID);
                if id as u16 == NO_DEVICE {
                    if function == 0 {
                        break;
                    }
                    continue;
                }
                if id == (u32::from(device) << 16) | u32::from(vendor) {
                    return Some(bdf);
                }
                if function == 0 && self.read(cfg, bdf, HEADER_TYPE) & MULTI_FUNCTION == 0 {
                    break;
                }
            }
        }
        None
    }

    /// Sizes I/O BAR `bar` of `bdf`, places it at `port` (or, if `None`, at the first
    /// suitably aligned port of the I/O window at or above `MIN_IO_PORT`) and turns I/O
    /// decoding on. Decoding is off while the BAR is sized, as the spec asks.
    pub fn assign_io_bar(
        &self,
        cfg: &mut impl ConfigSpace,
        bdf: Bdf,
        bar: u8,
        port: Option<u64>,
    ) -> Result<IoBar, PciError> {
        let io = self.io.ok_or(PciError::NoIoWindow)?;
        let reg = BAR0 + 4 * u16::from(bar);
        // The command register's upper half is the status register (write 1 to clear):
        // writing it back as 0 changes nothing.
        let command = self.read(cfg, bdf, COMMAND) & 0xffff;
        self.write(cfg, bdf, COMMAND, command & !COMMAND_IO);
        let original = self.read(cfg, bdf, reg);
        if original & BAR_IO == 0 {
            return Err(PciError::NotIoBar { bar });
        }
        self.write(cfg, bdf, reg, u32::MAX);
        let probe = self.read(cfg, bdf, reg) & !0x3;
        if probe == 0 {
            self.write(cfg, bdf, reg, original);
            return Err(PciError::NoBar { bar });
        }
        // A 16-bit I/O decoder leaves the upper half 0: it decodes only 64 Ki ports.
        let (mask, ports) = if probe >> 16 == 0 {
            (probe | 0xffff_0000, 1u64 << 16)
        } else {
            (probe, 1u64 << 32)
        };
        let size = u64::from((!mask).wrapping_add(1));
        let port = match port {
            Some(p) if !p.is_multiple_of(size) => {
                self.write(cfg, bdf, reg, original);
                return Err(PciError::Misaligned { port: p, size });
            }
            Some(p) => p,
            None => io.pci.max(MIN_IO_PORT).next_multiple_of(size),
        };
        let place = u32::try_from(port)
            .ok()
            .filter(|_| port + size <= ports)
            .zip(io.cpu_address(port, size));
        let Some((value, cpu)) = place else {
            self.write(cfg, bdf, reg, original);
            return Err(PciError::NotInWindow { port, size });
        };
        self.write(cfg, bdf, reg, value);
        self.write(cfg, bdf, COMMAND, command | COMMAND_IO);
        Ok(IoBar { port, cpu, size })
    }
}

fn bad(property: &'static str, reason: &'static str) -> DtbError {
    DtbError::BadProperty { property, reason }
}

/// The host bridge `path` ends at (a node compatible with `pci-host-ecam-generic`).
pub(crate) fn host_from_node(path: &NodePath<'_>) -> Result<PciHost, DtbError> {
    let ecam = tree::translated_reg(path)?
        .next()
        .ok_or(bad("reg", "PCI host bridge has no ECAM window"))??;
    let Some((node, ancestors)) = path.split_last() else {
        return Err(bad("reg", "node has no parent"));
    };
    let (bus_start, mut bus_end) = match tree::raw(node, "bus-range") {
        None => (0, 255),
        Some(&[a, b, c, d, e, f, g, h]) => (
            u32::from_be_bytes([a, b, c, d]),
            u32::from_be_bytes([e, f, g, h]),
        ),
        Some(_) => return Err(bad("bus-range", "expected two 32-bit cells")),
    };
    if bus_start > bus_end || bus_end > 255 {
        return Err(bad("bus-range", "not a range of buses 0..=255"));
    }
    let buses = ecam.size / ECAM_BUS_SIZE;
    if buses == 0 {
        return Err(bad("reg", "ECAM window smaller than one bus (1 MiB)"));
    }
    // At most 256 buses fit a bus number: larger windows are cut there too.
    bus_end = bus_end.min(bus_start.saturating_add(buses.min(256) as u32 - 1));
    let (io, mem32) = windows(node, ancestors)?;
    Ok(PciHost {
        ecam,
        bus_start: bus_start as u8,
        bus_end: bus_end as u8,
        io,
        mem32,
    })
}

/// The I/O and 32-bit memory windows of a PCI bridge's `ranges`: (phys.hi phys.mid
/// phys.lo, parent address, size) entries; phys.hi bits 24-25 are the space code. The
/// parent address is translated to a CPU address through the buses above.
fn windows(
    node: &Node<'_>,
    ancestors: &[Node<'_>],
) -> Result<(Option<Window>, Option<Window>), DtbError> {
    let parent = ancestors
        .last()
        .ok_or(bad("ranges", "node has no parent"))?;
    let parent_cells = tree::child_cells(parent)?.address;
    let own = tree::child_cells(node)?;
    if own.address != 3 || own.size == 0 || own.size > 2 || parent_cells == 0 || parent_cells > 2 {
        return Err(bad(
            "ranges",
            "a PCI bridge wants #address-cells 3, #size-cells 1-2, parent address 1-2 cells",
        ));
    }
    let ranges = tree::raw(node, "ranges").unwrap_or(&[]);
    let entry = (3 + parent_cells + own.size) as usize * 4;
    if !ranges.len().is_multiple_of(entry) {
        return Err(bad("ranges", "length is not a multiple of the entry size"));
    }
    let number = |cells: &[u8]| cells.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    let (mut io, mut mem32) = (None, None);
    for chunk in ranges.chunks_exact(entry) {
        let (child, rest) = chunk.split_at(12);
        let (cpu, size) = rest.split_at(parent_cells as usize * 4);
        let window = Window {
            pci: number(&child[4..]),
            cpu: tree::translate(ancestors, number(cpu))?,
            size: number(size),
        };
        window.cpu.checked_add(window.size).ok_or(bad(
            "ranges",
            "window wraps past the end of the address space",
        ))?;
        match (child[0] & 0x3, &mut io, &mut mem32) {
            (1, slot @ None, _) | (2, _, slot @ None) => *slot = Some(window),
            _ => {}
        }
    }
    Ok((io, mem32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const QEMU_IO: Window = Window {
        pci: 0,
        cpu: 0x3eff_0000,
        size: 0x1_0000,
    };

    fn qemu_host() -> PciHost {
        PciHost {
            ecam: Region::new(0x40_1000_0000, 0x1000_0000),
            bus_start: 0,
            bus_end: 255,
            io: Some(QEMU_IO),
            mem32: Some(Window {
                pci: 0x1000_0000,
                cpu: 0x1000_0000,
                size: 0x2eff_0000,
            }),
        }
    }

    /// One function's type 0 header, as far as these tests need: IDs, command, header
    /// type, and BARs that answer sizing like hardware (the bits below the size read 0,
    /// bit 0 is the I/O flag and read-only).
    struct Function {
        id: u32,
        header: u32,
        command: u32,
        /// (size, is_io, value) per BAR; size 0 = not implemented.
        bars: [(u32, bool, u32); 6],
    }

    /// A bus of `Function`s by (device, function), with a log of writes.
    #[derive(Default)]
    struct Model {
        functions: HashMap<(u8, u8), Function>,
        writes: Vec<(u64, u32)>,
        /// The command register when each BAR write happened.
        command_at_bar_write: Vec<u32>,
    }

    impl Model {
        fn with_serial(device: u8, bar_size: u32, io: bool) -> Model {
            let mut m = Model::default();
            let mut bars = [(0, false, 0); 6];
            bars[0] = (bar_size, io, u32::from(io));
            m.functions.insert(
                (device, 0),
                Function {
                    id: 0x0002_1b36,
                    header: 0,
                    command: 0,
                    bars,
                },
            );
            m
        }

        fn split(offset: u64) -> (u8, u8, u16) {
            assert_eq!(offset >> 20, 0, "only bus 0 is modelled");
            (
                (offset >> 15 & 31) as u8,
                (offset >> 12 & 7) as u8,
                (offset & 0xfff) as u16,
            )
        }
    }

    impl ConfigSpace for Model {
        fn read32(&mut self, offset: u64) -> u32 {
            assert!(offset.is_multiple_of(4));
            let (dev, func, reg) = Model::split(offset);
            let Some(f) = self.functions.get(&(dev, func)) else {
                return u32::MAX;
            };
            match reg {
                VENDOR_ID => f.id,
                COMMAND => f.command,
                HEADER_TYPE => f.header,
                0x10..=0x24 => f.bars[usize::from((reg - 0x10) / 4)].2,
                _ => 0,
            }
        }

        fn write32(&mut self, offset: u64, value: u32) {
            self.writes.push((offset, value));
            let (dev, func, reg) = Model::split(offset);
            let Some(f) = self.functions.get_mut(&(dev, func)) else {
                return;
            };
            match reg {
                COMMAND => f.command = value & 0xffff,
                0x10..=0x24 => {
                    let (size, io, stored) = &mut f.bars[usize::from((reg - 0x10) / 4)];
                    *stored = if *size == 0 {
                        0
                    } else {
                        value & !(*size - 1) | u32::from(*io)
                    };
                    self.command_at_bar_write.push(f.command);
                }
                _ => {}
            }
        }
    }

    #[test]
    fn ecam_offsets_follow_bus_device_function_register() {
        let mut host = qemu_host();
        let bdf = |bus, device, function| Bdf {
            bus,
            device,
            function,
        };
        assert_eq!(host.config_offset(bdf(0, 0, 0), 0), Some(0));
        assert_eq!(host.config_offset(bdf(0, 1, 0), 0x10), Some(0x8010));
        assert_eq!(host.config_offset(bdf(2, 3, 4), 0xfc), Some(0x21_c0fc));
        assert_eq!(host.config_offset(bdf(0, 32, 0), 0), None);
        assert_eq!(host.config_offset(bdf(0, 0, 8), 0), None);
        assert_eq!(host.config_offset(bdf(0, 0, 0), 4096), None);
        host.bus_start = 0x10;
        host.bus_end = 0x11;
        assert_eq!(host.config_offset(bdf(0x11, 0, 0), 0), Some(ECAM_BUS_SIZE));
        assert_eq!(host.config_offset(bdf(0x0f, 0, 0), 0), None);
        assert_eq!(host.config_offset(bdf(0x12, 0, 0), 0), None);
        assert_eq!(bdf(0, 1, 0).to_string(), "00:01.0");
    }

    #[test]
    fn the_serial_is_found_and_its_io_bar_placed_in_the_window() {
        let host = qemu_host();
        let mut cfg = Model::with_serial(1, 8, true);
        let bdf = host.find_function(&mut cfg, 0x1b36, 0x0002).unwrap();
        assert_eq!((bdf.bus, bdf.device, bdf.function), (0, 1, 0));
        let bar = host.assign_io_bar(&mut cfg, bdf, 0, None).unwrap();
        assert_eq!(
            bar,
            IoBar {
                port: MIN_IO_PORT,
                cpu: 0x3eff_0000 + MIN_IO_PORT,
                size: 8
            }
        );
        let f = &cfg.functions[&(1, 0)];
        assert_eq!(f.bars[0].2, 0x1001, "BAR holds the port and the I/O flag");
        assert_eq!(f.command & COMMAND_IO, COMMAND_IO, "I/O decoding on");
        assert!(
            cfg.command_at_bar_write.iter().all(|c| c & COMMAND_IO == 0),
            "decoding stays off while the BAR is sized and written"
        );
        // A port given is used as it is.
        let mut cfg = Model::with_serial(3, 8, true);
        let bdf = host.find_function(&mut cfg, 0x1b36, 2).unwrap();
        let bar = host.assign_io_bar(&mut cfg, bdf, 0, Some(0x2f8)).unwrap();
        assert_eq!((bar.port, bar.cpu), (0x2f8, 0x3eff_02f8));
    }

    #[test]
    fn bad_bars_and_ports_are_errors_and_leave_the_bar_as_it_was() {
        let host = qemu_host();
        let bdf = Bdf {
            bus: 0,
            device: 1,
            function: 0,
        };
        let mut cfg = Model::with_serial(1, 8, true);
        for (port, error) in [
            (
                0x1004,
                PciError::Misaligned {
                    port: 0x1004,
                    size: 8,
                },
            ),
            (
                0xfff8 + 8,
                PciError::NotInWindow {
                    port: 0x1_0000,
                    size: 8,
                },
            ),
            (
                1 << 32,
                PciError::NotInWindow {
                    port: 1 << 32,
                    size: 8,
                },
            ),
        ] {
            assert_eq!(host.assign_io_bar(&mut cfg, bdf, 0, Some(port)), Err(error));
            assert_eq!(cfg.functions[&(1, 0)].bars[0].2, 1, "{port:#x}");
            assert_eq!(cfg.functions[&(1, 0)].command & COMMAND_IO, 0);
        }
        let mut memory = Model::with_serial(1, 4096, false);
        assert_eq!(
            host.assign_io_bar(&mut memory, bdf, 0, None),
            Err(PciError::NotIoBar { bar: 0 })
        );
        let mut cfg = Model::with_serial(1, 8, true);
        assert_eq!(
            host.assign_io_bar(&mut cfg, bdf, 1, None),
            Err(PciError::NotIoBar { bar: 1 }),
            "an unimplemented BAR reads 0: no I/O flag"
        );
        let no_io = PciHost {
            io: None,
            ..qemu_host()
        };
        assert_eq!(
            no_io.assign_io_bar(&mut cfg, bdf, 0, None),
            Err(PciError::NoIoWindow)
        );
        // A window too small for any aligned port at or above MIN_IO_PORT.
        let small = PciHost {
            io: Some(Window {
                size: 0x800,
                ..QEMU_IO
            }),
            ..qemu_host()
        };
        assert_eq!(
            small.assign_io_bar(&mut cfg, bdf, 0, None),
            Err(PciError::NotInWindow {
                port: 0x1000,
                size: 8
            })
        );
    }

    #[test]
    fn scanning_stops_at_absent_devices_and_single_function_ones() {
        let host = qemu_host();
        let mut cfg = Model::with_serial(4, 8, true);
        // Device 2 is a single-function device with an unrelated function 1 showing
        // through (as some hardware aliases): it must not be looked at.
        let plain = |id| Function {
            id,
            header: 0,
            command: 0,
            bars: [(0, false, 0); 6],
        };
        cfg.functions.insert((2, 0), plain(0x1234_5678));
        cfg.functions.insert((2, 1), plain(0x0002_1b36));
        let found = host.find_function(&mut cfg, 0x1b36, 2).unwrap();
        assert_eq!((found.device, found.function), (4, 0));
        // A multi-function device's later functions are looked at.
        cfg.functions.get_mut(&(2, 0)).unwrap().header = MULTI_FUNCTION;
        let found = host.find_function(&mut cfg, 0x1b36, 2).unwrap();
        assert_eq!((found.device, found.function), (2, 1));
        assert_eq!(host.find_function(&mut cfg, 0x1b36, 3), None);
        assert!(cfg.writes.is_empty(), "scanning only reads");
    }

    #[test]
    fn window_addresses_stay_inside() {
        assert_eq!(QEMU_IO.cpu_address(0x1000, 8), Some(0x3eff_1000));
        assert_eq!(QEMU_IO.cpu_address(0xfff8, 8), Some(0x3eff_fff8));
        assert_eq!(QEMU_IO.cpu_address(0xfffc, 8), None);
        let high = Window {
            pci: 0x100,
            ..QEMU_IO
        };
        assert_eq!(high.cpu_address(0xff, 1), None);
        assert_eq!(QEMU_IO.cpu_address(u64::MAX, 8), None);
    }
}
