//! The access core for sharing (product items I4, I5, I10, A4, P8): who may do what on
//! which mailbox, how client-visible names map onto accounts' stores, and quota checks.
//! Protocol sessions (IMAP, POP3) call into this module; it holds no session state.
//!
//! - Rights evaluation (RFC 4314): [`effective_rights`], the command table [`needed`],
//!   and the existence rule [`visible`] (answer [`NO_SUCH_MAILBOX`] when it is false).
//! - Names: [`resolve_name`] (`INBOX`, `Foo/Bar`, `~account/...`, `~account@domain/...`,
//!   `~public/...`, mailbox aliases) and [`parse_pop_user`] (POP3 `mailbox#account`, P8).
//! - Async helpers over [`Ctx`](crate::Ctx): [`open_mailbox`], [`check`], [`my_rights`],
//!   [`get_acl`], [`set_acl`], [`delete_acl`], [`foreign_mailboxes`] (LIST of `~`),
//!   [`quota_check`], [`quota_of`].
//!
//! Where things are stored (design note): ACL entries live in the owner's store, keyed
//! by mailbox id (`Account::acl`, so they follow RENAME and vanish with DELETE);
//! `directory.db` keeps mailbox aliases, quota limits and a *grants hint* (owner →
//! grantee) that [`set_acl`] keeps as a superset of the real grants so LIST of `~` only
//! opens the stores of accounts that granted the requester (or `anyone`) something.
//!
//! Administrators (design note): RFC 4314 section 2 leaves implicit rights to the
//! server; seed 004 says rights are granted "by the owner or an administrator". An
//! account with [`AccountInfo::admin`](mailroom_directory::AccountInfo::admin) therefore
//! gets `l` and `a` on every mailbox (it sees it, reads and changes its ACL) on top of
//! what the ACL grants it, but not `r`, `w`, `t`, `e`...: to read someone's mail an
//! administrator must first grant itself the right, which leaves a trace in the ACL.
//! Negative entries do not remove `l a` from an administrator, nor any right from the
//! owner (the owner always has every right).
//!
//! Layout: `rights.rs` the rights evaluation and the answers for missing mailboxes and
//! rights; `ops.rs` the operations subject to rights and what each needs (RFC 4314
//! section 4); `names.rs` client-visible names to (owner, mailbox) and POP3
//! `mailbox#account`; `open.rs` opening a mailbox for a requester with its rights
//! ([`AccessError`], [`Opened`]); `acl.rs` the ACL commands and LIST of `~` over the
//! grants hint; `quota.rs` quota roots, limits and checks. Every public item is
//! re-exported here: callers name them `access::...`.

mod acl;
mod names;
mod open;
mod ops;
mod quota;
mod rights;

pub use acl::{
    delete_acl, foreign_mailboxes, get_acl, identifier_for, my_rights, refresh_grants, set_acl,
};
pub use names::{
    check_name_syntax, client_name, parse_pop_user, resolve_name, NameError, Owner, PopUser,
    Target, OTHER_USERS_PREFIX, PUBLIC_ACCOUNT, PUBLIC_PREFIX,
};
pub use open::{check, open_mailbox, resolve_owner, AccessError, Opened};
pub use ops::{allowed_flags, allows, needed, Need, Op};
pub use quota::{
    quota_allows, quota_check, quota_of, quota_resources, quota_root, QuotaError, QuotaExceeded,
};
pub use rights::{
    effective_rights, visible, NO_PERMISSION, NO_SUCH_MAILBOX, POP3_NO_PERMISSION,
    POP3_NO_SUCH_MAILBOX,
};

#[cfg(test)]
mod tests;
