//! STORE and UID STORE (RFC 3501 6.4.6, RFC 7162 UNCHANGEDSINCE).

use super::{Cursor, PResult};
use crate::imap::command::{CommandBody, StoreMode};

impl Cursor<'_> {
    /// ```text
    /// store = "STORE" SP sequence-set [store-modifiers] SP store-att-flags
    /// store-modifiers = SP "(" "UNCHANGEDSINCE" SP mod-sequence-valzer ")"
    /// store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))
    /// ```
    pub(crate) fn store(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let set = self.sequence_set()?;
        self.sp()?;
        let mut unchanged_since = None;
        if self.try_byte(b'(') {
            loop {
                if !self.eat_keyword("UNCHANGEDSINCE") {
                    return Err(self.unexpected("UNCHANGEDSINCE"));
                }
                if unchanged_since.is_some() {
                    return Err("duplicate UNCHANGEDSINCE".to_owned());
                }
                self.sp()?;
                unchanged_since = Some(self.number64()?);
                if self.try_byte(b')') {
                    break;
                }
                self.sp()?;
            }
            self.sp()?;
        }
        let mode = if self.try_byte(b'+') {
            StoreMode::Add
        } else if self.try_byte(b'-') {
            StoreMode::Remove
        } else {
            StoreMode::Replace
        };
        let item = self.word("FLAGS")?;
        let silent = match item.as_str() {
            "FLAGS" => false,
            "FLAGS.SILENT" => true,
            _ => return Err(format!("unknown STORE item {item}")),
        };
        self.sp()?;
        let flags = if self.peek() == Some(b'(') {
            self.flag_list()?
        } else {
            let mut v = vec![self.flag()?];
            while self.try_byte(b' ') {
                v.push(self.flag()?);
            }
            v
        };
        Ok(CommandBody::Store {
            uid,
            set,
            mode,
            silent,
            flags,
            unchanged_since,
        })
    }
}
