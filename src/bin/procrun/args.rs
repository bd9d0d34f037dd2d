//! The command line, parsed by hand: two subcommands and a few options do
//! not need a parser crate.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use procrun::procfs::State;
use procrun::Signal;

use crate::duration::parse_duration;
use crate::usage::{PS_USAGE, RUN_USAGE, START_USAGE, USAGE};

/// What the command line asks for.
#[derive(Debug)]
pub enum Cli {
    Run(RunArgs),
    /// `start`: a Procfile's entries, run as `run --name ... --exit-with-first`.
    Start(RunArgs),
    Ps(PsArgs),
    Help(&'static str),
    Version,
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
        /// `-e FILE`; `None`: `.env` when there is one.
        env_file: Option<PathBuf>,
        /// The entries to run, by name; all of them when empty.
        only: Vec<String>,
    },
}

/// When `run` restarts a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartWhen {
    OnError,
    Always,
}

/// What `--timestamps` puts before each line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timestamps {
    /// Seconds since procrun started.
    Elapsed,
    /// The time of day, RFC 3339 in UTC.
    Wall,
}

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorWhen {
    /// On a terminal, unless `TERM=dumb` or `NO_COLOR` says otherwise.
    Auto,
    Always,
    Never,
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
    pub kill_on_parent_death: bool,
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

/// Parses the arguments after the program name. The error is the one line
/// to print after `procrun: `.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Cli, String> {
    let mut args = args.into_iter();
    let Some(first) = args.next() else {
        return Err("no command given; see 'procrun --help'".into());
    };
    match first.to_str() {
        Some("run") => parse_run(args.collect(), "run"),
        Some("start") => parse_run(args.collect(), "start"),
        Some("ps") => parse_ps(args.collect()),
        Some("-h" | "--help") => Ok(Cli::Help(USAGE)),
        Some("help") => match args.next().as_deref().and_then(OsStr::to_str) {
            Some("run") => Ok(Cli::Help(RUN_USAGE)),
            Some("start") => Ok(Cli::Help(START_USAGE)),
            Some("ps") => Ok(Cli::Help(PS_USAGE)),
            _ => Ok(Cli::Help(USAGE)),
        },
        Some("-V" | "--version") => Ok(Cli::Version),
        _ if first.as_bytes().starts_with(b"-") => Err(format!(
            "unknown option '{}'; see 'procrun --help'",
            first.to_string_lossy()
        )),
        _ => Err(format!(
            "unknown command '{}'; see 'procrun --help'",
            first.to_string_lossy()
        )),
    }
}

/// Walks options: `--flag`, `--flag VALUE`, `--flag=VALUE`, `-f VALUE`
/// and `-fVALUE` (as `timeout -sKILL`).
struct Opts {
    args: std::vec::IntoIter<OsString>,
    cmd: &'static str,
    /// The short flags that take a value, so may have it attached.
    short_values: &'static str,
    /// Every long flag, for suggestions on a typo.
    known: &'static [&'static str],
}

impl Opts {
    /// The next option as (flag, inline value), or the argument itself when
    /// it is not an option (`Err`).
    fn next(&mut self) -> Option<Result<(String, Option<OsString>), OsString>> {
        let arg = self.args.next()?;
        let bytes = arg.as_bytes();
        if !bytes.starts_with(b"-") || bytes == b"-" || bytes == b"--" {
            return Some(Err(arg));
        }
        let (flag, value) = match bytes.iter().position(|&b| b == b'=') {
            Some(i) if bytes.starts_with(b"--") => (
                &bytes[..i],
                Some(OsStr::from_bytes(&bytes[i + 1..]).to_owned()),
            ),
            // `-timeout` is a long flag with a dash missing, not `-t imeout`.
            _ if bytes.len() > 2
                && bytes[1] != b'-'
                && self.short_values.as_bytes().contains(&bytes[1])
                && !self.known.iter().any(|k| k.as_bytes()[1..] == *bytes) =>
            {
                (&bytes[..2], Some(OsStr::from_bytes(&bytes[2..]).to_owned()))
            }
            _ => (bytes, None),
        };
        Some(Ok((String::from_utf8_lossy(flag).into_owned(), value)))
    }

    fn value(&mut self, flag: &str, inline: Option<OsString>) -> Result<OsString, String> {
        inline
            .or_else(|| self.args.next())
            .ok_or_else(|| format!("{}: {flag} needs a value", self.cmd))
    }

