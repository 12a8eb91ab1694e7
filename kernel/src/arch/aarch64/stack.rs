//! Per-CPU stacks: a kernel stack (SP_EL0, what kernel code runs on) and an exception
//! stack (SP_EL1, what the vectors run on), each with an unmapped guard page below it,
//! plus one guarded stack for the protect scenario's overflow check. Owns their layout;
//! boot/head.s points SP at them, `mmu` leaves the guards unmapped.

use kernel::memmap::Span;

use super::MAX_CPUS;

const GUARD_SIZE: usize = 4096;
pub const KERNEL_STACK_SIZE: usize = 64 * 1024;
/// Workload page faults run here: the trap frame (816 bytes, the interrupted FP/SIMD
/// state included), then direct reclaim (a batch of 32 plus compression) or a swap-in;
/// `exception_stack_used` reports the high-water mark (docs/reclaim-kernel.md).
pub const EXCEPTION_STACK_SIZE: usize = 32 * 1024;
const PROBE_STACK_SIZE: usize = 16 * 1024;

/// One CPU's stacks, lowest address first: kernel stack guard page, kernel stack,
/// exception stack guard page, exception stack.
#[repr(C, align(4096))]
pub struct CpuStacks([u8; EXCEPTION_STACK_TOP]);

/// Offsets of the stack tops inside `CpuStacks` (stacks grow down).
pub const KERNEL_STACK_TOP: usize = GUARD_SIZE + KERNEL_STACK_SIZE;
pub const EXCEPTION_STACK_TOP: usize = KERNEL_STACK_TOP + GUARD_SIZE + EXCEPTION_STACK_SIZE;

/// A stack used only by `scenario::protect` to overflow on purpose: guard page, stack.
#[repr(C, align(4096))]
pub struct ProbeStack([u8; GUARD_SIZE + PROBE_STACK_SIZE]);

/// In `.stacks` (linker.ld): not cleared at boot. Only touched through SP and through
/// the addresses computed below, never as Rust values.
#[unsafe(link_section = ".stacks")]
pub static mut STACKS: [CpuStacks; MAX_CPUS] =
    [const { CpuStacks([0; EXCEPTION_STACK_TOP]) }; MAX_CPUS];

#[unsafe(link_section = ".stacks")]
static mut PROBE_STACK: ProbeStack = ProbeStack([0; GUARD_SIZE + PROBE_STACK_SIZE]);

fn stacks_base() -> usize {
    (&raw const STACKS) as usize
}

fn cpu_base(cpu: usize) -> usize {
    stacks_base() + cpu * size_of::<CpuStacks>()
}

/// Top of the protect scenario's guarded stack.
pub fn probe_stack_top() -> usize {
    (&raw const PROBE_STACK) as usize + size_of::<ProbeStack>()
}

/// The protect stack's guard page, `[start, end)`.
pub fn probe_guard() -> (usize, usize) {
    let base = (&raw const PROBE_STACK) as usize;
    (base, base + GUARD_SIZE)
}

/// The guard pages, to be left unmapped.
pub fn guards() -> impl Iterator<Item = Span> {
    let span = |base: usize| Span::new(base as u64, (base + GUARD_SIZE) as u64);
    (0..MAX_CPUS)
        .flat_map(move |cpu| [span(cpu_base(cpu)), span(cpu_base(cpu) + KERNEL_STACK_TOP)])
        .chain([span((&raw const PROBE_STACK) as usize)])
}

/// Bytes of CPU `cpu`'s exception stack ever written, judged from the lowest non-zero
/// word (the stacks are never cleared, so this holds where RAM starts zeroed, as under
/// QEMU; on a board it may over-report).
pub fn exception_stack_used(cpu: usize) -> usize {
    let low = cpu_base(cpu) + KERNEL_STACK_TOP + GUARD_SIZE;
    let words = EXCEPTION_STACK_SIZE / 8;
    // SAFETY: the exception stack is mapped read/write kernel memory; a volatile read of
    // it races only with the owning core's pushes, which can only make it more used.
    let first_used = (0..words)
        .find(|&i| unsafe { ((low + i * 8) as *const u64).read_volatile() } != 0)
        .unwrap_or(words);
    (words - first_used) * 8
}

/// The stack (as `[low, high)`) holding `addr`, among every mapped stack: a backtrace
/// only follows frame records inside one of these.
pub fn stack_holding(addr: usize) -> Option<(usize, usize)> {
    let probe = (&raw const PROBE_STACK) as usize + GUARD_SIZE;
    let probe = (probe, probe + PROBE_STACK_SIZE);
    (0..MAX_CPUS)
        .flat_map(|cpu| {
            let k = cpu_base(cpu) + GUARD_SIZE;
            let e = cpu_base(cpu) + KERNEL_STACK_TOP + GUARD_SIZE;
            [(k, k + KERNEL_STACK_SIZE), (e, e + EXCEPTION_STACK_SIZE)]
        })
        .chain([probe])
        .find(|&(low, high)| (low..high).contains(&addr))
}
