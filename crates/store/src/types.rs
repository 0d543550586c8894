//! The data model the storage traits speak: UIDs, modseqs, flags, mailboxes, messages.

use crate::MessageData;
use std::fmt;

/// A message UID (RFC 3501 2.3.1.1): non-zero, strictly ascending within a mailbox.
pub type Uid = u32;

/// A modification sequence (RFC 7162): every change in a mailbox gets a higher one.
pub type ModSeq = u64;

/// Identifies an account's mail store: `domain/name`, lower case, as the directory gives
/// it. Only `[a-z0-9._-]` and one `/` are allowed, so it is safe as a path on any backend.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountKey(String);

impl AccountKey {
    /// Builds a key from a domain and an account name. `None` if either holds a character
    /// outside `[a-z0-9._-]` (after lower-casing), is empty, or starts with a dot.
    pub fn new(domain: &str, name: &str) -> Option<AccountKey> {
        fn ok(s: &str) -> bool {
            !s.is_empty()
                && !s.starts_with('.')
                && s.len() <= 255
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        }
        let d = domain.to_ascii_lowercase();
        let n = name.to_ascii_lowercase();
        (ok(&d) && ok(&n)).then(|| AccountKey(format!("{d}/{n}")))
    }
    /// `domain/name`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The domain part.
    pub fn domain(&self) -> &str {
        self.0.split_once('/').map(|(d, _)| d).unwrap_or("")
    }
    /// The account-name part.
    pub fn name(&self) -> &str {
        self.0.split_once('/').map(|(_, n)| n).unwrap_or("")
    }
}

impl fmt::Display for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A mailbox's identity inside one account's store. Stable across renames; never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailboxId(pub i64);

/// RFC 6154 special-use attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpecialUse {
    All,
    Archive,
    Drafts,
    Flagged,
    Junk,
    Sent,
    Trash,
}

impl SpecialUse {
    /// The attribute as written in LIST (`\Sent`).
    pub fn as_imap(self) -> &'static str {
        match self {
            SpecialUse::All => "\\All",
            SpecialUse::Archive => "\\Archive",
            SpecialUse::Drafts => "\\Drafts",
            SpecialUse::Flagged => "\\Flagged",
            SpecialUse::Junk => "\\Junk",
            SpecialUse::Sent => "\\Sent",
            SpecialUse::Trash => "\\Trash",
        }
    }
    /// Parses `\Sent` etc. (case-insensitive).
    pub fn from_imap(s: &str) -> Option<SpecialUse> {
        let all = [
            SpecialUse::All,
            SpecialUse::Archive,
            SpecialUse::Drafts,
            SpecialUse::Flagged,
            SpecialUse::Junk,
            SpecialUse::Sent,
            SpecialUse::Trash,
        ];
        all.into_iter()
            .find(|u| u.as_imap().eq_ignore_ascii_case(s))
    }
}

/// A mailbox as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailboxInfo {
    pub id: MailboxId,
    /// Full name, UTF-8, hierarchy delimiter `/`; INBOX is always spelt `INBOX`.
    pub name: String,
    pub uid_validity: u32,
    pub special_use: Option<SpecialUse>,
}

/// Counters of one mailbox (STATUS, SELECT).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailboxStatus {
    pub messages: u32,
    pub unseen: u32,
    pub uid_next: Uid,
    pub uid_validity: u32,
    pub highest_modseq: ModSeq,
    /// Sum of the messages' sizes (RFC 8438 STATUS=SIZE).
    pub size: u64,
    /// Messages at or above the first recent UID not yet claimed by a session.
    pub recent: u32,
}

/// Quota usage of an account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub bytes: u64,
    pub messages: u64,
}

/// The system flags of RFC 3501 2.3.2 (`\Recent` is per session, not stored).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(pub u8);

impl Flags {
    pub const SEEN: Flags = Flags(1);
    pub const ANSWERED: Flags = Flags(2);
    pub const FLAGGED: Flags = Flags(4);
    pub const DELETED: Flags = Flags(8);
    pub const DRAFT: Flags = Flags(16);
    pub const EMPTY: Flags = Flags(0);

    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
    pub fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
    pub fn difference(self, other: Flags) -> Flags {
        Flags(self.0 & !other.0)
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// The flags with their IMAP names, in a fixed order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        [
            (Flags::SEEN, "\\Seen"),
            (Flags::ANSWERED, "\\Answered"),
            (Flags::FLAGGED, "\\Flagged"),
            (Flags::DELETED, "\\Deleted"),
            (Flags::DRAFT, "\\Draft"),
        ]
        .into_iter()
        .filter(move |(f, _)| self.contains(*f))
        .map(|(_, n)| n)
    }
    /// Parses one system flag name (case-insensitive); `None` for keywords and `\Recent`.
    pub fn from_imap(name: &str) -> Option<Flags> {
        [
            (Flags::SEEN, "\\Seen"),
            (Flags::ANSWERED, "\\Answered"),
            (Flags::FLAGGED, "\\Flagged"),
            (Flags::DELETED, "\\Deleted"),
            (Flags::DRAFT, "\\Draft"),
        ]
        .into_iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(name))
        .map(|(f, _)| f)
    }
}

/// How STORE changes flags (RFC 3501 6.4.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagOp {
    /// `FLAGS`: replace.
    Set,
    /// `+FLAGS`: add.
    Add,
    /// `-FLAGS`: remove.
    Remove,
}

