//! The host harness: the reclaim policy run natively with std threads playing the
//! workloads, kswapd and the kcompressd workers, over a real buddy `Zone` on a host
//! buffer, the real `ZramStore`, real rings and a simulated page table (one atomic
//! PTE per workload page). Every page read back is checked byte for byte against
//! `pagegen`, and at the end every frame is accounted for. Also measures what the
//! kernel's `scenario=bench` reports (`run_stats`: fault latency, daemon busy time),
//! so `report`'s table reads the same on both. Host-only (`std`).

use std::fmt::Write as _;
use std::string::{String, ToString};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};
use std::vec::Vec;
use std::{format, vec};

use spin::RelaxStrategy;
use spin::mutex::Mutex;

use super::policy::{
    CompressorQueue, Mmu, Node, Queues, Reclaim, ReclaimConfig, ReclaimMode, Reclaimer, RingFull,
    SwapIn, SwapInError, SwapRaceStats, Ticket,
};
use super::report::{RunInput, RunStats};
use super::swap::{SwapEntry, SwapMap, SwapState};
use crate::addr::{PAGE_SIZE, Pfn, PhysRange};
use crate::apps::{self, AppPattern};
use crate::busy::BusyClock;
use crate::frame::{Watermarks, Zone, ZoneConfig};
use crate::latency::LatencyHist;
use crate::lru::Lru;
use crate::pagegen::{PageGen, PageMix, SplitMix64};
use crate::ring::Ring;
use crate::rmap::Rmap;
use crate::vmstat::{VmEvent, VmStat, VmStatSnapshot};
use crate::zram::{Compressor, FrameSource, MmStat, ZramStore};

/// Most threads of each kind (vmstat slots are fixed per CPU).
const MAX_WORKERS: usize = 4;
const MAX_WORKLOADS: usize = 4;
const CPUS: usize = 1 + MAX_WORKERS + MAX_WORKLOADS;

/// Host locks yield instead of spinning: the threads outnumber the host's cores.
pub struct YieldRelax;

impl RelaxStrategy for YieldRelax {
    fn relax() {
        thread::yield_now();
    }
}

/// How workloads pick the next page.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// Page after page, wrapping.
    Sequential,
    /// Uniform over the working set.
    Random,
    /// 80 % of accesses to a hot fifth of the working set.
    HotCold,
    /// Half the accesses go to a page reclaim just queued or is compressing (found by
    /// a short scan of the PTEs), to force faults on pages in writeback.
    Refault,
    /// The kernel bench's phone: the workload's pages split into `apps` equal working
    /// sets, every page written once first (the launch), then every access goes to the
    /// foreground app, uniformly over its pages; after as many accesses as an app has
    /// pages, another app (picked from the seed) comes to the foreground.
    Apps { apps: usize },
}

/// App switches after the launch, for `pattern=apps` when `ops` is not given (the
/// kernel bench's default amount of work).
pub const APP_SWITCHES: u64 = 12;

/// The harness's command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HarnessConfig {
    pub mode: ReclaimMode,
    pub ring_full: RingFull,
    pub workers: usize,
    /// Tickets queued per ring at most (`ReclaimConfig::ring_size`).
    pub ring_size: usize,
    /// RAM managed by the zone, in frames.
    pub ram_frames: usize,
    /// Anonymous pages the workloads touch (at least twice the RAM).
    pub wss_pages: usize,
    pub workloads: usize,
    pub pattern: Pattern,
    pub mix: PageMix,
    pub watermark_scale_factor: u32,
    /// Accesses in total, over all workloads (after the launch, for `Apps`).
    pub ops: u64,
    /// Percentage of accesses that write (new version of the page).
    pub write_pct: u8,
    pub seed: u64,
}

impl Default for HarnessConfig {
    fn default() -> Self {
        HarnessConfig {
            mode: ReclaimMode::Async,
            ring_full: RingFull::New,
            workers: 1,
            ring_size: 256,
            ram_frames: 4096,
            wss_pages: 8192,
            workloads: 1,
            pattern: Pattern::Random,
            mix: PageMix::DEFAULT,
            watermark_scale_factor: 10,
            ops: 200_000,
            write_pct: 25,
            seed: 1,
        }
    }
}

/// Every ring's capacity; `ring=` limits what kswapd queues (1..=this).
pub const RING_CAPACITY: usize = 4096;

pub const USAGE: &str = "usage: reclaim-harness [key=value ...]
  mode=sync|async          who compresses evicted pages (default async)
  ring_full=new|oldest     order when every ring is full (default new)
  workers=N                kcompressd workers, 1..=4 (default 1)
  ring=N                   tickets queued per ring at most, 1..=4096 (default 256)
  ram=FRAMES               RAM managed by the zone, in 4 KiB frames (default 4096)
  wss=PAGES                anonymous pages touched, >= 2 x ram (default 2 x ram)
  workloads=N              workload threads, 1..=4 (default 1)
  pattern=sequential|random|hotcold|refault|apps   (default random)
  apps=N                   apps for pattern=apps (default 8)
  mix=NAME|Z,S,T,ST,R      default|zero|same|text|structured|random, or percent
                           zero,same-filled,text,structured,random (sum 100)
  wsf=N                    watermark_scale_factor, 1..=3000 (default 10)
  ops=N                    accesses in total (default 200000; pattern=apps:
                           12 app switches after the launch)
  write_pct=N              percent of accesses that write (default 25)
  seed=N                   (default 1)";

