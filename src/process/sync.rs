//! The synchronisation the handle API's shared state is built on: std's,
//! or under `cfg(loom)` the model checker's stand-ins, which explore every
//! interleaving of the threads that use them (the `loom` unit tests of
//! this module's parent). Only the state shared between the handles and
//! the driver goes through here; the driver thread's own queue and the
//! pool stay on std, as the model replaces the driver as a whole.

#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};

#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Locks `m`, going on after a panic of another holder: the data behind
/// every lock here stays consistent between statements.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(all(test, loom))]
pub(crate) use loom::thread;
