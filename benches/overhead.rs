//! What supervising children costs the supervisor, procrun beside its peers
//! and the raw limit, in one run:
//!
//! - **idle**: 1,000 idle children (`sleep 1000`, stdout and stderr piped):
//!   threads and RSS growth of the supervising process for procrun's
//!   [`Reactor`]; tokio::process on a current-thread runtime with a
//!   `BufReader::lines` task per pipe and a wait task; std with a reader
//!   thread per pipe and a waiter thread; and a bare epoll + pidfd loop
//!   holding nothing but the three fds per child. procrun runs twice: plain,
//!   and with a restart policy on every child (it then keeps the prepared
//!   command to start each child again: one copy, as every child runs the
//!   same command). Each variant runs in a
//!   fresh process of this binary, so their memory does not mix; RSS is
//!   read before the first spawn (after the supervisor itself is set up)
//!   and after every child is started and its readers wait. The same
//!   processes then sit idle for a few seconds while their context
//!   switches are counted — and, for procrun, [`Reactor::wakeups`].
//! - **exit latency**: a child blocked reading a FIFO the bench holds
//!   (`dd if=FIFO count=1`, the same for every variant) is released by one
//!   byte; the time from that write to the caller's exit notification:
//!   procrun's [`Event::Exited`], tokio's `child.wait().await`, std's
//!   blocking `wait()`, and a bare `epoll_wait` on the pidfd (with the
//!   pipes registered too), each including the reap. Variants take
//!   turns, iteration by iteration, so drift on a noisy machine hits all.
//! - **kill escalation**: a child ignoring `SIGTERM`, stopped with a 100 ms
//!   grace: how long after the grace its `SIGKILL` exit arrives.
//!
//! Not a criterion bench: none of these is a time per iteration. Run with
//! `cargo bench --bench overhead -- [--children N] [--iterations N]
//! [--kill-runs N] [--idle-secs S] [--json PATH]`.

mod bare;
#[path = "../tests/common/rss.rs"]
mod rss;

use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use bare::{Epoll, Fifo};
use procrun::{Command, Event, Reactor, Restart};
use rss::rss_kib;

const VARIANTS: [&str; 4] = ["procrun", "tokio", "std", "bare"];
/// The idle set adds procrun with a restart policy on every child, the case
/// where the reactor keeps the command (shared by children of one command).
const IDLE_VARIANTS: [&str; 5] = ["procrun", "procrun-restart", "tokio", "std", "bare"];

struct Args {
    children: usize,
    iterations: usize,
    kill_runs: usize,
    idle_secs: u64,
    json: Option<String>,
    idle_variant: Option<String>,
}

fn parse_args() -> Args {
    let mut a = Args {
        children: 1000,
        iterations: 500,
        kill_runs: 50,
        idle_secs: 5,
        json: None,
        idle_variant: None,
    };
    // `cargo test --all-targets` runs this without --bench: one quick pass
    // proves it works, as criterion's test mode does.
    if !std::env::args().any(|a| a == "--bench" || a == "--idle-variant") {
        a.children = 10;
        a.iterations = 3;
        a.kill_runs = 1;
        a.idle_secs = 0;
    }
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--children" => a.children = value().parse().expect("--children N"),
            "--iterations" => a.iterations = value().parse().expect("--iterations N"),
            "--kill-runs" => a.kill_runs = value().parse().expect("--kill-runs N"),
            "--idle-secs" => a.idle_secs = value().parse().expect("--idle-secs S"),
            "--json" => a.json = Some(value()),
            "--idle-variant" => a.idle_variant = Some(value()),
            // `cargo bench` passes --bench; other harness flags mean nothing here.
            _ => {}
        }
    }
    a
}