impl HarnessConfig {
    /// Parses `key=value` arguments; unknown keys and bad values are errors.
    pub fn parse<I: IntoIterator<Item = S>, S: AsRef<str>>(args: I) -> Result<Self, String> {
        Self::parse_onto(HarnessConfig::default(), args)
    }

    /// The kernel bench's setting: 64 MiB of RAM, 2 x RAM of anonymous memory in 8
    /// apps, one workload, 12 app switches after the launch, 25 % writes.
    pub fn bench() -> Self {
        let mut cfg = HarnessConfig {
            ram_frames: 16384,
            wss_pages: 32768,
            pattern: Pattern::Apps { apps: 8 },
            ..HarnessConfig::default()
        };
        cfg.ops = cfg.default_app_ops().unwrap_or(cfg.ops);
        cfg
    }

    /// `APP_SWITCHES` switches' worth of accesses, for the `Apps` pattern.
    fn default_app_ops(&self) -> Option<u64> {
        match self.pattern {
            Pattern::Apps { apps } => {
                Some(APP_SWITCHES * (self.wss_pages / self.workloads / apps.max(1)) as u64)
            }
            _ => None,
        }
    }

    /// `parse` starting from `base` instead of the defaults; `wss` follows `ram` and
    /// `ops` follows the apps' size unless given.
    pub fn parse_onto<I: IntoIterator<Item = S>, S: AsRef<str>>(
        base: HarnessConfig,
        args: I,
    ) -> Result<Self, String> {
        let mut cfg = base;
        let (mut wss, mut ops, mut apps) = (None, None, None);
        for arg in args {
            let arg = arg.as_ref();
            let (key, value) = arg
                .split_once('=')
                .ok_or_else(|| format!("argument '{arg}' is not key=value"))?;
            let num = |v: &str| {
                v.parse::<u64>()
                    .map_err(|_| format!("{key}: '{v}' is not a number"))
            };
            match key {
                "mode" => {
                    cfg.mode = match value {
                        "sync" => ReclaimMode::Sync,
                        "async" => ReclaimMode::Async,
                        _ => return Err(format!("mode: '{value}' is not sync|async")),
                    }
                }
                "ring_full" => {
                    cfg.ring_full = match value {
                        "new" => RingFull::New,
                        "oldest" => RingFull::Oldest,
                        _ => return Err(format!("ring_full: '{value}' is not new|oldest")),
                    }
                }
                "workers" => cfg.workers = num(value)? as usize,
                "ring" => cfg.ring_size = num(value)? as usize,
                "ram" => cfg.ram_frames = num(value)? as usize,
                "wss" => wss = Some(num(value)? as usize),
                "workloads" => cfg.workloads = num(value)? as usize,
                "pattern" => {
                    cfg.pattern = match value {
                        "sequential" => Pattern::Sequential,
                        "random" => Pattern::Random,
                        "hotcold" => Pattern::HotCold,
                        "refault" => Pattern::Refault,
                        "apps" => Pattern::Apps { apps: 8 },
                        _ => {
                            return Err(format!(
                                "pattern: '{value}' is not sequential|random|hotcold|refault|apps"
                            ));
                        }
                    }
                }
                "apps" => apps = Some(num(value)? as usize),
                "mix" if !value.contains(',') => {
                    cfg.mix = named_mix(value).ok_or_else(|| {
                        format!(
                            "mix: '{value}' is not default|zero|same|text|structured|random or five percentages"
                        )
                    })?;
                }
                "mix" => {
                    let parts: Vec<u8> = value
                        .split(',')
                        .map(|p| {
                            p.parse::<u8>()
                                .map_err(|_| format!("mix: '{p}' is not a percentage"))
                        })
                        .collect::<Result<_, _>>()?;
                    let [zero, same_filled, text, structured, random] = parts[..] else {
                        return Err("mix: needs five percentages".to_string());
                    };
                    cfg.mix = PageMix {
                        zero,
                        same_filled,
                        text,
                        structured,
                        random,
                    };
                }
                "wsf" => cfg.watermark_scale_factor = num(value)? as u32,
                "ops" => ops = Some(num(value)?),
                "write_pct" => cfg.write_pct = num(value)?.min(100) as u8,
                "seed" => cfg.seed = num(value)?,
                _ => return Err(format!("unknown key '{key}'\n{USAGE}")),
            }
        }
        cfg.wss_pages = wss.unwrap_or(2 * cfg.ram_frames);
        match (apps, cfg.pattern) {
            (Some(apps), Pattern::Apps { .. }) => cfg.pattern = Pattern::Apps { apps },
            (Some(_), _) => return Err("apps= needs pattern=apps".to_string()),
            (None, _) => {}
        }
        cfg.ops = match ops {
            Some(ops) => ops,
            None => cfg.default_app_ops().unwrap_or(cfg.ops),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_WORKERS).contains(&self.workers) {
            return Err(format!("workers must be 1..={MAX_WORKERS}"));
        }
        if !(1..=MAX_WORKLOADS).contains(&self.workloads) {
            return Err(format!("workloads must be 1..={MAX_WORKLOADS}"));
        }
        if !(1..=RING_CAPACITY).contains(&self.ring_size) {
            return Err(format!("ring must be 1..={RING_CAPACITY}"));
        }
        if let Pattern::Apps { apps } = self.pattern
            && !(1..=self.wss_pages / self.workloads).contains(&apps)
        {
            return Err("apps must be 1..=pages per workload".to_string());
        }
        if self.ram_frames < 256 {
            return Err("ram must be at least 256 frames".to_string());
        }
        if self.wss_pages < 2 * self.ram_frames {
            return Err("wss must be at least 2 x ram (pressure is the point)".to_string());
        }
        if self.wss_pages > u32::MAX as usize {
            return Err("wss too large".to_string());
        }
        if PageGen::new(self.seed, self.mix).is_none() {
            return Err("mix: the five percentages must sum to 100".to_string());
        }
        if !(1..=3000).contains(&self.watermark_scale_factor) {
            return Err("wsf must be 1..=3000".to_string());
        }
        Ok(())
    }

