//! Everything a run wrote comes before its exit event (guarantee 3
//! of the crate docs), in the race where the run fills its pipe in one
//! write and exits at once: the exit can be first on epoll's ready list,
//! and the exit path must still read to the end of the pipe.

use crate::common;

use common::bursts::{assert_ordered, have_python, Burst};

#[test]
fn pipe_full_burst_without_newline_comes_before_exit() {
    assert_ordered(Burst::PipeFull, 500);
}

#[test]
fn pipe_full_burst_with_newline_comes_before_exit() {
    assert_ordered(Burst::PipeFullNewline, 500);
}

#[test]
fn burst_into_a_child_grown_pipe_comes_before_exit() {
    if !have_python() {
        eprintln!("skipped: python3 is needed to grow the pipe from the child");
        return;
    }
    assert_ordered(Burst::GrownPipe, 500);
}

#[test]
fn last_line_without_newline_comes_before_exit_while_others_hold_the_pipe() {
    use common::*;
    use procrun::{Command, Reactor, Stream};
    // Detached, so the background sleep is not killed with the group and
    // keeps the pipe open past the exit: no EOF can end the last line.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "sleep 30 & echo $! >&2; printf tail"])
        .detached(true);
    let mut r = Reactor::new().unwrap();
    let id = r.spawn(&cmd).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |r| !exits_of(r, id).is_empty());
    let sleeper: u32 = lines_of(&recs, id, Stream::Stderr)[0].parse().unwrap();
    let _guard = KillOnDrop(sleeper);
    let tail = position(
        &recs,
        |r| matches!(r, Rec::Line { line, .. } if line == b"tail"),
    );
    let exit = position(&recs, |r| matches!(r, Rec::Exited(_)));
    assert!(tail < exit, "{recs:?}");
}

/// The pidfds this process holds on `pid`: the `Pid:` line of each fd's
/// fdinfo names the process a pidfd refers to.
fn pidfds_on(pid: u32) -> Vec<String> {
    let want = format!("Pid:\t{pid}");
    std::fs::read_dir("/proc/self/fdinfo")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path()).is_ok_and(|info| info.lines().any(|l| l == want))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// An exit is delivered as soon as the run's status is known and its
/// output read, with its leader still unreaped (a zombie, which pins its
/// pid and its group's id); the group's `SIGKILL`, the reap and the
/// close of the pidfd follow once the handler returns, and none of it is
/// left when `poll` returns. tokio's `Child::wait` hands out a status only
/// once reaped; here the handler hears of the exit first, and the poll
/// still returns with the run gone.
#[test]
fn exit_comes_before_the_reap_and_poll_returns_with_the_run_gone() {
    use common::*;
    use procrun::{Event, Reactor, Stream};
    use std::time::{Duration, Instant};
    with_watchdog(|| {
        // A member of the run's group outlives its leader: the group's
        // SIGKILL ends it.
        let mut r = Reactor::new().unwrap();
        let id = r.spawn(&sh("sleep 30 & echo $!; exit 3")).unwrap();
        let pid = r.pid(id).unwrap();
        let mut recs = Vec::new();
        let mut in_handler = None;
        let deadline = Instant::now() + watchdog();
        while in_handler.is_none() {
            assert!(Instant::now() < deadline, "no exit: {recs:?}");
            r.poll(Some(Duration::from_millis(200)), |_, ev| {
                if let Event::Exited(_) = ev {
                    in_handler = Some((proc_state(pid), pidfds_on(pid).len()));
                }
                recs.push(record(ev));
            })
            .unwrap();
        }
        let member: u32 = lines_of(&recs, id, Stream::Stdout)[0].parse().unwrap();
        let _guard = KillOnDrop(member);
        let (state, pidfds) = in_handler.unwrap();
        assert_eq!(state, Some('Z'), "the leader, in the Exited handler");
        if r.uses_pidfd() {
            assert_eq!(pidfds, 1, "its pidfd, in the Exited handler");
        }
        assert_eq!(exits_of(&recs, id)[0].code(), Some(3));
        // The poll that delivered the exit has returned.
        assert_eq!(proc_state(pid), None, "the leader is reaped");
        assert_eq!(pidfds_on(pid), Vec::<String>::new(), "its pidfd is closed");
        wait_dead(member);
        drive_all(&mut r);
    })
}
