//! What the reactor tells its caller, and how the caller answers.

use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use crate::signal::Signal;
use crate::Error;

/// A handle to one supervised child: an index plus a generation, so a handle
/// kept after its child is gone never touches a newer child that reuses the
/// slot. Small and `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChildId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl fmt::Debug for ChildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChildId({}v{})", self.index, self.generation)
    }
}

/// Which output stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// The child's stdout.
    Stdout,
    /// The child's stderr.
    Stderr,
}

impl Stream {
    /// `"stdout"` or `"stderr"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a run of a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    pub(crate) id: ChildId,
    pub(crate) pid: u32,
    pub(crate) status: ExitStatus,
    pub(crate) stopped: bool,
    pub(crate) timed_out: bool,
    pub(crate) restart_in: Option<Duration>,
    pub(crate) limit_reached: bool,
    pub(crate) status_lost: bool,
    pub(crate) restarts: u32,
}

impl Exit {
    /// The child.
    pub fn id(&self) -> ChildId {
        self.id
    }

    /// The pid of the run that ended.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The wait status, as std reports it.
    pub fn status(&self) -> ExitStatus {
        self.status
    }

    /// The exit code, when the run exited rather than being killed.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The signal that killed the run, if one did.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Command, Event, Reactor, Signal};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "kill -BUS $$"]);
    /// reactor.spawn(&cmd)?;
    /// let mut exit = None;
    /// while !reactor.is_empty() {
    ///     reactor.poll(None, |_, event| {
    ///         if let Event::Exited(e) = event {
    ///             exit = Some(e);
    ///         }
    ///     })?;
    /// }
    /// let exit = exit.unwrap();
    /// assert_eq!(exit.signal(), Some(Signal::BUS));
    /// assert_eq!(exit.to_string(), "killed by SIGBUS");
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn signal(&self) -> Option<Signal> {
        // The kernel reports only signals 1 to 64, every one a `Signal`.
        self.status.signal().and_then(Signal::from_raw)
    }

    /// Whether the run exited with code 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Whether procrun stopped it (a stop or a timeout).
    pub fn was_stopped(&self) -> bool {
        self.stopped
    }

    /// Whether the stop was the command's timeout.
    pub fn timed_out(&self) -> bool {
        self.timed_out
    }

    /// When a restart follows, the delay before it. A stop or timeout during
    /// that delay cancels the restart: [`Event::Done`] then follows with no
    /// further exit.
    pub fn restart_in(&self) -> Option<Duration> {
        self.restart_in
    }

    /// Whether no restart follows this exit.
    pub fn is_final(&self) -> bool {
        self.restart_in.is_none()
    }

    /// Whether the run failed and would have been restarted but for the
    /// restart limit.
    pub fn restart_limit_reached(&self) -> bool {
        self.limit_reached
    }

    /// How many restarts preceded this run (0 for the first run).
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// Whether the status was lost because something else in the process
    /// reaped the child (`waitpid(-1)`, or `SIGCHLD` set to `SIG_IGN`); the
    /// status then reads as exit code 255.
    pub fn status_lost(&self) -> bool {
        self.status_lost
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code(), self.signal()) {
            (Some(c), _) => write!(f, "exit code {c}")?,
            (None, Some(s)) => write!(f, "killed by {s}")?,
            (None, None) => write!(f, "{}", self.status)?,
        }
        if self.timed_out {
            f.write_str(" (timed out)")?;
        } else if self.stopped {
            f.write_str(" (stopped)")?;
        }
        Ok(())
    }
}

