//! The reclaim policy driven by hand on one thread: kswapd balances a zone from below
//! `low` back to `high` with the right counters, an allocation below `min` stalls
//! into direct reclaim, and swapped-out pages come back byte for byte.
#![cfg(not(loom))]

use std::collections::HashSet;
use std::sync::atomic::AtomicU64;

use mm::addr::{PAGE_SIZE, Pfn, PhysRange};
use mm::frame::{Watermarks, Zone, ZoneConfig};
use mm::reclaim::policy::{
    CompressorQueue, LruKind, Mmu, Node, NodeLru, Queues, Reclaim, ReclaimConfig, ReclaimMode,
    Reclaimer, SwapIn, Ticket,
};
use mm::reclaim::swap::{SwapEntry, SwapMap};
use mm::ring::{Producer, Ring};
use mm::vmstat::{VmEvent, VmStat};
use mm::zram::{Compressor, FrameSource, ZramStore};
use spin::mutex::Mutex;
use spin::relax::Spin;

#[repr(C, align(4096))]
struct HostPage([u8; PAGE_SIZE]);

/// Every mapped page is old: the first scan reclaims it.
#[derive(Default)]
struct OldPages {
    mapped: HashSet<u64>,
    unmapped: Vec<(Pfn, SwapEntry)>,
}

impl Mmu for OldPages {
    fn test_and_clear_young(&mut self, _pfn: Pfn) -> bool {
        false
    }

    fn try_to_unmap(&mut self, pfn: Pfn, entry: SwapEntry) -> bool {
        let mapped = self.mapped.remove(&pfn.0);
        if mapped {
            self.unmapped.push((pfn, entry));
        }
        mapped
    }

    fn flush_tlb(&mut self) {}

    fn walk_young(&mut self, _young: &mut dyn FnMut(Pfn)) {
        // Every page is old: the walk finds none young.
    }
}

struct ZoneFrames<'a>(&'a Mutex<Node>);

// SAFETY: frames come from the test's zone over its own host buffer; the store is
// their only user until it frees them.
unsafe impl FrameSource for ZoneFrames<'_> {
    fn alloc_frame(&mut self) -> Option<Pfn> {
        self.0.lock().zone.alloc_pages(0).ok()
    }

    fn free_frame(&mut self, pfn: Pfn) {
        self.0.lock().zone.free_pages(pfn, 0).unwrap();
    }
}

fn page_byte(pfn: Pfn) -> u8 {
    // SAFETY: the test only passes frames it allocated and has not freed.
    unsafe { *pfn.page_address() }
}

/// A 1100-frame zone, its store and swap map, the policy over them in `config`, and a
/// reclaimer (every page old) counting into `vmstat`.
struct Fixture<'a> {
    node: &'a Mutex<Node>,
    swap: &'a SwapMap<'a>,
    reclaim: &'a Reclaim<'a, ZoneFrames<'a>, Spin>,
    marks: Watermarks,
    vmstat: &'a VmStat<1>,
    reclaimer: Reclaimer<'a, OldPages>,
}

