//! What only the PostgreSQL backend does, checked against a real server (the database of
//! `MAILROOM_PG_URL`; without it each test prints a loud SKIPPED line and returns):
//! deduplicated, reference-counted blobs and their sweeping; the change feed between
//! nodes (two stores, as two mailroom nodes, on one database); UIDs and modseqs under
//! concurrent writers on several nodes; migrations applied once.

use mailroom_store::testsuite::{account, append, content, inbox, key, msg, wait};
use mailroom_store::{FlagOp, Flags, Store, Uid};
use mailroom_store_postgres::{PgHarness, PgStore, MIGRATIONS};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

macro_rules! harness {
    () => {
        match PgHarness::from_env(module_path!()) {
            Some(h) => h,
            None => return,
        }
    };
}

async fn blob_refs(h: &PgHarness) -> Vec<(i64, bool)> {
    let c = h.client().await;
    c.query(
        "SELECT refs, orphaned_at IS NOT NULL FROM blobs ORDER BY refs",
        &[],
    )
    .await
    .expect("blobs")
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// The same message delivered twice and copied is one blob counted three times; it is
/// orphaned (not deleted) when the last message goes, still readable through a handle
/// opened before, and deleted by the sweeper only after the grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_deduplicated_counted_and_swept() {
    let h = harness!();
    let store = h.open_pg().await;
    let dynstore: Arc<dyn Store> = store.clone();
    let a = account(&dynstore).await;
    let mb = inbox(&a).await;
    let other = a.create_mailbox("Other", None).await.expect("create").id;
    append(&a, mb, &msg(1)).await;
    append(&a, mb, &msg(1)).await;
    append(&a, mb, &msg(2)).await;
    a.copy(mb, &[1], other).await.expect("copy");
    assert_eq!(blob_refs(&h).await, vec![(1, false), (3, false)]);
    // Expunge two of the three references, then delete the mailbox holding the third.
    let held = a.open_message(mb, 2).await.expect("open");
    a.expunge(mb, Some(&[1, 2]), true).await.expect("expunge");
    assert_eq!(blob_refs(&h).await, vec![(1, false), (1, false)]);
    a.delete_mailbox("Other").await.expect("delete");
    assert_eq!(blob_refs(&h).await, vec![(0, true), (1, false)]);
    // Orphaned but within the grace period: kept, and the open handle reads it.
    assert_eq!(store.sweep_orphans().await.expect("sweep"), 0);
    let mut buf = vec![0u8; 4096];
    let n = held.read_chunk(0, &mut buf).await.expect("read orphaned");
    assert_eq!(&buf[..n], msg(1).as_slice());
    // Appended again while orphaned: taken back, not duplicated.
    append(&a, mb, &msg(1)).await;
    assert_eq!(blob_refs(&h).await, vec![(1, false), (1, false)]);
    a.expunge(mb, Some(&[4]), true).await.expect("expunge");
    // Past the grace period the sweeper deletes it.
    h.client()
        .await
        .execute(
            "UPDATE blobs SET orphaned_at = now() - interval '2 hours' WHERE refs = 0",
            &[],
        )
        .await
        .expect("age orphan");
    assert_eq!(store.sweep_orphans().await.expect("sweep"), 1);
    assert_eq!(blob_refs(&h).await, vec![(1, false)]);
    // Removing the account orphans the rest.
    drop((held, a));
    dynstore.remove_account(&key()).await.expect("remove");
    assert_eq!(blob_refs(&h).await, vec![(0, true)]);
}

