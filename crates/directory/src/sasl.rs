//! Server side of the SASL mechanisms (RFC 4422), protocol-neutral: PLAIN (RFC 4616),
//! LOGIN (draft-murchison-sasl-login), CRAM-MD5 (RFC 2195) and SCRAM-SHA-256 (RFC 5802,
//! RFC 7677, without channel binding), plus the APOP digest check (RFC 1939 section 7).
//!
//! [`SaslServer`] is a plain state machine: the protocol layer (IMAP `AUTHENTICATE`, POP3
//! `AUTH`) decodes base64, handles the client's `*` abort, and passes the bytes to
//! [`SaslServer::step`] together with a [`CredentialSource`] (the [`crate::Directory`] via
//! [`crate::Directory::sasl_source`], or a fake in tests). The machine holds no reference
//! to the source, so it can live in a session across awaits.
//!
//! SCRAM's server-final message (`v=...`) is sent as a last challenge, answered by an
//! empty response, which works in IMAP and POP3 alike (RFC 4422 section 5, item 7).
//!
//! Not done: SASLprep (RFC 4013) of SCRAM passwords, so non-ASCII passwords that are not
//! already in normalized form may fail SCRAM (they still work with PLAIN and LOGIN);
//! channel binding (`-PLUS` variants).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use md5::Digest;

use crate::schemes::{ct_eq, hex, hmac_sha256, sha256, ScramKeys};
use crate::{AccountInfo, Credentials, DirError, LoginTarget, Secret};

/// Mechanisms implemented here, in order of preference for advertising.
pub const MECHANISMS: &[&str] = &["SCRAM-SHA-256", "PLAIN", "LOGIN", "CRAM-MD5"];

/// Largest client response accepted in one step (bytes, after base64 decoding).
pub const MAX_RESPONSE: usize = 8192;

/// Longest authentication or authorization identity accepted.
pub const MAX_IDENTITY: usize = 255;

/// Where the mechanisms look accounts up. The directory implements it
/// ([`crate::DirectorySource`]); tests implement it with fixed data.
pub trait CredentialSource {
    /// Resolves a login name (router and aliases applied, A2).
    fn lookup(&self, login: &str) -> Result<LoginTarget, DirError>;
    /// The account's SASL credentials.
    fn credentials(&self, account: &AccountInfo) -> Result<Credentials, DirError>;
    /// Checks a password (for PLAIN and LOGIN).
    fn verify_password(&self, account: &AccountInfo, password: &Secret) -> bool;
}

/// Why an exchange failed. All but `Referral` and `Temporary` should be answered with the
/// same "authentication failed" text, so that a client learns nothing about accounts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SaslFailure {
    /// The mechanism is not implemented.
    #[error("unsupported mechanism")]
    UnknownMechanism,
    /// The client's message does not follow the mechanism's syntax.
    #[error("malformed response: {0}")]
    Malformed(&'static str),
    /// A response over [`MAX_RESPONSE`] bytes.
    #[error("response too long")]
    TooLong,
    /// Unknown user or wrong password/proof.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// The account has no credential this mechanism can use (no mail secret or plaintext
    /// for CRAM-MD5, no SCRAM keys).
    #[error("no credentials for this mechanism")]
    NoCredentials,
    /// The authorization identity is not the authentication identity.
    #[error("authorization identity refused")]
    AuthzDenied,
    /// The login leads to a remote address (RFC 2221 referral, I8).
    #[error("account moved to {0}")]
    Referral(String),
    /// The directory failed; try again later.
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// A step after the exchange ended.
    #[error("exchange already finished")]
    Finished,
}

/// What the server does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaslStep {
    /// Send this challenge (the protocol layer base64-encodes it) and wait for a response.
    Challenge(Vec<u8>),
    /// Authenticated.
    Success {
        /// The account whose credentials were proven.
        account: AccountInfo,
        /// Local part when logged in through a domain mapping (P9 filtering).
        real_to: Option<String>,
        /// The authorization identity, when the client sent a non-empty one (always equal
        /// to the authentication identity for now).
        authz: Option<String>,
    },
    /// Failed; the exchange is over.
    Failure(SaslFailure),
}

