//! A handle per child: waiting, signalling, stopping, its lines.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream as AsyncStream;

use super::core::{index, poll_slot, Core, Reader, State, TURN_READ};
pub use super::lines::{LineBatch, LineRef};
use super::lines::{Lines, CARRIED_MAX};
use super::read::ChildStdout;
use super::stdin::ChildStdin;
use crate::child::{ChildId, OutputLine, Stream};
use crate::error::Result;
use crate::exit::{Exit, StageExit};
use crate::reactor::ReadNow;
use crate::signal::Signal;

/// A child started by [`spawn`](super::spawn) or
/// [`Driver::spawn`](super::Driver::spawn): `Send + 'static`, usable
/// from any task of any runtime.
///
/// The child's lines (of streams left at [`Output::Lines`], the default)
/// wait in the handle until [`next_line`](Child::next_line) takes them (and
/// the bytes of [`Output::Raw`] streams until their
/// [reader](Child::take_stdout) does); past 1 MiB of them (a line counts
/// its bytes and 32 of bookkeeping, so empty lines are bounded too) the
/// child is paused (it blocks on its next write) until they are taken, so a handle
/// that never reads a chatty child's output and only waits for it waits
/// for ever, as with a pipe nobody reads: give such a child
/// [`Output::Null`], or collect it with [`output`](Child::output). A run
/// that ends anyway ([`stop`](Child::stop), [`kill`](Child::kill), its
/// timeout) is not held for a take: what its pipes still hold is taken
/// past the bound, and its exit comes; a run restarted meanwhile is held
/// from its start until the take.
/// `next_line` takes every line waiting at once and hands them out one by
/// one, so up to twice that bound may be held for a child read slowly.
///
/// Dropping the handle of a child that is not done kills it (a stop
/// without grace: no restart follows, `SIGKILL` reaches its process group
/// at once), unless [`kill_on_drop(false)`](Child::kill_on_drop) was
/// set: then it runs on, its output is dropped, and it is reaped when it
/// ends. Either way no zombie is left behind.
///
/// [`Output::Lines`]: crate::Output::Lines
/// [`Output::Null`]: crate::Output::Null
/// [`Output::Raw`]: crate::Output::Raw
#[derive(Debug)]
pub struct Child {
    core: Arc<Core>,
    id: ChildId,
    kill_on_drop: bool,
    /// Lines taken from the driver in one go, handed out one by one
    /// without its lock.
    taken: Lines,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}

/// What [`Child::output`] and [`output`](super::output) collect: both
/// streams apart and the final exit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildOutput {
    /// stdout, byte for byte when it was [`Output::Raw`](crate::Output::Raw).
    pub stdout: Vec<u8>,
    /// stderr, the same way.
    pub stderr: Vec<u8>,
    /// The child's final exit.
    pub exit: Exit,
}

impl Child {
    pub(super) fn new(core: Arc<Core>, id: ChildId) -> Child {
        Child {
            core,
            id,
            kill_on_drop: true,
            taken: Lines::default(),
        }
    }

    /// The pid of the child's current run; `None` once it is reaped (and
    /// between a run and its restart). The reactor reaps a child as soon
    /// as it exits, so a child that ends at once may show `None` on the
    /// first call: its pid is on its exit ([`Exit::pid`]).
    pub fn id(&self) -> Option<u32> {
        self.core
            .lock()
            .slots
            .get(&self.id)
            .and_then(|slot| slot.pid)
    }

