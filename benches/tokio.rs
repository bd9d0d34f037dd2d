//! `procrun::tokio` beside `tokio::process` in the same runtime, and beside
//! the bare [`Reactor`] for what the async layer costs, in one run:
//!
//! - **idle**: 1,000 idle children (`sleep 1000`, stdout and stderr
//!   piped) on a `current_thread` runtime: RSS growth and threads added.
//!   `procrun_tokio` holds a [`Child`] per child (its lines wait in the
//!   driver, nobody reading); `tokio` a `BufReader::lines` task per pipe
//!   and a wait task per child, as overhead.rs has it; `reactor` the bare
//!   reactor with no runtime. Each runs in a fresh process of this binary.
//! - **spawn_reap**: 100 children of `true` (stdio null) started at once,
//!   a task each that spawns and waits, on `current_thread` and on
//!   `multi_thread` runtimes of 1 and 2 workers. Children per second.
//! - **lines**: 100 and 1,000 children, parked on a FIFO, released
//!   together; each writes 128 MiB / N of 64-byte lines to stdout
//!   (stderr null); the time runs until every line is counted and every
//!   child waited for. A task per child: `procrun_tokio` takes lines with
//!   `next_line` (one copy each, into the line it returns),
//!   `procrun_tokio_stream` through `lines()` (the `Stream`),
//!   `procrun_tokio_ref` lent by `next_line_ref` (no copy of its own),
//!   `procrun_tokio_batch` lent in batches by `next_lines` (no copy, no
//!   `.await` per line), `procrun_tokio_chunks` counts newlines in 256 KiB
//!   reads of the child's raw stdout (`Output::Raw`, its `AsyncRead`),
//!   `tokio_lines` reads them with `BufReader::lines`, `tokio_chunks`
//!   counts newlines in 256 KiB reads (no line made at all); `reactor`
//!   counts the bare reactor's lent lines on the thread that polls it. On
//!   `current_thread` and `multi_thread` with 2 workers. Two figures per
//!   variant: bytes per second of wall clock, and the consumer's CPU
//!   seconds per GB (this process's user + system time, every thread of
//!   it, from the release to the last line: the writers, other
//!   processes, are not counted). With 2 cores the writers take most of
//!   the CPU, so the wall clock mostly measures them; the CPU figure is
//!   what reading the lines costs.
//! - **exit latency**: a child blocked reading a FIFO (`dd count=1`) is
//!   released by one byte; the time from that write until `wait()`
//!   returns (`procrun_tokio`: the child done, streams closed; `tokio`:
//!   its status) or, for `reactor`, until its `Done` event (the same
//!   moment `wait()` waits for). Before the byte each has handled what the
//!   child did at its start (dd puts `of=` in its stdout's place): the
//!   runtime idles for 1 ms, the reactor is polled until it has nothing.
//!   Variants take turns, run by run.
//!
//! Every figure is the median over rounds that take turns, so drift on a
//! shared machine hits every variant alike. Not a criterion bench: run
//! with `cargo bench --features tokio --bench tokio -- [--children N]
//! [--rounds N] [--iterations N] [--lines-children N,N]
//! [--lines-variants NAME,NAME] [--lines-runtime NAME] [--only PART] [--json PATH]` (one part and
//! one variant alone make a profile of it).

mod bare;
// Its spawn-and-reap helper is for the reactor benches, not used here.
#[allow(dead_code)]
#[path = "common/harness.rs"]
mod harness;
#[path = "../tests/common/rss.rs"]
mod rss;

use std::fmt::Write as _;
use std::fs;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bare::Fifo;
use harness::LINE;
use procrun::tokio::Child;
use procrun::{Command, Event, Output, Reactor};
use rss::rss_kib;
use tokio::runtime::Runtime;

/// Bytes all children of a lines case write together.
const LINES_TOTAL: usize = 128 << 20;

struct Args {
    children: usize,
    rounds: usize,
    iterations: usize,
    spawns: usize,
    lines_counts: Vec<usize>,
    lines_total: usize,
    /// Only this runtime for lines (both by default).
    lines_runtime: Option<String>,
    /// Only these lines variants (all by default).
    lines_variants: Option<Vec<String>>,
    json: Option<String>,
    idle_variant: Option<String>,
    /// Only this part (idle, spawn_reap, lines, exit_latency).
    only: Option<String>,
}

