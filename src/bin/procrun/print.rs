//! How `run` prints: each child's lines with a name prefix on stdout, notes
//! about starts, exits and restarts on stderr.

use std::fmt::{self, Write as _};
use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use procrun::{Exit, Stream};

use crate::stdout::Stdout;

/// ANSI colours given to names in turn (foreman's order).
const PALETTE: [&str; 10] = ["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"];
const RESET: &str = "\x1b[0m";
const STDERR_MARK: &str = "\x1b[1;31m";

/// Whether a stream gets colour: a terminal, and `NO_COLOR` unset or empty
/// (<https://no-color.org>).
pub fn colour_for(is_terminal: bool) -> bool {
    is_terminal && !matches!(std::env::var_os("NO_COLOR"), Some(v) if !v.is_empty())
}

/// The prefixes of one child, built once.
#[derive(Debug, PartialEq)]
struct Prefixes {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    note: String,
}

impl Prefixes {
    fn new(name: &str, width: usize, index: usize, out_colour: bool, err_colour: bool) -> Self {
        let c = PALETTE[index % PALETTE.len()];
        let (stdout, stderr) = if out_colour {
            (
                format!("\x1b[{c}m{name:<width$} |{RESET} "),
                format!("\x1b[{c}m{name:<width$} {STDERR_MARK}!{RESET} "),
            )
        } else {
            (format!("{name:<width$} | "), format!("{name:<width$} ! "))
        };
        let note = if err_colour {
            format!("\x1b[{c}m{name:<width$} *{RESET} ")
        } else {
            format!("{name:<width$} * ")
        };
        Prefixes {
            stdout: stdout.into_bytes(),
            stderr: stderr.into_bytes(),
            note,
        }
    }
}

/// procrun holds at most about this much output (plus one read of each
/// child) for a stdout that does not keep up; then the children are
/// paused, their pipes fill and they block on write.
const HIGH_WATER: usize = 64 * 1024;
/// Paused children are read again once stdout has taken all but this much.
const LOW_WATER: usize = HIGH_WATER / 4;

pub struct Printer {
    stdout: Stdout,
    /// Output stdout has not taken yet: `pending[written..]`.
    pending: Vec<u8>,
    written: usize,
    prefixes: Vec<Prefixes>,
    /// Set with `--timestamps`: lines carry the time since this instant.
    start: Option<Instant>,
    quiet: bool,
    /// stdout failed (its reader went away); nothing more is written to it.
    broken: bool,
    /// procrun is stopping: output beyond the high-water mark is dropped
    /// instead of pausing its child, whose exit a pause would hold back.
    dropping: bool,
    /// Bytes of output dropped that way or given up on at the end.
    dropped: u64,
}

impl Printer {
    pub fn new(names: &[&str], timestamps: bool, quiet: bool) -> Printer {
        let out_colour = colour_for(io::stdout().is_terminal());
        let err_colour = colour_for(io::stderr().is_terminal());
        let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        Printer {
            stdout: Stdout::new(),
            pending: Vec::new(),
            written: 0,
            prefixes: names
                .iter()
                .enumerate()
                .map(|(i, n)| Prefixes::new(n, width, i, out_colour, err_colour))
                .collect(),
            start: timestamps.then(Instant::now),
            quiet,
            broken: false,
            dropping: false,
            dropped: 0,
        }
    }

    /// Whether stdout can no longer be written.
    pub fn broken(&self) -> bool {
        self.broken
    }

    /// stdout, to wait on.
    pub fn stdout(&self) -> &Stdout {
        &self.stdout
    }

    fn owed(&self) -> usize {
        self.pending.len() - self.written
    }

    /// Whether output waits for stdout to take it.
    pub fn waiting(&self) -> bool {
        !self.broken && self.owed() > 0
    }

    /// Whether stdout is so far behind that children should be paused.
    pub fn behind(&self) -> bool {
        !self.dropping && self.waiting() && self.owed() >= HIGH_WATER
    }

    /// Whether stdout has caught up enough for paused children to go on.
    pub fn caught_up(&self) -> bool {
        self.broken || self.owed() <= LOW_WATER
    }

    /// From now on, output that does not fit is dropped, never a reason
    /// to pause.
    pub fn drop_when_behind(&mut self) {
        self.dropping = true;
    }

    /// Drops what stdout still owes.
    pub fn give_up(&mut self) {
        self.dropped += self.owed() as u64;
        self.pending.clear();
        self.written = 0;
    }

    /// Bytes of output dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// One line (or a piece of an over-long one) of child `index`, as raw
    /// bytes.
    pub fn line(&mut self, index: usize, stream: Stream, line: &[u8]) {
        if self.broken || self.quiet {
            return;
        }
        let p = &self.prefixes[index];
        let prefix = match stream {
            Stream::Stdout => &p.stdout,
            Stream::Stderr => &p.stderr,
        };
        if self.dropping && self.owed() >= HIGH_WATER {
            self.dropped += (prefix.len() + line.len() + 1) as u64;
            return;
        }
        if let Some(start) = self.start {
            // Writing to a Vec cannot fail.
            let _ = write!(self.pending, "{}", Stamp(start.elapsed()));
        }
        self.pending.extend_from_slice(prefix);
        self.pending.extend_from_slice(line);
        self.pending.push(b'\n');
    }

