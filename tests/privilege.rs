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
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root to make a setuid-root program");
        return false;
    }
    if !have("cc") || !have("setpriv") {
        eprintln!("skipped: needs cc and setpriv");
        return false;
    }
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
    let me = dir.path().join("test-binary");
    std::fs::copy(std::env::current_exe().unwrap(), &me).unwrap();
    std::fs::set_permissions(&me, std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut child = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&me)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(INNER, &program)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
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
    let out = std::io::read_to_string(child.stdout.take().unwrap()).unwrap();
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
    assert!(errors[0].contains("signal 15"), "{errors:?}");
    assert!(errors[1].contains("signal 9"), "{errors:?}");
    assert!(exits_of(&recs, id).is_empty(), "it runs on");
    // Dropping the reactor must not wait for a child it cannot kill.
    drop(r);
}
