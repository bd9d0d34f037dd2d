//! A failing script restarted on error, up to a limit: each exit is seen
//! through the exits cursor, with the delay before the next run.
//!
//! The procrun version of gpud's `pkg/process/examples/restart-commands`.
//! Run it with:
//!
//! ```text
//! cargo run --example restart-commands
//! ```

use std::time::Duration;

use procrun::{Process, Restart};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let p = Process::builder()
        .command(["echo \"hello from pid $$\""])
        .command(["exit 1"])
        .run_as_bash_script()
        .inline()
        .restart(
            Restart::on_error()
                .limit(3)
                .interval(Duration::from_millis(200)),
        )
        .build()?;
    p.start()?;

    // One exit per run; the cursor ends after the final one.
    let mut exits = p.exits();
    while let Some(exit) = exits.next_timeout(Duration::from_secs(2))? {
        match exit.restart_in() {
            Some(delay) => println!(
                "run {} (pid {}): {exit}, restarting in {delay:?}",
                exit.restarts(),
                exit.pid()
            ),
            None => println!(
                "run {} (pid {}): {exit}, final (restart limit reached: {})",
                exit.restarts(),
                exit.pid(),
                exit.restart_limit_reached()
            ),
        }
    }

    // The output of every run stays in one stream until it is read.
    for line in p.lines()? {
        println!("output: {}", line.to_string_lossy());
    }
    p.close()?;
    Ok(())
}
