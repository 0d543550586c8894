//! Opening the mailbox a client-visible name refers to, for a requester, with the
//! requester's rights: [`resolve_owner`], [`open_mailbox`], [`check`], and the error
//! type of the async access helpers ([`AccessError`]).
//!
//! Not here: the name rules (`names.rs`), the rights rules (`rights.rs`, `ops.rs`), ACL
//! commands (`acl.rs`).

use super::{allows, effective_rights, resolve_name, visible, NameError, Op, Owner};
use crate::Ctx;
use mailroom_directory::{AccountInfo, DirError};
use mailroom_store::acl::{AclEntry, Rights};
use mailroom_store::{Account, AccountKey, MailboxInfo, StoreError};
use std::sync::Arc;

/// Failures of the access helpers. `NoSuchMailbox` covers both "does not exist" and "not
/// [`visible`]" (answer [`NO_SUCH_MAILBOX`](super::NO_SUCH_MAILBOX)); `NoPermission` is
/// for visible mailboxes ([`NO_PERMISSION`](super::NO_PERMISSION)); `Name` is the
/// client's syntax mistake (`BAD` or `NO`).
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

pub(super) fn store_key(a: &AccountInfo) -> Result<AccountKey, AccessError> {
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

pub(super) fn store_err(e: StoreError) -> AccessError {
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
    let aliases = match ctx.directory.mailbox_aliases_now(requester) {
        Some(r) => r,
        None => {
            let r = requester.clone();
            ctx.dir(move |d| d.mailbox_aliases_of(&r)).await
        }
    }
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
