//! Contained runs (see [`Command::cgroup`](crate::Command::cgroup)): the
//! slab of live run cgroups, each watched through its `cgroup.events`
//! (token `CGROUP | slot`, `EPOLLPRI` on every `populated` or `frozen`
//! change), and
//! the reactor's work on them.
//!
//! A run's cgroup outlives the run's reap: processes the run started may
//! live on in it (a daemon that called `setsid`), holding its pipes. The
//! cgroup's end is when it is empty *and* its run was reaped — never
//! guessed: the kernel says `populated 0` (which counts the cgroups below
//! too). Then the run's pipes are read to their end and closed, the
//! directory removed with any cgroups the run made below it, deepest first,
//! and the child may be Done.
//!
//! A stop reaches every cgroup of the child still alive (a restarted child
//! may have several: the current run's and those of earlier runs whose
//! escapees live on): the stop signal and `SIGCONT` to each member, those
//! of the cgroups a run made below its own included, and `SIGKILL` to all
//! of them (`cgroup.kill`) when the grace ends or the stopped run is
//! reaped. A stopped run's leader that exits while its cgroups still hold
//! processes is reaped only once they are empty or the grace ends (see
//! `settle`): each member has the whole grace.
//!
//! A kernel without `cgroup.kill` (before 5.14) has the cgroup frozen
//! instead, its members killed and the cgroup thawed; the reactor does not
//! wait for any of it: the freeze is written and the kill goes on when
//! `cgroup.events` says `frozen` (its fd is watched already) or on a
//! timer, a round of `SIGKILL`s at a time ([`KILL_ROUND`] apart, for
//! forks that got past the freeze) until no member is left or
//! [`KILL_LIMIT`] has passed (a member stuck in the kernel that cannot
//! freeze); then the thaw.

use std::time::{Duration, Instant};

use mio::Interest;

use super::pipes;
use super::timers::Timer;
use super::{Ctx, Reactor};
use crate::signal::Signal;
use crate::sys::{cgroup_kill_allowed, Cgroup};
use crate::timer::TimerKey;

/// Set in the token of a cgroup's `cgroup.events`, whose low bits are its
/// slot in [`Cgroups`].
pub(super) const CGROUP: usize = 1 << (usize::BITS - 3);
/// How long a drop waits for a killed cgroup to empty before leaving it
/// (a member stuck in the kernel must not hang the drop).
const DROP_WAIT: Duration = Duration::from_secs(2);
/// A frozen kill looks again this often for a cgroup not yet frozen (its
/// events fd says so at once, the timer is the fallback) and for members
/// a round missed.
const KILL_ROUND: Duration = Duration::from_millis(1);
/// A frozen kill ends this long after its freeze, members left or not: a
/// member stuck in the kernel may never freeze nor die.
const KILL_LIMIT: Duration = Duration::from_secs(1);

/// The cgroups of contained runs not yet removed.
pub(super) struct Cgroups {
    slots: Vec<Option<Contained>>,
    free: Vec<usize>,
    /// Whether `cgroup.kill` may be used (see [`cgroup_kill_allowed`]).
    pub(super) kill_file: bool,
}

impl Default for Cgroups {
    fn default() -> Cgroups {
        Cgroups {
            slots: Vec::new(),
            free: Vec::new(),
            kill_file: cgroup_kill_allowed(),
        }
    }
}

pub(super) struct Contained {
    pub(super) cgroup: Cgroup,
    /// The child whose run this cgroup holds.
    pub(super) child: u32,
    /// The run was reaped: an empty cgroup is then the end.
    pub(super) reaped: bool,
    /// The run's output pipes still open: read to their end when the
    /// cgroup empties, instead of after the drain time.
    pub(super) pipes: [Option<usize>; 2],
    /// rmdir said EBUSY (the last member is still being torn down): retried
    /// on a timer.
    pub(super) retries: u32,
    /// A kill by freezing under way.
    pub(super) freezing: Option<FrozenKill>,
}

/// A kill by freezing under way (a kernel without `cgroup.kill`): the
/// cgroup was frozen, and its members are killed once it is.
pub(super) struct FrozenKill {
    give_up: Instant,
    timer: Option<TimerKey>,
}

impl Cgroups {
    fn insert(&mut self, c: Contained) -> usize {
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(c);
                slot
            }
            None => {
                self.slots.push(Some(c));
                self.slots.len() - 1
            }
        }
    }

    fn take(&mut self, slot: usize) -> Option<Contained> {
        let c = self.slots.get_mut(slot)?.take()?;
        self.free.push(slot);
        Some(c)
    }

    pub(super) fn get(&self, slot: usize) -> Option<&Contained> {
        self.slots.get(slot)?.as_ref()
    }

    fn get_mut(&mut self, slot: usize) -> Option<&mut Contained> {
        self.slots.get_mut(slot)?.as_mut()
    }

    /// The live cgroups of child `index`.
    pub(super) fn of_child(&self, index: u32) -> Vec<usize> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(s, c)| c.as_ref().filter(|c| c.child == index).map(|_| s))
            .collect()
    }

    /// Whether a live cgroup will close pipe `token` when it empties.
    pub(super) fn holds_pipe(&self, token: usize) -> bool {
        self.slots
            .iter()
            .flatten()
            .any(|c| c.pipes.contains(&Some(token)))
    }

    /// A pipe that closed is no longer the cgroup's to close.
    pub(super) fn forget_pipe(&mut self, token: usize) {
        for c in self.slots.iter_mut().flatten() {
            for p in &mut c.pipes {
                if *p == Some(token) {
                    *p = None;
                }
            }
        }
    }
}

