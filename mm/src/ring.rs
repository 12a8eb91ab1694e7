//! Lock-free single-producer/single-consumer ring that feeds kcompressd: kswapd pushes
//! isolated pages on one core, a kcompressd worker pops them on another (the kcompressd
//! patch's kfifo of 256 folios). It owns the indices, the slots and the sleep mark of
//! the wake-up protocol; how a wake-up is delivered (SGI + WFI, thread park) is the
//! caller's business.
//!
//! # Layout and cost
//!
//! Storage is a const-generic array inside the [`Ring`], so a ring can be a `static`
//! and nothing is allocated after creation. `tail` (written by the producer), `head`
//! (written by the consumer) and the sleep generation each sit on their own 128-byte line
//! (Cortex-A and x86 prefetchers fetch lines in pairs). Each handle keeps its own index
//! locally and a cached copy of the other side's index: the producer re-reads `head`
//! only when its cached view says the ring is too full, the consumer re-reads `tail`
//! only when its cached view says the ring is empty. Steady state, a batch costs one
//! store to the own line plus the slot accesses.
//!
//! # Orderings
//!
//! Indices are free-running `usize`s (slot = index % N, wrapping arithmetic), so
//! `tail - head` is the number of items and never exceeds `N`.
//! - producer `tail.store(Release)` publishes the slot writes before it; it pairs
//!   with the consumer's `tail.load(Acquire)`, after which the consumer may read them.
//! - consumer `head.store(Release)` publishes that its slot reads are done; it pairs
//!   with the producer's `head.load(Acquire)`, after which the producer may overwrite
//!   those slots (without it, a weakly ordered core could let the new write race the
//!   old read).
//! - each side's own index needs no load at all: the handle holds it.
//! - the wake-up protocol adds one `fence(SeqCst)` per side (see below).
//!
//! # Wake-ups without lost wake-ups
//!
//! kcompressd sleeps in WFI when the ring is empty and kswapd sends an SGI only when
//! it is needed, so many pushes cost at most one wake-up. This is Linux's
//! `prepare_to_wait` / condition / `finish_wait` pattern, on a counter in the ring:
//!
//! ```text
//! consumer (kcompressd)                      producer (kswapd)
//! loop {                                     n = push_slice(pages)
//!     n = pop_slice(batch)                   // fence(SeqCst) inside:
//!     if n > 0 { compress; continue }        if wake_needed() { send SGI }
//!     mask IRQs
//!     if prepare_to_wait() { WFI }  // mark asleep; fence(SeqCst); re-check empty
//!     finish_wait(); unmask IRQs
//! }
//! ```
//!
//! "Asleep" is an odd value of `sleep_seq`, a generation counter only the consumer
//! writes (`prepare_to_wait` makes it odd, `finish_wait` even again). The producer
//! remembers the last odd value it woke, so `wake_needed` is true once per sleep: that
//! is the coalescing, and it needs no read-modify-write (no exclusive-monitor loop).
//!
//! This is the store-buffering (Dekker) shape: the consumer stores `sleep_seq` then
//! loads `tail`, the producer stores `tail` then loads `sleep_seq`. Acquire/Release
//! cannot forbid both loads seeing the old values (each side's load may pass its own
//! earlier store), which is exactly the lost wake-up. The two `SeqCst` fences are
//! totally ordered: if the consumer's comes first, the producer sees the new odd
//! value and wakes it; if the producer's comes first, the consumer's re-check sees
//! the item and does not sleep.
//!
//! The wake-up itself must be latched: an SGI that arrives between
//! `prepare_to_wait` and WFI must still end the WFI. On arm64 that means doing both
//! with IRQs masked (`DAIF.I` set): WFI still wakes on a pending masked interrupt,
//! and the handler runs once IRQs are unmasked. A thread `park`/`unpark` pair (std,
//! loom) latches by itself. Spurious wake-ups are harmless: the loop re-checks.

use core::fmt;
use core::mem::MaybeUninit;

use crossbeam_utils::CachePadded;

use crate::sync::{
    AtomicBool, AtomicUsize, Ordering, UnsafeCell, array_of, const_fn_unless_loom, fence,
};

/// A bounded FIFO of `N` items of `T` (`N` a power of two, at least 1) shared by one
/// [`Producer`] and one [`Consumer`], obtained once from [`Ring::split`].
pub struct Ring<T, const N: usize> {
    /// Index of the next slot to fill. Written by the producer only.
    tail: CachePadded<AtomicUsize>,
    /// Index of the next slot to drain. Written by the consumer only.
    head: CachePadded<AtomicUsize>,
    /// Consumer's sleep generation, written by the consumer only: odd while it is
    /// asleep or about to be.
    sleep_seq: CachePadded<AtomicUsize>,
    /// `split` has handed out the two handles.
    split: AtomicBool,
    slots: [UnsafeCell<MaybeUninit<T>>; N],
}

