//! How procrun scales with the number of children in flight, beside
//! tokio::process and the raw limit, at 1, 10, 100 and 1,000 children:
//!
//! - `scaling_spawn_reap/*/N`: start N children of `true` at once and wait
//!   for all of them. procrun and tokio supervise them as an agent would
//!   (stdout and stderr piped and read to the end: procrun's reactor; a
//!   task per child running `wait_with_output` on a current-thread tokio
//!   runtime). The raw limit is std's spawn (posix_spawn) with no pipes,
//!   then a blocking `wait` per child. Throughput is children per second.
//! - `scaling_lines/*/N`: N children, started and parked beforehand, are
//!   released together (through a FIFO) and each writes its share of 64-byte
//!   lines to stdout as fast as it can; the time runs until every line is
//!   counted and every child reaped. procrun's reactor beside tokio (a
//!   `BufReader::lines` task per pipe and a wait task) and the raw limit: a
//!   bare epoll + pidfd loop reading every pipe (enlarged to 1 MiB at spawn)
//!   into one 256 KiB buffer and counting newlines with memchr. Each child
//!   writes `max(64 MiB / N, 1 MiB)` bytes. Throughput is bytes per second.
//!   `walk_epoll_pidfd` is the same loop visiting every line (a memchr
//!   search per line, as any API that hands out lines must), where the raw
//!   loop counts newlines in one vectorised pass that never stops at a
//!   match: the two apart are what splitting alone costs, with no event.
//!
//! - `scaling_spawn_among_live/*/N`: one child of `true` at a time, spawned
//!   and reaped while N other children (`sleep`, stdout and stderr piped,
//!   as an agent's long-running services) stay up. Each live child holds
//!   a pidfd and its pipes in the supervisor's fd table, which a start
//!   that copies the table pays for at every spawn (the kernel takes a
//!   reference on each fd, and the exec drops them all again): procrun,
//!   whose children take only their stdio through a lane of the reactor's,
//!   beside tokio with N live children of its own, and std's spawn in the
//!   process of procrun's N, the raw floor of a start that copies the
//!   table. Throughput is children per second; N = 0 is the baseline.
//!   `scaling_cpu_spawn_among_live` is the same timed by CPU time (this
//!   process's and its reaped children's), which the machine's other load
//!   sways far less than the wall clock.
//!
//! The children of `scaling_lines` are this bench binary itself, re-run in
//! a writer mode chosen by environment variables, so every variant runs the
//! same writer.

mod bare;
#[path = "common/cpu_time.rs"]
mod cpu_time;
#[path = "common/harness.rs"]
mod harness;

use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Stdio;
use std::time::Duration;

use bare::{Epoll, Fifo};
use cpu_time::CpuTime;
use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use harness::LINE;
use procrun::{Command, Event, Reactor};

const COUNTS: [usize; 4] = [1, 10, 100, 1000];
/// Under `cargo test` (no `--bench`), where criterion runs each case once.
const TEST_COUNTS: [usize; 2] = [1, 10];
/// Children left running while `scaling_spawn_among_live` spawns.
const LIVE: [usize; 4] = [0, 100, 1000, 5000];
const TEST_LIVE: [usize; 2] = [0, 10];

fn main() {
    if harness::run_if_writer() {
        return;
    }
    bare::raise_nofile();
    let bench = std::env::args().any(|a| a == "--bench");
    let (counts, live): (&[usize], &[usize]) = match bench {
        true => (&COUNTS, &LIVE),
        false => (&TEST_COUNTS, &TEST_LIVE),
    };
    let mut c = Criterion::default().configure_from_args();
    spawn_reap(&mut c, counts);
    spawn_among_live(&mut c, "scaling_spawn_among_live", live);
    lines(&mut c, counts);
    c.final_summary();
    let mut cpu = Criterion::default()
        .with_measurement(CpuTime)
        .configure_from_args();
    spawn_among_live(&mut cpu, "scaling_cpu_spawn_among_live", live);
    cpu.final_summary();
}

fn per_child_bytes(n: usize) -> usize {
    let b = (64 << 20) / n;
    (b.max(1 << 20) / LINE) * LINE
}

// ---------------------------------------------------------------- spawn

