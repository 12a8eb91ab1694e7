//! Decoding of ESR_ELx (exception syndrome) into the names the Arm Architecture
//! Reference Manual uses (D17.2.37 ESR_EL1; DFSC/IFSC tables), for fault reports and
//! for the protect scenario's checks. Pure bit arithmetic; reads no register.

use core::fmt;

/// An ESR_EL1 value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Esr(pub u64);

/// Exception classes this kernel can meet (ESR.EC, bits [31:26]).
pub mod ec {
    pub const UNKNOWN: u8 = 0x00;
    pub const WFX: u8 = 0x01;
    pub const FP_SIMD: u8 = 0x07;
    pub const BTI: u8 = 0x0d;
    pub const ILLEGAL_STATE: u8 = 0x0e;
    pub const SVC64: u8 = 0x15;
    pub const HVC64: u8 = 0x16;
    pub const SMC64: u8 = 0x17;
    pub const SYSREG: u8 = 0x18;
    pub const SVE: u8 = 0x19;
    pub const FPAC: u8 = 0x1c;
    pub const IABT_LOWER: u8 = 0x20;
    pub const IABT_CUR: u8 = 0x21;
    pub const PC_ALIGN: u8 = 0x22;
    pub const DABT_LOWER: u8 = 0x24;
    pub const DABT_CUR: u8 = 0x25;
    pub const SP_ALIGN: u8 = 0x26;
    pub const FP_EXC64: u8 = 0x2c;
    pub const SERROR: u8 = 0x2f;
    pub const BREAKPOINT_LOWER: u8 = 0x30;
    pub const BREAKPOINT_CUR: u8 = 0x31;
    pub const STEP_LOWER: u8 = 0x32;
    pub const STEP_CUR: u8 = 0x33;
    pub const WATCHPOINT_LOWER: u8 = 0x34;
    pub const WATCHPOINT_CUR: u8 = 0x35;
    pub const BRK64: u8 = 0x3c;
}

/// Kind of fault named by an abort's DFSC/IFSC (ISS bits [5:0]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    AddressSize,
    Translation,
    AccessFlag,
    Permission,
    SyncExternal,
    SyncExternalOnWalk,
    Alignment,
    TlbConflict,
    /// A status code this decoder has no name for.
    Other(u8),
}

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::AddressSize => "address size fault",
            FaultKind::Translation => "translation fault",
            FaultKind::AccessFlag => "access flag fault",
            FaultKind::Permission => "permission fault",
            FaultKind::SyncExternal => "synchronous external abort",
            FaultKind::SyncExternalOnWalk => "synchronous external abort on table walk",
            FaultKind::Alignment => "alignment fault",
            FaultKind::TlbConflict => "TLB conflict abort",
            FaultKind::Other(_) => "other fault status",
        }
    }
}

/// The decoded ISS of an Instruction or Data Abort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Abort {
    pub kind: FaultKind,
    /// Translation table level the fault was raised at, where the status names one.
    pub level: Option<u8>,
    /// Data aborts: WnR, the access was a write (or a read-modify-write).
    pub write: Option<bool>,
    /// FAR holds the faulting address (FnV clear).
    pub far_valid: bool,
    /// The raw DFSC/IFSC.
    pub status: u8,
}

impl Esr {
    /// Exception class, ESR bits [31:26].
    pub const fn ec(self) -> u8 {
        ((self.0 >> 26) & 0x3f) as u8
    }

    /// Instruction-specific syndrome, ESR bits [24:0].
    pub const fn iss(self) -> u32 {
        (self.0 & 0x01ff_ffff) as u32
    }

