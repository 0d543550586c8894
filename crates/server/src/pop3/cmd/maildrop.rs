//! The maildrop of a logged-in session and the commands on it: STAT, LIST, UIDL, DELE,
//! RSET (RFC 1939 section 5) and QUIT with the UPDATE state (section 6).
//!
//! Message numbers are fixed for the session: they index the snapshot taken at login.
//! DELE only marks; QUIT commits the marks with a forced expunge of their UIDs, which
//! ignores UIDs another session already expunged (P12).
//!
//! Domain-wide accounts (P9, seed 000): a login that reached the account through a domain
//! mapping (`abcdef@client1.com` with `client1.com = cl1.local`) sees only the messages
//! whose *first* `X-Real-To` field (the name is `server.real_to_header`) equals its local
//! part, compared case-insensitively; messages without one are hidden. The filter is
//! applied once, to the snapshot, so STAT, LIST, UIDL, RETR, TOP, DELE and QUIT only ever
//! reach the messages shown. The field is read from the header block kept in the index
//! ([`Account::structure`]), never from the message file. Delivery (LMTP, `deliver`)
//! writes the field at the top of the message, before the sender's header, so the first
//! occurrence is the one we wrote; a sender-supplied `X-Real-To` further down is ignored.

//!
//! Other mailboxes (P8, seed 000): a login `mailbox#account` opens that mailbox through
//! the access core ([`access::check`] with [`Op::PopOpen`], `r`); the snapshot keeps the
//! account's rights on it. RETR sets `\Seen` only with `s`; DELE needs `t` and `e` (the
//! mark becomes an expunge at QUIT) and fails with [`access::POP3_NO_PERMISSION`]
//! otherwise, so QUIT only ever removes messages whose deletion was allowed; QUIT checks
//! the rights again (an owner may have revoked them meanwhile) and deletes nothing if
//! they are gone. A domain-wide login with `#` (`private#abcdef@client1.com`) filters
//! that mailbox by `X-Real-To` like the INBOX (P9).

use super::uidl::UidlFormat;
use crate::access::{self, AccessError, NameError, Op};
use crate::pop3::{Next, Session, State};
use crate::Ctx;
use mailroom_directory::AccountInfo;
use mailroom_store::acl::Rights;
use mailroom_store::{Account, AccountKey, MailboxId, StoreError, Uid};
use std::sync::Arc;

/// Why the maildrop of a login could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The mailbox of a `mailbox#account` login does not exist or may not be read (one
    /// answer for both: [`access::POP3_NO_SUCH_MAILBOX`]).
    #[error("no such mailbox")]
    NoSuchMailbox,
    /// The mailbox part cannot be resolved (the client's mistake).
    #[error(transparent)]
    Name(NameError),
    /// The store or the directory failed.
    #[error("{0}")]
    Failed(String),
}

impl From<StoreError> for OpenError {
    fn from(e: StoreError) -> OpenError {
        OpenError::Failed(e.to_string())
    }
}

impl From<AccessError> for OpenError {
    fn from(e: AccessError) -> OpenError {
        match e {
            AccessError::NoSuchMailbox | AccessError::NoPermission => OpenError::NoSuchMailbox,
            AccessError::BadIdentifier => OpenError::NoSuchMailbox,
            AccessError::Name(n) => OpenError::Name(n),
            AccessError::Store(e) => OpenError::Failed(e.to_string()),
            AccessError::Directory(e) => OpenError::Failed(e.to_string()),
        }
    }
}

/// One message of the snapshot.
#[derive(Clone, Copy, Debug)]
pub struct Msg {
    pub uid: Uid,
    pub deleted: bool,
    /// `\Seen` as of the snapshot or set by this session's RETR: RETR of a message
    /// already seen changes nothing in the store (clients that leave mail on the server
    /// download it again and again).
    pub seen: bool,
    pub size: u64,
}

