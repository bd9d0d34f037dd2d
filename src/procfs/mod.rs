//! The host's processes seen through `/proc`: how many there are, which
//! state each is in, whether one of a given name runs.
//!
//! A host agent scans these every minute or so: zombies pile up under a
//! parent that does not reap, processes stuck in uninterruptible sleep
//! ([`State::DiskSleep`], `D`) point to a wedged driver, and a daemon that is
//! not running is the first thing to report.
//!
//! | gpud `pkg/process` | here |
//! | --- | --- |
//! | `CountRunningPids` | [`Procfs::count_pids`], [`count_pids`] |
//! | `CountProcessesByStatus`, `ProcessStatus` | [`Procfs::processes_by_state`] → [`ByState`] of [`ProcessEntry`] |
//! | `FindProcessByName` | [`Procfs::find_by_name`] |
//! | `ReadComm` | [`Procfs::read_comm`] |
//! | `CheckRunningByPid(name)` (runs `pidof`) | [`Procfs::is_running`]: a scan, no program run |
//! | `HOST_PROC` | [`Procfs::new`] honours it; [`Procfs::with_root`] takes a root |
//!
//! Only `/proc/PID/stat` and `/proc/PID/comm` are read, never
//! `/proc/PID/cmdline`: reading a process's command line takes its mmap
//! lock, and a process stuck in `D` state holding that lock hangs the reader
//! (and with it the agent meant to report the stuck process).
//!
//! A scan lists the root with `getdents64` into one buffer and reads each
//! `PID/stat` with one `openat`, one `fstat` and one `read` into one reused
//! buffer, relative to the root's descriptor; nothing is allocated per process
//! except what the result keeps (the comm of each [`ProcessEntry`]). The
//! by-name checks read `PID/comm` instead, which the kernel writes in about
//! half the time, and the stat file of a match only. The kernel's work
//! (path lookup, writing the stat line) is most of a scan's cost: about
//! 5–9 µs a process, so a scan of 500 processes takes a few milliseconds.
//!
//! # Examples
//!
//! ```
//! use procrun::procfs::{Procfs, State};
//!
//! let procfs = Procfs::with_root("/proc");
//! assert!(procfs.count_pids()? > 0);
//!
//! let procs = procfs.processes_by_state()?;
//! let stuck = procs.count(State::DiskSleep);
//! let zombies = procs.count(State::Zombie);
//! assert!(stuck + zombies <= procs.len());
//!
//! let me = procfs.read_comm(std::process::id())?;
//! assert!(procfs.is_running(&me)?);
//! assert_eq!(procfs.find_by_name(&me)?.map(|p| p.comm().contains(&me)), Some(true));
//! # Ok::<(), procrun::Error>(())
//! ```
//!
//! # Caveats
//!
//! - A scan is not a snapshot: processes start and exit while it runs. One
//!   that exits between the listing and the read of its stat file is left
//!   out silently; one whose stat file cannot be read for lack of permission
//!   is left out and counted ([`ByState::unreadable`]).
//! - A root other than the kernel's `/proc` is untrusted input: a process
//!   whose `stat` or `comm` is not a regular file (a FIFO that would block
//!   a read, a directory) is treated as malformed, left out and, for
//!   `stat` in a scan, counted ([`ByState::malformed`]); nothing waits on it.
//! - Only processes are listed, not their threads (procfs lists thread-group
//!   leaders only); a state is the state of the leader thread.
//! - A comm is what the kernel keeps: the first 15 bytes of the program's
//!   file name, or whatever the process set with `PR_SET_NAME`. `pidof`
//!   also matches the base name of `argv[0]`, which needs the command line;
//!   [`Procfs::is_running`] matches the comm only.
//! - A pid may be reused by a new process as soon as the old one is reaped.

mod groups;
mod model;
mod parse;
mod scan;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub(crate) use groups::groups_alive;
pub use model::{ByState, ProcessEntry, State};

use crate::error::{Error, Result};
use crate::sys::procfs as os;
use scan::{Scan, COMM, DIRENT_BUF, STAT};

/// The environment variable naming an alternate procfs root, as gpud (and
/// gopsutil) honour it: a host's `/proc` mounted into a container, say.
pub const HOST_PROC: &str = "HOST_PROC";

/// The procfs root used when [`HOST_PROC`] is unset or empty.
pub const DEFAULT_ROOT: &str = "/proc";

/// Room for one stat or comm file. A kernel stat line is under 1 KiB (52
/// numbers and a comm of at most 64 bytes); anything past this is not read.
const FILE_BUF: usize = 4096;

