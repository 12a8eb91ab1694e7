//! Marks for the instruction profiler (profile/plugin, `./qemu-run.sh --profile`):
//! `hint #0x78` opens a measurement window and `hint #0x79` closes it. Unallocated
//! hints execute as NOPs on every Armv8 core: one instruction where nothing listens.
//! Owns only the two instructions; where a window starts is the caller's.

use core::arch::asm;

/// The profiler starts counting here (every vCPU).
#[inline(always)]
pub fn open_window() {
    // SAFETY: a hint instruction: no memory, register or flag is changed.
    unsafe { asm!("hint #0x78", options(nomem, nostack, preserves_flags)) };
}

/// The profiler writes the window's counts and stops counting here.
#[inline(always)]
pub fn close_window() {
    // SAFETY: as above.
    unsafe { asm!("hint #0x79", options(nomem, nostack, preserves_flags)) };
}
