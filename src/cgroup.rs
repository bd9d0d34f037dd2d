//! Containment helpers for runs started with
//! [`Command::cgroup`](crate::Command::cgroup): where cgroup v2 is mounted,
//! and cleaning up after an agent that died.
//!
//! Each contained run gets a cgroup named `procrun-<agent pid>-<n>` below
//! the parent given. A reactor removes every cgroup it made once it is
//! empty, with the cgroups the run made below it, and a dropped reactor
//! kills and removes what it still has; only an agent that dies without
//! dropping its reactor (killed, or crashed) leaves its cgroups, with
//! whatever processes are still in them. The next agent finds them by
//! name and ends them with [`kill_leftovers`].
//!
//! A stop of a contained run signals every process in its cgroup (a
//! daemon that called `setsid` included) and gives each the whole grace:
//! the run's child, dead of the stop signal, is reaped only once the
//! cgroup is empty or the grace ends, when `cgroup.kill` ends the rest.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::spawn::CGROUP_PREFIX;
use crate::sys::cgroup::{self, Cgroup};

/// Where the cgroup v2 hierarchy is mounted, read from
/// `/proc/self/mountinfo` (`/sys/fs/cgroup` on most hosts,
/// `/sys/fs/cgroup/unified` on a hybrid one); `None` when it is not.
///
/// # Examples
///
/// ```
/// if let Some(mount) = procrun::cgroup::mount_point() {
///     assert!(mount.is_absolute());
/// }
/// ```
pub fn mount_point() -> Option<PathBuf> {
    cgroup::mount_point()
}

/// Kills every process in the cgroups a dead procrun agent left below
/// `parent` (in the cgroups its runs made below those too), and removes
/// them all; returns the leftovers removed.
///
/// A leftover is a directory named `procrun-<pid>-…` whose `<pid>` is not
/// a live process. Cgroups of this process and of live agents (several
/// may share a parent) are left alone. A pid reused by an unrelated
/// process since the agent died hides its leftovers until that process
/// ends too.
///
/// # Errors
///
/// [`Error::NotCgroup2`] when `parent` is not a cgroup v2 directory;
/// [`Error::CgroupAccess`] when a leftover cannot be killed or removed
/// (the others are still handled first).
///
/// # Examples
///
/// ```no_run
/// let removed = procrun::cgroup::kill_leftovers("/sys/fs/cgroup/agent")?;
/// for dir in removed {
///     eprintln!("removed {}", dir.display());
/// }
/// # Ok::<(), procrun::Error>(())
/// ```
pub fn kill_leftovers(parent: impl AsRef<Path>) -> Result<Vec<PathBuf>> {
    let parent = parent.as_ref();
    if !cgroup::is_cgroup2(parent).unwrap_or(false) {
        return Err(Error::NotCgroup2 {
            path: parent.to_owned(),
            mount: cgroup::mount_point(),
        });
    }
    let access = |path: &Path, source| Error::CgroupAccess {
        path: path.to_owned(),
        source,
    };
    let me = std::process::id();
    let mut removed = Vec::new();
    let mut first_error = None;
    for (name, dir) in
        cgroup::children_named(parent, CGROUP_PREFIX).map_err(|e| access(parent, e))?
    {
        let Some(pid) = agent_pid(&name) else {
            continue;
        };
        if pid == me || cgroup::pid_alive(pid) {
            continue;
        }
        let r = Cgroup::open(dir.clone()).and_then(|c| {
            c.kill()?;
            if !c.wait_empty(std::time::Duration::from_secs(5)) {
                return Err(std::io::Error::from_raw_os_error(libc::EBUSY));
            }
            c.remove_settled()
        });
        match r {
            Ok(()) => removed.push(dir),
            Err(e) => {
                first_error.get_or_insert_with(|| access(&dir, e));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(removed),
    }
}

/// The agent pid in `procrun-<pid>-<n>`.
fn agent_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(CGROUP_PREFIX)?;
    let (pid, n) = rest.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::agent_pid;

    #[test]
    fn agent_pid_is_read_from_procrun_names_only() {
        assert_eq!(agent_pid("procrun-123-4"), Some(123));
        assert_eq!(agent_pid("procrun-123"), None);
        assert_eq!(agent_pid("procrun-x-4"), None);
        assert_eq!(agent_pid("other-123-4"), None);
        assert_eq!(agent_pid("procrun-test-1-2"), None);
    }
}
