//! Pipelines: stages joined by pipes procrun never reads, supervised as
//! one child (`pipefail`, one stop for all, restarts of the whole).

use std::collections::HashSet;
use std::time::Duration;

use crate::common::*;
use procrun::{
    ChildId, Command, Error, Event, Input, Output, Pipeline, Process, Reactor, Restart, Signal,
    StageExit, Stream,
};

fn stage_exits(recs: &[Rec], id: ChildId) -> Vec<StageExit> {
    recs.iter()
        .filter_map(|r| match r {
            Rec::StageExited(e) if e.id() == id => Some(*e),
            _ => None,
        })
        .collect()
}

/// Every byte value, in a pattern no run of bytes repeats within (so a
/// lost, doubled or reordered chunk shows).
fn binary_data(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// The pipeline's raw stdout and its events, run to its end.
fn run_raw(p: &Pipeline) -> (Vec<u8>, Vec<Rec>) {
    let mut r = Reactor::new().unwrap();
    let id = r.spawn_pipeline(p).unwrap();
    let mut out = Vec::new();
    let mut recs = Vec::new();
    let deadline = std::time::Instant::now() + watchdog();
    while r.contains(id) {
        assert!(std::time::Instant::now() < deadline, "watchdog: {recs:?}");
        r.poll(Some(Duration::from_millis(200)), |_, ev| match ev {
            Event::Data {
                stream: Stream::Stdout,
                bytes,
                ..
            } => out.extend_from_slice(bytes),
            Event::Data { .. } => {}
            ev => recs.push(record(ev)),
        })
        .unwrap();
    }
    (out, recs)
}

/// Whether process `pid` is gone (or a zombie, which is dead).
fn gone(pid: u32) -> bool {
    matches!(proc_state(pid), None | Some('Z'))
}

#[test]
fn binary_data_goes_through_three_stages_byte_exact() {
    let data = binary_data(3 << 20);
    // Stdin to the first stage, compressed by the second, restored by the
    // third, whose stdout procrun reads: every byte value crosses both
    // middle pipes.
    let mut first = Command::new("cat");
    first.stdin_bytes(data.clone());
    let mut zip = Command::new("gzip");
    zip.args(["-c", "-1"]);
    let mut unzip = Command::new("gzip");
    unzip.args(["-d", "-c"]).stdout(Output::Raw);
    let mut p = Pipeline::new(first);
    p.pipe(zip).pipe(unzip);
    let (out, recs) = run_raw(&p);
    assert!(out == data, "{} bytes out of {}", out.len(), data.len());
    let exit = exits_of(&recs, recs_id(&recs))[0];
    assert!(exit.success(), "{exit}");
    assert_eq!(exit.failed_stage(), None);
    let mut stages: Vec<_> = stage_exits(&recs, exit.id())
        .iter()
        .map(|s| (s.stage(), s.code()))
        .collect();
    stages.sort();
    assert_eq!(stages, [(0, Some(0)), (1, Some(0)), (2, Some(0))]);
}

fn recs_id(recs: &[Rec]) -> ChildId {
    match recs.first() {
        Some(Rec::Started { id, .. }) => *id,
        other => panic!("first event {other:?}"),
    }
}

#[test]
fn pipefail_reports_the_last_failed_stage_and_every_stage_exit() {
    let mut p = Pipeline::new(sh("echo one; exit 3"));
    p.pipe(sh("cat; exit 5")).pipe(Command::new("cat"));
    let mut r = Reactor::new().unwrap();
    let id = r.spawn_pipeline(&p).unwrap();
    let pid = r.pid(id).unwrap();
    let recs = run_to_done(&mut r, id);
    assert_eq!(lines_of(&recs, id, Stream::Stdout), ["one"]);
    let [exit] = exits_of(&recs, id)[..] else {
        panic!("{recs:?}")
    };
    // The last stage succeeded; pipefail takes the rightmost failure.
    assert_eq!((exit.code(), exit.failed_stage()), (Some(5), Some(1)));
    assert_eq!(exit.pid(), pid, "the exit's pid is the first stage's");
    let stages = stage_exits(&recs, id);
    let mut codes: Vec<_> = stages.iter().map(|s| (s.stage(), s.code())).collect();
    codes.sort();
    assert_eq!(codes, [(0, Some(3)), (1, Some(5)), (2, Some(0))]);
    // The first stage, the group's leader, is reaped last, and the run's
    // exit follows every stage's.
    assert_eq!(stages.last().unwrap().stage(), 0);
    assert_eq!(stages.last().unwrap().pid(), pid);
    let exited = position(&recs, |r| matches!(r, Rec::Exited(_)));
    assert!(recs[exited..]
        .iter()
        .all(|r| !matches!(r, Rec::StageExited(_))));

    // Only the first fails: it is named.
    let mut p = Pipeline::new(sh("exit 7"));
    p.pipe(Command::new("cat"));
    let exit = only_exit_of(&p);
    assert_eq!((exit.code(), exit.failed_stage()), (Some(7), Some(0)));
}

/// Runs `p` on a reactor of its own to its end: its id and the events.
fn run_pipeline(p: &Pipeline) -> (ChildId, Vec<Rec>) {
    let mut r = Reactor::new().unwrap();
    let id = r.spawn_pipeline(p).unwrap();
    let recs = run_to_done(&mut r, id);
    (id, recs)
}

fn only_exit_of(p: &Pipeline) -> procrun::Exit {
    let (id, recs) = run_pipeline(p);
    let [exit] = exits_of(&recs, id)[..] else {
        panic!("{recs:?}")
    };
    exit
}

#[test]
fn a_first_stage_that_exits_early_does_not_end_the_stages_after_it() {
    // The first stage, the group's leader, is gone at once; the last
    // reads on, and its output comes whole: the leader's reap (which
    // kills what is left of its group) waits for every stage.
    let mut p = Pipeline::new(sh("echo early"));
    p.pipe(sh("sleep 0.3; cat; echo late"));
    let (id, recs) = run_pipeline(&p);
    assert_eq!(lines_of(&recs, id, Stream::Stdout), ["early", "late"]);
    assert!(exits_of(&recs, id)[0].success());
}

/// Drives `id` until its only line is `ready`, then stops it and drives
/// it to Done: the events.
fn stop_once_ready(r: &mut Reactor, id: ChildId) -> Vec<Rec> {
    let mut recs = Vec::new();
    drive_until(r, &mut recs, |recs| {
        lines_of(recs, id, Stream::Stdout) == ["ready"]
    });
    r.stop(id).unwrap();
    drive_until(r, &mut recs, |recs| recs.contains(&Rec::Done(id)));
    recs
}

#[test]
fn stop_reaches_every_stage() {
    let mut last = sh("echo ready; cat >/dev/null; sleep 300");
    last.grace(Duration::from_secs(30));
    let mut p = Pipeline::new(Command::new("sleep").arg("300").clone());
    p.pipe(sh("exec sleep 300")).pipe(last);
    let mut r = Reactor::new().unwrap();
    let id = r.spawn_pipeline(&p).unwrap();
    let recs = stop_once_ready(&mut r, id);
    let stages = stage_exits(&recs, id);
    assert_eq!(stages.len(), 3, "{recs:?}");
    for s in &stages {
        assert_eq!(s.signal(), Some(Signal::TERM), "stage {}", s.stage());
        assert!(gone(s.pid()), "stage {} ({}) alive", s.stage(), s.pid());
    }
    let exit = exits_of(&recs, id)[0];
    assert!(
        exit.stopped() && exit.signal() == Some(Signal::TERM),
        "{exit}"
    );
}

#[test]
fn a_timeout_reaches_every_stage() {
    let mut last = Command::new("sleep");
    last.arg("300").timeout(Duration::from_millis(300));
    let mut p = Pipeline::new(Command::new("sleep").arg("300").clone());
    p.pipe(last);
    let (id, recs) = run_pipeline(&p);
    let exit = exits_of(&recs, id)[0];
    assert!(exit.timed_out(), "{exit}");
    let stages = stage_exits(&recs, id);
    assert_eq!(stages.len(), 2);
    assert!(stages.iter().all(|s| s.signal() == Some(Signal::TERM)));
}

#[test]
fn a_stop_reaches_a_stage_that_left_the_group() {
    if !std::path::Path::new("/usr/bin/setsid").exists() {
        eprintln!("skipped: no setsid");
        return;
    }
    // The middle stage says its pid, then makes a session of its own (it
    // leads no group, so setsid runs sleep in place): the group's signal
    // misses it.
    let middle = sh("echo $$ >&2; exec setsid sleep 300");
    let mut last = sh("echo ready; exec sleep 300");
    last.grace(Duration::from_secs(30));
    let mut p = Pipeline::new(Command::new("sleep").arg("300").clone());
    p.pipe(middle).pipe(last);
    let mut r = Reactor::new().unwrap();
    let id = r.spawn_pipeline(&p).unwrap();
    let leader = r.pid(id).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |recs| {
        lines_of(recs, id, Stream::Stdout) == ["ready"]
            && lines_of(recs, id, Stream::Stderr).len() == 1
    });
    let pid: u32 = lines_of(&recs, id, Stream::Stderr)[0].parse().unwrap();
    let deadline = std::time::Instant::now() + watchdog();
    while proc_entry(pid).and_then(|p| p.pgrp()) == Some(leader) {
        assert!(std::time::Instant::now() < deadline, "setsid never ran");
        std::thread::sleep(Duration::from_millis(10));
    }
    r.stop(id).unwrap();
    drive_until(&mut r, &mut recs, |recs| recs.contains(&Rec::Done(id)));
    let stages = stage_exits(&recs, id);
    let middle = stages.iter().find(|s| s.stage() == 1).unwrap();
    assert_eq!(middle.signal(), Some(Signal::TERM), "{stages:?}");
}

