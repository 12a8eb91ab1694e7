//! The per-CPU event buffer: [`TraceBuffer`] over its [`Slot`]s, one writer and any
//! number of lock-free readers, with the sequence-lock protocol below. It stores and
//! returns [`Record`]s only: it never formats them, and it knows no sink and no CPU.
//!
//! A [`TraceBuffer`] is a fixed array of slots written by one CPU (the one it belongs
//! to, in one context at a time, like `vmstat`'s counters) and read by a dump that may
//! run on another CPU while the writer goes on. When full it overwrites the oldest
//! record, like ftrace's ring buffer in overwrite mode: a dump shows the most recent
//! `capacity` records and counts the rest as `overwritten`.
//!
//! Each slot is a sequence lock whose value names the record it holds: record number
//! `p` (counted from 0 since the buffer was made) lives in slot `p % capacity`, and
//! the slot's `seq` is `2p + 1` while it is being written and `2p + 2` once complete.
//! - writer: `seq := 2p+1` (Relaxed); `fence(Release)`; payload stores (Relaxed);
//!   `seq := 2p+2` (Release); `head := p+1` (Release).
//! - reader of record `p < head` (head loaded with Acquire): `s1 = seq` (Acquire) must
//!   be `2p+2`, else the writer has lapped it (overwritten); payload loads (Relaxed);
//!   `fence(Acquire)`; `s2 = seq` (Relaxed) must still be `s1`, else a newer record was
//!   being written over it while we read (torn) and it is skipped.
//!
//! If a payload load saw a store of a newer record, the writer's Release fence before
//! that store and the reader's Acquire fence after the load make the newer `2p'+1`
//! visible to the second `seq` load, so a mixed record is never returned. Everything
//! is an atomic, so even a torn read is no data race. The loom test
//! `trace_loom_reader_never_returns_a_torn_record` checks this.

use core::fmt;

use crossbeam_utils::CachePadded;

use super::{Event, Record};
use crate::sync::{AtomicU64, Ordering, fence};

/// One record's storage: a sequence word and the payload (see the protocol in
/// `trace/buffer.rs`).
#[derive(Debug)]
pub struct Slot {
    seq: AtomicU64,
    ticks: AtomicU64,
    words: [AtomicU64; 2],
}

impl Slot {
    /// An empty slot (holds no record).
    pub fn new() -> Self {
        Slot {
            seq: AtomicU64::new(0),
            ticks: AtomicU64::new(0),
            words: [AtomicU64::new(0), AtomicU64::new(0)],
        }
    }
}

impl Default for Slot {
    fn default() -> Self {
        Self::new()
    }
}

/// [`TraceBuffer::new`] was given no slots.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct NoSlots;

impl fmt::Display for NoSlots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a trace buffer needs at least one slot")
    }
}

/// What one read of a buffer returned and lost.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Records handed to the caller.
    pub events: u64,
    /// Records written since the last `clear` that the writer replaced before the
    /// reader got to them (the buffer wrapped).
    pub overwritten: u64,
    /// Records the writer started replacing while the reader read them: skipped.
    pub torn: u64,
}

/// One CPU's event buffer: one writer (that CPU), any number of readers, lock-free.
/// Overwrites the oldest record when full (see the protocol in `trace/buffer.rs`).
pub struct TraceBuffer<'a> {
    slots: &'a [Slot],
    /// Number of the next record to write. Written by the writer only.
    head: CachePadded<AtomicU64>,
    /// First record number a read returns (set by `clear`). Readers only.
    start: AtomicU64,
}

impl<'a> TraceBuffer<'a> {
    /// A buffer over `slots` (which must be empty: fresh from [`Slot::new`]).
    pub fn new(slots: &'a [Slot]) -> Result<Self, NoSlots> {
        if slots.is_empty() {
            return Err(NoSlots);
        }
        Ok(TraceBuffer {
            slots,
            head: CachePadded::new(AtomicU64::new(0)),
            start: AtomicU64::new(0),
        })
    }

