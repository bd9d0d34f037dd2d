//! [`ProcessBuilder`]: gpud's `Op` and its `With…` options, over a
//! [`Command`] that holds everything the reactor runs by.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
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
use crate::pipeline::Pipeline;
use crate::signal::Signal;
use crate::spawn::Spec;

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
    commands: Vec<Vec<OsString>>,
    /// Commands the command's output is piped through, in order.
    pipes: Vec<Vec<OsString>>,
    script: Option<String>,
    as_script: bool,
    inline: bool,
    script_dir: Option<PathBuf>,
    script_pattern: String,
    labels: BTreeMap<String, String>,
    buffer: usize,
    output_cap: usize,
}

/// What [`Process::output`] keeps of each stream by default: 16 MiB.
const DEFAULT_OUTPUT_CAP: usize = 16 << 20;

impl Default for ProcessBuilder {
    fn default() -> Self {
        ProcessBuilder {
            cmd: Command::new(""),
            commands: Vec::new(),
            pipes: Vec::new(),
            script: None,
            as_script: false,
            inline: false,
            script_dir: None,
            script_pattern: DEFAULT_SCRIPT_PATTERN.to_owned(),
            labels: BTreeMap::new(),
            buffer: DEFAULT_BUFFER,
            output_cap: DEFAULT_OUTPUT_CAP,
        }
    }
}

impl ProcessBuilder {
    /// Adds a command: a program and its arguments (`WithCommand`). Without
    /// [`run_as_bash_script`](Self::run_as_bash_script) exactly one command
    /// may be given; in a script, a one-element command is a shell line
    /// used as written and a longer one is quoted word by word.
    ///
    /// The words are [`OsStr`]s, as [`Command::arg`]'s: a program run
    /// directly gets any bytes but NUL. A script is text, so there a word
    /// that is not UTF-8 is [`Error::InvalidCommand`] at
    /// [`build`](Self::build).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::ffi::OsStr;
    /// use std::os::unix::ffi::OsStrExt;
    /// use procrun::Process;
    ///
    /// // Not UTF-8, passed as it is.
    /// let word = OsStr::from_bytes(b"caf\xe9");
    /// let p = Process::builder().command([OsStr::new("printf"), OsStr::new("%s"), word]).build()?;
    /// assert_eq!(p.output()?.stdout, b"caf\xe9");
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn command<I, S>(mut self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
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
        S: Into<OsString>,
    {
        for c in cmds {
            self = self.command(c);
        }
        self
    }

    /// Pipes the stdout of the command (or of the last command piped to)
    /// into this one's stdin, as a shell's `|` does: the process runs a
    /// [`Pipeline`], whose stages all get the builder's
    /// environment, directory and child settings, and whose whole is
    /// supervised by the builder's (timeouts, restarts, stop, containment;
    /// its stdin is the first stage's, its output the last stage's, and
    /// every stage's stderr is the process's). procrun copies no byte
    /// between the stages. The process's exit has `pipefail`'s status,
    /// and names the failed stage ([`Exit::failed_stage`](crate::Exit::failed_stage)).
    ///
    /// # Errors
    ///
    /// [`build`](Self::build) reports [`Error::InvalidCommand`] unless
    /// exactly one [`command`](Self::command) comes before the pipes, and
    /// no script.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::Process;
    ///
    /// let p = Process::builder()
    ///     .command(["printf", "b\\na\\nc\\n"])
    ///     .pipe(["sort"])
    ///     .pipe(["tr", "a-z", "A-Z"])
    ///     .build()?;
    /// assert_eq!(p.output()?.stdout, b"A\nB\nC\n");
    ///
    /// let failing = Process::builder()
    ///     .command(["sh", "-c", "exit 3"])
    ///     .pipe(["cat"])
    ///     .build()?;
    /// failing.start()?;
    /// let exit = failing.wait()?;
    /// assert_eq!((exit.code(), exit.failed_stage()), (Some(3), Some(0)));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn pipe<I, S>(mut self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.pipes.push(argv.into_iter().map(Into::into).collect());
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

    /// Sets one variable, as [`Command::env`]: key and value as
    /// [`OsStr`]s, not UTF-8 if need be.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::Process;
    ///
    /// let p = Process::builder()
    ///     .command(["sh", "-c", "echo \"$GREETING\""])
    ///     .env_var("GREETING", "hello")
    ///     .build()?;
    /// assert_eq!(p.output()?.stdout, b"hello\n");
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn env_var(mut self, key: impl AsRef<OsStr>, val: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, val);
        self
    }

