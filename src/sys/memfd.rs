//! Anonymous in-memory files.

use std::io;
use std::os::fd::OwnedFd;

use rustix::fs::{memfd_create, MemfdFlags};

/// A CLOEXEC memfd holding `bytes`, read position at the start.
pub(crate) fn memfd_with(bytes: &[u8]) -> io::Result<OwnedFd> {
    let fd = memfd_create("procrun-script", MemfdFlags::CLOEXEC)?;
    let mut rest = bytes;
    while !rest.is_empty() {
        match rustix::io::write(&fd, rest) {
            Ok(n) => rest = &rest[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(fd)
}
