//! Recipient certificates: an X.509 certificate (RFC 5280) whose public key messages can
//! be encrypted to with RSA key transport (RFC 8551 section 2.3, RFC 3370 4.2.1).
//!
//! What is checked, and why: the key must be an `rsaEncryption` key (RSA key transport is
//! the only key management this crate does; ECDH is not implemented), of at least 2048
//! bits (RFC 8551 section 4.4: "key size <= 2047 : SHOULD NOT") and at most 8192 (the
//! `rsa` crate's bound), and when the certificate has a key usage extension it must
//! assert `keyEncipherment` (RFC 5280 4.2.1.3: "used when the subject public key is
//! used for enciphering private or secret keys, i.e., for key transport"). The
//! validity period and the issuer's signature are not checked: the certificate is the
//! user's own choice of where to send their mail, and the caller may show the validity
//! ([`Summary`]).
//!
//! Not here: where a certificate comes from (the IMAP command's argument, or the
//! account's in the directory) and the encryption itself (`envelope.rs`).

use der::referenced::OwnedToRef;
use der::{Decode, DecodePem, Encode};
use rsa::traits::PublicKeyParts;
use rsa::PublicKey;
use x509_cert::ext::pkix::KeyUsage;
use x509_cert::Certificate;

/// Smallest RSA modulus accepted, in bits (RFC 8551 section 4.4).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits.
pub const MAX_RSA_BITS: usize = PublicKey::MAX_SIZE;

/// Why a certificate cannot be used. [`CertError::NotCertificate`] is about the octets
/// (they are no certificate at all); every other variant is a real certificate whose key
/// cannot receive an encrypted message ([`CertError::is_unusable_key`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// Not a DER (or PEM) X.509 certificate.
    #[error("not an X.509 certificate: {0}")]
    NotCertificate(String),
    /// The subject public key is not an RSA encryption key.
    #[error("the certificate's key is not an RSA key ({0}): only RSA key transport is supported")]
    NotRsa(String),
    /// RSA, but outside the sizes accepted.
    #[error("the certificate's RSA key has {0} bits: {MIN_RSA_BITS} to {MAX_RSA_BITS} are accepted (RFC 8551 section 4.4)")]
    KeySize(usize),
    /// RSA, but the key does not decode.
    #[error("the certificate's RSA key is malformed")]
    BadKey,
    /// The key usage extension does not allow key encipherment.
    #[error("the certificate's key usage does not include keyEncipherment")]
    NoKeyEncipherment,
}

impl CertError {
    /// True for a certificate that parsed but whose key cannot be encrypted to.
    pub fn is_unusable_key(&self) -> bool {
        !matches!(self, CertError::NotCertificate(_))
    }
}

/// A certificate checked for use as an encryption recipient, with its RSA key.
#[derive(Clone, Debug)]
pub struct Recipient {
    cert: Certificate,
    key: PublicKey,
}

/// What an operator sees of a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The subject's distinguished name (RFC 4514 string form).
    pub subject: String,
    /// The issuer's distinguished name.
    pub issuer: String,
    /// Start of the validity period (`YYYY-MM-DDTHH:MM:SSZ`).
    pub not_before: String,
    /// End of the validity period, the expiry (`YYYY-MM-DDTHH:MM:SSZ`).
    pub not_after: String,
    /// The expiry in seconds since the Unix epoch.
    pub not_after_unix: u64,
    /// The key (`RSA 2048 bits`).
    pub key: String,
}

impl Recipient {
    /// A recipient from a DER certificate (as base64-decoded from an IMAP command, or as
    /// the directory keeps it).
    pub fn from_der(der: &[u8]) -> Result<Recipient, CertError> {
        let cert =
            Certificate::from_der(der).map_err(|e| CertError::NotCertificate(e.to_string()))?;
        Self::from_certificate(cert)
    }

    /// A recipient from a file's contents: a PEM certificate (`-----BEGIN
    /// CERTIFICATE-----`, the first one if there are several) or a DER one.
    pub fn from_pem_or_der(bytes: &[u8]) -> Result<Recipient, CertError> {
        let text = bytes.trim_ascii_start();
        if text.starts_with(b"-----BEGIN") {
            let start = text
                .windows(27)
                .position(|w| w == b"-----BEGIN CERTIFICATE-----")
                .ok_or_else(|| {
                    CertError::NotCertificate("PEM without a CERTIFICATE block".into())
                })?;
            let block = &text[start..];
            let end = block
                .windows(25)
                .position(|w| w == b"-----END CERTIFICATE-----")
                .map(|p| p + 25)
                .ok_or_else(|| CertError::NotCertificate("unterminated PEM block".into()))?;
            let cert = Certificate::from_pem(&block[..end])
                .map_err(|e| CertError::NotCertificate(e.to_string()))?;
            return Self::from_certificate(cert);
        }
        Self::from_der(bytes)
    }

