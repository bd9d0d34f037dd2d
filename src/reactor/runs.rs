//! A child's runs: starting one, seeing it exit, delivering its exit,
//! restarting it, stopping it with escalation.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use mio::Interest;

use super::event::lost_status;
use super::{
    ChildId, Ctx, Event, Exit, InPipe, Input, OutPipe, Queued, Reactor, Ready, Run, Source,
    StopCause, Stream, Timer, DEFAULT_PIPE, EXIT_POLL_MAX_MS, EXIT_POLL_MIN_MS, PIDFD,
};
use crate::command::Command;
use crate::lines::LineReader;
use crate::signal::Signal;
use crate::spawn::{spawn, Spawned};
use crate::{Error, Result};

impl Reactor {
    pub(super) fn restart(&mut self, id: ChildId, cmd: &Command, ctx: &mut Ctx<'_>) {
        match self.start_run(id.index, cmd) {
            Ok(pid) => {
                let restarts = self.child_mut(id.index).restarts;
                ctx.emit(Event::Started { id, pid, restarts });
            }
            Err(error) => {
                ctx.emit(Event::RestartFailed { id, error });
                let c = self.child_mut(id.index);
                c.finished = true;
                self.maybe_done(id.index, ctx);
            }
        }
    }

    /// Spawns a run of child `index` from `cmd` and registers its fds.
    pub(super) fn start_run(&mut self, index: u32, cmd: &Command) -> Result<u32> {
        let use_pidfd = self.use_pidfd;
        let max_line = cmd.max_line;
        let stdin_data = match &cmd.stdin {
            Input::Bytes(b) => Some(b.clone()),
            _ => None,
        };
        let Spawned {
            handle,
            no_pidfd,
            stdin,
            stdout,
            stderr,
        } = spawn(cmd, use_pidfd, self.null.as_fd())?;
        if no_pidfd {
            self.use_pidfd = false;
        }
        let pid = handle.pid();
        // From here on the child runs: a failure below must not leave it
        // running unwatched or unreaped.
        let mut failed = None;
        match handle.pidfd() {
            Some(fd) => {
                failed = self
                    .register(PIDFD | index as usize, fd, Interest::READABLE)
                    .err();
            }
            None => {
                self.polled += 1;
                self.exit_poll_ms = EXIT_POLL_MIN_MS;
                self.arm_exit_poll();
            }
        }
        let mut pipes = [None, None];
        for (slot, (fd, stream)) in [(stdout, Stream::Stdout), (stderr, Stream::Stderr)]
            .into_iter()
            .enumerate()
        {
            let Some(fd) = fd else { continue };
            // The command was validated, so the limit is not 0.
            let reader = LineReader::with_max_line(max_line).unwrap_or_default();
            let t = self.alloc_source(Source::Out(OutPipe {
                fd,
                child: index,
                stream,
                reader,
                capacity: DEFAULT_PIPE,
                grow_tried: false,
                owed: false,
                drain_timer: None,
            }));
            if let Err(e) = self.register_source(t, Interest::READABLE) {
                failed.get_or_insert(e);
            }
            pipes[slot] = Some(t);
        }
        let mut stdin_token = None;
        if let (Some(fd), Some(data)) = (stdin, stdin_data) {
            let t = self.alloc_source(Source::In(InPipe { fd, data, pos: 0 }));
            if let Err(e) = self.register_source(t, Interest::WRITABLE) {
                failed.get_or_insert(e);
            }
            stdin_token = Some(t);
        }
        let child = self.child_mut(index);
        child.open_pipes += pipes.iter().flatten().count() as u32;
        child.pipes = pipes;
        child.run = Some(Run {
            handle,
            started: Instant::now(),
        });
        if let Some(e) = failed {
            // epoll could not take the fds (out of memory): the run cannot be
            // supervised, so end it now rather than leave it unwatched.
            let _ = self.signal_run(index, Signal::KILL);
            let child = self.child_mut(index);
            let run = child.run.take().expect("set above");
            let pipes = std::mem::take(&mut child.pipes);
            child.open_pipes -= pipes.iter().flatten().count() as u32;
            let _ = run.handle.reap_blocking();
            if run.handle.pidfd().is_none() {
                self.polled -= 1;
            }
            for t in pipes.into_iter().flatten().chain(stdin_token) {
                self.free_source(t);
            }
            return Err(Error::Io(e));
        }
        Ok(pid)
    }

