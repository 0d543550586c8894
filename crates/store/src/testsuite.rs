//! The storage conformance suite (cargo feature `testsuite`): every backend must pass
//! every check here.
//!
//! Each `pub async fn` check takes a fresh [`Harness`] (a backend over empty storage) and
//! panics on failure, like a test. A backend's test file runs them all with one line,
//! [`conformance_suite!`](crate::conformance_suite), which makes one `#[tokio::test]` per
//! check (`crates/store/tests/maildir_conformance.rs` for the Maildir backend). Every check
//! runs to its end on every backend: none is skipped or passes early. What only one backend
//! can do (Maildir files changed by outside programs, index loss, crash leftovers) is that
//! backend's own suite (`crates/store/tests/maildir_outside.rs`), which may use the helpers
//! here.
//!
//! What is covered: append (bytes and staged spool, prefix), byte-exact content, LF
//! messages served as CRLF, flags, keywords, copy, move, expunge variants,
//! `changes_since`, UIDs monotonic across restarts and after expunging the highest UID,
//! `\Recent` to exactly one claimer, two handles and two store instances on one account,
//! concurrent appends, account removal, hub wake-ups, mailbox
//! create/rename/delete/subscribe, bad names, garbage messages, BODYSTRUCTURE offsets,
//! sizes and line counts, ACL storage, save dates (RFC 8514) and object ids (RFC 8474).

use crate::{
    Account, AccountKey, AppendOutcome, AppendRequest, FlagOp, Flags, MailboxId, MessageContent,
    MessageData, SortKeys, Store, StoreError, Uid,
};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// What the suite needs from a backend: a store over fresh, empty storage.
#[async_trait]
pub trait Harness: Send + Sync {
    /// Opens the store over the harness's storage. Called again after the caller dropped
    /// every handle, it must behave as after a server restart (same data); called while
    /// handles are alive, it must behave as a second process on the same storage.
    async fn open(&self) -> Arc<dyn Store>;
}

// ---- helpers (public for backend-specific suites, e.g. `tests/maildir_outside.rs`) -----

/// The account every suite function uses.
pub fn key() -> AccountKey {
    AccountKey::new("example.org", "alice").expect("valid key")
}

/// A small well-formed message.
pub const SIMPLE: &[u8] = b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: hello\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\nMessage-ID: <1@example.org>\r\n\r\nHello Bob.\r\nSecond line.\r\n";

pub fn msg(n: u32) -> Vec<u8> {
    format!("From: a@example.org\r\nSubject: message {n}\r\n\r\nbody {n}\r\n").into_bytes()
}

fn request(data: &[u8], flags: Flags, keywords: &[&str]) -> AppendRequest {
    AppendRequest {
        prefix: Vec::new(),
        data: MessageData::Bytes(bytes::Bytes::copy_from_slice(data)),
        flags,
        keywords: keywords.iter().map(|s| s.to_string()).collect(),
        internal_date: Some((1_000_000_000, 120)),
    }
}

pub async fn account(store: &Arc<dyn Store>) -> Arc<dyn Account> {
    store.open_account(&key()).await.expect("open account")
}

pub async fn inbox(a: &Arc<dyn Account>) -> MailboxId {
    a.mailbox("INBOX").await.expect("INBOX exists").id
}

pub async fn append(a: &Arc<dyn Account>, mbox: MailboxId, data: &[u8]) -> AppendOutcome {
    a.append(mbox, request(data, Flags::EMPTY, &[]))
        .await
        .expect("append")
}

/// The whole content, read chunk by chunk; also checks that no chunk exceeds the bound.
async fn read_all(c: &Arc<dyn MessageContent>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 2 * crate::CONTENT_CHUNK];
    let mut offset = 0u64;
    loop {
        let n = c.read_chunk(offset, &mut buf).await.expect("read content");
        assert!(n <= crate::CONTENT_CHUNK, "a chunk of {n} octets");
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        offset += n as u64;
    }
    assert_eq!(out.len() as u64, c.size());
    out
}

pub async fn content(a: &Arc<dyn Account>, mbox: MailboxId, uid: Uid) -> Vec<u8> {
    read_all(&a.open_message(mbox, uid).await.expect("open message")).await
}

pub async fn uids(a: &Arc<dyn Account>, mbox: MailboxId) -> Vec<Uid> {
    a.messages(mbox)
        .await
        .expect("messages")
        .messages
        .iter()
        .map(|m| m.uid)
        .collect()
}

pub async fn wait(w: &mut Box<dyn crate::MailboxWatch>, what: &str) {
    tokio::time::timeout(Duration::from_secs(10), w.changed())
        .await
        .unwrap_or_else(|_| panic!("no wake-up for {what}"));
}

// ---- the suite -------------------------------------------------------------------------

