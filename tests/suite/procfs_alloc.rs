//! A scan allocates nothing per process beyond what its result keeps: the
//! allocations of each call are counted on fake trees of two sizes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fs;

use procrun::procfs::Procfs;

/// Counts the allocations of the current thread, so tests running on other
/// threads do not disturb a count.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter is a const-initialised thread local, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (ALLOCATIONS.with(Cell::get) - before, out)
}

fn tree(n: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap();
    for pid in 1..=n {
        let pid_dir = dir.path().join(pid.to_string());
        fs::create_dir(&pid_dir).unwrap();
        fs::write(pid_dir.join("stat"), format!("{pid} (proc{pid}) S 1 1\n")).unwrap();
        fs::write(pid_dir.join("comm"), format!("proc{pid}\n")).unwrap();
    }
    dir
}

#[test]
fn scans_allocate_per_process_only_what_the_result_keeps() {
    let (small, large) = (tree(100), tree(1000));
    let (small, large) = (
        Procfs::with_root(small.path()),
        Procfs::with_root(large.path()),
    );

    for (what, per_call) in [
        (
            "count_pids",
            (|p: &Procfs| assert!(p.count_pids().unwrap() >= 100)) as fn(&Procfs),
        ),
        ("is_running", |p| assert!(!p.is_running("absent").unwrap())),
        ("find_by_name", |p| {
            assert!(p.find_by_name("absent").unwrap().is_none())
        }),
    ] {
        let (a, ()) = allocations(|| per_call(&small));
        let (b, ()) = allocations(|| per_call(&large));
        assert_eq!(
            a, b,
            "{what}: as many allocations for 100 processes as for 1000"
        );
        assert!(a <= 4, "{what}: {a} allocations");
    }

    let (a, procs_a) = allocations(|| small.processes_by_state().unwrap());
    let (b, procs_b) = allocations(|| large.processes_by_state().unwrap());
    assert_eq!((procs_a.len(), procs_b.len()), (100, 1000));
    // One comm per process kept, plus the scan's buffers and the growth of
    // the result's vector.
    assert!(a <= 100 + 8, "100 processes: {a} allocations");
    assert!(b <= 1000 + 8, "1000 processes: {b} allocations");
}
