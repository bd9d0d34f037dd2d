//! The one error type of procrun.

use std::io;
use std::path::PathBuf;

use crate::exit::Exit;
use crate::signal::{Signal, UnknownSignal};

/// Everything that can go wrong in procrun, one variant per cause a caller
/// may act on.
///
/// The enum is `#[non_exhaustive]`: match the variants you handle and keep a
/// wildcard arm. Where the cause is an OS error, the [`io::Error`] is kept as
/// the [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A maximum line length of zero was asked for; a line reader must be
    /// able to hold at least one byte.
    #[error("maximum line length must be at least 1 byte, got 0")]
    ZeroMaxLine,

    /// The command has no program to run.
    #[error("empty command: no program given")]
    EmptyProgram,

    /// The program was not found (not on `PATH`, or the path does not exist).
    #[error("program not found: {program:?}")]
    ProgramNotFound {
        /// The program as it was given.
        program: String,
    },

    /// A program name, argument, env entry or path contains a NUL byte,
    /// which cannot be passed to `execve`; or a bash script holds one (a
    /// word or line of its commands, or script contents), which bash would
    /// drop.
    #[error("{what} contains a NUL byte: {value:?}")]
    NulByte {
        /// Which part of the command held the NUL ("argument", "env entry",
        /// "script", …).
        what: &'static str,
        /// The offending value, lossily decoded.
        value: String,
    },

    /// An environment entry is not of the form `KEY=VALUE` with a non-empty
    /// key.
    #[error("env entry is not KEY=VALUE: {entry:?}")]
    InvalidEnv {
        /// The entry as given.
        entry: String,
    },

    /// The same environment key was given twice.
    #[error("duplicate env key: {key:?}")]
    DuplicateEnv {
        /// The repeated key.
        key: String,
    },

    /// The working directory does not exist or is not a directory.
    #[error("working directory {path:?} is not a directory")]
    CwdNotFound {
        /// The directory as given.
        path: PathBuf,
    },

    /// The command is not valid as configured (for example several commands
    /// without running them as a script).
    #[error("invalid command: {reason}")]
    InvalidCommand {
        /// What is wrong with it.
        reason: String,
    },

    /// Starting the child failed: `execve`'s error (EACCES for a file that
    /// cannot be executed), or EACCES for a bare name found on `PATH` only
    /// where it cannot be executed (a directory, a file without an execute
    /// bit), as `execvp` reports it.
    #[error("failed to spawn {program:?}")]
    Spawn {
        /// The program that failed to start.
        program: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// The child could not take the credentials asked for
    /// ([`Command::uid`](crate::Command::uid),
    /// [`gid`](crate::Command::gid), [`groups`](crate::Command::groups)):
    /// usually `EPERM`, procrun being neither root nor holding
    /// `CAP_SETUID`/`CAP_SETGID`. The child ran nothing of its program and
    /// was reaped; nothing is left running.
    #[error("cannot run {program:?} with the credentials asked for: {step} failed")]
    Credentials {
        /// The program that was to start.
        program: String,
        /// The call that failed: `setgroups`, `setgid` or `setuid`.
        step: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// The child could not be set up as asked before its exec: a resource
    /// limit ([`Command::rlimit`](crate::Command::rlimit): `EPERM` raising
    /// a hard limit without privilege), the nice value or
    /// `oom_score_adj` (`EACCES` lowering it without privilege),
    /// `no_new_privs`, or a passed fd (a target above the fd limit). The
    /// child ran nothing of its program and was reaped.
    #[error("cannot set up {program:?}: setting {step} failed")]
    ChildSetup {
        /// The program that was to start.
        program: String,
        /// What failed: "a resource limit", "the nice value",
        /// "oom_score_adj", "no_new_privs" or "a passed fd".
        step: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// A signal reached neither the child nor its process group; the child
    /// runs on. Usually `EPERM`: the child made itself another user (a
    /// setuid program), which procrun may not signal.
    #[error("cannot send {signal} to pid {pid}")]
    Signal {
        /// The child's pid.
        pid: u32,
        /// The signal.
        signal: Signal,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// A signal name or number that names no Linux signal (see
    /// [`Signal`]'s `FromStr`).
    #[error(transparent)]
    UnknownSignal(#[from] UnknownSignal),

    /// A handle names no child of this reactor: it was never issued here
    /// (another reactor's id). Stopping, signalling, pausing or resuming a
    /// child of this reactor that is done, or closing its stdin, is not an
    /// error (it does nothing); writing to its stdin is a broken pipe.
    #[error("unknown or stale child handle")]
    UnknownChild,

    /// The process was asked for something that needs it started.
    #[error("process not started")]
    NotStarted,

    /// The process was started already.
    #[error("process already started")]
    AlreadyStarted,

    /// The process was closed (aborted) already.
    #[error("process closed")]
    Aborted,

    /// An exclusive runner is already running a process.
    #[error("a process is already running")]
    AlreadyRunning,

    /// The process exited unsuccessfully.
    #[error("process failed: {0}")]
    Failed(Exit),

    /// The operation did not finish within its time limit.
    #[error("timed out")]
    TimedOut,

    /// A file or directory under the procfs root could not be read: the root
    /// does not exist, the process asked for by pid is gone, file
    /// descriptors ran out.
    #[error("cannot read {path:?}")]
    Procfs {
        /// The file or directory that could not be read.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// A `/proc/PID/stat` file does not have the shape the kernel writes
    /// (`PID (COMM) STATE …`).
    #[error("malformed {path:?}: {reason}")]
    ProcStat {
        /// The stat file.
        path: PathBuf,
        /// What is wrong with its content.
        reason: &'static str,
    },

    /// `procrun::tokio::Driver::events` (the `tokio` feature) was asked
    /// for a second stream while the driver's first lives: a driver has
    /// one, so that every event of its children has one consumer.
    #[error("this driver's event stream is already out")]
    EventsTaken,

    /// The driver thread serving the handle API ended (a bug made it
    /// panic, or `epoll_wait` failed). The children it supervised were
    /// killed and reaped with it; a later [`Process`](crate::Process) start
    /// is served by a new driver.
    #[error("procrun's driver thread is gone; its children were killed")]
    DriverGone,

    /// [`set_drivers`](crate::set_drivers) asked for another size than the
    /// handle API's pool of drivers already has: the pool is made at the
    /// first start and keeps its size.
    #[error("procrun's driver pool already runs {running} driver(s); its size is fixed")]
    DriversStarted {
        /// The number of drivers the pool runs.
        running: usize,
    },

    /// [`set_drivers`](crate::set_drivers) asked for more drivers than
    /// [`MAX_DRIVERS`](crate::MAX_DRIVERS): each is a thread with its own
    /// epoll and fds, all started at the first start, so such a pool
    /// would exhaust the host (or not fit in memory) rather than serve
    /// it. Nothing changes.
    #[error("{asked} drivers asked for; at most {max} can serve the handle API")]
    TooManyDrivers {
        /// The number asked for.
        asked: usize,
        /// [`MAX_DRIVERS`](crate::MAX_DRIVERS).
        max: usize,
    },

    /// The directory given to [`Command::cgroup`](crate::Command::cgroup)
    /// is not a directory of a cgroup v2 file system: it does not exist, or
    /// it is on another file system (cgroup v1, or no cgroup2 mounted).
    #[error("{path:?} is not a cgroup v2 directory (cgroup2 is mounted at {mount:?})")]
    NotCgroup2 {
        /// The directory as given.
        path: PathBuf,
        /// Where this host mounts cgroup2, if it does (from
        /// `/proc/self/mountinfo`): where a parent should be.
        mount: Option<PathBuf>,
    },

    /// A run's cgroup could not be made, entered or removed below the
    /// parent given to [`Command::cgroup`](crate::Command::cgroup): usually
    /// `EACCES`, `EPERM` or `EROFS`, because procrun may not write there
    /// (the parent is not delegated to its user). Nothing is left running
    /// and no cgroup is left behind.
    #[error("cannot make or enter a cgroup in {path:?}")]
    CgroupAccess {
        /// The cgroup (or its parent) that could not be written.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// [`cgroup::delegated_parent`](crate::cgroup::delegated_parent) found
    /// this process in a cgroup that was not delegated to it: the root, or
    /// one without systemd's delegation mark (the `trusted.delegate` or
    /// `user.delegate` attribute a unit with `Delegate=yes` gets) that is
    /// not owned by this process's user either. Its manager (systemd) owns
    /// that cgroup and may move or remove what procrun would make there.
    /// Nothing was changed.
    #[error("this process's cgroup {path:?} is not delegated to it (no Delegate=yes)")]
    NotDelegated {
        /// The cgroup this process is in.
        path: PathBuf,
    },

    /// A limit was asked for ([`Command::memory_max`](crate::Command::memory_max),
    /// [`pids_max`](crate::Command::pids_max), [`cpu_max`](crate::Command::cpu_max))
    /// whose controller is not enabled for the cgroups below the parent:
    /// it is not in the parent's `cgroup.subtree_control` (on a hybrid
    /// host the controller may be bound to a cgroup v1 hierarchy and
    /// unavailable to cgroup2 altogether). Nothing was started and no
    /// cgroup is left behind: procrun never runs a command without the
    /// limit it was given.
    #[error("the {controller} controller is not enabled below {parent:?} (not in its cgroup.subtree_control)")]
    ControllerNotEnabled {
        /// The controller's name: `memory`, `pids` or `cpu`.
        controller: &'static str,
        /// The parent cgroup given to [`Command::cgroup`](crate::Command::cgroup).
        parent: PathBuf,
    },

    /// `SIGCHLD` is ignored in this process (its action is `SIG_IGN`, or
    /// it has the `SA_NOCLDWAIT` flag), so the kernel would reap every
    /// child at its exit and its status would be lost: procrun refuses to
    /// spawn rather than report a made-up one. It never changes the
    /// host's dispositions itself; reset `SIGCHLD` to `SIG_DFL` (without
    /// `SA_NOCLDWAIT`) where the agent starts, as coreutils `timeout`
    /// does, and spawn again. A disposition set that way after a spawn
    /// loses that run's status: its exit then says
    /// [`status_lost`](crate::Exit::status_lost).
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Command, Error, Event, Reactor};
    ///
    /// let mut reactor = Reactor::new()?;
    /// // An agent whose parent ignored SIGCHLD (a shell's `trap '' CHLD`
    /// // goes on across its exec).
    /// // SAFETY: SIG_IGN runs no code, and a doctest is a process of its own.
    /// unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    /// let err = reactor.spawn(&Command::new("true")).unwrap_err();
    /// assert!(matches!(err, Error::SigchldIgnored { nocldwait: false }));
    /// // What the error says to do, at the agent's start.
    /// // SAFETY: as above, with SIG_DFL.
    /// unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "exit 3"]);
    /// reactor.spawn(&cmd)?;
    /// let mut code = None;
    /// while !reactor.is_empty() {
    ///     reactor.poll(None, |_, event| {
    ///         if let Event::Exited(e) = event {
    ///             code = e.code();
    ///         }
    ///     })?;
    /// }
    /// assert_eq!(code, Some(3));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    #[error(
        "SIGCHLD is {} in this process, so the kernel would reap the child and lose its exit status; \
         set SIGCHLD to SIG_DFL before spawning",
        if *.nocldwait { "set with SA_NOCLDWAIT" } else { "ignored (SIG_IGN)" }
    )]
    SigchldIgnored {
        /// The `SA_NOCLDWAIT` flag ignores it, rather than `SIG_IGN`.
        nocldwait: bool,
    },

    /// The child's stdin is not a stream: it was not spawned with
    /// [`Input::Stream`](crate::Input::Stream) (or, for a
    /// [`Process`](crate::Process), without
    /// [`stdin_stream`](crate::ProcessBuilder::stdin_stream)), or the
    /// writer of the process's current run was taken already (each run of
    /// a restart policy has one of its own).
    #[error("the child's stdin is not a stream procrun writes, or its run's writer was taken")]
    NoStdin,

    /// An OS error not covered by a more specific variant.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// `Result` with procrun's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A command (or pipeline) that cannot run as it is set, for `reason`.
    pub(crate) fn invalid_command(reason: &str) -> Error {
        Error::InvalidCommand {
            reason: reason.to_owned(),
        }
    }
}
