//! `bench-plot LOG [OUT.svg]`: turns the `bench: PROGRESS ...` lines that
//! `scenario=bench` prints every 250 ms into an SVG with two panels on one time axis,
//! reclaimed pages per second (`pgsteal_anon` between two lines) and free frames with
//! the zone's min/low/high watermarks, one line per mode (run 1 of each), under a
//! caption with the configuration the bench printed. Reads the kernel's console log;
//! writes SVG, no other tools.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use qemu_tests::plot::{self, Level, Panel, Series};

/// One progress line.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Sample {
    t_ms: f64,
    free: f64,
    pgsteal: f64,
}

/// Samples of run 1 per mode, in the order printed. Lines that are not progress
/// lines are skipped; a progress line missing a field is an error naming it.
fn parse(log: &str) -> Result<BTreeMap<String, Vec<Sample>>, String> {
    let mut modes: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    for line in log.lines() {
        let Some(rest) = line.split("PROGRESS ").nth(1) else {
            continue;
        };
        let field = |key: &str| -> Result<&str, String> {
            rest.split_whitespace()
                .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
                .ok_or_else(|| format!("progress line without {key}: {line}"))
        };
        let num = |key: &str| -> Result<f64, String> {
            field(key)?
                .parse::<f64>()
                .map_err(|e| format!("{key} in {line}: {e}"))
        };
        if field("run")? != "1" {
            continue;
        }
        modes
            .entry(field("mode")?.to_string())
            .or_default()
            .push(Sample {
                t_ms: num("t_ms")?,
                free: num("free")?,
                pgsteal: num("pgsteal_anon")?,
            });
    }
    if modes.is_empty() {
        return Err("no `bench: PROGRESS` lines in the log".to_string());
    }
    Ok(modes)
}

/// (seconds, pages reclaimed per second) between consecutive samples, from t = 0.
fn rates(samples: &[Sample]) -> Vec<(f64, f64)> {
    let mut prev = Sample {
        t_ms: 0.0,
        free: 0.0,
        pgsteal: 0.0,
    };
    let mut out = Vec::new();
    for s in samples {
        let dt = (s.t_ms - prev.t_ms) / 1000.0;
        if dt > 0.0 {
            out.push((s.t_ms / 1000.0, (s.pgsteal - prev.pgsteal) / dt));
        }
        prev = *s;
    }
    out
}

/// What the bench said about its configuration (its `bench:` header lines).
#[derive(Debug, Default, PartialEq)]
struct Config {
    ram_mib: Option<u64>,
    anon_mib: Option<u64>,
    /// min, low, high, in pages.
    watermarks: Option<[u64; 3]>,
    runs: Option<u64>,
}

/// The number after `key` in `words`.
fn after(words: &[&str], key: &str) -> Option<u64> {
    let at = words.iter().position(|w| *w == key)?;
    words.get(at + 1)?.trim_end_matches([',', ')']).parse().ok()
}

fn config(log: &str) -> Config {
    let mut c = Config::default();
    for line in log.lines() {
        let Some(rest) = line.strip_prefix("bench: ") else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        if rest.starts_with("ram ") {
            c.ram_mib = after(&words, "ram");
            c.anon_mib = after(&words, "anonymous");
            if let (Some(min), Some(low), Some(high)) = (
                after(&words, "min"),
                after(&words, "low"),
                after(&words, "high"),
            ) {
                c.watermarks = Some([min, low, high]);
            }
        }
        if let Some(at) = words.iter().position(|w| *w == "run(s)") {
            c.runs = at.checked_sub(1).and_then(|i| words[i].parse().ok());
        }
    }
    c
}

fn caption(c: &Config) -> String {
    let known = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
    format!(
        "scenario=bench: RAM {} MiB, anonymous {} MiB; run 1 of {} per mode",
        known(c.ram_mib),
        known(c.anon_mib),
        known(c.runs)
    )
}