    /// The child's stdin, an `AsyncWrite`, for a command whose stdin is
    /// [`Input::Stream`](crate::Input::Stream); `None` for any other, and
    /// once taken.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        let mut state = self.core.lock();
        let slot = state.slots.get_mut(&self.id)?;
        let io = slot.io.as_mut()?;
        std::mem::take(&mut io.stdin).then(|| ChildStdin::new(Arc::clone(&self.core), self.id))
    }

    /// The child's stdout, an `AsyncRead`, for a command whose stdout is
    /// [`Output::Raw`](crate::Output::Raw); `None` for any other, and once
    /// taken.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.take_reader(Stream::Stdout)
    }

    /// The child's stderr, as [`take_stdout`](Child::take_stdout).
    pub fn take_stderr(&mut self) -> Option<ChildStdout> {
        self.take_reader(Stream::Stderr)
    }

    fn take_reader(&mut self, stream: Stream) -> Option<ChildStdout> {
        let mut state = self.core.lock();
        let slot = state.slots.get_mut(&self.id)?;
        let reader = &mut slot.io.as_mut()?.reader[index(stream)];
        if *reader != Reader::Untaken {
            return None;
        }
        *reader = Reader::Live;
        Some(ChildStdout::new(Arc::clone(&self.core), self.id, stream))
    }

    /// The ends of the stages of a [`Pipeline`](crate::Pipeline)'s
    /// current run, in the order they were reaped (the first stage's
    /// last; each [says](StageExit::stage) which it is): those reaped so
    /// far while it runs, all of them once it is done, until a restart
    /// starts the next run; as
    /// [`Process::stage_exits`](crate::Process::stage_exits). Empty for a
    /// command.
    pub fn stage_exits(&self) -> Vec<StageExit> {
        let state = self.core.lock();
        let slot = state.slots.get(&self.id);
        slot.and_then(|s| s.io.as_ref())
            .map_or_else(Vec::new, |io| io.stages.clone())
    }

    /// Whether dropping this handle kills a child that is not done
    /// (default: true).
    pub fn kill_on_drop(&mut self, kill: bool) -> &mut Child {
        self.kill_on_drop = kill;
        self
    }

    /// Waits until the child is done and gives its final exit: its last
    /// run reaped, no restart to come, its streams closed (and, after a
    /// stop, nothing of its process group left).
    ///
    /// Cancellation-safe and fused: a dropped `wait` loses nothing, and
    /// once the child is done every call gives the same exit at once.
    ///
    /// # Errors
    ///
    /// [`Error::Io`](crate::Error::Io) when polled outside a tokio runtime
    /// while the driver has no task on one.
    pub async fn wait(&mut self) -> Result<Exit> {
        let id = self.id;
        poll_fn(|cx| poll_slot(&self.core, id, cx, |state| done(state, id))).await
    }

    /// The final exit if the child is done, without waiting.
    ///
    /// # Errors
    ///
    /// None today; a `Result` as `std`'s and tokio's `try_wait`.
    pub fn try_wait(&mut self) -> Result<Option<Exit>> {
        Ok(done(&mut self.core.lock(), self.id))
    }

    /// Sends `SIGKILL` to the child's current run (its process group, as
    /// [`Reactor::kill`](crate::Reactor::kill)); without waiting. The
    /// restart policy still decides what follows: [`stop`](Child::stop) ends
    /// the child for good. Killing a child that is done does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Signal`](crate::Error::Signal) if the signal reached
    /// nothing of the run (it made itself another user).
    pub fn kill(&mut self) -> Result<()> {
        self.signal(Signal::KILL)
    }

    /// Sends `sig` to the child's current run, as
    /// [`Reactor::signal`](crate::Reactor::signal).
    ///
    /// # Errors
    ///
    /// As [`kill`](Child::kill).
    pub fn signal(&mut self, sig: Signal) -> Result<()> {
        let r = self.core.lock().reactor.signal(self.id, sig);
        self.core.kick();
        r
    }

    /// Stops the child as [`Reactor::stop`](crate::Reactor::stop) does (its
    /// stop signal, then `SIGKILL` to what is left when the grace ends; no
    /// restart after it) and waits until it is done.
    ///
    /// # Errors
    ///
    /// As [`wait`](Child::wait).
    pub async fn stop(&mut self) -> Result<Exit> {
        // A finished child is Ok: the stop does nothing.
        self.core.lock().reactor.stop(self.id)?;
        self.core.kick();
        self.wait().await
    }

    /// The next line the child wrote to a stream left at
    /// [`Output::Lines`](crate::Output::Lines), stdout's and stderr's in the
    /// order the reactor split them; `None` once the child is done and
    /// every line was taken. It copies the line out of the handle's
    /// batch into the `Vec` it returns; [`next_line_ref`](Child::next_line_ref)
    /// lends it instead.
    ///
    /// Cancellation-safe: a dropped `next_line` takes no line.
    ///
    /// # Errors
    ///
    /// As [`wait`](Child::wait).
    pub async fn next_line(&mut self) -> Result<Option<OutputLine>> {
        poll_fn(|cx| self.poll_next_line(cx)).await
    }

    /// The child's lines as a [`Stream`](futures_core::Stream) (the trait of `futures-core`,
    /// which `futures` and `tokio-stream` re-export): the lines
    /// [`next_line`](Child::next_line) gives, ending once the child is
    /// done and every line was taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::pin::Pin;
    /// use futures_core::Stream;
    /// use procrun::Command;
    ///
    /// # ::tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// let mut child = procrun::tokio::spawn(Command::new("seq").arg("3"))?;
    /// let mut lines = child.lines();
    /// let mut seen = Vec::new();
    /// // `StreamExt::next` of futures or tokio-stream does the same.
    /// while let Some(line) = poll_fn(|cx| Pin::new(&mut lines).poll_next(cx)).await {
    ///     seen.push(line?.to_string_lossy().into_owned());
    /// }
    /// assert_eq!(seen, ["1", "2", "3"]);
    /// assert!(child.wait().await?.success());
    /// # Ok::<(), procrun::Error>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lines(&mut self) -> ChildLines<'_> {
        ChildLines { child: self }
    }

    #[inline]
    fn poll_next_line(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<OutputLine>>> {
        match self.poll_fill(cx) {
            Poll::Ready(Ok(true)) => Poll::Ready(Ok(self.taken.pop())),
            Poll::Ready(Ok(false)) => Poll::Ready(Ok(None)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Ready with whether the handle holds a line to hand out, taking
    /// every line waiting in the driver when it holds none; false once
    /// the child is done and every line was taken.
    #[inline]
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<bool>> {
        // Most calls find a line in hand: that test is made where the line
        // is taken, not behind a call.
        if !self.taken.is_empty() {
            return Poll::Ready(Ok(true));
        }
        self.poll_take(cx)
    }

    /// [`poll_fill`](Child::poll_fill) with the handle's batch all handed
    /// out: takes the next one from the driver.
    fn poll_take(&mut self, cx: &mut Context<'_>) -> Poll<Result<bool>> {
        let Child {
            core, id, taken, ..
        } = self;
        let id = *id;
        // Reading the pipes here spends the task's runtime budget, as
        // tokio's own reads do (out of it, the task waits for the driver
        // as before, and is woken again once the other tasks ran).
        let coop = ::tokio::task::coop::poll_proceed(cx);
        let mut owed = false;
        let took = poll_slot(core, id, cx, |state| {
            let (slot, spare) = state.slots.get_mut_and_spare(&id);
            let slot = slot?;
            if slot.lines.is_empty() && coop.is_ready() && !slot.orphan {
                // Every line filed was taken: the next are read here, on
                // the task's own worker, into the memory they are lent
                // from, with no turn of the driver and no wake between.
                taken.clear(spare);
                for stream in [Stream::Stdout, Stream::Stderr] {
                    owed |= read_lines_now(state, id, stream) == ReadNow::Owed;
                }
            }
            let (slot, spare) = state.slots.get_mut_and_spare(&id);
            let slot = slot?;
            if slot.lines.is_empty() {
                // Every line taken was handed out: its segments go back
                // now, for the lines of whichever child writes next, not
                // when more lines for this one come (a thousand children
                // waiting would hold a thousand segments, and the next
                // lines would be filed in memory fresh from the kernel).
                taken.clear(spare);
                // Not done: more lines may come.
                slot.done()?;
                // No more lines will come: what held them goes.
                taken.free(spare);
                slot.lines.free(spare);
                return Some(false);
            }
            // Every line waiting, in one take: one lock for a batch.
            if slot.take_lines(taken, spare) {
                // The reactor knows the child: it is not done while
                // paused with lines to take.
                let _ = state.reactor.resume(id);
                core.kick();
            }
            Some(true)
        });
        if owed {
            // A pipe's end is the pump's to file.
            core.kick();
        }
        if let (Poll::Ready(coop), Poll::Ready(_)) = (coop, &took) {
            coop.made_progress();
        }
        took
    }

    /// The next line, as [`next_line`](Child::next_line) gives it, lent
    /// until the handle is used again: no copy is made for it (the handle
    /// keeps the lines it took from the driver together, and lends one of
    /// them).
    ///
    /// Cancellation-safe: a dropped `next_line_ref` takes no line.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Command, Stream};
    ///
    /// # ::tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// let mut child = procrun::tokio::spawn(Command::new("seq").arg("3"))?;
    /// let mut sum = 0;
    /// while let Some(line) = child.next_line_ref().await? {
    ///     assert_eq!(line.stream(), Stream::Stdout);
    ///     sum += std::str::from_utf8(line.bytes())?.parse::<u32>()?;
    /// }
    /// assert_eq!(sum, 6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).map_err(|e| e.to_string())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`wait`](Child::wait).
    pub async fn next_line_ref(&mut self) -> Result<Option<LineRef<'_>>> {
        // A line in hand is lent at once, with no future polled for it.
        if self.taken.is_empty() && !poll_fn(|cx| self.poll_take(cx)).await? {
            return Ok(None);
        }
        Ok(self.taken.pop_ref())
    }

    /// Every line waiting, lent together: a [`LineBatch`] that hands them
    /// out in the order [`next_line`](Child::next_line) gives them, with
    /// no copy and no `.await` per line; `None` once the child is done
    /// and every line was taken. The fastest way to read a chatty child:
    /// one wait a batch, however many lines it holds.
    ///
    /// Lines the batch did not hand out before it was dropped stay in the
    /// handle: the next call (or `next_line`) gives them first.
    /// Cancellation-safe: a dropped `next_lines` takes no line.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::Command;
    ///
    /// # ::tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// let mut child = procrun::tokio::spawn(Command::new("seq").arg("1000"))?;
    /// let mut sum = 0;
    /// while let Some(batch) = child.next_lines().await? {
    ///     for line in batch {
    ///         sum += std::str::from_utf8(line.bytes())?.parse::<u32>()?;
    ///     }
    /// }
    /// assert_eq!(sum, 500_500);
    /// assert!(child.wait().await?.success());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).map_err(|e| e.to_string())?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`wait`](Child::wait).
    pub async fn next_lines(&mut self) -> Result<Option<LineBatch<'_>>> {
        if self.taken.is_empty() && !poll_fn(|cx| self.poll_take(cx)).await? {
            return Ok(None);
        }
        Ok(Some(self.taken.lend()))
    }

    /// Waits until the child is done, collecting all it writes, and gives
    /// both streams apart with the final exit; no bound on what is kept.
    ///
    /// A stream at [`Output::Raw`](crate::Output::Raw) comes byte for byte;
    /// one at [`Output::Lines`](crate::Output::Lines) as its lines not taken
    /// yet, each ended by `\n` (a `\r\n` the child wrote becomes `\n`, and a
    /// last line without one gets it). [`output`](super::output) spawns
    /// with both streams raw.
    ///
    /// # Errors
    ///
    /// As [`wait`](Child::wait).
    pub async fn output(mut self) -> Result<ChildOutput> {
        {
            let mut state = self.core.lock();
            let id = self.id;
            if let Some(slot) = state.slots.get_mut(&id) {
                slot.collect = true;
                if slot.take_resume() {
                    let _ = state.reactor.resume(id);
                }
            }
        }
        self.core.kick();
        let exit = self.wait().await?;
        let mut state = self.core.lock();
        let slot = state.slots.get_mut(&self.id);
        let mut out = ChildOutput {
            stdout: Vec::new(),
            stderr: Vec::new(),
            exit,
        };
        if let Some(slot) = slot {
            if let Some(io) = &mut slot.io {
                out.stdout = std::mem::take(&mut io.raw[0]).into();
                out.stderr = std::mem::take(&mut io.raw[1]).into();
            }
            for (stream, bytes, partial) in self.taken.rest().chain(slot.lines.rest()) {
                let to = match stream {
                    Stream::Stdout => &mut out.stdout,
                    Stream::Stderr => &mut out.stderr,
                };
                to.extend_from_slice(bytes);
                if !partial {
                    to.push(b'\n');
                }
            }
        }
        Ok(out)
    }
}

/// What one take reads of a stream of lines at most, in reads of
/// [`TURN_READ`]: a tokio task's chunk read.
const TAKE_READ: usize = 256 * 1024;

/// Reads child `id`'s `stream` of lines into its slot, by the reactor's
/// reads outside a turn, up to [`TAKE_READ`] while each read finds the
/// pipe well filled: what the last read did.
fn read_lines_now(state: &mut State, id: ChildId, stream: Stream) -> ReadNow {
    let State { reactor, slots, .. } = state;
    let mut total = 0;
    loop {
        let (Some(slot), spare) = slots.get_mut_and_spare(&id) else {
            return ReadNow::Nothing;
        };
        let read = reactor.read_lines_now(id, stream, |reader, fd| {
            if reader.pending() > CARRIED_MAX {
                // Left to the turns, which copy such a line in.
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let (n, added) = slot.lines.read_from(spare, stream, reader, fd, TURN_READ)?;
            slot.buffered += added;
            Ok(n)
        });
        match read {
            // A read well short of its ask found the pipe nearly empty.
            ReadNow::Read(n) if n >= TURN_READ / 2 && total + n < TAKE_READ => total += n,
            _ => return read,
        }
    }
}

fn done(state: &mut State, id: ChildId) -> Option<Exit> {
    state.slots.get(&id).and_then(|slot| slot.done())
}

impl Drop for Child {
    fn drop(&mut self) {
        let mut state = self.core.lock();
        let id = self.id;
        let (slot, spare) = state.slots.get_mut_and_spare(&id);
        self.taken.free(spare);
        let Some(slot) = slot else {
            return;
        };
        slot.orphan = true;
        if slot.done().is_some() {
            if slot.unwanted() {
                state.slots.remove(&id);
            }
            return;
        }
        let (Some(slot), spare) = state.slots.get_mut_and_spare(&id) else {
            return;
        };
        slot.lines.free(spare);
        // A reader out lives on (as the blocking API's do); the rest goes.
        for i in 0..2 {
            if slot.reader(i) != Reader::Live {
                slot.discard(i);
            }
        }
        slot.buffered = slot
            .io
            .as_ref()
            .map_or(0, |io| io.raw.iter().map(|r| r.len()).sum());
        slot.waker = None;
        let resume = slot.take_resume();
        // The reactor knows a child that is not done; errors cannot
        // happen here and would have nowhere to go.
        if resume {
            let _ = state.reactor.resume(id);
        }
        if self.kill_on_drop {
            let _ = state.reactor.stop(id);
            let _ = state.reactor.kill(id);
        }
        // Someone must reap it: a pump where this drop runs, if none does
        // (outside any runtime, the next pump or the driver's own drop).
        let _ = self.core.ensure_pump(&mut state);
        drop(state);
        self.core.kick();
    }
}

/// A child's lines as a [`Stream`](futures_core::Stream), from
/// [`Child::lines`].
#[derive(Debug)]
pub struct ChildLines<'a> {
    child: &'a mut Child,
}

impl AsyncStream for ChildLines<'_> {
    type Item = Result<OutputLine>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.child.poll_next_line(cx).map(Result::transpose)
    }
}
