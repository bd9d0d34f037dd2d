//! The one place procrun talks to the OS.
//!
//! Everything here is a thin, safe wrapper over rustix and, where rustix
//! has no safe call, over libc (`clone` and the child's calls before its
//! exec, the raw `waitid`, and rustix's unchecked signal numbers,
//! which a real-time signal needs), a few lines of assembly for `clone3`,
//! a read into a buffer's spare capacity (`read_append`, for the async layer), and one SSE2
//! kernel of the line splitter: the only `unsafe` in the
//! library, each block with its `// SAFETY:` argument (clippy's
//! `undocumented_unsafe_blocks` denies one without); the rest of the crate
//! calls none of them directly.
//! What this module provides:
//!
//! - starting a child from its [`ExecArgs`]: [`clone_exec`], with a clean
//!   signal state, its pidfd from the start, and whatever it needs before
//!   its exec (a cgroup, the death signal, credentials, limits, fds);
//! - cgroup v2: [`Cgroup`] (make, watch `populated`, kill, remove) and the
//!   mount's place;
//!
//! - children: [`ChildHandle`] (a pidfd, or the bare pid on kernels without
//!   pidfds) to signal, reap (the raw `waitid` with `WNOHANG`, for the
//!   [`Usage`] it returns) and wait for one child, its group with it
//!   (`signal_with_group`); [`group_has_members`], to see a killed group
//!   end; [`pidfd_allowed`]; [`child_signal`], whether the kernel would
//!   reap them first;
//! - pipes: [`output_pipe`] and [`input_pipe`] (CLOEXEC in the same call,
//!   nonblocking on procrun's end), [`stage_pipe`] between two stages of a
//!   pipeline, [`grow_pipe`], [`pipe_size`], [`pipe_quota`], [`read`],
//!   `read_append`, [`write`], and [`dev_null`] for null stdio;
//! - in-memory files: [`memfd_with`];
//! - what the `/proc` scans need: [`procfs`] (directory listing with
//!   `getdents64` into a reused buffer, one-`read` file reads);
//! - the line splitter's SIMD kernel, `newline_mask` (where the target
//!   enables SSE2).

pub(crate) mod cgroup;
mod child;
mod fork;
mod memfd;
mod pipe;
pub(crate) mod procfs;
mod setup;
#[cfg(all(
    any(target_arch = "x86", target_arch = "x86_64"),
    target_feature = "sse2"
))]
mod simd;

pub(crate) use cgroup::{cgroup_kill_allowed, Cgroup, Limits};
pub(crate) use child::{
    child_signal, group_has_members, pidfd_allowed, ChildHandle, ChildSignal, Usage,
};
pub(crate) use fork::{clone_exec, ExecArgs, ForkExtras, ForkStage, Lane, Started};
pub(crate) use memfd::memfd_with;
#[cfg(feature = "tokio")]
pub(crate) use pipe::read_append;
pub(crate) use pipe::{
    dev_null, grow_pipe, input_pipe, output_pipe, pipe_quota, pipe_size, read, stage_pipe, write,
};
pub(crate) use setup::{rlimit_resource, ChildSetup};
#[cfg(all(
    any(target_arch = "x86", target_arch = "x86_64"),
    target_feature = "sse2"
))]
pub(crate) use simd::newline_mask;
