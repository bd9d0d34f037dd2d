//! Reactor behaviour that needs its private limits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::children::{Child, Phase, SLOT_SIZE};
use super::pipes::{Source, BIG_PIPE, DEFAULT_PIPE};
use super::READ_BUDGET;
use super::{Event, Reactor};
use crate::child::ChildId;
use crate::command::{Command, Output, Restart};

/// A child's output read in one turn of the loop: the read owed from the
/// last turn, plus a read on a new edge if that one drained the pipe, each
/// within the budget (a read asks for no more than is left); a line held
/// over from a turn adds at most the line limit.
const MAX_PER_TURN: usize = 2 * READ_BUDGET + crate::lines::DEFAULT_MAX_LINE;

/// The bytes of lines each turn hands out while `yes` floods a reactor
/// whose read budget is `budget`, until `full` turns reached it; the child
/// is stopped and reaped before this returns.
fn turns_under_a_flood(budget: usize, full: usize) -> Vec<usize> {
    let mut r = Reactor::new().unwrap();
    r.set_read_budget(budget);
    // `yes` writes faster than 2-byte lines can be handed out, so read runs
    // end at the budget and every turn brings a new edge.
    let id = r.spawn(&Command::new("yes")).unwrap();
    let watchdog = crate::testutil::watchdog();
    let mut turns = Vec::new();
    let mut reached = 0;
    while reached < full {
        assert!(Instant::now() < watchdog, "watchdog expired: {turns:?}");
        let mut bytes = 0;
        r.poll(None, |_, ev| {
            if let Event::Line { line, .. } = ev {
                bytes += line.len() + 1;
            }
        })
        .unwrap();
        reached += usize::from(bytes >= budget);
        turns.push(bytes);
    }
    r.stop(id).unwrap();
    while !r.is_empty() {
        assert!(Instant::now() < watchdog, "watchdog expired");
        r.poll(None, |_, _| {}).unwrap();
    }
    turns
}

#[test]
fn read_budget_holds_per_turn_under_a_flood() {
    // Turns that reached the budget; before the fix each such turn left one
    // more owed read behind, so the reads per turn grew without bound.
    let turns = turns_under_a_flood(READ_BUDGET, 6);
    let max = turns.iter().copied().max().unwrap();
    assert!(
        max <= MAX_PER_TURN,
        "{max} bytes in one turn (per turn: {turns:?})"
    );
}

/// A budget set below the reactor's own bounds each turn the same way
/// (the async layer sets one, so that what a turn copies is taken while
/// in the cache), and the pipe is read on in the turns after.
#[test]
fn read_budget_set_lower_holds_per_turn() {
    const BUDGET: usize = 64 * 1024;
    let turns = turns_under_a_flood(BUDGET, 20);
    let max = turns.iter().copied().max().unwrap();
    // Each read asks for no more than the budget left: none goes past
    // it (a read of the whole buffer went 192 KiB past a 64 KiB one).
    let bound = 2 * BUDGET + crate::lines::DEFAULT_MAX_LINE;
    assert!(
        max <= bound,
        "{max} bytes in one turn (per turn: {turns:?})"
    );
}

/// The bytes of lines each of `n` children flooding a reactor got in each
/// of `turns` turns, its budgets set by `budgets`; the children are
/// killed and reaped before this returns.
fn turns_of_many_under_a_flood(
    n: usize,
    turns: usize,
    budgets: impl FnOnce(&mut Reactor),
) -> Vec<Vec<usize>> {
    let mut r = Reactor::new().unwrap();
    budgets(&mut r);
    // 64-byte lines, written faster than they are handed out.
    let mut yes = Command::new("yes");
    yes.arg("x".repeat(63));
    let ids: Vec<ChildId> = (0..n).map(|_| r.spawn(&yes).unwrap()).collect();
    let watchdog = crate::testutil::watchdog();
    // Every pipe full before the first turn (each child asleep in the
    // kernel's pipe write, by its wait channel: the same under an
    // emulator, whose syscall numbers are the host's): the turns then find
    // the bytes there however the children are scheduled meanwhile.
    until_each(&r, &ids, "wchan", "filled its pipe", |w| {
        w.contains("pipe_write")
    });
    let mut seen = Vec::new();
    while seen.len() < turns {
        assert!(Instant::now() < watchdog, "watchdog expired: {seen:?}");
        let mut bytes = vec![0; n];
        r.poll(None, |_, ev| {
            if let Event::Line { id, line, .. } = ev {
                let k = ids.iter().position(|&i| i == id).expect("one of ours");
                bytes[k] += line.len() + 1;
            }
        })
        .unwrap();
        seen.push(bytes);
    }
    for &id in &ids {
        r.kill(id).unwrap();
    }
    while !r.is_empty() {
        assert!(Instant::now() < watchdog, "watchdog expired");
        r.poll(None, |_, _| {}).unwrap();
    }
    seen
}

