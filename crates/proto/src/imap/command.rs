//! The typed command AST and the command table.
//!
//! What lives here: [`Command`] (tag + [`CommandBody`]), the argument types of each
//! command, and [`CommandKind`], the declarative table that says in which session states
//! a command is allowed and whether it uses or breaks message sequence numbers (RFC 3501
//! 7.4.1, 5.5; Dovecot's command flags). What does not: parsing ([`super::parse`]) and
//! executing commands (the server's `imap/cmd/<command>.rs`).

use std::num::NonZeroU32;

use super::types::{Date, DateTime, Flag, Mailbox, Secret, SequenceSet, Tag};

/// A parsed client command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The client's tag.
    pub tag: Tag,
    /// The command and its arguments.
    pub body: CommandBody,
}

impl Command {
    /// The command's entry in the command table.
    pub fn kind(&self) -> CommandKind {
        self.body.kind()
    }
}

/// Literal data of an APPEND message: kept inline, or streamed by the framer (the
/// server maps `index` to the spool file it wrote during [`super::frame::Event::StreamData`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiteralData {
    /// The octets.
    Inline(Vec<u8>),
    /// Streamed literal number `index` of the command, of `size` octets.
    Streamed {
        /// Index among the command's streamed literals.
        index: usize,
        /// Size in octets.
        size: u32,
    },
}

impl LiteralData {
    /// The size in octets.
    pub fn len(&self) -> usize {
        match self {
            LiteralData::Inline(v) => v.len(),
            LiteralData::Streamed { size, .. } => *size as usize,
        }
    }

    /// Whether the literal is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One message of APPEND (several with MULTIAPPEND, RFC 3502).
///
/// ```text
/// append = "APPEND" SP mailbox 1*append-message
/// append-message = [SP flag-list] [SP date-time] SP literal
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage {
    /// Flags to set (`\Recent` refused).
    pub flags: Vec<Flag>,
    /// The internal date to set.
    pub date: Option<DateTime>,
    /// The message.
    pub data: AppendData,
}

/// What an APPEND message is made of.
///
/// ```text
/// append-data =/ "CATENATE" SP "(" cat-part *(SP cat-part) ")"   ; RFC 4469 5
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendData {
    /// One literal (RFC 3501; `literal8`, RFC 3516).
    Literal(LiteralData),
    /// `CATENATE (...)` (RFC 4469): the parts, joined in order.
    Catenate(Vec<CatPart>),
}

impl AppendData {
    /// Octets the client sends for it: the literal, or every `TEXT` literal.
    pub fn len(&self) -> usize {
        match self {
            AppendData::Literal(l) => l.len(),
            AppendData::Catenate(parts) => parts
                .iter()
                .map(|p| match p {
                    CatPart::Text(l) => l.len(),
                    CatPart::Url(_) => 0,
                })
                .sum(),
        }
    }

    /// Whether the client sends no octets for it.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One part of a CATENATE (RFC 4469 5).
///
/// ```text
/// cat-part = text-literal / url
/// text-literal = "TEXT" SP literal
/// url = "URL" SP astring
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatPart {
    /// `TEXT literal`: these octets.
    Text(LiteralData),
    /// `URL astring`: the octets of a message or part named by an IMAP URL (RFC 5092),
    /// as sent (the server resolves it).
    Url(String),
}

/// A STATUS data item (RFC 3501 6.3.10, RFC 8438 SIZE, RFC 7162 HIGHESTMODSEQ, and the
/// CommuniGate Pro items of seed 001).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusItem {
    /// `MESSAGES`.
    Messages,
    /// `RECENT`.
    Recent,
    /// `UIDNEXT`.
    UidNext,
    /// `UIDVALIDITY`.
    UidValidity,
    /// `UNSEEN`.
    Unseen,
    /// `SIZE` (RFC 8438).
    Size,
    /// `HIGHESTMODSEQ` (RFC 7162).
    HighestModSeq,
    /// `DELETED` (RFC 9051): messages with `\\Deleted`.
    Deleted,
    /// `DELETED-STORAGE` (RFC 9208): storage freed by an EXPUNGE.
    DeletedStorage,
    /// `INTERNALSIZE` (vendor: storage size of the mailbox).
    InternalSize,
    /// `OLDEST` (vendor: INTERNALDATE of the oldest message).
    Oldest,
    /// `UNSEENMEDIA` (vendor: messages with `$Media` and without `\Seen`).
    UnseenMedia,
    /// `APPENDLIMIT` (RFC 7889): the largest message APPEND accepts.
    AppendLimit,
    /// `MAILBOXID` (RFC 8474 4.3): the mailbox's object id.
    MailboxId,
}

impl StatusItem {
    /// From the item name (case-insensitive).
    pub fn from_name(s: &str) -> Option<StatusItem> {
        Some(match s.to_ascii_uppercase().as_str() {
            "MESSAGES" => StatusItem::Messages,
            "RECENT" => StatusItem::Recent,
            "UIDNEXT" => StatusItem::UidNext,
            "UIDVALIDITY" => StatusItem::UidValidity,
            "UNSEEN" => StatusItem::Unseen,
            "SIZE" => StatusItem::Size,
            "HIGHESTMODSEQ" => StatusItem::HighestModSeq,
            "DELETED" => StatusItem::Deleted,
            "DELETED-STORAGE" => StatusItem::DeletedStorage,
            "INTERNALSIZE" => StatusItem::InternalSize,
            "OLDEST" => StatusItem::Oldest,
            "UNSEENMEDIA" => StatusItem::UnseenMedia,
            "APPENDLIMIT" => StatusItem::AppendLimit,
            "MAILBOXID" => StatusItem::MailboxId,
            _ => return None,
        })
    }

