//! The anonymous LRU over a real zone: second chance on a simulated page table's
//! accessed bits, deactivation, refused operations, and a proptest model (two
//! deques, head at the front) checked after every random operation, together with
//! the lists' own invariants (one list per page, counts, links both ways, isolated
//! pages on no list).

mod frame_support;

use std::collections::{BTreeMap, VecDeque};

use frame_support::HostRam;
use mm::addr::{PAGE_SIZE, Pfn};
use mm::frame::{Zone, ZoneConfig};
use mm::lru::{FolioReferences, IsolatedBatch, Lru, LruError, LruList, SWAP_CLUSTER_MAX};
use mm::page::PageFlags;
use proptest::prelude::*;

const MIB: u64 = 1 << 20;

fn zone(ram: &HostRam) -> Zone {
    // SAFETY: the range is `ram`, which outlives the zone and serves no one else.
    unsafe { Zone::new(&[ram.range(0, 4 * MIB)], ZoneConfig::default()) }.expect("zone")
}

fn new_ram() -> HostRam {
    HostRam::new(4 * MIB as usize, PAGE_SIZE)
}

#[test]
fn second_chance_then_activation() {
    let ram = new_ram();
    let mut zone = zone(&ram);
    let mut lru = Lru::new();
    let pfn = zone.alloc_pages(0).unwrap();
    lru.add(&mut zone, pfn, LruList::InactiveAnon).unwrap();
    let flags = zone.page(pfn).unwrap().flags();
    assert!(flags.contains(PageFlags::LRU | PageFlags::SWAPBACKED));
    let mut batch = IsolatedBatch::new();

    // Referenced once: another round on the inactive list, PG_referenced set.
    assert_eq!(
        lru.isolate(&mut zone, LruList::InactiveAnon, 32, &mut batch),
        1
    );
    assert_eq!(batch.as_slice(), &[pfn]);
    assert!(
        zone.page(pfn)
            .unwrap()
            .flags()
            .contains(PageFlags::ISOLATED)
    );
    assert_eq!(lru.nr_inactive_anon(), 0);
    assert_eq!(
        lru.folio_check_references(&mut zone, pfn, true),
        Ok(FolioReferences::Keep)
    );
    lru.putback(&mut zone, pfn).unwrap();
    assert_eq!(lru.nr_inactive_anon(), 1);
    assert!(
        zone.page(pfn)
            .unwrap()
            .flags()
            .contains(PageFlags::REFERENCED)
    );

    // Referenced again: activated.
    batch.clear();
    lru.isolate(&mut zone, LruList::InactiveAnon, 32, &mut batch);
    assert_eq!(
        lru.folio_check_references(&mut zone, pfn, true),
        Ok(FolioReferences::Activate)
    );
    lru.putback(&mut zone, pfn).unwrap();
    assert_eq!((lru.nr_inactive_anon(), lru.nr_active_anon()), (0, 1));
    assert_eq!(lru.stats().pgactivate, 1);

    // Aged off the active list, then not referenced: a reclaim candidate.
    let mut cleared = Vec::new();
    assert_eq!(
        lru.shrink_active_list(&mut zone, 32, |p| cleared.push(p)),
        1
    );
    assert_eq!(cleared, [pfn]);
    assert_eq!((lru.nr_inactive_anon(), lru.nr_active_anon()), (1, 0));
    let stats = lru.stats();
    assert_eq!((stats.pgrefill, stats.pgdeactivate), (1, 1));
    batch.clear();
    lru.isolate(&mut zone, LruList::InactiveAnon, 32, &mut batch);
    // PG_referenced survived deactivation, but the PTE is not young: reclaim.
    assert_eq!(
        lru.folio_check_references(&mut zone, pfn, false),
        Ok(FolioReferences::Reclaim)
    );
    assert!(
        !zone
            .page(pfn)
            .unwrap()
            .flags()
            .contains(PageFlags::REFERENCED)
    );
    // Reclaim frees the isolated page.
    zone.free_pages(pfn, 0).unwrap();
    lru.check_invariants(&zone).unwrap();
}

#[test]
fn isolation_takes_the_oldest_in_batches_of_32() {
    let ram = new_ram();
    let mut zone = zone(&ram);
    let mut lru = Lru::new();
    let pages: Vec<Pfn> = (0..40).map(|_| zone.alloc_pages(0).unwrap()).collect();
    for &pfn in &pages {
        lru.add(&mut zone, pfn, LruList::InactiveAnon).unwrap();
    }
    let mut batch = IsolatedBatch::new();
    assert_eq!(
        lru.isolate(&mut zone, LruList::InactiveAnon, 100, &mut batch),
        SWAP_CLUSTER_MAX
    );
    assert_eq!(batch.as_slice(), &pages[..SWAP_CLUSTER_MAX]);
    assert_eq!(
        lru.isolate(&mut zone, LruList::InactiveAnon, 100, &mut batch),
        0,
        "batch full"
    );
    assert_eq!(lru.nr_inactive_anon(), 8);
    lru.check_invariants(&zone).unwrap();
}

