use std::time::{Duration, Instant};

use super::level::{level_range, slot_range, NUM_LEVELS, WHEEL_RANGE};
use super::model::Model;
use super::slab::{ListId, NIL};
use super::{Clock, TimerKey, Wheel};
use crate::testutil::{scale, Rng};

/// A span shorter than the range of a random level.
fn within_a_level(rng: &mut Rng) -> u64 {
    let range = level_range(rng.below(NUM_LEVELS));
    rng.below_u64(range)
}

impl<T> Wheel<T> {
    /// Which list the live timer of `key` is in.
    fn location(&self, key: TimerKey) -> ListId {
        self.slab.get(key.index, key.generation).unwrap().list
    }

    /// Walks every list and checks the structure against `elapsed`.
    fn check_invariants(&self) {
        let mut count = 0;
        let mut walk = |head: u32, list: ListId, check: &mut dyn FnMut(u64)| {
            let (mut prev, mut index) = (NIL, head);
            while index != NIL {
                let node = self.slab.node(index);
                assert_eq!(node.list, list);
                assert_eq!(node.prev, prev);
                check(node.deadline);
                count += 1;
                prev = index;
                index = node.next;
            }
        };
        let elapsed = self.elapsed;
        walk(self.pending, ListId::Pending, &mut |d| {
            assert!(d <= elapsed)
        });
        for (level, lv) in self.levels.iter().enumerate() {
            for slot in 0..64 {
                let occupied = lv.occupied & (1 << slot) != 0;
                assert_eq!(occupied, lv.head[slot] != NIL, "level {level} slot {slot}");
                if !occupied {
                    assert_eq!(lv.min[slot], u64::MAX);
                }
                let list = ListId::Slot {
                    level: level as u8,
                    slot: slot as u8,
                };
                walk(lv.head[slot], list, &mut |d| {
                    assert!(d > elapsed);
                    assert_eq!(naive_location(elapsed, d), list, "deadline {d}");
                    assert!(lv.min[slot] <= d);
                });
            }
        }
        if self.overflow == NIL {
            assert_eq!(self.overflow_min, u64::MAX);
        }
        let overflow_min = self.overflow_min;
        walk(self.overflow, ListId::Overflow, &mut |d| {
            assert_eq!(naive_location(elapsed, d), ListId::Overflow);
            assert!(overflow_min <= d);
        });
        assert_eq!(count, self.len());
    }
}

/// Where a timer due at `deadline` belongs when the wheel is at `elapsed`,
/// digit by digit: on the level of the highest base-64 digit that differs.
fn naive_location(elapsed: u64, deadline: u64) -> ListId {
    if deadline <= elapsed {
        return ListId::Pending;
    }
    if elapsed >> 36 != deadline >> 36 {
        return ListId::Overflow;
    }
    let digit = |t: u64, level: usize| (t >> (6 * level)) & 63;
    let level = (0..NUM_LEVELS)
        .rev()
        .find(|&l| digit(elapsed, l) != digit(deadline, l))
        .unwrap();
    ListId::Slot {
        level: level as u8,
        slot: digit(deadline, level) as u8,
    }
}

/// Every level edge from `elapsed` (the last tick of each level's block and
/// the first of the next, i.e. where the placement changes) and its
/// neighbours.
fn edges(elapsed: u64) -> Vec<u64> {
    let mut out = vec![elapsed + 1, elapsed + 2];
    for level in 0..NUM_LEVELS {
        for width in [slot_range(level), level_range(level)] {
            let boundary = (elapsed | (width - 1)).saturating_add(1);
            for d in [boundary - 1, boundary, boundary.saturating_add(1)] {
                if d > elapsed {
                    out.push(d);
                }
            }
        }
    }
    out
}

const ELAPSED_STARTS: [u64; 5] = [
    0,
    100,
    0x0123_4567_89ab,
    WHEEL_RANGE - 1,
    u64::MAX - 3 * WHEEL_RANGE,
];

