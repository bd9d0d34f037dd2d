//! [`ProcessBuilder`]: gpud's `Op` and its `With…` options, over a
//! [`Command`] that holds everything the reactor runs by.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::buffer::DEFAULT_BUFFER;
use super::handle::Handle;
use super::script::{self, DEFAULT_SCRIPT_PATTERN};
use super::shared::Shared;
use super::{sync, Process};
use crate::command::{Command, Input, Output, Restart};
use crate::error::{Error, Result};
use crate::signal::Signal;

/// Options for a [`Process`] (gpud's `Op` and its `With…` options).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use procrun::{Process, Restart};
///
/// let p = Process::builder()
///     .command(["journalctl", "-f", "-o", "cat"])
///     .env(["SYSTEMD_COLORS=0"])
///     .label("component", "kmsg")
///     .restart(Restart::on_error().limit(3).interval(Duration::from_secs(5)))
///     .build()?;
/// assert_eq!(p.label("component"), Some("kmsg"));
/// # Ok::<(), procrun::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ProcessBuilder {
    /// Everything the reactor runs by: environment, directory, output,
    /// restart, limits. The program and its arguments come at
    /// [`build`](Self::build), from the commands or the script.
    cmd: Command,
    commands: Vec<Vec<String>>,
    script: Option<String>,
    as_script: bool,
    inline: bool,
    script_dir: Option<PathBuf>,
    script_pattern: String,
    labels: BTreeMap<String, String>,
    buffer: usize,
}

impl Default for ProcessBuilder {
    fn default() -> Self {
        ProcessBuilder {
            cmd: Command::new(""),
            commands: Vec::new(),
            script: None,
            as_script: false,
            inline: false,
            script_dir: None,
            script_pattern: DEFAULT_SCRIPT_PATTERN.to_owned(),
            labels: BTreeMap::new(),
            buffer: DEFAULT_BUFFER,
        }
    }
}

impl ProcessBuilder {
    /// Adds a command: a program and its arguments (`WithCommand`). Without
    /// [`run_as_bash_script`](Self::run_as_bash_script) exactly one command
    /// may be given; in a script, a one-element command is a shell line
    /// used as written and a longer one is quoted word by word.
    pub fn command<I, S>(mut self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.commands
            .push(argv.into_iter().map(Into::into).collect());
        self
    }

