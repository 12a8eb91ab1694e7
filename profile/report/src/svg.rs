//! The per-step table as a picture: one horizontal bar per column (a kernel, a mode),
//! its length the instructions per reclaimed page, split by step in the rules' order,
//! with a legend. Plain SVG text; owns only the drawing.

use std::fmt::Write;

/// A colour per step, in the rules' order (repeats after the last).
const COLOURS: &[&str] = &[
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac", "#1f77b4", "#aec7e8", "#8c564b", "#c49c94", "#7f7f7f", "#dddddd",
    "#17becf",
];

/// One bar: its label, its parts (step, instructions per page; a negative part is not
/// drawn) and the total written after it.
pub type Bar = (String, Vec<(String, f64)>, f64);

/// `bars` in drawing order.
pub fn stacked_bars(title: &str, bars: &[Bar]) -> String {
    let (left, width, bar_h, gap, top) = (90.0, 640.0, 34.0, 16.0, 48.0);
    let max = bars
        .iter()
        .map(|(_, parts, _)| parts.iter().map(|p| p.1.max(0.0)).sum::<f64>())
        .fold(0.0, f64::max)
        .max(1.0);
    let steps: Vec<&str> = bars
        .first()
        .map(|(_, p, _)| p.iter().map(|(s, _)| s.as_str()).collect())
        .unwrap_or_default();
    let legend_rows = steps.len().div_ceil(4);
    let height = top + bars.len() as f64 * (bar_h + gap) + 40.0 + legend_rows as f64 * 18.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" font-family="sans-serif" font-size="12">"##,
        w = left + width + 80.0
    );
    let _ = writeln!(out, r##"<rect width="100%" height="100%" fill="white"/>"##);
    let _ = writeln!(
        out,
        r##"<text x="10" y="20" font-size="14">{}</text>"##,
        esc(title)
    );
    let _ = writeln!(
        out,
        r##"<text x="10" y="36" fill="#555">guest instructions per reclaimed page, by step of the page's life (profile/steps.conf)</text>"##
    );
    for (i, (label, parts, total)) in bars.iter().enumerate() {
        let y = top + i as f64 * (bar_h + gap);
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{}" text-anchor="end">{}</text>"##,
            left - 8.0,
            y + bar_h / 2.0 + 4.0,
            esc(label)
        );
        let mut x = left;
        for (k, (step, v)) in parts.iter().enumerate() {
            let w = v.max(0.0) / max * width;
            if w <= 0.0 {
                continue;
            }
            let _ = writeln!(
                out,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{bar_h}" fill="{}"><title>{}: {v:.0}</title></rect>"##,
                COLOURS[k % COLOURS.len()],
                esc(step)
            );
            x += w;
        }
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{}">{total:.0}</text>"##,
            x + 4.0,
            y + bar_h / 2.0 + 4.0
        );
    }
    let ly = top + bars.len() as f64 * (bar_h + gap) + 10.0;
    for (k, step) in steps.iter().enumerate() {
        let (col, row) = (k % 4, k / 4);
        let (x, y) = (left + col as f64 * 160.0, ly + row as f64 * 18.0);
        let _ = writeln!(
            out,
            r##"<rect x="{x}" y="{y}" width="12" height="12" fill="{}"/><text x="{}" y="{}">{}</text>"##,
            COLOURS[k % COLOURS.len()],
            x + 16.0,
            y + 10.0,
            esc(step)
        );
    }
    out.push_str("</svg>\n");
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_longest_and_name_every_step() {
        let bars: Vec<Bar> = vec![
            (
                "linux".to_string(),
                vec![("compress".to_string(), 300.0), ("lru".to_string(), 100.0)],
                400.0,
            ),
            (
                "sync".to_string(),
                vec![("compress".to_string(), 200.0), ("lru".to_string(), -5.0)],
                195.0,
            ),
        ];
        let svg = stacked_bars("t <1>", &bars);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("t &lt;1&gt;"));
        // The longest bar fills the width: 300 + 100 of 400 -> 480 + 160 px.
        assert!(svg.contains(r##"width="480.0""##) && svg.contains(r##"width="160.0""##));
        // A step at or below zero draws nothing, but stays in the legend; the total
        // written is the one given.
        assert_eq!(svg.matches("<title>lru").count(), 1);
        assert!(svg.contains(">195</text>"));
        assert!(svg.contains(">lru</text>"));
    }
}