fn with_policy(config: ReclaimConfig, test: impl FnOnce(Fixture<'_>)) {
    let mut ram: Vec<HostPage> = (0..1100).map(|_| HostPage([0; PAGE_SIZE])).collect();
    let range = PhysRange {
        base: ram.as_mut_ptr() as u64,
        size: (ram.len() * PAGE_SIZE) as u64,
    };
    // SAFETY: `ram` is ours and outlives the zone; only the zone hands out its frames.
    let zone = unsafe { Zone::new(&[range], ZoneConfig::default()) }.unwrap();
    let marks = zone.watermarks();
    let node = Mutex::new(Node {
        zone,
        lru: NodeLru::new(config.lru, 0),
    });
    let mut meta = vec![0u64; ZramStore::<ZoneFrames>::meta_words(2048)];
    let store = Mutex::new(ZramStore::new(ZoneFrames(&node), &mut meta));
    let words: Vec<AtomicU64> = (0..2048).map(|_| AtomicU64::new(0)).collect();
    let swap = SwapMap::new(&words).unwrap();
    let reclaim = Reclaim::new(&node, &store, &swap, config, test_clock_ns);
    let vmstat = VmStat::<1>::new();
    let mut compressor = Compressor::new();
    test(Fixture {
        node: &node,
        swap: &swap,
        reclaim: &reclaim,
        marks,
        vmstat: &vmstat,
        reclaimer: Reclaimer {
            mmu: OldPages::default(),
            compressor: &mut compressor,
            stat: vmstat.cpu(0).unwrap(),
            psi: None,
        },
    });
}

#[test]
fn reclaim_kswapd_balances_to_high_and_pages_come_back() {
    with_policy(ReclaimConfig::DEFAULT, kswapd_balances_then_pages_come_back);
}

#[test]
fn reclaim_kswapd_balances_to_high_and_pages_come_back_with_mglru() {
    with_policy(
        ReclaimConfig {
            lru: LruKind::Mglru,
            ..ReclaimConfig::DEFAULT
        },
        kswapd_balances_then_pages_come_back,
    );
}

fn kswapd_balances_then_pages_come_back(f: Fixture<'_>) {
    let Fixture {
        node,
        swap,
        reclaim,
        marks,
        vmstat,
        mut reclaimer,
    } = f;

    // Fill memory down to `min`, each page marked with its number; kswapd is woken
    // below `low`.
    let mut woken = 0;
    let mut pages = Vec::new();
    while node.lock().zone.nr_free_pages() > marks.min + 1 {
        let pfn = reclaim
            .alloc_page(&mut reclaimer, &mut || woken += 1, &mut || {})
            .unwrap();
        // SAFETY: a frame just allocated for us.
        unsafe { *pfn.page_address() = pages.len() as u8 };
        reclaimer.mmu.mapped.insert(pfn.0);
        reclaim.lru_add_new(pfn);
        pages.push(pfn);
    }
    assert!(woken > 0, "nobody woke kswapd below low");

    let mut no_rings: [Producer<'_, Ticket, 1>; 0] = [];
    let mut queues = Queues {
        producers: &mut no_rings,
        queues: &[],
        wake: |_: usize| unreachable!("sync mode queues nothing"),
    };
    assert!(reclaim.balance_pgdat(&mut reclaimer, &mut queues));
    assert!(node.lock().zone.nr_free_pages() >= marks.high);
    assert!(reclaim.kswapd_try_to_sleep(true));
    let stat = vmstat.snapshot();
    let stolen = stat.get(VmEvent::PgStealKswapd);
    assert!(stolen > 0);
    assert_eq!(stat.get(VmEvent::PgStealAnon), stolen);
    assert_eq!(stat.get(VmEvent::PswpOut), stolen);
    assert!(stat.get(VmEvent::PgScanKswapd) >= stolen);
    assert_eq!(stat.get(VmEvent::PageOutRun), 1);
    assert_eq!(stat.get(VmEvent::AllocStall), 0);
    assert_eq!(swap.in_use() as u64, stolen);

    // Below `min` an allocation reclaims for itself.
    while node.lock().zone.nr_free_pages() > marks.min {
        let pfn = reclaim
            .alloc_page(&mut reclaimer, &mut || {}, &mut || {})
            .unwrap();
        reclaimer.mmu.mapped.insert(pfn.0);
        reclaim.lru_add_new(pfn);
    }
    reclaim
        .alloc_page(&mut reclaimer, &mut || {}, &mut || {})
        .unwrap();
    let stat = vmstat.snapshot();
    assert_eq!(stat.get(VmEvent::AllocStall), 1);
    assert!(stat.get(VmEvent::PgStealDirect) > 0);
    assert!(stat.get(VmEvent::PgScanDirect) > 0);

    // Every page reclaimed by kswapd comes back with its byte.
    let unmapped = std::mem::take(&mut reclaimer.mmu.unmapped);
    for &(old, entry) in unmapped.iter().take(stolen as usize) {
        let index = pages.iter().position(|&p| p == old).unwrap() as u8;
        let mut mapped_at = None;
        let outcome = reclaim
            .do_swap_page(&mut reclaimer, entry, &mut || {}, &mut || {}, &mut |pfn| {
                mapped_at = Some(pfn)
            })
            .unwrap();
        let SwapIn::Loaded(new) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(mapped_at, Some(new));
        assert_eq!(page_byte(new), index);
    }
    assert_eq!(vmstat.snapshot().get(VmEvent::PswpIn), stolen);
}

#[test]
fn ring_size_caps_what_kswapd_queues() {
    with_policy(
        ReclaimConfig {
            mode: ReclaimMode::Async,
            ring_size: 8,
            ..ReclaimConfig::DEFAULT
        },
        kswapd_queues_at_most_ring_size,
    );
}

fn kswapd_queues_at_most_ring_size(f: Fixture<'_>) {
    let Fixture {
        node,
        reclaim,
        marks,
        vmstat,
        mut reclaimer,
        ..
    } = f;
    let ring_size = reclaim.config().ring_size;
    while node.lock().zone.nr_free_pages() > marks.min + 1 {
        let pfn = reclaim
            .alloc_page(&mut reclaimer, &mut || {}, &mut || {})
            .unwrap();
        reclaimer.mmu.mapped.insert(pfn.0);
        reclaim.lru_add_new(pfn);
    }
    // A ring of 64 slots with nobody popping: kswapd may fill only `ring_size` of
    // them and must compress the rest itself (ring_full=new).
    let ring = Ring::<Ticket, 64>::new();
    let (producer, consumer) = ring.split().unwrap();
    let mut producers = [producer];
    let compressors = [CompressorQueue::<Spin, 64>::new(consumer)];
    let mut wakeups = 0;
    let mut queues = Queues {
        producers: &mut producers,
        queues: &compressors,
        wake: |_: usize| wakeups += 1,
    };
    assert!(reclaim.balance_pgdat(&mut reclaimer, &mut queues));
    assert_eq!(producers[0].len(), ring_size);
    let stat = vmstat.snapshot();
    assert_eq!(stat.get(VmEvent::KcompressdQueued), ring_size as u64);
    assert!(stat.get(VmEvent::KcompressdRingFull) > 0);
    assert_eq!(
        stat.get(VmEvent::PswpOut) + ring_size as u64,
        reclaimer.mmu.unmapped.len() as u64
    );
    assert_eq!(reclaim.in_flight(), ring_size);
    // The worker finishes what was queued.
    let mut worker = Compressor::new();
    assert_eq!(
        reclaim.kcompressd_run(&compressors[0], &mut worker, vmstat.cpu(0).unwrap()),
        ring_size
    );
    assert_eq!(reclaim.in_flight(), 0);
    assert_eq!(
        vmstat.snapshot().get(VmEvent::PswpOut),
        reclaimer.mmu.unmapped.len() as u64
    );
}

/// The policy's clock in these tests: it stands still (nothing here is timed).
fn test_clock_ns() -> u64 {
    0
}
