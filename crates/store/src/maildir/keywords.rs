//! Keywords as Maildir letters: the per-mailbox `dovecot-keywords` file (Dovecot's
//! format, one `<index> <keyword>` per line) maps up to 26 keywords onto the info letters
//! `a`–`z`, so keywords live in the file names and survive an index rebuild, and Dovecot
//! or other tools reading the same Maildir see them. Keywords beyond the 26th are kept in
//! the index only.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Name of the keyword file in a mailbox directory.
pub const FILE: &str = "dovecot-keywords";
const SLOTS: usize = 26;

/// The keyword ↔ letter table of one mailbox.
pub struct KeywordFile {
    path: PathBuf,
    slots: Vec<Option<String>>,
    dirty: bool,
}

impl KeywordFile {
    /// Reads the table of the mailbox in `dir` (empty if missing; bad lines ignored).
    pub fn load(dir: &Path) -> KeywordFile {
        let path = dir.join(FILE);
        let mut slots = vec![None; SLOTS];
        if let Ok(text) = fs::read_to_string(&path) {
            for line in text.lines() {
                let Some((idx, name)) = line.split_once(' ') else {
                    continue;
                };
                if let Ok(i) = idx.parse::<usize>() {
                    if i < SLOTS && !name.is_empty() {
                        slots[i] = Some(name.to_string());
                    }
                }
            }
        }
        KeywordFile {
            path,
            slots,
            dirty: false,
        }
    }

    /// The letter of a keyword, if it has one.
    pub fn letter_of(&self, keyword: &str) -> Option<char> {
        self.slots
            .iter()
            .position(|s| {
                s.as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(keyword))
            })
            .map(letter)
    }

    /// The keyword of a letter, if the letter is defined.
    pub fn name_of(&self, c: char) -> Option<&str> {
        let i = (c as usize).checked_sub('a' as usize)?;
        self.slots.get(i)?.as_deref()
    }

    /// The letters of the given keywords, giving free letters to keywords without one.
    pub fn assign(&mut self, keywords: &[String]) -> String {
        let mut out = String::new();
        for k in keywords {
            let c = match self.letter_of(k) {
                Some(c) => Some(c),
                None => self.slots.iter().position(Option::is_none).map(|i| {
                    self.slots[i] = Some(k.clone());
                    self.dirty = true;
                    letter(i)
                }),
            };
            if let Some(c) = c {
                out.push(c);
            }
        }
        sorted(out)
    }

    /// The letters of the given keywords that already have one.
    pub fn letters(&self, keywords: &[String]) -> String {
        sorted(keywords.iter().filter_map(|k| self.letter_of(k)).collect())
    }

    /// Letters of a file name split into (defined letters, letters with no keyword).
    pub fn split_letters(&self, letters: &str) -> (String, String) {
        letters.chars().partition(|&c| self.name_of(c).is_some())
    }

    /// Writes the table if it changed (tmp + fsync + rename), before any file name uses
    /// a new letter.
    pub fn save(&mut self) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let tmp = self
            .path
            .with_file_name(format!(".{FILE}.{}", std::process::id()));
        {
            let mut f = File::create(&tmp)?;
            for (i, s) in self.slots.iter().enumerate() {
                if let Some(name) = s {
                    writeln!(f, "{i} {name}")?;
                }
            }
            f.sync_all()?;
        }
        fs::rename(&tmp, &self.path)?;
        self.dirty = false;
        Ok(())
    }
}

fn letter(i: usize) -> char {
    (b'a' + i as u8) as char
}

fn sorted(s: String) -> String {
    let mut v: Vec<char> = s.chars().collect();
    v.sort_unstable();
    v.dedup();
    v.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assign_save_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut kf = KeywordFile::load(dir.path());
        assert_eq!(kf.assign(&["$Label1".into(), "work".into()]), "ab");
        assert_eq!(kf.assign(&["WORK".into()]), "b");
        kf.save().expect("save");
        assert_eq!(
            fs::read_to_string(dir.path().join(FILE)).ok().as_deref(),
            Some("0 $Label1\n1 work\n")
        );
        let kf = KeywordFile::load(dir.path());
        assert_eq!(kf.name_of('b'), Some("work"));
        assert_eq!(kf.split_letters("abz"), ("ab".to_string(), "z".to_string()));
        let mut full = KeywordFile::load(dir.path());
        let many: Vec<String> = (0..30).map(|i| format!("k{i}")).collect();
        assert_eq!(
            full.assign(&many).len(),
            24,
            "two letters were taken already"
        );
    }
}
