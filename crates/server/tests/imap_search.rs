//! SEARCH evaluation over a real store (the default backend): exact result sets for every key of
//! RFC 3501 6.4.4, sequence sets and UID ranges, charsets, and a large mailbox searched
//! without reading content (counted by a wrapper around the account).
#![allow(clippy::unwrap_used)]

mod fixtures;

use async_trait::async_trait;
use fixtures::*;
use mailroom_proto::imap::command::SearchKey;
use mailroom_server::imap::fetch::MsgRef;
use mailroom_server::imap::search::{search, SearchError};
use mailroom_store::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// An account that counts `structure` and `open_message` calls.
struct Counting {
    inner: Arc<dyn Account>,
    structures: AtomicUsize,
    opens: AtomicUsize,
}

#[async_trait]
impl Account for Counting {
    fn key(&self) -> &AccountKey {
        self.inner.key()
    }
    async fn list_mailboxes(&self) -> Result<Vec<MailboxInfo>, StoreError> {
        self.inner.list_mailboxes().await
    }
    async fn mailbox(&self, name: &str) -> Result<MailboxInfo, StoreError> {
        self.inner.mailbox(name).await
    }
    async fn create_mailbox(
        &self,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> Result<MailboxInfo, StoreError> {
        self.inner.create_mailbox(name, special_use).await
    }
    async fn delete_mailbox(&self, name: &str) -> Result<(), StoreError> {
        self.inner.delete_mailbox(name).await
    }
    async fn rename_mailbox(&self, from: &str, to: &str) -> Result<(), StoreError> {
        self.inner.rename_mailbox(from, to).await
    }
    async fn set_subscribed(&self, name: &str, subscribed: bool) -> Result<(), StoreError> {
        self.inner.set_subscribed(name, subscribed).await
    }
    async fn subscriptions(&self) -> Result<Vec<String>, StoreError> {
        self.inner.subscriptions().await
    }
    async fn status(&self, mailbox: MailboxId) -> Result<MailboxStatus, StoreError> {
        self.inner.status(mailbox).await
    }
    async fn usage(&self) -> Result<Usage, StoreError> {
        self.inner.usage().await
    }
    async fn sync(&self, mailbox: MailboxId) -> Result<(), StoreError> {
        self.inner.sync(mailbox).await
    }
    async fn messages(&self, mailbox: MailboxId) -> Result<MailboxSnapshot, StoreError> {
        self.inner.messages(mailbox).await
    }
    async fn changes_since(
        &self,
        mailbox: MailboxId,
        since: ModSeq,
    ) -> Result<Changes, StoreError> {
        self.inner.changes_since(mailbox, since).await
    }
    async fn append(
        &self,
        mailbox: MailboxId,
        r: AppendRequest,
    ) -> Result<AppendOutcome, StoreError> {
        self.inner.append(mailbox, r).await
    }
    async fn store_flags(
        &self,
        mailbox: MailboxId,
        uids: &[Uid],
        op: FlagOp,
        flags: Flags,
        keywords: &[String],
    ) -> Result<Vec<MessageMeta>, StoreError> {
        self.inner
            .store_flags(mailbox, uids, op, flags, keywords)
            .await
    }
    async fn expunge(
        &self,
        mailbox: MailboxId,
        uids: Option<&[Uid]>,
        force: bool,
    ) -> Result<Vec<Uid>, StoreError> {
        self.inner.expunge(mailbox, uids, force).await
    }
    async fn copy(
        &self,
        from: MailboxId,
        uids: &[Uid],
        to: MailboxId,
    ) -> Result<CopyOutcome, StoreError> {
        self.inner.copy(from, uids, to).await
    }
    async fn move_messages(
        &self,
        from: MailboxId,
        uids: &[Uid],
        to: MailboxId,
    ) -> Result<CopyOutcome, StoreError> {
        self.inner.move_messages(from, uids, to).await
    }
    async fn open_message(
        &self,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Result<Arc<dyn MessageContent>, StoreError> {
        self.opens.fetch_add(1, Ordering::SeqCst);
        self.inner.open_message(mailbox, uid).await
    }
    async fn structure(
        &self,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Result<Arc<MessageStructure>, StoreError> {
        self.structures.fetch_add(1, Ordering::SeqCst);
        self.inner.structure(mailbox, uid).await
    }
    async fn claim_recent(&self, mailbox: MailboxId) -> Result<Uid, StoreError> {
        self.inner.claim_recent(mailbox).await
    }
}

struct S {
    f: Fixture,
    acc: Arc<Counting>,
    dyn_acc: Arc<dyn Account>,
}

impl S {
    async fn new() -> S {
        let f = standard().await;
        let acc = Arc::new(Counting {
            inner: Arc::clone(&f.account),
            structures: AtomicUsize::new(0),
            opens: AtomicUsize::new(0),
        });
        let dyn_acc: Arc<dyn Account> = acc.clone();
        S { f, acc, dyn_acc }
    }

    fn refs(&self) -> Vec<MsgRef<'_>> {
        self.f
            .metas
            .iter()
            .enumerate()
            .map(|(i, meta)| MsgRef {
                seq: i as u32 + 1,
                meta: meta.to_ref(),
                recent: i >= 4,
            })
            .collect()
    }

    async fn key(&self, key: &SearchKey, charset: Option<&str>) -> Result<Vec<usize>, SearchError> {
        search(&self.dyn_acc, self.f.mailbox, &self.refs(), key, charset).await
    }

    /// `SEARCH text` as parsed by our parser; the 1-based sequence numbers that match.
    async fn run(&self, text: &str) -> Vec<usize> {
        let (key, charset) = criteria(text);
        self.key(&key, charset.as_deref())
            .await
            .unwrap()
            .into_iter()
            .map(|i| i + 1)
            .collect()
    }

    fn counts(&self) -> (usize, usize) {
        (
            self.acc.structures.load(Ordering::SeqCst),
            self.acc.opens.load(Ordering::SeqCst),
        )
    }
}

#[tokio::test]
async fn flag_size_date_keys_need_only_metadata() {
    let s = S::new().await;
    let cases: &[(&str, &[usize])] = &[
        ("ALL", &[1, 2, 3, 4, 5, 6]),
        ("SEEN", &[1, 4]),
        ("UNSEEN", &[2, 3, 5, 6]),
        ("FLAGGED", &[2]),
        ("UNFLAGGED", &[1, 3, 4, 5, 6]),
        ("ANSWERED", &[4]),
        ("UNANSWERED", &[1, 2, 3, 5, 6]),
        ("DELETED", &[6]),
        ("UNDELETED", &[1, 2, 3, 4, 5]),
        ("DRAFT", &[5]),
        ("UNDRAFT", &[1, 2, 3, 4, 6]),
        ("RECENT", &[5, 6]),
        ("OLD", &[1, 2, 3, 4]),
        ("NEW", &[5, 6]),
        ("KEYWORD $label1", &[2, 6]),
        ("UNKEYWORD $Label1", &[1, 3, 4, 5]),
        ("KEYWORD Junk", &[6]),
        ("KEYWORD Nope", &[]),
        ("LARGER 409", &[2, 4]),
        ("SMALLER 42", &[5]),
        ("LARGER 29", &[1, 2, 3, 4, 5, 6]),
        ("BEFORE 16-Jan-2024", &[1, 5]),
        ("ON 17-Jan-2024", &[3]),
        ("SINCE 18-Jan-2024", &[4, 6]),
        ("ON 17-Jul-1996", &[5]),
        ("OR BEFORE 16-Jan-2024 ON 17-Jan-2024", &[1, 3, 5]),
        ("2:4,6", &[2, 3, 4, 6]),
        ("*", &[6]),
        ("5:*", &[5, 6]),
        ("10:*", &[6]),
        ("7:9", &[]),
        ("1,1,1:2", &[1, 2]),
        ("NOT SEEN", &[2, 3, 5, 6]),
        ("NOT NOT SEEN", &[1, 4]),
        ("OR SEEN FLAGGED", &[1, 2, 4]),
        ("OR OR FLAGGED ANSWERED DRAFT", &[2, 4, 5]),
        ("(OR SMALLER 300 FLAGGED) NOT SEEN", &[2, 3, 5, 6]),
        ("SEEN UNSEEN", &[]),
        ("(SEEN (LARGER 500)) 1:*", &[4]),
    ];
    for (text, want) in cases {
        assert_eq!(&s.run(text).await, want, "SEARCH {text}");
    }
    let m = &s.f.metas;
    let u = |i: usize| m[i].uid;
    let uid_cases = [
        (format!("UID {}:{}", u(1), u(3)), vec![2, 3, 4]),
        (format!("UID {}:*", u(4)), vec![5, 6]),
        (format!("UID {}:*", u(5) + 1000), vec![6]),
        (format!("UID {}:{}", u(5) + 1000, u(5) + 2000), vec![]),
        (format!("UID {},{} NOT SEEN", u(0), u(2)), vec![3]),
        ("UID *".to_string(), vec![6]),
    ];
    for (text, want) in &uid_cases {
        assert_eq!(&s.run(text).await, want, "SEARCH {text}");
    }
    let modseq = m[3].modseq;
    let want: Vec<usize> = (1..=6).filter(|&i| m[i - 1].modseq >= modseq).collect();
    assert!(want.contains(&4));
    assert_eq!(s.run(&format!("MODSEQ {modseq}")).await, want);
    assert_eq!(s.counts(), (0, 0), "metadata keys must not read messages");
}

#[tokio::test]
async fn header_keys_use_the_structure_only() {
    let s = S::new().await;
    let cases: &[(&str, &[usize])] = &[
        ("SUBJECT \"ck\"", &[1, 2, 3, 4]),
        ("SUBJECT \"CK PLAIN\"", &[1]),
        ("SUBJECT \"R3LDvMOfZQ\"", &[3]),
        ("SUBJECT \"no-such-subject-xyzzy\"", &[]),
        ("FROM \"example.org\"", &[1]),
        ("FROM \"carol\"", &[4]),
        ("FROM \"J=C3=BCrgen\"", &[3]),
        ("FROM \"rgen M\"", &[3]),
        ("TO \"user@example.net\"", &[1, 2, 3]),
        ("CC \"dan\"", &[4]),
        ("BCC \"x\"", &[]),
        ("HEADER Message-ID \"<mime.t@clientkit.example>\"", &[2]),
        ("HEADER message-id \"CLIENTKIT\"", &[1, 2]),
        ("HEADER X-None \"\"", &[]),
        ("HEADER Subject \"\"", &[1, 2, 3, 4, 5, 6]),
        ("HEADER Reply-To \"b@y.org\"", &[4]),
        ("OR FROM \"carol\" FROM \"bob\"", &[2, 4]),
        ("NOT SUBJECT \"ck\"", &[5, 6]),
        ("SENTBEFORE 16-Jan-2024", &[1, 5]),
        ("SENTON 17-Jan-2024", &[3]),
        ("SENTSINCE 18-Jan-2024", &[4, 6]),
        (
            "OR SENTSINCE 18-Jan-2024 SENTBEFORE 16-Jan-2024",
            &[1, 4, 5, 6],
        ),
    ];
    for (text, want) in cases {
        assert_eq!(&s.run(text).await, want, "SEARCH {text}");
    }
    assert_eq!(s.counts().1, 0, "header keys must not open messages");
    // Only the messages that pass the cheap keys are looked at.
    let before = s.counts().0;
    assert_eq!(s.run("FLAGGED SUBJECT \"ck\"").await, vec![2]);
    assert_eq!(s.counts().0 - before, 1);
}

#[tokio::test]
async fn body_and_text_keys() {
    let s = S::new().await;
    let cases: &[(&str, &[usize])] = &[
        ("BODY \"attachment named\"", &[2]),
        ("BODY \"qp=\"", &[4]),
        ("BODY \"qp=3D\"", &[]),
        ("BODY \"inner body\"", &[4]),
        ("BODY \"inner subject\"", &[4]),
        ("BODY \"ck plain\"", &[]),
        ("BODY \"AAECAwQF\"", &[2]),
        ("BODY \"LINE2\"", &[6]),
        ("TEXT \"byte-stuff\"", &[1]),
        ("TEXT \"ck plain\"", &[1]),
        ("TEXT \"lonely\"", &[5]),
        ("TEXT \"inner@example.org\"", &[4]),
        ("UNSEEN BODY \"e\"", &[2, 3, 6]),
    ];
    for (text, want) in cases {
        assert_eq!(&s.run(text).await, want, "SEARCH {text}");
    }
    // UTF-8 needles (8-bit strings come as literals; built directly here).
    let utf8 = |k: fn(Vec<u8>) -> SearchKey, s: &str| k(s.as_bytes().to_vec());
    for (key, want) in [
        (utf8(SearchKey::Body, "KÖLN"), vec![2]),
        (utf8(SearchKey::Body, "café"), vec![3]),
        (utf8(SearchKey::Subject, "grüße"), vec![2]),
        (utf8(SearchKey::From, "Jürgen Müller"), vec![2]),
        (utf8(SearchKey::Text, "zweite zeile"), vec![2]),
    ] {
        assert_eq!(s.key(&key, Some("UTF-8")).await.unwrap(), want, "{key:?}");
    }
    // Only unseen messages were opened for `UNSEEN BODY`.
    let opens = s.counts().1;
    s.run("UNSEEN BODY \"e\"").await;
    assert_eq!(s.counts().1 - opens, 4);
}

#[tokio::test]
async fn charsets() {
    let s = S::new().await;
    let key = SearchKey::Subject(b"ck".to_vec());
    for cs in [None, Some("US-ASCII"), Some("utf-8"), Some("UTF-8")] {
        assert_eq!(s.key(&key, cs).await.unwrap(), vec![0, 1, 2, 3], "{cs:?}");
    }
    for cs in ["ISO-8859-1", "KOI8-R", ""] {
        assert!(matches!(
            s.key(&key, Some(cs)).await,
            Err(SearchError::BadCharset)
        ));
    }
    assert_eq!(s.run("CHARSET UTF-8 SUBJECT \"utf8\"").await, vec![3]);
}

#[tokio::test]
async fn deep_or_chain_and_empty_view() {
    let s = S::new().await;
    let mut key = SearchKey::Draft;
    for _ in 0..200 {
        key = SearchKey::Or(Box::new(SearchKey::Deleted), Box::new(key));
    }
    assert_eq!(s.key(&key, None).await.unwrap(), vec![4, 5]);
    let mut not = SearchKey::Seen;
    for _ in 0..201 {
        not = SearchKey::Not(Box::new(not));
    }
    assert_eq!(s.key(&not, None).await.unwrap(), vec![1, 2, 4, 5]);
    // The deepest chain the parser accepts (it limits nesting to 32).
    let text = format!("{}DRAFT", "OR DELETED ".repeat(31));
    assert_eq!(s.run(&text).await, vec![5, 6]);
    let (star, _) = criteria("1:*");
    assert!(search(&s.dyn_acc, s.f.mailbox, &[], &star, None)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn ten_thousand_messages_flag_search_reads_nothing() {
    let s = S::new().await;
    let metas: Vec<MessageMeta> = (1..=10_000u32)
        .map(|uid| MessageMeta {
            uid: uid * 2,
            flags: if uid.is_multiple_of(3) {
                Flags::SEEN
            } else {
                Flags::EMPTY
            },
            keywords: Vec::new(),
            modseq: u64::from(uid),
            internal_date: 1_700_000_000 + i64::from(uid) * 600,
            internal_date_tz: 60,
            size: u64::from(uid),
        })
        .collect();
    let refs: Vec<MsgRef<'_>> = metas
        .iter()
        .enumerate()
        .map(|(i, meta)| MsgRef {
            seq: i as u32 + 1,
            meta: meta.to_ref(),
            recent: false,
        })
        .collect();
    let t = std::time::Instant::now();
    let (key, _) = criteria("OR SEEN (LARGER 9990 SINCE 1-Jan-2020) NOT UID 1:100 1:*");
    let hits = search(&s.dyn_acc, s.f.mailbox, &refs, &key, None)
        .await
        .unwrap();
    let want: Vec<usize> = (0..10_000usize)
        .filter(|&i| {
            let uid = i as u32 + 1;
            (uid.is_multiple_of(3) || uid > 9990) && uid * 2 > 100
        })
        .collect();
    assert_eq!(hits, want);
    assert!(t.elapsed().as_secs() < 5, "took {:?}", t.elapsed());
    assert_eq!(s.counts(), (0, 0));
    // Header keys on messages the store does not have: no match, no error.
    let (key, _) = criteria("SUBJECT \"x\"");
    assert!(search(&s.dyn_acc, s.f.mailbox, &refs[..10], &key, None)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn internal_date_is_compared_in_its_own_zone() {
    // 1-Mar-2024 23:30 -0500 is 2-Mar-2024 04:30 UTC.
    let f = store_with(vec![(plain(), Flags::EMPTY, vec![], (1_709_353_800, -300))]).await;
    let refs = [MsgRef {
        seq: 1,
        meta: f.metas[0].to_ref(),
        recent: false,
    }];
    for (text, want) in [
        ("ON 1-Mar-2024", vec![0usize]),
        ("ON 2-Mar-2024", vec![]),
        ("SINCE 2-Mar-2024", vec![]),
        ("BEFORE 2-Mar-2024", vec![0]),
    ] {
        let (key, _) = criteria(text);
        assert_eq!(
            search(&f.account, f.mailbox, &refs, &key, None)
                .await
                .unwrap(),
            want,
            "{text}"
        );
    }
}
