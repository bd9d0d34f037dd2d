//! Streaming stdin: `Input::Stream` through the reactor (bounded queue,
//! `StdinReady`, `close_stdin`, `StdinClosed`) and `Process::stdin()`.

use crate::common;

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use common::{with_watchdog, WATCHDOG};
use procrun::{ChildId, Command, Error, Event, Input, Output, Process, Reactor, Signal, Stream};

/// What the reactor told about one child, as owned values.
#[derive(Default, Debug)]
struct Seen {
    out: Vec<u8>,
    lines: Vec<Vec<u8>>,
    ready: usize,
    /// `unwritten` of each `StdinClosed`, and whether it came before the
    /// exit.
    closed: Vec<(usize, bool)>,
    exit: Option<procrun::Exit>,
    done: bool,
}

fn poll(reactor: &mut Reactor, seen: &mut Seen, deadline: Instant) {
    assert!(Instant::now() < deadline, "watchdog: {seen:?}");
    reactor
        .poll(Some(Duration::from_millis(200)), |_, ev| match ev {
            Event::Data {
                stream: Stream::Stdout,
                bytes,
                ..
            } => seen.out.extend_from_slice(bytes),
            Event::Line { line, .. } => seen.lines.push(line.to_vec()),
            Event::StdinReady { .. } => seen.ready += 1,
            Event::StdinClosed { unwritten, .. } => {
                seen.closed.push((unwritten, seen.exit.is_none()))
            }
            Event::Exited(e) => seen.exit = Some(e),
            Event::Done { .. } => seen.done = true,
            _ => {}
        })
        .unwrap();
}

fn poll_until_done(reactor: &mut Reactor, seen: &mut Seen, deadline: Instant) {
    while !seen.done {
        poll(reactor, seen, deadline);
    }
}

fn is_kind(r: &procrun::Result<usize>, kind: io::ErrorKind) -> bool {
    matches!(r, Err(Error::Io(e)) if e.kind() == kind)
}

/// Once `id` is done, its stream is as closed as between runs, not
/// unknown: a write is a broken pipe.
#[track_caller]
fn assert_done_stdin_is_a_broken_pipe(reactor: &mut Reactor, id: ChildId) {
    assert!(is_kind(
        &reactor.write_stdin(id, b"x"),
        io::ErrorKind::BrokenPipe
    ));
}

fn streaming(program: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Input::Stream)
        .stdout(Output::Raw)
        .timeout(WATCHDOG);
    cmd
}

/// A started `Process` of `command` whose stdin is a stream.
fn started_streaming(command: &[&str]) -> Process {
    let p = Process::builder()
        .command(command.iter().copied())
        .stdin_stream()
        .timeout(WATCHDOG)
        .build()
        .unwrap();
    p.start().unwrap();
    p
}

#[test]
fn cat_fed_ten_mib_in_chunks_echoes_it_back_exactly() {
    const TOTAL: usize = 10 * 1024 * 1024;
    let data: Vec<u8> = (0..TOTAL).map(|i| (i * 7 + i / 4093) as u8).collect();
    let mut reactor = Reactor::new().unwrap();
    let id = reactor.spawn(&streaming("cat", &[])).unwrap();
    let mut seen = Seen::default();
    let deadline = Instant::now() + WATCHDOG;
    let (mut sent, mut refused) = (0, 0);
    while sent < TOTAL {
        let end = (sent + 300_000).min(TOTAL);
        match reactor.write_stdin(id, &data[sent..end]) {
            Ok(n) => {
                assert!(n > 0 && n <= end - sent);
                sent += n;
            }
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                // Full: nothing was taken, and room is announced.
                refused += 1;
                let before = seen.ready;
                while seen.ready == before {
                    poll(&mut reactor, &mut seen, deadline);
                }
            }
            Err(e) => panic!("write_stdin: {e}"),
        }
        // cat's output must be read, or it blocks and stops reading too.
        reactor
            .poll(Some(Duration::ZERO), |_, ev| {
                if let Event::Data { bytes, .. } = ev {
                    seen.out.extend_from_slice(bytes);
                }
            })
            .unwrap();
    }
    reactor.close_stdin(id).unwrap();
    poll_until_done(&mut reactor, &mut seen, deadline);
    assert_eq!(seen.out.len(), TOTAL);
    assert!(seen.out == data, "echo differs");
    assert_eq!(seen.closed, [(0, true)]);
    assert!(seen.exit.unwrap().success());
    assert!(refused == 0 || seen.ready > 0);
    assert_done_stdin_is_a_broken_pipe(&mut reactor, id);
}

