//! The kernel binary: `kmain`, the boot CPU's Rust entry, and the glue modules. The
//! portable pieces are in `lib.rs` (and the `mm`, `platform` crates); everything here
//! builds only for aarch64-unknown-none. On the host this is a stub that says so.
//! `kmain` hands arch what it needs of the kernel: the console (`console::init`) and
//! the fault hook (`fault::hook`); boot/head.s finds `kmain` by its symbol name.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
mod arch;
#[cfg(target_os = "none")]
mod console;
#[cfg(target_os = "none")]
mod drivers;
#[cfg(target_os = "none")]
mod fault;
#[cfg(target_os = "none")]
mod mem;
#[cfg(target_os = "none")]
mod panic;
#[cfg(target_os = "none")]
mod reclaim;
#[cfg(target_os = "none")]
mod run;
#[cfg(target_os = "none")]
mod scenario;
#[cfg(target_os = "none")]
mod trace;
#[cfg(target_os = "none")]
mod vm;
#[cfg(target_os = "none")]
mod workload;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("the kernel runs on aarch64-unknown-none: use ./qemu-run.sh");
}

/// Why the boot CPU stopped before it had a console (read it with a debugger:
/// `print BOOT_STOP_REASON`); see docs/boot.md.
#[cfg(target_os = "none")]
#[derive(Clone, Copy)]
#[repr(u32)]
enum BootStop {
    NoDtb = 1,
    BadDtbHeader = 2,
    BadDtb = 3,
    NoConsole = 4,
    PageTables = 5,
}

#[cfg(target_os = "none")]
static BOOT_STOP_REASON: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

#[cfg(target_os = "none")]
fn boot_stop(reason: BootStop) -> ! {
    BOOT_STOP_REASON.store(reason as u32, core::sync::atomic::Ordering::Relaxed);
    arch::aarch64::park()
}

