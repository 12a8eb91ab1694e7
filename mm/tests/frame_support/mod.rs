//! Host "physical memory" for frame and LRU tests, benchmarks and fuzzing: a 4 KiB
//! aligned buffer from `std::alloc`, so `Pfn::page_address` of its frames is a valid
//! host pointer. The zone writes its page descriptors into it.

use std::alloc::{Layout, alloc_zeroed, dealloc};

use mm::addr::{PAGE_SIZE, PhysRange};

pub struct HostRam {
    base: *mut u8,
    layout: Layout,
}

impl HostRam {
    /// `size` bytes (a multiple of 4 KiB) aligned to `align` (at least 4 KiB).
    pub fn new(size: usize, align: usize) -> HostRam {
        assert!(size > 0 && size.is_multiple_of(PAGE_SIZE) && align >= PAGE_SIZE);
        let layout = Layout::from_size_align(size, align).expect("valid layout");
        // SAFETY: the layout has a non-zero size.
        let base = unsafe { alloc_zeroed(layout) };
        assert!(!base.is_null(), "host allocation of {size} bytes failed");
        HostRam { base, layout }
    }

    /// The sub-range `[offset, offset + size)` of the buffer.
    pub fn range(&self, offset: u64, size: u64) -> PhysRange {
        assert!(offset + size <= self.layout.size() as u64);
        PhysRange {
            base: self.base as u64 + offset,
            size,
        }
    }
}

impl Drop for HostRam {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout. Zones built on it must not be
        // used afterwards (they have no Drop; users declare the HostRam first).
        unsafe { dealloc(self.base, self.layout) };
    }
}
