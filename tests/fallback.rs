//! The reactor on kernels without pidfds, forced with `PROCRUN_NO_PIDFD=1`
//! (a test binary of its own: the variable is process-wide). CI also runs
//! the whole suite with the variable set.

mod common;

use std::time::Duration;

use common::*;
use procrun::{Command, Reactor, Restart, Signal, Stream};

/// One test at a time: one of them checks that no child of this process
/// is left, which another test's running child would contradict.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn reactor() -> Reactor {
    std::env::set_var("PROCRUN_NO_PIDFD", "1");
    let r = Reactor::new().unwrap();
    assert!(!r.uses_pidfd());
    r
}

#[test]
fn exits_stops_restarts_and_group_kills_work_without_pidfds() {
    let _serial = serial();
    let mut r = reactor();
    let mut c = Command::new("sh");
    c.args(["-c", "sleep 100 & echo $!; exit 3"]);
    let code = r.spawn(&c).unwrap();
    let mut c = Command::new("sh");
    c.args(["-c", "trap '' TERM; echo ready; sleep 100"])
        .grace(Duration::from_millis(200));
    let trap = r.spawn(&c).unwrap();
    let mut c = Command::new("false");
    c.restart(
        Restart::on_error()
            .limit(2)
            .interval(Duration::from_millis(20)),
    );
    let again = r.spawn(&c).unwrap();

    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |r| {
        !lines_of(r, trap, Stream::Stdout).is_empty()
    });
    r.stop(trap).unwrap();
    recs.extend(drive_all(&mut r));

    let e = exits_of(&recs, code);
    assert_eq!(e[0].code(), Some(3));
    let grandchild: u32 = lines_of(&recs, code, Stream::Stdout)[0].parse().unwrap();
    let _guard = KillOnDrop(grandchild);
    wait_dead(grandchild);
    let e = exits_of(&recs, trap);
    assert_eq!(e[0].signal(), Some(Signal::KILL), "SIGKILL after the grace");
    let e = exits_of(&recs, again);
    assert_eq!(e.len(), 3);
    assert!(e[2].restart_limit_reached());
    let w = rustix::process::wait(rustix::process::WaitOptions::NOHANG);
    assert_eq!(w.err(), Some(rustix::io::Errno::CHILD), "a zombie is left");
}

#[test]
fn exits_are_looked_for_at_least_every_100_ms_however_long_children_run() {
    // The documented bound on how late an exit is seen without pidfds:
    // the exit poll backs off, but never past 100 ms. Checked on the
    // reactor's own next wake-up, which no machine load can bend.
    let _serial = serial();
    let mut r = reactor();
    let mut c = Command::new("sh");
    c.args(["-c", "sleep 1.5; echo bye"]);
    let id = r.spawn(&c).unwrap();
    let mut recs = Vec::new();
    let mut longest = Duration::ZERO;
    let mut line_at = None;
    let deadline = std::time::Instant::now() + WATCHDOG;
    while !recs.contains(&Rec::Done(id)) {
        assert!(std::time::Instant::now() < deadline, "watchdog");
        if let Some(t) = r.next_timeout() {
            longest = longest.max(t);
        }
        r.poll(Some(Duration::from_secs(1)), |_, ev| {
            let rec = record(ev);
            if matches!(rec, Rec::Line { .. }) {
                line_at = Some(std::time::Instant::now());
            }
            recs.push(rec);
        })
        .unwrap();
    }
    // The wheel rounds a deadline up to its next millisecond tick.
    assert!(
        longest <= Duration::from_millis(101),
        "the exit poll waited {longest:?}"
    );
    assert!(line_at.is_some(), "{recs:?}");
}
