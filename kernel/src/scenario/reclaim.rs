//! `scenario=reclaim|race|oom|soak`: anonymous memory of twice the RAM, workloads on
//! their cores, kswapd on `kswapd_cpu`, kcompressd on `kcompressd_cpu` (async mode),
//! then a check of every page wherever it ended up, `/proc/vmstat`, zram `mm_stat`
//! and `RESULT`. reclaim: a fixed amount of work (`ops=`, default half the pages);
//! race: faults aimed at pages in writeback; oom: incompressible pages and a small
//! store, ending in the out-of-memory stop; soak: runs for `soak_s=` seconds.
//! Passes when no page was corrupt (and, for oom, when the stop came).
//! The console's `run pressure` is the reclaim run with CPU 0 left to the console
//! (`run_from_shell`): it can run again, over the same region emptied, in new settings.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;

use mm::addr::PAGE_SIZE;
use mm::pagegen::{PageGen, PageMix};
use mm::reclaim::policy::ReclaimMode;
use mm::vmstat::VmEvent;
use platform::Board;
use platform::cmdline::{self, CmdLine, Scenario};

use super::{BootInfo, print_result, settings};
use crate::arch::aarch64::{mmu, smp, stack, timer};
use crate::reclaim::{self, VMSTAT};
use crate::workload::{self, Pattern, Spec};
use crate::{mem, println, vm};
use kernel::shell::report::write_mm_stat;

/// Accesses that write (the rest read and check).
const WRITE_PCT: u64 = 25;

/// Which core does what.
struct Cores {
    kswapd: Option<usize>,
    workers: Vec<usize>,
    /// Workload cores; CPU 0 (which runs the scenario) is the last, unless it runs
    /// the console.
    workloads: Vec<usize>,
    /// Why async mode was switched off, if it was.
    async_off: Option<&'static str>,
}

