//! How much RAM a reclaim run needs: reclaim's metadata lives on the kernel heap, a fixed
//! share of RAM, so a machine too small for a run is refused before anything is built,
//! naming the smallest `--mem` that would do, worked out from how this boot split its
//! RAM; and the smallest `bench_ram=` whose zone holds its watermarks and the store.
//! Pure arithmetic; the kernel's `run::prepare` and bench measure and ask.

use mm::frame::ZoneConfig;
use mm::frame::watermark::setup_per_zone_wmarks;

/// The heap is this fraction of usable RAM (1/16)...
pub const HEAP_SHARE: u64 = 16;
/// ...and at most this much.
pub const HEAP_MAX: u64 = 256 << 20;
const PAGE: u64 = 4096;
const MIB: u64 = 1 << 20;

/// Heap bytes a run's setup takes: per swap slot (a page of the workload region), per
/// frame of the zone's span (the reverse map), and once (rings, slack, what the caller
/// allocates next).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Costs {
    pub per_slot: u64,
    pub per_frame: u64,
    pub fixed: u64,
}

/// How this boot split its RAM, in bytes and frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    /// RAM, all of it (the DTB's memory nodes).
    pub ram: u64,
    /// The heap's size, and what of it is free now.
    pub heap: u64,
    pub heap_free: u64,
    /// What of the heap's used part is sized as a share of the heap (trace buffers);
    /// the rest of it is taken whatever the heap's size.
    pub heap_shared: u64,
    /// Frames from the zone's first managed frame to its last.
    pub frames: u64,
}

/// The anonymous memory a run asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anon {
    /// This many pages, whatever the RAM (`bench_anon=`, or twice `bench_ram=`).
    Pages(u64),
    /// This multiple of the RAM (`scenario=reclaim`: twice the RAM).
    RamTimes(u64),
}

impl Anon {
    /// Pages asked on a machine with `ram` bytes of RAM (saturating).
    pub fn pages(self, ram: u64) -> u64 {
        match self {
            Anon::Pages(pages) => pages,
            Anon::RamTimes(n) => (ram / PAGE).saturating_mul(n),
        }
    }
}

/// What a run's setup would take and have on one machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Need {
    /// Swap slots: the workload region's pages, at least twice the frames.
    pub slots: u64,
    pub frames: u64,
    /// Heap bytes the setup takes, and what would be free for it.
    pub bytes: u64,
    pub free: u64,
}

impl Need {
    pub fn fits(&self) -> bool {
        self.bytes <= self.free
    }
}

impl Split {
    /// The setup's need on this very machine.
    pub fn need(&self, costs: Costs, anon: Anon) -> Need {
        need(costs, anon, self.ram, self.frames, self.heap_free)
    }

    /// The need on a machine like this one but with `ram` bytes of RAM: the same kernel
    /// and reserved memory, so the same bytes of RAM outside the zone's span and outside
    /// the usable RAM the heap is a share of; the heap that share (up to `HEAP_MAX`),
    /// of which the same bytes are used but for `heap_shared`, used in proportion.
    /// `None` where `ram` cannot even hold the kernel.
    pub fn need_with_ram(&self, costs: Costs, anon: Anon, ram: u64) -> Option<Need> {
        let outside_span = self.ram.saturating_sub(self.frames.saturating_mul(PAGE));
        // The heap is a whole number of pages, at most a page below its share: this
        // overstates what lies outside the usable RAM by less than 16 pages.
        let outside_usable = if self.heap >= HEAP_MAX {
            outside_span
        } else {
            self.ram
                .saturating_sub(self.heap.saturating_mul(HEAP_SHARE))
        };
        let frames = ram.checked_sub(outside_span)? / PAGE;
        let heap = (ram.checked_sub(outside_usable)? / HEAP_SHARE).min(HEAP_MAX) / PAGE * PAGE;
        let used = self.heap.saturating_sub(self.heap_free);
        let shared_now = self.heap_shared.min(used);
        let shared = match self.heap {
            0 => 0,
            now => (u128::from(heap) * u128::from(shared_now)).div_ceil(u128::from(now)) as u64,
        };
        let free = heap.saturating_sub(used - shared_now + shared);
        Some(need(costs, anon, ram, frames, free))
    }

    /// The smallest RAM, in whole MiB above this machine's, on which the setup fits;
    /// `None` if none does (the heap stops growing at `HEAP_MAX`, and past it the need
    /// only grows).
    pub fn min_ram_mib(&self, costs: Costs, anon: Anon) -> Option<u64> {
        let first = self.ram / MIB + 1;
        // Past this the heap is at its largest: one more step shows the need outgrew it.
        let last = (self.ram + HEAP_MAX * HEAP_SHARE) / MIB + 1;
        (first..=last).find(|&mib| {
            self.need_with_ram(costs, anon, mib * MIB)
                .is_some_and(|n| n.fits())
        })
    }
}

