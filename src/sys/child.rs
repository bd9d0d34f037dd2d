//! Watching, signalling and reaping one child: through its pidfd, or by its
//! pid on kernels without pidfds.
//!
//! The reap is the raw `waitid` syscall: its fifth argument returns the
//! child's resource usage, which neither the C library's `waitid` nor
//! rustix's hands back.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use rustix::process::{self as rp, Pid, PidfdFlags, Signal, WaitId, WaitIdOptions};

/// How procrun holds on to a child it spawned and has not reaped.
///
/// Either way the pid cannot be recycled while the child is unreaped, and
/// procrun reaps only through this handle, never `waitpid(-1)`.
#[derive(Debug)]
pub(crate) enum ChildHandle {
    /// A pidfd: readable once the child exited, so epoll reports the exit.
    Pidfd { pid: u32, fd: OwnedFd },
    /// Only the pid (Linux before 5.3, or forced): the reactor polls
    /// [`try_reap`] on a timer.
    Pid(u32),
}

/// What this process's `SIGCHLD` disposition does to its children's
/// exits, as far as reaping goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChildSignal {
    /// An exited child stays a zombie until reaped: its status is ours.
    Kept,
    /// `SIG_IGN`: the kernel reaps every child at its exit.
    Ignored,
    /// `SA_NOCLDWAIT` set: the kernel reaps every child at its exit too.
    NoCldWait,
}

/// This process's `SIGCHLD` disposition, queried (never changed: the
/// host's dispositions are its own). One `rt_sigaction` call, cheap next
/// to a spawn.
pub(crate) fn child_signal() -> ChildSignal {
    // SAFETY: a `sigaction` of zeroes is a valid value of the plain C
    // struct; with a null new action the call only writes the current one
    // into `old`, which lives across the call, and changes nothing.
    let (r, old) = unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        let r = libc::sigaction(libc::SIGCHLD, std::ptr::null(), &mut old);
        (r, old)
    };
    if r != 0 {
        // It fails only for an invalid signal number, which SIGCHLD is not.
        ChildSignal::Kept
    } else if old.sa_sigaction == libc::SIG_IGN {
        ChildSignal::Ignored
    } else if old.sa_flags & libc::SA_NOCLDWAIT != 0 {
        ChildSignal::NoCldWait
    } else {
        ChildSignal::Kept
    }
}

/// Whether pidfds may be used: false when `PROCRUN_NO_PIDFD=1` forces the
/// fallback (so the whole suite can be run on it).
pub(crate) fn pidfd_allowed() -> bool {
    !matches!(std::env::var_os("PROCRUN_NO_PIDFD"), Some(v) if v == "1")
}

