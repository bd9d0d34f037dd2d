//! Pure parsers for what procfs hands out: pid directory names, the head of
//! `/proc/PID/stat` and the content of `/proc/PID/comm`. No I/O, so every
//! byte sequence can be thrown at them in tests.
//!
//! The one reader of a stat line: the crate's own tests and the integration
//! tests ask /proc about a process through it too (by
//! [`Procfs::process`](super::Procfs::process)), so that the kernel's layout
//! is read one way only.

use memchr::{memchr, memrchr};

/// The longest comm the kernel keeps for a task named by `execve` or
/// `PR_SET_NAME`: `TASK_COMM_LEN` (16) less the NUL.
pub(super) const COMM_MAX: usize = 15;

/// The most decimal digits a `u32` pid can have.
pub(super) const PID_DIGITS_MAX: usize = 10;

/// The pid a procfs directory entry stands for, or `None` when the name is
/// not a decimal number (`self`, `sys`, `.`, `12a`) or does not fit a `u32`.
pub(super) fn parse_pid(name: &[u8]) -> Option<u32> {
    if name.is_empty() || name.len() > PID_DIGITS_MAX {
        return None;
    }
    let mut pid: u32 = 0;
    for &b in name {
        if !b.is_ascii_digit() {
            return None;
        }
        pid = pid.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
    }
    Some(pid)
}

/// The fields of `/proc/PID/stat` a scan keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stat<'a> {
    /// The command name, raw: any bytes but NUL, spaces, parentheses and
    /// newlines included.
    pub(super) comm: &'a [u8],
    /// The state letter (`R`, `S`, `D`, …).
    pub(super) state: u8,
    /// The ids the kernel writes after the state.
    pub(super) ids: Ids,
}

/// The three ids that follow the state in a stat line, in the kernel's
/// order. Each is `None` where the line stops before it or holds no
/// decimal `u32` there: the kernel's lines always have all three, but a
/// root written by hand may not, and its process still has a comm and a
/// state to report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub(super) struct Ids {
    /// The parent's pid.
    pub(super) ppid: Option<u32>,
    /// The process group id.
    pub(super) pgrp: Option<u32>,
    /// The session id.
    pub(super) session: Option<u32>,
}

impl Ids {
    /// The ids at the start of `rest`, the bytes after the state letter
    /// (` PPID PGRP SESSION TTY …\n`): fields one space apart, as the
    /// kernel writes them.
    fn parse(rest: &[u8]) -> Ids {
        let rest = rest.strip_suffix(b"\n").unwrap_or(rest);
        let Some(rest) = rest.strip_prefix(b" ") else {
            return Ids::default();
        };
        let mut fields = rest.split(|&b| b == b' ').map(parse_pid);
        let mut next = || fields.next().flatten();
        Ids {
            ppid: next(),
            pgrp: next(),
            session: next(),
        }
    }
}

/// Splits `PID (COMM) STATE PPID PGRP SESSION …` into comm, state and ids.
///
/// The kernel writes the comm between parentheses without escaping, so the
/// comm ends at the *last* `)`: nothing after it (numbers only) can hold one.
/// A line needs no more than the state to be accepted; ids it lacks are
/// `None` (see [`Ids`]).
///
/// # Errors
///
/// A static description of the first thing that is not where the kernel
/// puts it.
pub(super) fn parse_stat(bytes: &[u8]) -> Result<Stat<'_>, &'static str> {
    let open = memchr(b'(', bytes).ok_or("no '(' opening the command name")?;
    match bytes[..open].split_last() {
        Some((b' ', pid)) if parse_pid(pid).is_some() => {}
        _ => return Err("does not start with a pid and a space"),
    }
    let comm_start = open + 1;
    let close = memrchr(b')', &bytes[comm_start..])
        .map(|i| comm_start + i)
        .ok_or("no ')' closing the command name")?;
    match &bytes[close + 1..] {
        [b' ', state, rest @ ..]
            if state.is_ascii_alphabetic() && matches!(rest.first(), None | Some(b' ' | b'\n')) =>
        {
            Ok(Stat {
                comm: &bytes[comm_start..close],
                state: *state,
                ids: Ids::parse(rest),
            })
        }
        _ => Err("no state letter after the command name"),
    }
}

