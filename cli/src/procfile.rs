//! `procrun start`'s inputs: a Procfile (`name: command` lines) and a
//! `.env` file (`KEY=VALUE` lines), as foreman and honcho read them.
//!
//! The parsers are pure (text in, entries or the first bad line out), so
//! that every line shape is tested without a file; `load_*` add the reads
//! and put the file's name before the line number of an error. Both take
//! time in proportion to the text, and a file larger than [`MAX_BYTES`] is
//! refused unread past that size (`-e /dev/zero` is an error, not a read
//! until memory runs out).

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

/// The largest Procfile or `.env` file read: 16 MiB, some hundred
/// thousand entries or variables, far past any written by hand.
pub const MAX_BYTES: u64 = 16 << 20;

/// A Procfile's entries in file order: (name, bash command line).
///
/// Blank lines and lines starting with `#` are skipped. A name is letters,
/// digits, `_` and `-` (what foreman accepts, and what prints well as a
/// prefix); the command is the rest of the line after the first `:`,
/// trimmed, so `we:b: cmd` is entry `we` running `b: cmd`, as foreman's
/// and honcho's `^([A-Za-z0-9_-]+):\s*(.+)$` reads it.
///
/// # Errors
///
/// The 1-based number of the first line that is not an entry, with why: a
/// NUL byte (which no command line can carry) among them.
pub fn parse_procfile(text: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    let mut entries: Vec<(String, String)> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let no = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.contains('\0') {
            return Err((no, "contains a NUL byte".into()));
        }
        let Some((name, command)) = line.split_once(':') else {
            return Err((no, "not 'name: command'".into()));
        };
        let (name, command) = (name.trim(), command.trim());
        if name.is_empty() || !name.chars().all(is_name_char) {
            return Err((
                no,
                format!("bad name '{name}' (letters, digits, '_' and '-' only)"),
            ));
        }
        if command.is_empty() {
            return Err((no, format!("'{name}' has no command")));
        }
        if !seen.insert(name) {
            return Err((no, format!("'{name}' given twice")));
        }
        entries.push((name.to_owned(), command.to_owned()));
    }
    if entries.is_empty() {
        return Err((0, "no entries".into()));
    }
    Ok(entries)
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// A `.env` file's variables in file order: (key, value).
///
/// Each line is `KEY=VALUE`, optionally after `export `; blank lines and
/// `#` lines are skipped. A value in single quotes is taken as it is; in
/// double quotes, `\n`, `\t`, `\"`, `\\` and `\$` are unescaped; unquoted,
/// it is trimmed and a ` #` starts a comment (as dotenv reads them).
///
/// # Errors
///
/// The 1-based number of the first line that is not a variable, with why: a
/// NUL byte (which no environment can carry) among them.
pub fn parse_dotenv(text: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    let mut vars = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let no = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.contains('\0') {
            return Err((no, "contains a NUL byte".into()));
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((key, value)) = line.split_once('=') else {
            return Err((no, "not KEY=VALUE".into()));
        };
        let key = key.trim_end();
        let mut chars = key.chars();
        let key_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !key_ok {
            return Err((no, format!("bad variable name '{key}'")));
        }
        let value = unquote(value).map_err(|why| (no, why))?;
        vars.push((key.to_owned(), value));
    }
    Ok(vars)
}

/// The value after `=`, as written (a blank before it included: `A= #x`
/// is an empty value and a comment).
fn unquote(written: &str) -> Result<String, String> {
    let v = written.trim_start();
    let Some(quote) = v.chars().next().filter(|&c| c == '\'' || c == '"') else {
        // A `#` after a blank starts a comment; one glued to the value
        // (`a#b`, or `A=#b`) is part of it, as in a shell.
        let comment = written
            .char_indices()
            .find(|&(i, c)| c == '#' && written[..i].ends_with([' ', '\t']));
        let v = comment.map_or(written, |(i, _)| &written[..i]);
        return Ok(v.trim().to_owned());
    };
    let body = &v[1..];
    let Some(end) = closing(body, quote) else {
        return Err(format!("no closing {quote}"));
    };
    let rest = body[end + 1..].trim();
    if !rest.is_empty() && !rest.starts_with('#') {
        return Err(format!("text after the closing {quote}"));
    }
    let body = &body[..end];
    if quote == '\'' {
        return Ok(body.to_owned());
    }
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(c @ ('"' | '\\' | '$')) => out.push(c),
            // An unknown escape is kept as written, as bash keeps `\q`.
            Some(c) => {
                out.push('\\');
                out.push(c);
            }
            None => out.push('\\'),
        }
    }
    Ok(out)
}

/// The byte index of the quote that closes `body` (a backslash escapes a
/// double quote, never a single one).
fn closing(body: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quote == '"' => escaped = true,
            c if c == quote => return Some(i),
            _ => {}
        }
    }
    None
}

/// Reads and parses a Procfile. The error is the one line to print.
pub fn load_procfile(path: &Path) -> Result<Vec<(String, String)>, String> {
    let text = read(path)?;
    parse_procfile(&text).map_err(|e| located(path, e))
}

/// Reads and parses a `.env` file. The error is the one line to print.
pub fn load_dotenv(path: &Path) -> Result<Vec<(String, String)>, String> {
    let text = read(path)?;
    parse_dotenv(&text).map_err(|e| located(path, e))
}

/// The file's text, less a UTF-8 byte order mark (editors on some systems
/// write one, and it would glue itself to the first name). Bytes that are
/// not UTF-8 are an error naming their line; a file past [`MAX_BYTES`] is
/// an error read no further.
fn read(path: &Path) -> Result<String, String> {
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_BYTES + 1).read_to_end(&mut bytes))
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(format!(
            "{}: larger than {} MiB, more than a Procfile or .env file holds",
            path.display(),
            MAX_BYTES >> 20
        ));
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_owned()),
        Err(e) => {
            let line = 1 + bytes[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            Err(located(path, (line, "not UTF-8 text".into())))
        }
    }
}

