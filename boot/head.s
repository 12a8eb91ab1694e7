// Entry code: the arm64 Linux Image header, the boot CPU's path to `kmain` and the
// secondary CPUs' path to `secondary_main`, the MMU switch, the exception vectors and
// the fault-probe trampoline. Included by kernel/src/arch/aarch64/mod.rs with
// `global_asm!`; the brace-named operands are Rust constants and symbols given there.
// Nothing here uses a stack before the MMU and caches are on. See docs/boot.md.

// adr_l: the address of `sym` in `reg`, PC-relative (±4 GiB), so right wherever the
// Image runs (Linux's macro of the same name).
.macro adr_l reg, sym
    adrp    \reg, \sym
    add     \reg, \reg, :lo12:\sym
.endm

// ---------------------------------------------------------------------------------
// Image header (Linux Documentation/arch/arm64/booting.rst), 64 bytes at offset 0.
// ---------------------------------------------------------------------------------
.section .text.head, "ax"
.global _start
_start:
    b       primary_entry           // code0: executable, jumps over the header
    .long   0                       // code1
    .quad   {TEXT_OFFSET}           // text_offset: load at 2 MiB-aligned DRAM base + this
    .quad   __image_size            // image_size: from linker.ld, BSS and stacks included
    .quad   {IMAGE_FLAGS}           // flags: little-endian, 4 KiB pages, anywhere (bit 3)
    .quad   0                       // res2
    .quad   0                       // res3
    .quad   0                       // res4
    .ascii  "ARM\x64"               // magic
    .long   0                       // res5 (no PE/COFF header)

.section .text.boot, "ax"

// ---------------------------------------------------------------------------------
// Boot CPU. x0 = DTB physical address (0 when booted as an ELF by QEMU).
// Callee-saved use: x19 = DTB, x20 = entry exception level, x21 = early tables,
// x22 = next free early table page.
// ---------------------------------------------------------------------------------
primary_entry:
    mov     x19, x0
    mrs     x20, CurrentEL
    lsr     x20, x20, #2

    // booting.rst: a 2 MiB-aligned base + text_offset; and below 512 GiB, the early
    // map's reach (one L0 entry). An Image loaded otherwise parks here (x0 = 0x10ad,
    // x1 = where it runs).
    adr     x1, _start
    ldr     x2, ={TEXT_OFFSET}
    sub     x2, x1, x2
    tst     x2, #0x1fffff
    b.ne    1f
    lsr     x2, x1, #39
    cbz     x2, 2f
1:  mov     x0, #0x10ad
    b       park
2:
    bl      el2_to_el1              // returns at EL1h, MMU off, DAIF masked
    bl      relocate
    bl      fp_simd_on

    // booting.rst has the loader clean the Image file to the point of coherency, not
    // what lies past it: drop any line a loader left over BSS before writing it with
    // the MMU off, so no late write-back lands on the zeroes, early tables or stacks
    // (Linux invalidates its init page tables the same way).
    adr_l   x0, __bss_start
    adr_l   x1, __bss_end
    bl      dcache_inval_range

    // Clear BSS (16-byte aligned start, page-aligned end; see linker.ld).
    adr_l   x1, __bss_start
    adr_l   x2, __bss_end
2:  cmp     x1, x2
    b.hs    3f
    stp     xzr, xzr, [x1], #16
    b       2b
3:
    // No DTB pointer (QEMU ELF boot): QEMU puts the DTB at the start of virt's RAM
    // when the ELF does not overlap it (linker.ld leaves 2 MiB below the kernel).
    cbnz    x19, 4f
    ldr     x1, ={VIRT_RAM_BASE}
    ldr     w2, [x1]
    ldr     w3, ={FDT_MAGIC_LE}
    cmp     w2, w3
    csel    x19, x1, xzr, eq
4:
    bl      early_map
    // Drop stale cache lines over everything written with the MMU off (the words the
    // relocation pass patched in .rodata and .data, BSS, early tables), so the cached
    // view after the MMU is on matches memory. The loader cleaned the Image to the
    // point of coherency (booting.rst), so no line there holds newer data than memory.
    adr_l   x0, __text_end
    adr_l   x1, __bss_end
    bl      dcache_inval_range

    adr_l   x0, early_mmu
    bl      mmu_switch

    mov     x0, #0
    bl      set_stacks_and_vectors
    mov     x0, x19
    mov     x1, x20
    bl      {KMAIN}
    b       park

