//! Raw output: bytes exactly as the child wrote them, through the reactor's
//! `Output::Raw`, the handle API's byte readers and combined output.

use crate::common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::{temp_file, xorshift64, WATCHDOG};
use procrun::{ChildId, Command, Event, Output, Process, Reactor, Stream};

/// Random bytes, every value among them, with `\r\n`, `\r`, `\n` and `\0`
/// planted often and a last byte that is no `\n`.
fn binary(len: usize, seed: u64) -> Vec<u8> {
    let mut next = xorshift64(seed);
    let mut v: Vec<u8> = (0..len)
        .map(|_| {
            let x = next();
            match x % 16 {
                0 => b'\r',
                1 => b'\n',
                2 => 0,
                _ => (x >> 24) as u8,
            }
        })
        .collect();
    for i in (0..len.saturating_sub(2)).step_by(997) {
        v[i] = b'\r';
        v[i + 1] = b'\n';
    }
    if let Some(last) = v.last_mut() {
        *last = b'x';
    }
    v
}

/// What the reactor delivered of one child until its `Done`.
#[derive(Default)]
struct Seen {
    out: Vec<u8>,
    err: Vec<u8>,
    lines: usize,
    /// Bytes delivered after the exit event.
    after_exit: usize,
    exited: bool,
}

fn run_raw(
    reactor: &mut Reactor,
    id: ChildId,
    mut on_data: impl FnMut(&mut Reactor, usize),
) -> Seen {
    let mut seen = Seen::default();
    let deadline = Instant::now() + WATCHDOG;
    while reactor.contains(id) {
        assert!(Instant::now() < deadline, "watchdog: child not done");
        let mut got = 0;
        reactor
            .poll(Some(Duration::from_millis(200)), |_, ev| match ev {
                Event::Data { stream, bytes, .. } => {
                    assert!(!bytes.is_empty());
                    got += bytes.len();
                    if seen.exited {
                        seen.after_exit += bytes.len();
                    }
                    match stream {
                        Stream::Stdout => seen.out.extend_from_slice(bytes),
                        Stream::Stderr => seen.err.extend_from_slice(bytes),
                    }
                }
                Event::Line { .. } => seen.lines += 1,
                Event::Exited(_) => seen.exited = true,
                _ => {}
            })
            .unwrap();
        if got > 0 {
            on_data(reactor, got);
        }
    }
    seen
}

#[test]
fn raw_events_carry_binary_output_byte_for_byte_and_all_before_the_exit() {
    let data = binary(3 * 1024 * 1024 + 17, 1);
    let file = temp_file(&data);
    let mut reactor = Reactor::new().unwrap();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "cat \"$1\"; head -c 100000 \"$1\" >&2", "sh"])
        .arg(file.path())
        .stdout(Output::Raw)
        .stderr(Output::Raw)
        .timeout(WATCHDOG);
    let id = reactor.spawn(&cmd).unwrap();
    let seen = run_raw(&mut reactor, id, |_, _| {});
    assert_eq!(seen.out.len(), data.len());
    assert!(seen.out == data, "stdout differs");
    assert!(seen.err == data[..100_000], "stderr differs");
    assert_eq!((seen.lines, seen.after_exit), (0, 0));
    assert!(seen.exited);
}

#[test]
fn raw_and_line_streams_mix_in_one_child() {
    let mut reactor = Reactor::new().unwrap();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "printf 'a\\r\\nb'; printf 'x\\r\\ny' >&2"])
        .stdout(Output::Raw)
        .timeout(WATCHDOG);
    let id = reactor.spawn(&cmd).unwrap();
    let seen = run_raw(&mut reactor, id, |_, _| {});
    assert_eq!(seen.out, b"a\r\nb");
    // stderr stays in line mode: two lines, `\r\n` dropped.
    assert_eq!(seen.lines, 2);
}

