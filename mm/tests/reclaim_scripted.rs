//! The reclaim policy on one thread over a scripted page table that decides which pages are
//! young and which cannot be unmapped and logs every `Mmu` call: second chance, kswapd's priority
//! descent to the hopeless-node sleep, both ring-full orders and direct reclaim, asserted exactly.
#![cfg(not(loom))]

// The zone is 128 frames with min/low/high = 16/20/24 pages. The compressed store takes
// its frames from a separate host arena (`HostFrames`), not from the zone as the harness
// and the kernel do, so that the zone's free count moves only by what reclaim frees and
// the test allocates: every number below is exact whatever the pages compress to.
// Tracing is on for this test binary; each test thread records its own events.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Once;
use std::sync::atomic::{AtomicU16, AtomicU64};

use mm::addr::{PAGE_SIZE, Pfn, PhysRange};
use mm::frame::{Watermarks, Zone, ZoneConfig};
use mm::page::PageFlags;
use mm::psi::PsiGroup;
use mm::reclaim::policy::{
    CompressorQueue, LruKind, MAX_RECLAIM_RETRIES, Mmu, Node, NodeLru, OutOfMemory, Queues,
    Reclaim, ReclaimConfig, ReclaimMode, Reclaimer, RingFull, SwapIn, Ticket,
};
use mm::reclaim::swap::{SwapEntry, SwapMap, SwapState};
use mm::ring::{Producer, Ring};
use mm::trace::{self, Event};
use mm::vmstat::{VmEvent, VmStat};
use mm::zram::{Compressor, HostFrames, ZramStore};
use spin::mutex::Mutex;
use spin::relax::Spin;

// ---- the scripted page table ----

/// One `Mmu` call, by page number, in the order the policy made it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Call {
    /// `test_and_clear_young` on the page, and its answer.
    Young(usize, bool),
    /// `try_to_unmap` of the page, and whether it succeeded.
    Unmap(usize, bool),
    Flush,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Pte {
    Present(Pfn),
    Swapped(SwapEntry),
}

/// A single-threaded page table whose access flags and unmap failures the test sets.
#[derive(Default)]
struct ScriptedMmu {
    /// One PTE per page, page `i` at index `i`.
    ptes: Vec<Pte>,
    /// Which page each mapped frame holds.
    rmap: HashMap<Pfn, usize>,
    /// How many more times `test_and_clear_young` finds the page young (`u32::MAX`:
    /// always, a page in constant use).
    accesses: HashMap<usize, u32>,
    /// Pages `try_to_unmap` refuses (in use right now, as a live TLB entry would be).
    pinned: HashSet<usize>,
    log: Vec<Call>,
}

impl ScriptedMmu {
    fn map(&mut self, page: usize, pfn: Pfn) {
        if page == self.ptes.len() {
            self.ptes.push(Pte::Present(pfn));
        } else {
            self.ptes[page] = Pte::Present(pfn);
        }
        assert_eq!(self.rmap.insert(pfn, page), None, "{pfn:?} mapped twice");
    }

    /// The page is accessed `times` more times before reclaim's next looks at it.
    fn touch(&mut self, page: usize, times: u32) {
        *self.accesses.entry(page).or_insert(0) += times;
    }

    /// The page is accessed all the time: young at every look.
    fn hot(&mut self, page: usize) {
        self.accesses.insert(page, u32::MAX);
    }

    fn page_of(&self, pfn: Pfn) -> usize {
        let page = *self
            .rmap
            .get(&pfn)
            .unwrap_or_else(|| panic!("reclaim asked about {pfn:?}, which nothing maps"));
        assert_eq!(self.ptes[page], Pte::Present(pfn));
        page
    }

    fn take_log(&mut self) -> Vec<Call> {
        std::mem::take(&mut self.log)
    }
}

impl Mmu for ScriptedMmu {
    fn test_and_clear_young(&mut self, pfn: Pfn) -> bool {
        let page = self.page_of(pfn);
        let young = match self.accesses.get_mut(&page) {
            Some(n) if *n > 0 => {
                if *n != u32::MAX {
                    *n -= 1;
                }
                true
            }
            _ => false,
        };
        self.log.push(Call::Young(page, young));
        young
    }

    fn try_to_unmap(&mut self, pfn: Pfn, entry: SwapEntry) -> bool {
        let page = self.page_of(pfn);
        let unmapped = !self.pinned.contains(&page);
        if unmapped {
            self.ptes[page] = Pte::Swapped(entry);
            self.rmap.remove(&pfn);
        }
        self.log.push(Call::Unmap(page, unmapped));
        unmapped
    }

    fn flush_tlb(&mut self) {
        self.log.push(Call::Flush);
        // A batch's work takes time: what a stall around it measures.
        CLOCK.with(|c| c.set(c.get() + MS));
    }

    /// Looks at every mapped page in page order, as `test_and_clear_young` does.
    fn walk_young(&mut self, young: &mut dyn FnMut(Pfn)) {
        let mapped: Vec<Pfn> = self
            .ptes
            .iter()
            .filter_map(|pte| match *pte {
                Pte::Present(pfn) => Some(pfn),
                Pte::Swapped(_) => None,
            })
            .collect();
        for pfn in mapped {
            if self.test_and_clear_young(pfn) {
                young(pfn);
            }
        }
    }
}

/// The expected log of one shrink batch over `pages` (oldest first): a look at each,
/// then an unmap of each one judged old (`unmap(page)`: whether it succeeds), then the
/// batch's one shootdown.
fn batch(
    pages: impl IntoIterator<Item = usize> + Clone,
    young: impl Fn(usize) -> bool,
    unmap: impl Fn(usize) -> bool,
) -> Vec<Call> {
    let mut calls: Vec<Call> = pages
        .clone()
        .into_iter()
        .map(|p| Call::Young(p, young(p)))
        .collect();
    calls.extend(
        pages
            .into_iter()
            .filter(|&p| !young(p))
            .map(|p| Call::Unmap(p, unmap(p))),
    );
    calls.push(Call::Flush);
    calls
}

/// Pages unmapped, in order.
fn evicted(log: &[Call]) -> Vec<usize> {
    log.iter()
        .filter_map(|c| match *c {
            Call::Unmap(page, true) => Some(page),
            _ => None,
        })
        .collect()
}

