//! Portable memory-management core: everything the kernel does to memory under
//! pressure, written once and tested on the host. It never touches hardware: frames
//! are reached through the direct map (`page_address`), like Linux's linear map.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![warn(missing_docs)]

pub mod addr;
pub mod apps;
pub mod busy;
pub mod frame;
pub mod latency;
pub mod lmk;
pub mod lru;
pub mod lru_gen;
pub mod page;
pub mod pagegen;
pub mod psi;
pub mod reclaim;
pub mod ring;
pub mod rmap;
pub mod sync;
pub mod trace;
pub mod vmstat;
pub mod zram;
