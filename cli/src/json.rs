//! JSON text for `--format json`: one object a line, written straight into
//! the output buffer (no serde for a handful of flat objects).
//!
//! Strings are escaped as RFC 8259 requires (`"`, `\`, every control
//! character) and so are DEL, U+2028 and U+2029, which some JavaScript
//! parsers take for line ends; every other character is written as UTF-8.
//! A child's line that is not UTF-8 cannot be a JSON string as it is: it is
//! given twice, as `line` with each invalid sequence replaced by U+FFFD (for
//! readers that only want text) and as `line_b64`, the standard base64 of
//! the bytes exactly (for those that want them back): lossless, and a reader
//! tells the two cases by the presence of `line_b64`.

use std::io::Write;

/// An object being written into a buffer: `{` at [`Object::new`], `}` and a
/// newline at [`Object::end`].
pub struct Object<'a> {
    buf: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    pub fn new(buf: &'a mut Vec<u8>) -> Object<'a> {
        buf.push(b'{');
        Object { buf, first: true }
    }

    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        string(self.buf, key);
        self.buf.push(b':');
        self.buf
    }

    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        string(self.key(key), value);
        self
    }

    pub fn num(&mut self, key: &str, value: u64) -> &mut Self {
        // Writing to a Vec cannot fail.
        let _ = write!(self.key(key), "{value}");
        self
    }

    pub fn int(&mut self, key: &str, value: i64) -> &mut Self {
        let _ = write!(self.key(key), "{value}");
        self
    }

    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        let v: &[u8] = if value { b"true" } else { b"false" };
        self.key(key).extend_from_slice(v);
        self
    }

    pub fn null(&mut self, key: &str) -> &mut Self {
        self.key(key).extend_from_slice(b"null");
        self
    }

    /// `line`, and `line_b64` when `bytes` are not UTF-8 (see the module
    /// docs).
    pub fn line(&mut self, bytes: &[u8]) -> &mut Self {
        match std::str::from_utf8(bytes) {
            Ok(s) => self.str("line", s),
            Err(_) => {
                self.str("line", &String::from_utf8_lossy(bytes));
                base64(self.key("line_b64"), bytes);
                self
            }
        }
    }

    pub fn end(self) {
        self.buf.extend_from_slice(b"}\n");
    }
}

/// `s` as a JSON string, quotes included.
pub fn string(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    let mut rest = 0;
    for (i, c) in s.char_indices() {
        let escape: Option<&[u8]> = match c {
            '"' => Some(b"\\\""),
            '\\' => Some(b"\\\\"),
            '\n' => Some(b"\\n"),
            '\r' => Some(b"\\r"),
            '\t' => Some(b"\\t"),
            '\u{8}' => Some(b"\\b"),
            '\u{c}' => Some(b"\\f"),
            _ => None,
        };
        let numeric = matches!(c, '\0'..='\u{1f}' | '\u{7f}' | '\u{2028}' | '\u{2029}');
        if escape.is_none() && !numeric {
            continue;
        }
        buf.extend_from_slice(&s.as_bytes()[rest..i]);
        rest = i + c.len_utf8();
        match escape {
            Some(e) => buf.extend_from_slice(e),
            None => {
                let _ = write!(buf, "\\u{:04x}", c as u32);
            }
        }
    }
    buf.extend_from_slice(&s.as_bytes()[rest..]);
    buf.push(b'"');
}

/// `bytes` as a JSON string of their standard base64 (RFC 4648, padded).
pub fn base64(buf: &mut Vec<u8>, bytes: &[u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    buf.push(b'"');
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                buf.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]);
            } else {
                buf.push(b'=');
            }
        }
    }
    buf.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(s: &str) -> String {
        let mut buf = Vec::new();
        string(&mut buf, s);
        String::from_utf8(buf).unwrap()
    }

    fn b64(bytes: &[u8]) -> String {
        let mut buf = Vec::new();
        base64(&mut buf, bytes);
        String::from_utf8(buf).unwrap()
    }

    /// Checked by hand against RFC 8259's grammar.
    #[test]
    fn strings_escape_quotes_backslashes_controls_and_line_separators() {
        let cases = [
            ("", r#""""#),
            ("plain é ü 日本", r#""plain é ü 日本""#),
            ("a\"b\\c/", r#""a\"b\\c/""#),
            ("\n\r\t\u{8}\u{c}", r#""\n\r\t\b\f""#),
            ("\0\u{1}\u{1f}\u{7f}", r#""\u0000\u0001\u001f\u007f""#),
            ("x\u{2028}y\u{2029}z", r#""x\u2028y\u2029z""#),
            ("\u{1F600}", "\"\u{1F600}\""),
            ("\u{fffd}", "\"\u{fffd}\""),
        ];
        for (s, want) in cases {
            assert_eq!(encoded(s), want, "{s:?}");
        }
    }

    /// RFC 4648's test vectors.
    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (s, want) in cases {
            assert_eq!(b64(s.as_bytes()), format!("\"{want}\""), "{s:?}");
        }
        assert_eq!(b64(&[0xff, 0xfe, 0x00]), "\"//4A\"");
        assert_eq!(b64(&[0xfb, 0xff]), "\"+/8=\"");
    }

    #[test]
    fn a_line_not_utf8_is_given_as_text_and_as_base64() {
        let mut buf = Vec::new();
        let mut o = Object::new(&mut buf);
        o.line(b"ok \xff\0").num("n", 3).bool("b", false).null("z");
        o.end();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "{\"line\":\"ok \u{fffd}\\u0000\",\"line_b64\":\"b2sg/wA=\",\"n\":3,\"b\":false,\"z\":null}\n"
        );
        let mut buf = Vec::new();
        let mut o = Object::new(&mut buf);
        o.line("é".as_bytes()).int("c", -1);
        o.end();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "{\"line\":\"é\",\"c\":-1}\n"
        );
    }

    /// Every string of every char below U+0800 and the separators, read
    /// back by python3's json module, is the string that went in.
    #[test]
    fn python_json_reads_back_every_string() {
        let mut all = String::new();
        for c in (0u32..0x800).chain([0x2028, 0x2029, 0xfffd, 0x1f600]) {
            all.push(char::from_u32(c).unwrap());
        }
        let samples = [all.as_str(), "\"\\", "", "a\u{2028}b"];
        let mut input = Vec::new();
        for s in samples {
            string(&mut input, s);
            input.push(b'\n');
        }
        let mut child = std::process::Command::new("python3")
            .args([
                "-c",
                "import json,sys\nfor l in sys.stdin.buffer:\n    \
                 sys.stdout.buffer.write(json.loads(l).encode('utf-8', 'surrogatepass').hex().encode() + b'\\n')",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 on PATH");
        child.stdin.take().unwrap().write_all(&input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let back: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        assert_eq!(back.len(), samples.len());
        for (s, hex) in samples.iter().zip(back) {
            let want: String = s.bytes().map(|b| format!("{b:02x}")).collect();
            assert_eq!(hex, want, "{s:?}");
        }
    }
}