#[test]
fn restart_restarts_the_whole_pipeline() {
    let mut last = sh("cat; exit 1");
    last.restart(
        Restart::on_error()
            .limit(2)
            .interval(Duration::from_millis(10)),
    );
    let mut p = Pipeline::new(sh("echo run"));
    p.pipe(last);
    let (id, recs) = run_pipeline(&p);
    assert_eq!(lines_of(&recs, id, Stream::Stdout), ["run", "run", "run"]);
    let exits = exits_of(&recs, id);
    assert_eq!(exits.len(), 3);
    assert!(exits.iter().all(|e| e.failed_stage() == Some(1)));
    // Each run is all stages anew: six stage exits, six pids.
    let pids: HashSet<u32> = stage_exits(&recs, id).iter().map(|s| s.pid()).collect();
    assert_eq!(pids.len(), 6, "{recs:?}");
}

#[test]
fn stderr_of_every_stage_is_the_pipelines_and_pipe_stderr_pipes_it() {
    let mut p = Pipeline::new(sh("echo to-next; echo first-err >&2"));
    p.pipe(sh("cat; echo last-err >&2"));
    let (id, recs) = run_pipeline(&p);
    assert_eq!(lines_of(&recs, id, Stream::Stdout), ["to-next"]);
    let mut err = lines_of(&recs, id, Stream::Stderr);
    err.sort();
    assert_eq!(err, ["first-err", "last-err"]);

    // Stderr down the pipe; stdout to the pipeline's stdout.
    let mut p = Pipeline::new(sh("echo out; echo err >&2"));
    p.pipe_stderr(sh("sed s/^/piped-/"));
    let (id, recs) = run_pipeline(&p);
    let mut out = lines_of(&recs, id, Stream::Stdout);
    out.sort();
    assert_eq!(out, ["out", "piped-err"]);
}

