//! Reclaim tracing: the events reclaim emits (named after Linux's tracepoints where
//! one exists), the per-CPU event buffer they land in, the global sink that lets the
//! policy emit without knowing who records, and the text dump format with its parser
//! (the host's `trace-convert` reads what the kernel prints). It never reads a clock
//! or a CPU number: the sink's owner (the kernel) stamps and files each event.
//!
//! # The buffer
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
//!
//! # The sink
//!
//! [`emit`] costs one Relaxed load while tracing is off. When it is on, it calls the
//! function installed once with [`set_sink`] (the kernel's, which stamps the event
//! with the generic timer and files it in the calling CPU's buffer).
//!
//! # The dump format
//!
//! One line per item, each starting with `TRACE ` so it can be picked out of a console
//! log (fields are `key=value`, numbers in decimal):
//!
//! ```text
//! TRACE BEGIN label=async freq_hz=62500000
//! TRACE 1 812345678 mm_vmscan_kswapd_wake
//! TRACE 1 812345990 mm_vmscan_lru_shrink_inactive nr_scanned=32 nr_reclaimed=31 nr_activate=1
//! TRACE CPU cpu=1 events=2 overwritten=0 torn=0
//! TRACE END label=async
//! ```
//!
//! `BEGIN` names the dump (the benchmark mode) and the tick frequency; then each CPU's
//! records, oldest first, `TRACE <cpu> <ticks> <event> <fields>`, closed by its `CPU`
//! line with what it returned and lost; `END` closes the dump. Ticks are the caller's
//! clock (the kernel: the generic timer's count since reset), one clock for every CPU.

use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering as SinkOrdering};

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicU64, Ordering, fence};

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
    /// `nr_reclaimed` counts pages freed now plus pages queued to kcompressd.
    LruShrinkInactive {
        nr_scanned: u32,
        nr_reclaimed: u32,
        nr_activate: u32,
    },
    /// `mm_vmscan_lru_shrink_active`: the active list was aged (`nr_taken` pages
    /// looked at, `nr_deactivated` moved to the inactive list).
    LruShrinkActive { nr_taken: u32, nr_deactivated: u32 },
    /// `mm_vmscan_direct_reclaim_begin`: an allocation fell below `min`.
    DirectReclaimBegin,
    /// `mm_vmscan_direct_reclaim_end`.
    DirectReclaimEnd { nr_reclaimed: u32 },
    /// kswapd queued pages to kcompressd in one batch.
    KcompressdEnqueue { nr_pages: u32 },
    /// Pages of one batch that found every kcompressd ring full.
    KcompressdRingFull { nr_pages: u32 },
    /// A kcompressd worker compressed and stored a batch it popped.
    KcompressdCompressDone { nr_pages: u32 },
    /// A fault in the workload region, by what the PTE held.
    PageFault(FaultKind),
    /// A swap fault found its page still in writeback and took the frame back.
    SwapinRescue,
    /// A swap fault decompressed its page into a new frame and mapped it.
    SwapinDone,
    /// Periodic state for plots: free frames, pages queued in the kcompressd rings,
    /// and `pgsteal_anon` since boot (modulo 2^32).
    Sample {
        nr_free: u32,
        ring_depth: u32,
        pgsteal_anon: u32,
    },
}

/// Fields an event carries at most.
const MAX_FIELDS: usize = 3;

/// Each event's name and field names, indexed by its code (the order of
/// [`Event::encode`]).
const KINDS: [(&str, &[&str]); 16] = [
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
    fn decode(code: u8, f: [u32; MAX_FIELDS]) -> Option<Event> {
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
    fn to_words(self) -> [u64; 2] {
        let (code, f) = self.encode();
        [
            u64::from(code) | u64::from(f[0]) << 32,
            u64::from(f[1]) | u64::from(f[2]) << 32,
        ]
    }

    fn from_words(w: [u64; 2]) -> Option<Event> {
        Event::decode(
            w[0] as u8,
            [(w[0] >> 32) as u32, w[1] as u32, (w[1] >> 32) as u32],
        )
    }
}

/// An event with its timestamp (the caller's clock ticks).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub ticks: u64,
    pub event: Event,
}

// ---- the per-CPU buffer ----

/// One record's storage: a sequence word and the payload (see the module docs).
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
/// Overwrites the oldest record when full (see the module docs).
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

// ---- the global sink ----

/// Whether `emit` calls the sink. `core` atomics even under loom: a switch, no protocol.
static ENABLED: AtomicBool = AtomicBool::new(false);
static SINK: spin::Once<fn(Event)> = spin::Once::new();

/// [`set_sink`] was called before: the sink is installed once.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SinkAlreadySet;

impl fmt::Display for SinkAlreadySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the trace sink is already installed")
    }
}

/// Installs the function every [`emit`] calls while tracing is on. Once.
pub fn set_sink(sink: fn(Event)) -> Result<(), SinkAlreadySet> {
    let mut installed = false;
    SINK.call_once(|| {
        installed = true;
        sink
    });
    if installed {
        Ok(())
    } else {
        Err(SinkAlreadySet)
    }
}

