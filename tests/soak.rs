//! Soak: thousands of spawn/close cycles mixing normal exits, stops,
//! timeouts, restarts and scripts, then nothing may be left: the same fds,
//! no zombie, no member of any group procrun made, no script file, RSS
//! back within a small bound.
//!
//! CI runs the short version; the full 10,000 cycles, and 10,000 bursts
//! of each kind that once raced their exit event, run with
//! `cargo test --release --test soak -- --ignored`.

mod common;

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::leftovers::{assert_nothing_left, group_members, open_fds};
use common::*;
use procrun::{Command, Process, Reactor, Restart, Signal};

/// Held by the soaks CI runs, one at a time: each counts what the process
/// has open (fds, children) when it ends, which the other's children would
/// be.
static ALONE: Mutex<()> = Mutex::new(());

fn soak(cycles: usize) {
    let scripts = tempfile::tempdir().unwrap();
    // Warm up: the Process driver thread and its epoll, allocator arenas.
    run_script(scripts.path(), 0);
    let fds = open_fds();
    let rss = rss_kib();
    let mut r = Reactor::new().unwrap();

    let mut echo = Command::new("sh");
    echo.args(["-c", "echo out; echo err >&2; sleep 100 & exit 0"]);
    let mut sleeper = Command::new("sleep");
    sleeper.arg("100").grace(Duration::from_millis(100));
    let mut timed = Command::new("sleep");
    timed.arg("100").timeout(Duration::from_millis(5));
    let mut failing = Command::new("sh");
    failing
        .args(["-c", "exit 1"])
        .restart(Restart::on_error().limit(2).interval(Duration::ZERO));

    let mut groups = HashSet::new();
    let mut done = 0;
    while done < cycles {
        for i in 0..50.min(cycles - done) {
            let id = match i % 5 {
                0 => r.spawn(&echo).unwrap(),
                1 => {
                    let id = r.spawn(&sleeper).unwrap();
                    r.stop(id).unwrap();
                    id
                }
                2 => r.spawn(&timed).unwrap(),
                3 => r.spawn(&failing).unwrap(),
                _ => {
                    run_script(scripts.path(), done + i);
                    continue;
                }
            };
            groups.insert(r.pid(id).unwrap());
        }
        done += 50;
        let recs = drive_all(&mut r);
        for rec in recs {
            if let Rec::Started { pid, .. } = rec {
                groups.insert(pid);
            }
        }
    }
    drop(r);
    assert_nothing_left(&fds, &groups, scripts.path(), rss, cycles);
}

fn run_script(dir: &std::path::Path, n: usize) {
    let p = Process::builder()
        .commands([vec![format!("echo script {n}")], vec!["true".into()]])
        .run_as_bash_script()
        .script_dir(dir)
        .build()
        .unwrap();
    let out = p.start_and_wait_combined(Some(WATCHDOG)).unwrap();
    assert_eq!(out.output, format!("script {n}\n").as_bytes());
    p.close().unwrap();
}

#[test]
#[ignore = "10,000 bursts of each kind: cargo test --release --test soak -- --ignored"]
fn soak_bursts_come_before_their_exit() {
    use common::bursts::{assert_ordered, have_python, Burst};
    assert_ordered(Burst::PipeFull, 10_000);
    eprintln!("10,000 pipe-full bursts: in order");
    assert_ordered(Burst::PipeFullNewline, 10_000);
    eprintln!("10,000 pipe-full bursts ending in a newline: in order");
    if have_python() {
        assert_ordered(Burst::GrownPipe, 10_000);
        eprintln!("10,000 bursts into a child-grown pipe: in order");
    } else {
        eprintln!("grown-pipe bursts skipped: python3 is needed");
    }
}

#[test]
fn soak_short() {
    let _alone = ALONE.lock().unwrap_or_else(|p| p.into_inner());
    soak(500);
}

