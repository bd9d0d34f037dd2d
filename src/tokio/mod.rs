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
//! copy, or [`next_lines`](Child::next_lines), every line waiting lent
//! together), [`output`](Child::output), and its
//! stdin as an `AsyncWrite` ([`take_stdin`](Child::take_stdin)), its raw
//! stdout and stderr as `AsyncRead`s ([`take_stdout`](Child::take_stdout),
//! [`take_stderr`](Child::take_stderr)).
//! A [`Pipeline`] is one child too ([`spawn_pipeline`],
//! [`output_pipeline`]), its stages' ends in
//! [`stage_exits`](Child::stage_exits).
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
//! A supervisor that wants every event of its children in one loop,
//! rather than a handle per child, takes the driver's [`Events`]
//! ([`Driver::events`]): the children it starts have no `Child`, their
//! events come to it owned ([`OwnedEvent`]), and it controls them by id.
//!
//! Dropping a [`Child`] kills the child unless
//! [`kill_on_drop(false)`](Child::kill_on_drop) was set; dropping an
//! [`Events`] kills its children.
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
mod events;
mod lines;
mod queue;
mod read;
mod stdin;

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use ::tokio::runtime::{Handle, Id};

pub use self::child::{Child, ChildLines, ChildOutput, LineBatch, LineRef};
use self::core::{Core, Slot, State};
pub use self::events::Events;
pub use self::queue::{OwnedEvent, OwnedEventKind};
pub use self::read::ChildStdout;
pub use self::stdin::ChildStdin;
use crate::child::ChildId;
use crate::command::{Command, Input, Output};
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::spawn::{self, Spec};

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
        Ok(Driver {
            core: Core::new(false)?,
        })
    }

    /// The driver of the current runtime, which [`spawn`] and [`output`]
    /// use: one per runtime, made on first use, living as long as the
    /// runtime does (as tokio's own drivers), so that a spawn now and then
    /// finds its reactor and task ready. Idle, it costs its fds (about a
    /// dozen) and no wake-up.
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
        let core = Core::new(true)?;
        // Its task holds it from now on, and goes with the runtime.
        core.ensure_pump(&mut core.lock())?;
        shared.push((rt, Arc::downgrade(&core)));
        Ok(Driver { core })
    }

    /// The driver's event stream: every event of the children started
    /// through it, owned, for a supervisor loop (see [`Events`]).
    ///
    /// # Errors
    ///
    /// [`Error::EventsTaken`] while another [`Events`] of this driver
    /// lives.
    pub fn events(&self) -> Result<Events> {
        Events::new(&self.core)
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
        in_runtime()?;
        self.adopt(&cmd.prepare()?)
    }

    /// Starts a [`Pipeline`] as one child, as
    /// [`Reactor::spawn_pipeline`](crate::Reactor::spawn_pipeline) does:
    /// its handle's lines, raw streams and stdin are the pipeline's (the
    /// first stage's stdin, the last stage's stdout and stderr), its exit
    /// the whole's under `pipefail` ([`Exit::failed_stage`] names the
    /// stage), each stage's end in
    /// [`Child::stage_exits`]; a stop, a signal, a kill or a drop reaches
    /// every stage.
    ///
    /// # Errors
    ///
    /// As [`Reactor::spawn_pipeline`](crate::Reactor::spawn_pipeline), and
    /// [`Error::Io`] outside a tokio runtime (nothing is started then).
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Command, Pipeline};
    ///
    /// # ::tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
    /// let mut p = Pipeline::new({
    ///     let mut sh = Command::new("sh");
    ///     sh.args(["-c", "echo b; echo a; exit 3"]);
    ///     sh
    /// });
    /// p.pipe(Command::new("sort"));
    /// let mut child = procrun::tokio::Driver::shared()?.spawn_pipeline(&p)?;
    /// let mut lines = Vec::new();
    /// while let Some(line) = child.next_line().await? {
    ///     lines.push(line.to_string_lossy().into_owned());
    /// }
    /// assert_eq!(lines, ["a", "b"]);
    /// let exit = child.wait().await?;
    /// assert_eq!((exit.code(), exit.failed_stage()), (Some(3), Some(0)));
    /// assert_eq!(child.stage_exits().len(), 2);
    /// # Ok::<(), procrun::Error>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// [`Exit::failed_stage`]: crate::Exit::failed_stage
    pub fn spawn_pipeline(&self, pipeline: &Pipeline) -> Result<Child> {
        in_runtime()?;
        self.adopt(&pipeline.prepare()?)
    }

    /// Starts the child of `spec` and gives it a handle.
    fn adopt(&self, spec: &Spec) -> Result<Child> {
        let (mut state, id) = start(&self.core, spec)?;
        let pid = state.reactor.pid(id);
        let raw = [&spec.stdout, &spec.stderr].map(|o| matches!(o, Output::Raw));
        let slot = Slot::new(pid, matches!(spec.stdin, Input::Stream), raw);
        state
            .slots
            .insert(id, slot.with_stages(spec.upstream.is_some()));
        started(&self.core, state);
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

    /// Runs `pipeline` to its end and collects both its streams byte for
    /// byte, as [`output`](Driver::output) does for a command: the last
    /// stage's streams at [`Output::Lines`] are made [`Output::Raw`].
    ///
    /// # Errors
    ///
    /// As [`spawn_pipeline`](Driver::spawn_pipeline) and
    /// [`Child::output`].
    pub async fn output_pipeline(&self, pipeline: &Pipeline) -> Result<ChildOutput> {
        let mut raw = pipeline.clone();
        let last = raw.last_mut();
        for out in [&mut last.stdout, &mut last.stderr] {
            if matches!(out, Output::Lines) {
                *out = Output::Raw;
            }
        }
        self.spawn_pipeline(&raw)?.output().await
    }
}

