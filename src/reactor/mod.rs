//! The event loop: one thread, one epoll, every child.
//!
//! Each child contributes a pidfd (readable once it exited) and the
//! procrun ends of its pipes, all registered edge-triggered with one
//! [`mio::Poll`]. One timer wheel holds every kill escalation, timeout,
//! restart delay and drain limit. Output is read into one buffer shared by
//! all children and split into lines in place.

mod event;
mod pipes;
mod runs;

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};

use event::Request;
pub use event::{ChildId, Control, Event, Exit, Stream};

use crate::command::{Command, Input};
use crate::lines::LineReader;
use crate::signal::Signal;
use crate::sys::{self, ChildHandle};
use crate::timer::{Clock, TimerKey, Wheel};
use crate::{Error, Result};

/// The read buffer shared by every pipe: large reads mean few wake-ups.
const READ_BUF: usize = 256 * 1024;
/// A pipe found full is enlarged to this (the kernel may refuse).
const BIG_PIPE: usize = 1024 * 1024;
/// The pipe size Linux gives a new pipe.
const DEFAULT_PIPE: usize = 64 * 1024;
/// A read run on one pipe stops past this much, so one chatty child cannot
/// starve the others; the pipe is then owed a read on the next turn. Owed
/// once however many edges arrive meanwhile, a pipe gets at most two runs
/// per turn (the owed one, and one on a new edge if that drained it).
const READ_BUDGET: usize = 4 * 1024 * 1024;
const WAKER: Token = Token(usize::MAX);
/// Set in the token of a pidfd, whose low bits are the child's index: a
/// pidfd needs no entry in `sources`. Pipe tokens are indexes there.
const PIDFD: usize = 1 << (usize::BITS - 2);
/// Without pidfds, exits are looked for this often right after a spawn or
/// an exit, backing off to the max while children stay up.
const EXIT_POLL_MIN_MS: u64 = 1;
const EXIT_POLL_MAX_MS: u64 = 100;

/// Wakes a [`Reactor`] blocked in [`poll`](Reactor::poll) from another
/// thread.
#[derive(Clone, Debug)]
pub struct Waker(Arc<mio::Waker>);

impl Waker {
    /// Makes the reactor's current or next `poll` return.
    ///
    /// # Errors
    ///
    /// The OS error of the eventfd write, which does not happen in practice.
    pub fn wake(&self) -> io::Result<()> {
        self.0.wake()
    }
}

/// Supervises any number of children from the calling thread.
///
/// See the [crate documentation](crate) for a guide.
pub struct Reactor {
    poll: Poll,
    events: Events,
    waker: Waker,
    clock: Clock,
    wheel: Wheel<Timer>,
    children: Vec<Slot>,
    free_children: Vec<u32>,
    sources: Vec<Option<Source>>,
    free_sources: Vec<usize>,
    buf: Box<[u8]>,
    /// `/dev/null`, dup'ed into children for null stdio.
    null: OwnedFd,
    /// Events raised outside `poll` (a spawn's `Started`), delivered first.
    queued: VecDeque<Queued>,
    /// Work owed without a new epoll edge: a pipe cut off by the read
    /// budget, a resumed pipe, an exit held back by a pause.
    ready: Vec<Ready>,
    requests: Vec<Request>,
    tokens: Vec<Token>,
    live: usize,
    /// Whether children get pidfds (false once the kernel said ENOSYS, or
    /// when `PROCRUN_NO_PIDFD=1`).
    use_pidfd: bool,
    /// Live runs without a pidfd, found exited by [`Timer::ExitPoll`].
    polled: usize,
    exit_poll: Option<TimerKey>,
    exit_poll_ms: u64,
    wakeups: u64,
}

#[derive(Clone, Copy, Debug)]
enum Timer {
    Kill(ChildId),
    Timeout(ChildId),
    /// Look for exits of runs without a pidfd.
    ExitPoll,
    Restart(ChildId),
    Drain(usize),
}

#[derive(Debug)]
enum Queued {
    Started {
        id: ChildId,
        pid: u32,
        restarts: u32,
    },
    SignalFailed {
        id: ChildId,
        error: Error,
    },
}

#[derive(Clone, Copy, Debug)]
enum Ready {
    Read(usize),
    FinishExit(u32),
    MaybeDone(u32),
}

