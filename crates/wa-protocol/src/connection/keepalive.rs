//! Keepalive: a `w:p` ping every 20–30 s (drawn from the injected RNG); consecutive unanswered
//! pings are reported and, past the limit, close the connection.

use rand_core::CryptoRngCore;

use super::iq::IqPurpose;
use super::state::Connection;
use super::types::{DisconnectCause, Event};
use crate::stanza::Ping;
use crate::time::Millis;

impl<R: CryptoRngCore> Connection<R> {
    /// The next ping interval, uniform in `config.ping_interval_ms`.
    pub(super) fn ping_interval(&mut self) -> u64 {
        let (min, max) = self.config.ping_interval_ms;
        if max <= min {
            return min;
        }
        min + self.rng.next_u64() % (max - min + 1)
    }

    /// Sends the due ping and schedules the next one.
    pub(super) fn send_ping(&mut self, now: Millis) {
        let interval = self.ping_interval();
        if let Some(k) = self.state.keepalive_mut() {
            k.next_ping = now.after(interval);
        }
        self.send_iq(Ping.request(), IqPurpose::Ping, now);
    }

    /// A ping was answered: report a recovery after failures.
    pub(super) fn ping_answered(&mut self) {
        if let Some(k) = self.state.keepalive_mut() {
            if k.failures > 0 {
                k.failures = 0;
                self.events.push_back(Event::KeepAliveRestored);
            }
        }
    }

    /// A ping went unanswered.
    pub(super) fn ping_failed(&mut self) {
        let Some(k) = self.state.keepalive_mut() else {
            return;
        };
        k.failures += 1;
        let failures = k.failures;
        self.events.push_back(Event::KeepAliveTimeout { failures });
        if failures >= self.config.max_ping_failures {
            self.close(DisconnectCause::KeepAliveTimeout);
        }
    }
}
