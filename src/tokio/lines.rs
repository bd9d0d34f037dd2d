//! A child's lines as they wait in its driver and in its handle: read
//! into segments a driver recycles and left where the read put them,
//! taken in one swap, handed out owned or lent.

use std::io;
use std::os::fd::OwnedFd;

use crate::child::{OutputLine, Stream};
use crate::lines::LineReader;
use crate::sys;

/// Whole lines and raw bytes buffered beyond this (per child, both
/// streams) pause the child until its handles take them; taking them below
/// half resumes it.
pub(super) const LINE_BUFFER: usize = 1 << 20;

/// What a line waiting for its handle counts toward [`LINE_BUFFER`]: its
/// bytes and its place in the queue, so that empty lines, which have no
/// bytes, are bounded too.
pub(super) fn held(line: &[u8]) -> usize {
    line.len() + std::mem::size_of::<OutputLine>()
}

/// A child's lines stored together, in segments of [`SEGMENT`] bytes that
/// a driver recycles ([`Spare`]): the lines' bytes in order, and their
/// headers (length, flags, and how far past the line before the line
/// starts) apart.
///
/// The pump reads a child's pipe straight into its slot's last segment
/// ([`Lines::read_from`]) and files the lines where the read put them,
/// line endings left in between: a line costs no copy but the kernel's.
/// Lines that come otherwise (a stream's last line, lines the reactor
/// holds back) are copied in ([`Lines::push`]). The handle swaps them
/// out in one take (`Slot::take_lines`), hands them out one by one
/// without the lock, and gives the segments back once it has handed
/// them all out. A `Vec` per line cost an allocation in the pump and a
/// free in the task (thousands made, then thousands freed: a pattern that
/// overflows the allocator's per-thread caches), and one growing buffer
/// per child cost its growth (copies, and fresh pages the allocator had
/// given back). The headers sit apart from the bytes so that finding the
/// next line needs no load of the line before: handing lines out is not
/// one cache access after another.
///
/// Boxed, and made by the first line: a thousand idle children hold a
/// thousand of these in their slots and as many in their handles.
#[derive(Debug, Default)]
pub(super) struct Lines(Option<Box<Batch>>);

#[derive(Debug, Default)]
struct Batch {
    segments: Vec<Segment>,
    /// The next line to hand out (those before it are handed out, and
    /// wait for a take to give their segments back).
    next: Cursor,
    /// Lines filed, handed out or not.
    filed: usize,
    /// What its lines count toward [`LINE_BUFFER`].
    held: usize,
}

/// Where the next line to hand out is: its segment, its place among the
/// segment's lines, where the line before it ends, and how many lines
/// were handed out.
#[derive(Debug, Default, Clone, Copy)]
struct Cursor {
    seg: usize,
    line: usize,
    at: usize,
    done: usize,
}

/// Lines' bytes in order, and their headers apart, in the same order:
/// finding line `k` needs header `k` only. Both keep their memory when
/// the segment is recycled.
///
/// Between two lines there may be bytes that are no line's: the line
/// ending of a line read in place, and bytes read that were not a whole
/// line yet (the line is filed once it ends, from a later read).
#[derive(Debug)]
struct Segment {
    bytes: Vec<u8>,
    heads: Vec<u64>,
    /// Where the last line's bytes end.
    end: usize,
}

/// Headers a segment takes at most: empty lines, which have no bytes,
/// fill it too.
const HEADS: usize = SEGMENT / HEADER;

impl Segment {
    fn new(size: usize) -> Segment {
        Segment {
            bytes: Vec::with_capacity(size),
            // Room for the lines of a full segment of 64-byte lines; more
            // grows once, and stays with the segment.
            heads: Vec::with_capacity(size.min(SEGMENT) / 64),
            end: 0,
        }
    }

    /// Whether a line of `len` bytes may be copied in.
    #[inline]
    fn fits(&self, len: usize) -> bool {
        self.bytes.capacity() - self.bytes.len() >= len
            && self.heads.len() < HEADS
            && self.bytes.len() - self.end <= SKIP_MAX
    }