impl Reactor {
    /// Takes charge of a new run's cgroup; returns its slot. A failed epoll
    /// registration is returned along with the slot, as for pipes: the
    /// caller ends the run.
    pub(super) fn add_cgroup(
        &mut self,
        index: u32,
        cgroup: Cgroup,
        pipes: [Option<usize>; 2],
    ) -> (usize, std::io::Result<()>) {
        let slot = self.cgroups.insert(Contained {
            cgroup,
            child: index,
            reaped: false,
            pipes,
            retries: 0,
            freezing: None,
        });
        let c = self.cgroups.get(slot).expect("just inserted");
        let registered = pipes::register(
            self.poll.registry(),
            CGROUP | slot,
            c.cgroup.events_fd(),
            Interest::PRIORITY,
        );
        self.children.at_mut(index).live_cgroups += 1;
        (slot, registered)
    }

    /// The run of cgroup `slot` was reaped.
    pub(super) fn cgroup_run_reaped(&mut self, slot: usize, ctx: &mut Ctx<'_>) {
        if let Some(c) = self.cgroups.get_mut(slot) {
            c.reaped = true;
        }
        self.cgroup_changed(slot, ctx);
    }

    /// `cgroup.events` of `slot` changed (or its run was reaped): if the
    /// cgroup is empty and its run reaped, the run is over.
    pub(super) fn cgroup_changed(&mut self, slot: usize, ctx: &mut Ctx<'_>) {
        // A frozen kill waits for `frozen`, which this fd reports too.
        self.frozen_kill_step(slot);
        let Some(c) = self.cgroups.get(slot) else {
            return;
        };
        // Empty before the reap is the run's own exit on its way (its pidfd
        // or the exit poll reports it), or the end of what a stopped run's
        // lingering leader waits for: the reap comes back here.
        if !c.reaped {
            let index = c.child;
            self.leader_check(index, ctx);
            return;
        }
        if matches!(c.cgroup.populated(), Ok(true)) {
            return;
        }
        let index = c.child;
        pipes::deregister(self.poll.registry(), c.cgroup.events_fd());
        let pipes = c.pipes;
        // Nobody of the run is left to write: what the pipes hold is read
        // now, to EOF. A holder outside the cgroup (a copy in a child some
        // other thread is spawning) still gets the drain time.
        for token in pipes.into_iter().flatten() {
            self.owe_read(token);
            let drain = self.children.at(index).map(|c| c.stop.drain);
            if let Some(p) = self.pipes.out(token) {
                if p.drain_timer.is_none() {
                    let key = drain.and_then(|d| self.timer_in(d, Timer::Drain(token)));
                    if let Some(p) = self.pipes.out_mut(token) {
                        p.drain_timer = key;
                    }
                }
            }
        }
        if let Some(c) = self.cgroups.get_mut(slot) {
            c.pipes = [None, None];
        }
        self.remove_cgroup(slot, ctx);
    }

    /// Removes the empty cgroup `slot`, and the cgroups its run made below
    /// it, deepest first; retried on a timer while the kernel still counts
    /// a member being torn down (EBUSY).
    pub(super) fn remove_cgroup(&mut self, slot: usize, ctx: &mut Ctx<'_>) {
        let Some(c) = self.cgroups.get_mut(slot) else {
            return;
        };
        match c.cgroup.remove() {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && c.retries < 100 => {
                c.retries += 1;
                let ms = Duration::from_millis(u64::from(c.retries.min(20)));
                let _ = self.timer_in(ms, Timer::CgroupRemove(slot));
                return;
            }
            // Gone already, or not removable (EBUSY past the retries: a
            // cgroup below that will not go, such as a mount point):
            // nothing more procrun can do.
            _ => {}
        }
        let c = self.cgroups.take(slot).expect("checked above");
        let index = c.child;
        self.cancel_kill_round(&c);
        drop(c);
        let child = self.children.at_mut(index);
        child.live_cgroups -= 1;
        self.deliver_done_if_due(index, ctx);
    }

    /// Sends `sig` to every process in every live cgroup of child `index`
    /// and in the cgroups below them; `SIGKILL` goes to each subtree as a
    /// whole (`cgroup.kill`).
    pub(super) fn signal_cgroups(&mut self, index: u32, sig: Signal) {
        for slot in self.cgroups.of_child(index) {
            let Some(c) = self.cgroups.get(slot) else {
                continue;
            };
            if sig == Signal::KILL {
                self.kill_cgroup(slot);
            } else {
                let _ = c.cgroup.signal_each(sig.as_raw());
            }
        }
    }

