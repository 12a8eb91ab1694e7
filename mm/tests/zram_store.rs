//! The compressed store against a model: byte-exact round trips for every kind of page,
//! errors (slot in use, mem_limit, no frames) that leave it consistent, freeing and
//! compaction giving every frame back, and zram's counters.
#![forbid(unsafe_code)]

use mm::addr::PAGE_SIZE;
use mm::pagegen::{PageKind, fill_page};
use mm::zram::{Compressor, HostFrames, LoadError, StoreError, SwapSlot, ZramStore};
use proptest::prelude::*;
use std::collections::HashMap;

const SLOTS: usize = 64;

fn page_of(kind: PageKind, key: u64) -> [u8; PAGE_SIZE] {
    let mut page = [0u8; PAGE_SIZE];
    fill_page(kind, key, &mut page);
    page
}

fn kind_strategy() -> impl Strategy<Value = PageKind> {
    prop::sample::select(PageKind::ALL.to_vec())
}

fn store_page(
    store: &mut ZramStore<'_, HostFrames>,
    compressor: &mut Compressor,
    entry: u32,
    page: &[u8; PAGE_SIZE],
) -> Result<(), StoreError> {
    let compressed = compressor.compress(page);
    store.store(SwapSlot(entry), &compressed)
}

fn load_page(
    store: &mut ZramStore<'_, HostFrames>,
    entry: u32,
) -> Result<[u8; PAGE_SIZE], LoadError> {
    let mut page = [0u8; PAGE_SIZE];
    store.load(SwapSlot(entry), &mut page).map(|()| page)
}

/// Frames the store holds agree with what the source handed out.
fn assert_frames_agree(store: &ZramStore<'_, HostFrames>) {
    let stat = store.mm_stat();
    assert_eq!(
        stat.mem_used_total,
        (store.frames().outstanding() * PAGE_SIZE) as u64
    );
    assert!(stat.mem_used_max >= stat.mem_used_total);
}

#[test]
fn each_kind_round_trips_and_is_counted() {
    let mut meta = vec![0u64; ZramStore::<HostFrames>::meta_words(SLOTS)];
    let mut store = ZramStore::new(HostFrames::new(64), &mut meta);
    let mut compressor = Compressor::new();
    for (entry, kind) in PageKind::ALL.into_iter().enumerate() {
        let page = page_of(kind, 42);
        store_page(&mut store, &mut compressor, entry as u32, &page).unwrap();
        assert_eq!(
            load_page(&mut store, entry as u32).unwrap(),
            page,
            "{kind:?}"
        );
    }
    let stat = store.mm_stat();
    assert_eq!(stat.orig_data_size, 5 * PAGE_SIZE as u64);
    assert_eq!(stat.same_pages, 2);
    assert_eq!(stat.huge_pages, 1);
    assert_eq!(stat.num_writes, 5);
    assert_eq!(stat.num_reads, 5);
    assert!(stat.compr_data_size > PAGE_SIZE as u64 && stat.compr_data_size < 2 * PAGE_SIZE as u64);
    // Text and structured share no class here: one zspage each, plus the huge page's frame.
    assert!(stat.mem_used_total >= 3 * PAGE_SIZE as u64);
    assert_frames_agree(&store);
    for entry in 0..5 {
        store.free(SwapSlot(entry)).unwrap();
    }
    let stat = store.mm_stat();
    assert_eq!(
        (
            stat.orig_data_size,
            stat.compr_data_size,
            stat.mem_used_total
        ),
        (0, 0, 0)
    );
    assert_eq!(
        (stat.same_pages, stat.huge_pages, stat.huge_pages_since),
        (0, 0, 1)
    );
    assert_eq!(store.frames().outstanding(), 0);
}

