//! The blocking handle API, in the shape of gpud's `pkg/process`.
//!
//! A [`Process`] is built with a [`ProcessBuilder`], started, read, waited
//! for and closed from any thread. The processes of the program are served
//! by a pool of driver threads, each owning one
//! [`Reactor`](crate::Reactor): one thread in total by default, never one
//! per child; [`set_drivers`] makes it one per core. A process stays on the
//! driver that started it.
//!
//! # Examples
//!
//! ```
//! use procrun::Process;
//!
//! let p = Process::builder()
//!     .commands([["echo", "hello world"]])
//!     .commands([["sh", "-c", "echo oops >&2; exit 3"]])
//!     .run_as_bash_script()
//!     .build()?;
//! let out = p.start_and_wait_combined(None)?;
//! assert_eq!(out.output, b"hello world\noops\n");
//! assert_eq!(out.exit.and_then(|e| e.code()), Some(3));
//! # Ok::<(), procrun::Error>(())
//! ```

mod buffer;
mod builder;
mod driver;
mod handle;
#[cfg(all(test, loom))]
mod loom_tests;
mod pool;
mod read;
pub(crate) mod runner;
mod script;
mod seam;
mod shared;
mod stdin;
mod stream;
mod sync;

use std::collections::BTreeMap;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tempfile::TempPath;

pub use builder::ProcessBuilder;
use driver::Driver;
use handle::Handle;
pub use pool::{set_drivers, Drivers, MAX_DRIVERS};
pub use read::{read, ReadOptions};
use script::MemScript;
pub use script::{shell_quote, DEFAULT_SCRIPT_PATTERN, SCRIPT_HEADER};
pub use stdin::ChildStdin;
pub use stream::{Exits, Lines, StreamReader};

use crate::command::{Input, Output};
use crate::error::{Error, Result};
use crate::exit::{Exit, StageExit};
use crate::signal::Signal;
use crate::spawn::Spec;

#[derive(Default)]
struct Resources {
    file: Option<TempPath>,
    mem: Option<MemScript>,
}

/// A supervised process with a blocking API (gpud's `Process`).
///
/// `Send + Sync`: start it on one thread, read it on another, close it from
/// a third. Dropping a started process stops it (without waiting) and
/// removes its script file; readers taken before the drop still read
/// everything the child wrote (see [`StreamReader`]).
///
/// # Examples
///
/// A check whose lines are read on another thread while this one waits:
///
/// ```
/// use std::thread;
/// use procrun::Process;
///
/// let p = Process::builder()
///     .command(["sh", "-c", "echo checking; uname -s; exit 1"])
///     .build()?;
/// p.start()?;
/// let lines = p.lines()?;
/// let reader = thread::spawn(move || {
///     lines.map(|l| l.to_string_lossy().into_owned()).collect::<Vec<_>>()
/// });
/// let exit = p.wait()?;
/// assert_eq!(exit.code(), Some(1));
/// assert_eq!(reader.join().unwrap(), ["checking", "Linux"]);
/// p.close()?;
/// # Ok::<(), procrun::Error>(())
/// ```
pub struct Process {
    /// The lifecycle shared with the driver, the driver, the script.
    handle: Handle<Driver, Resources>,
    /// Parsed once at build; each start runs a copy with its script.
    spec: Spec,
    script: Option<String>,
    inline: bool,
    script_dir: PathBuf,
    script_pattern: String,
    labels: BTreeMap<String, String>,
    /// What [`Process::output`] keeps of each stream.
    output_cap: usize,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("program", &self.spec.program_name())
            .field("pid", &self.pid())
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

/// What [`Process::start_and_wait_combined`] collected.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CombinedOutput {
    /// stdout and stderr interleaved as the child wrote them (they share
    /// one pipe), byte for byte: no line ending added or dropped.
    pub output: Vec<u8>,
    /// The final exit (`None` only if the process was closed before it was
    /// ever reaped, which a close does not allow).
    pub exit: Option<Exit>,
    /// Whether its timeout stopped it: the final exit's
    /// [`Exit::timed_out`], whichever limit it was.
    pub timed_out: bool,
}