fn render(modes: &BTreeMap<String, Vec<Sample>>, c: &Config) -> Result<String, String> {
    // sync first, then async, then anything else, as the table prints them.
    let mut names: Vec<&String> = modes.keys().collect();
    names.sort_by_key(|n| match n.as_str() {
        "sync" => 0,
        "async" => 1,
        _ => 2,
    });
    let reclaimed: Vec<Series<'_>> = names
        .iter()
        .map(|n| Series {
            name: n.as_str(),
            points: rates(&modes[*n]),
        })
        .collect();
    let free: Vec<Series<'_>> = names
        .iter()
        .map(|n| Series {
            name: n.as_str(),
            points: modes[*n]
                .iter()
                .map(|s| (s.t_ms / 1000.0, s.free))
                .collect(),
        })
        .collect();
    let levels = c.watermarks.map_or(Vec::new(), |[min, low, high]| {
        [("min", min), ("low", low), ("high", high)]
            .into_iter()
            .map(|(name, v)| Level {
                name,
                value: v as f64,
            })
            .collect()
    });
    plot::svg(
        &caption(c),
        &[
            Panel {
                title: "reclaimed pages per second (pgsteal_anon between PROGRESS lines)",
                unit: "pages/s",
                series: reclaimed,
                levels: Vec::new(),
            },
            Panel {
                title: "free frames, with the zone's watermarks (y axis up to 4 x high)",
                unit: "pages",
                series: free,
                levels,
            },
        ],
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(input) = args.first() else {
        eprintln!("usage: bench-plot LOG [OUT.svg]   (LOG: the console of scenario=bench)");
        std::process::exit(2);
    };
    let log = std::fs::read_to_string(input).unwrap_or_else(|e| {
        eprintln!("bench-plot: {input}: {e}");
        std::process::exit(1);
    });
    let modes = parse(&log).unwrap_or_else(|e| {
        eprintln!("bench-plot: {e}");
        std::process::exit(1);
    });
    let svg = render(&modes, &config(&log)).unwrap_or_else(|e| {
        eprintln!("bench-plot: {e}");
        std::process::exit(1);
    });
    match args.get(1) {
        Some(out) => std::fs::write(out, svg).unwrap_or_else(|e| {
            eprintln!("bench-plot: {out}: {e}");
            std::process::exit(1);
        }),
        None => print!("{svg}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
bench: ram 16 MiB (4096 frames free, 117120 taken out of the zone as by mem=, 4574 managed, watermarks min 135 low 168 high 201), anonymous 32 MiB = 8192 pages: 1 workload(s)
bench: kswapd on cpu1, kcompressd (async) on cpu2, worker counts 1, ring 256, ring_full=new, watermark_scale_factor 10, 3 run(s) of each mode
bench: PROGRESS mode=sync run=1 t_ms=1000 free=700 pgsteal_anon=2000 allocstall=3 accesses=9
bench: PROGRESS mode=sync run=1 t_ms=2000 free=710 pgsteal_anon=5000 allocstall=4 accesses=19
bench: PROGRESS mode=async run=1 t_ms=1000 free=800 pgsteal_anon=4000 allocstall=1 accesses=9
bench: PROGRESS mode=sync run=2 t_ms=1000 free=1 pgsteal_anon=1 allocstall=1 accesses=1
RESULT {}
";

    #[test]
    fn parses_run_one_of_each_mode() {
        let modes = parse(LOG).unwrap();
        assert_eq!(modes["sync"].len(), 2);
        assert_eq!(modes["async"].len(), 1);
        assert_eq!(rates(&modes["sync"]), vec![(1.0, 2000.0), (2.0, 3000.0)]);
    }

    #[test]
    fn refuses_logs_without_progress_and_broken_lines() {
        assert!(parse("RESULT {}\n").is_err());
        let err =
            parse("bench: PROGRESS mode=sync run=1 t_ms=x free=1 pgsteal_anon=1").unwrap_err();
        assert!(err.contains("t_ms"), "{err}");
    }

    #[test]
    fn the_configuration_comes_from_the_header_lines() {
        let c = config(LOG);
        assert_eq!(
            c,
            Config {
                ram_mib: Some(16),
                anon_mib: Some(32),
                watermarks: Some([135, 168, 201]),
                runs: Some(3),
            }
        );
        assert_eq!(
            caption(&c),
            "scenario=bench: RAM 16 MiB, anonymous 32 MiB; run 1 of 3 per mode"
        );
    }

    #[test]
    fn svg_has_a_line_per_mode_in_each_panel_and_the_watermarks() {
        let svg = render(&parse(LOG).unwrap(), &config(LOG)).unwrap();
        assert!(svg.starts_with("<svg"));
        // Two modes in two panels.
        assert_eq!(plot::series_lines(&svg), 4);
        for text in ["min 135", "low 168", "high 201", "run 1 of 3"] {
            assert!(svg.contains(text), "{text}");
        }
    }
}
