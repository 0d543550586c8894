//! Test harness shared by the server's integration tests: an in-process server on
//! `127.0.0.1:0` with a temporary data directory, a line client, and the golden
//! transcript runner (`tests/transcripts/<protocol>/*.txt` at the repository root).
//!
//! Transcript format, one directive per line:
//! - `# ...` comment; blank lines are ignored.
//! - `@account NAME[@DOMAIN] PASSWORD` creates an account.
//! - `@secret NAME[@DOMAIN] SECRET` sets the account's mail secret (APOP, CRAM-MD5).
//! - `@deliver ADDRESS` then message lines up to a line `@end`: delivers the message
//!   (lines joined with CRLF, the last one too) through the delivery path.
//! - `@alert ACCOUNT TEXT` queues an alert and tells the sessions (as `mailroom alert`
//!   does), which send it at the end of their next command.
//! - `@connect PROTO [N]` opens connection N (default 1) to `imap`, `pop3` or `lmtp`.
//! - `C: text` / `CN: text` sends `text` CRLF on connection 1 / N.
//! - `S: text` / `SN: text` expects exactly the line `text` CRLF next on that connection;
//!   `{*}` in `text` matches any run of characters on the line.
//! - `S: ...` lines are read in order; `@close [N]` closes a connection; `@eof [N]`
//!   expects the server to close it.
//! - Strictness: the server may send nothing that the transcript does not expect. A `C:`
//!   line fails when unread server octets are waiting on its connection; `@close` and the
//!   end of the transcript fail when anything arrives within [`SILENCE_MS`] after the
//!   connection's last expected line.
//! - `{*}` is only for values that really vary from run to run; everything else is
//!   written out exactly. The remaining reasons:
//!   - UIDVALIDITY (SELECT, STATUS, `APPENDUID`/`COPYUID`, the POP3 UIDL of
//!     `%08Xv%08Xu`): the clock at the mailbox's creation (RFC 3501 2.3.1.1);
//!   - INTERNALDATE and the `OLDEST` STATUS item: the clock at delivery;
//!   - a modseq in `HIGHESTMODSEQ` of an index built from the Maildir files (an account
//!     made at its first login): modseqs then restart above the clock in microseconds;
//!   - the POP3 APOP timestamp in the greeting and the CRAM-MD5 challenge: random and
//!     clock by design (RFC 1939 7, RFC 2195);
//!   - the `version` of `ID`: the crate's version, which changes with every release;
//!   - object ids (RFC 8474 MAILBOXID, EMAILID): random at the mailbox's creation and
//!     the message's first save (`{=NAME}` where one must come back, as in
//!     `objectid.txt`);
//!   - a save date (RFC 8514 FETCH SAVEDATE): the clock at the APPEND, COPY or MOVE.
//!
//!   `TRANSCRIPT=part` runs only the transcripts whose name contains `part`;
//!   `TRANSCRIPT_FILL=1 cargo test ... transcripts` rewrites every line that matched a
//!   `{*}` to the exact line received, for a reviewer to put `{*}` back only there.
//! - `{=NAME}` in an `S:` line (at most one per line) matches a value that varies, like
//!   `{*}`, and remembers it; `{$NAME}` in a later `C:` or `S:` line stands for that
//!   value (a client that sends back what it was told: the UIDVALIDITY of a QRESYNC
//!   SELECT, RFC 7162 3.2.5).
//! - `{$CAPS}` is predefined: the IMAP capability list after login with the default
//!   configuration ([`CAPS`]); `capability.txt` spells it out, every other transcript
//!   names it, so that a new capability changes two files and not a hundred.
//! - `@sleep MS` waits.
//! - `@config KEY VALUE` sets a configuration value before the server starts, wherever
//!   the line is: `imap.literal_minus true|false`, `imap.max_literal OCTETS`.
//! - `@append ACCOUNT` then message lines up to `@end`: appends the message to the
//!   account's INBOX directly through the store (no trace header fields), lines joined
//!   with CRLF; `\xHH` in a line is the octet HH, `\\` a backslash (for messages
//!   that are not UTF-8).
//! - `B: text` / `BN: text` expects exactly the octets of `text` (with the `\xHH`
//!   escapes of `@append`, no `{*}`) and CRLF next on that connection.
//! - `@router LINE` adds a router line (`@router client1.com = cl1.local`).
//! - `@domain NAME` adds a domain.
//!
//! Sharing and routing directives (P8, A1, A2, I4; generic, usable by any protocol):
//! - `@mailbox ACCOUNT NAME` creates the mailbox NAME (parents as needed) in ACCOUNT.
//! - `@appendto ACCOUNT MAILBOX` then message lines up to `@end`: like `@append`, into
//!   that mailbox of the account.
//! - `@setacl OWNER MAILBOX IDENTIFIER RIGHTS` sets (replaces; `+r`/`-r` add/remove) the
//!   rights of IDENTIFIER (`user`, `user@domain`, `anyone`, `-user`) on OWNER's
//!   MAILBOX, as the owner would with SETACL (the directory's grants hint included).
//! - `@admin ACCOUNT` makes the account an administrator.
//! - `@alias ADDRESS TARGET` adds a router alias (`@alias j.smith John@othercompany.com`).
//! - `@domainip DOMAIN IP...` binds local addresses to a domain (A1: logins without a
//!   domain on a connection to them are in that domain; the test server is on 127.0.0.1).
//! - `@create ACCOUNT MAILBOX` creates a mailbox in the account's store (IMAP tests).
//! - `@quota ACCOUNT KIB MSGS` sets quota limits (`-` = unlimited).
//! - `@mbalias ACCOUNT NAME TARGET` adds a mailbox alias.
//! - `@smime ACCOUNT BASE64` sets the account's S/MIME certificate (DER, base64; stored
//!   unchecked, as `COPY … ENCRYPTED *` finds it).
#![allow(dead_code, clippy::unwrap_used)]

