//! What to run: a validated description of a child, shaped like
//! [`std::process::Command`].

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::Result;
use crate::lines::DEFAULT_MAX_LINE;
use crate::signal::Signal;

mod setup;

pub use setup::Resource;
pub(crate) use setup::Setup;

/// Where a child's stdin comes from.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum Input {
    /// `/dev/null` (the default).
    #[default]
    Null,
    /// The supervising process's own stdin.
    Inherit,
    /// These bytes, written by the reactor through a nonblocking pipe that
    /// is closed once they are written (or when the child stops reading).
    Bytes(Arc<[u8]>),
    /// A pipe that stays open for what the caller writes while the child
    /// runs ([`Reactor::write_stdin`](crate::Reactor::write_stdin),
    /// [`Process::stdin`](crate::Process::stdin)), until it is closed
    /// ([`Reactor::close_stdin`](crate::Reactor::close_stdin)) or the run
    /// ends; each run of a restarted child gets a new one.
    Stream,
}

/// Where one of a child's output streams goes.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum Output {
    /// Read by the reactor and delivered as lines (the default).
    #[default]
    Lines,
    /// Read by the reactor and delivered as the bytes of each read
    /// ([`Event::Data`](crate::Event::Data)), exactly as written: no
    /// splitting, no line endings dropped or added. Ordering, the exit after
    /// the output, and pausing are as for lines.
    Raw,
    /// Written straight to this file by the child; procrun does not close
    /// the caller's file.
    File(Arc<File>),
    /// `/dev/null`.
    Null,
    /// The supervising process's own stream.
    Inherit,
    /// For stderr: the same pipe or file as stdout, so the two interleave
    /// exactly as the child wrote them (its lines then arrive tagged
    /// [`Stream::Stdout`](crate::Stream::Stdout)). For stdout it means the
    /// supervising process's stdout, as [`Output::Inherit`].
    Stdout,
}

/// When and how a child is started again: after a failed run
/// ([`on_error`](Restart::on_error), gpud's `RestartConfig{OnError}`) or
/// after every run ([`always`](Restart::always), for a watcher that may
/// exit 0 and must come back).
///
/// A run failed when it exited with a non-zero code or was killed by a
/// signal, one sent with [`Reactor::signal`](crate::Reactor::signal) or
/// [`Reactor::kill`](crate::Reactor::kill) included (a kill ends the run,
/// not the child), and one that its [`run
/// timeout`](Command::run_timeout) ended, as systemd counts a unit's
/// `RuntimeMaxSec=` a failure. A stop (or the command's
/// [`timeout`](Command::timeout), which spans every run) never restarts,
/// under either policy, and cancels a restart that is pending.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use procrun::Restart;
///
/// let policy = Restart::on_error()
///     .limit(5)
///     .interval(Duration::from_millis(200))
///     .backoff(Duration::from_secs(10))
///     .reset_after(Duration::from_secs(60));
/// assert_eq!(policy.delay(0), Duration::from_millis(200));
/// assert_eq!(policy.delay(3), Duration::from_millis(1600));
/// assert_eq!(policy.delay(30), Duration::from_secs(10));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Restart {
    /// Restart after a successful run too.
    always: bool,
    limit: u32,
    interval: Duration,
    backoff_cap: Option<Duration>,
    reset_after: Option<Duration>,
}

impl Restart {
    /// Restart after a failed run, without limit, every 5 s.
    pub fn on_error() -> Restart {
        Restart {
            always: false,
            limit: 0,
            interval: Duration::from_secs(5),
            backoff_cap: None,
            reset_after: None,
        }
    }

    /// Restart after every run that was not stopped, a successful one too,
    /// without limit, every 5 s; the other settings work as for
    /// [`on_error`](Restart::on_error), and the limit counts every restart.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procrun::Restart;
    ///
    /// let policy = Restart::always().limit(3).interval(Duration::from_secs(1));
    /// assert!(policy.restarts_success() && !Restart::on_error().restarts_success());
    /// assert_eq!(policy.get_limit(), 3);
    /// ```
    pub fn always() -> Restart {
        Restart {
            always: true,
            ..Restart::on_error()
        }
    }

    /// Whether a successful run is restarted too ([`always`](Restart::always)).
    pub fn restarts_success(&self) -> bool {
        self.always
    }

    /// At most `n` restarts; 0 means no limit.
    pub fn limit(mut self, n: u32) -> Restart {
        self.limit = n;
        self
    }

    /// The delay before a restart (default 5 s); with
    /// [`backoff`](Restart::backoff), the first delay. A delay too large to
    /// add to the current time (such as [`Duration::MAX`]) means the restart
    /// never comes: the child waits for it until stopped (or timed out), as
    /// it would for a delay of centuries, and its exit's
    /// [`restart_in`](crate::Exit::restart_in) is [`Duration::MAX`].
    pub fn interval(mut self, d: Duration) -> Restart {
        self.interval = d;
        self
    }

