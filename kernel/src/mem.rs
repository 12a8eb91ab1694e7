//! Kernel memory at boot: carves the heap out of usable RAM and hands every remaining
//! usable frame to the buddy allocator (`mm::frame::Zone`, kept in a `spin::Mutex`).
//! "Usable" is the DTB's memory minus its reserved regions, minus the kernel image
//! (with its page tables and stacks), the DTB and the unmapped first 2 MiB.

use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use linked_list_allocator::LockedHeap;
use mm::addr::PhysRange;
use mm::frame::{MAX_RANGES, Zone, ZoneConfig, ZoneInitError};
use platform::{ArrayVec, Board, MAX_USABLE, Region, TooManyRegions};

use crate::arch::aarch64::mmu;
use kernel::memmap::{NULL_GUARD_END, Span};
use kernel::sizing::{HEAP_MAX, HEAP_SHARE};

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Bytes the kernel heap has free (fragmentation aside): what a subsystem checks before
/// allocating its metadata, so that a machine too small gets an error, not a panic.
pub fn heap_free() -> usize {
    HEAP.lock().free()
}

/// Bytes of kernel heap in use (meminfo's `Slab:`).
pub fn heap_used() -> usize {
    HEAP.lock().used()
}

/// The heap's size.
pub fn heap_size() -> usize {
    HEAP.lock().size()
}

/// RAM, all of it (the DTB's memory nodes), from `init`.
static RAM_BYTES: AtomicU64 = AtomicU64::new(0);

/// RAM, all of it: what `--mem` gave.
pub fn ram_bytes() -> u64 {
    RAM_BYTES.load(Ordering::Relaxed)
}

/// The physical frame allocator (one zone, like Linux's ZONE_NORMAL).
pub static FRAMES: spin::Mutex<Option<Zone>> = spin::Mutex::new(None);

/// Heap size: `HEAP_SHARE` (1/16) of usable memory, at most `HEAP_MAX`. Reclaim's
/// metadata (swap map and zram slot table, ~100 bytes per page of twice the RAM) lives
/// on the heap (`kernel::sizing`).
const PAGE: u64 = mm::addr::PAGE_SIZE as u64;

/// Free regions: the usable ones plus room for the holes `init` cuts.
type Free = ArrayVec<Region, { MAX_USABLE + 4 }>;

#[derive(Debug)]
pub enum MemError {
    TooManyRegions(TooManyRegions),
    NoRoomForHeap { size: u64 },
    Zone(ZoneInitError),
}

impl fmt::Display for MemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemError::TooManyRegions(e) => write!(f, "free memory: {e}"),
            MemError::NoRoomForHeap { size } => {
                write!(f, "no free region of {size} bytes for the heap")
            }
            MemError::Zone(e) => write!(f, "frame allocator: {e}"),
        }
    }
}

/// What `init` set up.
pub struct MemReport {
    pub heap: Span,
    pub nr_free_pages: u64,
    pub managed_pages: u64,
    /// Pages holding the allocator's own page descriptors.
    pub memmap_pages: u64,
    /// Free regions left out because the allocator takes at most `MAX_RANGES`.
    pub unmanaged: ArrayVec<Region, { MAX_USABLE + 4 }>,
}

/// Sets up the heap and the frame allocator. Boot CPU, once, after `mmu::init` (the
/// allocator writes its descriptors through the final map).
pub fn init(board: &Board<'_>, dtb: Span) -> Result<MemReport, MemError> {
    let mut free: Free = board.usable.iter().copied().collect();
    let image = mmu::kernel_image();
    let holes = [
        Region::new(0, NULL_GUARD_END),
        Region::new(image.text.start, image.data.end - image.text.start),
        Region::new(
            dtb.start / PAGE * PAGE,
            dtb.end.div_ceil(PAGE) * PAGE - dtb.start / PAGE * PAGE,
        ),
    ];
    for hole in holes {
        platform::subtract(&mut free, hole).map_err(MemError::TooManyRegions)?;
    }
    // Whole pages only.
    for r in free.iter_mut() {
        let (start, end) = (r.base.div_ceil(PAGE) * PAGE, r.end() / PAGE * PAGE);
        *r = Region::new(start, end.saturating_sub(start));
    }
    free.retain(|r| !r.is_empty());

    let total: u64 = free.iter().map(|r| r.size).sum();
    RAM_BYTES.store(board.memory.iter().map(|r| r.size).sum(), Ordering::Relaxed);
    let heap_size = (total / HEAP_SHARE).min(HEAP_MAX) / PAGE * PAGE;
    let slot = free
        .iter()
        .rev()
        .find(|r| r.size >= heap_size)
        .ok_or(MemError::NoRoomForHeap { size: heap_size })?;
    let heap = Region::new(slot.end() - heap_size, heap_size);
    platform::subtract(&mut free, heap).map_err(MemError::TooManyRegions)?;
    // SAFETY: the heap region is usable RAM, mapped read/write, owned by nobody else
    // (cut out of the frame allocator's ranges above); done once.
    unsafe { HEAP.lock().init(heap.base as *mut u8, heap.size as usize) };

    // The allocator takes at most MAX_RANGES ranges: keep the largest, report the rest.
    free.sort_unstable_by_key(|r| core::cmp::Reverse(r.size));
    let unmanaged: ArrayVec<Region, { MAX_USABLE + 4 }> =
        free.iter().skip(MAX_RANGES).copied().collect();
    let mut ranges: ArrayVec<PhysRange, MAX_RANGES> = free
        .iter()
        .take(MAX_RANGES)
        .map(|r| PhysRange {
            base: r.base,
            size: r.size,
        })
        .collect();
    ranges.sort_unstable_by_key(|r| r.base);
    // SAFETY: these ranges are usable RAM, identity-mapped read/write by the final map,
    // disjoint from the kernel image, page tables, stacks, DTB and heap; the zone owns
    // them from here on.
    let zone = unsafe { Zone::new(&ranges, ZoneConfig::default()) }.map_err(MemError::Zone)?;
    let report = MemReport {
        heap: Span::new(heap.base, heap.end()),
        nr_free_pages: zone.nr_free_pages(),
        managed_pages: zone.managed_pages(),
        memmap_pages: zone.memmap_pages(),
        unmanaged,
    };
    *FRAMES.lock() = Some(zone);
    Ok(report)
}
