//! `set_drivers` refuses a pool it could not build, and a driver that
//! cannot start is an error of the start that needed it, never a panic.
//!
//! Its own test binary: the pool is global, and this file asks for sizes
//! (and lowers the fd limit) that no other test may share.

mod common;

use std::num::NonZeroUsize;

use common::with_watchdog;
use procrun::{set_drivers, Drivers, Error, Process, MAX_DRIVERS};

fn count(n: usize) -> Drivers {
    Drivers::Count(NonZeroUsize::new(n).unwrap())
}

/// One test, not several: the fd limit lowered below is the whole
/// process's, and a test running beside it would fail for it.
#[test]
fn set_drivers_bounds_the_count_and_a_driver_that_cannot_start_fails_its_start() {
    with_watchdog(|| {
        // Nothing was made for the refused sizes: the pool is made at the
        // first start, and none has happened yet.
        for n in [usize::MAX, MAX_DRIVERS + 1] {
            match set_drivers(count(n)) {
                Err(Error::TooManyDrivers { asked, max }) => {
                    assert_eq!((asked, max), (n, MAX_DRIVERS))
                }
                r => panic!("set_drivers({n}) gave {r:?}"),
            }
        }
        // At the cap it is accepted; then a small size is chosen instead,
        // so the start below does not make a thousand threads.
        set_drivers(count(MAX_DRIVERS)).unwrap();
        assert!(Drivers::PerCore.count().get() <= MAX_DRIVERS);
        set_drivers(count(1)).unwrap();

        // No fd left for the driver's epoll: the start says so and
        // leaves the process startable.
        let p = Process::builder().command(["true"]).build().unwrap();
        let open = std::fs::read_dir("/proc/self/fd").unwrap().count();
        let (soft, hard) = nofile();
        // `open` counts the read_dir's own fd, closed by now: the limit
        // is exactly what is open, so the next fd is refused.
        set_nofile(open as u64 - 1, hard);
        let r = p.start();
        set_nofile(soft, hard);
        match r {
            Err(Error::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}"),
            r => panic!("start without fds gave {r:?}"),
        }
        assert!(!p.started());
        p.start().unwrap();
        assert!(p.wait().unwrap().success());
        p.close().unwrap();
    });
}

fn nofile() -> (u64, u64) {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `l` is a valid rlimit for the call to fill.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) }, 0);
    (l.rlim_cur, l.rlim_max)
}

fn set_nofile(soft: u64, hard: u64) {
    let l = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `l` is a valid rlimit, read by the call.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &l) }, 0);
}
