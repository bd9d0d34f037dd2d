//! What the reactor tells its caller, and how the caller answers.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use super::children::{Pause, StopCause};
use super::spawns::{Pending, Spawns};
use super::{Ctx, Reactor};
use crate::child::{ChildId, Stream};
use crate::command::Command;
use crate::error::{Error, Result};
use crate::exit::{Exit, StageExit};
use crate::signal::Signal;
use crate::spawn::{self, SpawnFds};

/// What happened, as delivered by [`Reactor::poll`](crate::Reactor::poll).
///
/// Lines and data borrow the reactor's read buffer: copy what you keep.
///
/// # Examples
///
/// A child's life as events: it starts, writes, exits, its streams close,
/// and it is done.
///
/// ```
/// use procrun::{Command, Event, Reactor, Stream};
///
/// let mut reactor = Reactor::new()?;
/// let mut cmd = Command::new("sh");
/// cmd.args(["-c", "echo out; echo err >&2"]);
/// reactor.spawn(&cmd)?;
///
/// let mut seen = Vec::new();
/// while !reactor.is_empty() {
///     reactor.poll(None, |_, event| {
///         seen.push(match event {
///             Event::Started { .. } => "started".to_string(),
///             Event::Line { stream, line, .. } => {
///                 format!("{stream}: {}", String::from_utf8_lossy(line))
///             }
///             Event::Exited(exit) => format!("exited: {exit}"),
///             Event::Closed { stream: Stream::Stdout, .. } => "stdout closed".into(),
///             Event::Closed { .. } => "stderr closed".into(),
///             Event::Done { .. } => "done".into(),
///             _ => "other".into(),
///         })
///     })?;
/// }
/// assert_eq!(seen.first().map(String::as_str), Some("started"));
/// assert_eq!(seen.last().map(String::as_str), Some("done"));
/// for what in ["stdout: out", "stderr: err", "exited: exit code 0", "stdout closed", "stderr closed"] {
///     assert!(seen.iter().any(|s| s == what), "{what} in {seen:?}");
/// }
/// // All a run wrote comes before its exit.
/// let exited = seen.iter().position(|s| s.starts_with("exited")).unwrap();
/// let lines = |s: &&String| s.starts_with("stdout: ") || s.starts_with("stderr: ");
/// assert_eq!(seen[..exited].iter().filter(lines).count(), 2);
/// # Ok::<(), procrun::Error>(())
/// ```
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
    /// What one read of an [`Output::Raw`](crate::Output::Raw) stream got,
    /// byte for byte as the child wrote it; how the bytes are cut into
    /// events depends on the timing of the reads and means nothing.
    #[non_exhaustive]
    Data {
        /// The child.
        id: ChildId,
        /// The stream it came from.
        stream: Stream,
        /// The bytes (never empty).
        bytes: &'a [u8],
    },
    /// The child's stdin queue, which refused or cut short a
    /// [`Reactor::write_stdin`](crate::Reactor::write_stdin), has room
    /// again.
    #[non_exhaustive]
    StdinReady {
        /// The child.
        id: ChildId,
    },
    /// The stdin stream of the child's run was closed: all of it written
    /// after [`Reactor::close_stdin`](crate::Reactor::close_stdin), or the
    /// child closed its stdin (or exited) first. Later writes to it fail
    /// with [`BrokenPipe`](std::io::ErrorKind::BrokenPipe).
    #[non_exhaustive]
    StdinClosed {
        /// The child.
        id: ChildId,
        /// Bytes that were queued and never written: dropped.
        unwritten: usize,
    },
    /// A run ended. Every byte it wrote to its piped streams before it
    /// exited was delivered before this event. The event comes as soon as
    /// the run's exit is seen and its output read, except during a stop:
    /// a child that exits while other processes of its run are alive is
    /// left unreaped until they are gone or the grace ended (see
    /// [`Reactor::stop`](crate::Reactor::stop)).
    ///
    /// While the handler runs, the run's child is still unreaped (a
    /// zombie, unless a pause held the event back): its pid, and its
    /// group's id, cannot belong to another process yet. Once the handler
    /// returns, and before [`poll`](crate::Reactor::poll) does, what is
    /// left of its group is sent `SIGKILL` (unless it is
    /// [detached](crate::Command::detached)), the child is reaped and its
    /// pidfd closed: once `poll` returns, no fd of the run is left but
    /// output pipes a process outside its group still holds (closed after
    /// the [drain](crate::Command::drain) time).
    Exited(Exit),
    /// One stage of a [`Pipeline`](crate::Pipeline)'s run was reaped. Each
    /// stage's comes as it is reaped, in any order but the first stage's
    /// last (it leads the stages' process group, whose id its zombie
    /// keeps until the others are reaped); the run's
    /// [`Exited`](Event::Exited) follows the last of them. Unlike that
    /// one, it may come before all the stage wrote has been delivered.
    StageExited(StageExit),
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
    /// The child is done: its runs are over (its last run was reaped, no
    /// restart is pending) and all its streams are closed; after a stop (or timeout),
    /// nothing of its process group is alive either (its members had the
    /// grace to finish, then `SIGKILL`: see
    /// [`Reactor::stop`](super::Reactor::stop)), and a contained run's
    /// cgroup is gone. Its [`ChildId`] names no supervised child from now
    /// on ([`Reactor::contains`](super::Reactor::contains) is false): a
    /// stop, signal, pause or resume of it does nothing and succeeds.
    #[non_exhaustive]
    Done {
        /// The child.
        id: ChildId,
        /// Whether a stop or the timeout ended the child while it waited
        /// to restart: its last [`Exited`](Event::Exited) said a restart
        /// would follow ([`Exit::restart_in`]), and none did.
        restart_cancelled: bool,
        /// Whether that was the command's timeout (never true without
        /// `restart_cancelled`: a timeout that stops a run says so on the
        /// run's [`Exit::timed_out`]).
        timed_out: bool,
        /// The child's final exit, as a caller waiting for it should read
        /// it: its last [`Exited`](Event::Exited)'s exit, except when
        /// `restart_cancelled`, where the restart it announced never came:
        /// then it is final ([`Exit::restart_in`] is `None`), stopped, and
        /// [`timed_out`](Exit::timed_out) when the timeout cancelled it.
        /// After a [`RestartFailed`](Event::RestartFailed), the exit before
        /// it, as it was.
        exit: Exit,
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
            | Event::Data { id, .. }
            | Event::StdinReady { id, .. }
            | Event::StdinClosed { id, .. }
            | Event::RestartFailed { id, .. }
            | Event::SignalFailed { id, .. }
            | Event::Closed { id, .. }
            | Event::Done { id, .. } => *id,
            Event::Exited(e) => e.id(),
            Event::StageExited(e) => e.id(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Request {
    Pause(ChildId),
    /// A pause for a layer's bound ([`Control::pause_bound`]).
    PauseBound(ChildId),
    Resume(ChildId),
    Stop(ChildId),
    Signal(ChildId, Signal),
    /// Take in the child a handler spawned (the first pending).
    Spawn(ChildId),
}

/// Lets an event handler steer the reactor while it is delivering events.
///
/// Requests take effect after the current event, in the order they were
/// made (for a pause: before the next read of that child's pipes), from
/// the handler of any event: a stop asked when a run's
/// [`Exited`](Event::Exited) says a restart follows cancels that restart.
/// A [`spawn`](Control::spawn) starts its child at once.
pub struct Control<'r> {
    pub(crate) requests: &'r mut Vec<Request>,
    pub(super) spawns: &'r mut Spawns,
    pub(super) spawn_fds: &'r SpawnFds,
    pub(super) use_pidfd: bool,
}

impl std::fmt::Debug for Control<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("requests", &self.requests)
            .finish_non_exhaustive()
    }
}

