//! Page reclaim: the swap-entry state protocol (`swap`) shared by reclaim, the
//! compressor workers and the fault path, and the policy (`policy`: kswapd, direct
//! reclaim, kcompressd, swap-in) that drives the zone, LRU, ring and store through
//! their public APIs, and the benchmark table both the kernel and the host harness
//! print (`report`). Owns none of their data.

#[cfg(feature = "std")]
pub mod harness;
mod node_lru;
pub mod policy;
pub mod report;
pub mod run;
pub mod swap;
#[cfg(feature = "std")]
pub mod sweep;
