//! `scenario=shell`: the interactive console on CPU 0, over the console UART (PL011 or
//! 16550, polled every `smp::POLL_PERIOD`, WFI in between). Reads lines through
//! `kernel::shell::line` (history, editing, Tab completion), parses them with
//! `kernel::shell::command`, prints the reports from the live zone, LRU, store, swap
//! map and vmstat counters, and starts `run pressure|bench|apps` with a poll hook, so the
//! console stays live while CPU 0 waits for the run's cores and checks its pages. The
//! prompt and typed line go through `console::write_input`, drawn again after other
//! output. Owns only the session; the runs are `reclaim`'s and `bench`'s.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use core::time::Duration;

use kernel::shell::command::{self, Command, RunKind, TraceOp};
use kernel::shell::complete;
use kernel::shell::line::{Event, LineEditor};
use kernel::shell::report::{self, CoreLoad, MemInfo, ZoneInfo};
use kernel::shell::settings as shell_settings;
use mm::frame::{NR_PAGE_ORDERS, Zone};
use mm::reclaim::policy::NodeLru;
use mm::vmstat::VmEvent;
use mm::zram::MmStat;
use platform::Board;
use platform::cmdline::{CmdLine, Key};

use super::{BootInfo, bench, print_result, reclaim as pressure, settings};
use crate::arch::aarch64::{MAX_CPUS, percpu, power, smp, timer};
use crate::reclaim::{self, VMSTAT};
use crate::{console, mem, print, println, trace, vm};

/// Longest line the console takes.
const LINE_MAX: usize = 160;
/// Lines Up and Down recall.
const HISTORY: usize = 32;
const PROMPT: &str = "kmm> ";

/// Why the console reads no input for now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pause {
    Reading,
    /// A run just started: until its workloads fault (`pgfault` passes this), so the
    /// next command already sees it under way.
    UntilRunMoves(u64),
    /// `wait`: until the background run ends.
    UntilRunEnds,
    /// `sleep`: until this counter value.
    Until(u64),
}

/// Where `top` last looked: the time and each core's WFI total then.
struct TopMark {
    at: u64,
    idle: [u64; MAX_CPUS],
}

impl TopMark {
    fn now() -> Self {
        TopMark {
            at: timer::now_ticks(),
            idle: core::array::from_fn(smp::idle_ticks),
        }
    }
}

struct Shell<'a> {
    board: &'a Board<'static>,
    settings: CmdLine,
    /// Boxed: with its history, 6 KiB that CPU 0's stack need not hold.
    editor: Box<LineEditor<LINE_MAX, HISTORY>>,
    /// Lines typed (blank ones aside) and those refused.
    commands: u64,
    errors: u64,
    runs: u64,
    runs_failed: u64,
    /// The run in the background, if any.
    running: Option<RunKind>,
    /// A `run` accepted, for the main loop to start.
    start: Option<RunKind>,
    pause: Pause,
    top: TopMark,
}

pub fn run(info: &BootInfo<'_>) -> u32 {
    percpu::this_cpu().set_activity("shell");
    let mut shell = Shell {
        board: info.board,
        settings: info.cmdline.clone(),
        editor: Box::new(LineEditor::new(PROMPT, complete::candidates)),
        commands: 0,
        errors: 0,
        runs: 0,
        runs_failed: 0,
        running: None,
        start: None,
        pause: Pause::Reading,
        top: TopMark::now(),
    };
    println!(
        "shell: {} CPUs online, console on {}; type help (lines up to {LINE_MAX} characters)",
        smp::online_cpus().count(),
        crate::console::current().map_or("?", |c| c.kind.name())
    );
    shell.prompt();
    loop {
        shell.service();
        match shell.start.take() {
            Some(kind) => shell.run_in_background(kind),
            None => smp::sleep(smp::POLL_PERIOD),
        }
    }
}

