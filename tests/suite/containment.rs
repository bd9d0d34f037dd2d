//! Contained runs (`Command::cgroup`): every process of a run, even one
//! that called `setsid` or daemonized, is stopped with it; the run's end
//! is its cgroup's emptiness, not a guessed drain time; no cgroup is left
//! behind; children die with their agent (`kill_on_parent_death`) and an
//! agent's leftovers are found and killed by name (`kill_leftovers`).
//!
//! Needs root and a cgroup2 mount (found through `/proc/self/mountinfo`);
//! each test makes its own parent cgroup below the mount and removes it,
//! with whatever is left in it, even when it fails. Without either it says
//! `skipped: …` and passes without checking.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::cgroups::TestParent;
use common::*;
use procrun::{Command, Error, Reactor, Signal, Stream};

/// The pid a line holds.
fn pid_line(recs: &[Rec], id: procrun::ChildId, n: usize) -> Option<u32> {
    lines_of(recs, id, Stream::Stdout)
        .get(n)?
        .trim()
        .parse()
        .ok()
}

/// A run whose child leaves a daemon in a new session that ignores
/// `SIGTERM` and prints its pid, then waits: outside the run's process
/// group, only the cgroup reaches it, and only the `SIGKILL` at the end of
/// the grace (two seconds) ends it.
fn with_setsid_daemon(parent: &TestParent) -> Command {
    let mut c = Command::new("sh");
    c.args([
        "-c",
        "setsid sh -c 'trap \"\" TERM; echo $$; exec sleep 1000' & exec sleep 1000",
    ])
    .cgroup(parent.path())
    .grace(Duration::from_secs(2));
    c
}

/// The session id of `pid`, from `/proc/PID/stat`. Not `getsid`: the
/// kernel answers 0 for a session led from outside the caller's pid
/// namespace (a container's, as on CI), which rustix's `Pid` cannot hold.
fn session_of(pid: u32) -> Option<i64> {
    proc_entry(pid)?.session().map(i64::from)
}

#[test]
fn setsid_daemon_of_a_contained_run_dies_on_stop() {
    let Some(parent) = TestParent::new() else {
        return;
    };
    let mut r = Reactor::new().unwrap();
    let id = r.spawn(&with_setsid_daemon(&parent)).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |rs| pid_line(rs, id, 0).is_some());
    let daemon = pid_line(&recs, id, 0).unwrap();
    let _guard = KillOnDrop(daemon);
    assert_ne!(
        session_of(daemon),
        session_of(std::process::id()),
        "the daemon left the session"
    );
    let started = Instant::now();
    r.stop(id).unwrap();
    recs.extend(run_to_done(&mut r, id));
    // The main child dies of SIGTERM at once; the daemon ignores it and is
    // killed with the cgroup when the grace ends, not before (a stop's
    // grace is for every process of the run), nor long after.
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(2), "{took:?} {recs:?}");
    assert!(took < slow(Duration::from_secs(20)), "{took:?} {recs:?}");
    assert_eq!(exits_of(&recs, id)[0].signal(), Some(Signal::TERM));
    wait_dead(daemon);
    assert!(parent.children().is_empty(), "{:?}", parent.children());
}

#[test]
fn setsid_daemon_of_a_contained_run_dies_on_timeout() {
    let Some(parent) = TestParent::new() else {
        return;
    };
    let mut r = Reactor::new().unwrap();
    let mut cmd = with_setsid_daemon(&parent);
    // Long enough for the daemon to print its pid first, on a slow machine too.
    cmd.timeout(slow(Duration::from_secs(2)));
    let id = r.spawn(&cmd).unwrap();
    let recs = run_to_done(&mut r, id);
    let daemon = pid_line(&recs, id, 0).expect("the daemon's pid");
    let _guard = KillOnDrop(daemon);
    let exit = exits_of(&recs, id)[0];
    assert!(exit.timed_out(), "{recs:?}");
    wait_dead(daemon);
    assert!(parent.children().is_empty(), "{:?}", parent.children());
}

#[test]
fn double_fork_daemon_holding_the_pipes_does_not_hold_up_the_exit_and_dies_with_the_stop() {
    let Some(parent) = TestParent::new() else {
        return;
    };
    let mut r = Reactor::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let flag = tmp.path().join("daemon-up");
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "(setsid sh -c 'echo $$; touch \"$0\"; exec sleep 1000' \"$0\" &); \
         until [ -e \"$0\" ]; do sleep 0.01; done; echo main done",
    ])
    .arg(&flag)
    .cgroup(parent.path())
    // Were the pipes closed by the drain, the test would wait an hour.
    .drain(Duration::from_secs(3600))
    .grace(Duration::from_secs(30));
    let id = r.spawn(&cmd).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |rs| {
        !exits_of(rs, id).is_empty() && pid_line(rs, id, 0).is_some()
    });
    let daemon = pid_line(&recs, id, 0).unwrap();
    let _guard = KillOnDrop(daemon);
    assert!(exits_of(&recs, id)[0].success(), "{recs:?}");
    assert!(lines_of(&recs, id, Stream::Stdout).contains(&"main done".to_string()));
    // The daemon holds stdout: it stays open, and the child is not done.
    assert!(!recs.contains(&Rec::Closed(id, Stream::Stdout)), "{recs:?}");
    assert!(r.contains(id));
    assert!(matches!(proc_state(daemon), Some(s) if s != 'Z'));
    let stop_at = recs.len();
    r.stop(id).unwrap();
    recs.extend(run_to_done(&mut r, id));
    wait_dead(daemon);
    let closed = position(&recs, |e| *e == Rec::Closed(id, Stream::Stdout));
    let done = position(&recs, |e| *e == Rec::Done(id));
    assert!(stop_at <= closed && closed < done, "{recs:?}");
    assert!(parent.children().is_empty(), "{:?}", parent.children());
}

