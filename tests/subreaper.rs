//! procrun in a host that is a child subreaper and never reaps what it
//! inherits (an agent running as a container's PID 1 is one): what a stop
//! kills in a child's group becomes the host's zombie and stays one, and
//! the stop must still end. A binary of its own: the subreaper is the
//! whole test process, whose other tests would inherit zombies too.

mod common;

use std::collections::HashSet;
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
    // The sleep ignores SIGTERM: the SIGKILL that follows the script's end
    // kills it, and it stays this process's zombie, which `kill(-pgid, 0)`
    // keeps answering for.
    let mut r = Reactor::new().unwrap();
    let mut c = Command::new("bash");
    c.args(["-c", "sh -c \"trap '' TERM; exec sleep 30\" & wait"])
        .grace(WATCHDOG);
    let id = r.spawn(&c).unwrap();
    let pgid = r.pid(id).unwrap();
    let deadline = Instant::now() + WATCHDOG;
    // Until the member runs sleep, not sh (whose trap may not be set yet).
    while !common::leftovers::group_members(&HashSet::from([pgid]))
        .iter()
        .any(|&m| {
            m != pgid
                && std::fs::read_to_string(format!("/proc/{m}/comm"))
                    .is_ok_and(|c| c.trim_end() == "sleep")
        })
    {
        assert!(Instant::now() < deadline, "the member never ran sleep");
        std::thread::sleep(Duration::from_millis(2));
    }
    let stopped = Instant::now();
    r.stop(id).unwrap();
    let recs = run_to_done(&mut r, id);
    let took = stopped.elapsed();
    let zombies = our_zombies_in(pgid);
    for &z in &zombies {
        let pid = rustix::process::Pid::from_raw(z as i32).unwrap();
        let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
    }
    assert_eq!(exits_of(&recs, id)[0].signal(), Some(Signal::TERM));
    assert_eq!(zombies.len(), 1, "the sleep, a zombie of ours");
    // The settle gives a group up after a second at the least (ten with
    // this grace): a stop that waited for the zombie to go took that long.
    assert!(
        took < Duration::from_millis(900),
        "Done came {took:?} after the stop"
    );
}
