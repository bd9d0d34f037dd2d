//! cgroup v2 files: finding the mount, making and removing a run's cgroup,
//! reading `cgroup.events`, and killing or signalling every process in it.
//!
//! A cgroup is a directory of a `cgroup2` file system; the kernel's
//! interface is its files: `cgroup.procs` (write a pid to move it in, read
//! the members), `cgroup.events` (`populated 0|1`, with `EPOLLPRI` on each
//! change), `cgroup.kill` (5.14+: `SIGKILL` to every member, atomically
//! against forks) and `cgroup.freeze`.

use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::process::{self as rp, Pid, PidfdFlags, Signal};

/// `statfs` magic of a `cgroup2` file system.
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// Whether `dir` is a directory of a `cgroup2` file system.
pub(crate) fn is_cgroup2(dir: &Path) -> io::Result<bool> {
    let st = rustix::fs::statfs(dir)?;
    #[allow(clippy::unnecessary_cast)] // the field's type differs by libc
    Ok(st.f_type as i64 == CGROUP2_SUPER_MAGIC && dir.is_dir())
}

/// Where the `cgroup2` hierarchy is mounted, from `/proc/self/mountinfo`:
/// `/sys/fs/cgroup` on a unified host, `/sys/fs/cgroup/unified` on a hybrid
/// one, anywhere at all elsewhere.
pub(crate) fn mount_point() -> Option<PathBuf> {
    let info = fs::read("/proc/self/mountinfo").ok()?;
    info.split(|&b| b == b'\n').find_map(|line| {
        // `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS…] - FSTYPE SOURCE SUPER`
        let (left, right) = split_once(line, b" - ")?;
        if right.split(|&b| b == b' ').next()? != b"cgroup2" {
            return None;
        }
        let mount = left.split(|&b| b == b' ').nth(4)?;
        Some(PathBuf::from(OsStr::from_bytes(&unescape(mount))))
    })
}

fn split_once<'a>(s: &'a [u8], sep: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    let at = s.windows(sep.len()).position(|w| w == sep)?;
    Some((&s[..at], &s[at + sep.len()..]))
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let oct = s
            .get(i + 1..i + 4)
            .filter(|o| s[i] == b'\\' && o.iter().all(|b| (b'0'..=b'7').contains(b)));
        match oct {
            Some(o) => {
                out.push(o.iter().fold(0u8, |n, d| n.wrapping_mul(8) + (d - b'0')));
                i += 4;
            }
            None => {
                out.push(s[i]);
                i += 1;
            }
        }
    }
    out
}

/// Resource limits of a run's cgroup, as the kernel's files take them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Limits {
    /// `memory.max` in bytes.
    pub(crate) memory_max: Option<u64>,
    /// `pids.max`.
    pub(crate) pids_max: Option<u64>,
    /// `cpu.max`: the quota (`None` for `max`, no limit) and the period,
    /// in microseconds.
    pub(crate) cpu_max: Option<(Option<u64>, u64)>,
}

impl Limits {
    /// Whether any limit is set.
    pub(crate) fn any(&self) -> bool {
        *self != Limits::default()
    }

    /// The controllers these limits need, by the names the kernel lists in
    /// `cgroup.subtree_control`.
    pub(crate) fn controllers(&self) -> impl Iterator<Item = &'static str> {
        [
            self.memory_max.map(|_| "memory"),
            self.pids_max.map(|_| "pids"),
            self.cpu_max.map(|_| "cpu"),
        ]
        .into_iter()
        .flatten()
    }

    /// The files to write and what, in order. `memory.oom.group` makes an
    /// OOM kill take the whole run, as a stop does: a run with some of its
    /// processes killed at random is worse than one that ended.
    fn files(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(bytes) = self.memory_max {
            out.push(("memory.max", bytes.to_string()));
            out.push(("memory.oom.group", "1".to_owned()));
        }
        if let Some(n) = self.pids_max {
            out.push(("pids.max", n.to_string()));
        }
        if let Some((quota, period)) = self.cpu_max {
            let quota = quota.map_or_else(|| "max".to_owned(), |q| q.to_string());
            out.push(("cpu.max", format!("{quota} {period}")));
        }
        out
    }
}

