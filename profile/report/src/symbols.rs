//! Guest addresses to function names: this kernel's through llvm-symbolizer on its
//! ELF (with the functions inlined at each address, innermost first), Linux's through
//! `System.map` and the modules' lines of `/proc/kallsyms` (one name per address).
//! Owns only the lookup; which step a name belongs to is `steps`'.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

/// Where user space ends on arm64 Linux (TTBR0 addresses): everything below is the
/// workload's own code.
pub const USER_END: u64 = 1 << 48;
/// The name given to every user-space address.
pub const USER: &str = "[user]";
/// The name given to an address no symbol covers.
pub const UNKNOWN: &str = "[unknown]";

/// A sorted table of text symbols (System.map, kallsyms, `llvm-nm -S`).
#[derive(Debug, Default)]
pub struct NmTable {
    /// (address, name, size if known), sorted by address.
    syms: Vec<(u64, String, Option<u64>)>,
}

impl NmTable {
    /// Parses `ADDR TYPE NAME [MODULE]` (System.map, kallsyms) and `ADDR SIZE TYPE
    /// NAME` (`llvm-nm -S`) lines; keeps text symbols (t, T, w, W). A module's name is
    /// appended as ` [module]`. Errors name the first line that is neither.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut syms = Vec::new();
        for (no, line) in text.lines().enumerate() {
            let bad = |why: &str| format!("symbols line {}: {why}: '{line}'", no + 1);
            let w: Vec<&str> = line.split_whitespace().collect();
            let (addr, size, ty, name) = match w.as_slice() {
                [] => continue,
                // llvm-nm lists undefined symbols with no address.
                [t, _] if t.len() == 1 => continue,
                [a, t, n] if t.len() == 1 => (*a, None, *t, n.to_string()),
                [a, t, n, m] if t.len() == 1 && m.starts_with('[') => {
                    (*a, None, *t, format!("{n} {m}"))
                }
                // `llvm-nm -S -C`: the demangled name may hold spaces.
                [a, s, t, ..] if t.len() == 1 => {
                    let name = line.splitn(4, char::is_whitespace).nth(3).unwrap_or("");
                    (*a, Some(*s), *t, strip_hash(name.trim()).to_string())
                }
                _ => return Err(bad("not nm output")),
            };
            let addr = u64::from_str_radix(addr, 16).map_err(|_| bad("bad address"))?;
            // Text symbols only; `$x`/`$d` are the ELF mapping symbols, not functions.
            if !matches!(ty, "t" | "T" | "w" | "W") || name.starts_with('$') {
                continue;
            }
            let size = size.and_then(|s| u64::from_str_radix(s, 16).ok());
            syms.push((addr, name, size));
        }
        syms.sort_by_key(|s| s.0);
        Ok(NmTable { syms })
    }

    pub fn len(&self) -> usize {
        self.syms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }

    /// Adds another table's symbols (Linux: the modules' to System.map's).
    pub fn extend(&mut self, other: NmTable) {
        self.syms.extend(other.syms);
        self.syms.sort_by_key(|s| s.0);
    }

    /// The symbol at or below `addr` (within its size when it has one).
    pub fn lookup(&self, addr: u64) -> Option<&str> {
        let i = self.syms.partition_point(|s| s.0 <= addr).checked_sub(1)?;
        let (start, name, size) = &self.syms[i];
        match size {
            Some(sz) if addr >= start + sz => None,
            _ => Some(name),
        }
    }

    /// The symbol that starts exactly at `addr`, if one does (a function's entry).
    pub fn starting_at(&self, addr: u64) -> Option<&str> {
        let i = self.syms.partition_point(|s| s.0 < addr);
        self.syms
            .get(i)
            .filter(|s| s.0 == addr)
            .map(|s| s.1.as_str())
    }

    /// `[start, end)` of each symbol that a glob of `names` matches: its size, or up
    /// to the next symbol at a higher address.
    pub fn ranges(&self, names: &[&str]) -> Vec<(String, u64, u64)> {
        let mut out = Vec::new();
        for (i, (start, name, size)) in self.syms.iter().enumerate() {
            if !names.iter().any(|p| crate::steps::glob(p, name)) {
                continue;
            }
            let end = match size {
                Some(sz) if *sz > 0 => start + sz,
                _ => match self.syms[i..].iter().find(|s| s.0 > *start) {
                    Some(next) => next.0,
                    None => continue,
                },
            };
            out.push((name.clone(), *start, end));
        }
        out
    }
}

