//! FETCH and UID FETCH (RFC 3501 6.4.5, RFC 7162 CHANGEDSINCE).

use std::num::NonZeroU32;

use super::{Cursor, PResult};
use crate::imap::command::{CommandBody, FetchAttribute as A, Section, SectionText};

/// The most part numbers in one section (`1.2.3...`).
pub const MAX_SECTION_DEPTH: usize = 128;

impl Cursor<'_> {
    /// ```text
    /// fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" /
    ///         fetch-att / "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]
    /// fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")"
    /// fetch-modifier  = "CHANGEDSINCE" SP mod-sequence-value / "VANISHED"   ; RFC 7162
    /// fetch-modifier  =/ "PARTIAL" SP partial-range                          ; RFC 9394
    /// ```
    pub(crate) fn fetch(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let set = self.sequence_set()?;
        self.sp()?;
        let mut attributes = Vec::new();
        if self.try_byte(b'(') {
            // An empty list is tolerated (imap-codec sends it); UID is always answered.
            while !self.try_byte(b')') {
                if !attributes.is_empty() {
                    self.sp()?;
                }
                self.fetch_att(&mut attributes)?;
            }
        } else if self.eat_keyword("ALL") {
            attributes.extend([A::Flags, A::InternalDate, A::Rfc822Size, A::Envelope]);
        } else if self.eat_keyword("FAST") {
            attributes.extend([A::Flags, A::InternalDate, A::Rfc822Size]);
        } else if self.eat_keyword("FULL") {
            attributes.extend([
                A::Flags,
                A::InternalDate,
                A::Rfc822Size,
                A::Envelope,
                A::Body,
            ]);
        } else {
            self.fetch_att(&mut attributes)?;
        }
        let mut changed_since = None;
        let mut vanished = false;
        let mut partial = None;
        if self.try_byte(b' ') {
            self.expect(b'(')?;
            loop {
                let w = self.word("FETCH modifier")?;
                match w.as_str() {
                    "CHANGEDSINCE" if changed_since.is_some() => {
                        return Err("duplicate CHANGEDSINCE".to_owned())
                    }
                    "CHANGEDSINCE" => {
                        self.sp()?;
                        changed_since = Some(self.number64()?);
                    }
                    "VANISHED" if vanished => return Err("duplicate VANISHED".to_owned()),
                    "VANISHED" => vanished = true,
                    "PARTIAL" if partial.is_some() => return Err("duplicate PARTIAL".to_owned()),
                    "PARTIAL" => {
                        self.sp()?;
                        partial = Some(self.partial_range()?);
                    }
                    _ => return Err(format!("unknown FETCH modifier {w}")),
                }
                if self.try_byte(b')') {
                    break;
                }
                self.sp()?;
            }
        }
        // RFC 7162 3.2.6: VANISHED only with UID FETCH and CHANGEDSINCE.
        if vanished && !(uid && changed_since.is_some()) {
            return Err("VANISHED needs UID FETCH with CHANGEDSINCE".to_owned());
        }
        // RFC 9394 3.3: PARTIAL extends UID FETCH.
        if partial.is_some() && !uid {
            return Err("PARTIAL needs UID FETCH".to_owned());
        }
        Ok(CommandBody::Fetch {
            uid,
            set,
            attributes,
            changed_since,
            vanished,
            partial,
        })
    }

    /// RFC 8970: `fetch-att =/ "PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"]`,
    /// `preview-mod = "LAZY"`. A list whose first word is not a modifier is left alone
    /// (the FETCH modifiers of `FETCH 1 PREVIEW (CHANGEDSINCE 5)`); an unknown word
    /// after a modifier is an error. True when LAZY was given.
    fn preview_mods(&mut self) -> PResult<bool> {
        let start = self.pos;
        if !(self.try_byte(b' ') && self.try_byte(b'(')) {
            self.pos = start;
            return Ok(false);
        }
        let mut first = true;
        loop {
            let at = self.pos;
            let w = self.take_while(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !w.eq_ignore_ascii_case(b"LAZY") {
                if first {
                    self.pos = start;
                    return Ok(false);
                }
                self.pos = at;
                return Err(self.unexpected("PREVIEW modifier LAZY"));
            }
            first = false;
            if self.try_byte(b')') {
                return Ok(true);
            }
            self.sp()?;
        }
    }

    /// ```text
    /// fetch-att = "ENVELOPE" / "FLAGS" / "INTERNALDATE" /
    ///             "RFC822" [".HEADER" / ".SIZE" / ".TEXT"] /
    ///             "BODY" ["STRUCTURE"] / "UID" /
    ///             "BODY" section ["<" number "." nz-number ">"] /
    ///             "BODY.PEEK" section ["<" number "." nz-number ">"]
    /// ```
    pub(crate) fn fetch_att(&mut self, out: &mut Vec<A>) -> PResult<()> {
        let w = self.word("FETCH item")?;
        let a = match w.as_str() {
            "ENVELOPE" => A::Envelope,
            "FLAGS" => A::Flags,
            "INTERNALDATE" => A::InternalDate,
            "RFC822" => A::Rfc822,
            "RFC822.HEADER" => A::Rfc822Header,
            "RFC822.SIZE" => A::Rfc822Size,
            "RFC822.TEXT" => A::Rfc822Text,
            "BODYSTRUCTURE" => A::BodyStructure,
            "UID" => A::Uid,
            "MODSEQ" => A::ModSeq,
            "PREVIEW" => A::Preview {
                lazy: self.preview_mods()?,
            },
            "SAVEDATE" => A::SaveDate,
            "EMAILID" => A::EmailId,
            "THREADID" => A::ThreadId,
            // RFC 3516: section-binary = "[" [section-part] "]"
            "BINARY" | "BINARY.PEEK" => {
                let part = self.section_binary()?;
                let partial = self.partial()?;
                A::Binary {
                    peek: w == "BINARY.PEEK",
                    part,
                    partial,
                }
            }
            "BINARY.SIZE" => A::BinarySize {
                part: self.section_binary()?,
            },
            "BODY" if self.peek() != Some(b'[') => A::Body,
            "BODY" | "BODY.PEEK" => {
                let section = self.section()?;
                let partial = self.partial()?;
                A::BodySection {
                    peek: w == "BODY.PEEK",
                    section,
                    partial,
                }
            }
            "ALL" | "FAST" | "FULL" => return Err(format!("{w} is a macro: not inside a list")),
            _ => return Err(format!("unknown FETCH item {w}")),
        };
        out.push(a);
        Ok(())
    }

    /// `["<" number "." nz-number ">"]` after a BODY or BINARY section (RFC 3501, 3516;
    /// RFC 9051 `number64`).
    fn partial(&mut self) -> PResult<Option<(u64, NonZeroU32)>> {
        if !self.try_byte(b'<') {
            return Ok(None);
        }
        // RFC 9051: `partial = "<" number64 "." nz-number64 ">"`.
        let start = self.number64()?;
        self.expect(b'.')?;
        // RFC 9051: `nz-number64`. No message is longer than 4 GiB (the APPEND and
        // delivery limits are 32-bit), so a longer length asks for the rest of it.
        let len = self.number64()?;
        let len = NonZeroU32::new(u32::try_from(len).unwrap_or(u32::MAX))
            .ok_or_else(|| "partial length must not be 0".to_owned())?;
        self.expect(b'>')?;
        Ok(Some((start, len)))
    }

    /// ```text
    /// section = "[" [section-spec] "]"
    /// section-spec = section-msgtext / (section-part ["." section-text])
    /// section-part = nz-number *("." nz-number)
    /// section-text = section-msgtext / "MIME"
    /// section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"
    /// ```
    pub(crate) fn section(&mut self) -> PResult<Section> {
        self.expect(b'[')?;
        let mut part: Vec<NonZeroU32> = Vec::new();
        let mut text = None;
        if self.peek().is_some_and(|b| b.is_ascii_digit()) {
            loop {
                if part.len() == MAX_SECTION_DEPTH {
                    return Err("section part nested too deep".to_owned());
                }
                part.push(self.nz_number()?);
                if !self.try_byte(b'.') {
                    break;
                }
                if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    text = Some(self.section_text(true)?);
                    break;
                }
            }
        } else if self.peek() != Some(b']') {
            text = Some(self.section_text(false)?);
        }
        self.expect(b']')?;
        Ok(Section { part, text })
    }

    /// `section-binary = "[" [section-part] "]"` (RFC 3516).
    fn section_binary(&mut self) -> PResult<Vec<NonZeroU32>> {
        self.expect(b'[')?;
        let mut part: Vec<NonZeroU32> = Vec::new();
        if self.peek() != Some(b']') {
            loop {
                if part.len() == MAX_SECTION_DEPTH {
                    return Err("section part nested too deep".to_owned());
                }
                part.push(self.nz_number()?);
                if !self.try_byte(b'.') {
                    break;
                }
            }
        }
        self.expect(b']')?;
        Ok(part)
    }

    fn section_text(&mut self, after_part: bool) -> PResult<SectionText> {
        let w = self.word("section text")?;
        Ok(match w.as_str() {
            "HEADER" => SectionText::Header,
            "TEXT" => SectionText::Text,
            "MIME" if after_part => SectionText::Mime,
            "HEADER.FIELDS" => SectionText::HeaderFields(self.header_list()?),
            "HEADER.FIELDS.NOT" => SectionText::HeaderFieldsNot(self.header_list()?),
            _ => return Err(format!("invalid section {w}")),
        })
    }

    /// `header-list = "(" header-fld-name *(SP header-fld-name) ")"`; names are
    /// astrings of RFC 5322 `ftext`.
    fn header_list(&mut self) -> PResult<Vec<String>> {
        self.sp()?;
        self.expect(b'(')?;
        let mut v = Vec::new();
        loop {
            let name = self.astring()?;
            if name.is_empty() || !name.iter().all(|&b| (33..=126).contains(&b) && b != b':') {
                return Err("invalid header field name".to_owned());
            }
            v.push(String::from_utf8_lossy(&name).into_owned());
            if self.try_byte(b')') {
                return Ok(v);
            }
            self.sp()?;
        }
    }
}
