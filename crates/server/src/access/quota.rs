//! Quotas (RFC 9208, I10): the quota root of an account, the pure limit check, the QUOTA
//! response resources, and the async lookup and check over [`Ctx`].
//!
//! Not here: the limits themselves (`directory.db`, `mailroom_directory::QuotaLimits`),
//! the usage (the store's `Account::usage`).

use crate::Ctx;
use mailroom_directory::{AccountInfo, QuotaLimits};
use mailroom_store::{AccountKey, Usage};

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
    let limits = match ctx.directory.quota_now(&addr) {
        Some(r) => r,
        None => ctx.dir(move |d| d.quota(&addr)).await,
    }
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
