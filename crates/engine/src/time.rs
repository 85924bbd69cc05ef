//! Timestamps as Step Functions writes and compares them: RFC 3339 text ↔ nanoseconds since
//! the Unix epoch, without a date-time dependency (the engine needs only these two directions).

use flowctl_protocol::calendar::{days_from_civil, days_in_month, rfc3339_millis};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses an RFC 3339 timestamp in the profile Step Functions accepts (`2024-01-31T12:00:00Z`,
/// optional fraction, `Z` or `±HH:MM`; upper-case `T` and `Z`) into nanoseconds since the
/// epoch. `None` for anything else, including impossible dates.
pub(crate) fn parse_timestamp(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0i64, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    };
    let sep = |at: usize, c: u8| b.get(at) == Some(&c);
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
        return None;
    }
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > i64::from(days_in_month(year, month as u32))
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut i = 19;
    let mut nanos: i128 = 0;
    if sep(i, b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 9 {
                nanos = nanos * 10 + i128::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..9 {
            nanos *= 10;
        }
    }
    let offset_seconds = match b.get(i..)? {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let off = h * 3600 + m * 60;
            if *sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month as u32, day as u32);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    Some(i128::from(seconds) * 1_000_000_000 + nanos)
}

/// `2024-01-31T12:00:00.123Z`: UTC with milliseconds, as the context object and the history
/// show times.
pub(crate) fn format_timestamp(t: SystemTime) -> String {
    let millis = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        // Before the epoch: floor, so -0.5 ms shows as …59.999.
        Err(e) => -(e.duration().as_nanos().div_ceil(1_000_000) as i64),
    };
    rfc3339_millis(millis)
}

/// The `SystemTime` of a parsed timestamp (saturating at the representable range).
pub(crate) fn system_time_of(nanos: i128) -> SystemTime {
    let magnitude = Duration::from_nanos(u64::try_from(nanos.unsigned_abs()).unwrap_or(u64::MAX));
    if nanos >= 0 {
        UNIX_EPOCH.checked_add(magnitude).unwrap_or(UNIX_EPOCH)
    } else {
        UNIX_EPOCH.checked_sub(magnitude).unwrap_or(UNIX_EPOCH)
    }
}

/// An execution's clock for its history: the start time plus the elapsed `tokio::time`
/// (virtual under a paused tokio clock), read at most about once per 0.25 ms of real time
/// within one poll of the execution.
///
/// Step Functions' timestamps have millisecond resolution; a read of the clock (`Instant::now`
/// through tokio, a `clock_gettime`, the arithmetic) cost about a fifth of a short execution
/// when it was made for every event. So a read is kept and handed to the events that follow,
/// as long as the CPU's time-stamp counter (a few cycles to read) shows that less than
/// `REUSE_FOR` has passed since, and only within one poll of the execution
/// ([`Clock::new_poll`], so that a paused tokio clock advanced while the execution waited is
/// seen). Every timestamp is therefore at most 0.25 ms before the moment it stands for, and
/// never before an earlier one. Where no counter can be trusted (not x86-64, or Linux does
/// not keep time by the TSC), every event reads the clock, as before.
pub(crate) struct Clock {
    start_instant: tokio::time::Instant,
    /// Nanoseconds from the start to the kept read, plus one; 0 when none may be reused.
    kept: AtomicU64,
    /// The time-stamp counter at the kept read.
    kept_tick: AtomicU64,
}

/// How long a read of the clock is reused at most.
const REUSE_FOR: Duration = Duration::from_micros(250);

impl Clock {
    pub(crate) fn new(start_instant: tokio::time::Instant) -> Clock {
        Clock {
            start_instant,
            kept: AtomicU64::new(0),
            kept_tick: AtomicU64::new(0),
        }
    }

    /// Now, as the history stamps it (see the type's documentation), for an execution that
    /// started at `start` (when `start_instant` was read).
    #[inline]
    pub(crate) fn now(&self, start: SystemTime) -> SystemTime {
        // Loads and stores, no locked instruction: one task polls all futures of an
        // execution, never two at once.
        let kept = self.kept.load(Relaxed);
        if kept != 0 {
            if let Some(limit) = ticks::reuse_limit() {
                if ticks::now().wrapping_sub(self.kept_tick.load(Relaxed)) < limit {
                    return start + Duration::from_nanos(kept - 1);
                }
            }
        }
        self.read(start)
    }

