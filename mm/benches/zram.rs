//! The compressed store's cost against bare lz4: store+load (same-filled check, lz4, checksum,
//! object allocation and copy, and back) vs lz4_flex compress+decompress on the same pages,
//! with C liblz4 (`lz4` crate) as a reference line; the checksum's share; and same-filled
//! detection vs a page memcpy. Prints the comparisons after criterion's own lines.
//! Run: cargo bench -p mm --bench zram
#![forbid(unsafe_code)]

use criterion::{Bencher, Criterion, Throughput, criterion_group};
use lz4_flex::block::{CompressTable, compress_into_with_table, decompress_into};
use mm::addr::PAGE_SIZE;
use mm::pagegen::{PageGen, PageMix};
use mm::zram::{Compressor, HostFrames, LZ4_PAGE_BOUND, SwapSlot, ZramStore, same_filled_word};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const PAGES: usize = 256;

/// Time and iterations of every sample criterion took, per benchmark, for the summary.
static SAMPLES: Mutex<BTreeMap<&'static str, (Duration, u64)>> = Mutex::new(BTreeMap::new());

fn timed(b: &mut Bencher, name: &'static str, mut f: impl FnMut()) {
    b.iter_custom(|iters| {
        let start = Instant::now();
        for _ in 0..iters {
            f();
        }
        let elapsed = start.elapsed();
        let mut samples = SAMPLES.lock().unwrap();
        let entry = samples.entry(name).or_default();
        entry.0 += elapsed;
        entry.1 += iters;
        elapsed
    });
}

fn page_mix() -> Vec<[u8; PAGE_SIZE]> {
    let generator = PageGen::new(2025, PageMix::DEFAULT).unwrap();
    (0..PAGES as u64)
        .map(|index| {
            let mut page = [0u8; PAGE_SIZE];
            generator.fill(index, 0, &mut page);
            page
        })
        .collect()
}

fn page_mix_benches(c: &mut Criterion) {
    let pages = page_mix();
    let mut group = c.benchmark_group("zram_page_mix");
    group.throughput(Throughput::Bytes((PAGES * PAGE_SIZE) as u64));

    let mut meta = vec![0u64; ZramStore::<HostFrames>::meta_words(PAGES)];
    let mut store = ZramStore::new(HostFrames::new(PAGES), &mut meta);
    let mut compressor = Box::new(Compressor::new());
    let mut out = Box::new([0u8; PAGE_SIZE]);
    group.bench_function("zram store+load", |b| {
        timed(b, "zram store+load", || {
            for (entry, page) in pages.iter().enumerate() {
                store
                    .store(SwapSlot(entry as u32), &compressor.compress(page))
                    .unwrap();
            }
            for entry in 0..PAGES as u32 {
                store.load(SwapSlot(entry), &mut out).unwrap();
                black_box(&out);
            }
            for entry in 0..PAGES as u32 {
                store.free(SwapSlot(entry)).unwrap();
            }
        })
    });

    let mut table = CompressTable::default();
    let mut compressed: Vec<Vec<u8>> = Vec::new();
    let mut buf = vec![0u8; LZ4_PAGE_BOUND];
    for page in &pages {
        let len = compress_into_with_table(page, &mut buf, &mut table).unwrap();
        compressed.push(buf[..len].to_vec());
    }
    group.bench_function("lz4_flex compress+decompress", |b| {
        timed(b, "lz4_flex compress+decompress", || {
            for page in &pages {
                let len = compress_into_with_table(page, &mut buf, &mut table).unwrap();
                decompress_into(&buf[..len], &mut out[..]).unwrap();
                black_box(&out);
            }
        })
    });
    group.bench_function("lz4_flex compress", |b| {
        timed(b, "lz4_flex compress", || {
            for page in &pages {
                black_box(compress_into_with_table(page, &mut buf, &mut table).unwrap());
            }
        })
    });
    group.bench_function("lz4_flex decompress", |b| {
        timed(b, "lz4_flex decompress", || {
            for bytes in &compressed {
                black_box(decompress_into(bytes, &mut out[..]).unwrap());
            }
        })
    });
    group.bench_function("xxh3 checksum of compressed", |b| {
        timed(b, "xxh3 checksum of compressed", || {
            for bytes in &compressed {
                black_box(xxhash_rust::xxh3::xxh3_64(bytes));
            }
        })
    });
    let mut c_buf = vec![0u8; lz4::block::compress_bound(PAGE_SIZE).unwrap()];
    group.bench_function("liblz4 compress+decompress", |b| {
        timed(b, "liblz4 compress+decompress", || {
            for page in &pages {
                let len = lz4::block::compress_to_buffer(page, None, false, &mut c_buf).unwrap();
                lz4::block::decompress_to_buffer(
                    &c_buf[..len],
                    Some(PAGE_SIZE as i32),
                    &mut out[..],
                )
                .unwrap();
                black_box(&out);
            }
        })
    });
    group.finish();
}

fn same_filled_benches(c: &mut Criterion) {
    let zero = Box::new([0u8; PAGE_SIZE]);
    let mut copy = Box::new([0u8; PAGE_SIZE]);
    let mut group = c.benchmark_group("zram_same_filled");
    group.throughput(Throughput::Bytes(PAGE_SIZE as u64));
    // A zero page is the worst case: the whole page is read.
    group.bench_function("same-filled detection", |b| {
        timed(b, "same-filled detection", || {
            black_box(same_filled_word(black_box(&zero)));
        })
    });
    group.bench_function("memcpy", |b| {
        timed(b, "memcpy", || {
            copy.copy_from_slice(black_box(&zero[..]));
            black_box(&copy);
        })
    });
    group.finish();
}

criterion_group!(benches, page_mix_benches, same_filled_benches);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let samples = SAMPLES.lock().unwrap();
    let per_iter = |name: &str| samples.get(name).map(|(t, n)| t.as_secs_f64() / *n as f64);
    let mix_bytes = (PAGES * PAGE_SIZE) as f64;
    println!("\nzram comparison ({PAGES}-page default mix, time per page and MB/s of pages):");
    for (name, (t, n)) in samples.iter() {
        let secs = t.as_secs_f64() / *n as f64;
        let (bytes, pages) = if name.starts_with("same") || *name == "memcpy" {
            (PAGE_SIZE as f64, 1.0)
        } else {
            (mix_bytes, PAGES as f64)
        };
        println!(
            "  {name:32} {:9.1} ns/page {:9.0} MB/s",
            secs * 1e9 / pages,
            bytes / secs / 1e6
        );
    }
    let ratio = |a: &str, b: &str| per_iter(a).zip(per_iter(b)).map(|(x, y)| x / y);
    if let Some(r) = ratio("zram store+load", "lz4_flex compress+decompress") {
        println!("  store+load / bare lz4_flex round trip: {r:.2}x");
    }
    if let Some(r) = ratio("liblz4 compress+decompress", "lz4_flex compress+decompress") {
        println!("  C liblz4 / lz4_flex round trip: {r:.2}x");
    }
    if let Some(r) = ratio("xxh3 checksum of compressed", "lz4_flex compress") {
        println!("  checksum / compress: {:.1}%", r * 100.0);
    }
    if let Some(r) = ratio("xxh3 checksum of compressed", "lz4_flex decompress") {
        println!("  checksum / decompress: {:.1}%", r * 100.0);
    }
    if let Some(r) = ratio("same-filled detection", "memcpy") {
        println!("  same-filled detection / memcpy of a page: {r:.2}x");
    }
}