fn parse_args() -> Args {
    let mut a = Args {
        children: 1000,
        rounds: 7,
        iterations: 300,
        spawns: 100,
        lines_counts: vec![100, 1000],
        lines_total: LINES_TOTAL,
        lines_variants: None,
        lines_runtime: None,
        json: None,
        idle_variant: None,
        only: None,
    };
    // `cargo test --all-targets --features tokio` runs this without
    // --bench: one small pass proves every variant works.
    if !std::env::args().any(|a| a == "--bench" || a == "--idle-variant") {
        a.children = 10;
        a.rounds = 1;
        a.iterations = 3;
        a.spawns = 10;
        a.lines_counts = vec![10];
        a.lines_total = 10 << 16;
    }
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--children" => a.children = value().parse().expect("--children N"),
            "--rounds" => a.rounds = value().parse().expect("--rounds N"),
            "--iterations" => a.iterations = value().parse().expect("--iterations N"),
            "--json" => a.json = Some(value()),
            "--idle-variant" => a.idle_variant = Some(value()),
            "--only" => a.only = Some(value()),
            "--lines-runtime" => a.lines_runtime = Some(value()),
            "--lines-variants" => {
                a.lines_variants = Some(value().split(',').map(String::from).collect())
            }
            "--lines-children" => {
                a.lines_counts = value()
                    .split(',')
                    .map(|n| n.parse().expect("--lines-children N,N"))
                    .collect()
            }
            _ => {}
        }
    }
    a
}

fn main() {
    if harness::run_if_writer() {
        return;
    }
    bare::raise_nofile();
    let args = parse_args();
    if let Some(v) = &args.idle_variant {
        let (threads_added, before, after) = idle_variant(v, args.children);
        println!("threads_added={threads_added} rss_before_kib={before} rss_after_kib={after}");
        return;
    }
    let want = |part: &str| args.only.as_deref().map_or(true, |o| o == part);
    let mut parts = Vec::new();
    if want("idle") {
        parts.push(idle(&args));
    }
    if want("spawn_reap") {
        parts.push(spawn_reap_part(&args));
    }
    if want("lines") {
        parts.push(lines_part(&args));
    }
    if want("exit_latency") {
        parts.push(exit_latency_part(&args));
    }
    if let Some(path) = &args.json {
        fs::write(path, format!("{{\n{}\n}}\n", parts.join(",\n"))).expect("write json");
        println!("\nwrote {path}");
    }
}

const FLAVOURS: [(&str, Option<usize>); 3] = [
    ("current_thread", None),
    ("multi_thread_1", Some(1)),
    ("multi_thread_2", Some(2)),
];

fn sep(i: usize) -> &'static str {
    if i == 0 {
        ""
    } else {
        ","
    }
}

fn idle(args: &Args) -> String {
    println!("idle: {} children, current_thread runtime", args.children);
    let mut json = format!(
        "  \"idle\": {{\"children\": {}, \"variants\": [",
        args.children
    );
    for (i, v) in ["procrun_tokio", "tokio", "reactor"].iter().enumerate() {
        let (threads, kib) = run_idle_variant(v, args.children);
        println!("  {v:<14} {kib:>8.3} KiB/child  {threads} threads added");
        let _ = write!(
            json,
            "{}\n    {{\"name\": \"{v}\", \"kib_per_child\": {kib:.4}, \"threads_added\": {threads}}}",
            sep(i)
        );
    }
    json + "\n  ]}"
}

fn spawn_reap_part(args: &Args) -> String {
    println!("\nspawn+reap: {} children of `true` at once", args.spawns);
    let mut json = format!(
        "  \"spawn_reap\": {{\"children\": {}, \"cases\": [",
        args.spawns
    );
    for (i, (name, workers)) in FLAVOURS.iter().enumerate() {
        let rt = runtime(*workers);
        let rates = spawn_reap(&rt, args.spawns, args.rounds);
        println!(
            "  {name:<16} procrun_tokio {:>8.0}/s  tokio {:>8.0}/s",
            rates[0], rates[1]
        );
        let _ = write!(
            json,
            "{}\n    {{\"runtime\": \"{name}\", \"procrun_tokio\": {:.1}, \"tokio\": {:.1}}}",
            sep(i),
            rates[0],
            rates[1]
        );
    }
    json + "\n  ]}"
}

