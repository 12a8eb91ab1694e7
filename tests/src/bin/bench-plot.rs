//! `bench-plot LOG [OUT.svg]`: turns the `bench: PROGRESS ...` lines that
//! `scenario=bench` prints once a second into an SVG with two panels, reclaimed pages
//! per second (`pgsteal_anon` between two lines) and free frames, over time, one line
//! per mode (run 1 of each). Reads the kernel's console log; writes SVG, no other tools.

use std::collections::BTreeMap;
use std::fmt::Write;

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

const W: f64 = 760.0;
const PANEL_H: f64 = 220.0;
const LEFT: f64 = 70.0;
const TOP: f64 = 40.0;
const GAP: f64 = 60.0;
const COLOURS: [&str; 4] = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"];

/// One panel: `series` as polylines scaled to the panel at vertical offset `y0`.
fn panel(svg: &mut String, y0: f64, title: &str, series: &[(&str, Vec<(f64, f64)>)]) {
    let t_max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.0))
        .fold(1.0, f64::max);
    let v_max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.1))
        .fold(1.0, f64::max)
        * 1.1;
    let (pw, ph) = (W - LEFT - 20.0, PANEL_H);
    let x = |t: f64| LEFT + t / t_max * pw;
    let y = |v: f64| y0 + ph - v / v_max * ph;
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="{}" font-size="14">{title}</text>"#,
        y0 - 8.0
    );
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>"##
    );
    for i in 0..=4 {
        let v = v_max * f64::from(i) / 4.0;
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{:.1}" font-size="11" text-anchor="end">{v:.0}</text>"#,
            LEFT - 6.0,
            y(v) + 4.0
        );
        let t = t_max * f64::from(i) / 4.0;
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle">{t:.0} s</text>"#,
            x(t),
            y0 + ph + 16.0
        );
    }
    for (i, (name, points)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = points
            .iter()
            .map(|&(t, v)| format!("{:.1},{:.1}", x(t), y(v)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" font-size="12" fill="{colour}">{name}</text>"#,
            W - 90.0,
            y0 + 16.0 + 16.0 * i as f64
        );
    }
}

fn render(modes: &BTreeMap<String, Vec<Sample>>) -> String {
    // sync first, then async, then anything else, as the table prints them.
    let mut names: Vec<&String> = modes.keys().collect();
    names.sort_by_key(|n| match n.as_str() {
        "sync" => 0,
        "async" => 1,
        _ => 2,
    });
    let reclaimed: Vec<(&str, Vec<(f64, f64)>)> = names
        .iter()
        .map(|n| (n.as_str(), rates(&modes[*n])))
        .collect();
    let free: Vec<(&str, Vec<(f64, f64)>)> = names
        .iter()
        .map(|n| {
            let points = modes[*n]
                .iter()
                .map(|s| (s.t_ms / 1000.0, s.free))
                .collect();
            (n.as_str(), points)
        })
        .collect();
    let h = TOP + 2.0 * PANEL_H + GAP + 40.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" font-family="sans-serif">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    panel(
        &mut svg,
        TOP,
        "reclaimed pages per second (pgsteal_anon, 1 s intervals)",
        &reclaimed,
    );
    panel(&mut svg, TOP + PANEL_H + GAP, "free frames", &free);
    svg.push_str("</svg>\n");
    svg
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
