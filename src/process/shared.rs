//! State shared between a [`Process`](super::Process) handle and the driver
//! thread: exits, pid, and the buffered output of both streams.

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

use crate::error::Error;
use crate::exit::{ChildId, Exit, Stream};
use crate::lines::LineReader;
use crate::signal::Signal;

/// Whole lines buffered beyond this (per process, both streams) pause the
/// child until a reader catches up; reading below half of it resumes the
/// child. Each stream's line in progress is held besides, up to the line
/// limit: a line reader can take only whole lines, and waiting for more of
/// one from a paused child would wait forever.
pub(crate) const DEFAULT_BUFFER: usize = 1 << 20;

#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    cv: Condvar,
}

/// What a process's handle and the driver know of it, under one lock.
///
/// # Start against close
///
/// `start()` on thread A and `close()` on thread B meet here, and every
/// `close()` must return only after the reap, with nothing the closed
/// handle asked for starting later (DESIGN.md guarantee 10). A sets
/// `started` and `start_pending` unless `closed` is set; B sets `closed`,
/// then waits until `start_pending` is clear, then, if `id` is set and
/// `done` is not, sends a stop and waits for `done`. The driver, serving
/// the start, checks `closed` before it spawns and again when it answers.
/// The interleavings:
///
/// 1. B sets `closed` before A looks: A fails with `Aborted`; nothing was
///    asked of the driver, B finds nothing pending and no `id`.
/// 2. A has set `start_pending`, B sets `closed` before the driver takes
///    the start: the driver sees `closed`, spawns nothing and answers
///    `Aborted`; B, woken by the answer, finds no `id`.
/// 3. B sets `closed` while the driver spawns (it checked `closed` before):
///    the driver sets `id`, sees `closed`, stops the child itself and
///    answers `Ok`; B, woken by the answer, finds `id` and waits for
///    `done`.
/// 4. The driver answered before B: B finds `id` and stops the child and
///    waits for `done`, as a close after a finished start does.
/// 5. A's start fails before or in the driver (script, spawn, a dead
///    driver): `start_pending` is cleared with `id` unset; B returns.
///
/// A second close (B') waits exactly as B does, never returning early
/// because B is under way: it needs the same reap. `done` is set by the
/// driver only after the reap (or, when the driver dies, after its reactor
/// killed and reaped the child), so a close that saw `done` saw the reap.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) started: bool,
    /// A start is under way: set with `started`, cleared when the driver
    /// answers (or the start fails before reaching it).
    pub(crate) start_pending: bool,
    /// The driver's answer to a start, until the start takes it.
    pub(crate) start_result: Option<Result<(), Error>>,
    pub(crate) id: Option<ChildId>,
    pub(crate) pid: Option<u32>,
    pub(crate) exits: Vec<Exit>,
    /// A restart could not be started; set with `done`.
    pub(crate) restart_error: Option<String>,
    /// A stop's signal reached nothing of the child (it made itself
    /// another user): the child runs on, and a close cannot wait for it.
    pub(crate) stop_failed: Option<StopFailure>,
    /// The child is gone for good: last exit seen and every stream closed.
    pub(crate) done: bool,
    /// The driver died while supervising the child (which it killed and
    /// reaped); set with `done`, and no final exit will come.
    pub(crate) driver_gone: bool,
    pub(crate) closed: bool,
    pub(crate) out: [StreamBuf; 2],
    seq: u64,
    pub(crate) buffered: usize,
    pub(crate) cap: usize,
    pub(crate) paused: bool,
    /// Counts the stdin events (room again, closed): a writer refused for
    /// a full queue waits for it to move.
    pub(crate) stdin_turn: u64,
    /// The run (counted from 0, as `exits.len()` counts it while it
    /// runs) whose stdin writer was handed out: one writer per run.
    pub(crate) stdin_taken: Option<usize>,
    /// The runs whose `Started` the driver has seen: run `k` has started
    /// once this is above `k`.
    pub(crate) runs_started: usize,
    waiters: usize,
}

