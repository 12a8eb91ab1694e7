//! Per-CPU order-0 page caches, Linux's `per_cpu_pages` (`count`, `high`, `batch`).
//! Each CPU owns one `PerCpuPages` and allocates from / frees to it without the zone
//! lock; only refilling (`Zone::rmqueue_pcp`) and draining (`Zone::free_pcp`,
//! `Zone::drain_pcp`) take it. Owns the cached pfns, never touches page descriptors
//! on the lock-free path (they belong to the zone and its lock).
//!
//! Pages on a pcp count as allocated for the zone and are not in `nr_free_pages()`,
//! as in Linux, where pcp pages are not in `NR_FREE_PAGES`.
//!
//! Checks: the lock-free `free` refuses pfns outside the zone's managed memory and
//! pages already on this list; a page freed twice through two different paths (two
//! CPUs, or `Zone::free_pages` and a pcp) is caught under the lock when it drains,
//! where it is dropped and counted in `Zone::pcp_bad_frees()` (Linux's
//! `bulkfree_pcp_prepare()` with `CONFIG_DEBUG_VM`).

use crate::addr::Pfn;

use super::memmap::{MAX_RANGES, ManagedSpan};
use super::{AllocError, FreeError, Zone};

/// Most pages one pcp can hold; `high` must not exceed it. Linux's default batch for
/// large zones is 63 and `high` was 6 * batch = 378.
pub const PCP_CAPACITY: usize = 512;

/// Bad `batch` / `high` for a pcp.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PcpConfigError {
    /// `batch` is 0.
    ZeroBatch,
    /// `high` is below `batch`: a drain would have nothing to keep.
    HighBelowBatch,
    /// `high` is above [`PCP_CAPACITY`].
    HighAboveCapacity,
}

/// Why the lock-free [`PerCpuPages::free`] did not take a page.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PcpFreeError {
    /// The list is at `high`: call `Zone::free_pcp` under the zone lock, which drains a
    /// batch and then caches the page.
    Full,
    /// The page is not the zone's to take (nothing changed).
    Bad(FreeError),
}

/// One CPU's cache of free order-0 pages (a ring: allocations take the newest,
/// cache-hot page; drains return the oldest).
pub struct PerCpuPages {
    pages: [Pfn; PCP_CAPACITY],
    first: usize,
    count: u32,
    high: u32,
    batch: u32,
    spans: [ManagedSpan; MAX_RANGES],
    nr_spans: usize,
}

impl PerCpuPages {
    /// Pages cached now (`pcp->count`).
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Drain threshold (`pcp->high`).
    pub fn high(&self) -> u32 {
        self.high
    }

    /// Pages moved per refill or drain (`pcp->batch`).
    pub fn batch(&self) -> u32 {
        self.batch
    }

    /// Lock-free fast path: the most recently cached page, or `None` when empty (then
    /// refill under the zone lock with `Zone::rmqueue_pcp`).
    pub fn alloc(&mut self) -> Option<Pfn> {
        if self.count == 0 {
            return None;
        }
        self.count -= 1;
        Some(self.pages[self.slot(self.count)])
    }

    /// Lock-free fast path: caches an order-0 page the caller allocated (see the
    /// module note for what is checked here and what only at drain). Any pfn outside
    /// the managed spans, memmap pages included, is `Bad(NotInZone)` here. Costs a scan
    /// of the list (at most `high` entries) for the duplicate check.
    pub fn free(&mut self, pfn: Pfn) -> Result<(), PcpFreeError> {
        if !self.spans[..self.nr_spans]
            .iter()
            .any(|s| (s.start..s.end).contains(&pfn))
        {
            return Err(PcpFreeError::Bad(FreeError::NotInZone));
        }
        if self.contains(pfn) {
            return Err(PcpFreeError::Bad(FreeError::DoubleFree));
        }
        if self.count >= self.high {
            return Err(PcpFreeError::Full);
        }
        self.push(pfn);
        Ok(())
    }

    /// Whether `pfn` is cached here.
    pub fn contains(&self, pfn: Pfn) -> bool {
        (0..self.count).any(|i| self.pages[self.slot(i)] == pfn)
    }

    fn slot(&self, i: u32) -> usize {
        (self.first + i as usize) % PCP_CAPACITY
    }

