//! The Maildir-only checks: what outside programs do to Maildir files (deliveries into
//! `new/` and `cur/`, flag renames, removals), index loss and rebuild, and crash
//! leftovers. They need [`MaildirHarness`]'s file hooks, so they are not part of the
//! backend-neutral conformance suite (`maildir_conformance.rs`); each hook panics if it
//! cannot do its job, so no check here passes by skipping.

use mailroom_store::maildir::MaildirHarness;
use mailroom_store::testsuite::{account, append, content, inbox, key, msg, uids, wait, Harness};
use mailroom_store::{FlagOp, Flags, StoreError, Uid};
use std::time::Duration;

fn harness() -> MaildirHarness {
    MaildirHarness::new().expect("temporary directory")
}

/// UIDs are not reused after the index is lost, also the expunged highest one, and
/// UIDVALIDITY stays the same (the part of `uids_monotonic_across_restart` that needs
/// index loss).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uids_kept_after_index_loss() {
    let h = &harness();
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    let v = a.mailbox("INBOX").await.expect("inbox").uid_validity;
    for i in 1..=4 {
        append(&a, mb, &msg(i)).await;
    }
    a.expunge(mb, Some(&[3, 4]), true).await.expect("expunge");
    drop((a, store));
    h.lose_index(&key());
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    assert_eq!(a.mailbox("INBOX").await.expect("inbox").uid_validity, v);
    assert_eq!(uids(&a, mb).await, vec![1, 2]);
    assert_eq!(append(&a, mb, &msg(5)).await.uid, 5);
}

/// Deleting the index and reopening keeps UIDVALIDITY, UIDs, flags, keywords and content
/// of every mailbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_rebuild() {
    let h = &harness();
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    let other = a.create_mailbox("lists/info", None).await.expect("create");
    for i in 1..=4 {
        append(&a, mb, &msg(i)).await;
    }
    append(&a, other.id, &msg(9)).await;
    a.store_flags(
        mb,
        &[2],
        FlagOp::Add,
        Flags::SEEN.union(Flags::FLAGGED),
        &["$Label1".into()],
    )
    .await
    .expect("store");
    a.store_flags(
        mb,
        &[3],
        FlagOp::Add,
        Flags::EMPTY,
        &["Work".into(), "$Label1".into()],
    )
    .await
    .expect("store");
    a.expunge(mb, Some(&[1]), true).await.expect("expunge");
    let v = a.mailbox("INBOX").await.expect("inbox").uid_validity;
    let before = a.messages(mb).await.expect("messages");
    drop((a, store));
    h.lose_index(&key());
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    let after = a.messages(mb).await.expect("messages");
    assert_eq!(after.uid_validity, v);
    assert_eq!(after.uid_next, before.uid_next);
    assert!(after.highest_modseq >= before.highest_modseq);
    let strip = |s: &mailroom_store::MailboxSnapshot| -> Vec<(Uid, Flags, Vec<String>, u64)> {
        s.messages
            .iter()
            .map(|m| (m.uid, m.flags, m.keywords.to_vec(), m.size))
            .collect()
    };
    assert_eq!(strip(&after), strip(&before));
    assert_eq!(content(&a, mb, 2).await, msg(2));
    let info = a.mailbox("lists/info").await.expect("rebuilt mailbox");
    assert_eq!(info.uid_validity, other.uid_validity);
    assert_eq!(uids(&a, info.id).await, vec![1]);
    assert!(a.mailbox("lists").await.is_ok());
    // RFC 8514 3 after a rebuild: a message found in the files is saved when its file
    // was written, its mtime (which an APPEND sets to the internal date, 1_000_000_000
    // in `testsuite::append`); ids are new, one per message and mailbox.
    let objs = a.objects(mb, &[2, 3, 4]).await.expect("objects");
    assert_eq!(objs.len(), 3);
    assert!(objs.iter().all(|o| o.save_date == Some(1_000_000_000)));
    assert!(objs[0].email_id != objs[1].email_id && objs[1].email_id != objs[2].email_id);
    assert!(
        a.mailbox_object_id(mb).await.expect("id")
            != a.mailbox_object_id(info.id).await.expect("id")
    );
}

