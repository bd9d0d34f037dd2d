//! `HOST_PROC` names the root of every default-root function. The variable
//! is process-wide, so only one test of this binary sets it; the other sets
//! it on a child.

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use procrun::procfs::{self, Procfs, State, HOST_PROC};

#[test]
fn host_proc_is_honoured_by_every_default_root_function() {
    let tree = tempfile::tempdir().unwrap();
    for (pid, comm, state) in [(1, "fakeinit", 'S'), (7, "fakezombie", 'Z')] {
        let dir = tree.path().join(pid.to_string());
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("stat"), format!("{pid} ({comm}) {state} 0 1\n")).unwrap();
        fs::write(dir.join("comm"), format!("{comm}\n")).unwrap();
    }

    std::env::set_var(HOST_PROC, tree.path());
    assert_eq!(Procfs::new().root(), tree.path());
    assert_eq!(procfs::count_pids().unwrap(), 2);
    let procs = procfs::processes_by_state().unwrap();
    assert_eq!(procs.get(State::Zombie)[0].comm(), "fakezombie");
    assert_eq!(procs.len(), 2);
    assert_eq!(procfs::find_by_name("init").unwrap().unwrap().pid(), 1);
    assert!(procfs::is_running("fakeinit").unwrap());
    assert_eq!(procfs::read_comm(7).unwrap(), "fakezombie");

    std::env::set_var(HOST_PROC, "");
    assert_eq!(Procfs::new().root(), std::path::Path::new("/proc"));
    std::env::remove_var(HOST_PROC);
    assert_eq!(Procfs::default().root(), std::path::Path::new("/proc"));
    assert!(procfs::read_comm(std::process::id()).is_ok());
}

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
        let mut child = Command::new(env!("CARGO_BIN_EXE_procrun"))
            .args(args)
            .env(HOST_PROC, tree.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("watchdog: procrun {args:?} still running after 30 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(status),
            "procrun {args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(want), "procrun {args:?}: {stdout}");
    }
}
