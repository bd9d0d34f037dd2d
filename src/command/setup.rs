//! What a child is set up with between its fork and its exec, beyond its
//! stdio: the name it sees itself run by, its credentials, its resource
//! limits and scheduling, and extra file descriptors. The settings are kept
//! here as given; [`Command::prepare`] checks them.
//!
//! Every setting but [`arg0`](Command::arg0) needs code in the child before
//! `execve`, which `posix_spawn` cannot run: every child starts by
//! procrun's own `clone` and `execve`, which run it, and a command that
//! asks for none pays nothing for them.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::fd::{OwnedFd, RawFd};
use std::str::FromStr;
use std::sync::Arc;

use crate::command::Command;
use crate::error::Error;

/// The settings of [`Command`] that shape the child before its exec, as
/// given.
#[derive(Clone, Debug, Default)]
pub(crate) struct Setup {
    pub(crate) arg0: Option<OsString>,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) groups: Option<Vec<u32>>,
    /// In the order given; a later one for the same resource wins.
    pub(crate) rlimits: Vec<(Resource, u64, u64)>,
    pub(crate) umask: Option<u32>,
    pub(crate) nice: Option<i32>,
    pub(crate) oom_score_adj: Option<i32>,
    pub(crate) no_new_privs: bool,
    /// The fd and the number it gets in the child. Shared, so a clone of
    /// the command (and each restart) passes the same open file, and it is
    /// closed when the last command or run needing it is gone.
    pub(crate) fds: Vec<(Arc<OwnedFd>, RawFd)>,
}

/// A per-process resource limit of Linux (`setrlimit(2)`), as systemd's
/// `LimitNOFILE=` and its kin name them.
///
/// Parsed from its name with or without `RLIMIT_`, in any case
/// (`"NOFILE"`, `"nofile"`, `"RLIMIT_NOFILE"`).
///
/// # Examples
///
/// ```
/// use procrun::Resource;
///
/// assert_eq!("nofile".parse::<Resource>()?, Resource::Nofile);
/// assert_eq!("RLIMIT_CORE".parse::<Resource>()?, Resource::Core);
/// assert_eq!(Resource::Nofile.to_string(), "NOFILE");
/// assert!("FILES".parse::<Resource>().is_err());
/// # Ok::<(), procrun::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resource {
    /// `RLIMIT_AS`: bytes of virtual memory.
    As,
    /// `RLIMIT_CORE`: bytes of a core dump (0: none).
    Core,
    /// `RLIMIT_CPU`: seconds of CPU time (SIGXCPU at the soft limit,
    /// SIGKILL at the hard one).
    Cpu,
    /// `RLIMIT_DATA`: bytes of data segment and heap.
    Data,
    /// `RLIMIT_FSIZE`: bytes of a file the process writes (SIGXFSZ past it).
    Fsize,
    /// `RLIMIT_LOCKS`: file locks.
    Locks,
    /// `RLIMIT_MEMLOCK`: bytes locked in memory.
    Memlock,
    /// `RLIMIT_MSGQUEUE`: bytes of POSIX message queues.
    Msgqueue,
    /// `RLIMIT_NICE`: the ceiling of the nice value, as `20 - nice`.
    Nice,
    /// `RLIMIT_NOFILE`: one more than the highest file descriptor number.
    Nofile,
    /// `RLIMIT_NPROC`: processes and threads of the real user.
    Nproc,
    /// `RLIMIT_RSS`: bytes resident (not enforced by Linux).
    Rss,
    /// `RLIMIT_RTPRIO`: the ceiling of the real-time priority.
    Rtprio,
    /// `RLIMIT_RTTIME`: microseconds of real-time CPU time without a
    /// blocking call.
    Rttime,
    /// `RLIMIT_SIGPENDING`: queued signals.
    Sigpending,
    /// `RLIMIT_STACK`: bytes of the main thread's stack.
    Stack,
}

impl Resource {
    /// Every resource, in the order of their names.
    pub const ALL: [Resource; 16] = [
        Resource::As,
        Resource::Core,
        Resource::Cpu,
        Resource::Data,
        Resource::Fsize,
        Resource::Locks,
        Resource::Memlock,
        Resource::Msgqueue,
        Resource::Nice,
        Resource::Nofile,
        Resource::Nproc,
        Resource::Rss,
        Resource::Rtprio,
        Resource::Rttime,
        Resource::Sigpending,
        Resource::Stack,
    ];

