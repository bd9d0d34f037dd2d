//! The gpud-compatible handle API against real processes: every row of the
//! parity table, scripts, runners and the edge cases of close.

use crate::close_races;
use crate::common;

use std::io::{Read, Seek, Write};
use std::os::unix::process::ExitStatusExt;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{wait_dead, with_watchdog, KillOnDrop, WATCHDOG};
use procrun::{
    read, Error, ExclusiveRunner, Process, ProcessBuilder, ReadOptions, Restart, RunOptions,
    Runner, Signal, Stream, TimeoutKind,
};

fn lines(p: &Process) -> Vec<String> {
    let mut out = Vec::new();
    read(
        p,
        ReadOptions::new().on_line(|l| out.push(l.to_string_lossy().into_owned())),
    )
    .unwrap();
    out
}

/// A started `Process` of `argv`, all else as the builder has it.
fn started<const N: usize>(argv: [&str; N]) -> Process {
    let p = Process::builder().command(argv).build().unwrap();
    p.start().unwrap();
    p
}

/// The pid the process prints as its first line of stdout.
fn first_line_pid(p: &Process) -> u32 {
    let line = p.stdout().unwrap().next_line_blocking().unwrap();
    line.to_string_lossy().parse().unwrap()
}

fn dir_entries(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn single_command_runs_and_reports_its_exit() {
    let p = Process::builder()
        .command(["sh", "-c", "echo $$; exit 4"])
        .label("k", "v")
        .build()
        .unwrap();
    assert!(!p.started());
    assert!(p.pid().is_none() && p.exit_status().is_none());
    p.start().unwrap();
    assert!(p.started());
    let out = lines(&p);
    let exit = p.wait().unwrap();
    assert_eq!(exit.code(), Some(4));
    assert_eq!(out, [exit.pid().to_string()]);
    assert_eq!(p.exit_status().unwrap().code(), Some(4));
    assert_eq!(p.label("k"), Some("v"));
    assert_eq!(p.labels().len(), 1);
    p.close().unwrap();
    assert!(p.closed());
}

#[test]
fn a_signal_is_reported_as_a_signal_not_minus_one() {
    let p = started(["sh", "-c", "kill -9 $$"]);
    p.wait().unwrap();
    let st = p.exit_status().unwrap();
    assert_eq!((st.code(), st.signal()), (None, Some(9)));
}

#[test]
fn start_twice_and_start_after_close_are_errors() {
    let p = Process::builder().command(["true"]).build().unwrap();
    p.start().unwrap();
    assert!(matches!(p.start(), Err(Error::AlreadyStarted)));
    p.close().unwrap();
    assert!(matches!(p.start(), Err(Error::Aborted)));
}

#[test]
fn close_before_start_and_close_twice_are_fine() {
    let p = Process::builder()
        .command(["sleep", "100"])
        .build()
        .unwrap();
    p.close().unwrap();
    p.close().unwrap();
    let p = started(["sleep", "100"]);
    let pid = p.pid().unwrap();
    p.close().unwrap();
    p.close().unwrap();
    wait_dead(pid);
    assert!(p.last_exit().unwrap().stopped());
}

#[test]
fn read_before_start_and_after_close_are_errors() {
    let p = Process::builder().command(["true"]).build().unwrap();
    assert!(matches!(
        read(&p, ReadOptions::new()),
        Err(Error::NotStarted)
    ));
    assert!(matches!(p.stdout(), Err(Error::NotStarted)));
    assert!(matches!(p.wait(), Err(Error::NotStarted)));
    p.start().unwrap();
    p.close().unwrap();
    assert!(matches!(read(&p, ReadOptions::new()), Err(Error::Aborted)));
    assert!(matches!(p.stderr(), Err(Error::Aborted)));
}

#[test]
fn build_rejects_bad_options() {
    let e = Process::builder().build();
    assert!(matches!(e, Err(Error::EmptyProgram)));
    let e = Process::builder().command(["a"]).command(["b"]).build();
    assert!(matches!(e, Err(Error::InvalidCommand { .. })));
    let e = Process::builder().command(["true"]).env(["NOPE"]).build();
    assert!(matches!(e, Err(Error::InvalidEnv { .. })));
    let e = Process::builder()
        .command(["true"])
        .env(["A=1", "A=2"])
        .build();
    assert!(matches!(e, Err(Error::DuplicateEnv { .. })));
    let p = Process::builder()
        .command(["procrun-no-such-program"])
        .build()
        .unwrap();
    assert!(matches!(p.start(), Err(Error::ProgramNotFound { .. })));
}

#[test]
fn env_adds_to_the_inherited_environment_or_replaces_it() {
    let p = Process::builder()
        .command(["sh", "-c", "echo ${PROCRUN_X:-unset} ${PATH:+has-path}"])
        .env(["PROCRUN_X=1"])
        .build()
        .unwrap();
    p.start().unwrap();
    assert_eq!(lines(&p), ["1 has-path"]);
    let p = Process::builder()
        .command(["/usr/bin/env"])
        .env(["PROCRUN_X=2"])
        .env_clear()
        .build()
        .unwrap();
    p.start().unwrap();
    assert_eq!(lines(&p), ["PROCRUN_X=2"]);
}

#[test]
fn commands_run_as_one_bash_script_with_the_strict_header() {
    let dir = tempfile::tempdir().unwrap();
    let p = Process::builder()
        .commands([vec!["echo one"], vec!["false"], vec!["echo never"]])
        .run_as_bash_script()
        .script_dir(dir.path())
        .build()
        .unwrap();
    p.start().unwrap();
    let path = p.script_path().unwrap();
    let name = path.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        name.starts_with("procrun-") && name.ends_with(".bash"),
        "{name}"
    );
    assert_eq!(lines(&p), ["one"]);
    assert_eq!(p.wait().unwrap().code(), Some(1), "errexit stops at false");
    p.close().unwrap();
    assert!(
        dir_entries(dir.path()).is_empty(),
        "script file left behind"
    );
}

#[test]
fn script_file_is_removed_on_drop_and_on_failed_start() {
    let dir = tempfile::tempdir().unwrap();
    let p = Process::builder()
        .script("echo hi")
        .script_dir(dir.path())
        .build()
        .unwrap();
    p.start().unwrap();
    assert_eq!(dir_entries(dir.path()).len(), 1);
    p.wait().unwrap();
    drop(p);
    assert!(dir_entries(dir.path()).is_empty());

    // A start that fails after the file was written: the working directory
    // vanished between build and start.
    let cwd = tempfile::tempdir().unwrap();
    let p = Process::builder()
        .script("echo hi")
        .script_dir(dir.path())
        .current_dir(cwd.path())
        .build()
        .unwrap();
    drop(cwd);
    assert!(matches!(p.start(), Err(Error::CwdNotFound { .. })));
    assert!(dir_entries(dir.path()).is_empty());
    assert!(!p.started());
}

#[test]
fn inline_script_of_3_mib_runs_without_touching_disk() {
    let dir = tempfile::tempdir().unwrap();
    let mut script = String::from("x=0\n");
    while script.len() < 3 << 20 {
        script.push_str("x=$((x+1)) # padding padding padding padding padding\n");
    }
    script.push_str("echo $x\n");
    let n = script.lines().count() - 2;
    let p = Process::builder()
        .script(script)
        .inline()
        .script_dir(dir.path())
        .build()
        .unwrap();
    p.start().unwrap();
    assert!(p.script_path().is_none());
    assert_eq!(lines(&p), [n.to_string()]);
    assert!(p.wait().unwrap().success());
    assert!(dir_entries(dir.path()).is_empty());
}

#[test]
fn inline_script_leaves_stdin_to_the_script() {
    // Fed through stdin (bash -s), `cat` would swallow the rest of the
    // script and "after" would never print.
    let p = Process::builder()
        .script("cat\necho after\n")
        .inline()
        .build()
        .unwrap();
    p.start().unwrap();
    assert_eq!(lines(&p), ["after"]);
}

