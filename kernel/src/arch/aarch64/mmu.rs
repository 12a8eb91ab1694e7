//! The MMU: register values shared with boot/head.s (early map) and the secondaries,
//! and the boot CPU's switch to the final W^X identity map built by `kernel::memmap`
//! from the link layout and the DTB. Owns TTBR0/TCR/MAIR/SCTLR and the table pool;
//! what goes where in the map is `memmap`'s business, the descriptor format `pgtable`'s.
//! Also the TLB maintenance and barriers that publish table edits (`publish_pte`,
//! `flush_tlb_all`), which the workload region (`vm`) calls.

use core::arch::asm;

use aarch64_cpu::registers::{ID_AA64MMFR1_EL1, SCTLR_EL1, TCR_EL1};
use kernel::memmap::{self, KernelImage, Span};
use kernel::pgtable::{self, PageTables, PgError, Table};
use platform::{ArrayVec, Board, MAX_USABLE};
use tock_registers::interfaces::Readable;

use super::stack;

/// MAIR_EL1: index 0 normal write-back, index 1 Device-nGnRE (see `pgtable`).
pub const MAIR: u64 = pgtable::MAIR_VALUE;

/// TCR_EL1 without IPS (boot/head.s `mmu_switch` fills it from ID_AA64MMFR0_EL1):
/// 48-bit VA through TTBR0, 4 KiB granule, write-back inner-shareable walks, TTBR1 off.
pub const TCR: u64 = TCR_EL1::T0SZ.val(16).value
    | TCR_EL1::TG0::KiB_4.value
    | TCR_EL1::SH0::Inner.value
    | TCR_EL1::ORGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable.value
    | TCR_EL1::IRGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable.value
    | TCR_EL1::EPD1::DisableTTBR1Walks.value;

/// SCTLR_EL1 bits that are RES1 on ARMv8.0 (11, 20, 22, 23, 28, 29): MMU and caches off,
/// little-endian, no alignment checks. Written by boot/head.s before anything else.
pub const SCTLR_EL1_RESET: u64 = 0x30d0_0800;

/// MMU, data and instruction caches and SP alignment checks on.
pub const SCTLR_EARLY: u64 = SCTLR_EL1_RESET
    | SCTLR_EL1::M::Enable.value
    | SCTLR_EL1::C::Cacheable.value
    | SCTLR_EL1::I::Cacheable.value
    | SCTLR_EL1::SA::Enable.value;

/// The final map adds WXN: any writable page is execute-never, whatever its descriptor.
pub const SCTLR_FINAL: u64 = SCTLR_EARLY | SCTLR_EL1::WXN::Enable.value;

pub const EARLY_BLOCK_ATTRS: u64 = pgtable::EARLY_BLOCK_ATTRS;

/// Most translation tables the final map may use: enough for ~40 GiB of RAM in 2 MiB
/// blocks plus the kernel's 4 KiB pages and devices. More is an error, not a truncation.
const TABLE_POOL_SIZE: usize = 64;

/// What `mmu_switch` loads (layout fixed by boot/head.s). Cache-line aligned: it is
/// cleaned to the point of coherency for the secondaries, which read it MMU-off.
#[repr(C, align(64))]
pub struct MmuParams {
    mair: u64,
    tcr: u64,
    ttbr0: u64,
    sctlr: u64,
}

/// The final map's settings, published by `init` before any secondary starts.
pub static mut BOOT_MMU: MmuParams = MmuParams {
    mair: 0,
    tcr: 0,
    ttbr0: 0,
    sctlr: 0,
};

static mut TABLE_POOL: [Table; TABLE_POOL_SIZE] = [const { Table::EMPTY }; TABLE_POOL_SIZE];

/// The live tables, kept for later edits (mapping workload pages).
static TABLES: spin::Mutex<Option<PageTables<'static>>> = spin::Mutex::new(None);

// SAFETY: the four statics are linker.ld's section bounds: only their addresses are
// taken, never their bytes. `mmu_switch` is boot/head.s's (linked in by `global_asm!`
// in arch/aarch64/mod.rs) and matches this signature under AAPCS64: params in x0,
// clobbers only caller-saved x1-x6, returns with `ret`. What it needs of its caller
// (tables that identity-map the code) is argued where `init` calls it.
unsafe extern "C" {
    static __image_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __kernel_end: u8;
    /// boot/head.s: load `params`, turn the MMU off if on, switch tables, turn it on.
    fn mmu_switch(params: *const MmuParams);
}

/// The kernel image's sections, from linker.ld, at their run addresses: the symbols
/// are reached PC-relatively (or through GOT slots the relocation pass fixed).
pub fn kernel_image() -> KernelImage {
    let addr = |p: *const u8| p as u64;
    let (start, text_end, rodata_end, end) = (
        addr(&raw const __image_start),
        addr(&raw const __text_end),
        addr(&raw const __rodata_end),
        addr(&raw const __kernel_end),
    );
    KernelImage {
        text: Span::new(start, text_end),
        rodata: Span::new(text_end, rodata_end),
        data: Span::new(rodata_end, end),
    }
}

/// Most device windows `init` maps besides the DTB's console and GIC: what the kernel's
/// console choice needs (a PCI host bridge's config space and I/O window, or a UART the
/// command line names).
pub const MAX_EXTRA_DEVICES: usize = 2;

