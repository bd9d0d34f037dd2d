//! Containment helpers for runs started with
//! [`Command::cgroup`](crate::Command::cgroup): where cgroup v2 is mounted,
//! the parent to use in a cgroup delegated to the agent
//! ([`delegated_parent`]), and cleaning up after an agent that died.
//!
//! Each contained run gets a cgroup named `procrun-<agent pid>-<n>` below
//! the parent given, made here (the name, the limits written before any
//! process is in it); the OS work is `sys::cgroup`'s, the watching of a
//! live run's cgroup the reactor's. A reactor removes every cgroup it made once it is
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

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::sys::cgroup::{self, Cgroup, Limits};

/// Where a contained run's cgroup is made, and what it may use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Containment {
    pub(crate) parent: PathBuf,
    pub(crate) limits: Limits,
}

/// What names a run's cgroup uniquely among all of this process's runs,
/// whichever reactor spawns them.
static CGROUP_SEQ: AtomicU64 = AtomicU64::new(0);

/// The prefix of every cgroup procrun makes; the agent's pid follows it,
/// so a later agent can tell its own from a dead one's.
pub(crate) const CGROUP_PREFIX: &str = "procrun-";

/// A new cgroup below the parent, named for this agent and a sequence
/// number (one taken by an earlier agent of the same pid is skipped), with
/// its limits written, and the directory open for the child to start in.
///
/// The parent's `cgroup.subtree_control` is read first: a limit whose
/// controller is not enabled there is refused before anything is made,
/// and an enabled memory controller means the run's end reports its OOM
/// kills and peak memory.
pub(crate) fn create_for_run(c: &Containment) -> Result<(Cgroup, OwnedFd)> {
    let parent = &c.parent;
    let controllers = match cgroup::subtree_controllers(parent) {
        Ok(text) => text,
        // Without limits the list only decides the memory report.
        Err(_) if !c.limits.any() => String::new(),
        Err(source) => {
            return Err(Error::CgroupAccess {
                path: parent.join("cgroup.subtree_control"),
                source,
            })
        }
    };
    let enabled = |name: &str| controllers.split_whitespace().any(|c| c == name);
    if let Some(controller) = c.limits.controllers().find(|c| !enabled(c)) {
        return Err(Error::ControllerNotEnabled {
            controller,
            parent: parent.clone(),
        });
    }
    let me = std::process::id();
    let (mut cgroup, handle) = loop {
        let n = CGROUP_SEQ.fetch_add(1, Ordering::Relaxed);
        match Cgroup::create(parent, &format!("{CGROUP_PREFIX}{me}-{n}")) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(source) => {
                return Err(Error::CgroupAccess {
                    path: parent.to_owned(),
                    source,
                })
            }
            Ok(made) => break made,
        }
    };
    if let Err((path, source)) = cgroup.set_limits(&c.limits, enabled("memory")) {
        // Nothing is in it yet.
        let _ = cgroup.remove();
        return Err(Error::CgroupAccess { path, source });
    }
    Ok((cgroup, handle))
}

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

/// The leaf below its delegated cgroup that
/// [`delegated_parent`] moves the agent into.
pub const AGENT_LEAF: &str = "agent";

/// Sets up containment for an agent whose cgroup was delegated to it (a
/// systemd unit with `Delegate=yes`, or `systemd-run --scope -p
/// Delegate=yes`), as systemd's delegation rules ask, and returns the
/// parent to give [`Command::cgroup`](crate::Command::cgroup).
///
/// It finds this process's own cgroup, moves the whole process into the
/// leaf [`AGENT_LEAF`] below it (made when missing), and enables there
/// every controller the cgroup has (`memory`, `pids`, `cpu` where the unit
/// got them), so that each run's cgroup, made beside that leaf, can take
/// limits. The move comes first: a cgroup with controllers enabled for its
/// children may hold no process of its own. Call it once, early, before
/// starting threads that must stay in the unit's own cgroup (all threads
/// move along). Calling it again finds the leaf and returns its parent.
///
/// # Errors
///
/// [`Error::NotCgroup2`] when cgroup v2 is not mounted;
/// [`Error::NotDelegated`] when this process is in the root cgroup, or
/// its cgroup carries no delegation mark (`trusted.delegate` or
/// `user.delegate`) and is not owned by its user (a root agent needs the
/// mark: systemd 251 and newer set it); [`Error::CgroupAccess`] when the
/// cgroup cannot be written (a read-only or foreign cgroup). Nothing is
/// changed by the first two.
///
/// # Examples
///
/// ```no_run
/// let parent = procrun::cgroup::delegated_parent()?;
/// let mut cmd = procrun::Command::new("make");
/// cmd.cgroup(&parent).memory_max(1 << 30);
/// # Ok::<(), procrun::Error>(())
/// ```
pub fn delegated_parent() -> Result<PathBuf> {
    let own = cgroup::own_cgroup()?.ok_or(Error::NotCgroup2 {
        path: PathBuf::from("/proc/self/cgroup"),
        mount: None,
    })?;
    let mount = cgroup::mount_point();
    // Already in the leaf: the cgroup above it is the parent.
    let dir = match own.file_name() {
        Some(name) if name == AGENT_LEAF => own.parent().unwrap_or(&own).to_owned(),
        _ => own,
    };
    if Some(&dir) == mount.as_ref() || !cgroup::is_delegated(&dir).unwrap_or(false) {
        return Err(Error::NotDelegated { path: dir });
    }
    cgroup::enter_leaf_and_enable(&dir, AGENT_LEAF).map_err(|source| Error::CgroupAccess {
        path: dir.clone(),
        source,
    })?;
    Ok(dir)
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