// ---- page contents ----

/// Page `page`'s bytes: compressible, not same-filled, different for every page.
fn byte(page: usize, i: usize) -> u8 {
    match i % 16 {
        0 => b'p',
        1 => page as u8,
        2 => (i / 16) as u8,
        n => b"..reclaimed..."[n - 2],
    }
}

fn fill(pfn: Pfn, page: usize) {
    // SAFETY: `pfn` is a zone frame the test just allocated and nobody else uses.
    let frame = unsafe { &mut *(pfn.page_address() as *mut [u8; PAGE_SIZE]) };
    for (i, b) in frame.iter_mut().enumerate() {
        *b = byte(page, i);
    }
}

fn assert_holds(pfn: Pfn, page: usize) {
    // SAFETY: `pfn` maps `page` and is allocated; no one writes it while we read.
    let frame = unsafe { &*(pfn.page_address() as *const [u8; PAGE_SIZE]) };
    let bad = (0..PAGE_SIZE).find(|&i| frame[i] != byte(page, i));
    assert_eq!(bad, None, "page {page} in {pfn:?} is corrupt");
}

// ---- trace events, per test thread ----

thread_local! {
    static EVENTS: RefCell<Vec<Event>> = const { RefCell::new(Vec::new()) };
}

fn record(event: Event) {
    EVENTS.with(|events| events.borrow_mut().push(event));
}

fn start_tracing() {
    static SINK: Once = Once::new();
    SINK.call_once(|| {
        trace::set_sink(record).unwrap();
        trace::set_enabled(true);
    });
    take_events();
}

fn take_events() -> Vec<Event> {
    EVENTS.with(|events| std::mem::take(&mut *events.borrow_mut()))
}

fn shrink(nr_scanned: u32, nr_reclaimed: u32, nr_activate: u32) -> Event {
    Event::LruShrinkInactive {
        nr_scanned,
        nr_reclaimed,
        nr_activate,
    }
}

// ---- the world: zone, LRU, store, swap map, policy ----

const MIN: u64 = 16;
const LOW: u64 = 20;
const HIGH: u64 = 24;
/// Frames of the zone's buffer: one holds the memmap, 128 are managed.
const FRAMES: usize = 129;
const SLOTS: usize = 256;

#[repr(C, align(4096))]
struct HostPage([u8; PAGE_SIZE]);

const SYNC: ReclaimConfig = ReclaimConfig {
    mode: ReclaimMode::Sync,
    ring_full: RingFull::New,
    ring_size: 2,
    lru: LruKind::Classic,
    min_ttl_ms: 0,
};

fn async_config(ring_full: RingFull) -> ReclaimConfig {
    ReclaimConfig {
        mode: ReclaimMode::Async,
        ring_full,
        ring_size: 2,
        lru: LruKind::Classic,
        min_ttl_ms: 0,
    }
}

struct World<'a> {
    node: &'a Mutex<Node>,
    store: &'a Mutex<ZramStore<'a, HostFrames>>,
    swap: &'a SwapMap<'a>,
    reclaim: &'a Reclaim<'a, HostFrames, Spin>,
    vmstat: &'a VmStat<1>,
    /// The one CPU's memory PSI: the test's task runs on it from time 0.
    psi: &'a PsiGroup<1>,
    reclaimer: Reclaimer<'a, ScriptedMmu>,
    /// Frames the test holds to set the free count (off the LRU: not reclaimable).
    ballast: Vec<Pfn>,
}

/// What one `alloc_page` call did.
struct Alloc {
    result: Result<Pfn, OutOfMemory>,
    wakeups: u32,
    throttles: u32,
}

