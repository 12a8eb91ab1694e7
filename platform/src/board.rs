//! `Board`: what the kernel needs from the DTB (memory, reserved and usable regions,
//! console UART, GIC, PSCI conduit, CPUs, bootargs), parsed once at boot without a heap.
//! Every string borrows from the DTB bytes; every list has a fixed capacity and
//! overflowing it is an error. Decisions on ambiguous DTBs are listed in docs/dtb.md.

use arrayvec::ArrayVec;
use core::fmt;
use serde::Serialize;

use crate::fdt::{Fdt, Node};
use crate::pci::{self, PciHost};
use crate::regions::{self, Region, TooManyRegions};
use crate::tree::{self, NodePath};

/// Most `memory` nodes' `reg` entries [`Board::memory`] holds.
pub const MAX_MEMORY_BANKS: usize = 16;
/// Most reserved regions [`Board::reserved`] holds.
pub const MAX_RESERVED: usize = 64;
/// Most usable regions [`Board::usable`] holds.
pub const MAX_USABLE: usize = 64;
/// Most CPUs [`Board::cpus`] holds (and the kernel brings up).
pub const MAX_CPUS: usize = 16;
/// arm64 booting.rst: "The device tree blob (dtb) must be ... not exceed 2 megabytes".
pub const MAX_DTB_SIZE: usize = 2 << 20;
/// Size of the FDT header, enough for `dtb_total_size`.
pub const DTB_HEADER_SIZE: usize = 40;
const FDT_MAGIC: u32 = 0xd00d_feed;

/// What the kernel learns from the DTB, parsed once at boot (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Board<'a> {
    /// Root `model`, "" if absent.
    pub model: &'a str,
    /// Every enabled top-level `device_type = "memory"` node's `reg`, in DTB order.
    pub memory: ArrayVec<Region, MAX_MEMORY_BANKS>,
    /// `/reserved-memory` children with a `reg`, then `/memreserve/` entries.
    pub reserved: ArrayVec<Region, MAX_RESERVED>,
    /// Memory minus reserved: sorted, disjoint, non-empty.
    pub usable: ArrayVec<Region, MAX_USABLE>,
    /// The UART `/chosen/stdout-path` names, if it is one we drive.
    pub console: Option<Console<'a>>,
    /// The interrupt controller (`arm,gic-400`, `arm,gic-v3`, ...), if one was found.
    pub gic: Option<Gic>,
    /// The first generic ECAM PCI host bridge (`pci-host-ecam-generic`), if any.
    pub pci: Option<PciHost>,
    /// `/psci`'s `method` (the conduit for `CPU_ON` and `SYSTEM_OFF`), if any; in
    /// JSON `{"method":"hvc"}`.
    #[serde(serialize_with = "psci_json")]
    pub psci: Option<PsciMethod>,
    /// Enabled `/cpus` children with `device_type = "cpu"`, in DTB order.
    pub cpus: ArrayVec<Cpu<'a>, MAX_CPUS>,
    /// `/chosen/bootargs`, "" if absent.
    pub bootargs: &'a str,
}

/// The UART family of the console (which driver runs it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleKind {
    /// ARM PrimeCell PL011 (`arm,pl011`).
    Pl011,
    /// 16550-compatible (`ns16550a`, DesignWare, MediaTek).
    Ns16550,
}

/// In JSON, its name.
impl Serialize for ConsoleKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl ConsoleKind {
    /// Short name for logs: "pl011" or "ns16550".
    pub fn name(self) -> &'static str {
        match self {
            ConsoleKind::Pl011 => "pl011",
            ConsoleKind::Ns16550 => "ns16550",
        }
    }

    /// The UART family a `compatible` string belongs to.
    pub fn from_compatible(compatible: &str) -> Option<Self> {
        match compatible {
            "arm,pl011" => Some(ConsoleKind::Pl011),
            "ns16550a" | "ns16550" | "snps,dw-apb-uart" => Some(ConsoleKind::Ns16550),
            c if c.starts_with("mediatek,") && c.ends_with("-uart") => Some(ConsoleKind::Ns16550),
            _ => None,
        }
    }
}