#[test]
fn refused_operations() {
    let ram = new_ram();
    let mut zone = zone(&ram);
    let mut lru = Lru::new();
    let pfn = zone.alloc_pages(0).unwrap();
    let free = zone.alloc_pages(0).unwrap();
    zone.free_pages(free, 0).unwrap();
    let block = zone.alloc_pages(2).unwrap();
    assert_eq!(
        lru.add(&mut zone, free, LruList::InactiveAnon),
        Err(LruError::NotAllocated)
    );
    assert_eq!(
        lru.add(&mut zone, block, LruList::InactiveAnon),
        Err(LruError::NotAllocated)
    );
    assert_eq!(
        lru.add(&mut zone, Pfn(0), LruList::InactiveAnon),
        Err(LruError::NotInZone)
    );
    assert_eq!(lru.del(&mut zone, pfn), Err(LruError::NotOnLru));
    assert_eq!(lru.putback(&mut zone, pfn), Err(LruError::NotIsolated));
    lru.add(&mut zone, pfn, LruList::ActiveAnon).unwrap();
    assert_eq!(
        lru.add(&mut zone, pfn, LruList::InactiveAnon),
        Err(LruError::OnLru)
    );
    assert_eq!(
        lru.folio_check_references(&mut zone, pfn, true),
        Err(LruError::NotIsolated)
    );
    let mut batch = IsolatedBatch::new();
    lru.isolate(&mut zone, LruList::ActiveAnon, 1, &mut batch);
    assert_eq!(
        lru.add(&mut zone, pfn, LruList::InactiveAnon),
        Err(LruError::Isolated)
    );
    assert_eq!(lru.del(&mut zone, pfn), Err(LruError::Isolated));
    lru.putback(&mut zone, pfn).unwrap();
    assert_eq!(lru.nr_active_anon(), 1, "putback follows PG_active");
    lru.check_invariants(&zone).unwrap();
}

#[derive(Clone, Debug)]
enum Op {
    /// Fault in a page: allocate and add to a list (active = a hot refault).
    Fault(bool),
    /// The workload touches the i-th mapped page (sets the simulated PTE young bit).
    Touch(usize),
    /// Unmap the i-th page on a list and free it.
    Unmap(usize),
    /// Isolate up to n inactive pages and judge them; victims fail to be stored
    /// (put back) when `fail` says so, else they are freed.
    ShrinkInactive(usize, bool),
    /// Isolate up to n inactive pages and hold them (reclaim in progress).
    IsolateHold(usize),
    /// Put held pages back.
    PutbackHeld,
    ShrinkActive(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => any::<bool>().prop_map(Op::Fault),
        5 => any::<usize>().prop_map(Op::Touch),
        1 => any::<usize>().prop_map(Op::Unmap),
        2 => (0..40usize, any::<bool>()).prop_map(|(n, f)| Op::ShrinkInactive(n, f)),
        1 => (0..40usize).prop_map(Op::IsolateHold),
        1 => Just(Op::PutbackHeld),
        2 => (0..40usize).prop_map(Op::ShrinkActive),
    ]
}

/// What the model expects of each page.
#[derive(Default)]
struct Model {
    /// Head at the front.
    lists: [VecDeque<Pfn>; 2],
    held: Vec<Pfn>,
    referenced: BTreeMap<Pfn, bool>,
    young: BTreeMap<Pfn, bool>,
}

impl Model {
    fn list(&mut self, list: LruList) -> &mut VecDeque<Pfn> {
        &mut self.lists[list as usize]
    }

    fn mapped(&self) -> Vec<Pfn> {
        self.lists.iter().flatten().copied().collect()
    }

    /// Pops the model's oldest pages of a list, as `isolate` must.
    fn isolate(&mut self, list: LruList, n: usize) -> Vec<Pfn> {
        let n = n.min(SWAP_CLUSTER_MAX).min(self.list(list).len());
        (0..n)
            .map(|_| self.list(list).pop_back().unwrap())
            .collect()
    }

