//! POP-before-SMTP (P13): a successful POP3 (later IMAP) login authorises the client's IP
//! address to relay through the MTA for `[popbsmtp] ttl_secs`; the MTA learns of it
//! through a Postfix policy delegation service (Postfix `SMTPD_POLICY_README`).
//!
//! - [`RelayRegistry`]: client addresses with their expiry, shared through
//!   [`crate::Ctx::relay`]. A session records a login with one call:
//!   `ctx.relay.record(peer_ip)`.
//! - [`serve`]: the policy listener (started by [`crate::server::start`] only when
//!   `[popbsmtp] enabled = true`). A request is `name=value` lines ended by an empty line;
//!   the reply is `action=OK` when `client_address` is recorded and unexpired, else
//!   `action=DUNNO` (let the other restrictions decide), followed by an empty line.
//!   Connections are persistent and carry any number of requests.
//!
//! Limits: a line is at most [`MAX_LINE`] octets and a request at most [`MAX_ATTRS`]
//! attributes; a request over either, without `request=smtpd_access_policy`, or with no
//! valid `client_address` is answered `action=DUNNO` and logged, and the connection goes
//! on. At most [`MAX_CONNECTIONS`] policy connections at once; idle ones are closed after
//! [`IDLE_TIMEOUT`].
//!
//! Does not live here: the login itself (the protocol sessions), relaying (the MTA).

use crate::Ctx;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Longest attribute line accepted, line end excluded (Postfix's own are far shorter).
pub const MAX_LINE: usize = 4096;
/// Most attributes in one request (Postfix 3.x sends about 30).
pub const MAX_ATTRS: usize = 256;
/// Most simultaneous policy connections (Postfix opens one per smtpd process).
pub const MAX_CONNECTIONS: usize = 512;
/// An idle policy connection is closed after this long (Postfix reconnects as needed).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// The client addresses that logged in recently, with when their authorisation ends.
#[derive(Debug)]
pub struct RelayRegistry {
    ttl: Duration,
    entries: Mutex<HashMap<IpAddr, Instant>>,
}

impl RelayRegistry {
    /// An empty registry whose entries last `ttl`.
    pub fn new(ttl: Duration) -> RelayRegistry {
        RelayRegistry {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Instant>> {
        // A panic while holding the lock cannot leave the map inconsistent (single
        // inserts and removes): keep using it.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a successful login from `ip`: it may relay until `ttl` from now. Expired
    /// entries are dropped on the way, so the map holds only live addresses.
    pub fn record(&self, ip: IpAddr) {
        let now = Instant::now();
        let mut m = self.lock();
        if m.len() >= 1024 {
            m.retain(|_, until| *until > now);
        }
        m.insert(ip.to_canonical(), now + self.ttl);
    }

    /// Records the peer of a connection, if it has one (standard I/O sessions do not).
    pub fn record_peer(&self, peer: Option<std::net::SocketAddr>) {
        if let Some(p) = peer {
            self.record(p.ip());
        }
    }

    /// True when `ip` logged in less than `ttl` ago.
    pub fn is_authorized(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        let now = Instant::now();
        let mut m = self.lock();
        match m.get(&ip) {
            Some(until) if *until > now => true,
            Some(_) => {
                m.remove(&ip);
                false
            }
            None => false,
        }
    }

    /// Number of entries (expired ones not yet dropped included).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no address is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a policy request is answered `DUNNO` without a look-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("attribute line longer than {MAX_LINE} octets")]
    LineTooLong,
    #[error("more than {MAX_ATTRS} attributes")]
    TooManyAttributes,
    #[error("attribute line without '=': {0:?}")]
    NoEquals(String),
    #[error("attribute line is not UTF-8")]
    Binary,
    #[error("request={0:?} is not smtpd_access_policy")]
    WrongRequest(String),
    #[error("no request attribute")]
    NoRequest,
    #[error("no client_address attribute")]
    NoClientAddress,
    #[error("client_address {0:?} is not an IP address")]
    BadClientAddress(String),
}

/// One request being read: attributes so far, or the first error.
#[derive(Debug, Default)]
pub struct Request {
    request: Option<String>,
    client_address: Option<String>,
    attrs: usize,
    error: Option<PolicyError>,
}

impl Request {
    /// Adds one attribute line (without its line end).
    pub fn line(&mut self, line: &[u8]) {
        if self.error.is_some() {
            return;
        }
        self.attrs += 1;
        if self.attrs > MAX_ATTRS {
            self.error = Some(PolicyError::TooManyAttributes);
            return;
        }
        let Ok(line) = std::str::from_utf8(line) else {
            self.error = Some(PolicyError::Binary);
            return;
        };
        let Some((name, value)) = line.split_once('=') else {
            let shown: String = line.chars().take(64).collect();
            self.error = Some(PolicyError::NoEquals(shown));
            return;
        };
        match name {
            "request" => self.request = Some(value.to_string()),
            "client_address" => self.client_address = Some(value.to_string()),
            _ => {}
        }
    }

    /// Marks the request as malformed (an over-long line).
    pub fn fail(&mut self, e: PolicyError) {
        self.error.get_or_insert(e);
    }

    /// The client address to look up, or why there is none.
    pub fn client(&self) -> Result<IpAddr, PolicyError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        match self.request.as_deref() {
            Some("smtpd_access_policy") => {}
            Some(other) => return Err(PolicyError::WrongRequest(other.chars().take(64).collect())),
            None => return Err(PolicyError::NoRequest),
        }
        let addr = self
            .client_address
            .as_deref()
            .ok_or(PolicyError::NoClientAddress)?;
        // Postfix writes IPv6 addresses bare; tolerate an `IPv6:` prefix or brackets.
        let bare = addr
            .strip_prefix("IPv6:")
            .or_else(|| addr.strip_prefix("ipv6:"))
            .unwrap_or(addr)
            .trim_start_matches('[')
            .trim_end_matches(']');
        bare.parse::<IpAddr>()
            .map_err(|_| PolicyError::BadClientAddress(addr.chars().take(64).collect()))
    }
}

/// The reply to one request: `OK` for an authorised address, `DUNNO` otherwise.
pub fn decide(registry: &RelayRegistry, req: &Request) -> &'static str {
    match req.client() {
        Ok(ip) if registry.is_authorized(ip) => {
            tracing::info!(client = %ip, "POP-before-SMTP: relay allowed");
            "action=OK\n\n"
        }
        Ok(ip) => {
            tracing::debug!(client = %ip, "POP-before-SMTP: not recorded");
            "action=DUNNO\n\n"
        }
        Err(e) => {
            tracing::warn!(error = %e, "malformed policy request");
            "action=DUNNO\n\n"
        }
    }
}

/// Binds the policy listener.
pub async fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot listen on {addr} (POP-before-SMTP policy): {e}"),
        )
    })
}

