//! What `trace-convert` does with a console log: finds the trace dumps the kernel
//! printed (`mm::trace`'s format, read with its parser), and turns them into a
//! Chrome/Perfetto trace (Trace Event Format JSON) and an SVG of free frames, reclaim
//! rate and kcompressd ring depth over time, one line per label (benchmark mode).
//! It reads and draws only; the events and their meaning are `mm::trace`'s.

use std::collections::BTreeSet;

use mm::trace::{self, DumpLine, Event, ReadStats, Record};
use serde_json::{Map, Value, json};

use crate::plot::{self, Panel, Series};

/// One dump: its label, tick frequency, records by time and each CPU's counts.
#[derive(Debug)]
pub struct Dump {
    pub label: String,
    pub freq_hz: u64,
    /// `(cpu, record)`, oldest first.
    pub records: Vec<(u32, Record)>,
    /// Each CPU's `CPU` line: records returned, overwritten, torn.
    pub cpus: Vec<(u32, ReadStats)>,
}

impl Dump {
    /// Records the kernel could not return (overwritten or torn), all CPUs.
    pub fn lost(&self) -> u64 {
        self.cpus.iter().map(|(_, s)| s.overwritten + s.torn).sum()
    }

    /// The `reclaim_sample` events: `(ticks, nr_free, ring_depth, pgsteal_anon)`.
    fn samples(&self) -> Vec<(u64, u32, u32, u32)> {
        self.records
            .iter()
            .filter_map(|&(_, r)| match r.event {
                Event::Sample {
                    nr_free,
                    ring_depth,
                    pgsteal_anon,
                } => Some((r.ticks, nr_free, ring_depth, pgsteal_anon)),
                _ => None,
            })
            .collect()
    }

    /// Reclaimed pages per second (`pgsteal_anon`, modulo 2^32 in the samples)
    /// between samples at least 100 ms apart: `(ticks at the window's end, rate)`.
    fn reclaim_rate(&self) -> Vec<(u64, f64)> {
        let window = (self.freq_hz / 10).max(1);
        let mut out = Vec::new();
        let mut prev: Option<(u64, u32)> = None;
        for (ticks, _, _, pgsteal) in self.samples() {
            match prev {
                Some((t, p)) if ticks - t >= window => {
                    let secs = (ticks - t) as f64 / self.freq_hz as f64;
                    out.push((ticks, f64::from(pgsteal.wrapping_sub(p)) / secs));
                    prev = Some((ticks, pgsteal));
                }
                Some(_) => {}
                None => prev = Some((ticks, pgsteal)),
            }
        }
        out
    }

    /// Seconds from the dump's first record to `ticks`.
    fn seconds(&self, ticks: u64) -> f64 {
        let first = self.records.first().map_or(ticks, |r| r.1.ticks);
        ticks.saturating_sub(first) as f64 / self.freq_hz.max(1) as f64
    }

    /// What each CPU did in this dump, from the events it emitted.
    fn role(&self, cpu: u32) -> String {
        let mut roles = BTreeSet::new();
        for &(c, r) in &self.records {
            if c != cpu {
                continue;
            }
            roles.insert(match r.event {
                Event::KswapdWake | Event::KswapdSleep => "kswapd",
                Event::KcompressdCompressDone { .. } => "kcompressd",
                Event::PageFault(_) | Event::DirectReclaimBegin => "workload",
                _ => continue,
            });
        }
        let roles: Vec<&str> = roles.into_iter().collect();
        if roles.is_empty() {
            format!("cpu{cpu}")
        } else {
            format!("cpu{cpu} {}", roles.join("+"))
        }
    }
}