    /// Copies a line in after the rest.
    #[inline]
    fn push(&mut self, stream: Stream, line: &[u8], partial: bool) {
        let at = self.bytes.len();
        self.bytes.extend_from_slice(line);
        self.file(stream, at, line.len(), partial);
    }

    /// Files the line of `len` bytes at `at`, at or past the last line's
    /// end.
    #[inline]
    fn file(&mut self, stream: Stream, at: usize, len: usize, partial: bool) {
        self.heads.push(head(stream, len, at - self.end, partial));
        self.end = at + len;
    }

    /// Whether the bytes after the last line end with `pending`: a line
    /// in progress whose bytes a read put there, and which the next read
    /// of its pipe may go on from.
    #[inline]
    fn ends_with(&self, pending: &[u8]) -> bool {
        self.bytes.len() - self.end >= pending.len() && self.bytes.ends_with(pending)
    }

    /// Whether the next read of a pipe whose line in progress is
    /// `pending` goes into this segment, for at most `want` bytes: if so,
    /// whether `pending` is there already, last.
    #[inline]
    fn takes_read(&self, pending: &[u8], want: usize) -> Option<bool> {
        // Only a segment of the usual size: a line's bytes and what lies
        // between lines must stay within what a header can say.
        if self.bytes.capacity() != SEGMENT || self.heads.len() >= HEADS {
            return None;
        }
        let there = self.ends_with(pending);
        let carried = if there { 0 } else { pending.len() };
        let room = self.bytes.capacity() - self.bytes.len();
        (room >= carried + want.min(MIN_READ)).then_some(there)
    }

    /// Line `k`, the line before it ending at `at`; and where it ends.
    #[inline]
    fn line(&self, k: usize, at: usize) -> (LineRef<'_>, usize) {
        let head = self.heads[k];
        let start = at + ((head >> SKIP_SHIFT) as usize & SKIP_MAX);
        let end = start + (head & LEN_MASK) as usize;
        let line = LineRef {
            stream: if head & STDERR_BIT != 0 {
                Stream::Stderr
            } else {
                Stream::Stdout
            },
            bytes: &self.bytes[start..end],
            partial: head & PARTIAL_BIT != 0,
        };
        (line, end)
    }

    fn lines(&self) -> usize {
        self.heads.len()
    }
}

impl Cursor {
    /// Hands out the next line of `segments`.
    #[inline]
    fn next<'a>(&mut self, segments: &'a [Segment]) -> Option<LineRef<'a>> {
        loop {
            let s = segments.get(self.seg)?;
            if self.line < s.lines() {
                let (line, end) = s.line(self.line, self.at);
                self.line += 1;
                self.at = end;
                self.done += 1;
                return Some(line);
            }
            *self = Cursor {
                seg: self.seg + 1,
                done: self.done,
                ..Cursor::default()
            };
        }
    }
}

/// Bytes of a segment: below the size for which glibc's allocator makes a
/// mapping of its own (128 KiB at first), so a segment freed goes back to
/// its heap, not unmapped and faulted in again when the next is made. A
/// line longer than this gets a segment of its own size.
const SEGMENT: usize = 64 * 1024;
/// A line's header: its length in the low [`LEN_BITS`] bits, then how
/// far past the line before its bytes start (at most [`SKIP_MAX`]), and
/// its stream and partial flag in the two top bits.
const HEADER: usize = std::mem::size_of::<u64>();
const STDERR_BIT: u64 = 1 << 63;
const PARTIAL_BIT: u64 = 1 << 62;
/// 4 TiB: more than a line can be, held in memory.
const LEN_BITS: u32 = 42;
const LEN_MASK: u64 = (1 << LEN_BITS) - 1;
const SKIP_SHIFT: u32 = LEN_BITS;
/// Bytes between two lines: at most a segment's (a line in progress
/// longer than [`CARRIED_MAX`] is not read in place).
const SKIP_MAX: usize = (1 << 20) - 1;

/// A line's header.
#[inline]
fn head(stream: Stream, len: usize, skip: usize, partial: bool) -> u64 {
    debug_assert!(len as u64 <= LEN_MASK && skip <= SKIP_MAX);
    let mut head = len as u64 | (skip as u64) << SKIP_SHIFT;
    if stream == Stream::Stderr {
        head |= STDERR_BIT;
    }
    if partial {
        head |= PARTIAL_BIT;
    }
    head
}

