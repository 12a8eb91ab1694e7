//! SMP: bring every CPU of the DTB online with PSCI CPU_ON, each secondary's first Rust
//! (`secondary_main`), the idle loop, sleeping until a condition holds (WFI woken by an
//! SGI or the timer) with each core's time in WFI counted, and "run this function on
//! CPU n" through per-CPU mailboxes.
//! Owns the cores' lives after boot code hands them over; per-CPU data is `percpu`'s.
//!
//! Logical CPU 0 is the boot CPU; the others are numbered in DTB order. CPU 0 runs
//! `kmain` and the scenario; the others sleep in `idle_loop` until given a job.

use core::fmt;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;

use aarch64_cpu::registers::MPIDR_EL1;
use tock_registers::interfaces::Readable;

use super::console::arch_println;
use super::{MAX_CPUS, gic, irq, percpu, psci, timer};

/// How long the boot CPU waits for the started cores to check in. A core needs well
/// under a millisecond; the margin is for a loaded host running QEMU's vCPU threads.
const CHECK_IN_TIMEOUT: Duration = Duration::from_millis(500);

/// How long `offline` waits for the firmware to report a core off.
const OFF_TIMEOUT: Duration = Duration::from_millis(500);

/// The affinity fields of MPIDR_EL1 (Aff3, Aff2, Aff1, Aff0): what PSCI and the DTB's
/// `reg` name a core by.
pub const MPIDR_AFFINITY: u64 = 0xff_00ff_ffff;

// SAFETY: `secondary_entry` is boot/head.s's (linked in by `global_asm!` in
// arch/aarch64/mod.rs). It is never called from Rust: only its address is used, as
// the entry point handed to PSCI CPU_ON.
unsafe extern "C" {
    /// boot/head.s: where a core started by PSCI CPU_ON begins (physical address; the
    /// kernel runs identity-mapped). x0 = logical CPU index.
    fn secondary_entry();
}

/// What `bring_up` achieved: `online` of the `total` CPUs the DTB lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SmpReport {
    pub online: usize,
    pub total: usize,
}

/// The calling core's MPIDR affinity.
pub fn this_mpidr() -> u64 {
    MPIDR_EL1.get() & MPIDR_AFFINITY
}

/// Starts every CPU the DTB lists, waits for each to check in, and reports by MPIDR the
/// ones that did not. Called once by `kmain` on the boot CPU after the MMU, console, heap
/// and `gic::init`, with IRQs masked.
pub fn bring_up(board: &platform::Board) -> SmpReport {
    let boot_mpidr = this_mpidr();
    let me = percpu::cpu(0);
    me.set_mpidr(boot_mpidr);
    timer::init_this_cpu();
    me.set_activity("kmain");
    me.set_online(true);

    match psci::version() {
        Ok(v) => arch_println!(
            "smp: PSCI {v}, GICv{}, counter {} Hz",
            gic::version(),
            timer::freq()
        ),
        Err(e) => arch_println!("smp: PSCI_VERSION failed: {e}"),
    }
    if !board
        .cpus
        .iter()
        .any(|c| c.mpidr & MPIDR_AFFINITY == boot_mpidr)
    {
        arch_println!("smp: the boot CPU (cpu@{boot_mpidr:#x}) is not among the DTB's CPUs");
    }
    let entry = secondary_entry as *const () as u64;
    let mut started = [false; MAX_CPUS];
    let mut next = 1;
    for cpu in &board.cpus {
        let mpidr = cpu.mpidr & MPIDR_AFFINITY;
        if mpidr == boot_mpidr {
            continue;
        }
        if next == MAX_CPUS {
            arch_println!("cpu@{mpidr:#x}: skipped: the kernel runs at most {MAX_CPUS} CPUs");
            continue;
        }
        // The core reads its MPIDR back in `secondary_main`: set it before CPU_ON.
        percpu::cpu(next).set_mpidr(mpidr);
        // An SMC or HVC is no barrier: complete the store before the firmware powers the
        // core up (it reads it with its MMU and caches on, so no cleaning is needed).
        // SAFETY: barrier only.
        unsafe { core::arch::asm!("dsb ish", options(nostack)) };
        match psci::cpu_on(mpidr, entry, next as u64) {
            Ok(()) => started[next] = true,
            Err(e) => arch_println!("cpu@{mpidr:#x}: PSCI CPU_ON failed: {e}"),
        }
        next += 1;
    }

    let all_in = || (1..next).all(|n| !started[n] || percpu::cpu(n).is_online());
    if !wait_until(Some(timer::deadline_after(CHECK_IN_TIMEOUT)), all_in) {
        for n in (1..next).filter(|&n| started[n] && !percpu::cpu(n).is_online()) {
            let mpidr = percpu::cpu(n).mpidr();
            arch_println!(
                "cpu@{mpidr:#x}: did not check in within {} ms",
                CHECK_IN_TIMEOUT.as_millis()
            );
        }
    }
    SmpReport {
        online: online_cpus().count(),
        total: board.cpus.len(),
    }
}

