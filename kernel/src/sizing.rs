//! How much RAM a reclaim run needs: reclaim's metadata lives on the kernel heap, a fixed
//! share of RAM, so a machine too small for a run is refused before anything is built,
//! naming the smallest `--mem` that would do, worked out from how this boot split its
//! RAM. Pure arithmetic; the kernel's `run::prepare` measures and asks.

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
