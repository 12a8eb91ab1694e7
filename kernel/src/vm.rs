//! The workload (anonymous memory) region: its translation tables, built from the
//! frame allocator and linked into the kernel's root table, PTE access for the fault
//! path and for reclaim (`reclaim::KernelMmu`), TLB shootdown (arch's `mmu` issues the
//! instructions), and which faults are the region's (`is_region_fault`, for `fault`'s
//! hook). Owns the region's tables; the frames and the LRU are the policy's
//! (`mm::reclaim`), the descriptor encoding is `kernel::anon_pte`'s.
//!
//! One address space: every core runs on the same TTBR0, so the region is shared and
//! each workload owns a slice of it. A frame's reverse map is its `mm::rmap` slot
//! (`reclaim::set_rmap`): the VA that maps it (0: none). A stale entry is harmless:
//! every user checks that the PTE at that VA still maps the frame.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use kernel::anon_pte::{AnonPte, PTE_AF};
use kernel::esr::{Esr, FaultKind};
use mm::addr::{PAGE_SIZE, Pfn};
use mm::frame::Zone;

use crate::arch::aarch64::mmu;

/// The region's TLB maintenance and PTE publication: the instructions are arch's.
pub use crate::arch::aarch64::mmu::{flush_tlb_all, publish_pte};

/// Where the region starts: root slot 128 (64 TiB), far above any RAM or device the
/// identity map covers, so it never shares a table with the kernel's map.
pub const REGION_BASE: u64 = 0x4000_0000_0000;
const ROOT_SLOT: usize = (REGION_BASE >> 39) as usize;
/// The region's size limit: one root slot (512 GiB).
const REGION_MAX_PAGES: usize = 1 << 27;
const ENTRIES: usize = 512;

/// The region's tables: level-3 table addresses, one per 2 MiB of the region.
struct Region {
    pages: usize,
    l3: Vec<u64>,
    tables: usize,
}

static REGION: spin::Once<Region> = spin::Once::new();

/// Why the region could not be built.
#[derive(Debug)]
pub enum RegionError {
    TooLarge {
        pages: usize,
    },
    NoMemory {
        tables: usize,
    },
    /// The heap cannot hold the list of level-3 tables.
    NoHeap {
        bytes: usize,
    },
    AlreadyBuilt,
    Link,
}

impl core::fmt::Display for RegionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RegionError::TooLarge { pages } => write!(f, "{pages} pages exceed the region"),
            RegionError::NoMemory { tables } => {
                write!(f, "out of frames after {tables} translation tables")
            }
            RegionError::NoHeap { bytes } => {
                write!(f, "no {bytes} bytes of kernel heap for its table list")
            }
            RegionError::AlreadyBuilt => f.write_str("the workload region exists already"),
            RegionError::Link => f.write_str("root table slot for the region is taken"),
        }
    }
}

/// Builds tables for `pages` pages at `REGION_BASE`, all empty (every access faults),
/// with frames from `zone`, and links them into the live map. Tables are built up
/// front, so the fault path never allocates one. Returns the number of tables.
pub fn build(zone: &mut Zone, pages: usize) -> Result<usize, RegionError> {
    if pages == 0 || pages > REGION_MAX_PAGES {
        return Err(RegionError::TooLarge { pages });
    }
    if REGION.is_completed() {
        return Err(RegionError::AlreadyBuilt);
    }
    let mut tables = 0;
    let mut table = |zone: &mut Zone| -> Result<u64, RegionError> {
        let pfn = zone
            .alloc_pages(0)
            .map_err(|_| RegionError::NoMemory { tables })?;
        tables += 1;
        let pa = pfn.addr();
        // SAFETY: a frame just allocated for us, identity-mapped read/write; zeroed
        // before it is linked anywhere.
        unsafe { core::ptr::write_bytes(pa as *mut u8, 0, PAGE_SIZE) };
        Ok(pa)
    };
    let link = |parent: u64, index: usize, child: u64| {
        // SAFETY: `parent` is one of our zeroed tables, not yet reachable by the MMU.
        unsafe { (parent as *mut u64).add(index).write(child | 0b11) };
    };
    let nr_l3 = pages.div_ceil(ENTRIES);
    let mut l3 = Vec::new();
    l3.try_reserve_exact(nr_l3)
        .map_err(|_| RegionError::NoHeap {
            bytes: nr_l3 * size_of::<u64>(),
        })?;
    let l1 = table(zone)?;
    let mut l2 = 0;
    for i in 0..nr_l3 {
        if i % ENTRIES == 0 {
            l2 = table(zone)?;
            link(l1, i / ENTRIES, l2);
        }
        let t = table(zone)?;
        link(l2, i % ENTRIES, t);
        l3.push(t);
    }
    mmu::link_root_slot(ROOT_SLOT, l1).map_err(|_| RegionError::Link)?;
    REGION.call_once(|| Region { pages, l3, tables });
    Ok(tables)
}

