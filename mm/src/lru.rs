//! The anonymous LRU, Linux's `lruvec` with `LRU_INACTIVE_ANON` and `LRU_ACTIVE_ANON`:
//! two lists threaded through the zone's page descriptors (no allocation), aged with
//! second chance on the accessed bit, balanced like `inactive_is_low()`, isolated in
//! batches of `SWAP_CLUSTER_MAX`. Owns the `LRU`, `ACTIVE`, `REFERENCED` and `ISOLATED`
//! bits; does not unmap, compress or free (that is reclaim's job).
//!
//! Borrowing: an `Lru` is a separate value holding only list heads and counters; each
//! method takes `&mut Zone` to reach the descriptors, so in the kernel the caller
//! holds the zone lock (or one lock around both) for the few list operations of a
//! batch. An `Lru` must only ever be used with the zone its pages came from.
//!
//! The accessed bit is the caller's: the kernel tests and clears the PTE's access flag,
//! host tests a simulated page table.

use crate::addr::{PAGE_SHIFT, Pfn};
use crate::frame::Zone;
use crate::frame::memmap::PageList;
use crate::frame::watermark::int_sqrt;
use crate::page::PageFlags;

/// Pages isolated per batch, Linux's `SWAP_CLUSTER_MAX`.
pub const SWAP_CLUSTER_MAX: usize = 32;

/// Which list.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LruList {
    /// `LRU_INACTIVE_ANON`: reclaim's candidates, oldest at the tail.
    InactiveAnon,
    /// `LRU_ACTIVE_ANON`: pages referenced again; aged into the inactive list.
    ActiveAnon,
}

impl LruList {
    fn index(self) -> usize {
        self as usize
    }

    fn of(flags: PageFlags) -> LruList {
        if flags.contains(PageFlags::ACTIVE) {
            LruList::ActiveAnon
        } else {
            LruList::InactiveAnon
        }
    }
}

/// What an LRU operation refused; nothing changed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LruError {
    /// The pfn is in none of the zone's ranges.
    NotInZone,
    /// The page is not an allocated order-0 page (free, reserved, or part of a block).
    NotAllocated,
    /// The page is already on a list.
    OnLru,
    /// The page is on no list (for `del`).
    NotOnLru,
    /// The page is isolated (for `add` / `del`).
    Isolated,
    /// The page is not isolated (for `folio_check_references` / `putback`).
    NotIsolated,
}

/// Linux's `enum folioref`: what to do with an isolated inactive page.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FolioReferences {
    /// Referenced again after its second chance: `putback` sends it to the active list.
    Activate,
    /// Referenced once: `PG_referenced` set, `putback` rotates it to the inactive head.
    Keep,
    /// Not referenced: a victim; reclaim it, or `putback` if that fails.
    Reclaim,
}

/// Counters with `/proc/vmstat` names; reclaim forwards them to vmstat.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct LruStats {
    /// Pages moved inactive -> active.
    pub pgactivate: u64,
    /// Pages moved active -> inactive.
    pub pgdeactivate: u64,
    /// Pages scanned on the active list.
    pub pgrefill: u64,
}

/// Up to `SWAP_CLUSTER_MAX` isolated pages, oldest first.
#[derive(Clone, Debug)]
pub struct IsolatedBatch {
    pfns: [Pfn; SWAP_CLUSTER_MAX],
    len: usize,
}

impl IsolatedBatch {
    /// An empty batch.
    pub const fn new() -> Self {
        IsolatedBatch {
            pfns: [Pfn(0); SWAP_CLUSTER_MAX],
            len: 0,
        }
    }

    /// The isolated pages, oldest first.
    pub fn as_slice(&self) -> &[Pfn] {
        &self.pfns[..self.len]
    }

    /// Pages in the batch.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch holds no page.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a page the caller just isolated; the caller checked there is room.
    pub(crate) fn push(&mut self, pfn: Pfn) {
        self.pfns[self.len] = pfn;
        self.len += 1;
    }