/// The controllers enabled for the cgroups below `parent` (its
/// `cgroup.subtree_control`, such as `cpu memory pids`).
pub(crate) fn subtree_controllers(parent: &Path) -> io::Result<String> {
    fs::read_to_string(parent.join("cgroup.subtree_control"))
}

/// What the memory controller says of a run's cgroup at its end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MemoryReport {
    /// `oom_kill` of `memory.events`: processes the OOM killer ended.
    pub(crate) oom_kills: u64,
    /// `memory.peak` (5.19+): the most memory the cgroup used.
    pub(crate) peak: Option<u64>,
}

/// `memory.events`' `oom_kill` count; 0 when the line is absent.
fn oom_kills(events: &str) -> u64 {
    events
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// A cgroup procrun made for one run, open on its `cgroup.events`.
#[derive(Debug)]
pub(crate) struct Cgroup {
    dir: PathBuf,
    events: OwnedFd,
    /// The memory controller is enabled for it: its end is reported from
    /// `memory.events` and `memory.peak`.
    memory: bool,
}

impl Cgroup {
    /// Makes the directory `parent/name` and opens its files; also returns
    /// the directory itself open (`O_DIRECTORY`), the fd a child is started
    /// into (`CLONE_INTO_CGROUP`) or writes itself in through. Nothing is
    /// left behind on error.
    ///
    /// # Errors
    ///
    /// `AlreadyExists` when the name is taken; the OS error of `mkdir`
    /// (EACCES, EROFS …) or of an open otherwise.
    pub(crate) fn create(parent: &Path, name: &str) -> io::Result<(Cgroup, OwnedFd)> {
        let dir = parent.join(name);
        fs::DirBuilder::new().mode(0o755).create(&dir)?;
        let opened = (|| {
            let handle = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY)
                .open(&dir)?;
            let events = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(dir.join("cgroup.events"))?;
            Ok::<_, io::Error>((OwnedFd::from(handle), OwnedFd::from(events)))
        })();
        match opened {
            Ok((handle, events)) => Ok((
                Cgroup {
                    dir,
                    events,
                    memory: false,
                },
                handle,
            )),
            Err(e) => {
                let _ = fs::remove_dir(&dir);
                Err(e)
            }
        }
    }

    /// An existing cgroup (a leftover of an earlier agent).
    pub(crate) fn open(dir: PathBuf) -> io::Result<Cgroup> {
        let events = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(dir.join("cgroup.events"))?;
        Ok(Cgroup {
            dir,
            events: events.into(),
            memory: false,
        })
    }

    /// Writes `limits` into the cgroup's files, before any process is in
    /// it; `memory` says whether the memory controller is enabled for it
    /// (whether its end can be reported). On error the file that refused
    /// is named.
    pub(crate) fn set_limits(
        &mut self,
        limits: &Limits,
        memory: bool,
    ) -> Result<(), (PathBuf, io::Error)> {
        self.memory = memory;
        for (file, value) in limits.files() {
            let path = self.dir.join(file);
            fs::write(&path, value.as_bytes()).map_err(|e| (path, e))?;
        }
        Ok(())
    }

    /// What the memory controller says of the cgroup now, when it is
    /// enabled for it.
    pub(crate) fn memory_report(&self) -> Option<MemoryReport> {
        if !self.memory {
            return None;
        }
        let events = fs::read_to_string(self.dir.join("memory.events")).ok()?;
        let peak = fs::read_to_string(self.dir.join("memory.peak"))
            .ok()
            .and_then(|p| p.trim().parse().ok());
        Some(MemoryReport {
            oom_kills: oom_kills(&events),
            peak,
        })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The fd that raises `EPOLLPRI` whenever `populated` changes.
    pub(crate) fn events_fd(&self) -> &OwnedFd {
        &self.events
    }

    /// Whether any process is in the cgroup (or a cgroup below it). Reading
    /// also re-arms the fd's notification.
    pub(crate) fn populated(&self) -> io::Result<bool> {
        self.event(b"populated ")
    }

    /// Whether the cgroup is frozen: every process in it and in the
    /// cgroups below it stopped by the freezer (`frozen 1`, since 5.2; a
    /// change raises `EPOLLPRI` on the events fd, as `populated` does).
    pub(crate) fn frozen(&self) -> io::Result<bool> {
        self.event(b"frozen ")
    }

    /// The flag `key` of `cgroup.events` (`InvalidData` when the kernel
    /// has no such line).
    fn event(&self, key: &[u8]) -> io::Result<bool> {
        let mut buf = [0u8; 256];
        let n = rustix::io::pread(&self.events, &mut buf, 0)?;
        let text = &buf[..n];
        let line = text
            .split(|&b| b == b'\n')
            .find_map(|l| l.strip_prefix(key))
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidData))?;
        Ok(line != b"0")
    }

    /// `SIGKILL` to every process in the cgroup and the cgroups below it,
    /// forks in flight included: `cgroup.kill` where the kernel has it
    /// (5.14), else the cgroup is frozen (which freezes the cgroups below
    /// too: no member can fork, move or exit unseen then), every member of
    /// every cgroup of the subtree killed, and thawed. For callers that may
    /// block (up to a second, on a member stuck in the kernel); the reactor
    /// goes through [`start_kill`](Cgroup::start_kill) instead.
    pub(crate) fn kill(&self) -> io::Result<()> {
        match self.start_kill(cgroup_kill_allowed())? {
            true => Ok(()),
            false => self.kill_frozen_rounds(),
        }
    }

    /// Begins a kill of the whole cgroup without waiting: `cgroup.kill`
    /// (when `kill_file` and the kernel has it), which is the whole of it,
    /// and `Ok(true)`; else the cgroup is frozen and `Ok(false)`: the caller
    /// goes on with [`kill_round`](Cgroup::kill_round) once it is
    /// [`frozen`](Cgroup::frozen), then [`thaw`](Cgroup::thaw)s it.
    pub(crate) fn start_kill(&self, kill_file: bool) -> io::Result<bool> {
        if kill_file {
            match write_file(&self.dir.join("cgroup.kill"), b"1") {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                r => return r.map(|()| true),
            }
        }
        write_file(&self.dir.join("cgroup.freeze"), b"1")?;
        Ok(false)
    }

    /// One round of a frozen cgroup's kill: `SIGKILL` to every member
    /// listed; true when none was left. A frozen member still dies of
    /// `SIGKILL`, so each round empties the cgroup of what it listed, and
    /// it cannot exit and free its pid before the kill lands: the pid is
    /// still the member's. A fork that got past the freeze shows up in the
    /// next round.
    pub(crate) fn kill_round(&self) -> io::Result<bool> {
        let pids = self.pids()?;
        for &pid in &pids {
            let _ = rp::kill_process(pid, Signal::KILL);
        }
        Ok(pids.is_empty())
    }

    /// Ends a freeze (a frozen kill's last step).
    pub(crate) fn thaw(&self) -> io::Result<()> {
        write_file(&self.dir.join("cgroup.freeze"), b"0")
    }

    /// The freeze-and-kill fallback for kernels without `cgroup.kill`,
    /// blocking, whatever the kernel has (the tests of the fallback on a
    /// newer kernel).
    #[cfg(test)]
    pub(crate) fn kill_frozen(&self) -> io::Result<()> {
        write_file(&self.dir.join("cgroup.freeze"), b"1")?;
        self.kill_frozen_rounds()
    }

    /// Kill rounds on a cgroup just frozen, a millisecond apart, until it
    /// is empty, then the thaw. Bounded: a task stuck in the kernel (D
    /// state) must not hang the caller.
    fn kill_frozen_rounds(&self) -> io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(1);
        let r = loop {
            match self.kill_round() {
                Ok(false) if Instant::now() < deadline => {}
                Ok(_) => break Ok(()),
                Err(e) => break Err(e),
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let _ = self.thaw();
        r
    }

    /// The pids of the processes in the cgroup and in every cgroup below
    /// it (see [`subtree`]), each once.
    ///
    /// The lists are read one cgroup after the other: a member that moves
    /// from a cgroup not yet read to one already read while they are may
    /// be missed, unless the subtree is frozen. A cgroup below whose list
    /// cannot be read lists nobody: gone (the run removed it meanwhile),
    /// or threaded (its processes are listed by its domain, above it in
    /// the subtree).
    fn pids(&self) -> io::Result<Vec<Pid>> {
        let mut pids = procs(&self.dir)?;
        for below in subtree(&self.dir)?.iter().skip(1) {
            pids.extend(procs(below).unwrap_or_default());
        }
        // A member that moved while the lists were read may be in two.
        pids.sort_unstable_by_key(|p| p.as_raw_nonzero());
        pids.dedup();
        Ok(pids)
    }

    /// Sends `sig` to every process in the cgroup and in the cgroups below
    /// it (a stop's first signal, which must reach members that left the
    /// run's process group, or its cgroup for one the run made below it).
    ///
    /// The members are not pinned by anything, so each is taken by a pidfd
    /// first and the member list read again: a pidfd whose pid is still
    /// listed names a live member (a live process holds its pid alone),
    /// and one whose process died in between only fails to signal. A
    /// recycled pid is never hit. Kernels without pidfds are skipped: the
    /// `SIGKILL` at the end of the stop still reaches everyone.
    pub(crate) fn signal_each(&self, sig: i32) -> io::Result<()> {
        let Some(sig) = Signal::from_named_raw(sig) else {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        };
        let fds: Vec<(Pid, OwnedFd)> = self
            .pids()?
            .into_iter()
            .filter_map(|p| Some((p, rp::pidfd_open(p, PidfdFlags::empty()).ok()?)))
            .collect();
        let still = self.pids()?;
        for (pid, fd) in &fds {
            if still.contains(pid) {
                let _ = rp::pidfd_send_signal(fd, sig);
            }
        }
        Ok(())
    }

    /// Waits up to `limit` for the cgroup to be empty; true if it is.
    pub(crate) fn wait_empty(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            match self.populated() {
                Ok(false) => return true,
                Ok(true) => {}
                Err(_) => return false,
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let mut fds = [PollFd::new(&self.events, PollFlags::PRI)];
            let t = Timespec::try_from(left).unwrap_or(Timespec {
                tv_sec: 1,
                tv_nsec: 0,
            });
            let _ = poll(&mut fds, Some(&t));
        }
    }

    /// Removes the (empty) directory and the cgroups the run made below
    /// it: see [`remove_tree`].
    pub(crate) fn remove(&self) -> io::Result<()> {
        remove_tree(&self.dir)
    }

    /// [`remove`](Cgroup::remove) once the cgroup is empty, retried for a
    /// moment (about 100 ms) while rmdir says `EBUSY`: the kernel may still
    /// count a member that is being torn down. For callers that may block;
    /// the reactor retries on a timer instead.
    pub(crate) fn remove_settled(&self) -> io::Result<()> {
        let mut tries = 0;
        loop {
            match self.remove() {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(1));
                }
                r => return r,
            }
        }
    }
}

