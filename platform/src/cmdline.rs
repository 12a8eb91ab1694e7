//! The kernel command line (`/chosen/bootargs`): whitespace-separated `key=value`
//! words, parsed into `CmdLine`. Unknown keys, duplicates and bad values are errors
//! naming the word, never silent defaults. Portable; the kernel only acts on the result.

use arrayvec::ArrayVec;
use core::fmt;

/// Defines an enum of command-line words with their spelling, so that adding a value
/// is one line and the error message lists every accepted spelling.
macro_rules! word_enum {
    ($(#[$meta:meta])* $name:ident {
        $($(#[$vmeta:meta])* $variant:ident = $word:literal),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &[$name] = &[$($name::$variant),+];
            /// Accepted spellings, for error messages.
            pub const EXPECTED: &str = concat!($($word, "|"),+);

            /// The value's spelling on the command line.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }

            /// The value spelled `word`; None if no value has that spelling.
            pub fn from_name(word: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.name() == word)
            }
        }
    };
}

word_enum!(
    /// What the kernel runs after boot (`scenario=`).
    Scenario {
        /// Print what the DTB and bring-up gave: memory, CPUs, GIC, frames.
        Boot = "boot",
        /// Make each access the kernel map must refuse and check it faults.
        Protect = "protect",
        /// Run a job on every secondary core, time IPIs, power them off.
        Smp = "smp",
        /// Anonymous memory of twice the RAM under reclaim; checks every page.
        Reclaim = "reclaim",
        /// Like `reclaim`, aiming at pages still in writeback or being compressed.
        Race = "race",
        /// Incompressible pages and a small store: the out-of-memory stop.
        Oom = "oom",
        /// Like `reclaim`, for `soak_s` seconds.
        Soak = "soak",
        /// The benchmark: sync against async reclaim, side by side.
        Bench = "bench",
        /// Android-style app switching under the low-memory killer: switch latency,
        /// kills and cold starts, for each LRU and reclaim mode side by side.
        Apps = "apps",
        /// The interactive console.
        Shell = "shell",
    }
);
word_enum!(
    /// How the kernel powers off (`exit=`): semihosting carries the exit status to
    /// QEMU; PSCI SYSTEM_OFF works on boards but always reads as status 0.
    ExitMethod {
        /// Arm semihosting `SYS_EXIT` with the status (QEMU's `-semihosting`).
        Semihosting = "semihosting",
        /// PSCI `SYSTEM_OFF`.
        Psci = "psci",
        /// PSCI `SYSTEM_RESET`: reboot instead of powering off.
        Reset = "reset",
    }
);
word_enum!(
    /// Who compresses pages evicted by kswapd (`reclaim=`): kswapd itself (`sync`, as
    /// Linux does today) or kcompressd on its own core (`async`).
    ReclaimMode {
        /// kswapd compresses the pages it evicts itself.
        Sync = "sync",
        /// kswapd queues them to kcompressd workers on their own cores.
        Async = "async",
    }
);
word_enum!(
    /// What kswapd does when the ring to kcompressd is full (`ring_full=`): compress the
    /// new page itself (`new`, as the kcompressd patch does), or compress the oldest
    /// queued page and queue the new one (`oldest`).
    RingFull {
        /// kswapd compresses the new page itself.
        New = "new",
        /// kswapd compresses the oldest queued page and queues the new one.
        Oldest = "oldest",
    }
);
word_enum!(
    /// Which LRU reclaim uses (`lru=`): Linux's two lists with second chance
    /// (`classic`), or its multi-gen LRU (`mglru`, `CONFIG_LRU_GEN_ENABLED`).
    LruKind {
        /// The active and inactive lists.
        Classic = "classic",
        /// The multi-gen LRU.
        Mglru = "mglru",
    }
);

/// Most kcompressd CPUs `kcompressd_cpu=` may list.
pub const MAX_KCOMPRESSD_CPUS: usize = 8;

/// The parsed command line: one field per key, its default when the key is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdLine {
    /// The keys the line gave (bit `Key as u32`): an explicit choice is refused when
    /// it cannot be honoured, a default may fall back.
    given: u32,
    /// What runs after boot (`scenario=`, default `boot`).
    pub scenario: Scenario,
    /// How the kernel powers off (`exit=`, default `psci`).
    pub exit: ExitMethod,
    /// Who compresses evicted pages (`reclaim=`, default `async`).
    pub reclaim: ReclaimMode,
    /// The CPU kswapd runs on (`kswapd_cpu=`, default 1).
    pub kswapd_cpu: u32,
    /// The CPUs kcompressd workers run on (`kcompressd_cpu=`, default 2): distinct
    /// CPU numbers, in the order given.
    pub kcompressd_cpu: ArrayVec<u32, MAX_KCOMPRESSD_CPUS>,
    /// What kswapd does when every kcompressd ring is full (`ring_full=`, default `new`).
    pub ring_full: RingFull,
    /// Which LRU reclaim uses (`lru=`, default `classic`).
    pub lru: LruKind,
    /// The multi-gen LRU's `lru_gen_min_ttl` in ms (`lru_gen_min_ttl_ms=`, default 0
    /// = off, as Linux's): kswapd does not evict a generation younger than this.
    pub lru_gen_min_ttl_ms: u32,
    /// Soak duration in seconds, if the scenario takes one.
    pub soak_s: Option<u64>,
    /// Workload random seed, if given.
    pub seed: Option<u64>,
    /// Workload accesses after the first touch of every page (`ops=`), if given:
    /// the fixed amount of work of `scenario=reclaim|race|oom`.
    pub ops: Option<u64>,
    /// `scenario=bench`: how many sync/async pairs to run (`bench_runs=`), if given.
    pub bench_runs: Option<u64>,
    /// `scenario=bench`: RAM the benchmark leaves to reclaim, in MiB (`bench_ram=`;
    /// the rest is held back, like Linux's `mem=`), if given.
    pub bench_ram: Option<u64>,
    /// `scenario=bench`: anonymous memory in MiB (`bench_anon=`; default twice
    /// `bench_ram`), if given: more than the RAM for pressure, less for a run with RAM
    /// to spare.
    pub bench_anon: Option<u64>,
    /// `scenario=bench`: paced workload, accesses per second (at least 1) in bursts
    /// with WFI in between (`pace=`); absent: CPU-bound.
    pub pace: Option<u64>,
    /// Per-core event tracing from boot (`trace=on|off`, default off).
    pub trace: bool,
    /// Tickets a kcompressd ring holds at most (`ring=`, 1..=`MAX_RING`; the patch's
    /// kfifo holds 256), if given.
    pub ring: Option<u32>,
    /// The zone's `watermark_scale_factor` (`watermark_scale_factor=`, 1..=3000 as in
    /// Linux's sysctl), if given.
    pub watermark_scale_factor: Option<u32>,
    /// Workload page mix in percent (`mix=ZERO,SAME,TEXT,STRUCTURED,RANDOM`, summing
    /// to 100), if given.
    pub mix: Option<[u8; 5]>,
    /// Where kswapd, kcompressd and the workload run (`placement=`, default `fixed`).
    pub placement: Placement,
    /// `scenario=bench`: the workload CPUs (`workload_cpu=`; the region is split
    /// between them), if given; absent: the first CPU that is neither CPU 0, kswapd's
    /// nor a kcompressd one.
    pub workload_cpu: Option<ArrayVec<u32, MAX_KCOMPRESSD_CPUS>>,
    /// `scenario=bench`: the kcompressd worker counts to compare with sync
    /// (`bench_workers=1,2,4`: one async variant each, using the first N CPUs of
    /// `kcompressd_cpu=`), if given; absent: one worker, and all listed if several.
    pub bench_workers: Option<ArrayVec<u32, MAX_KCOMPRESSD_CPUS>>,
    /// `scenario=bench`: wall-clock budget in seconds (`bench_budget_s=`): no new
    /// round of runs starts unless the longest round so far still fits, if given.
    pub bench_budget_s: Option<u64>,
    /// The low-memory killer (`lmk=on|off`, default off): Android lmkd's PSI mode
    /// (`mm::lmk`) kills the least recently used background app under stall.
    pub lmk: bool,
}

