//! What a child sets up before `execve`, in the kernel's units, checked
//! before any spawn: the child only copies these values into raw system
//! calls.

use std::ffi::CString;
use std::os::fd::{OwnedFd, RawFd};
use std::sync::Arc;

/// The child's settings, prepared once per command (restarts reuse them).
#[derive(Clone, Debug, Default)]
pub(crate) struct ChildSetup {
    /// The working directory.
    pub(crate) cwd: Option<CString>,
    /// `argv[0]` in place of the program as given.
    pub(crate) arg0: Option<CString>,
    pub(crate) groups: Option<Vec<libc::gid_t>>,
    pub(crate) gid: Option<libc::gid_t>,
    pub(crate) uid: Option<libc::uid_t>,
    /// One per resource (a later setting of the same one replaced an
    /// earlier): the `RLIMIT_*` number, soft, hard.
    pub(crate) rlimits: Vec<(libc::c_int, u64, u64)>,
    pub(crate) umask: Option<libc::mode_t>,
    pub(crate) nice: Option<libc::c_int>,
    /// The decimal text written to `/proc/self/oom_score_adj`, and its
    /// length (at most `-1000`, 5 bytes).
    pub(crate) oom_score_adj: Option<([u8; 8], usize)>,
    pub(crate) no_new_privs: bool,
    /// Each fd to pass and its number in the child; targets are 3 or
    /// above and distinct.
    pub(crate) fds: Vec<(Arc<OwnedFd>, RawFd)>,
}

impl ChildSetup {
    /// Whether the child needs more of procrun's code before its exec than
    /// its stdio, cwd and `argv` (what a plain spawn does).
    pub(crate) fn needs_fork(&self) -> bool {
        let ChildSetup {
            cwd: _,
            arg0: _,
            groups,
            gid,
            uid,
            rlimits,
            umask,
            nice,
            oom_score_adj,
            no_new_privs,
            fds,
        } = self;
        groups.is_some()
            || gid.is_some()
            || uid.is_some()
            || !rlimits.is_empty()
            || umask.is_some()
            || nice.is_some()
            || oom_score_adj.is_some()
            || *no_new_privs
            || !fds.is_empty()
    }

    /// Whether a run of `other` would set the child up exactly as this:
    /// equal values, and the very same passed fds.
    pub(crate) fn same_as(&self, other: &ChildSetup) -> bool {
        let ChildSetup {
            cwd,
            arg0,
            groups,
            gid,
            uid,
            rlimits,
            umask,
            nice,
            oom_score_adj,
            no_new_privs,
            fds,
        } = self;
        *cwd == other.cwd
            && *arg0 == other.arg0
            && *groups == other.groups
            && *gid == other.gid
            && *uid == other.uid
            && *rlimits == other.rlimits
            && *umask == other.umask
            && *nice == other.nice
            && *oom_score_adj == other.oom_score_adj
            && *no_new_privs == other.no_new_privs
            && fds.len() == other.fds.len()
            && fds
                .iter()
                .zip(&other.fds)
                .all(|((a, at), (b, bt))| Arc::ptr_eq(a, b) && at == bt)
    }
}

/// The `RLIMIT_*` number of a resource, by its name without `RLIMIT_`.
pub(crate) fn rlimit_resource(name: &str) -> Option<libc::c_int> {
    Some(match name {
        "AS" => libc::RLIMIT_AS,
        "CORE" => libc::RLIMIT_CORE,
        "CPU" => libc::RLIMIT_CPU,
        "DATA" => libc::RLIMIT_DATA,
        "FSIZE" => libc::RLIMIT_FSIZE,
        "LOCKS" => libc::RLIMIT_LOCKS,
        "MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "NICE" => libc::RLIMIT_NICE,
        "NOFILE" => libc::RLIMIT_NOFILE,
        "NPROC" => libc::RLIMIT_NPROC,
        "RSS" => libc::RLIMIT_RSS,
        "RTPRIO" => libc::RLIMIT_RTPRIO,
        "RTTIME" => libc::RLIMIT_RTTIME,
        "SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "STACK" => libc::RLIMIT_STACK,
        _ => return None,
    } as libc::c_int)
}
