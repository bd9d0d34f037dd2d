//! The end of a stopped run's process group: a stop is over when nothing
//! of the run is left, not when its leader is reaped.
//!
//! The reap of a stopped run's leader sends `SIGKILL` to its group (the
//! leader a zombie then, so the group id is still its own); the members
//! die a moment later, and until they do a caller told the run is over
//! would still find them. So a stopped, non-detached child's
//! [`Done`](super::Event::Done) waits for its group to empty: the exit is
//! delivered as soon as it is seen, Done is held.
//!
//! With the leader reaped, `kill(-pgid, 0)` sends nothing and says
//! whether any member is left: the kernel keeps the number allocated
//! while a member uses it as its group id. A zombie member answers too,
//! though it is dead for a stop (its reaper is not procrun's to be), so a
//! group that still answers after [`SCAN_AFTER`] is looked for in `/proc`
//! as well, where a zombie shows as one: an init (or subreaper) that
//! never reaps cannot hold a stop. Checks run on one timer for every
//! settling group, from [`MIN_MS`] doubling to [`MAX_MS`]; a group still
//! alive after the bound (the grace, within [`LIMIT_MIN`] and
//! [`LIMIT_MAX`]: a member stuck in the kernel that `SIGKILL` cannot end
//! yet) is given up and Done comes anyway. No real signal is sent to a
//! group after its leader's reap.
//!
//! # The leader goes last
//!
//! A stop's grace is for the whole run, as systemd gives a unit's every
//! process the whole stop timeout: a member that got the stop signal and
//! is still flushing when the leader dies must not be killed then. So a
//! stopped run's leader seen to exit within the grace while others of the
//! run live on (a member of its group, or any process in its cgroup when
//! contained) is left unreaped: the zombie pins the group's id, so the
//! group may still be signalled, and its pidfd leaves epoll (level
//! readiness would wake the loop for ever) or it leaves the exit poll.
//! The same timer looks at such runs: once none of the others is alive
//! (the `/proc` scan, zombies dead, for a group: `kill(-pgid, 0)` cannot
//! tell while the zombie leader is in it; the cgroup's `populated`, whose
//! changes also wake the loop, for a contained run, whose group is in its
//! cgroup), or when the grace ends (the stop's kill timer), its exit goes
//! as any stopped run's does: Exited, then `SIGKILL` to the group and the
//! cgroup and the reap, then Done once settled as above.

use std::time::{Duration, Instant};

use super::pipes;
use super::timers::Timer;
use super::{Ctx, Reactor};
use crate::child::ChildId;
use crate::procfs::groups_alive;
use crate::sys::group_has_members;
use crate::timer::TimerKey;

/// Groups are checked this long after the first look, doubling up to
/// [`MAX_MS`] while any is left.
const MIN_MS: u64 = 1;
const MAX_MS: u64 = 50;
/// A group still answering `kill` this long after its leader's reap is
/// looked for in `/proc` too (zombies answer `kill`).
const SCAN_AFTER: Duration = Duration::from_millis(5);
/// The bound of the wait: the grace, but at least this…
const LIMIT_MIN: Duration = Duration::from_secs(1);
/// …and at most this (a grace of "never" must not hold Done for ever).
const LIMIT_MAX: Duration = Duration::from_secs(10);

/// The groups of stopped runs whose leaders were reaped and whose members
/// may still be alive; a group's id is its leader's pid.
pub(super) struct Settle {
    groups: Vec<Settling>,
    /// Stopped runs whose leaders exited and are left unreaped while the
    /// rest of the run finishes.
    leaders: Vec<Lingering>,
    timer: Option<TimerKey>,
    ms: u64,
}

impl Default for Settle {
    fn default() -> Settle {
        Settle {
            groups: Vec::new(),
            leaders: Vec::new(),
            timer: None,
            ms: MIN_MS,
        }
    }
}

struct Settling {
    child: ChildId,
    pgid: u32,
    reaped: Instant,
    give_up: Instant,
}

