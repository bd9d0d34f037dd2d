//! What a caller can do to one child: stop it, pause and resume its
//! output, signal or kill it.

use super::children::{Pause, StopCause};
use super::Reactor;
use crate::child::ChildId;
use crate::error::{Error, Result};
use crate::signal::Signal;

impl Reactor {
    /// Whether `id` names a child still supervised (true), or one this
    /// reactor issued that is done (false), for the calls that make a
    /// done child a no-op.
    fn live(&self, id: ChildId) -> Result<bool> {
        if self.children.get(id).is_some() {
            Ok(true)
        } else if self.children.issued(id) {
            Ok(false)
        } else {
            Err(Error::UnknownChild)
        }
    }

    /// The pid of the child's current run, if one is alive.
    pub fn pid(&self, id: ChildId) -> Option<u32> {
        self.children.get(id)?.run.as_ref().map(|r| r.handle.pid())
    }

    /// Whether the handle names a child still supervised.
    pub fn contains(&self, id: ChildId) -> bool {
        self.children.get(id).is_some()
    }

    /// Stops the child: its stop signal (default `SIGTERM`) to its process
    /// group (to the child alone when detached), then `SIGCONT` so a
    /// stopped child sees it (`SIGCONT` first for `SIGTSTP`, `SIGTTIN`,
    /// `SIGTTOU` and `SIGSTOP`, which it would discard: see
    /// [`Command::stop_signal`](crate::Command::stop_signal)), then
    /// `SIGKILL` once the grace period ends. A
    /// pending restart is cancelled.
    ///
    /// The grace is for every process of the run, as systemd gives each
    /// process of a unit the whole stop timeout: when the child exits
    /// within the grace while members of its process group (or, when
    /// contained, processes in its cgroup) are still alive, say flushing
    /// on the stop signal, it is left unreaped (a zombie, which keeps its
    /// group's id from being reused) until they are all gone or the grace
    /// ends. Then it is reaped, what is left of its group and cgroup is
    /// sent `SIGKILL`, and its [`Exited`](super::Event::Exited) event
    /// comes: for such a run, later than the child's own exit (its
    /// [`wall_time`](crate::exit::Exit::wall_time) still ends at that
    /// exit). The stop is over at its [`Done`](super::Event::Done), once
    /// nothing of the run is left alive: no member of its process group
    /// (zombies, which procrun does not reap, count as gone) and, when
    /// contained, no process in its cgroup. A member `SIGKILL` cannot end
    /// (stuck in the kernel) is waited for at most the grace, from one
    /// second to ten, after the reap. Stopping a child that already
    /// exited, stopping twice, or stopping a child that is done (its
    /// [`Done`](super::Event::Done) was delivered) does nothing and
    /// returns `Ok`, as tokio's `Child::kill` after `wait` does: a
    /// shutdown path may stop every id it kept without checking which
    /// are still alive.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownChild`](crate::error::Error::UnknownChild) for an id
    /// this reactor never issued (another reactor's, or made up).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procrun::{Command, Error, Event, Reactor, Signal};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let mut cmd = Command::new("sleep");
    /// cmd.arg("30").grace(Duration::from_secs(5));
    /// let id = reactor.spawn(&cmd)?;
    /// reactor.stop(id)?;
    ///
    /// let mut exit = None;
    /// while !reactor.is_empty() {
    ///     reactor.poll(None, |_, event| {
    ///         if let Event::Exited(e) = event {
    ///             exit = Some(e);
    ///         }
    ///     })?;
    /// }
    /// let exit = exit.expect("a stopped child is reaped");
    /// assert!(exit.stopped());
    /// assert_eq!(exit.signal(), Some(Signal::TERM));
    /// // Done: stopping it again is a no-op, not an error.
    /// assert!(!reactor.contains(id));
    /// reactor.stop(id)?;
    /// // An id this reactor never issued is an error.
    /// let other = Reactor::new()?.spawn(&Command::new("true"))?;
    /// assert!(matches!(reactor.stop(other), Err(Error::UnknownChild)));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn stop(&mut self, id: ChildId) -> Result<()> {
        if self.live(id)? {
            self.begin_stop(id.index, StopCause::Stop);
            self.check_child(id.index);
        }
        Ok(())
    }

    /// Stops reading the child's output (see [`Control::pause`](super::Control::pause)).
    /// A child that is done has nothing left to read: pausing it does
    /// nothing.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownChild`](crate::error::Error::UnknownChild) for an id
    /// this reactor never issued.
    pub fn pause(&mut self, id: ChildId) -> Result<()> {
        if self.live(id)? {
            self.children.at_mut(id.index).paused = Pause::Held;
        }
        Ok(())
    }

    /// Reads the child's output again; for a child that is done, nothing.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownChild`](crate::error::Error::UnknownChild) for an id
    /// this reactor never issued.
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Command, Error, Reactor};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let id = reactor.spawn(&Command::new("true"))?;
    /// reactor.pause(id)?;
    /// reactor.resume(id)?;
    /// while !reactor.is_empty() {
    ///     reactor.poll(None, |_, _| {})?;
    /// }
    /// // Done: both are no-ops now.
    /// reactor.pause(id)?;
    /// reactor.resume(id)?;
    /// let stranger = Reactor::new()?.spawn(&Command::new("true"))?;
    /// assert!(matches!(reactor.resume(stranger), Err(Error::UnknownChild)));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn resume(&mut self, id: ChildId) -> Result<()> {
        if self.live(id)? {
            self.do_resume(id.index);
        }
        Ok(())
    }

    /// Sends `sig` to the child's current run as a stop would: to its
    /// process group and to the child itself if it left the group, or to
    /// the child alone when detached. Nothing else changes: no stop starts,
    /// so [`Exit::stopped`](crate::exit::Exit::stopped) stays false and the restart policy decides
    /// what follows the run's end.
    ///
    /// A child with no live run (it just exited and its
    /// [`Exited`](super::Event::Exited) event is on its way, it waits for a
    /// restart, or it is done) is sent nothing and `Ok(())` is returned: a
    /// signal can always lose the race with an exit, so success never
    /// meant the child acted on it, and the events tell what became of the
    /// child.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownChild`](crate::error::Error::UnknownChild) for an id
    /// this reactor never issued; [`Error::Signal`](crate::error::Error::Signal) when
    /// the signal reached nothing of the run (it made itself another user).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procrun::{Command, Event, Reactor, Signal};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let mut cmd = Command::new("sh");
    /// cmd.args(["-c", "trap 'echo got USR1; exit 0' USR1; echo ready; sleep 60 & wait"])
    ///     .timeout(Duration::from_secs(60));
    /// let id = reactor.spawn(&cmd)?;
    /// let (mut lines, mut signalled) = (Vec::new(), false);
    /// while !reactor.is_empty() {
    ///     reactor.poll(None, |_, event| {
    ///         if let Event::Line { line, .. } = event {
    ///             lines.push(String::from_utf8_lossy(line).into_owned());
    ///         }
    ///     })?;
    ///     if lines == ["ready"] && !signalled {
    ///         reactor.signal(id, Signal::USR1)?;
    ///         signalled = true;
    ///     }
    /// }
    /// assert_eq!(lines, ["ready", "got USR1"]);
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn signal(&mut self, id: ChildId, sig: Signal) -> Result<()> {
        if !self.live(id)? {
            return Ok(());
        }
        self.signal_run(id.index, sig)
    }

    /// Sends `SIGKILL` to the child's current run, as
    /// [`signal`](Reactor::signal) does, at once and without a grace.
    ///
    /// Unlike [`stop`](Reactor::stop), this ends the run, not the child:
    /// the exit is not [`stopped`](crate::exit::Exit::stopped), and a child
    /// restarted on error is restarted (a kill is a failure, as one from
    /// outside would be). To end a child for good without waiting for its
    /// grace, [`stop`](Reactor::stop) it and then kill it.
    ///
    /// # Errors
    ///
    /// As [`signal`](Reactor::signal).
    ///
    /// # Examples
    ///
    /// ```
    /// use procrun::{Command, Event, Reactor, Signal};
    ///
    /// let mut reactor = Reactor::new()?;
    /// let mut cmd = Command::new("sleep");
    /// cmd.arg("60");
    /// let id = reactor.spawn(&cmd)?;
    /// reactor.kill(id)?;
    /// let mut exit = None;
    /// while !reactor.is_empty() {
    ///     reactor.poll(None, |_, event| {
    ///         if let Event::Exited(e) = event {
    ///             exit = Some(e);
    ///         }
    ///     })?;
    /// }
    /// let exit = exit.unwrap();
    /// assert_eq!(exit.signal(), Some(Signal::KILL));
    /// assert!(!exit.stopped());
    /// // Killing a child that is done is a no-op, as tokio's kill after wait.
    /// reactor.kill(id)?;
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn kill(&mut self, id: ChildId) -> Result<()> {
        self.signal(id, Signal::KILL)
    }
}
