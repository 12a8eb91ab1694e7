//! Random sequences of buddy and per-CPU allocations and frees, good and bad, over two
//! odd-aligned ranges with a hole, checked against a model of what the caller holds:
//! no page is handed out twice, bad frees get their error and change nothing, pages
//! are conserved, and freeing everything restores the initial buddyinfo.
//!
//! `cd mm/fuzz && cargo +nightly fuzz run frame_ops -- -max_total_time=60`
#![no_main]

#[path = "../../tests/frame_support/mod.rs"]
mod frame_support;

use std::collections::{BTreeMap, BTreeSet};

use frame_support::HostRam;
use libfuzzer_sys::fuzz_target;
use mm::addr::{PAGE_SIZE, Pfn};
use mm::frame::{FreeError, MAX_ORDER, NR_PAGE_ORDERS, PcpFreeError, Zone, ZoneConfig};

const RAM: u64 = 4 << 20;
const PAGE: u64 = PAGE_SIZE as u64;

thread_local! {
    /// Reused across inputs: every zone rewrites its memmap at creation.
    static MEMORY: HostRam = HostRam::new(RAM as usize, PAGE_SIZE);
}

/// What the caller holds, and blocks it gave back to the buddy lists.
#[derive(Default)]
struct Model {
    blocks: BTreeMap<Pfn, u32>,
    pages: BTreeSet<u64>,
    freed: Vec<(Pfn, u32)>,
}

impl Model {
    fn take(&mut self, pfn: Pfn, order: u32) {
        assert_eq!(pfn.0 % (1 << order), 0, "misaligned block");
        for p in pfn.0..pfn.0 + (1 << order) {
            assert!(self.pages.insert(p), "page {p:#x} handed out twice");
        }
        self.blocks.insert(pfn, order);
    }

    fn give_back(&mut self, pfn: Pfn) -> u32 {
        let order = self.blocks.remove(&pfn).expect("held block");
        for p in pfn.0..pfn.0 + (1 << order) {
            self.pages.remove(&p);
        }
        order
    }

    fn nth(&self, i: u8) -> Option<(Pfn, u32)> {
        if self.blocks.is_empty() {
            return None;
        }
        let n = usize::from(i) % self.blocks.len();
        self.blocks.iter().nth(n).map(|(&pfn, &order)| (pfn, order))
    }
}

fn snapshot(zone: &Zone) -> ([u64; NR_PAGE_ORDERS], u64) {
    (zone.buddyinfo(), zone.nr_free_pages())
}

