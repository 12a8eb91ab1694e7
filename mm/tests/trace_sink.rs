//! The global trace sink, in its own test process (it is process-wide state): off by
//! default, nothing reaches the sink while tracing is off, installed once.
#![forbid(unsafe_code)]

use std::sync::Mutex;

use mm::trace::{self, Event, SinkAlreadySet};

static SEEN: Mutex<Vec<Event>> = Mutex::new(Vec::new());

fn sink(event: Event) {
    SEEN.lock().unwrap().push(event);
}

fn other_sink(_: Event) {}

#[test]
fn emit_reaches_the_sink_only_while_enabled() {
    assert!(!trace::enabled(), "off by default");
    trace::emit(Event::KswapdWake);
    assert_eq!(trace::set_sink(sink), Ok(()));
    assert_eq!(trace::set_sink(other_sink), Err(SinkAlreadySet));
    trace::emit(Event::KswapdWake);
    trace::set_enabled(true);
    trace::emit(Event::KswapdSleep);
    trace::set_enabled(false);
    trace::emit(Event::KswapdWake);
    assert_eq!(*SEEN.lock().unwrap(), [Event::KswapdSleep]);
}
