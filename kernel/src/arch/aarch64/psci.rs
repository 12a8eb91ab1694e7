//! PSCI (Arm Power State Coordination Interface, DEN 0022): power cores on and off, power
//! the machine off or reset it, through the firmware conduit the DTB names (HVC or SMC).
//! Owns only the firmware calls; which cores to start, and when, is `smp`'s business.
//!
//! The calls go through the `smccc` crate: the SMC Calling Convention (which registers
//! carry what, what an HVC/SMC may clobber) and the PSCI function IDs and error codes are
//! fixed by Arm's specifications, and that crate implements them once, is maintained with
//! Google's other aarch64 crates and is tested there. What it leaves to us is choosing the
//! conduit at run time, which `init` does from the DTB's `/psci` `method`.

use core::fmt;
use core::sync::atomic::{AtomicU8, Ordering};

use smccc::psci::{self, LowestAffinityLevel};
use smccc::{Hvc, Smc};

pub use smccc::psci::{AffinityState, Version};

/// No conduit known yet (`init` not called): no firmware call is made.
const CONDUIT_NONE: u8 = 0;
const CONDUIT_HVC: u8 = 1;
const CONDUIT_SMC: u8 = 2;

/// Written once by `init` on the boot CPU before the secondaries exist; read on every core.
static CONDUIT: AtomicU8 = AtomicU8::new(CONDUIT_NONE);

/// Why a PSCI call did not do what was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsciError {
    /// `init` has not been called, so there is no conduit to call the firmware through.
    NoConduit,
    /// The firmware answered with an error code.
    Firmware(psci::Error),
}

impl fmt::Display for PsciError {
    /// Prints the error under the name the PSCI specification gives it (`ALREADY_ON`...),
    /// so a report can be looked up in DEN 0022 directly.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            PsciError::NoConduit => "no PSCI conduit (psci::init not called)",
            PsciError::Firmware(e) => match e {
                psci::Error::NotSupported => "NOT_SUPPORTED",
                psci::Error::InvalidParameters => "INVALID_PARAMETERS",
                psci::Error::Denied => "DENIED",
                psci::Error::AlreadyOn => "ALREADY_ON",
                psci::Error::OnPending => "ON_PENDING",
                psci::Error::InternalFailure => "INTERNAL_FAILURE",
                psci::Error::NotPresent => "NOT_PRESENT",
                psci::Error::Disabled => "DISABLED",
                psci::Error::InvalidAddress => "INVALID_ADDRESS",
                psci::Error::Unknown(code) => return write!(f, "unknown PSCI return value {code}"),
            },
        };
        f.write_str(name)
    }
}

/// Makes one PSCI call through the conduit chosen by `init`; `None` if there is none.
/// (A macro because `smccc` picks the conduit with a type parameter.)
macro_rules! psci_call {
    ($function:ident ( $($arg:expr),* )) => {
        match CONDUIT.load(Ordering::Relaxed) {
            CONDUIT_HVC => Some(psci::$function::<Hvc>($($arg),*)),
            CONDUIT_SMC => Some(psci::$function::<Smc>($($arg),*)),
            _ => None,
        }
    };
}

/// Chooses the conduit the DTB's `/psci` node names. Call once on the boot CPU, before
/// any other function here (and before the secondaries are started).
pub fn init(method: platform::PsciMethod) {
    let conduit = match method {
        platform::PsciMethod::Hvc => CONDUIT_HVC,
        platform::PsciMethod::Smc => CONDUIT_SMC,
    };
    CONDUIT.store(conduit, Ordering::Relaxed);
}

/// The PSCI version the firmware implements (QEMU 7.2: 1.1).
pub fn version() -> Result<Version, PsciError> {
    answer(psci_call!(version()))
}

/// Starts the core whose MPIDR affinity is `mpidr` at physical address `entry`, with
/// `ctx` in its x0. Returns once the firmware has accepted the request; the core runs
/// `entry` some time later (see `smp::bring_up`, which waits for it to check in).
pub fn cpu_on(mpidr: u64, entry: u64, ctx: u64) -> Result<(), PsciError> {
    answer(psci_call!(cpu_on(mpidr, entry, ctx)))
}

/// Whether the core with affinity `mpidr` is on, off or on its way on.
pub fn affinity_info(mpidr: u64) -> Result<AffinityState, PsciError> {
    answer(psci_call!(affinity_info(mpidr, LowestAffinityLevel::All)))
}

/// Folds "no conduit" and "firmware error" into one `PsciError`.
fn answer<T>(call: Option<Result<T, psci::Error>>) -> Result<T, PsciError> {
    call.ok_or(PsciError::NoConduit)?
        .map_err(PsciError::Firmware)
}

/// Powers the calling core off. It can be started again with `cpu_on`.
///
/// Here and in `system_off`/`system_reset`: when there is no conduit, or the firmware
/// refuses (PSCI forbids turning off a Trusted OS's last core, for example), the core
/// parks instead, asleep with interrupts masked.
pub fn cpu_off() -> ! {
    let _refused = psci_call!(cpu_off());
    super::park()
}

/// Powers the machine off. QEMU exits with status 0 (a non-zero status needs semihosting).
pub fn system_off() -> ! {
    let _refused = psci_call!(system_off());
    super::park()
}

/// Resets the machine.
pub fn system_reset() -> ! {
    let _refused = psci_call!(system_reset());
    super::park()
}
