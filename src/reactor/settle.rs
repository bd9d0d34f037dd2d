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

use std::time::{Duration, Instant};

use super::timers::Timer;
use super::{Ctx, Reactor};
use crate::exit::ChildId;
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
    timer: Option<TimerKey>,
    ms: u64,
}

impl Default for Settle {
    fn default() -> Settle {
        Settle {
            groups: Vec::new(),
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

impl Settle {
    /// Whether child `index` waits for its group to settle (a list, not a
    /// field of every child's slot: only stopped runs ever settle, and for
    /// a moment).
    pub(super) fn holds(&self, index: u32) -> bool {
        self.groups.iter().any(|g| g.child.index == index)
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

    fn arm_settle(&mut self) {
        if let Some(k) = self.settle.timer.take() {
            self.wheel.cancel(k);
        }
        if !self.settle.groups.is_empty() {
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
                self.maybe_done(id.index, ctx);
            }
        }
        self.settle.ms = (self.settle.ms * 2).min(MAX_MS);
        self.arm_settle();
    }
}