    fn test_and_clear_young(&mut self, pfn: Pfn) -> bool {
        self.young.insert(pfn, false).unwrap_or(false)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn lists_match_the_model(ops in prop::collection::vec(op(), 1..300)) {
        let ram = new_ram();
        let mut zone = zone(&ram);
        let mut lru = Lru::new();
        let mut m = Model::default();
        for op in ops {
            match op {
                Op::Fault(hot) => if let Ok(pfn) = zone.alloc_pages(0) {
                    let list = if hot { LruList::ActiveAnon } else { LruList::InactiveAnon };
                    lru.add(&mut zone, pfn, list).unwrap();
                    m.list(list).push_front(pfn);
                    m.referenced.insert(pfn, false);
                    m.young.insert(pfn, true);
                },
                Op::Touch(i) => {
                    let mapped = m.mapped();
                    if !mapped.is_empty() {
                        m.young.insert(mapped[i % mapped.len()], true);
                    }
                }
                Op::Unmap(i) => {
                    let mapped = m.mapped();
                    if !mapped.is_empty() {
                        let pfn = mapped[i % mapped.len()];
                        lru.del(&mut zone, pfn).unwrap();
                        zone.free_pages(pfn, 0).unwrap();
                        for list in &mut m.lists {
                            list.retain(|&p| p != pfn);
                        }
                    }
                }
                Op::ShrinkInactive(n, fail) => {
                    let expected = m.isolate(LruList::InactiveAnon, n);
                    let mut batch = IsolatedBatch::new();
                    lru.isolate(&mut zone, LruList::InactiveAnon, n, &mut batch);
                    prop_assert_eq!(batch.as_slice(), &expected[..]);
                    for &pfn in batch.as_slice() {
                        let young = m.test_and_clear_young(pfn);
                        let was_referenced = m.referenced[&pfn];
                        let verdict = lru.folio_check_references(&mut zone, pfn, young).unwrap();
                        let want = match (young, was_referenced) {
                            (false, _) => FolioReferences::Reclaim,
                            (true, false) => FolioReferences::Keep,
                            (true, true) => FolioReferences::Activate,
                        };
                        prop_assert_eq!(verdict, want);
                        m.referenced.insert(pfn, young);
                        match verdict {
                            FolioReferences::Activate => {
                                lru.putback(&mut zone, pfn).unwrap();
                                m.list(LruList::ActiveAnon).push_front(pfn);
                            }
                            FolioReferences::Keep => {
                                lru.putback(&mut zone, pfn).unwrap();
                                m.list(LruList::InactiveAnon).push_front(pfn);
                            }
                            FolioReferences::Reclaim if fail => {
                                lru.putback(&mut zone, pfn).unwrap();
                                m.list(LruList::InactiveAnon).push_front(pfn);
                            }
                            FolioReferences::Reclaim => zone.free_pages(pfn, 0).unwrap(),
                        }
                    }
                }
                Op::IsolateHold(n) => {
                    let mut batch = IsolatedBatch::new();
                    let expected = m.isolate(LruList::InactiveAnon, n);
                    lru.isolate(&mut zone, LruList::InactiveAnon, n, &mut batch);
                    prop_assert_eq!(batch.as_slice(), &expected[..]);
                    for &pfn in batch.as_slice() {
                        prop_assert_eq!(
                            zone.page(pfn).unwrap().flags() & (PageFlags::LRU | PageFlags::ISOLATED),
                            PageFlags::ISOLATED
                        );
                    }
                    m.held.extend(expected);
                }
                Op::PutbackHeld => {
                    for pfn in std::mem::take(&mut m.held) {
                        lru.putback(&mut zone, pfn).unwrap();
                        m.list(LruList::InactiveAnon).push_front(pfn);
                    }
                }
                Op::ShrinkActive(n) => {
                    let expected = m.isolate(LruList::ActiveAnon, n);
                    let mut cleared = Vec::new();
                    let done = lru.shrink_active_list(&mut zone, n, |p| cleared.push(p));
                    prop_assert_eq!(done, expected.len());
                    prop_assert_eq!(&cleared, &expected);
                    for pfn in expected {
                        m.young.insert(pfn, false);
                        m.list(LruList::InactiveAnon).push_front(pfn);
                    }
                }
            }
            lru.check_invariants(&zone).map_err(TestCaseError::fail)?;
            zone.check_invariants().map_err(TestCaseError::fail)?;
            prop_assert_eq!(lru.nr_inactive_anon(), m.lists[0].len() as u64);
            prop_assert_eq!(lru.nr_active_anon(), m.lists[1].len() as u64);
            for (list, pages) in [LruList::InactiveAnon, LruList::ActiveAnon].into_iter().zip(&m.lists) {
                for &pfn in pages {
                    let flags = zone.page(pfn).unwrap().flags();
                    prop_assert_eq!(flags.contains(PageFlags::ACTIVE), list == LruList::ActiveAnon);
                    prop_assert_eq!(flags.contains(PageFlags::REFERENCED), m.referenced[&pfn]);
                }
            }
            let on_lists = (m.lists[0].len() + m.lists[1].len() + m.held.len()) as u64;
            prop_assert_eq!(zone.nr_free_pages() + on_lists, zone.managed_pages());
        }
    }
}
