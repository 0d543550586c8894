//! Line framing with a hard limit, for the line-oriented protocols (LMTP, POP3).
//!
//! [`LineFramer`] splits an input buffer into lines ended by CRLF (a bare LF is accepted
//! too, as robust servers do). A line longer than the limit is never buffered whole: the
//! framer reports [`Line::TooLong`] once and then discards input up to the next line end,
//! so a client sending an endless line costs at most `max` octets of memory.

/// One framing result.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A complete line without its line ending.
    Complete(&'a [u8]),
    /// A line exceeded the limit; its remainder is being discarded.
    TooLong,
}

/// Incremental line splitter over a caller-owned buffer.
#[derive(Debug, Clone)]
pub struct LineFramer {
    max: usize,
    discarding: bool,
}

impl LineFramer {
    /// A framer that accepts lines of at most `max` octets (line ending excluded).
    pub fn new(max: usize) -> LineFramer {
        LineFramer {
            max,
            discarding: false,
        }
    }

    /// The line limit.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Looks for the next line in `buf`. Returns the result and how many octets of `buf`
    /// the caller must drop after using it; `None` when more input is needed (the caller
    /// must drop `consumed` octets even then: discarded input of an over-long line).
    pub fn next<'a>(&mut self, buf: &'a [u8]) -> (Option<Line<'a>>, usize) {
        let lf = buf.iter().position(|&b| b == b'\n');
        if self.discarding {
            return match lf {
                Some(i) => {
                    self.discarding = false;
                    (None, i + 1)
                }
                None => (None, buf.len()),
            };
        }
        match lf {
            Some(i) => {
                let mut end = i;
                if end > 0 && buf[end - 1] == b'\r' {
                    end -= 1;
                }
                if end > self.max {
                    (Some(Line::TooLong), i + 1)
                } else {
                    (Some(Line::Complete(&buf[..end])), i + 1)
                }
            }
            None if buf.len() > self.max + 1 => {
                // No line end within the limit (+1 for a CR whose LF has not come yet).
                self.discarding = true;
                (Some(Line::TooLong), buf.len())
            }
            None => (None, 0),
        }
    }
}

/// Dot-stuffs a message for sending (RFC 5321 4.5.2; RFC 1939 3 for POP3) and converts
/// bare LF line endings to CRLF. `bol` carries "at beginning of line" across calls.
///
/// This is the inner loop of every POP3 RETR, so it copies whole spans: only the line
/// ends (found with SIMD `memchr`) are looked at, and a span is cut only where a dot must
/// be doubled or a CR added. CRLF text without leading dots is one copy.
pub fn dot_stuff(input: &[u8], bol: &mut bool, prev_cr: &mut bool, out: &mut Vec<u8>) {
    let Some(&last) = input.last() else {
        return;
    };
    out.reserve(input.len() + input.len() / 64 + 4);
    if *bol && input[0] == b'.' {
        out.push(b'.');
    }
    let mut start = 0;
    for i in memchr::memchr_iter(b'\n', input) {
        let cr_before = if i > 0 {
            input[i - 1] == b'\r'
        } else {
            *prev_cr
        };
        let dot_after = input.get(i + 1) == Some(&b'.');
        if !cr_before || dot_after {
            out.extend_from_slice(&input[start..i]);
            if !cr_before {
                out.push(b'\r');
            }
            out.push(b'\n');
            if dot_after {
                out.push(b'.');
            }
            start = i + 1;
        }
    }
    out.extend_from_slice(&input[start..]);
    *bol = last == b'\n';
    *prev_cr = last == b'\r';
}

/// Length of the prefix of `input` that [`dot_stuff`] (starting in state `bol`,
/// `prev_cr`) would copy unchanged: up to the first bare LF, or through the line end
/// before the first line that starts with a dot.
pub fn unchanged_prefix(input: &[u8], bol: bool, prev_cr: bool) -> usize {
    if bol && input.first() == Some(&b'.') {
        return 0;
    }
    for i in memchr::memchr_iter(b'\n', input) {
        let cr_before = if i > 0 {
            input[i - 1] == b'\r'
        } else {
            prev_cr
        };
        if !cr_before {
            return i;
        }
        if input.get(i + 1) == Some(&b'.') {
            return i + 1;
        }
    }
    input.len()
}

/// [`dot_stuff`] for text that is already in `buf[start..]` (read there straight from a
/// file): the unchanged prefix stays where it is, and only the rest, if any, is copied out
/// and stuffed back. Text that needs no change (CRLF without leading dots, the common
/// case) is not copied at all.
pub fn dot_stuff_in_place(buf: &mut Vec<u8>, start: usize, bol: &mut bool, prev_cr: &mut bool) {
    let Some(input) = buf.get(start..) else {
        return;
    };
    if input.is_empty() {
        return;
    }
    let keep = unchanged_prefix(input, *bol, *prev_cr);
    if keep > 0 {
        *bol = input[keep - 1] == b'\n';
        *prev_cr = input[keep - 1] == b'\r';
    }
    if keep == input.len() {
        return;
    }
    let rest = buf.split_off(start + keep);
    dot_stuff(&rest, bol, prev_cr, buf);
}

