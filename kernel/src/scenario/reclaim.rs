//! `scenario=reclaim|race|oom|soak`: anonymous memory of twice the RAM, workloads on
//! their cores, kswapd on `kswapd_cpu`, kcompressd on `kcompressd_cpu` (async mode),
//! then a check of every page wherever it ended up, `/proc/vmstat`, zram `mm_stat`
//! and `RESULT`. reclaim: a fixed amount of work (`ops=`, default half the pages);
//! race: faults aimed at pages in writeback; oom: incompressible pages and a small
//! store, ending in the out-of-memory stop; soak: runs for `soak_s=` seconds.
//! Passes when no page was corrupt (and, for oom, when the stop came).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use core::time::Duration;

use mm::addr::PAGE_SIZE;
use mm::pagegen::{PageGen, PageMix};
use mm::reclaim::policy::{ReclaimConfig, ReclaimMode, RingFull};
use mm::vmstat::VmEvent;
use platform::cmdline::{self, Scenario};

use super::{BootInfo, print_result};
use crate::arch::aarch64::{mmu, smp, stack, timer};
use crate::reclaim::{self, VMSTAT};
use crate::workload::{self, Pattern, Spec};
use crate::{mem, println, vm};

/// Accesses that write (the rest read and check).
const WRITE_PCT: u64 = 25;

/// Which core does what.
struct Cores {
    kswapd: Option<usize>,
    workers: Vec<usize>,
    /// Workload cores; CPU 0 (which runs the scenario) is always the last.
    workloads: Vec<usize>,
    /// Why async mode was switched off, if it was.
    async_off: Option<&'static str>,
}

fn assign_cores(info: &BootInfo<'_>, want_async: bool) -> Cores {
    let online: Vec<usize> = smp::online_cpus().collect();
    let is_free =
        |cpu: usize, taken: &[usize]| online.contains(&cpu) && cpu != 0 && !taken.contains(&cpu);
    let kswapd = Some(info.cmdline.kswapd_cpu as usize).filter(|&c| is_free(c, &[]));
    let mut taken: Vec<usize> = kswapd.into_iter().collect();
    let mut workers = Vec::new();
    let mut async_off = None;
    if want_async {
        for &cpu in &info.cmdline.kcompressd_cpu {
            let cpu = cpu as usize;
            if is_free(cpu, &taken) {
                workers.push(cpu);
                taken.push(cpu);
            }
        }
        if workers.is_empty() {
            async_off = Some(if online.len() == 1 {
                "one CPU: kcompressd would share it, async mode off"
            } else {
                "no kcompressd_cpu is online and free of kswapd and CPU 0: async mode off"
            });
        }
    }
    let mut workloads: Vec<usize> = online
        .iter()
        .copied()
        .filter(|&c| is_free(c, &taken))
        .collect();
    workloads.push(0);
    Cores {
        kswapd,
        workers,
        workloads,
        async_off,
    }
}

