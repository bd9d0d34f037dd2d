//! The event loop: one thread, one epoll, every child.
//!
//! Each child contributes a pidfd (readable once it exited) and the
//! procrun ends of its pipes, all registered edge-triggered with one
//! [`mio::Poll`]. One timer wheel holds every kill escalation, timeout,
//! restart delay and drain limit. Output is read into one buffer shared by
//! all children and split into lines in place.
//!
//! This file holds the reactor as a whole (making one, spawning, polling)
//! and the loop; the rest is in the file that owns it: `control` (what a
//! caller can do to one child), `children` (the slab and a child's
//! lifecycle), `runs` (starting, reaping, restarting and stopping runs),
//! `pipes` (the pipe slab and reading), `stdin` (feeding stdin),
//! `restart` (what the restart policy makes of a run's end),
//! `cgroups` (contained runs' cgroups), `settle` (the end of a stopped
//! run's group), `timers` (the wheel's timers),
//! `event` (what the caller is told, and its answers), `spawns` (children
//! a handler starts, taken in after its event), `shutdown` (the children
//! listed, stopped all at once, and a graceful shutdown), `stages` (the
//! stages of a pipeline's run after its first).

mod cgroups;
mod children;
mod control;
mod event;
mod pipes;
mod restart;
mod runs;
mod settle;
mod shutdown;
mod spawns;
mod stages;
mod stdin;
mod timers;
mod turn;

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};

use cgroups::Cgroups;
use children::{new_reactor, Children};
use event::Request;
pub use event::{Control, Event, Waker};
#[cfg(feature = "tokio")]
pub(crate) use pipes::line;
use pipes::Pipes;
#[cfg(feature = "tokio")]
pub(crate) use pipes::ReadNow;
use runs::ExitPoll;
use settle::Settle;
use spawns::Spawns;
use stages::Stages;
use timers::Timer;
#[cfg(feature = "tokio")]
pub(crate) use turn::read_lines_into;
pub(crate) use turn::Handler;
use turn::{Ctx, OwedEvent, OwedWork};

use crate::child::ChildId;
use crate::command::Command;
use crate::error::Result;
use crate::exit::Exit;
use crate::pipeline::Pipeline;
use crate::spawn::{SpawnFds, Spec};
use crate::sys;
use crate::timer::{Clock, Wheel};

/// The read buffer shared by every pipe: large reads mean few wake-ups.
const READ_BUF: usize = 256 * 1024;
/// A read run on one pipe stops past this much, so one chatty child cannot
/// starve the others; the pipe is then owed a read on the next turn. Owed
/// once however many edges arrive meanwhile, a pipe gets at most two runs
/// per turn (the owed one, and one on a new edge if that drained it).
const READ_BUDGET: usize = 4 * 1024 * 1024;
const WAKER: Token = Token(usize::MAX);
/// Events taken from epoll per wait.
const EVENTS: usize = 1024;

