//! procrun runs and supervises child processes on a Linux host, for
//! low-overhead host agents.
//!
//! One single-threaded reactor on epoll watches every child through its
//! pidfd and reads its nonblocking pipes; output is split into lines without
//! copying; restarts, kill escalation and timeouts run off a timer wheel.
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod command;
mod error;
pub mod lines;
mod process;
pub mod procfs;
mod reactor;
mod runner;
mod spawn;
mod sys;
pub mod timer;

pub use command::{Command, Input, Output, Restart, Signal};
pub use error::{Error, Result};
pub use process::{
    read, shell_quote, CombinedOutput, Exits, Lines, OutputLine, Process, ProcessBuilder,
    ReadOptions, StreamReader, DEFAULT_SCRIPT_PATTERN, SCRIPT_HEADER,
};
pub use reactor::{ChildId, Control, Event, Exit, Reactor, Stream, Waker};
pub use runner::{ExclusiveRunner, RunOptions, RunOutput, Runner};
