//! Pipelines: a [`Pipeline`] parsed into the [`Spec`] of its last stage
//! with the earlier stages beside it ([`Upstream`]), and the start of all
//! its stages as one run.
//!
//! The stages start in order, the first leading a new process group and
//! the others joining it (so one group signal reaches them all, and the
//! leader's zombie pins the group's id until every stage is reaped); a
//! contained pipeline's stages all start in its one cgroup. Between two
//! stages is a pipe made for them alone: procrun closes both its ends as
//! soon as the two stages have theirs, and so never reads a byte of it.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use super::{clone_exec, lookup, open_handle, SpawnFds, Spawned, Spec, Stdio};
use crate::child::Stream;
use crate::command::{Command, Input, Output};
use crate::error::{Error, Result};
use crate::pipeline::Pipeline;
use crate::signal::Signal;
use crate::sys::{self, Cgroup, ChildHandle, ExecArgs};

/// The stages of a pipeline before its last, whose [`Spec`] holds this.
#[derive(Clone, Debug)]
pub(crate) struct Upstream {
    /// The stages before the last, first to last: what each runs and is
    /// set up with. Their streams but the one piped on, and their
    /// `die_with_parent`, are read; the rest is the last stage's.
    pub(crate) stages: Box<[Spec]>,
    /// For each of them, which of its streams feeds the next stage.
    pub(crate) links: Box<[Stream]>,
}

impl Upstream {
    /// Whether both run the same stages, as [`Spec::same_as`] asks.
    pub(crate) fn same_as(&self, other: &Upstream) -> bool {
        self.links == other.links
            && self.stages.len() == other.stages.len()
            && self
                .stages
                .iter()
                .zip(&*other.stages)
                .all(|(a, b)| a.same_as(b))
    }
}

impl Pipeline {
    /// Checks the stages and parses them into the last stage's [`Spec`],
    /// which carries the pipeline's stdin and the earlier stages.
    pub(crate) fn prepare(&self) -> Result<Spec> {
        let (last, earlier) = self.stages.split_last().expect("a pipeline has a stage");
        let mut spec = last.prepare()?;
        if earlier.is_empty() {
            return Ok(spec);
        }
        // A stage's number fits an exit's `u16` (plus one for "none").
        if self.stages.len() > usize::from(u16::MAX) {
            return Err(Error::invalid_command(
                "a pipeline has at most 65,535 stages",
            ));
        }
        if !matches!(last.stdin, Input::Null) {
            return Err(Error::invalid_command(
                "a pipeline stage after the first reads the pipe: give stdin to the first",
            ));
        }
        let mut stages = Vec::with_capacity(earlier.len());
        for (k, cmd) in earlier.iter().enumerate() {
            if let Some(setting) = supervision_setting(cmd) {
                return Err(Error::invalid_command(&format!(
                    "{setting} of a pipeline is its last stage's: stage {k} may not set it"
                )));
            }
            if k > 0 && !matches!(cmd.stdin, Input::Null) {
                return Err(Error::invalid_command(
                    "a pipeline stage after the first reads the pipe: give stdin to the first",
                ));
            }
            let mut stage = cmd.prepare()?;
            stage.die_with_parent = spec.die_with_parent;
            stages.push(stage);
        }
        spec.stdin = earlier[0].stdin.clone();
        spec.upstream = Some(Box::new(Upstream {
            stages: stages.into_boxed_slice(),
            links: self.links.clone().into_boxed_slice(),
        }));
        Ok(spec)
    }
}

/// The supervision setting `cmd` gives that only a pipeline's last stage
/// may, named for the message.
fn supervision_setting(cmd: &Command) -> Option<&'static str> {
    let d = Command::new("");
    let l = &cmd.limits;
    [
        (cmd.restart.is_some(), "the restart policy"),
        (cmd.timeout.is_some(), "the timeout"),
        (cmd.run_timeout.is_some(), "the run timeout"),
        (cmd.stop_signal != d.stop_signal, "the stop signal"),
        (cmd.grace != d.grace, "the grace"),
        (cmd.drain != d.drain, "the drain time"),
        (cmd.max_line != d.max_line, "the line limit"),
        (cmd.detached, "detached"),
        (cmd.cgroup.is_some(), "the cgroup"),
        (
            l.memory_max.is_some() || l.pids_max.is_some() || l.cpu_max.is_some(),
            "a cgroup limit",
        ),
        (cmd.kill_on_parent_death, "kill_on_parent_death"),
    ]
    .into_iter()
    .find_map(|(set, name)| set.then_some(name))
}

