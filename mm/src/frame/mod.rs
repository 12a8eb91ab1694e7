//! The buddy page allocator, Linux's `ZONE_NORMAL`: free blocks of 2^0 .. 2^MAX_ORDER
//! pages on per-order lists threaded through the page descriptors, the memmap carved
//! from the managed memory itself, watermarks and per-CPU order-0 caches. Owns every
//! descriptor's `BUDDY` / `ALLOCATED` / `RESERVED` state; the LRU bits belong to `lru`.
//!
//! Callers serialise access (the kernel keeps the zone in a `spin::Mutex`); only the
//! per-CPU caches in [`pcp`] are used without that lock. `alloc_pages` does not look at
//! the watermarks (Linux's `__rmqueue`): the allocation policy checks
//! [`Zone::zone_watermark_ok`] itself to wake kswapd or reclaim directly.

pub(crate) mod memmap;
pub mod pcp;
pub mod watermark;

pub use memmap::{MAX_RANGES, ManagedSpan};
pub use pcp::{PCP_CAPACITY, PcpConfigError, PcpFreeError, PerCpuPages};
pub use watermark::{Watermarks, ZoneConfig};

use crate::addr::{Pfn, PhysRange};
use crate::page::{PageDesc, PageFlags};
use memmap::{Memmap, PageList};
use watermark::{WATERMARK_SCALE_FACTOR_MAX, setup_per_zone_wmarks};

/// Largest block order, Linux's `MAX_PAGE_ORDER`: blocks of up to 1024 pages (4 MiB).
pub const MAX_ORDER: u32 = 10;
/// Number of orders, Linux's `NR_PAGE_ORDERS`.
pub const NR_PAGE_ORDERS: usize = MAX_ORDER as usize + 1;

/// Why a zone could not be built.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ZoneInitError {
    /// More than [`MAX_RANGES`] ranges.
    TooManyRanges,
    /// A range's `base + size` overflows.
    RangeOverflow,
    /// Two ranges share pages.
    Overlap,
    /// More pages than u32 indices can name (16 TiB).
    TooManyPages,
    /// No range can hold its memmap and at least one page.
    NoMemory,
    /// `watermark_scale_factor` outside 1..=3000 (the sysctl's bounds).
    BadWatermarkScaleFactor,
}

impl core::fmt::Display for ZoneInitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ZoneInitError::TooManyRanges => "more memory ranges than the zone holds",
            ZoneInitError::RangeOverflow => "a memory range runs past the end of the address space",
            ZoneInitError::Overlap => "two memory ranges overlap",
            ZoneInitError::TooManyPages => "more pages than the zone can number (16 TiB)",
            ZoneInitError::NoMemory => "no memory range holds its memmap and a page",
            ZoneInitError::BadWatermarkScaleFactor => "watermark_scale_factor outside 1..=3000",
        })
    }
}

/// Why an allocation failed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum AllocError {
    /// `order > MAX_ORDER`.
    OrderTooLarge,
    /// No free block of that order or larger.
    OutOfMemory,
}

/// Why a free was refused; the zone is unchanged.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FreeError {
    /// `order > MAX_ORDER`.
    OrderTooLarge,
    /// The pfn is in none of the zone's ranges.
    NotInZone,
    /// The pfn holds the memmap (`PG_reserved`): never allocated.
    Reserved,
    /// The pfn is not aligned to the block size, or the block runs out of its range.
    Misaligned,
    /// The page is already free (in a free block, or heads one).
    DoubleFree,
    /// The page is inside an allocated block but is not its first page.
    NotBlockHead,
    /// The block was allocated with another order.
    WrongOrder {
        /// The order it was allocated with.
        allocated: u32,
    },
    /// The page is still on an LRU list (take it off first).
    OnLru,
}

/// What every path that (re)computes watermarks refuses first, changing nothing.
fn check_config(cfg: &ZoneConfig) -> Result<(), ZoneInitError> {
    if (1..=WATERMARK_SCALE_FACTOR_MAX).contains(&cfg.watermark_scale_factor) {
        Ok(())
    } else {
        Err(ZoneInitError::BadWatermarkScaleFactor)
    }
}

/// A zone of physical memory managed by the buddy allocator.
pub struct Zone {
    memmap: Memmap,
    free_area: [PageList; NR_PAGE_ORDERS],
    nr_free: u64,
    managed: u64,
    watermarks: Watermarks,
    pcp_bad_frees: u64,
}

