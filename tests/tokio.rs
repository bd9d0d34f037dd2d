//! The async API (`procrun::tokio`) on both runtime flavours, with the
//! cases of tokio's own process tests it mirrors named after them
//! (`process_smoke`, `process_kill_on_drop`, `process_kill_after_wait`,
//! `process_issue_42`, `process_issue_2174`, `process_change_of_runtime`,
//! `process_arg0`) and the examples of tokio::process's docs
//! (`tokio_doc_example_*`). Not ported: `process_raw_handle` (Windows).

mod common;

use std::future::Future;
use std::time::{Duration, Instant};

use common::{proc_state, sh, watchdog};
use procrun::tokio::{Child, Driver};
use procrun::{Command, Input, Output, Signal};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Runs `test` on a `current_thread` runtime, then on a `multi_thread` one
/// with two workers, each under the watchdog.
fn both<F, Fut>(test: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for (flavour, rt) in [("current_thread", current), ("multi_thread", multi)] {
        rt.block_on(async {
            tokio::time::timeout(watchdog(), test())
                .await
                .unwrap_or_else(|_| panic!("hung on the {flavour} runtime"))
        });
    }
}

/// Waits (polling /proc, with the watchdog) until `pid` is gone: not even
/// a zombie, so reaped.
async fn wait_reaped(pid: u32) {
    let deadline = Instant::now() + watchdog();
    while proc_state(pid).is_some() {
        assert!(Instant::now() < deadline, "pid {pid} not reaped");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn line(child: &mut Child) -> String {
    let line = child.next_line().await.unwrap().expect("a line");
    line.to_string_lossy().into_owned()
}

#[test]
fn handles_are_send_and_static() {
    fn send_static<T: Send + Sync + 'static>() {}
    send_static::<Child>();
    send_static::<Driver>();
}

// process_smoke.rs: `simple`.
#[test]
fn simple() {
    both(|| async {
        // The reactor reaps a child as soon as it exits, so the child
        // waits for its stdin's EOF: its pid is read while it surely runs.
        let mut cmd = sh("read _; exit 2");
        cmd.stdin(Input::Stream);
        let mut child = procrun::tokio::spawn(&cmd).unwrap();
        let stdin = child.take_stdin().unwrap();
        let pid = child.id().expect("a pid while it runs");
        assert!(pid > 0);
        drop(stdin);
        let exit = child.wait().await.unwrap();
        assert_eq!(exit.code(), Some(2));
        assert_eq!(exit.pid(), pid);
        // Reaped: the pid is no longer the child's to give.
        assert_eq!(child.id(), None);
        child.kill().unwrap();
    });
}

// process_kill_on_drop.rs: `kill_on_drop`. tokio kills the child alone and
// its disowned background child lives on; procrun kills the child's
// process group, so both are gone and reaped.
#[test]
fn kill_on_drop() {
    both(|| async {
        let mut child = procrun::tokio::spawn(&sh(
            "sleep 300 & echo $!; echo ready; sleep 300; echo hello from beyond the grave",
        ))
        .unwrap();
        let pid = child.id().unwrap();
        let background: u32 = line(&mut child).await.parse().unwrap();
        assert_eq!(line(&mut child).await, "ready");
        drop(child);
        wait_reaped(pid).await;
        // Not our child to reap: its end shows as gone or a zombie of
        // init's.
        common::wait_dead(background);
    });
}

#[test]
fn kill_on_drop_false_leaves_the_child_running_and_reaps_it() {
    both(|| async {
        let mut child = procrun::tokio::spawn(&sh("echo ready; sleep 1")).unwrap();
        child.kill_on_drop(false);
        let pid = child.id().unwrap();
        assert_eq!(line(&mut child).await, "ready");
        let dropped = Instant::now();
        drop(child);
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Checked only while the child's own second is surely not over (a
        // slow machine may take longer to get here).
        if dropped.elapsed() < Duration::from_millis(900) {
            assert!(
                matches!(proc_state(pid), Some(s) if s != 'Z'),
                "the child ran on after its handle was dropped"
            );
        }
        wait_reaped(pid).await;
    });
}

// process_kill_after_wait.rs: `kill_after_wait`.
#[test]
fn kill_after_wait() {
    both(|| async {
        let mut child = procrun::tokio::spawn(Command::new("sleep").arg("2")).unwrap();
        child.kill().unwrap();
        let exit = child.wait().await.unwrap();
        assert_eq!(exit.signal(), Some(Signal::KILL));
        // Killing a child that is done is a no-op, not an error.
        child.kill().unwrap();
        assert_eq!(child.wait().await.unwrap(), exit);
    });
}

// process_issue_42.rs: `issue_42`: batches of children that exit at
// about the same time, spawned and waited for from many tasks at once;
// no exit may be lost or starved.
#[test]
fn issue_42() {
    both(|| async {
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                tokio::spawn(async {
                    let children: Vec<_> = (0..10)
                        .map(|n| procrun::tokio::spawn(&sh(&format!("exit {n}"))).unwrap())
                        .collect();
                    let mut codes = Vec::new();
                    for mut child in children {
                        codes.push(child.wait().await.unwrap().code());
                    }
                    codes
                })
            })
            .collect();
        for task in tasks {
            let codes = task.await.unwrap();
            assert_eq!(codes, (0..10).map(Some).collect::<Vec<_>>());
        }
    });
}

