//! The buddy zone on host memory: layout of the memmap over ranges with holes and
//! odd alignments, refused frees leaving the zone untouched, watermark checks, and a
//! proptest model (a BTreeSet of handed-out pages) over random alloc/free sequences.

mod frame_support;

use std::collections::{BTreeMap, BTreeSet};

use frame_support::HostRam;
use mm::addr::{PAGE_SIZE, Pfn, PhysRange};
use mm::frame::{
    AllocError, FreeError, MAX_ORDER, NR_PAGE_ORDERS, Zone, ZoneConfig, ZoneInitError,
};
use mm::lru::{Lru, LruList};
use mm::page::PageFlags;
use proptest::prelude::*;

const MIB: u64 = 1 << 20;
const PAGE: u64 = PAGE_SIZE as u64;

fn zone(ranges: &[PhysRange]) -> Zone {
    // SAFETY: every range is part of a HostRam the test keeps alive and gives only to
    // this zone.
    unsafe { Zone::new(ranges, ZoneConfig::default()) }.expect("zone")
}

/// Pages holding `pages` descriptors.
fn memmap_pages(pages: u64) -> u64 {
    (pages * std::mem::size_of::<mm::page::PageDesc>() as u64).div_ceil(PAGE)
}

/// Everything observable about the zone's free state.
fn snapshot(zone: &Zone) -> ([u64; NR_PAGE_ORDERS], u64) {
    (zone.buddyinfo(), zone.nr_free_pages())
}

#[test]
fn one_range_is_all_free_after_init_but_its_memmap() {
    let ram = HostRam::new(16 * MIB as usize, 4 * MIB as usize);
    let zone = zone(&[ram.range(0, 16 * MIB)]);
    let pages = 16 * MIB / PAGE;
    assert_eq!(zone.memmap_pages(), memmap_pages(pages));
    assert_eq!(zone.managed_pages(), pages - memmap_pages(pages));
    assert_eq!(zone.nr_free_pages(), zone.managed_pages());
    // 4096 pages, 12 of memmap: the first 4 MiB holds 4+16+32+64+128+256+512, then
    // 3 tops.
    assert_eq!(zone.buddyinfo(), [0, 0, 1, 0, 1, 1, 1, 1, 1, 1, 3]);
    zone.check_invariants().unwrap();
    let base = Pfn::containing(ram.range(0, 1).base);
    assert!(
        zone.page(base)
            .unwrap()
            .flags()
            .contains(PageFlags::RESERVED)
    );
    assert_eq!(
        zone.page(Pfn(base.0 + 12)).unwrap().flags(),
        PageFlags::BUDDY
    );
    assert_eq!(zone.page(Pfn(base.0 + 12)).unwrap().order(), Some(2));
}

#[test]
fn far_apart_banks_cost_descriptors_only_for_their_pages() {
    // Two separate host allocations stand for banks with a hole between them.
    let low = HostRam::new(8 * MIB as usize, PAGE_SIZE);
    let high = HostRam::new(8 * MIB as usize, PAGE_SIZE);
    let zone = zone(&[high.range(0, 8 * MIB), low.range(0, 8 * MIB)]);
    assert_eq!(zone.memmap_pages(), 2 * memmap_pages(2048));
    assert_eq!(zone.managed_pages(), 2 * (2048 - memmap_pages(2048)));
    let spans: Vec<_> = zone.managed_spans().collect();
    assert_eq!(spans.len(), 2);
    assert!(spans[0].end <= spans[1].start, "spans sorted by address");
    zone.check_invariants().unwrap();
}

