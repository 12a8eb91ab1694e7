//! Per-CPU page lists: Linux's batch size, refill and drain by `batch`, the lock-free
//! paths' checks, and a proptest model with two CPUs showing pages are conserved
//! (buddy free + cached + handed out = managed) and never handed out twice.

mod frame_support;

use std::collections::BTreeSet;

use frame_support::HostRam;
use mm::addr::{PAGE_SIZE, Pfn};
use mm::frame::{FreeError, PcpConfigError, PcpFreeError, PerCpuPages, Zone, ZoneConfig};
use proptest::prelude::*;

const MIB: u64 = 1 << 20;

fn zone(ram: &HostRam, size: u64) -> Zone {
    // SAFETY: the range is part of `ram`, which outlives the zone and serves no one else.
    unsafe { Zone::new(&[ram.range(0, size)], ZoneConfig::default()) }.expect("zone")
}

#[test]
fn batch_size_follows_zone_batchsize() {
    // 512 MiB: 130304 managed pages -> 127 / 4 = 31 -> rounddown_pow2(46) - 1 = 31.
    let ram = HostRam::new(512 * MIB as usize, PAGE_SIZE);
    let big = zone(&ram, 512 * MIB);
    assert_eq!(big.pcp_batch(), 31);
    let pcp = big.default_pcp();
    assert_eq!((pcp.batch(), pcp.high(), pcp.count()), (31, 186, 0));
    // 16 MiB (a new zone over the same memory, the first no longer used): 4072 pages
    // -> 3 / 4 = 0 -> 1 -> rounddown_pow2(1) - 1 = 0, raised to 1.
    let small = zone(&ram, 16 * MIB);
    assert_eq!(small.pcp_batch(), 1);
}

#[test]
fn bad_sizes_are_errors() {
    let ram = HostRam::new(4 * MIB as usize, PAGE_SIZE);
    let zone = zone(&ram, 4 * MIB);
    assert_eq!(zone.new_pcp(0, 10).err(), Some(PcpConfigError::ZeroBatch));
    assert_eq!(
        zone.new_pcp(8, 7).err(),
        Some(PcpConfigError::HighBelowBatch)
    );
    assert_eq!(
        zone.new_pcp(8, 513).err(),
        Some(PcpConfigError::HighAboveCapacity)
    );
}

#[test]
fn refill_and_drain_move_a_batch_under_the_lock() {
    let ram = HostRam::new(8 * MIB as usize, PAGE_SIZE);
    let mut zone = zone(&ram, 8 * MIB);
    let managed = zone.managed_pages();
    let mut pcp = zone.new_pcp(4, 8).unwrap();
    assert_eq!(pcp.alloc(), None, "an empty pcp asks for a refill");
    let first = zone.rmqueue_pcp(&mut pcp).unwrap();
    assert_eq!(pcp.count(), 3);
    assert_eq!(
        zone.nr_free_pages(),
        managed - 4,
        "cached pages are not free pages"
    );
    let mut held = vec![first];
    for _ in 0..9 {
        let pfn = match pcp.alloc() {
            Some(pfn) => pfn,
            None => zone.rmqueue_pcp(&mut pcp).unwrap(),
        };
        held.push(pfn);
    }
    // Three refills of 4 for 10 pages.
    assert_eq!(pcp.count(), 2);
    assert_eq!(zone.nr_free_pages(), managed - 12);
    for &pfn in &held[..6] {
        pcp.free(pfn).unwrap();
    }
    assert_eq!(pcp.count(), 8);
    assert_eq!(pcp.free(held[6]), Err(PcpFreeError::Full));
    zone.free_pcp(&mut pcp, held[6]).unwrap();
    assert_eq!(pcp.count(), 8 - 4 + 1, "drained one batch, then cached");
    assert_eq!(zone.nr_free_pages(), managed - 12 + 4);
    for &pfn in &held[7..] {
        pcp.free(pfn).unwrap();
    }
    assert_eq!(zone.drain_pcp(&mut pcp, u32::MAX), 8);
    assert_eq!(zone.nr_free_pages(), managed);
    zone.check_invariants().unwrap();
}

