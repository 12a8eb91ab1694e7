//! The FP/SIMD state an exception must leave as it found it, made checkable:
//! `load_keeping` holds known values in q0-q31, FPSR and FPCR across one load that is
//! meant to fault (`scenario=protect` points it at a workload-region page, whose fault
//! the fault hook resolves). Owns only that asm; the vectors that save and restore the
//! state are boot/head.s's, what the load touches is the caller's.

use core::arch::asm;

/// q0-q31, FPSR and FPCR (layout fixed by the asm below: q at 0, FPSR at 512, FPCR at
/// 520).
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FpSimdState {
    pub q: [u128; 32],
    pub fpsr: u64,
    pub fpcr: u64,
}

const _: () = assert!(core::mem::offset_of!(FpSimdState, fpsr) == 512);
const _: () = assert!(core::mem::offset_of!(FpSimdState, fpcr) == 520);

/// Loads `state` into q0-q31, FPSR and FPCR, loads a word from `addr` (mapped, or a
/// fault the fault hook resolves), and returns the registers as they are after that
/// load. FPSR and FPCR are put back as the caller had them.
pub fn load_keeping(state: &FpSimdState, addr: usize) -> FpSimdState {
    let mut after = core::mem::MaybeUninit::<FpSimdState>::uninit();
    // SAFETY: reads `state` and writes `after` (both 16-byte aligned, 528 bytes, at
    // the offsets asserted above); every vector register is declared clobbered
    // (`clobber_abi("C")` covers v0-v31) and FPSR/FPCR are restored before the end.
    // The load from `addr` is the caller's: mapped, or a fault that is resolved and
    // retried (any other fault is fatal in the exception code).
    unsafe {
        asm!(
            "mrs x10, fpsr",
            "mrs x11, fpcr",
            "ldp q0, q1, [{src}, #0]", "ldp q2, q3, [{src}, #32]",
            "ldp q4, q5, [{src}, #64]", "ldp q6, q7, [{src}, #96]",
            "ldp q8, q9, [{src}, #128]", "ldp q10, q11, [{src}, #160]",
            "ldp q12, q13, [{src}, #192]", "ldp q14, q15, [{src}, #224]",
            "ldp q16, q17, [{src}, #256]", "ldp q18, q19, [{src}, #288]",
            "ldp q20, q21, [{src}, #320]", "ldp q22, q23, [{src}, #352]",
            "ldp q24, q25, [{src}, #384]", "ldp q26, q27, [{src}, #416]",
            "ldp q28, q29, [{src}, #448]", "ldp q30, q31, [{src}, #480]",
            "ldr x9, [{src}, #512]", "msr fpsr, x9",
            "ldr x9, [{src}, #520]", "msr fpcr, x9",
            "ldr x9, [{addr}]",
            "stp q0, q1, [{dst}, #0]", "stp q2, q3, [{dst}, #32]",
            "stp q4, q5, [{dst}, #64]", "stp q6, q7, [{dst}, #96]",
            "stp q8, q9, [{dst}, #128]", "stp q10, q11, [{dst}, #160]",
            "stp q12, q13, [{dst}, #192]", "stp q14, q15, [{dst}, #224]",
            "stp q16, q17, [{dst}, #256]", "stp q18, q19, [{dst}, #288]",
            "stp q20, q21, [{dst}, #320]", "stp q22, q23, [{dst}, #352]",
            "stp q24, q25, [{dst}, #384]", "stp q26, q27, [{dst}, #416]",
            "stp q28, q29, [{dst}, #448]", "stp q30, q31, [{dst}, #480]",
            "mrs x9, fpsr", "str x9, [{dst}, #512]",
            "mrs x9, fpcr", "str x9, [{dst}, #520]",
            "msr fpsr, x10",
            "msr fpcr, x11",
            src = in(reg) state,
            dst = in(reg) after.as_mut_ptr(),
            addr = in(reg) addr,
            // x9 scratch, x10 and x11 the caller's FPSR and FPCR.
            out("x9") _,
            out("x10") _,
            out("x11") _,
            options(nostack),
            clobber_abi("C"),
        );
        after.assume_init()
    }
}