pub fn run(info: &BootInfo<'_>) -> u32 {
    let cmd = info.cmdline;
    let scenario = cmd.scenario;
    let want_async = cmd.reclaim == cmdline::ReclaimMode::Async;
    let cores = assign_cores(info, want_async);
    let mode = if cores.workers.is_empty() {
        ReclaimMode::Sync
    } else {
        ReclaimMode::Async
    };
    if let Some(why) = cores.async_off {
        println!("reclaim: {why}");
    }
    if cores.kswapd.is_none() {
        println!(
            "reclaim: kswapd_cpu={} is not a free online CPU: no kswapd, direct reclaim only",
            cmd.kswapd_cpu
        );
    }
    let Some(mut zone) = mem::FRAMES.lock().take() else {
        println!("reclaim: no frame allocator");
        return 1;
    };
    let ram_bytes: u64 = info.board.memory.iter().map(|r| r.size).sum();
    let wss = (2 * ram_bytes / PAGE_SIZE as u64) as usize;
    let tables = match vm::build(&mut zone, wss) {
        Ok(t) => t,
        Err(e) => {
            println!("reclaim: workload region: {e}");
            return 1;
        }
    };
    let oom = scenario == Scenario::Oom;
    // oom: incompressible pages into a store limited to an eighth of the RAM.
    let mem_limit = if oom { ram_bytes / 8 } else { 0 };
    let mix = if oom {
        PageMix {
            zero: 0,
            same_filled: 0,
            text: 0,
            structured: 0,
            random: 100,
        }
    } else {
        PageMix::DEFAULT
    };
    let seed = cmd.seed.unwrap_or(1);
    let Some(generator) = PageGen::new(seed, mix) else {
        println!("reclaim: bad page mix");
        return 1;
    };
    let managed = zone.managed_pages();
    let ring_full = match cmd.ring_full {
        cmdline::RingFull::New => RingFull::New,
        cmdline::RingFull::Oldest => RingFull::Oldest,
    };
    let sys = reclaim::init(
        zone,
        reclaim::Setup {
            config: ReclaimConfig { mode, ring_full },
            kswapd_cpu: cores.kswapd,
            workers: cores.workers.clone(),
            swap_slots: wss,
            mem_limit,
        },
    );
    let n = cores.workloads.len();
    let per = wss / n;
    let ops_total = cmd.ops.unwrap_or(wss as u64 / 2);
    let deadline = (scenario == Scenario::Soak)
        .then(|| timer::deadline_after(Duration::from_secs(cmd.soak_s.unwrap_or(60))));
    let specs: Vec<(usize, Spec)> = cores
        .workloads
        .iter()
        .enumerate()
        .map(|(w, &cpu)| {
            let first = w * per;
            let pages = if w + 1 == n { wss - first } else { per };
            let pattern = match scenario {
                Scenario::Race => Pattern::Refault,
                _ => [Pattern::Random, Pattern::HotCold, Pattern::Sequential][w % 3],
            };
            let spec = Spec {
                first,
                pages,
                pattern,
                ops: if deadline.is_some() {
                    u64::MAX
                } else {
                    ops_total / n as u64
                },
                deadline,
                write_pct: WRITE_PCT,
                seed: seed ^ (w as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                generator,
                pace: None,
            };
            (cpu, spec)
        })
        .collect();
    println!(
        "reclaim: scenario={} mode={} ring_full={} ram={} MiB ({} frames managed), anonymous {} MiB ({} pages, {} tables), hardware AF {}",
        scenario.name(),
        mode_name(mode),
        cmd.ring_full.name(),
        ram_bytes >> 20,
        managed,
        (wss * PAGE_SIZE) >> 20,
        wss,
        tables,
        if mmu::hardware_af() { "on" } else { "off" }
    );
    println!(
        "reclaim: kswapd on {:?}, kcompressd on {:?}, workloads on {:?}",
        cores.kswapd, cores.workers, cores.workloads
    );

    let start = timer::now_ticks();
    let daemons = match reclaim::start_daemons(sys) {
        Ok(t) => t,
        Err(e) => {
            println!("reclaim: starting the daemons: {e}");
            return 1;
        }
    };
    let mut jobs = Vec::new();
    for &(cpu, spec) in &specs {
        workload::assign(cpu, spec);
        if cpu != 0 {
            match smp::run_on(cpu, "workload", workload::job, 0) {
                Ok(t) => jobs.push(t),
                Err(e) => println!("reclaim: workload on cpu{cpu}: {e}"),
            }
        }
    }
    workload::job(0);
    for t in &jobs {
        smp::wait(*t, None);
    }
    let elapsed_ms = timer::ticks_to_duration(timer::now_ticks() - start).as_millis() as u64;
    reclaim::stop_daemons(sys, &daemons);

    let (mut verified, mut corrupt, mut oom_stops, mut mapped, mut parked, mut accesses) =
        (0, 0, 0, 0, 0, 0);
    for &(cpu, spec) in &specs {
        let Some(out) = workload::take_outcome(cpu) else {
            println!("reclaim: workload on cpu{cpu} reported nothing");
            corrupt += 1;
            continue;
        };
        if out.oom {
            oom_stops += 1;
            println!(
                "reclaim: cpu{cpu}: out of memory: workload stopped after {} accesses (store at its limit, nothing reclaimable){}",
                out.accesses,
                match out.torn {
                    Some(_) => ", one page write cut short (not checked)",
                    None => "",
                }
            );
        }
        let check = workload::final_check(spec.first, &out, &generator);
        verified += out.verified + check.verified;
        corrupt += out.corrupt + check.corrupt;
        mapped += check.mapped;
        parked += check.parked;
        accesses += out.accesses;
    }

    let mm_stat = sys.policy.store().lock().mm_stat();
    let free = sys.policy.node().lock().zone.nr_free_pages();
    let store_frames = mm_stat.mem_used_total / PAGE_SIZE as u64;
    let frames_accounted = free + mapped + parked + store_frames + vm::tables() as u64 == managed;
    let race = sys.policy.race_stats();
    let stack_max = smp::online_cpus()
        .map(stack::exception_stack_used)
        .max()
        .unwrap_or(0);

    let mut text = String::new();
    let _ = VMSTAT.write_proc_vmstat(&mut text);
    println!("--- /proc/vmstat ---\n{}", text.trim_end());
    println!(
        "--- zram mm_stat (orig compr used limit used_max same compacted huge huge_since) ---"
    );
    println!(
        "{} {} {} {} {} {} {} {} {}",
        mm_stat.orig_data_size,
        mm_stat.compr_data_size,
        mm_stat.mem_used_total,
        mm_stat.mem_limit,
        mm_stat.mem_used_max,
        mm_stat.same_pages,
        mm_stat.pages_compacted,
        mm_stat.huge_pages,
        mm_stat.huge_pages_since
    );
    let mut summary = String::new();
    let _ = write!(
        summary,
        "accesses {accesses} in {elapsed_ms} ms, verified {verified}, corrupt {corrupt}, rescued {}, waited {}, writeback_failed {}, af_faults {}, frames accounted {frames_accounted}, exception stack peak {stack_max} bytes",
        race.rescued,
        race.waited,
        race.writeback_failed,
        reclaim::AF_FAULTS.load(core::sync::atomic::Ordering::Relaxed)
    );
    println!("--- summary ---\n{summary}");

    let v = |e: VmEvent| VMSTAT.read(e);
    print_result(|o| {
        o.str("scenario", scenario.name())?
            .str("mode", mode_name(mode))?
            .str("mode_asked", cmd.reclaim.name())?
            .str("ring_full", cmd.ring_full.name())?
            .uint("cpus", smp::online_cpus().count() as u64)?
            .uint("kcompressd_workers", cores.workers.len() as u64)?
            .uint("workloads", n as u64)?
            .uint("ram_bytes", ram_bytes)?
            .uint("anon_pages", wss as u64)?
            .uint("pgscan_kswapd", v(VmEvent::PgScanKswapd))?
            .uint("pgscan_direct", v(VmEvent::PgScanDirect))?
            .uint("pgsteal_kswapd", v(VmEvent::PgStealKswapd))?
            .uint("pgsteal_direct", v(VmEvent::PgStealDirect))?
            .uint("pgsteal_anon", v(VmEvent::PgStealAnon))?
            .uint("allocstall", v(VmEvent::AllocStall))?
            .uint("pswpout", v(VmEvent::PswpOut))?
            .uint("pswpin", v(VmEvent::PswpIn))?
            .uint("workingset_refault_anon", v(VmEvent::WorkingsetRefaultAnon))?
            .uint("kcompressd_queued", v(VmEvent::KcompressdQueued))?
            .uint("kcompressd_ring_full", v(VmEvent::KcompressdRingFull))?
            .uint("kcompressd_wakeup", v(VmEvent::KcompressdWakeup))?
            .uint(
                "af_faults",
                reclaim::AF_FAULTS.load(core::sync::atomic::Ordering::Relaxed),
            )?
            .bool("hw_af", mmu::hardware_af())?
            .uint("same_pages", mm_stat.same_pages)?
            .uint("huge_pages", mm_stat.huge_pages)?
            .uint("orig_data_size", mm_stat.orig_data_size)?
            .uint("compr_data_size", mm_stat.compr_data_size)?
            .uint("mem_used_total", mm_stat.mem_used_total)?
            .uint("rescued", race.rescued)?
            .uint("waited", race.waited)?
            .uint("writeback_failed", race.writeback_failed)?
            .uint("oom_stops", oom_stops)?
            .uint("accesses", accesses)?
            .uint("verified_pages", verified)?
            .uint("corrupt_pages", corrupt)?
            .bool("frames_accounted", frames_accounted)?
            .uint("exception_stack_peak", stack_max as u64)?
            .uint("elapsed_ms", elapsed_ms)?;
        Ok(())
    });
    let pass = corrupt == 0 && frames_accounted && (!oom || oom_stops > 0);
    u32::from(!pass)
}

fn mode_name(mode: ReclaimMode) -> &'static str {
    match mode {
        ReclaimMode::Sync => "sync",
        ReclaimMode::Async => "async",
    }
}