struct Slot {
    generation: u32,
    child: Option<Child>,
}

/// What an idle child costs procrun: this, two [`Source`]s for its pipes,
/// and, only when it may restart, a copy of its [`Command`].
struct Child {
    /// The command, kept only while a restart may need it.
    respawn: Option<Arc<Command>>,
    /// What stopping and reaping need of the command.
    stop: StopSpec,
    run: Option<Run>,
    /// Consecutive restarts (reset by `reset_after`).
    restarts: u32,
    /// Why a stop is under way, if one is.
    stopping: Option<StopCause>,
    kill_timer: Option<TimerKey>,
    timeout_timer: Option<TimerKey>,
    restart_timer: Option<TimerKey>,
    paused: bool,
    /// Output pipes of the current (or last) run.
    pipes: [Option<usize>; 2],
    /// Output pipes open across all runs, lingering ones included.
    open_pipes: u32,
    /// A reaped run whose exit event waits for its output to be read
    /// (boxed: it is there only for an instant, the slot all the time).
    pending_exit: Option<Box<Exit>>,
    /// No run is alive and none will start again.
    finished: bool,
}

/// The parts of a [`Command`] used after its run started.
#[derive(Clone, Copy, Debug)]
struct StopSpec {
    detached: bool,
    signal: Signal,
    grace: Duration,
    drain: Duration,
}

impl StopSpec {
    fn of(cmd: &Command) -> StopSpec {
        StopSpec {
            detached: cmd.detached,
            signal: cmd.stop_signal,
            grace: cmd.grace,
            drain: cmd.drain,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StopCause {
    Stop,
    Timeout,
}

/// A live run; watched through its pidfd (token `PIDFD | index`) when the
/// handle has one, else by polling.
struct Run {
    handle: ChildHandle,
    started: Instant,
}

enum Source {
    Out(OutPipe),
    In(InPipe),
}

struct OutPipe {
    fd: OwnedFd,
    child: u32,
    stream: Stream,
    reader: LineReader,
    capacity: usize,
    grow_tried: bool,
    /// A `Ready::Read` for this pipe is queued: edges until it runs need
    /// no read of their own, and no second entry is queued.
    owed: bool,
    drain_timer: Option<TimerKey>,
}

struct InPipe {
    fd: OwnedFd,
    data: Arc<[u8]>,
    pos: usize,
}

/// The event handler and the requests it made, threaded through one `poll`.
struct Ctx<'h> {
    handler: &'h mut dyn FnMut(&mut Control<'_>, Event<'_>),
    requests: Vec<Request>,
}

impl Ctx<'_> {
    fn emit(&mut self, ev: Event<'_>) {
        let mut ctl = Control {
            requests: &mut self.requests,
        };
        (self.handler)(&mut ctl, ev);
    }
}

impl Reactor {
    /// A reactor with no children.
    ///
    /// # Errors
    ///
    /// The OS error if the epoll instance or the waker cannot be created,
    /// or `/dev/null` cannot be opened.
    pub fn new() -> Result<Reactor> {
        let poll = Poll::new()?;
        let waker = Waker(Arc::new(mio::Waker::new(poll.registry(), WAKER)?));
        Ok(Reactor {
            poll,
            events: Events::with_capacity(1024),
            waker,
            clock: Clock::new(),
            wheel: Wheel::new(),
            children: Vec::new(),
            free_children: Vec::new(),
            sources: Vec::new(),
            free_sources: Vec::new(),
            buf: vec![0; READ_BUF].into_boxed_slice(),
            null: sys::dev_null()?,
            queued: VecDeque::new(),
            ready: Vec::new(),
            requests: Vec::new(),
            tokens: Vec::new(),
            live: 0,
            use_pidfd: sys::pidfd_allowed(),
            polled: 0,
            exit_poll: None,
            exit_poll_ms: EXIT_POLL_MIN_MS,
            wakeups: 0,
        })
    }

    /// A handle that wakes this reactor from another thread.
    pub fn waker(&self) -> Waker {
        self.waker.clone()
    }

