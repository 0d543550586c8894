//! Reading another server's Maildir++ tree: folders (`.Name.Sub` directories, names in
//! modified UTF-7), each folder's UIDVALIDITY, UIDNEXT and message UIDs (Dovecot's
//! `dovecot-uidlist`, versions 1 and 3, or Courier's `courierimapuiddb`), flags (the
//! `:2,` info letters), keywords (Dovecot's `dovecot-keywords` letters, Courier's
//! `courierimapkeywords/`), POP3 unique-ids kept by Dovecot (`P` in `dovecot-uidlist`),
//! and subscriptions (Dovecot's `subscriptions`, Courier's `courierimapsubscribed`).
//!
//! Nothing here writes: a source is only read, so an import can be run again.

use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Flag bits as the store has them (`mailroom_store::Flags`).
const SEEN: u8 = 1;
const ANSWERED: u8 = 2;
const FLAGGED: u8 = 4;
const DELETED: u8 = 8;
const DRAFT: u8 = 16;

/// One message of a source folder.
#[derive(Debug)]
pub struct SourceMessage {
    pub uid: u32,
    pub path: PathBuf,
    /// The Maildir base name (before `:`), Dovecot's `%f`.
    pub base: String,
    pub flags: u8,
    pub keywords: Vec<String>,
    /// Modification time: Maildir servers keep the internal date there.
    pub mtime: i64,
    /// A POP3 unique-id the old server kept for the message (Dovecot `P`).
    pub pop3_uidl: Option<String>,
    /// Dovecot's GUID (`G`), for `%g` in a UIDL format.
    pub guid: Option<String>,
}

/// One source folder.
#[derive(Debug)]
pub struct SourceFolder {
    /// Name with `/` as the hierarchy delimiter; `INBOX` for the Maildir root.
    pub name: String,
    /// `None` when the folder has no UID list (its messages are numbered in date order).
    pub uid_validity: Option<u32>,
    pub uid_next: u32,
    /// Ascending by UID.
    pub messages: Vec<SourceMessage>,
}

/// A whole source Maildir.
#[derive(Debug)]
pub struct Source {
    pub folders: Vec<SourceFolder>,
    pub subscriptions: Vec<String>,
}

impl Source {
    pub fn message_count(&self) -> u64 {
        self.folders.iter().map(|f| f.messages.len() as u64).sum()
    }
}

/// Reads the Maildir++ tree at `root` (INBOX is the root itself).
pub fn read(root: &Path) -> Result<Source> {
    if !root.join("cur").is_dir() {
        bail!("{} is not a Maildir (no cur/ directory)", root.display());
    }
    let mut folders = vec![read_folder(root, "INBOX".into())?];
    let mut names = Vec::new();
    for entry in fs::read_dir(root).with_context(|| format!("cannot read {}", root.display()))? {
        let entry = entry?;
        let Some(dir) = entry.file_name().to_str().map(str::to_string) else {
            eprintln!(
                "mailroom: warning: {}: folder name is not UTF-8, skipped",
                entry.path().display()
            );
            continue;
        };
        let Some(raw) = dir.strip_prefix('.') else {
            continue;
        };
        if raw.is_empty() || raw == "." || !entry.path().join("cur").is_dir() {
            continue;
        }
        match folder_name(raw) {
            Some(name) => names.push((name, entry.path())),
            None => eprintln!(
                "mailroom: warning: {}: cannot decode the folder name, skipped",
                entry.path().display()
            ),
        }
    }
    names.sort();
    for (name, path) in names {
        folders.push(read_folder(&path, name)?);
    }
    let subscriptions = read_subscriptions(root, &folders);
    Ok(Source {
        folders,
        subscriptions,
    })
}

/// `Sent.2024` (Maildir++ directory name without the leading dot, modified UTF-7) to
/// `Sent/2024`.
fn folder_name(raw: &str) -> Option<String> {
    let mut parts = Vec::new();
    for p in raw.split('.') {
        if p.is_empty() {
            return None;
        }
        parts.push(mailroom_proto::imap::mutf7::decode(p.as_bytes()).ok()?);
    }
    let name = parts.join("/");
    // A folder named INBOX under the root would clash with the root.
    (!name.eq_ignore_ascii_case("INBOX")).then_some(name)
}

/// What a UID list says.
#[derive(Default)]
struct UidList {
    uid_validity: Option<u32>,
    uid_next: u32,
    /// base name -> (uid, POP3 UIDL, GUID)
    by_base: HashMap<String, (u32, Option<String>, Option<String>)>,
}

