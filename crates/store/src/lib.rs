//! Mail storage for mailroom.
//!
//! What lives here: the storage traits ([`Store`], [`Account`]), the data model they speak
//! (mailboxes, UIDs, UIDVALIDITY, flags, keywords, modseqs, parsed message structure), the
//! change hub interface ([`ChangeHub`]) that wakes sessions when a mailbox changes, the
//! staging of incoming messages ([`MessageSink`]), the embedded default backend (`maildir`,
//! cargo feature `maildir`: Maildir files plus a per-account SQLite index), and the
//! conformance suite (`testsuite` and [`conformance_suite!`], cargo feature `testsuite`)
//! that every backend must pass.
//!
//! What does not live here: sessions, protocols, sockets, accounts' passwords. The store
//! knows the IMAP data model (Dovecot's `lib-storage` habit) but nothing of who is logged in.
//!
//! Architecture invariant: callers never see a file path. Message content is handed out as
//! a [`MessageContent`] handle (an open blob) read in async chunks of at most
//! [`CONTENT_CHUNK`] octets, so a PostgreSQL + object-store backend can implement the same
//! traits and every reader streams.
//!
//! Architecture invariant: a successful `append` (or `copy`/`move`) has made the message
//! and its metadata durable before it returns; the caller may acknowledge it to a client
//! or an MTA.
//!
//! Architecture invariant: UIDs are strictly increasing within a UIDVALIDITY and never
//! reused; `highest_modseq` of a mailbox never decreases.

// `deny`, not `forbid`: one audited call (`maildir::trim`) needs `unsafe`.
#![deny(unsafe_code)]

pub mod acl;
mod content;
pub mod hub;
mod list;
#[cfg(feature = "maildir")]
pub mod maildir;
pub mod mime;
mod staged;
#[cfg(feature = "testsuite")]
pub mod testsuite;
mod types;

pub use acl::{AclEntry, Rights, RightsChange, UnknownRight};
pub use content::{MessageContent, CONTENT_CHUNK};
pub use hub::{AccountEvent, AccountWatch, ChangeHub, MailboxWatch};
pub use list::{MessageList, MessageRef};
pub use mime::{BodyStructure, Envelope, MessageStructure, StructureDecodeError};
pub use staged::{MessageData, MessageSink, SpoolRead};
pub use types::*;

use async_trait::async_trait;
use std::sync::Arc;

/// A storage backend: hands out the stores of accounts.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Opens the mail store of one account, creating it (with an INBOX) on first use.
    /// Opening the same account twice returns handles onto the same shared state.
    async fn open_account(&self, key: &AccountKey) -> Result<Arc<dyn Account>, StoreError>;

    /// Removes an account's whole mail store. Used when an operator removes the account.
    async fn remove_account(&self, key: &AccountKey) -> Result<(), StoreError>;

    /// Moves an account's whole mail store to another key (`mailroom account rename`),
    /// then runs `then` (the directory's rename) before anyone can open either account:
    /// while it runs, opening `from` or `to` fails with `Busy` in every process working
    /// on the storage (a delivery is retried later, a login told to try again). When
    /// `then` fails, the store is moved back. `NotFound` if `from` has no store,
    /// `AlreadyExists` if `to` has one.
    async fn rename_account(
        &self,
        from: &AccountKey,
        to: &AccountKey,
        then: Box<dyn FnOnce() -> Result<(), StoreError> + Send>,
    ) -> Result<(), StoreError> {
        let _ = (from, to, then);
        Err(StoreError::Invalid(
            "renaming accounts is not supported by this storage backend".into(),
        ))
    }

    /// The change hub sessions use to learn of changes made by others.
    fn hub(&self) -> Arc<dyn ChangeHub>;
}

/// The mail store of one account: its mailboxes and their messages.
///
/// All methods are safe to call concurrently from many sessions (IMAP, POP3, LMTP) and
/// from other processes working on the same storage (`mailroom deliver`).
#[async_trait]
pub trait Account: Send + Sync {
    /// The key this store was opened with.
    fn key(&self) -> &AccountKey;

