//! A QEMU TCG plugin (plugin API version 1, as QEMU 7.2 loads it) that counts, per
//! translated block and per vCPU, how often each block ran inside the guest's
//! measurement windows, and writes those counts to a file for `insn-profile`.
//! It owns only counting: which function or step an address belongs to is
//! `insn-profile`'s. The FFI is written by hand from QEMU's `qemu-plugin.h` (v1).
//!
//! Windows: the guest runs `hint #0x78` where a window opens and `hint #0x79` where
//! it closes (unallocated hints: NOPs on any Armv8 core, at EL0 and EL1 alike). At
//! each close the plugin writes the window's counts and starts the next from zero.
//! `window=all` counts the whole run as one window instead (no marks needed).
//!
//!   qemu-system-aarch64 ... -plugin target/release/libinsn_plugin.so,out=FILE[,window=marked|all][,leaf=START-END...]
//!
//! Leaf functions (`leaf=`, hex guest addresses, end exclusive; memcpy, memset: code
//! that many steps call) are also counted per call site: the last instruction of the
//! last block outside every leaf range that the same vCPU entered before (the `bl`
//! that ended it), so their instructions can be charged to the step that called them.
//!
//! Output: `insn-profile v1 vcpus N`, then per window `window K` (1, 2, ...), one line
//! `ADDR NINSNS C0 C1 .. C(N-1)` per block that ran (hex guest virtual address, its
//! instruction count, then how often each vCPU ran it), one line
//! `call ADDR NINSNS CALLSITE C0 .. C(N-1)` per leaf block and call site, and `end K`. The
//! same block may appear twice (QEMU translated it again); readers add the lines up. A
//! block that an exception cuts short counts whole: the counts are of blocks entered.

use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_int, c_uint, c_void};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// `hint #0x78` and `hint #0x79`: where the guest opens and closes a window.
pub const WINDOW_OPEN: u32 = hint(0x78);
pub const WINDOW_CLOSE: u32 = hint(0x79);

/// The A64 encoding of `hint #imm` (HINT: 0xd503201f with CRm:op2 = imm).
pub const fn hint(imm: u32) -> u32 {
    0xd503_201f | ((imm & 0x7f) << 5)
}

type PluginId = u64;

#[repr(C)]
pub struct QemuInfo {
    target_name: *const c_char,
    version_min: c_int,
    version_cur: c_int,
    system_emulation: bool,
    smp_vcpus: c_int,
    max_vcpus: c_int,
}

/// Opaque QEMU handles.
#[repr(C)]
struct Tb {
    _private: [u8; 0],
}
#[repr(C)]
struct Insn {
    _private: [u8; 0],
}

/// `QEMU_PLUGIN_CB_NO_REGS`.
const CB_NO_REGS: c_int = 0;

unsafe extern "C" {
    fn qemu_plugin_register_vcpu_tb_trans_cb(id: PluginId, cb: extern "C" fn(PluginId, *mut Tb));
    fn qemu_plugin_register_vcpu_tb_exec_cb(
        tb: *mut Tb,
        cb: extern "C" fn(c_uint, *mut c_void),
        flags: c_int,
        userdata: *mut c_void,
    );
    fn qemu_plugin_register_vcpu_insn_exec_cb(
        insn: *mut Insn,
        cb: extern "C" fn(c_uint, *mut c_void),
        flags: c_int,
        userdata: *mut c_void,
    );
    fn qemu_plugin_register_atexit_cb(
        id: PluginId,
        cb: extern "C" fn(PluginId, *mut c_void),
        userdata: *mut c_void,
    );
    fn qemu_plugin_tb_n_insns(tb: *const Tb) -> usize;
    fn qemu_plugin_tb_vaddr(tb: *const Tb) -> u64;
    fn qemu_plugin_tb_get_insn(tb: *const Tb, idx: usize) -> *mut Insn;
    fn qemu_plugin_insn_data(insn: *const Insn) -> *const c_void;
    fn qemu_plugin_insn_size(insn: *const Insn) -> usize;
    fn qemu_plugin_outs(s: *const c_char);
}

