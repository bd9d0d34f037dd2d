//! Load: 1,000 concurrent children, each printing numbered lines and their
//! sum; every line must arrive exactly once and in order. Prints the wall
//! time and the CPU time this process spent supervising.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use procrun::{ChildId, Command, Event, Reactor, Stream};

const CHILDREN: usize = 1000;
const LINES: u64 = 1000;

/// User plus system CPU time of this process, every thread's: what
/// /proc/self/stat gives as utime + stime in 10 ms ticks, from the kernel's
/// clock for it, to the nanosecond and with no line to parse.
fn cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

#[derive(Default)]
struct Seen {
    next: u64,
    sum: Option<u64>,
    exited: bool,
}

/// Runs `children` children on a reactor of its own, checking that every
/// line comes once and in order and every child exits.
fn load(children: usize) {
    let mut r = Reactor::new().unwrap();
    let script = format!(
        "awk 'BEGIN {{ for (i = 1; i <= {LINES}; i++) {{ print i; s += i }}; print \"sum\", s }}'"
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script]);
    let mut seen: HashMap<ChildId, Seen> = HashMap::new();
    for _ in 0..children {
        seen.insert(r.spawn(&cmd).unwrap(), Seen::default());
    }
    let deadline = Instant::now() + common::WATCHDOG * 3;
    while !r.is_empty() {
        assert!(Instant::now() < deadline, "watchdog");
        r.poll(Some(Duration::from_millis(200)), |_, ev| match ev {
            Event::Line {
                id,
                stream: Stream::Stdout,
                line,
                ..
            } => {
                let s = seen.get_mut(&id).unwrap();
                let text = std::str::from_utf8(line).unwrap();
                if let Some(sum) = text.strip_prefix("sum ") {
                    s.sum = Some(sum.parse().unwrap());
                } else {
                    s.next += 1;
                    assert_eq!(text.parse::<u64>().unwrap(), s.next, "out of order");
                }
            }
            Event::Exited(e) => {
                assert!(e.success());
                seen.get_mut(&e.id()).unwrap().exited = true;
            }
            _ => {}
        })
        .unwrap();
    }
    assert_eq!(seen.len(), children);
    for s in seen.values() {
        assert_eq!(s.next, LINES);
        assert_eq!(s.sum, Some(LINES * (LINES + 1) / 2));
        assert!(s.exited);
    }
}

#[test]
fn a_thousand_children_deliver_every_line_once_in_order() {
    let (wall, cpu) = (Instant::now(), cpu_time());
    load(CHILDREN);
    let (wall, cpu) = (wall.elapsed(), cpu_time() - cpu);
    eprintln!("load: {CHILDREN} children x {LINES} lines: wall {wall:?}, supervisor CPU {cpu:?}");
}

/// The same load on a reactor per thread, two threads spawning at once:
/// each child's copy of the other thread's fds (held until its exec) must
/// not let a line cross over, be lost or come twice.
#[test]
fn a_thousand_children_on_two_reactors_on_two_threads_deliver_every_line_once_in_order() {
    let (wall, cpu) = (Instant::now(), cpu_time());
    std::thread::scope(|s| {
        let halves = [
            s.spawn(|| load(CHILDREN / 2)),
            s.spawn(|| load(CHILDREN / 2)),
        ];
        for h in halves {
            h.join().unwrap();
        }
    });
    let (wall, cpu) = (wall.elapsed(), cpu_time() - cpu);
    eprintln!("load on two reactors: {CHILDREN} children x {LINES} lines: wall {wall:?}, supervisor CPU {cpu:?}");
}
