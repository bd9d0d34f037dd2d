//! The handle API on a pool of two drivers: processes started from several
//! threads are spread over both, each one's output arrives whole and in
//! order, closes work, and no child is left.
//!
//! The pool is process-wide, so this binary runs every test on two
//! drivers (each test asks for them first; the same size again is fine).

mod close_races;
mod common;

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::Arc;

use close_races::{marked_children, with_watchdog, KillMarkedOnDrop};
use procrun::{set_drivers, Drivers, Error, Process};

fn two_drivers() {
    set_drivers(Drivers::Count(NonZeroUsize::new(2).unwrap())).unwrap();
}

/// The driver threads of this process (named `procrun-drv-N`), each with
/// the children it spawned, which /proc lists per thread.
fn driver_children() -> HashMap<String, HashSet<u32>> {
    let mut found = HashMap::new();
    for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        let comm = comm.trim_end();
        if !comm.starts_with("procrun-drv-") {
            continue;
        }
        let kids = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
        let kids = kids.split_whitespace().map(|p| p.parse().unwrap());
        found.insert(comm.to_owned(), kids.collect());
    }
    found
}

const THREADS: usize = 8;
const PER_THREAD: usize = 25;
const LINES: usize = 300;

/// Line `i` of process `p`: 64 bytes with its `\n`, so that a line cut or
/// glued to another shows.
fn line(p: usize, i: usize) -> String {
    format!("{p:03} {i:04} {}", "x".repeat(54))
}

#[test]
fn two_hundred_processes_from_eight_threads_spread_over_both_drivers() {
    const MARK: &str = "30.0415";
    two_drivers();
    let _cleanup = KillMarkedOnDrop(MARK);
    with_watchdog(|| {
        let starters: Vec<_> = (0..THREADS)
            .map(|t| {
                std::thread::spawn(move || {
                    let procs: Vec<(usize, Process)> = (0..PER_THREAD)
                        .map(|k| {
                            let n = t * PER_THREAD + k;
                            // The child stays up after its output, so the
                            // placement can be seen while all of them run.
                            let script = format!(
                                "awk 'BEGIN {{ for (i = 1; i <= {LINES}; i++) \
                                 printf \"%03d %04d %s\\n\", {n}, i, \"{}\" }}'; \
                                 exec sleep {MARK}",
                                "x".repeat(54)
                            );
                            let p = Process::builder()
                                .command(["sh", "-c", &script])
                                .build()
                                .unwrap();
                            p.start().unwrap();
                            (n, p)
                        })
                        .collect();
                    for (n, p) in &procs {
                        let mut out = p.stdout().unwrap();
                        for i in 1..=LINES {
                            let l = out.next_line_blocking().expect("a line");
                            assert!(!l.partial);
                            assert_eq!(l.to_string_lossy(), line(*n, i));
                        }
                    }
                    procs
                })
            })
            .collect();
        let procs: Vec<Arc<Process>> = starters
            .into_iter()
            .flat_map(|s| s.join().unwrap())
            .map(|(_, p)| Arc::new(p))
            .collect();
        let pids: HashSet<u32> = procs.iter().map(|p| p.pid().unwrap()).collect();
        assert_eq!(pids.len(), THREADS * PER_THREAD);

        let drivers = driver_children();
        assert_eq!(drivers.len(), 2, "driver threads: {:?}", drivers.keys());
        let mut placed = HashSet::new();
        for (name, kids) in &drivers {
            let mine: HashSet<u32> = kids.intersection(&pids).copied().collect();
            // Placed by load with all of them running: about half each.
            assert!(
                mine.len() >= pids.len() / 4,
                "{name} runs {} of {}",
                mine.len(),
                pids.len()
            );
            placed.extend(mine);
        }
        assert_eq!(placed, pids, "a child not spawned by a driver thread");

        let closers: Vec<_> = procs
            .chunks(PER_THREAD)
            .map(|chunk| {
                let chunk = chunk.to_vec();
                std::thread::spawn(move || {
                    for p in chunk {
                        p.close().unwrap();
                        assert!(p.last_exit().unwrap().stopped());
                    }
                })
            })
            .collect();
        for c in closers {
            c.join().unwrap();
        }
        // Every close returned after its reap: nothing of ours is left.
        assert_eq!(marked_children(MARK), Vec::<u32>::new());
        for kids in driver_children().values() {
            assert!(kids.is_disjoint(&pids), "a child left unreaped");
        }
    });
}

#[test]
fn the_pool_size_is_fixed_once_it_runs() {
    two_drivers();
    let p = Process::builder().command(["true"]).build().unwrap();
    p.start().unwrap();
    assert!(p.wait().unwrap().success());
    assert!(matches!(
        set_drivers(Drivers::Count(NonZeroUsize::new(3).unwrap())),
        Err(Error::DriversStarted { running: 2 })
    ));
    two_drivers();
    assert_eq!(driver_children().len(), 2);
}
