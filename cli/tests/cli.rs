//! The `procrun` command-line tool, driven as a user would: the built
//! binary, real children, signals sent to it. Every wait has a watchdog.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use common::leftovers::group_members;
use common::{wait_child, with_watchdog, WATCHDOG};

const BIN: &str = env!("CARGO_BIN_EXE_procrun");

#[derive(Debug, Clone, Copy, PartialEq)]
enum Src {
    Out,
    Err,
}

/// A procrun process whose stdout and stderr are read line by line.
struct Running {
    child: Child,
    lines: Receiver<(Src, String)>,
    out: String,
    err: String,
}

/// A procrun process that has exited.
#[derive(Debug)]
struct Finished {
    status: ExitStatus,
    out: String,
    err: String,
    /// From the signal (if one was sent) to the exit.
    since_signal: Option<Duration>,
}

impl Finished {
    fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("procrun was killed: {self:?}"))
    }
}

fn procrun_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    common::with_default_signals(&mut c);
    c
}

fn spawn(args: &[&str]) -> Running {
    spawn_cmd(procrun_cmd(args))
}

fn spawn_cmd(mut cmd: Command) -> Running {
    let mut child = cmd.spawn().expect("spawn procrun");
    let (tx, lines) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    for (from, pipe) in [
        (Src::Out, Box::new(out) as Box<dyn Read + Send>),
        (Src::Err, Box::new(err)),
    ] {
        let tx = tx.clone();
        thread::spawn(move || {
            for line in BufReader::new(pipe).split(b'\n') {
                let Ok(line) = line else { return };
                let line = String::from_utf8_lossy(&line).into_owned();
                if tx.send((from, line)).is_err() {
                    return;
                }
            }
        });
    }
    Running {
        child,
        lines,
        out: String::new(),
        err: String::new(),
    }
}

/// Runs procrun to completion.
fn procrun(args: &[&str]) -> Finished {
    spawn(args).finish(None)
}

impl Running {
    fn keep(&mut self, from: Src, line: &str) {
        let buf = match from {
            Src::Out => &mut self.out,
            Src::Err => &mut self.err,
        };
        buf.push_str(line);
        buf.push('\n');
    }

