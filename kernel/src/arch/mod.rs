//! Architecture glue. Only AArch64 exists; the portable kernel logic lives in `lib.rs`
//! modules and in the `mm` and `platform` crates.

pub mod aarch64;
