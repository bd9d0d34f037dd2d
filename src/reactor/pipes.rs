//! The reactor's side of a child's pipes: registration, reading output
//! into lines under the read budget, feeding stdin, closing.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use mio::unix::SourceFd;
use mio::{Interest, Token};

use super::{Ctx, Event, Reactor, Ready, Source, BIG_PIPE};
use crate::exit::{ChildId, Stream};
use crate::sys;

impl Reactor {
    pub(super) fn register(
        &self,
        token: usize,
        fd: &OwnedFd,
        interest: Interest,
    ) -> io::Result<()> {
        self.poll
            .registry()
            .register(&mut SourceFd(&fd.as_raw_fd()), Token(token), interest)
    }

    pub(super) fn register_source(&self, token: usize, interest: Interest) -> io::Result<()> {
        match &self.sources[token] {
            Some(Source::Out(p)) => self.register(token, &p.fd, interest),
            Some(Source::In(p)) => self.register(token, &p.fd, interest),
            _ => Ok(()),
        }
    }

    pub(super) fn deregister(&self, fd: &OwnedFd) {
        // Deregister before the fd is closed: a copy held by a grandchild
        // would keep the epoll entry alive and deliver its events to
        // whatever reuses the number.
        let _ = self
            .poll
            .registry()
            .deregister(&mut SourceFd(&fd.as_raw_fd()));
    }

    pub(super) fn alloc_source(&mut self, s: Source) -> usize {
        match self.free_sources.pop() {
            Some(t) => {
                self.sources[t] = Some(s);
                t
            }
            None => {
                self.sources.push(Some(s));
                self.sources.len() - 1
            }
        }
    }

    pub(super) fn free_source(&mut self, token: usize) -> Option<Source> {
        let s = self.sources.get_mut(token)?.take()?;
        match &s {
            Source::Out(p) => self.deregister(&p.fd),
            Source::In(p) => self.deregister(&p.fd),
        }
        self.free_sources.push(token);
        Some(s)
    }

