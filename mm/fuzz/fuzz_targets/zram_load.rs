//! Loads from a compressed store whose arena and slot table were damaged by the input:
//! each load must give the exact page or `LoadError::Corrupt`, never a panic or wrong data.
//! Slot checksums are left alone (rewriting a checksum to match rewritten data is a
//! forgery no checksum catches); everything else in the slot table may be hit.
//! Run: cd mm/fuzz && cargo +nightly fuzz run zram_load -- -max_total_time=60 -max_len=256
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use mm::addr::PAGE_SIZE;
use mm::pagegen::{PageKind, fill_page};
use mm::zram::{
    Compressor, HostFrames, LoadError, SLOT_BYTES, SLOT_CHECKSUM_OFFSET, SwapSlot, ZramStore,
};
use std::sync::OnceLock;

const SLOTS: usize = 10;

/// The same pages every run (generated once: the sanitized build is slow), two of each
/// kind: zero, same-filled, text, structured, random.
fn pages() -> &'static [[u8; PAGE_SIZE]] {
    static PAGES: OnceLock<Vec<[u8; PAGE_SIZE]>> = OnceLock::new();
    PAGES.get_or_init(|| {
        (0..SLOTS)
            .map(|index| {
                let mut page = [0u8; PAGE_SIZE];
                fill_page(
                    PageKind::ALL[index % PageKind::ALL.len()],
                    index as u64,
                    &mut page,
                );
                page
            })
            .collect()
    })
}

fuzz_target!(|damage: &[u8]| {
    let mut meta = vec![0u64; ZramStore::<HostFrames>::meta_words(SLOTS)];
    let mut store = ZramStore::new(HostFrames::new(SLOTS * 4), &mut meta);
    let mut compressor = Compressor::new();
    for (entry, page) in pages().iter().enumerate() {
        store
            .store(SwapSlot(entry as u32), &compressor.compress(page))
            .unwrap();
    }
    // Each 4 bytes: where (arena or slot table, offset) and the XOR mask.
    for op in damage.chunks_exact(4) {
        let offset = u16::from_le_bytes([op[1], op[2]]) as usize;
        let mask = op[3];
        if op[0] & 1 == 0 {
            let held: Vec<usize> = store.frames().held_offsets().collect();
            if let Some(frame) = held.get((op[0] >> 1) as usize % held.len().max(1)) {
                store.frames_mut().arena_mut()[frame + offset % PAGE_SIZE] ^= mask;
            }
        } else {
            let table = store.slot_table_bytes_mut();
            let byte = offset % table.len();
            if !(SLOT_CHECKSUM_OFFSET..SLOT_CHECKSUM_OFFSET + 4).contains(&(byte % SLOT_BYTES)) {
                table[byte] ^= mask;
            }
        }
    }
    let mut loaded = [0u8; PAGE_SIZE];
    for entry in 0..SLOTS as u32 {
        match store.load(SwapSlot(entry), &mut loaded) {
            Ok(()) => assert!(
                loaded == pages()[entry as usize],
                "wrong data in slot {entry}"
            ),
            Err(e) => assert_eq!(e, LoadError::Corrupt),
        }
    }
    // Freeing damaged slots and compacting must not panic either.
    for entry in 0..SLOTS as u32 {
        let _ = store.free(SwapSlot(entry));
    }
    store.compact();
});
