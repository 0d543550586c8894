//! Password schemes against known vectors (generated with `doveadm pw`, `openssl passwd`,
//! the `argon2` CLI, and the RFCs' own examples).
#![allow(clippy::unwrap_used)]

use hmac::KeyInit;
use mailroom_directory::schemes::{
    check_stored, hash_password, plaintext, stored_cram_md5, stored_scram, verify_password,
};
use mailroom_directory::{CramMd5Keys, HashScheme, ScramKeys};

/// (stored, password) pairs that must verify; each also must reject a wrong password.
const VECTORS: &[(&str, &str)] = &[
    ("{PLAIN}hunter2", "hunter2"),
    ("{CLEARTEXT}hunter2", "hunter2"),
    ("{plain}hunter2", "hunter2"),
    // doveadm pw -s SHA512-CRYPT -p hunter2
    ("{SHA512-CRYPT}$6$uiB74JdLxby6F32Y$T8z0y7Si9QoVlB9yxpOm/d5BGsXr/kgd1gpNm1z9PRk1sEYZkGCnjXwwvYwv1/IczXliWPGF1O2Q6zK13wj331", "hunter2"),
    // doveadm pw -s SHA512-CRYPT -r 10000 -p pässwörd (non-ASCII, explicit rounds)
    ("{SHA512-CRYPT}$6$rounds=10000$dUuN/AVtBN8n1pgx$lWls1WNiUS9Oppat3ml.v5rHtfQ8zyfY.MpXEn4ysD.MCQYPo.DXhoUIUPp6sMPs9wPAc7QPx1XgMu9jGBAa11", "pässwörd"),
    // openssl passwd -6 -salt saltsalt hunter2, as {CRYPT} and bare
    ("{CRYPT}$6$saltsalt$8iYtNHxjWRl.NF6oNZ5tF.iKFlQREaXBLlSmZKP6dy9l5z3vsooWNW0/GZ6Nej73/TFug6pIPSqbJoCT6dfnj.", "hunter2"),
    ("$6$saltsalt$8iYtNHxjWRl.NF6oNZ5tF.iKFlQREaXBLlSmZKP6dy9l5z3vsooWNW0/GZ6Nej73/TFug6pIPSqbJoCT6dfnj.", "hunter2"),
    // doveadm pw -s SHA256-CRYPT -p hunter2
    ("{SHA256-CRYPT}$5$BAm3Fu1edYKbbzGM$S2qLJeMXZRiIYjh8kKIcNPmf/s7V4HWNUlfIXUWPvW5", "hunter2"),
    // openssl passwd -5 -salt 'rounds=1000$abc' x
    ("{SHA256-CRYPT}$5$rounds=1000$abc$UxKib5kobt2BZp/yfOEWbjik.BPMiS9MzbXyO6zXMC0", "x"),
    // doveadm pw -s BLF-CRYPT -r 4 -p hunter2
    ("{BLF-CRYPT}$2y$04$K/USXmdU1BsOaAMAf6h8vePfShhyB/5l5I/8V5rHqOJilCSeACOgy", "hunter2"),
    // the same hash under the $2b$ identifier (identical algorithm)
    ("{BLF-CRYPT}$2b$04$K/USXmdU1BsOaAMAf6h8vePfShhyB/5l5I/8V5rHqOJilCSeACOgy", "hunter2"),
    // openwall crypt_blowfish test vector
    ("{BLF-CRYPT}$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"),
    // argon2 somesaltsalt -id -t 1 -m 10 -p 1 -e   (password hunter2)
    ("{ARGON2ID}$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHRzYWx0$RrZBFQOQ09TFUR7gYaa9dUzRjpYFDsBDwL7+Dok3VRc", "hunter2"),
    // argon2 somesaltsalt -i -t 2 -m 10 -p 1 -e
    ("{ARGON2I}$argon2i$v=19$m=1024,t=2,p=1$c29tZXNhbHRzYWx0$GU2qf0sc50MbK78uneZWAztVIvFhoIzm70P8Jm6P39s", "hunter2"),
    // doveadm pw -s SSHA512 / SSHA256 / SSHA / SHA512 / SHA256 / SHA -p hunter2
    ("{SSHA512}ctjLYfsA878k1NqWjVoZ5iTsaxYMYnePpwGoN6Y/bq7eBDyd1NC5v5zTxZFS7FkEJWMLTiOfKy6d34jCYtGazYXXb50=", "hunter2"),
    ("{SSHA256}qv2tZuKlbAxSRBw1KGwKRThOgWJxfD2JkmNQyvOeHPdzWxtZ", "hunter2"),
    ("{SSHA256}aH6x7LYucZAu+jt8M3Q7Dw0rza1FAk1oEn4BUdOppzndVXoz", "hunter2"),
    ("{SSHA}Jq8YOhOFK0nE9lLkZ7nTfJjLhu6VolCZ", "hunter2"),
    ("{SHA512}a5ftaNFOs/GqlZzl1Jx9xhLh6x2v1zsecFhHSD/WpsgJ8s606N9v+ZhMYpj/AoXKzmYUv42qnwBwEBtsiYmeIg==", "hunter2"),
    ("{SHA256}9S+9MrKzuG/4jvbEkGKChfSCrxXdyylUH5S89Saj9sc=", "hunter2"),
    ("{SHA}87u9ZqY9S/F0eUBXjsPQEDUw4h0=", "hunter2"),
    // SHA256 in hex (Dovecot accepts hex for the unsalted digests)
    ("{SHA256}f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7", "hunter2"),
    // doveadm pw -s CRAM-MD5 -p hunter2 / -p tanstaaftanstaaf
    ("{CRAM-MD5}60ebd8347e945af7703b0d59d8bfedc236234196f561c057cf5a5d5a6e58304a", "hunter2"),
    ("{CRAM-MD5}d06d4e1b26fccaa4b0b61801132340a354b21152711fb604ca3e035e7015116b", "tanstaaftanstaaf"),
    // doveadm pw -s SCRAM-SHA-256 -p pencil
    ("{SCRAM-SHA-256}4096,/6OviUV0koTXiscU1jZAjA==,QhykjNx8ANyMESSLH52BD2sPCU2Nls8cqTWe2wiofKU=,bGA1IB3PZxT9V8SZbpqX0eB+IJfOvpSjautIUFxjKiE=", "pencil"),
];