#[test]
fn level_and_slot_follow_every_level_edge() {
    // From elapsed 0 the edges are the powers of 64.
    let mut wheel = Wheel::new();
    let at = |w: &mut Wheel<()>, d| {
        let key = w.insert(d, ());
        w.location(key)
    };
    let slot = |level, slot| ListId::Slot { level, slot };
    assert_eq!(at(&mut wheel, 0), ListId::Pending);
    assert_eq!(at(&mut wheel, 1), slot(0, 1));
    assert_eq!(at(&mut wheel, 63), slot(0, 63));
    for level in 1..NUM_LEVELS as u8 {
        let edge = 1u64 << (6 * level);
        assert_eq!(at(&mut wheel, edge - 1), slot(level - 1, 63));
        assert_eq!(at(&mut wheel, edge), slot(level, 1));
        assert_eq!(at(&mut wheel, edge + 1), slot(level, 1));
    }
    assert_eq!(at(&mut wheel, WHEEL_RANGE - 1), slot(5, 63));
    assert_eq!(at(&mut wheel, WHEEL_RANGE), ListId::Overflow);
    assert_eq!(at(&mut wheel, WHEEL_RANGE + 1), ListId::Overflow);
    wheel.check_invariants();

    // From other ticks the edges are block boundaries, not distances.
    for elapsed in ELAPSED_STARTS {
        let mut wheel = Wheel::new();
        wheel.advance(elapsed, |_, _| {});
        for d in edges(elapsed) {
            let key = wheel.insert(d, ());
            assert_eq!(
                wheel.location(key),
                naive_location(elapsed, d),
                "elapsed {elapsed:#x} deadline {d:#x}"
            );
        }
        wheel.check_invariants();
    }
}

#[test]
fn timer_at_every_level_edge_fires_on_its_tick_and_not_before() {
    for elapsed in ELAPSED_STARTS {
        for d in edges(elapsed) {
            let mut wheel = Wheel::new();
            wheel.advance(elapsed, |_, _| {});
            let key = wheel.insert(d, d);
            assert_eq!(wheel.next_deadline(), Some(d));
            wheel.advance(d - 1, |_, _| panic!("deadline {d:#x} fired early"));
            wheel.check_invariants();
            assert_eq!(wheel.next_deadline(), Some(d));
            assert_eq!(wheel.poll(d), Some((key, d)), "elapsed {elapsed:#x}");
            assert_eq!(wheel.poll(d), None);
            assert!(wheel.is_empty());
        }
    }
}

/// A deadline drawn from every scale the wheel distinguishes.
fn any_deadline(rng: &mut Rng, elapsed: u64) -> u64 {
    match rng.below_u64(16) {
        0 => elapsed.saturating_sub(rng.below_u64(100)),
        1..=4 => elapsed.saturating_add(rng.below_u64(70)),
        5..=9 => elapsed.saturating_add(within_a_level(rng)),
        10..=12 => {
            let level = rng.below_u64(7) as u32;
            let width = 1u64 << (6 * level).min(63);
            let boundary = (elapsed | (width - 1)).saturating_add(1);
            boundary.saturating_add(rng.below_u64(3)).saturating_sub(1)
        }
        13 => elapsed.saturating_add(WHEEL_RANGE * (1 + rng.below_u64(3)) + rng.below_u64(1 << 20)),
        14 => elapsed.saturating_add(rng.next() >> rng.below_u64(64)),
        _ => u64::MAX - rng.below_u64(3),
    }
}

fn any_now(rng: &mut Rng, wheel: &Wheel<u64>) -> u64 {
    let elapsed = wheel.elapsed();
    match rng.below_u64(10) {
        0..=2 => elapsed.saturating_add(rng.below_u64(4)),
        3..=5 => elapsed.saturating_add(within_a_level(rng)),
        6 => wheel.next_deadline().unwrap_or(elapsed),
        7 => wheel.next_deadline().unwrap_or(elapsed).saturating_sub(1),
        8 => elapsed.saturating_sub(rng.below_u64(10)),
        _ => elapsed.saturating_add(rng.next() >> (20 + rng.below_u64(44))),
    }
}

