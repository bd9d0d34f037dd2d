//! What containment costs per run: spawn and reap of `/bin/true`, one at a
//! time, plain and contained in a cgroup v2 of its own.
//!
//! - `plain`: procrun's default spawn (`posix_spawn`, stdout and stderr to
//!   /dev/null) beside std's `status()` and the raw `posix_spawn` +
//!   `waitpid`;
//! - `forked`: procrun's `fork` path alone (`kill_on_parent_death`, no
//!   cgroup), which every contained run takes: it separates what `fork`
//!   costs over `posix_spawn` from what the cgroup costs;
//! - `contained`: procrun with [`Command::cgroup`] (a cgroup made, the child
//!   entering it before it runs anything, `cgroup.events` watched until
//!   empty, the directory removed) beside the same done by hand with std:
//!   `mkdir`, a `pre_exec` hook that writes the child into `cgroup.procs`,
//!   `wait`, `rmdir` (retried while the kernel still counts the exited
//!   member). The by-hand version does less: no `cgroup.events` watch, no
//!   stop reaching the cgroup; it is the floor of "a cgroup per run".
//!
//! Each runs twice: by the wall clock (`containment_spawn_reap`) and by CPU
//! time, this process's and its reaped children's
//! (`containment_cpu_spawn_reap`), which a busy shared machine disturbs
//! far less; the kernel's cgroup work (mkdir, rmdir, the move) is charged
//! to the process doing it, so it is counted.
//!
//! Needs root and a cgroup2 mount for `contained`; it is skipped, saying
//! so, without them. The ratio the containment issue asks for is
//! `contained/procrun` ÷ `plain/procrun`.

use std::ffi::CString;
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use criterion::measurement::Measurement;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use procrun::{Command, Event, Output, Reactor};

#[path = "common/cpu_time.rs"]
mod cpu_time;
use cpu_time::CpuTime;

const TRUE: &str = "/bin/true";

/// A parent cgroup for the runs, removed (with anything left in it) on drop.
struct Parent(PathBuf);

impl Parent {
    fn new() -> Option<Parent> {
        if !rustix::process::geteuid().is_root() {
            eprintln!("containment: skipped contained runs: needs root");
            return None;
        }
        let Some(mount) = procrun::cgroup::mount_point() else {
            eprintln!("containment: skipped contained runs: no cgroup2 mounted");
            return None;
        };
        let dir = mount.join(format!("procrun-bench-{}", std::process::id()));
        fs::create_dir(&dir).ok()?;
        Some(Parent(dir))
    }
}

impl Drop for Parent {
    fn drop(&mut self) {
        // Every run is reaped and its cgroup removed inside its iteration;
        // only the parent is left.
        let _ = procrun::cgroup::kill_leftovers(&self.0);
        let _ = fs::remove_dir(&self.0);
    }
}

extern "C" {
    static environ: *const *mut libc::c_char;
}

/// `posix_spawn` of `path` with this process's environment and stdio, and
/// `waitpid`: the floor of a plain spawn.
fn raw_spawn_wait(path: &CString) {
    let argv = [path.as_ptr() as *mut libc::c_char, std::ptr::null_mut()];
    let mut pid = 0;
    // SAFETY: path and argv are NUL-terminated and outlive the call; null
    // file actions and attributes mean "inherit everything"; environ is
    // the process's own environment block.
    let rc = unsafe {
        libc::posix_spawn(
            &mut pid,
            path.as_ptr(),
            std::ptr::null(),
            std::ptr::null(),
            argv.as_ptr(),
            environ,
        )
    };
    assert_eq!(rc, 0, "posix_spawn failed");
    let mut status = 0;
    // SAFETY: pid is our own unreaped child; status is a valid int.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
}

fn procrun_cmd() -> Command {
    let mut c = Command::new(TRUE);
    c.stdout(Output::Null).stderr(Output::Null);
    c
}

/// Runs `cmd` to its end (for a contained run: its cgroup removed).
fn procrun_once(reactor: &mut Reactor, cmd: &Command) {
    reactor.spawn(cmd).unwrap();
    let mut ok = false;
    while !reactor.is_empty() {
        reactor
            .poll(None, |_, ev| {
                if let Event::Exited(e) = ev {
                    ok = e.success();
                }
            })
            .unwrap();
    }
    assert!(ok);
}

fn std_cmd() -> std::process::Command {
    let mut c = std::process::Command::new(TRUE);
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// `mkdir`, spawn into it, `wait`, `rmdir`: a cgroup per run by hand.
fn std_contained_once(parent: &Parent, n: u64) {
    let dir = parent.0.join(format!("by-hand-{n}"));
    fs::create_dir(&dir).unwrap();
    let procs = fs::OpenOptions::new()
        .write(true)
        .open(dir.join("cgroup.procs"))
        .unwrap();
    let mut cmd = std_cmd();
    let fd = procs.as_raw_fd();
    // SAFETY: the hook only calls `write(2)`, which is async-signal-safe,
    // on an fd the parent keeps open until the spawn returns.
    unsafe {
        cmd.pre_exec(move || {
            // "0" is the writer itself.
            if libc::write(fd, b"0".as_ptr().cast(), 1) == 1 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let status = cmd.status().unwrap();
    assert!(status.success());
    drop(procs);
    // The exited member is uncharged asynchronously: EBUSY for a moment.
    while let Err(e) = fs::remove_dir(&dir) {
        assert_eq!(e.raw_os_error(), Some(libc::EBUSY), "{e}");
        std::thread::yield_now();
    }
}

fn containment<M: Measurement>(c: &mut Criterion<M>, name: &str) {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));

    group.bench_function(BenchmarkId::new("raw_posix_spawn_waitpid", "plain"), |b| {
        let path = CString::new(TRUE).unwrap();
        b.iter(|| raw_spawn_wait(&path))
    });
    group.bench_function(BenchmarkId::new("std_status", "plain"), |b| {
        let mut cmd = std_cmd();
        b.iter(|| assert!(cmd.status().unwrap().success()))
    });
    let mut reactor = Reactor::new().unwrap();
    let plain = procrun_cmd();
    group.bench_function(BenchmarkId::new("procrun", "plain"), |b| {
        b.iter(|| procrun_once(&mut reactor, &plain))
    });
    let mut forked = procrun_cmd();
    forked.kill_on_parent_death();
    group.bench_function(BenchmarkId::new("procrun", "forked"), |b| {
        b.iter(|| procrun_once(&mut reactor, &forked))
    });

    if let Some(parent) = Parent::new() {
        let mut contained = procrun_cmd();
        contained.cgroup(&parent.0);
        group.bench_function(BenchmarkId::new("procrun", "contained"), |b| {
            b.iter(|| procrun_once(&mut reactor, &contained))
        });
        let mut n = 0;
        group.bench_function(BenchmarkId::new("std_by_hand", "contained"), |b| {
            b.iter(|| {
                n += 1;
                std_contained_once(&parent, n)
            })
        });
    }
    group.finish();
}

fn wall(c: &mut Criterion) {
    containment(c, "containment_spawn_reap");
}

fn cpu(c: &mut Criterion<CpuTime>) {
    containment(c, "containment_cpu_spawn_reap");
}

criterion_group!(wall_clock, wall);
criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(CpuTime);
    targets = cpu
}
criterion_main!(wall_clock, cpu_time);
