//! Per-CPU vmstat counters: sums over CPUs match a model, concurrent readers see each
//! counter grow monotonically, and the `/proc/vmstat` printer writes every name once.
#![cfg(not(loom))]
#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::thread;

use mm::vmstat::{NoSuchCpu, VmEvent, VmStat};
use proptest::prelude::*;

#[test]
fn vmstat_names_are_unique_proc_vmstat_words() {
    let names: HashSet<_> = VmEvent::iter().map(VmEvent::name).collect();
    assert_eq!(names.len(), VmEvent::COUNT);
    for name in names {
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{name}"
        );
    }
    assert_eq!(VmEvent::PgStealAnon.name(), "pgsteal_anon");
    assert_eq!(VmEvent::AllocStall.name(), "allocstall_normal");
    assert_eq!(VmEvent::PageOutRun.name(), "pageoutrun");
    assert!(!VmEvent::KcompressdRingFull.is_linux());
}

#[test]
fn vmstat_cpu_out_of_range_is_an_error() {
    let stat = VmStat::<2>::new();
    assert!(stat.cpu(1).is_ok());
    assert_eq!(stat.cpu(2).err(), Some(NoSuchCpu { cpu: 2, cpus: 2 }));
}

#[test]
fn vmstat_proc_format_lists_every_event_with_its_sum() {
    let stat = VmStat::<3>::new();
    stat.cpu(0).unwrap().add(VmEvent::PswpOut, 5);
    stat.cpu(2).unwrap().add(VmEvent::PswpOut, 7);
    stat.cpu(1).unwrap().count(VmEvent::AllocStall);
    let mut text = String::new();
    stat.write_proc_vmstat(&mut text).unwrap();
    let lines: Vec<(&str, u64)> = text
        .lines()
        .map(|l| {
            let (name, value) = l.split_once(' ').unwrap();
            (name, value.parse().unwrap())
        })
        .collect();
    let expected: Vec<(&str, u64)> = VmEvent::iter()
        .map(|e| {
            let v = match e {
                VmEvent::PswpOut => 12,
                VmEvent::AllocStall => 1,
                _ => 0,
            };
            (e.name(), v)
        })
        .collect();
    assert_eq!(lines, expected);
}

proptest! {
    #[test]
    fn vmstat_sums_match_model(
        ops in proptest::collection::vec((0..4usize, 0..VmEvent::COUNT, 0..1000u64), 0..200),
    ) {
        let stat = VmStat::<4>::new();
        let mut model = [[0u64; VmEvent::COUNT]; 4];
        let before = stat.snapshot();
        for &(cpu, event, n) in &ops {
            let event = VmEvent::ALL[event];
            stat.cpu(cpu).unwrap().add(event, n);
            model[cpu][event as usize] += n;
        }
        let snap = stat.snapshot();
        for event in VmEvent::iter() {
            let sum: u64 = model.iter().map(|cpu| cpu[event as usize]).sum();
            prop_assert_eq!(stat.read(event), sum);
            prop_assert_eq!(snap.get(event), sum);
            prop_assert_eq!(snap.since(&before).get(event), sum);
            for (cpu, counts) in model.iter().enumerate() {
                prop_assert_eq!(stat.cpu(cpu).unwrap().get(event), counts[event as usize]);
            }
        }
    }
}

/// Four writer threads, each on its own CPU slot, while a reader sums: every counter
/// only grows, and the final sums are exact.
#[test]
fn vmstat_concurrent_sums_are_monotonic_and_exact() {
    const PER_CPU: u64 = 200_000;
    let stat = VmStat::<4>::new();
    thread::scope(|s| {
        for cpu in 0..4 {
            let counters = stat.cpu(cpu).unwrap();
            s.spawn(move || {
                for _ in 0..PER_CPU {
                    counters.count(VmEvent::PgScanKswapd);
                    counters.add(VmEvent::PgStealKswapd, 2);
                }
            });
        }
        let mut last = stat.snapshot();
        while last.get(VmEvent::PgScanKswapd) < 4 * PER_CPU {
            let now = stat.snapshot();
            for event in VmEvent::iter() {
                assert!(now.get(event) >= last.get(event), "{event:?} went down");
            }
            last = now;
            thread::yield_now();
        }
    });
    assert_eq!(stat.read(VmEvent::PgScanKswapd), 4 * PER_CPU);
    assert_eq!(stat.read(VmEvent::PgStealKswapd), 8 * PER_CPU);
}
