//! The pool of driver threads that serves the handle API.
//!
//! Each slot holds one [`Driver`] (its own thread and [`Reactor`]) and the
//! number of live processes placed on it. A start goes to the slot with the
//! fewest, and the [`Process`] stays on that driver for good: its lines
//! never cross to another thread, and no lock is shared between drivers. A
//! slot whose driver died gets a new one the next time it is picked; the
//! dead one fails only its own callers.
//!
//! [`Reactor`]: crate::Reactor
//! [`Process`]: super::Process

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use super::driver::Driver;
use crate::error::{Error, Result};

/// The most drivers [`set_drivers`] accepts.
///
/// A driver pays off per core it keeps busy, and [`Drivers::PerCore`] is
/// the most a program needs; each costs a thread (its stack reserved) and
/// an epoll with its fds, all made at the first start. 1,024 is more than
/// the cores of any machine procrun serves, yet a pool that size stays a
/// few thousand fds and threads; a count beyond it is a mistake (such as
/// `NonZeroUsize::MAX`), refused with [`Error::TooManyDrivers`] rather
/// than left to fail in the first start.
pub const MAX_DRIVERS: usize = 1024;

/// How many driver threads serve the handle API ([`Process`](super::Process),
/// [`read`](super::read), the runners); see [`set_drivers`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Drivers {
    /// One per core the program may use
    /// ([`std::thread::available_parallelism`], 1 if unknown), at most
    /// [`MAX_DRIVERS`].
    PerCore,
    /// Exactly this many; [`set_drivers`] refuses more than
    /// [`MAX_DRIVERS`].
    Count(NonZeroUsize),
}

impl Default for Drivers {
    /// One driver: one thread serves every process.
    fn default() -> Drivers {
        Drivers::Count(NonZeroUsize::MIN)
    }
}

impl Drivers {
    /// The number of threads this means on this machine (a
    /// [`Count`](Drivers::Count) as given, even beyond [`MAX_DRIVERS`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use procrun::Drivers;
    ///
    /// assert_eq!(Drivers::default().count().get(), 1);
    /// assert_eq!(Drivers::Count(NonZeroUsize::new(3).unwrap()).count().get(), 3);
    /// assert!(Drivers::PerCore.count().get() >= 1);
    /// ```
    pub fn count(self) -> NonZeroUsize {
        match self {
            // Capped, so that asking for one per core is never refused,
            // however many cores the host has.
            Drivers::PerCore => std::thread::available_parallelism()
                .unwrap_or(NonZeroUsize::MIN)
                .min(NonZeroUsize::new(MAX_DRIVERS).unwrap_or(NonZeroUsize::MIN)),
            Drivers::Count(n) => n,
        }
    }
}

/// Sets how many driver threads serve the handle API. Call it before the
/// first [`Process`](super::Process) starts: the pool is made then, with
/// every driver, and keeps its size for the life of the program.
///
/// Without a call the pool has one driver, which supervises thousands of
/// children on one core; more pay off when their output or their spawns
/// keep that core busy. Each process runs on the driver with the fewest
/// live processes when it starts, and stays there.
///
/// # Errors
///
/// [`Error::TooManyDrivers`] for more than [`MAX_DRIVERS`], and
/// [`Error::DriversStarted`] when the pool already runs with another size:
/// nothing changes either way (asking for the size it has is `Ok`).
///
/// A driver that cannot be started when the pool is made (no thread or no
/// fd left: `EAGAIN`, `EMFILE`) is not an error here: the
/// [`Process::start`](super::Process::start) that needs it returns the OS
/// error, and a later start tries again.
///
/// # Examples
///
/// ```
/// use procrun::{set_drivers, Drivers, Error, Process};
///
/// set_drivers(Drivers::PerCore)?;
/// let p = Process::builder().command(["true"]).build()?;
/// p.start()?;
/// assert!(p.wait()?.success());
/// // Fixed once a process has started.
/// set_drivers(Drivers::PerCore)?;
/// if Drivers::PerCore.count().get() != 1 {
///     assert!(matches!(set_drivers(Drivers::default()), Err(Error::DriversStarted { .. })));
/// }
/// # Ok::<(), procrun::Error>(())
/// ```
pub fn set_drivers(drivers: Drivers) -> Result<()> {
    let n = checked_count(drivers)?;
    let mut chosen = chosen();
    // Under the lock the pool is made with, so a pool being made now
    // either took this size or is seen here.
    if let Some(pool) = POOL.get() {
        let running = pool.slots.len();
        return if running == n {
            Ok(())
        } else {
            Err(Error::DriversStarted { running })
        };
    }
    *chosen = Some(n);
    Ok(())
}