/// What [`Process::output`] collected: each stream apart, as std's and
/// tokio's `Command::output()` give them.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProcessOutput {
    /// stdout, byte for byte, up to [`ProcessBuilder::output_cap`].
    pub stdout: Vec<u8>,
    /// stderr, byte for byte, up to [`ProcessBuilder::output_cap`].
    pub stderr: Vec<u8>,
    /// The child wrote more to stdout than the cap: `stdout` holds the
    /// first bytes, the rest was read and dropped.
    pub stdout_truncated: bool,
    /// The same, for stderr.
    pub stderr_truncated: bool,
    /// The final exit (`None` only if the process was closed before it was
    /// ever reaped, which a close does not allow).
    pub exit: Option<Exit>,
    /// Whether its timeout stopped it: the final exit's
    /// [`Exit::timed_out`].
    pub timed_out: bool,
}

impl Process {
    /// A builder of options.
    pub fn builder() -> ProcessBuilder {
        ProcessBuilder::default()
    }

    /// Starts the process.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyStarted`], [`Error::Aborted`] after
    /// [`close`](Self::close), the spawn errors of
    /// [`Reactor::spawn`](crate::Reactor::spawn), I/O errors writing the
    /// script, [`Error::Io`] when the driver it needs cannot be started (no
    /// fd or thread left: `EMFILE`, `EAGAIN`), and [`Error::DriverGone`] when the driver thread died before
    /// answering (a new start is served by a new driver). A failed start
    /// leaves no script file behind and can be tried again.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Error, Process};
    ///
    /// let p = Process::builder().command(["true"]).build()?;
    /// assert!(!p.started());
    /// p.start()?;
    /// assert!(p.started());
    /// assert!(matches!(p.start(), Err(Error::AlreadyStarted)));
    /// assert!(p.wait()?.success());
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn start(&self) -> Result<()> {
        self.start_with(false, None)
    }

    /// Starts; with `merged`, stderr shares stdout's pipe so combined
    /// output keeps the order in which the child wrote. A `limit` becomes
    /// this start's timeout, so it runs on the reactor's wheel as the
    /// builder's does; the smaller of the two wins.
    fn start_with(&self, merged: bool, limit: Option<Duration>) -> Result<()> {
        self.handle
            .start(|res| self.prepare(res, merged, limit), pool::pick)
    }

    /// The command of one start, with its script (kept in `res`).
    fn prepare(
        &self,
        res: &mut Resources,
        merged: bool,
        limit: Option<Duration>,
    ) -> Result<Arc<Spec>> {
        let mut spec = self.spec.clone();
        if merged && matches!(spec.stderr, Output::Lines) {
            spec.stderr = Output::Stdout;
        }
        // Raw pipes: byte readers get what the child wrote, and the lines
        // are split here by the same splitter the reactor uses (see
        // `buffer`).
        for out in [&mut spec.stdout, &mut spec.stderr] {
            if matches!(out, Output::Lines) {
                *out = Output::Raw;
            }
        }
        if let Some(l) = limit {
            spec.timeout = Some(spec.timeout.map_or(l, |t| t.min(l)));
        }
        if let Some(s) = &self.script {
            if self.inline {
                let m = MemScript::new(s)?;
                spec.push_arg(m.path().as_ref())?;
                res.mem = Some(m);
            } else {
                let p = script::write_file(s, &self.script_dir, &self.script_pattern)?;
                spec.push_arg(p.as_os_str())?;
                res.file = Some(p);
            }
        }
        Ok(Arc::new(spec))
    }

    /// Whether [`start`](Self::start) succeeded.
    pub fn started(&self) -> bool {
        self.handle.shared.lock().id().is_some()
    }

    /// Stops the process with escalation (stop signal, then `SIGKILL` after
    /// the grace), waits until the stop is over, and removes its script
    /// file: the child reaped and nothing of its process group (or, when
    /// [contained](ProcessBuilder::cgroup), of its cgroup) left alive, as
    /// for [`Event::Done`](crate::Event::Done). Unread output is discarded.
    /// Closing twice, or before a start, is fine. Every close returns only
    /// after that, also one racing a
    /// [`start`](Self::start) or another close on other threads; a start
    /// that loses the race to a close fails with [`Error::Aborted`] and
    /// starts nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Signal`] when the stop cannot reach the child (it made
    /// itself another user, a setuid program): the close returns without
    /// the reap rather than block for ever, the child runs on, and it is
    /// reaped whenever it exits. Every close of the process says so.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procrun::{Error, Process, Signal};
    ///
    /// let p = Process::builder()
    ///     .command(["sleep", "30"])
    ///     .grace(Duration::from_secs(5))
    ///     .build()?;
    /// p.start()?;
    /// p.close()?;
    /// // Over when close returns: no sleep is left behind.
    /// let exit = p.last_exit().expect("close waits for the reap");
    /// assert!(exit.stopped());
    /// assert_eq!(exit.signal(), Some(Signal::TERM));
    /// assert!(p.closed());
    /// assert!(matches!(p.start(), Err(Error::Aborted)));
    /// p.close()?; // closing again is fine
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn close(&self) -> Result<()> {
        self.handle.close()
    }