/// The workload seed when `seed=` is absent.
pub const DEFAULT_SEED: u64 = 1;
/// `scenario=soak`'s duration when `soak_s=` is absent, in seconds.
pub const DEFAULT_SOAK_S: u64 = 60;
/// `scenario=bench`'s sync/async pairs when `bench_runs=` is absent: the table shows
/// medians of three.
pub const DEFAULT_BENCH_RUNS: u64 = 3;
/// `scenario=bench`'s RAM when `bench_ram=` is absent, in MiB: small enough that both
/// modes finish in a couple of minutes under TCG.
pub const DEFAULT_BENCH_RAM_MIB: u64 = 64;

/// Largest `bench_ram=` / `bench_anon=` (1 TiB): larger sizes would overflow when
/// turned into bytes or pages.
pub const MAX_BENCH_MIB: u64 = 1 << 20;

/// Largest `ring=`: the kernel's rings are built with this capacity.
pub const MAX_RING: u32 = 1024;
/// Largest `lru_gen_min_ttl_ms=` (what the policy's packed settings hold, about six
/// days).
pub const MAX_LRU_GEN_MIN_TTL_MS: u32 = (1 << 29) - 1;
/// Linux's limit on `vm.watermark_scale_factor`.
pub const MAX_WATERMARK_SCALE_FACTOR: u32 = 3000;

