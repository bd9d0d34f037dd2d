//! The reactor against real processes: the guarantees of the crate docs,
//! stops, timeouts, restarts and errors.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use procrun::{ChildId, Command, Error, Event, Reactor, Restart, Signal, Stream};

#[test]
fn lines_are_split_and_delivered_before_exit() {
    let mut r = Reactor::new().unwrap();
    let id = r.spawn(&sh(r"printf 'a\nb\r\n\nc\rd\nlast'")).unwrap();
    let recs = run_to_done(&mut r, id);
    assert_eq!(
        lines_of(&recs, id, Stream::Stdout),
        ["a", "b", "", "c\rd", "last"]
    );
    let exit = position(&recs, |e| matches!(e, Rec::Exited(_)));
    let last_line = recs
        .iter()
        .rposition(|e| matches!(e, Rec::Line { .. }))
        .unwrap();
    assert!(last_line < exit, "a line came after the exit event");
    assert!(matches!(recs[0], Rec::Started { restarts: 0, .. }));
    assert_eq!(recs.last(), Some(&Rec::Done(id)));
}

#[test]
fn burst_written_just_before_exit_arrives_whole_and_in_order() {
    let mut r = Reactor::new().unwrap();
    let mut c = Command::new("seq");
    c.args(["1", "200000"]);
    let id = r.spawn(&c).unwrap();
    let recs = run_to_done(&mut r, id);
    let lines = lines_of(&recs, id, Stream::Stdout);
    assert_eq!(lines.len(), 200_000);
    assert!(lines
        .iter()
        .enumerate()
        .all(|(i, l)| *l == (i + 1).to_string()));
    let exit = position(&recs, |e| matches!(e, Rec::Exited(_)));
    assert!(recs[exit + 1..]
        .iter()
        .all(|e| !matches!(e, Rec::Line { .. })));
}

#[test]
fn exit_codes_and_signals_are_reported() {
    let mut r = Reactor::new().unwrap();
    let code = r.spawn(&sh("exit 7")).unwrap();
    let killed = r.spawn(&sh("kill -9 $$")).unwrap();
    let ok = r.spawn(&Command::new("true")).unwrap();
    let recs = drive_all(&mut r);
    let e = exits_of(&recs, code)[0];
    assert_eq!((e.code(), e.signal(), e.success()), (Some(7), None, false));
    let e = exits_of(&recs, killed)[0];
    assert_eq!((e.code(), e.signal()), (None, Some(Signal::KILL)));
    assert!(!e.stopped());
    let e = exits_of(&recs, ok)[0];
    assert!(e.success() && e.is_final() && !e.restart_limit_reached());
}

#[test]
fn stderr_filled_before_stdout_does_not_deadlock() {
    let mut r = Reactor::new().unwrap();
    let id = r
        .spawn(&sh(
            "head -c 1048576 /dev/zero | tr '\\0' x >&2; echo; echo done",
        ))
        .unwrap();
    let recs = run_to_done(&mut r, id);
    let err_bytes: usize = recs
        .iter()
        .filter_map(|e| match e {
            Rec::Line {
                stream: Stream::Stderr,
                line,
                ..
            } => Some(line.len()),
            _ => None,
        })
        .sum();
    assert_eq!(err_bytes, 1 << 20);
    assert_eq!(lines_of(&recs, id, Stream::Stdout), ["", "done"]);
}

#[test]
fn long_line_comes_in_partial_pieces() {
    let mut r = Reactor::new().unwrap();
    let mut c = sh("head -c 2500 /dev/zero | tr '\\0' y; echo");
    c.max_line(1000);
    let id = r.spawn(&c).unwrap();
    let recs = run_to_done(&mut r, id);
    let pieces: Vec<(usize, bool)> = recs
        .iter()
        .filter_map(|e| match e {
            Rec::Line { line, partial, .. } => Some((line.len(), *partial)),
            _ => None,
        })
        .collect();
    assert_eq!(pieces, [(1000, true), (1000, true), (500, false)]);
}

#[test]
fn concurrent_children_deliver_every_line_once_in_order() {
    let mut r = Reactor::new().unwrap();
    let ids: Vec<_> = (0..200)
        .map(|_| r.spawn(&sh("seq 1 500; seq 1 500 >&2")).unwrap())
        .collect();
    let recs = drive_all(&mut r);
    let want: Vec<String> = (1..=500).map(|i| i.to_string()).collect();
    for id in ids {
        assert_eq!(lines_of(&recs, id, Stream::Stdout), want);
        assert_eq!(lines_of(&recs, id, Stream::Stderr), want);
        assert!(exits_of(&recs, id)[0].success());
    }
}

#[test]
fn stop_sends_sigterm_to_the_group() {
    let mut r = Reactor::new().unwrap();
    let id = r.spawn(&sh("echo ready; sleep 100")).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |r| {
        !lines_of(r, id, Stream::Stdout).is_empty()
    });
    r.stop(id).unwrap();
    drive_until(&mut r, &mut recs, |r| r.contains(&Rec::Done(id)));
    let e = exits_of(&recs, id)[0];
    assert_eq!(e.signal(), Some(Signal::TERM));
    assert!(e.stopped() && !e.timed_out() && e.is_final());
}

#[test]
fn stop_escalates_to_sigkill_after_grace_and_not_before() {
    let mut r = Reactor::new().unwrap();
    let grace = Duration::from_millis(1500);
    let mut c = sh("trap '' TERM; echo ready; while :; do sleep 0.05; done");
    c.grace(grace);
    let id = r.spawn(&c).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |r| {
        !lines_of(r, id, Stream::Stdout).is_empty()
    });
    let t0 = Instant::now();
    r.stop(id).unwrap();
    drive_until(&mut r, &mut recs, |r| !exits_of(r, id).is_empty());
    let took = t0.elapsed();
    let e = exits_of(&recs, id)[0];
    assert_eq!(e.signal(), Some(Signal::KILL), "{e:?}");
    assert!(
        took >= grace,
        "SIGKILL came {took:?} after the stop, before the grace"
    );
}

/// Waits (with the watchdog) until `pid`, which stops itself with SIGSTOP
/// once ready, is stopped; `who` names it when it never does.
#[track_caller]
fn wait_stopped(pid: u32, who: &str) {
    let deadline = Instant::now() + WATCHDOG;
    while proc_state(pid) != Some('T') {
        assert!(Instant::now() < deadline, "{who} never stopped itself");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn stop_wakes_a_stopped_child_with_sigcont() {
    let mut r = Reactor::new().unwrap();
    let mut c = sh("echo ready; kill -STOP $$; sleep 100");
    c.grace(Duration::from_secs(60));
    let id = r.spawn(&c).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |r| {
        !lines_of(r, id, Stream::Stdout).is_empty()
    });
    let pid = r.pid(id).unwrap();
    wait_stopped(pid, "child");
    r.stop(id).unwrap();
    drive_until(&mut r, &mut recs, |r| !exits_of(r, id).is_empty());
    // SIGTERM, not the SIGKILL a minute later.
    assert_eq!(exits_of(&recs, id)[0].signal(), Some(Signal::TERM));
}

#[test]
fn stopping_twice_and_stopping_an_exited_child_are_harmless() {
    let mut r = Reactor::new().unwrap();
    let id = r.spawn(Command::new("sleep").arg("100")).unwrap();
    r.stop(id).unwrap();
    r.stop(id).unwrap();
    let recs = run_to_done(&mut r, id);
    assert_eq!(exits_of(&recs, id).len(), 1);
    // Once the child is done, a stop is a no-op that succeeds.
    assert!(!r.contains(id));
    r.stop(id).unwrap();
}

#[test]
fn stale_handle_never_touches_a_newer_child() {
    let mut r = Reactor::new().unwrap();
    let old = r.spawn(&Command::new("true")).unwrap();
    run_to_done(&mut r, old);
    let new = r.spawn(Command::new("sleep").arg("100")).unwrap();
    assert_ne!(old, new);
    // The old id is done: its calls succeed and do nothing to the child
    // that took its slot.
    r.stop(old).unwrap();
    r.kill(old).unwrap();
    r.pause(old).unwrap();
    assert!(r.pid(old).is_none());
    assert!(r.pid(new).is_some());
    let mut recs = Vec::new();
    r.poll(Some(Duration::from_millis(100)), |_, ev| {
        recs.push(record(ev))
    })
    .unwrap();
    assert!(exits_of(&recs, new).is_empty(), "{recs:?}");
    r.stop(new).unwrap();
    run_to_done(&mut r, new);
}

#[test]
fn timeout_stops_the_child_and_says_so() {
    let mut r = Reactor::new().unwrap();
    let mut c = Command::new("sleep");
    c.arg("100").timeout(Duration::from_millis(300));
    let id = r.spawn(&c).unwrap();
    let recs = run_to_done(&mut r, id);
    let e = exits_of(&recs, id)[0];
    assert!(e.timed_out() && e.stopped() && e.is_final());
    assert_eq!(e.signal(), Some(Signal::TERM));
}

#[test]
fn backgrounded_grandchild_dies_with_the_group() {
    let mut r = Reactor::new().unwrap();
    let id = r.spawn(&sh("sleep 100 & echo $!")).unwrap();
    let recs = run_to_done(&mut r, id);
    let pid: u32 = lines_of(&recs, id, Stream::Stdout)[0].parse().unwrap();
    let _guard = KillOnDrop(pid);
    wait_dead(pid);
}

#[test]
fn detached_child_leaves_its_background_jobs_running() {
    let mut r = Reactor::new().unwrap();
    let mut c = sh("sleep 100 >/dev/null 2>&1 & echo $!");
    c.detached(true);
    let id = r.spawn(&c).unwrap();
    let recs = run_to_done(&mut r, id);
    let pid: u32 = lines_of(&recs, id, Stream::Stdout)[0].parse().unwrap();
    let _guard = KillOnDrop(pid);
    // Alive (running or sleeping), neither gone nor a zombie.
    assert!(
        matches!(proc_state(pid), Some(s) if s != 'Z'),
        "the detached job should survive"
    );
}

#[test]
fn grandchild_holding_the_pipe_does_not_hold_up_the_exit() {
    let mut r = Reactor::new().unwrap();
    // setsid leaves the group, so the group kill cannot reach it and it
    // keeps stdout open.
    let mut c = sh("setsid sh -c 'echo $$; echo late; exec sleep 100' & sleep 0.2; echo parent");
    c.drain(Duration::from_millis(300));
    let id = r.spawn(&c).unwrap();
    let t0 = Instant::now();
    let recs = run_to_done(&mut r, id);
    let lines = lines_of(&recs, id, Stream::Stdout);
    let pid: u32 = lines[0].parse().unwrap();
    let _guard = KillOnDrop(pid);
    assert!(lines.contains(&"parent".to_string()));
    assert!(lines.contains(&"late".to_string()));
    // Exit first, then the pipes are closed after the drain time, long
    // before the grandchild's 100 s.
    let exit = position(&recs, |e| matches!(e, Rec::Exited(_)));
    let closed = position(&recs, |e| matches!(e, Rec::Closed(_, Stream::Stdout)));
    assert!(exit < closed);
    assert!(t0.elapsed() < Duration::from_secs(50));
}

#[test]
fn failed_runs_restart_up_to_the_limit_at_the_interval() {
    let mut r = Reactor::new().unwrap();
    let interval = Duration::from_millis(200);
    let mut c = sh("echo run; exit 3");
    c.restart(Restart::on_error().limit(2).interval(interval));
    let id = r.spawn(&c).unwrap();
    let t0 = Instant::now();
    let recs = run_to_done(&mut r, id);
    assert!(t0.elapsed() >= interval * 2);
    assert_eq!(lines_of(&recs, id, Stream::Stdout), ["run", "run", "run"]);
    let exits = exits_of(&recs, id);
    assert_eq!(exits.len(), 3);
    assert_eq!(exits[0].restart_in(), Some(interval));
    assert_eq!(exits[1].restart_in(), Some(interval));
    assert!(exits[2].is_final() && exits[2].restart_limit_reached());
    assert!(exits.iter().all(|e| e.code() == Some(3)));
    let starts: Vec<u32> = recs
        .iter()
        .filter_map(|e| match e {
            Rec::Started { restarts, .. } => Some(*restarts),
            _ => None,
        })
        .collect();
    assert_eq!(starts, [0, 1, 2]);
}

#[test]
fn successful_exit_is_not_restarted() {
    let mut r = Reactor::new().unwrap();
    let mut c = Command::new("true");
    c.restart(Restart::on_error().interval(Duration::from_millis(10)));
    let id = r.spawn(&c).unwrap();
    let recs = run_to_done(&mut r, id);
    assert_eq!(exits_of(&recs, id).len(), 1);
}

/// Spawns a run that fails and restarts in an hour, and drives it to its
/// first exit, which must announce that restart: the child is between
/// runs.
fn waiting_for_restart(r: &mut Reactor) -> (ChildId, Vec<Rec>) {
    let mut c = sh("exit 1");
    c.restart(Restart::on_error().interval(Duration::from_secs(3600)));
    let id = r.spawn(&c).unwrap();
    let mut recs = Vec::new();
    drive_until(r, &mut recs, |rs| !exits_of(rs, id).is_empty());
    assert!(exits_of(&recs, id)[0].restart_in().is_some());
    (id, recs)
}

#[test]
fn stop_cancels_a_pending_restart() {
    let mut r = Reactor::new().unwrap();
    let (id, mut recs) = waiting_for_restart(&mut r);
    r.stop(id).unwrap();
    drive_until(&mut r, &mut recs, |r| r.contains(&Rec::Done(id)));
    assert_eq!(exits_of(&recs, id).len(), 1);
}

#[test]
fn stdin_bytes_are_fed_then_closed() {
    let mut r = Reactor::new().unwrap();
    let mut c = Command::new("cat");
    c.stdin_bytes(&b"hello\nworld\n"[..]);
    let id = r.spawn(&c).unwrap();
    let recs = run_to_done(&mut r, id);
    assert_eq!(lines_of(&recs, id, Stream::Stdout), ["hello", "world"]);
}

#[test]
fn child_that_stops_reading_stdin_early_is_no_error() {
    let mut r = Reactor::new().unwrap();
    let mut c = Command::new("head");
    c.args(["-c", "1"]).stdin_bytes(vec![b'z'; 8 << 20]);
    let id = r.spawn(&c).unwrap();
    let recs = run_to_done(&mut r, id);
    assert_eq!(lines_of(&recs, id, Stream::Stdout), ["z"]);
    assert!(exits_of(&recs, id)[0].success());
}

#[test]
fn paused_output_blocks_the_child_and_loses_nothing() {
    let mut r = Reactor::new().unwrap();
    let mut c = Command::new("seq");
    c.args(["1", "1000000"]);
    let id = r.spawn(&c).unwrap();
    let mut recs = Vec::new();
    // Pause at the first line.
    let deadline = Instant::now() + WATCHDOG;
    while lines_of(&recs, id, Stream::Stdout).is_empty() {
        assert!(Instant::now() < deadline);
        r.poll(Some(Duration::from_millis(200)), |ctl, ev| {
            if matches!(ev, Event::Line { .. }) {
                ctl.pause(id);
            }
            recs.push(record(ev));
        })
        .unwrap();
    }
    let seen = recs.len();
    // While paused, no line and no exit: the child is blocked on a full
    // pipe (it has 6.9 MB to write).
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        r.poll(Some(Duration::from_millis(100)), |_, ev| {
            recs.push(record(ev))
        })
        .unwrap();
    }
    assert_eq!(recs.len(), seen, "events while paused: {:?}", &recs[seen..]);
    let pid = r.pid(id).expect("child still alive while paused");
    assert_ne!(proc_state(pid), Some('Z'));
    r.resume(id).unwrap();
    drive_until(&mut r, &mut recs, |r| r.contains(&Rec::Done(id)));
    let lines = lines_of(&recs, id, Stream::Stdout);
    assert_eq!(lines.len(), 1_000_000);
    assert!(lines
        .iter()
        .enumerate()
        .all(|(i, l)| *l == (i + 1).to_string()));
}

