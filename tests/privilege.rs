//! A child that makes itself root (a setuid-root program calling
//! `setuid(0)`) under an unprivileged procrun: its exit is reaped with its
//! real status, never left a zombie, and a stop that cannot reach it is
//! reported, never taken for sent.
//!
//! Needs root to set the program up: each test compiles the program with
//! `cc`, makes it setuid root, and runs itself again as uid 65534 with
//! `setpriv` from a copy of the test binary in a world-readable directory
//! (the checkout may sit under a private one). Without root, `cc` or
//! `setpriv` it says why and passes without checking.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use procrun::{Command, Reactor, Stream};

const INNER: &str = "PROCRUN_PRIVILEGE_TEST_PROGRAM";

const PROGRAM: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (setuid(0) != 0) { perror("setuid"); return 1; }
    printf("%d\n", getpid());
    fflush(stdout);
    if (argc > 1) sleep(atoi(argv[1]));
    return 7;
}
"#;

fn have(tool: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Sets up the program and runs test `name` again as uid 65534; returns
/// false (after saying why) when this machine cannot.
fn run_unprivileged(name: &str) -> bool {
    if !can_run() {
        return false;
    }
    let (dir, program) = setuid_program();
    let me = reachable_copy(dir.path(), &std::env::current_exe().unwrap());
    let mut cmd = unprivileged(&me);
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(INNER, &program);
    let (status, out, _) = run_with_watchdog(cmd);
    // The inner run names the root children it could not stop; end them.
    let _guards: Vec<KillOnDrop> = out
        .lines()
        .filter_map(|l| l.strip_prefix("root child "))
        .filter_map(|p| p.trim().parse().ok())
        .map(KillOnDrop)
        .collect();
    assert!(status.success(), "the unprivileged run failed:\n{out}");
    true
}

/// Whether this machine can run the tests as they mean to.
fn can_run() -> bool {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root to make a setuid-root program");
        return false;
    }
    if !have("cc") || !have("setpriv") {
        eprintln!("skipped: needs cc and setpriv");
        return false;
    }
    true
}

/// A world-readable directory holding the setuid-root program.
fn setuid_program() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let src = dir.path().join("setuid.c");
    std::fs::write(&src, PROGRAM).unwrap();
    let program = dir.path().join("setuid");
    let built = std::process::Command::new("cc")
        .arg("-o")
        .arg(&program)
        .arg(&src)
        .status()
        .unwrap();
    assert!(built.success(), "cc failed");
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o4755)).unwrap();
    (dir, program)
}

/// A copy of `binary` in `dir` that uid 65534 can run.
fn reachable_copy(dir: &Path, binary: &Path) -> PathBuf {
    let copy = dir.join(binary.file_name().unwrap());
    std::fs::copy(binary, &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    copy
}

/// `binary` run as uid and gid 65534, from its own directory.
fn unprivileged(binary: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(binary)
        .current_dir(binary.parent().unwrap());
    cmd
}

/// Runs `cmd` to its end (killed at the watchdog): status, stdout, stderr.
fn run_with_watchdog(mut cmd: std::process::Command) -> (std::process::ExitStatus, String, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read on threads, so a chatty child never blocks on a full pipe.
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || std::io::read_to_string(out).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(err).unwrap_or_default());
    let deadline = Instant::now() + WATCHDOG;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("watchdog: the unprivileged run did not end");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status, out.join().unwrap(), err.join().unwrap())
}

fn inner_program() -> Option<PathBuf> {
    std::env::var_os(INNER).map(PathBuf::from)
}

fn spawn_root_child(r: &mut Reactor, program: &Path, args: &[&str]) -> (procrun::ChildId, u32) {
    let mut cmd = Command::new(program);
    cmd.args(args).grace(Duration::from_millis(300));
    let id = r.spawn(&cmd).unwrap();
    let mut recs = Vec::new();
    drive_until(r, &mut recs, |rs| {
        !lines_of(rs, id, Stream::Stdout).is_empty() || !exits_of(rs, id).is_empty()
    });
    let pid = lines_of(&recs, id, Stream::Stdout)[0].parse().unwrap();
    (id, pid)
}

