//! `procrun run --raw`: the child's bytes passed through as they are, and
//! signals and exit statuses as coreutils `timeout` has them. The second
//! half ports the cases of coreutils' `tests/timeout/*.sh` and uutils'
//! `tests/by-util/test_timeout.rs` that concern what a pass-through run
//! prints or exits with; each test is named after the case it mirrors.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::{slow, temp_file, watchdog, xorshift64};

const BIN: &str = env!("CARGO_BIN_EXE_procrun");

fn procrun_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    common::with_default_signals(&mut c);
    c
}

/// A procrun process whose stdout and stderr are collected as bytes.
struct Running {
    child: Child,
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

/// A procrun process that has exited, with all it wrote.
#[derive(Debug)]
struct Finished {
    status: ExitStatus,
    out: Vec<u8>,
    err: Vec<u8>,
}

impl Finished {
    fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("procrun was killed: {self:?}"))
    }

    fn out(&self) -> String {
        String::from_utf8_lossy(&self.out).into_owned()
    }

    fn err(&self) -> String {
        String::from_utf8_lossy(&self.err).into_owned()
    }
}

fn collect(pipe: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut pipe = pipe;
        let mut buf = vec![0; 64 * 1024];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => into.lock().unwrap().extend_from_slice(&buf[..n]),
            }
        }
    })
}

fn spawn_cmd(mut cmd: Command) -> Running {
    let mut child = cmd.spawn().expect("spawn procrun");
    let out = Arc::new(Mutex::new(Vec::new()));
    let err = Arc::new(Mutex::new(Vec::new()));
    let mut readers = Vec::new();
    if let Some(pipe) = child.stdout.take() {
        readers.push(collect(pipe, out.clone()));
    }
    if let Some(pipe) = child.stderr.take() {
        readers.push(collect(pipe, err.clone()));
    }
    Running {
        child,
        out,
        err,
        readers,
    }
}

fn spawn(args: &[&str]) -> Running {
    spawn_cmd(procrun_cmd(args))
}

fn procrun(args: &[&str]) -> Finished {
    spawn(args).finish()
}

/// `run --raw FLAGS -- sh -c SCRIPT`.
fn raw_sh_args<'a>(flags: &[&'a str], script: &'a str) -> Vec<&'a str> {
    let mut args = vec!["run", "--raw"];
    args.extend(flags);
    args.extend(["--", "sh", "-c", script]);
    args
}

/// Runs `procrun run --raw FLAGS -- sh -c SCRIPT` to its end.
fn raw_sh(flags: &[&str], script: &str) -> Finished {
    procrun(&raw_sh_args(flags, script))
}

/// Runs `procrun run --raw FLAGS -- sh -c SCRIPT`, sends procrun `sig`
/// once the script has said `ready`, and waits for the end.
fn raw_sh_signalled_when_ready(flags: &[&str], script: &str, sig: &str) -> Finished {
    let run = spawn(&raw_sh_args(flags, script));
    run.wait_out("ready\n");
    run.signal(sig);
    run.finish()
}