/// A procfs root to inspect processes under.
///
/// Cheap to make and to clone (it holds the root path only); each call
/// opens, reads and closes what it needs.
///
/// # Examples
///
/// ```
/// use procrun::procfs::Procfs;
///
/// assert_eq!(Procfs::with_root("/host/proc").root(), std::path::Path::new("/host/proc"));
/// # Ok::<(), procrun::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Procfs {
    root: PathBuf,
}

impl Default for Procfs {
    fn default() -> Procfs {
        Procfs::new()
    }
}

impl Procfs {
    /// The root named by the [`HOST_PROC`] environment variable if it is set
    /// and not empty, else [`DEFAULT_ROOT`] (`/proc`).
    pub fn new() -> Procfs {
        Procfs::with_root(root_from_env(std::env::var_os(HOST_PROC)))
    }

    /// An explicit procfs root (a host's `/proc` bind-mounted elsewhere, or
    /// a tree written for a test).
    pub fn with_root(root: impl Into<PathBuf>) -> Procfs {
        Procfs { root: root.into() }
    }

    /// The procfs root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The number of processes: the numeric directories under the root
    /// (gpud's `CountRunningPids`). Threads are not counted.
    ///
    /// Only the root is listed; no process's files are read.
    ///
    /// # Errors
    ///
    /// [`Error::Procfs`] if the root cannot be opened or listed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(procrun::procfs::Procfs::with_root("/proc").count_pids()? >= 1);
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn count_pids(&self) -> Result<usize> {
        let mut dirents = Vec::with_capacity(DIRENT_BUF);
        let mut scan = Scan::new(&self.root, &mut dirents)?;
        let mut count = 0;
        while scan.next()?.is_some() {
            count += 1;
        }
        Ok(count)
    }

    /// Every process with its comm and state, grouped by state (gpud's
    /// `CountProcessesByStatus`).
    ///
    /// Processes that exit during the scan are left out; those whose stat
    /// file cannot be read (permissions) or is malformed are left out and
    /// counted ([`ByState::unreadable`], [`ByState::malformed`]).
    ///
    /// # Errors
    ///
    /// [`Error::Procfs`] if the root cannot be opened or listed, or a stat
    /// file fails to read for a reason other than the process being gone or
    /// permissions (out of file descriptors, say).
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::procfs::{Procfs, State};
    ///
    /// let procs = Procfs::with_root("/proc").processes_by_state()?;
    /// for (state, group) in procs.groups() {
    ///     assert!(group.iter().all(|p| p.state() == state));
    /// }
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn processes_by_state(&self) -> Result<ByState> {
        let mut dirents = Vec::with_capacity(DIRENT_BUF);
        let mut scan = Scan::new(&self.root, &mut dirents)?;
        let mut buf = [0u8; FILE_BUF];
        let mut entries = Vec::with_capacity(256);
        while let Some(pid) = scan.next()? {
            let Some(stat) = scan.read(&pid, STAT, &mut buf)? else {
                continue;
            };
            match parse::parse_stat(stat) {
                Ok(stat) => entries.push(ProcessEntry::from_stat(pid.pid(), &stat)),
                Err(_) => scan.count_malformed(),
            }
        }
        Ok(ByState::new(entries, scan.unreadable(), scan.malformed()))
    }

    /// The first process, in the root's listing order (by pid for the
    /// kernel's procfs), whose comm contains `name` (gpud's
    /// `FindProcessByName`), or `None`.
    ///
    /// Any state matches, zombies included: look at
    /// [`ProcessEntry::state`]. An empty `name` matches the first process.
    /// Each process's `comm` file is read, and the `stat` file of a match.
    ///
    /// # Errors
    ///
    /// As [`processes_by_state`](Procfs::processes_by_state).
    ///
    /// # Examples
    ///
    /// ```
    /// let procfs = procrun::procfs::Procfs::with_root("/proc");
    /// let me = procfs.read_comm(std::process::id())?;
    /// let found = procfs.find_by_name(&me)?.expect("this process runs");
    /// assert!(found.comm().contains(&me));
    /// assert_eq!(procfs.find_by_name("no process is called this")?, None);
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn find_by_name(&self, name: &str) -> Result<Option<ProcessEntry>> {
        let finder = memchr::memmem::Finder::new(name.as_bytes());
        self.first_by_comm(|comm| finder.find(comm).is_some(), |_| true)
    }

