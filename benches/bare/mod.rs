//! The raw limit the overhead and scaling benches compare procrun with: a
//! bare epoll + pidfd loop on libc, plus the FIFO both benches use to
//! release children at a moment of their choosing.
//!
//! procrun supplies a child's stdin only as bytes written at spawn, so a
//! child that must wait for the bench reads a named FIFO instead; the bench
//! holds the FIFO open read-write from the start, so a child's `open` never
//! blocks and its `read` blocks until the bench writes.

#![allow(dead_code)] // each bench uses part of it

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// An epoll instance.
pub struct Epoll(OwnedFd);

impl Epoll {
    pub fn new() -> Epoll {
        // SAFETY: epoll_create1 takes no pointers; the fd it returns is ours.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(fd >= 0, "epoll_create1: {}", io::Error::last_os_error());
        // SAFETY: a fresh fd nobody else owns.
        Epoll(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// Watches `fd` for readability (edge-triggered with `edge`).
    pub fn add(&self, fd: RawFd, token: u64, edge: bool) {
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | if edge { libc::EPOLLET } else { 0 }) as u32,
            u64: token,
        };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call.
        let r = unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        assert_eq!(r, 0, "epoll_ctl add: {}", io::Error::last_os_error());
    }

    pub fn del(&self, fd: RawFd) {
        // SAFETY: a null event is allowed for EPOLL_CTL_DEL since Linux 2.6.9.
        unsafe {
            libc::epoll_ctl(
                self.0.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            )
        };
    }

    /// Waits (`-1`: forever) and returns the tokens of the ready fds.
    pub fn wait<'e>(
        &self,
        events: &'e mut [libc::epoll_event],
        timeout_ms: i32,
    ) -> &'e [libc::epoll_event] {
        loop {
            // SAFETY: `events` is writable for `events.len()` entries.
            let n = unsafe {
                libc::epoll_wait(
                    self.0.as_raw_fd(),
                    events.as_mut_ptr(),
                    events.len() as i32,
                    timeout_ms,
                )
            };
            if n >= 0 {
                return &events[..n as usize];
            }
            let e = io::Error::last_os_error();
            assert_eq!(e.kind(), io::ErrorKind::Interrupted, "epoll_wait: {e}");
        }
    }
}

pub fn empty_events(n: usize) -> Vec<libc::epoll_event> {
    vec![libc::epoll_event { events: 0, u64: 0 }; n]
}

pub fn pidfd_open(pid: u32) -> OwnedFd {
    // SAFETY: pidfd_open takes two integers; the fd it returns is ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    assert!(fd >= 0, "pidfd_open: {}", io::Error::last_os_error());
    // SAFETY: a fresh fd nobody else owns.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

pub fn pidfd_kill(pidfd: &OwnedFd) {
    // SAFETY: a null siginfo is allowed; the fd is a live pidfd.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
}

/// Reaps the child of `pidfd`, waiting for it when `block`; true once reaped.
pub fn pidfd_reap(pidfd: &OwnedFd, block: bool) -> bool {
    // SAFETY: an all-zero siginfo_t is a valid value to be overwritten.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | if block { 0 } else { libc::WNOHANG };
    // SAFETY: `info` is writable; the fd is a pidfd of our child.
    let r = unsafe {
        libc::waitid(
            libc::P_PIDFD,
            pidfd.as_raw_fd() as libc::id_t,
            &mut info,
            flags,
        )
    };
    // SAFETY: waitid filled `info` (si_pid 0 when WNOHANG found nothing).
    r == 0 && unsafe { info.si_pid() } != 0
}

pub fn set_nonblocking(fd: RawFd) {
    // SAFETY: fcntl on an fd we own, integer arguments only.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
}

/// One `read(2)` into `buf`: `Some(0)` at EOF, `None` when it would block.
pub fn read(fd: RawFd, buf: &mut [u8]) -> Option<usize> {
    loop {
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Some(n as usize);
        }
        match io::Error::last_os_error().kind() {
            io::ErrorKind::Interrupted => {}
            io::ErrorKind::WouldBlock => return None,
            // A read error ends the stream as EOF would.
            _ => return Some(0),
        }
    }
}

/// Raises the soft limit on open files to the hard limit: 1,000 children
/// hold 3,000 to 4,000 fds.
pub fn raise_nofile() {
    // SAFETY: getrlimit/setrlimit read and write the struct we pass.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// A named FIFO in a temporary directory, held open read-write by the bench.
pub struct Fifo {
    _dir: tempfile::TempDir,
    path: PathBuf,
    file: File,
}

impl Fifo {
    pub fn new() -> Fifo {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("release");
        let c = CString::new(path.as_os_str().as_bytes()).expect("no NUL");
        // SAFETY: `c` is a valid C string.
        let r = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
        assert_eq!(r, 0, "mkfifo: {}", io::Error::last_os_error());
        // Read-write: the open does not wait for a reader, and children's
        // opens do not wait for a writer.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .expect("open fifo");
        Fifo {
            _dir: dir,
            path,
            file,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Releases `n` children, one byte each.
    pub fn release(&self, n: usize) {
        let bytes = vec![b'x'; n];
        (&self.file).write_all(&bytes).expect("write fifo");
    }
}

/// Waits until `pid` is blocked in `read(2)`, as `/proc/PID/syscall` shows
/// (the syscall number comes from libc: it differs between architectures).
pub fn wait_blocked_in_read(pid: u32) {
    let want = format!("{} ", libc::SYS_read);
    let path = format!("/proc/{pid}/syscall");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(s) = std::fs::read_to_string(&path) {
            if s.starts_with(&want) {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "child {pid} never blocked in read"
        );
        std::thread::sleep(Duration::from_micros(50));
    }
}

/// Waits until `pid` runs the program named `comm` (after its exec).
pub fn wait_comm(pid: u32, comm: &str) {
    let path = format!("/proc/{pid}/comm");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(s) = std::fs::read_to_string(&path) {
            if s.trim_end() == comm {
                return;
            }
        }
        assert!(Instant::now() < deadline, "child {pid} never ran {comm}");
        std::thread::sleep(Duration::from_micros(100));
    }
}