#[test]
fn take_empties_the_slot_and_expands_outside_the_store() {
    let mut meta = vec![0u64; ZramStore::<HostFrames>::meta_words(SLOTS)];
    let mut store = ZramStore::new(HostFrames::new(64), &mut meta);
    let mut compressor = Compressor::new();
    for (entry, kind) in PageKind::ALL.into_iter().enumerate() {
        let page = page_of(kind, 7);
        store_page(&mut store, &mut compressor, entry as u32, &page).unwrap();
        let mut payload = [0u8; PAGE_SIZE];
        let taken = store.take(SwapSlot(entry as u32), &mut payload).unwrap();
        assert!(!store.contains(SwapSlot(entry as u32)), "{kind:?}");
        let mut out = [0u8; PAGE_SIZE];
        taken.expand(&payload, &mut out).unwrap();
        assert_eq!(out, page, "{kind:?}");
        // A bit flipped in the copied payload after the lock is caught too.
        if !matches!(kind, PageKind::Zero | PageKind::SameFilled) {
            payload[3] ^= 0x10;
            assert_eq!(taken.expand(&payload, &mut out), Err(LoadError::Corrupt));
        }
    }
    assert_eq!(
        store.take(SwapSlot(0), &mut [0u8; PAGE_SIZE]).err(),
        Some(LoadError::Empty)
    );
    let stat = store.mm_stat();
    assert_eq!((stat.num_reads, stat.failed_reads), (6, 1));
    assert_eq!((stat.orig_data_size, stat.mem_used_total), (0, 0));
    assert_eq!(store.frames().outstanding(), 0);
}

#[test]
fn slot_errors_are_reported() {
    let mut meta = vec![0u64; ZramStore::<HostFrames>::meta_words(4)];
    let mut store = ZramStore::new(HostFrames::new(8), &mut meta);
    let mut compressor = Compressor::new();
    let page = page_of(PageKind::Text, 1);
    assert_eq!(store.nr_slots(), 4);
    assert_eq!(
        store_page(&mut store, &mut compressor, 4, &page),
        Err(StoreError::OutOfRange)
    );
    store_page(&mut store, &mut compressor, 3, &page).unwrap();
    assert_eq!(
        store_page(&mut store, &mut compressor, 3, &page),
        Err(StoreError::SlotInUse)
    );
    assert_eq!(load_page(&mut store, 4), Err(LoadError::OutOfRange));
    assert_eq!(load_page(&mut store, 2), Err(LoadError::Empty));
    assert_eq!(store.free(SwapSlot(2)), Err(LoadError::Empty));
    assert!(store.contains(SwapSlot(3)) && !store.contains(SwapSlot(2)));
    let stat = store.mm_stat();
    assert_eq!((stat.failed_writes, stat.failed_reads), (2, 2));
    assert_eq!(load_page(&mut store, 3).unwrap(), page);
}

#[test]
fn mem_limit_and_exhaustion_fail_cleanly() {
    let mut meta = vec![0u64; ZramStore::<HostFrames>::meta_words(SLOTS)];
    let mut store = ZramStore::new(HostFrames::new(64), &mut meta);
    let mut compressor = Compressor::new();
    store.set_mem_limit(2 * PAGE_SIZE as u64);
    let mut stored = Vec::new();
    let failure = (0..SLOTS as u32).find_map(|entry| {
        let page = page_of(PageKind::Random, entry as u64);
        match store_page(&mut store, &mut compressor, entry, &page) {
            Ok(()) => {
                stored.push((entry, page));
                None
            }
            Err(e) => Some((entry, e)),
        }
    });
    assert_eq!(failure, Some((2, StoreError::MemLimit)));
    assert_eq!(store.mm_stat().mem_used_total, 2 * PAGE_SIZE as u64);
    assert_eq!(store.mm_stat().mem_limit, 2 * PAGE_SIZE as u64);
    // Same-filled pages need no memory: they still go in.
    store_page(&mut store, &mut compressor, 2, &page_of(PageKind::Zero, 0)).unwrap();
    assert!(!store.contains(SwapSlot(3)));

    // Past the limit, the frame source running dry is a different error.
    store.set_mem_limit(0);
    store.frames_mut().set_budget(Some(3));
    store_page(
        &mut store,
        &mut compressor,
        3,
        &page_of(PageKind::Random, 3),
    )
    .unwrap();
    // A new zspage for structured pages may need several frames: all are given back.
    let err = store_page(
        &mut store,
        &mut compressor,
        4,
        &page_of(PageKind::Structured, 4),
    );
    assert_eq!(err, Err(StoreError::NoMemory));
    assert_eq!(store.frames().outstanding(), 3);
    assert_frames_agree(&store);
    for (entry, page) in &stored {
        assert_eq!(load_page(&mut store, *entry).unwrap(), *page);
    }
    store.frames_mut().set_budget(None);
    store_page(
        &mut store,
        &mut compressor,
        4,
        &page_of(PageKind::Structured, 4),
    )
    .unwrap();
    assert_eq!(
        load_page(&mut store, 4).unwrap(),
        page_of(PageKind::Structured, 4)
    );
    assert_eq!(store.mm_stat().failed_writes, 2);
}