    /// The item name as sent in responses.
    pub fn name(self) -> &'static str {
        match self {
            StatusItem::Messages => "MESSAGES",
            StatusItem::Recent => "RECENT",
            StatusItem::UidNext => "UIDNEXT",
            StatusItem::UidValidity => "UIDVALIDITY",
            StatusItem::Unseen => "UNSEEN",
            StatusItem::Size => "SIZE",
            StatusItem::HighestModSeq => "HIGHESTMODSEQ",
            StatusItem::Deleted => "DELETED",
            StatusItem::DeletedStorage => "DELETED-STORAGE",
            StatusItem::InternalSize => "INTERNALSIZE",
            StatusItem::Oldest => "OLDEST",
            StatusItem::UnseenMedia => "UNSEENMEDIA",
            StatusItem::AppendLimit => "APPENDLIMIT",
            StatusItem::MailboxId => "MAILBOXID",
        }
    }
}

/// LIST selection options (RFC 5258 3.1, RFC 6154).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListSelection {
    /// `SUBSCRIBED`.
    pub subscribed: bool,
    /// `REMOTE`.
    pub remote: bool,
    /// `RECURSIVEMATCH` (only with another selection option).
    pub recursive_match: bool,
    /// `SPECIAL-USE` (RFC 6154).
    pub special_use: bool,
}

/// LIST return options (RFC 5258 3.2, RFC 5819 LIST-STATUS, RFC 6154) and the vendor
/// items of seed 001, answered as `\UNSEEN(14)`-style attributes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListReturn {
    /// `SUBSCRIBED`.
    pub subscribed: bool,
    /// `CHILDREN`.
    pub children: bool,
    /// `SPECIAL-USE`.
    pub special_use: bool,
    /// `STATUS (items)`: answered with untagged STATUS responses.
    pub status: Vec<StatusItem>,
    /// `MYRIGHTS` (RFC 8440): answered with untagged MYRIGHTS responses.
    pub myrights: bool,
    /// Vendor items (`UIDVALIDITY MESSAGES UIDNEXT UNSEEN INTERNALSIZE OLDEST
    /// UNSEENMEDIA`), in the order sent; accepted in the selection-option position too,
    /// as CommuniGate Pro does (`LIST (CHILDREN UNSEEN INTERNALSIZE) "" "ma%"`).
    pub vendor: Vec<StatusItem>,
}

/// A LIST command (RFC 3501 6.3.8, RFC 5258 LIST-EXTENDED).
///
/// ```text
/// list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]
/// mbox-or-pat = list-mailbox / patterns
/// patterns = "(" list-mailbox *(SP list-mailbox) ")"
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    /// Selection options.
    pub selection: ListSelection,
    /// Reference name (decoded from modified UTF-7, INBOX not normalised).
    pub reference: String,
    /// One or more patterns (decoded; `*` and `%` kept as wildcards); none when the
    /// reference or a pattern is not valid modified UTF-7 (the LIST matches nothing).
    pub patterns: Vec<String>,
    /// Return options.
    pub returns: ListReturn,
    /// Whether any extended syntax was used (answers then follow RFC 5258).
    pub extended: bool,
}

/// A section specification (RFC 3501 6.4.5).
///
/// ```text
/// section = "[" [section-spec] "]"
/// section-spec = section-msgtext / (section-part ["." section-text])
/// section-part = nz-number *("." nz-number)
/// section-text = section-msgtext / "MIME"
/// section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// The part path (`1.2.3`), empty for the whole message.
    pub part: Vec<NonZeroU32>,
    /// What of the part.
    pub text: Option<SectionText>,
}

/// `section-text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// `HEADER`.
    Header,
    /// `HEADER.FIELDS (names)`, names as sent (compare case-insensitively).
    HeaderFields(Vec<String>),
    /// `HEADER.FIELDS.NOT (names)`.
    HeaderFieldsNot(Vec<String>),
    /// `TEXT`.
    Text,
    /// `MIME` (only after a part number).
    Mime,
}

/// A FETCH data item (RFC 3501 6.4.5; macros ALL/FAST/FULL are expanded by the parser).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttribute {
    /// `ENVELOPE`.
    Envelope,
    /// `FLAGS`.
    Flags,
    /// `INTERNALDATE`.
    InternalDate,
    /// `RFC822` (sets `\Seen`).
    Rfc822,
    /// `RFC822.HEADER`.
    Rfc822Header,
    /// `RFC822.SIZE`.
    Rfc822Size,
    /// `RFC822.TEXT` (sets `\Seen`).
    Rfc822Text,
    /// `BODY` (non-extensible BODYSTRUCTURE).
    Body,
    /// `BODYSTRUCTURE`.
    BodyStructure,
    /// `UID`.
    Uid,
    /// `MODSEQ` (RFC 7162).
    ModSeq,
    /// `PREVIEW` / `PREVIEW (LAZY)` (RFC 8970).
    Preview {
        /// `LAZY`: NIL is allowed when the preview is not readily available.
        lazy: bool,
    },
    /// `SAVEDATE` (RFC 8514).
    SaveDate,
    /// `EMAILID` (RFC 8474 5.3).
    EmailId,
    /// `THREADID` (RFC 8474 5.3).
    ThreadId,
    /// `BINARY[part]<partial>` / `BINARY.PEEK[...]` (RFC 3516): the part's content with
    /// its Content-Transfer-Encoding undone.
    Binary {
        /// `.PEEK`: do not set `\Seen`.
        peek: bool,
        /// The part path, empty for the whole message.
        part: Vec<NonZeroU32>,
        /// `<start.length>`.
        partial: Option<(u64, NonZeroU32)>,
    },
    /// `BINARY.SIZE[part]` (RFC 3516): the size of the decoded part.
    BinarySize {
        /// The part path, empty for the whole message.
        part: Vec<NonZeroU32>,
    },
    /// `BODY[section]<partial>` / `BODY.PEEK[...]`.
    BodySection {
        /// `.PEEK`: do not set `\Seen`.
        peek: bool,
        /// The section.
        section: Section,
        /// `<start.length>`.
        partial: Option<(u64, NonZeroU32)>,
    },
}

