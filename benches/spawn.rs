//! Spawn and reap of `/bin/true`: procrun's reactor beside std::process,
//! tokio::process on a current-thread runtime, and the raw limit
//! (`posix_spawn` + `waitpid`), one child at a time and 64 in flight.
//!
//! One at a time, a second raw row adds what supervising by pidfd costs
//! on its own: `posix_spawn`, then `pidfd_open`, then `waitid` on the
//! pidfd. procrun gets its pidfd from the start itself (`clone3` with
//! `CLONE_PIDFD`), so that row is the floor it is held to as well.
//!
//! The child's exec and exit dominate every variant; the question is what
//! each API adds on top. procrun runs twice: with stdout and stderr sent to
//! /dev/null, as the std and tokio peers are, and with both piped as lines
//! (its default), which adds two pipes, their epoll registrations and the
//! reads up to EOF. The raw limit inherits stdio and does nothing else, so
//! it is the floor for every variant.
//!
//! Each group runs twice: timed by the wall clock (`spawn_*`: throughput,
//! what the targets are about) and by CPU time, the parent's plus that of
//! its reaped children (`spawn_cpu_*`: what a spawn costs). On a shared
//! 2-core machine the wall-clock ratios swing with the other load by more
//! than the few percent an API adds; CPU time hardly does, so the second
//! pair of groups shows the overhead itself.

use std::ffi::CString;
use std::hint::black_box;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Stdio;
use std::time::Duration;

use criterion::measurement::Measurement;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use procrun::{Command, Event, Output, Reactor};

#[path = "common/cpu_time.rs"]
mod cpu_time;
use cpu_time::CpuTime;

const TRUE: &str = "/bin/true";
/// Children in flight in the concurrent group.
const BATCH: usize = 64;

extern "C" {
    static environ: *const *mut libc::c_char;
}

/// `posix_spawn` of `/bin/true` with the caller's environment and stdio.
struct RawSpawn {
    path: CString,
    argv: [*mut libc::c_char; 2],
}

impl RawSpawn {
    fn new() -> RawSpawn {
        let path = CString::new(TRUE).unwrap();
        let argv = [path.as_ptr() as *mut libc::c_char, std::ptr::null_mut()];
        RawSpawn { path, argv }
    }

    fn spawn(&self) -> libc::pid_t {
        let mut pid = 0;
        // SAFETY: path and argv are NUL-terminated and outlive the call;
        // null file actions and attributes mean "inherit everything";
        // environ is the process's own environment block.
        let rc = unsafe {
            libc::posix_spawn(
                &mut pid,
                self.path.as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                self.argv.as_ptr(),
                environ,
            )
        };
        assert_eq!(rc, 0, "posix_spawn failed");
        pid
    }

    /// A pidfd of `pid`, our unreaped child.
    fn pidfd_open(pid: libc::pid_t) -> OwnedFd {
        // SAFETY: pidfd_open takes the pid and flags by value.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        assert!(fd >= 0, "pidfd_open failed");
        // SAFETY: a new fd, ours alone.
        unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) }
    }

    /// Reaps the child of `pidfd` as the reactor does: `waitid(P_PIDFD)`.
    fn reap_pidfd(pidfd: &OwnedFd) {
        // SAFETY: all zeroes is a valid siginfo_t for waitid to fill.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: a pidfd of our own unreaped child; `info` is writable.
        let r = unsafe {
            libc::waitid(
                libc::P_PIDFD,
                pidfd.as_raw_fd() as libc::id_t,
                &mut info,
                libc::WEXITED,
            )
        };
        assert_eq!(r, 0);
        // SAFETY: filled by the successful waitid above.
        assert_eq!(unsafe { info.si_status() }, 0);
    }

    fn reap(pid: libc::pid_t) {
        let mut status = 0;
        // SAFETY: pid is our own unreaped child; status is a valid int.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(r, pid);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }
}

