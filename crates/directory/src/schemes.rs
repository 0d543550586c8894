//! Password schemes, in Dovecot's `{SCHEME}encoded` syntax, so hashes exported from Dovecot
//! (`doveadm pw`), Postfix SQL tables or `/etc/shadow` can be imported as they are.
//!
//! Verified: `{PLAIN}`, `{CLEARTEXT}`, `{CLEAR}`, `{SHA512-CRYPT}` (`$6$`), `{SHA256-CRYPT}`
//! (`$5$`), `{BLF-CRYPT}` (`$2y$`, `$2b$`, `$2a$`), `{CRYPT}` (any of those by prefix),
//! `{ARGON2ID}`, `{ARGON2I}` (PHC strings), `{SSHA512}`, `{SSHA256}`, `{SSHA}`, `{SHA512}`,
//! `{SHA256}`, `{SHA}`/`{SHA1}`, `{CRAM-MD5}` and `{SCRAM-SHA-256}` (Dovecot's
//! `iterations,salt,StoredKey,ServerKey`). A hash without a `{...}` prefix that starts with
//! `$` is treated as `{CRYPT}`.
//!
//! New passwords are stored as `{SHA512-CRYPT}` with 5000 rounds by default
//! ([`HashScheme::DEFAULT`]). Why not argon2id: mailroom also stores SCRAM-SHA-256 keys
//! (PBKDF2, 4096 iterations, RFC 7677) for every password, and those allow an offline
//! dictionary attack at about the same cost as SHA512-CRYPT/5000, so a memory-hard main hash
//! would add memory per login (19 MiB each for argon2id at OWASP settings, times every
//! concurrent POP3 poll) without raising the bar. Measured on the 2-core build machine in a
//! release build (`tests/timing.rs`): SHA512-CRYPT/5000 verifies in 1.4 ms, argon2id
//! (19 MiB, t=2) in 24 ms, BLF-CRYPT cost 5 in 2.4 ms, SCRAM key derivation takes 0.6 ms.
//! So SHA512-CRYPT keeps logins far inside the ~50 ms budget, and every other server reads
//! it. [`HashScheme::Argon2id`] is there for sites that drop SCRAM.
//!
//! Also here: [`ScramKeys`] (RFC 5802 section 3) and [`CramMd5Keys`] (the two MD5 states
//! after the HMAC pads, RFC 2104, which let CRAM-MD5 run without the plaintext).
//!
//! Not here: the SASL exchanges themselves (see [`crate::sasl`]).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use crate::DirError;

/// Longest password accepted for hashing or verification (bytes).
pub const MAX_PASSWORD: usize = 1024;

/// How new passwords are hashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashScheme {
    /// `{SHA512-CRYPT}$6$rounds=N$salt$hash`.
    Sha512Crypt {
        /// Rounds (1000 to 999,999,999).
        rounds: u32,
    },
    /// `{ARGON2ID}$argon2id$v=19$m=..,t=..,p=..$salt$hash` (RFC 9106).
    Argon2id {
        /// Memory in KiB.
        m_kib: u32,
        /// Passes.
        t: u32,
        /// Lanes.
        p: u32,
    },
}

impl HashScheme {
    /// SHA512-CRYPT, 5000 rounds (see the module documentation for why).
    pub const DEFAULT: HashScheme = HashScheme::Sha512Crypt { rounds: 5000 };
    /// Argon2id at the OWASP minimum (19 MiB, 2 passes, 1 lane).
    pub const ARGON2ID: HashScheme = HashScheme::Argon2id {
        m_kib: 19 * 1024,
        t: 2,
        p: 1,
    };
}

impl Default for HashScheme {
    fn default() -> Self {
        HashScheme::DEFAULT
    }
}

/// A well-formed hash of nothing anyone knows, verified when a login names no account, so
/// that unknown and known users take about the same time.
pub(crate) const DUMMY_HASH: &str = "{SHA512-CRYPT}$6$uiB74JdLxby6F32Y$T8z0y7Si9QoVlB9yxpOm/d5BGsXr/kgd1gpNm1z9PRk1sEYZkGCnjXwwvYwv1/IczXliWPGF1O2Q6zK13wj331";

