//! The children a reactor supervises: a slab of slots addressed by
//! [`ChildId`] (an index plus a generation, so a stale handle never reaches
//! a newer child in the same slot), and what each child is.
//!
//! # A child's lifecycle
//!
//! A child is in exactly one [`Phase`] at a time:
//!
//! ```text
//!          spawn
//!            │
//!            ▼
//!   ┌───► Running ─── stop / timeout: its stop signal, ──► Stopping
//!   │        │        SIGKILL after the grace                  │
//!   │        │ exit seen (pidfd readable, or the exit poll)    │ exit seen (its
//!   │        ▼                                                 │ group is sent
//!   │     Exiting ◄────────────────────────────────────────────┘ SIGKILL)
//!   │        │ output read to its end (held while paused), then the exit event
//!   │        ├── a restart is due ──► RestartPending ──┐ stop / timeout (the
//!   │        │                          │              │ restart is cancelled),
//!   └────────┼────── restart timer ─────┘              │ or the restart's spawn
//!            │ final: its runs are over                │ failed
//!            ▼                                         │
//!        Lingering ◄───────────────────────────────────┘
//!            │ every pipe closed, every cgroup removed
//!            ▼
//!          Done: its Event::Done goes out and the slot is freed (a
//!                stopped run's group settled first)
//! ```
//!
//! The phase is read off the child's fields by [`Child::phase`], not
//! stored: a stored tag would cost every slot 8 bytes and could drift from
//! the fields that say the same. The fields a phase asks for:
//!
//! | phase | fields |
//! | --- | --- |
//! | Running | `run` is `Some`, `stopping` is `None` |
//! | Stopping | `run` is `Some`, `stopping` is `Some` (and `stop_timer` until the grace ends) |
//! | Exiting | `run` is `None`, `pending_exit` is `Some` |
//! | RestartPending | `run` and `pending_exit` are `None`, not `runs_over`; `restart_timer` is `Some`, or `None` for a restart never due |
//! | Lingering | `runs_over`, with `open_pipes` or `live_cgroups` above 0 |
//! | Done | `runs_over`, `open_pipes` and `live_cgroups` 0: its `Event::Done` is due, delivered and the slot freed at once, or when its stopped group settles |
//!
//! Beside the phase, facts that hold in several phases at once are kept
//! as such, each in a field of its own:
//!
//! - `paused`: in any phase; the caller's pause holds an Exiting child's
//!   exit event back, a layer's bound on what it buffers does not (see
//!   [`Child::holds_output`]): an Exiting child's output is read and its
//!   exit comes, and the next run is held again.
//! - `stopping`: set by a stop or the timeout and never cleared, but for
//!   a run timeout's: that one stops the run, not the child, and is
//!   cleared at the reap when the policy restarts the child (a stop or
//!   the child's timeout arriving while it runs takes its place). A run
//!   being stopped is Stopping; after its reap the cause stays, through
//!   Exiting to Lingering. A Lingering child whose contained run left
//!   processes in its cgroup can be stopped too (its cgroups are
//!   signalled, and `stop_timer` runs).
//! - `restart_cancelled`: a stop came while the child waited to restart,
//!   or while its exit promising a restart was held back.
//! - lingering pipes (`open_pipes` above the current run's `pipes`):
//!   output pipes a process outside the group still holds, in any phase,
//!   closed after the drain time.
//! - `live_cgroups`: cgroups of contained runs not yet empty, in any
//!   phase; they keep a Lingering child from being Done.
//! - a settling group (in the reactor's `settle`, not the slot): a stopped
//!   run's group not yet empty after its leader's reap; it keeps a Done
//!   child's slot until it is.
//!
//! [`Child::check`] asserts, in debug builds, what ties the fields
//! together; the reactor calls it after each transition.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::stdin::StdinState;
use super::Reactor;
use crate::child::ChildId;
use crate::exit::{Exit, TimeoutKind};
use crate::spawn::{Spec, StopPolicy};
use crate::sys::ChildHandle;
use crate::timer::TimerKey;

/// The slab of children.
pub(super) struct Children {
    slots: Vec<Slot>,
    /// Children inserted and not yet removed.
    live: usize,
    /// This reactor's identity, carried by every id it issues.
    reactor: u32,
}