impl ChildHandle {
    /// A handle for `pid`, an unreaped child of ours. With `want_pidfd`,
    /// opens a pidfd (CLOEXEC, as pidfds always are); falls back to the bare
    /// pid when the kernel has no `pidfd_open` (ENOSYS), and says so.
    pub(crate) fn open(pid: u32, want_pidfd: bool) -> io::Result<(ChildHandle, bool)> {
        if want_pidfd {
            match rp::pidfd_open(to_pid(pid)?, PidfdFlags::empty()) {
                Ok(fd) => return Ok((ChildHandle::Pidfd { pid, fd }, true)),
                Err(rustix::io::Errno::NOSYS) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok((ChildHandle::Pid(pid), false))
    }

    pub(crate) fn pid(&self) -> u32 {
        match self {
            ChildHandle::Pidfd { pid, .. } | ChildHandle::Pid(pid) => *pid,
        }
    }

    pub(crate) fn pidfd(&self) -> Option<&OwnedFd> {
        match self {
            ChildHandle::Pidfd { fd, .. } => Some(fd),
            ChildHandle::Pid(_) => None,
        }
    }

    /// The `idtype` and `id` arguments of a raw `waitid` naming this child.
    fn raw_wait_id(&self) -> io::Result<(libc::idtype_t, libc::c_int)> {
        Ok(match self {
            ChildHandle::Pidfd { fd, .. } => (libc::P_PIDFD, fd.as_raw_fd()),
            ChildHandle::Pid(pid) => (libc::P_PID, to_pid(*pid)?.as_raw_nonzero().get()),
        })
    }

    /// Reaps the child with `waitid(…, WEXITED | options, &rusage)`, or
    /// only looks with `WNOWAIT`; `Ok(None)` when `WNOHANG` found it still
    /// running.
    fn reap(&self, options: libc::c_int) -> io::Result<Option<Reaped>> {
        let (idtype, id) = self.raw_wait_id()?;
        // SAFETY: siginfo_t and rusage are plain C structs of integers, for
        // which all zeroes is a valid value; a zeroed si_pid is also how
        // WNOHANG's "nothing exited" is told apart (waitid(2)).
        let (mut info, mut usage): (libc::siginfo_t, libc::rusage) =
            unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
        loop {
            // SAFETY: the kernel writes only into `info` and `usage`, live
            // locals of the layouts it expects for this ABI; `id` names our
            // own unreaped child (a pidfd we own, or a pid that cannot be
            // recycled while the child is unreaped), so no other process's
            // status is consumed.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_waitid,
                    idtype as libc::c_int,
                    id,
                    &mut info as *mut libc::siginfo_t,
                    libc::WEXITED | options,
                    &mut usage as *mut libc::rusage,
                )
            };
            if r == 0 {
                break;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        // SAFETY: after a successful waitid the kernel filled `info` as a
        // SIGCHLD siginfo (or left it zeroed under WNOHANG), so its pid and
        // status fields are the ones set.
        let (pid, raw) = unsafe { (info.si_pid(), info.si_status()) };
        if pid == 0 {
            return Ok(None);
        }
        let status = match info.si_code {
            libc::CLD_EXITED => ExitStatus::from_raw((raw & 0xff) << 8),
            libc::CLD_DUMPED => ExitStatus::from_raw(raw | 0x80),
            // CLD_KILLED; WEXITED alone reports no other code.
            _ => ExitStatus::from_raw(raw),
        };
        Ok(Some(Reaped {
            status,
            usage: Usage::from(&usage),
        }))
    }

    fn wait_id(&self) -> io::Result<WaitId<'_>> {
        Ok(match self {
            ChildHandle::Pidfd { fd, .. } => WaitId::PidFd(fd.as_fd()),
            ChildHandle::Pid(pid) => WaitId::Pid(to_pid(*pid)?),
        })
    }

    /// Sends `sig` to the child alone.
    pub(crate) fn signal(&self, sig: i32) -> io::Result<()> {
        let sig = to_signal(sig)?;
        match self {
            ChildHandle::Pidfd { fd, .. } => rp::pidfd_send_signal(fd, sig)?,
            // Unreaped, so the pid is still this child's.
            ChildHandle::Pid(pid) => rp::kill_process(to_pid(*pid)?, sig)?,
        }
        Ok(())
    }

    /// Sends `sig` to the child's process group and, when the child has
    /// left that group (`setpgid`, `setsid`), to the child itself, which
    /// the group signal then missed.
    ///
    /// The child is checked after the group is signalled: one that leaves
    /// before is seen gone and signalled directly, one that leaves after
    /// got the group signal. Only a child leaving in between gets `sig`
    /// twice. Asking first and signalling once would instead let a child
    /// that leaves in between miss it altogether.
    ///
    /// # Errors
    ///
    /// The error when the signal reached neither the group nor the child:
    /// `EPERM` when the child made itself another user (a setuid program)
    /// and procrun may not signal it.
    pub(crate) fn signal_with_group(&self, sig: i32) -> io::Result<()> {
        let pid = self.pid();
        let group = signal_group(pid, sig);
        // Not rustix's `getpgid`: for a group led from outside procrun's pid
        // namespace the kernel answers 0, which its `Pid` cannot hold.
        // SAFETY: `getpgid` only reads the kernel's process table.
        let in_group = unsafe { libc::getpgid(pid as libc::pid_t) } == pid as libc::pid_t;
        if in_group {
            group
        } else {
            self.signal(sig)
        }
    }

    /// Sends `sig` to the child alone unless it is in group `pgid`, which
    /// a signal to that group reached already: a stage of a pipeline that
    /// left its pipeline's group.
    pub(crate) fn signal_outside_group(&self, pgid: u32, sig: i32) -> io::Result<()> {
        // SAFETY: `getpgid` only reads the kernel's process table.
        let group = unsafe { libc::getpgid(self.pid() as libc::pid_t) };
        if group == pgid as libc::pid_t {
            Ok(())
        } else {
            self.signal(sig)
        }
    }

    /// Reaps the child if it has exited; `Ok(None)` when it has not (a
    /// readable pidfd is a hint, and a wake-up can be spurious).
    pub(crate) fn try_reap(&self) -> io::Result<Option<Reaped>> {
        self.reap(libc::WNOHANG)
    }

    /// Reaps a child [`peek`](Self::peek) saw exited. With `kill_group`,
    /// every process left in the child's group is sent `SIGKILL` first:
    /// the leader is a zombie until the reap, so the group id cannot have
    /// been recycled. No second look comes before: the peek was it.
    pub(crate) fn reap_seen(&self, kill_group: bool) -> io::Result<Option<Reaped>> {
        if kill_group {
            // A member procrun may not signal (one that made itself root)
            // must not stop the reap: the leader would be left a zombie and
            // its status lost.
            let _ = signal_group(self.pid(), Signal::KILL.as_raw());
        }
        self.reap(libc::WNOHANG)
    }

    /// The status and usage of the child if it has exited, without
    /// reaping it (`WNOWAIT`): it stays a zombie, whose pid (and so its
    /// group's id) the kernel cannot give to another process until its
    /// reap ([`reap_seen`](Self::reap_seen)). The kernel reports a zombie's
    /// usage under `WNOWAIT` as the reap would: its own and that of the
    /// children it reaped. Its status too, with one exception on older
    /// kernels, whose `WNOWAIT` answer is the main thread's own exit code
    /// rather than the process's: a process whose main thread ended alone
    /// (`pthread_exit`) before another thread ended the process reads as
    /// exited 0 there.
    pub(crate) fn peek(&self) -> io::Result<Option<Reaped>> {
        self.reap(libc::WNOHANG | libc::WNOWAIT)
    }

    /// Whether the child has exited, without reaping it: it stays a
    /// zombie, whose pid (and so its group's id) the kernel cannot give to
    /// another process until the reap.
    pub(crate) fn has_exited(&self) -> io::Result<bool> {
        let peek = rp::waitid(
            self.wait_id()?,
            WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT,
        )?;
        Ok(peek.is_some())
    }

    /// Waits for the child to exit and reaps it.
    pub(crate) fn reap_blocking(&self) -> io::Result<Option<Reaped>> {
        self.reap(0)
    }
}

/// A reaped run: its wait status and what it used.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reaped {
    pub(crate) status: ExitStatus,
    pub(crate) usage: Usage,
}

