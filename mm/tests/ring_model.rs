//! The ring against a `VecDeque` model under random push/pop/batch/sleep sequences.
#![cfg(not(loom))]
#![forbid(unsafe_code)]

mod ring_ops;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn ring_matches_vecdeque(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        ring_ops::check_all_capacities(&bytes);
    }
}

/// Fill to capacity, drain, refill across the wrap point with mixed batch sizes.
#[test]
fn ring_fill_drain_cycles() {
    // PushSlice(31), PopSlice(7), Push, PopSlice(31), Sleep, WakeNeeded, repeated.
    let cycle = [(31 << 3) | 2, (7 << 3) | 5, 0, (31 << 3) | 5, 6, 7];
    let bytes: Vec<u8> = cycle.iter().copied().cycle().take(600).collect();
    ring_ops::check_all_capacities(&bytes);
}