fn std_cmd() -> std::process::Command {
    let mut c = std::process::Command::new(TRUE);
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn tokio_cmd() -> tokio::process::Command {
    let mut c = tokio::process::Command::new(TRUE);
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn procrun_cmd(piped: bool) -> Command {
    let mut c = Command::new(TRUE);
    if !piped {
        c.stdout(Output::Null).stderr(Output::Null);
    }
    c
}

/// Polls until every child is done; returns how many exited successfully.
fn procrun_drain(reactor: &mut Reactor) -> usize {
    let mut ok = 0;
    while !reactor.is_empty() {
        reactor
            .poll(None, |_, ev| {
                if let Event::Exited(e) = ev {
                    ok += e.success() as usize;
                }
            })
            .unwrap();
    }
    ok
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn sequential<M: Measurement>(c: &mut Criterion<M>, name: &str) {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));

    let raw = RawSpawn::new();
    group.bench_function("raw_posix_spawn_waitpid", |b| {
        b.iter(|| RawSpawn::reap(black_box(raw.spawn())))
    });
    group.bench_function("raw_posix_spawn_pidfd_open_waitid", |b| {
        b.iter(|| RawSpawn::reap_pidfd(&RawSpawn::pidfd_open(black_box(raw.spawn()))))
    });

    for (name, piped) in [("procrun_null", false), ("procrun_lines", true)] {
        let cmd = procrun_cmd(piped);
        let mut reactor = Reactor::new().unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                reactor.spawn(&cmd).unwrap();
                assert_eq!(procrun_drain(&mut reactor), 1);
            })
        });
    }

    let mut cmd = std_cmd();
    group.bench_function("std_status", |b| {
        b.iter(|| assert!(cmd.status().unwrap().success()))
    });

    let rt = runtime();
    let mut cmd = tokio_cmd();
    group.bench_function("tokio_status", |b| {
        b.iter(|| rt.block_on(async { assert!(cmd.status().await.unwrap().success()) }))
    });
    group.finish();
}

fn concurrent<M: Measurement>(c: &mut Criterion<M>, name: &str) {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(BATCH as u64));

    let raw = RawSpawn::new();
    group.bench_function("raw_posix_spawn_waitpid", |b| {
        let mut pids = Vec::with_capacity(BATCH);
        b.iter(|| {
            pids.extend((0..BATCH).map(|_| raw.spawn()));
            for pid in pids.drain(..) {
                RawSpawn::reap(pid);
            }
        })
    });

    for (name, piped) in [("procrun_null", false), ("procrun_lines", true)] {
        let cmd = procrun_cmd(piped);
        let mut reactor = Reactor::new().unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                for _ in 0..BATCH {
                    reactor.spawn(&cmd).unwrap();
                }
                assert_eq!(procrun_drain(&mut reactor), BATCH);
            })
        });
    }

    let mut cmd = std_cmd();
    group.bench_function("std_spawn_wait", |b| {
        let mut children = Vec::with_capacity(BATCH);
        b.iter(|| {
            children.extend((0..BATCH).map(|_| cmd.spawn().unwrap()));
            for mut child in children.drain(..) {
                assert!(child.wait().unwrap().success());
            }
        })
    });

    let rt = runtime();
    let mut cmd = tokio_cmd();
    group.bench_function("tokio_spawn_wait", |b| {
        b.iter(|| {
            rt.block_on(async {
                let children: Vec<_> = (0..BATCH).map(|_| cmd.spawn().unwrap()).collect();
                for mut child in children {
                    assert!(child.wait().await.unwrap().success());
                }
            })
        })
    });
    group.finish();
}

fn wall(c: &mut Criterion) {
    sequential(c, "spawn_one_at_a_time");
    concurrent(c, "spawn_64_in_flight");
}

fn cpu(c: &mut Criterion<CpuTime>) {
    sequential(c, "spawn_cpu_one_at_a_time");
    concurrent(c, "spawn_cpu_64_in_flight");
}

criterion_group!(wall_clock, wall);
criterion_group! {
    name = cpu_time;
    config = Criterion::default().with_measurement(CpuTime);
    targets = cpu
}
criterion_main!(wall_clock, cpu_time);
