//! The kernel bench's workload as a Linux program: the same page generator, app
//! pattern, seed and checks (`mm::pagegen`, `mm::apps`), over anonymous memory that
//! Linux reclaims into zram. It reads `/proc/vmstat`, zram's `mm_stat` and kswapd's CPU
//! time around the accesses and prints `RESULT {json}` with the bench's field names,
//! so `tools/compare-linux.sh` can set it beside the kernel's columns. It owns only the
//! measurement on Linux; what pressure means (RAM, zram, swappiness) is the guest's
//! init script's (tools/linux-guest.sh).
// Safe Rust throughout, but for `Region`'s allocation of untouched memory.
#![deny(unsafe_code)]

use std::alloc::{Layout, alloc, dealloc};
use std::process::ExitCode;
use std::time::Instant;

use mm::addr::PAGE_SIZE;
use mm::apps::{self, AppPattern};
use mm::pagegen::{POOL_PAGES, PageGen, PageMix, PagePool, SplitMix64};

mod linux;

/// Marks for the instruction profiler (profile/plugin, `tools/linux-guest.sh
/// --profile`, docs/perf.md): `hint #0x78` opens a measurement window and
/// `hint #0x79` closes it, as the kernel bench's marks do
/// (kernel/src/arch/aarch64/profile_mark.rs). Unallocated hints run as NOPs at EL0 on
/// every Armv8 core; off aarch64 (host builds and tests) the marks are nothing.
mod profile {
    /// The profiler starts counting here (every vCPU: the whole guest, kernel too).
    #[allow(unsafe_code)]
    #[inline(always)]
    pub fn open_window() {
        #[cfg(target_arch = "aarch64")]
        // SAFETY: a hint instruction: no memory, register or flag is changed.
        unsafe {
            core::arch::asm!("hint #0x78", options(nomem, nostack, preserves_flags))
        };
    }

    /// The profiler writes the window's counts and stops counting here.
    #[allow(unsafe_code)]
    #[inline(always)]
    pub fn close_window() {
        #[cfg(target_arch = "aarch64")]
        // SAFETY: a hint instruction: no memory, register or flag is changed.
        unsafe {
            core::arch::asm!("hint #0x79", options(nomem, nostack, preserves_flags))
        };
    }
}

/// The kernel bench's defaults (kernel/src/scenario/bench.rs): 2 x 64 MiB in 8 apps,
/// 12 switches after the launch, 25 % writes, seed 1.
struct Args {
    pages: usize,
    apps: usize,
    switches: u64,
    ops: Option<u64>,
    write_pct: u64,
    seed: u64,
    zram: String,
}

const USAGE: &str = "usage: linux-bench [pages=N] [apps=N] [switches=N] [ops=N] [write_pct=N] [seed=N] [zram=/sys/block/zram0]";

fn parse(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        pages: 32768,
        apps: 8,
        switches: 12,
        ops: None,
        write_pct: 25,
        seed: 1,
        zram: "/sys/block/zram0".into(),
    };
    for word in args {
        let (key, value) = word
            .split_once('=')
            .ok_or_else(|| format!("'{word}' is not key=value\n{USAGE}"))?;
        let num = || -> Result<u64, String> {
            value
                .parse()
                .map_err(|_| format!("'{word}': {key} wants a number\n{USAGE}"))
        };
        match key {
            "pages" => a.pages = num()? as usize,
            "apps" => a.apps = num()? as usize,
            "switches" => a.switches = num()?,
            "ops" => a.ops = Some(num()?),
            "write_pct" => a.write_pct = num()?.min(100),
            "seed" => a.seed = num()?,
            "zram" => a.zram = value.into(),
            _ => return Err(format!("unknown key '{key}'\n{USAGE}")),
        }
    }
    if a.pages == 0 || a.apps == 0 || a.apps > a.pages {
        return Err(format!("need 1 <= apps <= pages\n{USAGE}"));
    }
    Ok(a)
}

/// The workload's pages: anonymous memory from the allocator (large enough to be its
/// own mapping), never touched before the launch.
struct Region {
    base: *mut [u8; PAGE_SIZE],
    layout: Layout,
}

#[allow(unsafe_code)]
impl Region {
    fn new(pages: usize) -> Result<Region, String> {
        let layout = Layout::from_size_align(pages * PAGE_SIZE, PAGE_SIZE)
            .map_err(|e| format!("region layout: {e}"))?;
        // SAFETY: a non-zero size (pages >= 1); the memory is only reached through
        // `page`, and freed with the same layout in `drop`.
        let base = unsafe { alloc(layout) }.cast::<[u8; PAGE_SIZE]>();
        if base.is_null() {
            return Err(format!("cannot allocate {} MiB", layout.size() >> 20));
        }
        Ok(Region { base, layout })
    }

    fn page(&mut self, i: usize) -> &mut [u8; PAGE_SIZE] {
        assert!(i * PAGE_SIZE < self.layout.size());
        // SAFETY: in bounds (checked), page-aligned, and `&mut self` makes the borrow
        // unique; every byte is written by `fill` before it is first read.
        unsafe { &mut *self.base.add(i) }
    }
}

