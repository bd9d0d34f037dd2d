//! The state every handle of one [`Driver`](super::Driver) shares: the
//! reactor, what each child's handle has not taken yet, and the task that
//! drives the reactor from the runtime's I/O driver.
//!
//! # Why a task, and a lock
//!
//! One task per driver (the pump) waits on the reactor's epoll fd through
//! tokio's own I/O driver (`AsyncFd`), on the reactor's next timer, and on
//! a `Notify` that handles raise when they changed the reactor; it polls
//! the reactor with a zero timeout and files each event into the child's
//! slot, waking the task waiting on it. Handles act on the reactor directly
//! under the lock (a spawn, a signal, a stop: no channel, no reply to await)
//! and read their slot under it. Only the pump ever polls, so there is no
//! contest for `AsyncFd`'s single waker, and a future dropped mid-wait
//! loses nothing: what it waited for lands in the slot whoever is waiting.
//!
//! The lock is held for a turn of the reactor or a call on it, never
//! across an `.await`.
//!
//! # When the runtime goes
//!
//! A pump dies with its runtime. The driver knows its pump by a token the
//! pump's future holds from its creation, so a pump dropped before it
//! ever ran (its runtime gone first) is known to be gone too. A pump that
//! ran wakes every waiting handle as it ends; the next handle polled (on
//! whatever runtime it runs now) starts a new pump there. The reactor and
//! its children live on in the shared state meanwhile.

use std::collections::{HashMap, VecDeque};
use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Poll, Waker};
use std::time::Duration;

use ::tokio::io::unix::AsyncFd;
use ::tokio::io::Interest;
use ::tokio::sync::Notify;

pub(super) use super::lines::LINE_BUFFER;
use super::lines::{held, Lines, Spare, CARRIED_MAX};
use super::queue::Queue;
use crate::child::{ChildId, Stream};
use crate::error::{Error, Result};
use crate::exit::{Exit, StageExit};
use crate::lines::LineReader;
use crate::reactor::{read_lines_into, Control, Event, Handler, Reactor};
use crate::spawn::SpawnFds;

/// What a pipe reads in a turn of the pump ([`TURN_TOTAL`] bounds the
/// turn across pipes): small turns, whose lines the tasks take
/// while they are in the cache. With 10 children streaming, the
/// consumer's CPU per GB fell by a quarter against the reactor's own 4 MiB
/// (benches/tokio.rs, lines).
pub(super) const TURN_READ: usize = 64 * 1024;

/// What all pipes together read in a turn of the pump (an exit's rest
/// aside): with many children streaming at once, what the turn files for
/// the tasks still fits in the cache when they take it.
const TURN_TOTAL: usize = 256 * 1024;

pub(crate) struct Core {
    pub(super) state: Mutex<State>,
    /// What starting a child takes from the reactor, kept here so that
    /// spawns run outside the lock.
    pub(super) use_pidfd: bool,
    pub(super) spawn_fds: Arc<SpawnFds>,
    /// Raised by handles that changed the reactor (a spawn owes a
    /// `Started`, a stop arms a timer): the pump looks again.
    pub(super) notify: Notify,
    /// The pump stays with nothing to drive (it holds the core, so the
    /// reactor lives as long as the runtime runs the pump): the runtime's
    /// shared driver, which one-shot spawns would otherwise make anew,
    /// reactor, fds and task, each time.
    lasting: bool,
}

pub(super) struct State {
    pub(super) reactor: Reactor,
    pub(super) slots: Slots,
    /// The driver's event stream, while one is out: the events of its
    /// children, which have no slot.
    pub(super) events: Option<Box<Queue>>,
    /// The running pump's token: alive while its future exists.
    pump: Weak<()>,
}

/// Who reads a stream's raw bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Reader {
    /// Not a raw stream: its lines go to `next_line`.
    #[default]
    Lines,
    /// A raw stream whose reader is not taken: its bytes wait for it or
    /// for `output`.
    Untaken,
    /// Its reader is out: the slot stays while it lives.
    Live,
    /// Its reader was dropped: its bytes are dropped.
    Dropped,
}

