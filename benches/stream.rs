//! Line throughput from a child: `cat` of a file of 64-byte lines, read as
//! lines by procrun's reactor, by std::process (a reader thread with
//! `BufRead::read_until`, and with `BufRead::lines`), by tokio::process (a
//! current-thread runtime, `AsyncBufReadExt::lines`) and by the raw limit: a
//! plain `read` loop with a 1 MiB buffer on a pipe enlarged to 1 MiB before
//! the spawn, counting newlines with memchr. The same raw loop on a default
//! 64 KiB pipe shows what the pipe size alone costs.
//!
//! Every variant spawns its own `cat`, so the spawn is in every number; at
//! this size it is well under 1% of the time. The file is written once to
//! a temporary directory and read from the page cache.

use std::fs::File;
use std::hint::black_box;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use memchr::memchr_iter;
use procrun::{Command, Event, Reactor, Stream};

/// Size of the streamed file.
const TOTAL: usize = 256 * 1024 * 1024;
/// Bytes per line, `\n` included.
const LINE: usize = 64;
const LINES: usize = TOTAL / LINE;
const BIG_PIPE: libc::c_int = 1024 * 1024;

/// Writes `LINES` lines of printable bytes, each `LINE` bytes long.
fn write_file(path: &Path) {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).unwrap());
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let mut line = [0u8; LINE];
    for _ in 0..LINES {
        for b in &mut line[..LINE - 1] {
            // xorshift64: cheap bytes that vary from line to line.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = b' ' + (x % 94) as u8;
        }
        line[LINE - 1] = b'\n';
        out.write_all(&line).unwrap();
    }
    out.into_inner().unwrap().sync_all().unwrap();
}

/// `(read end, write end)` of a CLOEXEC pipe, enlarged to `size` bytes when
/// given.
fn raw_pipe(size: Option<libc::c_int>) -> (File, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints for pipe2 to fill.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2 failed");
    // SAFETY: pipe2 succeeded, so both fds are open and owned by nobody else.
    let (r, w) = unsafe { (File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    if let Some(size) = size {
        // SAFETY: F_SETPIPE_SZ takes an int argument; the fd is a live pipe.
        let got = unsafe { libc::fcntl(fds[0], libc::F_SETPIPE_SZ, size) };
        assert!(got >= size, "F_SETPIPE_SZ failed");
    }
    (r, w)
}

/// Lines and content bytes (without the `\n`) read by the raw loop.
fn raw_read(path: &Path, pipe_size: Option<libc::c_int>, buf: &mut [u8]) -> (usize, usize) {
    let (mut r, w) = raw_pipe(pipe_size);
    let mut child = std::process::Command::new("cat")
        .arg(path)
        .stdout(Stdio::from(w))
        .spawn()
        .unwrap();
    let (mut lines, mut bytes) = (0, 0);
    loop {
        let n = r.read(buf).unwrap();
        if n == 0 {
            break;
        }
        lines += memchr_iter(b'\n', &buf[..n]).count();
        bytes += n;
    }
    assert!(child.wait().unwrap().success());
    (lines, bytes - lines)
}

fn procrun_read(reactor: &mut Reactor, cmd: &Command) -> (usize, usize) {
    reactor.spawn(cmd).unwrap();
    let (mut lines, mut bytes) = (0, 0);
    while !reactor.is_empty() {
        reactor
            .poll(None, |_, ev| match ev {
                Event::Line {
                    stream: Stream::Stdout,
                    line,
                    ..
                } => {
                    lines += 1;
                    bytes += line.len();
                }
                Event::Exited(e) => assert!(e.success()),
                _ => {}
            })
            .unwrap();
    }
    (lines, bytes)
}

fn std_read(path: &Path, use_lines: bool) -> (usize, usize) {
    let mut child = std::process::Command::new("cat")
        .arg(path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    // One reader thread per pipe, as a std user who must not block the
    // caller (or deadlock on a second pipe) writes it.
    let reader = std::thread::spawn(move || {
        let mut out = BufReader::new(out);
        let (mut lines, mut bytes) = (0, 0);
        if use_lines {
            for line in out.lines() {
                lines += 1;
                bytes += line.unwrap().len();
            }
        } else {
            let mut line = Vec::new();
            while out.read_until(b'\n', &mut line).unwrap() != 0 {
                lines += 1;
                bytes += line.len() - (line.last() == Some(&b'\n')) as usize;
                line.clear();
            }
        }
        (lines, bytes)
    });
    let counts = reader.join().unwrap();
    assert!(child.wait().unwrap().success());
    counts
}

async fn tokio_read(path: &Path) -> (usize, usize) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new("cat")
        .arg(path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut lines, mut bytes) = (0, 0);
    while let Some(line) = out.next_line().await.unwrap() {
        lines += 1;
        bytes += line.len();
    }
    assert!(child.wait().await.unwrap().success());
    (lines, bytes)
}

fn stream(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lines");
    write_file(&path);
    // Pull the file into the page cache before anything is timed.
    std::io::copy(&mut File::open(&path).unwrap(), &mut std::io::sink()).unwrap();
    let expected = (LINES, LINES * (LINE - 1));

    let mut group = c.benchmark_group("stream_64b_lines");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Bytes(TOTAL as u64));

    let mut buf = vec![0u8; 1024 * 1024];
    group.bench_function("raw_read_1m_pipe", |b| {
        b.iter(|| {
            assert_eq!(
                black_box(raw_read(&path, Some(BIG_PIPE), &mut buf)),
                expected
            )
        })
    });

    let mut reactor = Reactor::new().unwrap();
    let mut cmd = Command::new("cat");
    cmd.arg(&path);
    group.bench_function("procrun", |b| {
        b.iter(|| assert_eq!(black_box(procrun_read(&mut reactor, &cmd)), expected))
    });

    group.bench_function("raw_read_64k_pipe", |b| {
        b.iter(|| assert_eq!(black_box(raw_read(&path, None, &mut buf)), expected))
    });

    group.bench_function("std_read_until_thread", |b| {
        b.iter(|| assert_eq!(black_box(std_read(&path, false)), expected))
    });

    group.bench_function("std_lines_thread", |b| {
        b.iter(|| assert_eq!(black_box(std_read(&path, true)), expected))
    });

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    group.bench_function("tokio_lines", |b| {
        b.iter(|| assert_eq!(black_box(rt.block_on(tokio_read(&path))), expected))
    });
    group.finish();
}

criterion_group!(benches, stream);
criterion_main!(benches);