/// Whether `cgroup.kill` may be used: false when `PROCRUN_NO_CGROUP_KILL=1`
/// forces the freeze that kernels before 5.14 need (so the tests of
/// contained runs can be run on it on any kernel).
pub(crate) fn cgroup_kill_allowed() -> bool {
    !matches!(std::env::var_os("PROCRUN_NO_CGROUP_KILL"), Some(v) if v == "1")
}

/// `dir` and every cgroup below it, each before the cgroups below it.
///
/// A run may make cgroups of its own below the one procrun made for it
/// (container runtimes, `systemd-run` and build tools do), as deep as it
/// likes: the walk keeps a list rather than recursing, and holds no
/// directory open from one level to the next. A cgroup below that cannot
/// be listed (the run removed it meanwhile) has nothing below it as far as
/// the walk knows, and a directory of another file system mounted in the
/// tree is not the run's cgroup: it is not walked into.
fn subtree(dir: &Path) -> io::Result<Vec<PathBuf>> {
    use std::os::unix::fs::MetadataExt;
    let dev = fs::metadata(dir)?.dev();
    let mut out = vec![dir.to_owned()];
    let mut next = 0;
    while let Some(at) = out.get(next) {
        let listed = fs::read_dir(at);
        next += 1;
        let entries = match listed {
            Ok(entries) => entries,
            Err(e) if next == 1 => return Err(e),
            Err(_) => continue,
        };
        let below: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .filter(|p| fs::symlink_metadata(p).is_ok_and(|m| m.dev() == dev))
            .collect();
        out.extend(below);
    }
    Ok(out)
}

