//! The timers' storage: a slab of entries, each either free (on a free list)
//! or a timer node doubly linked into one list of the wheel.
//!
//! Freed entries are reused before the vector grows, so a wheel whose number
//! of live timers stays bounded stops allocating. Each entry carries a
//! generation bumped when it is freed; a key remembers the generation it was
//! issued with, so a key of a fired or cancelled timer never matches the
//! entry's next occupant. Generations are never 0, so an
//! `Option<TimerKey>` is no bigger than a key (every supervised child holds
//! three).

use std::num::NonZeroU32;

/// "No entry": the end of a list or of the free list.
pub(super) const NIL: u32 = u32::MAX;

/// Which list of the wheel a node is linked into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ListId {
    /// A slot of a level.
    Slot {
        /// The level, `0..NUM_LEVELS`.
        level: u8,
        /// The slot, `0..64`.
        slot: u8,
    },
    /// Deadlines beyond the wheel's range from `elapsed`.
    Overflow,
    /// Due timers waiting to be handed out.
    Pending,
}

/// A live timer.
pub(super) struct Node<T> {
    pub(super) deadline: u64,
    pub(super) list: ListId,
    pub(super) prev: u32,
    pub(super) next: u32,
    pub(super) value: T,
}

enum State<T> {
    Vacant { next_free: u32 },
    Occupied(Node<T>),
}

struct Entry<T> {
    generation: NonZeroU32,
    state: State<T>,
}

pub(super) struct Slab<T> {
    entries: Vec<Entry<T>>,
    free: u32,
    len: usize,
}

impl<T> Slab<T> {
    pub(super) const fn new() -> Slab<T> {
        Slab {
            entries: Vec::new(),
            free: NIL,
            len: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// Stores `node`, returning its index and generation.
    ///
    /// # Panics
    ///
    /// When `u32::MAX` (2^32 - 1) timers are already live.
    pub(super) fn insert(&mut self, node: Node<T>) -> (u32, NonZeroU32) {
        if self.free != NIL {
            let index = self.free;
            let entry = &mut self.entries[index as usize];
            let State::Vacant { next_free } = entry.state else {
                unreachable!("free list points at an occupied entry");
            };
            self.free = next_free;
            entry.state = State::Occupied(node);
            self.len += 1;
            return (index, entry.generation);
        }
        let index = u32::try_from(self.entries.len())
            .ok()
            .filter(|&i| i != NIL)
            .expect("timer wheel holds u32::MAX timers already");
        self.entries.push(Entry {
            generation: NonZeroU32::MIN,
            state: State::Occupied(node),
        });
        self.len += 1;
        (index, NonZeroU32::MIN)
    }

    /// The live node at `index` if it still has `generation`.
    pub(super) fn get(&self, index: u32, generation: NonZeroU32) -> Option<&Node<T>> {
        match self.entries.get(index as usize) {
            Some(Entry {
                generation: g,
                state: State::Occupied(node),
            }) if *g == generation => Some(node),
            _ => None,
        }
    }

    /// The live node at `index`, which the wheel knows to be linked.
    pub(super) fn node(&self, index: u32) -> &Node<T> {
        match &self.entries[index as usize].state {
            State::Occupied(node) => node,
            State::Vacant { .. } => unreachable!("linked index {index} is vacant"),
        }
    }

    /// The live node at `index`, which the wheel knows to be linked.
    pub(super) fn node_mut(&mut self, index: u32) -> &mut Node<T> {
        match &mut self.entries[index as usize].state {
            State::Occupied(node) => node,
            State::Vacant { .. } => unreachable!("linked index {index} is vacant"),
        }
    }

    /// Frees the entry at `index` (already unlinked), returning its
    /// generation as it was and its value.
    pub(super) fn remove(&mut self, index: u32) -> (NonZeroU32, T) {
        let entry = &mut self.entries[index as usize];
        let state = std::mem::replace(
            &mut entry.state,
            State::Vacant {
                next_free: self.free,
            },
        );
        let State::Occupied(node) = state else {
            unreachable!("removing vacant index {index}");
        };
        let generation = entry.generation;
        // Wrapping (past 0): a key would have to be held across 2^32 - 1
        // reuses of one entry to be mistaken for a newer timer.
        entry.generation = generation.checked_add(1).unwrap_or(NonZeroU32::MIN);
        self.free = index;
        self.len -= 1;
        (generation, node.value)
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::{ListId, Node, Slab};

    fn node() -> Node<()> {
        Node {
            deadline: 0,
            list: ListId::Pending,
            prev: super::NIL,
            next: super::NIL,
            value: (),
        }
    }

    #[test]
    fn a_generation_wraps_past_zero() {
        let mut slab = Slab::new();
        let (index, _) = slab.insert(node());
        slab.entries[index as usize].generation = NonZeroU32::MAX;
        let (old, ()) = slab.remove(index);
        assert_eq!(old, NonZeroU32::MAX);
        let (again, generation) = slab.insert(node());
        assert_eq!((again, generation), (index, NonZeroU32::MIN));
        assert!(slab.get(index, old).is_none(), "a stale key matched");
    }
}