// process_change_of_runtime.rs:
// `process_spawned_and_wait_in_different_runtime`.
#[test]
fn process_spawned_and_wait_in_different_runtime() {
    let mut child = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async { procrun::tokio::spawn(&sh("read _; exit 4")).unwrap() });
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let exit = tokio::time::timeout(watchdog(), child.wait())
            .await
            .expect("the second runtime drives the child");
        assert_eq!(exit.unwrap().code(), Some(4));
    });
}

// The same, the first runtime gone before its driver task ever ran: a
// `current_thread` runtime runs tasks only when its `block_on` waits,
// and this one never waits.
#[test]
fn process_spawned_in_a_runtime_that_never_ran_its_driver_is_waited_for_in_another() {
    let first = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut child = first.block_on(async { procrun::tokio::spawn(&sh("read _; exit 4")).unwrap() });
    drop(first);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let exit = tokio::time::timeout(watchdog(), child.wait())
            .await
            .expect("the second runtime drives the child");
        assert_eq!(exit.unwrap().code(), Some(4));
    });
}

// process_change_of_runtime.rs: `process_spawned_outside_runtime`, where
// tokio panics: here it is an error, and nothing is started.
#[test]
fn process_spawned_outside_runtime() {
    let driver = Driver::new().unwrap();
    let r = driver.spawn(&Command::new("true"));
    assert!(matches!(r, Err(procrun::Error::Io(_))), "{r:?}");
}

#[test]
fn wait_dropped_before_the_exit_loses_nothing() {
    both(|| async {
        let mut child = procrun::tokio::spawn(&sh("echo ready; sleep 0.3; exit 7")).unwrap();
        assert_eq!(line(&mut child).await, "ready");
        // Polled, then dropped while the child still runs.
        let early = tokio::time::timeout(Duration::from_millis(10), child.wait()).await;
        assert!(early.is_err(), "the child cannot be done yet: {early:?}");
        // The exit lands with no future waiting for it.
        let deadline = Instant::now() + watchdog();
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Fused: the same exit, every time.
        assert_eq!(child.wait().await.unwrap().code(), Some(7));
        assert_eq!(child.wait().await.unwrap().code(), Some(7));
    });
}

#[test]
fn stop_escalates_to_sigkill_after_grace() {
    both(|| async {
        let mut cmd = sh("trap '' TERM; echo ready; sleep 30");
        cmd.grace(Duration::from_millis(200));
        let mut child = procrun::tokio::spawn(&cmd).unwrap();
        assert_eq!(line(&mut child).await, "ready");
        let exit = child.stop().await.unwrap();
        assert_eq!(exit.signal(), Some(Signal::KILL));
        assert!(exit.stopped());
        assert_eq!(child.id(), None);
    });
}

#[test]
fn signal_reaches_the_child() {
    both(|| async {
        let mut child = procrun::tokio::spawn(&sh("echo ready; sleep 30")).unwrap();
        assert_eq!(line(&mut child).await, "ready");
        assert!(child.try_wait().unwrap().is_none());
        child.signal(Signal::TERM).unwrap();
        assert_eq!(child.wait().await.unwrap().signal(), Some(Signal::TERM));
    });
}