/// Writes `data` to the existing file `path` (`fs::write` without its
/// `O_CREAT`, which a cgroup directory refuses with EACCES even for a file
/// it simply does not have).
fn write_file(path: &Path, data: &[u8]) -> io::Result<()> {
    use std::io::Write;
    OpenOptions::new().write(true).open(path)?.write_all(data)
}

/// The pids in `dir`'s `cgroup.procs`.
fn procs(dir: &Path) -> io::Result<Vec<Pid>> {
    let text = fs::read(dir.join("cgroup.procs"))?;
    Ok(text
        .split(|&b| b == b'\n')
        .filter_map(|l| std::str::from_utf8(l).ok()?.parse::<i32>().ok())
        .filter_map(Pid::from_raw)
        .collect())
}

/// The procrun cgroups (names starting with `prefix`) directly below
/// `parent`.
pub(crate) fn children_named(parent: &Path, prefix: &str) -> io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(parent)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(prefix) && entry.file_type()?.is_dir() {
            out.push((name.to_owned(), entry.path()));
        }
    }
    Ok(out)
}

/// Whether a process `pid` exists (any process, not only a child).
pub(crate) fn pid_alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return false;
    };
    !matches!(rp::test_kill_process(pid), Err(rustix::io::Errno::SRCH))
}

