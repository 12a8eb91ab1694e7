//! `bench-plot LOG [OUT.svg]`: turns the `bench: PROGRESS ...` lines that
//! `scenario=bench` prints once a second into an SVG with two panels, reclaimed pages
//! per second (`pgsteal_anon` between two lines) and free frames, over time, one line
//! per mode (run 1 of each). Reads the kernel's console log; writes SVG, no other tools.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use qemu_tests::plot::{self, Panel, Series};

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

fn render(modes: &BTreeMap<String, Vec<Sample>>) -> String {
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
    plot::svg(&[
        Panel {
            title: "reclaimed pages per second (pgsteal_anon between PROGRESS lines)",
            series: reclaimed,
        },
        Panel {
            title: "free frames",
            series: free,
        },
    ])
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
    let svg = render(&modes);
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
bench: ram 16 MiB
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
    fn svg_has_a_line_per_mode_in_each_panel() {
        let svg = render(&parse(LOG).unwrap());
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<polyline").count(), 4);
    }
}
