//! A driver thread: one [`Reactor`] serving the
//! [`Process`](super::Process)es placed on it (the pool of drivers is in
//! `pool`).
//!
//! # When the driver dies
//!
//! The driver must outlive every caller blocked on it, so its end is handled
//! like any other event: a panic (a bug, but one that must not become a hang
//! in every caller) or a failing `epoll_wait` ends the serving loop, and the
//! thread then marks the queue gone (nothing sent later is accepted), drops
//! its reactor (which kills and reaps every child it supervised), marks the
//! processes of those children done with [`Error::DriverGone`], and answers
//! every start it had not answered with the same error. The next start
//! placed on its slot of the pool starts a fresh driver there.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};

use super::seam::Seam;
use super::shared::{Answer, Serve, Shared};
use super::sync;
use crate::child::ChildId;
use crate::error::{Error, Result};
use crate::reactor::{Event, Reactor, Waker};
use crate::signal::Signal;
use crate::spawn::Spec;

pub(crate) enum Cmd {
    Start(sync::Arc<Shared>, Arc<Spec>),
    Stop(ChildId),
    Resume(ChildId),
    /// Sends a signal; the outcome goes back through the sender (dropped
    /// unanswered if the driver dies first).
    Signal(ChildId, Signal, SyncSender<Result<()>>),
    /// Queues bytes for the stdin of run `.1` of the child (see
    /// [`run_is_current`]); how many were taken goes back through the
    /// sender.
    WriteStdin(ChildId, usize, Vec<u8>, SyncSender<Result<usize>>),
    /// Closes the stdin of run `.1` of the child, if that run is current.
    CloseStdin(ChildId, usize),
    /// Panics in the driver, as a bug in it would.
    #[cfg(all(test, not(loom)))]
    Panic,
}

/// A handle to the driver thread.
#[derive(Clone)]
pub(crate) struct Driver {
    inner: Arc<Inner>,
}

struct Inner {
    queue: Mutex<Queue>,
    waker: Waker,
    /// The live processes of this driver's slot in the pool (see `pool`).
    live: Arc<AtomicUsize>,
}

#[derive(Default)]
struct Queue {
    cmds: Vec<Cmd>,
    /// The thread has ended: a command pushed now would never be served.
    gone: bool,
}

/// Lowers a live count, never below zero: a driver dying in the middle of
/// a start may let go of that process twice.
pub(super) fn release(live: &AtomicUsize) {
    let _ = live.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
}

impl Driver {
    /// Starts the driver of slot `index` of the pool, counting its live
    /// processes in `live`.
    pub(crate) fn start(index: usize, live: Arc<AtomicUsize>) -> Result<Driver> {
        let reactor = Reactor::new()?;
        let inner = Arc::new(Inner {
            queue: Mutex::new(Queue::default()),
            waker: reactor.waker(),
            live,
        });
        let thread_inner = inner.clone();
        std::thread::Builder::new()
            // The kernel keeps 15 bytes of a thread's name: this one stays
            // whole, and tells the pool's threads apart in `top -H`, up to
            // slot 999 (of `MAX_DRIVERS`; the last few lose a digit).
            .name(format!("procrun-drv-{index}"))
            .spawn(move || run(reactor, &thread_inner))
            .map_err(Error::Io)?;
        Ok(Driver { inner })
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.inner.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the driver thread has ended.
    pub(crate) fn is_gone(&self) -> bool {
        self.queue().gone
    }

    /// Queues `cmds` as one batch (the driver takes them in one turn) and
    /// wakes the driver: the tests' way to put a command behind another.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn send_batch(&self, cmds: impl IntoIterator<Item = Cmd>) {
        self.queue().cmds.extend(cmds);
        let _ = self.inner.waker.wake();
    }

