//! SASL mechanisms against the RFC examples (RFC 4616, 2195, 7677, 5802 structure, 1939 APOP),
//! with a fake credential source, plus wrong credentials and malformed input.
#![allow(clippy::unwrap_used)]

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use mailroom_directory::sasl::{
    apop_digest_ok, make_timestamp, CredentialSource, SaslFailure, SaslOptions, SaslServer,
    SaslStep, MAX_RESPONSE,
};
use mailroom_directory::{AccountInfo, Credentials, DirError, LoginTarget, ScramKeys, Secret};

struct Fake {
    scram: ScramKeys,
}

fn account(name: &str) -> AccountInfo {
    AccountInfo {
        id: 7,
        name: name.into(),
        domain: "example.org".into(),
        admin: false,
        has_mail_secret: false,
    }
}

impl Fake {
    fn new() -> Fake {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        Fake {
            scram: ScramKeys::derive(b"pencil", &salt, 4096),
        }
    }
    fn password(name: &str) -> Option<&'static str> {
        match name {
            "tim" => Some("tanstaaftanstaaf"),
            "kurt" => Some("xipj3plmq"),
            "user" => Some("pencil"),
            "nocram" => Some("secret"),
            _ => None,
        }
    }
}

impl CredentialSource for Fake {
    fn lookup(&self, login: &str) -> Result<LoginTarget, DirError> {
        let l = login.to_ascii_lowercase();
        if l == "broken" {
            return Err(DirError::Db("disk on fire".into()));
        }
        if l == "j.smith" {
            return Ok(LoginTarget::Remote("John@othercompany.com".into()));
        }
        if l == "abcdef@client1.com" {
            return Ok(LoginTarget::Local {
                account: account("tim"),
                real_to: Some("abcdef".into()),
            });
        }
        Ok(match Fake::password(&l) {
            Some(_) => LoginTarget::Local {
                account: account(&l),
                real_to: None,
            },
            None => LoginTarget::Unknown,
        })
    }
    fn credentials(&self, a: &AccountInfo) -> Result<Credentials, DirError> {
        Ok(match a.name.as_str() {
            "tim" => Credentials {
                plaintext: Some(Secret::from("tanstaaftanstaaf")),
                ..Default::default()
            },
            "user" => Credentials {
                scram_sha256: Some(self.scram.clone()),
                ..Default::default()
            },
            _ => Credentials::default(),
        })
    }
    fn verify_password(&self, a: &AccountInfo, password: &Secret) -> bool {
        Fake::password(&a.name).is_some_and(|p| p.as_bytes() == password.as_bytes())
    }
}

fn opts() -> SaslOptions {
    SaslOptions {
        hostname: "mail.example.org".into(),
        ..Default::default()
    }
}

fn success_name(step: &SaslStep) -> Option<&str> {
    match step {
        SaslStep::Success { account, .. } => Some(&account.name),
        _ => None,
    }
}

// ---- PLAIN (RFC 4616) ----------------------------------------------------------------

