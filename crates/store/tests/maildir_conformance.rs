//! Runs the storage conformance suite against the Maildir backend: one test per check,
//! each in its own temporary directory. The Maildir-only checks (outside programs, index
//! loss, crash leftovers) are in `maildir_outside.rs`.

use mailroom_store::maildir::MaildirHarness;

mailroom_store::conformance_suite!(MaildirHarness::new().expect("temporary directory"));