fn with_world(config: ReclaimConfig, test: impl FnOnce(&mut World<'_>)) {
    start_tracing();
    let mut ram: Vec<HostPage> = (0..FRAMES).map(|_| HostPage([0; PAGE_SIZE])).collect();
    let range = PhysRange {
        base: ram.as_mut_ptr() as u64,
        size: (ram.len() * PAGE_SIZE) as u64,
    };
    let cfg = ZoneConfig {
        min_free_kbytes: Some(MIN * 4),
        watermark_scale_factor: 10,
    };
    // SAFETY: `ram` is ours and outlives the zone (declared first, dropped last); only
    // the zone hands out its frames.
    let zone = unsafe { Zone::new(&[range], cfg) }.unwrap();
    assert_eq!(zone.managed_pages(), 128);
    assert_eq!(
        zone.watermarks(),
        Watermarks {
            min: MIN,
            low: LOW,
            high: HIGH
        }
    );
    let node = Mutex::new(Node {
        zone,
        lru: NodeLru::new(config.lru, test_clock_ns()),
    });
    let mut meta = vec![0u64; ZramStore::<HostFrames>::meta_words(SLOTS)];
    let store = Mutex::new(ZramStore::new(HostFrames::new(128), &mut meta));
    let words: Vec<AtomicU64> = (0..SLOTS).map(|_| AtomicU64::new(0)).collect();
    let swap = SwapMap::new(&words).unwrap();
    let shadows: Vec<AtomicU16> = (0..SLOTS).map(|_| AtomicU16::new(0)).collect();
    let reclaim = Reclaim::new(&node, &store, &swap, config, test_clock_ns)
        .with_shadows(&shadows)
        .unwrap();
    let vmstat = VmStat::<1>::new();
    let psi = PsiGroup::<1>::new(0);
    psi.cpu(0).unwrap().task_start(0);
    let mut compressor = Compressor::new();
    let mut world = World {
        node: &node,
        store: &store,
        swap: &swap,
        reclaim: &reclaim,
        vmstat: &vmstat,
        psi: &psi,
        reclaimer: Reclaimer {
            mmu: ScriptedMmu::default(),
            compressor: &mut compressor,
            stat: vmstat.cpu(0).unwrap(),
            psi: psi.cpu(0),
        },
        ballast: Vec::new(),
    };
    test(&mut world);
    world.check_everything_came_back();
}

impl World<'_> {
    /// First touch of `n` new pages (numbered on from the last): allocated, filled,
    /// mapped, onto the inactive head. Page 0 is the oldest.
    fn fault_in(&mut self, n: usize) {
        for _ in 0..n {
            let page = self.reclaimer.mmu.ptes.len();
            let pfn = self.node.lock().zone.alloc_pages(0).unwrap();
            fill(pfn, page);
            self.reclaimer.mmu.map(page, pfn);
            self.reclaim.lru_add_new(pfn);
        }
    }

    /// Allocates or frees ballast until exactly `target` frames are free.
    fn set_free(&mut self, target: u64) {
        let mut node = self.node.lock();
        while node.zone.nr_free_pages() > target {
            self.ballast.push(node.zone.alloc_pages(0).unwrap());
        }
        while node.zone.nr_free_pages() < target {
            let pfn = self.ballast.pop().expect("not enough ballast to free");
            node.zone.free_pages(pfn, 0).unwrap();
        }
    }

    fn free(&self) -> u64 {
        self.node.lock().zone.nr_free_pages()
    }

    /// (inactive, active) list sizes.
    fn lru(&self) -> (u64, u64) {
        let node = self.node.lock();
        (node.lru.nr_inactive_anon(), node.lru.nr_active_anon())
    }

    fn stat(&self, event: VmEvent) -> u64 {
        self.vmstat.read(event)
    }

    /// The CPU's memory stall so far (`some` total), ns.
    fn stall_ns(&self) -> u64 {
        self.psi.update(test_clock_ns()).some.total_ns
    }

    fn flags(&self, page: usize) -> PageFlags {
        let Pte::Present(pfn) = self.reclaimer.mmu.ptes[page] else {
            panic!("page {page} is not mapped");
        };
        self.node.lock().zone.page(pfn).unwrap().flags()
    }

    fn swap_state(&self, page: usize) -> SwapState {
        let Pte::Swapped(entry) = self.reclaimer.mmu.ptes[page] else {
            panic!("page {page} is not swapped out");
        };
        self.swap.state(entry).unwrap()
    }

    fn stored(&self, page: usize) -> bool {
        let Pte::Swapped(entry) = self.reclaimer.mmu.ptes[page] else {
            panic!("page {page} is not swapped out");
        };
        self.store.lock().contains(entry.slot())
    }

    /// One allocation, counting kswapd wake-ups and throttles (`throttle` runs for each).
    fn alloc_with(&mut self, throttle: &mut dyn FnMut()) -> Alloc {
        let (mut wakeups, mut throttles) = (0, 0);
        let result =
            self.reclaim
                .alloc_page(&mut self.reclaimer, &mut || wakeups += 1, &mut || {
                    throttles += 1;
                    throttle();
                });
        // The caller keeps the frame; it joins the ballast.
        if let Ok(pfn) = result {
            self.ballast.push(pfn);
        }
        Alloc {
            result,
            wakeups,
            throttles,
        }
    }

    fn alloc(&mut self) -> Alloc {
        self.alloc_with(&mut || {})
    }

    /// kswapd's `balance_pgdat` in sync mode (no rings).
    fn kswapd(&mut self) -> bool {
        let mut no_rings: [Producer<'_, Ticket, 1>; 0] = [];
        let mut queues = Queues {
            producers: &mut no_rings,
            queues: &[],
            wake: |_: usize| unreachable!("sync mode queues nothing"),
        };
        self.reclaim.balance_pgdat(&mut self.reclaimer, &mut queues)
    }

    /// The fault on a swapped-out page: `do_swap_page`, then the PTE maps the frame it
    /// returned, which must hold the page's bytes.
    fn swap_in(&mut self, page: usize) -> SwapIn {
        let Pte::Swapped(entry) = self.reclaimer.mmu.ptes[page] else {
            panic!("page {page} is not swapped out");
        };
        let mut mapped = None;
        let outcome = self
            .reclaim
            .do_swap_page(
                &mut self.reclaimer,
                entry,
                &mut || {},
                &mut || panic!("one thread: nothing to wait for"),
                &mut |pfn| mapped = Some(pfn),
            )
            .unwrap();
        let (SwapIn::Loaded(pfn) | SwapIn::Rescued(pfn)) = outcome else {
            panic!("page {page}: {outcome:?}");
        };
        assert_eq!(mapped, Some(pfn));
        assert_holds(pfn, page);
        self.reclaimer.mmu.map(page, pfn);
        outcome
    }

    /// Frees the ballast, then swaps in every page that is out, in page order.
    fn swap_in_all(&mut self) -> Vec<(usize, SwapIn)> {
        self.set_free(self.free() + self.ballast.len() as u64);
        (0..self.reclaimer.mmu.ptes.len())
            .filter(|&p| matches!(self.reclaimer.mmu.ptes[p], Pte::Swapped(_)))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|p| (p, self.swap_in(p)))
            .collect()
    }

    /// At the end of every test: every page is mapped with its bytes, nothing is left in
    /// swap, the store or a ring, and the lists and the zone are consistent.
    fn check_everything_came_back(&self) {
        let mmu = &self.reclaimer.mmu;
        for (page, pte) in mmu.ptes.iter().enumerate() {
            let Pte::Present(pfn) = *pte else {
                panic!("page {page} never came back: {pte:?}");
            };
            assert_holds(pfn, page);
        }
        assert_eq!(self.swap.in_use(), 0);
        assert_eq!(self.reclaim.in_flight(), 0);
        assert_eq!(self.store.lock().mm_stat().orig_data_size, 0);
        let node = self.node.lock();
        node.lru.check_invariants(&node.zone).unwrap();
        node.zone.check_invariants().unwrap();
        assert_eq!(
            node.lru.nr_inactive_anon() + node.lru.nr_active_anon(),
            mmu.ptes.len() as u64,
            "every page is back on the LRU"
        );
    }
}

// ---- second chance ----

