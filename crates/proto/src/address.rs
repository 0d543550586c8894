//! The RFC 5321 section 4.1.2 grammar of SMTP/LMTP paths, for `MAIL FROM:` senders.
//!
//! ```text
//! Reverse-path   = Path / "<>"
//! Path           = "<" [ A-d-l ":" ] Mailbox ">"
//! A-d-l          = At-domain *( "," At-domain )
//! At-domain      = "@" Domain
//! Mailbox        = Local-part "@" ( Domain / address-literal )
//! Local-part     = Dot-string / Quoted-string
//! Dot-string     = Atom *("."  Atom)
//! Atom           = 1*atext
//! Quoted-string  = DQUOTE *QcontentSMTP DQUOTE
//! QcontentSMTP   = qtextSMTP / quoted-pairSMTP
//! quoted-pairSMTP = %d92 %d32-126
//! qtextSMTP      = %d32-33 / %d35-91 / %d93-126
//! Domain         = sub-domain *("." sub-domain)
//! sub-domain     = Let-dig [Ldh-str]
//! Ldh-str        = *( ALPHA / DIGIT / "-" ) Let-dig
//! address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
//!                         General-address-literal ) "]"
//! IPv4-address-literal = Snum 3("." Snum)
//! IPv6-address-literal = "IPv6:" IPv6-addr
//! General-address-literal = Standardized-tag ":" 1*dcontent
//! dcontent       = %d33-90 / %d94-126
//! ```
//!
//! RFC 6531 (SMTPUTF8) extends `atext`, `qtextSMTP` and `sub-domain` with non-ASCII
//! UTF-8; we accept that too (the line is already known to be UTF-8). A source route
//! (`A-d-l`) is checked and dropped, as RFC 5321 section 4.1.2 tells receivers to do.
//!
//! Does not live here: the command line around the path (`lmtp.rs`), recipients (local
//! names without a domain are accepted there, RFC 5321's `<Postmaster>` included).

use std::fmt;

/// Longest mailbox accepted, octets (RFC 5321 4.5.3.1.3 says 256 for a whole path; real
/// senders exceed it with SRS and VERP, so the limit is the command line's, kept here so
/// the parser is bounded on its own).
pub const MAX_MAILBOX: usize = 1024;

/// Why a path was refused: a short reason for the reply text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathError(pub &'static str);

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

type R<T> = Result<T, PathError>;

/// Parses a whole `Reverse-path` (angle brackets included). Returns the mailbox without
/// its source route (`""` for the null path `<>`).
pub fn parse_reverse_path(path: &str) -> R<String> {
    if path == "<>" {
        return Ok(String::new());
    }
    let inner = path
        .strip_prefix('<')
        .and_then(|p| p.strip_suffix('>'))
        .ok_or(PathError("a path is enclosed in '<' and '>'"))?;
    let mailbox = match inner.strip_prefix('@') {
        Some(_) => {
            let colon = source_route_end(inner)?;
            &inner[colon + 1..]
        }
        None => inner,
    };
    check_mailbox(mailbox)?;
    Ok(mailbox.to_string())
}

/// Checks `A-d-l ":"` at the start of `s` (which starts with `@`); returns the colon's
/// index.
fn source_route_end(s: &str) -> R<usize> {
    let colon = s.find(':').ok_or(PathError("source route without ':'"))?;
    for at_domain in s[..colon].split(',') {
        let d = at_domain
            .strip_prefix('@')
            .ok_or(PathError("source route: each hop is '@' domain"))?;
        check_domain(d).map_err(|_| PathError("source route: invalid domain"))?;
    }
    Ok(colon)
}

/// Checks `Mailbox = Local-part "@" ( Domain / address-literal )`.
pub fn check_mailbox(m: &str) -> R<()> {
    if m.is_empty() {
        return Err(PathError("empty address"));
    }
    if m.len() > MAX_MAILBOX {
        return Err(PathError("address too long"));
    }
    let b = m.as_bytes();
    let local_end = if b[0] == b'"' {
        quoted_end(b)?
    } else {
        let at = m.rfind('@').ok_or(PathError("address has no '@' domain"))?;
        check_dot_string(&m[..at])?;
        at
    };
    if b.get(local_end) != Some(&b'@') {
        return Err(PathError("address has no '@' domain"));
    }
    let domain = &m[local_end + 1..];
    if domain.starts_with('[') {
        check_address_literal(domain)
    } else {
        check_domain(domain)
    }
}

