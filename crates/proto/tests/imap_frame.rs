//! The IMAP framer fed whole, one byte at a time and in random splits; the parser on
//! arbitrary input; modified UTF-7 round trips.

use mailroom_proto::imap::frame::{Event, Framer, FramerConfig, StreamedLiteral};
use mailroom_proto::imap::{mutf7, parse_command, parse_wire, Command, CommandKind};
use proptest::prelude::*;

/// An owned event, with adjacent stream chunks merged.
#[derive(Debug, PartialEq, Eq)]
enum Ev {
    Cmd(Result<Command, String>, Vec<StreamedLiteral>),
    Cont(u32),
    Start(u32, bool, Vec<u8>),
    Data(Vec<u8>),
    End,
    Err(Option<String>, String, bool),
}

fn drive(cfg: &FramerConfig, input: &[u8], splits: &[usize]) -> Vec<Ev> {
    let mut f = Framer::new(cfg.clone());
    let mut out: Vec<Ev> = Vec::new();
    let mut rest = input;
    let mut i = 0;
    while !rest.is_empty() {
        let n = splits
            .get(i)
            .copied()
            .unwrap_or(rest.len())
            .clamp(1, rest.len());
        i += 1;
        f.push(&rest[..n]);
        rest = &rest[n..];
        while let Some(ev) = f.next() {
            let ev = match ev {
                Event::Command(raw) => Ev::Cmd(
                    parse_command(&raw).map_err(|e| e.message),
                    raw.streamed().to_vec(),
                ),
                Event::Continue { size } => Ev::Cont(size),
                Event::StreamStart {
                    size, sync, prefix, ..
                } => Ev::Start(size, sync, prefix.to_vec()),
                Event::StreamData(d) => Ev::Data(d.to_vec()),
                Event::StreamEnd => Ev::End,
                Event::Error(e) => Ev::Err(
                    e.tag.as_ref().map(|t| t.to_string()),
                    e.to_string(),
                    e.fatal,
                ),
            };
            let accept = matches!(ev, Ev::Cont(_) | Ev::Start(_, true, _));
            match (out.last_mut(), ev) {
                (Some(Ev::Data(prev)), Ev::Data(d)) => prev.extend_from_slice(&d),
                (_, ev) => out.push(ev),
            }
            if accept {
                f.accept_literal();
            }
        }
    }
    out
}

/// The RFC 3501 section 8 client side, plus literals, APPEND and IDLE.
const SESSION: &[u8] = b"a001 login mrc secret\r\n\
a002 select inbox\r\n\
a003 fetch 12 full\r\n\
a004 fetch 12 body[header]\r\n\
a005 store 12 +flags \\deleted\r\n\
a006 LOGIN {3}\r\nmrc {6+}\r\nsecret\r\n\
a007 APPEND {5}\r\nINBOX (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {12}\r\nHello\r\nWorld {0+}\r\n\r\n\
a008 IDLE\r\nDONE\r\n\
a009 SEARCH CHARSET UTF-8 SUBJECT {4+}\r\n\xc3\xa4\xc3\xb6\r\n\
a010 logout\r\n";

