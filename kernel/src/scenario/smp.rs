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
    /// `scenario=smp`'s RESULT.
    #[derive(serde::Serialize)]
    struct SmpResult {
        scenario: &'static str,
        cpus_online: usize,
        jobs_ok: usize,
        ipi_roundtrip_ns: u64,
        sleep_10ms_ns: u64,
        idle_ms: u64,
        cpus_offlined: usize,
        /// Why the check failed, if it did.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<alloc::string::String>,
    }
    let pass =
        c.cpus_online == info.smp.online && c.jobs_ok == secondaries && c.offlined == secondaries;
    let error = (!pass).then(|| {
        alloc::format!(
            "{} of {} CPUs online, {} of {secondaries} secondaries ran the job, {} powered off",
            c.cpus_online,
            info.smp.online,
            c.jobs_ok,
            c.offlined
        )
    });
    print_result(&SmpResult {
        scenario: "smp",
        cpus_online: c.cpus_online,
        jobs_ok: c.jobs_ok,
        ipi_roundtrip_ns: c.roundtrip_ns,
        sleep_10ms_ns: c.sleep_10ms_ns,
        idle_ms: c.idle_ms,
        cpus_offlined: c.offlined,
        error,
    });
    u32::from(!pass)
}
