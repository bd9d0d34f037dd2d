//! A child's pipes: the slab that holds procrun's ends (a pipe's epoll
//! token is its index there), their registration, and the reactor's work
//! on them: reading output into lines under the read budget, reading a
//! reaped run's pipes to their end, closing (stdin is fed in `stdin`).
//!
//! A pipe found full (an output pipe, or a stdin stream's) is enlarged from
//! [`DEFAULT_PIPE`] to [`BIG_PIPE`], so a fast writer costs fewer wake-ups,
//! within the [`GrowthRoom`] the user's pipe quota leaves; where no quota binds,
//! stdout pipes grow at spawn ([`Pipes::grow_before_use`]). Where the
//! kernel refuses, a pipe stays as it is. Nothing else changes with a
//! pipe's size: output is still read in order, once, with the same
//! backpressure.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use super::{Ctx, Event, Handler, OwedWork, Reactor};
use crate::child::{ChildId, Stream};
use crate::lines::LineReader;
use crate::sys;

/// A pipe found full is enlarged to this (the kernel may refuse).
pub(super) const BIG_PIPE: usize = 1024 * 1024;
/// The pipe size Linux gives a new pipe.
pub(super) const DEFAULT_PIPE: usize = 64 * 1024;

/// procrun's ends of every child's pipes, by token.
pub(super) struct Pipes {
    slots: Vec<Option<Source>>,
    free: Vec<usize>,
    room: &'static GrowthRoom,
}

impl Default for Pipes {
    fn default() -> Pipes {
        Pipes {
            slots: Vec::new(),
            free: Vec::new(),
            room: GrowthRoom::global(),
        }
    }
}

/// How many bytes of pipe enlargement procrun may still take: a quarter
/// of the soft pipe quota that binds the process, for all the pipes of all
/// its reactors together.
///
/// The quota is the user's, shared with every process the user runs. Once
/// the user's pipes hold more than it, every new pipe of an unprivileged
/// user gets two pages (8 KiB) and no pipe may grow: a supervisor that
/// grew its pipes up to the quota would make the pipes of its next
/// children, and of every other program of the user, an eighth of the
/// default. So procrun grows a pipe only while its enlargements stay
/// within a quarter of the quota (16 MiB of the default 64 MiB: sixteen
/// pipes of 1 MiB), leaving the rest to default pipes; a busy pipe found
/// full once the room is spent stays at the default 64 KiB, and is read
/// in more, smaller reads, until enlarged pipes close and give their room
/// back. A privileged process (`CAP_SYS_RESOURCE` or `CAP_SYS_ADMIN`), or
/// one whose quota is off, has no quota to keep to: its room has no end
/// and every pipe found full grows, each to 1 MiB at most
/// (`/proc/sys/fs/pipe-max-size` bounds it for others anyway). Capping
/// it there would cost, measured at 1,000 children writing at once, four
/// times the context switches for nothing the kernel asks.
///
/// One room per process, not per reactor: a pool of drivers must not take
/// a quarter each. It is touched only when a pipe grows or an enlarged
/// one closes, never per read.
pub(super) struct GrowthRoom {
    left: AtomicUsize,
}

static GROWTH_ROOM: OnceLock<GrowthRoom> = OnceLock::new();

impl GrowthRoom {
    /// The room for `quota` (`None`: no quota, no end to the room).
    fn new(quota: Option<usize>) -> GrowthRoom {
        GrowthRoom {
            left: AtomicUsize::new(quota.map_or(usize::MAX, |q| q / 4)),
        }
    }