// SAFETY: the slots are only touched through the two handles, which `split` hands out
// once. The producer writes only slots in `[tail, head + N)`, the consumer reads only
// slots in `[head, tail)`; the Release/Acquire pairs on `tail` and `head` order every
// write before the read of the same slot and every read before the next write, so no
// slot is accessed by both sides at once. Items cross threads, hence `T: Send`.
unsafe impl<T: Send, const N: usize> Sync for Ring<T, N> {}

/// Whether a `sleep_seq` value marks the consumer asleep (odd) or awake (even).
const fn asleep(sleep_seq: usize) -> bool {
    sleep_seq & 1 == 1
}

/// [`Ring::split`] was already called: a ring has one producer and one consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadySplit;

impl fmt::Display for AlreadySplit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ring already split into its producer and consumer")
    }
}

impl<T: Copy, const N: usize> Ring<T, N> {
    /// Number of items the ring holds when full.
    pub const CAPACITY: usize = N;

    const_fn_unless_loom! {
        /// An empty ring. `const` so it can be a `static` (not under loom).
        pub fn new() -> Self {
            const { assert!(N.is_power_of_two(), "ring capacity must be a power of two") };
            Self {
                tail: CachePadded::new(AtomicUsize::new(0)),
                head: CachePadded::new(AtomicUsize::new(0)),
                sleep_seq: CachePadded::new(AtomicUsize::new(0)),
                split: AtomicBool::new(false),
                slots: array_of!(UnsafeCell::new(MaybeUninit::uninit()); N),
            }
        }
    }

    /// The producer and consumer handles; only the first call succeeds, so there is
    /// never more than one of each. Items pushed and not popped stay in the ring
    /// when the handles are dropped.
    pub fn split(&self) -> Result<(Producer<'_, T, N>, Consumer<'_, T, N>), AlreadySplit> {
        // Relaxed: the flag only elects one caller; handing the handles to other
        // threads (spawn, a static cell) provides the synchronization they need.
        if self.split.swap(true, Ordering::Relaxed) {
            return Err(AlreadySplit);
        }
        let tail = self.tail.load(Ordering::Relaxed);
        let head = self.head.load(Ordering::Relaxed);
        let sleep_seq = self.sleep_seq.load(Ordering::Relaxed);
        Ok((
            Producer {
                ring: self,
                tail,
                cached_head: head,
                woken_seq: sleep_seq,
            },
            Consumer {
                ring: self,
                head,
                cached_tail: tail,
                sleep_seq,
            },
        ))
    }
}

impl<T: Copy, const N: usize> Default for Ring<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

/// The pushing side of a [`Ring`] (kswapd). `Send`, not `Clone`.
pub struct Producer<'a, T, const N: usize> {
    ring: &'a Ring<T, N>,
    /// Our copy of `ring.tail`, which only we write.
    tail: usize,
    /// Last `ring.head` we loaded: slots before `cached_head + N` are free to fill.
    cached_head: usize,
    /// Last consumer sleep generation we saw (and woke, if it was odd).
    woken_seq: usize,
}

impl<T: Copy, const N: usize> Producer<'_, T, N> {
    /// Pushes `item`, or gives it back if the ring is full (kswapd then compresses the
    /// page itself, as the kcompressd patch does when its kfifo is full).
    pub fn push(&mut self, item: T) -> Result<(), T> {
        if self.push_slice(core::slice::from_ref(&item)) == 1 {
            Ok(())
        } else {
            Err(item)
        }
    }

    /// Pushes the longest prefix of `items` that fits and returns its length; the
    /// rest is the caller's, in order (the overflow is the tail of the batch).
    pub fn push_slice(&mut self, items: &[T]) -> usize {
        let mut free = N - self.tail.wrapping_sub(self.cached_head);
        if free < items.len() {
            // Acquire pairs with the consumer's Release store of `head`: its reads of
            // the slots we may now overwrite are complete.
            self.cached_head = self.ring.head.load(Ordering::Acquire);
            free = N - self.tail.wrapping_sub(self.cached_head);
        }
        let n = free.min(items.len());
        if n == 0 {
            return 0;
        }
        for (i, &item) in items[..n].iter().enumerate() {
            let slot = &self.ring.slots[self.tail.wrapping_add(i) % N];
            // SAFETY: the slot is in `[tail, cached_head + N)`: the consumer released
            // it (Acquire above or at an earlier refresh) and will not read it before
            // the Release store of `tail` below.
            slot.with_mut(|p| unsafe { p.write(MaybeUninit::new(item)) });
        }
        self.tail = self.tail.wrapping_add(n);
        // Release publishes the slot writes above; pairs with the consumer's Acquire
        // load of `tail`.
        self.ring.tail.store(self.tail, Ordering::Release);
        n
    }

    /// Call after pushing: true when the consumer is asleep (or about to be) and the
    /// caller must wake it (send the SGI). True once per sleep: further pushes before
    /// the consumer runs again send nothing.
    pub fn wake_needed(&mut self) -> bool {
        // SeqCst fence: orders our earlier `tail` store before the `sleep_seq` load
        // below, against the consumer's fence in `prepare_to_wait` (module docs).
        fence(Ordering::SeqCst);
        // Relaxed: the fences do the ordering; the value is only compared.
        let seq = self.ring.sleep_seq.load(Ordering::Relaxed);
        if asleep(seq) && seq != self.woken_seq {
            self.woken_seq = seq;
            return true;
        }
        false
    }

    /// Items in the ring, as the producer sees it: exact own `tail`, a fresh but
    /// possibly stale `head`, so this is an upper bound (the consumer may have taken
    /// more since). `capacity() - len()` is a lower bound on the free slots.
    pub fn len(&self) -> usize {
        // Relaxed: a statistic; pushing does its own Acquire when it needs room.
        self.tail
            .wrapping_sub(self.ring.head.load(Ordering::Relaxed))
    }

    /// True when the ring is certainly empty (every pushed item has been taken).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of items the ring holds when full.
    pub const fn capacity(&self) -> usize {
        N
    }
}