/// Every dump in `log`, in order. Lines without the `TRACE ` prefix are skipped; a
/// malformed trace line, a dump left open, or a `CPU` line whose count differs from
/// the records in the log (lines lost on the way) is an error naming the line.
pub fn parse_log(log: &str) -> Result<Vec<Dump>, String> {
    let mut dumps = Vec::new();
    let mut open: Option<Dump> = None;
    for (n, text) in log.lines().enumerate() {
        let at = |what: String| format!("line {}: {what}", n + 1);
        let Some(line) = trace::parse_line(text) else {
            continue;
        };
        match (line.map_err(|e| at(e.to_string()))?, open.as_mut()) {
            (DumpLine::Begin { label, freq_hz }, None) => {
                if freq_hz == 0 {
                    return Err(at("tick frequency 0".into()));
                }
                open = Some(Dump {
                    label: label.to_string(),
                    freq_hz,
                    records: Vec::new(),
                    cpus: Vec::new(),
                });
            }
            (DumpLine::Record { cpu, record }, Some(dump)) => dump.records.push((cpu, record)),
            (DumpLine::Cpu { cpu, stats }, Some(dump)) => {
                let seen = dump.records.iter().filter(|r| r.0 == cpu).count() as u64;
                if seen != stats.events {
                    return Err(at(format!(
                        "cpu{cpu} dumped {} events but the log holds {seen}",
                        stats.events
                    )));
                }
                dump.cpus.push((cpu, stats));
            }
            (DumpLine::End { label }, Some(dump)) if label == dump.label => {
                let mut dump = open.take().expect("matched Some");
                // Each CPU's records come oldest first; merge them by time.
                dump.records.sort_by_key(|r| r.1.ticks);
                dumps.push(dump);
            }
            (DumpLine::End { label }, Some(dump)) => {
                return Err(at(format!("END of {label} inside dump {}", dump.label)));
            }
            (DumpLine::Begin { label, .. }, Some(dump)) => {
                return Err(at(format!("BEGIN of {label} inside dump {}", dump.label)));
            }
            (_, None) => return Err(at("trace line outside a dump".into())),
        }
    }
    if let Some(dump) = open {
        return Err(format!("the log ends inside dump {}", dump.label));
    }
    if dumps.is_empty() {
        return Err("no trace dump in the log (boot with trace=on)".into());
    }
    Ok(dumps)
}

/// Display names: the labels, with " (2)", " (3)" for repeated ones (bench runs).
fn names(dumps: &[Dump]) -> Vec<String> {
    dumps
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let n = dumps[..i].iter().filter(|e| e.label == d.label).count();
            if n == 0 {
                d.label.clone()
            } else {
                format!("{} ({})", d.label, n + 1)
            }
        })
        .collect()
}

/// Spans drawn from begin/end event pairs: `(name, begins, ends)`.
fn span(event: Event) -> Option<(&'static str, bool)> {
    match event {
        Event::KswapdWake => Some(("kswapd awake", true)),
        Event::KswapdSleep => Some(("kswapd awake", false)),
        Event::DirectReclaimBegin => Some(("direct reclaim", true)),
        Event::DirectReclaimEnd { .. } => Some(("direct reclaim", false)),
        _ => None,
    }
}

fn fields(event: Event) -> Value {
    Value::Object(
        event
            .fields()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect::<Map<_, _>>(),
    )
}