/// GETMETADATA's `DEPTH` (RFC 5464 4.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataDepth {
    /// `0` (the default): the entry itself.
    Zero,
    /// `1`: and its children.
    One,
    /// `infinity`: and every entry below it.
    Infinity,
}

/// STORE's operation (RFC 3501 6.4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// `FLAGS`.
    Replace,
    /// `+FLAGS`.
    Add,
    /// `-FLAGS`.
    Remove,
}

/// A SEARCH key (RFC 3501 6.4.4). Strings are kept as octets (their charset is the
/// command's CHARSET).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// `ALL`.
    All,
    /// `ANSWERED`.
    Answered,
    /// `BCC string`.
    Bcc(Vec<u8>),
    /// `BEFORE date`.
    Before(Date),
    /// `BODY string`.
    Body(Vec<u8>),
    /// `CC string`.
    Cc(Vec<u8>),
    /// `DELETED`.
    Deleted,
    /// `DRAFT`.
    Draft,
    /// `FLAGGED`.
    Flagged,
    /// `FROM string`.
    From(Vec<u8>),
    /// `HEADER field-name string`.
    Header(String, Vec<u8>),
    /// `KEYWORD flag-keyword`.
    Keyword(String),
    /// `LARGER n` (RFC 9051: `number64`).
    Larger(u64),
    /// `NEW`.
    New,
    /// `NOT key`.
    Not(Box<SearchKey>),
    /// `OLD`.
    Old,
    /// `ON date`.
    On(Date),
    /// `OR key key`.
    Or(Box<SearchKey>, Box<SearchKey>),
    /// `RECENT`.
    Recent,
    /// `SEEN`.
    Seen,
    /// `SENTBEFORE date`.
    SentBefore(Date),
    /// `SENTON date`.
    SentOn(Date),
    /// `SENTSINCE date`.
    SentSince(Date),
    /// `SINCE date`.
    Since(Date),
    /// `SMALLER n` (RFC 9051: `number64`).
    Smaller(u64),
    /// `SUBJECT string`.
    Subject(Vec<u8>),
    /// `TEXT string`.
    Text(Vec<u8>),
    /// `TO string`.
    To(Vec<u8>),
    /// `UID sequence-set` (`$`: the saved result, RFC 5182).
    Uid(SequenceSet),
    /// `UNANSWERED`.
    Unanswered,
    /// `UNDELETED`.
    Undeleted,
    /// `UNDRAFT`.
    Undraft,
    /// `UNFLAGGED`.
    Unflagged,
    /// `UNKEYWORD flag-keyword`.
    Unkeyword(String),
    /// `UNSEEN`.
    Unseen,
    /// `SAVEDBEFORE date` (RFC 8514).
    SavedBefore(Date),
    /// `SAVEDON date` (RFC 8514).
    SavedOn(Date),
    /// `SAVEDSINCE date` (RFC 8514).
    SavedSince(Date),
    /// `SAVEDATESUPPORTED` (RFC 8514).
    SaveDateSupported,
    /// `EMAILID objectid` (RFC 8474 6): the message's EMAILID is exactly this one.
    EmailId(String),
    /// `THREADID objectid` (RFC 8474 6): the message's THREADID is exactly this one.
    ThreadId(String),
    /// `OLDER interval` (RFC 5032): INTERNALDATE at or before now minus `interval` seconds.
    Older(NonZeroU32),
    /// `YOUNGER interval` (RFC 5032): INTERNALDATE at or after now minus `interval` seconds.
    Younger(NonZeroU32),
    /// `MODSEQ n` (RFC 7162; entry-name arguments are accepted and dropped).
    ModSeq(u64),
    /// A bare sequence set.
    SequenceSet(SequenceSet),
    /// `( key *(SP key) )`, and the implicit AND of the top level.
    And(Vec<SearchKey>),
}

/// A PARTIAL range (RFC 9394): the results `first:second` (either order) counted from
/// 1 at the lowest UID, or with `from_end` (`-first:-second`) from 1 at the highest.
///
/// ```text
/// partial-range-first = nz-number ":" nz-number
/// partial-range-last  = MINUS nz-number ":" MINUS nz-number
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialRange {
    /// Counted from the last result (`-1` is the last).
    pub from_end: bool,
    /// First number as sent (without `-`).
    pub first: NonZeroU32,
    /// Second number as sent (without `-`).
    pub second: NonZeroU32,
}

impl PartialRange {
    /// The positions (0-based, ascending) of the results it selects among `len` results
    /// in ascending order; empty when none exists.
    pub fn indices(&self, len: usize) -> std::ops::Range<usize> {
        let lo = self.first.min(self.second).get() as usize;
        let hi = self.first.max(self.second).get() as usize;
        if self.from_end {
            len.saturating_sub(hi)..len.saturating_sub(lo - 1)
        } else {
            (lo - 1).min(len)..hi.min(len)
        }
    }
}

impl std::fmt::Display for PartialRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = if self.from_end { "-" } else { "" };
        write!(f, "{m}{}:{m}{}", self.first, self.second)
    }
}

