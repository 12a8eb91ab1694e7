//! Any UTF-8 text as a kernel command line: parses or names the offending word.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use platform::cmdline::CmdLine;

fuzz_target!(|line: &str| {
    if let Err(e) = CmdLine::parse(line) {
        assert!(line.split_ascii_whitespace().any(|w| w == e.word));
        let _ = e.to_string();
    }
});
