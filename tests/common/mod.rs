//! Shared helpers for the integration tests: drive a reactor with a
//! watchdog and record events as owned values.
#![allow(dead_code)]

pub mod bursts;
pub mod cgroups;
pub mod leftovers;
pub mod privilege;
mod rss;

use std::time::{Duration, Instant};

use procrun::{ChildId, Command, Event, Exit, Reactor, StageExit, Stream};

pub use rss::rss_kib;

/// How long any test waits for an event before failing, on this machine.
/// Generous: these machines are shared and noisy. Read through
/// [`watchdog`], which stretches it on a slower machine.
pub const WATCHDOG: Duration = Duration::from_secs(60);

/// How many times slower than a plain host the tests run:
/// `PROCRUN_TEST_SLOWDOWN` (a whole number, 1 when unset). An emulated VM
/// (scripts/test-vm) sets it, so that the watchdogs and the time bounds of
/// the tests that go through [`slow`] stretch by one setting.
pub fn slowdown() -> u32 {
    static FACTOR: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *FACTOR.get_or_init(|| match std::env::var("PROCRUN_TEST_SLOWDOWN") {
        Err(_) => 1,
        Ok(v) => match v.parse() {
            Ok(n) if n >= 1 => n,
            _ => panic!("PROCRUN_TEST_SLOWDOWN={v:?}: want a whole number from 1"),
        },
    })
}

/// A time bound of a test, stretched by [`slowdown`].
pub fn slow(bound: Duration) -> Duration {
    bound * slowdown()
}

/// [`WATCHDOG`] stretched by [`slowdown`].
pub fn watchdog() -> Duration {
    slow(WATCHDOG)
}

/// Runs `body` on its own thread and fails the test if it has not finished
/// within [`watchdog`]: a hang (a dead driver, a lost wake-up) must fail a
/// test, never hang the run.
pub fn with_watchdog<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    within_watchdog("the test body", body)
}

/// [`with_watchdog`] for one step of a test, named by `what` when it hangs
/// (a read that blocks on a FIFO, say). A thread left blocked ends with the
/// test binary.
pub fn within_watchdog<T: Send + 'static>(
    what: &str,
    body: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        let _ = tx.send(body());
    });
    match rx.recv_timeout(watchdog()) {
        Ok(v) => v,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("watchdog: {what} is still blocked after {:?}", watchdog())
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(h.join().expect_err("sent nothing, yet returned"))
        }
    }
}

/// `sh -c script`: the tiny program most tests drive.
pub fn sh(script: &str) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", script]);
    c
}

#[derive(Debug, Clone, PartialEq)]
pub enum Rec {
    Started {
        id: ChildId,
        pid: u32,
        restarts: u32,
    },
    Line {
        id: ChildId,
        stream: Stream,
        line: Vec<u8>,
        partial: bool,
    },
    Exited(Exit),
    StageExited(StageExit),
    RestartFailed(ChildId),
    SignalFailed(ChildId, String),
    Closed(ChildId, Stream),
    Done(ChildId),
}

impl Rec {
    /// Whether the event is about child `id`.
    pub fn id_is(&self, id: ChildId) -> bool {
        let of = match self {
            Rec::Started { id, .. } | Rec::Line { id, .. } => *id,
            Rec::Exited(e) => e.id(),
            Rec::StageExited(e) => e.id(),
            Rec::RestartFailed(id)
            | Rec::SignalFailed(id, _)
            | Rec::Closed(id, _)
            | Rec::Done(id) => *id,
        };
        of == id
    }
}

