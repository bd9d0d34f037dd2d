//! State shared between a [`Process`](super::Process) handle and the driver
//! thread: exits, pid, and the buffered output of both streams.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

use crate::error::Error;
use crate::exit::{ChildId, Exit, Stream};
use crate::signal::Signal;

/// Output buffered beyond this (per process, both streams) pauses the child
/// until a reader catches up; reading below half of it resumes the child.
pub(crate) const DEFAULT_BUFFER: usize = 1 << 20;

#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    cv: Condvar,
}

/// What a process's handle and the driver know of it, under one lock.
///
/// # Start against close
///
/// `start()` on thread A and `close()` on thread B meet here, and every
/// `close()` must return only after the reap, with nothing the closed
/// handle asked for starting later (DESIGN.md guarantee 10). A sets
/// `started` and `start_pending` unless `closed` is set; B sets `closed`,
/// then waits until `start_pending` is clear, then, if `id` is set and
/// `done` is not, sends a stop and waits for `done`. The driver, serving
/// the start, checks `closed` before it spawns and again when it answers.
/// The interleavings:
///
/// 1. B sets `closed` before A looks: A fails with `Aborted`; nothing was
///    asked of the driver, B finds nothing pending and no `id`.
/// 2. A has set `start_pending`, B sets `closed` before the driver takes
///    the start: the driver sees `closed`, spawns nothing and answers
///    `Aborted`; B, woken by the answer, finds no `id`.
/// 3. B sets `closed` while the driver spawns (it checked `closed` before):
///    the driver sets `id`, sees `closed`, stops the child itself and
///    answers `Ok`; B, woken by the answer, finds `id` and waits for
///    `done`.
/// 4. The driver answered before B: B finds `id` and stops the child and
///    waits for `done`, as a close after a finished start does.
/// 5. A's start fails before or in the driver (script, spawn, a dead
///    driver): `start_pending` is cleared with `id` unset; B returns.
///
/// A second close (B') waits exactly as B does, never returning early
/// because B is under way: it needs the same reap. `done` is set by the
/// driver only after the reap (or, when the driver dies, after its reactor
/// killed and reaped the child), so a close that saw `done` saw the reap.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) started: bool,
    /// A start is under way: set with `started`, cleared when the driver
    /// answers (or the start fails before reaching it).
    pub(crate) start_pending: bool,
    /// The driver's answer to a start, until the start takes it.
    pub(crate) start_result: Option<Result<(), Error>>,
    pub(crate) id: Option<ChildId>,
    pub(crate) pid: Option<u32>,
    pub(crate) exits: Vec<Exit>,
    /// A restart could not be started; set with `done`.
    pub(crate) restart_error: Option<String>,
    /// A stop's signal reached nothing of the child (it made itself
    /// another user): the child runs on, and a close cannot wait for it.
    pub(crate) stop_failed: Option<StopFailure>,
    /// The child is gone for good: last exit seen and every stream closed.
    pub(crate) done: bool,
    /// The driver died while supervising the child (which it killed and
    /// reaped); set with `done`, and no final exit will come.
    pub(crate) driver_gone: bool,
    pub(crate) closed: bool,
    pub(crate) out: [StreamBuf; 2],
    seq: u64,
    pub(crate) buffered: usize,
    pub(crate) cap: usize,
    pub(crate) paused: bool,
    waiters: usize,
}

/// What [`Error::Signal`] said, kept so that every close can report it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StopFailure {
    pid: u32,
    signal: Signal,
    errno: Option<i32>,
}

impl StopFailure {
    pub(crate) fn of(e: &Error) -> Option<StopFailure> {
        match e {
            Error::Signal {
                pid,
                signal,
                source,
            } => Some(StopFailure {
                pid: *pid,
                signal: *signal,
                errno: source.raw_os_error(),
            }),
            _ => None,
        }
    }

    pub(crate) fn error(self) -> Error {
        Error::Signal {
            pid: self.pid,
            signal: self.signal,
            source: match self.errno {
                Some(n) => std::io::Error::from_raw_os_error(n),
                None => std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            },
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct StreamBuf {
    bytes: VecDeque<u8>,
    lines: VecDeque<Meta>,
}

#[derive(Clone, Copy, Debug)]
struct Meta {
    len: usize,
    seq: u64,
    partial: bool,
}

/// A line taken out of a process's buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputLine {
    /// The stream it came from.
    pub stream: Stream,
    /// The line without its line ending.
    pub bytes: Vec<u8>,
    /// Whether this is a piece of a longer line that goes on.
    pub partial: bool,
}

impl OutputLine {
    /// The line as text, invalid UTF-8 replaced.
    pub fn to_string_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }
}

pub(crate) fn index(s: Stream) -> usize {
    match s {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

impl State {
    /// Appends a line; returns whether the child should now be paused.
    pub(crate) fn push_line(&mut self, stream: Stream, line: &[u8], partial: bool) -> bool {
        let b = &mut self.out[index(stream)];
        b.bytes.extend(line);
        b.lines.push_back(Meta {
            len: line.len(),
            seq: self.seq,
            partial,
        });
        self.seq += 1;
        self.buffered += line.len() + 1;
        if !self.paused && self.buffered > self.cap {
            self.paused = true;
            return true;
        }
        false
    }

    /// Takes the oldest line of the selected streams.
    pub(crate) fn pop_line(&mut self, streams: [bool; 2]) -> Option<OutputLine> {
        let pick = (0..2)
            .filter(|&i| streams[i])
            .filter_map(|i| self.out[i].lines.front().map(|m| (m.seq, i)))
            .min()?
            .1;
        let b = &mut self.out[pick];
        let m = b.lines.pop_front()?;
        let bytes: Vec<u8> = b.bytes.drain(..m.len).collect();
        self.buffered -= m.len + 1;
        Some(OutputLine {
            stream: if pick == 0 {
                Stream::Stdout
            } else {
                Stream::Stderr
            },
            bytes,
            partial: m.partial,
        })
    }

    /// Whether reading has drained the buffer enough to resume the child.
    pub(crate) fn take_resume(&mut self) -> bool {
        if self.paused && self.buffered <= self.cap / 2 {
            self.paused = false;
            return true;
        }
        false
    }

    pub(crate) fn has_line(&self, streams: [bool; 2]) -> bool {
        (0..2).any(|i| streams[i] && !self.out[i].lines.is_empty())
    }
}

impl Shared {
    pub(crate) fn new(cap: usize) -> Shared {
        Shared {
            state: Mutex::new(State {
                cap,
                ..State::default()
            }),
            cv: Condvar::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind: go on.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes every waiter; cheap when there is none (the driver calls this
    /// for every line).
    pub(crate) fn notify(&self, st: &State) {
        if st.waiters > 0 {
            self.cv.notify_all();
        }
    }

    /// Wakes every waiter, for rare events where the check is not worth it.
    pub(crate) fn notify_all_now(&self, _st: &State) {
        self.cv.notify_all();
    }

    /// Waits until `ready` holds or `deadline` passes; returns the guard
    /// and whether `ready` holds.
    pub(crate) fn wait_until<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        deadline: Option<Instant>,
        mut ready: impl FnMut(&State) -> bool,
    ) -> (MutexGuard<'a, State>, bool) {
        loop {
            if ready(&st) {
                return (st, true);
            }
            st.waiters += 1;
            st = match deadline {
                None => self.cv.wait(st).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        st.waiters -= 1;
                        return (st, false);
                    }
                    self.cv
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
            st.waiters -= 1;
        }
    }
}