    /// Sends `sig` to the current run, as
    /// [`Reactor::signal`](crate::Reactor::signal) does (its process group
    /// and the child itself if it left the group, or the child alone when
    /// [detached](ProcessBuilder::detached)), and returns once it was sent.
    /// No stop starts: the restart policy still decides what follows the
    /// run's end.
    ///
    /// A process with no live run (it is waiting for a restart, or it is
    /// done, closed or not) is sent nothing and `Ok(())` is returned: a
    /// signal can always lose the race with an exit, and the exits tell
    /// what happened. A signal during a [`close`](Self::close) on another
    /// thread is sent: [`kill`](Self::kill) cuts a close's grace short.
    ///
    /// # Errors
    ///
    /// [`Error::NotStarted`] before a successful [`start`](Self::start);
    /// [`Error::Signal`] when the signal reached nothing of the child (it
    /// made itself another user); [`Error::DriverGone`] when the driver
    /// thread died.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Process, Signal};
    ///
    /// let p = Process::builder()
    ///     .command(["sh", "-c", "trap 'echo got USR1; exit 0' USR1; echo ready; sleep 60 & wait"])
    ///     .build()?;
    /// assert!(matches!(p.signal(Signal::USR1), Err(procrun::Error::NotStarted)));
    /// p.start()?;
    /// let mut out = p.stdout()?;
    /// assert_eq!(out.next_line_blocking().unwrap().to_string_lossy(), "ready");
    /// p.signal(Signal::USR1)?;
    /// assert_eq!(out.next_line_blocking().unwrap().to_string_lossy(), "got USR1");
    /// assert!(p.wait()?.success());
    /// p.signal(Signal::USR1)?; // done: nothing to signal
    /// p.close()?;
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn signal(&self, sig: Signal) -> Result<()> {
        self.handle.signal(sig)
    }

