//! [`PgAccount`]: one account's mailboxes and messages, every operation one statement or
//! one transaction.
//!
//! Writes to a mailbox's messages lock the mailbox row first (see the crate's
//! invariants); a deadlock or serialization failure that PostgreSQL reports anyway (two
//! transactions taking blob rows in different orders) makes the operation run again, up
//! to [`TRIES`] times, before the caller sees `Busy`.

use crate::blob::{NewBlob, PgContent};
use crate::listen::{event_payload, payload};
use crate::names::{self, normalize, normalize_keywords};
use crate::{pg_err, unique_as, wake, Shared};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use mailroom_store::acl::{canonical_identifier, AclEntry, Rights};
use mailroom_store::hub::AccountEvent;
use mailroom_store::{
    Account, AccountKey, AppendOutcome, AppendRequest, ChangeHub, Changes, CopyOutcome, FlagOp,
    Flags, MailboxId, MailboxInfo, MailboxSnapshot, MailboxStatus, MessageContent, MessageData,
    MessageList, MessageMeta, MessageObject, MessageStructure, ModSeq, SpecialUse, StoreError, Uid,
    Usage,
};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio_postgres::Row;

/// How often a write runs before a deadlock or serialization failure reaches the caller.
const TRIES: usize = 3;

/// The store of one account.
pub struct PgAccount {
    key: AccountKey,
    id: i64,
    shared: Arc<Shared>,
}

/// One mailbox row.
#[derive(Clone, Debug)]
struct MailboxRow {
    id: i64,
    name: String,
    uidvalidity: u32,
    uidnext: Uid,
    highest_modseq: ModSeq,
    special_use: Option<String>,
    recent_from_uid: Uid,
}

const MB_COLS: &str =
    "id, name, uidvalidity, uidnext, highest_modseq, special_use, recent_from_uid";

impl MailboxRow {
    fn from_row(r: &Row) -> Result<MailboxRow, StoreError> {
        Ok(MailboxRow {
            id: r.try_get(0).map_err(pg_err)?,
            name: r.try_get(1).map_err(pg_err)?,
            uidvalidity: u32_of(r.try_get(2).map_err(pg_err)?, "UIDVALIDITY")?,
            uidnext: u32_of(r.try_get(3).map_err(pg_err)?, "UIDNEXT")?,
            highest_modseq: u64_of(r.try_get(4).map_err(pg_err)?),
            special_use: r.try_get(5).map_err(pg_err)?,
            recent_from_uid: u32_of(r.try_get(6).map_err(pg_err)?, "recent UID")?,
        })
    }

    fn info(&self) -> MailboxInfo {
        MailboxInfo {
            id: MailboxId(self.id),
            name: self.name.clone(),
            uid_validity: self.uidvalidity,
            special_use: self.special_use.as_deref().and_then(SpecialUse::from_imap),
        }
    }
}

fn u32_of(v: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v} out of range")))
}

fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Message metadata columns, in the order [`meta_of`] reads them from `at`.
const META_COLS: &str = "uid, flags, keywords, modseq, internal_date, internal_tz, size";

