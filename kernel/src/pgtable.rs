//! AArch64 stage-1 translation tables, 4 KiB granule, 48-bit VA (levels 0-3), identity
//! mapped: building and editing them in a caller-given pool of table pages. Owns the
//! descriptor format and MAIR indices; never touches system registers (the caller
//! installs the root, see `arch::aarch64::mmu`). A table's "physical address" is its
//! address, which is true in the kernel (identity map) and lets host tests walk tables.

use core::fmt;

/// Entries per table.
pub const ENTRIES: usize = 512;
pub const PAGE_SIZE: u64 = 4096;
/// Size of a level-2 block.
pub const BLOCK_2M: u64 = 2 << 20;

/// MAIR_EL1 attribute indices and the MAIR value that defines them.
pub const MAIR_NORMAL_WB: u64 = 0;
pub const MAIR_DEVICE_NGNRE: u64 = 1;
/// Attr0 = 0xff (Normal, inner/outer write-back non-transient, read/write-allocate),
/// Attr1 = 0x04 (Device-nGnRE).
pub const MAIR_VALUE: u64 = 0xff | (0x04 << 8);

/// Attributes of the boot CPU's early 2 MiB blocks (boot/head.s): normal write-back,
/// inner shareable, accessed, valid block, read/write and executable. Only for the
/// temporary map that lets Rust run with caches on; never used in the final map.
pub const EARLY_BLOCK_ATTRS: u64 = VALID | AF | SH_INNER | (MAIR_NORMAL_WB << ATTR_INDEX_SHIFT);

pub(crate) const VALID: u64 = 1 << 0;
/// Bit 1: table (levels 0-2) or page (level 3); clear for a block.
pub(crate) const TABLE_OR_PAGE: u64 = 1 << 1;
pub(crate) const ATTR_INDEX_SHIFT: u64 = 2;
/// AP[2]: read-only at EL1.
const AP_RO: u64 = 1 << 7;
pub(crate) const SH_INNER: u64 = 3 << 8;
pub(crate) const AF: u64 = 1 << 10;
pub(crate) const PXN: u64 = 1 << 53;
pub(crate) const UXN: u64 = 1 << 54;
pub(crate) const ADDR_MASK: u64 = 0x0000_ffff_ffff_f000;
/// The attribute bits a block keeps when split into pages.
const LEAF_ATTRS: u64 = !ADDR_MASK & !(VALID | TABLE_OR_PAGE);

/// What a leaf mapping allows. Every variant is either writable or executable, never
/// both (W^X).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemAttr {
    /// Normal write-back memory, read/write, execute-never.
    NormalRw,
    /// Normal memory, read-only, executable at EL1 (kernel text).
    NormalRx,
    /// Normal memory, read-only, execute-never.
    NormalRo,
    /// Device-nGnRE, read/write, execute-never.
    Device,
}

impl MemAttr {
    const fn bits(self) -> u64 {
        let normal = AF | SH_INNER | (MAIR_NORMAL_WB << ATTR_INDEX_SHIFT);
        match self {
            MemAttr::NormalRw => normal | PXN | UXN,
            MemAttr::NormalRx => normal | AP_RO | UXN,
            MemAttr::NormalRo => normal | AP_RO | PXN | UXN,
            MemAttr::Device => AF | (MAIR_DEVICE_NGNRE << ATTR_INDEX_SHIFT) | PXN | UXN,
        }
    }

    /// The attributes in words, for the boot report's map.
    pub fn describe(self) -> &'static str {
        match self {
            MemAttr::NormalRw => "normal memory, read/write, execute-never",
            MemAttr::NormalRx => "normal memory, read-only, executable",
            MemAttr::NormalRo => "normal memory, read-only, execute-never",
            MemAttr::Device => "Device-nGnRE, read/write, execute-never",
        }
    }

    fn from_bits(desc: u64) -> Option<Self> {
        let attrs = desc & LEAF_ATTRS;
        [
            MemAttr::NormalRw,
            MemAttr::NormalRx,
            MemAttr::NormalRo,
            MemAttr::Device,
        ]
        .into_iter()
        .find(|a| a.bits() == attrs)
    }
}

