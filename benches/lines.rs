//! Line splitting throughput: procrun's `LineReader` beside std's
//! `BufRead::read_until` over the same bytes and bare `memchr_iter` loops
//! (the ceiling), for 16-byte, 64-byte and 4 KiB lines fed in 64 KiB chunks
//! as a pipe read would deliver them.
//!
//! Two ceilings are measured: `memchr_count` is `memchr_iter(..).count()`,
//! which memchr answers with a vectorised byte count that never stops at a
//! match; `memchr_walk` visits every match and the length of every line, as
//! any splitter has to. Lines per second are bytes per second divided by the
//! line length (the `\n` included).
//!
//! It drives the `lines` module directly, which is public only with the
//! `internals` feature: `cargo bench --features internals --bench lines`.

use std::hint::black_box;
use std::io::BufRead;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use memchr::memchr_iter;
use procrun::lines::LineReader;

const CHUNK: usize = 64 * 1024;
const TOTAL: usize = 1024 * 1024;

/// `TOTAL` bytes of lines of `len` bytes each, `\n` included.
fn stream(len: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(TOTAL);
    let mut i = 0u32;
    while data.len() < TOTAL {
        for _ in 0..len - 1 {
            i = i.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            data.push(b' ' + (i >> 16) as u8 % 94);
        }
        data.push(b'\n');
    }
    data.truncate(TOTAL);
    data
}

fn lines(c: &mut Criterion) {
    let mut group = c.benchmark_group("lines");
    group.throughput(Throughput::Bytes(TOTAL as u64));
    for len in [16, 64, 256, 1024, 4096] {
        let data = stream(len);
        let expected = data.iter().filter(|&&b| b == b'\n').count();

        group.bench_with_input(BenchmarkId::new("procrun", len), &data, |b, data| {
            let mut reader = LineReader::new();
            b.iter(|| {
                let (mut count, mut bytes) = (0usize, 0usize);
                for chunk in data.chunks(CHUNK) {
                    reader.feed(black_box(chunk), |line| {
                        count += 1;
                        bytes += line.bytes().len();
                    });
                }
                reader.finish(|line| {
                    count += 1;
                    bytes += line.bytes().len();
                });
                assert!(count >= expected);
                black_box((count, bytes))
            })
        });

        group.bench_with_input(BenchmarkId::new("std_read_until", len), &data, |b, data| {
            let mut buf = Vec::with_capacity(len);
            b.iter(|| {
                let (mut count, mut bytes) = (0usize, 0usize);
                let mut reader = std::io::BufReader::with_capacity(CHUNK, black_box(&data[..]));
                while reader.read_until(b'\n', &mut buf).unwrap() != 0 {
                    count += 1;
                    bytes += buf.len();
                    buf.clear();
                }
                assert!(count >= expected);
                black_box((count, bytes))
            })
        });

        group.bench_with_input(BenchmarkId::new("memchr_walk", len), &data, |b, data| {
            b.iter(|| {
                let (mut count, mut bytes) = (0usize, 0usize);
                for chunk in data.chunks(CHUNK) {
                    let mut start = 0;
                    for end in memchr_iter(b'\n', black_box(chunk)) {
                        count += 1;
                        bytes += end - start;
                        start = end + 1;
                    }
                }
                assert_eq!(count, expected);
                black_box((count, bytes))
            })
        });

        group.bench_with_input(BenchmarkId::new("memchr_count", len), &data, |b, data| {
            b.iter(|| {
                let count: usize = data
                    .chunks(CHUNK)
                    .map(|chunk| memchr_iter(b'\n', black_box(chunk)).count())
                    .sum();
                assert_eq!(count, expected);
                black_box(count)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, lines);
criterion_main!(benches);