    /// Whether a process called exactly `name` runs: what gpud's
    /// `CheckRunningByPid` asks `pidof`, answered by a scan with no program
    /// run.
    ///
    /// The comm must equal `name`, or, for a name longer than the 15 bytes
    /// the kernel keeps, equal its first 15 bytes (`nvidia-persistenced`
    /// runs as `nvidia-persiste`), as `pidof` matches. Unlike `pidof`:
    /// zombies and dead processes do not count as running, and the base name
    /// of `argv[0]` is not looked at (that needs `/proc/PID/cmdline`). An
    /// empty name matches nothing. Each process's `comm` file is read, and
    /// the `stat` file of a match.
    ///
    /// # Errors
    ///
    /// As [`processes_by_state`](Procfs::processes_by_state).
    ///
    /// # Examples
    ///
    /// ```
    /// let procfs = procrun::procfs::Procfs::with_root("/proc");
    /// let me = procfs.read_comm(std::process::id())?;
    /// assert!(procfs.is_running(&me)?);
    /// assert!(!procfs.is_running("no process is called this")?);
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn is_running(&self, name: &str) -> Result<bool> {
        if name.is_empty() {
            return Ok(false);
        }
        let running = self.first_by_comm(
            |comm| parse::comm_is_name(comm, name.as_bytes()),
            |state| state != State::Zombie && state != State::Dead,
        )?;
        Ok(running.is_some())
    }

    /// The comm of process `pid`, from `/proc/PID/comm` without its trailing
    /// newline, decoded lossily (gpud's `ReadComm`).
    ///
    /// # Errors
    ///
    /// [`Error::Procfs`] if the file cannot be read; its source is
    /// [`std::io::ErrorKind::NotFound`] when no such process exists, and
    /// [`std::io::ErrorKind::InvalidData`] when the file is not a regular
    /// file (a FIFO, a directory) under a root that is not the kernel's.
    ///
    /// # Examples
    ///
    /// ```
    /// let procfs = procrun::procfs::Procfs::with_root("/proc");
    /// assert!(!procfs.read_comm(std::process::id())?.is_empty());
    /// assert!(procfs.read_comm(u32::MAX).is_err());
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn read_comm(&self, pid: u32) -> Result<String> {
        let mut buf = [0u8; FILE_BUF];
        let (_, len) = self.read_pid_file(pid, "comm", &mut buf)?;
        Ok(String::from_utf8_lossy(parse::comm_file(&buf[..len])).into_owned())
    }

    /// Process `pid` as a scan would see it, from `/proc/PID/stat`.
    ///
    /// Any pid procfs answers for can be asked, thread ids included (procfs
    /// does not list them, but serves them).
    ///
    /// # Errors
    ///
    /// [`Error::Procfs`] if the file cannot be read (its source is
    /// [`std::io::ErrorKind::NotFound`] when no such process exists);
    /// [`Error::ProcStat`] if it does not have the kernel's shape or is not
    /// a regular file.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::procfs::{Procfs, State};
    ///
    /// let init = Procfs::with_root("/proc").process(1)?;
    /// assert_eq!(init.pid(), 1);
    /// assert_ne!(init.state(), State::Zombie);
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn process(&self, pid: u32) -> Result<ProcessEntry> {
        let mut buf = [0u8; FILE_BUF];
        let (path, len) = match self.read_pid_file(pid, "stat", &mut buf) {
            Err(Error::Procfs { path, source }) if os::is_not_regular(&source) => {
                return Err(Error::ProcStat {
                    path,
                    reason: os::NOT_REGULAR,
                })
            }
            other => other?,
        };
        let stat = parse::parse_stat(&buf[..len]).map_err(|reason| Error::ProcStat {
            path: path.clone(),
            reason,
        })?;
        Ok(ProcessEntry::from_stat(pid, &stat))
    }

    /// Reads `ROOT/PID/FILE`, returning its path (for errors) and length.
    fn read_pid_file(&self, pid: u32, file: &str, buf: &mut [u8]) -> Result<(PathBuf, usize)> {
        let path = self.root.join(pid.to_string()).join(file);
        match os::read_path(&path, buf) {
            Ok(len) => Ok((path, len)),
            Err(e) => Err(scan::io_error(&path, e)),
        }
    }