#[test]
fn burst_before_exit_arrives_whole_every_time() {
    for round in 0..50 {
        let p = started(["seq", "1", "2000"]);
        let mut n = 0;
        let exit = read(
            &p,
            ReadOptions::new().stdout().wait_for_exit().on_line(|l| {
                n += 1;
                assert_eq!(l.to_string_lossy(), n.to_string());
            }),
        )
        .unwrap();
        assert_eq!(n, 2000, "round {round}");
        assert!(exit.unwrap().success());
    }
}

#[test]
fn reading_stdout_while_the_child_fills_stderr_does_not_block() {
    let p = Process::builder()
        .command([
            "sh",
            "-c",
            "head -c 4000000 /dev/zero | tr '\\0' 'e' | fold -w 100 >&2; echo out",
        ])
        .build()
        .unwrap();
    p.start().unwrap();
    let mut out = Vec::new();
    read(
        &p,
        ReadOptions::new()
            .stdout()
            .on_line(|l| out.push(l.to_string_lossy().into_owned())),
    )
    .unwrap();
    assert_eq!(out, ["out"]);
}

#[test]
fn both_streams_read_together_keep_their_tags() {
    let p = started(["sh", "-c", "echo o1; echo e1 >&2; echo o2"]);
    let mut got = Vec::new();
    read(
        &p,
        ReadOptions::new().on_line(|l| got.push((l.stream, l.to_string_lossy().into_owned()))),
    )
    .unwrap();
    let outs: Vec<_> = got.iter().filter(|(s, _)| *s == Stream::Stdout).collect();
    let errs: Vec<_> = got.iter().filter(|(s, _)| *s == Stream::Stderr).collect();
    assert_eq!(outs.len(), 2);
    assert_eq!(errs, [&(Stream::Stderr, "e1".to_string())]);
}

#[test]
fn read_wait_for_exit_returns_the_failure() {
    let p = started(["sh", "-c", "exit 5"]);
    match read(&p, ReadOptions::new().wait_for_exit()) {
        Err(Error::Failed(e)) => assert_eq!(e.code(), Some(5)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn read_gets_lines_longer_than_the_process_max_line_in_partial_pieces() {
    let p = Process::builder()
        .command([
            "sh",
            "-c",
            "echo abcdefghij; echo wxyz; echo 0123456789 >&2",
        ])
        .max_line(4)
        .build()
        .unwrap();
    p.start().unwrap();
    let mut got = Vec::new();
    read(
        &p,
        ReadOptions::new().wait_for_exit().on_line(|l| {
            got.push((l.stream, l.to_string_lossy().into_owned(), l.partial));
        }),
    )
    .unwrap();
    let of = |s: Stream| -> Vec<(String, bool)> {
        got.iter()
            .filter(|l| l.0 == s)
            .map(|l| (l.1.clone(), l.2))
            .collect()
    };
    let piece = |t: &str, partial| (t.to_string(), partial);
    assert_eq!(
        of(Stream::Stdout),
        [
            piece("abcd", true),
            piece("efgh", true),
            piece("ij", false),
            piece("wxyz", false)
        ]
    );
    assert_eq!(
        of(Stream::Stderr),
        [piece("0123", true), piece("4567", true), piece("89", false)]
    );
    assert!(matches!(
        Process::builder().command(["true"]).max_line(0).build(),
        Err(Error::ZeroMaxLine)
    ));
}

#[test]
fn byte_readers_join_the_pieces_of_a_long_line_again() {
    let p = Process::builder()
        .command(["sh", "-c", "echo abcdefghij; echo k"])
        .max_line(4)
        .build()
        .unwrap();
    p.start().unwrap();
    let mut s = String::new();
    p.stdout().unwrap().read_to_string(&mut s).unwrap();
    assert_eq!(s, "abcdefghij\nk\n");
}

#[test]
fn stdout_reader_is_an_io_read() {
    let p = started(["sh", "-c", "printf 'a\\r\\nb\\nc'; echo err >&2"]);
    let mut s = String::new();
    p.stdout().unwrap().read_to_string(&mut s).unwrap();
    // The bytes as written: no `\r` dropped, no `\n` added.
    assert_eq!(s, "a\r\nb\nc");
    let mut e = String::new();
    p.stderr().unwrap().read_to_string(&mut e).unwrap();
    assert_eq!(e, "err\n");
}

#[test]
fn combined_output_interleaves_and_keeps_partial_output_on_failure() {
    let p = Process::builder()
        .commands([
            vec!["echo", "one"],
            vec!["sh", "-c", "echo two >&2; exit 9"],
        ])
        .run_as_bash_script()
        .build()
        .unwrap();
    let out = p.start_and_wait_combined(None).unwrap();
    assert_eq!(out.output, b"one\ntwo\n");
    assert_eq!(out.exit.unwrap().code(), Some(9));
    assert!(!out.timed_out);
}

#[test]
fn combined_output_time_limit_stops_with_escalation() {
    let p = Process::builder()
        .command(["sh", "-c", "trap '' TERM; echo started; sleep 100"])
        .grace(Duration::from_millis(300))
        .build()
        .unwrap();
    let t0 = Instant::now();
    let out = p
        .start_and_wait_combined(Some(Duration::from_millis(300)))
        .unwrap();
    assert!(out.timed_out);
    assert_eq!(out.output, b"started\n");
    assert_eq!(out.exit.unwrap().signal(), Some(Signal::KILL));
    assert!(t0.elapsed() >= Duration::from_millis(600));
}

#[test]
fn combined_output_is_cancelled_by_close_from_another_thread() {
    let p = Arc::new(
        Process::builder()
            .command(["sh", "-c", "echo up; sleep 100"])
            .build()
            .unwrap(),
    );
    let p2 = p.clone();
    let t = std::thread::spawn(move || p2.start_and_wait_combined(None).unwrap());
    let deadline = Instant::now() + WATCHDOG;
    while p.pid().is_none() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    p.close().unwrap();
    let out = t.join().unwrap();
    assert!(out.exit.unwrap().stopped());
}

#[test]
fn restarts_give_one_result_per_exit_to_every_waiter() {
    let p = Process::builder()
        .command(["sh", "-c", "echo $$; exit 2"])
        .restart(
            Restart::on_error()
                .limit(2)
                .interval(Duration::from_millis(50)),
        )
        .build()
        .unwrap();
    let mut w1 = p.exits();
    let mut w2 = p.exits();
    p.start().unwrap();
    let pids = lines(&p);
    assert_eq!(pids.len(), 3);
    assert!(pids[0] != pids[1] && pids[1] != pids[2], "pid changes");
    for w in [&mut w1, &mut w2] {
        let w = w.by_ref();
        let exits: Vec<_> = w.collect();
        assert_eq!(exits.len(), 3);
        assert!(exits.iter().all(|e| e.code() == Some(2)));
        assert!(exits[2].is_final() && exits[2].restart_limit_reached());
    }
    assert_eq!(p.wait().unwrap().pid().to_string(), pids[2]);
    assert!(p.try_wait().unwrap().is_some());
    assert!(p.exits().try_next().unwrap().is_some());
}

#[test]
fn wait_timeout_and_try_wait_do_not_block() {
    let p = started(["sleep", "100"]);
    assert!(p.try_wait().unwrap().is_none());
    assert!(p.wait_timeout(Duration::from_millis(50)).unwrap().is_none());
    assert!(matches!(p.exits().try_next(), Err(Error::TimedOut)));
    p.close().unwrap();
    assert!(p.try_wait().unwrap().is_some());
}

#[test]
fn output_file_gets_both_streams_and_stays_open() {
    let mut file = tempfile::tempfile().unwrap();
    let p = Process::builder()
        .command(["sh", "-c", "echo out; echo err >&2"])
        .output_file(file.try_clone().unwrap())
        .build()
        .unwrap();
    p.start().unwrap();
    p.wait().unwrap();
    p.close().unwrap();
    drop(p);
    // Still ours, still open.
    file.write_all(b"after\n").unwrap();
    file.rewind().unwrap();
    let mut s = String::new();
    file.read_to_string(&mut s).unwrap();
    assert_eq!(s, "out\nerr\nafter\n");
}

#[test]
fn detached_background_job_survives_close_and_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("marker");
    let p = Process::builder()
        .script(format!(
            // exec: the stop reaches only the child, which must be the
            // sleep itself, or the sleep outlives the test.
            "(sleep 1 && touch {}) >/dev/null 2>&1 &\necho $!\nexec sleep 100",
            marker.display()
        ))
        .detached()
        .build()
        .unwrap();
    p.start().unwrap();
    let job = first_line_pid(&p);
    let _guard = KillOnDrop(job);
    p.close().unwrap();
    let deadline = Instant::now() + WATCHDOG;
    while !marker.exists() {
        assert!(Instant::now() < deadline, "the detached job did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn close_kills_the_whole_group_when_not_detached() {
    let p = Process::builder()
        .script("sleep 100 &\necho $!\nsleep 100")
        .build()
        .unwrap();
    p.start().unwrap();
    let job = first_line_pid(&p);
    let _guard = KillOnDrop(job);
    p.close().unwrap();
    wait_dead(job);
}

#[test]
fn output_nobody_reads_does_not_hang_close() {
    let p = Process::builder()
        .command(["yes"])
        .buffer(4096)
        .build()
        .unwrap();
    p.start().unwrap();
    // The buffer fills and the child is paused; close must still finish.
    std::thread::sleep(Duration::from_millis(50));
    p.close().unwrap();
    assert!(p.last_exit().is_some());
}

#[test]
fn exclusive_runner_refuses_a_concurrent_run_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let runner = Arc::new(ExclusiveRunner::new());
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let (tx, rx) = std::sync::mpsc::channel();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (runner, barrier, tx) = (runner.clone(), barrier.clone(), tx.clone());
            let script = format!(
                "while [ ! -e {} ]; do sleep 0.02; done; echo ran",
                go.display()
            );
            std::thread::spawn(move || {
                barrier.wait();
                let r = runner.run_until_completion(&script, RunOptions::timeout(WATCHDOG));
                tx.send(r.is_err()).unwrap();
                r
            })
        })
        .collect();
    // Every loser returns at once; only then may the winner finish.
    for _ in 0..threads - 1 {
        assert!(rx.recv_timeout(WATCHDOG).unwrap(), "a second run started");
    }
    std::fs::write(&go, b"").unwrap();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].output, b"ran\n");
    assert!(ok[0].error.is_none());
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(r, Err(Error::AlreadyRunning)))
            .count(),
        threads - 1
    );
    assert!(!runner.is_running());
}

