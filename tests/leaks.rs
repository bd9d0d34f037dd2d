//! Nothing leaks: fds and zombies after many spawn/exit cycles. In a test
//! binary of its own, so no other test's children or fds are counted.

mod common;

use common::leftovers::open_fds;
use common::*;
use procrun::{Command, Reactor, Restart};
use std::sync::Mutex;
use std::time::Duration;

/// Each test counts every fd and child of the process: one at a time.
static ALONE: Mutex<()> = Mutex::new(());

#[test]
fn no_fd_or_zombie_left_after_a_thousand_cycles() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let before = open_fds();
    let mut r = Reactor::new().unwrap();
    let with_reactor = open_fds();
    let mut echo = Command::new("echo");
    echo.arg("x");
    let mut fail = Command::new("false");
    fail.restart(Restart::on_error().limit(1).interval(Duration::ZERO));
    let mut stopped = Command::new("sleep");
    stopped.arg("100");
    let mut spawned = 0;
    while spawned < 1000 {
        // 50 in flight at a time: exits, restarts and stops mixed.
        for i in 0..50 {
            let cmd = match i % 3 {
                0 => &echo,
                1 => &fail,
                _ => &stopped,
            };
            let id = r.spawn(cmd).unwrap();
            if i % 3 == 2 {
                r.stop(id).unwrap();
            }
            spawned += 1;
        }
        drive_all(&mut r);
    }
    assert_eq!(open_fds(), with_reactor, "fds leaked");
    // No child of ours is left unreaped (ECHILD: no children at all).
    let w = rustix::process::wait(rustix::process::WaitOptions::NOHANG);
    assert_eq!(w.err(), Some(rustix::io::Errno::CHILD), "a zombie is left");
    drop(r);
    assert_eq!(open_fds(), before);
}

/// Pipelines leave nothing either: neither the middle pipes, which
/// procrun makes and closes at the start, nor a stage, whether the
/// pipeline ends, is stopped, or cannot start its last stage (the stages
/// started before it are killed and reaped before the error returns).
#[test]
fn no_fd_or_zombie_left_by_pipelines_that_end_stop_or_fail_to_start() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let mut r = Reactor::new().unwrap();
    let with_reactor = open_fds();
    let dir = tempfile::tempdir().unwrap();
    let not_executable = dir.path().join("not-executable");
    std::fs::write(&not_executable, "").unwrap();
    let pipeline = |last: Command| {
        let mut first = Command::new("sleep");
        first.arg("100");
        let mut p = procrun::Pipeline::new(first);
        p.pipe(Command::new("cat")).pipe(last);
        p
    };
    let mut ends = procrun::Pipeline::new(sh("echo x"));
    ends.pipe(Command::new("cat")).pipe(Command::new("cat"));
    let stopped = pipeline(Command::new("cat"));
    let missing = pipeline(Command::new("no-such-program-anywhere"));
    let unexecutable = pipeline(Command::new(&not_executable));
    for _ in 0..50 {
        r.spawn_pipeline(&ends).unwrap();
        let id = r.spawn_pipeline(&stopped).unwrap();
        r.stop(id).unwrap();
        assert!(matches!(
            r.spawn_pipeline(&missing),
            Err(procrun::Error::ProgramNotFound { .. })
        ));
        assert!(matches!(
            r.spawn_pipeline(&unexecutable),
            Err(procrun::Error::Spawn { .. })
        ));
        drive_all(&mut r);
    }
    assert_eq!(open_fds(), with_reactor, "fds leaked");
    let w = rustix::process::wait(rustix::process::WaitOptions::NOHANG);
    assert_eq!(w.err(), Some(rustix::io::Errno::CHILD), "a stage is left");
    // A reactor dropped with pipelines running kills and reaps every stage.
    for _ in 0..5 {
        r.spawn_pipeline(&stopped).unwrap();
    }
    drop(r);
    let w = rustix::process::wait(rustix::process::WaitOptions::NOHANG);
    assert_eq!(
        w.err(),
        Some(rustix::io::Errno::CHILD),
        "a dropped stage is left"
    );
}
