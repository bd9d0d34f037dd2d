//! The values of single options, checked as clap reads them (each
//! parser's error is the end of the line procrun prints): signals, sizes,
//! counts, percentages, `--name NAME=COMMAND` and process states. Durations
//! are `duration.rs`'s.

use std::ffi::OsString;

use procrun::procfs::State;
use procrun::Signal;

/// One `--name NAME=COMMAND`.
#[derive(Clone, Debug, PartialEq)]
pub struct Named {
    pub name: String,
    pub command: OsString,
}

/// A signal as `kill` names it, or `0`: nothing but the `SIGCONT` every
/// stop sends after its signal (coreutils `timeout -s 0` sends signal 0,
/// which is nothing, then `SIGCONT` too), so that the stop is the SIGKILL
/// at the end of the grace.
pub fn parse_signal(s: &str) -> Result<Signal, String> {
    if s == "0" {
        return Ok(Signal::CONT);
    }
    s.parse().map_err(|e: procrun::UnknownSignal| e.to_string())
}

pub fn parse_max_line(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("not a number of bytes".into()),
    }
}

/// Bytes, with an optional binary suffix (`512M`, `2G`), as systemd's
/// `MemoryMax=` takes them.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (digits, shift) = match s.as_bytes().last() {
        Some(b'K' | b'k') => (&s[..s.len() - 1], 10),
        Some(b'M' | b'm') => (&s[..s.len() - 1], 20),
        Some(b'G' | b'g') => (&s[..s.len() - 1], 30),
        Some(b'T' | b't') => (&s[..s.len() - 1], 40),
        _ => (s, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| "not a size (BYTES, or a number with K, M, G or T)".to_string())?;
    let bytes = n
        .checked_mul(1 << shift)
        .ok_or_else(|| "too large".to_string())?;
    if bytes == 0 {
        return Err("must be at least 1 byte".into());
    }
    Ok(bytes)
}

pub fn parse_pids(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("not a number".into()),
    }
}

/// A whole percentage of one CPU, `%` optional; at least 1 (the kernel's
/// smallest quota is 1 ms of a 100 ms period).
pub fn parse_percent(s: &str) -> Result<u32, String> {
    match s.strip_suffix('%').unwrap_or(s).parse::<u32>() {
        Ok(0) => Err("must be at least 1%".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("not a percentage (such as 50%)".into()),
    }
}

pub fn parse_named(v: &str) -> Result<Named, String> {
    match v.split_once('=') {
        Some((name, command)) if !name.is_empty() && !command.is_empty() => Ok(Named {
            name: name.to_owned(),
            command: command.into(),
        }),
        _ => Err("not NAME=COMMAND".into()),
    }
}

/// A state by its name (as `ps` prints it) or its `/proc/PID/stat` letter.
pub fn parse_state(s: &str) -> Result<State, String> {
    Ok(match s {
        "running" | "R" => State::Running,
        "sleep" | "sleeping" | "S" => State::Sleeping,
        "blocked" | "disk-sleep" | "D" => State::DiskSleep,
        "idle" | "I" => State::Idle,
        "stop" | "stopped" | "T" => State::Stopped,
        "tracing-stop" | "tracing stop" | "t" => State::TracingStop,
        "zombie" | "Z" => State::Zombie,
        "dead" | "X" => State::Dead,
        "parked" | "P" => State::Parked,
        _ => {
            return Err(
                "one of running, sleep, blocked, idle, stop, tracing-stop, zombie, \
                        dead, parked"
                    .into(),
            )
        }
    })
}
