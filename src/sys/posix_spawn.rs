//! Starting a child with `posix_spawn`: the vfork speed std gets, plus the
//! clean signal state std does not give (it leaves the spawning thread's
//! signal mask and ignored signals to the child).
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr;

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

/// Starts the child and returns its pid.
///
/// The child starts with no signal blocked and every standard signal at its
/// default action, whatever the calling thread blocks or the host ignores:
/// a stop must reach it, and a supervisor that inherited an ignored
/// `SIGTERM` (from `nohup`, say) must not hand that on.
///
/// # Errors
///
/// The errno of `posix_spawn`, which glibc reports for a failed `execve`
/// too (ENOENT, EACCES, ENOEXEC …).
pub(crate) fn posix_spawn(args: &ExecArgs<'_>) -> io::Result<u32> {
    let mut argv: Vec<*mut libc::c_char> =
        args.argv.iter().map(|a| a.as_ptr().cast_mut()).collect();
    if let Some(arg0) = args.arg0 {
        argv[0] = arg0.as_ptr().cast_mut();
    }
    argv.push(ptr::null_mut());
    let mut envp: Vec<*mut libc::c_char> =
        args.envp.iter().map(|e| e.as_ptr().cast_mut()).collect();
    envp.push(ptr::null_mut());

    let mut actions = FileActions::new()?;
    for (target, fd) in args.stdio.iter().enumerate() {
        actions.dup2(fd.as_raw_fd(), target as libc::c_int)?;
    }
    if let Some(dir) = args.cwd {
        actions.chdir(dir)?;
    }
    let attrs = Attrs::new(args.group)?;

    let mut pid: libc::pid_t = 0;
    // SAFETY: every pointer is valid for the call: `path` and the strings
    // behind `argv` and `envp` outlive it, both arrays end in a null
    // pointer, and `actions` and `attrs` were initialised by their `new`.
    // posix_spawn does not keep any of them after it returns.
    let rc = unsafe {
        libc::posix_spawn(
            &mut pid,
            args.path.as_ptr(),
            &actions.0,
            &attrs.0,
            argv.as_ptr(),
            envp.as_ptr(),
        )
    };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(pid as u32)
}

struct FileActions(libc::posix_spawn_file_actions_t);

impl FileActions {
    fn new() -> io::Result<FileActions> {
        let mut a = MaybeUninit::uninit();
        // SAFETY: init writes a valid object into the uninitialised memory;
        // it is only assumed initialised when init succeeded.
        check(unsafe { libc::posix_spawn_file_actions_init(a.as_mut_ptr()) })?;
        // SAFETY: initialised just above.
        Ok(FileActions(unsafe { a.assume_init() }))
    }

    fn dup2(&mut self, fd: libc::c_int, target: libc::c_int) -> io::Result<()> {
        // SAFETY: self.0 is initialised; dup2 only records the two numbers.
        // The dup2 in the child clears FD_CLOEXEC on the copy, so the child
        // keeps 0-2 and loses every other fd of procrun's at exec.
        check(unsafe { libc::posix_spawn_file_actions_adddup2(&mut self.0, fd, target) })
    }

    fn chdir(&mut self, dir: &CStr) -> io::Result<()> {
        // SAFETY: self.0 is initialised; glibc copies the path.
        check(unsafe { libc::posix_spawn_file_actions_addchdir_np(&mut self.0, dir.as_ptr()) })
    }
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: initialised in new and destroyed once, here.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

struct Attrs(libc::posix_spawnattr_t);

impl Attrs {
    fn new(group: Option<u32>) -> io::Result<Attrs> {
        let mut a = MaybeUninit::uninit();
        // SAFETY: as for FileActions::new.
        check(unsafe { libc::posix_spawnattr_init(a.as_mut_ptr()) })?;
        // SAFETY: initialised just above.
        let mut attrs = Attrs(unsafe { a.assume_init() });
        let mut flags = libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF;
        // SAFETY: sigset_t is plain data; sigemptyset and sigfillset
        // initialise it fully before it is read.
        unsafe {
            let mut none = MaybeUninit::<libc::sigset_t>::uninit();
            libc::sigemptyset(none.as_mut_ptr());
            check(libc::posix_spawnattr_setsigmask(
                &mut attrs.0,
                none.as_ptr(),
            ))?;
            let ignored = ignored_signals();
            check(libc::posix_spawnattr_setsigdefault(&mut attrs.0, &ignored))?;
            if let Some(pgid) = group {
                flags |= libc::POSIX_SPAWN_SETPGROUP;
                check(libc::posix_spawnattr_setpgroup(
                    &mut attrs.0,
                    pgid as libc::pid_t,
                ))?;
            }
            check(libc::posix_spawnattr_setflags(&mut attrs.0, flags as _))?;
        }
        Ok(attrs)
    }
}

impl Drop for Attrs {
    fn drop(&mut self) {
        // SAFETY: initialised in new and destroyed once, here.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

/// Every signal, glibc's two internal ones included: the child sets each
/// to its default before the exec. Only an ignored disposition survives
/// `execve` (handlers are reset by it), but asking which are ignored would
/// cost a `sigaction` per signal here, about 13 µs a spawn, while glibc's
/// child visits every signal anyway (it asks each one's disposition to
/// reset handlers it must not run), so setting each costs the child
/// nothing more.
fn ignored_signals() -> libc::sigset_t {
    // SAFETY: sigfillset initialises the whole set before it is read.
    let mut set = unsafe {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigfillset(set.as_mut_ptr());
        set.assume_init()
    };
    add_glibc_internal(&mut set);
    set
}

/// glibc's `posix_spawn` child sets its internal signals (32 and 33,
/// below `SIGRTMIN`) to `SIG_IGN` unless the default set names them, and
/// the ignored disposition then survives the exec: every child would start
/// with two real-time signals ignored. `sigaddset` refuses them, so their
/// bits are set directly, as glibc reads them (bit `N - 1` of the set's
/// `unsigned long` words, whatever the byte order).
#[cfg(target_env = "gnu")]
fn add_glibc_internal(set: &mut libc::sigset_t) {
    const BITS: usize = 8 * std::mem::size_of::<libc::c_ulong>();
    let words = (set as *mut libc::sigset_t).cast::<libc::c_ulong>();
    for sig in [32usize, 33] {
        // SAFETY: glibc's sigset_t is an array of 1,024 bits in
        // `unsigned long` words (128 bytes), so the words holding bits 31
        // and 32 are in it; `set` is a valid, exclusive reference.
        unsafe { *words.add((sig - 1) / BITS) |= 1 << ((sig - 1) % BITS) };
    }
}

#[cfg(not(target_env = "gnu"))]
fn add_glibc_internal(_: &mut libc::sigset_t) {}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}
