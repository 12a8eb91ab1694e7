//! The page descriptor, Linux's `struct page`: one per physical frame, kept in the
//! memmap that the zone carves out of the memory it manages (see `frame`). It owns the
//! flag word, the buddy order and the list links (as u32 indices). Who maps a frame is
//! not here but in `rmap`, which reclaim reads without the zone's lock.
//! It does not own the lists themselves: the buddy free lists belong to `frame::Zone`,
//! the active / inactive lists to `lru::Lru`.

use bitflags::bitflags;

/// "No page" in an index link (the memmap has fewer than `u32::MAX` entries).
pub(crate) const NIL: u32 = u32::MAX;

bitflags! {
    /// Page flags, `PG_*` in Linux. The allocator and the LRU own most of them; the
    /// caller may only change [`PageFlags::CALLER_OWNED`] (see [`PageDesc::set_flags`]).
    #[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
    pub struct PageFlags: u16 {
        /// `PageBuddy`: first page of a free block on a buddy free list (order valid).
        const BUDDY = 1 << 0;
        /// First page of a block handed out by the allocator (order valid). Linux knows
        /// this from the refcount; we keep a bit so a free can check it.
        const ALLOCATED = 1 << 1;
        /// `PG_reserved`: never managed (the memmap itself).
        const RESERVED = 1 << 2;
        /// `PG_lru`: on one of the LRU lists.
        const LRU = 1 << 3;
        /// `PG_active`: on (or going back to) the active list.
        const ACTIVE = 1 << 4;
        /// `PG_referenced`: seen referenced once by reclaim (second chance).
        const REFERENCED = 1 << 5;
        /// `PG_isolated`: taken off the LRU by reclaim, on no list.
        const ISOLATED = 1 << 6;
        /// `PG_swapbacked`: anonymous memory, reclaimed to swap (the compressed store).
        const SWAPBACKED = 1 << 7;
        /// `PG_writeback`: being written to swap (compression queued or in progress).
        const WRITEBACK = 1 << 8;
        /// `PG_locked`: held by whoever is moving the page between states.
        const LOCKED = 1 << 9;
        /// `PageOffline`: taken out of the zone after boot (`Zone::limit_free_to`, as
        /// a balloon does), not managed, until `Zone::lift_limit` gives it back.
        const OFFLINE = 1 << 10;
        /// Multi-gen LRU: the page's generation, `seq % MAX_NR_GENS`, two bits
        /// (Linux's `LRU_GEN_MASK`); meaningful while `LRU` is set.
        const LRU_GEN = 0b11 << 11;
        /// Multi-gen LRU: accesses beyond the first, 0..=3 (Linux's `LRU_REFS_MASK`).
        const LRU_REFS = 0b11 << 13;
        /// `PG_workingset`: refaulted while its shadow was recent (multi-gen LRU).
        const WORKINGSET = 1 << 15;
    }
}

const LRU_GEN_SHIFT: u32 = 11;
const LRU_REFS_SHIFT: u32 = 13;

impl PageFlags {
    /// The `LRU_GEN` field.
    pub(crate) fn lru_gen(self) -> usize {
        usize::from((self.bits() & PageFlags::LRU_GEN.bits()) >> LRU_GEN_SHIFT)
    }

    /// Sets the `LRU_GEN` field to `g` (taken modulo 4).
    pub(crate) fn set_lru_gen(&mut self, g: usize) {
        let field = ((g as u16) << LRU_GEN_SHIFT) & PageFlags::LRU_GEN.bits();
        *self = self.difference(PageFlags::LRU_GEN) | PageFlags::from_bits_retain(field);
    }

    /// The `LRU_REFS` field.
    pub(crate) fn lru_refs(self) -> u8 {
        ((self.bits() & PageFlags::LRU_REFS.bits()) >> LRU_REFS_SHIFT) as u8
    }

