//! Pipes between procrun and its children.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
use rustix::pipe::{fcntl_setpipe_size, pipe_with, PipeFlags};

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

fn set_nonblocking(fd: impl AsFd) -> io::Result<()> {
    // O_NONBLOCK lives in the file status flags, so F_SETFL is the right
    // call here (unlike FD_CLOEXEC, which F_SETFL silently ignores).
    let flags = fcntl_getfl(&fd)?;
    fcntl_setfl(&fd, flags | OFlags::NONBLOCK)?;
    Ok(())
}

/// Asks the kernel to enlarge a pipe to `size` bytes; returns the new
/// capacity. Fails (EPERM) past the per-user pipe quota for unprivileged
/// users; callers keep the pipe as it is then.
pub(crate) fn grow_pipe(fd: impl AsFd, size: usize) -> io::Result<usize> {
    fcntl_setpipe_size(fd, size).map_err(Into::into)
}

/// One `read(2)`; `Ok(0)` is end of file.
pub(crate) fn read(fd: impl AsFd, buf: &mut [u8]) -> io::Result<usize> {
    rustix::io::read(fd, buf).map_err(Into::into)
}

/// One `write(2)`.
pub(crate) fn write(fd: impl AsFd, buf: &[u8]) -> io::Result<usize> {
    rustix::io::write(fd, buf).map_err(Into::into)
}
