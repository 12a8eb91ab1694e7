//! `trace-convert LOG OUT.json [OUT.svg]`: reads a kernel console log holding one or
//! more trace dumps (boot with `trace=on`; `scenario=bench` dumps after each mode,
//! the shell on `trace dump`), writes a Chrome/Perfetto trace JSON (open it in
//! ui.perfetto.dev or chrome://tracing) and, if asked, an SVG of free frames, reclaim
//! rate and ring depth over time, one line per dump. See docs/trace.md.
#![forbid(unsafe_code)]

use qemu_tests::trace_convert::{chrome_trace, parse_log, svg};

fn fail(what: String) -> ! {
    eprintln!("trace-convert: {what}");
    std::process::exit(1);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(input), Some(json_out)) = (args.first(), args.get(1)) else {
        eprintln!(
            "usage: trace-convert LOG OUT.json [OUT.svg]   (LOG: a console log with trace dumps)"
        );
        std::process::exit(2);
    };
    let log = std::fs::read_to_string(input).unwrap_or_else(|e| fail(format!("{input}: {e}")));
    let dumps = parse_log(&log).unwrap_or_else(|e| fail(format!("{input}: {e}")));
    for d in &dumps {
        eprintln!(
            "trace-convert: dump {}: {} events, {} lost (overwritten or torn)",
            d.label,
            d.records.len(),
            d.lost()
        );
    }
    let json = chrome_trace(&dumps).to_string();
    std::fs::write(json_out, json).unwrap_or_else(|e| fail(format!("{json_out}: {e}")));
    if let Some(svg_out) = args.get(2) {
        let svg = svg(&dumps).unwrap_or_else(|e| fail(e));
        std::fs::write(svg_out, svg).unwrap_or_else(|e| fail(format!("{svg_out}: {e}")));
    }
}
