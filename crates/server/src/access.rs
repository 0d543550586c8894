//! The access core for sharing (product items I4, I5, I10, A4, P8): who may do what on
//! which mailbox, how client-visible names map onto accounts' stores, and quota checks.
//! Protocol sessions (IMAP, POP3) call into this module; it holds no session state.
//!
//! - Rights evaluation (RFC 4314): [`effective_rights`], the command table [`needed`],
//!   and the existence rule [`visible`] (answer [`NO_SUCH_MAILBOX`] when it is false).
//! - Names: [`resolve_name`] (`INBOX`, `Foo/Bar`, `~account/...`, `~account@domain/...`,
//!   `~public/...`, mailbox aliases) and [`parse_pop_user`] (POP3 `mailbox#account`, P8).
//! - Async helpers over [`Ctx`]: [`open_mailbox`], [`check`], [`my_rights`], [`get_acl`],
//!   [`set_acl`], [`delete_acl`], [`foreign_mailboxes`] (LIST of `~`), [`quota_check`],
//!   [`quota_of`].
//!
//! Where things are stored (design note): ACL entries live in the owner's store, keyed
//! by mailbox id (`Account::acl`, so they follow RENAME and vanish with DELETE);
//! `directory.db` keeps mailbox aliases, quota limits and a *grants hint* (owner →
//! grantee) that [`set_acl`] keeps as a superset of the real grants so LIST of `~` only
//! opens the stores of accounts that granted the requester (or `anyone`) something.
//!
//! Administrators (design note): RFC 4314 section 2 leaves implicit rights to the
//! server; seed 004 says rights are granted "by the owner or an administrator". An
//! account with [`AccountInfo::admin`] therefore gets `l` and `a` on every mailbox (it
//! sees it, reads and changes its ACL) on top of what the ACL grants it, but not `r`,
//! `w`, `t`, `e`...: to read someone's mail an administrator must first grant itself the
//! right, which leaves a trace in the ACL. Negative entries do not remove `l a` from an
//! administrator, nor any right from the owner (the owner always has every right).

use crate::Ctx;
use mailroom_directory::{AccountInfo, DirError, MailboxAlias, QuotaLimits};
use mailroom_store::acl::{canonical_identifier, AclEntry, Rights, RightsChange, ANYONE};
use mailroom_store::{Account, AccountKey, MailboxInfo, StoreError, Usage};
use std::sync::Arc;

// ---- rights evaluation -------------------------------------------------------------

/// The rights `requester` has on a mailbox of `owner` with the given ACL.
///
/// - the owner has every right (RFC 4314 section 2: implicit rights of the owner);
/// - otherwise the union of the entries for the requester's `user@domain` and for
///   `anyone`, minus the union of the negative entries (`-user@domain`, `-anyone`,
///   RFC 4314 section 2 "negative rights");
/// - an administrator additionally always has `l` and `a` (see the module docs).
pub fn effective_rights(requester: &AccountInfo, owner: &AccountInfo, acl: &[AclEntry]) -> Rights {
    if requester.id == owner.id {
        return Rights::ALL;
    }
    let me = requester.address();
    let mut granted = Rights::NONE;
    let mut denied = Rights::NONE;
    for e in acl {
        let subject = e.subject();
        if subject == ANYONE || subject.eq_ignore_ascii_case(&me) {
            if e.is_negative() {
                denied = denied.union(e.rights);
            } else {
                granted = granted.union(e.rights);
            }
        }
    }
    let mut r = granted.difference(denied);
    if requester.admin {
        r = r.union(Rights::LOOKUP).union(Rights::ADMIN);
    }
    r
}

/// Whether the mailbox may be acknowledged to exist: the requester has `l` or `r`.
///
/// RFC 4314 section 4 (and section 6, security considerations): without these, every
/// command must answer exactly as for a mailbox that does not exist, so rights cannot
/// be used to probe for names. Answer [`NO_SUCH_MAILBOX`] in both cases.
pub fn visible(rights: Rights) -> bool {
    rights.intersects(Rights::LOOKUP.union(Rights::READ))
}

