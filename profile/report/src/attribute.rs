//! One window's instructions by step, by function and by vCPU. Each block's
//! instructions are charged one by one to the function at each address (A64
//! instructions are 4 bytes); a leaf block's (memcpy, memset) to the caller's step.
//! Owns only the arithmetic; names come from `symbols`, steps from `steps`.

use std::collections::{BTreeMap, BTreeSet};

use crate::dump::Window;
use crate::steps::{Kernel, Steps};
use crate::symbols::{NmTable, Symbolizer};

/// Instructions per vCPU.
pub type PerVcpu = Vec<u64>;

#[derive(Debug, Clone, PartialEq)]
pub struct Attribution {
    pub vcpus: usize,
    /// Step names, in the rules' order (`other` last).
    pub steps: Vec<String>,
    /// Per step (index into `steps`), per vCPU.
    pub by_step: Vec<PerVcpu>,
    /// (step, function) -> per vCPU. A leaf's instructions appear as
    /// `LEAF <- CALLER`.
    pub by_function: BTreeMap<(usize, String), PerVcpu>,
}

impl Attribution {
    pub fn total(&self) -> u64 {
        self.by_step.iter().flatten().sum()
    }
}

/// Attributes `window`'s counts.
pub fn attribute(
    window: &Window,
    vcpus: usize,
    kernel: Kernel,
    steps: &Steps,
    symbolizer: &mut dyn Symbolizer,
) -> Result<Attribution, String> {
    // Every address to name: each instruction of each block, and the callers.
    let mut addrs = BTreeSet::new();
    for &(a, n) in window.blocks.keys() {
        addrs.extend((0..n as u64).map(|i| a + 4 * i));
    }
    for &(_, _, caller) in window.calls.keys() {
        if caller != 0 {
            addrs.insert(caller);
        }
    }
    let addrs: Vec<u64> = addrs.into_iter().collect();
    let frames = symbolizer.frames(&addrs)?;
    let name = |a: u64| -> Result<(usize, String), String> {
        let f = frames
            .get(&a)
            .ok_or_else(|| format!("no symbol answer for {a:#x}"))?;
        let (step, func) = steps.classify(kernel, f);
        Ok((step, func.to_string()))
    };
    let mut out = Attribution {
        vcpus,
        steps: steps.steps.iter().map(|s| s.name.clone()).collect(),
        by_step: vec![vec![0; vcpus]; steps.steps.len()],
        by_function: BTreeMap::new(),
    };
    let mut charge = |step: usize, func: String, n: u64, runs: &[u64]| {
        let f = out
            .by_function
            .entry((step, func))
            .or_insert_with(|| vec![0; vcpus]);
        for (v, r) in runs.iter().enumerate() {
            out.by_step[step][v] += n * r;
            f[v] += n * r;
        }
    };
    // Leaf blocks: what their callers account for, per (block, vCPU).
    let mut by_callers: BTreeMap<(u64, u32), PerVcpu> = BTreeMap::new();
    for (&(leaf, n, caller), runs) in &window.calls {
        let counted = by_callers
            .entry((leaf, n))
            .or_insert_with(|| vec![0; vcpus]);
        // Never more than the block's own count (the window's first block may differ).
        let own = window.blocks.get(&(leaf, n)).cloned().unwrap_or_default();
        let runs: PerVcpu = runs
            .iter()
            .enumerate()
            .map(|(v, &r)| r.min(own.get(v).copied().unwrap_or(0).saturating_sub(counted[v])))
            .collect();
        for (c, r) in counted.iter_mut().zip(&runs) {
            *c += r;
        }
        let (leaf_step, leaf_fn) = name(leaf)?;
        let (step, func) = match caller {
            0 => (leaf_step, leaf_fn),
            c => {
                let (step, caller_fn) = name(c)?;
                (step, format!("{leaf_fn} <- {caller_fn}"))
            }
        };
        // The block's instructions by the leaf's own names would split them per
        // address; charged to one caller, they are charged whole.
        charge(step, func, n as u64, &runs);
    }
    for (&(a, n), runs) in &window.blocks {
        let runs: PerVcpu = match by_callers.get(&(a, n)) {
            Some(c) => runs.iter().zip(c).map(|(r, c)| r - c).collect(),
            None => runs.clone(),
        };
        if runs.iter().all(|&r| r == 0) {
            continue;
        }
        for i in 0..n as u64 {
            let (step, func) = name(a + 4 * i)?;
            charge(step, func, 1, &runs);
        }
    }
    Ok(out)
}