/// The resources a reaped child used, itself and the descendants it
/// reaped (what `getrusage(RUSAGE_CHILDREN)` would add for it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) user: Duration,
    pub(crate) system: Duration,
    pub(crate) max_rss_bytes: u64,
}

impl From<&libc::rusage> for Usage {
    fn from(ru: &libc::rusage) -> Usage {
        let time = |t: libc::timeval| {
            Duration::new(
                u64::try_from(t.tv_sec).unwrap_or(0),
                u32::try_from(t.tv_usec).unwrap_or(0).min(999_999) * 1000,
            )
        };
        Usage {
            user: time(ru.ru_utime),
            system: time(ru.ru_stime),
            // Linux counts it in KiB.
            max_rss_bytes: u64::try_from(ru.ru_maxrss)
                .unwrap_or(0)
                .saturating_mul(1024),
        }
    }
}

/// Whether group `pgid` still has a member procrun may signal, a zombie
/// included: signal 0 to the group, which sends nothing.
///
/// Once the group's leader is reaped its id is no longer pinned by it:
/// the kernel keeps the number while any member uses it, but once the
/// last one is gone a new process may get it and lead a group of its own,
/// which this then counts. Only a check for the end of a group procrun
/// killed may use this (a wrong "yes" makes it wait longer), never a real
/// signal.
pub(crate) fn group_has_members(pgid: u32) -> bool {
    let Ok(pgid) = to_pid(pgid) else {
        return false;
    };
    // ESRCH: none left. EPERM: only members procrun may not signal, which
    // no stop of its own could end either.
    rp::test_kill_process_group(pgid).is_ok()
}

/// Sends `sig` to every process of group `pgid`.
///
/// The caller must know the group still exists under that id: procrun only
/// calls this while the group leader is unreaped, which pins the id.
fn signal_group(pgid: u32, sig: i32) -> io::Result<()> {
    match rp::kill_process_group(to_pid(pgid)?, to_signal(sig)?) {
        // The leader is a zombie and nobody else is left: nothing to signal.
        Err(rustix::io::Errno::SRCH) => Ok(()),
        r => r.map_err(Into::into),
    }
}

fn to_pid(pid: u32) -> io::Result<Pid> {
    i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))
}

/// Any Linux signal (1 to 64), real-time ones included: rustix names only
/// the standard ones, and a caller may send any.
///
/// Only ever used to signal a child procrun spawned or that child's own
/// process group, never this process.
fn to_signal(sig: i32) -> io::Result<Signal> {
    if let Some(s) = Signal::from_named_raw(sig) {
        return Ok(s);
    }
    if !(1..=64).contains(&sig) {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    // SAFETY: `sig` is a valid non-zero Linux signal number. rustix makes
    // this unsafe because the C library reserves some numbers (32 and 33,
    // and the real-time range it hands out) for its own use in this
    // process; the value goes only to a child or that child's own group
    // (see above), which is never this process, so nothing here sends,
    // consumes or blocks such a signal for this process or changes a
    // handler of it.
    Ok(unsafe { Signal::from_raw_unchecked(sig) })
}