#[allow(unsafe_code)]
impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.base.cast(), self.layout) }
    }
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("linux-bench: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(clean) => ExitCode::from(u8::from(!clean)),
        Err(e) => {
            eprintln!("linux-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(a: &Args) -> Result<bool, String> {
    let pool_pages = Box::leak(vec![[0u8; PAGE_SIZE]; POOL_PAGES].into_boxed_slice());
    let pool = PagePool::generate(a.seed, pool_pages).ok_or("page pool")?;
    let generator = PageGen::new(a.seed, PageMix::DEFAULT)
        .ok_or("page mix")?
        .with_pool(Box::leak(Box::new(pool)));
    let set = (a.pages / a.apps) as u64;
    let pattern = AppPattern {
        apps: a.apps,
        switch_every: set,
        seed: a.seed,
    };
    let ops = a.ops.unwrap_or(a.switches * set);
    let mut region = Region::new(a.pages)?;
    let mut versions = vec![0u32; a.pages];
    let mem_free_kb = linux::meminfo("MemFree");
    println!(
        "linux-bench: {} MiB anonymous = {} pages in {} apps of {set} pages; launch, then {ops} accesses, {} % writes, seed {}; MemFree {} kB before",
        (a.pages * PAGE_SIZE) >> 20,
        a.pages,
        a.apps,
        a.write_pct,
        a.seed,
        mem_free_kb.map_or("n/a".into(), |k| k.to_string())
    );

    profile::open_window();
    let before = linux::vmstat();
    let kswapd_before = linux::kswapd_ticks();
    let start = Instant::now();
    let (mut verified, mut corrupt) = (0u64, 0u64);
    for (local, version) in versions.iter_mut().enumerate() {
        *version = 1;
        generator.fill(local as u64, 1, region.page(local));
    }
    let mut rng = SplitMix64(a.seed);
    for n in 0..ops {
        let local = pattern.pick(a.pages, &mut rng, n);
        if apps::is_write(&mut rng, a.write_pct) {
            let version = versions[local].wrapping_add(1).max(1);
            generator.fill(local as u64, version, region.page(local));
            versions[local] = version;
        } else if generator.matches(local as u64, versions[local], region.page(local)) {
            verified += 1;
        } else {
            corrupt += 1;
        }
    }
    let elapsed = start.elapsed();
    profile::close_window();
    // The window closes here: counters, kswapd's time and zram's state, before the
    // final check faults every page back in.
    let after = linux::vmstat();
    let kswapd_after = linux::kswapd_ticks();
    let mm_stat = linux::mm_stat(&a.zram);

    for (local, &version) in versions.iter().enumerate() {
        if generator.matches(local as u64, version, region.page(local)) {
            verified += 1;
        } else {
            corrupt += 1;
        }
    }
    let secs = elapsed.as_secs_f64();
    let d = |key: &str| linux::delta(&before, &after, key);
    let rate = |n: Option<u64>| n.map(|n| n as f64 / secs);
    let kswapd_busy_pct = match (kswapd_before, kswapd_after) {
        (Some(b), Some(e)) => Some(100.0 * (e - b) as f64 / linux::USER_HZ / secs),
        _ => None,
    };
    let accesses = a.pages as u64 + ops;
    let compr_ratio = mm_stat.and_then(|m| {
        (m.compr_data_size > 0).then(|| m.orig_data_size as f64 / m.compr_data_size as f64)
    });
    // The kernel's RESULT writer; what Linux could not say is null (`None`).
    let result = LinuxResult {
        scenario: "linux-bench",
        pgsteal_anon_per_s: rate(d("pgsteal_anon")),
        pgsteal_kswapd_per_s: rate(d("pgsteal_kswapd")),
        pgsteal_anon: d("pgsteal_anon"),
        pgsteal_kswapd: d("pgsteal_kswapd"),
        pgsteal_direct: d("pgsteal_direct"),
        pgscan_kswapd: d("pgscan_kswapd"),
        pgscan_direct: d("pgscan_direct"),
        allocstall: linux::allocstall(&before, &after),
        pswpout: d("pswpout"),
        pswpin: d("pswpin"),
        workingset_refault_anon: d("workingset_refault_anon"),
        ops_per_s: Some(accesses as f64 / secs),
        kswapd_busy_pct,
        compr_ratio,
        mem_used_total: mm_stat.map(|m| m.mem_used_total),
        same_pages: mm_stat.map(|m| m.same_pages),
        elapsed_ms: elapsed.as_millis() as u64,
        mem_free_kb,
        accesses,
        verified_pages: verified,
        corrupt_pages: corrupt,
    };
    let line = kernel::json::to_string(&result).map_err(|e| e.to_string())?;
    println!("RESULT {line}");
    Ok(corrupt == 0)
}

/// `linux-bench`'s RESULT: the kernel bench's metric names, `null` where Linux has no
/// figure.
#[derive(serde::Serialize)]
struct LinuxResult {
    scenario: &'static str,
    pgsteal_anon_per_s: Option<f64>,
    pgsteal_kswapd_per_s: Option<f64>,
    pgsteal_anon: Option<u64>,
    pgsteal_kswapd: Option<u64>,
    pgsteal_direct: Option<u64>,
    pgscan_kswapd: Option<u64>,
    pgscan_direct: Option<u64>,
    allocstall: Option<u64>,
    pswpout: Option<u64>,
    pswpin: Option<u64>,
    workingset_refault_anon: Option<u64>,
    ops_per_s: Option<f64>,
    kswapd_busy_pct: Option<f64>,
    compr_ratio: Option<f64>,
    mem_used_total: Option<u64>,
    same_pages: Option<u64>,
    elapsed_ms: u64,
    mem_free_kb: Option<u64>,
    accesses: u64,
    verified_pages: u64,
    corrupt_pages: u64,
}
