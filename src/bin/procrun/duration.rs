//! Durations as operators write them: `500ms`, `1.5s`, `1m30s`, `1d`.

use std::time::Duration;

/// Nanoseconds in each unit. A unit is the whole run of letters after a
/// number, so `ms` is never read as `m` followed by `s`.
const UNITS: [(&str, u128); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
];

/// A bare number of seconds (`3`, `1.5`, as `timeout` takes them), or one
/// or more numbers each with a unit (`ns`, `us`, `ms`, `s`, `m`, `h`, `d`)
/// added up: `1m30s`, `1h0.5m`; exact to the nanosecond (no float
/// rounding).
///
/// # Errors
///
/// The one line to print for anything else, or for a sum past what a
/// `Duration` of u64 nanoseconds holds (584 years).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("bad duration '{s}' (use e.g. 500ms, 3s, 1.5s, 1m30s, 2h, 1d)");
    let is_number = |c: char| c.is_ascii_digit() || c == '.';
    if s.is_empty() {
        return Err(bad());
    }
    let total = if s.chars().all(is_number) {
        amount(s, 1_000_000_000).ok_or_else(bad)?
    } else {
        let mut total: u128 = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let (num, after) = rest.split_at(rest.find(|c| !is_number(c)).unwrap_or(rest.len()));
            let (unit, next) = after.split_at(after.find(is_number).unwrap_or(after.len()));
            let &(_, unit_ns) = UNITS.iter().find(|(u, _)| *u == unit).ok_or_else(bad)?;
            total = total
                .checked_add(amount(num, unit_ns).ok_or_else(bad)?)
                .ok_or_else(bad)?;
            rest = next;
        }
        total
    };
    let ns = u64::try_from(total).map_err(|_| format!("duration '{s}' is too long"))?;
    Ok(Duration::from_nanos(ns))
}

/// `num` (digits with at most one `.`) times `unit_ns`, in nanoseconds;
/// digits past the nanosecond are dropped.
fn amount(num: &str, unit_ns: u128) -> Option<u128> {
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    if (whole.is_empty() && frac.is_empty()) || frac.contains('.') || frac.len() > 18 {
        return None;
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac_ns = if frac.is_empty() {
        0
    } else {
        let digits: u128 = frac.parse().ok()?;
        digits * unit_ns / 10u128.pow(frac.len() as u32)
    };
    whole.checked_mul(unit_ns)?.checked_add(frac_ns)
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
        ];
        for (s, d) in cases {
            assert_eq!(parse_duration(s), Ok(d), "{s}");
        }
    }

    #[test]
    fn malformed_durations_are_rejected() {
        for s in [
            "",
            "s",
            ".",
            "1.2.3s",
            "-1s",
            "1x",
            "1 s",
            "1e3",
            "inf",
            "nan",
            "3sec",
            "1..s",
            "1m30",
            "m30s",
            "1m 30s",
            "1M",
            "99999999999999999999h",
            "999999999999999999999999999999999999999999d",
            "584y",
        ] {
            assert!(parse_duration(s).is_err(), "{s:?}");
        }
    }

    #[test]
    fn the_longest_duration_is_u64_nanoseconds() {
        let max = u64::MAX;
        assert_eq!(
            parse_duration(&format!("{max}ns")),
            Ok(Duration::from_nanos(max))
        );
        assert!(parse_duration(&format!("{max}ns1ns")).is_err());
    }
}
