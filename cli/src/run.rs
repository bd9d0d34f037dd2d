//! `procrun run`: start the commands on one reactor, print their lines as
//! they come, stop them all on a signal, exit with their status.
//!
//! With `--raw` it stands in for coreutils `timeout`: the bytes pass
//! through, a signal procrun takes is forwarded to the child as it is
//! (SIGALRM times it out now) and the child's status is procrun's;
//! procrun's own failures are 125.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use procrun::{
    ChildId, Command, Control, Error, Event, Exit, Input, Output, Reactor, Restart, Signal,
};

use crate::accounts;
use crate::failure::{describe, Failure};
use crate::flags::config::{RestartWhen, RunArgs, What, BACKOFF_CAP};
use crate::print::{self, Human, Note, Printer};
use crate::procfile::{load_dotenv, load_procfile};
use crate::signals;
use crate::sink;

/// As coreutils `timeout` reports a command it had to stop.
const TIMED_OUT: u8 = 124;
/// As coreutils `timeout` reports a failure of its own (`--raw` only).
const CANCELED: u8 = 125;
/// As shells and `timeout` report a program that exists but cannot run.
const CANNOT_EXECUTE: u8 = 126;
/// As shells and `timeout` report a program that is not there.
const NOT_FOUND: u8 = 127;
/// procrun's stdout went away: the status a shell shows for a process
/// killed by SIGPIPE.
const BROKEN_PIPE: u8 = 128 + 13;
/// Exit status for a run whose status went to whoever reaped it (another
/// `waitpid(-1)` in procrun's process, or a SIGCHLD ignored after the
/// spawn). procrun resets SIGCHLD at its start, so only code in its own
/// process could take a status; the library reports no code for it.
const STATUS_UNKNOWN: u8 = 255;

/// Exit status when writing the output failed otherwise (a full disk, a
/// device gone): procrun failed, as for any error of its own.
const WRITE_FAILED: u8 = 1;

/// How procrun ends after its runs: the exit status, and with `--raw` the
/// signal to die of instead, as coreutils `timeout` does when its command
/// was killed by a signal that was not its own.
#[derive(Debug, Clone, Copy)]
pub struct Ending {
    /// The exit status (for a signal, 128 + its number: what procrun exits
    /// with when it cannot die of the signal).
    pub status: u8,
    pub died_of: Option<Signal>,
}

impl Ending {
    fn status(status: u8) -> Ending {
        Ending {
            status,
            died_of: None,
        }
    }
}

/// Runs what `args` asks for; how to end.
pub fn run(args: RunArgs) -> Result<Ending, Failure> {
    if !args.raw {
        return supervise(args);
    }
    match supervise(args) {
        Err(Failure::Usage(msg) | Failure::Runtime(msg)) => Err(Failure::Canceled(msg)),
        other => other,
    }
}

fn supervise(mut args: RunArgs) -> Result<Ending, Failure> {
    if args.cgroup.as_deref() == Some(Path::new(AUTO_CGROUP)) {
        args.cgroup = Some(delegated_cgroup()?);
    }
    let specs = commands(&args)?;
    let mut reactor =
        Reactor::new().map_err(|e| Failure::Runtime(format!("cannot start: {}", describe(&e))))?;
    // Before any child starts, so that a Ctrl-C never leaves one behind.
    let signals = signals::install(reactor.waker())
        .map_err(|e| Failure::Runtime(format!("cannot take signals: {e}")))?;
    let names: Vec<&str> = specs.iter().map(|(n, _)| n.as_str()).collect();
    let mut state = State {
        printer: Printer::new(&names, print_options(&args)?),
        children: Vec::with_capacity(specs.len()),
        index: HashMap::with_capacity(specs.len()),
        restart_limit: args.restart_limit,
        preserve_status: args.preserve_status,
        exit_with_first: args.exit_with_first,
        failure: None,
        first_ended: None,
        raw: args.raw,
        alarmed: false,
        end_restarts: false,
        died_of: None,
        killed: false,
    };
    for (name, cmd) in &specs {
        // On an error, dropping the reactor kills and reaps whatever was
        // started already.
        let id = reactor
            .spawn(cmd)
            .map_err(|e| spawn_failure(name, &args.what, &e))?;
        state.index.insert(id, state.children.len());
        state.children.push(Child {
            name: name.clone(),
            id,
            last: None,
            done: false,
            paused: false,
            awaiting_restart: false,
        });
    }
    let mut sup = Supervisor {
        reactor,
        state,
        signals,
        grace: args.grace,
        shutdown: None,
        stopping_since: None,
        signalled: None,
        kill_at: None,
    };
    sup.run()
}

