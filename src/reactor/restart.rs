//! What a run's end means for its child under the restart policy: a pure
//! function of the policy, the count so far and how the run ended, so
//! every case is a row of a table test rather than a child to spawn.

use std::time::{Duration, Instant};

use crate::command::Restart;

/// How a run ended, as far as the restart policy cares.
#[derive(Clone, Copy, Debug)]
pub(super) struct RunEnd {
    /// It exited non-zero or was killed by a signal.
    pub(super) failed: bool,
    /// A stop (or the timeout) is under way: it ends the child, whatever
    /// the policy.
    pub(super) stopped: bool,
    /// How long it stayed up, for the policy's `reset_after`.
    pub(super) ran: Duration,
}

/// What follows a run's end.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Decision {
    /// The exit is final: no policy, one that does not restart this end (a
    /// success under [`Restart::on_error`]), or a stop under way.
    Final,
    /// The policy would restart, but its limit is reached: the exit is
    /// final and says so. The count is left as it was.
    LimitReached,
    /// A restart in `delay`, [`Duration::MAX`] for one never due (a delay
    /// past any clock); `restarts` is the child's count from now on.
    Restart { delay: Duration, restarts: u32 },
}

impl Decision {
    /// The exit's `restart_in`.
    pub(super) fn restart_in(self) -> Option<Duration> {
        match self {
            Decision::Restart { delay, .. } => Some(delay),
            Decision::Final | Decision::LimitReached => None,
        }
    }
}

