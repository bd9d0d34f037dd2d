//! The children a reactor supervises: a slab of slots addressed by
//! [`ChildId`] (an index plus a generation, so a stale handle never reaches
//! a newer child in the same slot), and what each child is.
//!
//! # A child's lifecycle
//!
//! ```text
//!   spawn ──► Running ── exit seen (pidfd readable, or the exit poll) ──► Exiting
//!              │   ▲                                                     │
//!              │   │ restart timer                 output read to its end │ (held while paused)
//!              │   │                                                     ▼
//!              │  RestartPending ◄── a restart is due ──────────── exit event
//!              │   │                                                     │ final
//!              │   │ stop / timeout (the restart is cancelled)           ▼
//!              │   └──────────────────────────────────────────────► Finished
//!              │                                                         │ every pipe closed
//!              └─ stop / timeout: Stopping (stop signal, SIGKILL          ▼
//!                 after the grace), then Exiting as above              Done: the slot is freed
//! ```
//!
//! The states are read off a [`Child`]'s fields rather than kept in an
//! enum, because several hold at once (a run may be stopping and paused,
//! a finished child may still have lingering pipes):
//!
//! | state | fields |
//! | --- | --- |
//! | Running | `run` is `Some` |
//! | Stopping | `run` is `Some`, `stopping` is `Some` (and `kill_timer` until the grace ends) |
//! | Exiting | `run` is `None`, `pending_exit` is `Some` |
//! | RestartPending | `run` and `pending_exit` are `None`, not `finished`; `restart_timer` is `Some`, or `None` for a restart never due |
//! | Finished | `finished`; Done once `open_pipes` and `live_cgroups` are 0 and, after a stop, nothing of its group is alive (the reactor's `settle` holds it until then) |

use std::sync::Arc;
use std::time::Instant;

use super::stdin::StdinState;
use crate::exit::{ChildId, Exit};
use crate::spec::{Spec, StopSpec};
use crate::sys::ChildHandle;
use crate::timer::TimerKey;

/// The slab of children.
#[derive(Default)]
pub(super) struct Children {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Children inserted and not yet removed.
    live: usize,
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
    pub(super) stop: StopSpec,
    pub(super) run: Option<Run>,
    /// Consecutive restarts (reset by `reset_after`).
    pub(super) restarts: u32,
    /// Why a stop is under way, if one is.
    pub(super) stopping: Option<StopCause>,
    pub(super) kill_timer: Option<TimerKey>,
    pub(super) timeout_timer: Option<TimerKey>,
    /// The restart the child waits for (see [`Child::waits_to_restart`]).
    pub(super) restart_timer: Option<TimerKey>,
    pub(super) paused: bool,
    /// Output pipes of the current (or last) run.
    pub(super) pipes: OutTokens,
    /// Output pipes open across all runs, lingering ones included.
    pub(super) open_pipes: u32,
    /// A reaped run whose exit event waits for its output to be read.
    // Boxed: it is there only for an instant, the slot all the time.
    pub(super) pending_exit: Option<Box<Exit>>,
    /// No run is alive and none will start again.
    pub(super) finished: bool,
    /// A stop ended the child while it waited to restart: its last exit
    /// said a restart would follow, and none did.
    pub(super) restart_cancelled: bool,
    /// Cgroups of contained runs not yet empty and removed.
    pub(super) live_cgroups: u32,
    /// The current run's stdin stream, if the command has one.
    pub(super) stdin: StdinState,
}

impl Child {
    /// A child about to start its first run. Its spec is kept (in
    /// `respawn`) only once the run started and only if it may restart: an
    /// idle child that never restarts costs no strings at all.
    pub(super) fn new(stop: StopSpec) -> Child {
        Child {
            respawn: None,
            stop,
            run: None,
            restarts: 0,
            stopping: None,
            kill_timer: None,
            timeout_timer: None,
            restart_timer: None,
            paused: false,
            pipes: OutTokens::default(),
            open_pipes: 0,
            pending_exit: None,
            finished: false,
            restart_cancelled: false,
            live_cgroups: 0,
            stdin: StdinState::NotPiped,
        }
    }

    /// Whether the child can go: nothing runs, will run, or is left to read.
    pub(super) fn is_done(&self) -> bool {
        self.finished
            && self.open_pipes == 0
            && self.pending_exit.is_none()
            && self.run.is_none()
            && self.live_cgroups == 0
    }

    /// Whether the child waits for a restart: at `restart_timer`, or, when
    /// that is `None`, never: the delay lies past any clock, which means
    /// "never" as a huge timeout or grace does, so only a stop (or the
    /// timeout) ends the wait, as during a delay of centuries.
    pub(super) fn waits_to_restart(&self) -> bool {
        // Read off the other fields rather than kept in a flag, which would
        // cost every slot 8 bytes: no run, no exit on its way, yet not
        // finished.
        self.run.is_none() && self.pending_exit.is_none() && !self.finished
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StopCause {
    Stop,
    Timeout,
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

impl Children {
    /// Takes a slot for `child` and returns its new id.
    pub(super) fn insert(&mut self, child: Child) -> ChildId {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    child: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        slot.child = Some(child);
        self.live += 1;
        ChildId {
            index,
            generation: slot.generation,
        }
    }

    /// Frees the slot of child `index`; its id is stale from now on.
    pub(super) fn remove(&mut self, index: u32) {
        if self.slots[index as usize].child.take().is_some() {
            self.free.push(index);
            self.live -= 1;
        }
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
        }
    }

    /// The child `id` names, unless the handle is stale.
    pub(super) fn get(&self, id: ChildId) -> Option<&Child> {
        let slot = self.slots.get(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.child.as_ref()
    }

    pub(super) fn get_mut(&mut self, id: ChildId) -> Option<&mut Child> {
        let slot = self.slots.get_mut(id.index as usize)?;
        if slot.generation != id.generation {
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

#[cfg(test)]
pub(super) const SLOT_SIZE: usize = std::mem::size_of::<Slot>();