#[test]
fn compaction_frees_sparse_zspages() {
    const N: usize = 512;
    let mut meta = vec![0u64; ZramStore::<HostFrames>::meta_words(N)];
    let mut store = ZramStore::new(HostFrames::new(N), &mut meta);
    let mut compressor = Compressor::new();
    for entry in 0..N as u32 {
        store_page(
            &mut store,
            &mut compressor,
            entry,
            &page_of(PageKind::Text, entry as u64),
        )
        .unwrap();
    }
    let before = store.mm_stat().mem_used_total;
    // Free three objects out of four: every zspage is left a quarter full.
    for entry in (0..N as u32).filter(|e| e % 4 != 0) {
        store.free(SwapSlot(entry)).unwrap();
    }
    let sparse = store.mm_stat().mem_used_total;
    let freed = store.compact();
    let stat = store.mm_stat();
    println!(
        "compaction: {before} -> {sparse} bytes after frees -> {} after compacting {freed} frames",
        stat.mem_used_total
    );
    assert!(freed > 0);
    assert_eq!(stat.pages_compacted, freed as u64);
    assert_eq!(stat.mem_used_total, sparse - (freed * PAGE_SIZE) as u64);
    assert!(stat.mem_used_total <= before / 2);
    assert_frames_agree(&store);
    assert_eq!(store.compact(), 0, "nothing left to compact");
    for entry in (0..N as u32).filter(|e| e % 4 == 0) {
        assert_eq!(
            load_page(&mut store, entry).unwrap(),
            page_of(PageKind::Text, entry as u64)
        );
        store.free(SwapSlot(entry)).unwrap();
    }
    assert_eq!(store.mm_stat().mem_used_total, 0);
    assert_eq!(store.frames().outstanding(), 0);
}