/// The text after the tag for a mailbox that does not exist *or* is not [`visible`]
/// (RFC 5530 `NONEXISTENT`); identical in both cases.
pub const NO_SUCH_MAILBOX: &str = "NO [NONEXISTENT] no such mailbox";

/// The text after the tag when the mailbox is visible but a right is missing (RFC 5530
/// `NOPERM`).
pub const NO_PERMISSION: &str = "NO [NOPERM] permission denied";

/// The POP3 answer when DELE lacks a right (P8: DELE without `t` and `e` fails clearly;
/// RFC 3206 `SYS/PERM`: retrying will not help).
pub const POP3_NO_PERMISSION: &str =
    "-ERR [SYS/PERM] no permission to delete messages in this mailbox";

/// The POP3 answer when a `mailbox#account` login names a mailbox that does not exist
/// *or* that the account may not read (P8); identical in both cases, like
/// [`NO_SUCH_MAILBOX`].
pub const POP3_NO_SUCH_MAILBOX: &str = "-ERR [SYS/PERM] no such mailbox";

/// An operation subject to rights (RFC 4314 section 4; UID variants are the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// LIST (`l`; never a NO: unlisted mailboxes are just left out).
    List,
    /// LSUB (`l`, like LIST).
    Lsub,
    /// SUBSCRIBE (`l`, since we check that the mailbox exists).
    Subscribe,
    /// UNSUBSCRIBE (no rights).
    Unsubscribe,
    /// CREATE: `k` on the parent (the owner's namespace root for a top-level name).
    CreateInParent,
    /// DELETE: `x` on the mailbox.
    Delete,
    /// RENAME: `x` on the source mailbox (and [`Op::CreateInParent`] on the new parent).
    RenameFrom,
    /// SELECT: `r`.
    Select,
    /// EXAMINE: `r`.
    Examine,
    /// STATUS: `r`.
    Status,
    /// APPEND: `i` (flags without `s`/`w`/`t` are silently dropped, see [`allowed_flags`]).
    Append,
    /// COPY/MOVE into the target: `i`.
    CopyInto,
    /// MOVE out of the source: `t` and `e` there (RFC 6851 section 4.2).
    MoveFrom,
    /// STORE of `\Seen`: `s`.
    StoreSeen,
    /// STORE of `\Deleted`: `t`.
    StoreDeleted,
    /// STORE of other flags and keywords: `w`.
    StoreOther,
    /// EXPUNGE (and CLOSE's silent expunge, which is skipped without it): `e`.
    Expunge,
    /// GETACL: `a`.
    GetAcl,
    /// SETACL: `a`.
    SetAcl,
    /// DELETEACL: `a`.
    DeleteAcl,
    /// LISTRIGHTS: `a`.
    ListRights,
    /// MYRIGHTS: any of `l r i k x a`.
    MyRights,
    /// POP3 login into a mailbox (P8): `r`.
    PopOpen,
    /// POP3 DELE (marks for removal at QUIT): `t` (and `e` at QUIT, see [`Op::Expunge`]).
    PopDele,
    /// GETQUOTAROOT on a mailbox: `r` (RFC 9208 section 4.3... readable mailbox).
    GetQuotaRoot,
}

/// What an operation requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Every one of these rights.
    All(Rights),
    /// At least one of these rights.
    Any(Rights),
    /// Nothing.
    Nothing,
}

impl Need {
    /// Whether `rights` satisfy the need.
    pub fn satisfied_by(self, rights: Rights) -> bool {
        match self {
            Need::All(r) => rights.contains(r),
            Need::Any(r) => rights.intersects(r),
            Need::Nothing => true,
        }
    }
}