/// What [`Error::Signal`] said, kept so that every close can report it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StopFailure {
    pid: u32,
    signal: Signal,
    errno: Option<i32>,
}

impl StopFailure {
    pub(crate) fn of(e: &Error) -> Option<StopFailure> {
        match e {
            Error::Signal {
                pid,
                signal,
                source,
            } => Some(StopFailure {
                pid: *pid,
                signal: *signal,
                errno: source.raw_os_error(),
            }),
            _ => None,
        }
    }

    pub(crate) fn error(self) -> Error {
        Error::Signal {
            pid: self.pid,
            signal: self.signal,
            source: match self.errno {
                Some(n) => std::io::Error::from_raw_os_error(n),
                None => std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            },
        }
    }
}

/// One stream's unread output, kept as the bytes the child wrote, with
/// the lines split off them by the stream's one [`LineReader`] (the
/// reactor's splitter, fed here: the pipes are read raw). A byte reader
/// takes bytes, a line reader takes lines: each byte goes to one of them,
/// and a line a byte reader took part of comes to a line reader as its
/// rest.
#[derive(Debug, Default)]
pub(crate) struct StreamBuf {
    /// The bytes from stream offset `taken` on.
    bytes: VecDeque<u8>,
    /// Lines split and not yet taken whole, oldest first.
    lines: VecDeque<Meta>,
    /// Stream offset of the first byte of `bytes`.
    taken: u64,
    /// Stream offset past the last byte fed to the splitter.
    fed: u64,
    /// Stream offset where the line in progress starts.
    split: u64,
    splitter: LineReader,
    /// The last byte fed: a `\r` ending one read may be half of a `\r\n`
    /// the next read ends.
    last: u8,
}

#[derive(Clone, Copy, Debug)]
struct Meta {
    /// Stream offsets of the line's first byte and of the byte after its
    /// line ending; its content is the first `content` bytes.
    start: u64,
    end: u64,
    content: usize,
    seq: u64,
    partial: bool,
}

impl StreamBuf {
    fn new(max_line: NonZeroUsize) -> StreamBuf {
        StreamBuf {
            splitter: LineReader::with_max_line(max_line),
            ..StreamBuf::default()
        }
    }

    /// Appends what the child wrote and splits the lines it ends.
    fn push(&mut self, data: &[u8], seq: &mut u64) {
        self.bytes.extend(data);
        let StreamBuf {
            lines,
            fed,
            split,
            splitter,
            last,
            ..
        } = self;
        let chunk_start = *fed;
        splitter.feed(data, |l| {
            let start = *split;
            let content = l.bytes().len();
            let end = if l.is_partial() {
                start + content as u64
            } else {
                // The content is a prefix of the line's bytes, followed by
                // `\n` or a dropped `\r` (maybe the last byte of the read
                // before) and `\n`.
                let at = start + content as u64;
                let byte = match at.checked_sub(chunk_start) {
                    Some(i) => data[i as usize],
                    None => *last,
                };
                at + if byte == b'\r' { 2 } else { 1 }
            };
            lines.push_back(Meta {
                start,
                end,
                content,
                seq: *seq,
                partial: l.is_partial(),
            });
            *seq += 1;
            *split = end;
        });
        self.fed += data.len() as u64;
        if let Some(&b) = data.last() {
            self.last = b;
        }
    }

    /// Ends the line in progress: the stream ended, or its run did.
    fn finish(&mut self, seq: &mut u64) {
        let StreamBuf {
            lines,
            split,
            splitter,
            ..
        } = self;
        splitter.finish(|l| {
            let start = *split;
            let end = start + l.bytes().len() as u64;
            lines.push_back(Meta {
                start,
                end,
                content: l.bytes().len(),
                seq: *seq,
                partial: l.is_partial(),
            });
            *seq += 1;
            *split = end;
        });
    }

    /// Bytes of lines split and not taken: what a reader can take without
    /// more output. The line in progress (at most the line limit and its
    /// ending, as the splitter hands out pieces at the limit) is not.
    fn whole(&self) -> usize {
        self.split.saturating_sub(self.taken) as usize
    }