struct Lingering {
    child: ChildId,
    /// When the leader's exit was seen: the end of its run's wall time.
    exited: Instant,
    /// The wait is over: the next look at the exit reaps it.
    released: bool,
}

/// What a look at a stopped run's exit found (see [`Reactor::leader_lingers`]).
pub(super) enum Linger {
    /// Reap it if it exited, as any run.
    No,
    /// Its leader exited and is left unreaped while the rest of the run
    /// finishes.
    Yes,
    /// It lingered, since the given instant, and may be reaped now; its
    /// pidfd is out of epoll (or the run out of the exit poll) already.
    Over(Instant),
}

impl Settle {
    /// Whether child `index` waits for its group to settle (a list, not a
    /// field of every child's slot: only stopped runs ever settle, and for
    /// a moment).
    pub(super) fn holds(&self, index: u32) -> bool {
        self.groups.iter().any(|g| g.child.index == index)
    }

    fn leader(&mut self, index: u32) -> Option<&mut Lingering> {
        self.leaders.iter_mut().find(|l| l.child.index == index)
    }
}

impl Reactor {
    /// The stopped run of child `index`, which led group `pgid`, was just
    /// reaped (and its group sent `SIGKILL`): its Done waits until nothing
    /// of the group is alive, or `grace` (within the limits) has passed.
    pub(super) fn settle_group(&mut self, index: u32, pgid: u32, grace: Duration) {
        if !group_has_members(pgid) {
            // The usual case: nothing was left in the group, or it died
            // with the leader.
            return;
        }
        let reaped = Instant::now();
        let limit = grace.clamp(LIMIT_MIN, LIMIT_MAX);
        self.settle.groups.push(Settling {
            child: self.children.id_of(index),
            pgid,
            reaped,
            give_up: reaped + limit,
        });
        self.settle.ms = MIN_MS;
        self.arm_settle();
    }

    /// Whether the exit of child `index`'s run is to be left unreaped
    /// for now: asked before every reap. A run lingers when it is being
    /// stopped, within the grace, its leader has exited and others of the
    /// run are alive; it then leaves epoll (or the exit poll) here.
    pub(super) fn leader_lingers(&mut self, index: u32) -> Linger {
        if let Some(l) = self.settle.leader(index) {
            if !l.released {
                return Linger::Yes;
            }
            let exited = l.exited;
            self.settle.leaders.retain(|l| l.child.index != index);
            return Linger::Over(exited);
        }
        let Some(c) = self.children.at(index) else {
            return Linger::No;
        };
        // A grace of "never" arms no kill timer, and never ends.
        let in_grace = c.stop_timer.is_some() || Instant::now().checked_add(c.stop.grace).is_none();
        let Some(run) = c.run.as_ref().filter(|_| c.stopping.is_some() && in_grace) else {
            return Linger::No;
        };
        // An error is for the reap to report.
        if !run.handle.has_exited().unwrap_or(false) || !self.others_alive(index) {
            return Linger::No;
        }
        let run = self.children.at(index).and_then(|c| c.run.as_ref());
        match run.map(|r| r.handle.pidfd()) {
            Some(Some(fd)) => pipes::deregister(self.poll.registry(), fd),
            Some(None) => {
                self.exit_poll_forget();
            }
            None => {}
        }
        self.settle.leaders.push(Lingering {
            child: self.children.id_of(index),
            exited: Instant::now(),
            released: false,
        });
        self.settle.ms = MIN_MS;
        self.arm_settle();
        Linger::Yes
    }

    /// Whether any process of child `index`'s run other than its leader
    /// is alive: in its cgroups when contained (which hold its group as
    /// well), else in its process group unless detached. A failed scan
    /// says no: the reap then ends the group, as it always did.
    fn others_alive(&self, index: u32) -> bool {
        let Some(c) = self.children.at(index) else {
            return false;
        };
        if c.live_cgroups > 0 {
            return self.cgroups_populated(index);
        }
        let Some(run) = c.run.as_ref().filter(|_| !c.stop.detached) else {
            return false;
        };
        let pgid = run.handle.pid();
        groups_alive(&[pgid]).is_ok_and(|alive| alive.contains(&pgid))
    }

