//! Per-CPU event counters with Linux's `/proc/vmstat` names (`mm/vmstat.c`,
//! `include/linux/vm_event_item.h`), summed on read, and the `/proc/vmstat` printer.
//! It only counts: deciding when an event happened belongs to the LRU, reclaim and
//! fault code.
//!
//! Each CPU increments only its own slot, with a relaxed load and a relaxed store: no
//! read-modify-write atomic is needed because nobody else writes that slot, exactly
//! like Linux's `__count_vm_event` / `raw_cpu_inc`. The atomics are only there so
//! readers on other CPUs may load the slot concurrently (64-bit single-copy atomic
//! loads never see a torn value). Readers sum every CPU's slot with relaxed loads.
//! Guarantees: each counter, read repeatedly by one reader, never goes down (each
//! slot only grows and per-location coherence holds), and an increment is seen by a
//! reader that synchronizes with the incrementing CPU afterwards. A snapshot is not
//! atomic across counters or CPUs: `pgsteal_kswapd` may already include a page that
//! `pgscan_kswapd` in the same snapshot does not, as in Linux.
//!
//! Uses `core` atomics even under loom: relaxed single-writer counters carry no
//! cross-core protocol to model, and the kernel's counters are a `static`.

use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

macro_rules! vm_events {
    (
        linux { $( $(#[$ldoc:meta])* $lvariant:ident = $lname:literal, )* }
        ours { $( $(#[$odoc:meta])* $ovariant:ident = $oname:literal, )* }
    ) => {
        /// An event counted in `/proc/vmstat`. The first group are Linux's own
        /// counters with Linux's meaning; the `kcompressd_*` ones are this project's
        /// (Linux has no such lines), named after the kcompressd worker they describe.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum VmEvent {
            $( $(#[$ldoc])* $lvariant, )*
            $( $(#[$odoc])* $ovariant, )*
        }

        impl VmEvent {
            /// Every event, in `/proc/vmstat` print order.
            pub const ALL: &'static [VmEvent] =
                &[$( VmEvent::$lvariant, )* $( VmEvent::$ovariant, )*];

            /// The `/proc/vmstat` spelling.
            pub const fn name(self) -> &'static str {
                match self {
                    $( VmEvent::$lvariant => $lname, )*
                    $( VmEvent::$ovariant => $oname, )*
                }
            }

            /// True for Linux's own counters, false for this project's additions.
            pub const fn is_linux(self) -> bool {
                match self {
                    $( VmEvent::$lvariant => true, )*
                    $( VmEvent::$ovariant => false, )*
                }
            }
        }
    };
}

vm_events! {
    linux {
        /// Page faults taken (minor and major).
        PgFault = "pgfault",
        /// Faults that needed I/O; here: a decompression from the compressed store.
        PgMajFault = "pgmajfault",
        /// Order-0 pages handed out by the page allocator (our single ZONE_NORMAL).
        PgAllocNormal = "pgalloc_normal",
        /// Pages freed to the page allocator.
        PgFree = "pgfree",
        /// Pages moved from the inactive to the active LRU.
        PgActivate = "pgactivate",
        /// Pages moved from the active to the inactive LRU.
        PgDeactivate = "pgdeactivate",
        /// Pages scanned on the active list while refilling the inactive list.
        PgRefill = "pgrefill",
        /// Inactive pages scanned by kswapd.
        PgScanKswapd = "pgscan_kswapd",
        /// Inactive pages scanned by direct reclaim.
        PgScanDirect = "pgscan_direct",
        /// Anonymous pages scanned (kswapd and direct).
        PgScanAnon = "pgscan_anon",
        /// Pages reclaimed by kswapd.
        PgStealKswapd = "pgsteal_kswapd",
        /// Pages reclaimed by direct reclaim.
        PgStealDirect = "pgsteal_direct",
        /// Anonymous pages reclaimed (kswapd and direct); the kcompressd patch's headline.
        PgStealAnon = "pgsteal_anon",
        /// Allocations that entered direct reclaim (one zone here: ZONE_NORMAL).
        AllocStall = "allocstall_normal",
        /// Pages read back from swap (decompressed from the store).
        PswpIn = "pswpin",
        /// Pages written to swap (compressed into the store).
        PswpOut = "pswpout",
        /// Refaults of anonymous pages evicted recently (shadow entry still live).
        WorkingsetRefaultAnon = "workingset_refault_anon",
        /// Refaulted anonymous pages kept active: with the multi-gen LRU, pages of a
        /// protected tier moved to the next generation instead of being evicted.
        WorkingsetActivateAnon = "workingset_activate_anon",
        /// kswapd found the low watermark already met soon after waking.
        KswapdLowWmarkHitQuickly = "kswapd_low_wmark_hit_quickly",
        /// kswapd found the high watermark already met soon after waking.
        KswapdHighWmarkHitQuickly = "kswapd_high_wmark_hit_quickly",
        /// kswapd balancing runs (`balance_pgdat` passes).
        PageOutRun = "pageoutrun",
        /// TLB shootdowns reaching every other core (Linux counts its flush IPIs
        /// here; arm64's broadcast `tlbi ...is` is the same event without an IPI).
        NrTlbRemoteFlush = "nr_tlb_remote_flush",
    }
    ours {
        /// Ours: pages kswapd handed to kcompressd through the ring.
        KcompressdQueued = "kcompressd_queued",
        /// Ours: pages kswapd could not queue because the ring was full, and so
        /// compressed itself (the patch's synchronous fallback).
        KcompressdRingFull = "kcompressd_ring_full",
        /// Ours: wake-ups (SGIs) sent to a sleeping kcompressd; coalesced, so fewer
        /// than pushes.
        KcompressdWakeup = "kcompressd_wakeup",
    }
}

impl VmEvent {
    /// Number of events.
    pub const COUNT: usize = Self::ALL.len();

    /// Iterates over every event in print order.
    pub fn iter() -> impl Iterator<Item = VmEvent> {
        Self::ALL.iter().copied()
    }
}

/// One CPU's counters. Only code running on that CPU, in one context at a time
/// (not also from an interrupt handler that can preempt it), may count through it:
/// the increment is a load and a store, not an atomic read-modify-write.
pub struct CpuVmStat {
    counts: [AtomicU64; VmEvent::COUNT],
}

impl CpuVmStat {
    const fn new() -> Self {
        Self {
            counts: [const { AtomicU64::new(0) }; VmEvent::COUNT],
        }
    }

    /// Counts one `event` (Linux's `__count_vm_event`).
    #[inline]
    pub fn count(&self, event: VmEvent) {
        self.add(event, 1);
    }

    /// Counts `n` of `event` (Linux's `__count_vm_events`).
    #[inline]
    pub fn add(&self, event: VmEvent, n: u64) {
        let slot = &self.counts[event as usize];
        // Relaxed load + store: we are the slot's only writer (see the module docs).
        slot.store(
            slot.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// This CPU's count of `event`.
    pub fn get(&self, event: VmEvent) -> u64 {
        self.counts[event as usize].load(Ordering::Relaxed)
    }
}

/// [`VmStat::cpu`] was asked for a CPU past the number the counters were built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoSuchCpu {
    /// The CPU asked for.
    pub cpu: usize,
    /// CPUs the counters were built for.
    pub cpus: usize,
}

impl fmt::Display for NoSuchCpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "vmstat: no counters for CPU {} (built for {} CPUs)",
            self.cpu, self.cpus
        )
    }
}

/// Event counters for `CPUS` CPUs, one cache-line-padded block each.
pub struct VmStat<const CPUS: usize> {
    cpus: [CachePadded<CpuVmStat>; CPUS],
}

impl<const CPUS: usize> VmStat<CPUS> {
    /// All counters zero. `const` so the kernel's counters can be a `static`.
    pub const fn new() -> Self {
        Self {
            cpus: [const { CachePadded::new(CpuVmStat::new()) }; CPUS],
        }
    }

    /// The counters CPU `cpu` increments (take it once per CPU at start-up).
    pub fn cpu(&self, cpu: usize) -> Result<&CpuVmStat, NoSuchCpu> {
        self.cpus
            .get(cpu)
            .map(|c| &**c)
            .ok_or(NoSuchCpu { cpu, cpus: CPUS })
    }

    /// `event` summed over all CPUs (Linux's `global` view in `/proc/vmstat`).
    pub fn read(&self, event: VmEvent) -> u64 {
        self.cpus
            .iter()
            .fold(0u64, |sum, c| sum.wrapping_add(c.get(event)))
    }

    /// Every event summed over all CPUs (not atomic across counters).
    pub fn snapshot(&self) -> VmStatSnapshot {
        let mut values = [0; VmEvent::COUNT];
        for (value, event) in values.iter_mut().zip(VmEvent::iter()) {
            *value = self.read(event);
        }
        VmStatSnapshot { values }
    }

    /// Writes `/proc/vmstat`: one `name value` line per event.
    pub fn write_proc_vmstat(&self, out: &mut impl fmt::Write) -> fmt::Result {
        write!(out, "{}", self.snapshot())
    }
}

impl<const CPUS: usize> Default for VmStat<CPUS> {
    fn default() -> Self {
        Self::new()
    }
}

/// Summed counters at one moment; `Display` prints `/proc/vmstat` format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmStatSnapshot {
    values: [u64; VmEvent::COUNT],
}

impl Default for VmStatSnapshot {
    /// Every counter at zero.
    fn default() -> Self {
        Self {
            values: [0; VmEvent::COUNT],
        }
    }
}

impl VmStatSnapshot {
    /// The summed count of `event`.
    pub fn get(&self, event: VmEvent) -> u64 {
        self.values[event as usize]
    }

    /// `(event, count)` pairs in print order.
    pub fn iter(&self) -> impl Iterator<Item = (VmEvent, u64)> + '_ {
        VmEvent::iter().zip(self.values.iter().copied())
    }

    /// Events counted between `earlier` and `self` (for rates over a run).
    pub fn since(&self, earlier: &VmStatSnapshot) -> VmStatSnapshot {
        let mut values = self.values;
        for (v, e) in values.iter_mut().zip(earlier.values) {
            *v = v.wrapping_sub(e);
        }
        VmStatSnapshot { values }
    }
}

impl fmt::Display for VmStatSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (event, value) in self.iter() {
            writeln!(f, "{} {}", event.name(), value)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_index_matches_its_place_in_all() {
        for (i, event) in VmEvent::iter().enumerate() {
            assert_eq!(event as usize, i, "{event:?}");
        }
    }

    #[test]
    fn only_kcompressd_events_are_ours() {
        for event in VmEvent::iter() {
            assert_eq!(
                event.is_linux(),
                !event.name().starts_with("kcompressd_"),
                "{event:?}"
            );
        }
    }
}
