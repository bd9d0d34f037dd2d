//! State shared between the handles of a [`Process`](super::Process) (on
//! any thread) and the driver thread serving it: a lifecycle with named
//! transitions, the runs seen, and the unread output, under one lock.
//!
//! # The lifecycle
//!
//! ```text
//!              begin_start (H)                 spawned: Ok (D)
//!   +------+ -----------------> +----------+ -----------------> +---------+
//!   | Idle |                    | Starting |                    | Running |
//!   +------+ <----------------- +----------+                    +---------+
//!      ^     undo_start (H): the      |                              |
//!      |     start failed before      | serve_start: closed (D)      | finished (D)
//!      |     the driver had it        | spawned: Err (D)             | driver_gone (D)
//!      |                              | start_refused (D, dying)     v
//!      |     undo_start (H)      +--------+                      +------+
//!      +------------------------ | Failed |                      | Done |
//!                                +--------+                      +------+
//!
//!   closed: a flag beside the phase, set by the first close (H) in any
//!   phase and never cleared.
//!   kept: set beside closed by a drop (H: abandon) while readers are out;
//!   cleared when the last of them goes (H: reader_gone).
//! ```
//!
//! (H) marks a transition a handle makes, (D) one the driver makes; each
//! is a method of [`State`] taken under the lock, and the caller notifies
//! the waiters before letting the lock go. A transition whose outcome asks
//! something of the caller (stop the child, resume it, let go of it)
//! returns it as a `#[must_use]` value.
//!
//! Invariants:
//!
//! 1. One start at a time: only `Idle` becomes `Starting`, and only
//!    `Idle` counts as not started.
//! 2. A `Starting` ends exactly once: answered by the driver (`Running`
//!    or `Failed`), or undone by its starter when it never reached the
//!    driver. The starter alone takes the answer, and alone leaves
//!    `Failed`, after dropping what the start made (its script file), so
//!    a retry never finds a leftover of the failed start nor loses its own.
//! 3. `closed` is never cleared. While it is set no start begins, the
//!    driver refuses a start it has not spawned, and one it spawned is
//!    answered with the order to stop it ([`Answer::StopNow`]): nothing a
//!    closed handle asked for starts later.
//! 4. `Done` is final and comes only from `Running`, once the child is
//!    reaped (or the dying driver's reactor killed and reaped it).
//! 5. Runs: `exits <= runs_started <= exits + 1`; the stdin writer of run
//!    `k` is handed out once run `k` started, or once the process is done
//!    (its writes then fail).
//! 6. Every wait is one of the named waits of [`Shared`], and ends on a
//!    state only transitions bring, each followed by a notify: a waiter is
//!    never left asleep on a state that came.
//! 7. A reader owns what was read for it: a drop of the process (as
//!    against a close) with readers out keeps the output (`kept`), goes
//!    on buffering what the child writes until it is done, and keeps the
//!    bound (the readers resume the child). Only when no reader is left
//!    is the output dropped and a pause lifted, so the stop completes
//!    with nobody reading, as after a close.
//!
//! # Start against close
//!
//! `start()` on thread A and `close()` on thread B meet here, and every
//! `close()` must return only after the reap, with nothing the closed
//! handle asked for starting later. A begins a start unless `closed` is
//! set; B sets `closed`, waits until no start is pending
//! ([`Shared::wait_started`]), then, if the child runs, sends a stop and
//! waits for `Done` ([`Shared::wait_closed`]). The driver, serving the
//! start, checks `closed` before it spawns and again when it answers. The
//! interleavings:
//!
//! 1. B closes before A begins: A fails with `Aborted`; nothing was asked
//!    of the driver, B finds nothing pending and nothing running.
//! 2. A is `Starting`, B closes before the driver serves the start: the
//!    driver spawns nothing and answers `Aborted` (`Failed`); B, woken by
//!    the answer, finds nothing running.
//! 3. B closes while the driver spawns (it checked `closed` before): the
//!    answer is `Running` and tells the driver to stop the child itself;
//!    B, woken by the answer, finds it running and waits for `Done`.
//! 4. The driver answered before B: B finds the child running, stops it
//!    and waits for `Done`, as a close after a finished start does.
//! 5. A's start fails before or in the driver (script, spawn, a dead
//!    driver): `Failed`, or back to `Idle`; B finds nothing running.
//!
//! A second close (B') waits exactly as B does, never returning early
//! because B is under way: it needs the same reap.

