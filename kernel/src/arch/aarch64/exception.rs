//! Exceptions other than IRQs: the trap frame the vectors (boot/head.s) save, dispatch
//! (IRQs go to `irq::handle_irq`, kernel faults first to the fault hook the kernel
//! registers with `set_fault_hook`), recovery of expected faults (`probe`, like Linux's
//! exception fixup tables) and the fatal report for everything else. Owns the vectors'
//! Rust side; what a fault means to the kernel (the workload region's page faults) is
//! the hook's business, which this module never names. Kernel code runs on SP_EL0;
//! every exception runs on the CPU's own exception stack (SP_EL1), so a kernel stack
//! overflow into its guard page is caught and reported like any other fault.

use core::fmt::Write;
use core::sync::atomic::{AtomicPtr, Ordering};

use kernel::esr::Esr;

use super::console::arch_fatal_println;
use super::{MAX_CPUS, backtrace, fatal, irq, percpu};

/// What the vectors save (layout fixed by boot/head.s, which gets the FP/SIMD offsets
/// and the size from here): everything the interrupted code may hold live, so the
/// handler may be any Rust, vector instructions included.
#[repr(C, align(16))]
pub struct TrapFrame {
    pub x: [u64; 31],
    /// The interrupted code's stack pointer.
    pub sp: u64,
    pub elr: u64,
    pub spsr: u64,
    pub esr: u64,
    pub far: u64,
    /// q0-q31 (`stp q` wants 16-byte alignment: the frame is, and so is this offset).
    pub q: [u128; 32],
    pub fpsr: u64,
    pub fpcr: u64,
}

/// Offsets boot/head.s stores the FP/SIMD state at.
pub const FRAME_Q: usize = core::mem::offset_of!(TrapFrame, q);
pub const FRAME_FPSR: usize = core::mem::offset_of!(TrapFrame, fpsr);
pub const FRAME_FPCR: usize = core::mem::offset_of!(TrapFrame, fpcr);
// The vectors keep SP 16-byte aligned (SCTLR.SA) and store x0-x30 with fixed offsets
// up to FAR at 280.
const _: () = assert!(size_of::<TrapFrame>().is_multiple_of(16) && FRAME_Q.is_multiple_of(16));
const _: () = assert!(core::mem::offset_of!(TrapFrame, far) == 280);

/// Vector groups (`kind >> 2`).
const GROUP_NAMES: [&str; 4] = [
    "EL1 with SP_EL0 (kernel)",
    "EL1 with SP_EL1 (inside an exception handler)",
    "lower EL, AArch64",
    "lower EL, AArch32",
];
/// Vector types (`kind & 3`).
const TYPE_NAMES: [&str; 4] = ["synchronous", "IRQ", "FIQ", "SError"];
const TYPE_SYNC: u64 = 0;
const TYPE_IRQ: u64 = 1;

/// What the fault hook made of a synchronous exception taken from kernel code.
pub enum FaultOutcome {
    /// Not a fault the hook handles: it goes on like any other (probe recovery, else
    /// the fatal report).
    NotMine,
    /// Resolved: the faulting instruction runs again.
    Resolved,
    /// The hook's fault, not resolved. With `abortable`, a running `probe::call` ends
    /// with it (as with any fault it catches); otherwise, or without one, the fatal
    /// report opens with `why`.
    Unresolved { abortable: bool, why: Line },
}

/// Resolves faults of kernel code, given ESR_EL1 and FAR_EL1. It runs on the faulting
/// core's exception stack with the interrupted FP/SIMD state saved by the vectors (and
/// FPCR, FPSR zeroed: the default rounding, no flags), so it may be any Rust; it must
/// not fault itself (that one is reported as fatal).
pub type FaultHook = fn(esr: u64, far: u64) -> FaultOutcome;

static FAULT_HOOK: spin::Once<FaultHook> = spin::Once::new();

/// Sets the fault hook, once, at boot (later calls change nothing). Until then every
/// kernel fault is treated as `NotMine`: caught by a `probe::call` or reported as fatal.
pub fn set_fault_hook(hook: FaultHook) {
    FAULT_HOOK.call_once(|| hook);
}

