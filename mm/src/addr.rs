//! Page-size constants and the physical frame number type shared by every module.
//! Frames are reached through an identity ("direct") map: in the kernel physical
//! addresses are mapped 1:1, on the host tests hand the allocator real host memory.

/// log2 of the base page size (4 KiB, the only granule this kernel uses).
pub const PAGE_SHIFT: u32 = 12;
/// Base page size in bytes.
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;

/// A physical frame number: physical address >> `PAGE_SHIFT`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pfn(pub u64);

impl Pfn {
    /// The frame holding physical address `addr`.
    pub const fn containing(addr: u64) -> Self {
        Pfn(addr >> PAGE_SHIFT)
    }

    /// Physical address of the first byte of the frame.
    pub const fn addr(self) -> u64 {
        self.0 << PAGE_SHIFT
    }

    /// Linux's `page_address()`: where the frame's bytes are, through the direct map.
    pub fn page_address(self) -> *mut u8 {
        self.addr() as usize as *mut u8
    }
}

/// A range of physical memory `[base, base + size)`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PhysRange {
    /// First byte's physical address.
    pub base: u64,
    /// Length in bytes.
    pub size: u64,
}

impl PhysRange {
    /// One past the last byte.
    pub const fn end(&self) -> u64 {
        self.base + self.size
    }
}
