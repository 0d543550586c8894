//! Mail storage for mailroom on PostgreSQL: the traits of `mailroom-store` ([`Store`],
//! [`mailroom_store::Account`], [`mailroom_store::MessageContent`],
//! [`mailroom_store::ChangeHub`]) over one shared database, so that any number of mailroom
//! nodes serve the same accounts.
//!
//! What lives here: [`PgStore`] (the pool, the schema migrations, the change feed, the
//! sweeper of orphaned blobs), `account` ([`PgAccount`]: every operation as one
//! transaction), `blob` (the [`BlobStore`] trait behind which message bodies live, and
//! [`PgBlobs`], bodies in PostgreSQL itself), `schema` (the numbered migrations), `names`
//! (mailbox names and keywords checked as the Maildir backend checks them), `listen`
//! (the LISTEN/NOTIFY change feed that wakes the local change hub), and with the
//! `testsuite` feature [`PgHarness`] for the conformance suite.
//!
//! What does not live here: sessions, protocols, the directory (accounts' passwords and
//! quota limits), and the choice of backend (the binary makes it).
//!
//! The driver is `tokio-postgres` with the `deadpool-postgres` pool rather than `sqlx`:
//! fewer dependencies, plain SQL strings checked by the conformance suite against a real
//! server, and no compile-time query macros that need a live database (or a checked-in
//! query cache) to build.
//!
//! Architecture invariant: every change to a mailbox's messages (append, copy, move,
//! STORE, EXPUNGE, a `\Recent` claim) runs in one transaction that first locks the
//! mailbox's row (`SELECT ... FOR UPDATE`) and advances UIDNEXT and HIGHESTMODSEQ in that
//! row before it commits: UIDs and modseqs of a mailbox are handed out one writer at a
//! time, cluster-wide, and never reused or lowered. Where a transaction locks two
//! mailboxes (COPY, MOVE) it locks them in id order.
//!
//! Architecture invariant: an append returns after its transaction committed (PostgreSQL
//! flushes the commit to its WAL before it answers, with the server's default
//! `synchronous_commit = on`): what a caller acknowledges is durable on the database.
//!
//! Architecture invariant: a committed change wakes watchers on every node: the
//! transaction sends `pg_notify` (delivered only if it commits), each node's listener
//! turns it into a wake-up of its local hub; after the listener reconnects every watched
//! mailbox is woken, since notifications may have been missed meanwhile.

#![forbid(unsafe_code)]

mod account;
mod blob;
#[cfg(feature = "testsuite")]
mod harness;
mod listen;
mod names;
mod schema;

pub use account::PgAccount;
pub use blob::{BlobStore, NewBlob, PgBlobs};
#[cfg(feature = "testsuite")]
pub use harness::PgHarness;
pub use schema::MIGRATIONS;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use mailroom_store::hub::LocalHub;
use mailroom_store::{Account, AccountKey, ChangeHub, MailboxId, Store, StoreError};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

/// How to reach the database.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// A libpq-style URL or key=value string (`postgres://user@host:5432/mailroom`).
    pub url: String,
    /// Connections in the pool (the LISTEN connection comes on top).
    pub pool_size: usize,
    /// A schema to work in (created if missing) instead of the user's default
    /// `search_path`: several installations, or test runs, in one database. Letters,
    /// digits and `_` only.
    pub schema: Option<String>,
}

impl PgOptions {
    /// Options for `url` with the default pool size (16) and schema.
    pub fn new(url: impl Into<String>) -> PgOptions {
        PgOptions {
            url: url.into(),
            pool_size: 16,
            schema: None,
        }
    }
}

/// How long a blob whose last message went stays readable (open content handles, a
/// FETCH running while another node expunges) before the sweeper deletes it.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

/// How often the sweeper looks for orphaned blobs.
const SWEEP_EVERY: Duration = Duration::from_secs(600);

/// What every account handle of one store shares.
pub(crate) struct Shared {
    pub(crate) pool: Pool,
    pub(crate) hub: Arc<LocalHub>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    /// The NOTIFY channel of this installation (per schema).
    pub(crate) channel: String,
    /// This store's random id in account-event payloads (its listener skips its own).
    pub(crate) node: String,
}

impl Shared {
    /// A pooled connection.
    pub(crate) async fn conn(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pool_err)
    }
}

