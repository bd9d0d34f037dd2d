//! This process's resident set size, for the tests that check memory does
//! not grow and for the overhead bench that reports it (which includes this
//! file by path).

/// This process's resident set size in KiB, from `VmRSS` in
/// /proc/self/status.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}
