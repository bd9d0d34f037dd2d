//! Starting a child: `clone` and `execve`, with the child's setup between
//! them run by procrun's own code, the way `posix_spawn` runs its own.
//!
//! Every child is made as `posix_spawn` makes its own, sharing this
//! process's memory (`CLONE_VM | CLONE_VFORK`) on a stack of its own until
//! its exec, so no page table is copied (a plain `fork` of a large agent
//! costs a tenth of a millisecond more per run, see
//! `benches/containment.rs`) and the parent thread waits until the child
//! has exec'ed or failed. The one code path serves a plain child as well as
//! one that starts inside its run's cgroup, dies with procrun
//! (`PR_SET_PDEATHSIG`), or is set up with other credentials, resource
//! limits, scheduling or extra fds ([`ChildSetup`]), none of which
//! `posix_spawn` can do.
//!
//! The start is `clone3` (Linux 5.3+, x86_64 and aarch64; glibc does not
//! wrap it, so a few lines of assembly issue it and call the child's entry
//! on its new stack), which does more than `posix_spawn` in the same call:
//!
//! - `CLONE_PIDFD`: the child's pidfd comes with it, no `pidfd_open`
//!   after;
//! - `CLONE_INTO_CGROUP` (Linux 5.7+), for a contained run: the kernel
//!   makes the child inside the cgroup. Without it (an older kernel, or
//!   `PROCRUN_NO_CLONE3=1`) the child writes itself into `cgroup.procs`
//!   first thing, before it can fork or run its program: just as race-free,
//!   on every kernel with cgroup v2 (4.5+), but the move takes the cgroup
//!   core's lock for writing, a few hundred microseconds more per run.
//!
//! Where there is no `clone3` (a kernel before 5.3, a seccomp filter that
//! hides it with `ENOSYS` or refuses it with `EPERM`, as container runtimes
//! did before they knew it, another architecture, or `PROCRUN_NO_CLONE3=1`)
//! the child is started by the C library's `clone` with the same flags and
//! the caller opens its pidfd. What the kernel refused is remembered for
//! the rest of the process: later starts go straight to what works.
//!
//! A child given a [`Lane`] does not copy procrun's fd table. Cloned
//! without one it gets a copy of every fd the agent holds (the kernel
//! takes a reference on each) and closes them all again at its exec
//! (CLOEXEC): a spawn and reap of `true` among 5,000 live children, each
//! with a pidfd and pipes, costs 2.7 times the CPU of one among none
//! (`benches/scaling.rs`). With a lane the child
//! shares the table (`CLONE_FILES`, no copy), sends its stdio fds to
//! itself through the lane's socket pair (`SCM_RIGHTS`), takes a table of
//! its own holding only the fds up to the lane's
//! (`close_range(…, CLOSE_RANGE_UNSHARE)`, Linux 5.9+), and receives them
//! there: what it copies and closes is a handful of fds, whatever the
//! agent holds. The pair is made when the agent holds few fds (a
//! reactor's start), so its numbers, and the copy, stay small. A lane
//! serves one start at a time (its child would take another's message), so
//! a reactor has a few, and a start takes the first free one: starts from
//! several threads at once (tokio's workers) each take their own. A start
//! that finds them all in use, a command with fds to pass, a kernel before
//! 5.9 and `PROCRUN_NO_CLONE3=1` copy the table. Either way the child closes every fd but 0-2 and its passed
//! fds last thing before its exec, so what it inherits does not depend on
//! which table it had.
//!
//! Between `clone` and `execve` the child runs only async-signal-safe raw
//! calls on data prepared before it: no allocation, no lock, so another
//! thread of procrun's holding the allocator's lock cannot deadlock it.
//! A failure is reported to the parent in the memory they share, as
//! glibc's `posix_spawn` does: the child writes the stage and the errno
//! into the parent's frame and exits; the parent, which `CLONE_VFORK`
//! keeps suspended until then, reads them once `clone` returns. No pipe.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::ffi::{CStr, CString};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use super::setup::ChildSetup;

/// What `execve` takes, and what the child gets before it: the program,
/// its arguments and environment, its working directory, its process group
/// and stdio. All strings are NUL-free (the command was validated).
pub(crate) struct ExecArgs<'a> {
    /// The program's path, already looked up on `PATH`.
    pub(crate) path: &'a CStr,
    /// `argv`, `argv[0]` included.
    pub(crate) argv: &'a [CString],
    /// What the child gets as `argv[0]` instead of `argv`'s first.
    pub(crate) arg0: Option<&'a CStr>,
    /// The whole environment, as `KEY=VALUE`.
    pub(crate) envp: &'a [CString],
    pub(crate) cwd: Option<&'a CStr>,
    /// The process group the child moves to, as `setpgid(0, pgid)` takes
    /// it: `Some(0)` a new group it leads, `Some(pgid)` the group of an
    /// earlier stage of its pipeline, `None` the caller's (detached).
    pub(crate) group: Option<u32>,
    /// The fds that become the child's 0, 1 and 2.
    pub(crate) stdio: [BorrowedFd<'a>; 3],
}

/// What the child does before `execve` beyond what every child gets (a
/// clean signal state, its process group, stdio and cwd).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ForkExtras<'a> {
    /// The run's cgroup directory: the child starts in it
    /// (`CLONE_INTO_CGROUP`) or, where the kernel cannot, writes itself
    /// into its `cgroup.procs` first thing.
    pub(crate) cgroup: Option<BorrowedFd<'a>>,
    /// `PR_SET_PDEATHSIG` with `SIGKILL`.
    pub(crate) die_with_parent: bool,
    /// Credentials, limits, scheduling and fds to pass.
    pub(crate) setup: Option<&'a ChildSetup>,
    /// The lanes the child may take its fds through instead of a copy of
    /// the whole table (the first free one); a start with fds to pass, or
    /// one that finds every lane in use, copies the table.
    pub(crate) lanes: &'a [Lane],
}

/// A socket pair through which a child hands its stdio fds to itself,
/// from procrun's fd table to a small one of its own (see the module
/// docs). One start at a time uses it (a child would take another's
/// message): a start that finds it in use copies the table instead.
#[derive(Debug)]
pub(crate) struct Lane {
    send: OwnedFd,
    recv: OwnedFd,
    busy: AtomicBool,
}

/// `close_range`'s number, the same on every architecture.
const SYS_CLOSE_RANGE: libc::c_long = 436;
const CLOSE_RANGE_UNSHARE: libc::c_uint = 2;
/// The stdio fds, all a child takes through a lane.
const LANE_FDS: usize = 3;

/// Set once a child could not take a table of its own (a kernel or a
/// seccomp filter that refused `close_range`): later starts copy the
/// table, as before 5.9.
static NO_LANE: AtomicBool = AtomicBool::new(false);

impl Lane {
    /// A lane, or `None` where the kernel has no `close_range` (before
    /// 5.9; `PROCRUN_NO_CLONE3=1` forces that too), a child could not use
    /// one before, or no socket pair can be made (children then copy the
    /// table, as they always could).
    pub(crate) fn new() -> Option<Lane> {
        if NO_LANE.load(Ordering::Relaxed) || clone3_limits() & NO_CLONE3 != 0 {
            return None;
        }
        // An empty range closes nothing: this only asks whether the call
        // exists. (Never with CLOSE_RANGE_UNSHARE here: that would take
        // this thread's table away from the other threads'.)
        // SAFETY: by value; closes no fd (no fd is numbered u32::MAX).
        if unsafe { libc::syscall(SYS_CLOSE_RANGE, u32::MAX, u32::MAX, 0) } != 0 {
            NO_LANE.store(true, Ordering::Relaxed);
            return None;
        }
        let mut fds = [-1; 2];
        // SAFETY: the kernel writes two fds into `fds`, ours alone.
        let r = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        if r != 0 {
            return None;
        }
        // SAFETY: the two new fds, each owned once.
        let (send, recv) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // Above 0-2, which a child's stdio takes: a host that closed its
        // stdin would otherwise have the pair there.
        let above = |fd: OwnedFd| -> Option<OwnedFd> {
            if fd.as_raw_fd() > 2 {
                return Some(fd);
            }
            rustix::io::fcntl_dupfd_cloexec(&fd, 3).ok()
        };
        Some(Lane {
            send: above(send)?,
            recv: above(recv)?,
            busy: AtomicBool::new(false),
        })
    }

