//! What the command line asks for, once checked: the values `run`,
//! `start`, `ps`, `completions` and `man` take. The rest of the tool reads
//! these, never clap's definition (`defs.rs`); `parse.rs` makes them.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;
use procrun::procfs::State;
use procrun::Signal;

/// What the command line asks procrun to do.
#[derive(Debug)]
pub enum Request {
    Run(RunArgs),
    /// `start`: a Procfile's entries, run as `run --name ... --exit-with-first`.
    Start(RunArgs),
    Ps(PsArgs),
    Completions(clap_complete::Shell),
    /// `man`: procrun's page, or a subcommand's.
    Man(Option<String>),
    /// `--help`, `--version`: clap's text, printed as it is (exit status 0).
    Print(clap::Error),
}

/// What `run` starts.
#[derive(Debug, PartialEq)]
pub enum What {
    /// A program and its arguments.
    Program(Vec<OsString>),
    /// `bash FILE`.
    Script(PathBuf),
    /// `bash -c COMMAND` for each (name, command).
    Named(Vec<(String, OsString)>),
    /// `bash -c COMMAND` for each entry of a Procfile (`start`).
    Procfile {
        file: PathBuf,
        /// `-d DIR`, where the entries run and `.env` is; `None`: the
        /// Procfile's directory, as foreman has it.
        root: Option<PathBuf>,
        /// `-e FILE`; `None`: the root's `.env` when there is one.
        env_file: Option<PathBuf>,
        /// The entries to run, by name; all of them when empty.
        only: Vec<String>,
    },
}

#[derive(Debug)]
pub struct RunArgs {
    pub what: What,
    pub timeout: Option<Duration>,
    /// `None`: the library's default, SIGTERM.
    pub stop_signal: Option<Signal>,
    pub grace: Duration,
    pub restart: Option<RestartWhen>,
    pub restart_limit: u32,
    pub restart_interval: Duration,
    pub backoff: bool,
    pub detached: bool,
    pub cgroup: Option<PathBuf>,
    pub memory_max: Option<u64>,
    pub pids_max: Option<u64>,
    /// Percent of one CPU.
    pub cpu_max: Option<u32>,
    pub kill_on_parent_death: bool,
    /// `--user`, `--group`, as given (resolved when the commands are made).
    pub user: Option<String>,
    pub group: Option<String>,
    pub nice: Option<i32>,
    pub oom_score_adj: Option<i32>,
    pub rlimits: Vec<(procrun::Resource, u64, u64)>,
    pub umask: Option<u32>,
    pub env: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub max_line: Option<usize>,
    pub output: Option<PathBuf>,
    pub timestamps: Option<Timestamps>,
    pub color: ColorWhen,
    /// `--stdin inherit`: the children share procrun's stdin.
    pub stdin_inherit: bool,
    pub quiet: bool,
    pub preserve_status: bool,
    /// When the first process ends for good, stop the others (foreman).
    pub exit_with_first: bool,
    /// `--raw`: the output passed through byte for byte, signals
    /// forwarded, as coreutils `timeout`.
    pub raw: bool,
    /// `-v`: notes printed even with `--raw`.
    pub verbose: bool,
    pub format: Format,
}

#[derive(Debug, Default, PartialEq)]
pub struct PsArgs {
    pub state: Option<State>,
    pub name: Option<String>,
    pub exact: bool,
    pub count: bool,
    pub format: PsFormat,
}

/// How `ps` prints a listing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PsFormat {
    /// PID, STATE, COMM under a header.
    #[default]
    Table,
    /// `-o pid`: the pids alone, one per line, as `pgrep` prints them.
    Pids,
    /// `--json`: an array of objects.
    Json,
}

/// The cap of `--backoff`: doubling a 5 s interval reaches it after four
/// restarts; a crash loop is then retried once a minute.
pub const BACKOFF_CAP: Duration = Duration::from_secs(60);

/// When `run` restarts a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RestartWhen {
    OnError,
    Always,
}

/// What `--timestamps` puts before each line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Timestamps {
    /// Seconds since procrun started.
    Elapsed,
    /// The time of day, RFC 3339 in UTC.
    Wall,
}

/// `--format`: how lines and notes are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `NAME | line` on stdout, `NAME * note` on stderr.
    Text,
    /// One JSON object per line and per note, on stdout.
    Json,
}

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless `TERM=dumb` or `NO_COLOR` says otherwise.
    Auto,
    Always,
    Never,
}