fn run(ram: &HostRam, data: &[u8]) {
    let [skew, gap, split, batch, extra, ops @ ..] = data else {
        return;
    };
    // Two ranges: [skew bytes, split) and [split + gap, end), odd-aligned; at most
    // 829 + 63 pages before the second, so it keeps at least 132 of the 1024.
    let first_base = u64::from(*skew) * 37;
    let split = PAGE * (64 + u64::from(*split) * 3);
    let second_base = split + PAGE * u64::from(*gap % 64) + u64::from(*skew);
    let ranges = [
        ram.range(first_base, split - first_base),
        ram.range(second_base, RAM - second_base),
    ];
    // SAFETY: disjoint parts of memory this thread owns, used by this zone only.
    let Ok(mut zone) = (unsafe { Zone::new(&ranges, ZoneConfig::default()) }) else {
        return;
    };
    let batch = u32::from(*batch % 16) + 1;
    let mut pcp = zone.new_pcp(batch, batch + u32::from(*extra % 32)).unwrap();
    let initial = snapshot(&zone);
    let memmap_pfn = Pfn::containing(ranges[0].base.next_multiple_of(PAGE));
    let mut m = Model::default();
    let mut last_pcp_free = None;

    for op in ops.chunks_exact(3) {
        let (kind, a, b) = (op[0] % 13, op[1], op[2]);
        let before = snapshot(&zone);
        let mut refused = true;
        match kind {
            0 => {
                refused = false;
                if let Ok(pfn) = zone.alloc_pages(u32::from(a) % (MAX_ORDER + 1)) {
                    m.take(pfn, u32::from(a) % (MAX_ORDER + 1));
                }
            }
            1 => {
                refused = false;
                if let Some((pfn, order)) = m.nth(a) {
                    m.give_back(pfn);
                    zone.free_pages(pfn, order).unwrap();
                    m.freed.push((pfn, order));
                }
            }
            2 => {
                refused = false;
                let got = match pcp.alloc() {
                    Some(pfn) => Some(pfn),
                    None => zone.rmqueue_pcp(&mut pcp).ok(),
                };
                if let Some(pfn) = got {
                    m.take(pfn, 0);
                }
            }
            3 => {
                refused = false;
                if let Some((pfn, 0)) = m.nth(a) {
                    m.give_back(pfn);
                    match pcp.free(pfn) {
                        Ok(()) => {}
                        Err(PcpFreeError::Full) => zone.free_pcp(&mut pcp, pfn).unwrap(),
                        Err(e) => panic!("good pcp free refused: {e:?}"),
                    }
                    last_pcp_free = Some(pfn);
                }
            }
            4 => {
                refused = false;
                let expected = u32::from(a).min(pcp.count());
                assert_eq!(zone.drain_pcp(&mut pcp, u32::from(a)), expected);
            }
            5 => {
                // Double free of a block still in the buddy lists (not reallocated,
                // not cached on the pcp, which the zone counts as allocated).
                if !m.freed.is_empty() {
                    let (pfn, order) = m.freed[usize::from(a) % m.freed.len()];
                    let still_free = (pfn.0..pfn.0 + (1 << order))
                        .all(|p| !m.pages.contains(&p) && !pcp.contains(Pfn(p)));
                    if still_free {
                        assert_eq!(zone.free_pages(pfn, order), Err(FreeError::DoubleFree));
                    }
                }
            }
            6 => {
                if let Some((pfn, order)) = m.nth(a)
                    && order > 0
                {
                    let tail = Pfn(pfn.0 + 1 + u64::from(b) % ((1 << order) - 1));
                    assert_eq!(zone.free_pages(tail, 0), Err(FreeError::NotBlockHead));
                }
            }
            7 => {
                if let Some((pfn, order)) = m.nth(a) {
                    let wrong = (order + 1 + u32::from(b) % MAX_ORDER) % (MAX_ORDER + 1);
                    let result = zone.free_pages(pfn, wrong);
                    assert!(
                        result == Err(FreeError::Misaligned)
                            || result == Err(FreeError::WrongOrder { allocated: order }),
                        "{result:?}"
                    );
                }
            }
            8 => {
                if let Some((pfn, order)) = m.nth(a)
                    && order > 0
                {
                    assert_eq!(
                        zone.free_pages(Pfn(pfn.0 + 1), order),
                        Err(FreeError::Misaligned)
                    );
                }
            }
            9 => {
                let foreign = Pfn(u64::from(a) << 8 | u64::from(b));
                assert!(zone.page(foreign).is_none());
                assert_eq!(zone.free_pages(foreign, 0), Err(FreeError::NotInZone));
                assert_eq!(
                    pcp.free(foreign),
                    Err(PcpFreeError::Bad(FreeError::NotInZone))
                );
            }
            10 => assert_eq!(zone.free_pages(memmap_pfn, 0), Err(FreeError::Reserved)),
            11 => {
                if let Some((pfn, _)) = m.nth(a) {
                    let order = MAX_ORDER + 1 + u32::from(b);
                    assert_eq!(zone.free_pages(pfn, order), Err(FreeError::OrderTooLarge));
                }
            }
            _ => {
                if let Some(pfn) = last_pcp_free
                    && pcp.contains(pfn)
                {
                    assert_eq!(pcp.free(pfn), Err(PcpFreeError::Bad(FreeError::DoubleFree)));
                    assert_eq!(zone.free_pcp(&mut pcp, pfn), Err(FreeError::DoubleFree));
                }
            }
        }
        if refused {
            assert_eq!(snapshot(&zone), before, "refused op changed the zone");
        }
        assert!(pcp.count() <= pcp.high());
        let held = m.pages.len() as u64 + u64::from(pcp.count());
        assert_eq!(zone.nr_free_pages() + held, zone.managed_pages());
        zone.check_invariants().unwrap();
    }

    let cached = pcp.count();
    assert_eq!(zone.drain_pcp(&mut pcp, cached), cached);
    for (pfn, order) in std::mem::take(&mut m.blocks) {
        zone.free_pages(pfn, order).unwrap();
    }
    assert_eq!(zone.pcp_bad_frees(), 0);
    assert_eq!(snapshot(&zone), initial, "did not coalesce back");
}

fuzz_target!(|data: &[u8]| {
    MEMORY.with(|ram| run(ram, data));
});
