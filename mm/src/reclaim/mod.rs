//! Page reclaim: the swap-entry state protocol (`swap`) shared by reclaim, the
//! compressor workers and the fault path, and the policy (`policy`: kswapd, direct
//! reclaim, kcompressd, swap-in) that drives the zone, LRU, ring and store through
//! their public APIs. Owns none of their data.

#[cfg(feature = "std")]
pub mod harness;
pub mod policy;
pub mod swap;
