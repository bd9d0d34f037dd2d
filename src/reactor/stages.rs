//! The stages of a pipeline's run after the first: watched, reaped and
//! signalled beside the run, whose handle is the first stage's.
//!
//! The first stage leads the process group every stage is in, so the run
//! is reaped last, after every other stage (its reap sends `SIGKILL` to
//! what is left of the group, which would end stages still running). Each
//! other stage's pidfd is in epoll under [`STAGE`] and the child's index;
//! without pidfds the exit poll, which looks at the run, looks at them
//! too. A stage is reaped as soon as its exit is seen (its
//! [`Event::StageExited`] goes out then), and the run, once all are,
//! ends with `pipefail`'s status (see [`Reactor::stages_end`]).
//!
//! The stages live in a table beside the children, not in a child's
//! slot, which every idle child pays for.

use std::collections::HashMap;
use std::io;
use std::process::ExitStatus;

use mio::Interest;

use super::pipes;
use super::{Ctx, Event, Reactor};
use crate::exit::{lost_status, StageExit};
use crate::signal::Signal;
use crate::sys::{ChildHandle, Usage};

/// Set in the token of a stage's pidfd, whose low bits are its child's
/// index (every stage of a run shares it: a wake-up looks at them all).
pub(super) const STAGE: usize = 1 << (usize::BITS - 4);

/// The stages after the first of each pipeline run alive, by child index.
#[derive(Default)]
pub(super) struct Stages {
    runs: HashMap<u32, Vec<Stage>>,
}

enum Stage {
    Running(ChildHandle),
    Reaped(Ended),
}

/// How one stage ended.
#[derive(Clone, Copy)]
pub(super) struct Ended {
    pub(super) status: ExitStatus,
    pub(super) usage: Usage,
    pub(super) status_lost: bool,
}

/// A pipeline's run as a whole, once its stages all ended.
pub(super) struct Whole {
    pub(super) ended: Ended,
    /// The stage whose status it is, when one failed.
    pub(super) failed_stage: Option<u16>,
}

impl Reactor {
    /// Takes in the stages after the first of the run child `index` just
    /// started: their pidfds into epoll. A failed registration is
    /// returned; the stages are held all the same, for the run's
    /// abandon to kill and reap.
    pub(super) fn take_in_stages(
        &mut self,
        index: u32,
        stages: Vec<ChildHandle>,
    ) -> io::Result<()> {
        if stages.is_empty() {
            return Ok(());
        }
        let mut failed = Ok(());
        for h in &stages {
            if let Some(fd) = h.pidfd() {
                let r = pipes::register(
                    self.poll.registry(),
                    STAGE | index as usize,
                    fd,
                    Interest::READABLE,
                );
                if r.is_err() && failed.is_ok() {
                    failed = r;
                }
            }
        }
        let stages = stages.into_iter().map(Stage::Running).collect();
        self.stages.runs.insert(index, stages);
        failed
    }

    /// Reaps every stage of child `index`'s run (but the first) that
    /// exited, each with its [`Event::StageExited`]; true once none is
    /// left running (always, for a run that is no pipeline).
    pub(super) fn stages_over(&mut self, index: u32, ctx: &mut Ctx<'_>) -> bool {
        let Some(stages) = self.stages.runs.get_mut(&index) else {
            return true;
        };
        let mut over = true;
        let mut ended = Vec::new();
        for (k, stage) in stages.iter_mut().enumerate() {
            let Stage::Running(h) = stage else { continue };
            let e = match h.try_reap() {
                Ok(None) => {
                    over = false;
                    continue;
                }
                Ok(Some(r)) => Ended {
                    status: r.status,
                    usage: r.usage,
                    status_lost: false,
                },
                Err(_) => Ended {
                    status: lost_status(),
                    usage: Usage::default(),
                    status_lost: true,
                },
            };
            if let Some(fd) = h.pidfd() {
                pipes::deregister(self.poll.registry(), fd);
            }
            ended.push((k as u32 + 1, h.pid(), e));
            // Closes the pidfd: out of epoll first, above.
            *stage = Stage::Reaped(e);
        }
        let id = self.children.id_of(index);
        for (stage, pid, e) in ended {
            ctx.emit(Event::StageExited(StageExit {
                id,
                stage,
                pid,
                status: e.status,
                status_lost: e.status_lost,
            }));
        }
        over
    }

    /// The first stage of child `index`'s run, `pid`, was reaped (`first`),
    /// after every other stage: its [`Event::StageExited`], and the run as
    /// a whole under `pipefail`, with the last failed stage's status (else
    /// the last stage's), the stages' CPU times summed and their largest
    /// peak RSS. `None` for a run that is no pipeline.
    pub(super) fn stages_end(
        &mut self,
        index: u32,
        pid: u32,
        first: Ended,
        ctx: &mut Ctx<'_>,
    ) -> Option<Whole> {
        let stages = self.stages.runs.remove(&index)?;
        ctx.emit(Event::StageExited(StageExit {
            id: self.children.id_of(index),
            stage: 0,
            pid,
            status: first.status,
            status_lost: first.status_lost,
        }));
        let all: Vec<Ended> = std::iter::once(first)
            .chain(stages.into_iter().map(|s| match s {
                Stage::Reaped(e) => e,
                // Not reached: the run is reaped only once its stages are.
                Stage::Running(_) => Ended {
                    status: lost_status(),
                    usage: Usage::default(),
                    status_lost: true,
                },
            }))
            .collect();
        let failed = all.iter().rposition(|e| !e.status.success());
        let chosen = all[failed.unwrap_or(all.len() - 1)];
        let usage = all.iter().fold(Usage::default(), |u, e| Usage {
            user: u.user.saturating_add(e.usage.user),
            system: u.system.saturating_add(e.usage.system),
            max_rss_bytes: u.max_rss_bytes.max(e.usage.max_rss_bytes),
        });
        Some(Whole {
            ended: Ended { usage, ..chosen },
            failed_stage: failed.filter(|_| !chosen.status_lost).map(|k| k as u16),
        })
    }

    /// Sends `sig` to the stages after the first of child `index`'s run
    /// that a signal to the first's group (`leader`) missed: those that
    /// left it, or every one when the pipeline is `detached` (no group).
    /// Best effort: the run's own signal says whether the run was reached.
    pub(super) fn signal_stages(&self, index: u32, sig: Signal, detached: bool, leader: u32) {
        let Some(stages) = self.stages.runs.get(&index) else {
            return;
        };
        for stage in stages {
            if let Stage::Running(h) = stage {
                let _ = match detached {
                    true => h.signal(sig.as_raw()),
                    false => h.signal_outside_group(leader, sig.as_raw()),
                };
            }
        }
    }

    /// Kills and reaps the stages after the first of child `index`'s run,
    /// for a run abandoned or dropped with its reactor: waiting for each
    /// when `wait`, else reaping only those already gone (a stage procrun
    /// may not signal must not block a drop).
    pub(super) fn end_stages(&mut self, index: u32, wait: bool) {
        let Some(stages) = self.stages.runs.remove(&index) else {
            return;
        };
        for stage in &stages {
            if let Stage::Running(h) = stage {
                let _ = h.signal(Signal::KILL.as_raw());
            }
        }
        for stage in stages {
            if let Stage::Running(h) = stage {
                if let Some(fd) = h.pidfd() {
                    pipes::deregister(self.poll.registry(), fd);
                }
                let _ = match wait {
                    true => h.reap_blocking(),
                    false => h.try_reap(),
                };
            }
        }
    }
}
