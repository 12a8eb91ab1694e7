//! Reads what profile/plugin writes: per window, how often each vCPU entered each
//! translated block, and the leaf blocks' runs by caller. Owns only the file format.

use std::collections::BTreeMap;

/// One window's counts, blocks merged by (address, length).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Window {
    /// (start address, instructions) -> runs per vCPU.
    pub blocks: BTreeMap<(u64, u32), Vec<u64>>,
    /// (leaf block address, its instructions, call site: the last instruction of the
    /// caller's block) -> runs per vCPU.
    pub calls: BTreeMap<(u64, u32, u64), Vec<u64>>,
}

impl Window {
    /// Adds `other`'s runs to this window's (windows of the same `vcpus`).
    pub fn merge(&mut self, other: &Window, vcpus: usize) {
        for (key, runs) in &other.blocks {
            add(
                self.blocks.entry(*key).or_insert_with(|| vec![0; vcpus]),
                runs,
            );
        }
        for (key, runs) in &other.calls {
            add(
                self.calls.entry(*key).or_insert_with(|| vec![0; vcpus]),
                runs,
            );
        }
    }

    /// Instructions each vCPU ran in the window.
    pub fn per_vcpu(&self, vcpus: usize) -> Vec<u64> {
        let mut out = vec![0; vcpus];
        for (&(_, n), runs) in &self.blocks {
            for (o, r) in out.iter_mut().zip(runs) {
                *o += r * n as u64;
            }
        }
        out
    }
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Dump {
    pub vcpus: usize,
    /// Windows in the order they closed (window 1 first).
    pub windows: Vec<Window>,
}

/// Parses a profile; an error names the line and what is wrong with it.
pub fn parse(text: &str) -> Result<Dump, String> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let vcpus = match lines.next() {
        Some((_, h)) => h
            .strip_prefix("insn-profile v1 vcpus ")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("line 1: not an insn-profile v1 header: '{h}'"))?,
        None => return Err(String::from("empty profile")),
    };
    let mut dump = Dump {
        vcpus,
        windows: Vec::new(),
    };
    let mut open: Option<Window> = None;
    for (no, line) in lines {
        let err = |why: &str| format!("line {no}: {why}: '{line}'");
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["window", k] => {
                if open.is_some() {
                    return Err(err("a window opens inside another"));
                }
                if k.parse::<usize>().ok() != Some(dump.windows.len() + 1) {
                    return Err(err("windows must be numbered 1, 2, ... in order"));
                }
                open = Some(Window::default());
            }
            ["end", k] => {
                let w = open.take().ok_or_else(|| err("end without window"))?;
                if k.parse::<usize>().ok() != Some(dump.windows.len() + 1) {
                    return Err(err("end does not match its window"));
                }
                dump.windows.push(w);
            }
            ["call", leaf, n, caller, runs @ ..] => {
                let w = open
                    .as_mut()
                    .ok_or_else(|| err("a count outside a window"))?;
                let runs = counts(runs, vcpus).ok_or_else(|| err("bad counts"))?;
                let key = (
                    hex(leaf).ok_or_else(|| err("bad address"))?,
                    n.parse().map_err(|_| err("bad length"))?,
                    hex(caller).ok_or_else(|| err("bad caller"))?,
                );
                add(w.calls.entry(key).or_insert_with(|| vec![0; vcpus]), &runs);
            }
            [addr, n, runs @ ..] => {
                let w = open
                    .as_mut()
                    .ok_or_else(|| err("a count outside a window"))?;
                let runs = counts(runs, vcpus).ok_or_else(|| err("bad counts"))?;
                let key = (
                    hex(addr).ok_or_else(|| err("bad address"))?,
                    n.parse().map_err(|_| err("bad length"))?,
                );
                add(w.blocks.entry(key).or_insert_with(|| vec![0; vcpus]), &runs);
            }
            [] => {}
            _ => return Err(err("not a profile line")),
        }
    }
    if open.is_some() {
        return Err(String::from("the last window has no end (truncated file?)"));
    }
    Ok(dump)
}

fn hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s, 16).ok()
}

fn counts(words: &[&str], vcpus: usize) -> Option<Vec<u64>> {
    (words.len() == vcpus)
        .then(|| words.iter().map(|w| w.parse().ok()).collect())
        .flatten()
}

fn add(into: &mut [u64], runs: &[u64]) {
    for (i, r) in into.iter_mut().zip(runs) {
        *i += r;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "insn-profile v1 vcpus 2\nwindow 1\n1000 4 1 2\n1000 4 0 3\n2000 1 5 0\ncall 3000 2 1000 1 1\nend 1\nwindow 2\nend 2\n";

    #[test]
    fn merges_retranslated_blocks_and_counts_per_vcpu() {
        let d = parse(TWO).unwrap();
        assert_eq!(d.vcpus, 2);
        assert_eq!(d.windows.len(), 2);
        let w = &d.windows[0];
        assert_eq!(w.blocks[&(0x1000, 4)], [1, 5]);
        assert_eq!(w.calls[&(0x3000, 2, 0x1000)], [1, 1]);
        assert_eq!(w.per_vcpu(2), [4 + 5, 20]);
        assert!(d.windows[1].blocks.is_empty());
        let mut twice = w.clone();
        twice.merge(w, 2);
        assert_eq!(twice.per_vcpu(2), [2 * 9, 2 * 20]);
        assert_eq!(twice.calls[&(0x3000, 2, 0x1000)], [2, 2]);
    }

    #[test]
    fn refuses_broken_files_with_the_line() {
        assert!(parse("").is_err());
        assert!(parse("hello\n").unwrap_err().contains("line 1"));
        let e = parse("insn-profile v1 vcpus 2\nwindow 1\n1000 4 1\nend 1\n").unwrap_err();
        assert!(e.contains("line 3") && e.contains("bad counts"), "{e}");
        assert!(parse("insn-profile v1 vcpus 1\n1000 4 1\n").is_err());
        assert!(
            parse("insn-profile v1 vcpus 1\nwindow 1\n1000 4 1\n")
                .unwrap_err()
                .contains("no end")
        );
        assert!(parse("insn-profile v1 vcpus 1\nwindow 2\nend 2\n").is_err());
        assert!(parse("insn-profile v1 vcpus 1\nwindow 1\nzz 4 1\nend 1\n").is_err());
    }
}
