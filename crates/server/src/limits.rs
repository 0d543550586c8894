//! Abuse limits shared by every session, kept in small tables keyed by client address
//! (an IPv4 address, or the /64 of an IPv6 one; see [`AddrKey`]):
//!
//! - the **login penalty** (issue 14 item 2): failed logins from an address make the next
//!   attempt from it wait `login_penalty_base_ms` doubled per failure, at most
//!   `login_penalty_max_ms`, whatever connection it comes on; attempts from a penalised
//!   address run one at a time (a wait is a reservation, so parallel connections do not
//!   multiply the guesses). A correct login from the address clears its penalty. Failed
//!   logins to an account also delay the answers to attempts on that account from
//!   addresses that have not logged in to it correctly since the failures began (capped
//!   the same way, before the answer, success or failure: no early answer gives a guess
//!   away); addresses it was used from correctly are never delayed by it, so an attacker
//!   elsewhere cannot lock the user out. Entries are forgotten
//!   `login_penalty_forget_secs` after their last failure; the tables are bounded.
//! - **pre-login connections per address** (`max_prelogin_per_ip`, item 3): a
//!   [`PreloginSlot`] is held from connect until login;
//! - **sessions per account and address** (`max_userip_connections`, Dovecot's
//!   `mail_max_userip_connections`): a [`UserIpSlot`] is held by each logged-in session.
//!
//! Does not live here: the answers (each protocol words its refusals) and time-outs (the
//! sessions' read loops: the pre-login deadline is absolute from connect).

use crate::config::ServerSection;
use crate::net::Protocol;
use mailroom_directory::sasl::CredentialSource;
use mailroom_directory::{AccountInfo, Credentials, DirError, LoginTarget, Secret};
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Most entries kept in each penalty table; past it expired entries are purged, then the
/// stalest is dropped.
const MAX_ENTRIES: usize = 65_536;
/// Addresses remembered per penalised account as having logged in to it correctly.
const MAX_GOOD: usize = 8;

/// A client address as the limits see it: an IPv4 address, or the /64 prefix of an IPv6
/// address (one subscriber usually has a whole /64). IPv4-mapped IPv6 is IPv4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AddrKey(IpAddr);

impl AddrKey {
    pub fn new(ip: IpAddr) -> AddrKey {
        match ip {
            IpAddr::V4(v4) => AddrKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddrKey(IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(v6) & !((1u128 << 64) - 1);
                    AddrKey(IpAddr::V6(bits.into()))
                }
            },
        }
    }
}

impl std::fmt::Display for AddrKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}"),
            IpAddr::V6(a) => write!(f, "{a}/64"),
        }
    }
}

/// The account a login name is counted against: lower case, `%` read as `@`, the main
/// domain added when there is none, a POP3 `mailbox#` prefix dropped.
pub fn account_key(login: &str, main_domain: &str) -> String {
    let login = login.rsplit_once('#').map_or(login, |(_, a)| a);
    let mut k = login.to_ascii_lowercase().replace('%', "@");
    if !k.contains('@') {
        k.push('@');
        k.push_str(&main_domain.to_ascii_lowercase());
    }
    k.truncate(512);
    k
}

struct AddrPenalty {
    failures: u32,
    last_failure: Instant,
    /// When the next attempt from this address may be checked.
    next_slot: Instant,
}

struct AccountPenalty {
    failures: u32,
    last_failure: Instant,
    /// Addresses that logged in to the account correctly since its failures began.
    good: Vec<AddrKey>,
}

#[derive(Default)]
struct Tables {
    addrs: HashMap<AddrKey, AddrPenalty>,
    accounts: HashMap<String, AccountPenalty>,
    prelogin: HashMap<AddrKey, u32>,
    userip: HashMap<(Protocol, String, AddrKey), u32>,
}

/// The shared limits (one per server, in [`crate::Ctx`]).
pub struct Limits {
    base: Duration,
    max: Duration,
    forget: Duration,
    max_prelogin: u32,
    max_userip: u32,
    main_domain: String,
    tables: Mutex<Tables>,
    failures: AtomicU64,
}