#[test]
fn second_chance_evicts_untouched_pages_first_rotates_young_ones_and_activates_pages_young_twice() {
    with_world(SYNC, |w| {
        // Pages 0..8, 0 the oldest. 0 and 3 are touched once, 5 twice; the rest never.
        w.fault_in(8);
        w.reclaimer.mmu.touch(0, 1);
        w.reclaimer.mmu.touch(3, 1);
        w.reclaimer.mmu.touch(5, 2);
        w.set_free(MIN);

        // At `min` the allocation reclaims for itself: direct reclaim wants 32 pages, more
        // than the LRU holds, so it scans the list until it is empty.
        let alloc = w.alloc();
        assert!(alloc.result.is_ok());
        let young = |p| [0, 3, 5].contains(&p);
        let mut expected = Vec::new();
        // First look, oldest first: the untouched go; 0, 3 and 5 were young, so they get
        // PG_referenced and rotate to the inactive head (FOLIOREF_KEEP).
        expected.extend(batch(0..8, young, |_| true));
        // Second look at the rotated three: 0 and 3 are old now and go (their
        // PG_referenced is cleared); 5 is young again with PG_referenced set: activated.
        expected.extend(batch([0, 3, 5], |p| p == 5, |_| true));
        // The inactive list is empty, below the active one: 5 is deactivated (its access
        // flag cleared, still old), isolated again, and goes at its third look.
        expected.push(Call::Young(5, false));
        expected.extend(batch([5], |_| false, |_| true));
        // Nothing left: one empty batch ends priority 12 and one each priority 11..=0
        // (each still flushes the TLB).
        expected.extend([Call::Flush; 13]);
        let log = w.reclaimer.mmu.take_log();
        assert_eq!(log, expected);
        assert_eq!(evicted(&log), [1, 2, 4, 6, 7, 0, 3, 5]);
        assert_eq!(
            take_events(),
            [
                Event::DirectReclaimBegin,
                shrink(8, 5, 0),
                shrink(3, 2, 1),
                Event::LruShrinkActive {
                    nr_taken: 1,
                    nr_deactivated: 1
                },
                shrink(1, 1, 0),
                Event::DirectReclaimEnd { nr_reclaimed: 8 },
            ]
        );
        for (event, n) in [
            (VmEvent::AllocStall, 1),
            (VmEvent::PgScanDirect, 12),
            (VmEvent::PgScanAnon, 12),
            (VmEvent::PgStealDirect, 8),
            (VmEvent::PgStealAnon, 8),
            (VmEvent::PswpOut, 8),
            (VmEvent::PgActivate, 1),
            (VmEvent::PgRefill, 1),
            (VmEvent::PgDeactivate, 1),
            (VmEvent::PgScanKswapd, 0),
            (VmEvent::PgAllocNormal, 1),
        ] {
            assert_eq!(w.stat(event), n, "{}", event.name());
        }
        // Woken once (kswapd is not running); the retry found 24 free, above low.
        assert_eq!((alloc.wakeups, alloc.throttles), (1, 0));
        assert_eq!(w.free(), MIN + 8 - 1);
        assert_eq!(w.lru(), (0, 0));

        let back = w.swap_in_all();
        assert!(back.iter().all(|(_, s)| matches!(s, SwapIn::Loaded(_))));
        assert_eq!(w.stat(VmEvent::PswpIn), 8);
        assert_eq!(w.lru(), (8, 0));
    });
}

// ---- priority descent, the hopeless node, recovery ----

#[test]
fn kswapd_descends_every_priority_when_nothing_is_reclaimable_then_sleeps_and_recovers_once_pages_are_old()
 {
    with_world(SYNC, |w| {
        // 64 pages: the even ones in constant use, the odd ones impossible to unmap.
        w.fault_in(64);
        for page in (0..64).step_by(2) {
            w.reclaimer.mmu.hot(page);
            w.reclaimer.mmu.pinned.insert(page + 1);
        }
        // An allocation between low and min succeeds and wakes kswapd.
        w.set_free(LOW - 1);
        let alloc = w.alloc();
        assert!(alloc.result.is_ok());
        assert_eq!(alloc.wakeups, 1);
        assert_eq!(w.free(), LOW - 2);

        // Each pass scans inactive >> priority: nothing at 12..=7 (64 >> 7 == 0), then
        // 1, 2, 4, 8, 16, 32 pages at priorities 6..=1, one batch each, the list
        // rotating (every page kept goes back to the inactive head). Young pages are
        // kept with PG_referenced, old ones fail to unmap; nothing is reclaimed, so the
        // priority falls after every pass and kswapd gives up after priority 1.
        assert!(!w.kswapd());
        let hot = |p: usize| p.is_multiple_of(2);
        let passes = [0..1, 1..3, 3..7, 7..15, 15..31, 31..63];
        let expected: Vec<Call> = passes
            .iter()
            .flat_map(|r: &Range<usize>| batch(r.clone(), hot, |_| false))
            .collect();
        assert_eq!(w.reclaimer.mmu.take_log(), expected);
        assert_eq!(take_events(), [1, 2, 4, 8, 16, 32].map(|n| shrink(n, 0, 0)));
        assert_eq!(w.stat(VmEvent::PageOutRun), 1);
        assert_eq!(w.stat(VmEvent::PgScanKswapd), 63);
        assert_eq!(w.stat(VmEvent::PgStealKswapd), 0);
        // Each page was looked at once at most: the young ones were not activated.
        assert_eq!(w.stat(VmEvent::PgActivate), 0);
        assert_eq!(w.lru(), (64, 0));
        for page in 0..64 {
            let referenced = w.flags(page).contains(PageFlags::REFERENCED);
            assert_eq!(referenced, hot(page), "page {page}");
        }
        // Every swap entry taken for an unmap that failed was given back.
        assert_eq!(w.swap.in_use(), 0);

        // The hopeless node: kswapd sleeps although the zone is below low...
        assert!(w.reclaim.kswapd_try_to_sleep(false));
        // ...until the next allocation below low wakes it again (Linux would not wake
        // it: after MAX_RECLAIM_RETRIES failed runs, wakeup_kswapd leaves a hopeless node
        // to direct reclaim).
        let alloc = w.alloc();
        assert!(alloc.result.is_ok());
        assert_eq!(alloc.wakeups, 1);
        assert_eq!(w.free(), LOW - 3);

        // Where the run left the pages, tail first: 63 (never looked at), then each
        // batch's pages put back at the head, the young ones first (right after their
        // look) and the ones that failed to unmap after them (with the batch's frees).
        let order: Vec<usize> = std::iter::once(63)
            .chain(passes.iter().flat_map(|r| {
                let (young, old): (Vec<usize>, Vec<usize>) = r.clone().partition(|&p| hot(p));
                young.into_iter().chain(old)
            }))
            .collect();
        assert_eq!(order[..8], [63, 0, 2, 1, 4, 6, 3, 5]);

        // Pages go quiet and can be unmapped: the next run reclaims from the tail: 1
        // page at priority 6, 1 at 5 (63 >> 5), 3 at 4 (62 >> 4), then 7 at 3 (59 >> 3)
        // reach high (7 frames were missing); the young pages' PG_referenced alone
        // does not save them.
        w.reclaimer.mmu.accesses.clear();
        w.reclaimer.mmu.pinned.clear();
        assert!(w.kswapd());
        let log = w.reclaimer.mmu.take_log();
        let expected: Vec<Call> = [0..1, 1..2, 2..5, 5..12]
            .into_iter()
            .flat_map(|r| batch(order[r].iter().copied(), |_| false, |_| true))
            .collect();
        assert_eq!(log, expected);
        assert_eq!(evicted(&log), order[..12]);
        assert_eq!(
            take_events(),
            [
                shrink(1, 1, 0),
                shrink(1, 1, 0),
                shrink(3, 3, 0),
                shrink(7, 7, 0)
            ]
        );
        assert_eq!(w.free(), LOW - 3 + 12);
        assert_eq!(w.stat(VmEvent::PageOutRun), 2);
        assert_eq!(w.stat(VmEvent::PgScanKswapd), 63 + 12);
        assert_eq!(w.stat(VmEvent::PgStealKswapd), 12);
        assert_eq!(w.stat(VmEvent::PswpOut), 12);
        assert_eq!(w.stat(VmEvent::AllocStall), 0);
        assert!(w.reclaim.kswapd_try_to_sleep(true));
        assert_eq!(w.lru(), (52, 0));

        let back = w.swap_in_all();
        assert_eq!(back.len(), 12);
        assert_eq!(w.stat(VmEvent::PswpIn), 12);
    });
}

