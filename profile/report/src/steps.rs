//! The named steps of a reclaimed page's life and which functions belong to each, on
//! this kernel and on Linux (profile/steps.conf). An address's step is decided by the
//! innermost of its (inlined) frames that any rule matches, and among the rules by the
//! first in the file's order; none: `other`. A pattern matches the function's name, or
//! with `file:` its source file. Owns only the rules; counting is `attribute`'s.

use crate::symbols::Frame;

/// The rules file, compiled in (it is read by students next to mm/vmscan.c).
pub const STEPS_CONF: &str = include_str!("../../steps.conf");

/// Whose function names a rule is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// This kernel (Rust paths, from its ELF).
    This,
    /// Linux (C symbols, from System.map and kallsyms).
    Linux,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub what: String,
}

#[derive(Debug, Clone)]
struct Rule {
    kernel: Kernel,
    step: usize,
    pattern: String,
}

#[derive(Debug, Clone)]
pub struct Steps {
    pub steps: Vec<Step>,
    rules: Vec<Rule>,
}

/// The step every unmatched function falls into.
pub const OTHER: &str = "other";

impl Steps {
    /// Parses `step NAME WHAT...`, `kernel STEP PATTERN...` and `linux STEP
    /// PATTERN...` lines (`#` starts a comment). Every rule names a declared step;
    /// `other` is declared last.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut steps: Vec<Step> = Vec::new();
        let mut rules = Vec::new();
        for (no, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            let err = |why: &str| format!("steps.conf line {}: {why}: '{raw}'", no + 1);
            let mut w = line.split_whitespace();
            match w.next() {
                None => {}
                Some("step") => {
                    let name = w.next().ok_or_else(|| err("a step needs a name"))?;
                    if steps.iter().any(|s| s.name == name) {
                        return Err(err("step declared twice"));
                    }
                    steps.push(Step {
                        name: name.to_string(),
                        what: w.collect::<Vec<_>>().join(" "),
                    });
                }
                Some(k @ ("kernel" | "linux")) => {
                    let kernel = if k == "kernel" {
                        Kernel::This
                    } else {
                        Kernel::Linux
                    };
                    let name = w.next().ok_or_else(|| err("a rule needs a step"))?;
                    let step = steps
                        .iter()
                        .position(|s| s.name == name)
                        .ok_or_else(|| err("unknown step (declare it first)"))?;
                    let mut any = false;
                    for p in w {
                        rules.push(Rule {
                            kernel,
                            step,
                            pattern: p.to_string(),
                        });
                        any = true;
                    }
                    if !any {
                        return Err(err("a rule needs at least one pattern"));
                    }
                }
                Some(_) => return Err(err("not a step, kernel or linux line")),
            }
        }
        if steps.last().map(|s| s.name.as_str()) != Some(OTHER) {
            return Err(format!("steps.conf: the last step must be '{OTHER}'"));
        }
        Ok(Steps { steps, rules })
    }

    /// The rules shipped with the tool.
    pub fn builtin() -> Self {
        Self::parse(STEPS_CONF).expect("profile/steps.conf parses (tested)")
    }

    pub fn other(&self) -> usize {
        self.steps.len() - 1
    }

    /// The step of an address from its frames (innermost first), and the name of the
    /// frame that decided it (the outermost, the real function, when none did).
    pub fn classify<'a>(&self, kernel: Kernel, frames: &'a [Frame]) -> (usize, &'a str) {
        for f in frames {
            if let Some(r) = self.rules.iter().find(|r| {
                r.kernel == kernel
                    && match r.pattern.strip_prefix("file:") {
                        Some(p) => glob(p, &f.file),
                        None => glob(&r.pattern, without_generics(&f.func)),
                    }
            }) {
                return (r.step, &f.func);
            }
        }
        (
            self.other(),
            frames.last().map_or("[unknown]", |f| f.func.as_str()),
        )
    }
}