#[test]
fn no_cgroup_is_left_after_many_contained_runs() {
    let Some(parent) = TestParent::new() else {
        return;
    };
    // Fewer where everything is slower (an emulated VM): the host runs
    // them all.
    let runs = 1000 / slowdown() as usize;
    const IN_FLIGHT: usize = 8;
    let mut r = Reactor::new().unwrap();
    let mut cmd = Command::new("true");
    cmd.cgroup(parent.path());
    let (mut started, mut done) = (0, 0);
    let deadline = Instant::now() + watchdog();
    while done < runs {
        assert!(Instant::now() < deadline, "watchdog: {done} of {runs} done");
        while started < runs && started - done < IN_FLIGHT {
            r.spawn(&cmd).unwrap();
            started += 1;
        }
        r.poll(Some(Duration::from_millis(200)), |_, ev| {
            if let procrun::Event::Exited(e) = &ev {
                assert!(e.success(), "{e:?}");
            }
            if matches!(ev, procrun::Event::Done { .. }) {
                done += 1;
            }
        })
        .unwrap();
        // Done comes only once the run's cgroup is removed.
        assert!(parent.children().len() <= started - done);
    }
    assert!(parent.children().is_empty(), "{:?}", parent.children());
}

#[test]
fn a_parent_that_is_not_a_cgroup2_directory_is_a_typed_error() {
    let tmp = tempfile::tempdir().unwrap();
    for dir in [tmp.path(), Path::new("/nonexistent/procrun-cgroup")] {
        let mut cmd = Command::new("true");
        cmd.cgroup(dir);
        match Reactor::new().unwrap().spawn(&cmd) {
            Err(Error::NotCgroup2 { path, .. }) => assert_eq!(path, dir),
            other => panic!("{dir:?}: {other:?}"),
        }
        assert!(matches!(
            procrun::cgroup::kill_leftovers(dir),
            Err(Error::NotCgroup2 { .. })
        ));
    }
}

#[test]
fn a_parent_that_refuses_new_cgroups_is_a_typed_error_and_nothing_leaks() {
    let Some(parent) = TestParent::new() else {
        return;
    };
    std::fs::write(parent.path().join("cgroup.max.descendants"), "0").unwrap();
    let mut r = Reactor::new().unwrap();
    let mut cmd = Command::new("true");
    cmd.cgroup(parent.path());
    assert!(matches!(r.spawn(&cmd), Err(Error::CgroupAccess { .. })));
    assert!(r.is_empty());
}

#[test]
fn a_contained_run_that_fails_to_exec_leaves_no_cgroup() {
    let Some(parent) = TestParent::new() else {
        return;
    };
    let mut r = Reactor::new().unwrap();
    let mut missing = Command::new("/nonexistent/procrun-program");
    missing.cgroup(parent.path());
    assert!(matches!(
        r.spawn(&missing),
        Err(Error::ProgramNotFound { .. })
    ));
    let mut not_exec = Command::new("/etc/hostname");
    not_exec.cgroup(parent.path()).kill_on_parent_death();
    assert!(matches!(r.spawn(&not_exec), Err(Error::Spawn { .. })));
    assert!(parent.children().is_empty(), "{:?}", parent.children());
    assert!(r.is_empty());
}

#[test]
fn a_contained_run_gets_its_stdio_env_cwd_and_a_clean_signal_state() {
    let Some(parent) = TestParent::new() else {
        return;
    };
    let mut r = Reactor::new().unwrap();
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "cat; pwd; echo $PROCRUN_X; grep -E '^(SigBlk|SigIgn)' /proc/self/status; \
         cat /proc/self/cgroup | grep '^0::'; echo err >&2",
    ])
    .stdin_bytes(&b"in\n"[..])
    .current_dir("/tmp")
    .env("PROCRUN_X", "x")
    .cgroup(parent.path())
    .kill_on_parent_death();
    let id = r.spawn(&cmd).unwrap();
    let recs = run_to_done(&mut r, id);
    let out = lines_of(&recs, id, Stream::Stdout);
    assert_eq!(&out[..3], ["in", "/tmp", "x"], "{recs:?}");
    assert_eq!(out[3], "SigBlk:\t0000000000000000");
    assert_eq!(out[4], "SigIgn:\t0000000000000000");
    let name = parent.path().file_name().unwrap().to_str().unwrap();
    assert!(
        out[5].contains(&format!("/{name}/procrun-{}-", std::process::id())),
        "{out:?}"
    );
    assert_eq!(lines_of(&recs, id, Stream::Stderr), ["err"]);
    assert!(exits_of(&recs, id)[0].success());
    assert!(parent.children().is_empty());
}