/// `--cgroup auto`: the cgroup delegated to procrun, found (and procrun
/// moved into its leaf) before any child starts, so that every run's
/// cgroup is made beside that leaf.
const AUTO_CGROUP: &str = "auto";

fn delegated_cgroup() -> Result<PathBuf, Failure> {
    procrun::cgroup::delegated_parent().map_err(|e| {
        let hint = match e {
            Error::NotDelegated { .. } => {
                "; run procrun in a unit with Delegate=yes or under \
                 `systemd-run --scope -p Delegate=yes`, or name a PARENT"
            }
            _ => "",
        };
        Failure::Runtime(format!("--cgroup auto: {}{hint}", describe(&e)))
    })
}

/// Each command with its prefix name, every option applied.
fn commands(a: &RunArgs) -> Result<Vec<(String, Command)>, Failure> {
    let mut specs = match &a.what {
        What::Program(argv) => {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            vec![(base_name(&argv[0]), c)]
        }
        What::Script(path) => {
            let abs = readable_script(path).map_err(|why| {
                Failure::Usage(format!("run: cannot read script {}: {why}", path.display()))
            })?;
            let mut c = Command::new("bash");
            c.arg(abs);
            vec![(base_name(path.as_os_str()), c)]
        }
        What::Named(list) => list
            .iter()
            .map(|(name, line)| {
                let mut c = Command::new("bash");
                c.arg("-c").arg(line);
                (name.clone(), c)
            })
            .collect(),
        What::Procfile {
            file,
            root,
            env_file,
            only,
        } => procfile_commands(file, root.as_deref(), env_file.as_deref(), only)?,
    };
    let credentials = accounts::resolve(Path::new("/etc"), a.user.as_deref(), a.group.as_deref())
        .map_err(|why| {
        let command = match a.what {
            What::Procfile { .. } => "start",
            _ => "run",
        };
        Failure::Usage(format!("{command}: {why}"))
    })?;
    for (_, c) in &mut specs {
        c.grace(a.grace).detached(a.detached).env_entries(&a.env);
        if let Some(id) = &credentials {
            if let Some(groups) = &id.groups {
                c.groups(groups);
            }
            if let Some(gid) = id.gid {
                c.gid(gid);
            }
            if let Some(uid) = id.uid {
                c.uid(uid);
            }
        }
        if let Some(n) = a.nice {
            c.nice(n);
        }
        if let Some(adj) = a.oom_score_adj {
            c.oom_score_adj(adj);
        }
        for &(resource, soft, hard) in &a.rlimits {
            c.rlimit(resource, soft, hard);
        }
        if let Some(mask) = a.umask {
            c.umask(mask);
        }
        if let Some(parent) = &a.cgroup {
            c.cgroup(parent);
        }
        if let Some(bytes) = a.memory_max {
            c.memory_max(bytes);
        }
        if let Some(n) = a.pids_max {
            c.pids_max(n);
        }
        if let Some(percent) = a.cpu_max {
            // systemd's CPUQuota= over the kernel's default 100 ms period.
            let period = Duration::from_millis(100);
            c.cpu_max(period * percent / 100, period);
        }
        if a.kill_on_parent_death {
            c.kill_on_parent_death();
        }
        if let Some(t) = a.timeout {
            c.timeout(t);
        }
        if let Some(sig) = a.stop_signal {
            c.stop_signal(sig);
        }
        if let Some(when) = a.restart {
            let policy = match when {
                RestartWhen::OnError => Restart::on_error(),
                RestartWhen::Always => Restart::always(),
            };
            let mut policy = policy.limit(a.restart_limit).interval(a.restart_interval);
            if a.backoff {
                policy = policy.backoff(BACKOFF_CAP);
            }
            c.restart(policy);
        }
        if let Some(dir) = &a.cwd {
            c.current_dir(dir);
        }
        if let Some(n) = a.max_line {
            c.max_line(n);
        }
        if a.stdin_inherit {
            if std::io::stdin().is_terminal() {
                // Each process runs in a process group of its own, outside
                // the terminal's foreground group: its first read of the
                // terminal would stop it (SIGTTIN) for good, in silence.
                return Err(Failure::Usage(
                    "--stdin inherit: stdin is a terminal, which the processes cannot \
                     read (each runs in a process group of its own, outside the \
                     terminal's foreground); pipe or redirect their input instead"
                        .into(),
                ));
            }
            c.stdin(Input::Inherit);
        }
        if a.raw {
            c.stdout(Output::Raw);
            // procrun's stdout and stderr are one file (`2>&1`): so are the
            // child's, so that the two interleave as the child wrote them,
            // not as procrun happened to read them.
            c.stderr(if sink::stdio_same_file() {
                Output::Stdout
            } else {
                Output::Raw
            });
        }
        if a.quiet && a.output.is_none() {
            // Nothing will be printed: do not read it at all.
            c.stdout(Output::Null).stderr(Output::Null);
        }
    }
    Ok(specs)
}

