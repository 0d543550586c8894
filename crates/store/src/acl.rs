//! Access control lists (RFC 4314): the [`Rights`] bitset, ACL entries as stored per
//! mailbox, and the pure text forms (rights strings, identifiers, LISTRIGHTS groups).
//!
//! What lives here: data and parsing only. Who gets which rights (owner, administrators,
//! `anyone`, negative entries) is decided by the server (`mailroom_server::access`), and
//! storage is the [`crate::Account`] methods `acl`, `set_acl`, `delete_acl`.
//!
//! RFC 2086 compatibility (RFC 4314 section 2.1.1): we belong to the first group of
//! servers, i.e. the virtual right `c` ("create") is the union of `k` and `x`, and `d`
//! ("delete") is the union of `e` and `t`. Both are accepted on input and expanded; on
//! output (MYRIGHTS, ACL) `c` is added when `k` or `x` is present and `d` when `e` or `t`
//! is, as section 2.1.1 requires. The capability advertised is therefore `RIGHTS=texk`.

use std::fmt;

/// A set of RFC 4314 section 2.1 rights: `l r s w i p k x t e a`.
///
/// Only the eleven real rights are held; the RFC 2086 virtual rights `c` and `d` are
/// expanded when parsed and derived when printed (section 2.1.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rights(u16);

/// The real rights in canonical order (RFC 4314 section 2.1), with their bits.
const LETTERS: [(char, u16); 11] = [
    ('l', 1),
    ('r', 1 << 1),
    ('s', 1 << 2),
    ('w', 1 << 3),
    ('i', 1 << 4),
    ('p', 1 << 5),
    ('k', 1 << 6),
    ('x', 1 << 7),
    ('t', 1 << 8),
    ('e', 1 << 9),
    ('a', 1 << 10),
];

/// A rights string held a letter that is neither an RFC 4314 right nor `c`/`d`
/// (RFC 4314 section 3.1: SETACL answers `BAD` for an invalid rights string).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown right {0:?}")]
pub struct UnknownRight(pub char);

impl Rights {
    /// No rights.
    pub const NONE: Rights = Rights(0);
    /// `l`: lookup, the mailbox is visible to LIST/LSUB.
    pub const LOOKUP: Rights = Rights(1);
    /// `r`: read, SELECT, EXAMINE, STATUS, FETCH, SEARCH, COPY from.
    pub const READ: Rights = Rights(1 << 1);
    /// `s`: keep seen/unseen information across sessions (STORE/APPEND/COPY `\Seen`).
    pub const SEEN: Rights = Rights(1 << 2);
    /// `w`: write flags other than `\Seen` and `\Deleted`.
    pub const WRITE: Rights = Rights(1 << 3);
    /// `i`: insert (APPEND, COPY/MOVE into).
    pub const INSERT: Rights = Rights(1 << 4);
    /// `p`: post (send mail to the submission address of the mailbox; not used by IMAP).
    pub const POST: Rights = Rights(1 << 5);
    /// `k`: create mailboxes (CREATE below it, RENAME into it).
    pub const CREATE: Rights = Rights(1 << 6);
    /// `x`: delete the mailbox itself (DELETE, RENAME from).
    pub const DELETE_MAILBOX: Rights = Rights(1 << 7);
    /// `t`: delete messages (set or clear `\Deleted`; POP3 DELE).
    pub const DELETE_MESSAGES: Rights = Rights(1 << 8);
    /// `e`: perform EXPUNGE (and CLOSE's expunge).
    pub const EXPUNGE: Rights = Rights(1 << 9);
    /// `a`: administer (SETACL, DELETEACL, GETACL, LISTRIGHTS).
    pub const ADMIN: Rights = Rights(1 << 10);
    /// Every right (what an owner has).
    pub const ALL: Rights = Rights((1 << 11) - 1);
    /// The RFC 2086 virtual `c` ("create"): `k` + `x` (section 2.1.1, first group).
    pub const VIRTUAL_C: Rights = Rights((1 << 6) | (1 << 7));
    /// The RFC 2086 virtual `d` ("delete"): `e` + `t` (section 2.1.1, first group).
    pub const VIRTUAL_D: Rights = Rights((1 << 8) | (1 << 9));

    /// The `RIGHTS=` capability (RFC 4314 section 2.1): the rights of section 2.1 that we
    /// implement separately from `c`/`d`, i.e. `t e x k`.
    pub const CAPABILITY: &'static str = "RIGHTS=texk";

    /// Parses a rights string (`lrswipkxtea`, `c` and `d` expanded). A leading `+` or `-`
    /// is not part of the rights (SETACL's modifier): strip it with [`RightsChange::parse`].
    /// The empty string is [`Rights::NONE`].
    pub fn parse(s: &str) -> Result<Rights, UnknownRight> {
        let mut r = Rights::NONE;
        for ch in s.chars() {
            r = r.union(Rights::from_letter(ch).ok_or(UnknownRight(ch))?);
        }
        Ok(r)
    }

