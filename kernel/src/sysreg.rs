//! The system registers and barriers the GIC and timer logic (`gic`, `timer`) use, by
//! name, behind `SysRegs`: the kernel implements it with mrs/msr and barrier
//! instructions (`arch::aarch64::sysreg`), host tests with recording fakes. Owns only
//! the names; no instruction is issued here.

/// The system registers read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReadReg {
    /// ICC_SRE_EL1: bit 0 (SRE) reads 1 once the GICv3 system-register interface is on.
    IccSre,
    /// ICC_IAR1_EL1: reading it acknowledges the most urgent pending group 1 interrupt.
    IccIar1,
    /// CNTFRQ_EL0: the system counter's frequency in Hz.
    Cntfrq,
    /// CNTVCT_EL0: the virtual count.
    Cntvct,
}

/// The system registers written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WriteReg {
    /// ICC_SRE_EL1: system-register interface enable.
    IccSre,
    /// ICC_PMR_EL1: priority mask.
    IccPmr,
    /// ICC_BPR1_EL1: group 1 binary point.
    IccBpr1,
    /// ICC_CTLR_EL1: CPU interface control (EOImode).
    IccCtlr,
    /// ICC_IGRPEN1_EL1: group 1 interrupts on at this CPU interface.
    IccIgrpen1,
    /// ICC_SGI1R_EL1: writing it sends a group 1 SGI.
    IccSgi1r,
    /// ICC_EOIR1_EL1: end of a group 1 interrupt.
    IccEoir1,
    /// CNTV_CVAL_EL0: the virtual timer's compare value.
    CntvCval,
    /// CNTV_CTL_EL0: the virtual timer's control (ENABLE, IMASK).
    CntvCtl,
}

/// The barriers the register sequences need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Barrier {
    /// ISB: what follows sees the effect of earlier system-register writes.
    Isb,
    /// DSB SY: every earlier access, system-register reads included, completes first.
    DsbSy,
    /// DSB ISHST: earlier stores reach every core before what follows.
    DsbIshst,
    /// DMB ISHLD: earlier loads complete before later loads and stores.
    DmbIshld,
}

/// The calling core's system registers and barriers.
pub trait SysRegs {
    fn read(&self, reg: ReadReg) -> u64;
    fn write(&self, reg: WriteReg, value: u64);
    fn barrier(&self, barrier: Barrier);
}

impl<T: SysRegs + ?Sized> SysRegs for &T {
    fn read(&self, reg: ReadReg) -> u64 {
        (**self).read(reg)
    }

    fn write(&self, reg: WriteReg, value: u64) {
        (**self).write(reg, value);
    }

    fn barrier(&self, barrier: Barrier) {
        (**self).barrier(barrier);
    }
}