/// `bash -c COMMAND` for each entry of the Procfile `file` (those in
/// `only`, when it names any), run in `root` (the Procfile's directory
/// unless given, as foreman has it), with the variables of the `.env`
/// file (the root's unless given).
fn procfile_commands(
    file: &Path,
    root: Option<&Path>,
    env_file: Option<&Path>,
    only: &[String],
) -> Result<Vec<(String, Command)>, Failure> {
    let usage = |why: String| Failure::Usage(format!("start: {why}"));
    let mut entries = load_procfile(file).map_err(usage)?;
    if let Some(missing) = only.iter().find(|n| !entries.iter().any(|(e, _)| e == *n)) {
        return Err(usage(format!("no entry '{missing}' in {}", file.display())));
    }
    if !only.is_empty() {
        entries.retain(|(name, _)| only.contains(name));
    }
    // `Procfile` alone is in the current directory: its parent is "".
    let root = root
        .or(file.parent())
        .filter(|r| !r.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !root.is_dir() {
        return Err(usage(format!("root {} is not a directory", root.display())));
    }
    // A `.env` is optional unless asked for by name, as foreman has it.
    let default_env = root.join(".env");
    let vars = match env_file {
        Some(path) => load_dotenv(path).map_err(usage)?,
        None if default_env.exists() => load_dotenv(&default_env).map_err(usage)?,
        None => Vec::new(),
    };
    Ok(entries
        .into_iter()
        .map(|(name, line)| {
            let mut c = Command::new("bash");
            c.arg("-c").arg(line).current_dir(root);
            for (k, v) in &vars {
                c.env(k, v);
            }
            (name, c)
        })
        .collect())
}

/// The script's absolute path, so that --cwd does not change which file
/// bash reads; or why bash could not read it. Checked here because bash
/// would report it as the script's own failure (exit status 126 or 127),
/// when it is bad input to procrun.
fn readable_script(path: &Path) -> Result<PathBuf, String> {
    let abs = std::fs::canonicalize(path).map_err(|e| e.to_string())?;
    let meta = std::fs::metadata(&abs).map_err(|e| e.to_string())?;
    if meta.is_dir() {
        return Err("is a directory".into());
    }
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    // Opening is the one honest test of read permission (ACLs, root, a
    // read-only mount all have their say); the file is regular, so the
    // open cannot block.
    File::open(&abs).map_err(|e| e.to_string())?;
    Ok(abs)
}

fn print_options(a: &RunArgs) -> Result<print::Options, Failure> {
    Ok(print::Options {
        timestamps: a.timestamps,
        color: a.color,
        quiet: a.quiet,
        output: match &a.output {
            Some(path) => Some((open_output(path)?, path.display().to_string())),
            None => None,
        },
        raw: a.raw,
        verbose: a.verbose,
        format: a.format,
    })
}

/// Appended to, so that several children (and restarts) never overwrite
/// each other's lines.
fn open_output(path: &Path) -> Result<File, Failure> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Failure::Usage(format!("run: cannot open {}: {e}", path.display())))
}

