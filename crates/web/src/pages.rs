//! The pages and their forms. Every `GET` page needs a logged-in administrator; every
//! `POST` also the session's CSRF token, does one change through the directory, the
//! store, the registry or the settings, and redirects back with a message (`?ok=` or
//! `?err=`): the directory's own error text, never a crash.

use crate::auth::{self, Login};
use crate::html::{self, button, csrf, esc, flash, frame};
use crate::Web;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use mailroom_directory::Secret;
use mailroom_server::config::LogLevel;
use mailroom_server::net::Protocol;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

type Params = Query<HashMap<String, String>>;
type FormIn = Result<Form<HashMap<String, String>>, FormRejection>;

/// `GET /metrics`: the Prometheus text exposition.
pub async fn metrics(State(web): State<Arc<Web>>) -> Response {
    match &web.prometheus {
        Some(p) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            )],
            p.render(),
        )
            .into_response(),
        None => html::error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "No statistics",
            "The statistics recorder is not installed in this process.",
        ),
    }
}

/// Unknown paths.
pub async fn not_found() -> Response {
    html::error_page(
        StatusCode::NOT_FOUND,
        "No such page",
        "There is no page at this address.",
    )
}

/// The administrator of a `GET`, or the response instead.
async fn page(web: &Web, headers: &HeaderMap) -> Result<Login, Response> {
    auth::require(web, headers).await
}

/// The administrator and the fields of a `POST`, CSRF checked.
async fn posted(
    web: &Web,
    headers: &HeaderMap,
    form: FormIn,
) -> Result<(Login, HashMap<String, String>), Response> {
    let login = auth::require(web, headers).await?;
    let Ok(Form(form)) = form else {
        return Err(html::error_page(
            StatusCode::BAD_REQUEST,
            "Bad form",
            "The form data could not be read.",
        ));
    };
    auth::check_csrf(&login, &form)?;
    Ok((login, form))
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            o.push(b as char);
        } else {
            let _ = write!(o, "%{b:02X}");
        }
    }
    o
}

/// Redirects to `path` with the outcome as its message.
fn done(path: &str, r: Result<String, String>) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    let to = match r {
        Ok(m) => format!("{path}{sep}ok={}", enc(&m)),
        Err(m) => format!("{path}{sep}err={}", enc(&m)),
    };
    let loc = HeaderValue::from_str(&to).unwrap_or_else(|_| HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, loc)]).into_response()
}

fn field<'a>(f: &'a HashMap<String, String>, k: &str) -> &'a str {
    f.get(k).map(|s| s.trim()).unwrap_or("")
}

fn flash_of(q: &HashMap<String, String>) -> String {
    flash(
        q.get("ok").map(String::as_str),
        q.get("err").map(String::as_str),
    )
}

fn render(title: &str, login: &Login, body: &str) -> Response {
    frame(title, Some(login), body).into_response()
}

fn human_secs(s: u64) -> String {
    if s < 120 {
        format!("{s}s")
    } else if s < 7200 {
        format!("{}m {}s", s / 60, s % 60)
    } else {
        format!("{}h {}m", s / 3600, (s % 3600) / 60)
    }
}

// ---- overview ---------------------------------------------------------------------

/// `GET /`.
pub async fn overview(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    let login = match page(&web, &headers).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let ctx = &web.ctx;
    let mut b = String::from("<h1>Overview</h1><table><tr><th>Module</th><th>Connections open</th><th>Maximum channels</th><th>Log level</th></tr>");
    let levels = ctx.settings.levels();
    for (p, level) in [
        (Protocol::Imap, levels.imap),
        (Protocol::Pop3, levels.pop3),
        (Protocol::Lmtp, levels.lmtp),
    ] {
        let c = ctx.settings.channels(p);
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            p.tag(),
            c.open(),
            c.max(),
            level.name()
        );
    }
    let _ = write!(
        b,
        "</table><p>Live sessions: <a href=/sessions>{}</a>. Up for {}. Data directory: <code>{}</code>.</p>",
        ctx.registry.len(),
        human_secs(ctx.started.elapsed().as_secs()),
        esc(&ctx.config().server.data_dir.display().to_string())
    );
    render("Overview", &login, &b)
}

// ---- domains ----------------------------------------------------------------------

/// `GET /domains`.
pub async fn domains(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    let login = match page(&web, &headers).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let list = web.ctx.dir(|d| d.list_domains()).await;
    let mut b = format!("<h1>Domains</h1>{}", flash_of(&q));
    match list {
        Ok(list) => {
            b.push_str("<table id=domains><tr><th>Domain</th><th>Accounts</th><th></th></tr>");
            for d in list {
                let rm = if d.main {
                    "main domain".to_string()
                } else {
                    button(
                        &login,
                        "/domains",
                        &[("op", "remove"), ("name", &d.name)],
                        "Remove",
                    )
                };
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td>{}</td><td>{rm}</td></tr>",
                    esc(&d.name),
                    d.accounts
                );
            }
            b.push_str("</table>");
        }
        Err(e) => {
            let _ = write!(b, "<p class=err>{}</p>", esc(&e.to_string()));
        }
    }
    let _ = write!(
        b,
        "<form method=post action=/domains class=box>{}<input type=hidden name=op value=add>\
         <label>Domain <input name=name required></label><button type=submit>Add domain</button></form>",
        csrf(&login)
    );
    render("Domains", &login, &b)
}