pub fn record(ev: Event<'_>) -> Rec {
    match ev {
        Event::Started {
            id, pid, restarts, ..
        } => Rec::Started { id, pid, restarts },
        Event::Line {
            id,
            stream,
            line,
            partial,
            ..
        } => Rec::Line {
            id,
            stream,
            line: line.to_vec(),
            partial,
        },
        Event::Exited(e) => Rec::Exited(e),
        Event::StageExited(e) => Rec::StageExited(e),
        Event::RestartFailed { id, .. } => Rec::RestartFailed(id),
        Event::SignalFailed { id, error, .. } => Rec::SignalFailed(id, error.to_string()),
        Event::Closed { id, stream, .. } => Rec::Closed(id, stream),
        Event::Done { id, .. } => Rec::Done(id),
        other => panic!("unexpected event {other:?}"),
    }
}

/// Polls until `until` holds for the events recorded so far; panics when
/// the watchdog expires. The reactor's Drop kills whatever is left, so a
/// failing test leaks no child.
pub fn drive_until(
    reactor: &mut Reactor,
    recs: &mut Vec<Rec>,
    mut until: impl FnMut(&[Rec]) -> bool,
) {
    let deadline = Instant::now() + watchdog();
    while !until(recs) {
        assert!(
            Instant::now() < deadline,
            "watchdog: condition not met; events so far: {:?}",
            &recs[recs.len().saturating_sub(20)..]
        );
        reactor
            .poll(Some(Duration::from_millis(200)), |_, ev| {
                recs.push(record(ev))
            })
            .expect("poll");
    }
}

/// Polls until the reactor supervises no child.
pub fn drive_all(reactor: &mut Reactor) -> Vec<Rec> {
    let mut recs = Vec::new();
    let deadline = Instant::now() + watchdog();
    while !reactor.is_empty() {
        assert!(
            Instant::now() < deadline,
            "watchdog: children still running"
        );
        reactor
            .poll(Some(Duration::from_millis(200)), |_, ev| {
                recs.push(record(ev))
            })
            .expect("poll");
    }
    recs
}

/// Polls until `id` is done, returning the events.
pub fn run_to_done(reactor: &mut Reactor, id: ChildId) -> Vec<Rec> {
    let mut recs = Vec::new();
    drive_until(reactor, &mut recs, |r| r.contains(&Rec::Done(id)));
    recs
}

pub fn lines_of(recs: &[Rec], id: ChildId, stream: Stream) -> Vec<String> {
    recs.iter()
        .filter_map(|r| match r {
            Rec::Line {
                id: i,
                stream: s,
                line,
                ..
            } if *i == id && *s == stream => Some(String::from_utf8_lossy(line).into_owned()),
            _ => None,
        })
        .collect()
}

pub fn exits_of(recs: &[Rec], id: ChildId) -> Vec<Exit> {
    recs.iter()
        .filter_map(|r| match r {
            Rec::Exited(e) if e.id() == id => Some(*e),
            _ => None,
        })
        .collect()
}

pub fn position(recs: &[Rec], f: impl Fn(&Rec) -> bool) -> usize {
    recs.iter().position(f).expect("event not found")
}

/// What /proc says of process `pid`, read by the library's own parser; `None`
/// once it is gone.
pub fn proc_entry(pid: u32) -> Option<procrun::procfs::ProcessEntry> {
    procrun::procfs::Procfs::with_root("/proc")
        .process(pid)
        .ok()
}

/// The state letter of a process from /proc, or None once it is gone.
pub fn proc_state(pid: u32) -> Option<char> {
    proc_entry(pid).map(|p| char::from(p.state().letter()))
}