fn base_name(program: &OsStr) -> String {
    let name = Path::new(program).file_name().unwrap_or(program);
    name.to_string_lossy().into_owned()
}

/// A program that is missing or cannot run is 127 or 126, so that procrun
/// can stand in for `timeout` in scripts that test for those; other bad
/// input is exit status 2; the OS failing procrun is 1.
fn spawn_failure(name: &str, what: &What, e: &Error) -> Failure {
    let msg = match what {
        What::Named(_) => format!("run: {name}: {}", describe(e)),
        What::Procfile { .. } => format!("start: {name}: {}", describe(e)),
        _ => format!("run: {}", describe(e)),
    };
    if let Some(status) = exec_status(e) {
        Failure::Exec(status, msg)
    } else if is_bad_input(e) {
        Failure::Usage(msg)
    } else {
        Failure::Runtime(msg)
    }
}

/// 127 or 126 when `e` is what exec said of the program itself.
fn exec_status(e: &Error) -> Option<u8> {
    match e {
        Error::ProgramNotFound { .. } => Some(NOT_FOUND),
        // Not executable, not a program, a path that cannot name one,
        // arguments too long: all of them `timeout`'s 126.
        Error::Spawn { source, .. } => matches!(
            source.raw_os_error(),
            Some(
                libc::EACCES
                    | libc::ENOEXEC
                    | libc::EISDIR
                    | libc::ENOTDIR
                    | libc::ELOOP
                    | libc::ENAMETOOLONG
                    | libc::E2BIG
                    | libc::ETXTBSY
            )
        )
        .then_some(CANNOT_EXECUTE),
        _ => None,
    }
}

/// Whether the user can fix `e` by changing the command line. A spawn that
/// fails for want of a resource (EAGAIN at the process limit, ENOMEM,
/// EMFILE) is the host failing procrun, whatever was asked; so is any error
/// not listed here.
fn is_bad_input(e: &Error) -> bool {
    matches!(
        e,
        Error::ZeroMaxLine
            | Error::EmptyProgram
            | Error::NulByte { .. }
            | Error::InvalidEnv { .. }
            | Error::DuplicateEnv { .. }
            | Error::CwdNotFound { .. }
            | Error::InvalidCommand { .. }
    )
}

/// The exit status a run stands for, as coreutils `timeout` has it: a
/// timed-out run is 124 when the stop signal ended it, but 137 when it took
/// SIGKILL (after the grace, or as the stop signal), so that a script can
/// tell a command that had to be killed; `preserve` keeps the run's own
/// status even after a timeout.
fn status_of(exit: &Exit, preserve: bool, alarmed: bool) -> u8 {
    let own = if let Some(code) = exit.code() {
        (code & 0xff) as u8
    } else if let Some(sig) = exit.signal() {
        128u8.saturating_add(sig.as_raw() as u8)
    } else if exit.status_lost() {
        STATUS_UNKNOWN
    } else {
        1
    };
    let timed_out = exit.timed_out() || alarmed;
    if timed_out && !preserve && exit.signal() != Some(Signal::KILL) {
        TIMED_OUT
    } else {
        own
    }
}

