//! A child that leaves its process group (`setpgid` into another group) is
//! still stopped, timed out and killed: procrun signals the child itself as
//! well as its group (guarantee 9 of the crate docs), and no drop blocks
//! on it.

use crate::common;

use std::sync::mpsc;
use std::time::Duration;

use common::*;
use procrun::{Command, Reactor, Signal, Stream};

/// A process group for a leaver to join: a `sleep` in a group of its own,
/// in the test's session, killed and reaped on drop. Not the test's own
/// group: in a pid namespace (a container) that group may be led from
/// outside and have no number the child can name.
struct Holder(std::process::Child);

impl Holder {
    fn new() -> Self {
        use std::os::unix::process::CommandExt;
        let child = std::process::Command::new("sleep")
            .arg("1000")
            .process_group(0)
            .spawn()
            .expect("spawn the group holder");
        Holder(child)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A python child that joins another process group of its session (a group
/// leader cannot `setsid`, but may move to another group of its session),
/// says so, and sleeps; with `ignore_term` it ignores `SIGTERM` too. The
/// group is the returned holder's; keep it alive while the child runs.
fn leaver(ignore_term: bool) -> Option<(Command, Holder)> {
    if !common::bursts::have_python() {
        eprintln!("skipped: python3 is needed for a child that changes its group");
        return None;
    }
    let ignore = if ignore_term {
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    } else {
        ""
    };
    let holder = Holder::new();
    let mut c = Command::new("python3");
    c.arg("-c").arg(format!(
        "import os, signal, time\n{ignore}os.setpgid(0, {})\n\
         print(os.getpid(), os.getpgid(0), flush=True)\ntime.sleep(100)",
        holder.0.id()
    ));
    Some((c, holder))
}

/// Spawns `cmd` and waits until it has left its group; returns its pid.
fn spawn_and_leave(r: &mut Reactor, cmd: &Command) -> (procrun::ChildId, u32, Vec<Rec>) {
    let id = r.spawn(cmd).unwrap();
    let mut recs = Vec::new();
    drive_until(r, &mut recs, |rs| {
        !lines_of(rs, id, Stream::Stdout).is_empty()
    });
    let line = &lines_of(&recs, id, Stream::Stdout)[0];
    let mut words = line.split(' ').map(|w| w.parse::<u32>().unwrap());
    let (pid, pgid) = (words.next().unwrap(), words.next().unwrap());
    assert_ne!(pid, pgid, "the child is out of its own group");
    (id, pid, recs)
}

#[test]
fn stop_reaches_a_child_that_left_its_group() {
    let Some((cmd, _holder)) = leaver(false) else {
        return;
    };
    let mut r = Reactor::new().unwrap();
    let (id, pid, mut recs) = spawn_and_leave(&mut r, &cmd);
    let _guard = KillOnDrop(pid);
    r.stop(id).unwrap();
    recs.extend(run_to_done(&mut r, id));
    let e = exits_of(&recs, id);
    assert_eq!(e[0].signal(), Some(Signal::TERM), "{recs:?}");
    assert!(e[0].stopped());
}

#[test]
fn grace_ends_in_sigkill_for_a_child_that_left_its_group() {
    let Some((mut cmd, _holder)) = leaver(true) else {
        return;
    };
    cmd.grace(Duration::from_millis(200));
    let mut r = Reactor::new().unwrap();
    let (id, pid, mut recs) = spawn_and_leave(&mut r, &cmd);
    let _guard = KillOnDrop(pid);
    r.stop(id).unwrap();
    recs.extend(run_to_done(&mut r, id));
    assert_eq!(
        exits_of(&recs, id)[0].signal(),
        Some(Signal::KILL),
        "{recs:?}"
    );
}

#[test]
fn timeout_reaches_a_child_that_left_its_group() {
    let Some((mut cmd, _holder)) = leaver(false) else {
        return;
    };
    // Long enough for python to start and move, on a loaded machine.
    cmd.timeout(Duration::from_secs(3));
    let mut r = Reactor::new().unwrap();
    let (id, pid, mut recs) = spawn_and_leave(&mut r, &cmd);
    let _guard = KillOnDrop(pid);
    recs.extend(run_to_done(&mut r, id));
    let e = exits_of(&recs, id);
    assert!(e[0].timed_out(), "{recs:?}");
    assert_eq!(e[0].signal(), Some(Signal::TERM));
}

#[test]
fn dropping_the_reactor_kills_a_child_that_left_its_group_without_blocking() {
    let Some((cmd, _holder)) = leaver(true) else {
        return;
    };
    let (pid_tx, pid_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut r = Reactor::new().unwrap();
        let (_, pid, _) = spawn_and_leave(&mut r, &cmd);
        pid_tx.send(pid).unwrap();
        drop(r);
        done_tx.send(()).unwrap();
    });
    let pid = pid_rx.recv_timeout(WATCHDOG).expect("child started");
    // Killed by pid if the drop hangs, which unblocks it.
    let _guard = KillOnDrop(pid);
    done_rx
        .recv_timeout(WATCHDOG)
        .expect("the drop blocked on a child that left its group");
    // Reaped by the drop: no process, not even a zombie, is left (the pid
    // could be reused by now, but not as a child of this process).
    let w = rustix::process::waitpid(
        Some(rustix::process::Pid::from_raw(pid as i32).unwrap()),
        rustix::process::WaitOptions::NOHANG,
    );
    assert_eq!(w.err(), Some(rustix::io::Errno::CHILD), "left unreaped");
}
