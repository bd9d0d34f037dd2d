//! The reactor as a whole: its children listed, all of them stopped, and
//! a graceful shutdown that drives the reactor until it is empty.

use std::time::{Duration, Instant};

use super::children::StopCause;
use super::timers::Timer;
use super::{Control, Event, Reactor};
use crate::child::ChildId;
use crate::error::{Error, Result};

/// How long [`Reactor::shutdown`] waits, past its deadline and the
/// `SIGKILL` it sent then, for what is left to be gone: the longest a
/// stop waits for members of a group `SIGKILL` cannot end yet.
const KILL_WAIT: Duration = Duration::from_secs(10);

impl Reactor {
    /// The children supervised (until their [`Done`](Event::Done)), in
    /// no particular order: running, stopping, waiting to restart, or
    /// with output still to read. [`pid`](Reactor::pid) gives the pid of
    /// each one's live run.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Command, Reactor};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let mut sleep = Command::new("sleep");
    /// sleep.arg("30");
    /// let a = reactor.spawn(&sleep)?;
    /// let b = reactor.spawn(&sleep)?;
    /// let mut ids: Vec<_> = reactor.children().collect();
    /// ids.sort_by_key(|id| reactor.pid(*id));
    /// assert_eq!(ids.len(), 2);
    /// assert!(ids.contains(&a) && ids.contains(&b));
    /// assert!(ids.iter().all(|id| reactor.pid(*id).is_some()));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn children(&self) -> impl Iterator<Item = ChildId> + '_ {
        self.children.ids()
    }

    /// Stops every child, each as [`stop`](Reactor::stop) does: its stop
    /// signal, then `SIGKILL` when its own grace ends; a pending restart
    /// is cancelled and none follows. Children stopped already are left as
    /// they are. Poll until the reactor is empty to see them done, or use
    /// [`shutdown`](Reactor::shutdown), which does both.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Command, Event, Reactor, Signal};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let mut sleep = Command::new("sleep");
    /// sleep.arg("30");
    /// for _ in 0..3 {
    ///     reactor.spawn(&sleep)?;
    /// }
    /// reactor.stop_all();
    /// let mut signals = Vec::new();
    /// while !reactor.is_empty() {
    ///     reactor.poll(None, |_, event| {
    ///         if let Event::Exited(exit) = event {
    ///             assert!(exit.stopped());
    ///             signals.push(exit.signal());
    ///         }
    ///     })?;
    /// }
    /// assert_eq!(signals, [Some(Signal::TERM); 3]);
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn stop_all(&mut self) {
        for index in 0..self.children.end() {
            if self
                .children
                .at(index)
                .is_some_and(|c| c.stopping.is_none())
            {
                self.begin_stop(index, StopCause::Stop);
                self.check_child(index);
            }
        }
    }

    /// Shuts the reactor down gracefully: stops every child (as
    /// [`stop_all`](Reactor::stop_all), each with its own grace) and polls,
    /// handing every event to `handler` as [`poll`](Reactor::poll) does,
    /// until no child is left. Once `deadline` (from now) has passed, what
    /// is left is sent `SIGKILL` at once, whatever its grace. A child a
    /// handler spawns meanwhile is stopped as well, and no restart
    /// follows. A `deadline` too large for the clock means none: each
    /// child's grace still ends in `SIGKILL`.
    ///
    /// This is what an agent does on `SIGTERM`; procrun installs no signal
    /// handler, so the agent catches the signal itself and calls this (see
    /// the `shutdown` example). Dropping a reactor instead kills its
    /// children at once, with no grace.
    ///
    /// # Errors
    ///
    /// As [`poll`](Reactor::poll); and [`Error::TimedOut`] when children
    /// are still there 10 seconds after the deadline's `SIGKILL`: a child
    /// that made itself another user and cannot be signalled (see
    /// [`Event::SignalFailed`]), or one stuck in the kernel. They are still
    /// supervised; dropping the reactor leaves them without blocking.
    ///
    /// # Examples
    ///
    /// A worker that needs a moment to flush on `SIGTERM` gets it; one
    /// that ignores `SIGTERM` is killed at the deadline:
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use procrun::{Command, Event, Reactor, Signal};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let mut flushing = Command::new("sh");
    /// flushing
    ///     .args(["-c", "trap 'sleep 0.2; echo flushed; exit 0' TERM; echo up; sleep 30 & wait"])
    ///     .grace(Duration::from_secs(20));
    /// let mut stubborn = Command::new("sh");
    /// stubborn
    ///     .args(["-c", "trap '' TERM; echo up; while :; do sleep 1; done"])
    ///     .grace(Duration::from_secs(20));
    /// let (a, b) = (reactor.spawn(&flushing)?, reactor.spawn(&stubborn)?);
    /// let mut up = 0;
    /// while up < 2 {
    ///     reactor.poll(None, |_, event| up += matches!(event, Event::Line { .. }) as usize)?;
    /// }
    ///
    /// let started = Instant::now();
    /// let (mut lines, mut exits) = (Vec::new(), Vec::new());
    /// reactor.shutdown(Duration::from_secs(1), |_, event| match event {
    ///     Event::Line { line, .. } => lines.push(line.to_vec()),
    ///     Event::Exited(exit) => exits.push((exit.id(), exit.code(), exit.signal())),
    ///     _ => {}
    /// })?;
    /// assert!(reactor.is_empty());
    /// assert_eq!(lines, [b"flushed"]);
    /// assert!(exits.contains(&(a, Some(0), None)));
    /// assert!(exits.contains(&(b, None, Some(Signal::KILL))));
    /// assert!(started.elapsed() < Duration::from_secs(15));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn shutdown<F>(&mut self, deadline: Duration, mut handler: F) -> Result<()>
    where
        F: FnMut(&mut Control<'_>, Event<'_>),
    {
        let kill_at = Instant::now().checked_add(deadline);
        let give_up = kill_at.and_then(|k| k.checked_add(KILL_WAIT));
        let mut killed = false;
        while !self.is_empty() {
            // Again on every turn: a handler may have spawned.
            self.stop_all();
            let now = Instant::now();
            if !killed && kill_at.is_some_and(|k| now >= k) {
                self.end_graces();
                killed = true;
            }
            if give_up.is_some_and(|g| now >= g) {
                return Err(Error::TimedOut);
            }
            let until = if killed { give_up } else { kill_at };
            self.poll(
                until.map(|t| t.saturating_duration_since(now)),
                &mut handler,
            )?;
        }
        Ok(())
    }

    /// Ends every stop's grace now: each stop's timer is armed again to
    /// fire at once, so the next poll does what the grace's end does
    /// (`SIGKILL` to the run and its cgroup, or the reap of a leader left
    /// unreaped while its group finished).
    fn end_graces(&mut self) {
        for index in 0..self.children.end() {
            // A child not stopping has no kill timer: its stop timer, if
            // any, is its run's timeout, which the stop replaces.
            let Some(k) = self
                .children
                .at(index)
                .filter(|c| c.stopping.is_some())
                .and_then(|c| c.stop_timer)
            else {
                continue;
            };
            self.wheel.cancel(k);
            let id = self.children.id_of(index);
            let key = self.timer_in(Duration::ZERO, Timer::Kill(id));
            self.children.at_mut(index).stop_timer = key;
        }
    }
}