    /// Empties the batch; the pages go nowhere (put them back or free them first).
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl Default for IsolatedBatch {
    fn default() -> Self {
        IsolatedBatch::new()
    }
}

/// The anonymous lists of one zone (Linux: one lruvec per node).
pub struct Lru {
    lists: [PageList; 2],
    stats: LruStats,
}

impl Default for Lru {
    fn default() -> Self {
        Lru::new()
    }
}

impl Lru {
    /// Empty lists and zero counters.
    pub const fn new() -> Self {
        Lru {
            lists: [PageList::EMPTY; 2],
            stats: LruStats {
                pgactivate: 0,
                pgdeactivate: 0,
                pgrefill: 0,
            },
        }
    }

    /// Pages on the inactive list (`/proc/vmstat`'s `nr_inactive_anon`).
    pub fn nr_inactive_anon(&self) -> u64 {
        self.lists[LruList::InactiveAnon.index()].len()
    }

    /// Pages on the active list (`/proc/vmstat`'s `nr_active_anon`).
    pub fn nr_active_anon(&self) -> u64 {
        self.lists[LruList::ActiveAnon.index()].len()
    }

    /// The counters since the lists were made.
    pub fn stats(&self) -> LruStats {
        self.stats
    }

    /// Index and flags of an allocated order-0 page (both LRUs take only those).
    pub(crate) fn lookup(zone: &Zone, pfn: Pfn) -> Result<(u32, PageFlags), LruError> {
        let index = zone.memmap().index_of(pfn).ok_or(LruError::NotInZone)?;
        let page = zone.memmap().desc(index);
        if !page.flags.contains(PageFlags::ALLOCATED) || page.order != 0 {
            return Err(LruError::NotAllocated);
        }
        Ok((index, page.flags))
    }

    /// Linux's `folio_add_lru()` for a newly mapped anonymous page: onto the head of
    /// `list` (inactive for a new page; active for a refault Linux's workingset code
    /// judges hot), marked `PG_lru` and `PG_swapbacked`.
    pub fn add(&mut self, zone: &mut Zone, pfn: Pfn, list: LruList) -> Result<(), LruError> {
        let (index, flags) = Self::lookup(zone, pfn)?;
        if flags.contains(PageFlags::LRU) {
            return Err(LruError::OnLru);
        }
        if flags.contains(PageFlags::ISOLATED) {
            return Err(LruError::Isolated);
        }
        let page = zone.memmap_mut().desc_mut(index);
        page.flags.remove(PageFlags::REFERENCED);
        page.flags
            .set(PageFlags::ACTIVE, list == LruList::ActiveAnon);
        page.flags.insert(PageFlags::LRU | PageFlags::SWAPBACKED);
        self.lists[list.index()].push_head(zone.memmap_mut(), index);
        Ok(())
    }

    /// Linux's `lruvec_del_folio()`: takes a page off its list for good (it is being
    /// unmapped and freed), clearing the LRU bits.
    pub fn del(&mut self, zone: &mut Zone, pfn: Pfn) -> Result<(), LruError> {
        let (index, flags) = Self::lookup(zone, pfn)?;
        if flags.contains(PageFlags::ISOLATED) {
            return Err(LruError::Isolated);
        }
        if !flags.contains(PageFlags::LRU) {
            return Err(LruError::NotOnLru);
        }
        self.lists[LruList::of(flags).index()].remove(zone.memmap_mut(), index);
        zone.memmap_mut()
            .desc_mut(index)
            .flags
            .remove(PageFlags::LRU | PageFlags::ACTIVE | PageFlags::REFERENCED);
        Ok(())
    }