impl Limits {
    pub fn new(cfg: &ServerSection) -> Arc<Limits> {
        Arc::new(Limits {
            base: Duration::from_millis(cfg.login_penalty_base_ms),
            max: Duration::from_millis(cfg.login_penalty_max_ms),
            forget: Duration::from_secs(cfg.login_penalty_forget_secs),
            max_prelogin: cfg.max_prelogin_per_ip,
            max_userip: cfg.max_userip_connections,
            main_domain: cfg.main_domain.clone(),
            tables: Mutex::default(),
            failures: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        // Every update keeps the tables consistent: a panic elsewhere cannot break them.
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The penalty after `failures` failures.
    fn delay(&self, failures: u32) -> Duration {
        if failures == 0 || self.base.is_zero() {
            return Duration::ZERO;
        }
        let factor = 1u32 << (failures - 1).min(20);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// Failed logins since start (every protocol).
    pub fn failures_total(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// How long an attempt from `peer` waits before its credentials are checked; the
    /// wait is reserved, so the next attempt from the same address waits after it.
    pub fn before_attempt(&self, peer: Option<IpAddr>) -> Duration {
        let Some(key) = peer.map(AddrKey::new) else {
            return Duration::ZERO;
        };
        let now = Instant::now();
        let mut t = self.lock();
        let Some(p) = t.addrs.get_mut(&key) else {
            return Duration::ZERO;
        };
        if now.duration_since(p.last_failure) > self.forget {
            t.addrs.remove(&key);
            return Duration::ZERO;
        }
        let start = p.next_slot.max(now);
        p.next_slot = start + self.delay(p.failures);
        start - now
    }

    /// How long the answer to an attempt on `login` from `peer` waits (checked or not):
    /// the account's penalty, unless `peer` logged in to it correctly since.
    pub fn before_answer(&self, peer: Option<IpAddr>, login: &str) -> Duration {
        let key = peer.map(AddrKey::new);
        let account = account_key(login, &self.main_domain);
        let now = Instant::now();
        let mut t = self.lock();
        let Some(a) = t.accounts.get(&account) else {
            return Duration::ZERO;
        };
        if now.duration_since(a.last_failure) > self.forget {
            t.accounts.remove(&account);
            return Duration::ZERO;
        }
        if key.is_some_and(|k| a.good.contains(&k)) {
            return Duration::ZERO;
        }
        self.delay(a.failures)
    }

    /// Waits out the penalty of `peer` before a credentials check ([`Self::before_attempt`]).
    /// False when `deadline` (the session's login deadline) came first: the caller answers
    /// nothing and closes the connection.
    pub async fn wait_attempt(&self, peer: Option<IpAddr>, deadline: tokio::time::Instant) -> bool {
        let wait = self.before_attempt(peer);
        if wait.is_zero() {
            return true;
        }
        tracing::info!(
            wait_ms = wait.as_millis() as u64,
            "login penalty of the address"
        );
        let until = tokio::time::Instant::now() + wait;
        tokio::time::sleep_until(until.min(deadline)).await;
        until <= deadline
    }

    /// Waits out the account's penalty before answering an attempt on `login`
    /// ([`Self::before_answer`]).
    pub async fn wait_answer(&self, peer: Option<IpAddr>, login: &str) {
        let wait = self.before_answer(peer, login);
        if !wait.is_zero() {
            tracing::info!(
                wait_ms = wait.as_millis() as u64,
                "login penalty of the account"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Records a failed login (logged with the address and both counts).
    pub fn failed(&self, peer: Option<IpAddr>, login: &str, protocol: Protocol) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let key = peer.map(AddrKey::new);
        let account = account_key(login, &self.main_domain);
        let now = Instant::now();
        let mut t = self.lock();
        let addr_failures = match key {
            Some(k) => {
                if t.addrs.len() >= MAX_ENTRIES && !t.addrs.contains_key(&k) {
                    let forget = self.forget;
                    t.addrs
                        .retain(|_, p| now.duration_since(p.last_failure) <= forget);
                    evict_stalest(&mut t.addrs, |p| p.last_failure);
                }
                let p = t.addrs.entry(k).or_insert(AddrPenalty {
                    failures: 0,
                    last_failure: now,
                    next_slot: now,
                });
                if now.duration_since(p.last_failure) > self.forget {
                    p.failures = 0;
                }
                p.failures = p.failures.saturating_add(1);
                p.last_failure = now;
                p.next_slot = p.next_slot.max(now + self.delay(p.failures));
                p.failures
            }
            None => 0,
        };
        let account_failures = if login.is_empty() {
            0
        } else {
            if t.accounts.len() >= MAX_ENTRIES && !t.accounts.contains_key(&account) {
                let forget = self.forget;
                t.accounts
                    .retain(|_, a| now.duration_since(a.last_failure) <= forget);
                evict_stalest(&mut t.accounts, |a| a.last_failure);
            }
            let a = t.accounts.entry(account.clone()).or_insert(AccountPenalty {
                failures: 0,
                last_failure: now,
                good: Vec::new(),
            });
            if now.duration_since(a.last_failure) > self.forget {
                a.failures = 0;
                a.good.clear();
            }
            a.failures = a.failures.saturating_add(1);
            a.last_failure = now;
            // An address on the good list stays there after a typo: it proved it knows
            // the password, and its own failures are the address penalty's business.
            a.failures
        };
        drop(t);
        let peer = key.map_or_else(|| "-".to_string(), |k| k.to_string());
        tracing::warn!(
            module = protocol.tag(),
            %peer,
            account = %account,
            address_failures = addr_failures,
            account_failures,
            total = self.failures_total(),
            "login failed"
        );
    }

    /// Records a correct login: clears the address's penalty and exempts the address from
    /// the account's.
    pub fn succeeded(&self, peer: Option<IpAddr>, login: &str) {
        let Some(key) = peer.map(AddrKey::new) else {
            return;
        };
        let account = account_key(login, &self.main_domain);
        let mut t = self.lock();
        t.addrs.remove(&key);
        if let Some(a) = t.accounts.get_mut(&account) {
            if !a.good.contains(&key) {
                if a.good.len() >= MAX_GOOD {
                    a.good.remove(0);
                }
                a.good.push(key);
            }
        }
    }

    /// A pre-login slot for a new connection from `peer`; `None` when the address has
    /// `max_prelogin_per_ip` connections not logged in already (0 = no limit).
    pub fn prelogin(self: &Arc<Self>, peer: Option<IpAddr>) -> Option<PreloginSlot> {
        let Some(key) = peer.map(AddrKey::new) else {
            return Some(PreloginSlot { held: None });
        };
        let mut t = self.lock();
        let n = t.prelogin.entry(key).or_insert(0);
        if self.max_prelogin > 0 && *n >= self.max_prelogin {
            return None;
        }
        *n += 1;
        Some(PreloginSlot {
            held: Some((self.clone(), key)),
        })
    }

    /// A session slot for `account` (its address) logged in from `peer` over `protocol`;
    /// `None` when `max_userip_connections` are open already (0 = no limit).
    pub fn user_session(
        self: &Arc<Self>,
        protocol: Protocol,
        account: &str,
        peer: Option<IpAddr>,
    ) -> Option<UserIpSlot> {
        let Some(key) = peer.map(AddrKey::new) else {
            return Some(UserIpSlot { held: None });
        };
        let k = (protocol, account.to_ascii_lowercase(), key);
        let mut t = self.lock();
        let n = t.userip.entry(k.clone()).or_insert(0);
        if self.max_userip > 0 && *n >= self.max_userip {
            return None;
        }
        *n += 1;
        Some(UserIpSlot {
            held: Some(Box::new((self.clone(), k))),
        })
    }
}

fn evict_stalest<K: Clone + Eq + std::hash::Hash, V>(
    map: &mut HashMap<K, V>,
    at: impl Fn(&V) -> Instant,
) {
    if map.len() < MAX_ENTRIES {
        return;
    }
    if let Some(k) = map
        .iter()
        .min_by_key(|(_, v)| at(v))
        .map(|(k, _)| k.clone())
    {
        map.remove(&k);
    }
}

/// One connection counted against its address's pre-login limit until dropped (at login
/// or when the connection ends).
pub struct PreloginSlot {
    held: Option<(Arc<Limits>, AddrKey)>,
}

impl Drop for PreloginSlot {
    fn drop(&mut self) {
        if let Some((l, key)) = self.held.take() {
            let mut t = l.lock();
            if let Some(n) = t.prelogin.get_mut(&key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    t.prelogin.remove(&key);
                }
            }
        }
    }
}

/// One logged-in session counted against its account and address until dropped.
pub struct UserIpSlot {
    /// Boxed: only logged-in sessions pay for the key.
    #[allow(clippy::type_complexity)]
    held: Option<Box<(Arc<Limits>, (Protocol, String, AddrKey))>>,
}

impl Drop for UserIpSlot {
    fn drop(&mut self) {
        if let Some(b) = self.held.take() {
            let (l, key) = *b;
            let mut t = l.lock();
            if let Some(n) = t.userip.get_mut(&key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    t.userip.remove(&key);
                }
            }
        }
    }
}

/// A [`CredentialSource`] that remembers the login name a SASL mechanism looked up, so a
/// failed exchange is counted against the account it tried.
pub struct SeenName<'a> {
    inner: &'a dyn CredentialSource,
    name: RefCell<Option<String>>,
}

impl<'a> SeenName<'a> {
    pub fn new(inner: &'a dyn CredentialSource) -> SeenName<'a> {
        SeenName {
            inner,
            name: RefCell::new(None),
        }
    }

    /// The last name looked up, if any.
    pub fn into_name(self) -> Option<String> {
        self.name.into_inner()
    }
}

impl CredentialSource for SeenName<'_> {
    fn lookup(&self, login: &str) -> Result<LoginTarget, DirError> {
        *self.name.borrow_mut() = Some(login.chars().take(256).collect());
        self.inner.lookup(login)
    }
    fn credentials(&self, account: &AccountInfo) -> Result<Credentials, DirError> {
        self.inner.credentials(account)
    }
    fn verify_password(&self, account: &AccountInfo, password: &Secret) -> bool {
        self.inner.verify_password(account, password)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Arc<Limits> {
        let cfg = ServerSection {
            login_penalty_base_ms: 100,
            login_penalty_max_ms: 1000,
            max_prelogin_per_ip: 2,
            max_userip_connections: 1,
            ..ServerSection::default()
        };
        Limits::new(&cfg)
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn ipv6_counts_per_64() {
        assert_eq!(
            AddrKey::new("2001:db8:1:2:3:4:5:6".parse().unwrap()),
            AddrKey::new("2001:db8:1:2:ffff::1".parse().unwrap())
        );
        assert_ne!(
            AddrKey::new("2001:db8:1:2::1".parse().unwrap()),
            AddrKey::new("2001:db8:1:3::1".parse().unwrap())
        );
        assert_eq!(
            AddrKey::new("::ffff:192.0.2.1".parse().unwrap()),
            AddrKey::new("192.0.2.1".parse().unwrap())
        );
        assert_eq!(
            AddrKey::new("2001:db8:1:2::9".parse().unwrap()).to_string(),
            "2001:db8:1:2::/64"
        );
    }

    #[test]
    fn account_keys() {
        assert_eq!(account_key("Bob", "Example.org"), "bob@example.org");
        assert_eq!(account_key("bob%x.org", "example.org"), "bob@x.org");
        assert_eq!(account_key("lists/a#bob@x.org", "example.org"), "bob@x.org");
    }

    #[test]
    fn penalty_doubles_up_to_the_cap_and_a_success_clears_it() {
        let l = limits();
        let a = ip("192.0.2.1");
        assert_eq!(l.before_attempt(a), Duration::ZERO);
        let delays: Vec<u32> = (1..=6).map(|n| l.delay(n).as_millis() as u32).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        l.failed(a, "bob", Protocol::Imap);
        l.failed(a, "bob", Protocol::Imap);
        // The next attempt waits about the second delay; the one after it waits behind it.
        let w1 = l.before_attempt(a);
        assert!(w1 > Duration::from_millis(150) && w1 <= Duration::from_millis(200));
        let w2 = l.before_attempt(a);
        assert!(w2 >= w1 + Duration::from_millis(150), "{w1:?} {w2:?}");
        // Another address and another account are not affected.
        assert_eq!(l.before_attempt(ip("192.0.2.2")), Duration::ZERO);
        assert_eq!(l.before_answer(ip("192.0.2.2"), "carol"), Duration::ZERO);
        // The account's penalty applies to other addresses (capped), until one of them
        // logs in correctly.
        assert_eq!(
            l.before_answer(ip("198.51.100.7"), "bob@localhost"),
            Duration::from_millis(200)
        );
        l.succeeded(ip("198.51.100.7"), "BOB");
        assert_eq!(l.before_answer(ip("198.51.100.7"), "bob"), Duration::ZERO);
        // A later typo from there does not bring the account's penalty back on it.
        l.failed(ip("198.51.100.7"), "bob", Protocol::Pop3);
        assert_eq!(l.before_answer(ip("198.51.100.7"), "bob"), Duration::ZERO);
        assert_eq!(
            l.before_answer(ip("198.51.100.8"), "bob"),
            Duration::from_millis(400)
        );
        l.succeeded(a, "bob");
        assert_eq!(l.before_attempt(a), Duration::ZERO);
        assert_eq!(l.failures_total(), 3);
    }

    #[test]
    fn prelogin_and_userip_slots_are_counted_and_released() {
        let l = limits();
        let a = ip("2001:db8::1");
        let s1 = l.prelogin(a).unwrap();
        let _s2 = l.prelogin(ip("2001:db8::2")).unwrap();
        assert!(l.prelogin(a).is_none(), "third from the same /64");
        assert!(l.prelogin(ip("2001:db8:0:1::1")).is_some());
        drop(s1);
        assert!(l.prelogin(a).is_some());
        let u = l.user_session(Protocol::Imap, "bob@x", a).unwrap();
        assert!(l.user_session(Protocol::Imap, "BOB@x", a).is_none());
        assert!(l.user_session(Protocol::Pop3, "bob@x", a).is_some());
        assert!(l
            .user_session(Protocol::Imap, "bob@x", ip("192.0.2.9"))
            .is_some());
        drop(u);
        assert!(l.user_session(Protocol::Imap, "bob@x", a).is_some());
    }
}