impl Shell<'_> {
    /// Reads what the UART holds and runs each finished line, unless paused or a run
    /// is waiting to start. Called by the main loop and, during a run, by its hook.
    fn service(&mut self) {
        let resume = match self.pause {
            Pause::Until(deadline) => timer::now_ticks() >= deadline,
            Pause::UntilRunMoves(faults) => VMSTAT.read(VmEvent::PgFault) > faults,
            Pause::Reading | Pause::UntilRunEnds => false,
        };
        if resume {
            self.pause = Pause::Reading;
            self.prompt();
        } else if console::input_erased() {
            self.prompt();
        }
        while self.reading() {
            let Some(byte) = console::read_byte() else {
                break;
            };
            let mut echo = Vec::new();
            let event = self
                .editor
                .feed(byte, &mut |bytes: &[u8]| echo.extend_from_slice(bytes));
            // The line stays open unless it ended (its CR LF written).
            let ended = matches!(
                event,
                Some(Event::Line(_) | Event::TooLong | Event::Cancelled)
            );
            console::write_input(&echo, !ended);
            match event {
                Some(Event::Line(line)) => self.line(line.as_str()),
                Some(Event::TooLong) => {
                    self.commands += 1;
                    self.error(format_args!(
                        "line longer than {LINE_MAX} characters: refused"
                    ));
                    self.prompt();
                }
                Some(Event::Cancelled) => self.prompt(),
                Some(Event::EndOfInput) => self.end_of_input(),
                None => {}
            }
        }
    }

    /// Whether the console takes input now: not paused, no run waiting to start.
    fn reading(&self) -> bool {
        self.pause == Pause::Reading && self.start.is_none()
    }

    /// Writes the prompt and the line typed so far, when the console takes input.
    fn prompt(&mut self) {
        if self.reading() {
            let mut out = Vec::new();
            self.editor
                .redraw(&mut |bytes: &[u8]| out.extend_from_slice(bytes));
            console::write_input(&out, true);
        }
    }

    /// Ctrl-D on an empty line: `poweroff`, as a shell logs out, unless a run is active.
    fn end_of_input(&mut self) {
        match self.running {
            Some(kind) => {
                console::write_input(b"\r\n", false);
                self.commands += 1;
                self.error(format_args!(
                    "Ctrl-D: run {} is active (poweroff cuts it short)",
                    kind.name()
                ));
                self.prompt();
            }
            None => {
                console::write_input(b"poweroff\r\n", false);
                self.line("poweroff");
            }
        }
    }

    fn error(&mut self, what: core::fmt::Arguments<'_>) {
        self.errors += 1;
        println!("error: {what}");
    }

    fn line(&mut self, line: &str) {
        match command::parse(line) {
            Ok(None) => {}
            Ok(Some(cmd)) => {
                self.commands += 1;
                if let Err(why) = self.execute(cmd) {
                    self.error(format_args!("{why}"));
                }
            }
            Err(e) => {
                self.commands += 1;
                self.error(format_args!("{e}"));
            }
        }
        self.prompt();
    }

    fn execute(&mut self, cmd: Command<'_>) -> Result<(), String> {
        let mut out = String::new();
        match cmd {
            Command::Help => {
                let _ = command::write_help(&mut out);
                let _ = writeln!(
                    out,
                    "Keys: Up/Down recall lines, Left/Right/Home/End/Delete/Backspace edit, \
                     Tab completes,\n  Ctrl-W/Ctrl-U/Ctrl-K kill the word before/all before/all after \
                     the cursor,\n  Ctrl-L clears the screen, Ctrl-C cancels the line, \
                     Ctrl-D on an empty line powers off."
                );
            }
            Command::Meminfo => {
                let _ = report::write_meminfo(&mut out, &figures(&self.settings)?.mem);
            }
            Command::Vmstat => {
                let _ = VMSTAT.write_proc_vmstat(&mut out);
            }
            Command::Pressure => {
                let _ = write!(out, "{}", reclaim::psi());
            }
            Command::Zram => match reclaim::system() {
                Some(sys) => {
                    let stat = sys.policy.store().lock().mm_stat();
                    let _ = report::write_mm_stat(&mut out, &stat);
                }
                None => {
                    let _ = writeln!(out, "zram: no store yet (a run sets it up); all zero:");
                    let _ = report::write_mm_stat(&mut out, &MmStat::default());
                }
            },
            Command::Buddyinfo => {
                let _ = report::write_buddyinfo(&mut out, &figures(&self.settings)?.buddyinfo);
            }
            Command::Zoneinfo => {
                let _ = report::write_zoneinfo(&mut out, &figures(&self.settings)?.zone);
            }
            Command::Top => self.top(&mut out),
            Command::Show => {
                let _ = shell_settings::write_settings(&mut out, &self.settings);
            }
            Command::Set(words) => {
                if let Some(kind) = self.running {
                    return Err(alloc::format!(
                        "set: run {} is active: settings change between runs (wait for it)",
                        kind.name()
                    ));
                }
                let keys = shell_settings::apply(&mut self.settings, words)
                    .map_err(|e| alloc::format!("{e}"))?;
                if keys.contains(&Key::Trace) {
                    trace::set_enabled(self.settings.trace).map_err(|e| {
                        self.settings.trace = false;
                        alloc::format!("set: trace: {e}")
                    })?;
                }
                if keys.contains(&Key::WatermarkScaleFactor) {
                    // A sysctl write: the watermarks move now, as in Linux.
                    with_zone(|zone| zone.set_config(settings::zone_config(&self.settings)))
                        .ok_or("set: no zone")?
                        .map_err(|e| alloc::format!("set: zone refused: {e}"))?;
                }
                for key in keys {
                    let _ = shell_settings::write_setting(&mut out, &self.settings, key, " ");
                    out.push(' ');
                }
                let _ = writeln!(out, "(the next run uses it)");
            }
            Command::Run(kind) => {
                if let Some(active) = self.running {
                    return Err(alloc::format!(
                        "run: run {} is still active (wait, or watch it with vmstat/top)",
                        active.name()
                    ));
                }
                self.start = Some(kind);
                let _ = writeln!(
                    out,
                    "run {}: starting in the background; the console stays live (try vmstat, top, wait)",
                    kind.name()
                );
            }
            Command::Wait => match self.running {
                Some(kind) => {
                    self.pause = Pause::UntilRunEnds;
                    let _ = writeln!(out, "wait: until run {} ends", kind.name());
                }
                None => {
                    let _ = writeln!(out, "wait: no run is active");
                }
            },
            Command::Sleep(secs) => {
                self.pause = Pause::Until(timer::deadline_after(Duration::from_secs(secs)));
            }
            Command::Trace(TraceOp::Dump) => trace::dump(),
            Command::Trace(op) => {
                self.settings.trace = op == TraceOp::On;
                trace::set_enabled(self.settings.trace).map_err(|e| {
                    self.settings.trace = false;
                    alloc::format!("trace: {e}")
                })?;
                let _ = writeln!(
                    out,
                    "{}",
                    if trace::is_enabled() {
                        "trace: on: each core records its reclaim events (trace dump prints them)"
                    } else {
                        "trace: off: what was recorded stays for trace dump"
                    }
                );
            }
            Command::Poweroff => self.poweroff(),
        }
        print!("{out}");
        Ok(())
    }

    /// `top`: each online core's job and its busy share since the last `top`.
    fn top(&mut self, out: &mut String) {
        let now = TopMark::now();
        let interval = now.at - self.top.at;
        let cores: alloc::vec::Vec<CoreLoad<'_>> = smp::online_cpus()
            .map(|cpu| {
                let idle = now.idle[cpu].saturating_sub(self.top.idle[cpu]);
                CoreLoad {
                    cpu,
                    job: percpu::cpu(cpu).activity(),
                    busy: interval.saturating_sub(idle),
                    interval,
                }
            })
            .collect();
        let ms = timer::ticks_to_duration(interval).as_millis() as u64;
        let _ = report::write_top(out, ms, &cores);
        self.top = now;
    }

    /// Runs `kind` on the other cores while this one keeps serving the console.
    fn run_in_background(&mut self, kind: RunKind) {
        self.running = Some(kind);
        self.pause = Pause::UntilRunMoves(VMSTAT.read(VmEvent::PgFault));
        let settings = self.settings.clone();
        let board = self.board;
        let status = {
            let mut hook = || self.service();
            match kind {
                RunKind::Pressure => pressure::run_from_shell(board, &settings, &mut hook),
                RunKind::Bench => {
                    bench::run_polling(&settings, Some(&mut hook), bench::Kind::Kcompressd)
                }
                RunKind::Apps => bench::run_polling(&settings, Some(&mut hook), bench::Kind::Apps),
            }
        };
        self.running = None;
        self.runs += 1;
        self.runs_failed += u64::from(status != 0);
        println!("run {}: ended with status {status}", kind.name());
        if matches!(self.pause, Pause::UntilRunEnds | Pause::UntilRunMoves(_)) {
            self.pause = Pause::Reading;
        }
        self.prompt();
    }

    fn poweroff(&mut self) -> ! {
        if let Some(kind) = self.running {
            println!("poweroff: run {} is cut short", kind.name());
        }
        /// The console session's RESULT.
        #[derive(serde::Serialize)]
        struct ShellResult {
            scenario: &'static str,
            commands: u64,
            errors: u64,
            runs: u64,
            runs_failed: u64,
        }
        print_result(&ShellResult {
            scenario: "shell",
            commands: self.commands,
            errors: self.errors,
            runs: self.runs,
            runs_failed: self.runs_failed,
        });
        power::exit(0)
    }
}