/// The ids a reactor hands out: its free slots, each with the generation
/// it issues next, and the end of the slab. Kept apart from the slots so
/// that [`Control::spawn`](super::Control::spawn) can take an id in the
/// middle of a turn, while the reactor is busy delivering an event:
/// `poll` lends them to the turn, and every slot freed during it goes
/// back here.
#[derive(Default)]
pub(super) struct Ids {
    /// 0 only in the stand-in a reactor holds while a turn has its ids.
    reactor: u32,
    free: Vec<(u32, u32)>,
    /// One past the highest index handed out.
    end: u32,
}

impl Ids {
    pub(super) fn new(reactor: u32) -> Ids {
        Ids {
            reactor,
            free: Vec::new(),
            end: 0,
        }
    }

    /// A new id: a free slot's next generation, or a slot past the end.
    pub(super) fn take(&mut self) -> ChildId {
        debug_assert!(self.reactor != 0, "an id taken from a turn's stand-in");
        let (index, generation) = self.free.pop().unwrap_or_else(|| {
            self.end += 1;
            (self.end - 1, 1)
        });
        ChildId {
            index,
            generation,
            reactor: self.reactor,
        }
    }
}

pub(super) struct Slot {
    generation: u32,
    child: Option<Child>,
}

/// What an idle child costs procrun: this, two pipe entries, and, only
/// when it may restart, its [`Spec`] (one for all children spawned in a
/// row from the same command).
pub(super) struct Child {
    /// The spec, kept only while a restart may need it.
    pub(super) respawn: Option<Arc<Spec>>,
    /// What stopping and reaping need of the command.
    pub(super) stop: StopPolicy,
    pub(super) run: Option<Run>,
    /// Consecutive restarts (reset by `reset_after`).
    pub(super) restarts: u32,
    /// Why a stop is under way, if one is.
    pub(super) stopping: Option<StopCause>,
    /// The timer of the run's end: while it runs, its run timeout
    /// (`Timer::RunTimeout`); once a stop began, the stop's `SIGKILL`
    /// (`Timer::Kill`). One field, as the two never overlap: a stop
    /// replaces the run timeout, and the reap cancels either.
    pub(super) stop_timer: Option<TimerKey>,
    pub(super) timeout_timer: Option<TimerKey>,
    /// The restart the child waits for (see [`Child::waits_to_restart`]).
    pub(super) restart_timer: Option<TimerKey>,
    /// Whether its output is left unread, and why.
    pub(super) paused: Pause,
    /// Output pipes of the current (or last) run.
    pub(super) pipes: OutTokens,
    /// Output pipes open across all runs, lingering ones included.
    pub(super) open_pipes: u32,
    /// A reaped run whose exit event waits for its output to be read.
    // Boxed: it is there only for an instant, the slot all the time.
    pub(super) pending_exit: Option<Box<Exit>>,
    /// Its runs are over: no run is alive and none will start again.
    pub(super) runs_over: bool,
    /// A stop ended the child while it waited to restart: its last exit
    /// said a restart would follow, and none did.
    pub(super) restart_cancelled: bool,
    /// Cgroups of contained runs not yet empty and removed.
    pub(super) live_cgroups: u32,
    /// The current run's stdin stream, if the command has one.
    pub(super) stdin: StdinState,
}

/// Whether a child's output is left unread, and why.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Pause {
    #[default]
    No,
    /// The caller's (`Reactor::pause`, `Control::pause`): it holds the
    /// output of an ended run and its exit too.
    Held,
    /// A layer's bound on what it buffers (`Control::pause_bound`): it
    /// holds a live run's output only.
    Bound,
}

impl Child {
    /// A child about to start its first run. Its spec is kept (in
    /// `respawn`) only once the run started and only if it may restart: an
    /// idle child that never restarts costs no strings at all.
    pub(super) fn new(stop: StopPolicy) -> Child {
        Child {
            respawn: None,
            stop,
            run: None,
            restarts: 0,
            stopping: None,
            stop_timer: None,
            timeout_timer: None,
            restart_timer: None,
            paused: Pause::No,
            pipes: OutTokens::default(),
            open_pipes: 0,
            pending_exit: None,
            runs_over: false,
            restart_cancelled: false,
            live_cgroups: 0,
            stdin: StdinState::NotPiped,
        }
    }