    /// Reaps the current run of child `index` if it exited; true if it did.
    pub(super) fn check_exit(&mut self, index: u32, ctx: &mut Ctx<'_>) -> bool {
        let child = self.child_mut(index);
        let Some(run) = &child.run else { return false };
        let (status, status_lost) = match run.handle.try_reap(!child.stop.detached) {
            Ok(None) => return false, // spurious wake-up, or still running
            Ok(Some(status)) => (status, false),
            // ECHILD: the host reaped our child behind our back.
            Err(_) => (lost_status(), true),
        };
        let run = child.run.take().expect("checked above");
        if let Some(k) = child.kill_timer.take() {
            self.wheel.cancel(k);
        }
        match run.handle.pidfd() {
            // Out of epoll before it closes: a child being spawned right now
            // holds a copy of the fd until its exec, which would keep the
            // registration (and its events) alive.
            Some(fd) => self.deregister(fd),
            None => self.polled -= 1,
        }
        let (pid, started) = (run.handle.pid(), run.started);
        // Closed now, before any event: once a caller sees the exit, no fd
        // of the run is left.
        drop(run);
        let id = self.id_of(index);
        let child = self.child_mut(index);
        let stopping = child.stopping;
        let failed = !status.success();
        let mut restart_in = None;
        let mut limit_reached = false;
        let restarts = child.restarts;
        if let (None, true, Some(policy)) = (
            stopping,
            failed,
            child.respawn.as_ref().and_then(|c| c.restart),
        ) {
            if policy
                .get_reset_after()
                .is_some_and(|d| started.elapsed() >= d)
            {
                child.restarts = 0;
            }
            let delay = policy.delay(child.restarts);
            if Instant::now().checked_add(delay).is_none() {
                // A delay no clock can reach means "never": the exit is
                // final, rather than a restart that waits forever.
            } else if policy.get_limit() == 0 || child.restarts < policy.get_limit() {
                restart_in = Some(delay);
                child.restarts += 1;
            } else {
                limit_reached = true;
            }
        }
        child.pending_exit = Some(Box::new(Exit {
            id,
            pid,
            status,
            stopped: stopping.is_some(),
            timed_out: stopping == Some(StopCause::Timeout),
            restart_in,
            limit_reached,
            status_lost,
            restarts,
        }));
        self.finish_exit(index, ctx);
        true
    }

    /// Looks for exited runs among those without a pidfd, then polls again
    /// later: soon after an exit, less and less often while all stay up.
    pub(super) fn poll_exits(&mut self, ctx: &mut Ctx<'_>) {
        let mut any = false;
        for index in 0..self.children.len() as u32 {
            let polled = self.children[index as usize]
                .child
                .as_ref()
                .and_then(|c| c.run.as_ref())
                .is_some_and(|r| r.handle.pidfd().is_none());
            if polled && self.check_exit(index, ctx) {
                any = true;
            }
        }
        self.exit_poll_ms = if any {
            EXIT_POLL_MIN_MS
        } else {
            (self.exit_poll_ms * 2).min(EXIT_POLL_MAX_MS)
        };
        self.arm_exit_poll();
    }

    pub(super) fn arm_exit_poll(&mut self) {
        if let Some(k) = self.exit_poll.take() {
            self.wheel.cancel(k);
        }
        if self.polled > 0 {
            let ms = Duration::from_millis(self.exit_poll_ms);
            self.exit_poll = self.timer_in(ms, Timer::ExitPoll);
        }
    }

