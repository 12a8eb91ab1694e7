//! loom model of the trace buffer's sequence locks: one writer filling (and
//! wrapping) a small buffer while a reader dumps it over and over; the reader returns
//! only whole records, in order, and accounts for every record it does not return.
//! (Checked to fail when the reader's Acquire fence is removed.) Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p mm --release loom`.
#![cfg(loom)]
#![forbid(unsafe_code)]

use loom::model::Builder;
use loom::thread;
use mm::trace::{Event, Slot, TraceBuffer};

/// The event written at tick `t`: its fields are functions of `t`, so a record mixing
/// two writes shows.
fn event(t: u64) -> Event {
    let t = t as u32;
    Event::LruShrinkInactive {
        nr_scanned: t,
        nr_reclaimed: t + 100,
        nr_activate: t + 200,
    }
}

#[test]
fn trace_loom_reader_never_returns_a_torn_record() {
    let mut builder = Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(|| {
        // loom threads need `'static` data; one small leak per explored execution.
        let slots: &'static [Slot] = Box::leak(vec![Slot::new(), Slot::new()].into_boxed_slice());
        let buf: &'static TraceBuffer<'static> =
            Box::leak(Box::new(TraceBuffer::new(slots).unwrap()));
        let writer = thread::spawn(move || {
            for t in 0..3 {
                buf.record(t, event(t));
            }
        });
        // The reader dumps again and again while the writer goes on, until it has
        // covered all three records (yielding lets loom run the writer in between).
        loop {
            let mut seen = Vec::new();
            let stats = buf.read(|r| seen.push(r));
            for r in &seen {
                assert_eq!(r.event, event(r.ticks), "torn record returned: {r:?}");
            }
            assert!(seen.windows(2).all(|w| w[0].ticks < w[1].ticks));
            assert_eq!(stats.events, seen.len() as u64);
            // A read covers a prefix of the writes: returned + lost = that prefix.
            let covered = stats.events + stats.overwritten + stats.torn;
            assert!(seen.last().is_none_or(|r| r.ticks + 1 == covered));
            if covered == 3 {
                break;
            }
            thread::yield_now();
        }
        writer.join().unwrap();
    });
}
