//! Children an event handler spawns ([`Control::spawn`]): started at
//! once, with their id, while the reactor is in the middle of a turn, and
//! taken into the reactor (slot, epoll, timers) when the handler's
//! requests are applied, right after the event.

use std::collections::VecDeque;
use std::time::Instant;

use super::children::Ids;
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
