//! ENVELOPE, BODY and BODYSTRUCTURE rendering (RFC 3501 7.4.2, ABNF in section 9) from
//! the structure the store parsed at index time. Pure functions over
//! [`Envelope`]/[`BodyStructure`]; no I/O.

use mailroom_proto::imap::encode;
use mailroom_store::mime::{Address, BodyStructure, Envelope};

/// Deepest nesting rendered; anything deeper becomes an empty text/plain part, so even a
/// hostile structure yields a valid, bounded response.
const MAX_RENDER_DEPTH: usize = 100;

fn nstr(out: &mut Vec<u8>, s: Option<&str>) {
    encode::nstring(out, s.map(str::as_bytes));
}

/// `nstring` of a header-derived string: UTF-8 quoted as it is when the session enabled
/// UTF-8 (RFC 6855 3, RFC 9051 4.3.1), else 8-bit text as a literal.
fn nstr_hdr(out: &mut Vec<u8>, s: Option<&str>, utf8: bool) {
    if utf8 {
        encode::nstring_utf8(out, s.map(str::as_bytes));
    } else {
        nstr(out, s);
    }
}

fn str_(out: &mut Vec<u8>, s: &str) {
    encode::string(out, s.as_bytes());
}

/// ```text
/// envelope = "(" env-date SP env-subject SP env-from SP env-sender SP env-reply-to SP
///            env-to SP env-cc SP env-bcc SP env-in-reply-to SP env-message-id ")"
/// ```
/// Sender and Reply-To default to From (RFC 3501 7.4.2). With `utf8` (the session
/// enabled UTF8=ACCEPT or IMAP4rev2) UTF-8 text is sent in quoted strings.
pub(super) fn envelope(out: &mut Vec<u8>, e: &Envelope, utf8: bool) {
    out.push(b'(');
    nstr_hdr(out, e.date.as_deref(), utf8);
    out.push(b' ');
    nstr_hdr(out, e.subject.as_deref(), utf8);
    out.push(b' ');
    addresses(out, &e.from, utf8);
    out.push(b' ');
    addresses(
        out,
        if e.sender.is_empty() {
            &e.from
        } else {
            &e.sender
        },
        utf8,
    );
    out.push(b' ');
    addresses(
        out,
        if e.reply_to.is_empty() {
            &e.from
        } else {
            &e.reply_to
        },
        utf8,
    );
    for list in [&e.to, &e.cc, &e.bcc] {
        out.push(b' ');
        addresses(out, list, utf8);
    }
    out.push(b' ');
    nstr_hdr(out, e.in_reply_to.as_deref(), utf8);
    out.push(b' ');
    nstr_hdr(out, e.message_id.as_deref(), utf8);
    out.push(b')');
}

/// `"(" 1*address ")" / nil`, `address = "(" addr-name SP addr-adl SP addr-mailbox SP
/// addr-host ")"`.
fn addresses(out: &mut Vec<u8>, list: &[Address], utf8: bool) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for a in list {
        out.push(b'(');
        nstr_hdr(out, a.name.as_deref(), utf8);
        out.push(b' ');
        nstr_hdr(out, a.adl.as_deref(), utf8);
        out.push(b' ');
        nstr_hdr(out, a.mailbox.as_deref(), utf8);
        out.push(b' ');
        nstr_hdr(out, a.host.as_deref(), utf8);
        out.push(b')');
    }
    out.push(b')');
}

/// `body-fld-param = "(" string SP string *(SP string SP string) ")" / nil`.
fn params(out: &mut Vec<u8>, params: &[(String, String)]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (n, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        str_(out, n);
        out.push(b' ');
        str_(out, v);
    }
    out.push(b')');
}

