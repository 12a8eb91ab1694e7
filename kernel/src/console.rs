//! The kernel console: the UART the DTB's `/chosen/stdout-path` names, behind
//! `print!`/`println!` from any core, and polled input for the shell. A spin lock keeps
//! lines whole; the fatal path (`fatal_println!`) waits for it only briefly, then
//! writes anyway, so a report from a core that faulted while another held the lock
//! still comes out. The shell's input line (prompt and typed text) is kept apart:
//! other output erases it first and tells the shell to draw it again, so nothing lands
//! glued to a prompt. Owns the UART and its lock; `init` also registers them as arch
//! code's console (`arch::aarch64::console`), which must not reach in here by path.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

use platform::ConsoleKind;

use crate::arch::aarch64::console::{self as arch_console, Sink};
use crate::drivers::{ns16550::Ns16550, pl011::Pl011};

pub enum Uart {
    Pl011(Pl011),
    Ns16550(Ns16550),
}

impl Uart {
    fn write_byte(&self, byte: u8) {
        match self {
            Uart::Pl011(u) => u.write_byte(byte),
            Uart::Ns16550(u) => u.write_byte(byte),
        }
    }

    /// A received byte, if one is waiting (polled).
    fn read_byte(&self) -> Option<u8> {
        match self {
            Uart::Pl011(u) => u.read_byte(),
            Uart::Ns16550(u) => u.read_byte(),
        }
    }

    fn flush(&self) {
        match self {
            Uart::Pl011(u) => u.flush(),
            Uart::Ns16550(u) => u.flush(),
        }
    }
}

// SAFETY: a UART is a set of MMIO registers used only through volatile accesses; the
// console lock serialises writers, and a racing reader or fatal-path writer can at
// worst interleave characters, never break memory safety.
unsafe impl Sync for Uart {}
// SAFETY: as above; the registers belong to no particular CPU.
unsafe impl Send for Uart {}

static UART: spin::Once<Uart> = spin::Once::new();
static LOCK: spin::Mutex<()> = spin::Mutex::new(());

/// The shell's input line is the terminal's last line, the cursor on it (written and
/// read under `LOCK`).
static INPUT_SHOWN: AtomicBool = AtomicBool::new(false);
/// Other output erased the input line; the shell has not drawn it again yet.
static INPUT_ERASED: AtomicBool = AtomicBool::new(false);
/// The last byte written ended a line.
static AT_LINE_START: AtomicBool = AtomicBool::new(true);
/// Erases the terminal's current line: CR, then ECMA-48 EL (erase to its end).
const ERASE_LINE: &[u8] = b"\r\x1b[K";

/// How many times the fatal path retries the lock before writing without it.
const FATAL_LOCK_TRIES: u32 = 1_000_000;

/// Starts the console on `console` (already mapped as Device memory) and makes it arch
/// code's console too. Output before this is dropped.
pub fn init(console: &platform::Console<'_>) {
    UART.call_once(|| {
        let base = console.base as usize;
        let uart = match console.kind {
            // SAFETY: the DTB names this UART as the console; the final map has it as
            // Device memory; only the console drives it.
            ConsoleKind::Pl011 => Uart::Pl011(unsafe { Pl011::new(base) }),
            // SAFETY: as above, with the DTB's register stride and width.
            ConsoleKind::Ns16550 => Uart::Ns16550(unsafe {
                Ns16550::new(base, console.reg_shift, console.reg_io_width)
            }),
        };
        match &uart {
            Uart::Pl011(u) => u.init(),
            Uart::Ns16550(u) => u.init(),
        }
        uart
    });
    arch_console::register(Sink {
        print: _print,
        print_fatal: _print_fatal,
        flush,
    });
}

/// A byte received on the console, if one is waiting (polled; no interrupt). Only the
/// shell on CPU 0 reads.
pub fn read_byte() -> Option<u8> {
    UART.get().and_then(Uart::read_byte)
}

/// Writes the shell's prompt, echo or redraw, bytes as the terminal takes them (no LF
/// translation). A line that starts here starts on a line of its own. `open`: the
/// input line stays on the terminal's last line, for other output to erase first;
/// false once the line has ended (its CR LF written).
pub fn write_input(bytes: &[u8], open: bool) {
    let Some(uart) = UART.get() else {
        return;
    };
    let _guard = LOCK.lock();
    if !INPUT_SHOWN.load(Relaxed) && !AT_LINE_START.load(Relaxed) {
        uart.write_byte(b'\r');
        uart.write_byte(b'\n');
    }
    for &b in bytes {
        uart.write_byte(b);
    }
    if let Some(&last) = bytes.last() {
        AT_LINE_START.store(last == b'\n', Relaxed);
    }
    INPUT_SHOWN.store(open, Relaxed);
    INPUT_ERASED.store(false, Relaxed);
}

/// Whether other output erased the shell's input line since it was last written: the
/// shell then writes it again (`write_input`).
pub fn input_erased() -> bool {
    INPUT_ERASED.load(Relaxed)
}

struct Writer<'a>(&'a Uart);

impl Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                self.0.write_byte(b'\r');
            }
            self.0.write_byte(b);
        }
        if let Some(last) = s.bytes().last() {
            AT_LINE_START.store(last == b'\n', Relaxed);
        }
        Ok(())
    }
}

#[doc(hidden)]
pub fn _print(args: fmt::Arguments<'_>) {
    if let Some(uart) = UART.get() {
        let _guard = LOCK.lock();
        if INPUT_SHOWN.swap(false, Relaxed) {
            ERASE_LINE.iter().for_each(|&b| uart.write_byte(b));
            AT_LINE_START.store(true, Relaxed);
            INPUT_ERASED.store(true, Relaxed);
        }
        let _ = Writer(uart).write_fmt(args);
    }
}

#[doc(hidden)]
pub fn _print_fatal(args: fmt::Arguments<'_>) {
    if let Some(uart) = UART.get() {
        let guard = (0..FATAL_LOCK_TRIES).find_map(|_| LOCK.try_lock());
        let _ = Writer(uart).write_fmt(args);
        drop(guard);
    }
}

/// Waits until the UART has sent everything (before powering off).
pub fn flush() {
    if let Some(uart) = UART.get() {
        uart.flush();
    }
}

#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => ($crate::console::_print(format_args!($($arg)*)));
}

#[macro_export]
macro_rules! println {
    () => ($crate::print!("\n"));
    ($($arg:tt)*) => ($crate::console::_print(format_args!("{}\n", format_args!($($arg)*))));
}

/// `println!` for fault and panic reports: takes the console lock only if it can.
#[macro_export]
macro_rules! fatal_println {
    ($($arg:tt)*) => ($crate::console::_print_fatal(format_args!("{}\n", format_args!($($arg)*))));
}
