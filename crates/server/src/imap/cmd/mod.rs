//! The IMAP commands, one file each, named as in the parser and the transcripts. Each
//! `run` writes its untagged responses into the session's output and returns the
//! [`Reply`] the session sends tagged (after the untagged updates).

pub(crate) mod acl;
pub(crate) mod append;
pub(crate) mod authenticate;
pub(crate) mod cancelupdate;
pub(crate) mod capability;
pub(crate) mod catenate;
pub(crate) mod check;
pub(crate) mod close;
pub(crate) mod compress;
pub(crate) mod copy;
pub(crate) mod create;
pub(crate) mod delete;
pub(crate) mod enable;
pub(crate) mod expunge;
pub(crate) mod fetch;
pub(crate) mod id;
pub(crate) mod idle;
pub(crate) mod list;
pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod metadata;
pub(crate) mod r#move;
pub(crate) mod namespace;
pub(crate) mod noop;
pub(crate) mod notify;
pub(crate) mod quota;
pub(crate) mod rename;
pub(crate) mod replace;
pub(crate) mod search;
pub(crate) mod searchres;
pub(crate) mod select;
pub(crate) mod sort;
pub(crate) mod starttls;
pub(crate) mod status;
pub(crate) mod store;
pub(crate) mod subscribe;
pub(crate) mod thread;
pub(crate) mod unauthenticate;
pub(crate) mod unselect;

use super::session::Session;
use crate::access::AccessError;
use mailroom_proto::imap::command::{FetchAttribute, StatusItem};
use mailroom_proto::imap::encode::{ResponseCode, Status};
use mailroom_proto::imap::{Command, CommandBody, Flag, Tag};
use mailroom_store::{Flags, StoreError};

/// The tagged answer of a command.
pub(crate) struct Reply {
    pub status: Status,
    pub code: Option<ResponseCode>,
    pub text: String,
    /// Already written by the command (STARTTLS, IDLE ending with the connection).
    pub sent: bool,
}

impl Reply {
    pub fn ok(text: &str) -> Reply {
        Reply {
            status: Status::Ok,
            code: None,
            text: text.into(),
            sent: false,
        }
    }
    pub fn ok_code(code: ResponseCode, text: &str) -> Reply {
        Reply {
            code: Some(code),
            ..Reply::ok(text)
        }
    }
    pub fn no(code: Option<ResponseCode>, text: &str) -> Reply {
        Reply {
            status: Status::No,
            code,
            text: text.into(),
            sent: false,
        }
    }
    pub fn bad(text: &str) -> Reply {
        Reply {
            status: Status::Bad,
            code: None,
            text: text.into(),
            sent: false,
        }
    }
    pub fn sent() -> Reply {
        Reply {
            sent: true,
            ..Reply::ok("")
        }
    }
    pub fn write(&self, s: &mut Session, tag: &Tag) {
        s.line(Some(tag), self.status, self.code.as_ref(), &self.text);
    }
}

/// A store failure as an answer: the client's mistakes with RFC 5530 codes, the
/// server's logged.
pub(crate) fn store_error(e: StoreError) -> Reply {
    match e {
        StoreError::NotFound(what) => {
            Reply::no(Some(ResponseCode::NonExistent), &format!("no such {what}"))
        }
        StoreError::AlreadyExists(what) => Reply::no(
            Some(ResponseCode::AlreadyExists),
            &format!("{what} already exists"),
        ),
        StoreError::Invalid(why) => Reply::no(Some(ResponseCode::Cannot), &why),
        StoreError::OverQuota => Reply::no(Some(ResponseCode::OverQuota), "over quota"),
        StoreError::Busy => Reply::no(Some(ResponseCode::InUse), "mailbox busy, try again"),
        e if e.is_disk_full() => {
            tracing::warn!(error = %e, "disk full");
            // As Dovecot answers it (RFC 5530 OVERQUOTA: the operation would exceed the
            // space there is); nothing was stored, the client may retry.
            Reply::no(
                Some(ResponseCode::OverQuota),
                "not enough disk space, try again later",
            )
        }
        e => {
            tracing::warn!(error = %e, "store failure");
            Reply::no(
                Some(ResponseCode::ServerBug),
                "internal error, try again later",
            )
        }
    }
}

