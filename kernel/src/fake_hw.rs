//! Recording fakes of the hardware the GIC and timer logic drive, for host tests only:
//! MMIO frames (`gic::Mmio`) and system registers (`sysreg::SysRegs`) that log every
//! access in order on one shared `Bus`, and answer reads from per-register scripts.
//! Touches no hardware and nothing outside the tests.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use crate::gic::Mmio;
use crate::sysreg::{Barrier, ReadReg, SysRegs, WriteReg};

/// One access, as the fakes saw it. MMIO accesses name their frame and width (bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read {
        frame: &'static str,
        width: u8,
        offset: usize,
        value: u64,
    },
    Write {
        frame: &'static str,
        width: u8,
        offset: usize,
        value: u64,
    },
    SysRead(ReadReg, u64),
    SysWrite(WriteReg, u64),
    Barrier(Barrier),
}

impl Access {
    pub fn r8(frame: &'static str, offset: usize, value: u8) -> Self {
        let value = value.into();
        Access::Read {
            frame,
            width: 8,
            offset,
            value,
        }
    }

    pub fn r32(frame: &'static str, offset: usize, value: u32) -> Self {
        let value = value.into();
        Access::Read {
            frame,
            width: 32,
            offset,
            value,
        }
    }

    pub fn r64(frame: &'static str, offset: usize, value: u64) -> Self {
        Access::Read {
            frame,
            width: 64,
            offset,
            value,
        }
    }

    pub fn w8(frame: &'static str, offset: usize, value: u8) -> Self {
        let value = value.into();
        Access::Write {
            frame,
            width: 8,
            offset,
            value,
        }
    }

    pub fn w32(frame: &'static str, offset: usize, value: u32) -> Self {
        let value = value.into();
        Access::Write {
            frame,
            width: 32,
            offset,
            value,
        }
    }

    pub fn w64(frame: &'static str, offset: usize, value: u64) -> Self {
        Access::Write {
            frame,
            width: 64,
            offset,
            value,
        }
    }
}

#[derive(Default)]
struct State {
    log: Vec<Access>,
    mmio: HashMap<(&'static str, usize), VecDeque<u64>>,
    sys: HashMap<ReadReg, VecDeque<u64>>,
}

/// The shared log and read scripts. Unscripted reads return 0.
#[derive(Clone, Default)]
pub struct Bus(Rc<RefCell<State>>);

/// The next scripted value: each in turn, the last one for good.
fn next(script: Option<&mut VecDeque<u64>>) -> u64 {
    match script {
        Some(values) if values.len() > 1 => values.pop_front().unwrap_or(0),
        Some(values) => values.front().copied().unwrap_or(0),
        None => 0,
    }
}

impl Bus {
    pub fn new() -> Self {
        Self::default()
    }

    /// An MMIO frame called `name` on this bus.
    pub fn frame(&self, name: &'static str) -> FakeFrame {
        FakeFrame {
            name,
            bus: self.clone(),
        }
    }

    /// The system registers, on this bus.
    pub fn sys(&self) -> FakeSys {
        FakeSys { bus: self.clone() }
    }

    /// Reads of `offset` in `frame` return `values` in turn, then the last one.
    pub fn script(&self, frame: &'static str, offset: usize, values: &[u64]) {
        let mut state = self.0.borrow_mut();
        state
            .mmio
            .insert((frame, offset), values.iter().copied().collect());
    }

    /// Reads of `reg` return `values` in turn, then the last one.
    pub fn script_sys(&self, reg: ReadReg, values: &[u64]) {
        let mut state = self.0.borrow_mut();
        state.sys.insert(reg, values.iter().copied().collect());
    }

    /// Every access since the last `take`, in order.
    pub fn take(&self) -> Vec<Access> {
        core::mem::take(&mut self.0.borrow_mut().log)
    }

    fn mmio_read(&self, frame: &'static str, width: u8, offset: usize) -> u64 {
        let mut state = self.0.borrow_mut();
        let value = next(state.mmio.get_mut(&(frame, offset)));
        let value = if width == 64 {
            value
        } else {
            value & ((1 << width) - 1)
        };
        state.log.push(Access::Read {
            frame,
            width,
            offset,
            value,
        });
        value
    }

    fn log(&self, access: Access) {
        self.0.borrow_mut().log.push(access);
    }
}

/// A fake MMIO frame.
pub struct FakeFrame {
    name: &'static str,
    bus: Bus,
}

impl FakeFrame {
    fn write(&self, width: u8, offset: usize, value: u64) {
        self.bus.log(Access::Write {
            frame: self.name,
            width,
            offset,
            value,
        });
    }
}

impl Mmio for FakeFrame {
    fn read_u8(&self, offset: usize) -> u8 {
        self.bus.mmio_read(self.name, 8, offset) as u8
    }

    fn read_u32(&self, offset: usize) -> u32 {
        self.bus.mmio_read(self.name, 32, offset) as u32
    }

    fn read_u64(&self, offset: usize) -> u64 {
        self.bus.mmio_read(self.name, 64, offset)
    }

    fn write_u8(&self, offset: usize, value: u8) {
        self.write(8, offset, value.into());
    }

    fn write_u32(&self, offset: usize, value: u32) {
        self.write(32, offset, value.into());
    }

    fn write_u64(&self, offset: usize, value: u64) {
        self.write(64, offset, value);
    }
}

/// Fake system registers.
pub struct FakeSys {
    bus: Bus,
}

impl SysRegs for FakeSys {
    fn read(&self, reg: ReadReg) -> u64 {
        let mut state = self.bus.0.borrow_mut();
        let value = next(state.sys.get_mut(&reg));
        state.log.push(Access::SysRead(reg, value));
        value
    }

    fn write(&self, reg: WriteReg, value: u64) {
        self.bus.log(Access::SysWrite(reg, value));
    }

    fn barrier(&self, barrier: Barrier) {
        self.bus.log(Access::Barrier(barrier));
    }
}