/// The popping side of a [`Ring`] (kcompressd). `Send`, not `Clone`.
pub struct Consumer<'a, T, const N: usize> {
    ring: &'a Ring<T, N>,
    /// Our copy of `ring.head`, which only we write.
    head: usize,
    /// Last `ring.tail` we loaded: slots before it are filled.
    cached_tail: usize,
    /// Our copy of `ring.sleep_seq`, which only we write.
    sleep_seq: usize,
}

impl<T: Copy, const N: usize> Consumer<'_, T, N> {
    /// Takes the oldest item, if any.
    pub fn pop(&mut self) -> Option<T> {
        if self.ready(1) == 0 {
            return None;
        }
        let item = self.read(0);
        self.release(1);
        Some(item)
    }

    /// Takes up to `out.len()` of the oldest items into the front of `out`, oldest
    /// first, and returns how many.
    pub fn pop_slice(&mut self, out: &mut [T]) -> usize {
        let n = self.ready(out.len()).min(out.len());
        if n == 0 {
            return 0;
        }
        for (i, dst) in out[..n].iter_mut().enumerate() {
            *dst = self.read(i);
        }
        self.release(n);
        n
    }

    /// The item `i` places after `head`; the caller has checked `i < ready()`.
    fn read(&self, i: usize) -> T {
        let slot = &self.ring.slots[self.head.wrapping_add(i) % N];
        // SAFETY: the slot is in `[head, cached_tail)`: the producer filled it before
        // its Release store of `tail` that `ready` acquired, and will not overwrite it
        // before our Release store of `head` in `release`.
        slot.with(|p| unsafe { (*p).assume_init() })
    }

    /// Frees the `n` oldest slots, which we have read.
    fn release(&mut self, n: usize) {
        self.head = self.head.wrapping_add(n);
        // Release: our slot reads happen before the producer's Acquire load of `head`
        // that lets it refill them.
        self.ring.head.store(self.head, Ordering::Release);
    }

    /// Before sleeping on an empty ring: marks the consumer asleep and re-checks.
    /// True: the ring is still empty and the next push will report `wake_needed`, so
    /// the caller may sleep (latched, see the module docs). False: items arrived, the
    /// mark is withdrawn, do not sleep.
    pub fn prepare_to_wait(&mut self) -> bool {
        if !asleep(self.sleep_seq) {
            self.sleep_seq = self.sleep_seq.wrapping_add(1);
            // Relaxed: the fence below orders it.
            self.ring.sleep_seq.store(self.sleep_seq, Ordering::Relaxed);
        }
        // SeqCst fence: orders the `sleep_seq` store before the `tail` load in the
        // re-check, against the producer's fence in `wake_needed` (module docs).
        fence(Ordering::SeqCst);
        let still_empty = self.ready(1) == 0;
        if !still_empty {
            self.finish_wait();
        }
        still_empty
    }

    /// After waking (or deciding not to sleep): marks the consumer awake, so the
    /// producer sends no wake-up while it runs.
    pub fn finish_wait(&mut self) {
        if asleep(self.sleep_seq) {
            self.sleep_seq = self.sleep_seq.wrapping_add(1);
            // Relaxed: a producer that still sees the odd value has already woken us
            // or wakes us once more for nothing; we re-check before sleeping again.
            self.ring.sleep_seq.store(self.sleep_seq, Ordering::Relaxed);
        }
    }

    /// Items ready to pop, re-reading `tail` only if the cached view has fewer than
    /// `wanted`.
    fn ready(&mut self, wanted: usize) -> usize {
        let ready = self.cached_tail.wrapping_sub(self.head);
        if ready >= wanted {
            return ready;
        }
        // Acquire pairs with the producer's Release store of `tail`: the slot writes
        // before it are visible.
        self.cached_tail = self.ring.tail.load(Ordering::Acquire);
        self.cached_tail.wrapping_sub(self.head)
    }

    /// Items in the ring, as the consumer sees it: exact own `head`, a fresh but
    /// possibly stale `tail`, so this is a lower bound (the producer may have pushed
    /// more since). Use it for "ring depth" statistics.
    pub fn len(&self) -> usize {
        // Relaxed: a statistic; popping does its own Acquire before reading slots.
        self.ring
            .tail
            .load(Ordering::Relaxed)
            .wrapping_sub(self.head)
    }

    /// True when no pushed item is visible yet (the producer may be mid-push).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of items the ring holds when full.
    pub const fn capacity(&self) -> usize {
        N
    }
}

