//! `scenario=reclaim|race|oom|soak`: anonymous memory of twice the RAM, workloads on
//! their cores, kswapd on `kswapd_cpu`, kcompressd on `kcompressd_cpu` (async mode),
//! then a check of every page wherever it ended up, `/proc/vmstat`, zram `mm_stat`
//! and `RESULT`. reclaim: a fixed amount of work (`ops=`, default half the pages);
//! race: faults aimed at pages in writeback; oom: incompressible pages and a small
//! store, ending in the out-of-memory stop; soak: runs for `soak_s=` seconds.
//! Passes when no page was corrupt (and, for oom, when the stop came).
//! The console's `run pressure` is the reclaim run with CPU 0 left to the console
//! (`run_from_shell`): it can run again, over the same region emptied, in new settings.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use core::time::Duration;

use kernel::sizing::Anon;
use mm::addr::PAGE_SIZE;
use mm::pagegen::{PageGen, PageKind, PageMix};
use mm::reclaim::policy::ReclaimMode;
use mm::reclaim::run::RunFields;
use platform::Board;
use platform::cmdline::{self, CmdLine, Key, Scenario};
use serde::Serialize;

use super::{BootInfo, Cpus, print_error, print_result, settings};
use crate::arch::aarch64::{mmu, smp, stack, timer};
use crate::reclaim::{self, Layout, VMSTAT};
use crate::run::{self, KernelRun};
use crate::workload::{Pattern, Spec};
use crate::{println, vm};
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
}