#[test]
fn timeout_is_served_by_the_runtime() {
    both(|| async {
        let mut cmd = Command::new("sleep");
        cmd.arg("30").timeout(Duration::from_millis(200));
        let exit = procrun::tokio::spawn(&cmd).unwrap().wait().await.unwrap();
        assert!(exit.timed_out());
    });
}

#[test]
fn next_line_takes_every_line_past_the_buffer_bound() {
    both(|| async {
        // About 2.3 MB of lines: more than the handle buffers, so the child
        // is paused and resumed as they are taken.
        let mut child = procrun::tokio::spawn(Command::new("seq").arg("400000")).unwrap();
        let mut n = 0u32;
        while let Some(l) = child.next_line().await.unwrap() {
            n += 1;
            assert_eq!(l.bytes, n.to_string().as_bytes());
        }
        assert_eq!(n, 400_000);
        assert!(child.wait().await.unwrap().success());
    });
}

#[test]
fn next_line_ref_takes_every_line_past_the_buffer_bound() {
    both(|| async {
        // As next_line's test: the lent lines come from the handle's
        // batches, taken and given back many times over.
        let mut child = procrun::tokio::spawn(Command::new("seq").arg("400000")).unwrap();
        let mut n = 0u32;
        while let Some(l) = child.next_line_ref().await.unwrap() {
            n += 1;
            assert_eq!(l.bytes(), n.to_string().as_bytes());
            assert!(!l.is_partial());
        }
        assert_eq!(n, 400_000);
        assert!(child.wait().await.unwrap().success());
    });
}

#[test]
fn next_line_ref_lends_what_next_line_gives() {
    both(|| async {
        // Both streams, an empty line, a line past the limit (in partial
        // pieces), a last line with no newline.
        let mut cmd = sh("echo one; echo two >&2; echo; echo 0123456789abcdefghij; printf end");
        cmd.max_line(8);
        let mut owned = procrun::tokio::spawn(&cmd).unwrap();
        let mut lent = procrun::tokio::spawn(&cmd).unwrap();
        let mut want = Vec::new();
        while let Some(l) = owned.next_line().await.unwrap() {
            want.push((l.stream, l.bytes, l.partial));
        }
        let mut got = Vec::new();
        // Taken both ways in turn: they share the handle's batch.
        loop {
            let line = if got.len() % 2 == 0 {
                lent.next_line_ref()
                    .await
                    .unwrap()
                    .map(|l| (l.stream(), l.bytes().to_vec(), l.is_partial()))
            } else {
                lent.next_line()
                    .await
                    .unwrap()
                    .map(|l| (l.stream, l.bytes, l.partial))
            };
            let Some(line) = line else { break };
            got.push(line);
        }
        // The order of the two streams against each other is the
        // scheduler's; within a stream it is the child's.
        want.sort_by_key(|l| l.0 == procrun::Stream::Stderr);
        got.sort_by_key(|l| l.0 == procrun::Stream::Stderr);
        assert_eq!(got, want);
        assert_eq!(want.len(), 7, "{want:?}");
        assert!(want.iter().any(|l| l.2), "a partial piece: {want:?}");
        assert!(owned.wait().await.unwrap().success());
        assert!(lent.wait().await.unwrap().success());
        // Done, and every line taken: None for good.
        assert!(lent.next_line_ref().await.unwrap().is_none());
    });
}