/// Fails outside a tokio runtime: checked before anything is started.
fn in_runtime() -> Result<()> {
    Handle::try_current()
        .map(drop)
        .map_err(|e| Error::Io(io::Error::other(e)))
}

/// Starts the child of `spec` and takes it into the driver's reactor:
/// the lock, under which the caller gives the child its place (a slot, or
/// an event stream), and the child's id.
fn start<'a>(core: &'a Core, spec: &Spec) -> Result<(MutexGuard<'a, State>, ChildId)> {
    // The spawn itself (about 0.3 ms: the parent waits for the child's
    // exec) runs outside the lock, so other tasks' handles and the pump
    // go on meanwhile, and spawns on several workers overlap.
    let started = Instant::now();
    let spawned = spawn::start(spec, core.use_pidfd, &core.spawn_fds)?;
    let mut state = core.lock();
    let id = state.reactor.add_spawned(spec, None, spawned, started)?;
    Ok((state, id))
}

/// After a child got its place under the lock `state`: a pump to drive it,
/// woken to give its `Started`.
fn started(core: &Arc<Core>, mut state: MutexGuard<'_, State>) {
    // In the lock the child was added under, so a pump that finds
    // nothing to drive cannot end between the two. It cannot fail for
    // want of a runtime now; a failure to dup the reactor's fd is met
    // again, and said, by the handle's first wait.
    let _ = core.ensure_pump(&mut state);
    drop(state);
    // The child's `Started` is owed: the pump looks again.
    core.kick();
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

/// Starts a [`Pipeline`] on the [shared](Driver::shared) driver of the
/// current runtime.
///
/// # Errors
///
/// As [`Driver::spawn_pipeline`].
pub fn spawn_pipeline(pipeline: &Pipeline) -> Result<Child> {
    Driver::shared()?.spawn_pipeline(pipeline)
}

/// Runs `pipeline` to its end on the [shared](Driver::shared) driver of
/// the current runtime: both streams of its last stage byte for byte, and
/// the exit of the whole.
///
/// # Errors
///
/// As [`Driver::output_pipeline`].
pub async fn output_pipeline(pipeline: &Pipeline) -> Result<ChildOutput> {
    Driver::shared()?.output_pipeline(pipeline).await
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
