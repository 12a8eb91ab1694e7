//! Line plots as SVG, for the host tools (`bench-plot`, `trace-convert`), drawn with
//! `plotters`: a caption (what ran, in which configuration) over panels stacked
//! vertically that share one time axis, each with its title, round ticks, its unit,
//! one line per series in a fixed colour order, and dashed reference levels (the
//! zone's watermarks). Only drawing; what is plotted is the tools' business.

use plotters::prelude::*;

/// One named line: `(x, y)` points, x in seconds.
pub struct Series<'a> {
    pub name: &'a str,
    pub points: Vec<(f64, f64)>,
}

/// A horizontal reference line, such as a watermark.
pub struct Level<'a> {
    pub name: &'a str,
    pub value: f64,
}

/// One panel: a title and the unit of its y axis over its series and levels. With
/// levels, the y axis ends at `LEVEL_ZOOM` times the highest, so the band between
/// them is visible; higher points are drawn at the top edge.
pub struct Panel<'a> {
    pub title: &'a str,
    pub unit: &'a str,
    pub series: Vec<Series<'a>>,
    pub levels: Vec<Level<'a>>,
}

const W: u32 = 800;
const CAPTION_H: u32 = 40;
const PANEL_H: u32 = 260;
const COLOURS: [RGBColor; 4] = [
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
];
/// The y axis of a panel with levels ends at this many times the highest level.
pub const LEVEL_ZOOM: f64 = 4.0;

/// The panel's y range: its points' (and levels') highest value and a tenth more, or
/// `LEVEL_ZOOM` times its highest level.
fn y_max(p: &Panel<'_>) -> f64 {
    let top_level = p.levels.iter().map(|l| l.value).fold(0.0, f64::max);
    if top_level > 0.0 {
        return top_level * LEVEL_ZOOM;
    }
    let top = p
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|q| q.1))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    (top * 1.1).max(1.0)
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    panels: &[Panel<'_>],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let (top, rest) = root.split_vertically(CAPTION_H);
    top.titled(caption, ("sans-serif", 15))?;
    // One time axis for every panel: the longest series sets it.
    let t_max = panels
        .iter()
        .flat_map(|p| p.series.iter().flat_map(|s| s.points.iter().map(|q| q.0)))
        .filter(|t| t.is_finite())
        .fold(0.0, f64::max)
        .max(0.1);
    // Enough decimals that no two ticks read the same.
    let decimals = match t_max {
        t if t >= 20.0 => 0,
        t if t >= 2.0 => 1,
        _ => 2,
    };
    for (area, p) in rest.split_evenly((panels.len(), 1)).iter().zip(panels) {
        let top_y = y_max(p);
        let mut chart = ChartBuilder::on(area)
            .caption(p.title, ("sans-serif", 13))
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..t_max, 0.0..top_y)?;
        chart
            .configure_mesh()
            .x_desc("time since the run started (s)")
            .y_desc(p.unit)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .x_label_formatter(&|t| format!("{t:.decimals$}"))
            .light_line_style(WHITE)
            .draw()?;
        for (i, s) in p.series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let points = s.points.iter().map(|&(t, v)| (t, v.min(top_y)));
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))?
                .label(s.name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour));
        }
        for l in &p.levels {
            let style = BLACK.mix(0.6);
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, l.value), (t_max, l.value)],
                    6,
                    4,
                    style.into(),
                ))?
                .label(format!("{} {:.0}", l.name, l.value))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], style));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
    }
    root.present()
}

/// An SVG document: `caption` over `panels`, one under the other, on one time axis.
pub fn svg(caption: &str, panels: &[Panel<'_>]) -> Result<String, String> {
    let mut out = String::new();
    {
        let h = CAPTION_H + PANEL_H * panels.len().max(1) as u32;
        let root = SVGBackend::with_string(&mut out, (W, h)).into_drawing_area();
        draw(&root, caption, panels).map_err(|e| format!("plot: {e}"))?;
    }
    Ok(out)
}

/// The series' lines: drawn 2 wide (the axes, ticks and legend marks are 1 wide).
pub fn series_lines(doc: &str) -> usize {
    doc.split("<polyline")
        .skip(1)
        .filter(|e| {
            e.split('>')
                .next()
                .is_some_and(|a| a.contains("stroke-width=\"2\""))
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(name: &str, t_end: f64) -> Series<'_> {
        Series {
            name,
            points: vec![(0.0, 1.0), (t_end, 3.0)],
        }
    }

    #[test]
    fn one_polyline_per_series_a_title_per_panel_and_the_caption() {
        let doc = svg(
            "bench, ram 64 MiB, run 1 of 3",
            &[
                Panel {
                    title: "first panel",
                    unit: "pages/s",
                    series: vec![line("a", 2.0), line("b", 2.0)],
                    levels: Vec::new(),
                },
                Panel {
                    title: "second panel",
                    unit: "pages",
                    series: vec![line("a", 2.0)],
                    levels: Vec::new(),
                },
            ],
        )
        .unwrap();
        assert!(doc.starts_with("<svg") && doc.trim_end().ends_with("</svg>"));
        assert_eq!(series_lines(&doc), 3);
        for text in [
            "first panel",
            "second panel",
            "bench, ram 64 MiB",
            "pages/s",
        ] {
            assert!(doc.contains(text), "{text}");
        }
    }

    #[test]
    fn levels_are_drawn_and_set_the_range_so_the_band_shows() {
        let p = Panel {
            title: "free frames",
            unit: "pages",
            series: vec![line("sync", 1.0)],
            levels: vec![
                Level {
                    name: "min",
                    value: 135.0,
                },
                Level {
                    name: "high",
                    value: 201.0,
                },
            ],
        };
        assert_eq!(y_max(&p), 201.0 * LEVEL_ZOOM);
        let doc = svg("caption", &[p]).unwrap();
        assert!(doc.contains("min 135") && doc.contains("high 201"));
    }

    #[test]
    fn ticks_are_round_numbers() {
        let p = Panel {
            title: "t",
            unit: "pages",
            series: vec![Series {
                name: "s",
                points: vec![(0.0, 0.0), (3.0, 13629.0)],
            }],
            levels: Vec::new(),
        };
        let doc = svg("c", &[p]).unwrap();
        // The old hand-written axis printed quarters of the maximum (3407, 6815, ...).
        assert!(!doc.contains(">6815<") && !doc.contains(">3407<"), "{doc}");
    }
}
