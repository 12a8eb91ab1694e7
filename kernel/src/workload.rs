//! Workloads: in-kernel tasks, one per core, touching their slice of the workload
//! region (`vm`) in a pattern. Every page's content is `pagegen`'s page (index,
//! version); a write bumps the version the workload keeps, a read checks every byte.
//! Faults are the MMU's business: the workload just loads and stores (it reads the
//! PTE first only to time the faults that need a frame, into `mm::latency`'s histogram).
//! Owns the workload loop and the final check of every page; never touches PTEs
//! except to read them (the refault pattern, fault timing, the final check).

use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

use kernel::anon_pte::AnonPte;
use kernel::pace::Pacer;
use mm::addr::{PAGE_SIZE, Pfn};
use mm::apps::session::{AppFigures, AppHost, Session, Stop};
use mm::apps::table::AppTable;
use mm::apps::{self, AppPattern};
use mm::latency::LatencyHist;
use mm::pagegen::{PageGen, SplitMix64};
use mm::reclaim::run::PageCheck;
use mm::reclaim::swap::{SwapEntry, SwapState};

use crate::arch::aarch64::exception::probe;
use crate::arch::aarch64::relax::Yield;
use crate::arch::aarch64::{MAX_CPUS, percpu, smp, timer};
use crate::{fault, reclaim, vm};

/// How a workload picks the next page after its first sequential pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    Sequential,
    Random,
    /// 80 % of accesses to a hot fifth of the pages.
    HotCold,
    /// Half the accesses go to a page reclaim has just queued or is compressing
    /// (found by a short scan of the PTEs): faults on pages in writeback.
    Refault,
    /// `apps` equal working sets (a phone's apps): the foreground one takes every
    /// access, uniformly over its pages; every `switch_every` accesses another app
    /// (picked from the seed) comes to the foreground, refaulting what reclaim took.
    Apps {
        apps: usize,
        switch_every: u64,
    },
    /// `Apps` as Android runs them (`mm::apps::session`): each switch first touches
    /// the app's whole working set again, timed as the app-switch latency; apps the
    /// low-memory killer takes (`APPS`) are freed here and start cold. `ops` counts
    /// the random accesses only.
    AppSwitch {
        apps: usize,
        switch_every: u64,
    },
}

/// The apps of the run's `AppSwitch` workloads, shared with the low-memory killer.
pub static APPS: AppTable<Yield> = AppTable::new();

/// One workload's assignment.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// First page (index in the region) and number of pages.
    pub first: usize,
    pub pages: usize,
    pub pattern: Pattern,
    /// Accesses after the first pass over every page.
    pub ops: u64,
    /// Stop the accesses at this counter value (soak), if set.
    pub deadline: Option<u64>,
    pub write_pct: u64,
    pub seed: u64,
    /// This workload's index among the run's (its apps' row in `APPS`).
    pub index: usize,
    pub generator: PageGen,
    /// Paced: this many accesses per second (first touches included), in bursts of
    /// `PACE_BURST` due on a fixed grid with WFI in between; a late burst drops the
    /// slots it missed rather than catching up (`kernel::pace`). `None`: as fast as
    /// the core goes.
    pub pace: Option<u64>,
}

/// Accesses per burst of a paced workload.
const PACE_BURST: u64 = 64;

/// A page whose write an out-of-memory stop cut short: neither verified nor corrupt.
const TORN: u32 = u32::MAX;

/// What a workload did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Version of each page (0: never written).
    pub versions: Vec<u32>,
    pub accesses: u64,
    /// Reads whose bytes were exact.
    pub verified: u64,
    pub corrupt: u64,
    /// Stopped by an allocation that failed after direct reclaim.
    pub oom: bool,
    /// The page being written when the out-of-memory stop came, if any.
    pub torn: Option<usize>,
    /// Latency of the faults that needed a frame (first touch, swap-in), in ticks.
    pub faults: LatencyHist,
    /// Counter ticks from the job's start to its end.
    pub ticks: u64,
    /// Paced: bursts run and grid slots dropped because a burst started late.
    pub bursts: u64,
    pub bursts_missed: u64,
    /// `AppSwitch`: switches, cold starts and kills, in ticks (one element: boxed
    /// without an infallible allocation, and kept off the job's stack).
    pub apps: Vec<AppFigures>,
}

struct Ctx {
    spec: Spec,
    out: Outcome,
    /// The page a write is filling right now.
    writing: Option<usize>,
}

/// A core's assignment: the spec, the page-version array the job will fill (allocated
/// by `assign`, so the job itself allocates nothing) and, once it ran, its outcome.
struct Assignment {
    spec: Spec,
    versions: Vec<u32>,
    apps: Vec<AppFigures>,
    outcome: Option<Outcome>,
}

