//! The kernel binary. Hardware glue only; portable logic lives in `mm` and `platform`.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("the kernel runs on aarch64-unknown-none: use ./qemu-run.sh");
}