fn spawn_reap(c: &mut Criterion, counts: &[usize]) {
    let mut group = c.benchmark_group("scaling_spawn_reap");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for &n in counts {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("procrun", n), &n, |b, &n| {
            let mut reactor = Reactor::new().expect("reactor");
            let cmd = Command::new("true");
            b.iter(|| {
                for _ in 0..n {
                    reactor.spawn(&cmd).expect("spawn");
                }
                assert_eq!(harness::reactor_exits(&mut reactor), n);
            })
        });
        group.bench_with_input(BenchmarkId::new("tokio", n), &n, |b, &n| {
            b.iter(|| {
                rt.block_on(async {
                    let tasks: Vec<_> = (0..n)
                        .map(|_| {
                            let child = tokio::process::Command::new("true")
                                .stdin(Stdio::null())
                                .stdout(Stdio::piped())
                                .stderr(Stdio::piped())
                                .spawn()
                                .expect("spawn");
                            tokio::spawn(child.wait_with_output())
                        })
                        .collect();
                    for t in tasks {
                        assert!(t.await.expect("task").expect("wait").status.success());
                    }
                })
            })
        });
        group.bench_with_input(BenchmarkId::new("raw_std_spawn_wait", n), &n, |b, &n| {
            b.iter(|| {
                let children: Vec<_> = (0..n)
                    .map(|_| {
                        std::process::Command::new("true")
                            .stdin(Stdio::null())
                            .stdout(Stdio::null())
                            .stderr(Stdio::null())
                            .spawn()
                            .expect("spawn")
                    })
                    .collect();
                for mut child in children {
                    assert!(child.wait().expect("wait").success());
                }
            })
        });
    }
    group.finish();
}

fn spawn_among_live<M: Measurement>(c: &mut Criterion<M>, name: &str, live: &[usize]) {
    let mut group = c.benchmark_group(name);
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .throughput(Throughput::Elements(1));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut sleeper = Command::new("sleep");
    sleeper.arg("3600");
    for &n in live {
        let mut reactor = Reactor::new().expect("reactor");
        for _ in 0..n {
            reactor.spawn(&sleeper).expect("spawn");
        }
        let cmd = Command::new("true");
        group.bench_with_input(BenchmarkId::new("procrun", n), &n, |b, _| {
            b.iter(|| {
                let id = reactor.spawn(&cmd).expect("spawn");
                let mut done = false;
                while !done {
                    reactor
                        .poll(None, |_, ev| match ev {
                            Event::Exited(e) => assert!(e.success()),
                            Event::Done { id: d, .. } => done |= d == id,
                            _ => {}
                        })
                        .expect("poll");
                }
            })
        });
        group.bench_with_input(BenchmarkId::new("raw_std_spawn_wait", n), &n, |b, _| {
            b.iter(|| {
                let status = std::process::Command::new("true")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .expect("spawn");
                assert!(status.success());
            })
        });
        // Killed and reaped: the next variant's table holds its own only.
        drop(reactor);

        let mut sleepers: Vec<_> = (0..n)
            .map(|_| {
                let _guard = rt.enter();
                tokio::process::Command::new("sleep")
                    .arg("3600")
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        group.bench_with_input(BenchmarkId::new("tokio", n), &n, |b, _| {
            b.iter(|| {
                rt.block_on(async {
                    let out = tokio::process::Command::new("true")
                        .stdin(Stdio::null())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .expect("spawn")
                        .wait_with_output()
                        .await
                        .expect("wait");
                    assert!(out.status.success());
                })
            })
        });
        rt.block_on(async {
            for s in &mut sleepers {
                s.kill().await.expect("kill");
            }
        });
    }
    group.finish();
}

// ---------------------------------------------------------------- lines

fn lines(c: &mut Criterion, counts: &[usize]) {
    let mut group = c.benchmark_group("scaling_lines");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    let exe = std::env::current_exe().expect("current exe");
    let fifo = Fifo::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for &n in counts {
        let per = per_child_bytes(n);
        let expected = n * per / LINE;
        group.throughput(Throughput::Bytes((n * per) as u64));

        group.bench_with_input(BenchmarkId::new("procrun", n), &n, |b, &n| {
            let mut reactor = Reactor::new().expect("reactor");
            let cmd = harness::procrun_writer(&exe, &fifo, per);
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let pids: Vec<u32> = (0..n)
                        .map(|_| {
                            let id = reactor.spawn(&cmd).expect("spawn");
                            reactor.pid(id).expect("pid")
                        })
                        .collect();
                    reactor.poll(Some(Duration::ZERO), |_, _| {}).expect("poll");
                    pids.iter().for_each(|&p| bare::wait_blocked_in_read(p));
                    total += harness::release_and_count(&fifo, n, expected, || {
                        harness::reactor_lines(&mut reactor)
                    });
                }
                total
            })
        });

        group.bench_with_input(BenchmarkId::new("tokio", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (pids, tasks) = rt.block_on(async {
                        let mut pids = Vec::with_capacity(n);
                        let mut tasks = Vec::with_capacity(3 * n);
                        for _ in 0..n {
                            let writer = harness::std_writer(&exe, &fifo, per, Stdio::piped());
                            let mut child = tokio::process::Command::from(writer)
                                .spawn()
                                .expect("spawn");
                            pids.push(child.id().expect("pid"));
                            let out = child.stdout.take().expect("stdout");
                            let err = child.stderr.take().expect("stderr");
                            tasks.push(tokio::spawn(harness::tokio_count_lines(out)));
                            tasks.push(tokio::spawn(harness::tokio_count_lines(err)));
                            tasks.push(tokio::spawn(async move {
                                assert!(child.wait().await.expect("wait").success());
                                0
                            }));
                        }
                        (pids, tasks)
                    });
                    pids.iter().for_each(|&p| bare::wait_blocked_in_read(p));
                    total += harness::release_and_count(&fifo, n, expected, || {
                        harness::tokio_sum(&rt, tasks)
                    });
                }
                total
            })
        });

        for (name, walk) in [("raw_epoll_pidfd", false), ("walk_epoll_pidfd", true)] {
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, &n| {
                let ep = Epoll::new();
                let mut events = bare::empty_events(1024);
                let mut buf = vec![0u8; 256 * 1024];
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let kids = raw_spawn(&ep, &exe, &fifo, per, n);
                        total += harness::release_and_count(&fifo, n, expected, || {
                            raw_drain(&ep, &mut events, &mut buf, kids, walk)
                        });
                    }
                    total
                })
            });
        }
    }
    group.finish();
}