/// The size `drivers` means, if the pool may have it.
fn checked_count(drivers: Drivers) -> Result<usize> {
    let n = drivers.count().get();
    if n > MAX_DRIVERS {
        return Err(Error::TooManyDrivers {
            asked: n,
            max: MAX_DRIVERS,
        });
    }
    Ok(n)
}

static POOL: OnceLock<Pool> = OnceLock::new();
/// The size [`set_drivers`] asked for; the pool is made under this lock.
static CHOSEN: Mutex<Option<usize>> = Mutex::new(None);

fn chosen() -> MutexGuard<'static, Option<usize>> {
    CHOSEN.lock().unwrap_or_else(|p| p.into_inner())
}

struct Pool {
    slots: Box<[Slot]>,
    /// Where the search for the least loaded slot starts, turning with each
    /// start: processes that start one after another, each done before the
    /// next, are spread too, instead of all landing on the first slot.
    next: AtomicUsize,
}

struct Slot {
    driver: Mutex<Option<Driver>>,
    /// Processes placed here and not done: raised by the caller before its
    /// start is queued (so concurrent starts see each other), lowered by
    /// the driver when it lets go of the process. Kept across a driver's
    /// replacement: the dead one lowers it for what it held.
    live: Arc<AtomicUsize>,
}

fn pool() -> &'static Pool {
    if let Some(p) = POOL.get() {
        return p;
    }
    let chosen = chosen();
    POOL.get_or_init(|| Pool::new(chosen.unwrap_or(1)))
}

impl Pool {
    fn new(n: usize) -> Pool {
        let slots: Box<[Slot]> = (0..n)
            .map(|_| Slot {
                driver: Mutex::new(None),
                live: Arc::new(AtomicUsize::new(0)),
            })
            .collect();
        // Every driver at once, so the threads and fds of the handle API
        // are all there after the first start; one that fails to start
        // is tried again when its slot is picked.
        for (i, s) in slots.iter().enumerate() {
            let _ = s.get(i);
        }
        Pool {
            slots,
            next: AtomicUsize::new(0),
        }
    }

    /// The slot with the fewest live processes and its driver.
    fn pick(&self) -> Result<(usize, Driver)> {
        let n = self.slots.len();
        let first = if n == 1 {
            0
        } else {
            self.next.fetch_add(1, Ordering::Relaxed) % n
        };
        let i = (0..n)
            .map(|k| (first + k) % n)
            .min_by_key(|&i| self.slots[i].live.load(Ordering::Relaxed))
            .unwrap_or(0);
        Ok((i, self.slots[i].get(i)?))
    }
}

impl Slot {
    fn get(&self, index: usize) -> Result<Driver> {
        let mut d = self.driver.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = d.as_ref().filter(|d| !d.is_gone()) {
            return Ok(d.clone());
        }
        let new = Driver::start(index, self.live.clone())?;
        *d = Some(new.clone());
        Ok(new)
    }
}