    fn from_certificate(cert: Certificate) -> Result<Recipient, CertError> {
        let tbs = cert.tbs_certificate();
        let spki = tbs.subject_public_key_info();
        if spki.algorithm.oid != const_oid::db::rfc5912::RSA_ENCRYPTION {
            let oid = spki.algorithm.oid;
            let name = const_oid::db::DB
                .by_oid(&oid)
                .map(str::to_owned)
                .unwrap_or_else(|| oid.to_string());
            return Err(CertError::NotRsa(name));
        }
        let pkcs1 = spki
            .subject_public_key
            .as_bytes()
            .and_then(|b| rsa::pkcs1::RsaPublicKeyRef::from_der(b).ok())
            .ok_or(CertError::BadKey)?;
        let bits = bit_length(pkcs1.modulus.as_bytes());
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            return Err(CertError::KeySize(bits));
        }
        let key = PublicKey::try_from(spki.owned_to_ref()).map_err(|_| CertError::BadKey)?;
        match tbs.get_extension::<KeyUsage>() {
            Ok(Some((_, ku))) if !ku.key_encipherment() => {
                return Err(CertError::NoKeyEncipherment)
            }
            Ok(_) => {}
            Err(e) => return Err(CertError::NotCertificate(format!("key usage: {e}"))),
        }
        Ok(Recipient { cert, key })
    }

    /// The certificate, DER-encoded (what the directory keeps).
    pub fn to_der(&self) -> Vec<u8> {
        // A certificate that was decoded from DER encodes again.
        self.cert.to_der().unwrap_or_default()
    }

    /// The certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// The RSA key messages are encrypted to.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// Subject, issuer, validity and key, for operators.
    pub fn summary(&self) -> Summary {
        let tbs = self.cert.tbs_certificate();
        let v = tbs.validity();
        Summary {
            subject: tbs.subject().to_string(),
            issuer: tbs.issuer().to_string(),
            not_before: v.not_before.to_string(),
            not_after: v.not_after.to_string(),
            not_after_unix: v.not_after.to_unix_duration().as_secs(),
            key: format!("RSA {} bits", self.key.n().bit_width()),
        }
    }
}

/// Bits of a big-endian unsigned integer.
fn bit_length(be: &[u8]) -> usize {
    let Some(i) = be.iter().position(|&b| b != 0) else {
        return 0;
    };
    (be.len() - i) * 8 - be[i].leading_zeros() as usize
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const RSA2048: &[u8] = include_bytes!("../testdata/rsa2048.cert.pem");
    const RSA1024: &[u8] = include_bytes!("../testdata/rsa1024.cert.pem");
    const EC: &[u8] = include_bytes!("../testdata/ec.cert.pem");
    const SIGN_ONLY: &[u8] = include_bytes!("../testdata/signonly.cert.pem");

    #[test]
    fn rsa_certificate_from_pem_and_der() {
        let r = Recipient::from_pem_or_der(RSA2048).unwrap();
        let der = r.to_der();
        assert_eq!(der[0], 0x30);
        let again = Recipient::from_der(&der).unwrap();
        assert_eq!(again.to_der(), der);
        assert_eq!(Recipient::from_pem_or_der(&der).unwrap().to_der(), der);
        let s = r.summary();
        assert!(
            s.subject.contains("CN=Mailroom Test Recipient"),
            "{}",
            s.subject
        );
        assert_eq!(s.key, "RSA 2048 bits");
        assert!(s.not_after.starts_with("21"), "{}", s.not_after);
        assert!(s.not_after_unix > 4_000_000_000);
    }

    #[test]
    fn unusable_keys_are_told_apart_from_garbage() {
        let e = Recipient::from_pem_or_der(EC).unwrap_err();
        assert!(
            matches!(&e, CertError::NotRsa(n) if n == "id-ecPublicKey"),
            "{e}"
        );
        assert!(e.is_unusable_key());
        let e = Recipient::from_pem_or_der(RSA1024).unwrap_err();
        assert_eq!(e, CertError::KeySize(1024));
        assert!(e.is_unusable_key());
        let e = Recipient::from_pem_or_der(SIGN_ONLY).unwrap_err();
        assert_eq!(e, CertError::NoKeyEncipherment);
        let e = Recipient::from_der(b"hello").unwrap_err();
        assert!(matches!(e, CertError::NotCertificate(_)));
        assert!(!e.is_unusable_key());
        // A certificate with octets after it is no certificate.
        let mut der = Recipient::from_pem_or_der(RSA2048).unwrap().to_der();
        der.push(0);
        assert!(matches!(
            Recipient::from_der(&der),
            Err(CertError::NotCertificate(_))
        ));
        assert!(matches!(
            Recipient::from_pem_or_der(b"-----BEGIN PRIVATE KEY-----\n"),
            Err(CertError::NotCertificate(_))
        ));
    }

    #[test]
    fn bit_lengths() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[0, 0]), 0);
        assert_eq!(bit_length(&[1]), 1);
        assert_eq!(bit_length(&[0, 0x80, 0]), 16);
        assert_eq!(bit_length(&[0x7f, 0]), 15);
    }
}