#[test]
fn kswapd_that_reclaimed_but_missed_high_at_every_priority_reports_failure_and_sleeps_below_low() {
    with_world(SYNC, |w| {
        // 8 old pages, 12 pages short of high: more than one run can scan (8 >> 3,
        // 7 >> 2, 6 >> 1 = 1 + 1 + 3 pages).
        w.fault_in(8);
        w.set_free(HIGH - 12);
        assert!(!w.kswapd());
        let log = w.reclaimer.mmu.take_log();
        assert_eq!(evicted(&log), [0, 1, 2, 3, 4]);
        assert_eq!(
            take_events(),
            [shrink(1, 1, 0), shrink(1, 1, 0), shrink(3, 3, 0)]
        );
        assert_eq!(w.stat(VmEvent::PgStealKswapd), 5);
        assert_eq!(w.free(), HIGH - 7);
        assert!(w.free() < LOW);
        // It made progress, yet it sleeps below low as after a run that reclaimed
        // nothing (Linux counts kswapd_failures only for runs that reclaim nothing, and
        // runs balance_pgdat again while the node is unbalanced); the next allocation
        // wakes it.
        assert!(w.reclaim.kswapd_try_to_sleep(false));
        let alloc = w.alloc();
        assert!(alloc.result.is_ok());
        assert_eq!(alloc.wakeups, 1);
        w.swap_in_all();
    });
}

// ---- the ring-full orders ----

/// 64 old pages, 3 frames short of high, one kcompressd worker asleep on a ring of 2
/// that nobody drains: kswapd queues page 0 (priority 6) and page 1 (priority 5), then
/// the batch of pages 2, 3, 4 (priority 4) finds the ring full three times and its
/// three frames bring the zone to high. Checks what both orders share, runs `then` (the
/// order's own checks, which swap every page back in), then lets the worker run.
fn kswapd_fills_a_ring_of_two(w: &mut World<'_>, then: impl FnOnce(&mut World<'_>)) {
    w.fault_in(64);
    w.set_free(HIGH - 3);
    let ring = Ring::<Ticket, 2>::new();
    let (producer, consumer) = ring.split().unwrap();
    let mut producers = [producer];
    let workers = [CompressorQueue::<Spin, 2>::new(consumer)];
    assert!(
        workers[0].prepare_to_wait(),
        "the worker sleeps on its empty ring"
    );
    let mut wakeups = Vec::new();
    let balanced = w.reclaim.balance_pgdat(
        &mut w.reclaimer,
        &mut Queues {
            producers: &mut producers,
            queues: &workers,
            wake: |i| wakeups.push(i),
        },
    );
    assert!(balanced);
    let log = w.reclaimer.mmu.take_log();
    let old = |_| false;
    let expected: Vec<Call> = [vec![0], vec![1], vec![2, 3, 4]]
        .into_iter()
        .flat_map(|pages| batch(pages, old, |_| true))
        .collect();
    assert_eq!(log, expected);
    // One wake-up for the first push; the worker has not run since, so none after.
    assert_eq!(wakeups, [0]);
    assert_eq!(w.stat(VmEvent::KcompressdWakeup), 1);
    assert_eq!(w.stat(VmEvent::KcompressdRingFull), 3);
    // Three pages stored by kswapd itself; two still queued, their frames in use.
    assert_eq!(w.stat(VmEvent::PswpOut), 3);
    assert_eq!(w.stat(VmEvent::PgStealKswapd), 3);
    assert_eq!(w.free(), HIGH);
    assert_eq!(workers[0].len(), 2);
    assert_eq!(w.reclaim.in_flight(), 2);
    assert_eq!(w.lru(), (59, 0));

    then(w);

    // Faults took the queued pages back: the worker finds both tickets stale.
    let mut worker = Compressor::new();
    let stat = w.vmstat.cpu(0).unwrap();
    assert_eq!(w.reclaim.kcompressd_run(&workers[0], &mut worker, stat), 2);
    assert_eq!(
        take_events(),
        [Event::KcompressdCompressDone { nr_pages: 2 }]
    );
    assert_eq!(w.reclaim.in_flight(), 0);
    assert_eq!(w.stat(VmEvent::PswpOut), 3);
    assert_eq!(w.stat(VmEvent::PgStealKswapd), 3);
    assert_eq!(w.reclaim.race_stats().rescued, 2);
    assert_eq!(w.stat(VmEvent::PswpIn), 3);
}