type Slot = spin::Mutex<Option<Assignment>>;

static SLOTS: [Slot; MAX_CPUS] = [const { spin::Mutex::new(None) }; MAX_CPUS];

/// Accesses done so far by the workload on each core, for progress reports.
static PROGRESS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// Accesses the workload on `cpu` has done so far (it is running or has run).
pub fn progress(cpu: usize) -> u64 {
    PROGRESS.get(cpu).map_or(0, |p| p.load(Ordering::Relaxed))
}

/// Leaves `spec` for the workload job that will run on `cpu`, with its page-version
/// array; refused when the heap cannot hold that.
pub fn assign(cpu: usize, spec: Spec) -> Result<(), String> {
    let mut versions = Vec::new();
    versions.try_reserve_exact(spec.pages).map_err(|_| {
        alloc::format!(
            "no kernel heap for the page versions of the workload on cpu{cpu} ({} KiB, {} KiB free)",
            (spec.pages * size_of::<u32>()) >> 10,
            crate::mem::heap_free() >> 10
        )
    })?;
    versions.resize(spec.pages, 0);
    let mut apps = Vec::new();
    if matches!(spec.pattern, Pattern::AppSwitch { .. }) {
        apps.try_reserve_exact(1).map_err(|_| {
            alloc::format!("no kernel heap for the app figures of the workload on cpu{cpu}")
        })?;
        apps.push(AppFigures::default());
    }
    *SLOTS[cpu].lock() = Some(Assignment {
        spec,
        versions,
        apps,
        outcome: None,
    });
    Ok(())
}

/// The outcome of the workload that ran on `cpu`, once.
pub fn take_outcome(cpu: usize) -> Option<Outcome> {
    SLOTS[cpu].lock().take().and_then(|a| a.outcome)
}

/// The job: runs the workload assigned to this core (`smp::run_on` or inline).
pub fn job(_: usize) {
    let cpu = percpu::this_cpu_id();
    let Some((spec, versions, apps)) = SLOTS[cpu].lock().as_mut().map(|a| {
        (
            a.spec,
            core::mem::take(&mut a.versions),
            core::mem::take(&mut a.apps),
        )
    }) else {
        return;
    };
    fault::prepare_this_cpu();
    PROGRESS[cpu].store(0, Ordering::Relaxed);
    // The workload makes its CPU non-idle for PSI until it ends, out of memory or not.
    let psi = reclaim::this_cpu_psi();
    psi.task_start(reclaim::clock_ns());
    let start = timer::now_ticks();
    let mut ctx = Ctx {
        spec,
        out: Outcome {
            versions,
            apps,
            ..Outcome::default()
        },
        writing: None,
    };
    if run_guarded(&mut ctx).is_err() {
        // Only an out-of-memory fault leaves through the probe (exception.rs); any
        // other fault is fatal there.
        ctx.out.oom = true;
        if let Some(local) = ctx.writing {
            ctx.out.versions[local] = TORN;
            ctx.out.torn = Some(spec.first + local);
        }
    }
    ctx.out.ticks = timer::now_ticks() - start;
    psi.task_stop(reclaim::clock_ns());
    if let Some(slot) = SLOTS[cpu].lock().as_mut() {
        slot.outcome = Some(ctx.out);
    }
}

/// Runs the loop under `probe::call`, so that an out-of-memory fault ends it.
fn run_guarded(ctx: &mut Ctx) -> Result<(), probe::Fault> {
    probe::call(body, core::ptr::from_mut(ctx) as usize, None)
}

extern "C" fn body(arg: usize) {
    // SAFETY: `run_guarded` passes its `&mut Ctx`, live for the whole call.
    let ctx = unsafe { &mut *(arg as *mut Ctx) };
    ctx.run();
}

impl Ctx {
    fn run(&mut self) {
        let mut pacer = self
            .spec
            .pace
            .map(|pace| Pacer::new(timer::now_ticks(), burst_ticks(pace)));
        if let Pattern::AppSwitch { apps, switch_every } = self.spec.pattern {
            self.run_apps(apps, switch_every, pacer);
            return;
        }
        for local in 0..self.spec.pages {
            Self::pace(&mut pacer, local as u64);
            self.write(local);
        }
        let first = self.spec.pages as u64;
        let mut rng = SplitMix64(self.spec.seed);
        let mut cursor = 0;
        for n in 0..self.spec.ops {
            if n % 256 == 0
                && let Some(deadline) = self.spec.deadline
                && timer::now_ticks() >= deadline
            {
                break;
            }
            Self::pace(&mut pacer, first + n);
            let local = self.pick(&mut rng, &mut cursor, n);
            if apps::is_write(&mut rng, self.spec.write_pct) {
                self.write(local);
            } else {
                self.read(local);
            }
        }
        if let Some(pacer) = pacer {
            (self.out.bursts, self.out.bursts_missed) = (pacer.bursts(), pacer.missed());
        }
    }