#[test]
fn odd_ranges_are_trimmed_to_whole_pages() {
    let ram = HostRam::new(8 * MIB as usize, PAGE_SIZE);
    let ranges = [
        ram.range(1234, MIB + 777),
        ram.range(2 * MIB + PAGE, 5 * PAGE),
        ram.range(3 * MIB, 100),
        ram.range(4 * MIB - 3 * PAGE, 3 * MIB),
    ];
    let mut zone = zone(&ranges);
    // 1 MiB + 777 from offset 1234 holds 255 whole pages; the 100-byte range none.
    let expected = (255 - memmap_pages(255)) + (5 - 1) + (768 - memmap_pages(768));
    assert_eq!(zone.managed_pages(), expected);
    zone.check_invariants().unwrap();
    // Every page can be handed out once, lies in a managed span and is writable
    // without touching the memmap (the invariants would break).
    let spans: Vec<_> = zone.managed_spans().collect();
    let mut seen = BTreeSet::new();
    while let Ok(pfn) = zone.alloc_pages(0) {
        assert!(spans.iter().any(|s| (s.start..s.end).contains(&pfn)));
        assert!(seen.insert(pfn), "{pfn:?} handed out twice");
        // SAFETY: the page was just allocated from memory this test owns.
        unsafe { pfn.page_address().write_bytes(0xa5, PAGE_SIZE) };
    }
    assert_eq!(seen.len() as u64, expected);
    assert_eq!(zone.nr_free_pages(), 0);
    zone.check_invariants().unwrap();
    for pfn in seen {
        zone.free_pages(pfn, 0).unwrap();
    }
    assert_eq!(zone.nr_free_pages(), expected);
    zone.check_invariants().unwrap();
}

#[test]
fn bad_configurations_are_errors() {
    let ram = HostRam::new(4 * MIB as usize, PAGE_SIZE);
    let cfg = |wsf| ZoneConfig {
        min_free_kbytes: None,
        watermark_scale_factor: wsf,
    };
    let range = ram.range(0, 4 * MIB);
    // SAFETY: the ranges belong to `ram`; each zone built here is dropped at once.
    unsafe {
        assert_eq!(
            Zone::new(&[range], cfg(0)).err(),
            Some(ZoneInitError::BadWatermarkScaleFactor)
        );
        assert_eq!(
            Zone::new(&[range], cfg(3001)).err(),
            Some(ZoneInitError::BadWatermarkScaleFactor)
        );
        assert_eq!(
            Zone::new(&[range; 9], ZoneConfig::default()).err(),
            Some(ZoneInitError::TooManyRanges)
        );
        let overlapping = [ram.range(0, 2 * MIB), ram.range(MIB, 2 * MIB)];
        assert_eq!(
            Zone::new(&overlapping, ZoneConfig::default()).err(),
            Some(ZoneInitError::Overlap)
        );
        let tiny = [ram.range(0, PAGE), ram.range(2 * PAGE, 100)];
        assert_eq!(
            Zone::new(&tiny, ZoneConfig::default()).err(),
            Some(ZoneInitError::NoMemory)
        );
        let wrapping = PhysRange {
            base: u64::MAX - PAGE,
            size: 2 * PAGE,
        };
        assert_eq!(
            Zone::new(&[wrapping], ZoneConfig::default()).err(),
            Some(ZoneInitError::RangeOverflow)
        );
    }
}

#[test]
fn refused_frees_leave_the_zone_untouched() {
    let ram = HostRam::new(8 * MIB as usize, 4 * MIB as usize);
    let mut zone = zone(&[ram.range(0, 8 * MIB)]);
    let block = zone.alloc_pages(3).unwrap();
    let single = zone.alloc_pages(0).unwrap();
    let freed = zone.alloc_pages(0).unwrap();
    zone.free_pages(freed, 0).unwrap();
    let memmap_pfn = Pfn::containing(ram.range(0, 1).base);
    let outside = Pfn(memmap_pfn.0 + 4 * 2048);
    // Freeing the order-0 page as order 1: misaligned if its pfn is odd, else the
    // wrong order.
    let single_as_order_1 = if single.0 % 2 == 1 {
        FreeError::Misaligned
    } else {
        FreeError::WrongOrder { allocated: 0 }
    };
    // A page inside a free block (not its head).
    let inside_free = (memmap_pfn.0..memmap_pfn.0 + 2048)
        .map(Pfn)
        .find(|&p| {
            zone.page(p).is_some_and(|d| {
                d.flags().contains(PageFlags::BUDDY) && d.order().is_some_and(|o| o >= 1)
            })
        })
        .map(|head| Pfn(head.0 + 1))
        .expect("a free block of order 1 or more");
    let before = snapshot(&zone);
    let cases = [
        (freed, 0, FreeError::DoubleFree),
        (inside_free, 0, FreeError::DoubleFree),
        (memmap_pfn, 0, FreeError::Reserved),
        (outside, 0, FreeError::NotInZone),
        (Pfn(0), 0, FreeError::NotInZone),
        (Pfn(block.0 + 1), 0, FreeError::NotBlockHead),
        (Pfn(block.0 + 2), 1, FreeError::NotBlockHead),
        (Pfn(block.0 + 1), 3, FreeError::Misaligned),
        (block, 2, FreeError::WrongOrder { allocated: 3 }),
        (single, 1, single_as_order_1),
        (single, MAX_ORDER + 1, FreeError::OrderTooLarge),
    ];
    for (pfn, order, error) in cases {
        assert_eq!(
            zone.free_pages(pfn, order),
            Err(error),
            "free({pfn:?}, {order})"
        );
        assert_eq!(snapshot(&zone), before);
        zone.check_invariants().unwrap();
    }
    let mut lru = Lru::new();
    lru.add(&mut zone, single, LruList::InactiveAnon).unwrap();
    assert_eq!(zone.free_pages(single, 0), Err(FreeError::OnLru));
    lru.del(&mut zone, single).unwrap();
    zone.free_pages(single, 0).unwrap();
    zone.free_pages(block, 3).unwrap();
    assert_eq!(zone.nr_free_pages(), zone.managed_pages());
}

