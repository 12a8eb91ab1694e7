//! Reclaim tracing. This file owns the global sink ([`emit`], [`set_sink`],
//! [`set_enabled`]) and re-exports the rest so every item is `mm::trace::X`; it never
//! reads a clock or a CPU number (the sink's owner, the kernel, stamps and files events).
//!
//! The events reclaim emits are named after Linux's tracepoints where one exists
//! (`event.rs`); they land in a per-CPU event buffer (`buffer.rs`, with its seqlock
//! protocol); the sink lets the policy emit without knowing who records; the text dump
//! format and its parser (`dump.rs`) carry them to the host's `trace-convert`.
//!
//! # The sink
//!
//! [`emit`] costs one Relaxed load while tracing is off. When it is on, it calls the
//! function installed once with [`set_sink`] (the kernel's, which stamps the event
//! with the generic timer and files it in the calling CPU's buffer).

mod buffer;
mod dump;
mod event;

pub use buffer::{NoSlots, ReadStats, Slot, TraceBuffer};
pub use dump::{DumpLine, ParseError, dump, parse_line};
pub use event::{Event, FaultKind, Record};

use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

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
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether tracing is on. Callers whose event costs something to build (a lock, a
/// sum) check this first.
#[inline(always)]
pub fn enabled() -> bool {
    // Relaxed: a switch; an event emitted just after it flips may go either way.
    ENABLED.load(Ordering::Relaxed)
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
