//! procrun runs and supervises child processes on a Linux host, for
//! low-overhead host agents: node health daemons, fleet agents, CI runners.
//!
//! One single-threaded [`Reactor`] on epoll watches every child through its
//! pidfd and reads its nonblocking pipes; output is split into lines and
//! handed out without copying; restarts, kill escalation and timeouts run
//! off one timer wheel. On top of it, a blocking
//! [`Process`] API covers what gpud's Go package `pkg/process` offers, and
//! [`procfs`] looks at the host's processes through `/proc`.
//!
//! # Two ways in
//!
//! **The reactor**, for agents with their own loop: spawn [`Command`]s and
//! [`poll`](Reactor::poll) for [`Event`]s. No thread is started; lines borrow
//! the reactor's one read buffer.
//!
//! ```
//! use std::time::Duration;
//! use procrun::{Command, Event, Reactor, Stream};
//!
//! let mut reactor = Reactor::new()?;
//! let mut cmd = Command::new("sh");
//! cmd.args(["-c", "echo out; echo err >&2; exit 3"])
//!     .timeout(Duration::from_secs(10));
//! let id = reactor.spawn(&cmd)?;
//!
//! let (mut out, mut err, mut code) = (Vec::new(), Vec::new(), None);
//! while !reactor.is_empty() {
//!     reactor.poll(None, |_ctl, event| match event {
//!         Event::Line { stream: Stream::Stdout, line, .. } => out.push(line.to_vec()),
//!         Event::Line { stream: Stream::Stderr, line, .. } => err.push(line.to_vec()),
//!         Event::Exited(exit) => code = exit.code(),
//!         _ => {}
//!     })?;
//! }
//! assert_eq!((out, err, code), (vec![b"out".to_vec()], vec![b"err".to_vec()], Some(3)));
//! # let _ = id;
//! # Ok::<(), procrun::Error>(())
//! ```
//!
//! **The handle API**, for code that wants gpud's shape: a [`Process`] is
//! started, read ([`read`], [`Process::stdout`], [`Process::lines`]), waited
//! for ([`Process::wait`], [`Process::exits`]) and closed from any thread.
//! The processes are served by a pool of driver threads, each owning one
//! reactor: one thread by default, for any number of processes. When their
//! output or spawns keep that core busy, [`set_drivers`] (before the first
//! start) makes it one driver per core ([`Drivers::PerCore`]) or any
//! number up to [`MAX_DRIVERS`]; each process starts on the driver with the fewest live
//! processes and stays there, so its lines never change threads and the
//! drivers share no lock. A driver that dies fails only its own processes
//! ([`Error::DriverGone`]) and is replaced at the next start placed on it.
//!
//! ```
//! use std::time::Duration;
//! use procrun::{read, Process, ReadOptions, Restart};
//!
//! let p = Process::builder()
//!     .commands([vec!["echo starting"], vec!["seq", "1", "3"]])
//!     .run_as_bash_script()
//!     .restart(Restart::on_error().limit(3).interval(Duration::from_secs(1)))
//!     .build()?;
//! p.start()?;
//! let mut lines = Vec::new();
//! read(&p, ReadOptions::new().stdout().on_line(|l| lines.push(l.to_string_lossy().into_owned())))?;
//! assert_eq!(lines, ["starting", "1", "2", "3"]);
//! assert!(p.wait()?.success());
//! p.close()?;
//! # Ok::<(), procrun::Error>(())
//! ```
//!
//! Several commands can run as one child, each one's stdout piped to the
//! next one's stdin through a pipe procrun never reads: a [`Pipeline`],
//! started by [`Reactor::spawn_pipeline`] or [`ProcessBuilder::pipe`], is
//! stopped, timed out and restarted as a whole, and ends with `pipefail`'s
//! status ([`Exit::failed_stage`]) after each stage's
//! [`Event::StageExited`].
//!
//! With the `tokio` feature, a third: **async handles** in `procrun::tokio`
//! (a `Child` per child or pipeline, with `wait`, `stop`, `next_line`,
//! `output`, or one owned stream of every event of a supervisor's
//! children, `Events`) on a reactor driven by the tokio runtime's own I/O
//! driver and timers: no thread, no blocking call.
//!
//! # What it guarantees
//!
//! 1. One thread runs the reactor, blocked only in `epoll_wait`, and with
//!    nothing due it waits with no timeout: an idle reactor never wakes up.
//! 2. Exits are seen through pidfds: no signal handler is installed, and only
//!    procrun's own children are reaped (`waitid` on each one's pidfd).
//! 3. Every byte written to a piped stream reaches the caller once and in
//!    order, split on `\n` (one `\r` before it dropped), or as it was
//!    written with [`Output::Raw`] and through the handle API's byte
//!    readers and combined output; all a run wrote
//!    before it exited comes before its [`Event::Exited`], its last line
//!    included: without a `\n`, that line ends at EOF or with the run,
//!    whichever comes first (a process outside the group may hold the pipe
//!    open; what it writes later starts a new line).
//! 4. Memory is bounded: a line longer than the limit comes in pieces flagged
//!    partial, and a paused consumer stops the reading (the child blocks);
//!    the handle API holds at most its buffer and each stream's line in
//!    progress.
//! 5. A stop sends the stop signal (default `SIGTERM`) and `SIGCONT` to the
//!    child's process group (`SIGCONT` first for a job-control stop signal,
//!    which it would discard), then `SIGKILL` after the grace (default 3 s).
//!    The grace is for every process of the run: a stopped child that exits
//!    while members of its group (or cgroup) live on is left a zombie until
//!    they are gone or the grace ends. Whatever is left of a non-detached
//!    child's group is killed while the leader is still a zombie, so a
//!    recycled pid is never signalled. A stop (a timeout, [`Process::close`])
//!    is over, at [`Event::Done`], when nothing of the run is left: the child
//!    reaped and no member of its group (or cgroup) alive; a run that ends by
//!    itself is Done without waiting for what its group's `SIGKILL` ends.
//! 6. A child starts with no signal blocked and every signal at its default
//!    action, whatever the spawning thread blocks or the host ignores (std's
//!    `Command` hands both on, so a stop's `SIGTERM` could go unseen).
//! 7. Nothing leaks: every fd procrun makes is `O_CLOEXEC`; after the reap no
//!    fd, zombie, script file or (unless detached) group member remains.
//!    An [`Event::Exited`] is delivered before the reap, the child a
//!    zombie while the handler runs; the reap, the group's `SIGKILL` and
//!    the close of the run's pidfd follow before [`Reactor::poll`]
//!    returns, so once it returns no fd of the run is left (but output
//!    pipes a process outside the group holds, until the drain time).
//! 8. Bad input is a typed [`Error`], never a panic (table below).
//! 9. A stop, and the `SIGKILL` of a dropped [`Reactor`], reach the child
//!    itself as well as its group: a child that left its group is still
//!    stopped, timed out and killed, and no drop blocks on it. A contained
//!    run is stopped as a whole (see the caveats).
//! 10. Callers racing each other on one [`Process`] (a close against a
//!     start, several closes, waits from many threads) see one consistent
//!     state: every [`Process::close`] returns only once the stop is over,
//!     and a start that loses the race to a close starts nothing.
//!
//! # Caveats
//!
//! - **Drop.** Dropping a [`Reactor`] kills every child it still runs (its
//!   group with `SIGKILL`, or the child alone when detached) and reaps it,
//!   with no grace: [`Reactor::shutdown`] stops them gracefully first.
//!   Dropping a started [`Process`] starts a stop and does not wait; call
//!   [`Process::close`] to wait for the stop to be over. A reader taken
//!   before the drop still reads everything the child wrote, to its end
//!   (a close drops the unread output instead).
//! - **Who reaps.** procrun reaps its children itself, and never changes
//!   the host's signal dispositions. A host whose `SIGCHLD` is ignored
//!   (`SIG_IGN`, or the `SA_NOCLDWAIT` flag, perhaps inherited from
//!   whoever started it) has the kernel reap every child at its exit: a
//!   spawn then fails with [`Error::SigchldIgnored`]; reset `SIGCHLD` to
//!   `SIG_DFL` at the agent's start. If the host calls `waitpid(-1)`, or
//!   ignores `SIGCHLD` after a spawn, that code or the kernel takes the
//!   exit status first: procrun still sees the exit and reports it with
//!   [`Exit::status_lost`], no exit code and no signal.
//! - **Detached children** (see [`Command::detached`]) stay in the caller's
//!   process group; a stop signals the child alone and what it started in
//!   the background lives on, outside procrun's reach. So does any process
//!   the child started that calls `setsid` or `setpgid` to leave the group:
//!   procrun reads its output for the drain time ([`Command::drain`]) after
//!   the child exits, then closes the pipes. The child itself is always
//!   reached: a stop signals it through its pidfd too when it left its
//!   group.
//! - **Contained runs** ([`Command::cgroup`]) reach what detached children
//!   and `setsid` escapees do not: each run lives in a cgroup of its own, a
//!   stop kills all of it, its pipes close when it is empty, and
//!   [`Event::Done`] comes once the cgroup is removed (with the cgroups
//!   the run made below it). A cgroup outlives its agent only if the agent
//!   dies without dropping its reactor; [`cgroup::kill_leftovers`] ends
//!   those. [`Command::kill_on_parent_death`] makes a run die with the
//!   thread that started it. Where the parent
//!   enables the controllers, a contained run can be limited
//!   ([`Command::memory_max`], [`Command::pids_max`], [`Command::cpu_max`])
//!   and its [`Exit`] tells an OOM kill and its peak memory; where it does
//!   not, asking for a limit is [`Error::ControllerNotEnabled`].
//! - **A child that made itself another user** (a setuid-root program
//!   calling `setuid(0)`) may not be signalled by an unprivileged procrun:
//!   the failed stop is an [`Event::SignalFailed`] ([`Process::close`]
//!   returns [`Error::Signal`] instead of waiting), and the child is reaped
//!   with its real status whenever it exits.
//! - **Inherited fds.** A child gets 0, 1 and 2 and the fds given to
//!   [`Command::pass_fd`] at their numbers, nothing else: no fd of
//!   procrun's, and (Linux 5.9+) none the host opened without `O_CLOEXEC`
//!   either, which [`std::process::Command`] would hand on and Go's
//!   `os/exec` and Python's `subprocess` do not; pass such an fd (a
//!   jobserver's, say) with [`Command::pass_fd`]. Nor does a spawn copy the host's fd
//!   table (Linux 5.9+, a command with passed fds excepted): it costs the
//!   same among 5,000 live children as among none.
//! - **`SIGPIPE`.** Feeding stdin ([`Command::stdin_bytes`], [`Input::Stream`])
//!   to a child that exits early gets `EPIPE`, handled (a stream reports
//!   what it dropped in [`Event::StdinClosed`]); a host that has not ignored
//!   `SIGPIPE` (Rust programs do) would get the signal first.
//! - **No pidfd** (Linux before 5.3, or `PROCRUN_NO_PIDFD=1`): exits are
//!   found by `waitid` on each child's pid on a timer that backs off from
//!   1 ms to 100 ms while children stay up; an exit is then seen up to
//!   100 ms late and an idle reactor wakes up to ten times a second.
//!   [`Reactor::uses_pidfd`] tells which mode runs.
//! - **No `clone3`** (Linux before 5.3, a seccomp filter that hides or
//!   refuses it, an architecture other than x86_64 and aarch64, or
//!   `PROCRUN_NO_CLONE3=1`): children start by the C library's `clone`,
//!   and each child's pidfd is opened after its start (`pidfd_open`)
//!   instead of coming with it; what the kernel refused is remembered for
//!   the rest of the process.
//! - **No `CLONE_INTO_CGROUP`** (Linux before 5.7, or no `clone3`): a
//!   contained run's child writes itself into its cgroup before it runs
//!   anything, instead of the kernel starting it there. Nothing of the run
//!   is outside the cgroup either way; the write costs a few hundred
//!   microseconds more per run.
//! - **No `cgroup.kill`** (Linux before 5.14, or
//!   `PROCRUN_NO_CGROUP_KILL=1`): a contained run's cgroup is killed by
//!   freezing it (no member can fork or move unseen), sending `SIGKILL` to
//!   every member and thawing it. The reactor does not wait for the
//!   freeze: it goes on when `cgroup.events` says the cgroup is frozen, a
//!   round of kills at a time a millisecond apart; a member that cannot
//!   freeze (stuck in the kernel) is taken through a pidfd after a second.
//! - **The pipe quota.** A child's pipe found full is enlarged from
//!   64 KiB to 1 MiB. The kernel counts pipe pages per user
//!   (`/proc/sys/fs/pipe-user-pages-soft`), a quota shared by every process
//!   of the user, past which their new pipes get 8 KiB: procrun's
//!   enlargements, all reactors together, stay within a quarter of it. A
//!   process the quota does not bind (privileged, or the quota off)
//!   enlarges every stdout pipe at spawn, each costing about 10 KiB of
//!   kernel memory, charged to its memory cgroup, from the start.
//! - **Empty polls.** [`Reactor::poll`] returns `Ok` with no event when a
//!   signal interrupts `epoll_wait`. That happens without any handler of
//!   the host's: a child that exits while the thread that spawned it has
//!   every signal blocked (as procrun does around its clone) gets its
//!   `SIGCHLD` queued rather than discarded, and the kernel wakes another
//!   thread to take it. Loop on `poll`; do not take an empty return for a
//!   timeout.
//! - **Streaming stdin** ([`Input::Stream`], [`Reactor::write_stdin`],
//!   [`Process::stdin`]) belongs to a run: it is closed when the run is
//!   reaped, and bytes still queued then are dropped (counted in
//!   [`Event::StdinClosed`]); a restarted run gets a new stream, and a
//!   new [`ChildStdin`] from [`Process::stdin`] (one per run: an earlier
//!   run's writer gets `BrokenPipe` and never closes the new stream). At
//!   most 1 MiB waits per child beyond the pipe; a full queue refuses
//!   (`WouldBlock`) until [`Event::StdinReady`].
//! - **Pipelines** ([`Pipeline`]) are one child to the reactor: their
//!   [`Started`](Event::Started), [`Exit::pid`] and [`Reactor::pid`] give
//!   the first stage's pid, the process group's id. The first stage is
//!   reaped last, once every other stage is (its reap kills what is left
//!   of its group), so it stays a zombie while the others run. An
//!   [`Event::StageExited`] may come before all its stage wrote is
//!   delivered; the run's [`Event::Exited`] keeps the promise for the
//!   whole. Earlier stages' streams left at their default share the last
//!   stage's. A handler's [`Control::spawn`] starts commands, not
//!   pipelines.
//! - **Handle API buffering.** A [`Process`] buffers up to 1 MiB of unread
//!   output in whole lines ([`ProcessBuilder::buffer`]), then pauses the
//!   child until a reader catches up — as a full pipe would. Each stream's
//!   line in progress is held besides, up to [`ProcessBuilder::max_line`]
//!   (twice: as bytes and in the line splitter): a line longer than the
//!   buffer is read whole (or in the pieces `max_line` cuts), never waited
//!   for while the child is paused. A `max_line` of `usize::MAX` bounds no
//!   line, and so no memory, for a child that never writes a `\n`.
//!   [`read`] drops the lines of streams it was not asked for, so it never
//!   blocks on them. The bound is for both streams together: a reader
//!   reading stdout to its end while stderr goes unread waits for ever
//!   once stderr fills the buffer; [`Process::output`] reads both as
//!   they come.
//!
//! # Errors
//!
//! | error | when | shown by |
//! | --- | --- | --- |
//! | [`Error::EmptyProgram`] | no program, a builder with no command, or script contents empty or only whitespace | `tests/suite/reactor.rs` `bad_commands_are_typed_errors`; `tests/suite/process.rs` `build_rejects_bad_options`, `empty_or_blank_script_contents_are_nothing_to_run` |
//! | [`Error::ProgramNotFound`] | not on `PATH`, or the path does not exist | `bad_commands_are_typed_errors`, `build_rejects_bad_options` |
//! | [`Error::NulByte`] | NUL in program, argument, env or cwd; in bash script mode too, and in script contents (bash would drop it) | `bad_commands_are_typed_errors`; unit `nul_byte_in_argument_is_rejected`; `a_nul_in_script_mode_is_a_nul_byte_error_at_build` |
//! | [`Error::InvalidEnv`] | env entry not `KEY=VALUE` | `bad_commands_are_typed_errors`, `build_rejects_bad_options` |
//! | [`Error::DuplicateEnv`] | the same key twice | `build_rejects_bad_options`; doctest of [`Command::validate`] |
//! | [`Error::CwdNotFound`] | working directory missing | `bad_commands_are_typed_errors`; `script_file_is_removed_on_drop_and_on_failed_start` |
//! | [`Error::ZeroMaxLine`] | a line limit of 0 | unit `zero_max_line_is_rejected`; `read_gets_lines_longer_than_the_process_max_line_in_partial_pieces` |
//! | [`Error::InvalidCommand`] | several commands without script mode; a bad script pattern; a bad child setting ([`Command::rlimit`] soft above hard, [`Command::nice`], [`Command::oom_score_adj`] or [`Command::umask`] out of range, a [`Command::pass_fd`] target of 0-2 or given twice); a [`Pipeline`] setting of the whole on a stage but the last, a stdin on a stage after the first, or a [`ProcessBuilder::pipe`] without exactly one command | `build_rejects_bad_options`; unit `pattern_with_a_slash_is_rejected`; `tests/suite/child_setup.rs` `bad_settings_are_invalid_command_errors_at_prepare`; `tests/suite/pipeline.rs` `settings_of_the_whole_on_another_stage_are_invalid`, `process_pipe_runs_a_pipeline_with_pipefail` |
//! | [`Error::Spawn`] | `execve` failed otherwise (e.g. not executable); a bare name found on `PATH` only where it cannot be executed (EACCES, as `execvp`) | `tests/suite/reactor.rs` `unexecutable_program_is_a_spawn_error`, `bare_name_found_on_path_only_where_it_cannot_execute_is_eacces_as_execvp` |
//! | [`Error::Credentials`] | a [`Command::uid`], [`Command::gid`] or [`Command::groups`] procrun may not switch to (not root) | `tests/suite/child_setup.rs` `a_switch_without_privilege_is_a_credentials_error_and_nothing_runs` |
//! | [`Error::ChildSetup`] | a resource limit, nice value, `oom_score_adj` or passed fd the kernel refuses in the child | `tests/suite/child_setup.rs` `raising_a_limit_without_privilege_is_a_child_setup_error`, `a_target_above_the_childs_fd_limit_is_a_child_setup_error` |
//! | [`Error::Signal`] | a stop or a [`Reactor::signal`] that reaches nothing of the child (it made itself another user) | `tests/suite/privilege.rs` `stop_that_cannot_reach_a_root_child_is_reported`, `close_of_a_process_it_cannot_stop_returns_the_error_instead_of_blocking` |
//! | [`Error::UnknownSignal`] | a signal name or number that names no Linux signal | unit `anything_else_is_a_typed_error_naming_the_input`; doctest of [`Signal`] |
//! | [`Error::UnknownChild`] | a [`ChildId`] the reactor never issued (another reactor's); the stdin calls of a child that is done (its stop, signal, pause and resume are no-ops) | `an_id_another_reactor_issued_is_unknown_and_touches_nothing`, `tokio_kill_after_wait_is_ok`; `tests/suite/stdin.rs` `stdin_calls_on_a_child_without_a_stream_are_typed_errors` |
//! | [`Error::NotStarted`] | reading, waiting or signalling before start | `read_before_start_and_after_close_are_errors`, `signal_before_start_is_an_error_and_after_the_end_sends_nothing` |
//! | [`Error::AlreadyStarted`] | a second start | `start_twice_and_start_after_close_are_errors` |
//! | [`Error::Aborted`] | start, read after close | `start_twice_and_start_after_close_are_errors`, `read_before_start_and_after_close_are_errors` |
//! | [`Error::AlreadyRunning`] | a second concurrent run of an [`ExclusiveRunner`] | `exclusive_runner_refuses_a_concurrent_run_atomically` |
//! | [`Error::Failed`] | an unsuccessful exit, where the API returns it | `read_wait_for_exit_returns_the_failure` |
//! | [`Error::TimedOut`] | a wait past its limit; a run, or a [`read`], whose exit [`timed_out`](Exit::timed_out) | `wait_timeout_and_try_wait_do_not_block`, `exclusive_runner_returns_partial_output_on_timeout_and_caps_it`, `runner_timeout_and_combined_output_timeout_report_timed_out`, `read_without_wait_reports_the_timeout_that_ended_the_process` |
//! | [`Error::Procfs`] | a `/proc` root or file that cannot be read | `tests/suite/procfs.rs` `missing_root_is_an_error_naming_it` |
//! | [`Error::ProcStat`] | a malformed stat file of one pid | `fake_tree_garbage_stat_of_one_pid_is_a_clear_error` |
//! | [`Error::DriverGone`] | the handle API's driver thread died (a bug panicked it, or `epoll_wait` failed) | unit `a_dead_driver_fails_its_callers_reaps_its_children_and_is_replaced` |
//! | [`Error::DriversStarted`] | [`set_drivers`] asking for another size once the pool runs | `tests/pool.rs` `the_pool_size_is_fixed_once_it_runs` |
//! | [`Error::TooManyDrivers`] | [`set_drivers`] asking for more than [`MAX_DRIVERS`] | `tests/drivers_bound.rs` `set_drivers_bounds_the_count_and_a_driver_that_cannot_start_fails_its_start`; unit `checked_count_refuses_more_than_max_drivers` |
//! | [`Error::NotCgroup2`] | a [`Command::cgroup`] parent that is not a cgroup v2 directory | `tests/suite/containment.rs` `a_parent_that_is_not_a_cgroup2_directory_is_a_typed_error` |
//! | [`Error::CgroupAccess`] | a run's cgroup cannot be made or entered below that parent | `a_parent_that_refuses_new_cgroups_is_a_typed_error_and_nothing_leaks` |
//! | [`Error::ControllerNotEnabled`] | a memory, pids or CPU limit whose controller the parent does not enable for its children | `a_limit_whose_controller_is_not_enabled_is_a_typed_error_and_nothing_is_left` |
//! | [`Error::NotDelegated`] | [`cgroup::delegated_parent`] in a cgroup that was not delegated to this process (the root cgroup, or one without systemd's delegation mark or a non-root owner) | `tests/suite/containment.rs` `delegated_parent_refuses_a_cgroup_not_delegated_and_changes_nothing` |
//! | [`Error::SigchldIgnored`] | a spawn (or restart) while `SIGCHLD` is `SIG_IGN` or has `SA_NOCLDWAIT` in this process | `tests/sigchld.rs` `spawn_with_sigchld_ignored_is_a_typed_error_and_works_again_after_sig_dfl`, `spawn_with_sa_nocldwait_is_a_typed_error_and_works_again_after_sig_dfl` |
//! | [`Error::EventsTaken`] | a second `procrun::tokio::Driver::events` while the driver's first stream lives (the `tokio` feature) | `tests/tokio.rs` `events_are_one_stream_per_driver` |
//! | [`Error::NoStdin`] | writing to or closing the stdin of a child without [`Input::Stream`]; a second [`Process::stdin`] for the same run | `tests/suite/stdin.rs` `stdin_calls_on_a_child_without_a_stream_are_typed_errors`, `process_stdin_errors_are_typed_and_close_ends_a_blocked_writer`, `process_stdin_copied_into_wc_counts_every_byte`, `process_stdin_is_one_writer_per_run_and_a_restarted_run_is_fed_by_a_new_one` |
//! | [`Error::Io`] | any other OS error (epoll, pipes); from [`Process::start`], a driver that cannot start (`EMFILE`, `EAGAIN`); from [`Reactor::write_stdin`], `WouldBlock` (queue full) and `BrokenPipe` (stream closed) | `tests/suite/stdin.rs` `a_full_queue_refuses_then_announces_room_once_the_child_reads_again`, `a_child_that_exits_with_input_queued_drops_it_reports_it_and_later_writes_get_broken_pipe`; `tests/drivers_bound.rs` `set_drivers_bounds_the_count_and_a_driver_that_cannot_start_fails_its_start` |
//!
//! # Parity with gpud `pkg/process`
//!
//! | Go | procrun |
//! | --- | --- |
//! | `New(opts...)`, `Op`, `OpOption` | [`Process::builder`], [`ProcessBuilder::build`] |
//! | `WithCommand`, `WithCommands` | [`ProcessBuilder::command`], [`ProcessBuilder::commands`] |
//! | `WithBashScriptContentsToRun`, `WithRunAsBashScript` | [`ProcessBuilder::script`], [`ProcessBuilder::run_as_bash_script`] ([`SCRIPT_HEADER`]; a file of mode 0600) |
//! | `WithRunBashInline` | [`ProcessBuilder::inline`] (a memfd: no file, no ARG_MAX, stdin free; implies bash script mode) |
//! | `WithBashScriptTmpDirectory`, `WithBashScriptFilePattern` | [`ProcessBuilder::script_dir`], [`ProcessBuilder::script_pattern`] ([`DEFAULT_SCRIPT_PATTERN`]) |
//! | `WithEnvs` | [`ProcessBuilder::env`] (added to the inherited environment; [`ProcessBuilder::env_clear`] replaces it) |
//! | `WithLabel` | [`ProcessBuilder::label`], [`Process::labels`] |
//! | `WithOutputFile` | [`ProcessBuilder::output_file`] |
//! | `WithRestartConfig` | [`ProcessBuilder::restart`] with [`Restart`] (plus backoff, reset, and [`Restart::always`] beside [`Restart::on_error`]) |
//! | `WithAllowDetachedProcess` | [`ProcessBuilder::detached`]; for a runner, [`RunOptions::detached`](RunOptions#structfield.detached) |
//! | `Start`, `Started` | [`Process::start`], [`Process::started`] |
//! | `StartAndWaitForCombinedOutput` | [`Process::start_and_wait_combined`] |
//! | `Close`, `Closed` | [`Process::close`], [`Process::closed`] |
//! | `Wait()` | [`Process::wait`], [`Process::wait_timeout`], [`Process::try_wait`], [`Process::exits`] |
//! | `PID`, `ExitCode` | [`Process::pid`], [`Process::exit_status`], [`Process::last_exit`]; each [`Exit`] also has the run's CPU time, peak RSS and wall time ([`Exit::user_time`], [`Exit::system_time`], [`Exit::max_rss_bytes`], [`Exit::wall_time`], as Go's `ProcessState`) |
//! | `StdoutReader`, `StderrReader` | [`Process::stdout`], [`Process::stderr`] ([`std::io::Read`], byte-exact), [`Process::lines`]; and beyond gpud, [`Process::stdin`] ([`std::io::Write`]) |
//! | `Read`, `WithReadStdout`, `WithReadStderr`, `WithProcessLine`, `WithWaitForCmd` | [`read`] with [`ReadOptions`] |
//! | `WithInitialBufferSize` | [`ProcessBuilder::max_line`] (longer lines are read in pieces flagged [`partial`](OutputLine::partial)) |
//! | `Runner`, `NewExclusiveRunner`, `ErrProcessAlreadyRunning` | [`Runner`], [`ExclusiveRunner`], [`Error::AlreadyRunning`] |
//! | `ErrProcessNotStarted`, `ErrProcessAborted`, `ErrProcessAlreadyStarted` | [`Error::NotStarted`], [`Error::Aborted`], [`Error::AlreadyStarted`] |
//! | context cancellation / deadline | [`ProcessBuilder::timeout`], [`Process::close`] from another thread |
//! | `CountRunningPids`, `CountProcessesByStatus`, `FindProcessByName`, `ReadComm`, `CheckRunningByPid`, `HOST_PROC` | [`procfs`] |
#![deny(unsafe_code)]
// Inside an `unsafe fn` (the forked child's side, the raw `clone3`) each
// unsafe operation still needs a block, and so a SAFETY line, of its own.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]

