//! Alerts (issue 12 item 6): an `Alert` webhook to the global URL, and a warning in the log,
//! when a session's recovery keeps failing (N connection attempts in a row, or T seconds, from
//! [`AlertConfig`]) or webhook deliveries join the dead-letter list.
//!
//! Payload (our extension; wuzapi has no such type): `{"type": "Alert", "event": {"Reason",
//! …}}` with `userID`/`instanceName` of the session concerned, encoded and signed like every
//! global delivery:
//! - `Reason: "ReconnectFailing"`: `SessionID`, `SessionName`, `Attempts` (failed in a row),
//!   `FailingSeconds`;
//! - `Reason: "WebhookDeadLetters"`: `Receiver` (its host), `New`, `DeadLetters` (the list's
//!   length), `SessionID`, `SessionName`.
//!
//! One reconnect alert per outage (a `Connected` ends it). Dead alerts that themselves die
//! raise no alert (a dead global receiver would feed itself).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use wa_client::{Event, EventKind};
use wa_store::AccountId;

use super::queue::Buried;
use super::types::{AlertConfig, ALERT};

/// One session's failing recovery.
#[derive(Debug, Clone, Copy)]
struct Outage {
    since: Instant,
    attempts: u32,
    alerted: bool,
}

/// Why an alert goes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    /// A session's recovery keeps failing.
    ReconnectFailing {
        /// The session.
        account: AccountId,
        /// Failed connection attempts in a row.
        attempts: u32,
        /// How long it has been failing.
        seconds: u64,
    },
    /// Webhook deliveries joined the dead-letter list.
    DeadLetters {
        /// The receiver's host.
        receiver: String,
        /// The session of the first of them.
        account: Option<AccountId>,
        /// How many joined.
        new: usize,
        /// The list's length.
        total: usize,
    },
}

impl Alert {
    /// The session it concerns.
    pub fn account(&self) -> Option<AccountId> {
        match self {
            Alert::ReconnectFailing { account, .. } => Some(*account),
            Alert::DeadLetters { account, .. } => *account,
        }
    }

    /// The payload object (`{"type": "Alert", "event": …}`) with the session's name.
    pub fn payload(&self, session_name: &str) -> Map<String, Value> {
        let id = self.account().map(|a| a.to_string()).unwrap_or_default();
        let event = match self {
            Alert::ReconnectFailing {
                attempts, seconds, ..
            } => json!({
                "Reason": "ReconnectFailing",
                "SessionID": id,
                "SessionName": session_name,
                "Attempts": attempts,
                "FailingSeconds": seconds,
            }),
            Alert::DeadLetters {
                receiver,
                new,
                total,
                ..
            } => json!({
                "Reason": "WebhookDeadLetters",
                "SessionID": id,
                "SessionName": session_name,
                "Receiver": receiver,
                "New": new,
                "DeadLetters": total,
            }),
        };
        let mut object = Map::new();
        object.insert("type".into(), Value::from(ALERT));
        object.insert("event".into(), event);
        object
    }
}

/// The alert rules over the event stream.
#[derive(Debug)]
pub struct Alerts {
    config: AlertConfig,
    outages: HashMap<AccountId, Outage>,
}

impl Alerts {
    /// Rules with these thresholds.
    pub fn new(config: AlertConfig) -> Self {
        Self {
            config,
            outages: HashMap::new(),
        }
    }

    /// How often [`Alerts::tick`] should run (the time rule needs no event to fire).
    pub fn tick_every(&self) -> Duration {
        (self.config.reconnect_after / 4).clamp(Duration::from_millis(100), Duration::from_secs(1))
    }

    /// Feeds one gateway event; an alert when it crosses a threshold.
    pub fn on_event(&mut self, event: &Event, now: Instant) -> Option<Alert> {
        match &event.kind {
            EventKind::Connected { .. } | EventKind::Stopped | EventKind::LoggedOut { .. } => {
                self.outages.remove(&event.account);
                None
            }
            EventKind::Disconnected { .. } if event.kind.will_reconnect() => {
                self.outages.entry(event.account).or_insert(Outage {
                    since: now,
                    attempts: 0,
                    alerted: false,
                });
                self.check(event.account, now)
            }
            EventKind::Connecting { attempt } if *attempt > 0 => {
                let outage = self.outages.entry(event.account).or_insert(Outage {
                    since: now,
                    attempts: 0,
                    alerted: false,
                });
                outage.attempts = outage.attempts.max(*attempt);
                self.check(event.account, now)
            }
            _ => None,
        }
    }