fn main() {
    bare::raise_nofile();
    let args = parse_args();
    if let Some(v) = &args.idle_variant {
        let r = idle_variant(v, args.children, Duration::from_secs(args.idle_secs));
        println!(
            "threads={} rss_before_kib={} rss_after_kib={} switches={} wakeups={}",
            r.threads,
            r.rss_before_kib,
            r.rss_after_kib,
            r.switches,
            r.wakeups.map_or(-1, |w| w as i64)
        );
        return;
    }

    let idle: Vec<(&str, Idle)> = IDLE_VARIANTS
        .iter()
        .map(|v| (*v, run_idle_variant(v, &args)))
        .collect();
    println!(
        "\nidle: {} children (sleep, stdout+stderr piped), {} s idle window",
        args.children, args.idle_secs
    );
    println!(
        "{:<16} {:>8} {:>12} {:>12} {:>12} {:>10}",
        "variant", "threads", "RSS KiB", "KiB/child", "switches/s", "wakeups"
    );
    for (name, r) in &idle {
        println!(
            "{:<16} {:>8} {:>12} {:>12.3} {:>12.2} {:>10}",
            name,
            r.threads,
            r.rss_after_kib - r.rss_before_kib,
            r.kib_per_child(args.children),
            r.switches_per_sec(args.idle_secs),
            r.wakeups.map_or("-".into(), |w| w.to_string())
        );
    }

    let latency = exit_latency(args.iterations);
    println!(
        "\nexit latency: write to FIFO -> exit notification, {} iterations each",
        args.iterations
    );
    println!("{:<8} {:>12} {:>12}", "variant", "median µs", "p99 µs");
    for (name, l) in VARIANTS.iter().zip(&latency) {
        println!("{:<8} {:>12.1} {:>12.1}", name, l.median_us, l.p99_us);
    }

    let kill = kill_precision(args.kill_runs);
    println!(
        "\nkill escalation: grace {} ms, {} runs: SIGKILL exit after grace + median {:.2} ms, max {:.2} ms, all by SIGKILL: {}",
        kill.grace_ms, args.kill_runs, kill.median_over_ms, kill.max_over_ms, kill.all_sigkill
    );

    if let Some(path) = &args.json {
        let json = to_json(&args, &idle, &latency, &kill);
        fs::write(path, json).expect("write json");
        println!("\nwrote {path}");
    }
}

// ---------------------------------------------------------------- idle

struct Idle {
    threads: usize,
    rss_before_kib: u64,
    rss_after_kib: u64,
    /// Context switches of every thread but the timer's, over the window
    /// (the one that ends it included).
    switches: u64,
    wakeups: Option<u64>,
}

impl Idle {
    fn kib_per_child(&self, n: usize) -> f64 {
        (self.rss_after_kib as f64 - self.rss_before_kib as f64) / n as f64
    }

    /// Switches per second, the one that ends the window not counted.
    fn switches_per_sec(&self, secs: u64) -> f64 {
        self.switches.saturating_sub(1) as f64 / secs.max(1) as f64
    }
}

