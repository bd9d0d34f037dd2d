//! The driver thread: one [`Reactor`] serving every
//! [`Process`](super::Process) of the program.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::shared::Shared;
use crate::reactor::{ChildId, Event, Reactor, Waker};
use crate::{Command, Error, Result};

pub(crate) enum Cmd {
    Start(Arc<Shared>, Box<Command>),
    Stop(ChildId),
    Resume(ChildId),
}

/// A handle to the driver thread.
#[derive(Clone)]
pub(crate) struct Driver {
    inner: Arc<Inner>,
}

struct Inner {
    queue: Mutex<Vec<Cmd>>,
    waker: Waker,
}

static GLOBAL: OnceLock<Mutex<Option<Driver>>> = OnceLock::new();

impl Driver {
    /// The process-wide driver, started on first use.
    pub(crate) fn global() -> Result<Driver> {
        let cell = GLOBAL.get_or_init(|| Mutex::new(None));
        let mut slot = cell.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = &*slot {
            return Ok(d.clone());
        }
        let d = Driver::start()?;
        *slot = Some(d.clone());
        Ok(d)
    }

    fn start() -> Result<Driver> {
        let reactor = Reactor::new()?;
        let inner = Arc::new(Inner {
            queue: Mutex::new(Vec::new()),
            waker: reactor.waker(),
        });
        let thread_inner = inner.clone();
        std::thread::Builder::new()
            .name("procrun-driver".into())
            .spawn(move || run(reactor, &thread_inner))
            .map_err(Error::Io)?;
        Ok(Driver { inner })
    }

    pub(crate) fn send(&self, cmd: Cmd) {
        self.inner
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(cmd);
        // An eventfd write cannot fail short of a broken fd; a lost wake-up
        // would only delay the command to the next event.
        let _ = self.inner.waker.wake();
    }
}

fn run(mut reactor: Reactor, inner: &Inner) {
    let mut procs: HashMap<ChildId, Arc<Shared>> = HashMap::new();
    let mut cmds = Vec::new();
    loop {
        std::mem::swap(
            &mut cmds,
            &mut *inner.queue.lock().unwrap_or_else(|p| p.into_inner()),
        );
        for cmd in cmds.drain(..) {
            match cmd {
                Cmd::Start(shared, command) => {
                    let r = reactor.spawn(&command);
                    if let Ok(id) = &r {
                        procs.insert(*id, shared.clone());
                    }
                    let mut st = shared.lock();
                    if let Ok(id) = &r {
                        // Known before start() returns, as gpud's PID() is.
                        st.pid = reactor.pid(*id);
                    }
                    st.start_result = Some(r.map(|id| st.id = Some(id)));
                    shared.notify_all_now(&st);
                }
                // A stale handle means the child is already gone: nothing
                // to stop or resume.
                Cmd::Stop(id) => drop(reactor.stop(id)),
                Cmd::Resume(id) => drop(reactor.resume(id)),
            }
        }
        let r = reactor.poll(None, |ctl, ev| {
            let id = ev.id();
            let Some(shared) = procs.get(&id) else {
                return;
            };
            let mut st = shared.lock();
            match ev {
                Event::Started { pid, .. } => st.pid = Some(pid),
                Event::Line {
                    stream,
                    line,
                    partial,
                    ..
                } => {
                    // After close nobody reads: drop output, never block.
                    if !st.closed && st.push_line(stream, line, partial) {
                        ctl.pause(id);
                    }
                }
                Event::Exited(e) => st.exits.push(e),
                Event::RestartFailed { error, .. } => st.restart_error = Some(error.to_string()),
                Event::Done { .. } => st.done = true,
                Event::Closed { .. } | Event::SignalFailed { .. } => {}
            }
            shared.notify(&st);
            if st.done {
                drop(st);
                procs.remove(&id);
            }
        });
        if let Err(e) = r {
            // epoll_wait failing is not recoverable (EBADF/EINVAL): it would
            // fail the same way in a tight loop.
            panic!("procrun driver: epoll_wait failed: {e}");
        }
    }
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Driver")
    }
}
