//! A child's runs: starting one, seeing it exit, delivering its exit,
//! restarting it, stopping it with escalation.

use std::io;
use std::os::fd::OwnedFd;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::Interest;

use super::children::{Child, OutTokens, Pause, Run, StopCause};
use super::pipes::{self, Feed, InPipe, OutPipe, Source};
use super::restart::{self, Decision, RunEnd};
use super::settle::Linger;
use super::stages::Ended;
use super::stdin::StdinState;
use super::timers::Timer;
use super::{Ctx, Event, OwedEvent, OwedWork, Reactor};
use crate::child::{ChildId, Stream};
use crate::command::{Input, Output};
use crate::error::{Error, Result};
use crate::exit::{lost_status, Exit, TimeoutKind};
use crate::lines::LineReader;
use crate::signal::Signal;
use crate::spawn::{self, SpawnFds, Spawned, Spec};
use crate::sys::cgroup::MemoryReport;
use crate::sys::{ChildHandle, Usage};

/// Set in the token of a pidfd, whose low bits are the child's index: a
/// pidfd needs no entry in the pipes slab, whose indexes are the other
/// tokens.
pub(super) const PIDFD: usize = 1 << (usize::BITS - 2);
/// Without pidfds, exits are looked for this often right after a spawn or
/// an exit, backing off to the max while children stay up.
const EXIT_POLL_MIN_MS: u64 = 1;
const EXIT_POLL_MAX_MS: u64 = 100;
/// The signals a `SIGCONT` discards while they are pending.
const DISCARDED_BY_CONT: [Signal; 4] = [Signal::STOP, Signal::TSTP, Signal::TTIN, Signal::TTOU];

/// Finding exits of runs without a pidfd: a timer that backs off from
/// [`EXIT_POLL_MIN_MS`] to [`EXIT_POLL_MAX_MS`] while no exit is found.
pub(super) struct ExitPoll {
    /// Live runs without a pidfd.
    polled: usize,
    timer: Option<crate::timer::TimerKey>,
    ms: u64,
}

impl Default for ExitPoll {
    fn default() -> ExitPoll {
        ExitPoll {
            polled: 0,
            timer: None,
            ms: EXIT_POLL_MIN_MS,
        }
    }
}

/// A run seen exited and let go of: what its exit needs.
struct ExitedRun {
    pid: u32,
    status: ExitStatus,
    usage: Usage,
    /// Something else reaped it (see [`Exit::status_lost`]).
    status_lost: bool,
    started: Instant,
    wall_time: Duration,
    /// Its cgroup's slot, when contained.
    cgroup: Option<u32>,
    /// Read when the exit was seen, while the cgroup still held its
    /// counters.
    memory: MemoryReport,
    leader: Leader,
}

/// The leader of a run seen exited, left unreaped while its exit is
/// delivered: a zombie, which pins its pid and so its group's id, so the
/// group may still be signalled. Dropping it ends the run: `SIGKILL` to
/// what is left of its group (unless detached), the reap, and the pidfd
/// closed.
///
/// A drop is the one way it ends, so a handler that panics while the exit
/// is delivered leaves no zombie behind (only its pidfd leaves epoll by
/// being closed, see [`Reactor::reap_leader`]).
struct Leader {
    handle: ChildHandle,
    /// Its group is killed before the reap: not when detached, nor when
    /// its exit was not seen (the host reaped it, so its group id may
    /// belong to another process by now).
    kill_group: bool,
    /// Out of epoll (or the exit poll) already: it lingered.
    lingered: bool,
}

impl Drop for Leader {
    fn drop(&mut self) {
        // Seen exited, so the reap does not wait and needs no second look
        // first; an error (ECHILD: the host reaped it after the exit was
        // seen) leaves nothing to do.
        let _ = self.handle.reap_seen(self.kill_group);
    }
}

impl Reactor {
    /// Adds a child of a spec the caller keeps in an `Arc` (a `Process`
    /// restarting it), which the child shares rather than copies, and
    /// starts its first run; see [`Reactor::spawn`].
    pub(crate) fn add_shared_child(&mut self, spec: Arc<Spec>) -> Result<ChildId> {
        self.add_child(&spec, Some(&spec))
    }