    /// The time rule: alerts for outages that have lasted long enough.
    pub fn tick(&mut self, now: Instant) -> Vec<Alert> {
        let ids: Vec<AccountId> = self.outages.keys().copied().collect();
        ids.into_iter().filter_map(|a| self.check(a, now)).collect()
    }

    fn check(&mut self, account: AccountId, now: Instant) -> Option<Alert> {
        let outage = self.outages.get_mut(&account)?;
        let lasted = now.saturating_duration_since(outage.since);
        let due = outage.attempts >= self.config.reconnect_attempts
            || lasted >= self.config.reconnect_after;
        if outage.alerted || !due {
            return None;
        }
        outage.alerted = true;
        Some(Alert::ReconnectFailing {
            account,
            attempts: outage.attempts,
            seconds: lasted.as_secs(),
        })
    }
}

/// The alert for deliveries given up (none when they were alerts themselves).
pub fn on_buried(b: &Buried) -> Option<Alert> {
    (!b.only_alerts && b.count > 0).then(|| Alert::DeadLetters {
        receiver: b.receiver.clone(),
        account: b.account,
        new: b.count,
        total: b.total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wa_protocol::connection::DisconnectCause;

    fn event(kind: EventKind) -> Event {
        Event {
            account: AccountId::from_bytes([7; 16]),
            at: wa_protocol::Millis(0),
            kind,
        }
    }

    fn config() -> AlertConfig {
        AlertConfig {
            reconnect_attempts: 3,
            reconnect_after: Duration::from_secs(60),
        }
    }

    #[test]
    fn n_failed_attempts_alert_once_per_outage() {
        let mut alerts = Alerts::new(config());
        let t = Instant::now();
        let drop = EventKind::Disconnected {
            cause: DisconnectCause::Transport,
            reconnect_in: Some(Duration::from_secs(1)),
        };
        assert_eq!(alerts.on_event(&event(drop), t), None);
        for attempt in 1..3 {
            assert_eq!(
                alerts.on_event(&event(EventKind::Connecting { attempt }), t),
                None
            );
        }
        let alert = alerts.on_event(&event(EventKind::Connecting { attempt: 3 }), t);
        assert!(
            matches!(alert, Some(Alert::ReconnectFailing { attempts: 3, .. })),
            "{alert:?}"
        );
        assert_eq!(
            alerts.on_event(&event(EventKind::Connecting { attempt: 4 }), t),
            None
        );
        // Recovered: a new outage alerts again.
        let connected = EventKind::Connected {
            jid: "15550100001:1@s.whatsapp.net".parse().expect("jid"),
            lid: None,
        };
        alerts.on_event(&event(connected), t);
        assert_eq!(
            alerts.on_event(&event(EventKind::Connecting { attempt: 1 }), t),
            None
        );
        assert!(alerts
            .on_event(&event(EventKind::Connecting { attempt: 3 }), t)
            .is_some());
    }

    #[test]
    fn t_seconds_of_failure_alert_on_the_tick() {
        let mut alerts = Alerts::new(config());
        let t = Instant::now();
        alerts.on_event(&event(EventKind::Connecting { attempt: 1 }), t);
        assert!(alerts.tick(t + Duration::from_secs(59)).is_empty());
        let fired = alerts.tick(t + Duration::from_secs(61));
        assert!(matches!(
            fired.as_slice(),
            [Alert::ReconnectFailing { seconds: 61, .. }]
        ));
        assert!(alerts.tick(t + Duration::from_secs(120)).is_empty());
        let p = fired[0].payload("shop");
        assert_eq!(p["type"], "Alert");
        assert_eq!(p["event"]["Reason"], "ReconnectFailing");
        assert_eq!(p["event"]["SessionName"], "shop");
    }

    #[test]
    fn dead_alerts_raise_no_alert() {
        let b = Buried {
            receiver: "hooks.example".into(),
            account: None,
            count: 2,
            only_alerts: true,
            total: 2,
        };
        assert_eq!(on_buried(&b), None);
        let b = Buried {
            only_alerts: false,
            ..b
        };
        assert!(matches!(
            on_buried(&b),
            Some(Alert::DeadLetters { new: 2, .. })
        ));
    }
}
