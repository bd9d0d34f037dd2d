//! Runners: run a script to completion and get its output (gpud's `Runner`
//! and `ExclusiveRunner`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::Process;
use crate::error::{Error, Result};
use crate::exit::Exit;

/// What a run produced.
#[derive(Debug)]
#[non_exhaustive]
pub struct RunOutput {
    /// stdout and stderr interleaved, at most the runner's cap.
    pub output: Vec<u8>,
    /// The exit code; `None` when the run was killed by a signal.
    pub exit_code: Option<i32>,
    /// The final exit.
    pub exit: Option<Exit>,
    /// Why the run failed: [`Error::Failed`] for an unsuccessful exit or
    /// [`Error::TimedOut`] when the exit [`timed_out`](Exit::timed_out).
    pub error: Option<Error>,
}

/// Options of one run.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct RunOptions {
    /// The run's timeout: stop it (with escalation) after this long, on
    /// the reactor's timer wheel as
    /// [`ProcessBuilder::timeout`](crate::ProcessBuilder::timeout) does;
    /// its exit then reports [`Exit::timed_out`]. A duration too large to
    /// add to the current time (such as [`Duration::MAX`]) is no limit.
    pub timeout: Option<Duration>,
    /// Runs the script detached, as
    /// [`ProcessBuilder::detached`](crate::ProcessBuilder::detached) does
    /// (gpud's `WithAllowDetachedProcess`): what it starts in the
    /// background (`sleep 10 && systemctl restart agent &`) outlives the
    /// run instead of being killed with its process group when the script
    /// exits. A timeout then stops the script alone. Off by default.
    pub detached: bool,
}

impl RunOptions {
    /// A time limit.
    pub fn timeout(d: Duration) -> RunOptions {
        RunOptions {
            timeout: Some(d),
            ..RunOptions::default()
        }
    }

    /// These options, detached (see [`RunOptions::detached`](#structfield.detached)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procrun::RunOptions;
    ///
    /// let opts = RunOptions::timeout(Duration::from_secs(60)).detached();
    /// assert!(opts.detached && opts.timeout.is_some());
    /// ```
    pub fn detached(mut self) -> RunOptions {
        self.detached = true;
        self
    }
}

/// Runs bash scripts to completion.
///
/// # Examples
///
/// Code that needs a script run takes any runner:
///
/// ```
/// use procrun::{ExclusiveRunner, RunOptions, Runner};
///
/// fn kernel_name(runner: &impl Runner) -> procrun::Result<String> {
///     let out = runner.run_until_completion("uname -s", RunOptions::default())?;
///     match out.error {
///         Some(e) => Err(e),
///         None => Ok(String::from_utf8_lossy(&out.output).trim().to_string()),
///     }
/// }
///
/// assert_eq!(kernel_name(&ExclusiveRunner::new())?, "Linux");
/// # Ok::<(), procrun::Error>(())
/// ```
pub trait Runner {
    /// Runs `script` with bash and returns its output and exit.
    ///
    /// # Errors
    ///
    /// Errors starting it; a failed or timed-out run is `Ok` with
    /// [`RunOutput::error`] set and the partial output.
    fn run_until_completion(&self, script: &str, opts: RunOptions) -> Result<RunOutput>;
}

/// A [`Runner`] that runs one script at a time: a call while another runs
/// fails at once with [`Error::AlreadyRunning`] — decided atomically, so two
/// threads racing never both run. Output is kept in memory, at most the
/// cap (default 1 MiB), and the script itself never touches the disk.
///
/// # Examples
///
/// ```
/// use procrun::{ExclusiveRunner, RunOptions, Runner};
///
/// let runner = ExclusiveRunner::new();
/// let out = runner.run_until_completion("echo hi; exit 2", RunOptions::default())?;
/// assert_eq!(out.output, b"hi\n");
/// assert_eq!(out.exit_code, Some(2));
/// assert!(out.error.is_some());
/// # Ok::<(), procrun::Error>(())
/// ```
#[derive(Debug)]
pub struct ExclusiveRunner {
    running: AtomicBool,
    cap: usize,
}

impl Default for ExclusiveRunner {
    fn default() -> Self {
        Self::new()
    }
}

impl ExclusiveRunner {
    /// A runner keeping at most 1 MiB of output.
    pub fn new() -> ExclusiveRunner {
        Self::with_output_cap(1 << 20)
    }

    /// A runner keeping at most `cap` bytes of output (the first ones).
    pub fn with_output_cap(cap: usize) -> ExclusiveRunner {
        ExclusiveRunner {
            running: AtomicBool::new(false),
            cap,
        }
    }

    /// Whether a run is under way.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }
}

struct Release<'a>(&'a AtomicBool);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Runner for ExclusiveRunner {
    fn run_until_completion(&self, script: &str, opts: RunOptions) -> Result<RunOutput> {
        if self
            .running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(Error::AlreadyRunning);
        }
        let _release = Release(&self.running);
        let mut builder = Process::builder().script(script).inline();
        if opts.detached {
            builder = builder.detached();
        }
        let p = builder.build()?;
        let out = p.run_combined(opts.timeout, self.cap)?;
        let error = match out.exit {
            Some(e) if e.timed_out() => Some(Error::TimedOut),
            Some(e) if !e.success() => Some(Error::Failed(e)),
            _ => None,
        };
        Ok(RunOutput {
            output: out.output,
            exit_code: out.exit.and_then(|e| e.code()),
            exit: out.exit,
            error,
        })
    }
}
