//! Leaving the machine: power-off with the kernel's exit status, by the method the
//! command line chose (semihosting, so QEMU sees the status, or PSCI SYSTEM_OFF /
//! SYSTEM_RESET). Owns that choice; the firmware calls are `psci`'s and `semihosting`'s.

use core::sync::atomic::{AtomicU8, Ordering};

use platform::cmdline::ExitMethod;

use super::{console, psci, semihosting};

/// How `exit` leaves, from `exit=` on the command line (an `ExitMethod` as u8).
static EXIT_METHOD: AtomicU8 = AtomicU8::new(ExitMethod::Psci as u8);

/// Chooses how `exit` leaves: semihosting (QEMU sees the status), PSCI SYSTEM_OFF, or
/// PSCI SYSTEM_RESET (a board goes back to its boot loader).
pub fn set_exit_method(method: ExitMethod) {
    EXIT_METHOD.store(method as u8, Ordering::Relaxed);
}

/// Leaves with `status` (lost with PSCI SYSTEM_OFF / SYSTEM_RESET, see docs/boot.md).
pub fn exit(status: u32) -> ! {
    console::flush();
    match EXIT_METHOD.load(Ordering::Relaxed) {
        m if m == ExitMethod::Semihosting as u8 => semihosting::exit(status),
        m if m == ExitMethod::Reset as u8 => psci::system_reset(),
        _ => psci::system_off(),
    }
}