/// The least room in a segment worth a read of its own: below it the
/// read goes to a new segment, the line in progress with it (a read of a
/// few bytes would cost a call for them alone).
const MIN_READ: usize = 4096;

/// A line in progress longer than this is not read in place: it would
/// be copied into every segment its line goes on in. Its pipe's reads
/// are copied in as lines, as when nothing is read in place.
pub(super) const CARRIED_MAX: usize = SEGMENT / 4;

/// Emptied segments a driver keeps for the next lines of any child: a
/// handle gives its segments back here, and the next lines filed take
/// them, so memory in use follows what waits (and 1 MiB at most stays
/// spare once the lines stop).
#[derive(Debug, Default)]
pub(super) struct Spare(Vec<Segment>);

const SPARE_SEGMENTS: usize = LINE_BUFFER / SEGMENT;

impl Spare {
    fn take(&mut self, need: usize) -> Segment {
        if need <= SEGMENT {
            if let Some(seg) = self.0.pop() {
                return seg;
            }
        }
        Segment::new(need.max(SEGMENT))
    }

    fn give(&mut self, mut seg: Segment) {
        if seg.bytes.capacity() == SEGMENT && self.0.len() < SPARE_SEGMENTS {
            seg.bytes.clear();
            seg.end = 0;
            if seg.heads.capacity() > HEADS {
                // A read in place of a segment of empty lines filed a
                // header per byte: not kept past the bound a copy keeps.
                seg.heads = Vec::with_capacity(SEGMENT / 64);
            }
            seg.heads.clear();
            self.0.push(seg);
        }
    }
}

impl Lines {
    /// Files a line by copying it in.
    #[inline]
    pub(super) fn push(&mut self, spare: &mut Spare, stream: Stream, line: &[u8], partial: bool) {
        let b = self.0.get_or_insert_with(Box::default);
        if !matches!(b.segments.last(), Some(seg) if seg.fits(line.len())) {
            b.segments.push(spare.take(line.len()));
        }
        let seg = b.segments.last_mut().expect("a segment with room");
        seg.push(stream, line, partial);
        b.filed += 1;
        b.held += held(line);
    }

    /// One read of at most `want` bytes of the child's pipe `fd` (of
    /// `stream`, split by `reader`) into the last segment, and its lines
    /// filed where the read put them: the bytes read (0 at end of file)
    /// and what the new lines count toward [`LINE_BUFFER`].
    ///
    /// The line in progress (`reader`'s pending bytes) goes before the
    /// read's bytes, so that when it ends it is one run of bytes too: it
    /// is there already when this pipe's last read put it last, else it
    /// is copied. The caller reads a line in progress longer than
    /// [`CARRIED_MAX`] by copying its lines in.
    pub(super) fn read_from(
        &mut self,
        spare: &mut Spare,
        stream: Stream,
        reader: &mut LineReader,
        fd: &OwnedFd,
        want: usize,
    ) -> io::Result<(usize, usize)> {
        // A read of no bytes would read as the end of the stream.
        debug_assert!(want > 0);
        let b = self.0.get_or_insert_with(Box::default);
        let pending = reader.pending_bytes();
        debug_assert!(pending.len() <= CARRIED_MAX);
        let there = b
            .segments
            .last()
            .and_then(|seg| seg.takes_read(pending, want));
        let fresh = there.is_none();
        if fresh {
            b.segments.push(spare.take(SEGMENT));
        }
        let seg = b.segments.last_mut().expect("a segment for the read");
        let before = seg.bytes.len();
        let start = if there == Some(true) {
            before - pending.len()
        } else {
            seg.bytes.extend_from_slice(pending);
            before
        };
        let at = seg.bytes.len();
        let n = match sys::read_append(fd, &mut seg.bytes, want) {
            Ok(n) if n > 0 => n,
            done => {
                seg.bytes.truncate(before);
                if fresh {
                    spare.give(b.segments.pop().expect("the segment taken"));
                }
                return done.map(|n| (n, 0));
            }
        };
        let Segment { bytes, heads, end } = seg;
        let base = bytes.as_ptr() as usize;
        let read = base + at..=base + at + n;
        // A line the reader hands from the chunk lies in it. One it hands
        // from its own bytes (the line in progress, ended or cut into a
        // piece by this read) starts where they were put, at `start`; a
        // second such piece starts where the first ends, past `start`,
        // which the last line's end gives.
        let mut filed = 0;
        let mut added = 0;
        reader.feed(&bytes[at..at + n], |l| {
            let line = l.bytes();
            let p = line.as_ptr() as usize;
            let pos = if read.contains(&p) { p - base } else { start }.max(*end);
            debug_assert_eq!(&bytes[pos..pos + line.len()], line);
            heads.push(head(stream, line.len(), pos - *end, l.is_partial()));
            *end = pos + line.len();
            filed += 1;
            added += held(line);
        });
        if fresh && filed == 0 {
            // The read ended no line: what it read is the reader's line in
            // progress, which the next read puts before its bytes anyway.
            // A child that writes a line slowly holds no segment for it.
            spare.give(b.segments.pop().expect("the segment taken"));
        }
        b.filed += filed;
        b.held += added;
        Ok((n, added))
    }

