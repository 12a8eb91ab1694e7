//! Two real threads push millions of sequence numbers through a small ring and check
//! that they arrive in order, once each; with spinning, batches, and the sleep/wake
//! protocol over `thread::park`.
#![cfg(not(loom))]
#![forbid(unsafe_code)]

use std::thread;

use mm::ring::Ring;

const ITEMS: u64 = if cfg!(debug_assertions) {
    1 << 20
} else {
    1 << 23
};

#[test]
fn ring_stress_single_items_in_order() {
    let ring = Ring::<u64, 64>::new();
    let (mut tx, mut rx) = ring.split().unwrap();
    thread::scope(|s| {
        s.spawn(move || {
            for i in 0..ITEMS {
                while tx.push(i).is_err() {
                    thread::yield_now();
                }
            }
        });
        let mut expected = 0;
        while expected < ITEMS {
            match rx.pop() {
                Some(v) => {
                    assert_eq!(v, expected);
                    expected += 1;
                }
                None => thread::yield_now(),
            }
        }
        assert_eq!(rx.pop(), None);
    });
}

#[test]
fn ring_stress_batches_in_order() {
    let ring = Ring::<u64, 256>::new();
    let (mut tx, mut rx) = ring.split().unwrap();
    thread::scope(|s| {
        s.spawn(move || {
            // Batch sizes cycle through 1..=45 so batches straddle the wrap point.
            let mut next = 0;
            let mut size = 1;
            while next < ITEMS {
                let batch: Vec<u64> = (next..ITEMS.min(next + size)).collect();
                let mut sent = 0;
                while sent < batch.len() {
                    let n = tx.push_slice(&batch[sent..]);
                    if n == 0 {
                        thread::yield_now();
                    }
                    sent += n;
                }
                next += batch.len() as u64;
                size = size % 45 + 1;
            }
        });
        let mut expected = 0;
        let mut out = [0u64; 37];
        while expected < ITEMS {
            let n = rx.pop_slice(&mut out);
            if n == 0 {
                thread::yield_now();
            }
            for &v in &out[..n] {
                assert_eq!(v, expected);
                expected += 1;
            }
        }
    });
}

/// The consumer parks whenever the ring is empty; a lost wake-up hangs the test.
#[test]
fn ring_stress_sleep_and_wake() {
    let items = ITEMS / 8;
    let ring = Ring::<u64, 16>::new();
    let (mut tx, mut rx) = ring.split().unwrap();
    thread::scope(|s| {
        let consumer = s.spawn(move || {
            let mut expected = 0;
            while expected < items {
                match rx.pop() {
                    Some(v) => {
                        assert_eq!(v, expected);
                        expected += 1;
                    }
                    None => {
                        if rx.prepare_to_wait() {
                            thread::park();
                        }
                        rx.finish_wait();
                    }
                }
            }
        });
        for i in 0..items {
            while tx.push(i).is_err() {
                thread::yield_now();
            }
            if tx.wake_needed() {
                consumer.thread().unpark();
            }
        }
    });
}
