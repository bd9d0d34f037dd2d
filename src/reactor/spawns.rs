//! Children an event handler spawns ([`Control::spawn`]): started at
//! once, with their id, while the reactor is in the middle of a turn, and
//! taken into the reactor (slot, epoll, timers) when the handler's
//! requests are applied, right after the event.

use std::collections::VecDeque;
use std::time::Instant;

use super::children::{Child, Ids};
use super::turn::Ctx;
use super::{Event, Reactor};
use crate::child::ChildId;
use crate::signal::Signal;
use crate::spawn::{Spawned, Spec};

/// What a turn lends its handlers for spawning: the reactor's ids, and
/// the children started and not yet taken in.
#[derive(Default)]
pub(super) struct Spawns {
    pub(super) ids: Ids,
    pub(super) pending: VecDeque<Pending>,
}

impl Spawns {
    pub(super) fn new(reactor: u32) -> Spawns {
        Spawns {
            ids: Ids::new(reactor),
            pending: VecDeque::new(),
        }
    }
}

/// A child a handler started, until the reactor takes it in.
pub(super) struct Pending {
    pub(super) id: ChildId,
    pub(super) spec: Spec,
    pub(super) started: Instant,
    /// `None` once taken in.
    pub(super) spawned: Option<Spawned>,
}

impl Drop for Pending {
    /// A child never taken in (its handler panicked before the turn could
    /// apply its requests) is killed and reaped, not left running
    /// unwatched.
    fn drop(&mut self) {
        if let Some(s) = self.spawned.take() {
            let sig = Signal::KILL.as_raw();
            let _ = match self.spec.stop.detached {
                true => s.handle.signal(sig),
                false => s.handle.signal_with_group(sig),
            };
            let _ = s.handle.reap_blocking();
        }
    }
}

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
