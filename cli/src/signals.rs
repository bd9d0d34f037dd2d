//! Ctrl-C, SIGTERM, SIGHUP and the other signals that would end procrun,
//! through signal-hook.
//!
//! The library installs no signal handler, so the tool takes these signals
//! itself. It cannot block them and `sigwait` for them: a blocked mask is
//! inherited by every child std spawns, and a child with SIGTERM blocked
//! would never see the stop signal (only the SIGKILL after the grace). So
//! signal-hook's handler records them and a thread reads them, passes each
//! on over a channel and wakes the reactor. A handled signal reverts to its
//! default action in a child at `exec`, so children see these signals as
//! usual.
//!
//! A signal ignored when procrun starts (`nohup`, or SIGINT for a
//! background job of a non-interactive shell) stays ignored, as shells do.
//! SIGHUP is taken too: when the terminal goes away, procrun must not die
//! and leave its children, each in its own process group, running. So are
//! Ctrl-\ (SIGQUIT, which the terminal sends to procrun's group alone),
//! SIGALRM, SIGUSR1 and SIGUSR2: their default action ends procrun without
//! a word to its children, which would live on as orphans.
//!
//! SIGCHLD is the one ignored signal procrun does not keep: ignored, the
//! kernel reaps every child as it exits and its status is lost, so
//! procrun takes it back from an ignoring parent, as coreutils `timeout`
//! resets it to its default.

use std::io;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread;

use procrun::{Signal, Waker};
use rustix::process as prctl;
use signal_hook::consts::{SIGALRM, SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;

/// The signals that stop procrun and its children: every signal whose
/// default action would end procrun and that a process can catch, but
/// SIGPIPE (a closed stdout, handled where it is written) and the ones
/// the kernel sends for faults or limits of procrun itself.
const SHUTDOWN: [libc::c_int; 7] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGALRM, SIGUSR1, SIGUSR2];

/// Takes each shutdown signal not ignored at start, and starts the thread
/// that turns them into messages on the returned channel, waking `waker`
/// after each.
///
/// # Errors
///
/// The OS error of registering a handler or starting the thread.
pub fn install(waker: Waker) -> io::Result<Receiver<Signal>> {
    let ignored = ignored_at_start();
    if ignored & (1 << (SIGCHLD - 1)) != 0 {
        // Any handler ends the kernel's reaping: a flag no one reads is the
        // least one (SIG_DFL itself would take unsafe code). It is reset
        // to the default in every child at exec, as an ignored SIGCHLD
        // would not be. The wake-ups it adds are retried where they
        // interrupt (epoll_wait, poll, writes), and it is taken only from
        // a parent that ignored SIGCHLD.
        signal_hook::flag::register(SIGCHLD, Arc::new(AtomicBool::new(false)))?;
    }
    let wanted: Vec<libc::c_int> = SHUTDOWN
        .into_iter()
        .filter(|&s| ignored & (1 << (s - 1)) == 0)
        .collect();
    let mut signals = Signals::new(&wanted)?;
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("procrun-signals".into())
        .spawn(move || {
            for raw in signals.forever() {
                let Some(sig) = Signal::from_raw(raw) else {
                    continue;
                };
                if tx.send(sig).is_err() {
                    return;
                }
                let _ = waker.wake();
            }
        })?;
    Ok(rx)
}

/// The signals ignored when procrun started, as a mask (bit N-1 for
/// signal N), from `SigIgn` in /proc/self/status: read rather than asked
/// of sigaction, which would take unsafe code. Unreadable, nothing is
/// taken as ignored: procrun then stops its children on every signal.
fn ignored_at_start() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| sig_ign(&status))
        .unwrap_or(0)
}

fn sig_ign(status: &str) -> Option<u64> {
    let hex = status.lines().find_map(|l| l.strip_prefix("SigIgn:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// Ends procrun by `sig`, the signal that killed its command, as coreutils
/// `timeout` does: its parent then sees the same death as with no procrun
/// between (a shell prints "Segmentation fault", a `wait` reports the
/// signal, not an exit status). Returns only where that cannot be done:
/// then procrun exits with 128 + the signal's number instead.
pub fn die_of(sig: Signal) {
    // procrun's own core would land where the command's did, under the same
    // name, and overwrite it: none is written, as `timeout` has it.
    if prctl::set_dumpable_behavior(prctl::DumpableBehavior::NotDumpable).is_err() {
        return;
    }
    let raw = sig.as_raw();
    // Back to the default action (a handled signal, or SIGPIPE, which Rust
    // ignores at start), unblocked, raised. A signal the table does not
    // know (a real-time one) has no handler of procrun's: raised as it is,
    // and if it was ignored when procrun started, it stays so.
    if signal_hook::low_level::emulate_default_handler(raw).is_err() {
        let _ = signal_hook::low_level::raise(raw);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sig_ign_is_the_hex_mask_of_the_status_line() {
        let status = "Name:\tprocrun\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000003\n";
        assert_eq!(sig_ign(status), Some(0b11));
        assert_eq!(sig_ign("Name:\tx\n"), None);
    }
}
