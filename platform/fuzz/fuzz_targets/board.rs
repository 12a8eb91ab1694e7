//! Any bytes as a DTB: `Board::from_dtb` must return Ok or Err, never panic or hang;
//! a parsed board's JSON and usable regions must be consistent.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use platform::{Board, dtb_total_size};

fuzz_target!(|data: &[u8]| {
    let _ = dtb_total_size(data);
    if let Ok(board) = Board::from_dtb(data) {
        serde_json::to_string(&board).unwrap();
        assert!(board.usable.windows(2).all(|w| w[0].end() <= w[1].base));
        let _ = platform::cmdline::CmdLine::parse(board.bootargs);
    }
});