#[test]
fn known_vectors_verify() {
    for (stored, pw) in VECTORS {
        assert!(check_stored(stored).is_ok(), "check_stored {stored}");
        assert!(verify_password(stored, pw.as_bytes()), "verify {stored}");
        assert!(!verify_password(stored, b"wrong"), "wrong pw {stored}");
        let mut longer = pw.as_bytes().to_vec();
        longer.push(b'x');
        assert!(!verify_password(stored, &longer), "longer pw {stored}");
    }
}

#[test]
fn doveadm_argon2id_default_cost() {
    // doveadm pw -s ARGON2ID -p hunter2 (m=64 MiB, t=3: Dovecot's defaults)
    let h = "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$owV8wUcXqBZ4b1Djvv9Caw$/6a9XWnXvTWV/f1ciECSNI5f11hbExO8D7AFwZmeGH0";
    assert!(verify_password(h, b"hunter2"));
}

#[test]
fn garbage_never_verifies_nor_panics() {
    for stored in [
        "",
        "{",
        "{}",
        "{PLAIN}",
        "{NOSUCH}abc",
        "{SHA512-CRYPT}",
        "{SHA512-CRYPT}$6$",
        "{SHA512-CRYPT}$6$salt",
        "{SHA512-CRYPT}$6$rounds=xyz$salt$hash",
        "{SHA512-CRYPT}$6$salt$!!!!",
        "{BLF-CRYPT}$2y$99$abc",
        "{BLF-CRYPT}$2y$",
        "{ARGON2ID}$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aGFzaA",
        "{ARGON2ID}$argon2id$",
        "{SSHA512}not base64!",
        "{SSHA512}AAAA",
        "{SHA256}AAAA",
        "{CRAM-MD5}zz",
        "{SCRAM-SHA-256}1,,,",
        "{SCRAM-SHA-256}99999999,AAAA,AAAA,AAAA",
        "plaintext-without-scheme",
        "$9$unknown",
    ] {
        assert!(!verify_password(stored, b"hunter2"), "{stored}");
        assert!(!verify_password(stored, b""), "{stored}");
    }
    assert!(!verify_password("{PLAIN}", b""));
    assert!(!verify_password("{PLAIN}x", &vec![b'x'; 5000]));
}

#[test]
fn check_stored_rejects_unknown_and_mismatched() {
    for bad in [
        "hunter2",
        "{MD4}abc",
        "{SHA512-CRYPT}$5$abc$def",
        "{BLF-CRYPT}$6$abc",
        "{ARGON2ID}$argon2i$v=19",
        "{SSHA512}***",
        "{CRAM-MD5}1234",
        "{PLAIN}",
    ] {
        assert!(check_stored(bad).is_err(), "{bad}");
    }
}

