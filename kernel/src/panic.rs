//! Fatal errors: the panic handler, the guard that keeps one report on screen (the first
//! core to fail reports; a fault while reporting skips to power-off; a third parks),
//! and power-off with the kernel's exit status (semihosting or PSCI, see `exit`).

use core::sync::atomic::{AtomicU8, AtomicU32, AtomicUsize, Ordering};

use platform::cmdline::ExitMethod;

use crate::arch::aarch64::{MAX_CPUS, backtrace, park, percpu, psci, semihosting};
use crate::fatal_println;

/// Exit status after a panic or an unexpected exception.
pub const FATAL_STATUS: u32 = 101;

/// How `exit` leaves, from `exit=` on the command line (an `ExitMethod` as u8).
static EXIT_METHOD: AtomicU8 = AtomicU8::new(ExitMethod::Psci as u8);

const NOBODY: usize = usize::MAX;
/// The CPU reporting a fatal error; the others park if they fail too.
static REPORTER: AtomicUsize = AtomicUsize::new(NOBODY);
/// Per-CPU nesting depth of fatal reports.
static DEPTH: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(0) }; MAX_CPUS];

/// Chooses how `exit` leaves: semihosting (QEMU sees the status), PSCI SYSTEM_OFF, or
/// PSCI SYSTEM_RESET (a board goes back to its boot loader).
pub fn set_exit_method(method: ExitMethod) {
    EXIT_METHOD.store(method as u8, Ordering::Relaxed);
}

/// Leaves with `status` (lost with PSCI SYSTEM_OFF / SYSTEM_RESET, see docs/boot.md).
pub fn exit(status: u32) -> ! {
    crate::console::flush();
    match EXIT_METHOD.load(Ordering::Relaxed) {
        m if m == ExitMethod::Semihosting as u8 => semihosting::exit(status),
        m if m == ExitMethod::Reset as u8 => psci::system_reset(),
        _ => psci::system_off(),
    }
}

/// Starts a fatal report on this CPU. Returns only if this CPU should print one; a
/// nested failure while reporting powers off at once, a deeper one parks.
pub fn begin_fatal() {
    let cpu = percpu::this_cpu_id().min(MAX_CPUS - 1);
    match DEPTH[cpu].fetch_add(1, Ordering::Relaxed) {
        0 => {}
        1 => {
            fatal_println!("*** fault while reporting a fault on CPU {cpu}: powering off");
            exit(FATAL_STATUS)
        }
        _ => park(),
    }
    if let Err(other) = REPORTER.compare_exchange(NOBODY, cpu, Ordering::AcqRel, Ordering::Acquire)
        && other != cpu
    {
        // Another CPU is already reporting and will power off.
        park()
    }
}

/// Ends a fatal report: power off with a failure status.
pub fn end_fatal() -> ! {
    exit(FATAL_STATUS)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    begin_fatal();
    fatal_println!(
        "\n*** kernel panic on CPU {}: {}",
        percpu::this_cpu_id(),
        info.message()
    );
    if let Some(loc) = info.location() {
        fatal_println!("    at {}:{}:{}", loc.file(), loc.line(), loc.column());
    }
    let fp = backtrace::current_fp();
    // Frame #0 is this handler's caller chain: start from our own frame record.
    backtrace::print(panic as *const () as u64, fp);
    end_fatal()
}