struct Child {
    name: String,
    id: ChildId,
    /// The last run's end, kept for a restart that fails to start.
    last: Option<Exit>,
    done: bool,
    /// Not read while stdout is behind.
    paused: bool,
    /// Its last run ended and another is due.
    awaiting_restart: bool,
}

/// What the event handler needs (everything but the reactor it runs in).
struct State {
    printer: Printer,
    children: Vec<Child>,
    index: HashMap<ChildId, usize>,
    restart_limit: u32,
    /// `--preserve-status`: a timed-out run's own status, not 124.
    preserve_status: bool,
    /// `--exit-with-first`: the first child to end for good stops the rest.
    exit_with_first: bool,
    /// The status of the first child that finished unsuccessfully.
    failure: Option<u8>,
    /// The first child to end for good, with its status: what
    /// `--exit-with-first` stops the others for and exits with.
    first_ended: Option<(usize, u8)>,
    /// `--raw`.
    raw: bool,
    /// `--raw` took SIGALRM: the runs it stopped timed out, as the
    /// library's own timeout would have them.
    alarmed: bool,
    /// `--raw` forwarded a signal: a run it ends is the last.
    end_restarts: bool,
    /// `--raw`: the signal that ended the run whose status procrun exits
    /// with, when neither a timeout nor procrun's own SIGKILL sent it.
    died_of: Option<Signal>,
    /// `--raw` sent SIGKILL itself (the grace after a forwarded signal):
    /// the runs it ends were killed as a timed-out run is.
    killed: bool,
}

impl State {
    fn on_event(&mut self, ctl: &mut Control<'_>, ev: Event<'_>) {
        match ev {
            Event::Line {
                id,
                stream,
                line,
                partial,
                ..
            } => {
                if let Some(&i) = self.index.get(&id) {
                    self.printer.line(i, stream, line, partial);
                    // Paused here rather than after the poll, so that what
                    // is held is bounded by one read of the pipe.
                    if self.printer.behind() && !self.children[i].paused {
                        ctl.pause(id);
                        self.children[i].paused = true;
                    }
                }
            }
            Event::Data {
                id, stream, bytes, ..
            } => {
                if let Some(&i) = self.index.get(&id) {
                    self.printer.data(stream, bytes);
                    if self.printer.behind() && !self.children[i].paused {
                        ctl.pause(id);
                        self.children[i].paused = true;
                    }
                }
            }
            Event::Started {
                id, pid, restarts, ..
            } => {
                let Some(&i) = self.index.get(&id) else {
                    return;
                };
                self.children[i].awaiting_restart = false;
                self.printer.note(
                    i,
                    Note::Started {
                        pid,
                        restarts,
                        limit: self.restart_limit,
                    },
                );
            }
            Event::Exited(exit) => {
                let Some(&i) = self.index.get(&exit.id()) else {
                    return;
                };
                self.printer.note(i, Note::Exited(&exit));
                self.children[i].last = Some(exit);
                self.children[i].awaiting_restart = exit.restart_in().is_some();
                if self.end_restarts && exit.restart_in().is_some() {
                    // timeout's child is not restarted after the signal it
                    // was sent: the stop cancels the restart.
                    ctl.stop(exit.id());
                }
                if exit.is_final() {
                    self.record(i, &exit);
                }
            }
            Event::RestartFailed { id, error, .. } => {
                let Some(&i) = self.index.get(&id) else {
                    return;
                };
                self.printer.note(i, Note::RestartFailed(&describe(&error)));
                if let Some(last) = self.children[i].last {
                    self.record(i, &last);
                }
            }
            Event::SignalFailed { id, error, .. } => {
                let Some(&i) = self.index.get(&id) else {
                    return;
                };
                // The stop did not reach the child: say so rather than wait
                // in silence for an exit that may never come.
                self.printer.note(i, Note::StopFailed(&describe(&error)));
            }
            Event::Done {
                id,
                restart_cancelled,
                exit,
                ..
            } => {
                if let Some(i) = self.index.remove(&id) {
                    self.children[i].done = true;
                    if restart_cancelled {
                        // The last exit promised a restart that the stop or
                        // the timeout cancelled: that exit was the end, and
                        // a timeout is the child's status as for a run (the
                        // signal that ended the run was not the timeout's).
                        self.printer.note(
                            i,
                            Note::RestartCancelled {
                                timed_out: exit.timed_out(),
                            },
                        );
                        let timed_out = exit.timed_out() || self.alarmed;
                        let status = if timed_out && !self.preserve_status {
                            TIMED_OUT
                        } else {
                            status_of(&exit, self.preserve_status, self.alarmed)
                        };
                        self.record_status(i, status);
                    }
                }
            }
            _ => {}
        }
    }