    /// Adds a child and starts its first run. A child that may restart
    /// keeps the spec: `shared` if the caller has it in an `Arc`, else
    /// the one the last such child kept when the specs are the same, else
    /// a copy made after the spawn, when the spawn's transient allocations
    /// (the environment, above all) are freed and the copy can take their
    /// place rather than pin pages among them.
    pub(super) fn add_child(&mut self, spec: &Spec, shared: Option<&Arc<Spec>>) -> Result<ChildId> {
        // Before the spawn: a run's wall time counts its exec too.
        let started = Instant::now();
        let spawned = spawn::start(spec, self.use_pidfd, &self.spawn_fds)?;
        self.add_spawned(spec, shared, spawned, started)
    }

    /// Adds a child whose first run was started (by `spawn::start`, with
    /// [`spawn_context`](Reactor::spawn_context)) at `started`, maybe
    /// outside the reactor: the async layer starts children without
    /// holding the lock its reactor is behind. On error the run is killed
    /// and reaped.
    pub(crate) fn add_spawned(
        &mut self,
        spec: &Spec,
        shared: Option<&Arc<Spec>>,
        spawned: Spawned,
        started: Instant,
    ) -> Result<ChildId> {
        let id = self
            .children
            .insert(&mut self.spawns.ids, Child::new(spec.stop));
        match self.take_in_run(id.index, spec, spawned, started) {
            Ok(pid) => {
                self.child_started(id, spec, shared);
                self.owed_events.push_back(OwedEvent::Started {
                    id,
                    pid,
                    restarts: 0,
                });
                Ok(id)
            }
            Err(e) => {
                self.children.remove(id.index, &mut self.spawns.ids);
                Err(e)
            }
        }
    }