fn read_folder(dir: &Path, name: String) -> Result<SourceFolder> {
    let list = match fs::read_to_string(dir.join("dovecot-uidlist")) {
        Ok(text) => {
            dovecot_uidlist(&text).with_context(|| format!("{}/dovecot-uidlist", dir.display()))?
        }
        Err(_) => match fs::read_to_string(dir.join("courierimapuiddb")) {
            Ok(text) => courier_uiddb(&text)
                .with_context(|| format!("{}/courierimapuiddb", dir.display()))?,
            Err(_) => UidList::default(),
        },
    };
    let letters = dovecot_keywords(dir);
    let courier = courier_keywords(dir);
    struct Found {
        path: PathBuf,
        base: String,
        info: String,
        mtime: i64,
    }
    let mut found: Vec<Found> = Vec::new();
    for sub in ["cur", "new"] {
        let d = dir.join(sub);
        let entries = match fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", d.display())),
        };
        for entry in entries {
            let entry = entry?;
            let Some(file) = entry.file_name().to_str().map(str::to_string) else {
                eprintln!(
                    "mailroom: warning: {}: file name is not UTF-8, skipped",
                    entry.path().display()
                );
                continue;
            };
            if file.starts_with('.') {
                continue;
            }
            let meta = match entry.metadata() {
                Ok(m) if m.is_file() => m,
                _ => continue,
            };
            let (base, info) = match file.split_once(':') {
                Some((b, i)) if sub == "cur" => (b.to_string(), i.to_string()),
                Some((b, _)) => (b.to_string(), String::new()),
                None => (file.clone(), String::new()),
            };
            found.push(Found {
                path: entry.path(),
                base,
                info,
                mtime: meta.mtime(),
            });
        }
    }
    // Messages the list knows keep their UIDs; the others (delivered after the old
    // server last looked) follow in date order, as the old server would have numbered
    // them.
    found.sort_by(|a, b| (a.mtime, &a.base).cmp(&(b.mtime, &b.base)));
    let mut next = list
        .by_base
        .values()
        .map(|v| v.0)
        .max()
        .unwrap_or(0)
        .saturating_add(1)
        .max(list.uid_next)
        .max(1);
    let mut messages = Vec::with_capacity(found.len());
    let mut seen_uids = std::collections::HashSet::new();
    for f in found {
        let (uid, pop3_uidl, guid) = match list.by_base.get(&f.base) {
            Some((uid, p, g)) if seen_uids.insert(*uid) => (*uid, p.clone(), g.clone()),
            _ => {
                let uid = next;
                next = next.saturating_add(1);
                seen_uids.insert(uid);
                (uid, None, None)
            }
        };
        let (flags, kw_letters) = info_flags(&f.info);
        let mut keywords: Vec<String> = kw_letters
            .chars()
            .filter_map(|c| letters.get(&c).cloned())
            .collect();
        if let Some(k) = courier.get(&f.base) {
            keywords.extend(k.iter().cloned());
        }
        keywords.sort();
        keywords.dedup();
        messages.push(SourceMessage {
            uid,
            path: f.path,
            base: f.base,
            flags,
            keywords,
            mtime: f.mtime,
            pop3_uidl,
            guid,
        });
    }
    messages.sort_by_key(|m| m.uid);
    Ok(SourceFolder {
        name,
        uid_validity: list.uid_validity,
        uid_next: next.max(list.uid_next),
        messages,
    })
}

/// System flags and keyword letters of a `2,FLAGS` info.
fn info_flags(info: &str) -> (u8, String) {
    let Some(letters) = info.strip_prefix("2,") else {
        return (0, String::new());
    };
    let mut flags = 0;
    let mut kw = String::new();
    for c in letters.chars() {
        match c {
            'S' => flags |= SEEN,
            'R' => flags |= ANSWERED,
            'F' => flags |= FLAGGED,
            'T' => flags |= DELETED,
            'D' => flags |= DRAFT,
            'a'..='z' => kw.push(c),
            _ => {} // `P` (passed) has no IMAP flag
        }
    }
    (flags, kw)
}

