//! Cross-thread SPSC throughput: a producer thread pushes `ITEMS` sequence numbers
//! through a 256-slot ring (the kcompressd kfifo size) to the consumer on the calling
//! thread, which checks their order. Ours against `rtrb` and `heapless::spsc`, one
//! item per operation and in batches of 32 (the LRU isolation batch; heapless has no
//! batch API). Prints items/s and our ratio to each competitor at the end.
//!
//! `cargo bench -p mm --bench ring` (add `-- --quick` for a short run).
#![forbid(unsafe_code)]

use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use mm::ring::Ring;

const ITEMS: u64 = 1 << 18;
const BATCH: usize = 32;

/// Total items moved and time taken per benchmark, to print the comparison.
static TOTALS: Mutex<Vec<(&'static str, u64, Duration)>> = Mutex::new(Vec::new());

/// Waits for the other side: spins briefly, then yields, so an oversubscribed host
/// (the other thread descheduled) does not turn a full or empty ring into a stall of
/// a whole time slice. `spins` is reset by the caller after progress.
fn wait(spins: &mut u32) {
    if *spins < 64 {
        *spins += 1;
        std::hint::spin_loop();
    } else {
        thread::yield_now();
    }
}

fn check(expected: &mut u64, got: u64) {
    assert_eq!(got, *expected, "item out of order");
    *expected += 1;
}

/// One item per operation through any SPSC queue: a producer thread pushes 0..ITEMS
/// (`push` gives false when full), this thread pops and checks the order (`pop` gives
/// None when empty). Generic, so each queue's calls are inlined as if written out.
fn single<P, C>(mut push: P, mut pop: C)
where
    P: FnMut(u64) -> bool + Send,
    C: FnMut() -> Option<u64>,
{
    thread::scope(|s| {
        s.spawn(move || {
            for i in 0..ITEMS {
                let mut spins = 0;
                while !push(i) {
                    wait(&mut spins);
                }
            }
        });
        let mut expected = 0;
        let mut spins = 0;
        while expected < ITEMS {
            match pop() {
                Some(v) => {
                    spins = 0;
                    check(&mut expected, v);
                }
                None => wait(&mut spins),
            }
        }
    });
}

/// `single` in batches of `BATCH`: the producer pushes 0..ITEMS a batch at a time
/// (`push_slice` takes a prefix of its argument and says how many), this thread pops
/// into a batch buffer (`pop_slice` fills a prefix and says how many) and checks the
/// order.
fn batched<P, C>(mut push_slice: P, mut pop_slice: C)
where
    P: FnMut(&[u64]) -> usize + Send,
    C: FnMut(&mut [u64]) -> usize,
{
    thread::scope(|s| {
        s.spawn(move || {
            let mut next = 0;
            let mut batch = [0u64; BATCH];
            while next < ITEMS {
                let n = BATCH.min((ITEMS - next) as usize);
                for (k, slot) in batch[..n].iter_mut().enumerate() {
                    *slot = next + k as u64;
                }
                let (mut sent, mut spins) = (0, 0);
                while sent < n {
                    let pushed = push_slice(&batch[sent..n]);
                    if pushed == 0 {
                        wait(&mut spins);
                    } else {
                        spins = 0;
                    }
                    sent += pushed;
                }
                next += n as u64;
            }
        });
        let (mut expected, mut spins) = (0, 0);
        let mut out = [0u64; BATCH];
        while expected < ITEMS {
            let n = pop_slice(&mut out);
            if n == 0 {
                wait(&mut spins);
            } else {
                spins = 0;
            }
            for &v in &out[..n] {
                check(&mut expected, v);
            }
        }
    });
}

fn ours_single() {
    let ring = Ring::<u64, 256>::new();
    let (mut tx, mut rx) = ring.split().unwrap();
    single(move |i| tx.push(i).is_ok(), move || rx.pop());
}

fn ours_batch() {
    let ring = Ring::<u64, 256>::new();
    let (mut tx, mut rx) = ring.split().unwrap();
    batched(
        move |items| tx.push_slice(items),
        move |out| rx.pop_slice(out),
    );
}

fn rtrb_single() {
    let (mut tx, mut rx) = rtrb::RingBuffer::<u64>::new(256);
    single(move |i| tx.push(i).is_ok(), move || rx.pop().ok());
}

fn rtrb_batch() {
    let (mut tx, mut rx) = rtrb::RingBuffer::<u64>::new(256);
    batched(
        move |items| tx.push_partial_slice(items).0.len(),
        move |out| rx.pop_partial_slice(out).0.len(),
    );
}

fn heapless_single() {
    // heapless holds N - 1 items: 255 here, against 256 for the others.
    let mut queue = heapless::spsc::Queue::<u64, 256>::new();
    let (mut tx, mut rx) = queue.split();
    single(move |i| tx.enqueue(i).is_ok(), move || rx.dequeue());
}

fn bench_ring(c: &mut Criterion) {
    let mut group = c.benchmark_group("spsc_cross_thread");
    group.throughput(Throughput::Elements(ITEMS));
    group.sample_size(10);
    let cases: [(&'static str, fn()); 5] = [
        ("ours/single", ours_single),
        ("rtrb/single", rtrb_single),
        ("heapless/single", heapless_single),
        ("ours/batch32", ours_batch),
        ("rtrb/batch32", rtrb_batch),
    ];
    for (name, run) in cases {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    run();
                }
                let elapsed = start.elapsed();
                TOTALS.lock().unwrap().push((name, iters * ITEMS, elapsed));
                elapsed
            })
        });
    }
    group.finish();
}

/// Items per second over every run criterion made of `name` (warm-up included).
fn items_per_sec(name: &str) -> Option<f64> {
    let totals = TOTALS.lock().unwrap();
    let (items, time) = totals
        .iter()
        .filter(|(n, _, _)| *n == name)
        .fold((0u64, Duration::ZERO), |(i, t), (_, di, dt)| {
            (i + di, t + *dt)
        });
    (items > 0).then(|| items as f64 / time.as_secs_f64())
}

fn print_comparison() {
    println!("\nSPSC cross-thread throughput, 256 slots, {ITEMS} u64 per run:");
    let names = [
        "ours/single",
        "rtrb/single",
        "heapless/single",
        "ours/batch32",
        "rtrb/batch32",
    ];
    for name in names {
        if let Some(rate) = items_per_sec(name) {
            println!("  {name:<16} {:>8.1} M items/s", rate / 1e6);
        }
    }
    for (ours, theirs) in [
        ("ours/single", "rtrb/single"),
        ("ours/single", "heapless/single"),
        ("ours/batch32", "rtrb/batch32"),
        ("ours/batch32", "ours/single"),
    ] {
        if let (Some(a), Some(b)) = (items_per_sec(ours), items_per_sec(theirs)) {
            println!("  {ours} / {theirs}: {:.2}x", a / b);
        }
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_ring(&mut criterion);
    criterion.final_summary();
    print_comparison();
}