#[test]
fn exclusive_runner_returns_partial_output_on_timeout_and_caps_it() {
    let runner = ExclusiveRunner::with_output_cap(5);
    let out = runner
        .run_until_completion(
            "echo 0123456789; sleep 100",
            RunOptions::timeout(Duration::from_millis(200)),
        )
        .unwrap();
    assert_eq!(out.output, b"01234");
    assert!(matches!(out.error, Some(Error::TimedOut)));
    assert_eq!(out.exit_code, None);
}

#[test]
fn process_is_send_and_sync() {
    fn is<T: Send + Sync>() {}
    is::<Process>();
    is::<ExclusiveRunner>();
}

#[test]
fn combined_output_keeps_the_order_the_child_wrote() {
    let script: String = (0..200)
        .map(|i| format!("echo out{i}; echo err{i} >&2\n"))
        .collect();
    let p = Process::builder().script(script).build().unwrap();
    let out = p.start_and_wait_combined(None).unwrap();
    let want: String = (0..200).map(|i| format!("out{i}\nerr{i}\n")).collect();
    assert_eq!(String::from_utf8(out.output).unwrap(), want);
}

#[test]
fn pid_is_known_as_soon_as_start_returns() {
    for _ in 0..50 {
        let p = Process::builder().command(["sleep", "30"]).build().unwrap();
        p.start().unwrap();
        let pid = p.pid().expect("pid right after start");
        let _guard = KillOnDrop(pid);
        p.close().unwrap();
        assert_eq!(p.last_exit().unwrap().pid(), pid);
        // A child that may be reaped already by the time start returns:
        // its pid, or none once reaped, never another.
        let p = Process::builder().command(["true"]).build().unwrap();
        p.start().unwrap();
        let pid = p.pid();
        let exit = p.wait().unwrap();
        assert!(
            pid.map_or(true, |pid| pid == exit.pid()),
            "{pid:?} {exit:?}"
        );
    }
}

#[test]
fn a_grandchild_holding_the_pipe_holds_up_combined_output_only_for_the_drain() {
    // setsid takes the grandchild out of the group, so only the drain time
    // stands between the child's exit and the end of the output.
    let p = Process::builder()
        .script("setsid sh -c 'echo $$; exec sleep 100' &\nsleep 0.2\necho done\n")
        .drain(Duration::from_millis(200))
        .build()
        .unwrap();
    let t0 = Instant::now();
    let out = p.start_and_wait_combined(Some(WATCHDOG)).unwrap();
    let text = String::from_utf8(out.output).unwrap();
    let escaped: u32 = text.lines().next().unwrap().parse().unwrap();
    let _guard = KillOnDrop(escaped);
    assert!(text.ends_with("done\n"), "{text:?}");
    assert!(out.exit.unwrap().success() && !out.timed_out);
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
}

/// What every `Duration::MAX` test ends with: whatever the duration did,
/// the driver still serves new processes.
fn a_later_start_still_works() {
    let p = Process::builder().command(["true"]).build().unwrap();
    p.start().unwrap();
    assert!(p.wait().unwrap().success());
}

#[test]
fn duration_max_timeout_means_no_timeout() {
    with_watchdog(|| {
        let p = Process::builder()
            .command(["echo", "ran"])
            .timeout(Duration::MAX)
            .build()
            .unwrap();
        let out = p.start_and_wait_combined(None).unwrap();
        assert_eq!(out.output, b"ran\n");
        assert!(out.exit.unwrap().success() && !out.timed_out);
        a_later_start_still_works();
    });
}

#[test]
fn duration_max_grace_still_stops_a_child_that_obeys_sigterm() {
    with_watchdog(|| {
        let p = Process::builder()
            .command(["sleep", "100"])
            .grace(Duration::MAX)
            .build()
            .unwrap();
        p.start().unwrap();
        p.close().unwrap();
        assert_eq!(p.last_exit().unwrap().signal(), Some(Signal::TERM));
        a_later_start_still_works();
    });
}

#[test]
fn duration_max_drain_reads_until_the_last_holder_closes_the_pipe() {
    with_watchdog(|| {
        // setsid takes the writer of "late" out of the group, so the pipe
        // outlives the child and the drain timer is armed; the script exits
        // only once the writer has escaped, or the group's end would take
        // it along. "late" comes after the default drain (1 s) would have
        // closed the pipe.
        let dir = tempfile::tempdir().unwrap();
        let escaped = dir.path().join("escaped");
        let p = Process::builder()
            .script(format!(
                "setsid sh -c 'touch {0}; sleep 1.5; echo late' &\n\
                 while [ ! -e {0} ]; do sleep 0.01; done\n\
                 echo early\n",
                escaped.display()
            ))
            .drain(Duration::MAX)
            .build()
            .unwrap();
        let out = p.start_and_wait_combined(None).unwrap();
        assert_eq!(String::from_utf8_lossy(&out.output), "early\nlate\n");
        assert!(out.exit.unwrap().success());
        a_later_start_still_works();
    });
}

#[test]
fn duration_max_restart_interval_waits_for_the_close() {
    with_watchdog(|| {
        let p = Process::builder()
            .command(["sh", "-c", "exit 1"])
            .restart(Restart::on_error().limit(1).interval(Duration::MAX))
            .build()
            .unwrap();
        let mut exits = p.exits();
        p.start().unwrap();
        // A restart no clock reaches never comes: the process waits for it
        // until closed, as during any restart delay (the reactor's own test
        // pins the same for the `Reactor`).
        let first = exits.next_timeout(WATCHDOG).unwrap().unwrap();
        assert_eq!(first.code(), Some(1));
        assert_eq!(first.restart_in(), Some(Duration::MAX));
        assert!(p
            .wait_timeout(Duration::from_millis(300))
            .unwrap()
            .is_none());
        p.close().unwrap();
        // The close cancelled the restart: that exit is the final one.
        let last = p.wait().unwrap();
        assert_eq!(last.code(), Some(1));
        assert!(last.is_final() && last.stopped(), "{last:?}");
        assert!(exits.next_timeout(WATCHDOG).unwrap().is_none());
        a_later_start_still_works();
    });
}