/// The console UART `/chosen/stdout-path` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Console<'a> {
    /// Resolved node path (aliases followed, options stripped).
    pub path: &'a str,
    /// The node's first (most specific) `compatible` string.
    pub compatible: &'a str,
    /// The UART family its `compatible` names.
    pub kind: ConsoleKind,
    /// CPU physical address of the registers (bus `ranges` applied).
    pub base: u64,
    /// Size of the register window in bytes (`reg`'s size).
    pub size: u64,
    /// `reg-shift`: register index to byte offset shift. Default 0, but 2 for
    /// `mediatek,*-uart` (what Linux's 8250_mtk driver assumes).
    pub reg_shift: u32,
    /// `reg-io-width` in bytes. Default 1 for 16550, 4 for PL011 and MediaTek.
    pub reg_io_width: u32,
    /// Baud from stdout-path options (`serial0:921600n8` -> 921600).
    pub baud: Option<u32>,
}

/// The GIC's version and register regions (CPU physical addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Gic {
    /// 2 or 3.
    pub version: u8,
    /// `reg[0]`, the distributor (GICD).
    pub distributor: Region,
    /// GICv3: `reg[1]`, the redistributor region (all cores' frames).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redistributor: Option<Region>,
    /// GICv2: `reg[1]`, the CPU interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_interface: Option<Region>,
}

/// How PSCI calls reach the firmware (`/psci`'s `method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PsciMethod {
    /// `hvc`: a hypervisor call (QEMU's virt without EL3).
    Hvc,
    /// `smc`: a secure monitor call (firmware at EL3, e.g. TF-A).
    Smc,
}

impl PsciMethod {
    /// The DTB's spelling: "hvc" or "smc".
    pub fn name(self) -> &'static str {
        match self {
            PsciMethod::Hvc => "hvc",
            PsciMethod::Smc => "smc",
        }
    }
}

/// One enabled `/cpus/cpu@N` node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cpu<'a> {
    /// `reg`: the MPIDR affinity bits (1 or 2 cells).
    pub mpidr: u64,
    /// `capacity-dmips-mhz`.
    pub capacity: Option<u32>,
    /// First `compatible` string ("arm,cortex-a55"), "" if absent.
    pub compatible: &'a str,
}

/// Why a DTB was refused. Every variant says what was wrong; none is a panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DtbError {
    /// Header checks done before handing the blob to the FDT reader.
    Header(&'static str),
    /// The blob's layout or structure block is broken at `offset`.
    Malformed {
        /// Byte offset into the blob where reading failed.
        offset: usize,
        /// What was wrong there.
        reason: &'static str,
    },
    /// A property we need has a value we cannot use.
    BadProperty {
        /// The property's name, e.g. "reg".
        property: &'static str,
        /// What is wrong with its value.
        reason: &'static str,
    },
    /// A fixed-capacity list would overflow.
    TooMany {
        /// The list, e.g. "memory banks".
        what: &'static str,
        /// How many entries it holds.
        capacity: usize,
    },
    /// A node path deeper than we follow.
    TooDeep {
        /// The deepest path we follow, in nodes.
        max: usize,
    },
    /// `/chosen/stdout-path` names an alias or node that does not exist.
    ConsoleNotFound,
}

impl fmt::Display for DtbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DtbError::Header(why) => write!(f, "bad DTB header: {why}"),
            DtbError::Malformed { offset, reason } => {
                write!(f, "malformed DTB at offset {offset:#x}: {reason}")
            }
            DtbError::BadProperty { property, reason } => {
                write!(f, "bad DTB property \"{property}\": {reason}")
            }
            DtbError::TooMany { what, capacity } => {
                write!(f, "DTB has more {what} than the {capacity} supported")
            }
            DtbError::TooDeep { max } => write!(f, "DTB node path deeper than {max} levels"),
            DtbError::ConsoleNotFound => {
                write!(f, "/chosen/stdout-path names no alias or node in the DTB")
            }
        }
    }
}

impl core::error::Error for DtbError {}

fn too_many(what: &'static str) -> impl Fn(TooManyRegions) -> DtbError {
    move |e| DtbError::TooMany {
        what,
        capacity: e.capacity,
    }
}

fn push<T, const N: usize>(
    list: &mut ArrayVec<T, N>,
    item: T,
    what: &'static str,
) -> Result<(), DtbError> {
    list.try_push(item)
        .map_err(|_| DtbError::TooMany { what, capacity: N })
}

/// `totalsize` from the first 40 bytes of a DTB, after checking the magic and that the
/// size is plausible (header-sized to 2 MiB), so the kernel can build a slice from x0.
pub fn dtb_total_size(header: &[u8]) -> Result<usize, DtbError> {
    let word = |i: usize| -> Option<u32> {
        let bytes = header.get(i * 4..i * 4 + 4)?;
        Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    };
    if header.len() < DTB_HEADER_SIZE {
        return Err(DtbError::Header("shorter than the 40-byte FDT header"));
    }
    if word(0) != Some(FDT_MAGIC) {
        return Err(DtbError::Header("bad magic (not 0xd00dfeed)"));
    }
    let size = word(1).ok_or(DtbError::Header("no totalsize"))? as usize;
    if size < DTB_HEADER_SIZE {
        return Err(DtbError::Header("totalsize smaller than the header"));
    }
    if size > MAX_DTB_SIZE {
        return Err(DtbError::Header("totalsize larger than 2 MiB"));
    }
    Ok(size)
}