/// Compares two byte strings in time that depends only on their lengths.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(D[(b >> 4) as usize] as char);
        s.push(D[(b & 15) as usize] as char);
    }
    s
}

/// Decodes hex (either case); `None` on odd length or a non-hex digit.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.len() & 1 == 1 {
        return None;
    }
    let v = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    b.chunks(2)
        .map(|p| Some(v(p[0])? << 4 | v(p[1])?))
        .collect()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    rand::Rng::fill(&mut rand::rng(), &mut out[..]);
    out
}

/// Splits `{SCHEME}rest` into the upper-cased scheme and the rest. Without braces, a `$`
/// prefix means `CRYPT`; anything else has no scheme.
fn split_scheme(stored: &str) -> Option<(String, &str)> {
    if let Some(r) = stored.strip_prefix('{') {
        let (scheme, rest) = r.split_once('}')?;
        return Some((scheme.to_ascii_uppercase(), rest));
    }
    if stored.starts_with('$') {
        return Some(("CRYPT".into(), stored));
    }
    None
}

/// Hashes a new password (with a fresh random salt) in `scheme`, `{SCHEME}` prefix included.
pub fn hash_password(password: &[u8], scheme: HashScheme) -> Result<String, DirError> {
    if password.is_empty() {
        return Err(DirError::Invalid("empty password".into()));
    }
    if password.len() > MAX_PASSWORD {
        return Err(DirError::Invalid(format!(
            "password longer than {MAX_PASSWORD} bytes"
        )));
    }
    match scheme {
        HashScheme::Sha512Crypt { rounds } => {
            use sha_crypt::{Algorithm, Params, PasswordHasher, ShaCrypt};
            let params = Params::new(rounds)
                .map_err(|e| DirError::Invalid(format!("SHA512-CRYPT rounds: {e}")))?;
            let h = ShaCrypt::new(Algorithm::Sha512Crypt, params)
                .hash_password_with_salt(password, &random_bytes::<12>())
                .map_err(|e| DirError::Invalid(format!("SHA512-CRYPT: {e}")))?;
            Ok(format!("{{SHA512-CRYPT}}{h}"))
        }
        HashScheme::Argon2id { m_kib, t, p } => {
            use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
            let params = Params::new(m_kib, t, p, None)
                .map_err(|e| DirError::Invalid(format!("ARGON2ID parameters: {e}")))?;
            let h = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password_with_salt(password, &random_bytes::<16>())
                .map_err(|e| DirError::Invalid(format!("ARGON2ID: {e}")))?;
            Ok(format!("{{ARGON2ID}}{h}"))
        }
    }
}

/// Checks that `stored` is a hash this module can verify (for imports). Does not prove
/// the hash is well-formed in every detail, but catches unknown schemes and bad encodings.
pub fn check_stored(stored: &str) -> Result<(), DirError> {
    let bad = |why: &str| Err(DirError::Invalid(format!("password hash: {why}")));
    let Some((scheme, rest)) = split_scheme(stored) else {
        return bad("needs a {SCHEME} prefix, e.g. {SHA512-CRYPT}$6$...");
    };
    match scheme.as_str() {
        "PLAIN" | "CLEARTEXT" | "CLEAR" => {
            if rest.is_empty() {
                return bad("empty plaintext password");
            }
        }
        "CRYPT" | "SHA512-CRYPT" | "SHA256-CRYPT" | "BLF-CRYPT" | "ARGON2ID" | "ARGON2I" => {
            let ok = match scheme.as_str() {
                "SHA512-CRYPT" => rest.starts_with("$6$"),
                "SHA256-CRYPT" => rest.starts_with("$5$"),
                "BLF-CRYPT" => rest.starts_with("$2"),
                "ARGON2ID" => rest.starts_with("$argon2id$"),
                "ARGON2I" => rest.starts_with("$argon2i$"),
                _ => ["$6$", "$5$", "$2", "$argon2"]
                    .iter()
                    .any(|p| rest.starts_with(p)),
            };
            if !ok {
                return bad(&format!("{scheme} hash has the wrong $id$ prefix"));
            }
        }
        "SSHA512" | "SHA512" | "SSHA256" | "SHA256" | "SSHA" | "SHA" | "SHA1" => {
            let (len, salted) = digest_len(&scheme).unwrap_or((0, false));
            match decode_digest(rest, len) {
                Some(d) if d.len() == len || (salted && d.len() > len) => {}
                _ => return bad(&format!("{scheme} value does not decode")),
            }
        }
        "CRAM-MD5" => {
            if CramMd5Keys::parse(rest).is_none() {
                return bad("CRAM-MD5 value must be 64 hex digits");
            }
        }
        "SCRAM-SHA-256" => {
            if ScramKeys::parse(rest).is_none() {
                return bad("SCRAM-SHA-256 value must be iterations,salt,StoredKey,ServerKey");
            }
        }
        other => return bad(&format!("unknown scheme {{{other}}}")),
    }
    Ok(())
}