    /// Adds several commands (`WithCommands`).
    pub fn commands<I, C, S>(mut self, cmds: I) -> Self
    where
        I: IntoIterator<Item = C>,
        C: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for c in cmds {
            self = self.command(c);
        }
        self
    }

    /// Runs these whole script contents with bash, as given, no header
    /// added (`WithBashScriptContentsToRun`). Contents that are empty or
    /// only whitespace are nothing to run: [`build`](Self::build) rejects
    /// them with [`Error::EmptyProgram`], as gpud does empty ones (a script
    /// of comments only is not looked into, and runs). Contents holding a
    /// NUL are [`Error::NulByte`]: bash would drop it and run something
    /// else than was written.
    pub fn script(mut self, contents: impl Into<String>) -> Self {
        self.script = Some(contents.into());
        self
    }

    /// Joins the commands into one bash script after [`SCRIPT_HEADER`](super::SCRIPT_HEADER)
    /// (`WithRunAsBashScript`).
    pub fn run_as_bash_script(mut self) -> Self {
        self.as_script = true;
        self
    }

    /// Keeps the script in memory instead of a temp file
    /// (`WithRunBashInline`): nothing is written to disk, there is no
    /// ARG_MAX limit, and the child's stdin stays free for the script.
    /// Implies [`run_as_bash_script`](Self::run_as_bash_script), as gpud's
    /// option does: the commands, even a single one, run as one bash
    /// script, so `.command(["echo hi && echo there"]).inline()` runs that
    /// line in bash.
    pub fn inline(mut self) -> Self {
        self.inline = true;
        self
    }

    /// The directory of script files (default: the system temp dir).
    pub fn script_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.script_dir = Some(dir.into());
        self
    }

    /// The script file-name pattern; `*` becomes a random part (default
    /// [`DEFAULT_SCRIPT_PATTERN`](super::DEFAULT_SCRIPT_PATTERN)).
    pub fn script_pattern(mut self, pattern: impl Into<String>) -> Self {
        self.script_pattern = pattern.into();
        self
    }

    /// `KEY=VALUE` entries added to the inherited environment (`WithEnvs`);
    /// validated at [`build`](Self::build).
    pub fn env<I, S>(mut self, entries: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let entries: Vec<String> = entries.into_iter().map(Into::into).collect();
        self.cmd.env_entries(entries);
        self
    }

    /// Replaces the environment with only the [`env`](Self::env) entries,
    /// instead of adding them to the inherited one (the default).
    pub fn env_clear(mut self) -> Self {
        self.cmd.env_clear();
        self
    }

    /// A label kept on the process (`WithLabel`).
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Writes both streams of the child to this file (`WithOutputFile`).
    /// The child writes through duplicates of it; this handle is dropped
    /// with the process, so pass a [`File::try_clone`] to keep the file open
    /// yourself. Nothing is then readable through the process.
    pub fn output_file(mut self, file: File) -> Self {
        let file = Arc::new(file);
        self.cmd
            .stdout(Output::File(file.clone()))
            .stderr(Output::File(file));
        self
    }

    /// Restarts the child on failure (`WithRestartConfig`), or after every
    /// run with [`Restart::always`].
    pub fn restart(mut self, policy: Restart) -> Self {
        self.cmd.restart(policy);
        self
    }

    /// Detached (`WithAllowDetachedProcess`): no process group of its own;
    /// close signals only the child and its background jobs live on.
    pub fn detached(mut self) -> Self {
        self.cmd.detached(true);
        self
    }

    /// Runs each start in a cgroup of its own below `parent`, a cgroup v2
    /// directory procrun may write: [`close`](super::Process::close) then
    /// ends every process the child started, daemons that called `setsid`
    /// included. See [`Command::cgroup`].
    pub fn cgroup(mut self, parent: impl Into<PathBuf>) -> Self {
        self.cmd.cgroup(parent.into());
        self
    }

    /// Limits the memory of each start, every process of it together, with
    /// [`cgroup`](Self::cgroup). See [`Command::memory_max`].
    pub fn memory_max(mut self, bytes: u64) -> Self {
        self.cmd.memory_max(bytes);
        self
    }

    /// Limits the processes and threads of each start, with
    /// [`cgroup`](Self::cgroup). See [`Command::pids_max`].
    pub fn pids_max(mut self, n: u64) -> Self {
        self.cmd.pids_max(n);
        self
    }

    /// Limits the CPU time of each start to `quota` in every `period`, with
    /// [`cgroup`](Self::cgroup). See [`Command::cpu_max`].
    pub fn cpu_max(mut self, quota: Duration, period: Duration) -> Self {
        self.cmd.cpu_max(quota, period);
        self
    }

    /// Kills the child (`SIGKILL`) when procrun's driver thread, and so
    /// this process, dies. See [`Command::kill_on_parent_death`].
    pub fn kill_on_parent_death(mut self) -> Self {
        self.cmd.kill_on_parent_death();
        self
    }

    /// The working directory.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cmd.current_dir(dir.into());
        self
    }

    /// Stops the child after this long (as a context deadline would), on
    /// the reactor's timer wheel; the exit then reports
    /// [`Exit::timed_out`](crate::exit::Exit::timed_out). A duration too large to add to the current time
    /// (such as [`Duration::MAX`]) is no timeout. The limit of
    /// [`Process::start_and_wait_combined`] or of a runner is a timeout
    /// too: given both, the smaller wins.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.cmd.timeout(d);
        self
    }

    /// The grace between the stop signal and `SIGKILL` (default 3 s).
    pub fn grace(mut self, d: Duration) -> Self {
        self.cmd.grace(d);
        self
    }

    /// The signal a stop starts with (default `SIGTERM`); it reaches the
    /// child however it is chosen, as [`Command::stop_signal`] says.
    pub fn stop_signal(mut self, sig: Signal) -> Self {
        self.cmd.stop_signal(sig);
        self
    }

    /// The longest line delivered whole (default 64 KiB; gpud's
    /// `WithInitialBufferSize`): a longer one is read in pieces flagged
    /// [`partial`](super::OutputLine::partial) — by [`read`](super::read), [`Process::lines`]
    /// and [`StreamReader::next_line_blocking`](super::StreamReader::next_line_blocking), while a byte reader
    /// ([`std::io::Read`]) joins them again. 0 is [`Error::ZeroMaxLine`]
    /// at [`build`](Self::build).
    pub fn max_line(mut self, bytes: usize) -> Self {
        self.cmd.max_line(bytes);
        self
    }

    /// How long output from processes outside the group that still hold
    /// the pipes is read after the child exits (default 1 s).
    pub fn drain(mut self, d: Duration) -> Self {
        self.cmd.drain(d);
        self
    }

    /// Keeps a pipe to the child's stdin open for
    /// [`Process::stdin`](super::Process::stdin) to write to (by default
    /// stdin is `/dev/null`).
    pub fn stdin_stream(mut self) -> Self {
        self.cmd.stdin(Input::Stream);
        self
    }

    /// How much output, in whole lines, may wait unread before the child is
    /// paused (default 1 MiB; 0 is taken as 1). Each stream's line in
    /// progress is held besides, up to [`max_line`](Self::max_line) and its
    /// line ending: a line reader takes only whole lines (or the pieces
    /// [`max_line`](Self::max_line) cuts), so a child paused in the middle
    /// of a line longer than the buffer would never let it finish. A line
    /// in progress is kept both as bytes (for the byte readers) and in the
    /// line splitter, so memory per process is at most about the buffer
    /// plus four times `max_line` (two per stream), plus what one read
    /// brings past the buffer. With `max_line(usize::MAX)` ("no limit")
    /// nothing bounds a line that never ends: a child writing endless
    /// bytes without a `\n` is held in memory, not paused.
    pub fn buffer(mut self, bytes: usize) -> Self {
        self.buffer = bytes.max(1);
        self
    }

    /// Checks the options and makes the process (not started).
    ///
    /// # Errors
    ///
    /// [`Error::EmptyProgram`] with no command and no script, or with
    /// script contents that are empty or only whitespace,
    /// [`Error::InvalidCommand`] for several commands without
    /// [`run_as_bash_script`](Self::run_as_bash_script) or both commands and
    /// script contents, [`Error::NulByte`] for a NUL in a command, in bash
    /// script mode too (bash would drop it, running other words than the
    /// ones given), or in script contents, and what [`Command::validate`]
    /// reports ([`Error::InvalidEnv`], [`Error::DuplicateEnv`], …).
    pub fn build(self) -> Result<Process> {
        if self.script.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err(Error::EmptyProgram);
        }
        let as_script = self.as_script || self.inline;
        let script = match (&self.script, as_script, self.commands.len()) {
            (Some(_), _, n) if n > 0 => {
                return Err(Error::InvalidCommand {
                    reason: "both commands and script contents given".into(),
                })
            }
            (Some(s), _, _) => {
                script::check_contents(s)?;
                Some(s.clone())
            }
            (None, _, 0) => return Err(Error::EmptyProgram),
            (None, true, _) => {
                // Before joining: the script text cannot tell which word
                // held the NUL.
                script::check_commands(&self.commands)?;
                Some(script::from_commands(&self.commands))
            }
            (None, false, 1) => None,
            (None, false, _) => {
                return Err(Error::InvalidCommand {
                    reason: "several commands need run_as_bash_script".into(),
                })
            }
        };
        let mut cmd = self.cmd;
        match &script {
            Some(_) => cmd.program = "bash".into(),
            None => {
                let argv = &self.commands[0];
                cmd.program = argv.first().map(String::as_str).unwrap_or("").into();
                cmd.args = argv.iter().skip(1).map(Into::into).collect();
            }
        }
        let spec = cmd.prepare()?;
        Ok(Process {
            handle: Handle::new(sync::Arc::new(Shared::new(self.buffer, spec.max_line))),
            spec,
            script,
            inline: self.inline,
            script_dir: self.script_dir.unwrap_or_else(std::env::temp_dir),
            script_pattern: self.script_pattern,
            labels: self.labels,
        })
    }
}

