//! One owned stream of every event of a set of children, for a supervisor
//! loop that handles them all in one place rather than a handle per child.
//!
//! The driver keeps at most one [`Queue`](super::queue::Queue) (in its shared state, beside the
//! slots of the children that have a [`Child`](super::Child) handle): the
//! pump files there, as owned [`OwnedEvent`]s, the events of the children
//! [`Events::spawn`] started, which have no slot. The queue's output events
//! are bounded as a slot's lines are: past [`LINE_BUFFER`] of them, each
//! child whose output arrives is paused, and all are resumed once the
//! consumer took the queue below half of it. Other events (starts, exits,
//! the end) are never held back by the bound nor dropped: they are a few
//! per run.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream as AsyncStream;

use super::core::{park, Core};
use super::queue::OwnedEvent;
use super::{in_runtime, start, started};
use crate::child::ChildId;
use crate::command::Command;
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::signal::Signal;
use crate::spawn::Spec;

/// Every event of the children it started, owned, in one stream: for a
/// supervisor that handles its children in one loop rather than through
/// a [`Child`](super::Child) handle each. Made by [`Driver::events`]
/// (at most one per driver at a time); `Send + 'static`.
///
/// [`spawn`](Events::spawn) and [`spawn_pipeline`](Events::spawn_pipeline)
/// start children whose events all come here, and to no handle:
/// [`next`](Events::next) (or the [`Stream`](futures_core::Stream)) gives
/// them in the order the reactor made them (each child's in its own
/// order: `Started` first, its output before its `Exited`, `Done` last),
/// and ends, as tokio's `JoinSet::join_next` does, when none of its
/// children is left: every one done and its events taken. A child is
/// controlled through the stream by its id ([`signal`](Events::signal),
/// [`stop`](Events::stop), [`kill`](Events::kill), its stdin stream by
/// [`write_stdin`](Events::write_stdin) and
/// [`close_stdin`](Events::close_stdin)).
///
/// Output events waiting for the consumer are bounded: past 1 MiB of them
/// (an event counts its bytes and its place in the queue, so empty lines
/// are bounded too), each child whose output comes is paused (it blocks
/// on its next write) until the consumer takes them below half; the
/// events of a child's start and end are never held back nor dropped.
/// `next` takes every event waiting at once and hands them out one by
/// one, so up to twice that bound may be held for a slow consumer.
///
/// Dropping the stream kills every child of it that is not done, as
/// dropping a [`Child`](super::Child) does (a stop without grace:
/// `SIGKILL` to its process group, its cgroup's end for a contained
/// run); they are reaped as they end, and their events dropped.
///
/// [`Driver::events`]: super::Driver::events
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
/// use procrun::Command;
/// use procrun::tokio::{Driver, OwnedEventKind};
///
/// # ::tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// let mut events = Driver::shared()?.events()?;
/// let mut names = HashMap::new();
/// for (name, script) in [("ok", "echo fine"), ("bad", "echo oops >&2; exit 3")] {
///     let mut cmd = Command::new("sh");
///     cmd.args(["-c", script]);
///     names.insert(events.spawn(&cmd)?, name);
/// }
/// let (mut lines, mut ends) = (Vec::new(), Vec::new());
/// while let Some(event) = events.next().await? {
///     let name = names[&event.id];
///     match event.kind {
///         OwnedEventKind::Line(line) => lines.push(format!("{name}: {}", line.to_string_lossy())),
///         OwnedEventKind::Done { exit, .. } => ends.push((name, exit.code())),
///         _ => {}
///     }
/// }
/// lines.sort();
/// ends.sort();
/// assert_eq!(lines, ["bad: oops", "ok: fine"]);
/// assert_eq!(ends, [("bad", Some(3)), ("ok", Some(0))]);
/// # Ok::<(), procrun::Error>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Events {
    core: Arc<Core>,
    /// Events taken from the driver in one go, handed out one by one
    /// without its lock.
    taken: VecDeque<OwnedEvent>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("taken", &self.taken.len())
            .finish_non_exhaustive()
    }
}

impl Events {
    /// The driver's stream, unless one is out.
    pub(super) fn new(core: &Arc<Core>) -> Result<Events> {
        let mut state = core.lock();
        if state.events.is_some() {
            return Err(Error::EventsTaken);
        }
        state.events = Some(Box::default());
        Ok(Events {
            core: Arc::clone(core),
            taken: VecDeque::new(),
        })
    }

    /// Starts a child whose events come to this stream (and to no
    /// [`Child`](super::Child) handle); its id names it in them and to
    /// [`signal`](Events::signal), [`stop`](Events::stop) and the rest.
    /// Call it inside a tokio runtime.
    ///
    /// # Errors
    ///
    /// As [`Driver::spawn`](super::Driver::spawn).
    pub fn spawn(&mut self, cmd: &Command) -> Result<ChildId> {
        in_runtime()?;
        self.adopt(&cmd.prepare()?)
    }

    /// Starts a [`Pipeline`] as one child of this stream, as
    /// [`Driver::spawn_pipeline`](super::Driver::spawn_pipeline) does: its
    /// stages' ends come as [`OwnedEventKind::StageExited`](super::OwnedEventKind::StageExited).
    ///
    /// # Errors
    ///
    /// As [`Driver::spawn_pipeline`](super::Driver::spawn_pipeline).
    pub fn spawn_pipeline(&mut self, pipeline: &Pipeline) -> Result<ChildId> {
        in_runtime()?;
        self.adopt(&pipeline.prepare()?)
    }

