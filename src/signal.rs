//! Signals by number and by name, as Linux numbers and names them (the
//! details are on [`Signal`], the one public item).

use std::fmt;
use std::str::FromStr;

/// A Linux signal, 1 to 64.
///
/// Prints as its name (`SIGTERM`, `SIGRTMIN+3`) and parses from a name or
/// a number.
///
/// # Names
///
/// Signals 1 to 31 have their usual names (`SIGHUP` … `SIGSYS`; 29 is
/// `SIGIO`, also read as `SIGPOLL`). The real-time signals are named the
/// way `kill -l` prints them on a glibc system, which takes 32 and 33 for
/// its threads and starts `SIGRTMIN` at 34: `SIGRTMIN`, `SIGRTMIN+1` …
/// `SIGRTMIN+15`, then `SIGRTMAX-14` … `SIGRTMAX-1`, `SIGRTMAX` (64).
/// These numbers are fixed here rather than asked of the C library at run
/// time, so a name always means the number `kill -l` shows on a glibc
/// host, whatever libc procrun was linked with (a musl program counts its
/// own `SIGRTMIN` from 35: send it numbers, not names).
///
/// Signals 32 and 33 have no name: the kernel has them, glibc and musl
/// keep them for their own thread machinery, and `kill -l` leaves them out.
/// They are still signals (a program without such a libc can be killed by
/// one, and its exit must say so), so [`Signal::from_raw`] accepts them and
/// they print as `SIG32` and `SIG33`. Sending one to a child using glibc
/// or musl reaches that libc's internals: do it only on purpose.
///
/// # Parsing
///
/// [`str::parse`] is as liberal as `kill` is: a name with or without the
/// `SIG` prefix, in any case (`TERM`, `SIGTERM`, `sigterm`), a number
/// (`15`, also `SIG15`), a real-time signal as an offset from either end
/// (`RTMIN+3`, `SIGRTMAX-2`, `RTMIN+20` which is `SIGRTMAX-10`), and the
/// old aliases `IOT`, `CLD` and `POLL`. Anything else is an
/// [`UnknownSignal`] error (which `?` turns into
/// [`Error::UnknownSignal`](crate::Error::UnknownSignal)).
///
/// # Examples
///
/// ```
/// use procrun::Signal;
///
/// assert_eq!(Signal::TERM.as_raw(), 15);
/// assert_eq!(Signal::from_raw(9), Some(Signal::KILL));
/// assert_eq!(Signal::from_raw(0), None);
/// assert_eq!(Signal::BUS.to_string(), "SIGBUS");
/// assert_eq!("term".parse::<Signal>()?, Signal::TERM);
/// assert_eq!("SIGRTMIN+3".parse::<Signal>()?.as_raw(), 37);
/// assert_eq!("15".parse::<Signal>()?, Signal::TERM);
/// assert!(matches!(
///     "SIGNOPE".parse::<Signal>(),
///     Err(procrun::UnknownSignal { .. })
/// ));
/// # Ok::<(), procrun::UnknownSignal>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Signal(i32);

/// Names of signals 1 to 31, by number - 1.
const NAMES: [&str; 31] = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// Older names `kill` still accepts for three of them.
const ALIASES: [(&str, i32); 3] = [("IOT", 6), ("CLD", 17), ("POLL", 29)];

/// Printed names of the real-time signals, by number - [`Signal::RTMIN`]:
/// `kill -l` counts up from `SIGRTMIN` for the first half and down from
/// `SIGRTMAX` for the rest.
const RT_NAMES: [&str; 31] = [
    "SIGRTMIN",
    "SIGRTMIN+1",
    "SIGRTMIN+2",
    "SIGRTMIN+3",
    "SIGRTMIN+4",
    "SIGRTMIN+5",
    "SIGRTMIN+6",
    "SIGRTMIN+7",
    "SIGRTMIN+8",
    "SIGRTMIN+9",
    "SIGRTMIN+10",
    "SIGRTMIN+11",
    "SIGRTMIN+12",
    "SIGRTMIN+13",
    "SIGRTMIN+14",
    "SIGRTMIN+15",
    "SIGRTMAX-14",
    "SIGRTMAX-13",
    "SIGRTMAX-12",
    "SIGRTMAX-11",
    "SIGRTMAX-10",
    "SIGRTMAX-9",
    "SIGRTMAX-8",
    "SIGRTMAX-7",
    "SIGRTMAX-6",
    "SIGRTMAX-5",
    "SIGRTMAX-4",
    "SIGRTMAX-3",
    "SIGRTMAX-2",
    "SIGRTMAX-1",
    "SIGRTMAX",
];

