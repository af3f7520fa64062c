//! IQ id allocation and response matching with deadlines (whatsmeow `request.go`).

use std::collections::HashMap;

use rand_core::CryptoRngCore;

use crate::time::Millis;

/// Why we sent an IQ: decides what its answer (or its timeout) does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IqPurpose {
    /// The application's; answered with `Event::IqResponse`.
    External(u64),
    Ping,
    PreKeyCount,
    /// Uploading these one-time prekey ids.
    PreKeyUpload(Vec<u32>),
    Active,
    Logout,
    PairCodeHello,
    /// Sent for the server's benefit; the answer does not matter.
    Background,
}

/// Allocates ids `"<b0>.<b1>-<n>"` and remembers what each waits for.
pub(crate) struct IqTracker {
    prefix: String,
    counter: u64,
    pending: HashMap<String, (IqPurpose, Millis)>,
}

impl IqTracker {
    pub(crate) fn new(rng: &mut impl CryptoRngCore) -> Self {
        let mut b = [0u8; 2];
        rng.fill_bytes(&mut b);
        Self {
            prefix: format!("{}.{}-", b[0], b[1]),
            counter: 0,
            pending: HashMap::new(),
        }
    }

    pub(crate) fn register(&mut self, purpose: IqPurpose, deadline: Millis) -> String {
        self.counter += 1;
        let id = format!("{}{}", self.prefix, self.counter);
        self.pending.insert(id.clone(), (purpose, deadline));
        id
    }

    pub(crate) fn take(&mut self, id: &str) -> Option<IqPurpose> {
        self.pending.remove(id).map(|(p, _)| p)
    }

    pub(crate) fn next_deadline(&self) -> Option<Millis> {
        self.pending.values().map(|(_, d)| *d).min()
    }

    /// Removes and returns every IQ whose deadline is at or before `now`, oldest id first.
    pub(crate) fn expire(&mut self, now: Millis) -> Vec<(String, IqPurpose)> {
        let mut due: Vec<(Millis, String)> = self
            .pending
            .iter()
            .filter(|(_, (_, d))| *d <= now)
            .map(|(id, (_, d))| (*d, id.clone()))
            .collect();
        due.sort();
        due.into_iter()
            .filter_map(|(_, id)| self.pending.remove(&id).map(|(p, _)| (id, p)))
            .collect()
    }

    pub(crate) fn drain(&mut self) -> Vec<(String, IqPurpose)> {
        self.pending.drain().map(|(id, (p, _))| (id, p)).collect()
    }
}
