//! What the `/proc` scans need of the OS: open the procfs root, list it
//! with `getdents64` into a caller's buffer, and read a small file under it
//! with one `openat`, one `fstat` and, for procfs, one `read`. Nothing here
//! allocates but for a root path over 255 bytes, which rustix NUL-terminates
//! on the heap, and the error for a file that is not a regular file.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{fstat, openat, FileType, Mode, OFlags, RawDir, CWD};
use rustix::io::Errno;
use rustix::path::Arg;

/// Opens a directory for listing and for `openat` relative to it.
pub(crate) fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    Ok(openat(
        CWD,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Room for an entry name handed out by [`Listing::next`]: pid names have
/// at most 10 digits.
pub(crate) const NAME_MAX: usize = 16;

/// One entry of a [`Listing`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    name: [u8; NAME_MAX],
    len: usize,
    dir: bool,
}

impl Entry {
    /// The name, or empty if it is longer than [`NAME_MAX`] (no pid is).
    pub(crate) fn name(&self) -> &[u8] {
        &self.name[..self.len]
    }

    /// Whether the entry is, or may be, a directory.
    pub(crate) fn may_be_dir(&self) -> bool {
        self.dir
    }
}

/// The entries of a directory, read in batches into a borrowed buffer.
pub(crate) struct Listing<'a> {
    raw: RawDir<'a, OwnedFd>,
}

impl<'a> Listing<'a> {
    pub(crate) fn new(dir: OwnedFd, buf: &'a mut [MaybeUninit<u8>]) -> Listing<'a> {
        Listing {
            raw: RawDir::new(dir, buf),
        }
    }

    /// The next entry. Its name is copied out (a few bytes) because the
    /// buffer it lives in is refilled by the next call.
    pub(crate) fn next(&mut self) -> Option<io::Result<Entry>> {
        Some(match self.raw.next()? {
            Ok(raw) => {
                let kind = raw.file_type();
                let mut entry = Entry {
                    name: [0; NAME_MAX],
                    len: 0,
                    dir: kind == FileType::Directory || kind == FileType::Unknown,
                };
                let name = raw.file_name().to_bytes();
                if let Some(to) = entry.name.get_mut(..name.len()) {
                    to.copy_from_slice(name);
                    entry.len = name.len();
                }
                Ok(entry)
            }
            Err(e) => Err(e.into()),
        })
    }
}

/// Reads `path` (relative to `dir`) into `buf` and returns the length
/// read, stopping at end of file, at a full buffer, or after a read that
/// ends in a newline: procfs hands a whole record to the first `read` that
/// has room for it, so the usual cost is one `openat`, one `fstat`, one
/// `read` and one `close`.
///
/// Every procfs file is a regular file (of size 0). A root that is not the
/// kernel's procfs is untrusted input, and a FIFO there would block a plain
/// `open` until some writer came, so the file is opened `O_NONBLOCK` and
/// anything but a regular file is refused unread.
///
/// # Errors
///
/// The OS error; [`is_gone`] and [`is_denied`] tell a vanished process or a
/// refused read from a real failure, [`is_not_regular`] a file that is not a
/// regular file (a FIFO, a directory, a device).
pub(crate) fn read_at(dir: impl AsFd, path: impl Arg, buf: &mut [u8]) -> io::Result<usize> {
    let fd = openat(
        dir,
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
        Mode::empty(),
    )?;
    if FileType::from_raw_mode(fstat(&fd)?.st_mode) != FileType::RegularFile {
        return Err(io::Error::new(io::ErrorKind::InvalidData, NotRegular));
    }
    let mut len = 0;
    while len < buf.len() {
        match rustix::io::read(&fd, &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                if buf[len - 1] == b'\n' {
                    break;
                }
            }
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(len)
}

/// Reads a file named by a full path, as [`read_at`] does.
pub(crate) fn read_path(path: &Path, buf: &mut [u8]) -> io::Result<usize> {
    read_at(CWD, path, buf)
}

/// Whether a read failed because the process went away while it was being
/// read (its directory, or the whole entry, is gone).
pub(crate) fn is_gone(e: &io::Error) -> bool {
    matches!(
        Errno::from_io_error(e),
        Some(Errno::NOENT | Errno::SRCH | Errno::NOTDIR)
    )
}

/// Whether a read failed because the file is not a regular file: every
/// procfs file is one, so the tree is not what the kernel writes.
pub(crate) fn is_not_regular(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<NotRegular>())
}

/// What is wrong with a file that is not a regular file.
pub(crate) const NOT_REGULAR: &str = "not a regular file, as every procfs file is";

/// The cause [`read_at`] gives for a file that is not a regular file.
#[derive(Debug)]
struct NotRegular;

impl std::fmt::Display for NotRegular {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(NOT_REGULAR)
    }
}

impl std::error::Error for NotRegular {}

/// Whether a read was refused (another user's process under hidepid, or a
/// file mode that forbids it).
pub(crate) fn is_denied(e: &io::Error) -> bool {
    matches!(Errno::from_io_error(e), Some(Errno::ACCESS | Errno::PERM))
}
