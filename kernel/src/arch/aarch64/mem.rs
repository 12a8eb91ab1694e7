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
    let pattern = |i: usize| (i as u8).wrapping_mul(151).wrapping_add(7);
    let from: [u8; BUF] = core::array::from_fn(|i| (i as u8).wrapping_mul(29) ^ 0x5a);
    let (mut want, mut got) = ([0u8; BUF], [0u8; BUF]);
    // One case: both buffers start as the pattern, `reference` writes the expected
    // bytes into `want` one at a time, `routine` runs the routine under test on `got`.
    let mut case = |label: &dyn Fn() -> String,
                    reference: &dyn Fn(&mut [u8; BUF]),
                    routine: &dyn Fn(&mut [u8; BUF])| {
        for i in 0..BUF {
            put(&mut want, i, pattern(i));
            put(&mut got, i, pattern(i));
        }
        reference(&mut want);
        routine(&mut got);
        match want.iter().zip(&got).position(|(a, b)| a != b) {
            None => Ok(()),
            Some(at) => Err(format!(
                "{}: byte {at} is {:#x}, not {:#x}",
                label(),
                got[at],
                want[at]
            )),
        }
    };
    for len in 0..=MAX_LEN {
        let n = || core::hint::black_box(len);
        for src in OFFSETS {
            for dst in OFFSETS {
                case(
                    &|| format!("memcpy len {len} src+{src} dst+{dst}"),
                    &|w| (0..len).for_each(|i| put(w, dst + i, from[src + i])),
                    // SAFETY: both ranges lie inside their buffers and do not overlap.
                    &|g| unsafe {
                        core::ptr::copy_nonoverlapping(
                            from.as_ptr().add(src),
                            g.as_mut_ptr().add(dst),
                            n(),
                        )
                    },
                )?;
                // memmove within one buffer: to above from (backward) and below it.
                for (at, to) in [(src, SPAN + dst), (SPAN + src, dst)] {
                    case(
                        &|| format!("memmove len {len} from {at} to {to}"),
                        &|w| (0..len).for_each(|i| put(w, to + i, pattern(at + i))),
                        // SAFETY: both ranges lie inside `g`; `copy` allows overlap.
                        &|g| unsafe {
                            core::ptr::copy(g.as_ptr().add(at), g.as_mut_ptr().add(to), n())
                        },
                    )?;
                }
            }
            case(
                &|| format!("memset len {len} at +{src}"),
                &|w| (0..len).for_each(|i| put(w, src + i, 0x3c)),
                // SAFETY: the range lies inside `g`.
                &|g| unsafe { core::ptr::write_bytes(g.as_mut_ptr().add(src), 0x3c, n()) },
            )?;
        }
    }
    Ok(())
}

/// The reference's store, volatile so the compiler does not turn a loop of them into
/// a call to the very routine being tested.
fn put(buf: &mut [u8; BUF], at: usize, byte: u8) {
    // SAFETY: `buf[at]` is a valid, exclusive byte (indexing checks the bound).
    unsafe { core::ptr::write_volatile(&mut buf[at], byte) };
}
