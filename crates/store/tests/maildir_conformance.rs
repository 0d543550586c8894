//! Runs the storage conformance suite against the Maildir backend, one test per suite
//! function, each in its own temporary directory.

use mailroom_store::maildir::harness::MaildirHarness;
use mailroom_store::testsuite;

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let h = MaildirHarness::new().expect("temporary directory");
            testsuite::$name(&h).await;
        }
    )*};
}

conformance!(
    append_and_fetch,
    append_from_file,
    lf_served_as_crlf,
    flags_and_keywords,
    copy_and_move,
    expunge_variants,
    changes_since,
    uids_monotonic_across_restart,
    index_rebuild,
    outside_delivery,
    outside_rename_and_remove,
    crash_during_append,
    recent_to_one_claimer,
    shared_account_state,
    concurrent_appends,
    remove_account,
    hub_wakes_on_changes,
    hub_wakes_on_outside_drop,
    mailbox_operations,
    bad_names_refused,
    garbage_messages,
    bodystructure_multipart,
    acl_storage,
);
