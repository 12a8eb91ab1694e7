//! Architecture glue. Only AArch64 exists; the portable kernel logic lives in `lib.rs`
//! modules and in the `mm` and `platform` crates.
//!
//! The rule: arch imports nothing from the rest of the kernel (every path it names in
//! this crate stays inside `arch`; the kernel hands it what it needs through hooks and
//! symbols), and no instruction (`asm!`, system registers, TLBI, barriers) lives
//! outside arch. `kernel/tests/arch_boundary.rs` checks both on the sources.

pub mod aarch64;
