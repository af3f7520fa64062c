//! Time as data: [`Millis`] and the [`Clock`] drivers read it from.
//!
//! The protocol's state machines never read a clock: every `handle_*` call takes the current
//! [`Millis`] from its caller. Drivers (wa-client, wa-sim) hold an `Arc<dyn Clock>` so tests can
//! run them on virtual time; the one clock that reads the system time, [`SystemClock`], sits
//! behind the `system-clock` feature, which only drivers enable (`cargo tree -p wa-protocol` and
//! `tests/sans_io.rs` stay clock-free).

/// A point in time: unix milliseconds, supplied by the caller (virtual in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Millis(pub u64);

impl Millis {
    /// `self + ms`, saturating.
    pub fn after(self, ms: u64) -> Millis {
        Millis(self.0.saturating_add(ms))
    }

    /// Whole unix seconds.
    pub fn unix_secs(self) -> u64 {
        self.0 / 1000
    }

    /// Milliseconds from `earlier` to `self` (0 if `earlier` is later).
    pub fn since(self, earlier: Millis) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// A source of the current time for drivers.
pub trait Clock: Send + Sync + core::fmt::Debug {
    /// Now, as unix milliseconds.
    fn now(&self) -> Millis;
}

/// A clock that only moves when told to: virtual time for tests and deterministic runs.
#[derive(Debug, Default)]
pub struct ManualClock(core::sync::atomic::AtomicU64);

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: Millis) -> Self {
        Self(core::sync::atomic::AtomicU64::new(start.0))
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, core::sync::atomic::Ordering::SeqCst);
    }

    /// Sets the clock (it may go backwards, as wall clocks do).
    pub fn set(&self, to: Millis) {
        self.0.store(to.0, core::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Millis {
        Millis(self.0.load(core::sync::atomic::Ordering::SeqCst))
    }
}

/// The system's wall clock (feature `system-clock`, for drivers only).
#[cfg(feature = "system-clock")]
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

#[cfg(feature = "system-clock")]
impl Clock for SystemClock {
    fn now(&self) -> Millis {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Millis(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(Millis(1_000));
        assert_eq!(clock.now(), Millis(1_000));
        clock.advance(250);
        assert_eq!(clock.now(), Millis(1_250));
        clock.set(Millis(10));
        assert_eq!(clock.now().since(Millis(4)), 6);
        assert_eq!(Millis(4).since(clock.now()), 0);
    }
}