/// The rights an operation needs (RFC 4314 section 4 table and text).
pub fn needed(op: Op) -> Need {
    use Rights as R;
    match op {
        Op::List | Op::Lsub | Op::Subscribe => Need::All(R::LOOKUP),
        Op::Unsubscribe => Need::Nothing,
        Op::CreateInParent => Need::All(R::CREATE),
        Op::Delete | Op::RenameFrom => Need::All(R::DELETE_MAILBOX),
        Op::Select | Op::Examine | Op::Status | Op::PopOpen | Op::GetQuotaRoot => {
            Need::All(R::READ)
        }
        Op::Append | Op::CopyInto => Need::All(R::INSERT),
        Op::MoveFrom => Need::All(R::DELETE_MESSAGES.union(R::EXPUNGE)),
        Op::StoreSeen => Need::All(R::SEEN),
        Op::StoreDeleted | Op::PopDele => Need::All(R::DELETE_MESSAGES),
        Op::StoreOther => Need::All(R::WRITE),
        Op::Expunge => Need::All(R::EXPUNGE),
        Op::GetAcl | Op::SetAcl | Op::DeleteAcl | Op::ListRights => Need::All(R::ADMIN),
        Op::MyRights => Need::Any(
            R::LOOKUP
                .union(R::READ)
                .union(R::INSERT)
                .union(R::CREATE)
                .union(R::DELETE_MAILBOX)
                .union(R::ADMIN),
        ),
    }
}

/// Whether `rights` allow `op`.
pub fn allows(rights: Rights, op: Op) -> bool {
    needed(op).satisfied_by(rights)
}

/// The system flags a client may set with APPEND, COPY or STORE given its rights (RFC 4314
/// section 4: without `s` the `\Seen` flag, without `t` the `\Deleted` flag, without `w`
/// the other flags are silently left out). Returns (seen, deleted, others) permissions.
pub fn allowed_flags(rights: Rights) -> (bool, bool, bool) {
    (
        rights.contains(Rights::SEEN),
        rights.contains(Rights::DELETE_MESSAGES),
        rights.contains(Rights::WRITE),
    )
}

// ---- names ---------------------------------------------------------------------------

/// Whose store a client-visible name points into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// The requester's own account.
    Own,
    /// Another account, by name and domain (lower case). `~public` is the account
    /// `public` of the requester's domain.
    Other {
        /// Account name.
        name: String,
        /// Domain name.
        domain: String,
    },
}

/// A client-visible mailbox name resolved to an owner and the name in the owner's store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Whose store.
    pub owner: Owner,
    /// The mailbox name inside that store (`INBOX` normalised to upper case).
    pub mailbox: String,
}

/// Why a name cannot be resolved (IMAP `BAD`/`NO`, POP3 `-ERR`: the client's mistake).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty name, empty component (`a//b`, trailing `/`), `.` or `..`, control characters.
    #[error("invalid mailbox name")]
    Invalid,
    /// `~` with nothing (or no mailbox) after it: `~`, `~boss`, `~boss/`.
    #[error("no mailbox given after the account name")]
    NoMailbox,
    /// `~name` whose account part is not a valid `name` or `name@domain`.
    #[error("invalid account name in a foreign mailbox name")]
    BadAccount,
    /// POP3 `mailbox#account` with nothing before or after the `#`.
    #[error("invalid mailbox#account user name")]
    BadPopUser,
}

/// The prefix of other users' namespace (RFC 2342 "Other Users' Namespace").
pub const OTHER_USERS_PREFIX: &str = "~";
/// The shared namespace prefix (RFC 2342 "Shared Namespace"): the `public` account.
pub const PUBLIC_PREFIX: &str = "~public";
/// The account that holds the shared namespace of a domain.
pub const PUBLIC_ACCOUNT: &str = "public";