#[test]
fn lines_of_a_child_fed_over_time_come_back_one_by_one() {
    let mut reactor = Reactor::new().unwrap();
    let mut cmd = Command::new("bash");
    cmd.arg("-s").stdin(Input::Stream).timeout(WATCHDOG);
    let id = reactor.spawn(&cmd).unwrap();
    let mut seen = Seen::default();
    let deadline = Instant::now() + WATCHDOG;
    for i in 0..5 {
        let script = format!("echo line {i}\n");
        assert_eq!(
            reactor.write_stdin(id, script.as_bytes()).unwrap(),
            script.len()
        );
        while seen.lines.len() <= i {
            poll(&mut reactor, &mut seen, deadline);
        }
        assert_eq!(seen.lines[i], format!("line {i}").into_bytes());
    }
    reactor.write_stdin(id, b"exit 3\n").unwrap();
    poll_until_done(&mut reactor, &mut seen, deadline);
    assert_eq!(seen.exit.unwrap().code(), Some(3));
}

#[test]
fn a_child_that_exits_with_input_queued_drops_it_reports_it_and_later_writes_get_broken_pipe() {
    let mut reactor = Reactor::new().unwrap();
    // Reads nothing: the pipe fills, then the queue.
    let id = reactor.spawn(&streaming("sleep", &["60"])).unwrap();
    let chunk = vec![b'z'; 256 * 1024];
    let mut queued = 0;
    loop {
        match reactor.write_stdin(id, &chunk) {
            Ok(n) => queued += n,
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("write_stdin: {e}"),
        }
        assert!(queued < 64 * 1024 * 1024, "the queue never filled");
    }
    reactor.kill(id).unwrap();
    let mut seen = Seen::default();
    let deadline = Instant::now() + WATCHDOG;
    poll_until_done(&mut reactor, &mut seen, deadline);
    assert_eq!(seen.exit.unwrap().signal(), Some(Signal::KILL));
    assert_eq!(seen.closed.len(), 1);
    let (unwritten, before_exit) = seen.closed[0];
    assert!(before_exit);
    assert!(unwritten >= 512 * 1024, "only {unwritten} reported dropped");
    assert_done_stdin_is_a_broken_pipe(&mut reactor, id);
}

#[test]
fn head_fed_more_than_it_reads_ends_the_stream_and_nothing_hangs() {
    let mut reactor = Reactor::new().unwrap();
    let id = reactor.spawn(&streaming("head", &["-c", "10"])).unwrap();
    let chunk = vec![b'y'; 64 * 1024];
    let mut seen = Seen::default();
    let deadline = Instant::now() + WATCHDOG;
    // Written until the stream breaks: refused while full, then broken.
    loop {
        let r = reactor.write_stdin(id, &chunk);
        if is_kind(&r, io::ErrorKind::BrokenPipe) {
            break;
        }
        if r.is_err() {
            assert!(
                is_kind(&r, io::ErrorKind::WouldBlock) || matches!(r, Err(Error::UnknownChild)),
                "{r:?}"
            );
            if matches!(r, Err(Error::UnknownChild)) {
                break;
            }
            poll(&mut reactor, &mut seen, deadline);
        }
    }
    poll_until_done(&mut reactor, &mut seen, deadline);
    assert_eq!(seen.out, b"yyyyyyyyyy");
    assert_eq!(seen.closed.len(), 1, "{seen:?}");
}

