//! The handle side of a process's lifecycle: how a start, a close, a
//! signal, the waits and the stdin writer meet the driver, through the
//! transitions of [`State`](super::shared::State) and the [`Seam`] to the
//! driver. [`Process`](super::Process) adds what a start prepares (the
//! command, its script file); the model-checked tests run this code
//! against a driver stand-in.

use std::time::Instant;

use super::seam::Seam;
use super::shared::{Resume, Shared};
use super::sync::{lock, Arc, Mutex, MutexGuard};
use crate::child::ChildId;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::signal::Signal;

/// A process's shared state, the driver its start went to, and what the
/// start made (`R`: the script file), which lives until the close.
#[derive(Debug)]
pub(crate) struct Handle<D, R> {
    pub(crate) shared: Arc<Shared>,
    driver: DriverSlot<D>,
    res: Mutex<R>,
}

/// The driver of a process's last start that reached one, shared with its
/// readers: a reader taken while a start runs on another thread must
/// send its resumes to the driver that start picks, which it did not
/// know yet when it was taken. Set before the start is queued, so that it
/// holds the driver of any child the state names while that child runs
/// (a new start, which replaces it, begins only once the state is `Idle`).
pub(crate) type DriverSlot<D> = Arc<Mutex<Option<D>>>;

/// Asks the driver in `slot` to resume the child a reader unpaused.
pub(crate) fn resume<D: Seam>(slot: &Mutex<Option<D>>, r: Resume) {
    if let Some(id) = r.0 {
        if let Some(d) = lock(slot).clone() {
            d.resume(id);
        }
    }
}

/// A reader of the output of `shared` is dropped (see
/// [`State::reader_gone`](super::shared::State::reader_gone)).
pub(crate) fn reader_gone<D: Seam>(shared: &Shared, slot: &Mutex<Option<D>>) {
    let mut st = shared.lock();
    let r = st.reader_gone();
    shared.notify(&st);
    drop(st);
    resume(slot, r);
}