    /// The Arm ARM's name for the exception class.
    pub fn class_name(self) -> &'static str {
        match self.ec() {
            ec::UNKNOWN => "Unknown reason",
            ec::WFX => "Trapped WFI or WFE",
            ec::FP_SIMD => "Access to SVE, Advanced SIMD or floating-point trapped",
            ec::BTI => "Branch Target Exception",
            ec::ILLEGAL_STATE => "Illegal Execution state",
            ec::SVC64 => "SVC instruction execution in AArch64 state",
            ec::HVC64 => "HVC instruction execution in AArch64 state",
            ec::SMC64 => "SMC instruction execution in AArch64 state",
            ec::SYSREG => "Trapped MSR, MRS or System instruction",
            ec::SVE => "Access to SVE functionality trapped",
            ec::FPAC => "Pointer Authentication failure (FPAC)",
            ec::IABT_LOWER => "Instruction Abort from a lower Exception level",
            ec::IABT_CUR => "Instruction Abort taken without a change in Exception level",
            ec::PC_ALIGN => "PC alignment fault",
            ec::DABT_LOWER => "Data Abort from a lower Exception level",
            ec::DABT_CUR => "Data Abort taken without a change in Exception level",
            ec::SP_ALIGN => "SP alignment fault",
            ec::FP_EXC64 => "Trapped floating-point exception",
            ec::SERROR => "SError interrupt",
            ec::BREAKPOINT_LOWER => "Breakpoint exception from a lower Exception level",
            ec::BREAKPOINT_CUR => "Breakpoint exception taken without a change in Exception level",
            ec::STEP_LOWER => "Software Step exception from a lower Exception level",
            ec::STEP_CUR => "Software Step exception taken without a change in Exception level",
            ec::WATCHPOINT_LOWER => "Watchpoint exception from a lower Exception level",
            ec::WATCHPOINT_CUR => "Watchpoint exception taken without a change in Exception level",
            ec::BRK64 => "BRK instruction execution in AArch64 state",
            _ => "Reserved or unallocated exception class",
        }
    }

    /// True for Instruction and Data Aborts (from any level).
    pub const fn is_abort(self) -> bool {
        matches!(
            self.ec(),
            ec::IABT_LOWER | ec::IABT_CUR | ec::DABT_LOWER | ec::DABT_CUR
        )
    }

    /// The abort's decoded syndrome; `None` for other classes.
    pub fn abort(self) -> Option<Abort> {
        if !self.is_abort() {
            return None;
        }
        let iss = self.iss();
        let status = (iss & 0x3f) as u8;
        let level = status & 0b11;
        let (kind, level) = match status >> 2 {
            0b0000 => (FaultKind::AddressSize, Some(level)),
            0b0001 => (FaultKind::Translation, Some(level)),
            0b0010 => (FaultKind::AccessFlag, Some(level)),
            0b0011 => (FaultKind::Permission, Some(level)),
            0b0101 => (FaultKind::SyncExternalOnWalk, Some(level)),
            _ => match status {
                0b01_0000 => (FaultKind::SyncExternal, None),
                0b10_0001 => (FaultKind::Alignment, None),
                0b11_0000 => (FaultKind::TlbConflict, None),
                other => (FaultKind::Other(other), None),
            },
        };
        let data = matches!(self.ec(), ec::DABT_LOWER | ec::DABT_CUR);
        Some(Abort {
            kind,
            level,
            // WnR (bit 6) is only meaningful for data aborts not on a cache operation.
            write: data.then_some(iss & (1 << 6) != 0),
            far_valid: iss & (1 << 10) == 0,
            status,
        })
    }
}

impl fmt::Display for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.name())?;
        if let FaultKind::Other(code) = self.kind {
            write!(f, " 0b{code:06b}")?;
        }
        if let Some(level) = self.level {
            write!(f, ", level {level}")?;
        }
        match self.write {
            Some(true) => f.write_str(", write")?,
            Some(false) => f.write_str(", read")?,
            None => {}
        }
        if !self.far_valid {
            f.write_str(", FAR not valid")?;
        }
        Ok(())
    }
}

impl fmt::Display for Esr {
    /// `<class name> (EC 0xNN)`, then `: <abort decode>` for aborts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (EC 0x{:02x})", self.class_name(), self.ec())?;
        if let Some(abort) = self.abort() {
            write!(f, ": {abort}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esr(ec: u8, iss: u32) -> Esr {
        Esr((u64::from(ec) << 26) | (1 << 25) | u64::from(iss))
    }

    #[test]
    fn write_to_read_only_page_is_a_level3_permission_fault() {
        // DFSC 0b001111, WnR set: what QEMU reports for a store to .text.
        let e = esr(ec::DABT_CUR, 0b00_1111 | (1 << 6));
        let a = e.abort().unwrap();
        assert_eq!(a.kind, FaultKind::Permission);
        assert_eq!(a.level, Some(3));
        assert_eq!(a.write, Some(true));
        assert!(a.far_valid);
        assert_eq!(
            format!("{e}"),
            "Data Abort taken without a change in Exception level (EC 0x25): \
             permission fault, level 3, write"
        );
    }

    #[test]
    fn instruction_abort_has_no_direction() {
        let a = esr(ec::IABT_CUR, 0b00_0110).abort().unwrap();
        assert_eq!(a.kind, FaultKind::Translation);
        assert_eq!(a.level, Some(2));
        assert_eq!(a.write, None);
    }

    #[test]
    fn unnamed_status_codes_and_fnv_are_reported() {
        let a = esr(ec::DABT_CUR, 0b10_0001 | (1 << 10)).abort().unwrap();
        assert_eq!(a.kind, FaultKind::Alignment);
        assert!(!a.far_valid);
        let other = esr(ec::DABT_CUR, 0b11_1111).abort().unwrap();
        assert_eq!(other.kind, FaultKind::Other(0b11_1111));
        assert!(format!("{other}").contains("0b111111"));
    }

    #[test]
    fn non_aborts_have_no_abort_decode() {
        let brk = esr(ec::BRK64, 0x1234);
        assert!(brk.abort().is_none());
        assert_eq!(
            format!("{brk}"),
            "BRK instruction execution in AArch64 state (EC 0x3c)"
        );
        assert_eq!(
            Esr(0x3f << 26).class_name(),
            "Reserved or unallocated exception class"
        );
    }
}