/// One translation table.
#[derive(Clone)]
#[repr(C, align(4096))]
pub struct Table(pub [u64; ENTRIES]);

impl Table {
    pub const EMPTY: Table = Table([0; ENTRIES]);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgError {
    /// The pool has no free table page left.
    PoolExhausted { tables: usize },
    /// Range not page-aligned, empty, or beyond the 48-bit address space.
    BadRange { start: u64, end: u64 },
    /// A table descriptor points outside the pool (tables edited behind our back).
    Corrupt { desc: u64 },
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgError::PoolExhausted { tables } => {
                write!(f, "page-table pool exhausted ({tables} tables)")
            }
            PgError::BadRange { start, end } => {
                write!(
                    f,
                    "cannot map [{start:#x}, {end:#x}): not page-aligned or too high"
                )
            }
            PgError::Corrupt { desc } => write!(f, "table descriptor {desc:#x} outside the pool"),
        }
    }
}

/// Identity-map translation tables living in `pool`; `pool[0]` is the level-0 root.
pub struct PageTables<'a> {
    pool: &'a mut [Table],
    used: usize,
}

const fn level_shift(level: u32) -> u32 {
    39 - 9 * level
}

impl<'a> PageTables<'a> {
    /// Starts empty tables in `pool` (at least one table).
    pub fn new(pool: &'a mut [Table]) -> Result<Self, PgError> {
        let root = pool
            .first_mut()
            .ok_or(PgError::PoolExhausted { tables: 0 })?;
        *root = Table::EMPTY;
        Ok(Self { pool, used: 1 })
    }

    /// Address to load into TTBR0_EL1.
    pub fn root_address(&self) -> u64 {
        self.table_address(0)
    }

    /// Tables taken from the pool so far.
    pub fn tables_used(&self) -> usize {
        self.used
    }

    fn table_address(&self, index: usize) -> u64 {
        core::ptr::from_ref(&self.pool[index]) as u64
    }

    fn table_index(&self, desc: u64) -> Result<usize, PgError> {
        let base = self.table_address(0);
        let addr = desc & ADDR_MASK;
        let index = (addr.wrapping_sub(base) / PAGE_SIZE) as usize;
        if addr < base || index >= self.used || !addr.is_multiple_of(PAGE_SIZE) {
            return Err(PgError::Corrupt { desc });
        }
        Ok(index)
    }

    fn alloc(&mut self, fill: impl Fn(usize) -> u64) -> Result<usize, PgError> {
        let index = self.used;
        let table = self
            .pool
            .get_mut(index)
            .ok_or(PgError::PoolExhausted { tables: index })?;
        for (i, e) in table.0.iter_mut().enumerate() {
            *e = fill(i);
        }
        self.used += 1;
        Ok(index)
    }

    fn check(start: u64, end: u64) -> Result<(), PgError> {
        if start >= end
            || !start.is_multiple_of(PAGE_SIZE)
            || !end.is_multiple_of(PAGE_SIZE)
            || end > 1 << 48
        {
            return Err(PgError::BadRange { start, end });
        }
        Ok(())
    }

    /// Maps `[start, end)` to itself with `attr`, replacing what was there: 2 MiB
    /// blocks where the range covers whole aligned blocks, 4 KiB pages elsewhere
    /// (splitting existing blocks, which keep their attributes outside the range).
    pub fn map(&mut self, start: u64, end: u64, attr: MemAttr) -> Result<(), PgError> {
        Self::check(start, end)?;
        self.edit(0, 0, start, end, Some(attr))
    }

    /// Unmaps `[start, end)` (guard pages, holes), splitting blocks as needed.
    pub fn unmap(&mut self, start: u64, end: u64) -> Result<(), PgError> {
        Self::check(start, end)?;
        self.edit(0, 0, start, end, None)
    }