/// The Chrome/Perfetto trace: one process per dump (named after its label), one
/// thread per CPU (named after what it ran), `B`/`E` spans for kswapd's awake time
/// and direct reclaim, `i` instants for every other event, `C` counters for free
/// frames, ring depth and reclaim rate. Time in µs on the kernel's one clock, from
/// the first record of the log, so dumps follow each other.
pub fn chrome_trace(dumps: &[Dump]) -> Value {
    let t0 = dumps
        .iter()
        .filter_map(|d| d.records.first())
        .map(|r| r.1.ticks)
        .min()
        .unwrap_or(0);
    let mut events = Vec::new();
    let mut lost = Map::new();
    for (i, (dump, name)) in dumps.iter().zip(names(dumps)).enumerate() {
        let pid = i + 1;
        let us = |ticks: u64| ticks.saturating_sub(t0) as f64 * 1e6 / dump.freq_hz as f64;
        let tid = |cpu: u32| pid * 100 + cpu as usize;
        events.push(json!({"ph": "M", "pid": pid, "name": "process_name", "args": {"name": name}}));
        events.push(
            json!({"ph": "M", "pid": pid, "name": "process_sort_index", "args": {"sort_index": pid}}),
        );
        for &(cpu, _) in &dump.cpus {
            events.push(
                json!({"ph": "M", "pid": pid, "tid": tid(cpu), "name": "thread_name",
                "args": {"name": dump.role(cpu)}}),
            );
        }
        let mut open: BTreeSet<(u32, &str)> = BTreeSet::new();
        let rates = dump.reclaim_rate();
        for &(cpu, r) in &dump.records {
            let ts = us(r.ticks);
            let tid = tid(cpu);
            if let Some((span, begins)) = span(r.event) {
                // kswapd emits a wake per balance pass: only the first opens the span.
                let changes = if begins {
                    open.insert((cpu, span))
                } else {
                    open.remove(&(cpu, span))
                };
                if changes {
                    let ph = if begins { "B" } else { "E" };
                    events.push(
                        json!({"ph": ph, "pid": pid, "tid": tid, "ts": ts, "name": span,
                        "args": fields(r.event)}),
                    );
                }
                continue;
            }
            if let Event::Sample {
                nr_free,
                ring_depth,
                ..
            } = r.event
            {
                events.push(
                    json!({"ph": "C", "pid": pid, "ts": ts, "name": "free frames",
                    "args": {"nr_free": nr_free}}),
                );
                events.push(
                    json!({"ph": "C", "pid": pid, "ts": ts, "name": "kcompressd ring depth",
                    "args": {"ring_depth": ring_depth}}),
                );
                if let Some(&(_, rate)) = rates.iter().find(|q| q.0 == r.ticks) {
                    events.push(json!({"ph": "C", "pid": pid, "ts": ts,
                        "name": "reclaim rate (pgsteal_anon/s)", "args": {"pages_per_s": rate.round()}}));
                }
                continue;
            }
            events.push(
                json!({"ph": "i", "s": "t", "pid": pid, "tid": tid, "ts": ts,
                "name": r.event.name(), "args": fields(r.event)}),
            );
        }
        // Spans still open when the dump was taken end at its last record.
        let end = us(dump.records.last().map_or(t0, |r| r.1.ticks));
        for (cpu, span) in open {
            events.push(json!({"ph": "E", "pid": pid, "tid": tid(cpu), "ts": end, "name": span}));
        }
        let per_cpu: Map<String, Value> = dump
            .cpus
            .iter()
            .map(|(cpu, s)| {
                (
                    format!("cpu{cpu}"),
                    json!({"events": s.events, "overwritten": s.overwritten, "torn": s.torn}),
                )
            })
            .collect();
        lost.insert(name, Value::Object(per_cpu));
    }
    json!({
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {"source": "mm::trace dump", "records_per_cpu": lost},
    })
}

