//! The network layer: listeners, the connection stream type (plain, TLS, standard I/O),
//! channel limits, time-outs, session ids and graceful shutdown.
//!
//! Does not live here: protocol state. A protocol module gets a [`Stream`] and a
//! [`ConnInfo`] and returns when its session is over; it never binds or accepts.
//!
//! Architecture invariant: one tokio task per connection, no thread per connection; an idle
//! connection holds only its socket, its small read buffer and its session state.

pub mod activation;
pub mod deflate;
pub mod stream;
pub mod tls;

pub use stream::Stream;

use crate::Ctx;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Which protocol a listener speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    Imap,
    Pop3,
    Lmtp,
}

impl Protocol {
    /// The tag log records carry (`IMAP-17`, `POP-42`, `LMTP-3`).
    pub fn tag(self) -> &'static str {
        match self {
            Protocol::Imap => "IMAP",
            Protocol::Pop3 => "POP",
            Protocol::Lmtp => "LMTP",
        }
    }
}

/// What a session knows about its connection.
#[derive(Clone, Debug)]
pub struct ConnInfo {
    /// Server-wide unique session number (shown as `IMAP-<id>` in logs and `sessions`).
    pub id: u64,
    /// The client's address (`None` on standard I/O).
    pub peer: Option<SocketAddr>,
    /// The local address the client connected to (selects the login domain, A1).
    pub local: Option<SocketAddr>,
    /// The protocol.
    pub protocol: Protocol,
    /// True when the listener is implicit TLS (the stream is already encrypted).
    pub implicit_tls: bool,
}

impl ConnInfo {
    /// `IMAP-17`.
    pub fn label(&self) -> String {
        format!("{}-{}", self.protocol.tag(), self.id)
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Allocates a session id.
pub fn next_session_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// Shutdown signal shared by listeners and sessions: `true` once shutdown began.
#[derive(Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// The sending side of [`Shutdown`].
pub struct ShutdownTrigger {
    tx: watch::Sender<bool>,
}

/// A new shutdown pair.
pub fn shutdown_pair() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger { tx }, Shutdown { rx })
}

impl ShutdownTrigger {
    /// Starts the shutdown.
    pub fn trigger(&self) {
        let _ = self.tx.send(true);
    }
    /// A receiver.
    pub fn subscribe(&self) -> Shutdown {
        Shutdown {
            rx: self.tx.subscribe(),
        }
    }
}

impl Shutdown {
    /// True once shutdown began.
    pub fn is_shutdown(&self) -> bool {
        *self.rx.borrow()
    }
    /// Resolves when shutdown begins.
    pub async fn wait(&mut self) {
        while !*self.rx.borrow_and_update() {
            if self.rx.changed().await.is_err() {
                // The trigger is gone: the server is going away.
                return;
            }
        }
    }
}

/// A protocol's session entry point.
pub type SessionFn =
    fn(Arc<Ctx>, Stream, ConnInfo) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Wraps a session for [`SessionFn`]: runs it under the session's log span (`IMAP-17`),
/// logging the connection, its end, and why it ended if it was lost.
///
/// Takes the session as a closure, not a future: a future captured by an `async` block
/// and awaited in it is stored twice in the block's state (once as the capture, once as
/// the awaitee), which doubled the memory of every connection.
pub fn logged_session<M, F>(
    info: &ConnInfo,
    tls: bool,
    make: M,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>>
where
    M: FnOnce() -> F + Send + 'static,
    F: Future<Output = std::io::Result<()>> + Send + 'static,
{
    use tracing::Instrument;
    let span = tracing::info_span!("session", s = %info.label());
    let peer = info.peer;
    Box::pin(
        async move {
            tracing::info!(?peer, tls, "connected");
            match make().await {
                Ok(()) => tracing::info!("closed"),
                Err(e) => tracing::info!(error = %e, "connection lost"),
            }
        }
        .instrument(span),
    )
}

/// A module's channel limit (P11, I14: "maximum number of channels"): the connections
/// open now and the maximum, which the web admin changes while the server runs (a lower
/// maximum refuses new connections until enough have ended; none is closed).
#[derive(Debug)]
pub struct ChannelLimit {
    protocol: Protocol,
    open: AtomicUsize,
    max: AtomicUsize,
}

/// One connection's place within its module's [`ChannelLimit`]; released on drop.
pub struct ChannelPermit {
    limit: Arc<ChannelLimit>,
}

impl ChannelLimit {
    /// A limit of `max` (at least 1) connections.
    pub fn new(protocol: Protocol, max: usize) -> Arc<ChannelLimit> {
        Arc::new(ChannelLimit {
            protocol,
            open: AtomicUsize::new(0),
            max: AtomicUsize::new(max.max(1)),
        })
    }
    /// The connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
    /// The maximum.
    pub fn max(&self) -> usize {
        self.max.load(Ordering::Relaxed)
    }
    /// Changes the maximum (at least 1).
    pub fn set_max(&self, max: usize) {
        self.max.store(max.max(1), Ordering::Relaxed);
    }
    /// A place for one more connection, unless the maximum is reached.
    pub fn try_acquire(self: &Arc<Self>) -> Option<ChannelPermit> {
        let max = self.max();
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        crate::metrics::connection_opened(self.protocol);
        Some(ChannelPermit {
            limit: self.clone(),
        })
    }
}

impl Drop for ChannelPermit {
    fn drop(&mut self) {
        self.limit.open.fetch_sub(1, Ordering::AcqRel);
        crate::metrics::connection_closed(self.limit.protocol);
    }
}

/// One bound listener.
pub struct Bound {
    pub protocol: Protocol,
    pub implicit_tls: bool,
    pub listener: TcpListener,
}

impl Bound {
    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// Binds one listener.
pub async fn bind(
    protocol: Protocol,
    implicit_tls: bool,
    addr: SocketAddr,
) -> std::io::Result<Bound> {
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot listen on {addr} ({}): {e}", protocol.tag()),
        )
    })?;
    Ok(Bound {
        protocol,
        implicit_tls,
        listener,
    })
}