/// Supervises any number of children from the calling thread.
///
/// See the [crate documentation](crate) for a guide.
///
/// # Examples
///
/// Two children on one thread, each event tagged with its child:
///
/// ```
/// use std::collections::HashMap;
/// use procrun::{Command, Event, Reactor};
///
/// let mut reactor = Reactor::new()?;
/// let mut ok = Command::new("sh");
/// ok.args(["-c", "exit 0"]);
/// let mut failing = Command::new("sh");
/// failing.args(["-c", "exit 7"]);
/// let a = reactor.spawn(&ok)?;
/// let b = reactor.spawn(&failing)?;
/// assert_eq!(reactor.len(), 2);
///
/// let mut codes = HashMap::new();
/// while !reactor.is_empty() {
///     reactor.poll(None, |_ctl, event| {
///         if let Event::Exited(exit) = event {
///             codes.insert(exit.id(), exit.code());
///         }
///     })?;
/// }
/// assert_eq!(codes[&a], Some(0));
/// assert_eq!(codes[&b], Some(7));
/// # Ok::<(), procrun::Error>(())
/// ```
///
/// # One reactor per thread
///
/// A reactor is `Send`: make it on one thread and move it to another
/// (spawning and polling take `&mut self`, so one thread drives it at a
/// time). To use more than one
/// core, run one reactor per thread, each spawning and polling its own
/// children: they share nothing but the process (its fd table and limits),
/// each sees the events of its own children only, and none reaps another's
/// (each waits on its own pidfds). A [`ChildId`] belongs to the reactor that
/// made it and carries its identity: given to another reactor, it is
/// [`Error::UnknownChild`](crate::error::Error::UnknownChild). The handle
/// API runs this way on a pool of drivers ([`set_drivers`](crate::set_drivers)).
///
/// ```
/// use std::thread;
/// use procrun::{Command, Event, Reactor};
///
/// let workers: Vec<_> = (0..2)
///     .map(|n| {
///         thread::spawn(move || {
///             let mut reactor = Reactor::new()?;
///             let mut cmd = Command::new("echo");
///             cmd.arg(format!("worker {n}"));
///             reactor.spawn(&cmd)?;
///             let mut lines = Vec::new();
///             while !reactor.is_empty() {
///                 reactor.poll(None, |_, ev| {
///                     if let Event::Line { line, .. } = ev {
///                         lines.push(String::from_utf8_lossy(line).into_owned());
///                     }
///                 })?;
///             }
///             Ok::<_, procrun::Error>(lines)
///         })
///     })
///     .collect();
/// for (n, w) in workers.into_iter().enumerate() {
///     assert_eq!(w.join().unwrap()?, [format!("worker {n}")]);
/// }
/// # Ok::<(), procrun::Error>(())
/// ```
pub struct Reactor {
    poll: Poll,
    events: Events,
    waker: Waker,
    clock: Clock,
    wheel: Wheel<Timer>,
    children: Children,
    pipes: Pipes,
    /// The cgroups of contained runs, until each is empty and removed.
    cgroups: Cgroups,
    buf: Box<[u8]>,
    /// What one pipe may read in a turn ([`READ_BUDGET`] unless a layer
    /// above says otherwise: [`Reactor::set_read_budget`]).
    read_budget: usize,
    /// What all pipes together may read in a turn (unbounded unless a
    /// layer above says otherwise: [`Reactor::set_turn_budget`]), and
    /// what is left of it in this turn.
    turn_budget: usize,
    turn_left: usize,
    /// `/dev/null`, dup'ed into children for null stdio, and the lane
    /// children take their fds through; shared with the handlers of a
    /// turn, which may spawn.
    spawn_fds: Arc<SpawnFds>,
    /// The ids this reactor hands out and the children handlers spawned,
    /// lent to each turn (a stand-in is here meanwhile).
    spawns: Spawns,
    /// Events raised outside `poll` (a spawn's `Started`, a signal that
    /// reached nothing), delivered first.
    owed_events: VecDeque<OwedEvent>,
    /// Work owed without a new epoll edge: a pipe cut off by the read
    /// budget, a resumed pipe, an exit held back by a pause.
    owed_work: Vec<OwedWork>,
    requests: Vec<Request>,
    tokens: Vec<Token>,
    /// The last wait filled the events buffer, so epoll may hold more
    /// ready fds. epoll does not raise a new edge for them on its own fd,
    /// so a host loop waiting on that fd must be told to come back.
    more_ready: bool,
    /// Whether children get pidfds (false once the kernel said ENOSYS, or
    /// when `PROCRUN_NO_PIDFD=1`).
    use_pidfd: bool,
    /// The spec last kept for a child's restarts, so children spawned from
    /// the same command share one copy (a pool of workers keeps one spec,
    /// not one per worker). Weak: it must not keep the command's stdin
    /// bytes or output file alive once no child needs them.
    last_kept: Weak<Spec>,
    exit_poll: ExitPoll,
    /// Groups of stopped runs whose leaders were reaped, until they are
    /// empty.
    settle: Settle,
    /// The last exit of each child whose last run was reaped, until it
    /// restarts or is Done: its Done gives it back as final. Here rather
    /// than in the child's slot, which every idle child pays for; the box
    /// is the one the exit waited in.
    last_exits: HashMap<u32, Box<Exit>>,
    /// The stages after the first of pipeline runs alive.
    stages: Stages,
    wakeups: u64,
}