/// The end (exclusive) of a `Quoted-string` at the start of `b`.
fn quoted_end(b: &[u8]) -> R<usize> {
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'"' => return Ok(i + 1),
            b'\\' => match b.get(i + 1) {
                Some(32..=126) => i += 2,
                _ => return Err(PathError("bad quoted pair in local part")),
            },
            32 | 33 | 35..=91 | 93..=126 | 0x80.. => i += 1,
            _ => return Err(PathError("invalid character in quoted local part")),
        }
    }
    Err(PathError("unterminated quoted local part"))
}

/// RFC 5322 `atext` (plus non-ASCII, RFC 6531).
fn is_atext(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&c) || c >= 0x80
}

/// `Dot-string = Atom *("." Atom)`.
fn check_dot_string(s: &str) -> R<()> {
    if s.is_empty() {
        return Err(PathError("empty local part"));
    }
    for atom in s.split('.') {
        if atom.is_empty() {
            return Err(PathError("empty atom in local part (misplaced '.')"));
        }
        if let Some(&c) = atom.as_bytes().iter().find(|&&c| !is_atext(c)) {
            return Err(match c {
                b' ' => PathError("space in unquoted local part"),
                b'@' => PathError("more than one '@' in address"),
                _ => PathError("invalid character in local part"),
            });
        }
    }
    Ok(())
}

/// `Domain = sub-domain *("." sub-domain)`.
fn check_domain(d: &str) -> R<()> {
    if d.is_empty() {
        return Err(PathError("empty domain"));
    }
    if d.len() > 255 {
        return Err(PathError("domain too long"));
    }
    for label in d.split('.') {
        let b = label.as_bytes();
        let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
            return Err(PathError("empty label in domain"));
        };
        let let_dig = |c: u8| c.is_ascii_alphanumeric() || c >= 0x80;
        if !let_dig(first) || !let_dig(last) || !b.iter().all(|&c| let_dig(c) || c == b'-') {
            return Err(if b.contains(&b'@') {
                PathError("more than one '@' in address")
            } else {
                PathError("invalid domain")
            });
        }
    }
    Ok(())
}