fn run_model(seed: u64, steps: usize) {
    let mut rng = Rng(seed);
    let mut wheel = Wheel::new();
    let mut model = Model::new();
    let mut keys = Vec::new();
    let mut next_value = 0;
    for step in 0..steps {
        match rng.below_u64(10) {
            0..=3 => {
                let deadline = any_deadline(&mut rng, wheel.elapsed());
                let key = wheel.insert(deadline, next_value);
                model.insert(key, deadline, next_value);
                keys.push(key);
                next_value += 1;
            }
            4..=5 if !keys.is_empty() => {
                // Old keys stay in the list, so stale keys are tried too.
                let key = keys[rng.below_u64(keys.len() as u64) as usize];
                let expected = model.cancel(key);
                assert_eq!(wheel.cancel(key), expected, "seed {seed} step {step}");
            }
            6..=7 => {
                let now = any_now(&mut rng, &wheel);
                model.fire(&mut wheel, now, false);
            }
            _ => {
                let now = any_now(&mut rng, &wheel);
                model.fire(&mut wheel, now, true);
            }
        }
        model.check(&wheel);
        if step % 64 == 0 {
            wheel.check_invariants();
        }
    }
    wheel.check_invariants();
    model.drain(&mut wheel);
}

#[test]
fn wheel_matches_btreemap_model_over_random_operations() {
    for seed in 0..scale(40, 2) as u64 {
        run_model(seed, scale(4_000, 500));
    }
}

#[test]
fn next_deadline_is_exact_while_nothing_is_cancelled() {
    let mut rng = Rng(7);
    let mut wheel = Wheel::new();
    let mut model = Model::new();
    for value in 0..scale(20_000, 300) as u64 {
        if rng.below_u64(3) == 0 {
            let now = any_now(&mut rng, &wheel);
            model.fire(&mut wheel, now, rng.below_u64(2) == 0);
        } else {
            let deadline = any_deadline(&mut rng, wheel.elapsed());
            let key = wheel.insert(deadline, value);
            model.insert(key, deadline, value);
        }
        assert_eq!(wheel.next_deadline(), model.earliest());
    }
}

#[test]
fn cancelled_slot_minimum_leaves_an_early_but_safe_next_deadline() {
    let mut wheel = Wheel::new();
    // Both on level 1, slot 15 (ticks 960..1024).
    let first = wheel.insert(1_000, ());
    wheel.insert(1_010, ());
    assert_eq!(wheel.next_deadline(), Some(1_000));
    wheel.cancel(first);
    let early = wheel.next_deadline().unwrap();
    assert!(early <= 1_010);
    // Waiting until then sorts the slot, after which the answer is exact.
    assert_eq!(wheel.poll(early), None);
    assert_eq!(wheel.next_deadline(), Some(1_010));
    wheel.check_invariants();
}

#[test]
fn many_timers_on_one_tick_all_fire_together() {
    let mut wheel = Wheel::new();
    let keys: Vec<_> = (0..scale(10_000, 500) as i32)
        .map(|i| wheel.insert(5_000, i))
        .collect();
    wheel.insert(5_001, -1);
    wheel.advance(4_999, |_, _| panic!("fired early"));
    let mut fired = Vec::new();
    wheel.advance(5_000, |key, value| fired.push((key, value)));
    fired.sort_by_key(|&(_, value)| value);
    let expected: Vec<_> = keys.into_iter().zip(0..).collect();
    assert_eq!(fired, expected);
    assert_eq!(wheel.len(), 1);
    assert_eq!(wheel.next_deadline(), Some(5_001));
}

#[test]
fn cancel_of_one_key_while_others_on_its_tick_expire() {
    let mut wheel = Wheel::new();
    let keys: Vec<_> = (0..100).map(|i| wheel.insert(3_000, i)).collect();
    for key in keys.iter().step_by(3) {
        assert!(wheel.cancel(*key).is_some());
    }
    let mut fired = Vec::new();
    // Start handing out the tick's timers, cancel one of the rest midway.
    let (first, _) = wheel.poll(3_000).unwrap();
    fired.push(first);
    let victim = *keys
        .iter()
        .skip(1)
        .step_by(3)
        .find(|&&k| k != first)
        .unwrap();
    assert!(wheel.cancel(victim).is_some());
    wheel.advance(3_000, |key, _| fired.push(key));
    fired.sort_by_key(|k| k.index);
    let mut expected: Vec<_> = keys
        .iter()
        .enumerate()
        .filter(|&(i, &k)| i % 3 != 0 && k != victim)
        .map(|(_, &k)| k)
        .collect();
    expected.sort_by_key(|k| k.index);
    assert_eq!(fired, expected);
    assert_eq!(wheel.cancel(victim), None);
    assert_eq!(wheel.cancel(first), None);
    assert!(wheel.is_empty());
}