#[test]
fn duration_max_wait_timeout_waits_for_the_exit() {
    with_watchdog(|| {
        let p = Process::builder().command(["true"]).build().unwrap();
        p.start().unwrap();
        assert!(p.wait_timeout(Duration::MAX).unwrap().unwrap().success());
        let mut exits = p.exits();
        assert!(exits
            .next_timeout(Duration::MAX)
            .unwrap()
            .unwrap()
            .success());
        assert!(exits.next_timeout(Duration::MAX).unwrap().is_none());
        a_later_start_still_works();
    });
}

#[test]
fn duration_max_combined_output_limit_means_no_limit() {
    with_watchdog(|| {
        let p = Process::builder().command(["echo", "ran"]).build().unwrap();
        let out = p.start_and_wait_combined(Some(Duration::MAX)).unwrap();
        assert_eq!(out.output, b"ran\n");
        assert!(out.exit.unwrap().success() && !out.timed_out);
        a_later_start_still_works();
    });
}

#[test]
fn duration_max_runner_timeout_means_no_timeout() {
    with_watchdog(|| {
        let out = ExclusiveRunner::new()
            .run_until_completion("echo ran", RunOptions::timeout(Duration::MAX))
            .unwrap();
        assert_eq!(out.output, b"ran\n");
        assert!(out.error.is_none() && out.exit_code == Some(0));
        a_later_start_still_works();
    });
}

#[test]
fn close_racing_start_leaves_no_child() {
    const MARK: &str = "30.0411";
    let _cleanup = close_races::KillMarkedOnDrop(MARK);
    let rounds = 200;
    let mut left = Vec::new();
    for round in 0..rounds {
        left.extend(close_races::with_watchdog(move || {
            close_races::close_racing_start_round(MARK, round)
        }));
    }
    assert!(
        left.is_empty(),
        "{} of {rounds} rounds left a child, such as {:?}",
        left.len(),
        &left[..left.len().min(5)]
    );
}

#[test]
fn concurrent_closes_all_wait_for_the_reap() {
    const MARK: &str = "30.0412";
    let _cleanup = close_races::KillMarkedOnDrop(MARK);
    let (rounds, closers) = (40, 6);
    let mut early = 0;
    for _ in 0..rounds {
        early +=
            close_races::with_watchdog(move || close_races::concurrent_closes_round(MARK, closers));
    }
    assert_eq!(
        early,
        0,
        "{early} of {} closes returned before the reap",
        rounds * closers
    );
}

#[test]
fn close_returns_only_when_nothing_of_the_group_is_left() {
    // The script's sleep, in its group, was still alive when close() or
    // wait() returned: the stop's SIGKILL had reached it, its death had
    // not come yet.
    let (rounds, closers, waiters) = (20, 16, 8);
    let mut left = Vec::new();
    for round in 0..rounds {
        left.extend(with_watchdog(move || {
            close_races::group_left_after_close_round(round, closers, waiters)
        }));
    }
    assert!(
        left.is_empty(),
        "alive after close or wait returned: {left:?}"
    );
}

#[test]
fn runner_timeout_and_combined_output_timeout_report_timed_out() {
    with_watchdog(|| {
        let limit = Duration::from_millis(300);
        let run = ExclusiveRunner::new()
            .run_until_completion("echo before; sleep 30", RunOptions::timeout(limit))
            .unwrap();
        assert_eq!(run.output, b"before\n");
        assert!(matches!(run.error, Some(Error::TimedOut)), "{run:?}");
        let e = run.exit.unwrap();
        assert!(e.timed_out() && e.stopped(), "{e:?}");

        let p = Process::builder()
            .command(["sh", "-c", "echo before; exec sleep 30"])
            .build()
            .unwrap();
        let out = p.start_and_wait_combined(Some(limit)).unwrap();
        assert_eq!(out.output, b"before\n");
        let e = out.exit.unwrap();
        assert!(out.timed_out && e.timed_out() && e.stopped(), "{e:?}");
    });
}

#[test]
fn combined_output_limit_and_builder_timeout_the_smaller_wins() {
    with_watchdog(|| {
        let (short, long) = (Duration::from_millis(300), Duration::from_secs(60));
        for (builder, call) in [(short, long), (long, short), (short, Duration::MAX)] {
            let p = Process::builder()
                .command(["sleep", "30"])
                .timeout(builder)
                .build()
                .unwrap();
            let out = p.start_and_wait_combined(Some(call)).unwrap();
            assert!(out.timed_out, "builder {builder:?}, call {call:?}");
            assert!(out.exit.unwrap().timed_out());
        }
    });
}

/// Prints `ready`, then a line for each SIGUSR1, until something else ends
/// it; its command timeout is the watchdog of every blocking read.
fn signal_echo() -> procrun::ProcessBuilder {
    Process::builder()
        .command([
            "sh",
            "-c",
            "trap 'echo got USR1' USR1; echo ready; while :; do sleep 60 & wait; done",
        ])
        .timeout(WATCHDOG)
}

fn next_line(r: &mut procrun::StreamReader) -> String {
    let line = r.next_line_blocking().expect("stdout ended");
    line.to_string_lossy().into_owned()
}

#[test]
fn signal_reaches_the_process_and_kill_ends_the_run_not_the_process() {
    close_races::with_watchdog(|| {
        let p = signal_echo()
            .restart(
                Restart::on_error()
                    .limit(1)
                    .interval(Duration::from_millis(10)),
            )
            .build()
            .unwrap();
        p.start().unwrap();
        let mut out = p.stdout().unwrap();
        assert_eq!(next_line(&mut out), "ready");
        // One at a time: two of the same signal pending at once are one.
        for _ in 0..2 {
            p.signal(Signal::USR1).unwrap();
            assert_eq!(next_line(&mut out), "got USR1");
        }
        p.kill().unwrap();
        assert_eq!(next_line(&mut out), "ready", "restarted after the kill");
        p.kill().unwrap();
        let e = p.wait().unwrap();
        assert_eq!(e.signal(), Some(Signal::KILL));
        assert!(!e.stopped() && e.restart_limit_reached());
        let exits: Vec<_> = p.exits().collect();
        assert_eq!(exits.len(), 2);
        assert!(exits.iter().all(|e| e.signal() == Some(Signal::KILL)));
        p.close().unwrap();
    });
}

#[test]
fn signal_before_start_is_an_error_and_after_the_end_sends_nothing() {
    close_races::with_watchdog(|| {
        let p = Process::builder().command(["true"]).build().unwrap();
        assert!(matches!(p.signal(Signal::TERM), Err(Error::NotStarted)));
        assert!(matches!(p.kill(), Err(Error::NotStarted)));
        p.start().unwrap();
        assert!(p.wait().unwrap().success());
        p.signal(Signal::TERM).unwrap();
        p.kill().unwrap();
        p.close().unwrap();
        p.kill().unwrap();
        assert!(p.last_exit().unwrap().success());

        let never = Process::builder().command(["true"]).build().unwrap();
        never.close().unwrap();
        assert!(matches!(never.kill(), Err(Error::NotStarted)));
    });
}

#[test]
fn kill_cuts_the_grace_of_a_close_on_another_thread_short() {
    close_races::with_watchdog(|| {
        let p = Arc::new(
            Process::builder()
                .command(["sh", "-c", "trap '' TERM; echo ready; sleep 600"])
                .grace(Duration::from_secs(600))
                .build()
                .unwrap(),
        );
        p.start().unwrap();
        let pid = p.pid().unwrap();
        let _guard = KillOnDrop(pid);
        assert_eq!(next_line(&mut p.stdout().unwrap()), "ready");
        let closer = {
            let p = p.clone();
            std::thread::spawn(move || p.close())
        };
        let deadline = Instant::now() + WATCHDOG;
        while !p.closed() {
            assert!(Instant::now() < deadline, "watchdog: close never began");
            std::thread::yield_now();
        }
        p.kill().unwrap();
        closer.join().unwrap().unwrap();
        assert_eq!(p.last_exit().unwrap().signal(), Some(Signal::KILL));
    });
}

