//! A [`Command`] parsed into what running it needs: every string a C
//! string, every limit in a type that cannot be invalid. Made once by
//! [`Command::prepare`]; spawns and restarts consume it and fail only on
//! what the world says at spawn time (a program missing from `PATH`, an
//! exec error), never on what was checked.

use std::ffi::{CStr, CString, OsStr};
use std::num::NonZeroUsize;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;
use std::time::Duration;

use crate::cgroup::Containment;
use crate::command::{Command, Input, Output, Restart};
use crate::error::{Error, Result};
use crate::signal::Signal;
use crate::sys::cgroup;
use crate::sys::{ChildSetup, Limits};

use super::pipeline::Upstream;

/// A checked command, ready to spawn as often as restarts need.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    /// `argv`, the program first, as given: a path when it holds a `/`,
    /// else a name looked up on the child's `PATH` at each spawn, as
    /// `execvp` does. Never empty.
    // Boxed slices, as `env` is: a spec never grows once made (but for
    // `push_arg`), and one kept per restarting command is 16 bytes
    // smaller than with vectors.
    pub(crate) argv: Box<[CString]>,
    /// Start from an empty environment instead of procrun's own.
    pub(crate) env_clear: bool,
    /// Changes to the environment in the order given: the key, and the
    /// whole `KEY=VALUE` entry or `None` to remove the key.
    pub(crate) env: Box<[(Vec<u8>, Option<CString>)]>,
    pub(crate) stdin: Input,
    pub(crate) stdout: Output,
    pub(crate) stderr: Output,
    pub(crate) max_line: NonZeroUsize,
    pub(crate) timeout: Option<Duration>,
    pub(crate) run_timeout: Option<Duration>,
    pub(crate) stop: StopPolicy,
    pub(crate) restart: Option<Restart>,
    /// The cgroup v2 directory each run gets a cgroup of its own below,
    /// and its limits; boxed, as few commands are contained and a restart
    /// policy keeps a `Spec` per child.
    pub(crate) cgroup: Option<Box<Containment>>,
    /// `PR_SET_PDEATHSIG` with `SIGKILL` in each run.
    pub(crate) die_with_parent: bool,
    /// The working directory, `arg0`, credentials, resource limits and
    /// passed fds, when any is asked for; boxed, as most commands have
    /// none (and a spec stays small: restarts keep one per child).
    pub(crate) setup: Option<Box<ChildSetup>>,
    /// The stages before this one when it is the last of a pipeline
    /// (whose supervision and streams are then this spec's); boxed, as
    /// few commands are pipelines.
    pub(crate) upstream: Option<Box<Upstream>>,
}

/// The largest `cpu.max` quota the kernel takes, in microseconds
/// (`(1 << 44) - 1`, its bandwidth field); a larger one means no limit.
const CPU_QUOTA_MAX_US: u128 = (1 << 44) - 1;

/// How a run of the command is stopped and reaped: its stop signal, the
/// grace before `SIGKILL`, the drain time left to its pipes, and whether
/// it runs in a process group of its own (not `detached`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct StopPolicy {
    pub(crate) detached: bool,
    pub(crate) signal: Signal,
    pub(crate) grace: Duration,
    pub(crate) drain: Duration,
}

impl Spec {
    /// The program as given.
    pub(crate) fn program(&self) -> &CString {
        &self.argv[0]
    }

    /// The program as given, for messages.
    pub(crate) fn program_name(&self) -> String {
        String::from_utf8_lossy(self.argv[0].as_bytes()).into_owned()
    }

    /// Whether a run of `other` would be exactly a run of this spec, so one
    /// kept copy can serve the restarts of both: what the caller gave
    /// (stdin bytes, an output file) must be the very same object, and
    /// everything else equal. Every field is named, so a field added to
    /// `Spec` cannot be forgotten here.
    pub(crate) fn same_as(&self, other: &Spec) -> bool {
        let Spec {
            argv,
            env_clear,
            env,
            stdin,
            stdout,
            stderr,
            max_line,
            timeout,
            run_timeout,
            stop,
            restart,
            cgroup,
            die_with_parent,
            setup,
            upstream,
        } = self;
        let StopPolicy {
            detached,
            signal,
            grace,
            drain,
        } = stop;
        *argv == other.argv
            && *env_clear == other.env_clear
            && *env == other.env
            && same_input(stdin, &other.stdin)
            && same_output(stdout, &other.stdout)
            && same_output(stderr, &other.stderr)
            && *max_line == other.max_line
            && *timeout == other.timeout
            && *run_timeout == other.run_timeout
            && *detached == other.stop.detached
            && *signal == other.stop.signal
            && *grace == other.stop.grace
            && *drain == other.stop.drain
            && *restart == other.restart
            && *cgroup == other.cgroup
            && *die_with_parent == other.die_with_parent
            && match (setup, &other.setup) {
                (Some(a), Some(b)) => a.same_as(b),
                (a, b) => a.is_none() && b.is_none(),
            }
            && match (upstream, &other.upstream) {
                (Some(a), Some(b)) => a.same_as(b),
                (a, b) => a.is_none() && b.is_none(),
            }
    }

