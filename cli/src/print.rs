//! How `run` prints: each child's lines with a name prefix on stdout, notes
//! about starts, exits and restarts on stderr; or, with `--raw`, the
//! child's bytes as they are, stdout to stdout and stderr to stderr; or,
//! with `--format json`, lines and notes alike as JSON objects on stdout.

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant, SystemTime};

use procrun::{Exit, Stream};

use crate::clock::{stamp, wall, Clock};
use crate::flags::config::{ColorWhen, Format, Timestamps};
use crate::json::Object;
use crate::sink::{self, Sink};

/// ANSI colours given to names in turn (foreman's order).
const PALETTE: [&str; 10] = ["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"];
const RESET: &str = "\x1b[0m";
const STDERR_MARK: &str = "\x1b[1;31m";

/// Whether a stream gets colour under `--color auto`: a terminal that is
/// not `TERM=dumb` (which cannot show escapes), and `NO_COLOR` unset or
/// empty (<https://no-color.org>).
fn auto_colour(is_terminal: bool, term: Option<&OsStr>, no_color: Option<&OsStr>) -> bool {
    is_terminal && term != Some(OsStr::new("dumb")) && no_color.map_or(true, OsStr::is_empty)
}

fn colour_for(when: ColorWhen, sink: &Sink) -> bool {
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => auto_colour(
            sink.is_terminal(),
            std::env::var_os("TERM").as_deref(),
            std::env::var_os("NO_COLOR").as_deref(),
        ),
    }
}

/// How `run` prints, from its options.
pub struct Options {
    pub timestamps: Option<Timestamps>,
    pub color: ColorWhen,
    pub quiet: bool,
    /// `--output FILE`, opened, and its name: the lines go there instead
    /// of stdout.
    pub output: Option<(File, String)>,
    /// `--raw`: bytes passed through ([`Printer::data`]); notes only when
    /// `verbose`.
    pub raw: bool,
    pub verbose: bool,
    pub format: Format,
}

