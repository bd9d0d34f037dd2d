//! How procrun uses more than one core, beside tokio's multi-thread runtime
//! and std threads given the same cores, at 1 and 2 cores (and every core
//! the machine has, when more):
//!
//! - `cores_spawn_reap/*/C`: 100 children of `true` per core, started at
//!   once and reaped, stdout and stderr piped and read to the end as an
//!   agent would. procrun runs one reactor per thread on C threads, each
//!   with its share of the children (the shape of the handle API's pool);
//!   tokio a task per child (`wait_with_output`) on a runtime of C
//!   workers; std either C threads each spawning its share and then
//!   waiting for each (`std_pool`), or a thread per child
//!   (`std_thread_per_child`). Throughput is children per second.
//! - `cores_lines/*/C`: two children per core, started and parked
//!   beforehand, are released together (through a FIFO) and each writes
//!   32 MiB of 64-byte lines to stdout; the time runs until every line is
//!   counted and every child reaped. procrun: one reactor per thread, each
//!   with two of the children, counting `Line` events; tokio on C workers, a
//!   task per pipe, either `BufReader::lines()` (`tokio_lines`) or 256 KiB
//!   reads and a memchr newline count (`tokio_chunks`); std a thread per
//!   child doing the same chunked count (`std_thread_per_child`), the best
//!   blocking reads can do. Throughput is bytes per second.
//!
//! "C cores" is enforced: before each case the bench confines itself to C
//! of the CPUs it may use (`sched_setaffinity`), and every thread and child
//! made for the case inherits that, the writers included; so at one core,
//! a thread per child gains nothing from a second core.
//!
//! Only stdout is piped in `cores_lines` (stderr goes to /dev/null for
//! all), so each variant reads exactly one pipe per child.

mod bare;
#[path = "common/harness.rs"]
mod harness;

use std::io::Read;
use std::process::Stdio;
use std::sync::{mpsc, Barrier};
use std::thread;
use std::time::Duration;

use bare::Fifo;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use harness::LINE;
use procrun::{Command, Output, Reactor};

const SPAWNS_PER_CORE: usize = 100;
const WRITERS_PER_CORE: usize = 2;
const BYTES_PER_WRITER: usize = 32 << 20;

/// The sizes of one run: under `cargo test` (no `--bench`), where criterion
/// runs each case once, one core and little work.
struct Plan {
    cpus: Vec<usize>,
    cores: Vec<usize>,
    spawns_per_core: usize,
    bytes_per_writer: usize,
}

fn main() {
    if harness::run_if_writer() {
        return;
    }
    bare::raise_nofile();
    let cpus = allowed_cpus();
    let plan = if std::env::args().any(|a| a == "--bench") {
        let all = cpus.len();
        let mut cores = vec![1, 2];
        if all > 2 {
            cores.push(all);
        }
        Plan {
            cpus,
            cores,
            spawns_per_core: SPAWNS_PER_CORE,
            bytes_per_writer: BYTES_PER_WRITER,
        }
    } else {
        Plan {
            cpus,
            cores: vec![1],
            spawns_per_core: 4,
            bytes_per_writer: 1 << 16,
        }
    };
    let mut c = Criterion::default().configure_from_args();
    spawn_reap(&mut c, &plan);
    lines(&mut c, &plan);
    c.final_summary();
}

/// The CPUs this process may run on when it starts.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: the set is plain data, zeroed as CPU_ZERO would; the call
    // writes at most `size_of` bytes into it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let r = libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set);
        assert_eq!(r, 0, "sched_getaffinity");
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

/// Confines the calling thread, and what it starts from now on, to the
/// first `n` of `cpus`.
fn confine(cpus: &[usize], n: usize) {
    // SAFETY: as in `allowed_cpus`; CPU_SET stays within CPU_SETSIZE, the
    // bound of the indices `allowed_cpus` returns.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus.iter().take(n) {
            libc::CPU_SET(c, &mut set);
        }
        let r = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        assert_eq!(r, 0, "sched_setaffinity");
    }
}

fn tokio_runtime(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime")
}

// ---------------------------------------------------------------- spawn

