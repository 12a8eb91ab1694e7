//! The text dump format: [`DumpLine`] (and its `Display`), [`dump`] that writes a whole
//! dump from buffers, and [`parse_line`] that reads one line back (the host's
//! `trace-convert`). It reads buffers only through `TraceBuffer::read`: no atomics here.
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

use super::event::{KINDS, MAX_FIELDS};
use super::{Event, ReadStats, Record, TraceBuffer};

/// One line of a dump (the format is at the top of `trace/dump.rs`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DumpLine<'a> {
    /// Opens a dump.
    Begin {
        /// Names the dump (one word: the benchmark mode).
        label: &'a str,
        /// Ticks per second of the records' clock.
        freq_hz: u64,
    },
    /// One record of a CPU.
    Record {
        /// The CPU whose buffer held it.
        cpu: u32,
        /// The record.
        record: Record,
    },
    /// Closes a CPU's records.
    Cpu {
        /// The CPU.
        cpu: u32,
        /// What its read returned and lost.
        stats: ReadStats,
    },
    /// Closes the dump.
    End {
        /// The label `Begin` gave.
        label: &'a str,
    },
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
    use crate::trace::buffer::tests::buffer;
    use crate::trace::event::tests::any_event;
    use proptest::prelude::*;
    use std::string::ToString;
    use std::vec::Vec;

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

    proptest! {
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
