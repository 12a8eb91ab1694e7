//! Storing, loading, freeing and compacting never touch the heap: a counting global
//! allocator watches this thread while the store works.

use mm::addr::PAGE_SIZE;
use mm::pagegen::{PageGen, PageMix};
use mm::zram::{Compressor, HostFrames, SwapSlot, ZramStore};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static WATCHING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to `System` unchanged; only counts on the watched thread.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if WATCHING.with(Cell::get) {
            ALLOCATIONS.with(|n| n.set(n.get() + 1));
        }
        // SAFETY: same contract as ours, passed through.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn store_load_free_compact_do_not_allocate() {
    const N: u32 = 256;
    let mut meta = vec![0u64; ZramStore::<HostFrames>::meta_words(N as usize)];
    let mut store = ZramStore::new(HostFrames::new(N as usize), &mut meta);
    let mut compressor = Box::new(Compressor::new());
    let generator = PageGen::new(11, PageMix::DEFAULT).unwrap();
    let mut page = [0u8; PAGE_SIZE];
    let mut out = [0u8; PAGE_SIZE];
    WATCHING.with(|w| w.set(true));
    for entry in 0..N {
        generator.fill(entry as u64, 0, &mut page);
        store
            .store(SwapSlot(entry), &compressor.compress(&page))
            .unwrap();
    }
    for entry in 0..N {
        store.load(SwapSlot(entry), &mut out).unwrap();
        if entry % 2 == 0 {
            store.free(SwapSlot(entry)).unwrap();
        }
    }
    store.compact();
    WATCHING.with(|w| w.set(false));
    assert_eq!(ALLOCATIONS.with(Cell::get), 0);
    assert!(generator.matches(1, 0, &{
        store.load(SwapSlot(1), &mut out).unwrap();
        out
    }));
}