impl<'a> Board<'a> {
    /// Parses `dtb` (at least `totalsize` bytes; bytes past it are ignored).
    pub fn from_dtb(dtb: &'a [u8]) -> Result<Board<'a>, DtbError> {
        let size = dtb_total_size(dtb)?;
        let blob = dtb
            .get(..size)
            .ok_or(DtbError::Header("totalsize larger than the data"))?;
        let fdt = Fdt::new(blob)?;
        let root = fdt.root();

        let memory = memory_banks(root)?;
        let reserved = reserved_regions(fdt, root)?;
        let mut usable = ArrayVec::<Region, MAX_USABLE>::new();
        for bank in &memory {
            push(&mut usable, *bank, "usable memory regions")?;
        }
        regions::normalize(&mut usable);
        for hole in &reserved {
            regions::subtract(&mut usable, *hole).map_err(too_many("usable memory regions"))?;
        }

        let chosen = root.child("chosen");
        Ok(Board {
            model: tree::string(&root, "model")?.unwrap_or(""),
            memory,
            reserved,
            usable,
            console: match chosen {
                Some(chosen) => console(root, &chosen)?,
                None => None,
            },
            gic: find_gic(root)?,
            pci: find_pci_host(root)?,
            psci: psci(root)?,
            cpus: cpus(root)?,
            bootargs: match chosen {
                Some(chosen) => tree::string(&chosen, "bootargs")?.unwrap_or(""),
                None => "",
            },
        })
    }

    /// Bytes of usable memory.
    pub fn usable_bytes(&self) -> u64 {
        regions::total_size(&self.usable)
    }
}

fn memory_banks(root: Node<'_>) -> Result<ArrayVec<Region, MAX_MEMORY_BANKS>, DtbError> {
    let cells = tree::child_cells(&root)?;
    let mut banks = ArrayVec::new();
    for node in root.children() {
        if tree::string(&node, "device_type")? != Some("memory") || !tree::is_enabled(&node) {
            continue;
        }
        let Some(reg) = tree::raw(&node, "reg") else {
            continue;
        };
        for bank in tree::regions(reg, cells, "reg")? {
            let bank = bank?;
            if !bank.is_empty() {
                push(&mut banks, bank, "memory banks")?;
            }
        }
    }
    Ok(banks)
}

/// Statically placed `/reserved-memory` children (those with `reg`), then the
/// `/memreserve/` block. Children with only `size` are placed by Linux at boot for a
/// driver we do not have, so nothing is there yet and they stay usable.
fn reserved_regions<'a>(
    fdt: Fdt<'a>,
    root: Node<'a>,
) -> Result<ArrayVec<Region, MAX_RESERVED>, DtbError> {
    let mut reserved = ArrayVec::new();
    if let Some(parent) = root.child("reserved-memory") {
        let cells = tree::child_cells(&parent)?;
        for node in parent.children() {
            if !tree::is_enabled(&node) {
                continue;
            }
            let Some(reg) = tree::raw(&node, "reg") else {
                continue;
            };
            for region in tree::regions(reg, cells, "reg")? {
                let region = region?;
                if !region.is_empty() {
                    push(&mut reserved, region, "reserved regions")?;
                }
            }
        }
    }
    for (address, size) in fdt.memory_reservations() {
        let region = Region::new(address, size);
        region
            .base
            .checked_add(region.size)
            .ok_or(DtbError::BadProperty {
                property: "/memreserve/",
                reason: "region wraps past the end of the address space",
            })?;
        if !region.is_empty() {
            push(&mut reserved, region, "reserved regions")?;
        }
    }
    Ok(reserved)
}

/// (reg-shift, reg-io-width) when the node does not say. MediaTek UARTs are 16550s
/// with 32-bit registers 4 bytes apart; their DTs leave that out because Linux's
/// 8250_mtk driver hard-codes it. PL011 registers are 32-bit.
fn uart_register_layout(compatible: &str, kind: ConsoleKind) -> (u32, u32) {
    match kind {
        ConsoleKind::Pl011 => (0, 4),
        ConsoleKind::Ns16550 if compatible.starts_with("mediatek,") => (2, 4),
        ConsoleKind::Ns16550 => (0, 1),
    }
}

