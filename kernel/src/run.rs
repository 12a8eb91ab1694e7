//! The kernel's side of a reclaim run: `mm::reclaim::run::Machine` over cores, SGIs
//! and WFI (`KernelRun`), and `prepare`, the setup every run shares (the zone, the
//! workload region and the reclaim system, built at the first run and reused by every
//! later one). Owns no policy and no measurement: the steps are `mm::reclaim::run`'s,
//! the daemons `reclaim`'s, the workloads `workload`'s.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use kernel::sizing::{Anon, Costs, HEAP_MAX, HEAP_SHARE, Split};
use mm::addr::PAGE_SIZE;
use mm::apps::session::AppFigures;
use mm::frame::{Zone, ZoneConfig};
use mm::latency::LatencyHist;
use mm::lmk::Killer;
use mm::psi::PsiSnapshot;
use mm::reclaim::policy::SwapRaceStats;
use mm::reclaim::run::{DaemonTimes, Finished, FrameCount, Machine, PageCheck, Work};
use mm::vmstat::VmStatSnapshot;
use mm::zram::MmStat;

use crate::arch::aarch64::{profile_mark, smp, timer};
use crate::reclaim::{self, Layout, System, VMSTAT};
use crate::workload::{self, Outcome, PageBuf, Spec};
use crate::{mem, println, vm};

/// Sets reclaim up for a run in `layout` with `anon`'s pages of the workload region.
/// The first run checks that the heap holds what reclaim and the run need, `extra`
/// bytes for the caller's next allocations included (refused otherwise, naming the
/// smallest `--mem` that would do), then takes the boot allocator's zone, builds the
/// region (at least `anon`'s pages, and room for twice the RAM so any later run fits)
/// and the reclaim system with a ring per possible worker; every later run empties the
/// region and reuses them, so a run allocates nothing that outlives it. The zone gets
/// `zone_cfg`'s watermarks.
pub fn prepare(
    anon: Anon,
    extra: u64,
    layout: &Layout<'_>,
    zone_cfg: ZoneConfig,
) -> Result<&'static System, String> {
    let pages = usize::try_from(anon.pages(mem::ram_bytes())).unwrap_or(usize::MAX);
    let sys = match reclaim::system() {
        Some(sys) => {
            if pages > sys.region_pages {
                return Err(format!(
                    "{pages} pages of anonymous memory asked; the workload region was built for {} at this boot's first run",
                    sys.region_pages
                ));
            }
            let stuck = reclaim::release_region(sys.region_pages);
            if stuck != 0 {
                return Err(format!(
                    "{stuck} pages of the last run could not be released"
                ));
            }
            sys
        }
        None => {
            // The most workers a run can have: every CPU but CPU 0 and kswapd's.
            let max_workers = smp::online_cpus().count().saturating_sub(2).max(1);
            let mut frames = mem::FRAMES.lock();
            let zone = frames
                .as_ref()
                .ok_or("no frame allocator (it was lost in a failed setup)")?;
            check_heap(zone, anon, reclaim::heap_costs(max_workers, extra))?;
            let Some(mut zone) = frames.take() else {
                return Err(String::from("no frame allocator"));
            };
            drop(frames);
            let region = pages.max(2 * zone.managed_pages() as usize);
            let built = vm::build(&mut zone, region)
                .map_err(|e| format!("workload region of {region} pages: {e}"));
            if let Err(e) = built {
                *mem::FRAMES.lock() = Some(zone);
                return Err(e);
            }
            reclaim::init(
                zone,
                reclaim::Setup {
                    swap_slots: region,
                    max_workers,
                },
            )?
        }
    };
    sys.configure(layout)?;
    sys.policy
        .node()
        .lock()
        .zone
        .set_config(zone_cfg)
        .map_err(|e| format!("zone settings refused: {e}"))?;
    Ok(sys)
}

/// Refuses, before anything is built, a run whose setup the heap cannot hold, naming
/// the smallest RAM that would hold it (`kernel::sizing`).
fn check_heap(zone: &Zone, anon: Anon, costs: Costs) -> Result<(), String> {
    let first = zone.managed_spans().map(|s| s.start.0).min().unwrap_or(0);
    let end = zone.managed_spans().map(|s| s.end.0).max().unwrap_or(0);
    let split = Split {
        ram: mem::ram_bytes(),
        heap: mem::heap_size() as u64,
        heap_free: mem::heap_free() as u64,
        heap_shared: crate::trace::heap_bytes(),
        frames: end - first,
    };
    let need = split.need(costs, anon);
    if need.fits() {
        return Ok(());
    }
    let advice = match split.min_ram_mib(costs, anon) {
        Some(mib) => format!("needs at least {mib} MiB of RAM (--mem {mib}M)"),
        None => format!(
            "no RAM size gives the heap that much (it is 1/{HEAP_SHARE} of the RAM, at most {} MiB): ask for less anonymous memory",
            HEAP_MAX >> 20
        ),
    };
    Err(format!(
        "reclaim needs {} KiB of kernel heap for {} swap slots over {} frames, {} KiB are free: {advice}",
        need.bytes >> 10,
        need.slots,
        need.frames,
        need.free >> 10
    ))
}

