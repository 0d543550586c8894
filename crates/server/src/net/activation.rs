//! systemd socket activation (`sd_listen_fds(3)`): the listening sockets systemd passes
//! as file descriptors 3, 4, ... with `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES`.
//!
//! Each socket is mapped by its name (`FileDescriptorName=` in the `.socket` unit):
//! `imap`, `imaps`, `pop3`, `pop3s`, `lmtp` and `admin` (the web admin). The sockets of a
//! protocol replace that protocol's configured `listen`/`listen_tls` addresses; a
//! protocol without a passed socket keeps its configuration.
//!
//! This module never turns a raw descriptor into an owned one (this crate has no
//! `unsafe`): the binary does that once, for the descriptors [`from_env`] names, and
//! hands them to [`take`], which checks that each one is a listening TCP socket.

use super::Protocol;
use std::os::fd::{OwnedFd, RawFd};

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
pub const FIRST_FD: RawFd = 3;

/// Why the passed sockets cannot be used (a start error).
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    #[error("socket activation: {var}={value:?} is not a number")]
    NotANumber { var: &'static str, value: String },
    #[error("socket activation: LISTEN_FDNAMES names {names} sockets, LISTEN_FDS passes {fds}")]
    NameCount { names: usize, fds: usize },
    #[error(
        "socket activation: fd {fd} is named {name:?}, which is none of imap, imaps, pop3, \
         pop3s, lmtp, admin (set FileDescriptorName= in the .socket unit)"
    )]
    UnknownName { fd: RawFd, name: String },
    #[error("socket activation: fd {fd} ({name}) is not a listening TCP socket: {why}")]
    NotListening {
        fd: RawFd,
        name: String,
        why: String,
    },
}

/// What a passed socket is for, by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A mail protocol listener: protocol, implicit TLS.
    Listener(Protocol, bool),
    /// The web admin.
    Admin,
}

/// The role of a socket name; `None` for an unknown name.
pub fn role(name: &str) -> Option<Role> {
    Some(match name {
        "imap" => Role::Listener(Protocol::Imap, false),
        "imaps" => Role::Listener(Protocol::Imap, true),
        "pop3" => Role::Listener(Protocol::Pop3, false),
        "pop3s" => Role::Listener(Protocol::Pop3, true),
        "lmtp" => Role::Listener(Protocol::Lmtp, false),
        "admin" => Role::Admin,
        _ => return None,
    })
}

/// The descriptors and names the variables pass to the process `our_pid`: empty when
/// `LISTEN_PID` is unset or names another process (as `sd_listen_fds`). A missing
/// `LISTEN_FDNAMES` names every socket `unknown` (an error in [`take`]).
pub fn parse(
    pid: Option<&str>,
    fds: Option<&str>,
    names: Option<&str>,
    our_pid: u32,
) -> Result<Vec<(RawFd, String)>, ActivationError> {
    let Some(pid) = pid else {
        return Ok(Vec::new());
    };
    let pid: u32 = pid
        .trim()
        .parse()
        .map_err(|_| ActivationError::NotANumber {
            var: "LISTEN_PID",
            value: pid.to_string(),
        })?;
    if pid != our_pid {
        return Ok(Vec::new());
    }
    let Some(fds) = fds else {
        return Ok(Vec::new());
    };
    let count: usize = fds
        .trim()
        .parse()
        .ok()
        .filter(|n| *n <= 4096)
        .ok_or_else(|| ActivationError::NotANumber {
            var: "LISTEN_FDS",
            value: fds.to_string(),
        })?;
    let names: Vec<String> = match names {
        Some(n) if count > 0 => n.split(':').map(str::to_string).collect(),
        _ => vec!["unknown".to_string(); count],
    };
    if names.len() != count {
        return Err(ActivationError::NameCount {
            names: names.len(),
            fds: count,
        });
    }
    Ok(names
        .into_iter()
        .zip(FIRST_FD..)
        .map(|(name, fd)| (fd, name))
        .collect())
}

/// Reads `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES` (see [`parse`]) and unsets them,
/// as `sd_listen_fds(3)` does, so that child processes do not inherit them. Call it once,
/// first thing, while the process has a single thread (it changes the environment).
pub fn from_env() -> Result<Vec<(RawFd, String)>, ActivationError> {
    let var = |k: &str| std::env::var(k).ok();
    let (pid, fds, names) = (var("LISTEN_PID"), var("LISTEN_FDS"), var("LISTEN_FDNAMES"));
    for k in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(k);
    }
    parse(
        pid.as_deref(),
        fds.as_deref(),
        names.as_deref(),
        std::process::id(),
    )
}

/// The passed sockets, checked and ready for [`crate::server::start_with`] and the web
/// admin.
#[derive(Debug, Default)]
pub struct Activated {
    /// Mail protocol listeners: protocol, implicit TLS, socket (non-blocking).
    pub listeners: Vec<(Protocol, bool, std::net::TcpListener)>,
    /// Web admin listeners (non-blocking).
    pub admin: Vec<std::net::TcpListener>,
}

impl Activated {
    /// True when nothing was passed.
    pub fn is_empty(&self) -> bool {
        self.listeners.is_empty() && self.admin.is_empty()
    }
}