    /// Waits for a line of `from` containing `needle`.
    fn wait_line(&mut self, from: Src, needle: &str) -> String {
        let deadline = Instant::now() + WATCHDOG;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((f, line)) => {
                    self.keep(f, &line);
                    if f == from && line.contains(needle) {
                        return line;
                    }
                }
                Err(e) => panic!(
                    "watchdog ({e:?}): no {from:?} line with {needle:?}; stdout {:?}, stderr {:?}",
                    self.out, self.err
                ),
            }
        }
    }

    /// Sends `sig` (a name `kill` knows) to procrun; returns when it was sent.
    fn signal(&self, sig: &str) -> Instant {
        let sent = Instant::now();
        common::send_signal(self.child.id(), sig);
        sent
    }

    /// Waits (with the watchdog) for procrun to exit and for all its output.
    fn finish(mut self, signalled: Option<Instant>) -> Finished {
        let deadline = Instant::now() + WATCHDOG;
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                break st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "watchdog: procrun did not exit; stdout {:?}, stderr {:?}",
                    self.out, self.err
                );
            }
            // Draining here keeps the pipes from filling while we wait.
            while let Ok((f, l)) = self.lines.try_recv() {
                self.keep(f, &l);
            }
            thread::sleep(Duration::from_millis(5));
        };
        let since_signal = signalled.map(|t| t.elapsed());
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((f, l)) => self.keep(f, &l),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!("watchdog: output never ended"),
            }
        }
        Finished {
            status,
            out: std::mem::take(&mut self.out),
            err: std::mem::take(&mut self.err),
            since_signal,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Only on a failing test: procrun, not its children, is killed.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits (with the watchdog) until process group `pgid` has no live (not
/// zombie) member.
fn wait_group_gone(pgid: u32) {
    let group = HashSet::from([pgid]);
    let deadline = Instant::now() + WATCHDOG;
    while !group_members(&group).is_empty() {
        assert!(
            Instant::now() < deadline,
            "group {pgid} still has {:?}",
            group_members(&group)
        );
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn echo_is_printed_with_its_name_and_exits_0() {
    let f = procrun(&["run", "--", "echo", "hello"]);
    assert_eq!(f.code(), 0);
    assert_eq!(f.out, "echo | hello\n");
    assert!(f.err.contains("echo * started (pid "), "{}", f.err);
    assert!(f.err.contains("echo * exited with code 0"), "{}", f.err);
}

#[test]
fn program_may_come_without_double_dash() {
    let f = procrun(&["run", "echo", "--timeout", "x"]);
    assert_eq!(f.code(), 0);
    assert_eq!(f.out, "echo | --timeout x\n");
}

#[test]
fn exit_code_of_the_child_is_procruns() {
    let f = procrun(&["run", "--", "sh", "-c", "echo out; echo err >&2; exit 7"]);
    assert_eq!(f.code(), 7);
    assert_eq!(f.out, "sh | out\nsh ! err\n");
}

#[test]
fn child_killed_by_a_signal_exits_128_plus_the_signal() {
    let f = procrun(&["run", "--", "sh", "-c", "kill -9 $$"]);
    assert_eq!(f.code(), 128 + 9);
    assert!(f.err.contains("killed by SIGKILL"), "{}", f.err);
}

#[test]
fn timeout_stops_the_child_and_exits_124() {
    let start = Instant::now();
    let f = procrun(&["run", "--timeout", "300ms", "--", "sleep", "100"]);
    assert_eq!(f.code(), 124);
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert!(start.elapsed() < Duration::from_secs(30), "not stopped");
    assert!(f.err.contains("timed out"), "{}", f.err);
}

#[test]
fn children_start_with_no_signal_blocked() {
    // procrun takes SIGINT and SIGTERM; its children must not inherit
    // anything of it, or a stop could not reach them.
    let f = procrun(&["run", "--", "grep", "^SigBlk", "/proc/self/status"]);
    assert_eq!(f.code(), 0);
    assert_eq!(f.out, "grep | SigBlk:\t0000000000000000\n");
}

#[test]
fn sigint_stops_a_child_ignoring_sigterm_after_the_grace_not_before() {
    let mut r = spawn(&[
        "run",
        "--grace",
        "1s",
        "--",
        "sh",
        "-c",
        "trap '' TERM; echo ready $$; sleep 100",
    ]);
    let ready = r.wait_line(Src::Out, "ready");
    let pid: u32 = ready.rsplit(' ').next().unwrap().parse().unwrap();
    let sent = r.signal("INT");
    let f = r.finish(Some(sent));
    assert_eq!(f.code(), 130);
    let took = f.since_signal.unwrap();
    assert!(took >= Duration::from_secs(1), "exited after {took:?}");
    assert!(f.err.contains("SIGINT received"), "{}", f.err);
    assert!(f.err.contains("killed by SIGKILL"), "{}", f.err);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "child unreaped"
    );
    wait_group_gone(pid);
}

#[test]
fn sigint_reaches_the_child_as_sigterm_at_once() {
    // sleep keeps the signal mask it is given (a shell would reset it), so
    // this fails if the child inherited a blocked SIGTERM.
    let mut r = spawn(&["run", "--grace", "30s", "--", "sleep", "100"]);
    r.wait_line(Src::Err, "sleep * started");
    let sent = r.signal("INT");
    let f = r.finish(Some(sent));
    assert_eq!(f.code(), 130);
    assert!(f.since_signal.unwrap() < Duration::from_secs(20), "{f:?}");
    assert!(f.err.contains("killed by SIGTERM"), "{}", f.err);
}

#[test]
fn sigterm_stops_every_child_and_exits_143() {
    let mut r = spawn(&[
        "run",
        "--name",
        "a=echo ready; sleep 100",
        "--name",
        "b=echo ready; sleep 100",
    ]);
    // The two start at once: their lines come in either order.
    let first = r.wait_line(Src::Out, "| ready");
    let other = if first.starts_with('a') {
        "b | ready"
    } else {
        "a | ready"
    };
    r.wait_line(Src::Out, other);
    let sent = r.signal("TERM");
    let f = r.finish(Some(sent));
    assert_eq!(f.code(), 143);
    assert!(f.err.contains("stopping 2 processes"), "{}", f.err);
    assert_eq!(f.err.matches("stopped, killed by SIGTERM").count(), 2);
}

#[test]
fn second_sigint_kills_without_waiting_for_the_grace() {
    let mut r = spawn(&[
        "run",
        "--grace",
        "60s",
        "--",
        "sh",
        "-c",
        "trap '' TERM; echo ready; sleep 100",
    ]);
    r.wait_line(Src::Out, "ready");
    r.signal("INT");
    r.wait_line(Src::Err, "SIGINT received");
    let sent = r.signal("INT");
    let f = r.finish(Some(sent));
    assert_eq!(f.code(), 130);
    assert!(f.since_signal.unwrap() < Duration::from_secs(30), "{f:?}");
    assert!(f.err.contains("killed by SIGKILL"), "{}", f.err);
}

#[test]
fn failed_runs_restart_up_to_the_limit() {
    let f = procrun(&[
        "run",
        "--restart-on-error",
        "--restart-limit",
        "2",
        "--restart-interval",
        "100ms",
        "--",
        "sh",
        "-c",
        "echo run; exit 3",
    ]);
    assert_eq!(f.code(), 3);
    assert_eq!(f.out, "sh | run\n".repeat(3));
    assert_eq!(f.err.matches("restarting in 100ms").count(), 2, "{}", f.err);
    assert!(f.err.contains("restart 2 of 2"), "{}", f.err);
    assert!(f.err.contains("restart limit reached"), "{}", f.err);
}

#[test]
fn backoff_doubles_the_restart_delay() {
    let f = procrun(&[
        "run",
        "--backoff",
        "--restart-limit",
        "3",
        "--restart-interval",
        "100ms",
        "--",
        "sh",
        "-c",
        "exit 1",
    ]);
    assert_eq!(f.code(), 1);
    let delays: Vec<&str> = f
        .err
        .lines()
        .filter_map(|l| l.split("restarting in ").nth(1))
        .collect();
    assert_eq!(delays, ["100ms", "200ms", "400ms"], "{}", f.err);
}

#[test]
fn sighup_stops_the_child_and_exits_129() {
    let mut r = spawn(&["run", "--", "sleep", "100"]);
    r.wait_line(Src::Err, "sleep * started");
    let sent = r.signal("HUP");
    let f = r.finish(Some(sent));
    assert_eq!(f.code(), 129);
    assert!(f.err.contains("SIGHUP received"), "{}", f.err);
}

#[test]
fn named_processes_run_at_once_with_padded_prefixes() {
    let f = procrun(&[
        "run",
        "--name",
        "web=echo from web",
        "--name",
        "db=echo oops >&2; exit 5",
    ]);
    assert_eq!(f.code(), 5);
    let mut lines: Vec<&str> = f.out.lines().collect();
    lines.sort();
    assert_eq!(lines, ["db  ! oops", "web | from web"]);
    assert!(f.err.contains("db  * exited with code 5"), "{}", f.err);
}

#[test]
fn first_failure_in_time_decides_the_status_of_several() {
    let f = procrun(&[
        "run",
        "--name",
        "slow=sleep 1; exit 4",
        "--name",
        "fast=exit 3",
        "--name",
        "ok=true",
    ]);
    assert_eq!(f.code(), 3);
}

#[test]
fn output_is_plain_when_not_a_terminal() {
    let f = procrun(&["run", "--name", "a=echo x", "--name", "b=echo y >&2"]);
    assert_eq!(f.code(), 0);
    assert!(!f.out.is_empty());
    assert!(!f.out.contains('\x1b'), "{:?}", f.out);
    assert!(!f.err.contains('\x1b'), "{:?}", f.err);
}

#[test]
fn output_file_gets_both_streams_with_prefixes_and_nothing_is_printed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.log");
    let f = procrun(&[
        "run",
        "--output",
        file.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    assert_eq!(f.code(), 0);
    assert_eq!(f.out, "");
    // Two pipes: the order of the two lines is the reader's, not the child's.
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    assert_eq!(lines, ["sh ! err", "sh | out"], "{text:?}");
    assert!(f.err.contains("sh * exited with code 0"), "{}", f.err);
}

#[test]
fn env_and_cwd_reach_the_child() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path().canonicalize().unwrap();
    let f = procrun(&[
        "run",
        "--env",
        "GREETING=hi there",
        "--cwd",
        dir.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "echo $GREETING; pwd",
    ]);
    assert_eq!(f.code(), 0);
    assert_eq!(f.out, format!("sh | hi there\nsh | {}\n", dir.display()));
}

#[test]
fn quiet_prints_nothing_and_keeps_the_status() {
    let f = procrun(&[
        "run",
        "--quiet",
        "--",
        "sh",
        "-c",
        "echo x; echo y >&2; exit 4",
    ]);
    assert_eq!(f.code(), 4);
    assert_eq!((f.out.as_str(), f.err.as_str()), ("", ""));
}

#[test]
fn timestamps_prefix_lines_with_elapsed_seconds() {
    let f = procrun(&["run", "--timestamps", "--", "echo", "hi"]);
    assert_eq!(f.code(), 0);
    let line = f.out.trim_start();
    let (stamp, rest) = line.split_once(' ').unwrap();
    let (secs, ms) = stamp.split_once('.').unwrap();
    assert!(secs.parse::<u64>().is_ok() && ms.len() == 3, "{line:?}");
    assert_eq!(rest, "echo | hi\n");
}

#[test]
fn script_runs_with_bash_under_its_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("job.sh");
    std::fs::write(&script, "echo \"from $BASH_VERSION\" | cut -c1-4\nexit 6\n").unwrap();
    let f = procrun(&["run", "--script", script.to_str().unwrap()]);
    assert_eq!(f.code(), 6);
    assert_eq!(f.out, "job.sh | from\n");
}

#[test]
fn long_lines_are_printed_in_pieces() {
    let f = procrun(&["run", "--max-line", "4", "--", "echo", "abcdefghij"]);
    assert_eq!(f.out, "echo | abcd\necho | efgh\necho | ij\n");
}

#[test]
fn detached_child_stays_in_procruns_process_group() {
    let script = "echo $$ $(cut -d' ' -f5 /proc/$$/stat)";
    let pair = |f: &Finished| -> (String, String) {
        let rest = f.out.trim_end().split_once(" | ").unwrap().1.to_owned();
        let (pid, pgid) = rest.split_once(' ').unwrap();
        (pid.to_owned(), pgid.to_owned())
    };
    let own = procrun(&["run", "--", "sh", "-c", script]);
    let (pid, pgid) = pair(&own);
    assert_eq!(pid, pgid, "a child leads its own group");
    let det = procrun(&["run", "--detached", "--", "sh", "-c", script]);
    let (pid, pgid) = pair(&det);
    assert_ne!(pid, pgid, "a detached child does not");
}

#[test]
fn closed_stdout_stops_the_children_and_exits_141() {
    let mut child = procrun_cmd(&["run", "--", "yes"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 6];
    out.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"yes | ");
    drop(out);
    let status = wait_child(&mut child, "procrun kept running with no reader");
    assert_eq!(status.code(), Some(141));
}

#[test]
fn bad_input_exits_2_with_one_line_on_stderr() {
    let cases: &[&[&str]] = &[
        &["run", "--timeout", "3x", "--", "true"],
        &["run", "--bogus", "--", "true"],
        &["run", "--script", "/nonexistent/procrun-test.sh"],
        &["run", "--env", "NOEQUALS", "--", "true"],
        &["run", "--env", "A=1", "--env", "A=2", "--", "true"],
        &["run", "--cwd", "/nonexistent/procrun-test", "--", "true"],
        &["run"],
        &[],
        &["frobnicate"],
        &["ps", "--state", "asleep"],
        &["ps", "--bogus"],
    ];
    for args in cases {
        let f = procrun(args);
        assert_eq!(f.code(), 2, "{args:?}: {f:?}");
        assert_eq!(f.out, "", "{args:?}");
        assert_eq!(f.err.lines().count(), 1, "{args:?}: {:?}", f.err);
        assert!(f.err.starts_with("procrun: "), "{args:?}: {:?}", f.err);
    }
}

#[test]
fn help_prints_usage_and_exits_0() {
    for args in [
        &["--help"][..],
        &["run", "--help"],
        &["ps", "--help"],
        &["help"],
    ] {
        let f = procrun(args);
        assert_eq!(f.code(), 0, "{args:?}");
        assert!(f.out.contains("Usage:"), "{args:?}: {}", f.out);
    }
}

#[test]
fn ps_count_is_the_number_of_processes() {
    let f = procrun(&["ps", "--count"]);
    assert_eq!(f.code(), 0);
    assert!(f.out.trim().parse::<usize>().unwrap() > 0, "{}", f.out);
}

#[test]
fn ps_counts_by_state_add_up_to_the_total() {
    let f = procrun(&["ps"]);
    assert_eq!(f.code(), 0);
    let mut sum = 0;
    let mut total = None;
    for line in f.out.lines().skip(1) {
        let (state, n) = line.split_at(14);
        let n: usize = n.trim().parse().unwrap();
        match state.trim() {
            "total" => total = Some(n),
            "unreadable" => {}
            _ => sum += n,
        }
    }
    assert_eq!(total, Some(sum), "{}", f.out);
    assert!(sum > 0);
}

#[test]
fn ps_state_sleep_lists_sleeping_processes() {
    let f = procrun(&["ps", "--state", "sleep"]);
    assert_eq!(f.code(), 0);
    let rows: Vec<&str> = f.out.lines().skip(1).collect();
    assert!(!rows.is_empty(), "{}", f.out);
    for row in rows {
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert!(cols[0].parse::<u32>().is_ok(), "{row}");
        assert_eq!(cols[1], "sleep", "{row}");
    }
}

#[test]
fn ps_name_finds_the_tests_own_child() {
    // A copy of sleep under a name no other process has.
    let dir = tempfile::tempdir().unwrap();
    let name = format!("prt{}", std::process::id());
    let exe = dir.path().join(&name);
    std::fs::copy("/bin/sleep", &exe).unwrap();
    let mut child = Command::new(&exe).arg("100").spawn().unwrap();
    let pid = child.id().to_string();
    // Until it has exec'd, the child's name is still the test's.
    let deadline = Instant::now() + WATCHDOG;
    let f = loop {
        let f = procrun(&["ps", "--name", &name]);
        if f.code() == 0 || Instant::now() > deadline {
            break f;
        }
        thread::sleep(Duration::from_millis(10));
    };
    let row: Vec<&str> = f.out.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!((row[0], row[2]), (pid.as_str(), name.as_str()));
    let exact = procrun(&["ps", "--name", &name, "--exact"]);
    assert_eq!(exact.code(), 0);
    assert_eq!(exact.out, format!("{name}: running\n"));
    let count = procrun(&["ps", "--name", &name, "--count"]);
    assert_eq!(count.out, "1\n");
    child.kill().unwrap();
    child.wait().unwrap();
    let gone = procrun(&["ps", "--name", &name]);
    assert_eq!((gone.code(), gone.out.as_str()), (1, ""));
}

#[test]
fn ps_name_never_lists_procrun_itself_as_pgrep() {
    // procrun under a name no other process has: its own comm matches.
    let dir = tempfile::tempdir().unwrap();
    let name = format!("prs{}", std::process::id());
    let me = dir.path().join(&name);
    std::os::unix::fs::symlink(BIN, &me).unwrap();
    let ps = |extra: &[&str]| {
        let mut c = Command::new(&me);
        c.args(["ps", "--name", &name])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        spawn_cmd(c).finish(None)
    };
    let alone = ps(&[]);
    assert_eq!((alone.code(), alone.out.as_str()), (1, ""), "{alone:?}");
    let exact = ps(&["--exact"]);
    assert_eq!(exact.code(), 1, "{exact:?}");
    assert_eq!(exact.out, format!("{name}: not running\n"));
    assert_eq!(ps(&["--count"]).out, "0\n");
    assert_eq!(ps(&["-o", "pid"]).out, "");
    // Another process of that name is found, and only it.
    let other = tempfile::tempdir().unwrap();
    let exe = other.path().join(&name);
    std::fs::copy("/bin/sleep", &exe).unwrap();
    let mut child = Command::new(&exe).arg("100").spawn().unwrap();
    let pid = child.id().to_string();
    let deadline = Instant::now() + WATCHDOG;
    let f = loop {
        // Until it has exec'd, the child's name is still the test's.
        let f = ps(&["-o", "pid"]);
        if f.code() == 0 || Instant::now() > deadline {
            break f;
        }
        thread::sleep(Duration::from_millis(10));
    };
    let exact = ps(&["--exact"]);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(f.out, format!("{pid}\n"), "{f:?}");
    assert_eq!((exact.code(), exact.out), (0, format!("{name}: running\n")));
}

/// Why a test that needs another uid cannot run here, if it cannot.
fn cannot_switch_uid() -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some("not root: cannot run procrun as another uid".into());
    }
    for tool in ["setpriv", "prlimit"] {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Some(format!("no {tool} (util-linux) on this machine"));
        }
    }
    None
}