/// Node A (one store) sees within 1 s, through LISTEN/NOTIFY alone, an APPEND, a STORE,
/// an EXPUNGE and a MOVE made on node B (another store on the same database).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_feed_wakes_other_nodes() {
    let h = harness!();
    let node_a: Arc<dyn Store> = h.open_pg().await;
    let node_b: Arc<dyn Store> = h.open_pg().await;
    let a = account(&node_a).await;
    let b = account(&node_b).await;
    let mb = inbox(&a).await;
    let archive = b.create_mailbox("Archive", None).await.expect("create").id;
    let mut w = node_a.hub().watch(&key(), mb);
    let mut wa = node_a.hub().watch(&key(), archive);
    // A store returns once its listener listens: from here on node A learns of node B's
    // changes only through the notifications B's transactions send.
    let t = Instant::now();
    append(&b, mb, &msg(1)).await;
    wait(&mut w, "append on the other node").await;
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    assert_eq!(
        a.messages(mb).await.expect("messages").messages.len(),
        1,
        "woken after the commit"
    );
    b.store_flags(mb, &[1], FlagOp::Add, Flags::SEEN, &[])
        .await
        .expect("store");
    wait(&mut w, "flags on the other node").await;
    append(&b, mb, &msg(2)).await;
    wait(&mut w, "second append").await;
    b.move_messages(mb, &[2], archive).await.expect("move");
    wait(&mut wa, "move into the watched archive").await;
    wait(&mut w, "move out of the watched inbox").await;
    b.expunge(mb, Some(&[1]), true).await.expect("expunge");
    wait(&mut w, "expunge on the other node").await;
    assert!(a.messages(mb).await.expect("messages").messages.is_empty());
}

/// Account events (IMAP NOTIFY) made on node B reach node A's account watchers through
/// the feed, once each (node B's own watchers are told once, not again by the feed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_events_reach_other_nodes() {
    use mailroom_store::hub::AccountEvent as E;
    let h = harness!();
    let node_a: Arc<dyn Store> = h.open_pg().await;
    let node_b: Arc<dyn Store> = h.open_pg().await;
    let _a = account(&node_a).await;
    let b = account(&node_b).await;
    let mut wa = node_a.hub().watch_account(&key());
    let mut wb = node_b.hub().watch_account(&key());
    b.create_mailbox("Lists/Lemonade", None)
        .await
        .expect("create");
    b.set_subscribed("Lists", true).await.expect("subscribe");
    b.rename_mailbox("Lists", "Groups").await.expect("rename");
    b.delete_mailbox("Groups/Lemonade").await.expect("delete");
    let want = vec![
        E::Created("Lists".into()),
        E::Created("Lists/Lemonade".into()),
        E::Subscription {
            name: "Lists".into(),
            subscribed: true,
        },
        E::Renamed {
            from: "Lists".into(),
            to: "Groups".into(),
        },
        E::Deleted("Groups/Lemonade".into()),
    ];
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    while got.len() < want.len() && Instant::now() < deadline {
        let _ = tokio::time::timeout(Duration::from_millis(200), wa.changed()).await;
        let mut v = Vec::new();
        wa.take(&mut v).expect("no overflow");
        got.extend(v.into_iter().filter(|e| !matches!(e, E::Messages(_))));
    }
    assert_eq!(got, want, "node A");
    // Node B's own events came once, at the commit, not again through the feed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut v = Vec::new();
    wb.take(&mut v).expect("no overflow");
    v.retain(|e| !matches!(e, E::Messages(_)));
    assert_eq!(v, want, "node B");
}

