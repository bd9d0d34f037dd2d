//! `procrun`: supervise commands from a shell, on the procrun library.
//!
//! `procrun run` starts a program, a bash script or several named bash
//! command lines on one reactor, prints their output line by line with a
//! name prefix, restarts them, times them out, and stops them all (SIGTERM,
//! then SIGKILL after a grace period) on Ctrl-C. `procrun start` runs a
//! Procfile's entries that way, stopping all when one ends, as foreman. `procrun ps` counts and
//! lists the host's processes through /proc. `procrun completions SHELL`
//! and `procrun man` print shell completions and the man page, made from
//! the same definition as the parser. `procrun --help` says more.
//!
//! The layout, each module using only those listed after it: `main` runs
//! what `flags::parse` returns; `run` (with `procfile` for `start`) and
//! `ps` are the commands; `print` (with `clock`, `json` and `sink`) and `signals`
//! serve `run`; `flags/` is the command line (its definition, what it
//! parses into, its errors, completions and man pages); `failure` is why
//! procrun gives up. The commands read `flags::config`, never clap's
//! definition.
// No unsafe at all: the OS is reached through rustix's and signal-hook's
// safe functions (libc gives only constants).
#![forbid(unsafe_code)]

mod accounts;
mod clock;
mod failure;
mod flags;
mod json;
mod print;
mod procfile;
mod ps;
mod run;
mod signals;
mod sink;

use std::io::{self, Write};
use std::process::ExitCode;

use failure::Failure;
use flags::config::Request;

fn main() -> ExitCode {
    let result = match flags::parse::parse(std::env::args_os().skip(1)) {
        Ok(Request::Print(help)) => {
            // Help or version, on stdout; a closed stdout is no failure.
            let _ = help.print();
            Ok(0)
        }
        Ok(Request::Run(a) | Request::Start(a)) => run::run(a).map(|end| {
            // After the reactor is gone (`run` has returned): every child is
            // reaped and all output written.
            if let Some(sig) = end.died_of {
                signals::die_of(sig);
            }
            end.status
        }),
        Ok(Request::Ps(a)) => ps::ps(a),
        Ok(Request::Completions(shell)) => write_out(&flags::doc::completions(shell)),
        Ok(Request::Man(command)) => {
            flags::doc::man(command.as_deref()).and_then(|page| write_out(&page))
        }
        Err(msg) if raw_asked(std::env::args_os().skip(1)) => Err(Failure::Canceled(msg)),
        Err(msg) => Err(Failure::Usage(msg)),
    };
    // Returned rather than `process::exit`, so that the reactor's Drop has
    // run (it kills and reaps any child still alive) before procrun exits.
    ExitCode::from(match result {
        Ok(status) => status,
        Err(Failure::Usage(msg)) => {
            eprintln!("procrun: {msg}");
            2
        }
        Err(Failure::Runtime(msg)) => {
            eprintln!("procrun: {msg}");
            1
        }
        Err(Failure::Canceled(msg)) => {
            eprintln!("procrun: {msg}");
            125
        }
        Err(Failure::Exec(status, msg)) => {
            eprintln!("procrun: {msg}");
            status
        }
    })
}

/// Whether `--raw` is among procrun's own options (those before `--`) of
/// a command line that did not parse: a script that stands procrun in for
/// coreutils `timeout` then gets timeout's 125 for bad usage too.
fn raw_asked(args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    args.take_while(|a| a != "--").any(|a| a == "--raw")
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