/// Where each of pages 0..5 is after the run: stored by kswapd, or queued (its frame
/// still holding it, in writeback).
fn assert_stored(w: &World<'_>, stored: [usize; 3], queued: [usize; 2]) {
    for page in stored {
        assert_eq!(w.swap_state(page), SwapState::Stored, "page {page}");
        assert!(w.stored(page), "page {page}");
    }
    for page in queued {
        assert!(
            matches!(w.swap_state(page), SwapState::Writeback(_)),
            "page {page}"
        );
        assert!(!w.stored(page), "page {page}");
    }
}

#[test]
fn ring_full_new_compresses_the_page_that_did_not_fit_and_leaves_the_queued_ones_waiting() {
    with_world(async_config(RingFull::New), |w| {
        kswapd_fills_a_ring_of_two(w, |w| {
            assert_eq!(
                take_events(),
                [
                    Event::KcompressdEnqueue { nr_pages: 1 },
                    shrink(1, 1, 0),
                    Event::KcompressdEnqueue { nr_pages: 1 },
                    shrink(1, 1, 0),
                    Event::KcompressdRingFull { nr_pages: 3 },
                    shrink(3, 3, 0),
                ]
            );
            assert_eq!(w.stat(VmEvent::KcompressdQueued), 2);
            // The oldest victims wait in the ring; the newest went to the store.
            assert_stored(w, [2, 3, 4], [0, 1]);
            let back = w.swap_in_all();
            assert!(matches!(
                back[..],
                [
                    (0, SwapIn::Rescued(_)),
                    (1, SwapIn::Rescued(_)),
                    (2, SwapIn::Loaded(_)),
                    (3, SwapIn::Loaded(_)),
                    (4, SwapIn::Loaded(_)),
                ]
            ));
            take_events();
        });
    });
}

#[test]
fn ring_full_oldest_compresses_the_oldest_queued_page_and_queues_the_new_one() {
    with_world(async_config(RingFull::Oldest), |w| {
        kswapd_fills_a_ring_of_two(w, |w| {
            // Page 2 takes page 0's place, 3 takes 1's, 4 takes 2's: pages reach the
            // store in eviction order. The batch reclaimed 3 pages (2 queued, 1 stored
            // on its way through the ring); pages 0 and 1 were counted when queued.
            assert_eq!(
                take_events(),
                [
                    Event::KcompressdEnqueue { nr_pages: 1 },
                    shrink(1, 1, 0),
                    Event::KcompressdEnqueue { nr_pages: 1 },
                    shrink(1, 1, 0),
                    Event::KcompressdEnqueue { nr_pages: 3 },
                    Event::KcompressdRingFull { nr_pages: 3 },
                    shrink(3, 3, 0),
                ]
            );
            // Every victim went through the ring.
            assert_eq!(w.stat(VmEvent::KcompressdQueued), 5);
            // The newest victims wait in the ring; the oldest went to the store.
            assert_stored(w, [0, 1, 2], [3, 4]);
            let back = w.swap_in_all();
            assert!(matches!(
                back[..],
                [
                    (0, SwapIn::Loaded(_)),
                    (1, SwapIn::Loaded(_)),
                    (2, SwapIn::Loaded(_)),
                    (3, SwapIn::Rescued(_)),
                    (4, SwapIn::Rescued(_)),
                ]
            ));
            take_events();
        });
    });
}

// ---- direct reclaim ----

#[test]
fn an_allocation_below_min_with_kswapd_asleep_reclaims_one_batch_itself_and_gets_a_frame() {
    with_world(SYNC, |w| {
        w.fault_in(64);
        w.set_free(MIN);
        let alloc = w.alloc();
        let pfn = alloc.result.unwrap();
        // Priority 12 asks for max(64 >> 12, 32) pages: one batch of the 32 oldest,
        // compressed by the caller, is enough.
        let log = w.reclaimer.mmu.take_log();
        assert_eq!(log, batch(0..32, |_| false, |_| true));
        assert_eq!(
            take_events(),
            [
                Event::DirectReclaimBegin,
                shrink(32, 32, 0),
                Event::DirectReclaimEnd { nr_reclaimed: 32 },
            ]
        );
        for (event, n) in [
            (VmEvent::AllocStall, 1),
            (VmEvent::PgScanDirect, 32),
            (VmEvent::PgStealDirect, 32),
            (VmEvent::PgStealAnon, 32),
            (VmEvent::PswpOut, 32),
            (VmEvent::PgScanKswapd, 0),
            (VmEvent::PgStealKswapd, 0),
            (VmEvent::PageOutRun, 0),
            (VmEvent::PgAllocNormal, 1),
        ] {
            assert_eq!(w.stat(event), n, "{}", event.name());
        }
        assert_eq!((alloc.wakeups, alloc.throttles), (1, 0));
        // Direct reclaim is a memstall: its one batch (1 ms) and the two clock reads.
        assert_eq!(w.stall_ns(), MS + 1);
        assert_eq!(w.free(), MIN + 32 - 1);
        assert_eq!(w.lru(), (32, 0));
        // The frame is the caller's: allocated, on no list.
        let flags = w.node.lock().zone.page(pfn).unwrap().flags();
        assert_eq!(flags, PageFlags::ALLOCATED);

        let back = w.swap_in_all();
        assert_eq!(back.len(), 32);
        assert_eq!(w.stat(VmEvent::PswpIn), 32);
        // Each swap-in (decompression) is a memstall of 1 ns here.
        assert_eq!(w.stall_ns(), MS + 1 + 32);
    });
}

