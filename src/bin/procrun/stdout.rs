//! procrun's stdout, written without ever blocking the loop.
//!
//! A write blocked on a pipe nobody reads would keep procrun from acting
//! on a signal: the loop, which reads the signals, is the thread that
//! writes. So the loop only writes what stdout takes at once, and waits
//! for stdout and for the reactor (children, timers, signals through the
//! waker) in the same `poll`.
//!
//! stdout is not made nonblocking: O_NONBLOCK belongs to the open file
//! description, which procrun shares with its shell and whatever else
//! writes to the same terminal or pipe; they would see EAGAIN they never
//! asked for, and a crash could leave the flag set. Instead each write is
//! preceded by a zero-timeout `poll` for POLLOUT and is at most PIPE_BUF
//! bytes: on a pipe, POLLOUT means a free buffer slot, and a write of at
//! most PIPE_BUF bytes fits in one slot, so the kernel takes it whole
//! without waiting. A regular file (or block device) never waits for a
//! reader and is written in larger pieces. What remains: another writer
//! of the same pipe may fill it between the `poll` and the `write`, and a
//! terminal stopped with Ctrl-S reports POLLOUT yet holds writes; then
//! one write blocks until the reader moves.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

/// At most this much per write to what may block (pipes, terminals,
/// sockets): what the kernel writes to a pipe whole (`PIPE_BUF`).
const SMALL_WRITE: usize = libc::PIPE_BUF;
/// Per write to a regular file, which no reader holds up.
const LARGE_WRITE: usize = 256 * 1024;

pub struct Stdout {
    fd: BorrowedFd<'static>,
    chunk: usize,
}

impl Stdout {
    pub fn new() -> Stdout {
        let fd = rustix::stdio::stdout();
        let never_blocks = rustix::fs::fstat(fd).is_ok_and(|st| {
            let kind = rustix::fs::FileType::from_raw_mode(st.st_mode);
            matches!(
                kind,
                rustix::fs::FileType::RegularFile | rustix::fs::FileType::BlockDevice
            )
        });
        Stdout {
            fd,
            chunk: if never_blocks {
                LARGE_WRITE
            } else {
                SMALL_WRITE
            },
        }
    }

    /// Writes a prefix of `buf` if stdout takes it now: the bytes written,
    /// 0 when it would have to wait.
    ///
    /// # Errors
    ///
    /// The write's error (EPIPE once the reader is gone); never
    /// `Interrupted`, which is retried.
    pub fn write_now(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() || !ready(&[(self.fd, libc::POLLOUT)], Some(Duration::ZERO))?[0] {
            return Ok(0);
        }
        let piece = &buf[..buf.len().min(self.chunk)];
        loop {
            match rustix::io::write(self.fd, piece) {
                Ok(n) => return Ok(n),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Waits until stdout can be written or `other` is readable, for at
    /// most `timeout` (`None`: no limit).
    ///
    /// # Errors
    ///
    /// The error of `poll`; an interrupted wait returns `Ok`.
    pub fn wait_with(&self, other: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<()> {
        ready(&[(self.fd, libc::POLLOUT), (other, libc::POLLIN)], timeout).map(|_| ())
    }
}

/// `poll(2)` on up to two fds; for each, whether it is ready. An error or
/// hang-up counts as ready: the next write or read reports it.
fn ready(
    fds: &[(BorrowedFd<'_>, libc::c_short)],
    timeout: Option<Duration>,
) -> io::Result<[bool; 2]> {
    let mut pfds = [libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    }; 2];
    for (p, (fd, events)) in pfds.iter_mut().zip(fds) {
        p.fd = fd.as_raw_fd();
        p.events = *events;
    }
    // Rounded up, so that a timer due in 0.3 ms is not polled for with 0
    // and the caller's loop never spins.
    let ms = match timeout {
        None => -1,
        Some(d) => {
            let ms = d.as_nanos().div_ceil(1_000_000);
            libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
        }
    };
    // SAFETY: `pfds` is a valid array of `fds.len()` (at most 2) pollfds
    // that outlives the call; each fd is borrowed, so open during it.
    let n = unsafe { libc::poll(pfds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok([false; 2]);
        }
        return Err(e);
    }
    Ok([pfds[0].revents != 0, pfds[1].revents != 0])
}
