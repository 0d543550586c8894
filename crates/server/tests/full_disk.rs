//! Issue 14 item 5: a full filesystem under the data directory. The test mounts a small
//! tmpfs as the data directory (root needed; CI runs as root), fills it, and checks that
//! APPEND, LMTP and COPY answer a clear temporary error, that nothing acknowledged is
//! lost and no index is corrupted, and that once space is freed the same operations
//! succeed without a restart. Without the right to mount, it says so loudly and passes.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Client, TestServer};
use mailroom_server::net::Protocol;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted for the test (on a directory inside the kept temporary directory),
/// unmounted when dropped.
struct Mount(PathBuf, #[allow(dead_code)] tempfile::TempDir);

impl Mount {
    fn new(size: &str) -> Option<Mount> {
        let dir = tempfile::tempdir().ok()?;
        let path = dir.path().join("data");
        std::fs::create_dir(&path).ok()?;
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Mount(path, dir))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the filesystem of `dir` with one file, to the last block.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![b'x'; 4096];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.write_all(b"x");
    let _ = f.sync_all();
    path
}

fn message(n: usize) -> String {
    format!("Subject: m{n}\r\n\r\n{}\r\n", "body line\r\n".repeat(20))
}

async fn login(s: &TestServer) -> Client {
    let mut c = s.connect(Protocol::Imap).await;
    c.expect("* OK {*}").await;
    c.send("a LOGIN bob pw").await;
    c.expect("a OK {*}").await;
    c
}

/// Sends an APPEND of `msg` and returns the tagged answer.
async fn append(c: &mut Client, tag: &str, mailbox: &str, msg: &str) -> String {
    c.send(&format!("{tag} APPEND {mailbox} {{{}+}}", msg.len()))
        .await;
    c.send_raw(msg.as_bytes()).await;
    c.send("").await;
    tagged(c, tag).await
}

async fn tagged(c: &mut Client, tag: &str) -> String {
    loop {
        let l = c.line().await;
        if l.starts_with(&format!("{tag} ")) {
            return l;
        }
    }
}

async fn lmtp(s: &TestServer, msg: &str) -> String {
    let mut c = s.connect(Protocol::Lmtp).await;
    c.expect("220 {*}").await;
    c.send("LHLO t").await;
    for _ in 0..4 {
        c.expect("250-{*}").await;
    }
    c.expect("250 SIZE {*}").await;
    c.send("MAIL FROM:<s@example.org>").await;
    c.expect("250 {*}").await;
    c.send("RCPT TO:<bob@localhost>").await;
    c.expect("250 {*}").await;
    c.send("DATA").await;
    c.expect("354 {*}").await;
    c.send_raw(msg.as_bytes()).await;
    c.send(".").await;
    let r = c.line().await;
    c.send("QUIT").await;
    r
}

/// The subjects of a mailbox's messages, in UID order, read over IMAP.
async fn subjects(c: &mut Client, mailbox: &str) -> Vec<String> {
    c.send(&format!("s SELECT {mailbox}")).await;
    let r = tagged(c, "s").await;
    assert!(r.starts_with("s OK"), "SELECT {mailbox}: {r}");
    c.send("f FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        .await;
    let mut out = Vec::new();
    loop {
        let l = c.line().await;
        if let Some(subject) = l.strip_prefix("Subject: ") {
            out.push(subject.to_string());
        }
        if l.starts_with("f ") {
            assert!(l.starts_with("f OK") || l.starts_with("f BAD"), "{l}");
            return out;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_disk_gives_temporary_errors_and_recovers() {
    let Some(mount) = Mount::new("8m") else {
        eprintln!(
            "\n\n*** SKIPPED full_disk_gives_temporary_errors_and_recovers: cannot mount a \
             tmpfs (needs root or CAP_SYS_ADMIN) ***\n"
        );
        return;
    };
    let data = mount.0.clone();
    let s = TestServer::start_with(|c| c.server.data_dir = data.clone()).await;
    s.add_account("bob", "pw");
    let mut c = login(&s).await;
    c.send("c CREATE Archive").await;
    c.expect("c OK {*}").await;
    // Acknowledged before the disk fills: m1 by APPEND, m2 by LMTP, m1 copied.
    assert!(append(&mut c, "a1", "INBOX", &message(1))
        .await
        .starts_with("a1 OK"));
    assert!(lmtp(&s, &message(2)).await.starts_with("250 2.0.0"));
    c.send("s SELECT INBOX").await;
    tagged(&mut c, "s").await;
    c.send("k COPY 1 Archive").await;
    assert!(tagged(&mut c, "k").await.starts_with("k OK"));

    let filler = fill(&data);
    let r = append(&mut c, "a2", "INBOX", &message(3)).await;
    assert_eq!(
        r,
        "a2 NO [OVERQUOTA] not enough disk space, try again later"
    );
    let r = lmtp(&s, &message(4)).await;
    assert_eq!(
        r,
        "452 4.3.1 <bob@localhost> insufficient system storage, try again later"
    );
    // A message too large to keep in memory while it is received (spooled to a file).
    let big = format!(
        "Subject: big\r\n\r\n{}",
        "0123456789abcdef\r\n".repeat(80_000)
    );
    assert_eq!(
        lmtp(&s, &big).await,
        "452 4.3.1 <bob@localhost> insufficient system storage, try again later"
    );
    let r = append(&mut c, "a4", "INBOX", &big).await;
    assert_eq!(
        r,
        "a4 NO [OVERQUOTA] not enough disk space, try again later"
    );
    c.send("s SELECT INBOX").await;
    tagged(&mut c, "s").await;
    c.send("k COPY 1:* Archive").await;
    assert_eq!(
        tagged(&mut c, "k").await,
        "k NO [OVERQUOTA] not enough disk space, try again later"
    );
    // Nothing acknowledged is lost, nothing refused appeared: the open INBOX reads
    // while the disk is full. (Selecting a mailbox not open yet may need to write its
    // index: that is refused the same temporary way, and works once there is space.)
    assert_eq!(subjects(&mut c, "INBOX").await, ["m1", "m2"]);
    c.send("s SELECT Archive").await;
    let r = tagged(&mut c, "s").await;
    assert!(
        r.starts_with("s OK") || r == "s NO [OVERQUOTA] not enough disk space, try again later",
        "{r}"
    );

    // Space freed: everything acknowledged is there, nothing refused appeared, and the
    // same operations succeed, without a restart.
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(subjects(&mut c, "INBOX").await, ["m1", "m2"]);
    assert_eq!(subjects(&mut c, "Archive").await, ["m1"]);
    assert!(append(&mut c, "a3", "INBOX", &message(3))
        .await
        .starts_with("a3 OK"));
    assert!(lmtp(&s, &message(4)).await.starts_with("250 2.0.0"));
    c.send("s SELECT INBOX").await;
    tagged(&mut c, "s").await;
    c.send("k COPY 1:* Archive").await;
    assert!(tagged(&mut c, "k").await.starts_with("k OK"));
    assert_eq!(subjects(&mut c, "INBOX").await, ["m1", "m2", "m3", "m4"]);
    assert_eq!(
        subjects(&mut c, "Archive").await,
        ["m1", "m1", "m2", "m3", "m4"]
    );
    c.send("z LOGOUT").await;
    drop(c);
    s.stop().await;
    // The index survived: a fresh server over the same data sees the same mail.
    let s = TestServer::start_with(|c| c.server.data_dir = data.clone()).await;
    let mut c = login(&s).await;
    assert_eq!(subjects(&mut c, "INBOX").await, ["m1", "m2", "m3", "m4"]);
    assert_eq!(
        subjects(&mut c, "Archive").await,
        ["m1", "m1", "m2", "m3", "m4"]
    );
    drop(c);
    s.stop().await;
    drop(mount);
}

/// RFC 3501 6.4.7: a COPY that fails half way leaves the target as it was. Here `COPY …
/// ENCRYPTED` (I13, copies made message by message) of two small messages and a large
/// one runs out of space at the large one: the two encrypted copies already stored are
/// removed, and the answer is the temporary disk error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_that_runs_out_of_space_half_way_is_undone() {
    let Some(mount) = Mount::new("8m") else {
        eprintln!(
            "\n\n*** SKIPPED a_copy_that_runs_out_of_space_half_way_is_undone: cannot mount \
             a tmpfs (needs root or CAP_SYS_ADMIN) ***\n"
        );
        return;
    };
    use base64::Engine;
    let pem = include_bytes!("../../smime/testdata/rsa2048.cert.pem");
    let der = mailroom_smime::Recipient::from_pem_or_der(pem)
        .unwrap()
        .to_der();
    let cert = base64::engine::general_purpose::STANDARD.encode(der);
    let data = mount.0.clone();
    let s = TestServer::start_with(|c| c.server.data_dir = data.clone()).await;
    s.add_account("bob", "pw");
    let mut c = login(&s).await;
    c.send("c CREATE Archive").await;
    c.expect("c OK {*}").await;
    let big = format!(
        "Subject: big\r\n\r\n{}",
        "0123456789abcdef\r\n".repeat(80_000)
    );
    for (tag, m) in [("a1", message(1)), ("a2", message(2)), ("a3", big)] {
        assert!(append(&mut c, tag, "INBOX", &m).await.starts_with(tag));
    }
    assert_eq!(subjects(&mut c, "Archive").await, Vec::<String>::new());
    assert_eq!(subjects(&mut c, "INBOX").await, ["m1", "m2", "big"]);
    // Room for the small copies (and their index rows), not for the large one.
    let reserve = data.join("reserve");
    std::fs::write(&reserve, vec![0u8; 512 * 1024]).unwrap();
    let filler = fill(&data);
    std::fs::remove_file(&reserve).unwrap();
    c.send(&format!("k COPY 1:3 Archive ENCRYPTED {cert}"))
        .await;
    assert_eq!(
        tagged(&mut c, "k").await,
        "k NO [OVERQUOTA] not enough disk space, try again later"
    );
    std::fs::remove_file(&filler).unwrap();
    c.send("t STATUS Archive (MESSAGES UIDNEXT)").await;
    c.expect("* STATUS \"Archive\" (MESSAGES 0 UIDNEXT 3)")
        .await;
    c.expect("t OK STATUS completed").await;
    assert_eq!(subjects(&mut c, "INBOX").await, ["m1", "m2", "big"]);
    // With space, the same command succeeds.
    c.send(&format!("k COPY 1:3 Archive ENCRYPTED {cert}"))
        .await;
    let r = tagged(&mut c, "k").await;
    assert!(
        common::glob("k OK [COPYUID {*} 1:3 3:5] COPY completed", &r),
        "{r}"
    );
    drop(c);
    s.stop().await;
    drop(mount);
}