    /// What `spawn::start` takes from this reactor: whether to watch
    /// exits through pidfds, and its `/dev/null`.
    // Used by the async layer only.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn spawn_context(&self) -> (bool, Arc<SpawnFds>) {
        (self.use_pidfd, Arc::clone(&self.spawn_fds))
    }

    /// What follows a child's first run's start: its spec kept if it may
    /// restart, its timeout armed. Its `Started` is the caller's.
    pub(super) fn child_started(&mut self, id: ChildId, spec: &Spec, shared: Option<&Arc<Spec>>) {
        if spec.restart.is_some() {
            let kept = match shared {
                Some(shared) => Arc::clone(shared),
                None => self.keep(spec),
            };
            self.children.at_mut(id.index).respawn = Some(kept);
        }
        if let Some(t) = spec.timeout {
            let key = self.timer_in(t, Timer::Timeout(id));
            self.children.at_mut(id.index).timeout_timer = key;
        }
        self.check_child(id.index);
    }

    /// The kept copy of `spec`: the last one kept if it is still alive and
    /// the same, else a new one, remembered for the next child.
    fn keep(&mut self, spec: &Spec) -> Arc<Spec> {
        if let Some(last) = self.last_kept.upgrade().filter(|l| l.same_as(spec)) {
            return last;
        }
        let kept = Arc::new(spec.clone());
        self.last_kept = Arc::downgrade(&kept);
        kept
    }

    pub(super) fn restart(&mut self, id: ChildId, spec: &Spec, ctx: &mut Ctx<'_>) {
        match self.start_run(id.index, spec) {
            Ok(pid) => {
                self.last_exits.remove(&id.index);
                let restarts = self.children.at_mut(id.index).restarts;
                ctx.emit(Event::Started { id, pid, restarts });
            }
            Err(error) => {
                ctx.emit(Event::RestartFailed { id, error });
                let c = self.children.at_mut(id.index);
                c.runs_over = true;
                self.deliver_done_if_due(id.index, ctx);
            }
        }
        self.check_child(id.index);
    }

    /// Starts one run of the existing child `index` from `spec` (its first,
    /// or a restart) and registers the run's fds.
    pub(super) fn start_run(&mut self, index: u32, spec: &Spec) -> Result<u32> {
        // Before the spawn: a run's wall time counts its exec too.
        let started = Instant::now();
        let spawned = spawn::start(spec, self.use_pidfd, &self.spawn_fds)?;
        self.take_in_run(index, spec, spawned, started)
    }

    /// Takes a run just spawned into child `index`: its fds into epoll,
    /// its pipes into the slab; its pid. On error the run is killed and
    /// reaped.
    pub(super) fn take_in_run(
        &mut self,
        index: u32,
        spec: &Spec,
        spawned: Spawned,
        started: Instant,
    ) -> Result<u32> {
        let feed = match &spec.stdin {
            Input::Bytes(b) => Some(Feed::Bytes {
                data: b.clone(),
                pos: 0,
            }),
            Input::Stream => Some(Feed::Stream(Default::default())),
            _ => None,
        };
        let streaming = matches!(spec.stdin, Input::Stream);
        let Spawned {
            handle,
            no_pidfd,
            stdin,
            stdout,
            stderr,
            cgroup,
            stages,
        } = spawned;
        if no_pidfd {
            self.use_pidfd = false;
        }
        let pid = handle.pid();
        // From here on the child runs: a failure below must not leave it
        // running unwatched or unreaped.
        let mut failed = self.watch_exit(index, &handle).err();
        if let Err(e) = self.take_in_stages(index, stages) {
            failed.get_or_insert(e);
        }
        let pipes = self.add_output_pipes(index, spec, [stdout, stderr], &mut failed);
        let stdin_token = match (stdin, feed) {
            (Some(fd), Some(feed)) => Some(self.add_stdin_pipe(index, fd, feed, &mut failed)),
            _ => None,
        };
        let cgroup = cgroup.map(|cg| {
            let (slot, registered) = self.add_cgroup(index, cg, pipes);
            if let Err(e) = registered {
                failed.get_or_insert(e);
            }
            slot
        });
        let child = self.children.at_mut(index);
        child.open_pipes += pipes.iter().flatten().count() as u32;
        child.pipes = OutTokens::new(pipes);
        child.run = Some(Run {
            handle,
            started,
            cgroup: cgroup.map(|slot| slot as u32),
        });
        if let Some(e) = failed {
            self.abandon_run(index, stdin_token);
            return Err(Error::Io(e));
        }
        if let Some(t) = spec.run_timeout {
            let id = self.children.id_of(index);
            let key = self.timer_in(t, Timer::RunTimeout(id));
            self.children.at_mut(index).stop_timer = key;
        }
        if let Some(t) = stdin_token {
            self.children.at_mut(index).stdin = match streaming {
                true => StdinState::Open(t as u32),
                false => StdinState::Feeding(t as u32),
            };
        }
        Ok(pid)
    }

    /// Watches a new run's exit: its pidfd in epoll, or the exit poll on
    /// a kernel without pidfds.
    fn watch_exit(&mut self, index: u32, handle: &ChildHandle) -> io::Result<()> {
        match handle.pidfd() {
            Some(fd) => pipes::register(
                self.poll.registry(),
                PIDFD | index as usize,
                fd,
                Interest::READABLE,
            ),
            None => {
                self.exit_poll.polled += 1;
                self.exit_poll.ms = EXIT_POLL_MIN_MS;
                self.arm_exit_poll();
                Ok(())
            }
        }
    }

    /// Takes a new run's stdout and stderr into the pipe slab; their
    /// tokens. The first registration that fails is kept in `failed`.
    fn add_output_pipes(
        &mut self,
        index: u32,
        spec: &Spec,
        fds: [Option<OwnedFd>; 2],
        failed: &mut Option<io::Error>,
    ) -> [Option<usize>; 2] {
        let raw = [&spec.stdout, &spec.stderr].map(|o| matches!(o, Output::Raw));
        let mut pipes = [None, None];
        for (slot, (fd, stream)) in fds
            .into_iter()
            .zip([Stream::Stdout, Stream::Stderr])
            .enumerate()
        {
            let Some(fd) = fd else { continue };
            let reader = LineReader::with_max_line(spec.max_line);
            let mut out = OutPipe::new(fd, index, stream, reader);
            out.raw = raw[slot];
            self.pipes.grow_before_use(&mut out);
            let (t, registered) =
                self.pipes
                    .insert(self.poll.registry(), Source::Out(out), Interest::READABLE);
            if let Err(e) = registered {
                failed.get_or_insert(e);
            }
            pipes[slot] = Some(t);
        }
        pipes
    }

    /// Takes a new run's stdin pipe into the pipe slab; its token. A
    /// failed registration is kept in `failed`.
    fn add_stdin_pipe(
        &mut self,
        index: u32,
        fd: OwnedFd,
        feed: Feed,
        failed: &mut Option<io::Error>,
    ) -> usize {
        let pipe = Source::In(InPipe {
            fd,
            child: index,
            feed,
        });
        let (t, registered) = self
            .pipes
            .insert(self.poll.registry(), pipe, Interest::WRITABLE);
        if let Err(e) = registered {
            failed.get_or_insert(e);
        }
        t
    }

    /// Ends a run epoll could not take (out of memory): it cannot be
    /// supervised, so it is killed, reaped and forgotten now rather than
    /// left unwatched.
    fn abandon_run(&mut self, index: u32, stdin_token: Option<usize>) {
        let _ = self.signal_run(index, Signal::KILL);
        self.signal_cgroups(index, Signal::KILL);
        self.end_stages(index, true);
        let child = self.children.at_mut(index);
        let run = child.run.take().expect("a run just started");
        let pipes = std::mem::take(&mut child.pipes);
        child.open_pipes -= pipes.tokens().count() as u32;
        let _ = run.handle.reap_blocking();
        match run.handle.pidfd() {
            Some(fd) => pipes::deregister(self.poll.registry(), fd),
            None => self.exit_poll.polled -= 1,
        }
        for t in pipes.tokens().chain(stdin_token) {
            self.pipes.remove(self.poll.registry(), t);
        }
        if let Some(slot) = run.cgroup {
            self.abandon_cgroup(slot as usize);
        }
    }

    /// Delivers the exit of the current run of child `index` if it exited;
    /// true if it did. A stopped run's leader may be left unreaped a while
    /// (see `settle`).
    ///
    /// The exit is delivered as soon as the run's status is known and its
    /// output read, with its leader still a zombie: the group's `SIGKILL`,
    /// the reap and the close of the pidfd come once the handler of
    /// `Exited` returned (at once if a pause holds the exit back), then
    /// what a stopped run's end needs. The kernel keeps the group's id
    /// while the zombie leader holds it, so the kill still reaches only
    /// the run's own group; and none of it is in the way of the exit.
    pub(super) fn check_exit(&mut self, index: u32, ctx: &mut Ctx<'_>) -> bool {
        // A pipeline's first stage leads its group: its reap would kill
        // the stages still running, so it waits for them.
        if !self.stages_over(index, ctx) {
            return false;
        }
        let Some(mut exited) = self.see_exit(index) else {
            return false;
        };
        let first = Ended {
            status: exited.status,
            usage: exited.usage,
            status_lost: exited.status_lost,
        };
        let whole = self.stages_end(index, exited.pid, first, ctx);
        if let Some(w) = &whole {
            (exited.status, exited.usage) = (w.ended.status, w.ended.usage);
            exited.status_lost = w.ended.status_lost;
        }
        self.end_stdin(index, ctx);
        let stopping = self.children.at_mut(index).stopping;
        let mut exit = self.decide_exit(index, &exited, stopping);
        exit.failed_stage = whole.and_then(|w| w.failed_stage).map_or(0, |k| k + 1);
        // Only a run timeout's stop restarts: it ended the run, whose
        // leftovers in its cgroup die as a stop's do (its group is sent
        // SIGKILL at the reap); the child lives on, and no Done waits for
        // them to settle.
        let restarts = stopping.is_some() && exit.restart_in.is_some();
        let child = self.children.at_mut(index);
        if restarts {
            child.stopping = None;
        }
        child.pending_exit = Some(Box::new(exit));
        let delivered = self.deliver_exit(index, ctx);
        self.reap_leader(exited.leader);
        if restarts {
            self.signal_cgroups(index, Signal::KILL);
        } else if stopping.is_some() {
            self.end_stopped_run(index, exited.pid);
        }
        if delivered {
            self.deliver_done_if_due(index, ctx);
        }
        if let Some(slot) = exited.cgroup {
            self.cgroup_run_reaped(slot as usize, ctx);
        }
        self.check_child(index);
        true
    }

    /// Sees whether the current run of child `index` exited, without
    /// reaping it, and lets go of it (out of the exit poll, its kill timer
    /// cancelled); `None` while it runs, or while its leader is left to
    /// linger.
    fn see_exit(&mut self, index: u32) -> Option<ExitedRun> {
        let lingered = match self.leader_lingers(index) {
            Linger::Yes => return None,
            Linger::No => None,
            Linger::Over(exited) => Some(exited),
        };
        let child = self.children.at_mut(index);
        let run = child.run.as_ref()?;
        let (status, usage, status_lost) = match run.handle.peek() {
            Ok(None) => return None, // spurious wake-up, or still running
            Ok(Some(r)) => (r.status, r.usage, false),
            // ECHILD: the host reaped our child behind our back, and took
            // its usage with it.
            Err(_) => (lost_status(), Usage::default(), true),
        };
        let wall_time = lingered
            .unwrap_or_else(Instant::now)
            .saturating_duration_since(run.started);
        let kill_group = !child.stop.detached && !status_lost;
        let run = child.run.take().expect("checked above");
        // Its run timeout or its stop's SIGKILL: either goes with it, and
        // the next run gets a timer of its own.
        if let Some(k) = child.stop_timer.take() {
            self.wheel.cancel(k);
        }
        if lingered.is_none() && run.handle.pidfd().is_none() {
            self.exit_poll.polled -= 1;
        }
        let (pid, started, cgroup) = (run.handle.pid(), run.started, run.cgroup);
        // Read now, while the cgroup still holds its counters.
        let memory = cgroup
            .and_then(|slot| self.cgroups.get(slot as usize))
            .and_then(|c| c.cgroup.memory_report())
            .unwrap_or_default();
        let released = self.children.at(index).is_some_and(|c| {
            c.paused == Pause::Bound && c.open_pipes > c.pipes.tokens().count() as u32
        });
        if released {
            // The bound held the run's output and holds it no more (see
            // `Child::holds_output`): the run's own pipes are read to
            // their end with its exit, but the edges raised meanwhile by
            // the pipes earlier runs left lingering were passed over.
            let lingering: Vec<usize> = self.pipes.of_child(index).collect();
            for t in lingering {
                self.owe_read(t);
            }
        }
        Some(ExitedRun {
            pid,
            status,
            usage,
            status_lost,
            started,
            wall_time,
            cgroup,
            memory,
            leader: Leader {
                handle: run.handle,
                kill_group,
                lingered: lingered.is_some(),
            },
        })
    }

    /// Ends a run whose exit was delivered (or held back): its pidfd out
    /// of epoll, then its group killed, its leader reaped and the pidfd
    /// closed, by the drop. Once this returns, no fd of the run is left
    /// but output pipes a process outside its group still holds (each
    /// closed after the drain time).
    fn reap_leader(&mut self, leader: Leader) {
        if let (Some(fd), false) = (leader.handle.pidfd(), leader.lingered) {
            // Out of epoll before it closes: a child being spawned right
            // now holds a copy of the fd until its exec, which would keep
            // the registration (and its events) alive.
            pipes::deregister(self.poll.registry(), fd);
        }
        drop(leader);
    }

    /// The stop is of the whole run: what the stopped child leaves in its
    /// cgroup dies with it, as its group does, and it is over once that
    /// group is empty too.
    fn end_stopped_run(&mut self, index: u32, pid: u32) {
        let child = self.children.at_mut(index);
        let (detached, grace) = (child.stop.detached, child.stop.grace);
        self.signal_cgroups(index, Signal::KILL);
        if !detached {
            self.settle_group(index, pid, grace);
        }
    }

    /// The exit of child `index`'s exited run, ended by a stop if
    /// `stopping`, with what its restart policy decided (a restart is
    /// counted here).
    fn decide_exit(&mut self, index: u32, reaped: &ExitedRun, stopping: Option<StopCause>) -> Exit {
        let id = self.children.id_of(index);
        let child = self.children.at_mut(index);
        let end = RunEnd {
            // A run its timeout ended failed, whatever status the stop
            // left it (systemd's `RuntimeMaxSec=` is a failure too).
            failed: !reaped.status.success() || stopping == Some(StopCause::RunTimeout),
            stopped: stopping.is_some_and(StopCause::ends_child),
            ran: reaped.started.elapsed(),
        };
        let policy = child.respawn.as_ref().and_then(|c| c.restart);
        // The exit counts the restarts before this run's, not the one it
        // may now be given.
        let restarts = child.restarts;
        let decision = restart::decide(policy, restarts, end, Instant::now());
        if let Decision::Restart { restarts, .. } = decision {
            child.restarts = restarts;
        }
        Exit {
            id,
            pid: reaped.pid,
            status: reaped.status,
            stopped: stopping.is_some(),
            timeout: stopping.and_then(StopCause::timeout),
            restart_in: decision.restart_in(),
            limit_reached: decision == Decision::LimitReached,
            status_lost: reaped.status_lost,
            restarts,
            user_time: reaped.usage.user,
            system_time: reaped.usage.system,
            max_rss_bytes: reaped.usage.max_rss_bytes,
            wall_time: reaped.wall_time,
            oom_killed: reaped.memory.oom_kills > 0,
            peak_memory_bytes: reaped.memory.peak,
            failed_stage: 0,
        }
    }

    /// Looks for exited runs among those without a pidfd, then polls again
    /// later: soon after an exit, less and less often while all stay up.
    pub(super) fn poll_exits(&mut self, ctx: &mut Ctx<'_>) {
        let mut any = false;
        for index in 0..self.children.end() {
            if any && self.turn_left == 0 {
                // The turn's budget is spent (an exit's check reads all
                // its run left): the next poll, at the shortest interval,
                // finds the other exits. Each poll checks one at least.
                break;
            }
            let polled = self.children.at(index).is_some_and(Child::is_polled);
            if polled && self.check_exit(index, ctx) {
                any = true;
            }
        }
        self.exit_poll.ms = if any {
            EXIT_POLL_MIN_MS
        } else {
            (self.exit_poll.ms * 2).min(EXIT_POLL_MAX_MS)
        };
        self.arm_exit_poll();
    }

    /// A run without a pidfd is no longer looked at by the exit poll.
    pub(super) fn exit_poll_forget(&mut self) {
        self.exit_poll.polled -= 1;
    }

    pub(super) fn arm_exit_poll(&mut self) {
        if let Some(k) = self.exit_poll.timer.take() {
            self.wheel.cancel(k);
        }
        if self.exit_poll.polled > 0 {
            let ms = Duration::from_millis(self.exit_poll.ms);
            self.exit_poll.timer = self.timer_in(ms, Timer::ExitPoll);
        }
    }

    /// The exit-poll timer fired.
    pub(super) fn exit_poll_due(&mut self, ctx: &mut Ctx<'_>) {
        self.exit_poll.timer = None;
        self.poll_exits(ctx);
    }

    /// Delivers an exit a pause held back (see [`Reactor::deliver_exit`]),
    /// and the child's Done if that is due then.
    pub(super) fn finish_exit(&mut self, index: u32, ctx: &mut Ctx<'_>) {
        if self.deliver_exit(index, ctx) {
            self.deliver_done_if_due(index, ctx);
        }
    }

    /// Delivers an exited run's remaining output, then its exit event;
    /// held back while the child is paused (resume comes back through
    /// [`Reactor::finish_exit`]). True if the exit was delivered.
    fn deliver_exit(&mut self, index: u32, ctx: &mut Ctx<'_>) -> bool {
        let Some(child) = self.children.at(index) else {
            return false;
        };
        if child.pending_exit.is_none() || child.holds_output() {
            return false;
        }
        // The leader is dead, so whatever it wrote sits in the pipe:
        // reading it to the end delivers all of it, even if another
        // process keeps the pipe open and writing (one outside the group,
        // or a member the group's SIGKILL, once the exit is out, has not
        // reached yet): the read stops at what the pipe held.
        for token in child.pipes.tokens() {
            if !self.read_after_exit(token, ctx) {
                // Paused by the handler while reading: resuming comes back
                // here, and the exit must wait for the rest of the output.
                return false;
            }
        }
        let child = self.children.at_mut(index);
        let Some(exit) = child.pending_exit.take() else {
            return false;
        };
        let drain = child.stop.drain;
        let pipes = child.pipes;
        let cancelled = self.children.at(index).is_some_and(|c| c.restart_cancelled);
        if let (Some(d), false) = (exit.restart_in, cancelled) {
            // None for a restart never due: the child then waits with no
            // timer (see `Child::waits_to_restart`).
            let key = self.timer_in(d, Timer::Restart(exit.id));
            self.children.at_mut(index).restart_timer = key;
        } else {
            let c = self.children.at_mut(index);
            c.runs_over = true;
            // A timeout still stops what a contained run left in its cgroup.
            if c.live_cgroups == 0 {
                if let Some(k) = c.timeout_timer.take() {
                    self.wheel.cancel(k);
                }
            }
        }
        // Whoever still holds the pipes (a process outside the group) gets
        // the drain time, then the pipes are closed; a contained run's
        // pipes are closed when its cgroup is empty instead.
        let contained = self.children.at(index).is_some_and(|c| c.live_cgroups > 0);
        for token in pipes.tokens() {
            if self
                .pipes
                .out(token)
                .is_some_and(|p| p.drain_timer.is_none())
                && !(contained && self.cgroups.holds_pipe(token))
            {
                let key = self.timer_in(drain, Timer::Drain(token));
                if let Some(p) = self.pipes.out_mut(token) {
                    p.drain_timer = key;
                }
            }
        }
        self.children.at_mut(index).pipes = OutTokens::default();
        ctx.emit(Event::Exited(*exit));
        self.last_exits.insert(index, exit);
        true
    }

    /// Delivers child `index`'s [`Event::Done`] and frees its slot, if it
    /// is due (see `Child::done_is_due`) and no settling group holds it.
    pub(super) fn deliver_done_if_due(&mut self, index: u32, ctx: &mut Ctx<'_>) {
        if self.children.at(index).is_some_and(Child::done_is_due) && !self.settle.holds(index) {
            let id = self.children.id_of(index);
            // Left armed for a contained run's leftovers, which are gone.
            let c = self.children.at_mut(index);
            for k in [c.timeout_timer.take(), c.stop_timer.take()]
                .into_iter()
                .flatten()
            {
                self.wheel.cancel(k);
            }
            let restart_cancelled = c.restart_cancelled;
            let timed_out = restart_cancelled && c.stopping == Some(StopCause::Timeout);
            self.children.remove(index, &mut ctx.spawns.ids);
            let mut exit = *self
                .last_exits
                .remove(&index)
                .expect("a child is Done only after a run of it was reaped");
            if restart_cancelled {
                // The exit announced a restart, which the stop or timeout
                // cancelled: it was the last, ended by that stop.
                exit.restart_in = None;
                exit.stopped = true;
                exit.timeout = timed_out.then_some(TimeoutKind::Child);
            }
            ctx.emit(Event::Done {
                id,
                restart_cancelled,
                timed_out,
                exit,
            });
        }
        self.check_child(index);
    }

    pub(super) fn begin_stop(&mut self, index: u32, cause: StopCause) {
        let c = self.children.at_mut(index);
        // Processes a contained run left in its cgroup are the child's
        // still: a stop after the run ended reaches them.
        let lingering = c.live_cgroups > 0;
        if c.stopping == Some(StopCause::RunTimeout) && cause.ends_child() {
            // The run's stop is under way, its signals sent and its grace
            // running: now it ends the child too, and says why.
            c.stopping = Some(cause);
            if let Some(k) = c.timeout_timer.take() {
                self.wheel.cancel(k);
            }
            return;
        }
        if c.stopping.is_some() || (c.runs_over && !lingering) {
            return;
        }
        if c.waits_to_restart() {
            // Waiting to restart: the stop just ends it.
            if let Some(k) = c.restart_timer.take() {
                self.wheel.cancel(k);
            }
            let c = self.children.at_mut(index);
            c.runs_over = true;
            c.restart_cancelled = true;
            c.stopping = Some(cause);
            if let Some(k) = c.timeout_timer.take() {
                self.wheel.cancel(k);
            }
            // Done comes when its pipes close, or on the next poll if they
            // already are.
            self.owed_work.push(OwedWork::DeliverDone(index));
            if !lingering {
                return;
            }
        } else if c.run.is_none() && !c.runs_over {
            // Reaped, with its exit held back by a pause: that exit may
            // promise a restart, which the stop (or timeout) cancels, as
            // it would during the restart delay: the exit still says what
            // the policy wanted, no restart follows, and Done says why.
            if c.pending_exit
                .as_ref()
                .is_some_and(|e| e.restart_in.is_some())
            {
                c.restart_cancelled = true;
                c.stopping = Some(cause);
                if let Some(k) = c.timeout_timer.take() {
                    self.wheel.cancel(k);
                }
            }
            // What a contained run left in its cgroup is still the
            // child's: the stop reaches it, below.
            if !lingering {
                return;
            }
        }
        let c = self.children.at_mut(index);
        c.stopping = Some(cause);
        let sig = c.stop.signal;
        let grace = c.stop.grace;
        // The run's timeout is replaced by this stop (its SIGKILL takes
        // the timer's place); the child's only by a stop that ends the
        // child.
        let child_timer = match cause.ends_child() {
            true => c.timeout_timer.take(),
            false => None,
        };
        for k in [c.stop_timer.take(), child_timer].into_iter().flatten() {
            self.wheel.cancel(k);
        }
        // A stopped (SIGSTOP) child acts on nothing but SIGKILL until
        // SIGCONT wakes it. SIGCONT follows the stop signal, as systemd
        // sends it, so a stopped child wakes with the signal pending and
        // acts on it first. But SIGCONT discards a pending job-control stop
        // signal (signal(7)): one of those, chosen as the stop signal, goes
        // after it, or a child that had not run in between never sees it.
        // A failed SIGCONT is not reported: the stop signal's failure (the
        // same cause) is, once.
        let cont = sig != Signal::KILL;
        let cont_first = cont && DISCARDED_BY_CONT.contains(&sig);
        if cont_first {
            let _ = self.signal_run(index, Signal::CONT);
            self.signal_cgroups(index, Signal::CONT);
        }
        self.signal_or_report(index, sig);
        self.signal_cgroups(index, sig);
        if cont && !cont_first {
            let _ = self.signal_run(index, Signal::CONT);
            self.signal_cgroups(index, Signal::CONT);
        }
        let id = self.children.id_of(index);
        let key = self.timer_in(grace, Timer::Kill(id));
        self.children.at_mut(index).stop_timer = key;
    }

    /// Signals the live run of child `index`: its group while the leader is
    /// unreaped (which pins the group id) and the child itself if it left
    /// the group, or the child alone when detached.
    ///
    /// # Errors
    ///
    /// When the signal reached nothing of the run ([`Error::Signal`]).
    pub(super) fn signal_run(&mut self, index: u32, sig: Signal) -> Result<()> {
        let c = self.children.at_mut(index);
        let Some(run) = &c.run else { return Ok(()) };
        let sent = if c.stop.detached {
            run.handle.signal(sig.as_raw())
        } else {
            run.handle.signal_with_group(sig.as_raw())
        };
        let (detached, leader) = (c.stop.detached, run.handle.pid());
        self.signal_stages(index, sig, detached, leader);
        sent.map_err(|source| Error::Signal {
            pid: leader,
            signal: sig,
            source,
        })
    }

    /// Signals the live run of child `index`; a signal that reached nothing
    /// is reported as [`Event::SignalFailed`] on the next poll, never taken
    /// for sent.
    pub(super) fn signal_or_report(&mut self, index: u32, sig: Signal) {
        if let Err(error) = self.signal_run(index, sig) {
            let id = self.children.id_of(index);
            self.owed_events.push_back(OwedEvent::SignalFailed {
                id,
                error: Box::new(error),
            });
        }
    }
}

