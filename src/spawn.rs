//! Turning a [`Command`] into a running child: pipes, process group, pidfd.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Stdio;

use crate::command::{Command, Input, Output};
use crate::{sys, Error, Result};

/// A child just started, with procrun's ends of its pipes.
pub(crate) struct Spawned {
    pub(crate) pid: u32,
    pub(crate) pidfd: OwnedFd,
    pub(crate) stdin: Option<OwnedFd>,
    pub(crate) stdout: Option<OwnedFd>,
    pub(crate) stderr: Option<OwnedFd>,
}

/// Starts `cmd`, which the caller has validated.
///
/// std's spawn (posix_spawn where it can, so vfork speed) does the fork and
/// exec; procrun adds the pipes and the pidfd. Every fd procrun holds is
/// CLOEXEC, so the child inherits only 0, 1 and 2. Null stdio is a dup of
/// `null` (an open `/dev/null`), which costs far less than the fresh open
/// per stream that `Stdio::null` does.
pub(crate) fn spawn(cmd: &Command, null: BorrowedFd<'_>) -> Result<Spawned> {
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
        Input::Null => Stdio::from(null.try_clone_to_owned()?),
        Input::Inherit => Stdio::inherit(),
        Input::Bytes(_) => {
            let (child_end, ours) = sys::input_pipe()?;
            stdin = Some(ours);
            Stdio::from(child_end)
        }
    });
    let (stdout, out_stdio) = output(&cmd.stdout, null)?;
    std_cmd.stdout(out_stdio);
    let (stderr, err_stdio) = output(&cmd.stderr, null)?;
    std_cmd.stderr(err_stdio);

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
    // the pidfd names exactly this child.
    match sys::pidfd_open(pid) {
        Ok(pidfd) => Ok(Spawned {
            pid,
            pidfd,
            stdin,
            stdout,
            stderr,
        }),
        Err(e) => {
            // Without a pidfd the reactor cannot supervise it: do not leave
            // it running or unreaped.
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
            Err(e)
        }
    }
}

fn output(out: &Output, null: BorrowedFd<'_>) -> Result<(Option<OwnedFd>, Stdio)> {
    Ok(match out {
        Output::Lines => {
            let (ours, child_end) = sys::output_pipe()?;
            (Some(ours), Stdio::from(child_end))
        }
        // A dup, so the caller's file stays open and theirs to close.
        Output::File(f) => (None, Stdio::from(f.try_clone()?)),
        Output::Null => (None, Stdio::from(null.try_clone_to_owned()?)),
        Output::Inherit => (None, Stdio::inherit()),
    })
}