/// Splits `serial0:921600n8` into the alias or path and the options.
fn split_stdout_path(value: &str) -> (&str, Option<&str>) {
    match value.split_once(':') {
        Some((path, options)) => (path, Some(options)),
        None => (value, None),
    }
}

/// The leading decimal digits of the options, e.g. `921600n8` -> 921600.
fn baud_from_options(options: &str) -> Result<Option<u32>, DtbError> {
    let digits = options
        .find(|c: char| !c.is_ascii_digit())
        .map_or(options, |end| &options[..end]);
    if digits.is_empty() {
        return Ok(None);
    }
    digits.parse().map(Some).map_err(|_| DtbError::BadProperty {
        property: "stdout-path",
        reason: "baud rate does not fit in 32 bits",
    })
}

/// Resolves `/chosen/stdout-path` (or the older `linux,stdout-path`): an alias name or
/// an absolute path, either with `:options`. No stdout-path means no console: we never
/// guess another UART, which on a SoC may be unclocked and hang the bus.
fn console<'a>(root: Node<'a>, chosen: &Node<'a>) -> Result<Option<Console<'a>>, DtbError> {
    let value = match tree::string(chosen, "stdout-path")? {
        Some(v) => v,
        None => match tree::string(chosen, "linux,stdout-path")? {
            Some(v) => v,
            None => return Ok(None),
        },
    };
    let (name, options) = split_stdout_path(value);
    let path = if name.starts_with('/') {
        name
    } else {
        // The devicetree spec also allows "alias/sub/path"; no board we know uses it,
        // and it resolves to no alias here, so it is refused rather than guessed.
        let aliases = root.child("aliases").ok_or(DtbError::ConsoleNotFound)?;
        let value = tree::raw(&aliases, name).ok_or(DtbError::ConsoleNotFound)?;
        tree::string_value(value, "aliases")?
    };
    let nodes = tree::find_path(root, path)?.ok_or(DtbError::ConsoleNotFound)?;
    let Some(node) = nodes.last() else {
        return Err(DtbError::ConsoleNotFound);
    };
    let mut compatibles = tree::strings(node, "compatible")?;
    let compatible = compatibles.clone().next().unwrap_or("");
    let Some((matched, kind)) =
        compatibles.find_map(|c| Some((c, ConsoleKind::from_compatible(c)?)))
    else {
        return Ok(None);
    };
    let (default_shift, default_width) = uart_register_layout(matched, kind);
    let reg = tree::translated_reg(&nodes)?
        .next()
        .ok_or(DtbError::BadProperty {
            property: "reg",
            reason: "console UART has an empty reg",
        })??;
    Ok(Some(Console {
        path,
        compatible,
        kind,
        base: reg.base,
        size: reg.size,
        reg_shift: tree::u32_prop(node, "reg-shift")?.unwrap_or(default_shift),
        reg_io_width: tree::u32_prop(node, "reg-io-width")?.unwrap_or(default_width),
        baud: options.map(baud_from_options).transpose()?.flatten(),
    }))
}

/// GIC version by `compatible`, as Linux's irq-gic.c and irq-gic-v3.c match them.
fn gic_version(compatible: &str) -> Option<u8> {
    match compatible {
        "arm,gic-v3" => Some(3),
        "arm,gic-400"
        | "arm,cortex-a15-gic"
        | "arm,cortex-a7-gic"
        | "arm,cortex-a9-gic"
        | "arm,cortex-a5-gic"
        | "arm,arm11mp-gic"
        | "arm,arm1176jzf-devchip-gic"
        | "arm,eb11mp-gic"
        | "arm,pl390"
        | "arm,tc11mp-gic"
        | "qcom,msm-8660-qgic"
        | "qcom,msm-qgic2" => Some(2),
        _ => None,
    }
}

/// The first enabled GIC in tree order.
fn find_gic(root: Node<'_>) -> Result<Option<Gic>, DtbError> {
    find_node(root, &|path| {
        let Some(node) = path.last() else {
            return Ok(None);
        };
        match tree::strings(node, "compatible")?.find_map(gic_version) {
            Some(version) => gic_from_node(path, version).map(Some),
            None => Ok(None),
        }
    })
}

/// The first enabled generic ECAM PCI host bridge in tree order.
fn find_pci_host(root: Node<'_>) -> Result<Option<PciHost>, DtbError> {
    find_node(root, &|path| {
        let Some(node) = path.last() else {
            return Ok(None);
        };
        if tree::strings(node, "compatible")?.any(|c| c == pci::ECAM_COMPATIBLE) {
            pci::host_from_node(path).map(Some)
        } else {
            Ok(None)
        }
    })
}