/// The bytes `pid` has written so far (`wchar` of /proc/PID/io).
fn written(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    io.lines()
        .find_map(|l| l.strip_prefix("wchar:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn empty_lines_nobody_takes_pause_the_child_too() {
    both(|| async {
        // An empty line has no bytes but takes its place in the queue: a
        // handle that takes none must still pause its child, not keep its
        // lines without end.
        let child = procrun::tokio::spawn(Command::new("yes").arg("")).unwrap();
        let pid = child.id().unwrap();
        // Paused: the bound's lines (32 bytes of bookkeeping each) and a
        // full pipe are a few MiB of newlines; unbounded, it never stops.
        const NEVER_PAUSED: u64 = 16 << 20;
        let (mut last, mut still) = (written(pid), 0);
        while still < 5 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let now = written(pid);
            assert!(
                now < NEVER_PAUSED,
                "the child wrote {now} bytes of empty lines and was never paused"
            );
            (still, last) = if now == last {
                (still + 1, last)
            } else {
                (0, now)
            };
        }
        drop(child);
        wait_reaped(pid).await;
    });
}

#[test]
fn output_keeps_the_streams_apart_byte_for_byte() {
    both(|| async {
        let out = procrun::tokio::output(&sh("printf 'a\\r\\nb'; printf 'err\\n' >&2; exit 1"))
            .await
            .unwrap();
        assert_eq!(out.stdout, b"a\r\nb");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.exit.code(), Some(1));
        // A stream sent elsewhere comes back empty.
        let mut cmd = sh("echo gone; echo kept >&2");
        cmd.stdout(Output::Null);
        let out = procrun::tokio::output(&cmd).await.unwrap();
        assert_eq!(
            (out.stdout.as_slice(), out.stderr.as_slice()),
            (&b""[..], &b"kept\n"[..])
        );
    });
}

#[test]
fn child_output_collects_past_the_buffer_bound() {
    both(|| async {
        let child = procrun::tokio::spawn(Command::new("seq").arg("400000")).unwrap();
        let out = child.output().await.unwrap();
        let expected: Vec<u8> = (1..=400_000)
            .flat_map(|n| format!("{n}\n").into_bytes())
            .collect();
        assert!(out.stdout == expected, "{} bytes", out.stdout.len());
        assert!(out.exit.success());
    });
}

#[test]
fn stdin_dropped_is_eof_for_the_child() {
    both(|| async {
        let mut cmd = Command::new("tr");
        cmd.args(["a-z", "A-Z"]).stdin(Input::Stream);
        let mut child = procrun::tokio::spawn(&cmd).unwrap();
        let mut stdin = child.take_stdin().expect("a stream");
        assert!(child.take_stdin().is_none(), "taken once");
        stdin.write_all(b"hello\nworld").await.unwrap();
        drop(stdin);
        assert_eq!(line(&mut child).await, "HELLO");
        assert_eq!(line(&mut child).await, "WORLD");
        assert!(child.wait().await.unwrap().success());
        // No stream to take from a child whose stdin is not one.
        let mut other = procrun::tokio::spawn(&Command::new("true")).unwrap();
        assert!(other.take_stdin().is_none());
        other.wait().await.unwrap();
    });
}

#[test]
fn stdin_waits_for_room_and_writes_every_byte() {
    both(|| async {
        // Slower than the writer, so the pipe and the queue fill and the
        // writer waits for room over and over.
        let mut cmd = sh("sleep 0.2; wc -c");
        cmd.stdin(Input::Stream);
        let mut child = procrun::tokio::spawn(&cmd).unwrap();
        let mut stdin = child.take_stdin().unwrap();
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..64 {
            stdin.write_all(&chunk).await.unwrap();
        }
        stdin.shutdown().await.unwrap();
        assert_eq!(line(&mut child).await.trim(), (64 * 64 * 1024).to_string());
        assert!(child.wait().await.unwrap().success());
    });
}

// process_issue_2174.rs: `issue_2174`: a writer blocked on a full stdin
// ends with an error when the child is killed, rather than hanging.
#[test]
fn issue_2174() {
    both(|| async {
        let mut cmd = Command::new("sleep");
        cmd.arg("30").stdin(Input::Stream).stdout(Output::Null);
        let mut child = procrun::tokio::spawn(&cmd).unwrap();
        let mut stdin = child.take_stdin().unwrap();
        let written = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = written.clone();
        let writer = tokio::spawn(async move {
            let data = [0u8; 8192];
            loop {
                if let Err(e) = stdin.write_all(&data).await {
                    return e;
                }
                counter.fetch_add(data.len(), std::sync::atomic::Ordering::Relaxed);
            }
        });
        // Past the pipe and the queue: the writer waits for room.
        let deadline = Instant::now() + watchdog();
        while written.load(std::sync::atomic::Ordering::Relaxed) < (1 << 20) {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        child.kill().unwrap();
        let error = writer.await.unwrap();
        assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe);
        assert_eq!(child.wait().await.unwrap().signal(), Some(Signal::KILL));
    });
}

