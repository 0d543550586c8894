//! NOTIFY's limits (RFC 5465 3.1, 5.8), which transcripts cannot reach: more mailboxes
//! to watch than a session may (`NO [NOTIFICATIONOVERFLOW]`), and a session that fell
//! behind the account's event log (`* OK [NOTIFICATIONOVERFLOW]`, then as after NOTIFY
//! NONE).
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use common::{Client, TestServer};
use mailroom_server::net::Protocol;

async fn login(server: &TestServer, user: &str) -> Client {
    let mut c = server.connect(Protocol::Imap).await;
    Box::pin(c.expect("* OK [CAPABILITY IMAP4rev1 {*}] mailroom ready")).await;
    c.send(&format!("L LOGIN {user} pw")).await;
    Box::pin(c.expect("L OK [CAPABILITY {*}] logged in")).await;
    c
}

/// 500 mailboxes with message events may be watched (INBOX, the four default ones and
/// 495 more); one more made later turns NOTIFY off with `* OK [NOTIFICATIONOVERFLOW]`,
/// and NOTIFY SET over that many is refused with `NO [NOTIFICATIONOVERFLOW]`. Mailbox
/// events alone watch no mailbox: no limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_mailboxes_is_notificationoverflow() {
    let server = TestServer::start().await;
    server.add_account("bob", "pw");
    let mut c = login(&server, "bob").await;
    let acc = server.store_of("bob").await;
    for i in 0..495 {
        acc.create_mailbox(&format!("box{i:03}"), None)
            .await
            .unwrap();
    }
    c.send("a NOTIFY SET (personal (MessageNew MessageExpunge))")
        .await;
    c.expect("a OK NOTIFY completed").await;
    // The watched set growing past the limit turns NOTIFY off (5.8), between commands.
    acc.create_mailbox("one-too-many", None).await.unwrap();
    c.expect("* OK [NOTIFICATIONOVERFLOW] too many mailboxes to watch: NOTIFY is off")
        .await;
    acc.create_mailbox("unheard", None).await.unwrap();
    c.expect_silence(300, "NOTIFY is off").await;
    c.send("b NOTIFY SET (personal (MessageNew MessageExpunge FlagChange))")
        .await;
    c.expect("b NO [NOTIFICATIONOVERFLOW] more than 500 mailboxes to watch for message events")
        .await;
    // Refused: nothing is watched.
    acc.create_mailbox("unheard-too", None).await.unwrap();
    c.expect_silence(300, "the refused NOTIFY watches nothing")
        .await;
    c.send("c NOTIFY SET (personal (MailboxName SubscriptionChange))")
        .await;
    c.expect("c OK NOTIFY completed").await;
    c.send("d NOTIFY SET (subtree box (MessageNew MessageExpunge))")
        .await;
    c.expect("d OK NOTIFY completed").await;
    server.stop().await;
}

/// A session that does not take its events while more than the account log holds are
/// announced (here: in the middle of an APPEND whose literal it waits for) is told
/// `* OK [NOTIFICATIONOVERFLOW]` and hears nothing more, as after NOTIFY NONE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falling_behind_is_notificationoverflow_then_none() {
    let server = TestServer::start().await;
    server.add_account("bob", "pw");
    let mut c = login(&server, "bob").await;
    c.send("a NOTIFY SET (personal (SubscriptionChange MailboxName))")
        .await;
    c.expect("a OK NOTIFY completed").await;
    c.send("b APPEND INBOX {16}").await;
    c.expect("+ Ready for message data").await;
    let acc = server.store_of("bob").await;
    let n = mailroom_store::hub::ACCOUNT_LOG / 2 + 1;
    for _ in 0..n {
        acc.set_subscribed("Sent", false).await.unwrap();
        acc.set_subscribed("Sent", true).await.unwrap();
    }
    c.send_raw(b"Subject: x\r\n\r\nhi\r\n").await;
    c.expect("* OK [NOTIFICATIONOVERFLOW] too many changes to follow: NOTIFY is off, use NOTIFY SET again")
        .await;
    c.expect("b OK [APPENDUID {*} 1] APPEND completed").await;
    acc.create_mailbox("After", None).await.unwrap();
    c.expect_silence(300, "no notification after the overflow")
        .await;
    // NOTIFY SET again works.
    c.send("c NOTIFY SET (personal (MailboxName))").await;
    c.expect("c OK NOTIFY completed").await;
    acc.create_mailbox("Again", None).await.unwrap();
    c.expect("* LIST (\\HasNoChildren) \"/\" \"Again\"").await;
    server.stop().await;
}

/// A message another process writes into a watched mailbox that is not selected (an MTA
/// or `mailroom deliver` writing the Maildir) reaches NOTIFY: the session's watch on the
/// mailbox arms the store's outside-change watcher, whose sync announces the change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_delivery_to_a_watched_mailbox_is_told() {
    let server = TestServer::start().await;
    server.add_account("bob", "pw");
    server.create_mailbox("bob", "Archive").await;
    let mut c = login(&server, "bob").await;
    c.send("a SELECT INBOX").await;
    loop {
        if c.line().await.starts_with("a OK") {
            break;
        }
    }
    c.send("b NOTIFY SET (mailboxes Archive (MessageNew MessageExpunge))")
        .await;
    c.expect("b OK NOTIFY completed").await;
    // The store arms its watch of the directory on the blocking pool: a file written in
    // that moment is found by the periodic rescan (30 s) instead.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let dir = server.data_dir().join("mail/localhost/bob/Maildir/Archive");
    std::fs::write(
        dir.join("tmp/1700000000.outside.host"),
        b"Subject: from outside\r\n\r\nhi\r\n",
    )
    .unwrap();
    std::fs::rename(
        dir.join("tmp/1700000000.outside.host"),
        dir.join("new/1700000000.outside.host"),
    )
    .unwrap();
    c.expect("* STATUS \"Archive\" (UIDNEXT 2 MESSAGES 1)")
        .await;
    server.stop().await;
}