#[test]
fn new_hashes_round_trip() {
    let h = hash_password(b"s3cret", HashScheme::DEFAULT).unwrap();
    assert!(h.starts_with("{SHA512-CRYPT}$6$"), "{h}");
    assert!(verify_password(&h, b"s3cret"));
    assert!(!verify_password(&h, b"s3cre"));
    let h2 = hash_password(b"s3cret", HashScheme::DEFAULT).unwrap();
    assert_ne!(h, h2, "salts differ");

    let cheap = HashScheme::Argon2id {
        m_kib: 1024,
        t: 1,
        p: 1,
    };
    let h = hash_password(b"s3cret", cheap).unwrap();
    assert!(
        h.starts_with("{ARGON2ID}$argon2id$v=19$m=1024,t=1,p=1$"),
        "{h}"
    );
    assert!(verify_password(&h, b"s3cret"));
    assert!(!verify_password(&h, b"other"));

    assert!(hash_password(b"", HashScheme::DEFAULT).is_err());
    assert!(hash_password(&[b'a'; 2000], HashScheme::DEFAULT).is_err());
    assert!(hash_password(b"x", HashScheme::Sha512Crypt { rounds: 5 }).is_err());
}

#[test]
fn plaintext_and_stored_keys() {
    assert_eq!(plaintext("{PLAIN}abc"), Some("abc"));
    assert_eq!(plaintext("{SHA}abc"), None);
    let k = stored_cram_md5(
        "{CRAM-MD5}d06d4e1b26fccaa4b0b61801132340a354b21152711fb604ca3e035e7015116b",
    )
    .unwrap();
    assert_eq!(k, CramMd5Keys::from_secret(b"tanstaaftanstaaf"));
    assert!(stored_scram("{PLAIN}x").is_none());
    assert!(stored_scram(VECTORS[VECTORS.len() - 1].0).is_some());
}

/// RFC 2195 section 2 example, through the precomputed MD5 states.
#[test]
fn cram_md5_keys_rfc2195() {
    let k = CramMd5Keys::from_secret(b"tanstaaftanstaaf");
    assert_eq!(
        k.to_hex(),
        "d06d4e1b26fccaa4b0b61801132340a354b21152711fb604ca3e035e7015116b"
    );
    let mac = k.hmac(b"<1896.697170952@postoffice.reston.mci.net>");
    assert_eq!(
        mailroom_directory::schemes::hex(&mac),
        "b913a602c7eda7a495b4e6e7334d3890"
    );
    // Keys longer than the block are hashed first (RFC 2104 section 2); messages longer
    // than one block exercise the multi-block path.
    let long = CramMd5Keys::from_secret(&[b'k'; 100]);
    let msg = vec![b'm'; 200];
    let expected = {
        use hmac::Mac;
        let mut m = hmac::Hmac::<md5::Md5>::new_from_slice(&[b'k'; 100]).unwrap();
        m.update(&msg);
        m.finalize().into_bytes().to_vec()
    };
    assert_eq!(long.hmac(&msg).to_vec(), expected);
    for len in [0usize, 55, 56, 63, 64, 65, 119, 120, 128] {
        let msg = vec![b'z'; len];
        let mut m = hmac::Hmac::<md5::Md5>::new_from_slice(b"key").unwrap();
        hmac::Mac::update(&mut m, &msg);
        let want = hmac::Mac::finalize(m).into_bytes().to_vec();
        assert_eq!(
            CramMd5Keys::from_secret(b"key").hmac(&msg).to_vec(),
            want,
            "{len}"
        );
    }
}

/// RFC 7677 section 3: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==.
#[test]
fn scram_keys_round_trip() {
    use base64::Engine;
    let salt = base64::engine::general_purpose::STANDARD
        .decode("W22ZaJ0SNY7soEsUEjb6gQ==")
        .unwrap();
    let k = ScramKeys::derive(b"pencil", &salt, 4096);
    assert!(k.verify_password(b"pencil"));
    assert!(!k.verify_password(b"pencil2"));
    let enc = k.to_dovecot();
    assert!(enc.starts_with("{SCRAM-SHA-256}4096,W22ZaJ0SNY7soEsUEjb6gQ==,"));
    assert_eq!(ScramKeys::parse(&enc).unwrap(), k);
    assert!(!format!("{k:?}").contains(&enc[30..]));
}