/// Checks each passed descriptor (`fd`, name, the descriptor) and maps it by its name: an
/// unknown name, or a descriptor that is not a listening IPv4/IPv6 stream socket, is an
/// error naming the descriptor. The sockets are made non-blocking and close-on-exec.
pub fn take(fds: Vec<(RawFd, String, OwnedFd)>) -> Result<Activated, ActivationError> {
    let mut out = Activated::default();
    for (fd, name, owned) in fds {
        let role = role(&name).ok_or_else(|| ActivationError::UnknownName {
            fd,
            name: name.clone(),
        })?;
        let bad = |why: String| ActivationError::NotListening {
            fd,
            name: name.clone(),
            why,
        };
        let sock = socket2::SockRef::from(&owned);
        let domain = sock.domain().map_err(|e| bad(e.to_string()))?;
        if domain != socket2::Domain::IPV4 && domain != socket2::Domain::IPV6 {
            return Err(bad(format!("{domain:?} socket")));
        }
        if sock.r#type().map_err(|e| bad(e.to_string()))? != socket2::Type::STREAM {
            return Err(bad("not a stream socket".into()));
        }
        if !sock.is_listener().map_err(|e| bad(e.to_string()))? {
            return Err(bad("not listening".into()));
        }
        sock.set_cloexec(true).map_err(|e| bad(e.to_string()))?;
        sock.set_nonblocking(true).map_err(|e| bad(e.to_string()))?;
        let listener = std::net::TcpListener::from(owned);
        match role {
            Role::Listener(protocol, tls) => out.listeners.push((protocol, tls, listener)),
            Role::Admin => out.admin.push(listener),
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_descriptors_from_3() {
        let got = parse(Some("42"), Some("3"), Some("imap:pop3s:lmtp"), 42).unwrap();
        assert_eq!(
            got,
            vec![
                (3, "imap".to_string()),
                (4, "pop3s".to_string()),
                (5, "lmtp".to_string())
            ]
        );
        assert_eq!(role("imap"), Some(Role::Listener(Protocol::Imap, false)));
        assert_eq!(role("imaps"), Some(Role::Listener(Protocol::Imap, true)));
        assert_eq!(role("pop3"), Some(Role::Listener(Protocol::Pop3, false)));
        assert_eq!(role("pop3s"), Some(Role::Listener(Protocol::Pop3, true)));
        assert_eq!(role("lmtp"), Some(Role::Listener(Protocol::Lmtp, false)));
        assert_eq!(role("admin"), Some(Role::Admin));
        assert_eq!(role("smtp"), None);
        assert_eq!(role("IMAP"), None);
    }

    #[test]
    fn other_process_or_nothing_passed() {
        assert!(parse(None, None, None, 42).unwrap().is_empty());
        assert!(parse(None, Some("1"), Some("imap"), 42).unwrap().is_empty());
        assert!(parse(Some("41"), Some("1"), Some("imap"), 42)
            .unwrap()
            .is_empty());
        assert!(parse(Some("42"), None, None, 42).unwrap().is_empty());
        assert!(parse(Some("42"), Some("0"), Some(""), 42)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn malformed_variables_are_errors() {
        let e = parse(Some("x"), Some("1"), None, 42).unwrap_err();
        assert!(e.to_string().contains("LISTEN_PID=\"x\""), "{e}");
        let e = parse(Some("42"), Some("-1"), None, 42).unwrap_err();
        assert!(e.to_string().contains("LISTEN_FDS=\"-1\""), "{e}");
        let e = parse(Some("42"), Some("2"), Some("imap"), 42).unwrap_err();
        assert!(
            matches!(e, ActivationError::NameCount { names: 1, fds: 2 }),
            "{e}"
        );
        // Without names every socket is `unknown`, which `take` refuses.
        let got = parse(Some("42"), Some("1"), None, 42).unwrap();
        assert_eq!(got, vec![(3, "unknown".to_string())]);
    }

    #[test]
    fn take_maps_listeners_by_name() {
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (aa, ba, ca) = (
            a.local_addr().unwrap(),
            b.local_addr().unwrap(),
            c.local_addr().unwrap(),
        );
        let got = take(vec![
            (3, "imaps".into(), a.into()),
            (4, "admin".into(), b.into()),
            (5, "lmtp".into(), c.into()),
        ])
        .unwrap();
        let l: Vec<_> = got
            .listeners
            .iter()
            .map(|(p, t, l)| (*p, *t, l.local_addr().unwrap()))
            .collect();
        assert_eq!(
            l,
            vec![(Protocol::Imap, true, aa), (Protocol::Lmtp, false, ca)]
        );
        assert_eq!(got.admin.len(), 1);
        assert_eq!(got.admin[0].local_addr().unwrap(), ba);
    }

    #[test]
    fn unknown_name_is_an_error_naming_the_fd() {
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let e = take(vec![(3, "smtp".into(), a.into())]).unwrap_err();
        assert!(
            matches!(e, ActivationError::UnknownName { fd: 3, .. }),
            "{e}"
        );
        let msg = e.to_string();
        assert!(msg.contains("fd 3") && msg.contains("\"smtp\""), "{msg}");
    }

    #[test]
    fn not_a_listening_tcp_socket_is_an_error() {
        // A connected (not listening) TCP socket.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let s = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let e = take(vec![(4, "imap".into(), s.into())]).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("fd 4 (imap) is not a listening TCP socket"),
            "{msg}"
        );
        // A UDP socket.
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let e = take(vec![(5, "pop3".into(), u.into())]).unwrap_err();
        assert!(e.to_string().contains("fd 5 (pop3)"), "{e}");
        // Not a socket at all.
        let f = std::fs::File::open("/dev/null").unwrap();
        let e = take(vec![(6, "lmtp".into(), f.into())]).unwrap_err();
        assert!(e.to_string().contains("fd 6 (lmtp)"), "{e}");
    }
}