    /// Double the delay after each consecutive restart, up to `cap`.
    pub fn backoff(mut self, cap: Duration) -> Restart {
        self.backoff_cap = Some(cap);
        self
    }

    /// A run that stayed up at least `d` resets the restart count (and so
    /// the backoff and the limit).
    pub fn reset_after(mut self, d: Duration) -> Restart {
        self.reset_after = Some(d);
        self
    }

    /// The restart limit (0 = none).
    pub fn get_limit(&self) -> u32 {
        self.limit
    }

    /// The run time after which the count resets, if set.
    pub fn get_reset_after(&self) -> Option<Duration> {
        self.reset_after
    }

    /// The delay before restart number `n + 1` (counting from 0).
    pub fn delay(&self, n: u32) -> Duration {
        match self.backoff_cap {
            None => self.interval,
            Some(cap) => {
                let factor = 1u32.checked_shl(n.min(31)).unwrap_or(u32::MAX);
                self.interval
                    .saturating_mul(factor)
                    .min(cap.max(self.interval))
            }
        }
    }
}

/// A description of a child to run, built like [`std::process::Command`].
///
/// Nothing is checked while building; [`Reactor::spawn`](crate::Reactor::spawn)
/// validates the whole command first and reports the first problem as a
/// typed [`Error`](crate::Error) (see [`Command::validate`]).
///
/// Defaults: stdin is `/dev/null`; stdout and stderr are read as lines; the
/// child leads its own process group; the environment is inherited; the
/// stop signal is `SIGTERM` with a 3 s grace before `SIGKILL`; no timeout,
/// no restart; lines longer than 64 KiB come in pieces.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use procrun::Command;
///
/// let mut cmd = Command::new("journalctl");
/// cmd.args(["-f", "-o", "cat"])
///     .env("SYSTEMD_COLORS", "0")
///     .timeout(Duration::from_secs(30))
///     .grace(Duration::from_secs(1));
/// assert_eq!(cmd.get_program(), "journalctl");
/// ```
#[derive(Clone, Debug)]
pub struct Command {
    pub(crate) program: OsString,
    pub(crate) args: Vec<OsString>,
    pub(crate) env_clear: bool,
    pub(crate) env: Vec<(OsString, Option<OsString>)>,
    pub(crate) env_entries: Vec<String>,
    pub(crate) cwd: Option<PathBuf>,
    pub(crate) stdin: Input,
    pub(crate) stdout: Output,
    pub(crate) stderr: Output,
    pub(crate) detached: bool,
    pub(crate) max_line: usize,
    pub(crate) timeout: Option<Duration>,
    pub(crate) run_timeout: Option<Duration>,
    pub(crate) stop_signal: Signal,
    pub(crate) grace: Duration,
    pub(crate) restart: Option<Restart>,
    pub(crate) drain: Duration,
    pub(crate) cgroup: Option<PathBuf>,
    pub(crate) limits: CgroupLimits,
    pub(crate) kill_on_parent_death: bool,
    /// What the child is set up with before its exec: `arg0`,
    /// credentials, resource limits, passed fds (`command/setup.rs`).
    pub(crate) setup: Setup,
}

/// The limits asked for with [`Command::memory_max`],
/// [`Command::pids_max`] and [`Command::cpu_max`], as given; checked by
/// [`Command::prepare`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct CgroupLimits {
    pub(crate) memory_max: Option<u64>,
    pub(crate) pids_max: Option<u64>,
    pub(crate) cpu_max: Option<(Duration, Duration)>,
}

