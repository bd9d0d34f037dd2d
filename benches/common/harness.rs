//! What the spawn and lines benches of `cores.rs` and `scaling.rs` share.
//!
//! The lines benches release a set of writer children at once and time
//! them until every line is counted. A writer is the bench binary itself,
//! re-run in writer mode (chosen by environment variables, so every variant
//! runs the same writer): it parks reading the bench's FIFO, then writes
//! its bytes as 64-byte lines to stdout as fast as it can.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use procrun::{Event, Reactor};

use crate::bare::Fifo;

/// Bytes per line, `\n` included.
pub const LINE: usize = 64;

const ENV_FIFO: &str = "PROCRUN_BENCH_WRITER_FIFO";
const ENV_BYTES: &str = "PROCRUN_BENCH_WRITER_BYTES";

/// Runs this process as a writer if it was started as one ([`std_writer`],
/// [`procrun_writer`]), and says whether it was: `main` returns then.
pub fn run_if_writer() -> bool {
    let Some(fifo) = std::env::var_os(ENV_FIFO) else {
        return false;
    };
    let bytes = std::env::var(ENV_BYTES)
        .ok()
        .and_then(|b| b.parse().ok())
        .expect("byte count");
    writer(Path::new(&fifo), bytes);
    true
}

/// The writer side: waits for its byte on the FIFO, then writes `bytes`
/// bytes of lines.
fn writer(fifo: &Path, bytes: usize) {
    let mut f = File::open(fifo).expect("open fifo");
    let mut one = [0u8; 1];
    f.read_exact(&mut one).expect("release byte");
    let mut chunk = vec![b'x'; 64 * 1024];
    for line in chunk.chunks_mut(LINE) {
        line[LINE - 1] = b'\n';
    }
    let mut out = File::from(
        std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .expect("stdout"),
    );
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len());
        out.write_all(&chunk[..n]).expect("write");
        left -= n;
    }
}

/// `exe` (this bench) as a writer of `bytes` bytes parked on `fifo`, for
/// std or (converted) tokio: stdin null, stdout piped, stderr as given.
pub fn std_writer(exe: &Path, fifo: &Fifo, bytes: usize, stderr: Stdio) -> std::process::Command {
    let mut cmd = std::process::Command::new(exe);
    cmd.env(ENV_FIFO, fifo.path())
        .env(ENV_BYTES, bytes.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr);
    cmd
}

/// The same writer as a procrun command, with procrun's default stdio
/// (stdin null, stdout and stderr read as lines).
pub fn procrun_writer(exe: &Path, fifo: &Fifo, bytes: usize) -> procrun::Command {
    let mut cmd = procrun::Command::new(exe);
    cmd.env(ENV_FIFO, fifo.path())
        .env(ENV_BYTES, bytes.to_string());
    cmd
}

/// Releases the `n` writers parked on `fifo` and times `count` from there:
/// it must return once it has counted every line, which must be
/// `expected`. The writers must be blocked in their read already.
pub fn release_and_count(
    fifo: &Fifo,
    n: usize,
    expected: usize,
    count: impl FnOnce() -> usize,
) -> Duration {
    let t0 = Instant::now();
    fifo.release(n);
    let counted = count();
    let took = t0.elapsed();
    assert_eq!(counted, expected);
    took
}

/// Polls `reactor` until it supervises no child; the number of lines seen.
pub fn reactor_lines(reactor: &mut Reactor) -> usize {
    let mut count = 0;
    while !reactor.is_empty() {
        reactor
            .poll(None, |_, ev| {
                if let Event::Line { .. } = ev {
                    count += 1;
                }
            })
            .expect("poll");
    }
    count
}

/// Polls `reactor` until it supervises no child; the number of exits, each
/// of which must be a success.
pub fn reactor_exits(reactor: &mut Reactor) -> usize {
    let mut exits = 0;
    while !reactor.is_empty() {
        reactor
            .poll(None, |_, ev| {
                if let Event::Exited(e) = ev {
                    assert!(e.success());
                    exits += 1;
                }
            })
            .expect("poll");
    }
    exits
}

/// Counts the lines of `r` with tokio's `BufReader::lines`, as an agent on
/// tokio would read them.
pub async fn tokio_count_lines<R: tokio::io::AsyncRead + Unpin>(r: R) -> usize {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(r).lines();
    let mut count = 0;
    while let Some(line) = lines.next_line().await.expect("read") {
        std::hint::black_box(line);
        count += 1;
    }
    count
}

/// Awaits `tasks` on `rt`; the sum of what they return.
pub fn tokio_sum(
    rt: &tokio::runtime::Runtime,
    tasks: Vec<tokio::task::JoinHandle<usize>>,
) -> usize {
    rt.block_on(async {
        let mut count = 0;
        for t in tasks {
            count += t.await.expect("task");
        }
        count
    })
}

/// Counts the lines of `r` in 256 KiB reads: the best a tokio agent can
/// do without a line reader.
#[allow(dead_code)] // not every bench that shares this file reads chunks
pub async fn tokio_count_chunks<R: tokio::io::AsyncRead + Unpin>(mut r: R) -> usize {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 256 * 1024];
    let mut count = 0;
    loop {
        match r.read(&mut buf).await.expect("read") {
            0 => return count,
            k => count += memchr::memchr_iter(b'\n', &buf[..k]).count(),
        }
    }
}

/// Starts `n` writers of `bytes` each by `tokio::process` on `rt`, each
/// read by a task of its own that counts its stdout's lines (with
/// `BufReader::lines`, or in chunks) and waits for it; their pids and
/// those tasks.
#[allow(dead_code)] // as above
pub fn tokio_writers(
    rt: &tokio::runtime::Runtime,
    exe: &Path,
    fifo: &Fifo,
    bytes: usize,
    n: usize,
    chunks: bool,
) -> (Vec<u32>, Vec<tokio::task::JoinHandle<usize>>) {
    rt.block_on(async {
        let mut pids = Vec::with_capacity(n);
        let mut tasks = Vec::with_capacity(n);
        for _ in 0..n {
            let writer = std_writer(exe, fifo, bytes, Stdio::null());
            let mut child = tokio::process::Command::from(writer)
                .spawn()
                .expect("spawn");
            pids.push(child.id().expect("pid"));
            let out = child.stdout.take().expect("stdout");
            tasks.push(tokio::spawn(async move {
                let count = if chunks {
                    tokio_count_chunks(out).await
                } else {
                    tokio_count_lines(out).await
                };
                assert!(child.wait().await.expect("wait").success());
                count
            }));
        }
        (pids, tasks)
    })
}
