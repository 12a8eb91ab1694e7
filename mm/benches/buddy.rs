//! Order-0 allocate + free: our buddy zone against `buddy_system_allocator`'s
//! `FrameAllocator` (orders 0..=10 for both), over the same 64 MiB of frames.
//! - common case: every other page allocated, so a free page waits on the order-0
//!   list and freeing it finds its buddy busy (no split, no merge);
//! - worst case: only top-order (1024-page) blocks free, so each allocation splits
//!   ten times and each free coalesces back up to order 10.
//!
//! Prints ns per alloc+free pair and the ratio at the end.
//! `cargo bench -p mm --bench buddy` (add `-- --quick` for a short run).

#[path = "../tests/frame_support/mod.rs"]
mod frame_support;

use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use buddy_system_allocator::FrameAllocator;
use criterion::Criterion;
use frame_support::HostRam;
use mm::frame::{MAX_ORDER, Zone, ZoneConfig};

const RAM: usize = 64 << 20;
const TOP_BLOCK: usize = 1 << MAX_ORDER;
/// Orders 0..=10, like `MAX_ORDER`.
type TheirAllocator = FrameAllocator<{ MAX_ORDER as usize + 1 }>;

static TOTALS: Mutex<Vec<(&'static str, u64, Duration)>> = Mutex::new(Vec::new());

fn new_zone(ram: &HostRam) -> Zone {
    // SAFETY: the buffer is ours, unused elsewhere, and outlives the zone.
    unsafe { Zone::new(&[ram.range(0, RAM as u64)], ZoneConfig::default()) }.expect("zone")
}

/// Allocates every page, then frees every odd pfn: their buddies stay allocated.
fn ours_common(ram: &HostRam) -> Zone {
    let mut zone = new_zone(ram);
    let mut pages = Vec::new();
    while let Ok(pfn) = zone.alloc_pages(0) {
        pages.push(pfn);
    }
    for pfn in pages.into_iter().filter(|p| p.0 % 2 == 1) {
        zone.free_pages(pfn, 0).unwrap();
    }
    zone
}

/// Allocates every free block below the top order, leaving only order-10 blocks.
fn ours_worst(ram: &HostRam) -> Zone {
    let mut zone = new_zone(ram);
    for order in 0..MAX_ORDER {
        while zone.buddyinfo()[order as usize] > 0 {
            zone.alloc_pages(order).unwrap();
        }
    }
    zone
}

/// The frames our zone manages, in frame numbers.
fn managed_frames(ram: &HostRam) -> (usize, usize) {
    let zone = new_zone(ram);
    let span = zone.managed_spans().next().unwrap();
    (span.start.0 as usize, span.end.0 as usize)
}

fn theirs_common(ram: &HostRam) -> TheirAllocator {
    let (start, end) = managed_frames(ram);
    let mut frames = TheirAllocator::new();
    frames.add_frame(start, end);
    let mut pages = Vec::new();
    while let Some(frame) = frames.alloc(1) {
        pages.push(frame);
    }
    for frame in pages.into_iter().filter(|f| f % 2 == 1) {
        frames.dealloc(frame, 1);
    }
    frames
}

fn theirs_worst(ram: &HostRam) -> TheirAllocator {
    let (start, end) = managed_frames(ram);
    let mut frames = TheirAllocator::new();
    frames.add_frame(
        start.next_multiple_of(TOP_BLOCK),
        end / TOP_BLOCK * TOP_BLOCK,
    );
    frames
}

fn timed(name: &'static str, iters: u64, mut op: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        op();
    }
    let elapsed = start.elapsed();
    TOTALS.lock().unwrap().push((name, iters, elapsed));
    elapsed
}

fn bench_buddy(c: &mut Criterion) {
    let ram = HostRam::new(RAM, TOP_BLOCK * mm::addr::PAGE_SIZE);
    let mut group = c.benchmark_group("order0_alloc_free");
    type OursSetup = fn(&HostRam) -> Zone;
    type TheirsSetup = fn(&HostRam) -> TheirAllocator;
    let cases: [(&'static str, OursSetup, &'static str, TheirsSetup); 2] = [
        (
            "ours/common",
            ours_common,
            "buddy_system_allocator/common",
            theirs_common,
        ),
        (
            "ours/worst",
            ours_worst,
            "buddy_system_allocator/worst",
            theirs_worst,
        ),
    ];
    for (ours_name, ours, theirs_name, theirs) in cases {
        let mut zone = ours(&ram);
        let before = zone.buddyinfo();
        group.bench_function(ours_name, |b| {
            b.iter_custom(|iters| {
                timed(ours_name, iters, || {
                    let pfn = zone.alloc_pages(0).unwrap();
                    zone.free_pages(black_box(pfn), 0).unwrap();
                })
            })
        });
        assert_eq!(zone.buddyinfo(), before, "benchmark changed the zone");
        let mut frames = theirs(&ram);
        group.bench_function(theirs_name, |b| {
            b.iter_custom(|iters| {
                timed(theirs_name, iters, || {
                    let frame = frames.alloc(1).unwrap();
                    frames.dealloc(black_box(frame), 1);
                })
            })
        });
    }
    group.finish();
}

/// Nanoseconds per alloc+free over every run criterion made of `name`.
fn ns_per_op(name: &str) -> Option<f64> {
    let totals = TOTALS.lock().unwrap();
    let (iters, time) = totals
        .iter()
        .filter(|(n, _, _)| *n == name)
        .fold((0u64, Duration::ZERO), |(i, t), (_, di, dt)| {
            (i + di, t + *dt)
        });
    (iters > 0).then(|| time.as_nanos() as f64 / iters as f64)
}

fn print_comparison() {
    println!(
        "\nOrder-0 alloc+free, {} MiB of frames, orders 0..={MAX_ORDER}:",
        RAM >> 20
    );
    for case in ["common", "worst"] {
        let ours = ns_per_op(&format!("ours/{case}"));
        let theirs = ns_per_op(&format!("buddy_system_allocator/{case}"));
        if let (Some(ours), Some(theirs)) = (ours, theirs) {
            println!(
                "  {case:<6}  ours {ours:>7.1} ns  buddy_system_allocator {theirs:>7.1} ns  \
                 theirs / ours = {:.2}x",
                theirs / ours
            );
        }
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_buddy(&mut criterion);
    criterion.final_summary();
    print_comparison();
}
