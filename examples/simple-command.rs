//! One command: start it, read its stdout line by line, wait for its exit.
//!
//! The procrun version of gpud's `pkg/process/examples/simple-command`.
//! Run it with:
//!
//! ```text
//! cargo run --example simple-command
//! ```

use std::io::{BufRead, BufReader};
use std::time::Duration;

use procrun::Process;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A command given as a program and its arguments runs without a shell.
    let p = Process::builder().command(["echo", "hello"]).build()?;
    p.start()?;

    // `stdout()` is an `io::Read`; it ends once the process is done and
    // every line it wrote was read, so the loop needs no exit check.
    for line in BufReader::new(p.stdout()?).lines() {
        println!("stdout: {}", line?);
    }

    let exit = p
        .wait_timeout(Duration::from_secs(2))?
        .ok_or("no exit within 2 s")?;
    println!("pid {} ended: {exit}", exit.pid());
    if !exit.success() {
        return Err(procrun::Error::Failed(exit).into());
    }

    // Closing a finished process only cleans up; closing twice is fine.
    p.close()?;
    p.close()?;
    Ok(())
}
