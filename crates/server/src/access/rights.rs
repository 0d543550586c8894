//! Rights evaluation (RFC 4314): the rights a requester has from an ACL (owner,
//! administrators, `anyone`, negative rights), the existence rule, and the answers for a
//! mailbox that may not be acknowledged or a right that is missing.
//!
//! Not here: what each operation needs (`ops.rs`), where the ACLs come from (`open.rs`).

use mailroom_directory::AccountInfo;
use mailroom_store::acl::{AclEntry, Rights, ANYONE};

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
