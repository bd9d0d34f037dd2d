//! What a soak checks is left after it: this process's fds, and live
//! members of the process groups it made.

use std::collections::HashSet;

use procrun::procfs::{Procfs, State};

/// Where AddressSanitizer writes its reports (`log_path` in
/// `ASAN_OPTIONS`), if anywhere: the files it opens there are its own.
fn asan_log_path() -> Option<String> {
    let opts = std::env::var("ASAN_OPTIONS").ok()?;
    opts.split(':')
        .find_map(|o| o.strip_prefix("log_path="))
        .map(str::to_owned)
}

/// This process's open fds, each with what it points to.
///
/// Not the report file AddressSanitizer's runtime opens under its
/// `log_path`: under ASan a child started on procrun's own stack reports
/// that stack once per process (a warning), and while it still shares the
/// fd table (a spawn through a lane) the file it opens for that lands in
/// this process's table, and stays. It is ASan's, not procrun's.
pub fn open_fds() -> Vec<String> {
    let asan = asan_log_path();
    let mut fds: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .map(|e| {
            let target = std::fs::read_link(e.path()).unwrap_or_default();
            format!(
                "{} -> {}",
                e.file_name().to_string_lossy(),
                target.display()
            )
        })
        // The directory listing itself.
        .filter(|f| !f.ends_with("/fd"))
        .filter(|f| match &asan {
            Some(a) => !f.contains(&format!(" -> {a}.")),
            None => true,
        })
        .collect();
    fds.sort();
    fds
}

/// Processes still alive in any of `groups` (by /proc/PID/stat's pgrp), by
/// pid. Zombies are dead: orphans killed with their group wait there for
/// init to reap them, which is not procrun's to do. A task being released
/// (state X) shows its group as -1, which `pgrp()` does not give.
pub fn group_members(groups: &HashSet<u32>) -> Vec<u32> {
    let procs = Procfs::with_root("/proc").processes_by_state().unwrap();
    let mut left: Vec<u32> = procs
        .iter()
        .filter(|p| p.state() != State::Zombie)
        .filter(|p| p.pgrp().is_some_and(|g| groups.contains(&g)))
        .map(|p| p.pid())
        .collect();
    left.sort_unstable();
    left
}

/// Asserts that a soak left nothing behind: the same fds as `fds`, no
/// zombie, no live member of `groups`, no script file in `scripts`, and
/// RSS within 16 MiB of `rss_before` (KiB) after `cycles` cycles.
pub fn assert_nothing_left(
    fds: &[String],
    groups: &HashSet<u32>,
    scripts: &std::path::Path,
    rss_before: u64,
    cycles: usize,
) {
    assert_eq!(open_fds(), fds, "fds leaked");
    let w = rustix::process::wait(rustix::process::WaitOptions::NOHANG);
    assert_eq!(w.err(), Some(rustix::io::Errno::CHILD), "a zombie is left");
    assert_eq!(
        group_members(groups),
        Vec::<u32>::new(),
        "group members left"
    );
    assert!(
        std::fs::read_dir(scripts).unwrap().next().is_none(),
        "script file left"
    );
    let grown = super::rss_kib().saturating_sub(rss_before);
    assert!(
        grown < 16 * 1024,
        "RSS grew {grown} KiB over {cycles} cycles"
    );
}