    fn mode_name(&self) -> &'static str {
        match self.mode {
            ReclaimMode::Sync => "sync",
            ReclaimMode::Async => "async",
        }
    }
}

/// The page mixes the command line knows by name: the calibrated default and one
/// kind only (`same` = same-filled).
pub fn named_mix(name: &str) -> Option<PageMix> {
    use crate::pagegen::PageKind;
    Some(match name {
        "default" => PageMix::DEFAULT,
        "zero" => PageMix::only(PageKind::Zero),
        "same" => PageMix::only(PageKind::SameFilled),
        "text" => PageMix::only(PageKind::Text),
        "structured" => PageMix::only(PageKind::Structured),
        "random" => PageMix::only(PageKind::Random),
        _ => return None,
    })
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct HarnessReport {
    pub config: HarnessConfig,
    pub vmstat: VmStatSnapshot,
    pub mm_stat: MmStat,
    pub race: SwapRaceStats,
    /// Accesses the workloads made (the launch included).
    pub ops: u64,
    /// From the start of the workloads to the end of the last one.
    pub elapsed: Duration,
    /// Latency of the faults that needed a frame (first touch, swap-in), in ns.
    pub faults: LatencyHist,
    /// kswapd's time outside `park`, all workers' likewise, and the pages they took.
    pub kswapd_busy: Duration,
    pub kcompressd_busy: Duration,
    pub kcompressd_pages: u64,
    pub watermarks: Watermarks,
    /// Pages read back (swap-in, rescue, final pass) and found exact.
    pub verified_pages: u64,
    pub corrupt_pages: u64,
    /// A workload stopped because an allocation failed after direct reclaim.
    pub oom: bool,
    /// Free + mapped + store + parked frames == managed frames at the end.
    pub frames_accounted: bool,
}

impl HarnessReport {
    fn per_s(&self, n: u64) -> u64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            (n as f64 / secs) as u64
        } else {
            0
        }
    }

    /// True when nothing was lost: no corrupt page and every frame accounted for.
    pub fn clean(&self) -> bool {
        self.corrupt_pages == 0 && self.frames_accounted
    }

    /// The run in the kernel bench's terms, for `report`'s table (ticks = ns).
    pub fn run_stats(&self) -> RunStats {
        let ns = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        RunStats::measure(&RunInput {
            vmstat: &self.vmstat,
            mm_stat: &self.mm_stat,
            tick_hz: 1_000_000_000,
            elapsed: ns(self.elapsed),
            accesses: self.ops,
            faults: &self.faults,
            kswapd_busy: ns(self.kswapd_busy),
            kcompressd_busy: ns(self.kcompressd_busy),
            kcompressd_pages: self.kcompressd_pages,
            workers: match self.config.mode {
                ReclaimMode::Sync => 0,
                ReclaimMode::Async => self.config.workers as u64,
            },
            rescued: self.race.rescued,
            verified: self.verified_pages,
            corrupt: self.corrupt_pages,
            frames_accounted: self.frames_accounted,
        })
    }

    /// The `RESULT {json}` line (numbers as numbers).
    pub fn result_line(&self) -> String {
        let v = |e: VmEvent| self.vmstat.get(e);
        let mut json = format!(
            "{{\"scenario\":\"reclaim\",\"mode\":\"{}\",\"ring_full\":\"{}\",\"workers\":{},\"ring\":{}",
            self.config.mode_name(),
            match self.config.ring_full {
                RingFull::New => "new",
                RingFull::Oldest => "oldest",
            },
            self.config.workers,
            self.config.ring_size
        );
        for event in [
            VmEvent::PgScanKswapd,
            VmEvent::PgScanDirect,
            VmEvent::PgStealKswapd,
            VmEvent::PgStealDirect,
            VmEvent::PgStealAnon,
            VmEvent::AllocStall,
            VmEvent::PswpOut,
            VmEvent::PswpIn,
            VmEvent::WorkingsetRefaultAnon,
            VmEvent::KcompressdRingFull,
        ] {
            let name = match event {
                VmEvent::AllocStall => "allocstall",
                other => other.name(),
            };
            let _ = write!(json, ",\"{name}\":{}", v(event));
        }
        let m = &self.mm_stat;
        let _ = write!(
            json,
            ",\"same_pages\":{},\"huge_pages\":{},\"orig_data_size\":{},\"compr_data_size\":{},\"mem_used_total\":{}",
            m.same_pages, m.huge_pages, m.orig_data_size, m.compr_data_size, m.mem_used_total
        );
        let _ = write!(
            json,
            ",\"rescued\":{},\"waited\":{},\"writeback_failed\":{},\"verified_pages\":{},\"corrupt_pages\":{},\"oom\":{},\"frames_accounted\":{}",
            self.race.rescued,
            self.race.waited,
            self.race.writeback_failed,
            self.verified_pages,
            self.corrupt_pages,
            self.oom,
            self.frames_accounted
        );
        let _ = write!(
            json,
            ",\"pgsteal_anon_per_s\":{},\"ops_per_s\":{},\"elapsed_ms\":{}}}",
            self.per_s(v(VmEvent::PgStealAnon)),
            self.per_s(self.ops),
            self.elapsed.as_millis()
        );
        format!("RESULT {json}")
    }

    /// The `/proc/vmstat` and zram `mm_stat` blocks, a summary, then `RESULT`.
    pub fn render(&self) -> String {
        let m = &self.mm_stat;
        let mut out = String::new();
        let _ = writeln!(out, "--- /proc/vmstat ---\n{}", self.vmstat);
        let _ = writeln!(
            out,
            "--- zram mm_stat (orig compr used limit used_max same compacted huge huge_since) ---\n{} {} {} {} {} {} {} {} {}",
            m.orig_data_size,
            m.compr_data_size,
            m.mem_used_total,
            m.mem_limit,
            m.mem_used_max,
            m.same_pages,
            m.pages_compacted,
            m.huge_pages,
            m.huge_pages_since
        );
        let _ = writeln!(
            out,
            "--- summary ---\npgsteal_anon/s {}  allocstall {}  ops/s {}  rescued {}  waited {}  verified {}  corrupt {}  oom {}  frames_accounted {}",
            self.per_s(self.vmstat.get(VmEvent::PgStealAnon)),
            self.vmstat.get(VmEvent::AllocStall),
            self.per_s(self.ops),
            self.race.rescued,
            self.race.waited,
            self.verified_pages,
            self.corrupt_pages,
            self.oom,
            self.frames_accounted
        );
        out.push_str(&self.result_line());
        out
    }
}