/// Settings for one exchange.
#[derive(Clone, Debug, Default)]
pub struct SaslOptions {
    /// Host name in CRAM-MD5 challenges.
    pub hostname: String,
    /// Fixed SCRAM server nonce part (tests only; random when `None`).
    pub scram_server_nonce: Option<String>,
    /// Fixed CRAM-MD5 challenge (tests only; `<random.timestamp@hostname>` when `None`).
    pub cram_challenge: Option<String>,
}

struct ScramWait {
    target: Option<(AccountInfo, Option<String>, ScramKeys)>,
    authz: Option<String>,
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

enum State {
    Plain,
    LoginUser,
    LoginPass(String),
    Cram(String),
    ScramFirst,
    ScramFinal(Box<ScramWait>),
    ScramAck(Box<SaslStep>),
    Done,
}

/// One SASL exchange, server side.
pub struct SaslServer {
    state: State,
    opts: SaslOptions,
}

impl std::fmt::Debug for SaslServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SaslServer")
    }
}

/// A fresh `<random.timestamp@hostname>` string (RFC 1939 section 7, RFC 2195 section 2).
pub fn make_timestamp(hostname: &str) -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let r: u64 = rand::random();
    let host = if hostname.is_empty() {
        "localhost"
    } else {
        hostname
    };
    format!("<{r}.{secs}@{host}>")
}

/// APOP (RFC 1939 section 7): true when `hex_digest` is the MD5 of `timestamp` followed by
/// the shared secret (hex, either case; compared in constant time).
pub fn apop_digest_ok(timestamp: &str, secret: &[u8], hex_digest: &str) -> bool {
    let d = md5::Md5::new()
        .chain_update(timestamp.as_bytes())
        .chain_update(secret)
        .finalize();
    ct_eq(
        hex(&d).as_bytes(),
        hex_digest.trim().to_ascii_lowercase().as_bytes(),
    )
}

fn utf8(b: &[u8], what: &'static str) -> Result<String, SaslFailure> {
    String::from_utf8(b.to_vec()).map_err(|_| SaslFailure::Malformed(what))
}

fn lookup_local(
    src: &dyn CredentialSource,
    login: &str,
) -> Result<(AccountInfo, Option<String>), SaslFailure> {
    match src.lookup(login) {
        Ok(LoginTarget::Local { account, real_to }) => Ok((account, real_to)),
        Ok(LoginTarget::Remote(r)) => Err(SaslFailure::Referral(r)),
        Ok(LoginTarget::Unknown) => Err(SaslFailure::AuthenticationFailed),
        Err(e) => Err(SaslFailure::Temporary(e.to_string())),
    }
}

/// The common end of PLAIN and LOGIN.
fn password_login(
    src: &dyn CredentialSource,
    authz: &str,
    authc: &str,
    password: &[u8],
) -> SaslStep {
    if authc.is_empty() || authc.len() > MAX_IDENTITY || authz.len() > MAX_IDENTITY {
        return SaslStep::Failure(SaslFailure::Malformed("identity empty or too long"));
    }
    if password.is_empty() || password.len() > crate::schemes::MAX_PASSWORD {
        return SaslStep::Failure(SaslFailure::AuthenticationFailed);
    }
    if !authz.is_empty() && !authz.eq_ignore_ascii_case(authc) {
        return SaslStep::Failure(SaslFailure::AuthzDenied);
    }
    let (account, real_to) = match lookup_local(src, authc) {
        Ok(x) => x,
        Err(f) => {
            if f == SaslFailure::AuthenticationFailed {
                // Same work as for a real account (no user enumeration by timing).
                let _ = crate::schemes::verify_password(crate::schemes::DUMMY_HASH, password);
            }
            return SaslStep::Failure(f);
        }
    };
    if !src.verify_password(&account, &Secret::from(password)) {
        return SaslStep::Failure(SaslFailure::AuthenticationFailed);
    }
    SaslStep::Success {
        account,
        real_to,
        authz: (!authz.is_empty()).then(|| authz.to_string()),
    }
}

