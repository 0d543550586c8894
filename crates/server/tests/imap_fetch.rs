//! FETCH rendering over a real store (the default backend): exact bytes of every data item, and
//! imap-codec as an oracle for the syntax of each response.
#![allow(clippy::unwrap_used)]

mod fixtures;

use fixtures::*;
use imap_codec::decode::Decoder;
use imap_codec::ResponseCodec;
use mailroom_server::imap::fetch::{fetch_data, MsgRef};

/// `FETCH seq items` of message `seq` (1-based) as our renderer writes it, checked to be
/// a valid FETCH response by imap-codec.
async fn fetch(f: &Fixture, seq: usize, recent: bool, items: &str) -> String {
    let msg = MsgRef {
        seq: seq as u32,
        meta: f.metas[seq - 1].to_ref(),
        recent,
    };
    let mut out = b"junk".to_vec();
    fetch_data(&f.account, f.mailbox, msg, &attrs(items), &mut out)
        .await
        .unwrap();
    assert!(out.starts_with(b"junk"), "output must be appended");
    let out = out.split_off(4);
    let mut wire = format!("* {seq} FETCH ").into_bytes();
    wire.extend_from_slice(&out);
    wire.extend_from_slice(b"\r\n");
    match ResponseCodec::default().decode(&wire) {
        Ok((rest, _)) => assert!(rest.is_empty(), "left {rest:?}"),
        Err(e) => panic!(
            "imap-codec refused {:?}: {e:?}",
            String::from_utf8_lossy(&wire)
        ),
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn metadata_items() {
    let f = standard().await;
    let uid = f.metas[0].uid;
    assert_eq!(
        fetch(&f, 1, false, "(UID FLAGS RFC822.SIZE)").await,
        format!("(UID {uid} FLAGS (\\Seen) RFC822.SIZE 409)")
    );
    assert_eq!(
        fetch(&f, 6, true, "(FLAGS)").await,
        "(FLAGS (\\Deleted $Label1 Junk \\Recent))"
    );
    assert_eq!(fetch(&f, 3, true, "FLAGS").await, "(FLAGS (\\Recent))");
    assert_eq!(fetch(&f, 3, false, "FLAGS").await, "(FLAGS ())");
    assert_eq!(
        fetch(&f, 5, false, "(INTERNALDATE RFC822.SIZE)").await,
        "(INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 30)"
    );
    assert_eq!(
        fetch(&f, 1, false, "INTERNALDATE").await,
        "(INTERNALDATE \"15-Jan-2024 12:00:00 +0000\")"
    );
    let modseq = f.metas[1].modseq;
    assert_eq!(
        fetch(&f, 2, false, "(MODSEQ UID)").await,
        format!("(MODSEQ ({modseq}) UID {})", f.metas[1].uid)
    );
    // Bare LFs are served, and counted, as CRLF.
    assert_eq!(f.metas[5].size, 42);
    assert_eq!(
        fetch(&f, 6, false, "(RFC822.SIZE BODY.PEEK[])").await,
        "(RFC822.SIZE 42 BODY[] {42}\r\nSubject: lf\r\nFrom: a@b.c\r\n\r\nline1\r\nline2\r\n)"
    );
}

#[tokio::test]
async fn envelopes() {
    let f = standard().await;
    let alice = "((\"Alice Sender\" NIL \"alice\" \"example.org\"))";
    assert_eq!(
        fetch(&f, 1, false, "ENVELOPE").await,
        format!(
            "(ENVELOPE (\"Mon, 15 Jan 2024 10:00:00 +0000\" \"ck plain message\" {alice} {alice} {alice} \
             ((\"Test User\" NIL \"user\" \"example.net\")) NIL NIL NIL \"<plain.t@clientkit.example>\"))"
        )
    );
    let j = "((\"=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?=\" NIL \"juergen\" \"example.de\"))";
    assert_eq!(
        fetch(&f, 3, false, "ENVELOPE").await,
        format!(
            "(ENVELOPE (\"Wed, 17 Jan 2024 09:15:00 -0500\" \"=?UTF-8?B?R3LDvMOfZQ==?= ck utf8\" {j} {j} {j} \
             ((NIL NIL \"user\" \"example.net\")) NIL NIL NIL NIL))"
        )
    );
    assert_eq!(
        fetch(&f, 4, false, "ENVELOPE").await,
        "(ENVELOPE (\"Thu, 18 Jan 2024 08:00:00 +0000\" \"ck nested\" ((\"Carol\" NIL \"carol\" \"example.net\")) \
         ((NIL NIL \"sec\" \"example.net\")) \
         ((NIL NIL \"list\" NIL)(NIL NIL \"a\" \"x.org\")(NIL NIL \"b\" \"y.org\")(NIL NIL NIL NIL)) \
         NIL ((\"Dan\" NIL \"dan\" \"example.net\")) NIL \"<parent@x>\" NIL))"
    );
    assert_eq!(
        fetch(&f, 5, false, "ENVELOPE").await,
        "(ENVELOPE (NIL \"lonely\" ((NIL NIL \"x\" \"y.z\")) ((NIL NIL \"x\" \"y.z\")) ((NIL NIL \"x\" \"y.z\")) NIL NIL NIL NIL NIL))"
    );
}

const INNER_ENV: &str = "(NIL \"inner subject\" ((NIL NIL \"inner\" \"example.org\")) ((NIL NIL \"inner\" \"example.org\")) ((NIL NIL \"inner\" \"example.org\")) NIL NIL NIL NIL \"<inner@x>\")";

#[tokio::test]
async fn bodystructures() {
    let f = standard().await;
    assert_eq!(
        fetch(&f, 1, false, "(BODYSTRUCTURE BODY)").await,
        "(BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 149 7 NIL NIL NIL NIL) \
         BODY (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 149 7))"
    );
    assert_eq!(
        fetch(&f, 2, false, "BODYSTRUCTURE").await,
        "(BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 66 2 NIL NIL NIL NIL)\
         (\"application\" \"octet-stream\" (\"name\" \"data.bin\") NIL NIL \"base64\" 62 NIL (\"attachment\" (\"filename\" \"data.bin\")) NIL NIL) \
         \"mixed\" (\"boundary\" \"b1\") NIL NIL NIL))"
    );
    assert_eq!(
        fetch(&f, 2, false, "BODY").await,
        "(BODY ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 66 2)\
         (\"application\" \"octet-stream\" (\"name\" \"data.bin\") NIL NIL \"base64\" 62) \"mixed\"))"
    );
    assert_eq!(
        fetch(&f, 3, false, "BODYSTRUCTURE").await,
        "(BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"UTF-8\") NIL NIL \"8bit\" 35 2 NIL NIL NIL NIL))"
    );
    assert_eq!(
        fetch(&f, 4, false, "BODYSTRUCTURE").await,
        format!(
            "(BODYSTRUCTURE ((\"text\" \"plain\" NIL NIL NIL \"quoted-printable\" 15 1 \"Q2hlY2s=\" NIL (\"en\" \"de\") \"http://x/y\")\
             (\"message\" \"rfc822\" NIL NIL \"fwd\" \"7BIT\" 85 {INNER_ENV} \
             (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 11 1 NIL NIL NIL NIL) 5 NIL NIL NIL NIL) \
             \"mixed\" (\"boundary\" \"n\") NIL NIL NIL))"
        )
    );
    assert_eq!(
        fetch(&f, 4, false, "BODY").await,
        format!(
            "(BODY ((\"text\" \"plain\" NIL NIL NIL \"quoted-printable\" 15 1)\
             (\"message\" \"rfc822\" NIL NIL \"fwd\" \"7BIT\" 85 {INNER_ENV} \
             (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 11 1) 5) \"mixed\"))"
        )
    );
    assert_eq!(
        fetch(&f, 5, false, "BODYSTRUCTURE").await,
        "(BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL))"
    );
    assert_eq!(
        fetch(&f, 6, false, "BODY").await,
        "(BODY (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 14 2))"
    );
}

fn lit(b: &[u8]) -> String {
    format!("{{{}}}\r\n{}", b.len(), String::from_utf8_lossy(b))
}

#[tokio::test]
async fn sections_of_a_single_part() {
    let f = standard().await;
    let m = plain();
    let (h, b) = m.split_at(260);
    assert_eq!(
        fetch(
            &f,
            1,
            false,
            "(BODY.PEEK[HEADER] BODY[TEXT] BODY[1] RFC822.HEADER RFC822.TEXT)"
        )
        .await,
        format!(
            "(BODY[HEADER] {} BODY[TEXT] {} BODY[1] {} RFC822.HEADER {} RFC822.TEXT {})",
            lit(h),
            lit(b),
            lit(b),
            lit(h),
            lit(b)
        )
    );
    assert_eq!(
        fetch(&f, 1, false, "(RFC822 BODY[])").await,
        format!("(RFC822 {} BODY[] {})", lit(&m), lit(&m))
    );
    assert_eq!(
        fetch(&f, 1, false, "BODY.PEEK[HEADER.FIELDS (SUBJECT)]").await,
        "(BODY[HEADER.FIELDS (SUBJECT)] {29}\r\nSubject: ck plain message\r\n\r\n)"
    );
    assert_eq!(
        fetch(&f, 1, false, "BODY.PEEK[HEADER.FIELDS (to Subject X-None)]").await,
        "(BODY[HEADER.FIELDS (to Subject X-None)] {63}\r\nTo: Test User <user@example.net>\r\nSubject: ck plain message\r\n\r\n)"
    );
    let not = "From: Alice Sender <alice@example.org>\r\nTo: Test User <user@example.net>\r\nSubject: ck plain message\r\n\r\n";
    assert_eq!(
        fetch(
            &f,
            1,
            false,
            "BODY.PEEK[HEADER.FIELDS.NOT (DATE MESSAGE-ID CONTENT-TYPE CONTENT-TRANSFER-ENCODING)]"
        )
        .await,
        format!(
            "(BODY[HEADER.FIELDS.NOT (DATE MESSAGE-ID CONTENT-TYPE CONTENT-TRANSFER-ENCODING)] {})",
            lit(not.as_bytes())
        )
    );
    // Part 1 of a non-multipart message is its body; there is no part 2.
    assert_eq!(
        fetch(&f, 1, false, "(BODY[2] BODY[1.1] BODY[1.HEADER])").await,
        "(BODY[2] {0}\r\n BODY[1.1] {0}\r\n BODY[1.HEADER] {0}\r\n)"
    );
    assert_eq!(
        fetch(&f, 1, false, "BODY.PEEK[1.MIME]").await,
        format!("(BODY[1.MIME] {})", lit(h))
    );
    // 8-bit content goes as a literal.
    let u = utf8();
    assert_eq!(
        fetch(&f, 3, false, "BODY.PEEK[TEXT]").await,
        format!("(BODY[TEXT] {})", lit(&u[244..]))
    );
}

#[tokio::test]
async fn sections_of_multiparts() {
    let f = standard().await;
    let m = mime();
    let (h, b) = m.split_at(231);
    assert_eq!(
        fetch(
            &f,
            2,
            false,
            "(BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[2] BODY[1])"
        )
        .await,
        format!(
            "(BODY[HEADER] {} BODY[TEXT] {} BODY[2] {} BODY[1] {})",
            lit(h),
            lit(b),
            lit(ATT_B64),
            lit(TEXT_PART)
        )
    );
    assert_eq!(
        fetch(&f, 2, false, "(BODY[1.MIME] BODY[3] BODY[2.TEXT])").await,
        format!(
            "(BODY[1.MIME] {} BODY[3] {{0}}\r\n BODY[2.TEXT] {{0}}\r\n)",
            lit(b"Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
        )
    );
    // The message/rfc822 part: whole, its header, fields of it, its text, its body part.
    let inner_header: &[u8] =
        b"From: inner@example.org\r\nSubject: inner subject\r\nMessage-ID: <inner@x>\r\n\r\n";
    assert_eq!(
        fetch(
            &f,
            4,
            false,
            "(BODY[1] BODY[2] BODY[2.HEADER] BODY[2.HEADER.FIELDS (SUBJECT)] BODY[2.TEXT] BODY[2.1] BODY[2.MIME] BODY[2.1.1] BODY[1.TEXT])"
        )
        .await,
        format!(
            "(BODY[1] {{15}}\r\ncaf=C3=A9 qp=3D BODY[2] {} BODY[2.HEADER] {} BODY[2.HEADER.FIELDS (SUBJECT)] {} \
             BODY[2.TEXT] {{11}}\r\nInner body. BODY[2.1] {{11}}\r\nInner body. BODY[2.MIME] {} BODY[2.1.1] {{0}}\r\n BODY[1.TEXT] {{0}}\r\n)",
            lit(INNER),
            lit(inner_header),
            lit(b"Subject: inner subject\r\n\r\n"),
            lit(b"Content-Type: message/rfc822\r\nContent-Description: fwd\r\n\r\n"),
        )
    );
}

#[tokio::test]
async fn no_body_separator() {
    let f = standard().await;
    assert_eq!(
        fetch(
            &f,
            5,
            false,
            "(BODY[HEADER] BODY[TEXT] BODY[1] BODY[HEADER.FIELDS (FROM)])"
        )
        .await,
        format!(
            "(BODY[HEADER] {} BODY[TEXT] {{0}}\r\n BODY[1] {{0}}\r\n BODY[HEADER.FIELDS (FROM)] {})",
            lit(NOSEP),
            lit(b"From: x@y.z\r\n\r\n")
        )
    );
}

#[tokio::test]
async fn partials() {
    let f = standard().await;
    let m = plain();
    assert_eq!(
        fetch(&f, 1, false, "BODY.PEEK[]<0.100>").await,
        format!("(BODY[]<0> {})", lit(&m[..100]))
    );
    assert_eq!(
        fetch(&f, 1, false, "BODY.PEEK[]<100.50>").await,
        format!("(BODY[]<100> {})", lit(&m[100..150]))
    );
    assert_eq!(
        fetch(
            &f,
            1,
            false,
            "(BODY.PEEK[]<400.50> BODY[]<409.1> BODY[]<5000.10>)"
        )
        .await,
        format!(
            "(BODY[]<400> {} BODY[]<409> {{0}}\r\n BODY[]<5000> {{0}}\r\n)",
            lit(&m[400..])
        )
    );
    assert_eq!(
        fetch(
            &f,
            1,
            false,
            "(BODY[TEXT]<0.5> BODY[HEADER.FIELDS (SUBJECT)]<9.2> BODY[1]<6.4>)"
        )
        .await,
        "(BODY[TEXT]<0> {5}\r\nHello BODY[HEADER.FIELDS (SUBJECT)]<9> {2}\r\nck BODY[1]<6> {4}\r\nfrom)"
    );
}

/// Checks that parentheses balance outside quoted strings and literals (imap-codec
/// refuses bodies nested deeper than 8, which the store allows up to its own limit).
fn balanced(b: &[u8]) -> bool {
    let (mut depth, mut i) = (0i64, 0usize);
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' => {
                let close = i + b[i..].iter().position(|&c| c == b'}').unwrap();
                let n: usize = std::str::from_utf8(&b[i + 1..close])
                    .unwrap()
                    .parse()
                    .unwrap();
                i = close + 2 + n;
            }
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    depth == 0
}

const HOSTILE_ITEMS: &str = "(ENVELOPE BODY BODYSTRUCTURE BODY[1] BODY[1.1.1.1.1.1] BODY[1.HEADER] BODY[HEADER] BODY[TEXT] BODY[]<0.10>)";

#[tokio::test]
async fn hostile_structures_render_validly() {
    let nest = |levels: usize| {
        let mut m = Vec::new();
        for i in 0..levels {
            m.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n")
                    .as_bytes(),
            );
        }
        m
    };
    let mut rfc = Vec::new();
    for _ in 0..200 {
        rfc.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
    }
    let broken: &[u8] = b"Content-Type: multipart/mixed\r\n\r\n--\r\nx";
    let f = store_with(
        [
            nest(1000),
            rfc,
            nest(5),
            broken.to_vec(),
            b"\0\xff\r\n".to_vec(),
        ]
        .into_iter()
        .map(|m| (m, mailroom_store::Flags::EMPTY, vec![], DATE_1996))
        .collect(),
    )
    .await;
    // 1 and 2 nest deeper than imap-codec parses; 5 holds a NUL, which only a literal
    // can carry (and which imap-codec refuses in a literal).
    for seq in [1, 2, 5] {
        let msg = MsgRef {
            seq: seq as u32,
            meta: f.metas[seq - 1].to_ref(),
            recent: false,
        };
        let mut out = Vec::new();
        fetch_data(&f.account, f.mailbox, msg, &attrs(HOSTILE_ITEMS), &mut out)
            .await
            .unwrap();
        assert!(
            balanced(&out),
            "unbalanced: {}",
            String::from_utf8_lossy(&out[..200])
        );
    }
    for seq in 3..=4 {
        fetch(&f, seq, false, HOSTILE_ITEMS).await;
    }
    assert_eq!(
        fetch(&f, 4, false, "BODYSTRUCTURE").await,
        "(BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL) \"mixed\" NIL NIL NIL NIL))"
    );
    let msg = MsgRef {
        seq: 5,
        meta: f.metas[4].to_ref(),
        recent: false,
    };
    let mut out = Vec::new();
    fetch_data(&f.account, f.mailbox, msg, &attrs("BODY[]"), &mut out)
        .await
        .unwrap();
    assert_eq!(out, b"(BODY[] {4}\r\n\0\xff\r\n)");
}

/// A multipart message of several MB (many 64 KiB chunks): its octets, the body of part
/// 1 (text) and of part 2 (base64), and where the message's text starts.
fn big_message() -> (Vec<u8>, Vec<u8>, Vec<u8>, usize) {
    let mut m = b"From: a@b.c\r\nSubject: big\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n"
        .to_vec();
    let text_start = m.len();
    m.extend_from_slice(b"--zz\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
    let mut part1 = Vec::new();
    let mut i = 0u32;
    while part1.len() < 3_000_000 {
        let lead = if i.is_multiple_of(7) { "." } else { "" };
        part1.extend_from_slice(
            format!(
                "{lead}line {i} \u{e9}t\u{e9} {}\r\n",
                "x".repeat((i % 90) as usize)
            )
            .as_bytes(),
        );
        i += 1;
    }
    m.extend_from_slice(&part1);
    m.extend_from_slice(
        b"\r\n--zz\r\nContent-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: base64\r\n\r\n",
    );
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut part2 = Vec::new();
    let mut k = 0usize;
    while part2.len() < 2_000_000 {
        for _ in 0..76 {
            part2.push(alphabet[k % 64]);
            k = k.wrapping_mul(31).wrapping_add(7) % 1_000_003;
        }
        part2.extend_from_slice(b"\r\n");
    }
    m.extend_from_slice(&part2);
    m.extend_from_slice(b"\r\n--zz--\r\n");
    (m, part1, part2, text_start)
}

/// `(item {n}\r\n<data>)`.
fn literal_item(item: &str, data: &[u8]) -> Vec<u8> {
    let mut v = format!("({item} {{{}}}\r\n", data.len()).into_bytes();
    v.extend_from_slice(data);
    v.push(b')');
    v
}

/// Body sections of a message of several MB are streamed chunk by chunk, flushed as the
/// output fills, and equal the delivered octets byte for byte.
#[tokio::test]
async fn large_sections_stream_byte_for_byte() {
    use mailroom_server::imap::fetch::prepare;
    let (msg, part1, part2, text_start) = big_message();
    let f = store_with(vec![(
        msg.clone(),
        mailroom_store::Flags::EMPTY,
        vec![],
        DATE_1996,
    )])
    .await;
    let m = MsgRef {
        seq: 1,
        meta: f.metas[0].to_ref(),
        recent: false,
    };
    let origin = 100_001usize;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("BODY.PEEK[]", literal_item("BODY[]", &msg)),
        ("RFC822", literal_item("RFC822", &msg)),
        (
            "RFC822.TEXT",
            literal_item("RFC822.TEXT", &msg[text_start..]),
        ),
        (
            "BODY.PEEK[TEXT]",
            literal_item("BODY[TEXT]", &msg[text_start..]),
        ),
        ("BODY.PEEK[1]", literal_item("BODY[1]", &part1)),
        ("BODY.PEEK[2]", literal_item("BODY[2]", &part2)),
        (
            "BODY.PEEK[]<100001.2000000>",
            literal_item("BODY[]<100001>", &msg[origin..origin + 2_000_000]),
        ),
        (
            "BODY.PEEK[1]<2999990.100>",
            literal_item("BODY[1]<2999990>", &part1[2_999_990.min(part1.len())..]),
        ),
    ];
    for (items, want) in cases {
        let r = prepare(&f.account, f.mailbox, m, &attrs(items), None)
            .await
            .unwrap();
        assert_eq!(r.len(), want.len() as u64, "{items}");
        // A small flush threshold: many writes, `out` bounded by it plus one chunk.
        let (mut wire, mut out) = (Vec::new(), b"* 1 FETCH ".to_vec());
        let flush_at = 100_000;
        r.write(&mut out, &mut wire, flush_at).await.unwrap();
        assert!(
            out.len() <= flush_at + mailroom_store::CONTENT_CHUNK,
            "{items}"
        );
        assert!(
            out.capacity() <= 2 * (flush_at + mailroom_store::CONTENT_CHUNK),
            "{items}"
        );
        wire.extend_from_slice(&out);
        assert!(wire.starts_with(b"* 1 FETCH "));
        let got = &wire[10..];
        assert!(
            got == want.as_slice(),
            "{items}: {} vs {} octets, first difference at {:?}",
            got.len(),
            want.len(),
            got.iter().zip(&want).position(|(a, b)| a != b)
        );
    }
    // Several items of one message, small and streamed, in order.
    let r = prepare(
        &f.account,
        f.mailbox,
        m,
        &attrs("(UID BODY.PEEK[1] RFC822.SIZE BODY.PEEK[2])"),
        None,
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    r.write(&mut out, &mut tokio::io::sink(), usize::MAX)
        .await
        .unwrap();
    let mut want = format!("(UID {} BODY[1] {{{}}}\r\n", f.metas[0].uid, part1.len()).into_bytes();
    want.extend_from_slice(&part1);
    want.extend_from_slice(
        format!(" RFC822.SIZE {} BODY[2] {{{}}}\r\n", msg.len(), part2.len()).as_bytes(),
    );
    want.extend_from_slice(&part2);
    want.push(b')');
    assert!(out == want);
}
