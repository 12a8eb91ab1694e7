//! Device drivers the kernel needs before anything else: the console UARTs. Polled
//! only (no interrupts), so they work from any core and from exception handlers.

pub mod ns16550;
pub mod pl011;
