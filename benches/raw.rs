//! Raw output and streaming stdin, each beside its limit in the same run.
//!
//! `raw_output`: `cat` of a 128 MiB file of 64-byte lines read by the
//! reactor as lines, as raw data (`Output::Raw`), and by a plain `read`
//! loop on a pipe enlarged to 1 MiB (the limit).
//!
//! `stdin_stream`: 64 MiB streamed through `cat` and back: written with
//! `Reactor::write_stdin` and read as raw data on the same thread, against
//! plain blocking pipes (a writer thread, a reading loop), both pipes
//! enlarged to 1 MiB.

use std::fs::File;
use std::hint::black_box;
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use procrun::{Command, Error, Event, Input, Output, Reactor};

const FILE: usize = 128 * 1024 * 1024;
const LINE: usize = 64;
const FED: usize = 64 * 1024 * 1024;
const BIG_PIPE: libc::c_int = 1024 * 1024;

fn write_file(path: &Path) {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).unwrap());
    let mut line = [b'x'; LINE];
    line[LINE - 1] = b'\n';
    for _ in 0..FILE / LINE {
        out.write_all(&line).unwrap();
    }
    out.into_inner().unwrap().sync_all().unwrap();
}

/// `(read end, write end)` of a CLOEXEC pipe of 1 MiB.
fn big_pipe() -> (File, File) {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints for pipe2 to fill.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2 failed");
    // SAFETY: pipe2 succeeded, so both fds are open and owned by nobody else.
    let (r, w) = unsafe {
        (
            File::from(OwnedFd::from_raw_fd(fds[0])),
            File::from(OwnedFd::from_raw_fd(fds[1])),
        )
    };
    // SAFETY: F_SETPIPE_SZ takes an int argument; the fd is a live pipe.
    let got = unsafe { libc::fcntl(fds[0], libc::F_SETPIPE_SZ, BIG_PIPE) };
    assert!(got >= BIG_PIPE, "F_SETPIPE_SZ failed");
    (r, w)
}

fn raw_read(path: &Path, buf: &mut [u8]) -> usize {
    let (mut r, w) = big_pipe();
    let mut child = std::process::Command::new("cat")
        .arg(path)
        .stdout(Stdio::from(w))
        .spawn()
        .unwrap();
    let mut total = 0;
    loop {
        let n = r.read(buf).unwrap();
        if n == 0 {
            break;
        }
        total += n;
    }
    assert!(child.wait().unwrap().success());
    total
}

/// Bytes delivered (line content counts one more for its `\n`).
fn procrun_read(reactor: &mut Reactor, cmd: &Command) -> usize {
    reactor.spawn(cmd).unwrap();
    let mut total = 0;
    while !reactor.is_empty() {
        reactor
            .poll(None, |_, ev| match ev {
                Event::Line { line, .. } => total += line.len() + 1,
                Event::Data { bytes, .. } => total += bytes.len(),
                Event::Exited(e) => assert!(e.success()),
                _ => {}
            })
            .unwrap();
    }
    total
}

fn procrun_feed(reactor: &mut Reactor, cmd: &Command, data: &[u8]) -> usize {
    let id = reactor.spawn(cmd).unwrap();
    let (mut sent, mut back) = (0, 0);
    let mut closed = false;
    while !reactor.is_empty() {
        while sent < data.len() {
            match reactor.write_stdin(id, &data[sent..]) {
                Ok(n) => sent += n,
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("write_stdin: {e}"),
            }
        }
        if sent == data.len() && !closed {
            reactor.close_stdin(id).unwrap();
            closed = true;
        }
        reactor
            .poll(None, |_, ev| {
                if let Event::Data { bytes, .. } = ev {
                    back += bytes.len();
                }
            })
            .unwrap();
    }
    back
}

fn raw_feed(data: &'static [u8], buf: &mut [u8]) -> usize {
    let (child_in, mut w) = big_pipe();
    let (mut r, child_out) = big_pipe();
    let mut child = std::process::Command::new("cat")
        .stdin(Stdio::from(child_in))
        .stdout(Stdio::from(child_out))
        .spawn()
        .unwrap();
    let writer = std::thread::spawn(move || w.write_all(data).unwrap());
    let mut total = 0;
    loop {
        let n = r.read(buf).unwrap();
        if n == 0 {
            break;
        }
        total += n;
    }
    writer.join().unwrap();
    assert!(child.wait().unwrap().success());
    total
}

fn raw_output(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lines");
    write_file(&path);
    std::io::copy(&mut File::open(&path).unwrap(), &mut std::io::sink()).unwrap();

    let mut group = c.benchmark_group("raw_output");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Bytes(FILE as u64));
    let mut buf = vec![0u8; 1024 * 1024];
    group.bench_function("raw_read_1m_pipe", |b| {
        b.iter(|| assert_eq!(black_box(raw_read(&path, &mut buf)), FILE))
    });
    let mut reactor = Reactor::new().unwrap();
    let mut lines = Command::new("cat");
    lines.arg(&path);
    group.bench_function("procrun_lines", |b| {
        b.iter(|| assert_eq!(black_box(procrun_read(&mut reactor, &lines)), FILE))
    });
    let mut raw = lines.clone();
    raw.stdout(Output::Raw);
    group.bench_function("procrun_raw", |b| {
        b.iter(|| assert_eq!(black_box(procrun_read(&mut reactor, &raw)), FILE))
    });
    group.finish();
}

fn stdin_stream(c: &mut Criterion) {
    let data: &'static [u8] = Vec::leak((0..FED).map(|i| i as u8).collect());
    let mut group = c.benchmark_group("stdin_stream");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Bytes(FED as u64));
    let mut buf = vec![0u8; 1024 * 1024];
    group.bench_function("raw_pipes_writer_thread", |b| {
        b.iter(|| assert_eq!(black_box(raw_feed(data, &mut buf)), FED))
    });
    let mut reactor = Reactor::new().unwrap();
    let mut cmd = Command::new("cat");
    cmd.stdin(Input::Stream).stdout(Output::Raw);
    group.bench_function("procrun_write_stdin_raw", |b| {
        b.iter(|| assert_eq!(black_box(procrun_feed(&mut reactor, &cmd, data)), FED))
    });
    group.finish();
}

criterion_group!(benches, raw_output, stdin_stream);
criterion_main!(benches);