impl SaslServer {
    /// Starts an exchange for `mechanism` (case-insensitive), with the client's initial
    /// response if it sent one (RFC 4422 section 3.3; an empty initial response is
    /// `Some(&[])`). Returns the machine and its first step.
    pub fn start(
        mechanism: &str,
        src: &dyn CredentialSource,
        opts: SaslOptions,
        initial_response: Option<&[u8]>,
    ) -> (SaslServer, SaslStep) {
        let mut s = SaslServer {
            state: State::Done,
            opts,
        };
        let step = match mechanism.to_ascii_uppercase().as_str() {
            "PLAIN" => {
                s.state = State::Plain;
                match initial_response {
                    Some(r) => s.step(src, r),
                    None => SaslStep::Challenge(Vec::new()),
                }
            }
            "LOGIN" => match initial_response {
                Some(r) if !r.is_empty() => {
                    s.state = State::LoginUser;
                    s.step(src, r)
                }
                _ => {
                    s.state = State::LoginUser;
                    SaslStep::Challenge(b"Username:".to_vec())
                }
            },
            "CRAM-MD5" => match initial_response {
                Some(r) if !r.is_empty() => {
                    SaslStep::Failure(SaslFailure::Malformed("CRAM-MD5 takes no initial response"))
                }
                _ => {
                    let c = s
                        .opts
                        .cram_challenge
                        .clone()
                        .unwrap_or_else(|| make_timestamp(&s.opts.hostname));
                    s.state = State::Cram(c.clone());
                    SaslStep::Challenge(c.into_bytes())
                }
            },
            "SCRAM-SHA-256" => {
                s.state = State::ScramFirst;
                match initial_response {
                    Some(r) if !r.is_empty() => s.step(src, r),
                    _ => SaslStep::Challenge(Vec::new()),
                }
            }
            _ => SaslStep::Failure(SaslFailure::UnknownMechanism),
        };
        (s, step)
    }

    /// True once the exchange has succeeded or failed.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Feeds one client response (already base64-decoded). Never panics on any input.
    pub fn step(&mut self, src: &dyn CredentialSource, response: &[u8]) -> SaslStep {
        let state = std::mem::replace(&mut self.state, State::Done);
        if response.len() > MAX_RESPONSE {
            return SaslStep::Failure(SaslFailure::TooLong);
        }
        match state {
            State::Done => SaslStep::Failure(SaslFailure::Finished),
            State::Plain => Self::plain(src, response),
            State::LoginUser => match utf8(response, "user name is not UTF-8") {
                Ok(u) if !u.is_empty() && u.len() <= MAX_IDENTITY => {
                    self.state = State::LoginPass(u);
                    SaslStep::Challenge(b"Password:".to_vec())
                }
                Ok(_) => SaslStep::Failure(SaslFailure::Malformed("empty or long user name")),
                Err(f) => SaslStep::Failure(f),
            },
            State::LoginPass(user) => password_login(src, "", &user, response),
            State::Cram(challenge) => Self::cram(src, &challenge, response),
            State::ScramFirst => match self.scram_first(src, response) {
                Ok(step) => step,
                Err(f) => SaslStep::Failure(f),
            },
            State::ScramFinal(w) => match self.scram_final(*w, response) {
                Ok(step) => step,
                Err(f) => SaslStep::Failure(f),
            },
            State::ScramAck(success) => {
                if response.is_empty() {
                    *success
                } else {
                    SaslStep::Failure(SaslFailure::Malformed("expected an empty response"))
                }
            }
        }
    }

    /// RFC 4616 section 2: `message = [authzid] UTF8NUL authcid UTF8NUL passwd`.
    fn plain(src: &dyn CredentialSource, r: &[u8]) -> SaslStep {
        let mut parts = r.split(|&b| b == 0);
        let (Some(authz), Some(authc), Some(pass), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return SaslStep::Failure(SaslFailure::Malformed(
                "PLAIN needs authzid NUL authcid NUL passwd",
            ));
        };
        let (authz, authc) = match (utf8(authz, "authzid"), utf8(authc, "authcid")) {
            (Ok(z), Ok(c)) => (z, c),
            (Err(f), _) | (_, Err(f)) => return SaslStep::Failure(f),
        };
        if std::str::from_utf8(pass).is_err() {
            return SaslStep::Failure(SaslFailure::Malformed("password is not UTF-8"));
        }
        password_login(src, &authz, &authc, pass)
    }