    /// Ends the wait of child `index`'s lingering leader, if it has one,
    /// and reaps it (`SIGKILL` to what is left of the run first); true if
    /// it had one.
    pub(super) fn release_leader(&mut self, index: u32, ctx: &mut Ctx<'_>) -> bool {
        let Some(l) = self.settle.leader(index) else {
            return false;
        };
        l.released = true;
        self.check_exit(index, ctx);
        true
    }

    /// Something of child `index`'s run ended (its cgroup emptied): a
    /// lingering leader is reaped at once if nothing else of the run is
    /// left.
    pub(super) fn leader_check(&mut self, index: u32, ctx: &mut Ctx<'_>) {
        if self.settle.leader(index).is_some_and(|l| !l.released) && !self.others_alive(index) {
            self.release_leader(index, ctx);
        }
    }

    fn arm_settle(&mut self) {
        if let Some(k) = self.settle.timer.take() {
            self.wheel.cancel(k);
        }
        if !self.settle.groups.is_empty() || !self.settle.leaders.is_empty() {
            let ms = Duration::from_millis(self.settle.ms);
            self.settle.timer = self.timer_in(ms, Timer::Settle);
        }
    }

    /// The settle timer fired: looks at every settling group, lets the
    /// children of those that are over be Done, and checks again later.
    pub(super) fn settle_due(&mut self, ctx: &mut Ctx<'_>) {
        self.settle.timer = None;
        let now = Instant::now();
        let (mut over, mut answering) = (Vec::new(), Vec::new());
        self.settle.groups.retain(|g| {
            let left = now < g.give_up && group_has_members(g.pgid);
            if !left {
                over.push(g.child);
            } else if now.duration_since(g.reaped) >= SCAN_AFTER {
                answering.push(g.pgid);
            }
            left
        });
        // A scan that fails (out of fds) settles nothing: the bound still
        // ends the wait.
        if !answering.is_empty() {
            if let Ok(alive) = groups_alive(&answering) {
                self.settle.groups.retain(|g| {
                    let left = !answering.contains(&g.pgid) || alive.contains(&g.pgid);
                    if !left {
                        over.push(g.child);
                    }
                    left
                });
            }
        }
        for id in over {
            if self.children.get(id).is_some() {
                self.deliver_done_if_due(id.index, ctx);
            }
        }
        let free = self.leaders_free();
        self.settle.ms = (self.settle.ms * 2).min(MAX_MS);
        self.arm_settle();
        // Last: a reap settles its group, which arms the timer afresh.
        for id in free {
            self.release_leader(id.index, ctx);
        }
    }

    /// The children whose lingering leaders have nothing of their run
    /// left alive: [`others_alive`](Self::others_alive) for each, with one
    /// `/proc` scan for all their groups.
    fn leaders_free(&self) -> Vec<ChildId> {
        let (mut free, mut groups) = (Vec::new(), Vec::new());
        for l in self.settle.leaders.iter().filter(|l| !l.released) {
            let Some(c) = self.children.get(l.child) else {
                continue;
            };
            match c.run.as_ref() {
                Some(run) if c.live_cgroups == 0 && !c.stop.detached => {
                    groups.push((l.child, run.handle.pid()));
                }
                _ if !self.others_alive(l.child.index) => free.push(l.child),
                _ => {}
            }
        }
        if !groups.is_empty() {
            let pgids: Vec<u32> = groups.iter().map(|&(_, pgid)| pgid).collect();
            let alive = groups_alive(&pgids).unwrap_or_default();
            free.extend(
                groups
                    .into_iter()
                    .filter(|(_, pgid)| !alive.contains(pgid))
                    .map(|(id, _)| id),
            );
        }
        free
    }
}
