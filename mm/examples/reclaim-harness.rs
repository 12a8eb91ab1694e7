//! Host harness for the reclaim pipeline, three ways:
//! - `reclaim-harness [key=value ...]`: one run; prints the `/proc/vmstat` and zram
//!   `mm_stat` blocks, a summary and `RESULT {json}`.
//! - `reclaim-harness bench [runs=N] [key=value ...]`: the kernel's `scenario=bench`
//!   workload (8 apps, 2 x RAM, app switches), sync vs async (and `async_<N>w` with
//!   `workers=N`), printed as the kernel's table with the pipeline bound.
//! - `reclaim-harness apps [runs=N] [key=value ...]`: the kernel's `scenario=apps`
//!   (the bench's apps, each switch touching the app's whole set first, the low-memory
//!   killer on), each reclaim mode, printed as the kernel's table.
//! - `reclaim-harness sweep [runs=N] KEY=V1,V2,... [key=value ...]`: for each swept
//!   key (a value list), a sync/async pair per value, one compact table per key.
//!
//! Exits 0 only if no page was corrupt and every frame was accounted for.
//! `cargo run --release -p mm --example reclaim-harness -- sweep ring=16,64,256,1024`
#![forbid(unsafe_code)]

use std::process::ExitCode;

use mm::reclaim::harness::{self, HarnessConfig};
use mm::reclaim::policy::LruKind;
use mm::reclaim::sweep::{self, bench_columns};

const MODES: &str = "reclaim-harness [key=value ...]                   one run
reclaim-harness bench [runs=N] [key=value ...]     sync vs async, the kernel bench's table
reclaim-harness apps [runs=N] [key=value ...]      the kernel's scenario=apps table
reclaim-harness sweep [runs=N] KEY=V1,V2,.. [key=value ...]   a sync/async pair per value
  (bench and sweep start from the kernel bench's setting: ram=16384 pattern=apps apps=8,
   apps from the same with pattern=appswitch lmk=on;
   runs default 3; in a sweep, mixes are named: mix=default,text,random,zero)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{MODES}\n{}", harness::USAGE);
        return ExitCode::SUCCESS;
    }
    let outcome = match args.first().map(String::as_str) {
        Some("bench") => bench(&args[1..], HarnessConfig::bench(), false),
        Some("apps") => bench(&args[1..], HarnessConfig::apps(), true),
        Some("sweep") => sweep(&args[1..]),
        _ => single(&args),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("reclaim-harness: {error}");
            ExitCode::from(2)
        }
    }
}

fn single(args: &[String]) -> Result<bool, String> {
    let cfg = HarnessConfig::parse(args)?;
    eprintln!("reclaim-harness: {cfg:?}");
    let report = harness::run(&cfg)?;
    println!("{}", report.render());
    Ok(report.clean())
}

/// Takes `runs=N` out of the arguments (default 3).
fn take_runs(args: &[String]) -> Result<(usize, Vec<String>), String> {
    let mut runs = 3;
    let mut rest = Vec::new();
    for arg in args {
        match arg.strip_prefix("runs=") {
            Some(n) => {
                runs = n
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("runs: '{n}' is not a positive number"))?;
            }
            None => rest.push(arg.clone()),
        }
    }
    Ok((runs, rest))
}

/// The kernel bench's comparison from `base` (its `bench` or `apps` setting); `apps`
/// runs each LRU unless `lru=` picks one.
fn bench(args: &[String], base: HarnessConfig, apps: bool) -> Result<bool, String> {
    let (runs, args) = take_runs(args)?;
    let cfg = HarnessConfig::parse_onto(base, &args)?;
    let columns = if apps && !args.iter().any(|a| a.starts_with("lru=")) {
        sweep::apps_columns(&[LruKind::Classic, LruKind::Mglru])
    } else if apps {
        sweep::apps_columns(&[cfg.lru])
    } else {
        bench_columns(&cfg)
    };
    let comparison = sweep::compare(&cfg, columns, runs)?;
    let mut out = String::new();
    sweep::write_config(&mut out, &cfg, &comparison.watermarks, runs)
        .and_then(|()| comparison.write_table(&mut out))
        .map_err(|_| "could not format the table")?;
    print!("{out}");
    Ok(comparison.clean())
}

fn sweep(args: &[String]) -> Result<bool, String> {
    let (runs, args) = take_runs(args)?;
    let (swept, fixed): (Vec<String>, Vec<String>) =
        args.into_iter().partition(|a| a.contains(','));
    if swept.is_empty() {
        return Err(format!("sweep: no KEY=V1,V2,... given\n{MODES}"));
    }
    let mut clean = true;
    for arg in &swept {
        let (key, values) = arg
            .split_once('=')
            .ok_or_else(|| format!("argument '{arg}' is not key=value"))?;
        let values: Vec<&str> = values.split(',').collect();
        let result = sweep::sweep(&fixed, key, &values, runs)?;
        let mut out = String::new();
        result
            .write_table(&mut out)
            .map_err(|_| "could not format the table")?;
        println!("{out}");
        clean &= result.clean();
    }
    Ok(clean)
}
