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
//! `pipes` (the pipe slab and reading), `stdin` (feeding stdin), `timers` (the wheel's timers),
//! `event` (what the caller is told, and its answers).

mod children;
mod control;
mod event;
mod pipes;
mod runs;
mod stdin;
mod timers;

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};

use children::Children;
use event::Request;
pub use event::{Control, Event, Waker};
use pipes::{Pipes, Source};
use runs::{ExitPoll, PIDFD};
use timers::Timer;

use crate::command::Command;
use crate::error::{Error, Result};
use crate::exit::ChildId;
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

/// Supervises any number of children from the calling thread.
///
/// See the [crate documentation](crate) for a guide.
pub struct Reactor {
    poll: Poll,
    events: Events,
    waker: Waker,
    clock: Clock,
    wheel: Wheel<Timer>,
    children: Children,
    pipes: Pipes,
    buf: Box<[u8]>,
    /// `/dev/null`, dup'ed into children for null stdio.
    null: OwnedFd,
    /// Events raised outside `poll` (a spawn's `Started`, a signal that
    /// reached nothing), delivered first.
    queued: VecDeque<Queued>,
    /// Work owed without a new epoll edge: a pipe cut off by the read
    /// budget, a resumed pipe, an exit held back by a pause.
    ready: Vec<Ready>,
    requests: Vec<Request>,
    tokens: Vec<Token>,
    /// Whether children get pidfds (false once the kernel said ENOSYS, or
    /// when `PROCRUN_NO_PIDFD=1`).
    use_pidfd: bool,
    exit_poll: ExitPoll,
    wakeups: u64,
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
    /// A stdin stream has queued bytes to write, or is to close.
    Stdin(usize),
    FinishExit(u32),
    MaybeDone(u32),
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
        let waker = Waker::new(poll.registry(), WAKER)?;
        Ok(Reactor {
            poll,
            events: Events::with_capacity(1024),
            waker,
            clock: Clock::new(),
            wheel: Wheel::new(),
            children: Children::default(),
            pipes: Pipes::default(),
            buf: vec![0; READ_BUF].into_boxed_slice(),
            null: sys::dev_null()?,
            queued: VecDeque::new(),
            ready: Vec::new(),
            requests: Vec::new(),
            tokens: Vec::new(),
            use_pidfd: sys::pidfd_allowed(),
            exit_poll: ExitPoll::default(),
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
    /// Everything [`Command::validate`] reports, [`Error::ProgramNotFound`],
    /// [`Error::Spawn`], or the OS error of a pipe or
    /// the epoll registration. Nothing is left running on error.
    pub fn spawn(&mut self, cmd: &Command) -> Result<ChildId> {
        self.spawn_spec(Arc::new(cmd.prepare()?))
    }

    /// The pid of the child's current run, if one is alive.
    pub fn pid(&self, id: ChildId) -> Option<u32> {
        self.children.get(id)?.run.as_ref().map(|r| r.handle.pid())
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
        self.children.get(id).is_some()
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
                    if let Some(p) = self.pipes.out_mut(token) {
                        p.owed = false;
                    }
                    self.read_pipe(token, READ_BUDGET, ctx);
                }
                Ready::Stdin(token) => self.feed_stdin(token, ctx),
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
                .at(index)
                .and_then(|c| c.run.as_ref())
                .is_some_and(|r| r.handle.pidfd().is_some());
            if watched {
                self.check_exit(index, ctx);
            }
            return;
        }
        match self.pipes.get(token) {
            // An owed pipe is read at the start of the next turn, all of it
            // up to the budget: a read now would double its share.
            Some(Source::Out(p)) if p.owed => {}
            Some(Source::Out(_)) => {
                self.read_pipe(token, READ_BUDGET, ctx);
            }
            Some(Source::In(_)) => self.feed_stdin(token, ctx),
            None => {}
        }
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
