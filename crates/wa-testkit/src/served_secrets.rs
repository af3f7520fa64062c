//! The secrets a [`crate::Served`] gateway was given (the admin token, the user tokens its
//! helpers sent, secret-looking environment values) and the check, when it is dropped, that
//! none of them appears in its log (issue 14 item 4: "never key material or tokens in logs",
//! checked by every test that runs the binary).

use std::collections::BTreeSet;
use std::sync::Mutex;

/// Shorter values are not checked (they would match by chance).
const MIN_LEN: usize = 8;

/// Environment variables whose values are secrets.
const SECRET_ENV: [&str; 5] = ["TOKEN", "KEY", "SECRET", "PASSWORD", "HMAC"];

/// The secrets seen so far.
#[derive(Debug, Default)]
pub(crate) struct Secrets(Mutex<BTreeSet<String>>);

impl Secrets {
    /// Notes `value` as a secret (ignored when short).
    pub(crate) fn note(&self, value: &str) {
        let value = value.trim();
        if value.len() >= MIN_LEN {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(value.to_owned());
        }
    }

    /// Notes an environment value when its name says it is a secret.
    pub(crate) fn note_env(&self, name: &str, value: &str) {
        let upper = name.to_ascii_uppercase();
        if SECRET_ENV.iter().any(|s| upper.contains(s)) {
            self.note(value);
        }
    }

    /// Notes the secrets among request headers (`token`, `Authorization`, `x-api-key`).
    pub(crate) fn note_headers(&self, headers: &[(&str, &str)]) {
        for (name, value) in headers {
            if ["token", "authorization", "x-api-key"]
                .iter()
                .any(|h| name.eq_ignore_ascii_case(h))
            {
                self.note(value);
            }
        }
    }

    /// The first log line holding a secret, with the secret masked, and which secret (its
    /// first characters only).
    pub(crate) fn leak(&self, log: &str) -> Option<String> {
        let secrets = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for line in log.lines() {
            if let Some(secret) = secrets.iter().find(|s| line.contains(s.as_str())) {
                let masked = line.replace(secret.as_str(), "<SECRET>");
                return Some(format!(
                    "a secret ({}…) is in the gateway's log: {masked}",
                    &secret[..4]
                ));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_masks_a_leaked_secret() {
        let s = Secrets::default();
        s.note("abcdefgh-secret");
        s.note("short");
        s.note_env("WUZAPI_GLOBAL_HMAC_KEY", "hmac-key-0123456789");
        s.note_env("WAGATE_LISTEN", "127.0.0.1:8080");
        assert_eq!(s.leak("all fine\nshort is fine\n127.0.0.1:8080"), None);
        let leak = s
            .leak("ok\nGET /x?token=abcdefgh-secret 200")
            .unwrap_or_default();
        assert!(leak.contains("token=<SECRET>"), "{leak}");
        assert!(!leak.contains("abcdefgh-secret"), "{leak}");
        assert!(s.leak("key hmac-key-0123456789").is_some());
    }
}