    fn global() -> &'static GrowthRoom {
        GROWTH_ROOM.get_or_init(|| GrowthRoom::new(sys::pipe_quota()))
    }

    /// Enlarges pipe `fd` of `capacity` bytes to [`BIG_PIPE`] if the room
    /// allows: `None` when it does not (the pipe may ask again once other
    /// pipes have closed), else the bytes taken from the room, 0 when the
    /// kernel refused (past the quota by other processes of the user).
    pub(super) fn grow(&self, fd: &OwnedFd, capacity: usize) -> Option<u32> {
        let want = BIG_PIPE.saturating_sub(capacity);
        // Reserved before the kernel is asked, so that reactors on other
        // threads cannot spend the same bytes meanwhile.
        self.left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| {
                l.checked_sub(want)
            })
            .ok()?;
        let taken = match sys::grow_pipe(fd, BIG_PIPE) {
            Ok(c) => c.saturating_sub(capacity).min(want),
            Err(_) => 0,
        };
        self.give_back(want - taken);
        // At most BIG_PIPE, which fits in 32 bits.
        Some(taken as u32)
    }

    pub(super) fn give_back(&self, taken: usize) {
        self.left.fetch_add(taken, Ordering::Relaxed);
    }

    pub(super) fn left(&self) -> usize {
        self.left.load(Ordering::Relaxed)
    }
}

pub(super) enum Source {
    Out(OutPipe),
    In(InPipe),
}

/// The read end of a child's stdout or stderr.
pub(super) struct OutPipe {
    pub(super) fd: OwnedFd,
    pub(super) child: u32,
    pub(super) stream: Stream,
    pub(super) reader: LineReader,
    /// Each read is delivered as it is ([`Event::Data`]); the reader is
    /// then never fed, so what the close and exit paths ask it to finish
    /// is always nothing.
    pub(super) raw: bool,
    /// What the pipe holds, in bytes; past [`DEFAULT_PIPE`], what its
    /// enlargement took from the [`GrowthRoom`].
    // Not a field of its own for what the room gave, so an idle child's
    // state stays small; `u32` (the kernel's pipe size is an `int`) keeps a
    // pipe's entry, two per idle child, at 56 bytes rather than 64.
    pub(super) capacity: u32,
    pub(super) grow_tried: bool,
    /// A `OwedWork::ReadPipe` for this pipe is queued: edges until it runs need
    /// no read of their own, and no second entry is queued.
    pub(super) owed: bool,
    pub(super) drain_timer: Option<crate::timer::TimerKey>,
}

impl OutPipe {
    pub(super) fn new(fd: OwnedFd, child: u32, stream: Stream, reader: LineReader) -> OutPipe {
        OutPipe {
            fd,
            child,
            stream,
            reader,
            raw: false,
            capacity: DEFAULT_PIPE as u32,
            grow_tried: false,
            owed: false,
            drain_timer: None,
        }
    }
}

/// The write end of a child's stdin, with what is still to feed it (the
/// state is here, with every pipe's; `stdin` does the writing).
pub(super) struct InPipe {
    pub(super) fd: OwnedFd,
    pub(super) child: u32,
    pub(super) feed: Feed,
}

/// What a stdin pipe is fed.
pub(super) enum Feed {
    /// Fixed bytes, written from `pos` on; the pipe closes once they are.
    Bytes { data: Arc<[u8]>, pos: usize },
    /// What the caller queues, until it closes the stream.
    Stream(StdinQueue),
}

#[derive(Default)]
pub(super) struct StdinQueue {
    pub(super) queue: VecDeque<u8>,
    /// The caller closed the stream: EOF once the queue drains.
    pub(super) closing: bool,
    /// A write was refused or cut short: the caller waits for
    /// [`Event::StdinReady`].
    pub(super) want_ready: bool,
    /// A write failed (the child closed its stdin): the pipe is closed on
    /// the next turn, where the event can be delivered.
    pub(super) broken: bool,
    /// A `OwedWork::FeedStdin` for this pipe is queued.
    pub(super) owed: bool,
    pub(super) grow_tried: bool,
    /// The stream's pipe took [`GROWN`] bytes of the [`GrowthRoom`] (only a
    /// stream's pipe grows: fixed bytes are written once).
    // A flag, not a count: it fits in the padding, and an idle child's
    // stdin entry stays as small as its output pipes'.
    pub(super) grown: bool,
}

/// What a stdin pipe's enlargement takes from the [`GrowthRoom`]: the kernel
/// gives at least the size asked for, so it is all or nothing.
pub(super) const GROWN: usize = BIG_PIPE - DEFAULT_PIPE;

impl Source {
    fn fd(&self) -> &OwnedFd {
        match self {
            Source::Out(p) => &p.fd,
            Source::In(p) => &p.fd,
        }
    }

