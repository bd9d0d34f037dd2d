//! Turning a prepared [`Spec`] into a running child: the program looked up on
//! `PATH` and its environment ([`lookup`]), its pipes, its process group,
//! its cgroup when contained, and a pidfd.
//!
//! [`start`] goes in steps: the `execve` arguments, the stdio ends
//! ([`Stdio`]), the run's cgroup, the start itself ([`clone_exec`]),
//! then the handle the reactor supervises it by ([`open_handle`]). A
//! pipeline's stages start in [`pipeline`], with the same steps each.

mod lookup;
mod pipeline;
mod setup;
mod spec;

use std::ffi::{CStr, OsStr};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::command::{Input, Output};
use crate::error::{Error, Result};
use crate::signal::Signal;
use crate::sys::{
    self, Cgroup, ChildHandle, ChildSignal, ExecArgs, ForkExtras, ForkStage, Lane, Started,
};

pub(crate) use spec::{Spec, StopPolicy};

/// Lanes per reactor: a start takes the first free one, so this many
/// starts at once (tasks spawning on several runtime workers, which start
/// children outside the reactor's lock) each skip the table copy; one more
/// copies the table. Two fds each.
const LANES: usize = 4;

/// What every spawn of a reactor shares: the `/dev/null` null stdio comes
/// from, and the lanes its children take their fds through (see
/// [`sys::Lane`]), made while the agent holds few fds.
#[derive(Debug)]
pub(crate) struct SpawnFds {
    null: OwnedFd,
    lanes: Box<[Lane]>,
}

impl SpawnFds {
    /// Opens `/dev/null` and makes the lanes where the kernel can use them.
    pub(crate) fn new() -> io::Result<SpawnFds> {
        Ok(SpawnFds {
            null: sys::dev_null()?,
            lanes: (0..LANES).map_while(|_| Lane::new()).collect(),
        })
    }
}

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
    /// A pipeline's stages after the first (which is `handle`, the
    /// leader of their process group), in order; empty for a command.
    pub(crate) stages: Vec<ChildHandle>,
}

