//! `scenario=protect`: makes, on purpose, each access the kernel map must refuse and
//! checks that the right fault is raised and caught (through `exception::probe`):
//! writing text and rodata, executing data and heap, touching address 0, overflowing a
//! stack into its guard page. `RESULT {"scenario":"protect","checks":N,"caught":N}`.
//! Owns the checks and their verdicts; the faulting accesses themselves and the
//! probe that catches them are arch's (`exception::probe`).

use alloc::boxed::Box;

use kernel::esr::{FaultKind, ec};

use super::{BootInfo, print_result};
use crate::arch::aarch64::exception::probe::{self, Fault, branch_to, load_from, store_to};
use crate::arch::aarch64::stack;
use crate::println;

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

pub fn run(_info: &BootInfo<'_>) -> u32 {
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
    /// `scenario=protect`'s RESULT.
    #[derive(serde::Serialize)]
    struct ProtectResult {
        scenario: &'static str,
        checks: usize,
        caught: usize,
        /// Why the check failed, if it did.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<alloc::string::String>,
    }
    print_result(&ProtectResult {
        scenario: "protect",
        checks: checks.len(),
        caught,
        error: (caught != checks.len())
            .then(|| alloc::format!("{caught} of {} faults caught", checks.len())),
    });
    u32::from(caught != checks.len())
}
