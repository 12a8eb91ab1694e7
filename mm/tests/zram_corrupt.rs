//! Damaged slots load as `Corrupt`, never as a panic or wrong data: bits flipped in the
//! compressed bytes (arena) or in the slot metadata, one at a time and at random.
#![forbid(unsafe_code)]

use mm::addr::PAGE_SIZE;
use mm::pagegen::{PageKind, fill_page};
use mm::zram::{
    Compressor, HostFrames, LoadError, SLOT_BYTES, SLOT_CHECKSUM_OFFSET, StoreError, SwapSlot,
    ZramStore,
};
use proptest::prelude::*;

fn page_of(kind: PageKind, key: u64) -> [u8; PAGE_SIZE] {
    let mut page = [0u8; PAGE_SIZE];
    fill_page(kind, key, &mut page);
    page
}

fn load(store: &mut ZramStore<'_, HostFrames>, entry: u32) -> Result<[u8; PAGE_SIZE], LoadError> {
    let mut page = [0u8; PAGE_SIZE];
    store.load(SwapSlot(entry), &mut page).map(|()| page)
}

#[test]
fn every_bit_flip_in_an_object_is_caught() {
    for kind in [PageKind::Text, PageKind::Structured, PageKind::Random] {
        let mut meta = vec![0u64; ZramStore::<HostFrames>::meta_words(4)];
        let mut store = ZramStore::new(HostFrames::new(8), &mut meta);
        let page = page_of(kind, 7);
        store
            .store(SwapSlot(1), &Compressor::new().compress(&page))
            .unwrap();
        // The only object sits at the start of the first frame the source handed out.
        let len = store.mm_stat().compr_data_size as usize;
        let start = store.frames().held_offsets().next().unwrap();
        for byte in start..start + len {
            for bit in 0..8 {
                store.frames_mut().arena_mut()[byte] ^= 1 << bit;
                assert_eq!(
                    load(&mut store, 1),
                    Err(LoadError::Corrupt),
                    "{kind:?} byte {byte} bit {bit}"
                );
                store.frames_mut().arena_mut()[byte] ^= 1 << bit;
            }
        }
        assert_eq!(load(&mut store, 1).unwrap(), page);
    }
}

#[test]
fn every_bit_flip_in_slot_metadata_is_caught() {
    for kind in PageKind::ALL {
        let mut meta = vec![0u64; ZramStore::<HostFrames>::meta_words(4)];
        let mut store = ZramStore::new(HostFrames::new(8), &mut meta);
        let page = page_of(kind, 3);
        store
            .store(SwapSlot(2), &Compressor::new().compress(&page))
            .unwrap();
        for byte in 2 * SLOT_BYTES..3 * SLOT_BYTES {
            for bit in 0..8 {
                store.slot_table_bytes_mut()[byte] ^= 1 << bit;
                assert_eq!(
                    load(&mut store, 2),
                    Err(LoadError::Corrupt),
                    "{kind:?} byte {byte} bit {bit}"
                );
                store.slot_table_bytes_mut()[byte] ^= 1 << bit;
            }
        }
        assert_eq!(load(&mut store, 2).unwrap(), page);
        // An empty slot damaged into something else is corrupt too, not empty.
        store.slot_table_bytes_mut()[SLOT_BYTES] ^= 1;
        assert_eq!(load(&mut store, 1), Err(LoadError::Corrupt));
    }
}

