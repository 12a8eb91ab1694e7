//! Arm PrimeCell UART PL011 (ARM DDI 0183), polled: transmit, receive, drain. Keeps the
//! firmware's baud rate (the UART clock is not known here); enables the UART with 8N1
//! and FIFOs only if the firmware left it off. Owns nothing but its registers.

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_bitfields;
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};

register_bitfields! [u32,
    /// Data register.
    DR [
        /// Received or to-be-sent character.
        DATA OFFSET(0) NUMBITS(8) []
    ],
    /// Flag register.
    FR [
        /// Transmit FIFO empty.
        TXFE OFFSET(7) NUMBITS(1) [],
        /// Transmit FIFO full: do not write DR.
        TXFF OFFSET(5) NUMBITS(1) [],
        /// Receive FIFO empty: nothing to read.
        RXFE OFFSET(4) NUMBITS(1) [],
        /// UART busy sending data (including stop bits).
        BUSY OFFSET(3) NUMBITS(1) []
    ],
    /// Line control register.
    LCR_H [
        /// Word length.
        WLEN OFFSET(5) NUMBITS(2) [
            EightBit = 0b11
        ],
        /// FIFOs enabled.
        FEN OFFSET(4) NUMBITS(1) []
    ],
    /// Control register.
    CR [
        /// Receive enable.
        RXE OFFSET(9) NUMBITS(1) [],
        /// Transmit enable.
        TXE OFFSET(8) NUMBITS(1) [],
        /// UART enable.
        UARTEN OFFSET(0) NUMBITS(1) []
    ],
    /// Interrupt mask set/clear: a set bit enables that interrupt.
    IMSC [
        ALL OFFSET(0) NUMBITS(11) []
    ],
    /// Interrupt clear.
    ICR [
        ALL OFFSET(0) NUMBITS(11) []
    ]
];

register_structs! {
    Registers {
        (0x00 => dr: ReadWrite<u32, DR::Register>),
        (0x04 => _reserved0),
        (0x18 => fr: ReadOnly<u32, FR::Register>),
        (0x1c => _reserved1),
        (0x2c => lcr_h: ReadWrite<u32, LCR_H::Register>),
        (0x30 => cr: ReadWrite<u32, CR::Register>),
        (0x34 => _reserved2),
        (0x38 => imsc: ReadWrite<u32, IMSC::Register>),
        (0x3c => _reserved3),
        (0x44 => icr: WriteOnly<u32, ICR::Register>),
        (0x48 => @END),
    }
}

pub struct Pl011 {
    regs: &'static Registers,
}

impl Pl011 {
    /// # Safety
    /// `base` is the physical (identity-mapped, Device memory) address of a PL011 that
    /// nothing else drives.
    pub unsafe fn new(base: usize) -> Self {
        // SAFETY: per the caller, `base` maps a PL011's registers for the kernel's life.
        let regs = unsafe { &*(base as *const Registers) };
        Self { regs }
    }

    pub fn init(&self) {
        if !self.regs.cr.is_set(CR::UARTEN) {
            self.regs
                .lcr_h
                .write(LCR_H::WLEN::EightBit + LCR_H::FEN::SET);
            self.regs
                .cr
                .write(CR::UARTEN::SET + CR::TXE::SET + CR::RXE::SET);
        }
        // Polled driver: no interrupts.
        self.regs.imsc.write(IMSC::ALL::CLEAR);
        self.regs.icr.write(ICR::ALL::SET);
    }

    pub fn write_byte(&self, byte: u8) {
        while self.regs.fr.is_set(FR::TXFF) {
            core::hint::spin_loop();
        }
        self.regs.dr.write(DR::DATA.val(u32::from(byte)));
    }

    pub fn read_byte(&self) -> Option<u8> {
        if self.regs.fr.is_set(FR::RXFE) {
            return None;
        }
        Some(self.regs.dr.read(DR::DATA) as u8)
    }

    /// Waits until everything written has left the UART.
    pub fn flush(&self) {
        while !self.regs.fr.is_set(FR::TXFE) || self.regs.fr.is_set(FR::BUSY) {
            core::hint::spin_loop();
        }
    }
}