/// Called by the vectors for every exception. Returns to the interrupted code (with
/// `frame` possibly changed) or does not return.
pub extern "C" fn exception_entry(kind: u64, frame: &mut TrapFrame) {
    let (group, ty) = (kind >> 2, kind & 3);
    if ty == TYPE_IRQ && group < 2 {
        irq::handle_irq();
        return;
    }
    if ty == TYPE_SYNC
        && group == 0
        && let Some(&hook) = FAULT_HOOK.get()
        && run_fault_hook(hook, frame)
    {
        return;
    }
    if ty == TYPE_SYNC && group < 2 && probe::recover(frame) {
        return;
    }
    fatal::begin();
    arch_fatal_println!(
        "\n*** unexpected {} exception from {} on CPU {}",
        TYPE_NAMES[ty as usize],
        GROUP_NAMES[group as usize],
        percpu::this_cpu_id()
    );
    report(frame);
    fatal::end()
}

/// Asks the fault hook about `frame`'s fault and acts on its answer: true if the fault
/// is dealt with (resolved, or a `probe::call` ends with it), false if it is not the
/// hook's. An unresolved fault is reported here and does not return.
fn run_fault_hook(hook: FaultHook, frame: &mut TrapFrame) -> bool {
    match hook(frame.esr, frame.far) {
        FaultOutcome::NotMine => false,
        FaultOutcome::Resolved => true,
        FaultOutcome::Unresolved {
            abortable: true, ..
        } if probe::recover(frame) => true,
        FaultOutcome::Unresolved { why, .. } => {
            fatal::begin();
            arch_fatal_println!("\n*** {}", why.as_str());
            report(frame);
            fatal::end()
        }
    }
}

fn report(frame: &TrapFrame) {
    let esr = Esr(frame.esr);
    arch_fatal_println!("{esr}");
    arch_fatal_println!(
        "ESR={:#018x} FAR={:#018x} ELR={:#018x} SPSR={:#018x}",
        frame.esr,
        frame.far,
        frame.elr,
        frame.spsr
    );
    for row in 0..8 {
        let mut line = Line::new();
        for col in 0..4 {
            let r = row * 4 + col;
            let sep = if col == 0 { "" } else { "  " };
            let _ = if r < 31 {
                write!(line, "{sep}x{r:<2}={:#018x}", frame.x[r])
            } else {
                write!(line, "{sep}sp ={:#018x}", frame.sp)
            };
        }
        arch_fatal_println!("{}", line.as_str());
    }
    backtrace::print(frame.elr, frame.x[29]);
}

/// A line of a fault report, formatted on the stack (the report must not allocate: the
/// heap may be the thing that broke). Text past 128 bytes is dropped.
pub struct Line {
    buf: [u8; 128],
    len: usize,
}

impl Line {
    fn new() -> Self {
        Self {
            buf: [0; 128],
            len: 0,
        }
    }

    /// The line `args` formats to.
    pub fn from_fmt(args: core::fmt::Arguments<'_>) -> Self {
        let mut line = Self::new();
        let _ = line.write_fmt(args);
        line
    }

    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("?")
    }
}

