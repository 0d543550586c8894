//! Bounded framing of server responses: one response is a line, plus, when that line
//! ends in a literal marker `{n}`, the `n` octets that follow and the rest of the
//! response after them (RFC 3501 section 4.3), repeated until a line ends without one.
//!
//! Nothing here knows the grammar beyond the literal marker; a response never has to
//! fit in one line or one read. Every line and literal is bounded, so a broken or
//! hostile server cannot make the tool buffer without limit.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

/// Size limits for one response.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Longest line (between literals), in octets, CRLF included.
    pub max_line: usize,
    /// Largest single literal.
    pub max_literal: u64,
    /// Largest whole response (lines and literals together).
    pub max_response: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 1 << 20,
            max_literal: 64 << 20,
            max_response: 128 << 20,
        }
    }
}

/// Why a response could not be framed. All of these end the connection.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("connection closed by the server")]
    Eof,
    #[error("response line longer than {0} octets")]
    LineTooLong(usize),
    #[error("literal of {0} octets exceeds the limits")]
    LiteralTooLarge(u64),
    #[error("i/o error: {0}")]
    Io(std::io::Error),
}

/// Reads one complete response into `buf` (cleared first), exactly as it was on the
/// wire: lines with their CRLF, literal octets inline after their `{n}\r\n` marker.
pub async fn read_response<R: AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    lim: &Limits,
) -> Result<(), ReadError> {
    buf.clear();
    loop {
        let start = buf.len();
        read_line(r, buf, lim.max_line).await?;
        let Some(n) = literal_len(&buf[start..]) else {
            return Ok(());
        };
        if n > lim.max_literal || (buf.len() as u64).saturating_add(n) > lim.max_response as u64 {
            return Err(ReadError::LiteralTooLarge(n));
        }
        let old = buf.len();
        // n <= max_literal, which fits in usize on every platform this runs on
        buf.resize(old + n as usize, 0);
        r.read_exact(&mut buf[old..]).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                ReadError::Eof
            } else {
                ReadError::Io(e)
            }
        })?;
    }
}

/// Appends one line (up to and including LF) to `buf`.
async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> Result<(), ReadError> {
    let start = buf.len();
    loop {
        let avail = r.fill_buf().await.map_err(ReadError::Io)?;
        if avail.is_empty() {
            return Err(ReadError::Eof);
        }
        let (take, done) = match memchr::memchr(b'\n', avail) {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        if buf.len() - start + take > max {
            return Err(ReadError::LineTooLong(max));
        }
        buf.extend_from_slice(&avail[..take]);
        r.consume(take);
        if done {
            return Ok(());
        }
    }
}

/// The octet count of a literal marker (`{n}` or `{n+}`) that ends `line`, if any.
pub fn literal_len(line: &[u8]) -> Option<u64> {
    let l = line.strip_suffix(b"\n")?;
    let l = l.strip_suffix(b"\r").unwrap_or(l);
    let l = l.strip_suffix(b"}")?;
    let l = l.strip_suffix(b"+").unwrap_or(l);
    let open = l.iter().rposition(|&b| b == b'{')?;
    let digits = &l[open + 1..];
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    const WIRE: &[u8] = b"* 1 FETCH (UID 7 BODY[1] {5}\r\nab\r\nc FLAGS (\\Seen))\r\n\
        * 2 EXISTS\r\n* 3 FETCH (BODY[] {0}\r\n)\r\na1 OK done\r\n";

    async fn frames(cap: usize, lim: Limits) -> Result<Vec<Vec<u8>>, ReadError> {
        let mut r = BufReader::with_capacity(cap, WIRE);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while out.len() < 4 {
            read_response(&mut r, &mut buf, &lim).await?;
            out.push(buf.clone());
        }
        Ok(out)
    }

    #[tokio::test]
    async fn literals_split_anywhere() {
        for cap in [1, 2, 3, 7, 64, 4096] {
            let f = frames(cap, Limits::default()).await.expect("frames");
            assert_eq!(
                f[0],
                b"* 1 FETCH (UID 7 BODY[1] {5}\r\nab\r\nc FLAGS (\\Seen))\r\n"
            );
            assert_eq!(f[1], b"* 2 EXISTS\r\n");
            assert_eq!(f[2], b"* 3 FETCH (BODY[] {0}\r\n)\r\n");
            assert_eq!(f[3], b"a1 OK done\r\n");
        }
    }

    #[tokio::test]
    async fn bounds_and_eof() {
        let lim = Limits {
            max_line: 16,
            ..Limits::default()
        };
        assert!(matches!(
            frames(3, lim).await,
            Err(ReadError::LineTooLong(16))
        ));
        let lim = Limits {
            max_literal: 4,
            ..Limits::default()
        };
        assert!(matches!(
            frames(3, lim).await,
            Err(ReadError::LiteralTooLarge(5))
        ));
        let mut r = BufReader::new(&b"* 1 FETCH (BODY[] {10}\r\nabc"[..]);
        let mut buf = Vec::new();
        let e = read_response(&mut r, &mut buf, &Limits::default()).await;
        assert!(matches!(e, Err(ReadError::Eof)));
    }

    #[test]
    fn markers() {
        assert_eq!(literal_len(b"x {12}\r\n"), Some(12));
        assert_eq!(literal_len(b"x {12+}\r\n"), Some(12));
        assert_eq!(literal_len(b"x {}\r\n"), None);
        assert_eq!(literal_len(b"x {1a}\r\n"), None);
        assert_eq!(literal_len(b"x 12}\r\n"), None);
        assert_eq!(literal_len(b"x {99999999999999999999}\r\n"), None);
    }
}