/// `POST /domains`: `op` = add | remove, `name`.
pub async fn domains_post(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    form: FormIn,
) -> Response {
    let (_, f) = match posted(&web, &headers, form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let name = field(&f, "name").to_string();
    let op = field(&f, "op").to_string();
    let r = web
        .ctx
        .dir(move |d| match op.as_str() {
            "add" => d.add_domain(&name).map(|_| format!("domain {name} added")),
            "remove" => d
                .remove_domain(&name)
                .map(|_| format!("domain {name} removed")),
            _ => Err(mailroom_directory::DirError::Invalid(
                "unknown operation".into(),
            )),
        })
        .await
        .map_err(|e| e.to_string());
    done("/domains", r)
}

// ---- accounts ---------------------------------------------------------------------

/// `GET /accounts`.
pub async fn accounts(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    let login = match page(&web, &headers).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let list = web
        .ctx
        .dir(|d| {
            d.list_accounts(None).map(|v| {
                v.into_iter()
                    .map(|a| {
                        let q = d.quota_of(&a).unwrap_or_default();
                        (a, q)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .await;
    let mut b = format!("<h1>Accounts</h1>{}", flash_of(&q));
    match list {
        Ok(list) => {
            b.push_str("<table id=accounts><tr><th>Account</th><th>Administrator</th><th>Mail secret</th><th>Quota (storage)</th><th>Quota (messages)</th><th></th></tr>");
            for (a, quota) in list {
                let addr = a.address();
                let storage = quota
                    .storage_kib
                    .map_or("none".to_string(), |k| format!("{k} KiB"));
                let msgs = quota.messages.map_or("none".to_string(), |m| m.to_string());
                let admin = button(
                    &login,
                    "/accounts",
                    &[
                        ("op", "admin"),
                        ("account", &addr),
                        ("admin", if a.admin { "off" } else { "on" }),
                    ],
                    if a.admin {
                        "Revoke admin"
                    } else {
                        "Make admin"
                    },
                );
                let rm = button(
                    &login,
                    "/accounts",
                    &[("op", "remove"), ("account", &addr)],
                    "Remove",
                );
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td>{} {admin}</td><td>{}</td><td>{storage}</td><td>{msgs}</td><td>{rm}</td></tr>",
                    esc(&addr),
                    if a.admin { "yes" } else { "no" },
                    if a.has_mail_secret { "set" } else { "-" },
                );
            }
            b.push_str("</table>");
        }
        Err(e) => {
            let _ = write!(b, "<p class=err>{}</p>", esc(&e.to_string()));
        }
    }
    let c = csrf(&login);
    let _ = write!(
        b,
        "<form method=post action=/accounts class=box id=add-account>{c}<input type=hidden name=op value=add>\
         <b>Add</b> <label>Name <input name=account id=new-account placeholder=\"name or name@domain\" required></label>\
         <label>Password <input name=password id=new-password type=password required></label>\
         <label><input type=checkbox name=admin value=on> administrator</label>\
         <button type=submit id=add-account-button>Add account</button></form>\
         <form method=post action=/accounts class=box>{c}<input type=hidden name=op value=password>\
         <b>Password</b> <label>Account <input name=account required></label>\
         <label>New password <input name=password type=password required></label>\
         <button type=submit>Set password</button></form>\
         <form method=post action=/accounts class=box>{c}<input type=hidden name=op value=secret>\
         <b>Mail secret</b> (APOP, CRAM-MD5) <label>Account <input name=account required></label>\
         <label>Secret <input name=secret type=password></label>\
         <label><input type=checkbox name=clear value=on> clear</label>\
         <button type=submit>Set mail secret</button></form>\
         <form method=post action=/accounts class=box>{c}<input type=hidden name=op value=quota>\
         <b>Quota</b> <label>Account <input name=account required></label>\
         <label>Storage <input name=storage placeholder=\"100M, 2G or none\" required></label>\
         <label>Messages <input name=messages placeholder=\"number or none\" value=none></label>\
         <button type=submit>Set quota</button></form>"
    );
    render("Accounts", &login, &b)
}

/// A quota size: `none`, bytes, or a number with `K`, `M`, `G`, `T`; in KiB, rounded up.
fn parse_size(raw: &str) -> Result<Option<u64>, String> {
    let s = raw.trim().to_ascii_uppercase();
    if s == "NONE" || s == "UNLIMITED" || s.is_empty() {
        return Ok(None);
    }
    let t = s
        .strip_suffix("IB")
        .or_else(|| s.strip_suffix('B'))
        .unwrap_or(&s);
    let (digits, mult): (&str, u64) = match t.chars().last() {
        Some('K') => (&t[..t.len() - 1], 1 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        Some('T') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("invalid size {raw:?}: use bytes, 500K, 100M, 2G or none"))?;
    let bytes = n
        .checked_mul(mult)
        .ok_or_else(|| format!("size {raw:?} is too large"))?;
    Ok(Some(bytes.div_ceil(1024)))
}

fn parse_count(raw: &str) -> Result<Option<u64>, String> {
    let s = raw.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| format!("invalid message count {raw:?}: a number or none"))
}

/// `POST /accounts`: `op` = add | password | secret | quota | admin | remove.
pub async fn accounts_post(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    form: FormIn,
) -> Response {
    let (login, f) = match posted(&web, &headers, form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let account = field(&f, "account").to_string();
    let op = field(&f, "op").to_string();
    let ctx = web.ctx.clone();
    let r: Result<String, String> = match op.as_str() {
        "add" => {
            let pw = Secret::new(f.get("password").cloned().unwrap_or_default());
            let admin = field(&f, "admin") == "on";
            if pw.is_empty() {
                Err("the password must not be empty".into())
            } else {
                let a = account.clone();
                let added = ctx
                    .dir(move |d| {
                        let info = d.add_account(&a, &pw)?;
                        if admin {
                            d.set_admin(&info.address(), true)?;
                        }
                        Ok::<_, mailroom_directory::DirError>(info)
                    })
                    .await;
                match added {
                    Ok(info) => {
                        // The mail store with its default mailboxes, as `account add`.
                        let (dom, name) = info.store_key();
                        if let Some(key) = mailroom_store::AccountKey::new(&dom, &name) {
                            match ctx.store.open_account(&key).await {
                                Ok(acc) => {
                                    if let Err(e) = acc
                                        .ensure_mailboxes(mailroom_server::imap::DEFAULT_MAILBOXES)
                                        .await
                                    {
                                        tracing::warn!(error = %e, "cannot make the default mailboxes");
                                    }
                                }
                                Err(e) => tracing::warn!(error = %e, "cannot make the mail store"),
                            }
                        }
                        Ok(format!("account {} added", info.address()))
                    }
                    Err(e) => Err(e.to_string()),
                }
            }
        }
        "password" => {
            let pw = Secret::new(f.get("password").cloned().unwrap_or_default());
            if pw.is_empty() {
                Err("the password must not be empty".into())
            } else {
                let a = account.clone();
                ctx.dir(move |d| d.set_password(&a, &pw))
                    .await
                    .map(|_| format!("password of {account} changed"))
                    .map_err(|e| e.to_string())
            }
        }
        "secret" => {
            let clear = field(&f, "clear") == "on";
            let secret = Secret::new(f.get("secret").cloned().unwrap_or_default());
            if !clear && secret.is_empty() {
                Err("give a secret, or tick clear".into())
            } else {
                let a = account.clone();
                ctx.dir(move |d| d.set_mail_secret(&a, (!clear).then_some(&secret)))
                    .await
                    .map(|_| {
                        if clear {
                            format!("mail secret of {account} cleared")
                        } else {
                            format!("mail secret of {account} set")
                        }
                    })
                    .map_err(|e| e.to_string())
            }
        }
        "quota" => match (
            parse_size(field(&f, "storage")),
            parse_count(field(&f, "messages")),
        ) {
            (Ok(s), Ok(m)) => {
                let a = account.clone();
                ctx.dir(move |d| d.set_quota(&a, s, m))
                    .await
                    .map(|_| format!("quota of {account} set"))
                    .map_err(|e| e.to_string())
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
        "admin" => {
            let on = field(&f, "admin") == "on";
            let a = account.clone();
            if !on && same_account(&login, &account) {
                Err("you cannot revoke your own administrator rights here".into())
            } else {
                ctx.dir(move |d| d.set_admin(&a, on))
                    .await
                    .map(|_| {
                        format!(
                            "{account} {}",
                            if on {
                                "is an administrator"
                            } else {
                                "is no administrator any more"
                            }
                        )
                    })
                    .map_err(|e| e.to_string())
            }
        }
        "remove" => {
            if same_account(&login, &account) {
                Err("you cannot remove your own account here".into())
            } else {
                let a = account.clone();
                match ctx.dir(move |d| d.remove_account(&a)).await {
                    Ok(info) => {
                        let (dom, name) = info.store_key();
                        let mut msg = format!("account {} removed", info.address());
                        if let Some(key) = mailroom_store::AccountKey::new(&dom, &name) {
                            if let Err(e) = ctx.store.remove_account(&key).await {
                                msg.push_str(&format!(" (its mail store was kept: {e})"));
                            }
                        }
                        Ok(msg)
                    }
                    Err(e) => Err(e.to_string()),
                }
            }
        }
        _ => Err("unknown operation".into()),
    };
    done("/accounts", r)
}

fn same_account(login: &Login, name: &str) -> bool {
    let a = &login.account;
    name.eq_ignore_ascii_case(&a.address())
        || (name.eq_ignore_ascii_case(&a.name) && !name.contains('@'))
}

// ---- aliases and router -----------------------------------------------------------

/// `GET /aliases`.
pub async fn aliases(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    let login = match page(&web, &headers).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let list = web.ctx.dir(|d| d.list_aliases()).await;
    let mut b = format!("<h1>Aliases</h1>{}", flash_of(&q));
    match list {
        Ok(list) => {
            b.push_str("<table id=aliases><tr><th>Address</th><th>Target</th><th></th></tr>");
            for (addr, target) in list {
                let rm = button(
                    &login,
                    "/aliases",
                    &[("op", "remove"), ("address", &addr)],
                    "Remove",
                );
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td>{}</td><td>{rm}</td></tr>",
                    esc(&addr),
                    esc(&target)
                );
            }
            b.push_str("</table>");
        }
        Err(e) => {
            let _ = write!(b, "<p class=err>{}</p>", esc(&e.to_string()));
        }
    }
    let _ = write!(
        b,
        "<form method=post action=/aliases class=box>{}<input type=hidden name=op value=add>\
         <label>Address <input name=address required></label><label>Target <input name=target required></label>\
         <button type=submit>Add alias</button></form>",
        csrf(&login)
    );
    render("Aliases", &login, &b)
}

/// `POST /aliases`: `op` = add (address, target) | remove (address).
pub async fn aliases_post(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    form: FormIn,
) -> Response {
    let (_, f) = match posted(&web, &headers, form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (op, address, target) = (
        field(&f, "op").to_string(),
        field(&f, "address").to_string(),
        field(&f, "target").to_string(),
    );
    let r = web
        .ctx
        .dir(move |d| match op.as_str() {
            "add" => d
                .add_alias(&address, &target)
                .map(|a| format!("alias {a} added")),
            "remove" => d
                .remove_alias(&address)
                .map(|a| format!("alias {a} removed")),
            _ => Err(mailroom_directory::DirError::Invalid(
                "unknown operation".into(),
            )),
        })
        .await
        .map_err(|e| e.to_string());
    done("/aliases", r)
}

/// `GET /router`.
pub async fn router_page(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    let login = match page(&web, &headers).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let list = web.ctx.dir(|d| d.list_router()).await;
    let mut b = format!("<h1>Router</h1>{}", flash_of(&q));
    match list {
        Ok(list) => {
            b.push_str("<table id=router><tr><th>Entry</th><th></th></tr>");
            for e in list {
                let rm = button(
                    &login,
                    "/router",
                    &[("op", "remove"), ("line", &e.line)],
                    "Remove",
                );
                let _ = write!(
                    b,
                    "<tr><td><code>{}</code></td><td>{rm}</td></tr>",
                    esc(&e.line)
                );
            }
            b.push_str("</table>");
        }
        Err(e) => {
            let _ = write!(b, "<p class=err>{}</p>", esc(&e.to_string()));
        }
    }
    let _ = write!(
        b,
        "<form method=post action=/router class=box>{}<input type=hidden name=op value=add>\
         <label>Entry <input name=line size=40 placeholder=\"client1.com = cl1.local\" required></label>\
         <button type=submit>Add entry</button></form>",
        csrf(&login)
    );
    render("Router", &login, &b)
}

/// `POST /router`: `op` = add | remove, `line`.
pub async fn router_post(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    form: FormIn,
) -> Response {
    let (_, f) = match posted(&web, &headers, form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (op, line) = (field(&f, "op").to_string(), field(&f, "line").to_string());
    let r = web
        .ctx
        .dir(move |d| match op.as_str() {
            "add" => d
                .add_router(&line)
                .map(|e| format!("router entry {} added", e.line)),
            "remove" => d
                .remove_router(&line)
                .map(|e| format!("router entry {} removed", e.line)),
            _ => Err(mailroom_directory::DirError::Invalid(
                "unknown operation".into(),
            )),
        })
        .await
        .map_err(|e| e.to_string());
    done("/router", r)
}

// ---- mailbox aliases --------------------------------------------------------------

/// `GET /mailbox-aliases?account=`.
pub async fn mailbox_aliases(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    let login = match page(&web, &headers).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let account = q.get("account").cloned().unwrap_or_default();
    let mut b = format!(
        "<h1>Mailbox aliases</h1>{}<form method=get action=/mailbox-aliases>\
         <label>Account <input name=account value=\"{}\"></label><button type=submit>Show</button></form>",
        flash_of(&q),
        esc(&account)
    );
    if !account.is_empty() {
        let a = account.clone();
        match web.ctx.dir(move |d| d.list_mailbox_aliases(&a)).await {
            Ok(list) => {
                b.push_str(
                    "<table id=mailbox-aliases><tr><th>Name</th><th>Target</th><th></th></tr>",
                );
                for m in list {
                    let rm = button(
                        &login,
                        "/mailbox-aliases",
                        &[("op", "remove"), ("account", &account), ("name", &m.name)],
                        "Remove",
                    );
                    let _ = write!(
                        b,
                        "<tr><td>{}</td><td>{}</td><td>{rm}</td></tr>",
                        esc(&m.name),
                        esc(&m.target)
                    );
                }
                b.push_str("</table>");
            }
            Err(e) => {
                let _ = write!(b, "<p class=err>{}</p>", esc(&e.to_string()));
            }
        }
    }
    let _ = write!(
        b,
        "<form method=post action=/mailbox-aliases class=box>{}<input type=hidden name=op value=add>\
         <label>Account <input name=account value=\"{}\" required></label>\
         <label>Name <input name=name placeholder=boss-inbox required></label>\
         <label>Target <input name=target placeholder=\"~boss/INBOX\" required></label>\
         <button type=submit>Add mailbox alias</button></form>",
        csrf(&login),
        esc(&account)
    );
    render("Mailbox aliases", &login, &b)
}

/// `POST /mailbox-aliases`: `op` = add (account, name, target) | remove (account, name).
pub async fn mailbox_aliases_post(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    form: FormIn,
) -> Response {
    let (_, f) = match posted(&web, &headers, form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (op, account, name, target) = (
        field(&f, "op").to_string(),
        field(&f, "account").to_string(),
        field(&f, "name").to_string(),
        field(&f, "target").to_string(),
    );
    let back = format!("/mailbox-aliases?account={}", enc(&account));
    let r = web
        .ctx
        .dir(move |d| match op.as_str() {
            "add" => d
                .add_mailbox_alias(&account, &name, &target)
                .map(|a| format!("{} -> {} added", a.name, a.target)),
            "remove" => d
                .remove_mailbox_alias(&account, &name)
                .map(|_| format!("mailbox alias {name} removed")),
            _ => Err(mailroom_directory::DirError::Invalid(
                "unknown operation".into(),
            )),
        })
        .await
        .map_err(|e| e.to_string());
    done(&back, r)
}

// ---- alerts -----------------------------------------------------------------------

/// `GET /alerts`: pending alerts of every account, and the form to post one.
pub async fn alerts(State(web): State<Arc<Web>>, headers: HeaderMap, Query(q): Params) -> Response {
    let login = match page(&web, &headers).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let pending = web
        .ctx
        .dir(|d| {
            let mut out = Vec::new();
            for a in d.list_accounts(None)? {
                for (id, text) in d.list_alerts(&a)? {
                    out.push((a.address(), id, text));
                }
            }
            Ok::<_, mailroom_directory::DirError>(out)
        })
        .await;
    let mut b = format!("<h1>Alerts</h1>{}", flash_of(&q));
    let _ = write!(
        b,
        "<form method=post action=/alerts class=box id=post-alert>{}<input type=hidden name=op value=add>\
         <label>Account <input name=account id=alert-account placeholder=\"name, or * for every account\" required></label>\
         <label>Text <input name=text id=alert-text size=50 required></label>\
         <button type=submit id=post-alert-button>Post alert</button></form>\
         <p>An alert is shown once, at the account's next login (IMAP <code>* OK [ALERT]</code>, POP3 <code>-ERR ALERT:</code>), and to its open IMAP sessions now.</p>",
        csrf(&login)
    );
    match pending {
        Ok(list) => {
            b.push_str("<h2>Pending</h2><table id=alerts><tr><th>Id</th><th>Account</th><th>Text</th><th></th></tr>");
            for (addr, id, text) in list {
                let rm = button(
                    &login,
                    "/alerts",
                    &[("op", "remove"), ("id", &id.to_string())],
                    "Remove",
                );
                let _ = write!(
                    b,
                    "<tr><td>{id}</td><td>{}</td><td>{}</td><td>{rm}</td></tr>",
                    esc(&addr),
                    esc(&text)
                );
            }
            b.push_str("</table>");
        }
        Err(e) => {
            let _ = write!(b, "<p class=err>{}</p>", esc(&e.to_string()));
        }
    }
    render("Alerts", &login, &b)
}

/// `POST /alerts`: `op` = add (account or `*`, text) | remove (id).
pub async fn alerts_post(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    form: FormIn,
) -> Response {
    let (_, f) = match posted(&web, &headers, form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let op = field(&f, "op").to_string();
    let account = field(&f, "account").to_string();
    let text = field(&f, "text").to_string();
    let id = field(&f, "id").to_string();
    let r = match op.as_str() {
        "add" if text.is_empty() => Err("the alert text must not be empty".to_string()),
        "add" => web
            .ctx
            .dir(move |d| {
                if account == "*" {
                    let all = d.list_accounts(None)?;
                    for a in &all {
                        d.add_alert(&a.address(), &text)?;
                    }
                    Ok(format!("alert posted to {} account(s)", all.len()))
                } else {
                    let idn = d.add_alert(&account, &text)?;
                    Ok(format!(
                        "alert {idn} posted to {}",
                        d.account(&account)?.address()
                    ))
                }
            })
            .await
            .map_err(|e: mailroom_directory::DirError| e.to_string()),
        "remove" => match id.parse::<i64>() {
            Ok(n) => web
                .ctx
                .dir(move |d| d.remove_alert(n))
                .await
                .map(|_| format!("alert {n} removed"))
                .map_err(|e| e.to_string()),
            Err(_) => Err(format!("invalid alert id {id:?}")),
        },
        _ => Err("unknown operation".into()),
    };
    if r.is_ok() {
        // The same nudge as `mailroom alert add` over the admin socket: sessions re-read.
        web.ctx.alerts_changed();
    }
    done("/alerts", r)
}

// ---- ACLs -------------------------------------------------------------------------

/// `GET /acl?account=&mailbox=`: an account's mailboxes, and the ACL of one.
pub async fn acl(State(web): State<Arc<Web>>, headers: HeaderMap, Query(q): Params) -> Response {
    let login = match page(&web, &headers).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let account = q.get("account").cloned().unwrap_or_default();
    let mailbox = q.get("mailbox").cloned().unwrap_or_default();
    let mut b = format!(
        "<h1>ACLs</h1>{}<form method=get action=/acl><label>Account <input name=account value=\"{}\" required></label>\
         <button type=submit>Show mailboxes</button></form>",
        flash_of(&q),
        esc(&account)
    );
    if account.is_empty() {
        return render("ACLs", &login, &b);
    }
    let a = account.clone();
    let info = match web.ctx.dir(move |d| d.account(&a)).await {
        Ok(i) => i,
        Err(e) => {
            let _ = write!(b, "<p class=err>{}</p>", esc(&e.to_string()));
            return render("ACLs", &login, &b);
        }
    };
    let address = info.address();
    let (dom, name) = info.store_key();
    let boxes = match mailroom_store::AccountKey::new(&dom, &name) {
        Some(key) => match web.ctx.store.open_account(&key).await {
            Ok(acc) => acc.list_mailboxes().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        None => Err("invalid account name".into()),
    };
    match boxes {
        Ok(list) => {
            b.push_str("<p>Mailboxes: ");
            for m in list {
                let _ = write!(
                    b,
                    "<a href=\"/acl?account={}&mailbox={}\">{}</a> ",
                    enc(&address),
                    enc(&m.name),
                    esc(&m.name)
                );
            }
            b.push_str("</p>");
        }
        Err(e) => {
            let _ = write!(b, "<p class=err>{}</p>", esc(&e));
        }
    }
    if !mailbox.is_empty() {
        let full = format!("~{address}/{mailbox}");
        let _ = write!(b, "<h2>{}</h2>", esc(&full));
        match mailroom_server::access::get_acl(&web.ctx, &login.account, &full).await {
            Ok(entries) => {
                b.push_str("<table id=acl><tr><th>Identifier</th><th>Rights</th><th></th></tr>");
                for e in entries {
                    let rm = if e.identifier == address {
                        "owner".to_string()
                    } else {
                        button(
                            &login,
                            "/acl",
                            &[
                                ("op", "delete"),
                                ("account", &address),
                                ("mailbox", &mailbox),
                                ("identifier", &e.identifier),
                            ],
                            "Remove",
                        )
                    };
                    let _ = write!(
                        b,
                        "<tr><td>{}</td><td><code>{}</code></td><td>{rm}</td></tr>",
                        esc(&e.identifier),
                        esc(&e.rights.to_string())
                    );
                }
                b.push_str("</table>");
            }
            Err(e) => {
                let _ = write!(b, "<p class=err>{}</p>", esc(&e.to_string()));
            }
        }
        let _ = write!(
            b,
            "<form method=post action=/acl class=box>{}<input type=hidden name=op value=set>\
             <input type=hidden name=account value=\"{}\"><input type=hidden name=mailbox value=\"{}\">\
             <label>Identifier <input name=identifier placeholder=\"user@domain, anyone, -user\" required></label>\
             <label>Rights <input name=rights placeholder=\"lrs, +w, -d\" required></label>\
             <button type=submit>Set rights</button></form>\
             <p>Rights (RFC 4314): l lookup, r read, s seen, w write, i insert, p post, k create, x delete mailbox, t delete messages, e expunge, a administer.</p>",
            csrf(&login),
            esc(&address),
            esc(&mailbox)
        );
    }
    render("ACLs", &login, &b)
}

/// `POST /acl`: `op` = set (identifier, rights: `lrs`, `+w`, `-d`) | delete (identifier).
pub async fn acl_post(State(web): State<Arc<Web>>, headers: HeaderMap, form: FormIn) -> Response {
    let (login, f) = match posted(&web, &headers, form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (account, mailbox) = (field(&f, "account"), field(&f, "mailbox"));
    let back = format!("/acl?account={}&mailbox={}", enc(account), enc(mailbox));
    let full = format!("~{account}/{mailbox}");
    let identifier = field(&f, "identifier");
    let r = match field(&f, "op") {
        "set" => match mailroom_store::RightsChange::parse(field(&f, "rights")) {
            Ok(change) => mailroom_server::access::set_acl(
                &web.ctx,
                &login.account,
                &full,
                identifier,
                change,
            )
            .await
            .map(|r| format!("{identifier} now has \"{r}\""))
            .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        "delete" => {
            mailroom_server::access::delete_acl(&web.ctx, &login.account, &full, identifier)
                .await
                .map(|_| format!("rights of {identifier} removed"))
                .map_err(|e| e.to_string())
        }
        _ => Err("unknown operation".into()),
    };
    done(&back, r)
}

// ---- the session monitor ----------------------------------------------------------

fn session_rows(web: &Web) -> Vec<serde_json::Value> {
    web.ctx
        .registry
        .list()
        .into_iter()
        .map(|s| {
            serde_json::json!({
                "id": s.id,
                "session": s.label,
                "peer": s.peer.map_or("stdio".to_string(), |p| p.to_string()),
                "account": s.account,
                "state": s.state,
                "connected_secs": s.connected_for.as_secs(),
                "command": s.command.map(|(c, _)| c),
                "command_ms": s.command.map(|(_, d)| d.as_millis() as u64),
            })
        })
        .collect()
}

/// `GET /sessions.json`: the live sessions (the monitor's refresh).
pub async fn sessions_json(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    if let Err(r) = page(&web, &headers).await {
        return r;
    }
    axum::Json(session_rows(&web)).into_response()
}

const MONITOR_JS: &str = r#"
const csrf = document.getElementById('sessions').dataset.csrf;
function fmt(s){ return s < 120 ? s + 's' : Math.floor(s/60) + 'm ' + (s%60) + 's'; }
function cell(tr, text){ const td = document.createElement('td'); td.textContent = text; tr.appendChild(td); }
async function refresh(){
  let rows;
  try { const r = await fetch('/sessions.json', {credentials:'same-origin'}); if (!r.ok) return; rows = await r.json(); }
  catch (e) { return; }
  const body = document.getElementById('session-rows');
  body.replaceChildren();
  for (const s of rows) {
    const tr = document.createElement('tr'); tr.dataset.session = s.session;
    cell(tr, s.session); cell(tr, s.peer); cell(tr, s.account || '-'); cell(tr, s.state);
    cell(tr, fmt(s.connected_secs));
    cell(tr, s.command ? s.command + ' (' + (s.command_ms/1000).toFixed(3) + 's)' : '-');
    const td = document.createElement('td'); const b = document.createElement('button');
    b.textContent = 'Close'; b.className = 'close'; b.onclick = () => closeSession(s.id);
    td.appendChild(b); tr.appendChild(td); body.appendChild(tr);
  }
  document.getElementById('count').textContent = rows.length;
}
async function closeSession(id){
  await fetch('/sessions', {method:'POST', credentials:'same-origin',
    headers:{'Content-Type':'application/x-www-form-urlencoded'},
    body: new URLSearchParams({csrf, id, op:'close', js:'1'})});
  refresh();
}
refresh(); setInterval(refresh, 1000);
"#;

/// `GET /sessions`: the live session monitor (seed 001), refreshing every second.
pub async fn sessions(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    let login = match page(&web, &headers).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let mut b = format!(
        "<h1>Sessions (<span id=count>{}</span>)</h1>{}\
         <table id=sessions data-csrf=\"{}\"><thead><tr><th>Session</th><th>Peer</th><th>Account</th><th>State</th>\
         <th>Connected for</th><th>Command (running for)</th><th></th></tr></thead><tbody id=session-rows>",
        web.ctx.registry.len(),
        flash_of(&q),
        esc(&login.csrf)
    );
    for s in web.ctx.registry.list() {
        let cmd = s.command.map_or("-".to_string(), |(c, d)| {
            format!("{c} ({}.{:03}s)", d.as_secs(), d.subsec_millis())
        });
        let close = button(
            &login,
            "/sessions",
            &[("op", "close"), ("id", &s.id.to_string())],
            "Close",
        );
        let _ = write!(
            b,
            "<tr data-session=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{close}</td></tr>",
            esc(&s.label),
            esc(&s.label),
            s.peer.map_or("stdio".to_string(), |p| p.to_string()),
            esc(s.account.as_deref().unwrap_or("-")),
            esc(s.state),
            human_secs(s.connected_for.as_secs()),
            esc(&cmd)
        );
    }
    let _ = write!(b, "</tbody></table><script>{MONITOR_JS}</script>");
    render("Sessions", &login, &b)
}

/// `POST /sessions`: `op` = close, `id`.
pub async fn sessions_post(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    form: FormIn,
) -> Response {
    let (login, f) = match posted(&web, &headers, form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let r = match (field(&f, "op"), field(&f, "id").parse::<u64>()) {
        ("close", Ok(id)) => {
            if web.ctx.registry.close(id) {
                tracing::info!(module = "ADMIN", session = id, admin = %login.account.address(), "session closed by an administrator");
                Ok(format!("session {id} is closing"))
            } else {
                Err(format!("no session {id} (it ended already)"))
            }
        }
        _ => Err("invalid request".into()),
    };
    if field(&f, "js") == "1" {
        let status = if r.is_ok() {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        return (status, r.unwrap_or_else(|e| e)).into_response();
    }
    done("/sessions", r)
}

// ---- settings ---------------------------------------------------------------------

/// `GET /settings`: log level and maximum channels per module (P11, I14).
pub async fn settings(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Params,
) -> Response {
    let login = match page(&web, &headers).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let s = &web.ctx.settings;
    let levels = s.levels();
    let mut b = format!(
        "<h1>Settings</h1>{}<p>Changes apply at once and are kept in <code>{}</code> \
         (they override the configuration file's values). <code>RUST_LOG</code>, when set, overrides the log levels.</p>\
         <table id=settings><tr><th>Module</th><th>Log level</th><th>Maximum channels</th><th>Open now</th><th></th></tr>",
        flash_of(&q),
        esc(&s.path().display().to_string())
    );
    let rows: [(&str, LogLevel, Option<Protocol>); 4] = [
        ("server", levels.log, None),
        ("imap", levels.imap, Some(Protocol::Imap)),
        ("pop3", levels.pop3, Some(Protocol::Pop3)),
        ("lmtp", levels.lmtp, Some(Protocol::Lmtp)),
    ];
    for (name, level, p) in rows {
        // One form per row; its fields name it (`form=`), as a form cannot wrap a row.
        let mut select = format!("<select name=level id=level-{name} form=settings-{name}>");
        for l in LogLevel::ALL {
            let _ = write!(
                select,
                "<option{}>{}</option>",
                if l == level { " selected" } else { "" },
                l.name()
            );
        }
        select.push_str("</select>");
        let (max, open) = match p {
            Some(p) => {
                let c = s.channels(p);
                (
                    format!(
                        "<input name=max id=max-{name} form=settings-{name} type=number min=1 value={}>",
                        c.max()
                    ),
                    c.open().to_string(),
                )
            }
            None => ("-".into(), "-".into()),
        };
        let _ = write!(
            b,
            "<tr><td>{name}</td><td>{select}</td><td>{max}</td><td>{open}</td>\
             <td><form method=post action=/settings id=settings-{name}>{}\
             <input type=hidden name=module value={name}>\
             <button type=submit id=save-{name}>Save</button></form></td></tr>",
            csrf(&login)
        );
    }
    b.push_str("</table>");
    render("Settings", &login, &b)
}

/// `POST /settings`: `module` (server, imap, pop3, lmtp), `level`, `max`.
pub async fn settings_post(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    form: FormIn,
) -> Response {
    let (_, f) = match posted(&web, &headers, form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let module = match field(&f, "module") {
        "server" => None,
        "imap" => Some(Protocol::Imap),
        "pop3" => Some(Protocol::Pop3),
        "lmtp" => Some(Protocol::Lmtp),
        other => return done("/settings", Err(format!("unknown module {other:?}"))),
    };
    let Some(level) = LogLevel::from_name(field(&f, "level")) else {
        return done("/settings", Err("unknown log level".into()));
    };
    let s = &web.ctx.settings;
    let mut r = s.set_log_level(module, level).map_err(|e| e.to_string());
    if let (Ok(()), Some(p)) = (&r, module) {
        r = match field(&f, "max").parse::<usize>() {
            Ok(n) => s.set_max_channels(p, n).map_err(|e| e.to_string()),
            Err(_) => Err("the maximum number of channels must be a number of at least 1".into()),
        };
    }
    let name = module.map_or("server", |p| p.tag());
    done("/settings", r.map(|()| format!("settings of {name} saved")))
}

// ---- graphs -----------------------------------------------------------------------

const GRAPHS_JS: &str = r#"
const N = 120, series = {}, last = {};
const charts = [
  ['connections', 'Connections open', t => sum(t, 'mailroom_connections_open'), false],
  ['commands', 'Commands per second', t => sum(t, 'mailroom_commands_total'), true],
  ['logins', 'Logins per second', t => sum(t, 'mailroom_logins_total'), true],
  ['bytes_in', 'Octets received per second', t => sum(t, 'mailroom_received_bytes_total'), true],
  ['bytes_out', 'Octets sent per second', t => sum(t, 'mailroom_sent_bytes_total'), true],
  ['deliveries', 'LMTP deliveries per second', t => sum(t, 'mailroom_lmtp_deliveries_total'), true],
  ['stored', 'Messages stored per second', t => sum(t, 'mailroom_messages_stored_total'), true],
  ['latency', 'Mean command latency (ms)', t => [sum(t, 'mailroom_command_duration_seconds_sum'), sum(t, 'mailroom_command_duration_seconds_count')], 'mean'],
  ['commit', 'Mean store commit latency (ms)', t => [sum(t, 'mailroom_store_commit_duration_seconds_sum'), sum(t, 'mailroom_store_commit_duration_seconds_count')], 'mean'],
  ['refused', 'Connections refused per second (channel limit)', t => sum(t, 'mailroom_connections_refused_total'), true],
];
function sum(text, name){
  let s = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = line.match(/^([a-z_]+)(\{[^}]*\})?\s+(\S+)/);
    if (m && m[1] === name) s += parseFloat(m[3]) || 0;
  }
  return s;
}
function draw(id, title, data){
  const c = document.getElementById(id), g = c.getContext('2d');
  g.clearRect(0, 0, c.width, c.height);
  const max = Math.max(1e-9, ...data);
  g.fillStyle = '#222'; g.font = '12px sans-serif';
  g.fillText(title + ': ' + (data.length ? data[data.length-1].toFixed(2) : '-') + ' (max ' + max.toFixed(2) + ')', 6, 14);
  g.strokeStyle = '#2a6'; g.beginPath();
  data.forEach((v, i) => { const x = i * c.width / (N-1), y = c.height - 4 - (v/max) * (c.height - 24);
    i ? g.lineTo(x, y) : g.moveTo(x, y); });
  g.stroke();
}
async function tick(){
  let text;
  try { const r = await fetch('/metrics'); if (!r.ok) return; text = await r.text(); } catch (e) { return; }
  const now = Date.now() / 1000;
  for (const [id, title, f, rate] of charts) {
    const v = f(text), p = last[id];
    let y = v;
    if (rate === 'mean') {
      // Over the last interval: the change of the sum over the change of the count.
      y = p && v[1] > p[0][1] ? 1000 * (v[0] - p[0][0]) / (v[1] - p[0][1]) : 0;
    } else if (rate) {
      y = p ? Math.max(0, (v - p[0]) / (now - p[1])) : 0;
    }
    last[id] = [v, now];
    (series[id] = series[id] || []).push(y);
    if (series[id].length > N) series[id].shift();
    draw(id, title, series[id]);
  }
}
tick(); setInterval(tick, 2000);
"#;

/// `GET /graphs`: the statistics of `/metrics` drawn over the last four minutes.
pub async fn graphs(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    let login = match page(&web, &headers).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let mut b = String::from(
        "<h1>Graphs</h1><p>Sampled from <a href=/metrics>/metrics</a> every 2 seconds (Prometheus text format; scrape it for history).</p><div id=graphs>",
    );
    for id in [
        "connections",
        "commands",
        "logins",
        "bytes_in",
        "bytes_out",
        "deliveries",
        "stored",
        "latency",
        "commit",
        "refused",
    ] {
        let _ = write!(b, "<canvas id={id} width=500 height=140></canvas>");
    }
    let _ = write!(b, "</div><script>{GRAPHS_JS}</script>");
    render("Graphs", &login, &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_counts() {
        assert_eq!(parse_size("none"), Ok(None));
        assert_eq!(parse_size("1M"), Ok(Some(1024)));
        assert_eq!(parse_size("1500"), Ok(Some(2)));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999999T").is_err());
        assert_eq!(parse_count("12"), Ok(Some(12)));
        assert!(parse_count("-1").is_err());
    }

    #[test]
    fn messages_are_encoded() {
        assert_eq!(enc("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
