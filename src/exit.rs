//! How a run of a child ended: [`Exit`]. It sits on the ground floor,
//! below the reactor that makes it and the error type that carries it, so
//! neither points back up at the other.

use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use crate::child::ChildId;
use crate::signal::Signal;

/// How a run of a child ended.
///
/// # Names
///
/// What ended a run is asked by the cause's bare past participle:
/// [`stopped`](Self::stopped), [`timed_out`](Self::timed_out) (and which
/// timeout by [`timeout_kind`](Self::timeout_kind)),
/// [`oom_killed`](Self::oom_killed), [`status_lost`](Self::status_lost),
/// [`restart_limit_reached`](Self::restart_limit_reached); what holds of
/// the child after it, with `is_`: [`is_final`](Self::is_final).
/// [`success`](Self::success) reads as std's `ExitStatus::success`.
///
/// # Examples
///
/// A child that fails, is restarted once, and fails again:
///
/// ```
/// use std::time::Duration;
/// use procrun::{Command, Event, Reactor, Restart};
///
/// let mut reactor = Reactor::new()?;
/// let mut cmd = Command::new("sh");
/// cmd.args(["-c", "exit 3"])
///     .restart(Restart::on_error().limit(1).interval(Duration::from_millis(10)));
/// reactor.spawn(&cmd)?;
/// let mut exits = Vec::new();
/// while !reactor.is_empty() {
///     reactor.poll(None, |_, event| {
///         if let Event::Exited(exit) = event {
///             exits.push(exit);
///         }
///     })?;
/// }
/// let [first, last] = exits[..] else { panic!("{exits:?}") };
/// assert_eq!(first.code(), Some(3));
/// assert!(!first.success() && !first.is_final());
/// assert_eq!(first.restart_in(), Some(Duration::from_millis(10)));
/// assert_eq!((last.restarts(), last.is_final()), (1, true));
/// assert!(last.restart_limit_reached());
/// assert_eq!(last.to_string(), "exit code 3");
/// # Ok::<(), procrun::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    pub(crate) id: ChildId,
    pub(crate) pid: u32,
    pub(crate) status: ExitStatus,
    pub(crate) stopped: bool,
    pub(crate) timeout: Option<TimeoutKind>,
    pub(crate) restart_in: Option<Duration>,
    pub(crate) limit_reached: bool,
    pub(crate) status_lost: bool,
    pub(crate) restarts: u32,
    pub(crate) user_time: Duration,
    pub(crate) system_time: Duration,
    pub(crate) max_rss_bytes: u64,
    pub(crate) wall_time: Duration,
    pub(crate) oom_killed: bool,
    pub(crate) peak_memory_bytes: Option<u64>,
    /// A pipeline's stage whose status this is, when one failed, plus
    /// one; 0 for none. Not an `Option<u32>`: that would take the exit
    /// past 120 bytes, and every `Result` with it (a pipeline has at most
    /// `u16::MAX` stages).
    pub(crate) failed_stage: u16,
}

impl Exit {
    /// The child.
    pub fn id(&self) -> ChildId {
        self.id
    }

    /// The pid of the run that ended; for a
    /// [`Pipeline`](crate::Pipeline), its first stage's (the id of the
    /// stages' process group).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The wait status, as std reports it. When the
    /// [`status_lost`](Self::status_lost), one that is neither an exit
    /// code nor a signal (nor a success): whatever a caller asks of it,
    /// it cannot be taken for a real status.
    pub fn status(&self) -> ExitStatus {
        self.status
    }

    /// The exit code, when the run exited rather than being killed;
    /// `None` too when the [`status_lost`](Self::status_lost).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The signal that killed the run, if one did.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Command, Event, Reactor, Signal};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "kill -BUS $$"]);
    /// reactor.spawn(&cmd)?;
    /// let mut exit = None;
    /// while !reactor.is_empty() {
    ///     reactor.poll(None, |_, event| {
    ///         if let Event::Exited(e) = event {
    ///             exit = Some(e);
    ///         }
    ///     })?;
    /// }
    /// let exit = exit.unwrap();
    /// assert_eq!(exit.signal(), Some(Signal::BUS));
    /// assert_eq!(exit.to_string(), "killed by SIGBUS");
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn signal(&self) -> Option<Signal> {
        // The kernel reports only signals 1 to 64, every one a `Signal`.
        self.status.signal().and_then(Signal::from_raw)
    }

