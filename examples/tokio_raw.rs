//! The reactor inside a tokio runtime by hand: no extra thread, no blocking
//! call, and lines lent as `&[u8]` straight from the reactor's buffer.
//!
//! `procrun::tokio` (the `tokio` feature, `examples/tokio.rs`) is the safe
//! way in and copies each line once into the handle that takes it. This is
//! the other way, for a loop that wants the reactor's zero-copy events:
//! tokio waits on the reactor's epoll fd through `AsyncFd` (the fd is
//! readable whenever a child has news) for at most
//! [`Reactor::next_timeout`], the reactor's own timers; each wake-up polls
//! the reactor with a zero timeout. Here the events are copied into
//! messages for another task only because that task outlives the
//! callback; a loop that parses lines in the callback copies nothing. A
//! tokio timer runs beside them on the same thread. Run it with:
//!
//! ```text
//! cargo run --example tokio_raw
//! ```

use std::time::Duration;

use procrun::{Command, Event, Reactor, Stream};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::mpsc;

/// What the handler task is told: owned, since lines borrow the reactor's
/// buffer only for the duration of the callback.
#[derive(Debug)]
enum Msg {
    Line(String),
    Exit(String),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut reactor = Reactor::new()?;
    let mut counter = Command::new("sh");
    counter.args([
        "-c",
        "for i in 1 2 3; do echo \"count $i\"; sleep 0.1; done",
    ]);
    reactor.spawn(&counter)?;
    reactor.spawn(Command::new("uname").arg("-r"))?;
    // Its timeout is a timer of the reactor's, not a readable fd: the loop
    // below must wake up for it through `next_timeout`.
    let mut slow = Command::new("sleep");
    slow.arg("10").timeout(Duration::from_millis(500));
    reactor.spawn(&slow)?;

    let (tx, mut rx) = mpsc::unbounded_channel();
    let handler = tokio::spawn(async move {
        let (mut lines, mut exits) = (0, 0);
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Line(line) => {
                    lines += 1;
                    println!("line: {line}");
                }
                Msg::Exit(exit) => {
                    exits += 1;
                    println!("exit: {exit}");
                }
            }
        }
        (lines, exits)
    });
    let beside = tokio::spawn(async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        println!("a tokio timer fired while the children ran");
    });

    // SAFETY: the reactor owns its epoll fd from `Reactor::new` to its
    // drop and never replaces it, so `as_raw_fd` names the same open fd for
    // as long as the `AsyncFd` holds the reactor.
    let mut fd = unsafe { AsyncFd::register_with_interest(reactor, Interest::READABLE) }
        .map_err(|e| e.into_parts().1)?;
    while !fd.get_ref().is_empty() {
        match fd.get_ref().next_timeout() {
            Some(d) if d.is_zero() => {}
            Some(d) => {
                if let Ok(guard) = tokio::time::timeout(d, fd.readable_mut()).await {
                    // Cleared before the poll below drains the epoll fd, so
                    // news arriving meanwhile wakes the next wait.
                    guard?.clear_ready();
                }
            }
            None => fd.readable_mut().await?.clear_ready(),
        }
        fd.get_mut()
            .poll(Some(Duration::ZERO), |_ctl, event| match event {
                Event::Line {
                    stream: Stream::Stdout,
                    line,
                    ..
                } => {
                    let _ = tx.send(Msg::Line(String::from_utf8_lossy(line).into_owned()));
                }
                Event::Exited(exit) => {
                    let _ = tx.send(Msg::Exit(exit.to_string()));
                }
                _ => {}
            })?;
    }
    // The reactor is empty: take it back from tokio (deregistering its fd).
    let reactor = fd.into_inner();
    drop(tx);

    let (lines, exits) = handler.await?;
    beside.await?;
    println!(
        "summary: {lines} lines, {exits} exits, {} reactor wake-ups",
        reactor.wakeups()
    );
    Ok(())
}