    /// The rights one letter stands for (`c` and `d` expand to two rights).
    pub fn from_letter(ch: char) -> Option<Rights> {
        match ch {
            'c' => Some(Rights::VIRTUAL_C),
            'd' => Some(Rights::VIRTUAL_D),
            _ => LETTERS
                .iter()
                .find(|(l, _)| *l == ch)
                .map(|(_, b)| Rights(*b)),
        }
    }

    /// The raw bits (for storage).
    pub fn bits(self) -> u16 {
        self.0
    }

    /// From raw bits (unknown bits dropped).
    pub fn from_bits(bits: u16) -> Rights {
        Rights(bits & Rights::ALL.0)
    }

    /// True when every right of `other` is here.
    pub fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when at least one right of `other` is here.
    pub fn intersects(self, other: Rights) -> bool {
        self.0 & other.0 != 0
    }

    /// Both sets.
    pub fn union(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }

    /// These rights minus `other`.
    pub fn difference(self, other: Rights) -> Rights {
        Rights(self.0 & !other.0)
    }

    /// Rights in both.
    pub fn intersection(self, other: Rights) -> Rights {
        Rights(self.0 & other.0)
    }

    /// True for no rights.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The real rights in canonical order, without the virtual `c`/`d` (`lrswipkxtea`).
    pub fn letters(self) -> String {
        LETTERS
            .iter()
            .filter(|(_, b)| self.0 & b != 0)
            .map(|(l, _)| *l)
            .collect()
    }

    /// The form for MYRIGHTS and ACL responses: [`Rights::letters`] followed by `c` when
    /// `k` or `x` is present and `d` when `e` or `t` is (RFC 4314 section 2.1.1 (*)).
    pub fn to_imap(self) -> String {
        let mut s = self.letters();
        if self.intersects(Rights::VIRTUAL_C) {
            s.push('c');
        }
        if self.intersects(Rights::VIRTUAL_D) {
            s.push('d');
        }
        s
    }
}

impl fmt::Display for Rights {
    /// Same as [`Rights::to_imap`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_imap())
    }
}

impl std::str::FromStr for Rights {
    type Err = UnknownRight;
    fn from_str(s: &str) -> Result<Rights, UnknownRight> {
        Rights::parse(s)
    }
}

/// A SETACL rights argument (RFC 4314 section 3.1): `+rights` adds, `-rights` removes,
/// plain rights replace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RightsChange {
    /// Replace the identifier's rights.
    Replace(Rights),
    /// Add to them (`+`).
    Add(Rights),
    /// Remove from them (`-`).
    Remove(Rights),
}

impl RightsChange {
    /// Parses a SETACL mod-rights argument.
    pub fn parse(s: &str) -> Result<RightsChange, UnknownRight> {
        if let Some(r) = s.strip_prefix('+') {
            Ok(RightsChange::Add(Rights::parse(r)?))
        } else if let Some(r) = s.strip_prefix('-') {
            Ok(RightsChange::Remove(Rights::parse(r)?))
        } else {
            Ok(RightsChange::Replace(Rights::parse(s)?))
        }
    }

    /// The rights after applying the change to `current`.
    pub fn apply(self, current: Rights) -> Rights {
        match self {
            RightsChange::Replace(r) => r,
            RightsChange::Add(r) => current.union(r),
            RightsChange::Remove(r) => current.difference(r),
        }
    }
}

/// One ACL entry of a mailbox (RFC 4314 section 2).
///
/// `identifier` is in canonical form (see [`canonical_identifier`]): `user@domain` (lower
/// case), `anyone`, or either of them prefixed with `-` for negative rights (section 2:
/// "rights ... that are removed from the identifier's rights").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AclEntry {
    /// `user@domain`, `anyone`, `-user@domain` or `-anyone`.
    pub identifier: String,
    /// The rights granted (or, for a negative identifier, denied). Never empty in a
    /// stored entry: setting empty rights removes the entry.
    pub rights: Rights,
}

impl AclEntry {
    /// True for a negative-rights entry (`-identifier`).
    pub fn is_negative(&self) -> bool {
        self.identifier.starts_with('-')
    }

    /// The identifier without the negative `-` prefix.
    pub fn subject(&self) -> &str {
        self.identifier
            .strip_prefix('-')
            .unwrap_or(&self.identifier)
    }
}

/// The identifier `anyone` (RFC 4314 section 2: "the universal identity (all
/// authentications, including anonymous)").
pub const ANYONE: &str = "anyone";

