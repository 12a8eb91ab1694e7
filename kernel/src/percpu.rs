//! Per-CPU data: one `PerCpu` per logical CPU (0 = the boot CPU), found by the index the
//! core keeps in TPIDR_EL1. Owns the table and each core's job mailbox; bringing cores
//! up and running jobs on them is `arch::aarch64::smp`'s business.

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use aarch64_cpu::registers::TPIDR_EL1;
use tock_registers::interfaces::{Readable, Writeable};

use crate::arch::aarch64::MAX_CPUS;
use crate::arch::aarch64::smp::Job;

/// What the kernel keeps per core.
pub struct PerCpu {
    /// MPIDR_EL1 affinity (Aff3..Aff0), as the DTB names the core.
    mpidr: AtomicU64,
    /// Set by the core itself once it runs the kernel with its GIC and timer set up.
    online: AtomicBool,
    /// What this core runs: "idle", a job's name, "offline".
    activity: spin::Mutex<&'static str>,
    /// Work handed to this core by others (see `smp::run_on`).
    pub mailbox: Mailbox<Job>,
}

static CPUS: [PerCpu; MAX_CPUS] = [const { PerCpu::new() }; MAX_CPUS];

impl PerCpu {
    const fn new() -> Self {
        Self {
            mpidr: AtomicU64::new(0),
            online: AtomicBool::new(false),
            activity: spin::Mutex::new("offline"),
            mailbox: Mailbox::new(),
        }
    }

    pub fn mpidr(&self) -> u64 {
        self.mpidr.load(Ordering::Relaxed)
    }

    /// Written by the boot CPU before the core is started (PSCI CPU_ON orders it).
    pub fn set_mpidr(&self, mpidr: u64) {
        self.mpidr.store(mpidr, Ordering::Relaxed);
    }

    /// Acquire: whoever sees the core online also sees everything it did to get there.
    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::Acquire)
    }

    pub fn set_online(&self, online: bool) {
        self.online.store(online, Ordering::Release);
    }

    pub fn activity(&self) -> &'static str {
        *self.activity.lock()
    }

    pub fn set_activity(&self, what: &'static str) {
        *self.activity.lock() = what;
    }
}

/// Records that the calling core is logical CPU `cpu`. First thing each core does in
/// Rust (the boot CPU in `gic::init`, the others in `smp::secondary_main`).
pub fn set_this_cpu(cpu: usize) {
    assert!(cpu < MAX_CPUS, "logical CPU {cpu} >= MAX_CPUS");
    TPIDR_EL1.set(cpu as u64);
}

/// The calling core's logical CPU index.
pub fn this_cpu_id() -> usize {
    TPIDR_EL1.get() as usize
}

/// The calling core's data.
pub fn this_cpu() -> &'static PerCpu {
    cpu(this_cpu_id())
}

/// Logical CPU `n`'s data.
pub fn cpu(n: usize) -> &'static PerCpu {
    &CPUS[n]
}

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
/// This type has no hardware in it, so it can move to a portable crate and be checked
/// with loom as it stands (see docs/smp.md).
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
    pub const fn new() -> Self {
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
        unsafe { (*self.slot.get()).write(job) };
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
        let job = unsafe { (*self.slot.get()).assume_init_read() };
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
