//! The login cache: remembers, for a short time, that a password was verified against an
//! account's stored hash, so that a client that logs in again and again (mobile clients
//! reconnect every few minutes; a busy site sees thousands of logins a second) costs an
//! HMAC instead of a deliberately slow hash (SHA512-CRYPT, Argon2id). Dovecot's
//! `auth_cache` does the same.
//!
//! What is kept per account: a SHA-256 of the stored hash string (so a password change,
//! made by this process or another, invalidates the entry at once) and an HMAC-SHA-256 of
//! the password under a random key made at start and never stored. Only successes are
//! cached: a wrong password always pays the full hash.

use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a verified password stays cached.
pub const TTL: Duration = Duration::from_secs(600);

/// Most accounts cached at once; past it the cache starts over.
pub const MAX_ENTRIES: usize = 100_000;

struct Entry {
    stored: [u8; 32],
    mac: [u8; 32],
    at: Instant,
}

/// Verified-password cache (see the module documentation).
pub struct LoginCache {
    key: [u8; 32],
    entries: Mutex<HashMap<i64, Entry>>,
}

impl Default for LoginCache {
    fn default() -> Self {
        LoginCache {
            key: rand::random(),
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl LoginCache {
    fn mac(&self, password: &[u8]) -> [u8; 32] {
        let Ok(mut m) = hmac::Hmac::<Sha256>::new_from_slice(&self.key) else {
            // HMAC takes keys of any length; were it ever refused, nothing may match.
            return rand::random();
        };
        m.update(password);
        m.finalize().into_bytes().into()
    }

    /// True when `password` was verified against exactly this `stored` hash of account
    /// `id` less than [`TTL`] ago.
    pub fn hit(&self, id: i64, stored: &str, password: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(stored.as_bytes()).into();
        let mac = self.mac(password);
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&id) {
            Some(e) => {
                e.at.elapsed() < TTL
                    && crate::schemes::ct_eq(&e.stored, &digest)
                    && crate::schemes::ct_eq(&e.mac, &mac)
            }
            None => false,
        }
    }

    /// Records a successful verification.
    pub fn insert(&self, id: i64, stored: &str, password: &[u8]) {
        let entry = Entry {
            stored: Sha256::digest(stored.as_bytes()).into(),
            mac: self.mac(password),
            at: Instant::now(),
        };
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, e| e.at.elapsed() < TTL);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(id, entry);
    }

    /// Forgets an account (its password changed or it was removed).
    pub fn forget(&self, id: i64) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_only_for_same_password_and_hash() {
        let c = LoginCache::default();
        assert!(!c.hit(1, "{PLAIN}a", b"a"));
        c.insert(1, "{PLAIN}a", b"a");
        assert!(c.hit(1, "{PLAIN}a", b"a"));
        assert!(!c.hit(1, "{PLAIN}a", b"b"), "another password");
        assert!(!c.hit(1, "{PLAIN}b", b"a"), "the stored hash changed");
        assert!(!c.hit(2, "{PLAIN}a", b"a"), "another account");
        c.forget(1);
        assert!(!c.hit(1, "{PLAIN}a", b"a"));
    }
}
