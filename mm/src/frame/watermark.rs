//! Zone watermarks, computed exactly as Linux's `init_per_zone_wmark_min()` and
//! `__setup_per_zone_wmarks()` do for a kernel with a single lowmem zone. Pure
//! arithmetic: no allocator state is touched here.

use crate::addr::PAGE_SHIFT;

/// Linux's limits for the default `min_free_kbytes` (mm/page_alloc.c).
const MIN_FREE_KBYTES_FLOOR: u64 = 128;
const MIN_FREE_KBYTES_CEIL: u64 = 262_144;
/// Largest `vm.watermark_scale_factor` Linux's sysctl accepts (units of 1/10000 of
/// the zone: 30 %).
pub const WATERMARK_SCALE_FACTOR_MAX: u32 = 3000;
/// Linux's default `vm.watermark_scale_factor` (0.1 % of the zone).
pub const WATERMARK_SCALE_FACTOR_DEFAULT: u32 = 10;

/// Tunables of the zone, the sysctls `vm.min_free_kbytes` / `vm.watermark_scale_factor`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ZoneConfig {
    /// `None`: Linux's default, `int_sqrt(lowmem_kbytes * 16)` clamped to 128 KiB..256 MiB.
    pub min_free_kbytes: Option<u64>,
    /// 1..=3000; the low and high marks sit this many 1/10000ths of the zone apart.
    pub watermark_scale_factor: u32,
}

impl Default for ZoneConfig {
    fn default() -> Self {
        ZoneConfig {
            min_free_kbytes: None,
            watermark_scale_factor: WATERMARK_SCALE_FACTOR_DEFAULT,
        }
    }
}

/// `WMARK_MIN/LOW/HIGH`, in pages. Below `low` kswapd is woken, below `min` the
/// allocating task reclaims itself, kswapd sleeps again once `high` is met.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Watermarks {
    /// `WMARK_MIN`: below it, the allocating task reclaims directly.
    pub min: u64,
    /// `WMARK_LOW`: below it, the allocator wakes kswapd.
    pub low: u64,
    /// `WMARK_HIGH`: kswapd reclaims until free pages reach it, then sleeps.
    pub high: u64,
}

/// Linux's `int_sqrt()`: floor of the square root.
pub(crate) fn int_sqrt(x: u64) -> u64 {
    if x < 2 {
        return x;
    }
    // Newton's method from above converges to the floor for integers.
    let mut r = x;
    let mut next = x.div_ceil(2);
    while next < r {
        r = next;
        next = (r + x / r) / 2;
    }
    r
}

/// Linux's `mult_frac(x, n, d)`: `x * n / d` without overflowing the product.
fn mult_frac(x: u64, n: u64, d: u64) -> u64 {
    (x / d) * n + (x % d) * n / d
}

/// `init_per_zone_wmark_min()` with no user setting: `lowmem_kbytes` is the zone's
/// managed memory (nothing is reserved above the watermarks yet at boot).
pub fn default_min_free_kbytes(managed_pages: u64) -> u64 {
    let lowmem_kbytes = managed_pages << (PAGE_SHIFT - 10);
    int_sqrt(lowmem_kbytes.saturating_mul(16)).clamp(MIN_FREE_KBYTES_FLOOR, MIN_FREE_KBYTES_CEIL)
}

/// `__setup_per_zone_wmarks()` for the only zone (its share of `pages_min` is all of it).
/// `cfg.watermark_scale_factor` must already be validated (1..=3000).
pub fn setup_per_zone_wmarks(managed_pages: u64, cfg: &ZoneConfig) -> Watermarks {
    let min_free_kbytes = cfg
        .min_free_kbytes
        .unwrap_or_else(|| default_min_free_kbytes(managed_pages));
    let min = min_free_kbytes >> (PAGE_SHIFT - 10);
    let delta = (min >> 2).max(mult_frac(
        managed_pages,
        u64::from(cfg.watermark_scale_factor),
        10_000,
    ));
    Watermarks {
        min,
        low: min + delta,
        high: min + 2 * delta,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB_PAGES: u64 = 256;

    #[test]
    fn int_sqrt_is_the_floor() {
        for x in 0..10_000u64 {
            let r = int_sqrt(x);
            assert!(r * r <= x && (r + 1) * (r + 1) > x, "int_sqrt({x}) = {r}");
        }
        assert_eq!(int_sqrt(u64::MAX), u64::from(u32::MAX));
    }

    // Hand-computed from mm/page_alloc.c (4 KiB pages, default scale factor 10).
    #[test]
    fn linux_defaults_for_common_sizes() {
        let cfg = ZoneConfig::default();
        // 512 MiB: sqrt(524288 * 16) = 2896 KiB -> min 724 pages; min/4 = 181 beats
        // 131072 * 10 / 10000 = 131.
        assert_eq!(default_min_free_kbytes(512 * MIB_PAGES), 2896);
        assert_eq!(
            setup_per_zone_wmarks(512 * MIB_PAGES, &cfg),
            Watermarks {
                min: 724,
                low: 905,
                high: 1086
            }
        );
        // 1 GiB: sqrt(16 Mi) = 4096 KiB -> 1024 pages; 262144 * 10 / 10000 = 262 > 256.
        assert_eq!(
            setup_per_zone_wmarks(1024 * MIB_PAGES, &cfg),
            Watermarks {
                min: 1024,
                low: 1286,
                high: 1548
            }
        );
        // 16 MiB: sqrt(262144) = 512 KiB -> 128 pages; delta = max(32, 4) = 32.
        assert_eq!(
            setup_per_zone_wmarks(16 * MIB_PAGES, &cfg),
            Watermarks {
                min: 128,
                low: 160,
                high: 192
            }
        );
    }

    #[test]
    fn default_min_free_kbytes_is_clamped_like_linux() {
        // 256 KiB of RAM: sqrt(256 * 16) = 64 KiB, raised to the 128 KiB floor.
        assert_eq!(default_min_free_kbytes(64), 128);
        // 16 TiB: sqrt(2^34 * 16) = 524288 KiB -> capped at 262144 (256 MiB).
        assert_eq!(default_min_free_kbytes(1 << 32), 262_144);
    }

    #[test]
    fn explicit_min_free_kbytes_and_scale_factor() {
        // 8 GiB (2097152 pages), min_free_kbytes 65536 -> 16384 pages; scale factor 150
        // (1.5 %, a common Android setting): 2097152 * 150 / 10000 = 31457 > 4096.
        let cfg = ZoneConfig {
            min_free_kbytes: Some(65_536),
            watermark_scale_factor: 150,
        };
        assert_eq!(
            setup_per_zone_wmarks(8 * 1024 * MIB_PAGES, &cfg),
            Watermarks {
                min: 16_384,
                low: 47_841,
                high: 79_298
            }
        );
    }

    #[test]
    fn mult_frac_matches_the_exact_quotient() {
        assert_eq!(mult_frac(131_072, 10, 10_000), 131);
        assert_eq!(
            mult_frac(u64::MAX, 3000, 10_000),
            (u128::from(u64::MAX) * 3000 / 10_000) as u64
        );
    }
}
