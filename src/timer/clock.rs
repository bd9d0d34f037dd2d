//! The one conversion between [`Instant`] and wheel ticks.

use std::time::{Duration, Instant};

const NANOS_PER_TICK: u128 = 1_000_000;

/// Converts between [`Instant`]s and the millisecond ticks of a
/// [`Wheel`](super::Wheel), counted from an origin.
///
/// Deadlines round up and the current time rounds down, so a timer whose
/// deadline came from [`deadline_tick`](Clock::deadline_tick) is due only
/// once [`now_tick`](Clock::now_tick) says the deadline instant has passed:
/// never early, and at most one tick late.
///
/// # Examples
///
#[cfg_attr(feature = "internals", doc = "```")]
#[cfg_attr(not(feature = "internals"), doc = "```ignore")]
/// use std::time::{Duration, Instant};
/// use procrun::timer::{Clock, Wheel};
///
/// let start = Instant::now();
/// let clock = Clock::with_origin(start);
/// let mut wheel = Wheel::new();
/// wheel.insert(clock.deadline_tick(start + Duration::from_micros(2_500)), "grace over");
///
/// // 2.9 ms after the origin is still before the deadline...
/// wheel.advance(clock.now_tick(start + Duration::from_micros(2_900)), |_, _| unreachable!());
/// // ...and 3 ms is at it.
/// let mut fired = Vec::new();
/// wheel.advance(clock.now_tick(start + Duration::from_millis(3)), |_, v| fired.push(v));
/// assert_eq!(fired, ["grace over"]);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: Instant,
}

impl Clock {
    /// A clock whose tick 0 is now. The only clock read of the timer module.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "internals", doc = "```")]
    #[cfg_attr(not(feature = "internals"), doc = "```ignore")]
    /// let clock = procrun::timer::Clock::new();
    /// assert_eq!(clock.now_tick(clock.origin()), 0);
    /// ```
    pub fn new() -> Clock {
        Clock::with_origin(Instant::now())
    }

    /// A clock whose tick 0 is `origin`.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "internals", doc = "```")]
    #[cfg_attr(not(feature = "internals"), doc = "```ignore")]
    /// use std::time::{Duration, Instant};
    /// let origin = Instant::now();
    /// let clock = procrun::timer::Clock::with_origin(origin);
    /// assert_eq!(clock.now_tick(origin + Duration::from_secs(2)), 2_000);
    /// ```
    pub fn with_origin(origin: Instant) -> Clock {
        Clock { origin }
    }

    /// The instant of tick 0.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "internals", doc = "```")]
    #[cfg_attr(not(feature = "internals"), doc = "```ignore")]
    /// let origin = std::time::Instant::now();
    /// assert_eq!(procrun::timer::Clock::with_origin(origin).origin(), origin);
    /// ```
    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// The tick for a deadline at `at`: the first tick not before it
    /// (rounded up), 0 for an instant before the origin, saturating at
    /// `u64::MAX`.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "internals", doc = "```")]
    #[cfg_attr(not(feature = "internals"), doc = "```ignore")]
    /// use std::time::{Duration, Instant};
    /// let origin = Instant::now();
    /// let clock = procrun::timer::Clock::with_origin(origin);
    /// assert_eq!(clock.deadline_tick(origin + Duration::from_millis(5)), 5);
    /// assert_eq!(clock.deadline_tick(origin + Duration::from_nanos(5_000_001)), 6);
    /// ```
    pub fn deadline_tick(&self, at: Instant) -> u64 {
        match at.checked_duration_since(self.origin) {
            Some(since) => ticks(since.as_nanos().div_ceil(NANOS_PER_TICK)),
            None => 0,
        }
    }

    /// The tick for the current time `at`: the last tick not after it
    /// (rounded down), 0 for an instant before the origin, saturating at
    /// `u64::MAX`.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "internals", doc = "```")]
    #[cfg_attr(not(feature = "internals"), doc = "```ignore")]
    /// use std::time::{Duration, Instant};
    /// let origin = Instant::now();
    /// let clock = procrun::timer::Clock::with_origin(origin);
    /// assert_eq!(clock.now_tick(origin + Duration::from_nanos(5_999_999)), 5);
    /// ```
    pub fn now_tick(&self, at: Instant) -> u64 {
        match at.checked_duration_since(self.origin) {
            Some(since) => ticks(since.as_nanos() / NANOS_PER_TICK),
            None => 0,
        }
    }

    /// The instant of `tick`: the origin plus `tick` milliseconds. Where the
    /// platform's `Instant` cannot hold that (not the case on Linux, whose
    /// `Instant` spans billions of years), it is capped at 30 years after the
    /// origin, which no wait will reach.
    ///
    /// # Examples
    ///
    #[cfg_attr(feature = "internals", doc = "```")]
    #[cfg_attr(not(feature = "internals"), doc = "```ignore")]
    /// use std::time::{Duration, Instant};
    /// let origin = Instant::now();
    /// let clock = procrun::timer::Clock::with_origin(origin);
    /// assert_eq!(clock.instant(1_500), origin + Duration::from_millis(1_500));
    /// ```
    pub fn instant(&self, tick: u64) -> Instant {
        self.origin
            .checked_add(Duration::from_millis(tick))
            .unwrap_or_else(|| self.origin + Duration::from_secs(30 * 365 * 86_400))
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::new()
    }
}

fn ticks(n: u128) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
