//! A child that never ends, read line by line from a blocking iterator and
//! then closed: the stop signal is ignored, so the close escalates to
//! `SIGKILL` after the grace period.
//!
//! The procrun version of gpud's `pkg/process/examples/stream-blocking-commands`.
//! Run it with:
//!
//! ```text
//! cargo run --example stream-blocking-commands
//! ```

use std::time::{Duration, Instant};

use procrun::Process;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let p = Process::builder()
        // `trap '' TERM` makes bash and its `sleep`s ignore SIGTERM.
        .script("trap '' TERM\nfor i in $(seq 1000); do echo \"tick $i\"; sleep 0.1; done\n")
        .grace(Duration::from_millis(500))
        // A safety net: should the child stop printing, the iterator below
        // still ends, because the process is stopped after this long.
        .timeout(Duration::from_secs(10))
        .build()?;
    p.start()?;

    // `lines()` blocks for each line and ends when the process is done.
    for line in p.lines()?.take(5) {
        println!("{:?}: {}", line.stream, line.to_string_lossy());
    }

    // SIGTERM (ignored), then SIGKILL once the grace is over; close returns
    // when the child is reaped. Output not read by then is dropped.
    let t0 = Instant::now();
    p.close()?;
    let exit = p.last_exit().ok_or("no exit after close")?;
    println!("closed after {} ms: {exit}", t0.elapsed().as_millis());
    Ok(())
}