/// The layout `cmd` asks for. An explicit `kswapd_cpu=` or `kcompressd_cpu=` that
/// cannot be honoured (not online, CPU 0, both the same) is refused; the defaults fall
/// back (no kswapd, or sync mode) and say so.
fn assign_cores(cmd: &CmdLine, want_async: bool, console: bool) -> Result<Cores, String> {
    let online: Vec<usize> = smp::online_cpus().collect();
    let is_free =
        |cpu: usize, taken: &[usize]| online.contains(&cpu) && cpu != 0 && !taken.contains(&cpu);
    let asked_kswapd = cmd.kswapd_cpu as usize;
    let kswapd = Some(asked_kswapd).filter(|&c| is_free(c, &[]));
    if kswapd.is_none() {
        if cmd.given(Key::KswapdCpu) {
            return Err(format!(
                "kswapd_cpu={asked_kswapd} is not an online CPU other than 0 (online: {})",
                Cpus(&online)
            ));
        }
        println!(
            "reclaim: the default kswapd_cpu={asked_kswapd} is not a free online CPU: no kswapd, direct reclaim only"
        );
    }
    let mut taken: Vec<usize> = kswapd.into_iter().collect();
    let mut workers = Vec::new();
    if want_async {
        for &cpu in &cmd.kcompressd_cpu {
            let cpu = cpu as usize;
            if is_free(cpu, &taken) {
                workers.push(cpu);
                taken.push(cpu);
            } else if cmd.given(Key::KcompressdCpu) {
                return Err(format!(
                    "kcompressd_cpu={cpu} is not an online CPU free of CPU 0 and kswapd (kswapd_cpu={asked_kswapd}, online: {})",
                    Cpus(&online)
                ));
            }
        }
        if workers.is_empty() {
            println!(
                "reclaim: {}",
                if online.len() == 1 {
                    "one CPU: kcompressd would share it, async mode off"
                } else {
                    "the default kcompressd_cpu is not online and free of kswapd and CPU 0: async mode off"
                }
            );
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
    if workloads.is_empty() {
        return Err(String::from(
            "no core left for the workload (CPU 0 runs the console; kswapd and kcompressd have theirs): boot with more CPUs or set reclaim=sync",
        ));
    }
    Ok(Cores {
        kswapd,
        workers,
        workloads,
    })
}

pub fn run(info: &BootInfo<'_>) -> u32 {
    pressure(info.board, info.cmdline, info.cmdline.scenario, None)
}

/// The console's `run pressure`: `scenario=reclaim` in `cmd`'s settings, workloads off
/// CPU 0, `poll` called every `smp::POLL_PERIOD` while CPU 0 waits for them. Prints its
/// `RESULT` and returns its status; powers nothing off. Runs again and again over the
/// same region and system (`run::prepare`), allocating nothing that outlives it.
pub fn run_from_shell(board: &Board<'_>, cmd: &CmdLine, poll: &mut dyn FnMut()) -> u32 {
    pressure(board, cmd, Scenario::Reclaim, Some(poll))
}

fn pressure(
    board: &Board<'_>,
    cmd: &CmdLine,
    scenario: Scenario,
    poll: Option<&mut dyn FnMut()>,
) -> u32 {
    match try_pressure(board, cmd, scenario, poll) {
        Ok(status) => status,
        Err(why) => {
            // A refused or failed run still ends with a RESULT line.
            println!("reclaim: {why}");
            print_error(scenario.name(), &why);
            1
        }
    }
}

fn try_pressure(
    board: &Board<'_>,
    cmd: &CmdLine,
    scenario: Scenario,
    poll: Option<&mut dyn FnMut()>,
) -> Result<u32, String> {
    if cmd.lmk {
        return Err(String::from(super::LMK_WITHOUT_APPS));
    }
    let want_async = cmd.reclaim == cmdline::ReclaimMode::Async;
    let cores = assign_cores(cmd, want_async, poll.is_some())?;
    let mode = if cores.workers.is_empty() {
        ReclaimMode::Sync
    } else {
        ReclaimMode::Async
    };
    let ram_bytes: u64 = board.memory.iter().map(|r| r.size).sum();
    let anon = Anon::RamTimes(2);
    let wss = anon.pages(ram_bytes) as usize;
    let oom = scenario == Scenario::Oom;
    // oom: incompressible pages into a store limited to an eighth of the RAM.
    let mix = if oom {
        PageMix::only(PageKind::Random)
    } else {
        settings::page_mix(cmd)
    };
    let seed = cmd.seed.unwrap_or(cmdline::DEFAULT_SEED);
    let generator = PageGen::new(seed, mix).ok_or("bad page mix")?;
    let config = settings::reclaim_config(cmd, mode);
    let zone_cfg = settings::zone_config(cmd);
    let sys = run::prepare(
        anon,
        0,
        &Layout {
            config,
            kswapd_cpu: cores.kswapd,
            workers: &cores.workers,
            mem_limit: if oom { ram_bytes / 8 } else { 0 },
        },
        zone_cfg,
    )?;
    let managed = sys.policy.node().lock().zone.managed_pages();
    let n = cores.workloads.len();
    let per = wss / n;
    let ops_total = cmd.ops.unwrap_or(wss as u64 / 2);
    let deadline = (scenario == Scenario::Soak).then(|| {
        timer::deadline_after(Duration::from_secs(
            cmd.soak_s.unwrap_or(cmdline::DEFAULT_SOAK_S),
        ))
    });
    let specs: Vec<Spec> = (0..n)
        .map(|w| {
            let first = w * per;
            Spec {
                first,
                pages: if w + 1 == n { wss - first } else { per },
                pattern: match scenario {
                    Scenario::Race => Pattern::Refault,
                    _ => [Pattern::Random, Pattern::HotCold, Pattern::Sequential][w % 3],
                },
                ops: if deadline.is_some() {
                    u64::MAX
                } else {
                    ops_total / n as u64
                },
                deadline,
                write_pct: WRITE_PCT,
                seed: seed ^ (w as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                index: w,
                generator,
                pace: None,
            }
        })
        .collect();
    println!(
        "reclaim: scenario={} mode={} ring_full={} lru={} ring {} watermark_scale_factor {} ram={} MiB ({} frames managed), anonymous {} MiB ({} pages, {} tables), hardware AF {}",
        scenario.name(),
        mode_name(mode),
        cmd.ring_full.name(),
        cmd.lru.name(),
        config.ring_size,
        zone_cfg.watermark_scale_factor,
        ram_bytes >> 20,
        managed,
        (wss * PAGE_SIZE) >> 20,
        wss,
        vm::tables(),
        if mmu::hardware_af() { "on" } else { "off" }
    );
    println!(
        "reclaim: kswapd on {}, kcompressd on {}, workloads on {}",
        Cpus(cores.kswapd.as_slice()),
        Cpus(&cores.workers),
        Cpus(&cores.workloads)
    );

    let af_before = reclaim::AF_FAULTS.load(Ordering::Relaxed);
    let mut machine = KernelRun::new(sys, &cores.workloads, &specs, poll);
    let report = mm::reclaim::run::run(&mut machine, cores.workers.len() as u64, None)?;
    crate::trace::dump_run(mode_name(mode));
    for (cpu, out) in machine.outcomes.iter().filter(|(_, o)| o.oom) {
        println!(
            "reclaim: cpu{cpu}: out of memory: workload stopped after {} accesses (store at its limit, nothing reclaimable){}",
            out.accesses,
            match out.torn {
                Some(_) => ", one page write cut short (not checked)",
                None => "",
            }
        );
    }
    let stack_max = smp::online_cpus()
        .map(stack::exception_stack_used)
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    let _ = VMSTAT.write_proc_vmstat(&mut text);
    println!("--- /proc/vmstat ---\n{}", text.trim_end());
    text.clear();
    let _ = write_mm_stat(&mut text, &report.mm_stat);
    println!("--- zram ---\n{}", text.trim_end());
    // Formatted under the node lock, printed after it.
    let now = sys.policy.now_ns();
    text.clear();
    let mglru = match sys.policy.node().lock().lru.lru_gen() {
        Some(lru_gen) => lru_gen.write_debugfs(&mut text, now).is_ok(),
        None => false,
    };
    if mglru {
        println!(
            "--- lru_gen (seq age_ms nr_anon; tier evicted refaulted protected) ---\n{}\nmin_ttl_unmet {}",
            text.trim_end(),
            sys.policy.min_ttl_unmet()
        );
    }
    let af_faults = reclaim::AF_FAULTS.load(Ordering::Relaxed) - af_before;
    let race = &report.race;
    println!(
        "--- summary ---\naccesses {} in {} ms, verified {}, corrupt {}, rescued {}, waited {}, writeback_failed {}, af_faults {af_faults}, frames {}, exception stack peak {stack_max} bytes",
        report.work.accesses,
        report.ms(report.window_ticks),
        report.verified(),
        report.corrupt(),
        race.rescued,
        race.waited,
        race.writeback_failed,
        report.frames
    );
    let error = if report.corrupt() != 0 {
        Some(format!("{} corrupt pages", report.corrupt()))
    } else if !report.frames.accounted() {
        Some(format!("frames not accounted for: {}", report.frames))
    } else if oom && report.work.oom_stops == 0 {
        Some(String::from("no out-of-memory stop came"))
    } else {
        None
    };
    let status = u32::from(error.is_some());
    print_result(&ReclaimResult {
        scenario: scenario.name(),
        mode: mode_name(mode),
        mode_asked: cmd.reclaim.name(),
        ring_full: cmd.ring_full.name(),
        lru: cmd.lru.name(),
        cpus: smp::online_cpus().count(),
        kcompressd_workers: cores.workers.len(),
        workloads: n,
        ram_bytes,
        anon_pages: wss,
        run: report.fields(),
        af_faults,
        hw_af: mmu::hardware_af(),
        exception_stack_peak: stack_max,
        error,
    });
    Ok(status)
}

/// `scenario=reclaim|race|oom|soak`'s RESULT: the layout, the run's fields, and what
/// only the kernel measures (access-flag faults, the exception stack's peak).
#[derive(Serialize)]
struct ReclaimResult<'a> {
    scenario: &'a str,
    mode: &'a str,
    mode_asked: &'a str,
    ring_full: &'a str,
    lru: &'a str,
    cpus: usize,
    kcompressd_workers: usize,
    workloads: usize,
    ram_bytes: u64,
    anon_pages: usize,
    #[serde(flatten)]
    run: RunFields,
    af_faults: u64,
    hw_af: bool,
    exception_stack_peak: usize,
    /// Why the run failed (corrupt pages, frames not accounted for, no out-of-memory
    /// stop in `scenario=oom`), if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn mode_name(mode: ReclaimMode) -> &'static str {
    match mode {
        ReclaimMode::Sync => "sync",
        ReclaimMode::Async => "async",
    }
}