impl<D: Seam, R: Default> Handle<D, R> {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Handle {
            shared,
            driver: Arc::new(Mutex::new(None)),
            res: Mutex::new(R::default()),
        }
    }

    pub(crate) fn res(&self) -> MutexGuard<'_, R> {
        lock(&self.res)
    }

    /// The driver of the last start that reached one.
    pub(crate) fn driver(&self) -> Option<D> {
        lock(&self.driver).clone()
    }

    /// Starts: `prepare` makes the job (and what it needs, in `R`),
    /// `pick` the driver to run it on. A start that fails drops what
    /// `prepare` made and is undone, so that it can be tried again.
    pub(crate) fn start(
        &self,
        prepare: impl FnOnce(&mut R) -> Result<D::Job>,
        pick: impl FnOnce() -> Result<D>,
    ) -> Result<()> {
        self.shared.lock().begin_start()?;
        let r = self.start_inner(prepare, pick);
        if r.is_err() {
            *self.res() = R::default();
            let mut st = self.shared.lock();
            st.undo_start();
            self.shared.notify(&st);
        }
        r
    }

    fn start_inner(
        &self,
        prepare: impl FnOnce(&mut R) -> Result<D::Job>,
        pick: impl FnOnce() -> Result<D>,
    ) -> Result<()> {
        let job = prepare(&mut self.res())?;
        let driver = pick()?;
        *lock(&self.driver) = Some(driver.clone());
        driver.start(self.shared.clone(), job)?;
        let st = self.shared.lock();
        self.shared.wait_started(st).take_answer()
    }

    /// Closes: see [`Process::close`](super::Process::close) and the
    /// start against close in [`shared`](super::shared).
    pub(crate) fn close(&self) -> Result<()> {
        let mut st = self.shared.lock();
        resume(&self.driver, st.close());
        self.shared.notify(&st);
        // A start under way is answered first: refused, or spawned and then
        // there is a child to wait for.
        let st = self.shared.wait_started(st);
        if let Some(id) = st.live() {
            drop(st);
            // Every close asks, not only the first: the driver stops a child
            // once, and a close must not rely on another that may not have
            // sent its stop yet.
            if let Some(d) = self.driver() {
                d.stop(id);
            }
            let st = self.shared.lock();
            self.shared.wait_closed(st).close_result()?;
        } else {
            drop(st);
        }
        *self.res() = R::default();
        Ok(())
    }

    /// Closes without waiting, as a drop does: the stop is sent and the
    /// driver reaps the child. Readers taken before keep reading what the
    /// child wrote until it is done.
    pub(crate) fn abandon(&self) {
        let live = {
            let mut st = self.shared.lock();
            if st.closed() {
                None
            } else {
                resume(&self.driver, st.abandon());
                self.shared.notify(&st);
                st.live()
            }
        };
        if let (Some(id), Some(d)) = (live, self.driver()) {
            d.stop(id);
        }
    }

    /// See [`Process::signal`](super::Process::signal).
    pub(crate) fn signal(&self, sig: Signal) -> Result<()> {
        let st = self.shared.lock();
        if !st.started() {
            return Err(Error::NotStarted);
        }
        let st = self.shared.wait_started(st);
        let Some(id) = st.id() else {
            // The start failed, and is being undone.
            return Err(Error::NotStarted);
        };
        if st.is_done() {
            return Ok(());
        }
        drop(st);
        match self.driver() {
            Some(d) => d.signal(id, sig),
            None => Err(Error::NotStarted),
        }
    }

    /// # Errors
    ///
    /// [`Error::Aborted`] once closed, [`Error::NotStarted`] before a
    /// start.
    pub(crate) fn check_readable(&self) -> Result<()> {
        let st = self.shared.lock();
        if st.closed() {
            return Err(Error::Aborted);
        }
        if !st.started() {
            return Err(Error::NotStarted);
        }
        Ok(())
    }

    /// Counts a reader of the output handed out; with `checked`, only
    /// while it may be (as [`check_readable`](Self::check_readable)).
    ///
    /// # Errors
    ///
    /// As [`check_readable`](Self::check_readable), when `checked`.
    pub(crate) fn take_reader(&self, checked: bool) -> Result<()> {
        let mut st = self.shared.lock();
        if checked {
            if st.closed() {
                return Err(Error::Aborted);
            }
            if !st.started() {
                return Err(Error::NotStarted);
            }
        }
        st.reader_taken();
        Ok(())
    }

    /// Where a reader of the output finds the driver to resume the child.
    pub(crate) fn driver_slot(&self) -> DriverSlot<D> {
        self.driver.clone()
    }

    /// Hands out the stdin writer of the current run: its driver, child
    /// and run. See [`Process::stdin`](super::Process::stdin).
    pub(crate) fn stdin(&self) -> Result<(D, ChildId, usize)> {
        let st = self.shared.lock();
        let st = self.shared.wait_started(st);
        let (Some(id), Some(driver)) = (st.id(), self.driver()) else {
            return Err(Error::NotStarted);
        };
        let mut st = self.shared.wait_next_run(st);
        let run = st.take_stdin()?;
        Ok((driver, id, run))
    }

    /// Waits for the final exit, closing first the stdin stream of each
    /// run whose writer nobody took, as tokio's `wait` drops the child's
    /// stdin: a child reading its stdin to the end (`cat`) would otherwise
    /// never exit. Each run's writer is taken here once the run started,
    /// so a writer asked for later gets [`Error::NoStdin`].
    pub(crate) fn wait_closing_stdin(&self) -> Result<Option<Exit>> {
        let st = self.shared.lock();
        if !st.started() {
            return Err(Error::NotStarted);
        }
        let mut st = self.shared.wait_started(st);
        if let (Some(id), Some(driver)) = (st.id(), self.driver()) {
            loop {
                st = self.shared.wait_next_run(st);
                if st.is_done() || st.closed() {
                    break;
                }
                let run = st.exits().len();
                // A writer taken already stays its taker's.
                if st.take_stdin().is_ok() {
                    drop(st);
                    driver.close_stdin(id, run);
                    st = self.shared.lock();
                }
                st = self.shared.wait_exit(st, run, None).0;
            }
        }
        drop(st);
        self.wait_final(None)
    }

    /// Waits for the final exit until `deadline`.
    pub(crate) fn wait_final(&self, deadline: Option<Instant>) -> Result<Option<Exit>> {
        let st = self.shared.lock();
        if !st.started() {
            return Err(Error::NotStarted);
        }
        let (st, ok) = self.shared.wait_final(st, deadline);
        if !ok {
            return Ok(None);
        }
        if !st.started() {
            return Err(Error::NotStarted);
        }
        if st.is_driver_gone() {
            return Err(Error::DriverGone);
        }
        Ok(st.exits().last().copied())
    }
}