    /// The lane for one start, or `None` while another start has it.
    fn take(&self) -> Option<LaneTaken<'_>> {
        let free = self
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
        // `then`, not `then_some`: a guard made for a failed try would be
        // dropped at once, and its drop would free the lane another start
        // holds.
        free.then(|| LaneTaken(self))
    }

    /// Takes what a child left in the lane (its fds, had it died between
    /// sending and receiving them): the next child must not get them, and
    /// a pipe's write end held there would keep its reader from EOF.
    fn drain(&self) {
        let mut byte = 0u8;
        let mut iov = libc::iovec {
            iov_base: ptr::addr_of_mut!(byte).cast(),
            iov_len: 1,
        };
        let mut control = [0u64; 4];
        let mut msg = lane_msg(&mut iov, &mut control);
        // SAFETY: the header points at `iov`, `byte` and `control`, live
        // locals; the kernel installs at most LANE_FDS fds (all a child
        // sends), CLOEXEC, which are closed here, each once.
        unsafe {
            let r = libc::recvmsg(
                self.recv.as_raw_fd(),
                &mut msg,
                libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC,
            );
            let c = libc::CMSG_FIRSTHDR(&msg);
            if r < 0 || c.is_null() || (*c).cmsg_type != libc::SCM_RIGHTS {
                return;
            }
            let n = ((*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / 4;
            let data = libc::CMSG_DATA(c).cast::<libc::c_int>();
            for i in 0..n.min(LANE_FDS) {
                libc::close(ptr::read_unaligned(data.add(i)));
            }
        }
    }
}

/// A lane one start has; free again on drop.
struct LaneTaken<'a>(&'a Lane);

impl Drop for LaneTaken<'_> {
    fn drop(&mut self) {
        self.0.busy.store(false, Ordering::Release);
    }
}

/// A message header for the one byte at `iov` and up to [`LANE_FDS`] fds
/// in `control`.
fn lane_msg(iov: &mut libc::iovec, control: &mut [u64; 4]) -> libc::msghdr {
    // SAFETY: all zeroes is a valid msghdr; its fields are set below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE only computes a size: 32 bytes for three fds,
    // what `control` holds.
    msg.msg_controllen = unsafe { libc::CMSG_SPACE((LANE_FDS * 4) as u32) } as _;
    msg
}

/// Which step of the start failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ForkStage {
    /// `clone` itself, or the child's stack.
    Fork,
    /// Moving into the cgroup.
    Cgroup,
    /// The process group, the death signal or the stdio fds.
    Setup,
    /// `chdir` or `execve`, as `posix_spawn` reports them.
    Exec,
    /// `setgroups`.
    Groups,
    /// `setgid`.
    Gid,
    /// `setuid`.
    Uid,
    /// A resource limit.
    Rlimit,
    /// The nice value.
    Nice,
    /// Writing `oom_score_adj`.
    OomScoreAdj,
    /// `PR_SET_NO_NEW_PRIVS`.
    NoNewPrivs,
    /// Moving a passed fd to its number.
    PassFd,
    /// Taking the stdio fds through a [`Lane`] into a table of the
    /// child's own.
    Lane,
}

/// Every stage, at the index of its discriminant (what the report carries).
const STAGES: [ForkStage; 13] = [
    ForkStage::Fork,
    ForkStage::Cgroup,
    ForkStage::Setup,
    ForkStage::Exec,
    ForkStage::Groups,
    ForkStage::Gid,
    ForkStage::Uid,
    ForkStage::Rlimit,
    ForkStage::Nice,
    ForkStage::OomScoreAdj,
    ForkStage::NoNewPrivs,
    ForkStage::PassFd,
    ForkStage::Lane,
];

/// A failure the child reports before it exits: the stage, and errno as
/// the failed call left it. `NONE` until then, and for good once the child
/// has exec'ed (its memory is no longer this process's).
#[repr(C)]
struct Report {
    stage: u32,
    errno: i32,
}

impl Report {
    const NONE: u32 = u32::MAX;
}

/// Everything the child touches, as raw values and pointers into memory
/// the parent keeps alive until the child has exec'ed or failed.
struct ChildArgs {
    path: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    cwd: *const libc::c_char,
    /// `setpgid`'s pgid, or -1 to stay in procrun's group.
    group: libc::pid_t,
    stdio: [libc::c_int; 3],
    cgroup_procs: libc::c_int,
    /// The lane's ends (send, receive), or -1: the child shares the
    /// parent's table (CLONE_FILES) until it takes its own.
    lane: [libc::c_int; 2],
    die_with_parent: bool,
    parent: rustix::process::Pid,
    /// Where a failure goes: the parent's, read once `clone` returned.
    report: *mut Report,
    /// `setgroups`' list, or null for none; `drop_groups`: with a new uid
    /// and no list, clear the supplementary groups where allowed.
    groups: *const libc::gid_t,
    ngroups: usize,
    drop_groups: bool,
    gid: Option<libc::gid_t>,
    uid: Option<libc::uid_t>,
    rlimits: *const (libc::c_int, u64, u64),
    nrlimits: usize,
    umask: Option<libc::mode_t>,
    nice: Option<libc::c_int>,
    oom_score_adj: Option<([u8; 8], usize)>,
    no_new_privs: bool,
    /// Each passed fd (a dup above every target) and its target.
    fds: *const (libc::c_int, libc::c_int),
    nfds: usize,
}

/// A child that has exec'ed: its pid, and its pidfd when one was asked for
/// and came with the start (`CLONE_PIDFD`); without `clone3` the caller
/// opens it.
#[derive(Debug)]
pub(crate) struct Started {
    pub(crate) pid: u32,
    pub(crate) pidfd: Option<OwnedFd>,
}

/// Starts the child by `clone` and `execve` and returns it once it has
/// exec'ed.
///
/// The child starts with no signal blocked and every signal at its
/// default action, whatever the calling thread blocks or the host ignores
/// (a stop must reach it, and a supervisor that inherited an ignored
/// `SIGTERM`, from `nohup` say, must not hand that on); in its own process
/// group unless detached; with its stdio and cwd; plus `extras`. With
/// `want_pidfd`, its pidfd comes with the start where the kernel can.
///
/// # Errors
///
/// The stage that failed and its errno; the child, if one was made, is
/// reaped before this returns.
pub(crate) fn clone_exec(
    args: &ExecArgs<'_>,
    extras: &ForkExtras<'_>,
    want_pidfd: bool,
) -> Result<Started, (ForkStage, io::Error)> {
    clone_exec_with(args, extras, want_pidfd, clone3_limits())
}

