//! The one place procrun talks to the OS.
//!
//! Everything here is a thin, safe wrapper over rustix; the rest of the
//! crate never calls rustix directly. What this module provides:
//!
//! - pidfds: [`pidfd_open`], [`pidfd_signal`], [`try_reap`] (`waitid` on
//!   `P_PIDFD` with `WNOHANG`), [`reap_blocking`];
//! - signals to a process group: [`signal_group`];
//! - pipes: [`output_pipe`] and [`input_pipe`] (CLOEXEC in the same call,
//!   nonblocking on procrun's end), [`grow_pipe`], [`read`], [`write`],
//!   and [`dev_null`] for null stdio;
//! - in-memory files: [`memfd_with`].

mod memfd;
mod pidfd;
mod pipe;

pub(crate) use memfd::memfd_with;
pub(crate) use pidfd::{pidfd_open, pidfd_signal, reap_blocking, signal_group, try_reap};
pub(crate) use pipe::{dev_null, grow_pipe, input_pipe, output_pipe, read, write};