    fn adopt(&mut self, spec: &Spec) -> Result<ChildId> {
        let (mut state, id) = start(&self.core, spec)?;
        // Under the lock the child was added in: its `Started` is filed
        // here by the next turn, which cannot come before.
        if let Some(queue) = &mut state.events {
            queue.children.insert(id);
        }
        started(&self.core, state);
        Ok(id)
    }

    /// The next event of the stream's children; `None` once none is left
    /// (every child done and its events taken, or none started yet).
    ///
    /// Cancellation-safe: a dropped `next` takes no event.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when polled outside a tokio runtime while the driver
    /// has no task on one.
    pub async fn next(&mut self) -> Result<Option<OwnedEvent>> {
        poll_fn(|cx| self.poll_next_event(cx)).await
    }

    fn poll_next_event(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<OwnedEvent>>> {
        if let Some(event) = self.taken.pop_front() {
            return Poll::Ready(Ok(Some(event)));
        }
        let mut state = self.core.lock();
        let state = &mut *state;
        let Some(queue) = &mut state.events else {
            return Poll::Ready(Ok(None));
        };
        if queue.events.is_empty() {
            if queue.children.is_empty() {
                return Poll::Ready(Ok(None));
            }
            if let Err(e) = self.core.ensure_pump(state) {
                return Poll::Ready(Err(e));
            }
            if let Some(queue) = &mut state.events {
                park(&mut queue.waker, cx.waker());
            }
            return Poll::Pending;
        }
        // Every event waiting, in one take: one lock for a batch.
        std::mem::swap(&mut self.taken, &mut queue.events);
        queue.held = 0;
        if !queue.paused.is_empty() {
            for id in queue.paused.drain() {
                // The reactor knows the child: it is not done while
                // paused, as its `Done` unpauses it here.
                let _ = state.reactor.resume(id);
            }
            self.core.kick();
        }
        Poll::Ready(Ok(self.taken.pop_front()))
    }

    /// Runs `f` on the reactor for child `id` if it is this stream's or
    /// done; a live child of another (a [`Child`](super::Child)'s) is
    /// [`Error::UnknownChild`].
    fn control<T>(
        &mut self,
        id: ChildId,
        f: impl FnOnce(&mut crate::reactor::Reactor) -> Result<T>,
    ) -> Result<T> {
        let mut state = self.core.lock();
        let ours = state
            .events
            .as_ref()
            .is_some_and(|q| q.children.contains(&id));
        if !ours && state.reactor.contains(id) {
            return Err(Error::UnknownChild);
        }
        let r = f(&mut state.reactor);
        drop(state);
        self.core.kick();
        r
    }

    /// Sends `sig` to child `id`'s current run, as
    /// [`Child::signal`](super::Child::signal). A child that is done is
    /// left alone.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownChild`] for a child not started by this stream;
    /// [`Error::Signal`] if the signal reached nothing of the run.
    pub fn signal(&mut self, id: ChildId, sig: Signal) -> Result<()> {
        self.control(id, |r| r.signal(id, sig))
    }

    /// Sends `SIGKILL` to child `id`'s current run, as
    /// [`Child::kill`](super::Child::kill): its restart policy decides
    /// what follows.
    ///
    /// # Errors
    ///
    /// As [`signal`](Events::signal).
    pub fn kill(&mut self, id: ChildId) -> Result<()> {
        self.signal(id, Signal::KILL)
    }

    /// Stops child `id` as [`Child::stop`](super::Child::stop) does, without
    /// waiting: its `Done` comes on the stream once the stop is over.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownChild`] for a child not started by this stream.
    pub fn stop(&mut self, id: ChildId) -> Result<()> {
        self.control(id, |r| r.stop(id))
    }

    /// Queues `bytes` for the stdin stream of child `id` (an
    /// [`Input::Stream`](crate::Input::Stream)), as
    /// [`Reactor::write_stdin`](crate::Reactor::write_stdin): how many were
    /// taken; when the queue is full, an [`OwnedEventKind::StdinReady`](super::OwnedEventKind::StdinReady)
    /// says when it has room again.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownChild`] for a child not started by this stream; as
    /// [`Reactor::write_stdin`](crate::Reactor::write_stdin) otherwise
    /// (`WouldBlock` when the queue is full, `BrokenPipe` once the stream
    /// is closed).
    pub fn write_stdin(&mut self, id: ChildId, bytes: &[u8]) -> Result<usize> {
        self.control(id, |r| r.write_stdin(id, bytes))
    }

    /// Closes the stdin stream of child `id` once its queue is written, as
    /// [`Reactor::close_stdin`](crate::Reactor::close_stdin).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownChild`] for a child not started by this stream;
    /// [`Error::NoStdin`] when its stdin is not a stream.
    pub fn close_stdin(&mut self, id: ChildId) -> Result<()> {
        self.control(id, |r| r.close_stdin(id))
    }
}

impl AsyncStream for Events {
    type Item = Result<OwnedEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_next_event(cx).map(Result::transpose)
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let mut state = self.core.lock();
        let Some(queue) = state.events.take() else {
            return;
        };
        for &id in &queue.children {
            // The reactor knows a child that is not done; errors cannot
            // happen here and would have nowhere to go.
            if queue.paused.contains(&id) {
                let _ = state.reactor.resume(id);
            }
            let _ = state.reactor.stop(id);
            let _ = state.reactor.kill(id);
        }
        if queue.children.is_empty() {
            return;
        }
        // Someone must reap them: a pump where this drop runs, if none
        // does (outside any runtime, the next pump or the driver's drop).
        let _ = self.core.ensure_pump(&mut state);
        drop(state);
        self.core.kick();
    }
}