/// What the child is set up with before its exec, as
/// [`Command`]'s methods of the same names set it.
impl ProcessBuilder {
    /// The child's `argv[0]`; see [`Command::arg0`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::Process;
    ///
    /// let p = Process::builder()
    ///     .command(["sh", "-c", "echo $0"])
    ///     .arg0("health-check")
    ///     .build()?;
    /// assert_eq!(p.start_and_wait_combined(None)?.output, b"health-check\n");
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn arg0(mut self, arg0: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.arg0(arg0);
        self
    }

    /// Runs the child as user `uid`; see [`Command::uid`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::Process;
    ///
    /// let p = Process::builder().command(["id", "-u"]).uid(60123).gid(60123).build();
    /// assert!(p.is_ok());
    /// ```
    pub fn uid(mut self, uid: u32) -> Self {
        self.cmd.uid(uid);
        self
    }

    /// Runs the child with group `gid`; see [`Command::gid`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::Process;
    ///
    /// assert!(Process::builder().command(["id"]).gid(60123).build().is_ok());
    /// ```
    pub fn gid(mut self, gid: u32) -> Self {
        self.cmd.gid(gid);
        self
    }

    /// The child's supplementary groups; see [`Command::groups`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Error, Process};
    ///
    /// assert!(Process::builder().command(["id"]).groups(&[60123]).build().is_ok());
    /// let many = Process::builder().command(["id"]).groups(&vec![1; 65_537]).build();
    /// assert!(matches!(many, Err(Error::InvalidCommand { .. })));
    /// ```
    pub fn groups(mut self, groups: &[u32]) -> Self {
        self.cmd.groups(groups);
        self
    }

