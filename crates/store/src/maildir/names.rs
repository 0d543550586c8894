//! Names on disk: mailbox names to Maildir directories and back, and message file names
//! (`<base>,U=<uid>,S=<size>:2,<flags>`).
//!
//! INBOX is the Maildir root; every other mailbox is one directory per hierarchy level
//! (`lists/info` → `Maildir/lists/info/`). A name component is percent-encoded where it
//! could collide with Maildir's own names (`cur`, `new`, `tmp`), hide (leading `.`), or
//! be unsafe on a file system (`%`, control characters, `/`, `\`).

use crate::{Flags, StoreError, Uid};
use std::path::{Path, PathBuf};

/// The hierarchy delimiter of mailbox names.
pub const DELIMITER: char = '/';

/// Longest mailbox name accepted, in octets.
const MAX_NAME: usize = 1024;

/// Checks a mailbox name and returns it normalised (`INBOX` spelt upper case when it is
/// the first component). Refuses empty components, `.`/`..`, NUL and control characters.
pub fn normalize(name: &str) -> Result<String, StoreError> {
    let bad = |why: &str| Err(StoreError::Invalid(format!("bad mailbox name: {why}")));
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_NAME {
        return bad("too long");
    }
    let mut out = Vec::new();
    for (i, comp) in name.split(DELIMITER).enumerate() {
        if comp.is_empty() {
            return bad("empty hierarchy level");
        }
        if comp == "." || comp == ".." {
            return bad("`.` or `..` level");
        }
        if comp.chars().any(|c| c.is_control()) {
            return bad("control character");
        }
        if encode_component(comp).len() > 255 {
            return bad("level too long");
        }
        if i == 0 && comp.eq_ignore_ascii_case("INBOX") {
            out.push("INBOX");
        } else {
            out.push(comp);
        }
    }
    Ok(out.join("/"))
}

/// True for INBOX (the name must be normalised).
pub fn is_inbox(name: &str) -> bool {
    name == "INBOX"
}

