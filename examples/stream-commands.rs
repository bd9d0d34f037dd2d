//! Lines streamed as the child writes them: a bash script that prints over
//! time, each line handed to a callback the moment it is read, labelled
//! with its stream.
//!
//! The procrun version of gpud's `pkg/process/examples/stream-commands`.
//! Run it with:
//!
//! ```text
//! cargo run --example stream-commands
//! ```

use std::time::Instant;

use procrun::{read, Process, ReadOptions, Stream};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let p = Process::builder()
        .command(["echo hello 1 && sleep 0.3"])
        .command(["echo 'warning 2' >&2 && sleep 0.3"])
        .command(["echo hello 3 && sleep 0.3"])
        .run_as_bash_script()
        .build()?;
    let t0 = Instant::now();
    p.start()?;

    // Reads both streams at once (no options picks both) until the output
    // ends, then waits for the exit: an unsuccessful one is an error.
    let exit = read(
        &p,
        ReadOptions::new().wait_for_exit().on_line(|line| {
            let label = match line.stream {
                Stream::Stdout => "stdout",
                Stream::Stderr => "stderr",
            };
            let at = t0.elapsed().as_secs_f64();
            println!("[{at:4.1}s] {label}: {}", line.to_string_lossy());
        }),
    )?
    .ok_or("wait_for_exit returns the exit")?;
    println!("[{:4.1}s] {exit}", t0.elapsed().as_secs_f64());

    p.close()?;
    Ok(())
}
