//! 16550-compatible UARTs, polled: generic `ns16550a` (byte registers, reg-shift 0) and
//! MediaTek `mediatek,mt6577-uart` (32-bit registers, reg-shift 2). The register stride
//! and access width come from the DTB, so registers are reached through a small
//! accessor (`base + (index << reg_shift)`, 8- or 32-bit access) instead of a fixed
//! `register_structs!` layout; their bit fields are tock-registers bitfields. Keeps the
//! firmware's baud rate and line settings.

use tock_registers::LocalRegisterCopy;
use tock_registers::register_bitfields;

register_bitfields! [u8,
    /// Interrupt enable register.
    IER [
        /// Every interrupt source (RX data, THR empty, line status, modem status).
        ALL OFFSET(0) NUMBITS(4) []
    ],
    /// Line status register.
    LSR [
        /// Transmitter empty: holding and shift registers both empty.
        TEMT OFFSET(6) NUMBITS(1) [],
        /// Transmit holding register empty: THR can take a byte.
        THRE OFFSET(5) NUMBITS(1) [],
        /// Data ready: RBR holds a received byte.
        DR OFFSET(0) NUMBITS(1) []
    ]
];

/// Register indices (multiplied by the stride).
#[derive(Clone, Copy)]
enum Reg {
    /// Receive buffer (read) / transmit holding (write), with LCR.DLAB clear.
    RbrThr = 0,
    Ier = 1,
    Lsr = 5,
}

pub struct Ns16550 {
    base: usize,
    reg_shift: u32,
    /// 4: 32-bit accesses (MediaTek); otherwise byte accesses.
    io_width: u32,
}

impl Ns16550 {
    /// # Safety
    /// `base` is the identity-mapped (Device memory) address of a 16550 that nothing
    /// else drives, with registers `1 << reg_shift` bytes apart.
    pub unsafe fn new(base: usize, reg_shift: u32, io_width: u32) -> Self {
        Self {
            base,
            reg_shift,
            io_width,
        }
    }

    fn address(&self, reg: Reg) -> usize {
        self.base + ((reg as usize) << self.reg_shift)
    }

    fn read(&self, reg: Reg) -> u8 {
        let addr = self.address(reg);
        // SAFETY: `new`'s contract: the register exists at this address.
        unsafe {
            if self.io_width == 4 {
                (addr as *const u32).read_volatile() as u8
            } else {
                (addr as *const u8).read_volatile()
            }
        }
    }

    fn write(&self, reg: Reg, value: u8) {
        let addr = self.address(reg);
        // SAFETY: `new`'s contract: the register exists at this address.
        unsafe {
            if self.io_width == 4 {
                (addr as *mut u32).write_volatile(u32::from(value));
            } else {
                (addr as *mut u8).write_volatile(value);
            }
        }
    }

    fn lsr(&self) -> LocalRegisterCopy<u8, LSR::Register> {
        LocalRegisterCopy::new(self.read(Reg::Lsr))
    }

    pub fn init(&self) {
        // Polled driver: no interrupts.
        self.write(Reg::Ier, IER::ALL::CLEAR.value);
    }

    pub fn write_byte(&self, byte: u8) {
        while !self.lsr().is_set(LSR::THRE) {
            core::hint::spin_loop();
        }
        self.write(Reg::RbrThr, byte);
    }

    pub fn read_byte(&self) -> Option<u8> {
        self.lsr().is_set(LSR::DR).then(|| self.read(Reg::RbrThr))
    }

    /// Waits until everything written has left the UART.
    pub fn flush(&self) {
        while !self.lsr().is_set(LSR::TEMT) {
            core::hint::spin_loop();
        }
    }
}