fn valid_account_part(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// Checks an in-store mailbox name and normalises `INBOX` (any case, also as the first
/// component, `inbox/sub` → `INBOX/sub`).
fn clean_mailbox(name: &str) -> Result<String, NameError> {
    if name.is_empty() || name.chars().any(|c| c.is_control()) {
        return Err(NameError::Invalid);
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return Err(NameError::Invalid);
    }
    if parts[0].eq_ignore_ascii_case("INBOX") {
        parts[0] = "INBOX";
    }
    Ok(parts.join("/"))
}

/// Resolves a `~account[@domain]/mailbox` name (without alias lookup).
fn resolve_foreign(requester: &AccountInfo, rest: &str) -> Result<Target, NameError> {
    let (acct, mailbox) = match rest.split_once('/') {
        Some((a, m)) => (a, m),
        None if rest.is_empty() => return Err(NameError::NoMailbox),
        None => return Err(NameError::NoMailbox),
    };
    if acct.is_empty() {
        // `~/x`: RFC 2342 leaves it to the server; we treat it as invalid.
        return Err(NameError::NoMailbox);
    }
    if mailbox.is_empty() {
        return Err(NameError::NoMailbox);
    }
    let acct = acct.to_ascii_lowercase();
    let (name, domain) = match acct.split_once('@').or_else(|| acct.split_once('%')) {
        Some((n, d)) => (n.to_string(), d.to_string()),
        None => (acct.clone(), requester.domain.clone()),
    };
    if !valid_account_part(&name) || !valid_account_part(&domain) || domain.contains('@') {
        return Err(NameError::BadAccount);
    }
    let mailbox = clean_mailbox(mailbox)?;
    if name == requester.name && domain == requester.domain {
        return Ok(Target {
            owner: Owner::Own,
            mailbox,
        });
    }
    Ok(Target {
        owner: Owner::Other { name, domain },
        mailbox,
    })
}

/// Resolves a client-visible mailbox name for `requester` (I5, seed 001):
///
/// 1. a mailbox alias of the requester (`boss-inbox` → `~boss/INBOX`), also as a prefix
///    (`boss-inbox/sub` → `~boss/INBOX/sub`), is replaced by its target first (once:
///    targets are not alias-expanded again, so aliases cannot loop);
/// 2. `~public/...` → the account `public` of the requester's domain;
/// 3. `~account/...` → `account` of the requester's domain, `~account@domain/...` (or
///    `%domain`) → that account; naming oneself this way is the own account;
/// 4. anything else is the requester's own mailbox (`INBOX` in any case → `INBOX`).
pub fn resolve_name(
    requester: &AccountInfo,
    name: &str,
    aliases: &[MailboxAlias],
) -> Result<Target, NameError> {
    let expanded;
    let mut name = name;
    if !name.starts_with('~') {
        if let Some(a) = aliases.iter().find(|a| {
            name == a.name
                || name
                    .strip_prefix(a.name.as_str())
                    .is_some_and(|r| r.starts_with('/'))
        }) {
            expanded = format!("{}{}", a.target, &name[a.name.len()..]);
            name = &expanded;
        }
    }
    match name.strip_prefix('~') {
        Some(rest) => resolve_foreign(requester, rest),
        None => Ok(Target {
            owner: Owner::Own,
            mailbox: clean_mailbox(name)?,
        }),
    }
}

/// The name a client sees for a mailbox of `owner` (the inverse of [`resolve_name`]
/// without aliases): own names as they are, `~public/x` for the requester domain's
/// public account, `~name/x` within the requester's domain, `~name@domain/x` otherwise.
pub fn client_name(requester: &AccountInfo, owner: &AccountInfo, mailbox: &str) -> String {
    if owner.id == requester.id {
        mailbox.to_string()
    } else if owner.domain == requester.domain {
        format!("~{}/{mailbox}", owner.name)
    } else {
        format!("~{}@{}/{mailbox}", owner.name, owner.domain)
    }
}

/// A POP3 user name split per P8 / seed 000: `mailbox#account`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PopUser {
    /// The login name whose password is checked (after the last `#`): `jsmith`,
    /// `jsmith@client1.com`, `jsmith%client1.com`.
    pub login: String,
    /// The mailbox part (before the last `#`), resolved with [`resolve_name`] relative to
    /// the logged-in account; `None` for a plain login (INBOX).
    pub mailbox: Option<String>,
}

