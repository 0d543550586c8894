//! The schema, as numbered migrations applied at start ([`migrate`]).
//!
//! Each entry of [`MIGRATIONS`] runs once, in order, in one transaction with its row in
//! `mailroom_schema`; every node that starts takes the same advisory lock first, so two
//! nodes starting together apply each migration exactly once (the lock is per database:
//! installations in other schemas of it wait for each other's migrations too). A migration is never edited
//! once released: a change is a new entry.
//!
//! Tables (migration 1):
//! - `accounts`: one row per account store (`key` = `domain/name`), with the highest
//!   UIDVALIDITY handed out in it (a recreated mailbox gets a higher one).
//! - `mailboxes`: UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and the first `\Recent` UID of each
//!   mailbox. Every change of a mailbox's messages locks its row (`FOR UPDATE`) and
//!   advances these in the same transaction: UIDs and modseqs are handed out one writer
//!   at a time per mailbox, and never go backwards.
//! - `messages`: per (mailbox, uid) the modseq, flags (bits of `mailroom_store::Flags`),
//!   keywords, internal date and zone, size, the blob (SHA-256 of the CRLF form), the
//!   cached preview and a kept POP3 UIDL.
//! - `expunged`: tombstones (mailbox, uid, modseq) for `changes_since`.
//! - `blobs`: message bodies in CRLF form, one row per distinct content (deduplicated by
//!   SHA-256), with the parsed structure in the compact form the Maildir index keeps
//!   (`MessageStructure::to_bytes`) and a reference count kept by triggers on `messages`;
//!   a blob whose count fell to 0 is deleted an hour later (open handles keep reading).
//! - `subscriptions`, `acl`, `metadata`: per account / per mailbox, removed with them.
//!
//! Migration 2 adds to `messages` the EMAILID (`email_id`, from a sequence, copied by COPY
//! and MOVE) and the save date (`save_date`). The MAILBOXID is made from the mailbox's
//! `id` (a bigserial: kept through RENAME, never given again).
//!
//! Quota *limits* live in the directory; the usage the store reports is summed from
//! `messages`.

use crate::pg_err;
use mailroom_store::StoreError;

/// The migrations, in order: migration `i + 1` is `MIGRATIONS[i]`.
pub const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
CREATE TABLE accounts (
    id               bigserial PRIMARY KEY,
    key              text NOT NULL UNIQUE,
    last_uidvalidity bigint NOT NULL DEFAULT 0
);
CREATE TABLE mailboxes (
    id              bigserial PRIMARY KEY,
    account         bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name            text NOT NULL,
    uidvalidity     bigint NOT NULL,
    uidnext         bigint NOT NULL DEFAULT 1,
    highest_modseq  bigint NOT NULL DEFAULT 1,
    special_use     text,
    recent_from_uid bigint NOT NULL DEFAULT 1,
    UNIQUE (account, name)
);
CREATE TABLE blobs (
    hash        bytea PRIMARY KEY,
    size        bigint NOT NULL,
    refs        bigint NOT NULL DEFAULT 0,
    orphaned_at timestamptz,
    structure   bytea NOT NULL,
    data        bytea
);
-- Uncompressed out-of-line storage: substring() reads only the TOAST chunks it needs.
ALTER TABLE blobs ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE INDEX blobs_orphaned ON blobs (orphaned_at) WHERE refs = 0;
CREATE TABLE messages (
    mailbox       bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    uid           bigint NOT NULL,
    modseq        bigint NOT NULL,
    flags         smallint NOT NULL,
    keywords      text[] NOT NULL DEFAULT '{}',
    internal_date bigint NOT NULL,
    internal_tz   integer NOT NULL,
    size          bigint NOT NULL,
    blob          bytea NOT NULL REFERENCES blobs (hash),
    preview       text,
    pop3_uidl     text,
    PRIMARY KEY (mailbox, uid)
);
CREATE INDEX messages_modseq ON messages (mailbox, modseq);
CREATE TABLE expunged (
    mailbox bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    uid     bigint NOT NULL,
    modseq  bigint NOT NULL,
    PRIMARY KEY (mailbox, uid)
);
CREATE INDEX expunged_modseq ON expunged (mailbox, modseq);
CREATE TABLE subscriptions (
    account bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name    text NOT NULL,
    PRIMARY KEY (account, name)
);
CREATE TABLE acl (
    mailbox    bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    identifier text NOT NULL,
    rights     integer NOT NULL,
    PRIMARY KEY (mailbox, identifier)
);
-- mailbox NULL: the account's server entries.
CREATE TABLE metadata (
    account bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    mailbox bigint REFERENCES mailboxes (id) ON DELETE CASCADE,
    name    text NOT NULL,
    value   bytea NOT NULL
);
CREATE UNIQUE INDEX metadata_entry ON metadata (account, coalesce(mailbox, 0), name);
-- Blob reference counts follow the message rows, whichever statement adds or removes
-- them (append, copy, expunge, a mailbox's or an account's cascading delete).
CREATE FUNCTION mailroom_blob_refs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE blobs SET refs = refs + 1, orphaned_at = NULL WHERE hash = NEW.blob;
    ELSE
        UPDATE blobs SET refs = refs - 1,
                         orphaned_at = CASE WHEN refs = 1 THEN now() ELSE orphaned_at END
         WHERE hash = OLD.blob;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER messages_blob_refs AFTER INSERT OR DELETE ON messages
    FOR EACH ROW EXECUTE FUNCTION mailroom_blob_refs();
"#,
    // 2: EMAILIDs and save dates (RFC 8474, RFC 8514). A message's `email_id` comes
    // from a sequence that never hands a number out twice and is copied by COPY and
    // MOVE; `save_date` (Unix seconds) is set by APPEND, COPY, MOVE and delivery, and
    // unknown (NULL) for the messages saved before this migration.
    r#"
CREATE SEQUENCE mailroom_email_ids;
ALTER TABLE messages
    ADD COLUMN email_id  bigint NOT NULL DEFAULT nextval('mailroom_email_ids'),
    ADD COLUMN save_date bigint;
ALTER SEQUENCE mailroom_email_ids OWNED BY messages.email_id;
"#,
];

/// The advisory lock every migrator takes first ("mailroom" in ASCII).
const MIGRATION_LOCK: i64 = 7021820985617335661;

/// Brings the schema up to date: creates `schema` if given and missing, then applies the
/// migrations not yet recorded, each in its own transaction, all under a session
/// advisory lock (one migrator at a time across every node). Returns how many it applied.
pub async fn migrate(
    client: &mut deadpool_postgres::Object,
    schema: Option<&str>,
) -> Result<u32, StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg_err)?;
    let result = migrate_locked(client, schema).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg_err);
    let applied = result?;
    unlocked?;
    Ok(applied)
}

async fn migrate_locked(
    client: &mut deadpool_postgres::Object,
    schema: Option<&str>,
) -> Result<u32, StoreError> {
    if let Some(s) = schema {
        client
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(s)))
            .await
            .map_err(pg_err)?;
    }
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS mailroom_schema (
                 version    integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(pg_err)?;
    let mut applied = 0u32;
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        let done = client
            .query_opt(
                "SELECT 1 FROM mailroom_schema WHERE version = $1",
                &[&version],
            )
            .await
            .map_err(pg_err)?
            .is_some();
        if done {
            continue;
        }
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.batch_execute(sql).await.map_err(pg_err)?;
        tx.execute(
            "INSERT INTO mailroom_schema (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
        tracing::info!(version, "PostgreSQL store: migration applied");
        applied += 1;
    }
    Ok(applied)
}

/// An SQL identifier, quoted (`"` doubled).
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}
