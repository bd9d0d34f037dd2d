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

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::privilege::*;
use common::*;
use procrun::{Command, Reactor, Stream};

const INNER: &str = "PROCRUN_PRIVILEGE_TEST_PROGRAM";

/// Sets up the program and runs test `name` again as uid 65534; returns
/// false (after saying why) when this machine cannot.
fn run_unprivileged(name: &str) -> bool {
    if !can_run() {
        return false;
    }
    let (dir, program) = setuid_program();
    let me = reachable_copy(dir.path(), &std::env::current_exe().unwrap());
    let mut cmd = unprivileged(&me);
    cmd.args(alone(module_path!(), name)).env(INNER, &program);
    let (status, out, _) = run_with_watchdog(cmd);
    // The inner run names the root children it could not stop; end them.
    let _guards: Vec<KillOnDrop> = out
        .lines()
        .filter_map(|l| l.strip_prefix("root child "))
        .filter_map(|p| p.trim().parse().ok())
        .map(KillOnDrop)
        .collect();
    assert!(status.success(), "the unprivileged run failed:\n{out}");
    // A name the harness does not know runs nothing, and passes.
    assert!(
        out.contains("1 passed"),
        "the unprivileged run ran no test:\n{out}"
    );
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
    assert!(errors[0].contains("SIGTERM"), "{errors:?}");
    assert!(errors[1].contains("SIGKILL"), "{errors:?}");
    assert!(exits_of(&recs, id).is_empty(), "it runs on");
    // Dropping the reactor must not wait for a child it cannot kill.
    drop(r);
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