/// Removes the (empty) cgroup `dir` and every cgroup below it (see
/// [`subtree`]), deepest first: rmdir of a cgroup with a cgroup below it
/// is `EBUSY`, so the other order could only fail. Every cgroup is tried;
/// the first error is returned (one below that stays makes `dir` stay
/// too). A cgroup below that is already gone is no error; `dir` gone is
/// `NotFound`.
fn remove_tree(dir: &Path) -> io::Result<()> {
    let mut first = None;
    for at in subtree(dir)?.iter().rev() {
        match fs::remove_dir(at) {
            Err(e) if at != dir && e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                first.get_or_insert(e);
            }
            Ok(()) => {}
        }
    }
    first.map_or(Ok(()), Err)
}

/// This process's cgroup v2 directory: the `0::` line of
/// `/proc/self/cgroup` below [`mount_point`]; `None` without cgroup2.
pub(crate) fn own_cgroup() -> io::Result<Option<PathBuf>> {
    let Some(mount) = mount_point() else {
        return Ok(None);
    };
    let text = fs::read_to_string("/proc/self/cgroup")?;
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|rel| mount.join(rel.trim_start_matches('/'))))
}

/// Whether `dir` was delegated to this process: it carries the mark
/// systemd puts on a `Delegate=yes` unit's cgroup (`trusted.delegate`,
/// readable by root, or `user.delegate`, since systemd 252), or it belongs
/// to this process's user when that is not root (systemd hands a
/// delegated cgroup of a `User=` unit to that user; root owns every
/// cgroup, so ownership says nothing for it).
pub(crate) fn is_delegated(dir: &Path) -> io::Result<bool> {
    for name in ["trusted.delegate", "user.delegate"] {
        let mut value = [0u8; 8];
        if let Ok(n) = rustix::fs::getxattr(dir, name, &mut value[..]) {
            if &value[..n] == b"1" {
                return Ok(true);
            }
        }
    }
    let owner = rustix::fs::stat(dir)?.st_uid;
    let me = rustix::process::geteuid();
    Ok(!me.is_root() && owner == me.as_raw())
}