/// Takes a listener already open (systemd socket activation, see [`activation`]).
pub fn adopt(
    protocol: Protocol,
    implicit_tls: bool,
    listener: std::net::TcpListener,
) -> std::io::Result<Bound> {
    listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(listener).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot use the passed {} socket: {e}", protocol.tag()),
        )
    })?;
    Ok(Bound {
        protocol,
        implicit_tls,
        listener,
    })
}

/// The refusal line a protocol sends when its channel limit is reached.
fn refusal(protocol: Protocol) -> &'static [u8] {
    match protocol {
        Protocol::Imap => b"* BYE [UNAVAILABLE] too many IMAP connections, try again later\r\n",
        Protocol::Pop3 => b"-ERR [SYS/TEMP] too many POP3 connections, try again later\r\n",
        Protocol::Lmtp => b"421 4.3.2 too many LMTP connections, try again later\r\n",
    }
}

/// The TLS handshake of an implicit-TLS connection (30 s at most); `None` when it
/// failed (logged).
async fn tls_accept(ctx: &Ctx, sock: tokio::net::TcpStream, info: &ConnInfo) -> Option<Stream> {
    let acceptor = ctx.tls.clone()?;
    let r = tokio::time::timeout(std::time::Duration::from_secs(30), acceptor.accept(sock)).await;
    crate::metrics::tls_handshake(info.protocol, matches!(r, Ok(Ok(_))));
    match r {
        Ok(Ok(s)) => Some(Stream::Tls(Box::new(s))),
        Ok(Err(e)) => {
            tracing::info!(session = %info.label(), error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::info!(session = %info.label(), "TLS handshake timed out");
            None
        }
    }
}

/// Accepts connections on `bound` until shutdown, running `session` for each within the
/// protocol's channel limit (`limit`). Past the limit a connection gets the protocol's
/// refusal line and is closed.
pub async fn accept_loop(
    ctx: Arc<Ctx>,
    bound: Bound,
    limit: Arc<ChannelLimit>,
    session: SessionFn,
) {
    let mut shutdown = ctx.shutdown.clone();
    let protocol = bound.protocol;
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait() => break,
            a = bound.listener.accept() => a,
        };
        let (sock, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(module = protocol.tag(), error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = sock.set_nodelay(true);
        let local = sock.local_addr().ok();
        let permit = match limit.try_acquire() {
            Some(p) => p,
            None => {
                crate::metrics::refused(protocol);
                tracing::warn!(module = protocol.tag(), %peer, "channel limit reached, connection refused");
                tokio::spawn(async move {
                    use tokio::io::AsyncWriteExt;
                    let mut sock = sock;
                    let _ = tokio::time::timeout(
                        std::time::Duration::from_secs(5),
                        sock.write_all(refusal(protocol)),
                    )
                    .await;
                    let _ = sock.shutdown().await;
                });
                continue;
            }
        };
        let info = ConnInfo {
            id: next_session_id(),
            peer: Some(peer),
            local,
            protocol,
            implicit_tls: bound.implicit_tls,
        };
        let ctx2 = ctx.clone();
        let implicit = bound.implicit_tls;
        tokio::spawn(async move {
            let _permit = permit;
            let stream = if implicit {
                // Boxed: the handshake's state is large and lives only during it.
                match Box::pin(tls_accept(&ctx2, sock, &info)).await {
                    Some(s) => s,
                    None => return,
                }
            } else {
                Stream::Plain(sock)
            };
            session(ctx2, stream, info).await;
        });
    }
}