/// Four nodes, each with several writers, on one mailbox: every acknowledged append gets
/// a distinct UID, each writer sees its UIDs and modseqs strictly increase, expunged UIDs
/// never come back, and the final mailbox holds exactly what was acknowledged and not
/// expunged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_on_four_nodes() {
    let h = harness!();
    let mut nodes: Vec<Arc<dyn Store>> = Vec::new();
    for _ in 0..4 {
        nodes.push(h.open_pg().await);
    }
    let mb = inbox(&account(&nodes[0]).await).await;
    let mut tasks = Vec::new();
    for (i, node) in nodes.iter().cycle().take(8).enumerate() {
        let node = node.clone();
        tasks.push(tokio::spawn(async move {
            let a = account(&node).await;
            let mut mine: Vec<(Uid, Vec<u8>)> = Vec::new();
            let mut gone = Vec::new();
            let mut last = (0, 0);
            for n in 0..15u32 {
                let body = msg(i as u32 * 1000 + n);
                let out = append(&a, mb, &body).await;
                assert!(out.uid > last.0 && out.modseq > last.1, "went backwards");
                last = (out.uid, out.modseq);
                mine.push((out.uid, body));
                if n % 3 == 0 {
                    let changed = a
                        .store_flags(mb, &[out.uid], FlagOp::Add, Flags::DELETED, &[])
                        .await
                        .expect("store");
                    assert_eq!(changed.len(), 1);
                    gone.extend(
                        a.expunge(mb, Some(&[out.uid]), false)
                            .await
                            .expect("expunge"),
                    );
                }
            }
            (mine, gone)
        }));
    }
    let mut acked = Vec::new();
    let mut expunged = BTreeSet::new();
    for t in tasks {
        let (mine, gone) = t.await.expect("writer");
        acked.extend(mine);
        expunged.extend(gone);
    }
    let all: BTreeSet<Uid> = acked.iter().map(|(u, _)| *u).collect();
    assert_eq!(all.len(), acked.len(), "a UID was handed out twice");
    assert_eq!(all, (1..=120).collect::<BTreeSet<Uid>>());
    assert_eq!(expunged.len(), 8 * 5);
    let a = account(&nodes[3]).await;
    let left: BTreeSet<Uid> = a
        .messages(mb)
        .await
        .expect("messages")
        .messages
        .uids()
        .collect();
    assert_eq!(left, all.difference(&expunged).copied().collect());
    for (uid, body) in acked.iter().filter(|(u, _)| !expunged.contains(u)) {
        assert_eq!(&content(&a, mb, *uid).await, body);
    }
    let st = a.status(mb).await.expect("status");
    assert_eq!(st.uid_next, 121);
    let ch = a.changes_since(mb, 0).await.expect("changes");
    assert_eq!(ch.expunged.len(), 40);
}

/// Opening the store again applies no migration twice; the schema records each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_applied_once() {
    let h = harness!();
    let (one, two) = tokio::join!(h.open_pg(), h.open_pg());
    drop((one, two));
    let _again: Arc<PgStore> = h.open_pg().await;
    let c = h.client().await;
    let versions: Vec<i32> = c
        .query("SELECT version FROM mailroom_schema ORDER BY version", &[])
        .await
        .expect("versions")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let want: Vec<i32> = (1..=MIGRATIONS.len() as i32).collect();
    assert_eq!(versions, want);
}

/// `rename_account` moves the whole store to the new key once the directory's rename
/// (`then`) succeeds, and leaves everything where it was when `then` fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_account_runs_then_or_rolls_back() {
    use mailroom_store::{AccountKey, StoreError};
    let h = harness!();
    let store: Arc<dyn Store> = h.open_pg().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    append(&a, mb, &msg(1)).await;
    drop(a);
    let bob = AccountKey::new("example.org", "bob").expect("key");
    let carol = AccountKey::new("example.org", "carol").expect("key");
    // `then` fails: nothing moves.
    let failed = store
        .rename_account(
            &key(),
            &bob,
            Box::new(|| Err(StoreError::Invalid("directory says no".into()))),
        )
        .await;
    assert!(matches!(failed, Err(StoreError::Invalid(_))), "{failed:?}");
    let a = account(&store).await;
    assert_eq!(a.usage().await.expect("usage").messages, 1);
    drop(a);
    // `then` succeeds: the mail is under the new key, the old key starts empty.
    let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = ran.clone();
    store
        .rename_account(
            &key(),
            &bob,
            Box::new(move || {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            }),
        )
        .await
        .expect("rename");
    assert!(ran.load(std::sync::atomic::Ordering::SeqCst));
    let b = store.open_account(&bob).await.expect("open bob");
    let bmb = inbox(&b).await;
    assert_eq!(content(&b, bmb, 1).await, msg(1));
    // Onto an existing store, or from none: refused.
    let taken = store.open_account(&carol).await.expect("open carol");
    drop(taken);
    let onto = store
        .rename_account(&bob, &carol, Box::new(|| Ok(())))
        .await;
    assert!(
        matches!(onto, Err(StoreError::AlreadyExists(_))),
        "{onto:?}"
    );
    let nobody = AccountKey::new("example.org", "nobody").expect("key");
    let from_none = store
        .rename_account(&nobody, &carol, Box::new(|| Ok(())))
        .await;
    assert!(
        matches!(from_none, Err(StoreError::NotFound(_))),
        "{from_none:?}"
    );
    let a = account(&store).await;
    assert_eq!(a.usage().await.expect("usage").messages, 0);
}
