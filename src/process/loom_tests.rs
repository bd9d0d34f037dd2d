//! The handle API's lifecycle under a model checker: the handles' own code
//! ([`Handle`], the stdin writer's and the readers' loops) and the
//! driver's own transitions ([`serve_start`], [`deliver`], [`let_go`],
//! [`run_is_current`]), with a stand-in for the reactor, on every
//! interleaving `loom` explores of the threads involved.
//!
//! The stand-in serves the driver's commands as the driver thread does,
//! and plays a child that follows a [`Behaviour`]: its runs start, write
//! lines (a full buffer pauses them, and a pause holds back their output
//! and their exit), exit alone or when stopped, and restart; a stdin
//! stream per run, which the first run may never read. It logs what it
//! did, and the tests check the promises of the handle API against it:
//! every close returns after the reap and nothing a closed handle asked
//! for starts later; waits see the final exit and only it; a stdin
//! writer never writes into, nor closes, another run's stream; a dying
//! driver ends every wait and start.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test --lib --release process::loom_tests -- --nocapture
//! ```
//!
//! Each test prints how many interleavings it explored; without
//! `LOOM_MAX_PREEMPTIONS` the bound is 2.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};
use std::time::{Duration, Instant};

use super::driver::{deliver, let_go, release, run_is_current, serve_start, Procs};
use super::handle::reader_gone;
use super::handle::Handle;
use super::seam::Seam;
use super::shared::Shared;
use super::stdin;
use super::stream::{next_line, Exits};
use super::sync::{lock, thread, Arc, Condvar, Mutex};
use crate::child::{ChildId, Stream};
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::reactor::Event;
use crate::signal::Signal;

/// How the stand-in's child behaves.
#[derive(Clone, Copy, Debug)]
struct Behaviour {
    /// Runs in all: the first and its restarts.
    runs: usize,
    /// Each run exits by itself once its lines are out; otherwise only a
    /// stop ends it.
    exits_alone: bool,
    /// Whole lines each run writes.
    lines: usize,
    /// Each run has a stdin stream.
    stdin: bool,
    /// The first run never reads its stdin: its queue stays full.
    first_stdin_full: bool,
    /// The spawn fails (as for a program not found).
    spawn_fails: bool,
    /// Each run exits once its stdin stream is closed, as `cat` does.
    exits_on_eof: bool,
}

impl Behaviour {
    /// A child that runs until stopped, as `sleep` does.
    fn sleeper() -> Behaviour {
        Behaviour {
            runs: 1,
            exits_alone: false,
            lines: 0,
            stdin: false,
            first_stdin_full: false,
            spawn_fails: false,
            exits_on_eof: false,
        }
    }
}

/// What the stand-in did.
#[derive(Debug, Default)]
struct Log {
    /// Runs spawned (starts and restarts) and runs reaped, of all the
    /// stand-in's children.
    spawned: usize,
    reaped: usize,
    /// The same, for each child.
    runs: HashMap<ChildId, (usize, usize)>,
    /// For each write taken: the writer's run, and the run it went to.
    writes: Vec<(usize, usize)>,
    /// For each stdin stream a writer's drop closed: the same.
    stdin_closes: Vec<(usize, usize)>,
    /// Lines the children wrote, of all runs.
    lines_written: usize,
}

/// What the script file of [`Process`](super::Process) is to a start:
/// made by it, dropped by a failed start and by the close.
#[derive(Debug, Default)]
struct Made(bool);

type TestHandle = Handle<StandIn, Made>;

/// An answer a handle waits for, answered [`Error::DriverGone`] if the
/// stand-in drops it unanswered (as a dropped sender is for the driver).
struct Reply<T>(Arc<Slot<T>>);

struct Slot<T> {
    value: Mutex<Option<Result<T>>>,
    cv: Condvar,
}

impl<T> Reply<T> {
    fn send(self, r: Result<T>) {
        *lock(&self.0.value) = Some(r);
        self.0.cv.notify_all();
    }
}

impl<T> Drop for Reply<T> {
    fn drop(&mut self) {
        let mut v = lock(&self.0.value);
        if v.is_none() {
            *v = Some(Err(Error::DriverGone));
            self.0.cv.notify_all();
        }
    }
}