impl core::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(core::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Expected faults: run a function that may fault and get the fault back as a value.
///
/// `probe::call(f, arg, stack)` saves the callee-saved registers and SP (boot/head.s
/// `probe_call`, like `setjmp`), arms this CPU's slot and calls `f(arg)`, optionally on
/// another stack. A synchronous exception while the slot is armed is recorded (ESR, FAR,
/// ELR) and the handler resumes at `probe_resume`, which restores the saved state and
/// returns "faulted" (like `longjmp`). Faults with the slot disarmed stay fatal.
pub mod probe {
    use super::*;

    /// A recorded fault.
    #[derive(Clone, Copy, Debug)]
    pub struct Fault {
        pub esr: Esr,
        pub far: u64,
        pub elr: u64,
    }

    /// Saved state (x19-x30, SP) plus the fault, if any.
    #[repr(C)]
    struct Probe {
        jmp: [u64; 21],
        fault: Option<Fault>,
    }

    static ARMED: [AtomicPtr<Probe>; MAX_CPUS] =
        [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_CPUS];

    // SAFETY: both are boot/head.s's (linked in by `global_asm!` in arch/aarch64/mod.rs).
    // `probe_call` matches this signature under AAPCS64 (f, arg, stack_top, jmp in
    // x0-x3, the result in x0) and saves into `jmp` (21 words, `Probe::jmp`) every
    // register the ABI makes callee-saved. `probe_resume` is never called from Rust:
    // only its address is used, as the ELR the fault handler returns to.
    unsafe extern "C" {
        fn probe_call(f: extern "C" fn(usize), arg: usize, stack_top: usize, jmp: *mut u64) -> u64;
        fn probe_resume();
    }

    /// Runs `f(arg)` on this CPU (on `stack_top` if given) and returns the first
    /// synchronous fault it raised, or `Ok` if it returned.
    pub fn call(
        f: extern "C" fn(usize),
        arg: usize,
        stack_top: Option<usize>,
    ) -> Result<(), Fault> {
        let cpu = percpu::this_cpu_id();
        let mut probe = Probe {
            jmp: [0; 21],
            fault: None,
        };
        ARMED[cpu].store(&raw mut probe, Ordering::Relaxed);
        // SAFETY: probe_call saves and restores every callee-saved register and SP, so
        // to this function it is an ordinary call; `probe` outlives it. The handler
        // writes `probe.fault` only while the slot is armed, on this CPU.
        let faulted =
            unsafe { probe_call(f, arg, stack_top.unwrap_or(0), (&raw mut probe.jmp).cast()) };
        ARMED[cpu].store(core::ptr::null_mut(), Ordering::Relaxed);
        // SAFETY: the slot is disarmed; nothing else writes `probe` now.
        let fault = unsafe { (&raw const probe.fault).read_volatile() };
        match (faulted, fault) {
            (0, _) => Ok(()),
            (_, Some(fault)) => Err(fault),
            (_, None) => unreachable!("probe_resume without a recorded fault"),
        }
    }

    /// Stores zero at `addr`: a store meant to fault, to run under `call`. The asm is
    /// opaque to the compiler, so no Rust-level UB is involved.
    pub extern "C" fn store_to(addr: usize) {
        // SAFETY: a deliberately faulting store, run under `call`.
        unsafe { core::arch::asm!("str xzr, [{}]", in(reg) addr, options(nostack)) };
    }

    /// Loads from `addr`: a load meant to fault, to run under `call`.
    pub extern "C" fn load_from(addr: usize) {
        // SAFETY: a deliberately faulting load, run under `call`.
        unsafe {
            core::arch::asm!(
                "ldr {t}, [{a}]",
                a = in(reg) addr,
                t = out(reg) _,
                options(nostack, readonly)
            )
        };
    }

    /// Branches to `addr`, which should hold a `ret` in non-executable memory: an
    /// instruction fetch meant to fault, to run under `call`.
    pub extern "C" fn branch_to(addr: usize) {
        // SAFETY: deliberately executes non-executable memory holding a `ret`, under
        // `call`; should the fetch succeed, the `ret` returns here.
        unsafe { core::arch::asm!("blr {}", in(reg) addr, out("x30") _, clobber_abi("C")) };
    }

    /// From the vector: if this CPU's slot is armed, record the fault, disarm, and make
    /// the exception return into `probe_resume`.
    pub(super) fn recover(frame: &mut TrapFrame) -> bool {
        let Some(slot) = ARMED.get(percpu::this_cpu_id()) else {
            return false;
        };
        let probe = slot.swap(core::ptr::null_mut(), Ordering::Relaxed);
        if probe.is_null() {
            return false;
        }
        // SAFETY: an armed slot points at the `Probe` of the `call` running on this CPU,
        // which is suspended in this exception.
        unsafe {
            (&raw mut (*probe).fault).write_volatile(Some(Fault {
                esr: Esr(frame.esr),
                far: frame.far,
                elr: frame.elr,
            }));
            frame.x[0] = (&raw mut (*probe).jmp) as u64;
        }
        frame.x[1] = 1;
        frame.elr = probe_resume as *const () as u64;
        true
    }
}