#[test]
fn deadline_days_away_fires_on_its_tick() {
    const DAY: u64 = 86_400_000;
    let mut wheel = Wheel::new();
    wheel.advance(12_345, |_, _| {});
    let deadline = 12_345 + 3 * DAY + 17;
    let key = wheel.insert(deadline, "days");
    let mut waits = 0;
    let mut fired = None;
    while let Some(t) = wheel.next_deadline() {
        assert!(t <= deadline);
        wheel.advance(t, |k, v| fired = Some((t, k, v)));
        waits += 1;
    }
    assert_eq!(fired, Some((deadline, key, "days")));
    assert_eq!(waits, 1, "an exact next_deadline needs a single wait");
}

#[test]
fn deadline_beyond_the_top_level_is_kept_and_fires_on_its_tick() {
    for deadline in [
        WHEEL_RANGE,
        WHEEL_RANGE + 5,
        3 * WHEEL_RANGE - 1,
        1 << 40,
        (1 << 63) + 12_345,
        u64::MAX - 1,
        u64::MAX,
    ] {
        let mut wheel = Wheel::new();
        let key = wheel.insert(deadline, deadline);
        let near = wheel.insert(100, 0);
        assert_eq!(wheel.next_deadline(), Some(100));
        wheel.advance(deadline - 1, |k, _| assert_eq!(k, near));
        wheel.check_invariants();
        assert_eq!(wheel.len(), 1);
        assert_eq!(wheel.next_deadline(), Some(deadline));
        assert_eq!(wheel.poll(deadline), Some((key, deadline)));
    }
}

#[test]
fn advance_jumping_far_ahead_fires_everything_due_in_order() {
    let mut rng = Rng(99);
    let mut wheel = Wheel::new();
    let mut deadlines = Vec::new();
    for _ in 0..scale(10_000, 500) {
        let d = any_deadline(&mut rng, 0);
        wheel.insert(d, d);
        deadlines.push(d);
    }
    for now in [1 << 20, 1 << 45, u64::MAX] {
        let mut fired = Vec::new();
        wheel.advance(now, |_, d| fired.push(d));
        assert!(fired.windows(2).all(|w| w[0] <= w[1]), "out of order");
        let mut expected: Vec<_> = deadlines.iter().copied().filter(|&d| d <= now).collect();
        deadlines.retain(|&d| d > now);
        expected.sort_unstable();
        assert_eq!(fired, expected);
        assert_eq!(wheel.len(), deadlines.len());
        wheel.check_invariants();
    }
    assert!(wheel.is_empty());
}

#[test]
fn stale_key_after_reuse_does_not_touch_the_newer_timer() {
    let mut wheel = Wheel::new();
    let cancelled = wheel.insert(10, "a");
    assert_eq!(wheel.cancel(cancelled), Some("a"));
    let reuser = wheel.insert(20, "b");
    assert_eq!(reuser.index, cancelled.index, "entry not reused");
    assert_ne!(reuser, cancelled);
    assert_eq!(wheel.cancel(cancelled), None);
    assert_eq!(wheel.deadline(cancelled), None);

    // A fired key is as dead as a cancelled one.
    assert_eq!(wheel.poll(20), Some((reuser, "b")));
    let third = wheel.insert(30, "c");
    assert_eq!(third.index, reuser.index);
    assert_eq!(wheel.cancel(reuser), None);
    assert_eq!(wheel.cancel(cancelled), None);
    assert_eq!(wheel.deadline(third), Some(30));
    assert_eq!(wheel.cancel(third), Some("c"));
}

#[test]
fn deadline_already_passed_fires_at_the_next_poll() {
    let mut wheel = Wheel::new();
    wheel.advance(1_000, |_, _| {});
    let late = wheel.insert(10, ());
    let now = wheel.insert(1_000, ());
    assert_eq!(wheel.next_deadline(), Some(1_000));
    let mut fired = Vec::new();
    wheel.advance(0, |k, _| fired.push(k));
    fired.sort_by_key(|k| k.index);
    assert_eq!(fired, [late, now]);
    assert_eq!(wheel.elapsed(), 1_000);
}