/// An inlined function's short name without its trailing generic arguments
/// (`shrink_isolated<kernel::reclaim::KernelMmu, ...>` -> `shrink_isolated`), so a
/// pattern does not match a type that is only a parameter.
pub fn without_generics(name: &str) -> &str {
    if name.starts_with('<') || !name.ends_with('>') {
        return name;
    }
    let mut depth = 0;
    for (i, c) in name.char_indices().rev() {
        match c {
            '>' => depth += 1,
            '<' => {
                depth -= 1;
                if depth == 0 {
                    return &name[..i];
                }
            }
            _ => {}
        }
    }
    name
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for p in middle {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("mm::zram::*", "mm::zram::Zram::store"));
        assert!(!glob("mm::zram::*", "mm::zramx"));
        assert!(glob(
            "*compress*",
            "lz4_flex::block::compress::compress_internal"
        ));
        assert!(glob(
            "LZ4_compress*",
            "LZ4_compress_fast_extState [lz4_compress]"
        ));
        assert!(glob("memset", "memset"));
        assert!(!glob("memset", "memset2"));
        assert!(glob("a*b*c", "a-b-c"));
        assert!(!glob("a*b*c", "a-c-b"));
        assert!(glob("*", ""));
    }

    #[test]
    fn generic_arguments_do_not_match() {
        assert_eq!(without_generics("shrink<a::Yield, b<c>>"), "shrink");
        assert_eq!(without_generics("<a as b>::f"), "<a as b>::f");
        assert_eq!(without_generics("plain"), "plain");
        let s = Steps::parse("step locks l\nstep other o\nkernel locks *Yield*\n").unwrap();
        let f = [Frame::named("shrink_isolated<kernel::relax::Yield, 1>")];
        assert_eq!(s.classify(Kernel::This, &f).0, 1);
    }

    #[test]
    fn the_shipped_rules_parse_and_end_with_other() {
        let s = Steps::builtin();
        assert_eq!(s.steps[s.other()].name, OTHER);
        assert!(s.steps.len() > 10, "{}", s.steps.len());
    }

    #[test]
    fn innermost_matching_frame_decides() {
        let s = Steps::parse(
            "step locks spin\nstep store zram\nstep other rest\nkernel locks spin::*\nkernel store mm::zram::*\nlinux store zram_*\n",
        )
        .unwrap();
        let frames = |v: &[&str]| v.iter().map(|s| Frame::named(s)).collect::<Vec<_>>();
        let f = frames(&[
            "core::ptr::write",
            "spin::mutex::Mutex::lock",
            "mm::zram::Zram::store",
        ]);
        assert_eq!(
            s.classify(Kernel::This, &f),
            (0, "spin::mutex::Mutex::lock")
        );
        let f = frames(&["core::ptr::write", "mm::zram::Zram::store"]);
        assert_eq!(s.classify(Kernel::This, &f), (1, "mm::zram::Zram::store"));
        let f = frames(&["core::fmt::write", "kernel::console::print"]);
        assert_eq!(s.classify(Kernel::This, &f), (2, "kernel::console::print"));
        // Rules are per kernel.
        assert_eq!(s.classify(Kernel::Linux, &frames(&["mm::zram::x"])).0, 2);
        assert_eq!(
            s.classify(Kernel::Linux, &frames(&["zram_write_page [zram]"]))
                .0,
            1
        );
        assert_eq!(
            s.classify(Kernel::Linux, &frames(&["zram_write_page"])).0,
            1
        );
    }

    #[test]
    fn file_patterns_name_inlined_frames() {
        let s = Steps::parse("step store z\nstep other o\nkernel store file:*/mm/src/zram/*\n")
            .unwrap();
        let f = [
            Frame {
                func: "copy<u8>".into(),
                file: "/rustc/x/core/src/ptr/mod.rs".into(),
            },
            Frame {
                func: "store_slot".into(),
                file: "/w/mm/src/zram/mod.rs".into(),
            },
            Frame::named("kernel::reclaim::kswapd"),
        ];
        assert_eq!(s.classify(Kernel::This, &f), (0, "store_slot"));
    }

    #[test]
    fn bad_rules_are_refused() {
        assert!(Steps::parse("step a x\n").unwrap_err().contains("other"));
        assert!(
            Steps::parse("kernel a x\nstep other y\n")
                .unwrap_err()
                .contains("unknown step")
        );
        assert!(
            Steps::parse("step other y\nlinux other\n")
                .unwrap_err()
                .contains("pattern")
        );
        assert!(
            Steps::parse("step other y\nstep other y\n")
                .unwrap_err()
                .contains("twice")
        );
        assert!(Steps::parse("stpe a\n").is_err());
    }
}