#[test]
fn raw_streams_read_byte_for_byte_to_their_end() {
    both(|| async {
        let mut cmd = sh("printf 'a\\r\\nb\\0c'; printf 'e\\n\\n' >&2");
        cmd.stdout(Output::Raw).stderr(Output::Raw);
        let mut child = procrun::tokio::spawn(&cmd).unwrap();
        let mut stdout = child.take_stdout().expect("raw stdout");
        let mut stderr = child.take_stderr().expect("raw stderr");
        assert!(child.take_stdout().is_none(), "taken once");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let (o, e) = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        o.unwrap();
        e.unwrap();
        assert_eq!(out, b"a\r\nb\0c");
        assert_eq!(err, b"e\n\n");
        assert!(child.wait().await.unwrap().success());
        // No reader for a stream of lines.
        let mut lines = procrun::tokio::spawn(&Command::new("true")).unwrap();
        assert!(lines.take_stdout().is_none() && lines.take_stderr().is_none());
        lines.wait().await.unwrap();
    });
}

#[test]
fn raw_reader_outlives_the_child_handle() {
    both(|| async {
        let mut cmd = sh("read _; printf 'after the drop'");
        cmd.stdin(Input::Stream).stdout(Output::Raw);
        let mut child = procrun::tokio::spawn(&cmd).unwrap();
        child.kill_on_drop(false);
        let stdin = child.take_stdin().unwrap();
        let mut stdout = child.take_stdout().unwrap();
        drop(child);
        // The child writes only once its handle is gone.
        drop(stdin);
        let mut out = String::new();
        stdout.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "after the drop");
    });
}

#[test]
fn raw_reader_takes_every_byte_past_the_buffer_bound() {
    both(|| async {
        let mut cmd = Command::new("seq");
        cmd.arg("400000").stdout(Output::Raw);
        let mut child = procrun::tokio::spawn(&cmd).unwrap();
        let mut stdout = child.take_stdout().unwrap();
        // Time for the child to write past the bound and be paused before
        // anything is read (the check below holds either way; this makes
        // the resume on reading the path it takes).
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut out = Vec::new();
        // Small reads, so the child is paused and resumed many times.
        let mut buf = [0u8; 4096];
        loop {
            let n = stdout.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        let expected: Vec<u8> = (1..=400_000)
            .flat_map(|n| format!("{n}\n").into_bytes())
            .collect();
        assert!(out == expected, "{} bytes", out.len());
        assert!(child.wait().await.unwrap().success());
    });
}

/// A child that reads nothing for `idle`, then everything to EOF and says
/// how many bytes came.
fn late_reader(idle: &str) -> Command {
    let mut cmd = sh(&format!("sleep {idle}; wc -c"));
    cmd.stdin(Input::Stream);
    cmd
}

// tokio's `AsyncWriteExt::flush`: bytes accepted by a write may wait in
// the reactor's queue (the pipe full); a flush returns once they are all
// in the pipe, here only after the child began to read.
#[test]
fn stdin_flush_waits_until_the_queue_is_in_the_pipe() {
    both(|| async {
        let started = Instant::now();
        let mut child = procrun::tokio::spawn(&late_reader("0.5")).unwrap();
        let mut stdin = child.take_stdin().unwrap();
        // More than a pipe holds (1 MiB at most, once grown), less than
        // the pipe and the queue together: the write takes it all at once.
        let bytes = vec![b'x'; 1536 * 1024];
        stdin.write_all(&bytes).await.unwrap();
        stdin.flush().await.unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(400),
            "flushed after {:?}, before the child read anything",
            started.elapsed()
        );
        drop(stdin);
        assert_eq!(line(&mut child).await.trim(), bytes.len().to_string());
        assert!(child.wait().await.unwrap().success());
    });
}

