//! One pass over the process directories of a procfs root: the listing, and
//! reads of each process's files with the accounting of what was skipped.

use std::ffi::{CStr, OsStr};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::parse::{self, PID_DIGITS_MAX};
use crate::error::{Error, Result};
use crate::sys::procfs::{self as os, Listing};

/// Room for one batch of directory entries; a pid entry takes 24–32 bytes,
/// so one `getdents64` lists about a thousand processes.
pub(super) const DIRENT_BUF: usize = 32 * 1024;

/// The stat file, NUL-terminated for `openat`.
pub(super) const STAT: &CStr = c"stat";

/// The comm file, NUL-terminated for `openat`.
pub(super) const COMM: &CStr = c"comm";

/// The longest file name [`Scan::read`] takes, NUL included.
const FILE_MAX: usize = 8;

/// A process directory found by a [`Scan`].
#[derive(Debug, Clone, Copy)]
pub(super) struct PidDir {
    pid: u32,
    /// The directory name as listed (kept rather than re-formatted from the
    /// pid, so a name like `007` under a test root is read as listed).
    name: [u8; PID_DIGITS_MAX],
    len: usize,
}

impl PidDir {
    pub(super) fn pid(&self) -> u32 {
        self.pid
    }

    fn name(&self) -> &[u8] {
        &self.name[..self.len]
    }
}

/// A scan of a procfs root in progress.
pub(super) struct Scan<'buf> {
    root: &'buf Path,
    dir: OwnedFd,
    listing: Listing<'buf>,
    unreadable: usize,
    malformed: usize,
}

impl<'buf> Scan<'buf> {
    /// Opens `root` for a scan that lists it in batches held in `dirents`
    /// (its spare capacity is used).
    ///
    /// # Errors
    ///
    /// [`Error::Procfs`] if the root cannot be opened.
    pub(super) fn new(root: &'buf Path, dirents: &'buf mut Vec<u8>) -> Result<Scan<'buf>> {
        let dir = os::open_dir(root).map_err(|e| io_error(root, e))?;
        // The listing owns a duplicate so that reads can go through the
        // original while the listing borrows nothing but its buffer.
        let listed = dir.try_clone().map_err(|e| io_error(root, e))?;
        Ok(Scan {
            root,
            dir,
            listing: Listing::new(listed, dirents.spare_capacity_mut()),
            unreadable: 0,
            malformed: 0,
        })
    }

    /// The next process directory: a directory entry named by a decimal
    /// pid. Other entries (`self`, `sys`, files) are passed over.
    ///
    /// # Errors
    ///
    /// [`Error::Procfs`] if listing the root fails.
    pub(super) fn next(&mut self) -> Result<Option<PidDir>> {
        while let Some(entry) = self.listing.next() {
            let entry = entry.map_err(|e| io_error(self.root, e))?;
            let name = entry.name();
            let Some(pid) = parse::parse_pid(name).filter(|_| entry.may_be_dir()) else {
                continue;
            };
            let mut dir = PidDir {
                pid,
                name: [0; PID_DIGITS_MAX],
                len: name.len(),
            };
            dir.name[..name.len()].copy_from_slice(name);
            return Ok(Some(dir));
        }
        Ok(None)
    }

    /// Reads `PID/file` into `buf` (as much as fits). `None` when the
    /// process is gone (not counted), the file may not be read (counted in
    /// [`unreadable`](Scan::unreadable)) or is not a regular file (counted
    /// in [`malformed`](Scan::malformed), as content that does not parse
    /// is).
    ///
    /// # Errors
    ///
    /// [`Error::Procfs`] for any other failure (out of descriptors, I/O).
    pub(super) fn read<'b>(
        &mut self,
        pid: &PidDir,
        file: &CStr,
        buf: &'b mut [u8],
    ) -> Result<Option<&'b [u8]>> {
        let name = pid.name();
        let file = file.to_bytes_with_nul();
        let mut path = [0u8; PID_DIGITS_MAX + 1 + FILE_MAX];
        let len = name.len() + 1 + file.len();
        path[..name.len()].copy_from_slice(name);
        path[name.len()] = b'/';
        path[name.len() + 1..len].copy_from_slice(file);
        let path = CStr::from_bytes_with_nul(&path[..len]).map_err(|_| {
            io_error(
                self.root,
                io::Error::new(io::ErrorKind::InvalidInput, "file name holds a NUL"),
            )
        })?;
        match os::read_at(&self.dir, path, buf) {
            Ok(n) => Ok(Some(&buf[..n])),
            Err(e) => match skip_reason(&e) {
                Some(Skip::Gone) => Ok(None),
                Some(Skip::Denied) => {
                    self.unreadable += 1;
                    Ok(None)
                }
                Some(Skip::Malformed) => {
                    self.malformed += 1;
                    Ok(None)
                }
                None => {
                    let path = self
                        .root
                        .join(OsStr::from_bytes(name))
                        .join(OsStr::from_bytes(&file[..file.len() - 1]));
                    Err(io_error(&path, e))
                }
            },
        }
    }

    /// Counts one process skipped for a malformed file.
    pub(super) fn count_malformed(&mut self) {
        self.malformed += 1;
    }

    /// Processes skipped so far for lack of permission.
    pub(super) fn unreadable(&self) -> usize {
        self.unreadable
    }

    /// Processes skipped so far for a malformed file.
    pub(super) fn malformed(&self) -> usize {
        self.malformed
    }
}

/// An [`Error::Procfs`] for `path`.
pub(super) fn io_error(path: &Path, source: io::Error) -> Error {
    Error::Procfs {
        path: path.to_path_buf(),
        source,
    }
}

/// Why a process's file was passed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    /// It exited between the listing and the read (or, under a root that is
    /// not the kernel's, the entry is not a process directory).
    Gone,
    /// Permission denied.
    Denied,
    /// Not a regular file: a tree written by someone other than the kernel.
    Malformed,
}

/// How a scan treats a failed read of one process's file; `None` when it is
/// an error worth failing the scan for.
fn skip_reason(e: &io::Error) -> Option<Skip> {
    if os::is_gone(e) {
        Some(Skip::Gone)
    } else if os::is_denied(e) {
        Some(Skip::Denied)
    } else if os::is_not_regular(e) {
        Some(Skip::Malformed)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vanished_and_denied_reads_are_skipped_other_errors_fail() {
        let e = |n: i32| io::Error::from_raw_os_error(n);
        // ENOENT, ESRCH, ENOTDIR: gone; EACCES, EPERM: denied; EMFILE, EIO:
        // real failures.
        for n in [2, 3, 20] {
            assert_eq!(skip_reason(&e(n)), Some(Skip::Gone), "errno {n}");
        }
        for n in [13, 1] {
            assert_eq!(skip_reason(&e(n)), Some(Skip::Denied), "errno {n}");
        }
        for n in [24, 5] {
            assert_eq!(skip_reason(&e(n)), None, "errno {n}");
        }
    }

    #[test]
    fn file_names_fit_the_path_buffer() {
        assert!(STAT.to_bytes_with_nul().len() <= FILE_MAX);
        assert!(COMM.to_bytes_with_nul().len() <= FILE_MAX);
    }
}