impl Signal {
    /// `SIGHUP` (1).
    pub const HUP: Signal = Signal(1);
    /// `SIGINT` (2).
    pub const INT: Signal = Signal(2);
    /// `SIGQUIT` (3).
    pub const QUIT: Signal = Signal(3);
    /// `SIGILL` (4).
    pub const ILL: Signal = Signal(4);
    /// `SIGTRAP` (5).
    pub const TRAP: Signal = Signal(5);
    /// `SIGABRT` (6), also `SIGIOT`.
    pub const ABRT: Signal = Signal(6);
    /// `SIGBUS` (7).
    pub const BUS: Signal = Signal(7);
    /// `SIGFPE` (8).
    pub const FPE: Signal = Signal(8);
    /// `SIGKILL` (9).
    pub const KILL: Signal = Signal(9);
    /// `SIGUSR1` (10).
    pub const USR1: Signal = Signal(10);
    /// `SIGSEGV` (11).
    pub const SEGV: Signal = Signal(11);
    /// `SIGUSR2` (12).
    pub const USR2: Signal = Signal(12);
    /// `SIGPIPE` (13).
    pub const PIPE: Signal = Signal(13);
    /// `SIGALRM` (14).
    pub const ALRM: Signal = Signal(14);
    /// `SIGTERM` (15).
    pub const TERM: Signal = Signal(15);
    /// `SIGSTKFLT` (16).
    pub const STKFLT: Signal = Signal(16);
    /// `SIGCHLD` (17), also `SIGCLD`.
    pub const CHLD: Signal = Signal(17);
    /// `SIGCONT` (18).
    pub const CONT: Signal = Signal(18);
    /// `SIGSTOP` (19).
    pub const STOP: Signal = Signal(19);
    /// `SIGTSTP` (20).
    pub const TSTP: Signal = Signal(20);
    /// `SIGTTIN` (21).
    pub const TTIN: Signal = Signal(21);
    /// `SIGTTOU` (22).
    pub const TTOU: Signal = Signal(22);
    /// `SIGURG` (23).
    pub const URG: Signal = Signal(23);
    /// `SIGXCPU` (24).
    pub const XCPU: Signal = Signal(24);
    /// `SIGXFSZ` (25).
    pub const XFSZ: Signal = Signal(25);
    /// `SIGVTALRM` (26).
    pub const VTALRM: Signal = Signal(26);
    /// `SIGPROF` (27).
    pub const PROF: Signal = Signal(27);
    /// `SIGWINCH` (28).
    pub const WINCH: Signal = Signal(28);
    /// `SIGIO` (29), also `SIGPOLL`.
    pub const IO: Signal = Signal(29);
    /// `SIGPWR` (30).
    pub const PWR: Signal = Signal(30);
    /// `SIGSYS` (31).
    pub const SYS: Signal = Signal(31);
    /// `SIGRTMIN` (34), the first real-time signal glibc leaves to programs.
    pub const RTMIN: Signal = Signal(34);
    /// `SIGRTMAX` (64).
    pub const RTMAX: Signal = Signal(64);

    /// The signal with number `n`, if Linux has one (1 to 64, 32 and 33
    /// included: see [Names](Signal#names)).
    pub fn from_raw(n: i32) -> Option<Signal> {
        (1..=64).contains(&n).then_some(Signal(n))
    }

    /// The signal number.
    pub fn as_raw(self) -> i32 {
        self.0
    }

    /// The name, as [`Display`](fmt::Display) prints it: `SIGTERM`,
    /// `SIGRTMAX-2`; `None` for 32 and 33, which have none.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::Signal;
    ///
    /// assert_eq!(Signal::PIPE.name(), Some("SIGPIPE"));
    /// assert_eq!(Signal::from_raw(62).and_then(Signal::name), Some("SIGRTMAX-2"));
    /// assert_eq!(Signal::from_raw(32).and_then(Signal::name), None);
    /// ```
    pub fn name(self) -> Option<&'static str> {
        let n = self.0;
        if n >= Signal::RTMIN.0 {
            return Some(RT_NAMES[(n - Signal::RTMIN.0) as usize]);
        }
        NAMES.get((n - 1) as usize).copied()
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "SIG{}", self.0),
        }
    }
}