use std::num::NonZeroUsize;
use std::time::Instant;

use super::buffer::Buffer;
use super::sync::{lock, Condvar, Mutex, MutexGuard};
use crate::child::{ChildId, OutputLine, Stream};
use crate::error::{Error, Result};
use crate::exit::{Exit, StageExit};
use crate::reactor::Event;
use crate::signal::Signal;

pub(crate) use super::buffer::index;

/// The state and the condition variable its waiters sleep on.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    cv: Condvar,
}

/// Where a process is in its lifecycle (see the module docs).
#[derive(Debug)]
enum Phase {
    /// Never started, or a failed start undone.
    Idle,
    /// A start is under way: the driver has it, or its starter is still
    /// preparing it.
    Starting,
    /// The driver answered the start with an error; its starter undoes it.
    Failed,
    /// The driver spawned the child: it runs, or waits to restart.
    Running(ChildId),
    /// The child is gone for good: last exit seen and every stream closed.
    Done {
        id: ChildId,
        /// The driver died while supervising the child (its reactor
        /// killed and reaped it): no final exit came.
        driver_gone: bool,
    },
}

/// What a process's handles and its driver know of it, under one lock.
#[derive(Debug)]
pub(crate) struct State {
    phase: Phase,
    closed: bool,
    /// The driver's answer to a start, until the starter takes it.
    answer: Option<Result<()>>,
    /// The pid of the current run: `None` before it started and from its
    /// reap on (between runs, once done), as tokio's `Child::id()`, so
    /// that nobody signals a pid the kernel may have given to another
    /// process.
    pid: Option<u32>,
    exits: Vec<Exit>,
    /// The ends of a pipeline's stages in its current run, as they are
    /// reaped, or in its last run once that ended (empty for a command).
    stage_exits: Vec<StageExit>,
    /// The runs whose `Started` the driver has seen: run `k` has started
    /// once this is above `k`.
    runs_started: usize,
    /// A restart could not be started (the last exit is the final one).
    restart_error: Option<String>,
    /// A stop's signal reached nothing of the child (it made itself
    /// another user): the child runs on, and a close cannot wait for it.
    stop_failed: Option<StopFailure>,
    /// Counts the stdin events (room again, closed): a writer refused for
    /// a full queue waits for it to move.
    stdin_turn: u64,
    /// The run (counted from 0, as `exits.len()` counts it while it runs)
    /// whose stdin writer was handed out: one writer per run.
    stdin_taken: Option<usize>,
    /// The readers of the output not dropped yet.
    readers: usize,
    /// The process was dropped while readers were out: its output is
    /// still read for them, until it is done or the last of them goes.
    kept: bool,
    buf: Buffer,
    /// Threads asleep in a wait: a notify with none is skipped.
    waiters: usize,
}

/// What [`Error::Signal`] said, kept so that every close can report it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StopFailure {
    pid: u32,
    signal: Signal,
    errno: Option<i32>,
}

impl StopFailure {
    pub(crate) fn of(e: &Error) -> Option<StopFailure> {
        match e {
            Error::Signal {
                pid,
                signal,
                source,
            } => Some(StopFailure {
                pid: *pid,
                signal: *signal,
                errno: source.raw_os_error(),
            }),
            _ => None,
        }
    }

    pub(crate) fn error(self) -> Error {
        Error::Signal {
            pid: self.pid,
            signal: self.signal,
            source: match self.errno {
                Some(n) => std::io::Error::from_raw_os_error(n),
                None => std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            },
        }
    }
}