    fn record(&mut self, i: usize, exit: &Exit) {
        let status = status_of(exit, self.preserve_status, self.alarmed);
        if self.raw && self.failure.is_none() && status != 0 {
            // coreutils `timeout` dies of the signal that killed its command
            // (not of the one it sent at the timeout or after it), so that
            // its own parent sees that signal, as with no timeout between.
            let ours = exit.timed_out() || self.alarmed || self.killed;
            self.died_of = exit.signal().filter(|_| !ours);
        }
        self.record_status(i, status);
    }

    fn record_status(&mut self, i: usize, status: u8) {
        if self.failure.is_none() && status != 0 {
            self.failure = Some(status);
        }
        if self.first_ended.is_none() {
            self.first_ended = Some((i, status));
        }
    }
}

struct Supervisor {
    reactor: Reactor,
    state: State,
    signals: Receiver<Signal>,
    grace: Duration,
    /// Set once procrun is stopping everything: the status to exit with.
    shutdown: Option<u8>,
    /// When that stop began.
    stopping_since: Option<Instant>,
    /// When a shutdown signal last came, and how many came.
    signalled: Option<(Instant, u32)>,
    /// `--raw`: when the children a forwarded signal did not end get
    /// SIGKILL (the grace after the first such signal).
    kill_at: Option<Instant>,
}

impl Supervisor {
    fn run(&mut self) -> Result<Ending, Failure> {
        while !self.reactor.is_empty() {
            let mut timeout = None;
            if self.state.printer.waiting() {
                // stdout holds output back: wake for it too, while the
                // reactor (children, timers, and signals through its waker)
                // is watched as usual; and, after a stop signal, for the end
                // of the patience with a stdout that takes nothing.
                let mut wake = earliest(self.reactor.next_timeout(), self.until_kill());
                if let Some(p) = self.patience().filter(|_| !self.state.printer.dropping()) {
                    wake = Some(wake.map_or(p, |t| t.min(p)));
                }
                self.state
                    .printer
                    .wait_with(self.reactor.as_fd(), wake)
                    .map_err(|e| Failure::Runtime(format!("poll failed: {e}")))?;
                timeout = Some(Duration::ZERO);
            }
            let timeout = earliest(timeout, self.until_kill());
            let state = &mut self.state;
            self.reactor
                .poll(timeout, |ctl, ev| state.on_event(ctl, ev))
                .map_err(|e| Failure::Runtime(format!("epoll failed: {e}")))?;
            self.state.printer.flush();
            while let Ok(sig) = self.signals.try_recv() {
                self.on_signal(sig);
            }
            if self.until_kill() == Some(Duration::ZERO) {
                self.kill_at = None;
                self.kill_all("the grace ended");
            }
            if self.shutdown.is_none() {
                if let Some((closed, why)) = self.state.printer.broken() {
                    let status = if closed {
                        BROKEN_PIPE
                    } else {
                        self.write_failed()
                    };
                    self.stop_all(status, &why);
                }
            }
            if self.shutdown.is_none() && self.state.exit_with_first {
                if let Some((i, status)) = self.state.first_ended {
                    // Checked after the whole batch of events: a second
                    // child that ended in the same poll is not stopped, and
                    // its own ending changes nothing of the status.
                    let why = format!("{} ended", self.state.children[i].name);
                    self.stop_all(status, &why);
                }
            }
            if self.patience() == Some(Duration::ZERO) && !self.state.printer.dropping() {
                // Children paused for a stdout that stopped taking output
                // would never be seen to exit: what it does not take is
                // dropped from now on.
                self.state.printer.drop_when_behind();
                self.resume_all();
            }
            if self.state.printer.caught_up() {
                self.resume_all();
            }
        }
        self.drain_stdout()?;
        if self.shutdown.is_none() {
            // A write that failed only while draining the last output.
            if let Some((closed, _)) = self.state.printer.broken() {
                self.shutdown = Some(if closed {
                    BROKEN_PIPE
                } else {
                    self.write_failed()
                });
            }
        }
        let dropped = self.state.printer.dropped();
        if dropped > 0 {
            self.state.printer.error(format_args!(
                "{dropped} bytes of output dropped: stdout was not taking them"
            ));
        }
        Ok(match self.shutdown {
            Some(status) => Ending::status(status),
            None => Ending {
                status: self.state.failure.unwrap_or(0),
                died_of: self.state.died_of,
            },
        })
    }

