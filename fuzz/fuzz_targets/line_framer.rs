//! Line framing: never buffers past the limit, never panics, lines fed byte by byte come
//! out as when fed whole.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailroom_proto::line::{Line, LineFramer};

fn frame(data: &[u8], step: usize) -> Vec<Option<Vec<u8>>> {
    let mut f = LineFramer::new(64);
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    for chunk in data.chunks(step.max(1)) {
        buf.extend_from_slice(chunk);
        loop {
            let (line, used) = f.next(&buf);
            let got = match line {
                Some(Line::Complete(l)) => Some(Some(l.to_vec())),
                Some(Line::TooLong) => Some(None),
                None => None,
            };
            buf.drain(..used);
            match got {
                Some(g) => out.push(g),
                None => break,
            }
        }
        assert!(buf.len() <= 66, "framer kept {} octets", buf.len());
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let whole = frame(data, data.len());
    let bytewise = frame(data, 1);
    // Over-long lines may be reported at a different point, but complete lines agree.
    let a: Vec<_> = whole.iter().flatten().collect();
    let b: Vec<_> = bytewise.iter().flatten().collect();
    assert_eq!(a, b);
});