enum Cmd {
    Start(Arc<Shared>),
    Stop(ChildId),
    Resume(ChildId),
    Signal(Reply<()>),
    WriteStdin(ChildId, usize, usize, Reply<usize>),
    CloseStdin(ChildId, usize),
    /// Dies as the driver thread does when its loop panics.
    Die,
    /// Ends the stand-in (the test is over).
    Quit,
}

#[derive(Default)]
struct Queue {
    cmds: VecDeque<Cmd>,
    gone: bool,
}

struct Desk {
    queue: Mutex<Queue>,
    cv: Condvar,
    log: Mutex<Log>,
    /// The slot's count of live processes, as the pool keeps it.
    live: StdAtomicUsize,
    behaviour: Behaviour,
}

/// The driver stand-in, as handles hold it.
#[derive(Clone)]
struct StandIn(Arc<Desk>);

impl StandIn {
    fn new(behaviour: Behaviour) -> StandIn {
        StandIn(Arc::new(Desk {
            queue: Mutex::new(Queue::default()),
            cv: Condvar::new(),
            log: Mutex::new(Log::default()),
            live: StdAtomicUsize::new(0),
            behaviour,
        }))
    }

    fn push(&self, cmd: Cmd) -> Result<()> {
        let mut q = lock(&self.0.queue);
        if q.gone {
            return Err(Error::DriverGone);
        }
        q.cmds.push_back(cmd);
        self.0.cv.notify_all();
        Ok(())
    }

    fn ask<T>(&self, cmd: impl FnOnce(Reply<T>) -> Cmd) -> Result<T> {
        let slot = Arc::new(Slot {
            value: Mutex::new(None),
            cv: Condvar::new(),
        });
        self.push(cmd(Reply(slot.clone())))?;
        let mut v = lock(&slot.value);
        loop {
            if let Some(r) = v.take() {
                return r;
            }
            v = slot.cv.wait(v).unwrap();
        }
    }

    /// Counts a run of `id` spawned (or, with `reaped`, reaped).
    fn count(&self, id: ChildId, reaped: bool) {
        let mut log = lock(&self.0.log);
        let n = log.runs.entry(id).or_default();
        if reaped {
            n.1 += 1;
            log.reaped += 1;
        } else {
            n.0 += 1;
            log.spawned += 1;
        }
    }

    fn live(&self) -> usize {
        self.0.live.load(StdOrdering::Relaxed)
    }
}

impl Seam for StandIn {
    type Job = ();

    fn start(&self, shared: Arc<Shared>, (): ()) -> Result<()> {
        // Counted before it is queued, as the driver does.
        self.0.live.fetch_add(1, StdOrdering::Relaxed);
        let r = self.push(Cmd::Start(shared));
        if r.is_err() {
            release(&self.0.live);
        }
        r
    }

    fn stop(&self, id: ChildId) {
        let _ = self.push(Cmd::Stop(id));
    }

    fn resume(&self, id: ChildId) {
        let _ = self.push(Cmd::Resume(id));
    }

    fn signal(&self, _id: ChildId, _sig: Signal) -> Result<()> {
        self.ask(Cmd::Signal)
    }

    fn write_stdin(&self, id: ChildId, run: usize, bytes: Vec<u8>) -> Result<usize> {
        self.ask(|r| Cmd::WriteStdin(id, run, bytes.len(), r))
    }