#[test]
fn allocation_errors() {
    let ram = HostRam::new(4 * MIB as usize, PAGE_SIZE);
    let mut zone = zone(&[ram.range(0, 4 * MIB)]);
    assert_eq!(
        zone.alloc_pages(MAX_ORDER + 1),
        Err(AllocError::OrderTooLarge)
    );
    // 4 MiB at any 4 KiB alignment minus its memmap cannot hold an order-10 block.
    assert_eq!(zone.alloc_pages(MAX_ORDER), Err(AllocError::OutOfMemory));
    while zone.alloc_pages(0).is_ok() {}
    assert_eq!(zone.alloc_pages(0), Err(AllocError::OutOfMemory));
    zone.check_invariants().unwrap();
}

#[test]
fn watermark_checks_follow_linux() {
    let ram = HostRam::new(16 * MIB as usize, 4 * MIB as usize);
    let mut zone = zone(&[ram.range(0, 16 * MIB)]);
    // 4072 managed pages (15.9 MiB): sqrt(16288 * 16) = 510 KiB -> min 127 pages,
    // delta max(31, 4) = 31.
    let wm = zone.watermarks();
    assert_eq!((wm.min, wm.low, wm.high), (127, 158, 189));
    assert!(zone.zone_watermark_ok(0, wm.high));
    while zone.nr_free_pages() > wm.low + 1 {
        zone.alloc_pages(0).unwrap();
    }
    assert!(zone.zone_watermark_ok(0, wm.low));
    // An order-1 request counts one page as unusable.
    assert!(!zone.zone_watermark_ok(1, wm.low));
    zone.alloc_pages(0).unwrap();
    assert!(
        !zone.zone_watermark_ok(0, wm.low),
        "free == low must wake kswapd"
    );
    assert!(zone.zone_watermark_ok(0, wm.min));
}

#[test]
fn watermark_scale_factor_is_a_sysctl_write() {
    let ram = HostRam::new(16 * MIB as usize, 4 * MIB as usize);
    let mut zone = zone(&[ram.range(0, 16 * MIB)]);
    let cfg = |wsf| ZoneConfig {
        min_free_kbytes: None,
        watermark_scale_factor: wsf,
    };
    // 4084 managed pages: delta = max(127 / 4, 4084 * 1000 / 10000) = 408.
    let wm = zone.set_config(cfg(1000)).unwrap();
    assert_eq!((wm.min, wm.low, wm.high), (127, 535, 943));
    assert_eq!(zone.watermarks(), wm);
    for bad in [0, 3001] {
        assert_eq!(
            zone.set_config(cfg(bad)),
            Err(ZoneInitError::BadWatermarkScaleFactor)
        );
        assert_eq!(zone.watermarks(), wm, "a refused write changes nothing");
    }
    let wm = zone.set_config(ZoneConfig::default()).unwrap();
    assert_eq!((wm.min, wm.low, wm.high), (127, 158, 189));
}