/// ESEARCH return options (RFC 4731).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SearchReturn {
    /// `MIN`.
    pub min: bool,
    /// `MAX`.
    pub max: bool,
    /// `ALL`.
    pub all: bool,
    /// `COUNT`.
    pub count: bool,
    /// `SAVE` (RFC 5182): the result becomes `$`.
    pub save: bool,
    /// `PARTIAL range` (RFC 9394); never with `ALL`.
    pub partial: Option<PartialRange>,
    /// `UPDATE` (RFC 5267 4.3): ADDTO/REMOVEFROM as the result changes.
    pub update: bool,
    /// `CONTEXT` (RFC 5267 4.2): a hint that the criteria will be used again.
    pub context: bool,
}

/// A sort key of SORT (RFC 5256 section 3, RFC 5957 `DISPLAYFROM`/`DISPLAYTO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Arrival,
    Cc,
    Date,
    From,
    Size,
    Subject,
    To,
    DisplayFrom,
    DisplayTo,
}

/// One `sort-criterion`: a key, maybe `REVERSE`d.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortCriterion {
    pub reverse: bool,
    pub key: SortKey,
}

/// `NOTIFY SET` (RFC 5465 3.1): what the client wants to hear of, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySet {
    /// `STATUS`: send the STATUS of every watched mailbox before the tagged OK.
    pub status: bool,
    /// The event groups, in order (at most one with a selected filter).
    pub groups: Vec<NotifyGroup>,
}

/// `event-group = "(" filter-mailboxes SP events ")"` (RFC 5465 8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyGroup {
    /// Which mailboxes.
    pub filter: NotifyFilter,
    /// Which events; empty for `NONE`.
    pub events: Vec<NotifyEvent>,
}

/// `filter-mailboxes` (RFC 5465 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyFilter {
    /// `SELECTED`: the selected mailbox, at once (6.1.1).
    Selected,
    /// `SELECTED-DELAYED`: the selected mailbox, expunges held for a command that may
    /// announce them (6.1.2).
    SelectedDelayed,
    /// `INBOXES` (6.3).
    Inboxes,
    /// `PERSONAL` (6.2).
    Personal,
    /// `SUBSCRIBED` (6.4).
    Subscribed,
    /// `SUBTREE` names: each mailbox and its inferiors (6.5).
    Subtree(Vec<Mailbox>),
    /// `MAILBOXES` names, no wildcards (6.6).
    Mailboxes(Vec<Mailbox>),
}

impl NotifyFilter {
    /// `SELECTED` or `SELECTED-DELAYED`.
    pub fn is_selected(&self) -> bool {
        matches!(self, NotifyFilter::Selected | NotifyFilter::SelectedDelayed)
    }
}

/// One `event` (RFC 5465 5, 8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyEvent {
    /// `MessageNew [(fetch-att ...)]`: the FETCH items to send for each new message of
    /// the selected mailbox (macros expanded).
    MessageNew(Vec<FetchAttribute>),
    /// `MessageExpunge`.
    MessageExpunge,
    /// `FlagChange`.
    FlagChange,
    /// `AnnotationChange`.
    AnnotationChange,
    /// `MailboxName`.
    MailboxName,
    /// `SubscriptionChange`.
    SubscriptionChange,
    /// `MailboxMetadataChange` (RFC 5464).
    MailboxMetadataChange,
    /// `ServerMetadataChange` (RFC 5464).
    ServerMetadataChange,
    /// Any other atom (`event-ext`), uppercased: the server answers `NO [BADEVENT]`.
    Other(String),
}

impl NotifyEvent {
    /// A `message-event`.
    pub fn is_message_event(&self) -> bool {
        matches!(
            self,
            NotifyEvent::MessageNew(_)
                | NotifyEvent::MessageExpunge
                | NotifyEvent::FlagChange
                | NotifyEvent::AnnotationChange
        )
    }
}

/// A SORT / UID SORT command (RFC 5256; `RETURN` options of RFC 5267 ESORT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    /// `UID SORT`.
    pub uid: bool,
    /// `RETURN (...)` given: answer with ESEARCH (an empty list means `ALL`).
    pub ret: Option<SearchReturn>,
    /// At least one criterion.
    pub criteria: Vec<SortCriterion>,
    /// The charset (required by SORT), uppercased.
    pub charset: String,
    /// The search criteria (an [`SearchKey::And`] of the keys, or a single key).
    pub search: SearchKey,
}

/// A threading algorithm (RFC 5256 section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadAlgorithm {
    OrderedSubject,
    References,
    /// `REFS` (draft-ietf-morg-inthread; Dovecot's THREAD=REFS).
    Refs,
}

/// A THREAD / UID THREAD command (RFC 5256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    /// `UID THREAD`.
    pub uid: bool,
    pub algorithm: ThreadAlgorithm,
    /// The charset (required), uppercased.
    pub charset: String,
    /// The search criteria (an [`SearchKey::And`] of the keys, or a single key).
    pub search: SearchKey,
}

/// A SEARCH / UID SEARCH command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// `UID SEARCH`.
    pub uid: bool,
    /// `RETURN (...)` given: answer with ESEARCH (an empty list means `ALL`).
    pub ret: Option<SearchReturn>,
    /// `CHARSET` as sent (uppercased); `None` means US-ASCII.
    pub charset: Option<String>,
    /// The criteria (an [`SearchKey::And`] of the top-level keys, or a single key).
    pub criteria: SearchKey,
}

/// The QRESYNC SELECT/EXAMINE parameter (RFC 7162 3.2.5):
///
/// ```text
/// select-param =/ "QRESYNC" SP "(" uidvalidity SP mod-sequence-value [SP known-uids]
///                 [SP seq-match-data] ")"
/// seq-match-data = "(" known-sequence-set SP known-uid-set ")"
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QResync {
    /// The UIDVALIDITY the client knows.
    pub uid_validity: u32,
    /// The last HIGHESTMODSEQ the client knows (non-zero).
    pub modseq: u64,
    /// The UIDs the client knows (no `*`).
    pub known_uids: Option<SequenceSet>,
    /// Message sequence numbers and the UIDs they correspond to (no `*`).
    pub seq_match: Option<(SequenceSet, SequenceSet)>,
}

