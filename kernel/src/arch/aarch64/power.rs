//! Leaving the machine: power-off with the kernel's exit status, by the method the
//! command line chose (semihosting, so QEMU sees the status, or PSCI SYSTEM_OFF /
//! SYSTEM_RESET). Owns that choice; the firmware calls are `psci`'s and `semihosting`'s.
//! With no known method (the command line's `exit=` was refused), semihosting if a host
//! answers it, else PSCI: a refusal never reads as status 0 where the status could pass.

use core::sync::atomic::{AtomicU8, Ordering};

use platform::cmdline::ExitMethod;

use super::exception::probe;
use super::{console, psci, semihosting};

/// How `exit` leaves, from `exit=` on the command line (an `ExitMethod` as u8, or
/// `UNKNOWN`).
static EXIT_METHOD: AtomicU8 = AtomicU8::new(ExitMethod::Psci as u8);

/// `EXIT_METHOD` when the command line's `exit=` named no method.
const UNKNOWN: u8 = u8::MAX;

/// Chooses how `exit` leaves: semihosting (QEMU sees the status), PSCI SYSTEM_OFF, or
/// PSCI SYSTEM_RESET (a board goes back to its boot loader); `None`: the command line
/// asked for a method that does not exist, so semihosting is tried first.
pub fn set_exit_method(method: Option<ExitMethod>) {
    EXIT_METHOD.store(method.map_or(UNKNOWN, |m| m as u8), Ordering::Relaxed);
}

/// Leaves with `status` (lost with PSCI SYSTEM_OFF / SYSTEM_RESET, see docs/boot.md).
pub fn exit(status: u32) -> ! {
    console::flush();
    match EXIT_METHOD.load(Ordering::Relaxed) {
        m if m == ExitMethod::Semihosting as u8 => semihosting::exit(status),
        m if m == ExitMethod::Reset as u8 => psci::system_reset(),
        UNKNOWN => {
            // Returns only if the `hlt` trapped: no semihosting host.
            let _ = probe::call(semihosting_exit, status as usize, None);
            psci::system_off()
        }
        _ => psci::system_off(),
    }
}

extern "C" fn semihosting_exit(status: usize) {
    semihosting::exit(status as u32)
}