#[test]
fn empty_or_blank_script_contents_are_nothing_to_run() {
    for contents in ["", " \n\t\n"] {
        let r = Process::builder().script(contents).build();
        assert!(matches!(r, Err(Error::EmptyProgram)), "{contents:?}: {r:?}");
        let r = Process::builder().script(contents).inline().build();
        assert!(
            matches!(r, Err(Error::EmptyProgram)),
            "inline {contents:?}: {r:?}"
        );
    }
}

#[test]
fn inline_alone_runs_the_commands_as_one_bash_script() {
    close_races::with_watchdog(|| {
        let several = Process::builder()
            .commands([vec!["echo hi"], vec!["echo there"]])
            .inline()
            .build()
            .unwrap();
        several.start().unwrap();
        assert_eq!(lines(&several), ["hi", "there"]);
        assert!(several.wait().unwrap().success());
        assert!(several.script_path().is_none(), "inline writes no file");

        let line = Process::builder()
            .command(["echo hi && echo there"])
            .inline()
            .build()
            .unwrap();
        line.start().unwrap();
        assert_eq!(lines(&line), ["hi", "there"]);
        assert!(line.wait().unwrap().success());
    });
}

#[test]
fn script_file_is_readable_and_writable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    close_races::with_watchdog(|| {
        let p = Process::builder()
            .script("echo ready; exec sleep 600")
            .build()
            .unwrap();
        p.start().unwrap();
        let _guard = KillOnDrop(p.pid().unwrap());
        assert_eq!(next_line(&mut p.stdout().unwrap()), "ready");
        let path = p.script_path().expect("a script file");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{path:?}");
        p.close().unwrap();
    });
}

#[test]
fn read_without_wait_reports_the_timeout_that_ended_the_process() {
    close_races::with_watchdog(|| {
        let p = Process::builder()
            .command(["sh", "-c", "echo started; exec sleep 600"])
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        p.start().unwrap();
        let _guard = KillOnDrop(p.pid().unwrap());
        let mut got = Vec::new();
        let r = read(
            &p,
            ReadOptions::new().on_line(|l| got.push(l.to_string_lossy().into_owned())),
        );
        assert!(matches!(r, Err(Error::TimedOut)), "{r:?}");
        assert_eq!(got, ["started"]);
        assert!(p.wait().unwrap().timed_out());
    });
}

/// The pid of the `sleep 600` a runner script left in the background.
fn runner_leaves_a_sleep(opts: RunOptions) -> u32 {
    let runner = ExclusiveRunner::new();
    let out = runner
        .run_until_completion("sleep 600 >/dev/null 2>&1 &\necho $!\n", opts)
        .unwrap();
    assert!(out.error.is_none(), "{out:?}");
    String::from_utf8_lossy(&out.output).trim().parse().unwrap()
}

/// The command name of `pid`, or `None` once it is gone or a zombie.
fn live_comm(pid: u32) -> Option<String> {
    match common::proc_state(pid) {
        Some('Z') | None => None,
        Some(_) => std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .ok()
            .map(|c| c.trim().to_owned()),
    }
}

#[test]
fn detached_runner_leaves_background_jobs_running_and_attached_one_kills_them() {
    close_races::with_watchdog(|| {
        let pid = runner_leaves_a_sleep(RunOptions::default().detached());
        let _guard = KillOnDrop(pid);
        // Forked before bash echoed its pid, it may not have exec'd yet.
        let deadline = Instant::now() + WATCHDOG;
        loop {
            match live_comm(pid).as_deref() {
                Some("sleep") => break,
                Some(_) => assert!(
                    Instant::now() < deadline,
                    "watchdog: {pid} never became sleep"
                ),
                None => panic!("the detached run's background sleep {pid} died with it"),
            }
            std::thread::sleep(Duration::from_millis(10));
        }

        let pid = runner_leaves_a_sleep(RunOptions::default());
        let _guard = KillOnDrop(pid);
        wait_dead(pid);
    });
}

/// Starts `sh -c script` for the tests of lines longer than the buffer: a
/// child paused for a line that only more output could finish hung its
/// line reader. The timeout and `kill_on_parent_death` end the child when
/// a reader hangs and the watchdog fails the test, so nothing is left.
fn long_line_process(script: &str, buffer: Option<usize>, max_line: Option<usize>) -> Process {
    let mut b = Process::builder()
        .command(["sh", "-c", script])
        .timeout(WATCHDOG / 2)
        .kill_on_parent_death();
    if let Some(n) = buffer {
        b = b.buffer(n);
    }
    if let Some(n) = max_line {
        b = b.max_line(n);
    }
    let p = b.build().unwrap();
    p.start().unwrap();
    p
}

#[test]
fn a_line_longer_than_the_buffer_is_read_whole_not_hung() {
    with_watchdog(|| {
        let p = long_line_process(
            // The pause lets the line in progress be read alone, past the
            // buffer, before its end comes.
            "head -c 100 /dev/zero | tr '\\0' a; sleep 0.2; echo; echo done",
            Some(16),
            None,
        );
        let mut got = Vec::new();
        read(
            &p,
            ReadOptions::new()
                .stdout()
                .wait_for_exit()
                .on_line(|l| got.push((l.to_string_lossy().into_owned(), l.partial))),
        )
        .unwrap();
        assert_eq!(got, [("a".repeat(100), false), ("done".into(), false)]);
        p.close().unwrap();
    });
}

#[test]
fn a_line_longer_than_the_default_buffer_within_max_line_is_read_whole() {
    with_watchdog(|| {
        let p = long_line_process(
            "head -c 2000000 /dev/zero | tr '\\0' a; echo; echo done",
            None,
            Some(4 << 20),
        );
        let got: Vec<_> = p
            .lines()
            .unwrap()
            .map(|l| (l.bytes.len(), l.partial))
            .collect();
        assert_eq!(got, [(2_000_000, false), (4, false)]);
        assert!(p.wait().unwrap().success());
        p.close().unwrap();
    });
}

#[test]
fn lines_at_the_buffer_and_max_line_boundaries_are_read_in_order() {
    with_watchdog(|| {
        // max_line 16 and buffers around it: lines of 14 to 18 bytes, each
        // ended by `\n` and by `\r\n`, so a line in progress reaches the
        // buffer, the limit and one or two past them.
        let mut script = String::new();
        let mut want = Vec::new();
        for n in 14..=18 {
            for end in ["\\n", "\\r\\n"] {
                script += &format!("printf '%s{end}' {}; ", "x".repeat(n));
                want.push(("x".repeat(n.min(16)), n > 16));
                if n > 16 {
                    want.push(("x".repeat(n - 16), false));
                }
            }
        }
        // Then more than a pipe holds, so a child paused for good stays
        // blocked (fold leaves its last line to the `echo`).
        script += "head -c 1000000 /dev/zero | tr '\\0' y | fold -w 10; echo; echo done";
        want.push(("done".into(), false));
        for buffer in [1, 15, 16, 17, 18] {
            let p = long_line_process(&script, Some(buffer), Some(16));
            let mut ys = 0;
            let got: Vec<_> = p
                .lines()
                .unwrap()
                .filter(|l| {
                    let y = l.bytes == b"yyyyyyyyyy";
                    ys += if y { 10 } else { 0 };
                    !y
                })
                .map(|l| (l.to_string_lossy().into_owned(), l.partial))
                .collect();
            assert_eq!(got, want, "buffer {buffer}");
            assert_eq!(ys, 1_000_000, "buffer {buffer}");
            assert!(p.wait().unwrap().success());
            p.close().unwrap();
        }
    });
}

