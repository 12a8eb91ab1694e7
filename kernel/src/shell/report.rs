//! What the console's read-only commands print, from plain numbers, in Linux's formats
//! so each line maps to the file a student would read on a phone: `/proc/meminfo`,
//! zram's `mm_stat`, `/proc/buddyinfo`, `/proc/zoneinfo`, and a `top`-like core view.
//! Gathering the numbers (locks, per-CPU counters) is the kernel's business.

use core::fmt::{self, Write};

use mm::addr::PAGE_SIZE;
use mm::frame::NR_PAGE_ORDERS;
use mm::zram::MmStat;

const KB_PER_PAGE: u64 = PAGE_SIZE as u64 / 1024;

/// `/proc/meminfo`'s figures, in pages unless named otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemInfo {
    /// The zone's managed pages (Linux: `totalram_pages`).
    pub total: u64,
    /// Free pages on the buddy lists.
    pub free: u64,
    pub active_anon: u64,
    pub inactive_anon: u64,
    /// Anonymous pages mapped: here those on the anon LRU lists (a scan batch that
    /// kswapd holds isolated for a moment is not counted).
    pub anon_pages: u64,
    /// Frames holding the workload region's translation tables.
    pub page_tables: u64,
    /// Swap entries, and those not in use.
    pub swap_total: u64,
    pub swap_free: u64,
    /// Bytes the compressed store's frames take (zram `mem_used_total`; Linux's
    /// meminfo calls the same figure for zswap `Zswap`).
    pub zswap_bytes: u64,
    /// Bytes of the pages stored, uncompressed (zram `orig_data_size`, `Zswapped`).
    pub zswapped_bytes: u64,
    /// Bytes of kernel heap in use: reclaim's metadata, the runs' buffers (Linux's
    /// `Slab:`, what kmalloc holds). A run that frees what it took leaves it level.
    pub slab_bytes: u64,
}

/// Writes `MemInfo` as `/proc/meminfo` does: `Name:` padded to 16, the value in kB
/// right-aligned in 8.
pub fn write_meminfo(out: &mut impl Write, m: &MemInfo) -> fmt::Result {
    let kb = |pages: u64| pages.saturating_mul(KB_PER_PAGE);
    let rows = [
        ("MemTotal:", kb(m.total)),
        ("MemFree:", kb(m.free)),
        ("Active(anon):", kb(m.active_anon)),
        ("Inactive(anon):", kb(m.inactive_anon)),
        ("AnonPages:", kb(m.anon_pages)),
        ("PageTables:", kb(m.page_tables)),
        ("SwapTotal:", kb(m.swap_total)),
        ("SwapFree:", kb(m.swap_free)),
        ("Zswap:", m.zswap_bytes / 1024),
        ("Zswapped:", m.zswapped_bytes / 1024),
        ("Slab:", m.slab_bytes / 1024),
    ];
    for (name, value) in rows {
        writeln!(out, "{name:<16}{value:>8} kB")?;
    }
    Ok(())
}

/// zram's `mm_stat` field names, in its order.
pub const MM_STAT_FIELDS: [&str; 9] = [
    "orig_data_size",
    "compr_data_size",
    "mem_used_total",
    "mem_limit",
    "mem_used_max",
    "same_pages",
    "pages_compacted",
    "huge_pages",
    "huge_pages_since",
];

fn mm_stat_values(s: &MmStat) -> [u64; 9] {
    [
        s.orig_data_size,
        s.compr_data_size,
        s.mem_used_total,
        s.mem_limit,
        s.mem_used_max,
        s.same_pages,
        s.pages_compacted,
        s.huge_pages,
        s.huge_pages_since,
    ]
}

/// Writes zram's `mm_stat` line (`/sys/block/zram0/mm_stat`, each value `%8llu`), then
/// one `name value` line per field and the compression ratio.
pub fn write_mm_stat(out: &mut impl Write, s: &MmStat) -> fmt::Result {
    let values = mm_stat_values(s);
    out.write_str("mm_stat")?;
    for v in values {
        write!(out, " {v:>8}")?;
    }
    out.write_char('\n')?;
    for (name, v) in MM_STAT_FIELDS.iter().zip(values) {
        writeln!(out, "  {name:<18}{v:>12}")?;
    }
    match (u128::from(s.orig_data_size) * 100).checked_div(u128::from(s.compr_data_size)) {
        Some(r) => writeln!(
            out,
            "  orig_data_size / compr_data_size = {}.{:02}",
            r / 100,
            r % 100
        ),
        None => writeln!(out, "  orig_data_size / compr_data_size = -"),
    }
}

