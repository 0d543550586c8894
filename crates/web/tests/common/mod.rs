//! Shared by the web crate's integration tests: an in-process server with the web admin
//! on `127.0.0.1:0`, an HTTPS client that trusts its self-signed certificate, the
//! Prometheus text format parser, and a line client.
#![allow(dead_code, clippy::unwrap_used)]

use mailroom_server::net::Protocol;
use mailroom_server::server::{self, Running};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub struct Web {
    _dir: tempfile::TempDir,
    pub running: Running,
    pub admin: SocketAddr,
}

pub async fn start() -> Web {
    let dir = tempfile::tempdir().unwrap();
    let cfg = server::test_config(dir.path());
    let store = mailroom_store::open_default(cfg.server.data_dir.join("mail")).unwrap();
    let prometheus = mailroom_web::install_recorder();
    assert!(prometheus.is_some(), "the recorder installs");
    let listen = cfg.admin.listen.clone();
    let running = server::start(cfg, store).await.unwrap();
    let admin = mailroom_web::start(running.ctx.clone(), &listen, prometheus)
        .await
        .unwrap();
    let d = &running.ctx.directory;
    d.add_account("bob", &mailroom_directory::Secret::new("pw"))
        .unwrap();
    d.add_account("boss", &mailroom_directory::Secret::new("pw"))
        .unwrap();
    d.set_admin("boss", true).unwrap();
    Web {
        _dir: dir,
        admin: admin[0],
        running,
    }
}

// ---- an HTTPS client that trusts the test server's self-signed certificate ----------

#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &[rustls_pki_types::CertificateDer<'_>],
        _: &rustls_pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &rustls_pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &rustls_pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS connection to `addr` that accepts the test server's certificate.
pub async fn tls_connect(addr: SocketAddr) -> tokio_rustls::client::TlsStream<TcpStream> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("mailroom.test").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

/// One HTTPS request; returns the status line, the header block and the body.
pub async fn https(addr: SocketAddr, request: &str) -> (String, String, String) {
    let mut tls = tls_connect(addr).await;
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    // hyper closes after the answer (`Connection: close`); a TLS close_notify may be
    // missing, which is not this test's business.
    let _ = tls.read_to_end(&mut out).await;
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (status.to_string(), headers.to_string(), body.to_string())
}

pub async fn get(addr: SocketAddr, path: &str, cookie: &str) -> (String, String, String) {
    https(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: mailroom.test\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"),
    )
    .await
}

pub async fn post(
    addr: SocketAddr,
    path: &str,
    cookie: &str,
    body: &str,
) -> (String, String, String) {
    https(
        addr,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: mailroom.test\r\nCookie: {cookie}\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .await
}

// ---- the exposition format -----------------------------------------------------------

/// Every sample of a Prometheus text exposition: (name, labels, value).
pub fn parse(text: &str) -> Vec<(String, HashMap<String, String>, f64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value of {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => {
                let inner = rest.strip_suffix('}').unwrap();
                let labels = inner
                    .split(',')
                    .filter(|kv| !kv.is_empty())
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').unwrap();
                        (k.to_string(), v.trim_matches('"').to_string())
                    })
                    .collect();
                (n.to_string(), labels)
            }
            None => (series.to_string(), HashMap::new()),
        };
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'),
            "metric name {name}"
        );
        out.push((name, labels, value));
    }
    out
}

/// The sum of the samples of `name` whose labels include `want`.
pub fn sum(
    samples: &[(String, HashMap<String, String>, f64)],
    name: &str,
    want: &[(&str, &str)],
) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && want
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

pub async fn scrape(addr: SocketAddr) -> Vec<(String, HashMap<String, String>, f64)> {
    let (status, headers, body) = get(addr, "/metrics", "").await;
    assert!(status.contains(" 200 "), "{status}");
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("content-type: text/plain"),
        "{headers}"
    );
    parse(&body)
}

// ---- line clients --------------------------------------------------------------------

pub struct Client {
    pub r: BufReader<tokio::net::tcp::OwnedReadHalf>,
    pub w: tokio::net::tcp::OwnedWriteHalf,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
        Client {
            r: BufReader::new(r),
            w,
        }
    }
    pub async fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).await.unwrap();
        l
    }
    pub async fn send(&mut self, l: &str) {
        self.w.write_all(l.as_bytes()).await.unwrap();
        self.w.write_all(b"\r\n").await.unwrap();
    }
    /// Sends an IMAP command and returns every line up to its tagged answer.
    pub async fn imap(&mut self, tag: &str, cmd: &str) -> Vec<String> {
        self.send(&format!("{tag} {cmd}")).await;
        let mut out = Vec::new();
        loop {
            let l = self.line().await;
            assert!(!l.is_empty(), "connection closed during {cmd}: {out:?}");
            let done = l.starts_with(&format!("{tag} "));
            out.push(l);
            if done {
                return out;
            }
        }
    }
}

pub fn addr_of(w: &Web, p: Protocol) -> SocketAddr {
    w.running
        .listeners
        .iter()
        .find(|(q, tls, _)| *q == p && !tls)
        .unwrap()
        .2
}