impl Command {
    /// A command running `program`, looked up on `PATH` when it has no `/`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use procrun::{Command, Event, Exit, Reactor, Stream};
    /// # // Runs `cmd` to its end: its stdout lines and its last exit.
    /// # fn run(cmd: &Command) -> procrun::Result<(Vec<String>, Exit)> {
    /// #     let mut reactor = Reactor::new()?;
    /// #     reactor.spawn(cmd)?;
    /// #     let (mut out, mut last) = (Vec::new(), None);
    /// #     while !reactor.is_empty() {
    /// #         reactor.poll(None, |_, event| match event {
    /// #             Event::Line { stream: Stream::Stdout, line, .. } => {
    /// #                 out.push(String::from_utf8_lossy(line).into_owned())
    /// #             }
    /// #             Event::Exited(exit) => last = Some(exit),
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok((out, last.expect("every run exits")))
    /// # }
    /// // `run` polls a fresh `Reactor` until the command is done.
    /// let cmd = Command::new("uname");
    /// assert_eq!(cmd.get_program(), "uname");
    /// let (out, exit) = run(&cmd)?;
    /// assert_eq!(out, ["Linux"]);
    /// assert!(exit.success());
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env_clear: false,
            env: Vec::new(),
            env_entries: Vec::new(),
            cwd: None,
            stdin: Input::Null,
            stdout: Output::Lines,
            stderr: Output::Lines,
            detached: false,
            max_line: DEFAULT_MAX_LINE,
            timeout: None,
            run_timeout: None,
            stop_signal: Signal::TERM,
            grace: Duration::from_secs(3),
            restart: None,
            drain: Duration::from_secs(1),
            cgroup: None,
            limits: CgroupLimits::default(),
            kill_on_parent_death: false,
            setup: Setup::default(),
        }
    }

    /// Adds an argument.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::Command;
    ///
    /// let mut cmd = Command::new("echo");
    /// cmd.arg("hello").arg("world");
    /// assert_eq!(cmd.get_args().collect::<Vec<_>>(), ["hello", "world"]);
    /// ```
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    ///
    /// # Examples
    ///
    /// ```
    /// # use procrun::{Command, Event, Exit, Reactor, Stream};
    /// # // Runs `cmd` to its end: its stdout lines and its last exit.
    /// # fn run(cmd: &Command) -> procrun::Result<(Vec<String>, Exit)> {
    /// #     let mut reactor = Reactor::new()?;
    /// #     reactor.spawn(cmd)?;
    /// #     let (mut out, mut last) = (Vec::new(), None);
    /// #     while !reactor.is_empty() {
    /// #         reactor.poll(None, |_, event| match event {
    /// #             Event::Line { stream: Stream::Stdout, line, .. } => {
    /// #                 out.push(String::from_utf8_lossy(line).into_owned())
    /// #             }
    /// #             Event::Exited(exit) => last = Some(exit),
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok((out, last.expect("every run exits")))
    /// # }
    /// // `run` polls a fresh `Reactor` until the command is done.
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "echo \"$1 and $2\"", "sh", "one", "two"]);
    /// assert_eq!(run(&cmd)?.0, ["one and two"]);
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets one environment variable for the child.
    ///
    /// # Examples
    ///
    /// ```
    /// # use procrun::{Command, Event, Exit, Reactor, Stream};
    /// # // Runs `cmd` to its end: its stdout lines and its last exit.
    /// # fn run(cmd: &Command) -> procrun::Result<(Vec<String>, Exit)> {
    /// #     let mut reactor = Reactor::new()?;
    /// #     reactor.spawn(cmd)?;
    /// #     let (mut out, mut last) = (Vec::new(), None);
    /// #     while !reactor.is_empty() {
    /// #         reactor.poll(None, |_, event| match event {
    /// #             Event::Line { stream: Stream::Stdout, line, .. } => {
    /// #                 out.push(String::from_utf8_lossy(line).into_owned())
    /// #             }
    /// #             Event::Exited(exit) => last = Some(exit),
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok((out, last.expect("every run exits")))
    /// # }
    /// // `run` polls a fresh `Reactor` until the command is done.
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "echo $GREETING"]).env("GREETING", "hello");
    /// assert_eq!(run(&cmd)?.0, ["hello"]);
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn env(&mut self, key: impl AsRef<OsStr>, val: impl AsRef<OsStr>) -> &mut Command {
        self.env
            .push((key.as_ref().to_owned(), Some(val.as_ref().to_owned())));
        self
    }

    /// Adds `KEY=VALUE` entries (gpud's `WithEnvs`), checked when spawned:
    /// an entry without `=` or with an empty key is
    /// [`Error::InvalidEnv`](crate::Error::InvalidEnv), a key given twice among these entries is
    /// [`Error::DuplicateEnv`](crate::Error::DuplicateEnv).
    pub fn env_entries<I, S>(&mut self, entries: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.env_entries
            .extend(entries.into_iter().map(|e| e.as_ref().to_owned()));
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Starts the child with an empty environment (then adds what
    /// [`env`](Command::env) and [`env_entries`](Command::env_entries) set)
    /// instead of inheriting procrun's, which is the default.
    pub fn env_clear(&mut self) -> &mut Command {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// The child's working directory; it must exist.
    ///
    /// # Examples
    ///
    /// ```
    /// # use procrun::{Command, Event, Exit, Reactor, Stream};
    /// # // Runs `cmd` to its end: its stdout lines and its last exit.
    /// # fn run(cmd: &Command) -> procrun::Result<(Vec<String>, Exit)> {
    /// #     let mut reactor = Reactor::new()?;
    /// #     reactor.spawn(cmd)?;
    /// #     let (mut out, mut last) = (Vec::new(), None);
    /// #     while !reactor.is_empty() {
    /// #         reactor.poll(None, |_, event| match event {
    /// #             Event::Line { stream: Stream::Stdout, line, .. } => {
    /// #                 out.push(String::from_utf8_lossy(line).into_owned())
    /// #             }
    /// #             Event::Exited(exit) => last = Some(exit),
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok((out, last.expect("every run exits")))
    /// # }
    /// // `run` polls a fresh `Reactor` until the command is done.
    /// let mut cmd = Command::new("pwd");
    /// cmd.current_dir("/");
    /// assert_eq!(run(&cmd)?.0, ["/"]);
    ///
    /// cmd.current_dir("/no/such/directory");
    /// assert!(matches!(run(&cmd), Err(procrun::Error::CwdNotFound { .. })));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Where stdin comes from (default `/dev/null`).
    pub fn stdin(&mut self, input: Input) -> &mut Command {
        self.stdin = input;
        self
    }

    /// Feeds these bytes to the child's stdin, then closes it.
    ///
    /// Each run is fed from the start. What a run has not read when it is
    /// reaped is dropped and the pipe closed, even if a process it left
    /// behind still holds the pipe: nothing of a run stays open after its
    /// exit.
    ///
    /// # Examples
    ///
    /// ```
    /// # use procrun::{Command, Event, Exit, Reactor, Stream};
    /// # // Runs `cmd` to its end: its stdout lines and its last exit.
    /// # fn run(cmd: &Command) -> procrun::Result<(Vec<String>, Exit)> {
    /// #     let mut reactor = Reactor::new()?;
    /// #     reactor.spawn(cmd)?;
    /// #     let (mut out, mut last) = (Vec::new(), None);
    /// #     while !reactor.is_empty() {
    /// #         reactor.poll(None, |_, event| match event {
    /// #             Event::Line { stream: Stream::Stdout, line, .. } => {
    /// #                 out.push(String::from_utf8_lossy(line).into_owned())
    /// #             }
    /// #             Event::Exited(exit) => last = Some(exit),
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok((out, last.expect("every run exits")))
    /// # }
    /// // `run` polls a fresh `Reactor` until the command is done.
    /// let mut cmd = Command::new("cat");
    /// cmd.stdin_bytes(b"one\ntwo\n".as_slice());
    /// assert_eq!(run(&cmd)?.0, ["one", "two"]);
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn stdin_bytes(&mut self, bytes: impl Into<Arc<[u8]>>) -> &mut Command {
        self.stdin = Input::Bytes(bytes.into());
        self
    }

    /// Where stdout goes (default: lines through the reactor).
    ///
    /// # Examples
    ///
    /// ```
    /// # use procrun::{Command, Event, Exit, Reactor, Stream};
    /// # // Runs `cmd` to its end: its stdout lines and its last exit.
    /// # fn run(cmd: &Command) -> procrun::Result<(Vec<String>, Exit)> {
    /// #     let mut reactor = Reactor::new()?;
    /// #     reactor.spawn(cmd)?;
    /// #     let (mut out, mut last) = (Vec::new(), None);
    /// #     while !reactor.is_empty() {
    /// #         reactor.poll(None, |_, event| match event {
    /// #             Event::Line { stream: Stream::Stdout, line, .. } => {
    /// #                 out.push(String::from_utf8_lossy(line).into_owned())
    /// #             }
    /// #             Event::Exited(exit) => last = Some(exit),
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok((out, last.expect("every run exits")))
    /// # }
    /// // `run` polls a fresh `Reactor` until the command is done.
    /// use procrun::Output;
    ///
    /// let mut cmd = Command::new("echo");
    /// cmd.arg("not kept").stdout(Output::Null);
    /// let (out, exit) = run(&cmd)?;
    /// assert!(out.is_empty() && exit.success());
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn stdout(&mut self, out: Output) -> &mut Command {
        self.stdout = out;
        self
    }

    /// Where stderr goes (default: lines through the reactor).
    ///
    /// # Examples
    ///
    /// ```
    /// # use procrun::{Command, Event, Exit, Reactor, Stream};
    /// # // Runs `cmd` to its end: its stdout lines and its last exit.
    /// # fn run(cmd: &Command) -> procrun::Result<(Vec<String>, Exit)> {
    /// #     let mut reactor = Reactor::new()?;
    /// #     reactor.spawn(cmd)?;
    /// #     let (mut out, mut last) = (Vec::new(), None);
    /// #     while !reactor.is_empty() {
    /// #         reactor.poll(None, |_, event| match event {
    /// #             Event::Line { stream: Stream::Stdout, line, .. } => {
    /// #                 out.push(String::from_utf8_lossy(line).into_owned())
    /// #             }
    /// #             Event::Exited(exit) => last = Some(exit),
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok((out, last.expect("every run exits")))
    /// # }
    /// // `run` polls a fresh `Reactor` until the command is done.
    /// use procrun::Output;
    ///
    /// // stderr into stdout's pipe: one stream, in the order written.
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "echo one; echo two >&2; echo three"])
    ///     .stderr(Output::Stdout);
    /// assert_eq!(run(&cmd)?.0, ["one", "two", "three"]);
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn stderr(&mut self, out: Output) -> &mut Command {
        self.stderr = out;
        self
    }

    /// Detached: the child stays in procrun's process group instead of
    /// leading its own, a stop signals the child alone, and whatever it
    /// started in the background survives it.
    pub fn detached(&mut self, detached: bool) -> &mut Command {
        self.detached = detached;
        self
    }

    /// The longest line delivered whole (default 64 KiB); longer lines come
    /// in pieces flagged partial. 0 is [`Error::ZeroMaxLine`](crate::Error::ZeroMaxLine) at spawn.
    pub fn max_line(&mut self, bytes: usize) -> &mut Command {
        self.max_line = bytes;
        self
    }

    /// Stops the child (with the usual escalation) once it has been
    /// supervised this long, restarts included: the child's whole life,
    /// which no restart follows. [`run_timeout`](Self::run_timeout) bounds
    /// each run instead. A duration too large to add to the current time
    /// (such as [`Duration::MAX`]) is no timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// # use procrun::{Command, Event, Exit, Reactor, Stream};
    /// # // Runs `cmd` to its end: its stdout lines and its last exit.
    /// # fn run(cmd: &Command) -> procrun::Result<(Vec<String>, Exit)> {
    /// #     let mut reactor = Reactor::new()?;
    /// #     reactor.spawn(cmd)?;
    /// #     let (mut out, mut last) = (Vec::new(), None);
    /// #     while !reactor.is_empty() {
    /// #         reactor.poll(None, |_, event| match event {
    /// #             Event::Line { stream: Stream::Stdout, line, .. } => {
    /// #                 out.push(String::from_utf8_lossy(line).into_owned())
    /// #             }
    /// #             Event::Exited(exit) => last = Some(exit),
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok((out, last.expect("every run exits")))
    /// # }
    /// // `run` polls a fresh `Reactor` until the command is done.
    /// use std::time::Duration;
    ///
    /// let mut cmd = Command::new("sleep");
    /// cmd.arg("30").timeout(Duration::from_millis(100));
    /// let (_, exit) = run(&cmd)?;
    /// assert!(exit.timed_out() && exit.stopped());
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn timeout(&mut self, d: Duration) -> &mut Command {
        self.timeout = Some(d);
        self
    }

    /// Stops each run (with the usual escalation) once it has run this
    /// long, from its own start: systemd's `RuntimeMaxSec=`, where
    /// [`timeout`](Self::timeout) spans every run of the child. A run it
    /// ends counts as failed, as systemd counts it, whatever status the
    /// stop left: [`Restart::on_error`] (and [`Restart::always`]) restart
    /// it, within the policy's limit, and the next run gets the whole
    /// time again. Its [`Exit`](crate::Exit) is
    /// [`stopped`](crate::Exit::stopped) and
    /// [`timed_out`](crate::Exit::timed_out), and
    /// [`timeout_kind`](crate::Exit::timeout_kind) tells it from the
    /// command's timeout. A run that ends first cancels its timer. Given
    /// both, whichever comes first fires. A stop, or the command's
    /// timeout, that comes while a run timeout stops the run takes its
    /// place (the grace already running goes on): the exit reports that
    /// one, and nothing restarts.
    /// A duration too large to add to the current time (such as
    /// [`Duration::MAX`]) is no timeout.
    ///
    /// # Examples
    ///
    /// A poller that may hang gets 100 ms a run and three runs:
    ///
    /// ```
    /// use std::time::Duration;
    /// use procrun::{Command, Event, Reactor, Restart, TimeoutKind};
    ///
    /// let mut cmd = Command::new("sleep");
    /// cmd.arg("30")
    ///     .run_timeout(Duration::from_millis(100))
    ///     .restart(Restart::on_error().limit(2).interval(Duration::ZERO));
    /// let mut reactor = Reactor::new()?;
    /// reactor.spawn(&cmd)?;
    /// let mut exits = Vec::new();
    /// while !reactor.is_empty() {
    ///     reactor.poll(None, |_, event| {
    ///         if let Event::Exited(exit) = event {
    ///             exits.push(exit);
    ///         }
    ///     })?;
    /// }
    /// assert_eq!(exits.len(), 3);
    /// for exit in &exits {
    ///     assert!(exit.timed_out() && exit.stopped());
    ///     assert_eq!(exit.timeout_kind(), Some(TimeoutKind::Run));
    ///     assert!(exit.wall_time() >= Duration::from_millis(100));
    /// }
    /// assert!(exits[2].is_final() && exits[2].restart_limit_reached());
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn run_timeout(&mut self, d: Duration) -> &mut Command {
        self.run_timeout = Some(d);
        self
    }

    /// The signal a stop starts with (default `SIGTERM`); any signal may
    /// be, and every one reaches the child, a stopped child too.
    ///
    /// A stop wakes a stopped (`SIGSTOP`) child with `SIGCONT`: after the
    /// stop signal, as systemd sends it, so the child wakes with the
    /// signal pending. `SIGCONT` discards a pending job-control stop
    /// signal, so `SIGTSTP`, `SIGTTIN`, `SIGTTOU` and `SIGSTOP` are sent
    /// after it instead: a child that handles `SIGTSTP` (say) runs its
    /// handler, one that does not stops until `SIGKILL` ends the grace.
    /// `SIGKILL` goes alone.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procrun::{Command, Event, Reactor, Signal};
    ///
    /// // A child that saves its work on SIGTSTP and exits 20.
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "trap 'exit 20' TSTP; echo ready; sleep 30 & wait"])
    ///     .stop_signal(Signal::TSTP)
    ///     .grace(Duration::from_secs(30));
    /// let mut reactor = Reactor::new()?;
    /// reactor.spawn(&cmd)?;
    /// let mut exit = None;
    /// while !reactor.is_empty() {
    ///     reactor.poll(None, |ctl, event| match event {
    ///         Event::Line { id, .. } => ctl.stop(id),
    ///         Event::Exited(e) => exit = Some(e),
    ///         _ => {}
    ///     })?;
    /// }
    /// assert_eq!(exit.and_then(|e| e.code()), Some(20));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn stop_signal(&mut self, sig: Signal) -> &mut Command {
        self.stop_signal = sig;
        self
    }

    /// How long a stop waits after the stop signal before `SIGKILL`
    /// (default 3 s). A duration too large to add to the current time (such
    /// as [`Duration::MAX`]) means `SIGKILL` never follows.
    ///
    /// Every process of the run has the whole grace, not only the child:
    /// one of its process group (or, when contained, of its cgroup) that
    /// handles the stop signal may finish after the child died of it, and
    /// the child's [`Exited`](crate::Event::Exited) then waits for it (see
    /// [`Reactor::stop`](crate::Reactor::stop)). What is still alive when
    /// the grace ends is killed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procrun::{Command, Event, Reactor, Signal};
    ///
    /// // A child that ignores SIGTERM is killed once the grace is over.
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "trap '' TERM; echo ready; exec sleep 30"])
    ///     .grace(Duration::from_millis(200));
    /// let mut reactor = Reactor::new()?;
    /// reactor.spawn(&cmd)?;
    /// let mut exit = None;
    /// while !reactor.is_empty() {
    ///     reactor.poll(None, |ctl, event| match event {
    ///         Event::Line { id, .. } => ctl.stop(id),
    ///         Event::Exited(e) => exit = Some(e),
    ///         _ => {}
    ///     })?;
    /// }
    /// assert_eq!(exit.and_then(|e| e.signal()), Some(Signal::KILL));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn grace(&mut self, d: Duration) -> &mut Command {
        self.grace = d;
        self
    }

    /// Restarts the child by this policy: when it fails, or with
    /// [`Restart::always`] whenever it ends without being stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// # use procrun::{Command, Event, Exit, Reactor, Stream};
    /// # // Runs `cmd` to its end: its stdout lines and its last exit.
    /// # fn run(cmd: &Command) -> procrun::Result<(Vec<String>, Exit)> {
    /// #     let mut reactor = Reactor::new()?;
    /// #     reactor.spawn(cmd)?;
    /// #     let (mut out, mut last) = (Vec::new(), None);
    /// #     while !reactor.is_empty() {
    /// #         reactor.poll(None, |_, event| match event {
    /// #             Event::Line { stream: Stream::Stdout, line, .. } => {
    /// #                 out.push(String::from_utf8_lossy(line).into_owned())
    /// #             }
    /// #             Event::Exited(exit) => last = Some(exit),
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok((out, last.expect("every run exits")))
    /// # }
    /// // `run` polls a fresh `Reactor` until the command is done.
    /// use std::time::Duration;
    /// use procrun::Restart;
    ///
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "echo run; exit 1"])
    ///     .restart(Restart::on_error().limit(2).interval(Duration::from_millis(10)));
    /// let (out, last) = run(&cmd)?;
    /// assert_eq!(out, ["run", "run", "run"]);
    /// assert_eq!(last.restarts(), 2);
    /// assert!(last.restart_limit_reached());
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn restart(&mut self, policy: Restart) -> &mut Command {
        self.restart = Some(policy);
        self
    }

    /// How long output keeps being read, after the child exited, from
    /// processes outside its group that still hold its pipes (default 1 s).
    /// A duration too large to add to the current time (such as
    /// [`Duration::MAX`]) reads until the last of them closes the pipes.
    pub fn drain(&mut self, d: Duration) -> &mut Command {
        self.drain = d;
        self
    }

    /// Contains each run in a cgroup of its own, made below `parent` (a
    /// cgroup v2 directory procrun may write, such as a delegated
    /// subtree) and named `procrun-<agent pid>-<n>`.
    ///
    /// The run starts inside it: the child moves itself in before it runs
    /// anything, so no process of the run is ever outside. Then:
    ///
    /// - a stop (or timeout) reaches every process of the run, those that
    ///   called `setsid` or daemonized included, and those in cgroups the
    ///   run made below its own: the stop signal and `SIGCONT` to the
    ///   group and to each member of the cgroup and of every cgroup below
    ///   it, and `SIGKILL` to the whole subtree (`cgroup.kill`, or
    ///   freezing it on kernels before 5.14) when the grace ends or the
    ///   stopped child is reaped;
    /// - the run's [`Exited`](crate::Event::Exited) event still comes when
    ///   the child itself is reaped, but its pipes are read until the
    ///   cgroup is empty (not for the [`drain`](Command::drain) time) and a
    ///   process left in the cgroup can still be stopped;
    /// - the cgroup is removed once empty, with the cgroups the run made
    ///   below it (as container runtimes, `systemd-run` and build tools
    ///   do), deepest first, and [`Done`](crate::Event::Done) comes only
    ///   after that: it means the last process of the child is gone.
    ///
    /// Cgroups left by an agent that died can be removed with
    /// [`cgroup::kill_leftovers`](crate::cgroup::kill_leftovers).
    ///
    /// A `parent` that is not a cgroup v2 directory is
    /// [`Error::NotCgroup2`](crate::Error::NotCgroup2) at spawn; one
    /// procrun may not write is [`Error::CgroupAccess`](crate::Error::CgroupAccess).
    pub fn cgroup(&mut self, parent: impl AsRef<Path>) -> &mut Command {
        self.cgroup = Some(parent.as_ref().to_owned());
        self
    }

    /// Limits the memory of each contained run, every process of it
    /// together, to `bytes` (the cgroup's `memory.max`). Past it the kernel
    /// reclaims and then OOM-kills: the whole run, not a process picked at
    /// random (`memory.oom.group`), and the [`Exit`](crate::Exit) says so
    /// with [`oom_killed`](crate::Exit::oom_killed).
    ///
    /// Needs [`cgroup`](Command::cgroup) with the `memory` controller
    /// enabled below the parent (in its `cgroup.subtree_control`);
    /// otherwise the spawn fails with
    /// [`Error::ControllerNotEnabled`](crate::Error::ControllerNotEnabled),
    /// never a run without its limit. Zero is
    /// [`Error::InvalidCommand`](crate::Error::InvalidCommand).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procrun::{Command, Error, Reactor};
    ///
    /// let mut cmd = Command::new("nvidia-smi");
    /// cmd.memory_max(256 << 20)
    ///     .pids_max(64)
    ///     .cpu_max(Duration::from_millis(50), Duration::from_millis(100));
    /// // A limit needs a cgroup to hold it.
    /// let err = Reactor::new()?.spawn(&cmd).unwrap_err();
    /// assert!(matches!(err, Error::InvalidCommand { .. }), "{err}");
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn memory_max(&mut self, bytes: u64) -> &mut Command {
        self.limits.memory_max = Some(bytes);
        self
    }

    /// Limits the number of processes and threads each contained run may
    /// have at once to `n` (the cgroup's `pids.max`): a fork past it fails
    /// with `EAGAIN` in the run, so a fork bomb stays within `n`.
    ///
    /// Needs [`cgroup`](Command::cgroup) with the `pids` controller enabled
    /// below the parent, as [`memory_max`](Command::memory_max) says. Zero
    /// (nothing could start) is
    /// [`Error::InvalidCommand`](crate::Error::InvalidCommand).
    pub fn pids_max(&mut self, n: u64) -> &mut Command {
        self.limits.pids_max = Some(n);
        self
    }

    /// Limits the CPU time of each contained run to `quota` in every
    /// `period` (the cgroup's `cpu.max`): `50ms` in `100ms` is half a core,
    /// `200ms` in `100ms` two cores.
    ///
    /// The period must be between 1 ms and 1 s and the quota at least
    /// 1 ms, as the kernel takes them (otherwise
    /// [`Error::InvalidCommand`](crate::Error::InvalidCommand)); a quota
    /// too large for the kernel (over about 203 days) means no limit.
    /// Needs [`cgroup`](Command::cgroup) with the `cpu` controller enabled
    /// below the parent, as [`memory_max`](Command::memory_max) says.
    pub fn cpu_max(&mut self, quota: Duration, period: Duration) -> &mut Command {
        self.limits.cpu_max = Some((quota, period));
        self
    }

    /// Kills each run with `SIGKILL` when the thread that started it
    /// exits (`PR_SET_PDEATHSIG`), so a run does not outlive a supervisor
    /// that crashed or was killed.
    ///
    /// `SIGKILL` rather than the stop signal: with the supervisor gone,
    /// nobody is left to escalate after a grace, and a child ignoring
    /// `SIGTERM` would live on. A run started while procrun dies is killed
    /// too (it checks its parent after arming the signal). Only the run
    /// itself is signalled, not what it started: pair this with
    /// [`cgroup`](Command::cgroup) and
    /// [`cgroup::kill_leftovers`](crate::cgroup::kill_leftovers) to reach
    /// those. The kernel ties the signal to the spawning *thread*: a
    /// [`Reactor`](crate::Reactor) must be driven from a thread that lives
    /// as long as its children should (the handle API's driver thread
    /// does).
    pub fn kill_on_parent_death(&mut self) -> &mut Command {
        self.kill_on_parent_death = true;
        self
    }

    /// The program.
    pub fn get_program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments.
    pub fn get_args(&self) -> impl Iterator<Item = &OsStr> {
        self.args.iter().map(|a| a.as_os_str())
    }

    /// Whether the command runs detached.
    pub fn is_detached(&self) -> bool {
        self.detached
    }

    /// Checks everything that can be checked before spawning: a non-empty
    /// program, no NUL byte anywhere, well-formed and unique env entries, an
    /// existing working directory, a non-zero line limit.
    ///
    /// # Errors
    ///
    /// [`Error::EmptyProgram`](crate::Error::EmptyProgram), [`Error::NulByte`](crate::Error::NulByte), [`Error::InvalidEnv`](crate::Error::InvalidEnv),
    /// [`Error::DuplicateEnv`](crate::Error::DuplicateEnv), [`Error::CwdNotFound`](crate::Error::CwdNotFound),
    /// [`Error::ZeroMaxLine`](crate::Error::ZeroMaxLine).
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Command, Error};
    ///
    /// let mut cmd = Command::new("env");
    /// cmd.env_entries(["A=1", "A=2"]);
    /// assert!(matches!(cmd.validate(), Err(Error::DuplicateEnv { .. })));
    /// ```
    pub fn validate(&self) -> Result<()> {
        // Parsing is the check: what it yields is what a spawn consumes.
        self.prepare().map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn empty_program_is_rejected() {
        assert!(matches!(
            Command::new("").validate(),
            Err(Error::EmptyProgram)
        ));
    }

    #[test]
    fn nul_byte_in_argument_is_rejected() {
        let mut c = Command::new("echo");
        c.arg("a\0b");
        assert!(matches!(
            c.validate(),
            Err(Error::NulByte {
                what: "argument",
                ..
            })
        ));
    }

    #[test]
    fn env_entry_without_equals_is_rejected() {
        for bad in ["NOEQUALS", "=value", ""] {
            let mut c = Command::new("env");
            c.env_entries([bad]);
            assert!(
                matches!(c.validate(), Err(Error::InvalidEnv { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn env_entry_value_may_hold_equals() {
        let mut c = Command::new("env");
        c.env_entries(["A=b=c", "B="]);
        c.validate().unwrap();
    }

    #[test]
    fn missing_cwd_is_rejected() {
        let mut c = Command::new("true");
        c.current_dir("/nonexistent/procrun-test-dir");
        assert!(matches!(c.validate(), Err(Error::CwdNotFound { .. })));
    }

    #[test]
    fn zero_max_line_is_rejected() {
        let mut c = Command::new("true");
        c.max_line(0);
        assert!(matches!(c.validate(), Err(Error::ZeroMaxLine)));
    }

    #[test]
    fn backoff_doubles_up_to_cap_and_never_overflows() {
        let p = Restart::on_error()
            .interval(Duration::from_secs(1))
            .backoff(Duration::from_secs(60));
        let delays: Vec<u64> = (0..8).map(|n| p.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(p.delay(u32::MAX), Duration::from_secs(60));
    }
}
