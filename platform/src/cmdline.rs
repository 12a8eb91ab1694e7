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
    /// Words a board's bootloader adds for its own system (`androidboot.*`, ChromeOS's
    /// `cros_*`), skipped by `parse` rather than refused: they say nothing to this
    /// kernel, and refusing them would stop every such boot.
    pub bootloader_words: u32,
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
    /// The console UART by Linux's device name (`console=ttyS0|ttyAMA0[,OPTIONS]`), if
    /// given; absent: the DTB's `/chosen/stdout-path`.
    pub console: Option<ConsoleArg>,
    /// The console UART by type and address (`earlycon=uart8250,io|mmio|mmio32,ADDR` or
    /// `earlycon=pl011,[mmio32,]ADDR`, options after a further comma), if given.
    pub earlycon: Option<EarlyCon>,
}

word_enum!(
    /// The UART family Linux's console names stand for.
    ConsoleDevice {
        /// `ttyS0`: the first 8250/16550 UART.
        TtyS0 = "ttyS0",
        /// `ttyAMA0`: the first PL011.
        TtyAma0 = "ttyAMA0",
    }
);

/// `console=`: a device and Linux's serial options (`115200n8`: only the baud is kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleArg {
    /// Which UART.
    pub device: ConsoleDevice,
    /// The baud rate the options give, if any.
    pub baud: Option<u32>,
}

word_enum!(
    /// The UART an `earlycon=` names (Linux's earlycon driver names).
    EarlyConUart {
        /// 8250/16550.
        Uart8250 = "uart8250",
        /// Arm PL011.
        Pl011 = "pl011",
    }
);

word_enum!(
    /// How an `earlycon=` UART's registers are reached.
    EarlyConAccess {
        /// Port I/O: a port in the PCI host bridge's I/O window.
        Io = "io",
        /// Memory-mapped, byte registers one byte apart.
        Mmio = "mmio",
        /// Memory-mapped, 32-bit registers four bytes apart (MediaTek, DesignWare).
        Mmio32 = "mmio32",
    }
);

/// `earlycon=`: a UART by type, access and address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EarlyCon {
    /// Which UART family.
    pub uart: EarlyConUart,
    /// How its registers are reached (`pl011` is always `mmio32`).
    pub access: EarlyConAccess,
    /// The I/O port (`io`) or the physical address (`mmio`, `mmio32`).
    pub address: u64,
    /// The baud rate the options give, if any.
    pub baud: Option<u32>,
}

/// As the command line spells it (`ttyS0,115200`; options but the baud are not kept).
impl fmt::Display for ConsoleArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.device.name())?;
        match self.baud {
            Some(baud) => write!(f, ",{baud}"),
            None => Ok(()),
        }
    }
}

/// As the command line spells it (`uart8250,io,0x1000,115200`).
impl fmt::Display for EarlyCon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (uart, access) = (self.uart.name(), self.access.name());
        write!(f, "{uart},{access},{:#x}", self.address)?;
        match self.baud {
            Some(baud) => write!(f, ",{baud}"),
            None => Ok(()),
        }
    }
}

/// Linux's serial options `BBBBPNF` (baud, parity n/o/e, bits 5-8, `r` for RTS/CTS):
/// the baud, or `None` if the options are not that.
fn serial_options(options: &str) -> Option<u32> {
    let digits = options.bytes().take_while(u8::is_ascii_digit).count();
    let (baud, rest) = options.split_at(digits);
    let baud = u32::try_from(number(baud)?).ok().filter(|&b| b > 0)?;
    let mut rest = rest.bytes().peekable();
    rest.next_if(|b| b"noe".contains(b));
    rest.next_if(|b| (b'5'..=b'8').contains(b));
    rest.next_if(|&b| b == b'r');
    rest.next().is_none().then_some(baud)
}

/// A hexadecimal (`0x...`) or decimal address.
fn address(value: &str) -> Option<u64> {
    match value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
    {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u64::from_str_radix(hex, 16).ok()
        }
        Some(_) => None,
        None => number(value),
    }
}

fn console_arg(value: &str) -> Option<ConsoleArg> {
    let (name, options) = match value.split_once(',') {
        Some((name, options)) => (name, Some(options)),
        None => (value, None),
    };
    let baud = match options {
        Some(options) => Some(serial_options(options)?),
        None => None,
    };
    Some(ConsoleArg {
        device: ConsoleDevice::from_name(name)?,
        baud,
    })
}