#[test]
fn lock_free_checks_and_drain_catches_cross_path_double_frees() {
    let ram = HostRam::new(8 * MIB as usize, PAGE_SIZE);
    let mut zone = zone(&ram, 8 * MIB);
    let mut pcp = zone.default_pcp();
    let memmap = Pfn::containing(ram.range(0, 1).base);
    assert_eq!(
        pcp.free(memmap),
        Err(PcpFreeError::Bad(FreeError::NotInZone))
    );
    assert_eq!(
        pcp.free(Pfn(0)),
        Err(PcpFreeError::Bad(FreeError::NotInZone))
    );
    let pfn = zone.alloc_pages(0).unwrap();
    pcp.free(pfn).unwrap();
    assert_eq!(pcp.free(pfn), Err(PcpFreeError::Bad(FreeError::DoubleFree)));
    assert_eq!(zone.free_pcp(&mut pcp, pfn), Err(FreeError::DoubleFree));
    assert_eq!(pcp.count(), 1);
    // The zone still sees the cached page as allocated: a second free through the zone
    // is accepted, and the stale copy is dropped when the pcp drains.
    zone.free_pages(pfn, 0).unwrap();
    assert_eq!(zone.drain_pcp(&mut pcp, 1), 0);
    assert_eq!(zone.pcp_bad_frees(), 1);
    assert_eq!(zone.nr_free_pages(), zone.managed_pages());
    zone.check_invariants().unwrap();
}

#[derive(Clone, Debug)]
enum Op {
    /// Allocate on a CPU: lock-free if cached, else refill under the lock.
    Alloc(usize),
    /// Free the i-th held page on a CPU: lock-free, or under the lock when full.
    Free(usize, usize),
    /// Drain some pages of a CPU's list (CPU going idle, or reclaim wanting pages).
    Drain(usize, u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize).prop_map(Op::Alloc),
        4 => (0..2usize, any::<usize>()).prop_map(|(c, i)| Op::Free(c, i)),
        1 => (0..2usize, 0..40u32).prop_map(|(c, n)| Op::Drain(c, n)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn pages_are_conserved_and_never_handed_out_twice(
        sizes in (1..8u32, 0..16u32),
        ops in prop::collection::vec(op(), 1..600),
    ) {
        let ram = HostRam::new(MIB as usize, PAGE_SIZE);
        let mut zone = zone(&ram, MIB);
        let (batch, extra) = sizes;
        let mut pcps: Vec<PerCpuPages> =
            (0..2).map(|_| zone.new_pcp(batch, batch + extra).unwrap()).collect();
        let mut held: BTreeSet<Pfn> = BTreeSet::new();
        for op in ops {
            match op {
                Op::Alloc(cpu) => {
                    let pcp = &mut pcps[cpu];
                    let got = match pcp.alloc() {
                        Some(pfn) => Some(pfn),
                        None => zone.rmqueue_pcp(pcp).ok(),
                    };
                    match got {
                        Some(pfn) => prop_assert!(held.insert(pfn), "{:?} handed out twice", pfn),
                        None => prop_assert_eq!(zone.nr_free_pages(), 0),
                    }
                }
                Op::Free(cpu, i) => if !held.is_empty() {
                    let pfn = *held.iter().nth(i % held.len()).unwrap();
                    let pcp = &mut pcps[cpu];
                    match pcp.free(pfn) {
                        Ok(()) => {}
                        Err(PcpFreeError::Full) => zone.free_pcp(pcp, pfn).unwrap(),
                        Err(e) => prop_assert!(false, "good free refused: {:?}", e),
                    }
                    held.remove(&pfn);
                    prop_assert!(pcp.count() <= pcp.high());
                },
                Op::Drain(cpu, n) => {
                    let pcp = &mut pcps[cpu];
                    let expected = n.min(pcp.count());
                    prop_assert_eq!(zone.drain_pcp(pcp, n), expected);
                }
            }
            let cached: u64 = pcps.iter().map(|p| u64::from(p.count())).sum();
            prop_assert_eq!(zone.nr_free_pages() + cached + held.len() as u64, zone.managed_pages());
            zone.check_invariants().map_err(TestCaseError::fail)?;
        }
        prop_assert_eq!(zone.pcp_bad_frees(), 0);
        for mut pcp in pcps {
            let count = pcp.count();
            prop_assert_eq!(zone.drain_pcp(&mut pcp, count), count);
        }
        for pfn in held {
            zone.free_pages(pfn, 0).unwrap();
        }
        prop_assert_eq!(zone.nr_free_pages(), zone.managed_pages());
    }
}
