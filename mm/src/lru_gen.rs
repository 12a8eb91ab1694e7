//! The multi-gen LRU for anonymous pages, Linux's `lru_gen` (mm/vmscan.c 6.1+,
//! Documentation/mm/multigen_lru.rst): generations `min_seq..=max_seq` threaded through
//! the zone's page descriptors (no allocation), aging, eviction from the oldest
//! generation, tiers with refault feedback (the PID controller) and shadow tokens.
//! Owns the `LRU`, `ISOLATED`, `LRU_GEN`, `LRU_REFS` and `WORKINGSET` bits of pages on
//! it; does not walk page tables, unmap, compress or free (that is reclaim's job).
//!
//! Like [`crate::lru::Lru`], an `LruGen` holds list heads and counters only; every
//! method takes the `&mut Zone` its pages came from, under the caller's node lock.
//!
//! One difference from Linux: aging moves a young page to the youngest list at once
//! (Linux only rewrites the generation in the flags and lets eviction sort the page
//! later). A page's list is then always the one its flags name, which `del` needs to
//! unlink it in O(1); eviction's sort is left with the tier protection.

use core::fmt;

use crate::addr::Pfn;
use crate::frame::Zone;
use crate::frame::memmap::PageList;
use crate::lru::{IsolatedBatch, Lru, LruError, SWAP_CLUSTER_MAX};
use crate::page::PageFlags;

/// Generations at most (Linux's `MAX_NR_GENS`): the two bits of `LRU_GEN`.
pub const MAX_NR_GENS: u64 = 4;
/// Generations at least (Linux's `MIN_NR_GENS`): with only these left, eviction
/// waits for aging.
pub const MIN_NR_GENS: u64 = 2;
/// Tiers (Linux's `MAX_NR_TIERS`): tier = order_base_2(refs + 1).
pub const MAX_NR_TIERS: usize = 4;
/// Refaults a tier needs before the controller may protect it (Linux's
/// `MIN_LRU_BATCH`, `BITS_PER_LONG`): fewer are noise.
pub const MIN_LRU_BATCH: u64 = 64;
/// Pages one `isolate` call looks at, at most: bounds the time the node lock is held
/// (Linux scans up to `MAX_LRU_BATCH` under its LRU lock; ours is the zone's too).
const SCAN_BATCH: usize = 4 * SWAP_CLUSTER_MAX;
/// Bits of `min_seq` a shadow keeps (Linux's `EVICTION_MASK` trims it the same way).
const SHADOW_SEQ_BITS: u32 = 12;

/// Linux's `order_base_2(refs + 1)`: the tier of a page with `refs` accesses beyond
/// the first (plus one if `PG_workingset`).
pub fn lru_tier_from_refs(refs: u8) -> usize {
    let n = u32::from(refs) + 1;
    (u32::BITS - (n - 1).leading_zeros()) as usize
}

/// What eviction remembers of a page, kept per swap slot until the page refaults
/// (Linux's workingset shadow entry for MGLRU: `min_seq` at eviction and the refs).
/// Never zero, so a zeroed slot means "no shadow".
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Shadow(u16);

impl Shadow {
    fn new(min_seq: u64, refs: u8, workingset: bool) -> Shadow {
        let seq = (min_seq & ((1 << SHADOW_SEQ_BITS) - 1)) as u16;
        Shadow(1 | u16::from(workingset) << 1 | u16::from(refs.min(3)) << 2 | seq << 4)
    }

    /// The packed token, for a side array of `u16` per swap slot.
    pub fn to_bits(self) -> u16 {
        self.0
    }

    /// Inverse of [`Shadow::to_bits`]; `None` for 0 (no shadow).
    pub fn from_bits(bits: u16) -> Option<Shadow> {
        (bits & 1 != 0).then_some(Shadow(bits))
    }

    fn refs(self) -> u8 {
        ((self.0 >> 2) & 3) as u8
    }

    fn workingset(self) -> bool {
        self.0 & 2 != 0
    }

    fn seq(self) -> u64 {
        u64::from(self.0 >> 4)
    }

