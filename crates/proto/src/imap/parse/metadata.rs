//! GETMETADATA and SETMETADATA (RFC 5464 section 4).

use super::{Cursor, Lit, PResult};
use crate::imap::command::{CommandBody, MetadataDepth};

/// The most entries in one GETMETADATA or SETMETADATA.
pub const MAX_ENTRIES: usize = 256;
/// The longest entry name.
pub const MAX_ENTRY_NAME: usize = 256;

/// Checks and canonicalises (lower case) an entry name (RFC 5464 section 3.2): it starts
/// with `/private/` or `/shared/`, has no `*`, `%`, `//`, no trailing `/`, and only
/// printable US-ASCII.
pub fn entry_name(raw: &[u8]) -> Result<String, String> {
    let shown = String::from_utf8_lossy(raw);
    if raw.len() > MAX_ENTRY_NAME {
        return Err("entry name too long".to_owned());
    }
    if !raw.iter().all(|b| (0x21..0x7f).contains(b)) {
        return Err(format!("invalid character in entry name {shown:?}"));
    }
    let lower = shown.to_ascii_lowercase();
    if !(lower.starts_with("/private/") || lower.starts_with("/shared/")) {
        return Err(format!(
            "entry name {shown:?} must start with /private/ or /shared/"
        ));
    }
    if lower.contains(['*', '%']) || lower.contains("//") || lower.ends_with('/') {
        return Err(format!("invalid entry name {shown:?}"));
    }
    Ok(lower)
}

impl Cursor<'_> {
    fn entry(&mut self) -> PResult<String> {
        let raw = self.astring()?;
        entry_name(&raw)
    }

    /// ```text
    /// getmetadata = "GETMETADATA" [SP getmetadata-options] SP mailbox SP entries
    /// getmetadata-options = "(" getmetadata-option *(SP getmetadata-option) ")"
    /// maxsize-opt = "MAXSIZE" SP number
    /// scope-opt   = "DEPTH" SP ("0" / "1" / "infinity")
    /// entries     = entry / "(" entry *(SP entry) ")"
    /// ```
    /// RFC 5464 4.4.1 shows several entries without parentheses too
    /// (`GETMETADATA "INBOX" /private/comment /shared/comment`), and 4.2.1 and 4.2.2 the
    /// options after the mailbox: both accepted.
    pub(crate) fn getmetadata(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let mut maxsize = None;
        let mut depth = MetadataDepth::Zero;
        let mut options = false;
        if self.peek() == Some(b'(') {
            self.getmetadata_options(&mut maxsize, &mut depth)?;
            options = true;
            self.sp()?;
        }
        let mailbox = self.mailbox()?;
        self.sp()?;
        // The RFC's examples (4.2.1, 4.2.2) put the options after the mailbox.
        if !options && self.options_follow() {
            self.getmetadata_options(&mut maxsize, &mut depth)?;
            self.sp()?;
        }
        let mut entries = Vec::new();
        if self.try_byte(b'(') {
            loop {
                entries.push(self.entry()?);
                if self.try_byte(b')') {
                    break;
                }
                self.sp()?;
                if entries.len() >= MAX_ENTRIES {
                    return Err("too many entries".to_owned());
                }
            }
        } else {
            entries.push(self.entry()?);
            while self.try_byte(b' ') {
                entries.push(self.entry()?);
                if entries.len() > MAX_ENTRIES {
                    return Err("too many entries".to_owned());
                }
            }
        }
        Ok(CommandBody::GetMetadata {
            mailbox,
            maxsize,
            depth,
            entries,
        })
    }

    /// Whether `(MAXSIZE` or `(DEPTH` comes next.
    fn options_follow(&self) -> bool {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let upper = |n: usize| rest.get(..n).map(|p| p.to_ascii_uppercase());
        upper(9).as_deref() == Some(b"(MAXSIZE ") || upper(7).as_deref() == Some(b"(DEPTH ")
    }

    /// `getmetadata-options` (RFC 5464 5): MAXSIZE and DEPTH, each at most once.
    fn getmetadata_options(
        &mut self,
        maxsize: &mut Option<u32>,
        depth: &mut MetadataDepth,
    ) -> PResult<()> {
        self.expect(b'(')?;
        let mut seen_max = false;
        let mut seen_depth = false;
        loop {
            let w = self.word("GETMETADATA option")?;
            self.sp()?;
            match w.as_str() {
                "MAXSIZE" if !seen_max => {
                    seen_max = true;
                    *maxsize = Some(self.number()?);
                }
                "DEPTH" if !seen_depth => {
                    seen_depth = true;
                    let d = self.word("DEPTH value")?;
                    *depth = match d.as_str() {
                        "0" => MetadataDepth::Zero,
                        "1" => MetadataDepth::One,
                        "INFINITY" => MetadataDepth::Infinity,
                        _ => return Err(format!("invalid DEPTH {d}")),
                    };
                }
                "MAXSIZE" | "DEPTH" => return Err(format!("duplicate {w}")),
                _ => return Err(format!("unknown GETMETADATA option {w}")),
            }
            if self.try_byte(b')') {
                return Ok(());
            }
            self.sp()?;
        }
    }

    /// ```text
    /// setmetadata  = "SETMETADATA" SP mailbox SP entry-values
    /// entry-values = "(" entry-value *(SP entry-value) ")"
    /// entry-value  = entry SP value
    /// value        = nstring / literal8
    /// ```
    pub(crate) fn setmetadata(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let mailbox = self.mailbox()?;
        self.sp()?;
        self.expect(b'(')?;
        let mut entries = Vec::new();
        loop {
            let name = self.entry()?;
            self.sp()?;
            let value = if self.peek() == Some(b'~') {
                // literal8: the octets as they are (no NUL restriction).
                self.pos += 1;
                match self.literal()? {
                    Lit::Inline(d) => Some(d.to_vec()),
                    Lit::Streamed { .. } => return Err("unexpected streamed literal".to_owned()),
                }
            } else {
                self.nstring()?.map(|v| v.into_owned())
            };
            entries.push((name, value));
            if entries.len() > MAX_ENTRIES {
                return Err("too many entries".to_owned());
            }
            if self.try_byte(b')') {
                break;
            }
            self.sp()?;
        }
        Ok(CommandBody::SetMetadata { mailbox, entries })
    }
}
