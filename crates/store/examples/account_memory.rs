//! Memory per open account: opens N accounts of a fresh Maildir store and prints the
//! process's resident memory before and after. Run by hand:
//! `cargo run --release -p mailroom-store --example account_memory -- 200`
#![allow(clippy::unwrap_used)]
use mailroom_store::Store;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    if let Ok(mode) = std::env::var("RAW") {
        let dir = tempfile::tempdir().unwrap();
        let mut held = Vec::new();
        let before = rss_kib();
        for i in 0..n {
            let c = rusqlite::Connection::open(dir.path().join(format!("{i}.db"))).unwrap();
            if mode.contains('w') {
                c.pragma_update(None, "journal_mode", "WAL").unwrap();
            }
            if mode.contains('t') {
                c.execute_batch(
                    "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT); INSERT INTO t(b) VALUES ('x');",
                )
                .unwrap();
            }
            held.push(c);
        }
        let after = rss_kib();
        println!(
            "raw {mode}: {:.1} KiB per connection",
            (after - before) as f64 / n as f64
        );
        let c = &held[0];
        let opts: Vec<String> = c
            .prepare("PRAGMA compile_options")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        println!(
            "{}",
            opts.iter()
                .filter(|o| o.contains("LOOKASIDE"))
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        );
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(16)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = mailroom_store::maildir::MaildirStore::open(dir.path().to_path_buf()).unwrap();
        let mut held = Vec::new();
        // Warm up allocator and threads with one account.
        let k = mailroom_store::AccountKey::new("localhost", "warm").unwrap();
        held.push(store.open_account(&k).await.unwrap());
        let before = rss_kib();
        for i in 0..n {
            let k = mailroom_store::AccountKey::new("localhost", &format!("user{i}")).unwrap();
            let a = store.open_account(&k).await.unwrap();
            let boxes: &[&str] = if std::env::var("NOBOXES").is_ok() {
                &[]
            } else {
                &["Sent", "Drafts", "Trash", "Junk"]
            };
            for m in boxes {
                let _ = a.create_mailbox(m, None).await;
            }
            let _ = a.list_mailboxes().await.unwrap();
            held.push(a);
        }
        let after = rss_kib();
        println!(
            "{n} accounts open: RSS {before} -> {after} KiB, {:.1} KiB per account",
            (after - before) as f64 / n as f64
        );
        // Idle index connections are closed after a few seconds.
        tokio::time::sleep(
            mailroom_store::maildir::CLOSE_IDLE_INDEX * 2 + std::time::Duration::from_secs(1),
        )
        .await;
        let idle = rss_kib();
        println!(
            "after {}s idle: RSS {idle} KiB, {:.1} KiB per account",
            (mailroom_store::maildir::CLOSE_IDLE_INDEX * 2).as_secs() + 1,
            (idle as f64 - before as f64) / n as f64
        );
        drop(held);
    });
}
