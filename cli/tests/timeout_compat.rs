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

/// coreutils `timeout.sh`: "no timeout", "no timeout (suffix check)",
/// "disabled timeout".
#[test]
fn no_timeout_suffix_and_disabled_timeout() {
    for t in ["10", "1d", "0"] {
        let d = procrun(&["run", "-t", t, "--", "true"]);
        assert_eq!(d.code, Some(0), "{t}: {}", d.err);
    }
}

/// coreutils `timeout.sh`: "exit status propagation"; uutils
/// `test_subcommand_return_code`.
#[test]
fn exit_status_propagation() {
    for (cmd, want) in [("exit 2", 2), ("true", 0), ("false", 1)] {
        let d = procrun(&["run", "-t", "10", "--", "sh", "-c", cmd]);
        assert_eq!(d.code, Some(want), "{cmd}: {}", d.err);
    }
}

/// coreutils `timeout.sh`: "timeout"; uutils `test_foreground`, whose
/// `--foreground` (the command left in timeout's process group and
/// signalled alone) is procrun's `--detached`.
#[test]
fn timeout_and_foreground() {
    for args in [&["-t", ".1"][..], &["--detached", "-t", ".1"]] {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--", "sleep", "10"]);
        let d = procrun(&all);
        assert_eq!(
            (d.code, d.out.as_str()),
            (Some(124), ""),
            "{args:?}: {}",
            d.err
        );
    }
}

/// coreutils `timeout.sh`: "exit status propagation even on timeout";
/// uutils `test_preserve_status` (128 + SIGTERM).
#[test]
fn preserve_status() {
    let d = procrun(&["run", "--preserve-status", "-t", ".1", "--", "sleep", "10"]);
    assert_eq!(d.code, Some(128 + 15), "{}", d.err);
}

/// uutils `test_kill_after_preserves_timeout_exit_without_preserve_status`
/// and `test_kill_after_long`.
#[test]
fn kill_after_keeps_124_when_the_stop_signal_ended_the_command() {
    let d = procrun(&["run", "-k", "1", "-t", ".1", "--", "sleep", "10"]);
    assert_eq!(d.code, Some(124), "{}", d.err);
    let d = procrun(&["run", "--kill-after=1", "-t", "1", "--", "sleep", "0"]);
    assert_eq!(d.code, Some(0), "{}", d.err);
}

/// uutils `test_kill_signal_reports_signal_exit_code`: KILL as the stop
/// signal is 128 + 9, with or without `-k`; another signal keeps 124.
#[test]
fn kill_signal_reports_signal_exit_code() {
    for args in [
        &["-s", "KILL", "-t", ".05"][..],
        &["--signal=9", "-t", ".05"],
        &["-s", "SIGKILL", "--kill-after=3", "-t", ".05"],
        &["--detached", "-s", "KILL", "-t", ".05"],
    ] {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--", "sleep", "20"]);
        let d = procrun(&all);
        assert_eq!(d.code, Some(128 + 9), "{args:?}: {}", d.err);
    }
    let d = procrun(&["run", "-s", "HUP", "-t", ".05", "--", "sleep", "20"]);
    assert_eq!(d.code, Some(124), "{}", d.err);
}

/// uutils `test_preserve_status_even_when_send_signal`: CONT does not end
/// the command, whose own status is kept.
#[test]
fn preserve_status_even_when_send_signal() {
    for spelling in ["CONT", "cOnT", "SIGcont"] {
        let d = procrun(&[
            "run",
            "-s",
            spelling,
            "--preserve-status",
            "-t",
            ".1",
            "--",
            "sleep",
            "1",
        ]);
        assert_eq!(d.code, Some(0), "{spelling}: {}", d.err);
    }
}

/// uutils `test_realtime_signal_names`.
#[test]
fn realtime_signal_names() {
    for sig in ["RTMAX", "RTMIN", "SIGRTMAX"] {
        let d = procrun(&["run", "-s", sig, "-t", ".1", "--", "sleep", "10"]);
        assert_eq!(d.code, Some(124), "{sig}: {}", d.err);
    }
}

