//! Where reclaim's threads go on a big.LITTLE SoC, from the CPUs' `capacity-dmips-mhz`:
//! the stage that costs most per page gets a big core. Pure: the kernel decides
//! whether to use the answer (`placement=capacity`); nothing here knows the cores' load.
//!
//! Async: kcompressd compresses (most of the per-page cost, see docs/results.md), so
//! the workers take the biggest cores, the workload the next big one, and kswapd, which
//! only scans and unmaps, the smallest. Sync: kswapd does all of it and takes the
//! biggest core, the workload the next. CPU 0 is never chosen: it boots and reports.

use arrayvec::ArrayVec;

use crate::cmdline::MAX_KCOMPRESSD_CPUS;

/// Logical CPU numbers for each role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// kswapd's CPU.
    pub kswapd: u32,
    /// The kcompressd workers' CPUs. Empty in sync mode.
    pub kcompressd: ArrayVec<u32, MAX_KCOMPRESSD_CPUS>,
    /// The workload's CPU.
    pub workload: u32,
}

/// Why no placement was chosen (the caller keeps its fixed defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlacementError {
    /// Every CPU other than 0 has the same capacity, or none says: nothing to choose.
    Uniform,
    /// Fewer CPUs other than 0 than roles to fill.
    TooFewCpus {
        /// CPUs the roles need (CPU 0 not counted).
        needed: usize,
        /// CPUs other than 0 that are online.
        have: usize,
    },
    /// More workers asked than `kcompressd_cpu=` can hold.
    TooManyWorkers,
}

impl core::fmt::Display for PlacementError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PlacementError::Uniform => f.write_str(
                "every CPU has the same capacity-dmips-mhz (or none): nothing to choose",
            ),
            PlacementError::TooFewCpus { needed, have } => {
                write!(f, "{needed} CPUs other than 0 needed, {have} online")
            }
            PlacementError::TooManyWorkers => write!(
                f,
                "more than {MAX_KCOMPRESSD_CPUS} kcompressd workers asked"
            ),
        }
    }
}

/// Places kswapd, `workers` kcompressd workers (0: sync mode) and one workload on the
/// CPUs `online` (logical numbers), whose capacities are `capacity[cpu]` (`None`: the
/// DTB does not say; counted as the smallest). Ties go to the lower CPU number.
pub fn by_capacity(
    capacity: &[Option<u32>],
    online: &[u32],
    workers: usize,
) -> Result<Placement, PlacementError> {
    if workers > MAX_KCOMPRESSD_CPUS {
        return Err(PlacementError::TooManyWorkers);
    }
    let cap = |cpu: u32| capacity.get(cpu as usize).copied().flatten().unwrap_or(0);
    let mut cpus: ArrayVec<u32, { crate::MAX_CPUS }> = ArrayVec::new();
    for &cpu in online {
        if cpu != 0 && !cpus.contains(&cpu) && cpus.try_push(cpu).is_err() {
            break;
        }
    }
    let needed = workers + 2;
    if cpus.len() < needed {
        return Err(PlacementError::TooFewCpus {
            needed,
            have: cpus.len(),
        });
    }
    if cpus.iter().all(|&c| cap(c) == cap(cpus[0])) {
        return Err(PlacementError::Uniform);
    }
    // Biggest first; equal capacities in CPU order.
    cpus.sort_unstable_by_key(|&c| (core::cmp::Reverse(cap(c)), c));
    let placement = if workers == 0 {
        Placement {
            kswapd: cpus[0],
            kcompressd: ArrayVec::new(),
            workload: cpus[1],
        }
    } else {
        // The smallest core, and of those the lowest number.
        let smallest = cap(cpus[cpus.len() - 1]);
        let kswapd = cpus
            .iter()
            .copied()
            .filter(|&c| cap(c) == smallest)
            .min()
            .unwrap_or(cpus[cpus.len() - 1]);
        let mut rest = cpus.iter().copied().filter(|&c| c != kswapd);
        let kcompressd = rest.by_ref().take(workers).collect();
        let workload = rest.next().unwrap_or(kswapd);
        Placement {
            kswapd,
            kcompressd,
            workload,
        }
    };
    Ok(placement)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MT8183: [Option<u32>; 8] = [
        Some(741),
        Some(741),
        Some(741),
        Some(741),
        Some(1024),
        Some(1024),
        Some(1024),
        Some(1024),
    ];
    const ALL8: [u32; 8] = [0, 1, 2, 3, 4, 5, 6, 7];

    #[test]
    fn big_little_async_puts_compression_on_big_cores() {
        let p = by_capacity(&MT8183, &ALL8, 1).unwrap();
        assert_eq!(
            (p.kswapd, p.kcompressd.as_slice(), p.workload),
            (1, &[4][..], 5)
        );
        let p = by_capacity(&MT8183, &ALL8, 2).unwrap();
        assert_eq!(
            (p.kswapd, p.kcompressd.as_slice(), p.workload),
            (1, &[4, 5][..], 6)
        );
    }

    #[test]
    fn sync_puts_kswapd_on_a_big_core() {
        let p = by_capacity(&MT8183, &ALL8, 0).unwrap();
        assert_eq!((p.kswapd, p.kcompressd.len(), p.workload), (4, 0, 5));
    }

    #[test]
    fn uniform_or_unknown_capacities_choose_nothing() {
        assert_eq!(
            by_capacity(&[None; 4], &[0, 1, 2, 3], 1),
            Err(PlacementError::Uniform)
        );
        // CPU 0 alone being different does not count: it is never chosen.
        let caps = [Some(512), Some(1024), Some(1024), Some(1024)];
        assert_eq!(
            by_capacity(&caps, &[0, 1, 2, 3], 1),
            Err(PlacementError::Uniform)
        );
    }

    #[test]
    fn too_few_cpus_is_an_error() {
        assert_eq!(
            by_capacity(&MT8183, &[0, 4, 5], 2),
            Err(PlacementError::TooFewCpus { needed: 4, have: 2 })
        );
        assert_eq!(
            by_capacity(&MT8183, &ALL8, 9),
            Err(PlacementError::TooManyWorkers)
        );
    }

    proptest! {
        /// Any capacities: roles are distinct online CPUs other than 0, and no worker
        /// sits on a smaller core than kswapd in async mode.
        #[test]
        fn roles_are_distinct_and_ordered(
            caps in proptest::collection::vec(proptest::option::of(1u32..2048), 1..16),
            workers in 0usize..4,
        ) {
            let online: Vec<u32> = (0..caps.len() as u32).collect();
            if let Ok(p) = by_capacity(&caps, &online, workers) {
                let cap = |c: u32| caps[c as usize].unwrap_or(0);
                let mut all: Vec<u32> = p.kcompressd.to_vec();
                all.push(p.kswapd);
                all.push(p.workload);
                let n = all.len();
                all.sort_unstable();
                all.dedup();
                prop_assert_eq!(all.len(), n);
                prop_assert!(all.iter().all(|&c| c != 0 && (c as usize) < caps.len()));
                prop_assert_eq!(p.kcompressd.len(), workers);
                for &w in &p.kcompressd {
                    prop_assert!(cap(w) >= cap(p.kswapd));
                }
            }
        }
    }
}
