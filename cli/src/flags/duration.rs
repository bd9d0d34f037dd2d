//! Durations as operators write them: `500ms`, `1.5s`, `1m30s`, `1d`, or a
//! bare number of seconds as `timeout` takes it.

use std::fmt::Display;
use std::time::Duration;

const NS_PER_SEC: u128 = 1_000_000_000;

/// The longest duration, in nanoseconds: what every larger one is capped
/// to, and what the library reads as "never".
const MAX_NANOS: u128 = u64::MAX as u128 * NS_PER_SEC + (NS_PER_SEC - 1);

/// Fraction digits kept exactly; any nonzero digit past them rounds up.
/// 10^20 times the longest unit (a year in ns, 3.2e16) still fits a u128.
const FRACTION_DIGITS: usize = 20;

/// A bare number of seconds (`3`, `1.5`), or numbers each with a unit,
/// added up (`1m30s`, `1h 30m`, `100us`, `1d`, `.25s`), the units and
/// spellings humantime takes (`ns`, `us`/`µs`, `ms`, `s`/`sec`, `m`/`min`,
/// `h`/`hr`, `d`/`day`, `w`/`week`, `y`/`year`, plurals).
///
/// One rule in every unit, as coreutils `timeout` has it: a value too
/// large for a `Duration` is capped to [`Duration::MAX`], which the library
/// reads as "never" (no timeout, no SIGKILL after the grace, a restart
/// never due, waited for until a stop), as one of centuries (`5000000h`)
/// behaves; a fraction is rounded up to the nanosecond (a timer never fires
/// early), so a value above zero but below a nanosecond (`.0000000001`) is
/// one: a timeout that fires at once. Only zero is zero.
///
/// `M` (humantime's month) is refused: beside `m` it is a minute mistyped
/// far more often than a month meant, and a month would turn a short
/// timeout into none at all.
///
/// # Errors
///
/// The one line to print.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = |why: &dyn Display| format!("bad duration '{s}': {why}");
    if s.contains('M') {
        return Err(bad(
            &"'M' would be months; write minutes as 'm', days as 'd'",
        ));
    }
    let bare = !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.');
    let mut rest = s.trim_start();
    if rest.is_empty() {
        return Err(bad(&"empty"));
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (int, frac, after) = number(rest).map_err(|why| bad(&why))?;
        let after = after.trim_start();
        let unit_len = after
            .find(|c: char| !(c.is_ascii_alphabetic() || c == 'µ'))
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let per = match unit {
            "" if bare => NS_PER_SEC,
            "" => return Err(bad(&format_args!("no unit after '{int}'"))),
            u => unit_nanos(u).ok_or_else(|| bad(&format_args!("unknown unit '{u}'")))?,
        };
        total = total.saturating_add(nanos(int, frac, per));
        rest = after.trim_start();
    }
    Ok(if total >= MAX_NANOS {
        Duration::MAX
    } else {
        // Below MAX_NANOS, the seconds fit a u64.
        Duration::new((total / NS_PER_SEC) as u64, (total % NS_PER_SEC) as u32)
    })
}

/// The digits before and after the point of the number `s` starts with,
/// and what follows it.
fn number(s: &str) -> Result<(&str, &str, &str), &'static str> {
    let digits = |t: &str| t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n = digits(s);
    let (int, rest) = s.split_at(n);
    let (frac, rest) = match rest.strip_prefix('.') {
        Some(after) => {
            let f = digits(after);
            if f == 0 {
                return Err("expected digits after the point");
            }
            after.split_at(f)
        }
        None => ("", rest),
    };
    if int.is_empty() && frac.is_empty() {
        return Err("expected a number");
    }
    Ok((int, frac, rest))
}

/// `int.frac` units of `per` nanoseconds each, rounded up to the
/// nanosecond and saturating.
fn nanos(int: &str, frac: &str, per: u128) -> u128 {
    let whole = int
        .bytes()
        .fold(0u128, |n, d| {
            n.saturating_mul(10).saturating_add(u128::from(d - b'0'))
        })
        .saturating_mul(per);
    let kept = &frac[..frac.len().min(FRACTION_DIGITS)];
    let dropped = frac[kept.len()..].bytes().any(|d| d != b'0');
    let scale = 10u128.pow(kept.len() as u32);
    let part = kept
        .bytes()
        .fold(0u128, |n, d| n * 10 + u128::from(d - b'0'))
        * per;
    // A nonzero digit past those kept makes the value strictly larger, by
    // less than a nanosecond's worth of what was kept.
    let part = if dropped {
        part / scale + 1
    } else {
        part.div_ceil(scale)
    };
    whole.saturating_add(part)
}

