//! Logins to the web admin: the same credentials as IMAP (the directory resolves the
//! login name and checks the password in its stored scheme: argon2, sha512-crypt, ...),
//! administrators only; a random session id in a `Secure; HttpOnly; SameSite=Strict`
//! cookie; a CSRF token per session that every form carries (the login form's token is
//! a double-submit cookie, as there is no session yet).

use crate::html;
use crate::Web;
use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use mailroom_directory::{AccountInfo, LoginTarget, Secret};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The cookie that holds the session id.
pub const SESSION_COOKIE: &str = "mailroom_admin";
/// The login form's double-submit CSRF cookie.
const LOGIN_COOKIE: &str = "mailroom_login";
/// Most logins kept at once (the oldest goes first).
const MAX_LOGINS: usize = 256;

/// The client's address (set per connection by the listener).
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

/// One logged-in administrator.
#[derive(Clone, Debug)]
pub struct Login {
    /// The account (re-read from the directory at every request).
    pub account: AccountInfo,
    /// The token every form of this session carries.
    pub csrf: String,
    last: Instant,
}

/// Logged-in administrators by session id.
pub struct Logins {
    idle: Duration,
    map: Mutex<HashMap<String, Login>>,
}

impl Logins {
    /// Logins that end after `idle` without a request.
    pub fn new(idle: Duration) -> Logins {
        Logins {
            idle,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Login>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn create(&self, account: AccountInfo) -> (String, Login) {
        let id = token();
        let login = Login {
            account,
            csrf: token(),
            last: Instant::now(),
        };
        let mut m = self.lock();
        let idle = self.idle;
        m.retain(|_, l| l.last.elapsed() < idle);
        if m.len() >= MAX_LOGINS {
            if let Some(oldest) = m.iter().min_by_key(|(_, l)| l.last).map(|(k, _)| k.clone()) {
                m.remove(&oldest);
            }
        }
        m.insert(id.clone(), login.clone());
        (id, login)
    }

    fn touch(&self, id: &str) -> Option<Login> {
        let mut m = self.lock();
        let l = m.get_mut(id)?;
        if l.last.elapsed() >= self.idle {
            m.remove(id);
            return None;
        }
        l.last = Instant::now();
        Some(l.clone())
    }

    fn remove(&self, id: &str) {
        self.lock().remove(id);
    }
}

/// 32 random bytes, base64url.
fn token() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A cookie's value from the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn set_cookie(name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
    let age = max_age.map_or(String::new(), |s| format!("; Max-Age={s}"));
    let v = format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Strict{age}");
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// Compares tokens without an early exit.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The logged-in administrator of a request, or the response to send instead (a
/// redirect to the login page, or the error page for an account that lost its
/// administrator flag).
pub async fn require(web: &Web, headers: &HeaderMap) -> Result<Login, Response> {
    let to_login = || {
        (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, HeaderValue::from_static("/login"))],
        )
            .into_response()
    };
    let Some(id) = cookie(headers, SESSION_COOKIE) else {
        return Err(to_login());
    };
    let Some(login) = web.logins.touch(id) else {
        return Err(to_login());
    };
    // The account may have been removed or lost its flag since: ask the directory.
    let address = login.account.address();
    let now = web.ctx.dir(move |d| d.account(&address)).await;
    match now {
        Ok(a) if a.admin => Ok(Login {
            account: a,
            ..login
        }),
        _ => {
            web.logins.remove(id);
            Err(html::error_page(
                StatusCode::FORBIDDEN,
                "Not an administrator",
                "This account has no administrator rights (any more). Log in with an administrator account.",
            ))
        }
    }
}

/// Checks a form's CSRF token against the session's.
pub fn check_csrf(login: &Login, form: &HashMap<String, String>) -> Result<(), Response> {
    match form.get("csrf") {
        Some(t) if same(t, &login.csrf) => Ok(()),
        _ => Err(html::error_page(
            StatusCode::FORBIDDEN,
            "Form expired",
            "The form's security token does not match this session (it expired, or the request came from another site). Go back, reload the page and try again.",
        )),
    }
}

/// `GET /login`.
pub async fn login_page(headers: HeaderMap) -> Response {
    login_form(&headers, None)
}