/// [`clone_exec`] knowing `limits`, what [`CLONE3`] holds (the tests force
/// the fallbacks through it).
fn clone_exec_with(
    args: &ExecArgs<'_>,
    extras: &ForkExtras<'_>,
    want_pidfd: bool,
    limits: u8,
) -> Result<Started, (ForkStage, io::Error)> {
    let mut argv: Vec<*const libc::c_char> = args.argv.iter().map(|a| a.as_ptr()).collect();
    if let Some(arg0) = args.arg0 {
        argv[0] = arg0.as_ptr();
    }
    argv.push(ptr::null());
    let mut envp: Vec<*const libc::c_char> = args.envp.iter().map(|e| e.as_ptr()).collect();
    envp.push(ptr::null());
    let empty = ChildSetup::default();
    let setup = extras.setup.unwrap_or(&empty);
    // The child moves each passed fd to its target with dup2, which
    // closes whatever had that number: a source fd or a stdio source of
    // the child's. Each is dup'ed here above the highest target (as
    // systemd does), so no dup2 of the child's hits another's source. The
    // stdio fds are at 0-2 before any passed fd moves.
    let passed = match setup.fds.iter().map(|(_, t)| *t).max() {
        Some(top) => {
            let mut passed = Vec::with_capacity(setup.fds.len());
            for (fd, target) in &setup.fds {
                let above = rustix::io::fcntl_dupfd_cloexec(fd, top + 1)
                    .map_err(|e| (ForkStage::PassFd, io::Error::from(e)))?;
                passed.push((above, *target));
            }
            passed
        }
        None => Vec::new(),
    };
    let mut moved: Vec<(libc::c_int, libc::c_int)> = passed
        .iter()
        .map(|(fd, target)| (fd.as_raw_fd(), *target))
        .collect();
    // The child closes what lies between the targets, in order.
    moved.sort_unstable_by_key(|&(_, target)| target);
    // Passed fds go the old way, with the table: a lane carries stdio.
    let taken = match setup.fds.is_empty() && !NO_LANE.load(Ordering::Relaxed) {
        true => extras.lanes.iter().find_map(Lane::take),
        false => None,
    };
    let lane = taken.as_ref().map(|t| t.0);
    let mut report = Report {
        stage: Report::NONE,
        errno: 0,
    };
    let mut p = ChildArgs {
        path: args.path.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        cwd: args.cwd.map_or(ptr::null(), CStr::as_ptr),
        group: args.group.map_or(-1, |g| g as libc::pid_t),
        stdio: args.stdio.map(|fd| fd.as_raw_fd()),
        cgroup_procs: -1,
        lane: lane.map_or([-1, -1], |l| [l.send.as_raw_fd(), l.recv.as_raw_fd()]),
        die_with_parent: extras.die_with_parent,
        parent: rustix::process::getpid(),
        report: ptr::addr_of_mut!(report),
        groups: setup.groups.as_ref().map_or(ptr::null(), |g| g.as_ptr()),
        ngroups: setup.groups.as_ref().map_or(0, Vec::len),
        drop_groups: setup.uid.is_some() && setup.groups.is_none(),
        gid: setup.gid,
        uid: setup.uid,
        rlimits: setup.rlimits.as_ptr(),
        nrlimits: setup.rlimits.len(),
        umask: setup.umask,
        nice: setup.nice,
        oom_score_adj: setup.oom_score_adj,
        no_new_privs: setup.no_new_privs,
        fds: moved.as_ptr(),
        nfds: moved.len(),
    };

    // Every signal blocked across the clone, so no handler of the host's
    // runs in the child before its dispositions are reset.
    let mut old = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigfillset initialises `all`; pthread_sigmask reads it and
    // writes the previous mask into `old`, a valid out-pointer.
    unsafe {
        let mut all = MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigfillset(all.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_SETMASK, all.as_ptr(), old.as_mut_ptr());
    }
    // Kept until the child has exec'ed or failed: it writes through it.
    let mut procs = None;
    let started = with_stack(|stack| {
        start_child(stack, &mut p, want_pidfd, extras.cgroup, &mut procs, limits)
    });
    // SAFETY: `old` was filled by the pthread_sigmask above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old.as_ptr(), ptr::null_mut()) };
    drop((procs, passed, argv, envp, moved));
    if let Some(lane) = lane {
        lane.drain();
    }
    drop(taken);
    let started = started?;
    // SAFETY: `report` is a live local; the child that wrote it (if it
    // did) has exited, which CLONE_VFORK waited for. Volatile: the write
    // came from another task, unseen by the compiler.
    let report = unsafe { ptr::read_volatile(ptr::addr_of!(report)) };
    if report.stage == Report::NONE {
        return Ok(started);
    }
    // Our child, unreaped (`clone` returned its positive pid): reaped
    // here, once. (`None` would wait for any child.)
    if let Some(child) = i32::try_from(started.pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        while let Err(rustix::io::Errno::INTR) =
            rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty())
        {}
    }
    let stage = STAGES
        .get(report.stage as usize)
        .copied()
        .unwrap_or(ForkStage::Setup);
    if stage == ForkStage::Lane {
        // The kernel (or a seccomp filter) would not let the child take a
        // table of its own: it ran nothing of the command's, so it is
        // started again, copying the table as before, and so is every
        // later child.
        NO_LANE.store(true, Ordering::Relaxed);
        let plain = ForkExtras {
            lanes: &[],
            ..*extras
        };
        return clone_exec_with(args, &plain, want_pidfd, limits);
    }
    Err((stage, io::Error::from_raw_os_error(report.errno)))
}

/// Makes the child on `stack` by the first way the kernel takes (of those
/// `limits` leaves): `clone3` into the cgroup, `clone3`, the C library's
/// `clone`. For a contained run that cannot start inside its cgroup, opens
/// its `cgroup.procs` into `procs` for the child to write itself into.
fn start_child(
    stack: &ChildStack,
    p: &mut ChildArgs,
    want_pidfd: bool,
    cgroup: Option<BorrowedFd<'_>>,
    procs: &mut Option<OwnedFd>,
    limits: u8,
) -> Result<Started, (ForkStage, io::Error)> {
    if let Some(dir) = cgroup {
        if let Ok(started) = clone3(stack, p, want_pidfd, Some(dir), limits) {
            return Ok(started);
        }
        // Any error: the kernel lacks it (remembered), or the cgroup
        // refused; the write then fails with the cgroup's own error, as
        // on kernels without it.
        let fd = rustix::fs::openat(
            dir,
            c"cgroup.procs",
            rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| (ForkStage::Cgroup, io::Error::from(e)))?;
        p.cgroup_procs = fd.as_raw_fd();
        *procs = Some(fd);
    }
    match clone3(stack, p, want_pidfd, None, limits) {
        Ok(started) => return Ok(started),
        // Refused or hidden (remembered): the C library's clone below.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {}
        Err(e) => return Err((ForkStage::Fork, e)),
    }
    let files = if p.lane[0] >= 0 { libc::CLONE_FILES } else { 0 };
    // SAFETY: `child_main` runs on `stack` (mapped, writable, and kept
    // until this call returns, which with CLONE_VFORK is after the
    // child's exec or exit) and reads `p`, which the caller keeps alive
    // for as long. It makes only async-signal-safe calls and ends in
    // `execve` or `_exit`, never returning into shared memory.
    let pid = unsafe {
        libc::clone(
            child_main,
            stack.top(),
            libc::CLONE_VM | libc::CLONE_VFORK | files | libc::SIGCHLD,
            ptr::addr_of_mut!(*p).cast(),
        )
    };
    if pid < 0 {
        return Err((ForkStage::Fork, io::Error::last_os_error()));
    }
    Ok(Started {
        pid: pid as u32,
        pidfd: None,
    })
}

/// Bytes of the child's stack: the few frames of `child` and of `execve`,
/// with room to spare (it is only reserved; untouched pages cost nothing).
const STACK_SIZE: usize = 256 * 1024;

thread_local! {
    /// The stack this thread's children ran on, kept for the next: a
    /// child leaves it (exec or exit) before `clone` returns, and only this
    /// thread starts children on it. Mapping one per start cost an `mmap`,
    /// an `mprotect`, an `munmap` and the page faults of its first use,
    /// each time; kept, it costs the few pages the child touched, per
    /// thread that spawns, until that thread ends.
    static STACK: Cell<Option<ChildStack>> = const { Cell::new(None) };
}

/// Runs `f` with this thread's child stack (mapped on first use).
fn with_stack<R>(
    f: impl FnOnce(&ChildStack) -> Result<R, (ForkStage, io::Error)>,
) -> Result<R, (ForkStage, io::Error)> {
    // Taken out while in use; a thread whose locals are being destroyed
    // gets a fresh one, unmapped after.
    let stack = match STACK.try_with(Cell::take).ok().flatten() {
        Some(s) => s,
        None => ChildStack::new().map_err(|e| (ForkStage::Fork, e))?,
    };
    let r = f(&stack);
    let _ = STACK.try_with(move |s| s.set(Some(stack)));
    r
}