    /// A resource limit of the child; see [`Command::rlimit`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Process, Resource};
    ///
    /// let p = Process::builder()
    ///     .command(["sh", "-c", "ulimit -n"])
    ///     .rlimit(Resource::Nofile, 77, 77)
    ///     .build()?;
    /// assert_eq!(p.start_and_wait_combined(None)?.output, b"77\n");
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn rlimit(mut self, resource: crate::command::Resource, soft: u64, hard: u64) -> Self {
        self.cmd.rlimit(resource, soft, hard);
        self
    }

    /// The child's umask; see [`Command::umask`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::Process;
    ///
    /// let p = Process::builder().command(["sh", "-c", "umask"]).umask(0o027).build()?;
    /// assert_eq!(p.start_and_wait_combined(None)?.output, b"0027\n");
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn umask(mut self, mask: u32) -> Self {
        self.cmd.umask(mask);
        self
    }

    /// The child's nice value; see [`Command::nice`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::Process;
    ///
    /// let p = Process::builder().command(["nice"]).nice(19).build()?;
    /// assert_eq!(p.start_and_wait_combined(None)?.output, b"19\n");
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn nice(mut self, nice: i32) -> Self {
        self.cmd.nice(nice);
        self
    }

    /// The child's `oom_score_adj`; see [`Command::oom_score_adj`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::Process;
    ///
    /// let p = Process::builder()
    ///     .command(["cat", "/proc/self/oom_score_adj"])
    ///     .oom_score_adj(1000)
    ///     .build()?;
    /// assert_eq!(p.start_and_wait_combined(None)?.output, b"1000\n");
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn oom_score_adj(mut self, adj: i32) -> Self {
        self.cmd.oom_score_adj(adj);
        self
    }

    /// Sets `no_new_privs` in the child; see [`Command::no_new_privs`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::Process;
    ///
    /// let p = Process::builder()
    ///     .command(["grep", "NoNewPrivs", "/proc/self/status"])
    ///     .no_new_privs()
    ///     .build()?;
    /// assert_eq!(p.start_and_wait_combined(None)?.output, b"NoNewPrivs:\t1\n");
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn no_new_privs(mut self) -> Self {
        self.cmd.no_new_privs();
        self
    }

    /// Passes `fd` to the child at number `target`; see
    /// [`Command::pass_fd`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::Process;
    ///
    /// let null = std::fs::File::open("/dev/null")?;
    /// let p = Process::builder()
    ///     .command(["readlink", "/proc/self/fd/5"])
    ///     .pass_fd(null, 5)
    ///     .build()?;
    /// assert_eq!(p.start_and_wait_combined(None)?.output, b"/dev/null\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pass_fd(
        mut self,
        fd: impl Into<std::os::fd::OwnedFd>,
        target: std::os::fd::RawFd,
    ) -> Self {
        self.cmd.pass_fd(fd, target);
        self
    }
}