#[test]
fn exit_while_paused_is_held_back_until_output_is_read() {
    let mut r = Reactor::new().unwrap();
    let mut c = Command::new("seq");
    c.args(["1", "1000"]);
    let id = r.spawn(&c).unwrap();
    r.pause(id).unwrap();
    let mut recs = Vec::new();
    // The child writes 3.9 KB into the pipe and exits; while paused nothing
    // may be delivered, the exit included.
    let pid = loop {
        r.poll(Some(Duration::from_millis(100)), |_, ev| {
            recs.push(record(ev))
        })
        .unwrap();
        if let Some(Rec::Started { pid, .. }) = recs.first() {
            break *pid;
        }
    };
    let deadline = Instant::now() + WATCHDOG;
    while proc_state(pid).is_some_and(|s| s != 'Z') {
        assert!(Instant::now() < deadline);
        r.poll(Some(Duration::from_millis(20)), |_, ev| {
            recs.push(record(ev))
        })
        .unwrap();
    }
    for _ in 0..5 {
        r.poll(Some(Duration::from_millis(20)), |_, ev| {
            recs.push(record(ev))
        })
        .unwrap();
    }
    assert!(
        exits_of(&recs, id).is_empty(),
        "exit delivered while paused"
    );
    r.resume(id).unwrap();
    let recs2 = run_to_done(&mut r, id);
    assert_eq!(lines_of(&recs2, id, Stream::Stdout).len(), 1000);
    let exit = position(&recs2, |e| matches!(e, Rec::Exited(_)));
    let last_line = recs2
        .iter()
        .rposition(|e| matches!(e, Rec::Line { .. }))
        .unwrap();
    assert!(last_line < exit);
}

/// Whether this process holds an fd without FD_CLOEXEC (the test harness
/// may hand some down to us), which a child would inherit by default.
fn holds_inheritable_fds() -> bool {
    std::fs::read_dir("/proc/self/fdinfo")
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let fd: u32 = name.parse().ok()?;
            let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{name}")).ok()?;
            let flags = info.lines().find_map(|l| l.strip_prefix("flags:"))?;
            let flags = u32::from_str_radix(flags.trim(), 8).ok()?;
            const O_CLOEXEC: u32 = 0o2000000;
            (fd > 2 && flags & O_CLOEXEC == 0).then_some(())
        })
        .next()
        .is_some()
}

/// Python's `subprocess` (`close_fds`) closes them too; std's `Command`
/// hands them on.
#[test]
fn child_inherits_no_fd_but_its_stdio_not_even_the_hosts_inheritable_ones() {
    // One of the host's own without CLOEXEC, besides any the harness gave.
    let (_keep_r, keep_w) = rustix::pipe::pipe().unwrap();
    assert!(holds_inheritable_fds());
    let mut r = Reactor::new().unwrap();
    // Enough children for procrun to hold many pipes and pidfds at once.
    let sleepers: Vec<_> = (0..5)
        .map(|_| r.spawn(Command::new("sleep").arg("100")).unwrap())
        .collect();
    // `ls` opens the directory itself (fd 3, CLOEXEC); no other fd beyond
    // 0-2 is there: none of procrun's, none of the host's.
    let mut c = Command::new("ls");
    c.arg("/proc/self/fd");
    let id = r.spawn(&c).unwrap();
    let recs = run_to_done(&mut r, id);
    let mut got = lines_of(&recs, id, Stream::Stdout);
    got.retain(|fd| fd != "3");
    got.sort();
    assert_eq!(got, ["0", "1", "2"]);
    drop(keep_w);
    for s in sleepers {
        r.stop(s).unwrap();
    }
    drive_all(&mut r);
}

#[test]
fn no_signal_handler_is_installed() {
    let mut r = Reactor::new().unwrap();
    let id = r.spawn(&Command::new("true")).unwrap();
    run_to_done(&mut r, id);
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let caught = status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap();
    const SIGCHLD: u32 = 17;
    assert_eq!(caught & (1 << (SIGCHLD - 1)), 0, "a SIGCHLD handler exists");
}

#[test]
fn idle_reactor_waits_without_waking() {
    // Other tests spawn children from their threads. A child that exits
    // while its spawning thread has every signal blocked (procrun's spawn,
    // as posix_spawn, does that around its clone) cannot have its SIGCHLD discarded at once, so
    // the kernel hands it to a thread that does not block it, possibly
    // this one, interrupting epoll_wait (EINTR) before the signal is
    // ignored. That wake-up comes from outside the reactor; blocking
    // signals in this thread keeps the count to the reactor's own.
    // SAFETY: pthread_sigmask only changes this thread's mask, from a
    // fully initialised set; no handler or memory of ours is involved.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    let mut r = Reactor::new().unwrap();
    let mut c = Command::new("sleep");
    c.arg("1");
    let id = r.spawn(&c).unwrap();
    let mut recs = Vec::new();
    r.poll(None, |_, ev| recs.push(record(ev))).unwrap();
    assert!(matches!(recs[..], [Rec::Started { .. }]));
    // Nothing is due until the child exits: with no periodic wake-up, an
    // unbounded poll returns only with an event. A waker is the watchdog.
    let waker = r.waker();
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(WATCHDOG);
        let _ = waker.wake();
    });
    let (mut calls, mut empty) = (0, 0);
    while !recs.iter().any(|e| matches!(e, Rec::Exited(_))) {
        let before = recs.len();
        r.poll(None, |_, ev| recs.push(record(ev))).unwrap();
        calls += 1;
        if recs.len() == before {
            empty += 1;
        }
    }
    assert!(r.wakeups() >= calls);
    if r.uses_pidfd() {
        assert_eq!(empty, 0, "poll(None) returned without an event");
        assert!(calls <= 3, "{calls} wake-ups for one exit");
    } else {
        // Without pidfds exits are polled, backing off to 100 ms: about
        // ten wake-ups for a one-second child, never a busy loop.
        assert!(calls <= 40, "{calls} wake-ups for one exit");
    }
    drop(watchdog);
    drive_until(&mut r, &mut recs, |r| r.contains(&Rec::Done(id)));
}

#[test]
fn waker_wakes_a_blocked_poll() {
    let mut r = Reactor::new().unwrap();
    let waker = r.waker();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        waker.wake().unwrap();
    });
    let mut n = 0;
    r.poll(Some(WATCHDOG), |_, _| n += 1).unwrap();
    t.join().unwrap();
    assert_eq!(n, 0);
}