    fn close_stdin(&self, id: ChildId, run: usize) {
        let _ = self.push(Cmd::CloseStdin(id, run));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Spawned: its `Started` comes next.
    Spawned,
    Running,
    /// Exited, a restart to come.
    Restarting,
}

/// The stand-in's child: the reactor's view of it.
struct Kid {
    id: ChildId,
    run: usize,
    step: Step,
    lines_left: usize,
    stopping: bool,
    paused: bool,
    stdin_open: bool,
    stdin_full: bool,
}

#[derive(Clone, Copy, Debug)]
enum Action {
    Started,
    Write,
    Exit,
    Restart,
}

impl Kid {
    fn next(&self, b: &Behaviour) -> Option<Action> {
        match self.step {
            Step::Spawned => Some(Action::Started),
            // A stop cancels a restart (see `Cmd::Stop`).
            Step::Restarting => Some(Action::Restart),
            // A pause holds back the output and the exit.
            Step::Running if self.paused => None,
            Step::Running if self.lines_left > 0 => Some(Action::Write),
            Step::Running if b.exits_alone || self.stopping => Some(Action::Exit),
            Step::Running if b.exits_on_eof && !self.stdin_open => Some(Action::Exit),
            Step::Running => None,
        }
    }
}

fn exit(id: ChildId, run: usize, restart: bool, stopped: bool) -> Exit {
    Exit {
        id,
        pid: 100 + run as u32,
        status: ExitStatus::from_raw(0),
        stopped,
        timeout: None,
        restart_in: restart.then_some(Duration::ZERO),
        limit_reached: false,
        status_lost: false,
        restarts: run as u32,
        user_time: Duration::ZERO,
        system_time: Duration::ZERO,
        max_rss_bytes: 0,
        wall_time: Duration::ZERO,
        oom_killed: false,
        peak_memory_bytes: None,
        failed_stage: 0,
    }
}

/// The stand-in's thread: commands first, then one step of a child, as
/// the driver serves its queue between polls.
fn serve(d: StandIn) {
    let desk = &*d.0;
    let b = desk.behaviour;
    let mut procs = Procs::default();
    let mut kids: Vec<Kid> = Vec::new();
    let mut next_index = 0;
    loop {
        let cmds: Vec<Cmd> = {
            let mut q = lock(&desk.queue);
            while q.cmds.is_empty() && !kids.iter().any(|k| k.next(&b).is_some()) {
                q = desk.cv.wait(q).unwrap();
            }
            q.cmds.drain(..).collect()
        };
        let mut cmds = cmds.into_iter();
        while let Some(cmd) = cmds.next() {
            match cmd {
                Cmd::Start(shared) => {
                    let spawn = || {
                        if b.spawn_fails {
                            return Err(Error::Io(std::io::ErrorKind::NotFound.into()));
                        }
                        let id = ChildId {
                            index: next_index,
                            generation: 1,
                            reactor: 1,
                        };
                        d.count(id, false);
                        next_index += 1;
                        kids.push(Kid {
                            id,
                            run: 0,
                            step: Step::Spawned,
                            lines_left: 0,
                            stopping: false,
                            paused: false,
                            stdin_open: false,
                            stdin_full: false,
                        });
                        Ok((id, Some(100)))
                    };
                    if let Some(id) = serve_start(&mut procs, &shared, &desk.live, spawn) {
                        stop(&mut kids, &mut procs, desk, id);
                    }
                }
                Cmd::Stop(id) => stop(&mut kids, &mut procs, desk, id),
                Cmd::Resume(id) => {
                    if let Some(k) = kids.iter_mut().find(|k| k.id == id) {
                        k.paused = false;
                    }
                }
                Cmd::Signal(reply) => reply.send(Ok(())),
                Cmd::WriteStdin(id, run, len, reply) => {
                    let r = if run_is_current(&procs, id, run) {
                        match kids.iter().find(|k| k.id == id) {
                            // Done, as the reactor has it: its stream is closed.
                            None => Err(Error::Io(std::io::ErrorKind::BrokenPipe.into())),
                            Some(k) if !k.stdin_open => {
                                Err(Error::Io(std::io::ErrorKind::BrokenPipe.into()))
                            }
                            Some(k) if k.stdin_full => {
                                Err(Error::Io(std::io::ErrorKind::WouldBlock.into()))
                            }
                            Some(k) => {
                                lock(&desk.log).writes.push((run, k.run));
                                Ok(len)
                            }
                        }
                    } else {
                        Err(Error::Io(std::io::ErrorKind::BrokenPipe.into()))
                    };
                    reply.send(r);
                }
                Cmd::CloseStdin(id, run) => {
                    if run_is_current(&procs, id, run) {
                        if let Some(k) = kids.iter_mut().find(|k| k.id == id && k.stdin_open) {
                            k.stdin_open = false;
                            lock(&desk.log).stdin_closes.push((run, k.run));
                            let _ = deliver(
                                &mut procs,
                                &Event::StdinClosed { id, unwritten: 0 },
                                &desk.live,
                            );
                        }
                    }
                }
                Cmd::Die => {
                    let queued = {
                        let mut q = lock(&desk.queue);
                        q.gone = true;
                        std::mem::take(&mut q.cmds)
                    };
                    // The reactor's drop kills and reaps every run.
                    for k in kids.iter().filter(|k| k.step != Step::Restarting) {
                        d.count(k.id, true);
                    }
                    let starts = cmds.chain(queued).filter_map(|c| match c {
                        Cmd::Start(shared) => Some(shared),
                        _ => None,
                    });
                    let_go(procs.values(), starts, &desk.live);
                    return;
                }
                Cmd::Quit => return,
            }
        }
        let Some((i, action)) = kids
            .iter()
            .enumerate()
            .find_map(|(i, k)| k.next(&b).map(|a| (i, a)))
        else {
            continue;
        };
        let k = &mut kids[i];
        let id = k.id;
        match action {
            Action::Started => {
                k.step = Step::Running;
                k.lines_left = if k.stopping { 0 } else { b.lines };
                k.stdin_open = b.stdin;
                k.stdin_full = b.first_stdin_full && k.run == 0;
                let ev = Event::Started {
                    id,
                    pid: 100 + k.run as u32,
                    restarts: k.run as u32,
                };
                let _ = deliver(&mut procs, &ev, &desk.live);
            }
            Action::Write => {
                k.lines_left -= 1;
                lock(&desk.log).lines_written += 1;
                let ev = Event::Data {
                    id,
                    stream: Stream::Stdout,
                    bytes: b"x\n",
                };
                k.paused = deliver(&mut procs, &ev, &desk.live);
            }
            Action::Exit => {
                let restart = !k.stopping && k.run + 1 < b.runs;
                let stopped = k.stopping;
                let run = k.run;
                d.count(id, true);
                if k.stdin_open {
                    k.stdin_open = false;
                    let _ = deliver(
                        &mut procs,
                        &Event::StdinClosed { id, unwritten: 0 },
                        &desk.live,
                    );
                }
                let ev = Event::Exited(exit(id, run, restart, stopped));
                let _ = deliver(&mut procs, &ev, &desk.live);
                if restart {
                    kids[i].step = Step::Restarting;
                } else {
                    kids.remove(i);
                    let ev = Event::Done {
                        id,
                        restart_cancelled: false,
                        timed_out: false,
                        exit: exit(id, run, restart, stopped),
                    };
                    let _ = deliver(&mut procs, &ev, &desk.live);
                }
            }
            Action::Restart => {
                d.count(id, false);
                k.run += 1;
                k.step = Step::Spawned;
            }
        }
    }
}

/// A stop, as the reactor takes it: a run ends (its exit held back while
/// paused), a pending restart is cancelled.
fn stop(kids: &mut Vec<Kid>, procs: &mut Procs, desk: &Desk, id: ChildId) {
    let Some(i) = kids.iter().position(|k| k.id == id) else {
        return;
    };
    if kids[i].step == Step::Restarting {
        // The final exit: the last run's, its restart cancelled by the stop.
        let ev = Event::Done {
            id,
            restart_cancelled: true,
            timed_out: false,
            exit: exit(id, kids[i].run, false, true),
        };
        kids.remove(i);
        let _ = deliver(procs, &ev, &desk.live);
        return;
    }
    kids[i].stopping = true;
    kids[i].lines_left = 0;
}

/// A handle on a process served by `d`, which the stand-in thread serves.
struct World {
    handle: Arc<TestHandle>,
    driver: StandIn,
    thread: thread::JoinHandle<()>,
}

impl World {
    fn new(behaviour: Behaviour, cap: usize) -> World {
        let driver = StandIn::new(behaviour);
        let thread = {
            let d = driver.clone();
            thread::spawn(move || serve(d))
        };
        World {
            handle: new_handle(cap),
            driver,
            thread,
        }
    }

