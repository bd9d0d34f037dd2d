//! `--format json`: every line of a run, hostile bytes, long lines and
//! restarts included, parsed by python3's json module, and the fields
//! checked against what the children wrote.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::{temp_file, with_watchdog, xorshift64};

const BIN: &str = env!("CARGO_BIN_EXE_procrun");

/// Runs procrun with `args` to its end (under the watchdog).
fn procrun(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    with_watchdog(move || {
        Command::new(BIN)
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("run procrun")
    })
}

/// One object of procrun's output, as python3 read it.
#[derive(Debug)]
struct Obj {
    event: String,
    name: String,
    pid: u32,
    stream: String,
    partial: bool,
    /// The line's bytes: from `line_b64` when present, else `line`.
    bytes: Vec<u8>,
    /// The other fields, `key=value` as python3 prints them, sorted.
    rest: String,
}

/// Parses every line of `out` with python3's json module (failing on
/// any line that is not one JSON object with a valid RFC 3339 `ts`), and
/// checks that a line given as `line_b64` is also given as the text
/// python3 makes of those bytes with replacement characters.
fn parse(out: &[u8]) -> Vec<Obj> {
    const SCRIPT: &str = r#"
import base64, datetime, json, sys
for raw in sys.stdin.buffer:
    assert raw.endswith(b"\n"), raw
    o = json.loads(raw)
    assert isinstance(o, dict), o
    ts = o.pop("ts")
    assert ts.endswith("Z") and len(ts) == 24, ts
    datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")
    line = o.pop("line", None)
    b64 = o.pop("line_b64", None)
    if b64 is not None:
        data = base64.b64decode(b64, validate=True)
        assert line == data.decode("utf-8", "replace"), (line, data)
        try:
            data.decode("utf-8")
            raise SystemExit("line_b64 given for a UTF-8 line: %r" % data)
        except UnicodeDecodeError:
            pass
    else:
        data = b"" if line is None else line.encode("utf-8")
    fields = [o.pop("event"), o.pop("name", ""), str(o.pop("pid", 0)), o.pop("stream", ""),
              str(o.pop("partial", False)), data.hex()]
    rest = " ".join("%s=%s" % (k, json.dumps(v)) for k, v in sorted(o.items()))
    print("\t".join(fields + [rest]))
"#;
    let mut py = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 on PATH");
    let mut stdin = py.stdin.take().unwrap();
    let input = out.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let got = py.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        got.status.success(),
        "python3 refused procrun's output: {}",
        String::from_utf8_lossy(&got.stderr)
    );
    String::from_utf8(got.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 7, "{l}");
            Obj {
                event: f[0].into(),
                name: f[1].into(),
                pid: f[2].parse().unwrap(),
                stream: f[3].into(),
                partial: f[4] == "True",
                bytes: (0..f[5].len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&f[5][i..i + 2], 16).unwrap())
                    .collect(),
                rest: f[6].into(),
            }
        })
        .collect()
}

/// Lines of random bytes: every value but `\n` inside them (and no `\r`
/// before a `\n`, which ends a line with it), with the characters JSON
/// must escape planted often, one line of 200 kB (past --max-line's 64
/// KiB, so it comes in pieces), each line ended by `\n`.
fn hostile(lines: usize, seed: u64) -> Vec<u8> {
    let mut next = xorshift64(seed);
    let planted: [&[u8]; 8] = [
        b"\"",
        b"\\",
        b"\0",
        b"\x1b[31m",
        "\u{2028}".as_bytes(),
        "é".as_bytes(),
        b"\xff\xfe",
        b"\t\x7f",
    ];
    let mut v = Vec::new();
    for i in 0..lines {
        let len = if i == lines / 2 {
            200_000
        } else {
            (next() % 300) as usize
        };
        let start = v.len();
        while v.len() - start < len {
            let r = next();
            if r % 5 == 0 {
                v.extend_from_slice(planted[(r >> 8) as usize % planted.len()]);
            } else {
                let b = (r >> 16) as u8;
                v.push(if b == b'\n' { b'.' } else { b });
            }
        }
        if v.last() == Some(&b'\r') {
            v.pop();
        }
        v.push(b'\n');
    }
    v
}

/// What the lines of one stream of one run say the child wrote.
fn rebuilt<'a>(objs: impl Iterator<Item = &'a Obj>) -> Vec<u8> {
    let mut v = Vec::new();
    for o in objs {
        v.extend_from_slice(&o.bytes);
        if !o.partial {
            v.push(b'\n');
        }
    }
    v
}