/// Moves this whole process into `leaf` below `dir` (made when missing),
/// then enables in `dir` every controller `dir` has, for the cgroups its
/// runs will make beside that leaf: in that order, as a cgroup with
/// controllers enabled for its children may hold no process itself.
pub(crate) fn enter_leaf_and_enable(dir: &Path, leaf: &str) -> io::Result<()> {
    let leaf = dir.join(leaf);
    match fs::DirBuilder::new().mode(0o755).create(&leaf) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    // "0" is the writer itself: all its threads move with it.
    fs::write(leaf.join("cgroup.procs"), "0")?;
    let available = fs::read_to_string(dir.join("cgroup.controllers"))?;
    let enable: Vec<String> = available
        .split_whitespace()
        .map(|c| format!("+{c}"))
        .collect();
    if !enable.is_empty() {
        fs::write(dir.join("cgroup.subtree_control"), enable.join(" "))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fallback for kernels before 5.14 cannot be reached through
    /// `kill` on a newer one (the kernel has `cgroup.kill`), so it is
    /// driven directly: a member that forks in a loop is still emptied out.
    #[test]
    fn freezing_and_killing_empties_a_cgroup_without_cgroup_kill() {
        kill_a_forker_in("freeze", "", Cgroup::kill_frozen);
    }

    /// The freeze holds the whole subtree, and the members of every
    /// cgroup below are killed too, not only the cgroup's own.
    #[test]
    fn freezing_and_killing_empties_the_cgroups_below_too() {
        kill_a_forker_in("freeze-sub", "a/b/c", Cgroup::kill_frozen);
    }

    /// The kill the reactor drives without waiting on a kernel without
    /// `cgroup.kill`, step by step: the freeze, rounds of `SIGKILL` once
    /// `cgroup.events` says the subtree is frozen, the thaw.
    #[test]
    fn kill_rounds_once_frozen_empty_a_cgroup_and_those_below() {
        kill_a_forker_in("rounds-sub", "a/b", |cg| {
            if cg.start_kill(false)? {
                return Err(io::Error::other("killed without the freeze"));
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while !cg.frozen()? {
                if Instant::now() > deadline {
                    return Err(io::Error::other("never frozen"));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            while !cg.kill_round()? {
                if Instant::now() > deadline {
                    return Err(io::Error::other("members left after the rounds"));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            cg.thaw()
        });
    }

    /// `kill` as a drop calls it, through whichever way this kernel has:
    /// `cgroup.kill`, or the freeze on a kernel before 5.14 (the VM lane's
    /// old kernel).
    #[test]
    fn killing_empties_a_cgroup_and_those_below_on_this_kernel() {
        kill_a_forker_in("kill-sub", "a/b", Cgroup::kill);
    }

    /// Writing a file the kernel does not have says `NotFound`, which is
    /// how `kill` knows to fall back to the freeze: a plain `fs::write`
    /// would ask to create it, which a cgroup directory refuses with
    /// `PermissionDenied`.
    #[test]
    fn writing_a_cgroup_file_the_kernel_lacks_is_not_found() {
        let (true, Some(mount)) = (rp::geteuid().is_root(), mount_point()) else {
            eprintln!("skipped: needs root and a cgroup2 mount");
            return;
        };
        let name = format!("procrun-test-{}-lacks", std::process::id());
        let (cg, _) = Cgroup::create(&mount, &name).unwrap();
        let r = write_file(&cg.dir().join("cgroup.no-such-file"), b"1");
        let _ = cg.remove();
        assert_eq!(r.map_err(|e| e.kind()), Err(io::ErrorKind::NotFound));
    }

    /// Makes a cgroup and `sub` below it (`""`: the cgroup itself), puts a
    /// process that forks in a loop in `sub`, and empties the cgroup with
    /// `kill`.
    fn kill_a_forker_in(test: &str, sub: &str, kill: fn(&Cgroup) -> io::Result<()>) {
        let (true, Some(mount)) = (rp::geteuid().is_root(), mount_point()) else {
            eprintln!("skipped: needs root and a cgroup2 mount");
            return;
        };
        let name = format!("procrun-test-{}-{test}", std::process::id());
        let (cg, _) = Cgroup::create(&mount, &name).unwrap();
        let inner = cg.dir().join(sub);
        std::fs::create_dir_all(&inner).unwrap();
        let procs = std::fs::OpenOptions::new()
            .write(true)
            .open(inner.join("cgroup.procs"))
            .unwrap();
        // It forks only once moved in (told so on stdin): nothing it
        // starts may be left outside the cgroup.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "read _; while :; do sleep 1000 & done"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id().to_string();
        rustix::io::write(&procs, pid.as_bytes()).unwrap();
        drop(procs);
        {
            use std::io::Write;
            let mut go = child.stdin.take().unwrap();
            go.write_all(b"go\n").unwrap();
        }
        // Let it fork a few before the kill: a member list that grows
        // while it is read is the case the freeze is for.
        let deadline = Instant::now() + Duration::from_secs(10);
        while cg.pids().map_or(0, |p| p.len()) < 5 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let r = kill(&cg);
        let empty = cg.wait_empty(Duration::from_secs(10));
        if !empty {
            // What `kill` missed, by both ways: the test must not hang on
            // the forker it failed to end.
            let _ = cg.kill_frozen();
            let _ = child.kill();
            cg.wait_empty(Duration::from_secs(10));
        }
        let _ = child.wait();
        let _ = cg.remove();
        r.unwrap();
        assert!(empty, "the cgroup kept members");
        assert!(!cg.dir().exists());
    }

    /// The files and values written for each limit, checked in a plain
    /// directory standing in for a cgroup (the machine's controllers may
    /// not allow the real thing).
    #[test]
    fn limits_are_written_as_the_kernel_reads_them() {
        let tmp = tempfile::tempdir().unwrap();
        let events = std::fs::File::open(tmp.path()).unwrap();
        let mut cg = Cgroup {
            dir: tmp.path().to_owned(),
            events: events.into(),
            memory: false,
        };
        let limits = Limits {
            memory_max: Some(512 << 20),
            pids_max: Some(64),
            cpu_max: Some((Some(50_000), 100_000)),
        };
        assert_eq!(
            limits.controllers().collect::<Vec<_>>(),
            ["memory", "pids", "cpu"]
        );
        cg.set_limits(&limits, true).unwrap();
        let read = |f: &str| std::fs::read_to_string(tmp.path().join(f)).unwrap();
        assert_eq!(read("memory.max"), "536870912");
        assert_eq!(read("memory.oom.group"), "1");
        assert_eq!(read("pids.max"), "64");
        assert_eq!(read("cpu.max"), "50000 100000");
        let unlimited = Limits {
            cpu_max: Some((None, 100_000)),
            ..Limits::default()
        };
        cg.set_limits(&unlimited, true).unwrap();
        assert_eq!(read("cpu.max"), "max 100000");
        assert!(!Limits::default().any() && unlimited.any());

        // Its end, from the files the memory controller keeps.
        std::fs::write(
            tmp.path().join("memory.events"),
            "low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\noom_group_kill 1\n",
        )
        .unwrap();
        std::fs::write(tmp.path().join("memory.peak"), "1048576\n").unwrap();
        assert_eq!(
            cg.memory_report(),
            Some(MemoryReport {
                oom_kills: 2,
                peak: Some(1 << 20)
            })
        );
        // Before 5.19 there is no `memory.peak`.
        std::fs::remove_file(tmp.path().join("memory.peak")).unwrap();
        assert_eq!(cg.memory_report().unwrap().peak, None);
        cg.memory = false;
        assert_eq!(cg.memory_report(), None);
    }

    #[test]
    fn a_refused_limit_names_its_file() {
        let tmp = tempfile::tempdir().unwrap();
        let events = std::fs::File::open(tmp.path()).unwrap();
        let mut cg = Cgroup {
            dir: tmp.path().join("gone"),
            events: events.into(),
            memory: false,
        };
        let limits = Limits {
            pids_max: Some(1),
            ..Limits::default()
        };
        let (path, e) = cg.set_limits(&limits, false).unwrap_err();
        assert_eq!(path, tmp.path().join("gone/pids.max"));
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape(br"/a\040b\134c"), b"/a b\\c");
        assert_eq!(unescape(br"/plain"), b"/plain");
        assert_eq!(unescape(br"\04"), br"\04");
    }
}