/// The process group of a `/proc/PID/stat` line: the number after the
/// state and the parent pid. `None` when the line holds none where the
/// kernel puts it.
pub(super) fn parse_pgrp(bytes: &[u8]) -> Option<u32> {
    // The comm may hold anything but ends at the last `)`, as in
    // `parse_stat`; only numbers, one space apart, follow the state.
    let close = memrchr(b')', bytes)?;
    let mut fields = bytes[close + 1..].split(|&b| b == b' ');
    match (fields.next(), fields.next(), fields.next(), fields.next()) {
        (Some([]), Some([_]), Some(ppid), Some(pgrp)) if parse_pid(ppid).is_some() => {
            parse_pid(pgrp.strip_suffix(b"\n").unwrap_or(pgrp))
        }
        _ => None,
    }
}

/// The comm held in the content of a `/proc/PID/comm` file: all of it but
/// the one newline the kernel appends (a comm may itself end in a newline).
pub(super) fn comm_file(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(b"\n").unwrap_or(bytes)
}

/// Whether `comm` is the comm of a program called `name`, as `pidof` decides
/// from the comm: equal, or, when the name is longer than the kernel keeps,
/// the name truncated to the kernel's length (`nvidia-persistenced` runs as
/// `nvidia-persiste`).
pub(super) fn comm_is_name(comm: &[u8], name: &[u8]) -> bool {
    comm == name || (comm.len() == COMM_MAX && name.len() > COMM_MAX && name.starts_with(comm))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;

    /// The obviously correct model: the comm is everything between the
    /// first `(` and the last `)`.
    fn model(line: &[u8]) -> Option<(Vec<u8>, u8)> {
        let open = line.iter().position(|&b| b == b'(')?;
        let close = line.iter().rposition(|&b| b == b')')?;
        if close < open {
            return None;
        }
        let state = *line.get(close + 2)?;
        Some((line[open + 1..close].to_vec(), state))
    }

    const TAIL: &[u8] = b" 1 1 1 0 -1 4194560 1355 0 0 0 3 9 0 0 20 0 1 0 \
        24 22016000 2304 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";

    #[test]
    fn pid_names_are_decimal_u32_only() {
        assert_eq!(parse_pid(b"1"), Some(1));
        assert_eq!(parse_pid(b"4194304"), Some(4_194_304));
        assert_eq!(parse_pid(b"4294967295"), Some(u32::MAX));
        for not_pid in [
            &b""[..],
            b"self",
            b"thread-self",
            b".",
            b"..",
            b"12a",
            b"+1",
            b"-1",
            b" 1",
            b"4294967296",
            b"00000000001",
        ] {
            assert_eq!(
                parse_pid(not_pid),
                None,
                "{:?}",
                String::from_utf8_lossy(not_pid)
            );
        }
    }

    #[test]
    fn stat_of_a_real_line_gives_comm_and_state() {
        let line = [&b"1234 (bash) S"[..], TAIL].concat();
        assert_eq!(
            parse_stat(&line),
            Ok(Stat {
                comm: b"bash",
                state: b'S',
                ids: Ids {
                    ppid: Some(1),
                    pgrp: Some(1),
                    session: Some(1)
                },
            })
        );
    }

    #[test]
    fn stat_comm_ends_at_the_last_parenthesis() {
        for comm in [
            &b"a b c"[..],
            b"x) (y",
            b"x) Z 1 (",
            b")",
            b"((",
            b"li\nne",
            b"",
            b") R ) S",
            b"\xff\xfe",
        ] {
            let line = [&b"7 ("[..], comm, b") D", TAIL].concat();
            let stat = parse_stat(&line).unwrap();
            assert_eq!(stat.comm, comm);
            assert_eq!(stat.state, b'D');
        }
    }

    #[test]
    fn stat_with_nothing_after_the_state_is_accepted() {
        assert_eq!(parse_stat(b"1 (a) Z").unwrap().state, b'Z');
        assert_eq!(parse_stat(b"1 (a) Z\n").unwrap().state, b'Z');
    }

    #[test]
    fn garbage_stat_is_an_error_naming_what_is_wrong() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "no '(' opening the command name"),
            (b"garbage", "no '(' opening the command name"),
            (b"(a) S 1", "does not start with a pid and a space"),
            (b"12(a) S 1", "does not start with a pid and a space"),
            (b"x (a) S 1", "does not start with a pid and a space"),
            (b"1 (abc", "no ')' closing the command name"),
            (b"1 ( S 1", "no ')' closing the command name"),
            (b"1 (a)", "no state letter after the command name"),
            (b"1 (a) ", "no state letter after the command name"),
            (b"1 (a)S 1", "no state letter after the command name"),
            (b"1 (a) 5 1", "no state letter after the command name"),
            (b"1 (a) SS 1", "no state letter after the command name"),
        ];
        for &(line, reason) in cases {
            assert_eq!(
                parse_stat(line),
                Err(reason),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn stat_parse_agrees_with_the_model_on_random_lines() {
        let mut rng = Rng(0x5eed_0001);
        let alphabet = b"() \nRSDZTtXIab0123456789)\xff";
        for _ in 0..100_000 {
            let comm_len = rng.below(70);
            let comm: Vec<u8> = (0..comm_len).map(|_| rng.pick(alphabet)).collect();
            let state = rng.pick(b"RSDZTtXxIPWK");
            let pid = rng.next() as u32;
            let line = [
                pid.to_string().as_bytes(),
                b" (",
                &comm,
                b") ",
                &[state],
                &TAIL[..rng.below(TAIL.len())],
            ]
            .concat();
            // The tail is cut anywhere: it starts with a space, so the state
            // letter still ends where the kernel ends it.
            let stat = parse_stat(&line).unwrap();
            assert_eq!(stat.comm, &comm[..]);
            assert_eq!(stat.state, state);
            assert_eq!(Some((comm, state)), model(&line));
        }
    }

    #[test]
    fn random_bytes_never_panic_and_ok_means_the_model_agrees() {
        let mut rng = Rng(0x5eed_0002);
        let alphabet = b"() \n1Sx";
        for _ in 0..200_000 {
            let len = rng.below(24);
            let line: Vec<u8> = (0..len).map(|_| rng.pick(alphabet)).collect();
            if let Ok(stat) = parse_stat(&line) {
                assert_eq!(
                    Some((stat.comm.to_vec(), stat.state)),
                    model(&line),
                    "{:?}",
                    String::from_utf8_lossy(&line)
                );
            }
        }
    }

    /// The obviously correct model of the ids: the line after the state
    /// letter, less one final newline, as text; a space, then fields one
    /// space apart, each a `u32` if it is all decimal digits (ten at most).
    fn model_ids(line: &[u8]) -> [Option<u32>; 3] {
        let close = line.iter().rposition(|&b| b == b')').unwrap();
        let text = String::from_utf8_lossy(&line[close + 3..]);
        let text = text.strip_suffix('\n').unwrap_or(&text);
        let Some(fields) = text.strip_prefix(' ') else {
            return [None; 3];
        };
        let id = |f: &str| {
            let decimal = !f.is_empty() && f.len() <= 10 && f.bytes().all(|b| b.is_ascii_digit());
            f.parse().ok().filter(|_| decimal)
        };
        let mut ids = fields.split(' ').map(id).chain([None; 3]);
        [(); 3].map(|()| ids.next().unwrap())
    }

    fn ids_of(line: &[u8]) -> [Option<u32>; 3] {
        let ids = parse_stat(line).unwrap().ids;
        [ids.ppid, ids.pgrp, ids.session]
    }

    #[test]
    fn stat_ids_are_the_three_fields_after_the_state() {
        let line = b"4321 (ba) sh) S 4000 4321 3900 34816 4321 4194560 1355 0\n";
        assert_eq!(ids_of(line), [Some(4000), Some(4321), Some(3900)]);
        // init's parent, and a session led from outside the pid namespace.
        assert_eq!(
            ids_of(b"1 (init) S 0 1 0 0 -1\n"),
            [Some(0), Some(1), Some(0)]
        );
    }

    #[test]
    fn stat_ids_missing_or_not_decimal_are_none_and_the_line_still_parses() {
        let cases: &[(&[u8], [Option<u32>; 3])] = &[
            (b"1 (a) Z", [None; 3]),
            (b"1 (a) Z\n", [None; 3]),
            (b"1 (a) Z 5", [Some(5), None, None]),
            (b"1 (a) Z 5 6\n", [Some(5), Some(6), None]),
            (b"1 (a) Z 5 6 7", [Some(5), Some(6), Some(7)]),
            (b"1 (a) Z -1 +2 x", [None; 3]),
            (
                b"1 (a) Z 4294967296 4294967295 00000000001",
                [None, Some(u32::MAX), None],
            ),
            (b"1 (a) Z 5  7", [Some(5), None, Some(7)]),
            (b"1 (a) Z\n5 6 7", [None; 3]),
            (b"1 (a) Z 5\n6 7", [None, Some(7), None]),
        ];
        for &(line, ids) in cases {
            assert_eq!(ids_of(line), ids, "{:?}", String::from_utf8_lossy(line));
            assert_eq!(model_ids(line), ids, "{:?}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn stat_ids_agree_with_the_model_on_random_tails() {
        let mut rng = Rng(0x5eed_0003);
        let alphabet = b"0123456789  \n-x)";
        for _ in 0..100_000 {
            let len = rng.below(40);
            let tail: Vec<u8> = (0..len).map(|_| rng.pick(alphabet)).collect();
            let line = [&b"12 (c) S"[..], &tail].concat();
            let Ok(stat) = parse_stat(&line) else {
                continue;
            };
            assert_eq!(
                [stat.ids.ppid, stat.ids.pgrp, stat.ids.session],
                model_ids(&line),
                "{:?}",
                String::from_utf8_lossy(&line)
            );
        }
    }

    #[test]
    fn pgrp_is_the_number_after_state_and_parent() {
        let line = [&b"1234 (bash) S"[..], TAIL].concat();
        assert_eq!(parse_pgrp(&line), Some(1));
        assert_eq!(parse_pgrp(b"7 (a) b) 1 2) R 100 4242 4242 0"), Some(4242));
        assert_eq!(parse_pgrp(b"7 (a) Z 100 4242\n"), Some(4242));
        assert_eq!(parse_pgrp(b"7 (a) S 0 0"), Some(0));
        for bad in [
            &b""[..],
            b"7 (a)",
            b"7 (a) S",
            b"7 (a) S 100",
            b"7 (a) S 100 ",
            b"7 (a) S 100 -1",
            b"7 (a) S x 4242",
            b"7 (a)  S 100 4242",
            b"7 (a) SS 100 4242",
            b"7 (a) S 100 99999999999",
        ] {
            assert_eq!(parse_pgrp(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn comm_file_drops_only_the_kernel_newline() {
        assert_eq!(comm_file(b"bash\n"), b"bash");
        assert_eq!(comm_file(b"a\nb\n\n"), b"a\nb\n");
        assert_eq!(comm_file(b"no-newline"), b"no-newline");
        assert_eq!(comm_file(b""), b"");
    }

    #[test]
    fn name_matches_comm_exactly_or_as_the_kernel_truncates_it() {
        assert!(comm_is_name(b"sleep", b"sleep"));
        assert!(!comm_is_name(b"sleep", b"slee"));
        assert!(!comm_is_name(b"sleeper", b"sleep"));
        assert!(comm_is_name(b"nvidia-persiste", b"nvidia-persistenced"));
        assert!(!comm_is_name(b"nvidia-persiste", b"nvidia-persistXnced"));
        // A comm shorter than the kernel's limit was not truncated.
        assert!(!comm_is_name(b"nvidia", b"nvidia-persistenced"));
        // Names at the limit are compared whole.
        assert!(!comm_is_name(b"abcdefghijklmno", b"abcdefghijklmn"));
        assert!(comm_is_name(b"abcdefghijklmno", b"abcdefghijklmno"));
    }
}
