//! procrun's stdout and stderr, written without ever blocking the loop.
//!
//! A write blocked on a pipe nobody reads would keep procrun from acting
//! on a signal: the loop, which reads the signals, is the thread that
//! writes. So the loop only writes what stdout and stderr take at once,
//! and waits for them and for the reactor (children, timers, signals
//! through the waker) in the same `poll`.
//!
//! Neither is made nonblocking: O_NONBLOCK belongs to the open file
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
//!
//! A write that has to be cut ends at a line end when the piece holds
//! one, so that only lines longer than a piece are written in parts. When
//! stdout and stderr are the same file (`2>&1`), the printer writes to
//! neither while the other has written part of a line (`at_line_start`),
//! so that nothing lands in the middle of a line.
use std::fs::File;
use std::io::{self, IsTerminal};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};

/// At most this much per write to what may block (pipes, terminals,
/// sockets): what the kernel writes to a pipe whole (`PIPE_BUF`).
const SMALL_WRITE: usize = libc::PIPE_BUF;
/// Per write to a regular file, which no reader holds up.
const LARGE_WRITE: usize = 256 * 1024;

/// Where a sink writes.
enum Target {
    Stdio(BorrowedFd<'static>),
    /// `--output FILE`, owned so that it is closed with the sink.
    File(File),
}

impl AsFd for Target {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Target::Stdio(fd) => *fd,
            Target::File(f) => f.as_fd(),
        }
    }
}

/// stdout, stderr or an output file, with what it has not taken yet.
pub struct Sink {
    target: Target,
    chunk: usize,
    /// Owed: `pending[written..]`.
    pending: Vec<u8>,
    written: usize,
    /// A write failed (EPIPE: the reader went away; or the disk is full,
    /// the device gone); nothing more is kept.
    failed: bool,
    /// That failure was EPIPE: the reader closed its end.
    closed: bool,
    /// The last flush that wrote something or found nothing owed.
    progress: Instant,
    /// What was written so far ends with a whole line (or is nothing).
    at_line_start: bool,
}

impl Sink {
    pub fn stdout() -> Sink {
        Sink::new(Target::Stdio(rustix::stdio::stdout()))
    }

    pub fn stderr() -> Sink {
        Sink::new(Target::Stdio(rustix::stdio::stderr()))
    }

    pub fn file(file: File) -> Sink {
        Sink::new(Target::File(file))
    }

    fn new(target: Target) -> Sink {
        let never_blocks = rustix::fs::fstat(target.as_fd()).is_ok_and(|st| {
            let kind = rustix::fs::FileType::from_raw_mode(st.st_mode);
            matches!(
                kind,
                rustix::fs::FileType::RegularFile | rustix::fs::FileType::BlockDevice
            )
        });
        Sink {
            target,
            chunk: if never_blocks {
                LARGE_WRITE
            } else {
                SMALL_WRITE
            },
            pending: Vec::new(),
            written: 0,
            failed: false,
            closed: false,
            progress: Instant::now(),
            at_line_start: true,
        }
    }

    /// Whether this is a terminal (which may get colour).
    pub fn is_terminal(&self) -> bool {
        self.target.as_fd().is_terminal()
    }

    /// Bytes not written yet.
    pub fn owed(&self) -> usize {
        self.pending.len() - self.written
    }

    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Whether it failed because the reader closed its end (EPIPE), not
    /// for want of space or a device.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// Whether this and `other` write to the same file (the same pipe,
    /// terminal or regular file), as after `2>&1`.
    pub fn same_file(&self, other: &Sink) -> bool {
        let id = |s: &Sink| rustix::fs::fstat(s.target.as_fd()).map(|st| (st.st_dev, st.st_ino));
        matches!((id(self), id(other)), (Ok(a), Ok(b)) if a == b)
    }

    /// Whether no line is half written: what was written ends at a line
    /// end, or the rest will never be written (given up, or failed).
    pub fn at_line_start(&self) -> bool {
        self.at_line_start || self.failed
    }

    /// Since when it has taken nothing of what it owes: the last flush
    /// that wrote something or found nothing owed.
    pub fn progress(&self) -> Instant {
        self.progress
    }

