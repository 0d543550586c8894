//! The maildrop of a logged-in session and the commands on it: STAT, LIST, UIDL, DELE,
//! RSET (RFC 1939 section 5) and QUIT with the UPDATE state (section 6).
//!
//! Message numbers are fixed for the session: they index the snapshot taken at login.
//! DELE only marks; QUIT commits the marks with a forced expunge of their UIDs, which
//! ignores UIDs another session already expunged (P12).

use super::uidl::UidlFormat;
use crate::pop3::{Next, Session, State};
use crate::Ctx;
use mailroom_directory::AccountInfo;
use mailroom_store::{Account, AccountKey, MailboxId, StoreError, Uid};
use std::sync::Arc;

/// One message of the snapshot.
#[derive(Clone, Copy, Debug)]
pub struct Msg {
    pub uid: Uid,
    pub deleted: bool,
    pub size: u64,
}

/// The maildrop as seen by one session.
pub struct Maildrop {
    pub account: Arc<dyn Account>,
    pub mailbox: MailboxId,
    pub uid_validity: u32,
    pub msgs: Vec<Msg>,
    pub uidl: UidlFormat,
}

impl Maildrop {
    /// Opens the account's INBOX and takes the snapshot from the index (no message is
    /// read: sizes come from the index).
    pub async fn open(ctx: &Ctx, who: &AccountInfo) -> Result<Maildrop, StoreError> {
        let (d, n) = who.store_key();
        let key = AccountKey::new(&d, &n)
            .ok_or_else(|| StoreError::Invalid("invalid account name".into()))?;
        let account = ctx.store.open_account(&key).await?;
        let inbox = account.mailbox("INBOX").await?;
        account.sync(inbox.id).await?;
        let snap = account.messages(inbox.id).await?;
        let msgs = snap
            .messages
            .iter()
            .map(|m| Msg {
                uid: m.uid,
                deleted: false,
                size: m.size,
            })
            .collect();
        Ok(Maildrop {
            account,
            mailbox: inbox.id,
            uid_validity: snap.uid_validity,
            msgs,
            uidl: UidlFormat::parse(&ctx.config.pop3.uidl_format),
        })
    }

    /// (messages, octets) not marked deleted.
    pub fn stat(&self) -> (usize, u64) {
        self.msgs
            .iter()
            .filter(|m| !m.deleted)
            .fold((0, 0), |(c, o), m| (c + 1, o + m.size))
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
        self.uidl.render(self.uid_validity, m.uid)
    }
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
        let r = md.get(n).map(|_| {
            if let Some(m) = md.msgs.get_mut(n as usize - 1) {
                m.deleted = true;
            }
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
