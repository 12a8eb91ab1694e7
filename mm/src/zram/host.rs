//! A `FrameSource` over page-aligned host memory, for tests, benchmarks and fuzzing of the
//! compressed store: a budget makes it run dry on demand, and it checks every frame given
//! back was its own and held. Host-only (`std`); the kernel uses the buddy allocator.

use super::FrameSource;
use crate::addr::{PAGE_SIZE, Pfn};
use std::vec::Vec;

#[repr(C, align(4096))]
struct HostPage([u8; PAGE_SIZE]);

const _: () = assert!(align_of::<HostPage>() == PAGE_SIZE);

/// `nr_frames` frames of host memory, handed out through the "direct map" (host addresses).
pub struct HostFrames {
    /// Never touched after creation: frames are reached through `base` only.
    _memory: Vec<HostPage>,
    base: *mut u8,
    nr_frames: usize,
    free: Vec<Pfn>,
    held: Vec<bool>,
    budget: Option<usize>,
}

// SAFETY: `HostFrames` owns the memory behind `base`; the raw pointer is only a cached
// address of its own buffer, so moving it to another thread moves the whole ownership.
unsafe impl Send for HostFrames {}

impl HostFrames {
    /// `nr_frames` zeroed frames, all free, no budget.
    pub fn new(nr_frames: usize) -> Self {
        let mut memory: Vec<HostPage> = (0..nr_frames).map(|_| HostPage([0; PAGE_SIZE])).collect();
        let base = memory.as_mut_ptr().cast::<u8>();
        let first = Pfn::containing(base as u64);
        // Highest address first out, so frames are handed out in ascending order.
        let free = (0..nr_frames as u64)
            .rev()
            .map(|i| Pfn(first.0 + i))
            .collect();
        HostFrames {
            _memory: memory,
            base,
            nr_frames,
            free,
            held: std::vec![false; nr_frames],
            budget: None,
        }
    }

    /// Most frames that may be held at once (`None`: all of them).
    pub fn set_budget(&mut self, budget: Option<usize>) {
        self.budget = budget;
    }

    /// Frames handed out and not given back.
    pub fn outstanding(&self) -> usize {
        self.nr_frames - self.free.len()
    }

    /// Every byte of every frame, held or free, for fault injection.
    pub fn arena_mut(&mut self) -> &mut [u8] {
        // SAFETY: `base` points to `nr_frames * PAGE_SIZE` bytes owned by `self._memory`,
        // initialised at creation; `&mut self` keeps the store (which owns `self`) from
        // touching them while the slice lives.
        unsafe { core::slice::from_raw_parts_mut(self.base, self.nr_frames * PAGE_SIZE) }
    }

    /// Offset in `arena_mut` of each frame currently held.
    pub fn held_offsets(&self) -> impl Iterator<Item = usize> + '_ {
        self.held
            .iter()
            .enumerate()
            .filter(|(_, held)| **held)
            .map(|(i, _)| i * PAGE_SIZE)
    }

    fn index(&self, pfn: Pfn) -> usize {
        let first = Pfn::containing(self.base as u64).0;
        let index = pfn.0.wrapping_sub(first) as usize;
        assert!(
            index < self.nr_frames,
            "frame {pfn:?} is not from this source"
        );
        index
    }
}

// SAFETY: every frame is a distinct, page-aligned 4 KiB block of `_memory`, which lives
// as long as `self`; a frame is handed out only while not held (`held` tracks it).
unsafe impl FrameSource for HostFrames {
    fn alloc_frame(&mut self) -> Option<Pfn> {
        if self
            .budget
            .is_some_and(|budget| self.outstanding() >= budget)
        {
            return None;
        }
        let pfn = self.free.pop()?;
        let index = self.index(pfn);
        self.held[index] = true;
        Some(pfn)
    }

    fn free_frame(&mut self, pfn: Pfn) {
        let index = self.index(pfn);
        assert!(self.held[index], "frame {pfn:?} freed twice");
        self.held[index] = false;
        self.free.push(pfn);
    }
}