#[test]
fn settings_of_the_whole_on_another_stage_are_invalid() {
    let mut timed = Command::new("yes");
    timed.timeout(Duration::from_secs(1));
    let mut p = Pipeline::new(timed);
    p.pipe(Command::new("head"));
    assert!(matches!(p.validate(), Err(Error::InvalidCommand { .. })));

    let mut fed = Command::new("cat");
    fed.stdin(Input::Inherit);
    let mut p = Pipeline::new(Command::new("yes"));
    p.pipe(fed);
    assert!(matches!(p.validate(), Err(Error::InvalidCommand { .. })));

    let mut p = Pipeline::new(Command::new("yes"));
    p.pipe(Command::new("no-such-program-anywhere"));
    let mut r = Reactor::new().unwrap();
    assert!(matches!(
        r.spawn_pipeline(&p),
        Err(Error::ProgramNotFound { .. })
    ));
    assert!(r.is_empty());
}

#[test]
fn process_pipe_runs_a_pipeline_with_pipefail() {
    with_watchdog(|| {
        let p = Process::builder()
            .command(["printf", "b\\na\\n"])
            .pipe(["sort"])
            .pipe(["tr", "a-z", "A-Z"])
            .build()
            .unwrap();
        assert_eq!(p.output().unwrap().stdout, b"A\nB\n");

        let p = Process::builder()
            .command(["cat"])
            .stdin_bytes(&b"x"[..])
            .pipe(["sh", "-c", "cat; exit 6"])
            .pipe(["cat"])
            .build()
            .unwrap();
        let out = p.output().unwrap();
        assert_eq!(out.stdout, b"x");
        let exit = out.exit.unwrap();
        assert_eq!((exit.code(), exit.failed_stage()), (Some(6), Some(1)));
        let mut stages: Vec<_> = p
            .stage_exits()
            .iter()
            .map(|s| (s.stage(), s.code()))
            .collect();
        stages.sort();
        assert_eq!(stages, [(0, Some(0)), (1, Some(6)), (2, Some(0))]);

        let bad = Process::builder()
            .commands([["a"], ["b"]])
            .pipe(["cat"])
            .build();
        assert!(matches!(bad, Err(Error::InvalidCommand { .. })));
    });
}