fn digest_len(scheme: &str) -> Option<(usize, bool)> {
    Some(match scheme {
        "SSHA512" => (64, true),
        "SHA512" => (64, false),
        "SSHA256" => (32, true),
        "SHA256" => (32, false),
        "SSHA" => (20, true),
        "SHA" | "SHA1" => (20, false),
        _ => return None,
    })
}

/// Base64, or hex when it is exactly a digest's length in hex (Dovecot accepts both).
fn decode_digest(rest: &str, len: usize) -> Option<Vec<u8>> {
    if rest.len() == len * 2 {
        if let Some(v) = unhex(rest) {
            return Some(v);
        }
    }
    B64.decode(rest.trim()).ok()
}

/// The plaintext, when `stored` is `{PLAIN}`, `{CLEARTEXT}` or `{CLEAR}`.
pub fn plaintext(stored: &str) -> Option<&str> {
    let (scheme, rest) = split_scheme(stored)?;
    matches!(scheme.as_str(), "PLAIN" | "CLEARTEXT" | "CLEAR").then_some(rest)
}

/// CRAM-MD5 states, when `stored` is `{CRAM-MD5}`.
pub fn stored_cram_md5(stored: &str) -> Option<CramMd5Keys> {
    let (scheme, rest) = split_scheme(stored)?;
    (scheme == "CRAM-MD5")
        .then(|| CramMd5Keys::parse(rest))
        .flatten()
}

/// SCRAM-SHA-256 keys, when `stored` is `{SCRAM-SHA-256}`.
pub fn stored_scram(stored: &str) -> Option<ScramKeys> {
    let (scheme, rest) = split_scheme(stored)?;
    (scheme == "SCRAM-SHA-256")
        .then(|| ScramKeys::parse(rest))
        .flatten()
}

/// Verifies `password` against a stored hash. Unknown schemes and malformed hashes never
/// match. Comparisons of digests are constant-time.
pub fn verify_password(stored: &str, password: &[u8]) -> bool {
    if password.is_empty() || password.len() > MAX_PASSWORD {
        return false;
    }
    let Some((scheme, rest)) = split_scheme(stored) else {
        return false;
    };
    match scheme.as_str() {
        "PLAIN" | "CLEARTEXT" | "CLEAR" => ct_eq(rest.as_bytes(), password),
        "CRYPT" | "SHA512-CRYPT" | "SHA256-CRYPT" | "BLF-CRYPT" | "ARGON2ID" | "ARGON2I" => {
            crypt_verify(rest, password)
        }
        "CRAM-MD5" => {
            CramMd5Keys::parse(rest).is_some_and(|k| k.ct_eq(&CramMd5Keys::from_secret(password)))
        }
        "SCRAM-SHA-256" => ScramKeys::parse(rest).is_some_and(|k| k.verify_password(password)),
        s => {
            let Some((len, salted)) = digest_len(s) else {
                return false;
            };
            let Some(raw) = decode_digest(rest, len) else {
                return false;
            };
            if raw.len() < len || (!salted && raw.len() != len) {
                return false;
            }
            let (want, salt) = raw.split_at(len);
            let got: Vec<u8> = match len {
                64 => Sha512::new()
                    .chain_update(password)
                    .chain_update(salt)
                    .finalize()
                    .to_vec(),
                32 => Sha256::new()
                    .chain_update(password)
                    .chain_update(salt)
                    .finalize()
                    .to_vec(),
                _ => Sha1::new()
                    .chain_update(password)
                    .chain_update(salt)
                    .finalize()
                    .to_vec(),
            };
            ct_eq(&got, want)
        }
    }
}