/// A secondary core's first Rust, called by boot/head.s on the core's own stack with
/// the MMU on, at EL1, IRQs masked. Sets up its per-CPU data, GIC and timer, checks in
/// and goes idle.
#[unsafe(no_mangle)]
pub extern "C" fn secondary_main(cpu: usize) -> ! {
    percpu::set_this_cpu(cpu);
    let me = percpu::this_cpu();
    if this_mpidr() != me.mpidr() {
        arch_println!(
            "cpu{cpu}: started as cpu@{:#x}, expected cpu@{:#x}; powering off",
            this_mpidr(),
            me.mpidr()
        );
        psci::cpu_off();
    }
    if let Err(e) = gic::init_this_cpu() {
        arch_println!("cpu@{:#x}: {e}; powering off", me.mpidr());
        psci::cpu_off();
    }
    timer::init_this_cpu();
    me.set_activity("idle");
    me.set_online(true);
    wake(0);
    idle_loop()
}

/// A secondary's life after check-in: sleep until the mailbox holds a job, run it,
/// report completion to the core that posted it, sleep again.
fn idle_loop() -> ! {
    let me = percpu::this_cpu();
    loop {
        wait_until(None, || me.mailbox.has_job());
        if let Some(job) = me.mailbox.take() {
            me.set_activity(job.name);
            (job.func)(job.arg);
            me.set_activity("idle");
            me.mailbox.finish();
            wake(job.from);
        }
    }
}

/// Sleeps on the calling core until `done()` holds (returns true) or the counter passes
/// `deadline` (returns false). Whoever makes `done()` true must then `wake` this core.
///
/// The check runs with IRQs masked, then WFI: an SGI sent after the check leaves the
/// interrupt pending, and WFI returns at once on a pending interrupt even when masked,
/// so the wake-up cannot fall between the check and the sleep. Pending IRQs are then
/// taken in a short unmasked window (acknowledging the SGI, stopping the timer) and the
/// condition is checked again.
pub fn wait_until(deadline: Option<u64>, mut done: impl FnMut() -> bool) -> bool {
    let daif = irq::local_irq_save();
    let met = loop {
        if done() {
            break true;
        }
        if let Some(deadline) = deadline {
            if timer::now_ticks() >= deadline {
                break false;
            }
            timer::arm(deadline);
        }
        let cpu = percpu::this_cpu_id();
        let slept = timer::now_ticks();
        IDLE_SINCE[cpu].store(slept, Ordering::Relaxed);
        irq::wait_for_interrupt();
        let woke = timer::now_ticks();
        // Clear first: a reader in between misses this sleep rather than counting it twice.
        IDLE_SINCE[cpu].store(0, Ordering::Relaxed);
        IDLE_TICKS[cpu].fetch_add(woke - slept, Ordering::Relaxed);
        irq::take_pending();
    };
    if deadline.is_some() {
        timer::disarm();
    }
    irq::local_irq_restore(daif);
    met
}

/// Timer ticks each CPU has spent in `wait_until`'s WFI, ever, and when its current
/// WFI began (0: not in WFI). Each written only by its own CPU.
static IDLE_TICKS: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static IDLE_SINCE: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// Timer ticks logical CPU `cpu` has spent asleep in WFI up to now (the sleep it is in,
/// if any, included), for `top`'s busy share: busy = elapsed - idle.
pub fn idle_ticks(cpu: usize) -> u64 {
    let (Some(total), Some(since)) = (IDLE_TICKS.get(cpu), IDLE_SINCE.get(cpu)) else {
        return 0;
    };
    let since = since.load(Ordering::Relaxed);
    let current = if since == 0 {
        0
    } else {
        timer::now_ticks().saturating_sub(since)
    };
    total.load(Ordering::Relaxed) + current
}

/// Sleeps on the calling core for `d` (other cores' SGIs may wake it early; it sleeps on).
pub fn sleep(d: Duration) {
    wait_until(Some(timer::deadline_after(d)), || false);
}

/// Wakes logical CPU `cpu` if it sleeps in `wait_until`, so it re-checks its condition.
pub fn wake(cpu: usize) {
    gic::send_sgi(cpu, gic::SGI_WAKE);
}