/// uutils `test_kill_subprocess`: the stop signal reaches the command,
/// whose trap runs; the status is still the timeout's.
#[test]
fn kill_subprocess() {
    let d = procrun(&[
        "run",
        "-t",
        "1",
        "--",
        "sh",
        "-c",
        "trap 'echo inside_trap' TERM; sleep 5",
    ]);
    assert_eq!(d.code, Some(124), "{}", d.err);
    assert!(d.out.contains("inside_trap"), "{}", d.out);
}

/// coreutils `timeout.sh`: "Don't be confused when starting off with a
/// child (Bug#9098)"; uutils `test_with_background_child`.
#[test]
fn with_background_child() {
    let mut c = Command::new("sh");
    c.args([
        "-c",
        r#"sleep .1 & exec "$0" run -t .5 -- sh -c 'sleep 2; echo foo'"#,
        BIN,
    ]);
    let d = finish(c);
    assert_eq!((d.code, d.out.as_str()), (Some(124), ""), "{}", d.err);
    let d = procrun(&["run", "-t", ".5", "--", "sh", "-c", "sleep .1 & sleep 2"]);
    assert_eq!(d.code, Some(124), "{}", d.err);
}

/// coreutils `timeout-blocked.pl` "block-alrm": SIGALRM blocked by the
/// parent changes nothing (procrun's timeout is no alarm).
#[test]
fn block_alrm() {
    let mut c = Command::new(BIN);
    c.args(["run", "-t", ".1", "--", "sleep", "10"]);
    // SAFETY: between fork and exec only async-signal-safe calls are
    // allowed; sigemptyset, sigaddset and sigprocmask are, and they touch
    // only the local set.
    unsafe {
        use std::os::unix::process::CommandExt;
        c.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGALRM);
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
    let d = finish(c);
    assert_eq!(d.code, Some(124), "{}", d.err);
}

/// coreutils `init-parent.sh`: procrun as the init (pid 1) of a new pid
/// namespace still waits for its command and times it out.
#[test]
fn init_parent() {
    let probe = Command::new("unshare")
        .args(["--pid", "--fork", "true"])
        .stderr(Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("skipped: unshare --pid --fork is not available here");
        return;
    }
    for (args, want) in [
        (&["-t", "10", "--", "sleep", ".5"][..], 0),
        (&["-t", ".1", "--", "sleep", "10"], 124),
    ] {
        let mut c = Command::new("unshare");
        c.args(["--pid", "--fork", BIN, "run"]).args(args);
        let d = finish(c);
        assert_eq!(d.code, Some(want), "{args:?}: {}", d.err);
    }
}

/// uutils `test_command_with_args` and `test_command_with_non_utf8_args`:
/// the arguments reach the command as given (procrun prints its output
/// behind a prefix; the byte-exact mode is `--raw`'s).
#[test]
fn command_with_args() {
    use std::os::unix::ffi::OsStrExt;
    let d = procrun(&["run", "-t", "1700", "--", "echo", "-n", "abcd"]);
    assert_eq!(
        (d.code, d.out.as_str()),
        (Some(0), "echo | abcd\n"),
        "{}",
        d.err
    );
    let mut c = Command::new(BIN);
    c.args([
        "run",
        "-t",
        "1700",
        "--",
        "sh",
        "-c",
        r#"test "$1" = "$(printf 'a\377b')""#,
        "sh",
    ])
    .arg(std::ffi::OsStr::from_bytes(b"a\xffb"));
    let d = finish(c);
    assert_eq!(d.code, Some(0), "{}", d.err);
}

