//! The console's portable half, tested on the host: the line editor (`line`), the
//! command table and parser (`command`), the words Tab completes and "did you mean"
//! suggests (`complete`), `set`/`show` over the command line's keys (`settings`) and
//! the output formats of the read-only commands (`report`). The
//! UART, the runs in the background and the numbers behind each report are the
//! kernel's (`scenario/shell.rs`).

pub mod command;
pub mod complete;
pub mod line;
pub mod report;
pub mod settings;
