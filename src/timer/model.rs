//! The wheel's contract written the obvious way, and the checks that hold a
//! real [`Wheel`] to it: the unit tests and the fuzz target drive both with
//! the same operations (from a seeded generator, from fuzz input), so a
//! change to the contract is made once.

use std::collections::{BTreeMap, HashMap};

use super::{TimerKey, Wheel};

/// Every live timer with the tick from which it is due (its deadline, or
/// the wheel's tick when it was inserted late), ordered in a `BTreeMap`.
///
/// Values must be distinct: with the due tick they order the map.
#[derive(Debug, Default)]
pub struct Model {
    elapsed: u64,
    due: BTreeMap<(u64, u64), TimerKey>,
    live: HashMap<TimerKey, (u64, u64)>,
}

impl Model {
    /// An empty model at tick 0, as [`Wheel::new`] is.
    pub fn new() -> Model {
        Model::default()
    }

    /// Records the timer the wheel just inserted under `key`.
    ///
    /// # Panics
    ///
    /// When the wheel handed out a key that is still live.
    pub fn insert(&mut self, key: TimerKey, deadline: u64, value: u64) {
        let due = deadline.max(self.elapsed);
        self.due.insert((due, value), key);
        assert!(
            self.live.insert(key, (due, value)).is_none(),
            "key reissued"
        );
    }

    /// Removes the timer of `key`; its value, or `None` when it is not live.
    /// What [`Wheel::cancel`] must return.
    pub fn cancel(&mut self, key: TimerKey) -> Option<u64> {
        self.remove(key).map(|(_, value)| value)
    }

    /// The earliest tick at which a live timer is due.
    pub fn earliest(&self) -> Option<u64> {
        self.due.keys().next().map(|&(due, _)| due)
    }

    /// The number of live timers.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether no timer is live.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Polls `wheel` at `now` until it has nothing due (once only when
    /// `one`), checking each timer it hands out against the model.
    ///
    /// # Panics
    ///
    /// When the wheel hands out a dead timer, a timer out of deadline order
    /// or on another tick than the one it became due, misses a due timer,
    /// ends on another tick than `now`, or then reports a next deadline a
    /// waiting loop would spin on.
    pub fn fire(&mut self, wheel: &mut Wheel<u64>, now: u64, one: bool) {
        let target = now.max(self.elapsed);
        loop {
            let before = wheel.elapsed();
            let Some((key, value)) = wheel.poll(now) else {
                break;
            };
            let (due, v) = self.remove(key).expect("fired a dead key");
            assert_eq!(v, value);
            assert!(
                self.earliest().map_or(true, |next| next >= due),
                "out of order"
            );
            assert!(before <= wheel.elapsed() && wheel.elapsed() <= target);
            assert_eq!(due, wheel.elapsed(), "fired at the wrong tick");
            self.elapsed = due;
            if one {
                return;
            }
        }
        assert!(
            self.earliest().map_or(true, |due| due > target),
            "missed a due timer"
        );
        assert_eq!(wheel.elapsed(), target);
        self.elapsed = target;
        // After a poll that found nothing, the next deadline is strictly
        // ahead.
        assert!(
            wheel.next_deadline().map_or(true, |t| t > target),
            "would spin"
        );
    }

    /// Checks what `wheel` says of its timers without moving it: as many
    /// live, and a next deadline between its tick and the earliest due tick.
    ///
    /// # Panics
    ///
    /// When the wheel disagrees.
    pub fn check(&self, wheel: &Wheel<u64>) {
        assert_eq!(wheel.len(), self.len(), "live timers");
        match (wheel.next_deadline(), self.earliest()) {
            (None, None) => {}
            (Some(t), Some(earliest)) => assert!(
                wheel.elapsed() <= t && t <= earliest,
                "next_deadline {t}, elapsed {}, earliest {earliest}",
                wheel.elapsed()
            ),
            other => panic!("next_deadline and earliest: {other:?}"),
        }
    }

    /// Empties `wheel` as a reactor would, polling at each next deadline,
    /// and checks every timer it hands out.
    ///
    /// # Panics
    ///
    /// As [`fire`](Model::fire) does, or when waiting for the next deadline
    /// makes no progress: each wait must fire a timer or sort a slot into
    /// lower levels, so a few per timer suffice.
    pub fn drain(&mut self, wheel: &mut Wheel<u64>) {
        let mut waits = 0;
        while let Some(t) = wheel.next_deadline() {
            self.fire(wheel, t, false);
            waits += 1;
            assert!(waits <= 8 * (self.len() + 1) + 1000, "next_deadline spins");
        }
        assert!(self.is_empty(), "the wheel emptied before the model");
    }

    fn remove(&mut self, key: TimerKey) -> Option<(u64, u64)> {
        let (due, value) = self.live.remove(&key)?;
        self.due.remove(&(due, value));
        Some((due, value))
    }
}