    /// Whether `self` and `other` are the same driver thread.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn same_as(&self, other: &Driver) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    fn push(&self, cmd: Cmd) -> Result<()> {
        {
            let mut q = self.queue();
            // Checked under the lock the dying driver takes to mark itself
            // gone, so a command is either served or refused here, never
            // left in a queue nobody reads.
            if q.gone {
                return Err(Error::DriverGone);
            }
            q.cmds.push(cmd);
        }
        // An eventfd write cannot fail short of a broken fd; a lost wake-up
        // would only delay the command to the next event.
        let _ = self.inner.waker.wake();
        Ok(())
    }

    /// Asks the driver to spawn `cmd` for `shared`; the answer comes in
    /// `shared` (see [`Shared`]).
    ///
    /// # Errors
    ///
    /// [`Error::DriverGone`] when the driver thread has ended.
    pub(crate) fn start_child(&self, shared: sync::Arc<Shared>, spec: Arc<Spec>) -> Result<()> {
        // Counted before it is queued, so that starts racing on other
        // threads see it and go to another driver.
        self.inner.live.fetch_add(1, Ordering::Relaxed);
        let r = self.push(Cmd::Start(shared, spec));
        if r.is_err() {
            release(&self.inner.live);
        }
        r
    }

    /// Sends a command nobody waits an answer for. To a gone driver it is
    /// moot: its children were killed with its reactor and their processes
    /// marked done.
    pub(crate) fn send(&self, cmd: Cmd) {
        let _ = self.push(cmd);
    }

    /// Queues `bytes` for the stdin of `id` and waits for the answer of
    /// [`Reactor::write_stdin`].
    ///
    /// # Errors
    ///
    /// What [`Reactor::write_stdin`] says; [`Error::DriverGone`] when the
    /// driver thread ended first.
    pub(crate) fn write_stdin(&self, id: ChildId, run: usize, bytes: Vec<u8>) -> Result<usize> {
        let (tx, rx) = sync_channel(1);
        self.push(Cmd::WriteStdin(id, run, bytes, tx))?;
        rx.recv().unwrap_or(Err(Error::DriverGone))
    }

    /// Sends `sig` to the current run of `id` and waits for the driver to
    /// have sent it, so the caller learns whether it reached the child.
    ///
    /// # Errors
    ///
    /// What [`Reactor::signal`] says, but `Ok(())` for a child already
    /// gone; [`Error::DriverGone`] when the driver thread ended first.
    pub(crate) fn signal(&self, id: ChildId, sig: Signal) -> Result<()> {
        let (tx, rx) = sync_channel(1);
        self.push(Cmd::Signal(id, sig, tx))?;
        rx.recv().unwrap_or(Err(Error::DriverGone))
    }
}

impl Seam for Driver {
    type Job = Arc<Spec>;

    fn start(&self, shared: sync::Arc<Shared>, spec: Arc<Spec>) -> Result<()> {
        self.start_child(shared, spec)
    }

    fn stop(&self, id: ChildId) {
        self.send(Cmd::Stop(id));
    }

    fn resume(&self, id: ChildId) {
        self.send(Cmd::Resume(id));
    }

    fn signal(&self, id: ChildId, sig: Signal) -> Result<()> {
        Driver::signal(self, id, sig)
    }

    fn write_stdin(&self, id: ChildId, run: usize, bytes: Vec<u8>) -> Result<usize> {
        Driver::write_stdin(self, id, run, bytes)
    }

    fn close_stdin(&self, id: ChildId, run: usize) {
        self.send(Cmd::CloseStdin(id, run));
    }
}

/// What the driver thread serves, kept outside the serving loop so that
/// whoever waits on it can still be answered after the loop panicked.
#[derive(Default)]
struct Served {
    procs: Procs,
    /// Commands taken from the queue and not handled yet.
    cmds: VecDeque<Cmd>,
    /// The start being handled, until it is answered.
    starting: Option<sync::Arc<Shared>>,
}

