//! What a child is set up with before its exec, read back from the running
//! child's /proc files: credentials, `arg0`, resource limits, umask, nice
//! value, `oom_score_adj`, `no_new_privs` and passed fds; and the typed
//! errors when a setting is bad (at prepare) or refused (at spawn).
//!
//! The credential tests switch to unused ids (60123 and up) and need root;
//! the refusals run this binary again as uid 65534 through `setpriv`.
//! Without root or `setpriv` they say why and pass without checking.

use crate::common;

use std::collections::BTreeSet;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};

use common::privilege::{reachable_copy, run_with_watchdog, unprivileged};
use common::*;
use procrun::{ChildId, Command, Error, Reactor, Resource};

/// A change made to a command under test.
type Setting<'a> = &'a dyn Fn(&mut Command);

const INNER: &str = "PROCRUN_CHILD_SETUP_UNPRIVILEGED";

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Spawns `cmd` (a long sleep) and returns its id and pid once started.
fn start(r: &mut Reactor, cmd: &Command) -> (ChildId, u32) {
    let id = r.spawn(cmd).unwrap();
    let pid = r.pid(id).expect("a started child has a pid");
    (id, pid)
}

/// Stops the child and polls until the reactor is empty.
fn finish(r: &mut Reactor, id: ChildId) {
    r.stop(id).unwrap();
    drive_all(r);
}

fn sleeper() -> Command {
    let mut c = Command::new("sleep");
    c.arg("60");
    c
}

/// The value of the `/proc/PID/status` line `key:`, whitespace-trimmed.
fn status_field(pid: u32, key: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The children of this process, from every thread's `children` file.
fn my_children() -> Vec<String> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path().join("children");
        if let Ok(text) = std::fs::read_to_string(path) {
            out.extend(text.split_whitespace().map(str::to_owned));
        }
    }
    out
}

/// Runs `cmd`, this binary on one test, with `INNER` set, and fails
/// unless that test ran and passed; `what` names the run.
fn run_inner(mut cmd: std::process::Command, what: &str) {
    cmd.env(INNER, "1");
    let (status, out, err) = run_with_watchdog(cmd);
    assert!(status.success(), "the {what} failed:\n{out}\n{err}");
    assert!(out.contains("1 passed"), "the {what} ran no test:\n{out}");
}