/// Splits a POP3 USER/APOP/SASL name `mailbox#account` (P8). No `#`: the whole name is
/// the login and the mailbox is INBOX. Empty mailbox or account part: [`NameError::BadPopUser`].
pub fn parse_pop_user(user: &str) -> Result<PopUser, NameError> {
    match user.rsplit_once('#') {
        None => Ok(PopUser {
            login: user.to_string(),
            mailbox: None,
        }),
        Some((m, a)) if m.is_empty() || a.is_empty() => Err(NameError::BadPopUser),
        Some((m, a)) => Ok(PopUser {
            login: a.to_string(),
            mailbox: Some(m.to_string()),
        }),
    }
}

/// Checks the syntax of a client-visible mailbox name without resolving it (no requester,
/// no aliases): the checks [`resolve_name`] makes on `~account[@domain]/mailbox` and on
/// own names. POP3 uses it to refuse a malformed `mailbox#account` before the password.
pub fn check_name_syntax(name: &str) -> Result<(), NameError> {
    let Some(rest) = name.strip_prefix('~') else {
        return clean_mailbox(name).map(|_| ());
    };
    let (acct, mailbox) = rest.split_once('/').ok_or(NameError::NoMailbox)?;
    if acct.is_empty() || mailbox.is_empty() {
        return Err(NameError::NoMailbox);
    }
    let acct = acct.to_ascii_lowercase();
    let ok = match acct.split_once('@').or_else(|| acct.split_once('%')) {
        Some((n, d)) => valid_account_part(n) && valid_account_part(d) && !d.contains('@'),
        None => valid_account_part(&acct),
    };
    if !ok {
        return Err(NameError::BadAccount);
    }
    clean_mailbox(mailbox).map(|_| ())
}

// ---- async helpers over Ctx ------------------------------------------------------------

/// Failures of the access helpers. `NoSuchMailbox` covers both "does not exist" and "not
/// [`visible`]" (answer [`NO_SUCH_MAILBOX`]); `NoPermission` is for visible mailboxes
/// ([`NO_PERMISSION`]); `Name` is the client's syntax mistake (`BAD` or `NO`).
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The mailbox does not exist, or the requester may not know it exists.
    #[error("no such mailbox")]
    NoSuchMailbox,
    /// The mailbox is visible but the operation needs a right the requester lacks.
    #[error("permission denied")]
    NoPermission,
    /// The name cannot be resolved.
    #[error(transparent)]
    Name(#[from] NameError),
    /// A SETACL identifier that is not `user`, `user@domain`, `anyone` (optionally `-`).
    #[error("invalid identifier")]
    BadIdentifier,
    /// The store failed (or refused: `Invalid`, `AlreadyExists`...).
    #[error(transparent)]
    Store(StoreError),
    /// The directory failed.
    #[error(transparent)]
    Directory(DirError),
}

/// A mailbox opened for a requester, with its rights.
#[derive(Clone)]
pub struct Opened {
    /// The owner of the mailbox.
    pub owner: AccountInfo,
    /// The owner's store key.
    pub key: AccountKey,
    /// The owner's store.
    pub account: Arc<dyn Account>,
    /// The mailbox.
    pub mailbox: MailboxInfo,
    /// The requester's effective rights on it.
    pub rights: Rights,
    /// The owner's ACL of the mailbox.
    pub acl: Vec<AclEntry>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("owner", &self.owner.address())
            .field("mailbox", &self.mailbox.name)
            .field("rights", &self.rights)
            .finish()
    }
}

fn store_key(a: &AccountInfo) -> Result<AccountKey, AccessError> {
    let (d, n) = a.store_key();
    AccountKey::new(&d, &n).ok_or(AccessError::Store(StoreError::Invalid(
        "invalid account name".into(),
    )))
}

fn dir_err(e: DirError) -> AccessError {
    match e {
        DirError::NotFound(_) => AccessError::NoSuchMailbox,
        e => AccessError::Directory(e),
    }
}

fn store_err(e: StoreError) -> AccessError {
    match e {
        StoreError::NotFound(_) => AccessError::NoSuchMailbox,
        e => AccessError::Store(e),
    }
}

