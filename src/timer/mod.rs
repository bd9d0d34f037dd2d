//! A hierarchical timer wheel counting integer millisecond ticks.
//!
//! The reactor keeps its restart delays, kill escalations and timeouts in one
//! [`Wheel`]. The wheel is pure: it reads no clock and does no I/O. Every
//! method that moves time takes `now` as a tick, and [`Clock`] is the one
//! place that turns [`Instant`](std::time::Instant)s into ticks (deadlines
//! rounded up, so a timer never fires early).
//!
//! Not part of procrun's API: the module is public only with the
//! `internals` feature, for the benches and fuzz targets.
//!
//! # Layout
//!
//! Six levels of 64 slots: level 0 has 1 ms slots and spans 64 ms, level 1
//! has 64 ms slots, … level 5 has slots of about 12 days and spans 2^36 ms
//! (about 2.2 years). A timer sits on the level of the highest 6-bit digit in
//! which its deadline differs from the wheel's [`elapsed`](Wheel::elapsed)
//! tick. Each level keeps an `occupied` bitmap, so the next slot to handle is
//! a `trailing_zeros`, never a scan. When time reaches a slot of a higher
//! level its timers are cascaded down, each at most once per level before it
//! fires. Deadlines further than the wheel's span (`u64` ticks go
//! far beyond 2.2 years) wait in an overflow list that is sorted back into the
//! wheel when time enters their 2^36-tick block; they are never dropped or
//! fired early.
//!
//! Timers live in a slab whose freed entries are reused, so once the number
//! of live timers stops growing, inserting allocates nothing. Insert and
//! cancel are O(1); a [`TimerKey`] is an index plus a generation, so the key
//! of a fired or cancelled timer never touches a newer one.
//!
//! # Timing
//!
//! A timer fires at the first [`poll`](Wheel::poll) or
//! [`advance`](Wheel::advance) whose `now` is at or past its deadline; with
//! deadlines from [`Clock::deadline_tick`] and `now` from
//! [`Clock::now_tick`], that is never before the deadline instant and at most
//! one tick after it when the caller advances on time. Due timers come out in
//! order of deadline; timers due on the same tick come out in no set order.
//!
//! # Examples
//!
#![cfg_attr(feature = "internals", doc = "```")]
#![cfg_attr(not(feature = "internals"), doc = "```ignore")]
//! use procrun::timer::Wheel;
//!
//! let mut wheel = Wheel::new();
//! let grace = wheel.insert(3_000, "sigkill");
//! let restart = wheel.insert(5_000, "restart");
//! assert_eq!(wheel.next_deadline(), Some(3_000));
//!
//! assert_eq!(wheel.cancel(restart), Some("restart"));
//!
//! let mut fired = Vec::new();
//! wheel.advance(3_000, |key, what| fired.push((key, what)));
//! assert_eq!(fired, [(grace, "sigkill")]);
//! assert!(wheel.is_empty());
//! assert_eq!(wheel.next_deadline(), None);
//! ```

mod clock;
mod level;
// Compiled for the tests, and with `internals` for the fuzz target, which
// checks the wheel against the same model.
#[cfg(any(test, feature = "internals"))]
pub mod model;
mod slab;
#[cfg(test)]
mod tests;

pub use clock::Clock;

use std::fmt;
use std::num::NonZeroU32;

use level::{level_for, slot_for, slot_start, wheel_block_start, Level, NUM_LEVELS};
use slab::{ListId, Node, Slab, NIL};

/// The handle of a timer in a [`Wheel`]: an entry index and the generation
/// of that entry when the timer was inserted.
///
/// Keys are small and `Copy`. A key outlives its timer harmlessly: once the
/// timer fired or was cancelled, [`Wheel::cancel`] with the key returns
/// `None`, even after the entry was reused by a new timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerKey {
    index: u32,
    // Never 0: `Option<TimerKey>` takes that value, so it is 8 bytes.
    generation: NonZeroU32,
}