/// `body-fld-dsp = "(" string SP body-fld-param ")" / nil`.
fn disposition(out: &mut Vec<u8>, d: Option<&(String, Vec<(String, String)>)>) {
    match d {
        Some((t, p)) => {
            out.push(b'(');
            str_(out, t);
            out.push(b' ');
            params(out, p);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
}

/// `body-fld-lang = nstring / "(" string *(SP string) ")"`.
fn language(out: &mut Vec<u8>, langs: &[String]) {
    match langs {
        [] => out.extend_from_slice(b"NIL"),
        [one] => str_(out, one),
        many => {
            out.push(b'(');
            for (i, l) in many.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                str_(out, l);
            }
            out.push(b')');
        }
    }
}

fn is_multipart(p: &BodyStructure) -> bool {
    p.media_type.eq_ignore_ascii_case("multipart")
}

/// A message/rfc822 (or message/global) part whose encapsulated message was parsed.
pub(crate) fn is_message(p: &BodyStructure) -> bool {
    p.media_type.eq_ignore_ascii_case("message")
        && (p.media_subtype.eq_ignore_ascii_case("rfc822")
            || p.media_subtype.eq_ignore_ascii_case("global"))
        && p.parts.len() == 1
}

/// `body = "(" (body-type-1part / body-type-mpart) ")"`; with `extended` the extension
/// data of BODYSTRUCTURE (`body-ext-1part` / `body-ext-mpart`), without it the
/// non-extensible form of FETCH BODY.
pub(super) fn body(out: &mut Vec<u8>, p: &BodyStructure, extended: bool) {
    body_at(out, p, extended, 0);
}

fn body_at(out: &mut Vec<u8>, p: &BodyStructure, extended: bool, depth: usize) {
    if depth > MAX_RENDER_DEPTH {
        out.extend_from_slice(b"(\"text\" \"plain\" NIL NIL NIL \"7BIT\" 0 0)");
        return;
    }
    out.push(b'(');
    if is_multipart(p) && !p.parts.is_empty() {
        // body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
        for child in &p.parts {
            body_at(out, child, extended, depth + 1);
        }
        out.push(b' ');
        str_(out, &p.media_subtype);
        if extended {
            // body-ext-mpart = body-fld-param [SP body-fld-dsp [SP body-fld-lang
            //                  [SP body-fld-loc *(SP body-extension)]]]
            out.push(b' ');
            params(out, &p.params);
            out.push(b' ');
            disposition(out, p.disposition.as_ref());
            out.push(b' ');
            language(out, &p.language);
            out.push(b' ');
            nstr(out, p.location.as_deref());
        }
        out.push(b')');
        return;
    }
    let (media_type, media_subtype) = if is_multipart(p) {
        // A multipart without parts cannot be written as one; the store always adds
        // one, but a structure from elsewhere might not.
        ("application", "octet-stream")
    } else {
        (p.media_type.as_str(), p.media_subtype.as_str())
    };
    // media-basic / media-message / media-text, then body-fields.
    str_(out, media_type);
    out.push(b' ');
    str_(out, media_subtype);
    out.push(b' ');
    params(out, &p.params);
    out.push(b' ');
    nstr(out, p.id.as_deref());
    out.push(b' ');
    nstr(out, p.description.as_deref());
    out.push(b' ');
    str_(out, &p.encoding);
    out.push(b' ');
    out.extend_from_slice(p.body_size().to_string().as_bytes());
    let message = media_type.eq_ignore_ascii_case("message")
        && (media_subtype.eq_ignore_ascii_case("rfc822")
            || media_subtype.eq_ignore_ascii_case("global"));
    if message {
        // body-type-msg = media-message SP body-fields SP envelope SP body SP
        //                 body-fld-lines
        out.push(b' ');
        match p.message_envelope.as_deref() {
            Some(e) => envelope(out, e, false),
            None => envelope(out, &Envelope::default(), false),
        }
        out.push(b' ');
        match p.parts.first() {
            Some(inner) => body_at(out, inner, extended, depth + 1),
            None => out.extend_from_slice(
                b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0)",
            ),
        }
        out.push(b' ');
        out.extend_from_slice(p.lines.to_string().as_bytes());
    } else if media_type.eq_ignore_ascii_case("text") {
        // body-type-text = media-text SP body-fields SP body-fld-lines
        out.push(b' ');
        out.extend_from_slice(p.lines.to_string().as_bytes());
    }
    if extended {
        // body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang
        //                  [SP body-fld-loc *(SP body-extension)]]]
        out.push(b' ');
        nstr(out, p.md5.as_deref());
        out.push(b' ');
        disposition(out, p.disposition.as_ref());
        out.push(b' ');
        language(out, &p.language);
        out.push(b' ');
        nstr(out, p.location.as_deref());
    }
    out.push(b')');
}
