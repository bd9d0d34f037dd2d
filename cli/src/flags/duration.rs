//! Durations as operators write them: `500ms`, `1.5s`, `1m30s`, `1d`, or a
//! bare number of seconds as `timeout` takes it.

use std::time::Duration;

/// A bare number of seconds (`3`, `1.5`), or humantime's forms: numbers
/// each with a unit, added up (`1m30s`, `1h 30m`, `100us`, `1d`, `.25s`).
///
/// `M` (humantime's month) is refused: beside `m` it is a minute mistyped
/// far more often than a month meant, and a month would turn a short
/// timeout into none at all. A sum too large for a `Duration` is refused;
/// one that fits but lies past any clock (`18446744073709551615s`) is for
/// the library to read as "never": no timeout, no SIGKILL after the grace,
/// a restart never due (waited for until a stop), as one of centuries
/// (`5000000h`) behaves.
///
/// # Errors
///
/// The one line to print.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = |why: &dyn std::fmt::Display| format!("bad duration '{s}': {why}");
    if s.contains('M') {
        return Err(bad(
            &"'M' would be months; write minutes as 'm', days as 'd'",
        ));
    }
    let bare = !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.');
    // humantime wants a digit before the point, as `0.25s`.
    let lead = if s.starts_with('.') { "0" } else { "" };
    let unit = if bare { "s" } else { "" };
    humantime::parse_duration(&format!("{lead}{s}{unit}")).map_err(|e| bad(&e))
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
            "",
            "s",
            ".",
            "1.2.3s",
            "-1s",
            "1x",
            "1e3",
            "inf",
            "nan",
            "1..s",
            "1m30",
            "m30s",
            "1M",
            "2Months",
            "99999999999999999999h",
            "999999999999999999999999999999999999999999d",
        ] {
            let e = parse_duration(s).expect_err(s);
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn durations_past_any_clock_parse_and_past_a_duration_are_refused() {
        // The library reads these as "never" (checked arithmetic).
        assert!(parse_duration("584y").is_ok());
        assert_eq!(
            parse_duration(&format!("{}s", u64::MAX)),
            Ok(Duration::from_secs(u64::MAX))
        );
        assert!(parse_duration(&format!("{}s1s", u64::MAX)).is_err());
        assert!(parse_duration(&format!("{}d", u64::MAX)).is_err());
    }
}
