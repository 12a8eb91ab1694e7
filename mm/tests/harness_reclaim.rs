//! The reclaim harness run small in every mode: no page may come back corrupt, every
//! frame must be accounted for at the end, and reclaim must really have happened.
#![cfg(not(loom))]
#![forbid(unsafe_code)]

use mm::pagegen::{PageKind, PageMix};
use mm::reclaim::harness::{self, HarnessConfig, HarnessReport, Pattern};
use mm::reclaim::policy::{LruKind, ReclaimMode, RingFull};
use mm::vmstat::VmEvent;

/// A working set twice the RAM: with the default mix (lz4 ratio ~2.7, ~2.2 counting
/// zsmalloc's overhead) it only just fits in RAM + store, so these small runs use a
/// more compressible mix and test the pipeline, not the out-of-memory path.
fn small(mode: ReclaimMode) -> HarnessConfig {
    HarnessConfig {
        mode,
        mix: PageMix {
            zero: 10,
            same_filled: 5,
            text: 50,
            structured: 35,
            random: 0,
        },
        ram_frames: 512,
        wss_pages: 1024,
        ring_size: 64,
        ops: 6_000,
        ..HarnessConfig::default()
    }
}

fn run_clean(cfg: &HarnessConfig) -> HarnessReport {
    let report = harness::run(cfg).expect("harness runs");
    assert_eq!(report.run.corrupt(), 0, "{}", report.render());
    assert!(report.run.frames.accounted(), "{}", report.render());
    assert!(report.run.work.oom_stops == 0, "{}", report.render());
    assert!(
        report.run.total.get(VmEvent::PswpOut) > 0,
        "no page was swapped out"
    );
    assert!(
        report.run.total.get(VmEvent::PswpIn) > 0,
        "no page was swapped back in"
    );
    assert!(report.run.verified() > 0);
    // Every swap-in is a memory stall of its workload's CPU (PSI `some`).
    let psi = report.run.psi;
    assert!(psi.some.total_ns > 0, "no stall: {psi:?}");
    assert!(psi.full.total_ns <= psi.some.total_ns, "{psi:?}");
    let line = report.result_line();
    assert!(line.starts_with("RESULT {\"scenario\":\"reclaim\""));
    assert!(line.contains("\"psi_some_total_us\":") && line.contains("\"psi_full_avg300\":"));
    report
}

#[test]
fn harness_mglru_loses_nothing_in_either_mode() {
    for mode in [ReclaimMode::Sync, ReclaimMode::Async] {
        let report = run_clean(&HarnessConfig {
            lru: LruKind::Mglru,
            pattern: Pattern::HotCold,
            ..small(mode)
        });
        assert!(report.result_line().contains("\"lru\":\"mglru\""));
    }
}

#[test]
fn harness_sync_mode_loses_nothing() {
    let report = run_clean(&small(ReclaimMode::Sync));
    assert_eq!(report.run.total.get(VmEvent::KcompressdQueued), 0);
}

#[test]
fn harness_async_mode_loses_nothing() {
    let report = run_clean(&small(ReclaimMode::Async));
    assert!(
        report.run.total.get(VmEvent::KcompressdQueued) > 0,
        "nothing went through the ring"
    );
}

#[test]
fn harness_async_oldest_two_workers_small_ring_loses_nothing() {
    let cfg = HarnessConfig {
        ring_full: RingFull::Oldest,
        workers: 2,
        ring_size: 16,
        workloads: 2,
        pattern: Pattern::HotCold,
        ..small(ReclaimMode::Async)
    };
    let report = run_clean(&cfg);
    assert!(
        report.run.total.get(VmEvent::KcompressdRingFull) > 0,
        "the ring never filled"
    );
}

/// Re-touching pages just queued must hit both sides of the writeback race: frames
/// taken back before compression (`rescued`) and faults that wait for a compressor
/// (`waited`). Both are timing-dependent, so a few seeds are allowed.
#[test]
fn harness_refaults_on_pages_in_writeback_rescue_and_wait() {
    let (mut rescued, mut waited) = (0, 0);
    for seed in 1..=8 {
        let cfg = HarnessConfig {
            pattern: Pattern::Refault,
            ops: 8_000,
            seed,
            ..small(ReclaimMode::Async)
        };
        let report = run_clean(&cfg);
        rescued += report.run.race.rescued;
        waited += report.run.race.waited;
        if rescued > 0 && waited > 0 {
            return;
        }
    }
    panic!("race not hit: rescued {rescued}, waited {waited}");
}

#[test]
fn harness_rejects_bad_command_lines() {
    assert!(HarnessConfig::parse(["mode=fast"]).is_err());
    assert!(HarnessConfig::parse(["colour=blue"]).is_err());
    assert!(HarnessConfig::parse(["ram=1024", "wss=1500"]).is_err());
    assert!(HarnessConfig::parse(["ring=0"]).is_err());
    assert!(HarnessConfig::parse(["ring=5000"]).is_err());
    assert!(HarnessConfig::parse(["apps=4"]).is_err());
    assert!(HarnessConfig::parse(["pattern=apps", "apps=0"]).is_err());
    assert!(HarnessConfig::parse(["mix=pebbles"]).is_err());
    assert!(HarnessConfig::parse(["mix=50,50,0,0,1"]).is_err());
    assert!(HarnessConfig::parse(["lru=foo"]).is_err());
    assert_eq!(
        HarnessConfig::parse(["lru=mglru"]).unwrap().lru,
        LruKind::Mglru
    );
    assert_eq!(
        HarnessConfig::parse([] as [&str; 0]).unwrap().lru,
        LruKind::Classic
    );
    let cfg = HarnessConfig::parse(["mode=sync", "ram=1024", "ring_full=oldest"]).unwrap();
    assert_eq!(cfg.mode, ReclaimMode::Sync);
    assert_eq!(cfg.ring_full, RingFull::Oldest);
    assert_eq!(cfg.wss_pages, 2048);
    let cfg = HarnessConfig::parse(["ring=100", "mix=text", "pattern=apps", "apps=4"]).unwrap();
    assert_eq!(cfg.ring_size, 100);
    assert_eq!(cfg.mix, PageMix::only(PageKind::Text));
    // 12 app switches of an app's pages (8192 / 4) after the launch.
    assert_eq!(cfg.ops, 12 * 2048);
}
