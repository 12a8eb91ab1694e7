//! Arm semihosting (the debugger/QEMU host interface, `hlt #0xf000`): only the exit
//! call, which is how QEMU learns the kernel's exit status. On a board without a
//! debugger `hlt` traps, so it is used only when the command line says `exit=semihosting`.

/// SYS_EXIT_EXTENDED: exit with a reason and a status code.
const SYS_EXIT_EXTENDED: u64 = 0x20;
/// ADP_Stopped_ApplicationExit.
const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x2_0026;

/// Ends the QEMU run with `status` as its exit code.
pub fn exit(status: u32) -> ! {
    let block = [ADP_STOPPED_APPLICATION_EXIT, u64::from(status)];
    // SAFETY: the semihosting call reads the two-word block and stops the machine; if
    // no host is attached it traps like any undefined instruction (reported as such).
    unsafe {
        core::arch::asm!(
            "hlt #0xf000",
            in("x0") SYS_EXIT_EXTENDED,
            in("x1") block.as_ptr(),
            options(nostack, readonly)
        );
    }
    // Only reached if the host ignored the call.
    super::park()
}
