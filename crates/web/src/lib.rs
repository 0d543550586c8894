//! mailroom-web: the web admin (issue 17) and the Prometheus statistics endpoint (I9),
//! served by the mail server itself over HTTPS with the server's certificate, on the
//! `[admin] listen` addresses.
//!
//! Map:
//! - this file: [`install_recorder`] (the Prometheus recorder behind the `metrics`
//!   facade the sessions record into), [`start`] (listeners: TLS handshake, then hyper's
//!   HTTP/1.1 server over the axum router), the router;
//! - [`auth`]: logins (the directory checks the password as for IMAP; administrators
//!   only), the session cookie (`Secure; HttpOnly; SameSite=Strict`), CSRF tokens;
//! - [`html`]: escaping, the page frame, forms, the error page;
//! - [`pages`]: one handler per page and form: domains, accounts, aliases, router,
//!   mailbox aliases, alerts, ACLs, the session monitor, settings, graphs.
//!
//! Does not live here: what the pages change (the directory, the store, the registry,
//! `mailroom_server::settings`), and which statistics exist (`mailroom_server::metrics`).
//!
//! Pages are rendered on the server; the monitor and the graphs refresh themselves with
//! a few lines of plain JavaScript (no build step). Every form carries the session's
//! CSRF token; `/metrics` needs no login (keep the listener on loopback or firewalled).

#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod auth;
pub mod html;
pub mod pages;

use axum::routing::{get, post};
use axum::Router;
use mailroom_server::Ctx;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Shared state of the web admin.
pub struct Web {
    /// The server's shared state.
    pub ctx: Arc<Ctx>,
    /// Renders the statistics (`None`: another recorder was installed first).
    pub prometheus: Option<PrometheusHandle>,
    /// Logged-in administrators.
    pub logins: auth::Logins,
}

/// Why the web admin could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("cannot listen on {addr} (admin): {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the passed admin socket (socket activation): {0}")]
    Passed(std::io::Error),
    #[error("the web admin needs TLS, and the server has no certificate")]
    NoTls,
}

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once; later calls return the same
/// handle). `None` when another recorder was installed before.
pub fn install_recorder() -> Option<PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            // Seconds: 0.5 ms to 30 s, for command and commit latencies.
            let buckets = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 30.0,
            ];
            let recorder = PrometheusBuilder::new()
                .set_buckets(&buckets)
                .ok()?
                .install_recorder()
                .ok()?;
            mailroom_server::metrics::describe();
            Some(recorder)
        })
        .clone()
}

/// The router over `web`.
pub fn router(web: Arc<Web>) -> Router {
    Router::new()
        .route("/metrics", get(pages::metrics))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/", get(pages::overview))
        .route("/domains", get(pages::domains).post(pages::domains_post))
        .route("/accounts", get(pages::accounts).post(pages::accounts_post))
        .route("/aliases", get(pages::aliases).post(pages::aliases_post))
        .route("/router", get(pages::router_page).post(pages::router_post))
        .route(
            "/mailbox-aliases",
            get(pages::mailbox_aliases).post(pages::mailbox_aliases_post),
        )
        .route("/alerts", get(pages::alerts).post(pages::alerts_post))
        .route("/acl", get(pages::acl).post(pages::acl_post))
        .route("/sessions", get(pages::sessions).post(pages::sessions_post))
        .route("/sessions.json", get(pages::sessions_json))
        .route("/settings", get(pages::settings).post(pages::settings_post))
        .route("/graphs", get(pages::graphs))
        .fallback(pages::not_found)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(web)
}

/// Headers on every answer: no framing (clickjacking), no referrer, no caching of
/// administrative pages, no content sniffing.
async fn security_headers(mut r: axum::response::Response) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let h = r.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Binds the `[admin] listen` addresses and serves the web admin on them until the
/// server shuts down. Returns the bound addresses.
pub async fn start(
    ctx: Arc<Ctx>,
    addrs: &[SocketAddr],
    prometheus: Option<PrometheusHandle>,
) -> Result<Vec<SocketAddr>, WebError> {
    start_with(ctx, addrs, Vec::new(), prometheus).await
}

/// As [`start`], with listeners already open (systemd socket activation): when `passed`
/// is not empty, its sockets replace the configured `addrs`, which are then not bound.
pub async fn start_with(
    ctx: Arc<Ctx>,
    addrs: &[SocketAddr],
    passed: Vec<std::net::TcpListener>,
    prometheus: Option<PrometheusHandle>,
) -> Result<Vec<SocketAddr>, WebError> {
    if addrs.is_empty() && passed.is_empty() {
        return Ok(Vec::new());
    }
    let tls = ctx.tls.clone().ok_or(WebError::NoTls)?;
    let idle = Duration::from_secs(ctx.config().admin.session_idle_secs.max(60));
    let web = Arc::new(Web {
        ctx: ctx.clone(),
        prometheus,
        logins: auth::Logins::new(idle),
    });
    let app = router(web);
    let mut listeners = Vec::new();
    if passed.is_empty() {
        for addr in addrs {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| WebError::Listen {
                    addr: *addr,
                    source,
                })?;
            listeners.push((*addr, l));
        }
    } else {
        for l in passed {
            let addr = l.local_addr().map_err(WebError::Passed)?;
            l.set_nonblocking(true).map_err(WebError::Passed)?;
            let l = tokio::net::TcpListener::from_std(l).map_err(WebError::Passed)?;
            listeners.push((addr, l));
        }
    }
    let mut bound = Vec::new();
    for (addr, l) in listeners {
        let local = l
            .local_addr()
            .map_err(|source| WebError::Listen { addr, source })?;
        bound.push(local);
        tokio::spawn(accept_loop(ctx.clone(), l, tls.clone(), app.clone()));
    }
    Ok(bound)
}

/// At most this many web connections at once (the admin is one person or a scraper).
const MAX_CONNECTIONS: usize = 64;
/// The longest life of one (kept-alive) web connection.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(120);

async fn accept_loop(
    ctx: Arc<Ctx>,
    listener: tokio::net::TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    app: Router,
) {
    let mut shutdown = ctx.shutdown.clone();
    let limit = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait() => break,
            a = listener.accept() => a,
        };
        let (sock, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(module = "ADMIN", error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            continue; // dropped: too many connections
        };
        let tls = tls.clone();
        let app = app.clone();
        let mut shutdown = ctx.shutdown.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let stream = match tokio::time::timeout(Duration::from_secs(10), tls.accept(sock)).await
            {
                Ok(Ok(s)) => s,
                _ => {
                    tracing::debug!(%peer, "web admin: TLS handshake failed");
                    return;
                }
            };
            let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
                req.extensions_mut().insert(auth::Peer(peer));
                let mut app = app.clone();
                async move {
                    use tower_service::Service;
                    app.call(req.map(axum::body::Body::new)).await
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::pin!(conn);
            // A kept-alive connection lives at most CONNECTION_LIFETIME (browsers open
            // a new one), and ends at shutdown; both after the request in progress.
            let lifetime = tokio::time::sleep(CONNECTION_LIFETIME);
            tokio::pin!(lifetime);
            let mut ending = false;
            loop {
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(%peer, error = %e, "web admin connection ended");
                        }
                        break;
                    }
                    _ = &mut lifetime, if !ending => {
                        conn.as_mut().graceful_shutdown();
                        ending = true;
                    }
                    _ = shutdown.wait(), if !ending => {
                        conn.as_mut().graceful_shutdown();
                        ending = true;
                    }
                }
            }
        });
    }
}
