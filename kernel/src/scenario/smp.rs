//! `scenario=smp`: runs a job on every secondary core and checks it ran there, times IPI
//! round trips and a timer-bounded sleep, lets every core idle for a second (so host CPU
//! use can be measured from outside), then powers the secondaries off with PSCI CPU_OFF.
//! Ends with `RESULT {"scenario":"smp",...}`; passes when every secondary did both.

use core::time::Duration;

use super::{BootInfo, print_result};
use crate::arch::aarch64::smp;

pub fn run(info: &BootInfo<'_>) -> u32 {
    let c = smp::check(Duration::from_secs(1));
    let secondaries = info.smp.online.saturating_sub(1);
    print_result(|o| {
        o.str("scenario", "smp")?
            .uint("cpus_online", c.cpus_online as u64)?
            .uint("jobs_ok", c.jobs_ok as u64)?
            .uint("ipi_roundtrip_ns", c.roundtrip_ns)?
            .uint("sleep_10ms_ns", c.sleep_10ms_ns)?
            .uint("idle_ms", c.idle_ms)?
            .uint("cpus_offlined", c.offlined as u64)?;
        Ok(())
    });
    let pass =
        c.cpus_online == info.smp.online && c.jobs_ok == secondaries && c.offlined == secondaries;
    u32::from(!pass)
}