    // ---- mailboxes -------------------------------------------------------------------

    /// Every mailbox of the account, INBOX included, sorted by name.
    async fn list_mailboxes(&self) -> Result<Vec<MailboxInfo>, StoreError>;

    /// Looks a mailbox up by name (`INBOX` matched case-insensitively). `NotFound` if absent.
    async fn mailbox(&self, name: &str) -> Result<MailboxInfo, StoreError>;

    /// Creates a mailbox (parents are created as needed). `AlreadyExists` if it exists.
    async fn create_mailbox(
        &self,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> Result<MailboxInfo, StoreError>;

    /// Creates those of `wanted` that do not exist (the default mailboxes of a first
    /// login). Backends may remember that it was done and answer later calls at once.
    async fn ensure_mailboxes(&self, wanted: &[(&str, SpecialUse)]) -> Result<(), StoreError> {
        let have = self.list_mailboxes().await?;
        for (name, use_) in wanted {
            if have.iter().any(|m| m.name == *name) {
                continue;
            }
            match self.create_mailbox(name, Some(*use_)).await {
                Ok(_) | Err(StoreError::AlreadyExists(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Deletes a mailbox and its messages. INBOX cannot be deleted (`Invalid`). Inferior
    /// mailboxes are left in place (RFC 3501 6.3.4).
    async fn delete_mailbox(&self, name: &str) -> Result<(), StoreError>;

    /// Renames a mailbox and its inferiors. Renaming INBOX moves its messages into a new
    /// mailbox and leaves INBOX empty (RFC 3501 6.3.5).
    async fn rename_mailbox(&self, from: &str, to: &str) -> Result<(), StoreError>;

    /// Sets or clears the subscription of a name (the name need not exist).
    async fn set_subscribed(&self, name: &str, subscribed: bool) -> Result<(), StoreError>;

    /// The subscribed names.
    async fn subscriptions(&self) -> Result<Vec<String>, StoreError>;

    /// Counters for STATUS and quotas.
    async fn status(&self, mailbox: MailboxId) -> Result<MailboxStatus, StoreError>;

    /// Total octets and messages in all mailboxes (the quota usage).
    async fn usage(&self) -> Result<Usage, StoreError>;

    // ---- access control lists (RFC 4314) ----------------------------------------------
    //
    // The default implementations fail with `Invalid` ("not supported by this backend"):
    // a backend without ACL storage must never pretend to have stored one.

    /// The ACL of a mailbox (RFC 4314 section 3.3 GETACL), sorted by identifier.
    /// `NotFound` if the mailbox does not exist.
    async fn acl(&self, mailbox: MailboxId) -> Result<Vec<AclEntry>, StoreError> {
        let _ = mailbox;
        Err(acl_unsupported())
    }

    /// Every ACL entry of every mailbox of the account (for LIST of `~account/`).
    async fn all_acls(&self) -> Result<Vec<(MailboxId, AclEntry)>, StoreError> {
        Err(acl_unsupported())
    }

    /// Sets the rights of one identifier (RFC 4314 section 3.1 SETACL, after the server
    /// applied any `+`/`-` modifier): `user@domain`, `anyone`, or `-` + either for negative
    /// rights (`Invalid` otherwise). Empty rights remove the entry. The entry is keyed by
    /// the mailbox id: it follows renames and is removed with the mailbox.
    async fn set_acl(
        &self,
        mailbox: MailboxId,
        identifier: &str,
        rights: Rights,
    ) -> Result<(), StoreError> {
        let _ = (mailbox, identifier, rights);
        Err(acl_unsupported())
    }

    /// Removes an identifier's entry (RFC 4314 section 3.2 DELETEACL); no error if absent.
    async fn delete_acl(&self, mailbox: MailboxId, identifier: &str) -> Result<(), StoreError> {
        let _ = (mailbox, identifier);
        Err(acl_unsupported())
    }

    // ---- messages --------------------------------------------------------------------

    /// Picks up changes made outside this process (messages added, flags changed or
    /// messages removed by other programs working on the storage) and records them with
    /// fresh modseqs. A backend that no one else can change makes this a no-op.
    async fn sync(&self, mailbox: MailboxId) -> Result<(), StoreError>;

    /// Every message of the mailbox, in UID order, with its metadata (no content).
    async fn messages(&self, mailbox: MailboxId) -> Result<MailboxSnapshot, StoreError>;

    /// What changed in a mailbox after `since` (a modseq previously seen): new or changed
    /// messages with their current metadata, and UIDs expunged.
    async fn changes_since(&self, mailbox: MailboxId, since: ModSeq)
        -> Result<Changes, StoreError>;

    /// Stores a new message durably and returns its UID. See the type's docs.
    async fn append(
        &self,
        mailbox: MailboxId,
        request: AppendRequest,
    ) -> Result<AppendOutcome, StoreError>;

    /// Changes flags and keywords of the given UIDs (missing UIDs are ignored). Returns
    /// the messages whose flags actually changed, with their new state.
    async fn store_flags(
        &self,
        mailbox: MailboxId,
        uids: &[Uid],
        op: FlagOp,
        flags: Flags,
        keywords: &[String],
    ) -> Result<Vec<MessageMeta>, StoreError>;

    /// The conditional STORE of RFC 7162 3.1.3 (`UNCHANGEDSINCE`): like
    /// [`Account::store_flags`] for the messages whose modseq is at most
    /// `unchanged_since`; the others are left alone and returned as failed. The test and
    /// the change are one atomic step: no change by anyone else comes between them.
    /// Returns (messages whose flags changed, with their new state; UIDs that failed,
    /// ascending). Missing UIDs are in neither.
    async fn store_flags_unchanged_since(
        &self,
        mailbox: MailboxId,
        uids: &[Uid],
        op: FlagOp,
        flags: Flags,
        keywords: &[String],
        unchanged_since: ModSeq,
    ) -> Result<(Vec<MessageMeta>, Vec<Uid>), StoreError> {
        let _ = (mailbox, uids, op, flags, keywords, unchanged_since);
        Err(StoreError::Invalid(
            "conditional STORE is not supported by this storage backend".into(),
        ))
    }

    /// Permanently removes messages. With `uids` = `None`, every message flagged
    /// `\Deleted`; with `Some`, only those of the given UIDs that are flagged `\Deleted`
    /// (UID EXPUNGE); with `force`, the given UIDs whatever their flags (POP3 DELE,
    /// MOVE). Returns the UIDs removed, ascending.
    async fn expunge(
        &self,
        mailbox: MailboxId,
        uids: Option<&[Uid]>,
        force: bool,
    ) -> Result<Vec<Uid>, StoreError>;

    /// Copies messages into another mailbox of this account, keeping flags, keywords and
    /// internal dates. Returns (source UID, new UID) pairs in source UID order.
    async fn copy(
        &self,
        from: MailboxId,
        uids: &[Uid],
        to: MailboxId,
    ) -> Result<CopyOutcome, StoreError>;

    /// Moves messages into another mailbox of this account (copy + expunge, atomic for
    /// other sessions: they see the new messages and the expunges).
    async fn move_messages(
        &self,
        from: MailboxId,
        uids: &[Uid],
        to: MailboxId,
    ) -> Result<CopyOutcome, StoreError>;

    /// Opens a message's content. `NotFound` if it was expunged (also from outside this
    /// process).
    async fn open_message(
        &self,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Result<Arc<dyn MessageContent>, StoreError>;

    /// The parsed structure of a message (envelope, MIME tree with offsets, sizes, line
    /// counts, header block), computed once when the message was indexed.
    async fn structure(
        &self,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Result<Arc<MessageStructure>, StoreError>;

    /// METADATA entries (RFC 5464) of a mailbox, or with `None` the account's own server
    /// entries, sorted by name: `(name, value)`, names as the server checked them.
    /// `NotFound` if the mailbox does not exist. Default: not supported (`Invalid`).
    async fn metadata(
        &self,
        mailbox: Option<MailboxId>,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let _ = mailbox;
        Err(StoreError::Invalid(
            "METADATA is not supported by this backend".into(),
        ))
    }

    /// Sets (`Some`) and removes (`None`) METADATA entries all at once: `Ok(false)`, and
    /// nothing changed, when the mailbox (or the account's server entries) would then
    /// hold more than `max_entries` entries. Entries follow RENAME and go with DELETE.
    async fn set_metadata(
        &self,
        mailbox: Option<MailboxId>,
        changes: Vec<(String, Option<Vec<u8>>)>,
        max_entries: usize,
    ) -> Result<bool, StoreError> {
        let _ = (mailbox, changes, max_entries);
        Err(StoreError::Invalid(
            "METADATA is not supported by this backend".into(),
        ))
    }

    /// The cached preview text of a message (RFC 8970), if the backend keeps one. A
    /// cache: the default keeps nothing.
    async fn preview(&self, mailbox: MailboxId, uid: Uid) -> Result<Option<String>, StoreError> {
        let _ = (mailbox, uid);
        Ok(None)
    }

    /// Caches a message's preview text (computed by the server from the content);
    /// nothing happens when the message is gone or the backend keeps no cache.
    async fn set_preview(
        &self,
        mailbox: MailboxId,
        uid: Uid,
        text: &str,
    ) -> Result<(), StoreError> {
        let _ = (mailbox, uid, text);
        Ok(())
    }

    /// The cached sort keys of a mailbox's messages (see [`SortKeys`]) written with
    /// `version` (the server's version of how it computes them; rows of another version
    /// are not returned), by UID. A cache: the default keeps nothing.
    async fn sort_keys(
        &self,
        mailbox: MailboxId,
        version: u32,
    ) -> Result<std::collections::HashMap<Uid, SortKeys>, StoreError> {
        let _ = (mailbox, version);
        Ok(std::collections::HashMap::new())
    }

    /// Caches sort keys (computed by the server from the structure) under `version`, all
    /// in one write; keys of messages that are gone are not kept. They go with their
    /// message (EXPUNGE, MOVE away) and with the mailbox (DELETE).
    async fn set_sort_keys(
        &self,
        mailbox: MailboxId,
        version: u32,
        keys: Vec<(Uid, SortKeys)>,
    ) -> Result<(), StoreError> {
        let _ = (mailbox, version, keys);
        Ok(())
    }

    /// The MAILBOXID of a mailbox (RFC 8474 4): an `objectid` the mailbox keeps through
    /// RENAME and no other mailbox of the account ever gets. `NotFound` if the mailbox
    /// does not exist. Default: not supported (`Invalid`).
    async fn mailbox_object_id(&self, mailbox: MailboxId) -> Result<String, StoreError> {
        let _ = mailbox;
        Err(objects_unsupported())
    }

    /// The [`MessageObject`]s (EMAILID, THREADID, save date) of the given UIDs that are in
    /// the mailbox, ascending by UID (missing UIDs are left out). Default: not supported
    /// (`Invalid`): a backend must not make up ids that do not stay the same.
    async fn objects(
        &self,
        mailbox: MailboxId,
        uids: &[Uid],
    ) -> Result<Vec<MessageObject>, StoreError> {
        let _ = (mailbox, uids);
        Err(objects_unsupported())
    }

    /// Claims the `\Recent` messages for one session (RFC 3501 2.3.2: recent to exactly
    /// one session). Returns the lowest UID that is recent for the caller: every message
    /// with a UID at or above it is recent for the caller and for no other session.
    async fn claim_recent(&self, mailbox: MailboxId) -> Result<Uid, StoreError>;

    // ---- migration (`mailroom import`) ------------------------------------------------
    //
    // The default implementations fail with `Invalid`: a backend that cannot keep another
    // server's UIDs must say so, never renumber silently.

    /// Gives a mailbox that holds no message the UIDVALIDITY of the server the mail comes
    /// from (UIDNEXT restarts at 1). `Invalid` if it holds messages (their UIDs belong to
    /// its current UIDVALIDITY) or `uid_validity` is 0.
    async fn set_uid_validity(
        &self,
        mailbox: MailboxId,
        uid_validity: u32,
    ) -> Result<(), StoreError> {
        let _ = (mailbox, uid_validity);
        Err(import_unsupported())
    }

    /// [`Account::append`] under a given UID, at or above the mailbox's UIDNEXT
    /// (`Invalid` otherwise: UIDs are never reused); UIDNEXT becomes `uid + 1`.
    async fn append_with_uid(
        &self,
        mailbox: MailboxId,
        uid: Uid,
        request: AppendRequest,
    ) -> Result<AppendOutcome, StoreError> {
        let _ = (mailbox, uid, request);
        Err(import_unsupported())
    }

    /// Ends an import into a mailbox: UIDNEXT raised to `uid_next` (never lowered), and
    /// the messages below it no longer `\Recent`.
    async fn finish_import(&self, mailbox: MailboxId, uid_next: Uid) -> Result<(), StoreError> {
        let _ = (mailbox, uid_next);
        Err(import_unsupported())
    }

    /// Keeps POP3 unique-ids for messages (RFC 1939 section 7: 1 to 70 characters in
    /// 0x21..=0x7E, `Invalid` otherwise), shown by UIDL instead of the configured format.
    async fn set_pop3_uidls(
        &self,
        mailbox: MailboxId,
        uidls: &[(Uid, String)],
    ) -> Result<(), StoreError> {
        let _ = (mailbox, uidls);
        Err(import_unsupported())
    }

    /// The POP3 unique-ids kept by [`Account::set_pop3_uidls`], ascending by UID (a
    /// backend that keeps none has none).
    async fn pop3_uidls(&self, mailbox: MailboxId) -> Result<Vec<(Uid, String)>, StoreError> {
        let _ = mailbox;
        Ok(Vec::new())
    }

    /// Like [`Account::claim_recent`], but claims only the messages below `upto` (the
    /// UIDNEXT of the snapshot the session shows), so a message that arrives meanwhile
    /// stays recent for whichever session sees it first. Returns the lowest UID recent
    /// for the caller: its recent messages are those in `returned..upto`.
    async fn claim_recent_upto(&self, mailbox: MailboxId, upto: Uid) -> Result<Uid, StoreError> {
        let _ = upto;
        self.claim_recent(mailbox).await
    }
}

/// Opens the default backend (Maildir files plus a SQLite index per account, see
/// [`maildir`]) rooted at `root`, creating it if needed. For code that needs *a* store
/// and does not pick one: tests and tools. Production code that picks the backend (the
/// binary) names it; `mailroom-server` never enables this feature.
#[cfg(feature = "maildir")]
pub fn open_default(root: std::path::PathBuf) -> Result<Arc<dyn Store>, StoreError> {
    let store: Arc<dyn Store> = maildir::MaildirStore::open(root)?;
    Ok(store)
}

fn import_unsupported() -> StoreError {
    StoreError::Invalid(
        "keeping another server's UIDs is not supported by this storage backend".into(),
    )
}

fn objects_unsupported() -> StoreError {
    StoreError::Invalid("object ids and save dates are not kept by this storage backend".into())
}

fn acl_unsupported() -> StoreError {
    StoreError::Invalid("ACLs are not supported by this storage backend".into())
}
