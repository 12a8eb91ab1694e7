//! The architecture boundary, checked on the sources (see `kernel/src/arch/mod.rs`):
//! `arch/` imports nothing from the rest of the kernel (no `crate::` path other than
//! `crate::arch`), and nothing outside `arch/` issues an instruction (`asm!`, the
//! `aarch64_cpu` crate, TLBI and barrier mnemonics). Reads files only; changes nothing.

use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// `file:line: text` for each line of `files` that is code (not a `//` comment) and
/// for which `bad` holds.
fn offending_lines(files: &[PathBuf], bad: impl Fn(&str) -> bool) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for file in files {
        let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if !code.starts_with("//") && bad(code) {
                let name = file.strip_prefix(root).unwrap_or(file).display();
                found.push(format!("{name}:{}: {code}", n + 1));
            }
        }
    }
    found
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn arch_imports_nothing_from_the_rest_of_the_kernel() {
    let files = rust_files(&src().join("arch"));
    assert!(!files.is_empty(), "no sources under src/arch");
    let outside = |line: &str| {
        line.match_indices("crate::")
            .any(|(i, _)| !line[i..].starts_with("crate::arch"))
    };
    let found = offending_lines(&files, outside);
    assert!(
        found.is_empty(),
        "src/arch must not import from the rest of the kernel (only `crate::arch` paths; \
         the kernel hands arch what it needs through hooks):\n{}",
        found.join("\n")
    );
}

#[test]
fn no_instructions_outside_arch() {
    let arch = src().join("arch");
    let files: Vec<PathBuf> = rust_files(&src())
        .into_iter()
        .filter(|f| !f.starts_with(&arch))
        .collect();
    let mnemonics = ["tlbi", "dsb", "isb", "dmb"];
    let instruction = |line: &str| {
        line.contains("asm!")
            || line.contains("aarch64_cpu")
            || line
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .any(|word| mnemonics.contains(&word))
    };
    let found = offending_lines(&files, instruction);
    assert!(
        found.is_empty(),
        "instructions (asm!, aarch64_cpu, TLBI and barriers) belong in src/arch; \
         give them a named function there:\n{}",
        found.join("\n")
    );
}