// ---- the simulated page table ----

const PRESENT: u64 = 1 << 63;
const ACCESSED: u64 = 1 << 62;
/// The workload is using the page right now (stands in for a live TLB entry).
const LOCKED: u64 = 1 << 61;
const SWAPPED: u64 = 1 << 60;
const PFN_MASK: u64 = (1 << 40) - 1;

/// One PTE per workload page plus a reverse map from frame to page.
struct PageTable<'r> {
    ptes: Vec<AtomicU64>,
    /// Page index + 1 of the page last mapped in each frame of the host buffer.
    rmap: Rmap<'r>,
}

impl PageTable<'_> {
    fn pte_of(&self, pfn: Pfn) -> Option<&AtomicU64> {
        let page = self.rmap.get(pfn)? - 1;
        self.ptes.get(page as usize)
    }

    /// Maps `pfn` for `page`, locked for the caller's use.
    fn map_locked(&self, page: usize, pfn: Pfn) {
        self.rmap.set(pfn, page as u64 + 1);
        // Release: the frame's new contents before the mapping.
        self.ptes[page].store(PRESENT | ACCESSED | LOCKED | pfn.0, Ordering::Release);
    }
}

/// `Mmu` over the simulated page table. A stale rmap entry is harmless: every
/// operation checks that the PTE still maps the frame it was asked about.
#[derive(Copy, Clone)]
struct SimMmu<'h>(&'h PageTable<'h>);