/// Turns tracing on or off (events emitted while off are not recorded).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, SinkOrdering::Relaxed);
}

/// Whether tracing is on. Callers whose event costs something to build (a lock, a
/// sum) check this first.
#[inline(always)]
pub fn enabled() -> bool {
    // Relaxed: a switch; an event emitted just after it flips may go either way.
    ENABLED.load(SinkOrdering::Relaxed)
}

/// Hands `event` to the sink when tracing is on; one Relaxed load when it is off.
#[inline(always)]
pub fn emit(event: Event) {
    if enabled() {
        emit_slow(event);
    }
}

#[cold]
fn emit_slow(event: Event) {
    if let Some(sink) = SINK.get() {
        sink(event);
    }
}

// ---- the dump format ----

/// One line of a dump (see the module docs for the text).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DumpLine<'a> {
    /// Opens a dump: its label (one word) and the tick frequency.
    Begin { label: &'a str, freq_hz: u64 },
    /// One record of CPU `cpu`.
    Record { cpu: u32, record: Record },
    /// Closes CPU `cpu`'s records: what its read returned and lost.
    Cpu { cpu: u32, stats: ReadStats },
    /// Closes the dump.
    End { label: &'a str },
}

/// Line prefix of every dump line.
const PREFIX: &str = "TRACE ";

impl fmt::Display for DumpLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PREFIX)?;
        match *self {
            DumpLine::Begin { label, freq_hz } => {
                write!(f, "BEGIN label={label} freq_hz={freq_hz}")
            }
            DumpLine::Record { cpu, record } => {
                write!(f, "{cpu} {} {}", record.ticks, record.event.name())?;
                for (name, value) in record.event.fields() {
                    write!(f, " {name}={value}")?;
                }
                Ok(())
            }
            DumpLine::Cpu { cpu, stats } => write!(
                f,
                "CPU cpu={cpu} events={} overwritten={} torn={}",
                stats.events, stats.overwritten, stats.torn
            ),
            DumpLine::End { label } => write!(f, "END label={label}"),
        }
    }
}

/// Writes a whole dump, one [`DumpLine`] at a time, to `line`: `BEGIN`, each
/// `(cpu, buffer)`'s records and `CPU` line, `END`. Labels are one word.
pub fn dump(
    label: &str,
    freq_hz: u64,
    buffers: &[(u32, &TraceBuffer<'_>)],
    mut line: impl FnMut(DumpLine<'_>),
) {
    line(DumpLine::Begin { label, freq_hz });
    for &(cpu, buffer) in buffers {
        let stats = buffer.read(|record| line(DumpLine::Record { cpu, record }));
        line(DumpLine::Cpu { cpu, stats });
    }
    line(DumpLine::End { label });
}

/// A `TRACE` line that does not follow the format.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// What was wrong, e.g. "unknown event name".
    pub what: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad trace line: {}", self.what)
    }
}

fn bad(what: &'static str) -> ParseError {
    ParseError { what }
}

/// The value of the `key=value` word `word`, if it has that key.
fn value<'a>(word: Option<&'a str>, key: &str) -> Result<&'a str, ParseError> {
    word.and_then(|w| w.strip_prefix(key)?.strip_prefix('='))
        .ok_or(bad("missing or misplaced field"))
}

fn number<T: core::str::FromStr>(word: Option<&str>, key: &str) -> Result<T, ParseError> {
    value(word, key)?
        .parse()
        .map_err(|_| bad("field value is not a number"))
}

/// Parses one console line: None if it is not a dump line (no `TRACE ` prefix), else
/// the line or what is wrong with it. Accepts exactly what `Display` writes (trailing
/// `\r` and spaces aside).
pub fn parse_line(line: &str) -> Option<Result<DumpLine<'_>, ParseError>> {
    let rest = line.trim_end().strip_prefix(PREFIX)?;
    Some(parse_rest(rest))
}

