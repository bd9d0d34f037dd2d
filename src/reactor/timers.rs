//! What the reactor's one timer wheel holds, and what each timer does when
//! it fires.

use std::time::{Duration, Instant};

use super::children::StopCause;
use super::{Ctx, Reactor};
use crate::child::ChildId;
use crate::signal::Signal;
use crate::timer::TimerKey;

#[derive(Clone, Copy, Debug)]
pub(super) enum Timer {
    /// The grace of a stop is over: `SIGKILL`.
    Kill(ChildId),
    /// The child's timeout: a stop that ends it.
    Timeout(ChildId),
    /// The current run's timeout: a stop of that run.
    RunTimeout(ChildId),
    /// Look for exits of runs without a pidfd.
    ExitPoll,
    Restart(ChildId),
    /// Close a pipe a process outside the group still holds.
    Drain(usize),
    /// Try again to remove an empty cgroup the kernel said was busy.
    CgroupRemove(usize),
    /// The next step of a cgroup's kill by freezing (see `cgroups`).
    CgroupKill(usize),
    /// Look again at the groups of stopped runs (see `settle`).
    Settle,
}

impl Reactor {
    /// Arms a timer `d` from now; `None` when `d` is so large that no
    /// `Instant` holds the deadline: a caller asking for that much time
    /// means "never", so no timer is needed.
    pub(super) fn timer_in(&mut self, d: Duration, t: Timer) -> Option<TimerKey> {
        let at = Instant::now().checked_add(d)?;
        Some(self.wheel.insert(self.clock.deadline_tick(at), t))
    }

    pub(super) fn fire_timers(&mut self, ctx: &mut Ctx<'_>) {
        let now = self.clock.now_tick(Instant::now());
        while let Some((_, timer)) = self.wheel.poll(now) {
            match timer {
                Timer::Kill(id) => {
                    let Some(c) = self.children.get_mut(id) else {
                        continue;
                    };
                    c.stop_timer = None;
                    // A lingering leader's reap kills what is left of its
                    // run, its group pinned by the zombie till then.
                    if !self.release_leader(id.index, ctx) {
                        self.signal_or_report(id.index, Signal::KILL);
                        self.signal_cgroups(id.index, Signal::KILL);
                    }
                    self.check_child(id.index);
                }
                Timer::Timeout(id) => {
                    let Some(c) = self.children.get_mut(id) else {
                        continue;
                    };
                    c.timeout_timer = None;
                    self.begin_stop(id.index, StopCause::Timeout);
                    self.check_child(id.index);
                }
                Timer::RunTimeout(id) => {
                    // Cancelled by a stop and at the reap: the run it was
                    // armed for is the one alive, and runs on unstopped.
                    let Some(c) = self.children.get_mut(id) else {
                        continue;
                    };
                    c.stop_timer = None;
                    self.begin_stop(id.index, StopCause::RunTimeout);
                    self.check_child(id.index);
                }
                Timer::Restart(id) => {
                    let Some(c) = self.children.get_mut(id) else {
                        continue;
                    };
                    c.restart_timer = None;
                    let spec = c
                        .respawn
                        .clone()
                        .expect("a restarting child keeps its spec");
                    self.restart(id, &spec, ctx);
                }
                Timer::ExitPoll => self.exit_poll_due(ctx),
                Timer::Settle => self.settle_due(ctx),
                Timer::CgroupRemove(slot) => self.remove_cgroup(slot, ctx),
                Timer::CgroupKill(slot) => self.kill_round_due(slot),
                Timer::Drain(token) => {
                    if let Some(p) = self.pipes.out_mut(token) {
                        p.drain_timer = None;
                        self.close_pipe(token, ctx);
                    }
                }
            }
            self.apply_requests(ctx);
        }
    }
}
