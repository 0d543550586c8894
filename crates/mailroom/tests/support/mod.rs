//! What the binary's integration tests share: running the binary and speaking IMAP to it.
#![allow(dead_code)] // each test file uses its own part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

/// The `mailroom` binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mailroom"))
}

/// Runs the binary in `dir`: exit code, standard output, standard error.
pub fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = bin().current_dir(dir).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Connects to `addr` and runs [`imap_session`].
pub fn imap(addr: &str, cmds: &[&str]) -> String {
    imap_session(TcpStream::connect(addr).unwrap(), cmds)
}

/// On an open IMAP connection: the greeting, then each command (tagged `t0`, `t1`, ...)
/// up to its tagged answer, then LOGOUT; returns everything the server sent up to the
/// last command's tagged answer and whatever followed the LOGOUT.
pub fn imap_session(s: TcpStream, cmds: &[&str]) -> String {
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut out = String::new();
    r.read_line(&mut out).unwrap();
    for (i, c) in cmds.iter().enumerate() {
        let tag = format!("t{i}");
        w.write_all(format!("{tag} {c}\r\n").as_bytes()).unwrap();
        loop {
            let mut l = String::new();
            if r.read_line(&mut l).unwrap() == 0 {
                return out;
            }
            out.push_str(&l);
            if l.starts_with(&format!("{tag} ")) {
                break;
            }
        }
    }
    let _ = w.write_all(b"z LOGOUT\r\n");
    let mut rest = String::new();
    let _ = r.read_to_string(&mut rest);
    out
}
