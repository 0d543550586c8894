//! Verification cost per scheme, for the login-rate budget (~50 ms). Ignored by default;
//! run with `cargo test --release -p mailroom-directory --test timing -- --ignored --nocapture`.
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use mailroom_directory::schemes::{hash_password, verify_password};
use mailroom_directory::{HashScheme, ScramKeys};

fn time(label: &str, n: u32, mut f: impl FnMut()) {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    println!(
        "{label}: {:.2} ms",
        t.elapsed().as_secs_f64() * 1000.0 / f64::from(n)
    );
}

#[test]
#[ignore]
fn verify_costs() {
    let sha = hash_password(b"hunter2", HashScheme::DEFAULT).unwrap();
    time("SHA512-CRYPT 5000 verify", 20, || {
        assert!(verify_password(&sha, b"hunter2"))
    });
    let a = hash_password(b"hunter2", HashScheme::ARGON2ID).unwrap();
    time("ARGON2ID 19MiB t=2 verify", 5, || {
        assert!(verify_password(&a, b"hunter2"))
    });
    let blf = "{BLF-CRYPT}$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
    time("BLF-CRYPT cost 5 verify", 20, || {
        assert!(verify_password(blf, b"U*U"))
    });
    time("SCRAM-SHA-256 4096 derive", 20, || {
        ScramKeys::generate(b"hunter2");
    });
}