/// A function at an address: its name and, where debug info has one, its source
/// file (inlined functions carry only their short name, so the file says whose
/// they are).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frame {
    pub func: String,
    pub file: String,
}

impl Frame {
    pub fn named(func: &str) -> Self {
        Frame {
            func: func.to_string(),
            file: String::new(),
        }
    }
}

/// Names the functions at each address, innermost (inlined) first.
pub trait Symbolizer {
    fn frames(&mut self, addrs: &[u64]) -> Result<HashMap<u64, Vec<Frame>>, String>;
}

/// Linux: /proc/kallsyms (or System.map); user space is `[user]`. A module's
/// function (`name [module]`) is named `name`, with the module as its file.
pub struct MapSymbolizer<'a>(pub &'a NmTable);

impl Symbolizer for MapSymbolizer<'_> {
    fn frames(&mut self, addrs: &[u64]) -> Result<HashMap<u64, Vec<Frame>>, String> {
        Ok(addrs
            .iter()
            .map(|&a| {
                let name = if a < USER_END {
                    USER
                } else {
                    self.0.lookup(a).unwrap_or(UNKNOWN)
                };
                let frame = match name.split_once(" [") {
                    Some((func, module)) => Frame {
                        func: func.to_string(),
                        file: module.trim_end_matches(']').to_string(),
                    },
                    None => Frame::named(name),
                };
                (a, vec![frame])
            })
            .collect())
    }
}

/// This kernel: llvm-symbolizer on its ELF (line tables carry the inlined frames).
pub struct ElfSymbolizer {
    pub elf: String,
    /// Run address minus link address (0 when QEMU loads the Image where it is linked).
    pub load_offset: u64,
}