/// Resolves `name` for `requester` (aliases from the directory) to the owner's account.
pub async fn resolve_owner(
    ctx: &Ctx,
    requester: &AccountInfo,
    name: &str,
) -> Result<(AccountInfo, String), AccessError> {
    let r = requester.clone();
    let aliases = ctx
        .dir(move |d| d.mailbox_aliases_of(&r))
        .await
        .map_err(AccessError::Directory)?;
    let target = resolve_name(requester, name, &aliases)?;
    let owner = match target.owner {
        Owner::Own => requester.clone(),
        Owner::Other { name, domain } => ctx
            .dir(move |d| d.account(&format!("{name}@{domain}")))
            .await
            .map_err(dir_err)?,
    };
    Ok((owner, target.mailbox))
}

/// Opens the mailbox a client-visible name refers to and computes the requester's rights.
/// `NoSuchMailbox` when the owner or the mailbox does not exist or is not [`visible`].
pub async fn open_mailbox(
    ctx: &Ctx,
    requester: &AccountInfo,
    name: &str,
) -> Result<Opened, AccessError> {
    let (owner, mailbox_name) = resolve_owner(ctx, requester, name).await?;
    let key = store_key(&owner)?;
    let account = ctx.store.open_account(&key).await.map_err(store_err)?;
    let mailbox = account.mailbox(&mailbox_name).await.map_err(store_err)?;
    let acl = if owner.id == requester.id {
        Vec::new()
    } else {
        account.acl(mailbox.id).await.map_err(store_err)?
    };
    let rights = effective_rights(requester, &owner, &acl);
    if !visible(rights) {
        return Err(AccessError::NoSuchMailbox);
    }
    Ok(Opened {
        owner,
        key,
        account,
        mailbox,
        rights,
        acl,
    })
}

/// [`open_mailbox`] plus the check that `op` is allowed (`NoPermission` otherwise).
pub async fn check(
    ctx: &Ctx,
    requester: &AccountInfo,
    name: &str,
    op: Op,
) -> Result<Opened, AccessError> {
    let o = open_mailbox(ctx, requester, name).await?;
    if !allows(o.rights, op) {
        return Err(AccessError::NoPermission);
    }
    Ok(o)
}

/// MYRIGHTS (RFC 4314 section 3.5): the rights as printed (`Rights::to_imap`).
pub async fn my_rights(
    ctx: &Ctx,
    requester: &AccountInfo,
    name: &str,
) -> Result<Rights, AccessError> {
    Ok(check(ctx, requester, name, Op::MyRights).await?.rights)
}

/// GETACL (RFC 4314 section 3.3): the stored entries, plus the owner's implicit entry
/// (`owner@domain` with every right) first.
pub async fn get_acl(
    ctx: &Ctx,
    requester: &AccountInfo,
    name: &str,
) -> Result<Vec<AclEntry>, AccessError> {
    let o = check(ctx, requester, name, Op::GetAcl).await?;
    let acl = if o.owner.id == requester.id {
        o.account.acl(o.mailbox.id).await.map_err(store_err)?
    } else {
        o.acl
    };
    let mut out = vec![AclEntry {
        identifier: o.owner.address(),
        rights: Rights::ALL,
    }];
    out.extend(
        acl.into_iter()
            .filter(|e| e.identifier != o.owner.address()),
    );
    Ok(out)
}

/// Canonicalises a SETACL/DELETEACL/LISTRIGHTS identifier: `anyone`, `user@domain`, or a
/// bare `user` taken in the requester's domain; a leading `-` is kept.
pub fn identifier_for(requester: &AccountInfo, raw: &str) -> Result<String, AccessError> {
    let (neg, body) = match raw.strip_prefix('-') {
        Some(b) => ("-", b),
        None => ("", raw),
    };
    let full = if body.eq_ignore_ascii_case(ANYONE) || body.contains('@') {
        format!("{neg}{body}")
    } else {
        format!("{neg}{body}@{}", requester.domain)
    };
    canonical_identifier(&full).ok_or(AccessError::BadIdentifier)
}

