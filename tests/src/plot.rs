//! Line plots as SVG text, for the host tools (`bench-plot`, `trace-convert`): panels
//! stacked vertically, each with its title, axes ticks and one polyline per series in
//! a fixed colour order. Only drawing; what is plotted is the tools' business.

use std::fmt::Write;

/// One named line: `(x, y)` points, x in seconds.
pub struct Series<'a> {
    pub name: &'a str,
    pub points: Vec<(f64, f64)>,
}

/// One panel: a title over its series.
pub struct Panel<'a> {
    pub title: &'a str,
    pub series: Vec<Series<'a>>,
}

const W: f64 = 760.0;
const PANEL_H: f64 = 220.0;
const LEFT: f64 = 70.0;
const TOP: f64 = 40.0;
const GAP: f64 = 60.0;
const COLOURS: [&str; 4] = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"];

/// One panel: its series as polylines scaled to the panel at vertical offset `y0`.
fn panel(svg: &mut String, y0: f64, p: &Panel<'_>) {
    let t_max = p
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|q| q.0))
        .fold(1.0, f64::max);
    let v_max = p
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|q| q.1))
        .fold(1.0, f64::max)
        * 1.1;
    let (pw, ph) = (W - LEFT - 20.0, PANEL_H);
    let x = |t: f64| LEFT + t / t_max * pw;
    let y = |v: f64| y0 + ph - v / v_max * ph;
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="{}" font-size="14">{}</text>"#,
        y0 - 8.0,
        p.title
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
            r#"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle">{t:.1} s</text>"#,
            x(t),
            y0 + ph + 16.0
        );
    }
    for (i, s) in p.series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = s
            .points
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
            r#"<text x="{}" y="{}" font-size="12" fill="{colour}">{}</text>"#,
            W - 90.0,
            y0 + 16.0 + 16.0 * i as f64,
            s.name
        );
    }
}

/// An SVG document with `panels` one under the other.
pub fn svg(panels: &[Panel<'_>]) -> String {
    let h = TOP + panels.len() as f64 * (PANEL_H + GAP) + 20.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" font-family="sans-serif">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for (i, p) in panels.iter().enumerate() {
        panel(&mut svg, TOP + i as f64 * (PANEL_H + GAP), p);
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_polyline_per_series_and_a_title_per_panel() {
        let line = |name| Series {
            name,
            points: vec![(0.0, 1.0), (2.0, 3.0)],
        };
        let doc = svg(&[
            Panel {
                title: "first panel",
                series: vec![line("a"), line("b")],
            },
            Panel {
                title: "second panel",
                series: vec![line("a")],
            },
        ]);
        assert!(doc.starts_with("<svg") && doc.ends_with("</svg>\n"));
        assert_eq!(doc.matches("<polyline").count(), 3);
        assert!(doc.contains("first panel") && doc.contains("second panel"));
    }
}
