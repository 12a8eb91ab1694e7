//! The reverse map: for each frame, who maps it (an opaque non-zero word: the kernel
//! stores the virtual address, the host harness the page index plus one), read by
//! reclaim without any lock. It only records; whether the mapping still holds is for
//! the reader to check against the page table (a stale entry must be harmless there).
//!
//! Orderings: the fault path writes the entry before it puts the frame on the LRU
//! (under the node lock), and reclaim reads it after taking the frame off the LRU
//! (under the same lock), so the lock orders them and Relaxed is enough; no protocol
//! of its own to model, so `core` atomics even under loom (as `vmstat`).

use core::sync::atomic::{AtomicU64, Ordering};

use crate::addr::Pfn;

/// One slot per frame of `[first, first + slots.len())`; 0 means "nobody".
pub struct Rmap<'a> {
    first: u64,
    slots: &'a [AtomicU64],
}

impl<'a> Rmap<'a> {
    /// A map of the frames from `first` on, one per slot (zeroed by the caller).
    pub fn new(first: Pfn, slots: &'a [AtomicU64]) -> Self {
        Self {
            first: first.0,
            slots,
        }
    }

    fn slot(&self, pfn: Pfn) -> Option<&AtomicU64> {
        let i = usize::try_from(pfn.0.checked_sub(self.first)?).ok()?;
        self.slots.get(i)
    }

    /// Records that `owner` (non-zero) maps `pfn`; 0 forgets it. A pfn outside the
    /// map is ignored (it is never reclaimed through it).
    pub fn set(&self, pfn: Pfn, owner: u64) {
        if let Some(slot) = self.slot(pfn) {
            slot.store(owner, Ordering::Relaxed);
        }
    }

    /// Who maps `pfn`, if anybody was recorded.
    pub fn get(&self, pfn: Pfn) -> Option<u64> {
        self.slot(pfn)
            .map(|slot| slot.load(Ordering::Relaxed))
            .filter(|&owner| owner != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_forget_and_outside_frames() {
        let slots: std::vec::Vec<AtomicU64> = (0..4).map(|_| AtomicU64::new(0)).collect();
        let rmap = Rmap::new(Pfn(100), &slots);
        assert_eq!(rmap.get(Pfn(101)), None);
        rmap.set(Pfn(101), 0x4000_1000);
        assert_eq!(rmap.get(Pfn(101)), Some(0x4000_1000));
        rmap.set(Pfn(101), 0);
        assert_eq!(rmap.get(Pfn(101)), None);
        for outside in [Pfn(0), Pfn(99), Pfn(104), Pfn(u64::MAX)] {
            rmap.set(outside, 7);
            assert_eq!(rmap.get(outside), None);
        }
    }
}