/// Waits, within a watchdog, until `/proc/PID/<file>` of each of `ids`
/// reads as `ready` says (`what`: what each child has then done).
fn until_each(r: &Reactor, ids: &[ChildId], file: &str, what: &str, ready: impl Fn(&str) -> bool) {
    let watchdog = crate::testutil::watchdog();
    for &id in ids {
        let path = format!("/proc/{}/{file}", r.pid(id).unwrap());
        while !std::fs::read_to_string(&path).is_ok_and(|s| ready(&s)) {
            assert!(
                Instant::now() < watchdog,
                "watchdog expired: {id:?} never {what}"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// A turn budget bounds what all pipes together read in a turn, however
/// many are ready (the async layer sets one, so that what a turn files
/// still fits in the cache when the tasks take it).
#[test]
fn turn_budget_bounds_every_pipe_together() {
    const TURN: usize = 64 * 1024;
    let turns = turns_of_many_under_a_flood(8, 30, |r| {
        r.set_read_budget(TURN);
        r.set_turn_budget(TURN);
    });
    for (t, bytes) in turns.iter().enumerate() {
        let sum: usize = bytes.iter().sum();
        // A line held over from the turn before comes out with this one's.
        assert!(
            sum <= TURN + 64 * 8,
            "{sum} bytes in turn {t}: {bytes:?} (every turn: {turns:?})"
        );
    }
}

/// Pipes the turn budget cut off before they read anything go first the
/// next turn, so no pipe waits behind others that read every turn.
#[test]
fn turn_budget_starves_no_pipe() {
    const PIPE: usize = 4 * 1024;
    // Room for four pipes a turn, eight always ready: each full pipe
    // holds more than the 20 turns read from it.
    let turns = turns_of_many_under_a_flood(8, 20, |r| {
        r.set_read_budget(PIPE);
        r.set_turn_budget(4 * PIPE);
    });
    // Every child is read within any three turns in a row.
    for (t, window) in turns.windows(3).enumerate() {
        for k in 0..8 {
            assert!(
                window.iter().any(|bytes| bytes[k] > 0),
                "child {k} read nothing in turns {t}..{} (every turn: {turns:?})",
                t + 3
            );
        }
    }
}

/// Exits seen once a turn's budget is spent wait for the next turns: an
/// exit's check reads all its run left, so a turn in which many runs end
/// would read them all at once. Each run's lines still come whole before
/// its exit.
#[test]
fn turn_budget_spreads_exits_over_turns() {
    const TURN: usize = 16 * 1024;
    const EACH: usize = 40 * 1024;
    let mut r = Reactor::new().unwrap();
    r.set_read_budget(TURN);
    r.set_turn_budget(TURN);
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &format!("yes xxxxxxx | head -c {EACH}")]);
    let ids: Vec<ChildId> = (0..8).map(|_| r.spawn(&cmd).unwrap()).collect();
    let watchdog = crate::testutil::watchdog();
    // Every run over, its output waiting in its pipe, before the first
    // turn: a zombie's state in its stat is `Z`.
    until_each(&r, &ids, "stat", "exited", |s| {
        s.rsplit(") ").next().is_some_and(|s| s.starts_with('Z'))
    });
    let mut bytes = vec![0; ids.len()];
    let mut exited = vec![false; ids.len()];
    let mut turns = Vec::new();
    while !r.is_empty() {
        assert!(Instant::now() < watchdog, "watchdog expired: {turns:?}");
        let mut turn = (0, 0);
        r.poll(None, |_, ev| {
            let k = ids.iter().position(|&i| i == ev.id()).expect("one of ours");
            match ev {
                Event::Line { line, .. } => {
                    assert!(!exited[k], "a line of child {k} after its exit");
                    bytes[k] += line.len() + 1;
                    turn.0 += line.len() + 1;
                }
                Event::Exited { .. } => {
                    assert_eq!(bytes[k], EACH, "child {k}'s output before its exit");
                    exited[k] = true;
                    turn.1 += 1;
                }
                _ => {}
            }
        })
        .unwrap();
        turns.push(turn);
    }
    assert!(exited.iter().all(|&e| e), "{turns:?}");
    for (t, &(read, exits)) in turns.iter().enumerate() {
        // Pipes read within the budget, and the one exit checked while
        // budget was left, which reads all its run left.
        assert!(
            read <= TURN + EACH + 8,
            "{read} bytes and {exits} exits in turn {t} (every turn: {turns:?})"
        );
    }
}

/// Children that all fill their pipes get them enlarged only within the
/// room (a quarter of the pipe quota, for the whole process; no end to it
/// for a privileged process, whose pipes grow at spawn), and every
/// enlarged pipe gives its share back when it closes.
#[test]
fn pipe_growth_stays_within_the_room() {
    let mut r = Reactor::new().unwrap();
    let left = r.pipes.room().left();
    let bounded = left < usize::MAX / 2;
    // Other tests of this process may hold some of a bounded room.
    let most = if bounded {
        left / (BIG_PIPE - DEFAULT_PIPE)
    } else {
        usize::MAX
    };
    // More children than a bounded room has big pipes for, each writing as
    // fast as it can, so every stdout is found full.
    let n = if bounded { most + 8 } else { 8 };
    let ids: Vec<_> = (0..n)
        .map(|_| r.spawn(&Command::new("yes")).unwrap())
        .collect();
    if !bounded {
        // No quota: each stdout grew at spawn, before any read; stderr
        // (which `yes` never fills) did not, its slot table costs kernel
        // memory for nothing.
        assert_eq!(r.pipes.grown().filter(|&g| g > 0).count(), n);
    }
    let watchdog = crate::testutil::watchdog();
    let mut seen = 0;
    for turn in 0.. {
        assert!(Instant::now() < watchdog, "watchdog expired");
        r.poll(None, |_, _| {}).unwrap();
        let grown = r.pipes.grown().filter(|&g| g > 0).count();
        assert!(grown <= most, "{grown} pipes grown, room for {most}");
        seen = seen.max(grown);
        if grown >= most.min(n) || turn == 50 {
            break;
        }
    }
    if !bounded {
        // No quota: the kernel refuses none, and only the stdout pipes
        // (the ones written) ever grew.
        assert_eq!(seen, n, "pipes grown");
    }
    for id in ids {
        r.stop(id).unwrap();
    }
    while !r.is_empty() {
        assert!(Instant::now() < watchdog, "watchdog expired");
        r.poll(None, |_, _| {}).unwrap();
    }
    assert_eq!(r.pipes.grown().sum::<usize>(), 0);
}

/// The 1 KiB per idle child the overhead bench holds procrun to, with
/// room for the allocator and the vectors' spare capacity (and the
/// buffers they outgrew, still resident): the slab of 1,000 children is
/// 1,024 slots, and half as many again were touched on the way. A slot
/// was 192 bytes once containment added to it; pipe tokens as `u32` and a
/// `TimerKey` with a niche brought it to 160. A pipe's entry is 56 bytes
/// with its capacity as `u32`.
#[test]
fn idle_child_state_fits_in_272_bytes() {
    let slot = SLOT_SIZE;
    assert!(slot <= 160, "{slot} bytes per child slot");
    let per_child = SLOT_SIZE + 2 * std::mem::size_of::<Option<Source>>();
    assert!(per_child <= 272, "{per_child} bytes per idle child");
}

/// Every child spawned between two polls queues its `Started`, and the
/// deque keeps the capacity it grew to: 1,000 children spawned at once
/// leave 1,024 entries allocated for good (104 bytes each when the entry
/// held an `Error` inline, a tenth of a KiB per child).
#[test]
fn queued_started_event_is_24_bytes() {
    let size = std::mem::size_of::<super::turn::OwedEvent>();
    assert!(size <= 24, "{size} bytes per queued event");
}

#[test]
fn only_a_child_that_may_restart_keeps_its_command() {
    let mut reactor = Reactor::new().unwrap();
    let mut cmd = Command::new("sleep");
    cmd.arg("10");
    let plain = reactor.spawn(&cmd).unwrap();
    cmd.restart(Restart::on_error());
    let restarting = reactor.spawn(&cmd).unwrap();
    assert!(reactor.children.get(plain).unwrap().respawn.is_none());
    let kept = reactor
        .children
        .get(restarting)
        .unwrap()
        .respawn
        .as_ref()
        .unwrap();
    assert_eq!(kept.argv.len(), 2, "sleep 10");
    // Dropping the reactor kills and reaps both.
}

/// A pool of children of one command keeps one spec for their restarts,
/// not a copy each (about 0.4 KiB per idle child of `sleep 1000`).
#[test]
fn children_of_one_command_share_the_spec_kept_for_restarts() {
    let mut reactor = Reactor::new().unwrap();
    let mut cmd = Command::new("sleep");
    cmd.arg("10").restart(Restart::on_error());
    let a = reactor.spawn(&cmd).unwrap();
    let b = reactor.spawn(&cmd).unwrap();
    cmd.arg("20");
    let c = reactor.spawn(&cmd).unwrap();
    let kept = |id| reactor.children.get(id).unwrap().respawn.clone().unwrap();
    assert!(Arc::ptr_eq(&kept(a), &kept(b)));
    assert!(!Arc::ptr_eq(&kept(b), &kept(c)));
    assert_eq!(kept(c).argv.len(), 3, "sleep 10 20");
    // Dropping the reactor kills and reaps them.
}

/// More ready fds than one wait takes: epoll raises no new edge on its own
/// fd for the rest, so a host loop waiting on that fd would sleep on them.
#[test]
fn a_full_events_buffer_asks_the_host_to_come_back_at_once() {
    let mut r = Reactor::new().unwrap();
    let mut cmd = Command::new("sleep");
    cmd.arg("60");
    let n = super::EVENTS + 100;
    let ids: Vec<_> = (0..n).map(|_| r.spawn(&cmd).unwrap()).collect();
    let pids: Vec<u32> = ids.iter().map(|&id| r.pid(id).unwrap()).collect();
    for &id in &ids {
        r.stop(id).unwrap();
    }
    // Every child is a zombie before the poll, so every pidfd and pipe is
    // ready at once: far more than one wait takes.
    let watchdog = crate::testutil::watchdog();
    for &pid in &pids {
        loop {
            let procfs = crate::procfs::Procfs::with_root("/proc");
            let state = procfs.process(pid).map(|p| p.state());
            if matches!(state, Ok(crate::procfs::State::Zombie)) {
                break;
            }
            assert!(Instant::now() < watchdog, "pid {pid} not dead yet");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    // Every poll that took a full buffer must ask for another at once.
    let mut full = 0;
    while !r.is_empty() {
        assert!(Instant::now() < watchdog, "watchdog");
        r.poll(Some(Duration::ZERO), |_, _| {}).unwrap();
        if r.tokens.len() == super::EVENTS {
            full += 1;
            assert_eq!(r.next_timeout(), Some(Duration::ZERO));
        }
    }
    assert!(full > 0, "no poll took a full buffer");
}

/// Polls until `until` holds of the reactor, or the watchdog expires.
fn poll_until(r: &mut Reactor, watchdog: Instant, until: impl Fn(&Reactor) -> bool) {
    while !until(r) {
        assert!(Instant::now() < watchdog, "watchdog expired");
        r.poll(Some(Duration::from_millis(100)), |_, _| {}).unwrap();
    }
}

fn phase(r: &Reactor, id: ChildId) -> Option<Phase> {
    r.children.get(id).map(Child::phase)
}

/// The phases the module docs draw, as `Child::phase` reads them off a
/// real child's fields at each step (with the invariants checked by the
/// reactor after every transition, in a debug build).
#[test]
fn a_child_walks_through_the_named_phases() {
    let watchdog = crate::testutil::watchdog();
    let mut r = Reactor::new().unwrap();

    // Running, then killed: a failure, so RestartPending for an hour;
    // the stop cancels that, and with no pipe or cgroup left it is Done
    // until the next poll frees its slot.
    let mut cmd = Command::new("sleep");
    cmd.arg("30")
        .stdout(Output::Null)
        .stderr(Output::Null)
        .restart(Restart::on_error().interval(Duration::from_secs(3600)));
    let id = r.spawn(&cmd).unwrap();
    assert_eq!(phase(&r, id), Some(Phase::Running));
    r.kill(id).unwrap();
    poll_until(&mut r, watchdog, |r| r.pid(id).is_none());
    assert_eq!(phase(&r, id), Some(Phase::RestartPending));
    assert!(r.children.get(id).unwrap().restart_timer.is_some());
    r.stop(id).unwrap();
    assert_eq!(phase(&r, id), Some(Phase::Done));
    poll_until(&mut r, watchdog, |r| !r.contains(id));

    // Stopping, and reaped while paused: Exiting (the exit held back)
    // with the stop's cause kept beside it, until the resume.
    let mut cmd = Command::new("sleep");
    cmd.arg("30");
    let id = r.spawn(&cmd).unwrap();
    r.pause(id).unwrap();
    r.stop(id).unwrap();
    assert_eq!(phase(&r, id), Some(Phase::Stopping));
    poll_until(&mut r, watchdog, |r| r.pid(id).is_none());
    assert_eq!(phase(&r, id), Some(Phase::Exiting));
    assert!(r.children.get(id).unwrap().stopping.is_some());
    r.resume(id).unwrap();
    poll_until(&mut r, watchdog, |r| !r.contains(id));

    // Lingering: the run exited, a process it left in its group still
    // holds its stdout for the (long) drain time.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "sleep 30 & exit 0"])
        .drain(Duration::from_secs(3600));
    let id = r.spawn(&cmd).unwrap();
    let pgid = r.pid(id).unwrap();
    poll_until(&mut r, watchdog, |r| r.pid(id).is_none());
    // The exit event comes in the same turn as the reap (nothing pauses).
    assert_eq!(phase(&r, id), Some(Phase::Lingering));
    assert!(r.children.get(id).unwrap().open_pipes > 0);
    // The leader was reaped: the id is pinned by the sleep it left.
    let group = rustix::process::Pid::from_raw(pgid as i32).unwrap();
    rustix::process::kill_process_group(group, rustix::process::Signal::KILL).unwrap();
    poll_until(&mut r, watchdog, |r| !r.contains(id));
}

/// The invariants are checked, not just written down: a child whose
/// fields contradict each other trips them in a debug build.
#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "a cancelled restart")]
fn a_cancelled_restart_without_a_stop_trips_the_invariants() {
    let mut cmd = Command::new("true");
    cmd.restart(Restart::on_error());
    let spec = Arc::new(cmd.prepare().unwrap());
    let mut child = Child::new(spec.stop);
    child.respawn = Some(spec);
    child.check();
    child.runs_over = true;
    child.restart_cancelled = true;
    child.check();
}

/// Ids taken while a turn has them (a handler's spawn) and ids taken
/// between polls come from one list: a freed slot is taken again under a
/// newer generation, and every generation handed out reads as issued.
#[test]
fn a_freed_slot_is_taken_again_under_a_newer_generation() {
    use super::children::{Children, Ids};
    use crate::spawn::StopPolicy;

    let stop = StopPolicy {
        detached: false,
        signal: crate::signal::Signal::TERM,
        grace: Duration::from_secs(1),
        drain: Duration::from_secs(1),
    };
    let mut ids = Ids::new(7);
    let mut children = Children::new(7);
    let a = children.insert(&mut ids, Child::new(stop));
    let b = ids.take();
    children.put(b, Child::new(stop));
    assert_eq!((a.index, a.generation, b.index), (0, 1, 1));
    children.remove(a.index, &mut ids);
    assert!(children.get(a).is_none() && children.issued(a));
    let c = ids.take();
    children.put(c, Child::new(stop));
    assert_eq!((c.index, c.generation), (0, 2));
    assert!(children.get(a).is_none() && children.get(c).is_some());
    assert_eq!(children.len(), 2);
    let foreign = ChildId { reactor: 8, ..c };
    assert!(children.get(foreign).is_none() && !children.issued(foreign));
}

/// A cgroup of a test's own below the cgroup2 mount, removed on drop
/// (whatever the test left in it is killed first).
struct TestCgroup(std::path::PathBuf);

impl TestCgroup {
    /// `None` (and the test skipped) without root or a cgroup2 mount.
    fn new(name: &str) -> Option<TestCgroup> {
        let (true, Some(mount)) = (
            rustix::process::geteuid().is_root(),
            crate::sys::cgroup::mount_point(),
        ) else {
            eprintln!("skipped: needs root and a cgroup2 mount");
            return None;
        };
        let dir = mount.join(format!("procrun-test-{}-{name}", std::process::id()));
        std::fs::create_dir(&dir).ok()?;
        Some(TestCgroup(dir))
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        if let Ok(c) = crate::sys::Cgroup::open(self.0.clone()) {
            let _ = c.kill();
            c.wait_empty(Duration::from_secs(10));
            let _ = c.remove_settled();
        }
    }
}

/// On a kernel without `cgroup.kill` (forced here: this one may have it)
/// a contained run's `SIGKILL` freezes its cgroup and returns; the kill
/// goes on from the cgroup's events and a timer, a round at a time, and
/// never waits in the reactor. A kill that waited for the members to die
/// (up to a second, as the blocking fallback does) would have thawed the
/// cgroup before the stop that began it returned.
#[test]
fn a_frozen_kill_of_a_cgroup_never_waits_in_the_reactor() {
    use crate::signal::Signal;
    let Some(parent) = TestCgroup::new("frozen-kill") else {
        return;
    };
    let watchdog = crate::testutil::watchdog();
    let mut r = Reactor::new().unwrap();
    r.cgroups.kill_file = false;
    let mut cmd = Command::new("sh");
    // A forker, whose children a kill must catch too.
    cmd.args(["-c", "while :; do sleep 1000 & done"])
        .cgroup(&parent.0)
        .stop_signal(Signal::KILL);
    let id = r.spawn(&cmd).unwrap();
    let slot = r.cgroups.of_child(id.index)[0];
    let dir = r.cgroups.get(slot).unwrap().cgroup.dir().to_owned();
    let members =
        || std::fs::read_to_string(dir.join("cgroup.procs")).map_or(0, |p| p.lines().count());
    while members() < 5 {
        assert!(Instant::now() < watchdog, "watchdog expired");
        r.poll(Some(Duration::from_millis(10)), |_, _| {}).unwrap();
    }
    // The stop signal is SIGKILL: the stop kills the cgroup itself.
    r.stop(id).unwrap();
    let freeze = std::fs::read_to_string(dir.join("cgroup.freeze")).unwrap();
    poll_until(&mut r, watchdog, |r| r.is_empty());
    assert_eq!(freeze.trim(), "1", "the cgroup right after the stop");
    assert!(!dir.exists(), "the run's cgroup is removed");
}

/// A raw stream's reader takes its bytes straight from the pipe
/// (`read_raw_now`): they come as no `Data` event, and the pipe's end is
/// left to the next turn, which closes it as it closes any. Nothing is
/// taken from an empty pipe, from a stream of lines, or while the child
/// is paused.
#[cfg(feature = "tokio")]
#[test]
fn a_raw_stream_read_now_takes_its_bytes_from_the_pipe() {
    use super::ReadNow;
    use crate::child::Stream;
    use crate::signal::Signal;

    let watchdog = crate::testutil::watchdog();
    let mut r = Reactor::new().unwrap();
    // Each writes its first part and stops itself until continued.
    let stopped = |s: &str| {
        s.rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('T'))
    };
    let mut raw = Command::new("sh");
    raw.args(["-c", "printf first; kill -STOP $$; printf rest"])
        .stdout(Output::Raw)
        .stderr(Output::Null);
    let mut lines = Command::new("sh");
    lines
        .args(["-c", "echo line; kill -STOP $$"])
        .stderr(Output::Null);
    let (id, lid) = (r.spawn(&raw).unwrap(), r.spawn(&lines).unwrap());
    until_each(&r, &[id, lid], "stat", "stopped itself", stopped);
    let mut buf = [0u8; 64];
    assert_eq!(
        r.read_raw_now(lid, Stream::Stdout, &mut buf),
        ReadNow::Nothing
    );
    assert_eq!(
        r.read_raw_now(id, Stream::Stderr, &mut buf),
        ReadNow::Nothing
    );
    r.pause(id).unwrap();
    assert_eq!(
        r.read_raw_now(id, Stream::Stdout, &mut buf),
        ReadNow::Nothing
    );
    r.resume(id).unwrap();

    let mut got = Vec::new();
    let mut read = |r: &mut Reactor, got: &mut Vec<u8>| loop {
        match r.read_raw_now(id, Stream::Stdout, &mut buf) {
            ReadNow::Read(n) => got.extend_from_slice(&buf[..n]),
            other => return other,
        }
    };
    assert_eq!(read(&mut r, &mut got), ReadNow::Nothing, "an empty pipe");
    assert_eq!(got, b"first");
    r.signal(id, Signal::CONT).unwrap();
    loop {
        assert!(Instant::now() < watchdog, "watchdog expired: no end");
        match read(&mut r, &mut got) {
            ReadNow::Owed => break,
            _ => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    assert_eq!(got, b"firstrest");

    // The turns give the rest of the child's life, and no byte of it.
    let (mut data, mut closed, mut done, mut line) = (0, false, false, false);
    r.kill(lid).unwrap();
    while !done || r.contains(lid) {
        assert!(Instant::now() < watchdog, "watchdog expired");
        r.poll(Some(Duration::from_millis(100)), |_, ev| match ev {
            Event::Data { .. } => data += 1,
            Event::Closed { id: c, .. } if c == id => closed = true,
            Event::Done { id: c, .. } if c == id => done = true,
            Event::Line { id: c, line: l, .. } if c == lid => line = l == b"line",
            _ => {}
        })
        .unwrap();
    }
    assert_eq!(data, 0, "bytes read twice");
    assert!(closed && line, "closed {closed}, line {line}");
}

/// A layer's bound (`Control::pause_bound`) holds a live run's output as
/// a pause does, but not an ended run's: a child killed while so paused
/// has its output read and its exit delivered with no resume (a caller's
/// pause would hold both until one), and its next run is held again
/// until the resume.
#[test]
fn a_bound_pause_lets_an_ended_run_out_and_holds_the_next() {
    let watchdog = crate::testutil::watchdog();
    let mut r = Reactor::new().unwrap();
    let mut cmd = Command::new("yes");
    cmd.stderr(Output::Null)
        .restart(Restart::always().limit(1).interval(Duration::ZERO));
    let id = r.spawn(&cmd).unwrap();
    // Lines of each run, and what was seen of the child.
    let mut lines = [0usize; 2];
    let (mut run, mut exits, mut done) = (0, 0, false);
    let mut poll = |r: &mut Reactor, timeout: Duration, lines: &mut [usize; 2]| {
        r.poll(Some(timeout), |ctl, ev| match ev {
            Event::Started { restarts, .. } => run = restarts as usize,
            Event::Line { line, .. } => {
                assert_eq!(line, b"y");
                if lines[run] == 0 {
                    ctl.pause_bound(id);
                }
                lines[run] += 1;
            }
            Event::Exited(_) => exits += 1,
            Event::Done { .. } => done = true,
            _ => {}
        })
        .unwrap();
        (run, exits, done)
    };
    while lines[0] == 0 {
        assert!(Instant::now() < watchdog, "watchdog expired: no line");
        poll(&mut r, Duration::from_millis(100), &mut lines);
    }
    until_each(&r, &[id], "wchan", "blocked in its write", |s| {
        s.contains("pipe_write")
    });
    let before = lines[0];
    r.kill(id).unwrap();
    // The exit comes, and the restart, with no resume.
    loop {
        assert!(Instant::now() < watchdog, "watchdog expired: exit held");
        if poll(&mut r, Duration::from_millis(100), &mut lines).0 == 1 {
            break;
        }
    }
    assert!(lines[0] > before, "the ended run's pipe was not read");
    assert!(r.children.get(id).unwrap().holds_output());
    until_each(&r, &[id], "wchan", "blocked in its write", |s| {
        s.contains("pipe_write")
    });
    poll(&mut r, Duration::ZERO, &mut lines);
    assert_eq!(lines[1], 0, "the next run was read while paused");
    r.resume(id).unwrap();
    while lines[1] == 0 {
        assert!(Instant::now() < watchdog, "watchdog expired: never resumed");
        poll(&mut r, Duration::from_millis(100), &mut lines);
    }
    // Paused again at its first line, as the first run was: the kill
    // ends it all the same, and the child with it (its one restart used).
    r.kill(id).unwrap();
    while !poll(&mut r, Duration::from_millis(100), &mut lines).2 {
        assert!(Instant::now() < watchdog, "watchdog expired: not done");
    }
    assert_eq!(poll(&mut r, Duration::ZERO, &mut lines).1, 2);
}
