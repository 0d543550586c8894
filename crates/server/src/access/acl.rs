//! The ACL commands over a requester's view (RFC 4314 section 3: MYRIGHTS, GETACL,
//! SETACL, DELETEACL, identifiers), the grants hint kept beside them, and the other
//! accounts' mailboxes a requester may list (LIST of `~`).
//!
//! Not here: how the ACL entries are stored (the owner's store, `mailroom_store::acl`).

use super::open::{store_err, store_key};
use super::{check, client_name, effective_rights, AccessError, Op};
use crate::Ctx;
use mailroom_directory::AccountInfo;
use mailroom_store::acl::{canonical_identifier, AclEntry, Rights, RightsChange, ANYONE};
use mailroom_store::StoreError;

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
