//! Two mailroom nodes on one PostgreSQL database (the store of `mailroom-store-postgres`,
//! each node with its own pool, change feed and directory holding the same account):
//! a session on node A learns of what node B's sessions and deliveries do. Needs
//! `MAILROOM_PG_URL` (`scripts/postgres.sh` sets it); without it the test prints a loud
//! SKIPPED line and returns.

mod common;

use common::*;
use mailroom_server::net::Protocol;
use mailroom_store_postgres::PgHarness;
use std::time::{Duration, Instant};

async fn login(server: &TestServer, user: &str) -> Client {
    let mut c = server.connect(Protocol::Imap).await;
    Box::pin(c.expect("* OK [CAPABILITY IMAP4rev1 {*}] mailroom ready")).await;
    c.send(&format!("L LOGIN {user} pw")).await;
    Box::pin(c.expect("L OK [CAPABILITY {*}] logged in")).await;
    c
}

/// Reads lines up to the tagged one.
async fn until_tagged(c: &mut Client, tag: &str) -> Vec<String> {
    let mut v = Vec::new();
    loop {
        let l = Box::pin(c.line()).await;
        let done = l.starts_with(&format!("{tag} "));
        v.push(l);
        if done {
            return v;
        }
    }
}

/// A line within `limit`, matched against `pattern`.
async fn expect_within(c: &mut Client, pattern: &str, limit: Duration) {
    let t = Instant::now();
    tokio::time::timeout(limit, Box::pin(c.expect(pattern)))
        .await
        .unwrap_or_else(|_| panic!("no {pattern:?} within {limit:?}"));
    assert!(t.elapsed() <= limit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_on_one_node_sees_changes_made_on_another() {
    let Some(pg) = PgHarness::from_env("cluster") else {
        return;
    };
    let node_a = TestServer::start_on(pg.open_pg().await).await;
    let node_b = TestServer::start_on(pg.open_pg().await).await;
    for n in [&node_a, &node_b] {
        n.add_account("alice", "pw");
    }
    let mut a = login(&node_a, "alice").await;
    a.send("s SELECT INBOX").await;
    let sel = until_tagged(&mut a, "s").await;
    assert!(sel.iter().any(|l| l == "* 0 EXISTS"), "{sel:?}");
    a.send("i IDLE").await;
    Box::pin(a.expect("+ idling")).await;

    // An LMTP delivery on node B: node A's IDLE reports it within 1 s.
    let mut l = node_b.connect(Protocol::Lmtp).await;
    Box::pin(l.expect("220 {*}")).await;
    l.send_raw(b"LHLO b\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@localhost>\r\nDATA\r\n")
        .await;
    for _ in 0..8 {
        let line = Box::pin(l.line()).await;
        if line.starts_with("354") {
            break;
        }
    }
    l.send_raw(b"Subject: from node B\r\n\r\nhello\r\n.\r\n")
        .await;
    Box::pin(l.expect("250 2.0.0 <alice@localhost> delivered, uid 1")).await;
    expect_within(&mut a, "* 1 EXISTS", Duration::from_secs(1)).await;
    // \Recent goes to the one session that saw it first.
    Box::pin(a.expect("* 1 RECENT")).await;

    // A flag change and an expunge by a session on node B.
    let mut b = login(&node_b, "alice").await;
    b.send("s SELECT INBOX").await;
    let sel = until_tagged(&mut b, "s").await;
    assert!(sel.iter().any(|l| l == "* 0 RECENT"), "{sel:?}");
    b.send("f STORE 1 +FLAGS (\\Seen)").await;
    Box::pin(b.expect("* 1 FETCH (FLAGS (\\Seen))")).await;
    Box::pin(b.expect("f OK {*}")).await;
    expect_within(
        &mut a,
        "* 1 FETCH (FLAGS (\\Seen \\Recent))",
        Duration::from_secs(1),
    )
    .await;
    b.send("x STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    Box::pin(b.expect("x OK {*}")).await;
    expect_within(
        &mut a,
        "* 1 FETCH (FLAGS (\\Seen \\Deleted \\Recent))",
        Duration::from_secs(1),
    )
    .await;
    b.send("e EXPUNGE").await;
    Box::pin(b.expect("* 1 EXPUNGE")).await;
    Box::pin(b.expect("e OK {*}")).await;
    expect_within(&mut a, "* 1 EXPUNGE", Duration::from_secs(1)).await;
    a.send("DONE").await;
    Box::pin(a.expect("i OK IDLE terminated")).await;
    node_a.stop().await;
    node_b.stop().await;
}
