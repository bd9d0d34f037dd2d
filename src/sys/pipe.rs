//! Pipes between procrun and its children.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{fcntl_setfl, open, Mode, OFlags};
use rustix::pipe::{fcntl_getpipe_size, fcntl_setpipe_size, pipe_with, PipeFlags};

/// A pipe for a child's output: `(procrun's read end, the child's write end)`.
///
/// Both ends are CLOEXEC from the `pipe2` call itself (the child gets its end
/// through dup2 onto 0/1/2, which clears CLOEXEC on the copy only). Only
/// procrun's end is made nonblocking: the child must block when it is full.
pub(crate) fn output_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = pipe_with(PipeFlags::CLOEXEC)?;
    set_nonblocking(&r)?;
    Ok((r, w))
}

/// A pipe for a child's stdin: `(the child's read end, procrun's write end)`.
pub(crate) fn input_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = pipe_with(PipeFlags::CLOEXEC)?;
    set_nonblocking(&w)?;
    Ok((r, w))
}

/// A pipe between two stages of a pipeline: `(read end, write end)`,
/// both CLOEXEC and blocking. Each stage gets its end by dup2; procrun
/// closes both once they have.
pub(crate) fn stage_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(pipe_with(PipeFlags::CLOEXEC)?)
}

fn set_nonblocking(fd: impl AsFd) -> io::Result<()> {
    // O_NONBLOCK lives in the file status flags, so F_SETFL is the right
    // call here (unlike FD_CLOEXEC, which F_SETFL silently ignores). A new
    // pipe end has no status flag but its access mode, which F_SETFL
    // leaves alone, so no F_GETFL is needed first: one syscall per pipe.
    fcntl_setfl(&fd, OFlags::NONBLOCK)?;
    Ok(())
}

/// `/dev/null`, open for reading and writing, CLOEXEC.
///
/// Opened once per reactor and handed to children as dups: a dup is a
/// fraction of the cost of an `open` (no path walk, no new open file), and
/// a spawn with null stdio would otherwise open it up to three times.
pub(crate) fn dev_null() -> io::Result<OwnedFd> {
    open("/dev/null", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()).map_err(Into::into)
}

/// Asks the kernel to enlarge a pipe to `size` bytes; returns the new
/// capacity. Fails (EPERM) past the per-user pipe quota for unprivileged
/// users; callers keep the pipe as it is then.
pub(crate) fn grow_pipe(fd: impl AsFd, size: usize) -> io::Result<usize> {
    fcntl_setpipe_size(fd, size).map_err(Into::into)
}

/// The soft pipe quota that binds this process, in bytes: the user's
/// (`/proc/sys/fs/pipe-user-pages-soft`, counted in pages), the kernel's
/// default 64 MiB if that cannot be read, or `None` when it is off (0) or
/// the process is privileged (`CAP_SYS_RESOURCE` or `CAP_SYS_ADMIN`
/// effective), which the kernel exempts from it.
///
/// Once every pipe of the user together holds more than the quota, an
/// unprivileged user's new pipes get two pages each and no pipe may grow
/// (pipe(7)): the quota is shared by every process of the user.
pub(crate) fn pipe_quota() -> Option<usize> {
    if privileged_for_pipes() {
        return None;
    }
    let pages = std::fs::read_to_string("/proc/sys/fs/pipe-user-pages-soft")
        .ok()
        .and_then(|t| t.trim().parse::<usize>().ok())
        .unwrap_or(DEFAULT_QUOTA_PAGES);
    (pages > 0).then(|| pages.saturating_mul(rustix::param::page_size()))
}

/// The kernel's default `pipe-user-pages-soft`.
const DEFAULT_QUOTA_PAGES: usize = 16384;

/// Whether the effective capabilities exempt this process from the pipe
/// quota, as the kernel's `pipe_is_unprivileged_user` decides; false when
/// they cannot be read (the quota is then assumed).
fn privileged_for_pipes() -> bool {
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_SYS_RESOURCE: u32 = 24;
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_SYS_ADMIN | 1 << CAP_SYS_RESOURCE) != 0)
}

/// The pipe's capacity now: the child may have changed it.
pub(crate) fn pipe_size(fd: impl AsFd) -> io::Result<usize> {
    fcntl_getpipe_size(fd).map_err(Into::into)
}

/// One `read(2)`; `Ok(0)` is end of file.
pub(crate) fn read(fd: impl AsFd, buf: &mut [u8]) -> io::Result<usize> {
    rustix::io::read(fd, buf).map_err(Into::into)
}

/// One `read(2)` of at most `max` bytes appended to `buf`, in its spare
/// capacity (never allocating: at most that many bytes are read);
/// `Ok(0)` is end of file.
///
/// What a caller that keeps bytes in buffers of its own reads with: the
/// bytes land where they will stay, not in a buffer they are then copied
/// out of.
#[cfg(feature = "tokio")]
#[allow(unsafe_code)]
pub(crate) fn read_append(fd: impl AsFd, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
    let len = buf.len();
    let spare = buf.spare_capacity_mut();
    let room = max.min(spare.len());
    let (read, _) = rustix::io::read(fd, &mut spare[..room])?;
    let n = read.len();
    // SAFETY: `read` returned the first `n` bytes of the spare capacity as
    // initialized (the kernel wrote them), and `n <= room <= capacity - len`.
    unsafe { buf.set_len(len + n) };
    Ok(n)
}

/// One `write(2)`.
pub(crate) fn write(fd: impl AsFd, buf: &[u8]) -> io::Result<usize> {
    rustix::io::write(fd, buf).map_err(Into::into)
}
