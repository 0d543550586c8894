//! Alerts (P10, I7): texts queued for an account and shown at its next login.
//!
//! Not here: showing them (POP3 `-ERR ALERT:`, IMAP `[ALERT]`, in `mailroom-server`).

use rusqlite::{params, OptionalExtension};

use super::CachedRow;
use crate::{AccountInfo, DirError, Directory};

impl Directory {
    /// Queues an alert for an account; returns its id. The POP3 module refuses logins with
    /// `-ERR ALERT: text` while alerts are pending; IMAP shows them as `* OK [ALERT]`.
    pub fn add_alert(&self, account: &str, text: &str) -> Result<i64, DirError> {
        let text = text.trim();
        if text.is_empty() || text.len() > 1000 || text.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return Err(DirError::Invalid(
                "alert text must be 1 to 1000 printable characters on one line".into(),
            ));
        }
        let a = self.account(account)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let c = self.db();
        c.execute(
            "INSERT INTO alerts(account_id, text, created) VALUES (?1, ?2, ?3)",
            params![a.id, text, now],
        )?;
        Ok(c.last_insert_rowid())
    }

    /// The pending alerts of an account, oldest first: (id, text).
    pub fn list_alerts(&self, account: &AccountInfo) -> Result<Vec<(i64, String)>, DirError> {
        let c = self.db();
        let mut st = c.prepare("SELECT id, text FROM alerts WHERE account_id = ?1 ORDER BY id")?;
        let rows = st.query_map(params![account.id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Takes (removes and returns) the oldest pending alert of an account: it has been
    /// shown to the user.
    pub fn take_alert(&self, account: &AccountInfo) -> Result<Option<String>, DirError> {
        let c = self.db();
        let row: Option<(i64, String)> = c
            .cached_row(
                "SELECT id, text FROM alerts WHERE account_id = ?1 ORDER BY id LIMIT 1",
                params![account.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((id, _)) = &row {
            c.execute("DELETE FROM alerts WHERE id = ?1", params![id])?;
        }
        Ok(row.map(|(_, t)| t))
    }

    /// Removes one alert by id (`mailroom alert remove`).
    pub fn remove_alert(&self, id: i64) -> Result<(), DirError> {
        let n = self
            .db()
            .execute("DELETE FROM alerts WHERE id = ?1", params![id])?;
        if n == 0 {
            return Err(DirError::NotFound(format!("alert {id}")));
        }
        Ok(())
    }
}