use mailroom_server::net::Protocol;
use mailroom_server::server::{self, Running};
use mailroom_server::Config;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A server running in-process.
pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub running: Option<Running>,
    /// The PostgreSQL schema the store lives in, with `MAILROOM_TEST_STORE=postgres`
    /// (dropped after the server).
    pub pg: Option<mailroom_store_postgres::PgHarness>,
}

/// The store a test server runs on: Maildir files under the data directory, as the
/// binary puts them; with `MAILROOM_TEST_STORE=postgres`, the PostgreSQL backend in a
/// fresh schema of the database of `MAILROOM_PG_URL` (`scripts/postgres.sh` runs the
/// IMAP transcript suite so).
async fn test_store(
    data: &Path,
) -> (
    std::sync::Arc<dyn mailroom_store::Store>,
    Option<mailroom_store_postgres::PgHarness>,
) {
    match std::env::var("MAILROOM_TEST_STORE").as_deref() {
        Ok("postgres") => {
            let url = std::env::var("MAILROOM_PG_URL")
                .expect("MAILROOM_TEST_STORE=postgres needs MAILROOM_PG_URL");
            let h = mailroom_store_postgres::PgHarness::new(url);
            let store: std::sync::Arc<dyn mailroom_store::Store> = h.open_pg().await;
            (store, Some(h))
        }
        Ok("maildir") | Err(_) => (
            mailroom_store::open_default(data.join("mail")).unwrap(),
            None,
        ),
        Ok(other) => panic!("MAILROOM_TEST_STORE={other}: maildir or postgres"),
    }
}