    /// Where to append what is to be written.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.pending
    }

    /// Writes what the fd takes now, without waiting.
    ///
    /// # Errors
    ///
    /// The first failed write's error (EPIPE once the reader is gone);
    /// what was owed is then dropped, and so is everything appended later.
    pub fn flush(&mut self) -> io::Result<()> {
        let mut r = Ok(());
        let mut took = self.owed() == 0;
        while !self.failed && self.owed() > 0 {
            match self.write_now() {
                Ok(0) => break,
                Ok(n) => {
                    self.written += n;
                    self.at_line_start = self.pending[self.written - 1] == b'\n';
                    took = true;
                }
                Err(e) => {
                    self.failed = true;
                    self.closed = e.kind() == io::ErrorKind::BrokenPipe;
                    r = Err(e);
                }
            }
        }
        if took {
            self.progress = Instant::now();
        }
        if self.failed || self.written == self.pending.len() {
            self.pending.clear();
            self.written = 0;
            // A burst may have grown the buffer past its usual size.
            self.pending.shrink_to(256 * 1024);
        } else if self.written >= self.pending.len() / 2 {
            self.pending.drain(..self.written);
            self.written = 0;
        }
        r
    }

    /// Drops what is owed; how many bytes that was.
    pub fn give_up(&mut self) -> usize {
        let n = self.owed();
        self.pending.clear();
        self.written = 0;
        // The rest of a half-written line will never come.
        self.at_line_start = true;
        n
    }

    fn waits(&self) -> bool {
        !self.failed && self.owed() > 0
    }

    /// Writes a prefix of what is owed if the fd takes it now: the bytes
    /// written, 0 when it would have to wait. `Interrupted` is retried.
    fn write_now(&self) -> io::Result<usize> {
        let fd = self.target.as_fd();
        if !ready(&[(fd, PollFlags::OUT)], Some(Duration::ZERO))?[0] {
            return Ok(0);
        }
        let owed = &self.pending[self.written..];
        let mut piece = &owed[..owed.len().min(self.chunk)];
        if piece.len() < owed.len() {
            // Cut after the last whole line, if the piece holds one.
            if let Some(end) = piece.iter().rposition(|&b| b == b'\n') {
                piece = &piece[..=end];
            }
        }
        loop {
            match rustix::io::write(fd, piece) {
                Ok(n) => return Ok(n),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Whether procrun's stdout and stderr are one file (`2>&1`).
pub fn stdio_same_file() -> bool {
    Sink::stdout().same_file(&Sink::stderr())
}

/// Waits until one of `sinks` that owes output can be written or `other`
/// is readable, for at most `timeout` (`None`: no limit).
///
/// # Errors
///
/// The error of `poll`; an interrupted wait returns `Ok`.
pub fn wait(sinks: [&Sink; 2], other: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<()> {
    let mut fds = [(other, PollFlags::IN); 3];
    let mut n = 1;
    for s in sinks.into_iter().filter(|s| s.waits()) {
        fds[n] = (s.target.as_fd(), PollFlags::OUT);
        n += 1;
    }
    ready(&fds[..n], timeout).map(|_| ())
}

/// `poll(2)` on one to three fds; for each, whether it is ready. An error
/// or hang-up counts as ready: the next write or read reports it.
fn ready(fds: &[(BorrowedFd<'_>, PollFlags)], timeout: Option<Duration>) -> io::Result<[bool; 3]> {
    let Some(&first) = fds.first() else {
        return Ok([false; 3]);
    };
    let n = fds.len().min(3);
    // Slots past `n` repeat the first fd and are not polled.
    let mut pfds = [0, 1, 2].map(|i| {
        let (fd, events) = fds.get(i).copied().unwrap_or(first);
        PollFd::from_borrowed_fd(fd, events)
    });
    // `ppoll` takes the nanoseconds as they are, so a timer due in 0.3 ms
    // is not polled for with 0 and the caller's loop never spins; a
    // timeout past what a timespec holds is no limit.
    let timeout = timeout.and_then(|d| Timespec::try_from(d).ok());
    match rustix::event::poll(&mut pfds[..n], timeout.as_ref()) {
        Ok(_) => Ok(pfds.map(|p| !p.revents().is_empty())),
        Err(rustix::io::Errno::INTR) => Ok([false; 3]),
        Err(e) => Err(e.into()),
    }
}