#[test]
fn poll_hands_out_one_timer_at_a_time_and_none_when_nothing_is_due() {
    let mut wheel = Wheel::new();
    let a = wheel.insert(10, 'a');
    let b = wheel.insert(70, 'b');
    wheel.insert(5_000, 'c');
    assert_eq!(wheel.poll(9), None);
    assert_eq!(wheel.elapsed(), 9);
    assert_eq!(wheel.poll(100), Some((a, 'a')));
    assert!(wheel.elapsed() <= 100);
    // A timer inserted midway that is due by then joins in order.
    let late = wheel.insert(50, 'l');
    assert_eq!(wheel.poll(100), Some((late, 'l')));
    assert_eq!(wheel.poll(100), Some((b, 'b')));
    assert_eq!(wheel.poll(100), None);
    assert_eq!(wheel.elapsed(), 100);
    assert_eq!(wheel.next_deadline(), Some(5_000));
}

#[test]
fn steady_state_reuses_slab_entries() {
    let mut rng = Rng(3);
    let mut wheel = Wheel::new();
    let live_count = scale(1_000, 100);
    let mut live: Vec<_> = (0..live_count)
        .map(|_| wheel.insert(1 + rng.below_u64(100_000), ()))
        .collect();
    let capacity = wheel.slab.capacity();
    for _ in 0..scale(50_000, 1_000) {
        let i = rng.below_u64(live.len() as u64) as usize;
        assert!(wheel.cancel(live.swap_remove(i)).is_some());
        let now = wheel.elapsed() + 1;
        live.push(wheel.insert(now + rng.below_u64(100_000), ()));
        let mut fired = Vec::new();
        wheel.advance(now, |k, _| fired.push(k));
        for key in fired {
            let j = live.iter().position(|&k| k == key).unwrap();
            live[j] = wheel.insert(now + 1 + rng.below_u64(100_000), ());
        }
        assert_eq!(wheel.len(), live_count);
    }
    assert_eq!(wheel.slab.capacity(), capacity);
}

#[test]
fn clock_rounds_deadlines_up_and_now_down() {
    let origin = Instant::now();
    let clock = Clock::with_origin(origin);
    let ms = Duration::from_millis;
    let ns = Duration::from_nanos;
    assert_eq!(clock.deadline_tick(origin), 0);
    assert_eq!(clock.deadline_tick(origin + ms(7)), 7);
    assert_eq!(clock.deadline_tick(origin + ms(7) + ns(1)), 8);
    assert_eq!(clock.deadline_tick(origin + ms(8) - ns(1)), 8);
    assert_eq!(clock.now_tick(origin + ms(7)), 7);
    assert_eq!(clock.now_tick(origin + ms(7) + ns(1)), 7);
    assert_eq!(clock.now_tick(origin + ms(8) - ns(1)), 7);
    assert_eq!(clock.instant(7), origin + ms(7));
    assert_eq!(clock.now_tick(clock.instant(123_456)), 123_456);
    assert_eq!(clock.deadline_tick(clock.instant(123_456)), 123_456);
}

#[test]
fn clock_before_origin_is_tick_zero() {
    let origin = Instant::now() + Duration::from_secs(10);
    let clock = Clock::with_origin(origin);
    assert_eq!(clock.deadline_tick(origin - Duration::from_millis(5)), 0);
    assert_eq!(clock.now_tick(origin - Duration::from_millis(5)), 0);
}

#[test]
fn timer_from_clock_never_fires_early_and_at_most_one_tick_late() {
    let mut rng = Rng(11);
    let origin = Instant::now();
    let clock = Clock::with_origin(origin);
    for _ in 0..scale(10_000, 200) {
        let at = origin + Duration::from_nanos(1 + rng.below_u64(10_000_000_000));
        let mut wheel = Wheel::new();
        wheel.insert(clock.deadline_tick(at), ());
        wheel.advance(clock.now_tick(at - Duration::from_nanos(1)), |_, _| {
            panic!("fired before {at:?}")
        });
        let mut fired = false;
        wheel.advance(clock.now_tick(at + Duration::from_millis(1)), |_, _| {
            fired = true;
        });
        assert!(fired, "not due one tick after {at:?}");
    }
}

/// Every supervised child holds three optional keys: the niche keeps each
/// 8 bytes rather than 12.
#[test]
fn an_optional_key_is_no_bigger_than_a_key() {
    use std::mem::size_of;
    assert_eq!(size_of::<Option<TimerKey>>(), size_of::<TimerKey>());
    assert_eq!(size_of::<TimerKey>(), 8);
}
