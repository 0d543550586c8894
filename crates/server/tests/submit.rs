//! XTND XMIT (P6): submission through a POP3 session, relayed to a real SMTP server on
//! loopback (`tests/smtp-sink.py`, Python's aiosmtpd) and delivered locally.
//!
//! aiosmtpd must be installed (`scripts/check.sh` installs it); without it these tests
//! fail with a message saying so, they do not pass silently.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Client, TestServer};
use mailroom_server::net::Protocol;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The SMTP sink: a child process that stops when it is dropped.
struct Sink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Sink {
    fn start() -> Sink {
        let ok = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok,
            "python3 with aiosmtpd is required for the XTND XMIT relay tests: \
             run `python3 -m pip install aiosmtpd` (scripts/check.sh does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/smtp-sink.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(dir.path().join("out"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start tests/smtp-sink.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("smtp-sink.py did not start: {line:?}"));
        Sink { child, port, dir }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The messages received so far, in order.
    fn messages(&self) -> Vec<serde_json::Value> {
        let out: PathBuf = self.dir.path().join("out");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&out)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|x| x == "json"));
        files.sort();
        files
            .iter()
            .map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn server(smarthost: Option<String>, max: Option<u64>) -> TestServer {
    let s = TestServer::start_with(|c| {
        c.submit.smarthost = smarthost;
        c.submit.timeout_secs = Some(10);
        if let Some(m) = max {
            c.lmtp.max_message_size = m;
        }
    })
    .await;
    s.add_account("alice", "secret1");
    s.add_account("bob", "secret2");
    s
}

async fn login(s: &TestServer, user: &str, pass: &str) -> Client {
    let mut c = s.connect(Protocol::Pop3).await;
    c.expect("+OK POP3 mailroom ready{*}").await;
    c.send(&format!("USER {user}")).await;
    c.expect("+OK send PASS").await;
    c.send(&format!("PASS {pass}")).await;
    c.expect("+OK {*}").await;
    c
}

/// Sends `XTND XMIT` and the message (lines given unstuffed; stuffed here), returns the
/// answer line.
async fn xmit(c: &mut Client, lines: &[&str]) -> String {
    c.send("XTND XMIT").await;
    c.expect("+OK send the message, end with a line holding only \".\"")
        .await;
    let mut data = String::new();
    for l in lines {
        if l.starts_with('.') {
            data.push('.');
        }
        data.push_str(l);
        data.push_str("\r\n");
    }
    data.push_str(".\r\n");
    c.send_raw(data.as_bytes()).await;
    c.line().await
}