/// `address-literal`: `[1.2.3.4]`, `[IPv6:...]` or `[tag:dcontent]`.
fn check_address_literal(d: &str) -> R<()> {
    let inner = d
        .strip_prefix('[')
        .and_then(|d| d.strip_suffix(']'))
        .ok_or(PathError("unterminated address literal"))?;
    if inner.parse::<std::net::Ipv4Addr>().is_ok() {
        return Ok(());
    }
    if let Some((tag, rest)) = inner.split_once(':') {
        if tag.eq_ignore_ascii_case("IPv6") {
            return rest
                .parse::<std::net::Ipv6Addr>()
                .map(|_| ())
                .map_err(|_| PathError("invalid IPv6 address literal"));
        }
        let tag_ok = !tag.is_empty()
            && tag.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
            && tag.as_bytes().last().is_some_and(u8::is_ascii_alphanumeric);
        let content_ok = !rest.is_empty() && rest.bytes().all(|c| matches!(c, 33..=90 | 94..=126));
        if tag_ok && content_ok {
            return Ok(());
        }
    }
    Err(PathError("invalid address literal"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn valid_paths() {
        for (path, mailbox) in [
            ("<>", ""),
            ("<a@b>", "a@b"),
            ("<s@example.org>", "s@example.org"),
            (
                "<first.last+tag@sub.example-1.org>",
                "first.last+tag@sub.example-1.org",
            ),
            ("<\"a b\"@example.org>", "\"a b\"@example.org"),
            ("<\"a\\\"b@c\"@example.org>", "\"a\\\"b@c\"@example.org"),
            ("<\"\"@example.org>", "\"\"@example.org"),
            ("<u@[192.0.2.1]>", "u@[192.0.2.1]"),
            ("<u@[IPv6:2001:db8::1]>", "u@[IPv6:2001:db8::1]"),
            ("<u@[x-tag:abc]>", "u@[x-tag:abc]"),
            ("<@relay.example,@b.example:u@example.org>", "u@example.org"),
            ("<@relay.example:u@example.org>", "u@example.org"),
            ("<jörg@bücher.example>", "jörg@bücher.example"),
            ("<!#$%&'*+-/=?^_`{|}~@x>", "!#$%&'*+-/=?^_`{|}~@x"),
        ] {
            assert_eq!(parse_reverse_path(path).as_deref(), Ok(mailbox), "{path}");
        }
    }

    #[test]
    fn invalid_paths_say_why() {
        for (path, why) in [
            ("<a b@example.org>", "space in unquoted local part"),
            ("<@@>", "source route without ':'"),
            ("<@@:a@b>", "source route: invalid domain"),
            ("<a@b@c>", "more than one '@' in address"),
            ("<a>", "address has no '@' domain"),
            ("<@example.org>", "source route without ':'"),
            ("<a@>", "empty domain"),
            ("<.a@b>", "empty atom in local part (misplaced '.')"),
            ("<a..b@c>", "empty atom in local part (misplaced '.')"),
            ("<a.@c>", "empty atom in local part (misplaced '.')"),
            ("<a@-b.org>", "invalid domain"),
            ("<a@b-.org>", "invalid domain"),
            ("<a@b..org>", "empty label in domain"),
            ("<a@b_c.org>", "invalid domain"),
            ("<\"a@b>", "unterminated quoted local part"),
            ("<\"a\"b@c>", "address has no '@' domain"),
            ("<\"a\\\x01\"@c>", "bad quoted pair in local part"),
            ("<a@[300.1.1.1]>", "invalid address literal"),
            ("<a@[IPv6:zz]>", "invalid IPv6 address literal"),
            ("<a@[1.2.3.4>", "unterminated address literal"),
            ("<a(b)@c>", "invalid character in local part"),
            ("a@b", "a path is enclosed in '<' and '>'"),
            ("<a@b", "a path is enclosed in '<' and '>'"),
            ("<>>", "address has no '@' domain"),
            ("<@a,b:c@d>", "source route: each hop is '@' domain"),
            ("<>x", "a path is enclosed in '<' and '>'"),
        ] {
            assert_eq!(parse_reverse_path(path), Err(PathError(why)), "{path}");
        }
        let long = format!("<{}@example.org>", "a".repeat(MAX_MAILBOX));
        assert_eq!(
            parse_reverse_path(&long),
            Err(PathError("address too long"))
        );
    }

    fn atom() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,8}"
    }
    fn label() -> impl Strategy<Value = String> {
        "[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?"
    }
    fn domain() -> impl Strategy<Value = String> {
        prop::collection::vec(label(), 1..4).prop_map(|l| l.join("."))
    }
    fn local() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::collection::vec(atom(), 1..4).prop_map(|a| a.join(".")),
            "[ !#-\\[\\]-~]{0,10}".prop_map(|q| format!("\"{q}\"")),
        ]
    }

    proptest! {
        /// Every mailbox built from the grammar is accepted and returned as written.
        #[test]
        fn generated_mailboxes_parse(l in local(), d in domain(), route in prop::collection::vec(domain(), 0..3)) {
            let route: Vec<String> = route.iter().map(|r| format!("@{r}")).collect();
            let prefix = if route.is_empty() { String::new() } else { format!("{}:", route.join(",")) };
            let mailbox = format!("{l}@{d}");
            let path = format!("<{prefix}{mailbox}>");
            prop_assert_eq!(parse_reverse_path(&path), Ok(mailbox));
        }

        /// An accepted path has exactly one '@' outside quotes and brackets past any
        /// source route, and no space or control character outside quotes; arbitrary
        /// input never panics.
        #[test]
        fn arbitrary_input_is_safe(s in "\\PC{0,40}") {
            if let Ok(m) = parse_reverse_path(&s) {
                if !m.is_empty() && !m.starts_with('"') {
                    prop_assert!(!m.contains(' '));
                    let local = &m[..m.rfind('@').unwrap_or(0)];
                    prop_assert!(!local.is_empty() && !local.contains('@'));
                }
            }
        }

        /// A space or second '@' put into an unquoted local part is refused.
        #[test]
        fn broken_local_parts_are_refused(a in atom(), b in atom(), d in domain(), sep in prop_oneof![Just(" "), Just("@"), Just(".."), Just(",")]) {
            let path = format!("<{a}{sep}{b}@{d}>");
            prop_assert!(parse_reverse_path(&path).is_err(), "{}", path);
        }
    }
}