#[test]
fn an_allocation_fails_with_out_of_memory_after_max_reclaim_retries_rounds_that_reclaim_nothing() {
    with_world(SYNC, |w| {
        w.fault_in(64);
        w.reclaimer.mmu.pinned.extend(0..64);
        w.set_free(MIN);
        let alloc = w.alloc();
        assert_eq!(alloc.result, Err(OutOfMemory));
        let rounds = u64::from(MAX_RECLAIM_RETRIES);
        assert_eq!(rounds, 16);
        // Each round scans max(64 >> priority, 32) pages at priorities 12..=1 and 64 at
        // priority 0 (two batches): 12 * 32 + 64 pages in 14 batches, none unmapped.
        let log = w.reclaimer.mmu.take_log();
        let count = |f: fn(&Call) -> bool| log.iter().filter(|c| f(c)).count() as u64;
        assert_eq!(count(|c| matches!(c, Call::Young(_, false))), rounds * 448);
        assert_eq!(count(|c| matches!(c, Call::Unmap(_, false))), rounds * 448);
        assert_eq!(count(|c| *c == Call::Flush), rounds * 14);
        assert_eq!(log.len() as u64, rounds * (2 * 448 + 14));
        let mut round = vec![Event::DirectReclaimBegin];
        round.extend([shrink(32, 0, 0); 14]);
        round.push(Event::DirectReclaimEnd { nr_reclaimed: 0 });
        assert_eq!(take_events(), round.repeat(rounds as usize));
        assert_eq!(w.stat(VmEvent::AllocStall), rounds);
        assert_eq!(w.stat(VmEvent::PgScanDirect), rounds * 448);
        assert_eq!(w.stat(VmEvent::PgStealDirect), 0);
        assert_eq!(w.stat(VmEvent::PswpOut), 0);
        assert_eq!(w.stat(VmEvent::PgAllocNormal), 0);
        // Every round woke kswapd; nothing was in flight, so nothing to wait for.
        assert_eq!((alloc.wakeups, alloc.throttles), (16, 0));
        // Every round was a memstall: 14 batches of 1 ms and two clock reads each.
        assert_eq!(w.stall_ns(), rounds * (14 * MS + 1));
        assert_eq!(w.free(), MIN);
        assert_eq!(w.lru(), (64, 0));
        assert_eq!(w.swap.in_use(), 0);
        w.reclaimer.mmu.pinned.clear();
    });
}

#[test]
fn direct_reclaim_that_finds_nothing_waits_for_queued_pages_instead_of_failing() {
    with_world(async_config(RingFull::New), |w| {
        // kswapd queues pages 0 and 1 (priorities 6 and 5); every other page is pinned,
        // so the run fails at `min` and kswapd sleeps with two pages in the ring.
        w.fault_in(64);
        w.reclaimer.mmu.pinned.extend(2..64);
        w.set_free(MIN);
        let ring = Ring::<Ticket, 2>::new();
        let (producer, consumer) = ring.split().unwrap();
        let mut producers = [producer];
        let workers = [CompressorQueue::<Spin, 2>::new(consumer)];
        let balanced = w.reclaim.balance_pgdat(
            &mut w.reclaimer,
            &mut Queues {
                producers: &mut producers,
                queues: &workers,
                wake: |_| {},
            },
        );
        assert!(!balanced);
        assert!(w.reclaim.kswapd_try_to_sleep(false));
        // 1 + 1 + 62 >> 4 + 62 >> 3 + 62 >> 2 + 62 >> 1 pages scanned at priorities 6..=1.
        assert_eq!(w.stat(VmEvent::PgScanKswapd), 58);
        assert_eq!(evicted(&w.reclaimer.mmu.take_log()), [0, 1]);
        assert_eq!(w.reclaim.in_flight(), 2);
        take_events();
        // kswapd's reclaim is no stall of the workload's CPU.
        assert_eq!(w.stall_ns(), 0);

        // The allocation's direct reclaim finds nothing, but two pages are in flight:
        // it throttles (here: the worker runs and frees their frames) instead of
        // counting a failed round, and the retry allocates above min.
        let reclaim = w.reclaim;
        let stat = w.vmstat.cpu(0).unwrap();
        let mut worker = Compressor::new();
        let alloc = w.alloc_with(&mut || {
            assert_eq!(reclaim.kcompressd_run(&workers[0], &mut worker, stat), 2);
            CLOCK.with(|c| c.set(c.get() + 10 * MS));
        });
        assert!(alloc.result.is_ok());
        assert_eq!(alloc.throttles, 1);
        // Woken by both tries (both below low).
        assert_eq!(alloc.wakeups, 2);
        // One round over the 62 pinned pages: 12 * 32 at priorities 12..=1, 62 at 0.
        assert_eq!(w.stat(VmEvent::AllocStall), 1);
        assert_eq!(w.stat(VmEvent::PgScanDirect), 12 * 32 + 62);
        assert_eq!(w.stat(VmEvent::PgStealDirect), 0);
        // The worker's frames count as kswapd's reclaim.
        assert_eq!(w.stat(VmEvent::PgStealKswapd), 2);
        assert_eq!(w.stat(VmEvent::PswpOut), 2);
        assert_eq!(w.reclaim.in_flight(), 0);
        assert_eq!(w.free(), MIN + 2 - 1);
        let events = take_events();
        assert_eq!(
            events.last(),
            Some(&Event::KcompressdCompressDone { nr_pages: 2 })
        );
        assert_eq!(
            events[events.len() - 2],
            Event::DirectReclaimEnd { nr_reclaimed: 0 }
        );
        // Both are memstalls: the round's 14 batches, then the 10 ms throttle (two
        // clock reads each).
        let flushes = w
            .reclaimer
            .mmu
            .take_log()
            .iter()
            .filter(|c| **c == Call::Flush)
            .count();
        assert_eq!(flushes, 14);
        assert_eq!(w.stall_ns(), 14 * MS + 1 + 10 * MS + 1);
        w.reclaimer.mmu.pinned.clear();
        let back = w.swap_in_all();
        assert_eq!(back.len(), 2);
    });
}

// ---- the multi-gen LRU ----

const MGLRU: ReclaimConfig = ReclaimConfig {
    lru: LruKind::Mglru,
    ..SYNC
};

/// (seq, pages) of every generation, oldest first.
fn generations(w: &World<'_>) -> Vec<(u64, u64)> {
    let node = w.node.lock();
    let lru_gen = node.lru.lru_gen().expect("lru=mglru");
    lru_gen.generations().map(|g| (g.seq, g.nr_pages)).collect()
}

