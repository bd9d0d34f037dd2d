//! A cgroup v2 parent of a test's own, removed with all below it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A parent cgroup of the test's own; dropping it kills everything below
/// it and removes it all.
pub struct TestParent(PathBuf);

static NEXT: AtomicU32 = AtomicU32::new(0);

impl TestParent {
    pub fn new() -> Option<TestParent> {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root to make cgroups");
            return None;
        }
        let Some(mount) = procrun::cgroup::mount_point() else {
            eprintln!("skipped: no cgroup2 mounted");
            return None;
        };
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = mount.join(format!("procrun-test-{}-{n}", std::process::id()));
        if let Err(e) = std::fs::create_dir(&dir) {
            eprintln!("skipped: cannot make {dir:?}: {e}");
            return None;
        }
        Some(TestParent(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The cgroups below the parent.
    pub fn children(&self) -> Vec<PathBuf> {
        std::fs::read_dir(&self.0)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect()
    }
}

fn populated(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("cgroup.events"))
        .map(|s| s.lines().any(|l| l == "populated 1"))
        .unwrap_or(false)
}

/// Kills what is in `dir` and removes it, deepest first, with a watchdog.
fn kill_and_remove(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            kill_and_remove(&entry.path());
        }
    }
    let _ = std::fs::write(dir.join("cgroup.kill"), "1");
    let deadline = Instant::now() + super::slow(Duration::from_secs(10));
    while populated(dir) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    while std::fs::remove_dir(dir).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl Drop for TestParent {
    fn drop(&mut self) {
        kill_and_remove(&self.0);
    }
}