/// The lines variants, in the order [`lines`] gives their figures.
const LINES_VARIANTS: [&str; 8] = [
    "procrun_tokio",
    "procrun_tokio_stream",
    "procrun_tokio_ref",
    "tokio_lines",
    "tokio_chunks",
    "reactor",
    "procrun_tokio_batch",
    "procrun_tokio_chunks",
];

fn lines_part(args: &Args) -> String {
    println!(
        "\nlines: {} MiB of 64-byte lines in all; GB/s (wall clock) and the consumer's CPU s/GB",
        args.lines_total >> 20
    );
    let mut json = format!(
        "  \"lines\": {{\"total_bytes\": {}, \"cases\": [",
        args.lines_total
    );
    let mut i = 0;
    for (name, workers) in [FLAVOURS[0], FLAVOURS[2]] {
        if args.lines_runtime.as_ref().is_some_and(|r| r != name) {
            continue;
        }
        let rt = runtime(workers);
        let want = |k: usize| {
            args.lines_variants
                .as_ref()
                .map_or(true, |vs| vs.iter().any(|v| v == LINES_VARIANTS[k]))
        };
        for &n in &args.lines_counts {
            let r = lines(&rt, n, args, want);
            let lines_cpu = r[3].1;
            println!("  {name} N={n}");
            let mut fields = String::new();
            for (k, (v, (gbps, cpu))) in LINES_VARIANTS.iter().zip(r).enumerate() {
                if !want(k) {
                    continue;
                }
                println!(
                    "    {v:<22} {gbps:>6.2} GB/s  {cpu:>7.3} CPU s/GB  (÷ tokio_lines CPU {:.2})",
                    cpu / lines_cpu
                );
                let _ = write!(
                    fields,
                    ", \"{v}\": {gbps:.4}, \"{v}_cpu_s_per_gb\": {cpu:.4}"
                );
            }
            let _ = write!(
                json,
                "{}\n    {{\"runtime\": \"{name}\", \"children\": {n}{fields}}}",
                sep(i)
            );
            i += 1;
        }
    }
    json + "\n  ]}"
}

fn exit_latency_part(args: &Args) -> String {
    let lat = exit_latency(args.iterations);
    println!("\nexit latency, {} runs: median / p99 µs", args.iterations);
    let mut json = format!(
        "  \"exit_latency\": {{\"iterations\": {}, \"variants\": [",
        args.iterations
    );
    for (i, (v, (median, p99))) in ["procrun_tokio", "tokio", "reactor"]
        .iter()
        .zip(&lat)
        .enumerate()
    {
        println!("  {v:<14} {median:>8.1} {p99:>8.1}");
        let _ = write!(
            json,
            "{}\n    {{\"name\": \"{v}\", \"median_us\": {median:.2}, \"p99_us\": {p99:.2}}}",
            sep(i)
        );
    }
    json + "\n  ]}"
}

fn runtime(workers: Option<usize>) -> Runtime {
    match workers {
        None => tokio::runtime::Builder::new_current_thread(),
        Some(w) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(w);
            b
        }
    }
    .enable_all()
    .build()
    .expect("runtime")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

// ---------------------------------------------------------------- idle

fn threads() -> usize {
    fs::read_dir("/proc/self/task").expect("tasks").count()
}

fn run_idle_variant(variant: &str, children: usize) -> (i64, f64) {
    let out = std::process::Command::new(std::env::current_exe().expect("current exe"))
        .args([
            "--idle-variant",
            variant,
            "--children",
            &children.to_string(),
        ])
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
    let kib = (field("rss_after_kib") - field("rss_before_kib")) as f64 / children as f64;
    (field("threads_added"), kib)
}