impl Default for CmdLine {
    fn default() -> Self {
        let mut kcompressd_cpu = ArrayVec::new();
        kcompressd_cpu.push(2);
        Self {
            given: 0,
            scenario: Scenario::Boot,
            exit: ExitMethod::Psci,
            reclaim: ReclaimMode::Async,
            kswapd_cpu: 1,
            kcompressd_cpu,
            ring_full: RingFull::New,
            lru: LruKind::Classic,
            lru_gen_min_ttl_ms: 0,
            soak_s: None,
            seed: None,
            ops: None,
            bench_runs: None,
            bench_ram: None,
            bench_anon: None,
            pace: None,
            trace: false,
            ring: None,
            watermark_scale_factor: None,
            mix: None,
            placement: Placement::Fixed,
            workload_cpu: None,
            bench_workers: None,
            bench_budget_s: None,
            lmk: false,
        }
    }
}

word_enum!(
    /// Every command-line key.
    Key {
        /// [`CmdLine::scenario`].
        Scenario = "scenario",
        /// [`CmdLine::exit`].
        Exit = "exit",
        /// [`CmdLine::reclaim`].
        Reclaim = "reclaim",
        /// [`CmdLine::kswapd_cpu`].
        KswapdCpu = "kswapd_cpu",
        /// [`CmdLine::kcompressd_cpu`].
        KcompressdCpu = "kcompressd_cpu",
        /// [`CmdLine::ring_full`].
        RingFull = "ring_full",
        /// [`CmdLine::soak_s`].
        SoakS = "soak_s",
        /// [`CmdLine::seed`].
        Seed = "seed",
        /// [`CmdLine::ops`].
        Ops = "ops",
        /// [`CmdLine::bench_runs`].
        BenchRuns = "bench_runs",
        /// [`CmdLine::bench_ram`].
        BenchRam = "bench_ram",
        /// [`CmdLine::bench_anon`].
        BenchAnon = "bench_anon",
        /// [`CmdLine::pace`].
        Pace = "pace",
        /// [`CmdLine::trace`].
        Trace = "trace",
        /// [`CmdLine::ring`].
        Ring = "ring",
        /// [`CmdLine::watermark_scale_factor`].
        WatermarkScaleFactor = "watermark_scale_factor",
        /// [`CmdLine::mix`].
        Mix = "mix",
        /// [`CmdLine::placement`].
        Placement = "placement",
        /// [`CmdLine::workload_cpu`].
        WorkloadCpu = "workload_cpu",
        /// [`CmdLine::bench_workers`].
        BenchWorkers = "bench_workers",
        /// [`CmdLine::bench_budget_s`].
        BenchBudgetS = "bench_budget_s",
        /// [`CmdLine::lmk`].
        Lmk = "lmk",
        /// [`CmdLine::lru`].
        Lru = "lru",
        /// [`CmdLine::lru_gen_min_ttl_ms`].
        LruGenMinTtlMs = "lru_gen_min_ttl_ms",
    }
);
word_enum!(
    /// `trace=`, `lmk=`.
    OnOff {
        /// Enabled.
        On = "on",
        /// Disabled.
        Off = "off",
    }
);
word_enum!(
    /// Where kswapd, kcompressd and the workload run (`placement=`): the CPUs the
    /// command line names (`fixed`), or chosen from the DTB's `capacity-dmips-mhz` on
    /// a big.LITTLE SoC (`capacity`, see `placement`; falls back to `fixed` when every
    /// core is alike).
    Placement {
        /// The CPUs the command line names.
        Fixed = "fixed",
        /// Chosen from the DTB's `capacity-dmips-mhz` (big.LITTLE).
        Capacity = "capacity",
    }
);

