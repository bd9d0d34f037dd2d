//! Nothing leaks: fds and zombies after many spawn/exit cycles. In a test
//! binary of its own, so no other test's children or fds are counted.

mod common;

use common::leftovers::open_fds;
use common::*;
use procrun::{Command, Reactor, Restart};
use std::time::Duration;

#[test]
fn no_fd_or_zombie_left_after_a_thousand_cycles() {
    let before = open_fds();
    let mut r = Reactor::new().unwrap();
    let with_reactor = open_fds();
    let mut echo = Command::new("echo");
    echo.arg("x");
    let mut fail = Command::new("false");
    fail.restart(Restart::on_error().limit(1).interval(Duration::ZERO));
    let mut stopped = Command::new("sleep");
    stopped.arg("100");
    let mut spawned = 0;
    while spawned < 1000 {
        // 50 in flight at a time: exits, restarts and stops mixed.
        for i in 0..50 {
            let cmd = match i % 3 {
                0 => &echo,
                1 => &fail,
                _ => &stopped,
            };
            let id = r.spawn(cmd).unwrap();
            if i % 3 == 2 {
                r.stop(id).unwrap();
            }
            spawned += 1;
        }
        drive_all(&mut r);
    }
    assert_eq!(open_fds(), with_reactor, "fds leaked");
    // No child of ours is left unreaped (ECHILD: no children at all).
    let w = rustix::process::wait(rustix::process::WaitOptions::NOHANG);
    assert_eq!(w.err(), Some(rustix::io::Errno::CHILD), "a zombie is left");
    drop(r);
    assert_eq!(open_fds(), before);
}
