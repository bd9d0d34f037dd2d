//! Several commands run as one bash script, with stdout and stderr collected
//! into one output.
//!
//! The procrun version of gpud's `pkg/process/examples/simple-commands`.
//! Run it with:
//!
//! ```text
//! cargo run --example simple-commands
//! ```

use std::time::Duration;

use procrun::{Process, SCRIPT_HEADER};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let p = Process::builder()
        // Several words: a program and its arguments, each quoted for bash.
        .command(["echo", "one; not a second command"])
        // One word: a shell line, used as written.
        .command(["echo two | tr a-z A-Z"])
        .command(["echo three >&2"])
        .run_as_bash_script()
        // The script stays in memory: nothing is written to disk.
        .inline()
        .build()?;
    print!("the script starts with this header:\n{SCRIPT_HEADER}");

    // Starts, reads both streams and waits for the exit in one call; past
    // the limit the process is stopped and the output so far returned.
    // stderr shares stdout's pipe here, so lines come in the order written.
    let out = p.start_and_wait_combined(Some(Duration::from_secs(5)))?;
    println!("--- combined output ---");
    print!("{}", String::from_utf8_lossy(&out.output));
    println!("-----------------------");

    let exit = out.exit.ok_or("no exit")?;
    println!("{exit}, timed out: {}", out.timed_out);
    if !exit.success() {
        return Err(procrun::Error::Failed(exit).into());
    }
    Ok(())
}
