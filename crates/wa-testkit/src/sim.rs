//! wa-sim started with the tests' configuration.

use std::time::Duration;

use wa_protocol::PhoneNumber;
use wa_sim::{SimConfig, SimServer};

/// How a test wants its wa-sim: the common configuration (loopback, a port the OS picks, keys
/// from the OS's RNG) plus the accounts to create and the settings a test changes.
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    config: SimConfig,
    phones: Vec<String>,
}

impl SimOptions {
    /// The common test configuration, with no accounts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates an account (a primary phone) for `phone` once the sim runs.
    pub fn phone(mut self, phone: &str) -> Self {
        self.phones.push(phone.to_owned());
        self
    }

    /// The time a client has for each handshake message.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.config.handshake_timeout = timeout;
        self
    }

    /// Seeds every key the sim makes (a reproducible server identity).
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = Some(seed);
        self
    }

    /// Starts the sim and creates the accounts.
    ///
    /// # Panics
    /// If the sim cannot listen on 127.0.0.1.
    pub async fn start(self) -> SimServer {
        let sim = SimServer::start(self.config)
            .await
            .unwrap_or_else(|e| panic!("wa-sim does not start: {e}"));
        for phone in &self.phones {
            let phone: PhoneNumber = phone
                .parse()
                .unwrap_or_else(|e| panic!("test phone {phone:?}: {e}"));
            sim.create_account(&phone);
        }
        sim
    }
}

/// Starts a wa-sim with the common test configuration and an account for each of `phones`.
///
/// # Panics
/// If the sim cannot listen on 127.0.0.1.
pub async fn start_sim(phones: &[&str]) -> SimServer {
    phones
        .iter()
        .fold(SimOptions::new(), |options, phone| options.phone(phone))
        .start()
        .await
}