/// What is wrong with a refused command-line word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmdLineErrorKind {
    /// The word is not `key=value`.
    MissingEquals,
    /// The key is not one of [`Key`].
    UnknownKey,
    /// The key was given before.
    DuplicateKey,
    /// The value is not one of `expected`.
    BadValue {
        /// A `|`-separated list of spellings, or a description ("a CPU number").
        expected: &'static str,
    },
}

/// A refused command-line word and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CmdLineError<'a> {
    /// The whole word, as on the command line.
    pub word: &'a str,
    /// What is wrong with it.
    pub kind: CmdLineErrorKind,
}

impl fmt::Display for CmdLineError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.word.split_once('=').map_or(self.word, |(k, _)| k);
        match self.kind {
            CmdLineErrorKind::MissingEquals => {
                write!(f, "command-line word \"{}\" is not key=value", self.word)
            }
            CmdLineErrorKind::UnknownKey => {
                write!(
                    f,
                    "unknown command-line key \"{key}\" (known: {})",
                    Key::EXPECTED.trim_end_matches('|')
                )
            }
            CmdLineErrorKind::DuplicateKey => {
                write!(
                    f,
                    "command-line key \"{key}\" given twice (at \"{}\")",
                    self.word
                )
            }
            CmdLineErrorKind::BadValue { expected } => write!(
                f,
                "bad value in command-line word \"{}\": expected {}",
                self.word,
                expected.trim_end_matches('|')
            ),
        }
    }
}

impl core::error::Error for CmdLineError<'_> {}

/// Decimal digits only (no sign, no spaces), fitting in `u64`.
fn number(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

fn cpu_list(value: &str) -> Option<ArrayVec<u32, MAX_KCOMPRESSD_CPUS>> {
    let mut cpus = ArrayVec::new();
    for item in value.split(',') {
        let cpu = u32::try_from(number(item)?).ok()?;
        if cpus.contains(&cpu) {
            return None;
        }
        cpus.try_push(cpu).ok()?;
    }
    Some(cpus)
}

/// A decimal number, at least 1.
fn positive(value: &str) -> Option<u64> {
    number(value).filter(|&n| n > 0)
}

/// A bench size in MiB, 1..=`MAX_BENCH_MIB`.
fn bench_mib(value: &str) -> Option<u64> {
    number(value).filter(|m| (1..=MAX_BENCH_MIB).contains(m))
}

/// Distinct positive counts, at most `MAX_KCOMPRESSD_CPUS` of them.
fn count_list(value: &str) -> Option<ArrayVec<u32, MAX_KCOMPRESSD_CPUS>> {
    cpu_list(value).filter(|counts| !counts.contains(&0))
}

fn number_in(value: &str, range: core::ops::RangeInclusive<u32>) -> Option<u32> {
    number(value)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| range.contains(n))
}

/// Five percentages summing to 100.
fn mix(value: &str) -> Option<[u8; 5]> {
    let mut out = [0u8; 5];
    let mut parts = value.split(',');
    for slot in &mut out {
        *slot = u8::try_from(number_in(parts.next()?, 0..=100)?).ok()?;
    }
    let sum: u32 = out.iter().map(|&p| u32::from(p)).sum();
    (parts.next().is_none() && sum == 100).then_some(out)
}

