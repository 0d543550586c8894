//! S/MIME for mailroom (seed 001, item I13: `COPY … ENCRYPTED`): a stored message turned
//! into an RFC 8551 enveloped-data message that only the holder of a certificate's
//! private key can read.
//!
//! What lives here:
//! - [`Recipient`] (`cert.rs`): an X.509 certificate (DER or PEM) checked for use as an
//!   S/MIME encryption recipient (an RSA key of at least 2048 bits that may encipher
//!   keys), and its [`Summary`] (subject, validity) for operators;
//! - [`Enveloper`] (`envelope.rs`): the whole outer message (the header fields a client
//!   needs to list it, the `application/pkcs7-mime` MIME fields, then the base64 CMS
//!   `EnvelopedData`) written as a stream: the original is fed in chunks and each chunk's
//!   output comes out at once, so neither the original nor the result is ever held
//!   whole, whatever its size;
//! - `outer.rs`: which header fields of the original stay readable outside.
//!
//! What does not: reading or storing messages (the server's `smime` module drives an
//! [`Enveloper`] over a stored message's content and into a staged message), keeping
//! certificates (the directory keeps an account's as DER), the clock and the random
//! source (passed in by the caller). No I/O happens here.
//!
//! The ASN.1 is RustCrypto's: the `cms` types (RFC 5652) and `x509-cert` (RFC 5280),
//! encoded by `der`; RSA key transport by `rsa`, AES-CBC by `aes` + `cbc`, all pure
//! Rust. The streamed encoding is the DER the `cms` types give for the same message
//! (a unit test compares them octet for octet).

#![forbid(unsafe_code)]

mod cert;
mod envelope;
mod outer;

pub use cert::{CertError, Recipient, Summary};
pub use envelope::{EnvelopeError, Enveloper};
pub use outer::{outer_header, KEPT_FIELDS, MIME_FIELDS};

/// The random source the caller hands in (the server passes the operating system's);
/// re-exported so callers name the same `rand_core` as `rsa`.
pub use rsa::rand_core;
