//! `HOST_PROC` names the root of every default-root function. The variable
//! is process-wide, so only this test of this binary sets it (the tool's
//! own test, in cli/tests, sets it on a child).

use std::fs;

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