fn meta_of(r: &Row, at: usize) -> Result<MessageMeta, StoreError> {
    let flags: i16 = r.try_get(at + 1).map_err(pg_err)?;
    Ok(MessageMeta {
        uid: u32_of(r.try_get(at).map_err(pg_err)?, "UID")?,
        flags: Flags(u8::try_from(flags & 31).unwrap_or(0)),
        keywords: r.try_get(at + 2).map_err(pg_err)?,
        modseq: u64_of(r.try_get(at + 3).map_err(pg_err)?),
        internal_date: r.try_get(at + 4).map_err(pg_err)?,
        internal_date_tz: r.try_get(at + 5).map_err(pg_err)?,
        size: u64_of(r.try_get(at + 6).map_err(pg_err)?),
    })
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// UIDs sorted ascending without duplicates, as `bigint[]` values.
fn uid_array(uids: &[Uid]) -> Vec<i64> {
    let mut v: Vec<i64> = uids.iter().map(|&u| i64::from(u)).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Runs a write up to [`TRIES`] times while it fails with `Busy` (a deadlock or
/// serialization failure PostgreSQL resolved by aborting it).
macro_rules! retried {
    ($op:expr) => {{
        let mut tries = 0;
        loop {
            match $op {
                Err(StoreError::Busy) if tries + 1 < TRIES => tries += 1,
                other => break other,
            }
        }
    }};
}

/// A message made ready to store, off the async threads: its CRLF octets, their hash,
/// its parsed structure.
struct Prepared {
    data: Vec<u8>,
    hash: Vec<u8>,
    structure: Vec<u8>,
}

fn prepare(prefix: Vec<u8>, data: MessageData) -> Result<Prepared, StoreError> {
    let len =
        usize::try_from(data.len()).map_err(|_| StoreError::Invalid("message too large".into()))?;
    let mut raw = prefix;
    raw.reserve(len);
    match &data {
        MessageData::Bytes(b) => raw.extend_from_slice(b),
        MessageData::File(..) => {
            let mut buf = vec![0u8; mailroom_store::CONTENT_CHUNK];
            let mut off = 0u64;
            while off < data.len() {
                let n = data.read_at(&mut buf, off)?;
                if n == 0 {
                    return Err(StoreError::Io(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "message spool file shorter than announced",
                    )));
                }
                raw.extend_from_slice(&buf[..n]);
                off += n as u64;
            }
        }
    }
    let data = if mailroom_store::mime::count_bare_lf(&raw, false) > 0 {
        mailroom_store::mime::to_crlf(&raw).into_owned()
    } else {
        raw
    };
    let structure = MessageStructure::parse(&data).to_bytes();
    let hash = Sha256::digest(&data).to_vec();
    Ok(Prepared {
        data,
        hash,
        structure,
    })
}

/// Sends the change notification of a mailbox inside the transaction (delivered to every
/// node's listener if it commits).
async fn notify_in(
    tx: &deadpool_postgres::Transaction<'_>,
    shared: &Shared,
    key: &AccountKey,
    mailbox: i64,
) -> Result<(), StoreError> {
    let st = tx
        .prepare_cached("SELECT pg_notify($1, $2)")
        .await
        .map_err(pg_err)?;
    tx.execute(&st, &[&shared.channel, &payload(key, MailboxId(mailbox))])
        .await
        .map_err(pg_err)?;
    Ok(())
}

/// Sends account events (IMAP NOTIFY) to the other nodes, inside the transaction when
/// given one (delivered only if it commits). Events that do not fit a payload reach this
/// node's watchers only.
async fn notify_events<C: GenericClient>(
    c: &C,
    shared: &Shared,
    key: &AccountKey,
    events: &[AccountEvent],
) -> Result<(), StoreError> {
    let Some(p) = event_payload(&shared.node, key, events) else {
        return Ok(());
    };
    let st = c
        .prepare_cached("SELECT pg_notify($1, $2)")
        .await
        .map_err(pg_err)?;
    c.execute(&st, &[&shared.channel, &p])
        .await
        .map_err(pg_err)?;
    Ok(())
}

impl PgAccount {
    /// Opens (creating on first use, with an INBOX) the store of `key`.
    pub(crate) async fn open(
        shared: Arc<Shared>,
        key: &AccountKey,
    ) -> Result<Arc<PgAccount>, StoreError> {
        let mut c = shared.conn().await?;
        let id: i64 = loop {
            let st = c
                .prepare_cached(
                    "WITH made AS (INSERT INTO accounts (key) VALUES ($1)
                                   ON CONFLICT (key) DO NOTHING RETURNING id)
                     SELECT id FROM made UNION ALL SELECT id FROM accounts WHERE key = $1",
                )
                .await
                .map_err(pg_err)?;
            // No row: another node made it after this statement's snapshot; look again.
            if let Some(r) = c.query_opt(&st, &[&key.as_str()]).await.map_err(pg_err)? {
                break r.try_get(0).map_err(pg_err)?;
            }
        };
        let st = c
            .prepare_cached("SELECT 1 FROM mailboxes WHERE account = $1 AND name = 'INBOX'")
            .await
            .map_err(pg_err)?;
        if c.query_opt(&st, &[&id]).await.map_err(pg_err)?.is_none() {
            let tx = c.transaction().await.map_err(pg_err)?;
            lock_account(&tx, id).await?;
            if find_mailbox(&tx, id, "INBOX").await?.is_none() {
                create_one(&tx, id, "INBOX", None).await?;
            }
            tx.commit().await.map_err(pg_err)?;
        }
        Ok(Arc::new(PgAccount {
            key: key.clone(),
            id,
            shared,
        }))
    }

    /// The mailbox row, locked for the transaction. `NotFound` if it is not this
    /// account's.
    async fn lock_mailbox(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        mailbox: MailboxId,
    ) -> Result<MailboxRow, StoreError> {
        let st = tx
            .prepare_cached(&format!(
                "SELECT {MB_COLS} FROM mailboxes WHERE id = $1 AND account = $2 FOR UPDATE"
            ))
            .await
            .map_err(pg_err)?;
        let row = tx
            .query_opt(&st, &[&mailbox.0, &self.id])
            .await
            .map_err(pg_err)?
            .ok_or(StoreError::NotFound("mailbox"))?;
        MailboxRow::from_row(&row)
    }

    /// The mailbox row, unlocked.
    async fn get_mailbox<C: GenericClient>(
        &self,
        c: &C,
        mailbox: MailboxId,
    ) -> Result<MailboxRow, StoreError> {
        let st = c
            .prepare_cached(&format!(
                "SELECT {MB_COLS} FROM mailboxes WHERE id = $1 AND account = $2"
            ))
            .await
            .map_err(pg_err)?;
        let row = c
            .query_opt(&st, &[&mailbox.0, &self.id])
            .await
            .map_err(pg_err)?
            .ok_or(StoreError::NotFound("mailbox"))?;
        MailboxRow::from_row(&row)
    }

    fn wake(&self, mailbox: i64) {
        wake(&self.shared, &self.key, MailboxId(mailbox));
    }

    /// Tells this node's account watchers (IMAP NOTIFY) of a committed change.
    fn announce_all(&self, events: Vec<AccountEvent>) {
        self.shared.hub.announce_all(&self.key, events);
    }

    async fn append_prepared(
        &self,
        mailbox: MailboxId,
        p: &Prepared,
        flags: Flags,
        keywords: &[String],
        date: (i64, i32),
        want: Option<Uid>,
    ) -> Result<AppendOutcome, StoreError> {
        let mut c = self.shared.conn().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let m = self.lock_mailbox(&tx, mailbox).await?;
        let uid = match want {
            None => m.uidnext,
            Some(u) if u >= m.uidnext && u > 0 => u,
            Some(u) => {
                return Err(StoreError::Invalid(format!(
                    "UID {u} is below the mailbox's UIDNEXT {}",
                    m.uidnext
                )))
            }
        };
        if uid == u32::MAX {
            return Err(StoreError::Corrupt("UIDs exhausted".into()));
        }
        let modseq = m.highest_modseq + 1;
        self.shared
            .blobs
            .put(
                &tx,
                &NewBlob {
                    hash: &p.hash,
                    data: &p.data,
                    structure: &p.structure,
                },
            )
            .await?;
        let st = tx
            .prepare_cached(
                "INSERT INTO messages (mailbox, uid, modseq, flags, keywords, internal_date,
                                       internal_tz, size, blob, save_date)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .await
            .map_err(pg_err)?;
        let size = i64::try_from(p.data.len()).unwrap_or(i64::MAX);
        tx.execute(
            &st,
            &[
                &m.id,
                &i64::from(uid),
                &i64_of(modseq),
                &i16::from(flags.0 & 31),
                &keywords,
                &date.0,
                &date.1,
                &size,
                &p.hash,
                &now_secs(),
            ],
        )
        .await
        .map_err(pg_err)?;
        let st = tx
            .prepare_cached("UPDATE mailboxes SET uidnext = $2, highest_modseq = $3 WHERE id = $1")
            .await
            .map_err(pg_err)?;
        tx.execute(&st, &[&m.id, &(i64::from(uid) + 1), &i64_of(modseq)])
            .await
            .map_err(pg_err)?;
        notify_in(&tx, &self.shared, &self.key, m.id).await?;
        tx.commit().await.map_err(pg_err)?;
        self.wake(m.id);
        Ok(AppendOutcome {
            uid_validity: m.uidvalidity,
            uid,
            modseq,
        })
    }

    async fn append_at(
        &self,
        mailbox: MailboxId,
        req: AppendRequest,
        want: Option<Uid>,
    ) -> Result<AppendOutcome, StoreError> {
        let AppendRequest {
            prefix,
            data,
            flags,
            keywords,
            internal_date,
        } = req;
        let p = tokio::task::spawn_blocking(move || prepare(prefix, data))
            .await
            .map_err(|e| StoreError::Index(format!("message preparation: {e}")))??;
        let keywords = normalize_keywords(&keywords);
        let date = internal_date.unwrap_or((now_secs(), 0));
        retried!(
            self.append_prepared(mailbox, &p, flags, &keywords, date, want)
                .await
        )
    }

    #[allow(clippy::too_many_arguments)]
    async fn store_flags_once(
        &self,
        mailbox: MailboxId,
        uids: &[i64],
        op: FlagOp,
        flags: Flags,
        keywords: &[String],
        unchanged_since: Option<ModSeq>,
    ) -> Result<(Vec<MessageMeta>, Vec<Uid>), StoreError> {
        let mut c = self.shared.conn().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let m = self.lock_mailbox(&tx, mailbox).await?;
        let st = tx
            .prepare_cached(&format!(
                "SELECT {META_COLS} FROM messages WHERE mailbox = $1 AND uid = ANY($2) ORDER BY uid"
            ))
            .await
            .map_err(pg_err)?;
        let rows = tx.query(&st, &[&m.id, &uids]).await.map_err(pg_err)?;
        let modseq = m.highest_modseq + 1;
        let mut out = Vec::new();
        let mut failed = Vec::new();
        // Changed messages grouped by their new (flags, keywords): one UPDATE per group.
        let mut groups: Vec<(Flags, Vec<String>, Vec<i64>)> = Vec::new();
        for r in &rows {
            let mut meta = meta_of(r, 0)?;
            if unchanged_since.is_some_and(|u| meta.modseq > u) {
                failed.push(meta.uid);
                continue;
            }
            let (new_flags, new_kw) = match op {
                FlagOp::Set => (flags, keywords.to_vec()),
                FlagOp::Add => {
                    let mut k = meta.keywords.clone();
                    k.extend(keywords.iter().cloned());
                    (meta.flags.union(flags), normalize_keywords(&k))
                }
                FlagOp::Remove => (
                    meta.flags.difference(flags),
                    meta.keywords
                        .iter()
                        .filter(|k| !keywords.iter().any(|r| r.eq_ignore_ascii_case(k)))
                        .cloned()
                        .collect(),
                ),
            };
            if new_flags == meta.flags && new_kw == meta.keywords {
                continue;
            }
            match groups
                .iter_mut()
                .find(|(f, k, _)| *f == new_flags && *k == new_kw)
            {
                Some(g) => g.2.push(i64::from(meta.uid)),
                None => groups.push((new_flags, new_kw.clone(), vec![i64::from(meta.uid)])),
            }
            meta.flags = new_flags;
            meta.keywords = new_kw;
            meta.modseq = modseq;
            out.push(meta);
        }
        if !out.is_empty() {
            let st = tx
                .prepare_cached(
                    "UPDATE messages SET flags = $3, keywords = $4, modseq = $5
                     WHERE mailbox = $1 AND uid = ANY($2)",
                )
                .await
                .map_err(pg_err)?;
            for (f, k, group) in &groups {
                tx.execute(&st, &[&m.id, group, &i16::from(f.0), k, &i64_of(modseq)])
                    .await
                    .map_err(pg_err)?;
            }
            set_highest_modseq(&tx, m.id, modseq).await?;
            notify_in(&tx, &self.shared, &self.key, m.id).await?;
        }
        tx.commit().await.map_err(pg_err)?;
        if !out.is_empty() {
            self.wake(m.id);
        }
        Ok((out, failed))
    }

    async fn store_flags_in(
        &self,
        mailbox: MailboxId,
        uids: &[Uid],
        op: FlagOp,
        flags: Flags,
        keywords: &[String],
        unchanged_since: Option<ModSeq>,
    ) -> Result<(Vec<MessageMeta>, Vec<Uid>), StoreError> {
        let flags = Flags(flags.0 & 31);
        let keywords = normalize_keywords(keywords);
        let uids = uid_array(uids);
        retried!(
            self.store_flags_once(mailbox, &uids, op, flags, &keywords, unchanged_since)
                .await
        )
    }

    async fn expunge_once(
        &self,
        mailbox: MailboxId,
        uids: Option<&[i64]>,
        force: bool,
    ) -> Result<Vec<Uid>, StoreError> {
        let mut c = self.shared.conn().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let m = self.lock_mailbox(&tx, mailbox).await?;
        let (sql, list) = match (uids, force) {
            (None, _) => (
                "DELETE FROM messages WHERE mailbox = $1 AND (flags & 8) <> 0 RETURNING uid",
                None,
            ),
            (Some(l), true) => (
                "DELETE FROM messages WHERE mailbox = $1 AND uid = ANY($2) RETURNING uid",
                Some(l),
            ),
            (Some(l), false) => (
                "DELETE FROM messages WHERE mailbox = $1 AND uid = ANY($2) AND (flags & 8) <> 0
                 RETURNING uid",
                Some(l),
            ),
        };
        let st = tx.prepare_cached(sql).await.map_err(pg_err)?;
        let rows = match list {
            None => tx.query(&st, &[&m.id]).await,
            Some(l) => tx.query(&st, &[&m.id, &l]).await,
        }
        .map_err(pg_err)?;
        let mut gone: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get::<_, i64>(0))
            .collect::<Result<_, _>>()
            .map_err(pg_err)?;
        if gone.is_empty() {
            tx.rollback().await.map_err(pg_err)?;
            return Ok(Vec::new());
        }
        gone.sort_unstable();
        let modseq = m.highest_modseq + 1;
        tombstones(&tx, m.id, &gone, modseq).await?;
        set_highest_modseq(&tx, m.id, modseq).await?;
        notify_in(&tx, &self.shared, &self.key, m.id).await?;
        tx.commit().await.map_err(pg_err)?;
        self.wake(m.id);
        gone.into_iter().map(|u| u32_of(u, "UID")).collect()
    }

    /// Copies (and with `remove` moves) messages, in one transaction that locks both
    /// mailboxes in id order.
    async fn copy_once(
        &self,
        from: MailboxId,
        uids: &[i64],
        to: MailboxId,
        remove: bool,
    ) -> Result<CopyOutcome, StoreError> {
        let mut c = self.shared.conn().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let st = tx
            .prepare_cached(&format!(
                "SELECT {MB_COLS} FROM mailboxes WHERE account = $1 AND id = ANY($2)
                 ORDER BY id FOR UPDATE"
            ))
            .await
            .map_err(pg_err)?;
        let ids = vec![from.0, to.0];
        let rows = tx.query(&st, &[&self.id, &ids]).await.map_err(pg_err)?;
        let boxes: Vec<MailboxRow> = rows
            .iter()
            .map(MailboxRow::from_row)
            .collect::<Result<_, _>>()?;
        let find = |id: MailboxId| {
            boxes
                .iter()
                .find(|b| b.id == id.0)
                .cloned()
                .ok_or(StoreError::NotFound("mailbox"))
        };
        let src = find(from)?;
        let dst = find(to)?;
        let st = tx
            .prepare_cached(
                "SELECT uid FROM messages WHERE mailbox = $1 AND uid = ANY($2) ORDER BY uid",
            )
            .await
            .map_err(pg_err)?;
        let present: Vec<i64> = tx
            .query(&st, &[&src.id, &uids])
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(pg_err)?;
        if present.is_empty() {
            tx.rollback().await.map_err(pg_err)?;
            return Ok(CopyOutcome {
                uid_validity: dst.uidvalidity,
                pairs: Vec::new(),
            });
        }
        let first = i64::from(dst.uidnext);
        let count = i64::try_from(present.len()).unwrap_or(i64::MAX);
        if first + count > i64::from(u32::MAX) {
            return Err(StoreError::Corrupt("UIDs exhausted".into()));
        }
        let new_uids: Vec<i64> = (first..first + count).collect();
        let modseq = dst.highest_modseq + 1;
        let st = tx
            .prepare_cached(
                "INSERT INTO messages (mailbox, uid, modseq, flags, keywords, internal_date,
                                       internal_tz, size, blob, preview, email_id, save_date)
                 SELECT $3, p.new, $4, m.flags, m.keywords, m.internal_date, m.internal_tz,
                        m.size, m.blob, m.preview, m.email_id, $6
                 FROM unnest($1::bigint[], $2::bigint[]) AS p(old, new)
                 JOIN messages m ON m.mailbox = $5 AND m.uid = p.old
                 ORDER BY p.new",
            )
            .await
            .map_err(pg_err)?;
        tx.execute(
            &st,
            &[
                &present,
                &new_uids,
                &dst.id,
                &i64_of(modseq),
                &src.id,
                &now_secs(),
            ],
        )
        .await
        .map_err(pg_err)?;
        let st = tx
            .prepare_cached("UPDATE mailboxes SET uidnext = $2, highest_modseq = $3 WHERE id = $1")
            .await
            .map_err(pg_err)?;
        tx.execute(&st, &[&dst.id, &(first + count), &i64_of(modseq)])
            .await
            .map_err(pg_err)?;
        notify_in(&tx, &self.shared, &self.key, dst.id).await?;
        if remove {
            // Within one mailbox the tombstones share the new messages' modseq.
            let src_modseq = if src.id == dst.id {
                modseq
            } else {
                src.highest_modseq + 1
            };
            let st = tx
                .prepare_cached("DELETE FROM messages WHERE mailbox = $1 AND uid = ANY($2)")
                .await
                .map_err(pg_err)?;
            tx.execute(&st, &[&src.id, &present])
                .await
                .map_err(pg_err)?;
            tombstones(&tx, src.id, &present, src_modseq).await?;
            set_highest_modseq(&tx, src.id, src_modseq).await?;
            notify_in(&tx, &self.shared, &self.key, src.id).await?;
        }
        tx.commit().await.map_err(pg_err)?;
        self.wake(dst.id);
        if remove {
            self.wake(src.id);
        }
        let pairs = present
            .iter()
            .zip(&new_uids)
            .map(|(&o, &n)| Ok((u32_of(o, "UID")?, u32_of(n, "UID")?)))
            .collect::<Result<_, StoreError>>()?;
        Ok(CopyOutcome {
            uid_validity: dst.uidvalidity,
            pairs,
        })
    }

    async fn copy_in(
        &self,
        from: MailboxId,
        uids: &[Uid],
        to: MailboxId,
        remove: bool,
    ) -> Result<CopyOutcome, StoreError> {
        let uids = uid_array(uids);
        retried!(self.copy_once(from, &uids, to, remove).await)
    }

    async fn claim_once(&self, mailbox: MailboxId, upto: Option<Uid>) -> Result<Uid, StoreError> {
        let claim_to = |m: &MailboxRow| {
            upto.unwrap_or(m.uidnext)
                .min(m.uidnext)
                .max(m.recent_from_uid)
        };
        let mut c = self.shared.conn().await?;
        // Most SELECTs find nothing new to claim: no write transaction then.
        let seen = self.get_mailbox(&c, mailbox).await?;
        if claim_to(&seen) == seen.recent_from_uid {
            return Ok(seen.recent_from_uid);
        }
        let tx = c.transaction().await.map_err(pg_err)?;
        let m = self.lock_mailbox(&tx, mailbox).await?;
        let to = claim_to(&m);
        if to != m.recent_from_uid {
            let st = tx
                .prepare_cached("UPDATE mailboxes SET recent_from_uid = $2 WHERE id = $1")
                .await
                .map_err(pg_err)?;
            tx.execute(&st, &[&m.id, &i64::from(to)])
                .await
                .map_err(pg_err)?;
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(m.recent_from_uid)
    }

    /// Checks that a mailbox is this account's.
    async fn check_mailbox<C: GenericClient>(
        &self,
        c: &C,
        mailbox: MailboxId,
    ) -> Result<(), StoreError> {
        let st = c
            .prepare_cached("SELECT 1 FROM mailboxes WHERE id = $1 AND account = $2")
            .await
            .map_err(pg_err)?;
        c.query_opt(&st, &[&mailbox.0, &self.id])
            .await
            .map_err(pg_err)?
            .map(|_| ())
            .ok_or(StoreError::NotFound("mailbox"))
    }
}

