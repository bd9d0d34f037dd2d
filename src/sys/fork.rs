//! Starting a child with `clone` and `execve`, for what `posix_spawn`
//! cannot do: a child that starts inside its run's cgroup, one that dies
//! with procrun (`PR_SET_PDEATHSIG`), or one set up with other credentials,
//! resource limits, scheduling or extra fds ([`ChildSetup`]), before it
//! runs a single instruction of its program.
//!
//! Not `fork`: the child is made as `posix_spawn` makes its own, sharing
//! this process's memory (`CLONE_VM | CLONE_VFORK`) on a stack of its own
//! until its exec, so no page table is copied (a plain `fork` of a large
//! agent costs a tenth of a millisecond more per run, see
//! `benches/containment.rs`) and the parent thread waits until the child
//! has exec'ed or failed.
//!
//! Into a cgroup, two ways, both with no moment where a process of the
//! run is outside it:
//!
//! - `clone3` with `CLONE_INTO_CGROUP` (Linux 5.7+, x86_64 and aarch64):
//!   the kernel makes the child inside the cgroup. glibc does not wrap
//!   `clone3`, so a few lines of assembly issue it and call the child's
//!   entry on its new stack.
//! - elsewhere (older kernels, a seccomp filter hiding `clone3`, other
//!   architectures, or `PROCRUN_NO_CLONE3=1`): the child writes itself
//!   into `cgroup.procs` first thing, before it can fork or run its
//!   program. Just as race-free, on every kernel with cgroup v2 (4.5+),
//!   but the move takes the cgroup core's lock for writing: a few hundred
//!   microseconds more per run.
//!
//! Between `clone` and `execve` the child runs only async-signal-safe raw
//! calls on data prepared before it: no allocation, no lock, so another
//! thread of procrun's holding the allocator's lock cannot deadlock it.
//! A failure is reported to the parent through a CLOEXEC pipe (the stage
//! and the errno), as std does: the parent reads EOF when `execve`
//! succeeded.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};

use super::posix_spawn::ExecArgs;
use super::setup::ChildSetup;

/// What the forked child does before `execve`, beyond what `posix_spawn`
/// does for every child.
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
}

/// Which step of the start failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ForkStage {
    /// `fork` itself, or the error pipe.
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
}

/// Every stage, at the index of its discriminant (what the report carries).
const STAGES: [ForkStage; 12] = [
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
];

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
    die_with_parent: bool,
    parent: rustix::process::Pid,
    report: libc::c_int,
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

