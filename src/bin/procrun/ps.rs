//! `procrun ps`: the host's processes, through the library's /proc scans.

use std::io::{self, BufWriter, Write};

use procrun::procfs::{ProcessEntry, Procfs};

use crate::args::PsArgs;
use crate::{describe, Failure};

/// Prints what `args` asks for; the exit status to leave with (1 when a
/// name was asked for and not found, as `pgrep` and `pidof`).
pub fn ps(args: PsArgs) -> Result<u8, Failure> {
    let procfs = Procfs::new();
    let fail = |e: procrun::Error| Failure::Runtime(format!("ps: {}", describe(&e)));
    let mut out = BufWriter::new(io::stdout().lock());
    let (r, status) = match &args {
        PsArgs {
            state: None,
            name: None,
            count: false,
            ..
        } => {
            let procs = procfs.processes_by_state().map_err(fail)?;
            let mut r = writeln!(out, "{:<14}{:>6}", "STATE", "COUNT");
            for (state, group) in procs.groups() {
                r = r.and_then(|()| writeln!(out, "{:<14}{:>6}", state.as_str(), group.len()));
            }
            if procs.unreadable() > 0 {
                r = r.and_then(|()| writeln!(out, "{:<14}{:>6}", "unreadable", procs.unreadable()));
            }
            r = r.and_then(|()| writeln!(out, "{:<14}{:>6}", "total", procs.len()));
            (r, 0)
        }
        PsArgs {
            state: None,
            name: None,
            count: true,
            ..
        } => (writeln!(out, "{}", procfs.count_pids().map_err(fail)?), 0),
        PsArgs {
            name: Some(name),
            exact: true,
            ..
        } => {
            let running = procfs.is_running(name).map_err(fail)?;
            let word = if running { "running" } else { "not running" };
            (writeln!(out, "{name}: {word}"), u8::from(!running))
        }
        PsArgs {
            state: None,
            name: Some(name),
            count: false,
            ..
        } => match procfs.find_by_name(name).map_err(fail)? {
            Some(p) => (table(&mut out, [&p]), 0),
            None => (Ok(()), 1),
        },
        PsArgs {
            state, name, count, ..
        } => {
            let procs = procfs.processes_by_state().map_err(fail)?;
            let in_state = match state {
                Some(s) => procs.get(*s),
                None => procs.iter().as_slice(),
            };
            let found: Vec<&ProcessEntry> = in_state
                .iter()
                .filter(|p| {
                    name.as_ref()
                        .map_or(true, |n| p.comm().contains(n.as_str()))
                })
                .collect();
            let status = u8::from(name.is_some() && found.is_empty());
            if *count {
                (writeln!(out, "{}", found.len()), status)
            } else {
                (table(&mut out, found), status)
            }
        }
    };
    match r.and_then(|()| out.flush()) {
        Ok(()) => Ok(status),
        // A reader that went away (`| head`) wanted no more.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(status),
        Err(e) => Err(Failure::Runtime(format!("ps: cannot write: {e}"))),
    }
}

fn table<'a>(
    out: &mut impl Write,
    procs: impl IntoIterator<Item = &'a ProcessEntry>,
) -> io::Result<()> {
    writeln!(out, "{:>7}  {:<12}  COMM", "PID", "STATE")?;
    for p in procs {
        writeln!(
            out,
            "{:>7}  {:<12}  {}",
            p.pid(),
            p.state().as_str(),
            p.comm()
        )?;
    }
    Ok(())
}
