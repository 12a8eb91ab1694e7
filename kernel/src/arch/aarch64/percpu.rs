//! Per-CPU data: one `PerCpu` per logical CPU (0 = the boot CPU), found by the index the
//! core keeps in TPIDR_EL1. Owns the table and each core's job mailbox; bringing cores
//! up and running jobs on them is `smp`'s business.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use aarch64_cpu::registers::TPIDR_EL1;
use tock_registers::interfaces::{Readable, Writeable};

use kernel::mailbox::Mailbox;

use super::MAX_CPUS;
use super::smp::Job;

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

    /// Written by the boot CPU before the core is started (a `dsb ish` before CPU_ON in
    /// `smp::bring_up` completes it).
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
