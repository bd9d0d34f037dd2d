//! procfs scans over the real /proc beside the `procfs` and `sysinfo`
//! crates doing the same job, and the by-name check beside running `pidof`.
//!
//! Two floors run in the same groups: the bare syscalls of a scan that opens
//! each file (`limit_open_read_close`: getdents, then openat/read/close per
//! pid, nothing parsed or kept), and one `pread` per process on descriptors
//! kept open between scans (`limit_pread_cached_fds`, the trick a reused
//! sysinfo `System` plays at the price of one open file per process).
//!
//! A few hundred sleeping children are started first so the host has the
//! process count of a busy node rather than of a bare build box.

use std::collections::HashMap;
use std::ffi::CStr;
use std::hint::black_box;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};

use criterion::{criterion_group, criterion_main, Criterion};
use procrun::procfs::Procfs;
use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};

/// Extra processes alive during the bench.
const POPULATION: usize = 400;

/// A name no process has, so every by-name check scans the whole table.
const ABSENT: &str = "procrun-absent";

/// Children killed and reaped on drop.
struct Population(Vec<Child>);

impl Population {
    fn spawn(n: usize) -> Population {
        let mut children = Vec::with_capacity(n);
        for _ in 0..n {
            children.push(
                Command::new("sleep")
                    .arg("100000")
                    .stdin(Stdio::null())
                    .spawn()
                    .expect("spawn sleep"),
            );
        }
        Population(children)
    }
}

impl Drop for Population {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
        }
        for child in &mut self.0 {
            let _ = child.wait();
        }
    }
}

fn open_proc() -> OwnedFd {
    rustix::fs::open(
        "/proc",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .expect("/proc")
}

/// The floor for a scan that opens each file: list /proc, then `openat`,
/// `read` and `close` `PID/<file>` for each pid, parsing and keeping nothing.
fn limit_open_read_close(file: &str) -> usize {
    let dir = open_proc();
    let mut dirents = Vec::with_capacity(32 * 1024);
    let mut listing = rustix::fs::RawDir::new(&dir, dirents.spare_capacity_mut());
    let mut buf = [0u8; 4096];
    let mut path = Vec::with_capacity(64);
    let mut total = 0;
    while let Some(entry) = listing.next() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_bytes();
        if name.is_empty() || !name.iter().all(u8::is_ascii_digit) {
            continue;
        }
        path.clear();
        path.extend_from_slice(name);
        path.push(b'/');
        path.extend_from_slice(file.as_bytes());
        path.push(0);
        let path = CStr::from_bytes_with_nul(&path).unwrap();
        let Ok(fd) = rustix::fs::openat(
            &dir,
            path,
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        ) else {
            continue;
        };
        total += rustix::io::read(&fd, &mut buf).unwrap_or(0);
    }
    total
}

/// The floor for a scan that keeps every stat file open between scans (as a
/// reused sysinfo `System` does): one `pread` per process.
fn limit_pread_cached(fds: &[OwnedFd]) -> usize {
    let mut buf = [0u8; 4096];
    fds.iter()
        .map(|fd| rustix::io::pread(fd, &mut buf, 0).unwrap_or(0))
        .sum()
}

fn open_all_stats() -> Vec<OwnedFd> {
    let dir = open_proc();
    let mut dirents: Vec<MaybeUninit<u8>> = Vec::with_capacity(32 * 1024);
    dirents.resize(32 * 1024, MaybeUninit::uninit());
    let mut listing = rustix::fs::RawDir::new(&dir, &mut dirents);
    let mut fds = Vec::new();
    while let Some(entry) = listing.next() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_bytes();
        if name.is_empty() || !name.iter().all(u8::is_ascii_digit) {
            continue;
        }
        let path = format!("{}/stat", String::from_utf8_lossy(name));
        if let Ok(fd) = rustix::fs::openat(
            &dir,
            path.as_str(),
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        ) {
            fds.push(fd);
        }
    }
    fds
}

fn procfs_crate_by_state() -> HashMap<char, Vec<(i32, String)>> {
    let mut groups: HashMap<char, Vec<(i32, String)>> = HashMap::new();
    for process in procfs::process::all_processes().expect("/proc") {
        let Ok(process) = process else { continue };
        let Ok(stat) = process.stat() else { continue };
        groups
            .entry(stat.state)
            .or_default()
            .push((stat.pid, stat.comm));
    }
    groups
}