/// Guarantee 5 of the crate docs under load: 500 stops of a bash script whose
/// `sleep` is in its group, ten at a time on one reactor, and no stop may
/// be Done while a member of its group is alive. The sleep ignores
/// SIGTERM in half of them (only the SIGKILL at the end of the grace, half
/// a second, ends it), holds the run's pipes or not, and the script waits
/// for it or is stopped (SIGSTOP) beside it.
#[test]
fn soak_stops_are_done_only_when_nothing_of_their_groups_is_left() {
    let _alone = ALONE.lock().unwrap_or_else(|p| p.into_inner());
    let scripts: Vec<String> = ["sleep 30", "sh -c \"trap '' TERM; exec sleep 30\""]
        .iter()
        .flat_map(|member| {
            [
                format!("{member} & wait"),
                format!("{member} >/dev/null 2>&1 & wait"),
                format!("{member} & kill -STOP $$; wait"),
                format!("{member} >/dev/null 2>&1 & kill -STOP $$; wait"),
            ]
        })
        .collect();
    let (rounds, at_once) = (500, 10);
    let started = Instant::now();
    let mut r = Reactor::new().unwrap();
    let mut left = Vec::new();
    for batch in 0..rounds / at_once {
        let mut ids = Vec::new();
        for n in 0..at_once {
            let script = &scripts[(batch * at_once + n) % scripts.len()];
            let mut c = Command::new("bash");
            c.args(["-c", script]).grace(Duration::from_millis(500));
            let id = r.spawn(&c).unwrap();
            ids.push((id, r.pid(id).unwrap(), script.contains("STOP")));
        }
        for &(_, pid, stops) in &ids {
            wait_for_sleep(pid, stops);
        }
        for &(id, _, _) in &ids {
            r.stop(id).unwrap();
        }
        let mut recs = Vec::new();
        let mut checked = HashSet::new();
        drive_until(&mut r, &mut recs, |recs| {
            // Each group is looked at as soon as its Done is seen.
            for &(id, pid, _) in &ids {
                if !checked.contains(&pid) && recs.contains(&Rec::Done(id)) {
                    checked.insert(pid);
                    left.extend(group_members(&HashSet::from([pid])));
                }
            }
            checked.len() == ids.len()
        });
        for e in recs.iter().filter_map(|r| match r {
            Rec::Exited(e) => Some(e),
            _ => None,
        }) {
            assert_eq!(e.signal(), Some(Signal::TERM), "{e:?}");
        }
    }
    for &pid in &left {
        drop(KillOnDrop(pid));
    }
    assert!(left.is_empty(), "alive after their stop's Done: {left:?}");
    eprintln!("{rounds} stops in {:?}", started.elapsed());
}