/// A contained run of `sh -c script`, where the script finds its own
/// cgroup's directory in `$cg` (the cgroup2 mount comes in as `$0`).
fn sh_knowing_its_cgroup(parent: &Path, script: &str) -> Command {
    let mount = procrun::cgroup::mount_point().expect("a TestParent has a mount");
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!(
            "cg=\"$0$(sed -n 's/^0:://p' /proc/self/cgroup)\"; {script}"
        ))
        .arg(mount)
        .cgroup(parent);
    c
}

/// Shell that starts, in the background, a daemon in a new session that
/// moves itself into the run's sub-cgroup `sub`, flushes (prints
/// `flushed NAME`) and exits on `SIGTERM`, and prints `NAME PID` once it
/// is in place with its handler set.
fn daemon_in(sub: &str, name: &str) -> String {
    format!(
        "setsid sh -c 'echo $$ > \"$0/cgroup.procs\" || exit 1; \
         trap \"echo flushed {name}; exit 0\" TERM; echo {name} $$; \
         while :; do sleep 1000 & wait; done' \"$cg/{sub}\" &"
    )
}

/// The pid a `NAME PID` line gives.
fn named_pid(recs: &[Rec], id: procrun::ChildId, name: &str) -> Option<u32> {
    lines_of(recs, id, Stream::Stdout)
        .iter()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// The cgroup of `pid` (its `0::` line), with the run's cgroup cut off:
/// where in the run it is.
fn place_in_run(pid: u32) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let path = text.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
    let run = format!("/procrun-{}-", std::process::id());
    let at = path.find(&run).expect("in a run's cgroup") + run.len();
    path[at..].split_once('/').map_or("", |(_, p)| p).to_owned()
}

/// Every directory below `dir`, at any depth.
fn dirs_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.push(e.path());
            out.extend(dirs_below(&e.path()));
        }
    }
    out
}

/// Fails the test if any cgroup is left below `dir`.
#[track_caller]
fn assert_no_cgroup_below(dir: &Path) {
    assert!(dirs_below(dir).is_empty(), "{:?}", dirs_below(dir));
}

/// Runs `script` contained below `parent`: it starts `daemons` (each a
/// `daemon_in` name and the sub-cgroup it moves to), ignores the stop,
/// says `ready` and waits. Once all are in place, stops it and checks that
/// the stop signal reached every daemon: each flushed, so the shell ended
/// of itself with no SIGKILL needed, and no cgroup is left.
fn stop_reaches_daemons_in_sub_cgroups(
    parent: &TestParent,
    script: &str,
    daemons: &[(&str, &str)],
) {
    let mut r = Reactor::new().unwrap();
    let mut cmd = sh_knowing_its_cgroup(parent.path(), script);
    cmd.grace(Duration::from_secs(10));
    let id = r.spawn(&cmd).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |rs| {
        daemons.iter().all(|(n, _)| named_pid(rs, id, n).is_some())
            && lines_of(rs, id, Stream::Stdout)
                .iter()
                .any(|l| l == "ready")
    });
    let pids: Vec<u32> = daemons
        .iter()
        .map(|(n, _)| named_pid(&recs, id, n).unwrap())
        .collect();
    let _guards: Vec<KillOnDrop> = pids.iter().map(|&p| KillOnDrop(p)).collect();
    for (pid, (_, place)) in pids.iter().zip(daemons) {
        assert_eq!(place_in_run(*pid), *place);
    }
    r.stop(id).unwrap();
    recs.extend(run_to_done(&mut r, id));
    let out = lines_of(&recs, id, Stream::Stdout);
    for (name, _) in daemons {
        assert!(out.contains(&format!("flushed {name}")), "{name}: {recs:?}");
    }
    assert!(exits_of(&recs, id)[0].success(), "{recs:?}");
    for pid in pids {
        wait_dead(pid);
    }
    assert_no_cgroup_below(parent.path());
}

/// Container runtimes, `systemd-run` and build tools make cgroups below
/// the one they run in. The run's cgroup goes with them, deepest first,
/// and at once: not after rmdir's `EBUSY` (which a cgroup with a child
/// cgroup always gets) was retried for ~1.8 s and given up.
#[test]
fn a_sub_cgroup_made_by_a_contained_run_is_removed_with_it_before_done() {
    let Some(parent) = TestParent::new() else {
        return;
    };
    let mut r = Reactor::new().unwrap();
    let id = r
        .spawn(&sh_knowing_its_cgroup(
            parent.path(),
            "mkdir \"$cg/sub\" && echo made",
        ))
        .unwrap();
    let mut recs = Vec::new();
    let mut exited_at = None;
    drive_until(&mut r, &mut recs, |rs| {
        if exited_at.is_none() && !exits_of(rs, id).is_empty() {
            exited_at = Some(Instant::now());
        }
        rs.contains(&Rec::Done(id))
    });
    let exit_to_done = exited_at.unwrap().elapsed();
    assert!(exits_of(&recs, id)[0].success(), "{recs:?}");
    assert_eq!(lines_of(&recs, id, Stream::Stdout), ["made"]);
    assert_no_cgroup_below(parent.path());
    // Nothing is waited for once the run is empty; the retries took 1.8 s.
    assert!(
        exit_to_done < Duration::from_millis(1500),
        "Done {exit_to_done:?} after the exit"
    );
}

