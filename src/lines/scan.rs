//! Finding every `\n` of a chunk: each 64 bytes become one bit mask of
//! newline positions, whose set bits are then walked.
//!
//! `memchr_iter` makes one call and starts one search per line. That is
//! cheap for long lines, but with 64-byte lines it was a sixth of the
//! reactor's CPU time, more than the kernel's copy out of the pipe. A block
//! costs four compares whatever its lines hold, and each line one
//! `trailing_zeros`. A block without a newline hands the search to
//! `memchr`, whose wider search skips long lines faster than blocks do,
//! until a short line comes again.
//!
//! The masks come from an SSE2 kernel (`crate::sys::newline_mask`), built
//! where the target enables SSE2, whatever the architecture: x86_64
//! targets do unless told not to, i586 does not. Elsewhere `memchr_iter`
//! does it all, as it does for a chunk's tail shorter than a block.

use memchr::memchr_iter;

/// Calls `f` with the index of each `\n` in `hay`, in order.
#[cfg(all(
    any(target_arch = "x86", target_arch = "x86_64"),
    target_feature = "sse2"
))]
#[inline(always)]
pub(super) fn each_newline<F: FnMut(usize)>(hay: &[u8], mut f: F) {
    if let Some(start) = blocks(hay, &mut f) {
        each_newline_from(hay, start, f);
    }
}

/// Calls `f` with the index of each `\n` in `hay`, in order.
#[cfg(not(all(
    any(target_arch = "x86", target_arch = "x86_64"),
    target_feature = "sse2"
)))]
#[inline(always)]
pub(super) fn each_newline<F: FnMut(usize)>(hay: &[u8], f: F) {
    each_newline_from(hay, 0, f);
}

/// The search without masks: `memchr_iter` from `start`.
#[inline(always)]
fn each_newline_from<F: FnMut(usize)>(hay: &[u8], start: usize, mut f: F) {
    for end in memchr_iter(b'\n', &hay[start..]) {
        f(start + end);
    }
}

/// Walks `hay` 64 bytes at a time; returns where the tail shorter than a
/// block starts, or `None` when a long line's search reached the end.
#[cfg(all(
    any(target_arch = "x86", target_arch = "x86_64"),
    target_feature = "sse2"
))]
#[inline(always)]
fn blocks<F: FnMut(usize)>(hay: &[u8], f: &mut F) -> Option<usize> {
    let mut i = 0;
    while let Some(block) = hay
        .get(i..i + 64)
        .and_then(|b| <&[u8; 64]>::try_from(b).ok())
    {
        let mut mask = crate::sys::newline_mask(block);
        if mask == 0 {
            // Long lines: memchr finds their ends, line after line, until
            // a short one says blocks pay again.
            let (mut start, mut from) = (i, i + 64);
            loop {
                let k = memchr::memchr(b'\n', &hay[from..])?;
                let end = from + k;
                f(end);
                let long = end - start >= 64;
                start = end + 1;
                from = start;
                if !long {
                    break;
                }
            }
            i = start;
            continue;
        }
        while mask != 0 {
            f(i + mask.trailing_zeros() as usize);
            mask &= mask - 1;
        }
        i += 64;
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::{each_newline, each_newline_from};
    use crate::testutil::{scale, Rng};

    /// What the splitter finds, checked against the search without masks
    /// (the whole search where the target has no SSE2), so both paths are
    /// tested on every target.
    fn found(hay: &[u8]) -> Vec<usize> {
        let mut v = Vec::new();
        each_newline(hay, |i| v.push(i));
        let mut plain = Vec::new();
        each_newline_from(hay, 0, |i| plain.push(i));
        assert_eq!(v, plain, "the two paths disagree on {hay:?}");
        v
    }

    fn expected(hay: &[u8]) -> Vec<usize> {
        (0..hay.len()).filter(|&i| hay[i] == b'\n').collect()
    }

    #[test]
    fn every_newline_at_every_place_and_length() {
        // Each length across the block edges, a newline at each position,
        // alone and with its neighbours. Under Miri, the lengths and places
        // beside a block edge only.
        let edge = |i: usize| !cfg!(miri) || matches!(i % 64, 0 | 1 | 63);
        for len in (0..200).filter(|&len| edge(len)) {
            assert_eq!(found(&vec![b'x'; len]), expected(&vec![b'x'; len]));
            assert_eq!(found(&vec![b'\n'; len]), expected(&vec![b'\n'; len]));
            for at in (0..len).filter(|&at| edge(at) || at + 1 == len) {
                let mut hay = vec![b'x'; len];
                hay[at] = b'\n';
                assert_eq!(found(&hay), [at], "len {len} at {at}");
                if at + 1 < len {
                    hay[at + 1] = b'\n';
                    assert_eq!(found(&hay), expected(&hay), "len {len} at {at}+1");
                }
            }
        }
    }

    #[test]
    fn random_densities_match_a_plain_scan() {
        let mut rng = Rng(7);
        for round in 0..scale(3_000, 24) {
            let len = rng.below(1_000);
            // From mostly newlines to one in a thousand; other bytes include
            // 0x8a and 0x0b, which differ from `\n` in one bit only.
            let one_in = [1, 2, 8, 64, 300, 1_000][round % 6];
            let hay: Vec<u8> = (0..len)
                .map(|_| match rng.below(one_in) {
                    0 => b'\n',
                    _ => [b'a', 0x8a, 0x0b, 0, 0xff][rng.below(5)],
                })
                .collect();
            assert_eq!(found(&hay), expected(&hay), "round {round}");
        }
    }
}