impl Mmu for SimMmu<'_> {
    fn test_and_clear_young(&mut self, pfn: Pfn) -> bool {
        let Some(pte) = self.0.pte_of(pfn) else {
            return false;
        };
        let mut v = pte.load(Ordering::Relaxed);
        loop {
            if v & PRESENT == 0 || v & PFN_MASK != pfn.0 {
                return false;
            }
            if v & LOCKED != 0 {
                return true;
            }
            if v & ACCESSED == 0 {
                return false;
            }
            match pte.compare_exchange(v, v & !ACCESSED, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(now) => v = now,
            }
        }
    }

    fn try_to_unmap(&mut self, pfn: Pfn, entry: SwapEntry) -> bool {
        let Some(pte) = self.0.pte_of(pfn) else {
            return false;
        };
        // AcqRel: Acquire pairs with the workload's Release when it unlocked the PTE
        // (its writes to the frame are visible to us, then to the compressor through
        // the ring); fails if the page is accessed or in use.
        pte.compare_exchange(
            PRESENT | pfn.0,
            SWAPPED | entry.to_bits(),
            Ordering::AcqRel,
            Ordering::Relaxed,
        )
        .is_ok()
    }

    fn flush_tlb(&mut self) {
        // Nothing deferred: the unmapping CAS already Acquired the workload's Release.
    }
}

/// The store's frames come from the same zone as everything else, as zram's do.
struct NodeFrames<'a>(&'a Mutex<Node, YieldRelax>);

// SAFETY: frames come from the zone, which manages the harness's host buffer (reached
// through the direct map = host addresses); a frame allocated here is used by the
// store only, until it comes back through `free_frame`.
unsafe impl FrameSource for NodeFrames<'_> {
    fn alloc_frame(&mut self) -> Option<Pfn> {
        self.0.lock().zone.alloc_pages(0).ok()
    }

    fn free_frame(&mut self, pfn: Pfn) {
        let _ = self.0.lock().zone.free_pages(pfn, 0);
    }
}

#[repr(C, align(4096))]
struct HostPage([u8; PAGE_SIZE]);

type Shared<'a> = Reclaim<'a, NodeFrames<'a>, YieldRelax>;