    fn str_value(&mut self, flag: &str, inline: Option<OsString>) -> Result<String, String> {
        let v = self.value(flag, inline)?;
        v.into_string()
            .map_err(|v| format!("{}: {flag} {:?} is not UTF-8", self.cmd, v))
    }

    fn duration(&mut self, flag: &str, inline: Option<OsString>) -> Result<Duration, String> {
        let v = self.str_value(flag, inline)?;
        parse_duration(&v).map_err(|e| format!("{}: {flag}: {e}", self.cmd))
    }

    fn signal(&mut self, flag: &str, inline: Option<OsString>) -> Result<Signal, String> {
        let v = self.str_value(flag, inline)?;
        v.parse().map_err(|e| format!("{}: {flag}: {e}", self.cmd))
    }

    fn number<T: std::str::FromStr>(
        &mut self,
        flag: &str,
        inline: Option<OsString>,
    ) -> Result<T, String> {
        let v = self.str_value(flag, inline)?;
        v.parse()
            .map_err(|_| format!("{}: {flag}: '{v}' is not a number", self.cmd))
    }

    fn no_value(&self, flag: &str, inline: Option<OsString>) -> Result<(), String> {
        match inline {
            None => Ok(()),
            Some(_) => Err(format!("{}: {flag} takes no value", self.cmd)),
        }
    }

    fn unknown(&self, flag: &str) -> String {
        let cmd = self.cmd;
        match suggest(flag, self.known) {
            Some(near) => format!(
                "{cmd}: unknown option '{flag}'; did you mean {near}? (see 'procrun {cmd} --help')"
            ),
            None => format!("{cmd}: unknown option '{flag}'; see 'procrun {cmd} --help'"),
        }
    }
}