/// Starts every stage of `spec`'s pipeline (`up` holds the stages before
/// its own): the handle of the first, which leads the group, and those of
/// the others in [`Spawned::stages`]. When a stage cannot start, those
/// started before it are killed and reaped, the cgroup removed, and its
/// error returned.
pub(super) fn start(
    spec: &Spec,
    up: &Upstream,
    want_pidfd: bool,
    fds: &SpawnFds,
) -> Result<Spawned> {
    let null = fds.null.as_fd();
    // The pipeline's own streams: stdin for the first stage, stdout and
    // stderr of the last, which earlier stages may share.
    let stdio = Stdio::open(spec)?;
    let (own_in, own_out, own_err) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let own = [own_in.as_fd(), own_out.as_fd(), own_err.as_fd()];
    let whole = stdio.child_fds(spec, own, null);
    let contained = match &spec.cgroup {
        Some(c) => Some(crate::cgroup::create_for_run(c)?),
        None => None,
    };
    let mut started = Started {
        handles: Vec::with_capacity(up.stages.len() + 1),
        group: !spec.stop.detached,
    };
    let stages = start_stages(
        spec,
        up,
        &mut started,
        [whole, own],
        fds,
        contained.as_ref(),
        want_pidfd,
    );
    if let Err(e) = stages {
        started.abandon(contained.as_ref().map(|(c, _)| c));
        if let Some((c, _)) = contained {
            let _ = c.remove();
        }
        return Err(e);
    }
    let (cgroup, cgroup_dir) = contained.unzip();
    drop(cgroup_dir);
    let [stdin, stdout, stderr] = stdio.into_ours();
    let mut handles = started.handles.into_iter();
    let handle = handles.next().expect("a pipeline has a stage");
    let no_pidfd = want_pidfd && handle.pidfd().is_none();
    Ok(Spawned {
        handle,
        no_pidfd,
        stdin,
        stdout,
        stderr,
        cgroup,
        stages: handles.collect(),
    })
}

