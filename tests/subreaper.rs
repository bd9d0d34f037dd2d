//! procrun in a host that is a child subreaper and never reaps what it
//! inherits (an agent running as a container's PID 1 is one): what a stop
//! kills in a child's group becomes the host's zombie and stays one, and
//! the stop must still end. A binary of its own: the subreaper is the
//! whole test process, whose other tests would inherit zombies too.

mod common;

use std::time::{Duration, Instant};

use common::*;
use procrun::{Command, Reactor, Signal};

/// Processes of group `pgid` (zombies included) that are this process's
/// children.
fn our_zombies_in(pgid: u32) -> Vec<u32> {
    let me = std::process::id();
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let f: Vec<&str> = after.split(' ').collect();
        if f[0] == "Z" && f[1] == me.to_string() && f[2] == pgid.to_string() {
            found.push(pid);
        }
    }
    found
}

#[test]
fn a_stop_is_done_when_only_zombies_of_its_group_are_left() {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid())).unwrap();
    // The member outlives the script (dead of the stop's SIGTERM at once)
    // by a tenth of a second of flushing, so it ends as this process's
    // zombie, which `kill(-pgid, 0)` keeps answering for: the script's
    // reap (a stopped leader waits for the rest of its group, zombies
    // counting as gone) and its Done must both pass over it.
    let mut r = Reactor::new().unwrap();
    let mut c = Command::new("bash");
    c.args([
        "-c",
        "sh -c \"trap 'sleep 0.1; exit 0' TERM; echo ready; while :; do sleep 0.05; done\" & wait",
    ])
    .grace(WATCHDOG);
    let id = r.spawn(&c).unwrap();
    let pgid = r.pid(id).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |rs| {
        lines_of(rs, id, procrun::Stream::Stdout) == ["ready"]
    });
    let stopped = Instant::now();
    r.stop(id).unwrap();
    recs.extend(run_to_done(&mut r, id));
    let took = stopped.elapsed();
    let zombies = our_zombies_in(pgid);
    for &z in &zombies {
        let pid = rustix::process::Pid::from_raw(z as i32).unwrap();
        let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
    }
    assert_eq!(exits_of(&recs, id)[0].signal(), Some(Signal::TERM));
    assert_eq!(zombies.len(), 1, "the member, a zombie of ours");
    // The settle gives a group up after a second at the least (ten with
    // this grace), and a leader waits for its group at most the grace: a
    // stop that waited for the zombie to go took that long.
    assert!(
        took < Duration::from_millis(900),
        "Done came {took:?} after the stop"
    );
}
