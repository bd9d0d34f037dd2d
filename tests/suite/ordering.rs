//! Everything a run wrote comes before its exit event (guarantee 3
//! of the crate docs), in the race where the run fills its pipe in one
//! write and exits at once: the exit can be first on epoll's ready list,
//! and the exit path must still read to the end of the pipe.

use crate::common;

use common::bursts::{assert_ordered, have_python, Burst};

#[test]
fn pipe_full_burst_without_newline_comes_before_exit() {
    assert_ordered(Burst::PipeFull, 500);
}

#[test]
fn pipe_full_burst_with_newline_comes_before_exit() {
    assert_ordered(Burst::PipeFullNewline, 500);
}

#[test]
fn burst_into_a_child_grown_pipe_comes_before_exit() {
    if !have_python() {
        eprintln!("skipped: python3 is needed to grow the pipe from the child");
        return;
    }
    assert_ordered(Burst::GrownPipe, 500);
}

#[test]
fn last_line_without_newline_comes_before_exit_while_others_hold_the_pipe() {
    use common::*;
    use procrun::{Command, Reactor, Stream};
    // Detached, so the background sleep is not killed with the group and
    // keeps the pipe open past the exit: no EOF can end the last line.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "sleep 30 & echo $! >&2; printf tail"])
        .detached(true);
    let mut r = Reactor::new().unwrap();
    let id = r.spawn(&cmd).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |r| !exits_of(r, id).is_empty());
    let sleeper: u32 = lines_of(&recs, id, Stream::Stderr)[0].parse().unwrap();
    let _guard = KillOnDrop(sleeper);
    let tail = position(
        &recs,
        |r| matches!(r, Rec::Line { line, .. } if line == b"tail"),
    );
    let exit = position(&recs, |r| matches!(r, Rec::Exited(_)));
    assert!(tail < exit, "{recs:?}");
}