/// Dovecot's `dovecot-uidlist`: version 1 (`1 UIDVALIDITY UIDNEXT`, then `UID FILE`) or
/// 3 (`3 V<uidvalidity> N<uidnext> ...`, then `UID [EXT...] :FILE`).
fn dovecot_uidlist(text: &str) -> Result<UidList> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let mut h = header.split_whitespace();
    let version = h.next().unwrap_or_default();
    let mut list = UidList::default();
    match version {
        "1" => {
            list.uid_validity = h.next().and_then(|v| v.parse().ok());
            list.uid_next = h.next().and_then(|v| v.parse().ok()).unwrap_or(1);
        }
        "2" | "3" => {
            for f in h {
                if let Some(v) = f.strip_prefix('V') {
                    list.uid_validity = v.parse().ok();
                } else if let Some(n) = f.strip_prefix('N') {
                    list.uid_next = n.parse().unwrap_or(1);
                }
            }
        }
        other => bail!("unknown dovecot-uidlist version {other:?}"),
    }
    if list.uid_validity.is_none_or(|v| v == 0) {
        bail!("no UIDVALIDITY in the header line {header:?}");
    }
    for (i, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Some((uid, rest)) = line.split_once(' ') else {
            bail!("line {}: no file name", i + 2);
        };
        let uid: u32 = match uid.parse() {
            Ok(u) if u > 0 => u,
            _ => bail!("line {}: bad UID {uid:?}", i + 2),
        };
        let (ext, file) = if version == "1" {
            ("", rest)
        } else {
            match rest.find(':') {
                Some(p) => (&rest[..p], &rest[p + 1..]),
                None => bail!("line {}: no `:FILE`", i + 2),
            }
        };
        let (mut pop3, mut guid) = (None, None);
        for e in ext.split_whitespace() {
            if let Some(p) = e.strip_prefix('P') {
                pop3 = Some(p.to_string());
            } else if let Some(g) = e.strip_prefix('G') {
                guid = Some(g.to_string());
            }
        }
        let base = file.split(':').next().unwrap_or_default().to_string();
        list.by_base.insert(base, (uid, pop3, guid));
    }
    Ok(list)
}

/// Courier's `courierimapuiddb`: `1 UIDVALIDITY UIDNEXT`, then `UID FILE` lines.
fn courier_uiddb(text: &str) -> Result<UidList> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let h: Vec<&str> = header.split_whitespace().collect();
    let mut list = UidList::default();
    match h.as_slice() {
        [_, v, n, ..] => {
            list.uid_validity = v.parse().ok().filter(|&v| v != 0);
            list.uid_next = n.parse().unwrap_or(1);
        }
        _ => bail!("bad header line {header:?}"),
    }
    if list.uid_validity.is_none() {
        bail!("no UIDVALIDITY in the header line {header:?}");
    }
    for (i, line) in lines.enumerate() {
        let Some((uid, file)) = line.trim().split_once(' ') else {
            continue;
        };
        let uid: u32 = match uid.parse() {
            Ok(u) if u > 0 => u,
            _ => bail!("line {}: bad UID {uid:?}", i + 2),
        };
        let base = file.split(':').next().unwrap_or_default().to_string();
        list.by_base.insert(base, (uid, None, None));
    }
    Ok(list)
}

/// `dovecot-keywords`: `N NAME` lines; letter `a` + N.
fn dovecot_keywords(dir: &Path) -> HashMap<char, String> {
    let mut out = HashMap::new();
    let Ok(text) = fs::read_to_string(dir.join("dovecot-keywords")) else {
        return out;
    };
    for line in text.lines() {
        if let Some((n, name)) = line.split_once(' ') {
            if let Ok(n) = n.parse::<u8>() {
                if n < 26 && !name.is_empty() {
                    out.insert((b'a' + n) as char, name.to_string());
                }
            }
        }
    }
    out
}

/// Courier's `courierimapkeywords/`: `:list` (keyword names, a blank line, then
/// `FILE:N N ...` lines) and newer per-message files `.SEQ.FILE` (one keyword a line;
/// the highest SEQ wins).
fn courier_keywords(dir: &Path) -> HashMap<String, Vec<String>> {
    let kdir = dir.join("courierimapkeywords");
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    if let Ok(text) = fs::read_to_string(kdir.join(":list")) {
        let mut lines = text.lines();
        let mut names = Vec::new();
        for l in lines.by_ref() {
            if l.is_empty() {
                break;
            }
            names.push(l.to_string());
        }
        for l in lines {
            if let Some((file, nums)) = l.rsplit_once(':') {
                let base = file.split(':').next().unwrap_or_default().to_string();
                let kws = nums
                    .split_whitespace()
                    .filter_map(|n| n.parse::<usize>().ok())
                    .filter_map(|n| names.get(n).cloned())
                    .collect();
                out.insert(base, kws);
            }
        }
    }
    let mut newer: BTreeMap<(String, u64), Vec<String>> = BTreeMap::new();
    if let Ok(entries) = fs::read_dir(&kdir) {
        for e in entries.flatten() {
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let Some(rest) = name.strip_prefix('.') else {
                continue;
            };
            let Some((seq, file)) = rest.split_once('.') else {
                continue;
            };
            let Ok(seq) = seq.parse::<u64>() else {
                continue;
            };
            if let Ok(text) = fs::read_to_string(e.path()) {
                let base = file.split(':').next().unwrap_or_default().to_string();
                let kws = text
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect();
                newer.insert((base, seq), kws);
            }
        }
    }
    for ((base, _), kws) in newer {
        out.insert(base, kws); // ascending SEQ: the last one stays
    }
    out
}