/// A stop's signal reaches every process of the run, those in cgroups
/// the run made below its own included: a daemon that flushes on
/// `SIGTERM` gets to, rather than only the `SIGKILL` at the end of the
/// grace. The run's shell ignores the stop and waits for the daemon, so
/// only the daemon's own end can end the run before the grace.
#[test]
fn a_stop_signal_reaches_a_daemon_in_a_sub_cgroup_of_the_run() {
    let Some(parent) = TestParent::new() else {
        return;
    };
    let script = format!(
        "mkdir \"$cg/sub\" || exit 1; {} trap '' TERM; echo ready; wait",
        daemon_in("sub", "daemon")
    );
    stop_reaches_daemons_in_sub_cgroups(&parent, &script, &[("daemon", "sub")]);
}

/// Several levels deep and side by side: every member of every
/// descendant cgroup gets the stop signal, an interior cgroup holding
/// processes as well as a leaf, and the whole tree goes before Done.
#[test]
fn processes_in_sub_cgroups_several_levels_deep_are_stopped_and_all_removed() {
    let Some(parent) = TestParent::new() else {
        return;
    };
    let script = format!(
        "mkdir -p \"$cg/a/b/c/d\" \"$cg/a/e\" \"$cg/f/g\" || exit 1; {} {} {} \
         trap '' TERM; echo ready; wait",
        daemon_in("a/b/c/d", "deepest"),
        daemon_in("a", "interior"),
        daemon_in("a/e", "sibling"),
    );
    stop_reaches_daemons_in_sub_cgroups(
        &parent,
        &script,
        &[
            ("deepest", "a/b/c/d"),
            ("interior", "a"),
            ("sibling", "a/e"),
        ],
    );
}

/// A dropped reactor kills its runs and removes their cgroups, with the
/// cgroups a run made below its own.
#[test]
fn dropping_the_reactor_removes_the_sub_cgroups_a_run_made() {
    let Some(parent) = TestParent::new() else {
        return;
    };
    let mut r = Reactor::new().unwrap();
    let script = format!(
        "mkdir -p \"$cg/a/b\" || exit 1; {} exec sleep 1000",
        daemon_in("a/b", "daemon")
    );
    let id = r
        .spawn(&sh_knowing_its_cgroup(parent.path(), &script))
        .unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |rs| {
        named_pid(rs, id, "daemon").is_some()
    });
    let daemon = named_pid(&recs, id, "daemon").unwrap();
    let _guard = KillOnDrop(daemon);
    assert_eq!(place_in_run(daemon), "a/b");
    drop(r);
    wait_dead(daemon);
    assert_no_cgroup_below(parent.path());
}

/// A mount on a directory, undone (lazily) on drop, so a failing test
/// leaves nothing mounted.
struct Mounted(PathBuf);

impl Mounted {
    fn tmpfs(dir: &Path) -> Mounted {
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "procrun-test"])
            .arg(dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount on {dir:?}");
        Mounted(dir.to_owned())
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// A sub-cgroup that cannot be removed (here a mount point, `EBUSY` for
/// good) is given up after bounded retries: the run is still Done, and a
/// drop still returns. What is mounted there is not the run's to remove.
#[test]
fn a_sub_cgroup_that_cannot_be_removed_holds_up_neither_done_nor_a_drop() {
    let Some(parent) = TestParent::new() else {
        return;
    };
    if !common::privilege::have("mount") {
        eprintln!("skipped: needs mount");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // The run makes `stuck`, says where, and waits for the test's flag.
    let run = |flag: &Path| {
        let mut c = sh_knowing_its_cgroup(
            parent.path(),
            "mkdir \"$cg/stuck\" && echo \"$cg/stuck\"; \
             until [ -e \"$1\" ]; do sleep 0.01; done",
        );
        c.arg(flag);
        c
    };
    let mut mounts = Vec::new();

    let flag = tmp.path().join("done");
    let mut r = Reactor::new().unwrap();
    let id = r.spawn(&run(&flag)).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |rs| {
        !lines_of(rs, id, Stream::Stdout).is_empty()
    });
    let stuck = PathBuf::from(&lines_of(&recs, id, Stream::Stdout)[0]);
    mounts.push(Mounted::tmpfs(&stuck));
    std::fs::create_dir(stuck.join("not-a-cgroup")).unwrap();
    std::fs::write(&flag, "").unwrap();
    recs.extend(run_to_done(&mut r, id));
    assert!(exits_of(&recs, id)[0].success(), "{recs:?}");
    assert!(stuck.join("not-a-cgroup").is_dir());

    let flag = tmp.path().join("never");
    let id = r.spawn(&run(&flag)).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |rs| {
        !lines_of(rs, id, Stream::Stdout).is_empty()
    });
    let stuck = PathBuf::from(&lines_of(&recs, id, Stream::Stdout)[0]);
    mounts.push(Mounted::tmpfs(&stuck));
    std::fs::create_dir(stuck.join("not-a-cgroup")).unwrap();
    with_watchdog(move || drop(r));
    assert!(stuck.join("not-a-cgroup").is_dir());
}

