//! APPEND rate of the PostgreSQL backend beside the Maildir backend on this machine:
//! durable appends of a 4 KiB message, one writer into one mailbox, 8 writers into one
//! mailbox (they queue on its row lock), 8 writers into 8 accounts.
//!
//! `MAILROOM_PG_URL=postgres://... cargo run -p mailroom-store-postgres --example append_rate [N]`
//! (N appends per writer, default 100; the PostgreSQL side works in a throwaway schema).

use mailroom_store::maildir::MaildirStore;
use mailroom_store::{AccountKey, AppendRequest, Flags, MessageData, Store};
use mailroom_store_postgres::PgHarness;
use std::sync::Arc;
use std::time::Instant;

fn message(i: usize) -> bytes::Bytes {
    let mut m = format!("From: a@example.org\r\nSubject: load {i}\r\n\r\n").into_bytes();
    while m.len() < 4096 {
        m.extend_from_slice(
            b"0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n",
        );
    }
    bytes::Bytes::from(m)
}

async fn run(store: Arc<dyn Store>, writers: usize, accounts: usize, n: usize) -> f64 {
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let key =
                AccountKey::new("example.org", &format!("user{}", w % accounts)).expect("key");
            let a = store.open_account(&key).await.expect("open");
            let inbox = a.mailbox("INBOX").await.expect("INBOX").id;
            for i in 0..n {
                a.append(
                    inbox,
                    AppendRequest {
                        prefix: Vec::new(),
                        data: MessageData::Bytes(message(w * 1_000_000 + i)),
                        flags: Flags::EMPTY,
                        keywords: Vec::new(),
                        internal_date: None,
                    },
                )
                .await
                .expect("append");
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    (writers * n) as f64 / t.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let Some(pg) = PgHarness::from_env("append_rate") else {
        return;
    };
    println!("appends/s of a 4 KiB message, {n} per writer");
    println!("{:<34} {:>10} {:>10}", "case", "maildir", "postgres");
    for (name, writers, accounts) in [
        ("1 writer, 1 mailbox", 1, 1),
        ("8 writers, 1 mailbox", 8, 1),
        ("8 writers, 8 accounts", 8, 8),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let maildir: Arc<dyn Store> =
            MaildirStore::open(dir.path().to_path_buf()).expect("maildir");
        let m = run(maildir, writers, accounts, n).await;
        let h = PgHarness::new(std::env::var("MAILROOM_PG_URL").unwrap_or_default());
        let p = run(h.open_pg().await, writers, accounts, n).await;
        println!("{name:<34} {m:>10.0} {p:>10.0}");
    }
    drop(pg);
}