/// Starts each stage in turn into `started`, the pipe to the next one
/// made just before it and both of procrun's ends closed as soon as the
/// two stages have theirs (a writer left open here would keep the next
/// stage from ever reading EOF). `[whole, own]` are the pipeline's own
/// stdio fds and procrun's, `contained` the run's cgroup and its
/// directory.
fn start_stages(
    spec: &Spec,
    up: &Upstream,
    started: &mut Started,
    [whole, own]: [[BorrowedFd<'_>; 3]; 2],
    fds: &SpawnFds,
    contained: Option<&(Cgroup, OwnedFd)>,
    want_pidfd: bool,
) -> Result<()> {
    let null = fds.null.as_fd();
    let mut upstream: Option<OwnedFd> = None;
    for k in 0..=up.stages.len() {
        let stage = up.stages.get(k).unwrap_or(spec);
        // Blocking at both ends: they are the stages', not procrun's.
        let next = match up.links.get(k) {
            Some(_) => Some(sys::stage_pipe()?),
            None => None,
        };
        let stdin = upstream.as_ref().map_or(whole[0], |r| r.as_fd());
        let [stdout, stderr] = match (up.links.get(k), &next) {
            (Some(link), Some((_, w))) => stage_outputs(stage, *link, w.as_fd(), whole, own, null),
            _ => [whole[1], whole[2]],
        };
        let envp = lookup::environment(stage);
        let path = lookup::find_program(stage, &envp)?;
        let leader = started.handles.first().map_or(0, ChildHandle::pid);
        let args = ExecArgs {
            path: &path,
            argv: &stage.argv,
            arg0: stage.setup.as_ref().and_then(|s| s.arg0.as_deref()),
            envp: &envp,
            cwd: stage.cwd(),
            group: started.group.then_some(leader),
            stdio: [stdin, stdout, stderr],
        };
        let child = clone_exec(stage, &args, contained, &fds.lanes, want_pidfd)?;
        // The pidfd comes with the start, or is opened at once: the stage
        // is unreaped, so its pid names it still. On error `open_handle`
        // kills and reaps it.
        let (handle, _) = open_handle(child, want_pidfd, None)?;
        started.handles.push(handle);
        // The write end is the stage's now, and the read end the next
        // stage's once it has started.
        upstream = next.map(|(r, _)| r);
    }
    Ok(())
}

/// The stages started so far, to be ended if a later one cannot start.
struct Started {
    handles: Vec<ChildHandle>,
    /// Whether they share a process group, led by the first.
    group: bool,
}

impl Started {
    /// Kills and reaps every stage started (and empties the cgroup), so
    /// a failed start leaves nothing behind.
    fn abandon(&mut self, cgroup: Option<&Cgroup>) {
        if let (true, Some(leader)) = (self.group, self.handles.first()) {
            // The leader is unreaped, so the group's id is still its.
            let _ = leader.signal_with_group(Signal::KILL.as_raw());
        }
        for h in &self.handles {
            let _ = h.signal(Signal::KILL.as_raw());
        }
        // Reaped last to first: the leader's zombie pins the group while
        // the others die.
        for h in self.handles.iter().rev() {
            let _ = h.reap_blocking();
        }
        if let Some(c) = cgroup {
            let _ = c.kill();
            c.wait_empty(Duration::from_secs(1));
        }
        self.handles.clear();
    }
}

/// The stdout and stderr of an earlier stage whose `link` stream goes
/// into `pipe`: the other stream where its command says, the last
/// stage's (`whole`) when it asks for lines or raw output.
fn stage_outputs<'a>(
    stage: &'a Spec,
    link: Stream,
    pipe: BorrowedFd<'a>,
    whole: [BorrowedFd<'a>; 3],
    own: [BorrowedFd<'a>; 3],
    null: BorrowedFd<'a>,
) -> [BorrowedFd<'a>; 2] {
    let other = |out: &'a Output, n: usize| match out {
        Output::Lines | Output::Raw => whole[n],
        Output::Null => null,
        Output::Inherit => own[n],
        // The child dup2s its own copy; the caller's file stays theirs.
        Output::File(f) => f.as_fd(),
        // Stdout into stdout's place is stdout's; stderr into stdout when
        // stdout is piped on goes down the pipe as well (`2>&1 |`).
        Output::Stdout => match link {
            Stream::Stdout => pipe,
            Stream::Stderr => whole[n],
        },
    };
    match link {
        Stream::Stdout => [pipe, other(&stage.stderr, 2)],
        Stream::Stderr => [other(&stage.stdout, 1), pipe],
    }
}

#[cfg(test)]
mod tests {
    use crate::child::Stream;
    use crate::command::{Command, Input};
    use crate::pipeline::Pipeline;

    fn pipeline(first: &str, link: Stream) -> Pipeline {
        let mut p = Pipeline::new(Command::new(first));
        match link {
            Stream::Stdout => p.pipe(Command::new("cat")),
            Stream::Stderr => p.pipe_stderr(Command::new("cat")),
        };
        p
    }

    /// A restarting pipeline's spec is kept and shared as a command's is:
    /// only with a pipeline of the same stages joined the same way.
    #[test]
    fn a_pipeline_spec_is_the_same_only_as_one_with_the_same_stages() {
        let spec = pipeline("yes", Stream::Stdout).prepare().unwrap();
        assert!(spec.same_as(&pipeline("yes", Stream::Stdout).prepare().unwrap()));
        for other in [
            pipeline("true", Stream::Stdout),
            pipeline("yes", Stream::Stderr),
        ] {
            assert!(!spec.same_as(&other.prepare().unwrap()));
        }
        // The last stage alone is another run.
        assert!(!spec.same_as(&Command::new("cat").prepare().unwrap()));
    }

    /// The first stage's stdin is the pipeline's; the stages before the
    /// last are kept beside it, in order.
    #[test]
    fn the_pipelines_stdin_is_its_first_stages() {
        let mut first = Command::new("cat");
        first.stdin_bytes(&b"x"[..]);
        let mut p = Pipeline::new(first);
        p.pipe(Command::new("sort")).pipe(Command::new("uniq"));
        let spec = p.prepare().unwrap();
        assert!(matches!(spec.stdin, Input::Bytes(ref b) if &b[..] == b"x"));
        assert_eq!(spec.program().to_bytes(), b"uniq");
        let up = spec.upstream.as_ref().unwrap();
        let names: Vec<_> = up.stages.iter().map(|s| s.program_name()).collect();
        assert_eq!(names, ["cat", "sort"]);
        assert_eq!(&up.links[..], [Stream::Stdout, Stream::Stdout]);
        // One stage is a command, with no upstream.
        assert!(Pipeline::new(Command::new("cat"))
            .prepare()
            .unwrap()
            .upstream
            .is_none());
    }
}