/// RETR over POP3: the message's lines (unstuffed).
async fn retr(c: &mut Client, n: u32) -> Vec<String> {
    c.send(&format!("RETR {n}")).await;
    c.expect("+OK {*}").await;
    let mut out = Vec::new();
    loop {
        let l = c.line().await;
        if l == "." {
            return out;
        }
        out.push(l.strip_prefix('.').map(str::to_string).unwrap_or(l));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_remote_and_delivers_local_without_bcc() {
    let sink = Sink::start();
    let s = server(Some(sink.addr()), None).await;
    let mut c = login(&s, "alice", "secret1").await;
    let reply = xmit(
        &mut c,
        &[
            "From: Alice <alice@localhost>",
            "To: Bob <bob@localhost>, remote@example.com",
            "Cc: carol@example.net, BOB@localhost",
            "Bcc: secret@example.org,",
            " bob@localhost",
            "Subject: hello",
            "",
            "Hi all.",
            ".dots survive",
            ".",
            "end",
        ],
    )
    .await;
    assert_eq!(reply, "+OK message submitted to 4 recipients");
    // The session goes on.
    c.send("NOOP").await;
    c.expect("+OK").await;

    let msgs = sink.messages();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let m = &msgs[0];
    assert_eq!(m["mail_from"], "alice@localhost");
    assert_eq!(m["helo"], "mailroom.test");
    let mut rcpts: Vec<String> = m["rcpt_tos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    rcpts.sort();
    assert_eq!(
        rcpts,
        vec![
            "carol@example.net",
            "remote@example.com",
            "secret@example.org"
        ]
    );
    let data = m["data"].as_str().unwrap();
    assert!(!data.to_ascii_lowercase().contains("bcc"), "{data}");
    assert!(!data.contains("secret@example.org"), "{data}");
    assert!(
        data.starts_with("From: Alice <alice@localhost>\r\n"),
        "{data}"
    );
    assert!(
        data.contains("\r\nSubject: hello\r\n\r\nHi all.\r\n.dots survive\r\n.\r\nend\r\n"),
        "{data}"
    );

    // Bob got it once, in his INBOX, without the Bcc field.
    let mut b = login(&s, "bob", "secret2").await;
    b.send("STAT").await;
    b.expect("+OK 1 {*}").await;
    let lines = retr(&mut b, 1).await;
    assert_eq!(lines[0], "Return-Path: <alice@localhost>");
    assert!(lines.iter().any(|l| l == "Subject: hello"), "{lines:?}");
    assert!(
        !lines
            .iter()
            .any(|l| l.to_ascii_lowercase().starts_with("bcc")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l == ".dots survive"), "{lines:?}");
    assert!(lines.iter().any(|l| l == "."), "{lines:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_send_nothing() {
    let sink = Sink::start();
    let s = server(Some(sink.addr()), None).await;
    let mut c = login(&s, "alice", "secret1").await;
    // An unknown user of our own domain.
    let r = xmit(
        &mut c,
        &["To: nobody@localhost, remote@example.com", "", "x"],
    )
    .await;
    assert_eq!(
        r,
        "-ERR recipients refused, message not sent: <nobody@localhost> no such user here"
    );
    // The smarthost refuses one recipient: nothing is sent to anyone, bob included.
    let r = xmit(
        &mut c,
        &[
            "To: bob@localhost, reject-me@example.com, ok@example.com",
            "",
            "x",
        ],
    )
    .await;
    assert!(
        r.starts_with("-ERR recipients refused, message not sent: <reject-me@example.com> refused by the smarthost: 550 5.1.1"),
        "{r}"
    );
    // No recipient at all.
    let r = xmit(&mut c, &["Subject: to nobody", "", "x"]).await;
    assert_eq!(
        r,
        "-ERR no recipients: the message has no To, Cc or Bcc address"
    );
    let r = xmit(&mut c, &[]).await;
    assert!(r.starts_with("-ERR no recipients"), "{r}");
    c.send("NOOP").await;
    c.expect("+OK").await;
    assert!(sink.messages().is_empty());
    let mut b = login(&s, "bob", "secret2").await;
    b.send("STAT").await;
    b.expect("+OK 0 0").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_failure_is_reported() {
    // A smarthost that is not there.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    let s = server(Some(addr), None).await;
    let mut c = login(&s, "alice", "secret1").await;
    let r = xmit(&mut c, &["To: bob@localhost, x@example.com", "", "x"]).await;
    assert!(
        r.starts_with("-ERR relay failed, message not sent: "),
        "{r}"
    );
    let mut b = login(&s, "bob", "secret2").await;
    b.send("STAT").await;
    b.expect("+OK 0 0").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smarthost_only_local() {
    let s = server(None, None).await;
    let mut c = login(&s, "alice", "secret1").await;
    let r = xmit(&mut c, &["To: x@example.com", "", "x"]).await;
    assert_eq!(
        r,
        "-ERR recipients refused, message not sent: <x@example.com> remote recipient, and no smarthost is configured"
    );
    let r = xmit(&mut c, &["To: bob@localhost", "Subject: local", "", "x"]).await;
    assert_eq!(r, "+OK message submitted to 1 recipients");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_big_and_spooled() {
    let s = server(None, Some(3 * 1024 * 1024)).await;
    let mut c = login(&s, "alice", "secret1").await;
    // 4 MiB: over the limit; read to the end, refused, the session goes on.
    let line = "x".repeat(998);
    let big: Vec<&str> = std::iter::once("To: bob@localhost")
        .chain(std::iter::once(""))
        .chain(std::iter::repeat_n(line.as_str(), 4200))
        .collect();
    let r = xmit(&mut c, &big).await;
    assert_eq!(
        r,
        format!(
            "-ERR message too big: the limit is {} octets; not sent",
            3 * 1024 * 1024
        )
    );
    // 2 MiB with a Bcc: spooled to a file, the Bcc removed from the spooled copy.
    let two: Vec<&str> = [
        "To: bob@localhost",
        "Bcc: bob@localhost",
        "Subject: big",
        "",
    ]
    .into_iter()
    .chain(std::iter::repeat_n(line.as_str(), 2100))
    .collect();
    let r = xmit(&mut c, &two).await;
    assert_eq!(r, "+OK message submitted to 1 recipients");
    let mut b = login(&s, "bob", "secret2").await;
    b.send("TOP 1 0").await;
    b.expect("+OK {*}").await;
    let mut head = Vec::new();
    loop {
        let l = b.line().await;
        if l == "." {
            break;
        }
        head.push(l);
    }
    assert!(head.iter().any(|l| l == "Subject: big"), "{head:?}");
    assert!(!head.iter().any(|l| l.starts_with("Bcc")), "{head:?}");
    b.send("LIST 1").await;
    let l = b.line().await;
    let size: u64 = l.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(size > 2100 * 1000 && size < 2100 * 1000 + 500, "{l}");
    tokio::time::sleep(Duration::from_millis(10)).await;
    s.stop().await;
}