    /// The name without `RLIMIT_`, upper case (`"NOFILE"`).
    pub fn name(self) -> &'static str {
        match self {
            Resource::As => "AS",
            Resource::Core => "CORE",
            Resource::Cpu => "CPU",
            Resource::Data => "DATA",
            Resource::Fsize => "FSIZE",
            Resource::Locks => "LOCKS",
            Resource::Memlock => "MEMLOCK",
            Resource::Msgqueue => "MSGQUEUE",
            Resource::Nice => "NICE",
            Resource::Nofile => "NOFILE",
            Resource::Nproc => "NPROC",
            Resource::Rss => "RSS",
            Resource::Rtprio => "RTPRIO",
            Resource::Rttime => "RTTIME",
            Resource::Sigpending => "SIGPENDING",
            Resource::Stack => "STACK",
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Resource {
    type Err = Error;

    /// # Errors
    ///
    /// [`Error::InvalidCommand`] naming the input, for a name that is no
    /// Linux resource limit.
    fn from_str(s: &str) -> Result<Resource, Error> {
        let upper = s.to_ascii_uppercase();
        let bare = upper.strip_prefix("RLIMIT_").unwrap_or(&upper);
        Resource::ALL
            .into_iter()
            .find(|r| r.name() == bare)
            .ok_or_else(|| Error::InvalidCommand {
                reason: format!("{s:?} is not a resource limit (NOFILE, CORE, AS, CPU, …)"),
            })
    }
}

impl Command {
    /// The child's `argv[0]`, the name it sees itself run by (std's
    /// `CommandExt::arg0`); the program run is still the one given to
    /// [`Command::new`]. Works with either way of starting a child.
    ///
    /// # Examples
    ///
    /// ```
    /// # use procrun::{Command, Event, Exit, Reactor, Stream};
    /// # // Runs `cmd` to its end: its stdout lines and its last exit.
    /// # fn run(cmd: &Command) -> procrun::Result<(Vec<String>, Exit)> {
    /// #     let mut reactor = Reactor::new()?;
    /// #     reactor.spawn(cmd)?;
    /// #     let (mut out, mut last) = (Vec::new(), None);
    /// #     while !reactor.is_empty() {
    /// #         reactor.poll(None, |_, event| match event {
    /// #             Event::Line { stream: Stream::Stdout, line, .. } => {
    /// #                 out.push(String::from_utf8_lossy(line).into_owned())
    /// #             }
    /// #             Event::Exited(exit) => last = Some(exit),
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok((out, last.expect("every run exits")))
    /// # }
    /// // `run` polls a fresh `Reactor` until the command is done.
    /// let mut cmd = Command::new("sh");
    /// cmd.arg0("health-check").args(["-c", "echo $0"]);
    /// assert_eq!(run(&cmd)?.0, ["health-check"]);
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn arg0(&mut self, arg0: impl AsRef<OsStr>) -> &mut Command {
        self.setup.arg0 = Some(arg0.as_ref().to_owned());
        self
    }

    /// Runs the child as user `uid` (std's `CommandExt::uid`): its real,
    /// effective and saved user id. Set after the groups and the group id
    /// (`setgroups`, `setgid`, `setuid`: the order in which no step runs
    /// with more privilege than asked for); without
    /// [`groups`](Command::groups), a procrun that may drops its own
    /// supplementary groups from the child, as std does.
    ///
    /// # Errors
    ///
    /// At spawn, [`Error::Credentials`] when procrun may not switch
    /// (`EPERM`: it is not root and lacks `CAP_SETUID`); the child ran
    /// nothing of its program and was reaped.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::os::unix::fs::MetadataExt;
    /// # use procrun::{Command, Error, Event, Exit, Reactor, Stream};
    /// # fn run(cmd: &Command) -> procrun::Result<(Vec<String>, Exit)> {
    /// #     let mut reactor = Reactor::new()?;
    /// #     reactor.spawn(cmd)?;
    /// #     let (mut out, mut last) = (Vec::new(), None);
    /// #     while !reactor.is_empty() {
    /// #         reactor.poll(None, |_, event| match event {
    /// #             Event::Line { stream: Stream::Stdout, line, .. } => {
    /// #                 out.push(String::from_utf8_lossy(line).into_owned())
    /// #             }
    /// #             Event::Exited(exit) => last = Some(exit),
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok((out, last.expect("every run exits")))
    /// # }
    /// let mut cmd = Command::new("id");
    /// cmd.arg("-u").uid(60123).gid(60123);
    /// let root = std::fs::metadata("/proc/self")?.uid() == 0;
    /// match run(&cmd) {
    ///     Ok((out, _)) => assert!(root && out == ["60123"]),
    ///     Err(Error::Credentials { .. }) => assert!(!root),
    ///     Err(e) => panic!("{e}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn uid(&mut self, uid: u32) -> &mut Command {
        self.setup.uid = Some(uid);
        self
    }

    /// Runs the child with group `gid` (std's `CommandExt::gid`): its real,
    /// effective and saved group id, set before the user id.
    ///
    /// # Errors
    ///
    /// At spawn, [`Error::Credentials`] when procrun may not switch.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::Command;
    ///
    /// let mut cmd = Command::new("id");
    /// cmd.gid(60123);
    /// assert!(cmd.validate().is_ok());
    /// ```
    pub fn gid(&mut self, gid: u32) -> &mut Command {
        self.setup.gid = Some(gid);
        self
    }

    /// The child's supplementary groups (std's `CommandExt::groups`),
    /// set first (`setgroups`); an empty list drops them all.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCommand`] for more than 65,536 groups (the kernel's
    /// `NGROUPS_MAX`); at spawn, [`Error::Credentials`] when procrun may
    /// not set them.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Command, Error};
    ///
    /// let mut cmd = Command::new("id");
    /// cmd.groups(&[60123, 60124]);
    /// assert!(cmd.validate().is_ok());
    /// cmd.groups(&vec![1; 65_537]);
    /// assert!(matches!(cmd.validate(), Err(Error::InvalidCommand { .. })));
    /// ```
    pub fn groups(&mut self, groups: &[u32]) -> &mut Command {
        self.setup.groups = Some(groups.to_vec());
        self
    }

    /// A resource limit of the child (`setrlimit`, as systemd's
    /// `LimitNOFILE=soft:hard`); `u64::MAX` is no limit (`RLIM_INFINITY`).
    /// A later call for the same resource replaces an earlier one. Set
    /// before the credentials change, so a root procrun may raise a hard
    /// limit for a child that runs as another user.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCommand`] when `soft` is above `hard`; at spawn,
    /// [`Error::ChildSetup`] when the kernel refuses it (`EPERM`: a hard
    /// limit raised without `CAP_SYS_RESOURCE`; `EINVAL`: above what the
    /// kernel allows, as `NOFILE` above `fs.nr_open`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use procrun::{Command, Error, Event, Exit, Reactor, Resource, Stream};
    /// # fn run(cmd: &Command) -> procrun::Result<(Vec<String>, Exit)> {
    /// #     let mut reactor = Reactor::new()?;
    /// #     reactor.spawn(cmd)?;
    /// #     let (mut out, mut last) = (Vec::new(), None);
    /// #     while !reactor.is_empty() {
    /// #         reactor.poll(None, |_, event| match event {
    /// #             Event::Line { stream: Stream::Stdout, line, .. } => {
    /// #                 out.push(String::from_utf8_lossy(line).into_owned())
    /// #             }
    /// #             Event::Exited(exit) => last = Some(exit),
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok((out, last.expect("every run exits")))
    /// # }
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "ulimit -Sn; ulimit -Hn"])
    ///     .rlimit(Resource::Nofile, 64, 128);
    /// assert_eq!(run(&cmd)?.0, ["64", "128"]);
    ///
    /// cmd.rlimit(Resource::Nofile, 256, 128);
    /// assert!(matches!(cmd.validate(), Err(Error::InvalidCommand { .. })));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn rlimit(&mut self, resource: Resource, soft: u64, hard: u64) -> &mut Command {
        self.setup.rlimits.push((resource, soft, hard));
        self
    }

    /// The child's file mode creation mask (`umask`, e.g. `0o027`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCommand`] for a mask with bits above `0o777`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use procrun::{Command, Error, Event, Exit, Reactor, Stream};
    /// # fn run(cmd: &Command) -> procrun::Result<(Vec<String>, Exit)> {
    /// #     let mut reactor = Reactor::new()?;
    /// #     reactor.spawn(cmd)?;
    /// #     let (mut out, mut last) = (Vec::new(), None);
    /// #     while !reactor.is_empty() {
    /// #         reactor.poll(None, |_, event| match event {
    /// #             Event::Line { stream: Stream::Stdout, line, .. } => {
    /// #                 out.push(String::from_utf8_lossy(line).into_owned())
    /// #             }
    /// #             Event::Exited(exit) => last = Some(exit),
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok((out, last.expect("every run exits")))
    /// # }
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "umask"]).umask(0o027);
    /// assert_eq!(run(&cmd)?.0, ["0027"]);
    ///
    /// cmd.umask(0o1777);
    /// assert!(matches!(cmd.validate(), Err(Error::InvalidCommand { .. })));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn umask(&mut self, mask: u32) -> &mut Command {
        self.setup.umask = Some(mask);
        self
    }

    /// The child's nice value, -20 (first served) to 19 (last), as
    /// `nice -n` and systemd's `Nice=` take it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCommand`] outside -20..=19; at spawn,
    /// [`Error::ChildSetup`] for a value below procrun's own without
    /// `CAP_SYS_NICE` (`EACCES`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use procrun::{Command, Error, Event, Exit, Reactor, Stream};
    /// # fn run(cmd: &Command) -> procrun::Result<(Vec<String>, Exit)> {
    /// #     let mut reactor = Reactor::new()?;
    /// #     reactor.spawn(cmd)?;
    /// #     let (mut out, mut last) = (Vec::new(), None);
    /// #     while !reactor.is_empty() {
    /// #         reactor.poll(None, |_, event| match event {
    /// #             Event::Line { stream: Stream::Stdout, line, .. } => {
    /// #                 out.push(String::from_utf8_lossy(line).into_owned())
    /// #             }
    /// #             Event::Exited(exit) => last = Some(exit),
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok((out, last.expect("every run exits")))
    /// # }
    /// let mut cmd = Command::new("nice");
    /// cmd.nice(19);
    /// assert_eq!(run(&cmd)?.0, ["19"]);
    ///
    /// cmd.nice(20);
    /// assert!(matches!(cmd.validate(), Err(Error::InvalidCommand { .. })));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn nice(&mut self, nice: i32) -> &mut Command {
        self.setup.nice = Some(nice);
        self
    }

    /// The child's `oom_score_adj`, -1000 (never chosen by the OOM killer)
    /// to 1000 (chosen first): a host agent's checks at 1000 die before
    /// the agent. Written to the child's `/proc/self/oom_score_adj` before
    /// its credentials change.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCommand`] outside -1000..=1000; at spawn,
    /// [`Error::ChildSetup`] for a value below procrun's own without
    /// `CAP_SYS_RESOURCE` (`EACCES`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use procrun::{Command, Error, Event, Exit, Reactor, Stream};
    /// # fn run(cmd: &Command) -> procrun::Result<(Vec<String>, Exit)> {
    /// #     let mut reactor = Reactor::new()?;
    /// #     reactor.spawn(cmd)?;
    /// #     let (mut out, mut last) = (Vec::new(), None);
    /// #     while !reactor.is_empty() {
    /// #         reactor.poll(None, |_, event| match event {
    /// #             Event::Line { stream: Stream::Stdout, line, .. } => {
    /// #                 out.push(String::from_utf8_lossy(line).into_owned())
    /// #             }
    /// #             Event::Exited(exit) => last = Some(exit),
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok((out, last.expect("every run exits")))
    /// # }
    /// let mut cmd = Command::new("cat");
    /// cmd.arg("/proc/self/oom_score_adj").oom_score_adj(1000);
    /// assert_eq!(run(&cmd)?.0, ["1000"]);
    ///
    /// cmd.oom_score_adj(1001);
    /// assert!(matches!(cmd.validate(), Err(Error::InvalidCommand { .. })));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn oom_score_adj(&mut self, adj: i32) -> &mut Command {
        self.setup.oom_score_adj = Some(adj);
        self
    }

    /// Sets `no_new_privs` in the child (`PR_SET_NO_NEW_PRIVS`, systemd's
    /// `NoNewPrivileges=yes`): neither it nor anything it runs can gain
    /// privileges through a setuid or setgid program or file capabilities.
    ///
    /// # Examples
    ///
    /// ```
    /// # use procrun::{Command, Error, Event, Exit, Reactor, Stream};
    /// # fn run(cmd: &Command) -> procrun::Result<(Vec<String>, Exit)> {
    /// #     let mut reactor = Reactor::new()?;
    /// #     reactor.spawn(cmd)?;
    /// #     let (mut out, mut last) = (Vec::new(), None);
    /// #     while !reactor.is_empty() {
    /// #         reactor.poll(None, |_, event| match event {
    /// #             Event::Line { stream: Stream::Stdout, line, .. } => {
    /// #                 out.push(String::from_utf8_lossy(line).into_owned())
    /// #             }
    /// #             Event::Exited(exit) => last = Some(exit),
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok((out, last.expect("every run exits")))
    /// # }
    /// let mut cmd = Command::new("grep");
    /// cmd.args(["NoNewPrivs", "/proc/self/status"]).no_new_privs();
    /// assert_eq!(run(&cmd)?.0, ["NoNewPrivs:\t1"]);
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn no_new_privs(&mut self) -> &mut Command {
        self.setup.no_new_privs = true;
        self
    }

    /// Passes `fd` to the child as its descriptor number `target` (as
    /// systemd's socket activation passes listening sockets from 3 on);
    /// every other descriptor is closed at exec, procrun's and (Linux 5.9+)
    /// the host's too, even one opened without `O_CLOEXEC`: this is the way
    /// to hand a child any fd beyond its stdio (a jobserver's, a socket).
    ///
    /// The command takes the fd (an [`OwnedFd`], or anything that converts
    /// into one: a `File`, a socket, a pipe end) because it may be spawned
    /// later and again, by each restart and by each clone of it: it keeps
    /// the fd open for as long as any of them exists and closes it then. A
    /// caller that keeps using the fd passes a duplicate
    /// ([`OwnedFd::try_clone`]). The child's descriptor shares the open
    /// file (offset, flags) with procrun's, as after `dup2`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCommand`] for a target of 0, 1 or 2 (stdio, set
    /// with [`stdin`](Command::stdin), [`stdout`](Command::stdout),
    /// [`stderr`](Command::stderr)), below 0, or given twice; at spawn,
    /// [`Error::ChildSetup`] when the target is above the child's fd
    /// limit.
    ///
    /// # Examples
    ///
    /// ```
    /// # use procrun::{Command, Error, Event, Exit, Reactor, Stream};
    /// # fn run(cmd: &Command) -> procrun::Result<(Vec<String>, Exit)> {
    /// #     let mut reactor = Reactor::new()?;
    /// #     reactor.spawn(cmd)?;
    /// #     let (mut out, mut last) = (Vec::new(), None);
    /// #     while !reactor.is_empty() {
    /// #         reactor.poll(None, |_, event| match event {
    /// #             Event::Line { stream: Stream::Stdout, line, .. } => {
    /// #                 out.push(String::from_utf8_lossy(line).into_owned())
    /// #             }
    /// #             Event::Exited(exit) => last = Some(exit),
    /// #             _ => {}
    /// #         })?;
    /// #     }
    /// #     Ok((out, last.expect("every run exits")))
    /// # }
    /// use std::io::Write;
    ///
    /// let dir = std::env::temp_dir().join(format!("procrun-doc-{}", std::process::id()));
    /// let mut file = std::fs::File::create(&dir)?;
    /// file.write_all(b"passed\n")?;
    /// let file = std::fs::File::open(&dir)?;
    /// std::fs::remove_file(&dir)?;
    ///
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "cat <&7"]).pass_fd(file, 7);
    /// assert_eq!(run(&cmd)?.0, ["passed"]);
    ///
    /// let mut bad = Command::new("true");
    /// bad.pass_fd(std::fs::File::open("/dev/null")?, 1);
    /// assert!(matches!(bad.validate(), Err(Error::InvalidCommand { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pass_fd(&mut self, fd: impl Into<OwnedFd>, target: RawFd) -> &mut Command {
        self.setup.fds.push((Arc::new(fd.into()), target));
        self
    }
}
