//! The command line checked once: clap's parse by the definition
//! (`defs.rs`) turned into what procrun is asked to do (`config.rs`), with
//! the checks clap cannot make (one of PROGRAM, --script or --name; a
//! name given twice; options of `ps` that do not go together). clap's own
//! errors become one line in `error.rs`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::Parser;

use crate::flags::config::{PsArgs, PsFormat, Request, RestartWhen, RunArgs, What};
use crate::flags::defs::{
    CommandLine, PsFlags, PsOutput, RunFlags, StartFlags, StdinWhen, Sub, Supervise,
};
use crate::flags::error::one_line;
use crate::flags::values::Named;

/// Parses the arguments after the program name. The error is the one line
/// to print after `procrun: `.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Request, String> {
    let args: Vec<OsString> = args.into_iter().collect();
    let argv = std::iter::once(OsString::from("procrun")).chain(args.iter().cloned());
    let parsed = match CommandLine::try_parse_from(argv) {
        Ok(p) => p,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            return Ok(Request::Print(e))
        }
        // clap's answer to no subcommand at all is the whole help, as an
        // error: one line says it better.
        Err(e) if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            return Err("no command given; see 'procrun --help'".into())
        }
        Err(e) => return Err(one_line(&e, &args)),
    };
    match parsed.command {
        Sub::Run(r) => run_args(r).map(Request::Run),
        Sub::Start(s) => Ok(Request::Start(start_args(s))),
        Sub::Ps(p) => ps_args(p).map(Request::Ps),
        Sub::Completions { shell } => Ok(Request::Completions(shell)),
        Sub::Man { command } => Ok(Request::Man(command)),
    }
}

/// The options `run` and `start` share, with the restart knobs implying
/// `--restart on-error` unless `--restart` says otherwise.
fn supervised(s: Supervise, what: What) -> RunArgs {
    let knobs = s.restart_limit.is_some() || s.restart_interval.is_some() || s.backoff;
    let restart = match (s.restart, s.restart_on_error) {
        (Some(when), _) => Some(when),
        (None, true) => Some(RestartWhen::OnError),
        (None, false) => knobs.then_some(RestartWhen::OnError),
    };
    RunArgs {
        what,
        // 0 is `timeout`'s "no timeout".
        timeout: s.timeout.filter(|d| !d.is_zero()),
        stop_signal: s.signal,
        grace: s.grace,
        restart,
        restart_limit: s.restart_limit.unwrap_or(0),
        restart_interval: s.restart_interval.unwrap_or(Duration::from_secs(5)),
        backoff: s.backoff,
        detached: s.detached,
        cgroup: s.cgroup,
        memory_max: s.memory_max,
        pids_max: s.pids_max,
        cpu_max: s.cpu_max,
        kill_on_parent_death: s.kill_on_parent_death,
        user: s.user,
        group: s.group,
        nice: s.nice,
        oom_score_adj: s.oom_score_adj,
        rlimits: s.rlimit,
        umask: s.umask,
        env: Vec::new(),
        cwd: s.cwd,
        max_line: s.max_line,
        output: s.output,
        timestamps: s.timestamps,
        color: s.color,
        stdin_inherit: s.stdin == StdinWhen::Inherit,
        quiet: s.quiet,
        preserve_status: s.preserve_status,
        exit_with_first: false,
        raw: false,
        verbose: false,
        format: s.format,
    }
}

