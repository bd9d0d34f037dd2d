//! The tool on what the host gives it: a `HOST_PROC` tree with FIFOs in
//! it, a cgroup to contain its processes in, a child that made itself root.
//! The set-up helpers are the library tests' own.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use common::cgroups::TestParent;
use common::privilege::*;
use common::*;
use procrun::procfs::HOST_PROC;

/// `procrun ps` under a `HOST_PROC` whose files include FIFOs (a read of
/// one would wait for a writer forever) finishes and reports the sound
/// processes. The variable is set on the child only.
#[test]
fn ps_under_a_host_proc_with_fifos_finishes() {
    let tree = tempfile::tempdir().unwrap();
    for (pid, comm) in [(1, "fakeinit"), (2, "badstat"), (3, "badcomm")] {
        let dir = tree.path().join(pid.to_string());
        fs::create_dir(&dir).unwrap();
        let stat = format!("{pid} ({comm}) R 0 1\n");
        let comm = format!("{comm}\n");
        for (file, content) in [("stat", stat), ("comm", comm)] {
            let bad = (pid, file) == (2, "stat") || (pid, file) == (3, "comm");
            if bad {
                rustix::fs::mknodat(
                    rustix::fs::CWD,
                    dir.join(file),
                    rustix::fs::FileType::Fifo,
                    rustix::fs::Mode::from_raw_mode(0o644),
                    0,
                )
                .unwrap();
            } else {
                fs::write(dir.join(file), content).unwrap();
            }
        }
    }
    for (args, status, want) in [
        (&["ps"][..], 0, "running"),
        (&["ps", "--count"], 0, "3"),
        (&["ps", "--state", "running"], 0, "badcomm"),
        (&["ps", "--name", "init"], 0, "fakeinit"),
        (&["ps", "--name", "badstat"], 1, ""),
        (&["ps", "--name", "badcomm", "--exact"], 1, "not running"),
    ] {
        let (code, stdout, stderr) = procrun_to_end(args, &[(HOST_PROC, tree.path())]);
        assert_eq!(code, Some(status), "procrun {args:?}: {stdout}{stderr}");
        assert!(stdout.contains(want), "procrun {args:?}: {stdout}");
    }
}

#[test]
fn the_cli_contains_its_processes_when_asked() {
    let Some(parent) = TestParent::new() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let pidfile = tmp.path().join("daemon");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_procrun"))
        .args([
            "run",
            "--quiet",
            "--timeout",
            "1s",
            "--kill-on-parent-death",
            "--cgroup",
        ])
        .arg(parent.path())
        .args([
            "--",
            "sh",
            "-c",
            "setsid sh -c 'echo $$ > \"$0\"; exec sleep 1000' \"$0\" & exec sleep 1000",
        ])
        .arg(&pidfile)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(124), "{out:?}");
    let daemon: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _guard = KillOnDrop(daemon);
    wait_dead(daemon);
    assert!(parent.children().is_empty(), "{:?}", parent.children());
}

/// A limit the parent cannot give is refused before anything runs: one
/// line naming the controller, exit 1, no cgroup left; without --cgroup
/// it is bad usage.
#[test]
fn the_cli_refuses_a_limit_the_cgroup_cannot_hold() {
    let procrun = |args: &[&str], parent: Option<&std::path::Path>| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_procrun"));
        c.arg("run");
        if let Some(p) = parent {
            c.arg("--cgroup").arg(p);
        }
        c.args(args)
            .args(["--", "true"])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = procrun(&["--memory-max", "64M"], None);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--cgroup <PARENT>"), "{err}");

    let Some(parent) = TestParent::new() else {
        return;
    };
    // The test's parent enables no controller for its children.
    for (flag, value, controller) in [
        ("--memory-max", "64M", "memory"),
        ("--pids-max", "16", "pids"),
        ("--cpu-max", "50%", "cpu"),
    ] {
        let out = procrun(&[flag, value], Some(parent.path()));
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!("the {controller} controller is not enabled")),
            "{err}"
        );
        assert!(parent.children().is_empty(), "{:?}", parent.children());
    }
}

#[test]
fn cli_says_when_its_stop_cannot_reach_a_root_child() {
    if !can_run() {
        return;
    }
    let (dir, program) = setuid_program();
    let procrun = reachable_copy(dir.path(), Path::new(env!("CARGO_BIN_EXE_procrun")));
    let mut cmd = unprivileged(&procrun);
    // The child sleeps 3 s as root: the timeout's stop fails, and procrun
    // says so, then waits for the child to exit by itself.
    cmd.args(["run", "--timeout", "300ms", "--grace", "300ms", "--"])
        .arg(&program)
        .arg("3");
    let (status, out, err) = run_with_watchdog(cmd);
    let _guards: Vec<KillOnDrop> = out
        .lines()
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .map(KillOnDrop)
        .collect();
    assert!(err.contains("stop failed"), "stderr: {err}");
    assert!(err.contains("Operation not permitted"), "stderr: {err}");
    // The timeout did fire, so the status is timeout's 124, as coreutils'
    // `timeout` has it for a command that outlived its time.
    assert_eq!(status.code(), Some(124), "stdout: {out}\nstderr: {err}");
    assert!(err.contains("exited with code 7"), "stderr: {err}");
}