/// Translation tables the region took.
pub fn tables() -> usize {
    REGION.get().map_or(0, |r| r.tables)
}

/// Address of page `index` of the region.
pub fn page_va(index: usize) -> u64 {
    REGION_BASE + (index * PAGE_SIZE) as u64
}

fn page_index(va: u64) -> Option<usize> {
    let index = (va.checked_sub(REGION_BASE)? / PAGE_SIZE as u64) as usize;
    (index < REGION.get()?.pages).then_some(index)
}

/// The PTE of page `index` (`None` outside the region).
pub fn pte(index: usize) -> Option<&'static AtomicU64> {
    let region = REGION.get()?;
    if index >= region.pages {
        return None;
    }
    let table = region.l3[index / ENTRIES] as *const AtomicU64;
    // SAFETY: `table` is a level-3 table of the region, live for the kernel's life and
    // only ever accessed atomically (by the MMU's walks and updates too).
    Some(unsafe { &*table.add(index % ENTRIES) })
}

/// The PTE mapping `va`, if `va` is in the region.
pub fn pte_of_va(va: u64) -> Option<&'static AtomicU64> {
    pte(page_index(va)?)
}

/// The multi-gen LRU's aging walk over the region: tests and clears the access flag of
/// every present PTE and reports each frame that had it (see `test_and_clear_young`
/// for why no TLB invalidation is owed).
pub fn walk_young(young: &mut dyn FnMut(Pfn)) {
    let Some(region) = REGION.get() else {
        return;
    };
    for index in 0..region.pages {
        let Some(pte) = pte(index) else {
            continue;
        };
        let mut v = pte.load(Ordering::Relaxed);
        while let AnonPte::Present { pa, young: true } = AnonPte::decode(v) {
            match pte.compare_exchange(v, v & !PTE_AF, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => {
                    young(Pfn::containing(pa));
                    break;
                }
                Err(now) => v = now,
            }
        }
    }
}

/// `Mmu::test_and_clear_young` on the PTE at `va` mapping `pfn`. No flush is owed, as
/// on x86 Linux (arm64 Linux's is not waited for): a TLB entry still holding AF = 1
/// hides accesses until the next shootdown, so a page may look colder than it is, and
/// `try_to_unmap`'s own shootdown keeps that safe.
pub fn test_and_clear_young(va: u64, pfn: Pfn) -> bool {
    let Some(pte) = pte_of_va(va) else {
        return false;
    };
    let mut v = pte.load(Ordering::Relaxed);
    loop {
        match AnonPte::decode(v) {
            AnonPte::Present { pa, young: true } if pa == pfn.addr() => {}
            _ => return false,
        }
        match pte.compare_exchange(v, v & !PTE_AF, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return true,
            Err(now) => v = now,
        }
    }
}

/// `Mmu::try_to_unmap`: the PTE at `va` goes from "maps `pfn`, not accessed" to the
/// swap entry `bits`; the caller owes a `flush_tlb_all` before anyone reads the frame.
/// Fails if the access flag is set (by an access-flag fault or by the hardware) or
/// the PTE maps something else.
pub fn try_to_unmap(va: u64, pfn: Pfn, bits: u64) -> bool {
    let (Some(pte), Some(old), Some(new)) = (
        pte_of_va(va),
        AnonPte::Present {
            pa: pfn.addr(),
            young: false,
        }
        .encode(),
        AnonPte::Swap(bits).encode(),
    ) else {
        return false;
    };
    if pte
        .compare_exchange(old, new, Ordering::AcqRel, Ordering::Relaxed)
        .is_err()
    {
        return false;
    }
    true
}

/// Whether a synchronous exception is a fault the region's handler takes: a data
/// abort at EL1 on a region address, translation or access-flag fault at level 3
/// (the tables above level 3 are built up front, so only level 3 can miss).
pub fn is_region_fault(esr: u64, far: u64) -> bool {
    let esr = Esr(esr);
    let Some(abort) = esr.abort() else {
        return false;
    };
    esr.ec() == kernel::esr::ec::DABT_CUR
        && abort.far_valid
        && abort.level == Some(3)
        && matches!(abort.kind, FaultKind::Translation | FaultKind::AccessFlag)
        && page_index(far).is_some()
}