/// The slots of a driver's children, at their index in the reactor's slab
/// (dense, and reused as children go): no hashing on every event, and no
/// more room than the vector's growth leaves (a hash map keeps up to half
/// its buckets empty, which doubled the slots' cost per idle child).
///
/// The reactor gives a gone child's index to the next one while the
/// gone child's handle may still hold its slot (its exit not taken): such
/// a slot moves to `older`, keyed by the whole id.
#[derive(Default)]
pub(super) struct Slots {
    by_index: Vec<Option<(ChildId, Slot)>>,
    older: HashMap<ChildId, Slot>,
    len: usize,
    /// Segments for the lines of any child.
    pub(super) spare: Spare,
}

impl Slots {
    pub(super) fn get(&self, id: &ChildId) -> Option<&Slot> {
        match self.by_index.get(id.index as usize)? {
            Some((held, slot)) if held == id => Some(slot),
            _ => self.older.get(id),
        }
    }

    /// The slot of `id`, with the segments spare.
    pub(super) fn get_mut_and_spare(&mut self, id: &ChildId) -> (Option<&mut Slot>, &mut Spare) {
        let slot = match self.by_index.get_mut(id.index as usize) {
            Some(Some((held, slot))) if held == id => Some(slot),
            _ => self.older.get_mut(id),
        };
        (slot, &mut self.spare)
    }

    pub(super) fn get_mut(&mut self, id: &ChildId) -> Option<&mut Slot> {
        match self.by_index.get_mut(id.index as usize)? {
            Some((held, slot)) if held == id => Some(slot),
            _ => self.older.get_mut(id),
        }
    }

    /// Keeps `slot` for `id`, a child the reactor just issued.
    pub(super) fn insert(&mut self, id: ChildId, slot: Slot) {
        let i = id.index as usize;
        if i >= self.by_index.len() {
            self.by_index.resize_with(i + 1, || None);
        }
        if let Some((old, old_slot)) = self.by_index[i].replace((id, slot)) {
            self.older.insert(old, old_slot);
        }
        self.len += 1;
    }