    /// Linux's `isolate_lru_folios()`: takes up to `nr_to_scan` pages (at most the
    /// batch's room) from the tail of `list` into `batch`, clearing `PG_lru` and
    /// setting `PG_isolated`. Returns how many were taken (reclaim adds them to
    /// `pgscan_kswapd` / `pgscan_direct`).
    pub fn isolate(
        &mut self,
        zone: &mut Zone,
        list: LruList,
        nr_to_scan: usize,
        batch: &mut IsolatedBatch,
    ) -> usize {
        let room = SWAP_CLUSTER_MAX - batch.len;
        let mut taken = 0;
        while taken < nr_to_scan.min(room) {
            let Some(index) = self.lists[list.index()].tail() else {
                break;
            };
            self.lists[list.index()].remove(zone.memmap_mut(), index);
            let page = zone.memmap_mut().desc_mut(index);
            page.flags.remove(PageFlags::LRU);
            page.flags.insert(PageFlags::ISOLATED);
            batch.pfns[batch.len] = zone.memmap().pfn_of(index);
            batch.len += 1;
            taken += 1;
        }
        taken
    }

    /// Linux's `folio_check_references()` for an isolated inactive page, given whether
    /// its PTE was young (the caller tested and cleared it): second chance.
    pub fn folio_check_references(
        &mut self,
        zone: &mut Zone,
        pfn: Pfn,
        referenced_ptes: bool,
    ) -> Result<FolioReferences, LruError> {
        let (index, flags) = Self::lookup(zone, pfn)?;
        if !flags.contains(PageFlags::ISOLATED) {
            return Err(LruError::NotIsolated);
        }
        let page = zone.memmap_mut().desc_mut(index);
        let referenced_folio = page.flags.contains(PageFlags::REFERENCED);
        page.flags.remove(PageFlags::REFERENCED);
        if !referenced_ptes {
            return Ok(FolioReferences::Reclaim);
        }
        page.flags.insert(PageFlags::REFERENCED);
        if referenced_folio {
            page.flags.insert(PageFlags::ACTIVE);
            self.stats.pgactivate += 1;
            Ok(FolioReferences::Activate)
        } else {
            Ok(FolioReferences::Keep)
        }
    }

    /// Linux's `move_folios_to_lru()` for one page: an isolated page goes back to the
    /// head of the list its `PG_active` names.
    pub fn putback(&mut self, zone: &mut Zone, pfn: Pfn) -> Result<(), LruError> {
        let (index, flags) = Self::lookup(zone, pfn)?;
        if !flags.contains(PageFlags::ISOLATED) {
            return Err(LruError::NotIsolated);
        }
        let page = zone.memmap_mut().desc_mut(index);
        page.flags.remove(PageFlags::ISOLATED);
        page.flags.insert(PageFlags::LRU);
        self.lists[LruList::of(flags).index()].push_head(zone.memmap_mut(), index);
        Ok(())
    }

    /// Linux's `shrink_active_list()` for anonymous pages: takes up to `nr_to_scan`
    /// (at most `SWAP_CLUSTER_MAX`) pages from the active tail (`pgrefill`) and moves
    /// them to the inactive head (`pgdeactivate`). `clear_young` clears each page's
    /// PTE access flag, as `folio_referenced()` does; for anonymous pages Linux
    /// deactivates even referenced ones (only executable file pages stay active), so
    /// the inactive list judges them on fresh accesses. Returns pages deactivated.
    pub fn shrink_active_list(
        &mut self,
        zone: &mut Zone,
        nr_to_scan: usize,
        mut clear_young: impl FnMut(Pfn),
    ) -> usize {
        let mut batch = IsolatedBatch::new();
        let taken = self.isolate(zone, LruList::ActiveAnon, nr_to_scan, &mut batch);
        self.stats.pgrefill += taken as u64;
        for &pfn in batch.as_slice() {
            clear_young(pfn);
            let index = zone
                .memmap()
                .index_of(pfn)
                .expect("isolated from this zone");
            let page = zone.memmap_mut().desc_mut(index);
            page.flags.remove(PageFlags::ISOLATED | PageFlags::ACTIVE);
            page.flags.insert(PageFlags::LRU);
            self.lists[LruList::InactiveAnon.index()].push_head(zone.memmap_mut(), index);
        }
        self.stats.pgdeactivate += taken as u64;
        taken
    }

