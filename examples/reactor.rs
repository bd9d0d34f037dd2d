//! An agent's loop on the reactor alone: one long-running watcher, kept up
//! by a restart policy, and one-shot checks started on a schedule, each with
//! a timeout. One thread, no other runtime.
//!
//! The watcher prints a tick five times and then fails, so the restart
//! policy has work to do; the checks are `uname -r` (succeeds), `sh -c 'exit
//! 3'` (fails) and `sleep 10` (times out). After four seconds the agent stops
//! everything, waits for the reaps and prints a summary, so the example ends
//! by itself. Run it with:
//!
//! ```text
//! cargo run --example reactor
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

use procrun::{ChildId, Command, Event, Reactor, Restart, Stream};

const RUN_FOR: Duration = Duration::from_secs(4);
const CHECK_EVERY: Duration = Duration::from_millis(500);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut reactor = Reactor::new()?;

    let mut watcher = Command::new("sh");
    watcher
        .args([
            "-c",
            "i=0; while [ $i -lt 5 ]; do echo tick; i=$((i+1)); sleep 0.2; done; \
             echo 'watcher lost its source' >&2; exit 1",
        ])
        .restart(Restart::on_error().interval(Duration::from_millis(300)))
        .grace(Duration::from_secs(1));
    let watcher = reactor.spawn(&watcher)?;

    let checks = [
        ("kernel", vec!["uname", "-r"]),
        ("failing", vec!["sh", "-c", "exit 3"]),
        ("slow", vec!["sleep", "10"]),
    ];
    let mut running: HashMap<ChildId, &str> = HashMap::new();
    let mut next_check = Instant::now();
    let mut round = 0;

    let start = Instant::now();
    let mut stopping = false;
    let (mut ticks, mut watcher_runs) = (0, 0);
    let (mut ok, mut failed, mut timed_out) = (0, 0, 0);

    while !reactor.is_empty() {
        let now = Instant::now();
        if !stopping && now.duration_since(start) >= RUN_FOR {
            // Stopping ends the watcher's restarts too; a check still
            // running is stopped as well, so the loop ends once all reaped.
            stopping = true;
            reactor.stop(watcher)?;
            for &id in running.keys() {
                reactor.stop(id)?;
            }
        }
        if !stopping && now >= next_check {
            let (name, argv) = &checks[round % checks.len()];
            let mut cmd = Command::new(argv[0]);
            cmd.args(&argv[1..]).timeout(Duration::from_millis(300));
            running.insert(reactor.spawn(&cmd)?, name);
            round += 1;
            next_check = now + CHECK_EVERY;
        }

        // Sleep until the next check is due, or something happens.
        let wait = (!stopping).then(|| next_check.saturating_duration_since(Instant::now()));
        reactor.poll(wait, |_ctl, event| match event {
            Event::Started { id, .. } if id == watcher => watcher_runs += 1,
            Event::Line {
                id,
                stream: Stream::Stdout,
                line,
                ..
            } if id == watcher && line == b"tick" => ticks += 1,
            Event::Line {
                id,
                stream: Stream::Stdout,
                line,
                ..
            } => {
                let name = running.get(&id).copied().unwrap_or("?");
                println!("{name}: {}", String::from_utf8_lossy(line));
            }
            Event::Line {
                id,
                stream: Stream::Stderr,
                line,
                ..
            } if id == watcher => println!("watcher says: {}", String::from_utf8_lossy(line)),
            Event::Exited(exit) if exit.id() == watcher => match exit.restart_in() {
                Some(delay) => println!("watcher: {exit}, restarting in {delay:?}"),
                None => println!("watcher: {exit}, done"),
            },
            Event::Exited(exit) => {
                let name = running.remove(&exit.id()).unwrap_or("?");
                println!("{name}: {exit}");
                if exit.timed_out() {
                    timed_out += 1;
                } else if exit.success() {
                    ok += 1;
                } else {
                    failed += 1;
                }
            }
            _ => {}
        })?;
    }

    println!(
        "summary: {ticks} ticks over {watcher_runs} watcher runs; \
         checks: {ok} ok, {failed} failed, {timed_out} timed out"
    );
    Ok(())
}