#[test]
fn a_corrupt_slot_is_freed_without_harming_others() {
    let mut meta = vec![0u64; ZramStore::<HostFrames>::meta_words(4)];
    let mut store = ZramStore::new(HostFrames::new(8), &mut meta);
    let mut compressor = Compressor::new();
    // The same page twice: two objects of one class, indices 0 and 1 of one zspage.
    let page = page_of(PageKind::Text, 1);
    for entry in 0..2 {
        store
            .store(SwapSlot(entry), &compressor.compress(&page))
            .unwrap();
    }
    // Point slot 0's handle at slot 1's object (object index 0 -> 1, little-endian).
    store.slot_table_bytes_mut()[0] ^= 1;
    // Identical bytes there: the load is exact, which is all a load promises.
    assert!(load(&mut store, 0).unwrap() == page);
    // Freeing it releases slot 1's object, which then reads as corrupt, never as garbage.
    assert_eq!(store.free(SwapSlot(0)), Ok(()));
    assert_eq!(load(&mut store, 1).err(), Some(LoadError::Corrupt));
    assert_eq!(store.free(SwapSlot(1)), Err(LoadError::Corrupt));
    // Slot 0's object leaked (its zspage stays); the store goes on working.
    assert!(store.mm_stat().mem_used_total > 0);
    store
        .store(SwapSlot(1), &compressor.compress(&page))
        .unwrap();
    assert!(load(&mut store, 1).unwrap() == page);
}

#[derive(Clone, Debug)]
enum Damage {
    /// XOR a byte of a frame the store holds (index into the held frames, offset, mask).
    Arena(usize, usize, u8),
    /// XOR a byte of the slot table outside the checksums (a checksum rewritten to match
    /// rewritten data is a forgery no checksum can catch).
    Slot(usize, u8),
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_damage_loads_exact_or_corrupt(
        pages in prop::collection::vec((prop::sample::select(PageKind::ALL.to_vec()), any::<u64>()), 1..32),
        damage in prop::collection::vec(
            prop_oneof![
                (any::<usize>(), 0..PAGE_SIZE, 1..=255u8).prop_map(|(f, o, m)| Damage::Arena(f, o, m)),
                (any::<usize>(), 1..=255u8).prop_map(|(b, m)| Damage::Slot(b, m)),
            ],
            1..16,
        ),
    ) {
        let slots = pages.len();
        let mut meta = vec![0u64; ZramStore::<HostFrames>::meta_words(slots)];
        let mut store = ZramStore::new(HostFrames::new(slots * 5), &mut meta);
        let mut compressor = Compressor::new();
        let pages: Vec<_> = pages.iter().map(|(kind, key)| page_of(*kind, *key)).collect();
        for (entry, page) in pages.iter().enumerate() {
            store.store(SwapSlot(entry as u32), &compressor.compress(page)).unwrap();
        }
        for d in damage {
            match d {
                Damage::Arena(frame, offset, mask) => {
                    let held: Vec<usize> = store.frames().held_offsets().collect();
                    if let Some(start) = held.get(frame % held.len().max(1)) {
                        store.frames_mut().arena_mut()[start + offset] ^= mask;
                    }
                }
                Damage::Slot(byte, mask) => {
                    let table = store.slot_table_bytes_mut();
                    let byte = byte % table.len();
                    let in_checksum = (SLOT_CHECKSUM_OFFSET..SLOT_CHECKSUM_OFFSET + 4).contains(&(byte % SLOT_BYTES));
                    if !in_checksum {
                        table[byte] ^= mask;
                    }
                }
            }
        }
        for (entry, page) in pages.iter().enumerate() {
            match load(&mut store, entry as u32) {
                Ok(loaded) => prop_assert!(loaded == *page, "wrong data for entry {}", entry),
                Err(e) => prop_assert_eq!(e, LoadError::Corrupt),
            }
        }
        for entry in 0..slots {
            let _ = store.free(SwapSlot(entry as u32));
        }
        // Frees of damaged slots may leak objects (compaction takes back those in sparse
        // zspages): storing again works, or fails cleanly for want of memory.
        store.compact();
        match store.store(SwapSlot(0), &compressor.compress(&pages[0])) {
            Ok(()) => prop_assert!(load(&mut store, 0).unwrap() == pages[0]),
            Err(e) => prop_assert_eq!(e, StoreError::NoMemory),
        }
    }
}