/// The PostgreSQL backend: a pool of connections to one database, its change feed, and
/// the in-process hub the feed wakes.
pub struct PgStore {
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl PgStore {
    /// Connects, applies the schema migrations not yet applied, and starts the change
    /// feed listener and the blob sweeper. Fails if the database cannot be reached.
    pub async fn connect(opts: PgOptions) -> Result<Arc<PgStore>, StoreError> {
        let cfg = pg_config(&opts)?;
        let manager = Manager::from_config(
            cfg.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(opts.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|e| StoreError::Invalid(format!("PostgreSQL pool: {e}")))?;
        let mut client = pool.get().await.map_err(pool_err)?;
        schema::migrate(&mut client, opts.schema.as_deref()).await?;
        drop(client);
        let channel = format!("mailroom.{}", opts.schema.as_deref().unwrap_or("public"));
        let shared = Arc::new(Shared {
            blobs: Arc::new(PgBlobs::new(pool.clone())),
            pool,
            hub: Arc::new(LocalHub::default()),
            channel: channel.clone(),
            node: format!("{:016x}", rand::random::<u64>()),
        });
        let (ready, listening) = tokio::sync::oneshot::channel();
        let listener = tokio::spawn(listen::run(
            cfg,
            channel,
            shared.node.clone(),
            Arc::downgrade(&shared.hub),
            ready,
        ));
        // A node without its change feed would leave its sessions blind to the others'
        // changes: it does not start without one.
        if !matches!(
            tokio::time::timeout(Duration::from_secs(15), listening).await,
            Ok(Ok(()))
        ) {
            listener.abort();
            return Err(StoreError::Index(
                "PostgreSQL change feed: LISTEN did not succeed within 15 s".into(),
            ));
        }
        let sweeper = tokio::spawn(sweep(Arc::downgrade(&shared)));
        Ok(Arc::new(PgStore {
            shared,
            tasks: vec![listener, sweeper],
        }))
    }

    /// Opens an account, returning the concrete type.
    pub async fn open_pg_account(&self, key: &AccountKey) -> Result<Arc<PgAccount>, StoreError> {
        PgAccount::open(self.shared.clone(), key).await
    }

    /// Checks that the database answers (`mailroom check-config`): the server version.
    pub async fn server_version(&self) -> Result<String, StoreError> {
        let c = self.shared.conn().await?;
        let row = c
            .query_one("SHOW server_version", &[])
            .await
            .map_err(pg_err)?;
        row.try_get(0).map_err(pg_err)
    }

    /// Deletes the blobs that no message has referenced for [`ORPHAN_GRACE`]; returns
    /// how many. The store runs it every ten minutes.
    pub async fn sweep_orphans(&self) -> Result<u64, StoreError> {
        sweep_once(&self.shared).await
    }
}

/// The driver's configuration for `opts`: the URL, the schema as `search_path`, an
/// application name and a connect time-out unless the URL sets them.
fn pg_config(opts: &PgOptions) -> Result<tokio_postgres::Config, StoreError> {
    let mut cfg: tokio_postgres::Config = opts
        .url
        .parse()
        .map_err(|e| StoreError::Invalid(format!("PostgreSQL URL: {e}")))?;
    if let Some(s) = &opts.schema {
        if s.is_empty()
            || s.len() > 48
            || !s
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(StoreError::Invalid(format!(
                "PostgreSQL schema {s:?}: lower-case letters, digits and _ only"
            )));
        }
        cfg.options(format!("-c search_path={s}"));
    }
    if cfg.get_application_name().is_none() {
        cfg.application_name("mailroom");
    }
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(Duration::from_secs(10));
    }
    Ok(cfg)
}

/// Checks, without changing anything, that the database of `opts` answers
/// (`mailroom check-config`): a line naming the server version and the schema's
/// migration state (migrations are applied by the first node that starts).
pub async fn check(opts: &PgOptions) -> Result<String, StoreError> {
    let cfg = pg_config(opts)?;
    let (client, conn) = cfg.connect(NoTls).await.map_err(pg_err)?;
    let driver = tokio::spawn(conn);
    let result = async {
        let version: String = client
            .query_one("SHOW server_version", &[])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(pg_err)?;
        let has_schema: bool = client
            .query_one("SELECT to_regclass('mailroom_schema') IS NOT NULL", &[])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(pg_err)?;
        let at: i32 = if has_schema {
            client
                .query_one("SELECT coalesce(max(version), 0) FROM mailroom_schema", &[])
                .await
                .and_then(|r| r.try_get(0))
                .map_err(pg_err)?
        } else {
            0
        };
        let latest = MIGRATIONS.len();
        let state = match usize::try_from(at).unwrap_or(0) {
            0 => format!("no mailroom schema yet (the first start creates it, version {latest})"),
            n if n < latest => {
                format!("schema at version {n} of {latest} (the next start migrates)")
            }
            n if n == latest => format!("schema at version {n} (current)"),
            n => format!("schema at version {n}, newer than this mailroom ({latest})"),
        };
        Ok(format!("PostgreSQL {version}, {state}"))
    }
    .await;
    drop(client);
    let _ = driver.await;
    result
}