/// The boot CPU's first Rust, called by boot/head.s at EL1 with the early map on, on
/// CPU 0's kernel stack. `dtb_pa`: the DTB (0 if none was found); `entry_el`: the
/// exception level the kernel was entered at. Found by its symbol name (see
/// `arch::aarch64`, which declares it).
#[cfg(target_os = "none")]
#[unsafe(no_mangle)]
extern "C" fn kmain(dtb_pa: usize, entry_el: u64) -> ! {
    use arch::aarch64::{exception, fatal, gic, mmu, power, psci, smp};
    use kernel::memmap::Span;
    use platform::ArrayVec;
    use platform::cmdline::{CmdLine, ConsoleChoice};

    if dtb_pa == 0 {
        boot_stop(BootStop::NoDtb);
    }
    // SAFETY: boot/head.s checked the magic and mapped the DTB's totalsize (at most
    // 2 MiB) in the early map; nothing writes the DTB.
    let header =
        unsafe { core::slice::from_raw_parts(dtb_pa as *const u8, platform::DTB_HEADER_SIZE) };
    let Ok(size) = platform::dtb_total_size(header) else {
        boot_stop(BootStop::BadDtbHeader)
    };
    // SAFETY: as above, `size` bytes are mapped; the DTB stays in place (it is kept out
    // of the frame allocator and mapped read-only) for the kernel's life.
    let dtb: &'static [u8] = unsafe { core::slice::from_raw_parts(dtb_pa as *const u8, size) };
    static BOARD: spin::Once<platform::Board<'static>> = spin::Once::new();
    let Ok(board) = platform::Board::from_dtb(dtb) else {
        boot_stop(BootStop::BadDtb)
    };
    let board = BOARD.call_once(|| board);
    // A refused line is refused once the heap is up (its RESULT line is written there),
    // and leaves by its own `exit=` if that names a method; until then it asks for the
    // DTB's console, as does a console the board cannot give.
    let parsed = CmdLine::parse(board.bootargs);
    let choice = match &parsed {
        Ok(c) => c
            .console_choice(board.console.map(|c| c.kind), board.pci.is_some())
            .map_err(console::SelectError::Choice),
        Err(_) => Ok(ConsoleChoice::Dtb),
    };
    let extra = choice.map_or_else(|_| ArrayVec::new(), |c| console::mappings(board, c));
    let dtb_span = Span::new(dtb_pa as u64, (dtb_pa + size) as u64);
    let Ok(page_tables) = mmu::init(board, dtb_span, &extra) else {
        boot_stop(BootStop::PageTables)
    };
    // SAFETY: `mmu::init` mapped `console::mappings` of this choice as Device memory;
    // nothing else drives them.
    let chosen = choice.and_then(|c| unsafe { console::resolve(board, c) });
    let (console, pci, console_error) = match chosen {
        Ok((console, pci)) => (console, pci, None),
        Err(e) => (board.console, None, Some(e)),
    };
    let Some(console) = console else {
        boot_stop(BootStop::NoConsole)
    };
    console::init(&console);
    exception::set_fault_hook(fault::hook);
    println!(
        "kernel: entered at EL{entry_el}, DTB at {dtb_pa:#x} ({size} bytes), MMU on ({page_tables} page tables)"
    );
    println!(
        "kernel: running at {:#x} (linked at {:#x})",
        arch::aarch64::load_address(),
        arch::aarch64::link_address()
    );
    match pci {
        Some(bdf) => println!(
            "kernel: console {} at PCI {bdf}, registers at {:#x}",
            console.kind.name(),
            console.base
        ),
        None => println!(
            "kernel: console {} ({}) at {:#x}",
            console.kind.name(),
            console.path,
            console.base
        ),
    }
    if let Some(method) = board.psci {
        psci::init(method);
    } else {
        println!("kernel: the DTB has no /psci node: no secondary CPUs, no power-off");
    }

    let (exit, scenario) = match &parsed {
        Ok(c) => (Some(c.exit), c.scenario.name()),
        Err(e) => {
            println!("kernel: command line \"{}\": {e}", board.bootargs);
            refused_line_asks(board.bootargs)
        }
    };
    power::set_exit_method(exit);
    let mem = mem::init(board, dtb_span).unwrap_or_else(|e| {
        boot_failed(scenario, format_args!("memory: {e}"), fatal::FATAL_STATUS)
    });
    let cmdline = match parsed {
        Ok(c) => c,
        Err(e) => boot_failed(scenario, format_args!("command line: {e}"), 2),
    };
    if let Some(e) = console_error {
        boot_failed(scenario, format_args!("console: {e}"), 2)
    }
    println!("kernel: command line \"{}\"", board.bootargs);
    if cmdline.bootloader_words > 0 {
        println!(
            "kernel: {} word(s) of the bootloader's own (androidboot.*, cros_*) skipped",
            cmdline.bootloader_words
        );
    }
    let Some(gic_desc) = &board.gic else {
        boot_failed(
            scenario,
            format_args!("the DTB names no GIC"),
            fatal::FATAL_STATUS,
        )
    };
    if let Err(e) = gic::init(gic_desc) {
        boot_failed(scenario, format_args!("GIC: {e}"), fatal::FATAL_STATUS)
    }
    let smp = smp::bring_up(board);
    let cmdline = scenario::place(cmdline, board);
    trace::init(mem.heap.end - mem.heap.start, cmdline.trace);
    let info = scenario::BootInfo {
        board,
        cmdline: &cmdline,
        entry_el,
        smp,
        mem,
        page_tables,
    };
    power::exit(scenario::run(&info))
}

/// What a refused command line still says: how to exit (`exit=semihosting` if given,
/// else its first `exit=`, else the default PSCI; `None` if an `exit=` names no method)
/// and the scenario for the `RESULT` line (the first `scenario=` naming one, else
/// `cmdline`).
#[cfg(target_os = "none")]
fn refused_line_asks(line: &str) -> (Option<platform::cmdline::ExitMethod>, &'static str) {
    use platform::cmdline::{ExitMethod, Scenario};

    let values = |key: &'static str| {
        line.split_ascii_whitespace()
            .filter_map(move |w| w.split_once('=').filter(|(k, _)| *k == key))
            .map(|(_, v)| v)
    };
    let exits = || values("exit").map(ExitMethod::from_name);
    let exit = if exits().any(|m| m == Some(ExitMethod::Semihosting)) {
        Some(ExitMethod::Semihosting)
    } else if exits().any(|m| m.is_none()) {
        None
    } else {
        exits().next().flatten().or(Some(ExitMethod::Psci))
    };
    let scenario = values("scenario")
        .find_map(Scenario::from_name)
        .map_or("cmdline", Scenario::name);
    (exit, scenario)
}

/// Bring-up ended early (a refused command line, no memory, no GIC): says why, ends
/// with the scenario's `RESULT` error line and exits with `status`.
#[cfg(target_os = "none")]
fn boot_failed(scenario: &str, why: core::fmt::Arguments<'_>, status: u32) -> ! {
    let why = alloc::format!("{why}");
    println!("kernel: {why}");
    scenario::print_error(scenario, &why);
    arch::aarch64::power::exit(status)
}