/// `UART,ACCESS,ADDR[,OPTIONS]`; a PL011's access is always `mmio32` and may be left
/// out (`pl011,ADDR`), as Linux allows.
fn earlycon(value: &str) -> Option<EarlyCon> {
    let mut parts = value.split(',').peekable();
    let uart = EarlyConUart::from_name(parts.next()?)?;
    let named = parts.peek().copied().and_then(EarlyConAccess::from_name);
    if named.is_some() {
        parts.next();
    }
    let access = match (uart, named) {
        (EarlyConUart::Uart8250, Some(access)) => access,
        (EarlyConUart::Pl011, None | Some(EarlyConAccess::Mmio32)) => EarlyConAccess::Mmio32,
        _ => return None,
    };
    let address = address(parts.next()?)?;
    let baud = match parts.next() {
        Some(options) => Some(serial_options(options)?),
        None => None,
    };
    let port_fits = access != EarlyConAccess::Io || address <= 0xffff;
    (parts.next().is_none() && port_fits).then_some(EarlyCon {
        uart,
        access,
        address,
        baud,
    })
}

/// Where the console is, as the command line asks it on this board
/// ([`CmdLine::console_choice`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleChoice {
    /// The UART `/chosen/stdout-path` names.
    Dtb,
    /// QEMU's PCI 16550 behind the generic ECAM host bridge, its I/O BAR placed at
    /// `port` (or wherever the window has room).
    PciSerial {
        /// The port `earlycon=uart8250,io,PORT` gave.
        port: Option<u64>,
    },
    /// A memory-mapped UART at the address `earlycon=` gave.
    Mmio {
        /// Which driver.
        kind: crate::ConsoleKind,
        /// Physical address.
        base: u64,
        /// Register index to byte offset shift.
        reg_shift: u32,
        /// Access width in bytes.
        reg_io_width: u32,
    },
}

/// Why the command line's console cannot be had on this board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleChoiceError {
    /// `console=` and `earlycon=` name different UART families.
    Conflict,
    /// `console=ttyS0` (or `earlycon=uart8250,io`) on a board whose DTB console is no
    /// 16550 and which has no generic ECAM PCI host bridge to look behind.
    NoNs16550,
    /// `console=ttyAMA0` on a board whose DTB console is no PL011.
    NoPl011,
}

impl fmt::Display for ConsoleChoiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConsoleChoiceError::Conflict => {
                "console= and earlycon= name different UART families"
            }
            ConsoleChoiceError::NoNs16550 => {
                "console=ttyS0: the DTB's console is no 16550 and there is no generic ECAM PCI host bridge to find one behind"
            }
            ConsoleChoiceError::NoPl011 => "console=ttyAMA0: the DTB's console is no PL011",
        })
    }
}

impl core::error::Error for ConsoleChoiceError {}

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

/// A word an Android bootloader (`androidboot.KEY=VALUE`) or ChromeOS's depthcharge
/// (`cros_secure`, `cros_legacy`, `cros_efi`, `cros_debug`) adds to every command line.
fn is_bootloader_word(word: &str) -> bool {
    word.starts_with("androidboot.")
        || matches!(
            word,
            "cros_secure" | "cros_legacy" | "cros_efi" | "cros_debug"
        )
}

impl Default for CmdLine {
    fn default() -> Self {
        let mut kcompressd_cpu = ArrayVec::new();
        kcompressd_cpu.push(2);
        Self {
            given: 0,
            bootloader_words: 0,
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
            console: None,
            earlycon: None,
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
        /// [`CmdLine::console`].
        Console = "console",
        /// [`CmdLine::earlycon`].
        Earlycon = "earlycon",
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
            if is_bootloader_word(word) {
                cmd.bootloader_words += 1;
                continue;
            }
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
            Key::Console => {
                self.console = Some(console_arg(value).ok_or(bad(
                    "ttyS0|ttyAMA0, optionally with serial options (ttyS0,115200n8)",
                ))?);
            }
            Key::Earlycon => {
                self.earlycon = Some(earlycon(value).ok_or(bad(
                    "uart8250,io,PORT (PORT <= 0xffff) or uart8250,mmio|mmio32,ADDR or \
                     pl011,[mmio32,]ADDR, optionally followed by ,115200n8",
                ))?);
            }
        }
        self.given |= 1 << key as u32;
        Ok(key)
    }