/// A function to run on another core, with its argument, as `run_on` posts it.
#[derive(Clone, Copy)]
pub struct Job {
    /// What the core runs, as `percpu::PerCpu::activity` shows it.
    pub name: &'static str,
    pub func: fn(usize),
    pub arg: usize,
    /// The core to wake when the job is done.
    from: usize,
}

/// Why `run_on` or `offline` refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunError {
    /// No such logical CPU (>= MAX_CPUS).
    NoSuchCpu(usize),
    /// The CPU is not online.
    Offline(usize),
    /// The caller itself: it would wait for its own idle loop.
    IsCaller(usize),
    /// The CPU already has a job waiting or running.
    Busy(usize),
    /// The CPU did not power off in time (`offline`).
    StillOn(usize),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::NoSuchCpu(n) => write!(f, "cpu{n}: no such CPU (MAX_CPUS = {MAX_CPUS})"),
            RunError::Offline(n) => write!(f, "cpu{n}: not online"),
            RunError::IsCaller(n) => write!(f, "cpu{n}: is the calling CPU"),
            RunError::Busy(n) => write!(f, "cpu{n}: busy with another job"),
            RunError::StillOn(n) => write!(f, "cpu{n}: still on after CPU_OFF"),
        }
    }
}

/// A posted job: `wait` for it with this.
#[derive(Clone, Copy, Debug)]
pub struct Ticket {
    cpu: usize,
    ticket: u64,
}

/// Runs `func(arg)` on logical CPU `cpu`, which must be online, idle and not the caller:
/// posts it to the core's mailbox and wakes the core. Returns at once.
pub fn run_on(
    cpu: usize,
    name: &'static str,
    func: fn(usize),
    arg: usize,
) -> Result<Ticket, RunError> {
    let from = percpu::this_cpu_id();
    if cpu >= MAX_CPUS {
        return Err(RunError::NoSuchCpu(cpu));
    }
    if cpu == from {
        return Err(RunError::IsCaller(cpu));
    }
    let target = percpu::cpu(cpu);
    if !target.is_online() {
        return Err(RunError::Offline(cpu));
    }
    let job = Job {
        name,
        func,
        arg,
        from,
    };
    let ticket = target.mailbox.post(job).map_err(|_| RunError::Busy(cpu))?;
    wake(cpu);
    Ok(Ticket { cpu, ticket })
}

/// Sleeps until the job behind `ticket` has run (true) or `deadline` passes (false).
/// Whatever the job wrote is visible to the caller once this returns true.
pub fn wait(ticket: Ticket, deadline: Option<u64>) -> bool {
    let mailbox = &percpu::cpu(ticket.cpu).mailbox;
    wait_until(deadline, || mailbox.completed() >= ticket.ticket)
}

/// How often `wait_polling` calls its poll hook.
pub const POLL_PERIOD: Duration = Duration::from_millis(10);

/// `wait`, calling `poll` every `POLL_PERIOD` while the job runs (the console on CPU 0
/// stays live while a run waits for its jobs); without a hook, plain `wait`.
pub fn wait_polling(
    ticket: Ticket,
    deadline: Option<u64>,
    poll: Option<&mut (dyn FnMut() + '_)>,
) -> bool {
    let Some(poll) = poll else {
        return wait(ticket, deadline);
    };
    loop {
        let slice = timer::deadline_after(POLL_PERIOD);
        if wait(ticket, Some(deadline.map_or(slice, |d| d.min(slice)))) {
            return true;
        }
        if deadline.is_some_and(|d| timer::now_ticks() >= d) {
            return false;
        }
        poll();
    }
}

/// Powers logical CPU `cpu` off (PSCI CPU_OFF, run on that core through its mailbox) and
/// waits until the firmware reports it off. It stays off until the next boot.
pub fn offline(cpu: usize) -> Result<(), RunError> {
    run_on(cpu, "cpu_off", power_off_this_cpu, 0)?;
    let mpidr = percpu::cpu(cpu).mpidr();
    let deadline = timer::deadline_after(OFF_TIMEOUT);
    // Nothing wakes us when a core dies: look every millisecond.
    while timer::now_ticks() < deadline {
        if psci::affinity_info(mpidr) == Ok(psci::AffinityState::Off) {
            return Ok(());
        }
        sleep(Duration::from_millis(1));
    }
    Err(RunError::StillOn(cpu))
}

/// The job `offline` runs: leave the online set, silence this core's timer, power off.
fn power_off_this_cpu(_: usize) {
    let me = percpu::this_cpu();
    me.set_online(false);
    me.set_activity("offline");
    timer::disarm();
    psci::cpu_off();
}

/// Logical CPUs online now.
pub fn online_cpus() -> impl Iterator<Item = usize> {
    (0..MAX_CPUS).filter(|&n| percpu::cpu(n).is_online())
}

/// What `check` measured; a scenario prints it as its `RESULT`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SmpCheck {
    /// Logical CPUs online when the check began.
    pub cpus_online: usize,
    /// Secondaries that ran a job and reported the right logical id and MPIDR from it.
    pub jobs_ok: usize,
    /// Median time from `run_on` to `wait` returning, for an empty job on CPU 1 (0 when
    /// there is no CPU 1).
    pub roundtrip_ns: u64,
    /// How long a 10 ms `sleep` took (timer interrupt waking WFI).
    pub sleep_10ms_ns: u64,
    /// Time every core spent asleep at once, for measuring host CPU use from outside.
    pub idle_ms: u64,
    /// Secondaries powered off with PSCI CPU_OFF and reported off by AFFINITY_INFO.
    pub offlined: usize,
}