#[test]
fn limit_free_to_is_mem_equals_with_watermarks_that_follow() {
    let ram = HostRam::new(64 * MIB as usize, 4 * MIB as usize);
    let mut zone = zone(&[ram.range(0, 64 * MIB)]);
    let managed = zone.managed_pages();
    let big = zone.watermarks();
    // One page in use before the limit, as the workload's page tables are.
    let held = zone.alloc_pages(0).unwrap();
    let taken = zone
        .limit_free_to(16 * MIB / PAGE, ZoneConfig::default())
        .unwrap();
    assert_eq!(zone.nr_free_pages(), 16 * MIB / PAGE);
    assert_eq!(zone.managed_pages(), managed - taken);
    assert_eq!(zone.managed_pages(), 16 * MIB / PAGE + 1);
    zone.check_invariants().unwrap();
    // The watermarks of the smaller zone: what a zone of that size gets at boot.
    let small_ram = HostRam::new(17 * MIB as usize, 4 * MIB as usize);
    let fresh = zone_of_pages(&small_ram, zone.managed_pages());
    assert_eq!(zone.watermarks(), fresh.watermarks());
    assert!(zone.watermarks().min < big.min);
    // Taken pages are reserved: never handed out, never freed.
    let mut out = Vec::new();
    while let Ok(pfn) = zone.alloc_pages(0) {
        out.push(pfn);
    }
    assert_eq!(out.len() as u64, 16 * MIB / PAGE);
    let reserved = (0..)
        .map(|i| Pfn(held.0 + i))
        .find(|&pfn| {
            zone.page(pfn)
                .is_some_and(|p| p.flags().contains(PageFlags::RESERVED))
                && !out.contains(&pfn)
        })
        .expect("a taken page");
    assert_eq!(zone.free_pages(reserved, 0), Err(FreeError::Reserved));
    assert_eq!(
        zone.limit_free_to(
            0,
            ZoneConfig {
                min_free_kbytes: None,
                watermark_scale_factor: 0
            }
        ),
        Err(ZoneInitError::BadWatermarkScaleFactor)
    );
}

#[test]
fn lift_limit_gives_every_page_back_and_the_watermarks_follow() {
    let ram = HostRam::new(64 * MIB as usize, 4 * MIB as usize);
    let mut zone = zone(&[ram.range(0, 64 * MIB)]);
    let (managed, free, big) = (
        zone.managed_pages(),
        zone.nr_free_pages(),
        zone.watermarks(),
    );
    let taken = zone
        .limit_free_to(16 * MIB / PAGE, ZoneConfig::default())
        .unwrap();
    let held = zone.alloc_pages(3).unwrap();
    assert_eq!(zone.lift_limit(ZoneConfig::default()), Ok(taken));
    assert_eq!(zone.managed_pages(), managed);
    assert_eq!(zone.nr_free_pages(), free - 8);
    assert_eq!(zone.watermarks(), big);
    zone.check_invariants().unwrap();
    // Nothing left to give back; the block in use is untouched and frees normally.
    assert_eq!(zone.lift_limit(ZoneConfig::default()), Ok(0));
    zone.free_pages(held, 3).unwrap();
    assert_eq!(zone.nr_free_pages(), free);
    // Freed pages merged back into large blocks: a top-order block exists again.
    assert!(zone.buddyinfo().last().is_some_and(|&n| n > 0));
    zone.check_invariants().unwrap();
}

/// A fresh zone managing exactly `pages` pages (its memmap added in front).
fn zone_of_pages(ram: &HostRam, pages: u64) -> Zone {
    let memmap = memmap_pages(pages + memmap_pages(pages));
    let z = zone(&[ram.range(0, (pages + memmap) * PAGE)]);
    assert_eq!(z.managed_pages(), pages, "memmap estimate");
    z
}

#[test]
fn high_order_watermark_needs_a_block_of_that_order() {
    let ram = HostRam::new(8 * MIB as usize, PAGE_SIZE);
    let mut zone = zone(&[ram.range(0, 8 * MIB)]);
    let mut pages = Vec::new();
    while let Ok(pfn) = zone.alloc_pages(0) {
        pages.push(pfn);
    }
    for pfn in pages.into_iter().filter(|p| p.0 % 2 == 1) {
        zone.free_pages(pfn, 0).unwrap();
    }
    // Half the zone free, all of it in single pages.
    assert_eq!(zone.buddyinfo()[0], zone.nr_free_pages());
    assert!(zone.zone_watermark_ok(0, zone.watermarks().high));
    assert!(!zone.zone_watermark_ok(1, zone.watermarks().min));
}

#[derive(Clone, Debug)]
enum Op {
    Alloc(u32),
    Free(usize),
    DoubleFree(usize),
    FreeTail(usize),
    FreeWrongOrder(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop_oneof![4 => Just(0u32), 2 => 1..=3u32, 1 => 4..=MAX_ORDER].prop_map(Op::Alloc),
        5 => any::<usize>().prop_map(Op::Free),
        1 => any::<usize>().prop_map(Op::DoubleFree),
        1 => any::<usize>().prop_map(Op::FreeTail),
        1 => any::<usize>().prop_map(Op::FreeWrongOrder),
    ]
}

