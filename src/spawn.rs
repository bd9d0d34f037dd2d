//! Turning a prepared [`Spec`] into a running child: the program looked up on
//! `PATH`, its environment, pipes, process group, and a pidfd.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::command::{Input, Output};
use crate::error::{Error, Result};
use crate::signal::Signal;
use crate::spec::Spec;
use crate::sys::{self, Cgroup, ChildHandle, ForkExtras, ForkStage, SpawnSpec};

/// `PATH` when the child's environment has none, as `execvp` assumes.
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// A child just started, with procrun's ends of its pipes.
pub(crate) struct Spawned {
    pub(crate) handle: ChildHandle,
    /// Whether a pidfd was asked for but the kernel has none.
    pub(crate) no_pidfd: bool,
    pub(crate) stdin: Option<OwnedFd>,
    pub(crate) stdout: Option<OwnedFd>,
    pub(crate) stderr: Option<OwnedFd>,
    /// The run's cgroup, when contained; the child is in it.
    pub(crate) cgroup: Option<Cgroup>,
}

/// Starts a run of `spec`.
///
/// `posix_spawn` (vfork speed) does the fork and exec; every fd procrun
/// holds is CLOEXEC, so the child inherits only 0, 1 and 2. Null stdio is
/// `null` (the reactor's one open `/dev/null`) and inherited stdio is
/// procrun's own fd, both handed to `dup2` in the child as they are: no
/// open or dup per spawn.
pub(crate) fn spawn(spec: &Spec, want_pidfd: bool, null: BorrowedFd<'_>) -> Result<Spawned> {
    let envp = environment(spec);
    let path = find_program(spec, &envp)?;
    let cmd = spec;

    let (own_in, own_out, own_err) = (io::stdin(), io::stdout(), io::stderr());
    let mut stdin = None;
    let stdin_child: Option<OwnedFd> = match &cmd.stdin {
        Input::Bytes(_) | Input::Stream => {
            let (child_end, ours) = sys::input_pipe()?;
            stdin = Some(ours);
            Some(child_end)
        }
        Input::Null | Input::Inherit => None,
    };
    let stdin_fd = match (&cmd.stdin, &stdin_child) {
        (_, Some(fd)) => fd.as_fd(),
        (Input::Inherit, None) => own_in.as_fd(),
        _ => null,
    };
    let (stdout, out_child) = output(&cmd.stdout)?;
    let out_fd = child_fd(&cmd.stdout, &out_child, own_out.as_fd(), null);
    let merged = matches!(cmd.stderr, Output::Stdout);
    let (stderr, err_child) = if merged {
        (None, None)
    } else {
        output(&cmd.stderr)?
    };
    let err_fd = if merged {
        // One pipe (or file) for both: the kernel keeps the order in which
        // the child wrote, which two pipes cannot.
        out_fd
    } else {
        child_fd(&cmd.stderr, &err_child, own_err.as_fd(), null)
    };
    let os_spec = SpawnSpec {
        path: &path,
        argv: &cmd.argv,
        envp: &envp,
        cwd: cmd.cwd.as_deref(),
        new_group: !cmd.stop.detached,
        stdio: [stdin_fd, out_fd, err_fd],
    };
    let contained = match &spec.cgroup {
        Some(c) => Some(crate::cgroup::create_for_run(c)?),
        None => None,
    };
    let started = if contained.is_some() || spec.die_with_parent {
        let extras = ForkExtras {
            cgroup: contained.as_ref().map(|(_, dir)| dir.as_fd()),
            die_with_parent: spec.die_with_parent,
        };
        sys::spawn_forked(&os_spec, &extras).map_err(|(stage, source)| match stage {
            ForkStage::Exec => exec_error(cmd, source),
            ForkStage::Cgroup => Error::CgroupAccess {
                path: contained
                    .as_ref()
                    .map_or_else(Default::default, |(c, _)| c.dir().to_owned()),
                source,
            },
            ForkStage::Fork | ForkStage::Setup => Error::Spawn {
                program: cmd.program_name(),
                source,
            },
        })
    } else {
        sys::spawn(&os_spec).map_err(|source| exec_error(cmd, source))
    };
    let (cgroup, cgroup_dir) = contained.unzip();
    // Only the child's start needed it.
    drop(cgroup_dir);
    let pid = match started {
        Ok(pid) => pid,
        Err(e) => {
            // The child, if any, failed and was reaped: the cgroup is empty.
            if let Some(c) = cgroup {
                let _ = c.remove();
            }
            return Err(e);
        }
    };
    // The child's pipe ends must close in this process now, or procrun
    // would hold a writer of each output pipe and never see EOF.
    drop((stdin_child, out_child, err_child));
    // The child is unreaped, so its pid cannot have been recycled yet and
    // a pidfd opened now names exactly this child.
    match ChildHandle::open(pid, want_pidfd) {
        Ok((handle, got_pidfd)) => Ok(Spawned {
            handle,
            no_pidfd: want_pidfd && !got_pidfd,
            stdin,
            stdout,
            stderr,
            cgroup,
        }),
        Err(e) => {
            // Without a handle the reactor cannot supervise it: do not leave
            // it (or anything it started) running or unreaped.
            let child = ChildHandle::Pid(pid);
            let _ = child.signal(Signal::KILL.as_raw());
            let _ = child.reap_blocking();
            if let Some(c) = cgroup {
                let _ = c.kill();
                c.wait_empty(std::time::Duration::from_secs(1));
                let _ = c.remove();
            }
            Err(Error::Io(e))
        }
    }
}