/// The stack the child runs on while it shares this process's memory, with
/// a guard page below it; unmapped on drop.
///
/// AddressSanitizer checks the child's accesses like any other (the shadow
/// memory is shared too) but does not know this stack: before the child's
/// calls that never return it declines to unpoison "the thread's stack"
/// and says so once per process ("ignoring requested
/// __asan_handle_no_return"). Nothing is lost: its interceptors clear the
/// mapping's shadow when it is mapped and unmapped, and the child's frames
/// set their own shadow as they are entered, so a stack used again starts
/// each frame clean.
struct ChildStack {
    base: *mut libc::c_void,
    len: usize,
}

impl ChildStack {
    fn new() -> io::Result<ChildStack> {
        let page = rustix::param::page_size();
        let len = STACK_SIZE + page;
        // SAFETY: a fresh anonymous private mapping; nothing else points
        // into it.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = ChildStack { base, len };
        // The stack grows down: an overflow hits this page and faults
        // instead of writing over memory the parent owns.
        // SAFETY: the first page of the mapping made above.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The lowest usable address (above the guard page) and the size.
    fn usable(&self) -> (*mut libc::c_void, usize) {
        let guard = self.len - STACK_SIZE;
        (
            self.base.cast::<u8>().wrapping_add(guard).cast(),
            STACK_SIZE,
        )
    }

    /// The highest address, 16-byte aligned as every ABI wants of a stack
    /// (a mapping's end is page-aligned).
    fn top(&self) -> *mut libc::c_void {
        self.base.cast::<u8>().wrapping_add(self.len).cast()
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, no longer used: with
        // CLONE_VFORK the child left it (exec or exit) before `clone`
        // returned.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// The kernel's `struct clone_args` up to `cgroup` (its version 2, 88
/// bytes, Linux 5.7); a start that needs no cgroup passes only the first
/// 64 bytes (version 0, Linux 5.3).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// `CLONE_ARGS_SIZE_VER0`: `clone_args` without `set_tid` and `cgroup`.
const CLONE_ARGS_V0: usize = 64;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
/// `clone3`'s number, the same on every architecture (the unified table).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const SYS_CLONE3: libc::c_long = 435;

/// What this process knows `clone3` cannot do, as bits: set once the
/// kernel said so, or from `PROCRUN_NO_CLONE3=1` at the first start (so
/// the tests can run the fallbacks on one kernel); read by every start.
static CLONE3: AtomicU8 = AtomicU8::new(0);
/// The environment was read.
const CLONE3_KNOWN: u8 = 1;
/// No `clone3` at all (ENOSYS before 5.3, a seccomp filter's ENOSYS or
/// EPERM, or forced): the C library's `clone`.
const NO_CLONE3: u8 = 2;
/// No `CLONE_INTO_CGROUP` (E2BIG or EINVAL before 5.7, or forced): the
/// child's write to `cgroup.procs`.
const NO_INTO_CGROUP: u8 = 4;

/// The bits of [`CLONE3`], reading `PROCRUN_NO_CLONE3` the first time.
fn clone3_limits() -> u8 {
    let known = CLONE3.load(Ordering::Relaxed);
    if known & CLONE3_KNOWN != 0 {
        return known;
    }
    let forced = matches!(std::env::var_os("PROCRUN_NO_CLONE3"), Some(v) if v == "1");
    let bits = CLONE3_KNOWN
        | if forced {
            NO_CLONE3 | NO_INTO_CGROUP
        } else {
            0
        };
    CLONE3.fetch_or(bits, Ordering::Relaxed) | bits
}

/// Starts the child on `stack` with `clone3`: `CLONE_VM | CLONE_VFORK` as
/// `posix_spawn` does, with `CLONE_PIDFD` when `want_pidfd` and, with
/// `cgroup`, `CLONE_INTO_CGROUP` (the kernel puts it there before it runs,
/// without the migration a write to `cgroup.procs` costs: the cgroup core's
/// global lock, taken for writing). Returns the started child, or the
/// errno; what the errno says the kernel lacks is remembered, and what
/// `limits` says it lacks is ENOSYS at once.
fn clone3(
    stack: &ChildStack,
    p: &mut ChildArgs,
    want_pidfd: bool,
    cgroup: Option<BorrowedFd<'_>>,
    limits: u8,
) -> io::Result<Started> {
    let lacking = match cgroup {
        Some(_) => NO_CLONE3 | NO_INTO_CGROUP,
        None => NO_CLONE3,
    };
    if limits & lacking != 0 {
        return Err(io::Error::from_raw_os_error(libc::ENOSYS));
    }
    let (low, size) = stack.usable();
    let mut pidfd: libc::c_int = -1;
    let mut flags = (libc::CLONE_VM | libc::CLONE_VFORK) as u64;
    if p.lane[0] >= 0 {
        flags |= libc::CLONE_FILES as u64;
    }
    if want_pidfd {
        flags |= libc::CLONE_PIDFD as u64;
    }
    if cgroup.is_some() {
        flags |= CLONE_INTO_CGROUP;
    }
    let args = CloneArgs {
        flags,
        pidfd: ptr::addr_of_mut!(pidfd) as u64,
        exit_signal: libc::SIGCHLD as u64,
        stack: low as u64,
        stack_size: size as u64,
        cgroup: cgroup.map_or(0, |dir| dir.as_raw_fd() as u64),
        ..CloneArgs::default()
    };
    let len = match cgroup {
        Some(_) => std::mem::size_of::<CloneArgs>(),
        None => CLONE_ARGS_V0,
    };
    // SAFETY: as for `libc::clone` in `start_child`: the child runs
    // `child_main` on `stack` with `p`, both alive until it has exec'ed or
    // exited, which CLONE_VFORK waits for; the kernel reads `len` bytes of
    // `args` and writes the pidfd into `pidfd`, a live local.
    let r = unsafe { clone3_vfork(&args, len, child_main, ptr::addr_of_mut!(*p).cast()) };
    if r < 0 {
        let errno = (-r) as i32;
        let lacks = match (errno, cgroup) {
            (libc::ENOSYS, _) => NO_CLONE3,
            (libc::EPERM, None) => NO_CLONE3,
            (libc::E2BIG | libc::EINVAL, Some(_)) => NO_INTO_CGROUP,
            _ => 0,
        };
        CLONE3.fetch_or(lacks, Ordering::Relaxed);
        return Err(io::Error::from_raw_os_error(errno));
    }
    // SAFETY: with CLONE_PIDFD the kernel wrote a new fd, ours alone, into
    // `pidfd` before `clone3` returned the pid.
    let pidfd = want_pidfd.then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
    Ok(Started {
        pid: r as u32,
        pidfd,
    })
}

/// The raw `clone3` syscall for a child that shares this process's memory:
/// the child comes back from the syscall on its new stack, where no frame
/// of this function exists, so it must not return into Rust code. It calls
/// `entry(arg)` straight from the assembly (which never returns) with a
/// cleared frame pointer; the parent gets the syscall's result: the pid,
/// or `-errno`.
///
/// # Safety
///
/// `args` must name a stack the child may use, `len` be at most its size
/// and `entry` never return; what `entry` touches must stay alive until the child has
/// exec'ed or exited (CLONE_VFORK makes the parent wait for that).
#[cfg(target_arch = "x86_64")]
unsafe fn clone3_vfork(
    args: &CloneArgs,
    len: usize,
    entry: extern "C" fn(*mut libc::c_void) -> libc::c_int,
    arg: *mut libc::c_void,
) -> libc::c_long {
    let ret: libc::c_long;
    // SAFETY: the caller's contract above; the parent's registers other
    // than rax, rcx and r11 (declared) survive the syscall, and the child
    // never comes back into this frame.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            // The child, on its own stack (16-byte aligned: a page's end).
            "xor ebp, ebp",
            "mov rdi, r12",
            "call r13",
            "ud2",
            "2:",
            inlateout("rax") SYS_CLONE3 => ret,
            in("rdi") args as *const CloneArgs,
            in("rsi") len,
            in("r12") arg,
            in("r13") entry,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        )
    };
    ret
}

/// See the x86_64 version.
#[cfg(target_arch = "aarch64")]
unsafe fn clone3_vfork(
    args: &CloneArgs,
    len: usize,
    entry: extern "C" fn(*mut libc::c_void) -> libc::c_int,
    arg: *mut libc::c_void,
) -> libc::c_long {
    let ret: libc::c_long;
    // SAFETY: the caller's contract above; the kernel keeps every register
    // but x0 (declared) across `svc`, and the child, which clears x29 and
    // x30, never comes back into this frame.
    unsafe {
        std::arch::asm!(
            "svc 0",
            "cbnz x0, 2f",
            // The child, on its own stack (16-byte aligned: a page's end).
            "mov x29, xzr",
            "mov x30, xzr",
            "mov x0, x20",
            "blr x21",
            "brk #1",
            "2:",
            in("x8") SYS_CLONE3,
            inlateout("x0") args as *const CloneArgs => ret,
            in("x1") len,
            in("x20") arg,
            in("x21") entry,
            options(nostack),
        )
    };
    ret
}

/// Other architectures start every child by the C library's `clone`.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn clone3_vfork(
    _args: &CloneArgs,
    _len: usize,
    _entry: extern "C" fn(*mut libc::c_void) -> libc::c_int,
    _arg: *mut libc::c_void,
) -> libc::c_long {
    -(libc::ENOSYS as libc::c_long)
}