#[test]
fn unfinished_lines_on_both_streams_together_past_the_buffer_are_read() {
    with_watchdog(|| {
        // Each stream's line in progress fits the buffer, both together do
        // not; the child then writes more than a pipe holds, so it stays
        // blocked if nobody reads on.
        let p = long_line_process(
            "printf %s aaaaaaaaaaaa; printf %s bbbbbbbbbbbb >&2; sleep 0.2; \
             echo; echo >&2; head -c 3000000 /dev/zero | tr '\\0' x | fold -w 15; echo; echo done",
            Some(16),
            Some(16),
        );
        let (mut got, mut xs) = (Vec::new(), 0);
        for l in p.lines().unwrap() {
            if l.bytes.iter().all(|&b| b == b'x') {
                xs += l.bytes.len();
            } else {
                got.push((l.stream == Stream::Stderr, l.to_string_lossy().into_owned()));
            }
        }
        got.sort();
        assert_eq!(
            got,
            [
                (false, "aaaaaaaaaaaa".into()),
                (false, "done".into()),
                (true, "bbbbbbbbbbbb".into()),
            ]
        );
        assert_eq!(xs, 3_000_000);
        assert!(p.wait().unwrap().success());
        p.close().unwrap();
    });
}

#[test]
fn combined_output_of_a_line_longer_than_the_buffer_is_complete() {
    with_watchdog(|| {
        let p = Process::builder()
            .command(["sh", "-c", "head -c 100 /dev/zero | tr '\\0' a; echo"])
            .buffer(16)
            .timeout(WATCHDOG / 2)
            .kill_on_parent_death()
            .build()
            .unwrap();
        let out = p.start_and_wait_combined(None).unwrap();
        assert_eq!(out.output, [&[b'a'; 100][..], b"\n"].concat());
        assert!(out.exit.unwrap().success());
        p.close().unwrap();
    });
}

#[test]
fn a_nul_in_script_mode_is_a_nul_byte_error_at_build() {
    // bash drops a NUL from its input, so the command would run with
    // other words than the ones given: refuse it as a plain command is.
    let nul = |b: procrun::ProcessBuilder, what: &str| match b.build() {
        Err(Error::NulByte { what: w, value }) => {
            assert_eq!(w, what);
            assert!(value.contains('\0'), "{value:?}");
        }
        other => panic!("{what}: {other:?}"),
    };
    let words = || Process::builder().command(["printf", "[%s]\\n", "a\0b"]);
    nul(words().run_as_bash_script(), "argument");
    nul(words().inline(), "argument");
    nul(
        Process::builder().command(["pr\0intf", "x"]).inline(),
        "program",
    );
    nul(
        Process::builder()
            .command(["true"])
            .command(["echo a\0b"])
            .run_as_bash_script(),
        "script line",
    );
    nul(
        Process::builder().command(["echo a\0b"]).inline(),
        "script line",
    );
    nul(Process::builder().script("echo ok\necho a\0b\n"), "script");
    nul(Process::builder().script("echo a\0b").inline(), "script");
    // Plain mode as before.
    nul(words(), "argument");
}

#[test]
fn a_timeout_during_the_restart_delay_is_the_final_exit_timed_out() {
    with_watchdog(|| {
        // The run fails at once and would restart in a minute; the timeout
        // (seconds later, the run long gone) cancels that restart.
        let build = || {
            Process::builder()
                .command(["sh", "-c", "echo try; exit 1"])
                .restart(Restart::on_error().limit(5).interval(WATCHDOG))
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap()
        };
        let p = build();
        p.start().unwrap();
        let r = read(&p, ReadOptions::new());
        assert!(matches!(r, Err(Error::TimedOut)), "{r:?}");
        let e = p.wait().unwrap();
        assert_eq!(e.code(), Some(1), "{e:?}");
        assert!(e.is_final() && e.timed_out() && e.stopped(), "{e:?}");
        p.close().unwrap();

        let p = build();
        let out = p.start_and_wait_combined(None).unwrap();
        assert_eq!(out.output, b"try\n");
        let e = out.exit.unwrap();
        assert!(e.is_final() && e.timed_out(), "{e:?}");
        p.close().unwrap();
    });
}

#[test]
fn a_close_during_the_restart_delay_makes_the_last_exit_final_and_stopped() {
    with_watchdog(|| {
        let p = Process::builder()
            .command(["sh", "-c", "exit 1"])
            .restart(Restart::on_error().limit(5).interval(WATCHDOG))
            .build()
            .unwrap();
        let mut exits = p.exits();
        p.start().unwrap();
        let first = exits.next_timeout(WATCHDOG).unwrap().unwrap();
        assert_eq!(first.restart_in(), Some(WATCHDOG));
        p.close().unwrap();
        let e = p.wait().unwrap();
        assert_eq!(e.code(), Some(1), "{e:?}");
        assert!(e.is_final() && e.stopped() && !e.timed_out(), "{e:?}");
    });
}

#[test]
fn close_of_a_paused_process_whose_run_ended_restarts_nothing_and_returns() {
    with_watchdog(|| {
        // Nobody reads: past the 1,000-byte buffer the child is paused;
        // its 20 KB fit in the pipe, so it exits anyway and is reaped,
        // its exit held back until its output is read. close() stops it
        // then: no restart may follow (none ever did, with no limit).
        let p = Process::builder()
            .command([
                "sh",
                "-c",
                "head -c 20000 /dev/zero | tr '\\0' x | fold -w 99; exit 1",
            ])
            .buffer(1000)
            .restart(Restart::always().interval(Duration::from_millis(50)))
            .build()
            .unwrap();
        p.start().unwrap();
        let pid = p.pid().unwrap();
        let deadline = Instant::now() + WATCHDOG;
        while std::path::Path::new(&format!("/proc/{pid}")).exists() {
            assert!(Instant::now() < deadline, "pid {pid} never reaped");
            std::thread::sleep(Duration::from_millis(10));
        }
        p.close().unwrap();
        let e = p.wait().unwrap();
        assert_eq!(e.restarts(), 0, "{e:?}");
        assert!(e.is_final() && e.stopped(), "{e:?}");
    });
}

/// A reader taken on one thread while `start()` runs on another (the
/// start begun, its driver not picked yet) must still resume the child
/// that its reading unpauses: a full buffer pauses the child many times
/// here, and a resume sent nowhere leaves it paused for ever. Each round
/// spins for the reader from the instant the start begins, so that some
/// rounds take it in that window.
#[test]
fn a_reader_taken_while_start_runs_resumes_the_child_it_reads() {
    const ROUNDS: usize = 40;
    const LINES: usize = 50;
    for round in 0..ROUNDS {
        let n = with_watchdog(move || {
            let p = Arc::new(
                Process::builder()
                    .commands([[
                        "sh",
                        "-c",
                        "i=0; while [ $i -lt 50 ]; do echo line; i=$((i+1)); done",
                    ]])
                    .run_as_bash_script()
                    .buffer(16)
                    .build()
                    .unwrap(),
            );
            let go = Arc::new(Barrier::new(2));
            let reader = {
                let (p, go) = (p.clone(), go.clone());
                std::thread::spawn(move || {
                    go.wait();
                    let mut out = loop {
                        match p.stdout() {
                            Ok(r) => break r,
                            Err(Error::NotStarted) => std::hint::spin_loop(),
                            Err(e) => panic!("stdout: {e}"),
                        }
                    };
                    let mut n = 0;
                    while out.next_line_blocking().is_some() {
                        n += 1;
                    }
                    n
                })
            };
            go.wait();
            p.start().unwrap();
            let n = reader.join().unwrap();
            assert!(p.wait().unwrap().success());
            n
        });
        assert_eq!(n, LINES, "round {round}");
    }
}