impl Symbolizer for ElfSymbolizer {
    fn frames(&mut self, addrs: &[u64]) -> Result<HashMap<u64, Vec<Frame>>, String> {
        let mut child = Command::new("llvm-symbolizer")
            .args([
                &format!("--obj={}", self.elf),
                "--inlining",
                "-C",
                "--output-style=JSON",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("llvm-symbolizer: {e} (tools/setup.sh installs it)"))?;
        let mut input = String::new();
        for a in addrs {
            input.push_str(&format!("{:#x}\n", a.wrapping_sub(self.load_offset)));
        }
        let mut stdin = child.stdin.take().ok_or("llvm-symbolizer: no stdin")?;
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let out = child
            .wait_with_output()
            .map_err(|e| format!("llvm-symbolizer: {e}"))?;
        writer
            .join()
            .map_err(|_| "llvm-symbolizer: writer panicked")?
            .map_err(|e| format!("llvm-symbolizer: {e}"))?;
        if !out.status.success() {
            return Err(format!("llvm-symbolizer failed on {}", self.elf));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut frames = HashMap::new();
        for (line, &a) in text.lines().zip(addrs) {
            frames.insert(a, parse_symbolizer_json(line)?);
        }
        if frames.len() != addrs.len() {
            return Err(format!(
                "llvm-symbolizer answered {} of {} addresses",
                frames.len(),
                addrs.len()
            ));
        }
        Ok(frames)
    }
}

/// One line of `llvm-symbolizer --output-style=JSON`: the frames, innermost first,
/// names without Rust's hash suffix; `[unknown]` when it found none.
pub fn parse_symbolizer_json(line: &str) -> Result<Vec<Frame>, String> {
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("llvm-symbolizer output: {e}: {line}"))?;
    let frames: Vec<Frame> = v["Symbol"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| Some((f["FunctionName"].as_str()?, f["FileName"].as_str())))
                .filter(|(n, _)| !n.is_empty() && *n != "??")
                .map(|(n, file)| Frame {
                    func: strip_hash(n).to_string(),
                    file: file.unwrap_or("").to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(if frames.is_empty() {
        vec![Frame::named(UNKNOWN)]
    } else {
        frames
    })
}

/// `a::b::h0123456789abcdef` -> `a::b` (rustc's legacy mangling hash).
pub fn strip_hash(name: &str) -> &str {
    match name.rsplit_once("::h") {
        Some((head, h)) if h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()) => head,
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = "ffff800008000000 T _text\nffff800008010000 T _stext\nffff800008010000 t do_one\nffff800008010040 T do_two\nffff800008020000 D some_data\nffff800009000000 t zram_write_page\t[zram]\n";

    #[test]
    fn system_map_and_kallsyms() {
        let t = NmTable::parse(MAP).unwrap();
        assert_eq!(t.lookup(0xffff_8000_0801_0004), Some("do_one"));
        assert_eq!(t.lookup(0xffff_8000_0801_0040), Some("do_two"));
        // Data symbols do not end a function: the next text symbol does.
        assert_eq!(t.lookup(0xffff_8000_0802_0004), Some("do_two"));
        assert_eq!(
            t.lookup(0xffff_8000_0900_0010),
            Some("zram_write_page [zram]")
        );
        assert_eq!(t.lookup(0x10), None);
        assert_eq!(t.starting_at(0xffff_8000_0801_0040), Some("do_two"));
        assert_eq!(t.starting_at(0xffff_8000_0801_0044), None);
        assert_eq!(
            t.ranges(&["do_one"]),
            [(
                "do_one".to_string(),
                0xffff_8000_0801_0000,
                0xffff_8000_0801_0040
            )]
        );
        let mut m = MapSymbolizer(&t);
        let f = m
            .frames(&[0x40_0000, 0xffff_8000_0801_0044, 0xffff_8000_0900_0000])
            .unwrap();
        assert_eq!(f[&0x40_0000], [Frame::named(USER)]);
        assert_eq!(
            f[&0xffff_8000_0900_0000],
            [Frame {
                func: "zram_write_page".into(),
                file: "zram".into()
            }]
        );
        assert_eq!(f[&0xffff_8000_0801_0044], [Frame::named("do_two")]);
    }

    #[test]
    fn nm_with_sizes() {
        let t = NmTable::parse("0000000040251360 0000000000000400 t compress\n                 U undefined\n0000000040260000 0000000000000010 T memset\n0000000040260010 0000000000000010 t <a::B as c::D>::f::h0123456789abcdef\n0000000040260020 0000000000000000 t $x\n").unwrap();
        assert_eq!(t.lookup(0x4026_0014), Some("<a::B as c::D>::f"));
        assert_eq!(t.len(), 3);
        assert_eq!(t.ranges(&["<a::B*"]).len(), 1);
        assert_eq!(t.lookup(0x4025_1360 + 0x3fc), Some("compress"));
        assert_eq!(t.lookup(0x4025_1360 + 0x400), None);
        assert_eq!(
            t.ranges(&["memset"]),
            [("memset".to_string(), 0x4026_0000, 0x4026_0010)]
        );
    }

    #[test]
    fn bad_symbol_lines_are_refused() {
        assert!(
            NmTable::parse("not a symbol line at all\n")
                .unwrap_err()
                .contains("line 1")
        );
        assert!(NmTable::parse("zzzz T f\n").is_err());
    }

    #[test]
    fn symbolizer_json() {
        let line = r#"{"Address":"0x1","Symbol":[{"FunctionName":"compiler_builtins::mem::impls::set_bytes::h0123456789abcdef","FileName":"/x/impls.rs"},{"FunctionName":"memset"}]}"#;
        let f = parse_symbolizer_json(line).unwrap();
        assert_eq!(f[0].func, "compiler_builtins::mem::impls::set_bytes");
        assert_eq!(f[0].file, "/x/impls.rs");
        assert_eq!(f[1], Frame::named("memset"));
        let none = r#"{"Address":"0x1","Symbol":[{"FunctionName":""}]}"#;
        assert_eq!(
            parse_symbolizer_json(none).unwrap(),
            [Frame::named(UNKNOWN)]
        );
        assert!(parse_symbolizer_json("garbage").is_err());
        assert_eq!(strip_hash("a::b::hxyz"), "a::b::hxyz");
    }
}
