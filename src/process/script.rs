//! Bash scripts: built from commands or given whole, run from a temp file
//! or from memory.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tempfile::TempPath;

use crate::error::{Error, Result};
use crate::sys;

/// The header of a script built from commands: fail on the first error,
/// on an unset variable and inside pipelines.
pub const SCRIPT_HEADER: &str = "set -o pipefail\nset -o nounset\nset -o errexit\n";

/// The default file-name pattern of script files; `*` is replaced by a
/// random part.
pub const DEFAULT_SCRIPT_PATTERN: &str = "procrun-*.bash";

/// Quotes `arg` for bash so it reaches the command as one word, unchanged.
/// A NUL cannot be carried: bash drops it, so a script holding one is
/// [`Error::NulByte`](crate::Error::NulByte) at
/// [`ProcessBuilder::build`](crate::ProcessBuilder::build).
///
/// # Examples
///
/// ```
/// use procrun::shell_quote;
/// assert_eq!(shell_quote("plain-word_1.0"), "plain-word_1.0");
/// assert_eq!(shell_quote("it's $HOME"), r"'it'\''s $HOME'");
/// assert_eq!(shell_quote(""), "''");
/// ```
pub fn shell_quote(arg: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=+,@%".contains(c);
    if !arg.is_empty() && arg.chars().all(safe) {
        return arg.to_owned();
    }
    let mut s = String::with_capacity(arg.len() + 2);
    s.push('\'');
    for c in arg.chars() {
        if c == '\'' {
            s.push_str(r"'\''");
        } else {
            s.push(c);
        }
    }
    s.push('\'');
    s
}

/// Joins commands into a script after [`SCRIPT_HEADER`]. A command of one
/// element is a shell line used as written; a command of several elements
/// is a program and its arguments, each quoted.
pub(crate) fn from_commands(commands: &[Vec<String>]) -> String {
    let mut s = String::from(SCRIPT_HEADER);
    for c in commands {
        if c.len() == 1 {
            s.push_str(&c[0]);
        } else {
            let words: Vec<String> = c.iter().map(|w| shell_quote(w)).collect();
            s.push_str(&words.join(" "));
        }
        s.push('\n');
    }
    s
}

/// [`Error::NulByte`] for a NUL in a word of the commands of a script:
/// bash drops every NUL it reads, so the command would run silently with
/// other words than the ones given (`a\0b` as `ab`), where a plain command
/// gets the error from `execve`'s C strings. `what` is `"program"` or
/// `"argument"` for a quoted word, `"script line"` for a one-element
/// command (a shell line used as written).
pub(crate) fn check_commands(commands: &[Vec<String>]) -> Result<()> {
    for c in commands {
        for (i, word) in c.iter().enumerate() {
            if word.contains('\0') {
                let what = match (c.len(), i) {
                    (1, _) => "script line",
                    (_, 0) => "program",
                    _ => "argument",
                };
                return Err(Error::NulByte {
                    what,
                    value: word.clone(),
                });
            }
        }
    }
    Ok(())
}

/// [`Error::NulByte`] (`what` `"script"`, the value the line holding it)
/// for a NUL in script contents, which bash would drop just as silently.
/// Only that line is named: a script can be long, and carry secrets.
pub(crate) fn check_contents(script: &str) -> Result<()> {
    match script.split('\n').find(|l| l.contains('\0')) {
        Some(line) => Err(Error::NulByte {
            what: "script",
            value: line.to_owned(),
        }),
        None => Ok(()),
    }
}

/// Writes `script` to a new file in `dir` named by `pattern`, mode 0600:
/// bash opens it as an argument and never execs it, so nobody needs the
/// execute bit, and nobody but the owner may read what it holds (a script
/// can carry secrets). The file is removed when the returned path is
/// dropped.
pub(crate) fn write_file(script: &str, dir: &Path, pattern: &str) -> Result<TempPath> {
    let (prefix, suffix) = match pattern.split_once('*') {
        Some((p, s)) => (p, s),
        None => (pattern, ""),
    };
    if prefix.contains('/') || suffix.contains('/') {
        return Err(Error::InvalidCommand {
            reason: format!("script file pattern {pattern:?} must be a file name"),
        });
    }
    let mut file = tempfile::Builder::new()
        .prefix(prefix)
        .suffix(suffix)
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)?;
    file.write_all(script.as_bytes())?;
    file.flush()?;
    // Close our handle: bash opens the file by its path, and a writable fd
    // left open would outlive the need for it.
    Ok(file.into_temp_path())
}

/// A script held in memory (a memfd), for bash to read by a path into this
/// process's fd table: nothing on disk, no ARG_MAX limit, stdin left free.
pub(crate) struct MemScript {
    fd: OwnedFd,
}

impl MemScript {
    pub(crate) fn new(script: &str) -> Result<MemScript> {
        let fd = sys::memfd_with(script.as_bytes())?;
        Ok(MemScript { fd })
    }

    /// The path bash opens: the memfd through this process's `/proc` entry,
    /// so the child needs no inherited fd.
    pub(crate) fn path(&self) -> String {
        format!("/proc/{}/fd/{}", std::process::id(), self.fd.as_raw_fd())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_a_round_trip_through_bash() {
        let nasty = [
            "a b",
            "it's",
            "$(echo pwned)",
            "`x`",
            "\"q\"",
            "\\",
            "*",
            "\n",
            "",
        ];
        let cmd: Vec<String> = std::iter::once("printf".to_string())
            .chain(std::iter::once("[%s]".to_string()))
            .chain(nasty.iter().map(|s| s.to_string()))
            .collect();
        let script = from_commands(&[cmd]);
        let out = std::process::Command::new("bash")
            .args(["-c", &script])
            .output()
            .unwrap();
        let want: String = nasty.iter().map(|s| format!("[{s}]")).collect();
        assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    }

    #[test]
    fn single_element_commands_are_shell_lines() {
        let s = from_commands(&[vec!["echo a | tr a b".into()]]);
        assert_eq!(s, format!("{SCRIPT_HEADER}echo a | tr a b\n"));
    }

    #[test]
    fn script_file_has_mode_0600_and_the_pattern() {
        let dir = tempfile::tempdir().unwrap();
        let p = write_file("echo hi\n", dir.path(), "x-*.sh").unwrap();
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        assert!(name.starts_with("x-") && name.ends_with(".sh"), "{name}");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let path = p.to_path_buf();
        drop(p);
        assert!(!path.exists());
    }

    #[test]
    fn pattern_with_a_slash_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            write_file("", dir.path(), "../x-*"),
            Err(Error::InvalidCommand { .. })
        ));
    }
}