fn login_form(headers: &HeaderMap, error: Option<&str>) -> Response {
    let t = match cookie(headers, LOGIN_COOKIE) {
        Some(t) if t.len() == 43 => t.to_string(),
        _ => token(),
    };
    let mut body = String::from("<h1>mailroom administration</h1>");
    if let Some(e) = error {
        body.push_str(&format!("<p class=err id=error>{}</p>", html::esc(e)));
    }
    body.push_str(&format!(
        "<form method=post action=/login class=login>\
         <input type=hidden name=csrf value=\"{}\">\
         <label>Account <input name=user id=user autocomplete=username required autofocus></label>\
         <label>Password <input name=password id=password type=password autocomplete=current-password required></label>\
         <button type=submit id=login>Log in</button></form>",
        html::esc(&t)
    ));
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let mut r = (status, html::frame("Log in", None, &body)).into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, &t, None));
    r
}

/// `POST /login`: user, password, csrf.
pub async fn login(
    State(web): State<Arc<Web>>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return login_form(&headers, Some("The form could not be read."));
    };
    let csrf_ok = match (cookie(&headers, LOGIN_COOKIE), form.get("csrf")) {
        (Some(c), Some(f)) => same(c, f),
        _ => false,
    };
    if !csrf_ok {
        return login_form(
            &headers,
            Some("The login form expired (security token). Please try again."),
        );
    }
    let user = form.get("user").cloned().unwrap_or_default();
    let password = Secret::new(form.get("password").cloned().unwrap_or_default());
    let local = peer.map(|Extension(Peer(p))| p);
    let ip = local.map(|p| p.ip());
    // The login penalty of IMAP and POP3 (`mailroom_server::limits`) applies here too,
    // counted with IMAP's (the same credentials): a guesser's address waits, one attempt
    // at a time.
    let limits = &web.ctx.limits;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    if !limits.wait_attempt(ip, deadline).await {
        return login_form(
            &headers,
            Some("Too many failed logins from your address; try again later."),
        );
    }
    let u = user.clone();
    // The directory resolves and checks as for an IMAP LOGIN (aliases, router, schemes).
    let account: Option<AccountInfo> = web
        .ctx
        .dir(move |d| match d.resolve_login(&u, None) {
            Ok(LoginTarget::Local { account, .. }) if d.verify_password(&account, &password) => {
                Some(account)
            }
            _ => None,
        })
        .await;
    limits.wait_answer(ip, &user).await;
    let Some(account) = account else {
        tracing::warn!(module = "ADMIN", login = %user, peer = ?local, "web admin login failed");
        limits.failed(ip, &user, mailroom_server::net::Protocol::Imap);
        return login_form(&headers, Some("Invalid user name or password."));
    };
    limits.succeeded(ip, &user);
    if !account.admin {
        tracing::warn!(module = "ADMIN", account = %account.address(), "web admin login refused: not an administrator");
        return html::error_page(
            StatusCode::FORBIDDEN,
            "Not an administrator",
            "The password is right, but this account has no administrator rights. Only administrators (mailroom account admin NAME) may use the web admin.",
        );
    }
    tracing::info!(module = "ADMIN", account = %account.address(), peer = ?local, "web admin login");
    let (id, _) = web.logins.create(account);
    let mut r = (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, HeaderValue::from_static("/"))],
    )
        .into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &id, None));
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, "", Some(0)));
    r
}

/// `POST /logout` (csrf).
pub async fn logout(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Response {
    let login = match require(&web, &headers).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(r) = check_csrf(&login, &form) {
        return r;
    }
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        web.logins.remove(id);
    }
    let mut r = (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, HeaderValue::from_static("/login"))],
    )
        .into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", Some(0)));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; mailroom_admin=xyz; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn session_cookie_is_strict() {
        let v = set_cookie(SESSION_COOKIE, "t", None);
        let v = v.to_str().unwrap();
        assert!(v.contains("Secure"));
        assert!(v.contains("HttpOnly"));
        assert!(v.contains("SameSite=Strict"));
    }

    #[test]
    fn tokens_compare() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert_eq!(token().len(), 43);
    }
}
