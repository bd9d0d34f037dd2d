//! The timer wheel against the two obvious peers doing the same job: a
//! `BinaryHeap` min-heap (cancel by generation check, lazy deletion with
//! compaction) and a `BTreeMap<(deadline, seq), value>`.
//!
//! Two workloads, each with 1k and 100k live timers held constant:
//! - `insert_cancel`: a timeout armed and disarmed before it fires (the
//!   common case for kill escalation and command timeouts): cancel the oldest
//!   timer, insert a new one up to a minute ahead. Time stands still.
//! - `insert_expire`: time moves one tick per iteration; every timer due
//!   fires and is replaced by a new one, so about two timers fire and two are
//!   inserted per iteration.
//!
//! Read the results as ratios within one run: the machine is shared.
//!
//! It drives the `timer` module directly, which is public only with the
//! `internals` feature: `cargo bench --features internals --bench timer`.

// The unit tests' seeded generator, so every structure sees the same
// deadlines; only part of it is used here.
#[allow(dead_code)]
#[path = "../src/testutil.rs"]
mod testutil;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use procrun::timer::{TimerKey, Wheel};
use testutil::Rng;

const SIZES: [usize; 2] = [1_000, 100_000];

/// Insert+cancel deadlines lie up to a minute ahead.
const CANCEL_SPAN: u64 = 60_000;

/// What each contender offers: the job of the reactor's timers.
trait Timers: Default {
    type Key: Copy;
    fn insert(&mut self, deadline: u64, value: u64) -> Self::Key;
    fn cancel(&mut self, key: Self::Key) -> Option<u64>;
    fn expire(&mut self, now: u64, fired: &mut Vec<u64>);
}

impl Timers for Wheel<u64> {
    type Key = TimerKey;

    fn insert(&mut self, deadline: u64, value: u64) -> TimerKey {
        Wheel::insert(self, deadline, value)
    }

    fn cancel(&mut self, key: TimerKey) -> Option<u64> {
        Wheel::cancel(self, key)
    }

    fn expire(&mut self, now: u64, fired: &mut Vec<u64>) {
        self.advance(now, |_, value| fired.push(value));
    }
}

/// A min-heap of `(deadline, id, generation)`. Cancel bumps the id's
/// generation and leaves the heap entry as a tombstone, skipped when popped;
/// when tombstones outnumber live timers the heap is rebuilt without them, so
/// memory stays bounded when timers are cancelled rather than fired.
#[derive(Default)]
struct Heap {
    heap: BinaryHeap<Reverse<(u64, u32, u32)>>,
    /// Per id: current generation and the value while live.
    ids: Vec<(u32, Option<u64>)>,
    free: Vec<u32>,
    live: usize,
    tombstones: usize,
}

impl Heap {
    fn release(&mut self, id: u32) -> Option<u64> {
        let entry = &mut self.ids[id as usize];
        entry.0 = entry.0.wrapping_add(1);
        self.free.push(id);
        self.live -= 1;
        entry.1.take()
    }
}

impl Timers for Heap {
    type Key = (u32, u32);

    fn insert(&mut self, deadline: u64, value: u64) -> (u32, u32) {
        let id = self.free.pop().unwrap_or_else(|| {
            self.ids.push((0, None));
            (self.ids.len() - 1) as u32
        });
        let entry = &mut self.ids[id as usize];
        entry.1 = Some(value);
        self.heap.push(Reverse((deadline, id, entry.0)));
        self.live += 1;
        (id, entry.0)
    }

    fn cancel(&mut self, (id, generation): (u32, u32)) -> Option<u64> {
        if self.ids[id as usize].0 != generation {
            return None;
        }
        let value = self.release(id);
        self.tombstones += 1;
        if self.tombstones > self.live + 64 {
            let ids = &self.ids;
            self.heap
                .retain(|Reverse((_, id, g))| ids[*id as usize].0 == *g);
            self.tombstones = 0;
        }
        value
    }

    fn expire(&mut self, now: u64, fired: &mut Vec<u64>) {
        while let Some(&Reverse((deadline, id, generation))) = self.heap.peek() {
            if deadline > now {
                break;
            }
            self.heap.pop();
            if self.ids[id as usize].0 == generation {
                fired.extend(self.release(id));
            } else {
                self.tombstones -= 1;
            }
        }
    }
}