/// The driver's answer to a start it served.
#[must_use = "a refused start is let go of, a start spawned for a closed handle is stopped"]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The child runs.
    Running,
    /// The child runs, and the handle was closed during the spawn: the
    /// driver stops it now (the close found nothing to stop, and waits
    /// for the reap).
    StopNow(ChildId),
    /// Nothing runs: the start failed or was refused.
    Refused,
}

/// What the driver does with a start it took.
#[must_use = "a refused start is let go of"]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Serve {
    /// Spawn the child, then answer with [`State::spawned`].
    Spawn,
    /// Answered already: the handle was closed.
    Refused,
}

/// A child to resume, which a pause left stopped: the one who lifted the
/// pause in the state must send it, or the child never ends.
#[must_use = "a paused child must be resumed, or it never ends"]
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Resume(pub(crate) Option<ChildId>);

/// What the driver does after one event of a child.
#[must_use = "a pause is applied and a done process let go of"]
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Reaction {
    /// The buffer is full: pause the child's output.
    pub(crate) pause: bool,
    /// The process is done: let go of it.
    pub(crate) done: bool,
}

impl State {
    fn new(cap: usize, max_line: NonZeroUsize) -> State {
        State {
            phase: Phase::Idle,
            closed: false,
            answer: None,
            pid: None,
            exits: Vec::new(),
            stage_exits: Vec::new(),
            runs_started: 0,
            restart_error: None,
            stop_failed: None,
            stdin_turn: 0,
            stdin_taken: None,
            readers: 0,
            kept: false,
            buf: Buffer::new(cap, max_line),
            waiters: 0,
        }
    }

    // Transitions of the handles.

    /// `Idle` to `Starting`.
    ///
    /// # Errors
    ///
    /// [`Error::Aborted`] once closed, [`Error::AlreadyStarted`] when not
    /// `Idle`.
    pub(crate) fn begin_start(&mut self) -> Result<()> {
        if self.closed {
            return Err(Error::Aborted);
        }
        match self.phase {
            Phase::Idle => {
                self.phase = Phase::Starting;
                Ok(())
            }
            _ => Err(Error::AlreadyStarted),
        }
    }

    /// The driver's answer, for the starter once no start is pending.
    pub(crate) fn take_answer(&mut self) -> Result<()> {
        // The driver, alive or dying, answers every start it took.
        self.answer.take().unwrap_or(Err(Error::DriverGone))
    }

    /// `Starting` or `Failed` back to `Idle`: a failed start undone as a
    /// whole, so that it can be tried again.
    pub(crate) fn undo_start(&mut self) {
        debug_assert!(
            matches!(self.phase, Phase::Starting | Phase::Failed),
            "undo of {:?}",
            self.phase
        );
        debug_assert!(self.exits.is_empty() && self.runs_started == 0);
        self.phase = Phase::Idle;
        self.answer = None;
        self.pid = None;
    }

    /// Sets `closed`. The first close drops the unread output and lifts a
    /// pause, so that a stop completes with nobody reading.
    pub(crate) fn close(&mut self) -> Resume {
        if self.closed {
            return Resume(None);
        }
        self.closed = true;
        let paused = self.buf.discard();
        Resume(self.live().filter(|_| paused))
    }

    /// The process is dropped: closed, as by [`close`](Self::close), but
    /// with readers out their output is kept for them (invariant 7)
    /// instead of dropped.
    pub(crate) fn abandon(&mut self) -> Resume {
        if self.closed || self.readers == 0 {
            return self.close();
        }
        self.closed = true;
        self.kept = true;
        Resume(None)
    }

    /// A reader of the output is handed out.
    pub(crate) fn reader_taken(&mut self) {
        self.readers += 1;
    }

    /// A reader of the output is dropped; the last one of a dropped
    /// process lets its output go, as a close would have.
    pub(crate) fn reader_gone(&mut self) -> Resume {
        self.readers -= 1;
        if self.kept && self.readers == 0 {
            self.kept = false;
            let paused = self.buf.discard();
            return Resume(self.live().filter(|_| paused));
        }
        Resume(None)
    }

