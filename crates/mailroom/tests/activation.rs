//! systemd socket activation, end to end with the real binary: `mailroom serve` started
//! with a listening socket as descriptor 3 (`LISTEN_PID`, `LISTEN_FDS`, `LISTEN_FDNAMES`)
//! serves IMAP on it instead of binding its configured IMAP address, keeps the
//! configuration for the protocols without a passed socket, and refuses unknown names
//! and sockets that are not listening TCP sockets.
//!
//! The socket is handed over without `unsafe` (no `pre_exec`): it becomes the child's
//! standard input, and `/bin/sh` moves it to descriptor 3, sets the variables with its
//! own pid and `exec`s the binary (same pid). One more test goes through systemd's own
//! `systemd-socket-activate`, when installed.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

mod support;
use support::imap_session;

const BIN: &str = env!("CARGO_BIN_EXE_mailroom");

/// Moves standard input to descriptor 3 and runs `$0 "$@"` as the process systemd
/// activated (the same pid as the shell's).
const TRAMPOLINE: &str = "exec 3<&0 </dev/null; \
    export LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=\"$FDNAME\"; exec \"$0\" \"$@\"";

/// A configuration file: IMAP configured on `imap` (which the test keeps bound), POP3 on
/// an ephemeral port, nothing else (no web admin).
fn config(dir: &Path, imap: SocketAddr) -> PathBuf {
    config_with_admin(dir, imap, None)
}