/// What `found` makes of the first enabled node in tree order (depth-first, at most
/// `MAX_DEPTH` levels) it makes something of; it gets the node's path, root first.
fn find_node<'a, T>(
    root: Node<'a>,
    found: &dyn Fn(&NodePath<'a>) -> Result<Option<T>, DtbError>,
) -> Result<Option<T>, DtbError> {
    let mut path = NodePath::new();
    path.push(root);
    search(&mut path, found)
}

fn search<'a, T>(
    path: &mut NodePath<'a>,
    found: &dyn Fn(&NodePath<'a>) -> Result<Option<T>, DtbError>,
) -> Result<Option<T>, DtbError> {
    let Some(&node) = path.last() else {
        return Ok(None);
    };
    for child in node.children() {
        if !tree::is_enabled(&child) {
            continue;
        }
        // Nodes deeper than we track are not searched (nothing we look for sits
        // that deep).
        if path.try_push(child).is_err() {
            continue;
        }
        let result = match found(path)? {
            Some(t) => Some(t),
            None => search(path, found)?,
        };
        path.pop();
        if result.is_some() {
            return Ok(result);
        }
    }
    Ok(None)
}

fn gic_from_node(path: &NodePath<'_>, version: u8) -> Result<Gic, DtbError> {
    let mut regs = tree::translated_reg(path)?;
    let distributor = regs.next().ok_or(DtbError::BadProperty {
        property: "reg",
        reason: "GIC has no distributor region",
    })??;
    let second = regs.next().transpose()?;
    Ok(Gic {
        version,
        distributor,
        redistributor: if version == 3 { second } else { None },
        cpu_interface: if version == 2 { second } else { None },
    })
}

/// The PSCI conduit from the `/psci` node (or a top-level node compatible with
/// `arm,psci*`). A PSCI node without a valid `method` is an error.
fn psci(root: Node<'_>) -> Result<Option<PsciMethod>, DtbError> {
    let mut node = root.child("psci");
    if node.is_none() {
        for child in root.children() {
            if tree::strings(&child, "compatible")?.any(|c| c.starts_with("arm,psci")) {
                node = Some(child);
                break;
            }
        }
    }
    let Some(node) = node else {
        return Ok(None);
    };
    match tree::string(&node, "method")? {
        Some("hvc") => Ok(Some(PsciMethod::Hvc)),
        Some("smc") => Ok(Some(PsciMethod::Smc)),
        _ => Err(DtbError::BadProperty {
            property: "method",
            reason: "PSCI method is neither \"hvc\" nor \"smc\"",
        }),
    }
}

/// Enabled CPU nodes. `status = "disabled"` CPUs are skipped: bootloaders use it for
/// cores that must not be started (fused off, or owned by other firmware).
fn cpus(root: Node<'_>) -> Result<ArrayVec<Cpu<'_>, MAX_CPUS>, DtbError> {
    let mut list = ArrayVec::new();
    let Some(parent) = root.child("cpus") else {
        return Ok(list);
    };
    let cells = tree::child_cells(&parent)?;
    if cells.address == 0 || cells.address > 2 {
        return Err(DtbError::BadProperty {
            property: "#address-cells",
            reason: "/cpus must use 1 or 2 cells for MPIDRs",
        });
    }
    for node in parent.children() {
        if tree::string(&node, "device_type")? != Some("cpu") || !tree::is_enabled(&node) {
            continue;
        }
        let reg = tree::raw(&node, "reg").ok_or(DtbError::BadProperty {
            property: "reg",
            reason: "CPU node has no reg (MPIDR)",
        })?;
        if reg.len() != cells.address as usize * 4 {
            return Err(DtbError::BadProperty {
                property: "reg",
                reason: "CPU reg is not exactly #address-cells long",
            });
        }
        let mpidr = reg.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let cpu = Cpu {
            mpidr,
            capacity: tree::u32_prop(&node, "capacity-dmips-mhz")?,
            compatible: tree::strings(&node, "compatible")?.next().unwrap_or(""),
        };
        push(&mut list, cpu, "CPUs")?;
    }
    Ok(list)
}

/// `psci` as dtb-info prints it: `{"method":"smc"}`, or `null`.
fn psci_json<S: serde::Serializer>(m: &Option<PsciMethod>, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Psci {
        method: &'static str,
    }
    m.map(|m| Psci { method: m.name() }).serialize(s)
}
