//! One level of the wheel (64 slots) and the arithmetic that places a
//! deadline on a level and a slot.
//!
//! Level `L` has slots `64^L` ticks wide and spans `64^(L+1)` ticks. A timer
//! sits on the level of the highest 6-bit digit in which its deadline differs
//! from the wheel's `elapsed` tick, in the slot named by that digit of the
//! deadline. So every timer on level `L` shares `elapsed`'s
//! `64^(L+1)`-aligned block and lies in a later slot of it than `elapsed`:
//! the occupied slots of a level are all ahead of `elapsed`, the first one is
//! found with `trailing_zeros`, and everything on level `L` is due before
//! anything on level `L + 1`.

use super::slab::NIL;

/// Bits of a deadline consumed per level: 64 slots.
pub(super) const BITS_PER_LEVEL: u32 = 6;

/// Slots per level.
pub(super) const SLOTS: usize = 1 << BITS_PER_LEVEL;

/// Levels of the wheel; six of 64 slots cover 2^36 ms, about 2.2 years.
pub(super) const NUM_LEVELS: usize = 6;

/// Ticks covered by the whole wheel; a deadline that differs from `elapsed`
/// at or above this bit goes to the overflow list.
pub(super) const WHEEL_RANGE: u64 = 1 << (BITS_PER_LEVEL as usize * NUM_LEVELS);

/// The 64 slots of one level: list heads into the slab, an occupied bitmap,
/// and per slot a lower bound of the deadlines it holds.
#[derive(Clone, Copy)]
pub(super) struct Level {
    /// Bit `s` is set when slot `s` holds at least one timer.
    pub(super) occupied: u64,
    /// Head of each slot's list of slab entries, `NIL` when empty.
    pub(super) head: [u32; SLOTS],
    /// Per slot, no later than the earliest deadline it holds: exact while
    /// only inserts touched the slot, kept (and so possibly early) when a
    /// cancel removes the earliest one, since finding the new earliest would
    /// take a walk of the slot. `u64::MAX` for an empty slot.
    pub(super) min: [u64; SLOTS],
}

impl Level {
    pub(super) const EMPTY: Level = Level {
        occupied: 0,
        head: [NIL; SLOTS],
        min: [u64::MAX; SLOTS],
    };

    /// The first occupied slot, which (see the module docs) is the next one
    /// due on this level.
    pub(super) fn first_slot(&self) -> Option<usize> {
        if self.occupied == 0 {
            None
        } else {
            Some(self.occupied.trailing_zeros() as usize)
        }
    }

    /// Records that a timer due at `deadline` was linked into `slot`.
    pub(super) fn mark(&mut self, slot: usize, deadline: u64) {
        self.occupied |= 1 << slot;
        self.min[slot] = self.min[slot].min(deadline);
    }

    /// Records that `slot` was emptied.
    pub(super) fn clear(&mut self, slot: usize) {
        self.occupied &= !(1 << slot);
        self.min[slot] = u64::MAX;
    }
}

/// Ticks per slot on `level`.
pub(super) fn slot_range(level: usize) -> u64 {
    1 << (BITS_PER_LEVEL as usize * level)
}

/// Ticks spanned by all 64 slots of `level`.
pub(super) fn level_range(level: usize) -> u64 {
    1 << (BITS_PER_LEVEL as usize * (level + 1))
}

/// The level for a timer due at `deadline` (> `elapsed`), or `NUM_LEVELS`
/// when it lies beyond the wheel and belongs in the overflow list.
pub(super) fn level_for(elapsed: u64, deadline: u64) -> usize {
    // The low bits are forced on so that a deadline in elapsed's own level-0
    // block (even deadline == elapsed) still gets a defined log.
    let masked = (elapsed ^ deadline) | (SLOTS as u64 - 1);
    if masked >= WHEEL_RANGE {
        NUM_LEVELS
    } else {
        (masked.ilog2() / BITS_PER_LEVEL) as usize
    }
}

/// The slot of `deadline` on `level`.
pub(super) fn slot_for(deadline: u64, level: usize) -> usize {
    ((deadline >> (BITS_PER_LEVEL as usize * level)) & (SLOTS as u64 - 1)) as usize
}

/// The first tick of `slot` on `level`, in the block that holds `elapsed`.
pub(super) fn slot_start(elapsed: u64, level: usize, slot: usize) -> u64 {
    (elapsed & !(level_range(level) - 1)) + slot as u64 * slot_range(level)
}

/// The first tick of the wheel-sized block holding `tick`: the point where
/// the overflow list is looked at again once its earliest deadline is in it.
pub(super) fn wheel_block_start(tick: u64) -> u64 {
    tick & !(WHEEL_RANGE - 1)
}
