//! Runs the storage conformance suite (`mailroom_store::conformance_suite!`, the same
//! macro the Maildir backend's `maildir_conformance.rs` uses) against PostgreSQL: one
//! test per check, each in a fresh schema of the database named by `MAILROOM_PG_URL`.
//! Without that variable each test prints a loud SKIPPED line and returns (the one
//! allowed skip); `scripts/postgres.sh` starts a throwaway server and sets it.

use mailroom_store_postgres::PgHarness;

mailroom_store::conformance_suite!(match PgHarness::from_env(module_path!()) {
    Some(h) => h,
    None => return,
});
