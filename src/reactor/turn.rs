//! One turn of the loop, beside [`Reactor::poll`]: owed work first (queued
//! events, reads cut off by the budget, exits held back by a pause), then
//! each fd epoll reported, by the kind its token names.

use super::cgroups::CGROUP;
use super::event::Request;
use super::pipes::{line, Source};
use super::runs::PIDFD;
use super::spawns::Spawns;
use super::stages::STAGE;
use super::{Control, Event, Reactor};
use crate::child::{ChildId, Stream};
use crate::error::Error;
use crate::lines::LineReader;
use crate::spawn::SpawnFds;
use crate::sys;
use std::io;
use std::os::fd::OwnedFd;

/// An event owed to the next poll.
#[derive(Debug)]
pub(super) enum OwedEvent {
    Started {
        id: ChildId,
        pid: u32,
        restarts: u32,
    },
    SignalFailed {
        id: ChildId,
        // One `Started` waits per child spawned between polls, so a caller
        // that starts 1,000 children before polling grows the deque to
        // 1,024 entries, and it keeps that capacity: the rare error is
        // boxed so an entry stays 24 bytes, not the 104 an `Error` inline
        // makes it.
        error: Box<Error>,
    },
}

/// Work owed to the next turn without a new epoll edge, each variant
/// named for the call that does it.
#[derive(Clone, Copy, Debug)]
pub(super) enum OwedWork {
    /// A pipe cut off by the read budget, or resumed.
    ReadPipe(usize),
    /// A stdin stream has queued bytes to write, or is to close.
    FeedStdin(usize),
    /// A resumed child's exit, held back by its pause.
    FinishExit(u32),
    /// A run's exit seen once the turn's budget was spent: its check reads
    /// what the run left, so it waits for the next turn.
    CheckExit(u32),
    /// A child whose restart a stop cancelled: its `Done` may be due.
    DeliverDone(u32),
}

/// The event handler and the requests it made, threaded through one `poll`.
///
/// The read path (`poll` → `dispatch` → `read_pipe`) is generic over the
/// caller's handler, so the call made once per line is a direct call the
/// compiler can inline, not one through a vtable; every colder path takes
/// the default, `dyn Handler`, form, so one copy of that code serves every
/// handler a program passes to `poll`.
pub(super) struct Ctx<'h, H: ?Sized = dyn Handler + 'h> {
    pub(super) handler: &'h mut H,
    pub(super) requests: &'h mut Vec<Request>,
    /// The reactor's ids and the children handlers started, lent to the
    /// turn so that a handler can spawn.
    pub(super) spawns: &'h mut Spawns,
    /// What a handler's spawn needs of the reactor: its `/dev/null` and
    /// lane, and whether to ask for pidfds.
    pub(super) spawn_fds: &'h SpawnFds,
    pub(super) use_pidfd: bool,
}

/// What `poll` calls for each event, whether a closure or a closure behind
/// `dyn`.
pub(crate) trait Handler {
    fn on(&mut self, ctl: &mut Control<'_>, ev: Event<'_>);
    fn as_dyn(&mut self) -> &mut dyn Handler;

    /// The lines of one read of one of child `id`'s pipes, split by
    /// `reader`: each is handed on as its [`Event::Line`], in order. A
    /// handler within the crate that files lines by child takes them
    /// together instead, finding the child once for the whole read.
    #[inline]
    fn lines(
        &mut self,
        ctl: &mut Control<'_>,
        id: ChildId,
        stream: Stream,
        reader: &mut LineReader,
        bytes: &[u8],
    ) {
        reader.feed(bytes, |l| self.on(ctl, line(id, stream, l)));
    }

    /// One read of child `id`'s output pipe `fd`, at most `buf.len()`
    /// bytes (never 0), whose lines `reader` splits: the bytes read,
    /// `Ok(0)` at end of file. By default the read lands in `buf`, the reactor's, and
    /// its lines go to [`lines`](Handler::lines); a handler that keeps
    /// lines in buffers of its own reads into them instead, so that the
    /// bytes are not copied out of the reactor's.
    #[inline]
    fn read_lines(
        &mut self,
        ctl: &mut Control<'_>,
        id: ChildId,
        stream: Stream,
        reader: &mut LineReader,
        fd: &OwnedFd,
        buf: &mut [u8],
    ) -> io::Result<usize> {
        read_lines_into(self, ctl, id, stream, reader, fd, buf)
    }
}

/// [`Handler::read_lines`] as it reads by default, for a handler that
/// reads into memory of its own only for some children.
#[inline]
pub(crate) fn read_lines_into<H: ?Sized + Handler>(
    handler: &mut H,
    ctl: &mut Control<'_>,
    id: ChildId,
    stream: Stream,
    reader: &mut LineReader,
    fd: &OwnedFd,
    buf: &mut [u8],
) -> io::Result<usize> {
    let n = sys::read(fd, buf)?;
    if n > 0 {
        handler.lines(ctl, id, stream, reader, &buf[..n]);
    }
    Ok(n)
}

impl<F: FnMut(&mut Control<'_>, Event<'_>)> Handler for F {
    #[inline]
    fn on(&mut self, ctl: &mut Control<'_>, ev: Event<'_>) {
        self(ctl, ev)
    }

    fn as_dyn(&mut self) -> &mut dyn Handler {
        self
    }
}

