//! A criterion measurement of CPU time instead of the wall clock: on a
//! shared machine the wall clock swings with other load by more than the
//! few percent a spawn path adds; CPU time hardly does.

use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// CPU time of this process and of its reaped children, user plus system.
///
/// Every variant reaps its children inside the iteration, so their exec and
/// exit are counted with the parent's work.
pub struct CpuTime;

static WALL: WallTime = WallTime;

fn cpu_now() -> Duration {
    let mut total = Duration::ZERO;
    for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
        // SAFETY: an all-zero rusage is a valid value for getrusage to fill.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: ru is a valid, writable rusage.
        assert_eq!(unsafe { libc::getrusage(who, &mut ru) }, 0);
        for tv in [ru.ru_utime, ru.ru_stime] {
            total += Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
        }
    }
    total
}

impl Measurement for CpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        cpu_now()
    }

    fn end(&self, start: Duration) -> Duration {
        cpu_now() - start
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, d: &Duration) -> f64 {
        d.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        // Nanoseconds, as the wall clock's.
        WALL.formatter()
    }
}
