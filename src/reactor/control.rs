//! What a caller can do to one child: stop it, pause and resume its
//! output, signal or kill it.

use super::children::StopCause;
use super::Reactor;
use crate::child::ChildId;
use crate::error::{Error, Result};
use crate::signal::Signal;

impl Reactor {
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
    /// exited, or stopping twice, does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownChild`](crate::error::Error::UnknownChild) for a stale handle.
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
    /// // Its handle is stale now.
    /// assert!(matches!(reactor.stop(id), Err(Error::UnknownChild)));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn stop(&mut self, id: ChildId) -> Result<()> {
        if self.children.get(id).is_none() {
            return Err(Error::UnknownChild);
        }
        self.begin_stop(id.index, StopCause::Stop);
        self.check_child(id.index);
        Ok(())
    }

    /// Stops reading the child's output (see [`Control::pause`](super::Control::pause)).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownChild`](crate::error::Error::UnknownChild) for a stale handle.
    pub fn pause(&mut self, id: ChildId) -> Result<()> {
        let c = self.children.get_mut(id).ok_or(Error::UnknownChild)?;
        c.paused = true;
        Ok(())
    }

    /// Reads the child's output again.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownChild`](crate::error::Error::UnknownChild) for a stale handle.
    pub fn resume(&mut self, id: ChildId) -> Result<()> {
        if self.children.get(id).is_none() {
            return Err(Error::UnknownChild);
        }
        self.do_resume(id.index);
        Ok(())
    }

    /// Sends `sig` to the child's current run as a stop would: to its
    /// process group and to the child itself if it left the group, or to
    /// the child alone when detached. Nothing else changes: no stop starts,
    /// so [`Exit::stopped`](crate::exit::Exit::stopped) stays false and the restart policy decides
    /// what follows the run's end.
    ///
    /// A child with no live run (it just exited and its
    /// [`Exited`](super::Event::Exited) event is on its way, or it waits for a
    /// restart) is sent nothing and `Ok(())` is returned: a signal can
    /// always lose the race with an exit, so success never meant the child
    /// acted on it, and the events tell what became of the child.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownChild`](crate::error::Error::UnknownChild) for a stale handle; [`Error::Signal`](crate::error::Error::Signal) when
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
        if self.children.get(id).is_none() {
            return Err(Error::UnknownChild);
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
    /// assert!(matches!(reactor.kill(id), Err(procrun::Error::UnknownChild)));
    /// # Ok::<(), procrun::Error>(())
    /// ```
    pub fn kill(&mut self, id: ChildId) -> Result<()> {
        self.signal(id, Signal::KILL)
    }
}