    /// Whether every line was handed out.
    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.0.as_ref().map_or(true, |b| b.next.done == b.filed)
    }

    /// Hands out the next line, with the one copy it takes to own it.
    #[inline]
    pub(super) fn pop(&mut self) -> Option<OutputLine> {
        self.pop_ref().map(|line| line.to_output_line())
    }

    /// Lends the next line.
    #[inline]
    pub(super) fn pop_ref(&mut self) -> Option<LineRef<'_>> {
        let b = self.0.as_deref_mut()?;
        b.next.next(&b.segments)
    }

    /// Lends the lines not handed out yet, each handed out as the batch
    /// gives it.
    pub(super) fn lend(&mut self) -> LineBatch<'_> {
        match self.0.as_deref_mut() {
            Some(Batch { segments, next, .. }) => LineBatch {
                segments,
                next: Some(next),
            },
            None => LineBatch {
                segments: &[],
                next: None,
            },
        }
    }

    /// The lines not handed out yet, without handing them out.
    pub(super) fn rest(&self) -> impl Iterator<Item = (Stream, &[u8], bool)> + '_ {
        let (segments, mut next) = self
            .0
            .as_deref()
            .map_or((&[][..], Cursor::default()), |b| (&b.segments[..], b.next));
        std::iter::from_fn(move || {
            next.next(segments)
                .map(|line| (line.stream, line.bytes, line.partial))
        })
    }

    /// What its lines count toward [`LINE_BUFFER`], handed out or not.
    pub(super) fn held(&self) -> usize {
        self.0.as_ref().map_or(0, |b| b.held)
    }

    /// Drops every line, giving the segments to `spare`.
    pub(super) fn clear(&mut self, spare: &mut Spare) {
        if let Some(b) = &mut self.0 {
            b.segments.drain(..).for_each(|seg| spare.give(seg));
            b.next = Cursor::default();
            b.filed = 0;
            b.held = 0;
        }
    }

    /// Drops every line and what holds them.
    pub(super) fn free(&mut self, spare: &mut Spare) {
        self.clear(spare);
        self.0 = None;
    }
}

/// A line a child wrote, lent by
/// [`Child::next_line_ref`](super::Child::next_line_ref) until the handle
/// is used again: no copy is made for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineRef<'a> {
    stream: Stream,
    bytes: &'a [u8],
    partial: bool,
}

impl<'a> LineRef<'a> {
    /// The stream it came from.
    pub fn stream(&self) -> Stream {
        self.stream
    }

    /// The line without its line ending.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Whether this is a piece of a longer line that goes on.
    pub fn is_partial(&self) -> bool {
        self.partial
    }

    /// The line as text, invalid UTF-8 replaced.
    pub fn to_string_lossy(&self) -> std::borrow::Cow<'a, str> {
        String::from_utf8_lossy(self.bytes)
    }

    /// The line, owned: one copy.
    pub fn to_output_line(&self) -> OutputLine {
        OutputLine {
            stream: self.stream,
            bytes: self.bytes.to_vec(),
            partial: self.partial,
        }
    }
}

