//! procfs scans against the real /proc (children stopped and left as zombies
//! on purpose) and against fake procfs trees written in a temp dir.

use crate::common;

use std::fs;
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::within_watchdog;
use procrun::procfs::{ProcessEntry, Procfs, State};
use procrun::Error;
use rustix::process::{kill_process, waitid, Pid, Signal, WaitId, WaitIdOptions};

fn proc() -> Procfs {
    Procfs::with_root("/proc")
}

/// A child that is killed and reaped when the test ends, failed or not.
struct Guard(Child);

impl Guard {
    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn rustix_pid(&self) -> Pid {
        Pid::from_raw(self.0.id() as i32).expect("a child's pid is positive")
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directory holding symlinks to system programs under names no other
/// process on the host has: the kernel names a process after the path it
/// was executed by, so running the link gives the child that comm.
struct Names {
    dir: tempfile::TempDir,
}

impl Names {
    fn new() -> Names {
        Names {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A fresh name, unique on the host, of exactly `len` bytes (at least 8).
    fn unique(len: usize) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let stem = format!("q{}x{}z", std::process::id(), n);
        assert!(len >= stem.len(), "{len} bytes is too short for {stem}");
        format!("{stem:z<len$}")
    }

    /// Runs `program` (a path) with `args` under a name of `len` bytes.
    fn spawn(&self, program: &str, args: &[&str], len: usize) -> (Guard, String) {
        let name = Names::unique(len);
        let link = self.dir.path().join(&name);
        symlink(program, &link).expect("symlink");
        let child = Guard(
            Command::new(&link)
                .args(args)
                .stdin(Stdio::null())
                .spawn()
                .expect("spawn"),
        );
        // A vfork-based spawn returns when the child switches to its new
        // memory, a moment before execve renames it: wait for the name.
        let comm = &name[..name.len().min(15)];
        let deadline = Instant::now() + Duration::from_secs(20);
        while proc().read_comm(child.pid()).expect("child is alive") != comm {
            assert!(Instant::now() < deadline, "{name} not renamed after 20 s");
            std::thread::yield_now();
        }
        (child, name)
    }
}

fn program(name: &str) -> String {
    for dir in ["/usr/bin", "/bin"] {
        let path = Path::new(dir).join(name);
        if path.exists() {
            return path.to_string_lossy().into_owned();
        }
    }
    panic!("{name} not found in /usr/bin or /bin");
}

/// Polls the state of `pid` until it is `want`; procfs has no way to wait
/// for a state change, and a fresh child passes through R and D on its way
/// to sleeping.
fn wait_for_state(pid: u32, want: State) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let state = proc().process(pid).expect("child is alive").state();
        if state == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "pid {pid} still {state} after 20 s, waiting for {want}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn count_pids_counts_this_process() {
    let count = proc().count_pids().unwrap();
    assert!(count >= 1, "{count}");
    assert!(proc().processes_by_state().unwrap().len() <= count + 4096);
}

#[test]
fn stopped_child_is_found_stopped() {
    let names = Names::new();
    let (child, name) = names.spawn(&program("sleep"), &["1000"], 12);
    kill_process(child.rustix_pid(), Signal::STOP).unwrap();
    // Returns once the child has stopped, without consuming the report.
    waitid(
        WaitId::Pid(child.rustix_pid()),
        WaitIdOptions::STOPPED | WaitIdOptions::NOWAIT,
    )
    .unwrap();

    let procs = proc().processes_by_state().unwrap();
    let stopped = procs.get(State::Stopped);
    let me = stopped
        .iter()
        .find(|p| p.pid() == child.pid())
        .unwrap_or_else(|| panic!("pid {} not among stopped: {stopped:?}", child.pid()));
    assert_eq!(me.comm(), name);
    assert_eq!(proc().process(child.pid()).unwrap().state(), State::Stopped);
    // A stopped process still runs, as pidof would say.
    assert!(proc().is_running(&name).unwrap());
}

#[test]
fn zombie_child_is_found_zombie_and_not_running_then_gone_once_reaped() {
    let names = Names::new();
    let (mut child, name) = names.spawn(&program("true"), &[], 12);
    // Returns once the child has exited, leaving it unreaped: a zombie.
    waitid(
        WaitId::Pid(child.rustix_pid()),
        WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
    )
    .unwrap();

    let procs = proc().processes_by_state().unwrap();
    let zombies = procs.get(State::Zombie);
    let me = zombies
        .iter()
        .find(|p| p.pid() == child.pid())
        .unwrap_or_else(|| panic!("pid {} not among zombies: {zombies:?}", child.pid()));
    assert_eq!(me.comm(), name);
    let found = proc()
        .find_by_name(&name)
        .unwrap()
        .expect("zombie is listed");
    assert_eq!((found.pid(), found.state()), (child.pid(), State::Zombie));
    assert!(!proc().is_running(&name).unwrap(), "a zombie does not run");

    child.0.wait().unwrap();
    assert_eq!(proc().find_by_name(&name).unwrap(), None);
    match proc().process(child.pid()) {
        Err(Error::Procfs { source, .. }) => assert_eq!(source.kind(), io::ErrorKind::NotFound),
        other => panic!("reaped child still readable: {other:?}"),
    }
}

#[test]
fn sleeping_child_is_found_sleeping() {
    let names = Names::new();
    let (child, name) = names.spawn(&program("sleep"), &["1000"], 12);
    wait_for_state(child.pid(), State::Sleeping);
    let procs = proc().processes_by_state().unwrap();
    assert!(procs
        .get(State::Sleeping)
        .iter()
        .any(|p| p.pid() == child.pid() && p.comm() == name));
}

#[test]
fn a_thread_reading_its_own_stat_is_running() {
    // procfs serves thread ids it does not list; the reading thread is on a
    // CPU while the kernel writes its state.
    let link = fs::read_link("/proc/thread-self").unwrap();
    let tid: u32 = link.file_name().unwrap().to_str().unwrap().parse().unwrap();
    assert_eq!(proc().process(tid).unwrap().state(), State::Running);
}

#[test]
fn is_running_matches_the_exact_name_only() {
    let names = Names::new();
    let (_child, name) = names.spawn(&program("sleep"), &["1000"], 14);
    assert!(proc().is_running(&name).unwrap());
    assert!(!proc().is_running(&name[..13]).unwrap());
    assert!(!proc().is_running(&format!("{name}z")).unwrap());
    assert!(!proc().is_running(&format!("z{name}")).unwrap());
    assert!(!proc().is_running("").unwrap());
}

#[test]
fn find_by_name_matches_a_substring_of_comm() {
    let names = Names::new();
    let (child, name) = names.spawn(&program("sleep"), &["1000"], 14);
    let found = proc().find_by_name(&name[1..10]).unwrap().expect("found");
    assert_eq!((found.pid(), found.comm()), (child.pid(), name.as_str()));
    assert_eq!(proc().find_by_name(&format!("{name}z")).unwrap(), None);
}

#[test]
fn long_program_name_is_matched_as_the_kernel_truncates_it() {
    let names = Names::new();
    let (child, name) = names.spawn(&program("sleep"), &["1000"], 24);
    assert_eq!(proc().read_comm(child.pid()).unwrap(), name[..15]);
    assert!(proc().is_running(&name).unwrap());
    assert!(proc().is_running(&name[..15]).unwrap());
    assert!(proc().is_running(&name[..16]).unwrap());
    assert!(!proc().is_running(&name[..14]).unwrap());
    let mut other = name.clone().into_bytes();
    other[14] = b'y';
    assert!(!proc()
        .is_running(std::str::from_utf8(&other).unwrap())
        .unwrap());
}

#[test]
fn read_comm_of_self_is_the_program_name_truncated() {
    let exe = std::env::current_exe().unwrap();
    let exe = exe.file_name().unwrap().to_str().unwrap();
    let comm = proc().read_comm(std::process::id()).unwrap();
    assert_eq!(comm, exe[..exe.len().min(15)]);
    assert_eq!(proc().process(std::process::id()).unwrap().comm(), comm);
}

#[test]
fn reading_a_missing_pid_is_not_found() {
    for result in [
        proc().read_comm(u32::MAX).map(drop),
        proc().process(u32::MAX).map(drop),
    ] {
        match result {
            Err(Error::Procfs { path, source }) => {
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
                assert!(path.starts_with("/proc/4294967295"), "{path:?}");
            }
            other => panic!("expected not found, got {other:?}"),
        }
    }
}

#[test]
fn missing_root_is_an_error_naming_it() {
    let procfs = Procfs::with_root("/nonexistent-procfs-root");
    let errors = [
        procfs.count_pids().map(drop),
        procfs.processes_by_state().map(drop),
        procfs.find_by_name("x").map(drop),
        procfs.is_running("x").map(drop),
    ];
    for result in errors {
        match result {
            Err(e @ Error::Procfs { .. }) => {
                let Error::Procfs { path, source } = &e else {
                    unreachable!()
                };
                assert_eq!(path, Path::new("/nonexistent-procfs-root"));
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
                assert!(e.to_string().contains("/nonexistent-procfs-root"));
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }
}

/// A procfs tree written in a temp dir.
struct FakeProc {
    dir: tempfile::TempDir,
}

impl FakeProc {
    /// In /dev/shm where there is one: a tree of thousands of files is
    /// written in milliseconds there, and in seconds on a busy disk.
    fn new() -> FakeProc {
        let dir = tempfile::tempdir_in("/dev/shm").or_else(|_| tempfile::tempdir());
        FakeProc {
            dir: dir.expect("temp dir"),
        }
    }

    /// A tree under `base`.
    fn new_in(base: &Path) -> FakeProc {
        FakeProc {
            dir: tempfile::tempdir_in(base).expect("temp dir"),
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn procfs(&self) -> Procfs {
        Procfs::with_root(self.root())
    }

    fn pid_dir(&self, name: &str) -> PathBuf {
        let dir = self.root().join(name);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Writes `PID/stat` with the kernel's layout around `comm` and
    /// `state`, and `PID/comm`.
    fn process(&self, pid: u32, comm: &[u8], state: u8) {
        self.stat(pid, comm, state);
        self.file(&pid.to_string(), "comm", &[comm, b"\n"].concat());
    }

    /// Writes `PID/stat` only.
    fn stat(&self, pid: u32, comm: &[u8], state: u8) {
        let line = [
            format!("{pid} (").as_bytes(),
            comm,
            b") ",
            &[state],
            b" 1 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 24 0 0 18446744073709551615 0 0\n",
        ]
        .concat();
        self.file(&pid.to_string(), "stat", &line);
    }

    fn file(&self, pid: &str, file: &str, content: &[u8]) {
        fs::write(self.pid_dir(pid).join(file), content).unwrap();
    }
}

#[test]
fn fake_tree_comms_with_spaces_parentheses_and_newlines_are_read_whole() {
    let tree = FakeProc::new();
    let comms: [&[u8]; 6] = [b"a b c", b"x) (y", b"tricky) Z 1 (", b"li\nne", b")", b""];
    for (i, comm) in comms.iter().enumerate() {
        tree.process(10 + i as u32, comm, b'S');
    }
    let procs = tree.procfs().processes_by_state().unwrap();
    assert_eq!((procs.unreadable(), procs.malformed()), (0, 0));
    let got: Vec<(u32, &str)> = procs.iter().map(|p| (p.pid(), p.comm())).collect();
    let want: Vec<(u32, &str)> = comms
        .iter()
        .enumerate()
        .map(|(i, c)| (10 + i as u32, std::str::from_utf8(c).unwrap()))
        .collect();
    assert_eq!(got, want);
    assert!(procs.iter().all(|p| p.state() == State::Sleeping));
    assert_eq!(tree.procfs().read_comm(13).unwrap(), "li\nne");
    assert!(tree.procfs().is_running("x) (y").unwrap());
    assert_eq!(
        tree.procfs().find_by_name(") Z").unwrap().map(|p| p.pid()),
        Some(12)
    );
}

#[test]
fn fake_tree_every_state_letter_lands_in_its_group() {
    let tree = FakeProc::new();
    let letters = b"RSDITtZXxPWK";
    for (i, &letter) in letters.iter().enumerate() {
        tree.process(100 + i as u32, b"p", letter);
    }
    let procs = tree.procfs().processes_by_state().unwrap();
    let expect = [
        (State::Running, vec![100]),
        (State::Sleeping, vec![101]),
        (State::DiskSleep, vec![102]),
        (State::Idle, vec![103]),
        (State::Stopped, vec![104]),
        (State::TracingStop, vec![105]),
        (State::Zombie, vec![106]),
        (State::Dead, vec![107, 108]),
        (State::Parked, vec![109]),
        (State::Other(b'K'), vec![111]),
        (State::Other(b'W'), vec![110]),
    ];
    for (state, pids) in &expect {
        let got: Vec<u32> = procs.get(*state).iter().map(|p| p.pid()).collect();
        assert_eq!(&got, pids, "{state:?}");
    }
    let groups: Vec<State> = procs.groups().map(|(s, _)| s).collect();
    assert_eq!(groups.len(), expect.len());
    assert_eq!(procs.len(), letters.len());
}

#[test]
fn fake_tree_missing_stat_files_are_skipped_silently() {
    let tree = FakeProc::new();
    tree.process(1, b"init", b'S');
    tree.pid_dir("2");
    tree.file("3", "comm", b"only-comm\n");
    let procs = tree.procfs().processes_by_state().unwrap();
    assert_eq!(procs.iter().map(|p| p.pid()).collect::<Vec<_>>(), [1]);
    assert_eq!((procs.unreadable(), procs.malformed()), (0, 0));
    assert_eq!(tree.procfs().count_pids().unwrap(), 3);
    match tree.procfs().read_comm(2) {
        Err(Error::Procfs { source, .. }) => assert_eq!(source.kind(), io::ErrorKind::NotFound),
        other => panic!("{other:?}"),
    }
}

#[test]
fn fake_tree_garbage_stat_lines_are_counted_not_fatal() {
    let tree = FakeProc::new();
    tree.process(1, b"good", b'R');
    let garbage: [&[u8]; 8] = [
        b"",
        b"garbage",
        b"4 (no close S 1",
        b"5 (nostate)",
        b"6 (digitstate) 5 1",
        b"notapid (x) S 1",
        b"\0\0\0\0",
        b"\xff\xfe (\xff) \xff",
    ];
    for (i, line) in garbage.iter().enumerate() {
        tree.file(&(10 + i).to_string(), "stat", line);
    }
    // Longer than the read buffer: the comm never closes within it.
    let mut huge = b"20 (".to_vec();
    huge.resize(64 * 1024, b'a');
    huge.extend_from_slice(b") S 1\n");
    tree.file("20", "stat", &huge);

    let procs = tree.procfs().processes_by_state().unwrap();
    assert_eq!(procs.iter().map(|p| p.pid()).collect::<Vec<_>>(), [1]);
    assert_eq!(
        (procs.unreadable(), procs.malformed()),
        (0, garbage.len() + 1)
    );
    assert!(tree.procfs().is_running("good").unwrap());
    assert_eq!(tree.procfs().find_by_name("nostate").unwrap(), None);
}

#[test]
fn fake_tree_garbage_stat_of_one_pid_is_a_clear_error() {
    let tree = FakeProc::new();
    tree.file("7", "stat", b"7 (cut");
    match tree.procfs().process(7) {
        Err(e @ Error::ProcStat { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("7/stat"), "{msg}");
            assert!(msg.contains("no ')' closing the command name"), "{msg}");
        }
        other => panic!("expected ProcStat, got {other:?}"),
    }
}

#[test]
fn fake_tree_non_numeric_entries_and_plain_files_are_ignored() {
    let tree = FakeProc::new();
    tree.process(1, b"init", b'S');
    tree.process(42, b"worker", b'D');
    for name in ["self", "sys", "12a", "-3", "99999999999"] {
        tree.file(name, "stat", b"1 (impostor) R 1\n");
    }
    fs::write(tree.root().join("77"), b"77 (file) R 1\n").unwrap();
    symlink(tree.root().join("42"), tree.root().join("43")).unwrap();

    assert_eq!(tree.procfs().count_pids().unwrap(), 2);
    let procs = tree.procfs().processes_by_state().unwrap();
    let mut got: Vec<(u32, &str, State)> = procs
        .iter()
        .map(|p| (p.pid(), p.comm(), p.state()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (1, "init", State::Sleeping),
            (42, "worker", State::DiskSleep)
        ]
    );
    assert!(!tree.procfs().is_running("impostor").unwrap());
}

/// Every way to a process carries the ids its stat line holds after the
/// state; a line that stops early still gives its comm and state.
#[test]
fn fake_tree_entries_carry_parent_group_and_session() {
    let tree = FakeProc::new();
    tree.file("5", "stat", b"5 (leader) S 4 5 3 0 -1\n");
    tree.file("5", "comm", b"leader\n");
    tree.file("6", "stat", b"6 (short) R 5\n");
    let ids = |p: &ProcessEntry| (p.pid(), p.ppid(), p.pgrp(), p.session());
    let procs = tree.procfs().processes_by_state().unwrap();
    let mut got: Vec<_> = procs.iter().map(ids).collect();
    got.sort();
    assert_eq!(
        got,
        [(5, Some(4), Some(5), Some(3)), (6, Some(5), None, None)]
    );
    assert_eq!(
        ids(&tree.procfs().process(5).unwrap()),
        (5, Some(4), Some(5), Some(3))
    );
    let found = tree.procfs().find_by_name("lead").unwrap().unwrap();
    assert_eq!(ids(&found), (5, Some(4), Some(5), Some(3)));
}

#[test]
fn fake_tree_read_comm_strips_only_the_final_newline() {
    let tree = FakeProc::new();
    tree.file("5", "comm", b"two\nlines \n");
    tree.file("6", "comm", b"no-newline");
    tree.file("7", "comm", b"bad\xffutf8\n");
    assert_eq!(tree.procfs().read_comm(5).unwrap(), "two\nlines ");
    assert_eq!(tree.procfs().read_comm(6).unwrap(), "no-newline");
    assert_eq!(tree.procfs().read_comm(7).unwrap(), "bad\u{fffd}utf8");
}

#[test]
fn fake_tree_find_by_name_is_substring_and_is_running_is_exact() {
    let tree = FakeProc::new();
    tree.process(1, b"init", b'S');
    tree.process(2, b"nvidia-persiste", b'S');
    tree.process(3, b"dcgm-zombie", b'Z');
    tree.process(4, b"fabricmanager", b'D');
    let procfs = tree.procfs();
    assert!(procfs.is_running("nvidia-persistenced").unwrap());
    assert!(!procfs.is_running("nvidia").unwrap());
    assert!(!procfs.is_running("dcgm-zombie").unwrap());
    assert!(procfs.is_running("fabricmanager").unwrap());
    let found = procfs.find_by_name("zombie").unwrap().unwrap();
    assert_eq!((found.pid(), found.state()), (3, State::Zombie));
    assert_eq!(procfs.find_by_name("fabric").unwrap().unwrap().pid(), 4);
    assert_eq!(procfs.find_by_name("absent").unwrap(), None);
}

#[test]
fn fake_tree_with_thousands_of_processes_lists_every_one() {
    // More entries than one getdents batch holds, so the listing refills.
    let tree = FakeProc::new();
    let n = 3000u32;
    for pid in 1..=n {
        let state = b"RSDZ"[pid as usize % 4];
        tree.process(pid, format!("p{pid}").as_bytes(), state);
    }
    assert_eq!(tree.procfs().count_pids().unwrap(), n as usize);
    let procs = tree.procfs().processes_by_state().unwrap();
    assert_eq!(procs.len(), n as usize);
    assert_eq!(procs.count(State::Zombie), (n / 4) as usize);
    let mut pids: Vec<u32> = procs.iter().map(|p| p.pid()).collect();
    pids.sort_unstable();
    assert_eq!(pids, (1..=n).collect::<Vec<_>>());
    assert!(procs.iter().all(|p| p.comm() == format!("p{}", p.pid())));
    assert!(tree.procfs().is_running("p2998").unwrap());
    assert!(!tree.procfs().is_running("p2999").unwrap(), "a zombie");
}

fn mkfifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap_or_else(|e| panic!("mkfifo {}: {e}", path.display()));
}

fn mkdir(path: &Path) {
    fs::create_dir(path).unwrap();
}

/// A tree where something that is not a regular file (made by `special`)
/// stands for pid 2's `stat` and for pid 3's `comm`; pid 1 is sound.
fn tree_with_special_files(special: fn(&Path)) -> FakeProc {
    let tree = FakeProc::new();
    tree.process(1, b"init", b'S');
    tree.file("2", "comm", b"badstat\n");
    special(&tree.pid_dir("2").join("stat"));
    tree.stat(3, b"badcomm", b'R');
    special(&tree.pid_dir("3").join("comm"));
    tree
}

/// Every function taking a root returns promptly on such a tree, leaves
/// pid 2 out as malformed and pid 3 out of the by-name checks, and says
/// "not a regular file" when asked for the bad file itself.
fn check_special_files_are_skipped(tree: &FakeProc) {
    let procfs = tree.procfs();
    let p = procfs.clone();
    assert_eq!(
        within_watchdog("count_pids", move || p.count_pids().unwrap()),
        3
    );

    let p = procfs.clone();
    let procs = within_watchdog("processes_by_state", move || {
        p.processes_by_state().unwrap()
    });
    let mut pids: Vec<u32> = procs.iter().map(|p| p.pid()).collect();
    pids.sort_unstable();
    assert_eq!(pids, [1, 3]);
    assert_eq!((procs.unreadable(), procs.malformed()), (0, 1));

    for (name, found) in [
        ("init", Some(1)),
        ("badstat", None),
        ("badcomm", None),
        ("absent", None),
    ] {
        let p = procfs.clone();
        let got = within_watchdog("find_by_name", move || p.find_by_name(name).unwrap());
        assert_eq!(got.map(|p| p.pid()), found, "find_by_name({name})");
        let p = procfs.clone();
        let running = within_watchdog("is_running", move || p.is_running(name).unwrap());
        assert_eq!(running, found.is_some(), "is_running({name})");
    }

    let p = procfs.clone();
    match within_watchdog("process", move || p.process(2)) {
        Err(e @ Error::ProcStat { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("2/stat"), "{msg}");
            assert!(msg.contains("not a regular file"), "{msg}");
        }
        other => panic!("expected ProcStat, got {other:?}"),
    }
    let p = procfs.clone();
    assert_eq!(
        within_watchdog("process", move || p.process(3))
            .unwrap()
            .comm(),
        "badcomm"
    );

    let p = procfs.clone();
    match within_watchdog("read_comm", move || p.read_comm(3)) {
        Err(Error::Procfs { path, source }) => {
            assert!(path.ends_with("3/comm"), "{}", path.display());
            assert_eq!(source.kind(), io::ErrorKind::InvalidData, "{source}");
            assert!(
                source.to_string().contains("not a regular file"),
                "{source}"
            );
        }
        other => panic!("expected a Procfs error, got {other:?}"),
    }
    let p = procfs.clone();
    assert_eq!(
        within_watchdog("read_comm", move || p.read_comm(2)).unwrap(),
        "badstat"
    );
}

#[test]
fn fake_tree_fifo_as_stat_or_comm_is_skipped_not_waited_on() {
    check_special_files_are_skipped(&tree_with_special_files(mkfifo));
}

#[test]
fn fake_tree_directory_as_stat_or_comm_is_skipped_not_fatal() {
    check_special_files_are_skipped(&tree_with_special_files(mkdir));
}

#[test]
fn fifo_as_the_root_is_an_error_not_a_wait() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("proc");
    mkfifo(&root);
    let procfs = Procfs::with_root(&root);
    let p = procfs.clone();
    assert!(matches!(
        within_watchdog("count_pids", move || p.count_pids()),
        Err(Error::Procfs { .. })
    ));
    let p = procfs.clone();
    assert!(matches!(
        within_watchdog("processes_by_state", move || p.processes_by_state()),
        Err(Error::Procfs { .. })
    ));
}

const UNREADABLE_ROOT: &str = "PROCRUN_TEST_UNREADABLE_ROOT";

fn check_unreadable_is_counted(root: &Path) {
    let procs = Procfs::with_root(root).processes_by_state().unwrap();
    assert_eq!(procs.iter().map(|p| p.pid()).collect::<Vec<_>>(), [1]);
    assert_eq!((procs.unreadable(), procs.malformed()), (1, 0));
    assert!(!Procfs::with_root(root).is_running("secret").unwrap());
    match Procfs::with_root(root).read_comm(2) {
        Err(Error::Procfs { source, .. }) => {
            assert_eq!(source.kind(), io::ErrorKind::PermissionDenied)
        }
        other => panic!("{other:?}"),
    }
}

/// Whether every user may search `dir` and each of its ancestors, as a
/// process of another uid needs to reach anything inside (the mode bits
/// only; an ACL could still refuse, which the run would then report).
fn searchable_by_all(dir: &Path) -> bool {
    dir.ancestors()
        .all(|d| fs::metadata(d).is_ok_and(|m| m.is_dir() && m.permissions().mode() & 0o001 != 0))
}

/// A fresh directory, mode 0755, that any user can reach, holding a copy of
/// this test binary (mode 0755). A test that drops privileges runs the
/// copy: the build's own output may sit where the lesser user cannot go (a
/// clone under `/root`, or in a 0700 temp dir), and the exec would fail
/// with EACCES. `None` when no candidate directory is reachable or
/// writable.
fn reachable_copy_of_this_binary() -> Option<(tempfile::TempDir, PathBuf)> {
    let exe = std::env::current_exe().expect("current_exe");
    let bases = [
        std::env::temp_dir(),
        PathBuf::from("/tmp"),
        PathBuf::from("/var/tmp"),
        PathBuf::from("/dev/shm"),
    ];
    for base in bases.iter().filter(|b| searchable_by_all(b)) {
        let Ok(dir) = tempfile::Builder::new()
            .prefix("procrun-test-")
            .tempdir_in(base)
        else {
            continue;
        };
        let copy = dir.path().join("procfs-test");
        // Copied by another process: see `common::install_executable`.
        let made = fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).is_ok()
            && std::process::Command::new("install")
                .args(["-m", "0755"])
                .arg(&exe)
                .arg(&copy)
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        // A full disk or a noexec mount of one base need not end the search.
        if made {
            return Some((dir, copy));
        }
    }
    None
}

#[test]
fn unreadable_stat_is_skipped_and_counted() {
    if let Some(root) = std::env::var_os(UNREADABLE_ROOT) {
        check_unreadable_is_counted(Path::new(&root));
        return;
    }
    let euid_is_root = rustix::process::geteuid().is_root();
    // Root reads any file: the check runs again as nobody, from a copy of
    // this binary that nobody can reach, on a tree beside it.
    let copy = if euid_is_root {
        match reachable_copy_of_this_binary() {
            Some(copy) => Some(copy),
            None => panic!(
                "running as root, this test re-runs itself as uid 65534, which needs a \
                 directory every user can search (tried TMPDIR, /tmp, /var/tmp, /dev/shm)"
            ),
        }
    } else {
        None
    };
    let tree = match &copy {
        Some((dir, _)) => FakeProc::new_in(dir.path()),
        None => FakeProc::new(),
    };
    tree.process(1, b"ok", b'S');
    tree.process(2, b"secret", b'S');
    for file in ["stat", "comm"] {
        fs::set_permissions(
            tree.root().join("2").join(file),
            fs::Permissions::from_mode(0o000),
        )
        .unwrap();
    }
    fs::set_permissions(tree.root(), fs::Permissions::from_mode(0o755)).unwrap();

    let Some((dir, exe)) = copy else {
        check_unreadable_is_counted(tree.root());
        return;
    };
    let out = Command::new(&exe)
        .args([
            "--exact",
            common::test_name(module_path!(), "unreadable_stat_is_skipped_and_counted").as_str(),
        ])
        .env(UNREADABLE_ROOT, tree.root())
        // The test's own working directory may be out of nobody's reach too.
        .current_dir(dir.path())
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap_or_else(|e| panic!("running {} as uid 65534: {e}", exe.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "as nobody: {}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