    /// Writes out what stdout takes now, without waiting; called once per
    /// turn of the loop.
    pub fn flush(&mut self) {
        while !self.broken && self.owed() > 0 {
            match self.stdout.write_now(&self.pending[self.written..]) {
                Ok(0) => break,
                Ok(n) => self.written += n,
                Err(e) => {
                    self.broken = true;
                    if e.kind() != io::ErrorKind::BrokenPipe {
                        eprintln!("procrun: cannot write to stdout: {e}");
                    }
                }
            }
        }
        if self.broken || self.written == self.pending.len() {
            self.pending.clear();
            self.written = 0;
            // A burst may have grown the buffer past its usual size.
            self.pending.shrink_to(4 * HIGH_WATER);
        } else if self.written >= HIGH_WATER {
            self.pending.drain(..self.written);
            self.written = 0;
        }
    }

    /// A note about child `index` on stderr, after what stdout takes now of
    /// what it owes (so a terminal shows them in order, unless stdout is
    /// behind). Nothing with `--quiet`.
    pub fn note(&mut self, index: usize, msg: fmt::Arguments<'_>) {
        if self.quiet {
            return;
        }
        self.flush();
        let mut s = String::new();
        if let Some(start) = self.start {
            let _ = write!(s, "{}", Stamp(start.elapsed()));
        }
        s.push_str(&self.prefixes[index].note);
        let _ = writeln!(s, "{msg}");
        let _ = io::stderr().write_all(s.as_bytes());
    }

    /// A note from procrun itself on stderr; nothing with `--quiet`.
    pub fn info(&mut self, msg: fmt::Arguments<'_>) {
        if !self.quiet {
            self.error(msg);
        }
    }

    /// A message from procrun itself on stderr; printed even with `--quiet`.
    pub fn error(&mut self, msg: fmt::Arguments<'_>) {
        self.flush();
        eprintln!("procrun: {msg}");
    }
}

/// Seconds since procrun started, to the millisecond.
struct Stamp(Duration);

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>6}.{:03} ", self.0.as_secs(), self.0.subsec_millis())
    }
}

/// A duration as the user would write it: `250ms`, `5s`, `1.5s`.
pub struct Human(pub Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (s, ms) = (self.0.as_secs(), self.0.subsec_millis());
        match (s, ms) {
            (0, ms) => write!(f, "{ms}ms"),
            (s, 0) => write!(f, "{s}s"),
            (s, ms) => {
                let frac = format!("{ms:03}");
                write!(f, "{s}.{}s", frac.trim_end_matches('0'))
            }
        }
    }
}

/// How a run ended, in words: `exited with code 3`, `killed by SIGKILL`.
pub struct Ending<'a>(pub &'a Exit);

impl fmt::Display for Ending<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        if e.timed_out() {
            f.write_str("timed out, ")?;
        } else if e.was_stopped() {
            f.write_str("stopped, ")?;
        }
        match (e.code(), e.signal()) {
            (Some(c), _) => write!(f, "exited with code {c}")?,
            (None, Some(s)) => write!(f, "killed by signal {s}{}", signal_name(s))?,
            (None, None) => write!(f, "ended ({})", e.status())?,
        }
        if e.status_lost() {
            f.write_str(" (status lost: reaped elsewhere)")?;
        }
        Ok(())
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        1 => " (SIGHUP)",
        2 => " (SIGINT)",
        3 => " (SIGQUIT)",
        6 => " (SIGABRT)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        13 => " (SIGPIPE)",
        15 => " (SIGTERM)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_prefixes_are_padded_and_hold_no_escape() {
        let p = Prefixes::new("web", 5, 0, false, false);
        assert_eq!(p.stdout, b"web   | ");
        assert_eq!(p.stderr, b"web   ! ");
        assert_eq!(p.note, "web   * ");
    }

    #[test]
    fn coloured_prefixes_differ_by_name_and_reset() {
        let a = Prefixes::new("a", 1, 0, true, true);
        let b = Prefixes::new("b", 1, 1, true, true);
        assert_eq!(a.stdout, b"\x1b[36ma |\x1b[0m ");
        assert_eq!(b.stdout, b"\x1b[33mb |\x1b[0m ");
        assert!(a.stderr.ends_with(b"!\x1b[0m "));
        assert!(a.note.starts_with("\x1b[36ma *"));
    }

    #[test]
    fn durations_print_as_written() {
        let cases = [
            (250, "250ms"),
            (5000, "5s"),
            (1500, "1.5s"),
            (1250, "1.25s"),
        ];
        for (ms, s) in cases {
            assert_eq!(Human(Duration::from_millis(ms)).to_string(), s);
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
