//! Frame-pointer backtraces (the kernel is built with frame pointers): walks the x29
//! chain of frame records {previous x29, x30}, only inside a known stack and only
//! upwards, so a corrupt chain ends the walk instead of faulting again. Output lines
//! are `backtrace #<n> pc=0x<16 hex digits>`, after one `backtrace: image at 0x...,
//! linked at 0x...` line that gives tools/symbolize-backtrace.pl the load offset.
//! Owns only the walk; the lines go out through `console`'s registered sink.

use super::console::arch_fatal_println;
use super::stack;

const MAX_FRAMES: usize = 64;

/// Prints `pc` as frame #0, then one line per caller found from frame pointer `fp`.
/// Callers are printed at their call instruction (return address - 4), so the
/// symbolizer names the calling line.
pub fn print(pc: u64, fp: u64) {
    arch_fatal_println!(
        "backtrace: image at {:#x}, linked at {:#x}",
        super::load_address(),
        super::link_address()
    );
    arch_fatal_println!("backtrace #0 pc={pc:#018x}");
    let mut fp = fp as usize;
    for n in 1..MAX_FRAMES {
        let Some((_, high)) = stack::stack_holding(fp) else {
            return;
        };
        if !fp.is_multiple_of(8) || fp + 16 > high {
            return;
        }
        // SAFETY: [fp, fp + 16) lies inside a mapped stack (checked above); reading
        // stale or garbage words there is harmless.
        let (next, lr) = unsafe {
            let record = fp as *const u64;
            (
                record.read_volatile() as usize,
                record.add(1).read_volatile(),
            )
        };
        if lr < 4 {
            return;
        }
        arch_fatal_println!("backtrace #{n} pc={:#018x}", lr - 4);
        if next <= fp {
            return;
        }
        fp = next;
    }
}

/// The caller's frame pointer (for a backtrace of the running code).
#[inline(always)]
pub fn current_fp() -> u64 {
    let fp: u64;
    // SAFETY: reads x29.
    unsafe { core::arch::asm!("mov {}, x29", out(reg) fp, options(nomem, nostack)) };
    fp
}