#[test]
fn session_any_split() {
    let cfg = FramerConfig::default();
    let whole = drive(&cfg, SESSION, &[]);
    let bytes = drive(&cfg, SESSION, &vec![1; SESSION.len()]);
    assert_eq!(whole, bytes);
    let cmds: Vec<_> = whole
        .iter()
        .filter_map(|e| match e {
            Ev::Cmd(Ok(c), _) => Some(c.kind()),
            // "DONE" after IDLE is a line, not a command.
            Ev::Cmd(Err(_), _) => Some(CommandKind::Noop),
            _ => None,
        })
        .collect();
    assert_eq!(cmds.len(), 11, "{whole:#?}");
    assert!(whole.contains(&Ev::Data(b"Hello\r\nWorld".to_vec())));
    // The APPEND command refers to its streamed literals.
    let append = whole.iter().find_map(|e| match e {
        Ev::Cmd(Ok(c), s) if c.kind() == CommandKind::Append => Some((c.clone(), s.clone())),
        _ => None,
    });
    let Some((c, streamed)) = append else {
        panic!("no APPEND in {whole:#?}")
    };
    assert_eq!(streamed.len(), 2);
    match c.body {
        mailroom_proto::imap::CommandBody::Append { mailbox, messages } => {
            assert!(mailbox.is_inbox());
            assert_eq!(messages.len(), 2);
            assert_eq!(messages[0].data.len(), 12);
            assert_eq!(messages[1].data.len(), 0);
            assert_eq!(
                messages[0].date.map(|d| d.to_string()).as_deref(),
                Some("17-Jul-1996 02:44:25 -0700")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn append_target_before_stream() {
    let mut f = Framer::new(FramerConfig::default());
    f.push(b"A1 APPEND \"Sent &AOQ-\" (\\Seen) {100}\r\n");
    match f.next() {
        Some(Event::StreamStart {
            prefix,
            size: 100,
            sync: true,
            index: 0,
        }) => {
            let (tag, mbox) =
                mailroom_proto::imap::append_target(prefix).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(tag.as_str(), "A1");
            assert_eq!(mbox.as_str(), "Sent ä");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unterminated_literal_is_incomplete() {
    let mut f = Framer::new(FramerConfig::default());
    f.push(b"a LOGIN {10+}\r\nabc");
    assert!(f.next().is_none());
    assert!(!f.is_idle());
}

fn arb_chunk() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(1usize..40, 0..200)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn session_random_splits(splits in arb_chunk()) {
        let cfg = FramerConfig::default();
        prop_assert_eq!(drive(&cfg, SESSION, &splits), drive(&cfg, SESSION, &[]));
    }

    #[test]
    fn garbage_random_splits(input in proptest::collection::vec(
        prop_oneof![
            Just(b'{'), Just(b'}'), Just(b'+'), Just(b'\r'), Just(b'\n'), Just(b' '),
            Just(b'1'), Just(b'9'), Just(b'a'), Just(b'('), Just(b'"'), any::<u8>()
        ], 0..600), splits in arb_chunk()) {
        let cfg = FramerConfig { max_line: 64, max_literal: 50, max_literals_total: 80,
            max_append: 100, literal_minus: false, max_discard: 200 };
        prop_assert_eq!(drive(&cfg, &input, &splits), drive(&cfg, &input, &[]));
    }

    #[test]
    fn parser_never_panics(input in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_wire(&input);
        let _ = mailroom_proto::imap::append_target(&input);
    }

    #[test]
    fn parser_never_panics_on_plausible(words in proptest::collection::vec(prop_oneof![
        Just("a1 "), Just("UID "), Just("FETCH "), Just("SEARCH "), Just("STORE "), Just("LIST "),
        Just("APPEND "), Just("OR "), Just("NOT "), Just("("), Just(")"), Just("1:*"), Just("*"),
        Just("BODY["), Just("]"), Just("<0.5>"), Just("HEADER.FIELDS "), Just("{3}\r\nabc"),
        Just("\"x\\\"y\""), Just(" "), Just("1.2.MIME"), Just("RETURN "), Just("STATUS "),
        Just("&AOQ-"), Just("&"), Just("\\Seen"), Just("0"), Just("4294967296"),
    ], 0..40)) {
        let s: String = words.concat();
        let _ = parse_wire(s.as_bytes());
    }

    #[test]
    fn mutf7_round_trip(s in "\\PC*") {
        let wire = mutf7::encode(&s);
        prop_assert!(wire.bytes().all(|b| (0x20..0x7f).contains(&b)));
        let back = mutf7::decode(wire.as_bytes());
        prop_assert_eq!(back.as_deref(), Ok(s.as_str()));
    }

    #[test]
    fn mutf7_decode_is_canonical(raw in proptest::collection::vec(
        prop_oneof![Just(b'&'), Just(b'-'), Just(b','), Just(b'+'), Just(b'A'), Just(b'O'), Just(b'Q'), Just(b'2'), 0x20u8..0x7f], 0..30)) {
        if let Ok(s) = mutf7::decode(&raw) {
            let wire = mutf7::encode(&s);
            prop_assert_eq!(wire.as_bytes(), &raw[..]);
        }
    }
}