#[test]
fn child_that_made_itself_root_is_reaped_with_its_status() {
    let Some(program) = inner_program() else {
        run_unprivileged("child_that_made_itself_root_is_reaped_with_its_status");
        return;
    };
    assert!(!rustix::process::getuid().is_root(), "runs unprivileged");
    let mut r = Reactor::new().unwrap();
    let id = r.spawn(&Command::new(&program)).unwrap();
    let recs = run_to_done(&mut r, id);
    let e = exits_of(&recs, id)[0];
    assert!(!e.status_lost(), "status lost: {recs:?}");
    assert_eq!(e.code(), Some(7));
    // Reaped: no zombie of it is left to this process.
    let w = rustix::process::waitpid(
        Some(rustix::process::Pid::from_raw(e.pid() as i32).unwrap()),
        rustix::process::WaitOptions::NOHANG,
    );
    assert_eq!(w.err(), Some(rustix::io::Errno::CHILD), "left a zombie");
}

#[test]
fn stop_that_cannot_reach_a_root_child_is_reported() {
    let Some(program) = inner_program() else {
        run_unprivileged("stop_that_cannot_reach_a_root_child_is_reported");
        return;
    };
    let mut r = Reactor::new().unwrap();
    let (id, pid) = spawn_root_child(&mut r, &program, &["60"]);
    println!("root child {pid}");
    r.stop(id).unwrap();
    let mut recs = Vec::new();
    // The stop signal, then SIGKILL after the grace: both reported.
    drive_until(&mut r, &mut recs, |rs| {
        rs.iter()
            .filter(|x| matches!(x, Rec::SignalFailed(i, _) if *i == id))
            .count()
            == 2
    });
    let errors: Vec<&String> = recs
        .iter()
        .filter_map(|x| match x {
            Rec::SignalFailed(_, e) => Some(e),
            _ => None,
        })
        .collect();
    assert!(errors[0].contains("SIGTERM"), "{errors:?}");
    assert!(errors[1].contains("SIGKILL"), "{errors:?}");
    assert!(exits_of(&recs, id).is_empty(), "it runs on");
    // Dropping the reactor must not wait for a child it cannot kill.
    drop(r);
}

#[test]
fn cli_says_when_its_stop_cannot_reach_a_root_child() {
    if !can_run() {
        return;
    }
    let (dir, program) = setuid_program();
    let procrun = reachable_copy(dir.path(), Path::new(env!("CARGO_BIN_EXE_procrun")));
    let mut cmd = unprivileged(&procrun);
    // The child sleeps 3 s as root: the timeout's stop fails, and procrun
    // says so, then waits for the child to exit by itself.
    cmd.args(["run", "--timeout", "300ms", "--grace", "300ms", "--"])
        .arg(&program)
        .arg("3");
    let (status, out, err) = run_with_watchdog(cmd);
    let _guards: Vec<KillOnDrop> = out
        .lines()
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .map(KillOnDrop)
        .collect();
    assert!(err.contains("stop failed"), "stderr: {err}");
    assert!(err.contains("Operation not permitted"), "stderr: {err}");
    // The timeout did fire, so the status is timeout's 124, as coreutils'
    // `timeout` has it for a command that outlived its time.
    assert_eq!(status.code(), Some(124), "stdout: {out}\nstderr: {err}");
    assert!(err.contains("exited with code 7"), "stderr: {err}");
}

#[test]
fn close_of_a_process_it_cannot_stop_returns_the_error_instead_of_blocking() {
    let Some(program) = inner_program() else {
        run_unprivileged("close_of_a_process_it_cannot_stop_returns_the_error_instead_of_blocking");
        return;
    };
    let p = procrun::Process::builder()
        .command([program.to_str().unwrap(), "60"])
        .grace(Duration::from_millis(300))
        .build()
        .unwrap();
    p.start().unwrap();
    let line = p.lines().unwrap().next().expect("the child's pid");
    println!("root child {}", line.to_string_lossy());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        for _ in 0..2 {
            let tx = tx.clone();
            let p = &p;
            s.spawn(move || tx.send(p.close()).unwrap());
        }
        for _ in 0..2 {
            let r = rx.recv_timeout(WATCHDOG).expect("close blocked");
            assert!(
                matches!(
                    r,
                    Err(procrun::Error::Signal {
                        signal: procrun::Signal::TERM,
                        ..
                    })
                ),
                "{r:?}"
            );
        }
    });
}