fn parse_rest(rest: &str) -> Result<DumpLine<'_>, ParseError> {
    let mut words = rest.split(' ');
    let first = words.next().ok_or(bad("empty line"))?;
    let line = match first {
        "BEGIN" => DumpLine::Begin {
            label: value(words.next(), "label")?,
            freq_hz: number(words.next(), "freq_hz")?,
        },
        "CPU" => DumpLine::Cpu {
            cpu: number(words.next(), "cpu")?,
            stats: ReadStats {
                events: number(words.next(), "events")?,
                overwritten: number(words.next(), "overwritten")?,
                torn: number(words.next(), "torn")?,
            },
        },
        "END" => DumpLine::End {
            label: value(words.next(), "label")?,
        },
        cpu => {
            let cpu = cpu.parse().map_err(|_| bad("CPU number expected"))?;
            let ticks = words
                .next()
                .and_then(|w| w.parse().ok())
                .ok_or(bad("tick count expected"))?;
            let name = words.next().ok_or(bad("event name expected"))?;
            let code = KINDS
                .iter()
                .position(|k| k.0 == name)
                .ok_or(bad("unknown event name"))?;
            let mut fields = [0; MAX_FIELDS];
            for (slot, key) in fields.iter_mut().zip(KINDS[code].1) {
                *slot = number(words.next(), key)?;
            }
            let event = Event::decode(code as u8, fields).ok_or(bad("unknown event name"))?;
            DumpLine::Record {
                cpu,
                record: Record { ticks, event },
            }
        }
    };
    if words.next().is_some() {
        return Err(bad("unexpected words at the end"));
    }
    if let DumpLine::Begin { label: "", .. } | DumpLine::End { label: "" } = line {
        return Err(bad("empty label"));
    }
    Ok(line)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;
    use std::vec::Vec;

    fn buffer(n: usize) -> TraceBuffer<'static> {
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

    #[test]
    fn the_documented_example_parses() {
        let line = "TRACE 1 812345990 mm_vmscan_lru_shrink_inactive nr_scanned=32 nr_reclaimed=31 nr_activate=1\r";
        assert_eq!(
            parse_line(line),
            Some(Ok(DumpLine::Record {
                cpu: 1,
                record: Record {
                    ticks: 812345990,
                    event: Event::LruShrinkInactive {
                        nr_scanned: 32,
                        nr_reclaimed: 31,
                        nr_activate: 1
                    }
                }
            }))
        );
        assert_eq!(parse_line("bench: PROGRESS mode=sync"), None);
    }

    #[test]
    fn bad_lines_get_an_error_naming_the_fault() {
        for (line, what) in [
            ("TRACE 1 5 mm_vmscan_kswapd_nap", "unknown event name"),
            ("TRACE 1 x mm_vmscan_kswapd_wake", "tick count expected"),
            ("TRACE one 5 mm_vmscan_kswapd_wake", "CPU number expected"),
            (
                "TRACE 1 5 kcompressd_enqueue nr_pages=-1",
                "field value is not a number",
            ),
            (
                "TRACE 1 5 kcompressd_enqueue pages=3",
                "missing or misplaced field",
            ),
            (
                "TRACE 1 5 mm_vmscan_kswapd_wake extra",
                "unexpected words at the end",
            ),
            ("TRACE BEGIN label= freq_hz=1", "empty label"),
            ("TRACE END", "missing or misplaced field"),
        ] {
            assert_eq!(parse_line(line), Some(Err(bad(what))), "{line}");
        }
    }

    fn any_event() -> impl Strategy<Value = Event> {
        (0u8..16, any::<[u32; 3]>()).prop_map(|(code, f)| {
            // Decode, then keep only the fields the event has (encode zeroes the rest).
            let e = Event::decode(code, f).unwrap();
            Event::from_words(e.to_words()).unwrap()
        })
    }

    proptest! {
        #[test]
        fn words_round_trip(e in any_event()) {
            prop_assert_eq!(Event::from_words(e.to_words()), Some(e));
        }

        #[test]
        fn record_lines_round_trip(cpu in any::<u32>(), ticks in any::<u64>(), event in any_event()) {
            let line = DumpLine::Record { cpu, record: Record { ticks, event } };
            let text = line.to_string();
            prop_assert_eq!(parse_line(&text), Some(Ok(line)));
        }

        /// A dump of a buffer that may have wrapped parses back to the records that
        /// were written last, in order, with the counts the `CPU` line gives.
        #[test]
        fn dump_then_parse_round_trips(
            cap in 1usize..16,
            events in proptest::collection::vec(any_event(), 0..40),
            label in "[a-z0-9_]{1,12}",
            freq_hz in any::<u64>(),
        ) {
            let buf = buffer(cap);
            for (t, &e) in events.iter().enumerate() {
                buf.record(t as u64, e);
            }
            let mut text = std::string::String::new();
            dump(&label, freq_hz, &[(3, &buf)], |l| {
                text.push_str(&l.to_string());
                text.push('\n');
            });
            let lines: Vec<DumpLine<'_>> =
                text.lines().map(|l| parse_line(l).unwrap().unwrap()).collect();
            prop_assert_eq!(lines[0], DumpLine::Begin { label: &label, freq_hz });
            prop_assert_eq!(*lines.last().unwrap(), DumpLine::End { label: &label });
            let kept = events.len().min(cap);
            let skip = events.len() - kept;
            let want: Vec<DumpLine<'_>> = events
                .iter()
                .enumerate()
                .skip(skip)
                .map(|(t, &event)| DumpLine::Record { cpu: 3, record: Record { ticks: t as u64, event } })
                .collect();
            prop_assert_eq!(&lines[1..1 + kept], &want[..]);
            prop_assert_eq!(
                lines[1 + kept],
                DumpLine::Cpu { cpu: 3, stats: ReadStats { events: kept as u64, overwritten: skip as u64, torn: 0 } }
            );
        }
    }
}