impl CmdLine {
    /// Parses a whole command line: every key at most once.
    pub fn parse(line: &str) -> Result<CmdLine, CmdLineError<'_>> {
        let mut cmd = CmdLine::default();
        let mut seen = [false; Key::ALL.len()];
        for word in line.split_ascii_whitespace() {
            let key = cmd.set(word)?;
            if core::mem::replace(&mut seen[key as usize], true) {
                return Err(CmdLineError {
                    word,
                    kind: CmdLineErrorKind::DuplicateKey,
                });
            }
        }
        Ok(cmd)
    }

    /// Applies one `key=value` word over the current settings (the console's `set`),
    /// with the same checks as `parse`; on error nothing changes. Returns the key.
    pub fn set<'w>(&mut self, word: &'w str) -> Result<Key, CmdLineError<'w>> {
        let err = |kind| CmdLineError { word, kind };
        let (key, value) = word
            .split_once('=')
            .ok_or(err(CmdLineErrorKind::MissingEquals))?;
        let key = Key::from_name(key).ok_or(err(CmdLineErrorKind::UnknownKey))?;
        let bad = |expected| err(CmdLineErrorKind::BadValue { expected });
        const NUMBER: &str = "a decimal number";
        const CPU_LIST: &str = "a comma-separated list of at most 8 distinct CPU numbers";
        const BENCH_MIB: &str = "a number of MiB, 1..=1048576";
        match key {
            Key::Scenario => {
                self.scenario = Scenario::from_name(value).ok_or(bad(Scenario::EXPECTED))?;
            }
            Key::Exit => {
                self.exit = ExitMethod::from_name(value).ok_or(bad(ExitMethod::EXPECTED))?;
            }
            Key::Reclaim => {
                self.reclaim = ReclaimMode::from_name(value).ok_or(bad(ReclaimMode::EXPECTED))?;
            }
            Key::RingFull => {
                self.ring_full = RingFull::from_name(value).ok_or(bad(RingFull::EXPECTED))?;
            }
            Key::Lru => self.lru = LruKind::from_name(value).ok_or(bad(LruKind::EXPECTED))?,
            Key::LruGenMinTtlMs => {
                self.lru_gen_min_ttl_ms = number_in(value, 0..=MAX_LRU_GEN_MIN_TTL_MS)
                    .ok_or(bad("milliseconds, 0..=536870911"))?;
            }
            Key::KswapdCpu => {
                self.kswapd_cpu = number(value)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or(bad("a CPU number"))?;
            }
            Key::KcompressdCpu => self.kcompressd_cpu = cpu_list(value).ok_or(bad(CPU_LIST))?,
            Key::SoakS => self.soak_s = Some(number(value).ok_or(bad(NUMBER))?),
            Key::Seed => self.seed = Some(number(value).ok_or(bad(NUMBER))?),
            Key::Ops => self.ops = Some(number(value).ok_or(bad(NUMBER))?),
            Key::BenchRuns => {
                self.bench_runs = Some(positive(value).ok_or(bad("a number of runs, at least 1"))?)
            }
            Key::BenchRam => self.bench_ram = Some(bench_mib(value).ok_or(bad(BENCH_MIB))?),
            Key::BenchAnon => self.bench_anon = Some(bench_mib(value).ok_or(bad(BENCH_MIB))?),
            Key::Pace => {
                self.pace = Some(positive(value).ok_or(bad("accesses per second, at least 1"))?)
            }
            Key::Trace => {
                self.trace = OnOff::from_name(value).ok_or(bad(OnOff::EXPECTED))? == OnOff::On;
            }
            Key::Ring => {
                self.ring = Some(number_in(value, 1..=MAX_RING).ok_or(bad("1..=1024"))?);
            }
            Key::WatermarkScaleFactor => {
                self.watermark_scale_factor =
                    Some(number_in(value, 1..=MAX_WATERMARK_SCALE_FACTOR).ok_or(bad("1..=3000"))?);
            }
            Key::Placement => {
                self.placement = Placement::from_name(value).ok_or(bad(Placement::EXPECTED))?;
            }
            Key::WorkloadCpu => self.workload_cpu = Some(cpu_list(value).ok_or(bad(CPU_LIST))?),
            Key::BenchWorkers => {
                self.bench_workers = Some(count_list(value).ok_or(bad(
                    "a comma-separated list of at most 8 distinct worker counts, each at least 1",
                ))?);
            }
            Key::BenchBudgetS => {
                self.bench_budget_s =
                    Some(positive(value).ok_or(bad("a number of seconds, at least 1"))?);
            }
            Key::Lmk => {
                self.lmk = OnOff::from_name(value).ok_or(bad(OnOff::EXPECTED))? == OnOff::On;
            }
            Key::Mix => {
                self.mix = Some(mix(value).ok_or(bad(
                    "five percentages ZERO,SAME,TEXT,STRUCTURED,RANDOM summing to 100",
                ))?);
            }
        }
        self.given |= 1 << key as u32;
        Ok(key)
    }

    /// Whether the line (or a later `set`) gave `key`, rather than leaving its default.
    pub fn given(&self, key: Key) -> bool {
        self.given & (1 << key as u32) != 0
    }

    /// Puts `key` back to its default, as if the line had never given it (the
    /// console's `set key=default`).
    pub fn reset(&mut self, key: Key) {
        let d = CmdLine::default();
        match key {
            Key::Scenario => self.scenario = d.scenario,
            Key::Exit => self.exit = d.exit,
            Key::Reclaim => self.reclaim = d.reclaim,
            Key::KswapdCpu => self.kswapd_cpu = d.kswapd_cpu,
            Key::KcompressdCpu => self.kcompressd_cpu = d.kcompressd_cpu,
            Key::RingFull => self.ring_full = d.ring_full,
            Key::Lru => self.lru = d.lru,
            Key::LruGenMinTtlMs => self.lru_gen_min_ttl_ms = d.lru_gen_min_ttl_ms,
            Key::SoakS => self.soak_s = d.soak_s,
            Key::Seed => self.seed = d.seed,
            Key::Ops => self.ops = d.ops,
            Key::BenchRuns => self.bench_runs = d.bench_runs,
            Key::BenchRam => self.bench_ram = d.bench_ram,
            Key::BenchAnon => self.bench_anon = d.bench_anon,
            Key::Pace => self.pace = d.pace,
            Key::Trace => self.trace = d.trace,
            Key::Ring => self.ring = d.ring,
            Key::WatermarkScaleFactor => self.watermark_scale_factor = d.watermark_scale_factor,
            Key::Mix => self.mix = d.mix,
            Key::Placement => self.placement = d.placement,
            Key::WorkloadCpu => self.workload_cpu = d.workload_cpu,
            Key::BenchWorkers => self.bench_workers = d.bench_workers,
            Key::BenchBudgetS => self.bench_budget_s = d.bench_budget_s,
            Key::Lmk => self.lmk = d.lmk,
        }
        self.given &= !(1 << key as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_keys_a_line_gave_are_known_apart_from_defaults() {
        let mut cmd = CmdLine::parse("kswapd_cpu=1 ring=64").unwrap();
        assert!(cmd.given(Key::KswapdCpu) && cmd.given(Key::Ring));
        assert!(!cmd.given(Key::KcompressdCpu));
        assert!(cmd.set("kcompressd_cpu=x").is_err());
        assert!(!cmd.given(Key::KcompressdCpu));
        cmd.set("kcompressd_cpu=2,3").unwrap();
        assert!(cmd.given(Key::KcompressdCpu));
        assert!(Key::ALL.len() <= 32, "given holds one bit per key");
    }

    #[test]
    fn reset_puts_every_key_back_to_its_default() {
        let line = "scenario=protect exit=semihosting reclaim=sync kswapd_cpu=3 \
             kcompressd_cpu=0,5,2 ring_full=oldest soak_s=30 seed=7 ops=7 \
             bench_runs=3 bench_ram=64 pace=5000 trace=on ring=64 \
             watermark_scale_factor=200 mix=3,1,30,59,7 placement=capacity \
             workload_cpu=6,7,8 bench_workers=1,2,4 bench_budget_s=300 bench_anon=128 \
             lru=mglru lru_gen_min_ttl_ms=1000 lmk=on";
        let mut cmd = CmdLine::parse(line).unwrap();
        for &key in Key::ALL {
            assert!(cmd.given(key), "{}", key.name());
            cmd.reset(key);
            assert!(!cmd.given(key), "{}", key.name());
        }
        assert_eq!(cmd, CmdLine::default());
        // One key back leaves the others as given.
        let mut one = CmdLine::parse("seed=5 ring=64").unwrap();
        one.reset(Key::Seed);
        assert_eq!(one, CmdLine::parse("ring=64").unwrap());
    }

    #[test]
    fn empty_line_gives_documented_defaults() {
        let cmd = CmdLine::parse("  \t ").unwrap();
        assert_eq!(cmd.scenario, Scenario::Boot);
        assert_eq!(cmd.exit, ExitMethod::Psci);
        assert_eq!(cmd.reclaim, ReclaimMode::Async);
        assert_eq!(cmd.kswapd_cpu, 1);
        assert_eq!(cmd.kcompressd_cpu.as_slice(), &[2]);
        assert_eq!(cmd.ring_full, RingFull::New);
        assert!(!cmd.lmk);
        assert_eq!((cmd.lru, cmd.lru_gen_min_ttl_ms), (LruKind::Classic, 0));
        assert_eq!((cmd.soak_s, cmd.seed, cmd.ops), (None, None, None));
        assert_eq!(
            (cmd.bench_runs, cmd.bench_ram, cmd.pace),
            (None, None, None)
        );
    }

    #[test]
    fn every_key_is_parsed() {
        let cmd = CmdLine::parse(
            "scenario=protect exit=semihosting reclaim=sync kswapd_cpu=3 \
             kcompressd_cpu=0,5,2 ring_full=oldest soak_s=30 seed=18446744073709551615 ops=7 \
             bench_runs=3 bench_ram=64 pace=5000 trace=on ring=64 \
             watermark_scale_factor=200 mix=3,1,30,59,7 placement=capacity \
             workload_cpu=6,7,8 bench_workers=1,2,4 bench_budget_s=300 bench_anon=128 \
             lru=mglru lru_gen_min_ttl_ms=1000 lmk=on",
        )
        .unwrap();
        assert_eq!((cmd.lru, cmd.lru_gen_min_ttl_ms), (LruKind::Mglru, 1000));
        assert_eq!(cmd.scenario, Scenario::Protect);
        assert_eq!(cmd.exit, ExitMethod::Semihosting);
        assert_eq!(cmd.reclaim, ReclaimMode::Sync);
        assert_eq!(cmd.kswapd_cpu, 3);
        assert_eq!(cmd.kcompressd_cpu.as_slice(), &[0, 5, 2]);
        assert_eq!(cmd.ring_full, RingFull::Oldest);
        assert_eq!(cmd.soak_s, Some(30));
        assert_eq!(cmd.seed, Some(u64::MAX));
        assert_eq!(cmd.ops, Some(7));
        assert_eq!(
            (cmd.bench_runs, cmd.bench_ram, cmd.pace),
            (Some(3), Some(64), Some(5000))
        );
        assert!(cmd.trace);
        assert_eq!(cmd.placement, Placement::Capacity);
        assert_eq!(
            (cmd.ring, cmd.watermark_scale_factor, cmd.mix),
            (Some(64), Some(200), Some([3, 1, 30, 59, 7]))
        );
        assert_eq!(
            cmd.workload_cpu.as_ref().map(|c| c.as_slice()),
            Some(&[6, 7, 8][..])
        );
        assert_eq!(
            cmd.bench_workers.as_ref().map(|c| c.as_slice()),
            Some(&[1, 2, 4][..])
        );
        assert_eq!(cmd.bench_budget_s, Some(300));
        assert_eq!(cmd.bench_anon, Some(128));
        assert!(cmd.lmk);
    }

    #[test]
    fn set_applies_one_word_or_changes_nothing() {
        let mut cmd = CmdLine::parse("reclaim=sync").unwrap();
        assert_eq!(cmd.set("reclaim=async"), Ok(Key::Reclaim));
        assert_eq!(cmd.reclaim, ReclaimMode::Async);
        let before = cmd.clone();
        for bad in ["reclaim=fast", "ring=0", "nokey=1", "ring"] {
            assert!(cmd.set(bad).is_err(), "{bad}");
            assert_eq!(cmd, before, "{bad}");
        }
        assert_eq!(cmd.set("trace=off"), Ok(Key::Trace));
        assert!(!cmd.trace);
        assert_eq!(cmd.set("lmk=on"), Ok(Key::Lmk));
        assert!(cmd.lmk && cmd.given(Key::Lmk));
        cmd.reset(Key::Lmk);
        assert!(!cmd.lmk && !cmd.given(Key::Lmk));
    }

    fn error(line: &str) -> String {
        CmdLine::parse(line).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_word() {
        assert!(error("scenario=boot foo=1").starts_with("unknown command-line key \"foo\""));
        assert_eq!(
            error("quiet"),
            "command-line word \"quiet\" is not key=value"
        );
        assert_eq!(
            error("seed=1 seed=2"),
            "command-line key \"seed\" given twice (at \"seed=2\")"
        );
        assert_eq!(
            error("scenario=bechn"),
            "bad value in command-line word \"scenario=bechn\": expected \
             boot|protect|smp|reclaim|race|oom|soak|bench|apps|shell"
        );
        assert_eq!(
            error("lru=foo"),
            "bad value in command-line word \"lru=foo\": expected classic|mglru"
        );
        assert_eq!(
            error("exit=hlt"),
            "bad value in command-line word \"exit=hlt\": expected semihosting|psci|reset"
        );
        for bad in [
            "kswapd_cpu=",
            "kswapd_cpu=-1",
            "kswapd_cpu=+1",
            "kswapd_cpu=4294967296",
            "kcompressd_cpu=1,,2",
            "kcompressd_cpu=2,2",
            "kcompressd_cpu=0,1,2,3,4,5,6,7,8",
            "soak_s=1s",
            "ops=1e6",
            "pace=fast",
            "pace=0",
            "bench_ram=64M",
            "seed=18446744073709551616",
            "reclaim=SYNC",
            "ring_full=",
            "scenario=boot=1",
            "trace=1",
            "placement=big",
            "ring=0",
            "ring=1025",
            "watermark_scale_factor=0",
            "watermark_scale_factor=3001",
            "mix=3,1,30,59",
            "mix=3,1,30,59,8",
            "mix=3,1,30,59,7,0",
            "mix=-3,1,30,59,13",
            "mix=300,1,30,59,7",
            "workload_cpu=3,3",
            "workload_cpu=",
            "bench_workers=0,1",
            "bench_workers=1,1",
            "bench_workers=two",
            "bench_budget_s=0",
            "bench_budget_s=5m",
            "bench_anon=0",
            "bench_runs=0",
            "bench_ram=0",
            "bench_ram=1048577",
            "bench_ram=18446744073709551615",
            "lru=MGLRU",
            "lru=",
            "lru_gen_min_ttl_ms=1s",
            "lru_gen_min_ttl_ms=536870912",
        ] {
            assert!(error(bad).starts_with("bad value"), "{bad}");
        }
        assert_eq!(
            error("lmk=maybe"),
            "bad value in command-line word \"lmk=maybe\": expected on|off"
        );
        assert!(error("=boot").starts_with("unknown command-line key \"\""));
    }

    #[test]
    fn every_enum_word_round_trips() {
        for s in Scenario::ALL {
            assert_eq!(Scenario::from_name(s.name()), Some(*s));
        }
        for r in RingFull::ALL {
            assert_eq!(RingFull::from_name(r.name()), Some(*r));
        }
        for l in LruKind::ALL {
            assert_eq!(LruKind::from_name(l.name()), Some(*l));
        }
    }

    proptest! {
        #[test]
        fn any_line_parses_or_errors_naming_a_word_of_it(line in "[ a-z_=0-9,\\t]{0,60}") {
            if let Err(e) = CmdLine::parse(&line) {
                prop_assert!(line.split_ascii_whitespace().any(|w| w == e.word));
            }
        }

        #[test]
        fn numbers_round_trip(kswapd in any::<u32>(), seed in any::<u64>()) {
            let line = format!("kswapd_cpu={kswapd} seed={seed}");
            let cmd = CmdLine::parse(&line).unwrap();
            prop_assert_eq!((cmd.kswapd_cpu, cmd.seed), (kswapd, Some(seed)));
        }
    }
}