    /// `SIGKILL` to everything in cgroup `slot` and below it: at once with
    /// `cgroup.kill`, else a frozen kill begins (see the module docs). A
    /// kill under way already reaches every member, later ones included.
    fn kill_cgroup(&mut self, slot: usize) {
        let kill_file = self.cgroups.kill_file;
        let Some(c) = self.cgroups.get_mut(slot) else {
            return;
        };
        if c.freezing.is_some() {
            return;
        }
        // An error (the cgroup is gone, or has no freezer: before 5.2)
        // leaves nothing a retry would change; the run's own group is
        // killed apart from this.
        if let Ok(false) = c.cgroup.start_kill(kill_file) {
            let give_up = Instant::now() + KILL_LIMIT;
            c.freezing = Some(FrozenKill {
                give_up,
                timer: None,
            });
            self.arm_kill_round(slot);
        }
    }

    fn arm_kill_round(&mut self, slot: usize) {
        let key = self.timer_in(KILL_ROUND, Timer::CgroupKill(slot));
        if let Some(k) = self.cgroups.get_mut(slot).and_then(|c| c.freezing.as_mut()) {
            k.timer = key;
        }
    }

    /// A cgroup let go of takes its frozen kill's timer with it: its slot
    /// may hold another cgroup by the time it would fire.
    fn cancel_kill_round(&mut self, c: &Contained) {
        if let Some(k) = c.freezing.as_ref().and_then(|f| f.timer) {
            self.wheel.cancel(k);
        }
    }

    /// The timer of cgroup `slot`'s frozen kill fired.
    pub(super) fn kill_round_due(&mut self, slot: usize) {
        if let Some(k) = self.cgroups.get_mut(slot).and_then(|c| c.freezing.as_mut()) {
            k.timer = None;
        }
        self.frozen_kill_step(slot);
    }

    /// The next step of cgroup `slot`'s frozen kill, if one is under way:
    /// a round of kills once the cgroup is frozen (or the limit passed),
    /// the thaw once no member is left; else a look again later.
    fn frozen_kill_step(&mut self, slot: usize) {
        let Some(c) = self.cgroups.get_mut(slot) else {
            return;
        };
        let Some(k) = c.freezing.as_mut() else {
            return;
        };
        if let Some(key) = k.timer.take() {
            self.wheel.cancel(key);
        }
        let over = Instant::now() >= k.give_up;
        // Killing by pid is safe only once the members cannot exit and
        // free their pids meanwhile. Past the limit, a member that never
        // froze (stuck in the kernel) is taken by a pidfd first instead.
        let done = if c.cgroup.frozen().unwrap_or(false) {
            c.cgroup.kill_round().unwrap_or(true)
        } else if over {
            let _ = c.cgroup.signal_each(Signal::KILL.as_raw());
            true
        } else {
            false
        };
        if done || over {
            let _ = c.cgroup.thaw();
            c.freezing = None;
        } else {
            self.arm_kill_round(slot);
        }
    }

    /// Whether a live cgroup of child `index` has a process in it (an
    /// unreadable `cgroup.events` counts as empty).
    pub(super) fn cgroups_populated(&self, index: u32) -> bool {
        self.cgroups
            .of_child(index)
            .into_iter()
            .filter_map(|slot| self.cgroups.get(slot))
            .any(|c| matches!(c.cgroup.populated(), Ok(true)))
    }

    /// A run that could not be supervised: its cgroup is killed, waited
    /// for (bounded) and removed at once.
    pub(super) fn abandon_cgroup(&mut self, slot: usize) {
        if let Some(c) = self.cgroups.take(slot) {
            self.cancel_kill_round(&c);
            pipes::deregister(self.poll.registry(), c.cgroup.events_fd());
            let _ = c.cgroup.kill();
            settle_and_remove(&c.cgroup);
            self.children.at_mut(c.child).live_cgroups -= 1;
        }
    }

    /// `SIGKILL` to every live cgroup, first thing in a drop.
    pub(super) fn drop_cgroups_kill(&mut self) {
        for c in self.cgroups.slots.iter().flatten() {
            let _ = c.cgroup.kill();
        }
    }

    /// Waits (bounded) for every killed cgroup to empty and removes it: a
    /// dropped reactor leaves no process and no cgroup.
    pub(super) fn drop_cgroups(&mut self) {
        for c in self.cgroups.slots.iter_mut().filter_map(Option::take) {
            settle_and_remove(&c.cgroup);
        }
    }
}

/// Waits (bounded) for a killed cgroup to empty, then removes it with the
/// cgroups the run made below it.
fn settle_and_remove(c: &Cgroup) {
    if c.wait_empty(DROP_WAIT) {
        let _ = c.remove_settled();
    }
}