/// Per-CPU answers of `report_identity` jobs: logical id and MPIDR as the core saw them.
static IDENTITY: [(AtomicUsize, AtomicU64); MAX_CPUS] =
    [const { (AtomicUsize::new(usize::MAX), AtomicU64::new(0)) }; MAX_CPUS];

/// Job: record who runs it, into `IDENTITY[slot]`.
fn report_identity(slot: usize) {
    IDENTITY[slot]
        .0
        .store(percpu::this_cpu_id(), Ordering::Relaxed);
    IDENTITY[slot].1.store(this_mpidr(), Ordering::Relaxed);
}

fn nothing(_: usize) {}

/// Exercises SMP on the boot CPU after `bring_up`: lists what each core runs, runs a job
/// on every secondary (checked to run where it was sent; the mailbox's Release/Acquire
/// makes its writes visible here), times IPI round trips and a 10 ms sleep, lets the whole
/// machine idle for `idle`, then powers every secondary off. Prints what goes wrong, by
/// MPIDR.
pub fn check(idle: Duration) -> SmpCheck {
    let mut out = SmpCheck {
        cpus_online: online_cpus().count(),
        ..SmpCheck::default()
    };
    for cpu in online_cpus() {
        let c = percpu::cpu(cpu);
        arch_println!("smp: cpu{cpu} cpu@{:#x}: {}", c.mpidr(), c.activity());
    }
    let job_deadline = || Some(timer::deadline_after(Duration::from_millis(100)));
    for cpu in online_cpus().filter(|&n| n != 0) {
        let mpidr = percpu::cpu(cpu).mpidr();
        match run_on(cpu, "report_identity", report_identity, cpu) {
            Ok(t) if wait(t, job_deadline()) => {
                let id = IDENTITY[cpu].0.load(Ordering::Relaxed);
                let seen = IDENTITY[cpu].1.load(Ordering::Relaxed);
                if id == cpu && seen == mpidr {
                    out.jobs_ok += 1;
                } else {
                    arch_println!("cpu@{mpidr:#x}: job ran as cpu{id} (cpu@{seen:#x})");
                }
            }
            Ok(_) => arch_println!("cpu@{mpidr:#x}: job did not finish within 100 ms"),
            Err(e) => arch_println!("cpu@{mpidr:#x}: {e}"),
        }
    }

    if percpu::cpu(1).is_online() {
        const ROUNDS: usize = 21;
        let mut samples = [0u64; ROUNDS];
        for sample in &mut samples {
            let start = timer::now_ticks();
            match run_on(1, "nothing", nothing, 0) {
                Ok(t) if wait(t, job_deadline()) => {}
                _ => arch_println!("cpu1: round trip failed"),
            }
            *sample = timer::now_ticks() - start;
        }
        samples.sort_unstable();
        out.roundtrip_ns = timer::ticks_to_duration(samples[ROUNDS / 2]).as_nanos() as u64;
    }

    let start = timer::now_ticks();
    sleep(Duration::from_millis(10));
    out.sleep_10ms_ns = timer::ticks_to_duration(timer::now_ticks() - start).as_nanos() as u64;

    let start = timer::uptime();
    sleep(idle);
    out.idle_ms = (timer::uptime() - start).as_millis() as u64;

    for cpu in online_cpus().filter(|&n| n != 0) {
        match offline(cpu) {
            Ok(()) => out.offlined += 1,
            Err(e) => arch_println!("cpu@{:#x}: {e}", percpu::cpu(cpu).mpidr()),
        }
    }
    out
}