    fn edit(
        &mut self,
        table: usize,
        level: u32,
        start: u64,
        end: u64,
        attr: Option<MemAttr>,
    ) -> Result<(), PgError> {
        let shift = level_shift(level);
        let span = 1u64 << shift;
        let mut addr = start;
        while addr < end {
            let slot_base = addr & !(span - 1);
            let slot_end = slot_base + span;
            let chunk_end = end.min(slot_end);
            let index = ((addr >> shift) & (ENTRIES as u64 - 1)) as usize;
            let desc = self.pool[table].0[index];
            let whole = addr == slot_base && chunk_end == slot_end;
            if whole && level >= 2 {
                // A leaf covers the slot exactly: 2 MiB block (level 2) or page (level 3).
                let kind = if level == 3 { TABLE_OR_PAGE } else { 0 };
                self.pool[table].0[index] = match attr {
                    Some(a) => slot_base | a.bits() | kind | VALID,
                    None => 0,
                };
            } else if desc & VALID == 0 && attr.is_none() {
                // Nothing mapped there: nothing to unmap.
            } else {
                let next = if desc & VALID == 0 {
                    self.alloc(|_| 0)?
                } else if level < 3 && desc & TABLE_OR_PAGE != 0 {
                    self.table_index(desc)?
                } else {
                    // A block: split it into next-level leaves with the same attributes.
                    let child_shift = level_shift(level + 1);
                    let kind = if level + 1 == 3 { TABLE_OR_PAGE } else { 0 };
                    let block = desc & ADDR_MASK;
                    let attrs = desc & LEAF_ATTRS;
                    self.alloc(|i| (block + ((i as u64) << child_shift)) | attrs | kind | VALID)?
                };
                self.pool[table].0[index] = self.table_address(next) | TABLE_OR_PAGE | VALID;
                self.edit(next, level + 1, addr, chunk_end, attr)?;
            }
            addr = chunk_end;
        }
        Ok(())
    }

    /// Links a level-1 table that lives outside the pool (the workload region's, built
    /// from the frame allocator by the caller) into root slot `index`. The slot must be
    /// empty; the pool's own walks skip it (`translate` answers `None` there).
    pub fn link_root_slot(&mut self, index: usize, table_address: u64) -> Result<(), PgError> {
        let slot = self.pool[0]
            .0
            .get_mut(index)
            .ok_or(PgError::BadRange { start: 0, end: 0 })?;
        if *slot & VALID != 0 || table_address & !ADDR_MASK != 0 {
            return Err(PgError::Corrupt { desc: *slot });
        }
        *slot = table_address | TABLE_OR_PAGE | VALID;
        Ok(())
    }

    /// What `va` maps to: its attributes and the size of the leaf holding it.
    pub fn translate(&self, va: u64) -> Option<(MemAttr, u64)> {
        let mut table = 0;
        for level in 0..4 {
            let shift = level_shift(level);
            let desc = self.pool[table].0[((va >> shift) & (ENTRIES as u64 - 1)) as usize];
            if desc & VALID == 0 {
                return None;
            }
            if level < 3 && desc & TABLE_OR_PAGE != 0 {
                table = self.table_index(desc).ok()?;
                continue;
            }
            return Some((MemAttr::from_bits(desc)?, 1 << shift));
        }
        None
    }

    /// Calls `f(start, end, attr)` for every leaf, in address order (for tests and
    /// for printing the map).
    pub fn for_each_leaf(&self, mut f: impl FnMut(u64, u64, MemAttr)) {
        self.walk(0, 0, 0, &mut f);
    }