    /// Whether the run exited with code 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Whether procrun ended it by a stop request: a stop
    /// ([`Reactor::stop`](crate::Reactor::stop), a close or drop of its
    /// [`Process`](crate::Process)) or one of the command's timeouts. Not
    /// a `SIGSTOP`: a child paused by a signal has not ended.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// The old name of [`stopped`](Self::stopped).
    #[deprecated(note = "renamed `stopped`: an exit's causes are bare past participles")]
    pub fn was_stopped(&self) -> bool {
        self.stopped()
    }

    /// Whether the stop was one of the command's timeouts: the child's
    /// ([`Command::timeout`](crate::Command::timeout)) or the run's
    /// ([`Command::run_timeout`](crate::Command::run_timeout));
    /// [`timeout_kind`](Self::timeout_kind) says which.
    pub fn timed_out(&self) -> bool {
        self.timeout.is_some()
    }

    /// Which timeout ended the run, if one did: `Some` exactly when
    /// [`timed_out`](Self::timed_out). A run that its run timeout was
    /// stopping when the child's timeout fired too reports the child's:
    /// that one ended the child, and no restart follows.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procrun::{Command, Event, Reactor, TimeoutKind};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let mut cmd = Command::new("sleep");
    /// cmd.arg("30").timeout(Duration::from_millis(100));
    /// reactor.spawn(&cmd)?;
    /// cmd.timeout(Duration::MAX).run_timeout(Duration::from_millis(100));
    /// reactor.spawn(&cmd)?;
    /// let mut kinds = Vec::new();
    /// while !reactor.is_empty() {
    ///     reactor.poll(None, |_, event| {
    ///         if let Event::Exited(exit) = event {
    ///             assert!(exit.timed_out());
    ///             kinds.push(exit.timeout_kind());
    ///             assert!(exit.to_string().ends_with("timed out)"), "{exit}");
    ///         }
    ///     })?;
    /// }
    /// kinds.sort();
    /// assert_eq!(kinds, [Some(TimeoutKind::Child), Some(TimeoutKind::Run)]);
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn timeout_kind(&self) -> Option<TimeoutKind> {
        self.timeout
    }

    /// When a restart follows, the delay before it: [`Duration::MAX`] when
    /// the policy's delay lies past any clock, a restart never due (the
    /// child waits for it until stopped, as
    /// [`Restart::interval`](crate::Restart::interval) says). A stop or timeout during
    /// that delay cancels the restart: [`Event::Done`](crate::Event::Done)
    /// then follows with no further exit, and says so (`restart_cancelled`,
    /// and `timed_out` for the timeout), carrying this exit as final:
    /// marked stopped (and timed out), with no restart. The handle API's
    /// [`Process::wait`](crate::Process::wait) returns that one.
    pub fn restart_in(&self) -> Option<Duration> {
        self.restart_in
    }

    /// Whether no restart follows this exit.
    pub fn is_final(&self) -> bool {
        self.restart_in.is_none()
    }

    /// Whether the run would have been restarted but for the restart
    /// limit: it failed, or under [`Restart::always`](crate::Restart::always)
    /// it ended in any way but a stop.
    pub fn restart_limit_reached(&self) -> bool {
        self.limit_reached
    }

