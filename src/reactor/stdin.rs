//! Feeding a child's stdin: fixed bytes ([`Input::Bytes`]), or a stream
//! the caller writes to while the child runs ([`Input::Stream`]) through a
//! bounded queue, with [`Event::StdinReady`] when a full queue has room
//! again and [`Event::StdinClosed`] when the pipe is closed.
//!
//! A stream belongs to a run: it closes when the run is reaped (what is
//! still queued is dropped and counted in [`Event::StdinClosed`]), and a
//! restarted run gets a new one.
//!
//! [`Input::Bytes`]: crate::Input::Bytes
//! [`Input::Stream`]: crate::Input::Stream

use std::io;

use super::pipes::{Feed, GrowthRoom, Source, StdinQueue, DEFAULT_PIPE, GROWN};
use super::{Ctx, Event, OwedWork, Reactor};
use crate::child::ChildId;
use crate::error::{Error, Result};
use crate::sys;

/// How much a stream queues for one child beyond what its pipe holds.
pub(super) const STDIN_QUEUE: usize = 1024 * 1024;
/// A queue emptied keeps at most this much of its allocation, so an idle
/// child that was once fed a lot costs little.
const KEEP: usize = 64 * 1024;

/// Whether a child's current run has a stdin stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum StdinState {
    /// Its stdin is not [`Input::Stream`](crate::Input::Stream).
    #[default]
    NotPiped,
    /// Open, at this pipe token (a slab index: at most one per open fd,
    /// so it fits; `u32` keeps an idle child small).
    Open(u32),
    /// Closed: by the caller, by the child, or with the run.
    Closed,
    /// Fed the command's [`Input::Bytes`](crate::Input::Bytes), at this
    /// pipe token, until all is written: kept so that the run's end
    /// closes the pipe even when a process outside the run holds its
    /// read end and never reads.
    Feeding(u32),
}

fn broken_pipe() -> Error {
    Error::Io(io::ErrorKind::BrokenPipe.into())
}

