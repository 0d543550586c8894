//! TLS: loads the configured certificate and key (PEM), or generates a self-signed
//! certificate on first start and keeps it in the data directory so clients can pin it.
//! The acceptor takes its certificate from a [`Certs`] resolver, so a reload (SIGHUP,
//! `mailroom reload`) hands the renewed certificate to the next handshake while
//! established sessions go on with theirs.

use crate::config::TlsSection;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use tokio_rustls::TlsAcceptor;

/// TLS set-up failures (the operator's files or the disk).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: rustls_pki_types::pem::Error,
    },
    #[error("{0}: no certificate found")]
    NoCert(PathBuf),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("certificate generation failed: {0}")]
    Generate(String),
    #[error("certificate and key do not go together: {0}")]
    Config(String),
    #[error("[tls] needs both cert and key, or neither")]
    Half,
}

/// Where the generated certificate lives.
pub fn generated_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// The certificate served to new TLS handshakes; replaced by [`Certs::reload`].
#[derive(Debug)]
pub struct Certs {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Certs {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

impl Certs {
    /// Loads the certificate and key again (as renewed by certbot, say); the previous
    /// ones stay in force when the new ones cannot be read or do not go together.
    /// Returns the certificate file read.
    pub fn reload(
        &self,
        cfg: &TlsSection,
        data_dir: &Path,
        hostname: &str,
    ) -> Result<PathBuf, TlsError> {
        let (key, path) = load(cfg, data_dir, hostname)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = key;
        Ok(path)
    }
}

/// Builds the acceptor from the config, generating a self-signed certificate for
/// `hostname` in `data_dir/tls/` when none is configured (and none was generated before).
/// The [`Certs`] returned is where a reload puts a new certificate.
pub fn acceptor(
    cfg: &TlsSection,
    data_dir: &Path,
    hostname: &str,
) -> Result<(TlsAcceptor, Arc<Certs>), TlsError> {
    let (key, _) = load(cfg, data_dir, hostname)?;
    let certs = Arc::new(Certs {
        current: RwLock::new(key),
    });
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| TlsError::Config(e.to_string()))?
    .with_no_client_auth()
    .with_cert_resolver(certs.clone());
    Ok((TlsAcceptor::from(Arc::new(config)), certs))
}

/// Reads the certificate chain and key the config names (or the generated ones).
fn load(
    cfg: &TlsSection,
    data_dir: &Path,
    hostname: &str,
) -> Result<(Arc<CertifiedKey>, PathBuf), TlsError> {
    let (cert_path, key_path) = match (&cfg.cert, &cfg.key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        (None, None) => {
            let (c, k) = generated_paths(data_dir);
            if !c.exists() || !k.exists() {
                generate(&c, &k, hostname)?;
            }
            (c, k)
        }
        _ => return Err(TlsError::Half),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .map_err(|source| TlsError::Read {
            path: cert_path.clone(),
            source,
        })?
        .collect::<Result<_, _>>()
        .map_err(|source| TlsError::Read {
            path: cert_path.clone(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCert(cert_path));
    }
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|source| TlsError::Read {
        path: key_path.clone(),
        source,
    })?;
    let signing = rustls::crypto::aws_lc_rs::default_provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let ck = CertifiedKey::new(certs, signing);
    match ck.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(e) => return Err(TlsError::Config(e.to_string())),
    }
    Ok((Arc::new(ck), cert_path))
}

fn generate(cert_path: &Path, key_path: &Path, hostname: &str) -> Result<(), TlsError> {
    let mut names = vec![hostname.to_string()];
    for n in ["localhost", "127.0.0.1"] {
        if !names.iter().any(|x| x == n) {
            names.push(n.to_string());
        }
    }
    let ck =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    let write = |path: &Path, data: &str, mode: u32| -> Result<(), TlsError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let err = |source| TlsError::Write {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)
            .map_err(err)?;
        f.write_all(data.as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    };
    write(key_path, &ck.signing_key.serialize_pem(), 0o600)?;
    write(cert_path, &ck.cert.pem(), 0o644)?;
    tracing::info!(cert = %cert_path.display(), "generated a self-signed TLS certificate");
    Ok(())
}
