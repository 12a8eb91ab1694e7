//! Scenarios: what the kernel runs after boot, picked by `scenario=` on the command
//! line. Each prints what it checks, ends with one `RESULT {json}` line (written with
//! `kernel::json`) and returns the exit status (0 pass).

mod bench;
mod boot;
mod protect;
mod reclaim;
mod settings;

pub use settings::place;
mod shell;
mod smp;

use core::fmt;

use platform::Board;
use platform::cmdline::{CmdLine, Scenario};

/// Why `lmk=on` is refused outside `scenario=apps`.
const LMK_WITHOUT_APPS: &str = "lmk=on: only scenario=apps (the console's run apps) has apps for the low-memory killer to kill";

use crate::arch::aarch64::smp::SmpReport;
use crate::mem::MemReport;

/// Everything boot learned and brought up, for the scenarios to report or use.
pub struct BootInfo<'a> {
    pub board: &'a Board<'static>,
    pub cmdline: &'a CmdLine,
    pub entry_el: u64,
    pub smp: SmpReport,
    pub mem: MemReport,
    pub page_tables: usize,
}

pub fn run(info: &BootInfo<'_>) -> u32 {
    match info.cmdline.scenario {
        Scenario::Boot => boot::run(info),
        Scenario::Protect => protect::run(info),
        Scenario::Smp => smp::run(info),
        Scenario::Reclaim | Scenario::Race | Scenario::Oom | Scenario::Soak => reclaim::run(info),
        Scenario::Bench => bench::run(info, bench::Kind::Kcompressd),
        Scenario::Apps => bench::run(info, bench::Kind::Apps),
        Scenario::Shell => shell::run(info),
    }
}

/// Prints `RESULT {json}`: `result`, one scenario's struct, through `kernel::json`.
fn print_result(result: &impl serde::Serialize) {
    match kernel::json::to_string(result) {
        Ok(line) => crate::println!("RESULT {line}"),
        Err(e) => crate::println!("RESULT {{\"error\":\"{e}\"}}"),
    }
}

/// A list as the command line spells one: `1,2,4`.
struct List<'a, T>(&'a [T]);

impl<T: fmt::Display> fmt::Display for List<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{item}")?;
        }
        Ok(())
    }
}

/// CPU numbers in plain words: `cpu3`, `cpus 2,3`, or `no core`.
struct Cpus<'a, T>(&'a [T]);

impl<T: fmt::Display> fmt::Display for Cpus<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [] => f.write_str("no core"),
            [one] => write!(f, "cpu{one}"),
            cpus => write!(f, "cpus {}", List(cpus)),
        }
    }
}

/// A refused or failed scenario's `RESULT {"scenario":..,"error":..}`.
pub fn print_error(scenario: &str, error: &str) {
    print_result(&kernel::json::ErrorResult { scenario, error });
}