    /// Hands out the stdin writer of the current run, once per run;
    /// returns the run. Call after [`Shared::wait_next_run`].
    ///
    /// # Errors
    ///
    /// [`Error::Aborted`] once closed, [`Error::NoStdin`] when the run's
    /// writer was taken.
    pub(crate) fn take_stdin(&mut self) -> Result<usize> {
        if self.closed {
            return Err(Error::Aborted);
        }
        let run = self.exits.len();
        if self.stdin_taken == Some(run) {
            return Err(Error::NoStdin);
        }
        self.stdin_taken = Some(run);
        Ok(run)
    }

    /// Whether reading drained the buffer enough to lift a pause.
    pub(crate) fn take_resume(&mut self) -> Resume {
        let lifted = self.buf.take_resume();
        Resume(self.id().filter(|_| lifted))
    }

    // Transitions of the driver.

    /// The driver takes a start: on a closed handle it is refused
    /// (`Failed`) and nothing is spawned; otherwise the driver spawns,
    /// without the lock, and answers with [`spawned`](Self::spawned).
    pub(crate) fn serve_start(&mut self) -> Serve {
        if self.closed {
            // The close came first: nothing a closed handle asked for
            // starts later.
            self.fail_start(Error::Aborted);
            return Serve::Refused;
        }
        Serve::Spawn
    }

    /// The spawn's outcome: `Starting` to `Running` or `Failed`.
    pub(crate) fn spawned(&mut self, r: Result<(ChildId, Option<u32>)>) -> Answer {
        match r {
            Ok((id, pid)) => {
                debug_assert!(matches!(self.phase, Phase::Starting));
                self.phase = Phase::Running(id);
                // Known before start() returns, as gpud's PID() is.
                self.pid = pid;
                self.answer = Some(Ok(()));
                if self.closed {
                    Answer::StopNow(id)
                } else {
                    Answer::Running
                }
            }
            Err(e) => {
                self.fail_start(e);
                Answer::Refused
            }
        }
    }

    fn fail_start(&mut self, e: Error) {
        debug_assert!(matches!(self.phase, Phase::Starting));
        self.phase = Phase::Failed;
        self.answer = Some(Err(e));
    }

    /// The dying driver answers a start it took and never answered:
    /// `Starting` to `Failed`. Returns whether there was one (and the
    /// driver lets go of it).
    pub(crate) fn start_refused(&mut self) -> bool {
        if !matches!(self.phase, Phase::Starting) {
            return false;
        }
        self.fail_start(Error::DriverGone);
        true
    }

    /// The dying driver, whose reactor killed and reaped the child:
    /// `Running` to `Done`, with no final exit. Returns whether the
    /// process ran (and the driver lets go of it).
    pub(crate) fn driver_gone(&mut self) -> bool {
        let Phase::Running(id) = self.phase else {
            return false;
        };
        self.phase = Phase::Done {
            id,
            driver_gone: true,
        };
        self.pid = None;
        true
    }