/// The driver a new process should run on: the one with the fewest live
/// processes, started (again) if need be.
///
/// # Errors
///
/// The OS error of a driver that could not be started (its epoll, waker or
/// thread).
pub(crate) fn pick() -> Result<Driver> {
    Ok(pool().pick()?.1)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use std::sync::Arc;

    use super::super::driver::Cmd;
    use super::super::shared::Shared;
    use super::*;
    use crate::command::Command;
    use crate::error::Error;
    use crate::process::Process;

    #[test]
    fn checked_count_refuses_more_than_max_drivers() {
        let count = |n| Drivers::Count(NonZeroUsize::new(n).unwrap());
        for n in [usize::MAX, MAX_DRIVERS + 1] {
            assert!(matches!(
                checked_count(count(n)),
                Err(Error::TooManyDrivers { asked, max: MAX_DRIVERS }) if asked == n
            ));
        }
        assert_eq!(checked_count(count(MAX_DRIVERS)).unwrap(), MAX_DRIVERS);
        assert_eq!(checked_count(count(1)).unwrap(), 1);
        assert!(checked_count(Drivers::PerCore).unwrap() <= MAX_DRIVERS);
    }

    /// Starts `sleep 100` for a new process as `Process::start` does, on
    /// the driver `pool` picks; returns the slot, driver and process.
    fn start(pool: &Pool) -> (usize, Driver, Arc<Shared>) {
        let (i, d) = pool.pick().unwrap();
        let shared = Arc::new(Shared::new(1 << 20, std::num::NonZeroUsize::MIN));
        shared.lock().begin_start().unwrap();
        let mut cmd = Command::new("sleep");
        cmd.arg("100");
        d.start_child(shared.clone(), Arc::new(cmd.prepare().unwrap()))
            .unwrap();
        let st = shared.lock();
        shared.wait_started(st).take_answer().unwrap();
        (i, d, shared)
    }

    fn done(shared: &Shared) -> bool {
        let st = shared.lock();
        shared.wait_done(st).is_driver_gone()
    }

    /// Every wait here would block forever on a driver that died without a
    /// word, or on one that died for another's sake; the watchdog turns
    /// such a hang into a failure.
    #[test]
    fn a_dead_driver_fails_only_its_own_processes_and_its_slot_gets_a_new_one() {
        let (tx, rx) = mpsc::channel();
        let body = std::thread::spawn(move || {
            let pool = Pool::new(2);
            let (ia, da, a) = start(&pool);
            // Counted as soon as it was queued: the next start goes to the
            // other, empty driver.
            let (ib, db, b) = start(&pool);
            assert_ne!(ia, ib);
            let live = |i: usize| pool.slots[i].live.load(Ordering::Relaxed);
            assert_eq!((live(ia), live(ib)), (1, 1));

            da.send(Cmd::Panic);
            assert!(done(&a), "the dead driver's process is marked so");
            assert_eq!(live(ia), 0);
            assert!(da.is_gone() && !db.is_gone());
            assert!(!b.lock().is_done(), "the other driver's child runs on");

            // The dead slot is the least loaded, and gets a new driver.
            let (ic, dc, c) = start(&pool);
            assert_eq!(ic, ia);
            assert!(!dc.is_gone());
            for (d, s) in [(&db, &b), (&dc, &c)] {
                let id = s.lock().id().unwrap();
                d.send(Cmd::Stop(id));
                assert!(!done(s), "stopped by its own driver");
                assert!(s.lock().exits().last().unwrap().stopped());
            }
            assert_eq!((live(ia), live(ib)), (0, 0));
            tx.send(()).unwrap();
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(()) => body.join().unwrap(),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::panic::resume_unwind(body.join().unwrap_err())
            }
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("watchdog: blocked on a driver"),
        }
    }

    /// The parent pid of `pid` from /proc, or `None` once it is gone.
    fn ppid(pid: u32) -> Option<u32> {
        crate::procfs::Procfs::with_root("/proc")
            .process(pid)
            .ok()?
            .ppid()
    }

    /// Every step here would block forever on a driver that died without
    /// a word; the watchdog turns such a hang into a failure.
    #[test]
    fn a_dead_driver_fails_its_callers_reaps_its_children_and_is_replaced() {
        let (tx, rx) = mpsc::channel();
        let body = std::thread::spawn(move || {
            let p = Arc::new(
                Process::builder()
                    .command(["sleep", "100"])
                    .build()
                    .unwrap(),
            );
            p.start().unwrap();
            let pid = p.pid().unwrap();
            let old = pick().unwrap();
            let waiter = {
                let p = p.clone();
                std::thread::spawn(move || p.wait())
            };
            // A start the dying driver took but never served, queued behind
            // the panic in one batch so it is not refused at the door.
            let queued = Arc::new(Shared::new(1, std::num::NonZeroUsize::MIN));
            queued.lock().begin_start().unwrap();
            old.send_batch([
                Cmd::Panic,
                Cmd::Start(
                    queued.clone(),
                    Arc::new(crate::command::Command::new("true").prepare().unwrap()),
                ),
            ]);

            assert!(matches!(waiter.join().unwrap(), Err(Error::DriverGone)));
            assert_ne!(ppid(pid), Some(std::process::id()), "child left unreaped");
            let st = queued.lock();
            let mut st = queued.wait_started(st);
            assert!(matches!(st.take_answer(), Err(Error::DriverGone)));
            drop(st);
            assert!(old.is_gone());
            assert!(matches!(
                old.start_child(
                    queued.clone(),
                    Arc::new(crate::command::Command::new("true").prepare().unwrap())
                ),
                Err(Error::DriverGone)
            ));
            assert!(matches!(p.try_wait(), Err(Error::DriverGone)));
            assert!(matches!(
                p.exits().next_timeout(Duration::ZERO),
                Err(Error::DriverGone)
            ));
            assert!(p.stdout().unwrap().next_line_blocking().is_none());
            p.close().unwrap();

            let q = Process::builder().command(["true"]).build().unwrap();
            q.start().unwrap();
            assert!(q.wait().unwrap().success());
            assert!(!pick().unwrap().same_as(&old));
            tx.send(()).unwrap();
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(()) => body.join().unwrap(),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::panic::resume_unwind(body.join().unwrap_err())
            }
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("watchdog: blocked on a dead driver"),
        }
    }
}
