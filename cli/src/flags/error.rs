//! clap's errors as the one line procrun prints for bad usage.

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::CommandFactory;

use crate::flags::defs::CommandLine;

/// clap's error on one line: its first line, what it lists (possible
/// values), and its suggestion as `did you mean X?`; never the usage block
/// and tips clap adds below, so that a script reading stderr gets one line
/// per failure, as from `timeout` or `env`.
pub fn one_line(e: &clap::Error, args: &[OsString]) -> String {
    let sub = args
        .first()
        .and_then(|a| a.to_str())
        .filter(|a| CommandLine::command().find_subcommand(a).is_some());
    if let Some(msg) = sub.and_then(|s| one_dash_long_flag(s, args)) {
        return msg;
    }
    let rendered = e.render().to_string();
    let mut parts: Vec<&str> = Vec::new();
    for line in rendered.lines() {
        let line = line.trim();
        if line.starts_with("Usage:") || line.starts_with("For more information") {
            break;
        }
        if line.is_empty() || line.starts_with("tip:") {
            continue;
        }
        let line = line.strip_prefix("error: ").unwrap_or(line);
        // `[possible values: a, b]` reads as a clause of the line.
        let line = line
            .strip_prefix('[')
            .and_then(|l| l.strip_suffix(']'))
            .unwrap_or(line);
        parts.push(line);
    }
    // A line ending in ':' introduces the next ("not provided: --cgroup").
    let mut msg = String::new();
    for part in parts {
        if !msg.is_empty() {
            msg.push_str(if msg.ends_with(':') { " " } else { "; " });
        }
        msg.push_str(part);
    }
    let suggested = [
        ContextKind::SuggestedArg,
        ContextKind::SuggestedSubcommand,
        ContextKind::SuggestedValue,
    ]
    .into_iter()
    .find_map(|k| match e.get(k) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        _ => None,
    });
    if let Some(near) = suggested {
        msg.push_str(&format!("; did you mean {near}?"));
    }
    let help = match sub {
        Some(s) => format!("procrun {s} --help"),
        None => "procrun --help".into(),
    };
    if matches!(
        e.kind(),
        ErrorKind::UnknownArgument | ErrorKind::InvalidSubcommand | ErrorKind::MissingSubcommand
    ) {
        msg.push_str(&format!(" (see '{help}')"));
    }
    match sub {
        Some(s) => format!("{s}: {msg}"),
        None => msg,
    }
}

/// `-timeout` is `--timeout` with a dash missing, though clap reads it as
/// `-t imeout`: the message names the flag meant. Only procrun's options
/// are looked at: the walk stops at `--` or at the first argument that is
/// neither an option nor an option's value, where the program and its own
/// options (`find . -name x`) begin.
fn one_dash_long_flag(sub: &str, args: &[OsString]) -> Option<String> {
    let cmd = CommandLine::command();
    let sc = cmd.find_subcommand(sub)?;
    // Whether the option's value may be the next argument: not for one
    // whose value must follow `=` (`--timestamps[=WHEN]`), or that may
    // come without one.
    let takes_value = |arg: &clap::Arg| {
        arg.get_action().takes_values()
            && !arg.is_require_equals_set()
            && arg.get_num_args().map_or(true, |n| n.min_values() > 0)
    };
    let mut rest = args.iter().skip(1);
    while let Some(a) = rest.next() {
        // Not UTF-8: no option of procrun's, so the program.
        let a = a.to_str()?;
        if a == "--" || !a.starts_with('-') || a == "-" {
            return None;
        }
        if let Some(long) = a.strip_prefix("--") {
            let value_next = !long.contains('=')
                && sc
                    .get_arguments()
                    .any(|arg| arg.get_long() == Some(long) && takes_value(arg));
            if value_next {
                rest.next();
            }
            continue;
        }
        if a.len() > 2 {
            let long = a[1..].split('=').next()?;
            if sc.get_arguments().any(|arg| arg.get_long() == Some(long)) {
                return Some(format!(
                    "{sub}: unknown option '{a}'; did you mean --{long}?"
                ));
            }
        }
        // `-t 5s` (value next) or `-t5s` (value attached).
        let short = a[1..].chars().next()?;
        let value_next = a[1..].chars().count() == 1
            && sc
                .get_arguments()
                .any(|arg| arg.get_short() == Some(short) && takes_value(arg));
        if value_next {
            rest.next();
        }
    }
    None
}