    /// Drops the lines a byte reader took whole.
    fn prune(&mut self) {
        while self.lines.front().is_some_and(|m| m.end <= self.taken) {
            self.lines.pop_front();
        }
    }

    /// Takes up to `buf.len()` bytes; returns how many.
    fn take_bytes(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.bytes.len());
        let (a, b) = self.bytes.as_slices();
        let from_a = n.min(a.len());
        buf[..from_a].copy_from_slice(&a[..from_a]);
        buf[from_a..n].copy_from_slice(&b[..n - from_a]);
        self.bytes.drain(..n);
        self.taken += n as u64;
        self.prune();
        n
    }

    /// Takes the oldest line (or what a byte reader left of it) and
    /// returns it with how many bytes of the stream it used up; `None` for
    /// a line a byte reader took all the content of.
    fn take_line(&mut self) -> (Option<(Vec<u8>, bool)>, usize) {
        let Some(m) = self.lines.pop_front() else {
            return (None, 0);
        };
        let content_end = m.start + m.content as u64;
        let content = content_end.saturating_sub(self.taken) as usize;
        let bytes: Vec<u8> = self.bytes.drain(..content).collect();
        let used = (m.end - self.taken) as usize;
        self.bytes.drain(..used - content);
        let cut = self.taken > m.start;
        self.taken = m.end;
        let line = (!cut || content > 0).then_some((bytes, m.partial));
        (line, used)
    }
}

/// A line taken out of a process's buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputLine {
    /// The stream it came from.
    pub stream: Stream,
    /// The line without its line ending.
    pub bytes: Vec<u8>,
    /// Whether this is a piece of a longer line that goes on.
    pub partial: bool,
}

impl OutputLine {
    /// The line as text, invalid UTF-8 replaced.
    pub fn to_string_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }
}

