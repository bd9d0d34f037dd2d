//! `procrun ps`: the host's processes, through the library's /proc scans.

use std::io::{self, BufWriter, Write};

use procrun::procfs::{ProcessEntry, Procfs, State};

use crate::failure::{describe, Failure};
use crate::flags::config::{PsArgs, PsFormat};

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
            format: PsFormat::Table,
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
            // procrun is never one of the matches, as `pgrep` and `pidof`
            // never report themselves: when its own comm is the name, the
            // others are looked for.
            let me = std::process::id();
            let running = if procfs.read_comm(me).is_ok_and(|c| comm_is_name(&c, name)) {
                let procs = procfs.processes_by_state().map_err(fail)?;
                procs.iter().any(|p| {
                    p.pid() != me
                        && !matches!(p.state(), State::Zombie | State::Dead)
                        && comm_is_name(p.comm(), name)
                })
            } else {
                procfs.is_running(name).map_err(fail)?
            };
            let word = if running { "running" } else { "not running" };
            (writeln!(out, "{name}: {word}"), u8::from(!running))
        }
        PsArgs {
            state,
            name,
            count,
            format,
            ..
        } => {
            let procs = procfs.processes_by_state().map_err(fail)?;
            let in_state = match state {
                Some(s) => procs.get(*s),
                None => procs.iter().as_slice(),
            };
            let me = std::process::id();
            // By name, procrun never lists itself, as `pgrep` never does:
            // `procrun ps --name proc` could otherwise never exit 1.
            let mut found: Vec<&ProcessEntry> = in_state
                .iter()
                .filter(|p| {
                    name.as_ref()
                        .map_or(true, |n| p.pid() != me && p.comm().contains(n.as_str()))
                })
                .collect();
            // By state first is how the scan groups them; a reader (and
            // `pgrep`) expects pid order.
            found.sort_by_key(|p| p.pid());
            let status = u8::from(name.is_some() && found.is_empty());
            let r = match (*count, format) {
                (true, _) => writeln!(out, "{}", found.len()),
                // Nothing at all for a name not found, as `pgrep`; JSON
                // still prints its empty array, which a parser expects.
                (false, PsFormat::Table) if status == 1 => Ok(()),
                (false, PsFormat::Table) => table(&mut out, found),
                (false, PsFormat::Pids) => {
                    found.iter().try_for_each(|p| writeln!(out, "{}", p.pid()))
                }
                (false, PsFormat::Json) => json(&mut out, found),
            };
            (r, status)
        }
    };
    match r.and_then(|()| out.flush()) {
        Ok(()) => Ok(status),
        // A reader that went away (`| head`) wanted no more.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(status),
        Err(e) => Err(Failure::Runtime(format!("ps: cannot write: {e}"))),
    }
}

/// The library's rule for an exact name (`Procfs::is_running`): the comm
/// is the name, or the 15 bytes the kernel keeps of a longer one.
fn comm_is_name(comm: &str, name: &str) -> bool {
    const COMM_MAX: usize = 15;
    comm == name || (comm.len() == COMM_MAX && name.len() > COMM_MAX && name.starts_with(comm))
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

/// One object per line inside the array, so that `grep` still works on it.
fn json<'a>(
    out: &mut impl Write,
    procs: impl IntoIterator<Item = &'a ProcessEntry>,
) -> io::Result<()> {
    let mut sep = "[\n";
    for p in procs {
        write!(
            out,
            "{sep}  {{\"pid\": {}, \"state\": {}, \"comm\": {}}}",
            p.pid(),
            JsonStr(p.state().as_str()),
            JsonStr(p.comm())
        )?;
        sep = ",\n";
    }
    match sep {
        "[\n" => writeln!(out, "[]"),
        _ => writeln!(out, "\n]"),
    }
}

/// A string as a JSON string literal (RFC 8259): quoted, with `"`, `\` and
/// the control characters escaped. A name is whatever a process set with
/// `prctl`, so every one of them can occur.
struct JsonStr<'a>(&'a str);

impl std::fmt::Display for JsonStr<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"")?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if u32::from(c) < 0x20 || c == '\u{7f}' => write!(f, "\\u{:04x}", u32::from(c))?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_quotes_backslashes_and_control_characters() {
        for (raw, want) in [
            ("plain", r#""plain""#),
            ("a\"b", r#""a\"b""#),
            ("a\\b", r#""a\\b""#),
            ("tab\there", r#""tab\there""#),
            ("nl\ncr\r", r#""nl\ncr\r""#),
            ("\u{1}\u{1f}\u{7f}", r#""\u0001\u001f\u007f""#),
            ("kworker/0:1-événements", "\"kworker/0:1-événements\""),
            ("", r#""""#),
        ] {
            assert_eq!(JsonStr(raw).to_string(), want, "{raw:?}");
        }
    }
}
