//! A process's unread output: the bytes of both streams as the child
//! wrote them, the lines split off them, and the bound that pauses the
//! child while nobody reads.

use std::collections::VecDeque;
use std::num::NonZeroUsize;

use crate::child::{OutputLine, Stream};
use crate::lines::LineReader;

/// Whole lines buffered beyond this (per process, both streams) pause the
/// child until a reader catches up; reading below half of it resumes the
/// child. Each stream's line in progress is held besides, up to the line
/// limit: a line reader can take only whole lines, and waiting for more of
/// one from a paused child would wait forever.
pub(crate) const DEFAULT_BUFFER: usize = 1 << 20;

/// The unread output of both streams, bounded: whole lines beyond `cap`
/// pause the child until a reader takes them.
#[derive(Debug, Default)]
pub(crate) struct Buffer {
    out: [StreamBuf; 2],
    /// Orders the lines of the two streams as they were split.
    seq: u64,
    /// Bytes of both streams not taken yet (lines in progress included).
    buffered: usize,
    cap: usize,
    paused: bool,
}

impl Buffer {
    pub(crate) fn new(cap: usize, max_line: NonZeroUsize) -> Buffer {
        Buffer {
            cap,
            out: [StreamBuf::new(max_line), StreamBuf::new(max_line)],
            ..Buffer::default()
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

pub(crate) fn index(s: Stream) -> usize {
    match s {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

impl Buffer {
    /// Appends output of `stream`; returns whether the child should now be
    /// paused.
    ///
    /// Only whole lines count against the buffer. Were the lines in
    /// progress counted, one longer than the buffer (or two, one per
    /// stream, together) would pause the child with nothing a line reader
    /// can take, and that reader would wait forever for the rest. Not
    /// counting them keeps every pause with a line to take, and memory
    /// stays bounded: the splitter cuts a line in progress at the limit.
    pub(crate) fn push(&mut self, stream: Stream, data: &[u8]) -> bool {
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

    /// Drops every byte buffered and lifts the bound, so a child stops
    /// with nobody reading; returns whether the child was paused (and
    /// must be resumed).
    pub(crate) fn discard(&mut self) -> bool {
        self.out = Default::default();
        self.buffered = 0;
        self.cap = usize::MAX;
        std::mem::take(&mut self.paused)
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
    fn fill(rng: &mut Rng, data: &[u8], max: usize) -> Buffer {
        let mut st = Buffer {
            cap: usize::MAX,
            out: [0, 1].map(|_| StreamBuf::new(NonZeroUsize::new(max).unwrap())),
            ..Buffer::default()
        };
        let mut rest = data;
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len().min(9));
            st.push(Stream::Stdout, &rest[..n]);
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
            let mut st = Buffer {
                cap,
                out: [0, 1].map(|_| StreamBuf::new(max)),
                ..Buffer::default()
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
                st.push(stream, &data[i][at[i]..at[i] + n]);
                at[i] += n;
            }
        }
    }

    #[test]
    fn taking_every_whole_line_resumes_the_child() {
        // Lines in progress on both streams, together past half the buffer,
        // must not keep the child paused once the whole lines are taken.
        let max = NonZeroUsize::new(64).unwrap();
        let mut st = Buffer {
            cap: 100,
            out: [0, 1].map(|_| StreamBuf::new(max)),
            ..Buffer::default()
        };
        let line = [&[b'a'; 60][..], b"\n"].concat();
        assert!(!st.push(Stream::Stdout, &line));
        assert!(st.push(Stream::Stdout, &line));
        assert!(!st.push(Stream::Stdout, &[b'b'; 40]));
        assert!(!st.push(Stream::Stderr, &[b'c'; 40]));
        while st.pop_line([true, true]).is_some() {}
        assert!(st.take_resume());
    }

    #[test]
    fn a_line_in_progress_longer_than_the_buffer_does_not_pause() {
        let max = NonZeroUsize::new(1 << 16).unwrap();
        let mut st = Buffer {
            cap: 16,
            out: [0, 1].map(|_| StreamBuf::new(max)),
            ..Buffer::default()
        };
        for _ in 0..10 {
            assert!(!st.push(Stream::Stdout, &[b'a'; 10]));
        }
        assert!(!st.has_line([true, true]));
        // Once whole, the line is output waiting to be read like any other.
        assert!(st.push(Stream::Stdout, b"\n"));
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