impl Drop for Reactor {
    /// Kills every live child (its group unless detached, and the child
    /// itself if it left the group) with `SIGKILL` and reaps it, so
    /// dropping a reactor leaks neither processes nor zombies. A child
    /// procrun may not signal (it made itself another user) is not waited
    /// for: the drop never blocks on it.
    fn drop(&mut self) {
        // Before the reaps: killing a group first and its cgroup only after
        // would give a member that left the group time to fork on.
        self.drop_cgroups_kill();
        for index in 0..self.children.end() {
            if self.children.at(index).is_some_and(|c| c.run.is_some()) {
                let killed = self.signal_run(index, Signal::KILL).is_ok();
                self.end_stages(index, killed);
                if let Some(run) = self.children.at_mut(index).run.take() {
                    // SIGKILL reached the child itself, so the reap comes.
                    // A child procrun may not signal could run for ever:
                    // it is left to exit on its own (a zombie of this
                    // process until then) rather than block the drop.
                    let _ = if killed {
                        run.handle.reap_blocking()
                    } else {
                        run.handle.try_reap()
                    };
                }
            }
        }
        self.drop_cgroups();
    }
}

// Children a handler spawned (`Control::spawn`), taken in after its event.
impl Reactor {
    /// Takes in the child a handler spawned under `id`, the first one
    /// pending: its slot, its fds in epoll, its timers, and its `Started`
    /// at once, before anything of it can be read or reaped (a slot or
    /// pipe token freed in this turn and taken by it may still be in the
    /// turn's list of ready fds, or its exit be polled for by this turn's
    /// timers). If epoll refuses its fds (out of memory) it
    /// is killed and reaped, its id freed, and the failure is its
    /// [`Event::RestartFailed`].
    pub(super) fn take_in_spawned(&mut self, id: ChildId, ctx: &mut Ctx<'_>) {
        let Some(mut p) = ctx.spawns.pending.pop_front() else {
            debug_assert!(false, "no child pending for {id:?}");
            return;
        };
        debug_assert_eq!(p.id, id);
        let spawned = p.spawned.take().expect("a pending child is taken in once");
        self.children.put(id, Child::new(p.spec.stop));
        match self.take_in_run(id.index, &p.spec, spawned, p.started) {
            Ok(pid) => {
                self.child_started(id, &p.spec, None);
                ctx.emit(Event::Started {
                    id,
                    pid,
                    restarts: 0,
                });
            }
            Err(error) => {
                self.children.remove(id.index, &mut ctx.spawns.ids);
                ctx.emit(Event::RestartFailed { id, error });
            }
        }
    }
}
