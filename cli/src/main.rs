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
// No unsafe at all: the OS is reached through rustix's and signal-hook's
// safe functions (libc gives only constants).
#![forbid(unsafe_code)]

mod args;
mod cli;
mod clock;
mod docs;
mod duration;
mod print;
mod procfile;
mod ps;
mod run;
mod signals;
mod sink;
mod usage;

use std::process::ExitCode;

use args::Cli;

/// Why procrun gives up, with the one line it prints.
#[derive(Debug)]
pub enum Failure {
    /// Bad input: exit status 2.
    Usage(String),
    /// The OS failed procrun: exit status 1.
    Runtime(String),
    /// The program could not be started: 127 when it was not found, 126
    /// when it cannot be executed, as shells and coreutils `timeout` say.
    Exec(u8, String),
}

/// An error with its chain of sources on one line.
pub fn describe(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

fn main() -> ExitCode {
    let result = match args::parse(std::env::args_os().skip(1)) {
        Ok(Cli::Print(help)) => {
            // Help or version, on stdout; a closed stdout is no failure.
            let _ = help.print();
            Ok(0)
        }
        Ok(Cli::Run(a) | Cli::Start(a)) => run::run(a),
        Ok(Cli::Ps(a)) => ps::ps(a),
        Ok(Cli::Completions(shell)) => docs::completions(shell),
        Ok(Cli::Man(command)) => docs::man(command.as_deref()),
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
        Err(Failure::Exec(status, msg)) => {
            eprintln!("procrun: {msg}");
            status
        }
    })
}
