//! Soak of the handle API on a pool of two drivers: spawn/close cycles
//! from four threads at once, mixing normal exits, closes, timeouts,
//! restarts and scripts, then nothing may be left: the same fds, no
//! zombie, no member of any group procrun made, no script file, RSS back
//! within a small bound. `tests/soak.rs` does the same on one reactor.
//!
//! CI runs the short version; 10,000 cycles run with
//! `cargo test --release --test soak_pool -- --ignored`.

mod common;

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::path::Path;
use std::time::Duration;

use common::leftovers::{assert_nothing_left, open_fds};
use common::*;
use procrun::{set_drivers, Drivers, Process, Restart, Stream};

const THREADS: usize = 4;

/// One cycle of kind `n % 5`; returns the pid of every run, each the
/// leader of a group procrun made.
fn cycle(dir: &Path, n: usize) -> Vec<u32> {
    let b = Process::builder();
    let p = match n % 5 {
        0 => b.command(["sh", "-c", "echo out; echo err >&2; sleep 100 & exit 0"]),
        1 => b
            .command(["sleep", "100"])
            .grace(Duration::from_millis(100)),
        2 => b
            .command(["sleep", "100"])
            .timeout(Duration::from_millis(5)),
        3 => b
            .command(["sh", "-c", "exit 1"])
            .restart(Restart::on_error().limit(2).interval(Duration::ZERO)),
        _ => b
            .commands([vec![format!("echo script {n}")], vec!["true".into()]])
            .run_as_bash_script()
            .script_dir(dir),
    }
    .build()
    .unwrap();
    if n % 5 == 4 {
        let out = p.start_and_wait_combined(Some(WATCHDOG)).unwrap();
        assert_eq!(out.output, format!("script {n}\n").as_bytes());
    } else {
        p.start().unwrap();
    }
    match n % 5 {
        0 => {
            let mut lines: Vec<_> = p
                .lines()
                .unwrap()
                .map(|l| (l.stream == Stream::Stderr, l.to_string_lossy().into_owned()))
                .collect();
            // Two pipes: no order between them.
            lines.sort();
            assert_eq!(lines, [(false, "out".into()), (true, "err".into())]);
            assert!(p.wait().unwrap().success());
        }
        1 => {
            p.close().unwrap();
            assert!(p.last_exit().unwrap().stopped());
        }
        2 => assert!(p.wait().unwrap().timed_out()),
        3 => assert_eq!(p.wait().unwrap().restarts(), 2),
        _ => {}
    }
    p.close().unwrap();
    p.exits().map(|e| e.pid()).collect()
}

fn soak(cycles: usize) {
    set_drivers(Drivers::Count(NonZeroUsize::new(2).unwrap())).unwrap();
    let scripts = tempfile::tempdir().unwrap();
    // Warm up: the pool (both drivers, their epolls), allocator arenas.
    for n in 0..5 {
        cycle(scripts.path(), n);
    }
    let drivers = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.starts_with("procrun-drv-"))
        })
        .count();
    assert_eq!(drivers, 2, "driver threads");
    let fds = open_fds();
    let rss = rss_kib();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let dir = scripts.path().to_owned();
            std::thread::spawn(move || {
                (t..cycles)
                    .step_by(THREADS)
                    .flat_map(|n| cycle(&dir, n))
                    .collect::<Vec<u32>>()
            })
        })
        .collect();
    let mut groups = HashSet::new();
    for w in workers {
        groups.extend(w.join().unwrap());
    }
    assert_nothing_left(&fds, &groups, scripts.path(), rss, cycles);
}

#[test]
fn soak_pool_short() {
    soak(500);
}

#[test]
#[ignore = "10,000 cycles: cargo test --release --test soak_pool -- --ignored"]
fn soak_pool_ten_thousand_cycles() {
    soak(10_000);
}
