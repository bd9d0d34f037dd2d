//! [`ChildStdin`]: the blocking writer of a process's stdin stream.

use std::io;

use super::driver::Driver;
use super::seam::Seam;
use super::shared::Shared;
use super::sync::Arc;
use crate::child::ChildId;
use crate::error::Error;

/// Bytes handed to the driver per write: a bound on the copy each write
/// makes, well under the reactor's queue.
const CHUNK: usize = 256 * 1024;

/// Writes to the stdin of a [`Process`](super::Process) built with
/// [`stdin_stream`](super::ProcessBuilder::stdin_stream), as
/// [`std::process::ChildStdin`] does: a write blocks until the reactor
/// took at least one byte (its queue holds up to 1 MiB beyond the pipe);
/// dropping the writer closes the stream, and the child reads EOF once
/// everything written before is.
///
/// A writer belongs to one run of the process: the run that was current
/// when [`Process::stdin`](super::Process::stdin) handed it out. Once that
/// run exited (or closed its stdin) writes fail with
/// [`BrokenPipe`](io::ErrorKind::BrokenPipe), and what it had not read yet
/// is dropped. A restarted run gets a new stream, written by a new writer
/// taken from `Process::stdin`: an older writer never writes to it, and
/// dropping one never closes it.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use procrun::Process;
///
/// let p = Process::builder().command(["wc", "-c"]).stdin_stream().build()?;
/// p.start()?;
/// let mut stdin = p.stdin()?;
/// stdin.write_all(&[b'x'; 100_000])?;
/// drop(stdin); // EOF
/// let mut out = String::new();
/// p.stdout()?.read_to_string(&mut out)?;
/// assert_eq!(out.trim(), "100000");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ChildStdin {
    pub(super) shared: Arc<Shared>,
    pub(super) driver: Driver,
    pub(super) id: ChildId,
    /// The run this writer feeds (counted from 0); the driver refuses it
    /// any other run's stream.
    pub(super) run: usize,
}

impl io::Write for ChildStdin {
    /// # Errors
    ///
    /// [`BrokenPipe`](io::ErrorKind::BrokenPipe) once the stream is
    /// closed: the child closed its stdin or this writer's run exited
    /// (even if the process was restarted since), or the process was
    /// closed; [`Other`](io::ErrorKind::Other) wrapping
    /// [`Error::DriverGone`] if the driver died.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let chunk = &buf[..buf.len().min(CHUNK)];
        write(&self.shared, &self.driver, self.id, self.run, chunk)
    }

    /// Nothing to do: a write returns once the reactor holds the bytes,
    /// and it writes them all before the EOF a drop sends.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for ChildStdin {
    fn drop(&mut self) {
        self.driver.close_stdin(self.id, self.run);
    }
}

/// Writes `chunk` (not empty) to run `run` of child `id`: what
/// [`ChildStdin::write`] does, on any driver.
pub(super) fn write<D: Seam>(
    shared: &Shared,
    driver: &D,
    id: ChildId,
    run: usize,
    chunk: &[u8],
) -> io::Result<usize> {
    loop {
        let turn = {
            let st = shared.lock();
            if st.closed() || st.is_done() {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            st.stdin_turn()
        };
        match driver.write_stdin(id, run, chunk.to_vec()) {
            Ok(n) => return Ok(n),
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                // Read before the refusal, so room made since is seen as a
                // change and not waited for.
                let st = shared.lock();
                drop(shared.wait_stdin_turn(st, turn));
            }
            // A broken pipe too once the child is done: nobody reads.
            Err(Error::Io(e)) => return Err(e),
            Err(e) => return Err(io::Error::other(e)),
        }
    }
}