const HELPER: &str = "PROCRUN_CONTAINMENT_HELPER";

/// Run as a helper (the test binary again, with `HELPER` naming the parent
/// cgroup): an agent that starts a `kill_on_parent_death` child and a
/// contained one that leaves a daemon in its cgroup and another in a
/// cgroup it made two levels below, prints their pids and supervises
/// until killed.
fn helper_agent(parent: &Path) {
    let mut r = Reactor::new().unwrap();
    let mut plain = Command::new("sleep");
    plain.arg("1000").kill_on_parent_death();
    let a = r.spawn(&plain).unwrap();
    let script = format!(
        "setsid sleep 1000 & echo top $!; mkdir -p \"$cg/a/b\" || exit 1; {} exec sleep 1000",
        daemon_in("a/b", "sub")
    );
    let mut contained = sh_knowing_its_cgroup(parent, &script);
    contained.kill_on_parent_death();
    let b = r.spawn(&contained).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |rs| {
        named_pid(rs, b, "top").is_some() && named_pid(rs, b, "sub").is_some()
    });
    println!(
        "pids {} {} {} {}",
        r.pid(a).unwrap(),
        r.pid(b).unwrap(),
        named_pid(&recs, b, "top").unwrap(),
        named_pid(&recs, b, "sub").unwrap()
    );
    // Until the test kills this process; the watchdog ends a forgotten one.
    drive_until(&mut r, &mut recs, |_| false);
}