fn run(reactor: Reactor, inner: &Inner) {
    let mut reactor = reactor;
    let mut served = Served::default();
    // Whether the loop panicked or epoll failed, callers are answered the
    // same way below; the panic itself was already reported by the hook.
    let _ = catch_unwind(AssertUnwindSafe(|| serve(&mut reactor, &mut served, inner)));
    let queued = {
        let mut q = inner.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.gone = true;
        std::mem::take(&mut q.cmds)
    };
    // Children first: a caller told its process is over must find it
    // reaped (close's promise), so the reactor's drop, which kills and
    // reaps them all, comes before any answer.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(reactor)));
    let starts =
        served
            .starting
            .take()
            .into_iter()
            .chain(served.cmds.drain(..).chain(queued).filter_map(|c| match c {
                Cmd::Start(shared, _) => Some(shared),
                _ => None,
            }));
    let_go(served.procs.values(), starts, &inner.live);
}

/// The processes a driver serves, by child.
pub(super) type Procs = HashMap<ChildId, sync::Arc<Shared>, ProcsHasher>;

#[cfg(not(loom))]
type ProcsHasher = std::collections::hash_map::RandomState;
/// The model checker replays each interleaving, so what the driver does
/// must not depend on a random seed (the order `let_go` visits them in).
#[cfg(loom)]
type ProcsHasher = std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher>;

/// What a dying driver owes the processes it served, once its reactor
/// killed and reaped their children: those that ran are done, with no
/// final exit, and the starts it took and never answered are answered
/// with [`Error::DriverGone`]. A start the loop died serving may have put
/// its process in `procs` too: only the transition that finds it
/// `Starting` lets go of it, so no process is let go of twice.
pub(super) fn let_go<'a>(
    procs: impl IntoIterator<Item = &'a sync::Arc<Shared>>,
    starts: impl IntoIterator<Item = sync::Arc<Shared>>,
    live: &AtomicUsize,
) {
    for shared in procs {
        let mut st = shared.lock();
        if st.driver_gone() {
            release(live);
        }
        shared.notify(&st);
    }
    for shared in starts {
        let mut st = shared.lock();
        if st.start_refused() {
            release(live);
        }
        shared.notify(&st);
    }
}

/// Delivers a reactor event to the process of its child; returns whether
/// to pause the child's output. A process done is let go of.
pub(super) fn deliver(procs: &mut Procs, ev: &Event<'_>, live: &AtomicUsize) -> bool {
    let id = ev.id();
    let Some(shared) = procs.get(&id) else {
        return false;
    };
    let mut st = shared.lock();
    let r = st.on_event(ev);
    if r.done {
        // Before anyone is told: a caller that saw its process done and
        // starts the next must find the count lowered.
        release(live);
    }
    shared.notify(&st);
    if r.done {
        drop(st);
        procs.remove(&id);
    }
    r.pause
}

/// Serves commands and reactor events until `epoll_wait` fails (it would
/// fail the same way in a tight loop: EBADF, EINVAL).
fn serve(reactor: &mut Reactor, served: &mut Served, inner: &Inner) -> Error {
    let mut spare = Vec::new();
    loop {
        take_cmds(&inner.queue, &mut spare, &mut served.cmds);
        while let Some(cmd) = served.cmds.pop_front() {
            serve_cmd(reactor, served, &inner.live, cmd);
        }
        if let Err(e) = poll_events(reactor, &mut served.procs, &inner.live) {
            return e;
        }
    }
}

/// Moves the commands callers queued behind those not handled yet. The
/// queue's vector is swapped with `spare` (empty), so neither allocates
/// once both have grown, and the lock is held only for the swap.
fn take_cmds(queue: &Mutex<Queue>, spare: &mut Vec<Cmd>, cmds: &mut VecDeque<Cmd>) {
    std::mem::swap(
        spare,
        &mut queue.lock().unwrap_or_else(|p| p.into_inner()).cmds,
    );
    cmds.extend(spare.drain(..));
}