/// Verifies a crypt(3)-style string by its `$id$`.
fn crypt_verify(hash: &str, password: &[u8]) -> bool {
    if hash.starts_with("$6$") || hash.starts_with("$5$") {
        use sha_crypt::{PasswordVerifier, ShaCrypt};
        return ShaCrypt::default().verify_password(password, hash).is_ok();
    }
    if hash.starts_with("$2") {
        return bcrypt::verify(password, hash).unwrap_or(false);
    }
    if hash.starts_with("$argon2") {
        use argon2::{Argon2, PasswordVerifier};
        return Argon2::default().verify_password(password, hash).is_ok();
    }
    false
}

/// SCRAM-SHA-256 server keys (RFC 5802 section 3, RFC 7677):
/// `SaltedPassword := Hi(Normalize(password), salt, i)`, `ClientKey := HMAC(SaltedPassword,
/// "Client Key")`, `StoredKey := H(ClientKey)`, `ServerKey := HMAC(SaltedPassword, "Server
/// Key")`.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramKeys {
    /// Iteration count `i` (4096 or more for new keys, RFC 7677 section 4).
    pub iterations: u32,
    /// The salt.
    pub salt: Vec<u8>,
    /// `StoredKey`.
    pub stored_key: [u8; 32],
    /// `ServerKey`.
    pub server_key: [u8; 32],
}

impl std::fmt::Debug for ScramKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ScramKeys {{ iterations: {}, .. }}", self.iterations)
    }
}

/// HMAC-SHA-256 (RFC 2104).
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    if let Ok(mut m) = hmac::Hmac::<Sha256>::new_from_slice(key) {
        m.update(data);
        out.copy_from_slice(&m.finalize().into_bytes());
    }
    out
}

/// SHA-256.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(data));
    out
}

impl ScramKeys {
    /// Iterations used for new keys.
    pub const DEFAULT_ITERATIONS: u32 = 4096;
    /// Largest iteration count accepted from storage (bounds the work per login).
    pub const MAX_ITERATIONS: u32 = 1_000_000;

    /// `SaltedPassword` (RFC 5802 section 3, `Hi()` is PBKDF2-HMAC-SHA-256).
    pub fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations.max(1), &mut out);
        out
    }

    /// Derives the keys for `password`. No SASLprep is applied (see `crate::sasl`).
    pub fn derive(password: &[u8], salt: &[u8], iterations: u32) -> ScramKeys {
        let salted = Self::salted_password(password, salt, iterations);
        let client_key = hmac_sha256(&salted, b"Client Key");
        ScramKeys {
            iterations,
            salt: salt.to_vec(),
            stored_key: sha256(&client_key),
            server_key: hmac_sha256(&salted, b"Server Key"),
        }
    }

    /// Derives keys with a fresh random 16-byte salt and [`Self::DEFAULT_ITERATIONS`].
    pub fn generate(password: &[u8]) -> ScramKeys {
        Self::derive(password, &random_bytes::<16>(), Self::DEFAULT_ITERATIONS)
    }

    /// True when `password` yields the same `StoredKey`.
    pub fn verify_password(&self, password: &[u8]) -> bool {
        let k = Self::derive(password, &self.salt, self.iterations);
        ct_eq(&k.stored_key, &self.stored_key)
    }

    /// Dovecot's encoding: `{SCRAM-SHA-256}i,base64(salt),base64(StoredKey),base64(ServerKey)`.
    pub fn to_dovecot(&self) -> String {
        format!(
            "{{SCRAM-SHA-256}}{},{},{},{}",
            self.iterations,
            B64.encode(&self.salt),
            B64.encode(self.stored_key),
            B64.encode(self.server_key)
        )
    }

    /// Parses [`Self::to_dovecot`]'s output, with or without the `{SCRAM-SHA-256}` prefix.
    pub fn parse(s: &str) -> Option<ScramKeys> {
        let s = s.strip_prefix("{SCRAM-SHA-256}").unwrap_or(s);
        let mut it = s.trim().split(',');
        let iterations: u32 = it.next()?.parse().ok()?;
        if iterations == 0 || iterations > Self::MAX_ITERATIONS {
            return None;
        }
        let salt = B64.decode(it.next()?).ok()?;
        let stored: [u8; 32] = B64.decode(it.next()?).ok()?.try_into().ok()?;
        let server: [u8; 32] = B64.decode(it.next()?).ok()?.try_into().ok()?;
        if it.next().is_some() || salt.is_empty() {
            return None;
        }
        Some(ScramKeys {
            iterations,
            salt,
            stored_key: stored,
            server_key: server,
        })
    }
}