fn located(path: &Path, (no, why): (usize, String)) -> String {
    match no {
        0 => format!("{}: {why}", path.display()),
        _ => format!("{}:{no}: {why}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn procfile_entries_in_order_comments_and_blanks_skipped() {
        let text = "# services\n\nweb: python -m http.server 8000\n  worker:bin/work --queue=a:b  \r\nclock-1 : sleep 1\n";
        assert_eq!(
            parse_procfile(text),
            Ok(pairs(&[
                ("web", "python -m http.server 8000"),
                ("worker", "bin/work --queue=a:b"),
                ("clock-1", "sleep 1"),
            ]))
        );
    }

    #[test]
    fn bad_procfile_lines_are_named_by_number() {
        for (text, no) in [
            ("web: a\nno colon here\n", 2),
            (": cmd\n", 1),
            ("web site: cmd\n", 1),
            ("web:\n", 1),
            ("web: a\n\nweb: b\n", 3),
            ("wéb: a\n", 1),
            ("web: a\nworker: b\0c\n", 2),
        ] {
            assert_eq!(parse_procfile(text).map_err(|e| e.0), Err(no), "{text:?}");
        }
        assert_eq!(parse_procfile("# only\n\n").map_err(|e| e.0), Err(0));
    }

    #[test]
    fn dotenv_values_plain_exported_and_quoted() {
        let text = concat!(
            "# settings\n",
            "A=1\n",
            "export B = two words \n",
            "C='kept # as is $X'\n",
            "D=\"line\\nnext \\\"q\\\" \\$HOME \\q\" # note\n",
            "E=x #comment\n",
            "F=a#b\n",
            "G=\n",
            "H='a\\n'\n",
            "I=a=b\n",
            "J= # only a comment\n",
            "K=#glued\n",
            "L=\t#tab\n",
        );
        assert_eq!(
            parse_dotenv(text),
            Ok(pairs(&[
                ("A", "1"),
                ("B", "two words"),
                ("C", "kept # as is $X"),
                ("D", "line\nnext \"q\" $HOME \\q"),
                ("E", "x"),
                ("F", "a#b"),
                ("G", ""),
                ("H", "a\\n"),
                ("I", "a=b"),
                ("J", ""),
                ("K", "#glued"),
                ("L", ""),
            ]))
        );
    }

    #[test]
    fn bad_dotenv_lines_are_named_by_number() {
        for (text, no) in [
            ("A=1\nNOEQUALS\n", 2),
            ("=1\n", 1),
            ("1A=x\n", 1),
            ("A B=x\n", 1),
            ("A='open\n", 1),
            ("A=\"open\n", 1),
            ("A='x' y\n", 1),
            ("A=1\n\nB=x\0y\n", 3),
        ] {
            assert_eq!(parse_dotenv(text).map_err(|e| e.0), Err(no), "{text:?}");
        }
    }

    #[test]
    fn files_lose_a_byte_order_mark_and_bad_bytes_name_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Procfile");
        std::fs::write(&path, b"\xef\xbb\xbfweb: echo hi\n").unwrap();
        assert_eq!(load_procfile(&path), Ok(pairs(&[("web", "echo hi")])));
        std::fs::write(&path, b"A=1\nB=caf\xe9\n").unwrap();
        let err = load_dotenv(&path).unwrap_err();
        assert!(err.ends_with("Procfile:2: not UTF-8 text"), "{err}");
    }

    /// honcho's and foreman's line pattern, `^([A-Za-z0-9_-]+):\s*(.+)$`:
    /// the name ends at the first `:`.
    #[test]
    fn a_second_colon_belongs_to_the_command_as_honcho_reads_it() {
        assert_eq!(
            parse_procfile("we:b: cmd\n"),
            Ok(pairs(&[("we", "b: cmd")]))
        );
    }

    #[test]
    fn duplicates_among_many_entries_are_found_in_linear_time() {
        let n = 100_000;
        let mut text: String = (0..n).map(|i| format!("e{i}: exit {}\n", i % 7)).collect();
        let start = std::time::Instant::now();
        assert_eq!(parse_procfile(&text).map(|e| e.len()), Ok(n));
        text.push_str("e99999: again\n");
        assert_eq!(parse_procfile(&text).map_err(|e| e.0), Err(n + 1));
        // A scan of earlier entries took 17 s for one parse; a set, well
        // under 1 s. The bound is for a loaded machine, not a measurement.
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn a_file_past_the_limit_is_refused_unread_past_it() {
        let err = load_dotenv(Path::new("/dev/zero")).unwrap_err();
        assert!(err.contains("/dev/zero: larger than 16 MiB"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Procfile");
        let line = "web: echo 0123456789012345678901234567890123456789\n";
        let fits = line.repeat(MAX_BYTES as usize / line.len());
        // Past the limit by one byte.
        let mut over = fits.clone();
        over.push_str(&"#".repeat(MAX_BYTES as usize - fits.len() + 1));
        std::fs::write(&path, &over).unwrap();
        let err = load_procfile(&path).unwrap_err();
        assert!(err.contains("larger than 16 MiB"), "{err}");
        // At the limit, it is read (here: a duplicate on line 2).
        over.pop();
        std::fs::write(&path, &over).unwrap();
        let err = load_procfile(&path).unwrap_err();
        assert!(err.ends_with("Procfile:2: 'web' given twice"), "{err}");
    }
}
