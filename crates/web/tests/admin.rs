//! The web admin's contract over real HTTPS (issue 17): logins (administrators only),
//! the session cookie's attributes, CSRF tokens, error pages; and closing a session
//! through the registry (what the monitor's button does) ends a real IMAP session with
//! `BYE`, in IDLE too, and a POP3 session with `-ERR`.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use mailroom_server::net::Protocol;

#[tokio::test]
async fn an_administrator_closes_a_session() {
    let w = start().await;
    let imap_addr = addr_of(&w, Protocol::Imap);
    let mut c = Client::connect(imap_addr).await;
    assert!(c.line().await.starts_with("* OK"));
    assert!(c
        .imap("a", "LOGIN bob pw")
        .await
        .last()
        .unwrap()
        .starts_with("a OK"));
    let reg = &w.running.ctx.registry;
    let id = reg
        .list()
        .into_iter()
        .filter(|s| s.account.as_deref() == Some("bob@localhost"))
        .max_by_key(|s| s.id) // the newest: a closed one may linger a moment
        .unwrap()
        .id;
    assert!(reg.close(id));
    assert_eq!(c.line().await, "* BYE closed by the administrator\r\n");
    assert_eq!(c.line().await, "", "then the connection ends");
    assert!(!reg.close(u64::MAX), "no such session");

    // In IDLE too.
    let mut c = Client::connect(imap_addr).await;
    assert!(c.line().await.starts_with("* OK"));
    assert!(c
        .imap("a", "LOGIN bob pw")
        .await
        .last()
        .unwrap()
        .starts_with("a OK"));
    assert!(c
        .imap("b", "SELECT INBOX")
        .await
        .last()
        .unwrap()
        .starts_with("b OK"));
    c.send("c IDLE").await;
    assert_eq!(c.line().await, "+ idling\r\n");
    let s = reg
        .list()
        .into_iter()
        .filter(|s| s.account.as_deref() == Some("bob@localhost"))
        .max_by_key(|s| s.id) // the newest: a closed one may linger a moment
        .unwrap();
    assert_eq!(s.command.map(|(c, _)| c), Some("IDLE"));
    assert!(reg.close(s.id));
    assert_eq!(c.line().await, "* BYE closed by the administrator\r\n");
    assert_eq!(c.line().await, "");

    // POP3.
    let mut p = Client::connect(addr_of(&w, Protocol::Pop3)).await;
    assert!(p.line().await.starts_with("+OK"));
    let s = reg
        .list()
        .into_iter()
        .find(|s| s.label.starts_with("POP-"))
        .unwrap();
    assert!(reg.close(s.id));
    assert_eq!(
        p.line().await,
        "-ERR [SYS/TEMP] closed by the administrator\r\n"
    );
    assert_eq!(p.line().await, "");
    w.running.shutdown().await;
}

fn cookie_from(headers: &str, name: &str) -> Option<String> {
    headers
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .filter_map(|l| l.split_once(':').map(|(_, v)| v.trim().to_string()))
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_string())
}

#[tokio::test]
async fn logins_cookies_and_csrf() {
    let w = start().await;
    let a = w.admin;
    // Not logged in: to the login page.
    let (status, headers, _) = get(a, "/accounts", "").await;
    assert!(status.contains(" 303 "), "{status}");
    assert!(headers.to_ascii_lowercase().contains("location: /login"));
    // The login form sets its double-submit token.
    let (_, headers, body) = get(a, "/login", "").await;
    let pre = cookie_from(&headers, "mailroom_login").unwrap();
    let token = pre.split_once('=').unwrap().1.to_string();
    assert!(body.contains(&token));
    // Without the token: refused.
    let (status, _, body) = post(a, "/login", &pre, "user=boss&password=pw").await;
    assert!(status.contains(" 401 "), "{status}");
    assert!(body.contains("expired"), "{body}");
    // A wrong password.
    let (status, _, body) = post(
        a,
        "/login",
        &pre,
        &format!("csrf={token}&user=boss&password=no"),
    )
    .await;
    assert!(status.contains(" 401 "), "{status}");
    assert!(body.contains("Invalid user name or password"));
    // A right password, but not an administrator: the error page, no session.
    let (status, headers, body) = post(
        a,
        "/login",
        &pre,
        &format!("csrf={token}&user=bob&password=pw"),
    )
    .await;
    assert!(status.contains(" 403 "), "{status}");
    assert!(body.contains("Not an administrator"));
    assert!(cookie_from(&headers, "mailroom_admin").is_none());
    // The administrator.
    let (status, headers, _) = post(
        a,
        "/login",
        &pre,
        &format!("csrf={token}&user=boss&password=pw"),
    )
    .await;
    assert!(status.contains(" 303 "), "{status}");
    let set = headers
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: mailroom_admin=")
        })
        .unwrap();
    for attr in ["Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(set.contains(attr), "{set}");
    }
    let session = cookie_from(&headers, "mailroom_admin").unwrap();
    let (status, headers, body) = get(a, "/accounts", &session).await;
    assert!(status.contains(" 200 "), "{status}");
    let lower = headers.to_ascii_lowercase();
    assert!(lower.contains("x-frame-options: deny"), "{headers}");
    assert!(lower.contains("cache-control: no-store"), "{headers}");
    assert!(body.contains("bob@localhost"));
    // A form without the session's token changes nothing.
    let (status, _, body) = post(a, "/accounts", &session, "op=remove&account=bob").await;
    assert!(status.contains(" 403 "), "{status}");
    assert!(body.contains("Form expired"));
    assert!(w.running.ctx.directory.account("bob").is_ok());
    // With it, the change is made; bad input is an error message, not a crash.
    let csrf = body_token(&get(a, "/accounts", &session).await.2);
    let (status, headers, _) = post(
        a,
        "/accounts",
        &session,
        &format!("csrf={csrf}&op=quota&account=bob&storage=lots&messages=none"),
    )
    .await;
    assert!(status.contains(" 303 "), "{status}");
    assert!(headers.contains("err=invalid%20size"), "{headers}");
    let (_, headers, _) = post(
        a,
        "/accounts",
        &session,
        &format!("csrf={csrf}&op=add&account=carol&password=pw"),
    )
    .await;
    assert!(
        headers.contains("ok=account%20carol%40localhost%20added"),
        "{headers}"
    );
    assert!(w.running.ctx.directory.account("carol").is_ok());
    // An unknown page.
    let (status, _, body) = get(a, "/nowhere", &session).await;
    assert!(status.contains(" 404 "), "{status}");
    assert!(body.contains("No such page"));
    // A session of an account that lost its administrator flag ends.
    w.running.ctx.directory.set_admin("boss", false).unwrap();
    let (status, _, body) = get(a, "/accounts", &session).await;
    assert!(status.contains(" 403 "), "{status}");
    assert!(body.contains("Not an administrator"));
    w.running.shutdown().await;
}

/// The CSRF token of the first form of a page.
fn body_token(body: &str) -> String {
    let at = body.find("name=csrf value=\"").unwrap() + "name=csrf value=\"".len();
    body[at..].split('"').next().unwrap().to_string()
}