/// One message's metadata as kept in the index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageMeta {
    pub uid: Uid,
    pub flags: Flags,
    /// Keywords (RFC 3501 `flag-keyword`), as first spelt, sorted, no duplicates
    /// (compared case-insensitively).
    pub keywords: Vec<String>,
    pub modseq: ModSeq,
    /// Internal date: seconds since the Unix epoch, and the zone offset in minutes.
    pub internal_date: i64,
    pub internal_date_tz: i32,
    /// Size in octets of the CRLF form (RFC822.SIZE).
    pub size: u64,
}

/// The sort and thread keys of one message (RFC 5256 sections 3 and 4, RFC 5957),
/// computed once by the server from the parsed structure and kept by the store
/// (`Account::sort_keys`), so SORT and THREAD never parse messages again. Text keys are
/// in the server's comparison form (its comparator already applied); the store only
/// keeps them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SortKeys {
    /// The base subject (RFC 5256 2.1), compared as octets.
    pub subject: Vec<u8>,
    /// Removing a reply or forward marker made the base subject (RFC 5256 4, step 5).
    pub reply: bool,
    /// The `addr-mailbox` of the first From/To/Cc address (RFC 5256 3).
    pub from: Vec<u8>,
    pub to: Vec<u8>,
    pub cc: Vec<u8>,
    /// The display name of the first From/To address, else its address (RFC 5957).
    pub display_from: Vec<u8>,
    pub display_to: Vec<u8>,
    /// The sent date (`Date:`) in seconds since the epoch, when usable.
    pub sent_date: Option<i64>,
    /// The Message-ID, without angle brackets.
    pub message_id: Option<String>,
    /// References (or the first In-Reply-To id), oldest first, without angle brackets.
    pub references: Vec<String>,
}

/// What a message carries beside its metadata for OBJECTID (RFC 8474) and SAVEDATE
/// (RFC 8514), read on demand (FETCH EMAILID/SAVEDATE, SEARCH on them) rather than kept
/// in the [`crate::MessageList`] of every open mailbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageObject {
    pub uid: Uid,
    /// The EMAILID (RFC 8474 5.1): an `objectid` (1 to 255 of `A-Za-z0-9_-`), the same
    /// for the copy COPY or MOVE makes, never given to other content.
    pub email_id: String,
    /// The THREADID (RFC 8474 5.2), `None` when the backend does not compute threads.
    pub thread_id: Option<String>,
    /// When the message was saved into this mailbox (Unix seconds; RFC 8514 3: APPEND,
    /// COPY, MOVE and delivery set it, it never changes while the message stays), `None`
    /// when unknown.
    pub save_date: Option<i64>,
}

/// Every message of a mailbox at one moment.
#[derive(Clone, Debug, Default)]
pub struct MailboxSnapshot {
    pub uid_validity: u32,
    pub uid_next: Uid,
    pub highest_modseq: ModSeq,
    /// In ascending UID order; shared (cloning it copies nothing).
    pub messages: crate::MessageList,
}

/// What changed since a modseq.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    pub highest_modseq: ModSeq,
    pub uid_next: Uid,
    /// Messages added or whose flags changed, ascending UID, current state.
    pub changed: Vec<MessageMeta>,
    /// UIDs removed, ascending.
    pub expunged: Vec<Uid>,
    /// True if the mailbox's UIDVALIDITY changed (the caller must start over).
    pub uid_validity_changed: bool,
    /// Every message as of `highest_modseq`, when the backend keeps the mailbox in
    /// memory: a session whose view has caught up takes this list instead of its own
    /// copy, so that sessions share one list.
    pub current: Option<crate::MessageList>,
}

/// A message to store.
#[derive(Debug)]
pub struct AppendRequest {
    /// Octets written before `data` (trace header fields such as `Return-Path:` and
    /// `Delivered-To:` that differ per recipient). Usually empty.
    pub prefix: Vec<u8>,
    pub data: MessageData,
    pub flags: Flags,
    pub keywords: Vec<String>,
    /// Internal date (seconds since the epoch, zone offset in minutes); `None` = now.
    pub internal_date: Option<(i64, i32)>,
}

/// The result of an append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendOutcome {
    pub uid_validity: u32,
    pub uid: Uid,
    pub modseq: ModSeq,
}

/// The result of a copy or move: (source UID, destination UID) pairs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyOutcome {
    pub uid_validity: u32,
    pub pairs: Vec<(Uid, Uid)>,
}

/// Storage errors. Each says whose fault it was: the caller's (`NotFound`,
/// `AlreadyExists`, `Invalid`), the store's state (`OverQuota`, `Busy`), or the
/// system's (`Io`, `Index`, `Corrupt`).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("over quota")]
    OverQuota,
    #[error("the store is busy, try again")]
    Busy,
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("index error: {0}")]
    Index(String),
    #[error("corrupt store: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// True when the filesystem (or the user's disk quota) is full: `ENOSPC`/`EDQUOT`
    /// from a file operation, `SQLITE_FULL` from the index. Temporary, like
    /// [`StoreError::is_temporary`]; answered as "not enough disk space".
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::Io(e) => io_is_disk_full(e),
            StoreError::Index(m) => {
                m.contains("database or disk is full") || m.contains("No space left on device")
            }
            _ => false,
        }
    }

    /// True for failures that may go away if retried (full disk, busy index, I/O).
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            StoreError::Busy | StoreError::Io(_) | StoreError::Index(_)
        )
    }
}

/// True for an I/O error that says the filesystem or the disk quota is full (`ENOSPC`,
/// `EDQUOT`), also when it was wrapped with a message.
pub fn io_is_disk_full(e: &std::io::Error) -> bool {
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;
    e.kind() == std::io::ErrorKind::StorageFull
        || matches!(e.raw_os_error(), Some(ENOSPC | EDQUOT))
        || e.to_string().contains("No space left on device")
}