    /// How much longer output may wait for stdout (and stderr) to take it:
    /// without limit while nothing is stopping (a reader that does not read
    /// holds the children back, as in any pipeline); once a stop began (a
    /// signal, `--exit-with-first`, a closed stdout), until they have taken
    /// nothing for the grace period; none after a second signal: the user
    /// asked procrun to end, and a reader that stopped reading must not
    /// keep it alive.
    fn patience(&self) -> Option<Duration> {
        if self.signalled.is_some_and(|(_, n)| n > 1) {
            return Some(Duration::ZERO);
        }
        let at = self.stopping_since?;
        let since = self.state.printer.last_progress().max(at);
        Some(self.grace.saturating_sub(since.elapsed()))
    }

    /// Writes what stdout still owes once every child is gone, giving up
    /// when the patience ends.
    fn drain_stdout(&mut self) -> Result<(), Failure> {
        while self.state.printer.waiting() {
            let patience = self.patience();
            if patience == Some(Duration::ZERO) {
                self.state.printer.give_up();
                break;
            }
            self.state
                .printer
                .wait_with(self.reactor.as_fd(), patience)
                .map_err(|e| Failure::Runtime(format!("poll failed: {e}")))?;
            // Takes the waker's wake-up off the reactor's fd, which would
            // otherwise stay readable.
            self.reactor
                .poll(Some(Duration::ZERO), |_, _| {})
                .map_err(|e| Failure::Runtime(format!("epoll failed: {e}")))?;
            self.state.printer.flush();
            while let Ok(sig) = self.signals.try_recv() {
                self.on_signal(sig);
            }
        }
        Ok(())
    }

    /// The status for output that could not be written: procrun failed.
    fn write_failed(&self) -> u8 {
        if self.state.raw {
            CANCELED
        } else {
            WRITE_FAILED
        }
    }

    /// How long until `kill_at`, if it is set.
    fn until_kill(&self) -> Option<Duration> {
        self.kill_at
            .map(|t| t.saturating_duration_since(Instant::now()))
    }

