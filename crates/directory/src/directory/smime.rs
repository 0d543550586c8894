//! Accounts' S/MIME certificates (seed 001, I13): the certificate `COPY … ENCRYPTED *`
//! encrypts to, "the personal S/MIME Certificate of the authenticated user". One per
//! account, in the table `smime_certs` (made on open, so older directory files gain it;
//! rows go with the account, `ON DELETE CASCADE`, and stay with it through a rename,
//! which keeps the account's id).
//!
//! Kept as DER octets and not interpreted here: the binary checks a certificate with
//! `mailroom-smime` before it stores one, and the server checks it again when it uses it.

use rusqlite::{params, OptionalExtension};

use super::CachedRow;
use crate::{DirError, Directory};

/// The table of this module, part of the directory schema.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS smime_certs(
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    der BLOB NOT NULL
);
";

/// Largest certificate accepted, octets (a certificate with an 8192-bit RSA key and many
/// extensions is a few KiB).
pub const MAX_SMIME_CERT: usize = 64 * 1024;

impl Directory {
    /// Sets (DER octets) or clears (`None`) an account's S/MIME certificate.
    pub fn set_smime_cert(&self, account: &str, der: Option<&[u8]>) -> Result<(), DirError> {
        if let Some(d) = der {
            if d.is_empty() || d.len() > MAX_SMIME_CERT {
                return Err(DirError::Invalid(format!(
                    "an S/MIME certificate must be 1 to {MAX_SMIME_CERT} octets"
                )));
            }
        }
        let a = self.account(account)?;
        let c = self.db();
        match der {
            Some(d) => c.execute(
                "INSERT OR REPLACE INTO smime_certs(account_id, der) VALUES (?1, ?2)",
                params![a.id, d],
            )?,
            None => c.execute(
                "DELETE FROM smime_certs WHERE account_id = ?1",
                params![a.id],
            )?,
        };
        Ok(())
    }

    /// An account's S/MIME certificate (DER), by name (`name`, `name@domain`).
    pub fn smime_cert(&self, account: &str) -> Result<Option<Vec<u8>>, DirError> {
        let a = self.account(account)?;
        self.smime_cert_of(a.id)
    }

    /// An account's S/MIME certificate (DER), by account id ([`crate::AccountInfo::id`]).
    pub fn smime_cert_of(&self, account_id: i64) -> Result<Option<Vec<u8>>, DirError> {
        Ok(self
            .db()
            .cached_row(
                "SELECT der FROM smime_certs WHERE account_id = ?1",
                params![account_id],
                |r| r.get(0),
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::{DirError, Directory, Secret};

    #[test]
    fn set_get_clear_and_gone_with_the_account() {
        let d = Directory::open_in_memory("example.com").unwrap();
        d.add_account("ann", &Secret::from("pw")).unwrap();
        d.add_account("bob", &Secret::from("pw")).unwrap();
        assert_eq!(d.smime_cert("ann").unwrap(), None);
        d.set_smime_cert("ann", Some(b"\x30\x03abc")).unwrap();
        assert_eq!(
            d.smime_cert("ann@example.com").unwrap(),
            Some(b"\x30\x03abc".to_vec())
        );
        assert_eq!(d.smime_cert("bob").unwrap(), None);
        d.set_smime_cert("ann", Some(b"\x30\x01x")).unwrap();
        assert_eq!(d.smime_cert("ann").unwrap(), Some(b"\x30\x01x".to_vec()));
        // It follows a rename (same id).
        d.rename_account("ann", "anna").unwrap();
        let id = d.account("anna").unwrap().id;
        assert_eq!(d.smime_cert_of(id).unwrap(), Some(b"\x30\x01x".to_vec()));
        d.set_smime_cert("anna", None).unwrap();
        assert_eq!(d.smime_cert("anna").unwrap(), None);
        d.set_smime_cert("anna", Some(b"\x30\x01x")).unwrap();
        d.remove_account("anna").unwrap();
        assert_eq!(d.smime_cert_of(id).unwrap(), None);
        assert!(matches!(
            d.set_smime_cert("nobody", Some(b"x")),
            Err(DirError::NotFound(_))
        ));
        assert!(matches!(
            d.set_smime_cert("bob", Some(b"")),
            Err(DirError::Invalid(_))
        ));
        assert!(matches!(
            d.set_smime_cert("bob", Some(&vec![0; super::MAX_SMIME_CERT + 1])),
            Err(DirError::Invalid(_))
        ));
    }
}