impl Reactor {
    /// Queues `bytes` for the stdin of the child's current run
    /// ([`Input::Stream`](crate::Input::Stream)) and returns how many were
    /// taken: all of them, or as many as fit (at most 1 MiB waits per
    /// child beyond what the pipe holds). Bytes go straight into the pipe
    /// while nothing waits; the rest is written as the child reads, on
    /// later [`poll`](Reactor::poll)s.
    ///
    /// When fewer bytes than given were taken, an [`Event::StdinReady`]
    /// comes once the queue has room again.
    ///
    /// Each run of a restarting child has a stream of its own: what one
    /// run left queued or unread is dropped with it, writes between runs
    /// get `BrokenPipe`, and writes after the next run's
    /// [`Event::Started`] go to that run.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownChild`] for an id this reactor never issued;
    /// [`Error::NoStdin`] when the child's stdin is not a stream; an
    /// [`Error::Io`] of kind
    /// [`WouldBlock`](io::ErrorKind::WouldBlock) when the queue is full
    /// (nothing was taken), and of kind
    /// [`BrokenPipe`](io::ErrorKind::BrokenPipe) once the stream is closed
    /// (by [`close_stdin`](Reactor::close_stdin), by the child, or because
    /// the run ended, the child's last included: writing to a child that
    /// is done is a broken pipe).
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Command, Event, Input, Reactor};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let mut cmd = Command::new("tr");
    /// cmd.args(["a-z", "A-Z"]).stdin(Input::Stream);
    /// let id = reactor.spawn(&cmd)?;
    /// assert_eq!(reactor.write_stdin(id, b"hello\n")?, 6);
    /// reactor.close_stdin(id)?;
    /// let mut lines = Vec::new();
    /// while !reactor.is_empty() {
    ///     reactor.poll(None, |_, event| {
    ///         if let Event::Line { line, .. } = event {
    ///             lines.push(line.to_vec());
    ///         }
    ///     })?;
    /// }
    /// assert_eq!(lines, [b"HELLO"]);
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn write_stdin(&mut self, id: ChildId, bytes: &[u8]) -> Result<usize> {
        let token = self.stdin_token(id)?;
        let Some((p, room)) = self.pipes.in_and_room(token) else {
            return Err(broken_pipe());
        };
        let Feed::Stream(q) = &mut p.feed else {
            return Err(Error::NoStdin);
        };
        if q.closing || q.broken {
            return Err(broken_pipe());
        }
        let mut written = 0;
        if q.queue.is_empty() {
            // Nothing waits: straight into the pipe, no copy and no turn.
            while written < bytes.len() {
                match sys::write(&p.fd, &bytes[written..]) {
                    Ok(n) => written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if grow(q, &p.fd, room) {
                            continue;
                        }
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        // EPIPE: the event is delivered on the next turn.
                        q.broken = true;
                        self.owe_write(token);
                        return if written > 0 {
                            Ok(written)
                        } else {
                            Err(broken_pipe())
                        };
                    }
                }
            }
        }
        // The queue holds bytes only while the pipe is full, so an EPOLLOUT
        // edge is due when the child reads: the queue needs no wake-up.
        let take = STDIN_QUEUE
            .saturating_sub(q.queue.len())
            .min(bytes.len() - written);
        q.queue.extend(&bytes[written..written + take]);
        let n = written + take;
        if n < bytes.len() {
            q.want_ready = true;
        }
        if n == 0 && !bytes.is_empty() {
            return Err(Error::Io(io::ErrorKind::WouldBlock.into()));
        }
        Ok(n)
    }

    /// Closes the stdin stream of the child's current run once what is
    /// queued is written: the child then reads EOF. An
    /// [`Event::StdinClosed`] follows. Closing a closed stream, or the
    /// stdin of a child that is done, does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownChild`] for an id this reactor never issued;
    /// [`Error::NoStdin`] when the child's stdin is not a stream.
    pub fn close_stdin(&mut self, id: ChildId) -> Result<()> {
        let token = match self.stdin_token(id) {
            Err(Error::Io(_)) => return Ok(()),
            r => r?,
        };
        if let Some(p) = self.pipes.in_mut(token) {
            if let Feed::Stream(q) = &mut p.feed {
                q.closing = true;
            }
        }
        self.owe_write(token);
        Ok(())
    }

    /// How many bytes queued for the stdin stream of the child's current
    /// run are not in its pipe yet. While some are, the next write that
    /// brings them to half the queue or fewer is followed by an
    /// [`Event::StdinReady`], so a caller waiting for the queue to drain
    /// (the async layer's flush) is told to look again.
    ///
    /// # Errors
    ///
    /// As [`write_stdin`](Reactor::write_stdin): `BrokenPipe` once the
    /// stream is closed.
    // Used by the async layer only.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn stdin_queued(&mut self, id: ChildId) -> Result<usize> {
        let token = self.stdin_token(id)?;
        let Some(p) = self.pipes.in_mut(token) else {
            return Err(broken_pipe());
        };
        let Feed::Stream(q) = &mut p.feed else {
            return Err(Error::NoStdin);
        };
        if q.broken {
            return Err(broken_pipe());
        }
        let n = q.queue.len();
        if n > 0 {
            q.want_ready = true;
        }
        Ok(n)
    }

    /// The token of the child's open stdin stream. A child that is done
    /// has none: its stream is closed, as between runs.
    fn stdin_token(&self, id: ChildId) -> Result<usize> {
        let Some(child) = self.children.get(id) else {
            return Err(if self.children.issued(id) {
                broken_pipe()
            } else {
                Error::UnknownChild
            });
        };
        match child.stdin {
            StdinState::NotPiped | StdinState::Feeding(_) => Err(Error::NoStdin),
            StdinState::Closed => Err(broken_pipe()),
            StdinState::Open(t) => Ok(t as usize),
        }
    }

    /// Queues a write turn for stdin pipe `token`, unless one is.
    fn owe_write(&mut self, token: usize) {
        if let Some(p) = self.pipes.in_mut(token) {
            if let Feed::Stream(q) = &mut p.feed {
                if !q.owed {
                    q.owed = true;
                    self.owed_work.push(OwedWork::FeedStdin(token));
                }
            }
        }
    }

    /// Writes what stdin pipe `token` has to write, until the pipe is full;
    /// closes it when all is written and nothing more will come, or when
    /// the child stopped reading.
    pub(super) fn feed_stdin(&mut self, token: usize, ctx: &mut Ctx<'_>) {
        let Some((p, room)) = self.pipes.in_and_room(token) else {
            return;
        };
        let (q, fd) = match &mut p.feed {
            Feed::Bytes { data, pos } => {
                while *pos < data.len() {
                    match sys::write(&p.fd, &data[*pos..]) {
                        Ok(n) => *pos += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        // EPIPE: the child closed its stdin or exited before
                        // reading it all; what it did not read is not ours
                        // to deliver.
                        Err(_) => break,
                    }
                }
                // All written (or unwritable): closing is the child's EOF.
                let child = p.child;
                self.pipes.remove(self.poll.registry(), token);
                let feeding = StdinState::Feeding(token as u32);
                if self.children.at(child).is_some_and(|c| c.stdin == feeding) {
                    self.children.at_mut(child).stdin = StdinState::NotPiped;
                }
                return;
            }
            Feed::Stream(q) => (q, &p.fd),
        };
        q.owed = false;
        while !q.broken && !q.queue.is_empty() {
            match sys::write(fd, q.queue.as_slices().0) {
                Ok(n) => drop(q.queue.drain(..n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !grow(q, fd, room) {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => q.broken = true,
            }
        }
        if q.broken || (q.closing && q.queue.is_empty()) {
            let child = p.child;
            self.close_stdin_pipe(child, token, ctx);
            return;
        }
        if q.queue.is_empty() && q.queue.capacity() > KEEP {
            q.queue.shrink_to(KEEP);
        }
        if q.want_ready && q.queue.len() <= STDIN_QUEUE / 2 {
            q.want_ready = false;
            let id = self.children.id_of(p.child);
            ctx.emit(Event::StdinReady { id });
        }
    }

    /// Closes the stdin stream of child `index`'s run, which was reaped:
    /// nobody will read what is still queued.
    pub(super) fn end_stdin(&mut self, index: u32, ctx: &mut Ctx<'_>) {
        match self.children.at_mut(index).stdin {
            StdinState::Open(token) => self.close_stdin_pipe(index, token as usize, ctx),
            StdinState::Feeding(token) => {
                // Bytes the run never read are not ours to deliver (as on
                // EPIPE); a holder outside the run must not keep the pipe,
                // and with it an fd of the run, open after its exit.
                self.pipes.remove(self.poll.registry(), token as usize);
                self.children.at_mut(index).stdin = StdinState::NotPiped;
            }
            StdinState::NotPiped | StdinState::Closed => {}
        }
    }

    fn close_stdin_pipe(&mut self, index: u32, token: usize, ctx: &mut Ctx<'_>) {
        let unwritten = match self.pipes.remove(self.poll.registry(), token) {
            Some(Source::In(p)) => match p.feed {
                Feed::Stream(q) => q.queue.len(),
                Feed::Bytes { .. } => 0,
            },
            _ => 0,
        };
        let c = self.children.at_mut(index);
        if c.stdin == StdinState::Open(token as u32) {
            c.stdin = StdinState::Closed;
        }
        let id = self.children.id_of(index);
        ctx.emit(Event::StdinClosed { id, unwritten });
    }
}

/// Grows a stream's pipe once, the first time the child falls behind
/// while the [`GrowthRoom`] allows: fewer, larger writes. True if the pipe has
/// more room now.
fn grow(q: &mut StdinQueue, fd: &std::os::fd::OwnedFd, room: &GrowthRoom) -> bool {
    if q.grow_tried {
        return false;
    }
    let Some(taken) = room.grow(fd, DEFAULT_PIPE) else {
        return false;
    };
    q.grow_tried = true;
    if taken as usize == GROWN {
        q.grown = true;
    } else {
        // Never so (the kernel rounds a size up); were it, the flag could
        // not give the partial amount back, so it goes back now.
        room.give_back(taken as usize);
    }
    taken > 0
}