// The kernel keeps the zone in a `spin::Mutex` shared by every CPU.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Zone>();
};

impl Zone {
    /// Builds the zone: writes one descriptor array at the start of each range, marks
    /// those pages reserved and frees every other page to the buddy lists in the
    /// largest aligned blocks. Ranges are page-aligned inwards; a range too small for
    /// its memmap plus one page is left out.
    ///
    /// # Safety
    /// The ranges are RAM owned by the caller, reachable through the direct map
    /// (`Pfn::page_address`), used by nobody else while the Zone lives.
    pub unsafe fn new(ranges: &[PhysRange], cfg: ZoneConfig) -> Result<Zone, ZoneInitError> {
        check_config(&cfg)?;
        // SAFETY: forwarded from our caller's contract.
        let memmap = unsafe { Memmap::new(ranges)? };
        let mut zone = Zone {
            memmap,
            free_area: [PageList::EMPTY; NR_PAGE_ORDERS],
            nr_free: 0,
            managed: 0,
            watermarks: Watermarks {
                min: 0,
                low: 0,
                high: 0,
            },
            pcp_bad_frees: 0,
        };
        let spans: [Option<ManagedSpan>; MAX_RANGES] = {
            let mut spans = [None; MAX_RANGES];
            for (slot, span) in spans.iter_mut().zip(zone.memmap.managed_spans()) {
                *slot = Some(span);
            }
            spans
        };
        for span in spans.into_iter().flatten() {
            zone.managed += span.end.0 - span.start.0;
            // memblock_free_all(): largest naturally aligned blocks that fit.
            let mut pfn = span.start.0;
            while pfn < span.end.0 {
                let mut order = pfn.trailing_zeros().min(MAX_ORDER);
                while pfn + (1 << order) > span.end.0 {
                    order -= 1;
                }
                let index = zone
                    .memmap
                    .index_of(Pfn(pfn))
                    .expect("span is in the memmap");
                zone.free_one_block(index, Pfn(pfn), order);
                pfn += 1 << order;
            }
        }
        if zone.managed == 0 {
            return Err(ZoneInitError::NoMemory);
        }
        zone.watermarks = setup_per_zone_wmarks(zone.managed, &cfg);
        Ok(zone)
    }

    /// Linux's `__rmqueue_smallest()`: the first block of the smallest order >= `order`
    /// that is free, split down with the upper halves going back on the lists.
    pub fn alloc_pages(&mut self, order: u32) -> Result<Pfn, AllocError> {
        if order > MAX_ORDER {
            return Err(AllocError::OrderTooLarge);
        }
        let (mut current, index) = (order..=MAX_ORDER)
            .find_map(|o| self.free_area[o as usize].head().map(|i| (o, i)))
            .ok_or(AllocError::OutOfMemory)?;
        self.free_area[current as usize].remove(&mut self.memmap, index);
        // expand(): the block stays within one range, so its indices are contiguous.
        while current > order {
            current -= 1;
            let upper = index + (1 << current);
            self.push_free(upper, current);
        }
        let page = self.memmap.desc_mut(index);
        page.flags = PageFlags::ALLOCATED;
        page.order = order as u8;
        self.nr_free -= 1 << order;
        Ok(self.memmap.pfn_of(index))
    }

    /// Frees a block `alloc_pages(order)` returned, merging it with free buddies.
    /// The block's flags are reset: reclaim frees pages it still holds isolated.
    pub fn free_pages(&mut self, pfn: Pfn, order: u32) -> Result<(), FreeError> {
        let index = self.check_free(pfn, order)?;
        self.free_one_block(index, pfn, order);
        Ok(())
    }

    /// Everything `free_pages` refuses, checked without changing anything.
    fn check_free(&self, pfn: Pfn, order: u32) -> Result<u32, FreeError> {
        if order > MAX_ORDER {
            return Err(FreeError::OrderTooLarge);
        }
        let index = self.memmap.index_of(pfn).ok_or(FreeError::NotInZone)?;
        let page = self.memmap.desc(index);
        if page.flags.contains(PageFlags::RESERVED) {
            return Err(FreeError::Reserved);
        }
        let last = Pfn(pfn.0 + (1 << order) - 1);
        if pfn.0 & ((1 << order) - 1) != 0 || self.memmap.index_in_same_range(index, last).is_none()
        {
            return Err(FreeError::Misaligned);
        }
        if !page.flags.contains(PageFlags::ALLOCATED) {
            return Err(if self.is_free_buddy_page(index, pfn) {
                FreeError::DoubleFree
            } else {
                FreeError::NotBlockHead
            });
        }
        if u32::from(page.order) != order {
            return Err(FreeError::WrongOrder {
                allocated: u32::from(page.order),
            });
        }
        if page.flags.contains(PageFlags::LRU) {
            return Err(FreeError::OnLru);
        }
        Ok(index)
    }