/// Does what one command asks of the reactor, and answers it.
fn serve_cmd(reactor: &mut Reactor, served: &mut Served, live: &AtomicUsize, cmd: Cmd) {
    match cmd {
        Cmd::Start(shared, command) => {
            served.starting = Some(shared.clone());
            start(reactor, &mut served.procs, &shared, &command, live);
            served.starting = None;
        }
        // A stale handle means the child is already gone: nothing
        // to stop or resume.
        Cmd::Stop(id) => drop(reactor.stop(id)),
        Cmd::Resume(id) => drop(reactor.resume(id)),
        Cmd::Signal(id, sig, reply) => {
            let r = match reactor.signal(id, sig) {
                // Done since the caller looked: there was nothing
                // left to signal, as for a run between restarts.
                Err(Error::UnknownChild) => Ok(()),
                r => r,
            };
            let _ = reply.send(r);
        }
        Cmd::WriteStdin(id, run, bytes, reply) => {
            let r = if run_is_current(&served.procs, id, run) {
                reactor.write_stdin(id, &bytes)
            } else {
                Err(Error::Io(io::ErrorKind::BrokenPipe.into()))
            };
            let _ = reply.send(r);
        }
        // Gone or never piped: nothing to close. A writer of an
        // earlier run must not close the stream of a later one.
        Cmd::CloseStdin(id, run) => {
            if run_is_current(&served.procs, id, run) {
                drop(reactor.close_stdin(id));
            }
        }
        #[cfg(all(test, not(loom)))]
        Cmd::Panic => panic!("procrun driver: panic injected by a test"),
    }
}

/// Waits for reactor events (a command queued meanwhile wakes the wait
/// through the waker) and delivers each to its process.
fn poll_events(reactor: &mut Reactor, procs: &mut Procs, live: &AtomicUsize) -> Result<()> {
    reactor.poll(None, |ctl, ev| {
        if deliver(procs, &ev, live) {
            ctl.pause_bound(ev.id());
        }
    })
}

/// Whether run `run` of child `id` (counted from 0) is the one the
/// reactor's stream of `id` belongs to: the reactor keys a stream by the
/// child, not by its run, so a writer of an earlier run would otherwise
/// write into (and, dropped, close) a later run's stream. Exits are
/// counted here, on the thread that polls, so the count is the reactor's
/// own: a run is reaped, its `Exited` seen, before the next one starts.
/// A child no longer served is left to the reactor to call stale.
pub(super) fn run_is_current(procs: &Procs, id: ChildId, run: usize) -> bool {
    procs
        .get(&id)
        .map_or(true, |s| s.lock().run_is_current(run))
}

/// Serves one start (see [`State`](super::shared::State) for how it meets
/// a close from another thread).
fn start(
    reactor: &mut Reactor,
    procs: &mut Procs,
    shared: &sync::Arc<Shared>,
    spec: &Arc<Spec>,
    live: &AtomicUsize,
) {
    let spawn = || {
        let id = reactor.add_shared_child(spec.clone())?;
        Ok((id, reactor.pid(id)))
    };
    if let Some(id) = serve_start(procs, shared, live, spawn) {
        drop(reactor.stop(id));
    }
}

/// Serves a start with `spawn`, called without the lock (readers and
/// closers of the process need not wait for an exec); returns the child
/// to stop at once, its handle having been closed during the spawn (the
/// close found no child to stop; it waits for this answer, then for the
/// reap).
pub(super) fn serve_start(
    procs: &mut Procs,
    shared: &sync::Arc<Shared>,
    live: &AtomicUsize,
    spawn: impl FnOnce() -> Result<(ChildId, Option<u32>)>,
) -> Option<ChildId> {
    {
        let mut st = shared.lock();
        if matches!(st.serve_start(), Serve::Refused) {
            release(live);
            shared.notify(&st);
            return None;
        }
    }
    let r = spawn();
    if let Ok((id, _)) = &r {
        procs.insert(*id, shared.clone());
    }
    let mut st = shared.lock();
    let stop = match st.spawned(r) {
        Answer::Running => None,
        Answer::StopNow(id) => Some(id),
        Answer::Refused => {
            release(live);
            None
        }
    };
    shared.notify(&st);
    stop
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Driver")
    }
}