/// `--cgroup auto` runs each process below the cgroup delegated to
/// procrun, with procrun moved into the leaf beside them; in a cgroup
/// that is not delegated it refuses before anything runs and changes
/// nothing. procrun is started in the test's cgroup by a shell that moves
/// itself there first, as a manager would have placed it.
#[test]
fn cgroup_auto_runs_below_the_delegated_cgroup_and_refuses_one_not_delegated() {
    let Some(unit) = TestParent::new() else {
        return;
    };
    let procrun_in_unit = || {
        let mut c = Command::new("sh");
        c.args([
            "-c",
            "echo 0 > \"$1/cgroup.procs\" && \
             exec \"$0\" run --raw --cgroup auto -- cat /proc/self/cgroup",
            env!("CARGO_BIN_EXE_procrun"),
        ])
        .arg(unit.path())
        .stdin(Stdio::null());
        within_watchdog("procrun --cgroup auto", move || c.output().unwrap())
    };

    let out = procrun_in_unit();
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not delegated") && err.contains("Delegate=yes"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(unit.children().is_empty(), "{:?}", unit.children());

    let marked = rustix::fs::setxattr(
        unit.path(),
        "trusted.delegate",
        b"1",
        rustix::fs::XattrFlags::empty(),
    );
    if let Err(e) = marked {
        eprintln!("skipped: cannot mark {:?} delegated: {e}", unit.path());
        return;
    }
    let out = procrun_in_unit();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let rel = unit
        .path()
        .strip_prefix(procrun::cgroup::mount_point().unwrap())
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout);
    let run_in = format!("::/{}/procrun-", rel.display());
    assert!(line.contains(&run_in), "{line:?} not below {run_in}");
    let leaf = unit.path().join(procrun::cgroup::AGENT_LEAF);
    assert!(leaf.is_dir(), "{:?}", unit.children());
    // The run's own cgroup is gone with it; the leaf is all that is left.
    assert_eq!(unit.children(), vec![leaf]);
}

/// procrun with `args` and `env` set on it alone, to its end (killed at
/// the watchdog): status, stdout and stderr.
fn procrun_to_end(args: &[&str], env: &[(&str, &Path)]) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_procrun"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_child(&mut child, &format!("procrun {args:?} still running"));
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn rlimit_umask_nice_and_oom_score_adj_reach_the_child() {
    let (code, out, err) = procrun_to_end(
        &[
            "run",
            "--rlimit",
            "NOFILE=77",
            "--rlimit",
            "core=0:infinity",
            "--umask",
            "027",
            "--nice",
            "5",
            "--oom-score-adj",
            "900",
            "--",
            "sh",
            "-c",
            "ulimit -Sn; ulimit -Hn; ulimit -Sc; ulimit -Hc; umask; \
         cat /proc/self/oom_score_adj; cut -d' ' -f19 /proc/$$/stat",
        ],
        &[],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out, "sh | 77\nsh | 77\nsh | 0\nsh | unlimited\nsh | 0027\nsh | 900\nsh | 5\n",
        "{err}"
    );
}

#[test]
fn bad_child_settings_are_usage_errors() {
    for args in [
        &["run", "--rlimit", "NOFILE", "--", "true"][..],
        &["run", "--rlimit", "FILES=1", "--", "true"],
        &["run", "--rlimit", "NOFILE=9:8", "--", "true"],
        &["run", "--umask", "0888", "--", "true"],
        &["run", "--nice", "20", "--", "true"],
        &["run", "--oom-score-adj", "-1001", "--", "true"],
        &["run", "--user", "no-such-user-procrun", "--", "true"],
        &["run", "--group", "no-such-group-procrun", "--", "true"],
        &["run", "--user", "60123", "--", "true"],
    ] {
        let (code, _, err) = procrun_to_end(args, &[]);
        assert_eq!(code, Some(2), "{args:?}: {err}");
    }
}

#[test]
fn user_and_group_switch_the_child() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root to switch users");
        return;
    }
    let (code, out, err) = procrun_to_end(
        &["run", "--user", "60123", "--group", "60124", "--", "id"],
        &[],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "id | uid=60123 gid=60124 groups=60124\n", "{err}");
    // A name: its uid, its primary group, and its supplementary groups.
    let (code, out, err) = procrun_to_end(&["run", "--user", "root", "--", "id", "-u"], &[]);
    assert_eq!((code, out.as_str()), (Some(0), "id | 0\n"), "{err}");
}