#[test]
fn bad_commands_are_typed_errors() {
    let mut r = Reactor::new().unwrap();
    assert!(matches!(
        r.spawn(&Command::new("procrun-no-such-program")),
        Err(Error::ProgramNotFound { .. })
    ));
    assert!(matches!(
        r.spawn(&Command::new("/nonexistent/bin/x")),
        Err(Error::ProgramNotFound { .. })
    ));
    assert!(matches!(
        r.spawn(&Command::new("")),
        Err(Error::EmptyProgram)
    ));
    let mut c = Command::new("true");
    c.env_entries(["NOPE"]);
    assert!(matches!(r.spawn(&c), Err(Error::InvalidEnv { .. })));
    let mut c = Command::new("true");
    c.current_dir("/nonexistent/dir");
    assert!(matches!(r.spawn(&c), Err(Error::CwdNotFound { .. })));
    let mut c = Command::new("true");
    c.env("A", "b\0c");
    assert!(matches!(r.spawn(&c), Err(Error::NulByte { .. })));
    assert!(r.is_empty());
}

#[test]
fn env_and_cwd_reach_the_child() {
    let mut r = Reactor::new().unwrap();
    let mut c = sh("echo $PROCRUN_A $PROCRUN_B; pwd; echo ${HOME:-unset}");
    c.env("PROCRUN_A", "1")
        .env_entries(["PROCRUN_B=x=y"])
        .env_remove("HOME")
        .current_dir("/tmp");
    let id = r.spawn(&c).unwrap();
    let recs = run_to_done(&mut r, id);
    assert_eq!(
        lines_of(&recs, id, Stream::Stdout),
        ["1 x=y", "/tmp", "unset"]
    );
}

#[test]
fn output_to_a_file_bypasses_the_reactor() {
    let mut r = Reactor::new().unwrap();
    let file = tempfile::tempfile().unwrap();
    let file = std::sync::Arc::new(file);
    let mut c = sh("echo out; echo err >&2");
    c.stdout(procrun::Output::File(file.clone()))
        .stderr(procrun::Output::File(file.clone()));
    let id = r.spawn(&c).unwrap();
    let recs = run_to_done(&mut r, id);
    assert!(lines_of(&recs, id, Stream::Stdout).is_empty());
    use std::io::{Read, Seek};
    let mut f = &*file;
    f.rewind().unwrap();
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "out\nerr\n");
}

#[test]
fn unexecutable_program_is_a_spawn_error() {
    let mut r = Reactor::new().unwrap();
    // A directory exists but cannot be executed: EACCES, not "not found".
    match r.spawn(&Command::new("/tmp")) {
        Err(Error::Spawn { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::PermissionDenied)
        }
        other => panic!("{other:?}"),
    }
}

/// As `execvp` (and `env`, and shells): a bare name found on `PATH` only
/// as a directory or a file without an execute bit is EACCES, "cannot
/// execute", not "not found"; an executable one further on still runs.
#[test]
fn bare_name_found_on_path_only_where_it_cannot_execute_is_eacces_as_execvp() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let (denied, runs) = (tmp.path().join("denied"), tmp.path().join("runs"));
    std::fs::create_dir_all(denied.join("procrun-dir")).unwrap();
    std::fs::write(denied.join("procrun-plain"), "exit 0\n").unwrap();
    std::fs::set_permissions(
        denied.join("procrun-plain"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::create_dir(&runs).unwrap();
    std::fs::write(runs.join("procrun-plain"), "#!/bin/sh\nexit 7\n").unwrap();
    std::fs::set_permissions(
        runs.join("procrun-plain"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let mut r = Reactor::new().unwrap();
    for name in ["procrun-dir", "procrun-plain"] {
        let mut c = Command::new(name);
        c.env("PATH", &denied);
        match r.spawn(&c) {
            Err(Error::Spawn { source, .. }) => {
                assert_eq!(source.raw_os_error(), Some(libc::EACCES), "{name}")
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    let mut c = Command::new("procrun-none");
    c.env("PATH", &denied);
    assert!(matches!(r.spawn(&c), Err(Error::ProgramNotFound { .. })));
    // A denied candidate does not hide a runnable one later on PATH.
    let mut c = Command::new("procrun-plain");
    let path = std::env::join_paths([&denied, &runs]).unwrap();
    c.env("PATH", &path);
    let id = r.spawn(&c).unwrap();
    let recs = run_to_done(&mut r, id);
    assert_eq!(exits_of(&recs, id)[0].code(), Some(7));
}

#[test]
fn stderr_into_the_stdout_pipe_keeps_the_write_order() {
    let mut r = Reactor::new().unwrap();
    let mut c = sh("for i in 1 2 3; do echo o$i; echo e$i >&2; done");
    c.stderr(procrun::Output::Stdout);
    let id = r.spawn(&c).unwrap();
    let recs = run_to_done(&mut r, id);
    assert_eq!(
        lines_of(&recs, id, Stream::Stdout),
        ["o1", "e1", "o2", "e2", "o3", "e3"]
    );
    assert!(lines_of(&recs, id, Stream::Stderr).is_empty());
}

#[test]
fn another_loop_can_wait_on_the_reactor_fd() {
    use std::os::fd::AsFd;
    let mut r = Reactor::new().unwrap();
    let mut c = sh("sleep 0.2; echo late");
    c.timeout(Duration::from_secs(30));
    let id = r.spawn(&c).unwrap();
    // The Started event is owed: no waiting allowed.
    assert_eq!(r.next_timeout(), Some(Duration::ZERO));
    let mut recs = Vec::new();
    r.poll(Some(Duration::ZERO), |_, ev| recs.push(record(ev)))
        .unwrap();
    let t = r.next_timeout().unwrap();
    if r.uses_pidfd() {
        // Now only the 30 s timeout is pending; deadlines round up to the
        // next millisecond tick.
        assert!(
            t > Duration::from_secs(20) && t <= Duration::from_millis(30_002),
            "{t:?}"
        );
    } else {
        // Without pidfds the exit poll comes first, at most 100 ms away.
        assert!(t <= Duration::from_millis(101), "{t:?}");
    }
    // An outer epoll wakes when the child writes and exits.
    use std::os::fd::AsRawFd;
    let mut outer = mio::Poll::new().unwrap();
    let fd = r.as_fd().as_raw_fd();
    outer
        .registry()
        .register(
            &mut mio::unix::SourceFd(&fd),
            mio::Token(0),
            mio::Interest::READABLE,
        )
        .unwrap();
    let mut events = mio::Events::with_capacity(4);
    let deadline = Instant::now() + WATCHDOG;
    let mut outer_wakeups = 0;
    while !recs.contains(&Rec::Done(id)) {
        assert!(Instant::now() < deadline);
        match outer.poll(&mut events, r.next_timeout()) {
            Ok(()) => {}
            // Any epoll_wait may be interrupted; an outer loop retries.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => panic!("{e}"),
        }
        outer_wakeups += !events.is_empty() as u32;
        r.poll(Some(Duration::ZERO), |_, ev| recs.push(record(ev)))
            .unwrap();
    }
    assert!(outer_wakeups >= 1);
    assert_eq!(lines_of(&recs, id, Stream::Stdout), ["late"]);
}

#[test]
#[allow(unsafe_code)]
fn children_start_with_no_signal_blocked_or_ignored() {
    // Block SIGTERM in this (spawning) thread and ignore SIGUSR2 in the
    // process, as a host using signalfd or run under nohup would: a child
    // must still start clean, or a stop's SIGTERM would never reach it.
    // SAFETY: plain libc calls on a zeroed sigset; SIGUSR2 and SIGRTMIN+5
    // are used by no other test of this binary.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        libc::signal(libc::SIGUSR2, libc::SIG_IGN);
        libc::signal(libc::SIGRTMIN() + 5, libc::SIG_IGN);
    }
    let mut r = Reactor::new().unwrap();
    let mut c = Command::new("grep");
    c.args(["-E", "^Sig(Blk|Ign)", "/proc/self/status"]);
    let id = r.spawn(&c).unwrap();
    let recs = run_to_done(&mut r, id);
    let lines = lines_of(&recs, id, Stream::Stdout);
    let mask = |l: &str| u64::from_str_radix(l.split('\t').nth(1).unwrap(), 16).unwrap();
    assert_eq!(mask(&lines[0]), 0, "blocked in the child: {lines:?}");
    // Every signal back at its default: the standard ones, a real-time one
    // ignored here, and glibc's internal 32 and 33, which glibc's
    // posix_spawn would leave ignored.
    assert_eq!(mask(&lines[1]), 0, "ignored in the child: {lines:?}");
}

#[test]
fn huge_durations_mean_never_and_panic_nowhere() {
    let mut r = Reactor::new().unwrap();
    let mut c = sh("echo hi");
    c.timeout(Duration::MAX)
        .grace(Duration::MAX)
        .drain(Duration::MAX);
    let quick = r.spawn(&c).unwrap();
    let mut c = Command::new("false");
    c.restart(
        Restart::on_error()
            .interval(Duration::MAX)
            .backoff(Duration::MAX)
            .reset_after(Duration::MAX),
    );
    let failing = r.spawn(&c).unwrap();
    let mut c = Command::new("sleep");
    c.arg("100").grace(Duration::MAX).timeout(Duration::MAX);
    let sleeper = r.spawn(&c).unwrap();
    assert!(r.next_timeout().is_some(), "the started events are owed");

    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |rs| {
        rs.contains(&Rec::Done(quick))
            && !exits_of(rs, failing).is_empty()
            && rs
                .iter()
                .any(|x| matches!(x, Rec::Started { id, .. } if *id == sleeper))
    });
    assert_eq!(lines_of(&recs, quick, Stream::Stdout), ["hi"]);
    assert!(exits_of(&recs, quick)[0].success());
    // A restart delay no clock reaches is a restart that never comes: the
    // child waits for it until stopped.
    let e = exits_of(&recs, failing);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].restart_in(), Some(Duration::MAX));
    assert!(!e[0].is_final());
    // The sleeper's timeout and grace are "never": only a stop ends it, and
    // SIGTERM does.
    r.stop(sleeper).unwrap();
    r.stop(failing).unwrap();
    recs.clear();
    // A poll with a huge timeout must not overflow either.
    let deadline = Instant::now() + WATCHDOG;
    while !recs.contains(&Rec::Done(sleeper)) || !recs.contains(&Rec::Done(failing)) {
        assert!(Instant::now() < deadline, "watchdog");
        r.poll(Some(Duration::MAX), |_, ev| recs.push(record(ev)))
            .unwrap();
    }
    let e = exits_of(&recs, sleeper);
    assert_eq!(e[0].signal(), Some(Signal::TERM));
    assert!(e[0].stopped() && !e[0].timed_out());
    assert!(exits_of(&recs, failing).is_empty(), "restarted: {recs:?}");
}

#[test]
fn a_restart_delay_past_any_clock_waits_until_stopped_as_a_long_one_does() {
    // 5,000,000 h fits an Instant, Duration::MAX does not: both mean a
    // restart that never comes, so a stop or the timeout ends the wait,
    // and Done says it cancelled the restart.
    let long = Duration::from_secs(5_000_000 * 3600);
    for delay in [Duration::MAX, long] {
        for timeout in [None, Some(Duration::from_millis(300))] {
            let mut r = Reactor::new().unwrap();
            let mut c = sh("exit 3");
            c.restart(Restart::on_error().interval(delay));
            if let Some(t) = timeout {
                c.timeout(t);
            }
            let id = r.spawn(&c).unwrap();
            let mut done = None;
            let mut exits = Vec::new();
            let deadline = Instant::now() + WATCHDOG;
            let spawned = Instant::now();
            while done.is_none() {
                assert!(Instant::now() < deadline, "watchdog");
                r.poll(Some(Duration::from_millis(50)), |_, ev| match ev {
                    Event::Exited(e) => exits.push(e),
                    Event::Done {
                        restart_cancelled,
                        timed_out,
                        ..
                    } => done = Some((restart_cancelled, timed_out)),
                    _ => {}
                })
                .unwrap();
                // Without a timeout, still waiting half a second after the
                // spawn (the exit came at once): then stop it.
                let waiting = !exits.is_empty() && r.contains(id);
                if timeout.is_none() && waiting && spawned.elapsed() > Duration::from_millis(500) {
                    r.stop(id).unwrap();
                }
            }
            let why = format!("{delay:?}, timeout {timeout:?}");
            assert_eq!(exits.len(), 1, "{why}");
            assert_eq!(exits[0].code(), Some(3), "{why}");
            assert_eq!(exits[0].restart_in(), Some(delay), "{why}");
            assert_eq!(done, Some((true, timeout.is_some())), "{why}");
            assert!(spawned.elapsed() > Duration::from_millis(300), "{why}");
        }
    }
}

/// A shell that prints `ready`, then a line for each SIGUSR1 and each
/// SIGRTMIN+1 (35) it gets, until something else ends it. The signals also
/// end the `sleep` in its group, which only starts the next one.
fn signal_echo() -> Command {
    let mut c = sh("trap 'echo got USR1' USR1; trap 'echo got RTMIN+1' 35; \
         echo ready; while :; do sleep 60 & wait; done");
    c.timeout(WATCHDOG);
    c
}

fn count_line(recs: &[Rec], id: ChildId, line: &str) -> usize {
    lines_of(recs, id, Stream::Stdout)
        .iter()
        .filter(|l| *l == line)
        .count()
}

#[test]
fn signal_reaches_the_child_each_time_and_starts_no_stop() {
    let mut r = Reactor::new().unwrap();
    let id = r.spawn(&signal_echo()).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |rs| count_line(rs, id, "ready") == 1);
    // One at a time: two of the same signal pending at once are one.
    for n in 1..=2 {
        r.signal(id, Signal::USR1).unwrap();
        drive_until(&mut r, &mut recs, |rs| count_line(rs, id, "got USR1") == n);
    }
    let rt: Signal = "SIGRTMIN+1".parse().unwrap();
    r.signal(id, rt).unwrap();
    drive_until(&mut r, &mut recs, |rs| {
        count_line(rs, id, "got RTMIN+1") == 1
    });
    assert!(exits_of(&recs, id).is_empty(), "{recs:?}");
    assert!(r.contains(id));

    r.stop(id).unwrap();
    drive_until(&mut r, &mut recs, |rs| rs.contains(&Rec::Done(id)));
    let e = exits_of(&recs, id);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].signal(), Some(Signal::TERM));
    assert!(!recs.iter().any(|x| matches!(x, Rec::SignalFailed(..))));
}