/// Writes `/proc/buddyinfo`'s line for our one zone: free blocks per order, 0..=10.
pub fn write_buddyinfo(out: &mut impl Write, free_blocks: &[u64; NR_PAGE_ORDERS]) -> fmt::Result {
    write!(out, "Node 0, zone {:>8} ", "Normal")?;
    for n in free_blocks {
        write!(out, "{n:>6} ")?;
    }
    out.write_char('\n')
}

/// The zone's free pages against its watermarks, in pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ZoneInfo {
    pub free: u64,
    pub min: u64,
    pub low: u64,
    pub high: u64,
    pub managed: u64,
    /// `vm.watermark_scale_factor`, in 1/10000 of the zone.
    pub watermark_scale_factor: u32,
}

/// Where free memory stands against the watermarks, in the reclaim's words.
pub fn zone_state(z: &ZoneInfo) -> &'static str {
    if z.free < z.min {
        "below min: allocations reclaim directly (allocstall)"
    } else if z.free < z.low {
        "below low: kswapd is woken"
    } else if z.free < z.high {
        "below high: kswapd, once awake, reclaims up to high"
    } else {
        "above high: kswapd sleeps"
    }
}

/// Writes the zone as `/proc/zoneinfo` does (the fields we have), then the scale
/// factor and where free memory stands.
pub fn write_zoneinfo(out: &mut impl Write, z: &ZoneInfo) -> fmt::Result {
    writeln!(out, "Node 0, zone {:>8}", "Normal")?;
    writeln!(out, "  pages free     {}", z.free)?;
    for (name, v) in [
        ("min", z.min),
        ("low", z.low),
        ("high", z.high),
        ("managed", z.managed),
    ] {
        writeln!(out, "        {name:<8} {v}")?;
    }
    writeln!(
        out,
        "vm.watermark_scale_factor = {} (low - min = high - low = max(min/4, managed * {} / 10000))",
        z.watermark_scale_factor, z.watermark_scale_factor
    )?;
    writeln!(out, "free is {}", zone_state(z))
}

/// One core's line of `top`: what it runs and how much of `interval` it spent out of
/// WFI (both in the same unit, timer ticks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreLoad<'a> {
    pub cpu: usize,
    pub job: &'a str,
    pub busy: u64,
    pub interval: u64,
}

impl CoreLoad<'_> {
    /// Busy share in tenths of a percent, at most 1000 (`None` for an empty interval).
    pub fn permille(&self) -> Option<u64> {
        let busy = u128::from(self.busy.min(self.interval));
        (busy * 1000)
            .checked_div(u128::from(self.interval))
            .map(|p| p as u64)
    }
}

/// Width of `top`'s busy bar.
const BAR: u64 = 20;