/// Runs procrun as a uid that owns no process on this host (so that a
/// process limit counts procrun's own tasks alone), optionally under
/// `RLIMIT_NPROC = nproc`. The binary is copied to a world-readable
/// directory first: the checkout may sit under one the uid cannot enter.
fn procrun_as_nobody(args: &[&str], nproc: Option<u32>) -> Finished {
    const UID: &str = "2000000123";
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("procrun");
    common::install_executable(Path::new(BIN), &bin);
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut cmd = Command::new("prlimit");
    if let Some(n) = nproc {
        cmd.arg(format!("--nproc={n}"));
    }
    cmd.args(["setpriv", "--reuid", UID, "--regid", UID, "--clear-groups"])
        .arg(&bin)
        .args(args)
        .current_dir("/")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    spawn_cmd(cmd).finish(None)
}

#[test]
fn unreadable_script_exits_2_naming_the_file_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.sh");
    let as_dir = dir.path().join("a-directory");
    std::fs::create_dir(&as_dir).unwrap();
    for (path, reason) in [
        (&missing, "No such file or directory"),
        (&as_dir, "is a directory"),
    ] {
        let f = procrun(&["run", "--script", path.to_str().unwrap()]);
        assert_eq!(f.code(), 2, "{path:?}: {f:?}");
        assert_eq!(f.out, "", "{path:?}");
        assert_eq!(f.err.lines().count(), 1, "{path:?}: {:?}", f.err);
        assert!(
            f.err.starts_with("procrun: ")
                && f.err.contains(path.to_str().unwrap())
                && f.err.contains(reason),
            "{path:?}: {:?}",
            f.err
        );
    }
    // Root reads any file: the unreadable case needs another uid.
    if let Some(why) = cannot_switch_uid() {
        eprintln!("skipped (unreadable file case): {why}");
        return;
    }
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let secret = dir.path().join("secret.sh");
    std::fs::write(&secret, "echo should-not-run\n").unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let f = procrun_as_nobody(&["run", "--script", secret.to_str().unwrap()], None);
    assert_eq!(f.code(), 2, "{f:?}");
    assert_eq!(f.out, "");
    assert_eq!(f.err.lines().count(), 1, "{:?}", f.err);
    assert!(
        f.err.contains(secret.to_str().unwrap()) && f.err.contains("Permission denied"),
        "{:?}",
        f.err
    );
}

#[test]
fn process_limit_at_spawn_exits_1_as_a_failure_of_procrun() {
    if let Some(why) = cannot_switch_uid() {
        eprintln!("skipped: {why}");
        return;
    }
    // Two tasks: procrun's main thread and its signal thread; the child
    // would be the third.
    let f = procrun_as_nobody(&["run", "--", "true"], Some(2));
    assert!(
        f.err.contains("Resource temporarily unavailable"),
        "not the process limit: {f:?}"
    );
    assert_eq!(f.code(), 1, "{f:?}");
    assert_eq!(f.err.lines().count(), 1, "{:?}", f.err);
}

#[test]
fn huge_max_line_is_accepted() {
    // Without a newline, "hi" is carried over to the end of the stream: the
    // path where a limit near usize::MAX must not overflow.
    for (program, text) in [("echo", "hi"), ("printf", "hi")] {
        let f = procrun(&[
            "run",
            "--max-line",
            "18446744073709551615",
            "--",
            program,
            text,
        ]);
        assert_eq!(f.code(), 0, "{program}: {f:?}");
        assert_eq!(f.out, format!("{program} | hi\n"));
    }
}

/// A procrun whose stdout is a pipe the test holds open and never reads;
/// its stderr is read line by line.
struct Unread {
    child: Child,
    /// Held, never read: the reader exists, so writes block rather than fail.
    unread: std::os::fd::OwnedFd,
    lines: Receiver<String>,
    err: String,
    /// The process group of procrun's child, once known, for the cleanup.
    child_group: Option<u32>,
}

impl Unread {
    fn spawn(args: &[&str]) -> Unread {
        let mut child = procrun_cmd(args).spawn().expect("spawn procrun");
        let unread = child.stdout.take().unwrap().into();
        let err = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Unread {
            child,
            unread,
            lines,
            err: String::new(),
            child_group: None,
        }
    }

