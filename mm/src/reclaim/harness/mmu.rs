//! The harness's simulated MMU: one atomic PTE per workload page, a reverse map from
//! frame to page, the `Mmu` the policy ages and unmaps through, and the store's frames
//! from the zone. Owns the PTE encoding; never decides what to reclaim.

use std::vec::Vec;

use spin::mutex::Mutex;

use super::YieldRelax;
use crate::addr::{PAGE_SIZE, Pfn};
use crate::reclaim::policy::{Mmu, Node};
use crate::reclaim::swap::SwapEntry;
use crate::rmap::Rmap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::zram::FrameSource;

pub(super) const PRESENT: u64 = 1 << 63;
pub(super) const ACCESSED: u64 = 1 << 62;
/// The workload is using the page right now (stands in for a live TLB entry).
pub(super) const LOCKED: u64 = 1 << 61;
pub(super) const SWAPPED: u64 = 1 << 60;
pub(super) const PFN_MASK: u64 = (1 << 40) - 1;

/// One PTE per workload page plus a reverse map from frame to page.
pub(super) struct PageTable<'r> {
    pub(super) ptes: Vec<AtomicU64>,
    /// Page index + 1 of the page last mapped in each frame of the host buffer.
    pub(super) rmap: Rmap<'r>,
}

impl PageTable<'_> {
    fn pte_of(&self, pfn: Pfn) -> Option<&AtomicU64> {
        let page = self.rmap.get(pfn)? - 1;
        self.ptes.get(page as usize)
    }

    /// Maps `pfn` for `page`, locked for the caller's use.
    pub(super) fn map_locked(&self, page: usize, pfn: Pfn) {
        self.rmap.set(pfn, page as u64 + 1);
        // Release: the frame's new contents before the mapping.
        self.ptes[page].store(PRESENT | ACCESSED | LOCKED | pfn.0, Ordering::Release);
    }
}

/// `Mmu` over the simulated page table. A stale rmap entry is harmless: every
/// operation checks that the PTE still maps the frame it was asked about.
#[derive(Copy, Clone)]
pub(super) struct SimMmu<'h>(pub(super) &'h PageTable<'h>);

impl Mmu for SimMmu<'_> {
    fn test_and_clear_young(&mut self, pfn: Pfn) -> bool {
        let Some(pte) = self.0.pte_of(pfn) else {
            return false;
        };
        let mut v = pte.load(Ordering::Relaxed);
        loop {
            if v & PRESENT == 0 || v & PFN_MASK != pfn.0 {
                return false;
            }
            if v & LOCKED != 0 {
                return true;
            }
            if v & ACCESSED == 0 {
                return false;
            }
            match pte.compare_exchange(v, v & !ACCESSED, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(now) => v = now,
            }
        }
    }

    fn try_to_unmap(&mut self, pfn: Pfn, entry: SwapEntry) -> bool {
        let Some(pte) = self.0.pte_of(pfn) else {
            return false;
        };
        // AcqRel: Acquire pairs with the workload's Release when it unlocked the PTE
        // (its writes to the frame are visible to us, then to the compressor through
        // the ring); fails if the page is accessed or in use.
        pte.compare_exchange(
            PRESENT | pfn.0,
            SWAPPED | entry.to_bits(),
            Ordering::AcqRel,
            Ordering::Relaxed,
        )
        .is_ok()
    }

    fn flush_tlb(&mut self) {
        // Nothing deferred: the unmapping CAS already Acquired the workload's Release.
    }

    fn walk_young(&mut self, young: &mut dyn FnMut(Pfn)) {
        for pte in &self.0.ptes {
            let mut v = pte.load(Ordering::Relaxed);
            loop {
                if v & PRESENT == 0 {
                    break;
                }
                // A page in use right now is young, as in `test_and_clear_young`.
                if v & LOCKED != 0 {
                    young(Pfn(v & PFN_MASK));
                    break;
                }
                if v & ACCESSED == 0 {
                    break;
                }
                match pte.compare_exchange(v, v & !ACCESSED, Ordering::Relaxed, Ordering::Relaxed) {
                    Ok(_) => {
                        young(Pfn(v & PFN_MASK));
                        break;
                    }
                    Err(now) => v = now,
                }
            }
        }
    }
}

/// The store's frames come from the same zone as everything else, as zram's do.
pub(super) struct NodeFrames<'a>(pub(super) &'a Mutex<Node, YieldRelax>);

// SAFETY: frames come from the zone, which manages the harness's host buffer (reached
// through the direct map = host addresses); a frame allocated here is used by the
// store only, until it comes back through `free_frame`.
unsafe impl FrameSource for NodeFrames<'_> {
    fn alloc_frame(&mut self) -> Option<Pfn> {
        self.0.lock().zone.alloc_pages(0).ok()
    }

    fn free_frame(&mut self, pfn: Pfn) {
        let _ = self.0.lock().zone.free_pages(pfn, 0);
    }
}

#[repr(C, align(4096))]
pub(super) struct HostPage(pub(super) [u8; PAGE_SIZE]);