    /// The tier the page was evicted from.
    pub fn tier(self) -> usize {
        lru_tier_from_refs(self.refs() + u8::from(self.workingset()))
    }
}

/// Counters, named after `/sys/kernel/debug/lru_gen`'s columns and `/proc/vmstat`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct LruGenStats {
    /// Pages found young at eviction and promoted to the youngest generation.
    pub pgactivate: u64,
    /// `workingset_activate_anon`: pages kept because their tier is protected.
    pub workingset_activate: u64,
    /// `workingset_refault_anon`: refaults whose shadow was still recent.
    pub workingset_refault: u64,
    /// Pages evicted, per tier (the `evicted` column, summed over all generations).
    pub evicted: [u64; MAX_NR_TIERS],
    /// Recent refaults, per tier (the `refaulted` column, summed).
    pub refaulted: [u64; MAX_NR_TIERS],
    /// Pages moved to the next generation because their tier was protected, per
    /// tier (the `protected` column, summed; tier 0 is never protected).
    pub protected: [u64; MAX_NR_TIERS],
    /// Aging passes (`max_seq` increments).
    pub aging: u64,
    /// Pages the aging walks found young and moved to the youngest generation.
    pub aged_young: u64,
}

/// One generation, for display (`/sys/kernel/debug/lru_gen`'s `seq birth nr_anon`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Generation {
    /// Its sequence number.
    pub seq: u64,
    /// When it was made, in the caller's nanoseconds.
    pub birth_ns: u64,
    /// Pages on it.
    pub nr_pages: u64,
}

/// What one [`LruGen::isolate`] did.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct GenScan {
    /// Pages looked at in the oldest generation (isolated or sorted).
    pub scanned: usize,
    /// Pages isolated into the batch (`pgscan`).
    pub isolated: usize,
    /// Pages moved to the next generation because their tier is protected.
    pub protected: usize,
}

/// A PID controller position (Linux's `struct ctrl_pos`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct CtrlPos {
    /// Refaults (running average plus the current window).
    pub refaulted: u64,
    /// Evicted plus protected (running average plus the current window).
    pub total: u64,
    /// Gain: the set point's is 1, a process variable's 2.
    pub gain: u64,
}

/// Linux's `positive_ctrl_err()`: whether the process variable `pv` has few refaults,
/// or a refault rate (refaulted / total, weighted by gain) no worse than the set
/// point's `sp`: then its tier need not be protected.
pub fn positive_ctrl_err(sp: CtrlPos, pv: CtrlPos) -> bool {
    pv.refaulted < MIN_LRU_BATCH
        || pv.refaulted * (sp.total + MIN_LRU_BATCH) * sp.gain
            <= (sp.refaulted + 1) * pv.total * pv.gain
}

/// The multi-gen LRU of one zone (Linux's `lru_gen_folio` for the anon type).
pub struct LruGen {
    max_seq: u64,
    min_seq: u64,
    /// Generation `seq` is list `seq % MAX_NR_GENS`; new pages at the head.
    lists: [PageList; MAX_NR_GENS as usize],
    /// Birth of each generation, by list.
    timestamps: [u64; MAX_NR_GENS as usize],
    /// The controller's current window (since `min_seq` last moved), per tier:
    /// Linux's `evicted`, `refaulted`, `protected` with `NR_HIST_GENS == 1`.
    evicted: [u64; MAX_NR_TIERS],
    refaulted: [u64; MAX_NR_TIERS],
    protected: [u64; MAX_NR_TIERS],
    /// Halved history of the windows (Linux's `avg_refaulted`, `avg_total`).
    avg_refaulted: [u64; MAX_NR_TIERS],
    avg_total: [u64; MAX_NR_TIERS],
    stats: LruGenStats,
}

fn gen_of(seq: u64) -> usize {
    (seq % MAX_NR_GENS) as usize
}