/// Locks the account row: mailbox creation, renames and UIDVALIDITY assignment of one
/// account run one at a time.
async fn lock_account(
    tx: &deadpool_postgres::Transaction<'_>,
    account: i64,
) -> Result<(), StoreError> {
    let st = tx
        .prepare_cached("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE")
        .await
        .map_err(pg_err)?;
    tx.query_opt(&st, &[&account])
        .await
        .map_err(pg_err)?
        .map(|_| ())
        .ok_or(StoreError::NotFound("account store"))
}

async fn find_mailbox<C: GenericClient>(
    c: &C,
    account: i64,
    name: &str,
) -> Result<Option<MailboxRow>, StoreError> {
    let st = c
        .prepare_cached(&format!(
            "SELECT {MB_COLS} FROM mailboxes WHERE account = $1 AND name = $2"
        ))
        .await
        .map_err(pg_err)?;
    c.query_opt(&st, &[&account, &name])
        .await
        .map_err(pg_err)?
        .map(|r| MailboxRow::from_row(&r))
        .transpose()
}

/// Creates one mailbox (the account row must be locked) with a fresh UIDVALIDITY: the
/// clock in seconds, or one more than the last one handed out in the account.
async fn create_one(
    tx: &deadpool_postgres::Transaction<'_>,
    account: i64,
    name: &str,
    special_use: Option<SpecialUse>,
) -> Result<MailboxRow, StoreError> {
    let st = tx
        .prepare_cached(
            "UPDATE accounts SET last_uidvalidity = greatest($2, last_uidvalidity + 1, 1)
             WHERE id = $1 RETURNING last_uidvalidity",
        )
        .await
        .map_err(pg_err)?;
    let now = now_secs().min(i64::from(u32::MAX - 1));
    let row = tx.query_one(&st, &[&account, &now]).await.map_err(pg_err)?;
    let uidvalidity: i64 = row.try_get(0).map_err(pg_err)?;
    if uidvalidity > i64::from(u32::MAX) {
        return Err(StoreError::Corrupt("UIDVALIDITY values exhausted".into()));
    }
    let st = tx
        .prepare_cached(&format!(
            "INSERT INTO mailboxes (account, name, uidvalidity, special_use)
             VALUES ($1, $2, $3, $4) RETURNING {MB_COLS}"
        ))
        .await
        .map_err(pg_err)?;
    let su = special_use.map(SpecialUse::as_imap);
    let row = tx
        .query_one(&st, &[&account, &name, &uidvalidity, &su])
        .await
        .map_err(|e| unique_as(e, "mailbox"))?;
    MailboxRow::from_row(&row)
}

