//! Who is logged in to the dashboard: a server-side table of login sessions (a random 128-bit
//! id in an HttpOnly cookie, a per-login CSRF token, an expiry) and the one-time login codes
//! `wagate demo` prints. Ids and codes are looked up by their SHA-256 (a map lookup never
//! compares the secret itself byte by byte); nothing here is logged.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// How long a dashboard login lasts.
pub const LOGIN_TTL: Duration = Duration::from_secs(12 * 60 * 60);

/// How long a one-time login code stays valid.
pub const ONCE_TTL: Duration = Duration::from_secs(10 * 60);

/// The most logins (and codes) kept: beyond it the oldest expire first.
const MAX_ENTRIES: usize = 1024;

/// Wrong admin tokens tolerated per [`FAILURE_WINDOW`] before the form refuses every try
/// (right or wrong) until the window has passed: guessing the token stays hopeless.
pub const MAX_FAILURES: usize = 10;

/// The window [`MAX_FAILURES`] counts in.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// One login's secrets, handed to the browser once.
#[derive(Debug, Clone)]
pub struct NewLogin {
    /// The session id (the cookie's value).
    pub session: String,
    /// The CSRF token the page sends back in `X-CSRF-Token`.
    pub csrf: String,
}

#[derive(Debug)]
struct Login {
    csrf: String,
    expires: Instant,
}

#[derive(Debug, Default)]
struct Table {
    logins: HashMap<[u8; 32], Login>,
    once: HashMap<[u8; 32], Instant>,
    failures: std::collections::VecDeque<Instant>,
}

/// The dashboard's login sessions and one-time codes (in memory: a restart logs everyone out).
#[derive(Debug, Default)]
pub struct Logins {
    table: Mutex<Table>,
}

/// 128 random bits, hex.
pub(crate) fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn key(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

impl Logins {
    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic while holding the lock leaves a consistent map: keep using it.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a login session (after the admin token or a one-time code was checked).
    pub fn begin(&self) -> NewLogin {
        let login = NewLogin {
            session: random_hex(),
            csrf: random_hex(),
        };
        let now = Instant::now();
        let mut table = self.table();
        table.logins.retain(|_, l| l.expires > now);
        if table.logins.len() >= MAX_ENTRIES {
            let oldest = table
                .logins
                .iter()
                .min_by_key(|(_, l)| l.expires)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                table.logins.remove(&k);
            }
        }
        table.logins.insert(
            key(&login.session),
            Login {
                csrf: login.csrf.clone(),
                expires: now + LOGIN_TTL,
            },
        );
        login
    }

    /// The CSRF token of a live login session, `None` when unknown or expired.
    pub fn csrf_of(&self, session: &str) -> Option<String> {
        let now = Instant::now();
        let mut table = self.table();
        let k = key(session);
        match table.logins.get(&k) {
            Some(l) if l.expires > now => Some(l.csrf.clone()),
            Some(_) => {
                table.logins.remove(&k);
                None
            }
            None => None,
        }
    }

    /// Whether the login form takes a try now (fewer than [`MAX_FAILURES`] wrong tokens in
    /// the last [`FAILURE_WINDOW`]).
    pub fn may_try(&self) -> bool {
        let now = Instant::now();
        let mut table = self.table();
        while table
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) >= FAILURE_WINDOW)
        {
            table.failures.pop_front();
        }
        table.failures.len() < MAX_FAILURES
    }

    /// Counts a wrong admin token.
    pub fn failed(&self) {
        let mut table = self.table();
        if table.failures.len() < MAX_FAILURES {
            table.failures.push_back(Instant::now());
        }
    }

    /// Ends a login session (logout).
    pub fn end(&self, session: &str) {
        self.table().logins.remove(&key(session));
    }

    /// A single-use login path, `/dashboard/login/once/<code>`, valid for [`ONCE_TTL`]: what
    /// `wagate demo` prints so that its user need not type the admin token.
    pub fn one_time_link(&self) -> String {
        let code = random_hex();
        let now = Instant::now();
        let mut table = self.table();
        table.once.retain(|_, expires| *expires > now);
        if table.once.len() < MAX_ENTRIES {
            table.once.insert(key(&code), now + ONCE_TTL);
        }
        format!("/dashboard/login/once/{code}")
    }

    /// Burns a one-time code: whether it was valid (it is not, from now on).
    pub fn redeem(&self, code: &str) -> bool {
        let removed = self.table().once.remove(&key(code));
        removed.is_some_and(|expires| expires > Instant::now())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_login_has_its_own_csrf_token_until_it_ends() {
        let logins = Logins::default();
        let a = logins.begin();
        let b = logins.begin();
        assert_eq!(a.session.len(), 32);
        assert_ne!(a.session, b.session);
        assert_eq!(logins.csrf_of(&a.session), Some(a.csrf.clone()));
        assert_ne!(a.csrf, b.csrf);
        logins.end(&a.session);
        assert_eq!(logins.csrf_of(&a.session), None);
        assert_eq!(logins.csrf_of(&b.session), Some(b.csrf));
        assert_eq!(logins.csrf_of("nonsense"), None);
    }

    #[test]
    fn wrong_tokens_are_throttled() {
        let logins = Logins::default();
        for _ in 0..MAX_FAILURES {
            assert!(logins.may_try());
            logins.failed();
        }
        assert!(!logins.may_try());
    }

    #[test]
    fn a_one_time_code_works_once() {
        let logins = Logins::default();
        let link = logins.one_time_link();
        let code = link.strip_prefix("/dashboard/login/once/").unwrap();
        assert_eq!(code.len(), 32);
        assert!(logins.redeem(code));
        assert!(!logins.redeem(code));
        assert!(!logins.redeem("0123"));
    }
}
