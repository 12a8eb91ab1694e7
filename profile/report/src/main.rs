//! insn-profile: the command line over the library (see lib.rs and docs/perf.md).
//!
//!   insn-profile attribute PROFILE --window K[,K...] (--elf ELF [--load-offset HEX]
//!                | --kallsyms FILE [--system-map FILE]) [--functions OUT.tsv]
//!       one or more windows of a profile by step and vCPU, as JSON on stdout; the
//!       per-function counts (step, function, total, per vCPU) to OUT.tsv, and with
//!       --calls CALLS.tsv each function's calls (function, total, per vCPU)
//!   insn-profile leaves (--elf ELF | --kallsyms FILE)
//!       the plugin's leaf= arguments for memcpy, memset and their kin
//!   insn-profile per-page --pressure P.json --spare S.json --pages N [--role NAME=CPU[,CPU]]...
//!       (pressure - spare) / pages per step, vCPU and role, as JSON
//!   insn-profile table NAME=PER_PAGE.json...
//!       the per-step table, one column per file
//!   insn-profile svg TITLE NAME=PER_PAGE.json...
//!       the same as stacked bars (one per file, a colour per step), SVG on stdout

use std::collections::HashMap;
use std::fs;
use std::process::ExitCode;

use insn_profile::attribute::{attribute, calls};
use insn_profile::dump;
use insn_profile::per_page::{per_page, read_summary, summary};
use insn_profile::steps::{Kernel, Steps};
use insn_profile::symbols::{ElfSymbolizer, MapSymbolizer, NmTable, Symbolizer};
use serde_json::Value;

/// Routines that many steps call, charged to their callers: the copy and fill
/// routines, and (this kernel) the memmap's list and lookup helpers, which both the
/// LRU and the buddy allocator use.
const LEAVES_KERNEL: &[&str] = &[
    "memcpy",
    "memmove",
    "memset",
    "memcmp",
    "bcmp",
    "compiler_builtins::mem::*",
    "compiler_builtins::int::*",
    "__udivti3",
    "__umodti3",
    "core::slice::*copy_within*",
    "mm::frame::memmap::PageList::*",
    "mm::frame::memmap::Memmap::*",
];
/// Linux: also the small checks and helpers that code of every step calls
/// (CONFIG_DEBUG_LIST's checks, per-CPU offsets, IRQ masking, folio tests).
const LEAVES_LINUX: &[&str] = &[
    "memcpy",
    "__memcpy",
    "__pi_memcpy",
    "memmove",
    "__memmove",
    "__pi_memmove",
    "memset",
    "__memset",
    "__pi_memset",
    "memcmp",
    "__list_del_entry_valid",
    "__list_add_valid",
    "__kern_my_cpu_offset",
    "arch_local_irq_save",
    "arch_local_irq_restore",
    "folio_mapping",
    "folio_mapped",
    "PageHeadHuge",
    "__cond_resched",
    "percpu_ref_*",
    "page_mapping",
    "folio_memcg_lock*",
    "folio_memcg_unlock",
];

/// Writes `text` and a newline to stdout; a reader that went away is not an error.
fn emit(text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("stdout: {e}")),
        _ => Ok(()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("insn-profile: {e}");
            ExitCode::from(2)
        }
    }
}

/// `--name value` options and the words that are not options.
struct Opts {
    named: HashMap<String, Vec<String>>,
    free: Vec<String>,
}

fn opts(args: &[String], known: &[&str]) -> Result<Opts, String> {
    let mut o = Opts {
        named: HashMap::new(),
        free: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(name) = a.strip_prefix("--") {
            if !known.contains(&name) {
                return Err(format!("unknown option '{a}' (see the usage in --help)"));
            }
            let v = it.next().ok_or_else(|| format!("{a} needs a value"))?;
            o.named.entry(name.to_string()).or_default().push(v.clone());
        } else {
            o.free.push(a.clone());
        }
    }
    Ok(o)
}

impl Opts {
    fn one(&self, name: &str) -> Option<&str> {
        self.named
            .get(name)
            .and_then(|v| v.last())
            .map(|s| s.as_str())
    }
    fn need(&self, name: &str) -> Result<&str, String> {
        self.one(name)
            .ok_or_else(|| format!("--{name} is required"))
    }
}

fn read(path: &str) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))
}

fn read_json(path: &str) -> Result<Value, String> {
    serde_json::from_str(&read(path)?).map_err(|e| format!("{path}: {e}"))
}

fn run(args: &[String]) -> Result<(), String> {
    let (cmd, rest) = args.split_first().ok_or(USAGE)?;
    match cmd.as_str() {
        "attribute" => cmd_attribute(rest),
        "leaves" => cmd_leaves(rest),
        "per-page" => cmd_per_page(rest),
        "table" => cmd_table(rest),
        "svg" => cmd_svg(rest),
        "-h" | "--help" => emit(USAGE),
        other => Err(format!("unknown command '{other}'\n{USAGE}")),
    }
}

const USAGE: &str = "usage: insn-profile attribute|leaves|per-page|table|svg ... (profile/report/src/main.rs, docs/perf.md)";

