//! The command line's one definition, in clap: the parser, `--help`, the
//! shell completions and the man page all come from it, so they cannot
//! disagree. What the values mean, once checked, is `config.rs`'s.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use procrun::procfs::State;
use procrun::Signal;

use crate::flags::config::{ColorWhen, Format, RestartWhen, Timestamps};
use crate::flags::duration::parse_duration;
use crate::flags::usage;
use crate::flags::values::{
    parse_max_line, parse_named, parse_nice, parse_oom_score_adj, parse_percent, parse_pids,
    parse_rlimit, parse_signal, parse_size, parse_state, parse_umask, Named,
};
use procrun::Resource;

/// Run and supervise commands, or look at the host's processes.
#[derive(Debug, Parser)]
#[command(name = "procrun", version, subcommand_required = true)]
#[command(after_help = usage::AFTER)]
pub struct CommandLine {
    #[command(subcommand)]
    pub command: Sub,
}

#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Run commands, print their output line by line, stop them on Ctrl-C
    ///
    /// Runs a PROGRAM (after '--', or from the first argument that is not an
    /// option), a bash script (--script FILE: runs 'bash FILE'), or named
    /// bash command lines, all at once (--name NAME=COMMAND: runs 'bash -c
    /// COMMAND').
    #[command(after_help = usage::RUN_AFTER)]
    Run(RunFlags),
    /// Run a Procfile's entries as foreman does, stopping all when one ends
    ///
    /// Each line 'name: command' runs 'bash -c command' with its output
    /// prefixed by the name; when one ends (for good: after its restarts),
    /// the others are stopped (the stop signal, SIGKILL after the grace) and
    /// procrun exits with the status of the one that ended.
    #[command(after_help = usage::START_AFTER)]
    Start(StartFlags),
    /// Look at the host's processes through /proc (or $HOST_PROC)
    ///
    /// With no option, counts processes by state.
    #[command(after_help = usage::PS_AFTER)]
    Ps(PsFlags),
    /// Print a completion script for SHELL to stdout
    #[command(after_help = usage::COMPLETIONS_AFTER)]
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print procrun's man page (roff) to stdout, or a subcommand's
    #[command(after_help = usage::MAN_AFTER)]
    Man {
        /// The subcommand whose page to print (procrun-COMMAND(1))
        #[arg(value_name = "COMMAND", value_parser = ["run", "start", "ps", "completions", "man"])]
        command: Option<String>,
    },
}

