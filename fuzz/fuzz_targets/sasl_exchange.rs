//! The SASL exchanges (PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-256) against one account: any
//! sequence of client responses never panics, an exchange ends in success or failure
//! and then answers every further step with `Finished`, and success is only ever for
//! the one account and only with its real password or proofs from it.
//!
//! Input: byte 0 picks the mechanism (and whether there is an initial response), the
//! rest is split at 0xFF into the client's responses.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailroom_directory::sasl::{CredentialSource, SaslFailure, SaslOptions, SaslServer, SaslStep};
use mailroom_directory::{
    AccountInfo, CramMd5Keys, Credentials, DirError, LoginTarget, ScramKeys, Secret,
};
use std::sync::OnceLock;

const PASSWORD: &[u8] = b"secret";

fn account() -> AccountInfo {
    AccountInfo {
        id: 1,
        name: "user".into(),
        domain: "example.org".into(),
        admin: false,
        has_mail_secret: true,
    }
}

struct One;

impl CredentialSource for One {
    fn lookup(&self, login: &str) -> Result<LoginTarget, DirError> {
        // Every name but two is the one account: an unknown name costs a real password
        // hash (the same work as a known one, by design), which would slow the fuzzer
        // a thousandfold.
        Ok(match login {
            "nobody" => LoginTarget::Unknown,
            "moved" => LoginTarget::Remote("user@elsewhere.example".into()),
            _ => LoginTarget::Local {
                account: account(),
                real_to: None,
            },
        })
    }
    fn credentials(&self, _: &AccountInfo) -> Result<Credentials, DirError> {
        static KEYS: OnceLock<ScramKeys> = OnceLock::new();
        let keys = KEYS.get_or_init(|| ScramKeys::derive(PASSWORD, b"fuzz-salt", 4096));
        Ok(Credentials {
            scram_sha256: Some(keys.clone()),
            mail_secret: Some(Secret::from(PASSWORD)),
            plaintext: None,
            cram_md5: Some(CramMd5Keys::from_secret(PASSWORD)),
        })
    }
    fn verify_password(&self, a: &AccountInfo, password: &Secret) -> bool {
        *a == account() && password.as_bytes() == PASSWORD
    }
}

const MECHS: &[&str] = &["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256", "XFOO"];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let mech = MECHS[usize::from(sel & 7) % MECHS.len()];
    let mut responses = rest.split(|&b| b == 0xFF);
    let initial = if sel & 8 != 0 { responses.next() } else { None };
    let opts = SaslOptions {
        hostname: "fuzz.example".into(),
        scram_server_nonce: Some("servernonce".into()),
        cram_challenge: Some("<1.2@fuzz.example>".into()),
    };
    let (mut server, mut step) = SaslServer::start(mech, &One, opts, initial);
    let mut steps = 0;
    loop {
        match &step {
            SaslStep::Challenge(c) => {
                assert!(!server.is_done(), "a challenge after the end");
                assert!(c.len() < 4096);
            }
            SaslStep::Success { account: a, .. } => {
                assert_eq!(*a, account());
                assert!(server.is_done());
                break;
            }
            SaslStep::Failure(_) => {
                assert!(server.is_done());
                break;
            }
        }
        let Some(r) = responses.next() else {
            return;
        };
        steps += 1;
        assert!(steps < 64, "an exchange that never ends");
        step = server.step(&One, r);
    }
    // Finished: every further step says so.
    if let Some(r) = responses.next() {
        assert!(matches!(
            server.step(&One, r),
            SaslStep::Failure(SaslFailure::Finished)
        ));
    }
});