    /// Delivers a reaped run's remaining output, then its exit event; held
    /// back while the child is paused (resume calls this again).
    pub(super) fn finish_exit(&mut self, index: u32, ctx: &mut Ctx<'_>) {
        let Some(child) = self.children[index as usize].child.as_ref() else {
            return;
        };
        if child.pending_exit.is_none() || child.paused {
            return;
        }
        // The run is dead (and its group killed), so whatever it wrote sits
        // in the pipe: reading it to the end delivers all of it, even if a
        // process outside the group keeps the pipe open and writing.
        for token in child.pipes.into_iter().flatten() {
            if !self.read_after_exit(token, ctx) {
                // Paused by the handler while reading: resuming comes back
                // here, and the exit must wait for the rest of the output.
                return;
            }
        }
        let child = self.child_mut(index);
        let Some(exit) = child.pending_exit.take() else {
            return;
        };
        let drain = child.stop.drain;
        let pipes = child.pipes;
        if let Some(d) = exit.restart_in {
            let key = self.timer_in(d, Timer::Restart(exit.id));
            self.child_mut(index).restart_timer = key;
        } else {
            let c = self.child_mut(index);
            c.finished = true;
            if let Some(k) = c.timeout_timer.take() {
                self.wheel.cancel(k);
            }
        }
        // Whoever still holds the pipes (a process outside the group) gets
        // the drain time, then the pipes are closed.
        for token in pipes.into_iter().flatten() {
            if matches!(&self.sources[token], Some(Source::Out(p)) if p.drain_timer.is_none()) {
                let key = self.timer_in(drain, Timer::Drain(token));
                if let Some(Source::Out(p)) = &mut self.sources[token] {
                    p.drain_timer = key;
                }
            }
        }
        self.child_mut(index).pipes = [None, None];
        ctx.emit(Event::Exited(*exit));
        self.maybe_done(index, ctx);
    }

    pub(super) fn maybe_done(&mut self, index: u32, ctx: &mut Ctx<'_>) {
        let Some(c) = self.children[index as usize].child.as_ref() else {
            return;
        };
        if c.finished && c.open_pipes == 0 && c.pending_exit.is_none() && c.run.is_none() {
            let id = self.id_of(index);
            self.children[index as usize].child = None;
            self.free_children.push(index);
            self.live -= 1;
            ctx.emit(Event::Done { id });
        }
    }

    pub(super) fn begin_stop(&mut self, index: u32, cause: StopCause) {
        let c = self.child_mut(index);
        if c.stopping.is_some() || c.finished {
            return;
        }
        if let Some(k) = c.restart_timer.take() {
            // Waiting to restart: the stop just ends it.
            self.wheel.cancel(k);
            let c = self.child_mut(index);
            c.finished = true;
            c.stopping = Some(cause);
            if let Some(k) = c.timeout_timer.take() {
                self.wheel.cancel(k);
            }
            // Done comes when its pipes close, or on the next poll if they
            // already are.
            self.ready.push(Ready::MaybeDone(index));
            return;
        }
        if c.run.is_none() {
            return;
        }
        c.stopping = Some(cause);
        let sig = c.stop.signal;
        let grace = c.stop.grace;
        if let Some(k) = c.timeout_timer.take() {
            self.wheel.cancel(k);
        }
        self.signal_or_report(index, sig);
        // A stopped (SIGSTOP) child would never act on the stop signal. If
        // the stop signal failed, so does this: reported once is enough.
        if sig != Signal::KILL {
            let _ = self.signal_run(index, Signal::CONT);
        }
        let id = self.id_of(index);
        let key = self.timer_in(grace, Timer::Kill(id));
        self.child_mut(index).kill_timer = key;
    }

    /// Signals the live run of child `index`: its group while the leader is
    /// unreaped (which pins the group id) and the child itself if it left
    /// the group, or the child alone when detached.
    ///
    /// # Errors
    ///
    /// When the signal reached nothing of the run ([`Error::Signal`]).
    pub(super) fn signal_run(&mut self, index: u32, sig: Signal) -> Result<()> {
        let c = self.child_mut(index);
        let Some(run) = &c.run else { return Ok(()) };
        let sent = if c.stop.detached {
            run.handle.signal(sig.as_raw())
        } else {
            run.handle.signal_with_group(sig.as_raw())
        };
        sent.map_err(|source| Error::Signal {
            pid: run.handle.pid(),
            signal: sig,
            source,
        })
    }

    /// Signals the live run of child `index`; a signal that reached nothing
    /// is reported as [`Event::SignalFailed`] on the next poll, never taken
    /// for sent.
    pub(super) fn signal_or_report(&mut self, index: u32, sig: Signal) {
        if let Err(error) = self.signal_run(index, sig) {
            let id = self.id_of(index);
            self.queued.push_back(Queued::SignalFailed { id, error });
        }
    }
}