/// Least frames the store takes per page of each kind, in thousandths of a frame, in
/// `mm::pagegen::PageKind::ALL` order: zero and same-filled pages take none, random
/// ones a whole frame, text and structured ones less than lz4 ever leaves of them
/// (mm's `zram_ratio` test measures 1569 and 1305 bytes of 4096).
const STORE_PER_MILLE: [u64; 5] = [0, 0, 350, 300, 1000];

/// The least frames the store needs for `pages` pages of `mix` (percentages in
/// `PageKind::ALL` order), rounded down.
pub fn store_frames_at_least(mix: [u8; 5], pages: u64) -> u64 {
    let per_100_000: u64 = mix
        .iter()
        .zip(STORE_PER_MILLE)
        .map(|(&pct, per_mille)| u64::from(pct) * per_mille)
        .sum();
    (u128::from(pages) * u128::from(per_100_000) / 100_000) as u64
}

/// A bench's zone of `ram_pages` free frames (plus `other` frames it manages but that
/// are not free, such as the region's tables) under `cfg`'s watermarks, with `anon`
/// pages of `mix` to reclaim into it.
#[derive(Clone, Copy, Debug)]
pub struct BenchZone {
    pub ram_pages: u64,
    pub other: u64,
    pub anon: Anon,
    pub mix: [u8; 5],
    pub cfg: ZoneConfig,
}

impl BenchZone {
    /// Why this zone cannot run the bench, if it cannot: the high watermark leaves no
    /// frame free (kswapd could never finish), or above the min watermark (below it
    /// allocations fail) there is no room for what the store takes at least even with
    /// every page out (a fault needs a frame too).
    pub fn refusal(&self) -> Option<BenchShortfall> {
        let marks = setup_per_zone_wmarks(self.ram_pages + self.other, &self.cfg);
        let pages = self.anon.pages(self.ram_pages * PAGE);
        let store = store_frames_at_least(self.mix, pages);
        if marks.high >= self.ram_pages {
            Some(BenchShortfall::Watermark { high: marks.high })
        } else if marks.min.saturating_add(store) >= self.ram_pages {
            Some(BenchShortfall::Store {
                min: marks.min,
                store,
            })
        } else {
            None
        }
    }

    /// The smallest RAM in whole MiB, at most `max_mib`, that runs the bench in this
    /// zone's settings; `None` if none does (twice the RAM of a mix that stays more
    /// than half its size).
    pub fn min_ram_mib(&self, max_mib: u64) -> Option<u64> {
        if let Anon::RamTimes(n) = self.anon
            && store_frames_at_least(self.mix, n.saturating_mul(1000)) >= 1000
        {
            // The store alone takes the whole RAM or more, at any size.
            return None;
        }
        let mib_pages = MIB / PAGE;
        (1..=max_mib).find(|&mib| {
            BenchZone {
                ram_pages: mib * mib_pages,
                ..*self
            }
            .refusal()
            .is_none()
        })
    }
}

/// What a bench's zone lacks (`BenchZone::refusal`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchShortfall {
    /// The high watermark, in pages, is the whole zone or more.
    Watermark { high: u64 },
    /// The min watermark and the least the store takes, in pages, fill the zone.
    Store { min: u64, store: u64 },
}

