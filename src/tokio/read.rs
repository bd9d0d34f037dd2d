//! A child's raw stdout or stderr as an `AsyncRead`.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ::tokio::io::{AsyncRead, ReadBuf};

use super::core::{index, Core};
use crate::child::{ChildId, Stream};
use crate::reactor::ReadNow;

/// A child's stdout or stderr at [`Output::Raw`](crate::Output::Raw),
/// taken with [`Child::take_stdout`](super::Child::take_stdout) or
/// [`Child::take_stderr`](super::Child::take_stderr): an `AsyncRead` of
/// the bytes exactly as the child wrote them, ending (a read of 0 bytes)
/// when the stream does.
///
/// A read that finds nothing waiting takes the bytes straight from the
/// child's pipe into the caller's buffer, as a read of the pipe itself
/// would; each read spends the task's runtime budget, as tokio's own
/// readers' do. Bytes the driver read before the reader came wait in the
/// handle, counted with the child's lines: past 1 MiB the child is paused
/// until they are read, so read both streams at once (in two tasks, or
/// with `select!`) when both are raw. Dropping the reader drops the rest
/// of the stream.
///
/// # Examples
///
/// ```
/// use procrun::{Command, Output};
/// use tokio::io::AsyncReadExt;
///
/// # ::tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
/// let mut cmd = Command::new("printf");
/// cmd.arg("no newline\r").stdout(Output::Raw);
/// let mut child = procrun::tokio::spawn(&cmd)?;
/// let mut stdout = child.take_stdout().expect("a raw stream");
/// let mut bytes = Vec::new();
/// stdout.read_to_end(&mut bytes).await?;
/// assert_eq!(bytes, b"no newline\r");
/// assert!(child.wait().await?.success());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).map_err(|e| e.to_string())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ChildStdout {
    core: Arc<Core>,
    id: ChildId,
    stream: Stream,
}

impl ChildStdout {
    pub(super) fn new(core: Arc<Core>, id: ChildId, stream: Stream) -> ChildStdout {
        ChildStdout { core, id, stream }
    }

    /// The stream it reads.
    pub fn stream(&self) -> Stream {
        self.stream
    }
}

/// The most a read takes straight from the pipe: the reactor's own read
/// size. Only what the caller's buffer has not initialized yet is zeroed
/// first (once, for a buffer reused), and no more than this.
const DIRECT_READ: usize = 256 * 1024;

impl AsyncRead for ChildStdout {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        // Each read spends the task's runtime budget, as tokio's own reads
        // do: a task reading a child that never stops writing still lets
        // the other tasks run (out of budget, it is woken again once they
        // ran).
        let coop = std::task::ready!(::tokio::task::coop::poll_proceed(cx));
        let i = index(self.stream);
        let mut guard = self.core.lock();
        let state = &mut *guard;
        let Some(slot) = state.slots.get_mut(&self.id) else {
            // Gone with its child's handle: nothing more comes.
            coop.made_progress();
            return Poll::Ready(Ok(()));
        };
        if slot.io.as_ref().is_some_and(|io| !io.raw[i].is_empty()) {
            coop.made_progress();
            if slot.take_raw(i, buf) {
                // The reactor knows a paused child: it is not done.
                let _ = state.reactor.resume(self.id);
                drop(guard);
                self.core.kick();
            }
            return Poll::Ready(Ok(()));
        }
        if slot.io.as_ref().map_or(true, |io| io.closed[i]) || slot.done().is_some() {
            coop.made_progress();
            return Poll::Ready(Ok(()));
        }
        // Every byte read before was taken: the next come straight from
        // the pipe into the caller's buffer, as a read of the pipe itself
        // would give them, rather than through the driver's copy.
        let want = buf.remaining().min(DIRECT_READ);
        let to = buf.initialize_unfilled_to(want);
        let owed = match state.reactor.read_raw_now(self.id, self.stream, to) {
            ReadNow::Read(n) => {
                buf.advance(n);
                coop.made_progress();
                return Poll::Ready(Ok(()));
            }
            ReadNow::Owed => true,
            ReadNow::Nothing => false,
        };
        slot.park_reader(i, cx.waker());
        if let Err(e) = self.core.ensure_pump(state) {
            return Poll::Ready(Err(io::Error::other(e)));
        }
        drop(guard);
        if owed {
            // The pipe's end is the pump's to file.
            self.core.kick();
        }
        Poll::Pending
    }
}

impl Drop for ChildStdout {
    fn drop(&mut self) {
        let mut state = self.core.lock();
        let Some(slot) = state.slots.get_mut(&self.id) else {
            return;
        };
        let resume = slot.discard(index(self.stream));
        if slot.done().is_some() && slot.unwanted() {
            state.slots.remove(&self.id);
        } else if resume {
            let _ = state.reactor.resume(self.id);
        }
        drop(state);
        self.core.kick();
    }
}
