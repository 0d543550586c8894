//! LMTP: golden transcripts and end-to-end delivery checks.
mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lmtp_transcripts() {
    common::run_transcripts("lmtp").await;
}
