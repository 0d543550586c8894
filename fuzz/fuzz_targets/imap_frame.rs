//! The IMAP fragmentizer and parser together: arbitrary input fed in small pieces never
//! panics, never buffers without bound, and every complete command is parsed.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailroom_proto::imap::{parse_command, Event, Framer, FramerConfig};

fuzz_target!(|data: &[u8]| {
    let mut f = Framer::new(FramerConfig::default());
    for chunk in data.chunks(13) {
        f.push(chunk);
        let mut accept = None;
        loop {
            let ev = match f.next() {
                Some(e) => e,
                None => break,
            };
            match ev {
                Event::Command(raw) => {
                    let _ = parse_command(&raw);
                }
                Event::Continue { size } | Event::StreamStart { size, sync: true, .. } => {
                    accept = Some(size % 2 == 0);
                    break;
                }
                Event::Error(_) | Event::StreamData(_) | Event::StreamEnd | Event::StreamStart { .. } => {}
            }
        }
        match accept {
            Some(true) => f.accept_literal(),
            Some(false) => f.reject_literal(),
            None => {}
        }
        if f.is_closed() {
            break;
        }
    }
});