#[test]
fn pid_is_none_after_the_child_is_reaped_as_tokio_id() {
    with_watchdog(|| {
        // tokio's `Child::id()` is `None` once the child is reaped: a pid
        // kept past the reap may name another process by the time it is
        // used.
        let p = Process::builder()
            .command(["sh", "-c", "echo $$; exec sleep 30"])
            .restart(
                Restart::on_error()
                    .limit(1)
                    .interval(Duration::from_secs(1)),
            )
            .build()
            .unwrap();
        p.start().unwrap();
        let mut out = p.stdout().unwrap();
        let mut exits = p.exits();
        let first: u32 = out
            .next_line_blocking()
            .unwrap()
            .to_string_lossy()
            .parse()
            .unwrap();
        let _guard = KillOnDrop(first);
        assert_eq!(p.pid(), Some(first));
        p.kill().unwrap();
        assert_eq!(exits.next().unwrap().pid(), first);
        // Reaped, the restart 1 s away: no run, no pid.
        assert_eq!(p.pid(), None);
        // The restarted run has a pid again, its own.
        let second: u32 = out
            .next_line_blocking()
            .unwrap()
            .to_string_lossy()
            .parse()
            .unwrap();
        let _guard2 = KillOnDrop(second);
        assert_eq!(p.pid(), Some(second));
        p.close().unwrap();
        assert_eq!(p.pid(), None);
        assert_eq!(p.last_exit().unwrap().pid(), second);

        // A run that ends by itself, no restart.
        let p = Process::builder().command(["true"]).build().unwrap();
        p.start().unwrap();
        let pid = p.wait().unwrap().pid();
        assert_ne!(pid, 0);
        assert_eq!(p.pid(), None);
    });
}

#[test]
fn wait_closes_an_untaken_stdin_as_tokio_wait_drops_stdin() {
    with_watchdog(|| {
        // tokio's `Child::wait` drops the child's stdin before waiting, so
        // a `cat` nobody writes to ends; so does this one, on every run.
        let p = Process::builder()
            .command(["cat"])
            .stdin_stream()
            .restart(
                Restart::always()
                    .limit(1)
                    .interval(Duration::from_millis(10)),
            )
            .build()
            .unwrap();
        p.start().unwrap();
        let exit = p.wait().unwrap();
        assert!(exit.success() && exit.restarts() == 1, "{exit:?}");
        let err = p.stdin().unwrap().write_all(b"late").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);

        // A writer taken before the wait stays the caller's: what it
        // writes reaches the child, and its drop is the EOF.
        let p = Arc::new(
            Process::builder()
                .command(["cat"])
                .stdin_stream()
                .build()
                .unwrap(),
        );
        p.start().unwrap();
        let mut stdin = p.stdin().unwrap();
        let waiter = {
            let p = p.clone();
            std::thread::spawn(move || p.wait())
        };
        stdin.write_all(b"kept\n").unwrap();
        let mut out = p.stdout().unwrap();
        assert_eq!(out.next_line_blocking().unwrap().to_string_lossy(), "kept");
        assert!(!waiter.is_finished());
        drop(stdin);
        assert!(waiter.join().unwrap().unwrap().success());
    });
}

#[test]
fn a_reader_taken_before_the_drop_reads_all_the_child_wrote_as_tokio_child_stdout_outlives_child() {
    with_watchdog(|| {
        // tokio's `ChildStdout` outlives its `Child`: killing on drop is
        // right, losing what the child already wrote is not.
        let p = Process::builder()
            .command([
                "sh",
                "-c",
                "echo written-before-the-drop; echo ready >&2; exec sleep 30",
            ])
            .build()
            .unwrap();
        p.start().unwrap();
        let pid = p.pid().unwrap();
        let _guard = KillOnDrop(pid);
        let mut out = p.stdout().unwrap();
        let mut err = p.stderr().unwrap();
        assert_eq!(err.next_line_blocking().unwrap().to_string_lossy(), "ready");
        std::thread::sleep(Duration::from_millis(300));
        drop(p);
        let mut text = String::new();
        out.read_to_string(&mut text).unwrap();
        assert_eq!(text, "written-before-the-drop\n");
        // The end of the output is the end of the child: killed, reaped.
        wait_dead(pid);
        assert!(err.next_line_blocking().is_none());
    });
}

#[test]
fn a_paused_child_dropped_ends_whether_its_reader_reads_or_goes() {
    with_watchdog(|| {
        // The buffer fills and pauses `yes`; the drop stops it. A reader
        // taken before reads on to the end of the output (resuming the
        // child as it goes), or goes unread: either way the stop
        // completes and the exit comes.
        for read_on in [true, false] {
            let p = Process::builder()
                .command(["sh", "-c", "echo $$; exec yes"])
                .buffer(4096)
                .build()
                .unwrap();
            p.start().unwrap();
            let pid = p.pid().unwrap();
            let _guard = KillOnDrop(pid);
            let mut out = p.stdout().unwrap();
            let mut exits = p.exits();
            let first = out.next_line_blocking().unwrap();
            assert_eq!(first.to_string_lossy(), pid.to_string());
            // Paused: nobody reads the pipe, `yes` blocks writing to it.
            let wchan = format!("/proc/{pid}/wchan");
            while !std::fs::read_to_string(&wchan)
                .unwrap()
                .contains("pipe_write")
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            drop(p);
            if read_on {
                while let Some(line) = out.next_line_blocking() {
                    assert_eq!(line.bytes, b"y");
                }
            }
            drop(out);
            let exit = exits.next().expect("the stopped run's exit");
            assert!(exit.stopped(), "{exit:?}");
            wait_dead(pid);
        }
    });
}

#[test]
fn output_keeps_the_streams_apart_with_a_big_stderr_as_std_command_output() {
    with_watchdog(|| {
        // std's and tokio's `Command::output()`: each stream apart, read
        // as they come. Reading stdout to its end first would deadlock
        // here: 3 MB of stderr fill the buffer before stdout ends.
        let p = Process::builder()
            .command(["sh", "-c", "yes err | head -c 3000000 >&2; echo done"])
            .build()
            .unwrap();
        let out = p.output().unwrap();
        assert_eq!(out.stdout, b"done\n");
        assert_eq!(out.stderr.len(), 3_000_000);
        assert!(out.stderr.chunks(4).all(|c| c == &b"err\n"[..c.len()]));
        assert!(!out.stdout_truncated && !out.stderr_truncated && !out.timed_out);
        assert!(out.exit.unwrap().success());
    });
}

#[test]
fn output_reads_both_big_streams_at_once() {
    with_watchdog(|| {
        let p = Process::builder()
            .command([
                "sh",
                "-c",
                "yes err | head -c 3000000 >&2 & yes out | head -c 3000000; wait",
            ])
            .build()
            .unwrap();
        let out = p.output().unwrap();
        assert_eq!(out.stdout.len(), 3_000_000);
        assert_eq!(out.stderr.len(), 3_000_000);
        assert!(out.stdout.chunks(4).all(|c| c == &b"out\n"[..c.len()]));
        assert!(out.stderr.chunks(4).all(|c| c == &b"err\n"[..c.len()]));
        assert!(out.exit.unwrap().success());
    });
}

#[test]
fn output_past_the_cap_keeps_the_head_and_says_truncated() {
    with_watchdog(|| {
        let p = Process::builder()
            .command(["sh", "-c", "yes | head -c 1000000; echo err >&2"])
            .output_cap(1000)
            .build()
            .unwrap();
        let out = p.output().unwrap();
        assert_eq!(out.stdout, b"y\n".repeat(500));
        assert!(out.stdout_truncated);
        assert_eq!(out.stderr, b"err\n");
        assert!(!out.stderr_truncated);
        // The rest was read and dropped: the child ran to its end.
        assert!(out.exit.unwrap().success());
    });
}

#[test]
fn output_of_a_child_that_never_closes_its_output_ends_at_the_timeout() {
    with_watchdog(|| {
        // A background job holds both pipes open as long as the child.
        let p = Process::builder()
            .command([
                "sh",
                "-c",
                "echo partial; echo half >&2; sleep 30 & exec sleep 30",
            ])
            .timeout(Duration::from_millis(300))
            .grace(Duration::from_secs(5))
            .build()
            .unwrap();
        let out = p.output().unwrap();
        assert_eq!(out.stdout, b"partial\n");
        assert_eq!(out.stderr, b"half\n");
        assert!(out.timed_out && out.exit.unwrap().timed_out());
    });
}