/// Creates the missing parents of a name (the account row must be locked); returns the
/// names created, outermost first.
async fn create_parents(
    tx: &deadpool_postgres::Transaction<'_>,
    account: i64,
    name: &str,
) -> Result<Vec<String>, StoreError> {
    let mut created = Vec::new();
    for parent in names::parents(name) {
        if find_mailbox(tx, account, &parent).await?.is_none() {
            create_one(tx, account, &parent, None).await?;
            created.push(parent);
        }
    }
    Ok(created)
}

async fn set_highest_modseq(
    tx: &deadpool_postgres::Transaction<'_>,
    mailbox: i64,
    modseq: ModSeq,
) -> Result<(), StoreError> {
    let st = tx
        .prepare_cached(
            "UPDATE mailboxes SET highest_modseq = greatest(highest_modseq, $2) WHERE id = $1",
        )
        .await
        .map_err(pg_err)?;
    tx.execute(&st, &[&mailbox, &i64_of(modseq)])
        .await
        .map_err(pg_err)?;
    Ok(())
}

async fn tombstones(
    tx: &deadpool_postgres::Transaction<'_>,
    mailbox: i64,
    uids: &[i64],
    modseq: ModSeq,
) -> Result<(), StoreError> {
    let st = tx
        .prepare_cached(
            "INSERT INTO expunged (mailbox, uid, modseq) SELECT $1, u, $3 FROM unnest($2::bigint[]) AS u
             ON CONFLICT (mailbox, uid) DO UPDATE SET modseq = excluded.modseq",
        )
        .await
        .map_err(pg_err)?;
    tx.execute(&st, &[&mailbox, &uids, &i64_of(modseq)])
        .await
        .map_err(pg_err)?;
    Ok(())
}

#[async_trait]
impl Account for PgAccount {
    fn key(&self) -> &AccountKey {
        &self.key
    }