/// The child's entry point, as `clone` calls it.
extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `ChildArgs` that `clone_exec` passed, alive
    // while the parent waits (CLONE_VFORK); this is the new child.
    unsafe { child(&*(arg as *const ChildArgs)) }
}

/// The child's side, from `clone` to exec.
///
/// The child shares this process's memory (CLONE_VM, as `posix_spawn`
/// does) until its exec, with the parent thread suspended meanwhile: it
/// writes nothing the parent reads but errno, which the parent no longer
/// looks at, and its report of a failure. Its signal handlers are its own copy
/// (no CLONE_SIGHAND), so resetting them leaves the parent's alone.
///
/// # Safety
///
/// Call only in a child made as `clone_exec` makes it, with `p` prepared
/// there; it never returns. Only async-signal-safe functions are called and
/// nothing is allocated.
unsafe fn child(p: &ChildArgs) -> ! {
    // Every call below is async-signal-safe and allocates nothing; what
    // makes each one's arguments valid is said beside it.
    let fail = |stage: ForkStage| -> ! {
        // errno is this thread's (the parent's: CLONE_VM without a TLS of
        // its own), and the parent reads it no more.
        let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
        let report = Report {
            stage: stage as u32,
            errno,
        };
        // SAFETY: `p.report` points to the parent's `Report`, alive and
        // untouched by it while it waits (CLONE_VFORK); it reads it after
        // this child's exit, which orders the write before the read.
        unsafe { ptr::write_volatile(p.report, report) };
        // SAFETY: `_exit` ends the child at once: no atexit handler or
        // stdio flush of the parent's, whose memory it shares, runs.
        unsafe { libc::_exit(127) }
    };
    // First, when the kernel did not start it inside: until this write
    // the child is outside the run's cgroup, and it has run nothing of its
    // own yet.
    if p.cgroup_procs >= 0 {
        // SAFETY: one readable byte; `cgroup_procs` is the open
        // `cgroup.procs` the parent holds until this child has exec'ed.
        if unsafe { libc::write(p.cgroup_procs, b"0".as_ptr().cast(), 1) } != 1 {
            fail(ForkStage::Cgroup);
        }
    }
    let mut src = p.stdio;
    // Before anything that changes an fd: until it has a table of its own
    // the child shares procrun's.
    if p.lane[0] >= 0 {
        // SAFETY: the lane's fds and `src` are open in the table this
        // child shares with procrun, which keeps them open until it has
        // exec'ed (CLONE_VFORK).
        if unsafe { take_own_table(p.lane, &mut src) }.is_err() {
            fail(ForkStage::Lane);
        }
    }
    // SAFETY: by value, on this process only.
    if p.group >= 0 && unsafe { libc::setpgid(0, p.group) } != 0 {
        fail(ForkStage::Setup);
    }
    // A source fd among 0-2 that is not its own target could be
    // overwritten by an earlier dup2: move those above 2 first.
    for (target, fd) in src.iter_mut().enumerate() {
        if *fd < 3 && *fd != target as libc::c_int {
            // SAFETY: duplicates a descriptor of this child's table (its
            // own copy: no CLONE_FILES); a bad fd is an error, no UB.
            let moved = unsafe { libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 3) };
            if moved < 0 {
                fail(ForkStage::Setup);
            }
            *fd = moved;
        }
    }
    for (target, &fd) in src.iter().enumerate() {
        let target = target as libc::c_int;
        // dup2 onto itself keeps FD_CLOEXEC, which would close the fd at
        // exec; posix_spawn's adddup2 clears it in that case too.
        let ok = if fd == target {
            // SAFETY: as above: flags of a descriptor of this child's own
            // table.
            unsafe { libc::fcntl(fd, libc::F_SETFD, 0) == 0 }
        } else {
            // SAFETY: as above; the fd replaced at `target` is this
            // child's copy, which nothing of the parent's uses.
            unsafe { libc::dup2(fd, target) == target }
        };
        if !ok {
            fail(ForkStage::Setup);
        }
    }
    // SAFETY: the fds and the limits point into the parent's vectors,
    // alive while it waits (CLONE_VFORK), `n*` entries each.
    if let Err(stage) = unsafe { pass_fds_and_limits(p) } {
        fail(stage);
    }
    // SAFETY: as above, for the group list.
    if let Err(stage) = unsafe { credentials(p) } {
        fail(stage);
    }
    // After the credentials: a change of them clears the death signal.
    if p.die_with_parent {
        // SAFETY: PR_SET_PDEATHSIG takes a signal number by value and
        // changes only this process's own setting.
        let r = unsafe {
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            )
        };
        if r != 0 {
            fail(ForkStage::Setup);
        }
        // A parent that died before the prctl sent nothing: the child was
        // re-parented already, and must go now, as the signal would have
        // made it.
        if rustix::process::getppid() != Some(p.parent) {
            // SAFETY: as in `fail`.
            unsafe { libc::_exit(127) };
        }
    }
    // SAFETY: `cwd`, when set, points into the arguments' C string, alive and
    // NUL-terminated while the parent waits (CLONE_VFORK).
    if !p.cwd.is_null() && unsafe { libc::chdir(p.cwd) } != 0 {
        fail(ForkStage::Exec);
    }
    // Every disposition to its default (a handler the host set would run
    // here once signals are unblocked; an ignored signal would survive the
    // exec), then nothing blocked. The raw syscall, because glibc's
    // wrapper refuses the two signals it reserves for its threads, which
    // the child (one thread, about to exec) may reset like any other. An
    // all-zero kernel `sigaction` is SIG_DFL with no flags and no mask
    // whatever the architecture's field order.
    let dfl = [0u64; 4];
    for sig in 1..=64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: the kernel reads one `struct sigaction` from `dfl`,
            // 32 readable bytes, as many as its largest layout (handler,
            // flags, restorer, and the 8-byte mask whose size is passed),
            // and writes no old action (null). The dispositions are this
            // child's own copy (no CLONE_SIGHAND).
            unsafe {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    dfl.as_ptr(),
                    ptr::null_mut::<u64>(),
                    8usize,
                )
            };
        }
    }
    // SAFETY: by value, on this process only.
    if p.no_new_privs && unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        fail(ForkStage::NoNewPrivs);
    }
    let mut none = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: `none` is a writable sigset_t for sigemptyset to fill, and
    // then read as the new mask; the old one is not asked for (null).
    unsafe {
        libc::sigemptyset(none.as_mut_ptr());
        libc::sigprocmask(libc::SIG_SETMASK, none.as_ptr(), ptr::null_mut());
    }
    // SAFETY: the passed fds' list, alive while the parent waits, sorted
    // by target.
    unsafe { close_all_but_stdio_and_passed(p) };
    // SAFETY: `path`, `argv` and `envp` point to the arguments' C strings and
    // to null-terminated arrays of pointers to them, all alive while the
    // parent waits (CLONE_VFORK); on success nothing of this image runs
    // again.
    unsafe { libc::execve(p.path, p.argv, p.envp) };
    fail(ForkStage::Exec)
}

