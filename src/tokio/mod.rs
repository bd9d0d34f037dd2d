//! procrun inside a tokio runtime (the `tokio` feature): async handles on
//! one [`Reactor`](crate::Reactor) driven by the runtime.
//!
//! A [`Driver`] owns a reactor; a task of its own on the runtime waits on
//! the reactor's fd through tokio's I/O driver and on the reactor's next
//! timer, so children cost no thread and an idle driver no wake-up. Each
//! child is a [`Child`] handle (`Send + 'static`): [`wait`](Child::wait),
//! [`try_wait`](Child::try_wait), [`kill`](Child::kill),
//! [`signal`](Child::signal), [`stop`](Child::stop) (the escalation),
//! [`next_line`](Child::next_line) (or [`lines`](Child::lines), a
//! `Stream`, or [`next_line_ref`](Child::next_line_ref), lent without a
//! copy), [`output`](Child::output), and its
//! stdin as an `AsyncWrite` ([`take_stdin`](Child::take_stdin)), its raw
//! stdout and stderr as `AsyncRead`s ([`take_stdout`](Child::take_stdout),
//! [`take_stderr`](Child::take_stderr)).
//! [`spawn`] and [`output`] use the [shared](Driver::shared) driver of
//! the runtime they are called on; [`Driver::new`] makes another.
//!
//! Every [`Command`] setting applies as on the blocking side: restarts,
//! timeouts, containment. The runtime needs its I/O and time drivers
//! (`enable_all`); `current_thread` and `multi_thread` both do. A driver
//! outlives a runtime: once the runtime that ran its task is dropped,
//! handles used on another runtime drive it from there. While that first
//! runtime lives, it runs the driver's task: a `current_thread` runtime
//! outside its `block_on` holds up the driver's children, so use one
//! driver per runtime (as [`spawn`] does).
//!
//! Dropping a [`Child`] kills the child unless
//! [`kill_on_drop(false)`](Child::kill_on_drop) was set.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use procrun::{Command, Signal};
//!
//! # ::tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let mut cmd = Command::new("sh");
//! cmd.args(["-c", "echo one; echo two >&2; exit 3"]);
//! let mut child = procrun::tokio::spawn(&cmd)?;
//! assert!(child.id().is_some());
//! let mut lines = Vec::new();
//! while let Some(line) = child.next_line().await? {
//!     lines.push(line.to_string_lossy().into_owned());
//! }
//! lines.sort();
//! assert_eq!(lines, ["one", "two"]);
//! let exit = child.wait().await?;
//! assert_eq!(exit.code(), Some(3));
//! assert_eq!(child.id(), None);
//!
//! // A stop: SIGTERM, then SIGKILL when the grace ends.
//! let mut stubborn = Command::new("sh");
//! stubborn.args(["-c", "trap '' TERM; echo ready; sleep 30"]).grace(Duration::from_millis(100));
//! let mut stubborn = procrun::tokio::spawn(&stubborn)?;
//! // Its trap is set once it says so.
//! assert_eq!(stubborn.next_line().await?.map(|l| l.bytes), Some(b"ready".to_vec()));
//! let exit = stubborn.stop().await?;
//! assert_eq!(exit.signal(), Some(Signal::KILL));
//!
//! // Both streams apart, byte for byte.
//! let out = procrun::tokio::output(Command::new("printf").arg("a\r\nb")).await?;
//! assert_eq!((out.stdout.as_slice(), out.exit.success()), (&b"a\r\nb"[..], true));
//! # Ok::<(), procrun::Error>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod child;
mod core;
mod lines;
mod read;
mod stdin;

use std::io;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use ::tokio::runtime::{Handle, Id};

pub use self::child::{Child, ChildLines, ChildOutput, LineRef};
use self::core::{Core, Slot};
pub use self::read::ChildStdout;
pub use self::stdin::ChildStdin;
use crate::command::{Command, Input, Output};
use crate::error::{Error, Result};
use crate::spawn;

/// One reactor for async handles, driven by a task on the runtime; cheap
/// to clone (the clones share it). Its children live as long as their
/// handles or the driver, whichever is longer; dropping the last clone with
/// no handle left kills and reaps whatever is still running.
#[derive(Clone, Debug)]
pub struct Driver {
    core: Arc<Core>,
}