// One reactor per thread is a supported shape (see `Reactor`): a field
// that is not `Send` must fail the build, not a user's.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<Reactor>();
};

impl Reactor {
    /// A reactor with no children.
    ///
    /// # Errors
    ///
    /// The OS error if the epoll instance or the waker cannot be created,
    /// or `/dev/null` cannot be opened.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// assert!(reactor.is_empty());
    /// // Nothing to wait for: another loop may sleep on its fd for ever.
    /// assert_eq!(reactor.next_timeout(), None);
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn new() -> Result<Reactor> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let identity = new_reactor();
        Ok(Reactor {
            poll,
            events: Events::with_capacity(EVENTS),
            waker,
            clock: Clock::new(),
            wheel: Wheel::new(),
            children: Children::new(identity),
            spawns: Spawns::new(identity),
            pipes: Pipes::default(),
            cgroups: Cgroups::default(),
            buf: vec![0; READ_BUF].into_boxed_slice(),
            read_budget: READ_BUDGET,
            turn_budget: usize::MAX,
            turn_left: usize::MAX,
            spawn_fds: Arc::new(SpawnFds::new()?),
            owed_events: VecDeque::new(),
            owed_work: Vec::new(),
            requests: Vec::new(),
            tokens: Vec::new(),
            more_ready: false,
            use_pidfd: sys::pidfd_allowed(),
            last_kept: Weak::new(),
            exit_poll: ExitPoll::default(),
            settle: Settle::default(),
            last_exits: HashMap::new(),
            stages: Stages::default(),
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
        self.children.len()
    }

    /// Whether no child is supervised.
    pub fn is_empty(&self) -> bool {
        self.children.len() == 0
    }

    /// Starts a child; its [`Started`](Event::Started) event comes with the
    /// next [`poll`](Reactor::poll).
    ///
    /// # Errors
    ///
    /// Everything [`Command::validate`] reports, [`Error::ProgramNotFound`](crate::error::Error::ProgramNotFound),
    /// [`Error::Spawn`](crate::error::Error::Spawn), or the OS error of a pipe or
    /// the epoll registration. Nothing is left running on error.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Command, Error, Event, Reactor};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let id = reactor.spawn(&Command::new("true"))?;
    /// assert!(reactor.contains(id));
    /// assert!(reactor.pid(id).is_some());
    ///
    /// let mut started = false;
    /// while reactor.contains(id) {
    ///     reactor.poll(None, |_, event| {
    ///         if let Event::Started { id: started_id, .. } = event {
    ///             started = started_id == id;
    ///         }
    ///     })?;
    /// }
    /// assert!(started);
    ///
    /// let missing = reactor.spawn(&Command::new("no-such-program-anywhere"));
    /// assert!(matches!(missing, Err(Error::ProgramNotFound { .. })));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn spawn(&mut self, cmd: &Command) -> Result<ChildId> {
        self.add_child(&cmd.prepare()?, None)
    }

