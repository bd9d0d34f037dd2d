//! The timer wheel against a BTreeMap model, driven by fuzz input: every
//! insert, cancel, poll and advance must agree with the model on which timers
//! are live, which fire at each `now` and in what order, and `next_deadline`
//! must never be later than the earliest due tick nor let a waiting loop spin.
#![no_main]

use libfuzzer_sys::fuzz_target;
use procrun::timer::model::Model;
use procrun::timer::Wheel;

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn uint(&mut self, bytes: usize) -> u64 {
        (0..bytes).fold(0, |n, _| n << 8 | u64::from(self.byte().unwrap_or(0)))
    }

    /// A tick relative to `elapsed`, at a scale chosen by `kind`: small
    /// steps, level edges, spans of any level, beyond the wheel, `u64::MAX`.
    fn tick(&mut self, kind: u8, elapsed: u64) -> u64 {
        match kind % 8 {
            0 => elapsed.saturating_sub(self.uint(1)),
            1 => elapsed.saturating_add(self.uint(1)),
            2 => elapsed.saturating_add(self.uint(2)),
            3 => {
                let shift = self.uint(1) % 40;
                elapsed.saturating_add(self.uint(2) << shift)
            }
            4 => {
                let width = 1u64 << (6 * (self.uint(1) % 7));
                let boundary = (elapsed | (width - 1)).saturating_add(1);
                (boundary - 1).saturating_add(self.uint(1) % 3)
            }
            5 => elapsed.saturating_add(self.uint(4) << 8),
            6 => self.uint(8),
            _ => u64::MAX - self.uint(1),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let mut wheel = Wheel::new();
    let mut model = Model::new();
    let mut keys = Vec::new();
    let mut next_value = 0;
    while let Some(op) = input.byte() {
        let kind = op >> 2;
        match op % 4 {
            0 => {
                let deadline = input.tick(kind, wheel.elapsed());
                let key = wheel.insert(deadline, next_value);
                model.insert(key, deadline, next_value);
                keys.push(key);
                next_value += 1;
            }
            1 => {
                if keys.is_empty() {
                    continue;
                }
                let key = keys[input.uint(2) as usize % keys.len()];
                assert_eq!(wheel.cancel(key), model.cancel(key));
            }
            2 => {
                let now = if kind & 1 == 0 {
                    wheel.next_deadline().unwrap_or(0)
                } else {
                    input.tick(kind >> 1, wheel.elapsed())
                };
                model.fire(&mut wheel, now, false);
            }
            _ => {
                let now = input.tick(kind, wheel.elapsed());
                model.fire(&mut wheel, now, true);
            }
        }
        model.check(&wheel);
    }
    model.drain(&mut wheel);
});
