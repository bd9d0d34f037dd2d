//! A small agent on `procrun::tokio` (the `tokio` feature): periodic checks
//! with timeouts, a followed log, a worker the restart policy brings back,
//! and a graceful shutdown when `SIGTERM` (or Ctrl-C) comes.
//!
//! Everything runs on one `current_thread` runtime: the children cost no
//! thread, their exits and lines arrive through tokio's own I/O driver, and
//! their timeouts, grace periods and restart delays are tokio timers.
//! procrun installs no signal handler; the agent takes `SIGTERM` with
//! tokio's signal support and stops its children itself, each with its
//! stop signal and grace.
//!
//! So that it ends by itself, the agent sends itself `SIGTERM` after
//! 1.5 s (through `kill`, as a service manager would); with `--wait` it
//! runs until one comes from outside:
//!
//! ```text
//! cargo run --features tokio --example tokio
//! cargo run --features tokio --example tokio -- --wait   # then Ctrl-C
//! ```

use std::error::Error;
use std::time::Duration;

use procrun::tokio::ChildOutput;
use procrun::{Command, Restart};
use tokio::io::AsyncWriteExt;
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinSet;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    // Taken before any child runs, so an early signal is not lost.
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;

    // The followed log: a file the agent itself appends to, followed from
    // its first line by `tail -F` (which outlives the file's rotation).
    let dir = tempfile::tempdir()?;
    let log_path = dir.path().join("app.log");
    let mut log = tokio::fs::File::create(&log_path).await?;
    let mut tail = Command::new("tail");
    tail.args(["-n", "+1", "-F"])
        .arg(&log_path)
        .grace(Duration::from_secs(1));
    let mut follower = procrun::tokio::spawn(&tail)?;

    // The worker fails after a while; the policy starts it again 100 ms
    // later, its lines going on through the same handle.
    let mut worker = Command::new("sh");
    worker
        .args(["-c", "echo up; sleep 0.2; exit 1"])
        .restart(Restart::on_error().interval(Duration::from_millis(100)))
        .grace(Duration::from_secs(2));
    let mut worker = procrun::tokio::spawn(&worker)?;

    // Two checks per tick: one that answers, one that hangs until its
    // timeout ends it.
    let mut load = Command::new("cat");
    load.arg("/proc/loadavg").timeout(Duration::from_secs(5));
    let mut hung = Command::new("sleep");
    hung.arg("10").timeout(Duration::from_millis(300));

    if !std::env::args().any(|a| a == "--wait") {
        let me = std::process::id().to_string();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let _ = procrun::tokio::output(Command::new("kill").args(["-TERM", &me])).await;
        });
    }

    let mut checks: JoinSet<procrun::Result<ChildOutput>> = JoinSet::new();
    let mut tally = Tally::default();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut written = 0;
    let signal = loop {
        tokio::select! {
            _ = term.recv() => break "SIGTERM",
            _ = int.recv() => break "SIGINT",
            _ = tick.tick() => {
                written += 1;
                log.write_all(format!("request {written} served\n").as_bytes()).await?;
                log.flush().await?;
                for cmd in [&load, &hung] {
                    let cmd = cmd.clone();
                    checks.spawn(async move { procrun::tokio::output(&cmd).await });
                }
            }
            Some(done) = checks.join_next() => tally.check(done?)?,
            line = follower.next_line() => match line? {
                Some(line) => {
                    tally.followed += 1;
                    println!("log: {}", line.to_string_lossy());
                }
                None => return Err("the log follower ended".into()),
            },
            line = worker.next_line() => match line? {
                Some(line) if line.bytes == b"up" => tally.runs += 1,
                Some(_) => {}
                None => return Err("the worker ended".into()),
            },
        }
    };

    println!("{signal}: shutting down");
    // Both get their stop signal at once and their own grace; no restart
    // follows a stop.
    let (worker_exit, follower_exit) = tokio::join!(worker.stop(), follower.stop());
    println!("worker: {}", worker_exit?);
    println!("log follower: {}", follower_exit?);
    // Checks under way end by themselves, at their timeout at the latest.
    while let Some(done) = checks.join_next().await {
        tally.check(done?)?;
    }
    println!(
        "summary: {} checks ({} ok, {} timed out), {} log lines followed, worker ran {} times, shut down on {signal}",
        tally.ok + tally.timed_out,
        tally.ok,
        tally.timed_out,
        tally.followed,
        tally.runs
    );
    Ok(())
}

#[derive(Default)]
struct Tally {
    ok: u32,
    timed_out: u32,
    followed: u32,
    runs: u32,
}

impl Tally {
    fn check(&mut self, out: procrun::Result<ChildOutput>) -> procrun::Result<()> {
        let out = out?;
        if out.exit.timed_out() {
            self.timed_out += 1;
            println!("check timed out: {}", out.exit);
        } else if out.exit.success() {
            self.ok += 1;
            let load = String::from_utf8_lossy(&out.stdout);
            println!("check ok: load {}", load.split(' ').next().unwrap_or("?"));
        } else {
            println!("check failed: {}", out.exit);
        }
        Ok(())
    }
}