    fn walk(&self, table: usize, level: u32, base: u64, f: &mut impl FnMut(u64, u64, MemAttr)) {
        let shift = level_shift(level);
        for (i, &desc) in self.pool[table].0.iter().enumerate() {
            let va = base + ((i as u64) << shift);
            if desc & VALID == 0 {
                continue;
            }
            if level < 3 && desc & TABLE_OR_PAGE != 0 {
                if let Ok(next) = self.table_index(desc) {
                    self.walk(next, level + 1, va, f);
                }
            } else if let Some(attr) = MemAttr::from_bits(desc) {
                f(va, va + (1 << shift), attr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIB: u64 = 1 << 20;

    fn pool(n: usize) -> Vec<Table> {
        vec![Table::EMPTY; n]
    }

    #[test]
    fn aligned_ranges_use_blocks_and_the_rest_pages() {
        let mut p = pool(16);
        let mut t = PageTables::new(&mut p).unwrap();
        t.map(0x4000_0000, 0x4040_0000 + 0x3000, MemAttr::NormalRw)
            .unwrap();
        assert_eq!(
            t.translate(0x4000_0000),
            Some((MemAttr::NormalRw, BLOCK_2M))
        );
        assert_eq!(
            t.translate(0x4020_1234),
            Some((MemAttr::NormalRw, BLOCK_2M))
        );
        assert_eq!(
            t.translate(0x4040_2000),
            Some((MemAttr::NormalRw, PAGE_SIZE))
        );
        assert_eq!(t.translate(0x4040_3000), None);
        assert_eq!(t.translate(0), None);
        // L0, L1, L2, one L3.
        assert_eq!(t.tables_used(), 4);
    }

    #[test]
    fn overlay_splits_a_block_and_keeps_the_rest() {
        let mut p = pool(16);
        let mut t = PageTables::new(&mut p).unwrap();
        t.map(0x4000_0000, 0x4000_0000 + 4 * MIB, MemAttr::NormalRw)
            .unwrap();
        t.map(0x4008_0000, 0x4009_0000, MemAttr::NormalRx).unwrap();
        t.unmap(0x4010_0000, 0x4010_1000).unwrap();
        assert_eq!(
            t.translate(0x4007_f000),
            Some((MemAttr::NormalRw, PAGE_SIZE))
        );
        assert_eq!(
            t.translate(0x4008_0000),
            Some((MemAttr::NormalRx, PAGE_SIZE))
        );
        assert_eq!(
            t.translate(0x4009_0000),
            Some((MemAttr::NormalRw, PAGE_SIZE))
        );
        assert_eq!(t.translate(0x4010_0fff), None);
        assert_eq!(
            t.translate(0x4010_1000),
            Some((MemAttr::NormalRw, PAGE_SIZE))
        );
        assert_eq!(
            t.translate(0x4020_0000),
            Some((MemAttr::NormalRw, BLOCK_2M))
        );
    }

    #[test]
    fn bad_ranges_and_exhaustion_are_errors() {
        let mut p = pool(3);
        let mut t = PageTables::new(&mut p).unwrap();
        assert!(matches!(
            t.map(1, 4096, MemAttr::Device),
            Err(PgError::BadRange { .. })
        ));
        assert!(matches!(
            t.map(0, 0, MemAttr::Device),
            Err(PgError::BadRange { .. })
        ));
        assert!(matches!(
            t.map(0, 1 << 49, MemAttr::Device),
            Err(PgError::BadRange { .. })
        ));
        assert_eq!(
            t.map(0x4000_0000, 0x4000_1000, MemAttr::Device),
            Err(PgError::PoolExhausted { tables: 3 })
        );
        assert!(PageTables::new(&mut []).is_err());
    }

    proptest! {
        /// Against a page-by-page model: after any sequence of maps and unmaps, every
        /// page translates to what the last operation covering it said.
        #[test]
        fn matches_a_page_model(ops in proptest::collection::vec(
            (0u64..1024, 1u64..700, 0usize..5), 1..12)) {
            let base = 0x4000_0000u64;
            let mut model = vec![None; 2048];
            let mut p = pool(64);
            let mut t = PageTables::new(&mut p).unwrap();
            let attrs = [MemAttr::NormalRw, MemAttr::NormalRx, MemAttr::NormalRo, MemAttr::Device];
            for (first, len, op) in ops {
                let (start, end) = (base + first * PAGE_SIZE, base + (first + len) * PAGE_SIZE);
                let attr = attrs.get(op).copied();
                match attr {
                    Some(a) => t.map(start, end, a).unwrap(),
                    None => t.unmap(start, end).unwrap(),
                }
                for page in &mut model[first as usize..(first + len) as usize] {
                    *page = attr;
                }
            }
            for (i, want) in model.iter().enumerate() {
                let got = t.translate(base + i as u64 * PAGE_SIZE).map(|(a, _)| a);
                prop_assert_eq!(got, *want, "page {}", i);
            }
        }
    }
}