    fn parts(&self) -> (Arc<TestHandle>, StandIn) {
        (self.handle.clone(), self.driver.clone())
    }

    /// Ends the stand-in; returns its log.
    fn quit(self) -> Log {
        let _ = self.driver.push(Cmd::Quit);
        self.thread.join().unwrap();
        std::mem::take(&mut *lock(&self.driver.0.log))
    }
}

fn new_handle(cap: usize) -> Arc<TestHandle> {
    let max_line = NonZeroUsize::new(16).unwrap();
    Arc::new(Handle::new(Arc::new(Shared::new(cap, max_line))))
}

/// Starts as [`Process::start`](super::Process::start) does: a script
/// made, the driver picked, the start queued and its answer awaited.
fn start(h: &TestHandle, d: &StandIn) -> Result<()> {
    h.start(
        |made| {
            made.0 = true;
            Ok(())
        },
        || Ok(d.clone()),
    )
}

/// Asserts that every run of the child of `h` was reaped: what a close
/// promises when it returns. (A handle whose start was answered without
/// a child has none: the tests check at their end that nothing was
/// spawned after.)
fn assert_reaped(h: &TestHandle, d: &StandIn, what: &str) {
    let Some(id) = h.shared.lock().id() else {
        return;
    };
    let (spawned, reaped) = lock(&d.0.log).runs.get(&id).copied().unwrap_or_default();
    assert_eq!(spawned, reaped, "{what}: a run left unreaped");
}

/// Explores every interleaving of `f` within the preemption bound, and
/// says how many there were.
fn explore(name: &str, f: impl Fn() + Sync + Send + 'static) {
    let count = std::sync::Arc::new(StdAtomicUsize::new(0));
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    let bound = builder.preemption_bound;
    let counted = count.clone();
    let began = Instant::now();
    builder.check(move || {
        counted.fetch_add(1, StdOrdering::Relaxed);
        f();
    });
    println!(
        "loom: {name}: {} interleavings explored (preemption bound {}) in {:.1?}",
        count.load(StdOrdering::Relaxed),
        bound.map_or("none".to_string(), |b| b.to_string()),
        began.elapsed()
    );
}

#[test]
fn close_racing_start_returns_after_the_reap_and_nothing_starts_later() {
    explore("close racing start", || {
        let w = World::new(Behaviour::sleeper(), usize::MAX);
        let starter = {
            let (h, d) = w.parts();
            thread::spawn(move || start(&h, &d))
        };
        let closer = {
            let (h, d) = w.parts();
            thread::spawn(move || {
                let r = h.close();
                assert_reaped(&h, &d, "close racing start");
                r
            })
        };
        let started = starter.join().unwrap();
        closer.join().unwrap().unwrap();
        assert!(
            matches!(started, Ok(()) | Err(Error::Aborted)),
            "{started:?}"
        );
        assert!(matches!(start(&w.handle, &w.driver), Err(Error::Aborted)));
        assert!(!w.handle.res().0, "a script left after the close");
        let live = w.driver.clone();
        let log = w.quit();
        assert_eq!(log.spawned, log.reaped, "spawned after the close returned");
        assert_eq!(live.live(), 0, "a process the slot still counts");
    });
}

#[test]
fn a_failing_start_against_a_close_and_a_wait_is_undone() {
    let b = Behaviour {
        spawn_fails: true,
        ..Behaviour::sleeper()
    };
    explore("a failing start against a close and a wait", move || {
        let w = World::new(b, usize::MAX);
        let starter = {
            let (h, d) = w.parts();
            thread::spawn(move || start(&h, &d))
        };
        let closer = {
            let (h, _) = w.parts();
            thread::spawn(move || h.close())
        };
        let waiter = {
            let (h, _) = w.parts();
            thread::spawn(move || h.wait_final(None))
        };
        let started = starter.join().unwrap();
        assert!(
            matches!(started, Err(Error::Io(_) | Error::Aborted)),
            "{started:?}"
        );
        closer.join().unwrap().unwrap();
        let waited = waiter.join().unwrap();
        assert!(matches!(waited, Err(Error::NotStarted)), "{waited:?}");
        assert!(
            !w.handle.shared.lock().started(),
            "a failed start not undone"
        );
        assert!(!w.handle.res().0, "a failed start's script left");
        assert!(matches!(start(&w.handle, &w.driver), Err(Error::Aborted)));
        let live = w.driver.clone();
        let log = w.quit();
        assert_eq!(log.spawned, 0);
        assert_eq!(live.live(), 0, "a process the slot still counts");
    });
}

#[test]
fn concurrent_closes_each_return_after_the_reap() {
    explore("two closes", || {
        let w = World::new(Behaviour::sleeper(), usize::MAX);
        start(&w.handle, &w.driver).unwrap();
        let closers: Vec<_> = (0..2)
            .map(|_| {
                let (h, d) = w.parts();
                thread::spawn(move || {
                    h.close().unwrap();
                    assert_reaped(&h, &d, "a close");
                    assert!(h.shared.lock().is_done());
                })
            })
            .collect();
        for c in closers {
            c.join().unwrap();
        }
        let exit = w.handle.wait_final(None).unwrap().unwrap();
        assert!(exit.stopped());
        w.quit();
    });
}

#[test]
fn waits_see_the_final_exit_and_only_it() {
    let b = Behaviour {
        runs: 2,
        exits_alone: true,
        ..Behaviour::sleeper()
    };
    explore(
        "wait, try_wait and the exits against the driver",
        move || {
            let w = World::new(b, usize::MAX);
            start(&w.handle, &w.driver).unwrap();
            let waiter = {
                let (h, _) = w.parts();
                thread::spawn(move || h.wait_final(None))
            };
            let try_waiter = {
                let (h, _) = w.parts();
                thread::spawn(move || h.wait_final(Some(Instant::now())))
            };
            let cursor = {
                let (h, _) = w.parts();
                thread::spawn(move || {
                    let exits = Exits {
                        shared: h.shared.clone(),
                        next: 0,
                    };
                    exits.map(|e| e.restarts()).collect::<Vec<_>>()
                })
            };
            let last = waiter.join().unwrap().unwrap().expect("a final exit");
            assert_eq!(last.restarts(), 1);
            // Reaped for good: no pid to signal by.
            assert_eq!(w.handle.shared.lock().pid(), None);
            assert_eq!(last.restart_in(), None);
            if let Some(e) = try_waiter.join().unwrap().unwrap() {
                assert_eq!(e.restarts(), 1, "try_wait saw a run that was not the last");
                assert_eq!(e.restart_in(), None);
            }
            assert_eq!(cursor.join().unwrap(), [0, 1]);
            w.quit();
        },
    );
}

#[test]
fn a_stdin_writer_never_reaches_another_runs_stream() {
    let b = Behaviour {
        runs: 2,
        exits_alone: true,
        stdin: true,
        first_stdin_full: true,
        ..Behaviour::sleeper()
    };
    explore("stdin writers across a restart", move || {
        let w = World::new(b, usize::MAX);
        start(&w.handle, &w.driver).unwrap();
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let (h, _) = w.parts();
                thread::spawn(move || {
                    let (d, id, run) = match h.stdin() {
                        Ok(w) => w,
                        // The other writer took this run's.
                        Err(Error::NoStdin) => return None,
                        Err(e) => panic!("stdin: {e}"),
                    };
                    match stdin::write(&h.shared, &d, id, run, b"x") {
                        Ok(1) => assert_eq!(run, 1, "the first run reads nothing"),
                        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                        r => panic!("write: {r:?}"),
                    }
                    // The writer's drop.
                    d.close_stdin(id, run);
                    Some(run)
                })
            })
            .collect();
        let runs: Vec<_> = writers.into_iter().map(|t| t.join().unwrap()).collect();
        if let [Some(a), Some(b)] = runs[..] {
            assert_ne!(a, b, "two writers for one run");
        }
        assert_eq!(w.handle.wait_final(None).unwrap().unwrap().restarts(), 1);
        let log = w.quit();
        for (writer, run) in log.writes.iter().chain(&log.stdin_closes) {
            assert_eq!(writer, run, "{log:?}");
        }
    });
}