// ---------------------------------------------------------------------------------
// Secondary CPUs: PSCI CPU_ON entry point. x0 = logical CPU index (context_id).
// MMU off; EL2 or EL1. Reads the MMU settings the boot CPU published in BOOT_MMU.
// ---------------------------------------------------------------------------------
.global secondary_entry
secondary_entry:
    mov     x19, x0
    cmp     x19, #{MAX_CPUS}
    b.lo    1f
    mov     x0, #0xc0de             // CPU index out of range: park (x1 = index)
    mov     x1, x19
    b       park
1:
    bl      el2_to_el1
    bl      fp_simd_on
    ic      iallu
    dsb     nsh
    isb
    adr_l   x0, {BOOT_MMU}
    bl      mmu_switch
    mov     x0, x19
    bl      set_stacks_and_vectors
    mov     x0, x19
    bl      {SECONDARY_MAIN}
    b       park

// ---------------------------------------------------------------------------------
// park: stop this CPU for good (interrupts masked). x0 says why (see docs/boot.md).
// ---------------------------------------------------------------------------------

park:
    msr     daifset, #0xf
1:  wfe
    b       1b

// ---------------------------------------------------------------------------------
// el2_to_el1: if at EL2, set EL1 up to run on its own (AArch64, timer and GICv3 system
// registers usable, no traps) and eret to EL1h at the caller. At EL1: return.
// At EL3: park (x0 = 0xe13). Uses x9-x10.
// ---------------------------------------------------------------------------------
el2_to_el1:
    // SCTLR_EL1 to a known MMU-off, little-endian state, whatever the firmware left.
    ldr     x9, ={SCTLR_EL1_RESET}
    msr     sctlr_el1, x9
    mrs     x9, CurrentEL
    lsr     x9, x9, #2
    cmp     x9, #1
    b.ne    1f
    isb
    ret
1:  cmp     x9, #2
    b.eq    2f
    mov     x0, #0xe13
    b       park
2:
    ldr     x9, ={HCR_EL2_VALUE}    // RW: EL1 is AArch64; nothing trapped to EL2
    msr     hcr_el2, x9
    mov     x9, #3                  // CNTHCTL_EL2.EL1PCTEN | EL1PCEN: EL1 timer access
    msr     cnthctl_el2, x9
    msr     cntvoff_el2, xzr
    mrs     x9, midr_el1            // EL1 sees the real CPU identity
    msr     vpidr_el2, x9
    mrs     x9, mpidr_el1
    msr     vmpidr_el2, x9
    ldr     x9, ={CPTR_EL2_VALUE}   // no FP/SIMD trap
    msr     cptr_el2, x9
    msr     hstr_el2, xzr
    // GICv3 CPU interface present: let EL1 use the ICC_* system registers.
    mrs     x9, id_aa64pfr0_el1
    ubfx    x9, x9, #24, #4
    cbz     x9, 3f
    mrs     x9, ICC_SRE_EL2
    mov     x10, #{ICC_SRE_EL2_BITS}
    orr     x9, x9, x10
    msr     ICC_SRE_EL2, x9
    isb
3:
    ldr     x9, ={SPSR_EL1H_MASKED}
    msr     spsr_el2, x9
    msr     elr_el2, x30
    isb
    eret

// ---------------------------------------------------------------------------------
// relocate: apply .rela.dyn for where the kernel runs, MMU off, before anything reads
// an address from memory. Every entry must be R_AARCH64_RELATIVE (tools/check-relocs.sh
// refuses others at build time; one here parks with x0 = 0x4e1, x1 = its type):
// *(r_offset + d) = r_addend + d, d = run address - link address. The words are written
// with the MMU and caches off, straight to memory; primary_entry invalidates their
// cache lines before the MMU goes on. None is code (tools/check-relocs.sh), but the
// I-cache is invalidated all the same, so no line fetched from this range before the
// pass (a loader's, or a speculative fetch) can be used after it. Uses x9-x14.
// ---------------------------------------------------------------------------------
relocate:
    adr     x14, _start
    ldr     x9, =__link_start       // absolute (linker.ld): no relocation of its own
    sub     x14, x14, x9            // displacement, 0 when run at the link address
    adr_l   x9, __rela_start
    adr_l   x10, __rela_end
1:  cmp     x9, x10
    b.hs    2f
    ldp     x11, x12, [x9], #16     // r_offset, r_info
    ldr     x13, [x9], #8           // r_addend
    cmp     w12, #{R_AARCH64_RELATIVE}
    b.ne    3f
    add     x13, x13, x14
    str     x13, [x11, x14]
    b       1b
2:  ic      iallu
    dsb     nsh
    isb
    ret