/// The plugin API version this plugin was written against (QEMU checks it on load).
#[unsafe(no_mangle)]
pub static qemu_plugin_version: c_int = 1;

/// One translated block: where it starts, its length, and how often each vCPU
/// entered it in the open window. Leaked: QEMU may run a block until it exits.
pub struct Block {
    vaddr: u64,
    insns: u32,
    leaf: bool,
    runs: Box<[AtomicU64]>,
}

/// Per vCPU: the last block entered outside the leaf ranges, and the leaf blocks'
/// runs by (leaf block, that caller).
struct Vcpu {
    caller: AtomicPtr<Block>,
    calls: Mutex<HashMap<(usize, usize), u64>>,
}

struct State {
    vcpus: usize,
    all: bool,
    leaves: Vec<(u64, u64)>,
    per_vcpu: Box<[Vcpu]>,
    out: Mutex<Option<BufWriter<File>>>,
    blocks: Mutex<Vec<&'static Block>>,
    open: AtomicBool,
    windows: AtomicUsize,
}

static STATE: OnceLock<State> = OnceLock::new();

fn state() -> &'static State {
    STATE.get().expect("qemu_plugin_install ran first")
}

/// What the `-plugin` arguments ask for.
#[derive(Debug, PartialEq, Eq)]
pub struct Args {
    pub out: String,
    pub all: bool,
    /// Leaf functions' address ranges, `[start, end)`.
    pub leaves: Vec<(u64, u64)>,
}

/// Parses `out=FILE`, `window=marked|all` and `leaf=START-END`; anything else is an
/// error naming it.
pub fn parse_args<'a>(args: impl IntoIterator<Item = &'a str>) -> Result<Args, String> {
    let (mut out, mut all, mut leaves) = (None, false, Vec::new());
    for arg in args {
        match arg.split_once('=') {
            Some(("out", v)) if !v.is_empty() => out = Some(v.to_string()),
            Some(("window", "marked")) => all = false,
            Some(("window", "all")) => all = true,
            Some(("leaf", v)) => leaves.push(
                parse_range(v).ok_or(format!("insn-plugin: leaf={v}: not START-END in hex"))?,
            ),
            _ => {
                return Err(format!(
                    "insn-plugin: unknown argument '{arg}' (out=FILE, window=marked|all, leaf=START-END)"
                ));
            }
        }
    }
    let out = out.ok_or("insn-plugin: out=FILE is required")?;
    Ok(Args { out, all, leaves })
}

fn parse_range(v: &str) -> Option<(u64, u64)> {
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok();
    let (a, b) = v.split_once('-')?;
    let (a, b) = (hex(a)?, hex(b)?);
    (a < b).then_some((a, b))
}

fn say(msg: &str) {
    let line = std::ffi::CString::new(format!("{msg}\n")).unwrap_or_default();
    // SAFETY: a NUL-terminated string that lives across the call.
    unsafe { qemu_plugin_outs(line.as_ptr()) };
}

/// # Safety
/// Called by QEMU once, with `info` valid and `argv` holding `argc` C strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qemu_plugin_install(
    id: PluginId,
    info: *const QemuInfo,
    argc: c_int,
    argv: *const *const c_char,
) -> c_int {
    // SAFETY: QEMU passes a valid qemu_info_t for the call.
    let info = unsafe { &*info };
    let words: Vec<&str> = (0..argc.max(0) as usize)
        // SAFETY: argv holds argc NUL-terminated strings that outlive the plugin.
        .filter_map(|i| unsafe { CStr::from_ptr(*argv.add(i)) }.to_str().ok())
        .collect();
    let args = match parse_args(words) {
        Ok(a) => a,
        Err(e) => {
            say(&e);
            return -1;
        }
    };
    if !info.system_emulation {
        say("insn-plugin: system emulation only");
        return -1;
    }
    let file = match File::create(&args.out) {
        Ok(f) => f,
        Err(e) => {
            say(&format!("insn-plugin: cannot create {}: {e}", args.out));
            return -1;
        }
    };
    let vcpus = info.max_vcpus.max(info.smp_vcpus).max(1) as usize;
    let mut out = BufWriter::new(file);
    if writeln!(out, "insn-profile v1 vcpus {vcpus}").is_err() {
        return -1;
    }
    let _ = STATE.set(State {
        vcpus,
        all: args.all,
        leaves: args.leaves,
        per_vcpu: (0..vcpus)
            .map(|_| Vcpu {
                caller: AtomicPtr::new(std::ptr::null_mut()),
                calls: Mutex::new(HashMap::new()),
            })
            .collect(),
        out: Mutex::new(Some(out)),
        blocks: Mutex::new(Vec::new()),
        open: AtomicBool::new(args.all),
        windows: AtomicUsize::new(0),
    });
    // SAFETY: registering callbacks with the id QEMU gave us.
    unsafe {
        qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
        qemu_plugin_register_atexit_cb(id, on_exit, std::ptr::null_mut());
    }
    0
}