impl Running {
    /// Waits (with the watchdog) until procrun's stdout holds `needle`.
    fn wait_out(&self, needle: &str) {
        let deadline = Instant::now() + watchdog();
        while !contains(&self.out.lock().unwrap(), needle.as_bytes()) {
            assert!(
                Instant::now() < deadline,
                "watchdog: no {needle:?} on stdout; stdout {:?}, stderr {:?}",
                String::from_utf8_lossy(&self.out.lock().unwrap()),
                String::from_utf8_lossy(&self.err.lock().unwrap()),
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends `sig` (a name `kill` knows) to procrun.
    fn signal(&self, sig: &str) {
        common::send_signal(self.child.id(), sig);
    }

    /// Waits (with the watchdog) for procrun to exit and for all its output.
    fn finish(mut self) -> Finished {
        let deadline = Instant::now() + watchdog();
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                break st;
            }
            assert!(
                Instant::now() < deadline,
                "watchdog: procrun did not exit; stdout {:?}, stderr {:?}",
                String::from_utf8_lossy(&self.out.lock().unwrap()),
                String::from_utf8_lossy(&self.err.lock().unwrap()),
            );
            thread::sleep(Duration::from_millis(5));
        };
        // The pipes end when every writer is gone: a grandchild left alive
        // holding one would hang here, so that too is under the watchdog.
        for r in std::mem::take(&mut self.readers) {
            while !r.is_finished() {
                assert!(Instant::now() < deadline, "watchdog: output never ended");
                thread::sleep(Duration::from_millis(5));
            }
            r.join().unwrap();
        }
        Finished {
            status,
            out: std::mem::take(&mut self.out.lock().unwrap()),
            err: std::mem::take(&mut self.err.lock().unwrap()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Only on a failing test: procrun kills and reaps its children when
        // it is killed only if it can; SIGKILL is the last resort here.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Random bytes, every value among them, with `\r`, `\n` and `\0`
/// planted often, one stretch of `long` bytes without a `\n`, and a last
/// byte that is no `\n`.
fn hostile(len: usize, long: usize, seed: u64) -> Vec<u8> {
    let mut next = xorshift64(seed);
    let mut v: Vec<u8> = (0..len)
        .map(|_| {
            let x = next();
            match x % 16 {
                0 => b'\r',
                1 => b'\n',
                2 => 0,
                3 => 0xff,
                _ => (x >> 24) as u8,
            }
        })
        .collect();
    let start = len / 3;
    for b in &mut v[start..start + long] {
        if *b == b'\n' {
            *b = b'.';
        }
    }
    *v.last_mut().unwrap() = b'x';
    v
}

/// Where `a` and `b` first differ, for a failure message short enough to
/// read.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let at = a.iter().zip(b).position(|(x, y)| x != y);
    format!(
        "lengths {} and {}, first difference at {at:?}",
        a.len(),
        b.len()
    )
}

#[test]
fn raw_passes_megabytes_of_hostile_bytes_through_byte_for_byte() {
    // NULs, invalid UTF-8, `\r`, a line of a megabyte (past --max-line's
    // 64 KiB), a partial last line; both streams at once, through pipes.
    let out = hostile(4 << 20, 1 << 20, 7);
    let err = hostile(1 << 20, 200_000, 11);
    let (fo, fe) = (temp_file(&out), temp_file(&err));
    let f = procrun(&[
        "run",
        "--raw",
        "--",
        "sh",
        "-c",
        r#"cat "$0" & cat "$1" >&2; wait"#,
        fo.path().to_str().unwrap(),
        fe.path().to_str().unwrap(),
    ]);
    assert_eq!(
        f.code(),
        0,
        "stderr ends {:?}",
        &f.err[f.err.len().saturating_sub(200)..]
    );
    assert!(f.out == out, "stdout: {}", first_difference(&f.out, &out));
    assert!(f.err == err, "stderr: {}", first_difference(&f.err, &err));
}

#[test]
fn raw_keeps_a_last_line_without_newline_and_a_lone_cr() {
    let f = procrun(&["run", "--raw", "--", "printf", "a\\r\\nb\\rno newline"]);
    assert_eq!(f.code(), 0);
    assert_eq!(f.out, b"a\r\nb\rno newline");
    assert_eq!(f.err, b"");
}

#[test]
fn raw_output_of_every_restart_follows_the_previous_one() {
    let f = raw_sh(
        &["--restart-limit", "2", "--restart-interval", "10ms"],
        "printf 'run\\0'; printf 'e' >&2; exit 1",
    );
    assert_eq!(f.code(), 1);
    assert_eq!(f.out, b"run\0run\0run\0");
    assert_eq!(f.err, b"eee");
}

#[test]
fn raw_interleaves_stdout_and_stderr_as_written_when_they_are_one_pipe() {
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let writer: OwnedFd = writer;
    let mut cmd = procrun_cmd(&[
        "run",
        "--raw",
        "--",
        "sh",
        "-c",
        "printf 'o1\\n'; printf 'e1\\n' >&2; printf o2; printf e2 >&2; printf 'o3\\n'; \
         printf e3 >&2",
    ]);
    cmd.stdout(Stdio::from(writer.try_clone().unwrap()))
        .stderr(Stdio::from(writer));
    let run = spawn_cmd(cmd);
    // The test's own copies of the write end are gone with `cmd`.
    let all = common::within_watchdog("reading the shared pipe", move || {
        let mut all = Vec::new();
        std::fs::File::from(reader).read_to_end(&mut all).unwrap();
        all
    });
    let f = run.finish();
    assert_eq!(f.code(), 0);
    assert_eq!(String::from_utf8_lossy(&all), "o1\ne1\no2e2o3\ne3");
}

#[test]
fn raw_prints_nothing_of_its_own_without_verbose() {
    let f = raw_sh(&[], "printf out; printf err >&2; exit 3");
    assert_eq!(f.code(), 3);
    assert_eq!(f.out, b"out");
    assert_eq!(f.err, b"err");
}

#[test]
fn raw_verbose_notes_go_to_stderr_only() {
    for flag in ["-v", "--verbose"] {
        let f = procrun(&["run", "--raw", flag, "--", "printf", "out"]);
        assert_eq!(f.code(), 0);
        assert_eq!(f.out, b"out", "{flag}");
        let err = f.err();
        assert!(err.contains("printf * started (pid "), "{flag}: {err}");
        assert!(err.contains("printf * exited with code 0"), "{flag}: {err}");
    }
}

#[test]
fn verbose_without_raw_is_refused() {
    let f = procrun(&["run", "-v", "--", "true"]);
    assert_eq!(f.code(), 2, "{}", f.err());
}

/// A child that reports `sig` when it gets it and then exits 7; `ready`
/// on stdout once the trap is set.
fn trapping(sig: &str) -> String {
    format!(
        "trap 'printf got-{sig}; kill $! 2>/dev/null; exit 7' {sig}; sleep 30 & echo ready; wait"
    )
}

#[test]
fn raw_forwards_each_signal_as_it_is_and_exits_with_the_childs_status() {
    for sig in ["INT", "TERM", "HUP", "QUIT", "USR1", "USR2"] {
        let f = raw_sh_signalled_when_ready(&[], &trapping(sig), sig);
        assert_eq!(f.out(), format!("ready\ngot-{sig}"), "{sig}: {}", f.err());
        assert_eq!(f.code(), 7, "{sig}: the child's own status");
        assert_eq!(f.err, b"", "{sig}");
    }
}

/// coreutils `timeout` dies of the signal that killed its command (core
/// dumps off), so that its parent sees what it would see with no timeout
/// between: a signal the tool handles (TERM), one Rust ignores at start
/// (PIPE), one that dumps core (SEGV), and a real-time one the table of
/// signal names does not hold.
#[test]
fn raw_dies_of_the_signal_that_killed_the_command_as_timeout_does() {
    for (sig, want) in [("TERM", 15), ("PIPE", 13), ("SEGV", 11), ("35", 35)] {
        let f = raw_sh(&[], &format!("kill -{sig} $$"));
        assert_eq!(f.status.signal(), Some(want), "{sig}: {f:?}");
        assert!(
            !f.status.core_dumped(),
            "{sig}: procrun dumped its own core"
        );
        assert_eq!(f.err, b"", "{sig}");
    }
}

/// A timed-out command (SIGALRM's stop, or procrun's SIGKILL after the
/// grace) is no death to share: procrun exits with a status, as `timeout`.
#[test]
fn raw_timeout_by_signal_is_an_exit_status_not_a_death() {
    let f = procrun(&["run", "--raw", "-t", ".2", "--", "sleep", "30"]);
    assert_eq!(f.code(), 124, "{}", f.err());
    let f = procrun(&[
        "run", "--raw", "-t", ".2", "-s", "KILL", "--", "sleep", "30",
    ]);
    assert_eq!(f.code(), 137, "{}", f.err());
}

#[test]
fn raw_forwarded_signal_ends_restarts() {
    let f = raw_sh_signalled_when_ready(
        &["--restart", "always", "--restart-interval", "10ms"],
        &trapping("INT"),
        "INT",
    );
    assert_eq!(f.out(), "ready\ngot-INT");
    assert_eq!(f.code(), 7);
}

#[test]
fn raw_forwarded_signal_the_child_ignores_is_followed_by_sigkill_after_the_grace() {
    let started = Instant::now();
    let f = raw_sh_signalled_when_ready(&["-k", "1s"], "trap '' INT; echo ready; sleep 30", "INT");
    assert_eq!(f.code(), 137, "{}", f.err());
    assert!(started.elapsed() < slow(Duration::from_secs(20)));
}

#[test]
fn raw_sigalrm_times_the_child_out_now_and_exits_124() {
    let started = Instant::now();
    let f = raw_sh_signalled_when_ready(&[], "echo ready; exec sleep 30", "ALRM");
    assert_eq!(f.code(), 124, "{}", f.err());
    assert_eq!(f.out, b"ready\n");
    assert_eq!(f.err, b"");
    assert!(started.elapsed() < slow(Duration::from_secs(20)));
}

#[test]
fn raw_sigalrm_with_a_child_ignoring_the_stop_signal_exits_137() {
    let f = raw_sh_signalled_when_ready(
        &["-k", "500ms"],
        "trap '' TERM; echo ready; sleep 30",
        "ALRM",
    );
    assert_eq!(f.code(), 137);
}

#[test]
fn raw_sigalrm_with_preserve_status_exits_with_the_childs_status() {
    let f =
        raw_sh_signalled_when_ready(&["--preserve-status"], "echo ready; exec sleep 30", "ALRM");
    assert_eq!(f.code(), 128 + 15);
}

#[test]
fn raw_failure_of_procrun_itself_exits_125_as_timeouts() {
    let f = procrun(&["run", "--raw", "-C", "/nonexistent/dir", "--", "true"]);
    assert_eq!(f.code(), 125, "{}", f.err());
    assert!(f.err().starts_with("procrun: "), "{}", f.err());
    // Without --raw, bad input stays 2.
    let f = procrun(&["run", "-C", "/nonexistent/dir", "--", "true"]);
    assert_eq!(f.code(), 2, "{}", f.err());
}

#[test]
fn raw_closed_stdout_exits_141() {
    let mut cmd = procrun_cmd(&["run", "--raw", "--", "yes"]);
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    drop(reader);
    cmd.stdout(Stdio::from(writer));
    let f = spawn_cmd(cmd).finish();
    assert_eq!(f.code(), 141, "{}", f.err());
}

// coreutils tests/timeout/timeout.sh

#[test]
fn coreutils_timeout_no_timeout() {
    for t in ["10", "1d", "0"] {
        let f = procrun(&["run", "--raw", "-t", t, "--", "true"]);
        assert_eq!(f.code(), 0, "-t {t}: {}", f.err());
        assert_eq!((f.out.len(), f.err.len()), (0, 0));
    }
}

#[test]
fn coreutils_timeout_exit_status_propagation() {
    let f = raw_sh(&["-t", "10"], "exit 2");
    assert_eq!(f.code(), 2);
}

#[test]
fn coreutils_timeout_timeout() {
    let f = procrun(&["run", "--raw", "-t", "100ms", "--", "sleep", "10"]);
    assert_eq!(f.code(), 124);
    assert_eq!((f.out.len(), f.err.len()), (0, 0), "{}", f.err());
}

#[test]
fn coreutils_timeout_exit_status_propagation_even_on_timeout() {
    let f = procrun(&[
        "run",
        "--raw",
        "--preserve-status",
        "-t",
        "100ms",
        "--",
        "sleep",
        "10",
    ]);
    assert_eq!(f.code(), 128 + 15);
}

#[test]
fn coreutils_timeout_not_confused_when_starting_off_with_a_child() {
    // Bug#9098: procrun is exec'd by a shell that has a child already.
    let script = format!("sleep 0.1 & exec {BIN} run --raw -t 500ms -- sh -c 'sleep 2; echo foo'");
    let mut sh = Command::new("sh");
    sh.args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let f = spawn_cmd(sh).finish();
    assert_eq!(f.code(), 124, "{}", f.err());
    assert_eq!(f.out, b"");
}

// coreutils tests/timeout/timeout-group.sh

#[test]
fn coreutils_timeout_group_cascaded_timeouts() {
    // The outer procrun's SIGALRM times out the inner one with SIGALRM,
    // whose timeout then stops the command with SIGINT.
    let started = Instant::now();
    let run = spawn(&[
        "run",
        "--raw",
        "-s",
        "ALRM",
        "-t",
        "30",
        "--",
        BIN,
        "run",
        "--raw",
        "-s",
        "INT",
        "-t",
        "25",
        "--",
        "sh",
        "-c",
        "trap 'echo int received; kill $!; exit' INT; echo running; sleep 20 & wait",
    ]);
    run.wait_out("running\n");
    run.signal("ALRM");
    let f = run.finish();
    assert_eq!(f.code(), 124, "{}", f.err());
    assert_eq!(f.out(), "running\nint received\n");
    assert!(started.elapsed() < slow(Duration::from_secs(20)));
}

// uutils tests/by-util/test_timeout.rs

#[test]
fn uutils_test_invalid_arg() {
    let f = procrun(&["run", "--raw", "--definitely-invalid", "--", "true"]);
    assert_eq!(f.code(), 125, "{}", f.err());
}

#[test]
fn uutils_test_subcommand_return_code() {
    assert_eq!(
        procrun(&["run", "--raw", "-t", "1", "--", "true"]).code(),
        0
    );
    assert_eq!(
        procrun(&["run", "--raw", "-t", "1", "--", "false"]).code(),
        1
    );
}

#[test]
fn uutils_test_invalid_time_interval() {
    for t in ["xyz", "'1"] {
        let f = procrun(&["run", "--raw", "-t", t, "--", "sleep", "0"]);
        assert_eq!(f.code(), 125, "{t}: {}", f.err());
    }
}

#[test]
fn uutils_test_invalid_kill_after() {
    let f = procrun(&["run", "--raw", "-k", "xyz", "-t", "1", "--", "sleep", "0"]);
    assert_eq!(f.code(), 125, "{}", f.err());
}

#[test]
fn uutils_test_command_with_args() {
    let f = procrun(&["run", "--raw", "-t", "1700", "--", "echo", "-n", "abcd"]);
    assert_eq!(f.code(), 0);
    assert_eq!((f.out(), f.err()), ("abcd".into(), String::new()));
}

#[test]
fn uutils_test_zero_timeout() {
    let f = procrun(&["run", "--raw", "-t", "0", "--", "sleep", "0.1"]);
    assert_eq!(f.code(), 0);
    assert_eq!((f.out.len(), f.err.len()), (0, 0));
}

#[test]
fn uutils_test_preserve_status() {
    let f = procrun(&[
        "run",
        "--raw",
        "--preserve-status",
        "-t",
        "100ms",
        "--",
        "sleep",
        "10",
    ]);
    assert_eq!(f.code(), 128 + 15);
    assert_eq!((f.out.len(), f.err.len()), (0, 0));
}

#[test]
fn uutils_test_kill_after_preserves_timeout_exit_without_preserve_status() {
    let f = procrun(&["run", "--raw", "-k", "1", "-t", "1", "--", "sleep", "10"]);
    assert_eq!(f.code(), 124);
    assert_eq!((f.out.len(), f.err.len()), (0, 0));
}

#[test]
fn uutils_test_preserve_status_even_when_send_signal() {
    for cont in ["CONT", "cOnT", "SIGcont"] {
        let f = procrun(&[
            "run",
            "--raw",
            "-s",
            cont,
            "--preserve-status",
            "-t",
            "100ms",
            "--",
            "sleep",
            "1",
        ]);
        assert_eq!(f.code(), 0, "-s {cont}: {}", f.err());
        assert_eq!((f.out.len(), f.err.len()), (0, 0));
    }
}

#[test]
fn uutils_test_kill_subprocess() {
    let f = raw_sh(&["-t", "1"], "trap 'echo inside_trap' TERM; sleep 5");
    assert_eq!(f.code(), 124);
    assert!(f.out().contains("inside_trap"), "{:?}", f.out());
}

#[test]
fn uutils_test_terminate_child_on_receiving_terminate() {
    let f = raw_sh_signalled_when_ready(
        &["-t", "10"],
        "trap 'echo child received TERM' TERM; echo ready; sleep 5",
        "TERM",
    );
    assert_eq!(f.code(), 143);
    assert!(f.out().contains("child received TERM"), "{:?}", f.out());
}

#[test]
fn uutils_test_forward_sigint_to_child() {
    let f = raw_sh_signalled_when_ready(
        &["-t", "10"],
        "trap 'echo got_int; exit 42' INT; echo ready; sleep 5",
        "INT",
    );
    assert!(f.out().contains("got_int"), "{:?}", f.out());
    assert_eq!(f.code(), 42);
}

#[test]
fn uutils_test_command_not_found() {
    let f = procrun(&[
        "run",
        "--raw",
        "-t",
        "1",
        "--",
        "/this/command/definitely/does/not/exist",
    ]);
    assert_eq!(f.code(), 127);
}

#[test]
fn uutils_test_command_cannot_invoke() {
    assert_eq!(procrun(&["run", "--raw", "-t", "1", "--", "/"]).code(), 126);
}

#[test]
fn uutils_test_with_background_child() {
    let f = raw_sh(&["-t", "500ms"], "sleep 0.1 & sleep 2");
    assert_eq!(f.code(), 124);
    assert_eq!(f.out, b"");
}