#[test]
fn plain_rfc4616_examples() {
    let src = Fake::new();
    // Section 4: "\0tim\0tanstaaftanstaaf"
    let (s, step) = SaslServer::start("PLAIN", &src, opts(), Some(b"\0tim\0tanstaaftanstaaf"));
    assert_eq!(success_name(&step), Some("tim"));
    assert!(s.is_done());
    // Section 4: "Ursel\0Kurt\0xipj3plmq": authorization as another identity is refused.
    let (_, step) = SaslServer::start("PLAIN", &src, opts(), Some(b"Ursel\0Kurt\0xipj3plmq"));
    assert_eq!(step, SaslStep::Failure(SaslFailure::AuthzDenied));
    // authzid equal to authcid is allowed and reported.
    let (_, step) = SaslServer::start("plain", &src, opts(), Some(b"Kurt\0Kurt\0xipj3plmq"));
    match step {
        SaslStep::Success { account, authz, .. } => {
            assert_eq!(account.name, "kurt");
            assert_eq!(authz.as_deref(), Some("Kurt"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn plain_without_initial_response() {
    let src = Fake::new();
    let (mut s, step) = SaslServer::start("PLAIN", &src, opts(), None);
    assert_eq!(step, SaslStep::Challenge(Vec::new()));
    assert!(!s.is_done());
    let step = s.step(&src, b"\0tim\0tanstaaftanstaaf");
    assert_eq!(success_name(&step), Some("tim"));
    assert_eq!(
        s.step(&src, b"again"),
        SaslStep::Failure(SaslFailure::Finished)
    );
}

#[test]
fn plain_failures() {
    let src = Fake::new();
    let cases: &[(&[u8], SaslFailure)] = &[
        (b"\0tim\0wrong", SaslFailure::AuthenticationFailed),
        (b"\0nobody\0x", SaslFailure::AuthenticationFailed),
        (b"\0tim\0", SaslFailure::AuthenticationFailed),
        (
            b"\0tim",
            SaslFailure::Malformed("PLAIN needs authzid NUL authcid NUL passwd"),
        ),
        (
            b"tim tanstaaf",
            SaslFailure::Malformed("PLAIN needs authzid NUL authcid NUL passwd"),
        ),
        (
            b"\0tim\0tanstaaftanstaaf\0",
            SaslFailure::Malformed("PLAIN needs authzid NUL authcid NUL passwd"),
        ),
        (
            b"",
            SaslFailure::Malformed("PLAIN needs authzid NUL authcid NUL passwd"),
        ),
        (b"\0\xff\xfe\0x", SaslFailure::Malformed("authcid")),
        (
            b"\0tim\0\xff",
            SaslFailure::Malformed("password is not UTF-8"),
        ),
        (
            b"\0\0x",
            SaslFailure::Malformed("identity empty or too long"),
        ),
        (
            b"\0j.smith\0x",
            SaslFailure::Referral("John@othercompany.com".into()),
        ),
        (
            b"\0broken\0x",
            SaslFailure::Temporary("directory database: disk on fire".into()),
        ),
    ];
    for (input, want) in cases {
        let (_, step) = SaslServer::start("PLAIN", &src, opts(), Some(input));
        assert_eq!(step, SaslStep::Failure(want.clone()), "{input:?}");
    }
    let huge = vec![b'a'; MAX_RESPONSE + 1];
    let (_, step) = SaslServer::start("PLAIN", &src, opts(), Some(&huge));
    assert_eq!(step, SaslStep::Failure(SaslFailure::TooLong));
}

#[test]
fn plain_domain_mapping_keeps_real_to() {
    let src = Fake::new();
    let (_, step) = SaslServer::start(
        "PLAIN",
        &src,
        opts(),
        Some(b"\0abcdef@client1.com\0tanstaaftanstaaf"),
    );
    match step {
        SaslStep::Success {
            account, real_to, ..
        } => {
            assert_eq!(account.name, "tim");
            assert_eq!(real_to.as_deref(), Some("abcdef"));
        }
        other => panic!("{other:?}"),
    }
}

// ---- LOGIN ---------------------------------------------------------------------------

#[test]
fn login_flow() {
    let src = Fake::new();
    let (mut s, step) = SaslServer::start("LOGIN", &src, opts(), None);
    assert_eq!(step, SaslStep::Challenge(b"Username:".to_vec()));
    assert_eq!(
        s.step(&src, b"tim"),
        SaslStep::Challenge(b"Password:".to_vec())
    );
    assert_eq!(
        success_name(&s.step(&src, b"tanstaaftanstaaf")),
        Some("tim")
    );

    // Initial response carries the user name.
    let (mut s, step) = SaslServer::start("LOGIN", &src, opts(), Some(b"tim"));
    assert_eq!(step, SaslStep::Challenge(b"Password:".to_vec()));
    assert_eq!(
        s.step(&src, b"nope"),
        SaslStep::Failure(SaslFailure::AuthenticationFailed)
    );

    let (mut s, _) = SaslServer::start("LOGIN", &src, opts(), None);
    assert!(matches!(
        s.step(&src, b""),
        SaslStep::Failure(SaslFailure::Malformed(_))
    ));
    let (mut s, _) = SaslServer::start("LOGIN", &src, opts(), None);
    assert!(matches!(
        s.step(&src, b"\xff"),
        SaslStep::Failure(SaslFailure::Malformed(_))
    ));
    let (mut s, _) = SaslServer::start("LOGIN", &src, opts(), None);
    s.step(&src, b"ghost");
    assert_eq!(
        s.step(&src, b"x"),
        SaslStep::Failure(SaslFailure::AuthenticationFailed)
    );
}

// ---- CRAM-MD5 (RFC 2195) -------------------------------------------------------------

#[test]
fn cram_md5_rfc2195_example() {
    let src = Fake::new();
    let o = SaslOptions {
        cram_challenge: Some("<1896.697170952@postoffice.reston.mci.net>".into()),
        ..opts()
    };
    let (mut s, step) = SaslServer::start("CRAM-MD5", &src, o.clone(), None);
    assert_eq!(
        step,
        SaslStep::Challenge(b"<1896.697170952@postoffice.reston.mci.net>".to_vec())
    );
    let step = s.step(&src, b"tim b913a602c7eda7a495b4e6e7334d3890");
    assert_eq!(success_name(&step), Some("tim"));

    let (mut s, _) = SaslServer::start("CRAM-MD5", &src, o.clone(), None);
    assert_eq!(
        s.step(&src, b"tim B913A602C7EDA7A495B4E6E7334D3890"),
        success_step_for("tim")
    );
    let (mut s, _) = SaslServer::start("CRAM-MD5", &src, o.clone(), None);
    assert_eq!(
        s.step(&src, b"tim b913a602c7eda7a495b4e6e7334d3891"),
        SaslStep::Failure(SaslFailure::AuthenticationFailed)
    );
    // An account without a usable secret.
    let (mut s, _) = SaslServer::start("CRAM-MD5", &src, o.clone(), None);
    assert_eq!(
        s.step(&src, b"nocram b913a602c7eda7a495b4e6e7334d3890"),
        SaslStep::Failure(SaslFailure::NoCredentials)
    );
    for bad in [
        &b"tim"[..],
        b"tim short",
        b"",
        b" b913a602c7eda7a495b4e6e7334d3890",
        b"\xff\xfe",
    ] {
        let (mut s, _) = SaslServer::start("CRAM-MD5", &src, o.clone(), None);
        assert!(
            matches!(
                s.step(&src, bad),
                SaslStep::Failure(SaslFailure::Malformed(_))
            ),
            "{bad:?}"
        );
    }
    // No initial response allowed.
    let (_, step) = SaslServer::start("CRAM-MD5", &src, o, Some(b"tim x"));
    assert!(matches!(step, SaslStep::Failure(SaslFailure::Malformed(_))));
}

fn success_step_for(name: &str) -> SaslStep {
    SaslStep::Success {
        account: account(name),
        real_to: None,
        authz: None,
    }
}

#[test]
fn cram_md5_random_challenge_shape() {
    let src = Fake::new();
    let (_, step) = SaslServer::start("CRAM-MD5", &src, opts(), None);
    let SaslStep::Challenge(c) = step else {
        panic!("no challenge")
    };
    let c = String::from_utf8(c).unwrap();
    assert!(
        c.starts_with('<') && c.ends_with("@mail.example.org>"),
        "{c}"
    );
    assert_ne!(c, make_timestamp("mail.example.org"));
}

// ---- SCRAM-SHA-256 (RFC 7677, RFC 5802) ----------------------------------------------

const SNONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

fn scram_opts() -> SaslOptions {
    SaslOptions {
        scram_server_nonce: Some(SNONCE.into()),
        ..opts()
    }
}

/// RFC 7677 section 3, byte for byte.
#[test]
fn scram_sha256_rfc7677_example() {
    let src = Fake::new();
    let (mut s, step) = SaslServer::start("SCRAM-SHA-256", &src, scram_opts(), None);
    assert_eq!(step, SaslStep::Challenge(Vec::new()));
    let step = s.step(&src, b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    assert_eq!(
        step,
        SaslStep::Challenge(
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
                .to_vec()
        )
    );
    let step = s.step(
        &src,
        b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    );
    assert_eq!(
        step,
        SaslStep::Challenge(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".to_vec())
    );
    assert!(!s.is_done());
    assert_eq!(success_name(&s.step(&src, b"")), Some("user"));
    assert!(s.is_done());
}

/// A client side of SCRAM-SHA-256 (RFC 5802 section 3) to drive other flows.
fn client_final(password: &[u8], client_first_bare: &str, server_first: &str, gs2: &str) -> String {
    let nonce = server_first
        .split(',')
        .find_map(|f| f.strip_prefix("r="))
        .unwrap();
    let salt = B64
        .decode(
            server_first
                .split(',')
                .find_map(|f| f.strip_prefix("s="))
                .unwrap(),
        )
        .unwrap();
    let iters: u32 = server_first
        .split(',')
        .find_map(|f| f.strip_prefix("i="))
        .unwrap()
        .parse()
        .unwrap();
    let keys = ScramKeys::derive(password, &salt, iters);
    let salted = ScramKeys::salted_password(password, &salt, iters);
    let without_proof = format!("c={},r={nonce}", B64.encode(gs2));
    let auth = format!("{client_first_bare},{server_first},{without_proof}");
    use hmac::{KeyInit, Mac};
    let mac = |k: &[u8], d: &[u8]| {
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(k).unwrap();
        m.update(d);
        m.finalize().into_bytes().to_vec()
    };
    let client_key = mac(&salted, b"Client Key");
    let sig = mac(&keys.stored_key, auth.as_bytes());
    let proof: Vec<u8> = client_key.iter().zip(sig).map(|(a, b)| a ^ b).collect();
    format!("{without_proof},p={}", B64.encode(proof))
}

fn scram_run(gs2: &str, user: &str, password: &[u8]) -> SaslStep {
    let src = Fake::new();
    let bare = format!("n={user},r=clientnonce123");
    let first = format!("{gs2}{bare}");
    let (mut s, step) = SaslServer::start("SCRAM-SHA-256", &src, opts(), Some(first.as_bytes()));
    let SaslStep::Challenge(sf) = step else {
        return step;
    };
    let sf = String::from_utf8(sf).unwrap();
    assert!(sf.starts_with("r=clientnonce123"), "{sf}");
    let cf = client_final(password, &bare, &sf, gs2);
    match s.step(&src, cf.as_bytes()) {
        SaslStep::Challenge(v) => {
            assert!(v.starts_with(b"v="));
            s.step(&src, b"")
        }
        other => other,
    }
}

#[test]
fn scram_flows() {
    assert_eq!(
        success_name(&scram_run("n,,", "user", b"pencil")),
        Some("user")
    );
    // "y": the client could do channel binding but thinks we cannot; fine without -PLUS.
    assert_eq!(
        success_name(&scram_run("y,,", "user", b"pencil")),
        Some("user")
    );
    match scram_run("n,a=user,", "user", b"pencil") {
        SaslStep::Success { authz, .. } => assert_eq!(authz.as_deref(), Some("user")),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        scram_run("n,,", "user", b"pencil2"),
        SaslStep::Failure(SaslFailure::AuthenticationFailed)
    );
    // Unknown users get a challenge too, and fail at the proof.
    assert_eq!(
        scram_run("n,,", "ghost", b"pencil"),
        SaslStep::Failure(SaslFailure::AuthenticationFailed)
    );
    // Accounts without SCRAM keys fail the same way.
    assert_eq!(
        scram_run("n,,", "tim", b"tanstaaftanstaaf"),
        SaslStep::Failure(SaslFailure::AuthenticationFailed)
    );
    assert_eq!(
        scram_run("n,a=admin,", "user", b"pencil"),
        SaslStep::Failure(SaslFailure::AuthzDenied)
    );
    assert_eq!(
        scram_run("n,,", "j.smith", b"x"),
        SaslStep::Failure(SaslFailure::Referral("John@othercompany.com".into()))
    );
}

#[test]
fn scram_rejects_bad_first_messages() {
    let src = Fake::new();
    for bad in [
        &b"p=tls-unique,,n=user,r=abc"[..],
        b"x,,n=user,r=abc",
        b"n,,m=ext,n=user,r=abc",
        b"n,,n=user",
        b"n,,r=abc",
        b"n,,n=,r=abc",
        b"n,,n=us=er,r=abc",
        b"n,,n=user,r=",
        b"n,,n=user,r=a b",
        b"n,b=x,n=user,r=abc",
        b"n",
        b"",
        b"\xff\xff",
        b",,,,,,",
    ] {
        let (_, step) = SaslServer::start("SCRAM-SHA-256", &src, opts(), Some(bad));
        match step {
            // An empty initial response means "no initial response": we send an empty challenge.
            SaslStep::Challenge(c) if bad.is_empty() => assert!(c.is_empty()),
            SaslStep::Failure(SaslFailure::Malformed(_)) => {}
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    // saslname escapes decode.
    let (_, step) = SaslServer::start("SCRAM-SHA-256", &src, opts(), Some(b"n,,n=a=2Cb=3Dc,r=x"));
    assert!(matches!(step, SaslStep::Challenge(_)));
}

#[test]
fn scram_rejects_bad_final_messages() {
    let src = Fake::new();
    let good_first = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    let n = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    let cases: Vec<(String, bool)> = vec![
        // wrong nonce
        (
            format!("c=biws,r={n}X,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
            false,
        ),
        // channel binding data not matching the gs2 header ("y,,")
        (
            format!("c=eSws,r={n},p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
            true,
        ),
        (format!("c=biws,r={n}"), true),
        (format!("c=biws,r={n},p=!!!"), true),
        (format!("c=biws,r={n},p=AAAA"), false),
        (
            format!("r={n},p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
            true,
        ),
        ("garbage".to_string(), true),
        (String::new(), true),
    ];
    for (fin, malformed) in cases {
        let (mut s, _) = SaslServer::start("SCRAM-SHA-256", &src, scram_opts(), Some(good_first));
        let step = s.step(&src, fin.as_bytes());
        match step {
            SaslStep::Failure(SaslFailure::Malformed(_)) if malformed => {}
            SaslStep::Failure(SaslFailure::AuthenticationFailed) if !malformed => {}
            other => panic!("{fin:?}: {other:?}"),
        }
        assert!(s.is_done());
    }
    // Non-empty answer to the server-final message.
    let (mut s, _) = SaslServer::start("SCRAM-SHA-256", &src, scram_opts(), Some(good_first));
    s.step(
        &src,
        format!("c=biws,r={n},p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=").as_bytes(),
    );
    assert!(matches!(
        s.step(&src, b"x"),
        SaslStep::Failure(SaslFailure::Malformed(_))
    ));
}

#[test]
fn unknown_mechanism_and_garbage_never_panic() {
    let src = Fake::new();
    let (s, step) = SaslServer::start("DIGEST-MD5", &src, opts(), None);
    assert_eq!(step, SaslStep::Failure(SaslFailure::UnknownMechanism));
    assert!(s.is_done());
    // Pseudo-random inputs at every step of every mechanism.
    let mut seed = 0x1234_5678_u32;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    for mech in ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"] {
        for _ in 0..200 {
            let (mut s, _) = SaslServer::start(mech, &src, scram_opts(), None);
            for _ in 0..4 {
                let len = (next() % 64) as usize;
                let mut buf: Vec<u8> = (0..len).map(|_| (next() % 256) as u8).collect();
                if next() % 3 == 0 {
                    // Mostly printable, with the separators the grammars use.
                    buf = buf
                        .iter()
                        .map(|b| b",=n r0\0a"[(*b % 8) as usize])
                        .collect();
                }
                let _ = s.step(&src, &buf);
            }
        }
    }
}

// ---- APOP (RFC 1939 section 7) -------------------------------------------------------

#[test]
fn apop_rfc1939_example() {
    let ts = "<1896.697170952@dbc.mtview.ca.us>";
    assert!(apop_digest_ok(
        ts,
        b"tanstaaf",
        "c4c9334bac560ecc979e58001b3e22fb"
    ));
    assert!(apop_digest_ok(
        ts,
        b"tanstaaf",
        "C4C9334BAC560ECC979E58001B3E22FB"
    ));
    assert!(!apop_digest_ok(
        ts,
        b"tanstaaf",
        "c4c9334bac560ecc979e58001b3e22fa"
    ));
    assert!(!apop_digest_ok(
        ts,
        b"tanstaa",
        "c4c9334bac560ecc979e58001b3e22fb"
    ));
    assert!(!apop_digest_ok(ts, b"tanstaaf", ""));
    assert!(!apop_digest_ok(ts, b"tanstaaf", "zz"));
}

#[test]
fn secret_never_prints() {
    let s = Secret::from("hunter2");
    assert_eq!(format!("{s:?} {s}"), "<secret> <secret>");
    let c = Credentials {
        plaintext: Some(s),
        ..Default::default()
    };
    assert!(!format!("{c:?}").contains("hunter2"));
}
