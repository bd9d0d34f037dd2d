//! Wall-clock stamps in RFC 3339, UTC, formatted by hand: UTC needs no
//! time-zone database, and a log read on another host (or after a change
//! to daylight saving) then means the same instant.

use std::fmt;
use std::time::Duration;

/// A time since the Unix epoch, shown as `2024-02-29T13:05:09.250Z`
/// (milliseconds, truncated: a stamp is never later than the line).
pub struct Utc(pub Duration);

impl fmt::Display for Utc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        let (days, rest) = (secs / 86_400, secs % 86_400);
        let (y, m, d) = civil(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
            rest / 3600,
            rest / 60 % 60,
            rest % 60,
            self.0.subsec_millis()
        )
    }
}

/// The proleptic Gregorian date `days` after 1970-01-01: the civil_from_days
/// algorithm (eras of 400 years, each 146097 days, years counted from
/// March so the leap day ends them).
fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(Utc(Duration::from_millis(ms)).to_string(), want, "{ms}");
        }
    }

    /// Against a day-by-day walk of the calendar, the obviously right way.
    #[test]
    fn every_day_for_five_centuries_follows_the_previous_one() {
        let leap = |y: u64| y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        let (mut y, mut m, mut d) = (1970, 1, 1);
        for days in 0..(530 * 366) {
            assert_eq!(civil(days), (y, m, d), "day {days}");
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
}
