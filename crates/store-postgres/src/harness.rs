//! [`PgHarness`] (cargo feature `testsuite`): a [`PgStore`] in a fresh schema of the
//! database named by `MAILROOM_PG_URL`, for the conformance suite
//! (`mailroom_store::testsuite`) and other crates' tests. The schema is dropped when the
//! harness is.

use crate::schema::quote_ident;
use crate::{PgOptions, PgStore};
use async_trait::async_trait;
use mailroom_store::testsuite::Harness;
use mailroom_store::Store;
use std::sync::Arc;

/// The environment variable naming the test database.
pub const URL_VAR: &str = "MAILROOM_PG_URL";

/// A PostgreSQL store over a schema of its own (made on first open, dropped on drop).
pub struct PgHarness {
    url: String,
    schema: String,
}

impl PgHarness {
    /// A harness on the database of `MAILROOM_PG_URL`, or `None` (after a loud
    /// `SKIPPED` line on stderr naming `test`) when the variable is unset: the one
    /// allowed skip, for machines without PostgreSQL (`scripts/postgres.sh` sets it).
    pub fn from_env(test: &str) -> Option<PgHarness> {
        match std::env::var(URL_VAR) {
            Ok(url) if !url.is_empty() => Some(PgHarness::new(url)),
            _ => {
                // Straight to the process's stderr: the test harness does not capture it.
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "*** SKIPPED {test}: {URL_VAR} is not set (run scripts/postgres.sh for a throwaway PostgreSQL) ***"
                );
                None
            }
        }
    }

    /// A harness on the database at `url`, in a new schema with a random name.
    pub fn new(url: String) -> PgHarness {
        let schema = format!("mr_test_{:016x}", rand::random::<u64>());
        PgHarness { url, schema }
    }

    /// The options its stores are opened with.
    pub fn options(&self) -> PgOptions {
        PgOptions {
            url: self.url.clone(),
            pool_size: 8,
            schema: Some(self.schema.clone()),
        }
    }

    /// A plain connection working in the harness's schema, for tests that look at the
    /// tables themselves.
    pub async fn client(&self) -> tokio_postgres::Client {
        let mut cfg: tokio_postgres::Config = self.url.parse().expect("MAILROOM_PG_URL");
        cfg.options(format!("-c search_path={}", self.schema));
        let (client, conn) = cfg
            .connect(tokio_postgres::NoTls)
            .await
            .expect("connect to the PostgreSQL of MAILROOM_PG_URL");
        tokio::spawn(conn);
        client
    }

    /// Opens a store over the harness's schema, with the concrete type.
    pub async fn open_pg(&self) -> Arc<PgStore> {
        PgStore::connect(self.options())
            .await
            .expect("connect to the PostgreSQL of MAILROOM_PG_URL")
    }
}

#[async_trait]
impl Harness for PgHarness {
    async fn open(&self) -> Arc<dyn Store> {
        let store: Arc<dyn Store> = self.open_pg().await;
        store
    }
}

impl Drop for PgHarness {
    fn drop(&mut self) {
        // On a thread of its own with its own runtime: drop may run inside a runtime.
        let url = self.url.clone();
        let sql = format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            quote_ident(&self.schema)
        );
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async move {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .ok()?;
                let driver = tokio::spawn(conn);
                let r = client.batch_execute(&sql).await.ok();
                drop(client);
                let _ = driver.await;
                r
            })
        })
        .join();
        if !matches!(done, Ok(Some(()))) {
            eprintln!("PgHarness: could not drop schema {}", self.schema);
        }
    }
}
