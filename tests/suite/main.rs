//! The library's integration tests that share nothing process-wide, in
//! one test binary (one link, one run): each module is the file of tests
//! it was as a binary of its own, and `cargo test --test suite -- reactor::`
//! runs one of them.
//!
//! Kept out, each a binary of its own in `tests/`, as they change or count
//! what belongs to the whole process: `subreaper` (makes the process a
//! child subreaper), `fallback` (sets `PROCRUN_NO_PIDFD`, counts every
//! child), `procfs_host_proc` (sets `HOST_PROC`), `drivers_bound` (lowers
//! the fd limit, sizes the driver pool), `pool` and `soak_pool` (size the
//! driver pool before any start), `leaks` and `soak` (count every fd and
//! child, and RSS), `chaos` (bounds the growth of RSS) and `load` (reports
//! the process's CPU time, and runs 1,000 children at once).

#[path = "../close_races/mod.rs"]
mod close_races;
#[path = "../common/mod.rs"]
mod common;

mod child_setup;
mod containment;
mod escape;
mod limits;
mod ordering;
mod pipeline;
mod privilege;
mod process;
mod procfs;
mod procfs_alloc;
mod raw;
mod reactor;
mod stdin;
