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

async fn mailbox_names(acc: &std::sync::Arc<dyn mailroom_store::Account>) -> Vec<String> {
    let list = acc.list_mailboxes().await.expect("list");
    list.into_iter().map(|m| m.name).collect()
}

/// An account whose store exists opens without its index (a login needs none); the first
/// operation that needs the index opens it and first does what an eager open does:
/// mailboxes made by outside programs are found, and default mailboxes asked for at login
/// are made before anything can be listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_account_opens_its_index_on_first_use() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = AccountKey::new("localhost", "lazy").expect("key");
    {
        let store = MaildirStore::open(dir.path().to_path_buf()).expect("store");
        let a = store.open_maildir_account(&key).await.expect("account");
        assert!(a.index_is_open(), "a new store is made and indexed at once");
    }
    // A mail client writing the Maildir directly adds a folder while the server is down.
    let outside = dir.path().join("localhost/lazy/Maildir/Outside");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(outside.join(sub)).expect("mkdir");
    }
    let store = MaildirStore::open(dir.path().to_path_buf()).expect("store");
    let a = store.open_maildir_account(&key).await.expect("account");
    let acc: std::sync::Arc<dyn mailroom_store::Account> = a.clone();
    assert!(
        !a.index_is_open(),
        "opening for a login leaves the index closed"
    );
    acc.ensure_mailboxes(&[("Archive", mailroom_store::SpecialUse::Archive)])
        .await
        .expect("ensure");
    assert!(!a.index_is_open(), "default mailboxes wait for the index");
    let names = mailbox_names(&acc).await;
    assert!(names.iter().any(|n| n == "INBOX"), "{names:?}");
    assert!(names.iter().any(|n| n == "Outside"), "{names:?}");
    assert!(names.iter().any(|n| n == "Archive"), "{names:?}");
    assert!(
        dir.path()
            .join("localhost/lazy/Maildir/Archive/cur")
            .is_dir(),
        "the deferred mailbox exists on disk"
    );
    // A store whose index file vanished is rebuilt from the files on first use.
    drop((acc, a, store));
    std::fs::remove_file(dir.path().join("localhost/lazy/index.sqlite")).expect("rm index");
    let _ = std::fs::remove_file(dir.path().join("localhost/lazy/index.sqlite-wal"));
    let _ = std::fs::remove_file(dir.path().join("localhost/lazy/index.sqlite-shm"));
    let store = MaildirStore::open(dir.path().to_path_buf()).expect("store");
    let acc = store.open_account(&key).await.expect("account");
    let names = mailbox_names(&acc).await;
    assert!(names.iter().any(|n| n == "Archive"), "{names:?}");
}

/// The directories of a mailbox stay watched for a while after its last watcher left (a
/// reconnecting client finds the watch in place); a change made outside meanwhile is seen
/// by the next session, and a new watcher is woken by the next one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_lingers_after_the_last_watcher_and_sees_outside_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = MaildirStore::open(dir.path().to_path_buf()).expect("store");
    let key = AccountKey::new("localhost", "linger").expect("key");
    let a = store.open_maildir_account(&key).await.expect("account");
    let acc: std::sync::Arc<dyn mailroom_store::Account> = a.clone();
    let inbox = acc.mailbox("INBOX").await.expect("INBOX").id;
    let count = |acc: std::sync::Arc<dyn mailroom_store::Account>| async move {
        acc.sync(inbox).await.expect("sync");
        acc.status(inbox).await.expect("status").messages
    };
    let drop_outside = |n: u32| {
        let new = a.maildir_path().join("new");
        std::fs::write(
            new.join(format!("170000000{n}.outside{n}.host")),
            format!("Subject: outside {n}\r\n\r\nbody\r\n"),
        )
        .expect("drop a file into new/");
    };
    let w1 = store.hub().watch(&key, inbox);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while store.watcher().watched_dirs() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "never watched");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(w1);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(store.watcher().watched_dirs(), 2, "the watch lingers");
    drop_outside(1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut w2 = store.hub().watch(&key, inbox);
    assert_eq!(count(acc.clone()).await, 1, "a change made while lingering");
    drop_outside(2);
    tokio::time::timeout(Duration::from_secs(10), w2.changed())
        .await
        .expect("the new watcher is woken by an outside drop");
    assert_eq!(count(acc.clone()).await, 2);
}