#[derive(Clone, Debug)]
enum Op {
    Store(u32, PageKind, u64),
    Load(u32),
    Free(u32),
    Compact,
    Budget(Option<usize>),
    Limit(u64),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let entry = 0..SLOTS as u32;
    prop_oneof![
        6 => (entry.clone(), kind_strategy(), any::<u64>()).prop_map(|(e, k, key)| Op::Store(e, k, key)),
        3 => entry.clone().prop_map(Op::Load),
        3 => entry.prop_map(Op::Free),
        1 => Just(Op::Compact),
        1 => prop::option::of(0..24usize).prop_map(Op::Budget),
        1 => prop_oneof![Just(0u64), (1..24u64).prop_map(|f| f * PAGE_SIZE as u64)].prop_map(Op::Limit),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn every_kind_round_trips(pages in prop::collection::vec((kind_strategy(), any::<u64>()), 1..SLOTS)) {
        let mut meta = vec![0u64; ZramStore::<HostFrames>::meta_words(SLOTS)];
        let mut store = ZramStore::new(HostFrames::new(SLOTS), &mut meta);
        let mut compressor = Compressor::new();
        for (entry, (kind, key)) in pages.iter().enumerate() {
            store_page(&mut store, &mut compressor, entry as u32, &page_of(*kind, *key)).unwrap();
        }
        for (entry, (kind, key)) in pages.iter().enumerate() {
            prop_assert_eq!(load_page(&mut store, entry as u32).unwrap(), page_of(*kind, *key));
        }
        for entry in 0..pages.len() {
            store.free(SwapSlot(entry as u32)).unwrap();
        }
        store.compact();
        prop_assert_eq!(store.mm_stat().mem_used_total, 0);
        prop_assert_eq!(store.frames().outstanding(), 0);
    }

    #[test]
    fn operations_match_a_model(ops in prop::collection::vec(op_strategy(), 1..200)) {
        let mut meta = vec![0u64; ZramStore::<HostFrames>::meta_words(SLOTS)];
        let mut store = ZramStore::new(HostFrames::new(SLOTS * 2), &mut meta);
        let mut compressor = Compressor::new();
        let mut model: HashMap<u32, (PageKind, u64)> = HashMap::new();
        let mut limit = 0;
        for op in ops {
            match op {
                Op::Store(entry, kind, key) => {
                    let page = page_of(kind, key);
                    let needs_memory = !matches!(kind, PageKind::Zero | PageKind::SameFilled);
                    let frames_before = store.frames().outstanding();
                    match store_page(&mut store, &mut compressor, entry, &page) {
                        Ok(()) => {
                            prop_assert!(!model.contains_key(&entry));
                            model.insert(entry, (kind, key));
                        }
                        Err(StoreError::SlotInUse) => prop_assert!(model.contains_key(&entry)),
                        Err(StoreError::MemLimit) => {
                            prop_assert!(needs_memory && limit != 0);
                            prop_assert_eq!(store.frames().outstanding(), frames_before);
                        }
                        Err(StoreError::NoMemory) => {
                            prop_assert!(needs_memory);
                            prop_assert_eq!(store.frames().outstanding(), frames_before);
                        }
                        Err(e) => prop_assert!(false, "unexpected {:?}", e),
                    }
                }
                Op::Load(entry) => match model.get(&entry) {
                    Some((kind, key)) => prop_assert_eq!(load_page(&mut store, entry).unwrap(), page_of(*kind, *key)),
                    None => prop_assert_eq!(load_page(&mut store, entry), Err(LoadError::Empty)),
                },
                Op::Free(entry) => {
                    let expected = if model.remove(&entry).is_some() { Ok(()) } else { Err(LoadError::Empty) };
                    prop_assert_eq!(store.free(SwapSlot(entry)), expected);
                }
                Op::Compact => {
                    let before = store.mm_stat().mem_used_total;
                    let freed = store.compact();
                    prop_assert_eq!(store.mm_stat().mem_used_total, before - (freed * PAGE_SIZE) as u64);
                }
                Op::Budget(budget) => store.frames_mut().set_budget(budget),
                Op::Limit(bytes) => {
                    limit = bytes;
                    store.set_mem_limit(bytes);
                }
            }
            let stat = store.mm_stat();
            prop_assert_eq!(stat.orig_data_size, (model.len() * PAGE_SIZE) as u64);
            let same = model.values().filter(|(k, _)| matches!(k, PageKind::Zero | PageKind::SameFilled)).count();
            prop_assert_eq!(stat.same_pages, same as u64);
            let huge = model.values().filter(|(k, _)| *k == PageKind::Random).count();
            prop_assert_eq!(stat.huge_pages, huge as u64);
            assert_frames_agree(&store);
        }
        for (entry, (kind, key)) in &model {
            prop_assert_eq!(load_page(&mut store, *entry).unwrap(), page_of(*kind, *key));
            store.free(SwapSlot(*entry)).unwrap();
        }
        prop_assert_eq!(store.mm_stat().mem_used_total, 0);
        prop_assert_eq!(store.frames().outstanding(), 0);
    }
}