    fn grown(&self) -> usize {
        match self {
            Source::Out(p) => (p.capacity as usize).saturating_sub(DEFAULT_PIPE),
            Source::In(p) => match &p.feed {
                Feed::Stream(q) if q.grown => GROWN,
                Feed::Stream(_) => 0,
                Feed::Bytes { .. } => 0,
            },
        }
    }
}

impl Pipes {
    /// Stores `s` and registers it with epoll under its new token.
    pub(super) fn insert(
        &mut self,
        registry: &Registry,
        s: Source,
        interest: Interest,
    ) -> (usize, io::Result<()>) {
        let token = match self.free.pop() {
            Some(t) => t,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        let registered = register(registry, token, s.fd(), interest);
        self.slots[token] = Some(s);
        (token, registered)
    }

    /// Takes pipe `token` out of epoll and the slab; dropping the result
    /// closes it.
    pub(super) fn remove(&mut self, registry: &Registry, token: usize) -> Option<Source> {
        let s = self.slots.get_mut(token)?.take()?;
        deregister(registry, s.fd());
        self.free.push(token);
        // Given back before the close: the pipe's pages go with it.
        self.room.give_back(s.grown());
        Some(s)
    }

    /// Enlarges a new output pipe before its child can write, where no
    /// quota binds (the room has no end). Grown only once found full, a
    /// pipe is read 64 KiB at a time while its writer blocks at every
    /// 64 KiB until then: measured at 100 children writing at once, that
    /// cost procrun a third of its throughput (52 ms against 37 ms for
    /// 64 MiB, the raw loop 30 ms). Under a quota the room is too small to
    /// spend on children that may never write much.
    ///
    /// Stdout only: an enlarged pipe's slot table (about 10 KiB of kernel
    /// memory, charged to procrun's memory cgroup) is there from the start
    /// whether the child writes or not, and stderr rarely carries a flood;
    /// a stderr pipe found full still grows.
    pub(super) fn grow_before_use(&self, p: &mut OutPipe) {
        if self.room.left() < usize::MAX / 2 || p.stream != Stream::Stdout {
            return;
        }
        if let Some(taken) = self.room.grow(&p.fd, p.capacity as usize) {
            p.grow_tried = true;
            p.capacity += taken;
        }
    }

    #[cfg(test)]
    pub(super) fn room(&self) -> &'static GrowthRoom {
        self.room
    }

    /// What every open pipe took from the room.
    #[cfg(test)]
    pub(super) fn grown(&self) -> impl Iterator<Item = usize> + '_ {
        self.slots.iter().flatten().map(Source::grown)
    }

    pub(super) fn get(&self, token: usize) -> Option<&Source> {
        self.slots.get(token)?.as_ref()
    }

    pub(super) fn out(&self, token: usize) -> Option<&OutPipe> {
        match self.get(token)? {
            Source::Out(p) => Some(p),
            Source::In(_) => None,
        }
    }

    pub(super) fn out_mut(&mut self, token: usize) -> Option<&mut OutPipe> {
        match self.slots.get_mut(token)?.as_mut()? {
            Source::Out(p) => Some(p),
            Source::In(_) => None,
        }
    }

    pub(super) fn in_mut(&mut self, token: usize) -> Option<&mut InPipe> {
        self.in_and_room(token).map(|(p, _)| p)
    }

    /// Output pipe `token` and the room it may grow into.
    fn out_and_room(&mut self, token: usize) -> Option<(&mut OutPipe, &'static GrowthRoom)> {
        match self.slots.get_mut(token)?.as_mut()? {
            Source::Out(p) => Some((p, self.room)),
            Source::In(_) => None,
        }
    }

    /// Stdin pipe `token` and the room it may grow into.
    pub(super) fn in_and_room(
        &mut self,
        token: usize,
    ) -> Option<(&mut InPipe, &'static GrowthRoom)> {
        match self.slots.get_mut(token)?.as_mut()? {
            Source::In(p) => Some((p, self.room)),
            Source::Out(_) => None,
        }
    }

    /// The output pipes of child `index`, lingering ones of earlier runs
    /// included.
    pub(super) fn of_child(&self, index: u32) -> impl Iterator<Item = usize> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(move |(t, s)| match s {
                Some(Source::Out(p)) if p.child == index => Some(t),
                _ => None,
            })
    }
}

