//! What the handles of a process ask of the driver serving it: the seam
//! between the handle API's shared state and the thread that owns the
//! reactor. The driver thread ([`Driver`](super::driver::Driver))
//! implements it; the model-checked tests put a stand-in of their own
//! behind it, so that the handles' code runs unchanged against every
//! interleaving the model checker explores.

use super::shared::Shared;
use super::sync::Arc;
use crate::child::ChildId;
use crate::error::Result;
use crate::signal::Signal;

/// A driver, as the handles of its processes see it. Requests without an
/// answer are moot to a driver that is gone: its children were killed
/// with its reactor and their processes marked done.
pub(crate) trait Seam: Clone {
    /// What a start carries to the driver (the command to spawn).
    type Job;

    /// Queues a start for `shared`, which is `Starting`; the driver
    /// answers in `shared` (see [`Shared`]).
    ///
    /// # Errors
    ///
    /// [`Error::DriverGone`](crate::Error::DriverGone) when the driver is
    /// gone: nothing was queued, and no answer comes.
    fn start(&self, shared: Arc<Shared>, job: Self::Job) -> Result<()>;

    /// Stops the child, with escalation; its `Done` follows the reap.
    fn stop(&self, id: ChildId);

    /// Resumes a child a full buffer paused.
    fn resume(&self, id: ChildId);

    /// Sends `sig` to the current run, returning once it was sent.
    ///
    /// # Errors
    ///
    /// The reactor's, but `Ok(())` for a child already gone;
    /// [`Error::DriverGone`](crate::Error::DriverGone).
    fn signal(&self, id: ChildId, sig: Signal) -> Result<()>;

    /// Queues `bytes` for the stdin of run `run` of the child (refused
    /// with `BrokenPipe` unless that run is the current one); returns
    /// how many were taken.
    ///
    /// # Errors
    ///
    /// The reactor's (`WouldBlock` for a full queue, `BrokenPipe`,
    /// [`UnknownChild`](crate::Error::UnknownChild));
    /// [`Error::DriverGone`](crate::Error::DriverGone).
    fn write_stdin(&self, id: ChildId, run: usize, bytes: Vec<u8>) -> Result<usize>;

    /// Closes the stdin of run `run` of the child, if that run is the
    /// current one.
    fn close_stdin(&self, id: ChildId, run: usize);
}