/// The octet-at-a-time definition of [`dot_stuff`], kept as the reference for its tests.
#[cfg(test)]
fn dot_stuff_reference(input: &[u8], bol: &mut bool, prev_cr: &mut bool, out: &mut Vec<u8>) {
    for &b in input {
        if *bol && b == b'.' {
            out.push(b'.');
        }
        if b == b'\n' && !*prev_cr {
            out.push(b'\r');
        }
        out.push(b);
        *prev_cr = b == b'\r';
        *bol = b == b'\n';
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_lines(framer: &mut LineFramer, input: &[u8], chunk: usize) -> Vec<Option<Vec<u8>>> {
        let mut out = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            buf.extend_from_slice(piece);
            loop {
                let (line, consumed) = framer.next(&buf);
                let got = line.map(|l| match l {
                    Line::Complete(b) => Some(b.to_vec()),
                    Line::TooLong => None,
                });
                buf.drain(..consumed);
                match got {
                    Some(g) => out.push(g),
                    None if consumed == 0 || buf.is_empty() => break,
                    None => {}
                }
            }
        }
        out
    }

    #[test]
    fn dot_stuff_matches_the_octet_reference_in_any_split() {
        let samples: [&[u8]; 6] = [
            b".a\r\n..b\r\n.\r\nc\n.d\n\n.",
            b"\r\r\n\n\r.\n.",
            b"no line end",
            b"\n\n\n...\n",
            b"x\r",
            b"",
        ];
        for sample in samples {
            for split in 1..=sample.len().max(1) {
                let (mut b1, mut c1, mut o1) = (true, false, Vec::new());
                let (mut b2, mut c2, mut o2) = (true, false, Vec::new());
                for chunk in sample.chunks(split) {
                    dot_stuff(chunk, &mut b1, &mut c1, &mut o1);
                    dot_stuff_reference(chunk, &mut b2, &mut c2, &mut o2);
                }
                assert_eq!(o1, o2, "sample {sample:?} split {split}");
                assert_eq!((b1, c1), (b2, c2));
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn dot_stuff_matches_the_reference_on_random_text(
            text in proptest::collection::vec(proptest::sample::select(b".\r\na".to_vec()), 0..200),
            split in 1usize..64,
        ) {
            let (mut b1, mut c1, mut o1) = (true, false, Vec::new());
            let (mut b2, mut c2, mut o2) = (true, false, Vec::new());
            for chunk in text.chunks(split) {
                dot_stuff(chunk, &mut b1, &mut c1, &mut o1);
                dot_stuff_reference(chunk, &mut b2, &mut c2, &mut o2);
            }
            proptest::prop_assert_eq!(o1, o2);
            proptest::prop_assert_eq!((b1, c1), (b2, c2));
        }
    }

    proptest::proptest! {
        #[test]
        fn dot_stuff_in_place_equals_dot_stuff(
            text in proptest::collection::vec(proptest::sample::select(b".\r\nab".to_vec()), 0..300),
            split in 1usize..80,
            head in proptest::collection::vec(proptest::sample::select(b"+OK\r\n".to_vec()), 0..8),
        ) {
            let (mut b1, mut c1, mut o1) = (true, false, head.clone());
            let (mut b2, mut c2, mut o2) = (true, false, head);
            for chunk in text.chunks(split) {
                dot_stuff(chunk, &mut b1, &mut c1, &mut o1);
                let start = o2.len();
                o2.extend_from_slice(chunk);
                dot_stuff_in_place(&mut o2, start, &mut b2, &mut c2);
            }
            proptest::prop_assert_eq!(o1, o2);
            proptest::prop_assert_eq!((b1, c1), (b2, c2));
        }
    }

    #[test]
    fn unchanged_prefix_stops_where_a_change_is_needed() {
        assert_eq!(unchanged_prefix(b"ab\r\ncd\r\n", true, false), 8);
        assert_eq!(unchanged_prefix(b".ab\r\n", true, false), 0);
        assert_eq!(unchanged_prefix(b".ab\r\n", false, false), 5);
        assert_eq!(unchanged_prefix(b"ab\r\n.c\r\n", true, false), 4);
        assert_eq!(unchanged_prefix(b"ab\ncd", true, false), 2);
        assert_eq!(unchanged_prefix(b"\nab", false, true), 3);
        assert_eq!(unchanged_prefix(b"\nab", false, false), 0);
    }

    #[test]
    fn splits_crlf_and_lf() {
        let mut f = LineFramer::new(100);
        let got = all_lines(&mut f, b"USER a\r\nPASS b\nQUIT\r\n", 1000);
        assert_eq!(
            got,
            vec![
                Some(b"USER a".to_vec()),
                Some(b"PASS b".to_vec()),
                Some(b"QUIT".to_vec())
            ]
        );
    }

    #[test]
    fn byte_at_a_time_equals_whole() {
        let input = b"A\r\nBB\r\n\r\nCCC\r\n";
        let whole = all_lines(&mut LineFramer::new(10), input, 1000);
        let bytes = all_lines(&mut LineFramer::new(10), input, 1);
        assert_eq!(whole, bytes);
        assert_eq!(whole.len(), 4);
    }

    #[test]
    fn too_long_is_reported_once_and_skipped() {
        let mut input = vec![b'x'; 5000];
        input.extend_from_slice(b"\r\nNOOP\r\n");
        for chunk in [1, 7, 100, 10000] {
            let got = all_lines(&mut LineFramer::new(512), &input, chunk);
            assert_eq!(got, vec![None, Some(b"NOOP".to_vec())], "chunk {chunk}");
        }
    }

    #[test]
    fn exactly_at_limit_is_accepted() {
        let mut input = vec![b'y'; 512];
        input.extend_from_slice(b"\r\n");
        let got = all_lines(&mut LineFramer::new(512), &input, 3);
        assert_eq!(got, vec![Some(vec![b'y'; 512])]);
    }
}