/// The aging walk's log: a look at every mapped page, in page order.
fn walk(pages: impl IntoIterator<Item = usize>, young: impl Fn(usize) -> bool) -> Vec<Call> {
    pages
        .into_iter()
        .map(|p| Call::Young(p, young(p)))
        .collect()
}

#[test]
fn mglru_evicts_the_oldest_generation_first_and_ages_whenever_only_two_are_left() {
    with_world(MGLRU, |w| {
        // Pages 0..40 join generation max_seq - 1 = 2; 5 is touched once, 7 twice.
        w.fault_in(40);
        w.reclaimer.mmu.touch(5, 1);
        w.reclaimer.mmu.touch(7, 2);
        w.set_free(MIN);
        w.alloc().result.unwrap();
        // Only generations 2 and 3 are left (0 and 1 are empty): the walk runs first
        // and moves 5 and 7 to generation 3, opening 4; then the 32 oldest of
        // generation 2 are evicted.
        let victims: Vec<usize> = (0..40).filter(|&p| p != 5 && p != 7).take(32).collect();
        let mut want = walk(0..40, |p| p == 5 || p == 7);
        want.extend(batch(victims, |_| false, |_| true));
        assert_eq!(w.reclaimer.mmu.take_log(), want);
        assert_eq!(generations(w), [(2, 6), (3, 2), (4, 0)]);
        assert_eq!(w.lru(), (6, 2));
        assert_eq!(w.stat(VmEvent::PgStealDirect), 32);

        // The next reclaim empties generation 2; with only 3 and 4 left it walks
        // again (7 is young once more), evicts 5 from generation 3, walks once more
        // and evicts 7. Then nothing is left: every priority finds nothing.
        w.set_free(MIN);
        w.alloc().result.unwrap();
        let mut want = batch(34..40, |_| false, |_| true);
        want.extend(walk([5, 7], |p| p == 7));
        want.extend(batch([5], |_| false, |_| true));
        want.extend(walk([7], |_| false));
        want.extend(batch([7], |_| false, |_| true));
        want.extend([Call::Flush; 13]);
        assert_eq!(w.reclaimer.mmu.take_log(), want);
        assert_eq!(generations(w), [(5, 0), (6, 0)]);
        assert_eq!(w.stat(VmEvent::PgStealDirect), 40);
        assert_eq!(w.stat(VmEvent::PgActivate), 0);
        assert_eq!(w.swap_in_all().len(), 40);
    });
}

#[test]
fn mglru_promotes_a_page_found_young_at_eviction_to_the_youngest_generation() {
    with_world(MGLRU, |w| {
        w.fault_in(72);
        w.set_free(MIN);
        w.alloc().result.unwrap();
        let mut want = walk(0..72, |_| false);
        want.extend(batch(0..32, |_| false, |_| true));
        assert_eq!(w.reclaimer.mmu.take_log(), want);
        assert_eq!(generations(w), [(2, 40), (3, 0), (4, 0)]);

        // Page 33, in the oldest generation, is touched after the walk: eviction's
        // look at it finds it young and promotes it to the youngest generation with a
        // ref; the rest of generation 2 goes (priority 12 takes 31, priority 11 the
        // last 8, reaching 32), and with it generation 2.
        w.reclaimer.mmu.touch(33, 1);
        w.set_free(MIN);
        w.alloc().result.unwrap();
        let mut want = batch(32..64, |p| p == 33, |_| true);
        want.extend(batch(64..72, |_| false, |_| true));
        assert_eq!(w.reclaimer.mmu.take_log(), want);
        assert_eq!(generations(w), [(3, 0), (4, 1)]);
        assert_eq!(w.lru(), (0, 1));
        assert_eq!(w.stat(VmEvent::PgActivate), 1);
        let flags = w.flags(33);
        assert_eq!(
            flags & (PageFlags::LRU_GEN | PageFlags::LRU_REFS),
            PageFlags::from_bits_retain(1 << 13),
            "generation 4 % 4 = 0, one ref"
        );

        // Only the pages evicted after generation 2 was retired (min_seq 3, the
        // last 8) have a recent shadow: their refaults count.
        assert_eq!(w.swap_in_all().len(), 71);
        assert_eq!(w.stat(VmEvent::WorkingsetRefaultAnon), 8);
    });
}

#[test]
fn mglru_min_ttl_keeps_kswapd_off_a_young_generation_but_not_direct_reclaim() {
    let config = ReclaimConfig {
        min_ttl_ms: 1000,
        ..MGLRU
    };
    with_world(config, |w| {
        w.fault_in(40);
        w.set_free(LOW - 1);
        // The clock stands still: the oldest generation is 0 ms old.
        assert!(!w.kswapd());
        assert_eq!(w.reclaim.min_ttl_unmet(), 1);
        assert_eq!(w.stat(VmEvent::PgScanKswapd), 0);
        assert_eq!(w.reclaimer.mmu.take_log(), []);
        w.set_free(MIN);
        w.alloc().result.unwrap();
        assert_eq!(w.stat(VmEvent::PgStealDirect), 32);
        assert_eq!(w.swap_in_all().len(), 32);
    });
}

#[test]
fn set_config_switches_an_empty_lru_and_refuses_a_busy_one() {
    with_world(SYNC, |w| {
        w.reclaim.set_config(MGLRU).unwrap();
        assert!(w.node.lock().lru.lru_gen().is_some());
        w.fault_in(1);
        assert_eq!(
            w.reclaim.set_config(SYNC).map_err(|busy| busy.nr_pages),
            Err(1)
        );
        assert_eq!(w.reclaim.config().lru, LruKind::Mglru);
        // Same kind: nothing to switch.
        w.reclaim.set_config(MGLRU).unwrap();
    });
}

const MS: u64 = 1_000_000;

thread_local! {
    /// The test thread's clock (each test runs on a thread of its own).
    static CLOCK: Cell<u64> = const { Cell::new(0) };
}

/// The policy's clock in these tests: each read moves it 1 ns, so a stall with nothing
/// in it lasts 1 ns; a TLB flush (a shrink batch) moves it 1 ms.
fn test_clock_ns() -> u64 {
    CLOCK.with(|c| {
        let now = c.get();
        c.set(now + 1);
        now
    })
}