/// A hierarchical timer wheel holding values of type `T` until their
/// deadline tick.
///
/// See the [module docs](self) for the layout and the timing guarantees.
///
/// # Examples
///
#[cfg_attr(feature = "internals", doc = "```")]
#[cfg_attr(not(feature = "internals"), doc = "```ignore")]
/// use procrun::timer::Wheel;
///
/// let mut wheel = Wheel::new();
/// wheel.insert(10, 'a');
/// wheel.insert(200_000, 'b');
///
/// assert_eq!(wheel.poll(9), None);
/// assert_eq!(wheel.poll(10).map(|(_, v)| v), Some('a'));
/// assert_eq!(wheel.poll(10), None);
/// assert_eq!(wheel.elapsed(), 10);
/// assert_eq!(wheel.len(), 1);
/// ```
pub struct Wheel<T> {
    /// The tick the wheel has advanced to. Every timer in a level or in the
    /// overflow list is due strictly after it; every pending one at or
    /// before it.
    elapsed: u64,
    levels: Box<[Level; NUM_LEVELS]>,
    /// Head of the list of timers beyond the wheel's span.
    overflow: u32,
    /// No later than the earliest deadline in the overflow list.
    overflow_min: u64,
    /// Head of the list of due timers not yet handed out.
    pending: u32,
    slab: Slab<T>,
}

/// A list whose timers must be handled when time reaches a point.
#[derive(Clone, Copy)]
enum Due {
    Pending,
    Slot { level: usize, slot: usize },
    Overflow,
}

impl<T> Wheel<T> {
    /// An empty wheel at tick 0.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "internals", doc = "```")]
    #[cfg_attr(not(feature = "internals"), doc = "```ignore")]
    /// let wheel = procrun::timer::Wheel::<()>::new();
    /// assert_eq!(wheel.elapsed(), 0);
    /// assert!(wheel.is_empty());
    /// ```
    pub fn new() -> Wheel<T> {
        Wheel {
            elapsed: 0,
            levels: Box::new([Level::EMPTY; NUM_LEVELS]),
            overflow: NIL,
            overflow_min: u64::MAX,
            pending: NIL,
            slab: Slab::new(),
        }
    }

