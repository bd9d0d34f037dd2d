//! Helpers shared by the unit tests, and by the timer bench, which includes
//! this file by path: a bench cannot see a test-only module.

/// `full` natively, `miri` under Miri: how many rounds (or bytes) a test of
/// a pure module makes. Miri, which `scripts/test` runs those tests under,
/// runs them a few thousand times slower, so there a test keeps the cases
/// at the edges and fewer random ones.
pub(crate) const fn scale(full: usize, miri: usize) -> usize {
    if cfg!(miri) {
        miri
    } else {
        full
    }
}

/// splitmix64: a fixed-seed source of test inputs, so a failure replays.
#[derive(Debug)]
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (which must not be 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A number below `n` (which must not be 0), as `u64`.
    pub(crate) fn below_u64(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// One of `from` (which must not be empty).
    pub(crate) fn pick(&mut self, from: &[u8]) -> u8 {
        from[self.below(from.len())]
    }
}

/// When a test that drives real children gives up: 60 s from now,
/// stretched by `PROCRUN_TEST_SLOWDOWN` (a whole number, 1 when unset),
/// which the emulated lanes (scripts/test-vm, scripts/test-aarch64) set,
/// as the integration tests' watchdogs are.
#[cfg(test)]
pub(crate) fn watchdog() -> std::time::Instant {
    let factor = std::env::var("PROCRUN_TEST_SLOWDOWN")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    std::time::Instant::now() + std::time::Duration::from_secs(60) * factor
}