impl TestServer {
    /// Starts a server with the test config.
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Starts a server after `tweak` changed the test config.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = server::test_config(dir.path());
        tweak(&mut cfg);
        // The mail store where the binary puts it (`tweak` may move the data directory).
        let (store, pg) = test_store(&cfg.server.data_dir).await;
        let running = server::start(cfg, store).await.unwrap();
        TestServer {
            dir,
            running: Some(running),
            pg,
        }
    }

    /// Starts a server with the test config on a store made by the caller (several
    /// nodes on one PostgreSQL database: `tests/cluster.rs`).
    pub async fn start_on(store: std::sync::Arc<dyn mailroom_store::Store>) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let cfg = server::test_config(dir.path());
        let running = server::start(cfg, store).await.unwrap();
        TestServer {
            dir,
            running: Some(running),
            pg: None,
        }
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().unwrap()
    }

    pub fn addr(&self, p: Protocol) -> SocketAddr {
        self.running().addr(p, false).unwrap()
    }

    pub fn tls_addr(&self, p: Protocol) -> SocketAddr {
        self.running().addr(p, true).unwrap()
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn directory(&self) -> &mailroom_directory::Directory {
        &self.running().ctx.directory
    }

    /// Creates an account.
    pub fn add_account(&self, name: &str, password: &str) {
        self.directory()
            .add_account(name, &mailroom_directory::Secret::from(password))
            .unwrap();
    }

    /// Delivers a message through the delivery path (as LMTP would); returns the UID.
    pub async fn deliver(&self, to: &str, message: &[u8]) -> u32 {
        let ctx = &self.running().ctx;
        let to2 = to.to_string();
        let resolved = ctx
            .dir(move |d| mailroom_server::deliver::resolve(d, &to2))
            .await;
        let body = mailroom_store::MessageData::Bytes(bytes::Bytes::copy_from_slice(message));
        match mailroom_server::deliver::deliver_to(
            &ctx.store,
            &resolved,
            "sender@example.org",
            to,
            &body,
            "X-Real-To",
        )
        .await
        {
            mailroom_server::deliver::Outcome::Delivered { uid, .. } => uid,
            o => panic!("delivery to {to} failed: {o:?}"),
        }
    }

    /// Connects a line client.
    pub async fn connect(&self, p: Protocol) -> Client {
        Client::connect(self.addr(p)).await
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

/// A line-oriented test client with a read time-out.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        Client {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    /// Connects from a given local address (`127.0.0.2`: another client address on
    /// the loopback network).
    pub async fn connect_from(source: &str, addr: SocketAddr) -> Client {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(SocketAddr::new(source.parse().unwrap(), 0))
            .unwrap();
        Client {
            stream: sock.connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    /// Sends raw octets.
    pub async fn send_raw(&mut self, data: &[u8]) {
        self.stream.write_all(data).await.unwrap();
    }

    /// Sends a line, adding CRLF.
    pub async fn send(&mut self, line: &str) {
        let mut v = line.as_bytes().to_vec();
        v.extend_from_slice(b"\r\n");
        self.send_raw(&v).await;
    }

    /// Reads one line including its CRLF (`None` at end of stream). Panics after 10 s.
    pub async fn read_line_raw(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Some(line);
            }
            let mut chunk = vec![0u8; 65536]; // on the heap: keeps test futures small
            let n = tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk))
                .await
                .expect("timed out waiting for the server")
                .unwrap_or(0);
            if n == 0 {
                if self.buf.is_empty() {
                    return None;
                }
                return Some(std::mem::take(&mut self.buf));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads one line, checks it ends with CRLF, returns it without.
    pub async fn line(&mut self) -> String {
        let raw = self.read_line_raw().await.expect("connection closed");
        assert!(
            raw.ends_with(b"\r\n"),
            "line without CRLF: {:?}",
            String::from_utf8_lossy(&raw)
        );
        String::from_utf8_lossy(&raw[..raw.len() - 2]).into_owned()
    }

    /// Reads exactly `n` octets.
    pub async fn read_exact(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            let mut chunk = vec![0u8; 65536]; // on the heap: keeps test futures small
            let got = tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk))
                .await
                .expect("timed out waiting for the server")
                .unwrap();
            assert!(got > 0, "connection closed");
            self.buf.extend_from_slice(&chunk[..got]);
        }
        self.buf.drain(..n).collect()
    }

    /// Reads a line and asserts it matches `pattern` (`{*}` = any run of characters).
    pub async fn expect(&mut self, pattern: &str) -> String {
        let l = self.line().await;
        assert!(glob(pattern, &l), "expected {pattern:?}, got {l:?}");
        l
    }

    /// Asserts the server sent nothing more: no unread octets are buffered and none
    /// arrive within `ms` milliseconds (end of stream is fine: nothing was sent).
    pub async fn expect_silence(&mut self, ms: u64, what: &str) {
        assert!(
            self.buf.is_empty(),
            "{what}: the server sent more than expected: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        let mut chunk = vec![0u8; 4096];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(ms), self.stream.read(&mut chunk)).await
        {
            assert!(
                n == 0,
                "{what}: the server sent more than expected: {:?}",
                String::from_utf8_lossy(&chunk[..n])
            );
        }
    }

    /// The octets received but not read yet.
    pub fn unread(&self) -> &[u8] {
        &self.buf
    }

    /// True when the server closed the connection (after any buffered lines).
    pub async fn is_closed(&mut self) -> bool {
        self.read_line_raw().await.is_none()
    }
}

