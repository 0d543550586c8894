//! IMAP URLs (RFC 5092) as CATENATE (RFC 4469 3) takes them: the relative
//! `iabsolute-path` form naming one message or message part of the logged-in user's
//! server, `/mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]`. Pure: what
//! the URL names is looked up by the server.
//!
//! What is refused (the server answers `NO [BADURL url]`): absolute URLs (`imap://...`,
//! RFC 4469 3: "a server implementing only this specification would return NO"), URLs
//! of a mailbox or a search rather than a message, URLAUTH (`;EXPIRE=`, `;URLAUTH=`),
//! bad percent-encoding, and anything else outside the grammar below.
//!
//! ```text
//! iabsolute-path = "/" [ icommand ]
//! icommand       = imailbox-ref "?" enc-search / imessagepart [iurlauth]
//! imessagepart   = imailbox-ref iuid [isection] [ipartial]
//! imailbox-ref   = enc-mailbox [uidvalidity]
//! uidvalidity    = ";UIDVALIDITY=" nz-number
//! iuid           = "/" ";UID=" nz-number
//! isection       = "/" ";SECTION=" enc-section
//! ipartial       = "/" ";PARTIAL=" partial-range
//! partial-range  = number ["." nz-number]
//! enc-mailbox    = 1*bchar ; %-encoded UTF-8 (RFC 5092 6)
//! ```

use super::command::Section;

/// One message or message part, as an IMAP URL names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageUrl {
    /// The mailbox name, UTF-8, as the client would name it to SELECT.
    pub mailbox: String,
    /// `;UIDVALIDITY=`: the URL is good only while the mailbox has this one.
    pub uid_validity: Option<u32>,
    /// `;UID=`.
    pub uid: u32,
    /// `;SECTION=`: a `section-spec` of RFC 3501 (`HEADER`, `1.MIME`, `2`, ...).
    pub section: Option<Section>,
    /// `;PARTIAL=offset[.length]`.
    pub partial: Option<(u32, Option<u32>)>,
}

/// Longest URL taken (the command line limit bounds it anyway).
const MAX_URL: usize = 4096;

/// Decodes `%XX` escapes (RFC 3986 2.1); the result must be UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// RFC 5092 `bchar` (before decoding): unreserved, sub-delims but `;`... as the grammar
/// allows, `%`, `&`, `=`, `:`, `@`, `/`.
fn is_bchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$'()*+,&=:@/%".contains(&b)
}

fn nz(s: &str) -> Option<u32> {
    let n: u32 = s.parse().ok()?;
    (n > 0 && s.bytes().all(|b| b.is_ascii_digit())).then_some(n)
}