/// An access-core failure as an answer (RFC 4314 section 4, RFC 5530): invisible and
/// missing mailboxes get the same [`access::NO_SUCH_MAILBOX`] answer.
pub(crate) fn access_error(e: AccessError) -> Reply {
    match e {
        AccessError::NoSuchMailbox => Reply::no(Some(ResponseCode::NonExistent), "no such mailbox"),
        AccessError::NoPermission => Reply::no(Some(ResponseCode::NoPerm), "permission denied"),
        AccessError::Name(n) => Reply::no(Some(ResponseCode::Cannot), &n.to_string()),
        AccessError::BadIdentifier => Reply::bad("invalid identifier"),
        AccessError::Store(e) => store_error(e),
        AccessError::Directory(e) => {
            tracing::warn!(error = %e, "directory failure");
            Reply::no(
                Some(ResponseCode::Unavailable),
                "temporary failure, try again later",
            )
        }
    }
}

/// Like [`access_error`], but a missing mailbox is `NO [TRYCREATE]` (APPEND, COPY and
/// MOVE targets, RFC 3501 6.3.11): only for mailboxes the user could create, i.e. own
/// names; invisible foreign ones stay `NONEXISTENT` like missing foreign ones.
pub(crate) fn target_error(e: AccessError, own: bool) -> Reply {
    match e {
        AccessError::NoSuchMailbox if own => {
            Reply::no(Some(ResponseCode::TryCreate), "no such mailbox")
        }
        e => access_error(e),
    }
}

/// Message flags and keywords from a flag list; `Err` for flags that cannot be stored.
pub(crate) fn split_flags(flags: &[Flag]) -> Result<(Flags, Vec<String>), String> {
    let mut f = Flags::EMPTY;
    let mut kw: Vec<String> = Vec::new();
    for fl in flags {
        match fl {
            Flag::Answered => f = f.union(Flags::ANSWERED),
            Flag::Flagged => f = f.union(Flags::FLAGGED),
            Flag::Deleted => f = f.union(Flags::DELETED),
            Flag::Seen => f = f.union(Flags::SEEN),
            Flag::Draft => f = f.union(Flags::DRAFT),
            Flag::Recent => return Err("\\Recent cannot be set".into()),
            Flag::Extension(e) => return Err(format!("unknown system flag \\{e}")),
            Flag::Keyword(k) => {
                if !kw.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                    kw.push(k.clone());
                }
            }
        }
    }
    Ok((f, kw))
}

/// Checks a new mailbox name (CREATE, RENAME target).
pub(crate) fn check_new_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty mailbox name".into());
    }
    if name.contains(['*', '%']) {
        return Err("mailbox names cannot contain * or %".into());
    }
    if name.starts_with('/') || name.ends_with('/') {
        return Err("mailbox names cannot begin or end with the delimiter /".into());
    }
    // RFC 6855 3 (Net-Unicode names): no U+0000-001F, U+007F-009F, U+2028, U+2029.
    if name
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        return Err("mailbox names cannot contain control characters".into());
    }
    // RFC 9051 5.1: "Server implementations MUST prohibit the creation of 8-bit mailbox
    // names that do not comply with Net-Unicode", which is NFC (RFC 5198 2).
    if !unicode_normalization::is_nfc(name) {
        return Err("mailbox names must be in Unicode normalization form C (RFC 9051 5.1)".into());
    }
    if name.len() > 512 {
        return Err("mailbox name too long".into());
    }
    for part in name.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(format!("invalid hierarchy level {part:?} in mailbox name"));
        }
    }
    Ok(())
}

/// Whether the search keys of a SEARCH, SORT or THREAD hold a message sequence set.
fn body_uses_seq_set(body: &CommandBody) -> bool {
    use mailroom_proto::imap::command::SearchKey;
    fn has(k: &SearchKey) -> bool {
        match k {
            SearchKey::SequenceSet(_) => true,
            SearchKey::Not(k) => has(k),
            SearchKey::Or(a, b) => has(a) || has(b),
            SearchKey::And(ks) => ks.iter().any(has),
            _ => false,
        }
    }
    match body {
        CommandBody::Search(q) => has(&q.criteria),
        CommandBody::Sort(q) => has(&q.search),
        CommandBody::Thread(q) => has(&q.search),
        _ => false,
    }
}