    /// Where the console is on a board whose DTB console is `dtb` and which has a
    /// generic ECAM PCI host bridge or not (`pci`). `earlycon=` picks the UART by
    /// address; `console=ttyS0` the DTB's console if it is a 16550, else the PCI
    /// serial; `console=ttyAMA0` the DTB's console, which must be a PL011. Both given:
    /// they must name the same family, and `earlycon=` says where.
    pub fn console_choice(
        &self,
        dtb: Option<crate::ConsoleKind>,
        pci: bool,
    ) -> Result<ConsoleChoice, ConsoleChoiceError> {
        use crate::ConsoleKind;
        let family = |device| match device {
            ConsoleDevice::TtyS0 => ConsoleKind::Ns16550,
            ConsoleDevice::TtyAma0 => ConsoleKind::Pl011,
        };
        if let Some(early) = self.earlycon {
            let kind = match early.uart {
                EarlyConUart::Uart8250 => ConsoleKind::Ns16550,
                EarlyConUart::Pl011 => ConsoleKind::Pl011,
            };
            if self.console.is_some_and(|c| family(c.device) != kind) {
                return Err(ConsoleChoiceError::Conflict);
            }
            let (reg_shift, reg_io_width) = match (kind, early.access) {
                (ConsoleKind::Pl011, _) => (0, 4),
                (_, EarlyConAccess::Mmio32) => (2, 4),
                (_, EarlyConAccess::Mmio) => (0, 1),
                (_, EarlyConAccess::Io) if pci => {
                    return Ok(ConsoleChoice::PciSerial {
                        port: Some(early.address),
                    });
                }
                (_, EarlyConAccess::Io) => return Err(ConsoleChoiceError::NoNs16550),
            };
            return Ok(ConsoleChoice::Mmio {
                kind,
                base: early.address,
                reg_shift,
                reg_io_width,
            });
        }
        match self.console.map(|c| family(c.device)) {
            None => Ok(ConsoleChoice::Dtb),
            Some(kind) if dtb == Some(kind) => Ok(ConsoleChoice::Dtb),
            Some(ConsoleKind::Ns16550) if pci => Ok(ConsoleChoice::PciSerial { port: None }),
            Some(ConsoleKind::Ns16550) => Err(ConsoleChoiceError::NoNs16550),
            Some(ConsoleKind::Pl011) => Err(ConsoleChoiceError::NoPl011),
        }
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
            Key::Console => self.console = d.console,
            Key::Earlycon => self.earlycon = d.earlycon,
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
             lru=mglru lru_gen_min_ttl_ms=1000 lmk=on \
             console=ttyS0 earlycon=uart8250,io,0x1000";
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
             lru=mglru lru_gen_min_ttl_ms=1000 lmk=on \
             console=ttyS0,921600n8 earlycon=uart8250,mmio32,0x11002000,921600",
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
        assert_eq!(
            cmd.console,
            Some(ConsoleArg {
                device: ConsoleDevice::TtyS0,
                baud: Some(921_600)
            })
        );
        assert_eq!(
            cmd.earlycon,
            Some(EarlyCon {
                uart: EarlyConUart::Uart8250,
                access: EarlyConAccess::Mmio32,
                address: 0x1100_2000,
                baud: Some(921_600)
            })
        );
    }

    #[test]
    fn console_words_follow_linux() {
        let console = |v: &str| {
            CmdLine::parse(&format!("console={v}"))
                .ok()
                .map(|c| c.console)
        };
        let early = |v: &str| {
            CmdLine::parse(&format!("earlycon={v}"))
                .ok()
                .map(|c| c.earlycon)
        };
        for (value, device, baud) in [
            ("ttyS0", ConsoleDevice::TtyS0, None),
            ("ttyAMA0,115200", ConsoleDevice::TtyAma0, Some(115_200)),
            ("ttyS0,115200n8", ConsoleDevice::TtyS0, Some(115_200)),
            ("ttyS0,9600e7r", ConsoleDevice::TtyS0, Some(9600)),
        ] {
            assert_eq!(
                console(value),
                Some(Some(ConsoleArg { device, baud })),
                "{value}"
            );
        }
        for (value, uart, access, address) in [
            (
                "uart8250,io,0x1000",
                EarlyConUart::Uart8250,
                EarlyConAccess::Io,
                0x1000,
            ),
            (
                "uart8250,io,4096",
                EarlyConUart::Uart8250,
                EarlyConAccess::Io,
                0x1000,
            ),
            (
                "uart8250,mmio,0x9000000",
                EarlyConUart::Uart8250,
                EarlyConAccess::Mmio,
                0x900_0000,
            ),
            (
                "pl011,0x9000000",
                EarlyConUart::Pl011,
                EarlyConAccess::Mmio32,
                0x900_0000,
            ),
            (
                "pl011,mmio32,0X9000000",
                EarlyConUart::Pl011,
                EarlyConAccess::Mmio32,
                0x900_0000,
            ),
        ] {
            let want = EarlyCon {
                uart,
                access,
                address,
                baud: None,
            };
            assert_eq!(early(value), Some(Some(want)), "{value}");
            // It reads back as it is spelled (hex addresses).
            let shown = want.to_string();
            assert_eq!(early(&shown), Some(Some(want)), "{shown}");
        }
        for bad in [
            "console=ttyS1",
            "console=ttyS",
            "console=ttyS0,",
            "console=ttyS0,fast",
            "console=ttyS0,0",
            "console=ttyS0,115200x",
            "console=ttyS0,115200n9",
            "console=ttyS0,115200n8rr",
            "console=tty0",
            "earlycon=",
            "earlycon=uart8250",
            "earlycon=uart8250,io",
            "earlycon=uart8250,io,0x10000",
            "earlycon=uart8250,pio,0x1000",
            "earlycon=uart8250,mmio32,0x",
            "earlycon=uart8250,mmio32,0xg",
            "earlycon=uart8250,mmio32,0x11002000,fast",
            "earlycon=uart8250,mmio32,0x11002000,921600,1",
            "earlycon=pl011,io,0x1000",
            "earlycon=pl011,mmio,0x9000000",
            "earlycon=cdns,0xff000000",
            "earlycon=uart8250,mmio32,0x1_0000",
        ] {
            let e = error(bad);
            assert!(e.starts_with("bad value"), "{bad}: {e}");
        }
        assert!(error("earlycon=pl011").contains("uart8250,io,PORT"));
    }

