//! `scenario=protect`: makes, on purpose, each access the kernel map must refuse and
//! checks that the right fault is raised and caught (through `exception::probe`):
//! writing text and rodata, executing data and heap, touching address 0, overflowing a
//! stack into its guard page. Then one fault that is resolved, not caught: a load
//! from a workload-region page never touched, with known values in q0-q31, FPSR and
//! FPCR, which must come back unchanged. `RESULT {"scenario":"protect","checks":N,
//! "caught":N,"fpsimd_preserved":B}` (null where the machine is too small to set the
//! region up). Owns the checks and their verdicts; the faulting
//! accesses themselves and the probe that catches them are arch's
//! (`exception::probe`, `fpsimd`).

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use kernel::anon_pte::AnonPte;
use kernel::esr::{FaultKind, ec};
use kernel::sizing::Anon;
use mm::reclaim::policy::ReclaimMode;

use super::{BootInfo, print_result, settings};
use crate::arch::aarch64::exception::probe::{self, Fault, branch_to, load_from, store_to};
use crate::arch::aarch64::fpsimd::{self, FpSimdState};
use crate::arch::aarch64::stack;
use crate::reclaim::Layout;
use crate::{fault, println, run, vm};

/// `ret`, as data.
const RET_INSTRUCTION: u32 = 0xd65f_03c0;

/// An instruction in `.data` (initialised, so not BSS).
static mut RET_IN_DATA: u32 = RET_INSTRUCTION;
/// A word in `.rodata`.
static READ_ONLY_WORD: u64 = 0x5ca1_ab1e;

/// Recurses until the stack runs into its guard page.
extern "C" fn recurse(depth: usize) {
    let frame = core::hint::black_box([depth as u8; 256]);
    if depth < usize::MAX {
        recurse(depth + 1);
    }
    core::hint::black_box(frame);
}

struct Check {
    name: &'static str,
    run: extern "C" fn(usize),
    arg: usize,
    stack: Option<usize>,
    /// Exception class and fault kind expected.
    class: u8,
    kind: FaultKind,
    /// The faulting address must fall in this range.
    far: (usize, usize),
}

fn judge(check: &Check, result: Result<(), Fault>) -> bool {
    match result {
        Ok(()) => {
            println!("protect: {}: NOT caught (no fault)", check.name);
            false
        }
        Err(f) => {
            let abort = f.esr.abort();
            let ok = f.esr.ec() == check.class
                && abort.is_some_and(|a| a.kind == check.kind && a.far_valid)
                && (check.far.0..check.far.1).contains(&(f.far as usize));
            println!(
                "protect: {}: {} at FAR {:#x} (ELR {:#x}): {}",
                check.name,
                if ok { "caught" } else { "WRONG fault" },
                f.far,
                f.elr,
                f.esr
            );
            ok
        }
    }
}

/// FPSR: cumulative flags IOC, IXC and QC, as code that computed something would leave.
const FPSR_FLAGS: u64 = (1 << 27) | (1 << 4) | 1;
/// FPCR: default NaN, flush to zero, round toward zero; the handler runs with 0.
const FPCR_MODES: u64 = (1 << 25) | (1 << 24) | (0b11 << 22);

/// Loads known values into q0-q31, FPSR and FPCR, takes a first-touch fault on the
/// workload region's page 0 (resolved by `fault::hook`: a frame allocated and zeroed,
/// which is where the handler's own code uses vector registers) and checks that every
/// register came back. The region and reclaim are set up as a one-page run would
/// (`run::prepare`); no daemon runs. `Ok(false)`: not run, the machine is too small for
/// reclaim's setup (said on the console).
fn fpsimd_across_fault(info: &BootInfo<'_>) -> Result<bool, String> {
    let layout = Layout {
        config: settings::reclaim_config(info.cmdline, ReclaimMode::Sync),
        kswapd_cpu: None,
        workers: &[],
        mem_limit: 0,
    };
    if let Err(e) = run::prepare(
        Anon::Pages(1),
        0,
        &layout,
        settings::zone_config(info.cmdline),
    ) {
        println!("protect: FP/SIMD check not run: {e}");
        return Ok(false);
    }
    fault::prepare_this_cpu();
    let mut known = FpSimdState {
        q: [0; 32],
        fpsr: FPSR_FLAGS,
        fpcr: FPCR_MODES,
    };
    for (i, q) in known.q.iter_mut().enumerate() {
        *q = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210_u128.rotate_left(4 * i as u32) ^ i as u128;
    }
    // Without a fault (the load reads `known` itself), the registers must hold what
    // was loaded, or the check below would prove nothing.
    let unfaulted = fpsimd::load_keeping(&known, (&raw const known) as usize);
    if unfaulted != known {
        return Err(format!(
            "the CPU did not keep the values loaded (no fault taken): {}",
            differences(&known, &unfaulted)
        ));
    }
    let pte = vm::pte(0).ok_or("the workload region has no page 0")?;
    let present = || {
        matches!(
            AnonPte::decode(pte.load(core::sync::atomic::Ordering::Acquire)),
            AnonPte::Present { .. }
        )
    };
    if present() {
        return Err(String::from(
            "region page 0 is mapped already: no fault to take",
        ));
    }
    let after = fpsimd::load_keeping(&known, vm::page_va(0) as usize);
    if !present() {
        return Err(String::from(
            "the load from region page 0 was not a resolved fault",
        ));
    }
    if after != known {
        return Err(format!(
            "changed across a resolved fault: {}",
            differences(&known, &after)
        ));
    }
    Ok(true)
}

