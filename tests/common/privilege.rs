//! A setuid-root program and an unprivileged run, for the tests of a child
//! that makes itself root under a procrun that is not.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::watchdog;

pub const PROGRAM: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (setuid(0) != 0) { perror("setuid"); return 1; }
    printf("%d\n", getpid());
    fflush(stdout);
    if (argc > 1) sleep(atoi(argv[1]));
    return 7;
}
"#;

pub fn have(tool: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether this machine can run the tests as they mean to.
pub fn can_run() -> bool {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root to make a setuid-root program");
        return false;
    }
    if !have("cc") || !have("setpriv") {
        eprintln!("skipped: needs cc and setpriv");
        return false;
    }
    true
}

/// A world-readable directory holding the setuid-root program.
pub fn setuid_program() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let src = dir.path().join("setuid.c");
    std::fs::write(&src, PROGRAM).unwrap();
    let program = dir.path().join("setuid");
    let built = std::process::Command::new("cc")
        .arg("-o")
        .arg(&program)
        .arg(&src)
        .status()
        .unwrap();
    assert!(built.success(), "cc failed");
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o4755)).unwrap();
    (dir, program)
}

/// A copy of `binary` in `dir` that uid 65534 can run.
pub fn reachable_copy(dir: &Path, binary: &Path) -> PathBuf {
    let copy = dir.join(binary.file_name().unwrap());
    super::install_executable(binary, &copy);
    copy
}

/// `binary` run as uid and gid 65534, from its own directory.
pub fn unprivileged(binary: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(binary)
        .current_dir(binary.parent().unwrap());
    cmd
}

/// Runs `cmd` to its end (killed at the watchdog): status, stdout, stderr.
pub fn run_with_watchdog(
    mut cmd: std::process::Command,
) -> (std::process::ExitStatus, String, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read on threads, so a chatty child never blocks on a full pipe.
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || std::io::read_to_string(out).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(err).unwrap_or_default());
    let deadline = Instant::now() + watchdog();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("watchdog: the unprivileged run did not end");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status, out.join().unwrap(), err.join().unwrap())
}