/// Files dropped into `new/` or `cur/` from outside get the next UIDs at sync; their
/// LF line ends are served as CRLF.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_delivery() {
    let h = &harness();
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    append(&a, mb, &msg(1)).await;
    let lf = b"From: x@example.org\nSubject: outside\n\nhello\n";
    h.outside_deliver(&key(), "INBOX", lf, true);
    h.outside_deliver(&key(), "INBOX", &msg(3), false);
    let m0 = a.status(mb).await.expect("status").highest_modseq;
    let delivered = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    a.sync(mb).await.expect("sync");
    let snap = a.messages(mb).await.expect("messages");
    assert_eq!(
        snap.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let ch = a.changes_since(mb, m0).await.expect("changes");
    assert_eq!(ch.changed.len(), 2);
    let seen: Vec<Flags> = snap.messages.iter().map(|m| m.flags).collect();
    assert!(seen.contains(&Flags::SEEN));
    let outside_uid = snap
        .messages
        .iter()
        .find(|m| m.size == mailroom_store::mime::to_crlf(lf).len() as u64)
        .map(|m| m.uid)
        .expect("outside message indexed");
    assert_eq!(
        content(&a, mb, outside_uid).await,
        mailroom_store::mime::to_crlf(lf).as_ref()
    );
    // Its save date is its file's mtime: when the outside program wrote it.
    let saved = a.objects(mb, &[outside_uid]).await.expect("objects")[0].save_date;
    assert!(
        saved.is_some_and(|t| (delivered - 2..=delivered + 2).contains(&t)),
        "{saved:?}"
    );
    let s = a.structure(mb, outside_uid).await.expect("structure");
    assert_eq!(s.envelope.subject.as_deref(), Some("outside"));
    // A second sync finds nothing new; the next append continues the UIDs.
    a.sync(mb).await.expect("sync");
    assert_eq!(uids(&a, mb).await, vec![1, 2, 3]);
    assert_eq!(append(&a, mb, &msg(4)).await.uid, 4);
}

/// Flag renames and removals done by outside tools are picked up at sync with new modseqs
/// and reported by `changes_since`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_rename_and_remove() {
    let h = &harness();
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    for i in 1..=3 {
        append(&a, mb, &msg(i)).await;
    }
    let m0 = a.status(mb).await.expect("status").highest_modseq;
    h.outside_set_flags(&key(), "INBOX", 2, Flags::SEEN.union(Flags::ANSWERED));
    // Before any sync the index still names the old file: the content is found anyway.
    assert_eq!(content(&a, mb, 2).await, msg(2));
    h.outside_remove(&key(), "INBOX", 3);
    assert!(matches!(
        a.open_message(mb, 3).await.err(),
        Some(StoreError::NotFound(_))
    ));
    a.sync(mb).await.expect("sync");
    let ch = a.changes_since(mb, m0).await.expect("changes");
    assert_eq!(ch.changed.len(), 1);
    assert_eq!(ch.changed[0].uid, 2);
    assert_eq!(ch.changed[0].flags, Flags::SEEN.union(Flags::ANSWERED));
    assert_eq!(ch.expunged, vec![3]);
    assert_eq!(content(&a, mb, 2).await, msg(2));
    // Our own flag change still works on the renamed file.
    a.store_flags(mb, &[2], FlagOp::Add, Flags::FLAGGED, &[])
        .await
        .expect("store");
    assert_eq!(content(&a, mb, 2).await, msg(2));
    assert_eq!(append(&a, mb, &msg(4)).await.uid, 4);
}

/// What a crash in the middle of an append leaves is cleaned up: a stored message whose
/// index transaction never committed is adopted under the UID it was given, and a
/// temporary file of a delivery that died long ago is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_during_append() {
    let h = &harness();
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    append(&a, mb, &msg(1)).await;
    drop((a, store));
    h.crash_leftovers(&key(), "INBOX", &msg(2), 2);
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    a.sync(mb).await.expect("sync");
    assert_eq!(uids(&a, mb).await, vec![1, 2]);
    assert_eq!(content(&a, mb, 2).await, msg(2));
    assert_eq!(h.leftover_tmp_files(&key(), "INBOX"), 0);
    assert_eq!(append(&a, mb, &msg(3)).await.uid, 3);
}

/// The hub wakes a watcher when a file is dropped into the mailbox from outside, with no
/// session calling `sync`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_wakes_on_outside_drop() {
    let h = &harness();
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    let mut w = store.hub().watch(&key(), mb);
    // Give the backend a moment to set up its outside watch.
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.outside_deliver(&key(), "INBOX", &msg(1), true);
    wait(&mut w, "outside drop").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if uids(&a, mb).await == vec![1] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "outside message never indexed"
        );
        wait(&mut w, "outside drop indexed").await;
    }
}