    #[test]
    fn the_console_is_chosen_from_the_line_and_the_board() {
        use crate::ConsoleKind::{Ns16550, Pl011};
        let choice = |line: &str, dtb, pci| CmdLine::parse(line).unwrap().console_choice(dtb, pci);
        let pci_serial = |port| Ok(ConsoleChoice::PciSerial { port });
        // No console word: the DTB's, whatever it is.
        assert_eq!(choice("", Some(Pl011), true), Ok(ConsoleChoice::Dtb));
        assert_eq!(choice("", None, false), Ok(ConsoleChoice::Dtb));
        // ttyS0: the DTB's 16550 (a MediaTek board), else the PCI one (QEMU).
        assert_eq!(
            choice("console=ttyS0", Some(Ns16550), true),
            Ok(ConsoleChoice::Dtb)
        );
        assert_eq!(choice("console=ttyS0", Some(Pl011), true), pci_serial(None));
        assert_eq!(
            choice("console=ttyS0", Some(Pl011), false),
            Err(ConsoleChoiceError::NoNs16550)
        );
        assert_eq!(
            choice("console=ttyAMA0", Some(Pl011), true),
            Ok(ConsoleChoice::Dtb)
        );
        assert_eq!(
            choice("console=ttyAMA0", Some(Ns16550), true),
            Err(ConsoleChoiceError::NoPl011)
        );
        // earlycon: by address, the port of the PCI serial for io.
        assert_eq!(
            choice(
                "console=ttyS0 earlycon=uart8250,io,0x2000",
                Some(Pl011),
                true
            ),
            pci_serial(Some(0x2000))
        );
        assert_eq!(
            choice("earlycon=uart8250,io,0x2000", Some(Pl011), false),
            Err(ConsoleChoiceError::NoNs16550)
        );
        assert_eq!(
            choice("earlycon=uart8250,mmio32,0x11002000", Some(Pl011), false),
            Ok(ConsoleChoice::Mmio {
                kind: Ns16550,
                base: 0x1100_2000,
                reg_shift: 2,
                reg_io_width: 4
            })
        );
        assert_eq!(
            choice("earlycon=uart8250,mmio,0x3f8", None, false),
            Ok(ConsoleChoice::Mmio {
                kind: Ns16550,
                base: 0x3f8,
                reg_shift: 0,
                reg_io_width: 1
            })
        );
        assert_eq!(
            choice("earlycon=pl011,0x9000000", Some(Ns16550), false),
            Ok(ConsoleChoice::Mmio {
                kind: Pl011,
                base: 0x900_0000,
                reg_shift: 0,
                reg_io_width: 4
            })
        );
        let conflict = choice(
            "console=ttyAMA0 earlycon=uart8250,io,0x1000",
            Some(Pl011),
            true,
        );
        assert_eq!(conflict, Err(ConsoleChoiceError::Conflict));
        assert!(
            ConsoleChoiceError::NoNs16550
                .to_string()
                .starts_with("console=ttyS0: ")
        );
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
    fn bootloader_words_are_skipped_and_counted() {
        let cmd = CmdLine::parse(
            "cros_secure scenario=boot androidboot.hardware=mt8183 androidboot.serialno=x seed=3",
        )
        .unwrap();
        assert_eq!((cmd.bootloader_words, cmd.seed), (3, Some(3)));
        // Only those: anything else unknown is still refused, and `set` takes none.
        assert!(CmdLine::parse("cros_other").is_err());
        assert!(CmdLine::parse("android.hardware=x").is_err());
        assert!(CmdLine::default().set("androidboot.hardware=x").is_err());
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