impl Driver {
    /// A driver with a reactor of its own.
    ///
    /// # Errors
    ///
    /// As [`Reactor::new`](crate::Reactor::new).
    pub fn new() -> Result<Driver> {
        Ok(Driver { core: Core::new()? })
    }

    /// The driver of the current runtime, which [`spawn`] and [`output`]
    /// use: one per runtime, made on first use, living as long as a
    /// handle or a child of it does.
    ///
    /// One per runtime because the driver's task runs on the runtime that
    /// started it, and a `current_thread` runtime runs its tasks only
    /// inside its `block_on`: a driver shared with another runtime would
    /// stall while that one idles.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] outside a tokio runtime; as
    /// [`Reactor::new`](crate::Reactor::new) on first use.
    pub fn shared() -> Result<Driver> {
        static SHARED: Mutex<Vec<(Id, Weak<Core>)>> = Mutex::new(Vec::new());
        let rt = Handle::try_current()
            .map_err(|e| Error::Io(io::Error::other(e)))?
            .id();
        let mut shared = SHARED.lock().unwrap_or_else(|p| p.into_inner());
        shared.retain(|(_, core)| core.strong_count() > 0);
        if let Some(core) = shared
            .iter()
            .find(|(id, _)| *id == rt)
            .and_then(|(_, c)| c.upgrade())
        {
            return Ok(Driver { core });
        }
        let d = Driver::new()?;
        shared.push((rt, Arc::downgrade(&d.core)));
        Ok(d)
    }

    /// Starts a child. Call it inside a tokio runtime: it starts the
    /// driver's task there if none runs.
    ///
    /// # Errors
    ///
    /// As [`Reactor::spawn`](crate::Reactor::spawn), and
    /// [`Error::Io`] outside a tokio runtime (nothing is
    /// started then).
    pub fn spawn(&self, cmd: &Command) -> Result<Child> {
        // First, so that nothing is started outside a runtime.
        Handle::try_current().map_err(|e| Error::Io(io::Error::other(e)))?;
        // The spawn itself (about 0.3 ms: the parent waits for the child's
        // exec) runs outside the lock, so other tasks' handles and the pump
        // go on meanwhile, and spawns on several workers overlap.
        let spec = cmd.prepare()?;
        let started = Instant::now();
        let spawned = spawn::start(&spec, self.core.use_pidfd, self.core.null.as_fd())?;
        let mut state = self.core.lock();
        let id = state.reactor.add_spawned(&spec, None, spawned, started)?;
        let pid = state.reactor.pid(id);
        let raw = [&cmd.stdout, &cmd.stderr].map(|o| matches!(o, Output::Raw));
        state
            .slots
            .insert(id, Slot::new(pid, matches!(cmd.stdin, Input::Stream), raw));
        // In the lock the child was added under, so a pump that finds
        // nothing to drive cannot end between the two. It cannot fail for
        // want of a runtime now; a failure to dup the reactor's fd is met
        // again, and said, by the handle's first wait.
        let _ = self.core.ensure_pump(&mut state);
        drop(state);
        // The child's `Started` is owed: the pump looks again.
        self.core.kick();
        Ok(Child::new(Arc::clone(&self.core), id))
    }

    /// Runs `cmd` to its end and collects both streams byte for byte: its
    /// streams at [`Output::Lines`] are made [`Output::Raw`] (the others,
    /// a file or `/dev/null`, stay as they are and come back empty).
    ///
    /// # Errors
    ///
    /// As [`spawn`](Driver::spawn) and [`Child::output`].
    pub async fn output(&self, cmd: &Command) -> Result<ChildOutput> {
        let mut raw = cmd.clone();
        for out in [&mut raw.stdout, &mut raw.stderr] {
            if matches!(out, Output::Lines) {
                *out = Output::Raw;
            }
        }
        self.spawn(&raw)?.output().await
    }
}

/// Starts a child on the [shared](Driver::shared) driver of the current
/// runtime.
///
/// # Errors
///
/// As [`Driver::spawn`].
pub fn spawn(cmd: &Command) -> Result<Child> {
    Driver::shared()?.spawn(cmd)
}

/// Runs `cmd` to its end on the [shared](Driver::shared) driver of the
/// current runtime: both
/// streams byte for byte, and the exit.
///
/// # Errors
///
/// As [`Driver::output`].
pub async fn output(cmd: &Command) -> Result<ChildOutput> {
    Driver::shared()?.output(cmd).await
}