#[test]
fn output_closes_an_untaken_stdin_as_std_output_does() {
    with_watchdog(|| {
        let p = Process::builder()
            .command(["cat"])
            .stdin_stream()
            .build()
            .unwrap();
        let out = p.output().unwrap();
        assert!(out.stdout.is_empty() && out.exit.unwrap().success());
    });
}

/// What fd `fd` of this test process is open on.
fn own_fd(fd: u32) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn builder_env_var_and_env_remove_shape_the_childs_environment_as_command() {
    with_watchdog(|| {
        use std::os::unix::ffi::OsStrExt;
        let value = std::ffi::OsStr::from_bytes(b"caf\xe9");
        let p = Process::builder()
            .command([
                "sh",
                "-c",
                "printf '%s|%s' \"$PROCRUN_T\" \"${HOME-unset}\"",
            ])
            .env_var("PROCRUN_T", value)
            .env_remove("HOME")
            .build()
            .unwrap();
        assert_eq!(p.output().unwrap().stdout, b"caf\xe9|unset");
        // A variable set and then removed is not set.
        let p = Process::builder()
            .command(["sh", "-c", "echo \"${PROCRUN_T-unset}\""])
            .env_var("PROCRUN_T", "1")
            .env_remove("PROCRUN_T")
            .build()
            .unwrap();
        assert_eq!(p.output().unwrap().stdout, b"unset\n");
    });
}

#[test]
fn builder_stdin_bytes_feed_every_run_and_stdin_input_chooses_the_source() {
    with_watchdog(|| {
        let p = Process::builder()
            .command(["cat"])
            .stdin_bytes(&b"fed\n"[..])
            .restart(
                Restart::always()
                    .limit(1)
                    .interval(Duration::from_millis(10)),
            )
            .build()
            .unwrap();
        let out = p.output().unwrap();
        assert_eq!(out.stdout, b"fed\nfed\n");
        assert_eq!(out.exit.unwrap().restarts(), 1);

        let p = Process::builder()
            .command(["cat"])
            .stdin(procrun::Input::Bytes(Arc::from(&b"as bytes"[..])))
            .build()
            .unwrap();
        assert_eq!(p.output().unwrap().stdout, b"as bytes");

        let p = Process::builder()
            .command(["sh", "-c", "readlink /proc/self/fd/0"])
            .stdin(procrun::Input::Null)
            .build()
            .unwrap();
        assert_eq!(p.output().unwrap().stdout, b"/dev/null\n");

        let p = Process::builder()
            .command(["sh", "-c", "readlink /proc/self/fd/0"])
            .stdin(procrun::Input::Inherit)
            .build()
            .unwrap();
        let out = String::from_utf8(p.output().unwrap().stdout).unwrap();
        assert_eq!(out.trim_end(), own_fd(0));
    });
}

#[test]
fn builder_stdout_and_stderr_go_to_null_inherit_or_stdout_as_command() {
    with_watchdog(|| {
        use procrun::Output;
        type Case = (
            fn(ProcessBuilder) -> ProcessBuilder,
            &'static [u8],
            &'static [u8],
        );
        let cases: [Case; 3] = [
            (|b| b.stdout(Output::Null), b"", b"err\n"),
            (|b| b.stderr(Output::Null), b"out\n", b""),
            (|b| b.stderr(Output::Stdout), b"out\nerr\n", b""),
        ];
        for (i, (route, stdout, stderr)) in cases.into_iter().enumerate() {
            let p = route(Process::builder().command(["sh", "-c", "echo out; echo err >&2"]))
                .build()
                .unwrap();
            let out = p.output().unwrap();
            assert_eq!(
                (&out.stdout[..], &out.stderr[..]),
                (stdout, stderr),
                "case {i}"
            );
        }

        // Inherited: the child's fd is the one this process has.
        let p = Process::builder()
            .command(["sh", "-c", "exec 3>&1; readlink /proc/self/fd/3 >&2"])
            .stdout(Output::Inherit)
            .build()
            .unwrap();
        let err = String::from_utf8(p.output().unwrap().stderr).unwrap();
        assert_eq!(err.trim_end(), own_fd(1));
        let p = Process::builder()
            .command(["sh", "-c", "readlink /proc/self/fd/2"])
            .stderr(Output::Inherit)
            .build()
            .unwrap();
        let out = String::from_utf8(p.output().unwrap().stdout).unwrap();
        assert_eq!(out.trim_end(), own_fd(2));
    });
}

#[test]
fn builder_takes_os_str_words_and_a_script_refuses_what_is_not_utf8() {
    with_watchdog(|| {
        use std::ffi::{OsStr, OsString};
        use std::os::unix::ffi::{OsStrExt, OsStringExt};
        let word = OsStr::from_bytes(b"\xff\xfe");
        let p = Process::builder()
            .command([OsStr::new("printf"), OsStr::new("%s"), word])
            .build()
            .unwrap();
        assert_eq!(p.output().unwrap().stdout, b"\xff\xfe");
        // Owned words and paths too.
        let p = Process::builder()
            .command([
                OsString::from("printf"),
                OsString::from("%s"),
                OsString::from_vec(b"\xfa".to_vec()),
            ])
            .build()
            .unwrap();
        assert_eq!(p.output().unwrap().stdout, b"\xfa");
        let p = Process::builder()
            .command([
                std::path::Path::new("/bin/echo"),
                std::path::Path::new("path"),
            ])
            .build()
            .unwrap();
        assert_eq!(p.output().unwrap().stdout, b"path\n");
        // A script is text: a word that is not UTF-8 has no place in it.
        let r = Process::builder()
            .command([OsStr::new("echo"), word])
            .run_as_bash_script()
            .build();
        assert!(matches!(r, Err(Error::InvalidCommand { .. })), "{r:?}");
        // A NUL is refused as before, run directly or in a script.
        let r = Process::builder()
            .command([OsStr::new("echo"), OsStr::new("a\0b")])
            .build();
        assert!(matches!(r, Err(Error::NulByte { .. })), "{r:?}");
    });
}

/// A process paused for untaken lines (its reader out, not reading) and
/// then killed is done without a read: its run ended, so what its pipe
/// still holds is taken past the cap and the exit comes. The reader then
/// takes every line.
#[test]
fn kill_then_wait_of_a_process_paused_for_untaken_lines_returns() {
    with_watchdog(|| {
        let p = Process::builder().command(["yes"]).build().unwrap();
        p.start().unwrap();
        let mut lines = p.lines().unwrap();
        assert!(lines.next().is_some());
        let pid = p.pid().unwrap();
        // Paused: its pipe full, it waits in its write.
        let deadline = Instant::now() + common::watchdog();
        while !std::fs::read_to_string(format!("/proc/{pid}/wchan"))
            .is_ok_and(|w| w.contains("pipe_write"))
        {
            assert!(Instant::now() < deadline, "watchdog: never blocked");
            std::thread::sleep(Duration::from_millis(5));
        }
        p.kill().unwrap();
        let exit = p.wait().unwrap();
        assert_eq!(exit.signal(), Some(Signal::KILL));
        let rest = lines.inspect(|l| assert_eq!(l.bytes, b"y")).count();
        assert!(rest > 1000, "{rest} lines");
    });
}

/// The same for runs its run timeout ends, one after the other: the
/// restarted run is held for the reader as the first was (the pause
/// goes on across the restart), and its timeout ends it all the same;
/// the final exit comes without a read, and the reader then takes both
/// runs' lines.
#[test]
fn runs_timed_out_while_paused_for_untaken_lines_end_without_a_read() {
    with_watchdog(|| {
        let p = Process::builder()
            .command(["yes"])
            .run_timeout(Duration::from_millis(300))
            .restart(Restart::on_error().limit(1).interval(Duration::ZERO))
            .build()
            .unwrap();
        p.start().unwrap();
        let mut lines = p.lines().unwrap();
        assert!(lines.next().is_some());
        let exit = p.wait().unwrap();
        assert_eq!(exit.timeout_kind(), Some(TimeoutKind::Run));
        assert!(exit.restarts() == 1 && exit.restart_limit_reached());
        let rest = lines.inspect(|l| assert_eq!(l.bytes, b"y")).count();
        assert!(rest > 1000, "{rest} lines");
    });
}
