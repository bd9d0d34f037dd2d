//! What a run's `execve` is given that the command alone does not say: the
//! child's whole environment, and the program's path looked up on the
//! child's `PATH`, as `execvp` would.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::Spec;
use crate::error::{Error, Result};

/// `PATH` when the child's environment has none, as `execvp` assumes.
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// The child's whole environment: procrun's own (unless cleared), then the
/// command's changes in the order given.
///
/// Read at every spawn (the host may change its environment at any time),
/// so built with one allocation per entry: each `KEY=VALUE` sized exactly,
/// its NUL included.
pub(super) fn environment(spec: &Spec) -> Vec<CString> {
    let mut vars: Vec<CString> = Vec::new();
    if !spec.env_clear {
        let own = std::env::vars_os();
        vars.reserve_exact(own.size_hint().0 + spec.env.len());
        for (k, v) in own {
            let (k, v) = (k.as_bytes(), v.as_bytes());
            let mut entry = Vec::with_capacity(k.len() + v.len() + 2);
            entry.extend_from_slice(k);
            entry.push(b'=');
            entry.extend_from_slice(v);
            // The kernel hands a process NUL-free strings: none is skipped.
            if let Ok(entry) = CString::new(entry) {
                vars.push(entry);
            }
        }
    }
    for (key, entry) in spec.env.iter() {
        // A command's key has no `=` (checked when prepared), so the
        // entry's key is this one exactly when `=` follows it.
        vars.retain(|e| {
            let e = e.as_bytes();
            !(e.starts_with(key) && e.get(key.len()) == Some(&b'='))
        });
        if let Some(entry) = entry {
            vars.push(entry.clone());
        }
    }
    vars
}

/// The program's path: as given when it holds a `/`, else the first
/// executable file of that name on the child's `PATH`. A name found only
/// where it cannot be executed (a directory, a file without an execute
/// bit, a directory that cannot be searched) is EACCES, as `execvp`
/// reports it, not "not found".
pub(super) fn find_program(spec: &Spec, envp: &[CString]) -> Result<CString> {
    let program = spec.program().as_bytes();
    if program.contains(&b'/') {
        return Ok(spec.program().clone());
    }
    let path = envp
        .iter()
        .find_map(|e| e.as_bytes().strip_prefix(b"PATH="))
        .unwrap_or(DEFAULT_PATH.as_bytes());
    let mut denied = false;
    for dir in path.split(|&b| b == b':') {
        // An empty entry is the current directory.
        let dir = if dir.is_empty() { &b"."[..] } else { dir };
        let candidate = Path::new(OsStr::from_bytes(dir)).join(OsStr::from_bytes(program));
        match is_executable(&candidate) {
            Ok(true) => {
                // Both parts come from NUL-free C strings, so this cannot
                // fail; if it did, the candidate would only be skipped.
                if let Ok(c) = CString::new(candidate.into_os_string().into_encoded_bytes()) {
                    return Ok(c);
                }
            }
            Ok(false) => denied = true,
            Err(e) => denied |= e.kind() == io::ErrorKind::PermissionDenied,
        }
    }
    if denied {
        return Err(Error::Spawn {
            program: spec.program_name(),
            source: io::Error::from_raw_os_error(libc::EACCES),
        });
    }
    Err(Error::ProgramNotFound {
        program: spec.program_name(),
    })
}

/// Whether `p` is an executable file; `Ok(false)` when it is there but
/// is not one, the error when it cannot be looked at.
fn is_executable(p: &Path) -> io::Result<bool> {
    std::fs::metadata(p).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
