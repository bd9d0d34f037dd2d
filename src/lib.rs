//! procrun runs and supervises child processes on a Linux host, for
//! low-overhead host agents.
//!
//! One single-threaded reactor on epoll watches every child through its
//! pidfd and reads its nonblocking pipes; output is split into lines without
//! copying; restarts, kill escalation and timeouts run off a timer wheel.
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod error;
pub mod procfs;

pub use error::{Error, Result};