pub(crate) fn index(s: Stream) -> usize {
    match s {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

impl State {
    /// Appends output of `stream`; returns whether the child should now be
    /// paused.
    ///
    /// Only whole lines count against the buffer. Were the lines in
    /// progress counted, one longer than the buffer (or two, one per
    /// stream, together) would pause the child with nothing a line reader
    /// can take, and that reader would wait forever for the rest. Not
    /// counting them keeps every pause with a line to take, and memory
    /// stays bounded: the splitter cuts a line in progress at the limit.
    pub(crate) fn push_data(&mut self, stream: Stream, data: &[u8]) -> bool {
        self.out[index(stream)].push(data, &mut self.seq);
        self.buffered += data.len();
        if !self.paused && self.whole() > self.cap {
            self.paused = true;
            return true;
        }
        false
    }

    /// Ends the lines in progress of `stream`, or of both streams when a
    /// run ended (its last line ends with it, as in the reactor).
    pub(crate) fn finish_lines(&mut self, stream: Option<Stream>) {
        for i in 0..2 {
            if stream.map_or(true, |s| index(s) == i) {
                self.out[i].finish(&mut self.seq);
            }
        }
    }

    /// Takes the oldest line of the selected streams.
    pub(crate) fn pop_line(&mut self, streams: [bool; 2]) -> Option<OutputLine> {
        loop {
            let pick = (0..2)
                .filter(|&i| streams[i])
                .filter_map(|i| self.out[i].lines.front().map(|m| (m.seq, i)))
                .min()?
                .1;
            let (line, used) = self.out[pick].take_line();
            self.buffered -= used;
            if let Some((bytes, partial)) = line {
                return Some(OutputLine {
                    stream: if pick == 0 {
                        Stream::Stdout
                    } else {
                        Stream::Stderr
                    },
                    bytes,
                    partial,
                });
            }
        }
    }

    /// Takes up to `buf.len()` bytes of `stream` as the child wrote them.
    pub(crate) fn take_bytes(&mut self, stream: Stream, buf: &mut [u8]) -> usize {
        let n = self.out[index(stream)].take_bytes(buf);
        self.buffered -= n;
        n
    }

    pub(crate) fn has_bytes(&self, stream: Stream) -> bool {
        !self.out[index(stream)].bytes.is_empty()
    }

    /// Bytes of whole lines, of both streams, not yet taken.
    fn whole(&self) -> usize {
        self.out.iter().map(StreamBuf::whole).sum()
    }

    /// Whether reading has drained the buffer enough to resume the child.
    /// Whole lines only, as for the pause: with every whole line taken the
    /// child always resumes, however long its lines in progress are.
    pub(crate) fn take_resume(&mut self) -> bool {
        if self.paused && self.whole() <= self.cap / 2 {
            self.paused = false;
            return true;
        }
        false
    }

    pub(crate) fn has_line(&self, streams: [bool; 2]) -> bool {
        (0..2).any(|i| streams[i] && !self.out[i].lines.is_empty())
    }
}

impl Shared {
    pub(crate) fn new(cap: usize, max_line: NonZeroUsize) -> Shared {
        Shared {
            state: Mutex::new(State {
                cap,
                out: [StreamBuf::new(max_line), StreamBuf::new(max_line)],
                ..State::default()
            }),
            cv: Condvar::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind: go on.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes every waiter; cheap when there is none (the driver calls this
    /// for every line).
    pub(crate) fn notify(&self, st: &State) {
        if st.waiters > 0 {
            self.cv.notify_all();
        }
    }

    /// Wakes every waiter, for rare events where the check is not worth it.
    pub(crate) fn notify_all_now(&self, _st: &State) {
        self.cv.notify_all();
    }

    /// Waits until `ready` holds or `deadline` passes; returns the guard
    /// and whether `ready` holds.
    pub(crate) fn wait_until<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        deadline: Option<Instant>,
        mut ready: impl FnMut(&State) -> bool,
    ) -> (MutexGuard<'a, State>, bool) {
        loop {
            if ready(&st) {
                return (st, true);
            }
            st.waiters += 1;
            st = match deadline {
                None => self.cv.wait(st).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        st.waiters -= 1;
                        return (st, false);
                    }
                    self.cv
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
            st.waiters -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lines::model;
    use crate::testutil::Rng;

    fn stream(rng: &mut Rng, len: usize) -> Vec<u8> {
        (0..len).map(|_| rng.pick(b"ab\r\n\n\0")).collect()
    }

    /// Pushes `data` in random chunks, as reads would cut it, and ends it.
    fn fill(rng: &mut Rng, data: &[u8], max: usize) -> State {
        let mut st = State {
            cap: usize::MAX,
            out: [0, 1].map(|_| StreamBuf::new(NonZeroUsize::new(max).unwrap())),
            ..State::default()
        };
        let mut rest = data;
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len().min(9));
            st.push_data(Stream::Stdout, &rest[..n]);
            rest = &rest[n..];
        }
        st.finish_lines(None);
        st
    }

    #[test]
    fn lines_split_from_raw_output_are_the_splitters_in_every_chunking() {
        let mut rng = Rng(13);
        for round in 0..2000 {
            let len = rng.below(40);
            let data = stream(&mut rng, len);
            let max = 1 + rng.below(6);
            let mut st = fill(&mut rng, &data, max);
            let mut got = Vec::new();
            while let Some(l) = st.pop_line([true, true]) {
                got.push((l.bytes, l.partial));
            }
            assert_eq!(got, model::split(&data, max), "round {round}: {data:?}");
            // Every line's ending was measured right, or bytes would be
            // left over (or a drain would have panicked).
            assert_eq!(st.buffered, 0);
        }
    }

    #[test]
    fn a_paused_child_always_leaves_a_whole_line_to_take() {
        // Whatever the buffer, the line limit and how reads cut the two
        // streams, a line reader must find a line while the child is
        // paused: it waits for none that only more output could finish.
        let mut rng = Rng(29);
        for round in 0..3000 {
            let cap = 1 + rng.below(12);
            let max = NonZeroUsize::new(1 + rng.below(20)).unwrap();
            let mut st = State {
                cap,
                out: [0, 1].map(|_| StreamBuf::new(max)),
                ..State::default()
            };
            let data = [0, 1].map(|_| {
                let len = rng.below(80);
                stream(&mut rng, len)
            });
            let mut at = [0, 0];
            while at != [data[0].len(), data[1].len()] {
                if st.paused {
                    assert!(
                        st.has_line([true, true]),
                        "round {round}: cap {cap} max {max}"
                    );
                    assert!(st.pop_line([true, true]).is_some(), "round {round}");
                    st.take_resume();
                    continue;
                }
                let i = rng.below(2);
                let n = (1 + rng.below(9)).min(data[i].len() - at[i]);
                let stream = [Stream::Stdout, Stream::Stderr][i];
                st.push_data(stream, &data[i][at[i]..at[i] + n]);
                at[i] += n;
            }
        }
    }

    #[test]
    fn taking_every_whole_line_resumes_the_child() {
        // Lines in progress on both streams, together past half the buffer,
        // must not keep the child paused once the whole lines are taken.
        let max = NonZeroUsize::new(64).unwrap();
        let mut st = State {
            cap: 100,
            out: [0, 1].map(|_| StreamBuf::new(max)),
            ..State::default()
        };
        let line = [&[b'a'; 60][..], b"\n"].concat();
        assert!(!st.push_data(Stream::Stdout, &line));
        assert!(st.push_data(Stream::Stdout, &line));
        assert!(!st.push_data(Stream::Stdout, &[b'b'; 40]));
        assert!(!st.push_data(Stream::Stderr, &[b'c'; 40]));
        while st.pop_line([true, true]).is_some() {}
        assert!(st.take_resume());
    }

    #[test]
    fn a_line_in_progress_longer_than_the_buffer_does_not_pause() {
        let max = NonZeroUsize::new(1 << 16).unwrap();
        let mut st = State {
            cap: 16,
            out: [0, 1].map(|_| StreamBuf::new(max)),
            ..State::default()
        };
        for _ in 0..10 {
            assert!(!st.push_data(Stream::Stdout, &[b'a'; 10]));
        }
        assert!(!st.has_line([true, true]));
        // Once whole, the line is output waiting to be read like any other.
        assert!(st.push_data(Stream::Stdout, b"\n"));
        assert_eq!(st.pop_line([true, true]).unwrap().bytes, [b'a'; 100]);
        assert!(st.take_resume());
    }

    #[test]
    fn byte_and_line_readers_share_the_stream_without_losing_a_byte() {
        let mut rng = Rng(7);
        for round in 0..2000 {
            let len = rng.below(40);
            let data = stream(&mut rng, len);
            let mut st = fill(&mut rng, &data, 4);
            // Bytes taken by either reader, in stream order: a byte reader
            // gets them as written, a line reader its content.
            let mut seen = Vec::new();
            loop {
                if rng.below(2) == 0 {
                    let mut buf = [0; 5];
                    let n = st.take_bytes(Stream::Stdout, &mut buf[..rng.below(6)]);
                    seen.extend_from_slice(&buf[..n]);
                } else if let Some(l) = st.pop_line([true, false]) {
                    seen.extend_from_slice(&l.bytes);
                }
                if !st.has_bytes(Stream::Stdout) {
                    break;
                }
            }
            assert_eq!(st.buffered, 0, "round {round}");
            assert!(st.pop_line([true, true]).is_none(), "round {round}");
            // Only line endings may be missing, never content.
            let kept: Vec<u8> = data.iter().copied().filter(|&b| b != b'\n').collect();
            let seen: Vec<u8> = seen.into_iter().filter(|&b| b != b'\n').collect();
            let strip = |v: Vec<u8>| -> Vec<u8> { v.into_iter().filter(|&b| b != b'\r').collect() };
            assert_eq!(strip(seen), strip(kept), "round {round}: {data:?}");
        }
    }
}