/// Replaces each `{$NAME}` of `text` by the value captured as `{=NAME}`.
/// The IMAP capability list after login with the default configuration, as
/// `tests/transcripts/imap/capability.txt` spells it out (`{$CAPS}` in a transcript).
pub const CAPS: &str = "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE IDLE UIDPLUS UNSELECT MOVE NAMESPACE CHILDREN SPECIAL-USE LIST-EXTENDED LIST-STATUS STATUS=SIZE ACL RIGHTS=texk QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE ESEARCH SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES CONDSTORE QRESYNC X-SERVICE COMPRESS=DEFLATE PREVIEW METADATA METADATA-SERVER NOTIFY APPENDLIMIT=67108864 UNAUTHENTICATE CREATE-SPECIAL-USE WITHIN SEARCHRES LIST-MYRIGHTS MULTIAPPEND CATENATE SAVEDATE OBJECTID PARTIAL BINARY REPLACE UIDONLY UTF8=ACCEPT I18NLEVEL=1 CONTEXT=SEARCH CONTEXT=SORT THREAD=REFS";

fn substitute(text: &str, vars: &HashMap<String, String>, no: usize) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("{$") {
        out.push_str(&rest[..i]);
        let end = rest[i..]
            .find('}')
            .unwrap_or_else(|| panic!("line {no}: unterminated {{$"));
        let name = &rest[i + 2..i + end];
        let value = vars
            .get(name)
            .unwrap_or_else(|| panic!("line {no}: {{${name}}} was never captured"));
        out.push_str(value);
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    out
}

/// For a pattern with `{=NAME}` (the rest matched exactly): the name and the value it
/// matched in `text`; panics when the rest does not match.
fn capture(pattern: &str, text: &str) -> Option<(String, String)> {
    let start = pattern.find("{=")?;
    let end = start + pattern[start..].find('}')?;
    let (prefix, suffix) = (&pattern[..start], &pattern[end + 1..]);
    let ok = text.len() > prefix.len() + suffix.len()
        && text.starts_with(prefix)
        && text.ends_with(suffix);
    assert!(ok, "expected {pattern:?}, got {text:?}");
    let value = &text[prefix.len()..text.len() - suffix.len()];
    Some((pattern[start + 2..end].to_string(), value.to_string()))
}

/// Matches `text` against `pattern`, where `{*}` matches any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split("{*}").collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(j) => rest = &rest[j + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// The repository's `tests/transcripts/<proto>` directory.
pub fn transcript_dir(proto: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/transcripts")
        .join(proto)
}