fn need(costs: Costs, anon: Anon, ram: u64, frames: u64, free: u64) -> Need {
    let slots = anon.pages(ram).max(frames.saturating_mul(2));
    let bytes = costs
        .per_slot
        .saturating_mul(slots)
        .saturating_add(costs.per_frame.saturating_mul(frames))
        .saturating_add(costs.fixed);
    Need {
        slots,
        frames,
        bytes,
        free,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Costs like the kernel's: about 100 bytes per slot, 8 per frame, 150 KiB once.
    const COSTS: Costs = Costs {
        per_slot: 101,
        per_frame: 8,
        fixed: 150 << 10,
    };

    /// A machine of `mib` MiB split the way the kernel splits it: 2 MiB unmapped, then
    /// the kernel (1 MiB), then the zone's span to the end of RAM with the heap (1/16 of
    /// the usable RAM) cut from its top; `used` bytes of the heap taken.
    fn machine(mib: u64, used: u64) -> Split {
        let usable = (mib << 20) - (3 << 20);
        let heap = (usable / HEAP_SHARE).min(HEAP_MAX) / PAGE * PAGE;
        Split {
            ram: mib << 20,
            heap,
            heap_free: heap - used,
            heap_shared: 0,
            frames: ((mib << 20) - (3 << 20)) / PAGE,
        }
    }

    #[test]
    fn the_model_reproduces_the_machine_it_was_taken_from() {
        let m = machine(8, 20 << 10);
        let here = m.need(COSTS, Anon::RamTimes(2));
        assert_eq!(m.need_with_ram(COSTS, Anon::RamTimes(2), m.ram), Some(here));
        assert!(!here.fits());
    }

    #[test]
    fn a_small_machine_is_told_a_size_that_fits_and_the_size_below_does_not() {
        let m = machine(8, 20 << 10);
        let anon = Anon::RamTimes(2);
        let min = m.min_ram_mib(COSTS, anon).unwrap();
        assert!(min > 8);
        assert!(machine(min, 20 << 10).need(COSTS, anon).fits(), "{min} MiB");
        assert!(
            !m.need_with_ram(COSTS, anon, (min - 1) << 20)
                .unwrap()
                .fits()
        );
    }

    #[test]
    fn anonymous_memory_no_heap_can_hold_has_no_minimum() {
        // 2^28 pages of bench_anon: ~25 GiB of metadata, more than any heap.
        let m = machine(512, 1 << 20);
        assert_eq!(m.min_ram_mib(COSTS, Anon::Pages(1 << 28)), None);
        assert!(!m.need(COSTS, Anon::Pages(1 << 28)).fits());
        assert_eq!(Anon::RamTimes(u64::MAX).pages(1 << 40), u64::MAX);
    }

    #[test]
    fn trace_buffers_grow_with_the_heap() {
        let mut m = machine(64, 0);
        m.heap_shared = m.heap / 8;
        m.heap_free = m.heap - m.heap_shared - (16 << 10);
        let bigger = m.need_with_ram(COSTS, Anon::Pages(0), 128 << 20).unwrap();
        let heap = machine(128, 0).heap;
        assert_eq!(bigger.free, heap - heap / 8 - (16 << 10));
    }

    const DEFAULT_MIX: [u8; 5] = [3, 1, 30, 59, 7];
    const RANDOM: [u8; 5] = [0, 0, 0, 0, 100];

    fn bench(mib: u64, anon: Anon, mix: [u8; 5], wsf: u32) -> BenchZone {
        BenchZone {
            ram_pages: mib * 256,
            other: 119,
            anon,
            mix,
            cfg: ZoneConfig {
                watermark_scale_factor: wsf,
                ..ZoneConfig::default()
            },
        }
    }

    #[test]
    fn the_store_takes_at_least_its_incompressible_share() {
        assert_eq!(store_frames_at_least(RANDOM, 1000), 1000);
        assert_eq!(store_frames_at_least([50, 50, 0, 0, 0], 1000), 0);
        assert_eq!(store_frames_at_least(DEFAULT_MIX, 1000), 352);
        assert_eq!(store_frames_at_least(RANDOM, u64::MAX), u64::MAX);
    }

    #[test]
    fn bench_zones_that_cannot_work_are_refused_with_the_size_that_can() {
        // The default bench runs at 2 MiB and more (1 MiB stops out of memory in the run).
        assert_eq!(bench(2, Anon::RamTimes(2), DEFAULT_MIX, 10).refusal(), None);
        // watermark_scale_factor=3000 puts the high watermark above a 1 MiB zone.
        let steep = bench(1, Anon::RamTimes(2), DEFAULT_MIX, 3000);
        assert!(matches!(
            steep.refusal(),
            Some(BenchShortfall::Watermark { .. })
        ));
        let min = steep.min_ram_mib(1 << 20).unwrap();
        assert!(
            bench(min, Anon::RamTimes(2), DEFAULT_MIX, 3000)
                .refusal()
                .is_none()
        );
        // Incompressible pages twice the RAM never fit; half the RAM does at 16 MiB.
        let random = bench(16, Anon::RamTimes(2), RANDOM, 10);
        assert!(matches!(
            random.refusal(),
            Some(BenchShortfall::Store { .. })
        ));
        assert_eq!(random.min_ram_mib(64), None);
        assert_eq!(bench(16, Anon::Pages(2048), RANDOM, 10).refusal(), None);
    }

    proptest! {
        /// What the model says fits does fit on that machine (same kernel overhead,
        /// heap used in proportion), and it never names a size at or below this one.
        #[test]
        fn the_minimum_is_above_this_machine_and_fits(mib in 6u64..2048, used_kib in 0u64..256, pages in 0u64..(1 << 22), twice in any::<bool>()) {
            let m = machine(mib, (used_kib << 10).min(machine(mib, 0).heap));
            let anon = if twice { Anon::RamTimes(2) } else { Anon::Pages(pages) };
            if let Some(min) = m.min_ram_mib(COSTS, anon) {
                prop_assert!(min > mib);
                let bigger = m.need_with_ram(COSTS, anon, min << 20).unwrap();
                prop_assert!(bigger.fits());
            }
        }
    }
}