fn run_args(r: RunFlags) -> Result<RunArgs, String> {
    let what =
        match (r.program.is_empty(), r.script, r.named.is_empty()) {
            (false, None, true) => What::Program(r.program),
            (true, Some(s), true) => What::Script(s),
            (true, None, false) => {
                let mut named: Vec<(String, OsString)> = Vec::with_capacity(r.named.len());
                for Named { name, command } in r.named {
                    if named.iter().any(|(n, _)| *n == name) {
                        return Err(format!("run: --name {name:?} given twice"));
                    }
                    named.push((name, command));
                }
                What::Named(named)
            }
            (true, None, true) => {
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
    let mut a = supervised(r.supervise, what);
    a.env = r.env;
    a.exit_with_first = r.exit_with_first;
    a.raw = r.raw;
    a.verbose = r.verbose;
    Ok(a)
}

fn start_args(s: StartFlags) -> RunArgs {
    let mut only: Vec<String> = Vec::with_capacity(s.names.len());
    for name in s.names {
        if !only.contains(&name) {
            only.push(name);
        }
    }
    // As foreman: the root's Procfile when only the root is given.
    let file = s.procfile.unwrap_or_else(|| match &s.root {
        Some(root) => root.join("Procfile"),
        None => PathBuf::from("Procfile"),
    });
    let what = What::Procfile {
        file,
        root: s.root,
        env_file: s.env_file,
        only,
    };
    let mut a = supervised(s.supervise, what);
    a.exit_with_first = true;
    a
}

fn ps_args(p: PsFlags) -> Result<PsArgs, String> {
    let format = match (p.output, p.json) {
        (Some(PsOutput::Pid), true) => return Err("ps: give one of -o pid and --json".into()),
        (Some(PsOutput::Table), true) | (None, true) => PsFormat::Json,
        (Some(PsOutput::Pid), false) => PsFormat::Pids,
        (Some(PsOutput::Table) | None, false) => PsFormat::Table,
    };
    let a = PsArgs {
        state: p.state,
        name: p.name,
        exact: p.exact,
        count: p.count,
        format,
    };
    if a.exact && (a.name.is_none() || a.state.is_some() || a.count) {
        return Err("ps: --exact goes with --name alone".into());
    }
    if a.format != PsFormat::Table && (a.exact || a.count) {
        return Err("ps: -o and --json go with a listing, not --count or --exact".into());
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use procrun::procfs::State;
    use procrun::Signal;

    use super::*;
    use crate::flags::config::{ColorWhen, Timestamps};
    use crate::flags::values;

    fn args(s: &[&str]) -> Vec<OsString> {
        s.iter().map(OsString::from).collect()
    }

    fn run(s: &[&str]) -> Result<RunArgs, String> {
        match parse(args(s))? {
            Request::Run(a) => Ok(a),
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
    fn limits_are_parsed_and_need_a_cgroup() {
        let a = run(&[
            "run",
            "--cgroup",
            "/sys/fs/cgroup/agent",
            "--memory-max",
            "512M",
            "--pids-max",
            "64",
            "--cpu-max",
            "150%",
            "--",
            "true",
        ])
        .unwrap();
        assert_eq!(
            (a.memory_max, a.pids_max, a.cpu_max),
            (Some(512 << 20), Some(64), Some(150))
        );
        for bad in [
            &["run", "--memory-max", "1G", "--", "true"][..],
            &["run", "--cgroup", "/x", "--memory-max", "0", "--", "true"],
            &["run", "--cgroup", "/x", "--memory-max", "1Q", "--", "true"],
            &[
                "run",
                "--cgroup",
                "/x",
                "--memory-max",
                "99999999999T",
                "--",
                "true",
            ],
            &["run", "--cgroup", "/x", "--pids-max", "0", "--", "true"],
            &["run", "--cgroup", "/x", "--cpu-max", "0%", "--", "true"],
            &["run", "--cgroup", "/x", "--cpu-max", "half", "--", "true"],
        ] {
            let e = run(bad).unwrap_err();
            assert!(!e.contains('\n'), "{bad:?}: {e}");
        }
        assert_eq!(values::parse_size("4096"), Ok(4096));
        assert_eq!(values::parse_size("2k"), Ok(2048));
        assert_eq!(values::parse_percent("50"), Ok(50));
    }

    #[test]
    fn program_after_double_dash_keeps_its_own_options() {
        let a = run(&["run", "--grace", "1s", "--", "ls", "--all", "-l"]).unwrap();
        assert_eq!(a.what, What::Program(args(&["ls", "--all", "-l"])));
        assert_eq!(a.grace, Duration::from_secs(1));
    }

    #[test]
    fn first_non_option_starts_the_program() {
        let a = run(&["run", "--quiet", "echo", "--timeout", "x", "-h"]).unwrap();
        assert_eq!(
            a.what,
            What::Program(args(&["echo", "--timeout", "x", "-h"]))
        );
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
        assert_eq!(a.color, ColorWhen::Auto);
        assert!(!a.stdin_inherit);
        let a = run(&["run", "--timeout", "0", "--", "true"]).unwrap();
        assert_eq!(a.timeout, None);
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
        assert!(!a.exit_with_first);
        let a = run(&["run", "--exit-with-first", "--name", "a=b"]).unwrap();
        assert!(a.exit_with_first);
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
            &["run", "-qq", "--", "true"],
            &["run", "--max-line", "0", "--", "true"],
            &["run", "--restart-limit", "-1", "--", "true"],
            &["run", "--restart", "sometimes", "--", "true"],
            &["run", "--restart", "--", "true"],
            &["run", "--name", "noequals"],
            &["run", "--name", "=cmd"],
            &["run", "--name", "a=x", "--name", "a=y"],
            &["run", "--script", "f", "--", "true"],
            &["run", "--script", "f", "--script", "g"],
            &["run", "-s", "NOPE", "--", "true"],
            &["run", "-s", "65", "--", "true"],
            &["start", "--name", "a=b"],
            &["start", "--env", "A=1"],
            &["start", "--exit-with-first"],
            &["start", "-f"],
            &["ps", "extra"],
            &["ps", "--exact"],
            &["bogus"],
            &["--bogus"],
            &[],
        ] {
            let e = parse(args(bad)).expect_err(&format!("{bad:?}"));
            assert!(!e.contains('\n') && !e.is_empty(), "{bad:?}: {e:?}");
        }
    }

    #[test]
    fn ps_options_and_states() {
        let Request::Ps(a) = parse(args(&["ps", "--state", "D", "--count"])).unwrap() else {
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
            assert_eq!(values::parse_state(s.as_str()), Ok(s));
            assert_eq!(
                values::parse_state(&(s.letter() as char).to_string()),
                Ok(s)
            );
        }
        assert!(values::parse_state("asleep").is_err());
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
        // `-s 0`: the stop sends nothing but its SIGCONT, as timeout's.
        let a = run(&["run", "-s", "0", "--", "true"]).unwrap();
        assert_eq!(a.stop_signal, Some(Signal::CONT));
        let a = run(&["run", "--kill-after=1.5s", "--", "true"]).unwrap();
        assert_eq!(a.grace, Duration::from_millis(1500));
        let a = run(&["run", "--timestamps", "wall"]).unwrap();
        assert_eq!(a.timestamps, Some(Timestamps::Elapsed));
        assert_eq!(a.what, What::Program(args(&["wall"])));
        let a = run(&["run", "--timestamps=wall", "--colour", "never", "true"]).unwrap();
        assert_eq!(a.timestamps, Some(Timestamps::Wall));
        assert_eq!(a.color, ColorWhen::Never);
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
        for far in ["--bogus", "-x", "--zz", "--wobble"] {
            let e = run(&["run", far, "--", "true"]).unwrap_err();
            assert!(!e.contains("did you mean"), "{far}: {e}");
        }
        let e = parse(args(&["ps", "--stat", "R"])).unwrap_err();
        assert!(e.contains("did you mean --state?"), "{e}");
        let e = parse(args(&["strat"])).unwrap_err();
        assert!(e.contains("did you mean start?"), "{e}");
    }

    #[test]
    fn the_program_s_own_single_dash_options_are_not_taken_for_procrun_s() {
        // The real error is the duration; `-name` is find's.
        let e = run(&["run", "-t", "10x", "find", ".", "-name", "foo"]).unwrap_err();
        assert!(e.contains("'10x'") && !e.contains("-name"), "{e}");
        let e = run(&["run", "--timeout", "10x", "--name", "a=find -name x"]).unwrap_err();
        assert!(e.contains("'10x'"), "{e}");
        // procrun's own, before the program, still get the suggestion.
        let e = run(&["run", "-t", "5", "-kill-after", "1", "find", "-name", "x"]).unwrap_err();
        assert!(e.contains("did you mean --kill-after?"), "{e}");
        // `--timestamps` takes its value after `=` only: what follows is
        // not its value.
        let e = run(&["run", "--timestamps", "-timeout", "5", "true"]).unwrap_err();
        assert!(e.contains("did you mean --timeout?"), "{e}");
    }

    #[test]
    fn start_takes_a_procfile_an_env_file_names_and_runs_options() {
        let Request::Start(a) = parse(args(&[
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
                root: None,
                env_file: Some(".env.dev".into()),
                only: vec!["web".into(), "worker".into()],
            }
        );
        assert!(a.exit_with_first);
        assert_eq!(a.grace, Duration::from_secs(1));
        let Request::Start(a) = parse(args(&["start"])).unwrap() else {
            panic!("not start")
        };
        let all = What::Procfile {
            file: "Procfile".into(),
            root: None,
            env_file: None,
            only: vec![],
        };
        assert_eq!(a.what, all);
        let Request::Start(a) = parse(args(&["start", "-d", "app"])).unwrap() else {
            panic!("not start")
        };
        let rooted = What::Procfile {
            file: "app/Procfile".into(),
            root: Some("app".into()),
            env_file: None,
            only: vec![],
        };
        assert_eq!(a.what, rooted);
    }

    #[test]
    fn help_and_version() {
        for line in [
            &["--help"][..],
            &["-h"],
            &["run", "--help"],
            &["help", "ps"],
            &["-V"],
        ] {
            assert!(
                matches!(parse(args(line)), Ok(Request::Print(_))),
                "{line:?}"
            );
        }
    }
}
