//! The swap-entry state protocol: one atomic word per swap entry saying where the
//! page's data is while it leaves memory (frame in writeback, compressor working,
//! slot stored) and who may touch the frame. Owns only the state words; the frames
//! belong to the zone, the slots to the compressed store, the PTEs to the caller.
//!
//! ```text
//!                 alloc (reclaim)                claim (compressor or
//!   FREE(g) ───────────────────────▶ WRITEBACK(g+1, pfn) ─── sync reclaim) ──▶ COMPRESSING(g+1, pfn)
//!     ▲  ▲   cancel (unmap failed)      │   ▲                                   │        │
//!     │  └──────────────────────────────┤   └──────── unclaim (store failed) ───┘        │ complete
//!     │        rescue (fault: frame     │                                                ▼
//!     │        taken back, no decompress)                                          STORED(g+1)
//!     │                                 │                                                │ swap_in (fault)
//!     └─────────────────────────────────┘◀── swap_in_done (PTE now present) ─── SWAPIN(g+1)
//! ```
//!
//! A [`SwapEntry`] is what the PTE holds: the word's index plus the generation `g`
//! the entry had when it was allocated. Every transition compares the generation,
//! so a stale holder (a ring ticket for a page that was rescued, a second fault that
//! read the PTE before the first one fixed it) finds a different word and backs off,
//! even if the index has been reused since (ABA would need 2^21 reuses of one entry
//! while the stale holder sleeps).
//!
//! Orderings (the cross-core contract; `loom` models at the bottom):
//! - The frame's contents reach the compressor through the ticket: the workload's
//!   writes happen before it releases the mapping (host: the simulated PTE's Release;
//!   kernel: TLB shootdown with `dsb ish`), reclaim's unmap acquires it, and the ring
//!   push (Release) / pop (Acquire) carries it on. `claim` therefore needs no ordering
//!   of its own: the CAS only decides *who* owns the frame, exclusively against
//!   `rescue`, because both are read-modify-writes of the same word.
//! - `complete` stores STORED with **Release**: it publishes the finished slot (and
//!   the end of the compressor's reads of the frame). `fault` acquires it (the CAS
//!   STORED -> SWAPIN and the load that sees STORED), so the faulting core loads a
//!   complete slot, and anything it does to the old frame's successor comes after.
//! - `swap_in_done` and `rescue` store / CAS FREE with **Release**: the previous user
//!   of the index (its slot freed, its PTE fixed) is finished before `alloc`'s
//!   **Acquire** CAS lets reclaim reuse the index for another page.
//! - `unclaim` (store failed) stores WRITEBACK with **Release**: the compressor's
//!   reads of the frame happen before a rescuing fault (Acquire) writes to it.

use crate::addr::Pfn;
use crate::sync::{AtomicU64, AtomicUsize, Ordering};

const STATE_BITS: u32 = 3;
const GEN_BITS: u32 = 21;
const PFN_SHIFT: u32 = STATE_BITS + GEN_BITS;
const STATE_MASK: u64 = (1 << STATE_BITS) - 1;
const GEN_MASK: u64 = (1 << GEN_BITS) - 1;
/// Largest frame number a swap word can hold (40 bits: 4 PiB of physical memory).
pub const MAX_PFN: u64 = (1 << (64 - PFN_SHIFT)) - 1;

/// Where a page's data is, as the entry word says.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SwapState {
    /// Entry not in use.
    Free,
    /// PTE holds the entry, the frame still holds the data; queued to a compressor.
    Writeback(Pfn),
    /// A compressor (or sync reclaim) owns the frame and is storing it.
    Compressing(Pfn),
    /// Data is in the compressed store (slot keyed by the entry's index); frame freed.
    Stored,
    /// A fault is loading the slot into a fresh frame.
    SwapIn,
}

impl SwapState {
    const fn tag(self) -> u64 {
        match self {
            SwapState::Free => 0,
            SwapState::Writeback(_) => 1,
            SwapState::Compressing(_) => 2,
            SwapState::Stored => 3,
            SwapState::SwapIn => 4,
        }
    }

    const fn pfn(self) -> u64 {
        match self {
            SwapState::Writeback(pfn) | SwapState::Compressing(pfn) => pfn.0,
            _ => 0,
        }
    }
}

/// One decoded entry word: generation plus state.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Word {
    generation: u32,
    state: SwapState,
}

impl Word {
    const fn encode(self) -> u64 {
        self.state.tag()
            | ((self.generation as u64) << STATE_BITS)
            | (self.state.pfn() << PFN_SHIFT)
    }

    const fn decode(raw: u64) -> Word {
        let pfn = Pfn(raw >> PFN_SHIFT);
        let state = match raw & STATE_MASK {
            0 => SwapState::Free,
            1 => SwapState::Writeback(pfn),
            2 => SwapState::Compressing(pfn),
            3 => SwapState::Stored,
            // Only the five tags above are ever written.
            _ => SwapState::SwapIn,
        };
        Word {
            generation: ((raw >> STATE_BITS) & GEN_MASK) as u32,
            state,
        }
    }
}

