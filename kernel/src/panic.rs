//! The panic handler: one report (the CPU, the message, where, a backtrace) under
//! arch's fatal guard, then power-off with `fatal::FATAL_STATUS`. Owns only the
//! handler; the guard, the backtrace walk and power-off are `arch::aarch64`'s.

use crate::arch::aarch64::{backtrace, fatal, percpu};
use crate::fatal_println;

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    fatal::begin();
    fatal_println!(
        "\n*** kernel panic on CPU {}: {}",
        percpu::this_cpu_id(),
        info.message()
    );
    if let Some(loc) = info.location() {
        fatal_println!("    at {}:{}:{}", loc.file(), loc.line(), loc.column());
    }
    let fp = backtrace::current_fp();
    // Frame #0 is this handler's caller chain: start from our own frame record.
    backtrace::print(panic as *const () as u64, fp);
    fatal::end()
}