/// The certificate of `COPY`/`MOVE … ENCRYPTED certificate-data` (seed 001, I13): "either
/// a base64-encoded PKI Certificate, or the asterisk (*) symbol, referring to the personal
/// S/MIME Certificate of the authenticated user".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateData {
    /// `*`: the user's own certificate.
    Own,
    /// The certificate's octets, base64-decoded (DER, unchecked: the server parses it).
    Der(Vec<u8>),
}

/// The rights argument of SETACL (RFC 4314 3.1): `+` adds, `-` removes, else replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RightsChange {
    /// Replace the rights.
    Replace(String),
    /// `+rights`.
    Add(String),
    /// `-rights`.
    Remove(String),
}

/// The command and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody {
    /// `CAPABILITY`.
    Capability,
    /// `NOOP`.
    Noop,
    /// `LOGOUT`.
    Logout,
    /// `STARTTLS`.
    StartTls,
    /// `AUTHENTICATE mechanism [SP initial-response]` (RFC 3501, RFC 4959 SASL-IR).
    Authenticate {
        /// Mechanism name, uppercased.
        mechanism: String,
        /// Decoded initial response (`=` is an empty one).
        initial_response: Option<Secret>,
    },
    /// `LOGIN userid password`.
    Login {
        /// User name (UTF-8).
        username: String,
        /// Password.
        password: Secret,
    },
    /// `SELECT mailbox [(CONDSTORE) / (QRESYNC (...))]`.
    Select {
        /// Mailbox.
        mailbox: Mailbox,
        /// `(CONDSTORE)` parameter given.
        condstore: bool,
        /// `QRESYNC` parameter (RFC 7162 3.2.5).
        qresync: Option<QResync>,
    },
    /// `EXAMINE mailbox [(CONDSTORE) / (QRESYNC (...))]`.
    Examine {
        /// Mailbox.
        mailbox: Mailbox,
        /// `(CONDSTORE)` parameter given.
        condstore: bool,
        /// `QRESYNC` parameter (RFC 7162 3.2.5).
        qresync: Option<QResync>,
    },
    /// `CREATE mailbox [(USE (attrs))]` (RFC 6154 CREATE-SPECIAL-USE).
    Create {
        /// Mailbox (may hold a trailing delimiter or wildcards: the server checks).
        mailbox: Mailbox,
        /// Special-use attributes requested, as sent (e.g. `\Sent`).
        special_use: Vec<String>,
    },
    /// `DELETE mailbox`.
    Delete {
        /// Mailbox.
        mailbox: Mailbox,
    },
    /// `RENAME from to`.
    Rename {
        /// Existing name.
        from: Mailbox,
        /// New name.
        to: Mailbox,
    },
    /// `SUBSCRIBE mailbox`.
    Subscribe {
        /// Mailbox.
        mailbox: Mailbox,
    },
    /// `UNSUBSCRIBE mailbox`.
    Unsubscribe {
        /// Mailbox.
        mailbox: Mailbox,
    },
    /// `LIST ...`.
    List(List),
    /// `LSUB reference pattern`.
    Lsub {
        /// Reference.
        reference: String,
        /// Pattern; `None` when it or the reference is not valid modified UTF-7 (it
        /// matches no name).
        pattern: Option<String>,
    },
    /// `STATUS mailbox (items)`.
    Status {
        /// Mailbox.
        mailbox: Mailbox,
        /// Requested items, in order.
        items: Vec<StatusItem>,
    },
    /// `APPEND mailbox message...`.
    Append {
        /// Target mailbox.
        mailbox: Mailbox,
        /// One or more messages.
        messages: Vec<AppendMessage>,
    },
    /// `REPLACE` / `UID REPLACE n mailbox message` (RFC 8508).
    Replace {
        /// `UID REPLACE`.
        uid: bool,
        /// The message replaced: one number (`*` allowed, no range).
        set: SequenceSet,
        /// Where the new message goes.
        mailbox: Mailbox,
        /// The new message.
        message: AppendMessage,
    },
    /// `CHECK`.
    Check,
    /// `CLOSE`.
    Close,
    /// `UNSELECT` (RFC 3691).
    Unselect,
    /// `UNAUTHENTICATE` (RFC 8437).
    Unauthenticate,
    /// `CANCELUPDATE 1*(SP quoted)` (RFC 5267 4.3.5): the tags of the searching commands
    /// whose updates stop.
    CancelUpdate(Vec<String>),
    /// `EXPUNGE`, or `UID EXPUNGE set` (RFC 4315) when `uids` is given.
    Expunge {
        /// The UID set of `UID EXPUNGE`.
        uids: Option<SequenceSet>,
    },
    /// `SEARCH` / `UID SEARCH`.
    Search(Search),
    /// `SORT` / `UID SORT`.
    Sort(Sort),
    /// `THREAD` / `UID THREAD`.
    Thread(Thread),
    /// `FETCH` / `UID FETCH set items [(CHANGEDSINCE n)]`.
    Fetch {
        /// `UID FETCH`.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Data items, macros expanded.
        attributes: Vec<FetchAttribute>,
        /// `CHANGEDSINCE` modifier (RFC 7162).
        changed_since: Option<u64>,
        /// `VANISHED` modifier (RFC 7162 3.2.6; only with UID FETCH and CHANGEDSINCE).
        vanished: bool,
        /// `PARTIAL` modifier (RFC 9394 3.3; only with UID FETCH).
        partial: Option<PartialRange>,
    },
    /// `STORE` / `UID STORE set [(UNCHANGEDSINCE n)] (+|-)FLAGS[.SILENT] flags`.
    Store {
        /// `UID STORE`.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Replace, add, remove.
        mode: StoreMode,
        /// `.SILENT`.
        silent: bool,
        /// Flags (`\Recent` refused).
        flags: Vec<Flag>,
        /// `UNCHANGEDSINCE` modifier (RFC 7162).
        unchanged_since: Option<u64>,
    },
    /// `COPY` / `UID COPY set mailbox [ENCRYPTED certificate-data]`.
    Copy {
        /// `UID COPY`.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Target.
        mailbox: Mailbox,
        /// `ENCRYPTED` (seed 001, I13): store S/MIME-encrypted copies.
        encrypt: Option<CertificateData>,
    },
    /// `MOVE` / `UID MOVE set mailbox [ENCRYPTED certificate-data]` (RFC 6851).
    Move {
        /// `UID MOVE`.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Target.
        mailbox: Mailbox,
        /// `ENCRYPTED` (seed 001, I13): store S/MIME-encrypted copies.
        encrypt: Option<CertificateData>,
    },
    /// `IDLE` (RFC 2177); the server then waits for a `DONE` line.
    Idle,
    /// `NAMESPACE` (RFC 2342).
    Namespace,
    /// `ID NIL` / `ID (field value ...)` (RFC 2971).
    Id(Option<Vec<(String, Option<String>)>>),
    /// `ENABLE capability...` (RFC 5161), uppercased.
    Enable(Vec<String>),
    /// `GETACL mailbox` (RFC 4314).
    GetAcl {
        /// Mailbox.
        mailbox: Mailbox,
    },
    /// `SETACL mailbox identifier rights`.
    SetAcl {
        /// Mailbox.
        mailbox: Mailbox,
        /// Identifier (a leading `-` means negative rights).
        identifier: String,
        /// The change.
        rights: RightsChange,
    },
    /// `DELETEACL mailbox identifier`.
    DeleteAcl {
        /// Mailbox.
        mailbox: Mailbox,
        /// Identifier.
        identifier: String,
    },
    /// `LISTRIGHTS mailbox identifier`.
    ListRights {
        /// Mailbox.
        mailbox: Mailbox,
        /// Identifier.
        identifier: String,
    },
    /// `MYRIGHTS mailbox`.
    MyRights {
        /// Mailbox.
        mailbox: Mailbox,
    },
    /// `GETQUOTA root` (RFC 9208).
    GetQuota {
        /// Quota root.
        root: String,
    },
    /// `GETQUOTAROOT mailbox`.
    GetQuotaRoot {
        /// Mailbox.
        mailbox: Mailbox,
    },
    /// `SETQUOTA root (resource limit ...)`.
    SetQuota {
        /// Quota root.
        root: String,
        /// Resource names (uppercased) and limits.
        limits: Vec<(String, u64)>,
    },
    /// `GETMETADATA [(options)] mailbox entries` (RFC 5464 4.2); the mailbox is empty
    /// for server entries.
    GetMetadata {
        /// Mailbox (empty: the server).
        mailbox: Mailbox,
        /// `MAXSIZE n`.
        maxsize: Option<u32>,
        /// `DEPTH`.
        depth: MetadataDepth,
        /// Entry names, lower case, checked.
        entries: Vec<String>,
    },
    /// `SETMETADATA mailbox (entry value ...)` (RFC 5464 4.3); `None` removes.
    SetMetadata {
        /// Mailbox (empty: the server).
        mailbox: Mailbox,
        /// Entry names (lower case, checked) and values.
        entries: Vec<(String, Option<Vec<u8>>)>,
    },
    /// `NOTIFY SET ...` (`Some`) or `NOTIFY NONE` (`None`) (RFC 5465 3.1).
    Notify(Option<NotifySet>),
    /// `COMPRESS mechanism` (RFC 4978), uppercased.
    Compress {
        /// The mechanism (only `DEFLATE` exists).
        mechanism: String,
    },
}

