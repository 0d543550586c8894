//! LIST with LIST-EXTENDED (RFC 3501 6.3.8, RFC 5258, RFC 5819, RFC 6154) and the
//! vendor return items of seed 001.

use super::{Cursor, PResult};
use crate::imap::command::{CommandBody, List, ListReturn, ListSelection, StatusItem};

/// The vendor items answered as `\NAME(value)` LIST attributes (seed 001).
fn vendor_item(w: &str) -> Option<StatusItem> {
    match w {
        "UIDVALIDITY" | "MESSAGES" | "UIDNEXT" | "UNSEEN" | "INTERNALSIZE" | "OLDEST"
        | "UNSEENMEDIA" => StatusItem::from_name(w),
        _ => None,
    }
}

impl Cursor<'_> {
    /// ```text
    /// list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]
    /// list-select-opts = "(" [list-select-option *(SP list-select-option)] ")"
    /// mbox-or-pat = list-mailbox / patterns
    /// patterns = "(" list-mailbox *(SP list-mailbox) ")"
    /// list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")"
    /// return-option = "SUBSCRIBED" / "CHILDREN" / "SPECIAL-USE" / "MYRIGHTS" /
    ///                 "STATUS" SP "(" status-att *(SP status-att) ")" / vendor-item
    /// ```
    /// Vendor items and `CHILDREN` are accepted among the selection options too, as
    /// CommuniGate Pro clients send them (`LIST (CHILDREN UNSEEN) "" "ma%"`).
    pub(crate) fn list(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let mut selection = ListSelection::default();
        let mut returns = ListReturn::default();
        let mut extended = false;
        if self.try_byte(b'(') {
            extended = true;
            if !self.try_byte(b')') {
                loop {
                    let w = self.word("selection option")?;
                    match w.as_str() {
                        "SUBSCRIBED" => selection.subscribed = true,
                        "REMOTE" => selection.remote = true,
                        "RECURSIVEMATCH" => selection.recursive_match = true,
                        "SPECIAL-USE" => selection.special_use = true,
                        "CHILDREN" => returns.children = true,
                        _ => match vendor_item(&w) {
                            Some(i) => push_unique(&mut returns.vendor, i),
                            None => return Err(format!("unknown LIST selection option {w}")),
                        },
                    }
                    if self.try_byte(b')') {
                        break;
                    }
                    self.sp()?;
                }
            }
            if selection.recursive_match && !selection.subscribed && !selection.special_use {
                return Err("RECURSIVEMATCH needs another selection option".to_owned());
            }
            self.sp()?;
        }
        let reference = self.reference_lenient()?;
        self.sp()?;
        let mut patterns = Vec::new();
        if self.try_byte(b'(') {
            extended = true;
            loop {
                patterns.push(self.list_mailbox_lenient()?);
                if self.try_byte(b')') {
                    break;
                }
                self.sp()?;
            }
        } else {
            patterns.push(self.list_mailbox_lenient()?);
        }
        // A reference or pattern that is not valid modified UTF-7 matches no name: no
        // patterns at all (an empty answer, as for any pattern that matches nothing).
        let (reference, patterns) = match (reference, patterns.iter().all(Option::is_some)) {
            (Some(r), true) => (r, patterns.into_iter().flatten().collect()),
            _ => (String::new(), Vec::new()),
        };
        if self.try_byte(b' ') {
            extended = true;
            if !self.eat_keyword("RETURN") {
                return Err(self.unexpected("RETURN"));
            }
            self.sp()?;
            self.expect(b'(')?;
            if !self.try_byte(b')') {
                loop {
                    let w = self.word("return option")?;
                    match w.as_str() {
                        "SUBSCRIBED" => returns.subscribed = true,
                        "CHILDREN" => returns.children = true,
                        "SPECIAL-USE" => returns.special_use = true,
                        // RFC 8440 LIST-MYRIGHTS.
                        "MYRIGHTS" => returns.myrights = true,
                        "STATUS" => {
                            self.sp()?;
                            for i in self.status_items()? {
                                push_unique(&mut returns.status, i);
                            }
                        }
                        _ => match vendor_item(&w) {
                            Some(i) => push_unique(&mut returns.vendor, i),
                            None => return Err(format!("unknown LIST return option {w}")),
                        },
                    }
                    if self.try_byte(b')') {
                        break;
                    }
                    self.sp()?;
                }
            }
        }
        Ok(CommandBody::List(List {
            selection,
            reference,
            patterns,
            returns,
            extended,
        }))
    }
}

fn push_unique(v: &mut Vec<StatusItem>, i: StatusItem) {
    if !v.contains(&i) {
        v.push(i);
    }
}