#[test]
fn a_paused_raw_child_blocks_and_its_exit_waits_for_the_rest_of_its_output() {
    const TOTAL: usize = 8 * 1024 * 1024;
    let mut reactor = Reactor::new().unwrap();
    let mut cmd = Command::new("head");
    cmd.args(["-c", &TOTAL.to_string(), "/dev/zero"])
        .stdout(Output::Raw)
        .timeout(WATCHDOG);
    let id = reactor.spawn(&cmd).unwrap();
    let mut paused_at = None;
    let mut checked = false;
    let seen = run_raw(&mut reactor, id, |r, _| {
        if paused_at.is_none() {
            r.pause(id).unwrap();
            paused_at = Some(());
            // While paused nothing is read: the child fills its pipe and
            // blocks, and no exit can be delivered.
            let mut during = 0;
            for _ in 0..5 {
                r.poll(Some(Duration::from_millis(50)), |_, ev| match ev {
                    Event::Data { bytes, .. } => during += bytes.len(),
                    Event::Exited(_) => panic!("exit delivered while paused"),
                    _ => {}
                })
                .unwrap();
            }
            assert_eq!(during, 0, "read while paused");
            checked = true;
            r.resume(id).unwrap();
        }
    });
    assert!(checked);
    assert_eq!(seen.out.len(), TOTAL);
    assert!(seen.out.iter().all(|&b| b == 0));
    assert_eq!(seen.after_exit, 0);
}

#[test]
fn process_stdout_reader_returns_exactly_the_bytes_written() {
    let data = binary(1024 * 1024 + 3, 2);
    let file = temp_file(&data);
    let p = Process::builder()
        .command(["cat", file.path().to_str().unwrap()])
        .timeout(WATCHDOG)
        .build()
        .unwrap();
    p.start().unwrap();
    let mut got = Vec::new();
    p.stdout().unwrap().read_to_end(&mut got).unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "stdout differs");
    assert!(p.wait().unwrap().success());
    p.close().unwrap();
}

#[test]
fn process_lines_still_split_and_a_reader_of_the_other_stream_gets_its_bytes() {
    let p = Process::builder()
        .command(["sh", "-c", "printf 'one\\r\\ntwo'; printf 'e1\\r\\ne2' >&2"])
        .timeout(WATCHDOG)
        .build()
        .unwrap();
    p.start().unwrap();
    let mut err = Vec::new();
    p.stderr().unwrap().read_to_end(&mut err).unwrap();
    assert_eq!(err, b"e1\r\ne2");
    let mut out = p.stdout().unwrap();
    let lines: Vec<_> = std::iter::from_fn(|| out.next_line_blocking())
        .map(|l| l.bytes)
        .collect();
    assert_eq!(lines, [&b"one"[..], b"two"]);
    p.close().unwrap();
}

#[test]
fn combined_output_is_byte_exact_in_write_order() {
    let p = Process::builder()
        .command([
            "sh",
            "-c",
            "printf a; printf b >&2; printf 'c\\r\\n'; printf '\\0d' >&2",
        ])
        .timeout(WATCHDOG)
        .build()
        .unwrap();
    let out = p.start_and_wait_combined(Some(WATCHDOG)).unwrap();
    assert_eq!(out.output, b"abc\r\n\0d");
    assert!(out.exit.unwrap().success());
}

#[test]
fn combined_output_of_binary_data_is_byte_exact() {
    let data = binary(1024 * 1024 + 5, 3);
    let file = temp_file(&data);
    let p = Process::builder()
        .command([
            "sh",
            "-c",
            "head -c 500000 \"$1\"; tail -c +500001 \"$1\" >&2",
            "sh",
            file.path().to_str().unwrap(),
        ])
        .timeout(WATCHDOG)
        .build()
        .unwrap();
    let out = p.start_and_wait_combined(Some(WATCHDOG)).unwrap();
    assert!(out.output == data, "combined output differs");
}

#[test]
fn runner_output_is_byte_exact() {
    use procrun::{ExclusiveRunner, RunOptions, Runner};
    let out = ExclusiveRunner::new()
        .run_until_completion(
            "printf 'x\\r\\ny'; printf z >&2",
            RunOptions::timeout(WATCHDOG),
        )
        .unwrap();
    assert_eq!(out.output, b"x\r\nyz");
}