impl CommandBody {
    /// The first mailbox argument that is a valid `astring` but not valid modified UTF-7
    /// (a name no mailbox has: the server answers `NO`, not `BAD`), with the reason.
    pub fn invalid_mailbox(&self) -> Option<crate::imap::mutf7::Mutf7Error> {
        use CommandBody as B;
        match self {
            B::Rename { from, to } => from.invalid().or_else(|| to.invalid()),
            B::Select { mailbox, .. }
            | B::Examine { mailbox, .. }
            | B::Create { mailbox, .. }
            | B::Delete { mailbox }
            | B::Subscribe { mailbox }
            | B::Unsubscribe { mailbox }
            | B::Status { mailbox, .. }
            | B::Append { mailbox, .. }
            | B::Replace { mailbox, .. }
            | B::Copy { mailbox, .. }
            | B::Move { mailbox, .. }
            | B::GetAcl { mailbox }
            | B::SetAcl { mailbox, .. }
            | B::DeleteAcl { mailbox, .. }
            | B::ListRights { mailbox, .. }
            | B::MyRights { mailbox }
            | B::GetQuotaRoot { mailbox } => mailbox.invalid(),
            _ => None,
        }
    }

    /// The command's entry in the command table.
    pub fn kind(&self) -> CommandKind {
        use CommandBody as B;
        use CommandKind as K;
        match self {
            B::Capability => K::Capability,
            B::Noop => K::Noop,
            B::Logout => K::Logout,
            B::StartTls => K::StartTls,
            B::Authenticate { .. } => K::Authenticate,
            B::Login { .. } => K::Login,
            B::Select { .. } => K::Select,
            B::Examine { .. } => K::Examine,
            B::Create { .. } => K::Create,
            B::Delete { .. } => K::Delete,
            B::Rename { .. } => K::Rename,
            B::Subscribe { .. } => K::Subscribe,
            B::Unsubscribe { .. } => K::Unsubscribe,
            B::List(_) => K::List,
            B::Lsub { .. } => K::Lsub,
            B::Status { .. } => K::Status,
            B::Append { .. } => K::Append,
            B::Check => K::Check,
            B::Close => K::Close,
            B::Unselect => K::Unselect,
            B::CancelUpdate(_) => K::CancelUpdate,
            B::Unauthenticate => K::Unauthenticate,
            B::Expunge { uids: None } => K::Expunge,
            B::Expunge { uids: Some(_) } => K::UidExpunge,
            B::Search(s) if s.uid => K::UidSearch,
            B::Search(_) => K::Search,
            B::Sort(s) if s.uid => K::UidSort,
            B::Sort(_) => K::Sort,
            B::Thread(t) if t.uid => K::UidThread,
            B::Thread(_) => K::Thread,
            B::Fetch { uid: true, .. } => K::UidFetch,
            B::Fetch { .. } => K::Fetch,
            B::Store { uid: true, .. } => K::UidStore,
            B::Store { .. } => K::Store,
            B::Copy { uid: true, .. } => K::UidCopy,
            B::Copy { .. } => K::Copy,
            B::Move { uid: true, .. } => K::UidMove,
            B::Move { .. } => K::Move,
            B::Replace { uid: true, .. } => K::UidReplace,
            B::Replace { .. } => K::Replace,
            B::Idle => K::Idle,
            B::Namespace => K::Namespace,
            B::Id(_) => K::Id,
            B::Enable(_) => K::Enable,
            B::GetAcl { .. } => K::GetAcl,
            B::SetAcl { .. } => K::SetAcl,
            B::DeleteAcl { .. } => K::DeleteAcl,
            B::ListRights { .. } => K::ListRights,
            B::MyRights { .. } => K::MyRights,
            B::GetQuota { .. } => K::GetQuota,
            B::GetQuotaRoot { .. } => K::GetQuotaRoot,
            B::SetQuota { .. } => K::SetQuota,
            B::Compress { .. } => K::Compress,
            B::GetMetadata { .. } => K::GetMetadata,
            B::SetMetadata { .. } => K::SetMetadata,
            B::Notify(_) => K::Notify,
        }
    }
}