    /// RFC 2195 section 2: the response is `user SP hex(HMAC-MD5(secret, challenge))`.
    fn cram(src: &dyn CredentialSource, challenge: &str, r: &[u8]) -> SaslStep {
        let r = match utf8(r, "CRAM-MD5 response is not UTF-8") {
            Ok(r) => r,
            Err(f) => return SaslStep::Failure(f),
        };
        let Some((user, digest)) = r.rsplit_once(' ') else {
            return SaslStep::Failure(SaslFailure::Malformed("CRAM-MD5 needs 'user digest'"));
        };
        if user.is_empty() || user.len() > MAX_IDENTITY || digest.len() != 32 {
            return SaslStep::Failure(SaslFailure::Malformed("CRAM-MD5 needs 'user digest'"));
        }
        let (account, real_to) = match lookup_local(src, user) {
            Ok(x) => x,
            Err(f) => return SaslStep::Failure(f),
        };
        let keys = match src.credentials(&account) {
            Ok(c) => c.cram_md5_keys(),
            Err(e) => return SaslStep::Failure(SaslFailure::Temporary(e.to_string())),
        };
        let Some(keys) = keys else {
            return SaslStep::Failure(SaslFailure::NoCredentials);
        };
        let want = hex(&keys.hmac(challenge.as_bytes()));
        if ct_eq(want.as_bytes(), digest.to_ascii_lowercase().as_bytes()) {
            SaslStep::Success {
                account,
                real_to,
                authz: None,
            }
        } else {
            SaslStep::Failure(SaslFailure::AuthenticationFailed)
        }
    }

    /// RFC 5802 section 7: `client-first-message = gs2-header client-first-message-bare`,
    /// `gs2-header = gs2-cbind-flag "," [ authzid ] ","`,
    /// `client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]`.
    fn scram_first(
        &mut self,
        src: &dyn CredentialSource,
        r: &[u8],
    ) -> Result<SaslStep, SaslFailure> {
        let msg = utf8(r, "SCRAM message is not UTF-8")?;
        let bad = SaslFailure::Malformed;
        let (flag, rest) = msg.split_once(',').ok_or(bad("missing gs2 header"))?;
        match flag {
            "n" | "y" => {}
            f if f.starts_with("p=") => return Err(bad("channel binding is not supported")),
            _ => return Err(bad("bad gs2-cbind-flag")),
        }
        let (authz_field, bare) = rest.split_once(',').ok_or(bad("missing gs2 header"))?;
        let authz = match authz_field {
            "" => None,
            a => Some(decode_saslname(
                a.strip_prefix("a=").ok_or(bad("bad authzid"))?,
            )?),
        };
        let gs2_header = format!("{flag},{authz_field},");
        let mut fields = bare.split(',');
        let user_field = fields.next().ok_or(bad("missing username"))?;
        if user_field.starts_with("m=") {
            return Err(bad("mandatory extensions are not supported"));
        }
        let user = decode_saslname(
            user_field
                .strip_prefix("n=")
                .ok_or(bad("missing username"))?,
        )?;
        let cnonce = fields
            .next()
            .and_then(|f| f.strip_prefix("r="))
            .ok_or(bad("missing nonce"))?;
        if cnonce.is_empty()
            || !cnonce
                .bytes()
                .all(|b| (0x21..0x7f).contains(&b) && b != b',')
        {
            return Err(bad("bad nonce"));
        }
        if user.is_empty() || user.len() > MAX_IDENTITY {
            return Err(bad("bad username"));
        }
        if let Some(a) = &authz {
            if !a.eq_ignore_ascii_case(&user) {
                return Err(SaslFailure::AuthzDenied);
            }
        }
        // An unknown user gets a plausible challenge and fails at the proof, so that the
        // exchange does not tell which accounts exist.
        let target = match lookup_local(src, &user) {
            Ok((account, real_to)) => match src.credentials(&account) {
                Ok(Credentials {
                    scram_sha256: Some(keys),
                    ..
                }) => Some((account, real_to, keys)),
                Ok(_) => None,
                Err(e) => return Err(SaslFailure::Temporary(e.to_string())),
            },
            Err(SaslFailure::AuthenticationFailed) => None,
            Err(f) => return Err(f),
        };
        let (salt, iterations) = match &target {
            Some((_, _, k)) => (k.salt.clone(), k.iterations),
            None => (
                sha256(format!("{user}\0{}", cnonce.len()).as_bytes())[..16].to_vec(),
                ScramKeys::DEFAULT_ITERATIONS,
            ),
        };
        let snonce = self.opts.scram_server_nonce.clone().unwrap_or_else(|| {
            let b: [u8; 18] = rand::random();
            B64.encode(b)
        });
        let nonce = format!("{cnonce}{snonce}");
        let server_first = format!("r={nonce},s={},i={iterations}", B64.encode(&salt));
        self.state = State::ScramFinal(Box::new(ScramWait {
            target,
            authz,
            gs2_header,
            client_first_bare: bare.to_string(),
            server_first: server_first.clone(),
            nonce,
        }));
        Ok(SaslStep::Challenge(server_first.into_bytes()))
    }