    /// `AppSwitch`: the apps' launch and switches (`mm::apps::session`).
    fn run_apps(&mut self, apps: usize, switch_every: u64, pacer: Option<Pacer>) {
        let Some(mut figures) = self.out.apps.pop() else {
            return;
        };
        let session = Session {
            table: &APPS,
            workload: self.spec.index,
            pattern: AppPattern {
                apps,
                switch_every,
                seed: self.spec.seed,
            },
            pages: self.spec.pages,
            ops: self.spec.ops,
            write_pct: self.spec.write_pct,
        };
        // An out-of-memory fault leaves through the probe: the figures stay in `out`.
        self.out.apps.push(AppFigures::default());
        let mut host = KernelApps {
            ctx: self,
            pacer,
            n: 0,
        };
        let _ = session.run(&mut host, &mut figures);
        if let Some(pacer) = host.pacer {
            (self.out.bursts, self.out.bursts_missed) = (pacer.bursts(), pacer.missed());
        }
        self.out.apps[0] = figures;
    }

    /// Before access number `n`: at the start of a burst, wait for its grid slot.
    fn pace(pacer: &mut Option<Pacer>, n: u64) {
        if n.is_multiple_of(PACE_BURST)
            && let Some(pacer) = pacer
        {
            let now = timer::now_ticks();
            if let Some(due) = pacer.start_burst(now) {
                smp::sleep(timer::ticks_to_duration(due - now));
            }
        }
    }

    fn page(&self, local: usize) -> *mut [u8; PAGE_SIZE] {
        vm::page_va(self.spec.first + local) as *mut [u8; PAGE_SIZE]
    }

    /// If page `local` has no frame (never touched, or swapped out), takes its fault
    /// now with a one-byte load and records how long the fault took.
    fn time_fault(&mut self, local: usize) {
        let index = self.spec.first + local;
        let needs_frame = vm::pte(index).is_some_and(|pte| {
            matches!(
                AnonPte::decode(pte.load(Ordering::Relaxed)),
                AnonPte::None | AnonPte::Swap(_)
            )
        });
        if needs_frame {
            let start = timer::now_ticks();
            // SAFETY: a page of this workload's slice (see `write`); a plain load.
            unsafe { core::ptr::read_volatile(self.page(local) as *const u8) };
            self.out.faults.record(timer::now_ticks() - start);
        }
    }

    fn done_one(&mut self) {
        self.out.accesses += 1;
        PROGRESS[percpu::this_cpu_id()].store(self.out.accesses, Ordering::Relaxed);
    }

    fn write(&mut self, local: usize) {
        self.time_fault(local);
        let version = self.out.versions[local].wrapping_add(1).max(1);
        self.writing = Some(local);
        // SAFETY: the page is in this workload's slice of the region, which nothing
        // else reads or writes through the region; faults map it as needed.
        let page = unsafe { &mut *self.page(local) };
        self.spec
            .generator
            .fill((self.spec.first + local) as u64, version, page);
        self.writing = None;
        self.out.versions[local] = version;
        self.done_one();
    }

    fn read(&mut self, local: usize) {
        self.time_fault(local);
        let version = self.out.versions[local];
        // SAFETY: as in `write`.
        let page = unsafe { &*self.page(local) };
        if self
            .spec
            .generator
            .matches((self.spec.first + local) as u64, version, page)
        {
            self.out.verified += 1;
        } else {
            self.out.corrupt += 1;
        }
        self.done_one();
    }

    fn pick(&self, rng: &mut SplitMix64, cursor: &mut usize, n: u64) -> usize {
        let pages = self.spec.pages;
        match self.spec.pattern {
            Pattern::Sequential => {
                *cursor = (*cursor + 1) % pages;
                *cursor
            }
            Pattern::Random => rng.below(pages),
            Pattern::HotCold => {
                let hot = (pages / 5).max(1);
                if rng.below(100) < 80 {
                    rng.below(hot)
                } else {
                    hot + rng.below(pages - hot)
                }
            }
            Pattern::Refault => {
                let start = rng.below(pages);
                if rng.below(2) == 0 {
                    for step in 0..64 {
                        let local = (start + step) % pages;
                        if in_writeback(self.spec.first + local) {
                            return local;
                        }
                    }
                }
                start
            }
            Pattern::Apps { apps, switch_every } | Pattern::AppSwitch { apps, switch_every } => {
                AppPattern {
                    apps,
                    switch_every,
                    seed: self.spec.seed,
                }
                .pick(pages, rng, n)
            }
        }
    }
}

