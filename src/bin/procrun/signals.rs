//! Ctrl-C, SIGTERM and SIGHUP, through a self-pipe.
//!
//! The library installs no signal handler, so the tool takes these signals
//! itself. It cannot block them and `sigwait` for them: a blocked mask is
//! inherited by every child std spawns, and a child with SIGTERM blocked
//! would never see the stop signal (only the SIGKILL after the grace). So a
//! handler does the least it can: it writes the signal number, one byte, to
//! a socket (`write` is async-signal-safe). A thread reads that socket,
//! passes each signal on over a channel and wakes the reactor. A handled
//! signal reverts to its default action in a child at `exec`, so children
//! see these signals as usual.
//!
//! A signal ignored when procrun starts (`nohup`, or SIGINT for a
//! background job of a non-interactive shell) stays ignored, as shells do.
//! SIGHUP is taken too: when the terminal goes away, procrun must not die
//! and leave its children, each in its own process group, running.
#![allow(unsafe_code)]

use std::io::{self, Read};
use std::mem;
use std::os::fd::IntoRawFd;
use std::os::unix::net::UnixStream;
use std::ptr;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::thread;

use procrun::{Signal, Waker};

/// The signals that stop procrun and its children.
const SHUTDOWN: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// The write end of the self-pipe, for the handler; -1 until installed.
static NOTIFY_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = NOTIFY_FD.load(Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    let byte = sig as u8;
    // SAFETY: only async-signal-safe work: reading and restoring errno (so
    // the interrupted code reads its own), and write(2) of one byte from a
    // local to an fd that stays open for the life of the process. The fd is
    // nonblocking, so a flood of signals cannot block the handler; a byte
    // lost to a full socket is a repeat of one already queued.
    unsafe {
        let errno = libc::__errno_location();
        let saved = *errno;
        libc::write(fd, ptr::from_ref(&byte).cast(), 1);
        *errno = saved;
    }
}

/// Installs the handler for each shutdown signal not ignored at start, and
/// starts the thread that turns them into messages on the returned channel,
/// waking `waker` after each.
///
/// # Errors
///
/// The OS error of the socket pair, the thread or `sigaction`.
pub fn install(waker: Waker) -> io::Result<Receiver<Signal>> {
    let (mut reader, writer) = UnixStream::pair()?;
    writer.set_nonblocking(true)?;
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("procrun-signals".into())
        .spawn(move || {
            let mut buf = [0u8; 64];
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return,
                };
                // Only the handler writes here, one byte per signal it took.
                for sig in buf[..n].iter().filter_map(|&b| Signal::from_raw(b.into())) {
                    if tx.send(sig).is_err() {
                        return;
                    }
                }
                let _ = waker.wake();
            }
        })?;
    // Kept open for good: the handler may run at any time until exit.
    let fd = writer.into_raw_fd();
    NOTIFY_FD.store(fd, Ordering::Relaxed);
    for sig in SHUTDOWN {
        // SAFETY: sigaction is given a valid signal number and pointers to
        // a zero-initialised (valid) sigaction that outlives the call; the
        // first call only reads the current action.
        unsafe {
            let mut old: libc::sigaction = mem::zeroed();
            if libc::sigaction(sig, ptr::null(), &mut old) != 0 {
                return Err(io::Error::last_os_error());
            }
            if old.sa_sigaction == libc::SIG_IGN {
                continue;
            }
            let mut new: libc::sigaction = mem::zeroed();
            new.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            new.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut new.sa_mask);
            if libc::sigaction(sig, &new, ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(rx)
}
