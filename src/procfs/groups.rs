//! Which process groups still have a member alive: how a stop sees the
//! end of a group it killed when `kill(2)` cannot tell, because zombies
//! answer it as the living do.

use std::path::Path;

use super::parse;
use super::scan::{Scan, DIRENT_BUF, STAT};
use super::{DEFAULT_ROOT, FILE_BUF};
use crate::error::Result;

/// Those of `groups` (process group ids) with a member under this
/// process's own `/proc` (never [`HOST_PROC`](super::HOST_PROC)'s: the
/// groups are of this pid namespace) that is neither a zombie nor dead.
/// A zombie did all it will do: it waits for its reaper, which is not
/// procrun for a member of a child's group.
///
/// # Errors
///
/// [`Error::Procfs`](crate::Error::Procfs) when `/proc` cannot be listed
/// or a stat file fails to read for a reason other than its process being
/// gone.
pub(crate) fn groups_alive(groups: &[u32]) -> Result<Vec<u32>> {
    let root = Path::new(DEFAULT_ROOT);
    let mut dirents = Vec::with_capacity(DIRENT_BUF);
    let mut scan = Scan::new(root, &mut dirents)?;
    let mut buf = [0u8; FILE_BUF];
    let mut alive = Vec::new();
    while let Some(pid) = scan.next()? {
        let Some(stat) = scan.read(&pid, STAT, &mut buf)? else {
            continue;
        };
        let (Ok(s), Some(pgrp)) = (parse::parse_stat(stat), parse::parse_pgrp(stat)) else {
            continue;
        };
        let dead = matches!(s.state, b'Z' | b'X' | b'x');
        if !dead && groups.contains(&pgrp) && !alive.contains(&pgrp) {
            alive.push(pgrp);
        }
    }
    Ok(alive)
}
