//! The reactor inside a host program's own `mio::Poll`, beside the host's
//! other sources: here a `mio::Waker` that another thread uses to ask for a
//! shutdown, and a periodic timer of the host's.
//!
//! The host registers the reactor's epoll fd with `SourceFd`, sleeps for at
//! most the sooner of its own next tick and [`Reactor::next_timeout`], and
//! polls the reactor with a zero timeout whenever it wakes up. Run it with:
//!
//! ```text
//! cargo run --example mio
//! ```

use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use procrun::{Command, Event, Reactor};

const CHILDREN: Token = Token(0);
const SHUTDOWN: Token = Token(1);
const TICK: Duration = Duration::from_millis(250);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut reactor = Reactor::new()?;
    let mut ticker = Command::new("sh");
    ticker
        .args(["-c", "while :; do echo tick; sleep 0.2; done"])
        .grace(Duration::from_secs(1));
    let ticker = reactor.spawn(&ticker)?;

    let mut poll = Poll::new()?;
    let raw = reactor.as_raw_fd();
    poll.registry()
        .register(&mut SourceFd(&raw), CHILDREN, Interest::READABLE)?;
    let waker = Arc::new(Waker::new(poll.registry(), SHUTDOWN)?);

    // Another part of the host decides, a second later, that it is time to
    // shut down.
    let remote = waker.clone();
    let asker = thread::spawn(move || {
        thread::sleep(Duration::from_secs(1));
        remote.wake()
    });

    let mut events = Events::with_capacity(16);
    let mut next_tick = Instant::now() + TICK;
    let (mut host_ticks, mut lines) = (0, 0);
    let mut stopping = false;
    while !reactor.is_empty() {
        let host_wait = next_tick.saturating_duration_since(Instant::now());
        let wait = reactor
            .next_timeout()
            .map_or(host_wait, |d| d.min(host_wait));
        poll.poll(&mut events, Some(wait))?;

        for event in &events {
            if event.token() == SHUTDOWN && !stopping {
                println!("host: shutdown asked, stopping the ticker");
                reactor.stop(ticker)?;
                stopping = true;
            }
        }
        if Instant::now() >= next_tick {
            host_ticks += 1;
            next_tick += TICK;
        }
        // Polled on every wake-up, not only on a CHILDREN event: the
        // reactor's timers (its kill escalation here) have no fd.
        reactor.poll(Some(Duration::ZERO), |_ctl, event| match event {
            Event::Line { line, .. } => {
                lines += 1;
                println!("ticker: {}", String::from_utf8_lossy(line));
            }
            Event::Exited(exit) => println!("ticker: {exit}"),
            _ => {}
        })?;
    }
    // Deregistered before the reactor's drop closes the fd.
    poll.registry().deregister(&mut SourceFd(&raw))?;
    asker.join().expect("the asking thread does not panic")?;

    println!("summary: {lines} lines from the ticker, {host_ticks} host ticks");
    Ok(())
}
