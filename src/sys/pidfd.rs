//! pidfds and signals.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use rustix::process::{self as rp, Pid, PidfdFlags, Signal, WaitId, WaitIdOptions};

use crate::Error;

/// Opens a pidfd for `pid`, which must be an unreaped child of ours (so the
/// pid cannot have been recycled). The fd is CLOEXEC (pidfds always are).
pub(crate) fn pidfd_open(pid: u32) -> Result<OwnedFd, Error> {
    let pid = to_pid(pid)?;
    match rp::pidfd_open(pid, PidfdFlags::empty()) {
        Ok(fd) => Ok(fd),
        Err(rustix::io::Errno::NOSYS) => Err(Error::NoPidfd),
        Err(e) => Err(Error::Io(e.into())),
    }
}

/// Sends `sig` to the process behind `pidfd` alone.
pub(crate) fn pidfd_signal(pidfd: impl AsFd, sig: i32) -> io::Result<()> {
    rp::pidfd_send_signal(pidfd, to_signal(sig)?).map_err(Into::into)
}

/// Sends `sig` to every process of group `pgid`.
///
/// The caller must know the group still exists under that id: procrun only
/// calls this while the group leader is unreaped, which pins the id.
pub(crate) fn signal_group(pgid: u32, sig: i32) -> io::Result<()> {
    let pid = to_pid(pgid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    match rp::kill_process_group(pid, to_signal(sig)?) {
        // The leader is a zombie and nobody else is left: nothing to signal.
        Err(rustix::io::Errno::SRCH) => Ok(()),
        r => r.map_err(Into::into),
    }
}

/// Reaps the child behind `pidfd` if it has exited.
///
/// Returns `Ok(None)` when it has not (a readable pidfd is a hint, and a
/// wake-up can be spurious). With `kill_group`, every process left in that
/// group is sent `SIGKILL` between seeing the exit and reaping: the leader is
/// a zombie then, so the group id cannot have been recycled.
pub(crate) fn try_reap(
    pidfd: impl AsFd,
    kill_group: Option<u32>,
) -> io::Result<Option<ExitStatus>> {
    if let Some(pgid) = kill_group {
        let peek = rp::waitid(
            WaitId::PidFd(pidfd.as_fd()),
            WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT,
        )?;
        if peek.is_none() {
            return Ok(None);
        }
        signal_group(pgid, Signal::KILL.as_raw())?;
    }
    let status = rp::waitid(
        WaitId::PidFd(pidfd.as_fd()),
        WaitIdOptions::EXITED | WaitIdOptions::NOHANG,
    )?;
    Ok(status.and_then(to_exit_status))
}

/// Waits for the child behind `pidfd` to exit and reaps it.
pub(crate) fn reap_blocking(pidfd: impl AsFd) -> io::Result<Option<ExitStatus>> {
    loop {
        match rp::waitid(WaitId::PidFd(pidfd.as_fd()), WaitIdOptions::EXITED) {
            Err(rustix::io::Errno::INTR) => continue,
            r => return Ok(r?.and_then(to_exit_status)),
        }
    }
}

fn to_exit_status(s: rp::WaitIdStatus) -> Option<ExitStatus> {
    // Rebuild the raw wait status so callers get a std ExitStatus with both
    // code() and signal() behaving as for std::process::Child.
    if let Some(code) = s.exit_status() {
        Some(ExitStatus::from_raw((code & 0xff) << 8))
    } else {
        let core = if s.dumped() { 0x80 } else { 0 };
        s.terminating_signal()
            .map(|sig| ExitStatus::from_raw(sig | core))
    }
}

fn to_pid(pid: u32) -> Result<Pid, Error> {
    i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| Error::Io(io::Error::from(io::ErrorKind::InvalidInput)))
}

fn to_signal(sig: i32) -> io::Result<Signal> {
    Signal::from_named_raw(sig).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))
}