/// Builds the final map for `board` (with the DTB at `dtb`, and `extra` device windows)
/// and switches the boot CPU to it. Returns how many tables it took. Boot CPU only,
/// once, before SMP.
pub fn init(
    board: &Board<'_>,
    dtb: Span,
    extra: &ArrayVec<Span, MAX_EXTRA_DEVICES>,
) -> Result<usize, PgError> {
    // SAFETY: called once, on the boot CPU, before any other CPU runs: nothing else
    // references the pool, which from here on is only reached through `TABLES`.
    let pool = unsafe {
        core::slice::from_raw_parts_mut((&raw mut TABLE_POOL).cast::<Table>(), TABLE_POOL_SIZE)
    };
    let mut tables = PageTables::new(pool)?;
    let ram: ArrayVec<Span, MAX_USABLE> = board
        .usable
        .iter()
        .map(|r| Span::new(r.base, r.end()))
        .collect();
    let mut devices = ArrayVec::<Span, { 3 + MAX_EXTRA_DEVICES }>::new();
    if let Some(c) = &board.console {
        devices.push(Span::new(c.base, c.base + c.size.max(0x1000)));
    }
    if let Some(gic) = &board.gic {
        for r in [Some(gic.distributor), gic.redistributor, gic.cpu_interface]
            .into_iter()
            .flatten()
            .take(2)
        {
            devices.push(Span::new(r.base, r.end()));
        }
    }
    devices.extend(extra.iter().copied());
    let guards: ArrayVec<Span, { 2 * super::MAX_CPUS + 1 }> = stack::guards().collect();
    memmap::build(
        &mut tables,
        &ram,
        &kernel_image(),
        Some(dtb),
        &devices,
        &guards,
    )?;

    let params = MmuParams {
        mair: MAIR,
        tcr: TCR | hardware_af_bits(),
        ttbr0: tables.root_address(),
        sctlr: SCTLR_FINAL,
    };
    let used = tables.tables_used();
    // SAFETY: no other CPU runs yet; BOOT_MMU is written once, here, then cleaned to
    // the point of coherency so secondaries reading it with caches off see it.
    unsafe {
        let slot = &raw mut BOOT_MMU;
        slot.write(params);
        asm!("dc cvac, {}", "dsb sy", in(reg) slot, options(nostack));
        // The final tables identity-map this code, so the switch keeps running.
        mmu_switch(slot);
    }
    *TABLES.lock() = Some(tables);
    Ok(used)
}

/// TCR_EL1.HA where ID_AA64MMFR1_EL1.HAFDBS says the CPU updates the access flag
/// itself (e.g. `-cpu max`): an access through a descriptor with AF clear then sets
/// it in the table instead of raising an access-flag fault. Every kernel descriptor
/// has AF set, so only the workload region (`vm`) sees a difference. Read on the boot
/// CPU; QEMU's cores are all the same model.
fn hardware_af_bits() -> u64 {
    if ID_AA64MMFR1_EL1.read(ID_AA64MMFR1_EL1::HAFDBS) >= 1 {
        TCR_EL1::HA::Enable.value
    } else {
        0
    }
}

/// Whether the live map has hardware access-flag updates on.
pub fn hardware_af() -> bool {
    TCR_EL1.is_set(TCR_EL1::HA)
}

/// Links a table built outside the pool (the workload region's) into root slot
/// `index`: the tables below it reach every core's table walker before the root points
/// at them (`dsb ishst`), and the new entry before this core goes on (`dsb ishst`,
/// `isb`). The slot was empty: no TLB holds it.
pub fn link_root_slot(index: usize, table_address: u64) -> Result<(), PgError> {
    let mut live = TABLES.lock();
    let tables = live.as_mut().ok_or(PgError::PoolExhausted { tables: 0 })?;
    // SAFETY: barrier only.
    unsafe { asm!("dsb ishst", options(nostack)) };
    tables.link_root_slot(index, table_address)?;
    // SAFETY: barriers only.
    unsafe { asm!("dsb ishst", "isb", options(nostack)) };
    Ok(())
}

/// After writing a PTE that turns a fault into a mapping on this core: the walker
/// must see the write (`dsb ishst`) before the faulting instruction is retried
/// (`isb`, and the exception return is one too). No TLBI: an invalid or AF-clear
/// descriptor is never held in a TLB.
pub fn publish_pte() {
    // SAFETY: barriers only.
    unsafe { asm!("dsb ishst", "isb", options(nostack)) };
}

/// Invalidates every EL1 translation on every core and waits until no core can still
/// use one: `dsb ishst` makes the new PTEs visible to every walker before the
/// invalidation; `tlbi vmalle1is` (inner shareable = broadcast); `dsb ish` waits until
/// every core finished it, which includes every access made through the old entries
/// (so the workload's last writes to its frames are visible to us); `isb` so this
/// core's later instructions see the new state. The end of a reclaim
/// batch, Linux's `try_to_unmap_flush()`. One broadcast for a batch of 32 pages
/// instead of one per page; the kernel's own entries are refilled from the tables.
pub fn flush_tlb_all() {
    // SAFETY: TLB maintenance and barriers only.
    unsafe {
        asm!(
            "dsb ishst",
            "tlbi vmalle1is",
            "dsb ish",
            "isb",
            options(nostack)
        )
    };
}

/// Calls `f(start, end, attr)` for each leaf of the live map (for the boot report).
pub fn for_each_mapping(f: impl FnMut(u64, u64, pgtable::MemAttr)) {
    if let Some(t) = TABLES.lock().as_ref() {
        t.for_each_leaf(f);
    }
}