/// The kernel workload as `mm::apps::session` sees it.
struct KernelApps<'c> {
    ctx: &'c mut Ctx,
    pacer: Option<Pacer>,
    /// Accesses so far, for the pacer.
    n: u64,
}

impl AppHost for KernelApps<'_> {
    fn access(&mut self, local: usize, write: bool) -> Result<(), Stop> {
        Ctx::pace(&mut self.pacer, self.n);
        self.n += 1;
        if write {
            self.ctx.write(local);
        } else {
            self.ctx.read(local);
        }
        // Out of memory leaves through the probe instead.
        Ok(())
    }

    fn zap(&mut self, pages: Range<usize>) {
        let first = self.ctx.spec.first;
        let stuck = reclaim::zap_pages(first + pages.start..first + pages.end, &mut || {
            core::hint::spin_loop();
            true
        });
        self.ctx.out.corrupt += stuck;
        self.ctx.out.versions[pages].fill(0);
    }

    fn now(&self) -> u64 {
        timer::now_ticks()
    }
}

/// Counter ticks between the starts of two bursts at `pace` accesses per second.
fn burst_ticks(pace: u64) -> u64 {
    timer::duration_to_ticks(Duration::from_secs(PACE_BURST)) / pace.max(1)
}

/// Whether page `index`'s PTE holds a swap entry whose frame is still queued or
/// being compressed.
fn in_writeback(index: usize) -> bool {
    let (Some(pte), Some(sys)) = (vm::pte(index), reclaim::system()) else {
        return false;
    };
    let AnonPte::Swap(bits) = AnonPte::decode(pte.load(Ordering::Relaxed)) else {
        return false;
    };
    SwapEntry::from_bits(bits).is_some_and(|entry| {
        matches!(
            sys.policy.swap().state(entry),
            Some(SwapState::Writeback(_) | SwapState::Compressing(_))
        )
    })
}

/// A page to load a stored page into for the final check (page-aligned, as the store's
/// decompressor writes whole pages).
#[repr(C, align(4096))]
pub struct PageBuf(pub [u8; PAGE_SIZE]);

/// Pages `final_check` checks between two looks at the clock for its poll hook.
const CHECK_BATCH: usize = 64;

/// With every workload and daemon stopped: checks every written page of `outcome`
/// (pages `first..`) wherever it is (mapped, in the store, parked in writeback). With
/// `poll`, calls it every `smp::POLL_PERIOD` between pages, holding no lock: the
/// console stays live through a check that takes seconds under TCG. `buf` is where a
/// stored page is loaded to be checked.
pub fn final_check(
    first: usize,
    outcome: &Outcome,
    generator: &PageGen,
    mut poll: Option<&mut (dyn FnMut() + '_)>,
    buf: &mut PageBuf,
) -> PageCheck {
    let mut check = PageCheck::default();
    let Some(sys) = reclaim::system() else {
        return check;
    };
    let mut next_poll = timer::deadline_after(smp::POLL_PERIOD);
    for (local, &version) in outcome.versions.iter().enumerate() {
        if local % CHECK_BATCH == 0
            && let Some(poll) = poll.as_deref_mut()
            && timer::now_ticks() >= next_poll
        {
            poll();
            next_poll = timer::deadline_after(smp::POLL_PERIOD);
        }
        let index = first + local;
        let Some(pte) = vm::pte(index) else { continue };
        let frame = |pfn: Pfn| {
            // SAFETY: every core but this one is idle: the frame (mapped or parked)
            // holds this page and nobody changes it; reached through the direct map.
            unsafe { &*(pfn.page_address() as *const [u8; PAGE_SIZE]) }
        };
        let ok = match AnonPte::decode(pte.load(Ordering::Acquire)) {
            AnonPte::Present { pa, .. } => {
                check.mapped += 1;
                version == TORN
                    || generator.matches(index as u64, version, frame(Pfn::containing(pa)))
            }
            AnonPte::Swap(bits) => match SwapEntry::from_bits(bits)
                .and_then(|entry| Some((entry, sys.policy.swap().state(entry)?)))
            {
                Some((entry, SwapState::Stored)) => {
                    let loaded = sys.policy.store().lock().load(entry.slot(), &mut buf.0);
                    version == TORN
                        || (loaded.is_ok() && generator.matches(index as u64, version, &buf.0))
                }
                Some((_, SwapState::Writeback(pfn))) => {
                    check.parked += 1;
                    version == TORN || generator.matches(index as u64, version, frame(pfn))
                }
                _ => false,
            },
            AnonPte::None => version == 0 || version == TORN,
            AnonPte::Bad(_) => false,
        };
        if version == 0 || version == TORN {
            continue;
        }
        if ok {
            check.verified += 1;
        } else {
            check.corrupt += 1;
        }
    }
    check
}