// tokio's `AsyncWriteExt::shutdown` flushes, then closes: once it returns,
// every byte is in the pipe and the pipe closed, so the child reads EOF.
#[test]
fn stdin_shutdown_returns_once_every_byte_is_written_and_the_stream_closed() {
    both(|| async {
        let started = Instant::now();
        let mut child = procrun::tokio::spawn(&late_reader("0.5")).unwrap();
        let mut stdin = child.take_stdin().unwrap();
        let bytes = vec![b'x'; 1536 * 1024];
        stdin.write_all(&bytes).await.unwrap();
        stdin.shutdown().await.unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(400),
            "shut down after {:?}, before the child read anything",
            started.elapsed()
        );
        // Closed: a write now is refused.
        let e = stdin.write_all(b"more").await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe);
        assert_eq!(line(&mut child).await.trim(), bytes.len().to_string());
        assert!(child.wait().await.unwrap().success());
    });
}

// process_arg0.rs: `arg0`.
#[test]
fn arg0() {
    both(|| async {
        let mut cmd = Command::new("sh");
        cmd.arg0("test_string").args(["-c", "echo $0"]);
        let out = procrun::tokio::output(&cmd).await.unwrap();
        assert_eq!(out.stdout, b"test_string\n");
    });
}

// tokio::process's module docs: `echo hello world` run and its output
// checked; the status of a child waited for from another task.
#[test]
fn tokio_doc_example_output_and_status() {
    both(|| async {
        let out = procrun::tokio::output(Command::new("echo").args(["hello", "world"]))
            .await
            .unwrap();
        assert!(out.exit.success());
        assert_eq!(out.stdout, b"hello world\n");
        let mut child = procrun::tokio::spawn(Command::new("echo").arg("hello")).unwrap();
        let status = tokio::spawn(async move { child.wait().await })
            .await
            .unwrap()
            .unwrap();
        assert!(status.success());
    });
}

// tokio::process's module docs: a child's stdout read as lines with
// `BufReader::lines` while another task waits for the child.
#[test]
fn tokio_doc_example_reads_stdout_lines_while_a_task_waits() {
    use tokio::io::AsyncBufReadExt;
    both(|| async {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo one; echo two; echo three"])
            .stdout(Output::Raw);
        let mut child = procrun::tokio::spawn(&cmd).unwrap();
        let stdout = child.take_stdout().expect("a raw stream");
        let waiter = tokio::spawn(async move { child.wait().await.unwrap() });
        let mut reader = tokio::io::BufReader::new(stdout).lines();
        let mut lines = Vec::new();
        while let Some(line) = reader.next_line().await.unwrap() {
            lines.push(line);
        }
        assert_eq!(lines, ["one", "two", "three"]);
        assert!(waiter.await.unwrap().success());
    });
}

// The reactor reuses a gone child's place for the next one; a handle that
// has not taken its child's exit yet keeps it all the same.
#[test]
fn a_done_childs_handle_keeps_its_exit_while_later_children_take_its_place() {
    both(|| async {
        let driver = Driver::new().unwrap();
        let mut first = driver.spawn(&sh("exit 3")).unwrap();
        // Done for the driver, not yet taken by the handle.
        let deadline = Instant::now() + watchdog();
        while first.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut later = Vec::new();
        for n in 0..4 {
            let mut child = driver.spawn(&sh(&format!("exit {}", 10 + n))).unwrap();
            assert_eq!(child.wait().await.unwrap().code(), Some(10 + n));
            later.push(child);
        }
        assert_eq!(first.wait().await.unwrap().code(), Some(3));
        for (n, mut child) in later.into_iter().enumerate() {
            assert_eq!(child.wait().await.unwrap().code(), Some(10 + n as i32));
        }
    });
}

#[test]
fn lines_as_a_stream_give_every_line_then_end_with_the_child() {
    use futures_core::Stream;
    use std::pin::Pin;
    both(|| async {
        let mut child = procrun::tokio::spawn(&sh("seq 5; echo err >&2; exit 1")).unwrap();
        let mut lines = child.lines();
        let mut seen = Vec::new();
        while let Some(line) = std::future::poll_fn(|cx| Pin::new(&mut lines).poll_next(cx)).await {
            seen.push(line.unwrap().to_string_lossy().into_owned());
        }
        seen.sort();
        assert_eq!(seen, ["1", "2", "3", "4", "5", "err"]);
        // Ended because the child is done.
        assert_eq!(child.try_wait().unwrap().and_then(|e| e.code()), Some(1));
    });
}