    /// Removes a variable from the child's environment, inherited or set
    /// before with [`env_var`](Self::env_var), as [`Command::env_remove`].
    /// The [`env`](Self::env) entries are applied after, as
    /// [`Command::env_entries`] are: an entry sets its key whatever was
    /// removed.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::Process;
    ///
    /// let p = Process::builder()
    ///     .command(["sh", "-c", "echo \"${HOME-unset}\""])
    ///     .env_remove("HOME")
    ///     .build()?;
    /// assert_eq!(p.output()?.stdout, b"unset\n");
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.cmd.env_remove(key);
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

    /// Stops each run after this long from its own start, where
    /// [`timeout`](Self::timeout) spans every run: see
    /// [`Command::run_timeout`](crate::Command::run_timeout). A run it
    /// ends counts as failed, so the restart policy restarts it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procrun::{Process, Restart, TimeoutKind};
    ///
    /// let p = Process::builder()
    ///     .command(["sleep", "30"])
    ///     .run_timeout(Duration::from_millis(100))
    ///     .restart(Restart::on_error().limit(1).interval(Duration::ZERO))
    ///     .build()?;
    /// p.start()?;
    /// let exit = p.wait()?;
    /// assert_eq!(exit.timeout_kind(), Some(TimeoutKind::Run));
    /// assert!(exit.restarts() == 1 && exit.restart_limit_reached());
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn run_timeout(mut self, d: Duration) -> Self {
        self.cmd.run_timeout(d);
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
    /// [`partial`](crate::OutputLine::partial) — by [`read`](super::read), [`Process::lines`]
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
    /// stdin is `/dev/null`). The stream of a run stays open until its
    /// writer is dropped, or, when nobody took the writer, until
    /// [`Process::wait`](super::Process::wait) closes it, as tokio's
    /// `wait` drops the child's stdin.
    pub fn stdin_stream(mut self) -> Self {
        self.cmd.stdin(Input::Stream);
        self
    }

    /// Where the child's stdin comes from, as [`Command::stdin`]:
    /// [`Input::Null`] (the default), [`Input::Inherit`] (this process's
    /// own stdin), [`Input::Bytes`] (see [`stdin_bytes`](Self::stdin_bytes))
    /// or [`Input::Stream`] (see [`stdin_stream`](Self::stdin_stream)).
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Input, Process};
    ///
    /// let p = Process::builder().command(["cat"]).stdin(Input::Null).build()?;
    /// let out = p.output()?;
    /// assert!(out.stdout.is_empty() && out.exit.unwrap().success());
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn stdin(mut self, input: Input) -> Self {
        self.cmd.stdin(input);
        self
    }

    /// Feeds these bytes to the child's stdin, then closes it, on every
    /// run: [`Command::stdin_bytes`].
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::Process;
    ///
    /// let p = Process::builder()
    ///     .command(["tr", "a-z", "A-Z"])
    ///     .stdin_bytes(&b"shout\n"[..])
    ///     .build()?;
    /// assert_eq!(p.output()?.stdout, b"SHOUT\n");
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn stdin_bytes(mut self, bytes: impl Into<Arc<[u8]>>) -> Self {
        self.cmd.stdin_bytes(bytes);
        self
    }