/// Accepts policy connections until shutdown.
pub async fn serve(ctx: Arc<Ctx>, listener: TcpListener) {
    let mut shutdown = ctx.shutdown.clone();
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait() => break,
            a = listener.accept() => a,
        };
        let (sock, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "policy accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "too many policy connections, connection refused");
            continue;
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match connection(&ctx, sock).await {
                Ok(()) => tracing::debug!(%peer, "policy connection closed"),
                Err(e) => tracing::debug!(%peer, error = %e, "policy connection lost"),
            }
        });
    }
}

/// Serves one persistent policy connection: any number of requests.
async fn connection(ctx: &Ctx, mut sock: TcpStream) -> std::io::Result<()> {
    let mut shutdown = ctx.shutdown.clone();
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = vec![0u8; 4096];
    let mut req = Request::default();
    // True while the rest of an over-long line is being discarded.
    let mut discarding = false;
    let mut out = String::new();
    loop {
        // Handle every complete line in the buffer.
        while let Some(i) = buf.iter().position(|&b| b == b'\n') {
            let mut line = &buf[..i];
            if let Some(l) = line.strip_suffix(b"\r") {
                line = l;
            }
            if discarding {
                discarding = false;
            } else if line.is_empty() {
                out.push_str(decide(&ctx.relay, &req));
                req = Request::default();
            } else if line.len() > MAX_LINE {
                req.fail(PolicyError::LineTooLong);
            } else {
                req.line(line);
            }
            buf.drain(..=i);
        }
        if buf.len() > MAX_LINE {
            req.fail(PolicyError::LineTooLong);
            discarding = true;
            buf.clear();
        }
        if !out.is_empty() {
            sock.write_all(out.as_bytes()).await?;
            out.clear();
        }
        let n = tokio::select! {
            r = tokio::time::timeout(IDLE_TIMEOUT, sock.read(&mut chunk)) => match r {
                Ok(r) => r?,
                Err(_) => return Ok(()),
            },
            _ = shutdown.wait() => return Ok(()),
        };
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(lines: &[&str]) -> Request {
        let mut r = Request::default();
        for l in lines {
            r.line(l.as_bytes());
        }
        r
    }

    #[test]
    fn registry_records_and_expires() {
        let r = RelayRegistry::new(Duration::from_secs(60));
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        assert!(!r.is_authorized(ip));
        r.record(ip);
        assert!(r.is_authorized(ip));
        // An IPv4-mapped IPv6 address is the same client.
        assert!(r.is_authorized("::ffff:192.0.2.7".parse().unwrap()));
        assert!(!r.is_authorized("192.0.2.8".parse().unwrap()));
        let z = RelayRegistry::new(Duration::ZERO);
        z.record(ip);
        assert!(!z.is_authorized(ip));
        assert!(z.is_empty());
    }

    #[test]
    fn requests() {
        let ok = req(&["request=smtpd_access_policy", "client_address=1.2.3.4"]);
        assert_eq!(ok.client(), Ok("1.2.3.4".parse().unwrap()));
        let v6 = req(&["request=smtpd_access_policy", "client_address=2001:db8::1"]);
        assert_eq!(v6.client(), Ok("2001:db8::1".parse().unwrap()));
        assert_eq!(
            req(&["client_address=1.2.3.4"]).client(),
            Err(PolicyError::NoRequest)
        );
        assert!(matches!(
            req(&["request=junk", "client_address=1.2.3.4"]).client(),
            Err(PolicyError::WrongRequest(_))
        ));
        assert!(matches!(
            req(&["request=smtpd_access_policy", "garbage"]).client(),
            Err(PolicyError::NoEquals(_))
        ));
        assert!(matches!(
            req(&["request=smtpd_access_policy", "client_address=nope"]).client(),
            Err(PolicyError::BadClientAddress(_))
        ));
        let many: Vec<String> = (0..=MAX_ATTRS).map(|i| format!("a{i}=b")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(req(&many).client(), Err(PolicyError::TooManyAttributes));
    }
}