/// The known flag nearest to `flag` (dashes aside) if it is at most two
/// edits away: a typo rather than another word. Names of one or two
/// letters are never corrected: everything is near them.
fn suggest(flag: &str, known: &[&'static str]) -> Option<&'static str> {
    let bare = flag.trim_start_matches('-');
    if bare.chars().count() < 3 {
        return None;
    }
    known
        .iter()
        .map(|k| (edit_distance(bare, k.trim_start_matches('-')), *k))
        .filter(|&(d, _)| d <= 2)
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// Levenshtein distance, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// `run`'s long flags (what `suggest` chooses from).
const RUN_FLAGS: &[&str] = &[
    "--help",
    "--timeout",
    "--signal",
    "--kill-after",
    "--grace",
    "--preserve-status",
    "--restart",
    "--restart-on-error",
    "--restart-limit",
    "--restart-interval",
    "--backoff",
    "--detached",
    "--cgroup",
    "--kill-on-parent-death",
    "--env",
    "--cwd",
    "--max-line",
    "--output",
    "--timestamps",
    "--color",
    "--stdin",
    "--quiet",
    "--script",
    "--name",
    "--exit-with-first",
];

/// `start`'s long flags: `run`'s but for what names the commands (and
/// `--env`, as `-e` is foreman's `.env` file here).
const START_FLAGS: &[&str] = &[
    "--help",
    "--procfile",
    "--env-file",
    "--timeout",
    "--signal",
    "--kill-after",
    "--grace",
    "--preserve-status",
    "--restart",
    "--restart-on-error",
    "--restart-limit",
    "--restart-interval",
    "--backoff",
    "--detached",
    "--cgroup",
    "--kill-on-parent-death",
    "--cwd",
    "--max-line",
    "--output",
    "--timestamps",
    "--color",
    "--stdin",
    "--quiet",
];

/// `ps`'s long flags.
const PS_FLAGS: &[&str] = &[
    "--help", "--state", "--name", "--exact", "--count", "--output", "--json",
];

/// `run`'s options, or `start`'s (`cmd`): the same but for what names the
/// commands to run.
fn parse_run(args: Vec<OsString>, cmd: &'static str) -> Result<Cli, String> {
    let start = cmd == "start";
    let mut o = Opts {
        args: args.into_iter(),
        cmd,
        short_values: if start { "tskfeC" } else { "tskeC" },
        known: if start { START_FLAGS } else { RUN_FLAGS },
    };
    let mut a = RunArgs {
        what: What::Named(Vec::new()),
        timeout: None,
        stop_signal: None,
        grace: Duration::from_secs(3),
        restart: None,
        restart_limit: 0,
        restart_interval: Duration::from_secs(5),
        backoff: false,
        detached: false,
        cgroup: None,
        kill_on_parent_death: false,
        env: Vec::new(),
        cwd: None,
        max_line: None,
        output: None,
        timestamps: None,
        color: ColorWhen::Auto,
        stdin_inherit: false,
        quiet: false,
        preserve_status: false,
        exit_with_first: start,
    };
    let mut procfile: Option<PathBuf> = None;
    let mut env_file: Option<PathBuf> = None;
    let mut only: Vec<String> = Vec::new();
    let mut program: Option<Vec<OsString>> = None;
    let mut script: Option<PathBuf> = None;
    let mut named: Vec<(String, OsString)> = Vec::new();
    while let Some(next) = o.next() {
        let (flag, inline) = match next {
            Ok(opt) => opt,
            Err(arg) if start => {
                if arg == "--" {
                    return Err("start: '--' takes no program here; name Procfile entries".into());
                }
                let name = arg
                    .into_string()
                    .map_err(|a| format!("start: entry name {a:?} is not UTF-8"))?;
                if !only.contains(&name) {
                    only.push(name);
                }
                continue;
            }
            Err(arg) => {
                // `--` or the first argument that is not an option: the
                // rest is the program's, options included.
                let mut argv: Vec<OsString> = Vec::new();
                if arg != "--" {
                    argv.push(arg);
                }
                argv.extend(o.args.by_ref());
                if argv.is_empty() {
                    return Err("run: no program after '--'".into());
                }
                program = Some(argv);
                break;
            }
        };
        match flag.as_str() {
            "-h" | "--help" if start => return Ok(Cli::Help(START_USAGE)),
            "-h" | "--help" => return Ok(Cli::Help(RUN_USAGE)),
            "-f" | "--procfile" if start => procfile = Some(o.value(&flag, inline)?.into()),
            "-e" | "--env-file" if start => env_file = Some(o.value(&flag, inline)?.into()),
            "--env" | "--script" | "--name" | "--exit-with-first" if start => {
                return Err(o.unknown(&flag))
            }
            "--exit-with-first" => {
                o.no_value(&flag, inline)?;
                a.exit_with_first = true;
            }
            "-t" | "--timeout" => {
                let d = o.duration(&flag, inline)?;
                a.timeout = (!d.is_zero()).then_some(d);
            }
            "-k" | "--kill-after" | "--grace" => a.grace = o.duration(&flag, inline)?,
            "-s" | "--signal" => a.stop_signal = Some(o.signal(&flag, inline)?),
            "--restart" => {
                a.restart = Some(match o.str_value(&flag, inline)?.as_str() {
                    "on-error" => RestartWhen::OnError,
                    "always" => RestartWhen::Always,
                    v => return Err(format!("run: --restart '{v}': use 'on-error' or 'always'")),
                });
            }
            "--restart-on-error" => {
                o.no_value(&flag, inline)?;
                a.restart = Some(RestartWhen::OnError);
            }
            "--restart-limit" => {
                a.restart_limit = o.number(&flag, inline)?;
                a.restart.get_or_insert(RestartWhen::OnError);
            }
            "--restart-interval" => {
                a.restart_interval = o.duration(&flag, inline)?;
                a.restart.get_or_insert(RestartWhen::OnError);
            }
            "--backoff" => {
                o.no_value(&flag, inline)?;
                a.backoff = true;
                a.restart.get_or_insert(RestartWhen::OnError);
            }
            "--detached" => {
                o.no_value(&flag, inline)?;
                a.detached = true;
            }
            "--cgroup" => a.cgroup = Some(o.value(&flag, inline)?.into()),
            "--kill-on-parent-death" => {
                o.no_value(&flag, inline)?;
                a.kill_on_parent_death = true;
            }
            "-e" | "--env" => a.env.push(o.str_value(&flag, inline)?),
            "-C" | "--cwd" => a.cwd = Some(o.value(&flag, inline)?.into()),
            "--max-line" => {
                let n: usize = o.number(&flag, inline)?;
                if n == 0 {
                    return Err("run: --max-line must be at least 1".into());
                }
                a.max_line = Some(n);
            }
            "--output" => a.output = Some(o.value(&flag, inline)?.into()),
            // The value only inline: `--timestamps wall` would be ambiguous
            // with a program called `wall`.
            "--timestamps" => {
                a.timestamps = Some(match inline.as_ref().map(|v| v.to_str()) {
                    None | Some(Some("elapsed")) => Timestamps::Elapsed,
                    Some(Some("wall")) => Timestamps::Wall,
                    Some(v) => {
                        return Err(format!(
                            "run: --timestamps={}: use --timestamps, --timestamps=elapsed \
                             or --timestamps=wall",
                            v.unwrap_or("?")
                        ))
                    }
                });
            }
            "--color" | "--colour" => {
                a.color = match o.str_value(&flag, inline)?.as_str() {
                    "auto" => ColorWhen::Auto,
                    "always" => ColorWhen::Always,
                    "never" => ColorWhen::Never,
                    v => {
                        return Err(format!(
                            "run: --color '{v}': use 'auto', 'always' or 'never'"
                        ))
                    }
                };
            }
            "--stdin" => {
                a.stdin_inherit = match o.str_value(&flag, inline)?.as_str() {
                    "inherit" => true,
                    "null" => false,
                    v => return Err(format!("run: --stdin '{v}': use 'inherit' or 'null'")),
                };
            }
            "--preserve-status" => {
                o.no_value(&flag, inline)?;
                a.preserve_status = true;
            }
            "--quiet" | "-q" => {
                o.no_value(&flag, inline)?;
                a.quiet = true;
            }
            "--script" => {
                if script.is_some() {
                    return Err("run: --script given twice".into());
                }
                script = Some(o.value(&flag, inline)?.into());
            }
            "--name" => {
                let v = o.value(&flag, inline)?;
                named.push(parse_named(&v, &named)?);
            }
            _ => return Err(o.unknown(&flag)),
        }
    }
    if start {
        a.what = What::Procfile {
            file: procfile.unwrap_or_else(|| "Procfile".into()),
            env_file,
            only,
        };
        return Ok(Cli::Start(a));
    }
    a.what =
        match (program, script, named.is_empty()) {
            (Some(p), None, true) => What::Program(p),
            (None, Some(s), true) => What::Script(s),
            (None, None, false) => What::Named(named),
            (None, None, true) => {
                return Err(
                    "run: no command given; use -- PROGRAM, --script FILE or --name NAME=COMMAND"
                        .into(),
                )
            }
            _ => return Err(
                "run: give one of -- PROGRAM, --script FILE or --name NAME=COMMAND, not several"
                    .into(),
            ),
        };
    Ok(Cli::Run(a))
}

fn parse_named(v: &OsStr, seen: &[(String, OsString)]) -> Result<(String, OsString), String> {
    let bytes = v.as_bytes();
    let Some(i) = bytes.iter().position(|&b| b == b'=') else {
        return Err(format!(
            "run: --name {:?} is not NAME=COMMAND",
            v.to_string_lossy()
        ));
    };
    let name = std::str::from_utf8(&bytes[..i])
        .map_err(|_| format!("run: --name: the name in {v:?} is not UTF-8"))?;
    let command = OsStr::from_bytes(&bytes[i + 1..]);
    if name.is_empty() || command.is_empty() {
        return Err(format!(
            "run: --name {:?} is not NAME=COMMAND",
            v.to_string_lossy()
        ));
    }
    if seen.iter().any(|(n, _)| n == name) {
        return Err(format!("run: --name {name:?} given twice"));
    }
    Ok((name.to_owned(), command.to_owned()))
}

fn parse_ps(args: Vec<OsString>) -> Result<Cli, String> {
    let mut o = Opts {
        args: args.into_iter(),
        cmd: "ps",
        short_values: "o",
        known: PS_FLAGS,
    };
    let mut a = PsArgs::default();
    while let Some(next) = o.next() {
        let (flag, inline) = match next {
            Ok(opt) => opt,
            Err(arg) => {
                return Err(format!(
                    "ps: unexpected argument '{}'; see 'procrun ps --help'",
                    arg.to_string_lossy()
                ))
            }
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Cli::Help(PS_USAGE)),
            "--state" => {
                let v = o.str_value(&flag, inline)?;
                a.state = Some(parse_state(&v)?);
            }
            "--name" => a.name = Some(o.str_value(&flag, inline)?),
            "--exact" => {
                o.no_value(&flag, inline)?;
                a.exact = true;
            }
            "--count" => {
                o.no_value(&flag, inline)?;
                a.count = true;
            }
            "-o" | "--output" => {
                let format = match o.str_value(&flag, inline)?.as_str() {
                    "pid" => PsFormat::Pids,
                    "table" => PsFormat::Table,
                    v => return Err(format!("ps: {flag} '{v}': use 'pid' or 'table'")),
                };
                a.format = set_format(a.format, format)?;
            }
            "--json" => {
                o.no_value(&flag, inline)?;
                a.format = set_format(a.format, PsFormat::Json)?;
            }
            _ => return Err(o.unknown(&flag)),
        }
    }
    if a.exact && (a.name.is_none() || a.state.is_some() || a.count) {
        return Err("ps: --exact goes with --name alone".into());
    }
    if a.format != PsFormat::Table && (a.exact || a.count) {
        return Err("ps: -o and --json go with a listing, not --count or --exact".into());
    }
    Ok(Cli::Ps(a))
}

/// One way of printing only: `-o pid --json` is a mistake, not a choice.
fn set_format(old: PsFormat, new: PsFormat) -> Result<PsFormat, String> {
    if old != PsFormat::Table && old != new {
        return Err("ps: give one of -o pid and --json".into());
    }
    Ok(new)
}

/// A state by its name (as `ps` prints it) or its `/proc/PID/stat` letter.
pub fn parse_state(s: &str) -> Result<State, String> {
    Ok(match s {
        "running" | "R" => State::Running,
        "sleep" | "sleeping" | "S" => State::Sleeping,
        "blocked" | "disk-sleep" | "D" => State::DiskSleep,
        "idle" | "I" => State::Idle,
        "stop" | "stopped" | "T" => State::Stopped,
        "tracing-stop" | "tracing stop" | "t" => State::TracingStop,
        "zombie" | "Z" => State::Zombie,
        "dead" | "X" => State::Dead,
        "parked" | "P" => State::Parked,
        _ => {
            return Err(format!(
                "ps: unknown state '{s}'; one of running, sleep, blocked, idle, stop, \
                 tracing-stop, zombie, dead, parked"
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<OsString> {
        s.iter().map(OsString::from).collect()
    }

    fn run(s: &[&str]) -> Result<RunArgs, String> {
        match parse(args(s))? {
            Cli::Run(a) => Ok(a),
            other => panic!("not run: {other:?}"),
        }
    }

    #[test]
    fn containment_flags_are_parsed() {
        let a = run(&[
            "run",
            "--cgroup",
            "/sys/fs/cgroup/agent",
            "--kill-on-parent-death",
            "--",
            "true",
        ])
        .unwrap();
        assert_eq!(a.cgroup, Some(PathBuf::from("/sys/fs/cgroup/agent")));
        assert!(a.kill_on_parent_death);
        let a = run(&["run", "--", "true"]).unwrap();
        assert_eq!((a.cgroup, a.kill_on_parent_death), (None, false));
    }

    #[test]
    fn program_after_double_dash_keeps_its_own_options() {
        let a = run(&["run", "--grace", "1s", "--", "ls", "--all", "-l"]).unwrap();
        assert_eq!(a.what, What::Program(args(&["ls", "--all", "-l"])));
        assert_eq!(a.grace, Duration::from_secs(1));
    }

    #[test]
    fn first_non_option_starts_the_program() {
        let a = run(&["run", "--quiet", "echo", "--timeout", "x"]).unwrap();
        assert_eq!(a.what, What::Program(args(&["echo", "--timeout", "x"])));
        assert!(a.quiet && a.timeout.is_none());
    }

    #[test]
    fn inline_values_and_defaults() {
        let a = run(&["run", "--timeout=2m", "--env=A=b", "--", "true"]).unwrap();
        assert_eq!(a.timeout, Some(Duration::from_secs(120)));
        assert_eq!(a.env, ["A=b"]);
        assert_eq!(a.grace, Duration::from_secs(3));
        assert_eq!(a.restart_interval, Duration::from_secs(5));
        assert_eq!(a.restart, None);
    }

    #[test]
    fn restart_options_imply_restart_on_error() {
        for opt in [
            &["--restart-limit", "2"][..],
            &["--backoff"],
            &["--restart-interval", "1s"],
        ] {
            let mut v = vec!["run"];
            v.extend_from_slice(opt);
            v.extend_from_slice(&["--", "false"]);
            assert_eq!(
                run(&v).unwrap().restart,
                Some(RestartWhen::OnError),
                "{opt:?}"
            );
        }
    }

    #[test]
    fn restart_takes_when_and_the_knobs_keep_it() {
        for (line, want) in [
            (&["--restart", "always"][..], RestartWhen::Always),
            (&["--restart=on-error"], RestartWhen::OnError),
            (&["--restart-on-error"], RestartWhen::OnError),
            (
                &["--restart", "always", "--restart-limit", "2", "--backoff"],
                RestartWhen::Always,
            ),
            (&["--backoff", "--restart", "always"], RestartWhen::Always),
        ] {
            let mut v = vec!["run"];
            v.extend_from_slice(line);
            v.extend_from_slice(&["--", "true"]);
            assert_eq!(run(&v).unwrap().restart, Some(want), "{line:?}");
        }
    }

    #[test]
    fn named_commands_are_collected_in_order() {
        let a = run(&["run", "--name", "web=a=b c", "--name=db=d"]).unwrap();
        assert_eq!(
            a.what,
            What::Named(vec![
                ("web".into(), "a=b c".into()),
                ("db".into(), "d".into())
            ])
        );
    }

    #[test]
    fn bad_run_lines_are_one_line_errors() {
        for bad in [
            &["run"][..],
            &["run", "--"],
            &["run", "--bogus", "--", "true"],
            &["run", "--timeout", "3x", "--", "true"],
            &["run", "--timeout"],
            &["run", "--quiet=yes", "--", "true"],
            &["run", "--max-line", "0", "--", "true"],
            &["run", "--restart-limit", "-1", "--", "true"],
            &["run", "--restart", "sometimes", "--", "true"],
            &["run", "--restart", "--", "true"],
            &["run", "--name", "noequals"],
            &["run", "--name", "=cmd"],
            &["run", "--name", "a=x", "--name", "a=y"],
            &["run", "--script", "f", "--", "true"],
            &["run", "--script", "f", "--script", "g"],
            &["bogus"],
            &["--bogus"],
            &[],
        ] {
            let e = parse(args(bad)).expect_err(&format!("{bad:?}"));
            assert!(!e.contains('\n') && !e.is_empty(), "{e:?}");
        }
    }

    #[test]
    fn ps_options_and_states() {
        let Cli::Ps(a) = parse(args(&["ps", "--state", "D", "--count"])).unwrap() else {
            panic!()
        };
        assert_eq!(
            a,
            PsArgs {
                state: Some(State::DiskSleep),
                count: true,
                ..PsArgs::default()
            }
        );
        for s in [
            State::Running,
            State::Sleeping,
            State::DiskSleep,
            State::Idle,
            State::Stopped,
            State::Zombie,
            State::Dead,
            State::Parked,
        ] {
            assert_eq!(parse_state(s.as_str()), Ok(s));
            assert_eq!(parse_state(&(s.letter() as char).to_string()), Ok(s));
        }
        assert!(parse_state("asleep").is_err());
        assert!(parse(args(&["ps", "--exact"])).is_err());
        assert!(parse(args(&["ps", "extra"])).is_err());
    }

    #[test]
    fn timeout_habits_short_flags_and_attached_values() {
        let a = run(&["run", "-t", "1m30s", "-sKILL", "-k", "2s", "--", "true"]).unwrap();
        assert_eq!(a.timeout, Some(Duration::from_secs(90)));
        assert_eq!(a.stop_signal, Some(Signal::KILL));
        assert_eq!(a.grace, Duration::from_secs(2));
        let a = run(&["run", "-t5", "-e", "A=1", "-eB=2", "-C/tmp", "-q", "true"]).unwrap();
        assert_eq!(a.timeout, Some(Duration::from_secs(5)));
        assert_eq!(a.env, ["A=1", "B=2"]);
        assert_eq!(a.cwd, Some(PathBuf::from("/tmp")));
        assert!(a.quiet);
        for sig in ["TERM", "SIGTERM", "15", "term"] {
            let a = run(&["run", "--signal", sig, "--", "true"]).unwrap();
            assert_eq!(a.stop_signal, Some(Signal::TERM), "{sig}");
        }
        let a = run(&["run", "--kill-after=1.5s", "--", "true"]).unwrap();
        assert_eq!(a.grace, Duration::from_millis(1500));
        assert!(run(&["run", "-s", "NOPE", "--", "true"]).is_err());
        assert!(run(&["run", "-s", "0", "--", "true"]).is_err());
        assert!(run(&["run", "-qq", "--", "true"]).is_err());
    }

    #[test]
    fn unknown_flags_near_a_known_one_get_a_suggestion() {
        for (typo, near) in [
            ("--timout", "--timeout"),
            ("--tiemout", "--timeout"),
            ("-timeout", "--timeout"),
            ("--gracee", "--grace"),
            ("--restart-limt", "--restart-limit"),
            ("--preserve-stauts", "--preserve-status"),
            ("--singal", "--signal"),
        ] {
            let e = run(&["run", typo, "x", "--", "true"]).unwrap_err();
            assert!(e.contains(&format!("did you mean {near}?")), "{typo}: {e}");
        }
        for far in ["--bogus", "-x", "--zz", "--frobnicate"] {
            let e = run(&["run", far, "--", "true"]).unwrap_err();
            assert!(!e.contains("did you mean"), "{far}: {e}");
        }
        let e = parse(args(&["ps", "--stat", "R"])).unwrap_err();
        assert!(e.contains("did you mean --state?"), "{e}");
    }

    #[test]
    fn every_flag_suggested_is_one_the_parser_knows() {
        for (cmd, flags) in [("run", RUN_FLAGS), ("ps", PS_FLAGS)] {
            for flag in flags {
                let e = parse(args(&[cmd, flag, "--", "true"]))
                    .err()
                    .unwrap_or_default();
                assert!(!e.contains("unknown option"), "{cmd} {flag}: {e}");
            }
        }
    }

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        for (a, b, d) in [
            ("", "", 0),
            ("abc", "abc", 0),
            ("abc", "", 3),
            ("kitten", "sitting", 3),
            ("timout", "timeout", 1),
            ("tiemout", "timeout", 2),
        ] {
            assert_eq!(edit_distance(a, b), d, "{a} {b}");
            assert_eq!(edit_distance(b, a), d, "{b} {a}");
        }
    }

    #[test]
    fn start_takes_a_procfile_an_env_file_names_and_runs_options() {
        let Cli::Start(a) = parse(args(&[
            "start",
            "web",
            "-f",
            "Procs",
            "-e.env.dev",
            "-k",
            "1s",
            "worker",
            "web",
        ]))
        .unwrap() else {
            panic!("not start")
        };
        assert_eq!(
            a.what,
            What::Procfile {
                file: "Procs".into(),
                env_file: Some(".env.dev".into()),
                only: vec!["web".into(), "worker".into()],
            }
        );
        assert!(a.exit_with_first);
        assert_eq!(a.grace, Duration::from_secs(1));
        let Cli::Start(a) = parse(args(&["start"])).unwrap() else {
            panic!("not start")
        };
        let all = What::Procfile {
            file: "Procfile".into(),
            env_file: None,
            only: vec![],
        };
        assert_eq!(a.what, all);
        for bad in [
            &["start", "--name", "a=b"][..],
            &["start", "--env", "A=1"],
            &["start", "--script", "f"],
            &["start", "--exit-with-first"],
            &["start", "--", "true"],
            &["start", "-f"],
        ] {
            let e = parse(args(bad)).expect_err(&format!("{bad:?}"));
            assert!(!e.contains('\n') && !e.is_empty(), "{e:?}");
        }
        assert!(!run(&["run", "--name", "a=b"]).unwrap().exit_with_first);
        assert!(
            run(&["run", "--exit-with-first", "--name", "a=b"])
                .unwrap()
                .exit_with_first
        );
    }

    #[test]
    fn help_and_version() {
        assert!(matches!(parse(args(&["--help"])), Ok(Cli::Help(USAGE))));
        assert!(matches!(
            parse(args(&["run", "--help"])),
            Ok(Cli::Help(RUN_USAGE))
        ));
        assert!(matches!(
            parse(args(&["help", "ps"])),
            Ok(Cli::Help(PS_USAGE))
        ));
        assert!(matches!(parse(args(&["-V"])), Ok(Cli::Version)));
    }
}
