//! JSON against the binary form of the message structure kept in the index: sizes, and
//! time per encode / decode / envelope-only decode, over ~1000 generated messages (plain,
//! multipart/alternative, multipart/mixed with an attachment, forwarded message/rfc822).
//! Run by hand: `cargo run --release -p mailroom-store --example structure_codec -- 1000`
#![allow(clippy::unwrap_used)]
use mailroom_store::MessageStructure;
use std::hint::black_box;
use std::time::Instant;

fn headers(i: usize, extra: &str) -> String {
    format!(
        "Return-Path: <sender{i}@example.org>\r\n\
Received: from mx{r}.example.org (mx{r}.example.org [192.0.2.{r}])\r\n\tby mail.example.com (mailroom) with ESMTPS id {i:08x}\r\n\tfor <bob@example.com>; Tue, 1 Jul 2003 10:52:37 +0200\r\n\
Received: from client.example.org (client.example.org [198.51.100.{r}])\r\n\tby mx{r}.example.org with ESMTPSA id {i:06x}; Tue, 1 Jul 2003 10:52:30 +0200\r\n\
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=s1;\r\n\th=from:to:subject:date:message-id; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n\tb=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZSBidXQgaXQgaGFzIHRoZSByaWdodCBzaGFwZQ==\r\n\
Date: Tue, 1 Jul 2003 10:{m:02}:37 +0200\r\n\
From: \"Sender Number {i}\" <sender{i}@example.org>\r\n\
To: Bob <bob@example.com>, team: carol@example.com, dave@example.net;\r\n\
Cc: =?utf-8?q?J=C3=B6rg?= <joerg@example.de>\r\n\
Subject: Message number {i} about the quarterly report\r\n\
Message-ID: <{i}.{r}@example.org>\r\n\
In-Reply-To: <{p}.{r}@example.org>\r\n\
MIME-Version: 1.0\r\n{extra}",
        r = i % 250,
        m = i % 60,
        p = i.saturating_sub(1),
    )
}

fn message(i: usize) -> Vec<u8> {
    let text = "Hello,\r\n\r\nplease find the numbers below.\r\n\r\nRegards\r\n".repeat(3);
    let m = match i % 4 {
        0 => format!(
            "{}Content-Type: text/plain; charset=utf-8\r\n\r\n{text}",
            headers(i, "")
        ),
        1 => format!(
            "{}\r\n--alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{text}\r\n--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>{text}</p>\r\n--alt--\r\n",
            headers(i, "Content-Type: multipart/alternative; boundary=\"alt\"\r\n")
        ),
        2 => format!(
            "{}\r\n--mix\r\nContent-Type: multipart/alternative; boundary=alt\r\n\r\n--alt\r\nContent-Type: text/plain\r\n\r\n{text}\r\n--alt\r\nContent-Type: text/html\r\n\r\n<p>{text}</p>\r\n--alt--\r\n--mix\r\nContent-Type: application/pdf; name=\"report-{i}.pdf\"\r\nContent-Disposition: attachment; filename=\"report-{i}.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--mix--\r\n",
            headers(i, "Content-Type: multipart/mixed; boundary=mix\r\n"),
            "JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZURl\r\n".repeat(40)
        ),
        _ => format!(
            "{}\r\n--fwd\r\n\r\nForwarded.\r\n--fwd\r\nContent-Type: message/rfc822\r\n\r\n{}\r\n--in\r\nContent-Type: text/plain\r\n\r\n{text}\r\n--in\r\nContent-Type: image/png; name=a.png\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <img{i}@example.org>\r\n\r\niVBORw0KGgo=\r\n--in--\r\n--fwd--\r\n",
            headers(i, "Content-Type: multipart/mixed; boundary=fwd\r\n"),
            headers(i + 1, "Content-Type: multipart/related; boundary=in\r\n")
        ),
    };
    m.into_bytes()
}

/// Runs `f` over every item, `rounds` times; returns µs per item.
fn time<T>(items: &[T], rounds: usize, mut f: impl FnMut(&T)) -> f64 {
    let start = Instant::now();
    for _ in 0..rounds {
        for it in items {
            f(it);
        }
    }
    start.elapsed().as_secs_f64() * 1e6 / (rounds * items.len()) as f64
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let rounds = 5;
    let structures: Vec<MessageStructure> = (0..n)
        .map(|i| MessageStructure::parse(&message(i)))
        .collect();
    let json: Vec<Vec<u8>> = structures
        .iter()
        .map(|s| serde_json::to_vec(s).unwrap())
        .collect();
    let bin: Vec<Vec<u8>> = structures.iter().map(MessageStructure::to_bytes).collect();
    for (s, b) in structures.iter().zip(&bin) {
        assert_eq!(&MessageStructure::from_stored(b).unwrap(), s);
    }
    let size = |v: &[Vec<u8>]| v.iter().map(Vec::len).sum::<usize>();
    let header: usize = structures.iter().map(|s| s.header.len()).sum();
    let parts = |s: &MessageStructure| {
        fn count(p: &mailroom_store::BodyStructure) -> usize {
            1 + p.parts.iter().map(count).sum::<usize>()
        }
        count(&s.body)
    };
    let total_parts: usize = structures.iter().map(parts).sum();
    println!(
        "{n} messages, {total_parts} MIME parts, header blocks {:.0} B/msg",
        header as f64 / n as f64
    );
    println!(
        "{:<8} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "format", "B/msg", "enc µs", "dec µs", "env µs", "total KiB"
    );
    for (name, blobs) in [("json", &json), ("binary", &bin)] {
        let enc = if name == "json" {
            time(&structures, rounds, |s| {
                black_box(serde_json::to_vec(s).unwrap());
            })
        } else {
            time(&structures, rounds, |s| {
                black_box(s.to_bytes());
            })
        };
        let dec = time(blobs, rounds, |b| {
            black_box(MessageStructure::from_stored(b).unwrap());
        });
        let env = time(blobs, rounds, |b| {
            black_box(MessageStructure::envelope_from_stored(b).unwrap());
        });
        println!(
            "{name:<8} {:>10.0} {enc:>9.2} {dec:>9.2} {env:>9.2} {:>9.0}",
            size(blobs) as f64 / n as f64,
            size(blobs) as f64 / 1024.0
        );
    }
}