    /// How many children are supervised (until their
    /// [`Done`](Event::Done) event).
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether no child is supervised.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Starts a child; its [`Started`](Event::Started) event comes with the
    /// next [`poll`](Reactor::poll).
    ///
    /// # Errors
    ///
    /// Everything [`Command::validate`] reports, [`Error::ProgramNotFound`],
    /// [`Error::Spawn`], or the OS error of a pipe or
    /// the epoll registration. Nothing is left running on error.
    pub fn spawn(&mut self, cmd: &Command) -> Result<ChildId> {
        cmd.validate()?;
        let index = match self.free_children.pop() {
            Some(i) => i,
            None => {
                self.children.push(Slot {
                    generation: 0,
                    child: None,
                });
                (self.children.len() - 1) as u32
            }
        };
        let slot = &mut self.children[index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        let id = ChildId {
            index,
            generation: slot.generation,
        };
        slot.child = Some(Child {
            // Sharing it would need the caller's `Arc`; copying it for a
            // child that never restarts would cost every idle child ~300
            // bytes plus the command's strings.
            respawn: cmd.restart.is_some().then(|| Arc::new(cmd.clone())),
            stop: StopSpec::of(cmd),
            run: None,
            restarts: 0,
            stopping: None,
            kill_timer: None,
            timeout_timer: None,
            restart_timer: None,
            paused: false,
            pipes: [None, None],
            open_pipes: 0,
            pending_exit: None,
            finished: false,
        });
        match self.start_run(index, cmd) {
            Ok(pid) => {
                self.live += 1;
                if let Some(t) = cmd.timeout {
                    let key = self.timer_in(t, Timer::Timeout(id));
                    self.child_mut(index).timeout_timer = key;
                }
                self.queued.push_back(Queued::Started {
                    id,
                    pid,
                    restarts: 0,
                });
                Ok(id)
            }
            Err(e) => {
                self.children[index as usize].child = None;
                self.free_children.push(index);
                Err(e)
            }
        }
    }

    /// The pid of the child's current run, if one is alive.
    pub fn pid(&self, id: ChildId) -> Option<u32> {
        self.child(id)?.run.as_ref().map(|r| r.handle.pid())
    }

    /// How long another event loop that waits on this reactor's fd (see
    /// its [`AsFd`] impl) may sleep before calling [`poll`](Reactor::poll):
    /// zero when work is owed (queued events, a pipe cut off by the read
    /// budget), the time to the next timer, or `None` for no limit.
    pub fn next_timeout(&self) -> Option<Duration> {
        if !self.queued.is_empty() || !self.ready.is_empty() {
            return Some(Duration::ZERO);
        }
        let tick = self.wheel.next_deadline()?;
        Some(
            self.clock
                .instant(tick)
                .saturating_duration_since(Instant::now()),
        )
    }

    /// How many times the reactor has returned from `epoll_wait`: with no
    /// timer due, an idle reactor adds none.
    pub fn wakeups(&self) -> u64 {
        self.wakeups
    }

    /// Whether children are watched through pidfds (Linux 5.3 and later),
    /// rather than by polling `waitid` on a backing-off timer.
    pub fn uses_pidfd(&self) -> bool {
        self.use_pidfd
    }

    /// Whether the handle names a child still supervised.
    pub fn contains(&self, id: ChildId) -> bool {
        self.child(id).is_some()
    }

    /// Stops the child: its stop signal (default `SIGTERM`) to its process
    /// group (to the child alone when detached), then `SIGCONT` so a
    /// stopped child sees it, then `SIGKILL` once the grace period ends. A
    /// pending restart is cancelled. The stop is complete when the child is
    /// reaped (its [`Exited`](Event::Exited) event). Stopping a child that
    /// already exited, or stopping twice, does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownChild`] for a stale handle.
    pub fn stop(&mut self, id: ChildId) -> Result<()> {
        if self.child(id).is_none() {
            return Err(Error::UnknownChild);
        }
        self.begin_stop(id.index, StopCause::Stop);
        Ok(())
    }

    /// Stops reading the child's output (see [`Control::pause`]).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownChild`] for a stale handle.
    pub fn pause(&mut self, id: ChildId) -> Result<()> {
        let c = self.child_by_id_mut(id).ok_or(Error::UnknownChild)?;
        c.paused = true;
        Ok(())
    }

    /// Reads the child's output again.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownChild`] for a stale handle.
    pub fn resume(&mut self, id: ChildId) -> Result<()> {
        if self.child(id).is_none() {
            return Err(Error::UnknownChild);
        }
        self.do_resume(id.index);
        Ok(())
    }

    /// Sends `sig` to the child's current run as a stop would: to its
    /// process group and to the child itself if it left the group, or to
    /// the child alone when detached. Nothing else changes: no stop starts,
    /// so [`Exit::was_stopped`] stays false and the restart policy decides
    /// what follows the run's end.
    ///
    /// A child with no live run (it just exited and its
    /// [`Exited`](Event::Exited) event is on its way, or it waits for a
    /// restart) is sent nothing and `Ok(())` is returned: a signal can
    /// always lose the race with an exit, so success never meant the child
    /// acted on it, and the events tell what became of the child.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownChild`] for a stale handle; [`Error::Signal`] when
    /// the signal reached nothing of the run (it made itself another user).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procrun::{Command, Event, Reactor, Signal};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "trap 'echo got USR1; exit 0' USR1; echo ready; sleep 60 & wait"])
    ///     .timeout(Duration::from_secs(60));
    /// let id = reactor.spawn(&cmd)?;
    /// let (mut lines, mut signalled) = (Vec::new(), false);
    /// while !reactor.is_empty() {
    ///     reactor.poll(None, |_, event| {
    ///         if let Event::Line { line, .. } = event {
    ///             lines.push(String::from_utf8_lossy(line).into_owned());
    ///         }
    ///     })?;
    ///     if lines == ["ready"] && !signalled {
    ///         reactor.signal(id, Signal::USR1)?;
    ///         signalled = true;
    ///     }
    /// }
    /// assert_eq!(lines, ["ready", "got USR1"]);
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn signal(&mut self, id: ChildId, sig: Signal) -> Result<()> {
        if self.child(id).is_none() {
            return Err(Error::UnknownChild);
        }
        self.signal_run(id.index, sig)
    }

    /// Sends `SIGKILL` to the child's current run, as
    /// [`signal`](Reactor::signal) does, at once and without a grace.
    ///
    /// Unlike [`stop`](Reactor::stop), this ends the run, not the child:
    /// the exit is not [`was_stopped`](Exit::was_stopped), and a child
    /// restarted on error is restarted (a kill is a failure, as one from
    /// outside would be). To end a child for good without waiting for its
    /// grace, [`stop`](Reactor::stop) it and then kill it.
    ///
    /// # Errors
    ///
    /// As [`signal`](Reactor::signal).
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Command, Event, Reactor, Signal};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let mut cmd = Command::new("sleep");
    /// cmd.arg("60");
    /// let id = reactor.spawn(&cmd)?;
    /// reactor.kill(id)?;
    /// let mut exit = None;
    /// while !reactor.is_empty() {
    ///     reactor.poll(None, |_, event| {
    ///         if let Event::Exited(e) = event {
    ///             exit = Some(e);
    ///         }
    ///     })?;
    /// }
    /// let exit = exit.unwrap();
    /// assert_eq!(exit.signal(), Some(Signal::KILL));
    /// assert!(!exit.was_stopped());
    /// assert!(matches!(reactor.kill(id), Err(procrun::Error::UnknownChild)));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn kill(&mut self, id: ChildId) -> Result<()> {
        self.signal(id, Signal::KILL)
    }

