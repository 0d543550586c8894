//! Mailbox names and keywords, checked and normalised the way the Maildir backend does,
//! so both backends accept and refuse the same names (the conformance suite checks it).

use mailroom_store::StoreError;

/// The hierarchy delimiter of mailbox names.
pub const DELIMITER: char = '/';

/// Longest mailbox name accepted, in octets.
const MAX_NAME: usize = 1024;

/// Longest hierarchy level, in octets (the Maildir backend's limit, a directory name).
const MAX_LEVEL: usize = 255;

/// Checks a mailbox name and returns it normalised (`INBOX` spelt upper case when it is
/// the first level). Refuses empty levels, `.`/`..`, NUL and control characters, and
/// levels longer than 255 octets.
pub fn normalize(name: &str) -> Result<String, StoreError> {
    let bad = |why: &str| Err(StoreError::Invalid(format!("bad mailbox name: {why}")));
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_NAME {
        return bad("too long");
    }
    let mut out = Vec::new();
    for (i, level) in name.split(DELIMITER).enumerate() {
        if level.is_empty() {
            return bad("empty hierarchy level");
        }
        if level == "." || level == ".." {
            return bad("`.` or `..` level");
        }
        if level.chars().any(char::is_control) {
            return bad("control character");
        }
        if level.len() > MAX_LEVEL {
            return bad("level too long");
        }
        if i == 0 && level.eq_ignore_ascii_case("INBOX") {
            out.push("INBOX");
        } else {
            out.push(level);
        }
    }
    Ok(out.join("/"))
}

/// True for INBOX (the name must be normalised).
pub fn is_inbox(name: &str) -> bool {
    name == "INBOX"
}

/// The parents of a normalised name, outermost first (`a/b/c` → `a`, `a/b`).
pub fn parents(name: &str) -> Vec<String> {
    let levels: Vec<&str> = name.split(DELIMITER).collect();
    (1..levels.len()).map(|i| levels[..i].join("/")).collect()
}

/// Sorts keywords and drops duplicates (compared case-insensitively, first spelling kept)
/// and anything that is not a valid IMAP atom (RFC 3501 `flag-keyword`), as the Maildir
/// backend does.
pub fn normalize_keywords(k: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for kw in k {
        let valid = !kw.is_empty()
            && kw.len() <= 128
            && kw
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b))
            && !kw.starts_with('\\');
        if valid && !out.iter().any(|o| o.eq_ignore_ascii_case(kw)) {
            out.push(kw.clone());
        }
    }
    out.sort();
    out
}

/// A POP3 unique-id as RFC 1939 section 7 allows: 1 to 70 characters in 0x21..=0x7E.
pub fn valid_uidl(s: &str) -> bool {
    (1..=70).contains(&s.len()) && s.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(normalize("inbox/Sub").ok().as_deref(), Some("INBOX/Sub"));
        assert_eq!(normalize("a/inbox").ok().as_deref(), Some("a/inbox"));
        for bad in [
            "",
            "/",
            "a//b",
            "a/",
            "..",
            "a/./b",
            "a\0b",
            &"x".repeat(300),
        ] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parents("a/b/c"), vec!["a".to_string(), "a/b".to_string()]);
        assert!(parents("a").is_empty());
    }

    #[test]
    fn keywords() {
        let k = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            normalize_keywords(&k(&["work", "Work", "$Label1", "bad word", "\\Seen", ""])),
            k(&["$Label1", "work"])
        );
        assert!(valid_uidl("x9") && !valid_uidl("has space") && !valid_uidl(""));
    }
}