/// In a fresh process: `n` idle children the variant's way; the threads
/// added and RSS before and after. Every child is killed and reaped.
fn idle_variant(variant: &str, n: usize) -> (i64, u64, u64) {
    let mut sleep = Command::new("sleep");
    sleep.arg("1000");
    let rt = runtime(None);
    // The runtime, its I/O driver included, is the supervisor's own set-up
    // for both async variants: built before the first measure.
    rt.block_on(tokio::task::yield_now());
    let threads0 = threads();
    let before = rss_kib();
    let after = match variant {
        "procrun_tokio" => rt.block_on(async {
            let children: Vec<Child> = (0..n)
                .map(|_| procrun::tokio::spawn(&sleep).expect("spawn"))
                .collect();
            // The driver files every child's `Started`.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let after = rss_kib();
            for mut c in children {
                c.kill().expect("kill");
                c.wait().await.expect("wait");
            }
            after
        }),
        "tokio" => rt.block_on(async {
            let ready = Arc::new(AtomicUsize::new(0));
            let mut waits = Vec::with_capacity(n);
            for _ in 0..n {
                let mut child = tokio::process::Command::new("sleep")
                    .arg("1000")
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .kill_on_drop(true)
                    .spawn()
                    .expect("spawn");
                for pipe in [
                    Box::new(child.stdout.take().expect("stdout"))
                        as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                    Box::new(child.stderr.take().expect("stderr")),
                ] {
                    let ready = ready.clone();
                    tokio::spawn(async move {
                        use tokio::io::AsyncBufReadExt;
                        let mut lines = tokio::io::BufReader::new(pipe).lines();
                        ready.fetch_add(1, Ordering::SeqCst);
                        while let Ok(Some(line)) = lines.next_line().await {
                            std::hint::black_box(line);
                        }
                    });
                }
                waits.push(child);
            }
            while ready.load(Ordering::SeqCst) < 2 * n {
                tokio::task::yield_now().await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            let after = rss_kib();
            for mut c in waits {
                c.kill().await.expect("kill");
            }
            after
        }),
        "reactor" => {
            let mut reactor = Reactor::new().expect("reactor");
            for _ in 0..n {
                reactor.spawn(&sleep).expect("spawn");
            }
            reactor.poll(Some(Duration::ZERO), |_, _| {}).expect("poll");
            let after = rss_kib();
            // Dropping the reactor kills and reaps every child.
            drop(reactor);
            after
        }
        other => panic!("unknown variant {other}"),
    };
    let added = threads() as i64 - threads0 as i64;
    (added, before, after)
}

// ---------------------------------------------------------------- spawn

/// Children per second: procrun::tokio, tokio::process; rounds take turns.
fn spawn_reap(rt: &Runtime, n: usize, rounds: usize) -> [f64; 2] {
    let mut cmd = Command::new("true");
    cmd.stdout(Output::Null).stderr(Output::Null);
    let cmd = Arc::new(cmd);
    let mut rates = [Vec::new(), Vec::new()];
    for _ in 0..rounds {
        let t0 = Instant::now();
        rt.block_on(async {
            let tasks: Vec<_> = (0..n)
                .map(|_| {
                    let cmd = cmd.clone();
                    tokio::spawn(async move {
                        let exit = procrun::tokio::spawn(&cmd)
                            .expect("spawn")
                            .wait()
                            .await
                            .expect("wait");
                        assert!(exit.success());
                    })
                })
                .collect();
            for t in tasks {
                t.await.expect("task");
            }
        });
        rates[0].push(n as f64 / t0.elapsed().as_secs_f64());

        let t0 = Instant::now();
        rt.block_on(async {
            let tasks: Vec<_> = (0..n)
                .map(|_| {
                    tokio::spawn(async move {
                        let status = tokio::process::Command::new("true")
                            .stdin(Stdio::null())
                            .stdout(Stdio::null())
                            .stderr(Stdio::null())
                            .status()
                            .await
                            .expect("status");
                        assert!(status.success());
                    })
                })
                .collect();
            for t in tasks {
                t.await.expect("task");
            }
        });
        rates[1].push(n as f64 / t0.elapsed().as_secs_f64());
    }
    rates.map(median)
}

// ---------------------------------------------------------------- lines

/// This process's CPU time, user + system, every thread of it.
fn self_cpu() -> Duration {
    // SAFETY: an all-zero rusage is a valid value for getrusage to fill.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: ru is a valid, writable rusage.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) }, 0);
    [ru.ru_utime, ru.ru_stime]
        .iter()
        .map(|tv| Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000))
        .sum()
}