fn assign_cores(cmd: &CmdLine, want_async: bool, console: bool) -> Cores {
    let online: Vec<usize> = smp::online_cpus().collect();
    let is_free =
        |cpu: usize, taken: &[usize]| online.contains(&cpu) && cpu != 0 && !taken.contains(&cpu);
    let kswapd = Some(cmd.kswapd_cpu as usize).filter(|&c| is_free(c, &[]));
    let mut taken: Vec<usize> = kswapd.into_iter().collect();
    let mut workers = Vec::new();
    let mut async_off = None;
    if want_async {
        for &cpu in &cmd.kcompressd_cpu {
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
    if !console {
        workloads.push(0);
    }
    Cores {
        kswapd,
        workers,
        workloads,
        async_off,
    }
}

/// The region, store and swap map exist: a later run (the console's) reuses them.
static SET_UP: AtomicBool = AtomicBool::new(false);

pub fn run(info: &BootInfo<'_>) -> u32 {
    pressure(info.board, info.cmdline, info.cmdline.scenario, None)
}

/// The console's `run pressure`: `scenario=reclaim` in `cmd`'s settings, workloads off
/// CPU 0, `poll` called every `smp::POLL_PERIOD` while CPU 0 waits for them. Prints its
/// `RESULT` and returns its status; powers nothing off.
pub fn run_from_shell(board: &Board<'_>, cmd: &CmdLine, poll: &mut dyn FnMut()) -> u32 {
    pressure(board, cmd, Scenario::Reclaim, Some(poll))
}

fn pressure(
    board: &Board<'_>,
    cmd: &CmdLine,
    scenario: Scenario,
    mut poll: Option<&mut dyn FnMut()>,
) -> u32 {
    let want_async = cmd.reclaim == cmdline::ReclaimMode::Async;
    let cores = assign_cores(cmd, want_async, poll.is_some());
    if cores.workloads.is_empty() {
        println!(
            "reclaim: no core left for the workload (CPU 0 runs the console; kswapd and kcompressd have theirs): boot with more CPUs or set reclaim=sync"
        );
        return 1;
    }
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
    let ram_bytes: u64 = board.memory.iter().map(|r| r.size).sum();
    let wss = (2 * ram_bytes / PAGE_SIZE as u64) as usize;
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
        settings::page_mix(cmd)
    };
    let seed = cmd.seed.unwrap_or(1);
    let Some(generator) = PageGen::new(seed, mix) else {
        println!("reclaim: bad page mix");
        return 1;
    };
    let config = settings::reclaim_config(cmd, mode);
    let zone_cfg = settings::zone_config(cmd);
    let sys = if SET_UP.load(Ordering::Relaxed) {
        // The console's next run: what the last one left is freed, the system rebuilt
        // in the new settings over the same zone, store and swap map.
        let stuck = reclaim::release_region(wss);
        if stuck != 0 {
            println!("reclaim: {stuck} pages of the last run could not be released");
            return 1;
        }
        let Some(sys) = reclaim::switch_mode(config, cores.kswapd, cores.workers.clone()) else {
            println!("reclaim: reclaim is not set up");
            return 1;
        };
        if let Err(e) = sys.policy.node().lock().zone.set_config(zone_cfg) {
            println!("reclaim: zone settings refused: {e:?}");
            return 1;
        }
        sys
    } else {
        let Some(mut zone) = mem::FRAMES.lock().take() else {
            println!("reclaim: no frame allocator (a bench run keeps it for the rest of the boot)");
            return 1;
        };
        if let Err(e) = zone.set_config(zone_cfg) {
            println!("reclaim: zone settings refused: {e:?}");
            return 1;
        }
        if let Err(e) = vm::build(&mut zone, wss) {
            println!("reclaim: workload region: {e}");
            return 1;
        }
        let sys = match reclaim::init(
            zone,
            reclaim::Setup {
                config,
                kswapd_cpu: cores.kswapd,
                workers: cores.workers.clone(),
                swap_slots: wss,
                mem_limit,
            },
        ) {
            Ok(sys) => sys,
            Err(why) => {
                println!("reclaim: {why}");
                return 1;
            }
        };
        SET_UP.store(true, Ordering::Relaxed);
        sys
    };
    let managed = sys.policy.node().lock().zone.managed_pages();
    let tables = vm::tables();
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
        "reclaim: scenario={} mode={} ring_full={} ring {} watermark_scale_factor {} ram={} MiB ({} frames managed), anonymous {} MiB ({} pages, {} tables), hardware AF {}",
        scenario.name(),
        mode_name(mode),
        cmd.ring_full.name(),
        config.ring_size,
        zone_cfg.watermark_scale_factor,
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

    let before = VMSTAT.snapshot();
    let af_before = reclaim::AF_FAULTS.load(Ordering::Relaxed);
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
    if cores.workloads.contains(&0) {
        workload::job(0);
    }
    for t in &jobs {
        smp::wait_polling(*t, None, poll.as_deref_mut());
    }
    let elapsed_ms = timer::ticks_to_duration(timer::now_ticks() - start).as_millis() as u64;
    reclaim::stop_daemons(sys, &daemons);
    crate::trace::dump_run(mode_name(mode));

    // A workload that reported nothing counts as one corrupt page: the run failed.
    let (mut oom_stops, mut lost, mut outs) = (0, 0, Vec::new());
    let mut check = workload::Check::default();
    for &(cpu, spec) in &specs {
        let Some(out) = workload::take_outcome(cpu) else {
            println!("reclaim: workload on cpu{cpu} reported nothing");
            lost += 1;
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
        check.add(workload::final_check(spec.first, &out, &generator));
        outs.push(out);
    }
    let total = workload::Outcome::total(&outs);
    let (verified, corrupt) = (
        total.verified + check.verified,
        total.corrupt + check.corrupt + lost,
    );
    let accesses = total.accesses;

    let mm_stat = sys.policy.store().lock().mm_stat();
    let free = sys.policy.node().lock().zone.nr_free_pages();
    let store_frames = mm_stat.mem_used_total / PAGE_SIZE as u64;
    let frames_accounted =
        free + check.mapped + check.parked + store_frames + vm::tables() as u64 == managed;
    let race = sys.policy.race_stats();
    let stack_max = smp::online_cpus()
        .map(stack::exception_stack_used)
        .max()
        .unwrap_or(0);

    let mut text = String::new();
    let _ = VMSTAT.write_proc_vmstat(&mut text);
    println!("--- /proc/vmstat ---\n{}", text.trim_end());
    text.clear();
    let _ = write_mm_stat(&mut text, &mm_stat);
    println!("--- zram ---\n{}", text.trim_end());
    let af_faults = reclaim::AF_FAULTS.load(Ordering::Relaxed) - af_before;
    let mut summary = String::new();
    let _ = write!(
        summary,
        "accesses {accesses} in {elapsed_ms} ms, verified {verified}, corrupt {corrupt}, rescued {}, waited {}, writeback_failed {}, af_faults {}, frames accounted {frames_accounted}, exception stack peak {stack_max} bytes",
        race.rescued, race.waited, race.writeback_failed, af_faults
    );
    println!("--- summary ---\n{summary}");

    let counted = VMSTAT.snapshot().since(&before);
    let v = |e: VmEvent| counted.get(e);
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
            .uint("af_faults", af_faults)?
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
