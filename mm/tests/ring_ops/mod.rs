//! Ring operation sequences checked against a `VecDeque` model, single-threaded.
//! Shared by the proptest (`tests/ring_model.rs`) and the fuzz target
//! (`fuzz/fuzz_targets/ring_ops.rs`): each byte is one operation.

use std::collections::VecDeque;

use mm::ring::Ring;

/// One operation, decoded from a byte: the low 3 bits pick it, the high 5 bits give
/// a batch length (0..=31). Pushed values are a running sequence number, so any
/// loss, duplication or reordering shows as a mismatch.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    Push,
    PushSlice(usize),
    Pop,
    PopSlice(usize),
    /// `prepare_to_wait`, or `finish_wait` if the consumer is already waiting.
    Sleep,
    WakeNeeded,
}

impl Op {
    pub fn from_byte(byte: u8) -> Op {
        let len = usize::from(byte >> 3);
        match byte & 7 {
            0 | 1 => Op::Push,
            2 => Op::PushSlice(len),
            3 | 4 => Op::Pop,
            5 => Op::PopSlice(len),
            6 => Op::Sleep,
            _ => Op::WakeNeeded,
        }
    }
}

/// Runs `bytes` as operations on rings of capacity 1, 4 and 16.
pub fn check_all_capacities(bytes: &[u8]) {
    check::<1>(bytes);
    check::<4>(bytes);
    check::<16>(bytes);
}

/// Runs `bytes` as operations on a ring of capacity `N` and on the model, panicking at
/// the first difference.
pub fn check<const N: usize>(bytes: &[u8]) {
    let ring = Ring::<u64, N>::new();
    let (mut tx, mut rx) = ring.split().unwrap();
    let mut model = VecDeque::new();
    let mut next = 0u64;
    // The consumer is between a successful `prepare_to_wait` and `finish_wait`, and
    // whether the producer has already claimed that sleep's wake-up.
    let mut waiting = false;
    let mut woken = false;
    let mut out = [0u64; 32];
    for op in bytes.iter().map(|&b| Op::from_byte(b)) {
        match op {
            Op::Push => {
                let fits = model.len() < N;
                assert_eq!(tx.push(next), if fits { Ok(()) } else { Err(next) });
                if fits {
                    model.push_back(next);
                    next += 1;
                }
            }
            Op::PushSlice(len) => {
                let batch: Vec<u64> = (next..next + len as u64).collect();
                let fits = len.min(N - model.len());
                assert_eq!(tx.push_slice(&batch), fits, "{op:?}");
                model.extend(&batch[..fits]);
                next += fits as u64;
            }
            Op::Pop => assert_eq!(rx.pop(), model.pop_front()),
            Op::PopSlice(len) => {
                let n = rx.pop_slice(&mut out[..len]);
                let expected: Vec<u64> = model.drain(..len.min(model.len())).collect();
                assert_eq!(out[..n], expected[..], "{op:?}");
            }
            Op::Sleep if waiting => {
                rx.finish_wait();
                waiting = false;
            }
            Op::Sleep => {
                waiting = rx.prepare_to_wait();
                assert_eq!(waiting, model.is_empty());
                woken = false;
            }
            Op::WakeNeeded => {
                assert_eq!(tx.wake_needed(), waiting && !woken);
                woken = waiting;
            }
        }
        // Single-threaded, both sides' estimates are exact.
        assert_eq!((tx.len(), rx.len()), (model.len(), model.len()), "{op:?}");
        assert_eq!(tx.is_empty(), model.is_empty());
        assert_eq!(rx.is_empty(), model.is_empty());
    }
}
