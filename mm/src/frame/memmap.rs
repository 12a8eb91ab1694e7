//! The memmap: one page-descriptor array per memory range, carved from the start of
//! that range (like memblock allocating `mem_map`), so holes between banks cost
//! nothing. Pages are named by a u32 index running through the ranges in address
//! order. Owns index <-> pfn translation and the intrusive index lists; knows nothing
//! of what the lists mean (buddy free lists, LRU).

use crate::addr::{PAGE_SIZE, Pfn, PhysRange};
use crate::page::{NIL, PageDesc, PageFlags};

use super::ZoneInitError;

/// Most memory ranges (banks) one zone can span.
pub const MAX_RANGES: usize = 8;

/// One range and its descriptor array.
#[derive(Copy, Clone, Debug)]
struct Section {
    start_pfn: u64,
    /// Pages of the range, its own memmap included.
    nr_pages: u64,
    /// Pages at the start of the range that hold the descriptors (`PG_reserved`).
    memmap_pages: u64,
    /// Index of `start_pfn`.
    first_index: u32,
    memmap: *mut PageDesc,
}

impl Section {
    const EMPTY: Section = Section {
        start_pfn: 0,
        nr_pages: 0,
        memmap_pages: 0,
        first_index: 0,
        memmap: core::ptr::null_mut(),
    };

    fn end_pfn(&self) -> u64 {
        self.start_pfn + self.nr_pages
    }

    fn end_index(&self) -> u32 {
        // Cannot overflow: `Memmap::new` keeps the index total below `NIL`.
        self.first_index + self.nr_pages as u32
    }
}

/// Pages managed by one section: `[start, end)` in pfns, memmap excluded.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ManagedSpan {
    /// First managed pfn.
    pub start: Pfn,
    /// One past the last managed pfn.
    pub end: Pfn,
}

pub(crate) struct Memmap {
    sections: [Section; MAX_RANGES],
    nr_sections: usize,
}

// SAFETY: the descriptor arrays are memory handed over exclusively to the zone by
// `Zone::new`'s contract; nothing else aliases them, so moving the owner to another
// CPU is sound.
unsafe impl Send for Memmap {}

impl Memmap {
    /// Page-aligns the ranges, sorts them, and writes each range's descriptor array at
    /// its start. Ranges too small to hold their own memmap and one page are ignored.
    ///
    /// # Safety
    /// As `Zone::new`: the ranges are RAM owned by the caller, reachable through
    /// `Pfn::page_address`, and used by nobody else while the memmap lives.
    pub(crate) unsafe fn new(ranges: &[PhysRange]) -> Result<Memmap, ZoneInitError> {
        if ranges.len() > MAX_RANGES {
            return Err(ZoneInitError::TooManyRanges);
        }
        let mut sections = [Section::EMPTY; MAX_RANGES];
        let mut nr_sections = 0;
        for range in ranges {
            let end = range
                .base
                .checked_add(range.size)
                .ok_or(ZoneInitError::RangeOverflow)?;
            let start_pfn = range.base.div_ceil(PAGE_SIZE as u64);
            let end_pfn = end / PAGE_SIZE as u64;
            if end_pfn <= start_pfn {
                continue;
            }
            let nr_pages = end_pfn - start_pfn;
            let memmap_bytes = nr_pages * core::mem::size_of::<PageDesc>() as u64;
            let memmap_pages = memmap_bytes.div_ceil(PAGE_SIZE as u64);
            if memmap_pages >= nr_pages {
                continue;
            }
            sections[nr_sections] = Section {
                start_pfn,
                nr_pages,
                memmap_pages,
                first_index: 0,
                memmap: Pfn(start_pfn).page_address().cast(),
            };
            nr_sections += 1;
        }
        let used = &mut sections[..nr_sections];
        used.sort_unstable_by_key(|s| s.start_pfn);
        if used.windows(2).any(|w| w[0].end_pfn() > w[1].start_pfn) {
            return Err(ZoneInitError::Overlap);
        }
        let mut next_index: u64 = 0;
        for section in used.iter_mut() {
            section.first_index = next_index as u32;
            next_index += section.nr_pages;
            if next_index >= u64::from(NIL) {
                return Err(ZoneInitError::TooManyPages);
            }
        }
        for section in used.iter() {
            for i in 0..section.nr_pages {
                let flags = if i < section.memmap_pages {
                    PageFlags::RESERVED
                } else {
                    PageFlags::empty()
                };
                // SAFETY: the first `memmap_pages` pages of the range are ours (caller's
                // contract) and page-aligned, so `nr_pages` 8-aligned descriptors fit.
                unsafe { section.memmap.add(i as usize).write(PageDesc::new(flags)) };
            }
        }
        Ok(Memmap {
            sections,
            nr_sections,
        })
    }

    fn sections(&self) -> &[Section] {
        &self.sections[..self.nr_sections]
    }