3:  mov     x0, #0x4e1
    mov     w1, w12
    b       park

// fp_simd_on: CPACR_EL1.FPEN = 0b11 (the compiler uses SIMD registers). Uses x9.
fp_simd_on:
    mov     x9, #(3 << 20)
    msr     cpacr_el1, x9
    isb
    ret

// ---------------------------------------------------------------------------------
// early_map: the boot CPU's coarse identity map, 2 MiB blocks of normal write-back
// memory over the kernel image (BSS and stacks included) and the DTB. Nothing else
// is mapped. Runs with the MMU off; x19 = DTB (set to 0 if it is not a DTB).
// ---------------------------------------------------------------------------------
early_map:
    mov     x23, x30
    adr_l   x21, early_tables
    add     x9, x21, #4096          // L0[0] -> L1 (everything below 512 GiB)
    orr     x9, x9, #3
    str     x9, [x21]
    mov     x22, #2                 // pages 0 (L0) and 1 (L1) are taken

    adrp    x24, _start
    lsr     x24, x24, #21
    lsl     x24, x24, #21
    adr_l   x25, __kernel_end
1:  mov     x0, x24
    bl      early_map_2m
    add     x24, x24, #(1 << 21)
    cmp     x24, x25
    b.lo    1b

    cbz     x19, 3f
    lsr     x9, x19, #39            // DTB beyond the early map's reach: no DTB
    cbnz    x9, 2f
    tst     x19, #7                 // booting.rst: 8-byte aligned
    b.ne    2f
    ldr     w9, [x19]
    ldr     w10, ={FDT_MAGIC_LE}
    cmp     w9, w10
    b.ne    2f
    ldr     w25, [x19, #4]          // totalsize, big-endian
    rev     w25, w25
    mov     x9, #{MAX_DTB_SIZE}
    cmp     x25, x9
    csel    x25, x25, x9, lo
    add     x25, x19, x25
    lsr     x24, x19, #21
    lsl     x24, x24, #21
4:  mov     x0, x24
    bl      early_map_2m
    add     x24, x24, #(1 << 21)
    cmp     x24, x25
    b.lo    4b
    b       3f
2:  mov     x19, #0
3:  mov     x30, x23
    ret

// early_map_2m: x0 = address; maps its 2 MiB block in the early tables, taking an L2
// table from the early pool when its 1 GiB slot has none (left unmapped if the pool is
// empty). x21 = tables, x22 = next free page. Uses x9-x13.
early_map_2m:
    lsr     x9, x0, #30
    add     x10, x21, #4096
    ldr     x11, [x10, x9, lsl #3]
    tbnz    x11, #0, 1f
    cmp     x22, #{EARLY_TABLE_PAGES}
    b.hs    2f
    add     x11, x21, x22, lsl #12
    add     x22, x22, #1
    orr     x11, x11, #3
    str     x11, [x10, x9, lsl #3]
1:  and     x11, x11, #0x0000fffffffff000
    ubfx    x9, x0, #21, #9
    lsr     x12, x0, #21
    lsl     x12, x12, #21
    ldr     x13, ={EARLY_BLOCK_ATTRS}
    orr     x12, x12, x13
    str     x12, [x11, x9, lsl #3]
2:  ret

// dcache_inval_range: invalidate [x0, x1) to the point of coherency. Uses x2-x4.
dcache_inval_range:
    mrs     x3, ctr_el0
    ubfx    x3, x3, #16, #4         // DminLine: log2(words)
    mov     x2, #4
    lsl     x2, x2, x3              // line size in bytes
    sub     x4, x2, #1
    bic     x0, x0, x4
1:  dc      ivac, x0
    add     x0, x0, x2
    cmp     x0, x1
    b.lo    1b
    dsb     sy
    ret

// ---------------------------------------------------------------------------------
// mmu_switch(params: *const MmuParams): load MAIR/TCR/TTBR0 and turn the MMU on with
// SCTLR. If the MMU is on (boot CPU moving to the final tables), it is turned off
// first, so no TLB entry of the old tables can meet the new ones; between off and on
// this code touches no memory. The code must be identity-mapped in both tables.
// MmuParams = [mair, tcr (IPS filled in here), ttbr0, sctlr]. Uses x1-x6.
// ---------------------------------------------------------------------------------
.global mmu_switch
mmu_switch:
    ldp     x1, x2, [x0]
    ldp     x3, x4, [x0, #16]
    mrs     x5, id_aa64mmfr0_el1    // TCR.IPS = the CPU's physical address range
    and     x5, x5, #0xf
    mov     x6, #5                  // at most 48 bits (IPS encodings above 5 need LPA)
    cmp     x5, x6
    csel    x5, x5, x6, lo
    bfi     x2, x5, #32, #3
    mrs     x5, sctlr_el1
    bic     x5, x5, #1
    msr     sctlr_el1, x5
    isb
    msr     mair_el1, x1
    msr     tcr_el1, x2
    msr     ttbr0_el1, x3
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    msr     sctlr_el1, x4
    isb
    ic      iallu
    dsb     nsh
    isb
    ret

// ---------------------------------------------------------------------------------
// set_stacks_and_vectors(cpu): TPIDR_EL1 = cpu, SP_EL1 = top of the CPU's exception stack, SP_EL0 = top
// of its kernel stack, run on SP_EL0 from here on (exceptions switch to SP_EL1, so a
// kernel stack overflow into its guard page is still reported), VBAR_EL1 = vectors.
// Uses x0-x3.
// ---------------------------------------------------------------------------------
set_stacks_and_vectors:
    adr_l   x1, {STACKS}
    ldr     x2, ={CPU_STACKS_SIZE}
    madd    x1, x0, x2, x1
    ldr     x2, ={EXC_STACK_TOP}
    add     x3, x1, x2
    msr     spsel, #1
    mov     sp, x3
    ldr     x2, ={KERNEL_STACK_TOP}
    add     x3, x1, x2
    msr     spsel, #0
    mov     sp, x3
    mov     x29, #0                 // end of the frame-pointer chain
    msr     tpidr_el1, x0           // logical CPU index (percpu.rs reads it)
    adr_l   x1, exception_vectors
    msr     vbar_el1, x1
    isb
    msr     daifclr, #0xc           // debug and SError unmasked; IRQ/FIQ stay masked
    ret

// ---------------------------------------------------------------------------------
// Exception vectors. Every entry saves a TrapFrame (kernel/src/arch/aarch64/
// exception.rs: x0-x30, interrupted SP, ELR, SPSR, ESR, FAR, q0-q31, FPSR, FPCR) on
// SP_EL1 and calls exception_entry(kind, &mut frame); kind = group * 4 + type, group
// 0 = EL1 with SP_EL0 (normal kernel code), 1 = EL1 with SP_EL1 (inside a handler),
// 2/3 = lower EL. The FP/SIMD state is saved here, before any Rust runs, because the
// compiler may use vector registers anywhere in the handler (memset, memcpy, hashing).
// ---------------------------------------------------------------------------------
.macro VENTRY kind
    .balign 0x80
    sub     sp, sp, #{FRAME_SIZE}
    stp     x0, x1, [sp, #0]
    mov     x0, #\kind
    b       exception_common
.endm

.section .text.vectors, "ax"
.balign 0x800
.global exception_vectors
exception_vectors:
    VENTRY 0
    VENTRY 1
    VENTRY 2
    VENTRY 3
    VENTRY 4
    VENTRY 5
    VENTRY 6
    VENTRY 7
    VENTRY 8
    VENTRY 9
    VENTRY 10
    VENTRY 11
    VENTRY 12
    VENTRY 13
    VENTRY 14
    VENTRY 15

exception_common:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    // Interrupted SP: SP_EL0, except for group 1 (already on SP_EL1).
    mrs     x2, sp_el0
    add     x3, sp, #{FRAME_SIZE}
    and     x4, x0, #0xc
    cmp     x4, #4
    csel    x2, x3, x2, eq
    stp     x30, x2, [sp, #240]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x2, x3, [sp, #256]
    mrs     x2, esr_el1
    mrs     x3, far_el1
    stp     x2, x3, [sp, #272]
    add     x2, sp, #{FRAME_Q}
    stp     q0, q1, [x2, #0]
    stp     q2, q3, [x2, #32]
    stp     q4, q5, [x2, #64]
    stp     q6, q7, [x2, #96]
    stp     q8, q9, [x2, #128]
    stp     q10, q11, [x2, #160]
    stp     q12, q13, [x2, #192]
    stp     q14, q15, [x2, #224]
    stp     q16, q17, [x2, #256]
    stp     q18, q19, [x2, #288]
    stp     q20, q21, [x2, #320]
    stp     q22, q23, [x2, #352]
    stp     q24, q25, [x2, #384]
    stp     q26, q27, [x2, #416]
    stp     q28, q29, [x2, #448]
    stp     q30, q31, [x2, #480]
    mrs     x2, fpsr
    str     x2, [sp, #{FRAME_FPSR}]
    mrs     x2, fpcr
    str     x2, [sp, #{FRAME_FPCR}]
    // The handler runs with the default FP environment (round to nearest, no flush to
    // zero, no flags), whatever the interrupted code had set.
    msr     fpsr, xzr
    msr     fpcr, xzr
    mov     x1, sp
    bl      {EXCEPTION_ENTRY}
    add     x2, sp, #{FRAME_Q}
    ldp     q0, q1, [x2, #0]
    ldp     q2, q3, [x2, #32]
    ldp     q4, q5, [x2, #64]
    ldp     q6, q7, [x2, #96]
    ldp     q8, q9, [x2, #128]
    ldp     q10, q11, [x2, #160]
    ldp     q12, q13, [x2, #192]
    ldp     q14, q15, [x2, #224]
    ldp     q16, q17, [x2, #256]
    ldp     q18, q19, [x2, #288]
    ldp     q20, q21, [x2, #320]
    ldp     q22, q23, [x2, #352]
    ldp     q24, q25, [x2, #384]
    ldp     q26, q27, [x2, #416]
    ldp     q28, q29, [x2, #448]
    ldp     q30, q31, [x2, #480]
    ldr     x2, [sp, #{FRAME_FPSR}]
    msr     fpsr, x2
    ldr     x2, [sp, #{FRAME_FPCR}]
    msr     fpcr, x2
    // The handler may have changed ELR/SPSR/x0-x30 (fault recovery).
    ldp     x2, x3, [sp, #256]
    msr     elr_el1, x2
    msr     spsr_el1, x3
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    ldr     x30, [sp, #240]
    add     sp, sp, #{FRAME_SIZE}
    eret

// ---------------------------------------------------------------------------------
// probe_call(f, arg, stack_top, jmp) -> 0 if f(arg) returned, 1 if it faulted.
// Saves callee-saved registers and SP in *jmp, optionally switches to stack_top
// (non-zero), calls f(arg). A fault while the CPU's probe slot is armed makes the
// exception handler resume at probe_resume with x0 = jmp, x1 = 1 (kernel/src/arch/
// aarch64/exception.rs, `probe`). jmp = [x19..x30, sp, d8..d15] (21 words): every
// register the AAPCS64 makes callee-saved, so a fault that cuts f short leaks nothing.
// ---------------------------------------------------------------------------------
.section .text.boot, "ax"
.global probe_call
probe_call:
    stp     x19, x20, [x3, #0]
    stp     x21, x22, [x3, #16]
    stp     x23, x24, [x3, #32]
    stp     x25, x26, [x3, #48]
    stp     x27, x28, [x3, #64]
    stp     x29, x30, [x3, #80]
    mov     x9, sp
    str     x9, [x3, #96]
    stp     d8, d9, [x3, #104]
    stp     d10, d11, [x3, #120]
    stp     d12, d13, [x3, #136]
    stp     d14, d15, [x3, #152]
    mov     x19, x3
    cbz     x2, 1f
    mov     sp, x2
    mov     x29, #0
1:  mov     x9, x0
    mov     x0, x1
    blr     x9
    mov     x0, x19
    mov     x1, #0
.global probe_resume
probe_resume:
    ldr     x9, [x0, #96]
    mov     sp, x9
    ldp     x19, x20, [x0, #0]
    ldp     x21, x22, [x0, #16]
    ldp     x23, x24, [x0, #32]
    ldp     x25, x26, [x0, #48]
    ldp     x27, x28, [x0, #64]
    ldp     x29, x30, [x0, #80]
    ldp     d8, d9, [x0, #104]
    ldp     d10, d11, [x0, #120]
    ldp     d12, d13, [x0, #136]
    ldp     d14, d15, [x0, #152]
    mov     x0, x1
    ret

// MmuParams for the early map: same MAIR/TCR as the final map, no WXN (the early
// blocks are writable and executable).
.section .rodata.early_mmu, "a"
.balign 8
early_mmu:
    .quad   {MAIR}, {TCR}, early_tables, {SCTLR_EARLY}

// The link address as data, for the boot and panic reports (arch/aarch64/mod.rs
// `link_address`): a word against an absolute symbol, which no relocation changes.
.section .rodata.link_address, "a"
.balign 8
.global kernel_link_address
kernel_link_address:
    .quad   __link_start

// Early translation tables: L0, L1 and up to four L2 tables (the kernel and the DTB
// may each straddle a 1 GiB boundary).
.section .bss.early_tables, "aw", %nobits
.balign 4096
early_tables:
    .space  {EARLY_TABLE_PAGES} * 4096