    /// Where the child is in its lifecycle (see the module docs). A child
    /// just made, before its first run starts, reads as `RestartPending`;
    /// nothing sees it then.
    pub(super) fn phase(&self) -> Phase {
        match (&self.run, &self.pending_exit) {
            (Some(_), _) if self.stopping.is_some() => Phase::Stopping,
            (Some(_), _) => Phase::Running,
            (None, Some(_)) => Phase::Exiting,
            (None, None) if !self.runs_over => Phase::RestartPending,
            (None, None) if self.open_pipes > 0 || self.live_cgroups > 0 => Phase::Lingering,
            (None, None) => Phase::Done,
        }
    }

    /// Whether the child's output is to be left unread now. A caller's
    /// pause holds it in any phase, and with it an Exiting child's exit.
    /// A layer's bound on what it buffers (`Control::pause_bound`) holds a
    /// live run's only: once the run ended, what its pipes hold (at most
    /// their capacity: nothing writes more) is read and its exit comes, so
    /// a stop or a kill of a child nobody reads ends; the next run is held
    /// again until the layer resumes.
    pub(super) fn holds_output(&self) -> bool {
        match self.paused {
            Pause::No => false,
            Pause::Held => true,
            Pause::Bound => self.run.is_some(),
        }
    }

    /// Lifts a pause of either kind; whether there was one.
    pub(super) fn unpause(&mut self) -> bool {
        std::mem::take(&mut self.paused) != Pause::No
    }

    /// Whether the child's `Event::Done` is due: nothing runs, will run,
    /// or is left to read (a settling group may still hold it back).
    pub(super) fn done_is_due(&self) -> bool {
        self.phase() == Phase::Done
    }

    /// Whether the child waits for a restart: at `restart_timer`, or, when
    /// that is `None`, never: the delay lies past any clock, which means
    /// "never" as a huge timeout or grace does, so only a stop (or the
    /// timeout) ends the wait, as during a delay of centuries.
    pub(super) fn waits_to_restart(&self) -> bool {
        self.phase() == Phase::RestartPending
    }

    /// Asserts, in debug builds, what ties the child's fields together at
    /// rest, between two transitions; a no-op in release builds.
    pub(super) fn check(&self) {
        let phase = self.phase();
        let running = matches!(phase, Phase::Running | Phase::Stopping);
        // One run at a time, and its exit only once it is reaped.
        debug_assert!(
            !(running && self.pending_exit.is_some()),
            "a run and a pending exit at once"
        );
        // The restart timer is the wait for a restart and nothing else.
        debug_assert!(
            self.restart_timer.is_none() || phase == Phase::RestartPending,
            "a restart timer in {phase:?}"
        );
        debug_assert!(
            phase != Phase::RestartPending || self.respawn.is_some(),
            "waiting to restart without the spec"
        );
        // A stop ends the child: no restart is waited for or promised,
        // and it replaced the timeout. A run timeout's stop ends the run
        // only: the child's timeout stays armed, and the reap, which
        // decides whether a restart follows, clears it if one does.
        if self.stopping.is_some() {
            debug_assert!(
                phase != Phase::RestartPending,
                "waiting to restart while stopped"
            );
            debug_assert!(
                self.timeout_timer.is_none() || self.stopping == Some(StopCause::RunTimeout),
                "a timeout timer while stopping"
            );
            debug_assert!(
                self.restart_cancelled
                    || !self
                        .pending_exit
                        .as_ref()
                        .is_some_and(|e| e.restart_in.is_some()),
                "a stopped child's exit promises a restart"
            );
        }
        debug_assert!(
            self.stop_timer.is_none() || self.stopping.is_some() || phase == Phase::Running,
            "a stop timer in {phase:?} with no stop under way"
        );
        debug_assert!(
            !self.restart_cancelled || (self.stopping.is_some() && !running),
            "a cancelled restart in {phase:?} with stop {:?}",
            self.stopping
        );
        // The current run's pipes are held while it runs or its exit
        // waits; the exit event lets them go (to linger, if held).
        debug_assert!(
            self.pipes.tokens().count() as u32 <= self.open_pipes,
            "more current pipes than open ones"
        );
        debug_assert!(
            running || phase == Phase::Exiting || self.pipes.tokens().next().is_none(),
            "a run's pipes kept in {phase:?}"
        );
        // A run's stdin goes with its reap.
        debug_assert!(
            running || !matches!(self.stdin, StdinState::Open(_) | StdinState::Feeding(_)),
            "a stdin pipe with no run ({:?})",
            self.stdin
        );
    }