fn sysinfo_by_state(system: &mut System) -> HashMap<sysinfo::ProcessStatus, Vec<(u32, String)>> {
    system.refresh_processes_specifics(
        ProcessesToUpdate::All,
        true,
        ProcessRefreshKind::nothing().without_tasks(),
    );
    let mut groups: HashMap<_, Vec<(u32, String)>> = HashMap::new();
    for (pid, process) in system.processes() {
        groups
            .entry(process.status())
            .or_default()
            .push((pid.as_u32(), process.name().to_string_lossy().into_owned()));
    }
    groups
}

fn by_state(c: &mut Criterion) {
    let procfs = Procfs::with_root("/proc");
    let mut group = c.benchmark_group("procfs_by_state");
    group.bench_function("procrun", |b| {
        b.iter(|| black_box(procfs.processes_by_state().unwrap()))
    });
    group.bench_function("procfs_crate", |b| {
        b.iter(|| black_box(procfs_crate_by_state()))
    });
    group.bench_function("sysinfo_new_system", |b| {
        b.iter(|| {
            let mut system = System::new();
            black_box(sysinfo_by_state(&mut system))
        })
    });
    let mut system = System::new();
    group.bench_function("sysinfo_reused_system", |b| {
        b.iter(|| black_box(sysinfo_by_state(&mut system).len()))
    });
    drop(system);
    group.bench_function("limit_open_read_close", |b| {
        b.iter(|| black_box(limit_open_read_close("stat")))
    });
    let fds = open_all_stats();
    group.bench_function("limit_pread_cached_fds", |b| {
        b.iter(|| black_box(limit_pread_cached(&fds)))
    });
    drop(fds);
    group.finish();
}

fn count_pids(c: &mut Criterion) {
    let procfs = Procfs::with_root("/proc");
    let mut group = c.benchmark_group("procfs_count_pids");
    group.bench_function("procrun", |b| {
        b.iter(|| black_box(procfs.count_pids().unwrap()))
    });
    group.bench_function("procfs_crate", |b| {
        b.iter(|| black_box(procfs::process::all_processes().unwrap().count()))
    });
    group.bench_function("std_read_dir", |b| {
        b.iter(|| {
            let count = std::fs::read_dir("/proc")
                .unwrap()
                .filter_map(Result::ok)
                .filter(|e| {
                    let name = e.file_name();
                    let name = name.as_encoded_bytes();
                    !name.is_empty() && name.iter().all(u8::is_ascii_digit)
                })
                .count();
            black_box(count)
        })
    });
    group.finish();
}

fn by_name(c: &mut Criterion) {
    let procfs = Procfs::with_root("/proc");
    let mut group = c.benchmark_group("procfs_is_running_absent");
    group.bench_function("procrun", |b| {
        b.iter(|| assert!(!procfs.is_running(black_box(ABSENT)).unwrap()))
    });
    group.bench_function("procrun_find_by_name", |b| {
        b.iter(|| assert!(procfs.find_by_name(black_box(ABSENT)).unwrap().is_none()))
    });
    group.bench_function("procfs_crate", |b| {
        b.iter(|| {
            let found = procfs::process::all_processes()
                .unwrap()
                .filter_map(Result::ok)
                .filter_map(|p| p.stat().ok())
                .any(|stat| stat.comm == ABSENT && stat.state != 'Z');
            assert!(!found)
        })
    });
    group.bench_function("limit_open_read_close_comm", |b| {
        b.iter(|| black_box(limit_open_read_close("comm")))
    });
    group.bench_function("pidof", |b| {
        b.iter(|| {
            let status = Command::new("pidof")
                .arg(ABSENT)
                .stdout(Stdio::null())
                .status()
                .expect("pidof");
            assert!(!status.success())
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let _population = Population::spawn(POPULATION);
    let procs = Procfs::with_root("/proc").count_pids().unwrap();
    eprintln!("procfs benches over {procs} processes ({POPULATION} of them sleeping children)");
    by_state(c);
    count_pids(c);
    by_name(c);
}

criterion_group!(procfs_benches, benches);
criterion_main!(procfs_benches);