    /// `--raw`: a signal taken as coreutils `timeout` takes it. SIGALRM is
    /// the timeout, now: a stop as the timeout's, statuses 124 or 137.
    /// Any other is sent to the children as it is (not the stop signal:
    /// INT stays INT) and their status stays theirs; those it does not
    /// end get SIGKILL after the grace, as `timeout -k` sends it, and
    /// none of them is restarted.
    fn forward(&mut self, sig: Signal) {
        self.stopping_since.get_or_insert_with(Instant::now);
        let live: Vec<(ChildId, bool)> = self
            .state
            .children
            .iter()
            .filter(|c| !c.done)
            .map(|c| (c.id, c.awaiting_restart))
            .collect();
        if sig == Signal::ALRM {
            if !self.state.alarmed {
                self.state.alarmed = true;
                self.state
                    .printer
                    .info(format_args!("{sig} received: timing out now"));
                for (id, _) in live {
                    let _ = self.reactor.stop(id);
                }
            }
            return;
        }
        self.state.end_restarts = true;
        if self.kill_at.is_none() {
            // A grace past any clock is no SIGKILL at all.
            self.kill_at = Instant::now().checked_add(self.grace);
        }
        self.state
            .printer
            .info(format_args!("{sig} received: forwarding it"));
        for (id, awaiting_restart) in live {
            let sent = if awaiting_restart {
                // No run to send it to: the restart is what it cancels.
                self.reactor.stop(id)
            } else {
                self.reactor.signal(id, sig)
            };
            match sent {
                Ok(()) | Err(Error::UnknownChild) => {}
                Err(e) => self
                    .state
                    .printer
                    .error(format_args!("cannot forward {sig}: {}", describe(&e))),
            }
        }
    }

    /// SIGKILL to every child still alive.
    fn kill_all(&mut self, why: &str) {
        self.state.printer.info(format_args!("{why}: killing now"));
        self.state.killed = true;
        for c in self.state.children.iter().filter(|c| !c.done) {
            match self.reactor.kill(c.id) {
                // Gone since: nothing left to kill.
                Ok(()) | Err(Error::UnknownChild) => {}
                Err(e) => self
                    .state
                    .printer
                    .error(format_args!("cannot kill {}: {e}", c.name)),
            }
        }
    }

    fn on_signal(&mut self, sig: Signal) {
        if self.state.raw {
            self.forward(sig);
            return;
        }
        let count = self.signalled.map_or(0, |(_, n)| n) + 1;
        self.signalled = Some((Instant::now(), count));
        if self.shutdown.is_none() {
            let status = 128u8.saturating_add(sig.as_raw() as u8);
            self.stop_all(status, &format!("{sig} received"));
            return;
        }
        if count == 1 {
            // The first signal, during a stop procrun started itself
            // (--exit-with-first, a closed stdout): it asks for the stop
            // under way, with its grace; the second one kills.
            self.state.printer.info(format_args!(
                "{sig} received: already stopping (a second signal kills at once)"
            ));
            return;
        }
        self.kill_all(&format!("{sig} received again"));
    }

    /// Reads paused children again.
    fn resume_all(&mut self) {
        for c in self.state.children.iter_mut().filter(|c| c.paused) {
            c.paused = false;
            // A stale id is a child already gone: nothing to resume.
            let _ = self.reactor.resume(c.id);
        }
    }

    fn stop_all(&mut self, status: u8, why: &str) {
        self.shutdown = Some(status);
        self.stopping_since.get_or_insert_with(Instant::now);
        // Children stay paused while stdout is behind, as before the stop:
        // their last output is kept as long as stdout takes it (see
        // `patience`).
        let live: Vec<ChildId> = self
            .state
            .children
            .iter()
            .filter(|c| !c.done)
            .map(|c| c.id)
            .collect();
        if live.is_empty() {
            // Everyone ended together: nothing to stop, nothing to say.
            return;
        }
        self.state.printer.info(format_args!(
            "{why}: stopping {} process{} (SIGKILL after {})",
            live.len(),
            if live.len() == 1 { "" } else { "es" },
            Human(self.grace)
        ));
        for id in live {
            // A child between its exit and its Done has nothing to stop.
            let _ = self.reactor.stop(id);
        }
    }
}

/// The sooner of two optional timeouts (`None`: none).
fn earliest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_name_is_the_file_name() {
        assert_eq!(base_name(OsStr::new("/usr/bin/python3")), "python3");
        assert_eq!(base_name(OsStr::new("echo")), "echo");
        assert_eq!(base_name(OsStr::new("./run.sh")), "run.sh");
    }
}