    /// Whether the current run is watched by polling rather than a pidfd.
    pub(super) fn is_polled(&self) -> bool {
        self.run
            .as_ref()
            .is_some_and(|r| r.handle.pidfd().is_none())
    }
}

/// The pipe tokens of a run's stdout and stderr.
// As `u32` (a token is a slab index, at most one per open fd, so it
// fits): 16 bytes of every child's slot rather than 32.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct OutTokens([Option<u32>; 2]);

impl OutTokens {
    pub(super) fn new(tokens: [Option<usize>; 2]) -> OutTokens {
        OutTokens(tokens.map(|t| t.map(|t| u32::try_from(t).expect("a slab index fits u32"))))
    }

    /// The tokens still held, stdout's first.
    pub(super) fn tokens(self) -> impl Iterator<Item = usize> {
        self.0.into_iter().flatten().map(|t| t as usize)
    }

    /// Forgets `token`, a pipe that closed.
    pub(super) fn remove(&mut self, token: usize) {
        for slot in &mut self.0 {
            if slot.is_some_and(|t| t as usize == token) {
                *slot = None;
            }
        }
    }
}

/// Where a child is in its lifecycle, derived by [`Child::phase`] (see
/// the module docs for the drawing and the fields of each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// A run is alive.
    Running,
    /// A run is alive and a stop (or the timeout) is under way: its stop
    /// signal was sent, `SIGKILL` follows after the grace.
    Stopping,
    /// The run was reaped; its exit event waits for its output to be read
    /// to the end, or for a resume.
    Exiting,
    /// The exit event promised a restart: it comes at `restart_timer`, or
    /// never when that is `None` (a delay past any clock).
    RestartPending,
    /// Its runs are over, but pipes or cgroups of its runs linger.
    Lingering,
    /// Its runs are over and nothing of them is left: its `Event::Done`
    /// goes out and its slot is freed, now or once a stopped run's group
    /// has settled.
    Done,
}

/// Why a stop is under way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StopCause {
    /// A caller's stop: it ends the child.
    Stop,
    /// The child's timeout (`Command::timeout`): it ends the child.
    Timeout,
    /// The run's timeout (`Command::run_timeout`): it ends the run, which
    /// counts as failed; the restart policy decides what follows.
    RunTimeout,
}

impl StopCause {
    /// Whether the stop ends the child, not just its run.
    pub(super) fn ends_child(self) -> bool {
        self != StopCause::RunTimeout
    }

    /// The timeout the stop is, if it is one.
    pub(super) fn timeout(self) -> Option<TimeoutKind> {
        match self {
            StopCause::Stop => None,
            StopCause::Timeout => Some(TimeoutKind::Child),
            StopCause::RunTimeout => Some(TimeoutKind::Run),
        }
    }
}

/// A live run; watched through its pidfd (token `PIDFD | index`) when the
/// handle has one, else by polling.
pub(super) struct Run {
    pub(super) handle: ChildHandle,
    pub(super) started: Instant,
    /// The slot of the run's cgroup, when contained.
    // `u32`: one per live run, and it keeps an idle child small.
    pub(super) cgroup: Option<u32>,
}

/// The last reactor identity handed out; 0 is never one, so an id made
/// up with it is issued by no reactor.
static REACTORS: AtomicU32 = AtomicU32::new(0);

/// A new reactor identity.
pub(super) fn new_reactor() -> u32 {
    REACTORS
        .fetch_add(1, Ordering::Relaxed)
        .wrapping_add(1)
        .max(1)
}

impl Children {
    /// An empty slab for reactor `reactor`.
    pub(super) fn new(reactor: u32) -> Children {
        Children {
            slots: Vec::new(),
            live: 0,
            reactor,
        }
    }

    /// Takes a slot for `child` under a new id from `ids`.
    pub(super) fn insert(&mut self, ids: &mut Ids, child: Child) -> ChildId {
        let id = ids.take();
        self.put(id, child);
        id
    }