/// SETACL (RFC 4314 section 3.1): applies `change` to the identifier's entry (empty
/// result removes it) and notes the grant in the directory's grants hint. Setting rights
/// for the owner is refused (`Store(Invalid)`): the owner always has every right.
pub async fn set_acl(
    ctx: &Ctx,
    requester: &AccountInfo,
    name: &str,
    identifier: &str,
    change: RightsChange,
) -> Result<Rights, AccessError> {
    let o = check(ctx, requester, name, Op::SetAcl).await?;
    let id = identifier_for(requester, identifier)?;
    if id == o.owner.address() {
        return Err(AccessError::Store(StoreError::Invalid(
            "the owner's rights cannot be changed".into(),
        )));
    }
    let acl = o.account.acl(o.mailbox.id).await.map_err(store_err)?;
    let current = acl
        .iter()
        .find(|e| e.identifier == id)
        .map(|e| e.rights)
        .unwrap_or_default();
    let new = change.apply(current);
    o.account
        .set_acl(o.mailbox.id, &id, new)
        .await
        .map_err(store_err)?;
    if !new.is_empty() {
        let owner = o.owner.clone();
        let g = id.clone();
        ctx.dir(move |d| d.note_grant(&owner, &g))
            .await
            .map_err(AccessError::Directory)?;
    }
    Ok(new)
}

/// DELETEACL (RFC 4314 section 3.2).
pub async fn delete_acl(
    ctx: &Ctx,
    requester: &AccountInfo,
    name: &str,
    identifier: &str,
) -> Result<(), AccessError> {
    let o = check(ctx, requester, name, Op::DeleteAcl).await?;
    let id = identifier_for(requester, identifier)?;
    o.account
        .delete_acl(o.mailbox.id, &id)
        .await
        .map_err(store_err)
}

/// Rebuilds the grants hint of `owner` from its store's ACLs (after renames, deletes or
/// DELETEACL the hint may hold stale rows; they cost a store open, never a right).
pub async fn refresh_grants(ctx: &Ctx, owner: &AccountInfo) -> Result<(), AccessError> {
    let key = store_key(owner)?;
    let account = ctx.store.open_account(&key).await.map_err(store_err)?;
    let mut grantees: Vec<String> = account
        .all_acls()
        .await
        .map_err(store_err)?
        .into_iter()
        .filter(|(_, e)| !e.is_negative())
        .map(|(_, e)| e.identifier)
        .collect();
    grantees.sort();
    grantees.dedup();
    let owner = owner.clone();
    ctx.dir(move |d| d.set_grants(&owner, &grantees))
        .await
        .map_err(AccessError::Directory)
}

/// Other accounts' mailboxes the requester may list (`l`), with client-visible names
/// (see [`client_name`]) and the requester's rights, for LIST/LSUB of `~` and `~public`.
/// Candidates come from the grants hint; an account whose store fails is skipped.
pub async fn foreign_mailboxes(
    ctx: &Ctx,
    requester: &AccountInfo,
) -> Result<Vec<(String, Rights)>, AccessError> {
    let r = requester.clone();
    let owners = ctx
        .dir(move |d| d.grantors(&r))
        .await
        .map_err(AccessError::Directory)?;
    let mut out = Vec::new();
    for owner in owners {
        let Ok(key) = store_key(&owner) else { continue };
        let Ok(account) = ctx.store.open_account(&key).await else {
            continue;
        };
        let (Ok(boxes), Ok(acls)) = (account.list_mailboxes().await, account.all_acls().await)
        else {
            continue;
        };
        for mb in boxes {
            let acl: Vec<AclEntry> = acls
                .iter()
                .filter(|(id, _)| *id == mb.id)
                .map(|(_, e)| e.clone())
                .collect();
            let rights = effective_rights(requester, &owner, &acl);
            if rights.contains(Rights::LOOKUP) {
                out.push((client_name(requester, &owner, &mb.name), rights));
            }
        }
    }
    Ok(out)
}

// ---- quotas --------------------------------------------------------------------------

/// The quota root of an account (seed 001: "`#account`"; RFC 9208 section 3).
pub fn quota_root(owner: &AccountInfo) -> String {
    format!("#{}", owner.name)
}

