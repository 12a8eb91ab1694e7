//! The kernel's portable pieces, tested on the host with `cargo test -p kernel`:
//! exception-syndrome decoding, the workload region's PTE / swap-entry encoding, the
//! `RESULT` JSON writer, the cross-core job mailbox, translation-table building, the
//! kernel's memory map plan, frame pacing, the RAM a reclaim run needs (`sizing`), the
//! console's line editor, parser and reports,
//! and the GIC, generic-timer and 16550 register sequences over accessor traits (`gic`,
//! `timer`, `sysreg`, `ns16550`; host tests drive them with recording fakes). No hardware access
//! here; `main.rs` and `arch` hold the glue and the real accessors.
#![cfg_attr(target_os = "none", no_std)]
// Safe Rust throughout, but for the mailbox's hand-off of a job between cores.
#![deny(unsafe_code)]

pub mod anon_pte;
pub mod esr;
#[cfg(test)]
mod fake_hw;
pub mod gic;
pub mod json;
#[allow(unsafe_code)]
pub mod mailbox;
pub mod memmap;
pub mod ns16550;
pub mod pace;
pub mod pgtable;
pub mod shell;
pub mod sizing;
pub mod sysreg;
pub mod timer;