/// A signal name or number that names no Linux signal: the error of
/// [`Signal`]'s `FromStr`. Defined here rather than as a variant of the
/// crate's error so that `Signal`, on the ground floor, needs nothing above
/// it; `?` turns it into [`Error::UnknownSignal`](crate::Error::UnknownSignal).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown signal {name:?}: expected a name such as TERM or SIGTERM, or a number from 1 to 64"
)]
#[non_exhaustive]
pub struct UnknownSignal {
    /// The text as given.
    pub name: String,
}

impl FromStr for Signal {
    type Err = UnknownSignal;

    /// Parses a name or a number as `kill` does (see
    /// [Parsing](Signal#parsing)).
    ///
    /// # Errors
    ///
    /// [`UnknownSignal`] for anything that names no signal, `0` and
    /// numbers past 64 included.
    fn from_str(s: &str) -> Result<Signal, UnknownSignal> {
        parse(s).ok_or_else(|| UnknownSignal { name: s.to_owned() })
    }
}

fn parse(s: &str) -> Option<Signal> {
    let upper = s.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(n) = number(bare) {
        return Signal::from_raw(n);
    }
    if let Some(i) = NAMES.iter().position(|&name| &name[3..] == bare) {
        return Some(Signal(i as i32 + 1));
    }
    if let Some(&(_, n)) = ALIASES.iter().find(|&&(name, _)| name == bare) {
        return Some(Signal(n));
    }
    let rt = if let Some(rest) = bare.strip_prefix("RTMIN") {
        Signal::RTMIN.0.checked_add(offset(rest, '+')?)?
    } else if let Some(rest) = bare.strip_prefix("RTMAX") {
        Signal::RTMAX.0.checked_sub(offset(rest, '-')?)?
    } else {
        return None;
    };
    (Signal::RTMIN.0..=Signal::RTMAX.0)
        .contains(&rt)
        .then_some(Signal(rt))
}

/// Plain decimal digits only: `+15`, ` 15` and `` are no signal numbers.
fn number(s: &str) -> Option<i32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Too many digits for an i32 is no signal either.
    s.parse().ok()
}