/// The maildrop as seen by one session.
pub struct Maildrop {
    /// The logged-in account (XTND XMIT sends as it).
    pub owner: AccountInfo,
    pub account: Arc<dyn Account>,
    pub mailbox: MailboxId,
    pub uid_validity: u32,
    pub msgs: Vec<Msg>,
    pub uidl: UidlFormat,
    /// Unique-ids kept from the server the mail was imported from (ascending by UID),
    /// shown instead of `uidl`'s (`mailroom import`).
    pub kept_uidls: Vec<(u32, String)>,
    /// The logged-in account's rights on the mailbox (every right on its own mailboxes).
    pub rights: Rights,
    /// The mailbox as named in the login (`None`: the account's INBOX).
    pub name: Option<String>,
}

impl Maildrop {
    /// Opens the account's INBOX, or with `mailbox` (P8) that mailbox as resolved by the
    /// access core for `who`, and takes the snapshot from the index (no message is read:
    /// sizes come from the index). With `real_to`, only the messages whose first
    /// `X-Real-To` field equals it are in the snapshot (P9).
    pub async fn open(
        ctx: &Ctx,
        who: &AccountInfo,
        real_to: Option<&str>,
        mailbox: Option<&str>,
    ) -> Result<Maildrop, OpenError> {
        let (account, inbox, rights) = match mailbox {
            None => {
                let (d, n) = who.store_key();
                let key = AccountKey::new(&d, &n)
                    .ok_or_else(|| StoreError::Invalid("invalid account name".into()))?;
                let account = ctx.store.open_account(&key).await?;
                let inbox = account.mailbox("INBOX").await?;
                (account, inbox, Rights::ALL)
            }
            Some(name) => {
                let o = access::check(ctx, who, name, Op::PopOpen).await?;
                (o.account, o.mailbox, o.rights)
            }
        };
        account.sync(inbox.id).await?;
        let snap = account.messages(inbox.id).await?;
        let mut msgs = Vec::with_capacity(snap.messages.len());
        let header_name = &ctx.config().server.real_to_header;
        for m in snap.messages.iter() {
            // Seed 001 (I12): `$Service` messages are not part of any POP3 maildrop.
            if !crate::service::shown(&m) {
                continue;
            }
            if let Some(local) = real_to {
                let st = match account.structure(inbox.id, m.uid).await {
                    Ok(st) => st,
                    // Expunged by another session meanwhile: not part of the snapshot.
                    Err(StoreError::NotFound(_)) => continue,
                    Err(e) => return Err(e.into()),
                };
                let shown = first_field(&st.header, header_name)
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case(local.trim()));
                if !shown {
                    continue;
                }
            }
            msgs.push(Msg {
                uid: m.uid,
                deleted: false,
                seen: m.flags.contains(mailroom_store::Flags::SEEN),
                size: m.size,
            });
        }
        let kept_uidls = account.pop3_uidls(inbox.id).await?;
        Ok(Maildrop {
            owner: who.clone(),
            account,
            mailbox: inbox.id,
            uid_validity: snap.uid_validity,
            msgs,
            uidl: UidlFormat::parse(&ctx.config().pop3.uidl_format),
            kept_uidls,
            rights,
            name: mailbox.map(str::to_string),
        })
    }

    /// Whether DELE is allowed: `t` to mark and `e` for the expunge at QUIT.
    pub fn may_delete(&self) -> bool {
        access::allows(self.rights, Op::PopDele) && access::allows(self.rights, Op::Expunge)
    }

    /// Whether RETR may set `\Seen` (`s`).
    pub fn may_set_seen(&self) -> bool {
        self.rights.contains(Rights::SEEN)
    }

    /// (messages, octets) not marked deleted.
    pub fn stat(&self) -> (usize, u64) {
        self.msgs
            .iter()
            .filter(|m| !m.deleted)
            .fold((0, 0), |(c, o), m| (c + 1, o + m.size))
    }

    /// Records that message `n` is now `\Seen`.
    pub fn mark_seen(&mut self, n: u32) {
        if let Some(m) = self.msgs.get_mut((n as usize).wrapping_sub(1)) {
            m.seen = true;
        }
    }

    /// The message numbered `n`, or the `-ERR` text.
    pub fn get(&self, n: u32) -> Result<Msg, String> {
        match self.msgs.get((n as usize).wrapping_sub(1)) {
            None => Err(format!(
                "no such message: {n} (there are {} in the maildrop)",
                self.msgs.len()
            )),
            Some(m) if m.deleted => Err(format!("message {n} is deleted")),
            Some(m) => Ok(*m),
        }
    }

    /// The unique-id of a message.
    pub fn uid_of(&self, m: &Msg) -> String {
        if let Ok(i) = self.kept_uidls.binary_search_by_key(&m.uid, |k| k.0) {
            return self.kept_uidls[i].1.clone();
        }
        self.uidl.render(self.uid_validity, m.uid)
    }
}