    fn push(&mut self, pfn: Pfn) {
        let slot = self.slot(self.count);
        self.pages[slot] = pfn;
        self.count += 1;
    }

    fn pop_oldest(&mut self) -> Option<Pfn> {
        if self.count == 0 {
            return None;
        }
        let pfn = self.pages[self.first];
        self.first = (self.first + 1) % PCP_CAPACITY;
        self.count -= 1;
        Some(pfn)
    }
}

/// The zone side of the pcp protocol: every method here runs under the zone lock.
impl Zone {
    /// Linux's `zone_batchsize()`: a quarter of the zone's managed pages per 1024,
    /// at most 1 MiB worth, rounded down to 2^n - 1 (so batches do not all hit the
    /// same cache colours).
    pub fn pcp_batch(&self) -> u32 {
        let batch = (self.managed_pages() >> 10).min(256) / 4;
        let batch = batch.max(1);
        let rounded = 1u64 << (batch + batch / 2).ilog2();
        (rounded - 1).max(1) as u32
    }

    /// A pcp with Linux's default sizes: `batch` from [`Zone::pcp_batch`], `high` six
    /// batches (`pageset_set_batch()` before per-CPU high became dynamic).
    pub fn default_pcp(&self) -> PerCpuPages {
        let batch = self.pcp_batch();
        self.new_pcp(batch, 6 * batch)
            .expect("6 * zone_batchsize() <= 6 * 63 fits PCP_CAPACITY")
    }

    /// A pcp for this zone with the given sizes.
    pub fn new_pcp(&self, batch: u32, high: u32) -> Result<PerCpuPages, PcpConfigError> {
        if batch == 0 {
            return Err(PcpConfigError::ZeroBatch);
        }
        if high < batch {
            return Err(PcpConfigError::HighBelowBatch);
        }
        if high as usize > PCP_CAPACITY {
            return Err(PcpConfigError::HighAboveCapacity);
        }
        let mut spans = [ManagedSpan {
            start: Pfn(0),
            end: Pfn(0),
        }; MAX_RANGES];
        let mut nr_spans = 0;
        for span in self.memmap.managed_spans() {
            spans[nr_spans] = span;
            nr_spans += 1;
        }
        Ok(PerCpuPages {
            pages: [Pfn(0); PCP_CAPACITY],
            first: 0,
            count: 0,
            high,
            batch,
            spans,
            nr_spans,
        })
    }

    /// Linux's `rmqueue_pcplist()`: a page from the pcp, refilled with up to `batch`
    /// pages from the buddy lists first if it is empty.
    pub fn rmqueue_pcp(&mut self, pcp: &mut PerCpuPages) -> Result<Pfn, AllocError> {
        if pcp.count == 0 {
            for _ in 0..pcp.batch {
                match self.alloc_pages(0) {
                    Ok(pfn) => pcp.push(pfn),
                    Err(_) => break,
                }
            }
        }
        pcp.alloc().ok_or(AllocError::OutOfMemory)
    }

    /// Linux's `free_unref_page()` slow path: checks the page fully, drains `batch`
    /// pages to the buddy lists if the pcp is at `high`, then caches the page.
    pub fn free_pcp(&mut self, pcp: &mut PerCpuPages, pfn: Pfn) -> Result<(), FreeError> {
        self.check_free(pfn, 0)?;
        if pcp.contains(pfn) {
            return Err(FreeError::DoubleFree);
        }
        if pcp.count >= pcp.high {
            self.drain_pcp(pcp, pcp.batch);
        }
        pcp.push(pfn);
        Ok(())
    }

    /// Linux's `free_pcppages_bulk()`: returns up to `nr` of the oldest cached pages to
    /// the buddy lists (all of them with `nr = pcp.count()`, as `drain_pages()` does).
    /// Returns how many were freed; bad ones are dropped and counted instead.
    pub fn drain_pcp(&mut self, pcp: &mut PerCpuPages, nr: u32) -> u32 {
        let mut freed = 0;
        for _ in 0..nr {
            let Some(pfn) = pcp.pop_oldest() else { break };
            match self.free_pages(pfn, 0) {
                Ok(()) => freed += 1,
                Err(_) => self.pcp_bad_frees += 1,
            }
        }
        freed
    }

    /// Pages dropped at drain because they were no longer the pcp's to free.
    pub fn pcp_bad_frees(&self) -> u64 {
        self.pcp_bad_frees
    }
}
