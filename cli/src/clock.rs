//! What starts each line and note with `--timestamps`: seconds since
//! procrun started, or the wall-clock time in RFC 3339, UTC, as humantime
//! writes it. UTC needs no time-zone database, and a log read on another
//! host (or after a change to daylight saving) then means the same
//! instant.

use std::fmt;
use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What starts each line with `--timestamps`.
#[derive(Clone, Copy)]
pub enum Clock {
    /// Seconds since this instant.
    Elapsed(Instant),
    Wall,
}

/// The start of a line: the time stamp, if asked for.
pub fn stamp(buf: &mut Vec<u8>, clock: Option<Clock>) {
    // Writing to a Vec cannot fail, nor can either stamp's Display.
    let _ = match clock {
        None => Ok(()),
        Some(Clock::Elapsed(start)) => write!(buf, "{}", Stamp(start.elapsed())),
        Some(Clock::Wall) => write!(buf, "{} ", wall(SystemTime::now())),
    };
}

/// Seconds since procrun started, to the millisecond.
struct Stamp(Duration);

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>6}.{:03} ", self.0.as_secs(), self.0.subsec_millis())
    }
}

/// The last instant an RFC 3339 year of four digits can write:
/// 9999-12-31T23:59:59.999999999Z.
const LAST: Duration = Duration::new(253_402_300_799, 999_999_999);

/// `now` as `2024-02-29T13:05:09.250Z`: milliseconds, truncated (a stamp
/// is never later than the line). A clock set before 1970 is shown as
/// 1970 and one past 9999 as the end of 9999, not refused (humantime
/// writes neither), so that every stamp has the same width.
pub fn wall(now: SystemTime) -> humantime::Rfc3339Timestamp {
    let now = now.max(UNIX_EPOCH);
    // Where a SystemTime cannot reach 9999, there is nothing to clamp.
    let now = UNIX_EPOCH
        .checked_add(LAST)
        .map_or(now, |last| now.min(last));
    humantime::format_rfc3339_millis(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(d: Duration) -> String {
        wall(UNIX_EPOCH + d).to_string()
    }

    #[test]
    fn known_instants_print_as_rfc3339_utc() {
        for (ms, want) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (951_868_799_999, "2000-02-29T23:59:59.999Z"),
            (1_709_164_800_500, "2024-02-29T00:00:00.500Z"),
            (4_102_444_800_000, "2100-01-01T00:00:00.000Z"),
            (253_402_300_799_000, "9999-12-31T23:59:59.000Z"),
        ] {
            assert_eq!(at(Duration::from_millis(ms)), want, "{ms}");
        }
        // Truncated, never rounded up past the line's own time.
        assert_eq!(
            at(Duration::new(59, 999_999_999)),
            "1970-01-01T00:00:59.999Z"
        );
    }

    #[test]
    fn a_clock_past_9999_shows_the_last_instant_rfc_3339_can_write() {
        let year_10000 = Duration::from_secs(253_402_300_800);
        assert_eq!(at(year_10000), "9999-12-31T23:59:59.999Z");
        assert_eq!(at(Duration::from_secs(u64::MAX / 4)), at(year_10000));
    }

    #[test]
    fn a_clock_before_1970_shows_1970() {
        let before = UNIX_EPOCH - Duration::from_secs(86_400);
        assert_eq!(wall(before).to_string(), "1970-01-01T00:00:00.000Z");
    }

    /// Against a day-by-day walk of the calendar, the obviously right way.
    #[test]
    fn every_day_for_five_centuries_follows_the_previous_one() {
        let leap = |y: u64| y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        let (mut y, mut m, mut d) = (1970, 1, 1);
        for days in 0..(530 * 366) {
            let stamp = at(Duration::from_secs(days * 86_400));
            assert_eq!(stamp[..10], format!("{y:04}-{m:02}-{d:02}"), "day {days}");
            let month_len = match m {
                2 if leap(y) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > month_len {
                (d, m) = (1, m + 1);
            }
            if m > 12 {
                (m, y) = (1, y + 1);
            }
        }
    }

    #[test]
    fn stamps_are_seconds_with_milliseconds() {
        assert_eq!(
            Stamp(Duration::from_millis(61_005)).to_string(),
            "    61.005 "
        );
    }
}