/// uutils `test_non_utf8_command_not_found` and
/// `test_non_utf8_command_path`.
#[test]
fn non_utf8_command_paths() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let absent = dir.path().join(std::ffi::OsStr::from_bytes(b"absent-\xff"));
    let mut c = Command::new(BIN);
    c.args(["run", "-t", "1", "--"]).arg(&absent);
    let d = finish(c);
    assert_eq!((d.code, d.out.as_str()), (Some(127), ""), "{}", d.err);
    let sub = dir.path().join(std::ffi::OsStr::from_bytes(b"dir-\xff"));
    std::fs::create_dir(&sub).unwrap();
    std::os::unix::fs::symlink("/bin/echo", sub.join("echo")).unwrap();
    let mut c = Command::new(BIN);
    c.args(["run", "-t", "10", "--"])
        .arg(sub.join("echo"))
        .arg("ran");
    let d = finish(c);
    assert_eq!(
        (d.code, d.out.as_str()),
        (Some(0), "echo | ran\n"),
        "{}",
        d.err
    );
}

/// coreutils `timeout-parameters.sh` ("invalid timeout", "invalid kill
/// delay", "invalid timeout suffix", "invalid signal spec"); uutils
/// `test_invalid_arg`, `test_invalid_time_interval`,
/// `test_invalid_kill_after`, `test_command_empty_args`,
/// `test_negative_interval`, `test_invalid_signal`,
/// `test_invalid_multi_byte_characters`. timeout's usage error is 125;
/// procrun's is 2 (as the README's exit-status table says), one line.
#[test]
fn invalid_parameters_are_usage_errors() {
    for args in [
        &["run", "-t", "invalid", "--", "sleep", "0"][..],
        &["run", "--kill-after=invalid", "-t", "1", "--", "sleep", "0"],
        &["run", "-t", "42D", "--", "sleep", "0"],
        &["run", "-t", "xyz", "--", "sleep", "0"],
        &["run", "-t", "'1", "--", "sleep", "0"],
        &["run", "-k", "xyz", "-t", "1", "--", "sleep", "0"],
        &["run", "-t", "", ""],
        &["run", "-t", "-1", "--", "sleep", "0"],
        &["run", "--signal=invalid", "-t", "1", "--", "sleep", "0"],
        &["run", "-t", "10€", "--", "sleep", "0"],
        &["run", "--definitely-invalid"],
    ] {
        let d = procrun(args);
        assert_eq!(d.code, Some(2), "{args:?}: {}", d.err);
        assert_eq!(d.err.lines().count(), 1, "{args:?}: {}", d.err);
    }
}

/// coreutils `timeout-parameters.sh`: "floating point notation",
/// "nanoseconds potentially supported".
#[test]
fn fractional_timeouts() {
    for t in ["10.34", "9.999999999"] {
        let d = procrun(&["run", "-t", t, "--", "sleep", "0"]);
        assert_eq!(d.code, Some(0), "{t}: {}", d.err);
    }
}

/// coreutils `timeout-group.sh`: "Ensure cascaded timeouts work", a
/// command that makes its own process group (the inner procrun) still
/// times out: the outer stop signal reaches the inner procrun, which
/// passes its own stop signal on to the command, whose trap runs. (The
/// case sends the outer timeout SIGALRM by hand; procrun reads SIGALRM as
/// a stop, not as its timeout, so the outer one times out by itself.)
#[test]
fn cascaded_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = "trap 'touch int.received; exit' INT; touch running; \
               i=0; while [ $i -lt 200 ]; do sleep .1; i=$((i+1)); done";
    let start = std::time::Instant::now();
    let mut c = Command::new(BIN);
    c.current_dir(dir.path()).args([
        "run", "-s", "ALRM", "-t", "2", "--", BIN, "run", "-s", "INT", "-t", "25", "--", "sh",
        "-c", cmd,
    ]);
    let d = finish(c);
    assert_eq!(d.code, Some(124), "{}", d.err);
    assert!(dir.path().join("running").exists(), "{}", d.err);
    assert!(dir.path().join("int.received").exists(), "{}", d.err);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(20),
        "{}",
        d.err
    );
}
