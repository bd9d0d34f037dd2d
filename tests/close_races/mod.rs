//! `close()` racing `start()` and other `close()`s (guarantee 10 of the
//! crate docs), shared by the process tests and the soak: one round of
//! each race, a watchdog, and a guard that kills what a failing round
//! leaves.
//!
//! Each race marks its children with its own argument to `sleep`, and a
//! child counts as ours only if /proc says we are its parent: a recycled
//! pid never counts, and nobody else's process is ever signalled.
#![allow(dead_code)]

use std::sync::{Arc, Barrier};
use std::time::Duration;

use procrun::{Error, Process};

/// How long one round may take before it counts as hung. Generous: these
/// machines are shared and noisy.
pub const ROUND_WATCHDOG: Duration = Duration::from_secs(60);

/// The shared watchdog, for the test binaries that include this module.
pub use crate::common::with_watchdog;

/// The parent pid of `pid` from /proc, `None` once it is reaped.
fn parent_of(pid: u32) -> Option<u32> {
    crate::common::proc_entry(pid)?.ppid()
}

/// Whether `pid` is a child of ours not reaped yet (a zombie counts: a
/// close must return after the reap).
fn is_our_unreaped_child(pid: u32) -> bool {
    parent_of(pid) == Some(std::process::id())
}

/// Our live children running `sleep <mark>`.
pub fn marked_children(mark: &str) -> Vec<u32> {
    let me = std::process::id();
    let want = format!("sleep\0{mark}\0");
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if parent_of(pid) != Some(me) {
            continue;
        }
        if std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want.as_bytes()) {
            found.push(pid);
        }
    }
    found
}

/// Kills every child of ours still running `sleep <mark>` and waits (with
/// the watchdog) until none is left, so one failing round neither counts
/// again in the next nor outlives the test. The driver reaps them.
pub fn kill_marked(mark: &str) {
    let deadline = std::time::Instant::now() + ROUND_WATCHDOG;
    loop {
        let left = marked_children(mark);
        if left.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "children {left:?} survive SIGKILL"
        );
        for pid in left {
            if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs [`kill_marked`] on drop, so a failing test leaves nothing behind.
pub struct KillMarkedOnDrop(pub &'static str);

impl Drop for KillMarkedOnDrop {
    fn drop(&mut self) {
        kill_marked(self.0);
    }
}

/// One round of `start()` on one thread against `close()` on another, let
/// go together. Returns the children of the process left after both
/// returned (there must be none, whichever won), killed since. The close
/// is held back a little more in each round of a cycle of 16, so the
/// rounds spread it over the whole start, not only its first instant.
pub fn close_racing_start_round(mark: &'static str, round: usize) -> Vec<u32> {
    let p = Arc::new(Process::builder().command(["sleep", mark]).build().unwrap());
    let go = Arc::new(Barrier::new(2));
    let starter = {
        let (p, go) = (p.clone(), go.clone());
        std::thread::spawn(move || {
            go.wait();
            // Reaped already by the racing close, the run has no pid any
            // more: its exit has (set in the same step that drops it).
            p.start().map(|()| {
                p.pid()
                    .or_else(|| p.last_exit().map(|e| e.pid()))
                    .expect("pid known when start returns")
            })
        })
    };
    let closer = {
        let (p, go) = (p.clone(), go.clone());
        std::thread::spawn(move || {
            go.wait();
            for _ in 0..(round % 16) * 8 {
                std::thread::yield_now();
            }
            p.close()
        })
    };
    let started = starter.join().unwrap();
    closer.join().unwrap().unwrap();
    let mut left = marked_children(mark);
    match started {
        Ok(pid) => {
            let reaped = p.try_wait().unwrap().is_some() && !is_our_unreaped_child(pid);
            if !reaped && !left.contains(&pid) {
                left.push(pid);
            }
        }
        Err(Error::Aborted) => {}
        Err(e) => panic!("start racing close: {e}"),
    }
    assert!(matches!(p.start(), Err(Error::Aborted)));
    kill_marked(mark);
    left
}

/// One round of `closers` threads closing a running `sleep <mark>` at
/// once. Returns how many closes returned before the child was reaped:
/// there must be none.
pub fn concurrent_closes_round(mark: &'static str, closers: usize) -> usize {
    let p = Arc::new(
        Process::builder()
            .command(["sleep", mark])
            .grace(Duration::from_secs(5))
            .build()
            .unwrap(),
    );
    p.start().unwrap();
    let pid = p.pid().unwrap();
    let go = Arc::new(Barrier::new(closers));
    let threads: Vec<_> = (0..closers)
        .map(|_| {
            let (p, go) = (p.clone(), go.clone());
            std::thread::spawn(move || {
                go.wait();
                p.close().unwrap();
                let reaped = matches!(p.try_wait(), Ok(Some(_))) && !is_our_unreaped_child(pid);
                usize::from(!reaped)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).sum()
}

/// Live members of group `pgid` other than its leader, with their comm.
fn members_but(pgid: u32) -> Vec<(u32, String)> {
    crate::common::leftovers::group_members(&std::iter::once(pgid).collect())
        .into_iter()
        .filter(|&m| m != pgid)
        .map(|m| {
            let comm = std::fs::read_to_string(format!("/proc/{m}/comm")).unwrap_or_default();
            (m, comm.trim_end().to_owned())
        })
        .collect()
}

/// One round of `closers` threads closing a bash script whose `sleep 30`
/// is in its group, while `waiters` threads wait for its final exit: the
/// members of the group still alive when a close or a wait returned
/// (there must be none: a stop is over when nothing of the run is left).
/// In odd rounds the sleep ignores SIGTERM, so only the SIGKILL at the end
/// of the grace ends it. Survivors are killed before return.
pub fn group_left_after_close_round(round: usize, closers: usize, waiters: usize) -> Vec<u32> {
    let script = match round % 2 {
        0 => "sleep 30",
        _ => "sh -c \"trap '' TERM; exec sleep 30\" & wait",
    };
    let p = Arc::new(
        Process::builder()
            .script(script)
            .grace(Duration::from_millis(500))
            .build()
            .unwrap(),
    );
    p.start().unwrap();
    let pgid = p.pid().unwrap();
    let deadline = std::time::Instant::now() + ROUND_WATCHDOG;
    while !members_but(pgid).iter().any(|(_, comm)| comm == "sleep") {
        assert!(
            std::time::Instant::now() < deadline,
            "the script never ran its sleep"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let go = Arc::new(Barrier::new(closers + waiters));
    let threads: Vec<_> = (0..closers + waiters)
        .map(|n| {
            let (p, go) = (p.clone(), go.clone());
            std::thread::spawn(move || {
                go.wait();
                if n < closers {
                    p.close().unwrap();
                } else {
                    p.wait().unwrap();
                }
                members_but(pgid)
            })
        })
        .collect();
    let mut left: Vec<u32> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .map(|(m, _)| m)
        .collect();
    left.sort_unstable();
    left.dedup();
    for &m in &left {
        if let Some(pid) = rustix::process::Pid::from_raw(m as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
    left
}