/// The MD5 states after hashing the HMAC inner and outer pad blocks (RFC 2104 section 4,
/// "precomputations"): enough to compute HMAC-MD5 for CRAM-MD5 (RFC 2195) without the
/// secret. Dovecot's `{CRAM-MD5}` is the hex of the outer then the inner state, each as
/// four little-endian 32-bit words.
#[derive(Clone, PartialEq, Eq)]
pub struct CramMd5Keys {
    inner: [u32; 4],
    outer: [u32; 4],
}

impl std::fmt::Debug for CramMd5Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CramMd5Keys(<secret>)")
    }
}

const MD5_IV: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// Continues MD5 from `state` (after `done` bytes, a multiple of 64) over `data`, and
/// finishes with the standard padding (RFC 1321 section 3).
fn md5_resume(mut state: [u32; 4], done: u64, data: &[u8]) -> [u8; 16] {
    let mut chunks = data.chunks_exact(64);
    for c in chunks.by_ref() {
        let mut block = [0u8; 64];
        block.copy_from_slice(c);
        md5::block_api::compress(&mut state, &[block]);
    }
    let rem = chunks.remainder();
    let bits = (done + data.len() as u64).wrapping_mul(8);
    let mut tail = Vec::with_capacity(128);
    tail.extend_from_slice(rem);
    tail.push(0x80);
    while tail.len() % 64 != 56 {
        tail.push(0);
    }
    tail.extend_from_slice(&bits.to_le_bytes());
    for c in tail.chunks_exact(64) {
        let mut block = [0u8; 64];
        block.copy_from_slice(c);
        md5::block_api::compress(&mut state, &[block]);
    }
    let mut out = [0u8; 16];
    for (i, w) in state.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    out
}

impl CramMd5Keys {
    /// Computes the states from the shared secret.
    pub fn from_secret(secret: &[u8]) -> CramMd5Keys {
        let mut key = [0u8; 64];
        if secret.len() > 64 {
            key[..16].copy_from_slice(&md5::Md5::digest(secret));
        } else {
            key[..secret.len()].copy_from_slice(secret);
        }
        let pad = |x: u8| {
            let mut b = [0u8; 64];
            for (o, k) in b.iter_mut().zip(key.iter()) {
                *o = k ^ x;
            }
            let mut st = MD5_IV;
            md5::block_api::compress(&mut st, &[b]);
            st
        };
        CramMd5Keys {
            inner: pad(0x36),
            outer: pad(0x5c),
        }
    }

    /// HMAC-MD5(secret, message) (RFC 2104).
    pub fn hmac(&self, message: &[u8]) -> [u8; 16] {
        let inner = md5_resume(self.inner, 64, message);
        md5_resume(self.outer, 64, &inner)
    }

    /// Dovecot's hex encoding (without the `{CRAM-MD5}` prefix).
    pub fn to_hex(&self) -> String {
        let mut b = Vec::with_capacity(32);
        for w in self.outer.iter().chain(self.inner.iter()) {
            b.extend_from_slice(&w.to_le_bytes());
        }
        hex(&b)
    }

    /// Parses 64 hex digits, with or without the `{CRAM-MD5}` prefix.
    pub fn parse(s: &str) -> Option<CramMd5Keys> {
        let s = s.strip_prefix("{CRAM-MD5}").unwrap_or(s).trim();
        let b = unhex(s)?;
        if b.len() != 32 {
            return None;
        }
        let mut w = [0u32; 8];
        for (i, c) in b.chunks_exact(4).enumerate() {
            w[i] = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        Some(CramMd5Keys {
            outer: [w[0], w[1], w[2], w[3]],
            inner: [w[4], w[5], w[6], w[7]],
        })
    }

    fn ct_eq(&self, other: &CramMd5Keys) -> bool {
        ct_eq(self.to_hex().as_bytes(), other.to_hex().as_bytes())
    }
}