    /// Starts a [`Pipeline`] as one child: every stage at once, each
    /// one's stdout (or stderr) piped to the next one's stdin. Its events
    /// are one child's (see [`Pipeline`] for what they say of the
    /// stages), its [`Started`](Event::Started) pid the first stage's;
    /// a stop, signal or kill reaches every stage.
    ///
    /// # Errors
    ///
    /// What [`Pipeline::validate`] reports, and what
    /// [`spawn`](Self::spawn) reports for any stage. Nothing is left
    /// running on error: the stages started before the one that failed
    /// are killed and reaped.
    ///
    /// # Examples
    ///
    /// Bytes through three stages, none of them read by procrun on the
    /// way:
    ///
    /// ```
    /// use procrun::{Command, Event, Output, Pipeline, Reactor};
    ///
    /// let mut first = Command::new("head");
    /// first.args(["-c", "100000", "/dev/zero"]);
    /// let mut count = Command::new("wc");
    /// count.arg("-c").stdout(Output::Raw);
    /// let mut p = Pipeline::new(first);
    /// p.pipe(Command::new("cat")).pipe(count);
    ///
    /// let mut reactor = Reactor::new()?;
    /// reactor.spawn_pipeline(&p)?;
    /// let (mut out, mut stages) = (Vec::new(), 0);
    /// while !reactor.is_empty() {
    ///     reactor.poll(None, |_, event| match event {
    ///         Event::Data { bytes, .. } => out.extend_from_slice(bytes),
    ///         Event::StageExited(s) => stages += usize::from(s.success()),
    ///         _ => {}
    ///     })?;
    /// }
    /// assert_eq!(String::from_utf8_lossy(&out).trim(), "100000");
    /// assert_eq!(stages, 3);
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn spawn_pipeline(&mut self, pipeline: &Pipeline) -> Result<ChildId> {
        self.add_child(&pipeline.prepare()?, None)
    }

    /// How long another event loop that waits on this reactor's fd (see
    /// its [`AsFd`] impl) may sleep before calling [`poll`](Reactor::poll):
    /// zero when work is owed (queued events, a pipe cut off by the read
    /// budget, more ready fds than the last poll could take), the time to
    /// the next timer, or `None` for no limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procrun::{Command, Reactor};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let mut cmd = Command::new("sleep");
    /// cmd.arg("30").timeout(Duration::from_secs(60));
    /// reactor.spawn(&cmd)?;
    /// // The `Started` event is owed: poll at once.
    /// assert_eq!(reactor.next_timeout(), Some(Duration::ZERO));
    ///
    /// reactor.poll(Some(Duration::ZERO), |_, _| {})?;
    /// let wait = reactor.next_timeout().expect("the timeout is a timer");
    /// // Then nothing is due before the timeout, about a minute away (the
    /// // wheel rounds a deadline up to its next millisecond), unless exits
    /// // are found by polling for want of pidfds.
    /// if reactor.uses_pidfd() {
    ///     assert!(wait > Duration::from_secs(50) && wait < Duration::from_secs(61));
    /// }
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn next_timeout(&self) -> Option<Duration> {
        if self.more_ready || !self.owed_events.is_empty() || !self.owed_work.is_empty() {
            return Some(Duration::ZERO);
        }
        let tick = self.wheel.next_deadline()?;
        Some(
            self.clock
                .instant(tick)
                .saturating_duration_since(Instant::now()),
        )
    }

