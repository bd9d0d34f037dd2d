//! Turning a [`Command`] into a running child: pipes, process group, pidfd.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Stdio;

use crate::command::{Command, Input, Output};
use crate::sys::{self, ChildHandle};
use crate::{Error, Result};

/// A child just started, with procrun's ends of its pipes.
pub(crate) struct Spawned {
    pub(crate) handle: ChildHandle,
    /// Whether a pidfd was asked for but the kernel has none.
    pub(crate) no_pidfd: bool,
    pub(crate) stdin: Option<OwnedFd>,
    pub(crate) stdout: Option<OwnedFd>,
    pub(crate) stderr: Option<OwnedFd>,
}

/// Starts `cmd`, which the caller has validated.
///
/// std's spawn (posix_spawn where it can, so vfork speed) does the fork and
/// exec; procrun adds the pipes and the pidfd. Every fd procrun holds is
/// CLOEXEC, so the child inherits only 0, 1 and 2.
pub(crate) fn spawn(cmd: &Command, want_pidfd: bool) -> Result<Spawned> {
    let mut std_cmd = std::process::Command::new(&cmd.program);
    std_cmd.args(&cmd.args);
    if cmd.env_clear {
        std_cmd.env_clear();
    }
    for (k, v) in &cmd.env {
        match v {
            Some(v) => std_cmd.env(k, v),
            None => std_cmd.env_remove(k),
        };
    }
    for e in &cmd.env_entries {
        if let Some((k, v)) = e.split_once('=') {
            std_cmd.env(k, v);
        }
    }
    if let Some(dir) = &cmd.cwd {
        std_cmd.current_dir(dir);
    }
    if !cmd.detached {
        std_cmd.process_group(0);
    }

    let mut stdin = None;
    std_cmd.stdin(match &cmd.stdin {
        Input::Null => Stdio::null(),
        Input::Inherit => Stdio::inherit(),
        Input::Bytes(_) => {
            let (child_end, ours) = sys::input_pipe()?;
            stdin = Some(ours);
            Stdio::from(child_end)
        }
    });
    let (stdout, out_child) = output(&cmd.stdout, io::stdout().as_fd())?;
    let (stderr, err_child) = match &cmd.stderr {
        // One pipe (or file) for both: the kernel keeps the order in which
        // the child wrote, which two pipes cannot.
        Output::Stdout => (None, out_child.try_clone()?),
        other => output(other, io::stderr().as_fd())?,
    };
    std_cmd.stdout(Stdio::from(out_child));
    std_cmd.stderr(Stdio::from(err_child));

    let child = std_cmd.spawn().map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            // The working directory was checked before, so ENOENT names the
            // program (or, rarely, its #! interpreter).
            Error::ProgramNotFound {
                program: cmd.program.to_string_lossy().into_owned(),
            }
        } else {
            Error::Spawn {
                program: cmd.program.to_string_lossy().into_owned(),
                source,
            }
        }
    })?;
    // The child's pipe ends must close in this process now, or procrun
    // would hold a writer of each output pipe and never see EOF.
    drop(std_cmd);
    let pid = child.id();
    // The child is unreaped, so its pid cannot have been recycled yet and
    // a pidfd opened now names exactly this child.
    match ChildHandle::open(pid, want_pidfd) {
        Ok((handle, got_pidfd)) => Ok(Spawned {
            handle,
            no_pidfd: want_pidfd && !got_pidfd,
            stdin,
            stdout,
            stderr,
        }),
        Err(e) => {
            // Without a handle the reactor cannot supervise it: do not leave
            // it running or unreaped.
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
            Err(Error::Io(e))
        }
    }
}

/// procrun's end of the stream (when it reads it) and the child's end;
/// `own` is procrun's own stream of the same name, for [`Output::Inherit`].
fn output(out: &Output, own: BorrowedFd<'_>) -> Result<(Option<OwnedFd>, OwnedFd)> {
    Ok(match out {
        Output::Lines => {
            let (ours, child_end) = sys::output_pipe()?;
            (Some(ours), child_end)
        }
        // A dup, so the caller's file stays open and theirs to close.
        Output::File(f) => (None, OwnedFd::from(f.try_clone()?)),
        Output::Null => (None, OwnedFd::from(std::fs::File::create("/dev/null")?)),
        Output::Inherit | Output::Stdout => (None, own.try_clone_to_owned()?),
    })
}
