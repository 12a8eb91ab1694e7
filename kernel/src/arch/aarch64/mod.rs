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
pub mod mem;
pub mod mmio;
pub mod mmu;
pub mod profile_mark;
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

/// Image header `text_offset`: the kernel runs at a 2 MiB-aligned base + this. 0, as
/// Linux since 5.8: `booti` then runs the Image where any 2 MiB-aligned
/// `kernel_addr_r` put it (0x4040_0000 on QEMU's U-Boot, 0x4500_0000 on Genio).
pub const TEXT_OFFSET: u64 = 0;
/// QEMU `virt`'s RAM base, where it puts the DTB for an ELF boot (x0 = 0, docs/boot.md).
const VIRT_RAM_BASE: u64 = 0x4000_0000;
/// Image header flags: bit 0 = 0 little-endian, bits 1-2 = 1 4 KiB pages, bit 3 = 1
/// (the Image may be placed anywhere in physical memory: boot/head.s relocates it).
const IMAGE_FLAGS: u64 = (1 << 1) | (1 << 3);
/// ELF relocation type of the only dynamic relocations the kernel carries.
const R_AARCH64_RELATIVE: u64 = 1027;

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
/// Early translation tables: L0, L1, and an L2 for each GiB the kernel or the DTB
/// touches: two each, as either may straddle a 1 GiB boundary wherever it is loaded.
const EARLY_TABLE_PAGES: usize = 6;

global_asm!(
    include_str!("../../../../boot/head.s"),
    TEXT_OFFSET = const TEXT_OFFSET,
    IMAGE_FLAGS = const IMAGE_FLAGS,
    R_AARCH64_RELATIVE = const R_AARCH64_RELATIVE,
    VIRT_RAM_BASE = const VIRT_RAM_BASE,
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

// SAFETY: boot/head.s defines `kernel_link_address`, a read-only 8-byte word written
// by the linker and never relocated.
unsafe extern "C" {
    static kernel_link_address: u64;
}

/// Where the kernel runs: the physical (= virtual) address of the Image's first byte.
pub fn load_address() -> u64 {
    mmu::kernel_image().text.start
}

/// Where linker.ld linked it; `load_address() - link_address()` is what boot/head.s
/// added to every relocated word, and what a symbolizer subtracts from a PC.
pub fn link_address() -> u64 {
    // SAFETY: a plain read of an initialised, never-written static (see above).
    unsafe { kernel_link_address }
}

/// Stops this CPU for good: interrupts masked, waiting for events that change nothing.
pub fn park() -> ! {
    // SAFETY: masking interrupts on this CPU only.
    unsafe { core::arch::asm!("msr daifset, #0xf", options(nomem, nostack)) };
    loop {
        aarch64_cpu::asm::wfe();
    }
}
