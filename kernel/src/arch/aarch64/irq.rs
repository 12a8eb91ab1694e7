//! IRQ handling: what each interrupt means (the boot code's IRQ vector calls
//! `handle_irq`), and masking IRQs on the calling core (PSTATE.I in DAIF).
//! Owns that dispatch; the GIC registers are `gic`'s, the timer's are `timer`'s.
//!
//! IRQs stay masked in kernel code, and are taken only at the sleep points of
//! `smp::wait_until`: interrupt handlers never run in the middle of kernel work.

use core::arch::asm;

use super::console::arch_println;
use super::{gic, timer};

/// Called by the IRQ exception vector: handles every interrupt pending on this core.
pub fn handle_irq() {
    while let Some(irq) = gic::ack() {
        match irq.intid {
            // The wake-up SGI has done its job by ending the WFI; the woken core looks
            // at what it sleeps on by itself.
            id if id == u32::from(gic::SGI_WAKE) => {}
            timer::VIRTUAL_TIMER_INTID => timer::handle_interrupt(),
            other => {
                arch_println!("irq: unexpected interrupt {other}, disabled");
                gic::disable(other);
            }
        }
        gic::eoi(irq);
    }
}

/// Masks IRQs on this core; returns the previous DAIF, for `local_irq_restore`.
pub fn local_irq_save() -> u64 {
    let daif: u64;
    // SAFETY: reads DAIF and sets PSTATE.I; no memory is touched, and the asm is a
    // compiler barrier, so no access moves out of the masked region.
    unsafe { asm!("mrs {}, daif", "msr daifset, #2", out(reg) daif, options(nostack)) };
    daif
}

/// Puts IRQ masking back as `local_irq_save` found it.
pub fn local_irq_restore(daif: u64) {
    // SAFETY: writes back a DAIF value read earlier on this core.
    unsafe { asm!("msr daif, {}", in(reg) daif, options(nostack)) };
}

/// With IRQs masked: waits for an interrupt. WFI wakes on a pending interrupt even
/// while PSTATE.I masks it, so one that became pending after the caller's last check
/// ends the wait at once instead of being lost.
pub fn wait_for_interrupt() {
    // SAFETY: WFI only suspends the core; the asm is a compiler barrier, so the
    // caller's checks are not moved across it.
    unsafe { asm!("wfi", options(nostack)) };
}

/// With IRQs masked: opens a window in which pending IRQs are taken (and handled by
/// `handle_irq`), then masks again. The ISB makes the unmasking take effect inside
/// the window. The IRQ vector saves and restores every register the interrupted code
/// may hold (x0-x30, q0-q31, FPSR, FPCR, boot/head.s), so nothing is declared
/// clobbered.
pub fn take_pending() {
    // SAFETY: the IRQ vector restores every register and PSTATE (SPSR) it found; the
    // asm is a compiler barrier, so memory the handler changes is re-read after it.
    unsafe {
        asm!(
            "msr daifclr, #2",
            "isb",
            "msr daifset, #2",
            options(nostack)
        )
    };
}