/// Per variant of [`LINES_VARIANTS`], the median GB/s and the median
/// consumer CPU seconds per GB.
fn lines(rt: &Runtime, n: usize, args: &Args, want: impl Fn(usize) -> bool) -> [(f64, f64); 8] {
    let (total, rounds) = (args.lines_total, args.rounds);
    let exe = std::env::current_exe().expect("current exe");
    let fifo = Fifo::new();
    let per = (total / n / LINE) * LINE;
    let expected = n * per / LINE;
    let bytes = (n * per) as f64;
    let mut cmd = harness::procrun_writer(&exe, &fifo, per);
    cmd.stderr(Output::Null);
    let mut rates: [Vec<f64>; 8] = Default::default();
    let mut cpus: [Vec<f64>; 8] = Default::default();
    let mut record = |k: usize, count: &mut dyn FnMut() -> usize| {
        let cpu0 = self_cpu();
        let took = harness::release_and_count(&fifo, n, expected, count);
        let cpu = (self_cpu() - cpu0).as_secs_f64();
        rates[k].push(bytes / took.as_secs_f64() / 1e9);
        cpus[k].push(cpu / (bytes / 1e9));
    };
    for _ in 0..rounds {
        // procrun::tokio, a task per child taking its lines, by
        // `next_line`, through the `Stream`, lent by `next_line_ref`, or
        // lent in batches by `next_lines`.
        for (k, how) in [
            (0, Take::Owned),
            (1, Take::Stream),
            (2, Take::Lent),
            (6, Take::Batch),
        ] {
            if !want(k) {
                continue;
            }
            let (pids, tasks) = rt.block_on(async {
                let mut pids = Vec::with_capacity(n);
                let mut tasks = Vec::with_capacity(n);
                for _ in 0..n {
                    let mut child = procrun::tokio::spawn(&cmd).expect("spawn");
                    pids.push(child.id().expect("pid"));
                    tasks.push(tokio::spawn(async move {
                        let count = match how {
                            Take::Owned => procrun_count_lines(&mut child).await,
                            Take::Stream => procrun_count_stream(&mut child).await,
                            Take::Lent => procrun_count_lent(&mut child).await,
                            Take::Batch => procrun_count_batches(&mut child).await,
                        };
                        assert!(child.wait().await.expect("wait").success());
                        count
                    }));
                }
                (pids, tasks)
            });
            pids.iter().for_each(|&p| bare::wait_blocked_in_read(p));
            let mut tasks = Some(tasks);
            record(k, &mut || {
                harness::tokio_sum(rt, tasks.take().expect("one count"))
            });
        }

        // procrun::tokio's raw stdout read as tokio's chunks are: an
        // `AsyncRead` in 256 KiB reads, newlines counted.
        if want(7) {
            let mut raw = cmd.clone();
            raw.stdout(Output::Raw);
            let (pids, tasks) = rt.block_on(async {
                let mut pids = Vec::with_capacity(n);
                let mut tasks = Vec::with_capacity(n);
                for _ in 0..n {
                    let mut child = procrun::tokio::spawn(&raw).expect("spawn");
                    pids.push(child.id().expect("pid"));
                    tasks.push(tokio::spawn(async move {
                        let stdout = child.take_stdout().expect("a raw stdout");
                        let count = harness::tokio_count_chunks(stdout).await;
                        assert!(child.wait().await.expect("wait").success());
                        count
                    }));
                }
                (pids, tasks)
            });
            pids.iter().for_each(|&p| bare::wait_blocked_in_read(p));
            let mut tasks = Some(tasks);
            record(7, &mut || {
                harness::tokio_sum(rt, tasks.take().expect("one count"))
            });
        }

        for (k, chunks) in [(3, false), (4, true)] {
            if !want(k) {
                continue;
            }
            let (pids, tasks) = harness::tokio_writers(rt, &exe, &fifo, per, n, chunks);
            pids.iter().for_each(|&p| bare::wait_blocked_in_read(p));
            let mut tasks = Some(tasks);
            record(k, &mut || {
                harness::tokio_sum(rt, tasks.take().expect("one count"))
            });
        }

        if !want(5) {
            continue;
        }
        let mut reactor = Reactor::new().expect("reactor");
        let pids: Vec<u32> = (0..n)
            .map(|_| {
                let id = reactor.spawn(&cmd).expect("spawn");
                reactor.pid(id).expect("pid")
            })
            .collect();
        pids.iter().for_each(|&p| bare::wait_blocked_in_read(p));
        record(5, &mut || harness::reactor_lines(&mut reactor));
    }
    let mut out = [(0.0, 0.0); 8];
    for (k, (r, c)) in rates.into_iter().zip(cpus).enumerate() {
        if !r.is_empty() {
            out[k] = (median(r), median(c));
        }
    }
    out
}

