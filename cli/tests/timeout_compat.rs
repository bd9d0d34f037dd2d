//! `procrun run` as a stand-in for coreutils `timeout`: the cases of
//! coreutils' `tests/timeout/` and uutils' `tests/by-util/test_timeout.rs`
//! that apply to procrun, each test named after the case it mirrors.
//! Where procrun differs on purpose (its usage errors are 2, not 125; a
//! default grace of 3 s where `timeout` has no `-k`), the test says so.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;

use common::watchdog;

const BIN: &str = env!("CARGO_BIN_EXE_procrun");

/// What a finished command left: its exit status and its output.
struct Done {
    code: Option<i32>,
    out: String,
    err: String,
}

/// Runs `cmd` to its end with the watchdog: a procrun that hangs is
/// killed (it kills and reaps its own children) and fails the test.
fn finish(mut cmd: Command) -> Done {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Output {
        status,
        stdout,
        stderr,
    } = match rx.recv_timeout(watchdog()) {
        Ok(out) => out.expect("wait"),
        Err(_) => {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("watchdog: {cmd:?} did not end");
        }
    };
    Done {
        code: status.code(),
        out: String::from_utf8_lossy(&stdout).into_owned(),
        err: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// `procrun ARGS...` to its end.
fn procrun(args: &[&str]) -> Done {
    let mut c = Command::new(BIN);
    c.args(args);
    finish(c)
}

/// coreutils `timeout.sh`: "Ensure 'timeout' is immune to parent's SIGCHLD
/// handler"; uutils `test_sigchld_ignored_by_parent`. An ignored SIGCHLD
/// makes the kernel reap children itself, and their status would be lost.
#[test]
fn sigchld_ignored_by_parent() {
    let mut c = Command::new("bash");
    c.args(["-c", r#"trap "" CHLD; exec "$@""#, "bash", BIN])
        .args(["run", "--", "sh", "-c", "exit 3"]);
    let d = finish(c);
    assert_eq!(d.code, Some(3), "stdout {:?}, stderr {:?}", d.out, d.err);
    assert!(d.err.contains("exited with code 3"), "{}", d.err);
}

/// coreutils `timeout.sh`: "kill delay" (`timeout -s0 -k1 .1 sleep 10` is
/// 128+KILL, not 124); uutils `test_foreground_signal0_kill_after`.
#[test]
fn signal0_kill_after() {
    let d = procrun(&["run", "-s0", "-k.1", "-t", ".1", "--", "sleep", "10"]);
    assert_eq!(d.code, Some(137), "{}", d.err);
    assert!(d.err.contains("killed by SIGKILL"), "{}", d.err);
}

/// coreutils `timeout.sh`: "once the initial timeout triggers, the exit
/// status will be 124 even if the command exits on its own accord": with
/// signal 0 nothing ends the command at the timeout, and it ends by itself
/// within the grace.
#[test]
fn signal0_command_ending_on_its_own_after_the_timeout_is_124() {
    let d = procrun(&[
        "run", "-s", "0", "-k", "1m", "-t", ".1", "--", "sleep", ".5",
    ]);
    assert_eq!(d.code, Some(124), "{}", d.err);
    assert!(d.err.contains("exited with code 0"), "{}", d.err);
}

/// Without `-k`, timeout never kills a command it sent signal 0; procrun's
/// grace is 3 s unless given, so the command is killed when it ends.
#[test]
fn signal0_without_kill_after_is_killed_after_the_default_grace() {
    let start = std::time::Instant::now();
    let d = procrun(&["run", "-s", "0", "-t", ".1", "--", "sleep", "60"]);
    assert_eq!(d.code, Some(137), "{}", d.err);
    assert!(
        start.elapsed() >= std::time::Duration::from_secs(3),
        "{}",
        d.err
    );
}

/// uutils `test_zero_timeout`: `-s0 -k0` with no timeout leaves the command
/// alone.
#[test]
fn zero_timeout_with_signal0() {
    let d = procrun(&["run", "-t", "0", "-s0", "-k0", "--", "sleep", ".1"]);
    assert_eq!(d.code, Some(0), "{}", d.err);
}

/// coreutils `timeout-parameters.sh`: "invalid command" (`timeout 10 .` is
/// 126 where `env .` is): `.` is found on PATH only as a directory.
#[test]
fn invalid_command() {
    let d = procrun(&["run", "-t", "10", "--", "."]);
    assert_eq!(d.code, Some(126), "{}", d.err);
}

/// uutils `test_command_cannot_invoke`: a path to a directory is 126.
#[test]
fn command_cannot_invoke() {
    let d = procrun(&["run", "-t", "1", "--", "/"]);
    assert_eq!(d.code, Some(126), "{}", d.err);
}

/// A bare name found on PATH only as a file without an execute bit is 126,
/// as `execvp`, `env` and shells have it; not there at all, 127.
#[test]
fn unexecutable_file_on_path_is_126_and_a_missing_one_127() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("procrun-plain");
    std::fs::write(&file, "exit 0\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    for (name, want) in [("procrun-plain", 126), ("procrun-absent", 127)] {
        let mut c = Command::new(BIN);
        c.args(["run", "-t", "10", "--", name])
            .env("PATH", dir.path());
        let d = finish(c);
        assert_eq!(d.code, Some(want), "{name}: {}", d.err);
        assert_eq!(d.err.lines().count(), 1, "{name}: {}", d.err);
    }
}

/// coreutils `timeout-parameters.sh`: "no such command"; uutils
/// `test_command_not_found`.
#[test]
fn no_such_command() {
    let d = procrun(&["run", "-t", "10", "--", "no_such"]);
    assert_eq!(d.code, Some(127), "{}", d.err);
    let d = procrun(&[
        "run",
        "-t",
        "1",
        "--",
        "/this/command/definitely/does/not/exist",
    ]);
    assert_eq!(d.code, Some(127), "{}", d.err);
}

/// uutils `test_dont_overflow`; coreutils `timeout-large-parameters.sh`
/// ("timeout overflow", `${TIME_T_OFLOW}d` and `$UINT_OFLOW`): a duration
/// past any clock is capped, meaning never, for `-t` and `-k` alike.
#[test]
fn dont_overflow() {
    for args in [
        &["run", "-t", "9223372036854775808d", "--", "sleep", "0"][..],
        &[
            "run",
            "-k",
            "9223372036854775808d",
            "-t",
            "10",
            "--",
            "sleep",
            "0",
        ],
        &["run", "-t", "4294967296", "--", "sleep", "0"],
        &["run", "-t", "18446744073709551616", "--", "sleep", "0"],
        &[
            "run",
            "-t",
            "99999999999999999999999999999999999999999h",
            "--",
            "true",
        ],
    ] {
        let d = procrun(args);
        assert_eq!(d.code, Some(0), "{args:?}: {}", d.err);
    }
}

/// The same rule in every unit: `18446744073709551615ms` is taken as the
/// larger `18446744073709551615s` is.
#[test]
fn huge_milliseconds_are_taken_as_huge_seconds_are() {
    for t in [
        "18446744073709551615ms",
        "18446744073709551615s",
        "18446744073709551615us",
    ] {
        let d = procrun(&["run", "-t", t, "-k", t, "--", "true"]);
        assert_eq!(d.code, Some(0), "{t}: {}", d.err);
    }
}

/// uutils `test_dont_underflow` (`.0000000001`; its `1e-100` is exponent
/// notation, which procrun does not take); coreutils
/// `timeout-large-parameters.sh` "Ensure underflow times out immediately":
/// above zero but below a nanosecond is a nanosecond, a timeout at once.
#[test]
fn dont_underflow() {
    for t in [".0000000001", "0.0000000000000000000000001s", "0.5ns"] {
        let d = procrun(&["run", "-t", t, "--", "sleep", "10"]);
        assert_eq!(d.code, Some(124), "{t}: {}", d.err);
    }
}