/// Runs the harness once.
pub fn run(cfg: &HarnessConfig) -> Result<HarnessReport, String> {
    cfg.validate()?;
    // RAM: the zone's frames plus room for its memmap (one descriptor per page).
    let memmap_frames =
        (cfg.ram_frames * core::mem::size_of::<crate::page::PageDesc>()).div_ceil(PAGE_SIZE) + 1;
    let mut ram: Vec<HostPage> = (0..cfg.ram_frames + memmap_frames)
        .map(|_| HostPage([0; PAGE_SIZE]))
        .collect();
    let base = ram.as_mut_ptr() as u64;
    let range = PhysRange {
        base,
        size: (ram.len() * PAGE_SIZE) as u64,
    };
    let zone_cfg = ZoneConfig {
        min_free_kbytes: None,
        watermark_scale_factor: cfg.watermark_scale_factor,
    };
    // SAFETY: `ram` is host memory we own, addressed directly (the host's "direct
    // map"), outliving the zone and untouched except through the zone's frames.
    let zone = unsafe { Zone::new(&[range], zone_cfg) }.map_err(|e| format!("zone: {e:?}"))?;
    let managed = zone.managed_pages();
    let watermarks = zone.watermarks();
    let node = Mutex::<_, YieldRelax>::new(Node {
        zone,
        lru: Lru::new(),
    });

    let mut meta = vec![0u64; ZramStore::<NodeFrames>::meta_words(cfg.wss_pages)];
    let store = Mutex::<_, YieldRelax>::new(ZramStore::new(NodeFrames(&node), &mut meta));
    let words: Vec<crate::sync::AtomicU64> = (0..cfg.wss_pages)
        .map(|_| crate::sync::AtomicU64::new(0))
        .collect();
    let swap = SwapMap::new(&words).map_err(|e| format!("swap map: {e:?}"))?;
    let reclaim: Shared<'_> = Reclaim::new(
        &node,
        &store,
        &swap,
        ReclaimConfig {
            mode: cfg.mode,
            ring_full: cfg.ring_full,
            ring_size: cfg.ring_size,
        },
    );
    let rmap_slots: Vec<AtomicU64> = (0..ram.len()).map(|_| AtomicU64::new(0)).collect();
    let table = PageTable {
        ptes: (0..cfg.wss_pages).map(|_| AtomicU64::new(0)).collect(),
        rmap: Rmap::new(Pfn::containing(base), &rmap_slots),
    };
    let pages_gen = PageGen::new(cfg.seed, cfg.mix).ok_or("bad mix")?;
    let vmstat = VmStat::<CPUS>::new();
    let workers = if cfg.mode == ReclaimMode::Async {
        cfg.workers
    } else {
        0
    };
    let rings: Vec<Ring<Ticket, RING_CAPACITY>> = (0..workers).map(|_| Ring::new()).collect();
    let mut producers = Vec::new();
    let mut queues = Vec::new();
    for ring in &rings {
        let (producer, consumer) = ring.split().map_err(|e| e.to_string())?;
        producers.push(producer);
        queues.push(CompressorQueue::<YieldRelax, RING_CAPACITY>::new(consumer));
    }
    let stop_kswapd = AtomicBool::new(false);
    let stop_workers = AtomicBool::new(false);
    // The daemons' busy clocks, in nanoseconds since `start`, read when the last
    // workload ends: the measurement window is the workloads' (the drain after it is
    // left out, as in the kernel's bench).
    let kswapd_clock = BusyClock::new();
    let worker_clocks: Vec<BusyClock> = (0..workers).map(|_| BusyClock::new()).collect();
    let worker_pages: Vec<AtomicU64> = (0..workers).map(|_| AtomicU64::new(0)).collect();

    let start = Instant::now();
    let now = || u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let done = thread::scope(|s| -> Result<_, String> {
        let mut worker_threads: Vec<Thread> = Vec::new();
        let mut worker_handles = Vec::new();
        for (i, queue) in queues.iter().enumerate() {
            let (reclaim, vmstat, stop) = (&reclaim, &vmstat, &stop_workers);
            let (clock, pages) = (&worker_clocks[i], &worker_pages[i]);
            let handle = s.spawn(move || {
                let stat = vmstat.cpu(1 + i).expect("worker slot");
                let mut compressor = Compressor::new();
                loop {
                    clock.begin(now());
                    let done = reclaim.kcompressd_run(queue, &mut compressor, stat);
                    clock.end(now());
                    if done > 0 {
                        pages.fetch_add(done as u64, Ordering::Relaxed);
                        continue;
                    }
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                    if queue.prepare_to_wait() {
                        thread::park();
                    }
                    queue.finish_wait();
                }
            });
            worker_threads.push(handle.thread().clone());
            worker_handles.push(handle);
        }
        let kswapd = {
            let (reclaim, vmstat, stop, table) = (&reclaim, &vmstat, &stop_kswapd, &table);
            let clock = &kswapd_clock;
            let mut producers = producers;
            let (queues, worker_threads) = (&queues, worker_threads.clone());
            s.spawn(move || {
                let stat = vmstat.cpu(0).expect("kswapd slot");
                let mut compressor = Compressor::new();
                let mut reclaimer = Reclaimer {
                    mmu: SimMmu(table),
                    compressor: &mut compressor,
                    stat,
                };
                let mut queues = Queues {
                    producers: &mut producers,
                    queues,
                    wake: |i: usize| worker_threads[i].unpark(),
                };
                while !stop.load(Ordering::Acquire) {
                    clock.begin(now());
                    let balanced = reclaim.balance_pgdat(&mut reclaimer, &mut queues);
                    let sleep = reclaim.kswapd_try_to_sleep(balanced);
                    clock.end(now());
                    if sleep && !stop.load(Ordering::Acquire) {
                        thread::park();
                    }
                }
            })
        };
        let kswapd_thread = kswapd.thread().clone();
        let per_workload = cfg.wss_pages / cfg.workloads;
        let workloads: Vec<_> = (0..cfg.workloads)
            .map(|w| {
                let first = w * per_workload;
                let pages = if w + 1 == cfg.workloads {
                    cfg.wss_pages - first
                } else {
                    per_workload
                };
                let ops = cfg.ops / cfg.workloads as u64;
                let ctx = Workload {
                    reclaim: &reclaim,
                    table: &table,
                    pages_gen,
                    first,
                    pages,
                    kswapd: kswapd_thread.clone(),
                    pattern: cfg.pattern,
                    write_pct: cfg.write_pct,
                    seed: cfg.seed ^ (w as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                };
                let vmstat = &vmstat;
                s.spawn(move || {
                    ctx.run(ops, vmstat.cpu(1 + MAX_WORKERS + w).expect("workload slot"))
                })
            })
            .collect();
        let mut done = Done {
            work: WorkloadResult {
                versions: vec![0u32; cfg.wss_pages],
                ..WorkloadResult::default()
            },
            ..Done::default()
        };
        for (w, handle) in workloads.into_iter().enumerate() {
            let out = handle.join().map_err(|_| "workload thread panicked")?;
            done.work.add(w * per_workload, &out);
        }
        // The window closes: counters, busy times and the store, read together.
        let end = now();
        done.elapsed = Duration::from_nanos(end);
        done.kswapd_busy = Duration::from_nanos(kswapd_clock.read(end));
        done.kcompressd_busy =
            Duration::from_nanos(worker_clocks.iter().map(|c| c.read(end)).sum());
        done.kcompressd_pages = worker_pages.iter().map(|p| p.load(Ordering::Relaxed)).sum();
        done.vmstat = vmstat.snapshot();
        done.mm_stat = store.lock().mm_stat();
        stop_kswapd.store(true, Ordering::Release);
        kswapd_thread.unpark();
        kswapd.join().map_err(|_| "kswapd panicked")?;
        stop_workers.store(true, Ordering::Release);
        for t in &worker_threads {
            t.unpark();
        }
        for h in worker_handles {
            h.join().map_err(|_| "kcompressd panicked")?;
        }
        Ok(done)
    })?;
    let versions = &done.work.versions;

    // Final pass: every page, wherever it is, must be its last version; every frame
    // must be free, mapped, the store's, or held by a page parked in writeback.
    let (mut final_verified, mut final_corrupt, mut mapped, mut parked) = (0u64, 0u64, 0u64, 0u64);
    let mut buf = HostPage([0; PAGE_SIZE]);
    for (page, pte) in table.ptes.iter().enumerate() {
        let v = pte.load(Ordering::Acquire);
        let ok = if v & PRESENT != 0 {
            mapped += 1;
            // SAFETY: all threads are joined; the frame is mapped, so it is a frame of
            // the zone holding this page.
            let frame = unsafe { &*(Pfn(v & PFN_MASK).page_address() as *const [u8; PAGE_SIZE]) };
            pages_gen.matches(page as u64, versions[page], frame)
        } else if v & SWAPPED != 0 {
            let entry = SwapEntry::from_bits(v & !SWAPPED).ok_or("bad swap pte")?;
            match swap.state(entry) {
                Some(SwapState::Stored) => {
                    store.lock().load(entry.slot(), &mut buf.0).is_ok()
                        && pages_gen.matches(page as u64, versions[page], &buf.0)
                }
                Some(SwapState::Writeback(pfn)) => {
                    parked += 1;
                    // SAFETY: all threads are joined; a parked page's frame is its own.
                    let frame = unsafe { &*(pfn.page_address() as *const [u8; PAGE_SIZE]) };
                    pages_gen.matches(page as u64, versions[page], frame)
                }
                _ => false,
            }
        } else {
            continue;
        };
        if ok {
            final_verified += 1;
        } else {
            final_corrupt += 1;
        }
    }
    let free = node.lock().zone.nr_free_pages();
    let store_frames = store.lock().mm_stat().mem_used_total / PAGE_SIZE as u64;
    let frames_accounted = free + mapped + parked + store_frames == managed;
    drop(ram);
    Ok(HarnessReport {
        config: cfg.clone(),
        vmstat: done.vmstat,
        mm_stat: done.mm_stat,
        race: reclaim.race_stats(),
        ops: done.work.accesses,
        elapsed: done.elapsed,
        faults: done.work.faults,
        kswapd_busy: done.kswapd_busy,
        kcompressd_busy: done.kcompressd_busy,
        kcompressd_pages: done.kcompressd_pages,
        watermarks,
        verified_pages: done.work.verified + final_verified,
        corrupt_pages: done.work.corrupt + final_corrupt,
        oom: done.work.oom,
        frames_accounted,
    })
}