/// Parses a CATENATE URL (see the module docs); `Err` with the reason otherwise.
pub fn parse_message_url(url: &str) -> Result<MessageUrl, String> {
    if url.len() > MAX_URL {
        return Err("URL too long".into());
    }
    if url.contains("://") || url.starts_with("//") {
        return Err("only URLs relative to this server and user are taken".into());
    }
    let Some(path) = url.strip_prefix('/') else {
        return Err("the URL must start with /mailbox".into());
    };
    if path.contains('?') {
        return Err("a search URL names no message".into());
    }
    // The mailbox runs up to the first `;` (UIDVALIDITY) or `/;` (UID).
    let cut = path
        .find(";UIDVALIDITY=")
        .or_else(|| path.to_ascii_uppercase().find(";UIDVALIDITY="))
        .or_else(|| path.find("/;"))
        .ok_or_else(|| "the URL names no message (;UID= missing)".to_string())?;
    let (enc_mailbox, mut rest) = path.split_at(cut);
    if enc_mailbox.is_empty() || !enc_mailbox.bytes().all(is_bchar) {
        return Err("bad mailbox in URL".into());
    }
    let mailbox = percent_decode(enc_mailbox).ok_or("bad %-encoding in the mailbox")?;
    let mut uid_validity = None;
    if rest.starts_with(';') {
        let end = rest.find('/').unwrap_or(rest.len());
        let (param, after) = rest.split_at(end);
        let (k, v) = param[1..].split_once('=').ok_or("bad URL parameter")?;
        if !k.eq_ignore_ascii_case("UIDVALIDITY") {
            return Err(format!("unexpected ;{k}= after the mailbox"));
        }
        uid_validity = Some(nz(v).ok_or("bad UIDVALIDITY")?);
        rest = after;
    }
    let mut uid = None;
    let mut section = None;
    let mut partial = None;
    for seg in rest.split('/').skip(1) {
        let (k, v) = seg
            .strip_prefix(';')
            .and_then(|p| p.split_once('='))
            .ok_or_else(|| format!("bad URL segment {seg:?}"))?;
        match k.to_ascii_uppercase().as_str() {
            "UID" if uid.is_none() && section.is_none() && partial.is_none() => {
                uid = Some(nz(v).ok_or("bad UID")?);
            }
            "SECTION" if uid.is_some() && section.is_none() && partial.is_none() => {
                if v.is_empty() || !v.bytes().all(is_bchar) {
                    return Err("bad SECTION".into());
                }
                let spec = percent_decode(v).ok_or("bad %-encoding in SECTION")?;
                section = Some(super::parse::parse_section_spec(spec.as_bytes())?);
            }
            "PARTIAL" if uid.is_some() && partial.is_none() => {
                let (o, l) = match v.split_once('.') {
                    Some((o, l)) => (o, Some(nz(l).ok_or("bad PARTIAL length")?)),
                    None => (v, None),
                };
                if o.is_empty() || !o.bytes().all(|b| b.is_ascii_digit()) {
                    return Err("bad PARTIAL offset".into());
                }
                partial = Some((o.parse().map_err(|_| "bad PARTIAL offset")?, l));
            }
            "EXPIRE" | "URLAUTH" => return Err("URLAUTH is not supported".into()),
            _ => return Err(format!("unexpected ;{k}= in the URL")),
        }
    }
    Ok(MessageUrl {
        mailbox,
        uid_validity,
        uid: uid.ok_or("the URL names no message (;UID= missing)")?,
        section,
        partial,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::imap::command::SectionText;
    use std::num::NonZeroU32;

    #[test]
    fn rfc4469_examples() {
        let u = parse_message_url("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME").unwrap();
        assert_eq!(u.mailbox, "Drafts");
        assert_eq!(u.uid_validity, Some(385_759_045));
        assert_eq!(u.uid, 20);
        let s = u.section.unwrap();
        assert_eq!(s.part, vec![NonZeroU32::new(1).unwrap()]);
        assert_eq!(s.text, Some(SectionText::Mime));
        let u = parse_message_url("/Drafts;UIDVALIDITY=385759045/;UID=30").unwrap();
        assert_eq!((u.uid, u.section, u.partial), (30, None, None));
        let u = parse_message_url("/Drafts;UIDVALIDITY=385759045/;UID=20/;Section=HEADER").unwrap();
        assert_eq!(u.section.unwrap().text, Some(SectionText::Header));
    }

    #[test]
    fn encoded_names_sections_and_partials() {
        let u = parse_message_url(
            "/Sent%20Items/%C3%A9t%C3%A9/;UID=7/;SECTION=HEADER.FIELDS%20(SUBJECT%20FROM)/;PARTIAL=0.10",
        )
        .unwrap();
        assert_eq!(u.mailbox, "Sent Items/été");
        assert_eq!(u.uid_validity, None);
        assert_eq!(
            u.section.unwrap().text,
            Some(SectionText::HeaderFields(vec![
                "SUBJECT".into(),
                "FROM".into()
            ]))
        );
        assert_eq!(u.partial, Some((0, Some(10))));
        let u = parse_message_url("/INBOX/;UID=1/;PARTIAL=5").unwrap();
        assert_eq!(u.partial, Some((5, None)));
    }

    #[test]
    fn refused() {
        for bad in [
            "imap://joe@example.com/INBOX/;UID=1",
            "//example.com/INBOX/;UID=1",
            "INBOX/;UID=1",
            "/INBOX",
            "/INBOX;UIDVALIDITY=1",
            "/INBOX?SUBJECT%20x",
            "/INBOX/;UID=0",
            "/INBOX/;UID=x",
            "/INBOX;UIDVALIDITY=0/;UID=1",
            "/INBOX/;UID=1/;SECTION=BOGUS",
            "/INBOX/;UID=1/;SECTION=",
            "/INBOX/;UID=1/;PARTIAL=1.0",
            "/INBOX/;UID=1/;EXPIRE=2030-01-01T00:00:00Z",
            "/INBOX/;UID=1;URLAUTH=anonymous",
            "/IN%ZZBOX/;UID=1",
            "/IN%FFBOX/;UID=1",
            "/IN BOX/;UID=1",
            "/INBOX/;UID=1/;UID=2",
            "/INBOX/;SECTION=1/;UID=2",
        ] {
            assert!(parse_message_url(bad).is_err(), "{bad} was taken");
        }
    }
}