pub(super) fn register(
    registry: &Registry,
    token: usize,
    fd: &OwnedFd,
    interest: Interest,
) -> io::Result<()> {
    registry.register(&mut SourceFd(&fd.as_raw_fd()), Token(token), interest)
}

pub(super) fn deregister(registry: &Registry, fd: &OwnedFd) {
    // Deregister before the fd is closed: a copy held by a grandchild
    // would keep the epoll entry alive and deliver its events to
    // whatever reuses the number.
    let _ = registry.deregister(&mut SourceFd(&fd.as_raw_fd()));
}

impl Reactor {
    /// Reads a pipe until it would block, reaches EOF, is paused, or `limit`
    /// bytes were read, or the turn's budget is spent when `turn` (then
    /// more is owed on the next turn). What it reads counts toward the
    /// turn's budget either way.
    pub(super) fn read_pipe<H: ?Sized + Handler>(
        &mut self,
        token: usize,
        limit: usize,
        turn: bool,
        ctx: &mut Ctx<'_, H>,
    ) -> ReadOutcome {
        let mut total = 0;
        loop {
            // Each read asks for no more than is left, so a budget below the
            // buffer's size holds to the byte.
            let mut want = (limit - total).min(self.buf.len());
            if turn {
                want = want.min(self.turn_left);
                if want == 0 {
                    self.owe_read(token);
                    return ReadOutcome::Limit;
                }
            }
            let Reactor {
                pipes,
                children,
                buf,
                ..
            } = self;
            let Some((p, room)) = pipes.out_and_room(token) else {
                return ReadOutcome::Closed;
            };
            let Some(child) = children.at(p.child) else {
                return ReadOutcome::Closed;
            };
            if child.holds_output() {
                return ReadOutcome::Paused;
            }
            let id = children.id_of(p.child);
            let stream = p.stream;
            let read = if p.raw {
                sys::read(&p.fd, &mut buf[..want])
            } else {
                ctx.read_lines(id, stream, &mut p.reader, &p.fd, &mut buf[..want])
            };
            match read {
                Ok(0) => {
                    p.reader.finish(|l| ctx.emit(line(id, stream, l)));
                    self.close_pipe(token, &mut ctx.dynamic());
                    return ReadOutcome::Closed;
                }
                Ok(n) => {
                    if n >= p.capacity as usize && !p.grow_tried {
                        // The pipe was full: the child outpaces us one pipe
                        // at a time. A bigger pipe means fewer wake-ups,
                        // while the room lasts.
                        if let Some(taken) = room.grow(&p.fd, p.capacity as usize) {
                            p.grow_tried = true;
                            p.capacity += taken;
                        }
                    }
                    // A lines pipe's read handed its lines on itself; a
                    // raw pipe's bytes go out here.
                    if p.raw {
                        ctx.emit(Event::Data {
                            id,
                            stream,
                            bytes: &buf[..n],
                        });
                    }
                    total += n;
                    self.turn_left = self.turn_left.saturating_sub(n);
                    self.apply_requests(&mut ctx.dynamic());
                    if total >= limit {
                        self.owe_read(token);
                        return ReadOutcome::Limit;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ReadOutcome::Empty,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    p.reader.finish(|l| ctx.emit(line(id, stream, l)));
                    self.close_pipe(token, &mut ctx.dynamic());
                    return ReadOutcome::Closed;
                }
            }
        }
    }

    /// Reads what an exited run left in pipe `token`: all of it, and its
    /// last line even without `\n`, so all of the run's output comes before
    /// its exit. Returns false if a pause stopped the read.
    ///
    /// The run's leader is dead, so the pipe holds at most its capacity of
    /// the run's bytes; one read past that sees the EOF (or EAGAIN when
    /// another process still holds the pipe: one outside the group, or a
    /// member the group's `SIGKILL`, sent once the exit is delivered, has
    /// not reached yet; its later writes must not hold up the exit). The capacity procrun knows is
    /// the one it set; the child may have grown the pipe itself, which a
    /// read that reaches the known capacity asks the kernel about.
    pub(super) fn read_after_exit(&mut self, token: usize, ctx: &mut Ctx<'_>) -> bool {
        let Some(cap) = self.pipes.out(token).map(|p| p.capacity as usize) else {
            return true;
        };
        let mut end = self.read_pipe(token, cap.saturating_add(1), false, ctx);
        if end == ReadOutcome::Limit {
            let Some(p) = self.pipes.out(token) else {
                return true;
            };
            let size = sys::pipe_size(&p.fd).unwrap_or(cap);
            end = self.read_pipe(token, size.saturating_add(1), false, ctx);
        }
        if end == ReadOutcome::Empty {
            // No EOF: another process holds the pipe (an escaped grandchild,
            // or a child another thread is spawning, which holds a copy of
            // every fd until its exec). The run's last line ends with the
            // run, so it comes before the exit; later bytes are not the
            // run's and start a line of their own.
            if let Some(p) = self.pipes.out_mut(token) {
                let id = self.children.id_of(p.child);
                let stream = p.stream;
                p.reader.finish(|l| ctx.emit(line(id, stream, l)));
            }
        }
        end != ReadOutcome::Paused
    }

    /// Reads child `id`'s raw `stream` straight into `buf` (not empty),
    /// for a reader that has taken every byte read before: they reach it
    /// with no copy through an event. See [`read_now`](Self::read_now)
    /// for which pipe is read and what comes of its end.
    #[cfg(feature = "tokio")]
    pub(crate) fn read_raw_now(&mut self, id: ChildId, stream: Stream, buf: &mut [u8]) -> ReadNow {
        debug_assert!(!buf.is_empty(), "a read of no byte reads as the end");
        self.read_now(id, stream, true, |_, fd| sys::read(fd, buf))
    }

    /// One read of child `id`'s `stream` of lines by `read`, given the
    /// pipe's line reader and fd (it reads and splits as
    /// [`Handler::read_lines`] does, at least a byte), for a taker that
    /// took every line filed before: the lines reach it with no turn and
    /// no wake between. See [`read_now`](Self::read_now).
    #[cfg(feature = "tokio")]
    pub(crate) fn read_lines_now(
        &mut self,
        id: ChildId,
        stream: Stream,
        read: impl FnOnce(&mut LineReader, &OwnedFd) -> io::Result<usize>,
    ) -> ReadNow {
        self.read_now(id, stream, false, read)
    }

    /// One read by `read`, outside a turn, of child `id`'s `stream`, raw
    /// or of lines as `raw` says. Only the current run's pipe, while no
    /// pipe of an earlier run lingers (what it still gives would come out
    /// of order), and not while the child's output is paused. A pipe
    /// found at its end, or failing, is left to the next turn, which
    /// closes it as it closes any and files what follows (a last line
    /// without its `\n`, the `Closed`): [`ReadNow::Owed`].
    #[cfg(feature = "tokio")]
    fn read_now(
        &mut self,
        id: ChildId,
        stream: Stream,
        raw: bool,
        read: impl FnOnce(&mut LineReader, &OwnedFd) -> io::Result<usize>,
    ) -> ReadNow {
        let Some(child) = self.children.get(id) else {
            return ReadNow::Nothing;
        };
        let current = child.pipes.tokens().count() as u32;
        if child.holds_output() || child.open_pipes > current {
            return ReadNow::Nothing;
        }
        let Some(token) = child
            .pipes
            .tokens()
            .find(|&t| self.pipes.out(t).is_some_and(|p| p.stream == stream))
        else {
            return ReadNow::Nothing;
        };
        let Some(p) = self.pipes.out_mut(token).filter(|p| p.raw == raw) else {
            return ReadNow::Nothing;
        };
        match read(&mut p.reader, &p.fd) {
            Ok(0) => {}
            Ok(n) => return ReadNow::Read(n),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return ReadNow::Nothing
            }
            Err(_) => {}
        }
        self.owe_read(token);
        ReadNow::Owed
    }

