//! `read(process, options)`: gpud's `Read` with its `ReadOp` options.

use super::Process;
use crate::child::OutputLine;
use crate::error::{Error, Result};
use crate::exit::Exit;

type LineFn<'a> = Box<dyn FnMut(&OutputLine) + 'a>;

/// Options of [`read`] (gpud's `ReadOp`).
///
/// Without [`stdout`](Self::stdout) or [`stderr`](Self::stderr), both
/// streams are read.
///
/// The line-length limit (gpud's `WithInitialBufferSize`) is the process's
/// own, [`ProcessBuilder::max_line`]: the reactor splits each stream once,
/// and a line longer than the limit reaches [`on_line`](Self::on_line) as
/// pieces flagged [`partial`](OutputLine::partial).
///
/// [`ProcessBuilder::max_line`]: super::ProcessBuilder::max_line
#[derive(Default)]
pub struct ReadOptions<'a> {
    stdout: bool,
    stderr: bool,
    on_line: Option<LineFn<'a>>,
    wait: bool,
}

impl std::fmt::Debug for ReadOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOptions")
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

impl<'a> ReadOptions<'a> {
    /// Default options: both streams, no callback, no wait.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads stdout (`WithReadStdout`).
    pub fn stdout(mut self) -> Self {
        self.stdout = true;
        self
    }

    /// Reads stderr (`WithReadStderr`).
    pub fn stderr(mut self) -> Self {
        self.stderr = true;
        self
    }

    /// Calls `f` for each line (`WithProcessLine`).
    pub fn on_line(mut self, f: impl FnMut(&OutputLine) + 'a) -> Self {
        self.on_line = Some(Box::new(f));
        self
    }

    /// After the output ends, waits for the final exit and returns it, an
    /// unsuccessful one as [`Error::Failed`] (`WithWaitForCmd`); one that
    /// [`timed_out`](Exit::timed_out) is [`Error::TimedOut`], with or
    /// without this option.
    pub fn wait_for_exit(mut self) -> Self {
        self.wait = true;
        self
    }
}

/// Reads the output of a started process line by line until it ends
/// (gpud's `Read`). Both streams are read by the reactor at once, so a
/// child filling stderr while stdout is read never blocks: lines of a
/// stream not selected are dropped. Every line the child wrote before it
/// exited is read, however soon it exited.
///
/// Returns the final exit with [`ReadOptions::wait_for_exit`], else `None`.
///
/// # Errors
///
/// [`Error::NotStarted`], [`Error::Aborted`] (closed before or while
/// reading), [`Error::DriverGone`] (the driver died and killed the child),
/// [`Error::TimedOut`] when the process's timeout stopped it — the output
/// ends only once the process is done, so this is known with or without
/// `wait_for_exit`, as a context deadline is in gpud's `Read` (the exit is
/// then [`Process::wait`]'s, [`timed_out`](Exit::timed_out)) — and with
/// `wait_for_exit` [`Error::Failed`] for any other unsuccessful exit.
///
/// # Examples
///
/// ```
/// use procrun::{read, Process, ReadOptions};
///
/// let p = Process::builder().command(["seq", "1", "3"]).build()?;
/// p.start()?;
/// let mut lines = Vec::new();
/// read(&p, ReadOptions::new().stdout().wait_for_exit().on_line(|l| {
///     lines.push(l.to_string_lossy().into_owned());
/// }))?;
/// assert_eq!(lines, ["1", "2", "3"]);
/// # Ok::<(), procrun::Error>(())
/// ```
pub fn read(process: &Process, mut opts: ReadOptions<'_>) -> Result<Option<Exit>> {
    let streams = match (opts.stdout, opts.stderr) {
        (false, false) => [true, true],
        (o, e) => [o, e],
    };
    let mut reader = process.reader(streams)?;
    reader.discard_others = true;
    while let Some(l) = reader.next_line_blocking() {
        if let Some(f) = &mut opts.on_line {
            f(&l);
        }
    }
    if process.closed() {
        return Err(Error::Aborted);
    }
    let last = {
        let st = process.handle.shared.lock();
        if st.is_driver_gone() {
            return Err(Error::DriverGone);
        }
        st.exits().last().copied()
    };
    // A timeout ends the output like a normal exit does: without this the
    // caller would read a cut-off stream as a complete one.
    if last.is_some_and(|e| e.timed_out()) {
        return Err(Error::TimedOut);
    }
    if !opts.wait {
        return Ok(None);
    }
    let exit = process.wait()?;
    if exit.success() {
        Ok(Some(exit))
    } else {
        Err(Error::Failed(exit))
    }
}