#[test]
fn a_wait_closes_each_runs_untaken_stdin_and_no_taken_one() {
    let b = Behaviour {
        runs: 2,
        stdin: true,
        exits_on_eof: true,
        ..Behaviour::sleeper()
    };
    explore("a wait closing stdin against a writer", move || {
        let w = World::new(b, usize::MAX);
        start(&w.handle, &w.driver).unwrap();
        let waiter = {
            let (h, _) = w.parts();
            thread::spawn(move || h.wait_closing_stdin())
        };
        // A writer taken by the caller, at any point against the wait: a
        // run's stream is closed once, by the wait or by the writer's drop.
        let writer = {
            let (h, _) = w.parts();
            thread::spawn(move || match h.stdin() {
                Ok((d, id, run)) => {
                    d.close_stdin(id, run);
                    Some(run)
                }
                Err(Error::NoStdin) => None,
                Err(e) => panic!("stdin: {e}"),
            })
        };
        let exit = waiter.join().unwrap().unwrap().expect("a final exit");
        assert_eq!(exit.restarts(), 1);
        writer.join().unwrap();
        let log = w.quit();
        assert_eq!(log.stdin_closes.len(), 2, "{log:?}");
        for (closer, run) in &log.stdin_closes {
            assert_eq!(closer, run, "{log:?}");
        }
    });
}

