//! A child's stdin as an `AsyncWrite`.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ::tokio::io::AsyncWrite;

use super::core::{park, Core, State};
use crate::child::ChildId;
use crate::error::Error;

/// The stdin stream of a [`Child`](super::Child), taken with
/// [`Child::take_stdin`](super::Child::take_stdin): an `AsyncWrite`.
///
/// A write takes what fits in the pipe and the reactor's queue behind it
/// (1 MiB); when both are full it waits until the child reads
/// (backpressure). Bytes taken reach the child in order. `flush` waits
/// until every byte taken is in the pipe (the queue drained).
/// `shutdown` closes the stream once the queue is written and returns
/// when it is closed: the child reads EOF after the last byte. Dropping
/// the writer closes it the same way, without waiting. Once the stream is
/// closed (by `shutdown`, or the child closed it or ended), writes and
/// flushes fail with [`BrokenPipe`](io::ErrorKind::BrokenPipe); a
/// `shutdown` then does nothing.
///
/// # Examples
///
/// ```
/// use procrun::{Command, Input};
/// use tokio::io::AsyncWriteExt;
///
/// # ::tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// let mut cmd = Command::new("tr");
/// cmd.args(["a-z", "A-Z"]).stdin(Input::Stream);
/// let mut child = procrun::tokio::spawn(&cmd)?;
/// let mut stdin = child.take_stdin().expect("a stream");
/// stdin.write_all(b"hello\n").await?;
/// drop(stdin); // EOF: `tr` ends.
/// let line = child.next_line().await?.expect("a line");
/// assert_eq!(line.bytes, b"HELLO");
/// assert!(child.wait().await?.success());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).map_err(|e| e.to_string())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ChildStdin {
    core: Arc<Core>,
    id: ChildId,
}

impl ChildStdin {
    pub(super) fn new(core: Arc<Core>, id: ChildId) -> ChildStdin {
        ChildStdin { core, id }
    }
}

/// procrun's error as the `io::Error` an `AsyncWrite` gives.
fn io_error(e: Error) -> io::Error {
    match e {
        Error::Io(e) => e,
        // The child is done: its stream went with it.
        Error::UnknownChild => io::ErrorKind::BrokenPipe.into(),
        e => io::Error::other(e),
    }
}

impl AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut state = self.core.lock();
        match state.reactor.write_stdin(self.id, buf) {
            Ok(n) => {
                drop(state);
                // A broken pipe found by the write is told on a turn.
                self.core.kick();
                Poll::Ready(Ok(n))
            }
            // Under the lock the pump files events under: the
            // `StdinReady` this waits for cannot slip in before.
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                self.park(&mut state, cx).map_ok(|()| 0)
            }
            Err(e) => Poll::Ready(Err(io_error(e))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = self.core.lock();
        match state.reactor.stdin_queued(self.id) {
            Ok(0) => Poll::Ready(Ok(())),
            // Its `StdinReady` comes under the lock the pump files events
            // under, so it cannot slip in before the park.
            Ok(_) => self.park(&mut state, cx),
            Err(e) => Poll::Ready(Err(io_error(e))),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = self.core.lock();
        let closed = state
            .slots
            .get(&self.id)
            .and_then(|s| s.io.as_ref())
            .map_or(true, |io| io.stdin_closed);
        if closed {
            return Poll::Ready(Ok(()));
        }
        match state.reactor.close_stdin(self.id) {
            // A child that is done has no stream left to close.
            Ok(()) | Err(Error::UnknownChild) => {}
            Err(e) => return Poll::Ready(Err(io_error(e))),
        }
        // The close is written on a turn; its `StdinClosed` wakes this.
        let r = self.park(&mut state, cx);
        drop(state);
        self.core.kick();
        r
    }
}

impl ChildStdin {
    /// Waits for the child's stdin to change (room, a drained queue, the
    /// close), starting a pump where none runs.
    fn park(&self, state: &mut State, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Err(e) = self.core.ensure_pump(state) {
            return Poll::Ready(Err(io_error(e)));
        }
        if let Some(io) = state.slots.get_mut(&self.id).and_then(|s| s.io.as_mut()) {
            park(&mut io.stdin_waker, cx.waker());
        }
        Poll::Pending
    }
}

impl Drop for ChildStdin {
    fn drop(&mut self) {
        // EOF for the child; on a child that is done, nothing to do.
        let _ = self.core.lock().reactor.close_stdin(self.id);
        self.core.kick();
    }
}
