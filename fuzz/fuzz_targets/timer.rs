//! The timer wheel against a BTreeMap model, driven by fuzz input: every
//! insert, cancel, poll and advance must agree with the model on which timers
//! are live, which fire at each `now` and in what order, and `next_deadline`
//! must never be later than the earliest due tick nor let a waiting loop spin.
#![no_main]

use std::collections::{BTreeMap, HashMap};

use libfuzzer_sys::fuzz_target;
use procrun::timer::{TimerKey, Wheel};

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

#[derive(Default)]
struct Model {
    elapsed: u64,
    due: BTreeMap<(u64, u64), TimerKey>,
    live: HashMap<TimerKey, (u64, u64)>,
}

impl Model {
    fn remove(&mut self, key: TimerKey) -> Option<(u64, u64)> {
        let (due, value) = self.live.remove(&key)?;
        self.due.remove(&(due, value));
        Some((due, value))
    }

    fn earliest(&self) -> Option<u64> {
        self.due.keys().next().map(|&(due, _)| due)
    }
}

fn fire(wheel: &mut Wheel<u64>, model: &mut Model, now: u64, one: bool) {
    let target = now.max(model.elapsed);
    while let Some((key, value)) = wheel.poll(now) {
        let (due, v) = model.remove(key).expect("fired a dead key");
        assert_eq!(v, value);
        assert_eq!(due, wheel.elapsed(), "fired at the wrong tick");
        assert!(due <= target);
        assert!(model.earliest().map_or(true, |next| next >= due), "out of order");
        model.elapsed = due;
        if one {
            return;
        }
    }
    assert!(model.earliest().map_or(true, |due| due > target), "missed a due timer");
    assert_eq!(wheel.elapsed(), target);
    model.elapsed = target;
    assert!(wheel.next_deadline().map_or(true, |t| t > target), "would spin");
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let mut wheel = Wheel::new();
    let mut model = Model::default();
    let mut keys = Vec::new();
    let mut next_value = 0;
    while let Some(op) = input.byte() {
        let kind = op >> 2;
        match op % 4 {
            0 => {
                let deadline = input.tick(kind, wheel.elapsed());
                let key = wheel.insert(deadline, next_value);
                let due = deadline.max(model.elapsed);
                model.due.insert((due, next_value), key);
                assert!(model.live.insert(key, (due, next_value)).is_none());
                keys.push(key);
                next_value += 1;
            }
            1 => {
                if keys.is_empty() {
                    continue;
                }
                let key = keys[input.uint(2) as usize % keys.len()];
                let expected = model.remove(key).map(|(_, v)| v);
                assert_eq!(wheel.cancel(key), expected);
            }
            2 => {
                let now = if kind & 1 == 0 {
                    wheel.next_deadline().unwrap_or(0)
                } else {
                    input.tick(kind >> 1, wheel.elapsed())
                };
                fire(&mut wheel, &mut model, now, false);
            }
            _ => {
                let now = input.tick(kind, wheel.elapsed());
                fire(&mut wheel, &mut model, now, true);
            }
        }
        assert_eq!(wheel.len(), model.live.len());
        match (wheel.next_deadline(), model.earliest()) {
            (None, None) => {}
            (Some(t), Some(earliest)) => assert!(wheel.elapsed() <= t && t <= earliest),
            other => panic!("next_deadline disagrees: {other:?}"),
        }
    }
    let mut waits = 0;
    while let Some(t) = wheel.next_deadline() {
        fire(&mut wheel, &mut model, t, false);
        waits += 1;
        assert!(waits <= 8 * (model.live.len() + 1) + 1000, "next_deadline spins");
    }
    assert!(model.live.is_empty());
});