    /// How many restarts preceded this run (0 for the first run).
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// Whether the status was lost because something else in the process
    /// reaped the child: a `waitpid(-1)`, or `SIGCHLD` set to `SIG_IGN` (or
    /// with `SA_NOCLDWAIT`) after the spawn — with it set before, the
    /// spawn fails with [`Error::SigchldIgnored`](crate::Error::SigchldIgnored)
    /// instead. Nothing is known of how the run ended then: no
    /// [`code`](Self::code), no [`signal`](Self::signal), not a
    /// [`success`](Self::success), the resource usage zero, and it
    /// displays as `status unknown (reaped elsewhere)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Command, Event, Reactor};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "sleep 0.2; exit 3"]);
    /// reactor.spawn(&cmd)?;
    /// // The host ignores SIGCHLD once the child runs: the kernel reaps it.
    /// // SAFETY: SIG_IGN runs no code, and a doctest is a process of its own.
    /// unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    /// let mut exit = None;
    /// while !reactor.is_empty() {
    ///     reactor.poll(None, |_, event| {
    ///         if let Event::Exited(e) = event {
    ///             exit = Some(e);
    ///         }
    ///     })?;
    /// }
    /// let exit = exit.unwrap();
    /// assert!(exit.status_lost());
    /// assert_eq!((exit.code(), exit.signal(), exit.success()), (None, None, false));
    /// assert_eq!(exit.to_string(), "status unknown (reaped elsewhere)");
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn status_lost(&self) -> bool {
        self.status_lost
    }

    /// The CPU time the run spent in user mode: the child's own and that
    /// of the descendants it waited for, as the kernel reports it at the
    /// reap (Go's `ProcessState.UserTime`). Zero when the
    /// [`status_lost`](Self::status_lost).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procrun::Process;
    ///
    /// let p = Process::builder().command(["sleep", "0.2"]).build()?;
    /// p.start()?;
    /// let exit = p.wait()?;
    /// assert!(exit.wall_time() >= Duration::from_millis(200));
    /// // A sleeper uses next to no CPU; how little depends on the machine.
    /// assert!(exit.user_time() + exit.system_time() < exit.wall_time());
    /// assert!(exit.max_rss_bytes() > 0);
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn user_time(&self) -> Duration {
        self.user_time
    }

    /// The CPU time the run spent in the kernel, counted as
    /// [`user_time`](Self::user_time) is (Go's `ProcessState.SystemTime`).
    pub fn system_time(&self) -> Duration {
        self.system_time
    }

    /// The run's peak resident set size in bytes: the largest of the
    /// child's and of each descendant it waited for (the kernel's
    /// `ru_maxrss`, which Linux counts in KiB; Go's
    /// `ProcessState.SysUsage`). Zero when the
    /// [`status_lost`](Self::status_lost).
    ///
    /// The kernel counts the memory a child had before its `exec` too, and
    /// a child starts sharing this process's memory (procrun starts it by
    /// `clone` with `CLONE_VM | CLONE_VFORK`, as `posix_spawn` and Go's
    /// `os/exec` do): the value is never below this
    /// process's own peak at the spawn, so it tells what the child used
    /// only once the child outgrows its supervisor.
    pub fn max_rss_bytes(&self) -> u64 {
        self.max_rss_bytes
    }

    /// How long the run lasted, from its spawn to when its exit was seen
    /// (without pidfds, up to 100 ms after the exit). A stopped child left
    /// unreaped while the rest of its run finishes (see
    /// [`Reactor::stop`](crate::Reactor::stop)) counts until its exit, not
    /// its reap.
    pub fn wall_time(&self) -> Duration {
        self.wall_time
    }

    /// Whether the kernel's OOM killer ended a process of the run: a
    /// contained run ([`Command::cgroup`](crate::Command::cgroup)) whose
    /// cgroup has the memory controller, which counts OOM kills in its
    /// `memory.events`. With
    /// [`memory_max`](crate::Command::memory_max) an OOM kill takes the
    /// whole run, so the run itself then ends by `SIGKILL`. Always false
    /// for a run without the memory controller: procrun cannot tell an OOM
    /// kill from another `SIGKILL` there.
    pub fn oom_killed(&self) -> bool {
        self.oom_killed
    }

    /// The most memory the run's cgroup used, every process of it together
    /// (the cgroup's `memory.peak`, page cache included): for a contained
    /// run with the memory controller on kernels 5.19 and later; `None`
    /// elsewhere. Unlike [`max_rss_bytes`](Self::max_rss_bytes) it counts
    /// only what the run's processes charged after they entered it.
    pub fn peak_memory_bytes(&self) -> Option<u64> {
        self.peak_memory_bytes
    }