/// Percent-encodes one name component for use as a directory name.
pub fn encode_component(comp: &str) -> String {
    let mut out = String::with_capacity(comp.len());
    let reserved = matches!(comp, "cur" | "new" | "tmp");
    for (i, c) in comp.chars().enumerate() {
        let escape = c == '%'
            || c == '\\'
            || c == '/'
            || c.is_control()
            || (i == 0 && (c == '.' || reserved));
        if escape {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Decodes a directory name made by [`encode_component`]; `None` if it is not one.
pub fn decode_component(enc: &str) -> Option<String> {
    let bytes = enc.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = enc.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The directory of a (normalised) mailbox under the account's `Maildir/`.
pub fn mailbox_dir(maildir: &Path, name: &str) -> PathBuf {
    if is_inbox(name) {
        return maildir.to_path_buf();
    }
    let mut p = maildir.to_path_buf();
    for comp in name.split(DELIMITER) {
        p.push(encode_component(comp));
    }
    p
}

/// A message file name, split into its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileName {
    /// Everything before `:2,` (or the whole name): the stable identity of the file.
    pub base: String,
    /// The `,U=` UID, if present.
    pub uid: Option<Uid>,
    /// The `,S=` size, if present.
    pub size: Option<u64>,
    /// System flags from the info letters.
    pub flags: Flags,
    /// Lower-case keyword letters from the info (a-z), in order.
    pub keyword_letters: String,
}

impl FileName {
    /// Parses a Maildir file name. `None` for names that are not messages (dot files).
    pub fn parse(name: &str) -> Option<FileName> {
        if name.starts_with('.') || name.is_empty() {
            return None;
        }
        let (base, info) = match name.split_once(":2,") {
            Some((b, i)) => (b, i),
            None => (name.split_once(':').map(|(b, _)| b).unwrap_or(name), ""),
        };
        let mut uid = None;
        let mut size = None;
        for field in base.split(',').skip(1) {
            if let Some(v) = field.strip_prefix("U=") {
                uid = v.parse::<Uid>().ok().filter(|&u| u != 0);
            } else if let Some(v) = field.strip_prefix("S=") {
                size = v.parse().ok();
            }
        }
        let mut flags = Flags::EMPTY;
        let mut keyword_letters = String::new();
        for c in info.chars() {
            match c {
                'D' => flags = flags.union(Flags::DRAFT),
                'F' => flags = flags.union(Flags::FLAGGED),
                'R' => flags = flags.union(Flags::ANSWERED),
                'S' => flags = flags.union(Flags::SEEN),
                'T' => flags = flags.union(Flags::DELETED),
                'a'..='z' if !keyword_letters.contains(c) => keyword_letters.push(c),
                _ => {}
            }
        }
        Some(FileName {
            base: base.to_string(),
            uid,
            size,
            flags,
            keyword_letters,
        })
    }

    /// The full file name for the given flags and keyword letters.
    pub fn render(base: &str, flags: Flags, keyword_letters: &str) -> String {
        let mut letters: Vec<char> = flag_letters(flags).chars().collect();
        letters.extend(keyword_letters.chars());
        letters.sort_unstable();
        letters.dedup();
        let info: String = letters.into_iter().collect();
        format!("{base}:2,{info}")
    }
}

/// Replaces (or adds) the `,U=` field of a base name.
pub fn base_with_uid(base: &str, uid: Uid) -> String {
    let kept: Vec<&str> = base
        .split(',')
        .enumerate()
        .filter(|(i, f)| *i == 0 || !f.starts_with("U="))
        .map(|(_, f)| f)
        .collect();
    let mut out = kept[0].to_string();
    out.push_str(&format!(",U={uid}"));
    for f in &kept[1..] {
        out.push(',');
        out.push_str(f);
    }
    out
}

/// The Maildir info letters of the system flags (`:2,` suffix), in ASCII order as the
/// spec requires.
fn flag_letters(flags: Flags) -> String {
    [
        (Flags::DRAFT, 'D'),
        (Flags::FLAGGED, 'F'),
        (Flags::ANSWERED, 'R'),
        (Flags::SEEN, 'S'),
        (Flags::DELETED, 'T'),
    ]
    .into_iter()
    .filter(|(f, _)| flags.contains(*f))
    .map(|(_, c)| c)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise_and_refuse() {
        assert_eq!(normalize("inbox").ok().as_deref(), Some("INBOX"));
        assert_eq!(normalize("Inbox/x").ok().as_deref(), Some("INBOX/x"));
        assert_eq!(normalize("a/b").ok().as_deref(), Some("a/b"));
        for bad in ["", "a//b", "/a", "a/", "..", "a/../b", "a\0b", "a\nb"] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn components_round_trip() {
        for c in [
            "cur",
            "new",
            "tmp",
            ".hidden",
            "100%",
            "a\\b",
            "Entwürfe",
            "curly",
            "x.y",
        ] {
            let e = encode_component(c);
            assert!(!matches!(e.as_str(), "cur" | "new" | "tmp"));
            assert!(!e.starts_with('.'));
            assert_eq!(decode_component(&e).as_deref(), Some(c));
        }
        assert_eq!(encode_component("curly"), "curly");
    }

    #[test]
    fn file_names() {
        let f = FileName::parse("123.M4P5Q6.host,U=42,S=100:2,FSa").expect("parses");
        assert_eq!(f.base, "123.M4P5Q6.host,U=42,S=100");
        assert_eq!(f.uid, Some(42));
        assert_eq!(f.size, Some(100));
        assert_eq!(f.flags, Flags::FLAGGED.union(Flags::SEEN));
        assert_eq!(f.keyword_letters, "a");
        assert_eq!(
            FileName::render(&f.base, f.flags, "a"),
            "123.M4P5Q6.host,U=42,S=100:2,FSa"
        );
        assert_eq!(base_with_uid("1.x.host,S=5", 7), "1.x.host,U=7,S=5");
        assert_eq!(base_with_uid("1.x.host,U=3,S=5", 7), "1.x.host,U=7,S=5");
        assert!(FileName::parse(".dotfile").is_none());
    }
}
