//! One workload thread of the harness: touches its slice of pages in a pattern, faults
//! them in through the policy, checks every byte it reads back against `pagegen`, and
//! keeps each page's version. Owns its pages' versions; reclaims nothing itself.

use std::sync::atomic::Ordering;
use std::thread::{self, Thread};
use std::time::Instant;
use std::vec;
use std::vec::Vec;

use super::Shared;
use super::config::Pattern;
use super::mmu::{ACCESSED, LOCKED, PFN_MASK, PRESENT, PageTable, SWAPPED, SimMmu};
use crate::addr::{PAGE_SIZE, Pfn};
use crate::apps::session::{AppFigures, AppHost, Session, Stop};
use crate::apps::table::AppTable;
use crate::apps::{self, AppPattern};
use crate::latency::LatencyHist;
use crate::pagegen::{PageGen, SplitMix64};
use crate::psi::PsiCpu;
use crate::reclaim::policy::{Reclaimer, SwapIn, SwapInError};
use crate::reclaim::swap::{SwapEntry, SwapState};
use crate::vmstat::VmEvent;
use crate::zram::Compressor;

/// One workload thread: owns pages `first..first + pages` and their versions.
pub(super) struct Workload<'a> {
    pub(super) reclaim: &'a Shared<'a>,
    pub(super) table: &'a PageTable<'a>,
    pub(super) pages_gen: PageGen,
    pub(super) first: usize,
    pub(super) pages: usize,
    pub(super) kswapd: Thread,
    pub(super) pattern: Pattern,
    pub(super) write_pct: u8,
    pub(super) seed: u64,
    /// The run's apps (`AppSwitch`), shared with the killer, and this workload's index.
    pub(super) apps: &'a AppTable<super::YieldRelax>,
    pub(super) index: usize,
}

#[derive(Default)]
pub(super) struct WorkloadResult {
    pub(super) versions: Vec<u32>,
    pub(super) verified: u64,
    pub(super) corrupt: u64,
    pub(super) oom: bool,
    pub(super) accesses: u64,
    /// Faults that needed a frame, in ns.
    pub(super) faults: LatencyHist,
    /// App switches, cold starts and kills (`AppSwitch`), in ns.
    pub(super) apps: AppFigures,
}

impl WorkloadResult {
    /// Adds `out`, the result of the workload whose pages start at `first`.
    pub(super) fn add(&mut self, first: usize, out: &WorkloadResult) {
        self.versions[first..][..out.versions.len()].copy_from_slice(&out.versions);
        self.verified += out.verified;
        self.corrupt += out.corrupt;
        self.oom |= out.oom;
        self.accesses += out.accesses;
        self.faults.merge(&out.faults);
        self.apps.merge(&out.apps);
    }
}

