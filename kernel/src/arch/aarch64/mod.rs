//! AArch64 glue: the entry assembly (boot/head.s, assembled here with the constants it
//! needs), stacks, MMU, exception vectors and reports, semihosting, power-off, and (the
//! "smp" side) GIC, timer, PSCI, SMP, per-CPU data and IRQ dispatch. Imports nothing
//! from the rest of the kernel: the kernel hands it `kmain` (by symbol), the console
//! (`console::register`) and the fault handler (`exception::set_fault_hook`).

pub mod backtrace;
pub mod console;
pub mod exception;
pub mod fatal;
pub mod fpsimd;
pub mod mmio;
pub mod mmu;
pub mod relax;
pub mod semihosting;
pub mod stack;
pub mod sysreg;

pub mod gic;
pub mod irq;
pub mod percpu;
pub mod power;
pub mod psci;
pub mod smp;
pub mod timer;

use core::arch::global_asm;

/// Most CPUs the kernel runs; further CPUs in the DTB are reported and left off.
pub const MAX_CPUS: usize = 16;

/// Where the kernel is linked and must run (linker.ld): DRAM base + `TEXT_OFFSET`.
pub const LINK_ADDRESS: u64 = 0x4008_0000;
/// Image header `text_offset`.
pub const TEXT_OFFSET: u64 = 0x8_0000;
/// Image header flags: bit 0 = 0 little-endian, bits 1-2 = 1 4 KiB pages, bit 3 = 0
/// (the loader puts the Image as close as possible to the start of DRAM).
const IMAGE_FLAGS: u64 = 1 << 1;

/// HCR_EL2.RW: EL1 runs AArch64. Nothing else: no stage 2, no traps to EL2.
const HCR_EL2_RW: u64 = 1 << 31;
/// CPTR_EL2 with its RES1 bits and TFP clear (Linux's value): FP/SIMD not trapped.
const CPTR_EL2_VALUE: u64 = 0x33ff;
/// ICC_SRE_EL2.SRE | ICC_SRE_EL2.Enable: EL1 may use the GICv3 system registers.
const ICC_SRE_EL2_BITS: u64 = (1 << 0) | (1 << 3);
/// SPSR for the eret to EL1: EL1h, D, A, I, F masked.
const SPSR_EL1H_MASKED: u64 = 0x3c5;
/// The FDT magic 0xd00dfeed as a little-endian load of its big-endian bytes sees it.
const FDT_MAGIC_LE: u32 = 0xedfe_0dd0;
/// Early translation tables: L0, L1, two L2.
const EARLY_TABLE_PAGES: usize = 4;

global_asm!(
    include_str!("../../../../boot/head.s"),
    TEXT_OFFSET = const TEXT_OFFSET,
    IMAGE_FLAGS = const IMAGE_FLAGS,
    LINK_ADDRESS = const LINK_ADDRESS,
    RAM_BASE = const LINK_ADDRESS - TEXT_OFFSET,
    MAX_CPUS = const MAX_CPUS,
    SCTLR_EL1_RESET = const mmu::SCTLR_EL1_RESET,
    HCR_EL2_VALUE = const HCR_EL2_RW,
    CPTR_EL2_VALUE = const CPTR_EL2_VALUE,
    ICC_SRE_EL2_BITS = const ICC_SRE_EL2_BITS,
    SPSR_EL1H_MASKED = const SPSR_EL1H_MASKED,
    FDT_MAGIC_LE = const FDT_MAGIC_LE,
    MAX_DTB_SIZE = const platform::MAX_DTB_SIZE,
    EARLY_TABLE_PAGES = const EARLY_TABLE_PAGES,
    EARLY_BLOCK_ATTRS = const mmu::EARLY_BLOCK_ATTRS,
    MAIR = const mmu::MAIR,
    TCR = const mmu::TCR,
    SCTLR_EARLY = const mmu::SCTLR_EARLY,
    STACKS = sym stack::STACKS,
    CPU_STACKS_SIZE = const size_of::<stack::CpuStacks>(),
    KERNEL_STACK_TOP = const stack::KERNEL_STACK_TOP,
    EXC_STACK_TOP = const stack::EXCEPTION_STACK_TOP,
    FRAME_SIZE = const size_of::<exception::TrapFrame>(),
    FRAME_Q = const exception::FRAME_Q,
    FRAME_FPSR = const exception::FRAME_FPSR,
    FRAME_FPCR = const exception::FRAME_FPCR,
    BOOT_MMU = sym mmu::BOOT_MMU,
    KMAIN = sym kmain,
    SECONDARY_MAIN = sym smp::secondary_main,
    EXCEPTION_ENTRY = sym exception::exception_entry,
);

unsafe extern "C" {
    /// The boot CPU's first Rust, which the kernel defines under this symbol name
    /// (`#[unsafe(no_mangle)]`): boot/head.s calls it at EL1 with the early map on, on
    /// CPU 0's kernel stack, with the DTB's address (0: none) and the entry exception
    /// level. Named by symbol, not by path, so arch imports nothing from the kernel.
    fn kmain(dtb_pa: usize, entry_el: u64) -> !;
}

/// Stops this CPU for good: interrupts masked, waiting for events that change nothing.
pub fn park() -> ! {
    // SAFETY: masking interrupts on this CPU only.
    unsafe { core::arch::asm!("msr daifset, #0xf", options(nomem, nostack)) };
    loop {
        aarch64_cpu::asm::wfe();
    }
}