    /// Queues a read of pipe `token` for the next turn, unless one is.
    pub(super) fn owe_read(&mut self, token: usize) {
        if let Some(p) = self.pipes.out_mut(token) {
            if !p.owed {
                p.owed = true;
                self.owed_work.push(OwedWork::ReadPipe(token));
            }
        }
    }

    pub(super) fn close_pipe(&mut self, token: usize, ctx: &mut Ctx<'_>) {
        let Some(Source::Out(mut p)) = self.pipes.remove(self.poll.registry(), token) else {
            return;
        };
        if let Some(k) = p.drain_timer.take() {
            self.wheel.cancel(k);
        }
        // Lines held back at a drain cut-off still reach the caller.
        let index = p.child;
        let id = self.children.id_of(index);
        let stream = p.stream;
        p.reader.finish(|l| ctx.emit(line(id, stream, l)));
        drop(p);
        // Only a cgroup of this pipe's own child can hold it: an
        // uncontained child's pipes skip the walk over contained runs.
        if self.children.at(index).is_some_and(|c| c.live_cgroups > 0) {
            self.cgroups.forget_pipe(token);
        }
        let c = self.children.at_mut(index);
        c.open_pipes -= 1;
        c.pipes.remove(token);
        ctx.emit(Event::Closed { id, stream });
        self.deliver_done_if_due(index, ctx);
    }