/// Calls per function and vCPU: the runs of the blocks that start at a function's
/// entry (`table`'s symbols, at link addresses: `load_offset` is taken off first). A
/// loop that jumps back to a function's first instruction would count as calls; a
/// function's blocks are otherwise entered from within it.
pub fn calls(
    window: &Window,
    vcpus: usize,
    table: &NmTable,
    load_offset: u64,
) -> BTreeMap<String, PerVcpu> {
    let mut out: BTreeMap<String, PerVcpu> = BTreeMap::new();
    for (&(a, _), runs) in &window.blocks {
        if let Some(name) = table.starting_at(a.wrapping_sub(load_offset)) {
            let c = out
                .entry(name.to_string())
                .or_insert_with(|| vec![0; vcpus]);
            c.iter_mut().zip(runs).for_each(|(c, r)| *c += r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump;
    use crate::symbols::{Frame, NmTable};
    use std::collections::HashMap;

    struct Fake;
    impl Symbolizer for Fake {
        fn frames(&mut self, addrs: &[u64]) -> Result<HashMap<u64, Vec<Frame>>, String> {
            Ok(addrs
                .iter()
                .map(|&a| {
                    let f = match a {
                        0x1000..0x1008 => "mm::zram::store",
                        0x1008..0x2000 => "spin::lock",
                        0x3000..0x4000 => "memset",
                        _ => "core::fmt::write",
                    };
                    (a, vec![Frame::named(f)])
                })
                .collect())
        }
    }

    fn steps() -> Steps {
        Steps::parse("step store s\nstep locks l\nstep other o\nkernel store mm::zram::*\nkernel locks spin::*\n").unwrap()
    }

    #[test]
    fn blocks_split_per_instruction_and_leaves_go_to_callers() {
        // Block 0x1000 (4 insns: 2 store, 2 locks) ran 3 times on vCPU 0, once on 1;
        // memset's block (5 insns) ran twice from 0x1000 and once with no caller.
        let d = dump::parse(
            "insn-profile v1 vcpus 2\nwindow 1\n1000 4 3 1\n3000 5 2 1\n9000 1 0 7\ncall 3000 5 1000 2 0\ncall 3000 5 0 0 1\nend 1\n",
        )
        .unwrap();
        let a = attribute(&d.windows[0], 2, Kernel::This, &steps(), &mut Fake).unwrap();
        assert_eq!(a.by_step[0], [2 * 3 + 5 * 2, 2]);
        assert_eq!(a.by_step[1], [2 * 3, 2]);
        assert_eq!(a.by_step[2], [0, 5 + 7]);
        // Every instruction counted once: the per-vCPU sums equal the window's.
        let per_vcpu: Vec<u64> = (0..2)
            .map(|v| a.by_step.iter().map(|s| s[v]).sum())
            .collect();
        assert_eq!(per_vcpu, d.windows[0].per_vcpu(2));
        assert_eq!(a.total(), d.windows[0].per_vcpu(2).iter().sum::<u64>());
        assert_eq!(
            a.by_function[&(0, "memset <- mm::zram::store".to_string())],
            [10, 0]
        );
        assert_eq!(a.by_function[&(2, "memset".to_string())], [0, 5]);
        // Calls: blocks at a function's entry (0x1000 is f's; 0x3000 is inside g).
        let t = NmTable::parse("1000 t f\n2ff0 t g\n").unwrap();
        let c = calls(&d.windows[0], 2, &t, 0);
        assert_eq!(c.len(), 1);
        assert_eq!(c["f"], [3, 1]);
        assert_eq!(calls(&d.windows[0], 2, &t, 0x1000).len(), 0);
    }
}