#[test]
fn stdin_calls_on_a_child_without_a_stream_are_typed_errors() {
    let mut reactor = Reactor::new().unwrap();
    let mut cmd = Command::new("cat");
    cmd.stdin_bytes(&b"fixed"[..]).timeout(WATCHDOG);
    let id = reactor.spawn(&cmd).unwrap();
    assert!(matches!(reactor.write_stdin(id, b"x"), Err(Error::NoStdin)));
    assert!(matches!(reactor.close_stdin(id), Err(Error::NoStdin)));
    let s = reactor.spawn(&streaming("cat", &[])).unwrap();
    assert_eq!(reactor.write_stdin(s, b"").unwrap(), 0);
    reactor.close_stdin(s).unwrap();
    reactor.close_stdin(s).unwrap();
    assert!(is_kind(
        &reactor.write_stdin(s, b"x"),
        io::ErrorKind::BrokenPipe
    ));
    let mut seen = Seen::default();
    let deadline = Instant::now() + WATCHDOG;
    while !reactor.is_empty() {
        poll(&mut reactor, &mut seen, deadline);
    }
    // Done: writing is a broken pipe, closing does nothing (as stopping
    // a done child does); only another reactor's id is unknown.
    assert!(is_kind(
        &reactor.write_stdin(s, b"x"),
        io::ErrorKind::BrokenPipe
    ));
    reactor.close_stdin(s).unwrap();
    reactor.close_stdin(id).unwrap();
    let stranger = Reactor::new()
        .unwrap()
        .spawn(&streaming("cat", &[]))
        .unwrap();
    assert!(matches!(
        reactor.write_stdin(stranger, b"x"),
        Err(Error::UnknownChild)
    ));
    assert!(matches!(
        reactor.close_stdin(stranger),
        Err(Error::UnknownChild)
    ));
}

#[test]
fn process_stdin_copied_into_wc_counts_every_byte() {
    with_watchdog(|| {
        const TOTAL: usize = 5 * 1024 * 1024 + 7;
        let p = started_streaming(&["wc", "-c"]);
        let mut stdin = p.stdin().unwrap();
        assert!(matches!(p.stdin(), Err(Error::NoStdin)), "a second writer");
        let copied = io::copy(&mut io::repeat(b'q').take(TOTAL as u64), &mut stdin).unwrap();
        assert_eq!(copied, TOTAL as u64);
        drop(stdin);
        let mut out = String::new();
        p.stdout().unwrap().read_to_string(&mut out).unwrap();
        assert_eq!(out.trim(), TOTAL.to_string());
        assert!(p.wait().unwrap().success());
        p.close().unwrap();
    });
}