/// As [`config`], with the web admin configured on `admin` when given.
fn config_with_admin(dir: &Path, imap: SocketAddr, admin: Option<SocketAddr>) -> PathBuf {
    let cfg = dir.join("mailroom.toml");
    let admin = admin.map(|a| format!("\"{a}\"")).unwrap_or_default();
    std::fs::write(
        &cfg,
        format!(
            "[server]\ndata_dir = \"data\"\n[imap]\nlisten = [\"{imap}\"]\nlisten_tls = []\n\
             [pop3]\nlisten = [\"127.0.0.1:0\"]\nlisten_tls = []\n[lmtp]\nlisten = []\n\
             [admin]\nlisten = [{admin}]\n"
        ),
    )
    .unwrap();
    let out = Command::new(BIN)
        .current_dir(dir)
        .args(["--config", cfg.to_str().unwrap()])
        .args(["account", "add", "alice", "--password", "pw"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    cfg
}

/// `mailroom --config CFG serve` with `sock` as descriptor 3 named `fdname`.
fn spawn_activated(dir: &Path, cfg: &Path, sock: OwnedFd, fdname: &str, log: &Path) -> Child {
    Command::new("/bin/sh")
        .current_dir(dir)
        .env("FDNAME", fdname)
        .args([
            "-c",
            TRAMPOLINE,
            BIN,
            "--config",
            cfg.to_str().unwrap(),
            "serve",
        ])
        .stdin(Stdio::from(sock))
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// Reads `want` listener lines (`imap 127.0.0.1:143`) from the server's standard output.
fn listener_lines(child: &mut Child, want: usize, log: &Path) -> Vec<String> {
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    while lines.len() < want {
        let mut l = String::new();
        if reader.read_line(&mut l).unwrap() == 0 {
            panic!(
                "server exited before listening; got {lines:?}; log: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        lines.push(l.trim_end().to_string());
    }
    lines
}

/// SIGTERM, and waits for the graceful stop.
fn stop(mut child: Child) {
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn serves_imap_on_the_passed_socket() {
    let tmp = tempfile::tempdir().unwrap();
    // The configured IMAP address: held by the test for its whole run, so a server that
    // tried to bind it would fail to start.
    let configured = TcpListener::bind("127.0.0.1:0").unwrap();
    let cfg = config(tmp.path(), configured.local_addr().unwrap());
    let passed = TcpListener::bind("127.0.0.1:0").unwrap();
    let passed_addr = passed.local_addr().unwrap();
    let log = tmp.path().join("serve.log");
    let mut child = spawn_activated(tmp.path(), &cfg, passed.into(), "imap", &log);
    let lines = listener_lines(&mut child, 2, &log);
    // The passed socket is printed like a bound one; POP3, not passed, keeps its
    // configuration.
    assert_eq!(lines[0], format!("imap {passed_addr}"), "{lines:?}");
    assert!(lines[1].starts_with("pop3 127.0.0.1:"), "{lines:?}");
    assert!(!lines[1].ends_with(":0"), "{lines:?}");

    let out = imap_session(
        TcpStream::connect(passed_addr).unwrap(),
        &["LOGIN alice wrong", "LOGIN alice pw", "SELECT INBOX"],
    );
    assert!(out.starts_with("* OK"), "{out}");
    assert!(out.contains("t0 NO"), "{out}");
    assert!(out.contains("t1 OK"), "{out}");
    assert!(out.contains("t2 OK"), "{out}");

    stop(child);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("socket activation"), "{text}");
    // Held until here: the server started and served while its configured IMAP address
    // was taken, so it never tried to bind it.
    drop(configured);
}

#[test]
fn admin_socket_replaces_the_configured_web_admin_address() {
    let tmp = tempfile::tempdir().unwrap();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    // The configured admin address: held by the test, as in the IMAP test above.
    let configured = TcpListener::bind("127.0.0.1:0").unwrap();
    let cfg = config_with_admin(tmp.path(), any, Some(configured.local_addr().unwrap()));
    let passed = TcpListener::bind("127.0.0.1:0").unwrap();
    let passed_addr = passed.local_addr().unwrap();
    let log = tmp.path().join("serve.log");
    let mut child = spawn_activated(tmp.path(), &cfg, passed.into(), "admin", &log);
    // IMAP and POP3 from the configuration, the web admin on the passed socket.
    let lines = listener_lines(&mut child, 3, &log);
    let imap_port = lines[0].strip_prefix("imap 127.0.0.1:").unwrap();
    assert!(imap_port != "0", "{lines:?}");
    assert!(lines[1].starts_with("pop3 127.0.0.1:"), "{lines:?}");
    assert_eq!(lines[2], format!("admin {passed_addr}"), "{lines:?}");
    // The configuration's IMAP address is served (not passed, so kept).
    let imap_addr = format!("127.0.0.1:{imap_port}");
    let out = imap_session(TcpStream::connect(&imap_addr).unwrap(), &["LOGIN alice pw"]);
    assert!(out.contains("t0 OK"), "{out}");
    stop(child);
    drop(configured);
}

#[test]
fn unknown_name_is_a_start_error() {
    let tmp = tempfile::tempdir().unwrap();
    let configured = TcpListener::bind("127.0.0.1:0").unwrap();
    let cfg = config(tmp.path(), configured.local_addr().unwrap());
    let passed = TcpListener::bind("127.0.0.1:0").unwrap();
    let log = tmp.path().join("serve.log");
    let child = spawn_activated(tmp.path(), &cfg, passed.into(), "smtp", &log);
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "{:?}", out.stdout);
    let err = std::fs::read_to_string(&log).unwrap();
    assert!(err.contains("fd 3 is named \"smtp\""), "{err}");
}

#[test]
fn a_socket_that_is_not_listening_is_a_start_error() {
    let tmp = tempfile::tempdir().unwrap();
    let configured = TcpListener::bind("127.0.0.1:0").unwrap();
    let cfg = config(tmp.path(), configured.local_addr().unwrap());
    // A UDP socket named `imap`.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let log = tmp.path().join("serve.log");
    let child = spawn_activated(tmp.path(), &cfg, udp.into(), "imap", &log);
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = std::fs::read_to_string(&log).unwrap();
    assert!(
        err.contains("fd 3 (imap) is not a listening TCP socket"),
        "{err}"
    );
}

/// Through systemd's own `systemd-socket-activate` (package `systemd`): it listens, and on
/// the first connection `exec`s the server with the socket as descriptor 3.
#[test]
fn systemd_socket_activate() {
    let tool = Path::new("/usr/bin/systemd-socket-activate");
    if !tool.exists() {
        eprintln!(
            "SKIPPED systemd_socket_activate: {} is missing (package systemd)",
            tool.display()
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let configured = TcpListener::bind("127.0.0.1:0").unwrap();
    let cfg = config(tmp.path(), configured.local_addr().unwrap());
    // The tool needs a port number: a free one, taken by the tool below.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let log = tmp.path().join("serve.log");
    let mut child = Command::new(tool)
        .current_dir(tmp.path())
        .args(["-l", &addr, "--fdname=imap", BIN])
        .args(["--config", cfg.to_str().unwrap(), "serve"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // The tool logs `Listening on ...` once its socket is open; the server starts on the
    // first connection.
    let mut reader = BufReader::new(std::fs::File::open(&log).unwrap());
    let mut seen = String::new();
    while !seen.contains("Listening on") {
        let mut l = String::new();
        if reader.read_line(&mut l).unwrap() == 0 {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("systemd-socket-activate exited ({status}): {seen}");
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
            continue;
        }
        seen.push_str(&l);
    }
    let conn = TcpStream::connect(&addr).unwrap();
    let lines = listener_lines(&mut child, 2, &log);
    assert_eq!(lines[0], format!("imap {addr}"), "{lines:?}");
    let out = imap_session(conn, &["LOGIN alice pw"]);
    assert!(out.starts_with("* OK"), "{out}");
    assert!(out.contains("t0 OK"), "{out}");
    stop(child);
}