#[test]
fn children_die_with_their_agent_and_its_leftovers_are_killed_by_name() {
    if let Some(parent) = std::env::var_os(HELPER) {
        helper_agent(Path::new(&parent));
        return;
    }
    let Some(parent) = TestParent::new() else {
        return;
    };
    let mut helper = std::process::Command::new(std::env::current_exe().unwrap())
        .args(alone(
            module_path!(),
            "children_die_with_their_agent_and_its_leftovers_are_killed_by_name",
        ))
        .env(HELPER, parent.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let _helper_guard = KillOnDrop(helper.id());
    let mut pids = Vec::new();
    // A failing helper closes stdout: the loop ends, the assert says so.
    for line in BufReader::new(helper.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        // The harness prints the test's name on the same line.
        if let Some(at) = line.find("pids ") {
            pids = line[at + 5..]
                .split(' ')
                .map(|p| p.parse::<u32>().unwrap())
                .collect();
            break;
        }
    }
    assert_eq!(pids.len(), 4, "the helper printed no pids");
    let _guards: Vec<KillOnDrop> = pids.iter().map(|&p| KillOnDrop(p)).collect();
    let (plain, contained, daemons) = (pids[0], pids[1], &pids[2..]);
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(helper.id() as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    helper.wait().unwrap();
    let deadline = Instant::now() + slow(Duration::from_secs(10));
    for pid in [plain, contained] {
        while matches!(proc_state(pid), Some(s) if s != 'Z') {
            assert!(Instant::now() < deadline, "pid {pid} outlived its agent");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    // The daemons started by the contained run have no death signal: they
    // are what the agent's leftover cgroup, and the one below it, still
    // hold.
    for &daemon in daemons {
        assert!(matches!(proc_state(daemon), Some(s) if s != 'Z'));
    }
    let left = parent.children();
    assert_eq!(left.len(), 1, "{left:?}");
    let removed = procrun::cgroup::kill_leftovers(parent.path()).unwrap();
    assert_eq!(removed, left);
    for &daemon in daemons {
        wait_dead(daemon);
    }
    assert_no_cgroup_below(parent.path());
}

#[test]
fn kill_leftovers_spares_the_cgroups_of_live_agents() {
    let Some(parent) = TestParent::new() else {
        return;
    };
    let mut r = Reactor::new().unwrap();
    let mut cmd = Command::new("sleep");
    cmd.arg("1000").cgroup(parent.path());
    let id = r.spawn(&cmd).unwrap();
    assert_eq!(
        procrun::cgroup::kill_leftovers(parent.path()).unwrap(),
        Vec::<PathBuf>::new()
    );
    assert_eq!(parent.children().len(), 1);
    assert!(r.pid(id).is_some());
    // Dropping the reactor kills the run and removes its cgroup.
    drop(r);
    assert!(parent.children().is_empty(), "{:?}", parent.children());
}

#[test]
fn closing_a_contained_process_ends_the_daemon_it_started() {
    let Some(parent) = TestParent::new() else {
        return;
    };
    let p = procrun::Process::builder()
        .command(["sh", "-c", "setsid sleep 1000 & echo $!; exec sleep 1000"])
        .cgroup(parent.path())
        .kill_on_parent_death()
        .build()
        .unwrap();
    p.start().unwrap();
    let line = p.lines().unwrap().next().expect("the daemon's pid");
    let daemon: u32 = line.to_string_lossy().trim().parse().unwrap();
    let _guard = KillOnDrop(daemon);
    p.close().unwrap();
    wait_dead(daemon);
    // The cgroup goes once empty, a moment after the close returns.
    let deadline = Instant::now() + watchdog();
    while !parent.children().is_empty() {
        assert!(Instant::now() < deadline, "{:?}", parent.children());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Limits need a cgroup and values the kernel takes; checked before
/// anything starts, on any machine.
#[test]
fn limits_without_a_cgroup_or_out_of_range_are_invalid() {
    let mut r = Reactor::new().unwrap();
    let ms = Duration::from_millis(1);
    let parent = procrun::cgroup::mount_point().unwrap_or_else(|| "/nonexistent".into());
    let plain = || Command::new("true");
    let contained = || {
        let mut c = Command::new("true");
        c.cgroup(&parent);
        c
    };
    let mut cases = [
        ("memory, no cgroup", plain()),
        ("pids, no cgroup", plain()),
        ("cpu, no cgroup", plain()),
        ("zero memory", contained()),
        ("zero pids", contained()),
        ("short period", contained()),
        ("long period", contained()),
        ("small quota", contained()),
    ];
    cases[0].1.memory_max(1 << 20);
    cases[1].1.pids_max(10);
    cases[2].1.cpu_max(ms, 100 * ms);
    cases[3].1.memory_max(0);
    cases[4].1.pids_max(0);
    cases[5].1.cpu_max(ms, ms / 2);
    cases[6].1.cpu_max(ms, 2000 * ms);
    cases[7].1.cpu_max(ms / 2, 100 * ms);
    for (what, cmd) in &cases {
        match r.spawn(cmd) {
            Err(Error::InvalidCommand { reason }) => eprintln!("{what}: {reason}"),
            other => panic!("{what}: {other:?}"),
        }
    }
    assert!(r.is_empty());
}

/// Whether the controllers can be enabled below `parent` (its own parent
/// must have them; on a hybrid host they are bound to cgroup v1 instead).
fn enable_controllers(parent: &TestParent, names: &str) -> bool {
    std::fs::write(parent.path().join("cgroup.subtree_control"), names).is_ok()
}

/// Asked for a limit its parent cannot give, a spawn fails with the
/// controller's name, starts nothing and leaves no cgroup; never a run
/// without its limit. This parent enables no controller for its children.
#[test]
fn a_limit_whose_controller_is_not_enabled_is_a_typed_error_and_nothing_is_left() {
    let Some(parent) = TestParent::new() else {
        return;
    };
    let mut r = Reactor::new().unwrap();
    let ms = Duration::from_millis(1);
    let contained = || {
        let mut c = Command::new("true");
        c.cgroup(parent.path());
        c
    };
    let mut cases = [
        ("memory", contained()),
        ("pids", contained()),
        ("cpu", contained()),
    ];
    cases[0].1.memory_max(64 << 20);
    cases[1].1.pids_max(16);
    cases[2].1.cpu_max(50 * ms, 100 * ms);
    for (name, cmd) in cases {
        match r.spawn(&cmd) {
            Err(Error::ControllerNotEnabled {
                controller,
                parent: p,
            }) => {
                assert_eq!((controller, p.as_path()), (name, parent.path()));
            }
            other => panic!("{name}: {other:?}"),
        }
        assert!(parent.children().is_empty(), "{:?}", parent.children());
    }
    assert!(r.is_empty());
    // Without a limit the same parent contains runs as before.
    let mut plain = Command::new("true");
    plain.cgroup(parent.path());
    let id = r.spawn(&plain).unwrap();
    let exit = exits_of(&run_to_done(&mut r, id), id)[0];
    assert!(exit.success() && !exit.oom_killed(), "{exit:?}");
    assert_eq!(exit.peak_memory_bytes(), None);
}

/// Where the machine lets a test parent enable `pids` and `memory` (a
/// unified cgroup2 host): a fork bomb stays within `pids_max`, and a run
/// that outgrows `memory_max` is OOM-killed whole and says so, with its
/// peak. Elsewhere (a hybrid host binds them to cgroup v1) it says it was
/// skipped; the typed error is tested above.
#[test]
fn limits_hold_where_the_controllers_are_enabled() {
    let Some(parent) = TestParent::new() else {
        return;
    };
    if !enable_controllers(&parent, "+pids +memory") {
        eprintln!(
            "skipped: the pids and memory controllers cannot be enabled below {:?}",
            parent.path()
        );
        return;
    }
    let mut r = Reactor::new().unwrap();
    // Eight processes at most: the shell and seven more. Each started
    // sleeper prints a line; a fork past the limit fails, and dash then
    // gives up the loop (it exits 2), so the run ends one way or the other.
    let mut bomb = Command::new("sh");
    bomb.args([
        "-c",
        "for i in $(seq 20); do (echo up; exec sleep 1000) & done; sleep 0.5; echo done",
    ])
    .cgroup(parent.path())
    .pids_max(8)
    .timeout(watchdog());
    let id = r.spawn(&bomb).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |rs| {
        lines_of(rs, id, Stream::Stdout).iter().any(|l| l == "done") || !exits_of(rs, id).is_empty()
    });
    // The sleepers keep the child alive (its cgroup is populated): a stop
    // still reaches them.
    r.stop(id).unwrap();
    recs.extend(run_to_done(&mut r, id));
    let ups = lines_of(&recs, id, Stream::Stdout)
        .iter()
        .filter(|l| *l == "up")
        .count();
    assert!((1..8).contains(&ups), "{ups} sleepers started: {recs:?}");
    assert!(parent.children().is_empty(), "{:?}", parent.children());

    // 16 MiB, and a child that holds 256 MiB.
    let mut hog = Command::new("sh");
    hog.args([
        "-c",
        "head -c 268435456 /dev/zero | tail -c 268435456 >/dev/null",
    ])
    .cgroup(parent.path())
    .memory_max(16 << 20)
    .timeout(watchdog());
    let id = r.spawn(&hog).unwrap();
    let exit = exits_of(&run_to_done(&mut r, id), id)[0];
    assert!(exit.oom_killed(), "{exit:?}");
    assert!(!exit.success() && !exit.timed_out(), "{exit:?}");
    if let Some(peak) = exit.peak_memory_bytes() {
        assert!(
            peak > 1 << 20 && peak <= 17 << 20,
            "peak {peak} past a 16 MiB limit"
        );
    }
    assert!(exit.to_string().contains("out of memory"), "{exit}");
    assert!(parent.children().is_empty(), "{:?}", parent.children());
}

const DELEGATE_HELPER: &str = "PROCRUN_DELEGATE_HELPER";

/// Run as a helper (the test binary again, with `DELEGATE_HELPER` naming a
/// cgroup): an agent that a manager placed in that cgroup calls
/// `delegated_parent`, starts a contained run below what it returned
/// (with a pids limit where its controllers allow one) and prints what
/// each said, then waits for its stdin to close.
fn helper_delegated_agent(cgroup: &Path) {
    std::fs::write(cgroup.join("cgroup.procs"), "0").unwrap();
    match procrun::cgroup::delegated_parent() {
        Err(e) => println!("error {e:?}"),
        Ok(parent) => {
            println!("parent {}", parent.display());
            let mut r = Reactor::new().unwrap();
            let mut cmd = Command::new("cat");
            cmd.arg("/proc/self/cgroup").cgroup(&parent);
            let limited = std::fs::read_to_string(parent.join("cgroup.controllers"))
                .unwrap()
                .contains("pids");
            if limited {
                cmd.pids_max(8);
            }
            let id = r.spawn(&cmd).unwrap();
            let recs = run_to_done(&mut r, id);
            assert!(exits_of(&recs, id)[0].success(), "{recs:?}");
            let line = lines_of(&recs, id, Stream::Stdout).join(" ");
            println!("run limited={limited} {line}");
        }
    }
    println!("done");
    let _ = std::io::stdin().read_line(&mut String::new());
}

/// Starts the helper agent for `cgroup`; returns it (stdin piped) and the
/// lines it printed up to `done`.
fn delegated_agent_in(cgroup: &Path, test: &str) -> (std::process::Child, Vec<String>) {
    let mut helper = std::process::Command::new(std::env::current_exe().unwrap())
        .args(alone(module_path!(), test))
        .env(DELEGATE_HELPER, cgroup)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = Vec::new();
    let mut out = BufReader::new(helper.stdout.take().unwrap());
    for line in (&mut out).lines() {
        let line = line.unwrap();
        // The harness prints the test's name on the first line.
        for word in ["error ", "parent ", "run ", "done"] {
            if let Some(at) = line.find(word) {
                said.push(line[at..].to_owned());
            }
        }
        if said.last().is_some_and(|l| l == "done") {
            break;
        }
    }
    if said.is_empty() {
        // It ended without a word: say how, with what its harness printed
        // (its stderr went to this test's).
        panic!("the helper agent said nothing: {:?}", helper.wait());
    }
    // Read by a thread until the helper ends: it writes a last line.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (helper, said)
}

fn mark_delegated(dir: &Path) -> bool {
    rustix::fs::setxattr(
        dir,
        "trusted.delegate",
        b"1",
        rustix::fs::XattrFlags::empty(),
    )
    .map_err(|e| eprintln!("skipped: cannot mark {dir:?} delegated: {e}"))
    .is_ok()
}

#[test]
fn delegated_parent_moves_the_agent_into_a_leaf_and_enables_the_controllers_for_runs() {
    const NAME: &str =
        "delegated_parent_moves_the_agent_into_a_leaf_and_enables_the_controllers_for_runs";
    if let Some(cgroup) = std::env::var_os(DELEGATE_HELPER) {
        helper_delegated_agent(Path::new(&cgroup));
        return;
    }
    let Some(unit) = TestParent::new() else {
        return;
    };
    if !mark_delegated(unit.path()) {
        return;
    }
    let (mut helper, said) = delegated_agent_in(unit.path(), NAME);
    let _guard = KillOnDrop(helper.id());
    assert_eq!(
        said[0],
        format!("parent {}", unit.path().display()),
        "{said:?}"
    );
    // The run's cgroup is beside the agent's leaf, below the unit's.
    let rel = unit
        .path()
        .strip_prefix(procrun::cgroup::mount_point().unwrap())
        .unwrap();
    let run_in = format!("0::/{}/procrun-{}-", rel.display(), helper.id());
    assert!(said[1].contains(&run_in), "{said:?} not in {run_in}");
    let leaf = unit.path().join(procrun::cgroup::AGENT_LEAF);
    let members = std::fs::read_to_string(leaf.join("cgroup.procs")).unwrap();
    assert_eq!(members.trim(), helper.id().to_string());
    let read = |f: &str| {
        let mut v: Vec<String> = std::fs::read_to_string(unit.path().join(f))
            .unwrap()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        v.sort();
        v
    };
    assert_eq!(read("cgroup.subtree_control"), read("cgroup.controllers"));
    drop(helper.stdin.take());
    assert!(helper.wait().unwrap().success());
}

#[test]
fn delegated_parent_refuses_a_cgroup_not_delegated_and_changes_nothing() {
    const NAME: &str = "delegated_parent_refuses_a_cgroup_not_delegated_and_changes_nothing";
    if let Some(cgroup) = std::env::var_os(DELEGATE_HELPER) {
        helper_delegated_agent(Path::new(&cgroup));
        return;
    }
    let Some(unit) = TestParent::new() else {
        return;
    };
    let (mut helper, said) = delegated_agent_in(unit.path(), NAME);
    let _guard = KillOnDrop(helper.id());
    assert!(said[0].starts_with("error NotDelegated"), "{said:?}");
    assert!(unit.children().is_empty(), "{:?}", unit.children());
    let members = std::fs::read_to_string(unit.path().join("cgroup.procs")).unwrap();
    assert_eq!(members.trim(), helper.id().to_string());
    assert_eq!(
        std::fs::read_to_string(unit.path().join("cgroup.subtree_control"))
            .unwrap()
            .trim(),
        ""
    );
    drop(helper.stdin.take());
    assert!(helper.wait().unwrap().success());
}

#[test]
fn a_stop_gives_a_setsid_daemon_of_a_contained_run_the_rest_of_the_grace() {
    // The daemon left the run's group and session, not its cgroup: it was
    // killed mid-flush by the cgroup.kill at the leader's reap.
    let Some(parent) = TestParent::new() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flushed");
    let mut c = Command::new("sh");
    c.args([
        "-c",
        "setsid sh -c 'trap \"sleep 1; echo flushed; echo flushed >> $0; exit 0\" TERM; \
         echo daemon $$; while :; do sleep 0.1; done' \"$0\" & exec sleep 1000",
    ])
    .arg(&file)
    .cgroup(parent.path())
    .grace(Duration::from_secs(10));
    let mut r = Reactor::new().unwrap();
    let id = r.spawn(&c).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |rs| {
        named_pid(rs, id, "daemon").is_some()
    });
    let daemon = named_pid(&recs, id, "daemon").unwrap();
    let _guard = KillOnDrop(daemon);
    assert_ne!(session_of(daemon), session_of(std::process::id()));
    let stopped = Instant::now();
    r.stop(id).unwrap();
    recs.extend(run_to_done(&mut r, id));
    let took = stopped.elapsed();
    assert_eq!(exits_of(&recs, id)[0].signal(), Some(Signal::TERM));
    assert!(
        lines_of(&recs, id, Stream::Stdout).contains(&"flushed".to_string()),
        "{recs:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap_or_default(),
        "flushed\n"
    );
    assert!(took < slow(Duration::from_secs(9)), "{took:?}");
    assert!(parent.children().is_empty(), "{:?}", parent.children());
}

#[test]
fn a_contained_pipeline_runs_every_stage_in_its_one_cgroup() {
    let Some(parent) = TestParent::new() else {
        return;
    };
    let place = "grep '^0::' /proc/self/cgroup";
    let mut last = sh(&format!("cat; {place}"));
    last.cgroup(parent.path());
    let mut p = procrun::Pipeline::new(sh(place));
    p.pipe(sh(&format!("cat; {place}"))).pipe(last);
    let mut r = Reactor::new().unwrap();
    let id = r.spawn_pipeline(&p).unwrap();
    let recs = run_to_done(&mut r, id);
    let places = lines_of(&recs, id, Stream::Stdout);
    assert_eq!(places.len(), 3, "{recs:?}");
    assert!(places.iter().all(|l| *l == places[0]), "{places:?}");
    let parent_name = parent.path().file_name().unwrap().to_string_lossy();
    assert!(places[0].contains(&*parent_name), "{places:?}");
    assert!(exits_of(&recs, id)[0].success());
    // Done comes once the run's cgroup is removed.
    assert_eq!(parent.children(), Vec::<std::path::PathBuf>::new());
}
