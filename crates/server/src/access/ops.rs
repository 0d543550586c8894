//! The operations subject to rights and the rights each needs (RFC 4314 section 4), and
//! the flags a client may set with the rights it has.
//!
//! Not here: computing the rights (`rights.rs`).

use mailroom_store::acl::Rights;

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