/// Session states of RFC 3501 section 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// Before LOGIN/AUTHENTICATE.
    NotAuthenticated,
    /// Logged in, no mailbox selected.
    Authenticated,
    /// A mailbox is selected.
    Selected,
    /// After LOGOUT.
    Logout,
}

/// Where a command is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// Any state (RFC 3501 6.1).
    Any,
    /// Not authenticated only (6.2).
    NotAuthenticated,
    /// Authenticated and selected (6.3).
    Authenticated,
    /// Selected only (6.4).
    Selected,
}

macro_rules! command_table {
    ($( $kind:ident => $name:literal, $allowed:ident, uses_seqs: $uses:literal, breaks_seqs: $breaks:literal; )*) => {
        /// One entry per command (UID variants apart): the command table.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum CommandKind {
            $(
                #[doc = concat!("`", $name, "`")]
                $kind,
            )*
        }

        impl CommandKind {
            /// Every command, in table order.
            pub const ALL: &'static [CommandKind] = &[$(CommandKind::$kind,)*];

            /// The command name as sent (`UID FETCH` for UID variants).
            pub fn name(self) -> &'static str {
                match self { $(CommandKind::$kind => $name,)* }
            }

            /// Where the command is allowed.
            pub fn allowed(self) -> Allowed {
                match self { $(CommandKind::$kind => Allowed::$allowed,)* }
            }

            /// Whether the command refers to messages by sequence number: no untagged
            /// EXPUNGE may be sent while it runs, and it must not be pipelined with one
            /// that breaks sequence numbers (RFC 3501 5.5, 7.4.1).
            pub fn uses_sequence_numbers(self) -> bool {
                match self { $(CommandKind::$kind => $uses,)* }
            }

            /// Whether the command may remove messages, renumbering the others.
            pub fn breaks_sequence_numbers(self) -> bool {
                match self { $(CommandKind::$kind => $breaks,)* }
            }
        }
    };
}