    /// The child's working directory, when not procrun's.
    pub(crate) fn cwd(&self) -> Option<&CStr> {
        self.setup.as_ref().and_then(|s| s.cwd.as_deref())
    }

    /// Adds an argument: the script path a [`Process`](crate::Process)
    /// hands to bash at each start.
    pub(crate) fn push_arg(&mut self, arg: &OsStr) -> Result<()> {
        let mut argv = std::mem::take(&mut self.argv).into_vec();
        argv.push(c_string("argument", arg.as_bytes())?);
        self.argv = argv.into_boxed_slice();
        Ok(())
    }
}

impl Command {
    /// Checks the command and parses it into a [`Spec`]; see
    /// [`Command::validate`] for what is checked.
    pub(crate) fn prepare(&self) -> Result<Spec> {
        if self.program.is_empty() {
            return Err(Error::EmptyProgram);
        }
        let program = c_string("program", self.program.as_bytes())?;
        let mut argv = Vec::with_capacity(1 + self.args.len());
        argv.push(program);
        for a in &self.args {
            argv.push(c_string("argument", a.as_bytes())?);
        }
        let mut env = Vec::with_capacity(self.env.len() + self.env_entries.len());
        for (k, v) in &self.env {
            let key = k.as_bytes();
            if key.is_empty() || key.contains(&b'=') {
                return Err(Error::InvalidEnv {
                    entry: k.to_string_lossy().into_owned(),
                });
            }
            c_string("env key", key)?;
            let entry = match v {
                Some(v) => {
                    c_string("env value", v.as_bytes())?;
                    Some(c_string("env value", &[key, b"=", v.as_bytes()].concat())?)
                }
                None => None,
            };
            env.push((key.to_vec(), entry));
        }
        let mut seen: Vec<&str> = Vec::with_capacity(self.env_entries.len());
        for e in &self.env_entries {
            let entry = c_string("env entry", e.as_bytes())?;
            let key = match e.split_once('=') {
                Some((k, _)) if !k.is_empty() => k,
                _ => return Err(Error::InvalidEnv { entry: e.clone() }),
            };
            if seen.contains(&key) {
                return Err(Error::DuplicateEnv {
                    key: key.to_owned(),
                });
            }
            seen.push(key);
            env.push((key.as_bytes().to_vec(), Some(entry)));
        }
        let cwd = match &self.cwd {
            Some(dir) => {
                let c = c_string("working directory", dir.as_os_str().as_bytes())?;
                if !dir.is_dir() {
                    return Err(Error::CwdNotFound { path: dir.clone() });
                }
                Some(c)
            }
            None => None,
        };
        let max_line = NonZeroUsize::new(self.max_line).ok_or(Error::ZeroMaxLine)?;
        let limits = self.checked_limits()?;
        let cgroup =
            match &self.cgroup {
                Some(dir) => {
                    if !cgroup::is_cgroup2(dir).unwrap_or(false) {
                        return Err(Error::NotCgroup2 {
                            path: dir.clone(),
                            mount: cgroup::mount_point(),
                        });
                    }
                    Some(Box::new(Containment {
                        parent: dir.clone(),
                        limits,
                    }))
                }
                None if limits.any() => return Err(Error::invalid_command(
                    "memory_max, pids_max and cpu_max need a cgroup (Command::cgroup) to hold them",
                )),
                None => None,
            };
        Ok(Spec {
            argv: argv.into_boxed_slice(),
            env_clear: self.env_clear,
            env: env.into_boxed_slice(),
            stdin: self.stdin.clone(),
            stdout: self.stdout.clone(),
            stderr: self.stderr.clone(),
            max_line,
            timeout: self.timeout,
            run_timeout: self.run_timeout,
            stop: StopPolicy {
                detached: self.detached,
                signal: self.stop_signal,
                grace: self.grace,
                drain: self.drain,
            },
            restart: self.restart,
            cgroup,
            die_with_parent: self.kill_on_parent_death,
            setup: super::setup::prepare(&self.setup, cwd)?,
            upstream: None,
        })
    }
}

