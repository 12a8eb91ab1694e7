//! The events reclaim emits ([`Event`], [`FaultKind`]), their names and fields in the
//! dump, the two-word encoding a buffer slot stores, and [`Record`] (an event with its
//! time). Pure data: no atomics, no sink, no text parsing (that is `dump.rs`'s).

/// How a page fault found the PTE (the kernel's `handle_mm_fault` branches).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// No PTE yet: first touch, a zeroed page (`do_anonymous_page`).
    FirstTouch,
    /// Mapped but the access flag is clear (software-managed access flag).
    AccessFlag,
    /// The PTE holds a swap entry (`do_swap_page`).
    Swap,
}

/// One thing reclaim did. `mm_vmscan_*` events are Linux's tracepoints
/// (`include/trace/events/vmscan.h`) with the fields we have; the others are ours.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `mm_vmscan_wakeup_kswapd`: an allocator saw free pages below `low` and woke
    /// kswapd (on the allocator's CPU).
    WakeupKswapd,
    /// `mm_vmscan_kswapd_wake`: kswapd starts a `balance_pgdat` pass (kswapd's CPU).
    KswapdWake,
    /// `mm_vmscan_kswapd_sleep`: kswapd goes to sleep.
    KswapdSleep,
    /// `mm_vmscan_lru_shrink_inactive`: one batch of `shrink_inactive_list`.
    LruShrinkInactive {
        /// Pages isolated from the inactive list.
        nr_scanned: u32,
        /// Pages freed now plus pages queued to kcompressd.
        nr_reclaimed: u32,
        /// Pages referenced again, moved to the active list.
        nr_activate: u32,
    },
    /// `mm_vmscan_lru_shrink_active`: the active list was aged.
    LruShrinkActive {
        /// Pages scanned on the active list (`pgrefill`).
        nr_taken: u32,
        /// Pages moved to the inactive list.
        nr_deactivated: u32,
    },
    /// `mm_vmscan_direct_reclaim_begin`: an allocation fell below `min`.
    DirectReclaimBegin,
    /// `mm_vmscan_direct_reclaim_end`.
    DirectReclaimEnd {
        /// Pages it reclaimed.
        nr_reclaimed: u32,
    },
    /// kswapd queued pages to kcompressd in one batch.
    KcompressdEnqueue {
        /// Pages queued.
        nr_pages: u32,
    },
    /// Pages of one batch that found every kcompressd ring full.
    KcompressdRingFull {
        /// Pages that did not fit.
        nr_pages: u32,
    },
    /// A kcompressd worker compressed and stored a batch it popped.
    KcompressdCompressDone {
        /// Pages in the batch.
        nr_pages: u32,
    },
    /// A fault in the workload region, by what the PTE held.
    PageFault(FaultKind),
    /// A swap fault found its page still in writeback and took the frame back.
    SwapinRescue,
    /// A swap fault decompressed its page into a new frame and mapped it.
    SwapinDone,
    /// Periodic state for plots: free frames, pages queued in the kcompressd rings,
    /// and `pgsteal_anon` since boot (modulo 2^32).
    Sample {
        /// Free frames in the zone.
        nr_free: u32,
        /// Pages queued in the kcompressd rings.
        ring_depth: u32,
        /// `pgsteal_anon` since boot, modulo 2^32.
        pgsteal_anon: u32,
    },
}

/// Fields an event carries at most.
pub(super) const MAX_FIELDS: usize = 3;

/// Each event's name and field names, indexed by its code (the order of
/// [`Event::encode`]).
pub(super) const KINDS: [(&str, &[&str]); 16] = [
    ("mm_vmscan_wakeup_kswapd", &[]),
    ("mm_vmscan_kswapd_wake", &[]),
    ("mm_vmscan_kswapd_sleep", &[]),
    (
        "mm_vmscan_lru_shrink_inactive",
        &["nr_scanned", "nr_reclaimed", "nr_activate"],
    ),
    (
        "mm_vmscan_lru_shrink_active",
        &["nr_taken", "nr_deactivated"],
    ),
    ("mm_vmscan_direct_reclaim_begin", &[]),
    ("mm_vmscan_direct_reclaim_end", &["nr_reclaimed"]),
    ("kcompressd_enqueue", &["nr_pages"]),
    ("kcompressd_ring_full", &["nr_pages"]),
    ("kcompressd_compress_done", &["nr_pages"]),
    ("page_fault_first_touch", &[]),
    ("page_fault_access_flag", &[]),
    ("page_fault_swap", &[]),
    ("swapin_rescue", &[]),
    ("swapin_done", &[]),
    ("reclaim_sample", &["nr_free", "ring_depth", "pgsteal_anon"]),
];