/// Per child: its pidfd and the read ends of its stdout and stderr.
type RawKid = [Option<OwnedFd>; 3];

fn raw_spawn(ep: &Epoll, exe: &std::path::Path, fifo: &Fifo, per: usize, n: usize) -> Vec<RawKid> {
    let mut kids = Vec::with_capacity(n);
    let mut pids = Vec::with_capacity(n);
    for i in 0..n {
        let mut child = harness::std_writer(exe, fifo, per, Stdio::piped())
            .spawn()
            .expect("spawn");
        pids.push(child.id());
        let pidfd = bare::pidfd_open(child.id());
        let out = OwnedFd::from(child.stdout.take().expect("stdout"));
        let err = OwnedFd::from(child.stderr.take().expect("stderr"));
        // The pidfd reaps it.
        drop(child);
        // SAFETY: fcntl on a pipe fd we own, integer arguments only; a
        // refused size leaves the pipe as it was.
        unsafe { libc::fcntl(out.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
        let token = (i as u64) << 2;
        ep.add(pidfd.as_raw_fd(), token, false);
        for (k, fd) in [&out, &err].into_iter().enumerate() {
            bare::set_nonblocking(fd.as_raw_fd());
            ep.add(fd.as_raw_fd(), token | (k as u64 + 1), true);
        }
        kids.push([Some(pidfd), Some(out), Some(err)]);
    }
    pids.iter().for_each(|&p| bare::wait_blocked_in_read(p));
    kids
}

/// Reads every pipe to its end and reaps every child; returns the lines.
/// With `walk`, each line is visited (a line cut by a read boundary in two
/// pieces, which costs the same) rather than only counted.
fn raw_drain(
    ep: &Epoll,
    events: &mut [libc::epoll_event],
    buf: &mut [u8],
    mut kids: Vec<RawKid>,
    walk: bool,
) -> usize {
    let mut open = kids.len() * 3;
    let mut count = 0;
    let mut ready = Vec::with_capacity(events.len());
    while open > 0 {
        ready.clear();
        ready.extend(ep.wait(events, -1).iter().map(|e| e.u64));
        for &token in &ready {
            let (i, k) = ((token >> 2) as usize, (token & 3) as usize);
            let Some(fd) = kids[i][k].as_ref() else {
                continue;
            };
            if k == 0 {
                if bare::pidfd_reap(fd, false) {
                    ep.del(fd.as_raw_fd());
                    kids[i][0] = None;
                    open -= 1;
                }
                continue;
            }
            loop {
                match bare::read(fd.as_raw_fd(), buf) {
                    None => break,
                    Some(0) => {
                        ep.del(fd.as_raw_fd());
                        kids[i][k] = None;
                        open -= 1;
                        break;
                    }
                    Some(n) if walk => {
                        let mut start = 0;
                        for end in memchr::memchr_iter(b'\n', &buf[..n]) {
                            std::hint::black_box(&buf[start..end]);
                            start = end + 1;
                            count += 1;
                        }
                    }
                    Some(n) => count += memchr::memchr_iter(b'\n', &buf[..n]).count(),
                }
            }
        }
    }
    count
}