/// Runs every `*.txt` transcript of a protocol, each against a fresh server; panics with
/// the list of failures.
pub async fn run_transcripts(proto: &str) {
    let dir = transcript_dir(proto);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no transcripts in {}", dir.display());
    // `TRANSCRIPT=part` runs only the transcripts whose file name contains `part`.
    if let Ok(part) = std::env::var("TRANSCRIPT") {
        files.retain(|f| f.to_string_lossy().contains(&part));
    }
    let mut failures = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(f).unwrap();
        let text2 = text.clone();
        let fut = tokio::spawn(async move { run_transcript(&text2).await });
        match fut.await {
            Ok(filled) => {
                eprintln!("transcript {proto}/{name}: ok");
                if std::env::var_os("TRANSCRIPT_FILL").is_some() && !filled.is_empty() {
                    fill_wildcards(f, &text, &filled);
                }
            }
            Err(e) => {
                let msg = e
                    .try_into_panic()
                    .ok()
                    .and_then(|p| {
                        p.downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    })
                    .unwrap_or_else(|| "panicked".into());
                eprintln!("transcript {proto}/{name}: FAILED: {msg}");
                failures.push(format!("{name}: {msg}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} transcript(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `TRANSCRIPT_FILL=1` (a maintainer's tool, never in CI): rewrites each `S:` line that
/// matched with `{*}` to the exact line received, so a reviewer puts `{*}` back only where
/// the value really varies (see the top of the file).
fn fill_wildcards(path: &Path, text: &str, filled: &[(usize, String)]) {
    let mut out = String::new();
    for (i, l) in text.lines().enumerate() {
        match filled.iter().find(|(n, _)| *n == i + 1) {
            Some((_, got)) => {
                let head = l.split_once(": ").map(|(h, _)| h).unwrap_or("S");
                out.push_str(&format!("{head}: {got}"));
            }
            None => out.push_str(l),
        }
        out.push('\n');
    }
    std::fs::write(path, out).unwrap();
}

/// Decodes the `\xHH` and `\\` escapes of `@append` and `B:` lines.
pub fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && i + 4 <= b.len() {
            let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

impl TestServer {
    /// Appends a message to an account's INBOX through the store (no trace fields);
    /// returns the UID.
    pub async fn append(&self, account: &str, message: &[u8]) -> u32 {
        self.append_to(account, "INBOX", message).await
    }
}

/// How long the runner waits for anything the server sends after a connection's last
/// expected line (at `@close` and at the end of the transcript).
const SILENCE_MS: u64 = 200;

/// Runs one transcript against a fresh server; returns the lines that matched a `{*}`
/// pattern (line number, the line received) for `TRANSCRIPT_FILL`.
pub async fn run_transcript(text: &str) -> Vec<(usize, String)> {
    let settings: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.trim_end_matches('\r').strip_prefix("@config "))
        .map(|l| {
            let (k, v) = l.split_once(' ').expect("@config KEY VALUE");
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let server = TestServer::start_with(|cfg| {
        for (k, v) in &settings {
            match k.as_str() {
                "imap.literal_minus" => cfg.imap.literal_minus = v.parse().unwrap(),
                "imap.max_literal" => cfg.imap.max_literal = v.parse().unwrap(),
                other => panic!("@config: unknown key {other}"),
            }
        }
    })
    .await;
    let mut conns: HashMap<u32, Client> = HashMap::new();
    let mut filled = Vec::new();
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("CAPS".into(), CAPS.into());
    let mut lines = text.lines().enumerate();
    while let Some((no, raw)) = lines.next() {
        let no = no + 1;
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(d) = line.strip_prefix('@') {
            let mut it = d.splitn(3, ' ');
            let verb = it.next().unwrap_or("");
            let a = it.next().unwrap_or("");
            let b = it.next().unwrap_or("");
            match verb {
                "account" => server.add_account(a, b),
                "secret" => server
                    .directory()
                    .set_mail_secret(a, Some(&mailroom_directory::Secret::from(b)))
                    .unwrap(),
                "router" => {
                    let l = if b.is_empty() {
                        a.to_string()
                    } else {
                        format!("{a} {b}")
                    };
                    server.directory().add_router(&l).unwrap();
                }
                "domain" => server.directory().add_domain(a).unwrap(),
                "alert" => {
                    server.directory().add_alert(a, b).unwrap();
                    // As `mailroom alert` does through the admin socket.
                    server.running().ctx.alerts_changed();
                }
                "deliver" => {
                    let mut msg = Vec::new();
                    for (_, l) in lines.by_ref() {
                        if l == "@end" {
                            break;
                        }
                        msg.extend_from_slice(l.as_bytes());
                        msg.extend_from_slice(b"\r\n");
                    }
                    server.deliver(a, &msg).await;
                }
                "append" => {
                    let mut msg = Vec::new();
                    for (_, l) in lines.by_ref() {
                        if l == "@end" {
                            break;
                        }
                        msg.extend_from_slice(&unescape(l));
                        msg.extend_from_slice(b"\r\n");
                    }
                    server.append(a, &msg).await;
                }
                "connect" => {
                    let p = match a {
                        "imap" => Protocol::Imap,
                        "pop3" => Protocol::Pop3,
                        "lmtp" => Protocol::Lmtp,
                        other => panic!("line {no}: unknown protocol {other}"),
                    };
                    let n: u32 = if b.is_empty() { 1 } else { b.parse().unwrap() };
                    conns.insert(n, server.connect(p).await);
                }
                "close" => {
                    let n: u32 = if a.is_empty() { 1 } else { a.parse().unwrap() };
                    if let Some(mut c) = conns.remove(&n) {
                        c.expect_silence(SILENCE_MS, &format!("line {no}: @close {n}"))
                            .await;
                    }
                }
                "eof" => {
                    let n: u32 = if a.is_empty() { 1 } else { a.parse().unwrap() };
                    let c = conns.get_mut(&n).unwrap();
                    if let Some(l) = c.read_line_raw().await {
                        panic!(
                            "line {no}: expected end of stream, got {:?}",
                            String::from_utf8_lossy(&l)
                        );
                    }
                }
                "config" => {}
                "smime" => {
                    use base64::Engine;
                    let der = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
                    server.directory().set_smime_cert(a, Some(&der)).unwrap();
                }
                "sleep" => tokio::time::sleep(Duration::from_millis(a.parse().unwrap())).await,
                "appendto" => {
                    let mut msg = Vec::new();
                    for (_, l) in lines.by_ref() {
                        if l == "@end" {
                            break;
                        }
                        msg.extend_from_slice(&unescape(l));
                        msg.extend_from_slice(b"\r\n");
                    }
                    server.append_to(a, b, &msg).await;
                }
                "create" | "quota" | "mbalias" => {
                    imap_sharing_directive(&server, verb, a, b).await;
                }
                other if sharing_directive(&server, other, a, b).await => {}
                other => panic!("line {no}: unknown directive @{other}"),
            }
            continue;
        }
        let (head, body) = line
            .split_once(": ")
            .or_else(|| line.strip_suffix(':').map(|h| (h, "")))
            .unwrap_or_else(|| panic!("line {no}: cannot parse {line:?}"));
        let (kind, n) = head.split_at(1);
        let substituted = substitute(body, &vars, no);
        let body = substituted.as_str();
        let n: u32 = if n.is_empty() {
            1
        } else {
            n.parse()
                .unwrap_or_else(|_| panic!("line {no}: bad connection number"))
        };
        let c = conns
            .get_mut(&n)
            .unwrap_or_else(|| panic!("line {no}: connection {n} is not open"));
        match kind {
            "C" => {
                assert!(
                    c.unread().is_empty(),
                    "line {no}: before this command the server sent more than expected: {:?}",
                    String::from_utf8_lossy(c.unread())
                );
                c.send(body).await
            }
            "S" => {
                let got = c.read_line_raw().await;
                let got = got
                    .unwrap_or_else(|| panic!("line {no}: expected {body:?}, connection closed"));
                assert!(
                    got.ends_with(b"\r\n"),
                    "line {no}: server line without CRLF: {:?}",
                    String::from_utf8_lossy(&got)
                );
                let s = String::from_utf8_lossy(&got[..got.len() - 2]);
                if let Some((name, value)) = capture(body, &s) {
                    vars.insert(name, value);
                    continue;
                }
                assert!(glob(body, &s), "line {no}: expected {body:?}, got {s:?}");
                if body.contains("{*}") {
                    filled.push((no, s.into_owned()));
                }
            }
            "B" => {
                let got = c.read_line_raw().await;
                let got = got
                    .unwrap_or_else(|| panic!("line {no}: expected {body:?}, connection closed"));
                let mut want = unescape(body);
                want.extend_from_slice(b"\r\n");
                assert!(
                    got == want,
                    "line {no}: expected {:?}, got {:?}",
                    String::from_utf8_lossy(&want),
                    String::from_utf8_lossy(&got)
                );
            }
            _ => panic!("line {no}: cannot parse {line:?}"),
        }
    }
    // Nothing may follow a connection's last expected line: one wait for all of them,
    // then whatever arrived meanwhile is a failure.
    tokio::time::sleep(Duration::from_millis(SILENCE_MS)).await;
    let mut open: Vec<_> = conns.into_iter().collect();
    open.sort_by_key(|(n, _)| *n);
    for (n, mut c) in open {
        c.expect_silence(1, &format!("end of transcript, connection {n}"))
            .await;
    }
    server.stop().await;
    filled
}

// ---- sharing and routing directives (see the top of the file) ------------------------

impl TestServer {
    /// The store of an account.
    pub async fn store_of(&self, account: &str) -> std::sync::Arc<dyn mailroom_store::Account> {
        let info = self.directory().account(account).unwrap();
        let (d, n) = info.store_key();
        let key = mailroom_store::AccountKey::new(&d, &n).unwrap();
        self.running().ctx.store.open_account(&key).await.unwrap()
    }

    /// Creates a mailbox in an account (parents as needed).
    pub async fn create_mailbox(&self, account: &str, name: &str) {
        self.store_of(account)
            .await
            .create_mailbox(name, None)
            .await
            .unwrap();
    }

    /// Appends a message to a named mailbox of an account through the store; the UID.
    pub async fn append_to(&self, account: &str, mailbox: &str, message: &[u8]) -> u32 {
        let acc = self.store_of(account).await;
        let mb = acc.mailbox(mailbox).await.unwrap();
        acc.append(
            mb.id,
            mailroom_store::AppendRequest {
                prefix: Vec::new(),
                data: mailroom_store::MessageData::Bytes(bytes::Bytes::copy_from_slice(message)),
                flags: mailroom_store::Flags::EMPTY,
                keywords: Vec::new(),
                internal_date: None,
            },
        )
        .await
        .unwrap()
        .uid
    }

    /// Sets an ACL entry on `owner`'s `mailbox` as the owner would (SETACL).
    pub async fn set_acl(&self, owner: &str, mailbox: &str, identifier: &str, rights: &str) {
        let info = self.directory().account(owner).unwrap();
        let change = mailroom_store::acl::RightsChange::parse(rights).unwrap();
        mailroom_server::access::set_acl(&self.running().ctx, &info, mailbox, identifier, change)
            .await
            .unwrap();
    }

    /// The messages (metadata) of an account's mailbox, straight from the store.
    pub async fn messages_of(
        &self,
        account: &str,
        mailbox: &str,
    ) -> Vec<mailroom_store::MessageMeta> {
        let acc = self.store_of(account).await;
        let mb = acc.mailbox(mailbox).await.unwrap();
        acc.messages(mb.id)
            .await
            .unwrap()
            .messages
            .iter()
            .map(|m| m.to_meta())
            .collect()
    }
}

/// Runs the sharing and routing directives; false for a verb that is not one of them.
async fn sharing_directive(server: &TestServer, verb: &str, a: &str, b: &str) -> bool {
    match verb {
        "mailbox" => server.create_mailbox(a, b).await,
        "setacl" => {
            let f: Vec<&str> = b.split_whitespace().collect();
            assert_eq!(f.len(), 3, "@setacl OWNER MAILBOX IDENTIFIER RIGHTS");
            server.set_acl(a, f[0], f[1], f[2]).await;
        }
        "admin" => server.directory().set_admin(a, true).unwrap(),
        "alias" => {
            server.directory().add_alias(a, b.trim()).unwrap();
        }
        "domainip" => {
            let ips: Vec<std::net::IpAddr> =
                b.split_whitespace().map(|ip| ip.parse().unwrap()).collect();
            server.directory().set_domain_addresses(a, &ips).unwrap();
        }
        _ => return false,
    }
    true
}

// ---- sharing directives of the IMAP ACL/QUOTA tests ------------------------------------

async fn imap_sharing_directive(server: &TestServer, verb: &str, a: &str, b: &str) {
    match verb {
        "create" => {
            let acc = server.store_of(a).await;
            acc.create_mailbox(b, None).await.unwrap();
        }
        "quota" => {
            let (k, m) = b.split_once(' ').expect("@quota ACCOUNT KIB MSGS");
            let num = |x: &str| (x != "-").then(|| x.parse::<u64>().unwrap());
            server.directory().set_quota(a, num(k), num(m)).unwrap();
        }
        "mbalias" => {
            let (n, t) = b.split_once(' ').expect("@mbalias ACCOUNT NAME TARGET");
            server.directory().add_mailbox_alias(a, n, t).unwrap();
        }
        other => panic!("not an IMAP sharing directive: @{other}"),
    }
}

/// HMAC-MD5 (CRAM-MD5 client side, RFC 2195).
pub fn hmac_md5(key: &[u8], data: &[u8]) -> Vec<u8> {
    use hmac::{KeyInit, Mac};
    let mut m = hmac::Hmac::<md5::Md5>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// HMAC-SHA-256 (SCRAM-SHA-256 client side, RFC 5802/7677).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    use hmac::{KeyInit, Mac};
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}