extern "C" fn on_translate(_id: PluginId, tb: *mut Tb) {
    let st = state();
    // SAFETY: `tb` is valid for the duration of this callback.
    let (vaddr, n) = unsafe { (qemu_plugin_tb_vaddr(tb), qemu_plugin_tb_n_insns(tb)) };
    let block: &'static Block = Box::leak(Box::new(Block {
        vaddr,
        insns: n as u32,
        leaf: st.leaves.iter().any(|&(a, b)| (a..b).contains(&vaddr)),
        runs: (0..st.vcpus).map(|_| AtomicU64::new(0)).collect(),
    }));
    st.blocks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(block);
    // SAFETY: `tb` is valid here; `block` lives for the rest of the process.
    unsafe {
        qemu_plugin_register_vcpu_tb_exec_cb(
            tb,
            on_block,
            CB_NO_REGS,
            block as *const Block as *mut c_void,
        )
    };
    if st.all {
        return;
    }
    for i in 0..n {
        // SAFETY: i < n_insns; the instruction's bytes are valid during translation.
        let word = unsafe {
            let insn = qemu_plugin_tb_get_insn(tb, i);
            if qemu_plugin_insn_size(insn) != 4 {
                continue;
            }
            (qemu_plugin_insn_data(insn) as *const u32).read_unaligned()
        };
        let cb: extern "C" fn(c_uint, *mut c_void) = match u32::from_le(word) {
            WINDOW_OPEN => on_open,
            WINDOW_CLOSE => on_close,
            _ => continue,
        };
        // SAFETY: as above; the callback takes no user data.
        unsafe {
            qemu_plugin_register_vcpu_insn_exec_cb(
                qemu_plugin_tb_get_insn(tb, i),
                cb,
                CB_NO_REGS,
                std::ptr::null_mut(),
            )
        };
    }
}

extern "C" fn on_block(vcpu: c_uint, data: *mut c_void) {
    // SAFETY: `data` is the leaked `Block` registered with this callback.
    let block = unsafe { &*(data as *const Block) };
    let st = state();
    let (Some(c), Some(me)) = (
        block.runs.get(vcpu as usize),
        st.per_vcpu.get(vcpu as usize),
    ) else {
        return;
    };
    if !block.leaf {
        me.caller.store(data as *mut Block, Ordering::Relaxed);
    }
    if !st.open.load(Ordering::Relaxed) {
        return;
    }
    c.fetch_add(1, Ordering::Relaxed);
    if block.leaf {
        let caller = me.caller.load(Ordering::Relaxed) as usize;
        let mut calls = me.calls.lock().unwrap_or_else(|e| e.into_inner());
        *calls.entry((data as usize, caller)).or_default() += 1;
    }
}

extern "C" fn on_open(_vcpu: c_uint, _data: *mut c_void) {
    state().open.store(true, Ordering::Relaxed);
}

extern "C" fn on_close(_vcpu: c_uint, _data: *mut c_void) {
    let st = state();
    if st.open.swap(false, Ordering::Relaxed) {
        write_window(st);
    }
}