impl<H: ?Sized + Handler> Ctx<'_, H> {
    #[inline]
    pub(super) fn emit(&mut self, ev: Event<'_>) {
        let mut ctl = Control {
            requests: self.requests,
            spawns: self.spawns,
            spawn_fds: self.spawn_fds,
            use_pidfd: self.use_pidfd,
        };
        self.handler.on(&mut ctl, ev);
    }

    /// One read of a lines pipe, by the handler ([`Handler::read_lines`]).
    #[inline]
    pub(super) fn read_lines(
        &mut self,
        id: ChildId,
        stream: Stream,
        reader: &mut LineReader,
        fd: &OwnedFd,
        buf: &mut [u8],
    ) -> io::Result<usize> {
        let mut ctl = Control {
            requests: self.requests,
            spawns: self.spawns,
            spawn_fds: self.spawn_fds,
            use_pidfd: self.use_pidfd,
        };
        self.handler
            .read_lines(&mut ctl, id, stream, reader, fd, buf)
    }

    /// The same context in its `dyn` form, for the colder paths.
    pub(super) fn dynamic(&mut self) -> Ctx<'_> {
        Ctx {
            handler: self.handler.as_dyn(),
            requests: self.requests,
            spawns: self.spawns,
            spawn_fds: self.spawn_fds,
            use_pidfd: self.use_pidfd,
        }
    }
}

impl Reactor {
    /// Delivers queued events and does owed work; true if there was any.
    pub(super) fn deliver_owed<H: Handler>(&mut self, ctx: &mut Ctx<'_, H>) -> bool {
        let mut any = false;
        while let Some(q) = self.owed_events.pop_front() {
            any = true;
            match q {
                OwedEvent::Started { id, pid, restarts } => {
                    ctx.emit(Event::Started { id, pid, restarts })
                }
                OwedEvent::SignalFailed { id, error } => {
                    ctx.emit(Event::SignalFailed { id, error: *error })
                }
            }
            self.apply_requests(&mut ctx.dynamic());
        }
        let work = std::mem::take(&mut self.owed_work);
        // Reads the turn's budget left out, still owed: they go before
        // those owed again after reading this turn, or the pipes first in
        // the queue would take every turn's budget for ever.
        let mut starved = Vec::new();
        for w in &work {
            any = true;
            match *w {
                OwedWork::ReadPipe(_) | OwedWork::CheckExit(_) if self.turn_left == 0 => {
                    starved.push(*w);
                }
                OwedWork::ReadPipe(token) => {
                    if let Some(p) = self.pipes.out_mut(token) {
                        p.owed = false;
                    }
                    self.read_pipe(token, self.read_budget, true, ctx);
                }
                OwedWork::FeedStdin(token) => self.feed_stdin(token, &mut ctx.dynamic()),
                OwedWork::FinishExit(index) => self.finish_exit(index, &mut ctx.dynamic()),
                OwedWork::CheckExit(index) => self.check_exit_if_watched(index, ctx),
                OwedWork::DeliverDone(index) => self.deliver_done_if_due(index, &mut ctx.dynamic()),
            }
            self.apply_requests(&mut ctx.dynamic());
        }
        let mut work = work;
        work.clear();
        if !starved.is_empty() {
            starved.append(&mut self.owed_work);
            self.owed_work = starved;
        } else if self.owed_work.is_empty() {
            // Keep the allocation.
            self.owed_work = work;
        }
        any
    }

    /// Checks the exit of child `index`'s run if its pidfd is watched.
    fn check_exit_if_watched<H: Handler>(&mut self, index: u32, ctx: &mut Ctx<'_, H>) {
        // A reaped run's pidfd is closed, which takes it out of epoll. A
        // slot freed since the pidfd woke us may be taken by a child a
        // handler spawned: a live run with a pidfd at this index is then
        // not the one that woke us, and its check finds it running, a
        // spurious wake-up the reap tolerates.
        let watched = self
            .children
            .at(index)
            .and_then(|c| c.run.as_ref())
            .is_some_and(|r| r.handle.pidfd().is_some());
        if watched {
            self.check_exit(index, &mut ctx.dynamic());
        }
    }

    pub(super) fn dispatch<H: Handler>(&mut self, token: usize, ctx: &mut Ctx<'_, H>) {
        if token & PIDFD != 0 {
            let index = (token & !PIDFD) as u32;
            if self.turn_left == 0 {
                // The exit's check reads what the run left in its pipes,
                // as much as they hold: a turn in which a thousand runs
                // end would read them all before the layer above takes
                // any. Their checks wait for the next turns, first in
                // line (the pidfd raises no second edge).
                self.owed_work.push(OwedWork::CheckExit(index));
                return;
            }
            self.check_exit_if_watched(index, ctx);
            return;
        }
        if token & CGROUP != 0 {
            self.cgroup_changed(token & !CGROUP, &mut ctx.dynamic());
            return;
        }
        if token & STAGE != 0 {
            // A later stage of a pipeline exited: the run's check reaps
            // it, and the run too once it was the last one left.
            let index = (token & !STAGE) as u32;
            if self.children.at(index).is_some_and(|c| c.run.is_some()) {
                self.check_exit(index, &mut ctx.dynamic());
            }
            return;
        }
        match self.pipes.get(token) {
            // An owed pipe is read at the start of the next turn, all of it
            // up to the budget: a read now would double its share.
            Some(Source::Out(p)) if p.owed => {}
            Some(Source::Out(_)) => {
                self.read_pipe(token, self.read_budget, true, ctx);
            }
            Some(Source::In(_)) => self.feed_stdin(token, &mut ctx.dynamic()),
            None => {}
        }
    }
}