    /// Linux's `inactive_is_low()`: the inactive list should hold at least
    /// 1 / inactive_ratio of the anonymous pages, with inactive_ratio = sqrt(10 * GiB)
    /// (1 below 1 GiB: half and half; 3 at 1 GiB; 10 at 10 GiB). When it is low,
    /// reclaim runs `shrink_active_list` before scanning the inactive list.
    pub fn inactive_is_low(&self) -> bool {
        inactive_is_low(self.nr_inactive_anon(), self.nr_active_anon())
    }

    /// Checks the lists against the descriptors: links consistent both ways, counts
    /// equal to lengths, every listed page allocated order 0 with `PG_lru` set, `PG_active`
    /// matching its list (so no page is on both) and not isolated, and as many `PG_lru`
    /// pages in the zone as on the lists. Walks the whole memmap: for tests and
    /// self-checks.
    pub fn check_invariants(&self, zone: &Zone) -> Result<(), &'static str> {
        let memmap = zone.memmap();
        for list in [LruList::InactiveAnon, LruList::ActiveAnon] {
            self.lists[list.index()].check_links(memmap, |index| {
                let page = memmap.desc(index);
                if !page.flags.contains(PageFlags::LRU | PageFlags::ALLOCATED) || page.order != 0 {
                    return Err("listed page is not an allocated order-0 page with PG_lru");
                }
                if page.flags.contains(PageFlags::ISOLATED) {
                    return Err("isolated page on a list");
                }
                if LruList::of(page.flags) != list {
                    return Err("PG_active does not match the list");
                }
                Ok(())
            })?;
        }
        if pages_on_lru(zone)? != self.nr_inactive_anon() + self.nr_active_anon() {
            return Err("PG_lru pages in the zone differ from the list lengths");
        }
        Ok(())
    }
}

/// The zone's `PG_lru` pages, walking the whole memmap (for the LRUs' invariant
/// checks); refused if one is also isolated.
pub(crate) fn pages_on_lru(zone: &Zone) -> Result<u64, &'static str> {
    let mut on_lru = 0u64;
    for span in zone.managed_spans() {
        for pfn in span.start.0..span.end.0 {
            let page = zone.page(Pfn(pfn)).expect("managed pages are described");
            if page.flags.contains(PageFlags::LRU) {
                if page.flags.contains(PageFlags::ISOLATED) {
                    return Err("page both on the LRU and isolated");
                }
                on_lru += 1;
            }
        }
    }
    Ok(on_lru)
}

fn inactive_is_low(inactive: u64, active: u64) -> bool {
    let gb = (inactive + active) >> (30 - PAGE_SHIFT);
    let inactive_ratio = if gb > 0 { int_sqrt(10 * gb) } else { 1 };
    inactive * inactive_ratio < active
}

#[cfg(test)]
mod tests {
    use super::inactive_is_low;

    const GIB_PAGES: u64 = 1 << 18;

    #[test]
    fn below_one_gib_the_lists_are_kept_even() {
        assert!(inactive_is_low(99, 100));
        assert!(!inactive_is_low(100, 100));
        assert!(!inactive_is_low(0, 0));
    }

    #[test]
    fn inactive_ratio_grows_with_the_square_root_of_the_size() {
        // 1 GiB: ratio int_sqrt(10) = 3, so a quarter may be inactive.
        assert!(!inactive_is_low(GIB_PAGES / 4, GIB_PAGES * 3 / 4));
        assert!(inactive_is_low(GIB_PAGES / 4 - 1, GIB_PAGES * 3 / 4 + 1));
        // 10 GiB: ratio 10.
        let total = 10 * GIB_PAGES;
        assert!(!inactive_is_low(total / 11 + 1, total - total / 11 - 1));
        assert!(inactive_is_low(total / 11 - 10, total - total / 11 + 10));
    }
}
