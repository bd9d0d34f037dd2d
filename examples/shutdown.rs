//! An agent that shuts down gracefully on its own `SIGTERM` or `SIGINT`:
//! every child gets its stop signal and its grace, the restarts stop, the
//! events still reach the agent's handler, and what is left at the
//! deadline is killed. procrun installs no signal handler: the agent
//! takes the signals itself, here with signal-hook, and wakes the reactor
//! through [`Reactor::waker`].
//!
//! The signals are taken on a thread of their own (signal-hook's
//! iterator), which sets the flag the loop reads and wakes the reactor:
//! a reactor blocked in `poll(None)` returns at once, and a signal that
//! comes just before the loop waits is not missed, as it could be if the
//! loop relied on `epoll_wait` being interrupted.
//!
//! By default one reactor runs on the main thread. With `--reactors N` the
//! host is multi-threaded: N threads each run a reactor of their own, the
//! signal lands on the signal thread, and that thread wakes every
//! reactor through its waker; each shuts its own children down.
//!
//! Each reactor supervises a worker that flushes on `SIGTERM`, a crasher
//! that the restart policy brings back until the shutdown, and three idle
//! sidecars. Run it, then press Ctrl-C (or `kill -TERM` it):
//!
//! ```text
//! cargo run --example shutdown
//! cargo run --example shutdown -- --reactors 2
//! ```

use std::collections::HashMap;
use std::error::Error;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use procrun::{ChildId, Command, Event, Reactor, Restart, Stream, Waker};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// How long the children get, all together, before what is left is
/// killed; each child's own grace applies within it.
const DEADLINE: Duration = Duration::from_secs(10);

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let reactors = match (args.next().as_deref(), args.next()) {
        (None, _) => 1,
        (Some("--reactors"), Some(n)) => n.parse()?,
        _ => return Err("usage: shutdown [--reactors N]".into()),
    };
    run(reactors)
}

/// Runs `reactors` agents (one on this thread when 1, else one thread
/// each) until `SIGTERM` or `SIGINT`, then shuts each down.
pub fn run(reactors: usize) -> Result<(), Box<dyn Error>> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut agents = Vec::new();
    let mut wakers = Vec::new();
    for n in 0..reactors.max(1) {
        let reactor = Reactor::new()?;
        wakers.push(reactor.waker());
        agents.push((n, reactor));
    }
    // Before any child starts: a signal from then on is ours to handle.
    let mut signals = Signals::new([SIGTERM, SIGINT])?;
    let flag = Arc::clone(&stop);
    thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            let name = if sig == SIGTERM { "SIGTERM" } else { "SIGINT" };
            println!("agent: got {name}, shutting down");
            flag.store(true, Ordering::SeqCst);
            wake_all(&wakers);
        }
    });

    let done = if reactors <= 1 {
        let (n, mut reactor) = agents.pop().expect("one reactor");
        agent(n, &mut reactor, &stop)?
    } else {
        let threads: Vec<_> = agents
            .into_iter()
            .map(|(n, mut reactor)| {
                let stop = Arc::clone(&stop);
                thread::spawn(move || agent(n, &mut reactor, &stop).map_err(|e| e.to_string()))
            })
            .collect();
        let mut done = 0;
        for t in threads {
            done += t.join().map_err(|_| "an agent thread panicked")??;
        }
        done
    };
    println!(
        "summary: {} reactor(s), {done} children done, none left",
        reactors.max(1)
    );
    Ok(())
}

fn wake_all(wakers: &[Waker]) {
    for w in wakers {
        // An eventfd write; it fails only if the reactor is gone.
        let _ = w.wake();
    }
}

/// One agent: starts its children, serves their events until `stop`, then
/// shuts them down; how many were done.
fn agent(n: usize, reactor: &mut Reactor, stop: &AtomicBool) -> procrun::Result<usize> {
    let mut names = HashMap::new();
    let mut worker = Command::new("sh");
    worker
        .args([
            "-c",
            "trap 'echo flushing; sleep 0.2; echo flushed; exit 0' TERM; \
             echo ready; while :; do sleep 1 & wait; done",
        ])
        .restart(Restart::on_error())
        .grace(Duration::from_secs(5));
    names.insert(reactor.spawn(&worker)?, "worker");
    let mut crasher = Command::new("sh");
    crasher
        .args(["-c", "sleep 0.3; exit 1"])
        .restart(Restart::on_error().interval(Duration::from_millis(200)));
    names.insert(reactor.spawn(&crasher)?, "crasher");
    let mut sidecar = Command::new("sleep");
    sidecar.arg("3600").grace(Duration::from_secs(1));
    for _ in 0..3 {
        names.insert(reactor.spawn(&sidecar)?, "sidecar");
    }

    let mut ready = false;
    while !stop.load(Ordering::SeqCst) {
        reactor.poll(None, |_, event| {
            if let Event::Line { line: b"ready", .. } = &event {
                if !ready {
                    ready = true;
                    println!("agent {n}: ready");
                }
            }
            log(n, &names, &event);
        })?;
    }

    println!("agent {n}: stopping {} children", reactor.len());
    let mut done = 0;
    reactor.shutdown(DEADLINE, |_, event| {
        if let Event::Done { .. } = event {
            done += 1;
        }
        log(n, &names, &event);
    })?;
    Ok(done)
}

fn log(n: usize, names: &HashMap<ChildId, &str>, event: &Event<'_>) {
    let name = names.get(&event.id()).copied().unwrap_or("?");
    match event {
        Event::Started { pid, restarts, .. } => {
            println!("agent {n}: started {name} pid {pid} (restarts {restarts})")
        }
        Event::Line { stream, line, .. } => {
            let to = if *stream == Stream::Stderr {
                " (stderr)"
            } else {
                ""
            };
            println!("{name}{to}: {}", String::from_utf8_lossy(line));
        }
        Event::Exited(exit) => println!("agent {n}: {name} {exit}"),
        Event::Done { .. } => println!("agent {n}: {name} done"),
        _ => {}
    }
}
