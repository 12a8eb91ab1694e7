//! Reclaim tracing in the kernel: one `mm::trace::TraceBuffer` per online CPU (on the
//! heap, allocated the first time tracing is switched on), the sink that stamps each
//! event with the generic timer and files it in the calling CPU's buffer, and the dump
//! over the console. The events, the buffer protocol and the dump format are
//! `mm::trace`'s; where events are emitted is the policy's, `reclaim`'s and `fault`'s.
//!
//! Each buffer has one writer, its CPU: events are emitted from thread context only
//! (kswapd, kcompressd, workloads and their faults, the scenario), never from an
//! interrupt handler, so a CPU never interrupts its own write.

use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use mm::trace::{self as events, Event, Slot, TraceBuffer};

use crate::arch::aarch64::{MAX_CPUS, percpu, smp, timer};
use crate::println;

/// Records per CPU at most: 2^18 records of 32 bytes, 8 MiB per CPU.
const MAX_RECORDS: u64 = 1 << 18;
/// The buffers of all CPUs together take at most this fraction of the heap (1/8:
/// `scenario=reclaim` needs most of the rest for its swap metadata). Under QEMU's
/// default 512 MiB and 4 CPUs: about 31 000 records (1 MiB) per CPU.
const HEAP_SHARE: u64 = 8;

/// Heap size, from `init`, to size the buffers.
static HEAP_BYTES: AtomicU64 = AtomicU64::new(0);
/// Heap bytes the buffers took (0 until tracing was first on).
static BUFFER_BYTES: AtomicU64 = AtomicU64::new(0);
/// Buffer of logical CPU `n` at index `n` (`None`: the CPU was offline).
static BUFFERS: spin::Once<Vec<Option<TraceBuffer<'static>>>> = spin::Once::new();

/// Installs the sink; switches tracing on if the command line said `trace=on`. Boot
/// CPU, once, after the secondary CPUs are up (buffers are made for online CPUs).
pub fn init(heap_bytes: u64, on: bool) {
    HEAP_BYTES.store(heap_bytes, Ordering::Relaxed);
    // Only `init` installs it, once per boot.
    let _ = events::set_sink(sink);
    if let Err(e) = set_enabled(on) {
        println!("trace: {e}: tracing stays off");
    }
}

/// Records per CPU for `cpus` online CPUs.
fn records_per_cpu(cpus: usize) -> usize {
    let budget = HEAP_BYTES.load(Ordering::Relaxed) / HEAP_SHARE;
    let per_cpu = budget / cpus.max(1) as u64 / size_of::<Slot>() as u64;
    per_cpu.clamp(1, MAX_RECORDS) as usize
}

/// A buffer per online CPU, every one reserved before any is used; refused, with
/// nothing kept, when the heap cannot hold them.
fn allocate() -> Result<Vec<Option<TraceBuffer<'static>>>, String> {
    let online: Vec<usize> = smp::online_cpus().collect();
    let records = records_per_cpu(online.len());
    let no_heap = || {
        alloc::format!(
            "no kernel heap for the trace buffers ({} KiB per CPU, {} KiB free)",
            (records * size_of::<Slot>()) >> 10,
            crate::mem::heap_free() >> 10
        )
    };
    let mut buffers = Vec::new();
    buffers.try_reserve_exact(MAX_CPUS).map_err(|_| no_heap())?;
    let mut slots: Vec<Vec<Slot>> = Vec::new();
    slots
        .try_reserve_exact(online.len())
        .map_err(|_| no_heap())?;
    for _ in &online {
        let mut cpu_slots = Vec::new();
        cpu_slots
            .try_reserve_exact(records)
            .map_err(|_| no_heap())?;
        slots.push(cpu_slots);
    }
    let mut slots = slots.into_iter();
    for cpu in 0..MAX_CPUS {
        let buffer = if online.contains(&cpu) {
            slots.next().and_then(|mut cpu_slots| {
                cpu_slots.extend((0..records).map(|_| Slot::new()));
                TraceBuffer::new(cpu_slots.leak()).ok()
            })
        } else {
            None
        };
        buffers.push(buffer);
    }
    BUFFER_BYTES.store(
        (online.len() * records * size_of::<Slot>()) as u64,
        Ordering::Relaxed,
    );
    Ok(buffers)
}

/// Stamps `event` and files it in the calling CPU's buffer.
fn sink(event: Event) {
    if let Some(Some(buffer)) = BUFFERS
        .get()
        .and_then(|buffers| buffers.get(percpu::this_cpu_id()))
    {
        buffer.record(timer::now_ticks(), event);
    }
}

/// Heap bytes the trace buffers took: a share of the heap (`kernel::sizing`).
pub fn heap_bytes() -> u64 {
    BUFFER_BYTES.load(Ordering::Relaxed)
}

/// Switches tracing on (allocating the buffers the first time) or off; stays off,
/// saying why, when the heap cannot hold the buffers.
pub fn set_enabled(on: bool) -> Result<(), String> {
    if on {
        BUFFERS.try_call_once(allocate)?;
    }
    events::set_enabled(on);
    Ok(())
}

pub fn is_enabled() -> bool {
    events::enabled()
}

/// Forgets every event recorded so far (tracing stays as it is).
pub fn clear() {
    for buffer in BUFFERS.get().into_iter().flatten().flatten() {
        buffer.clear();
    }
}

/// Prints every CPU's recorded events, labelled `console` (see `dump_labelled`).
pub fn dump() {
    dump_labelled("console");
}

/// Prints every CPU's recorded events as one dump named `label` (one word), in
/// `mm::trace`'s format, for the host's `trace-convert`. Does not clear.
pub fn dump_labelled(label: &str) {
    let Some(buffers) = BUFFERS.get() else {
        println!("trace: nothing recorded (tracing was never on; trace=on or `trace on`)");
        return;
    };
    // Nothing else may print inside the dump (`trace-convert` counts its lines): the
    // console reads no input until it ends, and says so.
    println!("trace: dumping every core's events; typed lines wait until TRACE END");
    let list: Vec<(u32, &TraceBuffer<'static>)> = buffers
        .iter()
        .enumerate()
        .filter_map(|(cpu, b)| Some((cpu as u32, b.as_ref()?)))
        .collect();
    events::dump(label, timer::freq(), &list, |line| println!("{line}"));
}

/// For the scenarios, after each run: when tracing is on, dumps as `label` and clears,
/// so the next run's dump holds only its own events.
pub fn dump_run(label: &str) {
    if is_enabled() {
        dump_labelled(label);
        clear();
    }
}