#[test]
fn a_dying_driver_ends_a_wait_and_a_start() {
    explore("the driver dying against a waiter and a start", || {
        let w = World::new(Behaviour::sleeper(), usize::MAX);
        start(&w.handle, &w.driver).unwrap();
        let waiter = {
            let (h, _) = w.parts();
            thread::spawn(move || h.wait_final(None))
        };
        let other = new_handle(usize::MAX);
        let starter = {
            let (h, d) = (other.clone(), w.driver.clone());
            thread::spawn(move || start(&h, &d))
        };
        w.driver.push(Cmd::Die).unwrap();
        assert!(matches!(waiter.join().unwrap(), Err(Error::DriverGone)));
        match starter.join().unwrap() {
            // Served before the driver died: its child died with it.
            Ok(()) => assert!(matches!(other.wait_final(None), Err(Error::DriverGone))),
            // Refused at the door, or answered by the dying driver.
            Err(Error::DriverGone) => {
                assert!(!other.shared.lock().started(), "a failed start not undone");
                assert!(!other.res().0, "a failed start's script left");
            }
            Err(e) => panic!("start: {e}"),
        }
        w.handle.close().unwrap();
        assert_dead(w);
    });
}

#[test]
fn a_close_returns_once_a_dying_driver_reaped_the_child() {
    explore("the driver dying against a close", || {
        let w = World::new(Behaviour::sleeper(), usize::MAX);
        start(&w.handle, &w.driver).unwrap();
        let closer = {
            let (h, d) = w.parts();
            thread::spawn(move || {
                h.close().unwrap();
                assert_reaped(&h, &d, "a close as the driver died");
            })
        };
        w.driver.push(Cmd::Die).unwrap();
        closer.join().unwrap();
        match w.handle.wait_final(None) {
            // The close's stop came first.
            Ok(Some(exit)) => assert!(exit.stopped()),
            r => assert!(matches!(r, Err(Error::DriverGone)), "{r:?}"),
        }
        assert_dead(w);
    });
}

