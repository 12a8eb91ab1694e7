//! Links the kernel with the repository's `linker.ld` when building for the bare-metal
//! target, as a position-independent executable whose only dynamic relocations are
//! `R_AARCH64_RELATIVE` (boot/head.s applies them); host builds (the crate is a
//! workspace member) link as an ordinary program.
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
        // -pie: the relocations boot/head.s needs end up in .rela.dyn, in the plain RELA
        // format, with no interpreter. -z notext: the prebuilt libcore is compiled
        // non-PIC and keeps absolute pointers (vtables) in .rodata, which the pass
        // patches before the MMU makes it read-only; code itself is PC-relative, and
        // tools/check-relocs.sh refuses any relocation that lands in .text.
        for arg in [
            "-pie",
            "--no-dynamic-linker",
            "-z",
            "notext",
            "--pack-dyn-relocs=none",
        ] {
            println!("cargo:rustc-link-arg-bins={arg}");
        }
    }
}