#[cfg(not(target_os = "linux"))]
compile_error!("procrun supports Linux only: it needs pidfds, epoll and /proc");

pub mod cgroup;
mod child;
mod command;
#[cfg(test)]
mod crate_docs;
mod error;
mod exit;
// The pure parts are public only with the off-by-default `internals`
// feature, which the benches and fuzz targets enable: a `#[doc(hidden)]`
// module would still be reachable, and so semver surface. Their doc
// examples run under the feature (`scripts/test`). Without it the reactor
// uses only part of their API; the rest is for tests, benches and fuzz, and
// is linted with the feature on.
#[cfg(feature = "internals")]
pub mod lines;
#[cfg(not(feature = "internals"))]
#[allow(dead_code)]
mod lines;
mod pipeline;
mod process;
pub mod procfs;
mod reactor;
mod signal;
mod spawn;
mod sys;
#[cfg(test)]
mod testutil;
// Public only with `internals`, as `lines` is.
#[cfg(feature = "internals")]
pub mod timer;
#[cfg(not(feature = "internals"))]
#[allow(dead_code)]
mod timer;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use child::{ChildId, OutputLine, Stream};
pub use command::{Command, Input, Output, Resource, Restart};
pub use error::{Error, Result};
pub use exit::{Exit, StageExit, TimeoutKind};
pub use pipeline::Pipeline;
pub use process::runner::{ExclusiveRunner, RunOptions, RunOutput, Runner};
pub use process::{
    read, set_drivers, shell_quote, ChildStdin, CombinedOutput, Drivers, Exits, Lines, Process,
    ProcessBuilder, ProcessOutput, ReadOptions, StreamReader, DEFAULT_SCRIPT_PATTERN, MAX_DRIVERS,
    SCRIPT_HEADER,
};
pub use reactor::{Control, Event, Reactor, Waker};
pub use signal::{Signal, UnknownSignal};

// The README's snippets run as doctests, so what it shows stays true; the
// type exists only while doctests are collected, and with the `tokio`
// feature, which one of them uses (`cargo test --features tokio --doc`).
#[doc = include_str!("../README.md")]
#[cfg(all(doctest, feature = "tokio"))]
pub struct ReadmeDoctests;
