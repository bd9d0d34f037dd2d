//! `procrun completions SHELL` and `procrun man [COMMAND]`: generated from
//! the parser's own definition, so they name every option it takes and
//! nothing else.

use std::io::{self, Write};

use clap::CommandFactory;

use crate::cli::Cli;
use crate::Failure;

/// Writes the completion script for `shell` to stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<u8, Failure> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "procrun", &mut out);
    write_out(&out)
}

/// Writes the roff of procrun(1), or of procrun-COMMAND(1), to stdout.
pub fn man(command: Option<&str>) -> Result<u8, Failure> {
    let mut cmd = Cli::command();
    // Built, so that a subcommand knows its full name (`procrun-run`, the
    // page's title) and its usage line says `procrun run`.
    cmd.build();
    let page = match command {
        None => cmd,
        Some(name) => cmd
            .find_subcommand(name)
            .cloned()
            .ok_or_else(|| Failure::Usage(format!("man: no command '{name}'")))?,
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut out)
        .map_err(|e| Failure::Runtime(format!("man: {e}")))?;
    write_out(&out)
}

/// A closed stdout (`procrun man | head`) is the reader's choice, not a
/// failure to report.
fn write_out(bytes: &[u8]) -> Result<u8, Failure> {
    match io::stdout().lock().write_all(bytes) {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(Failure::Runtime(format!("cannot write: {e}"))),
    }
}