    /// The first process whose comm `matches` and whose state is `accepted`.
    ///
    /// Reads each `PID/comm` (the kernel writes it in about half the time
    /// of `PID/stat`), and the stat file of a process whose comm matches.
    fn first_by_comm(
        &self,
        matches: impl Fn(&[u8]) -> bool,
        accepted: impl Fn(State) -> bool,
    ) -> Result<Option<ProcessEntry>> {
        let mut dirents = Vec::with_capacity(DIRENT_BUF);
        let mut scan = Scan::new(&self.root, &mut dirents)?;
        let mut buf = [0u8; FILE_BUF];
        while let Some(pid) = scan.next()? {
            match scan.read(&pid, COMM, &mut buf)? {
                Some(comm) if matches(parse::comm_file(comm)) => {}
                _ => continue,
            }
            let Some(stat) = scan.read(&pid, STAT, &mut buf)? else {
                continue;
            };
            let Ok(stat) = parse::parse_stat(stat) else {
                continue;
            };
            let state = State::from_letter(stat.state);
            // The comm is checked again: the process may have renamed itself
            // between the two reads.
            if matches(stat.comm) && accepted(state) {
                return Ok(Some(ProcessEntry::from_stat(pid.pid(), &stat)));
            }
        }
        Ok(None)
    }
}

/// The root for a value of [`HOST_PROC`]: the value if set and not empty.
fn root_from_env(value: Option<OsString>) -> PathBuf {
    match value {
        Some(root) if !root.is_empty() => PathBuf::from(root),
        _ => PathBuf::from(DEFAULT_ROOT),
    }
}

/// [`Procfs::count_pids`] under the default root ([`Procfs::new`]).
///
/// # Errors
///
/// As [`Procfs::count_pids`].
///
/// # Examples
///
/// ```
/// // This process is one of them.
/// assert!(procrun::procfs::count_pids()? >= 1);
/// # Ok::<(), procrun::Error>(())
/// ```
pub fn count_pids() -> Result<usize> {
    Procfs::new().count_pids()
}

/// [`Procfs::processes_by_state`] under the default root ([`Procfs::new`]).
///
/// # Errors
///
/// As [`Procfs::processes_by_state`].
///
/// # Examples
///
/// ```
/// use procrun::procfs::{self, State};
///
/// let procs = procfs::processes_by_state()?;
/// // This process is among them, and alive.
/// let me = procs.iter().find(|p| p.pid() == std::process::id());
/// assert!(me.is_some_and(|p| p.state() != State::Zombie));
/// assert_eq!(procs.groups().map(|(_, g)| g.len()).sum::<usize>(), procs.len());
/// # Ok::<(), procrun::Error>(())
/// ```
pub fn processes_by_state() -> Result<ByState> {
    Procfs::new().processes_by_state()
}

/// [`Procfs::find_by_name`] under the default root ([`Procfs::new`]).
///
/// # Errors
///
/// As [`Procfs::find_by_name`].
///
/// # Examples
///
/// ```
/// use procrun::procfs;
///
/// let me = procfs::read_comm(std::process::id())?;
/// let found = procfs::find_by_name(&me)?.expect("this process runs");
/// assert!(found.comm().contains(&me));
/// # Ok::<(), procrun::Error>(())
/// ```
pub fn find_by_name(name: &str) -> Result<Option<ProcessEntry>> {
    Procfs::new().find_by_name(name)
}

/// [`Procfs::is_running`] under the default root ([`Procfs::new`]).
///
/// # Errors
///
/// As [`Procfs::is_running`].
///
/// # Examples
///
/// ```
/// use procrun::procfs;
///
/// let me = procfs::read_comm(std::process::id())?;
/// assert!(procfs::is_running(&me)?);
/// assert!(!procfs::is_running("no process is called this")?);
/// # Ok::<(), procrun::Error>(())
/// ```
pub fn is_running(name: &str) -> Result<bool> {
    Procfs::new().is_running(name)
}

/// [`Procfs::read_comm`] under the default root ([`Procfs::new`]).
///
/// # Errors
///
/// As [`Procfs::read_comm`].
///
/// # Examples
///
/// ```
/// let me = procrun::procfs::read_comm(std::process::id())?;
/// // The kernel keeps the first 15 bytes of the name.
/// assert!(!me.is_empty() && me.len() <= 15);
/// assert!(procrun::procfs::read_comm(u32::MAX).is_err());
/// # Ok::<(), procrun::Error>(())
/// ```
pub fn read_comm(pid: u32) -> Result<String> {
    Procfs::new().read_comm(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_proc_names_the_root_unless_unset_or_empty() {
        assert_eq!(root_from_env(None), Path::new("/proc"));
        assert_eq!(root_from_env(Some("".into())), Path::new("/proc"));
        assert_eq!(
            root_from_env(Some("/host/proc".into())),
            Path::new("/host/proc")
        );
    }
}