/// Linux's symbols: /proc/kallsyms as the guest printed it (kernel and modules; the
/// System.map in Debian's package is a placeholder), and a System.map if given.
fn nm_table(o: &Opts) -> Result<NmTable, String> {
    let mut t = NmTable::default();
    for name in ["system-map", "kallsyms"] {
        if let Some(path) = o.one(name) {
            t.extend(NmTable::parse(&read(path)?).map_err(|e| format!("{path}: {e}"))?);
        }
    }
    if t.is_empty() {
        return Err(String::from("no text symbols in the symbol files"));
    }
    Ok(t)
}

/// `--load-offset HEX` (default 0): where the kernel ran minus where it was linked.
fn load_offset(o: &Opts) -> Result<u64, String> {
    let off = o.one("load-offset").unwrap_or("0");
    u64::from_str_radix(off.trim_start_matches("0x"), 16)
        .map_err(|_| format!("--load-offset: '{off}' is not hex"))
}

/// A tab-separated table: `header` and a `cpuN` column per vCPU, then each row's
/// leading columns, its total and its counts per vCPU.
fn tsv<'a>(
    header: &str,
    vcpus: usize,
    rows: impl Iterator<Item = (String, &'a Vec<u64>)>,
) -> String {
    let mut text = String::from(header);
    for v in 0..vcpus {
        text.push_str(&format!("\tcpu{v}"));
    }
    text.push('\n');
    for (lead, v) in rows {
        text.push_str(&format!("{lead}\t{}", v.iter().sum::<u64>()));
        for x in v {
            text.push_str(&format!("\t{x}"));
        }
        text.push('\n');
    }
    text
}

fn elf_table(elf: &str) -> Result<NmTable, String> {
    let out = std::process::Command::new("llvm-nm")
        .args(["-S", "-C", "--defined-only", elf])
        .output()
        .map_err(|e| format!("llvm-nm: {e} (tools/setup.sh installs it)"))?;
    if !out.status.success() {
        return Err(format!("llvm-nm failed on {elf}"));
    }
    NmTable::parse(&String::from_utf8_lossy(&out.stdout))
}

/// Where `attribute` takes its names from.
enum Source<'a> {
    /// This kernel's ELF.
    Elf(&'a str),
    /// Linux's symbol table (kallsyms, System.map).
    Linux(NmTable),
}

fn cmd_attribute(args: &[String]) -> Result<(), String> {
    let o = opts(
        args,
        &[
            "window",
            "elf",
            "load-offset",
            "system-map",
            "kallsyms",
            "functions",
            "calls",
        ],
    )?;
    let [profile] = o.free.as_slice() else {
        return Err(String::from("attribute takes one PROFILE file"));
    };
    let d = dump::parse(&read(profile)?).map_err(|e| format!("{profile}: {e}"))?;
    let windows: Vec<usize> = o
        .need("window")?
        .split(',')
        .map(|k| {
            k.parse()
                .map_err(|_| format!("--window: '{k}' is not a number"))
        })
        .collect::<Result<_, _>>()?;
    let mut merged = dump::Window::default();
    for &k in &windows {
        let w = d.windows.get(k.wrapping_sub(1)).ok_or_else(|| {
            format!(
                "{profile} has {} window(s), not a window {k}",
                d.windows.len()
            )
        })?;
        merged.merge(w, d.vcpus);
    }
    // Linux's symbols are read once, for the names and the calls alike; the kernel's
    // names come from llvm-symbolizer, its function entries (for --calls) from llvm-nm.
    let linux = o.one("kallsyms").is_some() || o.one("system-map").is_some();
    let source = match (o.one("elf"), linux) {
        (Some(elf), false) => Source::Elf(elf),
        (None, true) => Source::Linux(nm_table(&o)?),
        _ => {
            return Err(String::from(
                "give --elf (this kernel) or --kallsyms/--system-map (Linux), one of them",
            ));
        }
    };
    let offset = load_offset(&o)?;
    let (kernel, mut sym): (Kernel, Box<dyn Symbolizer + '_>) = match &source {
        Source::Elf(elf) => (
            Kernel::This,
            Box::new(ElfSymbolizer {
                elf: elf.to_string(),
                load_offset: offset,
            }),
        ),
        Source::Linux(table) => (Kernel::Linux, Box::new(MapSymbolizer(table))),
    };
    let steps = Steps::builtin();
    let a = attribute(&merged, d.vcpus, kernel, &steps, sym.as_mut())?;
    if let Some(path) = o.one("calls") {
        let counts = match &source {
            Source::Elf(elf) => calls(&merged, d.vcpus, &elf_table(elf)?, offset),
            Source::Linux(table) => calls(&merged, d.vcpus, table, 0),
        };
        let mut rows: Vec<_> = counts.iter().collect();
        rows.sort_by_key(|(_, v)| std::cmp::Reverse(v.iter().sum::<u64>()));
        let rows = rows.into_iter().map(|(f, v)| (f.clone(), v));
        fs::write(path, tsv("# function\tcalls", d.vcpus, rows))
            .map_err(|e| format!("{path}: {e}"))?;
    }
    if let Some(path) = o.one("functions") {
        let mut rows: Vec<_> = a.by_function.iter().collect();
        rows.sort_by_key(|(_, v)| std::cmp::Reverse(v.iter().sum::<u64>()));
        let rows = rows
            .into_iter()
            .map(|((step, func), v)| (format!("{}\t{func}", a.steps[*step]), v));
        fs::write(path, tsv("# step\tfunction\ttotal", d.vcpus, rows))
            .map_err(|e| format!("{path}: {e}"))?;
    }
    emit(&summary(&a, &windows).to_string())
}