    /// One reactor event of the child.
    pub(crate) fn on_event(&mut self, ev: &Event<'_>) -> Reaction {
        let mut r = Reaction::default();
        match ev {
            Event::Started { pid, .. } => {
                self.pid = Some(*pid);
                self.stage_exits.clear();
                self.runs_started += 1;
                debug_assert!(self.runs_started <= self.exits.len() + 1);
            }
            // After close nobody reads: drop output, never pause. After a
            // drop with readers out, they still do.
            Event::Data { stream, bytes, .. } => {
                r.pause = self.reading() && self.buf.push(*stream, bytes)
            }
            // The pipes are read raw; the lines are split in `buffer`.
            Event::Line { .. } => {}
            Event::Exited(e) => {
                // Reaped once the handler returns: the pid is free for the
                // kernel to reuse from then on.
                self.pid = None;
                self.buf.finish_lines(None);
                self.exits.push(*e);
                debug_assert!(self.exits.len() <= self.runs_started);
            }
            Event::RestartFailed { error, .. } => self.restart_error = Some(error.to_string()),
            Event::Done { exit, .. } => {
                // The last exit as final: one that announced a restart a
                // stop or the timeout cancelled says so.
                if let Some(last) = self.exits.last_mut() {
                    *last = *exit;
                }
                if let Phase::Running(id) = self.phase {
                    self.phase = Phase::Done {
                        id,
                        driver_gone: false,
                    };
                }
                r.done = true;
            }
            Event::SignalFailed { error, .. } => self.stop_failed = StopFailure::of(error),
            Event::Closed { stream, .. } => self.buf.finish_lines(Some(*stream)),
            Event::StdinReady { .. } | Event::StdinClosed { .. } => self.stdin_turn += 1,
            Event::StageExited(e) => self.stage_exits.push(*e),
        }
        r
    }

    // What both sides read.

    /// Whether a start began and was not undone: not `Idle`.
    pub(crate) fn started(&self) -> bool {
        !matches!(self.phase, Phase::Idle)
    }

    /// The child of a start the driver answered with a spawn.
    pub(crate) fn id(&self) -> Option<ChildId> {
        match self.phase {
            Phase::Running(id) | Phase::Done { id, .. } => Some(id),
            _ => None,
        }
    }

    /// The child, while it runs (or waits to restart).
    pub(crate) fn live(&self) -> Option<ChildId> {
        match self.phase {
            Phase::Running(id) => Some(id),
            _ => None,
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done { .. })
    }

    pub(crate) fn is_driver_gone(&self) -> bool {
        matches!(
            self.phase,
            Phase::Done {
                driver_gone: true,
                ..
            }
        )
    }

    fn is_starting(&self) -> bool {
        matches!(self.phase, Phase::Starting)
    }

    pub(crate) fn closed(&self) -> bool {
        self.closed
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.pid
    }

    pub(crate) fn exits(&self) -> &[Exit] {
        &self.exits
    }

    pub(crate) fn stage_exits(&self) -> &[StageExit] {
        &self.stage_exits
    }

    /// How a close ends once [`Shared::wait_closed`] returned.
    ///
    /// # Errors
    ///
    /// The stop's [`Error::Signal`] when it reached nothing of the child
    /// and the child is not done: waiting for a reap no signal can bring
    /// would block for ever (the driver still reaps the child whenever it
    /// exits).
    pub(crate) fn close_result(&self) -> Result<()> {
        match self.stop_failed {
            Some(f) if !self.is_done() => Err(f.error()),
            _ => Ok(()),
        }
    }

    pub(crate) fn stdin_turn(&self) -> u64 {
        self.stdin_turn
    }

    /// Whether run `run` of the child (counted from 0) is the current one:
    /// the reactor keys a stream by the child, not by its run.
    pub(crate) fn run_is_current(&self, run: usize) -> bool {
        self.exits.len() == run
    }

    // The output.

    pub(crate) fn pop_line(&mut self, streams: [bool; 2]) -> Option<OutputLine> {
        self.buf.pop_line(streams)
    }

    pub(crate) fn take_bytes(&mut self, stream: Stream, buf: &mut [u8]) -> usize {
        self.buf.take_bytes(stream, buf)
    }

    /// Whether anyone may still read the output: not closed, or dropped
    /// with readers out.
    fn reading(&self) -> bool {
        !self.closed || self.kept
    }

    /// Whether a reader of `streams` has nothing more to wait for: the
    /// output ended (done, closed, or the start failed and was undone).
    fn output_ended(&self) -> bool {
        self.is_done() || !self.reading() || !self.started()
    }
}

