//! The line splitter's one SIMD kernel: where a 64-byte block holds `\n`,
//! as a bit mask (`src/lines/scan.rs` walks it). Here because it is
//! `unsafe`, as every intrinsic that loads through a pointer is.
//!
//! Built only where the target enables SSE2 (`sys/mod.rs` gates the
//! module on `target_feature`, not on the architecture: an x86 target
//! may leave SSE2 out, as i586 does and as `-C target-feature=-sse2`
//! can); elsewhere the splitter searches with `memchr` alone.

#![allow(unsafe_code)]

#[cfg(target_arch = "x86")]
use std::arch::x86::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
};

/// Bit `k` set where `block[k]` is `\n`.
#[inline(always)]
pub(crate) fn newline_mask(block: &[u8; 64]) -> u64 {
    // SAFETY: this module is built only with `target_feature = "sse2"`,
    // so every CPU the build may run on has these intrinsics. The four
    // loads read bytes 0..64 of `block`, which its type keeps in bounds;
    // `loadu` needs no alignment. `movemask` sets only the low 16 bits,
    // so each part fits its quarter of the mask.
    unsafe {
        let newline = _mm_set1_epi8(b'\n' as i8);
        let p = block.as_ptr().cast::<__m128i>();
        let part = |k: usize| {
            let bytes = _mm_loadu_si128(p.add(k));
            _mm_movemask_epi8(_mm_cmpeq_epi8(bytes, newline)) as u16 as u64
        };
        part(0) | part(1) << 16 | part(2) << 32 | part(3) << 48
    }
}

#[cfg(test)]
mod tests {
    use super::newline_mask;

    #[test]
    fn each_bit_is_its_byte() {
        for at in 0..64 {
            let mut block = [b'x'; 64];
            block[at] = b'\n';
            assert_eq!(newline_mask(&block), 1 << at);
            // One bit away from `\n`, and the sign bit: never a newline.
            block[at] = 0x8a;
            assert_eq!(newline_mask(&block), 0);
        }
        assert_eq!(newline_mask(&[b'\n'; 64]), u64::MAX);
    }
}
