//! The values of single options, checked as clap reads them (each
//! parser's error is the end of the line procrun prints): signals, sizes,
//! counts, percentages, `--name NAME=COMMAND` and process states. Durations
//! are `duration.rs`'s.

use std::ffi::OsString;

use procrun::procfs::State;
use procrun::{Resource, Signal};

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

/// One `--rlimit NAME=SOFT[:HARD]`, as systemd's `LimitNAME=`: one value
/// sets both limits; `infinity` (or `unlimited`) is no limit.
pub fn parse_rlimit(s: &str) -> Result<(Resource, u64, u64), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or("not NAME=SOFT[:HARD] (such as NOFILE=1024 or NOFILE=1024:4096)")?;
    let resource: Resource = name.parse().map_err(|_| {
        let names: Vec<&str> = Resource::ALL.iter().map(|r| r.name()).collect();
        format!("no resource limit {name:?} (one of {})", names.join(", "))
    })?;
    let number = |v: &str| -> Result<u64, String> {
        match v {
            "infinity" | "unlimited" => Ok(u64::MAX),
            _ => v
                .parse()
                .map_err(|_| format!("{v:?} is not a number or 'infinity'")),
        }
    };
    let (soft, hard) = match value.split_once(':') {
        Some((soft, hard)) => (number(soft)?, number(hard)?),
        None => {
            let both = number(value)?;
            (both, both)
        }
    };
    if soft > hard {
        return Err(format!(
            "the soft limit {soft} is above the hard limit {hard}"
        ));
    }
    Ok((resource, soft, hard))
}

/// A umask in octal, as `umask` takes it (`027`, `0027`).
pub fn parse_umask(s: &str) -> Result<u32, String> {
    match u32::from_str_radix(s, 8) {
        Ok(m) if m <= 0o777 => Ok(m),
        _ => Err("not an octal mask of at most 0777 (such as 027)".into()),
    }
}

/// A nice value, -20 to 19.
pub fn parse_nice(s: &str) -> Result<i32, String> {
    match s.parse::<i32>() {
        Ok(n) if (-20..=19).contains(&n) => Ok(n),
        _ => Err("not a nice value from -20 to 19".into()),
    }
}

/// An `oom_score_adj`, -1000 to 1000.
pub fn parse_oom_score_adj(s: &str) -> Result<i32, String> {
    match s.parse::<i32>() {
        Ok(n) if (-1000..=1000).contains(&n) => Ok(n),
        _ => Err("not a value from -1000 to 1000".into()),
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
