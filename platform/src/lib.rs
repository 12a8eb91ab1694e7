//! Board description from a flattened devicetree: memory, reserved regions, console,
//! GIC, PSCI, CPUs, bootargs. Pure parsing; no hardware access, no allocation.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