/// A swap entry as the PTE holds it (Linux's `swp_entry_t`): index into the swap
/// map, plus the generation that tells this use of the index from earlier ones.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct SwapEntry {
    index: u32,
    generation: u32,
}

impl SwapEntry {
    /// Index of the entry: also the compressed store's slot key.
    pub const fn index(self) -> u32 {
        self.index
    }

    /// The compressed store's slot for this entry (its index: Linux's swap offset).
    pub const fn slot(self) -> crate::zram::SwapSlot {
        crate::zram::SwapSlot(self.index)
    }

    /// Packs the entry into 53 bits (index in bits 0..32, generation above) for a
    /// non-present PTE; the caller adds its own type / valid bits around them.
    pub const fn to_bits(self) -> u64 {
        self.index as u64 | ((self.generation as u64) << 32)
    }

    /// Inverse of [`SwapEntry::to_bits`]; `None` if bits above 53 are set.
    pub const fn from_bits(bits: u64) -> Option<SwapEntry> {
        if bits >> (32 + GEN_BITS) != 0 {
            return None;
        }
        Some(SwapEntry {
            index: bits as u32,
            generation: (bits >> 32) as u32,
        })
    }
}

/// A transition asked of an entry whose word is not in the state the caller owns:
/// a bug in the caller (the protocol never produces it), reported instead of acted on.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct WrongState {
    /// The entry the transition was asked of.
    pub entry: SwapEntry,
    /// The state its word was in instead.
    pub found: SwapState,
}

/// What a fault on a swap entry found.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The page was still in writeback: the frame is the caller's again, with the
    /// data intact; map it. The queued ticket will find the entry gone.
    Rescued(Pfn),
    /// The data is in the store: load slot `entry.index()` into a fresh frame, free
    /// the slot, map the frame, then call [`SwapMap::swap_in_done`].
    SwapIn,
    /// A compressor owns the frame: call again (after a pause) until it is stored.
    Compressing,
    /// Another fault is swapping this entry in: call again after a pause.
    OtherFault,
    /// The entry is no longer this PTE's (another fault finished with it): re-read
    /// the PTE, which now maps a frame.
    Stale,
}

/// How a fault on a swap entry ended, after waiting out the transient states.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FaultResult {
    /// `Rescued`, `SwapIn` or `Stale`.
    pub fault: Fault,
    /// Whether the fault had to wait for a compressor to finish (`waited`).
    pub waited_for_compressor: bool,
}

/// Errors building a swap map.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SwapMapError {
    /// More than `u32::MAX` entries.
    TooLarge,
    /// A word was not FREE at creation.
    NotFree {
        /// The word's index.
        index: usize,
    },
}

/// The swap map: one atomic word per swap entry, in memory the caller provides
/// (a static in the kernel, a `Vec` on the host), never allocating afterwards.
pub struct SwapMap<'a> {
    words: &'a [AtomicU64],
    /// Where the next allocation scan starts (Linux's `cluster_next`).
    cursor: AtomicUsize,
    /// Entries not FREE (an estimate while transitions run; exact when quiet).
    in_use: AtomicUsize,
}

impl<'a> SwapMap<'a> {
    /// A map over `words`, which must all be zero (FREE, generation 0).
    pub fn new(words: &'a [AtomicU64]) -> Result<Self, SwapMapError> {
        if u32::try_from(words.len()).is_err() {
            return Err(SwapMapError::TooLarge);
        }
        if let Some(index) = words.iter().position(|w| w.load(Ordering::Relaxed) != 0) {
            return Err(SwapMapError::NotFree { index });
        }
        Ok(SwapMap {
            words,
            cursor: AtomicUsize::new(0),
            in_use: AtomicUsize::new(0),
        })
    }

    /// Number of entries.
    pub fn capacity(&self) -> usize {
        self.words.len()
    }

    /// Entries currently allocated (in writeback, compressing, stored or swapping in).
    pub fn in_use(&self) -> usize {
        self.in_use.load(Ordering::Relaxed)
    }

    /// The current state of `entry`, or `None` if the index is out of range or the
    /// word has moved on to another generation.
    pub fn state(&self, entry: SwapEntry) -> Option<SwapState> {
        let word = Word::decode(
            self.words
                .get(entry.index as usize)?
                .load(Ordering::Acquire),
        );
        (word.generation == entry.generation).then_some(word.state)
    }

    fn word(&self, entry: SwapEntry) -> Option<&AtomicU64> {
        self.words.get(entry.index as usize)
    }