    /// Bounds what one pipe may read in a turn (at least a byte; each
    /// read asks for no more than is left, so it holds to the byte); the
    /// rest is read the next turn. For a layer that copies what a turn
    /// reads and hands it on, so that the copy is still in the cache when
    /// it is taken.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn set_read_budget(&mut self, bytes: usize) {
        self.read_budget = bytes.max(1);
    }

    /// Bounds what all pipes together read in a turn (at least a byte);
    /// pipes past it are read the next turn, in the order they were cut
    /// off. What an exited run left in its pipes is not bounded: its exit
    /// comes after all of it. Where [`set_read_budget`] bounds a turn by
    /// the number of pipes ready, this bounds it whatever that number.
    ///
    /// [`set_read_budget`]: Reactor::set_read_budget
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn set_turn_budget(&mut self, bytes: usize) {
        self.turn_budget = bytes.max(1);
        self.turn_left = self.turn_budget;
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

    /// Waits for events (at most `timeout`, or until something happens when
    /// `None`) and hands each to `handler`, then returns.
    ///
    /// With no timer due and nothing to do, this blocks in `epoll_wait`
    /// with no timeout at all: an idle reactor does not wake up.
    ///
    /// # Errors
    ///
    /// [`Error::Io`](crate::error::Error::Io) with the OS error of
    /// `epoll_wait` as its source (an interrupted wait is not an error: it
    /// returns `Ok` with no events). The error is procrun's one
    /// [`Error`](crate::error::Error), as every other call's, so a loop
    /// that spawns and polls needs one `?`.
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
    pub fn poll<F>(&mut self, timeout: Option<Duration>, mut handler: F) -> Result<()>
    where
        F: FnMut(&mut Control<'_>, Event<'_>),
    {
        self.poll_with(timeout, &mut handler)
    }

    /// [`poll`](Reactor::poll) for a handler of the crate's own, which may
    /// take the lines of a read together ([`Handler::lines`]).
    pub(crate) fn poll_with<H: Handler>(
        &mut self,
        timeout: Option<Duration>,
        handler: &mut H,
    ) -> Result<()> {
        let mut turn = Turn {
            requests: std::mem::take(&mut self.requests),
            spawns: std::mem::take(&mut self.spawns),
            reactor: self,
        };
        let spawn_fds = Arc::clone(&turn.reactor.spawn_fds);
        let mut ctx = Ctx {
            handler,
            requests: &mut turn.requests,
            spawns: &mut turn.spawns,
            spawn_fds: &spawn_fds,
            use_pidfd: turn.reactor.use_pidfd,
        };
        let r = turn.reactor.poll_inner(timeout, &mut ctx);
        debug_assert!(
            turn.spawns.pending.is_empty(),
            "a spawned child not taken in"
        );
        Ok(r?)
    }

    fn poll_inner<H: Handler>(
        &mut self,
        timeout: Option<Duration>,
        ctx: &mut Ctx<'_, H>,
    ) -> io::Result<()> {
        self.turn_left = self.turn_budget;
        let owed = self.deliver_owed(ctx) || self.more_ready;
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
        self.more_ready = self.tokens.len() >= EVENTS;
        for i in 0..self.tokens.len() {
            let token = self.tokens[i];
            if token != WAKER {
                self.dispatch(token.0, ctx);
                // Requests made by the handlers of what that fd raised (an
                // exit, a stream's close) take effect now, before the next
                // fd is looked at.
                self.apply_requests(&mut ctx.dynamic());
            }
        }
        self.fire_timers(&mut ctx.dynamic());
        self.apply_requests(&mut ctx.dynamic());
        // Work raised while dispatching (a budget cut, a resume) is done on
        // the next call, with a zero wait.
        Ok(())
    }
}

/// What a `poll` takes out of the reactor for its turn, given back when
/// the turn ends, even by a handler's panic: a reactor used after a caught
/// panic still hands out its own ids.
struct Turn<'r> {
    reactor: &'r mut Reactor,
    requests: Vec<Request>,
    spawns: Spawns,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.requests.clear();
        self.reactor.requests = std::mem::take(&mut self.requests);
        // Children a panicking handler spawned and the turn did not take
        // in are killed and reaped as they drop (see `Pending`).
        self.spawns.pending.clear();
        self.reactor.spawns = std::mem::take(&mut self.spawns);
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

impl AsRawFd for Reactor {
    /// The epoll fd, as [`AsFd`] gives it, for APIs that still take a raw
    /// fd (tokio's `AsyncFd`, mio's `SourceFd`). The reactor keeps owning
    /// it: register it elsewhere, never close it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::{AsFd, AsRawFd};
    /// use procrun::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// assert_eq!(reactor.as_raw_fd(), reactor.as_fd().as_raw_fd());
    /// # Ok::<(), procrun::Error>(())
    /// ```
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

impl std::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("children", &self.children.len())
            .field("timers", &self.wheel.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