/// The unfolded value of the first header field called `name` (case-insensitive) in a
/// header block, or `None`. Stops at the empty line that ends the header.
pub fn first_field(header: &[u8], name: &str) -> Option<String> {
    let mut lines = header.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return None;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if !line[..colon]
            .trim_ascii()
            .eq_ignore_ascii_case(name.as_bytes())
        {
            continue;
        }
        let mut value = line[colon + 1..].to_vec();
        while let Some(next) = lines.peek() {
            if next.first().is_some_and(|&b| b == b' ' || b == b'\t') {
                let n = next.strip_suffix(b"\r").unwrap_or(next);
                value.extend_from_slice(n);
                lines.next();
            } else {
                break;
            }
        }
        return Some(String::from_utf8_lossy(&value).trim().to_string());
    }
    None
}

impl Session {
    fn drop_mut(&mut self) -> Option<&mut Maildrop> {
        match &mut self.state {
            State::Transaction(m) => Some(m),
            State::Authorization { .. } => None,
        }
    }

    fn drop_ref(&self) -> Option<&Maildrop> {
        match &self.state {
            State::Transaction(m) => Some(m),
            State::Authorization { .. } => None,
        }
    }

    /// `STAT`: `+OK count octets`.
    pub(crate) fn stat(&mut self) {
        if let Some((c, o)) = self.drop_ref().map(Maildrop::stat) {
            self.reply(&format!("+OK {c} {o}"));
        }
    }

    /// `LIST [msg]`.
    pub(crate) fn list(&mut self, n: Option<u32>) {
        let Some(md) = self.drop_ref() else { return };
        match n {
            Some(n) => match md.get(n) {
                Ok(m) => {
                    let l = format!("+OK {n} {}", m.size);
                    self.reply(&l);
                }
                Err(e) => self.err(&e),
            },
            None => {
                let (c, o) = md.stat();
                let mut text = format!("+OK {c} messages ({o} octets)\r\n");
                for (i, m) in md.msgs.iter().enumerate().filter(|(_, m)| !m.deleted) {
                    text.push_str(&format!("{} {}\r\n", i + 1, m.size));
                }
                text.push('.');
                self.reply(&text);
            }
        }
    }

    /// `UIDL [msg]`.
    pub(crate) fn uidl(&mut self, n: Option<u32>) {
        let Some(md) = self.drop_ref() else { return };
        match n {
            Some(n) => match md.get(n) {
                Ok(m) => {
                    let l = format!("+OK {n} {}", md.uid_of(&m));
                    self.reply(&l);
                }
                Err(e) => self.err(&e),
            },
            None => {
                let mut text = String::from("+OK unique-id listing follows\r\n");
                for (i, m) in md.msgs.iter().enumerate().filter(|(_, m)| !m.deleted) {
                    text.push_str(&format!("{} {}\r\n", i + 1, md.uid_of(m)));
                }
                text.push('.');
                self.reply(&text);
            }
        }
    }