    fn cas(
        &self,
        entry: SwapEntry,
        from: SwapState,
        to: SwapState,
        success: Ordering,
    ) -> Result<(), WrongState> {
        let Some(word) = self.word(entry) else {
            return Err(WrongState {
                entry,
                found: SwapState::Free,
            });
        };
        let old = Word {
            generation: entry.generation,
            state: from,
        };
        let new = Word {
            generation: entry.generation,
            state: to,
        };
        word.compare_exchange(old.encode(), new.encode(), success, Ordering::Relaxed)
            .map(|_| ())
            .map_err(|raw| WrongState {
                entry,
                found: Word::decode(raw).state,
            })
    }

    /// Reclaim: allocates an entry for the isolated page in frame `pfn`, in state
    /// WRITEBACK. Next the caller unmaps the page with the entry in the PTE, then
    /// hands the entry to a compressor or [`cancel`](Self::cancel)s it. `None` when
    /// every entry is in use (swap full) or `pfn` exceeds [`MAX_PFN`].
    pub fn alloc(&self, pfn: Pfn) -> Option<SwapEntry> {
        let len = self.words.len();
        if pfn.0 > MAX_PFN || len == 0 {
            return None;
        }
        if self.in_use.fetch_add(1, Ordering::Relaxed) >= len {
            self.in_use.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        let start = self.cursor.fetch_add(1, Ordering::Relaxed) % len;
        // Every full pass over the words still finds one: `in_use` counted us in, and
        // concurrent allocators also counted themselves before scanning.
        for step in 0.. {
            let index = (start + step) % len;
            let word = &self.words[index];
            let raw = word.load(Ordering::Relaxed);
            let current = Word::decode(raw);
            if current.state != SwapState::Free {
                continue;
            }
            let generation = (current.generation + 1) & GEN_MASK as u32;
            let next = Word {
                generation,
                state: SwapState::Writeback(pfn),
            };
            // Acquire: pairs with the Release that freed the entry, so its last user
            // (slot freed, PTE rewritten) is done before the index is reused.
            if word
                .compare_exchange(raw, next.encode(), Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                self.cursor.store(index + 1, Ordering::Relaxed);
                return Some(SwapEntry {
                    index: index as u32,
                    generation,
                });
            }
        }
        unreachable!("the scan above only ends by returning")
    }

    /// Reclaim: the unmap failed (the page was referenced again), so no PTE ever held
    /// `entry`; give it back. The frame stays the caller's.
    pub fn cancel(&self, entry: SwapEntry, pfn: Pfn) -> Result<(), WrongState> {
        self.cas(
            entry,
            SwapState::Writeback(pfn),
            SwapState::Free,
            Ordering::Release,
        )?;
        self.in_use.fetch_sub(1, Ordering::Relaxed);
        Ok(())
    }

    /// Compressor (or sync reclaim) holding the ticket for `entry`: takes the frame
    /// to compress it. `None` if a fault rescued the page first (the ticket is stale:
    /// drop it, the frame is not ours).
    pub fn claim(&self, entry: SwapEntry, pfn: Pfn) -> Option<Pfn> {
        // Relaxed: the frame contents came with the ticket (see the module comment);
        // this CAS only decides ownership against `rescue`.
        self.cas(
            entry,
            SwapState::Writeback(pfn),
            SwapState::Compressing(pfn),
            Ordering::Relaxed,
        )
        .ok()
        .map(|()| pfn)
    }

    /// Compressor: the slot for `entry` is complete in the store. The frame is now the
    /// compressor's to free (no fault can take it any more).
    pub fn complete(&self, entry: SwapEntry, pfn: Pfn) -> Result<(), WrongState> {
        self.cas(
            entry,
            SwapState::Compressing(pfn),
            SwapState::Stored,
            Ordering::Release,
        )
    }

    /// Compressor: the store refused the page (at its limit). The page goes back to
    /// WRITEBACK with its frame: the next fault rescues it. The ticket is spent; the
    /// page is off the LRU, so reclaim does not retry it while the store is full.
    pub fn unclaim(&self, entry: SwapEntry, pfn: Pfn) -> Result<(), WrongState> {
        self.cas(
            entry,
            SwapState::Compressing(pfn),
            SwapState::Writeback(pfn),
            Ordering::Release,
        )
    }

    /// A fault on a PTE holding `entry`: one step, never blocking. See [`Fault`].
    pub fn fault(&self, entry: SwapEntry) -> Fault {
        let Some(word) = self.word(entry) else {
            return Fault::Stale;
        };
        let mut raw = word.load(Ordering::Acquire);
        loop {
            let current = Word::decode(raw);
            if current.generation != entry.generation {
                return Fault::Stale;
            }
            let (next, outcome) = match current.state {
                SwapState::Free => return Fault::Stale,
                SwapState::Compressing(_) => return Fault::Compressing,
                SwapState::SwapIn => return Fault::OtherFault,
                SwapState::Writeback(pfn) => (SwapState::Free, Fault::Rescued(pfn)),
                SwapState::Stored => (SwapState::SwapIn, Fault::SwapIn),
            };
            let next = Word {
                generation: entry.generation,
                state: next,
            };
            // AcqRel: Acquire pairs with `complete`'s / `unclaim`'s Release (slot
            // complete, compressor done reading the frame); Release orders the
            // rescuer's earlier reads of the PTE before the entry's reuse by `alloc`.
            match word.compare_exchange(raw, next.encode(), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    if outcome != Fault::SwapIn {
                        self.in_use.fetch_sub(1, Ordering::Relaxed);
                    }
                    return outcome;
                }
                Err(now) => raw = now,
            }
        }
    }