impl Control<'_> {
    /// Starts a child from the handler, as [`Reactor::spawn`] does
    /// between polls: the process is started now and its id returned at
    /// once; the reactor takes it in (watches its exit, reads its pipes,
    /// arms its timeout) right after the current event, and its
    /// [`Started`](Event::Started) event follows, in this same poll,
    /// before any other event of it.
    ///
    /// Requests for the new id made later in the same handler (a stop, a
    /// pause) apply after it is taken in, in order.
    ///
    /// # Errors
    ///
    /// As [`Reactor::spawn`]: the command's validation errors,
    /// [`Error::ProgramNotFound`], [`Error::Spawn`] and the OS errors of
    /// the spawn, returned to the handler; nothing is left running. In the
    /// rare case that epoll then refuses the child's fds (out of memory),
    /// it is killed and reaped right after the event and reported as
    /// [`Event::RestartFailed`] for its id, with no `Done`.
    ///
    /// # Examples
    ///
    /// A follow-up child started from the first one's exit, and a spawn
    /// error handed back to the handler:
    ///
    /// ```
    /// use procrun::{Command, Error, Event, Reactor};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let first = reactor.spawn(&Command::new("true"))?;
    /// let mut echo = Command::new("echo");
    /// echo.arg("follow-up");
    /// let (mut follow_up, mut missing, mut lines) = (None, None, Vec::new());
    /// while !reactor.is_empty() {
    ///     reactor.poll(None, |ctl, event| match event {
    ///         Event::Exited(exit) if exit.id() == first => {
    ///             follow_up = Some(ctl.spawn(&echo).expect("echo starts"));
    ///             missing = Some(ctl.spawn(&Command::new("no-such-program-anywhere")));
    ///         }
    ///         Event::Line { id, line, .. } => lines.push((id, line.to_vec())),
    ///         _ => {}
    ///     })?;
    /// }
    /// assert_eq!(lines, [(follow_up.unwrap(), b"follow-up".to_vec())]);
    /// assert!(matches!(missing, Some(Err(Error::ProgramNotFound { .. }))));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn spawn(&mut self, cmd: &Command) -> Result<ChildId> {
        let spec = cmd.prepare()?;
        // Before the spawn: a run's wall time counts its exec too.
        let started = Instant::now();
        let spawned = spawn::start(&spec, self.use_pidfd, self.spawn_fds)?;
        let id = self.spawns.ids.take();
        self.spawns.pending.push_back(Pending {
            id,
            spec,
            started,
            spawned: Some(spawned),
        });
        self.requests.push(Request::Spawn(id));
        Ok(id)
    }

    /// Stops reading the child's output: its pipes fill and the child blocks
    /// on write. Nothing is dropped. A pause also holds back the child's
    /// exit event until its output is drained.
    pub fn pause(&mut self, id: ChildId) {
        self.requests.push(Request::Pause(id));
    }

    /// Stops reading the child's output because a layer above holds as
    /// much of it as it will: as [`pause`](Self::pause) while the run
    /// lives, but a run that ended has its output read and its exit
    /// delivered all the same (see `Child::holds_output`), so stopping
    /// or killing a child whose output nobody takes still ends it. A
    /// caller's own pause is not weakened by it.
    pub(crate) fn pause_bound(&mut self, id: ChildId) {
        self.requests.push(Request::PauseBound(id));
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

/// Wakes a [`Reactor`] blocked in [`poll`](Reactor::poll) from another
/// thread.
#[derive(Clone, Debug)]
pub struct Waker(Arc<mio::Waker>);

impl Waker {
    pub(super) fn new(registry: &mio::Registry, token: mio::Token) -> io::Result<Waker> {
        Ok(Waker(Arc::new(mio::Waker::new(registry, token)?)))
    }

    /// Makes the reactor's current or next `poll` return.
    ///
    /// # Errors
    ///
    /// The OS error of the eventfd write, which does not happen in practice.
    pub fn wake(&self) -> io::Result<()> {
        self.0.wake()
    }
}

impl Reactor {
    /// Carries out what the handler asked for while it was called, in the
    /// order it asked (`pause` then `resume` leaves the child running).
    pub(super) fn apply_requests(&mut self, ctx: &mut Ctx<'_>) {
        // By index: taking a spawned child in may emit an event, whose
        // handler's requests join the end of the list.
        let mut i = 0;
        while let Some(&r) = ctx.requests.get(i) {
            i += 1;
            match r {
                Request::Spawn(id) => self.take_in_spawned(id, ctx),
                Request::Pause(id) => {
                    if let Some(c) = self.children.get_mut(id) {
                        c.paused = Pause::Held;
                    }
                }
                Request::PauseBound(id) => {
                    // A caller's pause stays as strong as it was.
                    if let Some(c) = self.children.get_mut(id).filter(|c| c.paused == Pause::No) {
                        c.paused = Pause::Bound;
                    }
                }
                Request::Resume(id) => {
                    if self.children.get(id).is_some() {
                        self.do_resume(id.index);
                    }
                }
                Request::Stop(id) => {
                    if self.children.get(id).is_some() {
                        self.begin_stop(id.index, StopCause::Stop);
                        self.check_child(id.index);
                    }
                }
                Request::Signal(id, sig) => {
                    if self.children.get(id).is_some() {
                        self.signal_or_report(id.index, sig);
                    }
                }
            }
        }
        ctx.requests.clear();
    }
}