/// Gives the child a fd table of its own holding what it needs, without
/// a copy of procrun's: `src` sent through the lane (`[send, receive]`)
/// while the table is still shared, a table of its own made of the fds up
/// to the lane's (`close_range` with `CLOSE_RANGE_UNSHARE` copies only
/// those), and `src` received into it, at new numbers written back to
/// `src`. Whatever else of procrun's came along is CLOEXEC, and few.
///
/// # Safety
///
/// Only in a child made with `CLONE_FILES` by `clone_exec`, before it has
/// changed any fd: `lane` and `src` are open in the table it shares.
/// Async-signal-safe and allocation-free, as the rest of the child.
unsafe fn take_own_table(lane: [libc::c_int; 2], src: &mut [libc::c_int; 3]) -> Result<(), ()> {
    let mut byte = 0u8;
    let mut iov = libc::iovec {
        iov_base: ptr::addr_of_mut!(byte).cast(),
        iov_len: 1,
    };
    let mut control = [0u64; 4];
    let mut msg = lane_msg(&mut iov, &mut control);
    // SAFETY: the header's control buffer has room for one header and
    // LANE_FDS fds (CMSG_SPACE), so the first header and its data are
    // inside it; the fds are written unaligned, as CMSG_DATA may be.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN((LANE_FDS * 4) as u32) as _;
        let data = libc::CMSG_DATA(c).cast::<libc::c_int>();
        for (i, fd) in src.iter().enumerate() {
            ptr::write_unaligned(data.add(i), *fd);
        }
    }
    // SAFETY: `msg` points at live locals; the kernel takes a reference on
    // each fd, so the message holds them whatever happens to the table.
    if unsafe { libc::sendmsg(lane[0], &msg, libc::MSG_NOSIGNAL) } != 1 {
        return Err(());
    }
    let top = lane[0].max(lane[1]) as libc::c_uint;
    // SAFETY: by value. Closes nothing of procrun's: with
    // CLOSE_RANGE_UNSHARE the kernel first gives this child a table of
    // its own holding the fds below `top + 1` and closes the rest there.
    let r = unsafe {
        libc::syscall(
            SYS_CLOSE_RANGE,
            top + 1,
            libc::c_uint::MAX,
            CLOSE_RANGE_UNSHARE,
        )
    };
    if r != 0 {
        return Err(());
    }
    msg.msg_controllen = control.len() * 8;
    // SAFETY: as for the send; the fds the kernel installs land in this
    // child's own table, CLOEXEC until dup2 moves them to 0-2.
    if unsafe { libc::recvmsg(lane[1], &mut msg, libc::MSG_CMSG_CLOEXEC) } != 1 {
        return Err(());
    }
    // SAFETY: after a successful recvmsg the control buffer holds what the
    // kernel wrote, at most `msg_controllen` bytes: the header is read
    // only once checked to carry LANE_FDS fds.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        let want = libc::CMSG_LEN((LANE_FDS * 4) as u32) as usize;
        if c.is_null() || (*c).cmsg_type != libc::SCM_RIGHTS || (*c).cmsg_len as usize != want {
            return Err(());
        }
        let data = libc::CMSG_DATA(c).cast::<libc::c_int>();
        for (i, fd) in src.iter_mut().enumerate() {
            *fd = ptr::read_unaligned(data.add(i));
        }
    }
    Ok(())
}

/// Closes every fd of the child's but 0-2 and the passed fds' targets,
/// last thing before its exec: procrun's are CLOEXEC anyway, and the
/// host's without CLOEXEC go too, whichever table the child has (a lane
/// leaves it only those below the lane's, a copy all of them), as
/// Python's `subprocess` closes them (`close_fds`). Where the kernel has
/// no `close_range` (before 5.9) the host's are inherited.
///
/// # Safety
///
/// Only in the child of `clone_exec`, with `p` as prepared there: `fds`
/// points to `nfds` entries sorted by target, alive until it has exec'ed.
unsafe fn close_all_but_stdio_and_passed(p: &ChildArgs) {
    let mut from: libc::c_uint = 3;
    for i in 0..p.nfds {
        // SAFETY: `i < nfds` entries of the parent's vector.
        let target = unsafe { (*p.fds.add(i)).1 } as libc::c_uint;
        if target > from {
            // SAFETY: by value; closes only fds of this child's own table
            // (its own copy, or one it took through a lane).
            unsafe { libc::syscall(SYS_CLOSE_RANGE, from, target - 1, 0) };
        }
        from = target + 1;
    }
    // SAFETY: as above.
    unsafe { libc::syscall(SYS_CLOSE_RANGE, from, libc::c_uint::MAX, 0) };
}

