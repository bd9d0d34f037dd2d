//! Children that misbehave. Covered elsewhere: ignoring SIGTERM
//! (`reactor.rs` `stop_escalates_to_sigkill_after_grace_and_not_before`),
//! a grandchild holding the pipes (`grandchild_holding_the_pipe_does_not_hold_up_the_exit`),
//! exiting while paused (`exit_while_paused_is_held_back_until_output_is_read`),
//! exiting before reading its stdin (`child_that_stops_reading_stdin_early_is_no_error`).

mod common;

use std::time::Duration;

use common::*;
use procrun::{Command, Event, Reactor, Restart, Signal, Stream};

#[test]
fn child_closing_stdout_early_keeps_running_and_is_reaped() {
    let mut r = Reactor::new().unwrap();
    let id = r
        .spawn(&sh("exec 1>&-; echo still here >&2; sleep 0.2; exit 4"))
        .unwrap();
    let recs = run_to_done(&mut r, id);
    let closed = position(&recs, |e| matches!(e, Rec::Closed(_, Stream::Stdout)));
    let exit = position(&recs, |e| matches!(e, Rec::Exited(_)));
    assert!(closed < exit, "stdout EOF comes while the child runs");
    assert_eq!(lines_of(&recs, id, Stream::Stderr), ["still here"]);
    assert_eq!(exits_of(&recs, id)[0].code(), Some(4));
}

#[test]
fn a_gib_without_newline_comes_in_bounded_pieces() {
    let mut r = Reactor::new().unwrap();
    let id = r.spawn(&sh("head -c 1073741824 /dev/zero")).unwrap();
    let before = rss_kib();
    let (mut bytes, mut pieces, mut partial, mut max_piece) = (0u64, 0u64, 0u64, 0usize);
    let mut done = false;
    while !done {
        r.poll(Some(Duration::from_millis(200)), |_, ev| match ev {
            Event::Line {
                line, partial: p, ..
            } => {
                bytes += line.len() as u64;
                pieces += 1;
                partial += p as u64;
                max_piece = max_piece.max(line.len());
            }
            Event::Done { id: d, .. } if d == id => done = true,
            _ => {}
        })
        .unwrap();
    }
    assert_eq!(bytes, 1 << 30);
    assert_eq!(max_piece, 64 * 1024);
    assert_eq!(pieces, (1 << 30) / (64 * 1024));
    assert_eq!(partial, pieces - 1, "only the last piece ends the line");
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 64 * 1024, "RSS grew {grown} KiB for a 1 GiB line");
}

#[test]
fn invalid_utf8_and_nul_bytes_pass_through_unchanged() {
    let mut r = Reactor::new().unwrap();
    let id = r.spawn(&sh(r"printf '\377\000a\n\300\n\000'")).unwrap();
    let recs = run_to_done(&mut r, id);
    let lines: Vec<Vec<u8>> = recs
        .iter()
        .filter_map(|e| match e {
            Rec::Line { line, .. } => Some(line.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(lines, [vec![0xff, 0, b'a'], vec![0xc0], vec![0]]);
}

#[test]
fn kill_from_outside_is_a_failure_that_restarts() {
    let mut r = Reactor::new().unwrap();
    let mut c = Command::new("sleep");
    c.arg("100").restart(
        Restart::on_error()
            .limit(1)
            .interval(Duration::from_millis(10)),
    );
    let id = r.spawn(&c).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |r| {
        r.iter().any(|e| matches!(e, Rec::Started { .. }))
    });
    let pid = r.pid(id).unwrap();
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    drive_until(&mut r, &mut recs, |r| !exits_of(r, id).is_empty());
    let e = exits_of(&recs, id)[0];
    assert_eq!(e.signal(), Some(Signal::KILL));
    assert!(!e.stopped(), "procrun did not send that signal");
    assert!(
        e.restart_in().is_some(),
        "a signal from outside is a failure"
    );
    drive_until(&mut r, &mut recs, |r| {
        r.iter()
            .any(|e| matches!(e, Rec::Started { restarts: 1, .. }))
    });
    r.stop(id).unwrap();
    drive_until(&mut r, &mut recs, |r| r.contains(&Rec::Done(id)));
}

#[test]
fn exec_into_another_program_keeps_the_same_child() {
    let mut r = Reactor::new().unwrap();
    let id = r
        .spawn(&sh(r#"echo $$; exec sh -c 'echo $$; exit 6'"#))
        .unwrap();
    let recs = run_to_done(&mut r, id);
    let pids = lines_of(&recs, id, Stream::Stdout);
    assert_eq!(pids.len(), 2);
    assert_eq!(pids[0], pids[1]);
    let e = exits_of(&recs, id)[0];
    assert_eq!((e.code(), e.pid().to_string()), (Some(6), pids[0].clone()));
}

#[test]
fn setsid_escapes_the_group_and_the_stop() {
    // What procrun cannot reach: a process that made its own session is
    // outside the group a stop signals. Its pipes are closed after the
    // drain time so the child still finishes; the escapee lives on.
    let mut r = Reactor::new().unwrap();
    let mut c = sh("setsid sh -c 'echo $$; exec sleep 100' & wait");
    c.drain(Duration::from_millis(200));
    let id = r.spawn(&c).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |r| {
        !lines_of(r, id, Stream::Stdout).is_empty()
    });
    let escaped: u32 = lines_of(&recs, id, Stream::Stdout)[0].parse().unwrap();
    let _guard = KillOnDrop(escaped);
    r.stop(id).unwrap();
    drive_until(&mut r, &mut recs, |r| r.contains(&Rec::Done(id)));
    assert!(exits_of(&recs, id)[0].stopped());
    assert!(
        matches!(proc_state(escaped), Some(s) if s != 'Z'),
        "the escapee is out of reach and lives on"
    );
}