/// Runs one command (its state was checked by the session).
/// Runs one command. Every command's future but IDLE's is boxed on its own: this future
/// is as large as its largest arm, and IDLE keeps it alive while the client idles (the
/// memory of an idle connection), so the larger commands (FETCH with its streaming
/// state, SEARCH, APPEND, ...) must not size it.
pub(crate) async fn dispatch(s: &mut Session, cmd: Command) -> Reply {
    use CommandBody as B;
    let kind = cmd.kind();
    let tag = cmd.tag;
    if let Some(why) = cmd.body.invalid_mailbox() {
        // A valid astring that is not valid modified UTF-7 names no mailbox: no syntax
        // error but NO (RFC 3501 6.3.1: a failed SELECT or EXAMINE also unselects).
        if matches!(cmd.body, B::Select { .. } | B::Examine { .. }) {
            s.selected = None;
            s.reg.set_state("authenticated");
        }
        let code = match cmd.body {
            B::Create { .. } | B::Rename { .. } => ResponseCode::Cannot,
            _ => ResponseCode::NonExistent,
        };
        return Reply::no(Some(code), &why.to_string());
    }
    // RFC 9586 3: once UIDONLY is on, a message sequence number anywhere in a command
    // (FETCH, STORE, COPY, MOVE, SEARCH, SORT, THREAD, REPLACE, or a sequence set among
    // the search keys of their UID forms) is a tagged BAD with UIDREQUIRED.
    if s.uidonly && (kind.uses_sequence_numbers() || body_uses_seq_set(&cmd.body)) {
        return Reply {
            code: Some(ResponseCode::UidRequired),
            ..Reply::bad("message sequence numbers are not allowed after ENABLE UIDONLY")
        };
    }
    // RFC 5267 4.3: updates cease when the mailbox is no longer selected.
    if matches!(
        cmd.body,
        B::Select { .. } | B::Examine { .. } | B::Close | B::Unselect | B::Unauthenticate
    ) {
        s.contexts.clear();
    }
    let body = match searchres::resolve(s, kind, cmd.body) {
        Ok(b) => b,
        Err(done) => return done,
    };
    if let Some(bad) = super::rev2::refuse(s, &body) {
        return bad;
    }
    match body {
        B::Capability => capability::run(s),
        B::Noop => Box::pin(noop::run(s)).await,
        B::Logout => logout::run(s),
        B::StartTls => Box::pin(starttls::run(s, &tag)).await,
        B::Authenticate {
            mechanism,
            initial_response,
        } => Box::pin(authenticate::run(s, mechanism, initial_response)).await,
        B::Login { username, password } => Box::pin(login::run(s, username, password)).await,
        B::Select {
            mailbox,
            condstore,
            qresync,
        }
        | B::Examine {
            mailbox,
            condstore,
            qresync,
        } => {
            // RFC 7162 3.2.5: the QRESYNC parameter only after ENABLE QRESYNC.
            if qresync.is_some() && !s.qresync {
                return Reply::bad("QRESYNC parameter without ENABLE QRESYNC");
            }
            s.condstore |= condstore;
            let read_only = kind == mailroom_proto::imap::CommandKind::Examine;
            Box::pin(select::run(s, mailbox, read_only, qresync)).await
        }
        B::Create {
            mailbox,
            special_use,
        } => Box::pin(create::run(s, mailbox, special_use)).await,
        B::Delete { mailbox } => Box::pin(delete::run(s, mailbox)).await,
        B::Rename { from, to } => Box::pin(rename::run(s, from, to)).await,
        B::Subscribe { mailbox } => Box::pin(subscribe::run(s, mailbox, true)).await,
        B::Unsubscribe { mailbox } => Box::pin(subscribe::run(s, mailbox, false)).await,
        B::List(l) => Box::pin(list::run(s, l)).await,
        B::Lsub { reference, pattern } => Box::pin(list::lsub(s, reference, pattern)).await,
        B::Status { mailbox, items } => {
            if items.contains(&StatusItem::HighestModSeq) {
                s.enable_condstore();
            }
            Box::pin(status::run(s, mailbox, items)).await
        }
        B::Append { mailbox, messages } => Box::pin(append::run(s, mailbox, messages)).await,
        B::Replace {
            uid,
            set,
            mailbox,
            message,
        } => Box::pin(replace::run(s, uid, set, mailbox, message)).await,
        B::Check => Box::pin(check::run(s)).await,
        B::Close => Box::pin(close::run(s)).await,
        B::Unselect => unselect::run(s),
        B::CancelUpdate(tags) => cancelupdate::run(s, &tags),
        B::Unauthenticate => unauthenticate::run(s),
        B::Expunge { uids } => Box::pin(expunge::run(s, uids)).await,
        B::Search(q) => {
            if search::uses_modseq(&q.criteria) {
                s.enable_condstore();
            }
            Box::pin(search::run(s, &tag, q)).await
        }
        B::Thread(q) => {
            if search::uses_modseq(&q.search) {
                s.enable_condstore();
            }
            Box::pin(thread::run(s, q)).await
        }
        B::Sort(q) => {
            if search::uses_modseq(&q.search) {
                s.enable_condstore();
            }
            Box::pin(sort::run(s, &tag, q)).await
        }
        B::Fetch {
            uid,
            set,
            attributes,
            changed_since,
            vanished,
            partial,
        } => {
            // RFC 7162 3.2.6: VANISHED only once QRESYNC is enabled.
            if vanished && !s.qresync {
                return Reply::bad("VANISHED without ENABLE QRESYNC");
            }
            if attributes.contains(&FetchAttribute::ModSeq) || changed_since.is_some() {
                s.enable_condstore();
            }
            let changed = changed_since.map(|since| (since, vanished));
            Box::pin(fetch::run(s, uid, set, attributes, changed, partial)).await
        }
        B::Store {
            uid,
            set,
            mode,
            silent,
            flags,
            unchanged_since,
        } => {
            if unchanged_since.is_some() {
                s.enable_condstore();
            }
            let req = store::Request {
                uid,
                set,
                mode,
                silent,
                flags,
                unchanged_since,
            };
            Box::pin(store::run(s, req)).await
        }
        B::Copy {
            uid,
            set,
            mailbox,
            encrypt,
        } => Box::pin(copy::run(s, uid, set, mailbox, encrypt)).await,
        B::Move {
            uid,
            set,
            mailbox,
            encrypt,
        } => Box::pin(r#move::run(s, uid, set, mailbox, encrypt)).await,
        B::Idle => idle::run(s, &tag).await,
        B::Namespace => namespace::run(s),
        B::Id(_) => id::run(s),
        B::Enable(caps) => enable::run(s, caps),
        B::SetAcl {
            mailbox,
            identifier,
            rights,
        } => Box::pin(acl::setacl(s, mailbox, identifier, rights)).await,
        B::DeleteAcl {
            mailbox,
            identifier,
        } => Box::pin(acl::deleteacl(s, mailbox, identifier)).await,
        B::GetAcl { mailbox } => Box::pin(acl::getacl(s, mailbox)).await,
        B::ListRights {
            mailbox,
            identifier,
        } => Box::pin(acl::listrights(s, mailbox, identifier)).await,
        B::MyRights { mailbox } => Box::pin(acl::myrights(s, mailbox)).await,
        B::GetQuota { root } => Box::pin(quota::getquota(s, root)).await,
        B::GetQuotaRoot { mailbox } => Box::pin(quota::getquotaroot(s, mailbox)).await,
        B::SetQuota { root, limits } => Box::pin(quota::setquota(s, root, limits)).await,
        B::GetMetadata {
            mailbox,
            maxsize,
            depth,
            entries,
        } => Box::pin(metadata::get(s, mailbox, maxsize, depth, entries)).await,
        B::SetMetadata { mailbox, entries } => Box::pin(metadata::set(s, mailbox, entries)).await,
        B::Compress { mechanism } => Box::pin(compress::run(s, &tag, &mechanism)).await,
        B::Notify(set) => Box::pin(notify::run(s, set)).await,
    }
}