    pub(super) fn remove(&mut self, id: &ChildId) -> Option<Slot> {
        let entry = self.by_index.get_mut(id.index as usize)?;
        let slot = match entry {
            Some((held, _)) if held == id => entry.take().map(|(_, slot)| slot),
            _ => self.older.remove(id),
        };
        if slot.is_some() {
            self.len -= 1;
        }
        slot
    }

    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut Slot> {
        let current = self.by_index.iter_mut().flatten().map(|(_, slot)| slot);
        current.chain(self.older.values_mut())
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// What one child's handle has not taken yet.
///
/// Kept small (a thousand idle children hold a thousand of these): the
/// exit and the state of raw streams and a stdin stream are boxed, made
/// only when the child is done or has such a stream.
#[derive(Default)]
pub(super) struct Slot {
    pub(super) pid: Option<u32>,
    /// The final exit, once the child is done.
    done: Option<Box<Exit>>,
    pub(super) lines: Lines,
    /// What `lines` and the raw streams count toward [`LINE_BUFFER`].
    pub(super) buffered: usize,
    pub(super) paused: bool,
    /// Keep every byte, unbounded: an `output()` is collecting.
    pub(super) collect: bool,
    /// The handle is gone: output is dropped, and the slot with the Done.
    pub(super) orphan: bool,
    pub(super) waker: Option<Waker>,
    /// For a child with a raw stream or a stdin stream.
    pub(super) io: Option<Box<Io>>,
}

/// A child's raw streams and stdin stream.
#[derive(Default)]
pub(super) struct Io {
    /// The bytes of `Output::Raw` streams, stdout then stderr.
    pub(super) raw: [VecDeque<u8>; 2],
    /// Which of them reached their end.
    pub(super) closed: [bool; 2],
    /// Who reads each stream's raw bytes.
    pub(super) reader: [Reader; 2],
    /// The tasks reading stdout and stderr, waiting for bytes.
    pub(super) read_waker: [Option<Waker>; 2],
    /// The child's stdin is a stream, not taken yet.
    pub(super) stdin: bool,
    /// The current run's stdin stream is closed (its `StdinClosed` came).
    pub(super) stdin_closed: bool,
    /// The task writing to the child's stdin, waiting for room.
    pub(super) stdin_waker: Option<Waker>,
    /// For a pipeline, the ends of its current run's stages so far.
    pub(super) stages: Vec<StageExit>,
}

impl Slot {
    /// A slot for a child whose streams are as given.
    pub(super) fn new(pid: Option<u32>, stdin: bool, raw: [bool; 2]) -> Slot {
        let io = (stdin || raw.contains(&true)).then(|| {
            Box::new(Io {
                stdin,
                reader: raw.map(|r| if r { Reader::Untaken } else { Reader::Lines }),
                ..Io::default()
            })
        });
        Slot {
            pid,
            io,
            ..Slot::default()
        }
    }

    /// The slot of a pipeline when `pipeline`: its stages' ends are kept
    /// (beside the streams, made only for the children that need them).
    pub(super) fn with_stages(mut self, pipeline: bool) -> Slot {
        if pipeline && self.io.is_none() {
            self.io = Some(Box::default());
        }
        self
    }

    /// The final exit, once the child is done.
    pub(super) fn done(&self) -> Option<Exit> {
        self.done.as_deref().copied()
    }

    /// Who reads stream `i`'s raw bytes.
    pub(super) fn reader(&self, i: usize) -> Reader {
        self.io.as_ref().map_or(Reader::Lines, |io| io.reader[i])
    }

    fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    fn wake_stdin(&mut self) {
        if let Some(io) = &mut self.io {
            wake(&mut io.stdin_waker);
        }
    }

    /// Wakes every task waiting on the slot.
    fn wake_all(&mut self) {
        self.wake();
        if let Some(io) = &mut self.io {
            wake(&mut io.stdin_waker);
            io.read_waker.iter_mut().for_each(wake);
        }
    }

    /// Swaps the lines waiting into `taken`, whose own lines must all be
    /// out, and its buffers into the slot for the next lines; whether the
    /// child was paused and may go on.
    pub(super) fn take_lines(&mut self, taken: &mut Lines, spare: &mut Spare) -> bool {
        taken.clear(spare);
        std::mem::swap(taken, &mut self.lines);
        self.buffered -= taken.held();
        self.taken()
    }

    /// Copies raw bytes of stream `i` into `buf`, as many as fit; whether
    /// the child was paused and may go on.
    pub(super) fn take_raw(&mut self, i: usize, buf: &mut ::tokio::io::ReadBuf<'_>) -> bool {
        let Some(io) = &mut self.io else {
            return false;
        };
        let raw = &mut io.raw[i];
        let n = raw.len().min(buf.remaining());
        let (a, b) = raw.as_slices();
        let from_a = n.min(a.len());
        buf.put_slice(&a[..from_a]);
        buf.put_slice(&b[..n - from_a]);
        raw.drain(..n);
        if raw.is_empty() {
            // Read to the end: its memory goes back to the allocator, for
            // the next bytes of any child. Kept, it stayed as large as the
            // most this stream ever held waiting, for each of a thousand
            // children streaming at once (and their readers' next bytes
            // landed in memory long out of the cache).
            *raw = VecDeque::new();
        }
        self.buffered -= n;
        self.taken()
    }

    /// After a take: whether a pause for want of a reader is over.
    fn taken(&mut self) -> bool {
        let resume = self.paused && self.buffered <= LINE_BUFFER / 2;
        if resume {
            self.paused = false;
        }
        resume
    }

    /// Drops what stream `i` holds and all it gets from now on: its
    /// reader is gone. Whether the child was paused and may go on.
    pub(super) fn discard(&mut self, i: usize) -> bool {
        if let Some(io) = &mut self.io {
            io.reader[i] = Reader::Dropped;
            io.read_waker[i] = None;
            self.buffered -= io.raw[i].len();
            io.raw[i] = VecDeque::new();
        }
        self.taken()
    }

    /// Whether nothing will take anything from the slot any more: the
    /// child's handle and every reader are gone.
    pub(super) fn unwanted(&self) -> bool {
        self.orphan && ![0, 1].iter().any(|&i| self.reader(i) == Reader::Live)
    }

    /// Parks the reader of stream `i`.
    pub(super) fn park_reader(&mut self, i: usize, waker: &Waker) {
        if let Some(io) = &mut self.io {
            park(&mut io.read_waker[i], waker);
        }
    }

    /// Pauses the child if its buffers are past the bound. The pause is
    /// the reactor's for a bound, which holds a live run only: a run
    /// that ends anyway (stopped, killed, timed out) has what its pipes
    /// still hold taken past the bound, and its exit comes, so a
    /// `stop()` or a `kill()` and `wait()` waits for no take.
    fn bound(&mut self, ctl: &mut Control<'_>, id: ChildId) {
        if !self.collect && !self.paused && self.buffered > LINE_BUFFER {
            self.paused = true;
            ctl.pause_bound(id);
        }
    }

    /// Lifts a pause for want of a reader; whether there was one.
    pub(super) fn take_resume(&mut self) -> bool {
        std::mem::take(&mut self.paused)
    }

    /// Registers `waker` for the next change of this slot.
    pub(super) fn park(&mut self, waker: &Waker) {
        park(&mut self.waker, waker);
    }
}

/// Keeps `waker` in `slot`, unless what is there wakes the same task.
pub(super) fn park(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(w) if w.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

impl Core {
    /// A core whose task, once started, stays while its runtime lives when
    /// `lasting` (the runtime's shared driver), or ends when nothing is
    /// left to drive.
    pub(super) fn new(lasting: bool) -> Result<Arc<Core>> {
        let mut reactor = Reactor::new()?;
        reactor.set_read_budget(TURN_READ);
        reactor.set_turn_budget(TURN_TOTAL);
        let (use_pidfd, spawn_fds) = reactor.spawn_context();
        Ok(Arc::new(Core {
            state: Mutex::new(State {
                reactor,
                slots: Slots::default(),
                events: None,
                pump: Weak::new(),
            }),
            use_pidfd,
            spawn_fds,
            notify: Notify::new(),
            lasting,
        }))
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic under the lock (a bug) leaves state that is still whole:
        // each change to it is a single assignment or call.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the pump on the current runtime unless one runs.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when called outside a tokio runtime.
    pub(super) fn ensure_pump(self: &Arc<Core>, state: &mut State) -> Result<()> {
        if state.pump.strong_count() > 0 {
            return Ok(());
        }
        let handle =
            ::tokio::runtime::Handle::try_current().map_err(|e| Error::Io(io::Error::other(e)))?;
        // A dup of the reactor's epoll fd: the registration with tokio is
        // the pump's, and ends with it, while the reactor lives on here.
        let fd = state.reactor.as_fd().try_clone_to_owned()?;
        let token = Arc::new(());
        state.pump = Arc::downgrade(&token);
        handle.spawn(pump(Arc::clone(self), fd, token));
        Ok(())
    }

    /// Wakes the pump to look at the reactor again.
    pub(super) fn kick(&self) {
        self.notify.notify_one();
    }
}

impl State {
    /// Polls the reactor once without waiting and files its events.
    fn turn(&mut self) -> Result<()> {
        let State {
            reactor,
            slots,
            events,
            ..
        } = self;
        reactor.poll_with(Some(Duration::ZERO), &mut Filer { slots, events })
    }
}

/// Files a turn's events into the slots ([`file`]), and the lines of a
/// read together: one look-up of the child and one wake for all of them.
struct Filer<'a> {
    slots: &'a mut Slots,
    events: &'a mut Option<Box<Queue>>,
}

impl Handler for Filer<'_> {
    #[inline]
    fn on(&mut self, ctl: &mut Control<'_>, ev: Event<'_>) {
        file(self.slots, self.events, ctl, ev);
    }

    fn as_dyn(&mut self) -> &mut dyn Handler {
        self
    }

    fn lines(
        &mut self,
        ctl: &mut Control<'_>,
        id: ChildId,
        stream: Stream,
        reader: &mut LineReader,
        bytes: &[u8],
    ) {
        let (slot, spare) = self.slots.get_mut_and_spare(&id);
        match slot {
            Some(slot) if !slot.orphan => {
                let mut added = 0;
                let lines = &mut slot.lines;
                reader.feed(bytes, |l| {
                    added += held(l.bytes());
                    lines.push(spare, stream, l.bytes(), l.is_partial());
                });
                if added > 0 {
                    slot.buffered += added;
                    slot.bound(ctl, id);
                    slot.wake();
                }
            }
            // An orphan's lines are dropped; so is what it holds back.
            Some(_) => reader.feed(bytes, |_| {}),
            None => {
                let events = &mut *self.events;
                reader.feed(bytes, |l| {
                    if let Some(queue) = events {
                        queue.file(ctl, crate::reactor::line(id, stream, l));
                    }
                });
            }
        }
    }

    /// A child with a slot has its pipe read into its slot's segments,
    /// its lines filed where the read put them ([`Lines::read_from`]);
    /// others, and a line in progress too long to carry from segment to
    /// segment, are read as the reactor reads.
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
        let (slot, spare) = self.slots.get_mut_and_spare(&id);
        match slot {
            Some(slot) if !slot.orphan && reader.pending() <= CARRIED_MAX => {
                let (n, added) = slot.lines.read_from(spare, stream, reader, fd, buf.len())?;
                if added > 0 {
                    slot.buffered += added;
                    slot.bound(ctl, id);
                    slot.wake();
                }
                Ok(n)
            }
            _ => read_lines_into(self, ctl, id, stream, reader, fd, buf),
        }
    }
}

/// Files one event into its child's slot, or into the event stream of
/// a child without one.
fn file(
    slots: &mut Slots,
    events: &mut Option<Box<Queue>>,
    ctl: &mut Control<'_>,
    event: Event<'_>,
) {
    let id = event.id();
    let (Some(slot), spare) = slots.get_mut_and_spare(&id) else {
        if let Some(queue) = events {
            queue.file(ctl, event);
        }
        return;
    };
    match event {
        Event::Started { pid, .. } => {
            slot.pid = Some(pid);
            // A new run, a new stream, new stages.
            if let Some(io) = &mut slot.io {
                io.stdin_closed = false;
                io.stages.clear();
            }
        }
        Event::Exited(_) => {
            slot.pid = None;
            slot.wake_stdin();
        }
        Event::StdinReady { .. } => {
            slot.wake_stdin();
            return;
        }
        Event::StageExited(e) => {
            if let Some(io) = &mut slot.io {
                io.stages.push(e);
            }
            return;
        }
        Event::StdinClosed { .. } => {
            if let Some(io) = &mut slot.io {
                io.stdin_closed = true;
            }
            slot.wake_stdin();
            return;
        }
        Event::Line {
            stream,
            line,
            partial,
            ..
        } if !slot.orphan => {
            slot.buffered += held(line);
            slot.lines.push(spare, stream, line, partial);
            slot.bound(ctl, id);
        }
        // An orphan's raw streams are `Dropped` but for a reader out.
        Event::Data { stream, bytes, .. } => {
            let i = index(stream);
            let Some(io) = slot
                .io
                .as_mut()
                .filter(|io| io.reader[i] != Reader::Dropped)
            else {
                return;
            };
            io.raw[i].extend(bytes);
            wake(&mut io.read_waker[i]);
            slot.buffered += bytes.len();
            slot.bound(ctl, id);
        }
        Event::Closed { stream, .. } => {
            if let Some(io) = &mut slot.io {
                let i = index(stream);
                io.closed[i] = true;
                wake(&mut io.read_waker[i]);
            }
            return;
        }
        Event::Done { exit, .. } => {
            slot.pid = None;
            slot.wake_stdin();
            slot.done = Some(Box::new(exit));
            if let Some(io) = &mut slot.io {
                io.stdin_closed = true;
            }
            if slot.unwanted() {
                slots.remove(&id);
                return;
            }
        }
        _ => return,
    }
    slot.wake();
}

pub(super) fn index(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

fn wake(waker: &mut Option<Waker>) {
    if let Some(w) = waker.take() {
        w.wake();
    }
}

/// Ends the pump's token when the pump ends (its runtime shut down, or it
/// had nothing left to do) and wakes every waiting handle, so one of them
/// starts a new pump where it runs.
struct Unpumped(Arc<Core>, Option<Arc<()>>);

impl Drop for Unpumped {
    fn drop(&mut self) {
        // Before the wakes: a handle woken sees the pump gone.
        drop(self.1.take());
        let mut state = self.0.lock();
        for slot in state.slots.values_mut() {
            slot.wake_all();
        }
        if let Some(queue) = &mut state.events {
            queue.wake();
        }
    }
}

/// Registers `fd` with the current runtime's I/O driver.
///
/// The crate's one `unsafe` outside `sys`: tokio asks its caller to
/// promise the fd stays the same open file for the registration's life.
#[allow(unsafe_code)]
fn register(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: the `AsyncFd` owns the `OwnedFd`, which is open from its
    // creation to its drop (after the `AsyncFd` deregisters it) and whose
    // `as_raw_fd` always gives the same fd.
    unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.map_err(io::Error::from)
}

/// The driver's task. `token` lives as long as the future, polled or not.
async fn pump(core: Arc<Core>, fd: OwnedFd, token: Arc<()>) {
    let _unpumped = Unpumped(Arc::clone(&core), Some(token));
    let fd = match register(fd) {
        Ok(fd) => fd,
        // The handles see the pump gone and try again; a runtime whose I/O
        // driver refuses the fd refuses it again, and each try says so to
        // nobody: nothing better is known here.
        Err(_) => return,
    };
    loop {
        let timeout = {
            let mut state = core.lock();
            if state.turn().is_err() {
                return;
            }
            if !core.lasting && state.slots.is_empty() && state.reactor.is_empty() {
                // Nothing to drive: the next spawn starts a pump again.
                return;
            }
            state.reactor.next_timeout()
        };
        // The tasks this turn woke take what it filed before the next turn
        // reads on, while it is in the cache; and the runtime's budget
        // would let the pump run a hundred turns first (its fd is ready
        // again at once while children write), filing up to the bound for
        // each child, in memory long out of the cache.
        ::tokio::task::yield_now().await;
        if timeout == Some(Duration::ZERO) {
            // Reads owed ([`TURN_READ`]): on at once, not through the
            // timer.
            continue;
        }
        let mut sleep = pin!(timeout.map(::tokio::time::sleep));
        let mut notified = pin!(core.notify.notified());
        let go_on = poll_fn(|cx| {
            match fd.poll_read_ready(cx) {
                // Cleared before the turn drains the epoll fd, so news
                // arriving meanwhile raises a new edge for the next wait.
                Poll::Ready(Ok(mut guard)) => {
                    guard.clear_ready();
                    return Poll::Ready(true);
                }
                // The runtime is shutting down: the next one takes over.
                Poll::Ready(Err(_)) => return Poll::Ready(false),
                Poll::Pending => {}
            }
            if let Some(s) = sleep.as_mut().as_pin_mut() {
                if s.poll(cx).is_ready() {
                    return Poll::Ready(true);
                }
            }
            notified.as_mut().poll(cx).map(|()| true)
        })
        .await;
        if !go_on {
            return;
        }
    }
}

/// Waits on `slot` of `id` until `ready` gives a value, starting a pump
/// where none runs.
pub(super) fn poll_slot<T>(
    core: &Arc<Core>,
    id: ChildId,
    cx: &mut std::task::Context<'_>,
    mut ready: impl FnMut(&mut State) -> Option<T>,
) -> Poll<Result<T>> {
    let mut state = core.lock();
    if let Some(v) = ready(&mut state) {
        return Poll::Ready(Ok(v));
    }
    if let Err(e) = core.ensure_pump(&mut state) {
        return Poll::Ready(Err(e));
    }
    if let Some(slot) = state.slots.get_mut(&id) {
        slot.park(cx.waker());
    }
    Poll::Pending
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Command;

    /// A raw stream read to its end holds no memory until its next bytes.
    #[test]
    fn a_raw_stream_read_to_its_end_gives_its_memory_back() {
        let mut slot = Slot::new(None, false, [true, false]);
        let io = slot.io.as_mut().unwrap();
        io.raw[0].extend(vec![b'x'; 100_000]);
        slot.buffered = 100_000;
        let mut out = vec![0; 60_000];
        let mut buf = ::tokio::io::ReadBuf::new(&mut out);
        slot.take_raw(0, &mut buf);
        let io = slot.io.as_ref().unwrap();
        assert_eq!(io.raw[0].len(), 40_000);
        assert!(
            io.raw[0].capacity() >= 40_000,
            "bytes still waiting keep theirs"
        );
        let mut buf = ::tokio::io::ReadBuf::new(&mut out);
        slot.take_raw(0, &mut buf);
        assert_eq!(buf.filled().len(), 40_000);
        let io = slot.io.as_ref().unwrap();
        assert_eq!(io.raw[0].capacity(), 0, "kept {}", io.raw[0].capacity());
        assert_eq!(slot.buffered, 0);
    }

    /// The shared driver stays while its runtime lives, with no handle
    /// and no child left (the next spawn, a periodic check's, finds its
    /// reactor and task ready), and goes with the runtime.
    #[test]
    fn the_shared_driver_lives_as_long_as_its_runtime() {
        let rt = ::tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let weak = rt.block_on(async {
            let weak = Arc::downgrade(&super::super::Driver::shared().unwrap().core);
            assert!(weak.upgrade().is_some(), "gone with its last handle");
            let mut child = super::super::spawn(&Command::new("true")).unwrap();
            assert!(child.wait().await.unwrap().success());
            drop(child);
            // Turns of the task with nothing left to drive.
            for _ in 0..20 {
                ::tokio::task::yield_now().await;
            }
            let again = super::super::Driver::shared().unwrap();
            let kept = weak.upgrade().expect("gone once idle");
            assert!(Arc::ptr_eq(&again.core, &kept), "a new driver");
            weak
        });
        drop(rt);
        assert!(weak.upgrade().is_none(), "the driver outlived its runtime");
    }

    /// A take swaps the waiting lines out and leaves the slot the
    /// handle's emptied segments, counting what was taken as taken.
    #[test]
    fn take_lines_swaps_the_batch_and_counts_it_taken() {
        let mut spare = Spare::default();
        let mut slot = Slot::default();
        let mut taken = Lines::default();
        for round in 0..3u8 {
            for i in 0..100u8 {
                slot.lines
                    .push(&mut spare, Stream::Stdout, &[round, i], false);
                slot.buffered += held(&[round, i]);
            }
            assert!(!slot.take_lines(&mut taken, &mut spare));
            assert_eq!(slot.buffered, 0);
            assert!(slot.lines.is_empty());
            let got: Vec<_> = std::iter::from_fn(|| taken.pop())
                .map(|l| l.bytes)
                .collect();
            assert_eq!(got, (0..100).map(|i| vec![round, i]).collect::<Vec<_>>());
        }
    }
}
