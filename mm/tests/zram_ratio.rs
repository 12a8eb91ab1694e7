//! The default page mix compresses like what zram sees on phones (lz4 ratio ~2.5-3), and
//! the store's real memory use stays close to the compressed size on it.
#![forbid(unsafe_code)]

use mm::addr::PAGE_SIZE;
use mm::pagegen::{PageGen, PageKind, PageMix};
use mm::zram::{Compressor, HostFrames, SwapSlot, ZramStore};

const PAGES: u32 = 4096;

#[test]
fn default_mix_ratio_and_overhead() {
    let generator = PageGen::new(0x5eed, PageMix::DEFAULT).unwrap();
    let mut meta = vec![0u64; ZramStore::<HostFrames>::meta_words(PAGES as usize)];
    let mut store = ZramStore::new(HostFrames::new(PAGES as usize), &mut meta);
    let mut compressor = Compressor::new();
    let mut page = [0u8; PAGE_SIZE];
    let mut per_kind = [(0u64, 0u64); 5];
    for index in 0..PAGES {
        let kind = generator.fill(index as u64, 0, &mut page);
        let compressed = compressor.compress(&page);
        let k = PageKind::ALL.iter().position(|x| *x == kind).unwrap();
        per_kind[k].0 += 1;
        per_kind[k].1 += compressed.compressed_len() as u64;
        store.store(SwapSlot(index), &compressed).unwrap();
    }
    for (kind, (pages, bytes)) in PageKind::ALL.iter().zip(per_kind) {
        if let Some(per_page) = bytes.checked_div(pages) {
            println!("{kind:?}: {pages} pages, {per_page} compressed bytes per page");
        }
    }
    let stat = store.mm_stat();
    let ratio = stat.orig_data_size as f64 / stat.compr_data_size as f64;
    let overhead = stat.mem_used_total as f64 / stat.compr_data_size as f64;
    println!("{stat:?}");
    println!(
        "default mix: compression ratio {ratio:.2}, mem_used_total / compr_data_size {overhead:.3}, \
         orig / mem_used_total {:.2}",
        stat.orig_data_size as f64 / stat.mem_used_total as f64
    );
    assert!((2.5..=3.0).contains(&ratio), "ratio {ratio:.2}");
    assert!(overhead < 1.1, "overhead {overhead:.3}");
    assert!(stat.same_pages > 0 && stat.huge_pages > 0);
}