/// One run on the kernel's cores: the daemons on theirs, workload `i` (`specs[i]`) on
/// `cpus[i]`; CPU 0 runs one inline if it is listed (then nothing else happens on it
/// until it ends). With `poll`, CPU 0 calls it every `smp::POLL_PERIOD` while it waits.
pub struct KernelRun<'a, 'p> {
    pub sys: &'static System,
    pub cpus: &'a [usize],
    pub specs: &'a [Spec],
    pub poll: Option<&'a mut (dyn FnMut() + 'p)>,
    daemons: Vec<smp::Ticket>,
    jobs: Vec<smp::Ticket>,
    waited: usize,
    /// Each workload's outcome (cpu, outcome), once `finish` collected them.
    pub outcomes: Vec<(usize, Outcome)>,
    /// Each online CPU's idle ticks when the run started and when its window closed.
    pub idle_at_start: Vec<u64>,
    pub idle_at_window_end: Vec<u64>,
    /// The workloads' fault latency, merged by `finish` (boxed: 9 KiB).
    faults: Vec<LatencyHist>,
    /// Their apps' figures, merged by `finish` (empty: no workload switches apps).
    apps: Vec<AppFigures>,
    /// Where the final check loads a stored page (one, reserved with the results).
    check_buf: Vec<PageBuf>,
    /// The low-memory killer over `workload::APPS`, polled while the run waits.
    pub killer: Option<Killer>,
}

impl<'a, 'p> KernelRun<'a, 'p> {
    pub fn new(
        sys: &'static System,
        cpus: &'a [usize],
        specs: &'a [Spec],
        poll: Option<&'a mut (dyn FnMut() + 'p)>,
    ) -> Self {
        KernelRun {
            sys,
            cpus,
            specs,
            poll,
            daemons: Vec::new(),
            jobs: Vec::new(),
            waited: 0,
            outcomes: Vec::new(),
            idle_at_start: Vec::new(),
            idle_at_window_end: Vec::new(),
            faults: Vec::new(),
            apps: Vec::new(),
            check_buf: Vec::new(),
            killer: None,
        }
    }
}

impl KernelRun<'_, '_> {
    /// Room for what `finish` collects (each workload's outcome, the merged fault
    /// latency and app figures), taken before the workloads fill memory; refused
    /// when the kernel heap cannot hold it.
    fn reserve_results(&mut self) -> Result<(), String> {
        let apps = self
            .specs
            .iter()
            .any(|s| matches!(s.pattern, workload::Pattern::AppSwitch { .. }));
        let reserved = self
            .outcomes
            .try_reserve_exact(self.cpus.len())
            .and_then(|()| self.faults.try_reserve_exact(1))
            .and_then(|()| self.apps.try_reserve_exact(usize::from(apps)))
            .and_then(|()| self.check_buf.try_reserve_exact(1));
        if reserved.is_err() {
            return Err(format!(
                "no kernel heap for the run's results ({} KiB, {} KiB free)",
                (self.cpus.len() * size_of::<(usize, Outcome)>()
                    + size_of::<LatencyHist>()
                    + size_of::<AppFigures>()
                    + size_of::<PageBuf>())
                    >> 10,
                crate::mem::heap_free() >> 10
            ));
        }
        self.faults.push(LatencyHist::EMPTY);
        self.check_buf.push(PageBuf([0; PAGE_SIZE]));
        if apps {
            self.apps.push(AppFigures::default());
        }
        Ok(())
    }
}

fn idle_now() -> Vec<u64> {
    smp::online_cpus().map(smp::idle_ticks).collect()
}

impl Machine for KernelRun<'_, '_> {
    type Error = String;

    fn tick_hz(&self) -> u64 {
        timer::freq()
    }

    fn now(&self) -> u64 {
        timer::now_ticks()
    }

    fn vmstat(&self) -> VmStatSnapshot {
        VMSTAT.snapshot()
    }

    fn daemon_times(&self) -> DaemonTimes {
        reclaim::daemon_times()
    }

    fn mm_stat(&self) -> MmStat {
        self.sys.policy.store().lock().mm_stat()
    }

    fn nr_free_pages(&self) -> u64 {
        self.sys.policy.node().lock().zone.nr_free_pages()
    }