impl<T, const N: usize> fmt::Debug for Producer<'_, T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("tail", &self.tail)
            .field("cached_head", &self.cached_head)
            .field("woken_seq", &self.woken_seq)
            .finish()
    }
}

impl<T, const N: usize> fmt::Debug for Consumer<'_, T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("head", &self.head)
            .field("cached_tail", &self.cached_tail)
            .field("sleep_seq", &self.sleep_seq)
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn second_split_is_refused() {
        let ring = Ring::<u32, 4>::new();
        let _handles = ring.split().unwrap();
        assert_eq!(ring.split().err(), Some(AlreadySplit));
    }

    #[test]
    fn full_ring_gives_the_item_back() {
        let ring = Ring::<u32, 2>::new();
        let (mut p, mut c) = ring.split().unwrap();
        assert_eq!(p.push(1), Ok(()));
        assert_eq!(p.push(2), Ok(()));
        assert_eq!(p.push(3), Err(3));
        assert_eq!(p.push_slice(&[4, 5]), 0);
        assert_eq!(c.pop(), Some(1));
        assert_eq!(p.push_slice(&[4, 5]), 1);
        let mut out = [0; 4];
        assert_eq!(c.pop_slice(&mut out), 2);
        assert_eq!(out[..2], [2, 4]);
        assert_eq!(c.pop(), None);
    }

    /// Free-running indices cross `usize::MAX` without losing or reordering items.
    #[test]
    fn indices_wrap_around_usize() {
        let ring = Ring::<u64, 4>::new();
        let start = usize::MAX - 5;
        ring.tail.store(start, Ordering::Relaxed);
        ring.head.store(start, Ordering::Relaxed);
        let (mut p, mut c) = ring.split().unwrap();
        let mut next_out = 0;
        for round in 0..8u64 {
            assert_eq!(p.push_slice(&[3 * round, 3 * round + 1, 3 * round + 2]), 3);
            assert_eq!((p.len(), c.len()), (3, 3));
            let mut out = [0; 3];
            assert_eq!(c.pop_slice(&mut out), 3);
            for v in out {
                assert_eq!(v, next_out);
                next_out += 1;
            }
        }
        assert!(p.is_empty() && c.is_empty());
    }

    #[test]
    fn wake_is_claimed_once_per_sleep() {
        let ring = Ring::<u32, 4>::new();
        let (mut p, mut c) = ring.split().unwrap();
        assert!(!p.wake_needed(), "consumer awake: no wake-up");
        assert!(c.prepare_to_wait());
        p.push(7).unwrap();
        assert!(p.wake_needed());
        p.push(8).unwrap();
        assert!(
            !p.wake_needed(),
            "second push before the consumer ran: coalesced"
        );
        c.finish_wait();
        assert!(!c.prepare_to_wait(), "items waiting: must not sleep");
        assert!(!p.wake_needed(), "mark withdrawn by the failed prepare");
        assert_eq!((c.pop(), c.pop()), (Some(7), Some(8)));
        assert!(c.prepare_to_wait());
        assert!(c.prepare_to_wait(), "repeated prepare: still one sleep");
        p.push(9).unwrap();
        assert!(p.wake_needed(), "a new sleep needs a new wake-up");
        assert!(!p.wake_needed());
    }

    #[test]
    fn ring_can_be_a_static() {
        static RING: Ring<u32, 8> = Ring::new();
        let (mut p, mut c) = RING.split().unwrap();
        std::thread::spawn(move || p.push(42).unwrap())
            .join()
            .unwrap();
        assert_eq!(c.pop(), Some(42));
    }
}
