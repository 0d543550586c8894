//! Sample messages for APPEND, read from an mbox file.

use anyhow::{bail, Context as _};
use std::path::Path;

/// The first `max` messages of the mbox at `path`, each with CRLF line ends (RFC 5322
/// section 2.3; the mbox holds LF) and without its `From ` separator line. As Python's
/// `mailbox.mbox` does, every line starting with `From ` starts a message.
pub fn load(path: &Path, max: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut msgs = Vec::new();
    let mut cur: Option<Vec<u8>> = None;
    for line in data.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"From ") {
            if let Some(m) = cur.take() {
                push(&mut msgs, m);
                if msgs.len() >= max {
                    break;
                }
            }
            cur = Some(Vec::new());
            continue;
        }
        if let Some(m) = cur.as_mut() {
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            let body = body.strip_suffix(b"\r").unwrap_or(body);
            m.extend_from_slice(body);
            if line.ends_with(b"\n") {
                m.extend_from_slice(b"\r\n");
            }
        }
    }
    if let Some(m) = cur {
        if msgs.len() < max {
            push(&mut msgs, m);
        }
    }
    if msgs.is_empty() {
        bail!("{}: no messages (not an mbox?)", path.display());
    }
    Ok(msgs)
}

fn push(msgs: &mut Vec<Vec<u8>>, mut m: Vec<u8>) {
    // the blank line before the next `From ` belongs to the mbox, not the message
    if m.ends_with(b"\r\n\r\n") {
        m.truncate(m.len() - 2);
    }
    if !m.is_empty() {
        msgs.push(m);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn splits_and_converts() {
        let dir = std::env::temp_dir().join(format!("imap-load-mbox-{}", std::process::id()));
        let data = b"From a@b Mon\nSubject: 1\n\nbody\n\nFrom c@d Tue\nSubject: 2\n\nx\r\n";
        std::fs::write(&dir, data).expect("write");
        let m = super::load(&dir, 10).expect("load");
        let _ = std::fs::remove_file(&dir);
        assert_eq!(
            m,
            vec![
                b"Subject: 1\r\n\r\nbody\r\n".to_vec(),
                b"Subject: 2\r\n\r\nx\r\n".to_vec()
            ]
        );
    }
}
