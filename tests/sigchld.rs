//! The host's `SIGCHLD`: ignored (`SIG_IGN`, or the `SA_NOCLDWAIT` flag),
//! it has the kernel reap every child at its exit, and with it the status.
//! A spawn then fails with a typed error; a disposition changed after the
//! spawn loses that run's status, reported as unknown, never as a code.
//!
//! A disposition is process-global state: each test runs its body in a
//! helper, this test binary started again with [`HELPER`] naming the
//! disposition, never in the shared test process. A helper asserts as it
//! goes and prints [`OK`] at its end; the test checks both.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use procrun::{Command, Error, Event, Process, Reactor, Restart};

/// Set in a helper's environment: the disposition it runs under (`ign`,
/// `nocldwait`).
const HELPER: &str = "PROCRUN_SIGCHLD_HELPER";
/// A helper's last line, once every assertion held.
const OK: &str = "sigchld helper ok";

/// Sets this process's `SIGCHLD` disposition: `dfl`, `ign` (`SIG_IGN`) or
/// `nocldwait` (`SIG_DFL` with `SA_NOCLDWAIT`). Only in a helper.
fn set_sigchld(how: &str) {
    assert!(std::env::var_os(HELPER).is_some(), "only a helper may");
    // SAFETY: a sigaction of zeroes is a valid value of the plain C
    // struct; the action installed is SIG_IGN or SIG_DFL, which run no
    // code of this process, and the old one is not asked for.
    let r = unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = match how {
            "ign" => libc::SIG_IGN,
            "dfl" | "nocldwait" => libc::SIG_DFL,
            _ => panic!("no disposition {how:?}"),
        };
        if how == "nocldwait" {
            act.sa_flags = libc::SA_NOCLDWAIT;
        }
        libc::sigaction(libc::SIGCHLD, &act, std::ptr::null_mut())
    };
    assert_eq!(r, 0, "sigaction: {}", std::io::Error::last_os_error());
}

/// Runs test `name` again in a helper with `HELPER=how`, with pidfds or
/// without (`PROCRUN_NO_PIDFD=1`), and checks that it got to its end.
fn in_helper(name: &str, how: &str, pidfd: bool) {
    let out = tempfile::NamedTempFile::new().unwrap();
    // One open file for both, so they share its offset.
    let file = out.reopen().unwrap();
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(HELPER, how)
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file);
    match pidfd {
        true => cmd.env_remove("PROCRUN_NO_PIDFD"),
        false => cmd.env("PROCRUN_NO_PIDFD", "1"),
    };
    let mut helper = cmd.spawn().unwrap();
    let status = wait_child(&mut helper, "the helper");
    let said = std::fs::read_to_string(out.path()).unwrap();
    assert!(
        status.success() && said.contains(OK),
        "helper {how} (pidfd {pidfd}) ended {status}:\n{said}"
    );
}

/// The disposition a helper runs under; `None` in the test process.
fn helper() -> Option<String> {
    std::env::var(HELPER).ok()
}

/// `sh -c 'exit 3'`: a status worth keeping.
fn exit_3() -> Command {
    sh("exit 3")
}

/// Under the disposition `how`: a spawn, a `Process` start and a restart
/// all fail with the typed error, and after `SIG_DFL` a spawn reports the
/// child's real status again.
fn spawn_refused_then_fine(how: &str) {
    let nocldwait = how == "nocldwait";
    let mut r = Reactor::new().unwrap();
    // A child that exits while SIGCHLD is still the default and restarts
    // after the disposition changed.
    let mut c = exit_3();
    c.restart(Restart::on_error().interval(Duration::from_millis(300)));
    let restarting = r.spawn(&c).unwrap();
    let mut recs = Vec::new();
    drive_until(&mut r, &mut recs, |rs| !exits_of(rs, restarting).is_empty());
    assert_eq!(exits_of(&recs, restarting)[0].code(), Some(3));
    set_sigchld(how);

    let e = r
        .spawn(&exit_3())
        .expect_err("spawned with SIGCHLD ignored");
    assert!(
        matches!(e, Error::SigchldIgnored { nocldwait: n } if n == nocldwait),
        "{e:?}"
    );
    let said = e.to_string();
    assert!(said.contains("set SIGCHLD to SIG_DFL"), "{said}");
    assert!(said.contains(if nocldwait { "SA_NOCLDWAIT" } else { "SIG_IGN" }));
    println!("spawn: {said}");

    let p = Process::builder().command(["true"]).build().unwrap();
    let e = p
        .start()
        .expect_err("a process started with SIGCHLD ignored");
    assert!(matches!(e, Error::SigchldIgnored { .. }), "{e:?}");

    let mut failed = None;
    let deadline = std::time::Instant::now() + watchdog();
    while failed.is_none() {
        assert!(std::time::Instant::now() < deadline, "watchdog: no restart");
        r.poll(Some(Duration::from_millis(200)), |_, ev| {
            if let Event::RestartFailed { id, error, .. } = ev {
                assert_eq!(id, restarting);
                failed = Some(error.to_string());
            }
        })
        .unwrap();
    }
    assert!(
        failed.as_deref().is_some_and(|f| f.contains("SIGCHLD")),
        "{failed:?}"
    );
    drive_all(&mut r);

    set_sigchld("dfl");
    let id = r.spawn(&exit_3()).unwrap();
    let exits = exits_of(&run_to_done(&mut r, id), id);
    assert_eq!(exits.len(), 1);
    assert_eq!(exits[0].code(), Some(3));
    assert!(!exits[0].status_lost());
    println!("{OK}");
}

/// Under `how`, set after the spawn: the kernel reaps the run, and its
/// exit says the status is lost, with no code and no signal.
fn status_lost_after_the_spawn(how: &str) {
    let mut r = Reactor::new().unwrap();
    let id = r.spawn(&sh("sleep 0.3; exit 3")).unwrap();
    set_sigchld(how);
    let exits = exits_of(&run_to_done(&mut r, id), id);
    let [e] = exits[..] else { panic!("{exits:?}") };
    assert!(e.status_lost(), "{e:?}");
    assert_eq!((e.code(), e.signal(), e.success()), (None, None, false));
    assert_eq!(
        (e.status().code(), e.status().signal()),
        (None, None),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "status unknown (reaped elsewhere)");
    set_sigchld("dfl");
    println!("{OK}");
}

#[test]
fn spawn_with_sigchld_ignored_is_a_typed_error_and_works_again_after_sig_dfl() {
    const NAME: &str = "spawn_with_sigchld_ignored_is_a_typed_error_and_works_again_after_sig_dfl";
    if let Some(how) = helper() {
        return spawn_refused_then_fine(&how);
    }
    for pidfd in [true, false] {
        in_helper(NAME, "ign", pidfd);
    }
}

#[test]
fn spawn_with_sa_nocldwait_is_a_typed_error_and_works_again_after_sig_dfl() {
    const NAME: &str = "spawn_with_sa_nocldwait_is_a_typed_error_and_works_again_after_sig_dfl";
    if let Some(how) = helper() {
        return spawn_refused_then_fine(&how);
    }
    for pidfd in [true, false] {
        in_helper(NAME, "nocldwait", pidfd);
    }
}

#[test]
fn sigchld_ignored_after_the_spawn_reports_the_status_unknown_never_a_code() {
    const NAME: &str = "sigchld_ignored_after_the_spawn_reports_the_status_unknown_never_a_code";
    if let Some(how) = helper() {
        return status_lost_after_the_spawn(&how);
    }
    for how in ["ign", "nocldwait"] {
        for pidfd in [true, false] {
            in_helper(NAME, how, pidfd);
        }
    }
}