/// Joins the stand-in, which died; asserts that it left no run unreaped
/// and no process counted.
fn assert_dead(w: World) {
    let d = w.driver.clone();
    w.thread.join().unwrap();
    let log = lock(&d.0.log);
    assert_eq!(log.spawned, log.reaped, "the dead driver left a run");
    assert_eq!(d.live(), 0, "a process the slot still counts");
}

#[test]
fn a_close_ends_a_paused_child_while_it_is_read() {
    let b = Behaviour {
        exits_alone: true,
        lines: 2,
        ..Behaviour::sleeper()
    };
    explore("close of a paused child against a reader", move || {
        // One line fills the buffer: the child pauses at once.
        let w = World::new(b, 1);
        start(&w.handle, &w.driver).unwrap();
        let reader = {
            let (h, _) = w.parts();
            thread::spawn(move || {
                if h.check_readable().is_ok() {
                    let d = h.driver_slot();
                    while next_line(&h.shared, &d, [true, true], false).is_some() {}
                }
            })
        };
        let closer = {
            let (h, d) = w.parts();
            thread::spawn(move || {
                h.close().unwrap();
                assert_reaped(&h, &d, "close of a paused child");
            })
        };
        reader.join().unwrap();
        closer.join().unwrap();
        w.quit();
    });
}

