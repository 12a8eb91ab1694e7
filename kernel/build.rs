//! Links the kernel with the repository's `linker.ld` when building for the bare-metal
//! target; host builds (the crate is a workspace member) link as an ordinary program.
#![forbid(unsafe_code)]

use std::env;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest
        .parent()
        .expect("kernel/ sits in the repository root");
    let linker_script = root.join("linker.ld");
    println!("cargo:rerun-if-changed={}", linker_script.display());
    println!("cargo:rerun-if-changed={}", root.join("boot").display());
    if env::var("TARGET").as_deref() == Ok("aarch64-unknown-none") {
        println!("cargo:rustc-link-arg-bins=-T{}", linker_script.display());
    }
}
