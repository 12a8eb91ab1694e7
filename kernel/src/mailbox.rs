//! The one-slot job mailbox through which any core hands work to the core that owns it
//! (`smp::run_on`). Portable and loom-checked (kernel/tests/loom_mailbox.rs); waking the
//! owner (SGI) and running the job are the kernel's business, not this module's.

use core::mem::MaybeUninit;

use mm::sync::{AtomicU64, Ordering, UnsafeCell};

/// A one-slot mailbox through which any core hands a job to the core that owns it.
///
/// One atomic word orders everything: its low two bits are the state (EMPTY, CLAIMED,
/// FULL, RUNNING), the rest count the jobs completed, so a finished job and the box
/// being free again become visible together. The slot itself is plain memory.
/// - a sender claims the box with a CAS `EMPTY -> CLAIMED` (Acquire: the owner's reading
///   of the previous job happened before we overwrite the slot), writes the slot, then
///   publishes it with a Release store of `FULL`; a box not EMPTY is busy and refused;
/// - the owner sees `FULL` with an Acquire load (so it sees the slot written), copies the
///   job out, marks it `RUNNING`, runs it, then stores `EMPTY` with the count + 1
///   (Release), so a sender that observes the new count also observes the job's effects.
///
/// Waking the owner is separate: after `post`, the sender sends an SGI (see `smp`), and
/// the owner re-checks `has_job` each time it wakes, so a wake-up is never lost.
/// Checked with loom: kernel/tests/loom_mailbox.rs.
pub struct Mailbox<T> {
    word: AtomicU64,
    slot: UnsafeCell<MaybeUninit<T>>,
}

const STATE: u64 = 0b11;
const EMPTY: u64 = 0;
const CLAIMED: u64 = 1;
const FULL: u64 = 2;
const RUNNING: u64 = 3;
/// `word >> COUNT_SHIFT` = jobs completed.
const COUNT_SHIFT: u32 = 2;

// SAFETY: the slot is written only by the one sender that won the EMPTY -> CLAIMED CAS,
// and read only by the owner after it saw FULL; `word` orders the two (see above).
unsafe impl<T: Send> Sync for Mailbox<T> {}

impl<T: Copy> Mailbox<T> {
    /// An empty box (`const` so per-CPU tables can be statics; loom's atomics are not).
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self {
            word: AtomicU64::new(EMPTY),
            slot: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// An empty box (loom model).
    #[cfg(loom)]
    pub fn new() -> Self {
        Self {
            word: AtomicU64::new(EMPTY),
            slot: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// Sender side: leaves `job` for the owner. On success returns the ticket that
    /// `completed()` reaches when the job has run; a busy box gives the job back.
    pub fn post(&self, job: T) -> Result<u64, T> {
        let word = self.word.load(Ordering::Relaxed);
        if word & STATE != EMPTY {
            return Err(job);
        }
        let claimed = (word & !STATE) | CLAIMED;
        if self
            .word
            .compare_exchange(word, claimed, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(job);
        }
        // SAFETY: winning the CAS gives this sender the slot until it stores FULL.
        self.slot.with_mut(|p| unsafe { (*p).write(job) });
        self.word.store((word & !STATE) | FULL, Ordering::Release);
        Ok((word >> COUNT_SHIFT) + 1)
    }

    /// Owner side: whether a job waits.
    pub fn has_job(&self) -> bool {
        self.word.load(Ordering::Acquire) & STATE == FULL
    }

    /// Owner side (only the owning core may call it): takes the waiting job, if any.
    /// The owner must call `finish` once it has run it.
    pub fn take(&self) -> Option<T> {
        let word = self.word.load(Ordering::Acquire);
        if word & STATE != FULL {
            return None;
        }
        // SAFETY: FULL, seen with Acquire, means a sender wrote the slot and published it;
        // no sender touches it again until the owner stores EMPTY in `finish`.
        let job = self.slot.with(|p| unsafe { (*p).assume_init_read() });
        self.word
            .store((word & !STATE) | RUNNING, Ordering::Relaxed);
        Some(job)
    }

    /// Owner side: the job taken last has run; the box accepts the next one.
    pub fn finish(&self) {
        // Only the owner writes the word while it is RUNNING.
        let word = self.word.load(Ordering::Relaxed);
        let done = ((word >> COUNT_SHIFT) + 1) << COUNT_SHIFT;
        self.word.store(done | EMPTY, Ordering::Release);
    }

    /// How many jobs have run to completion; compare with `post`'s ticket.
    pub fn completed(&self) -> u64 {
        self.word.load(Ordering::Acquire) >> COUNT_SHIFT
    }
}

impl<T: Copy> Default for Mailbox<T> {
    fn default() -> Self {
        Self::new()
    }
}