    /// Linux's `is_free_buddy_page()`: does a free block of some order contain `pfn`?
    fn is_free_buddy_page(&self, index: u32, pfn: Pfn) -> bool {
        (0..=MAX_ORDER).any(|order| {
            let head = Pfn(pfn.0 & !((1 << order) - 1));
            self.memmap
                .index_in_same_range(index, head)
                .map(|i| self.memmap.desc(i))
                .is_some_and(|p| p.flags.contains(PageFlags::BUDDY) && u32::from(p.order) >= order)
        })
    }

    /// Linux's `__free_one_page()`: merge with the buddy while it is a free block of the
    /// same order in the same range, then put the result on its list.
    fn free_one_block(&mut self, mut index: u32, mut pfn: Pfn, mut order: u32) {
        self.nr_free += 1 << order;
        while order < MAX_ORDER {
            let buddy_pfn = Pfn(pfn.0 ^ (1 << order));
            let Some(buddy) = self.memmap.index_in_same_range(index, buddy_pfn) else {
                break;
            };
            let page = self.memmap.desc(buddy);
            if !page.flags.contains(PageFlags::BUDDY) || u32::from(page.order) != order {
                break;
            }
            self.free_area[order as usize].remove(&mut self.memmap, buddy);
            self.memmap.desc_mut(buddy).flags = PageFlags::empty();
            if buddy_pfn < pfn {
                // The merged block starts at the buddy; the old head becomes a tail.
                self.memmap.desc_mut(index).flags = PageFlags::empty();
                (index, pfn) = (buddy, buddy_pfn);
            }
            order += 1;
        }
        self.push_free(index, order);
    }

    fn push_free(&mut self, index: u32, order: u32) {
        let page = self.memmap.desc_mut(index);
        page.flags = PageFlags::BUDDY;
        page.order = order as u8;
        self.free_area[order as usize].push_head(&mut self.memmap, index);
    }

    /// Free pages on the buddy lists (`NR_FREE_PAGES`; pcp pages are not counted).
    pub fn nr_free_pages(&self) -> u64 {
        self.nr_free
    }

    /// Pages the zone manages: its ranges minus their memmaps.
    pub fn managed_pages(&self) -> u64 {
        self.managed
    }

    /// Pages holding the page descriptors (`PG_reserved`), over all ranges.
    pub fn memmap_pages(&self) -> u64 {
        self.memmap.memmap_pages()
    }