/// Waits (with the watchdog) until the group led by `pid` runs its sleep,
/// and, for a script that stops itself, until it did.
fn wait_for_sleep(pid: u32, stops: bool) {
    let deadline = Instant::now() + WATCHDOG;
    let runs_sleep = || {
        group_members(&HashSet::from([pid])).iter().any(|&m| {
            m != pid
                && std::fs::read_to_string(format!("/proc/{m}/comm"))
                    .is_ok_and(|c| c.trim_end() == "sleep")
        })
    };
    while !runs_sleep() || (stops && proc_state(pid) != Some('T')) {
        assert!(Instant::now() < deadline, "group {pid} never got ready");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
#[ignore = "10,000 cycles: cargo test --release --test soak -- --ignored"]
fn soak_ten_thousand_cycles() {
    soak(10_000);
}

mod close_races;

/// Guarantee 10 of the crate docs under load: `close()` against `start()`,
/// and several `close()`s at once, 10,000 rounds each, and no round may
/// leave a child or let a close return before the reap. Run it alone: the
/// fds and children it has open at any moment would be counted as leaks by
/// the cycle soak running beside it.
#[test]
#[ignore = "10,000 rounds of each close race, alone: cargo test --release --test soak soak_close_racing_start -- --ignored"]
fn soak_close_racing_start() {
    const RACE_MARK: &str = "30.0413";
    const CLOSES_MARK: &str = "30.0414";
    let _cleanup = (
        close_races::KillMarkedOnDrop(RACE_MARK),
        close_races::KillMarkedOnDrop(CLOSES_MARK),
    );
    let rounds = 10_000;
    let (mut left, mut early) = (0, 0);
    for round in 0..rounds {
        left += close_races::with_watchdog(move || {
            close_races::close_racing_start_round(RACE_MARK, round)
        })
        .len();
        early += close_races::with_watchdog(move || {
            close_races::concurrent_closes_round(CLOSES_MARK, 4)
        });
    }
    assert_eq!(left, 0, "{left} of {rounds} racing rounds left a child");
    assert_eq!(
        early,
        0,
        "{early} of {} closes returned before the reap",
        rounds * 4
    );
}

/// Guarantee 5 of the crate docs through the handle API under load: 500
/// rounds of a bash script whose `sleep` is in its group, closed by 16
/// threads at once while 8 wait for its final exit, and no close or wait
/// may return while a member of the group is alive. Run it alone, as the
/// close races.
#[test]
#[ignore = "500 rounds of 16 closes and 8 waits, alone: cargo test --release --test soak soak_closes_leave -- --ignored"]
fn soak_closes_leave_nothing_of_the_group() {
    let rounds = 500;
    let started = Instant::now();
    let mut left = Vec::new();
    for round in 0..rounds {
        left.extend(close_races::with_watchdog(move || {
            close_races::group_left_after_close_round(round, 16, 8)
        }));
    }
    assert!(
        left.is_empty(),
        "alive after close or wait returned: {left:?}"
    );
    eprintln!("{rounds} rounds in {:?}", started.elapsed());
}

/// 1,000 children fed through streaming stdin (`cat`, 64 KiB each, 50 at
/// a time), echoed back raw: every byte comes back, and afterwards the fds
/// are the same and RSS stays within a generous bound (the queues give
/// their memory back).
#[test]
#[ignore = "1,000 stdin-fed children: cargo test --release --test soak soak_stdin -- --ignored"]
fn soak_stdin_fed_children_leak_no_fd_and_no_memory() {
    use procrun::{Event, Input, Output};
    const CHILDREN: usize = 1000;
    const AT_ONCE: usize = 50;
    const EACH: usize = 64 * 1024;
    let data: Vec<u8> = (0..EACH).map(|i| (i % 251) as u8).collect();
    let mut reactor = Reactor::new().unwrap();
    let mut cmd = Command::new("cat");
    cmd.stdin(Input::Stream)
        .stdout(Output::Raw)
        .timeout(WATCHDOG);
    let run_batch = |reactor: &mut Reactor, n: usize| {
        let mut ids: Vec<_> = (0..n).map(|_| (reactor.spawn(&cmd).unwrap(), 0)).collect();
        let mut echoed = 0;
        let deadline = std::time::Instant::now() + WATCHDOG;
        while !reactor.is_empty() {
            assert!(std::time::Instant::now() < deadline, "watchdog");
            for (id, sent) in &mut ids {
                if *sent < EACH {
                    match reactor.write_stdin(*id, &data[*sent..]) {
                        Ok(k) => *sent += k,
                        Err(procrun::Error::Io(e))
                            if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(e) => panic!("write_stdin: {e}"),
                    }
                    if *sent == EACH {
                        reactor.close_stdin(*id).unwrap();
                    }
                }
            }
            reactor
                .poll(Some(Duration::from_millis(200)), |_, ev| {
                    if let Event::Data { bytes, .. } = ev {
                        echoed += bytes.len();
                    }
                })
                .unwrap();
        }
        assert_eq!(echoed, n * EACH);
    };
    // Warm up allocations (queues, the event buffer) before measuring.
    run_batch(&mut reactor, AT_ONCE);
    let (fds, rss) = (open_fds(), rss_kib());
    for _ in 0..CHILDREN / AT_ONCE {
        run_batch(&mut reactor, AT_ONCE);
    }
    assert_eq!(open_fds(), fds);
    let grown = rss_kib().saturating_sub(rss);
    assert!(grown < 32 * 1024, "RSS grew by {grown} KiB");
}
