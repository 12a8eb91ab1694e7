//! `scenario=boot`: prints what the kernel learned from the DTB and brought up, then
//! `RESULT {"scenario":"boot",...}`. Passes when every CPU the kernel can run came online.

use super::{BootInfo, print_result};
use kernel::pgtable::MemAttr;

use crate::arch::aarch64::{MAX_CPUS, gic, mem, mmu, timer};
use crate::println;

pub fn run(info: &BootInfo<'_>) -> u32 {
    let board = info.board;
    println!("boot: model \"{}\"", board.model);
    for bank in &board.memory {
        println!(
            "boot: memory  [{:#012x}, {:#012x}) {} MiB",
            bank.base,
            bank.end(),
            bank.size >> 20
        );
    }
    for r in &board.reserved {
        println!("boot: reserved [{:#012x}, {:#012x})", r.base, r.end());
    }
    let usable = board.usable_bytes();
    println!(
        "boot: usable {} bytes ({} MiB) in {} regions",
        usable,
        usable >> 20,
        board.usable.len()
    );
    // The console in use: the DTB's, or the one the command line asked for.
    let running = crate::console::current();
    let console = running.map_or("none", |c| c.kind.name());
    if let Some(c) = running {
        println!(
            "boot: console {} ({}) at {:#x}, reg-shift {}",
            c.path, c.compatible, c.base, c.reg_shift
        );
    }
    let gic_version = gic::version();
    println!("boot: GICv{gic_version}");
    let psci = board.psci.map_or("none", |m| m.name());
    println!("boot: PSCI via {psci}, entered at EL{}", info.entry_el);
    for cpu in &board.cpus {
        let capacity = cpu.capacity.map_or(0, |c| c);
        println!(
            "boot: cpu@{:#x} {} capacity {}",
            cpu.mpidr, cpu.compatible, capacity
        );
    }
    let m = &info.mem;
    println!(
        "boot: heap [{:#x}, {:#x}) {} KiB; frames free {} of {} managed ({} memmap pages)",
        m.heap.start,
        m.heap.end,
        (m.heap.end - m.heap.start) >> 10,
        m.nr_free_pages,
        m.managed_pages,
        m.memmap_pages
    );
    for r in &m.unmanaged {
        println!(
            "boot: not managed (allocator range limit): [{:#x}, {:#x})",
            r.base,
            r.end()
        );
    }
    println!(
        "boot: page tables: {} of 4 KiB; kernel map:",
        info.page_tables
    );
    print_map();
    println!(
        "boot: {} of {} CPUs online",
        info.smp.online, info.smp.total
    );
    // The virtual counter starts at 0 with the machine (QEMU: at start-up; on a board
    // whenever the firmware left it), so this is time since reset up to the RESULT.
    let uptime_us = timer::uptime().as_micros() as u64;
    println!("boot: up {uptime_us} us since the counter started");

    /// `scenario=boot`'s RESULT.
    #[derive(serde::Serialize)]
    struct BootResult<'a> {
        scenario: &'a str,
        cpus_online: usize,
        cpus_total: usize,
        entry_el: u64,
        /// Where the Image runs (physical address of its first byte).
        load_address: u64,
        gic: u8,
        psci: &'a str,
        console: &'a str,
        mem_usable_bytes: u64,
        frames_free: u64,
        uptime_us: u64,
        /// memcpy, memmove and memset against byte loops: "ok", or the first difference.
        mem_routines: &'a str,
        /// Why the boot failed, if it did.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<alloc::string::String>,
    }
    let mem_routines = mem::self_test();
    if let Err(why) = &mem_routines {
        println!("boot: memory routines: {why}");
    }
    let runnable = info.smp.total.min(MAX_CPUS);
    let error = match &mem_routines {
        Err(why) => Some(alloc::format!("memory routines: {why}")),
        Ok(()) => (info.smp.online != runnable)
            .then(|| alloc::format!("{} of {runnable} CPUs came online", info.smp.online)),
    };
    let status = u32::from(error.is_some());
    print_result(&BootResult {
        scenario: "boot",
        cpus_online: info.smp.online,
        cpus_total: info.smp.total,
        entry_el: info.entry_el,
        load_address: crate::arch::aarch64::load_address(),
        gic: gic_version,
        psci,
        console,
        mem_usable_bytes: usable,
        frames_free: m.nr_free_pages,
        uptime_us,
        mem_routines: if mem_routines.is_ok() { "ok" } else { "wrong" },
        error,
    });
    status
}

/// The live map, adjacent leaves with the same attributes merged.
fn print_map() {
    let mut run: Option<(u64, u64, MemAttr)> = None;
    let show = |(start, end, attr): (u64, u64, MemAttr)| {
        println!("boot:   [{start:#012x}, {end:#012x}) {}", attr.describe());
    };
    mmu::for_each_mapping(|start, end, attr| match &mut run {
        Some((_, run_end, run_attr)) if *run_end == start && *run_attr == attr => *run_end = end,
        _ => {
            if let Some(done) = run.replace((start, end, attr)) {
                show(done);
            }
        }
    });
    if let Some(done) = run {
        show(done);
    }
}