#[test]
fn process_stdin_to_a_child_that_stops_reading_gets_broken_pipe() {
    with_watchdog(|| {
        let p = started_streaming(&["head", "-c", "10"]);
        let mut stdin = p.stdin().unwrap();
        let err: io::Result<()> = stdin.write_all(&vec![b'h'; 1024 * 1024]).and_then(|()| {
            // All of it may fit in pipe and queue before head exits: the
            // stream breaks for the next write, at the latest.
            loop {
                stdin.write_all(b"more")?;
            }
        });
        assert_eq!(err.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
        let mut out = Vec::new();
        p.stdout().unwrap().read_to_end(&mut out).unwrap();
        assert_eq!(out, b"hhhhhhhhhh");
        assert!(p.wait().unwrap().success());
        p.close().unwrap();
    });
}

#[test]
fn process_bash_s_fed_commands_over_time() {
    with_watchdog(|| {
        let p = started_streaming(&["bash", "-s"]);
        let mut stdin = p.stdin().unwrap();
        let mut out = p.stdout().unwrap();
        for i in 0..3 {
            writeln!(stdin, "echo step {i}").unwrap();
            let line = out.next_line_blocking().unwrap();
            assert_eq!(line.to_string_lossy(), format!("step {i}"));
        }
        drop(stdin);
        assert!(out.next_line_blocking().is_none());
        assert!(p.wait().unwrap().success());
        p.close().unwrap();
    });
}

#[test]
fn process_stdin_errors_are_typed_and_close_ends_a_blocked_writer() {
    with_watchdog(|| {
        let p = Process::builder().command(["cat"]).build().unwrap();
        assert!(matches!(p.stdin(), Err(Error::NotStarted)));
        p.start().unwrap();
        assert!(matches!(p.stdin(), Err(Error::NoStdin)));
        p.close().unwrap();

        // Reads nothing, so a writer fills pipe and queue and blocks; a
        // close from another thread ends it.
        let p = std::sync::Arc::new(
            Process::builder()
                .command(["sleep", "60"])
                .stdin_stream()
                .build()
                .unwrap(),
        );
        p.start().unwrap();
        let mut stdin = p.stdin().unwrap();
        let writer = std::thread::spawn(move || stdin.write_all(&vec![0; 64 * 1024 * 1024]));
        // Let the writer fill what it can; the close must end it anyway.
        // Not needed for the check, only to let the writer fill and block
        // first most of the time: the close must end it either way.
        std::thread::sleep(Duration::from_millis(100));
        p.close().unwrap();
        let err = writer.join().unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    });
}

#[test]
fn a_full_queue_refuses_then_announces_room_once_the_child_reads_again() {
    let mut reactor = Reactor::new().unwrap();
    let mut cmd = streaming("cat", &[]);
    cmd.stdout(Output::Null);
    let id = reactor.spawn(&cmd).unwrap();
    // A stopped child reads nothing: pipe and queue fill for sure.
    reactor.signal(id, Signal::STOP).unwrap();
    let chunk = vec![b's'; 256 * 1024];
    let mut taken = 0;
    let refused = loop {
        match reactor.write_stdin(id, &chunk) {
            Ok(n) => taken += n,
            Err(e) => break e,
        }
    };
    assert!(matches!(&refused, Error::Io(e) if e.kind() == io::ErrorKind::WouldBlock));
    // Pipe (grown to at most 1 MiB) plus the 1 MiB queue.
    assert!(
        (1024 * 1024..=2 * 1024 * 1024 + 256 * 1024).contains(&taken),
        "{taken}"
    );
    let mut seen = Seen::default();
    let deadline = Instant::now() + WATCHDOG;
    reactor.signal(id, Signal::CONT).unwrap();
    while seen.ready == 0 {
        poll(&mut reactor, &mut seen, deadline);
    }
    assert!(reactor.write_stdin(id, &chunk).unwrap() > 0);
    reactor.close_stdin(id).unwrap();
    poll_until_done(&mut reactor, &mut seen, deadline);
    assert_eq!(seen.ready, 1);
    assert_eq!(seen.closed, [(0, true)]);
    assert!(seen.exit.unwrap().success());
}

#[test]
fn a_restarted_run_gets_a_stream_of_its_own() {
    #[derive(Default, Debug)]
    struct Runs {
        starts: Vec<u32>,
        lines: Vec<Vec<u8>>,
        exits: usize,
        done: bool,
    }
    fn poll(reactor: &mut Reactor, runs: &mut Runs, deadline: Instant) {
        assert!(Instant::now() < deadline, "watchdog: {runs:?}");
        reactor
            .poll(Some(Duration::from_millis(200)), |_, ev| match ev {
                Event::Started { restarts, .. } => runs.starts.push(restarts),
                Event::Line { line, .. } => runs.lines.push(line.to_vec()),
                Event::Exited(e) => {
                    assert_eq!(e.code(), Some(1), "{e}");
                    runs.exits += 1;
                }
                Event::Done { .. } => runs.done = true,
                _ => {}
            })
            .unwrap();
    }

    // Each run reads one line and fails. bash's `read` takes a pipe byte by
    // byte, so what the first run leaves unread stays in its pipe: were the
    // stream carried over, the second run would read "leftover".
    let mut cmd = Command::new("bash");
    cmd.args(["-c", r#"read -r line; echo "run $line"; exit 1"#])
        .stdin(Input::Stream)
        .restart(
            procrun::Restart::on_error()
                .limit(1)
                .interval(Duration::from_millis(200)),
        )
        .timeout(WATCHDOG);
    let mut reactor = Reactor::new().unwrap();
    let id = reactor.spawn(&cmd).unwrap();
    assert_eq!(reactor.write_stdin(id, b"one\nleftover\n").unwrap(), 13);
    let deadline = Instant::now() + WATCHDOG;
    let mut runs = Runs::default();
    while runs.exits == 0 {
        poll(&mut reactor, &mut runs, deadline);
    }
    // Between the runs (the restart waits 200 ms, and nothing happens
    // between polls) there is no stream to write to.
    assert!(is_kind(
        &reactor.write_stdin(id, b"lost\n"),
        io::ErrorKind::BrokenPipe
    ));
    while runs.starts.len() < 2 {
        poll(&mut reactor, &mut runs, deadline);
    }
    assert_eq!(reactor.write_stdin(id, b"two\n").unwrap(), 4);
    while !runs.done {
        poll(&mut reactor, &mut runs, deadline);
    }
    assert_eq!(runs.lines, [&b"run one"[..], b"run two"]);
    assert_eq!(runs.starts, [0, 1]);
    assert_eq!(runs.exits, 2);
}

#[test]
fn bytes_fed_stdin_closes_with_the_run_while_an_outsider_holds_it_unread() {
    // The run hands its stdin to a `setsid` sleep (out of its group, so
    // the run's end does not kill it), which never reads; 1 MiB of input
    // cannot all fit in the pipe. The pipe is the run's: it must close at
    // the reap, not when the outsider goes.
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        // Waits until the outsider has left the run's session (its
        // session id becomes its pid), or the run's end would kill it.
        "exec 3<&0; setsid sleep 60 <&3 >/dev/null 2>&1 & p=$!; \
         until [ \"$(cut -d' ' -f6 /proc/$p/stat)\" = \"$p\" ]; do :; done; \
         echo $p; exit 0",
    ])
    .stdin_bytes(vec![b'x'; 1 << 20])
    .timeout(WATCHDOG);
    let mut reactor = Reactor::new().unwrap();
    reactor.spawn(&cmd).unwrap();
    let mut seen = Seen::default();
    let deadline = Instant::now() + WATCHDOG;
    poll_until_done(&mut reactor, &mut seen, deadline);
    let outsider: u32 = String::from_utf8(seen.lines[0].clone())
        .unwrap()
        .parse()
        .unwrap();
    let _guard = common::KillOnDrop(outsider);
    assert!(seen.exit.unwrap().success());
    let held = std::fs::read_link(format!("/proc/{outsider}/fd/0")).unwrap();
    assert!(held.to_string_lossy().starts_with("pipe:"), "{held:?}");
    let ours: Vec<_> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
        .collect();
    assert!(
        !ours.contains(&held),
        "the run's stdin pipe {held:?} is still open after Done"
    );
}

/// `cat` fed through [`Process::stdin`], restarted once after it exits.
fn restarting_cat() -> Process {
    Process::builder()
        .command(["cat"])
        .stdin_stream()
        .restart(
            procrun::Restart::always()
                .limit(1)
                .interval(Duration::from_millis(10)),
        )
        .timeout(WATCHDOG)
        .build()
        .unwrap()
}

fn next_line(out: &mut procrun::StreamReader) -> String {
    out.next_line_blocking()
        .expect("a line before the end")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn process_stdin_is_one_writer_per_run_and_a_restarted_run_is_fed_by_a_new_one() {
    with_watchdog(|| {
        let p = restarting_cat();
        p.start().unwrap();
        let mut out = p.stdout().unwrap();
        let mut first = p.stdin().unwrap();
        assert!(matches!(p.stdin(), Err(Error::NoStdin)), "one per run");
        first.write_all(b"one\n").unwrap();
        drop(first); // EOF: the run exits 0 and is restarted
        assert_eq!(next_line(&mut out), "one");
        let exit = p.exits().next().unwrap();
        assert!(exit.success() && exit.restart_in().is_some(), "{exit}");

        // Taken as soon as the first run exited: it waits for the second.
        let mut second = p.stdin().unwrap();
        assert!(matches!(p.stdin(), Err(Error::NoStdin)), "one per run");
        second.write_all(b"two\n").unwrap();
        assert_eq!(next_line(&mut out), "two");
        drop(second);
        let last = p.wait().unwrap();
        assert!(last.success() && last.restarts() == 1, "{last}");
        assert!(out.next_line_blocking().is_none());
        p.close().unwrap();
    });
}

#[test]
fn a_writer_of_an_earlier_run_gets_broken_pipe_and_its_drop_leaves_the_new_stream_open() {
    with_watchdog(|| {
        let p = restarting_cat();
        p.start().unwrap();
        let mut out = p.stdout().unwrap();
        let first_pid = p.pid().unwrap();
        let mut old = p.stdin().unwrap();
        old.write_all(b"one\n").unwrap();
        assert_eq!(next_line(&mut out), "one");
        // The run ends with its writer still held.
        p.kill().unwrap();
        let deadline = Instant::now() + WATCHDOG;
        while p.pid() == Some(first_pid) {
            assert!(Instant::now() < deadline, "watchdog: no restart");
            std::thread::sleep(Duration::from_millis(5));
        }
        // The second run is up: the old writer must not reach its stream.
        let err = old.write_all(b"stray\n").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        drop(old);

        let mut new = p.stdin().unwrap();
        new.write_all(b"two\n").unwrap();
        // Arrives (and nothing stray before it): the stream is open and
        // only the new writer feeds it.
        assert_eq!(next_line(&mut out), "two");
        drop(new);
        let last = p.wait().unwrap();
        assert!(last.success() && last.restarts() == 1, "{last}");
        p.close().unwrap();
    });
}
