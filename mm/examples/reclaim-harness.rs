//! Host harness for the reclaim pipeline: `key=value` arguments (see `USAGE`), prints
//! the `/proc/vmstat` and zram `mm_stat` blocks, a summary and `RESULT {json}`.
//! Exits 0 only if no page was corrupt and every frame was accounted for.
//!
//! `cargo run --release -p mm --features std --example reclaim-harness -- mode=async`

use std::process::ExitCode;

use mm::reclaim::harness::{self, HarnessConfig};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{}", harness::USAGE);
        return ExitCode::SUCCESS;
    }
    let cfg = match HarnessConfig::parse(&args) {
        Ok(cfg) => cfg,
        Err(error) => {
            eprintln!("reclaim-harness: {error}");
            return ExitCode::from(2);
        }
    };
    eprintln!("reclaim-harness: {cfg:?}");
    match harness::run(&cfg) {
        Ok(report) => {
            println!("{}", report.render());
            if report.clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("reclaim-harness: {error}");
            ExitCode::FAILURE
        }
    }
}