/// Nanoseconds per unit, humantime's spellings (months refused above).
fn unit_nanos(unit: &str) -> Option<u128> {
    let secs = match unit {
        "nanos" | "nsec" | "ns" => return Some(1),
        "usec" | "us" | "µs" => return Some(1_000),
        "millis" | "msec" | "ms" => return Some(1_000_000),
        "seconds" | "second" | "secs" | "sec" | "s" => 1,
        "minutes" | "minute" | "min" | "mins" | "m" => 60,
        "hours" | "hour" | "hr" | "hrs" | "h" => 3_600,
        "days" | "day" | "d" => 86_400,
        "weeks" | "week" | "wk" | "wks" | "w" => 7 * 86_400,
        "months" | "month" => 2_630_016,
        "years" | "year" | "yr" | "yrs" | "y" => 31_557_600,
        _ => return None,
    };
    Some(secs * NS_PER_SEC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_each_unit_are_exact() {
        let cases = [
            ("500ms", Duration::from_millis(500)),
            ("3s", Duration::from_secs(3)),
            ("3", Duration::from_secs(3)),
            ("1.5", Duration::from_millis(1500)),
            ("1.5s", Duration::from_millis(1500)),
            (".25s", Duration::from_millis(250)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            ("1d", Duration::from_secs(86_400)),
            ("100us", Duration::from_micros(100)),
            ("100µs", Duration::from_micros(100)),
            ("7ns", Duration::from_nanos(7)),
            ("0.1ms", Duration::from_micros(100)),
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
        ];
        for (s, d) in cases {
            assert_eq!(parse_duration(s), Ok(d), "{s}");
        }
    }

    #[test]
    fn compound_durations_add_up() {
        let cases = [
            ("1m30s", Duration::from_secs(90)),
            ("1h1m1s", Duration::from_secs(3661)),
            ("1d12h", Duration::from_secs(129_600)),
            ("1s500ms", Duration::from_millis(1500)),
            ("1.5m10s", Duration::from_secs(100)),
            ("2s2s", Duration::from_secs(4)),
            ("1ms1us1ns", Duration::from_nanos(1_001_001)),
            // humantime's spellings, beyond what the hand-written parser took.
            ("1m 30s", Duration::from_secs(90)),
            ("3sec", Duration::from_secs(3)),
        ];
        for (s, d) in cases {
            assert_eq!(parse_duration(s), Ok(d), "{s}");
        }
    }

    #[test]
    fn malformed_durations_are_rejected() {
        for s in [
            "", "s", ".", "1.2.3s", "-1s", "1x", "1e3", "inf", "nan", "1..s", "1m30", "m30s", "1M",
            "2Months", "1.", "1 0s", "1s-",
        ] {
            let e = parse_duration(s).expect_err(s);
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn durations_past_a_duration_are_capped_to_never_in_every_unit() {
        // The library reads these as "never" (checked arithmetic).
        assert!(parse_duration("584y").is_ok());
        assert_eq!(
            parse_duration(&format!("{}s", u64::MAX)),
            Ok(Duration::from_secs(u64::MAX))
        );
        for s in [
            format!("{}s1s", u64::MAX),
            format!("{}d", u64::MAX),
            format!("{}ms", u128::MAX),
            "9223372036854775808d".into(),
            "99999999999999999999h".into(),
            "999999999999999999999999999999999999999999d".into(),
            "999999999999999999999999999999999999999999".into(),
            "99999999999999999999999999999999999999999999999ns".into(),
        ] {
            assert_eq!(parse_duration(&s), Ok(Duration::MAX), "{s}");
        }
        // Fits a Duration in ms as it does in s: no unit is refused for a
        // value that another unit takes.
        assert_eq!(
            parse_duration(&format!("{}ms", u64::MAX)),
            Ok(Duration::from_millis(u64::MAX))
        );
    }

    #[test]
    fn tiny_durations_round_up_to_a_nanosecond_and_only_zero_is_zero() {
        for s in [
            ".0000000001",
            "0.0000000001s",
            "0.1ns",
            "0.0001us",
            "0.0000000000000000000000000001d",
        ] {
            assert_eq!(parse_duration(s), Ok(Duration::from_nanos(1)), "{s}");
        }
        for s in ["0", "0.0", ".000000000000000000000000000000", "0ns", "0.0d"] {
            assert_eq!(parse_duration(s), Ok(Duration::ZERO), "{s}");
        }
        // Rounded up, never down: a timer never fires early.
        assert_eq!(parse_duration("1.0000000001"), Ok(Duration::new(1, 1)));
        assert_eq!(
            parse_duration("0.3333333333333333333333333m"),
            Ok(Duration::from_secs(20))
        );
        assert_eq!(parse_duration("1.5ns"), Ok(Duration::from_nanos(2)));
    }
}