    /// [`fault`](Self::fault) until it settles: `relax` runs between tries (host:
    /// `spin_loop` / `yield_now`; kernel: `wfe` or a short spin, compressions take
    /// microseconds).
    pub fn fault_wait(&self, entry: SwapEntry, mut relax: impl FnMut()) -> FaultResult {
        let mut waited_for_compressor = false;
        loop {
            match self.fault(entry) {
                Fault::Compressing => waited_for_compressor = true,
                Fault::OtherFault => {}
                fault => {
                    return FaultResult {
                        fault,
                        waited_for_compressor,
                    };
                }
            }
            relax();
        }
    }

    /// The faulting core loaded the slot, freed it in the store and mapped the new
    /// frame: the entry is free for reuse.
    pub fn swap_in_done(&self, entry: SwapEntry) -> Result<(), WrongState> {
        self.cas(entry, SwapState::SwapIn, SwapState::Free, Ordering::Release)?;
        self.in_use.fetch_sub(1, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn words(n: usize) -> Vec<AtomicU64> {
        (0..n).map(|_| AtomicU64::new(0)).collect()
    }

    #[test]
    fn word_round_trips() {
        for state in [
            SwapState::Free,
            SwapState::Writeback(Pfn(MAX_PFN)),
            SwapState::Compressing(Pfn(7)),
            SwapState::Stored,
            SwapState::SwapIn,
        ] {
            let word = Word {
                generation: GEN_MASK as u32,
                state,
            };
            assert_eq!(Word::decode(word.encode()), word);
        }
    }

    #[test]
    fn entry_bits_round_trip_and_reject_garbage() {
        let entry = SwapEntry {
            index: u32::MAX,
            generation: GEN_MASK as u32,
        };
        assert_eq!(SwapEntry::from_bits(entry.to_bits()), Some(entry));
        assert_eq!(SwapEntry::from_bits(1 << 60), None);
    }

    #[test]
    fn new_refuses_dirty_words() {
        let w = words(3);
        w[2].store(5, Ordering::Relaxed);
        assert_eq!(
            SwapMap::new(&w).err(),
            Some(SwapMapError::NotFree { index: 2 })
        );
    }

    #[test]
    fn store_then_swap_in_frees_the_entry() {
        let w = words(4);
        let map = SwapMap::new(&w).unwrap();
        let e = map.alloc(Pfn(42)).unwrap();
        assert_eq!(map.state(e), Some(SwapState::Writeback(Pfn(42))));
        assert_eq!(map.claim(e, Pfn(42)), Some(Pfn(42)));
        assert_eq!(map.fault(e), Fault::Compressing);
        map.complete(e, Pfn(42)).unwrap();
        assert_eq!(map.fault(e), Fault::SwapIn);
        assert_eq!(map.fault(e), Fault::OtherFault);
        map.swap_in_done(e).unwrap();
        assert_eq!(map.fault(e), Fault::Stale);
        assert_eq!(map.in_use(), 0);
    }

    #[test]
    fn rescue_makes_the_ticket_stale_even_after_reuse() {
        let w = words(1);
        let map = SwapMap::new(&w).unwrap();
        let first = map.alloc(Pfn(1)).unwrap();
        assert_eq!(map.fault(first), Fault::Rescued(Pfn(1)));
        // Same index, same frame, new generation: the old ticket must not claim it.
        let second = map.alloc(Pfn(1)).unwrap();
        assert_eq!(second.index(), first.index());
        assert_eq!(map.claim(first, Pfn(1)), None);
        assert_eq!(map.fault(first), Fault::Stale);
        assert_eq!(map.claim(second, Pfn(1)), Some(Pfn(1)));
    }

    #[test]
    fn full_map_refuses_and_recovers() {
        let w = words(2);
        let map = SwapMap::new(&w).unwrap();
        let a = map.alloc(Pfn(1)).unwrap();
        let b = map.alloc(Pfn(2)).unwrap();
        assert_ne!(a.index(), b.index());
        assert_eq!(map.alloc(Pfn(3)), None);
        map.cancel(a, Pfn(1)).unwrap();
        assert!(map.alloc(Pfn(3)).is_some());
        assert_eq!(map.alloc(Pfn(MAX_PFN + 1)), None);
    }

    #[test]
    fn wrong_transitions_are_reported_not_done() {
        let w = words(1);
        let map = SwapMap::new(&w).unwrap();
        let e = map.alloc(Pfn(9)).unwrap();
        assert_eq!(
            map.complete(e, Pfn(9)),
            Err(WrongState {
                entry: e,
                found: SwapState::Writeback(Pfn(9))
            })
        );
        assert!(map.cancel(e, Pfn(8)).is_err());
        assert!(map.swap_in_done(e).is_err());
        assert_eq!(map.state(e), Some(SwapState::Writeback(Pfn(9))));
    }

    #[test]
    fn failed_store_parks_the_page_for_rescue() {
        let w = words(1);
        let map = SwapMap::new(&w).unwrap();
        let e = map.alloc(Pfn(5)).unwrap();
        map.claim(e, Pfn(5)).unwrap();
        map.unclaim(e, Pfn(5)).unwrap();
        let result = map.fault_wait(e, || {});
        assert_eq!(result.fault, Fault::Rescued(Pfn(5)));
        assert!(!result.waited_for_compressor);
    }
}

/// Random single-threaded sequences of every transition against a plain model: the
/// word never disagrees with the model, stale holders never change anything, and
/// `in_use` counts exactly the entries not FREE.
#[cfg(all(test, not(loom)))]
mod model_tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Copy, Clone, Debug)]
    enum Op {
        Alloc(u64),
        Cancel(usize),
        Claim(usize),
        Complete(usize),
        Unclaim(usize),
        Fault(usize),
        SwapInDone(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..MAX_PFN).prop_map(Op::Alloc),
            any::<usize>().prop_map(Op::Cancel),
            any::<usize>().prop_map(Op::Claim),
            any::<usize>().prop_map(Op::Complete),
            any::<usize>().prop_map(Op::Unclaim),
            any::<usize>().prop_map(Op::Fault),
            any::<usize>().prop_map(Op::SwapInDone),
        ]
    }

    proptest! {
        #[test]
        fn swap_map_follows_the_model(ops in proptest::collection::vec(op(), 1..200)) {
            let words: Vec<AtomicU64> = (0..4).map(|_| AtomicU64::new(0)).collect();
            let map = SwapMap::new(&words).unwrap();
            // Per index: the entry of its latest allocation and its state.
            let mut model: Vec<(Option<SwapEntry>, SwapState)> = vec![(None, SwapState::Free); 4];
            // Every entry ever handed out, with its frame: live or stale.
            let mut handles: Vec<(SwapEntry, Pfn)> = Vec::new();
            for op in ops {
                let pick = |i: usize| handles.get(i % handles.len().max(1)).copied();
                let current = |h: SwapEntry, model: &[(Option<SwapEntry>, SwapState)]| {
                    let (latest, state) = model[h.index() as usize];
                    (latest == Some(h)).then_some(state).filter(|s| *s != SwapState::Free)
                };
                match op {
                    Op::Alloc(pfn) => {
                        let free = model.iter().any(|(_, s)| *s == SwapState::Free);
                        let got = map.alloc(Pfn(pfn));
                        prop_assert_eq!(got.is_some(), free);
                        if let Some(e) = got {
                            prop_assert_eq!(model[e.index() as usize].1, SwapState::Free);
                            prop_assert!(handles.iter().all(|(h, _)| *h != e), "entry reused as is");
                            model[e.index() as usize] = (Some(e), SwapState::Writeback(Pfn(pfn)));
                            handles.push((e, Pfn(pfn)));
                        }
                    }
                    Op::Fault(i) => {
                        let Some((h, _)) = pick(i) else { continue };
                        let expect = match current(h, &model) {
                            None => Fault::Stale,
                            Some(SwapState::Writeback(p)) => Fault::Rescued(p),
                            Some(SwapState::Compressing(_)) => Fault::Compressing,
                            Some(SwapState::Stored) => Fault::SwapIn,
                            Some(_) => Fault::OtherFault,
                        };
                        prop_assert_eq!(map.fault(h), expect);
                        let slot = &mut model[h.index() as usize].1;
                        match expect {
                            Fault::Rescued(_) => *slot = SwapState::Free,
                            Fault::SwapIn => *slot = SwapState::SwapIn,
                            _ => {}
                        }
                    }
                    Op::Cancel(i) | Op::Claim(i) | Op::Complete(i) | Op::Unclaim(i) | Op::SwapInDone(i) => {
                        let Some((h, pfn)) = pick(i) else { continue };
                        let (from, to) = match op {
                            Op::Cancel(_) => (SwapState::Writeback(pfn), SwapState::Free),
                            Op::Claim(_) => (SwapState::Writeback(pfn), SwapState::Compressing(pfn)),
                            Op::Complete(_) => (SwapState::Compressing(pfn), SwapState::Stored),
                            Op::Unclaim(_) => (SwapState::Compressing(pfn), SwapState::Writeback(pfn)),
                            _ => (SwapState::SwapIn, SwapState::Free),
                        };
                        let allowed = current(h, &model) == Some(from);
                        let done = match op {
                            Op::Cancel(_) => map.cancel(h, pfn).is_ok(),
                            Op::Claim(_) => map.claim(h, pfn).is_some(),
                            Op::Complete(_) => map.complete(h, pfn).is_ok(),
                            Op::Unclaim(_) => map.unclaim(h, pfn).is_ok(),
                            _ => map.swap_in_done(h).is_ok(),
                        };
                        prop_assert_eq!(done, allowed);
                        if allowed {
                            model[h.index() as usize].1 = to;
                        }
                    }
                }
                let busy = model.iter().filter(|(_, s)| *s != SwapState::Free).count();
                prop_assert_eq!(map.in_use(), busy);
                for &(h, _) in &handles {
                    let expect = if model[h.index() as usize].0 == Some(h) {
                        Some(model[h.index() as usize].1)
                    } else {
                        None
                    };
                    prop_assert_eq!(map.state(h), expect);
                }
            }
        }
    }
}

