//! Level-3 descriptors of the workload (anonymous memory) region: a present page
//! (normal memory, read/write, execute-never, access flag = "young"), a swap entry
//! kept in an invalid descriptor (like Linux's arm64 `swp_entry`), or nothing.
//! Owns the encoding only; the tables are `vm`'s, the entry's meaning `mm::reclaim::swap`'s.
//!
//! ```text
//! present: | 63..55: 0 | 54 UXN | 53 PXN | 47..12: PA | 10 AF | 9..8 SH=inner | 4..2 attr 0 | 1 page | 0 valid=1 |
//! swap:    | 63..61: 0 | 60..8: entry bits (53)                               | 2 swap=1 | 1: 0   | 0 valid=0 |
//! none:    all zero
//! ```
//! Bit 0 clear makes the MMU fault on every access to a swapped page (translation
//! fault, like an empty PTE); bit 2 tells a swap entry from an empty PTE even for the
//! all-zero entry bits. Linux keeps the swap type in bits 3..7 and the offset above
//! bit 8; we have one swap device, so the entry bits start at 8 unsplit.

use crate::pgtable::{
    ADDR_MASK, AF, ATTR_INDEX_SHIFT, MAIR_NORMAL_WB, PXN, SH_INNER, TABLE_OR_PAGE, UXN, VALID,
};

/// Marks an invalid descriptor as holding a swap entry.
const SWAP: u64 = 1 << 2;
const SWAP_SHIFT: u32 = 8;
/// Entry bits a swap descriptor holds (`mm::reclaim::swap::SwapEntry::to_bits` uses 53).
pub const SWAP_ENTRY_BITS: u32 = 53;

/// Attribute bits of a present page, without AF.
const PAGE_ATTRS: u64 =
    VALID | TABLE_OR_PAGE | (MAIR_NORMAL_WB << ATTR_INDEX_SHIFT) | SH_INNER | PXN | UXN;

/// A decoded workload descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnonPte {
    /// Never touched (or given up after a lost page).
    None,
    /// Mapped: the frame's physical address and the access flag.
    Present { pa: u64, young: bool },
    /// Swapped out: the swap entry's bits.
    Swap(u64),
    /// Anything else: a descriptor this region never writes.
    Bad(u64),
}

impl AnonPte {
    /// The descriptor for this state; `None` for `Bad`, for a misaligned or too-high
    /// physical address, or for swap bits beyond `SWAP_ENTRY_BITS`.
    pub const fn encode(self) -> Option<u64> {
        match self {
            AnonPte::None => Some(0),
            AnonPte::Present { pa, young } => {
                if pa & !ADDR_MASK != 0 {
                    return None;
                }
                Some(pa | PAGE_ATTRS | if young { AF } else { 0 })
            }
            AnonPte::Swap(bits) => {
                if bits >> SWAP_ENTRY_BITS != 0 {
                    return None;
                }
                Some((bits << SWAP_SHIFT) | SWAP)
            }
            AnonPte::Bad(_) => None,
        }
    }

    pub const fn decode(desc: u64) -> AnonPte {
        if desc == 0 {
            return AnonPte::None;
        }
        if desc & VALID == 0 {
            if desc & !(((1u64 << SWAP_ENTRY_BITS) - 1) << SWAP_SHIFT) == SWAP {
                return AnonPte::Swap(desc >> SWAP_SHIFT);
            }
            return AnonPte::Bad(desc);
        }
        if desc & !(ADDR_MASK | AF) == PAGE_ATTRS {
            return AnonPte::Present {
                pa: desc & ADDR_MASK,
                young: desc & AF != 0,
            };
        }
        AnonPte::Bad(desc)
    }
}

/// The access flag, for a CAS that only clears or sets it.
pub const PTE_AF: u64 = AF;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zero_is_none_and_swap_zero_is_not() {
        assert_eq!(AnonPte::decode(0), AnonPte::None);
        let swap0 = AnonPte::Swap(0).encode().unwrap();
        assert_ne!(swap0, 0);
        assert_eq!(swap0 & VALID, 0, "a swap descriptor must fault");
        assert_eq!(AnonPte::decode(swap0), AnonPte::Swap(0));
    }

    #[test]
    fn present_is_a_writable_never_executable_page() {
        let d = AnonPte::Present {
            pa: 0x4123_4000,
            young: false,
        }
        .encode()
        .unwrap();
        assert_eq!(d & 0b11, 0b11, "valid level-3 page");
        assert_eq!(d & (1 << 7), 0, "AP[2] clear: writable at EL1");
        assert_ne!(d & PXN, 0);
        assert_eq!(d & AF, 0);
        assert_eq!(
            AnonPte::decode(d | AF),
            AnonPte::Present {
                pa: 0x4123_4000,
                young: true
            }
        );
    }

    #[test]
    fn out_of_range_values_do_not_encode() {
        assert_eq!(AnonPte::Swap(1 << SWAP_ENTRY_BITS).encode(), None);
        assert_eq!(
            AnonPte::Present {
                pa: 0x1001,
                young: true
            }
            .encode(),
            None
        );
        assert_eq!(
            AnonPte::Present {
                pa: 1 << 48,
                young: true
            }
            .encode(),
            None
        );
        assert_eq!(AnonPte::Bad(7).encode(), None);
    }

    proptest! {
        #[test]
        fn round_trips(bits in 0u64..(1 << SWAP_ENTRY_BITS), pfn in 0u64..(1 << 36), young: bool) {
            let swap = AnonPte::Swap(bits);
            prop_assert_eq!(AnonPte::decode(swap.encode().unwrap()), swap);
            let present = AnonPte::Present { pa: pfn << 12, young };
            prop_assert_eq!(AnonPte::decode(present.encode().unwrap()), present);
        }

        #[test]
        fn any_descriptor_decodes_to_what_encodes_it(desc: u64) {
            match AnonPte::decode(desc) {
                AnonPte::Bad(d) => prop_assert_eq!(d, desc),
                other => prop_assert_eq!(other.encode(), Some(desc)),
            }
        }
    }
}