/// Starts the child by `fork` and `execve` and returns its pid.
///
/// The child gets what [`posix_spawn`](super::posix_spawn()) gives (a clean signal state,
/// its own process group unless detached, stdio, cwd) plus `extras`.
///
/// # Errors
///
/// The stage that failed and its errno; the child, if one was made, is
/// reaped before this returns.
pub(crate) fn fork_exec(
    args: &ExecArgs<'_>,
    extras: &ForkExtras<'_>,
) -> Result<u32, (ForkStage, io::Error)> {
    let mut argv: Vec<*const libc::c_char> = args.argv.iter().map(|a| a.as_ptr()).collect();
    if let Some(arg0) = args.arg0 {
        argv[0] = arg0.as_ptr();
    }
    argv.push(ptr::null());
    let mut envp: Vec<*const libc::c_char> = args.envp.iter().map(|e| e.as_ptr()).collect();
    envp.push(ptr::null());
    let (report_r, report_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| (ForkStage::Fork, io::Error::from(e)))?;
    let empty = ChildSetup::default();
    let setup = extras.setup.unwrap_or(&empty);
    // The child moves each passed fd to its target with dup2, which
    // closes whatever had that number: a source fd, the report pipe or a
    // stdio source of the child's. Each is dup'ed here above the highest
    // target (as systemd does), so no dup2 of the child's hits another's
    // source, and the report pipe outlives every target. The stdio fds
    // are at 0-2 before any passed fd moves.
    let (report_w, passed) = match setup.fds.iter().map(|(_, t)| *t).max() {
        Some(top) => {
            let above = |fd: BorrowedFd<'_>| {
                rustix::io::fcntl_dupfd_cloexec(fd, top + 1)
                    .map_err(|e| (ForkStage::PassFd, io::Error::from(e)))
            };
            let report = above(report_w.as_fd())?;
            // Only the copy above the targets may stay open here: the
            // parent reads EOF once no write end but the child's is left.
            drop(report_w);
            let mut passed = Vec::with_capacity(setup.fds.len());
            for (fd, target) in &setup.fds {
                passed.push((above(fd.as_fd())?, *target));
            }
            (report, passed)
        }
        None => (report_w, Vec::new()),
    };
    let moved: Vec<(libc::c_int, libc::c_int)> = passed
        .iter()
        .map(|(fd, target)| (fd.as_raw_fd(), *target))
        .collect();
    let mut p = ChildArgs {
        path: args.path.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        cwd: args.cwd.map_or(ptr::null(), CStr::as_ptr),
        group: args.group.map_or(-1, |g| g as libc::pid_t),
        stdio: args.stdio.map(|fd| fd.as_raw_fd()),
        cgroup_procs: -1,
        die_with_parent: extras.die_with_parent,
        parent: rustix::process::getpid(),
        report: report_w.as_raw_fd(),
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

    // Every signal blocked across the fork, so no handler of the host's
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
    let started = ChildStack::new()
        .map_err(|e| (ForkStage::Fork, e))
        .and_then(|stack| {
            if let Some(dir) = extras.cgroup {
                match clone_into_cgroup(&stack, dir, &p) {
                    Ok(pid) => return Ok(pid),
                    // Any error: the kernel lacks it (remembered), or the
                    // cgroup refused; the write below then fails with the
                    // cgroup's own error, as on kernels without it.
                    Err(_) => {
                        let fd = rustix::fs::openat(
                            dir,
                            c"cgroup.procs",
                            rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
                            rustix::fs::Mode::empty(),
                        )
                        .map_err(|e| (ForkStage::Cgroup, io::Error::from(e)))?;
                        p.cgroup_procs = fd.as_raw_fd();
                        procs = Some(fd);
                    }
                }
            }
            // SAFETY: `child_main` runs on `stack` (mapped, writable, and kept
            // until this call returns, which with CLONE_VFORK is after the
            // child's exec or exit) and reads `p`, which lives on this frame
            // for as long. It makes only async-signal-safe calls and ends in
            // `execve` or `_exit`, never returning into shared memory.
            let pid = unsafe {
                libc::clone(
                    child_main,
                    stack.top(),
                    libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                    ptr::addr_of!(p) as *mut libc::c_void,
                )
            };
            if pid < 0 {
                Err((ForkStage::Fork, io::Error::last_os_error()))
            } else {
                Ok(pid)
            }
        });
    // SAFETY: `old` was filled by the pthread_sigmask above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old.as_ptr(), ptr::null_mut()) };
    drop((report_w, procs, passed));
    let pid = started?;
    // The child's copy of the write end closes at its exec (CLOEXEC) or
    // exit: EOF means it exec'ed, eight bytes are its stage and errno.
    let mut buf = [0u8; 8];
    let mut got = 0;
    while got < buf.len() {
        match rustix::io::read(&report_r, &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => break,
        }
    }
    drop((argv, envp, moved));
    if got < buf.len() {
        return Ok(pid as u32);
    }
    let stage = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let errno = i32::from_ne_bytes([buf[4], buf[5], buf[6], buf[7]]);
    // Our child, unreaped (`clone` returned its positive pid): reaped
    // here, once. (`None` would wait for any child.)
    if let Some(child) = rustix::process::Pid::from_raw(pid) {
        while let Err(rustix::io::Errno::INTR) =
            rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty())
        {}
    }
    let stage = STAGES
        .get(stage as usize)
        .copied()
        .unwrap_or(ForkStage::Setup);
    Err((stage, io::Error::from_raw_os_error(errno)))
}

/// Bytes of the child's stack: the few frames of `child` and of `execve`,
/// with room to spare (it is only reserved; untouched pages cost nothing).
const STACK_SIZE: usize = 256 * 1024;

/// The stack the child runs on while it shares this process's memory, with
/// a guard page below it; unmapped on drop.
///
/// AddressSanitizer checks the child's accesses like any other (the shadow
/// memory is shared too) but does not know this stack: before the child's
/// calls that never return it declines to unpoison "the thread's stack"
/// and says so once per process ("ignoring requested
/// __asan_handle_no_return"). Nothing is lost: its interceptors clear the
/// mapping's shadow when it is mapped and unmapped.
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
/// bytes, Linux 5.7).
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

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
/// `clone3`'s number, the same on every architecture (the unified table).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const SYS_CLONE3: libc::c_long = 435;

/// Set once the kernel has said it has no `clone3` (ENOSYS, before 5.3, or
/// a seccomp filter that hides it) or no `CLONE_INTO_CGROUP` (E2BIG or
/// EINVAL, before 5.7): later runs go straight to the write.
static NO_CLONE_INTO_CGROUP: AtomicBool = AtomicBool::new(false);

/// Whether `CLONE_INTO_CGROUP` may be tried: false once the kernel refused
/// it, or when `PROCRUN_NO_CLONE3=1` forces the fallback (so the tests can
/// run both ways on one kernel).
fn clone_into_cgroup_allowed() -> bool {
    !NO_CLONE_INTO_CGROUP.load(Ordering::Relaxed)
        && !matches!(std::env::var_os("PROCRUN_NO_CLONE3"), Some(v) if v == "1")
}