/// Up to four ranges cut from 8 MiB at random page and byte offsets, with holes.
fn ranges() -> impl Strategy<Value = Vec<(u64, u64, u64, u64)>> {
    prop::collection::vec((0..512u64, 0..PAGE, 2..300u64, 0..PAGE), 1..=4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn never_hands_out_a_page_twice_and_coalesces_back(
        cuts in ranges(),
        ops in prop::collection::vec(op(), 1..400),
    ) {
        let ram = HostRam::new(8 * MIB as usize, PAGE_SIZE);
        // Lay the ranges out one after the other with a gap before each.
        let mut offset = 0;
        let mut ranges = Vec::new();
        for (gap_pages, skew, pages, tail) in cuts {
            let base = offset + gap_pages * PAGE + skew;
            let size = pages * PAGE + tail;
            if base + size > 8 * MIB {
                break;
            }
            ranges.push(ram.range(base, size));
            offset = base + size;
        }
        prop_assume!(!ranges.is_empty());
        // SAFETY: the ranges are disjoint parts of `ram`, used by this zone only.
        let Ok(mut zone) = (unsafe { Zone::new(&ranges, ZoneConfig::default()) }) else {
            return Ok(());
        };
        let initial = snapshot(&zone);
        let mut blocks: BTreeMap<Pfn, u32> = BTreeMap::new();
        let mut pages: BTreeSet<u64> = BTreeSet::new();
        let mut freed: Vec<(Pfn, u32)> = Vec::new();
        for op in ops {
            let before = snapshot(&zone);
            let nth = |i: usize| blocks.iter().nth(i % blocks.len().max(1)).map(|(&p, &o)| (p, o));
            match op {
                Op::Alloc(order) => match zone.alloc_pages(order) {
                    Ok(pfn) => {
                        prop_assert_eq!(pfn.0 % (1 << order), 0, "misaligned block");
                        for p in pfn.0..pfn.0 + (1 << order) {
                            prop_assert!(pages.insert(p), "page {} handed out twice", p);
                        }
                        blocks.insert(pfn, order);
                        freed.retain(|&(f, o)| f.0 + (1 << o) <= pfn.0 || pfn.0 + (1 << order) <= f.0);
                    }
                    Err(e) => {
                        prop_assert_eq!(e, AllocError::OutOfMemory);
                        prop_assert!(zone.buddyinfo()[order as usize..].iter().all(|&n| n == 0));
                    }
                },
                Op::Free(i) => if let Some((pfn, order)) = nth(i) {
                    zone.free_pages(pfn, order).unwrap();
                    blocks.remove(&pfn);
                    for p in pfn.0..pfn.0 + (1 << order) {
                        pages.remove(&p);
                    }
                    freed.push((pfn, order));
                },
                Op::DoubleFree(i) => if !freed.is_empty() {
                    let (pfn, order) = freed[i % freed.len()];
                    prop_assert_eq!(zone.free_pages(pfn, order), Err(FreeError::DoubleFree));
                },
                Op::FreeTail(i) => if let Some((pfn, order)) = nth(i) && order > 0 {
                    let tail = Pfn(pfn.0 + (1 << order) - 1);
                    prop_assert_eq!(zone.free_pages(tail, 0), Err(FreeError::NotBlockHead));
                },
                Op::FreeWrongOrder(i) => if let Some((pfn, order)) = nth(i) && order > 0 {
                    prop_assert_eq!(
                        zone.free_pages(pfn, order - 1),
                        Err(FreeError::WrongOrder { allocated: order })
                    );
                },
            }
            if !matches!(op, Op::Alloc(_) | Op::Free(_)) {
                prop_assert_eq!(snapshot(&zone), before, "refused free changed the zone");
            }
            prop_assert_eq!(zone.nr_free_pages() + pages.len() as u64, zone.managed_pages());
            zone.check_invariants().map_err(TestCaseError::fail)?;
        }
        for (pfn, order) in blocks {
            zone.free_pages(pfn, order).unwrap();
        }
        prop_assert_eq!(snapshot(&zone), initial, "did not coalesce back");
    }
}