/// Waits (with the watchdog) until `pid` is gone or a zombie.
pub fn wait_dead(pid: u32) {
    let deadline = Instant::now() + watchdog();
    while matches!(proc_state(pid), Some(s) if s != 'Z') {
        assert!(Instant::now() < deadline, "pid {pid} still alive");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `sig` (a name `kill` knows) to `pid` with kill(1), failing the
/// test if it could not be sent.
#[track_caller]
pub fn send_signal(pid: u32, sig: &str) {
    let st = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(st.success(), "kill -{sig} failed");
}

/// Waits (with the watchdog) for `child`, a process the test started
/// itself; past the watchdog it is killed and reaped, and the test fails
/// saying `what` did not end.
pub fn wait_child(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + watchdog();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("watchdog: {what} after {:?}", watchdog());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The name the test harness knows test `test` of module `module` (its
/// `module_path!()`) by, for a test that runs its own binary again on
/// itself alone (`--exact`): the module's path below the crate root, so
/// the same call names a test of a binary of its own and one folded into
/// `tests/suite`.
pub fn test_name(module: &str, test: &str) -> String {
    match module.split_once("::") {
        Some((_, below)) => format!("{below}::{test}"),
        None => test.to_owned(),
    }
}

/// The arguments that have this test binary run test `test` of module
/// `module` (its `module_path!()`) alone: `--exact` on its [`test_name`],
/// its output shown, on one thread.
pub fn alone(module: &str, test: &str) -> [String; 4] {
    [
        "--exact".to_owned(),
        test_name(module, test),
        "--nocapture".to_owned(),
        "--test-threads=1".to_owned(),
    ]
}

/// A xorshift64 generator from `seed` (made odd, so never zero): random
/// test data, the same for the same seed on every run.
pub fn xorshift64(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// A temporary file holding `data`, removed on drop.
pub fn temp_file(data: &[u8]) -> tempfile::NamedTempFile {
    use std::io::Write;
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(data).unwrap();
    f.flush().unwrap();
    f
}

/// Kills `pid` on drop, for processes a test leaves outside procrun's
/// reach on purpose (detached survivors).
pub struct KillOnDrop(pub u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Gone already is fine: the guard is for when it is not.
        let _ = std::process::Command::new("kill")
            .args(["-9", &self.0.to_string()])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Puts an executable copy of `src` at `dst` (mode 0755) through a child
/// process (`install`), never through a file this process opens for
/// writing: tests run on parallel threads, and a thread forking while the
/// copy's write fd is open hands that fd to its child until the child's
/// exec, so running the copy in that window fails with "Text file busy"
/// (ETXTBSY). The child's copy of the fd is gone once it is reaped.
pub fn install_executable(src: &std::path::Path, dst: &std::path::Path) {
    let st = std::process::Command::new("install")
        .args(["-m", "0755"])
        .arg(src)
        .arg(dst)
        .stdin(std::process::Stdio::null())
        .status()
        .expect("run install");
    assert!(st.success(), "install {src:?} {dst:?}: {st}");
}

/// Writes `bytes` as an executable file at `dst` (mode 0755), as
/// [`install_executable`] does: the bytes go to a file that is never run,
/// and the executable is made from it by another process.
pub fn write_executable(dst: &std::path::Path, bytes: &[u8]) {
    let staged = dst.with_extension("staged");
    std::fs::write(&staged, bytes).unwrap();
    install_executable(&staged, dst);
    std::fs::remove_file(&staged).unwrap();
}

/// Has `cmd` start with the signals the tests send (HUP, INT, TERM, QUIT,
/// ALRM, USR1, USR2) at their default actions. procrun keeps a signal that
/// was ignored when it started ignored (as shells do), and an ignored
/// disposition survives exec: a harness run under `nohup`, or as a
/// background job of a non-interactive shell, would hand procrun SIGHUP,
/// SIGINT or SIGQUIT ignored, and the tests that send them would wait for
/// nothing. Each procrun so started starts as from a terminal.
pub fn with_default_signals(cmd: &mut std::process::Command) -> &mut std::process::Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec only async-signal-safe calls are
    // allowed; `signal` is one, and it touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            for sig in [
                libc::SIGHUP,
                libc::SIGINT,
                libc::SIGTERM,
                libc::SIGQUIT,
                libc::SIGALRM,
                libc::SIGUSR1,
                libc::SIGUSR2,
            ] {
                libc::signal(sig, libc::SIG_DFL);
            }
            Ok(())
        })
    }
}
