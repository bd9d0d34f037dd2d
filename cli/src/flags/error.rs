//! clap's errors as the one line procrun prints for bad usage: built from
//! each error's kind and the context clap records with it (the argument,
//! the value, the values it takes, a near name), never from the text clap
//! renders, which any clap release may reword.

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::CommandFactory;

use crate::flags::defs::CommandLine;

/// clap's error on one line: what went wrong, what it lists (possible
/// values) and its suggestion as `did you mean X?`; never the usage block
/// and tips clap adds below, so that a script reading stderr gets one line
/// per failure, as from `timeout` or `env`.
///
/// Built from the error's kind and context, never from the text clap
/// renders: that text is clap's to reword in any release.
pub fn one_line(e: &clap::Error, args: &[OsString]) -> String {
    let sub = args
        .first()
        .and_then(|a| a.to_str())
        .filter(|a| CommandLine::command().find_subcommand(a).is_some());
    if let Some(msg) = sub.and_then(|s| one_dash_long_flag(s, args)) {
        return msg;
    }
    let mut msg = what_went_wrong(e).unwrap_or_else(|| kind_alone(e));
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

/// What went wrong, from the kinds of error procrun's definition can give
/// and the context clap records with each; `None` for any other kind, or
/// when the context lacks what the line names.
fn what_went_wrong(e: &clap::Error) -> Option<String> {
    let arg = || text(e, ContextKind::InvalidArg);
    let value = || text(e, ContextKind::InvalidValue);
    Some(match e.kind() {
        ErrorKind::UnknownArgument => format!("unexpected argument '{}' found", arg()?),
        ErrorKind::InvalidSubcommand => format!(
            "unrecognized subcommand '{}'",
            text(e, ContextKind::InvalidSubcommand)?
        ),
        ErrorKind::InvalidValue => {
            let (arg, value) = (arg()?, value()?);
            let mut msg = if value.is_empty() {
                format!("a value is required for '{arg}' but none was supplied")
            } else {
                format!("invalid value '{value}' for '{arg}'")
            };
            if let Some(ContextValue::Strings(valid)) = e.get(ContextKind::ValidValue) {
                // Listed bare: none of procrun's possible values holds a
                // space that would need quotes.
                if !valid.is_empty() {
                    msg.push_str(&format!("; possible values: {}", valid.join(", ")));
                }
            }
            msg
        }
        ErrorKind::ValueValidation => {
            let mut msg = format!("invalid value '{}' for '{}'", value()?, arg()?);
            // Why the option's value parser refused it.
            if let Some(why) = std::error::Error::source(e) {
                msg.push_str(&format!(": {why}"));
            }
            msg
        }
        ErrorKind::TooManyValues => format!(
            "unexpected value '{}' for '{}' found; no more were expected",
            value()?,
            arg()?
        ),
        ErrorKind::ArgumentConflict => {
            let arg = arg()?;
            match e.get(ContextKind::PriorArg) {
                Some(ContextValue::String(prior)) if *prior == arg => {
                    format!("the argument '{arg}' cannot be used multiple times")
                }
                Some(ContextValue::String(prior)) => {
                    format!("the argument '{arg}' cannot be used with '{prior}'")
                }
                Some(ContextValue::Strings(prior)) => format!(
                    "the argument '{arg}' cannot be used with: {}",
                    prior.join("; ")
                ),
                _ => format!(
                    "the argument '{arg}' cannot be used with one or more of the other \
                     specified arguments"
                ),
            }
        }
        ErrorKind::MissingRequiredArgument => match e.get(ContextKind::InvalidArg)? {
            ContextValue::Strings(missing) => format!(
                "the following required arguments were not provided: {}",
                missing.join("; ")
            ),
            _ => return None,
        },
        _ => return None,
    })
}

/// The one fallback, when `what_went_wrong` has nothing: clap's own
/// description of the kind, which names no argument. clap records none
/// for bad UTF-8 (`InvalidUtf8`); the other kinds that land here
/// (`NoEquals`, `TooFewValues`, `WrongNumberOfValues`,
/// `MissingSubcommand`) procrun's definition cannot give: the one option
/// whose value must follow `=` (`--timestamps`) may come without a value,
/// none takes several values, and no subcommand has subcommands.
fn kind_alone(e: &clap::Error) -> String {
    match (e.kind().as_str(), std::error::Error::source(e)) {
        (Some(what), _) => what.to_owned(),
        (None, Some(why)) => why.to_string(),
        (None, None) => format!("bad usage ({:?})", e.kind()),
    }
}

/// A context value that is one string.
fn text(e: &clap::Error, kind: ContextKind) -> Option<&str> {
    match e.get(kind)? {
        ContextValue::String(s) => Some(s),
        _ => None,
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

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStringExt;

    use clap::Parser;

    use super::*;

    /// The line procrun prints (after `procrun: `) for `args`.
    fn line(args: &[&str]) -> String {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        line_os(&args)
    }

    fn line_os(args: &[OsString]) -> String {
        let argv = std::iter::once(OsString::from("procrun")).chain(args.iter().cloned());
        let e = CommandLine::try_parse_from(argv).expect_err("a bad line");
        one_line(&e, args)
    }

    /// An error as clap makes it, but with other words: the line must not
    /// change, whatever clap says in its rendered text.
    fn reworded(kind: ErrorKind, context: &[(ContextKind, ContextValue)]) -> clap::Error {
        let mut e = clap::Error::raw(kind, "wording of another clap release\n");
        for (k, v) in context {
            e.insert(*k, v.clone());
        }
        e
    }

    fn s(v: &str) -> ContextValue {
        ContextValue::String(v.into())
    }

    fn list(v: &[&str]) -> ContextValue {
        ContextValue::Strings(v.iter().map(|&v| v.into()).collect())
    }

    #[test]
    fn lines_come_from_the_kind_and_context_never_from_clap_s_wording() {
        use ContextKind::*;
        let run = [OsString::from("run")];
        for (e, args, want) in [
            (
                reworded(
                    ErrorKind::UnknownArgument,
                    &[(InvalidArg, s("--timout")), (SuggestedArg, s("--timeout"))],
                ),
                &run[..],
                "run: unexpected argument '--timout' found; did you mean --timeout? \
                 (see 'procrun run --help')",
            ),
            (
                reworded(
                    ErrorKind::InvalidSubcommand,
                    &[
                        (InvalidSubcommand, s("strat")),
                        (SuggestedSubcommand, list(&["start"])),
                    ],
                ),
                &[],
                "unrecognized subcommand 'strat'; did you mean start? (see 'procrun --help')",
            ),
            (
                reworded(
                    ErrorKind::InvalidValue,
                    &[
                        (InvalidArg, s("--restart <WHEN>")),
                        (InvalidValue, s("alway")),
                        (ValidValue, list(&["on-error", "always"])),
                        (SuggestedValue, s("always")),
                    ],
                ),
                &run,
                "run: invalid value 'alway' for '--restart <WHEN>'; \
                 possible values: on-error, always; did you mean always?",
            ),
            (
                reworded(
                    ErrorKind::InvalidValue,
                    &[
                        (InvalidArg, s("--timeout <DURATION>")),
                        (InvalidValue, s("")),
                    ],
                ),
                &run,
                "run: a value is required for '--timeout <DURATION>' but none was supplied",
            ),
            (
                reworded(
                    ErrorKind::ValueValidation,
                    &[
                        (InvalidArg, s("--timeout <DURATION>")),
                        (InvalidValue, s("3x")),
                    ],
                ),
                &run,
                "run: invalid value '3x' for '--timeout <DURATION>'",
            ),
            (
                reworded(
                    ErrorKind::TooManyValues,
                    &[(InvalidArg, s("--quiet")), (InvalidValue, s("yes"))],
                ),
                &run,
                "run: unexpected value 'yes' for '--quiet' found; no more were expected",
            ),
            (
                reworded(
                    ErrorKind::ArgumentConflict,
                    &[(InvalidArg, s("--quiet")), (PriorArg, s("--quiet"))],
                ),
                &run,
                "run: the argument '--quiet' cannot be used multiple times",
            ),
            (
                reworded(
                    ErrorKind::ArgumentConflict,
                    &[
                        (InvalidArg, s("--script <FILE>")),
                        (PriorArg, s("[PROGRAM]...")),
                    ],
                ),
                &run,
                "run: the argument '--script <FILE>' cannot be used with '[PROGRAM]...'",
            ),
            (
                reworded(
                    ErrorKind::ArgumentConflict,
                    &[
                        (InvalidArg, s("--script <FILE>")),
                        (PriorArg, list(&["--name <NAME=COMMAND>", "[PROGRAM]..."])),
                    ],
                ),
                &run,
                "run: the argument '--script <FILE>' cannot be used with: \
                 --name <NAME=COMMAND>; [PROGRAM]...",
            ),
            (
                reworded(
                    ErrorKind::MissingRequiredArgument,
                    &[(InvalidArg, list(&["--cgroup <PARENT>", "<SHELL>"]))],
                ),
                &run,
                "run: the following required arguments were not provided: \
                 --cgroup <PARENT>; <SHELL>",
            ),
        ] {
            assert_eq!(one_line(&e, args), want);
        }
    }

    /// The lines of each kind procrun's definition can give, as printed
    /// before they were built from the context (with clap 4.6's rendered
    /// text, scraped).
    #[test]
    fn each_kind_of_bad_line_prints_as_before() {
        for (args, want) in [
            (
                &["--bogus"][..],
                "unexpected argument '--bogus' found (see 'procrun --help')",
            ),
            (
                &["strat"],
                "unrecognized subcommand 'strat'; did you mean start? (see 'procrun --help')",
            ),
            (
                &["run", "--kill-afer", "1s", "--", "true"],
                "run: unexpected argument '--kill-afer' found; did you mean --kill-after? \
                 (see 'procrun run --help')",
            ),
            (
                &["run", "-timeout=1s", "--", "true"],
                "run: unknown option '-timeout=1s'; did you mean --timeout?",
            ),
            (
                &["run", "--restart-limit", "-1", "--", "true"],
                "run: unexpected argument '-1' found (see 'procrun run --help')",
            ),
            (
                &["ps", "extra"],
                "ps: unexpected argument 'extra' found (see 'procrun ps --help')",
            ),
            (
                &["run", "--timeout", "1M", "--", "true"],
                "run: invalid value '1M' for '--timeout <DURATION>': bad duration '1M': \
                 'M' would be months; write minutes as 'm', days as 'd'",
            ),
            (
                &["run", "--restart-limit", "99999999999", "--", "true"],
                "run: invalid value '99999999999' for '--restart-limit <N>': \
                 99999999999 is not in 0..=4294967295",
            ),
            (
                &["run", "--timeout"],
                "run: a value is required for '--timeout <DURATION>' but none was supplied",
            ),
            (
                &["run", "--timestamps=", "--", "true"],
                "run: a value is required for '--timestamps[=<WHEN>]' but none was supplied; \
                 possible values: elapsed, wall",
            ),
            (
                &["run", "--colour", "nevr", "--", "true"],
                "run: invalid value 'nevr' for '--color <WHEN>'; \
                 possible values: auto, always, never; did you mean never?",
            ),
            (
                &["man", "bogus"],
                "man: invalid value 'bogus' for '[COMMAND]'; \
                 possible values: run, start, ps, completions, man",
            ),
            (
                &["run", "--backoff=1", "--", "true"],
                "run: unexpected value '1' for '--backoff' found; no more were expected",
            ),
            (
                &["run", "-qq", "--", "true"],
                "run: the argument '--quiet' cannot be used multiple times",
            ),
            (
                &["run", "--memory-max", "1G", "--", "true"],
                "run: the following required arguments were not provided: --cgroup <PARENT>",
            ),
            (
                &["completions"],
                "completions: the following required arguments were not provided: <SHELL>",
            ),
        ] {
            assert_eq!(line(args), want, "{args:?}");
        }
        // clap names no argument for bad UTF-8: the line says what it can.
        let bad = [
            OsString::from("run"),
            OsString::from("--timeout"),
            OsString::from_vec(vec![0xff]),
        ];
        assert_eq!(
            line_os(&bad),
            "run: invalid UTF-8 was detected in one or more arguments"
        );
    }
}