#[test]
fn a_reader_made_while_the_start_is_under_way_resumes_the_child() {
    let b = Behaviour {
        exits_alone: true,
        lines: 2,
        ..Behaviour::sleeper()
    };
    explore("a reader made during the start", move || {
        let w = World::new(b, 1);
        let starter = {
            let (h, d) = w.parts();
            thread::spawn(move || start(&h, &d))
        };
        let reader = {
            let (h, _) = w.parts();
            thread::spawn(move || {
                h.check_readable().ok()?;
                let d = h.driver_slot();
                let mut n = 0;
                while next_line(&h.shared, &d, [true, true], false).is_some() {
                    n += 1;
                }
                Some(n)
            })
        };
        starter.join().unwrap().unwrap();
        let read = match reader.join().unwrap() {
            Some(n) => n,
            // Too early: not started yet. Read here instead, so that the
            // paused child ends.
            None => {
                w.handle.check_readable().unwrap();
                let d = w.handle.driver_slot();
                let mut n = 0;
                while next_line(&w.handle.shared, &d, [true, true], false).is_some() {
                    n += 1;
                }
                n
            }
        };
        assert_eq!(read, 2);
        assert!(w.handle.wait_final(None).unwrap().is_some());
        w.quit();
    });
}

#[test]
fn a_drop_leaves_a_reader_taken_before_every_line_the_child_wrote() {
    let b = Behaviour {
        exits_alone: true,
        lines: 2,
        ..Behaviour::sleeper()
    };
    explore("a drop against a reader taken before it", move || {
        // One line fills the buffer: the child pauses at once, and only
        // the reader resumes it once the process is dropped.
        let w = World::new(b, 1);
        start(&w.handle, &w.driver).unwrap();
        w.handle.take_reader(true).unwrap();
        let reader = {
            let (h, _) = w.parts();
            thread::spawn(move || {
                let d = h.driver_slot();
                let mut n = 0;
                while next_line(&h.shared, &d, [true, true], false).is_some() {
                    n += 1;
                }
                reader_gone(&h.shared, &d);
                n
            })
        };
        let dropper = {
            let (h, _) = w.parts();
            thread::spawn(move || h.abandon())
        };
        dropper.join().unwrap();
        let read = reader.join().unwrap();
        assert!(w.handle.wait_final(None).unwrap().is_some());
        let log = w.quit();
        assert_eq!(read, log.lines_written, "a line written was lost");
        assert_eq!(log.spawned, log.reaped);
    });
}

#[test]
fn a_drop_ends_a_paused_child_whose_reader_goes_unread() {
    let b = Behaviour {
        exits_alone: true,
        lines: 2,
        ..Behaviour::sleeper()
    };
    explore("a drop against a reader going unread", move || {
        let w = World::new(b, 1);
        start(&w.handle, &w.driver).unwrap();
        w.handle.take_reader(true).unwrap();
        let reader = {
            let (h, _) = w.parts();
            thread::spawn(move || reader_gone(&h.shared, &h.driver_slot()))
        };
        let dropper = {
            let (h, _) = w.parts();
            thread::spawn(move || h.abandon())
        };
        reader.join().unwrap();
        dropper.join().unwrap();
        // Nobody reads: the paused child must still end.
        assert!(w.handle.wait_final(None).unwrap().is_some());
        let log = w.quit();
        assert_eq!(log.spawned, log.reaped);
    });
}