/// A subscribed name as the file keeps it (modified UTF-7) in UTF-8; kept as it is when
/// it does not decode.
fn mutf7_name(raw: &str) -> String {
    mailroom_proto::imap::mutf7::decode(raw.as_bytes()).unwrap_or_else(|_| raw.to_string())
}

/// The subscribed names: Dovecot's `subscriptions` (version 2: `V\t2`, a blank line,
/// then names with a tab between hierarchy levels; version 1: one name a line) or
/// Courier's `courierimapsubscribed` (`INBOX.Name.Sub`).
fn read_subscriptions(root: &Path, folders: &[SourceFolder]) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(text) = fs::read_to_string(root.join("subscriptions")) {
        let mut lines = text.lines().peekable();
        let v2 = lines.peek().is_some_and(|l| l.starts_with("V\t"));
        if v2 {
            for l in lines.by_ref() {
                if l.is_empty() {
                    break;
                }
            }
        }
        for l in lines {
            if l.is_empty() {
                continue;
            }
            let name = mutf7_name(&if v2 {
                l.replace('\t', "/")
            } else {
                l.to_string()
            });
            // Version 1 names use the namespace's separator, often `.`.
            let dotted = name.replace('.', "/");
            if !folders.iter().any(|f| f.name == name) && folders.iter().any(|f| f.name == dotted) {
                out.push(dotted);
            } else {
                out.push(name);
            }
        }
    }
    if let Ok(text) = fs::read_to_string(root.join("courierimapsubscribed")) {
        for l in text.lines() {
            let l = l.trim();
            if l.is_empty() {
                continue;
            }
            let name = match l.strip_prefix("INBOX.") {
                Some(rest) => mutf7_name(&rest.replace('.', "/")),
                None => l.to_string(),
            };
            out.push(name);
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn uidlists() {
        let l = dovecot_uidlist(
            "3 V1733580000 N7 G3085f01b7f11094c501100008c4a11c1\n\
             1 :1733580001.M1P2.host,S=10,W=12\n\
             5 W1260 P0000000500126d87 GA1 :1733580002.M1P3.host,S=1200:2,S\n",
        )
        .unwrap();
        assert_eq!(l.uid_validity, Some(1733580000));
        assert_eq!(l.uid_next, 7);
        assert_eq!(l.by_base["1733580001.M1P2.host,S=10,W=12"].0, 1);
        let five = &l.by_base["1733580002.M1P3.host,S=1200"];
        assert_eq!((five.0, five.1.as_deref()), (5, Some("0000000500126d87")));
        let v1 = dovecot_uidlist("1 42 3\n1 a.b.c\n2 d.e.f:2,S\n").unwrap();
        assert_eq!((v1.uid_validity, v1.uid_next), (Some(42), 3));
        assert_eq!(v1.by_base["d.e.f"].0, 2);
        assert!(dovecot_uidlist("9 V1 N1\n").is_err());
        assert!(dovecot_uidlist("3 V1 N2\nx :f\n").is_err());
        let c = courier_uiddb("1 1733000000 4\n2 1733.M1.h\n3 1734.M2.h:2,RS\n").unwrap();
        assert_eq!((c.uid_validity, c.uid_next), (Some(1733000000), 4));
        assert_eq!(c.by_base["1734.M2.h"].0, 3);
    }

    #[test]
    fn info_letters() {
        assert_eq!(info_flags("2,DFRSTab"), (31, "ab".to_string()));
        assert_eq!(info_flags("2,P"), (0, String::new()));
        assert_eq!(info_flags("1,x"), (0, String::new()));
    }

    #[test]
    fn folder_names() {
        assert_eq!(folder_name("Sent.2024").as_deref(), Some("Sent/2024"));
        assert_eq!(folder_name("Entw&APw-rfe").as_deref(), Some("Entwürfe"));
        assert_eq!(folder_name("a..b"), None);
        assert_eq!(folder_name("inbox"), None);
    }
}
