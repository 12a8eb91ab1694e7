//! Physical address ranges and the set arithmetic the kernel needs on them: sorting and
//! merging memory banks, and carving holes (reserved memory, the kernel image, stacks,
//! the DTB) out of usable memory. Fixed capacity, no allocation.

use arrayvec::ArrayVec;
use core::fmt;

/// In JSON, `[base, size]`.
impl serde::Serialize for Region {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.base, self.size).serialize(s)
    }
}

/// A physical address range `[base, base + size)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Region {
    /// First byte's physical address.
    pub base: u64,
    /// Length in bytes.
    pub size: u64,
}

impl Region {
    /// The range `[base, base + size)`.
    pub const fn new(base: u64, size: u64) -> Self {
        Self { base, size }
    }

    /// One past the last byte, saturating at `u64::MAX` (regions parsed from a DTB are
    /// checked not to wrap, so saturation only matters for holes the caller builds).
    pub const fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }

    /// Whether it holds no byte (`size == 0`).
    pub const fn is_empty(&self) -> bool {
        self.size == 0
    }
}

/// A fixed-capacity list ran out of room: the board has more regions than we reserved
/// space for. Never truncated silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyRegions {
    /// How many regions the list holds.
    pub capacity: usize,
}

impl fmt::Display for TooManyRegions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "more than {} regions", self.capacity)
    }
}

impl core::error::Error for TooManyRegions {}

/// Removes `hole` from every region of `regions`, keeping their order; a region that
/// strictly contains the hole is split in two, which needs one free slot.
pub fn subtract<const N: usize>(
    regions: &mut ArrayVec<Region, N>,
    hole: Region,
) -> Result<(), TooManyRegions> {
    if hole.is_empty() {
        return Ok(());
    }
    let mut out = ArrayVec::<Region, N>::new();
    for r in regions.iter() {
        let pieces = [
            Region::new(r.base, hole.base.min(r.end()).saturating_sub(r.base)),
            Region::new(
                hole.end().max(r.base),
                r.end().saturating_sub(hole.end().max(r.base)),
            ),
        ];
        for piece in pieces.into_iter().filter(|p| !p.is_empty()) {
            out.try_push(piece)
                .map_err(|_| TooManyRegions { capacity: N })?;
        }
    }
    *regions = out;
    Ok(())
}

/// Sorts by base and merges overlapping or touching regions; drops empty ones.
pub fn normalize<const N: usize>(regions: &mut ArrayVec<Region, N>) {
    regions.retain(|r| !r.is_empty());
    regions.sort_unstable();
    let mut merged = ArrayVec::<Region, N>::new();
    for r in regions.iter() {
        match merged.last_mut() {
            Some(last) if r.base <= last.end() => {
                last.size = last.end().max(r.end()) - last.base;
            }
            // Cannot fail: `merged` never holds more entries than `regions`.
            _ => merged.push(*r),
        }
    }
    *regions = merged;
}

/// Sum of the sizes, saturating.
pub fn total_size(regions: &[Region]) -> u64 {
    regions
        .iter()
        .fold(0u64, |acc, r| acc.saturating_add(r.size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list<const N: usize>(rs: &[(u64, u64)]) -> ArrayVec<Region, N> {
        rs.iter().map(|&(b, s)| Region::new(b, s)).collect()
    }

    #[test]
    fn subtract_splits_trims_and_removes() {
        let mut rs = list::<8>(&[(0x1000, 0x3000), (0x8000, 0x1000)]);
        subtract(&mut rs, Region::new(0x2000, 0x1000)).unwrap();
        assert_eq!(
            rs,
            list::<8>(&[(0x1000, 0x1000), (0x3000, 0x1000), (0x8000, 0x1000)])
        );
        subtract(&mut rs, Region::new(0x3800, 0x5000)).unwrap();
        assert_eq!(
            rs,
            list::<8>(&[(0x1000, 0x1000), (0x3000, 0x800), (0x8800, 0x800)])
        );
        subtract(&mut rs, Region::new(0, u64::MAX)).unwrap();
        assert!(rs.is_empty());
    }

    #[test]
    fn subtract_reports_full_list_instead_of_dropping() {
        let mut rs = list::<1>(&[(0, 0x3000)]);
        assert_eq!(
            subtract(&mut rs, Region::new(0x1000, 0x1000)),
            Err(TooManyRegions { capacity: 1 })
        );
        assert_eq!(rs, list::<1>(&[(0, 0x3000)]), "unchanged on error");
    }

    #[test]
    fn normalize_sorts_and_merges() {
        let mut rs = list::<8>(&[
            (0x5000, 0x1000),
            (0, 0),
            (0x1000, 0x1000),
            (0x1800, 0x1000),
            (0x2800, 0x100),
        ]);
        normalize(&mut rs);
        assert_eq!(rs, list::<8>(&[(0x1000, 0x1900), (0x5000, 0x1000)]));
    }

    fn covered(rs: &[Region], addr: u64) -> bool {
        rs.iter().any(|r| r.base <= addr && addr < r.end())
    }

    proptest! {
        /// An address is usable after subtracting iff it was before and is not in the hole.
        #[test]
        fn subtract_matches_set_difference(
            rs in proptest::collection::vec((0u64..1 << 20, 0u64..1 << 16), 0..6),
            hole in (0u64..1 << 20, 0u64..1 << 18),
            probes in proptest::collection::vec(0u64..(1 << 20) + (1 << 17), 32),
        ) {
            let mut list = list::<16>(&rs);
            normalize(&mut list);
            let before = list.clone();
            let hole = Region::new(hole.0, hole.1);
            subtract(&mut list, hole).unwrap();
            for a in probes {
                let in_hole = hole.base <= a && a < hole.end();
                prop_assert_eq!(covered(&list, a), covered(&before, a) && !in_hole);
            }
            prop_assert!(list.windows(2).all(|w| w[0].end() <= w[1].base), "sorted, disjoint");
        }
    }
}