    /// Records it holds when full.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    fn slot(&self, p: u64) -> &Slot {
        &self.slots[(p % self.slots.len() as u64) as usize]
    }

    /// Appends `event` at `ticks`, replacing the oldest record if the buffer is full.
    /// Only the buffer's CPU may call this, in one context at a time (two concurrent
    /// writers would garble records, never memory: everything is atomic).
    pub fn record(&self, ticks: u64, event: Event) {
        // Relaxed: only this writer stores `head`.
        let p = self.head.load(Ordering::Relaxed);
        let slot = self.slot(p);
        // Odd: being written. Relaxed, ordered before the payload by the fence.
        slot.seq.store(2 * p + 1, Ordering::Relaxed);
        // Release fence: a reader whose payload load sees a store below also sees the
        // odd `seq` on its re-check (pairs with the reader's Acquire fence).
        fence(Ordering::Release);
        slot.ticks.store(ticks, Ordering::Relaxed);
        for (word, value) in slot.words.iter().zip(event.to_words()) {
            word.store(value, Ordering::Relaxed);
        }
        // Release: the payload before the "complete" mark (reader's Acquire load).
        slot.seq.store(2 * p + 2, Ordering::Release);
        // Release: the slot's completion before a reader that loads `head` reads it.
        self.head.store(p + 1, Ordering::Release);
    }

    /// Hides every record written so far from later reads (the writer is untouched).
    pub fn clear(&self) {
        // Relaxed store: `start` orders nothing, it is a number only readers use.
        self.start
            .store(self.head.load(Ordering::Acquire), Ordering::Relaxed);
    }

    /// Hands every record written since the last `clear` and still held to `f`,
    /// oldest first, skipping any the writer replaces meanwhile. Does not consume.
    pub fn read(&self, mut f: impl FnMut(Record)) -> ReadStats {
        // Acquire pairs with the writer's Release store: records before it are complete.
        let head = self.head.load(Ordering::Acquire);
        let start = self.start.load(Ordering::Relaxed).min(head);
        let first = start.max(head.saturating_sub(self.slots.len() as u64));
        let mut stats = ReadStats {
            overwritten: first - start,
            ..ReadStats::default()
        };
        for p in first..head {
            match self.read_at(p) {
                Ok(record) => {
                    stats.events += 1;
                    f(record);
                }
                Err(Lost::Overwritten) => stats.overwritten += 1,
                Err(Lost::Torn) => stats.torn += 1,
            }
        }
        stats
    }

    /// Record `p` (`p < head`), if the writer leaves it alone while we read it.
    fn read_at(&self, p: u64) -> Result<Record, Lost> {
        let slot = self.slot(p);
        // Acquire pairs with the writer's Release "complete" store: payload visible.
        let s1 = slot.seq.load(Ordering::Acquire);
        if s1 != 2 * p + 2 {
            return Err(Lost::Overwritten);
        }
        let ticks = slot.ticks.load(Ordering::Relaxed);
        let words = [
            slot.words[0].load(Ordering::Relaxed),
            slot.words[1].load(Ordering::Relaxed),
        ];
        // Acquire fence: if a payload load above saw a newer record's store, the
        // newer odd `seq` (stored before the writer's Release fence) is seen below.
        fence(Ordering::Acquire);
        if slot.seq.load(Ordering::Relaxed) != s1 {
            return Err(Lost::Torn);
        }
        // A complete record always decodes; a payload that does not is not ours.
        let event = Event::from_words(words).ok_or(Lost::Torn)?;
        Ok(Record { ticks, event })
    }
}

/// Why a record could not be read.
enum Lost {
    Overwritten,
    Torn,
}

#[cfg(all(test, not(loom)))]
pub(super) mod tests {
    use super::*;
    use crate::trace::FaultKind;
    use std::vec::Vec;

    /// A buffer of `n` fresh slots (leaked: tests only).
    pub(in crate::trace) fn buffer(n: usize) -> TraceBuffer<'static> {
        let slots: &'static [Slot] = Vec::leak((0..n).map(|_| Slot::new()).collect());
        TraceBuffer::new(slots).unwrap()
    }

    fn records(buf: &TraceBuffer<'_>) -> (Vec<Record>, ReadStats) {
        let mut out = Vec::new();
        let stats = buf.read(|r| out.push(r));
        (out, stats)
    }

    fn fault(ticks: u64) -> Record {
        Record {
            ticks,
            event: Event::PageFault(FaultKind::Swap),
        }
    }

    #[test]
    fn empty_buffer_is_refused() {
        assert_eq!(TraceBuffer::new(&[]).err(), Some(NoSlots));
    }

    #[test]
    fn full_buffer_keeps_the_newest_and_counts_the_rest() {
        let buf = buffer(4);
        for t in 0..10 {
            buf.record(t, fault(t).event);
        }
        let (got, stats) = records(&buf);
        assert_eq!(got, (6..10).map(fault).collect::<Vec<_>>());
        assert_eq!(
            stats,
            ReadStats {
                events: 4,
                overwritten: 6,
                torn: 0
            }
        );
    }

    #[test]
    fn clear_hides_what_was_written_and_not_what_follows() {
        let buf = buffer(4);
        buf.record(1, fault(1).event);
        buf.clear();
        assert_eq!(records(&buf).1, ReadStats::default());
        for t in 2..8 {
            buf.record(t, fault(t).event);
        }
        let (got, stats) = records(&buf);
        assert_eq!(got.first(), Some(&fault(4)));
        assert_eq!(stats.overwritten, 2, "two of the six since clear were lost");
    }

    /// A record whose slot is being rewritten (odd seq, as the writer leaves it
    /// mid-write) or already holds a newer record is skipped, never returned.
    #[test]
    fn torn_and_lapped_records_are_skipped() {
        let buf = buffer(2);
        buf.record(0, fault(0).event);
        buf.record(1, fault(1).event);
        // Record 0's slot caught mid-rewrite by record 2.
        buf.slots[0].seq.store(2 * 2 + 1, Ordering::Relaxed);
        buf.slots[0].ticks.store(99, Ordering::Relaxed);
        let (got, stats) = records(&buf);
        assert_eq!(got, [fault(1)]);
        assert_eq!(stats.overwritten, 1);
        // A complete slot whose payload is not an event (code 200).
        buf.slots[1].words[0].store(200, Ordering::Relaxed);
        assert_eq!(records(&buf).1.torn, 1);
    }
}
