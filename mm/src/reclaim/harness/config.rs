//! The harness's command line: `HarnessConfig`, its `key=value` parser and checks, the
//! workload patterns and the named page mixes. Owns no run state; `run` reads it.

use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use crate::pagegen::{PageGen, PageMix};
use crate::reclaim::policy::{LruKind, ReclaimMode, RingFull};

/// Most threads of each kind (vmstat slots are fixed per CPU).
pub(super) const MAX_WORKERS: usize = 4;
pub(super) const MAX_WORKLOADS: usize = 4;

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
    Apps {
        /// Working sets the pages are split into.
        apps: usize,
    },
    /// `Apps` as Android runs them: each switch first touches the app's whole working
    /// set again (reads it back, or rewrites it after the killer took the app: a cold
    /// start), timed as the app-switch latency; then random accesses as in `Apps`.
    AppSwitch {
        /// Working sets the pages are split into.
        apps: usize,
    },
}

impl Pattern {
    /// The apps of `Apps` and `AppSwitch`.
    pub fn apps(self) -> Option<usize> {
        match self {
            Pattern::Apps { apps } | Pattern::AppSwitch { apps } => Some(apps),
            _ => None,
        }
    }
}

/// App switches after the launch, for `pattern=apps` when `ops` is not given (the
/// kernel bench's default amount of work).
pub const APP_SWITCHES: u64 = 12;

/// The harness's command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HarnessConfig {
    /// Who compresses evicted pages (`mode=`).
    pub mode: ReclaimMode,
    /// What kswapd does when every ring is full (`ring_full=`).
    pub ring_full: RingFull,
    /// kcompressd worker threads in async mode (`workers=`).
    pub workers: usize,
    /// Tickets queued per ring at most (`ReclaimConfig::ring_size`).
    pub ring_size: usize,
    /// Which LRU reclaim uses (`lru=`).
    pub lru: LruKind,
    /// RAM managed by the zone, in frames.
    pub ram_frames: usize,
    /// Anonymous pages the workloads touch (at least twice the RAM).
    pub wss_pages: usize,
    /// Workload threads, each on its own slice of the pages.
    pub workloads: usize,
    /// How they pick pages.
    pub pattern: Pattern,
    /// What the pages hold.
    pub mix: PageMix,
    /// Linux's `vm.watermark_scale_factor` (`wsf=`).
    pub watermark_scale_factor: u32,
    /// Accesses in total, over all workloads (after the launch, for `Apps`).
    pub ops: u64,
    /// Percentage of accesses that write (new version of the page).
    pub write_pct: u8,
    /// Seeds the pages' contents and the access pattern.
    pub seed: u64,
    /// The low-memory killer (`lmk=on`): kills background apps of `AppSwitch` under
    /// memory pressure.
    pub lmk: bool,
}

impl Default for HarnessConfig {
    fn default() -> Self {
        HarnessConfig {
            mode: ReclaimMode::Async,
            ring_full: RingFull::New,
            workers: 1,
            ring_size: 256,
            lru: LruKind::Classic,
            ram_frames: 4096,
            wss_pages: 8192,
            workloads: 1,
            pattern: Pattern::Random,
            mix: PageMix::DEFAULT,
            watermark_scale_factor: 10,
            ops: 200_000,
            write_pct: 25,
            seed: 1,
            lmk: false,
        }
    }
}

/// Every ring's capacity; `ring=` limits what kswapd queues (1..=this).
pub const RING_CAPACITY: usize = 4096;

/// The harness's `--help`.
pub const USAGE: &str = "usage: reclaim-harness [key=value ...]
  mode=sync|async          who compresses evicted pages (default async)
  ring_full=new|oldest     order when every ring is full (default new)
  workers=N                kcompressd workers, 1..=4 (default 1)
  ring=N                   tickets queued per ring at most, 1..=4096 (default 256)
  lru=classic|mglru        the two-list LRU or the multi-gen LRU (default classic)
  ram=FRAMES               RAM managed by the zone, in 4 KiB frames (default 4096)
  wss=PAGES                anonymous pages touched, >= 2 x ram (default 2 x ram)
  workloads=N              workload threads, 1..=4 (default 1)
  pattern=sequential|random|hotcold|refault|apps|appswitch   (default random)
  apps=N                   apps for pattern=apps|appswitch (default 8)
  lmk=on|off               low-memory killer for pattern=appswitch (default off)
  mix=NAME|Z,S,T,ST,R      default|zero|same|text|structured|random, or percent
                           zero,same-filled,text,structured,random (sum 100)
  wsf=N                    watermark_scale_factor, 1..=3000 (default 10)
  ops=N                    accesses in total (default 200000; pattern=apps and
                           appswitch: 12 app switches after the launch)
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

    /// The kernel's `scenario=apps`: the bench's setting with `AppSwitch` and the
    /// low-memory killer on.
    pub fn apps() -> Self {
        let mut cfg = HarnessConfig {
            pattern: Pattern::AppSwitch { apps: 8 },
            lmk: true,
            ..HarnessConfig::bench()
        };
        cfg.ops = cfg.default_app_ops().unwrap_or(cfg.ops);
        cfg
    }

    /// `APP_SWITCHES` switches' worth of accesses, for the `Apps` pattern.
    fn default_app_ops(&self) -> Option<u64> {
        let apps = self.pattern.apps()?;
        Some(APP_SWITCHES * (self.wss_pages / self.workloads / apps.max(1)) as u64)
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
                "lru" => {
                    cfg.lru = match value {
                        "classic" => LruKind::Classic,
                        "mglru" => LruKind::Mglru,
                        _ => return Err(format!("lru: '{value}' is not classic|mglru")),
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
                        "appswitch" => Pattern::AppSwitch { apps: 8 },
                        _ => {
                            return Err(format!(
                                "pattern: '{value}' is not sequential|random|hotcold|refault|apps|appswitch"
                            ));
                        }
                    }
                }
                "apps" => apps = Some(num(value)? as usize),
                "lmk" => {
                    cfg.lmk = match value {
                        "on" => true,
                        "off" => false,
                        _ => return Err(format!("lmk: '{value}' is not on|off")),
                    }
                }
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
            (Some(apps), Pattern::AppSwitch { .. }) => cfg.pattern = Pattern::AppSwitch { apps },
            (Some(_), _) => return Err("apps= needs pattern=apps or appswitch".to_string()),
            (None, _) => {}
        }
        if cfg.lmk && !matches!(cfg.pattern, Pattern::AppSwitch { .. }) {
            return Err("lmk=on needs pattern=appswitch (the killer kills apps)".to_string());
        }
        cfg.ops = match ops {
            Some(ops) => ops,
            None => cfg.default_app_ops().unwrap_or(cfg.ops),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    pub(super) fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_WORKERS).contains(&self.workers) {
            return Err(format!("workers must be 1..={MAX_WORKERS}"));
        }
        if !(1..=MAX_WORKLOADS).contains(&self.workloads) {
            return Err(format!("workloads must be 1..={MAX_WORKLOADS}"));
        }
        if !(1..=RING_CAPACITY).contains(&self.ring_size) {
            return Err(format!("ring must be 1..={RING_CAPACITY}"));
        }
        if let Some(apps) = self.pattern.apps()
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

    pub(super) fn lru_name(&self) -> &'static str {
        match self.lru {
            LruKind::Classic => "classic",
            LruKind::Mglru => "mglru",
        }
    }

    pub(super) fn mode_name(&self) -> &'static str {
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