/// Timers ordered by `(deadline, insertion sequence)`.
#[derive(Default)]
struct Tree {
    map: BTreeMap<(u64, u64), u64>,
    seq: u64,
}

impl Timers for Tree {
    type Key = (u64, u64);

    fn insert(&mut self, deadline: u64, value: u64) -> (u64, u64) {
        self.seq += 1;
        let key = (deadline, self.seq);
        self.map.insert(key, value);
        key
    }

    fn cancel(&mut self, key: (u64, u64)) -> Option<u64> {
        self.map.remove(&key)
    }

    fn expire(&mut self, now: u64, fired: &mut Vec<u64>) {
        while let Some(entry) = self.map.first_entry() {
            if entry.key().0 > now {
                break;
            }
            fired.push(entry.remove());
        }
    }
}

/// `live` timers; each iteration cancels the oldest and arms a new one.
struct CancelLoad<T: Timers> {
    timers: T,
    ring: Vec<T::Key>,
    next: usize,
    rng: Rng,
}

impl<T: Timers> CancelLoad<T> {
    fn new(live: usize) -> Self {
        let mut timers = T::default();
        let mut rng = Rng(1);
        let ring = (0..live as u64)
            .map(|v| timers.insert(1 + rng.below_u64(CANCEL_SPAN), v))
            .collect();
        CancelLoad {
            timers,
            ring,
            next: 0,
            rng,
        }
    }

    fn step(&mut self) {
        let old = self.ring[self.next];
        let value = self.timers.cancel(old).expect("oldest timer is live");
        let deadline = 1 + self.rng.below_u64(CANCEL_SPAN);
        self.ring[self.next] = self.timers.insert(deadline, black_box(value));
        self.next = (self.next + 1) % self.ring.len();
    }
}

/// `live` timers spread over `live` ticks; each iteration moves time one
/// tick and replaces every timer that fired.
struct ExpireLoad<T: Timers> {
    timers: T,
    now: u64,
    span: u64,
    fired: Vec<u64>,
    rng: Rng,
}

impl<T: Timers> ExpireLoad<T> {
    fn new(live: usize) -> Self {
        let mut timers = T::default();
        let mut rng = Rng(2);
        let span = live as u64;
        for v in 0..span {
            timers.insert(1 + rng.below_u64(span), v);
        }
        ExpireLoad {
            timers,
            now: 0,
            span,
            fired: Vec::new(),
            rng,
        }
    }

    fn step(&mut self) {
        self.now += 1;
        self.fired.clear();
        self.timers.expire(self.now, &mut self.fired);
        for &value in &self.fired {
            let deadline = self.now + 1 + self.rng.below_u64(self.span);
            self.timers.insert(deadline, black_box(value));
        }
    }
}

fn insert_cancel(c: &mut Criterion) {
    let mut group = c.benchmark_group("timer/insert_cancel");
    for live in SIZES {
        let mut wheel = CancelLoad::<Wheel<u64>>::new(live);
        group.bench_function(BenchmarkId::new("wheel", live), |b| b.iter(|| wheel.step()));
        let mut heap = CancelLoad::<Heap>::new(live);
        group.bench_function(BenchmarkId::new("binary_heap", live), |b| {
            b.iter(|| heap.step())
        });
        let mut tree = CancelLoad::<Tree>::new(live);
        group.bench_function(BenchmarkId::new("btree_map", live), |b| {
            b.iter(|| tree.step())
        });
    }
    group.finish();
}

fn insert_expire(c: &mut Criterion) {
    let mut group = c.benchmark_group("timer/insert_expire");
    for live in SIZES {
        let mut wheel = ExpireLoad::<Wheel<u64>>::new(live);
        group.bench_function(BenchmarkId::new("wheel", live), |b| b.iter(|| wheel.step()));
        let mut heap = ExpireLoad::<Heap>::new(live);
        group.bench_function(BenchmarkId::new("binary_heap", live), |b| {
            b.iter(|| heap.step())
        });
        let mut tree = ExpireLoad::<Tree>::new(live);
        group.bench_function(BenchmarkId::new("btree_map", live), |b| {
            b.iter(|| tree.step())
        });
    }
    group.finish();
}

criterion_group!(benches, insert_cancel, insert_expire);
criterion_main!(benches);