    /// Waits for events (at most `timeout`, or until something happens when
    /// `None`) and hands each to `handler`, then returns.
    ///
    /// With no timer due and nothing to do, this blocks in `epoll_wait`
    /// with no timeout at all: an idle reactor does not wake up.
    ///
    /// # Errors
    ///
    /// The OS error of `epoll_wait` (an interrupted wait is not an error:
    /// it returns `Ok` with no events).
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Command, Event, Reactor};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let mut cmd = Command::new("echo");
    /// cmd.arg("hello");
    /// reactor.spawn(&cmd)?;
    /// let mut lines = Vec::new();
    /// while !reactor.is_empty() {
    ///     reactor.poll(None, |_ctl, event| {
    ///         if let Event::Line { line, .. } = event {
    ///             lines.push(line.to_vec());
    ///         }
    ///     })?;
    /// }
    /// assert_eq!(lines, [b"hello"]);
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn poll<F>(&mut self, timeout: Option<Duration>, mut handler: F) -> io::Result<()>
    where
        F: FnMut(&mut Control<'_>, Event<'_>),
    {
        let mut ctx = Ctx {
            handler: &mut handler,
            requests: std::mem::take(&mut self.requests),
        };
        let r = self.poll_inner(timeout, &mut ctx);
        ctx.requests.clear();
        self.requests = ctx.requests;
        r
    }

    fn poll_inner(&mut self, timeout: Option<Duration>, ctx: &mut Ctx<'_>) -> io::Result<()> {
        let owed = self.deliver_owed(ctx);
        let mut wait = if owed { Some(Duration::ZERO) } else { timeout };
        if let Some(tick) = self.wheel.next_deadline() {
            let until = self
                .clock
                .instant(tick)
                .saturating_duration_since(Instant::now());
            wait = Some(wait.map_or(until, |w| w.min(until)));
        }
        // mio rounds a sub-millisecond timeout up, so a timer is never
        // polled for before its tick and the loop never spins.
        let r = self.poll.poll(&mut self.events, wait);
        self.wakeups += 1;
        match r {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        self.tokens.clear();
        self.tokens.extend(self.events.iter().map(|e| e.token()));
        for i in 0..self.tokens.len() {
            let token = self.tokens[i];
            if token != WAKER {
                self.dispatch(token.0, ctx);
            }
        }
        self.fire_timers(ctx);
        // Work raised while dispatching (a budget cut, a resume) is done on
        // the next call, with a zero wait.
        Ok(())
    }

    /// Delivers queued events and does owed work; true if there was any.
    fn deliver_owed(&mut self, ctx: &mut Ctx<'_>) -> bool {
        let mut any = false;
        while let Some(q) = self.queued.pop_front() {
            any = true;
            match q {
                Queued::Started { id, pid, restarts } => {
                    ctx.emit(Event::Started { id, pid, restarts })
                }
                Queued::SignalFailed { id, error } => ctx.emit(Event::SignalFailed { id, error }),
            }
            self.apply_requests(ctx);
        }
        let ready = std::mem::take(&mut self.ready);
        for r in &ready {
            any = true;
            match *r {
                Ready::Read(token) => {
                    if let Some(Some(Source::Out(p))) = self.sources.get_mut(token) {
                        p.owed = false;
                    }
                    self.read_pipe(token, READ_BUDGET, ctx);
                }
                Ready::FinishExit(index) => self.finish_exit(index, ctx),
                Ready::MaybeDone(index) => self.maybe_done(index, ctx),
            }
        }
        let mut ready = ready;
        ready.clear();
        if self.ready.is_empty() {
            // Keep the allocation.
            self.ready = ready;
        }
        any
    }

    fn dispatch(&mut self, token: usize, ctx: &mut Ctx<'_>) {
        if token & PIDFD != 0 {
            // A reaped run's pidfd is closed, which takes it out of epoll,
            // and no slot is reused within one turn of the loop: a live
            // run with a pidfd at this index is the one that woke us (and
            // a wake-up that finds it running is tolerated anyway).
            let index = (token & !PIDFD) as u32;
            let watched = self
                .children
                .get(index as usize)
                .and_then(|s| s.child.as_ref())
                .and_then(|c| c.run.as_ref())
                .is_some_and(|r| r.handle.pidfd().is_some());
            if watched {
                self.check_exit(index, ctx);
            }
            return;
        }
        match self.sources.get(token).and_then(Option::as_ref) {
            // An owed pipe is read at the start of the next turn, all of it
            // up to the budget: a read now would double its share.
            Some(Source::Out(p)) if p.owed => {}
            Some(Source::Out(_)) => {
                self.read_pipe(token, READ_BUDGET, ctx);
            }
            Some(Source::In(_)) => self.write_stdin(token),
            None => {}
        }
    }

    fn fire_timers(&mut self, ctx: &mut Ctx<'_>) {
        let now = self.clock.now_tick(Instant::now());
        while let Some((_, timer)) = self.wheel.poll(now) {
            match timer {
                Timer::Kill(id) => {
                    let Some(c) = self.child_by_id_mut(id) else {
                        continue;
                    };
                    c.kill_timer = None;
                    self.signal_or_report(id.index, Signal::KILL);
                }
                Timer::Timeout(id) => {
                    let Some(c) = self.child_by_id_mut(id) else {
                        continue;
                    };
                    c.timeout_timer = None;
                    self.begin_stop(id.index, StopCause::Timeout);
                }
                Timer::Restart(id) => {
                    let Some(c) = self.child_by_id_mut(id) else {
                        continue;
                    };
                    c.restart_timer = None;
                    let cmd = c
                        .respawn
                        .clone()
                        .expect("a restarting child keeps its command");
                    self.restart(id, &cmd, ctx);
                }
                Timer::ExitPoll => {
                    self.exit_poll = None;
                    self.poll_exits(ctx);
                }
                Timer::Drain(token) => {
                    if let Some(Some(Source::Out(p))) = self.sources.get_mut(token) {
                        p.drain_timer = None;
                        self.close_pipe(token, ctx);
                    }
                }
            }
            self.apply_requests(ctx);
        }
    }

    fn apply_requests(&mut self, ctx: &mut Ctx<'_>) {
        while let Some(r) = ctx.requests.pop() {
            match r {
                Request::Pause(id) => {
                    if let Some(c) = self.child_by_id_mut(id) {
                        c.paused = true;
                    }
                }
                Request::Resume(id) => {
                    if self.child(id).is_some() {
                        self.do_resume(id.index);
                    }
                }
                Request::Stop(id) => {
                    if self.child(id).is_some() {
                        self.begin_stop(id.index, StopCause::Stop);
                    }
                }
                Request::Signal(id, sig) => {
                    if self.child(id).is_some() {
                        self.signal_or_report(id.index, sig);
                    }
                }
            }
        }
    }

    /// Arms a timer `d` from now; `None` when `d` is so large that no
    /// `Instant` holds the deadline: a caller asking for that much time
    /// means "never", so no timer is needed.
    fn timer_in(&mut self, d: Duration, t: Timer) -> Option<TimerKey> {
        let at = Instant::now().checked_add(d)?;
        Some(self.wheel.insert(self.clock.deadline_tick(at), t))
    }

    fn id_of(&self, index: u32) -> ChildId {
        ChildId {
            index,
            generation: self.children[index as usize].generation,
        }
    }

    fn child(&self, id: ChildId) -> Option<&Child> {
        let slot = self.children.get(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.child.as_ref()
    }

    fn child_by_id_mut(&mut self, id: ChildId) -> Option<&mut Child> {
        let slot = self.children.get_mut(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.child.as_mut()
    }

    fn child_mut(&mut self, index: u32) -> &mut Child {
        self.children[index as usize]
            .child
            .as_mut()
            .expect("internal index of a live child")
    }
}

impl AsFd for Reactor {
    /// The epoll fd: readable when a child's fd has news, so another event
    /// loop can wait on it. Timers and owed work are not on it: such a loop
    /// waits on this fd for at most [`Reactor::next_timeout`], then calls
    /// [`poll`](Reactor::poll) with a zero timeout.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.poll.registry().as_fd()
    }
}

impl Drop for Reactor {
    /// Kills every live child (its group unless detached, and the child
    /// itself if it left the group) with `SIGKILL` and reaps it, so
    /// dropping a reactor leaks neither processes nor zombies. A child
    /// procrun may not signal (it made itself another user) is not waited
    /// for: the drop never blocks on it.
    fn drop(&mut self) {
        for index in 0..self.children.len() as u32 {
            if self.children[index as usize]
                .child
                .as_ref()
                .is_some_and(|c| c.run.is_some())
            {
                let killed = self.signal_run(index, Signal::KILL).is_ok();
                let c = self.child_mut(index);
                if let Some(run) = c.run.take() {
                    // SIGKILL reached the child itself, so the reap comes.
                    // A child procrun may not signal could run for ever:
                    // it is left to exit on its own (a zombie of this
                    // process until then) rather than block the drop.
                    let _ = if killed {
                        run.handle.reap_blocking()
                    } else {
                        run.handle.try_reap(false)
                    };
                }
            }
        }
    }
}

impl std::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("children", &self.live)
            .field("timers", &self.wheel.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