    /// `DELE msg`: marks only.
    pub(crate) fn dele(&mut self, n: u32) {
        let Some(md) = self.drop_mut() else { return };
        let r = md.get(n).and_then(|_| {
            if !md.may_delete() {
                return Err(access::POP3_NO_PERMISSION
                    .trim_start_matches("-ERR ")
                    .to_string());
            }
            if let Some(m) = md.msgs.get_mut(n as usize - 1) {
                m.deleted = true;
            }
            Ok(())
        });
        match r {
            Ok(()) => self.reply(&format!("+OK message {n} deleted")),
            Err(e) => self.err(&e),
        }
    }

    /// `RSET`: unmarks every message.
    pub(crate) fn rset(&mut self) {
        let Some(md) = self.drop_mut() else { return };
        for m in &mut md.msgs {
            m.deleted = false;
        }
        let (c, o) = md.stat();
        self.reply(&format!("+OK maildrop has {c} message(s) ({o} octets)"));
    }

    /// `QUIT`: in TRANSACTION, enters UPDATE and removes the marked messages.
    pub(crate) async fn quit(&mut self) -> std::io::Result<Next> {
        self.seen.flush().await;
        let state = std::mem::replace(&mut self.state, State::Authorization { user: None });
        let State::Transaction(md) = state else {
            self.reply("+OK mailroom POP3 server signing off");
            return Ok(Next::Close);
        };
        self.reg.set_state("update");
        let uids: Vec<Uid> = md
            .msgs
            .iter()
            .filter(|m| m.deleted)
            .map(|m| m.uid)
            .collect();
        let left = md.msgs.len() - uids.len();
        if uids.is_empty() {
            self.reply(&format!(
                "+OK mailroom POP3 server signing off ({left} message(s) left)"
            ));
            return Ok(Next::Close);
        }
        if let Some(name) = md.name.as_deref() {
            // The rights may have been taken away during the session (SETACL from IMAP):
            // QUIT commits only deletions still allowed now.
            let still = match access::open_mailbox(&self.ctx, &md.owner, name).await {
                Ok(o) => {
                    o.mailbox.id == md.mailbox
                        && access::allows(o.rights, Op::PopDele)
                        && access::allows(o.rights, Op::Expunge)
                }
                Err(_) => false,
            };
            if !still {
                tracing::info!(mailbox = %name, marked = uids.len(), "delete right gone: nothing deleted");
                self.bad += 1;
                self.reply(access::POP3_NO_PERMISSION);
                return Ok(Next::Close);
            }
        }
        match md.account.expunge(md.mailbox, Some(&uids), true).await {
            Ok(removed) => {
                tracing::info!(
                    marked = uids.len(),
                    removed = removed.len(),
                    "deletions committed"
                );
                self.reply(&format!(
                    "+OK mailroom POP3 server signing off ({left} message(s) left)"
                ));
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot commit deletions");
                self.err(&format!(
                    "[SYS/TEMP] some deleted messages not removed: {e}"
                ));
            }
        }
        Ok(Next::Close)
    }
}

#[cfg(test)]
mod tests {
    use super::first_field;

    #[test]
    fn first_field_is_authoritative() {
        let h = b"Return-Path: <a@b>\r\nX-Real-To: abcdef\r\nSubject: x\r\nx-real-to: xyz\r\n\r\n";
        assert_eq!(first_field(h, "X-Real-To").as_deref(), Some("abcdef"));
        assert_eq!(first_field(h, "subject").as_deref(), Some("x"));
        assert_eq!(first_field(h, "Cc"), None);
        let folded = b"X-Real-To:\r\n  abc\r\n\r\nX-Real-To: body\r\n";
        assert_eq!(first_field(folded, "X-Real-To").as_deref(), Some("abc"));
        assert_eq!(first_field(b"\r\nX-Real-To: no\r\n", "X-Real-To"), None);
        assert_eq!(first_field(b"", "X-Real-To"), None);
    }
}