#[test]
fn a_stop_after_the_first_stage_exited_reaches_the_stages_left() {
    // The first stage is gone (a zombie, unreaped: it holds the group's
    // id while the others run), and the stop still reaches the rest.
    let mut last = sh("cat; echo read-all; exec sleep 300");
    last.grace(Duration::from_secs(30));
    let mut p = Pipeline::new(sh("echo x"));
    p.pipe(last);
    let mut r = Reactor::new().unwrap();
    let id = r.spawn_pipeline(&p).unwrap();
    let leader = r.pid(id).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |recs| {
        lines_of(recs, id, Stream::Stdout).contains(&"read-all".to_string())
    });
    assert_eq!(proc_state(leader), Some('Z'), "the first stage has exited");
    r.stop(id).unwrap();
    drive_until(&mut r, &mut recs, |recs| recs.contains(&Rec::Done(id)));
    let stages = stage_exits(&recs, id);
    let first = stages.iter().find(|s| s.stage() == 0).unwrap();
    let last = stages.iter().find(|s| s.stage() == 1).unwrap();
    assert_eq!(first.code(), Some(0));
    assert_eq!(last.signal(), Some(Signal::TERM));
    let exit = exits_of(&recs, id)[0];
    assert_eq!(
        (exit.signal(), exit.failed_stage()),
        (Some(Signal::TERM), Some(1))
    );
}

#[test]
fn a_detached_pipeline_is_stopped_stage_by_stage() {
    let mut last = sh("echo ready; exec sleep 300");
    last.detached(true).grace(Duration::from_secs(30));
    let mut p = Pipeline::new(Command::new("sleep").arg("300").clone());
    p.pipe(Command::new("sleep").arg("300").clone()).pipe(last);
    let mut r = Reactor::new().unwrap();
    let id = r.spawn_pipeline(&p).unwrap();
    let leader = r.pid(id).unwrap();
    // No group of its own: the stages stay in procrun's.
    let ours = proc_entry(std::process::id()).unwrap().pgrp();
    assert_eq!(proc_entry(leader).unwrap().pgrp(), ours);
    let recs = stop_once_ready(&mut r, id);
    let stages = stage_exits(&recs, id);
    assert_eq!(stages.len(), 3);
    assert!(
        stages.iter().all(|s| s.signal() == Some(Signal::TERM)),
        "{stages:?}"
    );
}
