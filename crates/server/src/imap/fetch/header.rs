//! Header blocks as octets: splitting into fields with their exact lines, for
//! `HEADER.FIELDS` / `HEADER.FIELDS.NOT` (RFC 3501 6.4.5) and header SEARCH keys.

/// One field of a header block: its name (as written, trimmed) and the exact octets of
/// its lines (continuation lines included, each ending CRLF unless the block was cut).
struct RawField<'a> {
    name: &'a [u8],
    lines: &'a [u8],
}

/// Splits a header block into fields. Stops at the empty line; lines that are not fields
/// (no colon) are skipped, and so are continuation lines before any field.
fn raw_fields(block: &[u8]) -> Vec<RawField<'_>> {
    let mut out: Vec<RawField<'_>> = Vec::new();
    let mut pos = 0;
    // Start of the current field and the length of its name, if a field is open.
    let mut open: Option<(usize, &[u8])> = None;
    while pos < block.len() {
        let end = block[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| pos + i + 1)
            .unwrap_or(block.len());
        let line = &block[pos..end];
        let content = line
            .strip_suffix(b"\n")
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .unwrap_or(line);
        let continuation = matches!(content.first(), Some(b' ' | b'\t'));
        if !continuation {
            if let Some((start, name)) = open.take() {
                out.push(RawField {
                    name,
                    lines: &block[start..pos],
                });
            }
            if content.is_empty() {
                return out;
            }
            if let Some(colon) = content.iter().position(|&b| b == b':') {
                open = Some((pos, content[..colon].trim_ascii()));
            }
        }
        pos = end;
    }
    if let Some((start, name)) = open {
        out.push(RawField {
            name,
            lines: &block[start..],
        });
    }
    out
}

/// `HEADER.FIELDS (names)` (or `.NOT` with `not`): the exact lines of the fields whose
/// names are (not) among `names`, compared case-insensitively, in message order, then
/// the empty line.
pub(crate) fn select_fields(block: &[u8], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for f in raw_fields(block) {
        let listed = names
            .iter()
            .any(|n| n.as_bytes().eq_ignore_ascii_case(f.name));
        if listed != not {
            out.extend_from_slice(f.lines);
            if !out.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            } else if !out.ends_with(b"\r\n") {
                out.pop();
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The unfolded values (CRLF of continuation lines removed, trimmed) of the fields named
/// `name` (case-insensitive), in message order.
pub(crate) fn header_field_values(block: &[u8], name: &str) -> Vec<Vec<u8>> {
    raw_fields(block)
        .into_iter()
        .filter(|f| f.name.eq_ignore_ascii_case(name.as_bytes()))
        .map(|f| {
            let colon = f.lines.iter().position(|&b| b == b':').unwrap_or(0);
            let value: Vec<u8> = f.lines[(colon + 1).min(f.lines.len())..]
                .iter()
                .copied()
                .filter(|&b| b != b'\r' && b != b'\n')
                .collect();
            value.trim_ascii().to_vec()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &[u8] =
        b"Subject: one\r\n two\r\nFrom: a@b\r\nX-Empty:\r\nsubject: again\r\n\r\nbody: no\r\n";

    #[test]
    fn fields_exact_lines_in_order() {
        let names = vec!["SUBJECT".to_string()];
        assert_eq!(
            select_fields(H, &names, false),
            b"Subject: one\r\n two\r\nsubject: again\r\n\r\n"
        );
        assert_eq!(
            select_fields(H, &names, true),
            b"From: a@b\r\nX-Empty:\r\n\r\n"
        );
        assert_eq!(select_fields(H, &["nope".to_string()], false), b"\r\n");
    }

    #[test]
    fn values_unfolded() {
        assert_eq!(
            header_field_values(H, "subject"),
            vec![b"one two".to_vec(), b"again".to_vec()]
        );
        assert_eq!(header_field_values(H, "x-empty"), vec![Vec::<u8>::new()]);
        assert!(header_field_values(H, "body").is_empty());
    }

    #[test]
    fn cut_and_garbage_blocks() {
        assert_eq!(
            select_fields(b"A: 1", &["a".into()], false),
            b"A: 1\r\n\r\n"
        );
        assert_eq!(
            select_fields(b" lead\r\nnocolon\r\nA: 1\n", &["a".into()], false),
            b"A: 1\r\n\r\n"
        );
        assert_eq!(select_fields(b"", &["a".into()], true), b"\r\n");
    }
}