/// What the threads of a run hand back: the workloads' results merged (versions of
/// every page of the region), and the daemons' busy times.
#[derive(Default)]
struct Done {
    work: WorkloadResult,
    elapsed: Duration,
    kswapd_busy: Duration,
    kcompressd_busy: Duration,
    kcompressd_pages: u64,
    /// Counters and the store as the last workload ended.
    vmstat: VmStatSnapshot,
    mm_stat: MmStat,
}

/// One workload thread: owns pages `first..first + pages` and their versions.
struct Workload<'a> {
    reclaim: &'a Shared<'a>,
    table: &'a PageTable<'a>,
    pages_gen: PageGen,
    first: usize,
    pages: usize,
    kswapd: Thread,
    pattern: Pattern,
    write_pct: u8,
    seed: u64,
}

#[derive(Default)]
struct WorkloadResult {
    versions: Vec<u32>,
    verified: u64,
    corrupt: u64,
    oom: bool,
    accesses: u64,
    /// Faults that needed a frame, in ns.
    faults: LatencyHist,
}

impl WorkloadResult {
    /// Adds `out`, the result of the workload whose pages start at `first`.
    fn add(&mut self, first: usize, out: &WorkloadResult) {
        self.versions[first..][..out.versions.len()].copy_from_slice(&out.versions);
        self.verified += out.verified;
        self.corrupt += out.corrupt;
        self.oom |= out.oom;
        self.accesses += out.accesses;
        self.faults.merge(&out.faults);
    }
}