/// What happened, as delivered by [`Reactor::poll`](crate::Reactor::poll).
///
/// Lines borrow the reactor's read buffer: copy what you keep.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A run of the child started (the first, or a restart).
    #[non_exhaustive]
    Started {
        /// The child.
        id: ChildId,
        /// The pid of this run.
        pid: u32,
        /// How many restarts preceded this run.
        restarts: u32,
    },
    /// A line (or a piece of an over-long one) of output.
    #[non_exhaustive]
    Line {
        /// The child.
        id: ChildId,
        /// The stream it came from.
        stream: Stream,
        /// The line without its `\n` (or `\r\n`).
        line: &'a [u8],
        /// Whether this is a piece of a longer line that goes on.
        partial: bool,
    },
    /// A run ended. Every byte it wrote to its piped streams before it
    /// exited was delivered before this event.
    Exited(Exit),
    /// A restart could not be started; no more runs follow.
    #[non_exhaustive]
    RestartFailed {
        /// The child.
        id: ChildId,
        /// Why the spawn failed.
        error: Error,
    },
    /// A signal of a stop (the stop signal, or `SIGKILL` when the grace
    /// ended) or of a [`Control::signal`] reached neither the child nor its
    /// group, so it was not sent: [`Error::Signal`], usually `EPERM`
    /// because the child made itself another user. A stop stays under way
    /// (`SIGKILL` is still tried when the grace ends) and the child is
    /// reaped whenever it exits.
    #[non_exhaustive]
    SignalFailed {
        /// The child.
        id: ChildId,
        /// What failed.
        error: Error,
    },
    /// One of the child's output streams reached its end (or was closed
    /// after the drain time).
    #[non_exhaustive]
    Closed {
        /// The child.
        id: ChildId,
        /// The stream.
        stream: Stream,
    },
    /// The child is finished: its last run was reaped, no restart is
    /// pending and all its streams are closed. Its [`ChildId`] is stale
    /// from now on.
    #[non_exhaustive]
    Done {
        /// The child.
        id: ChildId,
    },
}

impl Event<'_> {
    /// The child the event is about.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Command, Reactor};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let id = reactor.spawn(&Command::new("true"))?;
    /// while !reactor.is_empty() {
    ///     reactor.poll(None, |_, event| assert_eq!(event.id(), id))?;
    /// }
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn id(&self) -> ChildId {
        match self {
            Event::Started { id, .. }
            | Event::Line { id, .. }
            | Event::RestartFailed { id, .. }
            | Event::SignalFailed { id, .. }
            | Event::Closed { id, .. }
            | Event::Done { id, .. } => *id,
            Event::Exited(e) => e.id(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Request {
    Pause(ChildId),
    Resume(ChildId),
    Stop(ChildId),
    Signal(ChildId, Signal),
}

/// Lets an event handler steer the reactor while it is delivering events.
///
/// Requests take effect after the current event (for a pause: before the
/// next read of that child's pipes).
#[derive(Debug)]
pub struct Control<'r> {
    pub(crate) requests: &'r mut Vec<Request>,
}

impl Control<'_> {
    /// Stops reading the child's output: its pipes fill and the child blocks
    /// on write. Nothing is dropped. A pause also holds back the child's
    /// exit event until its output is drained.
    pub fn pause(&mut self, id: ChildId) {
        self.requests.push(Request::Pause(id));
    }

    /// Reads the child's output again.
    pub fn resume(&mut self, id: ChildId) {
        self.requests.push(Request::Resume(id));
    }

    /// Stops the child, as [`Reactor::stop`](crate::Reactor::stop).
    pub fn stop(&mut self, id: ChildId) {
        self.requests.push(Request::Stop(id));
    }

    /// Sends `sig` to the child's current run, as
    /// [`Reactor::signal`](crate::Reactor::signal). A signal that reaches
    /// nothing comes back as [`Event::SignalFailed`]; one for a child
    /// with no live run, or a stale handle, is not sent.
    ///
    /// # Examples
    ///
    /// A child told by its first line that it is ready gets `SIGUSR1`:
    ///
    /// ```
    /// use std::time::Duration;
    /// use procrun::{Command, Event, Reactor, Signal};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "trap 'echo got USR1; exit 0' USR1; echo ready; sleep 60 & wait"])
    ///     .timeout(Duration::from_secs(60));
    /// reactor.spawn(&cmd)?;
    /// let mut lines = Vec::new();
    /// while !reactor.is_empty() {
    ///     reactor.poll(None, |ctl, event| {
    ///         if let Event::Line { id, line, .. } = event {
    ///             if line == b"ready" {
    ///                 ctl.signal(id, Signal::USR1);
    ///             }
    ///             lines.push(String::from_utf8_lossy(line).into_owned());
    ///         }
    ///     })?;
    /// }
    /// assert_eq!(lines, ["ready", "got USR1"]);
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn signal(&mut self, id: ChildId, sig: Signal) {
        self.requests.push(Request::Signal(id, sig));
    }

    /// Sends `SIGKILL` to the child's current run, as
    /// [`Reactor::kill`](crate::Reactor::kill): no stop, so the restart
    /// policy still applies.
    pub fn kill(&mut self, id: ChildId) {
        self.signal(id, Signal::KILL);
    }
}

pub(crate) fn lost_status() -> ExitStatus {
    ExitStatus::from_raw(255 << 8)
}