    /// For a [`Pipeline`](crate::Pipeline) whose run failed, which stage
    /// the status is of (counting from 0): `pipefail`'s choice, the last
    /// stage that failed. `None` for a run that succeeded, for a run
    /// whose status was lost, and for a command that is no pipeline.
    /// Every stage's own status comes in its
    /// [`Event::StageExited`](crate::Event::StageExited).
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Command, Event, Pipeline, Reactor};
    ///
    /// let mut failing = Command::new("sh");
    /// failing.args(["-c", "echo data; exit 4"]);
    /// let mut p = Pipeline::new(failing);
    /// p.pipe(Command::new("cat"));
    /// let mut reactor = Reactor::new()?;
    /// reactor.spawn_pipeline(&p)?;
    /// let mut exit = None;
    /// while !reactor.is_empty() {
    ///     reactor.poll(None, |_, event| {
    ///         if let Event::Exited(e) = event {
    ///             exit = Some(e);
    ///         }
    ///     })?;
    /// }
    /// let exit = exit.unwrap();
    /// // `cat` succeeded, but the pipeline fails with its first stage.
    /// assert_eq!((exit.code(), exit.failed_stage()), (Some(4), Some(0)));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn failed_stage(&self) -> Option<usize> {
        (self.failed_stage as usize).checked_sub(1)
    }
}

/// How one stage of a [`Pipeline`](crate::Pipeline) ended, in its
/// [`Event::StageExited`](crate::Event::StageExited); the run as a whole
/// ends with an [`Exit`] once every stage has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageExit {
    pub(crate) id: ChildId,
    pub(crate) stage: u32,
    pub(crate) pid: u32,
    pub(crate) status: ExitStatus,
    pub(crate) status_lost: bool,
}

impl StageExit {
    /// The pipeline's child.
    pub fn id(&self) -> ChildId {
        self.id
    }

    /// Which stage, counting from 0.
    pub fn stage(&self) -> usize {
        self.stage as usize
    }

    /// The stage's pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The stage's wait status (see [`Exit::status`]).
    pub fn status(&self) -> ExitStatus {
        self.status
    }

    /// The stage's exit code, when it exited rather than being killed.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The signal that killed the stage, if one did.
    pub fn signal(&self) -> Option<Signal> {
        self.status.signal().and_then(Signal::from_raw)
    }

    /// Whether the stage exited with code 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Whether something else reaped the stage first (see
    /// [`Exit::status_lost`]).
    pub fn status_lost(&self) -> bool {
        self.status_lost
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code(), self.signal()) {
            (Some(c), _) => write!(f, "exit code {c}")?,
            (None, Some(s)) => write!(f, "killed by {s}")?,
            (None, None) if self.status_lost => f.write_str("status unknown (reaped elsewhere)")?,
            (None, None) => write!(f, "{}", self.status)?,
        }
        if self.oom_killed {
            f.write_str(" (out of memory)")?;
        }
        if let Some(kind) = self.timeout {
            f.write_str(match kind {
                TimeoutKind::Child => " (timed out)",
                TimeoutKind::Run => " (run timed out)",
            })?;
        } else if self.stopped {
            f.write_str(" (stopped)")?;
        }
        Ok(())
    }
}

/// Which of a command's timeouts ended a run (see
/// [`Exit::timeout_kind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// The child's: [`Command::timeout`](crate::Command::timeout), which
    /// spans every run and after which nothing restarts.
    Child,
    /// The run's: [`Command::run_timeout`](crate::Command::run_timeout),
    /// counted from the run's start; the restart policy then applies as
    /// to any failed run.
    Run,
}

/// The status reported when something else reaped the child first: one
/// that is no exit (`WIFEXITED` needs the low 7 bits 0), no kill by a
/// signal (`WIFSIGNALED` excludes 0x7f there), no stop (`WIFSTOPPED`
/// needs the low byte 0x7f) and no continue (0xffff), so std's accessors
/// all say `None`, and it is not a success. Not exit code 255: a caller
/// could not tell that from a real one.
pub(crate) fn lost_status() -> ExitStatus {
    ExitStatus::from_raw(0xff)
}
