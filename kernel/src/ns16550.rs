//! 16550-compatible UARTs, polled: generic `ns16550a` (byte registers, reg-shift 0),
//! MediaTek `mediatek,mt6577-uart` (32-bit registers, reg-shift 2) and QEMU's PCI
//! serial (byte registers behind an I/O BAR). The register stride and access width come
//! from the DTB or the command line, so registers are reached through an `Mmio` frame
//! (`base + (index << reg_shift)`, 8- or 32-bit access) instead of a fixed
//! `register_structs!` layout; their bit fields are tock-registers bitfields. Keeps the
//! firmware's baud rate and line settings. Owns nothing but the register sequences: the
//! real frame is arch's (`MmioFrame`), the host tests' a recording fake.

use tock_registers::LocalRegisterCopy;
use tock_registers::register_bitfields;

use crate::gic::Mmio;

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

pub struct Ns16550<M> {
    regs: M,
    reg_shift: u32,
    /// 4: 32-bit accesses (MediaTek); otherwise byte accesses.
    io_width: u32,
}

impl<M: Mmio> Ns16550<M> {
    /// A 16550 in `regs`, registers `1 << reg_shift` bytes apart, reached with
    /// `io_width`-byte accesses (4, or else 1).
    pub fn new(regs: M, reg_shift: u32, io_width: u32) -> Self {
        Self {
            regs,
            reg_shift,
            io_width,
        }
    }

    fn offset(&self, reg: Reg) -> usize {
        (reg as usize) << self.reg_shift
    }

    fn read(&self, reg: Reg) -> u8 {
        let offset = self.offset(reg);
        if self.io_width == 4 {
            self.regs.read_u32(offset) as u8
        } else {
            self.regs.read_u8(offset)
        }
    }

    fn write(&self, reg: Reg, value: u8) {
        let offset = self.offset(reg);
        if self.io_width == 4 {
            self.regs.write_u32(offset, u32::from(value));
        } else {
            self.regs.write_u8(offset, value);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_hw::{Access, Bus};

    /// The register layouts the driver meets: (reg-shift, io width, access builders).
    struct Layout {
        shift: u32,
        width: u32,
        read: fn(&'static str, usize, u8) -> Access,
        write: fn(&'static str, usize, u8) -> Access,
    }

    /// Generic ns16550a (QEMU's PCI serial too): byte registers one byte apart.
    const GENERIC: Layout = Layout {
        shift: 0,
        width: 1,
        read: Access::r8,
        write: Access::w8,
    };
    /// MediaTek: 32-bit registers four bytes apart.
    const MEDIATEK: Layout = Layout {
        shift: 2,
        width: 4,
        read: |f, o, v| Access::r32(f, o, v.into()),
        write: |f, o, v| Access::w32(f, o, v.into()),
    };

    const LSR_THRE: u64 = 1 << 5;
    const LSR_TEMT: u64 = 1 << 6;
    const LSR_DR: u64 = 1;

    fn uart(bus: &Bus, l: &Layout) -> Ns16550<crate::fake_hw::FakeFrame> {
        Ns16550::new(bus.frame("uart"), l.shift, l.width)
    }

    #[test]
    fn init_turns_interrupts_off_at_the_layouts_ier() {
        for l in [GENERIC, MEDIATEK] {
            let bus = Bus::new();
            uart(&bus, &l).init();
            assert_eq!(bus.take(), [(l.write)("uart", 1 << l.shift, 0)]);
        }
    }

    #[test]
    fn a_byte_waits_for_the_holding_register_then_goes_to_thr() {
        for l in [GENERIC, MEDIATEK] {
            let bus = Bus::new();
            let lsr = 5 << l.shift;
            // Busy twice (data ready, then nothing), then THR empty.
            bus.script("uart", lsr, &[0x01, 0, LSR_THRE]);
            uart(&bus, &l).write_byte(b'K');
            assert_eq!(
                bus.take(),
                [
                    (l.read)("uart", lsr, 0x01),
                    (l.read)("uart", lsr, 0),
                    (l.read)("uart", lsr, LSR_THRE as u8),
                    (l.write)("uart", 0, b'K'),
                ],
                "shift {}",
                l.shift
            );
        }
    }

    #[test]
    fn reading_takes_rbr_only_when_data_is_ready() {
        for l in [GENERIC, MEDIATEK] {
            let bus = Bus::new();
            let lsr = 5 << l.shift;
            bus.script("uart", lsr, &[LSR_THRE, LSR_DR | LSR_THRE]);
            bus.script("uart", 0, &[u64::from(b'x')]);
            let u = uart(&bus, &l);
            assert_eq!(u.read_byte(), None);
            assert_eq!(u.read_byte(), Some(b'x'));
            assert_eq!(
                bus.take(),
                [
                    (l.read)("uart", lsr, LSR_THRE as u8),
                    (l.read)("uart", lsr, (LSR_DR | LSR_THRE) as u8),
                    (l.read)("uart", 0, b'x'),
                ]
            );
        }
    }

    #[test]
    fn flush_waits_for_the_transmitter_to_empty() {
        for l in [GENERIC, MEDIATEK] {
            let bus = Bus::new();
            let lsr = 5 << l.shift;
            bus.script("uart", lsr, &[LSR_THRE, LSR_THRE | LSR_TEMT]);
            uart(&bus, &l).flush();
            let log = bus.take();
            assert_eq!(log.len(), 2);
            assert_eq!(log[1], (l.read)("uart", lsr, (LSR_THRE | LSR_TEMT) as u8));
        }
    }

    #[test]
    fn a_32_bit_layout_never_makes_byte_accesses_and_keeps_the_low_byte() {
        let bus = Bus::new();
        // MediaTek registers read back with junk in the upper bits.
        bus.script("uart", 0x14, &[0xffff_ff00 | LSR_THRE | LSR_DR]);
        bus.script("uart", 0, &[0x1234_5641]);
        let u = uart(&bus, &MEDIATEK);
        assert_eq!(u.read_byte(), Some(b'A'));
        u.write_byte(b'B');
        for access in bus.take() {
            match access {
                Access::Read { width, offset, .. } | Access::Write { width, offset, .. } => {
                    assert_eq!(width, 32);
                    assert!(offset.is_multiple_of(4));
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
