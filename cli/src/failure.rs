//! Why procrun gives up, and the one line it prints then.

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
    /// Under `--raw`, a failure of procrun's own (bad input or the OS):
    /// exit status 125, as coreutils `timeout` says its own failures.
    Canceled(String),
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
