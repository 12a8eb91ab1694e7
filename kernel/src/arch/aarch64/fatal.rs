//! The guard that keeps one fatal report on screen: the first core to fail reports
//! (exception reports here, the kernel's panic handler too), a fault while reporting
//! skips to power-off, a third failure parks. Owns that guard; printing goes through
//! `console`, power-off through `power`.

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use super::console::arch_fatal_println;
use super::{MAX_CPUS, park, percpu, power};

/// Exit status after a panic or an unexpected exception.
pub const FATAL_STATUS: u32 = 101;

const NOBODY: usize = usize::MAX;
/// The CPU reporting a fatal error; the others park if they fail too.
static REPORTER: AtomicUsize = AtomicUsize::new(NOBODY);
/// Per-CPU nesting depth of fatal reports.
static DEPTH: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(0) }; MAX_CPUS];

/// Starts a fatal report on this CPU. Returns only if this CPU should print one; a
/// nested failure while reporting powers off at once, a deeper one parks.
pub fn begin() {
    let cpu = percpu::this_cpu_id().min(MAX_CPUS - 1);
    match DEPTH[cpu].fetch_add(1, Ordering::Relaxed) {
        0 => {}
        1 => {
            arch_fatal_println!("*** fault while reporting a fault on CPU {cpu}: powering off");
            power::exit(FATAL_STATUS)
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
pub fn end() -> ! {
    power::exit(FATAL_STATUS)
}
