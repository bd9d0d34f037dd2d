//! Guarantee 4 under the race that once broke it: a run that fills its
//! pipe in one write and exits at once must still have every byte
//! delivered before its `Exited`.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use procrun::{ChildId, Command, Event, Reactor};

use super::watchdog;

/// How a burst is written.
#[derive(Clone, Copy, Debug)]
pub enum Burst {
    /// Exactly one default pipe-full (65,536 bytes) in one write, no `\n`.
    PipeFull,
    /// One pipe-full in one write, the last byte a `\n`.
    PipeFullNewline,
    /// The child grows its own pipe to 1 MiB, then fills it in one write.
    GrownPipe,
}

impl Burst {
    /// The bytes of line content the run writes (newlines not counted).
    fn content(self) -> usize {
        match self {
            Burst::PipeFull => 65_536,
            Burst::PipeFullNewline => 65_535,
            Burst::GrownPipe => 1 << 20,
        }
    }
}

/// Whether `python3` can be run (the grown-pipe burst needs `fcntl`).
pub fn have_python() -> bool {
    std::process::Command::new("python3")
        .arg("-c")
        .arg("")
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `runs` bursts of `kind`, `in_flight` at a time on one reactor, and
/// returns how many runs had bytes delivered after their exit event or
/// missing at it, with a description of the first few.
pub fn misordered(kind: Burst, runs: usize, in_flight: usize) -> (usize, Vec<String>) {
    // dd writes its one block with one write(2); the file is the block.
    let dir = tempfile::tempdir().unwrap();
    let block = dir.path().join("block");
    let mut f = std::fs::File::create(&block).unwrap();
    let mut bytes = vec![b'a'; 65_536];
    if matches!(kind, Burst::PipeFullNewline) {
        bytes[65_535] = b'\n';
    }
    f.write_all(&bytes).unwrap();
    drop(f);
    let cmd = match kind {
        Burst::PipeFull | Burst::PipeFullNewline => {
            let mut c = Command::new("dd");
            c.arg(format!("if={}", block.display()))
                .args(["bs=65536", "count=1", "status=none"]);
            c
        }
        Burst::GrownPipe => {
            let mut c = Command::new("python3");
            // F_SETPIPE_SZ is 1031.
            c.args([
                "-c",
                "import fcntl, os\nfcntl.fcntl(1, 1031, 1 << 20)\nos.write(1, b'a' * (1 << 20))",
            ]);
            c
        }
    };

    struct Seen {
        bytes: usize,
        exited: bool,
        bad: bool,
    }
    let mut reactor = Reactor::new().unwrap();
    let mut seen: HashMap<ChildId, Seen> = HashMap::new();
    let mut bad = 0;
    let mut notes = Vec::new();
    let mut started = 0;
    // A watchdog on progress, not on the whole loop: 10,000 runs on a
    // loaded machine take minutes, but no run takes a watchdog's time.
    let mut deadline = Instant::now() + watchdog();
    let mut done = 0;
    while started < runs || !reactor.is_empty() {
        while started < runs && reactor.len() < in_flight {
            let id = reactor.spawn(&cmd).unwrap();
            seen.insert(
                id,
                Seen {
                    bytes: 0,
                    exited: false,
                    bad: false,
                },
            );
            started += 1;
        }
        assert!(
            Instant::now() < deadline,
            "watchdog: no burst finished for {:?}",
            watchdog()
        );
        let before = done;
        reactor
            .poll(Some(Duration::from_millis(200)), |_, ev| match ev {
                Event::Line { id, line, .. } => {
                    let s = seen.get_mut(&id).unwrap();
                    if s.exited {
                        s.bad = true;
                        if notes.len() < 5 {
                            notes.push(format!("{} bytes after Exited", line.len()));
                        }
                    }
                    s.bytes += line.len();
                }
                Event::Exited(e) => {
                    let s = seen.get_mut(&e.id()).unwrap();
                    s.exited = true;
                    if s.bytes != kind.content() {
                        s.bad = true;
                        if notes.len() < 5 {
                            notes.push(format!(
                                "{} of {} bytes before Exited ({e})",
                                s.bytes,
                                kind.content()
                            ));
                        }
                    }
                }
                Event::Done { id, .. } => {
                    done += 1;
                    let s = seen.remove(&id).unwrap();
                    if s.bad || s.bytes != kind.content() {
                        bad += 1;
                    }
                }
                _ => {}
            })
            .unwrap();
        if done != before {
            deadline = Instant::now() + watchdog();
        }
    }
    (bad, notes)
}

/// Asserts that no burst of `kind` was delivered out of order.
pub fn assert_ordered(kind: Burst, runs: usize) {
    let (bad, notes) = misordered(kind, runs, 8);
    assert_eq!(
        bad, 0,
        "{kind:?}: {bad} of {runs} runs misordered: {notes:?}"
    );
}
