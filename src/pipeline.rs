//! Several commands run as one child, each one's stdout (or stderr) the
//! next one's stdin: [`Pipeline`], what a shell's `a | b | c` is.

use crate::child::Stream;
use crate::command::Command;
use crate::error::Result;

/// Commands whose streams are joined by pipes, supervised as one child:
/// what a shell runs for `a | b | c`, and std's
/// `Stdio::from(ChildStdout)` between two commands.
///
/// Each stage's stdout (or, with [`pipe_stderr`](Self::pipe_stderr), its
/// stderr) is a pipe to the next stage's stdin that only those two hold:
/// procrun reads no byte of it, however much flows. What the reactor sees
/// of a pipeline is what it sees of one child:
///
/// - **Its streams.** The pipeline's stdin is the first stage's
///   ([`Command::stdin`] of the first command); its stdout and stderr are
///   the last stage's, read as any child's are. An earlier stage's stream
///   that is not piped on goes where its command says; left at
///   [`Output::Lines`](crate::Output::Lines) or
///   [`Output::Raw`](crate::Output::Raw) (the default), it shares the last
///   stage's stream of the same name, so every stage's stderr comes as
///   the pipeline's, as in a shell. [`Output::Stdout`](crate::Output::Stdout)
///   as an earlier stage's stderr sends it down the pipe too (`2>&1 |`).
/// - **Its supervision**: the last command's timeouts, restart policy,
///   stop signal and grace, drain time, line limit, containment and
///   [`kill_on_parent_death`](Command::kill_on_parent_death) are the
///   pipeline's; set on an earlier command, any of them (or a stdin on a
///   later one) is [`Error::InvalidCommand`](crate::Error::InvalidCommand).
///   Every stage runs in one process group (the first stage leads it), so
///   a stop, a timeout and a drop's `SIGKILL` reach them all; a contained
///   pipeline runs in one cgroup. Detached, no stage gets a group and each
///   is signalled on its own.
/// - **Its exits.** Each stage's end is an
///   [`Event::StageExited`](crate::Event::StageExited) as it is reaped; once
///   every stage is, one [`Exit`](crate::Exit) for the whole follows, with
///   `pipefail`'s status: that of the last stage to fail, counting from the
///   left, else success ([`Exit::failed_stage`](crate::Exit::failed_stage)
///   says which stage it is). Its pid is the first stage's, the group's id;
///   its CPU times are the stages' sums, its peak RSS their largest. A
///   restart policy restarts the whole pipeline, when the whole failed.
/// - **A failed start**: when a stage cannot start, the stages started
///   before it are killed and reaped and the stage's error is returned;
///   nothing of the pipeline is left.
///
/// # Examples
///
/// ```
/// use procrun::{Command, Event, Pipeline, Reactor};
///
/// let mut first = Command::new("printf");
/// first.arg("b\\na\\nb\\n");
/// let mut pipeline = Pipeline::new(first);
/// pipeline.pipe(Command::new("sort")).pipe({
///     let mut uniq = Command::new("uniq");
///     uniq.arg("-c");
///     uniq
/// });
/// let mut reactor = Reactor::new()?;
/// reactor.spawn_pipeline(&pipeline)?;
/// let (mut lines, mut stages, mut exit) = (Vec::new(), Vec::new(), None);
/// while !reactor.is_empty() {
///     reactor.poll(None, |_, event| match event {
///         Event::Line { line, .. } => lines.push(String::from_utf8_lossy(line).trim().to_owned()),
///         Event::StageExited(stage) => stages.push((stage.stage(), stage.code())),
///         Event::Exited(e) => exit = Some(e),
///         _ => {}
///     })?;
/// }
/// assert_eq!(lines, ["1 a", "2 b"]);
/// stages.sort();
/// assert_eq!(stages, [(0, Some(0)), (1, Some(0)), (2, Some(0))]);
/// let exit = exit.unwrap();
/// assert!(exit.success() && exit.failed_stage().is_none());
/// # Ok::<(), procrun::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Pipeline {
    pub(crate) stages: Vec<Command>,
    /// For each stage but the last, which of its streams feeds the next.
    pub(crate) links: Vec<Stream>,
}

impl Pipeline {
    /// A pipeline of one stage, `first`; [`pipe`](Self::pipe) adds more.
    pub fn new(first: Command) -> Pipeline {
        Pipeline {
            stages: vec![first],
            links: Vec::new(),
        }
    }

    /// Adds `next` as the last stage, reading the stdout of the stage
    /// before it.
    pub fn pipe(&mut self, next: Command) -> &mut Pipeline {
        self.push(Stream::Stdout, next)
    }

    /// Adds `next` as the last stage, reading the stderr of the stage
    /// before it (whose stdout goes where its command says).
    pub fn pipe_stderr(&mut self, next: Command) -> &mut Pipeline {
        self.push(Stream::Stderr, next)
    }

    fn push(&mut self, link: Stream, next: Command) -> &mut Pipeline {
        self.links.push(link);
        self.stages.push(next);
        self
    }

    /// How many stages it has (at least one).
    pub fn len(&self) -> usize {
        self.stages.len()
    }

    /// Always false: a pipeline has at least one stage. Here because a
    /// `len` asks for it.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The stages, first to last.
    pub fn stages(&self) -> impl Iterator<Item = &Command> {
        self.stages.iter()
    }

    /// The last stage, whose settings supervise the pipeline: set its
    /// restart policy, timeouts or containment here after the pipeline
    /// is built.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procrun::{Command, Pipeline};
    ///
    /// let mut p = Pipeline::new(Command::new("yes"));
    /// p.pipe(Command::new("head")).last_mut().timeout(Duration::from_secs(10));
    /// assert!(p.validate().is_ok());
    /// ```
    pub fn last_mut(&mut self) -> &mut Command {
        self.stages.last_mut().expect("a pipeline has a stage")
    }

    /// Checks every stage as [`Command::validate`] does, and that no
    /// setting of the whole pipeline is given to a stage that does not
    /// hold it.
    ///
    /// # Errors
    ///
    /// What [`Command::validate`] reports for a stage;
    /// [`Error::InvalidCommand`](crate::Error::InvalidCommand) for a
    /// supervision setting on a stage before the last or a stdin on a
    /// stage after the first, or more than 65,535 stages.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use procrun::{Command, Error, Pipeline};
    ///
    /// let mut first = Command::new("yes");
    /// first.timeout(Duration::from_secs(1));
    /// let mut p = Pipeline::new(first);
    /// p.pipe(Command::new("head"));
    /// assert!(matches!(p.validate(), Err(Error::InvalidCommand { .. })));
    /// ```
    pub fn validate(&self) -> Result<()> {
        self.prepare().map(drop)
    }
}