command_table! {
    Capability => "CAPABILITY", Any, uses_seqs: false, breaks_seqs: false;
    Noop => "NOOP", Any, uses_seqs: false, breaks_seqs: false;
    Logout => "LOGOUT", Any, uses_seqs: false, breaks_seqs: false;
    Id => "ID", Any, uses_seqs: false, breaks_seqs: false;
    StartTls => "STARTTLS", NotAuthenticated, uses_seqs: false, breaks_seqs: false;
    Authenticate => "AUTHENTICATE", NotAuthenticated, uses_seqs: false, breaks_seqs: false;
    Login => "LOGIN", NotAuthenticated, uses_seqs: false, breaks_seqs: false;
    Select => "SELECT", Authenticated, uses_seqs: false, breaks_seqs: false;
    Examine => "EXAMINE", Authenticated, uses_seqs: false, breaks_seqs: false;
    Create => "CREATE", Authenticated, uses_seqs: false, breaks_seqs: false;
    Delete => "DELETE", Authenticated, uses_seqs: false, breaks_seqs: false;
    Rename => "RENAME", Authenticated, uses_seqs: false, breaks_seqs: false;
    Subscribe => "SUBSCRIBE", Authenticated, uses_seqs: false, breaks_seqs: false;
    Unsubscribe => "UNSUBSCRIBE", Authenticated, uses_seqs: false, breaks_seqs: false;
    List => "LIST", Authenticated, uses_seqs: false, breaks_seqs: false;
    Lsub => "LSUB", Authenticated, uses_seqs: false, breaks_seqs: false;
    Status => "STATUS", Authenticated, uses_seqs: false, breaks_seqs: false;
    Append => "APPEND", Authenticated, uses_seqs: false, breaks_seqs: false;
    Idle => "IDLE", Authenticated, uses_seqs: false, breaks_seqs: false;
    Namespace => "NAMESPACE", Authenticated, uses_seqs: false, breaks_seqs: false;
    Enable => "ENABLE", Authenticated, uses_seqs: false, breaks_seqs: false;
    GetAcl => "GETACL", Authenticated, uses_seqs: false, breaks_seqs: false;
    SetAcl => "SETACL", Authenticated, uses_seqs: false, breaks_seqs: false;
    DeleteAcl => "DELETEACL", Authenticated, uses_seqs: false, breaks_seqs: false;
    ListRights => "LISTRIGHTS", Authenticated, uses_seqs: false, breaks_seqs: false;
    MyRights => "MYRIGHTS", Authenticated, uses_seqs: false, breaks_seqs: false;
    GetQuota => "GETQUOTA", Authenticated, uses_seqs: false, breaks_seqs: false;
    GetQuotaRoot => "GETQUOTAROOT", Authenticated, uses_seqs: false, breaks_seqs: false;
    SetQuota => "SETQUOTA", Authenticated, uses_seqs: false, breaks_seqs: false;
    Compress => "COMPRESS", Authenticated, uses_seqs: false, breaks_seqs: false;
    GetMetadata => "GETMETADATA", Authenticated, uses_seqs: false, breaks_seqs: false;
    SetMetadata => "SETMETADATA", Authenticated, uses_seqs: false, breaks_seqs: false;
    Notify => "NOTIFY", Authenticated, uses_seqs: false, breaks_seqs: false;
    Unauthenticate => "UNAUTHENTICATE", Authenticated, uses_seqs: false, breaks_seqs: false;
    Check => "CHECK", Selected, uses_seqs: false, breaks_seqs: false;
    Close => "CLOSE", Selected, uses_seqs: false, breaks_seqs: true;
    Unselect => "UNSELECT", Selected, uses_seqs: false, breaks_seqs: false;
    CancelUpdate => "CANCELUPDATE", Selected, uses_seqs: false, breaks_seqs: false;
    Expunge => "EXPUNGE", Selected, uses_seqs: false, breaks_seqs: true;
    UidExpunge => "UID EXPUNGE", Selected, uses_seqs: false, breaks_seqs: true;
    Search => "SEARCH", Selected, uses_seqs: true, breaks_seqs: false;
    UidSearch => "UID SEARCH", Selected, uses_seqs: false, breaks_seqs: false;
    Sort => "SORT", Selected, uses_seqs: true, breaks_seqs: false;
    UidSort => "UID SORT", Selected, uses_seqs: false, breaks_seqs: false;
    Thread => "THREAD", Selected, uses_seqs: true, breaks_seqs: false;
    UidThread => "UID THREAD", Selected, uses_seqs: false, breaks_seqs: false;
    Fetch => "FETCH", Selected, uses_seqs: true, breaks_seqs: false;
    UidFetch => "UID FETCH", Selected, uses_seqs: false, breaks_seqs: false;
    Store => "STORE", Selected, uses_seqs: true, breaks_seqs: false;
    UidStore => "UID STORE", Selected, uses_seqs: false, breaks_seqs: false;
    Copy => "COPY", Selected, uses_seqs: true, breaks_seqs: false;
    UidCopy => "UID COPY", Selected, uses_seqs: false, breaks_seqs: false;
    Move => "MOVE", Selected, uses_seqs: true, breaks_seqs: true;
    UidMove => "UID MOVE", Selected, uses_seqs: false, breaks_seqs: true;
    Replace => "REPLACE", Selected, uses_seqs: true, breaks_seqs: true;
    UidReplace => "UID REPLACE", Selected, uses_seqs: false, breaks_seqs: true;
}

impl CommandKind {
    /// Whether the command may run in `state`.
    pub fn allowed_in(self, state: SessionState) -> bool {
        use SessionState as S;
        match (self.allowed(), state) {
            (_, S::Logout) => false,
            (Allowed::Any, _) => true,
            (Allowed::NotAuthenticated, S::NotAuthenticated) => true,
            (Allowed::Authenticated, S::Authenticated | S::Selected) => true,
            (Allowed::Selected, S::Selected) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_ranges() {
        let n = |v: u32| NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN);
        let p = |from_end, a, b| PartialRange {
            from_end,
            first: n(a),
            second: n(b),
        };
        assert_eq!(p(false, 1, 5).indices(10), 0..5);
        assert_eq!(p(false, 8, 5).indices(6), 4..6);
        assert_eq!(p(false, 20, 30).indices(6), 6..6);
        assert_eq!(p(true, 1, 3).indices(10), 7..10);
        assert_eq!(p(true, 100, 1).indices(3), 0..3);
        assert_eq!(p(true, 5, 9).indices(3), 0..0);
        assert_eq!(p(true, 1, 100).to_string(), "-1:-100");
        assert_eq!(p(false, 24, 11).to_string(), "24:11");
    }

    #[test]
    fn table() {
        assert!(CommandKind::Login.allowed_in(SessionState::NotAuthenticated));
        assert!(!CommandKind::Login.allowed_in(SessionState::Selected));
        assert!(CommandKind::List.allowed_in(SessionState::Selected));
        assert!(!CommandKind::Fetch.allowed_in(SessionState::Authenticated));
        assert!(CommandKind::Fetch.uses_sequence_numbers());
        assert!(!CommandKind::UidFetch.uses_sequence_numbers());
        assert_eq!(CommandKind::UidMove.name(), "UID MOVE");
        assert_eq!(CommandKind::ALL.len(), 56);
    }
}