    async fn list_mailboxes(&self) -> Result<Vec<MailboxInfo>, StoreError> {
        let c = self.shared.conn().await?;
        let st = c
            .prepare_cached(&format!(
                "SELECT {MB_COLS} FROM mailboxes WHERE account = $1"
            ))
            .await
            .map_err(pg_err)?;
        let rows = c.query(&st, &[&self.id]).await.map_err(pg_err)?;
        let mut out: Vec<MailboxInfo> = rows
            .iter()
            .map(|r| MailboxRow::from_row(r).map(|m| m.info()))
            .collect::<Result<_, _>>()?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn mailbox(&self, name: &str) -> Result<MailboxInfo, StoreError> {
        let name = normalize(name)?;
        let c = self.shared.conn().await?;
        find_mailbox(&c, self.id, &name)
            .await?
            .map(|m| m.info())
            .ok_or(StoreError::NotFound("mailbox"))
    }

    async fn create_mailbox(
        &self,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> Result<MailboxInfo, StoreError> {
        let name = normalize(name)?;
        let mut c = self.shared.conn().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        lock_account(&tx, self.id).await?;
        if find_mailbox(&tx, self.id, &name).await?.is_some() {
            return Err(StoreError::AlreadyExists("mailbox"));
        }
        let mut events: Vec<AccountEvent> = create_parents(&tx, self.id, &name)
            .await?
            .into_iter()
            .map(AccountEvent::Created)
            .collect();
        let row = create_one(&tx, self.id, &name, special_use).await?;
        events.push(AccountEvent::Created(name));
        notify_events(&tx, &self.shared, &self.key, &events).await?;
        tx.commit().await.map_err(pg_err)?;
        self.announce_all(events);
        Ok(row.info())
    }

    async fn ensure_mailboxes(&self, wanted: &[(&str, SpecialUse)]) -> Result<(), StoreError> {
        let have = self.list_mailboxes().await?;
        let mut missing = Vec::new();
        for (name, use_) in wanted {
            let name = normalize(name)?;
            if !have.iter().any(|m| m.name == name) {
                missing.push((name, *use_));
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let mut c = self.shared.conn().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        lock_account(&tx, self.id).await?;
        for (name, use_) in &missing {
            // Another node may have made it since the list above.
            if find_mailbox(&tx, self.id, name).await?.is_some() {
                continue;
            }
            create_parents(&tx, self.id, name).await?;
            create_one(&tx, self.id, name, Some(*use_)).await?;
        }
        tx.commit().await.map_err(pg_err)
    }

    async fn delete_mailbox(&self, name: &str) -> Result<(), StoreError> {
        let name = normalize(name)?;
        if names::is_inbox(&name) {
            return Err(StoreError::Invalid("INBOX cannot be deleted".into()));
        }
        let mut c = self.shared.conn().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        lock_account(&tx, self.id).await?;
        // Messages, tombstones, ACL and METADATA entries go with the row (ON DELETE
        // CASCADE); the blob triggers release the bodies.
        let row = tx
            .query_opt(
                "DELETE FROM mailboxes WHERE account = $1 AND name = $2 RETURNING id",
                &[&self.id, &name],
            )
            .await
            .map_err(pg_err)?
            .ok_or(StoreError::NotFound("mailbox"))?;
        let id: i64 = row.try_get(0).map_err(pg_err)?;
        notify_in(&tx, &self.shared, &self.key, id).await?;
        let events = vec![AccountEvent::Deleted(name)];
        notify_events(&tx, &self.shared, &self.key, &events).await?;
        tx.commit().await.map_err(pg_err)?;
        self.wake(id);
        self.announce_all(events);
        Ok(())
    }

    async fn rename_mailbox(&self, from: &str, to: &str) -> Result<(), StoreError> {
        let from = normalize(from)?;
        let to = normalize(to)?;
        if from == to {
            return Err(StoreError::AlreadyExists("mailbox"));
        }
        if names::is_inbox(&to) || to.starts_with(&format!("{from}/")) {
            return Err(StoreError::Invalid(
                "cannot rename a mailbox into itself or onto INBOX".into(),
            ));
        }
        let mut c = self.shared.conn().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        lock_account(&tx, self.id).await?;
        let src = find_mailbox(&tx, self.id, &from)
            .await?
            .ok_or(StoreError::NotFound("mailbox"))?;
        if find_mailbox(&tx, self.id, &to).await?.is_some() {
            return Err(StoreError::AlreadyExists("mailbox"));
        }
        let mut events: Vec<AccountEvent> = create_parents(&tx, self.id, &to)
            .await?
            .into_iter()
            .map(AccountEvent::Created)
            .collect();
        events.push(AccountEvent::Renamed {
            from: from.clone(),
            to: to.clone(),
        });
        if names::is_inbox(&from) {
            // RFC 3501 6.3.5: INBOX's messages move to a new mailbox; INBOX stays, empty,
            // with its UIDVALIDITY and UIDNEXT.
            let inbox = self.lock_mailbox(&tx, MailboxId(src.id)).await?;
            let dst = create_one(&tx, self.id, &to, None).await?;
            let modseq = inbox.highest_modseq + 1;
            tx.execute(
                "INSERT INTO expunged (mailbox, uid, modseq)
                 SELECT mailbox, uid, $2 FROM messages WHERE mailbox = $1
                 ON CONFLICT (mailbox, uid) DO UPDATE SET modseq = excluded.modseq",
                &[&inbox.id, &i64_of(modseq)],
            )
            .await
            .map_err(pg_err)?;
            tx.execute(
                "UPDATE messages SET mailbox = $2 WHERE mailbox = $1",
                &[&inbox.id, &dst.id],
            )
            .await
            .map_err(pg_err)?;
            tx.execute(
                "UPDATE mailboxes SET uidnext = $2, highest_modseq = $3 WHERE id = $1",
                &[&dst.id, &i64::from(inbox.uidnext), &i64_of(modseq)],
            )
            .await
            .map_err(pg_err)?;
            set_highest_modseq(&tx, inbox.id, modseq).await?;
            notify_in(&tx, &self.shared, &self.key, inbox.id).await?;
            notify_events(&tx, &self.shared, &self.key, &events).await?;
            tx.commit().await.map_err(pg_err)?;
            self.wake(inbox.id);
            self.wake(dst.id);
            self.announce_all(events);
            return Ok(());
        }
        let from_chars = i32::try_from(from.chars().count()).unwrap_or(i32::MAX);
        let rows = tx
            .query(
                "UPDATE mailboxes SET name = $3 || substr(name, $4 + 1)
                 WHERE account = $1 AND (name = $2 OR starts_with(name, $2 || '/'))
                 RETURNING id",
                &[&self.id, &from, &to, &from_chars],
            )
            .await
            .map_err(|e| unique_as(e, "mailbox"))?;
        let ids: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(pg_err)?;
        for id in &ids {
            notify_in(&tx, &self.shared, &self.key, *id).await?;
        }
        notify_events(&tx, &self.shared, &self.key, &events).await?;
        tx.commit().await.map_err(pg_err)?;
        for id in ids {
            self.wake(id);
        }
        self.announce_all(events);
        Ok(())
    }

    async fn set_subscribed(&self, name: &str, subscribed: bool) -> Result<(), StoreError> {
        let name = normalize(name)?;
        let c = self.shared.conn().await?;
        let sql = if subscribed {
            "INSERT INTO subscriptions (account, name) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM subscriptions WHERE account = $1 AND name = $2"
        };
        let n = c.execute(sql, &[&self.id, &name]).await.map_err(pg_err)?;
        if n > 0 {
            let events = vec![AccountEvent::Subscription { name, subscribed }];
            // After the change's own commit: a failure here leaves only the other nodes'
            // watchers untold.
            if let Err(e) = notify_events(&c, &self.shared, &self.key, &events).await {
                tracing::warn!(error = %e, "PostgreSQL store: subscription event not sent");
            }
            self.announce_all(events);
        }
        Ok(())
    }

    async fn subscriptions(&self) -> Result<Vec<String>, StoreError> {
        let c = self.shared.conn().await?;
        let rows = c
            .query(
                "SELECT name FROM subscriptions WHERE account = $1",
                &[&self.id],
            )
            .await
            .map_err(pg_err)?;
        let mut out: Vec<String> = rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(pg_err)?;
        out.sort();
        Ok(out)
    }

    async fn status(&self, mailbox: MailboxId) -> Result<MailboxStatus, StoreError> {
        let c = self.shared.conn().await?;
        let st = c
            .prepare_cached(
                "SELECT mb.uidvalidity, mb.uidnext, mb.highest_modseq, s.n, s.unseen, s.size, s.recent
                 FROM mailboxes mb,
                      LATERAL (SELECT count(*) AS n,
                                      count(*) FILTER (WHERE m.flags & 1 = 0) AS unseen,
                                      coalesce(sum(m.size), 0)::bigint AS size,
                                      count(*) FILTER (WHERE m.uid >= mb.recent_from_uid) AS recent
                               FROM messages m WHERE m.mailbox = mb.id) s
                 WHERE mb.id = $1 AND mb.account = $2",
            )
            .await
            .map_err(pg_err)?;
        let r = c
            .query_opt(&st, &[&mailbox.0, &self.id])
            .await
            .map_err(pg_err)?
            .ok_or(StoreError::NotFound("mailbox"))?;
        let count = |i: usize| -> Result<u32, StoreError> {
            let v: i64 = r.try_get(i).map_err(pg_err)?;
            Ok(u32::try_from(v).unwrap_or(u32::MAX))
        };
        Ok(MailboxStatus {
            uid_validity: u32_of(r.try_get(0).map_err(pg_err)?, "UIDVALIDITY")?,
            uid_next: u32_of(r.try_get(1).map_err(pg_err)?, "UIDNEXT")?,
            highest_modseq: u64_of(r.try_get(2).map_err(pg_err)?),
            messages: count(3)?,
            unseen: count(4)?,
            size: u64_of(r.try_get(5).map_err(pg_err)?),
            recent: count(6)?,
        })
    }

    async fn usage(&self) -> Result<Usage, StoreError> {
        let c = self.shared.conn().await?;
        let st = c
            .prepare_cached(
                "SELECT coalesce(sum(m.size), 0)::bigint, count(*)
                 FROM messages m JOIN mailboxes mb ON mb.id = m.mailbox WHERE mb.account = $1",
            )
            .await
            .map_err(pg_err)?;
        let r = c.query_one(&st, &[&self.id]).await.map_err(pg_err)?;
        Ok(Usage {
            bytes: u64_of(r.try_get(0).map_err(pg_err)?),
            messages: u64_of(r.try_get(1).map_err(pg_err)?),
        })
    }

    async fn acl(&self, mailbox: MailboxId) -> Result<Vec<AclEntry>, StoreError> {
        let c = self.shared.conn().await?;
        self.check_mailbox(&c, mailbox).await?;
        let rows = c
            .query(
                "SELECT identifier, rights FROM acl WHERE mailbox = $1",
                &[&mailbox.0],
            )
            .await
            .map_err(pg_err)?;
        let mut out = rows.iter().map(acl_entry).collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.identifier.cmp(&b.identifier));
        Ok(out)
    }

    async fn all_acls(&self) -> Result<Vec<(MailboxId, AclEntry)>, StoreError> {
        let c = self.shared.conn().await?;
        let rows = c
            .query(
                "SELECT a.identifier, a.rights, a.mailbox FROM acl a
                 JOIN mailboxes mb ON mb.id = a.mailbox WHERE mb.account = $1",
                &[&self.id],
            )
            .await
            .map_err(pg_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push((MailboxId(r.try_get(2).map_err(pg_err)?), acl_entry(r)?));
        }
        out.sort_by(|a, b| (a.0, &a.1.identifier).cmp(&(b.0, &b.1.identifier)));
        Ok(out)
    }

    async fn set_acl(
        &self,
        mailbox: MailboxId,
        identifier: &str,
        rights: Rights,
    ) -> Result<(), StoreError> {
        let id = canonical_identifier(identifier)
            .ok_or_else(|| StoreError::Invalid(format!("invalid ACL identifier {identifier:?}")))?;
        let c = self.shared.conn().await?;
        self.check_mailbox(&c, mailbox).await?;
        if rights.is_empty() {
            c.execute(
                "DELETE FROM acl WHERE mailbox = $1 AND identifier = $2",
                &[&mailbox.0, &id],
            )
            .await
            .map_err(pg_err)?;
        } else {
            c.execute(
                "INSERT INTO acl (mailbox, identifier, rights) VALUES ($1, $2, $3)
                 ON CONFLICT (mailbox, identifier) DO UPDATE SET rights = excluded.rights",
                &[&mailbox.0, &id, &i32::from(rights.bits())],
            )
            .await
            .map_err(pg_err)?;
        }
        Ok(())
    }

    async fn delete_acl(&self, mailbox: MailboxId, identifier: &str) -> Result<(), StoreError> {
        self.set_acl(mailbox, identifier, Rights::NONE).await
    }

    async fn sync(&self, mailbox: MailboxId) -> Result<(), StoreError> {
        // Every node reads the one database: there is nothing outside to pick up.
        let _ = mailbox;
        Ok(())
    }

    async fn messages(&self, mailbox: MailboxId) -> Result<MailboxSnapshot, StoreError> {
        let c = self.shared.conn().await?;
        // One statement: the mailbox row and its messages from one snapshot.
        let st = c
            .prepare_cached(
                "SELECT mb.uidvalidity, mb.uidnext, mb.highest_modseq,
                        m.uid, m.flags, m.keywords, m.modseq, m.internal_date, m.internal_tz, m.size
                 FROM mailboxes mb LEFT JOIN messages m ON m.mailbox = mb.id
                 WHERE mb.id = $1 AND mb.account = $2 ORDER BY m.uid",
            )
            .await
            .map_err(pg_err)?;
        let rows = c
            .query(&st, &[&mailbox.0, &self.id])
            .await
            .map_err(pg_err)?;
        let first = rows.first().ok_or(StoreError::NotFound("mailbox"))?;
        let mut snap = MailboxSnapshot {
            uid_validity: u32_of(first.try_get(0).map_err(pg_err)?, "UIDVALIDITY")?,
            uid_next: u32_of(first.try_get(1).map_err(pg_err)?, "UIDNEXT")?,
            highest_modseq: u64_of(first.try_get(2).map_err(pg_err)?),
            messages: MessageList::new(),
        };
        let mut list = MessageList::new();
        for r in &rows {
            let uid: Option<i64> = r.try_get(3).map_err(pg_err)?;
            if uid.is_some() {
                list.push(meta_of(r, 3)?);
            }
        }
        snap.messages = list;
        Ok(snap)
    }

    async fn changes_since(
        &self,
        mailbox: MailboxId,
        since: ModSeq,
    ) -> Result<Changes, StoreError> {
        let mut c = self.shared.conn().await?;
        let tx = c
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(pg_err)?;
        let m = self.get_mailbox(&tx, mailbox).await?;
        let since = i64_of(since);
        let st = tx
            .prepare_cached(&format!(
                "SELECT {META_COLS} FROM messages WHERE mailbox = $1 AND modseq > $2 ORDER BY uid"
            ))
            .await
            .map_err(pg_err)?;
        let changed = tx
            .query(&st, &[&m.id, &since])
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| meta_of(r, 0))
            .collect::<Result<Vec<_>, _>>()?;
        let st = tx
            .prepare_cached(
                "SELECT uid FROM expunged WHERE mailbox = $1 AND modseq > $2 ORDER BY uid",
            )
            .await
            .map_err(pg_err)?;
        let expunged = tx
            .query(&st, &[&m.id, &since])
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| u32_of(r.try_get(0).map_err(pg_err)?, "UID"))
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit().await.map_err(pg_err)?;
        Ok(Changes {
            highest_modseq: m.highest_modseq,
            uid_next: m.uidnext,
            changed,
            expunged,
            uid_validity_changed: false,
            current: None,
        })
    }

    async fn append(
        &self,
        mailbox: MailboxId,
        request: AppendRequest,
    ) -> Result<AppendOutcome, StoreError> {
        self.append_at(mailbox, request, None).await
    }

    async fn store_flags(
        &self,
        mailbox: MailboxId,
        uids: &[Uid],
        op: FlagOp,
        flags: Flags,
        keywords: &[String],
    ) -> Result<Vec<MessageMeta>, StoreError> {
        self.store_flags_in(mailbox, uids, op, flags, keywords, None)
            .await
            .map(|(changed, _)| changed)
    }

    async fn store_flags_unchanged_since(
        &self,
        mailbox: MailboxId,
        uids: &[Uid],
        op: FlagOp,
        flags: Flags,
        keywords: &[String],
        unchanged_since: ModSeq,
    ) -> Result<(Vec<MessageMeta>, Vec<Uid>), StoreError> {
        self.store_flags_in(mailbox, uids, op, flags, keywords, Some(unchanged_since))
            .await
    }

    async fn expunge(
        &self,
        mailbox: MailboxId,
        uids: Option<&[Uid]>,
        force: bool,
    ) -> Result<Vec<Uid>, StoreError> {
        let list = uids.map(uid_array);
        retried!(self.expunge_once(mailbox, list.as_deref(), force).await)
    }

    async fn copy(
        &self,
        from: MailboxId,
        uids: &[Uid],
        to: MailboxId,
    ) -> Result<CopyOutcome, StoreError> {
        self.copy_in(from, uids, to, false).await
    }

    async fn move_messages(
        &self,
        from: MailboxId,
        uids: &[Uid],
        to: MailboxId,
    ) -> Result<CopyOutcome, StoreError> {
        self.copy_in(from, uids, to, true).await
    }

    async fn open_message(
        &self,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Result<Arc<dyn MessageContent>, StoreError> {
        let c = self.shared.conn().await?;
        let st = c
            .prepare_cached(
                "SELECT m.blob, m.size FROM messages m JOIN mailboxes mb ON mb.id = m.mailbox
                 WHERE m.mailbox = $1 AND m.uid = $2 AND mb.account = $3",
            )
            .await
            .map_err(pg_err)?;
        let r = c
            .query_opt(&st, &[&mailbox.0, &i64::from(uid), &self.id])
            .await
            .map_err(pg_err)?
            .ok_or(StoreError::NotFound("message"))?;
        Ok(Arc::new(PgContent {
            blobs: self.shared.blobs.clone(),
            hash: r.try_get(0).map_err(pg_err)?,
            size: u64_of(r.try_get(1).map_err(pg_err)?),
        }))
    }

    async fn structure(
        &self,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Result<Arc<MessageStructure>, StoreError> {
        let c = self.shared.conn().await?;
        let st = c
            .prepare_cached(
                "SELECT b.structure FROM messages m
                 JOIN mailboxes mb ON mb.id = m.mailbox
                 JOIN blobs b ON b.hash = m.blob
                 WHERE m.mailbox = $1 AND m.uid = $2 AND mb.account = $3",
            )
            .await
            .map_err(pg_err)?;
        let r = c
            .query_opt(&st, &[&mailbox.0, &i64::from(uid), &self.id])
            .await
            .map_err(pg_err)?
            .ok_or(StoreError::NotFound("message"))?;
        let bytes: Vec<u8> = r.try_get(0).map_err(pg_err)?;
        MessageStructure::from_stored(&bytes)
            .map(Arc::new)
            .map_err(|e| StoreError::Corrupt(format!("stored structure: {e}")))
    }

    async fn metadata(
        &self,
        mailbox: Option<MailboxId>,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let c = self.shared.conn().await?;
        if let Some(m) = mailbox {
            self.check_mailbox(&c, m).await?;
        }
        let rows = c
            .query(
                "SELECT name, value FROM metadata
                 WHERE account = $1 AND mailbox IS NOT DISTINCT FROM $2",
                &[&self.id, &mailbox.map(|m| m.0)],
            )
            .await
            .map_err(pg_err)?;
        let mut out = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<Vec<(String, Vec<u8>)>, tokio_postgres::Error>>()
            .map_err(pg_err)?;
        out.sort();
        Ok(out)
    }

    async fn set_metadata(
        &self,
        mailbox: Option<MailboxId>,
        changes: Vec<(String, Option<Vec<u8>>)>,
        max_entries: usize,
    ) -> Result<bool, StoreError> {
        let mut c = self.shared.conn().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let target = mailbox.map(|m| m.0);
        match mailbox {
            // Locked: the entry count below holds until the commit.
            Some(m) => {
                self.lock_mailbox(&tx, m).await?;
            }
            None => lock_account(&tx, self.id).await?,
        }
        for (name, value) in &changes {
            tx.execute(
                "DELETE FROM metadata WHERE account = $1 AND mailbox IS NOT DISTINCT FROM $2 AND name = $3",
                &[&self.id, &target, name],
            )
            .await
            .map_err(pg_err)?;
            if let Some(v) = value {
                tx.execute(
                    "INSERT INTO metadata (account, mailbox, name, value) VALUES ($1, $2, $3, $4)",
                    &[&self.id, &target, name, v],
                )
                .await
                .map_err(pg_err)?;
            }
        }
        let n: i64 = tx
            .query_one(
                "SELECT count(*) FROM metadata WHERE account = $1 AND mailbox IS NOT DISTINCT FROM $2",
                &[&self.id, &target],
            )
            .await
            .map_err(pg_err)?
            .try_get(0)
            .map_err(pg_err)?;
        if usize::try_from(n).unwrap_or(usize::MAX) > max_entries {
            tx.rollback().await.map_err(pg_err)?;
            return Ok(false);
        }
        let events = vec![AccountEvent::Metadata {
            mailbox,
            entries: changes.into_iter().map(|(n, _)| n).collect(),
        }];
        notify_events(&tx, &self.shared, &self.key, &events).await?;
        tx.commit().await.map_err(pg_err)?;
        self.announce_all(events);
        Ok(true)
    }

    async fn preview(&self, mailbox: MailboxId, uid: Uid) -> Result<Option<String>, StoreError> {
        let c = self.shared.conn().await?;
        let st = c
            .prepare_cached(
                "SELECT m.preview FROM messages m JOIN mailboxes mb ON mb.id = m.mailbox
                 WHERE m.mailbox = $1 AND m.uid = $2 AND mb.account = $3",
            )
            .await
            .map_err(pg_err)?;
        let r = c
            .query_opt(&st, &[&mailbox.0, &i64::from(uid), &self.id])
            .await
            .map_err(pg_err)?;
        match r {
            Some(r) => r.try_get(0).map_err(pg_err),
            None => Ok(None),
        }
    }

    async fn set_preview(
        &self,
        mailbox: MailboxId,
        uid: Uid,
        text: &str,
    ) -> Result<(), StoreError> {
        let c = self.shared.conn().await?;
        let st = c
            .prepare_cached(
                "UPDATE messages m SET preview = $3 FROM mailboxes mb
                 WHERE mb.id = m.mailbox AND mb.account = $4 AND m.mailbox = $1 AND m.uid = $2",
            )
            .await
            .map_err(pg_err)?;
        c.execute(&st, &[&mailbox.0, &i64::from(uid), &text, &self.id])
            .await
            .map_err(pg_err)?;
        Ok(())
    }

    async fn mailbox_object_id(&self, mailbox: MailboxId) -> Result<String, StoreError> {
        let c = self.shared.conn().await?;
        self.check_mailbox(&c, mailbox).await?;
        Ok(mailbox_object_id(mailbox.0))
    }

    async fn objects(
        &self,
        mailbox: MailboxId,
        uids: &[Uid],
    ) -> Result<Vec<MessageObject>, StoreError> {
        let c = self.shared.conn().await?;
        self.check_mailbox(&c, mailbox).await?;
        let st = c
            .prepare_cached(
                "SELECT uid, email_id, save_date FROM messages
                 WHERE mailbox = $1 AND uid = ANY($2) ORDER BY uid",
            )
            .await
            .map_err(pg_err)?;
        let rows = c
            .query(&st, &[&mailbox.0, &uid_array(uids)])
            .await
            .map_err(pg_err)?;
        rows.iter()
            .map(|r| {
                let uid: i64 = r.try_get(0).map_err(pg_err)?;
                let email_id: i64 = r.try_get(1).map_err(pg_err)?;
                Ok(MessageObject {
                    uid: u32_of(uid, "UID")?,
                    email_id: email_object_id(email_id),
                    thread_id: None,
                    save_date: r.try_get(2).map_err(pg_err)?,
                })
            })
            .collect()
    }

    async fn claim_recent(&self, mailbox: MailboxId) -> Result<Uid, StoreError> {
        retried!(self.claim_once(mailbox, None).await)
    }

    async fn claim_recent_upto(&self, mailbox: MailboxId, upto: Uid) -> Result<Uid, StoreError> {
        retried!(self.claim_once(mailbox, Some(upto)).await)
    }

    async fn set_uid_validity(
        &self,
        mailbox: MailboxId,
        uid_validity: u32,
    ) -> Result<(), StoreError> {
        if uid_validity == 0 {
            return Err(StoreError::Invalid("UIDVALIDITY 0".into()));
        }
        let mut c = self.shared.conn().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let m = self.lock_mailbox(&tx, mailbox).await?;
        let has: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM messages WHERE mailbox = $1)",
                &[&m.id],
            )
            .await
            .map_err(pg_err)?
            .try_get(0)
            .map_err(pg_err)?;
        if has {
            return Err(StoreError::Invalid(
                "the mailbox holds messages: their UIDs belong to its UIDVALIDITY".into(),
            ));
        }
        let v = i64::from(uid_validity);
        tx.execute(
            "UPDATE mailboxes SET uidvalidity = $2, uidnext = 1, recent_from_uid = 1,
                                  highest_modseq = highest_modseq + 1
             WHERE id = $1",
            &[&m.id, &v],
        )
        .await
        .map_err(pg_err)?;
        tx.execute(
            "UPDATE accounts SET last_uidvalidity = greatest(last_uidvalidity, $2) WHERE id = $1",
            &[&self.id, &v],
        )
        .await
        .map_err(pg_err)?;
        notify_in(&tx, &self.shared, &self.key, m.id).await?;
        tx.commit().await.map_err(pg_err)?;
        self.wake(m.id);
        Ok(())
    }

    async fn append_with_uid(
        &self,
        mailbox: MailboxId,
        uid: Uid,
        request: AppendRequest,
    ) -> Result<AppendOutcome, StoreError> {
        self.append_at(mailbox, request, Some(uid)).await
    }

    async fn finish_import(&self, mailbox: MailboxId, uid_next: Uid) -> Result<(), StoreError> {
        let mut c = self.shared.conn().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let m = self.lock_mailbox(&tx, mailbox).await?;
        let next = m.uidnext.max(uid_next);
        tx.execute(
            "UPDATE mailboxes SET uidnext = $2, recent_from_uid = greatest(recent_from_uid, $2)
             WHERE id = $1",
            &[&m.id, &i64::from(next)],
        )
        .await
        .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)
    }