fn cmd_leaves(args: &[String]) -> Result<(), String> {
    let o = opts(args, &["elf", "system-map", "kallsyms"])?;
    let (table, names) = match o.one("elf") {
        Some(elf) => (elf_table(elf)?, LEAVES_KERNEL),
        None => (nm_table(&o)?, LEAVES_LINUX),
    };
    let words: Vec<String> = table
        .ranges(names)
        .iter()
        .map(|(_, a, b)| format!("leaf={a:x}-{b:x}"))
        .collect();
    emit(&words.join(","))
}

fn cmd_per_page(args: &[String]) -> Result<(), String> {
    let o = opts(args, &["pressure", "spare", "pages", "role"])?;
    let p = read_summary(&read_json(o.need("pressure")?)?)?;
    let s = read_summary(&read_json(o.need("spare")?)?)?;
    let pages: u64 = o
        .need("pages")?
        .parse()
        .map_err(|_| String::from("--pages wants a number"))?;
    let mut roles = Vec::new();
    for r in o.named.get("role").into_iter().flatten() {
        let (name, cpus) = r
            .split_once('=')
            .ok_or_else(|| format!("--role {r}: not NAME=CPU[,CPU]"))?;
        let cpus = cpus
            .split(',')
            .map(|c| {
                c.trim_start_matches("cpu")
                    .parse()
                    .map_err(|_| format!("--role {r}: bad CPU '{c}'"))
            })
            .collect::<Result<Vec<usize>, _>>()?;
        roles.push((name.to_string(), cpus));
    }
    let order: Vec<String> = Steps::builtin().steps.into_iter().map(|s| s.name).collect();
    emit(&per_page(&p, &s, pages, &order, &roles)?.to_string())
}

/// `NAME=PER_PAGE.json` arguments, read.
fn columns(args: &[String]) -> Result<Vec<(String, Value)>, String> {
    if args.is_empty() {
        return Err(String::from("give NAME=PER_PAGE.json columns"));
    }
    let mut cols = Vec::new();
    for a in args {
        let (name, path) = a
            .split_once('=')
            .ok_or_else(|| format!("'{a}' is not NAME=FILE"))?;
        cols.push((name.to_string(), read_json(path)?));
    }
    Ok(cols)
}

fn cmd_svg(args: &[String]) -> Result<(), String> {
    let (title, rest) = args
        .split_first()
        .ok_or("svg wants a TITLE, then columns")?;
    let cols = columns(rest)?;
    let steps = Steps::builtin();
    let bars: Vec<insn_profile::svg::Bar> = cols
        .iter()
        .map(|(name, v)| {
            let parts = steps
                .steps
                .iter()
                .map(|s| (s.name.clone(), v["steps"][&s.name].as_f64().unwrap_or(0.0)))
                .collect();
            let total = v["profiled_instructions_per_page"].as_f64().unwrap_or(0.0);
            (name.clone(), parts, total)
        })
        .collect();
    emit(insn_profile::svg::stacked_bars(title, &bars).trim_end())
}

fn cmd_table(args: &[String]) -> Result<(), String> {
    use std::fmt::Write;
    let cols = columns(args)?;
    let steps = Steps::builtin();
    let mut t = format!("{:<14}", "step");
    for (name, _) in &cols {
        let _ = write!(t, " {name:>12}");
    }
    t.push_str("   (instructions per reclaimed page)\n");
    let cell = |v: &Value| match v.as_i64() {
        Some(x) => format!("{x:>12}"),
        None => format!("{:>12}", "n/a"),
    };
    for s in &steps.steps {
        let _ = write!(t, "{:<14}", s.name);
        for (_, v) in &cols {
            let _ = write!(t, " {}", cell(&v["steps"][&s.name]));
        }
        let _ = writeln!(t, "   {}", s.what);
    }
    let _ = write!(t, "{:<14}", "total");
    for (_, v) in &cols {
        let _ = write!(t, " {}", cell(&v["profiled_instructions_per_page"]));
    }
    t.push('\n');
    let mut roles: Vec<String> = Vec::new();
    for (_, v) in &cols {
        for k in v["roles"].as_object().into_iter().flatten().map(|(k, _)| k) {
            if !roles.contains(k) {
                roles.push(k.clone());
            }
        }
    }
    for r in roles {
        let _ = write!(t, "{:<14}", format!("on {r}"));
        for (_, v) in &cols {
            let _ = write!(t, " {}", cell(&v["roles"][&r]));
        }
        let _ = writeln!(t, "   instructions per page on {r}'s vCPU(s)");
    }
    emit(t.trim_end())
}