/// Starts the child directly inside the cgroup `dir`: `clone3` with
/// `CLONE_INTO_CGROUP`, and `CLONE_VM | CLONE_VFORK` on `stack` as for
/// the plain start. The kernel puts it there before it runs, without the
/// migration a write to `cgroup.procs` costs (the cgroup core's global
/// lock, taken for writing: a few hundred microseconds per run). Returns
/// the pid, or the errno.
fn clone_into_cgroup(
    stack: &ChildStack,
    dir: BorrowedFd<'_>,
    p: &ChildArgs,
) -> io::Result<libc::pid_t> {
    if !clone_into_cgroup_allowed() {
        return Err(io::Error::from_raw_os_error(libc::ENOSYS));
    }
    let (low, size) = stack.usable();
    let args = CloneArgs {
        flags: (libc::CLONE_VM | libc::CLONE_VFORK) as u64 | CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        stack: low as u64,
        stack_size: size as u64,
        cgroup: dir.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    // SAFETY: as for `libc::clone` in `fork_exec`: the child runs
    // `child_main` on `stack` with `p`, both alive until it has exec'ed or
    // exited, which CLONE_VFORK waits for.
    let r = unsafe { clone3_vfork(&args, child_main, ptr::addr_of!(*p) as *mut libc::c_void) };
    if r < 0 {
        let errno = (-r) as i32;
        if matches!(errno, libc::ENOSYS | libc::E2BIG | libc::EINVAL) {
            NO_CLONE_INTO_CGROUP.store(true, Ordering::Relaxed);
        }
        return Err(io::Error::from_raw_os_error(errno));
    }
    Ok(r as libc::pid_t)
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
/// `args` must name a stack the child may use and `entry` must never
/// return; what `entry` touches must stay alive until the child has
/// exec'ed or exited (CLONE_VFORK makes the parent wait for that).
#[cfg(target_arch = "x86_64")]
unsafe fn clone3_vfork(
    args: &CloneArgs,
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
            in("rsi") std::mem::size_of::<CloneArgs>(),
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
            in("x1") std::mem::size_of::<CloneArgs>(),
            in("x20") arg,
            in("x21") entry,
            options(nostack),
        )
    };
    ret
}

/// Other architectures start contained children by the write to
/// `cgroup.procs`.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn clone3_vfork(
    _args: &CloneArgs,
    _entry: extern "C" fn(*mut libc::c_void) -> libc::c_int,
    _arg: *mut libc::c_void,
) -> libc::c_long {
    -(libc::ENOSYS as libc::c_long)
}

/// The child's entry point, as `clone` calls it.
extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `ChildArgs` that `fork_exec` passed, alive
    // while the parent waits (CLONE_VFORK); this is the new child.
    unsafe { child(&*(arg as *const ChildArgs)) }
}

/// The child's side, from `clone` to exec.
///
/// The child shares this process's memory (CLONE_VM, as `posix_spawn`
/// does) until its exec, with the parent thread suspended meanwhile: it
/// writes nothing the parent reads but errno, which the parent no longer
/// looks at, and the report pipe. Its signal handlers are its own copy
/// (no CLONE_SIGHAND), so resetting them leaves the parent's alone.
///
/// # Safety
///
/// Call only in a child made as `fork_exec` makes it, with `p` prepared
/// there; it never returns. Only async-signal-safe functions are called and
/// nothing is allocated.
unsafe fn child(p: &ChildArgs) -> ! {
    // Every call below is async-signal-safe and allocates nothing; what
    // makes each one's arguments valid is said beside it.
    let fail = |stage: ForkStage| -> ! {
        // errno is this thread's (the parent's: CLONE_VM without a TLS of
        // its own), and the parent reads it no more.
        let errno = io::Error::last_os_error().raw_os_error().unwrap_or(0);
        let mut msg = [0u8; 8];
        msg[..4].copy_from_slice(&(stage as u32).to_ne_bytes());
        msg[4..].copy_from_slice(&errno.to_ne_bytes());
        // SAFETY: `msg` is 8 readable bytes for the call; `p.report` is the
        // report pipe's write end, open until this child exits or execs.
        // A short or failed write leaves the parent with fewer than 8
        // bytes, which it takes for a start that went through.
        unsafe { libc::write(p.report, msg.as_ptr().cast(), msg.len()) };
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
    // SAFETY: by value, on this process only.
    if p.group >= 0 && unsafe { libc::setpgid(0, p.group) } != 0 {
        fail(ForkStage::Setup);
    }
    // A source fd among 0-2 that is not its own target could be
    // overwritten by an earlier dup2: move those above 2 first.
    let mut src = p.stdio;
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
    // SAFETY: `path`, `argv` and `envp` point to the arguments' C strings and
    // to null-terminated arrays of pointers to them, all alive while the
    // parent waits (CLONE_VFORK); on success nothing of this image runs
    // again.
    unsafe { libc::execve(p.path, p.argv, p.envp) };
    fail(ForkStage::Exec)
}

/// The child's passed fds, resource limits, nice value, `oom_score_adj`
/// and umask, in that order: all before the credentials change, so a root
/// procrun may raise a hard limit, a priority or an OOM protection for a
/// child that runs as another user.
///
/// # Safety
///
/// Only in the child of `fork_exec`, with `p` as prepared there: `fds` and
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
/// Only in the child of `fork_exec`, with `p` as prepared there: `groups`
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