    #[inline(never)]
    fn read(&self, start: SystemTime) -> SystemTime {
        let tick = ticks::now();
        let elapsed = self.start_instant.elapsed();
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX - 1);
        // Never before a read kept earlier (tokio's `Instant` does not go back, but say so).
        let nanos = nanos.max(self.kept.load(Relaxed).saturating_sub(1));
        self.kept.store(nanos + 1, Relaxed);
        self.kept_tick.store(tick, Relaxed);
        start + Duration::from_nanos(nanos)
    }

    /// The execution is polled again: time may have passed on a paused tokio clock, or on a
    /// counter read on another core; the next event reads the clock.
    #[inline]
    pub(crate) fn new_poll(&self) {
        // A tick of 0 (the counter at power-on, long past) makes `now` read the clock; the
        // time kept stays the floor of the next read.
        self.kept_tick.store(0, Relaxed);
    }

    /// `run`, with [`Clock::new_poll`] before each of its polls.
    pub(crate) fn each_poll<'f, F: Future + Unpin + 'f>(
        &'f self,
        mut run: F,
    ) -> impl Future<Output = F::Output> + 'f {
        std::future::poll_fn(move |cx| {
            self.new_poll();
            Pin::new(&mut run).poll(cx)
        })
    }
}

/// The CPU's time-stamp counter, where Linux keeps time by it (so it runs at a constant rate
/// and in step on every core): its reading, and how many ticks are `REUSE_FOR`, measured
/// against `std::time::Instant` once at least 2 ms have passed since the first use.
mod ticks {
    use super::REUSE_FOR;
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    /// Calibration: a first reading and when it was taken; `None` without a usable counter.
    static ORIGIN: OnceLock<Option<(Instant, u64)>> = OnceLock::new();
    /// Ticks in `REUSE_FOR`; 0 until measured (then every event reads the clock).
    static LIMIT: AtomicU64 = AtomicU64::new(0);
    const MEASURE_OVER: Duration = Duration::from_millis(2);

    #[cfg(target_arch = "x86_64")]
    #[inline]
    pub(super) fn now() -> u64 {
        // SAFETY: `rdtsc` is on every x86-64 CPU and has no effect beyond its result.
        #[allow(unused_unsafe)]
        unsafe {
            std::arch::x86_64::_rdtsc()
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    #[inline]
    pub(super) fn now() -> u64 {
        0
    }

    fn usable() -> bool {
        cfg!(target_arch = "x86_64")
            && std::fs::read_to_string(
                "/sys/devices/system/clocksource/clocksource0/current_clocksource",
            )
            .is_ok_and(|source| source.trim() == "tsc")
    }

    /// Ticks in which less than `REUSE_FOR` passes, once known.
    #[inline]
    pub(super) fn reuse_limit() -> Option<u64> {
        match LIMIT.load(Relaxed) {
            0 => measure(),
            limit => Some(limit),
        }
    }

    #[cold]
    fn measure() -> Option<u64> {
        let (origin, first) = (*ORIGIN.get_or_init(|| usable().then(|| (Instant::now(), now()))))?;
        let elapsed = origin.elapsed();
        if elapsed < MEASURE_OVER {
            return None;
        }
        let ticks = now().wrapping_sub(first);
        let limit = (u128::from(ticks) * REUSE_FOR.as_nanos() / elapsed.as_nanos()) as u64;
        // Under one tick per microsecond, the counter is not what it should be: do without it.
        if limit < REUSE_FOR.as_micros() as u64 {
            return None;
        }
        LIMIT.store(limit, Relaxed);
        Some(limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_round_trip() {
        let t = parse_timestamp("2024-02-29T23:59:58.5Z").unwrap();
        assert_eq!(
            format_timestamp(system_time_of(t)),
            "2024-02-29T23:59:58.500Z"
        );
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_timestamp("1969-12-31T23:00:00-01:00"), Some(0));
        assert_eq!(format_timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn the_clock_tells_the_time_to_within_a_quarter_millisecond_and_never_goes_back() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            let start = SystemTime::now();
            let clock = Clock::new(tokio::time::Instant::now());
            let mut last = clock.now(start);
            for _ in 0..20 {
                // Work in between (a function called in-process, say) is seen.
                let before = tokio::time::Instant::now();
                std::thread::sleep(Duration::from_micros(400));
                let slept = before.elapsed();
                let now = clock.now(start);
                assert!(now >= last);
                let seen = now.duration_since(last).unwrap();
                assert!(seen + REUSE_FOR >= slept, "{seen:?} after {slept:?}");
                last = now;
                for _ in 0..100 {
                    let again = clock.now(start);
                    assert!(again >= last);
                    last = again;
                }
            }
        });
    }

    #[tokio::test(start_paused = true)]
    async fn the_clock_follows_a_paused_tokio_clock_from_one_poll_to_the_next() {
        let start = SystemTime::now();
        let clock = Clock::new(tokio::time::Instant::now());
        let first = clock.now(start);
        tokio::time::advance(Duration::from_secs(3600)).await;
        clock.new_poll();
        assert_eq!(
            clock.now(start).duration_since(first).unwrap(),
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn rejects_what_step_functions_rejects() {
        for bad in [
            "2023-02-29T00:00:00Z",
            "2024-01-01t00:00:00Z",
            "2024-01-01T00:00:00z",
            "2024-01-01T00:00:00",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00.Z",
            "2024-13-01T00:00:00Z",
            "",
            "2024-01-01T00:00:00+1:00",
            "2024-01-01T00:00:00Zx",
            "２０２４-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}