    /// Puts `child` in the slot of `id`, an id taken from this reactor's
    /// [`Ids`] and not put yet.
    pub(super) fn put(&mut self, id: ChildId, child: Child) {
        debug_assert_eq!(id.reactor, self.reactor);
        let index = id.index as usize;
        if index >= self.slots.len() {
            self.slots.resize_with(index + 1, || Slot {
                generation: 0,
                child: None,
            });
        }
        let slot = &mut self.slots[index];
        debug_assert!(slot.child.is_none(), "slot {index} taken twice");
        slot.generation = id.generation;
        slot.child = Some(child);
        self.live += 1;
    }

    /// Frees the slot of child `index` into `ids`; its id names no child
    /// from now on. Generation 0 is skipped when the count wraps: it is
    /// never issued.
    pub(super) fn remove(&mut self, index: u32, ids: &mut Ids) {
        let slot = &mut self.slots[index as usize];
        if slot.child.take().is_some() {
            ids.free
                .push((index, slot.generation.wrapping_add(1).max(1)));
            self.live -= 1;
        }
    }

    /// The ids of the children supervised, by index.
    pub(super) fn ids(&self) -> impl Iterator<Item = ChildId> + '_ {
        let reactor = self.reactor;
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.child.is_some())
            .map(move |(index, s)| ChildId {
                index: index as u32,
                generation: s.generation,
                reactor,
            })
    }

    /// How many children are supervised.
    pub(super) fn len(&self) -> usize {
        self.live
    }

    /// One past the highest index in use, for walks over every child.
    pub(super) fn end(&self) -> u32 {
        self.slots.len() as u32
    }

    pub(super) fn id_of(&self, index: u32) -> ChildId {
        ChildId {
            index,
            generation: self.slots[index as usize].generation,
            reactor: self.reactor,
        }
    }

    /// Whether this slab issued `id`, to a child live or done: a slot's
    /// generations up to its current one were all handed out (a slot's
    /// first is 1). After 4 billion children in one slot the count wraps,
    /// and the ids of the first wrap read as never issued.
    pub(super) fn issued(&self, id: ChildId) -> bool {
        id.reactor == self.reactor
            && id.generation != 0
            && self
                .slots
                .get(id.index as usize)
                .is_some_and(|s| id.generation <= s.generation)
    }

    /// The child `id` names, unless the handle is stale.
    pub(super) fn get(&self, id: ChildId) -> Option<&Child> {
        let slot = self.slots.get(id.index as usize)?;
        if slot.generation != id.generation || id.reactor != self.reactor {
            return None;
        }
        slot.child.as_ref()
    }

    pub(super) fn get_mut(&mut self, id: ChildId) -> Option<&mut Child> {
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.generation != id.generation || id.reactor != self.reactor {
            return None;
        }
        slot.child.as_mut()
    }

    /// The child at `index`, if the slot holds one.
    pub(super) fn at(&self, index: u32) -> Option<&Child> {
        self.slots.get(index as usize)?.child.as_ref()
    }

    /// The child at `index`, which the caller knows is live (an index
    /// taken from a pipe, a timer or a token of a live child).
    pub(super) fn at_mut(&mut self, index: u32) -> &mut Child {
        self.slots[index as usize]
            .child
            .as_mut()
            .expect("internal index of a live child")
    }
}

impl Reactor {
    /// Asserts, in debug builds, the invariants of child `index` (see
    /// [`Child::check`]) and those it shares with the reactor's other
    /// tables; called after each transition. A free slot (the transition
    /// let the child go) has none.
    pub(super) fn check_child(&self, index: u32) {
        if !cfg!(debug_assertions) {
            return;
        }
        let Some(c) = self.children.at(index) else {
            return;
        };
        c.check();
        let cgroups = self.cgroups.of_child(index);
        debug_assert_eq!(
            cgroups.len(),
            c.live_cgroups as usize,
            "live cgroups of child {index}"
        );
        if let Some(slot) = c.run.as_ref().and_then(|r| r.cgroup) {
            debug_assert!(
                cgroups.contains(&(slot as usize))
                    && self.cgroups.get(slot as usize).is_some_and(|g| !g.reaped),
                "a live run's cgroup is not its child's, or marked reaped"
            );
        }
        // Only a stopped run's group settles, after its reap.
        debug_assert!(
            !self.settle.holds(index)
                || (c.stopping.is_some() && c.run.is_none() && !c.stop.detached),
            "child {index} settles in {:?}, stop {:?}",
            c.phase(),
            c.stopping
        );
    }
}

#[cfg(test)]
pub(super) const SLOT_SIZE: usize = std::mem::size_of::<Slot>();