    /// Sets the `LRU_REFS` field to `refs`, saturating at 3.
    pub(crate) fn set_lru_refs(&mut self, refs: u8) {
        let field = u16::from(refs.min(3)) << LRU_REFS_SHIFT;
        *self = self.difference(PageFlags::LRU_REFS) | PageFlags::from_bits_retain(field);
    }
}

impl PageFlags {
    /// The flags the kernel and reclaim set themselves; the rest belong to the
    /// allocator (`BUDDY`, `ALLOCATED`, `RESERVED`) and to the LRU.
    pub const CALLER_OWNED: PageFlags = PageFlags::SWAPBACKED
        .union(PageFlags::WRITEBACK)
        .union(PageFlags::LOCKED);
}

/// A change asked of flags the caller does not own.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NotCallerOwned(pub PageFlags);

/// One frame's descriptor. 12 bytes (0.3 % of a 4 KiB page; Linux's is 64).
#[derive(Clone, Debug)]
#[repr(C)]
pub struct PageDesc {
    /// Links of whichever list the page is on (buddy free list or LRU), as memmap
    /// indices; `NIL` at the ends and off-list.
    pub(crate) next: u32,
    pub(crate) prev: u32,
    pub(crate) flags: PageFlags,
    /// Buddy order of the block this page heads (valid with `BUDDY` or `ALLOCATED`).
    pub(crate) order: u8,
}

const _: () = assert!(core::mem::size_of::<PageDesc>() == 12);

impl PageDesc {
    pub(crate) const fn new(flags: PageFlags) -> Self {
        PageDesc {
            next: NIL,
            prev: NIL,
            flags,
            order: 0,
        }
    }

    /// The page's flags (`PG_lru`, `PG_active`, ...).
    pub fn flags(&self) -> PageFlags {
        self.flags
    }

    /// Buddy order of the block this page heads, if it heads a free or allocated one.
    pub fn order(&self) -> Option<u32> {
        self.flags
            .intersects(PageFlags::BUDDY | PageFlags::ALLOCATED)
            .then_some(u32::from(self.order))
    }

    /// Sets (`value == true`) or clears caller-owned flags; anything else is refused
    /// so that the allocator's and the LRU's bookkeeping cannot be corrupted.
    pub fn set_flags(&mut self, flags: PageFlags, value: bool) -> Result<(), NotCallerOwned> {
        let foreign = flags.difference(PageFlags::CALLER_OWNED);
        if !foreign.is_empty() {
            return Err(NotCallerOwned(foreign));
        }
        self.flags.set(flags, value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_may_only_touch_its_own_flags() {
        let mut page = PageDesc::new(PageFlags::ALLOCATED);
        assert_eq!(page.set_flags(PageFlags::WRITEBACK, true), Ok(()));
        assert!(page.flags().contains(PageFlags::WRITEBACK));
        assert_eq!(
            page.set_flags(PageFlags::WRITEBACK | PageFlags::BUDDY, true),
            Err(NotCallerOwned(PageFlags::BUDDY))
        );
        assert_eq!(page.flags(), PageFlags::ALLOCATED | PageFlags::WRITEBACK);
        assert_eq!(page.set_flags(PageFlags::WRITEBACK, false), Ok(()));
        assert_eq!(page.flags(), PageFlags::ALLOCATED);
    }

    #[test]
    fn generation_and_refs_fields_keep_the_other_bits() {
        let mut flags = PageFlags::LRU | PageFlags::WORKINGSET;
        flags.set_lru_gen(3);
        flags.set_lru_refs(9);
        assert_eq!((flags.lru_gen(), flags.lru_refs()), (3, 3));
        flags.set_lru_gen(6);
        flags.set_lru_refs(1);
        assert_eq!((flags.lru_gen(), flags.lru_refs()), (2, 1));
        assert!(flags.contains(PageFlags::LRU | PageFlags::WORKINGSET));
    }

    #[test]
    fn order_only_for_block_heads() {
        let mut page = PageDesc::new(PageFlags::empty());
        page.order = 3;
        assert_eq!(page.order(), None);
        page.flags = PageFlags::BUDDY;
        assert_eq!(page.order(), Some(3));
    }
}