    /// RFC 5802 section 7: `client-final-message = client-final-message-without-proof ","
    /// proof`, `client-final-message-without-proof = channel-binding "," nonce [","
    /// extensions]`; then `server-final-message = verifier`.
    fn scram_final(&mut self, w: ScramWait, r: &[u8]) -> Result<SaslStep, SaslFailure> {
        let msg = utf8(r, "SCRAM message is not UTF-8")?;
        let bad = SaslFailure::Malformed;
        let (without_proof, proof_b64) = msg.rsplit_once(",p=").ok_or(bad("missing proof"))?;
        let mut fields = without_proof.split(',');
        let cbind = fields
            .next()
            .and_then(|f| f.strip_prefix("c="))
            .ok_or(bad("missing channel binding"))?;
        let cbind = B64
            .decode(cbind)
            .map_err(|_| bad("channel binding is not base64"))?;
        if cbind != w.gs2_header.as_bytes() {
            return Err(bad("channel binding does not match the gs2 header"));
        }
        let nonce = fields
            .next()
            .and_then(|f| f.strip_prefix("r="))
            .ok_or(bad("missing nonce"))?;
        if nonce != w.nonce {
            return Err(SaslFailure::AuthenticationFailed);
        }
        let proof = B64
            .decode(proof_b64)
            .map_err(|_| bad("proof is not base64"))?;
        let Some((account, real_to, keys)) = w.target else {
            return Err(SaslFailure::AuthenticationFailed);
        };
        if proof.len() != 32 {
            return Err(SaslFailure::AuthenticationFailed);
        }
        let auth_message = format!(
            "{},{},{}",
            w.client_first_bare, w.server_first, without_proof
        );
        let client_signature = hmac_sha256(&keys.stored_key, auth_message.as_bytes());
        let mut client_key = [0u8; 32];
        for (i, k) in client_key.iter_mut().enumerate() {
            *k = proof[i] ^ client_signature[i];
        }
        if !ct_eq(&sha256(&client_key), &keys.stored_key) {
            return Err(SaslFailure::AuthenticationFailed);
        }
        let server_signature = hmac_sha256(&keys.server_key, auth_message.as_bytes());
        self.state = State::ScramAck(Box::new(SaslStep::Success {
            account,
            real_to,
            authz: w.authz,
        }));
        Ok(SaslStep::Challenge(
            format!("v={}", B64.encode(server_signature)).into_bytes(),
        ))
    }
}

/// RFC 5802 section 7: `saslname` with `=2C` for `,` and `=3D` for `=`.
fn decode_saslname(s: &str) -> Result<String, SaslFailure> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let esc = rest
            .get(i..i + 3)
            .ok_or(SaslFailure::Malformed("bad saslname escape"))?;
        match esc {
            "=2C" | "=2c" => out.push(','),
            "=3D" | "=3d" => out.push('='),
            _ => return Err(SaslFailure::Malformed("bad saslname escape")),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}
