//! A bash script whose stdout and stderr go straight to a file, read back
//! once the script is done.
//!
//! The procrun version of gpud's `pkg/process/examples/bash-script-output-to-file`.
//! Run it with:
//!
//! ```text
//! cargo run --example bash-script-output-to-file
//! ```

use std::time::Duration;

use procrun::Process;

const SCRIPT: &str = r#"#!/bin/bash

# do not mask errors in a pipeline
set -o pipefail

echo hello
echo "to stderr" >&2
echo "from $BASH" | tr a-z A-Z
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = tempfile::NamedTempFile::new()?;
    let p = Process::builder()
        // Script contents run as given, with no header added.
        .script(SCRIPT)
        // The child writes to the file itself; nothing passes through
        // procrun, so there is nothing to read from the process.
        .output_file(out.reopen()?)
        .build()?;
    p.start()?;

    let exit = p
        .wait_timeout(Duration::from_secs(2))?
        .ok_or("no exit within 2 s")?;
    println!("{exit}");
    p.close()?;

    let content = std::fs::read_to_string(out.path())?;
    println!("content of {}: {content:?}", out.path().display());
    if !exit.success() {
        return Err(procrun::Error::Failed(exit).into());
    }
    Ok(())
}
