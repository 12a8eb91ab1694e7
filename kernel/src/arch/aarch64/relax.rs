//! How a core waits for a spin lock: Linux arm64's `cpu_relax()`, a `yield` hint.
//! On silicon it lets an SMT sibling run; under QEMU's single-threaded TCG (`-icount`,
//! vCPUs in turn) it ends the vCPU's turn, so a waiter does not burn the slice of a
//! lock holder that is not running (`core::hint::spin_loop()` is `isb`, which does not).
//! Owns only the hint; which locks use it is `reclaim`'s.

use core::arch::asm;

/// `spin`'s relax strategy with Linux's `cpu_relax()`.
pub struct Yield;

impl spin::RelaxStrategy for Yield {
    #[inline(always)]
    fn relax() {
        // SAFETY: a hint instruction: no memory, register or flag is changed.
        unsafe { asm!("yield", options(nomem, nostack, preserves_flags)) };
    }
}