impl Event {
    /// Every event name, in code order (for documentation and tools).
    pub fn names() -> impl Iterator<Item = &'static str> {
        KINDS.iter().map(|k| k.0)
    }

    /// The code and fields stored in a buffer slot.
    fn encode(self) -> (u8, [u32; MAX_FIELDS]) {
        use Event::*;
        match self {
            WakeupKswapd => (0, [0; 3]),
            KswapdWake => (1, [0; 3]),
            KswapdSleep => (2, [0; 3]),
            LruShrinkInactive {
                nr_scanned,
                nr_reclaimed,
                nr_activate,
            } => (3, [nr_scanned, nr_reclaimed, nr_activate]),
            LruShrinkActive {
                nr_taken,
                nr_deactivated,
            } => (4, [nr_taken, nr_deactivated, 0]),
            DirectReclaimBegin => (5, [0; 3]),
            DirectReclaimEnd { nr_reclaimed } => (6, [nr_reclaimed, 0, 0]),
            KcompressdEnqueue { nr_pages } => (7, [nr_pages, 0, 0]),
            KcompressdRingFull { nr_pages } => (8, [nr_pages, 0, 0]),
            KcompressdCompressDone { nr_pages } => (9, [nr_pages, 0, 0]),
            PageFault(FaultKind::FirstTouch) => (10, [0; 3]),
            PageFault(FaultKind::AccessFlag) => (11, [0; 3]),
            PageFault(FaultKind::Swap) => (12, [0; 3]),
            SwapinRescue => (13, [0; 3]),
            SwapinDone => (14, [0; 3]),
            Sample {
                nr_free,
                ring_depth,
                pgsteal_anon,
            } => (15, [nr_free, ring_depth, pgsteal_anon]),
        }
    }

    /// The event `encode` gave `code` and `f`; None for an unknown code.
    pub(super) fn decode(code: u8, f: [u32; MAX_FIELDS]) -> Option<Event> {
        use Event::*;
        Some(match code {
            0 => WakeupKswapd,
            1 => KswapdWake,
            2 => KswapdSleep,
            3 => LruShrinkInactive {
                nr_scanned: f[0],
                nr_reclaimed: f[1],
                nr_activate: f[2],
            },
            4 => LruShrinkActive {
                nr_taken: f[0],
                nr_deactivated: f[1],
            },
            5 => DirectReclaimBegin,
            6 => DirectReclaimEnd { nr_reclaimed: f[0] },
            7 => KcompressdEnqueue { nr_pages: f[0] },
            8 => KcompressdRingFull { nr_pages: f[0] },
            9 => KcompressdCompressDone { nr_pages: f[0] },
            10 => PageFault(FaultKind::FirstTouch),
            11 => PageFault(FaultKind::AccessFlag),
            12 => PageFault(FaultKind::Swap),
            13 => SwapinRescue,
            14 => SwapinDone,
            15 => Sample {
                nr_free: f[0],
                ring_depth: f[1],
                pgsteal_anon: f[2],
            },
            _ => return None,
        })
    }

    /// The event's name in the dump (Linux's tracepoint name where there is one).
    pub fn name(self) -> &'static str {
        KINDS[usize::from(self.encode().0)].0
    }

    /// The event's fields, `(name, value)`, in dump order.
    pub fn fields(self) -> impl Iterator<Item = (&'static str, u32)> {
        let (code, values) = self.encode();
        KINDS[usize::from(code)].1.iter().copied().zip(values)
    }

    /// The two payload words of a slot: code in bits 0-7 and field 0 in bits 32-63 of
    /// the first, fields 1 and 2 in the second.
    pub(super) fn to_words(self) -> [u64; 2] {
        let (code, f) = self.encode();
        [
            u64::from(code) | u64::from(f[0]) << 32,
            u64::from(f[1]) | u64::from(f[2]) << 32,
        ]
    }

    /// The event `to_words` gave `w`; None if the code is unknown.
    pub(super) fn from_words(w: [u64; 2]) -> Option<Event> {
        Event::decode(
            w[0] as u8,
            [(w[0] >> 32) as u32, w[1] as u32, (w[1] >> 32) as u32],
        )
    }
}

/// An event with its timestamp (the caller's clock ticks).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// When, in the caller's clock ticks.
    pub ticks: u64,
    /// What.
    pub event: Event,
}

#[cfg(all(test, not(loom)))]
pub(super) mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// Any event, with zero in the fields it does not have (as `encode` leaves them).
    pub(in crate::trace) fn any_event() -> impl Strategy<Value = Event> {
        (0u8..16, any::<[u32; 3]>()).prop_map(|(code, f)| {
            // Decode, then keep only the fields the event has (encode zeroes the rest).
            let e = Event::decode(code, f).unwrap();
            Event::from_words(e.to_words()).unwrap()
        })
    }

    #[test]
    fn names_follow_linux_and_are_unique() {
        let names: Vec<&str> = Event::names().collect();
        for linux in [
            "mm_vmscan_kswapd_wake",
            "mm_vmscan_kswapd_sleep",
            "mm_vmscan_wakeup_kswapd",
            "mm_vmscan_lru_shrink_inactive",
            "mm_vmscan_lru_shrink_active",
            "mm_vmscan_direct_reclaim_begin",
            "mm_vmscan_direct_reclaim_end",
        ] {
            assert!(names.contains(&linux), "{linux}");
        }
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
    }

    proptest! {
        #[test]
        fn words_round_trip(e in any_event()) {
            prop_assert_eq!(Event::from_words(e.to_words()), Some(e));
        }
    }
}