    fn race_stats(&self) -> SwapRaceStats {
        self.sys.policy.race_stats()
    }

    fn accesses(&self) -> u64 {
        self.cpus.iter().map(|&cpu| workload::progress(cpu)).sum()
    }

    fn psi(&self) -> PsiSnapshot {
        reclaim::psi()
    }

    fn start_daemons(&mut self) -> Result<(), String> {
        self.idle_at_start = idle_now();
        self.daemons =
            reclaim::start_daemons(self.sys).map_err(|e| format!("starting the daemons: {e}"))?;
        Ok(())
    }

    fn start_workloads(&mut self) -> Result<(), String> {
        self.reserve_results()?;
        for (&cpu, spec) in self.cpus.iter().zip(self.specs) {
            workload::assign(cpu, *spec)?;
        }
        for &cpu in self.cpus.iter().filter(|&&cpu| cpu != 0) {
            let ticket = smp::run_on(cpu, "workload", workload::job, 0)
                .map_err(|e| format!("workload on cpu{cpu}: {e}"))?;
            self.jobs.push(ticket);
        }
        if self.cpus.contains(&0) {
            workload::job(0);
        }
        Ok(())
    }

    fn wait_workloads(&mut self, until: Option<u64>) -> bool {
        let mut caller = self.poll.as_deref_mut();
        let killer = &mut self.killer;
        let cpus = self.cpus;
        // Every poll also updates PSI (its averages need a look every 2 s) and, with
        // `lmk=on`, lets the killer look at it.
        let mut poll = || {
            reclaim::psi();
            if let Some(killer) = killer.as_mut()
                && let Some((id, why)) = reclaim::poll_killer(killer, &workload::APPS)
            {
                println!(
                    "lmk: kill app {} of the workload on cpu{} ({})",
                    id.app,
                    cpus.get(id.workload).copied().unwrap_or(0),
                    why.name()
                );
            }
            if let Some(caller) = caller.as_deref_mut() {
                caller();
            }
        };
        while self.waited < self.jobs.len() {
            if !smp::wait_polling(self.jobs[self.waited], until, Some(&mut poll)) {
                return false;
            }
            self.waited += 1;
        }
        true
    }

    fn window_opened(&mut self) {
        profile_mark::open_window();
    }

    fn window_closed(&mut self) {
        profile_mark::close_window();
        self.idle_at_window_end = idle_now();
    }

    fn stop_daemons(&mut self) {
        reclaim::stop_daemons(self.sys, &self.daemons);
        self.daemons.clear();
    }

    fn finish(&mut self) -> Result<Finished, String> {
        if self.poll.is_some() {
            println!("run: checking every page the workloads wrote (the console stays live)");
        }
        let mut lost = 0;
        let mut check = PageCheck::default();
        for (&cpu, spec) in self.cpus.iter().zip(self.specs) {
            let Some(out) = workload::take_outcome(cpu) else {
                // A workload that reported nothing counts as one corrupt page.
                println!("run: the workload on cpu{cpu} reported nothing");
                lost += 1;
                continue;
            };
            let Some(buf) = self.check_buf.first_mut() else {
                return Err(String::from("no page to check stored pages in"));
            };
            check.add(workload::final_check(
                spec.first,
                &out,
                &spec.generator,
                self.poll.as_deref_mut(),
                buf,
            ));
            self.outcomes.push((cpu, out));
        }
        let (mut work, mut oom_stops) = (Work::default(), 0);
        for (_, out) in &self.outcomes {
            work.accesses += out.accesses;
            work.verified += out.verified;
            work.corrupt += out.corrupt;
            work.ticks = work.ticks.max(out.ticks);
            oom_stops += u64::from(out.oom);
            if let Some(faults) = self.faults.first_mut() {
                faults.merge(&out.faults);
            }
            if let (Some(all), Some(figures)) = (self.apps.first_mut(), out.apps.first()) {
                all.merge(figures);
            }
        }
        work.corrupt += lost;
        work.oom_stops = oom_stops;
        let mm_stat = self.mm_stat();
        let node = self.sys.policy.node().lock();
        let frames = FrameCount {
            free: node.zone.nr_free_pages(),
            mapped: check.mapped,
            parked: check.parked,
            store: mm_stat.mem_used_total / PAGE_SIZE as u64,
            tables: vm::tables() as u64,
            managed: node.zone.managed_pages(),
        };
        Ok(Finished {
            work,
            check,
            frames,
        })
    }

    fn fault_latency(&self) -> &LatencyHist {
        self.faults.first().unwrap_or(&LatencyHist::EMPTY)
    }

    fn app_figures(&self) -> Option<&AppFigures> {
        self.apps.first()
    }
}
