//! What the Linux side reads: `/proc/vmstat`, `/proc/meminfo`, zram's `mm_stat`,
//! kswapd's CPU time from `/proc/PID/stat`. Missing files
//! (no zram, no kswapd visible) give `None`, printed as `null`, never 0.

use std::collections::BTreeMap;
use std::fs;

/// Clock ticks per second in `/proc/PID/stat` (`USER_HZ`, 100 on every arm64 and x86
/// Linux).
pub const USER_HZ: f64 = 100.0;

pub type VmStat = BTreeMap<String, u64>;

/// `/proc/vmstat` as name -> count (empty if unreadable).
pub fn vmstat() -> VmStat {
    fs::read_to_string("/proc/vmstat")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// How much `key` grew, if both readings have it.
pub fn delta(before: &VmStat, after: &VmStat, key: &str) -> Option<u64> {
    Some(after.get(key)?.saturating_sub(*before.get(key)?))
}

/// Entries into direct reclaim, every zone (`allocstall_dma32`, `_normal`, ...).
pub fn allocstall(before: &VmStat, after: &VmStat) -> Option<u64> {
    let keys: Vec<&String> = after
        .keys()
        .filter(|k| k.starts_with("allocstall_"))
        .collect();
    (!keys.is_empty()).then(|| keys.iter().filter_map(|k| delta(before, after, k)).sum())
}

/// A `/proc/meminfo` field in kB.
pub fn meminfo(field: &str) -> Option<u64> {
    fs::read_to_string("/proc/meminfo")
        .ok()?
        .lines()
        .find_map(|l| {
            let rest = l.strip_prefix(field)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse().ok()
        })
}

/// kswapd0's user + system time in clock ticks.
pub fn kswapd_ticks() -> Option<u64> {
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let path = entry.path();
        if fs::read_to_string(path.join("comm")).is_ok_and(|c| c.trim() == "kswapd0") {
            let stat = fs::read_to_string(path.join("stat")).ok()?;
            // Fields after the ")" that ends the command name: utime is the 12th.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: u64 = fields.get(11)?.parse().ok()?;
            let stime: u64 = fields.get(12)?.parse().ok()?;
            return Some(utime + stime);
        }
    }
    None
}

/// zram's `mm_stat`, the fields the bench prints.
#[derive(Clone, Copy, Debug)]
pub struct MmStat {
    pub orig_data_size: u64,
    pub compr_data_size: u64,
    pub mem_used_total: u64,
    pub same_pages: u64,
}

/// `DEVICE/mm_stat` (Documentation/admin-guide/blockdev/zram.rst: orig_data_size
/// compr_data_size mem_used_total mem_limit mem_used_max same_pages ...).
pub fn mm_stat(device: &str) -> Option<MmStat> {
    let text = fs::read_to_string(format!("{device}/mm_stat")).ok()?;
    let f: Vec<u64> = text
        .split_whitespace()
        .map(|w| w.parse().ok())
        .collect::<Option<_>>()?;
    Some(MmStat {
        orig_data_size: *f.first()?,
        compr_data_size: *f.get(1)?,
        mem_used_total: *f.get(2)?,
        same_pages: *f.get(5)?,
    })
}