impl LruGen {
    /// Empty generations `0..=MIN_NR_GENS + 1`, all born `now_ns` (as Linux's
    /// `lru_gen_init_lruvec`); eviction skips the empty old ones.
    pub fn new(now_ns: u64) -> Self {
        LruGen {
            max_seq: MIN_NR_GENS + 1,
            min_seq: 0,
            lists: [PageList::EMPTY; MAX_NR_GENS as usize],
            timestamps: [now_ns; MAX_NR_GENS as usize],
            evicted: [0; MAX_NR_TIERS],
            refaulted: [0; MAX_NR_TIERS],
            protected: [0; MAX_NR_TIERS],
            avg_refaulted: [0; MAX_NR_TIERS],
            avg_total: [0; MAX_NR_TIERS],
            stats: LruGenStats::default(),
        }
    }

    /// The youngest generation's sequence number.
    pub fn max_seq(&self) -> u64 {
        self.max_seq
    }

    /// The oldest generation's sequence number.
    pub fn min_seq(&self) -> u64 {
        self.min_seq
    }

    /// The counters since it was made.
    pub fn stats(&self) -> LruGenStats {
        self.stats
    }

    /// Generations oldest first.
    pub fn generations(&self) -> impl Iterator<Item = Generation> + '_ {
        (self.min_seq..=self.max_seq).map(|seq| Generation {
            seq,
            birth_ns: self.timestamps[gen_of(seq)],
            nr_pages: self.lists[gen_of(seq)].len(),
        })
    }

    /// Writes what `/sys/kernel/debug/lru_gen_full` shows for one node's anon pages:
    /// each generation's `seq age_in_ms nr_anon_pages` (oldest first, ages against
    /// `now_ns`), then each tier's `evicted refaulted protected` since it was made.
    pub fn write_debugfs(&self, out: &mut dyn fmt::Write, now_ns: u64) -> fmt::Result {
        writeln!(out, "memcg     0 /")?;
        writeln!(out, "  node     0")?;
        for g in self.generations() {
            let age_ms = now_ns.saturating_sub(g.birth_ns) / 1_000_000;
            writeln!(out, "    {:>8} {:>10} {:>10}", g.seq, age_ms, g.nr_pages)?;
        }
        for tier in 0..MAX_NR_TIERS {
            writeln!(
                out,
                "    tier {tier} {:>10} {:>10} {:>10}",
                self.stats.evicted[tier], self.stats.refaulted[tier], self.stats.protected[tier]
            )?;
        }
        Ok(())
    }

    /// Pages on the two youngest generations (Linux's `lru_gen_is_active`), for
    /// `nr_active_anon`.
    pub fn nr_active_anon(&self) -> u64 {
        self.lists[gen_of(self.max_seq)].len() + self.lists[gen_of(self.max_seq - 1)].len()
    }

    /// Pages on the older generations, for `nr_inactive_anon`.
    pub fn nr_inactive_anon(&self) -> u64 {
        self.nr_pages() - self.nr_active_anon()
    }

    /// Pages on every generation.
    pub fn nr_pages(&self) -> u64 {
        self.lists.iter().map(PageList::len).sum()
    }

    /// Linux's `should_run_aging()` first test, after retiring empty old generations:
    /// only `MIN_NR_GENS` generations are left to evict from, so eviction must wait
    /// for `try_to_inc_max_seq`. False while no page is on it (nothing to age).
    pub fn should_run_aging(&mut self) -> bool {
        self.try_to_inc_min_seq();
        self.nr_pages() != 0 && self.min_seq + MIN_NR_GENS > self.max_seq
    }

    /// When the oldest generation holding pages was made (the youngest's birth when
    /// none does), for `lru_gen_min_ttl`: empty old generations not yet retired do
    /// not make the pages look older than they are.
    pub fn oldest_birth_ns(&self) -> u64 {
        let seq = (self.min_seq..self.max_seq)
            .find(|&seq| self.lists[gen_of(seq)].len() != 0)
            .unwrap_or(self.max_seq);
        self.timestamps[gen_of(seq)]
    }

    /// Links page `index` onto generation `seq` (head, or tail for `oldest_end`).
    fn link(&mut self, zone: &mut Zone, index: u32, seq: u64, oldest_end: bool) {
        let g = gen_of(seq);
        let page = zone.memmap_mut().desc_mut(index);
        page.flags.set_lru_gen(g);
        page.flags.remove(PageFlags::ISOLATED);
        page.flags.insert(PageFlags::LRU | PageFlags::SWAPBACKED);
        if oldest_end {
            self.lists[g].push_tail(zone.memmap_mut(), index);
        } else {
            self.lists[g].push_head(zone.memmap_mut(), index);
        }
    }

    fn unlink(&mut self, zone: &mut Zone, index: u32) {
        let g = zone.memmap().desc(index).flags.lru_gen();
        self.lists[g].remove(zone.memmap_mut(), index);
    }

    fn check_new(zone: &Zone, pfn: Pfn) -> Result<u32, LruError> {
        let (index, flags) = Lru::lookup(zone, pfn)?;
        if flags.contains(PageFlags::LRU) {
            return Err(LruError::OnLru);
        }
        if flags.contains(PageFlags::ISOLATED) {
            return Err(LruError::Isolated);
        }
        Ok(index)
    }

    /// Linux's `lru_gen_add_folio()` for a newly faulted anonymous page (not in the
    /// swap cache): generation `max_seq - 1`, no refs.
    pub fn add_new(&mut self, zone: &mut Zone, pfn: Pfn) -> Result<(), LruError> {
        let index = Self::check_new(zone, pfn)?;
        let flags = &mut zone.memmap_mut().desc_mut(index).flags;
        flags.remove(PageFlags::LRU_REFS | PageFlags::WORKINGSET | PageFlags::REFERENCED);
        self.link(zone, index, self.max_seq - 1, false);
        Ok(())
    }

    /// Linux's `lru_gen_refault()` + `lru_gen_add_folio()` for a page just swapped
    /// in: a shadow from the current `min_seq` is recent, counted as refaulted in its
    /// tier, and its refs come back with `PG_workingset`. The page joins the oldest
    /// generation (a swap-cache page), where a protected tier keeps it. Returns
    /// whether the refault was recent (`workingset_refault_anon`).
    pub fn add_refault(
        &mut self,
        zone: &mut Zone,
        pfn: Pfn,
        shadow: Option<Shadow>,
    ) -> Result<bool, LruError> {
        let index = Self::check_new(zone, pfn)?;
        let mask = (1 << SHADOW_SEQ_BITS) - 1;
        let recent = shadow.filter(|s| s.seq() == self.min_seq & mask);
        let flags = &mut zone.memmap_mut().desc_mut(index).flags;
        flags.remove(PageFlags::LRU_REFS | PageFlags::WORKINGSET | PageFlags::REFERENCED);
        if let Some(shadow) = recent {
            let tier = shadow.tier();
            self.refaulted[tier] += 1;
            self.stats.refaulted[tier] += 1;
            self.stats.workingset_refault += 1;
            // Every anonymous refault comes through a page table (Linux's
            // `lru_gen_in_fault()`): the page is part of the working set.
            flags.set_lru_refs(shadow.refs());
            flags.insert(PageFlags::WORKINGSET);
        }
        self.link(zone, index, self.min_seq, false);
        Ok(recent.is_some())
    }

    /// Linux's `lruvec_del_folio()`: takes a page off its generation for good.
    pub fn del(&mut self, zone: &mut Zone, pfn: Pfn) -> Result<(), LruError> {
        let (index, flags) = Lru::lookup(zone, pfn)?;
        if flags.contains(PageFlags::ISOLATED) {
            return Err(LruError::Isolated);
        }
        if !flags.contains(PageFlags::LRU) {
            return Err(LruError::NotOnLru);
        }
        self.unlink(zone, index);
        zone.memmap_mut().desc_mut(index).flags.remove(
            PageFlags::LRU
                | PageFlags::LRU_GEN
                | PageFlags::LRU_REFS
                | PageFlags::WORKINGSET
                | PageFlags::REFERENCED,
        );
        Ok(())
    }

    /// The aging walk's verdict on one young frame (Linux's `folio_update_gen()`):
    /// a page on a generation moves to the youngest, its refs cleared (its
    /// generation now says it is hot); an isolated page gets `PG_referenced`, which
    /// eviction's check counts as young. Frames not on the LRU are ignored.
    pub fn update_gen(&mut self, zone: &mut Zone, pfn: Pfn) {
        let Ok((index, flags)) = Lru::lookup(zone, pfn) else {
            return;
        };
        if flags.contains(PageFlags::ISOLATED) {
            zone.memmap_mut()
                .desc_mut(index)
                .flags
                .insert(PageFlags::REFERENCED);
            return;
        }
        if !flags.contains(PageFlags::LRU) {
            return;
        }
        self.stats.aged_young += 1;
        self.unlink(zone, index);
        zone.memmap_mut()
            .desc_mut(index)
            .flags
            .remove(PageFlags::LRU_REFS | PageFlags::WORKINGSET);
        self.link(zone, index, self.max_seq, false);
    }

    /// Linux's `try_to_inc_max_seq()` after the walk for `max_seq` (read before the
    /// walk): opens a new youngest generation born `now_ns`, first forcing the oldest
    /// into the next if all `MAX_NR_GENS` are in use. False if another aging got
    /// there first (`max_seq` moved).
    pub fn try_to_inc_max_seq(&mut self, zone: &mut Zone, max_seq: u64, now_ns: u64) -> bool {
        if max_seq != self.max_seq {
            return false;
        }
        if self.max_seq - self.min_seq + 1 == MAX_NR_GENS {
            self.inc_min_seq(zone);
        }
        self.timestamps[gen_of(self.max_seq + 1)] = now_ns;
        self.max_seq += 1;
        self.stats.aging += 1;
        true
    }

    /// Linux's `inc_min_seq()`: moves what is left of the oldest generation to the
    /// tail of the next (cold stays colder than what aging left there), then retires it.
    fn inc_min_seq(&mut self, zone: &mut Zone) {
        let old = gen_of(self.min_seq);
        while let Some(index) = self.lists[old].head() {
            self.lists[old].remove(zone.memmap_mut(), index);
            self.link(zone, index, self.min_seq + 1, true);
        }
        self.reset_ctrl_pos();
        self.min_seq += 1;
    }

    /// Linux's `try_to_inc_min_seq()`: retires empty oldest generations while more
    /// than `MIN_NR_GENS` remain.
    fn try_to_inc_min_seq(&mut self) {
        let before = self.min_seq;
        while self.min_seq + MIN_NR_GENS <= self.max_seq
            && self.lists[gen_of(self.min_seq)].len() == 0
        {
            self.min_seq += 1;
        }
        // The controller's window closes when the oldest generation moves.
        if self.min_seq != before {
            self.reset_ctrl_pos();
        }
    }

    /// Linux's `reset_ctrl_pos(carryover = true)` with one history generation: folds
    /// the window into the averages (halved) and starts a new one.
    fn reset_ctrl_pos(&mut self) {
        for tier in 0..MAX_NR_TIERS {
            self.avg_refaulted[tier] = (self.avg_refaulted[tier] + self.refaulted[tier]) / 2;
            self.avg_total[tier] =
                (self.avg_total[tier] + self.evicted[tier] + self.protected[tier]) / 2;
            self.refaulted[tier] = 0;
            self.evicted[tier] = 0;
            self.protected[tier] = 0;
        }
    }

    /// Linux's `read_ctrl_pos()` for `tier`.
    pub fn read_ctrl_pos(&self, tier: usize, gain: u64) -> CtrlPos {
        CtrlPos {
            refaulted: self.avg_refaulted[tier] + self.refaulted[tier],
            total: self.avg_total[tier] + self.evicted[tier] + self.protected[tier],
            gain,
        }
    }

    /// Linux's `get_tier_idx()`: the highest tier eviction may take; the tiers above
    /// refault more than tier 0 (with a 1:2 margin) and are protected.
    pub fn get_tier_idx(&self) -> usize {
        let sp = self.read_ctrl_pos(0, 1);
        let mut tier = 1;
        while tier < MAX_NR_TIERS && positive_ctrl_err(sp, self.read_ctrl_pos(tier, 2)) {
            tier += 1;
        }
        tier - 1
    }

    /// Linux's `scan_folios()` + `sort_folio()` + `isolate_folio()` on the oldest
    /// generation: from its tail, a page in a tier above [`LruGen::get_tier_idx`] moves
    /// to the next generation (`protected`, `workingset_activate`); the others are
    /// isolated into `batch`, up to `nr_to_scan` and the batch's room. At most
    /// `SCAN_BATCH` pages are looked at. An emptied oldest generation is retired while
    /// more than `MIN_NR_GENS` remain; eviction never takes from the two youngest.
    pub fn isolate(
        &mut self,
        zone: &mut Zone,
        nr_to_scan: usize,
        batch: &mut IsolatedBatch,
    ) -> GenScan {
        let want = nr_to_scan.min(SWAP_CLUSTER_MAX - batch.len());
        let tier_idx = self.get_tier_idx();
        let mut scan = GenScan::default();
        self.try_to_inc_min_seq();
        while scan.isolated < want
            && scan.scanned < SCAN_BATCH
            && self.min_seq + MIN_NR_GENS <= self.max_seq
        {
            let old = gen_of(self.min_seq);
            let Some(index) = self.lists[old].tail() else {
                self.try_to_inc_min_seq();
                if self.lists[gen_of(self.min_seq)].len() == 0 {
                    break;
                }
                continue;
            };
            scan.scanned += 1;
            let flags = zone.memmap().desc(index).flags;
            let tier = lru_tier_from_refs(
                flags.lru_refs() + u8::from(flags.contains(PageFlags::WORKINGSET)),
            );
            self.lists[old].remove(zone.memmap_mut(), index);
            if tier > tier_idx {
                self.protected[tier] += 1;
                self.stats.protected[tier] += 1;
                self.stats.workingset_activate += 1;
                scan.protected += 1;
                self.link(zone, index, self.min_seq + 1, true);
                continue;
            }
            let page = zone.memmap_mut().desc_mut(index);
            page.flags.remove(PageFlags::LRU | PageFlags::LRU_GEN);
            page.flags.insert(PageFlags::ISOLATED);
            batch.push(zone.memmap().pfn_of(index));
            scan.isolated += 1;
        }
        self.try_to_inc_min_seq();
        scan
    }

    /// Eviction's look at an isolated page, given whether its PTE was young (the
    /// caller tested and cleared it): a young page (or one the aging walk marked
    /// `PG_referenced` while isolated) gains a ref and returns `Ok(None)`: `putback`
    /// sends it to the youngest generation (Linux's look-around / activation).
    /// Otherwise `Ok(Some(shadow))`: evict it, keeping the shadow for its swap slot.
    pub fn folio_check_references(
        &mut self,
        zone: &mut Zone,
        pfn: Pfn,
        referenced_ptes: bool,
    ) -> Result<Option<Shadow>, LruError> {
        let (index, flags) = Lru::lookup(zone, pfn)?;
        if !flags.contains(PageFlags::ISOLATED) {
            return Err(LruError::NotIsolated);
        }
        let flags = &mut zone.memmap_mut().desc_mut(index).flags;
        let referenced = flags.contains(PageFlags::REFERENCED);
        flags.remove(PageFlags::REFERENCED);
        if referenced_ptes || referenced {
            flags.set_lru_refs(flags.lru_refs() + 1);
            self.stats.pgactivate += 1;
            return Ok(None);
        }
        Ok(Some(Shadow::new(
            self.min_seq,
            flags.lru_refs(),
            flags.contains(PageFlags::WORKINGSET),
        )))
    }

    /// Linux's `lru_gen_eviction()` accounting, once the page is unmapped and on its
    /// way to swap: one more evicted from its tier.
    pub fn note_evicted(&mut self, shadow: Shadow) {
        let tier = shadow.tier();
        self.evicted[tier] += 1;
        self.stats.evicted[tier] += 1;
    }

    /// Linux's `move_folios_to_lru()` for a page eviction did not take (young, or
    /// its unmap or swap allocation failed), or one a fault took back from
    /// writeback: to the youngest generation, never the oldest ("don't add rejected
    /// folios to the oldest generation").
    pub fn putback(&mut self, zone: &mut Zone, pfn: Pfn) -> Result<(), LruError> {
        let (index, flags) = Lru::lookup(zone, pfn)?;
        if !flags.contains(PageFlags::ISOLATED) {
            return Err(LruError::NotIsolated);
        }
        self.link(zone, index, self.max_seq, false);
        Ok(())
    }

    /// Checks the generations against the descriptors: `min_seq + 1 < max_seq + 1`
    /// with at most `MAX_NR_GENS` generations, lists outside the window empty, links
    /// consistent, every listed page allocated order 0 with `PG_lru`, not isolated and
    /// its `LRU_GEN` naming its list (so no page is on two), and as many `PG_lru`
    /// pages in the zone as on the lists. Walks the whole memmap: for tests.
    pub fn check_invariants(&self, zone: &Zone) -> Result<(), &'static str> {
        if self.min_seq + MIN_NR_GENS > self.max_seq + 1 {
            return Err("fewer than MIN_NR_GENS generations");
        }
        if self.max_seq - self.min_seq + 1 > MAX_NR_GENS {
            return Err("more than MAX_NR_GENS generations");
        }
        let memmap = zone.memmap();
        for g in 0..MAX_NR_GENS as usize {
            let live = (self.min_seq..=self.max_seq).any(|seq| gen_of(seq) == g);
            if !live && self.lists[g].len() != 0 {
                return Err("pages on a retired generation");
            }
            self.lists[g].check_links(memmap, |index| {
                let page = memmap.desc(index);
                if !page.flags.contains(PageFlags::LRU | PageFlags::ALLOCATED) || page.order != 0 {
                    return Err("listed page is not an allocated order-0 page with PG_lru");
                }
                if page.flags.contains(PageFlags::ISOLATED) {
                    return Err("isolated page on a generation");
                }
                if page.flags.lru_gen() != g {
                    return Err("LRU_GEN does not match the list");
                }
                Ok(())
            })?;
        }
        if crate::lru::pages_on_lru(zone)? != self.nr_pages() {
            return Err("PG_lru pages in the zone differ from the generation sizes");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_follow_order_base_2_of_refs_plus_one() {
        let tiers: [usize; 5] = core::array::from_fn(|r| lru_tier_from_refs(r as u8));
        assert_eq!(tiers, [0, 1, 2, 2, 3]);
    }

    #[test]
    fn shadow_round_trips_and_is_never_zero() {
        let s = Shadow::new(0x1234_5678, 2, true);
        assert_eq!(Shadow::from_bits(s.to_bits()), Some(s));
        assert_eq!((s.refs(), s.workingset(), s.seq()), (2, true, 0x678));
        assert_eq!(s.tier(), 2);
        assert_eq!(Shadow::from_bits(0), None);
        assert_ne!(Shadow::new(0, 0, false).to_bits(), 0);
    }

    #[test]
    fn few_refaults_never_protect_a_tier() {
        let sp = CtrlPos {
            refaulted: 0,
            total: 1000,
            gain: 1,
        };
        let pv = CtrlPos {
            refaulted: MIN_LRU_BATCH - 1,
            total: MIN_LRU_BATCH,
            gain: 2,
        };
        assert!(positive_ctrl_err(sp, pv));
    }

    #[test]
    fn a_tier_refaulting_more_than_twice_tier_0_is_protected() {
        // Tier 0: 100 of 1000 refault (10 %).
        let sp = CtrlPos {
            refaulted: 100,
            total: 1000,
            gain: 1,
        };
        // 15 %: within the 1:2 margin.
        let calm = CtrlPos {
            refaulted: 150,
            total: 1000,
            gain: 2,
        };
        assert!(positive_ctrl_err(sp, calm));
        // 30 %: more than twice tier 0's rate.
        let hot = CtrlPos {
            refaulted: 300,
            total: 1000,
            gain: 2,
        };
        assert!(!positive_ctrl_err(sp, hot));
    }
}
