//! `dtb-info FILE.dtb`: prints what the kernel would learn from a DTB as one JSON
//! object (docs/design.md, section "Contracts", dtb-info), using the kernel's own
//! parser. A damaged DTB gives a one-line error on stderr and exit status 1.
#![forbid(unsafe_code)]

use std::io::Read;
use std::process::ExitCode;

use platform::{Board, MAX_DTB_SIZE};

fn run(path: &str) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    // Read at most one byte past the largest DTB we accept: never a huge allocation.
    let mut dtb = Vec::new();
    file.take(MAX_DTB_SIZE as u64 + 1)
        .read_to_end(&mut dtb)
        .map_err(|e| format!("{path}: {e}"))?;
    if dtb.len() > MAX_DTB_SIZE {
        return Err(format!(
            "{path}: larger than {MAX_DTB_SIZE} bytes, not a DTB"
        ));
    }
    let board = Board::from_dtb(&dtb).map_err(|e| format!("{path}: {e}"))?;
    serde_json::to_string(&board).map_err(|e| format!("{path}: {e}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, path] = args.as_slice() else {
        eprintln!("usage: dtb-info FILE.dtb");
        return ExitCode::from(2);
    };
    match run(path) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dtb-info: {e}");
            ExitCode::FAILURE
        }
    }
}