#[test]
fn control_signal_and_kill_are_sent_after_the_event_that_asked_for_them() {
    let mut r = Reactor::new().unwrap();
    let id = r.spawn(&signal_echo()).unwrap();
    let mut recs = Vec::new();
    let deadline = Instant::now() + WATCHDOG;
    while !recs.contains(&Rec::Done(id)) {
        assert!(Instant::now() < deadline, "watchdog: {recs:?}");
        r.poll(Some(Duration::from_millis(200)), |ctl, ev| {
            match &ev {
                Event::Line { line, .. } if *line == b"ready" => ctl.signal(id, Signal::USR1),
                Event::Line { line, .. } if *line == b"got USR1" => ctl.kill(id),
                _ => {}
            }
            recs.push(record(ev));
        })
        .unwrap();
    }
    assert_eq!(lines_of(&recs, id, Stream::Stdout), ["ready", "got USR1"]);
    let e = exits_of(&recs, id);
    assert_eq!(e[0].signal(), Some(Signal::KILL));
    assert!(!e[0].stopped());
}

#[test]
fn kill_ends_the_run_with_sigkill_and_the_restart_policy_still_applies() {
    let mut r = Reactor::new().unwrap();
    let mut c = signal_echo();
    c.restart(
        Restart::on_error()
            .limit(1)
            .interval(Duration::from_millis(10)),
    );
    let id = r.spawn(&c).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |rs| count_line(rs, id, "ready") == 1);
    r.kill(id).unwrap();
    drive_until(&mut r, &mut recs, |rs| count_line(rs, id, "ready") == 2);
    let e = exits_of(&recs, id);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].signal(), Some(Signal::KILL));
    assert!(!e[0].stopped(), "a kill is no stop");
    assert!(e[0].restart_in().is_some(), "killed is failed: restarted");

    r.kill(id).unwrap();
    drive_until(&mut r, &mut recs, |rs| rs.contains(&Rec::Done(id)));
    let e = exits_of(&recs, id);
    assert_eq!(e.len(), 2);
    assert_eq!(e[1].signal(), Some(Signal::KILL));
    assert!(e[1].is_final() && e[1].restart_limit_reached());
    assert_eq!(e[1].to_string(), "killed by SIGKILL");
}

#[test]
fn signal_with_no_live_run_or_once_done_sends_nothing_and_succeeds() {
    let mut r = Reactor::new().unwrap();
    let (id, mut recs) = waiting_for_restart(&mut r);
    // Waiting for its restart: nothing to signal, and no error.
    r.signal(id, Signal::TERM).unwrap();
    r.kill(id).unwrap();
    assert!(r.contains(id));
    r.stop(id).unwrap();
    drive_until(&mut r, &mut recs, |rs| rs.contains(&Rec::Done(id)));
    assert_eq!(exits_of(&recs, id).len(), 1, "{recs:?}");

    r.signal(id, Signal::USR1).unwrap();
    r.kill(id).unwrap();
}

#[test]
fn restart_always_brings_back_a_run_that_exited_zero_up_to_the_limit() {
    let mut r = Reactor::new().unwrap();
    let interval = Duration::from_millis(20);
    let mut c = sh("echo run");
    c.restart(
        Restart::always()
            .limit(3)
            .interval(interval)
            .backoff(Duration::from_secs(10)),
    );
    let id = r.spawn(&c).unwrap();
    let recs = run_to_done(&mut r, id);
    assert_eq!(lines_of(&recs, id, Stream::Stdout), ["run"; 4]);
    let exits = exits_of(&recs, id);
    assert!(exits.iter().all(|e| e.success() && !e.stopped()));
    let delays: Vec<_> = exits.iter().map(|e| e.restart_in()).collect();
    assert_eq!(
        delays,
        [Some(interval), Some(interval * 2), Some(interval * 4), None]
    );
    assert!(
        exits[3].restart_limit_reached(),
        "the limit counts successes"
    );
    assert!(exits[..3].iter().all(|e| !e.restart_limit_reached()));
}

#[test]
fn restart_always_restarts_failures_and_reset_after_keeps_the_limit_away() {
    let mut r = Reactor::new().unwrap();
    let mut c = sh("echo run; exit 2");
    c.restart(
        Restart::always()
            .limit(1)
            .interval(Duration::from_millis(10))
            .reset_after(Duration::ZERO),
    );
    let id = r.spawn(&c).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |rs| exits_of(rs, id).len() >= 3);
    r.stop(id).unwrap();
    drive_until(&mut r, &mut recs, |rs| rs.contains(&Rec::Done(id)));
    let exits = exits_of(&recs, id);
    assert!(exits[..3]
        .iter()
        .all(|e| e.code() == Some(2) && e.restart_in().is_some()));
}

#[test]
fn restart_always_ends_with_a_stop_or_a_timeout() {
    let mut r = Reactor::new().unwrap();
    let mut c = sh("echo ready; exec sleep 600");
    c.restart(Restart::always().interval(Duration::from_millis(10)));
    let stopped = r.spawn(&c).unwrap();
    c.timeout(Duration::from_millis(200));
    let timed = r.spawn(&c).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |rs| {
        lines_of(rs, stopped, Stream::Stdout).len() == 1
    });
    r.stop(stopped).unwrap();
    drive_until(&mut r, &mut recs, |rs| {
        rs.contains(&Rec::Done(stopped)) && rs.contains(&Rec::Done(timed))
    });
    let e = exits_of(&recs, stopped);
    assert_eq!(e.len(), 1, "{recs:?}");
    assert!(e[0].stopped() && e[0].is_final() && !e[0].restart_limit_reached());
    let e = exits_of(&recs, timed);
    assert_eq!(e.len(), 1, "{recs:?}");
    assert!(e[0].timed_out() && e[0].is_final() && !e[0].restart_limit_reached());
}

/// The one exit of a command run to the end.
fn only_exit(c: &Command) -> procrun::Exit {
    let mut r = Reactor::new().unwrap();
    let id = r.spawn(c).unwrap();
    let e = exits_of(&run_to_done(&mut r, id), id);
    assert_eq!(e.len(), 1, "{e:?}");
    e[0]
}

#[test]
fn exit_reports_the_cpu_time_a_busy_child_used() {
    let e = only_exit(&sh("i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"));
    assert!(e.success(), "{e:?}");
    assert!(e.user_time() > Duration::ZERO, "{e:?}");
    assert!(
        e.user_time() + e.system_time() <= e.wall_time() * 2,
        "{e:?}"
    );
}

/// This process's peak resident set size in bytes.
fn own_peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

#[test]
fn exit_reports_the_peak_memory_of_a_child_that_allocates() {
    // A spawned child's peak counts the memory it shared with this process
    // before its exec, so it must outgrow this process's own peak by far
    // for its allocation to be what the test sees.
    let mib = own_peak_rss() / (1 << 20) + 50;
    // dd reads that much from /dev/zero into one buffer: every page of it
    // is written, so resident at once.
    let mut c = Command::new("dd");
    c.args([
        "if=/dev/zero".to_string(),
        "of=/dev/null".into(),
        format!("bs={mib}M"),
        "count=1".into(),
    ]);
    let e = only_exit(&c);
    assert!(e.success(), "{e:?}");
    assert!(e.max_rss_bytes() > (mib - 10) << 20, "{mib} MiB: {e:?}");
}

#[test]
fn exit_reports_the_wall_time_of_the_run() {
    let mut c = Command::new("sleep");
    c.arg("0.3");
    let e = only_exit(&c);
    assert!(e.wall_time() >= Duration::from_millis(300), "{e:?}");
    assert!(e.user_time() < Duration::from_millis(300), "{e:?}");
}

#[test]
fn a_killed_group_leader_still_reports_its_usage() {
    let mut r = Reactor::new().unwrap();
    let id = r
        .spawn(&sh(
            "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo ready; sleep 600 & wait",
        ))
        .unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |rs| {
        lines_of(rs, id, Stream::Stdout) == ["ready"]
    });
    r.kill(id).unwrap();
    drive_until(&mut r, &mut recs, |rs| rs.contains(&Rec::Done(id)));
    let e = exits_of(&recs, id);
    assert_eq!(e[0].signal(), Some(Signal::KILL), "{e:?}");
    assert!(e[0].user_time() > Duration::ZERO, "{e:?}");
    assert!(e[0].max_rss_bytes() > 0, "{e:?}");
}

