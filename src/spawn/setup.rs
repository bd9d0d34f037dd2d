//! The settings a child gets before its exec ([`Setup`]), checked and put
//! in the kernel's units ([`ChildSetup`]) once, when the command is
//! prepared.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

use crate::command::Setup;
use crate::error::{Error, Result};
use crate::sys::{rlimit_resource, ChildSetup};

/// The kernel's `NGROUPS_MAX`: `setgroups` refuses longer lists.
const NGROUPS_MAX: usize = 65_536;

/// `setup` checked, with the working directory (checked already), or
/// `None` when they ask for nothing.
pub(crate) fn prepare(setup: &Setup, cwd: Option<CString>) -> Result<Option<Box<ChildSetup>>> {
    let Setup {
        arg0,
        uid,
        gid,
        groups,
        rlimits,
        umask,
        nice,
        oom_score_adj,
        no_new_privs,
        fds,
    } = setup;
    let arg0 = match arg0 {
        Some(a) => Some(CString::new(a.as_bytes()).map_err(|_| Error::NulByte {
            what: "arg0",
            value: a.to_string_lossy().into_owned(),
        })?),
        None => None,
    };
    if groups.as_ref().is_some_and(|g| g.len() > NGROUPS_MAX) {
        return Err(invalid(format!(
            "at most {NGROUPS_MAX} supplementary groups can be set"
        )));
    }
    let mut limits: Vec<(libc::c_int, u64, u64)> = Vec::with_capacity(rlimits.len());
    for &(resource, soft, hard) in rlimits {
        if soft > hard {
            return Err(invalid(format!(
                "the soft limit of {resource} ({soft}) is above its hard limit ({hard})"
            )));
        }
        let raw = rlimit_resource(resource.name()).expect("every Resource is a Linux limit");
        // systemd's LimitX= too: the last setting of a resource counts.
        limits.retain(|&(r, _, _)| r != raw);
        limits.push((raw, soft, hard));
    }
    if umask.is_some_and(|m| m > 0o777) {
        return Err(invalid(format!(
            "umask {:#o} has bits above 0o777",
            umask.unwrap_or(0)
        )));
    }
    if let Some(n) = nice.filter(|n| !(-20..=19).contains(n)) {
        return Err(invalid(format!("nice {n} is outside -20..=19")));
    }
    let oom_score_adj = match *oom_score_adj {
        Some(adj) if !(-1000..=1000).contains(&adj) => {
            return Err(invalid(format!(
                "oom_score_adj {adj} is outside -1000..=1000"
            )))
        }
        Some(adj) => {
            // Formatted here: the child may not allocate.
            let text = adj.to_string();
            let mut bytes = [0u8; 8];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            Some((bytes, text.len()))
        }
        None => None,
    };
    for (i, (_, target)) in fds.iter().enumerate() {
        if *target < 3 {
            return Err(invalid(format!(
                "fd {target} cannot be passed: 0, 1 and 2 are the child's stdio \
                 (Command::stdin, stdout, stderr) and numbers are not negative"
            )));
        }
        if fds[..i].iter().any(|(_, t)| t == target) {
            return Err(invalid(format!("two fds passed as fd {target}")));
        }
    }
    let prepared = ChildSetup {
        cwd,
        arg0,
        groups: groups.clone(),
        gid: *gid,
        uid: *uid,
        rlimits: limits,
        umask: *umask,
        nice: *nice,
        oom_score_adj,
        no_new_privs: *no_new_privs,
        fds: fds.clone(),
    };
    let any = prepared.cwd.is_some() || prepared.arg0.is_some() || prepared.needs_fork();
    Ok(any.then(|| Box::new(prepared)))
}

fn invalid(reason: String) -> Error {
    Error::InvalidCommand { reason }
}