    pub(super) fn do_resume(&mut self, index: u32) {
        let c = self.children.at_mut(index);
        if !c.unpause() {
            return;
        }
        // Edge-triggered: data that arrived while paused raises no new edge.
        let pipes = c.pipes;
        for t in pipes.tokens() {
            self.owe_read(t);
        }
        let lingering: Vec<usize> = self.pipes.of_child(index).collect();
        for t in lingering {
            self.owe_read(t);
        }
        self.owed_work.push(OwedWork::FinishExit(index));
    }
}

/// What [`Reactor::read_raw_now`] did.
#[cfg(feature = "tokio")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadNow {
    /// This many bytes (at least one) went into the buffer.
    Read(usize),
    /// Nothing to read now: the pipe is empty, or not to be read here.
    Nothing,
    /// The pipe is at its end (or failed): the next turn closes it, and
    /// the reactor wants that turn at once.
    Owed,
}

/// Why [`Reactor::read_pipe`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReadOutcome {
    /// The pipe is empty for now (EAGAIN).
    Empty,
    /// EOF or an error: the pipe was closed (or was not there).
    Closed,
    /// The byte limit was reached; a read is owed on the next turn.
    Limit,
    /// The child is paused.
    Paused,
}

pub(crate) fn line<'a>(id: ChildId, stream: Stream, l: crate::lines::Line<'a>) -> Event<'a> {
    Event::Line {
        id,
        stream,
        line: l.bytes(),
        partial: l.is_partial(),
    }
}

#[cfg(test)]
mod tests {
    use super::{GrowthRoom, BIG_PIPE, DEFAULT_PIPE};
    use crate::sys;

    #[test]
    fn a_room_grows_pipes_while_it_lasts_and_takes_them_back() {
        let big = BIG_PIPE - DEFAULT_PIPE;
        // GrowthRoom for one enlargement and a byte: a quarter of this quota.
        let room = GrowthRoom::new(Some(4 * (big + 1)));
        let (a, _wa) = sys::output_pipe().unwrap();
        let (b, _wb) = sys::output_pipe().unwrap();
        let taken = room.grow(&a, DEFAULT_PIPE).expect("room for one");
        // The kernel may refuse (an unprivileged user past the quota):
        // then nothing is taken.
        assert!(taken as usize == big || taken == 0, "{taken}");
        assert_eq!(room.left(), big + 1 - taken as usize);
        if taken > 0 {
            assert_eq!(sys::pipe_size(&a).unwrap(), BIG_PIPE);
            assert_eq!(room.grow(&b, DEFAULT_PIPE), None, "no room for two");
            assert_eq!(sys::pipe_size(&b).unwrap(), DEFAULT_PIPE);
        }
        room.give_back(taken as usize);
        assert_eq!(room.left(), big + 1);
    }

    #[test]
    fn no_quota_means_a_room_without_end() {
        let room = GrowthRoom::new(None);
        let pipes: Vec<_> = (0..4).map(|_| sys::output_pipe().unwrap()).collect();
        for (r, _w) in &pipes {
            assert!(room.grow(r, DEFAULT_PIPE).is_some());
        }
    }
}