/// Model checks of the hand-off between reclaim, a compressor and faults on other
/// cores. Frames and slots are `UnsafeCell`s, so a missing Acquire/Release shows up
/// as a data race; the ring is stood in for by a one-ticket mailbox with the ring's
/// orderings (push Release, pop Acquire).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::UnsafeCell;
    use loom::sync::{Arc, Mutex};
    use loom::thread;
    use std::sync::atomic::AtomicUsize as StdCount;

    const PRESENT: u64 = 1 << 63;
    const LOCKED: u64 = 1 << 62;
    const EMPTY: u64 = u64::MAX;
    const NO_TICKET: u64 = u64::MAX - 1;
    const FRAME: Pfn = Pfn(3);

    /// The page's LRU bits.
    struct Lru {
        on_lru: bool,
        isolated: bool,
    }

    struct World {
        map: SwapMap<'static>,
        /// The workload page's PTE: `PRESENT | pfn` (maybe `LOCKED` while the
        /// workload uses it) or a swap entry's bits.
        pte: AtomicU64,
        /// The reclaimed frame's contents and the compressed slot's.
        frame: UnsafeCell<u64>,
        slot: UnsafeCell<u64>,
        /// The fresh frame a swap-in decompresses into.
        new_frame: UnsafeCell<u64>,
        mailbox: AtomicU64,
        /// The page on the LRU, and isolated by kswapd (`PG_lru`, `PG_isolated`),
        /// under the node lock as in the policy.
        lru: Mutex<Lru>,
        frames_freed: AtomicUsize,
        slots_freed: AtomicUsize,
    }

    impl World {
        fn new(frame: u64) -> Arc<World> {
            Arc::new(World {
                // Leaked: a few words per execution, so the map can borrow them.
                map: SwapMap::new(Vec::leak((0..2).map(|_| AtomicU64::new(0)).collect())).unwrap(),
                pte: AtomicU64::new(PRESENT | FRAME.0),
                frame: UnsafeCell::new(frame),
                slot: UnsafeCell::new(0),
                new_frame: UnsafeCell::new(0),
                mailbox: AtomicU64::new(EMPTY),
                lru: Mutex::new(Lru {
                    on_lru: true,
                    isolated: false,
                }),
                frames_freed: AtomicUsize::new(0),
                slots_freed: AtomicUsize::new(0),
            })
        }

        /// kswapd's shrink step on the one page: allocate, unmap, hand over.
        fn reclaim(&self) {
            let map = &self.map;
            {
                let mut lru = self.lru.lock().unwrap();
                if !lru.on_lru {
                    // Zapped first: nothing to isolate.
                    self.mailbox.store(NO_TICKET, Ordering::Release);
                    return;
                }
                *lru = Lru {
                    on_lru: false,
                    isolated: true,
                };
            }
            let entry = map.alloc(FRAME).unwrap();
            let mapped = PRESENT | FRAME.0;
            // AcqRel: Acquire pairs with the workload's Release of the PTE lock (its
            // writes to the frame are done); fails if the workload holds it.
            let unmapped = self
                .pte
                .compare_exchange(mapped, entry.to_bits(), Ordering::AcqRel, Ordering::Relaxed)
                .is_ok();
            // Handed to the compressor (off the LRU) or put back.
            *self.lru.lock().unwrap() = Lru {
                on_lru: !unmapped,
                isolated: false,
            };
            if unmapped {
                self.mailbox.store(entry.to_bits(), Ordering::Release);
            } else {
                map.cancel(entry, FRAME).unwrap();
                self.mailbox.store(NO_TICKET, Ordering::Release);
            }
        }

        /// The owner freeing its page for good (its app killed), as the kernel's
        /// `zap_pages` with `Reclaim::zap_frame` and `zap_swap_entry` do: one swap
        /// takes the PTE; a frame still mapped is freed once kswapd no longer holds
        /// it isolated; a swap entry is released through the fault protocol (its slot,
        /// or its frame if still in writeback, after any compressor at work on it).
        fn zap(&self) {
            let old = self.pte.swap(0, Ordering::AcqRel);
            if old & PRESENT != 0 {
                loop {
                    let mut lru = self.lru.lock().unwrap();
                    if !lru.isolated {
                        assert!(lru.on_lru, "a mapped page neither on the LRU nor isolated");
                        lru.on_lru = false;
                        break;
                    }
                    drop(lru);
                    thread::yield_now();
                }
                self.frames_freed.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let Some(entry) = SwapEntry::from_bits(old) else {
                return;
            };
            loop {
                match self.map.fault(entry) {
                    Fault::SwapIn => {
                        self.slots_freed.fetch_add(1, Ordering::Relaxed);
                        self.map.swap_in_done(entry).unwrap();
                        return;
                    }
                    Fault::Rescued(pfn) => {
                        assert_eq!(pfn, FRAME);
                        self.frames_freed.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    Fault::Compressing | Fault::OtherFault => thread::yield_now(),
                    Fault::Stale => panic!("the zapped entry went stale"),
                }
            }
        }

        /// kcompressd's loop body for one ticket.
        fn compress(&self) {
            let map = &self.map;
            let ticket = loop {
                match self.mailbox.load(Ordering::Acquire) {
                    EMPTY => thread::yield_now(),
                    ticket => break ticket,
                }
            };
            if ticket == NO_TICKET {
                return;
            }
            let entry = SwapEntry::from_bits(ticket).unwrap();
            if let Some(pfn) = map.claim(entry, FRAME) {
                assert_eq!(pfn, FRAME);
                // SAFETY: the claim made this core the frame's only user.
                let data = self.frame.with(|p| unsafe { *p });
                // SAFETY: the slot is written before `complete` publishes it.
                self.slot.with_mut(|p| unsafe { *p = data });
                map.complete(entry, pfn).unwrap();
                self.frames_freed.fetch_add(1, Ordering::Relaxed);
            }
        }

        /// The workload touching its page: fault it back if needed, then write
        /// `value` (or only read when `value` is `None`); returns what it read.
        fn touch(&self, value: Option<u64>) -> (u64, Option<FaultResult>) {
            let map = &self.map;
            let mut result = None;
            loop {
                let pte = self.pte.load(Ordering::Acquire);
                if pte & PRESENT != 0 {
                    // Lock the PTE (the host harness's stand-in for a TLB entry in use).
                    if pte & LOCKED != 0
                        || self
                            .pte
                            .compare_exchange(
                                pte,
                                pte | LOCKED,
                                Ordering::Acquire,
                                Ordering::Relaxed,
                            )
                            .is_err()
                    {
                        thread::yield_now();
                        continue;
                    }
                    let cell = if pte & !PRESENT == FRAME.0 {
                        &self.frame
                    } else {
                        &self.new_frame
                    };
                    // SAFETY: the PTE lock makes this core the frame's only user.
                    let read = cell.with_mut(|p| unsafe {
                        let old = *p;
                        if let Some(v) = value {
                            *p = v;
                        }
                        old
                    });
                    self.pte.store(pte, Ordering::Release);
                    return (read, result);
                }
                let entry = SwapEntry::from_bits(pte).unwrap();
                let outcome = map.fault_wait(entry, thread::yield_now);
                match outcome.fault {
                    Fault::Rescued(pfn) => {
                        assert_eq!(pfn, FRAME);
                        self.pte.store(PRESENT | pfn.0, Ordering::Release);
                    }
                    Fault::SwapIn => {
                        // SAFETY: SWAPIN makes this core the only reader of the slot
                        // and the (not yet mapped) new frame's only user.
                        let data = self.slot.with(|p| unsafe { *p });
                        // SAFETY: as above.
                        self.new_frame.with_mut(|p| unsafe { *p = data });
                        assert_eq!(self.slots_freed.fetch_add(1, Ordering::Relaxed), 0);
                        self.pte.store(PRESENT | 4, Ordering::Release);
                        map.swap_in_done(entry).unwrap();
                    }
                    Fault::Stale => thread::yield_now(),
                    Fault::Compressing | Fault::OtherFault => unreachable!(),
                }
                if outcome.fault != Fault::Stale {
                    result = Some(outcome);
                }
            }
        }
    }

    /// kswapd reclaiming the page and kcompressd compressing it, each on a thread.
    fn start_daemons(world: &Arc<World>) -> (thread::JoinHandle<()>, thread::JoinHandle<()>) {
        let kswapd = {
            let world = world.clone();
            thread::spawn(move || world.reclaim())
        };
        let kcompressd = {
            let world = world.clone();
            thread::spawn(move || world.compress())
        };
        (kswapd, kcompressd)
    }

    /// kswapd unmaps and queues the page, kcompressd compresses it, while the
    /// workload writes the page again: whatever the interleaving, the workload
    /// reads back its last write, the frame is freed only if the page was stored,
    /// and both the rescue and the wait paths are explored.
    #[test]
    fn loom_reclaim_and_compressor_vs_fault() {
        static RESCUED: StdCount = StdCount::new(0);
        static WAITED: StdCount = StdCount::new(0);
        static SWAPPED_IN: StdCount = StdCount::new(0);
        loom::model(|| {
            let world = World::new(1);
            let (kswapd, kcompressd) = start_daemons(&world);
            let (first, _) = world.touch(Some(2));
            assert_eq!(first, 1);
            let (second, fault) = world.touch(None);
            assert_eq!(second, 2, "the page lost its last write");
            kswapd.join().unwrap();
            kcompressd.join().unwrap();
            let freed = world.frames_freed.load(Ordering::Relaxed);
            match fault.map(|f| (f.fault, f.waited_for_compressor)) {
                Some((Fault::Rescued(_), _)) => {
                    assert_eq!(freed, 0);
                    RESCUED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Some((Fault::SwapIn, waited)) => {
                    assert_eq!(freed, 1);
                    SWAPPED_IN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if waited {
                        WAITED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                Some(other) => panic!("unexpected fault {other:?}"),
                // Not unmapped before the second touch: still present or just queued.
                None => {}
            }
        });
        for (name, count) in [
            ("rescued", &RESCUED),
            ("waited", &WAITED),
            ("swapped in", &SWAPPED_IN),
        ] {
            assert!(
                count.load(std::sync::atomic::Ordering::Relaxed) > 0,
                "no execution {name}"
            );
        }
    }

    /// Two faults on the same stored entry: exactly one swaps it in (one slot load,
    /// one slot free), the other waits or finds it stale and then sees the new PTE.
    #[test]
    fn loom_two_faults_on_one_entry() {
        loom::model(|| {
            let world = World::new(7);
            world.reclaim();
            world.compress();
            let other = {
                let world = world.clone();
                thread::spawn(move || world.touch(None))
            };
            let (mine, my_fault) = world.touch(None);
            let (theirs, their_fault) = other.join().unwrap();
            assert_eq!((mine, theirs), (7, 7));
            let swap_ins = [my_fault, their_fault]
                .iter()
                .filter(|f| f.is_some_and(|f| f.fault == Fault::SwapIn))
                .count();
            assert_eq!(swap_ins, 1);
            assert_eq!(world.slots_freed.load(Ordering::Relaxed), 1);
        });
    }

    /// The compressor finishing (claim, store, complete, free) against a fault on
    /// the queued page: the fault rescues the frame or swaps the stored copy in,
    /// never both, and the frame is freed exactly when it was stored.
    #[test]
    fn loom_compressor_completion_vs_fault() {
        loom::model(|| {
            let world = World::new(5);
            world.reclaim();
            let kcompressd = {
                let world = world.clone();
                thread::spawn(move || world.compress())
            };
            let (data, fault) = world.touch(None);
            kcompressd.join().unwrap();
            assert_eq!(data, 5);
            let freed = world.frames_freed.load(Ordering::Relaxed);
            match fault.map(|f| f.fault) {
                Some(Fault::Rescued(_)) => assert_eq!(freed, 0),
                Some(Fault::SwapIn) => assert_eq!(freed, 1),
                other => panic!("unexpected fault {other:?}"),
            }
        });
    }

    /// An app killed while kswapd reclaims its page and kcompressd compresses it:
    /// whatever the interleaving, the frame is freed exactly once (by the zapper if
    /// it took the page mapped or still in writeback, else by the compressor), the
    /// slot is freed exactly when the page was stored, and no swap entry is left.
    #[test]
    fn loom_kill_vs_reclaim_and_compressor() {
        static TAKEN_MAPPED: StdCount = StdCount::new(0);
        static RESCUED: StdCount = StdCount::new(0);
        static STORED: StdCount = StdCount::new(0);
        loom::model(|| {
            let world = World::new(9);
            let (kswapd, kcompressd) = start_daemons(&world);
            world.zap();
            kswapd.join().unwrap();
            kcompressd.join().unwrap();
            assert_eq!(
                world.frames_freed.load(Ordering::Relaxed),
                1,
                "the frame once"
            );
            assert_eq!(world.map.in_use(), 0, "a swap entry left behind");
            assert_eq!(world.pte.load(Ordering::Relaxed), 0);
            let lru = world.lru.lock().unwrap();
            assert!(!lru.on_lru && !lru.isolated, "a freed page left on the LRU");
            drop(lru);
            let slots = world.slots_freed.load(Ordering::Relaxed);
            let count = match (world.mailbox.load(Ordering::Relaxed), slots) {
                (NO_TICKET, 0) => &TAKEN_MAPPED,
                (_, 0) => &RESCUED,
                (_, 1) => &STORED,
                other => panic!("unexpected end {other:?}"),
            };
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        for (name, count) in [
            ("taken while mapped", &TAKEN_MAPPED),
            ("rescued from writeback", &RESCUED),
            ("freed from the store", &STORED),
        ] {
            assert!(
                count.load(std::sync::atomic::Ordering::Relaxed) > 0,
                "no execution {name}"
            );
        }
    }
}