    /// Sends `SIGKILL` to the current run: [`signal`](Self::signal) with
    /// [`Signal::KILL`]. Unlike [`close`](Self::close), this ends the run,
    /// not the process: the exit is not
    /// [`stopped`](Exit::stopped) and a process restarted on error
    /// is restarted.
    ///
    /// # Errors
    ///
    /// As [`signal`](Self::signal).
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Process, Signal};
    ///
    /// let p = Process::builder().command(["sleep", "60"]).build()?;
    /// p.start()?;
    /// p.kill()?;
    /// let exit = p.wait()?;
    /// assert_eq!(exit.signal(), Some(Signal::KILL));
    /// assert!(!exit.stopped());
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn kill(&self) -> Result<()> {
        self.signal(Signal::KILL)
    }

    /// Whether [`close`](Self::close) was called.
    pub fn closed(&self) -> bool {
        self.handle.shared.lock().closed()
    }

    /// The pid of the current run (it changes on restart); `None` before
    /// the start and once that run is reaped: between a run's exit and its
    /// restart, once the process is done, and after [`close`](Self::close),
    /// as tokio's `Child::id()`. A pid kept past the reap may name another
    /// process the kernel gave it to; the pid of an ended run stays in its
    /// [`Exit::pid`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::Process;
    ///
    /// let p = Process::builder().command(["sleep", "30"]).build()?;
    /// assert_eq!(p.pid(), None);
    /// p.start()?;
    /// let pid = p.pid().expect("known once start returns");
    /// p.close()?;
    /// assert_eq!(p.pid(), None);
    /// assert_eq!(p.last_exit().map(|e| e.pid()), Some(pid));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn pid(&self) -> Option<u32> {
        self.handle.shared.lock().pid()
    }

    /// The status of the last exit; `None` before the first. A child killed
    /// by a signal reports it through
    /// [`ExitStatusExt::signal`](std::os::unix::process::ExitStatusExt::signal),
    /// with `code()` `None`, never a made-up -1.
    pub fn exit_status(&self) -> Option<std::process::ExitStatus> {
        self.last_exit().map(|e| e.status())
    }

    /// The last exit, with how it came about; `None` before the first.
    pub fn last_exit(&self) -> Option<Exit> {
        self.handle.shared.lock().exits().last().copied()
    }

    /// For a pipeline ([`ProcessBuilder::pipe`]), how each stage of the
    /// current run ended, in the order they were reaped (the first stage
    /// last): those reaped so far while it runs, all of them once it
    /// ended, until a restart starts the next run. Empty for a command.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::Process;
    ///
    /// let p = Process::builder()
    ///     .command(["sh", "-c", "echo x; exit 2"])
    ///     .pipe(["cat"])
    ///     .build()?;
    /// p.start()?;
    /// let exit = p.wait()?;
    /// let mut stages: Vec<_> = p.stage_exits().iter().map(|s| (s.stage(), s.code())).collect();
    /// stages.sort();
    /// assert_eq!(stages, [(0, Some(2)), (1, Some(0))]);
    /// assert_eq!(exit.failed_stage(), Some(0));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn stage_exits(&self) -> Vec<StageExit> {
        self.handle.shared.lock().stage_exits().to_vec()
    }

    /// The labels set with [`ProcessBuilder::label`].
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    /// One label.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    /// The script file of the current start, if the process runs one from
    /// disk.
    pub fn script_path(&self) -> Option<PathBuf> {
        self.handle.res().file.as_ref().map(|p| p.to_path_buf())
    }

    /// Waits for the final exit (after any restarts).
    ///
    /// For a process built with
    /// [`stdin_stream`](ProcessBuilder::stdin_stream), `wait` first closes
    /// the stdin stream of every run whose writer nobody took with
    /// [`stdin`](Self::stdin) (the current run's, and each restart's as it
    /// starts), as tokio's `Child::wait` drops the child's stdin: a child
    /// that reads its stdin to the end, such as `cat`, ends instead of
    /// waiting for ever. A writer taken before stays its taker's, and the
    /// child reads EOF when it is dropped; once a wait runs, `stdin` gives
    /// [`Error::NoStdin`] for a run whose stream it closed.
    /// [`wait_timeout`](Self::wait_timeout) and
    /// [`try_wait`](Self::try_wait) leave stdin alone, as tokio's
    /// `try_wait` does.
    ///
    /// # Errors
    ///
    /// [`Error::NotStarted`]; [`Error::DriverGone`] when the driver died
    /// (and killed the child) before the final exit.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procrun::{Process, Restart};
    ///
    /// let p = Process::builder()
    ///     .command(["sh", "-c", "exit 4"])
    ///     .restart(Restart::on_error().limit(1).interval(Duration::from_millis(10)))
    ///     .build()?;
    /// p.start()?;
    /// // The final exit: the restart's.
    /// let exit = p.wait()?;
    /// assert_eq!((exit.code(), exit.restarts()), (Some(4), 1));
    ///
    /// // Nobody took the writer of cat's stdin: the wait closes it.
    /// let cat = Process::builder().command(["cat"]).stdin_stream().build()?;
    /// cat.start()?;
    /// assert!(cat.wait()?.success());
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn wait(&self) -> Result<Exit> {
        // With no deadline the wait ends only once the process is done, and
        // a done process has exited at least once.
        self.wait_closing_stdin()?.ok_or(Error::NotStarted)
    }

    /// The final exit, closing the stdin streams nobody took first.
    fn wait_closing_stdin(&self) -> Result<Option<Exit>> {
        if matches!(self.spec.stdin, Input::Stream) {
            self.handle.wait_closing_stdin()
        } else {
            self.wait_final(None)
        }
    }

    /// Waits at most `limit` for the final exit; `Ok(None)` if it has not
    /// come by then. A `limit` too large to add to the current time (such
    /// as [`Duration::MAX`]) waits as [`wait`](Self::wait) does.
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait).
    pub fn wait_timeout(&self, limit: Duration) -> Result<Option<Exit>> {
        self.wait_final(deadline_in(limit))
    }

    /// The final exit if the process is done, without blocking.
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait).
    pub fn try_wait(&self) -> Result<Option<Exit>> {
        self.wait_final(Some(Instant::now()))
    }

    fn wait_final(&self, deadline: Option<Instant>) -> Result<Option<Exit>> {
        self.handle.wait_final(deadline)
    }

    /// A cursor over every exit: one per run, then the end. Any number of
    /// cursors see the same exits.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procrun::{Process, Restart};
    ///
    /// let p = Process::builder()
    ///     .command(["sh", "-c", "exit 2"])
    ///     .restart(Restart::on_error().limit(2).interval(Duration::from_millis(10)))
    ///     .build()?;
    /// p.start()?;
    /// let runs: Vec<u32> = p.exits().map(|e| e.restarts()).collect();
    /// assert_eq!(runs, [0, 1, 2]);
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn exits(&self) -> Exits {
        Exits {
            shared: self.handle.shared.clone(),
            next: 0,
        }
    }

    /// A reader of stdout (`StdoutReader`): as [`std::io::Read`], the bytes
    /// exactly as the child wrote them; as
    /// [`next_line_blocking`](StreamReader::next_line_blocking), its lines.
    ///
    /// One reader per stream: readers of a stream share its bytes, each
    /// going to one of them, so two readers of stdout each see a part of
    /// it. And never read one stream to its end while the other goes
    /// unread: the [`buffer`](ProcessBuilder::buffer) bounds the unread
    /// output of both streams together, so once the unread stderr fills
    /// it the child is paused, and stdout never ends (a child writing
    /// 3 MB to stderr before its last line to stdout deadlocks a reader
    /// that reads stdout to its end first). Read the two on two threads,
    /// read [`lines`](Self::lines), or let [`output`](Self::output)
    /// collect both.
    ///
    /// The process reads its pipes raw and splits lines itself, with the
    /// reactor's splitter and the process's
    /// [`max_line`](ProcessBuilder::max_line), so byte readers, line
    /// readers and [`lines`](Self::lines) may all be taken at once: they
    /// share one buffer per stream, each byte goes to one of them, and a
    /// line a byte reader took the start of reaches a line reader as its
    /// rest.
    ///
    /// # Errors
    ///
    /// [`Error::NotStarted`], [`Error::Aborted`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use procrun::Process;
    ///
    /// let p = Process::builder()
    ///     .command(["sh", "-c", "echo one; echo noise >&2; printf 'two\\r\\n'"])
    ///     .build()?;
    /// p.start()?;
    /// let mut out = String::new();
    /// p.stdout()?.read_to_string(&mut out)?;
    /// // Byte for byte, `\r\n` included.
    /// assert_eq!(out, "one\ntwo\r\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stdout(&self) -> Result<StreamReader> {
        self.reader([true, false])
    }

    /// A reader of stderr (`StderrReader`). As for
    /// [`stdout`](Self::stdout): one reader per stream, and reading
    /// stderr to its end while stdout goes unread can deadlock once the
    /// unread stdout fills the buffer.
    ///
    /// # Errors
    ///
    /// [`Error::NotStarted`], [`Error::Aborted`].
    pub fn stderr(&self) -> Result<StreamReader> {
        self.reader([false, true])
    }

    /// The writer of the current run's stdin, for a process built with
    /// [`stdin_stream`](ProcessBuilder::stdin_stream). There is one per
    /// run: dropping it closes that run's stream (the child reads EOF),
    /// and each run of a restart policy gets a stream of its own, whose
    /// writer is taken with a new call. A writer of an earlier run gets
    /// [`BrokenPipe`](std::io::ErrorKind::BrokenPipe) and its drop leaves
    /// the later run's stream open (see [`ChildStdin`]).
    ///
    /// A run's writer stays taken until the run exits, also once it was
    /// dropped: wait for the exit (with [`exits`](Self::exits)) before
    /// asking for the next run's. Between runs (the last one exited, the
    /// restart is not under way yet) it waits for the next run to start,
    /// so that the writer is that run's; once the process is done it
    /// returns a writer whose writes fail with `BrokenPipe`.
    ///
    /// # Errors
    ///
    /// [`Error::NotStarted`], [`Error::Aborted`] (also when the process
    /// is closed while this waits), and [`Error::NoStdin`] for a process
    /// without a stdin stream or whose current run's writer was taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use std::time::Duration;
    /// use procrun::{Process, Restart};
    ///
    /// let p = Process::builder()
    ///     .command(["cat"])
    ///     .stdin_stream()
    ///     .restart(Restart::always().limit(1).interval(Duration::from_millis(10)))
    ///     .build()?;
    /// p.start()?;
    /// let mut out = p.stdout()?;
    /// let mut exits = p.exits();
    /// for word in ["first", "second"] {
    ///     // One writer per run; its drop is the run's EOF.
    ///     let mut stdin = p.stdin()?;
    ///     writeln!(stdin, "{word}")?;
    ///     drop(stdin);
    ///     assert_eq!(out.next_line_blocking().unwrap().to_string_lossy(), word);
    ///     // Until the run exits, its writer is the one that was taken.
    ///     let exit = exits.next().unwrap();
    ///     assert!(exit.success());
    /// }
    /// assert_eq!(p.wait()?.restarts(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stdin(&self) -> Result<ChildStdin> {
        self.handle.check_readable()?;
        if !matches!(self.spec.stdin, Input::Stream) {
            return Err(Error::NoStdin);
        }
        let (driver, id, run) = self.handle.stdin()?;
        Ok(ChildStdin {
            shared: self.handle.shared.clone(),
            driver,
            id,
            run,
        })
    }

    /// The lines of both streams, in the order they were read. This
    /// reader takes every line of both streams, so it cannot deadlock on
    /// the buffer; a [`stdout`](Self::stdout) or [`stderr`](Self::stderr)
    /// reader taken besides shares the lines with it (each goes to one of
    /// them).
    ///
    /// # Errors
    ///
    /// [`Error::NotStarted`], [`Error::Aborted`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Process, Stream};
    ///
    /// let p = Process::builder()
    ///     .command(["sh", "-c", "echo out; echo err >&2"])
    ///     .build()?;
    /// p.start()?;
    /// // Two pipes: the order between them is the order they were read in.
    /// let lines: Vec<_> = p.lines()?.map(|l| (l.stream, l.bytes)).collect();
    /// assert_eq!(lines.len(), 2);
    /// assert!(lines.contains(&(Stream::Stdout, b"out".to_vec())));
    /// assert!(lines.contains(&(Stream::Stderr, b"err".to_vec())));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn lines(&self) -> Result<Lines> {
        Ok(Lines {
            inner: self.reader([true, true])?,
        })
    }

    fn reader(&self, streams: [bool; 2]) -> Result<StreamReader> {
        self.handle.take_reader(true)?;
        Ok(self.new_reader(streams))
    }

    fn reader_unchecked(&self, streams: [bool; 2]) -> StreamReader {
        // Never fails unchecked.
        let _ = self.handle.take_reader(false);
        self.new_reader(streams)
    }

    /// A reader, counted already.
    fn new_reader(&self, streams: [bool; 2]) -> StreamReader {
        StreamReader {
            shared: self.handle.shared.clone(),
            driver: self.handle.driver_slot(),
            streams,
            discard_others: false,
        }
    }

    /// Starts the process, collects stdout and stderr interleaved, and
    /// waits for the final exit (`StartAndWaitForCombinedOutput`).
    ///
    /// `limit` is the timeout of this start: after it the process is
    /// stopped with the usual escalation, the output so far is returned and
    /// the exit reports [`timed_out`](Exit::timed_out), exactly as with
    /// [`ProcessBuilder::timeout`]. Given both, the smaller wins. A `limit`
    /// too large to add to the current time (such as [`Duration::MAX`]) is
    /// no limit. A [`close`](Self::close) from another thread also ends
    /// the call, with the output so far.
    ///
    /// # Errors
    ///
    /// The errors of [`start`](Self::start). A failed exit is not an error:
    /// look at [`CombinedOutput::exit`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procrun::Process;
    ///
    /// let p = Process::builder()
    ///     .command(["sh", "-c", "echo started; exec sleep 30"])
    ///     .build()?;
    /// let out = p.start_and_wait_combined(Some(Duration::from_millis(200)))?;
    /// assert_eq!(out.output, b"started\n");
    /// assert!(out.timed_out && out.exit.is_some_and(|e| e.timed_out()));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn start_and_wait_combined(&self, limit: Option<Duration>) -> Result<CombinedOutput> {
        self.run_combined(limit, usize::MAX)
    }

    /// Starts the process, collects stdout and stderr each apart, and waits
    /// for the final exit, as std's and tokio's `Command::output()` do.
    ///
    /// Both streams are read as they come, whatever their sizes, so a
    /// child that fills one while the other is still open never blocks
    /// (reading one stream to its end before the other can: see
    /// [`stdout`](Self::stdout)). Each keeps at most
    /// [`output_cap`](ProcessBuilder::output_cap) bytes (16 MiB by
    /// default): the rest is read and dropped, and
    /// [`ProcessOutput::stdout_truncated`] or `stderr_truncated` says so.
    /// With restarts, the runs' output follows one another. The
    /// [`timeout`](ProcessBuilder::timeout) bounds it: the output so far
    /// is returned with the exit that says
    /// [`timed_out`](Exit::timed_out). A stdin stream nobody took is
    /// closed, as [`wait`](Self::wait) does. A [`close`](Self::close)
    /// from another thread also ends the call, with the output so far.
    /// Output that goes elsewhere ([`output_file`](ProcessBuilder::output_file),
    /// [`stdout`](ProcessBuilder::stdout) other than a pipe) is not seen.
    ///
    /// # Errors
    ///
    /// The errors of [`start`](Self::start). A failed exit is not an error:
    /// look at [`ProcessOutput::exit`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::Process;
    ///
    /// // 3 MB to stderr before stdout ends: both read as they come.
    /// let p = Process::builder()
    ///     .command(["sh", "-c", "head -c 3000000 /dev/zero >&2; echo done; exit 2"])
    ///     .build()?;
    /// let out = p.output()?;
    /// assert_eq!(out.stdout, b"done\n");
    /// assert_eq!(out.stderr.len(), 3_000_000);
    /// assert!(!out.stdout_truncated && !out.stderr_truncated);
    /// assert_eq!(out.exit.and_then(|e| e.code()), Some(2));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn output(&self) -> Result<ProcessOutput> {
        self.start_with(false, None)?;
        // Unchecked, as for the combined output: a close from another
        // thread is a cancellation, not an error.
        let reader = self.reader_unchecked([true, true]);
        let read = std::thread::scope(|s| {
            // The stdin streams nobody took are closed while the output is
            // read: a `cat` ends only once its stdin does.
            if matches!(self.spec.stdin, Input::Stream) {
                std::thread::Builder::new()
                    .name("procrun-output-stdin".into())
                    .spawn_scoped(s, || self.handle.wait_closing_stdin())?;
            }
            Ok(stream::read_both(
                &reader.shared,
                &reader.driver,
                self.output_cap,
            ))
        });
        drop(reader);
        let [stdout, stderr] = match read {
            Ok(r) => r,
            Err(e) => {
                // No thread to close stdin with (`EAGAIN`): the output
                // could wait for ever on a child reading it.
                self.close()?;
                return Err(Error::Io(e));
            }
        };
        let exit = self.wait_final(None)?;
        Ok(ProcessOutput {
            stdout: stdout.bytes,
            stderr: stderr.bytes,
            stdout_truncated: stdout.truncated,
            stderr_truncated: stderr.truncated,
            exit,
            timed_out: exit.is_some_and(|e| e.timed_out()),
        })
    }

    /// [`start_and_wait_combined`](Self::start_and_wait_combined) keeping
    /// at most the first `cap` bytes of output.
    pub(crate) fn run_combined(
        &self,
        limit: Option<Duration>,
        cap: usize,
    ) -> Result<CombinedOutput> {
        self.start_with(true, limit)?;
        // Unchecked: a close from another thread right after this start is
        // the cancellation the caller gets the output so far for, not an
        // error.
        // The merged pipe is read as stdout.
        let mut reader = self.reader_unchecked([true, false]);
        let mut output = Vec::new();
        let mut chunk = vec![0; 64 * 1024];
        loop {
            // Never fails: a reader blocks or returns what there is.
            let n = std::io::Read::read(&mut reader, &mut chunk).unwrap_or(0);
            if n == 0 {
                break;
            }
            let take = n.min(cap - output.len());
            output.extend_from_slice(&chunk[..take]);
        }
        // The output ends before the exit when another thread closes the
        // process; the stop it started completes with the reap.
        let exit = self.wait_final(None)?;
        Ok(CombinedOutput {
            output,
            exit,
            timed_out: exit.is_some_and(|e| e.timed_out()),
        })
    }
}

/// The instant `d` from now, or `None` (no deadline) when that is past
/// what an [`Instant`] can hold: a caller passing a huge duration means
/// "never", and adding it would panic.
pub(crate) fn deadline_in(d: Duration) -> Option<Instant> {
    Instant::now().checked_add(d)
}

impl Drop for Process {
    fn drop(&mut self) {
        // The script file goes with the handle; bash has it open already
        // or is being stopped.
        self.handle.abandon();
    }
}
