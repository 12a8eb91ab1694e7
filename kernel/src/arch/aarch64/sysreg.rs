//! The real `kernel::sysreg::SysRegs`: the calling core's ICC_* and CNT* registers
//! through mrs/msr, and the barrier instructions, for the register sequences of
//! `kernel::gic` and `kernel::timer`. Owns only those instructions; the sequences are
//! the lib's, and no other system register is reached from here.

use core::arch::asm;

use kernel::sysreg::{Barrier, ReadReg, SysRegs, WriteReg};

/// The system registers of the core that runs the code.
pub struct ThisCpu;

/// Reads a system register.
macro_rules! mrs {
    ($name:literal) => {{
        let value: u64;
        // SAFETY: reading one of the ICC_*/CNT* registers `SysRegs` names has no effect
        // on memory; for ICC_IAR1_EL1 it acknowledges an interrupt, which is what the
        // caller asked for.
        unsafe { asm!(concat!("mrs {}, ", $name), out(reg) value, options(nostack)) };
        value
    }};
}

/// Writes a system register.
macro_rules! msr {
    ($name:literal, $value:expr) => {{
        let value: u64 = $value;
        // SAFETY: writing one of the ICC_*/CNT* registers `SysRegs` names changes only
        // this core's GIC CPU interface or virtual timer, which the lib's sequences own;
        // it does not touch memory.
        unsafe { asm!(concat!("msr ", $name, ", {}"), in(reg) value, options(nostack)) }
    }};
}

impl SysRegs for ThisCpu {
    #[inline(always)]
    fn read(&self, reg: ReadReg) -> u64 {
        match reg {
            ReadReg::IccSre => mrs!("icc_sre_el1"),
            ReadReg::IccIar1 => mrs!("icc_iar1_el1"),
            ReadReg::Cntfrq => mrs!("cntfrq_el0"),
            ReadReg::Cntvct => mrs!("cntvct_el0"),
        }
    }

    #[inline(always)]
    fn write(&self, reg: WriteReg, value: u64) {
        match reg {
            WriteReg::IccSre => msr!("icc_sre_el1", value),
            WriteReg::IccPmr => msr!("icc_pmr_el1", value),
            WriteReg::IccBpr1 => msr!("icc_bpr1_el1", value),
            WriteReg::IccCtlr => msr!("icc_ctlr_el1", value),
            WriteReg::IccIgrpen1 => msr!("icc_igrpen1_el1", value),
            WriteReg::IccSgi1r => msr!("icc_sgi1r_el1", value),
            WriteReg::IccEoir1 => msr!("icc_eoir1_el1", value),
            WriteReg::CntvCval => msr!("cntv_cval_el0", value),
            WriteReg::CntvCtl => msr!("cntv_ctl_el0", value),
        }
    }

    #[inline(always)]
    fn barrier(&self, barrier: Barrier) {
        // SAFETY: barriers only order and synchronise; they change no register or memory.
        unsafe {
            match barrier {
                Barrier::Isb => asm!("isb", options(nostack)),
                Barrier::DsbSy => asm!("dsb sy", options(nostack)),
                Barrier::DsbIshst => asm!("dsb ishst", options(nostack)),
                Barrier::DmbIshld => asm!("dmb ishld", options(nostack)),
            }
        }
    }
}