    async fn set_pop3_uidls(
        &self,
        mailbox: MailboxId,
        uidls: &[(Uid, String)],
    ) -> Result<(), StoreError> {
        if let Some((uid, bad)) = uidls.iter().find(|(_, s)| !names::valid_uidl(s)) {
            return Err(StoreError::Invalid(format!(
                "POP3 unique-id {bad:?} of UID {uid}: 1 to 70 characters in 0x21..0x7E (RFC 1939 7)"
            )));
        }
        let mut c = self.shared.conn().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        let m = self.lock_mailbox(&tx, mailbox).await?;
        let uids: Vec<i64> = uidls.iter().map(|(u, _)| i64::from(*u)).collect();
        let ids: Vec<&str> = uidls.iter().map(|(_, s)| s.as_str()).collect();
        tx.execute(
            "UPDATE messages m SET pop3_uidl = p.uidl
             FROM unnest($2::bigint[], $3::text[]) AS p(uid, uidl)
             WHERE m.mailbox = $1 AND m.uid = p.uid",
            &[&m.id, &uids, &ids],
        )
        .await
        .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)
    }

    async fn pop3_uidls(&self, mailbox: MailboxId) -> Result<Vec<(Uid, String)>, StoreError> {
        let c = self.shared.conn().await?;
        self.check_mailbox(&c, mailbox).await?;
        let rows = c
            .query(
                "SELECT uid, pop3_uidl FROM messages WHERE mailbox = $1 AND pop3_uidl IS NOT NULL
                 ORDER BY uid",
                &[&mailbox.0],
            )
            .await
            .map_err(pg_err)?;
        rows.iter()
            .map(|r| {
                Ok((
                    u32_of(r.try_get(0).map_err(pg_err)?, "UID")?,
                    r.try_get(1).map_err(pg_err)?,
                ))
            })
            .collect()
    }
}

/// The MAILBOXID of a mailbox (RFC 8474 4): `F` and its row id (a bigserial, never given
/// again, kept through RENAME) in 24 hex digits.
fn mailbox_object_id(id: i64) -> String {
    format!("F{id:024x}")
}

/// The EMAILID of a message (RFC 8474 5.1): `M` and its `email_id` (from a sequence,
/// copied by COPY and MOVE) in 24 hex digits.
fn email_object_id(id: i64) -> String {
    format!("M{id:024x}")
}

fn acl_entry(r: &Row) -> Result<AclEntry, StoreError> {
    let bits: i32 = r.try_get(1).map_err(pg_err)?;
    Ok(AclEntry {
        identifier: r.try_get(0).map_err(pg_err)?,
        rights: Rights::from_bits(u16::try_from(bits).unwrap_or(0)),
    })
}