/// The lines a [`Child`](super::Child) holds, lent together by
/// [`Child::next_lines`](super::Child::next_lines): an iterator of
/// [`LineRef`]s, no copy made for any. Each line is handed out as the
/// batch gives it; those it did not give stay in the handle.
#[derive(Debug)]
pub struct LineBatch<'a> {
    segments: &'a [Segment],
    /// The handle's cursor.
    next: Option<&'a mut Cursor>,
}

impl<'a> Iterator for LineBatch<'a> {
    type Item = LineRef<'a>;

    #[inline]
    fn next(&mut self) -> Option<LineRef<'a>> {
        self.next.as_mut()?.next(self.segments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng;

    /// Lines of every kind (empty, stderr, partial, longer than a
    /// segment), enough to fill several segments.
    fn model() -> Vec<(Stream, Vec<u8>, bool)> {
        let mut lines = Vec::new();
        for i in 0..5000usize {
            let stream = if i % 3 == 0 {
                Stream::Stderr
            } else {
                Stream::Stdout
            };
            let bytes = match i % 7 {
                0 => Vec::new(),
                1 => vec![b'x'; SEGMENT + i],
                _ => i.to_string().repeat(i % 13 + 1).into_bytes(),
            };
            lines.push((stream, bytes, i % 5 == 0));
        }
        lines
    }

    fn filled(spare: &mut Spare, lines: &[(Stream, Vec<u8>, bool)]) -> Lines {
        let mut l = Lines::default();
        for (s, b, p) in lines {
            l.push(spare, *s, b, *p);
        }
        l
    }

    /// Every line back once, in order, with its stream and flag, whether
    /// owned or lent, and `rest` sees what is left at any point.
    #[test]
    fn lines_come_back_as_pushed_across_segments() {
        let lines = model();
        let mut spare = Spare::default();
        for round in 0..2 {
            let mut l = filled(&mut spare, &lines);
            let held: usize = lines.iter().map(|(_, b, _)| held(b)).sum();
            assert_eq!(l.held(), held, "round {round}");
            for (i, want) in lines.iter().enumerate() {
                assert!(!l.is_empty());
                if i % 1000 == 0 {
                    let rest: Vec<_> = l.rest().map(|(s, b, p)| (s, b.to_vec(), p)).collect();
                    assert_eq!(rest, lines[i..]);
                }
                let got = if i % 2 == 0 {
                    l.pop().map(|o| (o.stream, o.bytes, o.partial))
                } else {
                    l.pop_ref()
                        .map(|r| (r.stream(), r.bytes().to_vec(), r.is_partial()))
                };
                assert_eq!(got.as_ref(), Some(want), "line {i}, round {round}");
            }
            assert!(l.is_empty());
            assert!(l.pop_ref().is_none());
            assert_eq!(l.rest().count(), 0);
            l.clear(&mut spare);
            assert!(l.is_empty());
            assert_eq!(l.held(), 0);
        }
    }

    /// Empty lines, which have no bytes, fill a segment by their headers:
    /// a segment's headers are bounded as its bytes are.
    #[test]
    fn empty_lines_fill_segments_too() {
        let mut spare = Spare::default();
        let mut l = Lines::default();
        for _ in 0..3 * HEADS {
            l.push(&mut spare, Stream::Stdout, b"", false);
        }
        let b = l.0.as_deref().unwrap();
        assert_eq!(b.segments.len(), 3);
        assert!(b.segments.iter().all(|s| s.heads.len() == HEADS));
        assert_eq!(l.rest().count(), 3 * HEADS);
        assert!(
            std::iter::from_fn(|| l.pop_ref().map(|r| r.bytes().is_empty()))
                .take(3 * HEADS + 1)
                .all(|empty| empty)
        );
        assert!(l.is_empty());
    }

    /// What the reactor's reader hands on for one read of `stream`:
    /// each line, as a handle gets it.
    fn split(reader: &mut LineReader, stream: Stream, bytes: &[u8]) -> Vec<Owned> {
        let mut lines = Vec::new();
        reader.feed(bytes, |l| {
            lines.push((stream, l.bytes().to_vec(), l.is_partial()))
        });
        lines
    }

    type Owned = (Stream, Vec<u8>, bool);

    /// Hands out `count` lines of `l` (every one for `None`), owned, lent
    /// one by one, or lent in a batch.
    fn hand_out(l: &mut Lines, count: Option<usize>, how: usize, got: &mut Vec<Owned>) {
        let count = count.unwrap_or(usize::MAX);
        match how {
            0 => got.extend(
                std::iter::from_fn(|| l.pop())
                    .take(count)
                    .map(|o| (o.stream, o.bytes, o.partial)),
            ),
            1 => {
                for _ in 0..count {
                    let Some(r) = l.pop_ref() else { break };
                    got.push((r.stream(), r.bytes().to_vec(), r.is_partial()));
                }
            }
            _ => got.extend(
                l.lend()
                    .take(count)
                    .map(|r| (r.stream(), r.bytes().to_vec(), r.is_partial())),
            ),
        }
    }

    /// Lines read in place from two pipes at once, in reads of every
    /// size, among lines copied in, taken as a handle takes them: the
    /// lines the reader splits from the same reads, in the same order,
    /// and counted alike; and a read that ends no line holds no segment.
    #[test]
    fn lines_read_in_place_are_the_lines_the_reader_gives() {
        use std::num::NonZeroUsize;
        let mut rng = Rng(0x1a7e_5e9d_0b5e_0042);
        let mut spare = Spare::default();
        for round in 0..60 {
            let max = [1, 2, 3, 7, 64, 300, 20_000, crate::lines::DEFAULT_MAX_LINE][round % 8];
            let max = NonZeroUsize::new(max).unwrap();
            let mut pipes = [sys::output_pipe().unwrap(), sys::output_pipe().unwrap()];
            let streams = [Stream::Stdout, Stream::Stderr];
            let mut readers = [
                LineReader::with_max_line(max),
                LineReader::with_max_line(max),
            ];
            let mut models = readers.clone();
            let (mut l, mut taken) = (Lines::default(), Lines::default());
            let (mut want, mut got) = (Vec::new(), Vec::new());
            let mut held_want = 0;
            let mut in_place = 0;
            for step in 0..400 {
                let k = rng.below(2);
                match rng.below(12) {
                    // A line copied in, as the reactor's last line of a
                    // stream is.
                    0 => {
                        let line = format!("copied {step}").into_bytes();
                        l.push(&mut spare, streams[k], &line, step % 3 == 0);
                        held_want += held(&line);
                        want.push((streams[k], line, step % 3 == 0));
                    }
                    // A take: what the handle holds is all handed out, the
                    // waiting lines swapped in, some of them handed out.
                    1 => {
                        hand_out(&mut taken, None, rng.below(3), &mut got);
                        assert!(taken.is_empty());
                        taken.clear(&mut spare);
                        std::mem::swap(&mut taken, &mut l);
                        assert_eq!(taken.held(), held_want);
                        held_want = 0;
                        hand_out(&mut taken, Some(rng.below(50)), rng.below(3), &mut got);
                    }
                    _ => {
                        let len = match rng.below(8) {
                            0 => rng.below(60_000),
                            1 => 0,
                            _ => rng.below(400),
                        };
                        let bytes: Vec<u8> = (0..len)
                            .map(|_| match rng.below(10) {
                                0 => b'\r',
                                1 | 2 => b'\n',
                                _ => b'a' + rng.below(26) as u8,
                            })
                            .collect();
                        let mut written = 0;
                        while written < len {
                            written += sys::write(&pipes[k].1, &bytes[written..]).unwrap();
                        }
                        let mut read = 0;
                        loop {
                            let most =
                                [1, 5, 100, 4096, 65536, 1 + rng.below(70_000)][rng.below(6)];
                            let (n, added) = if readers[k].pending() <= CARRIED_MAX {
                                in_place += 1;
                                match l.read_from(
                                    &mut spare,
                                    streams[k],
                                    &mut readers[k],
                                    &pipes[k].0,
                                    most,
                                ) {
                                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                                    r => r.unwrap(),
                                }
                            } else {
                                // Too long a line in progress: its lines are
                                // copied in, as the driver's other reads.
                                let mut buf = vec![0; most];
                                let n = match sys::read(&pipes[k].0, &mut buf) {
                                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                                    r => r.unwrap(),
                                };
                                let mut added = 0;
                                for (s, b, p) in split(&mut readers[k], streams[k], &buf[..n]) {
                                    added += held(&b);
                                    l.push(&mut spare, s, &b, p);
                                }
                                (n, added)
                            };
                            assert!(n > 0 && n <= most, "{n} of {most}");
                            let lines = split(&mut models[k], streams[k], &bytes[read..read + n]);
                            read += n;
                            assert_eq!(added, lines.iter().map(|(_, b, _)| held(b)).sum::<usize>());
                            held_want += added;
                            want.extend(lines);
                        }
                        assert_eq!(read, len);
                        assert_eq!(readers[k].pending_bytes(), models[k].pending_bytes());
                    }
                }
            }
            // The ends of both streams: the last lines are copied in.
            for k in 0..2 {
                let (r, w) = std::mem::replace(&mut pipes[k], sys::output_pipe().unwrap());
                drop(w);
                assert_eq!(
                    l.read_from(&mut spare, streams[k], &mut readers[k], &r, 100)
                        .unwrap(),
                    (0, 0)
                );
                readers[k]
                    .finish(|line| l.push(&mut spare, streams[k], line.bytes(), line.is_partial()));
                models[k].finish(|line| {
                    want.push((streams[k], line.bytes().to_vec(), line.is_partial()))
                });
            }
            hand_out(&mut taken, None, 0, &mut got);
            hand_out(&mut l, None, 2, &mut got);
            assert!(l.is_empty() && taken.is_empty());
            assert_eq!(got, want, "round {round}, max {max}");
            assert!(in_place > 100, "{in_place} reads in place");
            l.free(&mut spare);
            taken.free(&mut spare);
        }
        // A read that ends no line leaves its bytes with the reader, and
        // no segment held for them.
        let (r, w) = sys::output_pipe().unwrap();
        let mut reader = LineReader::new();
        let mut l = Lines::default();
        let spares = spare.0.len();
        sys::write(&w, b"a line without its end").unwrap();
        assert_eq!(
            l.read_from(&mut spare, Stream::Stdout, &mut reader, &r, 4096)
                .unwrap(),
            (22, 0)
        );
        assert!(l.0.as_ref().unwrap().segments.is_empty());
        assert_eq!(spare.0.len(), spares);
        assert!(l.is_empty());
        sys::write(&w, b", ended\n").unwrap();
        assert_eq!(
            l.read_from(&mut spare, Stream::Stdout, &mut reader, &r, 4096)
                .unwrap()
                .0,
            8
        );
        assert_eq!(
            l.pop_ref().unwrap().bytes(),
            b"a line without its end, ended"
        );
    }

    /// Segments given back are taken by the next lines, of this child or
    /// another; past the allowance, and segments made for one long line,
    /// go back to the allocator.
    #[test]
    fn spare_segments_are_reused_and_bounded() {
        let mut spare = Spare::default();
        let line = [b'y'; 1000];
        let mut a = Lines::default();
        for _ in 0..(4 * LINE_BUFFER / line.len()) {
            a.push(&mut spare, Stream::Stdout, &line, false);
        }
        a.push(&mut spare, Stream::Stdout, &[b'z'; 2 * SEGMENT], false);
        a.clear(&mut spare);
        assert_eq!(spare.0.len(), SPARE_SEGMENTS);
        assert!(spare
            .0
            .iter()
            .all(|s| s.bytes.capacity() == SEGMENT && s.bytes.is_empty() && s.heads.is_empty()));
        let mut b = Lines::default();
        b.push(&mut spare, Stream::Stderr, b"next", true);
        assert_eq!(spare.0.len(), SPARE_SEGMENTS - 1);
        assert_eq!(
            b.rest().collect::<Vec<_>>(),
            [(Stream::Stderr, &b"next"[..], true)]
        );
        b.free(&mut spare);
        assert_eq!(spare.0.len(), SPARE_SEGMENTS);
        assert!(b.is_empty());
    }
}