/// Writes `top`: one line per core, with a bar of its busy share.
pub fn write_top(out: &mut impl Write, interval_ms: u64, cores: &[CoreLoad<'_>]) -> fmt::Result {
    writeln!(
        out,
        "busy share of each core over the last {interval_ms} ms"
    )?;
    writeln!(out, "CPU   JOB           BUSY")?;
    for c in cores {
        write!(out, "cpu{:<2} {:<12} ", c.cpu, c.job)?;
        match c.permille() {
            Some(p) => {
                write!(out, "{:>3}.{}% [", p / 10, p % 10)?;
                let filled = (p * BAR).div_ceil(1000);
                for i in 0..BAR {
                    out.write_char(if i < filled { '#' } else { ' ' })?;
                }
                out.write_str("]\n")?;
            }
            None => out.write_str("     -\n")?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn meminfo_is_linux_format() {
        let mut s = String::new();
        let m = MemInfo {
            total: 130_000,
            free: 1000,
            active_anon: 3,
            inactive_anon: 5,
            anon_pages: 8,
            page_tables: 2,
            swap_total: 262_144,
            swap_free: 262_000,
            zswap_bytes: 8192,
            zswapped_bytes: 40960,
            slab_bytes: 3 << 20,
        };
        write_meminfo(&mut s, &m).unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "MemTotal:         520000 kB");
        assert_eq!(lines[1], "MemFree:            4000 kB");
        assert_eq!(lines[2], "Active(anon):         12 kB");
        assert_eq!(lines[3], "Inactive(anon):       20 kB");
        assert_eq!(lines[6], "SwapTotal:       1048576 kB");
        assert_eq!(lines[8], "Zswap:                 8 kB");
        assert_eq!(lines[9], "Zswapped:             40 kB");
        assert_eq!(lines[10], "Slab:               3072 kB");
        assert!(lines.iter().all(|l| l.len() == 27));
    }

    #[test]
    fn mm_stat_keeps_zrams_order() {
        let stat = MmStat {
            orig_data_size: 40960,
            compr_data_size: 10000,
            mem_used_total: 12288,
            mem_limit: 0,
            mem_used_max: 16384,
            same_pages: 2,
            pages_compacted: 0,
            huge_pages: 1,
            huge_pages_since: 3,
            ..MmStat::default()
        };
        let mut s = String::new();
        write_mm_stat(&mut s, &stat).unwrap();
        let first = s.lines().next().unwrap();
        let values: Vec<&str> = first.split_whitespace().skip(1).collect();
        assert_eq!(
            values,
            ["40960", "10000", "12288", "0", "16384", "2", "0", "1", "3"]
        );
        for (line, name) in s.lines().skip(1).zip(MM_STAT_FIELDS) {
            assert!(line.trim_start().starts_with(name), "{line}");
        }
        assert!(s.contains("= 4.09\n"));
        let mut empty = String::new();
        write_mm_stat(&mut empty, &MmStat::default()).unwrap();
        assert!(empty.ends_with("= -\n"));
    }

    #[test]
    fn buddyinfo_is_linux_format() {
        let mut s = String::new();
        let mut blocks = [0; NR_PAGE_ORDERS];
        blocks[0] = 12;
        blocks[10] = 31;
        write_buddyinfo(&mut s, &blocks).unwrap();
        assert_eq!(
            s,
            "Node 0, zone   Normal     12      0      0      0      0      0      0      0      0      0     31 \n"
        );
    }

    #[test]
    fn zoneinfo_names_where_free_stands() {
        let z = ZoneInfo {
            free: 150,
            min: 100,
            low: 200,
            high: 300,
            managed: 30_000,
            watermark_scale_factor: 10,
        };
        let mut s = String::new();
        write_zoneinfo(&mut s, &z).unwrap();
        assert!(
            s.starts_with("Node 0, zone   Normal\n  pages free     150\n        min      100\n")
        );
        assert!(s.contains("        managed  30000\n"));
        assert!(s.contains("vm.watermark_scale_factor = 10 "));
        assert!(s.ends_with("free is below low: kswapd is woken\n"));
        for (free, want) in [(99, "below min"), (250, "below high"), (300, "above high")] {
            assert!(zone_state(&ZoneInfo { free, ..z }).starts_with(want));
        }
    }

    #[test]
    fn top_shows_each_core() {
        let cores = [
            CoreLoad {
                cpu: 0,
                job: "shell",
                busy: 1,
                interval: 1000,
            },
            CoreLoad {
                cpu: 1,
                job: "kswapd",
                busy: 500,
                interval: 1000,
            },
            CoreLoad {
                cpu: 3,
                job: "workload",
                busy: 1200,
                interval: 1000,
            },
            CoreLoad {
                cpu: 2,
                job: "idle",
                busy: 0,
                interval: 0,
            },
        ];
        let mut s = String::new();
        write_top(&mut s, 2000, &cores).unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "busy share of each core over the last 2000 ms");
        assert_eq!(lines[2], "cpu0  shell          0.1% [#                   ]");
        assert_eq!(lines[3], "cpu1  kswapd        50.0% [##########          ]");
        assert_eq!(lines[4], "cpu3  workload     100.0% [####################]");
        assert_eq!(lines[5], "cpu2  idle              -");
    }

    proptest! {
        #[test]
        fn top_never_panics_and_stays_in_range(busy in any::<u64>(), interval in any::<u64>()) {
            let c = CoreLoad { cpu: 1, job: "kcompressd", busy, interval };
            if let Some(p) = c.permille() {
                prop_assert!(p <= 1000);
            }
            let mut s = String::new();
            write_top(&mut s, interval, &[c]).unwrap();
        }

        #[test]
        fn meminfo_never_panics(v in proptest::array::uniform11(any::<u64>())) {
            let m = MemInfo {
                total: v[0], free: v[1], active_anon: v[2], inactive_anon: v[3],
                anon_pages: v[4], page_tables: v[5], swap_total: v[6], swap_free: v[7],
                zswap_bytes: v[8], zswapped_bytes: v[9], slab_bytes: v[10],
            };
            let mut s = String::new();
            write_meminfo(&mut s, &m).unwrap();
            prop_assert_eq!(s.lines().count(), 11);
        }

        #[test]
        fn mm_stat_never_panics(orig in any::<u64>(), compr in any::<u64>()) {
            let stat = MmStat { orig_data_size: orig, compr_data_size: compr, ..MmStat::default() };
            let mut s = String::new();
            write_mm_stat(&mut s, &stat).unwrap();
        }
    }
}