fn spawn_reap(c: &mut Criterion, plan: &Plan) {
    let mut group = c.benchmark_group("cores_spawn_reap");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    let per = plan.spawns_per_core;
    for &cores in &plan.cores {
        confine(&plan.cpus, cores);
        let n = cores * per;
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(
            BenchmarkId::new("procrun_reactor_per_thread", cores),
            &cores,
            |b, &cores| {
                let cmd = Command::new("true");
                b.iter(|| {
                    thread::scope(|s| {
                        let workers: Vec<_> = (0..cores)
                            .map(|_| {
                                s.spawn(|| {
                                    let mut reactor = Reactor::new().expect("reactor");
                                    for _ in 0..per {
                                        reactor.spawn(&cmd).expect("spawn");
                                    }
                                    harness::reactor_exits(&mut reactor)
                                })
                            })
                            .collect();
                        let exits: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
                        assert_eq!(exits, n);
                    })
                })
            },
        );
        let rt = tokio_runtime(cores);
        group.bench_with_input(BenchmarkId::new("tokio", cores), &cores, |b, _| {
            b.iter(|| {
                rt.block_on(async {
                    let tasks: Vec<_> = (0..n)
                        .map(|_| {
                            tokio::spawn(async {
                                tokio::process::Command::new("true")
                                    .stdin(Stdio::null())
                                    .stdout(Stdio::piped())
                                    .stderr(Stdio::piped())
                                    .spawn()
                                    .expect("spawn")
                                    .wait_with_output()
                                    .await
                            })
                        })
                        .collect();
                    for t in tasks {
                        assert!(t.await.expect("task").expect("wait").status.success());
                    }
                })
            })
        });
        drop(rt);
        let std_child = || {
            std::process::Command::new("true")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        };
        group.bench_with_input(BenchmarkId::new("std_pool", cores), &cores, |b, &cores| {
            b.iter(|| {
                thread::scope(|s| {
                    for _ in 0..cores {
                        s.spawn(|| {
                            let children: Vec<_> = (0..per).map(|_| std_child()).collect();
                            for child in children {
                                assert!(child.wait_with_output().expect("wait").status.success());
                            }
                        });
                    }
                })
            })
        });
        group.bench_with_input(
            BenchmarkId::new("std_thread_per_child", cores),
            &cores,
            |b, _| {
                b.iter(|| {
                    thread::scope(|s| {
                        for _ in 0..n {
                            s.spawn(|| {
                                let out = std_child().wait_with_output().expect("wait");
                                assert!(out.status.success());
                            });
                        }
                    })
                })
            },
        );
    }
    group.finish();
}

// ---------------------------------------------------------------- lines

fn lines(c: &mut Criterion, plan: &Plan) {
    let mut group = c.benchmark_group("cores_lines");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    let exe = std::env::current_exe().expect("current exe");
    let fifo = Fifo::new();
    let per = (plan.bytes_per_writer / LINE) * LINE;
    for &cores in &plan.cores {
        confine(&plan.cpus, cores);
        let n = cores * WRITERS_PER_CORE;
        let expected = n * per / LINE;
        group.throughput(Throughput::Bytes((n * per) as u64));

        group.bench_with_input(
            BenchmarkId::new("procrun_reactor_per_thread", cores),
            &cores,
            |b, &cores| {
                let mut cmd = harness::procrun_writer(&exe, &fifo, per);
                cmd.stderr(Output::Null);
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (pids_tx, pids_rx) = mpsc::channel();
                        let go = Barrier::new(cores + 1);
                        total += thread::scope(|s| {
                            let workers: Vec<_> = (0..cores)
                                .map(|_| {
                                    let (pids_tx, go, cmd) = (pids_tx.clone(), &go, &cmd);
                                    s.spawn(move || {
                                        let mut reactor = Reactor::new().expect("reactor");
                                        for _ in 0..WRITERS_PER_CORE {
                                            let id = reactor.spawn(cmd).expect("spawn");
                                            pids_tx.send(reactor.pid(id).expect("pid")).unwrap();
                                        }
                                        go.wait();
                                        harness::reactor_lines(&mut reactor)
                                    })
                                })
                                .collect();
                            pids_rx.iter().take(n).for_each(bare::wait_blocked_in_read);
                            go.wait();
                            harness::release_and_count(&fifo, n, expected, || {
                                workers.into_iter().map(|w| w.join().unwrap()).sum()
                            })
                        });
                    }
                    total
                })
            },
        );

        let rt = tokio_runtime(cores);
        for (name, chunks) in [("tokio_lines", false), ("tokio_chunks", true)] {
            group.bench_with_input(BenchmarkId::new(name, cores), &cores, |b, _| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (pids, tasks) =
                            harness::tokio_writers(&rt, &exe, &fifo, per, n, chunks);
                        pids.iter().for_each(|&p| bare::wait_blocked_in_read(p));
                        total += harness::release_and_count(&fifo, n, expected, || {
                            harness::tokio_sum(&rt, tasks)
                        });
                    }
                    total
                })
            });
        }
        drop(rt);

        group.bench_with_input(
            BenchmarkId::new("std_thread_per_child", cores),
            &cores,
            |b, _| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let readers: Vec<_> = (0..n)
                            .map(|_| {
                                let mut child =
                                    harness::std_writer(&exe, &fifo, per, Stdio::null())
                                        .spawn()
                                        .expect("spawn");
                                let pid = child.id();
                                let mut out = child.stdout.take().expect("stdout");
                                let h = thread::spawn(move || {
                                    let mut buf = vec![0u8; 256 * 1024];
                                    let mut count = 0;
                                    loop {
                                        match out.read(&mut buf).expect("read") {
                                            0 => break,
                                            k => {
                                                count +=
                                                    memchr::memchr_iter(b'\n', &buf[..k]).count()
                                            }
                                        }
                                    }
                                    assert!(child.wait().expect("wait").success());
                                    count
                                });
                                (pid, h)
                            })
                            .collect();
                        readers
                            .iter()
                            .for_each(|(p, _)| bare::wait_blocked_in_read(*p));
                        total += harness::release_and_count(&fifo, n, expected, || {
                            readers.into_iter().map(|(_, h)| h.join().unwrap()).sum()
                        });
                    }
                    total
                })
            },
        );
    }
    group.finish();
    confine(&plan.cpus, plan.cpus.len());
}
