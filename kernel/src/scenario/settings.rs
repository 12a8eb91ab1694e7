//! The command line's reclaim tunables turned into the `mm` settings the scenarios
//! build from: page mix, zone watermark config, policy config (ring size, ring-full
//! order), and `placement=capacity` turned into CPU numbers. One place, so `reclaim`,
//! `bench` and the console agree on what a key means.

use core::fmt;

use mm::frame::ZoneConfig;
use mm::pagegen::PageMix;
use mm::reclaim::policy::{DEFAULT_RING_SIZE, LruKind, ReclaimConfig, ReclaimMode, RingFull};
use platform::Board;
use platform::cmdline::{self, CmdLine, Placement};
use platform::placement;

use super::Cpus;
use crate::arch::aarch64::smp;
use crate::println;

/// `mix=ZERO,SAME,TEXT,STRUCTURED,RANDOM`, or the default (lz4 ratio about 2.7).
pub fn page_mix(cmd: &CmdLine) -> PageMix {
    match cmd.mix {
        Some([zero, same_filled, text, structured, random]) => PageMix {
            zero,
            same_filled,
            text,
            structured,
            random,
        },
        None => PageMix::DEFAULT,
    }
}

/// A page mix in plain words: `3,1,30,59,7 % (zero, same-filled, text, structured,
/// random)`.
pub struct MixWords(pub PageMix);

impl fmt::Display for MixWords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.0;
        write!(
            f,
            "{},{},{},{},{} % (zero, same-filled, text, structured, random)",
            m.zero, m.same_filled, m.text, m.structured, m.random
        )
    }
}

/// Each CPU's `capacity-dmips-mhz`, `?` where the DTB gives none: `1024,1024,?,446`.
struct Capacities<'a>(&'a [Option<u32>]);

impl fmt::Display for Capacities<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (cpu, capacity) in self.0.iter().enumerate() {
            if cpu > 0 {
                f.write_str(",")?;
            }
            match capacity {
                Some(c) => write!(f, "{c}")?,
                None => f.write_str("?")?,
            }
        }
        Ok(())
    }
}

/// `watermark_scale_factor=` over Linux's defaults.
pub fn zone_config(cmd: &CmdLine) -> ZoneConfig {
    let mut cfg = ZoneConfig::default();
    if let Some(wsf) = cmd.watermark_scale_factor {
        cfg.watermark_scale_factor = wsf;
    }
    cfg
}

// `lru_gen_min_ttl_ms=` accepts what the policy's packed settings can hold.
const _: () = assert!(cmdline::MAX_LRU_GEN_MIN_TTL_MS == mm::reclaim::policy::MAX_MIN_TTL_MS);

/// The policy in `mode` with `ring_full=`, `ring=`, `lru=` and `lru_gen_min_ttl_ms=`.
pub fn reclaim_config(cmd: &CmdLine, mode: ReclaimMode) -> ReclaimConfig {
    ReclaimConfig {
        mode,
        ring_full: match cmd.ring_full {
            cmdline::RingFull::New => RingFull::New,
            cmdline::RingFull::Oldest => RingFull::Oldest,
        },
        ring_size: cmd.ring.map_or(DEFAULT_RING_SIZE, |n| n as usize),
        lru: match cmd.lru {
            cmdline::LruKind::Classic => LruKind::Classic,
            cmdline::LruKind::Mglru => LruKind::Mglru,
        },
        min_ttl_ms: cmd.lru_gen_min_ttl_ms,
    }
}

/// `placement=capacity`: rewrites `kswapd_cpu` and `kcompressd_cpu` from the DTB's
/// `capacity-dmips-mhz` (async: workers on the biggest online cores, kswapd on the
/// smallest; sync: kswapd on the biggest), and says what it chose. Unchanged with
/// `placement=fixed`, or when the cores are all alike (QEMU's `virt`).
pub fn place(mut cmd: CmdLine, board: &Board<'_>) -> CmdLine {
    if cmd.placement != Placement::Capacity {
        return cmd;
    }
    let capacity: alloc::vec::Vec<Option<u32>> = board.cpus.iter().map(|c| c.capacity).collect();
    let online: alloc::vec::Vec<u32> = smp::online_cpus().map(|c| c as u32).collect();
    let workers = match cmd.reclaim {
        cmdline::ReclaimMode::Sync => 0,
        cmdline::ReclaimMode::Async => cmd.kcompressd_cpu.len(),
    };
    match placement::by_capacity(&capacity, &online, workers) {
        Ok(p) => {
            println!(
                "placement: by capacity-dmips-mhz {}: kswapd on cpu{}, kcompressd on {}, the workload best on cpu{}",
                Capacities(&capacity),
                p.kswapd,
                Cpus(&p.kcompressd),
                p.workload
            );
            cmd.kswapd_cpu = p.kswapd;
            if workers > 0 {
                cmd.kcompressd_cpu = p.kcompressd;
            }
        }
        Err(e) => println!(
            "placement: {e}: keeping kswapd_cpu={} and kcompressd_cpu",
            cmd.kswapd_cpu
        ),
    }
    cmd
}
