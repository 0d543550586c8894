//! Idle accounts cost no index connection, also while a session watches a mailbox (an
//! IMAP session in IDLE): the outside-change watcher must not keep the index busy.

use mailroom_store::maildir::MaildirStore;
use mailroom_store::{AccountKey, AppendRequest, Flags, MessageData, Store};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watched_mailbox_lets_the_index_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = MaildirStore::open(dir.path().to_path_buf()).expect("store");
    let key = AccountKey::new("localhost", "idler").expect("key");
    let a = store.open_maildir_account(&key).await.expect("account");
    let acc: std::sync::Arc<dyn mailroom_store::Account> = a.clone();
    let inbox = acc
        .list_mailboxes()
        .await
        .expect("list")
        .into_iter()
        .find(|m| m.name == "INBOX")
        .expect("INBOX")
        .id;
    acc.append(
        inbox,
        AppendRequest {
            prefix: Vec::new(),
            data: MessageData::Bytes(bytes::Bytes::from_static(b"Subject: x\r\n\r\nbody\r\n")),
            flags: Flags::EMPTY,
            keywords: Vec::new(),
            internal_date: None,
        },
    )
    .await
    .expect("append");
    // Two sessions idling on INBOX.
    let _w1 = store.hub().watch(&key, inbox);
    let _w2 = store.hub().watch(&key, inbox);
    // Once the watcher has registered, a scan of the mailbox (what another session's
    // SELECT does) reads the watched directories: reading is not a change.
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.sync_changed(inbox, true).await.expect("sync");
    let deadline = tokio::time::Instant::now()
        + mailroom_store::maildir::CLOSE_IDLE_INDEX * 4
        + Duration::from_secs(1);
    while a.index_is_open() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !a.index_is_open(),
        "the index of an idle, watched account is still open"
    );
    // It reopens on demand.
    assert_eq!(acc.status(inbox).await.expect("status").messages, 1);
}