extern "C" fn on_exit(_id: PluginId, _data: *mut c_void) {
    let st = state();
    // `window=all`: the whole run is the one window. A marked window still open at
    // exit was never closed: it is not written (its end is unknown).
    if st.all {
        write_window(st);
    }
    if let Some(mut out) = st.out.lock().unwrap_or_else(|e| e.into_inner()).take()
        && out.flush().is_err()
    {
        say("insn-plugin: could not write the profile");
    }
}

/// Writes the window's counts and zeroes them (each counter swapped, so a vCPU still
/// running loses nothing between the read and the reset).
fn write_window(st: &State) {
    let k = st.windows.fetch_add(1, Ordering::Relaxed) + 1;
    let blocks = st.blocks.lock().unwrap_or_else(|e| e.into_inner());
    let mut guard = st.out.lock().unwrap_or_else(|e| e.into_inner());
    let Some(out) = guard.as_mut() else { return };
    let mut ok = writeln!(out, "window {k}").is_ok();
    let mut line = String::new();
    for b in blocks.iter() {
        let runs: Vec<u64> = b
            .runs
            .iter()
            .map(|c| c.swap(0, Ordering::Relaxed))
            .collect();
        if runs.iter().all(|&r| r == 0) {
            continue;
        }
        line.clear();
        line.push_str(&format!("{:x} {}", b.vaddr, b.insns));
        for r in runs {
            line.push_str(&format!(" {r}"));
        }
        ok &= writeln!(out, "{line}").is_ok();
    }
    // Leaf blocks by caller: (leaf, caller) -> runs per vCPU.
    let mut calls: HashMap<(usize, usize), Vec<u64>> = HashMap::new();
    for (v, me) in st.per_vcpu.iter().enumerate() {
        let taken = std::mem::take(&mut *me.calls.lock().unwrap_or_else(|e| e.into_inner()));
        for (key, n) in taken {
            calls.entry(key).or_insert_with(|| vec![0; st.vcpus])[v] += n;
        }
    }
    for ((leaf, caller), runs) in calls {
        // SAFETY: both are leaked `Block`s (a caller of 0: none seen yet).
        let leaf = unsafe { &*(leaf as *const Block) };
        let caller = match caller {
            0 => 0,
            p => {
                // SAFETY: as above.
                let b = unsafe { &*(p as *const Block) };
                b.vaddr + 4 * u64::from(b.insns.saturating_sub(1))
            }
        };
        line.clear();
        line.push_str(&format!(
            "call {:x} {} {:x}",
            leaf.vaddr, leaf.insns, caller
        ));
        for r in runs {
            line.push_str(&format!(" {r}"));
        }
        ok &= writeln!(out, "{line}").is_ok();
    }
    ok &= writeln!(out, "end {k}").is_ok();
    if !ok {
        say("insn-plugin: could not write the profile");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_the_hint_encodings() {
        // `hint #0x78` / `hint #0x79` as an assembler writes them; NOP is hint #0.
        assert_eq!(hint(0), 0xd503_201f);
        assert_eq!(WINDOW_OPEN, 0xd503_2f1f);
        assert_eq!(WINDOW_CLOSE, 0xd503_2f3f);
    }

    #[test]
    fn arguments() {
        assert_eq!(
            parse_args(["out=/tmp/p", "window=all"]),
            Ok(Args {
                out: "/tmp/p".into(),
                all: true,
                leaves: vec![]
            })
        );
        let a = parse_args(["out=x", "leaf=0x40001000-40001080", "leaf=10-20"]).unwrap();
        assert_eq!(a.leaves, [(0x4000_1000, 0x4000_1080), (0x10, 0x20)]);
        assert!(
            parse_args(["out=x", "leaf=20-10"])
                .unwrap_err()
                .contains("leaf=20-10")
        );
        assert!(parse_args(["out=x", "leaf=zz"]).is_err());
        assert!(!parse_args(["out=x"]).unwrap().all);
        assert!(parse_args(["window=all"]).unwrap_err().contains("out=FILE"));
        assert!(
            parse_args(["out=x", "bogus=1"])
                .unwrap_err()
                .contains("'bogus=1'")
        );
        assert!(parse_args(["out=x", "window=some"]).is_err());
    }
}
