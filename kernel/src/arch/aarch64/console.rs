//! The console as arch code sees it: a sink the kernel registers once at boot
//! (`register`), and `arch_println!` / `arch_fatal_println!` for arch's own messages and
//! fault reports. Owns only that registration; the UART, its lock and the kernel's
//! `println!` are the kernel's `console` module's. Output before `register` is dropped.

use core::fmt;

/// Where arch code's output goes.
pub struct Sink {
    /// Writes under the console lock (lines stay whole).
    pub print: fn(fmt::Arguments<'_>),
    /// Writes a fault or panic report: takes the lock only if it can.
    pub print_fatal: fn(fmt::Arguments<'_>),
    /// Waits until everything written has left the UART (before power-off).
    pub flush: fn(),
}

static SINK: spin::Once<Sink> = spin::Once::new();

/// Sets the sink, once (later calls change nothing).
pub fn register(sink: Sink) {
    SINK.call_once(|| sink);
}

#[doc(hidden)]
pub fn print(args: fmt::Arguments<'_>) {
    if let Some(sink) = SINK.get() {
        (sink.print)(args);
    }
}

#[doc(hidden)]
pub fn print_fatal(args: fmt::Arguments<'_>) {
    if let Some(sink) = SINK.get() {
        (sink.print_fatal)(args);
    }
}

/// Waits until the console has sent everything.
pub fn flush() {
    if let Some(sink) = SINK.get() {
        (sink.flush)();
    }
}

/// `println!` for arch code.
macro_rules! arch_println {
    ($($arg:tt)*) => {
        $crate::arch::aarch64::console::print(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `fatal_println!` for arch code: fault reports and the fatal guard's messages.
macro_rules! arch_fatal_println {
    ($($arg:tt)*) => {
        $crate::arch::aarch64::console::print_fatal(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {arch_fatal_println, arch_println};