    pub(crate) fn managed_spans(&self) -> impl Iterator<Item = ManagedSpan> + '_ {
        self.sections().iter().map(|s| ManagedSpan {
            start: Pfn(s.start_pfn + s.memmap_pages),
            end: Pfn(s.end_pfn()),
        })
    }

    /// Pages holding descriptors, over all ranges.
    pub(crate) fn memmap_pages(&self) -> u64 {
        self.sections().iter().map(|s| s.memmap_pages).sum()
    }

    /// Index of a described pfn (memmap pages included).
    pub(crate) fn index_of(&self, pfn: Pfn) -> Option<u32> {
        self.sections()
            .iter()
            .find(|s| (s.start_pfn..s.end_pfn()).contains(&pfn.0))
            .map(|s| s.first_index + (pfn.0 - s.start_pfn) as u32)
    }

    /// Index of `pfn` if it lies in the same range as the page at `index` (used for
    /// buddies, which must not cross into another bank or a hole).
    pub(crate) fn index_in_same_range(&self, index: u32, pfn: Pfn) -> Option<u32> {
        let s = self.section_of_index(index);
        (s.start_pfn..s.end_pfn())
            .contains(&pfn.0)
            .then(|| s.first_index + (pfn.0 - s.start_pfn) as u32)
    }

    fn section_of_index(&self, index: u32) -> &Section {
        self.sections()
            .iter()
            .find(|s| index < s.end_index())
            .expect("memmap index out of range")
    }

    pub(crate) fn pfn_of(&self, index: u32) -> Pfn {
        let s = self.section_of_index(index);
        Pfn(s.start_pfn + u64::from(index - s.first_index))
    }

    pub(crate) fn desc(&self, index: u32) -> &PageDesc {
        let s = self.section_of_index(index);
        // SAFETY: `index` is inside this section, whose descriptors `new` initialised;
        // the shared borrow of `self` keeps them from being mutated meanwhile.
        unsafe { &*s.memmap.add((index - s.first_index) as usize) }
    }

    pub(crate) fn desc_mut(&mut self, index: u32) -> &mut PageDesc {
        let s = self.section_of_index(index);
        // SAFETY: as `desc`; the exclusive borrow of `self` makes this the only access.
        unsafe { &mut *s.memmap.add((index - s.first_index) as usize) }
    }
}

/// A doubly linked list threaded through the descriptors' `next`/`prev` indices:
/// new pages at the head, the oldest at the tail. A page is on at most one list.
#[derive(Copy, Clone, Debug)]
pub(crate) struct PageList {
    head: u32,
    tail: u32,
    len: u64,
}

impl PageList {
    pub(crate) const EMPTY: PageList = PageList {
        head: NIL,
        tail: NIL,
        len: 0,
    };

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn head(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
    }

    pub(crate) fn tail(&self) -> Option<u32> {
        (self.tail != NIL).then_some(self.tail)
    }

    pub(crate) fn push_head(&mut self, memmap: &mut Memmap, index: u32) {
        let old_head = self.head;
        let page = memmap.desc_mut(index);
        page.prev = NIL;
        page.next = old_head;
        if old_head == NIL {
            self.tail = index;
        } else {
            memmap.desc_mut(old_head).prev = index;
        }
        self.head = index;
        self.len += 1;
    }

    /// Adds `index` at the tail, the oldest end (Linux's `list_move_tail`).
    pub(crate) fn push_tail(&mut self, memmap: &mut Memmap, index: u32) {
        let old_tail = self.tail;
        let page = memmap.desc_mut(index);
        page.next = NIL;
        page.prev = old_tail;
        if old_tail == NIL {
            self.head = index;
        } else {
            memmap.desc_mut(old_tail).next = index;
        }
        self.tail = index;
        self.len += 1;
    }

    pub(crate) fn remove(&mut self, memmap: &mut Memmap, index: u32) {
        let page = memmap.desc_mut(index);
        let (prev, next) = (page.prev, page.next);
        page.prev = NIL;
        page.next = NIL;
        if prev == NIL {
            self.head = next;
        } else {
            memmap.desc_mut(prev).next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            memmap.desc_mut(next).prev = prev;
        }
        self.len -= 1;
    }

    /// Walks the list head to tail checking both directions of every link; returns the
    /// indices seen through `visit`. Used by the invariant checks.
    pub(crate) fn check_links(
        &self,
        memmap: &Memmap,
        mut visit: impl FnMut(u32) -> Result<(), &'static str>,
    ) -> Result<(), &'static str> {
        let mut prev = NIL;
        let mut cur = self.head;
        let mut seen = 0u64;
        while cur != NIL {
            seen += 1;
            if seen > self.len {
                return Err("list longer than its count (or a cycle)");
            }
            let page = memmap.desc(cur);
            if page.prev != prev {
                return Err("prev link does not match");
            }
            visit(cur)?;
            prev = cur;
            cur = page.next;
        }
        if seen != self.len {
            return Err("list shorter than its count");
        }
        if self.tail != prev {
            return Err("tail does not match the last page");
        }
        Ok(())
    }
}
