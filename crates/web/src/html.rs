//! HTML helpers: escaping, the page frame with the navigation, the error page.

use crate::auth::Login;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Escapes text for HTML content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222}\
header{background:#243447;color:#fff;padding:.5em 1em;display:flex;gap:1em;align-items:center;flex-wrap:wrap}\
header a{color:#cde}header b{margin-right:1em}main{padding:1em 1.5em;max-width:1100px}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}\
th{background:#eef}form.inline{display:inline}form.box{border:1px solid #ddd;padding:.6em;margin:.6em 0;background:#fafafa}\
label{margin-right:.8em}input,select{margin:.1em .3em}.err{color:#a00;font-weight:bold}.ok{color:#070}\
.login{display:flex;flex-direction:column;gap:.5em;max-width:22em}canvas{border:1px solid #ccc;margin:.3em}";

const NAV: [(&str, &str); 11] = [
    ("/", "Overview"),
    ("/sessions", "Sessions"),
    ("/domains", "Domains"),
    ("/accounts", "Accounts"),
    ("/aliases", "Aliases"),
    ("/router", "Router"),
    ("/mailbox-aliases", "Mailbox aliases"),
    ("/alerts", "Alerts"),
    ("/acl", "ACLs"),
    ("/settings", "Settings"),
    ("/graphs", "Graphs"),
];

/// A whole page: the title, the navigation (when logged in) and `body` (already HTML).
pub fn frame(title: &str, login: Option<&Login>, body: &str) -> Html<String> {
    let mut nav = String::new();
    if let Some(l) = login {
        nav.push_str("<b>mailroom</b>");
        for (href, name) in NAV {
            nav.push_str(&format!("<a href=\"{href}\">{name}</a>"));
        }
        nav.push_str(&format!(
            "<span style=\"margin-left:auto\">{}</span>\
             <form method=post action=/logout class=inline><input type=hidden name=csrf value=\"{}\">\
             <button type=submit>Log out</button></form>",
            esc(&l.account.address()),
            esc(&l.csrf)
        ));
    } else {
        nav.push_str("<b>mailroom</b>");
    }
    Html(format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width\">\
         <title>{} - mailroom</title><style>{STYLE}</style></head>\
         <body><header>{nav}</header><main>{body}</main></body></html>",
        esc(title)
    ))
}

/// The error page: a status, a title and an explanation.
pub fn error_page(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<h1 id=error-title>{}</h1><p class=err>{}</p><p><a href=\"/\">Back to the overview</a> \
         or <a href=\"/login\">log in</a>.</p>",
        esc(title),
        esc(text)
    );
    (status, frame(title, None, &body)).into_response()
}

/// The hidden CSRF field of a form.
pub fn csrf(login: &Login) -> String {
    format!(
        "<input type=hidden name=csrf value=\"{}\">",
        esc(&login.csrf)
    )
}

/// The message line after a form was handled (`?ok=` / `?err=`).
pub fn flash(ok: Option<&str>, err: Option<&str>) -> String {
    let mut s = String::new();
    if let Some(m) = ok {
        s.push_str(&format!("<p class=ok id=flash>{}</p>", esc(m)));
    }
    if let Some(m) = err {
        s.push_str(&format!("<p class=err id=flash>{}</p>", esc(m)));
    }
    s
}

/// A one-button form posting `action` with hidden fields.
pub fn button(login: &Login, path: &str, fields: &[(&str, &str)], label: &str) -> String {
    let mut s = format!(
        "<form method=post action=\"{path}\" class=inline>{}",
        csrf(login)
    );
    for (k, v) in fields {
        s.push_str(&format!(
            "<input type=hidden name=\"{}\" value=\"{}\">",
            esc(k),
            esc(v)
        ));
    }
    s.push_str(&format!(
        "<button type=submit>{}</button></form>",
        esc(label)
    ));
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes() {
        assert_eq!(
            super::esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
