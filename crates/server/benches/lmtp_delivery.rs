//! LMTP delivery throughput: messages per second with one and eight concurrent clients,
//! 4 KiB and 1 MiB messages, against an in-process server with a temporary data
//! directory (every message fsynced and indexed before its 250, as in production).
//!
//! Run by hand: `cargo bench -p mailroom-server --bench lmtp_delivery`
//! (`LMTP_BENCH_SCALE=0.2` for a shorter run). Not run by the test command.
#![allow(clippy::unwrap_used)]

use mailroom_server::net::Protocol;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

async fn client(addr: std::net::SocketAddr, count: usize, body: std::sync::Arc<Vec<u8>>) -> usize {
    let s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    let mut line = String::new();
    async fn reply(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, line: &mut String) -> String {
        loop {
            line.clear();
            r.read_line(line).await.unwrap();
            if line.as_bytes().get(3) != Some(&b'-') {
                return line.clone();
            }
        }
    }
    reply(&mut r, &mut line).await;
    w.write_all(b"LHLO bench\r\n").await.unwrap();
    reply(&mut r, &mut line).await;
    let mut ok = 0;
    for _ in 0..count {
        // Pipelined envelope (RFC 2920), as Postfix sends it.
        w.write_all(b"MAIL FROM:<bench@example.org>\r\nRCPT TO:<bench@localhost>\r\nDATA\r\n")
            .await
            .unwrap();
        for _ in 0..3 {
            reply(&mut r, &mut line).await;
        }
        w.write_all(&body).await.unwrap();
        w.write_all(b".\r\n").await.unwrap();
        if reply(&mut r, &mut line).await.starts_with("250") {
            ok += 1;
        }
    }
    w.write_all(b"QUIT\r\n").await.unwrap();
    ok
}

fn message(size: usize) -> Vec<u8> {
    let mut m =
        b"From: bench@example.org\r\nTo: bench@localhost\r\nSubject: benchmark\r\n\r\n".to_vec();
    let line = b"The quick brown fox jumps over the lazy dog, again and again and again.\r\n";
    while m.len() + line.len() <= size {
        m.extend_from_slice(line);
    }
    while m.len() < size - 2 {
        m.push(b'x');
    }
    m.extend_from_slice(b"\r\n");
    m
}

fn main() {
    let scale: f64 = std::env::var("LMTP_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        println!(
            "LMTP delivery benchmark (fsync per message; {} cores)",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        );
        println!(
            "{:>8} {:>8} {:>9} {:>10} {:>10}",
            "size", "clients", "messages", "msgs/s", "MiB/s"
        );
        for (size, label, total) in [(4096usize, "4 KiB", 2000usize), (1 << 20, "1 MiB", 200)] {
            for clients in [1usize, 8] {
                let dir = tempfile::tempdir().unwrap();
                let store = mailroom_store::open_default(dir.path().join("mail")).unwrap();
                let config = mailroom_server::server::test_config(dir.path());
                let running = mailroom_server::server::start(config, store).await.unwrap();
                running
                    .ctx
                    .directory
                    .add_account("bench", &mailroom_directory::Secret::from("x"))
                    .unwrap();
                let addr = running.addr(Protocol::Lmtp, false).unwrap();
                let body = std::sync::Arc::new(message(size));
                let total = ((total as f64 * scale) as usize).max(clients);
                let per = total / clients;
                let start = Instant::now();
                let mut tasks = Vec::new();
                for _ in 0..clients {
                    tasks.push(tokio::spawn(client(addr, per, body.clone())));
                }
                let mut ok = 0;
                for t in tasks {
                    ok += t.await.unwrap();
                }
                let secs = start.elapsed().as_secs_f64().max(1e-9);
                println!(
                    "{:>8} {:>8} {:>9} {:>10.1} {:>10.1}",
                    label,
                    clients,
                    ok,
                    ok as f64 / secs,
                    (ok * size) as f64 / secs / (1024.0 * 1024.0)
                );
                running.shutdown().await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
}