impl Command {
    /// The cgroup limits in the kernel's units, or why they cannot be.
    fn checked_limits(&self) -> Result<Limits> {
        let l = &self.limits;
        if l.memory_max == Some(0) {
            return Err(Error::invalid_command("memory_max must be at least 1 byte"));
        }
        if l.pids_max == Some(0) {
            return Err(Error::invalid_command("pids_max must be at least 1"));
        }
        let cpu_max = match l.cpu_max {
            Some((quota, period)) => {
                let ms = Duration::from_millis(1);
                if !(ms..=Duration::from_secs(1)).contains(&period) {
                    return Err(Error::invalid_command(
                        "cpu_max's period must be between 1 ms and 1 s",
                    ));
                }
                if quota < ms {
                    return Err(Error::invalid_command(
                        "cpu_max's quota must be at least 1 ms",
                    ));
                }
                let quota_us = quota.as_micros();
                let quota = (quota_us <= CPU_QUOTA_MAX_US).then_some(quota_us as u64);
                Some((quota, period.as_micros() as u64))
            }
            None => None,
        };
        Ok(Limits {
            memory_max: l.memory_max,
            pids_max: l.pids_max,
            cpu_max,
        })
    }
}

fn same_input(a: &Input, b: &Input) -> bool {
    match (a, b) {
        (Input::Bytes(a), Input::Bytes(b)) => Arc::ptr_eq(a, b),
        (Input::Null, Input::Null)
        | (Input::Inherit, Input::Inherit)
        | (Input::Stream, Input::Stream) => true,
        _ => false,
    }
}

fn same_output(a: &Output, b: &Output) -> bool {
    match (a, b) {
        (Output::File(a), Output::File(b)) => Arc::ptr_eq(a, b),
        (Output::Lines, Output::Lines)
        | (Output::Raw, Output::Raw)
        | (Output::Null, Output::Null)
        | (Output::Inherit, Output::Inherit)
        | (Output::Stdout, Output::Stdout) => true,
        _ => false,
    }
}

/// `bytes` as a C string, or [`Error::NulByte`] naming `what`.
fn c_string(what: &'static str, bytes: &[u8]) -> Result<CString> {
    CString::new(bytes).map_err(|_| Error::NulByte {
        what,
        value: String::from_utf8_lossy(bytes).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::command::{Command, Output, Restart};
    use crate::signal::Signal;

    /// A restarting command's spec is kept while its children live; the
    /// cgroup parent inline made it 272 bytes (288 in its `Arc`).
    #[test]
    fn a_spec_is_256_bytes() {
        let size = std::mem::size_of::<super::Spec>();
        assert!(size <= 256, "{size} bytes per spec");
    }

    #[test]
    fn a_spec_is_the_same_only_as_one_that_runs_alike() {
        let mut base = Command::new("sleep");
        base.arg("10").restart(Restart::on_error());
        let spec = base.prepare().unwrap();
        assert!(spec.same_as(&base.prepare().unwrap()));
        let changes: [&dyn Fn(&mut Command); 13] = [
            &|c| {
                c.arg("x");
            },
            &|c| {
                c.env("K", "v");
            },
            &|c| {
                c.env_clear();
            },
            &|c| {
                c.current_dir("/");
            },
            &|c| {
                c.stdin_bytes(&b"x"[..]);
            },
            &|c| {
                c.stdout(Output::Null);
            },
            &|c| {
                c.timeout(Duration::from_secs(1));
            },
            &|c| {
                c.run_timeout(Duration::from_secs(1));
            },
            &|c| {
                c.stop_signal(Signal::INT);
            },
            &|c| {
                c.restart(Restart::on_error().limit(3));
            },
            &|c| {
                c.kill_on_parent_death();
            },
            &|c| {
                c.arg0("other");
            },
            &|c| {
                c.rlimit(crate::command::Resource::Core, 0, 0);
            },
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut other = base.clone();
            change(&mut other);
            assert!(!spec.same_as(&other.prepare().unwrap()), "change {i}");
        }
        // Equal bytes given twice are two inputs: only the same one is shared.
        let mut a = base.clone();
        a.stdin_bytes(&b"x"[..]);
        let a = a.prepare().unwrap();
        assert!(a.same_as(&a.clone()));
        let mut b = base.clone();
        b.stdin_bytes(&b"x"[..]);
        assert!(!a.same_as(&b.prepare().unwrap()));
    }
}
