//! The GIC's register sequences (GICv2 in `v2`, GICv3/v4 in `v3`), over two small
//! accessors: `Mmio` for the memory-mapped frames (distributor, redistributors, GICv2
//! CPU interface) and `sysreg::SysRegs` for the ICC_* registers, the barriers and the
//! counter. Owns the sequences and the per-CPU routing state; the real accessors, the
//! choice of version and what an interrupt means are `arch::aarch64`'s.

pub mod v2;
pub mod v3;

use core::fmt;

/// INTIDs from 1020 up are special; 1023 means "nothing pending".
const SPURIOUS: u32 = 1020;

/// INTIDs 0..31 are banked per core (SGIs, PPIs); 32.. are shared (SPIs).
const FIRST_SPI: usize = 32;

/// Priority given to every interrupt we enable (Linux's GICD_INT_DEF_PRI); lower values
/// are more urgent.
const DEFAULT_PRIORITY: u8 = 0xa0;

/// Priority mask: interrupts less urgent than this are not signalled (Linux's value).
const PRIORITY_MASK: u8 = 0xf0;

/// One memory-mapped register frame, reached by byte offset from its base: aarch64
/// implements it with volatile accesses, host tests with fakes that record every access.
pub trait Mmio {
    fn read_u8(&self, offset: usize) -> u8;
    fn read_u32(&self, offset: usize) -> u32;
    fn read_u64(&self, offset: usize) -> u64;
    fn write_u8(&self, offset: usize, value: u8);
    fn write_u32(&self, offset: usize, value: u32);
    fn write_u64(&self, offset: usize, value: u64);
}

/// An acknowledged interrupt, to be handed back to `eoi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// The distributor word and bit of `intid` in a one-bit-per-INTID register array
/// (ISENABLER, ICENABLER...): byte offset of the word, and the bit.
fn bit_register(array: usize, intid: usize) -> (usize, u32) {
    (array + 4 * (intid / 32), 1 << (intid % 32))
}