impl Workload<'_> {
    /// Runs `ops` accesses (after the launch) with `stat` and `psi` its CPU's: the
    /// CPU is non-idle from start to end.
    pub(super) fn run(
        &self,
        ops: u64,
        stat: &crate::vmstat::CpuVmStat,
        psi: &PsiCpu,
    ) -> WorkloadResult {
        psi.task_start(self.reclaim.now_ns());
        let out = self.accesses(ops, stat, psi);
        psi.task_stop(self.reclaim.now_ns());
        out
    }

    fn accesses(&self, ops: u64, stat: &crate::vmstat::CpuVmStat, psi: &PsiCpu) -> WorkloadResult {
        let mut out = WorkloadResult {
            versions: vec![0; self.pages],
            ..WorkloadResult::default()
        };
        let mut compressor = Compressor::new();
        let mut reclaimer = Reclaimer {
            mmu: SimMmu(self.table),
            compressor: &mut compressor,
            stat,
            psi: Some(psi),
        };
        if let Pattern::AppSwitch { apps } = self.pattern {
            self.run_apps(apps, ops, &mut reclaimer, &mut out);
            return out;
        }
        let launch = match self.pattern {
            Pattern::Apps { .. } => self.pages,
            _ => 0,
        };
        let mut rng = SplitMix64(self.seed);
        let mut cursor = 0;
        for n in 0..launch as u64 + ops {
            let (local, write) = match n.checked_sub(launch as u64) {
                None => (n as usize, true),
                Some(n) => (
                    self.pick(&mut rng, &mut cursor, n),
                    apps::is_write(&mut rng, u64::from(self.write_pct)),
                ),
            };
            if self.access(&mut reclaimer, local, write, &mut out).is_err() {
                out.oom = true;
                break;
            }
            out.accesses += 1;
        }
        out
    }

    /// `AppSwitch`: the apps' launch and switches (`apps::session`).
    fn run_apps(
        &self,
        apps: usize,
        ops: u64,
        reclaimer: &mut Reclaimer<'_, SimMmu<'_>>,
        out: &mut WorkloadResult,
    ) {
        let set = (self.pages / apps.max(1)) as u64;
        let session = Session {
            table: self.apps,
            workload: self.index,
            pattern: AppPattern {
                apps,
                switch_every: set,
                seed: self.seed,
            },
            pages: self.pages,
            ops,
            write_pct: u64::from(self.write_pct),
        };
        let mut figures = AppFigures::default();
        let mut host = AppsHost {
            workload: self,
            reclaimer,
            out,
            start: Instant::now(),
        };
        if session.run(&mut host, &mut figures).is_err() {
            host.out.oom = true;
        }
        out.apps = figures;
    }

    /// Frees pages `local` for good (their app was killed): each PTE taken with one
    /// swap (reclaim's unmapping CAS then fails), then its frame or swap slot.
    fn zap(&self, local: core::ops::Range<usize>, versions: &mut [u32]) {
        let mut relax = || {
            thread::yield_now();
            true
        };
        for local in local {
            let v = self.table.ptes[self.first + local].swap(0, Ordering::AcqRel);
            if v & PRESENT != 0 {
                let pfn = Pfn(v & PFN_MASK);
                self.table.rmap.set(pfn, 0);
                self.reclaim.zap_frame(pfn, &mut relax);
            } else if let Some(entry) =
                SwapEntry::from_bits(v & !SWAPPED).filter(|_| v & SWAPPED != 0)
            {
                self.reclaim.zap_swap_entry(entry, &mut relax);
            }
            versions[local] = 0;
        }
    }

    /// The page of access `n` (counted after the launch).
    fn pick(&self, rng: &mut SplitMix64, cursor: &mut usize, n: u64) -> usize {
        match self.pattern {
            Pattern::Sequential => {
                *cursor = (*cursor + 1) % self.pages;
                *cursor
            }
            Pattern::Random => rng.below(self.pages),
            Pattern::HotCold => {
                let hot = (self.pages / 5).max(1);
                if rng.below(100) < 80 {
                    rng.below(hot)
                } else {
                    hot + rng.below(self.pages - hot)
                }
            }
            Pattern::Refault => {
                let start = rng.below(self.pages);
                if rng.below(2) == 0 {
                    for step in 0..64 {
                        let local = (start + step) % self.pages;
                        if self.in_writeback(local) {
                            return local;
                        }
                    }
                }
                start
            }
            Pattern::Apps { apps } | Pattern::AppSwitch { apps } => {
                let set = (self.pages / apps.max(1)) as u64;
                AppPattern {
                    apps,
                    switch_every: set,
                    seed: self.seed,
                }
                .pick(self.pages, rng, n)
            }
        }
    }

    /// Counts `frame` as verified if it holds page `page` at its current version.
    fn check(&self, out: &mut WorkloadResult, page: usize, local: usize, frame: &[u8; PAGE_SIZE]) {
        if self
            .pages_gen
            .matches(page as u64, out.versions[local], frame)
        {
            out.verified += 1;
        } else {
            out.corrupt += 1;
        }
    }

    fn in_writeback(&self, local: usize) -> bool {
        let v = self.table.ptes[self.first + local].load(Ordering::Relaxed);
        if v & SWAPPED == 0 {
            return false;
        }
        SwapEntry::from_bits(v & !SWAPPED).is_some_and(|entry| {
            matches!(
                self.reclaim.swap().state(entry),
                Some(SwapState::Writeback(_) | SwapState::Compressing(_))
            )
        })
    }

    /// Touches page `local`: faults it in if needed (checking what comes back), then
    /// reads it or writes a new version, with the PTE locked meanwhile.
    fn access(
        &self,
        reclaimer: &mut Reclaimer<'_, SimMmu<'_>>,
        local: usize,
        write: bool,
        out: &mut WorkloadResult,
    ) -> Result<(), ()> {
        let page = self.first + local;
        let pte = &self.table.ptes[page];
        let kswapd = &self.kswapd;
        let mut wake = || kswapd.unpark();
        let fault = (pte.load(Ordering::Relaxed) & PRESENT == 0).then(Instant::now);
        let locked = loop {
            let v = pte.load(Ordering::Acquire);
            if v & PRESENT != 0 {
                if pte
                    .compare_exchange(
                        v,
                        v | LOCKED | ACCESSED,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    )
                    .is_ok()
                {
                    break v | ACCESSED;
                }
                continue;
            }
            if v == 0 {
                let pfn = self
                    .reclaim
                    .alloc_page(reclaimer, &mut wake, &mut thread::yield_now)
                    .map_err(|_| ())?;
                reclaimer.stat.count(VmEvent::PgFault);
                // SAFETY: a frame just allocated for us, not yet mapped anywhere.
                let frame = unsafe { &mut *(pfn.page_address() as *mut [u8; PAGE_SIZE]) };
                self.pages_gen.fill(page as u64, out.versions[local], frame);
                self.table.map_locked(page, pfn);
                self.reclaim.lru_add_new(pfn);
                break PRESENT | ACCESSED | pfn.0;
            }
            let Some(entry) = SwapEntry::from_bits(v & !SWAPPED) else {
                out.corrupt += 1;
                pte.store(0, Ordering::Relaxed);
                continue;
            };
            let table = self.table;
            let mut map = |pfn: Pfn| table.map_locked(page, pfn);
            match self.reclaim.do_swap_page(
                reclaimer,
                entry,
                &mut wake,
                &mut thread::yield_now,
                &mut map,
            ) {
                Ok(SwapIn::Rescued(pfn) | SwapIn::Loaded(pfn)) => {
                    // SAFETY: mapped and locked by us: kswapd cannot unmap it.
                    let frame = unsafe { &*(pfn.page_address() as *const [u8; PAGE_SIZE]) };
                    self.check(out, page, local, frame);
                    break PRESENT | ACCESSED | pfn.0;
                }
                Ok(SwapIn::Retry) => {}
                Err(SwapInError::Load(_)) => {
                    // The page is lost; start it over so the run can go on.
                    out.corrupt += 1;
                    out.versions[local] = 0;
                    pte.store(0, Ordering::Relaxed);
                }
                Err(SwapInError::OutOfMemory) => return Err(()),
            }
        };
        if let Some(start) = fault {
            out.faults
                .record(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX));
        }
        // SAFETY: the PTE is locked by us: the frame is ours until we unlock.
        let frame =
            unsafe { &mut *(Pfn(locked & PFN_MASK).page_address() as *mut [u8; PAGE_SIZE]) };
        if write {
            out.versions[local] = out.versions[local].wrapping_add(1);
            self.pages_gen.fill(page as u64, out.versions[local], frame);
        } else if fault.is_none() {
            // A read of a resident page checks every byte, as the kernel's workload
            // does (a page just faulted in was checked by the fault).
            self.check(out, page, local, frame);
        }
        // Release: our writes to the frame before anyone who unmaps it.
        pte.store(locked, Ordering::Release);
        Ok(())
    }
}

/// The harness workload as `apps::session` sees it.
struct AppsHost<'w, 'a, 'r, 'c, 't> {
    workload: &'w Workload<'a>,
    reclaimer: &'r mut Reclaimer<'c, SimMmu<'t>>,
    out: &'r mut WorkloadResult,
    start: Instant,
}

impl AppHost for AppsHost<'_, '_, '_, '_, '_> {
    fn access(&mut self, local: usize, write: bool) -> Result<(), Stop> {
        self.workload
            .access(self.reclaimer, local, write, self.out)
            .map_err(|()| Stop)?;
        self.out.accesses += 1;
        Ok(())
    }

    fn zap(&mut self, pages: core::ops::Range<usize>) {
        self.workload.zap(pages, &mut self.out.versions);
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}
