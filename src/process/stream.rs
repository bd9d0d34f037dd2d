//! Reading a process: its exits one by one, its streams as bytes or lines.

use std::io;
use std::time::{Duration, Instant};

use super::driver::Driver;
use super::handle::{reader_gone, resume, DriverSlot};
use super::seam::Seam;
use super::shared::{index, Shared};
use super::sync::{Arc, Mutex};
use crate::child::OutputLine;
use crate::child::Stream;
use crate::error::{Error, Result};
use crate::exit::Exit;

/// A cursor over a process's exits (see [`Process::exits`](super::Process::exits)).
#[derive(Debug)]
pub struct Exits {
    pub(super) shared: Arc<Shared>,
    pub(super) next: usize,
}

impl Iterator for Exits {
    type Item = Exit;

    /// Blocks until the next exit; `None` once the process is done and
    /// every exit was seen.
    fn next(&mut self) -> Option<Exit> {
        self.next_by(None).ok().flatten()
    }
}

impl Exits {
    /// As [`Iterator::next`], waiting at most `limit`; a `limit` too large
    /// to add to the current time (such as [`Duration::MAX`]) waits as
    /// [`Iterator::next`] does.
    ///
    /// # Errors
    ///
    /// [`Error::TimedOut`] when no exit came in time; [`Error::DriverGone`]
    /// when the driver died (and killed the child) before the final exit.
    pub fn next_timeout(&mut self, limit: Duration) -> Result<Option<Exit>> {
        self.next_by(super::deadline_in(limit))
    }

    /// The next exit if there is one now, without blocking.
    ///
    /// # Errors
    ///
    /// [`Error::TimedOut`] when none is there yet; [`Error::DriverGone`] as
    /// for [`next_timeout`](Self::next_timeout).
    pub fn try_next(&mut self) -> Result<Option<Exit>> {
        self.next_by(Some(Instant::now()))
    }

    fn next_by(&mut self, deadline: Option<Instant>) -> Result<Option<Exit>> {
        let n = self.next;
        let st = self.shared.lock();
        let (st, ok) = self.shared.wait_exit(st, n, deadline);
        if !ok {
            return Err(Error::TimedOut);
        }
        let e = st.exits().get(n).copied();
        if e.is_none() && st.is_driver_gone() {
            return Err(Error::DriverGone);
        }
        if e.is_some() {
            self.next += 1;
        }
        Ok(e)
    }
}

/// Reads a stream of a process as bytes ([`io::Read`]: exactly as the child
/// wrote them) or as lines ([`StreamReader::next_line_blocking`]).
///
/// Readers of one process share its buffer: each byte goes to one of them.
/// A line a byte reader took part of reaches a line reader as its rest.
///
/// A reader owns what was read for it: dropping the
/// [`Process`](super::Process) kills the child, but a reader taken before
/// still reads everything the child wrote, until its end, as tokio's
/// `ChildStdout` outlives its `Child`. (A [`close`](super::Process::close)
/// drops the unread output instead.)
///
/// # Examples
///
/// ```
/// use std::io::Read;
/// use procrun::Process;
///
/// let p = Process::builder()
///     .command(["sh", "-c", "echo written-before-the-drop; exec sleep 30"])
///     .build()?;
/// p.start()?;
/// let mut out = p.stdout()?;
/// let mut first = [0; 7];
/// out.read_exact(&mut first)?;
/// drop(p); // sleep is stopped
/// let mut rest = String::new();
/// out.read_to_string(&mut rest)?;
/// assert_eq!(rest, "-before-the-drop\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct StreamReader {
    pub(super) shared: Arc<Shared>,
    /// The process's driver, looked up at each resume.
    pub(super) driver: DriverSlot<Driver>,
    pub(super) streams: [bool; 2],
    /// Drop lines of the streams not selected instead of leaving them for
    /// another reader (what [`read`] does, so nobody blocks on them).
    pub(super) discard_others: bool,
}

impl Drop for StreamReader {
    fn drop(&mut self) {
        reader_gone(&self.shared, &self.driver);
    }
}

impl StreamReader {
    /// The next line, blocking; `None` at the end of the output (the
    /// process is done, or was closed).
    pub fn next_line_blocking(&mut self) -> Option<OutputLine> {
        next_line(
            &self.shared,
            &self.driver,
            self.streams,
            self.discard_others,
        )
    }
}

/// The next line of `streams`, blocking; with `discard_others`, lines of
/// the other streams are dropped rather than left for another reader.
/// What [`StreamReader::next_line_blocking`] does, on any driver.
pub(super) fn next_line<D: Seam>(
    shared: &Shared,
    driver: &Mutex<Option<D>>,
    streams: [bool; 2],
    discard_others: bool,
) -> Option<OutputLine> {
    let take = if discard_others {
        [true, true]
    } else {
        streams
    };
    let mut st = shared.lock();
    loop {
        st = shared.wait_line(st, take);
        let line = st.pop_line(take);
        resume(driver, st.take_resume());
        match line {
            Some(l) if streams[index(l.stream)] => return Some(l),
            Some(_) => continue,
            None => return None,
        }
    }
}

/// Up to `buf.len()` bytes of `stream`, blocking; 0 at the end of the
/// output. What [`StreamReader`]'s [`io::Read`] does, on any driver.
pub(super) fn read_bytes<D: Seam>(
    shared: &Shared,
    driver: &Mutex<Option<D>>,
    stream: Stream,
    buf: &mut [u8],
) -> usize {
    let st = shared.lock();
    let mut st = shared.wait_bytes(st, stream);
    let n = st.take_bytes(stream, buf);
    resume(driver, st.take_resume());
    n
}

/// What a stream collected up to a cap.
#[derive(Debug, Default)]
pub(super) struct Capped {
    pub(super) bytes: Vec<u8>,
    pub(super) truncated: bool,
}

/// Reads both streams to the end of the output, whichever has bytes
/// first, so that neither fills the buffer while the other is waited for;
/// keeps the first `cap` bytes of each and drops the rest (flagged).
pub(super) fn read_both<D: Seam>(
    shared: &Shared,
    driver: &Mutex<Option<D>>,
    cap: usize,
) -> [Capped; 2] {
    let mut out: [Capped; 2] = Default::default();
    let mut chunk = vec![0; 64 * 1024];
    loop {
        let st = shared.lock();
        let mut st = shared.wait_any_bytes(st);
        let mut any = false;
        for (stream, kept) in [Stream::Stdout, Stream::Stderr].into_iter().zip(&mut out) {
            let n = st.take_bytes(stream, &mut chunk);
            any |= n > 0;
            let take = n.min(cap - kept.bytes.len());
            kept.bytes.extend_from_slice(&chunk[..take]);
            kept.truncated |= take < n;
        }
        resume(driver, st.take_resume());
        if !any {
            return out;
        }
    }
}

impl io::Read for StreamReader {
    /// Reads the bytes of the reader's stream (stdout when it has both) as
    /// the child wrote them; `Ok(0)` at the end of the output.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let stream = if self.streams[0] {
            Stream::Stdout
        } else {
            Stream::Stderr
        };
        Ok(read_bytes(&self.shared, &self.driver, stream, buf))
    }
}

/// The lines of both streams of a process, in the order read.
#[derive(Debug)]
pub struct Lines {
    pub(super) inner: StreamReader,
}

impl Iterator for Lines {
    type Item = OutputLine;
    fn next(&mut self) -> Option<OutputLine> {
        self.inner.next_line_blocking()
    }
}
