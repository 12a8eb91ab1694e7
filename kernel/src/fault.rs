//! The page-fault handler of the workload region, Linux's `handle_mm_fault()` for
//! anonymous memory: first touch (`do_anonymous_page`: a zeroed frame from the
//! policy's `alloc_page`, possibly through direct reclaim), access-flag fault (set AF),
//! swap entry (`do_swap_page`: rescue, wait, or decompress). Runs in the exception
//! handler of the faulting core, on its exception stack; owns only the per-CPU
//! compressors direct reclaim uses. PTEs are `vm`'s, the policy `reclaim`'s. `hook` is
//! what kmain registers as arch's fault hook.

use alloc::boxed::Box;
use core::sync::atomic::Ordering;
use core::time::Duration;

use kernel::anon_pte::{AnonPte, PTE_AF};
use mm::addr::{PAGE_SIZE, Pfn};
use mm::reclaim::policy::{Reclaimer, SwapIn, SwapInError};
use mm::reclaim::swap::SwapEntry;
use mm::trace::{self, Event, FaultKind};
use mm::vmstat::VmEvent;
use mm::zram::Compressor;

use crate::arch::aarch64::exception::{FaultOutcome, Line};
use crate::arch::aarch64::{MAX_CPUS, percpu, smp};
use crate::reclaim::{self, KernelMmu};
use crate::vm;

/// Each faulting core's compressor for direct reclaim (set up before its workload
/// runs: the fault path never allocates from the heap).
static COMPRESSORS: [spin::Mutex<Option<Box<Compressor>>>; MAX_CPUS] =
    [const { spin::Mutex::new(None) }; MAX_CPUS];

/// Why a fault could not be resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultError {
    /// No frame, even after direct reclaim: the workload must stop.
    OutOfMemory,
    /// This core has no compressor, or reclaim is not set up: not a workload core.
    NotReady,
    /// The PTE holds a descriptor the region never writes.
    BadPte(u64),
}

/// Gives the calling core what its faults need. Call before it touches the region.
pub fn prepare_this_cpu() {
    let mut slot = COMPRESSORS[percpu::this_cpu_id()].lock();
    if slot.is_none() {
        *slot = Some(Box::new(Compressor::new()));
    }
}

/// A short wait for a compressor to finish a page, or for frames on their way back
/// (`reclaim_throttle`): WFI until the timer, so a waiting core does not spin.
fn throttle() {
    smp::sleep(Duration::from_micros(100));
}

/// The exception code's fault hook (`exception::set_fault_hook`): takes the workload
/// region's faults, leaves every other fault to the exception code. Out of memory is
/// abortable: the workload runs under `probe::call`, and the fault ends it there.
pub fn hook(esr: u64, far: u64) -> FaultOutcome {
    if !vm::is_region_fault(esr, far) {
        return FaultOutcome::NotMine;
    }
    match handle(far) {
        Ok(()) => FaultOutcome::Resolved,
        Err(e) => FaultOutcome::Unresolved {
            abortable: e == FaultError::OutOfMemory,
            why: Line::from_fmt(format_args!("workload region fault not resolved: {e:?}")),
        },
    }
}

/// Resolves a fault at `far` in the workload region.
fn handle(far: u64) -> Result<(), FaultError> {
    let sys = reclaim::system().ok_or(FaultError::NotReady)?;
    reclaim::trace_sample_periodic(sys);
    let va = far & !(PAGE_SIZE as u64 - 1);
    let pte = vm::pte_of_va(va).ok_or(FaultError::NotReady)?;
    let mut slot = COMPRESSORS[percpu::this_cpu_id()].lock();
    let compressor = slot.as_deref_mut().ok_or(FaultError::NotReady)?;
    let stat = reclaim::this_cpu_stat();
    let mut reclaimer = Reclaimer {
        mmu: KernelMmu::default(),
        compressor,
        stat,
        psi: Some(reclaim::this_cpu_psi()),
    };
    let policy = &sys.policy;
    loop {
        let v = pte.load(Ordering::Acquire);
        match AnonPte::decode(v) {
            AnonPte::None => {
                trace::emit(Event::PageFault(FaultKind::FirstTouch));
                let pfn = policy
                    .alloc_page(&mut reclaimer, &mut reclaim::wake_kswapd, &mut throttle)
                    .map_err(|_| FaultError::OutOfMemory)?;
                stat.count(VmEvent::PgFault);
                // SAFETY: a frame just allocated for us, identity-mapped, mapped
                // nowhere else yet. Anonymous memory starts zeroed, as in Linux.
                unsafe { core::ptr::write_bytes(pfn.page_address(), 0, PAGE_SIZE) };
                map(pte, va, pfn);
                policy.lru_add_new(pfn);
                return Ok(());
            }
            AnonPte::Present { young: false, .. } => {
                trace::emit(Event::PageFault(FaultKind::AccessFlag));
                // Software access flag (no hardware AF update): this access makes the
                // page young again. A failed CAS means reclaim got there: look again.
                if pte
                    .compare_exchange(v, v | PTE_AF, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
                {
                    reclaim::AF_FAULTS.fetch_add(1, Ordering::Relaxed);
                    vm::publish_pte();
                    return Ok(());
                }
            }
            // Another core's old TLB entry, or a fault that raced an AF update: retry.
            AnonPte::Present { young: true, .. } => return Ok(()),
            AnonPte::Swap(bits) => {
                trace::emit(Event::PageFault(FaultKind::Swap));
                let entry = SwapEntry::from_bits(bits).ok_or(FaultError::BadPte(v))?;
                let mut map_it = |pfn: Pfn| map(pte, va, pfn);
                match policy.do_swap_page(
                    &mut reclaimer,
                    entry,
                    &mut reclaim::wake_kswapd,
                    &mut throttle,
                    &mut map_it,
                ) {
                    Ok(SwapIn::Rescued(_) | SwapIn::Loaded(_)) => return Ok(()),
                    Ok(SwapIn::Retry) => {}
                    Err(SwapInError::OutOfMemory) => return Err(FaultError::OutOfMemory),
                    Err(SwapInError::Load(_)) => {
                        // The page is lost (corrupt slot): start it over as a zero
                        // page; the workload's check of its bytes counts it corrupt.
                        pte.store(0, Ordering::Relaxed);
                    }
                }
            }
            AnonPte::Bad(desc) => return Err(FaultError::BadPte(desc)),
        }
    }
}

/// Maps `pfn` at `va` (young: the faulting access is one), reverse map first.
fn map(pte: &core::sync::atomic::AtomicU64, va: u64, pfn: Pfn) {
    reclaim::set_rmap(pfn, va);
    let desc = AnonPte::Present {
        pa: pfn.addr(),
        young: true,
    }
    .encode();
    // Frames come from the zone: page-aligned, below 2^48.
    if let Some(desc) = desc {
        // Release: the frame's contents (zeroed or loaded) before the mapping.
        pte.store(desc, Ordering::Release);
    }
    vm::publish_pte();
}