/// The registers that differ, e.g. `v3 (0x.. -> 0x..), fpcr (0x.. -> 0x..)`.
fn differences(want: &FpSimdState, got: &FpSimdState) -> String {
    let mut list: Vec<String> = (0..32)
        .filter(|&i| want.q[i] != got.q[i])
        .map(|i| format!("v{i} ({:#x} -> {:#x})", want.q[i], got.q[i]))
        .collect();
    for (name, w, g) in [("fpsr", want.fpsr, got.fpsr), ("fpcr", want.fpcr, got.fpcr)] {
        if w != g {
            list.push(format!("{name} ({w:#x} -> {g:#x})"));
        }
    }
    list.join(", ")
}

pub fn run(info: &BootInfo<'_>) -> u32 {
    let text = crate::kmain as *const () as usize;
    let rodata = (&raw const READ_ONLY_WORD) as usize;
    let data = (&raw const RET_IN_DATA) as usize;
    let heap = Box::into_raw(Box::new(RET_INSTRUCTION)) as usize;
    let probe_top = stack::probe_stack_top();
    let guard = stack::probe_guard();
    let at = |a: usize| (a, a + 1);
    let checks = [
        Check {
            name: "write kernel text",
            run: store_to,
            arg: text,
            stack: None,
            class: ec::DABT_CUR,
            kind: FaultKind::Permission,
            far: at(text),
        },
        Check {
            name: "write rodata",
            run: store_to,
            arg: rodata,
            stack: None,
            class: ec::DABT_CUR,
            kind: FaultKind::Permission,
            far: at(rodata),
        },
        Check {
            name: "execute data",
            run: branch_to,
            arg: data,
            stack: None,
            class: ec::IABT_CUR,
            kind: FaultKind::Permission,
            far: at(data),
        },
        Check {
            name: "execute heap",
            run: branch_to,
            arg: heap,
            stack: None,
            class: ec::IABT_CUR,
            kind: FaultKind::Permission,
            far: at(heap),
        },
        Check {
            name: "read address 0",
            run: load_from,
            arg: 0,
            stack: None,
            class: ec::DABT_CUR,
            kind: FaultKind::Translation,
            far: at(0),
        },
        Check {
            name: "stack overflow into guard page",
            run: recurse,
            arg: 0,
            stack: Some(probe_top),
            class: ec::DABT_CUR,
            kind: FaultKind::Translation,
            far: guard,
        },
    ];
    let caught = checks
        .iter()
        .filter(|c| judge(c, probe::call(c.run, c.arg, c.stack)))
        .count();
    // SAFETY: allocated above by Box::new and not freed since.
    drop(unsafe { Box::from_raw(heap as *mut u32) });
    let fpsimd = fpsimd_across_fault(info);
    match &fpsimd {
        Ok(true) => println!("protect: q0-q31, FPSR, FPCR across a resolved fault: preserved"),
        Ok(false) => {}
        Err(e) => println!("protect: q0-q31, FPSR, FPCR across a resolved fault: {e}"),
    }
    /// `scenario=protect`'s RESULT.
    #[derive(serde::Serialize)]
    struct ProtectResult {
        scenario: &'static str,
        checks: usize,
        caught: usize,
        /// q0-q31, FPSR and FPCR came back unchanged across a resolved fault (null:
        /// not checked, the machine is too small for the workload region).
        fpsimd_preserved: Option<bool>,
        /// Why the check failed, if it did.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<alloc::string::String>,
    }
    let error = if caught != checks.len() {
        Some(format!("{caught} of {} faults caught", checks.len()))
    } else {
        fpsimd.as_ref().err().map(|e| format!("FP/SIMD state: {e}"))
    };
    let status = u32::from(error.is_some());
    print_result(&ProtectResult {
        scenario: "protect",
        checks: checks.len(),
        caught,
        fpsimd_preserved: match fpsimd {
            Ok(true) => Some(true),
            Ok(false) => None,
            Err(_) => Some(false),
        },
        error,
    });
    status
}
