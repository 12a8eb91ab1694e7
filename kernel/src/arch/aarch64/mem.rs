//! `memcpy`, `memmove` and `memset` in A64 assembly, 64 bytes a loop through the SIMD
//! registers, as Linux's arch/arm64/lib/ routines do. They replace compiler_builtins'
//! generic ones (8 bytes an instruction at best), which the instruction profile found
//! on the reclaim path: lz4_flex clearing its 8 KiB hash table for every page,
//! compressed objects copied into the store, match bytes moved in decompression
//! (docs/results.md, "Where a page's instructions go"). Unaligned loads and stores:
//! every Rust instruction runs with the MMU on over Normal memory (boot/head.s).
//! `self_test` checks them against byte loops; `scenario=boot` reports it.

use alloc::format;
use alloc::string::String;
use core::arch::global_asm;

global_asm!(
    r#"
    .section .text.memcpy, "ax"
    .global memcpy
    .type memcpy, %function
    .p2align 4
// memcpy(x0 dst, x1 src, x2 n) -> x0. Copies forward; every load of a chunk comes
// before its stores, so memmove uses it whenever dst <= src or the ranges are apart.
memcpy:
    mov     x3, x0
    cmp     x2, #64
    b.lo    2f
1:  ldp     q0, q1, [x1]
    ldp     q2, q3, [x1, #32]
    stp     q0, q1, [x3]
    stp     q2, q3, [x3, #32]
    add     x1, x1, #64
    add     x3, x3, #64
    sub     x2, x2, #64
    cmp     x2, #64
    b.hs    1b
2:  cmp     x2, #16
    b.lo    3f
    ldr     q0, [x1], #16
    str     q0, [x3], #16
    sub     x2, x2, #16
    b       2b
    // 0..15 bytes: two loads that may overlap, then two stores.
3:  cmp     x2, #8
    b.lo    4f
    add     x5, x1, x2
    ldr     x4, [x1]
    ldur    x5, [x5, #-8]
    add     x6, x3, x2
    str     x4, [x3]
    stur    x5, [x6, #-8]
    ret
4:  cmp     x2, #4
    b.lo    5f
    add     x5, x1, x2
    ldr     w4, [x1]
    ldur    w5, [x5, #-4]
    add     x6, x3, x2
    str     w4, [x3]
    stur    w5, [x6, #-4]
    ret
5:  cbz     x2, 7f
6:  ldrb    w4, [x1], #1
    strb    w4, [x3], #1
    subs    x2, x2, #1
    b.ne    6b
7:  ret
    .size memcpy, . - memcpy

    .section .text.memmove, "ax"
    .global memmove
    .type memmove, %function
    .p2align 4
// memmove(x0 dst, x1 src, x2 n) -> x0. dst - src >= n (unsigned): dst is below src or
// past the source, and memcpy's forward copy is safe. Otherwise copy from the end, 16
// bytes at a time: each store lands above every byte still to be loaded.
memmove:
    sub     x4, x0, x1
    cmp     x4, x2
    b.hs    memcpy
    add     x1, x1, x2
    add     x3, x0, x2
1:  cmp     x2, #16
    b.lo    2f
    ldr     q0, [x1, #-16]!
    str     q0, [x3, #-16]!
    sub     x2, x2, #16
    b       1b
2:  cbz     x2, 3f
    ldrb    w4, [x1, #-1]!
    strb    w4, [x3, #-1]!
    sub     x2, x2, #1
    b       2b
3:  ret
    .size memmove, . - memmove

    .section .text.memset, "ax"
    .global memset
    .type memset, %function
    .p2align 4
// memset(x0 dst, w1 byte, x2 n) -> x0.
memset:
    dup     v0.16b, w1
    mov     x3, x0
    cmp     x2, #64
    b.lo    2f
1:  stp     q0, q0, [x3]
    stp     q0, q0, [x3, #32]
    add     x3, x3, #64
    sub     x2, x2, #64
    cmp     x2, #64
    b.hs    1b
2:  cmp     x2, #16
    b.lo    3f
    str     q0, [x3], #16
    sub     x2, x2, #16
    b       2b
3:  cmp     x2, #8
    b.lo    4f
    fmov    x4, d0
    add     x5, x3, x2
    str     x4, [x3]
    stur    x4, [x5, #-8]
    ret
4:  cbz     x2, 6f
5:  strb    w1, [x3], #1
    subs    x2, x2, #1
    b.ne    5b
6:  ret
    .size memset, . - memset
"#
);

/// What `self_test` tries: every length up to `MAX_LEN` (each path and tail of the
/// routines) from each of `OFFSETS` (aligned, odd, 8 and 15 bytes off a 16-byte
/// boundary), in buffers with room on both sides to catch a stray store.
const MAX_LEN: usize = 200;
const OFFSETS: [usize; 4] = [0, 1, 8, 15];
const SPAN: usize = 16;
const BUF: usize = MAX_LEN + 2 * SPAN + 64;

/// Checks `memcpy`, `memmove` (both directions, overlapping) and `memset` against
/// byte-at-a-time loops for every length 0..=`MAX_LEN` and every pair of `OFFSETS`,
/// bytes around the destination included. The first difference, if any, as a
/// sentence.
pub fn self_test() -> Result<(), String> {
    let mut want = [0u8; BUF];
    let mut got = [0u8; BUF];
    let pattern = |i: usize| (i as u8).wrapping_mul(151).wrapping_add(7);
    let fill = |buf: &mut [u8; BUF]| {
        for (i, b) in buf.iter_mut().enumerate() {
            // Volatile: the reference must not become a call to the routines tested.
            // SAFETY: `b` is a valid, exclusive byte.
            unsafe { core::ptr::write_volatile(b, pattern(i)) };
        }
    };
    let compare = |what: &str, want: &[u8; BUF], got: &[u8; BUF]| -> Result<(), String> {
        match want.iter().zip(got).position(|(a, b)| a != b) {
            None => Ok(()),
            Some(at) => Err(format!(
                "{what}: byte {at} is {:#x}, not {:#x}",
                got[at], want[at]
            )),
        }
    };
    for len in 0..=MAX_LEN {
        for src in OFFSETS {
            for dst in OFFSETS {
                // memcpy between two buffers.
                fill(&mut want);
                fill(&mut got);
                let from: [u8; BUF] = core::array::from_fn(|i| (i as u8).wrapping_mul(29) ^ 0x5a);
                for i in 0..len {
                    // SAFETY: in bounds (dst + len < BUF).
                    unsafe { core::ptr::write_volatile(&mut want[dst + i], from[src + i]) };
                }
                // SAFETY: both ranges are inside their buffers and do not overlap.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        from.as_ptr().add(src),
                        got.as_mut_ptr().add(dst),
                        core::hint::black_box(len),
                    )
                };
                compare(
                    &format!("memcpy len {len} src+{src} dst+{dst}"),
                    &want,
                    &got,
                )?;
                // memmove within one buffer: dst above src (backward) and below it.
                for (from_at, to_at) in [(src, SPAN + dst), (SPAN + src, dst)] {
                    fill(&mut want);
                    fill(&mut got);
                    for i in 0..len {
                        let b = pattern(from_at + i);
                        // SAFETY: in bounds.
                        unsafe { core::ptr::write_volatile(&mut want[to_at + i], b) };
                    }
                    // SAFETY: both ranges are inside `got`; copy allows overlap.
                    unsafe {
                        core::ptr::copy(
                            got.as_ptr().add(from_at),
                            got.as_mut_ptr().add(to_at),
                            core::hint::black_box(len),
                        )
                    };
                    compare(
                        &format!("memmove len {len} from {from_at} to {to_at}"),
                        &want,
                        &got,
                    )?;
                }
            }
            // memset: `src` as the offset.
            fill(&mut want);
            fill(&mut got);
            for i in 0..len {
                // SAFETY: in bounds.
                unsafe { core::ptr::write_volatile(&mut want[src + i], 0x3c) };
            }
            // SAFETY: in bounds.
            unsafe {
                core::ptr::write_bytes(got.as_mut_ptr().add(src), 0x3c, core::hint::black_box(len))
            };
            compare(&format!("memset len {len} at +{src}"), &want, &got)?;
        }
    }
    Ok(())
}