fn run_idle_variant(variant: &str, args: &Args) -> Idle {
    let out = std::process::Command::new(std::env::current_exe().expect("current exe"))
        .args(["--idle-variant", variant])
        .args(["--children", &args.children.to_string()])
        .args(["--idle-secs", &args.idle_secs.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .expect("run idle variant");
    assert!(out.status.success(), "idle variant {variant} failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| -> i64 {
        text.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{variant}: no {key} in {text:?}"))
    };
    Idle {
        threads: field("threads") as usize,
        rss_before_kib: field("rss_before_kib") as u64,
        rss_after_kib: field("rss_after_kib") as u64,
        switches: field("switches") as u64,
        wakeups: u64::try_from(field("wakeups")).ok(),
    }
}

fn threads() -> usize {
    fs::read_dir("/proc/self/task").expect("tasks").count()
}

/// Context switches, voluntary and not, summed over the process's threads.
fn switches() -> u64 {
    let mut total = 0;
    for task in fs::read_dir("/proc/self/task").expect("tasks").flatten() {
        let Ok(s) = fs::read_to_string(task.path().join("status")) else {
            continue;
        };
        for l in s.lines() {
            if let Some(v) = l
                .strip_prefix("voluntary_ctxt_switches:")
                .or_else(|| l.strip_prefix("nonvoluntary_ctxt_switches:"))
            {
                total += v.trim().parse::<u64>().unwrap_or(0);
            }
        }
    }
    total
}

/// Runs in a fresh process: starts `n` idle children the variant's way,
/// measures, idles, then kills and reaps them.
fn idle_variant(variant: &str, n: usize, idle: Duration) -> Idle {
    match variant {
        "procrun" => idle_procrun(n, idle, false),
        "procrun-restart" => idle_procrun(n, idle, true),
        "tokio" => idle_tokio(n, idle),
        "std" => idle_std(n, idle),
        "bare" => idle_bare(n, idle),
        other => panic!("unknown variant {other}"),
    }
}

fn settle() {
    // Lets readers that were counted reach their blocking read.
    thread::sleep(Duration::from_millis(100));
}

fn idle_procrun(n: usize, idle: Duration, restart: bool) -> Idle {
    let mut reactor = Reactor::new().expect("reactor");
    let mut cmd = Command::new("sleep");
    cmd.arg("1000");
    if restart {
        cmd.restart(Restart::on_error());
    }
    let before = rss_kib();
    for _ in 0..n {
        reactor.spawn(&cmd).expect("spawn");
    }
    let mut started = 0;
    while started < n {
        reactor
            .poll(Some(Duration::ZERO), |_, ev| {
                if let Event::Started { .. } = ev {
                    started += 1;
                }
            })
            .expect("poll");
    }
    settle();
    let (after, threads) = (rss_kib(), threads());

    let s0 = switches();
    let w0 = reactor.wakeups();
    let fired = Arc::new(AtomicBool::new(false));
    let timer = {
        let (fired, waker) = (fired.clone(), reactor.waker());
        thread::spawn(move || {
            thread::sleep(idle);
            fired.store(true, Ordering::SeqCst);
            waker.wake().expect("wake");
        })
    };
    while !fired.load(Ordering::SeqCst) {
        reactor.poll(None, |_, _| {}).expect("poll");
    }
    let wakeups = reactor.wakeups() - w0;
    timer.join().expect("timer thread");
    let s1 = switches();
    // Dropping the reactor kills and reaps every child.
    drop(reactor);
    Idle {
        threads,
        rss_before_kib: before,
        rss_after_kib: after,
        switches: s1 - s0,
        wakeups: Some(wakeups),
    }
}

async fn tokio_drain<R: tokio::io::AsyncRead + Unpin>(r: R, ready: Arc<AtomicUsize>) {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(r).lines();
    ready.fetch_add(1, Ordering::SeqCst);
    while let Ok(Some(line)) = lines.next_line().await {
        std::hint::black_box(line);
    }
}

fn idle_tokio(n: usize, idle: Duration) -> Idle {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ready = Arc::new(AtomicUsize::new(0));
    let before = rss_kib();
    let (pids, waits) = rt.block_on(async {
        let mut pids = Vec::new();
        let mut waits = Vec::new();
        for _ in 0..n {
            let mut child = tokio::process::Command::new("sleep")
                .arg("1000")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn");
            pids.push(child.id().expect("pid"));
            tokio::spawn(tokio_drain(
                child.stdout.take().expect("stdout"),
                ready.clone(),
            ));
            tokio::spawn(tokio_drain(
                child.stderr.take().expect("stderr"),
                ready.clone(),
            ));
            let ready = ready.clone();
            waits.push(tokio::spawn(async move {
                ready.fetch_add(1, Ordering::SeqCst);
                child.wait().await.expect("wait")
            }));
        }
        while ready.load(Ordering::SeqCst) < 3 * n {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        (pids, waits)
    });
    let (after, threads) = (rss_kib(), threads());

    let s0 = switches();
    rt.block_on(async { tokio::time::sleep(idle).await });
    let s1 = switches();
    kill_pids(&pids);
    rt.block_on(async {
        for w in waits {
            w.await.expect("wait task");
        }
    });
    Idle {
        threads,
        rss_before_kib: before,
        rss_after_kib: after,
        switches: s1 - s0,
        wakeups: None,
    }
}

fn std_drain<R: Read>(r: R, ready: &AtomicUsize) {
    let reader = BufReader::new(r);
    ready.fetch_add(1, Ordering::SeqCst);
    for line in reader.lines() {
        let Ok(line) = line else { break };
        std::hint::black_box(line);
    }
}

fn idle_std(n: usize, idle: Duration) -> Idle {
    let ready = Arc::new(AtomicUsize::new(0));
    let before = rss_kib();
    let mut pids = Vec::new();
    let mut threads_ = Vec::new();
    for _ in 0..n {
        let mut child = std::process::Command::new("sleep")
            .arg("1000")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        pids.push(child.id());
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        let r = ready.clone();
        threads_.push(thread::spawn(move || std_drain(out, &r)));
        let r = ready.clone();
        threads_.push(thread::spawn(move || std_drain(err, &r)));
        let r = ready.clone();
        threads_.push(thread::spawn(move || {
            r.fetch_add(1, Ordering::SeqCst);
            let _ = child.wait();
        }));
    }
    while ready.load(Ordering::SeqCst) < 3 * n {
        thread::sleep(Duration::from_millis(1));
    }
    settle();
    let (after, threads) = (rss_kib(), threads());

    let s0 = switches();
    thread::sleep(idle);
    let s1 = switches();
    kill_pids(&pids);
    for t in threads_ {
        t.join().expect("thread");
    }
    Idle {
        threads,
        rss_before_kib: before,
        rss_after_kib: after,
        switches: s1 - s0,
        wakeups: None,
    }
}

fn idle_bare(n: usize, idle: Duration) -> Idle {
    let ep = Epoll::new();
    let mut events = bare::empty_events(64);
    let before = rss_kib();
    // Per child: its pidfd and procrun-style nonblocking pipe ends. No
    // buffer: a read would go to one shared buffer.
    let mut kids: Vec<[OwnedFd; 3]> = Vec::new();
    for i in 0..n {
        let mut child = std::process::Command::new("sleep")
            .arg("1000")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let pidfd = bare::pidfd_open(child.id());
        let out = OwnedFd::from(child.stdout.take().expect("stdout"));
        let err = OwnedFd::from(child.stderr.take().expect("stderr"));
        // The std Child is dropped without a wait: the pidfd reaps it.
        drop(child);
        let token = (i as u64) << 2;
        ep.add(pidfd.as_raw_fd(), token, false);
        for (k, fd) in [&out, &err].into_iter().enumerate() {
            bare::set_nonblocking(fd.as_raw_fd());
            ep.add(fd.as_raw_fd(), token | (k as u64 + 1), true);
        }
        kids.push([pidfd, out, err]);
    }
    settle();
    let (after, threads) = (rss_kib(), threads());

    let s0 = switches();
    let ready = ep.wait(&mut events, idle.as_millis() as i32).len();
    let s1 = switches();
    assert_eq!(ready, 0, "an idle child raised an event");
    for [pidfd, ..] in &kids {
        bare::pidfd_kill(pidfd);
    }
    for [pidfd, ..] in &kids {
        bare::pidfd_reap(pidfd, true);
    }
    Idle {
        threads,
        rss_before_kib: before,
        rss_after_kib: after,
        switches: s1 - s0,
        wakeups: None,
    }
}

fn kill_pids(pids: &[u32]) {
    for &pid in pids {
        // SAFETY: kill takes integers; each pid is an unreaped child of ours,
        // so it cannot name another process.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    }
}

// ---------------------------------------------------------------- exit latency

struct Latency {
    median_us: f64,
    p99_us: f64,
}

fn dd_args(fifo: &Fifo) -> Vec<String> {
    vec![
        format!("if={}", fifo.path().display()),
        "of=/dev/null".into(),
        "bs=1".into(),
        "count=1".into(),
        "status=none".into(),
    ]
}

fn exit_latency(iterations: usize) -> Vec<Latency> {
    let fifo = Fifo::new();
    let args = dd_args(&fifo);
    let mut reactor = Reactor::new().expect("reactor");
    let mut cmd = Command::new("dd");
    cmd.args(&args);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let ep = Epoll::new();
    let mut events = bare::empty_events(8);

    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(iterations); VARIANTS.len()];
    for _ in 0..iterations {
        samples[0].push(exit_procrun(&mut reactor, &cmd, &fifo));
        samples[1].push(exit_tokio(&rt, &args, &fifo));
        samples[2].push(exit_std(&args, &fifo));
        samples[3].push(exit_bare(&ep, &mut events, &args, &fifo));
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort();
            Latency {
                median_us: s[s.len() / 2].as_secs_f64() * 1e6,
                p99_us: s[(s.len() * 99 / 100).min(s.len() - 1)].as_secs_f64() * 1e6,
            }
        })
        .collect()
}

fn exit_procrun(reactor: &mut Reactor, cmd: &Command, fifo: &Fifo) -> Duration {
    let id = reactor.spawn(cmd).expect("spawn");
    let pid = reactor.pid(id).expect("pid");
    reactor.poll(Some(Duration::ZERO), |_, _| {}).expect("poll");
    bare::wait_blocked_in_read(pid);
    let t0 = Instant::now();
    fifo.release(1);
    let mut t1 = None;
    while t1.is_none() {
        reactor
            .poll(None, |_, ev| {
                if let Event::Exited(_) = ev {
                    t1 = Some(Instant::now());
                }
            })
            .expect("poll");
    }
    while !reactor.is_empty() {
        reactor.poll(None, |_, _| {}).expect("poll");
    }
    t1.expect("exited") - t0
}

fn exit_tokio(rt: &tokio::runtime::Runtime, args: &[String], fifo: &Fifo) -> Duration {
    rt.block_on(async {
        let mut child = tokio::process::Command::new("dd")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        bare::wait_blocked_in_read(child.id().expect("pid"));
        let t0 = Instant::now();
        fifo.release(1);
        child.wait().await.expect("wait");
        t0.elapsed()
    })
}

fn exit_std(args: &[String], fifo: &Fifo) -> Duration {
    let mut child = std::process::Command::new("dd")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    bare::wait_blocked_in_read(child.id());
    let t0 = Instant::now();
    fifo.release(1);
    child.wait().expect("wait");
    t0.elapsed()
}

fn exit_bare(
    ep: &Epoll,
    events: &mut [libc::epoll_event],
    args: &[String],
    fifo: &Fifo,
) -> Duration {
    let mut child = std::process::Command::new("dd")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pidfd = bare::pidfd_open(child.id());
    let out = OwnedFd::from(child.stdout.take().expect("stdout"));
    let err = OwnedFd::from(child.stderr.take().expect("stderr"));
    let pid = child.id();
    drop(child);
    ep.add(pidfd.as_raw_fd(), 0, false);
    for (k, fd) in [&out, &err].into_iter().enumerate() {
        bare::set_nonblocking(fd.as_raw_fd());
        ep.add(fd.as_raw_fd(), k as u64 + 1, true);
    }
    bare::wait_blocked_in_read(pid);
    let t0 = Instant::now();
    fifo.release(1);
    'wait: loop {
        for ev in ep.wait(events, -1) {
            if ev.u64 == 0 {
                break 'wait;
            }
        }
    }
    // Reaped, as every variant's notification is: the status is known.
    assert!(
        bare::pidfd_reap(&pidfd, false),
        "readable pidfd, child not reaped"
    );
    let t1 = Instant::now();
    for fd in [&pidfd, &out, &err] {
        ep.del(fd.as_raw_fd());
    }
    t1 - t0
}

// ---------------------------------------------------------------- kill

struct Kill {
    grace_ms: u64,
    median_over_ms: f64,
    max_over_ms: f64,
    all_sigkill: bool,
}

fn kill_precision(runs: usize) -> Kill {
    let grace = Duration::from_millis(100);
    let mut reactor = Reactor::new().expect("reactor");
    let mut cmd = Command::new("sh");
    // An ignored signal stays ignored across exec, so `sleep` ignores it.
    cmd.args(["-c", "trap '' TERM; exec sleep 1000"])
        .grace(grace);
    let mut over = Vec::with_capacity(runs);
    let mut all_sigkill = true;
    for _ in 0..runs {
        let id = reactor.spawn(&cmd).expect("spawn");
        let pid = reactor.pid(id).expect("pid");
        reactor.poll(Some(Duration::ZERO), |_, _| {}).expect("poll");
        bare::wait_comm(pid, "sleep");
        let t0 = Instant::now();
        reactor.stop(id).expect("stop");
        let mut exit = None;
        while exit.is_none() {
            reactor
                .poll(None, |_, ev| {
                    if let Event::Exited(e) = ev {
                        exit = Some((Instant::now(), e.signal()));
                    }
                })
                .expect("poll");
        }
        let (t1, signal) = exit.expect("exited");
        all_sigkill &= signal == Some(procrun::Signal::KILL);
        over.push((t1 - t0).as_secs_f64() * 1e3 - grace.as_secs_f64() * 1e3);
        while !reactor.is_empty() {
            reactor.poll(None, |_, _| {}).expect("poll");
        }
    }
    over.sort_by(f64::total_cmp);
    Kill {
        grace_ms: grace.as_millis() as u64,
        median_over_ms: over[over.len() / 2],
        max_over_ms: over[over.len() - 1],
        all_sigkill,
    }
}

// ---------------------------------------------------------------- report

fn to_json(args: &Args, idle: &[(&str, Idle)], latency: &[Latency], kill: &Kill) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "{{\n  \"idle\": {{\"children\": {}, \"idle_secs\": {}, \"variants\": [",
        args.children, args.idle_secs
    );
    for (i, (name, r)) in idle.iter().enumerate() {
        let _ = write!(
            s,
            "{}\n    {{\"name\": \"{}\", \"threads\": {}, \"rss_delta_kib\": {}, \"kib_per_child\": {:.4}, \"switches_per_sec\": {:.3}, \"wakeups\": {}}}",
            if i == 0 { "" } else { "," },
            name,
            r.threads,
            r.rss_after_kib as i64 - r.rss_before_kib as i64,
            r.kib_per_child(args.children),
            r.switches_per_sec(args.idle_secs),
            r.wakeups.map_or("null".into(), |w| w.to_string())
        );
    }
    let _ = write!(
        s,
        "\n  ]}},\n  \"exit_latency\": {{\"iterations\": {}, \"variants\": [",
        args.iterations
    );
    for (i, (name, l)) in VARIANTS.iter().zip(latency).enumerate() {
        let _ = write!(
            s,
            "{}\n    {{\"name\": \"{}\", \"median_us\": {:.2}, \"p99_us\": {:.2}}}",
            if i == 0 { "" } else { "," },
            name,
            l.median_us,
            l.p99_us
        );
    }
    let _ = write!(
        s,
        "\n  ]}},\n  \"kill\": {{\"runs\": {}, \"grace_ms\": {}, \"median_over_ms\": {:.3}, \"max_over_ms\": {:.3}, \"all_sigkill\": {}}}\n}}\n",
        args.kill_runs, kill.grace_ms, kill.median_over_ms, kill.max_over_ms, kill.all_sigkill
    );
    s
}