/// The child's passed fds, resource limits, nice value, `oom_score_adj`
/// and umask, in that order: all before the credentials change, so a root
/// procrun may raise a hard limit, a priority or an OOM protection for a
/// child that runs as another user.
///
/// # Safety
///
/// Only in the child of `clone_exec`, with `p` as prepared there: `fds` and
/// `rlimits` point to `nfds` and `nrlimits` entries alive until it has
/// exec'ed. An error is the stage that failed, with errno as it left.
unsafe fn pass_fds_and_limits(p: &ChildArgs) -> Result<(), ForkStage> {
    for i in 0..p.nfds {
        // SAFETY: `i < nfds` entries of the parent's vector.
        let (fd, target) = unsafe { *p.fds.add(i) };
        // Every source is above every target (moved so by the parent):
        // no dup2 here closes a source still to come. The new number is
        // not CLOEXEC, so the program gets it.
        // SAFETY: descriptors of this child's own table (no CLONE_FILES).
        if unsafe { libc::dup2(fd, target) } != target {
            return Err(ForkStage::PassFd);
        }
    }
    for i in 0..p.nrlimits {
        // SAFETY: `i < nrlimits` entries of the parent's vector.
        let (resource, soft, hard) = unsafe { *p.rlimits.add(i) };
        let limit = libc::rlimit64 {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: the kernel reads one `rlimit64` from `limit` and writes
        // no old one (null); pid 0 is this process. The raw call, as for
        // every call below that the C library might route through its
        // thread bookkeeping, which this child shares with the parent.
        let r = unsafe {
            libc::syscall(
                libc::SYS_prlimit64,
                0,
                resource,
                &limit as *const libc::rlimit64,
                ptr::null_mut::<libc::rlimit64>(),
            )
        };
        if r != 0 {
            return Err(ForkStage::Rlimit);
        }
    }
    if let Some(nice) = p.nice {
        // SAFETY: by value; the kernel's call takes the nice value itself
        // (-20..=19, checked when prepared) and applies to this process's
        // one thread.
        let r = unsafe { libc::syscall(libc::SYS_setpriority, libc::PRIO_PROCESS, 0, nice) };
        if r != 0 {
            return Err(ForkStage::Nice);
        }
    }
    if let Some((text, len)) = p.oom_score_adj {
        // SAFETY: a NUL-terminated literal path; the fd is this child's
        // and closed here (CLOEXEC besides).
        let fd = unsafe {
            libc::open(
                c"/proc/self/oom_score_adj".as_ptr(),
                libc::O_WRONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(ForkStage::OomScoreAdj);
        }
        // SAFETY: `len` (at most 5) readable bytes of `text`, a copy on
        // this child's stack.
        let wrote = unsafe { libc::write(fd, text.as_ptr().cast(), len) };
        if wrote != len as isize {
            return Err(ForkStage::OomScoreAdj);
        }
        // SAFETY: the fd opened above, closed once.
        unsafe { libc::close(fd) };
    }
    if let Some(mask) = p.umask {
        // SAFETY: by value; it cannot fail.
        unsafe { libc::umask(mask) };
    }
    Ok(())
}

/// The child's supplementary groups, group and user, in the order in
/// which no step leaves it with more than asked for: the groups while it
/// may still set them, the group while it may still change it, the user
/// last (after it, nothing can be changed back).
///
/// Raw system calls, never the C library's `setuid` and kin: glibc makes
/// every thread of a process change its ids together by signalling each
/// one, and this child, sharing the parent's memory, would signal the
/// parent's threads and change their credentials. The raw calls change
/// only this process's one thread, which is the whole of it.
///
/// # Safety
///
/// Only in the child of `clone_exec`, with `p` as prepared there: `groups`
/// points to `ngroups` ids alive until it has exec'ed. An error is the
/// stage that failed, with errno as it left.
unsafe fn credentials(p: &ChildArgs) -> Result<(), ForkStage> {
    if !p.groups.is_null() {
        // SAFETY: `ngroups` ids at `groups` (a list's pointer, never
        // dangling even when empty).
        if unsafe { libc::syscall(libc::SYS_setgroups, p.ngroups, p.groups) } != 0 {
            return Err(ForkStage::Groups);
        }
    } else if p.drop_groups {
        // As std: a root procrun's own groups (root's, say) must not go
        // with the child to another user; one that may not change them
        // (EPERM) has none to give beyond what the user may have anyway.
        // SAFETY: an empty list; the pointer is not read.
        let r = unsafe { libc::syscall(libc::SYS_setgroups, 0usize, ptr::null::<libc::gid_t>()) };
        if r != 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EPERM) {
            return Err(ForkStage::Groups);
        }
    }
    if let Some(gid) = p.gid {
        // SAFETY: by value; real, effective and saved ids of this process.
        if unsafe { libc::syscall(libc::SYS_setgid, gid) } != 0 {
            return Err(ForkStage::Gid);
        }
    }
    if let Some(uid) = p.uid {
        // SAFETY: as for the group.
        if unsafe { libc::syscall(libc::SYS_setuid, uid) } != 0 {
            return Err(ForkStage::Uid);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Starts `argv` (a path first) with `/dev/null` for stdio and no
    /// environment, as `clone_exec_with` does under `limits`.
    fn start(
        argv: &[&CStr],
        want_pidfd: bool,
        limits: u8,
    ) -> Result<Started, (ForkStage, io::Error)> {
        start_with(argv, want_pidfd, limits, None)
    }

    /// [`start`] through `lane`.
    fn start_with(
        argv: &[&CStr],
        want_pidfd: bool,
        limits: u8,
        lane: Option<&Lane>,
    ) -> Result<Started, (ForkStage, io::Error)> {
        let null = dev_null();
        let argv: Vec<CString> = argv.iter().map(|a| CString::from(*a)).collect();
        let args = ExecArgs {
            path: &argv[0],
            argv: &argv,
            arg0: None,
            envp: &[],
            cwd: None,
            group: None,
            stdio: [null.as_fd(), null.as_fd(), null.as_fd()],
        };
        let extras = ForkExtras {
            lanes: lane.map_or(&[][..], std::slice::from_ref),
            ..ForkExtras::default()
        };
        clone_exec_with(&args, &extras, want_pidfd, limits)
    }

    /// Reaps `started` through its pidfd: the pid `waitid` names and the
    /// exit code.
    fn reap_by_pidfd(fd: &OwnedFd) -> (libc::pid_t, i32) {
        // SAFETY: all zeroes is a valid siginfo_t, which waitid fills.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `fd` is a pidfd of our own unreaped child; `info` is a
        // live local.
        let r = unsafe {
            libc::waitid(
                libc::P_PIDFD,
                fd.as_raw_fd() as libc::id_t,
                &mut info,
                libc::WEXITED,
            )
        };
        assert_eq!(r, 0, "waitid: {}", io::Error::last_os_error());
        // SAFETY: filled by a successful waitid for an exited child.
        unsafe { (info.si_pid(), info.si_status()) }
    }

    use std::os::fd::AsFd;

    /// The pidfd comes with the start (`CLONE_PIDFD`), as glibc's
    /// `pidfd_spawn` gives it: no `pidfd_open` after, whose call a plain
    /// spawn would otherwise pay, and it names the very child started.
    #[test]
    fn a_plain_start_brings_the_childs_pidfd() {
        if clone3_limits() & NO_CLONE3 != 0 {
            // `PROCRUN_NO_CLONE3=1`, or a kernel without `clone3`.
            return;
        }
        let started = start(&[c"/bin/sh", c"-c", c"exit 7"], true, clone3_limits()).unwrap();
        let fd = started.pidfd.expect("the pidfd came with clone3");
        assert_eq!(reap_by_pidfd(&fd), (started.pid as libc::pid_t, 7));
    }

    /// Without `clone3` the C library's `clone` starts the child, and the
    /// caller opens its pidfd; without a pidfd asked for, none is made.
    #[test]
    fn without_clone3_or_a_pidfd_asked_for_the_start_brings_none() {
        for (want_pidfd, limits) in [(true, CLONE3_KNOWN | NO_CLONE3), (false, clone3_limits())] {
            let started = start(&[c"/bin/true"], want_pidfd, limits).unwrap();
            assert!(started.pidfd.is_none());
            let pid = rustix::process::Pid::from_raw(started.pid as i32).unwrap();
            let status = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty())
                .unwrap()
                .unwrap();
            assert_eq!(status.1.exit_status(), Some(0));
        }
    }

    /// An exec that fails is reported through the memory parent and child
    /// share (no pipe), by either start, and the child is reaped.
    #[test]
    fn an_exec_error_comes_back_with_its_stage_and_errno() {
        for limits in [clone3_limits(), CLONE3_KNOWN | NO_CLONE3] {
            let err = start(&[c"/nonexistent/program"], true, limits).unwrap_err();
            assert_eq!(err.0, ForkStage::Exec);
            assert_eq!(err.1.raw_os_error(), Some(libc::ENOENT));
        }
    }

    /// The size of `pid`'s fd table (`FDSize` in its status): what its
    /// clone copied and its exec then closed.
    fn fd_table_size(pid: u32) -> usize {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("FDSize:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// `/dev/null`, CLOEXEC.
    fn dev_null() -> OwnedFd {
        rustix::fs::open(
            c"/dev/null",
            rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .unwrap()
    }

    /// Kills and reaps the child `pid`.
    fn kill_and_reap(pid: u32) {
        let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
        rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty()).unwrap();
    }

    /// Makes this process's fd table large with one fd at the top of its
    /// limit, far above `top` (the lanes' highest fd, made first as a
    /// reactor makes its own at its start): what other tests of this
    /// process hold meanwhile stays below it. The fd (keep it open) and
    /// its number; `None` (said) where the limit leaves no such room.
    fn large_table(top: u64) -> Option<(OwnedFd, usize)> {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(1 << 20)
            .min(1 << 20);
        if limit < 4 * (top + 64) {
            eprintln!(
                "skipped: an fd limit of {limit} leaves no room far above the lanes' fd {top}"
            );
            return None;
        }
        let high = rustix::io::fcntl_dupfd_cloexec(dev_null(), (limit - 1) as i32).unwrap();
        let fd = high.as_raw_fd() as usize;
        Some((high, fd))
    }

    /// Runs `sh -c script` started through `lane` with its stdout a pipe,
    /// reads the pipe to its end and reaps the child: what it wrote.
    fn output_through(script: &CStr, lane: &Lane) -> Vec<u8> {
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let null = dev_null();
        let argv = [
            CString::from(c"/bin/sh"),
            CString::from(c"-c"),
            script.to_owned(),
        ];
        let args = ExecArgs {
            path: &argv[0],
            argv: &argv,
            arg0: None,
            envp: &[],
            cwd: None,
            group: None,
            stdio: [null.as_fd(), write.as_fd(), null.as_fd()],
        };
        let extras = ForkExtras {
            lanes: std::slice::from_ref(lane),
            ..ForkExtras::default()
        };
        let started = clone_exec_with(&args, &extras, false, clone3_limits()).unwrap();
        drop(write);
        let out = read_to_end(&read);
        let pid = rustix::process::Pid::from_raw(started.pid as i32).unwrap();
        rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty()).unwrap();
        out
    }

    /// Reads `fd` to its end.
    fn read_to_end(fd: &OwnedFd) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            match rustix::io::read(fd, &mut buf) {
                Ok(0) => return out,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// A child given a lane takes only its stdio (and the few fds below
    /// the lane's) into a table of its own; without one it gets a copy of
    /// the whole table, as large as the agent's highest fd, which its
    /// exec then closes again fd by fd. The agent's table is made large
    /// by one fd at the top of its limit, far above the lane's (made
    /// first, as a reactor makes its own at its start): what other tests
    /// of this process hold meanwhile stays below it.
    #[test]
    fn a_child_given_a_lane_does_not_copy_the_agents_fd_table() {
        let Some(lane) = Lane::new() else {
            // Before 5.9, or `PROCRUN_NO_CLONE3=1`.
            return;
        };
        let top = lane.send.as_raw_fd().max(lane.recv.as_raw_fd()) as u64;
        let Some((high, high_fd)) = large_table(top) else {
            return;
        };
        for lane in [Some(&lane), None] {
            let started = start_with(&[c"/bin/sleep", c"60"], true, clone3_limits(), lane).unwrap();
            let size = fd_table_size(started.pid);
            kill_and_reap(started.pid);
            match lane {
                Some(_) => assert!(
                    size <= high_fd / 2,
                    "a table of {size} fds through the lane (agent's highest fd {high_fd})"
                ),
                None => assert!(
                    size > high_fd,
                    "a table of {size} fds without the lane (agent's highest fd {high_fd})"
                ),
            }
        }
        drop(high);
    }

    /// A child's stdio reaches it through the lane: what it writes to its
    /// stdout lands in the pipe procrun gave it, and its exit closes the
    /// pipe's last write end (none is left behind in the lane).
    #[test]
    fn stdio_taken_through_a_lane_is_the_childs() {
        let Some(lane) = Lane::new() else {
            return;
        };
        assert_eq!(output_through(c"echo through", &lane), b"through\n");
    }

    /// What a child left in the lane (it died between sending its fds and
    /// receiving them) is taken out after its start: the next child gets
    /// its own, and a pipe's write end held in the lane no longer keeps
    /// the pipe's reader from EOF.
    #[test]
    fn what_a_dead_child_left_in_the_lane_is_drained() {
        let Some(lane) = Lane::new() else {
            return;
        };
        // Nonblocking: a writer left behind reads as EAGAIN, never a hang.
        let (read, write) = rustix::pipe::pipe_with(
            rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
        )
        .unwrap();
        let mut byte = 0u8;
        let mut iov = libc::iovec {
            iov_base: ptr::addr_of_mut!(byte).cast(),
            iov_len: 1,
        };
        let mut control = [0u64; 4];
        let msg = lane_msg(&mut iov, &mut control);
        // SAFETY: as in `take_own_table`: one header with three fds fits
        // the control buffer; `msg` points at live locals.
        let sent = unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN((LANE_FDS * 4) as u32) as _;
            let data = libc::CMSG_DATA(c).cast::<libc::c_int>();
            for i in 0..LANE_FDS {
                ptr::write_unaligned(data.add(i), write.as_raw_fd());
            }
            libc::sendmsg(lane.send.as_raw_fd(), &msg, 0)
        };
        assert_eq!(sent, 1);
        drop(write);
        lane.drain();
        // The lane holds no writer any more: EOF at once.
        let mut buf = [0u8; 1];
        assert_eq!(rustix::io::read(&read, &mut buf), Ok(0));
        // And nothing is left for the next child.
        // SAFETY: one writable byte; the lane's own fd.
        let r = unsafe {
            libc::recv(
                lane.recv.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                1,
                libc::MSG_DONTWAIT,
            )
        };
        assert_eq!(r, -1);
        assert_eq!(
            io::Error::last_os_error().raw_os_error(),
            Some(libc::EAGAIN)
        );
    }

    /// Two starts at once (from two threads sharing a reactor's lane)
    /// never share it: the second finds it taken and copies the table.
    #[test]
    fn a_lane_serves_one_start_at_a_time() {
        let Some(lane) = Lane::new() else {
            return;
        };
        let first = lane.take().expect("a free lane");
        assert!(lane.take().is_none());
        // A start that found it taken leaves it taken: its failed try
        // must not free the lane for a third start meanwhile.
        assert!(lane.take().is_none(), "a failed take freed the lane");
        drop(first);
        assert!(lane.take().is_some());
    }

    /// As many starts at once as there are lanes (tasks spawning on
    /// several runtime workers through one reactor) each take a lane of
    /// their own: none copies the agent's table, made large by one fd at
    /// the top of its limit (as in the test above).
    #[test]
    fn starts_at_once_each_take_a_free_lane_and_none_copies_the_table() {
        const THREADS: usize = 4;
        let lanes: Vec<Lane> = (0..THREADS).map_while(|_| Lane::new()).collect();
        if lanes.len() < THREADS {
            // Before 5.9, or `PROCRUN_NO_CLONE3=1`.
            return;
        }
        let top = lanes
            .iter()
            .map(|l| l.send.as_raw_fd().max(l.recv.as_raw_fd()))
            .max()
            .unwrap_or(0) as u64;
        let Some((high, high_fd)) = large_table(top) else {
            return;
        };
        let lanes = std::sync::Arc::new(lanes);
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(THREADS));
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let lanes = std::sync::Arc::clone(&lanes);
                let barrier = std::sync::Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let null = dev_null();
                    let argv = [CString::from(c"/bin/sleep"), CString::from(c"60")];
                    let mut sizes = Vec::new();
                    for _ in 0..25 {
                        // Each round's starts begin together.
                        barrier.wait();
                        let args = ExecArgs {
                            path: &argv[0],
                            argv: &argv,
                            arg0: None,
                            envp: &[],
                            cwd: None,
                            group: None,
                            stdio: [null.as_fd(), null.as_fd(), null.as_fd()],
                        };
                        let extras = ForkExtras {
                            lanes: &lanes,
                            ..ForkExtras::default()
                        };
                        let started =
                            clone_exec_with(&args, &extras, false, clone3_limits()).unwrap();
                        sizes.push(fd_table_size(started.pid));
                        kill_and_reap(started.pid);
                    }
                    sizes
                })
            })
            .collect();
        for t in threads {
            for size in t.join().unwrap() {
                assert!(
                    size <= high_fd / 2,
                    "a start copied the table ({size} fds, the agent's highest {high_fd})"
                );
            }
        }
        drop(high);
    }

    /// Kills every child of this process that has not exec'ed yet (its
    /// executable is still this one): what a hung start left.
    fn kill_children_before_exec() {
        let me = std::fs::read_link("/proc/self/exe").unwrap();
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return;
        };
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for pid in children
                .split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok())
            {
                if std::fs::read_link(format!("/proc/{pid}/exe")).ok().as_ref() == Some(&me) {
                    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                    }
                }
            }
        }
    }

    /// Starts from several threads at once through one lane (as tasks on
    /// several workers spawn through one reactor) each give their child
    /// its own stdio and come back: none takes another's fds from the
    /// lane, none waits forever for fds another took. Each child writes
    /// its number to its own pipe; a start that hangs fails the watchdog.
    #[test]
    fn concurrent_starts_through_one_lane_each_get_their_own_stdio() {
        let Some(lane) = Lane::new() else {
            return;
        };
        let lane = std::sync::Arc::new(lane);
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let lane = std::sync::Arc::clone(&lane);
                let done = done_tx.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let n = t * 1000 + i;
                        let script = CString::new(format!("echo {n}")).unwrap();
                        let out = output_through(&script, &lane);
                        assert_eq!(out, format!("{n}\n").as_bytes());
                    }
                    let _ = done.send(());
                })
            })
            .collect();
        drop(done_tx);
        let watchdog = std::time::Instant::now() + std::time::Duration::from_secs(120);
        for _ in 0..threads.len() {
            let left = watchdog.saturating_duration_since(std::time::Instant::now());
            if done_rx.recv_timeout(left).is_err() {
                // A hung start's child waits for fds another took, and its
                // thread waits for the child: kill what has not exec'ed.
                kill_children_before_exec();
                panic!("a start through the lane hung (its child waited for fds another took)");
            }
        }
        for t in threads {
            t.join().unwrap();
        }
    }
}
