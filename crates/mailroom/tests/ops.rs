//! Operations, end to end with the real binary: JSON log lines (`[server] log_format`),
//! and the doveadm-like `mailbox` and `message` commands against a running server.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

mod support;
use support::{bin, imap, run};

/// A `mailroom serve` child with its standard error in a file; stopped with SIGTERM.
struct Server {
    child: Child,
    lines: Vec<String>,
}

impl Server {
    fn start(dir: &Path, args: &[&str], want: usize, stderr: &Path) -> Server {
        let mut child = bin()
            .current_dir(dir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(stderr).unwrap())
            .spawn()
            .unwrap();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut lines = Vec::new();
        while lines.len() < want {
            let mut l = String::new();
            if reader.read_line(&mut l).unwrap() == 0 {
                panic!(
                    "server exited before listening; got {lines:?}; log: {}",
                    std::fs::read_to_string(stderr).unwrap_or_default()
                );
            }
            lines.push(l.trim_end().to_string());
        }
        Server { child, lines }
    }

    fn addr(&self, name: &str) -> String {
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap()
            .to_string()
    }

    /// SIGTERM, and waits for the graceful stop.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status:?}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn json_log_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("mailroom.toml");
    std::fs::write(
        &cfg,
        "[server]\ndata_dir = \"data\"\nlog_format = \"json\"\n[imap]\nlisten = [\"127.0.0.1:0\"]\n\
         [pop3]\nlisten = []\n[lmtp]\nlisten = []\n[admin]\nlisten = []\n",
    )
    .unwrap();
    let c = cfg.to_str().unwrap();
    let (code, _, err) = run(
        tmp.path(),
        &["--config", c, "account", "add", "alice", "--password", "pw"],
    );
    assert_eq!(code, 0, "{err}");
    let log = tmp.path().join("serve.log");
    let s = Server::start(tmp.path(), &["--config", c, "serve"], 1, &log);
    let out = imap(&s.addr("imap"), &["LOGIN alice wrong", "LOGIN alice pw"]);
    assert!(out.contains("t1 OK"), "{out}");
    s.stop();
    let text = std::fs::read_to_string(&log).unwrap();
    let mut messages = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(v["timestamp"].is_string(), "{line}");
        assert!(v["level"].is_string(), "{line}");
        messages.push((v["fields"]["message"].as_str().unwrap().to_string(), v));
    }
    assert!(
        messages
            .iter()
            .any(|(m, _)| m.starts_with("mailroom ") && m.ends_with(" started")),
        "{text}"
    );
    let (_, failed) = messages
        .iter()
        .find(|(m, _)| m.contains("login failed"))
        .unwrap_or_else(|| panic!("no `login failed` record: {text}"));
    assert_eq!(failed["level"], "WARN", "{failed}");
    assert!(failed["span"].is_object(), "the session's span: {failed}");
    assert!(messages.iter().any(|(m, _)| m == "stopped"), "{text}");
}