impl Shared {
    pub(crate) fn new(cap: usize, max_line: NonZeroUsize) -> Shared {
        Shared {
            state: Mutex::new(State::new(cap, max_line)),
            cv: Condvar::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Wakes every waiter; cheap when there is none (the driver calls this
    /// for every read of output).
    pub(crate) fn notify(&self, st: &State) {
        if st.waiters > 0 {
            self.cv.notify_all();
        }
    }

    // The named waits: each returns the guard once its state came.

    /// Until no start is pending: answered, undone, or none began.
    pub(crate) fn wait_started<'a>(&'a self, st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.wait_until(st, None, |s| !s.is_starting()).0
    }

    /// Until a close may return: the child is done, or a stop could not
    /// reach it.
    pub(crate) fn wait_closed<'a>(&'a self, st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.wait_until(st, None, |s| s.is_done() || s.stop_failed.is_some())
            .0
    }

    /// Until the process is done or not started (a start failing on
    /// another thread ends the wait too), or `deadline` passes; with
    /// whether it came.
    pub(crate) fn wait_final<'a>(
        &'a self,
        st: MutexGuard<'a, State>,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, State>, bool) {
        self.wait_until(st, deadline, |s| s.is_done() || !s.started())
    }

    /// Until the done process is marked so (for tests of the driver).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn wait_done<'a>(&'a self, st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.wait_until(st, None, State::is_done).0
    }

    /// Until exit `n` (counted from 0) came, or the process is done, or
    /// `deadline` passes; with whether it came.
    pub(crate) fn wait_exit<'a>(
        &'a self,
        st: MutexGuard<'a, State>,
        n: usize,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, State>, bool) {
        self.wait_until(st, deadline, |s| s.exits.len() > n || s.is_done())
    }

    /// Until the run after the last exit started (for the first run,
    /// shortly after the start; after an exit, when the restart comes),
    /// or the process is done or closed: the run a stdin writer taken now
    /// feeds.
    pub(crate) fn wait_next_run<'a>(&'a self, st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.wait_until(st, None, |s| {
            s.runs_started > s.exits.len() || s.is_done() || s.closed
        })
        .0
    }

    /// Until the stdin events moved past `turn` (room again, or the
    /// stream closed), or the process is done or closed.
    pub(crate) fn wait_stdin_turn<'a>(
        &'a self,
        st: MutexGuard<'a, State>,
        turn: u64,
    ) -> MutexGuard<'a, State> {
        self.wait_until(st, None, |s| {
            s.stdin_turn != turn || s.closed || s.is_done()
        })
        .0
    }

    /// Until a line of `streams` is buffered or the output ended.
    pub(crate) fn wait_line<'a>(
        &'a self,
        st: MutexGuard<'a, State>,
        streams: [bool; 2],
    ) -> MutexGuard<'a, State> {
        self.wait_until(st, None, |s| s.buf.has_line(streams) || s.output_ended())
            .0
    }

    /// Until bytes of either stream are buffered or the output ended.
    pub(crate) fn wait_any_bytes<'a>(&'a self, st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.wait_until(st, None, |s| {
            s.buf.has_bytes(Stream::Stdout) || s.buf.has_bytes(Stream::Stderr) || s.output_ended()
        })
        .0
    }

    /// Until bytes of `stream` are buffered or the output ended.
    pub(crate) fn wait_bytes<'a>(
        &'a self,
        st: MutexGuard<'a, State>,
        stream: Stream,
    ) -> MutexGuard<'a, State> {
        self.wait_until(st, None, |s| s.buf.has_bytes(stream) || s.output_ended())
            .0
    }

    /// Waits until `ready` holds or `deadline` passes; returns the guard
    /// and whether `ready` holds.
    fn wait_until<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        deadline: Option<Instant>,
        ready: impl Fn(&State) -> bool,
    ) -> (MutexGuard<'a, State>, bool) {
        loop {
            if ready(&st) {
                return (st, true);
            }
            st.waiters += 1;
            st = match deadline {
                None => self.cv.wait(st).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        st.waiters -= 1;
                        return (st, false);
                    }
                    self.cv
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
            st.waiters -= 1;
        }
    }
}