    /// Where the child's stdout goes, as [`Command::stdout`]: read
    /// through the process ([`Output::Lines`], the default, or
    /// [`Output::Raw`]: both are read as bytes and split into lines here),
    /// [`Output::Null`], [`Output::Inherit`] (this process's own stdout),
    /// or [`Output::File`]. Output that is not read through the process
    /// is not seen by its readers, nor by [`Process::output`](super::Process::output).
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Output, Process};
    ///
    /// let p = Process::builder()
    ///     .command(["sh", "-c", "echo noise; echo kept >&2"])
    ///     .stdout(Output::Null)
    ///     .build()?;
    /// let out = p.output()?;
    /// assert_eq!((&out.stdout[..], &out.stderr[..]), (&b""[..], &b"kept\n"[..]));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn stdout(mut self, out: Output) -> Self {
        self.cmd.stdout(out);
        self
    }

    /// Where the child's stderr goes, as [`Command::stderr`]; besides the
    /// choices of [`stdout`](Self::stdout), [`Output::Stdout`] sends it to
    /// wherever stdout goes (to stdout's pipe: read as stdout).
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Output, Process};
    ///
    /// let p = Process::builder()
    ///     .command(["sh", "-c", "echo out; echo err >&2"])
    ///     .stderr(Output::Stdout)
    ///     .build()?;
    /// assert_eq!(p.output()?.stdout, b"out\nerr\n");
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn stderr(mut self, out: Output) -> Self {
        self.cmd.stderr(out);
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
    /// bytes without a `\n` is held in memory, not paused. A run that ends
    /// while paused (killed, signalled, timed out) is not held for a
    /// reader: what its pipes still hold (at most their capacity) is
    /// taken past the buffer, and its exit comes; a run restarted
    /// meanwhile is held from its start until the reader takes.
    pub fn buffer(mut self, bytes: usize) -> Self {
        self.buffer = bytes.max(1);
        self
    }

    /// How many bytes of each stream [`Process::output`] keeps (default
    /// 16 MiB per stream): the first `bytes` of it. What the child writes
    /// past them is still read, so the child never blocks on a full pipe,
    /// and dropped; [`ProcessOutput::stdout_truncated`](super::ProcessOutput::stdout_truncated)
    /// (or `stderr_truncated`) then says so. `usize::MAX` keeps
    /// everything.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::Process;
    ///
    /// let p = Process::builder()
    ///     .command(["sh", "-c", "yes | head -c 100000; echo short >&2"])
    ///     .output_cap(4)
    ///     .build()?;
    /// let out = p.output()?;
    /// assert_eq!((&out.stdout[..], out.stdout_truncated), (&b"y\ny\n"[..], true));
    /// assert_eq!((&out.stderr[..], out.stderr_truncated), (&b"shor"[..], true));
    /// assert!(out.exit.unwrap().success(), "the rest was read, not refused");
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn output_cap(mut self, bytes: usize) -> Self {
        self.output_cap = bytes;
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
                let commands = script_words(&self.commands)?;
                // Before joining: the script text cannot tell which word
                // held the NUL.
                script::check_commands(&commands)?;
                Some(script::from_commands(&commands))
            }
            (None, false, 1) => None,
            (None, false, _) => {
                return Err(Error::InvalidCommand {
                    reason: "several commands need run_as_bash_script".into(),
                })
            }
        };
        if !self.pipes.is_empty() {
            if script.is_some() || self.commands.len() != 1 {
                return Err(Error::InvalidCommand {
                    reason: "a pipe needs exactly one command before it, and no script".into(),
                });
            }
            let spec = self.pipeline().prepare()?;
            return Ok(self.into_process(spec, None));
        }
        let mut cmd = self.cmd.clone();
        match &script {
            Some(_) => cmd.program = "bash".into(),
            None => {
                let argv = &self.commands[0];
                cmd.program = argv.first().cloned().unwrap_or_default();
                cmd.args = argv[1.min(argv.len())..].to_vec();
            }
        }
        let spec = cmd.prepare()?;
        Ok(self.into_process(spec, script))
    }

    fn into_process(self, spec: Spec, script: Option<String>) -> Process {
        Process {
            handle: Handle::new(sync::Arc::new(Shared::new(self.buffer, spec.max_line))),
            spec,
            script,
            inline: self.inline,
            script_dir: self.script_dir.unwrap_or_else(std::env::temp_dir),
            script_pattern: self.script_pattern,
            labels: self.labels,
            output_cap: self.output_cap,
        }
    }

    /// The command and its pipes as a pipeline: each stage with the
    /// builder's environment, directory and child settings, the last
    /// with everything else of the builder's too, the first with its
    /// stdin.
    fn pipeline(&self) -> Pipeline {
        let stage = |argv: &[OsString]| {
            let mut c = Command::new(argv.first().cloned().unwrap_or_default());
            c.args = argv[1.min(argv.len())..].to_vec();
            c.env_clear = self.cmd.env_clear;
            c.env = self.cmd.env.clone();
            c.env_entries = self.cmd.env_entries.clone();
            c.cwd = self.cmd.cwd.clone();
            c.setup = self.cmd.setup.clone();
            c
        };
        let mut first = stage(&self.commands[0]);
        first.stdin = self.cmd.stdin.clone();
        let mut pipeline = Pipeline::new(first);
        let (last, middle) = self.pipes.split_last().expect("pipes were given");
        for argv in middle {
            pipeline.pipe(stage(argv));
        }
        let mut last_stage = self.cmd.clone();
        last_stage.program = last.first().cloned().unwrap_or_default();
        last_stage.args = last[1.min(last.len())..].to_vec();
        last_stage.stdin = Input::Null;
        pipeline.pipe(last_stage);
        pipeline
    }
}

/// The commands of a script as text: a script is a string, so a word
/// that is not UTF-8 cannot be written into it as given.
fn script_words(commands: &[Vec<OsString>]) -> Result<Vec<Vec<String>>> {
    commands
        .iter()
        .map(|c| {
            c.iter()
                .map(|w| {
                    w.to_str()
                        .map(str::to_owned)
                        .ok_or_else(|| Error::InvalidCommand {
                            reason: format!("a word of a bash script is not UTF-8: {w:?}"),
                        })
                })
                .collect()
        })
        .collect()
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