fn deliver(dir: &Path, config: &str, to: &str, msg: &str) {
    let mut c = bin()
        .current_dir(dir)
        .args(["--config", config, "deliver", "--to", to])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(msg.as_bytes()).unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// An IMAP connection kept open across CLI calls.
struct Imap {
    w: TcpStream,
    r: BufReader<TcpStream>,
    n: u32,
}

impl Imap {
    fn connect(addr: &str) -> Imap {
        let w = TcpStream::connect(addr).unwrap();
        let mut r = BufReader::new(w.try_clone().unwrap());
        let mut greeting = String::new();
        r.read_line(&mut greeting).unwrap();
        Imap { w, r, n: 0 }
    }

    fn cmd(&mut self, c: &str) -> String {
        self.n += 1;
        let tag = format!("c{}", self.n);
        self.w
            .write_all(format!("{tag} {c}\r\n").as_bytes())
            .unwrap();
        let mut out = String::new();
        loop {
            let mut l = String::new();
            assert!(self.r.read_line(&mut l).unwrap() > 0, "closed: {out}");
            out.push_str(&l);
            if l.starts_with(&format!("{tag} ")) {
                return out;
            }
        }
    }
}

#[test]
fn mailbox_message_and_account_commands_while_the_server_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cfg = dir.join("mailroom.toml");
    std::fs::write(
        &cfg,
        "[server]\ndata_dir = \"data\"\n[imap]\nlisten = [\"127.0.0.1:0\"]\n\
         [pop3]\nlisten = []\n[lmtp]\nlisten = []\n[admin]\nlisten = []\n",
    )
    .unwrap();
    let c = cfg.to_str().unwrap();
    let cli = |args: &[&str]| {
        let mut all = vec!["--config", c];
        all.extend_from_slice(args);
        run(dir, &all)
    };
    let ok = |args: &[&str]| {
        let (code, out, err) = cli(args);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
        out
    };
    ok(&["account", "add", "alice", "--password", "pw"]);
    let s = Server::start(dir, &["--config", c, "serve"], 1, &dir.join("serve.log"));
    let addr = s.addr("imap");
    for subject in ["first", "second", "third"] {
        deliver(
            dir,
            c,
            "alice@localhost",
            &format!("From: b@example.org\r\nSubject: {subject}\r\n\r\nbody\r\n"),
        );
    }
    let mut a = Imap::connect(&addr);
    assert!(a.cmd("LOGIN alice pw").contains(" OK"));
    assert!(a.cmd("SELECT INBOX").contains("* 3 EXISTS"));

    assert_eq!(
        ok(&["mailbox", "create", "alice", "Projects/2026"]),
        "mailbox Projects/2026 created\n"
    );
    let list = ok(&["mailbox", "list", "alice"]);
    for name in ["INBOX", "Projects", "Projects/2026", "Sent", "Trash"] {
        assert!(list.lines().any(|l| l == name), "{name} in {list}");
    }
    assert!(Imap::connect(&addr).cmd("LOGIN alice pw").contains(" OK"));
    let mut b = Imap::connect(&addr);
    b.cmd("LOGIN alice pw");
    assert!(b.cmd("LIST \"\" \"*\"").contains("\"Projects/2026\""));
    ok(&[
        "mailbox",
        "rename",
        "alice",
        "Projects/2026",
        "Projects/Done",
    ]);
    let listed = b.cmd("LIST \"\" \"*\"");
    assert!(
        listed.contains("\"Projects/Done\"") && !listed.contains("2026"),
        "{listed}"
    );
    let status = ok(&["mailbox", "status", "alice", "INBOX"]);
    assert!(status.starts_with("INBOX messages=3 unseen=3 "), "{status}");
    assert_eq!(
        ok(&["message", "search", "alice", "INBOX", "ALL"]),
        "1\n2\n3\n"
    );
    assert_eq!(
        ok(&["message", "search", "alice", "INBOX", "SUBJECT", "second"]),
        "2\n"
    );
    let (code, _, err) = cli(&["message", "search", "alice", "INBOX", "NOSUCHKEY"]);
    assert_ne!(code, 0);
    assert!(err.contains("not an IMAP SEARCH query"), "{err}");
    assert_eq!(
        ok(&["message", "expunge", "alice", "INBOX", "SUBJECT second"]),
        "1 messages expunged from INBOX\n"
    );
    // The session with INBOX selected hears of it (the change comes from another
    // process: wait for the server to notice, not for a time).
    let mut seen = String::new();
    for _ in 0..200 {
        seen = a.cmd("NOOP");
        if seen.contains("* 2 EXPUNGE") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(seen.contains("* 2 EXPUNGE"), "{seen}");
    assert!(a.cmd("FETCH 1:* (UID)").contains("* 2 FETCH (UID 3)"));
    ok(&["mailbox", "delete", "alice", "Projects/Done"]);
    let listed = b.cmd("LIST \"\" \"*\"");
    assert!(!listed.contains("Projects/Done"), "{listed}");
    let (code, _, err) = cli(&["mailbox", "delete", "alice", "INBOX"]);
    assert_ne!(code, 0, "{err}");
    // The mailbox alias commands are unchanged.
    assert_eq!(
        ok(&["mailbox", "alias", "add", "alice", "news", "INBOX"]).trim(),
        "news -> INBOX"
    );
    assert_eq!(
        ok(&["mailbox", "alias", "list", "alice"]).trim(),
        "news -> INBOX"
    );

    // account rename: refused while alice has sessions, then done with her mail.
    let (code, _, err) = cli(&["account", "rename", "alice", "carol", "--keep-alias"]);
    assert_ne!(code, 0);
    assert!(err.contains("has sessions"), "{err}");
    a.cmd("LOGOUT");
    b.cmd("LOGOUT");
    drop((a, b));
    let mut gone = false;
    for _ in 0..200 {
        if !ok(&["sessions"]).contains("alice") {
            gone = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(gone, "the sessions ended");
    let out = ok(&["account", "rename", "alice", "carol", "--keep-alias"]);
    assert!(
        out.contains("account alice@localhost renamed to carol@localhost"),
        "{out}"
    );
    let mut c2 = Imap::connect(&addr);
    assert!(c2.cmd("LOGIN carol pw").contains(" OK"));
    let sel = c2.cmd("SELECT INBOX");
    assert!(sel.contains("* 2 EXISTS"), "{sel}");
    assert!(c2
        .cmd("FETCH 2 (BODY[HEADER.FIELDS (SUBJECT)])")
        .contains("third"));
    // The old address is an alias now: mail and logins reach carol.
    deliver(dir, c, "alice@localhost", "Subject: fourth\r\n\r\nbody\r\n");
    assert!(ok(&["mailbox", "status", "carol", "INBOX"]).starts_with("INBOX messages=3 "));
    assert!(!dir.join("data/mail/localhost/alice").exists());
    let (code, _, _) = cli(&["account", "rename", "nobody", "x"]);
    assert_ne!(code, 0);
    s.stop();
}

/// `import courier` from a Courier-IMAP Maildir++ tree (UIDs from `courierimapuiddb`,
/// keywords from `courierimapkeywords/:list`, subscriptions from
/// `courierimapsubscribed`, a message in `new/` the UID list does not know yet), and the
/// same import again: nothing imported twice.
#[test]
fn import_courier_keeps_uids_keywords_subscriptions_and_uidls() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let src = dir.join("courier/Maildir");
    let put = |rel: &str, body: &str| {
        let p = src.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    };
    for d in [
        "cur",
        "new",
        "tmp",
        ".Archive/cur",
        ".Archive/new",
        ".Archive/tmp",
    ] {
        std::fs::create_dir_all(src.join(d)).unwrap();
    }
    put("cur/1700000000.M1P1.host:2,S", "Subject: one\n\nbody one\n");
    put(
        "cur/1700000100.M2P1.host:2,RF",
        "Subject: two\n\nbody two\n",
    );
    put("new/1700000200.M3P1.host", "Subject: three\n\nbody three\n");
    put(
        "courierimapuiddb",
        "1 424242 8\n3 1700000000.M1P1.host\n7 1700000100.M2P1.host\n",
    );
    put(
        "courierimapkeywords/:list",
        "Work\nPersonal\n\n1700000100.M2P1.host:0 1\n",
    );
    put("courierimapsubscribed", "INBOX.Archive\n");
    put(
        ".Archive/cur/1700000300.M4P1.host:2,S",
        "Subject: old\n\nbody old\n",
    );
    put(
        ".Archive/courierimapuiddb",
        "1 515151 3\n2 1700000300.M4P1.host\n",
    );
    let data = dir.join("data");
    let d = data.to_str().unwrap();
    let (code, _, err) = run(
        dir,
        &["--data", d, "account", "add", "alice", "--password", "pw"],
    );
    assert_eq!(code, 0, "{err}");
    let s = src.to_str().unwrap();
    let (code, out, err) = run(
        dir,
        &["--data", d, "import", "courier", "--account", "alice", s],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("imported 4 messages"), "{out}");
    let ok = |args: &[&str]| {
        let mut all = vec!["--data", d];
        all.extend_from_slice(args);
        let (code, out, err) = run(dir, &all);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
        out
    };
    let st = ok(&["mailbox", "status", "alice", "INBOX"]);
    assert!(
        st.contains("messages=3 ")
            && st.contains(" uidnext=9 ")
            && st.contains(" uidvalidity=424242 "),
        "{st}"
    );
    assert_eq!(
        ok(&["message", "search", "alice", "INBOX", "ALL"]),
        "3\n7\n8\n"
    );
    assert_eq!(
        ok(&["message", "search", "alice", "INBOX", "KEYWORD", "Personal"]),
        "7\n"
    );
    assert_eq!(
        ok(&["message", "search", "alice", "INBOX", "ANSWERED FLAGGED"]),
        "7\n"
    );
    assert_eq!(ok(&["message", "search", "alice", "INBOX", "SEEN"]), "3\n");
    assert_eq!(ok(&["message", "search", "alice", "INBOX", "RECENT"]), "");
    let st = ok(&["mailbox", "status", "alice", "Archive"]);
    assert!(
        st.contains(" uidnext=3 ") && st.contains(" uidvalidity=515151 "),
        "{st}"
    );
    // POP3 shows Courier's unique-ids (the file names), not the configured format.
    let mut c = bin()
        .current_dir(dir)
        .args(["--data", d, "pop3", "--stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(b"USER alice\r\nPASS pw\r\nUIDL\r\nQUIT\r\n")
        .unwrap();
    let pop = String::from_utf8(c.wait_with_output().unwrap().stdout).unwrap();
    for line in [
        "1 1700000000.M1P1.host\r\n",
        "2 1700000100.M2P1.host\r\n",
        "3 1700000200.M3P1.host\r\n",
    ] {
        assert!(pop.contains(line), "{line:?} in {pop}");
    }
    // Again: nothing new, nothing changed.
    let (code, out, err) = run(
        dir,
        &["--data", d, "import", "courier", "--account", "alice", s],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("imported 0 messages (0 octets)") && out.contains("4 already there"),
        "{out}"
    );
    assert_eq!(
        ok(&["message", "search", "alice", "INBOX", "ALL"]),
        "3\n7\n8\n"
    );
    // Mail that reached the old server since is taken by the next run.
    put("new/1700000400.M5P1.host", "Subject: four\n\nbody four\n");
    let (code, out, err) = run(
        dir,
        &["--data", d, "import", "courier", "--account", "alice", s],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("imported 1 messages"), "{out}");
    assert_eq!(
        ok(&["message", "search", "alice", "INBOX", "ALL"]),
        "3\n7\n8\n9\n"
    );
    // An account that does not exist is refused with a clear error.
    let (code, _, err) = run(
        dir,
        &["--data", d, "import", "courier", "--account", "bob", s],
    );
    assert_ne!(code, 0);
    assert!(err.contains("add the account first"), "{err}");
}