#[test]
fn json_lines_of_hostile_bytes_long_lines_and_restarts_all_parse_and_give_the_bytes_back() {
    let out = hostile(400, 3);
    let err = hostile(50, 5);
    let (fo, fe) = (temp_file(&out), temp_file(&err));
    let r = procrun(&[
        "run",
        "--format",
        "json",
        "--restart-limit",
        "2",
        "--restart-interval",
        "10ms",
        "--",
        "sh",
        "-c",
        r#"cat "$0"; cat "$1" >&2; exit 3"#,
        fo.path().to_str().unwrap(),
        fe.path().to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(3));
    assert_eq!(
        String::from_utf8_lossy(&r.stderr),
        "",
        "nothing but JSON, on stdout"
    );
    let objs = parse(&r.stdout);
    let starts: Vec<&Obj> = objs.iter().filter(|o| o.event == "started").collect();
    assert_eq!(starts.len(), 3, "one run and two restarts");
    for (n, s) in starts.iter().enumerate() {
        assert_eq!(s.name, "sh");
        assert_eq!(s.rest, format!("restart_limit=2 restarts={n}"));
        let run: Vec<&Obj> = objs.iter().filter(|o| o.pid == s.pid).collect();
        assert_eq!(run.first().map(|o| o.event.as_str()), Some("started"));
        let of = |stream: &'static str| {
            rebuilt(
                run.iter()
                    .copied()
                    .filter(move |o| o.event == "line" && o.stream == stream),
            )
        };
        assert!(of("stdout") == out, "run {n}: stdout differs");
        assert!(of("stderr") == err, "run {n}: stderr differs");
        assert!(
            run.iter()
                .any(|o| o.event == "line" && o.partial && o.bytes.len() == 65536),
            "run {n}: the long line in pieces"
        );
        let exited: Vec<&&Obj> = run.iter().filter(|o| o.event == "exited").collect();
        assert_eq!(exited.len(), 1, "run {n}");
        let then = if n < 2 {
            r#"restart_in_ms=10 signal=null status_lost=false stopped=false then="restart" timed_out=false"#
        } else {
            r#"signal=null status_lost=false stopped=false then="restart_limit_reached" timed_out=false"#
        };
        assert_eq!(
            exited[0].rest,
            format!("code=3 oom_killed=false {then}"),
            "run {n}"
        );
    }
    // Lines whose bytes are not UTF-8 were among them, and given back above.
    assert!(objs
        .iter()
        .any(|o| o.event == "line" && std::str::from_utf8(&o.bytes).is_err()));
    assert_eq!(
        objs.len(),
        objs.iter()
            .filter(|o| ["started", "line", "exited"].contains(&o.event.as_str()))
            .count()
    );
}

#[test]
fn json_exit_of_a_timed_out_run_names_the_signal() {
    let r = procrun(&[
        "run", "--format", "json", "-t", "200ms", "--", "sleep", "30",
    ]);
    assert_eq!(r.status.code(), Some(124));
    let objs = parse(&r.stdout);
    let exited: Vec<&Obj> = objs.iter().filter(|o| o.event == "exited").collect();
    assert_eq!(exited.len(), 1, "{objs:?}");
    assert_eq!(
        exited[0].rest,
        r#"code=null oom_killed=false signal="SIGTERM" status_lost=false stopped=true then="end" timed_out=true"#
    );
    assert_eq!(exited[0].name, "sleep");
}

#[test]
fn json_notes_of_procrun_itself_are_objects_on_stdout() {
    let r = procrun(&[
        "run",
        "--format",
        "json",
        "--exit-with-first",
        "--name",
        "quick=exit 4",
        "--name",
        "slow=sleep 30",
    ]);
    assert_eq!(r.status.code(), Some(4));
    assert_eq!(String::from_utf8_lossy(&r.stderr), "");
    let objs = parse(&r.stdout);
    let info: Vec<&Obj> = objs.iter().filter(|o| o.event == "info").collect();
    assert_eq!(info.len(), 1, "{objs:?}");
    assert_eq!((info[0].name.as_str(), info[0].pid), ("", 0));
    assert!(
        info[0]
            .rest
            .starts_with(r#"message="quick ended: stopping 1 process"#),
        "{}",
        info[0].rest
    );
    let slow = objs
        .iter()
        .find(|o| o.event == "exited" && o.name == "slow")
        .expect("slow's exit");
    assert!(slow.rest.contains("stopped=true"), "{}", slow.rest);
}

#[test]
fn json_is_refused_with_timestamps_and_raw() {
    // Bad usage: 2, or coreutils timeout's 125 when --raw was asked for.
    for (args, status) in [
        (
            &["run", "--format", "json", "--timestamps", "--", "true"][..],
            2,
        ),
        (&["run", "--format", "json", "--raw", "--", "true"], 125),
    ] {
        let r = procrun(args);
        assert_eq!(r.status.code(), Some(status), "{args:?}");
        assert_eq!(r.stdout, b"");
    }
}

#[test]
fn text_stays_the_default_format() {
    let r = procrun(&["run", "--", "echo", "hi"]);
    assert_eq!(r.stdout, b"echo | hi\n");
    let r = procrun(&["start", "--help"]);
    assert!(String::from_utf8_lossy(&r.stdout).contains("--format"));
}