/// Which limit an operation would exceed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuotaExceeded {
    /// `STORAGE` (RFC 9208 section 5.1), octets.
    #[error("storage quota exceeded: {used} + {adding} octets over the limit of {limit}")]
    Storage {
        /// Octets in use.
        used: u64,
        /// Octets the operation adds.
        adding: u64,
        /// The limit, octets.
        limit: u64,
    },
    /// `MESSAGE` (RFC 9208 section 5.2).
    #[error("message quota exceeded: {used} + {adding} messages over the limit of {limit}")]
    Messages {
        /// Messages held.
        used: u64,
        /// Messages the operation adds.
        adding: u64,
        /// The limit.
        limit: u64,
    },
}

/// Pure check: would adding `add_bytes` octets in `add_messages` messages exceed the
/// limits? (RFC 9208 section 4.1.1... an APPEND/COPY that would exceed fails with
/// `NO [OVERQUOTA]`; LMTP answers 552 5.2.2 or 452 4.2.2.) Adding nothing never fails,
/// so an account over its limit can still delete and expunge.
pub fn quota_allows(
    limits: &QuotaLimits,
    usage: &Usage,
    add_bytes: u64,
    add_messages: u64,
) -> Result<(), QuotaExceeded> {
    if let Some(limit) = limits.storage_bytes() {
        if add_bytes > 0 && usage.bytes.saturating_add(add_bytes) > limit {
            return Err(QuotaExceeded::Storage {
                used: usage.bytes,
                adding: add_bytes,
                limit,
            });
        }
    }
    if let Some(limit) = limits.messages {
        if add_messages > 0 && usage.messages.saturating_add(add_messages) > limit {
            return Err(QuotaExceeded::Messages {
                used: usage.messages,
                adding: add_messages,
                limit,
            });
        }
    }
    Ok(())
}

/// The QUOTA response resources (RFC 9208 section 4.1.3 / 5): `(name, usage, limit)` with
/// `STORAGE` in KiB (usage rounded up) and `MESSAGE` in messages; unlimited ones omitted.
pub fn quota_resources(limits: &QuotaLimits, usage: &Usage) -> Vec<(&'static str, u64, u64)> {
    let mut v = Vec::new();
    if let Some(l) = limits.storage_kib {
        v.push(("STORAGE", usage.bytes.div_ceil(1024), l));
    }
    if let Some(l) = limits.messages {
        v.push(("MESSAGE", usage.messages, l));
    }
    v
}

/// Failure of [`quota_check`]: the limit, or the lookup itself.
#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    /// The operation would exceed a limit.
    #[error(transparent)]
    Exceeded(#[from] QuotaExceeded),
    /// The account, its limits or its usage could not be read.
    #[error("quota lookup failed: {0}")]
    Lookup(String),
}

/// The limits and usage of the account with store key `key`.
pub async fn quota_of(ctx: &Ctx, key: &AccountKey) -> Result<(QuotaLimits, Usage), QuotaError> {
    let addr = format!("{}@{}", key.name(), key.domain());
    let limits = ctx
        .dir(move |d| d.quota(&addr))
        .await
        .map_err(|e| QuotaError::Lookup(e.to_string()))?;
    if limits.is_unlimited() {
        return Ok((limits, Usage::default()));
    }
    let usage = ctx
        .store
        .open_account(key)
        .await
        .map_err(|e| QuotaError::Lookup(e.to_string()))?
        .usage()
        .await
        .map_err(|e| QuotaError::Lookup(e.to_string()))?;
    Ok((limits, usage))
}

/// Checks that adding `add_bytes` octets in `add_messages` messages to the account keeps
/// it within its quota (APPEND, COPY into another account; I12: MOVE inside one account
/// needs no check).
pub async fn quota_check(
    ctx: &Ctx,
    key: &AccountKey,
    add_bytes: u64,
    add_messages: u64,
) -> Result<(), QuotaError> {
    let (limits, usage) = quota_of(ctx, key).await?;
    Ok(quota_allows(&limits, &usage, add_bytes, add_messages)?)
}

#[cfg(test)]
mod tests;