/// Starts a run of `spec`.
///
/// procrun's own `clone` and `execve` start the child (at `posix_spawn`'s
/// speed, its pidfd with it, its fds through the reactor's lane:
/// [`sys::clone_exec`]), which inherits only 0, 1, 2 and its passed fds:
/// every fd procrun holds is CLOEXEC, and the child closes the host's
/// others before its exec. Null stdio is the reactor's one open
/// `/dev/null` (in `fds`) and inherited stdio is procrun's own fd, both
/// handed to `dup2` in the child as they are: no open or dup per spawn.
pub(crate) fn start(spec: &Spec, want_pidfd: bool, fds: &SpawnFds) -> Result<Spawned> {
    let null = fds.null.as_fd();
    // Asked at every spawn, restarts too: the host may change it at any
    // time, and a child started under it would have its status taken by
    // the kernel.
    match sys::child_signal() {
        ChildSignal::Kept => {}
        ChildSignal::Ignored => return Err(Error::SigchldIgnored { nocldwait: false }),
        ChildSignal::NoCldWait => return Err(Error::SigchldIgnored { nocldwait: true }),
    }
    if let Some(up) = &spec.upstream {
        return pipeline::start(spec, up, want_pidfd, fds);
    }
    let envp = lookup::environment(spec);
    let path = lookup::find_program(spec, &envp)?;
    let stdio = Stdio::open(spec)?;
    let (own_in, own_out, own_err) = (io::stdin(), io::stdout(), io::stderr());
    let own = [own_in.as_fd(), own_out.as_fd(), own_err.as_fd()];
    let args = ExecArgs {
        path: &path,
        argv: &spec.argv,
        arg0: spec.setup.as_ref().and_then(|s| s.arg0.as_deref()),
        envp: &envp,
        cwd: spec.cwd(),
        group: (!spec.stop.detached).then_some(0),
        stdio: stdio.child_fds(spec, own, null),
    };
    let contained = match &spec.cgroup {
        Some(c) => Some(crate::cgroup::create_for_run(c)?),
        None => None,
    };
    let started = clone_exec(spec, &args, contained.as_ref(), &fds.lanes, want_pidfd);
    let (cgroup, cgroup_dir) = contained.unzip();
    // Only the child's start needed it.
    drop(cgroup_dir);
    let started = match started {
        Ok(started) => started,
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
    let [stdin, stdout, stderr] = stdio.into_ours();
    let (handle, got_pidfd) = open_handle(started, want_pidfd, cgroup.as_ref())?;
    Ok(Spawned {
        handle,
        no_pidfd: want_pidfd && !got_pidfd,
        stdin,
        stdout,
        stderr,
        cgroup,
        stages: Vec::new(),
    })
}

/// The three streams of a run about to start: procrun's ends and the
/// child's, in the order stdin, stdout, stderr.
struct Stdio {
    /// procrun's ends: the write end of a stdin pipe, the read ends of
    /// output pipes.
    ours: [Option<OwnedFd>; 3],
    /// The child's ends, where it needs its own (a pipe, or a dup of the
    /// caller's file); closed in this process once the child has started.
    child: [Option<OwnedFd>; 3],
}

impl Stdio {
    /// Makes the pipes (and dups) the command's stdio asks for.
    fn open(spec: &Spec) -> Result<Stdio> {
        let (stdin, stdin_child) = match &spec.stdin {
            Input::Bytes(_) | Input::Stream => {
                let (child_end, ours) = sys::input_pipe()?;
                (Some(ours), Some(child_end))
            }
            Input::Null | Input::Inherit => (None, None),
        };
        let (stdout, out_child) = output(&spec.stdout)?;
        let (stderr, err_child) = match spec.stderr {
            Output::Stdout => (None, None),
            _ => output(&spec.stderr)?,
        };
        Ok(Stdio {
            ours: [stdin, stdout, stderr],
            child: [stdin_child, out_child, err_child],
        })
    }

    /// The fds that become the child's 0, 1 and 2: its own end, else
    /// procrun's stream of the same name (`own`) or `/dev/null`.
    fn child_fds<'a>(
        &'a self,
        spec: &Spec,
        own: [BorrowedFd<'a>; 3],
        null: BorrowedFd<'a>,
    ) -> [BorrowedFd<'a>; 3] {
        let [in_child, out_child, err_child] = &self.child;
        let stdin = match (&spec.stdin, in_child) {
            (_, Some(fd)) => fd.as_fd(),
            (Input::Inherit, None) => own[0],
            _ => null,
        };
        let stdout = child_fd(&spec.stdout, out_child, own[1], null);
        let stderr = match spec.stderr {
            // One pipe (or file) for both: the kernel keeps the order in
            // which the child wrote, which two pipes cannot.
            Output::Stdout => stdout,
            _ => child_fd(&spec.stderr, err_child, own[2], null),
        };
        [stdin, stdout, stderr]
    }

    /// procrun's ends, the child's closed.
    fn into_ours(self) -> [Option<OwnedFd>; 3] {
        drop(self.child);
        self.ours
    }
}

/// procrun's end of an output stream (when it reads it) and the child's
/// end when it needs one of its own (a pipe, or a dup of the caller's file).
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

/// Starts the child: in its run's cgroup when `contained` (the cgroup and
/// its open directory), dying with procrun, and set up before its exec
/// (credentials, limits, passed fds) as `spec` asks.
fn clone_exec(
    spec: &Spec,
    args: &ExecArgs<'_>,
    contained: Option<&(Cgroup, OwnedFd)>,
    lanes: &[Lane],
    want_pidfd: bool,
) -> Result<Started> {
    let extras = ForkExtras {
        cgroup: contained.map(|(_, dir)| dir.as_fd()),
        die_with_parent: spec.die_with_parent,
        setup: spec.setup.as_deref(),
        lanes,
    };
    sys::clone_exec(args, &extras, want_pidfd).map_err(|(stage, source)| match stage {
        ForkStage::Exec => exec_error(spec, source),
        ForkStage::Cgroup => Error::CgroupAccess {
            path: contained.map_or_else(Default::default, |(c, _)| c.dir().to_owned()),
            source,
        },
        ForkStage::Fork | ForkStage::Setup | ForkStage::Lane => Error::Spawn {
            program: spec.program_name(),
            source,
        },
        ForkStage::Groups | ForkStage::Gid | ForkStage::Uid => Error::Credentials {
            program: spec.program_name(),
            step: match stage {
                ForkStage::Groups => "setgroups",
                ForkStage::Gid => "setgid",
                _ => "setuid",
            },
            source,
        },
        ForkStage::Rlimit
        | ForkStage::Nice
        | ForkStage::OomScoreAdj
        | ForkStage::NoNewPrivs
        | ForkStage::PassFd => Error::ChildSetup {
            program: spec.program_name(),
            step: match stage {
                ForkStage::Rlimit => "a resource limit",
                ForkStage::Nice => "the nice value",
                ForkStage::OomScoreAdj => "oom_score_adj",
                ForkStage::NoNewPrivs => "no_new_privs",
                _ => "a passed fd",
            },
            source,
        },
    })
}

/// The handle the reactor supervises the `started` child by, and whether
/// it is a pidfd: the one that came with the start, else one opened now
/// when `want_pidfd`. Without one the child is killed (its `cgroup` too),
/// reaped, and the error returned.
fn open_handle(
    started: Started,
    want_pidfd: bool,
    cgroup: Option<&Cgroup>,
) -> Result<(ChildHandle, bool)> {
    let pid = started.pid;
    if let Some(fd) = started.pidfd {
        return Ok((ChildHandle::Pidfd { pid, fd }, true));
    }
    // The child is unreaped, so its pid cannot have been recycled yet and
    // a pidfd opened now names exactly this child.
    ChildHandle::open(pid, want_pidfd).map_err(|e| {
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
        Error::Io(e)
    })
}

/// The error of a failed `execve` (or `chdir` before it).
fn exec_error(cmd: &Spec, source: io::Error) -> Error {
    match source.kind() {
        // The working directory was there when the command was prepared;
        // if it is gone now, ENOENT is its, else the program's (or,
        // rarely, its #! interpreter's).
        io::ErrorKind::NotFound => match cmd.cwd().map(cwd_path) {
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

fn cwd_path(c: &CStr) -> &Path {
    Path::new(OsStr::from_bytes(c.to_bytes()))
}