    /// Reads a pipe until it would block, reaches EOF, is paused, or `limit`
    /// bytes were read (then more is owed on the next turn).
    pub(super) fn read_pipe(&mut self, token: usize, limit: usize, ctx: &mut Ctx<'_>) -> ReadEnd {
        let mut total = 0;
        loop {
            let Reactor {
                sources,
                children,
                buf,
                ..
            } = self;
            let Some(Some(Source::Out(p))) = sources.get_mut(token) else {
                return ReadEnd::Closed;
            };
            let slot = &children[p.child as usize];
            let Some(child) = &slot.child else {
                return ReadEnd::Closed;
            };
            if child.paused {
                return ReadEnd::Paused;
            }
            let id = ChildId {
                index: p.child,
                generation: slot.generation,
            };
            let stream = p.stream;
            match sys::read(&p.fd, buf) {
                Ok(0) => {
                    p.reader.finish(|l| ctx.emit(line(id, stream, l)));
                    self.close_pipe(token, ctx);
                    return ReadEnd::Closed;
                }
                Ok(n) => {
                    if n >= p.capacity && !p.grow_tried {
                        // The pipe was full: the child outpaces us one pipe
                        // at a time. A bigger pipe means fewer wake-ups.
                        p.grow_tried = true;
                        if let Ok(c) = sys::grow_pipe(&p.fd, BIG_PIPE) {
                            p.capacity = c;
                        }
                    }
                    p.reader.feed(&buf[..n], |l| ctx.emit(line(id, stream, l)));
                    total += n;
                    self.apply_requests(ctx);
                    if total >= limit {
                        self.owe_read(token);
                        return ReadEnd::Limit;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ReadEnd::Empty,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    p.reader.finish(|l| ctx.emit(line(id, stream, l)));
                    self.close_pipe(token, ctx);
                    return ReadEnd::Closed;
                }
            }
        }
    }

    /// Reads what a reaped run left in pipe `token`: all of it, and its last
    /// line even without `\n`, so all of the run's output comes before its
    /// exit. Returns false if a pause stopped the read.
    ///
    /// The run is dead, so the pipe holds at most its capacity of the run's
    /// bytes; one read past that sees the EOF (or EAGAIN when a process
    /// outside the group still holds the pipe, whose writes are not the
    /// run's and must not hold up its exit). The capacity procrun knows is
    /// the one it set; the child may have grown the pipe itself, which a
    /// read that reaches the known capacity asks the kernel about.
    pub(super) fn read_after_exit(&mut self, token: usize, ctx: &mut Ctx<'_>) -> bool {
        let cap = match self.sources.get(token) {
            Some(Some(Source::Out(p))) => p.capacity,
            _ => return true,
        };
        let mut end = self.read_pipe(token, cap.saturating_add(1), ctx);
        if end == ReadEnd::Limit {
            let size = match self.sources.get(token) {
                Some(Some(Source::Out(p))) => sys::pipe_size(&p.fd).unwrap_or(cap),
                _ => return true,
            };
            end = self.read_pipe(token, size.saturating_add(1), ctx);
        }
        if end == ReadEnd::Empty {
            // No EOF: another process holds the pipe (an escaped grandchild,
            // or a child another thread is spawning, which holds a copy of
            // every fd until its exec). The run's last line ends with the
            // run, so it comes before the exit; later bytes are not the
            // run's and start a line of their own.
            if let Some(Some(Source::Out(p))) = self.sources.get_mut(token) {
                let id = ChildId {
                    index: p.child,
                    generation: self.children[p.child as usize].generation,
                };
                let stream = p.stream;
                p.reader.finish(|l| ctx.emit(line(id, stream, l)));
            }
        }
        end != ReadEnd::Paused
    }

    /// Queues a read of pipe `token` for the next turn, unless one is.
    pub(super) fn owe_read(&mut self, token: usize) {
        if let Some(Some(Source::Out(p))) = self.sources.get_mut(token) {
            if !p.owed {
                p.owed = true;
                self.ready.push(Ready::Read(token));
            }
        }
    }

    pub(super) fn close_pipe(&mut self, token: usize, ctx: &mut Ctx<'_>) {
        let Some(Source::Out(mut p)) = self.free_source(token) else {
            return;
        };
        if let Some(k) = p.drain_timer.take() {
            self.wheel.cancel(k);
        }
        // Lines held back at a drain cut-off still reach the caller.
        let index = p.child;
        let id = self.id_of(index);
        let stream = p.stream;
        p.reader.finish(|l| ctx.emit(line(id, stream, l)));
        drop(p);
        let c = self.child_mut(index);
        c.open_pipes -= 1;
        for slot in &mut c.pipes {
            if *slot == Some(token) {
                *slot = None;
            }
        }
        ctx.emit(Event::Closed { id, stream });
        self.maybe_done(index, ctx);
    }

    pub(super) fn write_stdin(&mut self, token: usize) {
        let Some(Some(Source::In(p))) = self.sources.get_mut(token) else {
            return;
        };
        loop {
            if p.pos == p.data.len() {
                break;
            }
            match sys::write(&p.fd, &p.data[p.pos..]) {
                Ok(n) => p.pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // EPIPE: the child closed its stdin or exited before reading
                // it all; what it did not read is not ours to deliver.
                Err(_) => break,
            }
        }
        // All written (or unwritable): closing is the child's EOF.
        self.free_source(token);
    }

    pub(super) fn do_resume(&mut self, index: u32) {
        let c = self.child_mut(index);
        if !c.paused {
            return;
        }
        c.paused = false;
        // Edge-triggered: data that arrived while paused raises no new edge.
        let pipes = c.pipes;
        for t in pipes.into_iter().flatten() {
            self.owe_read(t);
        }
        for t in 0..self.sources.len() {
            if matches!(&self.sources[t], Some(Source::Out(p)) if p.child == index) {
                self.owe_read(t);
            }
        }
        self.ready.push(Ready::FinishExit(index));
    }
}

/// Why [`Reactor::read_pipe`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ReadEnd {
    /// The pipe is empty for now (EAGAIN).
    Empty,
    /// EOF or an error: the pipe was closed (or was not there).
    Closed,
    /// The byte limit was reached; a read is owed on the next turn.
    Limit,
    /// The child is paused.
    Paused,
}

pub(super) fn line<'a>(id: ChildId, stream: Stream, l: crate::lines::Line<'a>) -> Event<'a> {
    Event::Line {
        id,
        stream,
        line: l.bytes(),
        partial: l.is_partial(),
    }
}