async fn sweep_once(shared: &Shared) -> Result<u64, StoreError> {
    let c = shared.conn().await?;
    let secs = ORPHAN_GRACE.as_secs_f64();
    c.execute(
        "DELETE FROM blobs WHERE refs = 0 AND orphaned_at < now() - make_interval(secs => $1)",
        &[&secs],
    )
    .await
    .map_err(pg_err)
}

async fn sweep(shared: Weak<Shared>) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(s) = shared.upgrade() else {
            return;
        };
        match sweep_once(&s).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(blobs = n, "PostgreSQL store: orphaned blobs deleted"),
            Err(e) => tracing::warn!(error = %e, "PostgreSQL store: blob sweep failed"),
        }
    }
}

#[async_trait]
impl Store for PgStore {
    async fn open_account(&self, key: &AccountKey) -> Result<Arc<dyn Account>, StoreError> {
        let a: Arc<dyn Account> = self.open_pg_account(key).await?;
        Ok(a)
    }

    async fn remove_account(&self, key: &AccountKey) -> Result<(), StoreError> {
        let c = self.shared.conn().await?;
        c.execute("DELETE FROM accounts WHERE key = $1", &[&key.as_str()])
            .await
            .map_err(pg_err)?;
        Ok(())
    }

    async fn rename_account(
        &self,
        from: &AccountKey,
        to: &AccountKey,
        then: Box<dyn FnOnce() -> Result<(), StoreError> + Send>,
    ) -> Result<(), StoreError> {
        let mut c = self.shared.conn().await?;
        let tx = c.transaction().await.map_err(pg_err)?;
        // The row lock makes every node's open of `from` wait for the outcome.
        let found = tx
            .query_opt(
                "SELECT id FROM accounts WHERE key = $1 FOR UPDATE NOWAIT",
                &[&from.as_str()],
            )
            .await
            .map_err(|e| match e.code() {
                Some(c) if *c == SqlState::LOCK_NOT_AVAILABLE => StoreError::Busy,
                _ => pg_err(e),
            })?;
        if found.is_none() {
            return Err(StoreError::NotFound("account store"));
        }
        let taken = tx
            .query_opt("SELECT 1 FROM accounts WHERE key = $1", &[&to.as_str()])
            .await
            .map_err(pg_err)?;
        if taken.is_some() {
            return Err(StoreError::AlreadyExists("account store"));
        }
        tx.execute(
            "UPDATE accounts SET key = $2 WHERE key = $1",
            &[&from.as_str(), &to.as_str()],
        )
        .await
        .map_err(|e| unique_as(e, "account store"))?;
        // The directory's rename, while the row stays locked; its failure rolls back.
        tokio::task::spawn_blocking(then)
            .await
            .map_err(|e| StoreError::Index(format!("account rename task: {e}")))??;
        tx.commit().await.map_err(pg_err)
    }

    fn hub(&self) -> Arc<dyn ChangeHub> {
        self.shared.hub.clone()
    }
}

/// A driver error as a store error: deadlocks and serialization failures are `Busy`
/// (retried by the account's operations, temporary for callers), the rest `Index`.
pub(crate) fn pg_err(e: tokio_postgres::Error) -> StoreError {
    if let Some(c) = e.code() {
        if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE {
            return StoreError::Busy;
        }
        if *c == SqlState::DISK_FULL {
            return StoreError::Io(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "PostgreSQL: No space left on device",
            ));
        }
    }
    match e.as_db_error() {
        Some(db) => StoreError::Index(format!("PostgreSQL {}: {}", db.code().code(), db.message())),
        None => {
            // Connection errors keep their cause (refused, unknown host...) in the chain.
            let mut msg = format!("PostgreSQL: {e}");
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                let text = c.to_string();
                if !msg.contains(&text) {
                    msg.push_str(": ");
                    msg.push_str(&text);
                }
                cause = c.source();
            }
            StoreError::Index(msg)
        }
    }
}

/// [`pg_err`], with a unique violation as `AlreadyExists(what)`.
pub(crate) fn unique_as(e: tokio_postgres::Error, what: &'static str) -> StoreError {
    match e.code() {
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => StoreError::AlreadyExists(what),
        _ => pg_err(e),
    }
}

pub(crate) fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg_err(e),
        e => StoreError::Index(format!("PostgreSQL pool: {e}")),
    }
}

/// Wakes this node's watchers of a mailbox at once (other nodes learn of it through the
/// notification the transaction sent).
pub(crate) fn wake(shared: &Shared, key: &AccountKey, mailbox: MailboxId) {
    shared.hub.notify(key, mailbox);
}