/// How a procrun::tokio variant takes its lines.
#[derive(Clone, Copy)]
enum Take {
    Owned,
    Stream,
    Lent,
    Batch,
}

/// Counts `child`'s lines lent in batches by `next_lines`.
async fn procrun_count_batches(child: &mut Child) -> usize {
    let mut count = 0;
    while let Some(batch) = child.next_lines().await.expect("lines") {
        for line in batch {
            std::hint::black_box(line.bytes());
            count += 1;
        }
    }
    count
}

/// Counts `child`'s lines lent by `next_line_ref`.
async fn procrun_count_lent(child: &mut Child) -> usize {
    let mut count = 0;
    while let Some(line) = child.next_line_ref().await.expect("line") {
        std::hint::black_box(line.bytes());
        count += 1;
    }
    count
}

/// Counts `child`'s lines taken by `next_line`.
async fn procrun_count_lines(child: &mut Child) -> usize {
    let mut count = 0;
    while let Some(line) = child.next_line().await.expect("line") {
        std::hint::black_box(line);
        count += 1;
    }
    count
}

/// Counts `child`'s lines taken through `lines()`, the `Stream`.
async fn procrun_count_stream(child: &mut Child) -> usize {
    use futures_core::Stream;
    let mut lines = child.lines();
    let mut count = 0;
    while let Some(line) = std::future::poll_fn(|cx| Pin::new(&mut lines).poll_next(cx)).await {
        std::hint::black_box(line.expect("line"));
        count += 1;
    }
    count
}

// ---------------------------------------------------------------- exit

/// Lets the runtime handle what the child did at its start before the
/// byte is written (dd puts `of=` in its stdout's place, so procrun sees
/// that pipe close): the check that the child is blocked is a blocking
/// call, which holds the runtime up meanwhile, where a supervisor would
/// have handled it as it came.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// Median and p99 in µs: procrun::tokio, tokio, the bare reactor.
fn exit_latency(iterations: usize) -> [(f64, f64); 3] {
    let fifo = Fifo::new();
    let args = [
        format!("if={}", fifo.path().display()),
        "of=/dev/null".into(),
        "bs=1".into(),
        "count=1".into(),
        "status=none".into(),
    ];
    let mut cmd = Command::new("dd");
    cmd.args(&args);
    let rt = runtime(None);
    let mut reactor = Reactor::new().expect("reactor");
    let mut samples: [Vec<f64>; 3] = Default::default();
    for _ in 0..iterations {
        samples[0].push(rt.block_on(async {
            let mut child = procrun::tokio::spawn(&cmd).expect("spawn");
            bare::wait_blocked_in_read(child.id().expect("pid"));
            settle().await;
            let t0 = Instant::now();
            fifo.release(1);
            child.wait().await.expect("wait");
            t0.elapsed().as_secs_f64() * 1e6
        }));
        samples[1].push(rt.block_on(async {
            let mut child = tokio::process::Command::new("dd")
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn");
            bare::wait_blocked_in_read(child.id().expect("pid"));
            settle().await;
            let t0 = Instant::now();
            fifo.release(1);
            child.wait().await.expect("wait");
            t0.elapsed().as_secs_f64() * 1e6
        }));
        let id = reactor.spawn(&cmd).expect("spawn");
        bare::wait_blocked_in_read(reactor.pid(id).expect("pid"));
        // What the child did at its start (dd puts `of=` in its stdout's
        // place, so that pipe has closed) is handled before the byte.
        let mut news = true;
        while news {
            news = false;
            reactor
                .poll(Some(Duration::ZERO), |_, _| news = true)
                .expect("poll");
        }
        let t0 = Instant::now();
        fifo.release(1);
        let mut t1 = None;
        while t1.is_none() {
            reactor
                .poll(None, |_, ev| {
                    if let Event::Done { .. } = ev {
                        t1 = Some(t0.elapsed());
                    }
                })
                .expect("poll");
        }
        samples[2].push(t1.expect("exited").as_secs_f64() * 1e6);
    }
    samples.map(|mut s| {
        s.sort_by(f64::total_cmp);
        let p99 = s[(s.len() * 99 / 100).min(s.len() - 1)];
        (s[s.len() / 2], p99)
    })
}