/// Runs test `name` again as uid 65534; false (after saying why) when this
/// machine cannot.
fn run_unprivileged(name: &str) -> bool {
    if !is_root() || !common::privilege::have("setpriv") {
        eprintln!("skipped: needs root and setpriv to run unprivileged");
        return false;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let me = reachable_copy(dir.path(), &std::env::current_exe().unwrap());
    let mut cmd = unprivileged(&me);
    cmd.args(alone(module_path!(), name));
    run_inner(cmd, "unprivileged run");
    true
}

fn inner() -> bool {
    std::env::var_os(INNER).is_some()
}

#[test]
fn credentials_switch_the_child_to_an_unused_user_group_and_groups() {
    if !is_root() {
        eprintln!("skipped: needs root to switch users");
        return;
    }
    let mut r = Reactor::new().unwrap();
    let mut cmd = sleeper();
    cmd.uid(60123).gid(60124).groups(&[60125, 60126]);
    let (id, pid) = start(&mut r, &cmd);
    assert_eq!(status_field(pid, "Uid"), "60123 60123 60123 60123");
    assert_eq!(status_field(pid, "Gid"), "60124 60124 60124 60124");
    assert_eq!(status_field(pid, "Groups"), "60125 60126");
    finish(&mut r, id);
}

/// Runs test `name` again as root with the supplementary groups 60127 and
/// 60128 (this process may have none to leave behind); false (after
/// saying why) when this machine cannot.
fn run_with_groups(name: &str) -> bool {
    if !is_root() || !common::privilege::have("setpriv") {
        eprintln!("skipped: needs root and setpriv");
        return false;
    }
    let mut cmd = std::process::Command::new("setpriv");
    cmd.arg("--groups=60127,60128")
        .arg(std::env::current_exe().unwrap())
        .args(alone(module_path!(), name));
    run_inner(cmd, "run with groups");
    true
}

#[test]
fn a_new_uid_without_groups_leaves_the_supervisors_groups_behind() {
    if !inner() {
        run_with_groups("a_new_uid_without_groups_leaves_the_supervisors_groups_behind");
        return;
    }
    assert_eq!(status_field(std::process::id(), "Groups"), "60127 60128");
    let mut r = Reactor::new().unwrap();
    let mut cmd = sleeper();
    cmd.uid(60123).gid(60123);
    let (id, pid) = start(&mut r, &cmd);
    assert_eq!(status_field(pid, "Uid"), "60123 60123 60123 60123");
    assert_eq!(status_field(pid, "Groups"), "");
    finish(&mut r, id);
}

#[test]
fn a_switch_without_privilege_is_a_credentials_error_and_nothing_runs() {
    if !inner() {
        run_unprivileged("a_switch_without_privilege_is_a_credentials_error_and_nothing_runs");
        return;
    }
    assert!(!is_root(), "runs unprivileged");
    let cases: [(Setting, &str); 3] = [
        (
            &|c| {
                c.uid(60123);
            },
            "setuid",
        ),
        (
            &|c| {
                c.gid(60123);
            },
            "setgid",
        ),
        (
            &|c| {
                c.groups(&[60123]).uid(60123);
            },
            "setgroups",
        ),
    ];
    let mut r = Reactor::new().unwrap();
    for (set, want) in cases {
        let mut cmd = sleeper();
        set(&mut cmd);
        match r.spawn(&cmd) {
            Err(Error::Credentials { step, source, .. }) => {
                assert_eq!(step, want);
                assert_eq!(source.raw_os_error(), Some(libc::EPERM), "{want}");
            }
            other => panic!("{want}: {other:?}"),
        }
        assert!(r.is_empty());
        assert_eq!(my_children(), Vec::<String>::new(), "{want}");
    }
}

#[test]
fn raising_a_limit_without_privilege_is_a_child_setup_error() {
    if !inner() {
        run_unprivileged("raising_a_limit_without_privilege_is_a_child_setup_error");
        return;
    }
    let mut r = Reactor::new().unwrap();
    let mut cmd = sleeper();
    cmd.rlimit(Resource::Nofile, 16, u64::MAX);
    match r.spawn(&cmd) {
        Err(Error::ChildSetup { step, source, .. }) => {
            assert_eq!(step, "a resource limit");
            assert_eq!(source.raw_os_error(), Some(libc::EPERM));
        }
        other => panic!("{other:?}"),
    }
    let mut cmd = sleeper();
    cmd.oom_score_adj(-1000);
    assert!(matches!(
        r.spawn(&cmd),
        Err(Error::ChildSetup {
            step: "oom_score_adj",
            ..
        })
    ));
    assert!(r.is_empty());
    assert_eq!(my_children(), Vec::<String>::new());
}

#[test]
fn arg0_is_the_childs_argv0_with_and_without_other_settings() {
    let mut r = Reactor::new().unwrap();
    for fork in [false, true] {
        let mut cmd = sleeper();
        cmd.arg0("health-check");
        if fork {
            // A setting that runs more code in the child before its exec.
            cmd.umask(0o022);
        }
        let (id, pid) = start(&mut r, &cmd);
        // A spawn returns once the child's exec has its new memory, which
        // can be before the kernel has set where its arguments lie: until
        // then its cmdline reads empty.
        let deadline = std::time::Instant::now() + watchdog();
        let cmdline = loop {
            let c = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
            if !c.is_empty() || std::time::Instant::now() > deadline {
                break c;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        assert_eq!(cmdline, b"health-check\x0060\x00", "fork: {fork}");
        finish(&mut r, id);
    }
}

#[test]
fn limits_umask_nice_oom_score_adj_and_no_new_privs_reach_the_child() {
    let mut r = Reactor::new().unwrap();
    let mut cmd = sleeper();
    cmd.rlimit(Resource::Nofile, 77, 99)
        .rlimit(Resource::Core, 0, 0)
        .rlimit(Resource::Cpu, 1000, u64::MAX)
        // The last setting of a resource counts.
        .rlimit(Resource::Stack, 1 << 20, 1 << 20)
        .rlimit(Resource::Stack, 2 << 20, 4 << 20)
        .umask(0o027)
        .nice(7)
        .oom_score_adj(1000)
        .no_new_privs();
    let (id, pid) = start(&mut r, &cmd);
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let limit = |name: &str| -> Vec<String> {
        let line = limits
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {limits}"));
        line[name.len()..]
            .split_whitespace()
            .take(2)
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(limit("Max open files"), ["77", "99"]);
    assert_eq!(limit("Max core file size"), ["0", "0"]);
    assert_eq!(limit("Max cpu time"), ["1000", "unlimited"]);
    assert_eq!(limit("Max stack size"), ["2097152", "4194304"]);
    assert_eq!(status_field(pid, "Umask"), "0027");
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
    let oom = std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).unwrap();
    assert_eq!(oom.trim(), "1000");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Field 19, the nice value, counted after the parenthesised comm.
    let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
    let nice: i32 = after_comm.split(' ').nth(16).unwrap().parse().unwrap();
    assert_eq!(nice, 7);
    finish(&mut r, id);
}

#[test]
fn bad_settings_are_invalid_command_errors_at_prepare() {
    let pipe = || -> OwnedFd {
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .unwrap()
            .0
    };
    let cases: [(Setting, &str); 10] = [
        (
            &|c| {
                c.rlimit(Resource::Nofile, 100, 99);
            },
            "soft above hard",
        ),
        (
            &|c| {
                c.oom_score_adj(1001);
            },
            "oom_score_adj above",
        ),
        (
            &|c| {
                c.oom_score_adj(-1001);
            },
            "oom_score_adj below",
        ),
        (
            &|c| {
                c.nice(20);
            },
            "nice above",
        ),
        (
            &|c| {
                c.nice(-21);
            },
            "nice below",
        ),
        (
            &|c| {
                c.umask(0o1000);
            },
            "umask",
        ),
        (
            &|c| {
                c.pass_fd(pipe(), 0);
            },
            "fd 0",
        ),
        (
            &|c| {
                c.pass_fd(pipe(), 2);
            },
            "fd 2",
        ),
        (
            &|c| {
                c.pass_fd(pipe(), -1);
            },
            "negative fd",
        ),
        (
            &|c| {
                c.pass_fd(pipe(), 5).pass_fd(pipe(), 5);
            },
            "one target twice",
        ),
    ];
    for (set, what) in cases {
        let mut cmd = sleeper();
        set(&mut cmd);
        assert!(
            matches!(cmd.validate(), Err(Error::InvalidCommand { .. })),
            "{what}: {:?}",
            cmd.validate()
        );
    }
    // The bounds themselves are fine.
    let mut cmd = sleeper();
    cmd.oom_score_adj(-1000)
        .oom_score_adj(1000)
        .nice(-20)
        .nice(19)
        .umask(0o777)
        .rlimit(Resource::Nofile, 5, 5)
        .pass_fd(pipe(), 3);
    cmd.validate().unwrap();
}

#[test]
fn passed_fds_appear_at_their_numbers_and_every_other_fd_is_closed() {
    let mut r = Reactor::new().unwrap();
    let (read3, write3) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let (read7, write7) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let mut cmd = sleeper();
    cmd.pass_fd(write3, 3)
        .pass_fd(write7, 7)
        .stdout(procrun::Output::Null)
        .stderr(procrun::Output::Null);
    let (id, pid) = start(&mut r, &cmd);
    // 0-2 and the passed fds only: not even what this process holds
    // without CLOEXEC (the test harness may hand some down to it).
    let want = BTreeSet::from([0, 1, 2, 3, 7]);
    // A spawn returns once the child's exec has its new memory, which is
    // before the kernel closes its CLOEXEC fds (std's and glibc's spawns
    // return as early): its table is read until it settles.
    let deadline = std::time::Instant::now() + watchdog();
    let fds = loop {
        let fds: BTreeSet<u32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        if fds == want || std::time::Instant::now() > deadline {
            break fds;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    assert_eq!(fds, want);
    finish(&mut r, id);
    drop(cmd);

    // Written through: the child's 3 and 7 are the pipes' write ends.
    let (read3b, write3b) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let (read7b, write7b) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let mut cmd = sh("echo three >&3; echo seven >&7");
    cmd.pass_fd(write3b, 3).pass_fd(write7b, 7);
    let id = r.spawn(&cmd).unwrap();
    let recs = run_to_done(&mut r, id);
    assert!(exits_of(&recs, id)[0].success());
    // The command holds the write ends until it is dropped.
    drop(cmd);
    let read_all = |fd: OwnedFd| {
        let mut s = String::new();
        std::fs::File::from(fd).read_to_string(&mut s).unwrap();
        s
    };
    assert_eq!(read_all(read3b), "three\n");
    assert_eq!(read_all(read7b), "seven\n");
    drop((read3, read7));
}

#[test]
fn passed_fds_whose_targets_are_each_others_sources_are_not_clobbered() {
    let mut r = Reactor::new().unwrap();
    let (_ra, wa) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let (_rb, wb) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let link = |path: String| std::fs::read_link(path).unwrap();
    let (a, b) = (wa.as_raw_fd(), wb.as_raw_fd());
    let (pipe_a, pipe_b) = (
        link(format!("/proc/self/fd/{a}")),
        link(format!("/proc/self/fd/{b}")),
    );
    assert_ne!(pipe_a, pipe_b);
    // Each fd goes to the other's number: a naive dup2 in order would
    // overwrite the second source with the first.
    let mut cmd = sleeper();
    cmd.pass_fd(wa, b).pass_fd(wb, a);
    let (id, pid) = start(&mut r, &cmd);
    assert_eq!(link(format!("/proc/{pid}/fd/{b}")), pipe_a);
    assert_eq!(link(format!("/proc/{pid}/fd/{a}")), pipe_b);
    finish(&mut r, id);
}

#[test]
fn a_target_above_the_childs_fd_limit_is_a_child_setup_error() {
    let mut r = Reactor::new().unwrap();
    let (_r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let mut cmd = sleeper();
    // Far above any fd limit (fs.nr_open is at most 2^30).
    cmd.pass_fd(w, i32::MAX - 1);
    assert!(matches!(
        r.spawn(&cmd),
        Err(Error::ChildSetup {
            step: "a passed fd",
            ..
        })
    ));
    assert!(r.is_empty());
}

const AGENT: &str = "PROCRUN_CHILD_SETUP_AGENT";

/// A child that dies with its agent still does when it runs as another
/// user: a change of credentials clears the death signal, so it must be
/// armed after the switch. The agent is this binary again; the test kills
/// it and waits for the child to die.
#[test]
fn a_child_switched_to_another_user_still_dies_with_its_agent() {
    if std::env::var_os(AGENT).is_some() {
        let mut r = Reactor::new().unwrap();
        // Longer than the watchdog: only the death signal ends it in time.
        let mut cmd = Command::new("sleep");
        cmd.arg("1000").uid(60123).gid(60123).kill_on_parent_death();
        let (_, pid) = start(&mut r, &cmd);
        println!("pid {pid}");
        // Until the test kills this process; the watchdog ends a forgotten one.
        drive_until(&mut r, &mut Vec::new(), |_| false);
        return;
    }
    if !is_root() {
        eprintln!("skipped: needs root to switch users");
        return;
    }
    let mut agent = std::process::Command::new(std::env::current_exe().unwrap())
        .args(alone(
            module_path!(),
            "a_child_switched_to_another_user_still_dies_with_its_agent",
        ))
        .env(AGENT, "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _agent_guard = KillOnDrop(agent.id());
    let out = agent.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(out));
    let pid: u32 = lines
        // The harness prints the test's name before it, on the same line.
        .find_map(|l| l.ok()?.split("pid ").nth(1)?.trim().parse().ok())
        .expect("the agent names its child");
    let _child_guard = KillOnDrop(pid);
    assert_eq!(status_field(pid, "Uid"), "60123 60123 60123 60123");
    agent.kill().unwrap();
    wait_child(&mut agent, "the killed agent");
    wait_dead(pid);
}