/// Append stores the exact octets with flags, keywords and internal date; metadata and
/// parsed envelope are right.
pub async fn append_and_fetch(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    let out = a
        .append(mb, request(SIMPLE, Flags::SEEN, &["$Label1", "work"]))
        .await
        .expect("append");
    assert_eq!(out.uid, 1);
    let snap = a.messages(mb).await.expect("messages");
    assert_eq!(snap.uid_next, 2);
    assert_eq!(snap.uid_validity, out.uid_validity);
    assert_eq!(snap.messages.len(), 1);
    let m = &snap.messages.get(0).expect("message");
    assert_eq!(m.flags, Flags::SEEN);
    assert_eq!(m.keywords, vec!["$Label1".to_string(), "work".to_string()]);
    assert_eq!((m.internal_date, m.internal_date_tz), (1_000_000_000, 120));
    assert_eq!(m.size, SIMPLE.len() as u64);
    assert_eq!(m.modseq, out.modseq);
    assert_eq!(content(&a, mb, 1).await, SIMPLE);
    let s = a.structure(mb, 1).await.expect("structure");
    assert_eq!(s.envelope.subject.as_deref(), Some("hello"));
    assert_eq!(s.envelope.from.len(), 1);
    assert_eq!(s.envelope.from[0].name.as_deref(), Some("Alice"));
    assert_eq!(s.envelope.from[0].mailbox.as_deref(), Some("alice"));
    assert_eq!(s.envelope.from[0].host.as_deref(), Some("example.org"));
    assert!(s.envelope.sender.is_empty());
    assert_eq!(s.envelope.message_id.as_deref(), Some("<1@example.org>"));
    assert_eq!(s.sent_date, Some(760_686_745));
    assert!(s.header.ends_with(b"\r\n\r\n"));
    assert_eq!(s.body.media_type, "text");
    assert_eq!(s.body.body_size(), 26);
    assert_eq!(s.body.lines, 2);
    let st = a.status(mb).await.expect("status");
    assert_eq!((st.messages, st.unseen, st.uid_next), (1, 0, 2));
    assert_eq!(st.size, SIMPLE.len() as u64);
    assert!(matches!(
        a.open_message(mb, 99).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Appending from a spool file with a trace prefix streams both in; partial reads agree
/// with a whole read.
pub async fn append_from_file(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    let mut body = Vec::new();
    body.extend_from_slice(b"Subject: big\r\n\r\n");
    for i in 0..20_000 {
        body.extend_from_slice(format!("line {i} of a larger message\r\n").as_bytes());
    }
    // Staged the way receivers stage a large message: past the threshold, into a file.
    let spool_dir = tempfile::tempdir().expect("spool directory");
    let mut sink = crate::MessageSink::new(spool_dir.path(), 1024);
    for chunk in body.chunks(crate::MessageSink::CHUNK) {
        sink.write(chunk);
    }
    let data = sink.finish().expect("staged message");
    assert!(
        matches!(data, MessageData::File(..)),
        "staged out of memory"
    );
    let prefix = b"Return-Path: <a@example.org>\r\nDelivered-To: alice@example.org\r\n".to_vec();
    let out = a
        .append(
            mb,
            AppendRequest {
                prefix: prefix.clone(),
                data,
                flags: Flags::EMPTY,
                keywords: Vec::new(),
                internal_date: None,
            },
        )
        .await
        .expect("append");
    let mut want = prefix;
    want.extend_from_slice(&body);
    let c = a.open_message(mb, out.uid).await.expect("open");
    assert_eq!(c.size(), want.len() as u64);
    assert_eq!(read_all(&c).await, want);
    let c: &dyn MessageContent = c.as_ref();
    for (off, len) in [(0u64, 10u64), (65_530, 20), (want.len() as u64 - 5, 100)] {
        let got = c.read_range(off, len).await.expect("range");
        let end = (off + len).min(want.len() as u64) as usize;
        assert_eq!(got, &want[off as usize..end]);
    }
    let s = a.structure(mb, out.uid).await.expect("structure");
    assert_eq!(s.envelope.subject.as_deref(), Some("big"));
}

/// A message with bare LFs is served in CRLF form, with the CRLF size, at any offset.
pub async fn lf_served_as_crlf(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    let mut lf = b"Subject: lf\n\n".to_vec();
    for i in 0..30_000 {
        lf.extend_from_slice(format!("l{i}\n").as_bytes());
    }
    let want: Vec<u8> = crate::mime::to_crlf(&lf).into_owned();
    let out = append(&a, mb, &lf).await;
    let c = a.open_message(mb, out.uid).await.expect("open");
    assert_eq!(c.size(), want.len() as u64);
    assert_eq!(read_all(&c).await, want);
    let c: &dyn MessageContent = c.as_ref();
    for off in [
        0u64,
        1,
        14,
        15,
        65_535,
        65_536,
        131_073,
        want.len() as u64 - 3,
    ] {
        let got = c.read_range(off, 7).await.expect("range");
        let end = (off as usize + 7).min(want.len());
        assert_eq!(got, &want[off as usize..end], "at {off}");
    }
    let meta = a
        .messages(mb)
        .await
        .expect("messages")
        .messages
        .get(0)
        .expect("message")
        .to_meta();
    assert_eq!(meta.size, want.len() as u64);
}

/// STORE: set, add, remove of flags and keywords; only real changes are returned, each
/// with a higher modseq.
pub async fn flags_and_keywords(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    for i in 1..=3 {
        append(&a, mb, &msg(i)).await;
    }
    let before = a.status(mb).await.expect("status").highest_modseq;
    let changed = a
        .store_flags(mb, &[1, 2, 99], FlagOp::Add, Flags::SEEN, &["Work".into()])
        .await
        .expect("store");
    assert_eq!(
        changed.iter().map(|m| m.uid).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(changed
        .iter()
        .all(|m| m.modseq > before && m.flags == Flags::SEEN));
    assert_eq!(changed[0].keywords, vec!["Work".to_string()]);
    // Same again: nothing changes (keywords compare case-insensitively).
    let again = a
        .store_flags(mb, &[1, 2], FlagOp::Add, Flags::SEEN, &["work".into()])
        .await
        .expect("store");
    assert!(again.is_empty());
    let set = a
        .store_flags(
            mb,
            &[1],
            FlagOp::Set,
            Flags::FLAGGED.union(Flags::DRAFT),
            &[],
        )
        .await
        .expect("store");
    assert_eq!(set[0].flags, Flags::FLAGGED.union(Flags::DRAFT));
    assert!(set[0].keywords.is_empty());
    let removed = a
        .store_flags(mb, &[2], FlagOp::Remove, Flags::SEEN, &["WORK".into()])
        .await
        .expect("store");
    assert_eq!(removed[0].flags, Flags::EMPTY);
    assert!(removed[0].keywords.is_empty());
    let snap = a.messages(mb).await.expect("messages");
    assert_eq!(
        snap.messages.get(0).expect("message").flags,
        Flags::FLAGGED.union(Flags::DRAFT)
    );
    assert_eq!(snap.messages.get(1).expect("message").flags, Flags::EMPTY);
    assert_eq!(snap.messages.get(2).expect("message").flags, Flags::EMPTY);
    assert_eq!(a.status(mb).await.expect("status").unseen, 3);
    // Flags survive a restart, and the content is untouched by flag renames.
    drop((a, store));
    let store = h.open().await;
    let a = account(&store).await;
    let snap = a.messages(mb).await.expect("messages");
    assert_eq!(
        snap.messages.get(0).expect("message").flags,
        Flags::FLAGGED.union(Flags::DRAFT)
    );
    assert_eq!(content(&a, mb, 1).await, msg(1));
}

/// The conditional STORE (RFC 7162 3.1.3): messages changed after `unchanged_since`
/// fail and keep their flags, the others change; 0 fails every message; missing UIDs
/// are in neither list.
pub async fn store_unchanged_since(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    for i in 1..=3 {
        append(&a, mb, &msg(i)).await;
    }
    let before = a.status(mb).await.expect("status").highest_modseq;
    a.store_flags(mb, &[2], FlagOp::Add, Flags::FLAGGED, &[])
        .await
        .expect("store");
    let (changed, failed) = a
        .store_flags_unchanged_since(mb, &[1, 2, 3, 99], FlagOp::Add, Flags::SEEN, &[], before)
        .await
        .expect("conditional store");
    assert_eq!(
        changed.iter().map(|m| m.uid).collect::<Vec<_>>(),
        vec![1, 3]
    );
    assert!(changed.iter().all(|m| m.modseq > before));
    assert_eq!(failed, vec![2]);
    let snap = a.messages(mb).await.expect("messages");
    assert_eq!(snap.messages.get(1).expect("message").flags, Flags::FLAGGED);
    let (changed, failed) = a
        .store_flags_unchanged_since(mb, &[1, 2, 3], FlagOp::Add, Flags::DELETED, &[], 0)
        .await
        .expect("conditional store");
    assert!(changed.is_empty());
    assert_eq!(failed, vec![1, 2, 3]);
}

/// COPY keeps content, flags, keywords and internal date under new UIDs; MOVE also
/// removes the source messages.
pub async fn copy_and_move(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    let dst = a.create_mailbox("Archive", None).await.expect("create").id;
    for i in 1..=3 {
        a.append(mb, request(&msg(i), Flags::ANSWERED, &["k"]))
            .await
            .expect("append");
    }
    append(&a, dst, &msg(10)).await;
    let out = a.copy(mb, &[1, 3, 42], dst).await.expect("copy");
    assert_eq!(out.pairs, vec![(1, 2), (3, 3)]);
    assert_eq!(
        out.uid_validity,
        a.mailbox("Archive").await.expect("mbox").uid_validity
    );
    let snap = a.messages(dst).await.expect("messages");
    assert_eq!(snap.messages.len(), 3);
    let copied = &snap.messages.get(1).expect("message");
    assert_eq!(copied.flags, Flags::ANSWERED);
    assert_eq!(copied.keywords, vec!["k".to_string()]);
    assert_eq!(copied.internal_date, 1_000_000_000);
    assert_eq!(content(&a, dst, 3).await, msg(3));
    assert_eq!(uids(&a, mb).await, vec![1, 2, 3]);
    // Flags of the copy are independent of the original.
    a.store_flags(dst, &[2], FlagOp::Add, Flags::SEEN, &[])
        .await
        .expect("store");
    assert_eq!(
        a.messages(mb)
            .await
            .expect("messages")
            .messages
            .get(0)
            .expect("message")
            .flags,
        Flags::ANSWERED
    );

    let since = a.status(mb).await.expect("status").highest_modseq;
    let moved = a.move_messages(mb, &[2, 3], dst).await.expect("move");
    assert_eq!(moved.pairs, vec![(2, 4), (3, 5)]);
    assert_eq!(uids(&a, mb).await, vec![1]);
    assert_eq!(uids(&a, dst).await, vec![1, 2, 3, 4, 5]);
    assert_eq!(content(&a, dst, 5).await, msg(3));
    let ch = a.changes_since(mb, since).await.expect("changes");
    assert_eq!(ch.expunged, vec![2, 3]);
    let usage = a.usage().await.expect("usage");
    assert_eq!(usage.messages, 6);
}

/// A move within one mailbox (RFC 6851 3.3): the message gets a new UID there and the
/// original is expunged, in one step; after a restart it is there exactly once.
pub async fn move_within_one_mailbox(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    for i in 1..=2 {
        a.append(mb, request(&msg(i), Flags::FLAGGED, &["k"]))
            .await
            .expect("append");
    }
    let since = a.status(mb).await.expect("status").highest_modseq;
    let moved = a.move_messages(mb, &[1], mb).await.expect("move");
    assert_eq!(moved.pairs, vec![(1, 3)]);
    assert_eq!(uids(&a, mb).await, vec![2, 3]);
    assert_eq!(content(&a, mb, 3).await, msg(1));
    let ch = a.changes_since(mb, since).await.expect("changes");
    assert_eq!(ch.expunged, vec![1]);
    let snap = a.messages(mb).await.expect("messages");
    let m = snap.messages.get(1).expect("message");
    assert_eq!((m.uid, m.flags), (3, Flags::FLAGGED));
    assert_eq!(m.keywords, ["k".to_string()]);
    drop((snap, a, store));
    let store = h.open().await;
    let a = account(&store).await;
    assert_eq!(uids(&a, mb).await, vec![2, 3]);
    assert_eq!(content(&a, mb, 3).await, msg(1));
    assert_eq!(a.usage().await.expect("usage").messages, 2);
}

/// EXPUNGE variants: all `\Deleted`, UID EXPUNGE of a subset, forced (POP3 DELE).
pub async fn expunge_variants(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    for i in 1..=6 {
        append(&a, mb, &msg(i)).await;
    }
    a.store_flags(mb, &[1, 2, 3], FlagOp::Add, Flags::DELETED, &[])
        .await
        .expect("store");
    let held = a.open_message(mb, 2).await.expect("open before expunge");
    assert_eq!(
        a.expunge(mb, Some(&[2, 4]), false)
            .await
            .expect("uid expunge"),
        vec![2]
    );
    // A handle opened before the expunge still reads the whole message.
    assert_eq!(read_all(&held).await, msg(2));
    assert!(matches!(
        a.open_message(mb, 2).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        a.expunge(mb, None, false).await.expect("expunge"),
        vec![1, 3]
    );
    assert_eq!(
        a.expunge(mb, Some(&[5, 6, 77]), true).await.expect("force"),
        vec![5, 6]
    );
    assert_eq!(uids(&a, mb).await, vec![4]);
    assert!(a
        .expunge(mb, None, false)
        .await
        .expect("expunge")
        .is_empty());
}

/// METADATA entries (RFC 5464): per mailbox and for the account (`None`), sorted by name,
/// set and removed all at once, refused as a whole past the entry limit, kept through
/// RENAME and removed with DELETE; a missing mailbox is `NotFound`.
pub async fn metadata_storage(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    let v = |s: &str| Some(s.as_bytes().to_vec());
    let set = vec![
        ("/shared/comment".to_string(), v("shared")),
        ("/private/comment".to_string(), v("mine")),
        ("/private/bin".to_string(), Some(vec![0, 1, 255])),
    ];
    assert!(a.set_metadata(Some(mb), set, 10).await.expect("set"));
    assert!(a
        .set_metadata(None, vec![("/private/x".into(), v("server"))], 10)
        .await
        .expect("set server"));
    let got = a.metadata(Some(mb)).await.expect("get");
    assert_eq!(
        got,
        vec![
            ("/private/bin".to_string(), vec![0, 1, 255]),
            ("/private/comment".to_string(), b"mine".to_vec()),
            ("/shared/comment".to_string(), b"shared".to_vec()),
        ]
    );
    assert_eq!(
        a.metadata(None).await.expect("server"),
        vec![("/private/x".to_string(), b"server".to_vec())]
    );
    // Past the limit nothing changes, the removal in the same call included.
    let many = vec![
        ("/private/comment".to_string(), None),
        ("/shared/a".to_string(), v("1")),
        ("/shared/b".to_string(), v("2")),
    ];
    assert!(!a.set_metadata(Some(mb), many, 3).await.expect("too many"));
    assert_eq!(a.metadata(Some(mb)).await.expect("get").len(), 3);
    assert!(a
        .set_metadata(Some(mb), vec![("/private/comment".into(), None)], 3)
        .await
        .expect("remove"));
    assert_eq!(a.metadata(Some(mb)).await.expect("get").len(), 2);
    let work = a.create_mailbox("Work", None).await.expect("create").id;
    assert!(a
        .set_metadata(Some(work), vec![("/shared/w".into(), v("w"))], 10)
        .await
        .expect("set"));
    a.rename_mailbox("Work", "Job").await.expect("rename");
    let job = a.mailbox("Job").await.expect("renamed").id;
    assert_eq!(
        a.metadata(Some(job)).await.expect("after rename"),
        vec![("/shared/w".to_string(), b"w".to_vec())]
    );
    a.delete_mailbox("Job").await.expect("delete");
    assert!(matches!(
        a.metadata(Some(job)).await,
        Err(StoreError::NotFound(_))
    ));
    let again = a.create_mailbox("Job", None).await.expect("create").id;
    assert!(a.metadata(Some(again)).await.expect("new").is_empty());
}

/// The preview cache (RFC 8970): a backend may keep nothing (`None`), but what it keeps
/// is the text set for that message, and it goes with the message (EXPUNGE) and with the
/// mailbox (DELETE); a preview for a message that is gone is not kept.
pub async fn preview_cache(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    for i in 1..=2 {
        append(&a, mb, &msg(i)).await;
    }
    let keeps = {
        a.set_preview(mb, 1, "first").await.expect("set");
        match a.preview(mb, 1).await.expect("get") {
            Some(t) => {
                assert_eq!(t, "first");
                true
            }
            None => false,
        }
    };
    a.set_preview(mb, 1, "first, again").await.expect("set");
    a.set_preview(mb, 2, "").await.expect("set empty");
    a.set_preview(mb, 99, "gone")
        .await
        .expect("set for no message");
    assert_eq!(a.preview(mb, 99).await.expect("get"), None);
    if keeps {
        assert_eq!(
            a.preview(mb, 1).await.expect("get").as_deref(),
            Some("first, again")
        );
        assert_eq!(a.preview(mb, 2).await.expect("get").as_deref(), Some(""));
    }
    a.expunge(mb, Some(&[1]), true).await.expect("expunge");
    assert_eq!(a.preview(mb, 1).await.expect("get after expunge"), None);
    let other = a.create_mailbox("Other", None).await.expect("create").id;
    append(&a, other, &msg(3)).await;
    a.set_preview(other, 1, "other").await.expect("set");
    a.delete_mailbox("Other").await.expect("delete");
    let again = a.create_mailbox("Other", None).await.expect("create").id;
    append(&a, again, &msg(4)).await;
    assert_eq!(a.preview(again, 1).await.expect("get after delete"), None);
}

/// The sort-key cache (RFC 5256 SORT/THREAD): a backend may keep nothing (an empty
/// map), but what it keeps is what was set for that message under that version, every
/// field as it was given; keys go with their message (EXPUNGE, MOVE away) and with the
/// mailbox (DELETE); keys for a message that is gone are not kept.
pub async fn sort_key_cache(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    for i in 1..=3 {
        append(&a, mb, &msg(i)).await;
    }
    let full = SortKeys {
        subject: "CAF\u{c9} \u{1F600}".as_bytes().to_vec(),
        reply: true,
        from: b"ALICE".to_vec(),
        to: vec![0xff, b'x'],
        cc: Vec::new(),
        display_from: b"ALICE LIDDELL".to_vec(),
        display_to: b"BOB@EXAMPLE.COM".to_vec(),
        sent_date: Some(-86_400),
        message_id: Some("a@example.com".into()),
        references: vec!["r1@x".into(), "r2@y".into()],
    };
    let empty = SortKeys::default();
    a.set_sort_keys(
        mb,
        7,
        vec![
            (1, full.clone()),
            (2, empty.clone()),
            (3, full.clone()),
            (99, full.clone()),
        ],
    )
    .await
    .expect("set");
    let got = a.sort_keys(mb, 7).await.expect("get");
    let keeps = !got.is_empty();
    if keeps {
        assert_eq!(got.len(), 3, "no keys for a message that is not there");
        assert_eq!(got.get(&1), Some(&full));
        assert_eq!(got.get(&2), Some(&empty));
        assert!(
            a.sort_keys(mb, 8).await.expect("other version").is_empty(),
            "keys of another version are not returned"
        );
    }
    // Overwritten under a new version.
    a.set_sort_keys(mb, 8, vec![(1, empty.clone())])
        .await
        .expect("set again");
    if keeps {
        assert_eq!(a.sort_keys(mb, 8).await.expect("get").get(&1), Some(&empty));
        assert!(!a.sort_keys(mb, 7).await.expect("get").contains_key(&1));
    }
    a.expunge(mb, Some(&[2]), true).await.expect("expunge");
    assert!(!a.sort_keys(mb, 7).await.expect("get").contains_key(&2));
    let other = a.create_mailbox("Other", None).await.expect("create").id;
    a.move_messages(mb, &[3], other).await.expect("move");
    assert!(!a.sort_keys(mb, 7).await.expect("get").contains_key(&3));
    append(&a, other, &msg(4)).await;
    a.set_sort_keys(other, 7, vec![(2, full.clone())])
        .await
        .expect("set");
    a.delete_mailbox("Other").await.expect("delete");
    let again = a.create_mailbox("Other", None).await.expect("create").id;
    append(&a, again, &msg(5)).await;
    assert!(a
        .sort_keys(again, 7)
        .await
        .expect("get after delete")
        .is_empty());
}

/// The Unix clock, in seconds.
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// An RFC 8474 `objectid`: 1 to 255 of `A-Za-z0-9_-`, and (8.1's advice) starting with a
/// letter.
fn is_objectid(s: &str) -> bool {
    (1..=255).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
}

async fn object(a: &Arc<dyn Account>, mb: MailboxId, uid: Uid) -> Option<crate::MessageObject> {
    let mut v = a.objects(mb, &[uid]).await.expect("objects");
    assert!(v.len() <= 1);
    v.pop()
}

/// RFC 8514 3: the save date is when the message came into the mailbox (APPEND, COPY,
/// MOVE), not its internal date; a copy or a move gets its own, the source keeps its own;
/// a flag change does not touch it; it survives a restart and goes with the message.
pub async fn save_dates(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    let other = a.create_mailbox("Other", None).await.expect("create").id;
    let before = now_secs();
    append(&a, mb, &msg(1)).await; // internal date 2001-09-09
    append(&a, mb, &msg(2)).await;
    let after = now_secs();
    let first = object(&a, mb, 1).await.expect("message 1");
    let saved = first.save_date.expect("a save date after APPEND");
    assert!(
        (before..=after).contains(&saved),
        "{saved} not in {before}..={after}"
    );
    // The next second, so that a new save date is told from the old one.
    while now_secs() <= after {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let copy_start = now_secs();
    let copied = a.copy(mb, &[1], other).await.expect("copy");
    let moved = a.move_messages(mb, &[2], other).await.expect("move");
    let copy_end = now_secs();
    for (_, dst) in copied.pairs.iter().chain(&moved.pairs) {
        let d = object(&a, other, *dst).await.expect("the copy").save_date;
        let d = d.expect("a save date after COPY/MOVE");
        assert!(
            (copy_start..=copy_end).contains(&d),
            "{d} not in {copy_start}..={copy_end}"
        );
    }
    assert_eq!(
        object(&a, mb, 1).await.expect("source").save_date,
        Some(saved)
    );
    assert_eq!(
        object(&a, mb, 2).await,
        None,
        "the moved message is gone from INBOX"
    );
    a.store_flags(mb, &[1], FlagOp::Add, Flags::SEEN, &["$Done".into()])
        .await
        .expect("flags");
    assert_eq!(
        object(&a, mb, 1).await.expect("after STORE").save_date,
        Some(saved)
    );
    // Several at once, missing UIDs left out, ascending.
    let all = a.objects(other, &[99, 2, 1, 2]).await.expect("objects");
    assert_eq!(all.iter().map(|o| o.uid).collect::<Vec<_>>(), vec![1, 2]);
    drop(a);
    drop(store);
    let store = h.open().await;
    let a = account(&store).await;
    assert_eq!(
        object(&a, mb, 1).await.expect("after restart").save_date,
        Some(saved)
    );
    a.expunge(mb, Some(&[1]), true).await.expect("expunge");
    assert_eq!(object(&a, mb, 1).await, None);
}

/// RFC 8474: every mailbox has a MAILBOXID of its own, kept through RENAME and never
/// given again (DELETE and CREATE of the same name make a new one); every message an
/// EMAILID of its own, kept by COPY and MOVE (5.1: the copies of COPYUID have the
/// source's) and by RENAME INBOX; a THREADID, when the backend gives one, is an objectid
/// that is no EMAILID. Everything survives a restart.
pub async fn object_ids(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    let inbox_id = a.mailbox_object_id(mb).await.expect("INBOX id");
    let first = a.create_mailbox("foo", None).await.expect("create").id;
    let bar = a.create_mailbox("bar", None).await.expect("create").id;
    let foo_id = a.mailbox_object_id(first).await.expect("foo id");
    let bar_id = a.mailbox_object_id(bar).await.expect("bar id");
    for id in [&inbox_id, &foo_id, &bar_id] {
        assert!(is_objectid(id), "{id:?} is no objectid");
    }
    assert!(inbox_id != foo_id && foo_id != bar_id && inbox_id != bar_id);
    a.rename_mailbox("foo", "renamed").await.expect("rename");
    let renamed = a.mailbox("renamed").await.expect("renamed").id;
    assert_eq!(
        a.mailbox_object_id(renamed).await.expect("renamed id"),
        foo_id
    );
    a.delete_mailbox("bar").await.expect("delete");
    assert!(matches!(
        a.mailbox_object_id(bar).await,
        Err(StoreError::NotFound(_))
    ));
    let bar2 = a
        .create_mailbox("bar", None)
        .await
        .expect("create again")
        .id;
    let bar2_id = a.mailbox_object_id(bar2).await.expect("new bar id");
    assert!(bar2_id != bar_id && bar2_id != foo_id && bar2_id != inbox_id);

    for i in 1..=3 {
        append(&a, mb, &msg(i)).await;
    }
    // The same content appended again is another message: an id of its own is allowed.
    let objs = a.objects(mb, &[1, 2, 3]).await.expect("objects");
    assert_eq!(objs.len(), 3);
    let ids: Vec<String> = objs.iter().map(|o| o.email_id.clone()).collect();
    for o in &objs {
        assert!(is_objectid(&o.email_id), "{:?}", o.email_id);
        if let Some(t) = &o.thread_id {
            assert!(is_objectid(t), "{t:?}");
            assert!(!ids.contains(t), "THREADID {t} is also an EMAILID");
        }
    }
    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
    let copied = a.copy(mb, &[1], renamed).await.expect("copy");
    let moved = a.move_messages(mb, &[2], renamed).await.expect("move");
    let within = a.copy(mb, &[3], mb).await.expect("copy within INBOX");
    let (c, m, w) = (copied.pairs[0].1, moved.pairs[0].1, within.pairs[0].1);
    let id_of = |o: Option<crate::MessageObject>| o.expect("message").email_id;
    assert_eq!(
        id_of(object(&a, renamed, c).await),
        ids[0],
        "COPY keeps EMAILID"
    );
    assert_eq!(
        id_of(object(&a, renamed, m).await),
        ids[1],
        "MOVE keeps EMAILID"
    );
    assert_eq!(
        id_of(object(&a, mb, w).await),
        ids[2],
        "COPY within keeps EMAILID"
    );
    assert_eq!(
        id_of(object(&a, mb, 1).await),
        ids[0],
        "the source keeps its EMAILID"
    );
    let threads = |o: Option<crate::MessageObject>| o.expect("message").thread_id;
    assert_eq!(
        threads(object(&a, renamed, c).await),
        threads(object(&a, mb, 1).await),
        "the same EMAILID has the same THREADID (RFC 8474 5.2)"
    );
    let fresh = append(&a, renamed, &msg(1)).await.uid;
    assert!(!ids.contains(&id_of(object(&a, renamed, fresh).await)));

    // RENAME INBOX: INBOX stays (its id too), the messages go to a new mailbox, ids kept.
    a.rename_mailbox("INBOX", "old-inbox")
        .await
        .expect("rename INBOX");
    let old = a.mailbox("old-inbox").await.expect("old-inbox").id;
    let old_id = a.mailbox_object_id(old).await.expect("old-inbox id");
    assert_eq!(a.mailbox_object_id(mb).await.expect("INBOX id"), inbox_id);
    assert!(old_id != inbox_id && old_id != foo_id && old_id != bar2_id);
    let after: Vec<String> = a
        .objects(old, &[1, 3, w])
        .await
        .expect("objects")
        .into_iter()
        .map(|o| o.email_id)
        .collect();
    assert_eq!(after, vec![ids[0].clone(), ids[2].clone(), ids[2].clone()]);
    assert!(a.objects(mb, &[1, 3]).await.expect("objects").is_empty());

    drop(a);
    drop(store);
    let store = h.open().await;
    let a = account(&store).await;
    assert_eq!(
        a.mailbox_object_id(renamed).await.expect("after restart"),
        foo_id
    );
    assert_eq!(id_of(object(&a, renamed, m).await), ids[1]);
}

/// `changes_since` reports appends, flag changes and expunges after a modseq.
pub async fn changes_since(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    append(&a, mb, &msg(1)).await;
    append(&a, mb, &msg(2)).await;
    let m0 = a.status(mb).await.expect("status").highest_modseq;
    let none = a.changes_since(mb, m0).await.expect("changes");
    assert!(none.changed.is_empty() && none.expunged.is_empty());
    append(&a, mb, &msg(3)).await;
    a.store_flags(mb, &[1], FlagOp::Add, Flags::SEEN, &[])
        .await
        .expect("store");
    a.expunge(mb, Some(&[2]), true).await.expect("expunge");
    let ch = a.changes_since(mb, m0).await.expect("changes");
    assert_eq!(
        ch.changed.iter().map(|m| m.uid).collect::<Vec<_>>(),
        vec![1, 3]
    );
    assert_eq!(ch.changed[0].flags, Flags::SEEN);
    assert_eq!(ch.expunged, vec![2]);
    assert_eq!(ch.uid_next, 4);
    assert!(ch.highest_modseq > m0);
    assert!(!ch.uid_validity_changed);
    let later = a
        .changes_since(mb, ch.highest_modseq)
        .await
        .expect("changes");
    assert!(later.changed.is_empty() && later.expunged.is_empty());
}

/// UIDs keep increasing across restarts, also after the highest UID was expunged, and
/// UIDVALIDITY stays the same.
pub async fn uids_monotonic_across_restart(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    let v = a.mailbox("INBOX").await.expect("inbox").uid_validity;
    for i in 1..=3 {
        append(&a, mb, &msg(i)).await;
    }
    a.expunge(mb, Some(&[3]), true).await.expect("expunge");
    drop((a, store));
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    assert_eq!(a.mailbox("INBOX").await.expect("inbox").uid_validity, v);
    assert_eq!(append(&a, mb, &msg(4)).await.uid, 4);
}

/// Migration: a mailbox takes another server's UIDVALIDITY while empty, messages keep
/// their UIDs (never below UIDNEXT), UIDNEXT is raised, POP3 unique-ids are kept; all of
/// it survives a restart.
pub async fn import_keeps_uids(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let mb = a.create_mailbox("Old", None).await.expect("create").id;
    a.set_uid_validity(mb, 1_234_567)
        .await
        .expect("set UIDVALIDITY");
    let out = a
        .append_with_uid(mb, 5, request(&msg(5), Flags::SEEN, &["$Label1"]))
        .await
        .expect("append under UID 5");
    assert_eq!((out.uid, out.uid_validity), (5, 1_234_567));
    a.append_with_uid(mb, 9, request(&msg(9), Flags::EMPTY, &[]))
        .await
        .expect("append under UID 9");
    let below = a
        .append_with_uid(mb, 7, request(&msg(7), Flags::EMPTY, &[]))
        .await;
    assert!(matches!(below, Err(StoreError::Invalid(_))), "{below:?}");
    let refused = a.set_uid_validity(mb, 42).await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    a.finish_import(mb, 20).await.expect("finish");
    a.finish_import(mb, 3)
        .await
        .expect("UIDNEXT is never lowered");
    a.set_pop3_uidls(mb, &[(5, "0000000500126d87".into()), (9, "x9".into())])
        .await
        .expect("UIDLs");
    let bad = a.set_pop3_uidls(mb, &[(5, "has space".into())]).await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");
    drop((a, store));
    let store = h.open().await;
    let a = account(&store).await;
    let mb = a.mailbox("Old").await.expect("Old");
    assert_eq!(mb.uid_validity, 1_234_567);
    let st = a.status(mb.id).await.expect("status");
    assert_eq!((st.uid_next, st.messages, st.recent), (20, 2, 0));
    assert_eq!(uids(&a, mb.id).await, vec![5, 9]);
    let snap = a.messages(mb.id).await.expect("messages");
    let first = snap.messages.get(0).expect("UID 5");
    assert!(first.flags.contains(Flags::SEEN));
    assert_eq!(first.keywords, ["$Label1".to_string()]);
    assert_eq!(content(&a, mb.id, 9).await, msg(9));
    assert_eq!(
        a.pop3_uidls(mb.id).await.expect("UIDLs"),
        vec![(5, "0000000500126d87".to_string()), (9, "x9".to_string())]
    );
    assert_eq!(append(&a, mb.id, &msg(20)).await.uid, 20);
}

/// `\Recent` goes to exactly one session.
pub async fn recent_to_one_claimer(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let b = account(&store).await;
    let mb = inbox(&a).await;
    append(&a, mb, &msg(1)).await;
    append(&a, mb, &msg(2)).await;
    assert_eq!(a.status(mb).await.expect("status").recent, 2);
    let first = a.claim_recent(mb).await.expect("claim");
    let second = b.claim_recent(mb).await.expect("claim");
    assert_eq!(first, 1);
    assert_eq!(second, 3, "nothing is recent for the second session");
    assert_eq!(a.status(mb).await.expect("status").recent, 0);
    append(&a, mb, &msg(3)).await;
    assert_eq!(b.claim_recent(mb).await.expect("claim"), 3);
    assert_eq!(a.claim_recent(mb).await.expect("claim"), 4);
    // Claiming up to a snapshot's UIDNEXT leaves later arrivals to the next claimer.
    append(&a, mb, &msg(4)).await;
    append(&a, mb, &msg(5)).await;
    assert_eq!(a.claim_recent_upto(mb, 5).await.expect("claim"), 4);
    assert_eq!(b.claim_recent_upto(mb, 6).await.expect("claim"), 5);
    assert_eq!(a.claim_recent_upto(mb, 6).await.expect("claim"), 6);
}

/// Two handles on one account, and two store instances over the same storage (two
/// processes), see each other's changes.
pub async fn shared_account_state(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let b = account(&store).await;
    let mb = inbox(&a).await;
    append(&a, mb, &msg(1)).await;
    assert_eq!(uids(&b, mb).await, vec![1]);
    b.store_flags(mb, &[1], FlagOp::Add, Flags::SEEN, &[])
        .await
        .expect("store");
    assert_eq!(
        a.messages(mb)
            .await
            .expect("messages")
            .messages
            .get(0)
            .expect("message")
            .flags,
        Flags::SEEN
    );
    let created = b.create_mailbox("Shared", None).await.expect("create");
    assert_eq!(a.mailbox("Shared").await.expect("visible").id, created.id);

    let other = h.open().await;
    let c = account(&other).await;
    let mc = inbox(&c).await;
    let out = append(&c, mc, &msg(2)).await;
    assert_eq!(out.uid, 2);
    a.sync(mb).await.expect("sync");
    assert_eq!(uids(&a, mb).await, vec![1, 2]);
    assert_eq!(append(&a, mb, &msg(3)).await.uid, 3);
    assert_eq!(uids(&c, mc).await, vec![1, 2, 3]);
}

/// Concurrent appends from two store instances (two processes: the server and
/// `mailroom deliver`) and several tasks each get distinct UIDs, and every acknowledged
/// message is there exactly once.
pub async fn concurrent_appends(h: &dyn Harness) {
    let one = h.open().await;
    let two = h.open().await;
    let mut tasks = Vec::new();
    for (i, store) in [one.clone(), two.clone(), one.clone(), two.clone()]
        .into_iter()
        .enumerate()
    {
        tasks.push(tokio::spawn(async move {
            let a = account(&store).await;
            let mb = inbox(&a).await;
            let mut got = Vec::new();
            for n in 0..10u32 {
                let body = msg(i as u32 * 100 + n);
                got.push((append(&a, mb, &body).await.uid, body));
            }
            got
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("append task"));
    }
    let mut seen: Vec<Uid> = all.iter().map(|(u, _)| *u).collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=40).collect::<Vec<Uid>>());
    let a = account(&one).await;
    let mb = inbox(&a).await;
    a.sync(mb).await.expect("sync");
    assert_eq!(uids(&a, mb).await, (1..=40).collect::<Vec<Uid>>());
    for (uid, body) in all {
        assert_eq!(content(&a, mb, uid).await, body);
    }
}

/// Removing an account removes its mail; opening it again starts empty.
pub async fn remove_account(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    append(&a, mb, &msg(1)).await;
    assert_eq!(a.usage().await.expect("usage").messages, 1);
    drop(a);
    store.remove_account(&key()).await.expect("remove");
    let a = account(&store).await;
    assert_eq!(a.usage().await.expect("usage"), crate::Usage::default());
    let other = AccountKey::new("example.org", "bob").expect("key");
    let b = store.open_account(&other).await.expect("open bob");
    assert!(b.list_mailboxes().await.expect("list").len() == 1);
}

/// The hub wakes a watcher when another handle appends, stores flags or expunges.
pub async fn hub_wakes_on_changes(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let b = account(&store).await;
    let mb = inbox(&a).await;
    let mut w = store.hub().watch(&key(), mb);
    let mut idle = store.hub().watch(&key(), mb);
    append(&b, mb, &msg(1)).await;
    wait(&mut w, "append").await;
    b.store_flags(mb, &[1], FlagOp::Add, Flags::SEEN, &[])
        .await
        .expect("store");
    wait(&mut w, "flags").await;
    b.expunge(mb, Some(&[1]), true).await.expect("expunge");
    wait(&mut w, "expunge").await;
    // A watcher that was not polled meanwhile still sees that something changed.
    wait(&mut idle, "merged changes").await;
    // A watch dropped and made again works (the hub cleans up and starts over).
    drop((w, idle));
    let mut w = store.hub().watch(&key(), mb);
    append(&b, mb, &msg(2)).await;
    wait(&mut w, "append after re-watch").await;
}

/// The account events NOTIFY reads (`ChangeHub::watch_account`): each committed
/// mailbox-level change announced once, in order, with the names the store uses (a
/// CREATE's implicit parents before the mailbox, a rename once for the mailbox and its
/// inferiors), message changes as `Messages`, nothing for refused changes or for
/// subscriptions that change nothing.
pub async fn account_events(h: &dyn Harness) {
    use crate::hub::AccountEvent as E;
    let store = h.open().await;
    let a = account(&store).await;
    let mut w = store.hub().watch_account(&key());
    let take = |w: &mut Box<dyn crate::AccountWatch>| {
        let mut v = Vec::new();
        w.take(&mut v).expect("no overflow");
        v.retain(|e| !matches!(e, E::Messages(_)));
        v
    };
    a.create_mailbox("Lists/Lemonade", None)
        .await
        .expect("create");
    tokio::time::timeout(Duration::from_secs(10), w.changed())
        .await
        .expect("woken by the create");
    assert_eq!(
        take(&mut w),
        vec![
            E::Created("Lists".into()),
            E::Created("Lists/Lemonade".into())
        ]
    );
    assert!(a.create_mailbox("Lists", None).await.is_err());
    a.rename_mailbox("Lists", "Groups/Lists")
        .await
        .expect("rename");
    assert_eq!(
        take(&mut w),
        vec![
            E::Created("Groups".into()),
            E::Renamed {
                from: "Lists".into(),
                to: "Groups/Lists".into()
            }
        ]
    );
    a.set_subscribed("Groups", true).await.expect("subscribe");
    a.set_subscribed("Groups", true)
        .await
        .expect("again: no change");
    a.set_subscribed("Groups", false)
        .await
        .expect("unsubscribe");
    assert_eq!(
        take(&mut w),
        vec![
            E::Subscription {
                name: "Groups".into(),
                subscribed: true
            },
            E::Subscription {
                name: "Groups".into(),
                subscribed: false
            }
        ]
    );
    let mb = a.mailbox("Groups/Lists/Lemonade").await.expect("renamed");
    let set = a
        .set_metadata(
            Some(mb.id),
            vec![("/private/comment".into(), Some(b"x".to_vec()))],
            10,
        )
        .await;
    match set {
        Ok(true) => assert_eq!(
            take(&mut w),
            vec![E::Metadata {
                mailbox: Some(mb.id),
                entries: vec!["/private/comment".into()]
            }]
        ),
        // A backend without METADATA announces nothing for it.
        Ok(false) | Err(StoreError::Invalid(_)) => assert_eq!(take(&mut w), vec![]),
        Err(e) => panic!("set_metadata: {e}"),
    }
    a.delete_mailbox("Groups/Lists/Lemonade")
        .await
        .expect("delete");
    assert!(a.delete_mailbox("Groups/Lists/Lemonade").await.is_err());
    assert_eq!(
        take(&mut w),
        vec![E::Deleted("Groups/Lists/Lemonade".into())]
    );
    // Message changes of every mailbox come as `Messages`.
    let inbox = inbox(&a).await;
    append(&a, inbox, &msg(1)).await;
    let mut v = Vec::new();
    w.take(&mut v).expect("no overflow");
    assert!(v.contains(&E::Messages(inbox)), "{v:?}");
}

/// Mailbox create (parents implicit), rename (inferiors move; INBOX special), delete
/// (INBOX refused; inferiors stay), subscriptions, special-use.
pub async fn mailbox_operations(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let names = |v: Vec<crate::MailboxInfo>| v.into_iter().map(|m| m.name).collect::<Vec<_>>();
    assert_eq!(
        names(a.list_mailboxes().await.expect("list")),
        vec!["INBOX"]
    );
    let sent = a
        .create_mailbox("Sent", Some(crate::SpecialUse::Sent))
        .await
        .expect("create");
    assert_eq!(sent.special_use, Some(crate::SpecialUse::Sent));
    a.create_mailbox("a/b/c", None)
        .await
        .expect("create nested");
    assert!(matches!(
        a.create_mailbox("a/b", None).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(matches!(
        a.create_mailbox("inbox", None).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(
        names(a.list_mailboxes().await.expect("list")),
        vec!["INBOX", "Sent", "a", "a/b", "a/b/c"]
    );
    for special in [
        "cur",
        "new",
        "tmp",
        ".hidden",
        "100%",
        "Entwürfe",
        "a/cur/x",
    ] {
        let m = a
            .create_mailbox(special, None)
            .await
            .expect("create odd name");
        assert_eq!(a.mailbox(special).await.expect("find").id, m.id);
    }
    // Rename with inferiors; messages and UIDVALIDITY go along.
    let b = a.mailbox("a/b").await.expect("a/b");
    append(&a, b.id, &msg(1)).await;
    a.rename_mailbox("a", "x/y").await.expect("rename");
    assert!(matches!(
        a.mailbox("a/b").await,
        Err(StoreError::NotFound(_))
    ));
    let moved = a.mailbox("x/y/b").await.expect("renamed inferior");
    assert_eq!(moved.id, b.id);
    assert_eq!(moved.uid_validity, b.uid_validity);
    assert!(a.mailbox("x/y/b/c").await.is_ok());
    assert!(a.mailbox("x").await.is_ok(), "parent created by rename");
    assert_eq!(content(&a, moved.id, 1).await, msg(1));
    assert!(matches!(
        a.rename_mailbox("Sent", "x/y").await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(matches!(
        a.rename_mailbox("nope", "z").await,
        Err(StoreError::NotFound(_))
    ));
    // Renaming INBOX moves its messages and leaves INBOX empty.
    let inbox_id = inbox(&a).await;
    append(&a, inbox_id, &msg(2)).await;
    append(&a, inbox_id, &msg(3)).await;
    a.rename_mailbox("INBOX", "Old")
        .await
        .expect("rename INBOX");
    let old = a.mailbox("Old").await.expect("old");
    assert_eq!(uids(&a, old.id).await, vec![1, 2]);
    assert_eq!(content(&a, old.id, 2).await, msg(3));
    assert!(uids(&a, inbox_id).await.is_empty());
    assert_eq!(append(&a, inbox_id, &msg(4)).await.uid, 3);
    // Delete: INBOX refused, inferiors kept, recreate gets a new UIDVALIDITY.
    assert!(matches!(
        a.delete_mailbox("INBOX").await,
        Err(StoreError::Invalid(_))
    ));
    let y = a.mailbox("x/y").await.expect("x/y");
    a.delete_mailbox("x/y")
        .await
        .expect("delete with inferiors");
    assert!(matches!(
        a.mailbox("x/y").await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(content(&a, moved.id, 1).await, msg(1));
    let again = a.create_mailbox("x/y", None).await.expect("recreate");
    assert_ne!(again.uid_validity, y.uid_validity);
    a.delete_mailbox("Sent").await.expect("delete");
    let recreated = a.create_mailbox("Sent", None).await.expect("recreate");
    assert!(recreated.uid_validity > sent.uid_validity);
    assert!(uids(&a, recreated.id).await.is_empty());
    assert!(matches!(
        a.delete_mailbox("Sent/none").await,
        Err(StoreError::NotFound(_))
    ));
    // Subscriptions are names, existing or not.
    a.set_subscribed("Old", true).await.expect("subscribe");
    a.set_subscribed("ghost/name", true)
        .await
        .expect("subscribe");
    a.set_subscribed("Old", true)
        .await
        .expect("subscribe twice");
    assert_eq!(
        a.subscriptions().await.expect("subs"),
        vec!["Old", "ghost/name"]
    );
    a.set_subscribed("Old", false).await.expect("unsubscribe");
    assert_eq!(a.subscriptions().await.expect("subs"), vec!["ghost/name"]);
    // Everything survives a restart.
    drop(a);
    drop(store);
    let store = h.open().await;
    let a = account(&store).await;
    assert_eq!(
        uids(&a, a.mailbox("x/y/b").await.expect("b").id).await,
        vec![1]
    );
    assert!(a.mailbox("Entwürfe").await.is_ok());
}

/// Names with empty levels, `..`, NUL or control characters are refused.
pub async fn bad_names_refused(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    for bad in [
        "", "/", "a//b", "/a", "a/", "..", "a/../b", ".", "a\0b", "a\rb", "a/./b",
    ] {
        assert!(
            matches!(
                a.create_mailbox(bad, None).await,
                Err(StoreError::Invalid(_))
            ),
            "{bad:?} accepted"
        );
        assert!(a.mailbox(bad).await.is_err());
    }
    assert!(matches!(
        a.rename_mailbox("INBOX", "../x").await,
        Err(StoreError::Invalid(_))
    ));
    let long = "x".repeat(300);
    assert!(a.create_mailbox(&long, None).await.is_err());
}

/// Garbage is stored byte-exact and parsed without panicking: no header/body separator,
/// NUL bytes, a 1 MB header line, 1000 nested multiparts, invalid UTF-8.
pub async fn garbage_messages(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    let mut samples: Vec<Vec<u8>> = vec![
        b"Subject: no separator\r\nFrom: a@b".to_vec(),
        b"no header at all, just text\r\n".to_vec(),
        b"Subject: nul\0byte\r\n\r\nbody\0with nul\r\n".to_vec(),
        b"Subject: \xff\xfe invalid utf8\r\nFrom: \xc3\x28 <x@y>\r\n\r\n\xff\r\n".to_vec(),
        b"".to_vec(),
        b"\r\n".to_vec(),
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\nno parts at all\r\n".to_vec(),
        b"Content-Type: message/rfc822\r\n\r\n".to_vec(),
    ];
    let mut long = b"Subject: ".to_vec();
    long.extend(std::iter::repeat_n(b'x', 1024 * 1024));
    long.extend_from_slice(b"\r\n\r\nbody\r\n");
    samples.push(long);
    let mut deep = Vec::new();
    for i in 0..1000 {
        deep.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n")
                .as_bytes(),
        );
    }
    deep.extend_from_slice(b"Content-Type: text/plain\r\n\r\ninnermost\r\n");
    for i in (0..1000).rev() {
        deep.extend_from_slice(format!("--b{i}--\r\n").as_bytes());
    }
    samples.push(deep);
    let mut nested_msgs = Vec::new();
    for _ in 0..1000 {
        nested_msgs.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
    }
    nested_msgs.extend_from_slice(b"Subject: bottom\r\n\r\nx\r\n");
    samples.push(nested_msgs);
    for sample in &samples {
        let out = append(&a, mb, sample).await;
        assert_eq!(content(&a, mb, out.uid).await, *sample);
        let s = a.structure(mb, out.uid).await.expect("structure");
        assert!(s.body.end_offset <= sample.len() as u64);
        assert!(s.body.body_offset <= s.body.end_offset);
    }
    let s = a.structure(mb, 1).await.expect("structure");
    assert_eq!(s.body.body_size(), 0, "no separator: all header");
}

/// BODYSTRUCTURE of a multipart with a nested message: offsets, sizes and line counts.
pub async fn bodystructure_multipart(h: &dyn Harness) {
    let store = h.open().await;
    let a = account(&store).await;
    let mb = inbox(&a).await;
    let m: &[u8] = b"From: a@example.org\r\n\
Subject: parts\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"XX\"\r\n\
\r\n\
preamble\r\n\
--XX\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hello\r\n\
World\r\n\
--XX\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: inner\r\n\
From: \"Doe, J\" <j@x.org>\r\n\
\r\n\
inner body\r\n\
--XX\r\n\
Content-Type: application/octet-stream; name=\"a.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"a.bin\"\r\n\
\r\n\
AAEC\r\n\
--XX--\r\n\
epilogue\r\n";
    let out = append(&a, mb, m).await;
    let s = a.structure(mb, out.uid).await.expect("structure");
    let at = |needle: &str| -> u64 {
        m.windows(needle.len())
            .position(|w| w == needle.as_bytes())
            .expect("needle present") as u64
    };
    let b = &s.body;
    assert_eq!(
        (b.media_type.as_str(), b.media_subtype.as_str()),
        ("multipart", "mixed")
    );
    assert_eq!(b.body_offset, at("preamble"));
    assert_eq!(b.end_offset, m.len() as u64);
    assert_eq!(b.parts.len(), 3);
    let text = &b.parts[0];
    assert_eq!(text.header_offset, at("Content-Type: text/plain"));
    assert_eq!(text.body_offset, at("Hello"));
    assert_eq!(text.body_size(), 12); // "Hello\r\nWorld", the CRLF before --XX excluded
    assert_eq!(text.lines, 2);
    assert_eq!(
        text.params,
        vec![("charset".to_string(), "utf-8".to_string())]
    );
    let rfc822 = &b.parts[1];
    assert_eq!(
        (rfc822.media_type.as_str(), rfc822.media_subtype.as_str()),
        ("message", "rfc822")
    );
    assert_eq!(rfc822.body_offset, at("Subject: inner"));
    assert_eq!(rfc822.end_offset, at("inner body") + 10);
    assert_eq!(rfc822.lines, 4);
    let env = rfc822.message_envelope.as_deref().expect("inner envelope");
    assert_eq!(env.subject.as_deref(), Some("inner"));
    assert_eq!(env.from[0].name.as_deref(), Some("Doe, J"));
    assert_eq!(rfc822.parts.len(), 1);
    assert_eq!(rfc822.parts[0].body_offset, at("inner body"));
    assert_eq!(rfc822.parts[0].body_size(), 10);
    let bin = &b.parts[2];
    assert_eq!(bin.encoding, "base64");
    assert_eq!(bin.body_size(), 4);
    assert_eq!(bin.params, vec![("name".to_string(), "a.bin".to_string())]);
    let (dtype, dparams) = bin.disposition.clone().expect("disposition");
    assert_eq!(dtype.to_ascii_lowercase(), "attachment");
    assert_eq!(dparams, vec![("filename".to_string(), "a.bin".to_string())]);
    // Slicing the content by the offsets gives the part bodies.
    let c = content(&a, mb, out.uid).await;
    assert_eq!(
        &c[text.body_offset as usize..text.end_offset as usize],
        b"Hello\r\nWorld"
    );
    assert_eq!(
        &c[bin.body_offset as usize..bin.end_offset as usize],
        b"AAEC"
    );
}

/// ACLs (RFC 4314): set, get, replace, remove by empty rights and by `delete_acl`,
/// identifiers canonicalised and checked, entries follow RENAME (also of a parent), go
/// with DELETE (a new mailbox of the same name starts empty) and survive a restart.
pub async fn acl_storage(h: &dyn Harness) {
    use crate::acl::{AclEntry, Rights};
    let r = |s: &str| Rights::parse(s).expect("rights");
    let entry = |id: &str, rights: &str| AclEntry {
        identifier: id.to_string(),
        rights: r(rights),
    };
    let store = h.open().await;
    let a = account(&store).await;
    let inbox = inbox(&a).await;
    assert!(a.acl(inbox).await.expect("acl").is_empty());
    a.set_acl(inbox, "Fred@Example.COM", r("lrs"))
        .await
        .expect("set");
    a.set_acl(inbox, "anyone", r("l")).await.expect("set");
    a.set_acl(inbox, "-anyone", r("s")).await.expect("set");
    assert_eq!(
        a.acl(inbox).await.expect("acl"),
        vec![
            entry("-anyone", "s"),
            entry("anyone", "l"),
            entry("fred@example.com", "lrs"),
        ]
    );
    // Replace, then remove by empty rights and by delete_acl (absent: no error).
    a.set_acl(inbox, "fred@example.com", r("lrswida"))
        .await
        .expect("replace");
    assert!(a
        .acl(inbox)
        .await
        .expect("acl")
        .contains(&entry("fred@example.com", "lrswitea")));
    a.set_acl(inbox, "-anyone", Rights::NONE)
        .await
        .expect("remove");
    a.delete_acl(inbox, "anyone").await.expect("delete");
    a.delete_acl(inbox, "nobody@example.com")
        .await
        .expect("delete absent");
    assert_eq!(
        a.acl(inbox).await.expect("acl"),
        vec![entry("fred@example.com", "lrswitea")]
    );
    // Bad identifiers and missing mailboxes.
    for bad in ["", "fred", "a b@c", "--anyone"] {
        assert!(
            matches!(
                a.set_acl(inbox, bad, r("l")).await,
                Err(StoreError::Invalid(_))
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        a.acl(MailboxId(987_654)).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        a.set_acl(MailboxId(987_654), "anyone", r("l")).await,
        Err(StoreError::NotFound(_))
    ));
    // Rename keeps the ACL, also for inferiors renamed with their parent.
    let shared = a.create_mailbox("Shared", None).await.expect("create").id;
    let child = a
        .create_mailbox("Shared/Child", None)
        .await
        .expect("create")
        .id;
    a.set_acl(shared, "boss@example.com", r("lr"))
        .await
        .expect("set");
    a.set_acl(child, "anyone", r("lrs")).await.expect("set");
    a.rename_mailbox("Shared", "Team").await.expect("rename");
    let team = a.mailbox("Team").await.expect("renamed");
    assert_eq!(team.id, shared);
    assert_eq!(
        a.acl(team.id).await.expect("acl"),
        vec![entry("boss@example.com", "lr")]
    );
    let team_child = a.mailbox("Team/Child").await.expect("renamed child");
    assert_eq!(
        a.acl(team_child.id).await.expect("acl"),
        vec![entry("anyone", "lrs")]
    );
    let all = a.all_acls().await.expect("all");
    assert_eq!(all.len(), 3);
    assert!(all.contains(&(team.id, entry("boss@example.com", "lr"))));
    // Delete drops it; a new mailbox of the same name has none.
    a.delete_mailbox("Team/Child").await.expect("delete");
    let again = a.create_mailbox("Team/Child", None).await.expect("create");
    assert!(a.acl(again.id).await.expect("acl").is_empty());
    assert_eq!(a.all_acls().await.expect("all").len(), 2);
    drop((a, store));
    // Survives a restart.
    let store = h.open().await;
    let a = account(&store).await;
    let inbox = self::inbox(&a).await;
    assert_eq!(
        a.acl(inbox).await.expect("acl"),
        vec![entry("fred@example.com", "lrswitea")]
    );
    let team = a.mailbox("Team").await.expect("team");
    assert_eq!(
        a.acl(team.id).await.expect("acl"),
        vec![entry("boss@example.com", "lr")]
    );
}

/// Generates one `#[tokio::test]` per conformance check, each on a fresh harness made by
/// evaluating `$harness` (an expression of a type implementing [`testsuite::Harness`]).
/// The calling crate needs `tokio` with the `macros` and `rt-multi-thread` features.
///
/// ```ignore
/// mailroom_store::conformance_suite!(MyHarness::new().expect("fresh storage"));
/// ```
///
/// [`testsuite::Harness`]: crate::testsuite::Harness
#[macro_export]
macro_rules! conformance_suite {
    ($harness:expr) => {
        $crate::conformance_suite!(@checks $harness;
            append_and_fetch,
            append_from_file,
            lf_served_as_crlf,
            flags_and_keywords,
            copy_and_move,
            move_within_one_mailbox,
            expunge_variants,
            changes_since,
            uids_monotonic_across_restart,
            recent_to_one_claimer,
            shared_account_state,
            concurrent_appends,
            remove_account,
            hub_wakes_on_changes,
            account_events,
            mailbox_operations,
            bad_names_refused,
            garbage_messages,
            bodystructure_multipart,
            acl_storage,
            store_unchanged_since,
            preview_cache,
            sort_key_cache,
            metadata_storage,
            import_keeps_uids,
            save_dates,
            object_ids,
        );
    };
    (@checks $harness:expr; $($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $check() {
            let harness = $harness;
            $crate::testsuite::$check(&harness).await;
        }
    )*};
}