impl Workload<'_> {
    fn run(&self, ops: u64, stat: &crate::vmstat::CpuVmStat) -> WorkloadResult {
        let mut out = WorkloadResult {
            versions: vec![0; self.pages],
            ..WorkloadResult::default()
        };
        let mut compressor = Compressor::new();
        let mut reclaimer = Reclaimer {
            mmu: SimMmu(self.table),
            compressor: &mut compressor,
            stat,
        };
        let launch = match self.pattern {
            Pattern::Apps { .. } => self.pages,
            _ => 0,
        };
        let mut rng = SplitMix64(self.seed);
        let mut cursor = 0;
        for n in 0..launch as u64 + ops {
            let (local, write) = match n.checked_sub(launch as u64) {
                None => (n as usize, true),
                Some(n) => (
                    self.pick(&mut rng, &mut cursor, n),
                    apps::is_write(&mut rng, u64::from(self.write_pct)),
                ),
            };
            if self.access(&mut reclaimer, local, write, &mut out).is_err() {
                out.oom = true;
                break;
            }
            out.accesses += 1;
        }
        out
    }

    /// The page of access `n` (counted after the launch).
    fn pick(&self, rng: &mut SplitMix64, cursor: &mut usize, n: u64) -> usize {
        match self.pattern {
            Pattern::Sequential => {
                *cursor = (*cursor + 1) % self.pages;
                *cursor
            }
            Pattern::Random => rng.below(self.pages),
            Pattern::HotCold => {
                let hot = (self.pages / 5).max(1);
                if rng.below(100) < 80 {
                    rng.below(hot)
                } else {
                    hot + rng.below(self.pages - hot)
                }
            }
            Pattern::Refault => {
                let start = rng.below(self.pages);
                if rng.below(2) == 0 {
                    for step in 0..64 {
                        let local = (start + step) % self.pages;
                        if self.in_writeback(local) {
                            return local;
                        }
                    }
                }
                start
            }
            Pattern::Apps { apps } => {
                let set = (self.pages / apps.max(1)) as u64;
                AppPattern {
                    apps,
                    switch_every: set,
                    seed: self.seed,
                }
                .pick(self.pages, rng, n)
            }
        }
    }

    /// Counts `frame` as verified if it holds page `page` at its current version.
    fn check(&self, out: &mut WorkloadResult, page: usize, local: usize, frame: &[u8; PAGE_SIZE]) {
        if self
            .pages_gen
            .matches(page as u64, out.versions[local], frame)
        {
            out.verified += 1;
        } else {
            out.corrupt += 1;
        }
    }

    fn in_writeback(&self, local: usize) -> bool {
        let v = self.table.ptes[self.first + local].load(Ordering::Relaxed);
        if v & SWAPPED == 0 {
            return false;
        }
        SwapEntry::from_bits(v & !SWAPPED).is_some_and(|entry| {
            matches!(
                self.reclaim.swap().state(entry),
                Some(SwapState::Writeback(_) | SwapState::Compressing(_))
            )
        })
    }

    /// Touches page `local`: faults it in if needed (checking what comes back), then
    /// reads it or writes a new version, with the PTE locked meanwhile.
    fn access(
        &self,
        reclaimer: &mut Reclaimer<'_, SimMmu<'_>>,
        local: usize,
        write: bool,
        out: &mut WorkloadResult,
    ) -> Result<(), ()> {
        let page = self.first + local;
        let pte = &self.table.ptes[page];
        let kswapd = &self.kswapd;
        let mut wake = || kswapd.unpark();
        let fault = (pte.load(Ordering::Relaxed) & PRESENT == 0).then(Instant::now);
        let locked = loop {
            let v = pte.load(Ordering::Acquire);
            if v & PRESENT != 0 {
                if pte
                    .compare_exchange(
                        v,
                        v | LOCKED | ACCESSED,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    )
                    .is_ok()
                {
                    break v | ACCESSED;
                }
                continue;
            }
            if v == 0 {
                let pfn = self
                    .reclaim
                    .alloc_page(reclaimer, &mut wake, &mut thread::yield_now)
                    .map_err(|_| ())?;
                reclaimer.stat.count(VmEvent::PgFault);
                // SAFETY: a frame just allocated for us, not yet mapped anywhere.
                let frame = unsafe { &mut *(pfn.page_address() as *mut [u8; PAGE_SIZE]) };
                self.pages_gen.fill(page as u64, out.versions[local], frame);
                self.table.map_locked(page, pfn);
                self.reclaim.lru_add_new(pfn);
                break PRESENT | ACCESSED | pfn.0;
            }
            let Some(entry) = SwapEntry::from_bits(v & !SWAPPED) else {
                out.corrupt += 1;
                pte.store(0, Ordering::Relaxed);
                continue;
            };
            let table = self.table;
            let mut map = |pfn: Pfn| table.map_locked(page, pfn);
            match self.reclaim.do_swap_page(
                reclaimer,
                entry,
                &mut wake,
                &mut thread::yield_now,
                &mut map,
            ) {
                Ok(SwapIn::Rescued(pfn) | SwapIn::Loaded(pfn)) => {
                    // SAFETY: mapped and locked by us: kswapd cannot unmap it.
                    let frame = unsafe { &*(pfn.page_address() as *const [u8; PAGE_SIZE]) };
                    self.check(out, page, local, frame);
                    break PRESENT | ACCESSED | pfn.0;
                }
                Ok(SwapIn::Retry) => {}
                Err(SwapInError::Load(_)) => {
                    // The page is lost; start it over so the run can go on.
                    out.corrupt += 1;
                    out.versions[local] = 0;
                    pte.store(0, Ordering::Relaxed);
                }
                Err(SwapInError::OutOfMemory) => return Err(()),
            }
        };
        if let Some(start) = fault {
            out.faults
                .record(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX));
        }
        // SAFETY: the PTE is locked by us: the frame is ours until we unlock.
        let frame =
            unsafe { &mut *(Pfn(locked & PFN_MASK).page_address() as *mut [u8; PAGE_SIZE]) };
        if write {
            out.versions[local] = out.versions[local].wrapping_add(1);
            self.pages_gen.fill(page as u64, out.versions[local], frame);
        } else if fault.is_none() {
            // A read of a resident page checks every byte, as the kernel's workload
            // does (a page just faulted in was checked by the fault).
            self.check(out, page, local, frame);
        }
        // Release: our writes to the frame before anyone who unmaps it.
        pte.store(locked, Ordering::Release);
        Ok(())
    }
}