    /// The tick the wheel has advanced to: the `now` of the last
    /// [`advance`](Wheel::advance), or of the last [`poll`](Wheel::poll) that
    /// returned `None`; while a `poll` sequence is still handing out due
    /// timers, the tick it has reached so far.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "internals", doc = "```")]
    #[cfg_attr(not(feature = "internals"), doc = "```ignore")]
    /// let mut wheel = procrun::timer::Wheel::<()>::new();
    /// wheel.advance(42, |_, _| {});
    /// assert_eq!(wheel.elapsed(), 42);
    /// wheel.advance(7, |_, _| {}); // time does not run backwards
    /// assert_eq!(wheel.elapsed(), 42);
    /// ```
    pub fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// The number of live (neither fired nor cancelled) timers.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "internals", doc = "```")]
    #[cfg_attr(not(feature = "internals"), doc = "```ignore")]
    /// let mut wheel = procrun::timer::Wheel::new();
    /// wheel.insert(5, ());
    /// assert_eq!(wheel.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Whether no timer is live.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "internals", doc = "```")]
    #[cfg_attr(not(feature = "internals"), doc = "```ignore")]
    /// let mut wheel = procrun::timer::Wheel::new();
    /// assert!(wheel.is_empty());
    /// let key = wheel.insert(5, ());
    /// wheel.cancel(key);
    /// assert!(wheel.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.slab.len() == 0
    }

    /// Adds a timer due at tick `deadline` and returns its key.
    ///
    /// A deadline at or before [`elapsed`](Wheel::elapsed) is due at once:
    /// the next `poll` or `advance` hands it out. O(1); reuses the entry of a
    /// fired or cancelled timer when there is one.
    ///
    /// # Panics
    ///
    /// When `u32::MAX` (2^32 - 1) timers are already live.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "internals", doc = "```")]
    #[cfg_attr(not(feature = "internals"), doc = "```ignore")]
    /// let mut wheel = procrun::timer::Wheel::new();
    /// wheel.advance(100, |_, _| {});
    /// let late = wheel.insert(50, "late");
    /// assert_eq!(wheel.next_deadline(), Some(100));
    /// assert_eq!(wheel.poll(100), Some((late, "late")));
    /// ```
    pub fn insert(&mut self, deadline: u64, value: T) -> TimerKey {
        let (index, generation) = self.slab.insert(Node {
            deadline,
            list: ListId::Pending,
            prev: NIL,
            next: NIL,
            value,
        });
        self.place(index, deadline);
        TimerKey { index, generation }
    }

    /// Removes the timer of `key` and returns its value, or `None` when that
    /// timer already fired or was cancelled. O(1).
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "internals", doc = "```")]
    #[cfg_attr(not(feature = "internals"), doc = "```ignore")]
    /// let mut wheel = procrun::timer::Wheel::new();
    /// let old = wheel.insert(5, "old");
    /// assert_eq!(wheel.cancel(old), Some("old"));
    ///
    /// // The entry is reused, but the old key stays dead.
    /// let new = wheel.insert(5, "new");
    /// assert_eq!(wheel.cancel(old), None);
    /// assert_eq!(wheel.cancel(new), Some("new"));
    /// ```
    pub fn cancel(&mut self, key: TimerKey) -> Option<T> {
        self.slab.get(key.index, key.generation)?;
        self.unlink(key.index);
        Some(self.slab.remove(key.index).1)
    }

    /// The deadline of the live timer of `key`, or `None` when it fired or
    /// was cancelled.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "internals", doc = "```")]
    #[cfg_attr(not(feature = "internals"), doc = "```ignore")]
    /// let mut wheel = procrun::timer::Wheel::new();
    /// let key = wheel.insert(5, ());
    /// assert_eq!(wheel.deadline(key), Some(5));
    /// wheel.advance(5, |_, _| {});
    /// assert_eq!(wheel.deadline(key), None);
    /// ```
    pub fn deadline(&self, key: TimerKey) -> Option<u64> {
        self.slab
            .get(key.index, key.generation)
            .map(|node| node.deadline)
    }

    /// The tick at which to call [`poll`](Wheel::poll) or
    /// [`advance`](Wheel::advance) next, or `None` when the wheel is empty.
    ///
    /// This is the earliest deadline of the live timers, or `elapsed` when
    /// some timer is already due. One case gives an earlier tick: when a
    /// cancel removed the earliest timer of a slot wider than one tick (a
    /// deadline at least 64 ticks ahead) and other timers remain in that
    /// slot, the wheel does not walk the slot to find the new earliest, and
    /// reports the removed deadline until that slot is reached. The answer is
    /// therefore never later than the earliest deadline, and polling at it
    /// always makes progress: it fires a timer or sorts that slot into finer
    /// ones, after which the answer is exact. A loop that waits until
    /// `next_deadline` and polls cannot spin.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "internals", doc = "```")]
    #[cfg_attr(not(feature = "internals"), doc = "```ignore")]
    /// let mut wheel = procrun::timer::Wheel::new();
    /// assert_eq!(wheel.next_deadline(), None);
    /// wheel.insert(90_000, ());
    /// wheel.insert(1_000, ());
    /// assert_eq!(wheel.next_deadline(), Some(1_000));
    /// ```
    pub fn next_deadline(&self) -> Option<u64> {
        let (point, due) = self.next_due()?;
        Some(match due {
            Due::Pending => point,
            Due::Slot { level, slot } => point.max(self.levels[level].min[slot]),
            Due::Overflow => self.overflow_min,
        })
    }

    /// Hands out one timer due at `now` (deadline at or before it), moving
    /// [`elapsed`](Wheel::elapsed) toward `now`; `None` when no more timers
    /// are due, with `elapsed` then equal to `now`. A `now` before `elapsed`
    /// counts as `elapsed`.
    ///
    /// Successive calls hand out timers in deadline order. Timers inserted
    /// between calls take part as soon as they are due.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "internals", doc = "```")]
    #[cfg_attr(not(feature = "internals"), doc = "```ignore")]
    /// let mut wheel = procrun::timer::Wheel::new();
    /// let b = wheel.insert(20, 'b');
    /// let a = wheel.insert(10, 'a');
    /// assert_eq!(wheel.poll(30), Some((a, 'a')));
    /// assert_eq!(wheel.poll(30), Some((b, 'b')));
    /// assert_eq!(wheel.poll(30), None);
    /// assert_eq!(wheel.elapsed(), 30);
    /// ```
    pub fn poll(&mut self, now: u64) -> Option<(TimerKey, T)> {
        let now = now.max(self.elapsed);
        loop {
            match self.next_due() {
                Some((_, Due::Pending)) => {
                    let index = self.pending;
                    self.unlink(index);
                    let (generation, value) = self.slab.remove(index);
                    return Some((TimerKey { index, generation }, value));
                }
                Some((point, due)) if point <= now => {
                    debug_assert!(point > self.elapsed, "wheel went backwards");
                    self.elapsed = point;
                    self.cascade(due);
                }
                _ => {
                    self.elapsed = now;
                    return None;
                }
            }
        }
    }

    /// Hands every timer due at `now` to `f`, in deadline order, and moves
    /// [`elapsed`](Wheel::elapsed) to `now` (or leaves it when `now` is
    /// earlier).
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "internals", doc = "```")]
    #[cfg_attr(not(feature = "internals"), doc = "```ignore")]
    /// let mut wheel = procrun::timer::Wheel::new();
    /// for tick in [30, 10, 20, 40] {
    ///     wheel.insert(tick, tick);
    /// }
    /// let mut fired = Vec::new();
    /// wheel.advance(30, |_, tick| fired.push(tick));
    /// assert_eq!(fired, [10, 20, 30]);
    /// assert_eq!(wheel.next_deadline(), Some(40));
    /// ```
    pub fn advance<F: FnMut(TimerKey, T)>(&mut self, now: u64, mut f: F) {
        while let Some((key, value)) = self.poll(now) {
            f(key, value);
        }
    }

    /// The next list to handle and the tick at which to handle it. Lower
    /// levels come first: everything on a level is due before anything on
    /// the levels above it, and the overflow list after the whole wheel.
    fn next_due(&self) -> Option<(u64, Due)> {
        if self.pending != NIL {
            return Some((self.elapsed, Due::Pending));
        }
        for (level, lv) in self.levels.iter().enumerate() {
            if let Some(slot) = lv.first_slot() {
                let start = slot_start(self.elapsed, level, slot);
                return Some((start, Due::Slot { level, slot }));
            }
        }
        if self.overflow != NIL {
            return Some((wheel_block_start(self.overflow_min), Due::Overflow));
        }
        None
    }

    /// Re-places every timer of a list whose time (now `elapsed`) has come:
    /// those due go to pending, the rest to lower levels (or, from the
    /// overflow list, into the wheel or back to the overflow list).
    fn cascade(&mut self, due: Due) {
        let mut index = match due {
            Due::Pending => return,
            Due::Slot { level, slot } => {
                let lv = &mut self.levels[level];
                lv.clear(slot);
                std::mem::replace(&mut lv.head[slot], NIL)
            }
            Due::Overflow => {
                self.overflow_min = u64::MAX;
                std::mem::replace(&mut self.overflow, NIL)
            }
        };
        while index != NIL {
            let node = self.slab.node(index);
            let (next, deadline) = (node.next, node.deadline);
            self.place(index, deadline);
            index = next;
        }
    }

    /// Links the (unlinked) entry `index` into the list its deadline calls
    /// for, relative to `elapsed`.
    fn place(&mut self, index: u32, deadline: u64) {
        let list = if deadline <= self.elapsed {
            ListId::Pending
        } else {
            let level = level_for(self.elapsed, deadline);
            if level == NUM_LEVELS {
                self.overflow_min = self.overflow_min.min(deadline);
                ListId::Overflow
            } else {
                let slot = slot_for(deadline, level);
                self.levels[level].mark(slot, deadline);
                ListId::Slot {
                    level: level as u8,
                    slot: slot as u8,
                }
            }
        };
        let head = match list {
            ListId::Slot { level, slot } => &mut self.levels[level as usize].head[slot as usize],
            ListId::Overflow => &mut self.overflow,
            ListId::Pending => &mut self.pending,
        };
        let old = std::mem::replace(head, index);
        if old != NIL {
            self.slab.node_mut(old).prev = index;
        }
        let node = self.slab.node_mut(index);
        node.list = list;
        node.prev = NIL;
        node.next = old;
    }

    /// Takes the live entry `index` out of its list, keeping the occupied
    /// bits and bounds of an emptied list right.
    fn unlink(&mut self, index: u32) {
        let node = self.slab.node(index);
        let (list, prev, next) = (node.list, node.prev, node.next);
        if next != NIL {
            self.slab.node_mut(next).prev = prev;
        }
        if prev != NIL {
            self.slab.node_mut(prev).next = next;
            return;
        }
        match list {
            ListId::Slot { level, slot } => {
                let lv = &mut self.levels[level as usize];
                lv.head[slot as usize] = next;
                if next == NIL {
                    lv.clear(slot as usize);
                }
            }
            ListId::Overflow => {
                self.overflow = next;
                if next == NIL {
                    self.overflow_min = u64::MAX;
                }
            }
            ListId::Pending => self.pending = next,
        }
    }
}

impl<T> Default for Wheel<T> {
    fn default() -> Wheel<T> {
        Wheel::new()
    }
}

impl<T> fmt::Debug for Wheel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wheel")
            .field("elapsed", &self.elapsed)
            .field("len", &self.len())
            .field("next_deadline", &self.next_deadline())
            .finish_non_exhaustive()
    }
}