    /// As `spawn`, with stderr the same unread pipe as stdout (`2>&1`).
    fn spawn_shared(args: &[&str]) -> Unread {
        let (unread, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let child = procrun_cmd(args)
            .stdout(w.try_clone().unwrap())
            .stderr(w)
            .spawn()
            .expect("spawn procrun");
        let (_, lines) = mpsc::channel();
        Unread {
            child,
            unread,
            lines,
            err: String::new(),
            child_group: None,
        }
    }

    /// Waits for procrun's (first) child to exist; its pid (and group).
    fn wait_child(&mut self) -> u32 {
        let path = format!("/proc/{0}/task/{0}/children", self.child.id());
        let deadline = Instant::now() + WATCHDOG;
        loop {
            let children = std::fs::read_to_string(&path).unwrap();
            if let Some(pid) = children.split_whitespace().next() {
                let pid = pid.parse().unwrap();
                self.child_group = Some(pid);
                return pid;
            }
            assert!(
                Instant::now() < deadline,
                "watchdog: procrun starts nothing"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the note of the child's start; its pid (and group).
    fn wait_started(&mut self) -> u32 {
        let deadline = Instant::now() + WATCHDOG;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("watchdog ({e:?}): no start; stderr {:?}", self.err));
            self.err.push_str(&line);
            self.err.push('\n');
            if let Some(rest) = line.split_once("started (pid ").map(|(_, r)| r) {
                let pid: u32 = rest.trim_end_matches(')').parse().unwrap();
                self.child_group = Some(pid);
                return pid;
            }
        }
    }

    /// Waits until the pipe is full: procrun can write no more, and
    /// (before the fix) sits blocked in write. Full is every page slot
    /// taken, which FIONREAD cannot show: a write shorter than a page (a
    /// small burst, or one cut at a line end) takes a slot of its own, so
    /// a full pipe may hold less than its size. So: within a page of the
    /// size, or past half of it and still for 100 ms.
    fn wait_pipe_full(&self) {
        let size = rustix::pipe::fcntl_getpipe_size(&self.unread).unwrap() as u64;
        let deadline = Instant::now() + WATCHDOG;
        let (mut last, mut still) = (0, 0);
        loop {
            let unread = rustix::io::ioctl_fionread(&self.unread).unwrap();
            if unread + 4096 >= size {
                return;
            }
            still = if unread == last { still + 1 } else { 0 };
            last = unread;
            if unread >= size / 2 && still >= 10 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "watchdog: the pipe holds only {unread} of {size} bytes"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn signal(&self, sig: &str) {
        common::send_signal(self.child.id(), sig);
    }

    /// Waits at most `bound` for procrun to exit; its status. Everything
    /// procrun wrote to stderr is in `err` then: a note written just before
    /// its exit is still in the pipe when the exit is seen, so stderr is
    /// read to its end (the reader thread's EOF) before returning.
    fn wait_exit(&mut self, bound: Duration) -> ExitStatus {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                self.read_err_to_end();
                return st;
            }
            while let Ok(l) = self.lines.try_recv() {
                self.err.push_str(&l);
                self.err.push('\n');
            }
            assert!(
                Instant::now() < deadline,
                "procrun still runs {bound:?} after the signal; stderr {:?}",
                self.err
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Unread {
    /// Collects the rest of procrun's stderr, up to its EOF (with the
    /// watchdog: a process that inherited it could hold it open).
    fn read_err_to_end(&mut self) {
        let deadline = Instant::now() + WATCHDOG;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.err.push_str(&l);
                    self.err.push('\n');
                }
                Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("watchdog: procrun's stderr never ended; {:?}", self.err)
                }
            }
        }
    }
}

impl Drop for Unread {
    fn drop(&mut self) {
        // Only on a failing test. procrun is killed first so that it cannot
        // start anything more; its child leads its own group, which is
        // killed while it still exists (checked by its leader's group id).
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(g) = self.child_group {
            if !group_members(&HashSet::from([g])).is_empty() {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{g}")])
                    .status();
            }
        }
    }
}

/// procrun takes at most this long to act on a signal and exit (a stop,
/// plus the wait for a stdout nobody reads, 3 s by default).
const SIGNAL_BOUND: Duration = Duration::from_secs(20);

#[test]
fn sigterm_stops_the_child_while_stdout_is_a_full_pipe() {
    let mut p = Unread::spawn(&["run", "--", "yes"]);
    let yes = p.wait_started();
    p.wait_pipe_full();
    p.signal("TERM");
    let status = p.wait_exit(SIGNAL_BOUND);
    assert_eq!(status.code(), Some(143), "stderr {:?}", p.err);
    wait_group_gone(yes);
}

#[test]
fn second_sigterm_kills_at_once_while_stdout_is_a_full_pipe() {
    // The child ignores SIGTERM, and the grace outlasts the bound: only the
    // second signal's SIGKILL can end it in time.
    let mut p = Unread::spawn(&[
        "run",
        "--grace",
        "1h",
        "--",
        "sh",
        "-c",
        "trap '' TERM; exec yes",
    ]);
    let yes = p.wait_started();
    p.wait_pipe_full();
    p.signal("TERM");
    // The first signal must have been acted on (the stop sent) before the
    // second counts as "again"; its note on stderr says so.
    let deadline = Instant::now() + SIGNAL_BOUND;
    while !p.err.contains("SIGTERM received") {
        let left = deadline.saturating_duration_since(Instant::now());
        match p.lines.recv_timeout(left) {
            Ok(l) => {
                p.err.push_str(&l);
                p.err.push('\n');
            }
            Err(e) => panic!("watchdog ({e:?}): first SIGTERM not acted on; {:?}", p.err),
        }
    }
    p.signal("TERM");
    let status = p.wait_exit(SIGNAL_BOUND);
    assert_eq!(status.code(), Some(143), "stderr {:?}", p.err);
    assert!(p.err.contains("killing now"), "{:?}", p.err);
    wait_group_gone(yes);
}

#[test]
fn sigterm_stops_the_child_while_stdout_and_stderr_share_a_full_pipe() {
    // Notes go to stderr: writing them must not block procrun either.
    let mut p = Unread::spawn_shared(&["run", "--", "yes"]);
    let yes = p.wait_child();
    p.wait_pipe_full();
    p.signal("TERM");
    let status = p.wait_exit(SIGNAL_BOUND);
    assert_eq!(status.code(), Some(143));
    wait_group_gone(yes);
}

#[test]
fn restart_always_brings_back_a_run_that_exited_zero() {
    let f = procrun(&[
        "run",
        "--restart",
        "always",
        "--restart-limit",
        "2",
        "--restart-interval",
        "100ms",
        "--",
        "sh",
        "-c",
        "echo run",
    ]);
    assert_eq!(f.code(), 0, "{f:?}");
    assert_eq!(f.out, "sh | run\n".repeat(3));
    assert_eq!(f.err.matches("restarting in 100ms").count(), 2, "{}", f.err);
    assert!(f.err.contains("restart limit reached"), "{}", f.err);
}

#[test]
fn restart_on_error_spelled_either_way_leaves_a_success_alone() {
    for flag in [&["--restart", "on-error"][..], &["--restart-on-error"]] {
        let mut args = vec!["run"];
        args.extend_from_slice(flag);
        args.extend_from_slice(&["--restart-interval", "100ms", "--", "sh", "-c", "echo run"]);
        let f = procrun(&args);
        assert_eq!(f.code(), 0, "{flag:?}: {f:?}");
        assert_eq!(f.out, "sh | run\n", "{flag:?}");
        assert!(!f.err.contains("restarting"), "{flag:?}: {}", f.err);
    }
    let f = procrun(&["run", "--restart", "sometimes", "--", "true"]);
    assert_eq!(f.code(), 2, "{f:?}");
    assert!(
        f.err.contains("possible values: on-error, always"),
        "{}",
        f.err
    );
}

#[test]
fn run_help_names_both_restart_policies() {
    let f = procrun(&["run", "--help"]);
    assert_eq!(f.code(), 0);
    for want in [
        "--restart <WHEN>",
        "'always'",
        "'on-error'",
        "--restart-on-error",
    ] {
        assert!(f.out.contains(want), "{want}: {}", f.out);
    }
}

/// The pid in the first `started (pid N)` note.
fn started_pid(err: &str) -> u32 {
    let rest = err
        .split_once("started (pid ")
        .unwrap_or_else(|| panic!("no start in {err:?}"))
        .1;
    rest[..rest.find(')').unwrap()].parse().unwrap()
}

/// One line on stderr, nothing on stdout, the given status.
/// procrun exited 0 having printed exactly `out`.
#[track_caller]
fn assert_success_printing(f: &Finished, out: &str) {
    assert_eq!((f.code(), f.out.as_str()), (0, out), "{f:?}");
}

#[track_caller]
fn assert_one_line_failure(f: &Finished, status: i32, what: &str) {
    assert_eq!(f.code(), status, "{what}: {f:?}");
    assert_eq!(f.out, "", "{what}");
    assert_eq!(f.err.lines().count(), 1, "{what}: {:?}", f.err);
    assert!(f.err.starts_with("procrun: "), "{what}: {:?}", f.err);
}

/// `assert_one_line_failure`, and the line says `what`.
#[track_caller]
fn assert_one_line_failure_saying(f: &Finished, status: i32, what: &str) {
    assert_one_line_failure(f, status, what);
    assert!(f.err.contains(what), "{}", f.err);
}

#[test]
fn program_not_found_exits_127_as_timeout_does() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    for program in ["procrun-test-no-such-program", missing.to_str().unwrap()] {
        let f = procrun(&["run", "--", program]);
        assert_one_line_failure(&f, 127, program);
        assert!(f.err.contains("program not found"), "{}", f.err);
    }
}

#[test]
fn program_that_cannot_execute_exits_126_as_timeout_does() {
    let dir = tempfile::tempdir().unwrap();
    let no_permission = dir.path().join("no-permission");
    std::fs::write(&no_permission, "echo should-not-run\n").unwrap();
    std::fs::set_permissions(
        &no_permission,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let not_a_program = dir.path().join("not-a-program");
    common::write_executable(&not_a_program, b"\x7fELF but not really");
    for (path, reason) in [
        (no_permission.as_path(), "Permission denied"),
        (not_a_program.as_path(), "Exec format error"),
        (dir.path(), "Permission denied"),
    ] {
        let f = procrun(&["run", "--", path.to_str().unwrap()]);
        assert_one_line_failure(&f, 126, reason);
        assert!(f.err.contains(reason), "{}", f.err);
    }
}

#[test]
fn timeout_ended_by_sigkill_after_the_grace_exits_137() {
    // An ignored SIGTERM survives exec: sleep ignores it too.
    let f = procrun(&[
        "run",
        "--timeout",
        "200ms",
        "--grace",
        "200ms",
        "--",
        "sh",
        "-c",
        "trap '' TERM; exec sleep 100",
    ]);
    assert_eq!(f.code(), 137, "{f:?}");
    assert!(f.err.contains("timed out, killed by SIGKILL"), "{}", f.err);
    wait_group_gone(started_pid(&f.err));
}

#[test]
fn timeout_ended_by_the_stop_signal_exits_124_whatever_the_child_says() {
    // The child catches SIGTERM and exits 0: still a timeout, as `timeout`.
    let f = procrun(&[
        "run",
        "--timeout",
        "200ms",
        "--",
        "sh",
        "-c",
        "trap 'exit 0' TERM; echo ready; while :; do sleep 0.05; done",
    ]);
    assert_eq!(f.code(), 124, "{f:?}");
    assert!(f.err.contains("timed out, exited with code 0"), "{}", f.err);
    wait_group_gone(started_pid(&f.err));
}

#[test]
fn preserve_status_exits_with_the_childs_own_status_after_a_timeout() {
    for (script, want) in [
        ("exec sleep 100", 128 + 15),
        ("trap 'exit 5' TERM; while :; do sleep 0.05; done", 5),
    ] {
        let f = procrun(&[
            "run",
            "--preserve-status",
            "--timeout",
            "200ms",
            "--",
            "sh",
            "-c",
            script,
        ]);
        assert_eq!(f.code(), want, "{script}: {f:?}");
        assert!(f.err.contains("timed out"), "{}", f.err);
        wait_group_gone(started_pid(&f.err));
    }
}

#[test]
fn a_job_control_stop_signal_reaches_a_child_that_handles_it() {
    // SIGCONT discards a pending SIGTSTP, SIGTTIN or SIGTTOU: a stop that
    // sent SIGCONT after one lost it, and the child took SIGKILL (137).
    for sig in ["TSTP", "TTIN", "TTOU"] {
        let script = format!("trap 'exit 20' {sig}; sleep 30 & wait");
        let f = procrun(&[
            "run",
            "-t",
            "300ms",
            "-k",
            "10s",
            "-s",
            sig,
            "--preserve-status",
            "--",
            "sh",
            "-c",
            &script,
        ]);
        assert_eq!(f.code(), 20, "{sig}: {f:?}");
        assert!(
            f.err.contains("timed out, exited with code 20"),
            "{}",
            f.err
        );
    }
    // The issue's own reproduction, where perl is installed.
    let perl = Command::new("perl")
        .args(["-e", "1"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !perl {
        eprintln!("perl is not installed: its reproduction is skipped");
        return;
    }
    let f = procrun(&[
        "run",
        "-t",
        "300ms",
        "-k",
        "10s",
        "-s",
        "TSTP",
        "--preserve-status",
        "--",
        "perl",
        "-e",
        "$SIG{TSTP}=sub{print \"got\\n\"; exit 20}; sleep 10",
    ]);
    assert_eq!(f.code(), 20, "{f:?}");
    assert!(f.out.contains("got"), "{f:?}");
}

#[test]
fn run_help_documents_the_exit_statuses() {
    let f = procrun(&["run", "--help"]);
    for want in ["124", "126", "127", "137", "--preserve-status"] {
        assert!(f.out.contains(want), "{want}: {}", f.out);
    }
}

#[test]
fn signal_option_names_the_stop_signal_of_a_timeout() {
    for (sig, name, status) in [
        ("INT", "SIGINT", 124),
        ("SIGHUP", "SIGHUP", 124),
        ("9", "SIGKILL", 137),
    ] {
        let f = procrun(&["run", "-t", "200ms", "-s", sig, "--", "sleep", "100"]);
        assert_eq!(f.code(), status, "{sig}: {f:?}");
        assert!(
            f.err.contains(&format!("timed out, killed by {name}")),
            "{sig}: {}",
            f.err
        );
        wait_group_gone(started_pid(&f.err));
    }
    let f = procrun(&["run", "--signal", "NOPE", "--", "true"]);
    assert_one_line_failure_saying(&f, 2, "unknown signal");
}

#[test]
fn kill_after_is_the_grace_before_sigkill() {
    let start = Instant::now();
    let f = procrun(&[
        "run",
        "--timeout=200ms",
        "-k300ms",
        "--",
        "sh",
        "-c",
        "trap '' TERM; exec sleep 100",
    ]);
    assert_eq!(f.code(), 137, "{f:?}");
    assert!(start.elapsed() >= Duration::from_millis(500), "{f:?}");
    assert!(start.elapsed() < Duration::from_secs(30), "{f:?}");
    wait_group_gone(started_pid(&f.err));
}

#[test]
fn compound_durations_are_accepted() {
    let f = procrun(&["run", "--timeout", "0m0.2s", "--", "sleep", "100"]);
    assert_eq!(f.code(), 124, "{f:?}");
    wait_group_gone(started_pid(&f.err));
    let f = procrun(&["run", "--timeout", "1m30", "--", "true"]);
    assert_one_line_failure(&f, 2, "1m30");
}

#[test]
fn a_mistyped_flag_gets_a_suggestion() {
    for (typo, near) in [
        ("--timout", "--timeout"),
        ("-timeout", "--timeout"),
        ("--kill-afer", "--kill-after"),
    ] {
        let f = procrun(&["run", typo, "1s", "--", "true"]);
        assert_one_line_failure(&f, 2, typo);
        assert!(
            f.err.contains(&format!("did you mean {near}?")),
            "{typo}: {}",
            f.err
        );
    }
    let f = procrun(&["run", "--wobble", "--", "true"]);
    assert_one_line_failure(&f, 2, "--wobble");
    assert!(!f.err.contains("did you mean"), "{}", f.err);
}

/// procrun run with `input` on its stdin (a pipe, closed after it).
fn procrun_with_stdin(args: &[&str], input: &str) -> Finished {
    let mut cmd = procrun_cmd(args);
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn procrun");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_owned();
    // A thread, so that a child that never reads cannot block the test.
    thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let read = |mut r: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let (out, err) = (read(Box::new(out)), read(Box::new(err)));
    let status = wait_child(&mut child, "procrun did not exit");
    Finished {
        status,
        out: out.join().unwrap(),
        err: err.join().unwrap(),
        since_signal: None,
    }
}

#[test]
fn stdin_is_null_unless_inherited() {
    let f = procrun_with_stdin(&["run", "--", "cat"], "hi\n");
    assert_success_printing(&f, "");
    let f = procrun_with_stdin(&["run", "--stdin", "null", "--", "cat"], "hi\n");
    assert_success_printing(&f, "");
    let f = procrun_with_stdin(&["run", "--stdin", "inherit", "--", "cat"], "hi\nthere\n");
    assert_eq!(f.code(), 0, "{f:?}");
    assert_eq!(f.out, "cat | hi\ncat | there\n");
    let help = procrun(&["run", "--help"]);
    assert!(help.out.contains("--stdin <WHEN>"), "{}", help.out);
    assert!(help.out.contains("[default: null]"), "{}", help.out);
    let f = procrun(&["run", "--stdin", "tty", "--", "true"]);
    assert_one_line_failure(&f, 2, "--stdin tty");
}

#[test]
fn quiet_with_an_output_file_still_writes_the_lines_there() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.log");
    let f = procrun(&[
        "run",
        "-q",
        "--output",
        file.to_str().unwrap(),
        "--",
        "echo",
        "kept",
    ]);
    assert_eq!((f.code(), f.out.as_str(), f.err.as_str()), (0, "", ""));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "echo | kept\n");
}

#[test]
fn timestamps_wall_prefix_lines_and_notes_with_utc_time() {
    let minute = || {
        let out = Command::new("date")
            .args(["-u", "+%Y-%m-%dT%H:%M"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let before = minute();
    let f = procrun(&["run", "--timestamps=wall", "--", "echo", "hi"]);
    let after = minute();
    assert_eq!(f.code(), 0, "{f:?}");
    let (stamp, rest) = f.out.split_once(' ').unwrap();
    assert_eq!(rest, "echo | hi\n");
    // 2024-05-01T09:30:00.250Z
    assert_eq!(stamp.len(), 24, "{stamp}");
    assert!(stamp.ends_with('Z') && &stamp[19..20] == ".", "{stamp}");
    assert!(
        stamp[..16] == before || stamp[..16] == after,
        "{stamp} not {before} or {after}"
    );
    for note in f.err.lines() {
        assert_eq!(note.split_once(' ').unwrap().0.len(), 24, "{note}");
    }
    let f = procrun(&["run", "--timestamps=elapsed", "--", "echo", "hi"]);
    assert!(f.out.trim_start().starts_with("0."), "{}", f.out);
    let f = procrun(&["run", "--timestamps=local", "--", "true"]);
    assert_one_line_failure(&f, 2, "--timestamps=local");
}

#[test]
fn color_always_and_never_whatever_the_stream() {
    let f = procrun(&[
        "run",
        "--color",
        "always",
        "--",
        "sh",
        "-c",
        "echo o; echo e >&2",
    ]);
    assert!(f.out.contains("\x1b[36msh |\x1b[0m o"), "{:?}", f.out);
    assert!(f.err.contains("\x1b[36msh *"), "{:?}", f.err);
    let f = procrun(&["run", "--color=never", "--", "echo", "x"]);
    assert_eq!(f.out, "echo | x\n");
    let f = procrun(&["run", "--color", "sometimes", "--", "true"]);
    assert_one_line_failure(&f, 2, "--color sometimes");
}

#[test]
fn color_auto_on_a_terminal_unless_term_is_dumb_or_no_color_is_set() {
    // `script` gives procrun a terminal for its stdout and stderr.
    let has_script = Command::new("script")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_script {
        eprintln!("skipped: no script (util-linux) to give procrun a terminal");
        return;
    }
    let on_tty = |args: &str, env: &[(&str, &str)]| -> String {
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &format!("{BIN} run {args} -- echo hi"), "/dev/null"])
            .env_remove("NO_COLOR")
            .env("TERM", "xterm")
            .stdin(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = on_tty("", &[]);
    assert!(coloured.contains("echo |\x1b[0m hi"), "{coloured:?}");
    for (args, env, why) in [
        ("", &[("TERM", "dumb")][..], "TERM=dumb"),
        ("", &[("NO_COLOR", "1")][..], "NO_COLOR=1"),
        ("--color never", &[][..], "--color never"),
    ] {
        let plain = on_tty(args, env);
        assert!(plain.contains("echo | hi"), "{why}: {plain:?}");
        assert!(!plain.contains('\x1b'), "{why}: {plain:?}");
    }
}

/// Two copies of sleep running under `name`, killed and reaped on drop.
struct Sleepers(Vec<Child>);

impl Sleepers {
    fn start(dir: &Path, name: &str) -> Sleepers {
        let exe = dir.join(name);
        std::fs::copy("/bin/sleep", &exe).unwrap();
        Sleepers(
            (0..2)
                .map(|_| Command::new(&exe).arg("100").spawn().unwrap())
                .collect(),
        )
    }

    fn pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self.0.iter().map(Child::id).collect();
        pids.sort_unstable();
        pids
    }
}

impl Drop for Sleepers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `ps --name NAME -o pid` once both sleepers have exec'd (until then
/// their name is still the test's).
fn wait_both_named(name: &str, want: &[u32]) -> Finished {
    let deadline = Instant::now() + WATCHDOG;
    loop {
        let f = procrun(&["ps", "--name", name, "-o", "pid"]);
        if f.out.lines().count() == want.len() || Instant::now() > deadline {
            return f;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn ps_name_lists_every_match_and_o_pid_prints_pids_alone() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("prm{}", std::process::id());
    let sleepers = Sleepers::start(dir.path(), &name);
    let want = sleepers.pids();
    let f = wait_both_named(&name, &want);
    assert_eq!(f.code(), 0, "{f:?}");
    let pids: Vec<u32> = f.out.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(pids, want, "{}", f.out);
    let table = procrun(&["ps", "--name", &name]);
    let rows: Vec<(u32, String)> = table
        .out
        .lines()
        .skip(1)
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (cols[0].parse().unwrap(), cols[2].to_owned())
        })
        .collect();
    assert_eq!(
        rows,
        want.iter().map(|&p| (p, name.clone())).collect::<Vec<_>>()
    );
    let short = procrun(&["ps", "--name", &name, "-opid"]);
    assert_eq!(short.out, f.out);
    drop(sleepers);
    let gone = procrun(&["ps", "--name", &name, "-o", "pid"]);
    assert_eq!((gone.code(), gone.out.as_str()), (1, ""));
}

#[test]
fn ps_json_is_an_array_of_objects_with_names_escaped() {
    let dir = tempfile::tempdir().unwrap();
    // A quote and a backslash, which JSON must escape.
    let name = format!("p\"j\\{}", std::process::id() % 100_000);
    let sleepers = Sleepers::start(dir.path(), &name);
    let want = sleepers.pids();
    wait_both_named(&name, &want);
    let f = procrun(&["ps", "--name", &name, "--json"]);
    assert_eq!(f.code(), 0, "{f:?}");
    let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
    let mut expected = String::from("[\n");
    for (i, pid) in want.iter().enumerate() {
        let sep = if i + 1 < want.len() { "," } else { "" };
        expected.push_str(&format!(
            "  {{\"pid\": {pid}, \"state\": \"sleep\", \"comm\": \"{escaped}\"}}{sep}\n"
        ));
    }
    expected.push_str("]\n");
    assert_eq!(f.out, expected);
    let none = procrun(&["ps", "--name", "procrun-test-no-such-name", "--json"]);
    assert_eq!((none.code(), none.out.as_str()), (1, "[]\n"));
    // And a real JSON parser agrees, where there is one.
    let check = format!(
        "import json,sys; d=json.load(sys.stdin); \
         assert [p['pid'] for p in d] == {want:?}, d; \
         assert all(p['comm'] == sys.argv[1] for p in d), d"
    );
    let mut py = match Command::new("python3")
        .args(["-c", &check, &name])
        .stdin(Stdio::piped())
        .spawn()
    {
        Ok(py) => py,
        Err(e) => {
            eprintln!("skipped (parsing with python3): {e}");
            return;
        }
    };
    {
        use std::io::Write;
        py.stdin
            .take()
            .unwrap()
            .write_all(f.out.as_bytes())
            .unwrap();
    }
    assert!(py.wait().unwrap().success(), "python3 rejects {:?}", f.out);
    let all = procrun(&["ps", "--json"]);
    let mut py = Command::new("python3")
        .args([
            "-c",
            "import json,sys; assert len(json.load(sys.stdin)) > 0",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        py.stdin
            .take()
            .unwrap()
            .write_all(all.out.as_bytes())
            .unwrap();
    }
    assert!(py.wait().unwrap().success(), "python3 rejects ps --json");
}

#[test]
fn ps_formats_exclude_each_other_and_counts() {
    for args in [
        &["ps", "-o", "pid", "--json"][..],
        &["ps", "--count", "--json"],
        &["ps", "--name", "x", "--exact", "-o", "pid"],
        &["ps", "-o", "comm"],
    ] {
        let f = procrun(args);
        assert_one_line_failure(&f, 2, &format!("{args:?}"));
    }
}

/// A directory holding `files` (name, text), for `procrun start` to run in.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write file");
    }
    dir
}

/// `procrun ARGS` run to its end in `dir`.
fn procrun_in(dir: &Path, args: &[&str]) -> Finished {
    let mut cmd = procrun_cmd(args);
    cmd.current_dir(dir);
    spawn_cmd(cmd).finish(None)
}

/// The pid `procrun` printed for `name`'s start (its note on stderr).
fn started_pid_of(err: &str, name: &str) -> u32 {
    let line = err
        .lines()
        .find(|l| l.starts_with(name) && l.contains("* started (pid "))
        .unwrap_or_else(|| panic!("no start of {name} in {err}"));
    started_pid(line)
}

#[test]
fn start_stops_the_others_when_one_ends_and_exits_with_its_status() {
    let dir = project(&[(
        "Procfile",
        "# two servers and a job that fails\n\
         web: exec sleep 100\n\
         \n\
         worker: exec sleep 100\n\
         job: echo working; exit 3\n",
    )]);
    let f = procrun_in(dir.path(), &["start", "-k", "10s"]);
    assert_eq!(f.code(), 3, "{f:?}");
    assert_eq!(f.out, "job    | working\n");
    assert!(
        f.err.contains("job ended: stopping 2 processes"),
        "{}",
        f.err
    );
    assert_eq!(
        f.err.matches("stopped, killed by SIGTERM").count(),
        2,
        "{}",
        f.err
    );
    for name in ["web", "worker"] {
        wait_group_gone(started_pid_of(&f.err, name));
    }
}

#[test]
fn start_exits_0_when_the_first_to_end_succeeded() {
    let dir = project(&[("Procfile", "web: exec sleep 100\nonce: true\n")]);
    let f = procrun_in(dir.path(), &["start"]);
    assert_eq!(f.code(), 0, "{f:?}");
    assert!(
        f.err.contains("web  * stopped, killed by SIGTERM"),
        "{}",
        f.err
    );
    wait_group_gone(started_pid_of(&f.err, "web"));
}

#[test]
fn start_runs_only_the_entries_named() {
    let dir = project(&[("Procfile", "a: echo from a\nb: echo from b\nc: exit 9\n")]);
    let f = procrun_in(dir.path(), &["start", "b"]);
    assert_success_printing(&f, "b | from b\n");
    let f = procrun_in(dir.path(), &["start", "-f", "Procfile", "nope"]);
    assert_one_line_failure(&f, 2, "no entry 'nope' in Procfile");
}

#[test]
fn start_sets_every_entrys_environment_from_dot_env() {
    let dir = project(&[
        (
            "Procfile",
            "one: echo \"1 $GREETING/$WHO\"\ntwo: sleep 100\n",
        ),
        (
            ".env",
            "# greetings\nexport GREETING=\"hello there\"\nWHO='$HOME' # literal\n",
        ),
        ("other.env", "GREETING=hi\nWHO=you\n"),
    ]);
    let f = procrun_in(dir.path(), &["start"]);
    assert_eq!(f.code(), 0, "{f:?}");
    assert_eq!(f.out, "one | 1 hello there/$HOME\n");
    wait_group_gone(started_pid_of(&f.err, "two"));
    let f = procrun_in(dir.path(), &["start", "-e", "other.env", "one"]);
    assert_success_printing(&f, "one | 1 hi/you\n");
}

#[test]
fn start_with_a_missing_env_file_exits_2_naming_it() {
    let dir = project(&[("Procfile", "web: true\n")]);
    let f = procrun_in(dir.path(), &["start", "-e", "missing.env"]);
    assert_one_line_failure(&f, 2, "missing.env");
    // Without -e, no .env is no error.
    let f = procrun_in(dir.path(), &["start"]);
    assert_eq!(f.code(), 0, "{f:?}");
}

#[test]
fn bad_procfile_and_env_lines_exit_2_naming_file_and_line() {
    let dir = project(&[
        ("Procfile", "web: true\n# fine\nweb server: true\n"),
        ("good", "web: true\n"),
        ("bad.env", "A=1\n\nB='open\n"),
    ]);
    let f = procrun_in(dir.path(), &["start"]);
    assert_one_line_failure(&f, 2, "Procfile:3");
    let f = procrun_in(dir.path(), &["start", "-f", "good", "-e", "bad.env"]);
    assert_one_line_failure(&f, 2, "bad.env:3");
    let f = procrun_in(dir.path(), &["start", "-f", "absent"]);
    assert_one_line_failure(&f, 2, "absent");
    for bad in [&["start", "--name", "a=b"][..], &["start", "--", "true"]] {
        let f = procrun_in(dir.path(), bad);
        assert_one_line_failure(&f, 2, bad[1]);
    }
}

#[test]
fn start_runs_entries_in_the_procfiles_directory_with_its_env_as_foreman() {
    let dir = project(&[(".env", "WHO=top\n")]);
    let app = dir.path().join("app");
    std::fs::create_dir(&app).unwrap();
    std::fs::write(app.join("Procfile"), "where: echo \"${PWD##*/} $WHO\"\n").unwrap();
    std::fs::write(app.join(".env"), "WHO=app\n").unwrap();
    let f = procrun_in(dir.path(), &["start", "-f", "app/Procfile"]);
    assert_success_printing(&f, "where | app app\n");
    // -e names a file from procrun's own directory, as foreman has it.
    let f = procrun_in(dir.path(), &["start", "-f", "app/Procfile", "-e", ".env"]);
    assert_success_printing(&f, "where | app top\n");
}

#[test]
fn start_root_is_where_entries_run_and_the_procfile_and_env_are_as_foreman_d() {
    let dir = project(&[("Procfile", "top: echo \"top ${PWD##*/} $WHO\"\n")]);
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(
        root.join("Procfile"),
        "inner: echo \"inner ${PWD##*/} $WHO\"\n",
    )
    .unwrap();
    std::fs::write(root.join(".env"), "WHO=root-env\n").unwrap();
    // --root alone: its Procfile, its .env, run there.
    let f = procrun_in(dir.path(), &["start", "--root", "root"]);
    assert_success_printing(&f, "inner | inner root root-env\n");
    // With -f: that Procfile, run in the root with the root's .env.
    let f = procrun_in(dir.path(), &["start", "-d", "root", "-f", "Procfile"]);
    assert_success_printing(&f, "top | top root root-env\n");
    let f = procrun_in(dir.path(), &["start", "-d", "missing"]);
    assert_one_line_failure(&f, 2, "missing root");
    // The help says so.
    let help = procrun(&["start", "--help"]).out;
    assert!(help.contains("--root <DIR>"), "{help}");
}

#[test]
fn a_nul_byte_in_a_procfile_or_env_file_names_file_and_line() {
    let dir = project(&[
        ("Procfile", "web: true\njob: echo a\0b\n"),
        ("good", "web: true\n"),
        ("nul.env", "A=1\nB=x\0y\n"),
    ]);
    let f = procrun_in(dir.path(), &["start"]);
    assert_one_line_failure_saying(&f, 2, "Procfile:2: contains a NUL byte");
    let f = procrun_in(dir.path(), &["start", "-f", "good", "-e", "nul.env"]);
    assert_one_line_failure_saying(&f, 2, "nul.env:2: contains a NUL byte");
}

#[test]
fn an_env_file_or_procfile_past_the_size_limit_exits_2_unread_past_it() {
    let dir = project(&[("Procfile", "web: true\n")]);
    // /dev/zero never ends: it must be refused, not read until memory
    // runs out.
    let f = procrun_in(dir.path(), &["start", "-e", "/dev/zero"]);
    assert_one_line_failure_saying(&f, 2, "/dev/zero: larger than 16 MiB");
    let f = procrun_in(dir.path(), &["start", "-f", "/dev/zero"]);
    assert_one_line_failure_saying(&f, 2, "/dev/zero: larger than 16 MiB");
}

#[test]
fn a_procfile_of_100k_entries_is_read_in_linear_time() {
    // A scan of the earlier entries for each took 17 s here; a set, well
    // under a second. The bound allows for a loaded machine.
    let text: String = (0..100_000)
        .map(|i| format!("e{i}: exit {}\n", i % 7))
        .collect();
    let dir = project(&[("Procfile", &text)]);
    let start = Instant::now();
    let f = procrun_in(dir.path(), &["start", "e99995"]);
    assert_eq!(f.code(), 99_995 % 7, "{f:?}");
    assert!(
        start.elapsed() < common::slow(Duration::from_secs(10)),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn start_stops_everything_on_sigterm_and_exits_143() {
    let dir = project(&[(
        "Procfile",
        "a: echo ready; exec sleep 100\nb: echo ready; exec sleep 100\n",
    )]);
    let mut cmd = procrun_cmd(&["start"]);
    cmd.current_dir(dir.path());
    let mut r = spawn_cmd(cmd);
    // The two start at once: their lines come in either order.
    let first = r.wait_line(Src::Out, "| ready");
    r.wait_line(
        Src::Out,
        if first.starts_with('a') {
            "b | ready"
        } else {
            "a | ready"
        },
    );
    let sent = r.signal("TERM");
    let f = r.finish(Some(sent));
    assert_eq!(f.code(), 143, "{f:?}");
    assert_eq!(
        f.err.matches("stopped, killed by SIGTERM").count(),
        2,
        "{}",
        f.err
    );
}

#[test]
fn run_exit_with_first_stops_the_others_and_named_alone_waits_for_all() {
    let f = procrun(&[
        "run",
        "--exit-with-first",
        "--name",
        "server=exec sleep 100",
        "--name",
        "check=exit 4",
    ]);
    assert_eq!(f.code(), 4, "{f:?}");
    assert!(
        f.err.contains("check ended: stopping 1 process"),
        "{}",
        f.err
    );
    assert!(
        f.err.contains("server * stopped, killed by SIGTERM"),
        "{}",
        f.err
    );
    wait_group_gone(started_pid_of(&f.err, "server"));
    // Without it, a success first does not end the others.
    let f = procrun(&[
        "run",
        "--name",
        "slow=sleep 0.3; echo late",
        "--name",
        "fast=true",
    ]);
    assert_success_printing(&f, "slow | late\n");
}

#[test]
fn completions_for_bash_zsh_and_fish_name_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let f = procrun(&["completions", shell]);
        assert_eq!((f.code(), f.err.as_str()), (0, ""), "{shell}");
        // Options without their dashes: fish spells them `-l timeout`.
        for word in ["run", "start", "ps", "timeout", "procfile", "json"] {
            assert!(f.out.contains(word), "{shell}: no {word}");
        }
    }
    let f = procrun(&["completions", "tcsh"]);
    assert_one_line_failure(&f, 2, "completions tcsh");
}

#[test]
fn man_pages_are_roff_for_procrun_and_each_subcommand() {
    let f = procrun(&["man"]);
    assert_eq!((f.code(), f.err.as_str()), (0, ""));
    assert!(f.out.contains(".TH procrun 1"), "{}", f.out);
    for sub in ["run", "start", "ps"] {
        assert!(f.out.contains(&format!("procrun\\-{sub}(1)")), "{sub}");
    }
    for (sub, option) in [
        ("run", "\\-\\-timeout"),
        ("start", "\\-\\-procfile"),
        ("ps", "\\-\\-json"),
    ] {
        let f = procrun(&["man", sub]);
        assert_eq!(f.code(), 0, "{sub}");
        assert!(f.out.contains(&format!(".TH procrun-{sub} 1")), "{}", f.out);
        assert!(f.out.contains(option), "{sub}: {}", f.out);
    }
    let f = procrun(&["man", "nope"]);
    assert_one_line_failure(&f, 2, "man nope");
}

#[test]
fn man_pages_of_run_and_start_name_the_grace_alias_as_help_and_completions_do() {
    for sub in ["run", "start"] {
        let help = procrun(&[sub, "--help"]);
        assert!(help.out.contains("--grace"), "{sub} --help: {}", help.out);
        let man = procrun(&["man", sub]);
        assert_eq!(man.code(), 0, "{sub}");
        assert!(man.out.contains("\\-\\-grace"), "man {sub}: {}", man.out);
    }
    for shell in ["bash", "zsh", "fish"] {
        let f = procrun(&["completions", shell]);
        assert!(f.out.contains("grace"), "{shell}");
    }
}

#[test]
fn a_signal_ignored_when_procrun_starts_stays_ignored() {
    // As `nohup` or a non-interactive shell's background job leaves it: the
    // ignored disposition survives exec, and procrun must not take it back.
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "trap '' INT; exec \"$0\" run -- sh -c 'echo ready; sleep 1; echo done'",
        BIN,
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut r = spawn_cmd(cmd);
    r.wait_line(Src::Out, "sh | ready");
    let sent = r.signal("INT");
    let f = r.finish(Some(sent));
    assert_eq!(f.code(), 0, "{f:?}");
    assert!(f.out.ends_with("sh | done\n"), "{f:?}");
    assert!(!f.err.contains("SIGINT received"), "{}", f.err);
}

#[test]
fn a_timeout_while_waiting_to_restart_exits_124_and_says_so() {
    // `false` fails at once and would restart in a minute; the timeout
    // comes first, during the wait.
    let args = [
        "run",
        "-t",
        "1",
        "--restart",
        "on-error",
        "--restart-interval",
        "60s",
        "--",
        "false",
    ];
    let f = procrun(&args);
    assert_eq!(f.code(), 124, "{f:?}");
    assert!(
        f.err
            .contains("false * exited with code 1, restarting in 60s"),
        "{}",
        f.err
    );
    assert!(
        f.err.contains("false * timed out while waiting to restart"),
        "{}",
        f.err
    );
    let mut preserved = vec!["run", "--preserve-status"];
    preserved.extend_from_slice(&args[1..]);
    assert_eq!(procrun(&preserved).code(), 1);
}

#[test]
fn a_restart_interval_past_any_clock_waits_until_stopped_as_a_long_one_does() {
    // 5000000h fits the clock, u64::MAX seconds do not: both are a restart
    // that never comes, which the timeout ends (124, not the exit's 3).
    for interval in ["18446744073709551615s", "5000000h"] {
        let start = Instant::now();
        let f = procrun(&[
            "run",
            "-t",
            "500ms",
            "--restart-interval",
            interval,
            "--",
            "sh",
            "-c",
            "exit 3",
        ]);
        assert_eq!(f.code(), 124, "{interval}: {f:?}");
        assert!(start.elapsed() >= Duration::from_millis(500), "{interval}");
        assert!(
            f.err.contains("sh * timed out while waiting to restart"),
            "{interval}: {}",
            f.err
        );
    }
    let f = procrun(&[
        "run",
        "-t",
        "500ms",
        "--restart-interval",
        "18446744073709551615s",
        "--",
        "sh",
        "-c",
        "exit 3",
    ]);
    assert!(
        f.err
            .contains("sh * exited with code 3, restart never due: waiting until stopped"),
        "{}",
        f.err
    );
    // The help says so.
    let help = procrun(&["run", "--help"]).out.replace('\n', " ");
    assert!(
        help.contains("(18446744073709551615s, 9223372036854775808d) means never")
            && help.contains("a restart never due"),
        "{help}"
    );
}

#[test]
fn a_stop_while_waiting_to_restart_is_said() {
    // `--exit-with-first`: `ok` ends for good and stops `fail`, which waits
    // a minute to restart.
    let f = procrun(&[
        "run",
        "--exit-with-first",
        "--restart",
        "on-error",
        "--restart-interval",
        "60s",
        "--name",
        "fail=exit 3",
        "--name",
        "ok=sleep 1",
    ]);
    assert!(
        f.err.contains("fail * stopped while waiting to restart"),
        "{}",
        f.err
    );
    assert_eq!(f.code(), 0, "exits with the first to end: {f:?}");
}

#[test]
fn sigquit_and_the_user_signals_stop_the_children_instead_of_orphaning_them() {
    for (sig, raw) in [("QUIT", 3), ("USR1", 10), ("USR2", 12), ("ALRM", 14)] {
        let mut r = spawn(&["run", "--", "sh", "-c", "echo $$; exec sleep 100"]);
        let line = r.wait_line(Src::Out, "sh | ");
        let child: u32 = line.trim_start_matches("sh | ").trim().parse().unwrap();
        // Ends the child if procrun did not (the assertion below fails).
        struct Kill(u32);
        impl Drop for Kill {
            fn drop(&mut self) {
                let _ = Command::new("kill")
                    .args(["-9", &self.0.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
        }
        let _guard = Kill(child);
        let sent = r.signal(sig);
        let f = r.finish(Some(sent));
        assert_eq!(f.code(), 128 + raw, "SIG{sig}: {f:?}");
        assert!(f.err.contains(&format!("SIG{sig} received")), "{}", f.err);
        // The child went with it: procrun reaped it before exiting.
        assert!(
            !Path::new(&format!("/proc/{child}")).exists(),
            "SIG{sig}: the child {child} is still there"
        );
    }
}

#[test]
fn stdin_inherit_from_a_terminal_is_refused_not_left_stopped() {
    // procrun on a pseudo-terminal (as in an interactive shell): a child
    // in its own process group would be stopped by its first read.
    let script = r#"
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "run", "--stdin", "inherit", "--", "cat"])
out = b""
while True:
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
_, st = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(st))
"#;
    let mut cmd = Command::new("python3");
    cmd.args(["-c", script, BIN])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let f = spawn_cmd(cmd).finish(None);
    assert_eq!(f.code(), 2, "{f:?}");
    assert!(
        f.out.contains("--stdin inherit: stdin is a terminal"),
        "{f:?}"
    );
}

#[test]
fn the_first_signal_during_an_exit_with_first_stop_keeps_the_grace_the_second_kills() {
    // `a` ends only once `b` ignores SIGTERM, so the stop has to wait.
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("ready");
    let ready = ready.to_str().unwrap();
    let a = format!("a=until [ -e {ready} ]; do sleep 0.01; done; exit 4");
    let b = format!("b=trap '' TERM; touch {ready}; sleep 100");
    let mut r = spawn(&[
        "run",
        "--exit-with-first",
        "--grace",
        "60s",
        "--name",
        &a,
        "--name",
        &b,
    ]);
    r.wait_line(Src::Err, "a ended: stopping");
    r.signal("INT");
    r.wait_line(Src::Err, "SIGINT received: already stopping");
    let sent = r.signal("INT");
    let f = r.finish(Some(sent));
    assert!(
        f.err.contains("SIGINT received again: killing now"),
        "{}",
        f.err
    );
    assert!(f.since_signal.unwrap() < Duration::from_secs(30), "{f:?}");
    assert_eq!(f.code(), 4, "the status of the first to end: {f:?}");
}

/// Waits (with the watchdog) until `path` holds a line containing `needle`.
fn wait_file_line(path: &Path, needle: &str) {
    let deadline = Instant::now() + WATCHDOG;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.lines().any(|l| l.contains(needle)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "watchdog: no line with {needle:?} in {}: {text:?}",
            path.display()
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Whether the numbered lines of `b` in `out` are `b | 1` to `b | n`, in
/// order; the first number missing or out of place if not.
fn seq_lines_whole(out: &str, n: u32) -> Result<(), String> {
    let mut want = 1;
    for l in out.lines() {
        let Some(num) = l.strip_prefix("b | ") else {
            continue;
        };
        if num.starts_with(|c: char| c.is_ascii_digit()) {
            if num != want.to_string() {
                return Err(format!("line {want} expected, got {l:?}"));
            }
            want += 1;
        }
    }
    if want == n + 1 {
        Ok(())
    } else {
        Err(format!("only {} of {n} lines", want - 1))
    }
}

#[test]
fn sigterm_keeps_every_line_of_the_shutdown_output_in_the_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out");
    let r = spawn(&[
        "run",
        "--color",
        "never",
        "--output",
        file.to_str().unwrap(),
        "--name",
        "b=trap 'seq 1 30000; exit 0' TERM; echo ready; while :; do sleep 0.05; done",
    ]);
    wait_file_line(&file, "b | ready");
    let sent = r.signal("TERM");
    let f = r.finish(Some(sent));
    assert_eq!(f.code(), 143, "{f:?}");
    let out = std::fs::read_to_string(&file).unwrap();
    if let Err(why) = seq_lines_whole(&out, 30000) {
        panic!("{why}; stderr {:?}", f.err);
    }
    assert!(!f.err.contains("dropped"), "{:?}", f.err);
}

#[test]
fn exit_with_first_keeps_every_line_of_the_others_shutdown_output_on_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("trapped");
    let flag = flag.to_str().unwrap();
    let a = format!("a=while [ ! -e {flag} ]; do sleep 0.01; done");
    let b =
        format!("b=trap 'seq 1 100000; exit 0' TERM; touch {flag}; while :; do sleep 0.05; done");
    let f = procrun(&[
        "run",
        "--color",
        "never",
        "--exit-with-first",
        "--name",
        &a,
        "--name",
        &b,
    ]);
    assert_eq!(f.code(), 0, "stderr {:?}", f.err);
    if let Err(why) = seq_lines_whole(&f.out, 100000) {
        panic!("{why}; stderr {:?}", f.err);
    }
    assert!(!f.err.contains("dropped"), "{:?}", f.err);
}

/// The first line of `out` that is neither a line of `a` (`a | ` and x's
/// only: the one cut by the stop may be short), a line of a child's
/// stderr, nor a note, if any.
fn first_broken_line(out: &str) -> Option<&str> {
    out.lines().find(|l| {
        let whole = l
            .strip_prefix("a | ")
            .is_some_and(|x| x.bytes().all(|b| b == b'x'));
        let note = ["a ! ", "a * ", "b * ", "procrun: "]
            .iter()
            .any(|p| l.starts_with(p));
        !(whole || note)
    })
}

#[test]
fn notes_never_land_inside_a_line_when_stdout_and_stderr_share_a_slow_pipe() {
    // Lines longer than one atomic write (PIPE_BUF), and notes about b's
    // restarts, into one pipe that the test first leaves full, then reads
    // a page at a time, so that it often has room for a note while a line
    // of a is half written.
    let long = "x".repeat(10_000);
    let a = format!("a=trap 'exit 0' TERM; while :; do echo {long}; done");
    let mut p = Unread::spawn_shared(&[
        "run",
        "--color",
        "never",
        "--exit-with-first",
        "--restart",
        "always",
        "--restart-interval",
        "20ms",
        "--restart-limit",
        "40",
        "--name",
        &a,
        "--name",
        "b=sleep 0.01",
    ]);
    // Full: holding what it will hold (notes take slots of their own, so
    // it may be short of its size).
    let deadline = Instant::now() + WATCHDOG;
    let mut held = 0;
    loop {
        thread::sleep(Duration::from_millis(300));
        let now = rustix::io::ioctl_fionread(&p.unread).unwrap();
        if now > 0 && now == held {
            break;
        }
        held = now;
        assert!(Instant::now() < deadline, "watchdog: the pipe never fills");
    }
    let (status, out) = read_paced(
        &mut p.child,
        std::os::fd::AsFd::as_fd(&p.unread),
        4096,
        Duration::from_micros(50),
    );
    let out = String::from_utf8_lossy(&out);
    assert!(status.success(), "{status:?}");
    assert!(out.contains("b * restarted"), "no note at all");
    if let Some(l) = first_broken_line(&out) {
        let shown = l.replace(&"x".repeat(100), "");
        panic!("a broken line ({} bytes; less x's: {shown:?})", l.len());
    }
}

/// Reads `fd` (a pipe of `child`'s) `piece` bytes at a time with `pause`
/// after each read, until `child` has exited and the pipe is empty; the
/// exit status and what was read. Never blocks in a read, so the watchdog
/// holds.
fn read_paced(
    child: &mut Child,
    fd: std::os::fd::BorrowedFd<'_>,
    piece: usize,
    pause: Duration,
) -> (ExitStatus, Vec<u8>) {
    let mut out = Vec::new();
    let mut buf = vec![0u8; piece];
    let deadline = Instant::now() + WATCHDOG;
    loop {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("watchdog: procrun did not end");
        }
        let ended = child.try_wait().expect("try_wait");
        let avail = rustix::io::ioctl_fionread(fd).unwrap();
        if avail == 0 {
            // Nothing there: procrun has ended, or has not written yet.
            if let Some(st) = ended {
                return (st, out);
            }
            thread::sleep(Duration::from_millis(1));
            continue;
        }
        let want = piece.min(avail as usize);
        let n = rustix::io::read(fd, &mut buf[..want]).unwrap();
        out.extend_from_slice(&buf[..n]);
        thread::sleep(pause);
    }
}

#[test]
fn sigterm_drops_nothing_while_a_slow_stdout_keeps_taking_past_the_grace() {
    // b writes far more than procrun and the pipes hold, then is killed at
    // the end of its grace; stdout takes a page every 10 ms, so draining
    // what was held (its pipe grows to a MiB or so) takes longer than the
    // grace, yet it never stops taking.
    let mut child = procrun_cmd(&[
        "run",
        "--color",
        "never",
        "--grace",
        "1s",
        "--name",
        "b=trap 'seq 1 1000000; exit 0' TERM; echo ready; while :; do sleep 0.05; done",
    ])
    .spawn()
    .expect("spawn procrun");
    let err = child.stderr.take().unwrap();
    let err = thread::spawn(move || {
        let mut s = String::new();
        let _ = BufReader::new(err).read_to_string(&mut s);
        s
    });
    let out: std::os::fd::OwnedFd = child.stdout.take().unwrap().into();
    let mut start = Vec::new();
    let deadline = Instant::now() + WATCHDOG;
    while !start.ends_with(b"b | ready\n") {
        let mut byte = [0u8; 1];
        if rustix::io::ioctl_fionread(&out).unwrap() == 0 {
            assert!(Instant::now() < deadline, "watchdog: b never ready");
            thread::sleep(Duration::from_millis(5));
            continue;
        }
        rustix::io::read(&out, &mut byte).unwrap();
        start.push(byte[0]);
    }
    common::send_signal(child.id(), "TERM");
    let (status, rest) = read_paced(
        &mut child,
        std::os::fd::AsFd::as_fd(&out),
        4096,
        Duration::from_millis(10),
    );
    let err = err.join().unwrap();
    assert_eq!(status.code(), Some(143), "stderr {err:?}");
    assert!(!err.contains("dropped"), "{err:?}");
    // b | 1, b | 2, ... in order, but for the last, which SIGKILL may cut.
    let rest = String::from_utf8_lossy(&rest);
    let nums: Vec<&str> = rest
        .lines()
        .filter_map(|l| l.strip_prefix("b | "))
        .collect();
    assert!(
        nums.len() > 10_000,
        "only {} lines; stderr {err:?}",
        nums.len()
    );
    for (i, n) in nums.iter().enumerate() {
        let want = (i + 1).to_string();
        let last = i + 1 == nums.len();
        assert!(
            *n == want || (last && want.starts_with(n)),
            "line {want} expected, got {n:?}"
        );
    }
}

#[test]
fn a_stop_procrun_starts_itself_gives_up_on_a_stdout_that_takes_nothing() {
    // stdout is a pipe nobody reads: `b` fills it and is paused; `a` ends
    // and stops `b`, whose output then has nowhere to go. procrun must end
    // once stdout has taken nothing for the grace (it waited forever).
    let (unread, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let mut cmd = procrun_cmd(&[
        "run",
        "--exit-with-first",
        "-k",
        "1s",
        "--name",
        "a=sleep 0.5",
        "--name",
        "b=yes",
    ]);
    cmd.stdout(Stdio::from(w));
    let mut child = cmd.spawn().unwrap();
    let mut err = child.stderr.take().unwrap();
    let errs = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = wait_child(&mut child, "procrun waited for a stdout that takes nothing");
    drop(unread);
    let err = errs.join().unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("dropped: stdout was not taking them"), "{err}");
}

#[test]
fn a_full_disk_under_stdout_is_a_failure_of_procrun_not_a_closed_pipe() {
    // 141 says the reader went away; ENOSPC is procrun failing to write.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut cmd = procrun_cmd(&["run", "--", "echo", "hi"]);
    cmd.stdout(Stdio::from(full)).stderr(Stdio::piped());
    let out = with_watchdog(move || cmd.output().unwrap());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot write to stdout: No space left"),
        "{err}"
    );
    assert!(!err.contains("stdout was closed"), "{err}");
    let f = procrun(&["run", "--output", "/dev/full", "--", "echo", "hi"]);
    assert_eq!(f.code(), 1, "{f:?}");
    assert!(f.err.contains("cannot write to /dev/full"), "{f:?}");
}