/// What a note says about a child.
pub enum Note<'a> {
    /// A run started: the first, or restart `restarts` of at most `limit`
    /// (0: no limit).
    Started { pid: u32, restarts: u32, limit: u32 },
    /// A run ended.
    Exited(&'a Exit),
    /// A stop (or the timeout, `timed_out`) came while the child waited to
    /// restart: no restart follows.
    RestartCancelled { timed_out: bool },
    /// A restart could not start: why (shown even with `--quiet`).
    RestartFailed(&'a str),
    /// A stop did not reach the child: why (shown even with `--quiet`).
    StopFailed(&'a str),
}

impl Note<'_> {
    /// An error rather than news: shown even with `--quiet`.
    fn is_error(&self) -> bool {
        matches!(self, Note::RestartFailed(_) | Note::StopFailed(_))
    }

    /// The note in words, as text notes have it.
    fn text(&self) -> String {
        match self {
            Note::Started {
                pid, restarts: 0, ..
            } => format!("started (pid {pid})"),
            Note::Started {
                pid,
                restarts,
                limit,
            } => {
                let of = match limit {
                    0 => String::new(),
                    n => format!(" of {n}"),
                };
                format!("restarted (pid {pid}, restart {restarts}{of})")
            }
            Note::Exited(exit) => {
                let then = match exit.restart_in() {
                    // The library's "never": a delay past any clock.
                    Some(Duration::MAX) => ", restart never due: waiting until stopped".into(),
                    Some(d) => format!(", restarting in {}", Human(d)),
                    None if exit.restart_limit_reached() => ", restart limit reached".into(),
                    None => String::new(),
                };
                format!("{}{then}", Ending(exit))
            }
            Note::RestartCancelled { timed_out } => {
                let why = if *timed_out { "timed out" } else { "stopped" };
                format!("{why} while waiting to restart")
            }
            Note::RestartFailed(why) => format!("restart failed: {why}"),
            Note::StopFailed(why) => format!("stop failed: {why}"),
        }
    }

    /// The note's event and fields, after `ts`, `name` and `pid`.
    fn json(&self, o: &mut Object<'_>) {
        match self {
            Note::Started {
                restarts, limit, ..
            } => {
                o.str("event", "started")
                    .num("restarts", u64::from(*restarts))
                    .num("restart_limit", u64::from(*limit));
            }
            Note::Exited(exit) => {
                o.str("event", "exited");
                match exit.code() {
                    Some(c) => o.int("code", i64::from(c)),
                    None => o.null("code"),
                };
                match exit.signal() {
                    Some(sig) => o.str("signal", &sig.to_string()),
                    None => o.null("signal"),
                };
                o.bool("timed_out", exit.timed_out())
                    .bool("stopped", exit.stopped())
                    .bool("oom_killed", exit.oom_killed())
                    .bool("status_lost", exit.status_lost());
                match exit.restart_in() {
                    Some(Duration::MAX) => o.str("then", "restart_never_due"),
                    Some(d) => o.str("then", "restart").num(
                        "restart_in_ms",
                        d.as_millis().try_into().unwrap_or(u64::MAX),
                    ),
                    None if exit.restart_limit_reached() => o.str("then", "restart_limit_reached"),
                    None => o.str("then", "end"),
                };
            }
            Note::RestartCancelled { timed_out } => {
                o.str("event", "restart_cancelled")
                    .bool("timed_out", *timed_out);
            }
            Note::RestartFailed(why) => {
                o.str("event", "restart_failed").str("error", why);
            }
            Note::StopFailed(why) => {
                o.str("event", "stop_failed").str("error", why);
            }
        }
    }
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
/// paused, their pipes fill and they block on write. Notes held for a
/// stderr that does not keep up are bounded by it too.
const HIGH_WATER: usize = 64 * 1024;
/// Paused children are read again once stdout has taken all but this much.
const LOW_WATER: usize = HIGH_WATER / 4;

pub struct Printer {
    /// stdout, or the `--output` file.
    out: Sink,
    /// The `--output` file's name, for messages.
    out_file: Option<String>,
    err: Sink,
    /// stdout and stderr are the same file: neither is written while the
    /// other has half a line out.
    shared: bool,
    prefixes: Vec<Prefixes>,
    /// `--format json`: lines and notes as JSON objects on `out`.
    json: bool,
    names: Vec<String>,
    /// Each child's pid: that of its last run started (0 before).
    pids: Vec<u32>,
    clock: Option<Clock>,
    /// No notes (and no lines on stdout, unless `lines`).
    quiet: bool,
    /// `--raw`: stderr takes the child's stderr too, so it may hold the
    /// children back as stdout does.
    raw: bool,
    /// Lines are printed (to a file, with `--output`) even with `--quiet`.
    lines: bool,
    /// procrun is stopping and stdout has stopped taking output (or a
    /// second signal came): output beyond the high-water mark is dropped
    /// instead of pausing its child, whose exit a pause would hold back.
    dropping: bool,
    /// Bytes dropped that way, or as notes stderr did not take, or given
    /// up on at the end.
    dropped: u64,
}

impl Printer {
    pub fn new(names: &[&str], opts: Options) -> Printer {
        let (out, out_file) = match opts.output {
            Some((f, name)) => (Sink::file(f), Some(name)),
            None => (Sink::stdout(), None),
        };
        let err = Sink::stderr();
        let out_colour = colour_for(opts.color, &out);
        let err_colour = colour_for(opts.color, &err);
        let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        Printer {
            lines: !opts.quiet || out_file.is_some(),
            // Raw bytes hold no lines to keep whole; and a partial last
            // line on one stream must not hold the other back for good.
            shared: !opts.raw && out.same_file(&err),
            out,
            out_file,
            err,
            prefixes: names
                .iter()
                .enumerate()
                .map(|(i, n)| Prefixes::new(n, width, i, out_colour, err_colour))
                .collect(),
            json: opts.format == Format::Json,
            names: names.iter().map(|n| n.to_string()).collect(),
            pids: vec![0; names.len()],
            clock: opts.timestamps.map(|t| match t {
                Timestamps::Elapsed => Clock::Elapsed(Instant::now()),
                Timestamps::Wall => Clock::Wall,
            }),
            quiet: opts.quiet || (opts.raw && !opts.verbose),
            raw: opts.raw,
            dropping: false,
            dropped: 0,
        }
    }

    /// Why the lines can no longer be written, if they cannot.
    /// Whether the reader closed stdout (EPIPE), rather than a write
    /// failing for want of space or a device: the first is a closed
    /// pipeline (exit status 141), the second a failure of procrun's (1).
    pub fn broken(&self) -> Option<(bool, String)> {
        if !self.out.failed() {
            return None;
        }
        let closed = self.out.closed();
        Some(match (closed, &self.out_file) {
            (true, None) => (true, "stdout was closed".into()),
            (_, Some(name)) => (closed, format!("cannot write to {name}")),
            (false, None) => (false, "cannot write to stdout".into()),
        })
    }

    /// Whether output waits for stdout or stderr to take it.
    pub fn waiting(&self) -> bool {
        self.owed() > 0
    }

    /// Bytes stdout and stderr have yet to take.
    pub fn owed(&self) -> usize {
        [&self.out, &self.err]
            .iter()
            .filter(|s| !s.failed())
            .map(|s| s.owed())
            .sum()
    }

    /// Waits until stdout or stderr takes more of what they owe, or `other`
    /// is readable, for at most `timeout`.
    ///
    /// # Errors
    ///
    /// The error of `poll`.
    pub fn wait_with(&self, other: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<()> {
        sink::wait([&self.out, &self.err], other, timeout)
    }

    /// Whether stdout (or, with `--raw`, stderr) is so far behind that
    /// children should be paused.
    pub fn behind(&self) -> bool {
        let behind = |s: &Sink| !s.failed() && s.owed() >= HIGH_WATER;
        !self.dropping && (behind(&self.out) || (self.raw && behind(&self.err)))
    }

    /// Whether stdout (and, with `--raw`, stderr) has caught up enough for
    /// paused children to go on.
    pub fn caught_up(&self) -> bool {
        let caught_up = |s: &Sink| s.failed() || s.owed() <= LOW_WATER;
        caught_up(&self.out) && (!self.raw || caught_up(&self.err))
    }

    /// From now on, output that does not fit is dropped, never a reason
    /// to pause.
    pub fn drop_when_behind(&mut self) {
        self.dropping = true;
    }

    /// Whether `drop_when_behind` was called.
    pub fn dropping(&self) -> bool {
        self.dropping
    }

    /// Since when neither stdout nor stderr has taken anything of what it
    /// owes (now when neither owes anything).
    pub fn last_progress(&self) -> Instant {
        [&self.out, &self.err]
            .iter()
            .filter(|s| !s.failed() && s.owed() > 0)
            .map(|s| s.progress())
            .max()
            .unwrap_or_else(Instant::now)
    }

    /// Drops what stdout and stderr still owe.
    pub fn give_up(&mut self) {
        self.dropped += (self.out.give_up() + self.err.give_up()) as u64;
    }

    /// Bytes of output dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// One line (or a piece of an over-long one, `partial`) of child
    /// `index`, as raw bytes.
    pub fn line(&mut self, index: usize, stream: Stream, line: &[u8], partial: bool) {
        if self.out.failed() || !self.lines {
            return;
        }
        if self.json {
            if let Some(mut o) = self.object(Some(index), line.len()) {
                o.str("event", "line")
                    .str("stream", stream.as_str())
                    .line(line)
                    .bool("partial", partial);
                o.end();
            }
            return;
        }
        let p = &self.prefixes[index];
        let prefix = match stream {
            Stream::Stdout => &p.stdout,
            Stream::Stderr => &p.stderr,
        };
        if self.dropping && self.out.owed() >= HIGH_WATER {
            self.dropped += (prefix.len() + line.len() + 1) as u64;
            return;
        }
        let clock = self.clock;
        let buf = self.out.buf();
        stamp(buf, clock);
        buf.extend_from_slice(prefix);
        buf.extend_from_slice(line);
        buf.push(b'\n');
    }

    /// Bytes of a child's `stream` under `--raw`, to procrun's own stream
    /// of that name, as they are.
    pub fn data(&mut self, stream: Stream, bytes: &[u8]) {
        if !self.lines {
            return;
        }
        let sink = match stream {
            Stream::Stdout => &mut self.out,
            Stream::Stderr => &mut self.err,
        };
        if sink.failed() {
            return;
        }
        if self.dropping && sink.owed() >= HIGH_WATER {
            self.dropped += bytes.len() as u64;
            return;
        }
        sink.buf().extend_from_slice(bytes);
    }

    /// Writes out what stdout and stderr take now, without waiting; called
    /// once per turn of the loop.
    pub fn flush(&mut self) {
        let held = self.shared && !self.err.at_line_start();
        self.flush_out();
        self.flush_err();
        if held {
            // stderr may just have ended the line that held stdout back.
            self.flush_out();
        }
    }

    /// Writes what stdout takes now, unless stderr, the same file, has
    /// half a line out.
    fn flush_out(&mut self) {
        if self.shared && !self.err.at_line_start() {
            return;
        }
        if let Err(e) = self.out.flush() {
            self.out_failed(&e);
        }
    }

    /// Says why stdout failed, unless its reader went away (then the
    /// caller says "stdout was closed"). Once failed, stdout writes nothing
    /// more, so the note this queues cannot fail stdout again.
    fn out_failed(&mut self, e: &io::Error) {
        if e.kind() != io::ErrorKind::BrokenPipe {
            let name = self.out_file.clone().unwrap_or_else(|| "stdout".into());
            self.error(format_args!("cannot write to {name}: {e}"));
        }
    }

    /// Writes what stderr takes now, unless stdout, the same file, has
    /// half a line out.
    fn flush_err(&mut self) {
        if self.shared && !self.out.at_line_start() {
            return;
        }
        // Nowhere left to say that stderr failed.
        let _ = self.err.flush();
    }

    /// A JSON object on `out` with `ts` and, for a child, its `name` and
    /// `pid`; `None` when it is dropped (stdout far behind while
    /// dropping; `len` bytes of it counted) or `out` failed.
    fn object(&mut self, child: Option<usize>, len: usize) -> Option<Object<'_>> {
        if self.out.failed() {
            return None;
        }
        if self.dropping && self.out.owed() >= HIGH_WATER {
            self.dropped += len as u64;
            return None;
        }
        let ts = wall(SystemTime::now()).to_string();
        let mut o = Object::new(self.out.buf());
        o.str("ts", &ts);
        if let Some(i) = child {
            o.str("name", &self.names[i])
                .num("pid", u64::from(self.pids[i]));
        }
        Some(o)
    }

    /// A note about child `index` on stderr, after what stdout takes now of
    /// what it owes (so a terminal shows them in order, unless stdout is
    /// behind); with `--format json`, an object on stdout. Nothing with
    /// `--quiet`, but errors.
    pub fn note(&mut self, index: usize, note: Note<'_>) {
        match note {
            Note::Started { pid, .. } => self.pids[index] = pid,
            Note::Exited(exit) => self.pids[index] = exit.pid(),
            _ => {}
        }
        if self.quiet && !note.is_error() {
            return;
        }
        if self.json && !self.out.failed() {
            if let Some(mut o) = self.object(Some(index), 0) {
                note.json(&mut o);
                o.end();
            }
            return;
        }
        if note.is_error() {
            let name = &self.names[index];
            let msg = format!("{name}: {}", note.text());
            self.error(format_args!("{msg}"));
            return;
        }
        let mut s = Vec::new();
        stamp(&mut s, self.clock);
        s.extend_from_slice(self.prefixes[index].note.as_bytes());
        let _ = writeln!(s, "{}", note.text());
        self.queue_stderr(s);
    }

    /// A note from procrun itself on stderr (with `--format json`, an
    /// object on stdout); nothing with `--quiet`.
    pub fn info(&mut self, msg: fmt::Arguments<'_>) {
        if self.quiet {
            return;
        }
        if self.json && !self.out.failed() {
            let message = msg.to_string();
            if let Some(mut o) = self.object(None, message.len()) {
                o.str("event", "info").str("message", &message);
                o.end();
            }
            return;
        }
        self.error(msg);
    }

    /// A message from procrun itself on stderr; printed even with `--quiet`.
    pub fn error(&mut self, msg: fmt::Arguments<'_>) {
        let mut s = Vec::new();
        stamp(&mut s, self.clock);
        let _ = writeln!(s, "procrun: {msg}");
        self.queue_stderr(s);
    }

    fn queue_stderr(&mut self, s: Vec<u8>) {
        if !self.shared || self.err.at_line_start() {
            // What stdout owes goes first, so a terminal shows them in
            // order; if that write fails, the failure is said first too.
            if let Err(e) = self.out.flush() {
                self.out_failed(&e);
            }
        }
        if self.err.failed() {
            return;
        }
        if self.err.owed() >= HIGH_WATER {
            self.dropped += s.len() as u64;
            return;
        }
        self.err.buf().extend_from_slice(&s);
        self.flush_err();
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

/// How a run ended, in words: `exited with code 3`, `killed by SIGKILL`,
/// `killed by SIGKILL (out of memory)`.
pub struct Ending<'a>(pub &'a Exit);

impl fmt::Display for Ending<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        if e.timed_out() {
            f.write_str("timed out, ")?;
        } else if e.stopped() {
            f.write_str("stopped, ")?;
        }
        match (e.code(), e.signal()) {
            (Some(c), _) => write!(f, "exited with code {c}")?,
            (None, Some(s)) => write!(f, "killed by {s}")?,
            // No code and no signal: the status went to whoever reaped it.
            (None, None) if e.status_lost() => {
                f.write_str("ended, status unknown (reaped elsewhere)")?
            }
            (None, None) => write!(f, "ended ({})", e.status())?,
        }
        // The kernel's SIGKILL alone does not tell a limit from a kill.
        if e.oom_killed() {
            f.write_str(" (out of memory)")?;
        }
        Ok(())
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
    fn auto_colour_needs_a_terminal_that_is_not_dumb_and_no_no_color() {
        let os = |s: &'static str| Some(OsStr::new(s));
        assert!(auto_colour(true, os("xterm"), None));
        assert!(auto_colour(true, None, os("")));
        assert!(!auto_colour(false, os("xterm"), None));
        assert!(!auto_colour(true, os("dumb"), None));
        assert!(!auto_colour(true, os("xterm"), os("1")));
    }
}