/// The error of a failed `execve` (or `chdir` before it).
fn exec_error(cmd: &Spec, source: io::Error) -> Error {
    match source.kind() {
        // The working directory was there when the command was prepared;
        // if it is gone now, ENOENT is its, else the program's (or,
        // rarely, its #! interpreter's).
        io::ErrorKind::NotFound => match cmd.cwd.as_deref().map(cwd_path) {
            Some(dir) if !dir.is_dir() => Error::CwdNotFound {
                path: dir.to_owned(),
            },
            _ => Error::ProgramNotFound {
                program: cmd.program_name(),
            },
        },
        _ => Error::Spawn {
            program: cmd.program_name(),
            source,
        },
    }
}

/// The child's whole environment: procrun's own (unless cleared), then the
/// command's changes in the order given.
fn environment(spec: &Spec) -> Vec<CString> {
    let mut vars: Vec<(Vec<u8>, CString)> = Vec::new();
    if !spec.env_clear {
        for (k, v) in std::env::vars_os() {
            let entry = [k.as_bytes(), b"=", v.as_bytes()].concat();
            // The kernel hands a process NUL-free strings: none is skipped.
            if let Ok(entry) = CString::new(entry) {
                vars.push((k.into_encoded_bytes(), entry));
            }
        }
    }
    for (key, entry) in &spec.env {
        vars.retain(|(k, _)| k != key);
        if let Some(entry) = entry {
            vars.push((key.clone(), entry.clone()));
        }
    }
    vars.into_iter().map(|(_, e)| e).collect()
}

/// The program's path: as given when it holds a `/`, else the first
/// executable file of that name on the child's `PATH`. A name found only
/// where it cannot be executed (a directory, a file without an execute
/// bit, a directory that cannot be searched) is EACCES, as `execvp`
/// reports it, not "not found".
fn find_program(spec: &Spec, envp: &[CString]) -> Result<CString> {
    let program = spec.program().as_bytes();
    if program.contains(&b'/') {
        return Ok(spec.program().clone());
    }
    let path = envp
        .iter()
        .find_map(|e| e.as_bytes().strip_prefix(b"PATH="))
        .unwrap_or(DEFAULT_PATH.as_bytes());
    let mut denied = false;
    for dir in path.split(|&b| b == b':') {
        // An empty entry is the current directory.
        let dir = if dir.is_empty() { &b"."[..] } else { dir };
        let candidate = Path::new(OsStr::from_bytes(dir)).join(OsStr::from_bytes(program));
        match is_executable(&candidate) {
            Ok(true) => {
                // Both parts come from NUL-free C strings, so this cannot
                // fail; if it did, the candidate would only be skipped.
                if let Ok(c) = CString::new(candidate.into_os_string().into_encoded_bytes()) {
                    return Ok(c);
                }
            }
            Ok(false) => denied = true,
            Err(e) => denied |= e.kind() == io::ErrorKind::PermissionDenied,
        }
    }
    if denied {
        return Err(Error::Spawn {
            program: spec.program_name(),
            source: io::Error::from_raw_os_error(libc::EACCES),
        });
    }
    Err(Error::ProgramNotFound {
        program: spec.program_name(),
    })
}

fn cwd_path(c: &std::ffi::CStr) -> &Path {
    Path::new(OsStr::from_bytes(c.to_bytes()))
}

/// Whether `p` is an executable file; `Ok(false)` when it is there but
/// is not one, the error when it cannot be looked at.
fn is_executable(p: &Path) -> io::Result<bool> {
    std::fs::metadata(p).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// procrun's end of the stream (when it reads it) and the child's end when
/// it needs one of its own (a pipe, or a dup of the caller's file).
fn output(out: &Output) -> Result<(Option<OwnedFd>, Option<OwnedFd>)> {
    Ok(match out {
        Output::Lines | Output::Raw => {
            let (ours, child_end) = sys::output_pipe()?;
            (Some(ours), Some(child_end))
        }
        // A dup, so the caller's file stays open and theirs to close.
        Output::File(f) => (None, Some(OwnedFd::from(f.try_clone()?))),
        Output::Null | Output::Inherit | Output::Stdout => (None, None),
    })
}

/// The fd the child gets for an output stream: its own end, else procrun's
/// stream of the same name (`own`) or `/dev/null`.
fn child_fd<'a>(
    out: &Output,
    child: &'a Option<OwnedFd>,
    own: BorrowedFd<'a>,
    null: BorrowedFd<'a>,
) -> BorrowedFd<'a> {
    match (child, out) {
        (Some(fd), _) => fd.as_fd(),
        (None, Output::Null) => null,
        _ => own,
    }
}