    /// The managed part of each range, in address order.
    pub fn managed_spans(&self) -> impl Iterator<Item = ManagedSpan> + '_ {
        self.memmap.managed_spans()
    }

    /// `/proc/buddyinfo`: free blocks per order.
    pub fn buddyinfo(&self) -> [u64; NR_PAGE_ORDERS] {
        core::array::from_fn(|o| self.free_area[o].len())
    }

    /// The zone's `WMARK_MIN/LOW/HIGH` now (`/proc/zoneinfo`'s min, low, high).
    pub fn watermarks(&self) -> Watermarks {
        self.watermarks
    }

    /// A write to the `vm.min_free_kbytes` / `vm.watermark_scale_factor` sysctls:
    /// the watermarks are computed again from the managed pages, as Linux's
    /// `setup_per_zone_wmarks()` does on such a write. Refused (nothing changes) for a
    /// scale factor outside 1..=3000.
    pub fn set_config(&mut self, cfg: ZoneConfig) -> Result<Watermarks, ZoneInitError> {
        check_config(&cfg)?;
        self.watermarks = setup_per_zone_wmarks(self.managed, &cfg);
        Ok(self.watermarks)
    }

    /// Linux's `mem=`, applied after boot: takes free blocks (largest first) out of the
    /// zone for good, until `free_target` pages are left free, and marks every page of
    /// them reserved. The managed pages shrink by as much, and the watermarks are
    /// computed again from them with `cfg`, so they follow the smaller memory as they
    /// would on a machine booted with `mem=`. Returns the pages taken; refused
    /// (nothing changes) for a scale factor outside 1..=3000.
    pub fn limit_free_to(
        &mut self,
        free_target: u64,
        cfg: ZoneConfig,
    ) -> Result<u64, ZoneInitError> {
        check_config(&cfg)?;
        let mut taken = 0;
        for order in (0..=MAX_ORDER).rev() {
            while self.nr_free >= free_target + (1 << order) {
                let Some(index) = self.free_area[order as usize].head() else {
                    break;
                };
                self.free_area[order as usize].remove(&mut self.memmap, index);
                for page in index..index + (1 << order) {
                    let desc = self.memmap.desc_mut(page);
                    desc.flags = PageFlags::RESERVED | PageFlags::OFFLINE;
                    desc.order = 0;
                }
                self.nr_free -= 1 << order;
                taken += 1 << order;
            }
        }
        self.managed -= taken;
        self.watermarks = setup_per_zone_wmarks(self.managed, &cfg);
        Ok(taken)
    }

    /// Undoes every `limit_free_to`: each page it took out comes back free and
    /// managed, and the watermarks follow the larger zone with `cfg`. Returns the
    /// pages given back; refused (nothing changes) for a bad `cfg`.
    pub fn lift_limit(&mut self, cfg: ZoneConfig) -> Result<u64, ZoneInitError> {
        check_config(&cfg)?;
        let mut back = 0;
        let mut span = 0;
        loop {
            let Some(ManagedSpan { start, end }) = self.memmap.managed_spans().nth(span) else {
                break;
            };
            span += 1;
            for pfn in start.0..end.0 {
                let Some(index) = self.memmap.index_of(Pfn(pfn)) else {
                    continue;
                };
                let desc = self.memmap.desc_mut(index);
                if desc.flags.contains(PageFlags::OFFLINE) {
                    desc.flags = PageFlags::ALLOCATED;
                    desc.order = 0;
                    self.free_one_block(index, Pfn(pfn), 0);
                    back += 1;
                }
            }
        }
        self.managed += back;
        self.watermarks = setup_per_zone_wmarks(self.managed, &cfg);
        Ok(back)
    }

    /// Linux's `__zone_watermark_ok()` for one zone with no lowmem reserve: after the
    /// allocation at least `mark` pages stay free, and for order > 0 a block of that
    /// order or larger exists. Wake kswapd when it fails for `low`, reclaim directly
    /// when it fails for `min`; kswapd is done when it holds for `high`.
    pub fn zone_watermark_ok(&self, order: u32, mark: u64) -> bool {
        let unusable = (1u64 << order.min(MAX_ORDER)) - 1;
        if self.nr_free.saturating_sub(unusable) <= mark {
            return false;
        }
        order == 0
            || self.free_area[order.min(MAX_ORDER) as usize..]
                .iter()
                .any(|area| area.len() > 0)
    }

    /// The descriptor of any pfn the zone describes (memmap pages included).
    pub fn page(&self, pfn: Pfn) -> Option<&PageDesc> {
        self.memmap.index_of(pfn).map(|i| self.memmap.desc(i))
    }

    /// Mutable descriptor; only the caller-owned flags can be changed through it.
    pub fn page_mut(&mut self, pfn: Pfn) -> Option<&mut PageDesc> {
        self.memmap.index_of(pfn).map(|i| self.memmap.desc_mut(i))
    }

    pub(crate) fn memmap(&self) -> &Memmap {
        &self.memmap
    }

    pub(crate) fn memmap_mut(&mut self) -> &mut Memmap {
        &mut self.memmap
    }

    /// Checks the buddy lists against the descriptors: links both ways, every listed
    /// page a `BUDDY` head of its list's order, aligned and inside its range, and the
    /// free count matching. For tests and in-kernel self-checks.
    pub fn check_invariants(&self) -> Result<(), &'static str> {
        let mut free = 0u64;
        for (order, area) in self.free_area.iter().enumerate() {
            area.check_links(&self.memmap, |index| {
                let page = self.memmap.desc(index);
                if !page.flags.contains(PageFlags::BUDDY) || usize::from(page.order) != order {
                    return Err("free list holds a page that is not a buddy head of its order");
                }
                let pfn = self.memmap.pfn_of(index);
                let last = Pfn(pfn.0 + (1 << order) - 1);
                if pfn.0 & ((1 << order) - 1) != 0
                    || self.memmap.index_in_same_range(index, last).is_none()
                {
                    return Err("free block misaligned or out of its range");
                }
                Ok(())
            })?;
            free += area.len() << order;
        }
        if free != self.nr_free {
            return Err("nr_free does not match the free lists");
        }
        Ok(())
    }
}
