//! loom models of the ring: FIFO order with no loss or duplication across the
//! wrap-around for single items and batches, and the sleep/wake protocol with
//! `park`/`unpark` standing in for WFI/SGI. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p mm --release loom`.
#![cfg(loom)]
#![forbid(unsafe_code)]

use loom::model::Builder;
use loom::thread;
use mm::ring::Ring;

/// loom threads need `'static` data; one small leak per explored execution.
fn leaked_ring<const N: usize>() -> &'static Ring<u32, N> {
    Box::leak(Box::new(Ring::new()))
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

#[test]
fn ring_loom_single_items_wrap_around() {
    model(|| {
        let ring = leaked_ring::<2>();
        let (mut tx, mut rx) = ring.split().unwrap();
        let producer = thread::spawn(move || {
            for i in 0..4 {
                while tx.push(i).is_err() {
                    thread::yield_now();
                }
            }
        });
        let mut expected = 0;
        while expected < 4 {
            match rx.pop() {
                Some(v) => {
                    assert_eq!(v, expected);
                    expected += 1;
                }
                None => thread::yield_now(),
            }
        }
        producer.join().unwrap();
        assert_eq!(rx.pop(), None);
    });
}

#[test]
fn ring_loom_batches_wrap_around() {
    model(|| {
        let ring = leaked_ring::<4>();
        let (mut tx, mut rx) = ring.split().unwrap();
        let producer = thread::spawn(move || {
            let items = [0, 1, 2, 3, 4, 5];
            for batch in items.chunks(3) {
                let mut sent = 0;
                while sent < batch.len() {
                    let n = tx.push_slice(&batch[sent..]);
                    if n == 0 {
                        thread::yield_now();
                    }
                    sent += n;
                }
            }
        });
        let mut expected = 0;
        let mut out = [0; 3];
        while expected < 6 {
            let n = rx.pop_slice(&mut out);
            if n == 0 {
                thread::yield_now();
            }
            for &v in &out[..n] {
                assert_eq!(v, expected);
                expected += 1;
            }
        }
        producer.join().unwrap();
        assert_eq!(rx.pop(), None);
    });
}

/// kcompressd parks when the ring is empty; kswapd unparks it only when
/// `wake_needed` says so, and waits while the ring is full. A lost wake-up leaves the
/// consumer parked forever: loom reports a deadlock, or exceeds its branch limit while
/// the producer waits for room that never comes.
#[test]
fn ring_loom_wake_protocol() {
    model(|| {
        let ring = leaked_ring::<2>();
        let (mut tx, mut rx) = ring.split().unwrap();
        let consumer = thread::spawn(move || {
            let mut expected = 0;
            while expected < 3 {
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
        for i in 0..3 {
            while tx.push(i).is_err() {
                thread::yield_now();
            }
            if tx.wake_needed() {
                consumer.thread().unpark();
            }
        }
        consumer.join().unwrap();
    });
}