/// `f` on the live zone: reclaim's once a run set it up, else the boot allocator's.
fn with_zone<T>(f: impl FnOnce(&mut Zone) -> T) -> Option<T> {
    if let Some(sys) = reclaim::system() {
        return Some(f(&mut sys.policy.node().lock().zone));
    }
    mem::FRAMES.lock().as_mut().map(f)
}

/// The numbers behind meminfo, buddyinfo and zoneinfo, read at one moment.
struct Figures {
    mem: MemInfo,
    buddyinfo: [u64; NR_PAGE_ORDERS],
    zone: ZoneInfo,
}

/// `settings`: the zone's `watermark_scale_factor` is the console's setting (`set`
/// applies it to the zone at once, a run again at its start).
fn zone_figures(zone: &Zone, lru: Option<&NodeLru>, settings: &CmdLine) -> Figures {
    let (active, inactive) = lru.map_or((0, 0), |l| (l.nr_active_anon(), l.nr_inactive_anon()));
    let w = zone.watermarks();
    Figures {
        mem: MemInfo {
            total: zone.managed_pages(),
            free: zone.nr_free_pages(),
            active_anon: active,
            inactive_anon: inactive,
            anon_pages: active + inactive,
            page_tables: vm::tables() as u64,
            slab_bytes: mem::heap_used() as u64,
            ..MemInfo::default()
        },
        buddyinfo: zone.buddyinfo(),
        zone: ZoneInfo {
            free: zone.nr_free_pages(),
            min: w.min,
            low: w.low,
            high: w.high,
            managed: zone.managed_pages(),
            watermark_scale_factor: settings::zone_config(settings).watermark_scale_factor,
        },
    }
}

/// The live figures: reclaim's zone, LRU, swap map and store once a run set them up,
/// the boot allocator's zone before (no LRU, no swap yet).
fn figures(settings: &CmdLine) -> Result<Figures, String> {
    let Some(sys) = reclaim::system() else {
        return mem::FRAMES
            .lock()
            .as_ref()
            .map(|zone| zone_figures(zone, None, settings))
            .ok_or_else(|| String::from("no frame allocator"));
    };
    let mut f = {
        let node = sys.policy.node().lock();
        zone_figures(&node.zone, Some(&node.lru), settings)
    };
    // Not under the node lock: the store takes it to get frames.
    let stat = sys.policy.store().lock().mm_stat();
    let swap = sys.policy.swap();
    f.mem.swap_total = swap.capacity() as u64;
    f.mem.swap_free = swap.capacity().saturating_sub(swap.in_use()) as u64;
    f.mem.zswap_bytes = stat.mem_used_total;
    f.mem.zswapped_bytes = stat.orig_data_size;
    Ok(f)
}
