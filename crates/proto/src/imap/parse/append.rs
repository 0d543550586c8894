//! APPEND (RFC 3501 6.3.11, RFC 3502 MULTIAPPEND) and REPLACE (RFC 8508).

use super::{Cursor, Lit, PResult};
use crate::imap::command::{AppendData, AppendMessage, CatPart, CommandBody, LiteralData};
use crate::imap::types::{SeqRange, SequenceSet};

/// The most parts one CATENATE takes (each URL is a message look-up).
pub const MAX_CAT_PARTS: usize = 256;

impl Cursor<'_> {
    /// ```text
    /// append = "APPEND" SP mailbox 1*append-message
    /// append-message = [SP flag-list] [SP date-time] SP (literal / literal8)
    /// ```
    pub(crate) fn append(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let mailbox = self.mailbox()?;
        let mut messages = Vec::new();
        while !self.at_end() {
            messages.push(self.append_message()?);
        }
        if messages.is_empty() {
            return Err(self.unexpected("message literal"));
        }
        Ok(CommandBody::Append { mailbox, messages })
    }

    /// `append-message = SP [flag-list SP] [date-time SP] (literal / literal8 /
    /// utf8-literal)`, the leading SP included.
    fn append_message(&mut self) -> PResult<AppendMessage> {
        self.sp()?;
        let flags = if self.peek() == Some(b'(') {
            let f = self.flag_list()?;
            self.sp()?;
            f
        } else {
            Vec::new()
        };
        let date = if self.peek() == Some(b'"') {
            let d = self.date_time()?;
            self.sp()?;
            Some(d)
        } else {
            None
        };
        if self.eat_keyword("CATENATE") {
            return Ok(AppendMessage {
                flags,
                date,
                data: AppendData::Catenate(self.catenate()?),
            });
        }
        // RFC 6855 4: append-data =/ utf8-literal; utf8-literal = "UTF8" SP "(" literal8 ")",
        // only once the session enabled UTF8=ACCEPT.
        let utf8 = self.eat_keyword("UTF8");
        if utf8 {
            if !self.opts.utf8_append {
                return Err(
                    "APPEND UTF8 data needs ENABLE UTF8=ACCEPT (RFC 6855 section 4)".to_owned(),
                );
            }
            self.sp()?;
            self.expect(b'(')?;
            if self.peek() != Some(b'~') {
                return Err(self.unexpected("literal8 (~{n})"));
            }
        }
        // RFC 3516 4.3: append-data =/ literal8 (`~{n}`, octets of any value).
        self.try_byte(b'~');
        if self.peek() != Some(b'{') {
            return Err(self.unexpected("message literal"));
        }
        let data = AppendData::Literal(self.literal_data()?);
        if utf8 {
            self.expect(b')')?;
        }
        Ok(AppendMessage { flags, date, data })
    }

    fn literal_data(&mut self) -> PResult<LiteralData> {
        Ok(match self.literal()? {
            Lit::Inline(d) => LiteralData::Inline(d.to_vec()),
            Lit::Streamed { index, size } => LiteralData::Streamed { index, size },
        })
    }

    /// After `CATENATE` (RFC 4469 5), at most [`MAX_CAT_PARTS`] parts:
    ///
    /// ```text
    /// append-data =/ "CATENATE" SP "(" cat-part *(SP cat-part) ")"
    /// cat-part = text-literal / url
    /// text-literal = "TEXT" SP literal
    /// url = "URL" SP astring
    /// ```
    fn catenate(&mut self) -> PResult<Vec<CatPart>> {
        self.sp()?;
        self.expect(b'(')?;
        let mut parts = Vec::new();
        loop {
            if parts.len() == MAX_CAT_PARTS {
                return Err(format!("too many CATENATE parts (limit {MAX_CAT_PARTS})"));
            }
            let w = self.word("TEXT or URL")?;
            self.sp()?;
            match w.as_str() {
                "TEXT" => {
                    if self.peek() != Some(b'{') {
                        return Err(self.unexpected("literal after TEXT"));
                    }
                    parts.push(CatPart::Text(self.literal_data()?));
                }
                "URL" => {
                    let url = self.astring()?;
                    let url = std::str::from_utf8(&url)
                        .map_err(|_| "a URL is ASCII".to_owned())?
                        .to_owned();
                    parts.push(CatPart::Url(url));
                }
                _ => return Err(format!("unknown CATENATE part {w} (TEXT or URL)")),
            }
            if self.try_byte(b')') {
                return Ok(parts);
            }
            self.sp()?;
        }
    }

    /// ```text
    /// replace = "REPLACE" SP seq-number SP mailbox append-message   ; RFC 8508
    /// uid     =/ "UID" SP replace
    /// ```
    pub(crate) fn replace(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let n = self.seq_number()?;
        let set = SequenceSet::new(vec![SeqRange { from: n, to: n }])
            .ok_or_else(|| "missing message number".to_owned())?;
        self.sp()?;
        let mailbox = self.mailbox()?;
        let message = self.append_message()?;
        if !self.at_end() {
            return Err(self.unexpected("end of command (REPLACE takes one message)"));
        }
        Ok(CommandBody::Replace {
            uid,
            set,
            mailbox,
            message,
        })
    }
}