/// Checks an identifier for storage and returns its canonical (lower-case) form:
/// `anyone`, `user@domain`, optionally prefixed with `-`. `user` and `domain` are
/// `[a-z0-9._-]`, non-empty, not starting with a dot (the directory's names). Expanding a
/// bare `user` into `user@domain` is the server's job (it knows the requester's domain).
pub fn canonical_identifier(raw: &str) -> Option<String> {
    let lower = raw.to_ascii_lowercase();
    let (neg, body) = match lower.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, lower.as_str()),
    };
    fn part(s: &str) -> bool {
        !s.is_empty()
            && !s.starts_with('.')
            && s.len() <= 255
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    }
    let ok = body == ANYONE
        || body
            .split_once('@')
            .is_some_and(|(u, d)| part(u) && part(d) && !d.contains('@'));
    ok.then(|| {
        if neg {
            format!("-{body}")
        } else {
            body.to_string()
        }
    })
}

/// The LISTRIGHTS answer's rights (RFC 4314 section 3.7): the rights always granted to
/// the identifier, then the groups that may be granted independently.
///
/// For the mailbox owner everything is always granted (`lrswipkxtea`, plus `c d`) and
/// nothing is optional; for anyone else nothing is granted by default and each right,
/// and the virtual `c` and `d` (not tied to other rights, section 2.1.1 (**)), may be
/// granted alone: `"" l r s w i p k x t e a c d`.
pub fn list_rights(is_owner: bool) -> (Rights, Vec<String>) {
    if is_owner {
        (Rights::ALL, Vec::new())
    } else {
        let mut groups: Vec<String> = LETTERS.iter().map(|(l, _)| l.to_string()).collect();
        groups.push("c".into());
        groups.push("d".into());
        (Rights::NONE, groups)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        let r = Rights::parse("lrswipkxtea").unwrap();
        assert_eq!(r, Rights::ALL);
        assert_eq!(r.letters(), "lrswipkxtea");
        assert_eq!(r.to_imap(), "lrswipkxteacd");
        assert_eq!(Rights::parse("").unwrap(), Rights::NONE);
        assert_eq!(Rights::parse("arl").unwrap().letters(), "lra");
        assert_eq!(Rights::parse("lrq"), Err(UnknownRight('q')));
        assert_eq!(Rights::parse("L"), Err(UnknownRight('L')));
        assert_eq!(Rights::from_bits(Rights::ALL.bits() | 0xf000), Rights::ALL);
    }

    #[test]
    fn rfc2086_virtual_rights() {
        // RFC 4314 2.1.1 examples: "lrswida" expands d to "et".
        let david = Rights::parse("lrswida").unwrap();
        assert_eq!(david.letters(), "lrswitea");
        assert_eq!(david.to_imap(), "lrswitead");
        let byron = Rights::parse("lrswikda").unwrap();
        assert_eq!(byron.to_imap(), "lrswikteacd");
        assert_eq!(Rights::parse("c").unwrap().letters(), "kx");
        assert_eq!(Rights::parse("x").unwrap().to_imap(), "xc");
        assert_eq!(Rights::parse("t").unwrap().to_imap(), "td");
    }

    #[test]
    fn setacl_modifiers() {
        let cur = Rights::parse("lr").unwrap();
        let add = RightsChange::parse("+w").unwrap();
        assert_eq!(add.apply(cur).letters(), "lrw");
        assert_eq!(RightsChange::parse("-r").unwrap().apply(cur).letters(), "l");
        assert_eq!(RightsChange::parse("i").unwrap().apply(cur).letters(), "i");
        assert!(RightsChange::parse("+z").is_err());
    }

    #[test]
    fn identifiers() {
        assert_eq!(canonical_identifier("Anyone").as_deref(), Some("anyone"));
        assert_eq!(canonical_identifier("-anyone").as_deref(), Some("-anyone"));
        assert_eq!(
            canonical_identifier("J.Smith@Client1.COM").as_deref(),
            Some("j.smith@client1.com")
        );
        assert_eq!(
            canonical_identifier("-boss@company.com").as_deref(),
            Some("-boss@company.com")
        );
        for bad in [
            "", "-", "jsmith", "a@b@c", "@d", "u@", "--anyone", "a b@c", ".x@d",
        ] {
            assert_eq!(canonical_identifier(bad), None, "{bad:?}");
        }
        let e = AclEntry {
            identifier: "-anyone".into(),
            rights: Rights::READ,
        };
        assert!(e.is_negative());
        assert_eq!(e.subject(), "anyone");
    }

    #[test]
    fn listrights_groups() {
        let (req, opt) = list_rights(false);
        assert!(req.is_empty());
        assert_eq!(opt.join(" "), "l r s w i p k x t e a c d");
        let (req, opt) = list_rights(true);
        assert_eq!(req, Rights::ALL);
        assert!(opt.is_empty());
    }
}
