//! Ring operation sequences (push, batch push, pop, batch pop, sleep/wake) against a
//! `VecDeque` model, each input byte one operation, on rings of capacity 1, 4, 16.
//! `cd mm/fuzz && cargo +nightly fuzz run ring_ops -- -max_total_time=60`
#![no_main]
#![forbid(unsafe_code)]

#[path = "../../tests/ring_ops/mod.rs"]
mod ring_ops;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ring_ops::check_all_capacities(data);
});