/// One reactor per thread (the shape the handle API's pool runs): two
/// reactors made here, moved to a thread each, run their children at the
/// same time, and each sees the events of its own children only. A reactor
/// that took another's exit (a `waitid` on any child) or its lines would
/// count one too many or one too few.
#[test]
fn two_reactors_on_two_threads_each_see_only_their_own_children() {
    const CHILDREN: usize = 20;
    let workers: Vec<_> = ["left", "right"]
        .into_iter()
        .map(|tag| {
            let mut r = Reactor::new().unwrap();
            std::thread::spawn(move || {
                let mut pids = std::collections::HashSet::new();
                let mut ids = Vec::new();
                for k in 0..CHILDREN {
                    let id = r
                        .spawn(&sh(&format!("echo {tag} {k}; echo {tag} {k} done >&2")))
                        .unwrap();
                    pids.insert(r.pid(id).unwrap());
                    ids.push(id);
                }
                let recs = drive_all(&mut r);
                for (k, &id) in ids.iter().enumerate() {
                    assert_eq!(lines_of(&recs, id, Stream::Stdout), [format!("{tag} {k}")]);
                    assert_eq!(
                        lines_of(&recs, id, Stream::Stderr),
                        [format!("{tag} {k} done")]
                    );
                    assert!(exits_of(&recs, id)[0].success());
                }
                let (mut started, mut exited) = (0, 0);
                for rec in &recs {
                    match rec {
                        Rec::Started { pid, .. } => {
                            assert!(pids.contains(pid), "{tag}: another's child {pid}");
                            started += 1;
                        }
                        Rec::Exited(e) => {
                            assert!(pids.contains(&e.pid()), "{tag}: another's exit {e:?}");
                            exited += 1;
                        }
                        Rec::Line { line, .. } => {
                            let text = String::from_utf8_lossy(line);
                            assert!(text.starts_with(tag), "{tag}: another's line {text:?}");
                        }
                        _ => {}
                    }
                }
                assert_eq!((started, exited), (CHILDREN, CHILDREN));
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
fn done_says_when_a_stop_or_the_timeout_cancelled_a_pending_restart() {
    // (restart_cancelled, timed_out) of each child's Done.
    fn run(reactor: &mut Reactor, cmd: &Command, stop: bool) -> (bool, bool) {
        let id = reactor.spawn(cmd).unwrap();
        let deadline = Instant::now() + WATCHDOG;
        let mut done = None;
        while done.is_none() {
            assert!(Instant::now() < deadline, "watchdog");
            let mut pending = false;
            reactor
                .poll(Some(Duration::from_millis(100)), |_, ev| match ev {
                    Event::Exited(e) => pending = e.restart_in().is_some(),
                    Event::Done {
                        restart_cancelled,
                        timed_out,
                        ..
                    } => done = Some((restart_cancelled, timed_out)),
                    _ => {}
                })
                .unwrap();
            if pending && stop {
                reactor.stop(id).unwrap();
            }
        }
        done.unwrap()
    }
    let mut reactor = Reactor::new().unwrap();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "exit 1"])
        .restart(Restart::on_error().limit(3).interval(WATCHDOG))
        .timeout(WATCHDOG * 2);
    assert_eq!(run(&mut reactor, &cmd, true), (true, false));
    cmd.timeout(Duration::from_secs(1));
    assert_eq!(run(&mut reactor, &cmd, false), (true, true));
    // Without a pending restart, neither.
    let mut plain = Command::new("true");
    plain.timeout(WATCHDOG);
    assert_eq!(run(&mut reactor, &plain, false), (false, false));
}

/// What a handler saw, per child, as owned values.
#[derive(Default, Debug)]
struct Log {
    started: Vec<(ChildId, u32)>,
    lines: Vec<(ChildId, String)>,
    exits: Vec<procrun::Exit>,
    closed: Vec<(ChildId, Stream)>,
    /// (id, restart_cancelled, timed_out)
    done: Vec<(ChildId, bool, bool)>,
}

impl Log {
    fn note(&mut self, ev: &Event<'_>) {
        match *ev {
            Event::Started { id, restarts, .. } => self.started.push((id, restarts)),
            Event::Line { id, line, .. } => self
                .lines
                .push((id, String::from_utf8_lossy(line).into_owned())),
            Event::Exited(e) => self.exits.push(e),
            Event::Closed { id, stream, .. } => self.closed.push((id, stream)),
            Event::Done {
                id,
                restart_cancelled,
                timed_out,
                ..
            } => self.done.push((id, restart_cancelled, timed_out)),
            _ => {}
        }
    }

    fn is_done(&self, id: ChildId) -> bool {
        self.done.iter().any(|d| d.0 == id)
    }
}

/// Polls until `until` holds, failing at the watchdog; `on` may make
/// requests for each event after it is logged.
fn poll_until(
    r: &mut Reactor,
    log: &mut Log,
    mut on: impl FnMut(&mut procrun::Control<'_>, &Event<'_>),
    until: impl Fn(&Log) -> bool,
) {
    let deadline = Instant::now() + WATCHDOG;
    while !until(log) {
        assert!(Instant::now() < deadline, "watchdog: {log:?}");
        r.poll(Some(Duration::from_millis(50)), |ctl, ev| {
            log.note(&ev);
            on(ctl, &ev);
        })
        .unwrap();
    }
}

#[test]
fn a_stop_asked_in_the_exited_handler_cancels_the_restart() {
    let mut r = Reactor::new().unwrap();
    let mut c = sh("exit 1");
    c.restart(
        Restart::on_error()
            .limit(3)
            .interval(Duration::from_millis(10)),
    );
    let id = r.spawn(&c).unwrap();
    let mut log = Log::default();
    poll_until(
        &mut r,
        &mut log,
        |ctl, ev| {
            if let Event::Exited(e) = ev {
                ctl.stop(e.id());
            }
        },
        |l| l.is_done(id),
    );
    assert_eq!(log.started, [(id, 0)], "{log:?}");
    assert_eq!(log.exits.len(), 1);
    assert_eq!(log.done, [(id, true, false)]);
}

#[test]
fn a_kill_asked_when_another_child_exits_or_closes_its_output_is_carried_out() {
    for on_close in [false, true] {
        let mut r = Reactor::new().unwrap();
        let a = r.spawn(&sh("echo a")).unwrap();
        let b = r.spawn(&sh("exec sleep 600")).unwrap();
        let mut log = Log::default();
        poll_until(
            &mut r,
            &mut log,
            |ctl, ev| match ev {
                Event::Exited(e) if e.id() == a && !on_close => ctl.kill(b),
                Event::Closed { id, stream, .. }
                    if *id == a && *stream == Stream::Stdout && on_close =>
                {
                    ctl.kill(b)
                }
                _ => {}
            },
            |l| l.is_done(a) && l.is_done(b),
        );
        let eb = log.exits.iter().find(|e| e.id() == b).unwrap();
        assert_eq!(
            eb.signal(),
            Some(Signal::KILL),
            "on_close {on_close}: {log:?}"
        );
    }
}

#[test]
fn pause_then_resume_in_one_handler_leaves_the_child_running() {
    let mut r = Reactor::new().unwrap();
    let id = r.spawn(&sh("echo 1; echo 2; echo 3")).unwrap();
    let mut log = Log::default();
    poll_until(
        &mut r,
        &mut log,
        |ctl, ev| {
            if let Event::Line { id, .. } = ev {
                ctl.pause(*id);
                ctl.resume(*id);
            }
        },
        |l| l.is_done(id),
    );
    let lines: Vec<&str> = log.lines.iter().map(|l| l.1.as_str()).collect();
    assert_eq!(lines, ["1", "2", "3"]);
}

/// A child that prints its pid and fails, restarting on error; paused on
/// its line, so its exit is held back once it is reaped. Returns once the
/// run is reaped (its pid is gone), with the exit still held.
fn paused_failed_run(r: &mut Reactor, cmd: &mut Command, log: &mut Log) -> ChildId {
    cmd.restart(
        Restart::on_error()
            .limit(3)
            .interval(Duration::from_millis(10)),
    );
    let id = r.spawn(cmd).unwrap();
    poll_until(
        r,
        log,
        |ctl, ev| {
            if let Event::Line { id, .. } = ev {
                ctl.pause(*id);
            }
        },
        |l| !l.lines.is_empty(),
    );
    let pid = log.lines[0].1.clone();
    // Reaped by the reactor (through its pidfd, or its exit poll) while
    // paused: the exit waits for the output, which waits for the resume.
    poll_until(
        r,
        log,
        |_, _| {},
        |_| !Path::new(&format!("/proc/{pid}")).exists(),
    );
    assert!(log.exits.is_empty(), "the exit came while paused: {log:?}");
    id
}

#[test]
fn a_stop_while_a_paused_exit_is_held_back_cancels_its_restart() {
    let mut r = Reactor::new().unwrap();
    let mut log = Log::default();
    let id = paused_failed_run(&mut r, &mut sh("echo $$; exit 1"), &mut log);
    r.stop(id).unwrap();
    r.resume(id).unwrap();
    poll_until(&mut r, &mut log, |_, _| {}, |l| l.is_done(id));
    assert_eq!(log.started, [(id, 0)], "restarted after the stop: {log:?}");
    assert_eq!(log.exits.len(), 1);
    assert_eq!(log.done, [(id, true, false)]);
}

#[test]
fn a_timeout_while_a_paused_exit_is_held_back_cancels_its_restart() {
    let mut r = Reactor::new().unwrap();
    let mut log = Log::default();
    let mut cmd = sh("echo $$; exit 1");
    cmd.timeout(Duration::from_secs(2));
    let id = paused_failed_run(&mut r, &mut cmd, &mut log);
    // The timeout comes while the exit is held.
    let due = Instant::now() + Duration::from_secs(3);
    poll_until(&mut r, &mut log, |_, _| {}, |_| Instant::now() > due);
    r.resume(id).unwrap();
    poll_until(&mut r, &mut log, |_, _| {}, |l| l.is_done(id));
    assert_eq!(
        log.started,
        [(id, 0)],
        "restarted after the timeout: {log:?}"
    );
    assert_eq!(log.done, [(id, true, true)]);
}

/// A shell that exits with `code` on `sig` (trapped, so it is no
/// job-control stop for it), with a `sleep` in the background of its group
/// (which `sig` stops: SIGKILL ends it with the group at the reap).
/// `stopped`: it stops itself with SIGSTOP once ready.
fn traps(sig: Signal, code: i32, stopped: bool) -> Command {
    let stop = if stopped { "kill -STOP $$; " } else { "" };
    let mut c = sh(&format!(
        "trap 'exit {code}' {}; sleep 30 & echo ready; {stop}wait",
        sig.as_raw()
    ));
    c.stop_signal(sig).grace(Duration::from_secs(5));
    c
}

#[test]
fn job_control_stop_signals_reach_a_child_that_handles_them() {
    // SIGCONT discards a pending SIGTSTP, SIGTTIN or SIGTTOU, so a stop
    // that sent one and then SIGCONT lost it whenever the child had not
    // run in between, and it took SIGKILL after the grace.
    let mut r = Reactor::new().unwrap();
    for sig in [Signal::TSTP, Signal::TTIN, Signal::TTOU] {
        for round in 0..5 {
            let id = r.spawn(&traps(sig, 20, false)).unwrap();
            let mut recs = Vec::new();
            drive_until(&mut r, &mut recs, |r| {
                !lines_of(r, id, Stream::Stdout).is_empty()
            });
            r.stop(id).unwrap();
            drive_until(&mut r, &mut recs, |r| r.contains(&Rec::Done(id)));
            let e = exits_of(&recs, id)[0];
            assert_eq!(e.code(), Some(20), "{sig}, round {round}: {e:?}");
            assert!(e.stopped());
        }
    }
}

#[test]
fn job_control_stop_signals_reach_a_child_stopped_with_sigstop() {
    let mut r = Reactor::new().unwrap();
    for sig in [Signal::TSTP, Signal::TTIN, Signal::TTOU] {
        let id = r.spawn(&traps(sig, 21, true)).unwrap();
        let mut recs = Vec::new();
        drive_until(&mut r, &mut recs, |r| {
            !lines_of(r, id, Stream::Stdout).is_empty()
        });
        let pid = r.pid(id).unwrap();
        wait_stopped(pid, "child");
        r.stop(id).unwrap();
        drive_until(&mut r, &mut recs, |r| r.contains(&Rec::Done(id)));
        let e = exits_of(&recs, id)[0];
        assert_eq!(e.code(), Some(21), "{sig}: {e:?}");
    }
}

/// Members of group `pgid` still alive (zombies are dead: their reaper is
/// not procrun).
fn live_members(pgid: u32) -> Vec<u32> {
    common::leftovers::group_members(&std::iter::once(pgid).collect())
}

/// Polls until the group led by `pid` has a member running `comm`.
fn wait_member(pid: u32, comm: &str) {
    let deadline = Instant::now() + WATCHDOG;
    let has = || {
        live_members(pid).iter().any(|m| {
            std::fs::read_to_string(format!("/proc/{m}/comm")).is_ok_and(|c| c.trim_end() == comm)
        })
    };
    while !has() {
        assert!(Instant::now() < deadline, "group {pid} never ran {comm}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_stop_is_done_only_when_nothing_of_its_group_is_left() {
    // A bash script in the stop's group with a `sleep` of its own that
    // ignores SIGTERM, so only the SIGKILL at the end of the grace ends it
    // (the leader, dead of SIGTERM long before, is reaped then): bash
    // waiting for it, or stopped (SIGSTOP) beside it; the sleep holding
    // the run's pipes, or not (its end then raises no event at all). Done
    // must come only once the sleep is gone too.
    let member = "sh -c \"trap '' TERM; exec sleep 30\"";
    let scripts = [
        format!("{member} & wait"),
        format!("{member} >/dev/null 2>&1 & wait"),
        format!("{member} & kill -STOP $$; wait"),
        format!("{member} >/dev/null 2>&1 & kill -STOP $$; wait"),
    ];
    let mut r = Reactor::new().unwrap();
    let mut left = Vec::new();
    for round in 0..40 {
        let script = &scripts[round % scripts.len()];
        let mut c = Command::new("bash");
        c.args(["-c", script]).grace(Duration::from_millis(500));
        let id = r.spawn(&c).unwrap();
        let pid = r.pid(id).unwrap();
        wait_member(pid, "sleep");
        if script.contains("STOP") {
            wait_stopped(pid, "bash");
        }
        r.stop(id).unwrap();
        let recs = run_to_done(&mut r, id);
        let members = live_members(pid);
        if !members.is_empty() {
            left.push((script, members));
        }
        // SIGTERM ended it, long before the grace.
        assert_eq!(exits_of(&recs, id)[0].signal(), Some(Signal::TERM));
    }
    for (_, members) in &left {
        for &pid in members {
            drop(KillOnDrop(pid));
        }
    }
    assert!(left.is_empty(), "alive after Done: {left:?}");
}

/// A run whose leader (`exec sleep`) dies of the stop's SIGTERM at once,
/// beside a member of its group that flushes on SIGTERM for a second
/// (writes `flushed` to the run's stdout and to `file`, exits 3), watched
/// by another member that writes the flusher's exit status to `file`.
/// The member prints `member PID` once its handler is set.
fn leader_and_flushing_member(dir: &Path, file: &Path) -> Command {
    let member = dir.join("member.sh");
    std::fs::write(
        &member,
        "trap 'sleep 1; echo flushed; echo flushed >> \"$1\"; exit 3' TERM\n\
         echo member $$\n\
         while :; do sleep 0.1; done\n",
    )
    .unwrap();
    // A trap interrupts `wait`, which then says 128 + the signal: waited
    // for again until the member is gone, its own status is the last.
    let watcher = dir.join("watcher.sh");
    std::fs::write(
        &watcher,
        "trap : TERM\n\
         sh \"$2\" \"$1\" & p=$!\n\
         while kill -0 $p 2>/dev/null; do wait $p; s=$?; done\n\
         echo \"member exited $s\" >> \"$1\"\n",
    )
    .unwrap();
    let mut c = Command::new("sh");
    c.args(["-c", "bash \"$0\" \"$1\" \"$2\" & exec sleep 100"])
        .arg(&watcher)
        .arg(file)
        .arg(&member)
        .grace(Duration::from_secs(10));
    c
}

/// The pid a `NAME PID` line of `id`'s stdout gives.
fn named_pid(recs: &[Rec], id: ChildId, name: &str) -> Option<u32> {
    lines_of(recs, id, Stream::Stdout)
        .iter()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Drives `id` until it names its group member (`member PID`), then stops
/// it and drives it to Done: the events, the member (killed on drop, so a
/// failing test leaves it behind in no case) and how long Done took after
/// the stop.
fn stop_once_member_named(r: &mut Reactor, id: ChildId) -> (Vec<Rec>, KillOnDrop, Duration) {
    let mut recs = Vec::new();
    drive_until(r, &mut recs, |rs| named_pid(rs, id, "member").is_some());
    let member = KillOnDrop(named_pid(&recs, id, "member").unwrap());
    let stopped = Instant::now();
    r.stop(id).unwrap();
    recs.extend(run_to_done(r, id));
    (recs, member, stopped.elapsed())
}

#[test]
fn a_stop_gives_a_group_member_the_rest_of_the_grace_after_its_leader_died() {
    // systemd's KillMode=control-group: every process of the unit has the
    // whole stop timeout, not only its main one. The member was killed
    // mid-flush when the leader's reap sent SIGKILL to the group.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flushed");
    let mut r = Reactor::new().unwrap();
    let id = r
        .spawn(&leader_and_flushing_member(dir.path(), &file))
        .unwrap();
    let (recs, _member, took) = stop_once_member_named(&mut r, id);
    let exit = exits_of(&recs, id)[0];
    assert_eq!(exit.signal(), Some(Signal::TERM), "{recs:?}");
    assert!(exit.stopped());
    assert!(
        lines_of(&recs, id, Stream::Stdout).contains(&"flushed".to_string()),
        "{recs:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap_or_default(),
        "flushed\nmember exited 3\n"
    );
    // The run was over when its members were: before the grace ended.
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(took < Duration::from_secs(9), "{took:?}");
    assert!(exit.wall_time() < took + Duration::from_secs(1));
}

#[test]
fn a_group_member_ignoring_the_stop_signal_is_killed_when_the_grace_ends() {
    let grace = Duration::from_secs(1);
    let mut r = Reactor::new().unwrap();
    let mut c = sh("sh -c \"trap '' TERM; echo member \\$\\$; exec sleep 100\" & exec sleep 100");
    c.grace(grace);
    let id = r.spawn(&c).unwrap();
    let (recs, member, took) = stop_once_member_named(&mut r, id);
    // The leader died of the stop signal; its member lived on, ignoring
    // it, until the grace ended, and was gone at Done.
    assert_eq!(exits_of(&recs, id)[0].signal(), Some(Signal::TERM));
    assert!(took >= grace, "Done {took:?} after the stop");
    assert!(took < grace + Duration::from_secs(10), "{took:?}");
    assert!(
        matches!(proc_state(member.0), None | Some('Z')),
        "the member outlived Done"
    );
}

#[test]
fn done_carries_the_final_exit_read_right_once() {
    // A stop during the restart delay, the timeout during it, and a run
    // that ends for good by itself: Done's exit is the last Exited's, made
    // final (no restart, stopped, timed out by the timeout) when the stop
    // cancelled the restart it announced; else the same.
    let mut r = Reactor::new().unwrap();
    let mut failing = sh("exit 3");
    failing.restart(Restart::on_error().interval(Duration::from_secs(3600)));
    let stopped = r.spawn(&failing).unwrap();
    failing.timeout(Duration::from_millis(300));
    let timed = r.spawn(&failing).unwrap();
    let plain = r.spawn(&sh("exit 4")).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |rs| {
        !exits_of(rs, stopped).is_empty() && !exits_of(rs, plain).is_empty()
    });
    r.stop(stopped).unwrap();
    let mut dones = Vec::new();
    let deadline = Instant::now() + WATCHDOG;
    while !r.is_empty() {
        assert!(Instant::now() < deadline, "watchdog");
        r.poll(Some(Duration::from_millis(100)), |_, ev| match ev {
            Event::Done {
                id,
                restart_cancelled,
                exit,
                ..
            } => dones.push((id, restart_cancelled, exit)),
            ev => recs.push(record(ev)),
        })
        .unwrap();
    }
    for (id, restart_cancelled, exit) in dones {
        let last = *exits_of(&recs, id).last().unwrap();
        assert_eq!(exit.id(), id);
        assert_eq!(exit.code(), last.code());
        assert_eq!(exit.pid(), last.pid());
        assert_eq!(exit.restarts(), last.restarts());
        assert_eq!(exit.wall_time(), last.wall_time());
        assert!(exit.is_final(), "{exit:?}");
        if id == plain {
            assert!(!restart_cancelled);
            assert!(!exit.stopped() && !exit.timed_out());
        } else {
            assert!(restart_cancelled);
            assert_eq!(last.restart_in(), Some(Duration::from_secs(3600)));
            assert!(exit.stopped(), "{exit:?}");
            assert_eq!(exit.timed_out(), id == timed, "{exit:?}");
        }
    }
}

/// Every exit of a child and its Done's exit (the final one, whether a
/// run's exit or the one a cancelled restart left), polled to the end.
fn exits_to_done(reactor: &mut Reactor, id: ChildId) -> (Vec<procrun::Exit>, procrun::Exit) {
    let deadline = Instant::now() + watchdog();
    let (mut exits, mut done) = (Vec::new(), None);
    while done.is_none() {
        assert!(Instant::now() < deadline, "watchdog: {exits:?}");
        reactor
            .poll(Some(Duration::from_millis(200)), |_, ev| match ev {
                Event::Exited(e) if e.id() == id => exits.push(e),
                Event::Done { id: d, exit, .. } if d == id => done = Some(exit),
                _ => {}
            })
            .unwrap();
    }
    (exits, done.unwrap())
}

#[test]
fn run_timeout_stops_each_run_and_the_policy_restarts_it() {
    let mut r = Reactor::new().unwrap();
    let limit = Duration::from_millis(200);
    let mut c = Command::new("sleep");
    c.arg("600").run_timeout(limit).restart(
        Restart::on_error()
            .limit(2)
            .interval(Duration::from_millis(10)),
    );
    let id = r.spawn(&c).unwrap();
    let (exits, last) = exits_to_done(&mut r, id);
    assert_eq!(exits.len(), 3, "{exits:?}");
    for (n, e) in exits.iter().enumerate() {
        assert!(e.timed_out() && e.stopped(), "{e:?}");
        assert_eq!(e.timeout_kind(), Some(procrun::TimeoutKind::Run));
        assert_eq!(e.signal(), Some(Signal::TERM));
        assert_eq!(e.restarts(), n as u32);
        assert!(e.wall_time() >= limit, "{e:?}");
        assert_eq!(e.to_string(), "killed by SIGTERM (run timed out)");
    }
    assert!(exits[..2].iter().all(|e| !e.is_final()));
    assert!(last.is_final() && last.restart_limit_reached(), "{last:?}");
    assert_eq!(last, exits[2]);
}

/// systemd's `RuntimeMaxSec=` puts the unit in a failed state, which
/// `Restart=on-failure` restarts, however the stopped service exits.
#[test]
fn run_timeout_is_a_failure_even_when_the_run_exits_0_as_systemd_runtime_max_sec() {
    let mut r = Reactor::new().unwrap();
    let mut c = sh("trap 'exit 0' TERM; echo up; sleep 600 & wait");
    c.run_timeout(Duration::from_millis(300)).restart(
        Restart::on_error()
            .limit(1)
            .interval(Duration::from_millis(10)),
    );
    let id = r.spawn(&c).unwrap();
    let (exits, last) = exits_to_done(&mut r, id);
    assert_eq!(exits.len(), 2, "{exits:?}");
    assert!(
        exits.iter().all(|e| e.success() && e.timed_out()),
        "{exits:?}"
    );
    assert_eq!(exits[0].restart_in(), Some(Duration::from_millis(10)));
    assert!(last.restart_limit_reached(), "{last:?}");
}

#[test]
fn child_timeout_and_run_timeout_each_fire() {
    use procrun::TimeoutKind;
    let mut r = Reactor::new().unwrap();
    let policy = Restart::always().interval(Duration::from_millis(10));
    // The run's comes first, the child's never: no policy, one run.
    let mut c = Command::new("sleep");
    c.arg("600")
        .run_timeout(Duration::from_millis(200))
        .timeout(WATCHDOG);
    let id = r.spawn(&c).unwrap();
    let (exits, last) = exits_to_done(&mut r, id);
    assert_eq!(exits, [last]);
    assert_eq!(last.timeout_kind(), Some(TimeoutKind::Run));
    // The child's comes first: it ends the child, the policy aside.
    c.run_timeout(WATCHDOG)
        .timeout(Duration::from_millis(200))
        .restart(policy);
    let id = r.spawn(&c).unwrap();
    let (exits, last) = exits_to_done(&mut r, id);
    assert_eq!(exits, [last]);
    assert_eq!(last.timeout_kind(), Some(TimeoutKind::Child));
    assert_eq!(last.to_string(), "killed by SIGTERM (timed out)");
    assert!(last.is_final() && !last.restart_limit_reached());
    // Both: runs end by the run's until the child's ends them all.
    c.run_timeout(Duration::from_millis(150))
        .timeout(Duration::from_millis(1000));
    let id = r.spawn(&c).unwrap();
    let (exits, last) = exits_to_done(&mut r, id);
    assert!(exits.len() >= 2, "{exits:?}");
    let (runs, _) = exits.split_at(exits.len() - 1);
    assert!(
        runs.iter()
            .all(|e| e.timeout_kind() == Some(TimeoutKind::Run) && !e.is_final()),
        "{exits:?}"
    );
    // Whether it came during a run or a restart's delay, the final exit
    // is the child's timeout's.
    assert_eq!(last.timeout_kind(), Some(TimeoutKind::Child), "{last:?}");
    assert!(last.is_final() && last.stopped());
}

#[test]
fn child_timeout_during_a_run_timeouts_grace_ends_the_child() {
    let mut r = Reactor::new().unwrap();
    // Deaf to SIGTERM: the run timeout's grace runs to its SIGKILL, and
    // the child's timeout fires within it.
    let mut c = sh("trap '' TERM; echo up; while :; do sleep 0.05; done");
    c.run_timeout(Duration::from_millis(200))
        .timeout(Duration::from_millis(700))
        .grace(Duration::from_millis(1500))
        .restart(Restart::always().interval(Duration::from_millis(10)));
    let id = r.spawn(&c).unwrap();
    let (exits, last) = exits_to_done(&mut r, id);
    assert_eq!(exits, [last], "no restart after the child's timeout");
    assert_eq!(last.timeout_kind(), Some(procrun::TimeoutKind::Child));
    assert_eq!(last.signal(), Some(Signal::KILL));
    // SIGKILL at the end of the run timeout's grace, not the child's.
    assert!(
        last.wall_time() < Duration::from_millis(200 + 1500 + 1000),
        "{last:?}"
    );
    assert!(last.is_final() && !last.restart_limit_reached());
}

#[test]
fn run_timeout_is_cancelled_when_the_run_exits_first() {
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("ran");
    let mut r = Reactor::new().unwrap();
    // Run 1 fails at 2 s, before its 4 s timeout; run 2 lasts 3 s, so run
    // 1's timer, left armed, would stop it 2 s in, and its own does not
    // fire.
    let mut c = sh(&format!(
        "if [ -e {m} ]; then sleep 3; exit 0; fi; touch {m}; sleep 2; exit 1",
        m = mark.display()
    ));
    c.run_timeout(Duration::from_secs(4))
        .restart(Restart::on_error().interval(Duration::ZERO));
    let id = r.spawn(&c).unwrap();
    let (exits, last) = exits_to_done(&mut r, id);
    assert_eq!(exits.len(), 2, "{exits:?}");
    assert_eq!(exits[0].code(), Some(1));
    assert!(!exits[0].timed_out() && !exits[0].stopped());
    assert!(
        last.success() && !last.timed_out() && !last.stopped(),
        "{last:?}"
    );
    assert_eq!(last.restarts(), 1);
}

/// `poll` answers with the crate's one error type, as `spawn` and `stop`
/// do, and keeps the OS error of a failed `epoll_wait` as its source:
/// here `EINVAL`, from an epoll fd number that now names `/dev/null`.
#[test]
fn poll_fails_with_the_crate_error_keeping_the_os_error() {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    let mut r = Reactor::new().unwrap();
    let polled: procrun::Result<()> = r.poll(Some(Duration::ZERO), |_, _| {});
    polled.unwrap();

    let null = std::fs::File::open("/dev/null").unwrap();
    // SAFETY: the number is the reactor's open epoll fd; the `OwnedFd` made
    // of it is forgotten below, never closed, so the reactor keeps owning it.
    let mut epoll = unsafe { OwnedFd::from_raw_fd(r.as_raw_fd()) };
    rustix::io::dup2(&null, &mut epoll).unwrap();
    std::mem::forget(epoll);
    let err = r.poll(Some(Duration::ZERO), |_, _| {}).unwrap_err();
    match &err {
        Error::Io(e) => assert_eq!(e.raw_os_error(), Some(libc_einval()), "{e}"),
        other => panic!("not an OS error: {other:?}"),
    }
}

fn libc_einval() -> i32 {
    rustix::io::Errno::INVAL.raw_os_error()
}

/// tokio's `Child::kill` after `wait` is `Ok`: so is every call on a child
/// this reactor ran to its end, so that a shutdown path's `?` does not
/// abort on a child that finished first.
#[test]
fn tokio_kill_after_wait_is_ok() {
    let mut r = Reactor::new().unwrap();
    let id = r.spawn(&sh("exit 3")).unwrap();
    let recs = run_to_done(&mut r, id);
    assert_eq!(exits_of(&recs, id)[0].code(), Some(3));
    assert!(!r.contains(id));
    r.kill(id).unwrap();
    r.signal(id, Signal::TERM).unwrap();
    r.stop(id).unwrap();
    r.pause(id).unwrap();
    r.resume(id).unwrap();
    // And nothing was queued for it: a poll delivers no event.
    let mut late = Vec::new();
    r.poll(Some(Duration::ZERO), |_, ev| late.push(record(ev)))
        .unwrap();
    assert!(late.is_empty(), "{late:?}");
}

/// An id another reactor issued names nothing here, even when its index
/// and generation are those of a live child of this reactor (each
/// reactor's first child is index 0, generation 1): it is
/// `UnknownChild`, and this reactor's child is not touched.
#[test]
fn an_id_another_reactor_issued_is_unknown_and_touches_nothing() {
    let mut mine = Reactor::new().unwrap();
    let mut theirs = Reactor::new().unwrap();
    let my_id = mine.spawn(Command::new("sleep").arg("100")).unwrap();
    let their_id = theirs.spawn(&Command::new("true")).unwrap();
    assert_ne!(my_id, their_id);
    assert!(!mine.contains(their_id));
    assert!(mine.pid(their_id).is_none());
    for r in [
        mine.stop(their_id),
        mine.kill(their_id),
        mine.signal(their_id, Signal::TERM),
        mine.pause(their_id),
        mine.resume(their_id),
    ] {
        assert!(matches!(r, Err(Error::UnknownChild)), "{r:?}");
    }
    // Done in its own reactor, it is still unknown to this one.
    run_to_done(&mut theirs, their_id);
    assert!(matches!(mine.stop(their_id), Err(Error::UnknownChild)));
    theirs.stop(their_id).unwrap();

    let mut recs = Vec::new();
    mine.poll(Some(Duration::from_millis(100)), |_, ev| {
        recs.push(record(ev))
    })
    .unwrap();
    assert!(exits_of(&recs, my_id).is_empty(), "{recs:?}");
    mine.stop(my_id).unwrap();
    let recs = run_to_done(&mut mine, my_id);
    assert_eq!(exits_of(&recs, my_id)[0].signal(), Some(Signal::TERM));
}

/// A handler that spawns gets the id at once, and the child is started,
/// watched and announced (its `Started`, before any other event of it)
/// before that `poll` returns.
#[test]
fn a_follow_up_spawned_from_an_exited_handler_starts_within_the_same_poll() {
    let mut r = Reactor::new().unwrap();
    let first = r.spawn(&sh("exit 4")).unwrap();
    let follow = sh("echo follow-up; exit 5");
    let mut recs = Vec::new();
    let mut spawned = None;
    let deadline = Instant::now() + watchdog();
    while spawned.is_none() {
        assert!(Instant::now() < deadline, "watchdog: {recs:?}");
        r.poll(Some(Duration::from_millis(200)), |ctl, ev| {
            if let Event::Exited(e) = &ev {
                if e.id() == first {
                    spawned = Some(ctl.spawn(&follow).unwrap());
                }
            }
            recs.push(record(ev));
        })
        .unwrap();
    }
    let next = spawned.unwrap();
    assert_ne!(next, first);
    // Taken in and announced within the poll that spawned it, after the
    // event whose handler spawned it (and what that event led to at once:
    // the first child's Done).
    assert!(r.contains(next));
    let exited = position(&recs, |e| matches!(e, Rec::Exited(x) if x.id() == first));
    let started = position(
        &recs,
        |e| matches!(e, Rec::Started { id, restarts: 0, .. } if *id == next),
    );
    assert!(exited < started, "{recs:?}");
    let mut after = recs.clone();
    drive_until(&mut r, &mut after, |rs| rs.contains(&Rec::Done(next)));
    assert_eq!(lines_of(&after, next, Stream::Stdout), ["follow-up"]);
    assert_eq!(exits_of(&after, next)[0].code(), Some(5));
    let started_at = position(
        &after,
        |e| matches!(e, Rec::Started { id, .. } if *id == next),
    );
    assert!(after[..started_at]
        .iter()
        .all(|e| !matches!(e, Rec::Line { .. })));
    if !r.is_empty() {
        drive_all(&mut r);
    }
}

/// A spawn that fails is the handler's error at once, and leaves nothing:
/// no child, no id in use, no event.
#[test]
fn a_spawn_error_is_returned_to_the_handler() {
    let dir = tempfile::tempdir().unwrap();
    let unexecutable = dir.path().join("not-executable");
    std::fs::write(&unexecutable, "#!/bin/sh\n").unwrap();
    let mut r = Reactor::new().unwrap();
    let first = r.spawn(&Command::new("true")).unwrap();
    let mut errors = Vec::new();
    let mut recs = Vec::new();
    let deadline = Instant::now() + watchdog();
    while !r.is_empty() {
        assert!(Instant::now() < deadline, "watchdog: {recs:?}");
        r.poll(Some(Duration::from_millis(200)), |ctl, ev| {
            if let Event::Exited(_) = &ev {
                errors.push(ctl.spawn(&Command::new("no-such-program-anywhere")));
                errors.push(ctl.spawn(&Command::new(&unexecutable)));
                errors.push(ctl.spawn(&Command::new("")));
            }
            recs.push(record(ev));
        })
        .unwrap();
    }
    assert!(
        matches!(errors[0], Err(Error::ProgramNotFound { .. })),
        "{errors:?}"
    );
    assert!(
        matches!(&errors[1], Err(Error::Spawn { source, .. }) if source.raw_os_error() == Some(13)),
        "{errors:?}"
    );
    assert!(matches!(errors[2], Err(Error::EmptyProgram)), "{errors:?}");
    assert!(recs.iter().all(|e| e.id_is(first)), "{recs:?}");
}

/// Requests a handler makes for the child it just spawned apply after it
/// is taken in: a stop asked in the same handler stops it.
#[test]
fn a_stop_for_a_child_spawned_in_the_same_handler_stops_it() {
    let mut r = Reactor::new().unwrap();
    let first = r.spawn(&Command::new("true")).unwrap();
    let mut sleeper = Command::new("sleep");
    sleeper.arg("100");
    let mut spawned = None;
    let mut recs = Vec::new();
    let deadline = Instant::now() + watchdog();
    while spawned.is_none() || !recs.contains(&Rec::Done(spawned.unwrap())) {
        assert!(Instant::now() < deadline, "watchdog: {recs:?}");
        r.poll(Some(Duration::from_millis(200)), |ctl, ev| {
            if matches!(&ev, Event::Done { id, .. } if *id == first) {
                // The slot `first` had is free now, and may be this one's.
                let id = ctl.spawn(&sleeper).unwrap();
                ctl.stop(id);
                spawned = Some(id);
            }
            recs.push(record(ev));
        })
        .unwrap();
    }
    let id = spawned.unwrap();
    assert_ne!(id, first);
    assert!(!r.contains(first) && !r.contains(id));
    let e = exits_of(&recs, id);
    assert_eq!(e.len(), 1, "{recs:?}");
    assert!(e[0].stopped(), "{:?}", e[0]);
    assert_eq!(e[0].signal(), Some(Signal::TERM));
}

/// Children that trap `SIGTERM` and take a while to flush each get their
/// grace: every one exits by itself (code 0, stopped), says it flushed,
/// and is Done before `shutdown` returns, well before the deadline.
#[test]
fn shutdown_gives_many_children_their_grace_and_a_done_each() {
    with_watchdog(|| {
        let mut r = Reactor::new().unwrap();
        let mut c = sh("trap 'sleep 0.3; echo flushed; exit 0' TERM; echo up; \
             while :; do sleep 1 & wait; done");
        c.grace(Duration::from_secs(60));
        let ids: Vec<_> = (0..20).map(|_| r.spawn(&c).unwrap()).collect();
        let mut recs = Vec::new();
        drive_until(&mut r, &mut recs, |rs| {
            ids.iter()
                .all(|&id| lines_of(rs, id, Stream::Stdout) == ["up"])
        });
        let mut listed: Vec<_> = r.children().collect();
        listed.sort_by_key(|id| format!("{id:?}"));
        let mut expected = ids.clone();
        expected.sort_by_key(|id| format!("{id:?}"));
        assert_eq!(listed, expected);

        let begun = Instant::now();
        let mut during = Vec::new();
        r.shutdown(Duration::from_secs(50), |_, ev| during.push(record(ev)))
            .unwrap();
        assert!(begun.elapsed() >= Duration::from_millis(300));
        assert!(
            begun.elapsed() < slow(Duration::from_secs(30)),
            "{:?}",
            begun.elapsed()
        );
        assert!(r.is_empty() && r.children().next().is_none());
        for &id in &ids {
            assert_eq!(lines_of(&during, id, Stream::Stdout), ["flushed"], "{id:?}");
            let e = exits_of(&during, id);
            assert_eq!(e.len(), 1, "{id:?}: {e:?}");
            assert!(e[0].stopped() && e[0].code() == Some(0), "{:?}", e[0]);
            assert_eq!(during.iter().filter(|x| **x == Rec::Done(id)).count(), 1);
        }
    });
}

/// What ignores `SIGTERM` is killed once the deadline passes, long before
/// its own grace would end, and nothing of it is left.
#[test]
fn shutdown_kills_what_is_left_at_the_deadline() {
    with_watchdog(|| {
        let mut r = Reactor::new().unwrap();
        let mut c = sh("trap '' TERM; echo up; while :; do sleep 1; done");
        c.grace(Duration::from_secs(3600));
        let ids: Vec<_> = (0..5).map(|_| r.spawn(&c).unwrap()).collect();
        let mut recs = Vec::new();
        drive_until(&mut r, &mut recs, |rs| {
            ids.iter()
                .all(|&id| lines_of(rs, id, Stream::Stdout) == ["up"])
        });
        let pids: Vec<u32> = ids.iter().map(|&id| r.pid(id).unwrap()).collect();

        let begun = Instant::now();
        let mut during = Vec::new();
        r.shutdown(Duration::from_millis(500), |_, ev| during.push(record(ev)))
            .unwrap();
        let took = begun.elapsed();
        assert!(took >= Duration::from_millis(500), "{took:?}");
        assert!(took < slow(Duration::from_secs(30)), "{took:?}");
        assert!(r.is_empty());
        for (&id, &pid) in ids.iter().zip(&pids) {
            let e = exits_of(&during, id);
            assert_eq!(e.len(), 1, "{e:?}");
            assert_eq!(e[0].signal(), Some(Signal::KILL), "{:?}", e[0]);
            assert!(e[0].stopped());
            assert!(during.contains(&Rec::Done(id)));
            assert!(proc_state(pid).is_none(), "pid {pid} is left");
        }
        // Their groups (the `sleep 1` beside each) are gone too.
        let groups = pids.iter().copied().collect();
        assert_eq!(common::leftovers::group_members(&groups), Vec::<u32>::new());
    });
}

/// A shutdown ends every restart policy: a child waiting for its restart
/// is done at once, a running one is stopped, and no run starts after the
/// shutdown began; a child a handler spawns meanwhile is stopped too.
#[test]
fn shutdown_starts_no_restart_and_stops_what_a_handler_spawns() {
    with_watchdog(|| {
        let mut r = Reactor::new().unwrap();
        let mut c = sh("sleep 0.1; exit 1");
        c.restart(Restart::on_error().interval(Duration::from_millis(50)));
        let ids: Vec<_> = (0..6).map(|_| r.spawn(&c).unwrap()).collect();
        let mut recs = Vec::new();
        drive_until(&mut r, &mut recs, |rs| {
            ids.iter().all(|&id| exits_of(rs, id).len() >= 2)
        });

        let mut during = Vec::new();
        let mut spawned = None;
        let mut sleeper = Command::new("sleep");
        sleeper.arg("100");
        r.shutdown(Duration::from_secs(50), |ctl, ev| {
            if spawned.is_none() {
                spawned = Some(ctl.spawn(&sleeper).unwrap());
            }
            during.push(record(ev));
        })
        .unwrap();
        assert!(r.is_empty());
        let spawned = spawned.unwrap();
        for &id in &ids {
            assert!(
                !during
                    .iter()
                    .any(|e| matches!(e, Rec::Started { id: i, .. } if *i == id)),
                "{id:?} restarted during the shutdown: {during:?}"
            );
            assert!(during.contains(&Rec::Done(id)), "{id:?}");
            if let Some(e) = exits_of(&during, id).last() {
                assert!(e.is_final(), "{e:?}");
            }
        }
        let e = exits_of(&during, spawned);
        assert_eq!(e.len(), 1);
        assert!(
            e[0].stopped() && e[0].signal() == Some(Signal::TERM),
            "{:?}",
            e[0]
        );
        assert!(during.contains(&Rec::Done(spawned)));
    });
}

// The shutdown example's own code, run by the tests below in a process of
// its own (this test binary, started again on the helper below), since an
// integration test cannot name an example's binary.
#[path = "../../examples/shutdown.rs"]
#[allow(dead_code)]
mod shutdown_example;

/// Not a test: the shutdown example's `run`, for the tests that start it
/// in a child process (with `PROCRUN_SHUTDOWN_EXAMPLE` set to its number
/// of reactors) and signal it. Run alone, it does nothing.
#[test]
#[ignore = "the shutdown example, started by the tests that signal it"]
fn shutdown_example_main() {
    if let Ok(reactors) = std::env::var("PROCRUN_SHUTDOWN_EXAMPLE") {
        shutdown_example::run(reactors.parse().unwrap()).unwrap();
    }
}

/// Starts the shutdown example with `reactors` reactors, sends it `sig`
/// once every agent is ready, and checks that it exits 0, each worker
/// flushed, every child was done, and no child or group member is left.
fn shutdown_example_ends_cleanly_on(reactors: usize, sig: rustix::process::Signal) {
    use std::io::BufRead;
    use std::sync::mpsc;

    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            test_name(module_path!(), "shutdown_example_main").as_str(),
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PROCRUN_SHUTDOWN_EXAMPLE", reactors.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child.id());
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + watchdog();
    let ready = |lines: &[String]| {
        lines
            .iter()
            .filter(|l| l.ends_with(": ready") && l.starts_with("agent "))
            .count()
    };
    while ready(&lines) < reactors {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => lines.push(l),
            Err(e) => panic!("watchdog ({e:?}): the example is not ready: {lines:?}"),
        }
    }
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, sig).unwrap();
    let status = wait_child(&mut child, "the example did not end on its signal");
    // The reader ends at EOF, which came with the exit.
    loop {
        match rx.recv_timeout(watchdog()) {
            Ok(l) => lines.push(l),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(e) => panic!("watchdog ({e:?}): output never ended"),
        }
    }
    assert!(status.success(), "{status}: {lines:#?}");
    let summary = format!(
        "summary: {reactors} reactor(s), {} children done, none left",
        5 * reactors
    );
    assert!(lines.contains(&summary), "{lines:#?}");
    let flushed = lines.iter().filter(|l| *l == "worker: flushed").count();
    assert_eq!(flushed, reactors, "{lines:#?}");
    let pids: Vec<u32> = lines
        .iter()
        .filter_map(|l| l.split(" pid ").nth(1)?.split(' ').next()?.parse().ok())
        .collect();
    assert!(pids.len() >= 5 * reactors, "{lines:#?}");
    for &p in &pids {
        assert!(
            matches!(proc_state(p), None | Some('Z')),
            "child {p} is left"
        );
    }
    let groups = pids.iter().copied().collect();
    assert_eq!(common::leftovers::group_members(&groups), Vec::<u32>::new());
}

#[test]
fn shutdown_example_ends_cleanly_on_sigterm() {
    shutdown_example_ends_cleanly_on(1, rustix::process::Signal::TERM);
}

/// The multi-threaded host: the signal lands on the example's signal
/// thread, which wakes both reactors' threads through their wakers.
#[test]
fn shutdown_example_with_two_reactor_threads_ends_cleanly_on_sigint() {
    shutdown_example_ends_cleanly_on(2, rustix::process::Signal::INT);
}