/// Decides what follows a run that ended as `end`, after `restarts`
/// consecutive restarts, under `policy`, at `now` (only asked whether a
/// delay fits the clock).
pub(super) fn decide(
    policy: Option<Restart>,
    restarts: u32,
    end: RunEnd,
    now: Instant,
) -> Decision {
    let Some(policy) = policy.filter(|p| end.failed || p.restarts_success()) else {
        return Decision::Final;
    };
    if end.stopped {
        return Decision::Final;
    }
    // A run that stayed up long enough starts the count (and so the
    // backoff and the limit) afresh.
    let restarts = match policy.get_reset_after() {
        Some(d) if end.ran >= d => 0,
        _ => restarts,
    };
    let limit = policy.get_limit();
    if limit != 0 && restarts >= limit {
        return Decision::LimitReached;
    }
    let mut delay = policy.delay(restarts);
    if now.checked_add(delay).is_none() {
        // Past any clock: a restart never due, which the exit reports as
        // the longest delay there is.
        delay = Duration::MAX;
    }
    Decision::Restart {
        delay,
        restarts: restarts.saturating_add(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);
    const NEVER: Duration = Duration::MAX;

    fn end(failed: bool, stopped: bool, ran: Duration) -> RunEnd {
        RunEnd {
            failed,
            stopped,
            ran,
        }
    }

    fn restart(delay: Duration, restarts: u32) -> Decision {
        Decision::Restart { delay, restarts }
    }

    /// One row per case: the policy, the count so far, how the run ended,
    /// what follows.
    #[test]
    fn restart_decision_table() {
        use Decision::{Final, LimitReached};
        let on_error = Restart::on_error().interval(SEC);
        let always = Restart::always().interval(SEC);
        let limited = |p: Restart| p.limit(3);
        let resets = |p: Restart| p.reset_after(10 * SEC);
        let backoff = on_error.backoff(60 * SEC);
        // Far off, yet on the clock (a monotonic clock counts from boot).
        let far = Restart::on_error().interval(Duration::from_secs(1 << 62));
        #[rustfmt::skip]
        let rows: &[(&str, Option<Restart>, u32, RunEnd, Decision)] = &[
            // No policy: every end is final.
            ("none, failed", None, 0, end(true, false, SEC), Final),
            ("none, succeeded", None, 0, end(false, false, SEC), Final),
            ("none, stopped", None, 0, end(true, true, SEC), Final),
            // on_error: failures restart, successes do not.
            ("on_error, failed, unlimited", Some(on_error), 0, end(true, false, SEC), restart(SEC, 1)),
            ("on_error, failed, unlimited, many so far", Some(on_error), 1000, end(true, false, SEC), restart(SEC, 1001)),
            ("on_error, succeeded", Some(on_error), 0, end(false, false, SEC), Final),
            ("on_error, succeeded at the limit", Some(limited(on_error)), 3, end(false, false, SEC), Final),
            ("on_error, failed, under the limit", Some(limited(on_error)), 2, end(true, false, SEC), restart(SEC, 3)),
            ("on_error, failed, at the limit", Some(limited(on_error)), 3, end(true, false, SEC), LimitReached),
            ("on_error, failed, past the limit", Some(limited(on_error)), 7, end(true, false, SEC), LimitReached),
            ("on_error, stopped while failing", Some(on_error), 0, end(true, true, SEC), Final),
            ("on_error, stopped at the limit", Some(limited(on_error)), 3, end(true, true, SEC), Final),
            // always: both restart, and the limit counts both.
            ("always, succeeded, unlimited", Some(always), 0, end(false, false, SEC), restart(SEC, 1)),
            ("always, failed, unlimited", Some(always), 4, end(true, false, SEC), restart(SEC, 5)),
            ("always, succeeded, under the limit", Some(limited(always)), 2, end(false, false, SEC), restart(SEC, 3)),
            ("always, succeeded, at the limit", Some(limited(always)), 3, end(false, false, SEC), LimitReached),
            ("always, failed, at the limit", Some(limited(always)), 3, end(true, false, SEC), LimitReached),
            ("always, stopped after success", Some(always), 0, end(false, true, SEC), Final),
            ("always, stopped after failure", Some(always), 0, end(true, true, SEC), Final),
            // reset_after: a long run starts the count afresh, a short one
            // does not; the bound itself counts as long.
            ("reset_after elapsed, at the limit", Some(resets(limited(on_error))), 3, end(true, false, 10 * SEC), restart(SEC, 1)),
            ("reset_after elapsed, well past", Some(resets(limited(always))), 3, end(false, false, 100 * SEC), restart(SEC, 1)),
            ("reset_after not elapsed, at the limit", Some(resets(limited(on_error))), 3, end(true, false, 9 * SEC), LimitReached),
            ("reset_after not elapsed, under the limit", Some(resets(limited(on_error))), 1, end(true, false, 9 * SEC), restart(SEC, 2)),
            ("reset_after elapsed, unlimited", Some(resets(on_error)), 5, end(true, false, 10 * SEC), restart(SEC, 1)),
            ("reset_after elapsed but succeeded, on_error", Some(resets(on_error)), 5, end(false, false, 10 * SEC), Final),
            ("reset_after elapsed but stopped", Some(resets(limited(on_error))), 3, end(true, true, 10 * SEC), Final),
            // Backoff: the delay grows with the count, and a reset takes
            // it back to the interval.
            ("backoff, first", Some(backoff), 0, end(true, false, SEC), restart(SEC, 1)),
            ("backoff, fourth", Some(backoff), 3, end(true, false, SEC), restart(8 * SEC, 4)),
            ("backoff, capped", Some(backoff), 30, end(true, false, SEC), restart(60 * SEC, 31)),
            ("backoff, reset", Some(resets(backoff)), 30, end(true, false, 10 * SEC), restart(SEC, 1)),
            // A delay past any clock: a restart never due, not a final exit.
            ("huge delay, failed", Some(Restart::on_error().interval(NEVER)), 0, end(true, false, SEC), restart(NEVER, 1)),
            ("huge delay, always", Some(Restart::always().interval(NEVER)), 2, end(false, false, SEC), restart(NEVER, 3)),
            ("huge delay short of MAX", Some(Restart::on_error().interval(NEVER - SEC)), 0, end(true, false, SEC), restart(NEVER, 1)),
            ("huge delay, at the limit", Some(Restart::on_error().interval(NEVER).limit(1)), 1, end(true, false, SEC), LimitReached),
            ("huge delay, stopped", Some(Restart::on_error().interval(NEVER)), 0, end(true, true, SEC), Final),
            ("backoff up to the clock", Some(far.backoff(NEVER)), 0, end(true, false, SEC), restart(far.delay(0), 1)),
            ("backoff past the clock", Some(far.backoff(NEVER)), 3, end(true, false, SEC), restart(NEVER, 4)),
            // The count saturates rather than wrap back to a first restart.
            ("count at u32::MAX", Some(on_error), u32::MAX, end(true, false, SEC), restart(SEC, u32::MAX)),
        ];
        let now = Instant::now();
        for (name, policy, restarts, end, want) in rows {
            let got = decide(*policy, *restarts, *end, now);
            assert_eq!(got, *want, "{name}");
            assert_eq!(
                got.restart_in(),
                match want {
                    Decision::Restart { delay, .. } => Some(*delay),
                    _ => None,
                },
                "{name}"
            );
        }
    }

    /// Whatever else holds, a stop makes the end final, and no policy
    /// never restarts: every combination of the table's axes.
    #[test]
    fn stop_or_no_policy_is_always_final() {
        let now = Instant::now();
        let policies = [
            Restart::on_error(),
            Restart::always(),
            Restart::on_error().limit(2),
            Restart::always().limit(2).reset_after(SEC),
            Restart::on_error().interval(NEVER),
        ];
        for failed in [false, true] {
            for restarts in [0, 1, 2, 5, u32::MAX] {
                for ran in [Duration::ZERO, 2 * SEC] {
                    let stopped = end(failed, true, ran);
                    for p in policies {
                        assert_eq!(decide(Some(p), restarts, stopped, now), Decision::Final);
                    }
                    for stopped in [false, true] {
                        let e = end(failed, stopped, ran);
                        assert_eq!(decide(None, restarts, e, now), Decision::Final);
                    }
                }
            }
        }
    }
}
