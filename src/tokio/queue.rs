//! What the pump files for an [`Events`](super::Events) stream: its
//! children's events, owned, until the consumer takes them, and the
//! bound on the output among them (see `events.rs`).

use std::collections::{HashSet, VecDeque};
use std::task::Waker;

use super::lines::LINE_BUFFER;
use crate::child::{ChildId, OutputLine, Stream};
use crate::error::Error;
use crate::exit::{Exit, StageExit};
use crate::reactor::{Control, Event};

/// An event of a child of an [`Events`](super::Events) stream, owning what the reactor's
/// [`Event`] lends.
#[derive(Debug)]
#[non_exhaustive]
pub struct OwnedEvent {
    /// The child it is about, as [`Events::spawn`](super::Events::spawn) returned it.
    pub id: ChildId,
    /// What happened.
    pub kind: OwnedEventKind,
}

/// What an [`OwnedEvent`] says: [`Event`]'s variants, owned. See each of
/// [`Event`]'s for when it comes and what it guarantees.
#[derive(Debug)]
#[non_exhaustive]
pub enum OwnedEventKind {
    /// A run started: [`Event::Started`].
    #[non_exhaustive]
    Started {
        /// The pid of this run.
        pid: u32,
        /// How many restarts preceded this run.
        restarts: u32,
    },
    /// A line (or a piece of an over-long one) of a stream left at
    /// [`Output::Lines`](crate::Output::Lines): [`Event::Line`].
    Line(OutputLine),
    /// Bytes of an [`Output::Raw`](crate::Output::Raw) stream:
    /// [`Event::Data`].
    #[non_exhaustive]
    Data {
        /// The stream they came from.
        stream: Stream,
        /// The bytes, byte for byte (never empty).
        bytes: Vec<u8>,
    },
    /// The stdin queue has room again: [`Event::StdinReady`].
    StdinReady,
    /// The run's stdin stream was closed: [`Event::StdinClosed`].
    #[non_exhaustive]
    StdinClosed {
        /// Bytes that were queued and never written: dropped.
        unwritten: usize,
    },
    /// A run ended: [`Event::Exited`].
    Exited(Exit),
    /// A stage of a pipeline's run was reaped: [`Event::StageExited`].
    StageExited(StageExit),
    /// A restart could not be started: [`Event::RestartFailed`].
    #[non_exhaustive]
    RestartFailed {
        /// Why the spawn failed.
        error: Error,
    },
    /// A signal reached nothing of the run: [`Event::SignalFailed`].
    #[non_exhaustive]
    SignalFailed {
        /// What failed.
        error: Error,
    },
    /// An output stream reached its end: [`Event::Closed`].
    #[non_exhaustive]
    Closed {
        /// The stream.
        stream: Stream,
    },
    /// The child is done, its last event: [`Event::Done`].
    #[non_exhaustive]
    Done {
        /// Whether a stop or the timeout cancelled an announced restart.
        restart_cancelled: bool,
        /// Whether that was the command's timeout.
        timed_out: bool,
        /// The child's final exit.
        exit: Exit,
    },
}

impl OwnedEvent {
    /// `event`, owned; with what it counts toward the bound when it is
    /// output (its bytes and its place in the queue, so that empty lines
    /// are bounded too), else 0.
    fn of(event: Event<'_>) -> (OwnedEvent, usize) {
        let id = event.id();
        let mut bytes = None;
        let kind = match event {
            Event::Started { pid, restarts, .. } => OwnedEventKind::Started { pid, restarts },
            Event::Line {
                stream,
                line,
                partial,
                ..
            } => {
                bytes = Some(line.len());
                OwnedEventKind::Line(OutputLine {
                    stream,
                    bytes: line.to_vec(),
                    partial,
                })
            }
            Event::Data {
                stream, bytes: b, ..
            } => {
                bytes = Some(b.len());
                OwnedEventKind::Data {
                    stream,
                    bytes: b.to_vec(),
                }
            }
            Event::StdinReady { .. } => OwnedEventKind::StdinReady,
            Event::StdinClosed { unwritten, .. } => OwnedEventKind::StdinClosed { unwritten },
            Event::Exited(exit) => OwnedEventKind::Exited(exit),
            Event::StageExited(stage) => OwnedEventKind::StageExited(stage),
            Event::RestartFailed { error, .. } => OwnedEventKind::RestartFailed { error },
            Event::SignalFailed { error, .. } => OwnedEventKind::SignalFailed { error },
            Event::Closed { stream, .. } => OwnedEventKind::Closed { stream },
            Event::Done {
                restart_cancelled,
                timed_out,
                exit,
                ..
            } => OwnedEventKind::Done {
                restart_cancelled,
                timed_out,
                exit,
            },
        };
        let held = bytes.map_or(0, |n| n + std::mem::size_of::<OwnedEvent>());
        (OwnedEvent { id, kind }, held)
    }
}

/// The driver's side of its [`Events`](super::Events): the children whose events it
/// takes, and those events until the consumer does.
#[derive(Default)]
pub(super) struct Queue {
    pub(super) events: VecDeque<OwnedEvent>,
    /// The children not done yet.
    pub(super) children: HashSet<ChildId>,
    /// What the output events in `events` count toward the bound.
    pub(super) held: usize,
    /// The children paused because the bound was passed.
    pub(super) paused: HashSet<ChildId>,
    pub(super) waker: Option<Waker>,
}

impl Queue {
    /// Files `event` if its child is one of this stream's.
    pub(super) fn file(&mut self, ctl: &mut Control<'_>, event: Event<'_>) {
        let id = event.id();
        if !self.children.contains(&id) {
            return;
        }
        let done = matches!(event, Event::Done { .. });
        let (event, held) = OwnedEvent::of(event);
        self.held += held;
        if done {
            self.children.remove(&id);
            self.paused.remove(&id);
        } else if held > 0 && self.held > LINE_BUFFER && self.paused.insert(id) {
            ctl.pause_bound(id);
        }
        self.events.push_back(event);
        self.wake();
    }

    /// Wakes the consumer waiting for an event.
    pub(super) fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}