/// The offset after `RTMIN` (`+N`) or `RTMAX` (`-N`), or none; counting
/// the other way from either end is not something `kill` takes.
fn offset(rest: &str, sign: char) -> Option<i32> {
    if rest.is_empty() {
        return Some(0);
    }
    number(rest.strip_prefix(sign)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_signal_round_trips_through_its_name_and_its_number() {
        for n in 1..=64 {
            let sig = Signal::from_raw(n).unwrap();
            assert_eq!(sig.as_raw(), n);
            assert_eq!(sig.to_string().parse::<Signal>().unwrap(), sig, "{sig}");
            assert_eq!(n.to_string().parse::<Signal>().unwrap(), sig);
            let bare = sig.to_string()[3..].to_ascii_lowercase();
            assert_eq!(bare.parse::<Signal>().unwrap(), sig, "{bare}");
        }
    }

    #[test]
    fn numbers_outside_linux_are_no_signal() {
        for n in [i32::MIN, -1, 0, 65, i32::MAX] {
            assert_eq!(Signal::from_raw(n), None, "{n}");
        }
    }

    #[test]
    fn constants_are_the_c_library_numbers() {
        let pairs = [
            (Signal::HUP, libc::SIGHUP),
            (Signal::INT, libc::SIGINT),
            (Signal::QUIT, libc::SIGQUIT),
            (Signal::ILL, libc::SIGILL),
            (Signal::TRAP, libc::SIGTRAP),
            (Signal::ABRT, libc::SIGABRT),
            (Signal::BUS, libc::SIGBUS),
            (Signal::FPE, libc::SIGFPE),
            (Signal::KILL, libc::SIGKILL),
            (Signal::USR1, libc::SIGUSR1),
            (Signal::SEGV, libc::SIGSEGV),
            (Signal::USR2, libc::SIGUSR2),
            (Signal::PIPE, libc::SIGPIPE),
            (Signal::ALRM, libc::SIGALRM),
            (Signal::TERM, libc::SIGTERM),
            (Signal::STKFLT, libc::SIGSTKFLT),
            (Signal::CHLD, libc::SIGCHLD),
            (Signal::CONT, libc::SIGCONT),
            (Signal::STOP, libc::SIGSTOP),
            (Signal::TSTP, libc::SIGTSTP),
            (Signal::TTIN, libc::SIGTTIN),
            (Signal::TTOU, libc::SIGTTOU),
            (Signal::URG, libc::SIGURG),
            (Signal::XCPU, libc::SIGXCPU),
            (Signal::XFSZ, libc::SIGXFSZ),
            (Signal::VTALRM, libc::SIGVTALRM),
            (Signal::PROF, libc::SIGPROF),
            (Signal::WINCH, libc::SIGWINCH),
            (Signal::IO, libc::SIGIO),
            (Signal::PWR, libc::SIGPWR),
            (Signal::SYS, libc::SIGSYS),
        ];
        for (sig, raw) in pairs {
            assert_eq!(sig.as_raw(), raw, "{sig}");
        }
        assert_eq!(Signal::from_raw(libc::SIGPOLL), Some(Signal::IO));
        assert_eq!(Signal::from_raw(libc::SIGIOT), Some(Signal::ABRT));
        #[cfg(target_env = "gnu")]
        {
            assert_eq!(Signal::RTMIN.as_raw(), libc::SIGRTMIN());
            assert_eq!(Signal::RTMAX.as_raw(), libc::SIGRTMAX());
        }
    }

    #[test]
    fn names_parse_with_or_without_prefix_in_any_case() {
        let ok = [
            ("TERM", 15),
            ("SIGTERM", 15),
            ("sigterm", 15),
            ("Term", 15),
            ("15", 15),
            ("SIG15", 15),
            ("IOT", 6),
            ("SIGCLD", 17),
            ("poll", 29),
            ("RTMIN", 34),
            ("RTMIN+3", 37),
            ("SIGRTMIN+3", 37),
            ("sigrtmax-2", 62),
            ("RTMAX", 64),
            ("RTMIN+20", 54),
            ("RTMAX-30", 34),
            ("32", 32),
            ("SIG33", 33),
        ];
        for (s, n) in ok {
            assert_eq!(s.parse::<Signal>().unwrap().as_raw(), n, "{s}");
        }
    }

    #[test]
    fn anything_else_is_a_typed_error_naming_the_input() {
        let bad = [
            "",
            "SIG",
            "0",
            "65",
            "-9",
            "+9",
            " TERM",
            "TERM ",
            "SIGSIGTERM",
            "NOPE",
            "RTMIN+31",
            "RTMIN-1",
            "RTMAX+1",
            "RTMAX-31",
            "RTMIN3",
            "RTMIN+",
            "RTMIN+-3",
            "99999999999999999999",
            "RTMIN+99999999999",
            "TÉRM",
        ];
        for s in bad {
            match s.parse::<Signal>() {
                Err(UnknownSignal { name }) => assert_eq!(name, s),
                other => panic!("{s:?} parsed as {other:?}"),
            }
        }
    }

    #[test]
    fn unnamed_glibc_signals_print_as_numbers() {
        assert_eq!(Signal::from_raw(32).unwrap().to_string(), "SIG32");
        assert_eq!(Signal::from_raw(33).unwrap().to_string(), "SIG33");
    }

    /// Bash's `kill -l` prints `N) SIGNAME` for every signal it knows; each
    /// must be ours by that number.
    #[test]
    fn names_and_numbers_match_kill_l_on_this_machine() {
        let out = match std::process::Command::new("bash")
            .args(["-c", "kill -l"])
            .output()
        {
            Ok(o) if o.status.success() => o.stdout,
            other => {
                eprintln!("skipped: bash -c 'kill -l' unavailable: {other:?}");
                return;
            }
        };
        let text = String::from_utf8(out).unwrap();
        let mut seen = 0;
        for entry in text.split(['\t', '\n']).filter(|e| !e.trim().is_empty()) {
            let (num, name) = entry.trim().split_once(") ").unwrap();
            let sig = Signal::from_raw(num.parse().unwrap()).unwrap();
            assert_eq!(sig.to_string(), name);
            assert_eq!(name.parse::<Signal>().unwrap(), sig);
            seen += 1;
        }
        // All but 32 and 33.
        assert_eq!(seen, 62, "{text}");
    }
}
