//! The kernel console: the UART the DTB's `/chosen/stdout-path` names, behind
//! `print!`/`println!` from any core, and polled input for the shell. A spin lock keeps
//! lines whole; the fatal path (`fatal_println!`) waits for it only briefly, then
//! writes anyway, so a report from a core that faulted while another held the lock
//! still comes out. The shell's input line (prompt and typed text) is kept apart:
//! other output erases it first and tells the shell to draw it again, so nothing lands
//! glued to a prompt. Owns the UART and its lock, and which UART it is: the DTB's, or
//! the one `console=`/`earlycon=` ask for (`mappings`, `resolve`); `init` also
//! registers them as arch code's console (`arch::aarch64::console`), which must not
//! reach in here by path.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering::Relaxed};

use kernel::memmap::Span;
use kernel::ns16550::Ns16550;
use platform::cmdline::{ConsoleChoice, ConsoleChoiceError};
use platform::pci::Bdf;
use platform::{ArrayVec, Board, Console, ConsoleKind};

use crate::arch::aarch64::console::{self as arch_console, Sink};
use crate::arch::aarch64::mmio::MmioFrame;
use crate::arch::aarch64::mmu::MAX_EXTRA_DEVICES;
use crate::drivers::pci_serial::{self, ProbeError};
use crate::drivers::pl011::Pl011;

pub enum Uart {
    Pl011(Pl011),
    Ns16550(Ns16550<MmioFrame>),
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
/// The console `init` started.
static CONSOLE: spin::Once<Console<'static>> = spin::Once::new();
/// Page the command line's UART is mapped with (its register window is not known).
const EARLYCON_WINDOW: u64 = 0x1000;
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

/// Why the console the command line asks for cannot be had (the DTB's runs instead,
/// and the boot is refused once it can say so).
#[derive(Clone, Copy, Debug)]
pub enum SelectError {
    Choice(ConsoleChoiceError),
    Pci(ProbeError),
}

impl fmt::Display for SelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectError::Choice(e) => e.fmt(f),
            SelectError::Pci(e) => e.fmt(f),
        }
    }
}

/// The device windows `choice` needs mapped besides the DTB's console: the PCI host
/// bridge's first bus and I/O window, or the page of the UART `earlycon=` names.
pub fn mappings(board: &Board<'_>, choice: ConsoleChoice) -> ArrayVec<Span, MAX_EXTRA_DEVICES> {
    let mut spans = ArrayVec::new();
    match choice {
        ConsoleChoice::Dtb => {}
        ConsoleChoice::PciSerial { .. } => {
            if let Some(host) = &board.pci {
                let bus = host.first_bus();
                spans.push(Span::new(bus.base, bus.end()));
                if let Some(io) = host.io {
                    spans.push(Span::new(io.cpu, io.cpu + io.size));
                }
            }
        }
        ConsoleChoice::Mmio { base, .. } => {
            spans.push(Span::new(base, base.saturating_add(EARLYCON_WINDOW)));
        }
    }
    spans
}

/// The console `choice` names on `board` (`None`: the DTB names none), and the PCI
/// function it is, if it is one. The PCI serial port's BAR is placed here.
///
/// # Safety
/// `mappings(board, choice)` are mapped as Device memory, and nothing else drives them.
pub unsafe fn resolve(
    board: &'static Board<'static>,
    choice: ConsoleChoice,
) -> Result<(Option<Console<'static>>, Option<Bdf>), SelectError> {
    Ok(match choice {
        ConsoleChoice::Dtb => (board.console, None),
        ConsoleChoice::PciSerial { port } => {
            let host = board
                .pci
                .as_ref()
                .ok_or(SelectError::Choice(ConsoleChoiceError::NoNs16550))?;
            // SAFETY: the caller mapped the bridge's first bus and I/O window.
            let (bdf, bar) = unsafe { pci_serial::probe(host, port) }.map_err(SelectError::Pci)?;
            let console = Console {
                path: "pci",
                compatible: "pci1b36,2",
                kind: ConsoleKind::Ns16550,
                base: bar.cpu,
                size: bar.size,
                reg_shift: 0,
                reg_io_width: 1,
                baud: None,
            };
            (Some(console), Some(bdf))
        }
        ConsoleChoice::Mmio {
            kind,
            base,
            reg_shift,
            reg_io_width,
        } => {
            let console = Console {
                path: "earlycon",
                compatible: match kind {
                    ConsoleKind::Pl011 => "arm,pl011",
                    ConsoleKind::Ns16550 => "ns16550a",
                },
                kind,
                base,
                size: EARLYCON_WINDOW,
                reg_shift,
                reg_io_width,
                baud: None,
            };
            (Some(console), None)
        }
    })
}

/// The console `init` started, if it ran.
pub fn current() -> Option<&'static Console<'static>> {
    CONSOLE.get()
}

/// Starts the console on `console` (already mapped as Device memory) and makes it arch
/// code's console too. Output before this is dropped.
pub fn init(console: &Console<'static>) {
    UART.call_once(|| {
        CONSOLE.call_once(|| *console);
        let base = console.base as usize;
        let uart = match console.kind {
            // SAFETY: the DTB or the command line names this UART as the console; the
            // final map has it as Device memory; only the console drives it.
            ConsoleKind::Pl011 => Uart::Pl011(unsafe { Pl011::new(base) }),
            ConsoleKind::Ns16550 => {
                // The eight registers at their stride.
                let window = 8u64 << console.reg_shift;
                // SAFETY: as above, with the register stride and width given.
                let regs = unsafe { MmioFrame::new(console.base, window) };
                Uart::Ns16550(Ns16550::new(regs, console.reg_shift, console.reg_io_width))
            }
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
