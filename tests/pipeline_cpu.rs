//! A pipeline's middle streams cost procrun nothing: 1 GiB through two
//! pipes between three stages, and the process's own CPU time stays far
//! below what copying it once would cost. In a test binary of its own,
//! so no other test's work is counted in the process's CPU time.

mod common;

use std::time::{Duration, Instant};

use procrun::{Command, Event, Output, Pipeline, Reactor};

const GIB: u64 = 1 << 30;

/// User plus system CPU time of this process, every thread's
/// (`getrusage(RUSAGE_SELF)`'s sum, from the kernel's clock for it).
fn cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

#[test]
fn a_gibibyte_through_the_middle_of_a_pipeline_costs_the_agent_no_cpu() {
    let mut first = Command::new("head");
    first.args(["-c", &GIB.to_string(), "/dev/zero"]);
    let mut count = Command::new("wc");
    count.arg("-c").stdout(Output::Raw);
    let mut p = Pipeline::new(first);
    p.pipe(Command::new("cat")).pipe(count);

    let mut r = Reactor::new().unwrap();
    let (cpu, wall) = (cpu_time(), Instant::now());
    r.spawn_pipeline(&p).unwrap();
    let (mut out, mut exit) = (Vec::new(), None);
    let deadline = Instant::now() + common::watchdog();
    while !r.is_empty() {
        assert!(Instant::now() < deadline, "watchdog");
        r.poll(Some(Duration::from_millis(200)), |_, ev| match ev {
            Event::Data { bytes, .. } => out.extend_from_slice(bytes),
            Event::Exited(e) => exit = Some(e),
            _ => {}
        })
        .unwrap();
    }
    let (cpu, wall) = (cpu_time() - cpu, wall.elapsed());
    let exit = exit.unwrap();
    assert!(exit.success(), "{exit}");
    assert_eq!(String::from_utf8_lossy(&out).trim(), GIB.to_string());
    // What the stages spent moving the bytes (head writes them, cat reads
    // and writes them, wc reads them): the cost procrun would share if it
    // copied the middle streams.
    let stages = exit.user_time() + exit.system_time();
    eprintln!(
        "1 GiB through the middle in {wall:?}: procrun {cpu:?} of CPU, the stages {stages:?}"
    );
    // Generous: a spawn of three stages and a handful of wake-ups cost
    // about a millisecond here, while the reactor reading 1 GiB of one
    // child's raw stdout (and dropping it) costs about 100 ms, and copying
    // it on into another pipe would cost twice that.
    assert!(
        cpu < Duration::from_millis(50),
        "procrun spent {cpu:?} of CPU on a pipeline that moved 1 GiB"
    );
    assert!(
        stages > cpu * 5,
        "the stages spent {stages:?}, procrun {cpu:?}"
    );
}