/// Three panels over each dump's own time (seconds from its first record), one
/// line per label (the first dump of each: run 1 of each bench mode, as `bench-plot`
/// draws): free frames, reclaim rate, ring depth.
pub fn svg(dumps: &[Dump]) -> Result<String, String> {
    let firsts: Vec<&Dump> = dumps
        .iter()
        .enumerate()
        .filter(|(i, d)| dumps[..*i].iter().all(|e| e.label != d.label))
        .map(|(_, d)| d)
        .collect();
    let series = |f: &dyn Fn(&Dump) -> Vec<(f64, f64)>| -> Vec<Series<'_>> {
        firsts
            .iter()
            .map(|d| Series {
                name: &d.label,
                points: f(d),
            })
            .collect()
    };
    let free = series(&|d| {
        d.samples()
            .iter()
            .map(|s| (d.seconds(s.0), f64::from(s.1)))
            .collect()
    });
    let rate = series(&|d| {
        d.reclaim_rate()
            .iter()
            .map(|&(t, r)| (d.seconds(t), r))
            .collect()
    });
    let depth = series(&|d| {
        d.samples()
            .iter()
            .map(|s| (d.seconds(s.0), f64::from(s.2)))
            .collect()
    });
    let labels: Vec<&str> = firsts.iter().map(|d| d.label.as_str()).collect();
    plot::svg(
        &format!(
            "reclaim trace: {} (the first dump of each label)",
            labels.join(", ")
        ),
        &[
            Panel {
                title: "free frames (reclaim_sample nr_free)",
                unit: "pages",
                series: free,
                levels: Vec::new(),
            },
            Panel {
                title: "reclaimed pages per second (pgsteal_anon, 100 ms windows)",
                unit: "pages/s",
                series: rate,
                levels: Vec::new(),
            },
            Panel {
                title: "pages queued to kcompressd (reclaim_sample ring_depth)",
                unit: "pages",
                series: depth,
                levels: Vec::new(),
            },
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
bench: something else
TRACE BEGIN label=sync freq_hz=1000
TRACE 1 100 mm_vmscan_kswapd_wake
TRACE 1 100 reclaim_sample nr_free=10 ring_depth=0 pgsteal_anon=0
TRACE 1 350 reclaim_sample nr_free=30 ring_depth=4 pgsteal_anon=50
TRACE 1 400 mm_vmscan_kswapd_sleep
TRACE CPU cpu=1 events=4 overwritten=0 torn=0
TRACE 3 120 page_fault_first_touch
TRACE 3 130 mm_vmscan_direct_reclaim_begin
TRACE 3 140 mm_vmscan_direct_reclaim_end nr_reclaimed=32
TRACE CPU cpu=3 events=3 overwritten=2 torn=1
TRACE END label=sync
";

    #[test]
    fn dumps_parse_and_merge_by_time() {
        let dumps = parse_log(LOG).unwrap();
        assert_eq!(dumps.len(), 1);
        let d = &dumps[0];
        assert_eq!((d.label.as_str(), d.freq_hz, d.lost()), ("sync", 1000, 3));
        let ticks: Vec<u64> = d.records.iter().map(|r| r.1.ticks).collect();
        assert_eq!(ticks, [100, 100, 120, 130, 140, 350, 400]);
        // 50 pages in 0.25 s.
        assert_eq!(d.reclaim_rate(), [(350, 200.0)]);
        assert_eq!(d.role(1), "cpu1 kswapd");
        assert_eq!(d.role(3), "cpu3 workload");
    }

    #[test]
    fn broken_logs_are_refused_with_the_line() {
        let cut = LOG.replace("TRACE END label=sync\n", "");
        assert!(
            parse_log(&cut)
                .unwrap_err()
                .contains("ends inside dump sync")
        );
        let lost = LOG.replace("TRACE 3 120 page_fault_first_touch\n", "");
        let err = parse_log(&lost).unwrap_err();
        assert!(err.starts_with("line 10:") && err.contains("cpu3"), "{err}");
        let bad = LOG.replace("page_fault_first_touch", "page_fault_second_touch");
        assert!(parse_log(&bad).unwrap_err().contains("unknown event name"));
        assert!(parse_log("RESULT {}\n").is_err());
    }

    #[test]
    fn repeated_labels_get_numbered_and_plotted_once() {
        let dumps = parse_log(&format!("{LOG}{LOG}")).unwrap();
        assert_eq!(names(&dumps), ["sync", "sync (2)"]);
        assert_eq!(
            crate::plot::series_lines(&svg(&dumps).unwrap()),
            3,
            "3 panels, 1 mode"
        );
    }

    #[test]
    fn spans_pair_up_and_counters_follow_samples() {
        let trace = chrome_trace(&parse_log(LOG).unwrap());
        let events = trace["traceEvents"].as_array().unwrap();
        let count = |ph: &str, name: &str| {
            events
                .iter()
                .filter(|e| e["ph"] == ph && e["name"] == name)
                .count()
        };
        assert_eq!(count("B", "kswapd awake"), 1);
        assert_eq!(count("E", "kswapd awake"), 1);
        assert_eq!(count("B", "direct reclaim"), 1);
        assert_eq!(count("E", "direct reclaim"), 1);
        assert_eq!(count("C", "free frames"), 2);
        assert_eq!(count("C", "reclaim rate (pgsteal_anon/s)"), 1);
        assert_eq!(count("i", "page_fault_first_touch"), 1);
        let first = events.iter().find(|e| e["ph"] == "B").unwrap();
        assert_eq!(first["ts"], 0.0, "time starts at the first record");
    }
}