/// What `run` and `start` share: how processes are run, stopped, restarted
/// and printed.
#[derive(Debug, Args)]
pub struct Supervise {
    /// Stop each process after this long, restarts included (0: no
    /// timeout); exit status 124
    #[arg(short = 't', long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// The signal a stop (timeout, Ctrl-C) starts with: a name or number as
    /// 'kill' takes it (TERM, SIGINT, 9); 0 sends nothing (but SIGCONT, as
    /// timeout), so the process is killed when the grace (-k, 3s unless
    /// given) ends, where timeout without -k lets it run on [default: TERM]
    #[arg(short = 's', long, value_name = "SIGNAL", value_parser = parse_signal)]
    pub signal: Option<Signal>,
    /// Time between the stop signal and SIGKILL on a stop
    #[arg(
        short = 'k',
        long = "kill-after",
        visible_alias = "grace",
        value_name = "DURATION",
        default_value = "3s",
        value_parser = parse_duration
    )]
    pub grace: Duration,
    /// After a timeout, exit with the process's own status rather than 124
    /// or 137
    #[arg(long)]
    pub preserve_status: bool,
    /// Restart a process: 'on-error' when it fails (non-zero exit, or
    /// killed), 'always' whenever it ends; never after a stop or a timeout
    #[arg(long, value_name = "WHEN", value_enum)]
    pub restart: Option<RestartWhen>,
    /// The same as --restart on-error
    #[arg(long)]
    pub restart_on_error: bool,
    /// At most N restarts, 0 for no limit [default: 0]
    #[arg(long, value_name = "N")]
    pub restart_limit: Option<u32>,
    /// Delay before a restart [default: 5s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub restart_interval: Option<Duration>,
    /// Double the delay after each restart, up to 60s (--restart-limit,
    /// --restart-interval and --backoff imply --restart on-error unless
    /// --restart is given)
    #[arg(long)]
    pub backoff: bool,
    /// Keep processes in procrun's process group; a stop signals the process
    /// alone, not what it started
    #[arg(long)]
    pub detached: bool,
    /// Run each process in a cgroup of its own below the cgroup v2
    /// directory PARENT: a stop kills all it started, daemons included.
    /// `auto`: the cgroup delegated to procrun (a systemd unit with
    /// Delegate=yes, `systemd-run --scope -p Delegate=yes`): procrun moves
    /// itself into a leaf below it and runs each process beside that leaf
    /// (`./auto` names a directory called auto)
    #[arg(long, value_name = "PARENT", value_hint = clap::ValueHint::DirPath)]
    pub cgroup: Option<PathBuf>,
    /// Limit each process's cgroup to this much memory, all it started
    /// included (memory.max; K, M, G, T are powers of 1024): past it the
    /// kernel OOM-kills the whole run; needs --cgroup
    #[arg(long, value_name = "BYTES", value_parser = parse_size, requires = "cgroup")]
    pub memory_max: Option<u64>,
    /// Limit each process's cgroup to N processes and threads (pids.max);
    /// needs --cgroup
    #[arg(long, value_name = "N", value_parser = parse_pids, requires = "cgroup")]
    pub pids_max: Option<u64>,
    /// Limit each process's cgroup to this share of one CPU, as systemd's
    /// CPUQuota= (cpu.max: '50%' is half a core, '200%' two); needs
    /// --cgroup
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent, requires = "cgroup")]
    pub cpu_max: Option<u32>,
    /// Kill each process (SIGKILL) if procrun dies; only the process
    /// itself is signalled, not what it started
    #[arg(long)]
    pub kill_on_parent_death: bool,
    /// Run the processes as this user (procrun must be root): a name of
    /// /etc/passwd brings its group and the groups /etc/group lists it in,
    /// as login does; a number not in /etc/passwd needs --group. Names of
    /// other account databases (LDAP, sssd) are not looked up: give
    /// numbers
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Run the processes with this group (a name of /etc/group or a
    /// number), instead of the user's own
    #[arg(long, value_name = "GROUP")]
    pub group: Option<String>,
    /// Run the processes at this nice value, -20 (first served) to 19
    /// (last); below procrun's own needs root
    #[arg(long, value_name = "N", value_parser = parse_nice, allow_negative_numbers = true)]
    pub nice: Option<i32>,
    /// The processes' oom_score_adj, -1000 (never OOM-killed) to 1000
    /// (killed first): 1000 makes them die before procrun
    #[arg(long, value_name = "N", value_parser = parse_oom_score_adj, allow_negative_numbers = true)]
    pub oom_score_adj: Option<i32>,
    /// A resource limit of the processes, as systemd's LimitNOFILE=: NAME
    /// is NOFILE, CORE, AS, CPU, NPROC, FSIZE, DATA, STACK, MEMLOCK, …; one
    /// value sets the soft and hard limit, SOFT:HARD each; 'infinity' is
    /// no limit (repeatable)
    #[arg(long, value_name = "NAME=SOFT[:HARD]", value_parser = parse_rlimit)]
    pub rlimit: Vec<(Resource, u64, u64)>,
    /// The processes' umask, in octal (027)
    #[arg(long, value_name = "MASK", value_parser = parse_umask)]
    pub umask: Option<u32>,
    /// Working directory of the processes
    #[arg(short = 'C', long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub cwd: Option<PathBuf>,
    /// Print longer lines in pieces of BYTES [default: 65536]
    #[arg(long, value_name = "BYTES", value_parser = parse_max_line)]
    pub max_line: Option<usize>,
    /// 'null': every process reads /dev/null, so 'echo hi | procrun run --
    /// cat' prints nothing; 'inherit': they share procrun's stdin, which
    /// must not be a terminal (each process runs in a process group of its
    /// own, which a terminal stops at its first read)
    #[arg(long, value_name = "WHEN", value_enum, default_value = "null")]
    pub stdin: StdinWhen,
    /// Append the lines ('NAME | line', 'NAME ! line') to FILE instead of
    /// printing them; notes stay on stderr
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub output: Option<PathBuf>,
    /// Prefix each line and note with a time: 'elapsed' (the default),
    /// seconds since procrun started; 'wall', the time of day in UTC (RFC
    /// 3339: 2024-05-01T09:30:00.250Z). The value only after '=': a
    /// program may follow
    #[arg(
        long,
        value_name = "WHEN",
        value_enum,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "elapsed"
    )]
    pub timestamps: Option<Timestamps>,
    /// Colour the prefixes: 'auto' when the stream is a terminal, TERM is
    /// not 'dumb' and NO_COLOR is unset or empty
    #[arg(
        long,
        alias = "colour",
        value_name = "WHEN",
        value_enum,
        default_value = "auto"
    )]
    pub color: ColorWhen,
    /// Print neither output nor start/exit notes
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// 'text': 'NAME | line' on stdout, notes on stderr; 'json': one JSON
    /// object a line for every line and every note, all on stdout (or
    /// --output); procrun's errors stay text on stderr
    #[arg(
        long,
        value_name = "FORMAT",
        value_enum,
        default_value = "text",
        conflicts_with = "timestamps"
    )]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct RunFlags {
    #[command(flatten)]
    pub supervise: Supervise,
    /// Set an environment variable (repeatable)
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Run 'bash FILE'
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub script: Option<PathBuf>,
    /// Run 'bash -c COMMAND' with its lines prefixed by NAME (repeatable:
    /// all at once)
    #[arg(long = "name", value_name = "NAME=COMMAND", value_parser = parse_named)]
    pub named: Vec<Named>,
    /// Pass the process's stdout and stderr through to procrun's, byte for
    /// byte (no prefixes, no notes), and take signals as coreutils
    /// 'timeout' does: each forwarded to the process as it is, SIGALRM
    /// times it out now; procrun's own failures exit 125
    #[arg(
        long,
        conflicts_with_all = ["named", "output", "timestamps", "format"]
    )]
    pub raw: bool,
    /// With --raw: print the start, exit and signal notes on stderr
    #[arg(short = 'v', long, requires = "raw")]
    pub verbose: bool,
    /// When one process ends (for good: after its restarts), stop the
    /// others as on Ctrl-C and exit with its status, as foreman does;
    /// without it procrun waits for all
    #[arg(long)]
    pub exit_with_first: bool,
    /// The program and its arguments, its own options included
    #[arg(
        value_name = "PROGRAM",
        trailing_var_arg = true,
        value_hint = clap::ValueHint::CommandWithArguments
    )]
    pub program: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct StartFlags {
    /// The Procfile [default: Procfile, in the root when --root is given]
    #[arg(short = 'f', long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub procfile: Option<PathBuf>,
    /// The application's root, as foreman's: the entries run there and
    /// its .env is read [default: the Procfile's directory]
    #[arg(short = 'd', long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub root: Option<PathBuf>,
    /// Set every entry's environment from FILE [default: .env in the root,
    /// when there is one]
    #[arg(short = 'e', long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub env_file: Option<PathBuf>,
    #[command(flatten)]
    pub supervise: Supervise,
    /// Run only these entries [default: all of them]
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PsFlags {
    /// List the processes in STATE (a name or its /proc letter)
    #[arg(long, value_name = "STATE", value_parser = parse_state)]
    pub state: Option<State>,
    /// Every process whose name contains NAME, procrun itself never among
    /// them (exit status 1 when there is none, as pgrep)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// With --name: whether a process called exactly NAME runs (exit status
    /// 0 if so, 1 if not)
    #[arg(long)]
    pub exact: bool,
    /// Count the processes (those in STATE, or named, when given)
    #[arg(long)]
    pub count: bool,
    /// 'pid': the pids alone, one per line, for scripts; 'table': PID,
    /// STATE, COMM under a header
    #[arg(short = 'o', long, value_name = "FORMAT", value_enum)]
    pub output: Option<PsOutput>,
    /// A JSON array of objects: pid, state, comm
    #[arg(long)]
    pub json: bool,
}

/// `--stdin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StdinWhen {
    Null,
    Inherit,
}

/// `ps -o`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PsOutput {
    Pid,
    Table,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_definition_is_consistent() {
        CommandLine::command().debug_assert();
    }
}
