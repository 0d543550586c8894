//! A small SMTP client (RFC 5321, client side) for relaying submitted messages to the
//! smarthost (P6): greeting, EHLO with a HELO fallback, MAIL FROM, RCPT TO per recipient,
//! DATA with dot-stuffing and CRLF line ends, QUIT.
//!
//! Every reply may span several lines (`250-...` then `250 ...`, RFC 5321 4.2.1); each is
//! read within a time-out (the end of DATA gets ten times as long, RFC 5321 4.5.3.2.6
//! suggests 10 minutes there), with bounded line length and line count. Reply codes are
//! checked at every step; a refusal carries the server's reply.
//!
//! The conversation runs over any `AsyncRead + AsyncWrite` stream ([`Connection`]); the
//! EHLO keywords are kept ([`Connection::extensions`]), so STARTTLS can be added by
//! upgrading the stream after EHLO and saying EHLO again. Not done: the smarthost is
//! expected on loopback or a trusted network.
//!
//! Does not live here: which recipients to relay (`submit`), the message's contents.

use mailroom_store::{MessageContent, MessageData, CONTENT_CHUNK};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest reply line accepted (RFC 5321 4.5.3.1.5: 512 octets; we are lenient).
pub const MAX_REPLY_LINE: usize = 4096;
/// Most lines in one reply (EHLO lists about 10).
pub const MAX_REPLY_LINES: usize = 100;

/// One SMTP reply: its code and its text lines (without code and separator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// The reply as one line: `550 5.1.1 no such user` (continuation lines joined by ` / `).
    pub fn text(&self) -> String {
        format!("{} {}", self.code, self.lines.join(" / "))
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

/// Why a relay failed.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    /// Could not connect, or the connection broke.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The server did not answer in time.
    #[error("time-out waiting for the smarthost's reply to {0}")]
    Timeout(&'static str),
    /// The server sent something that is not an SMTP reply.
    #[error("smarthost protocol error: {0}")]
    Protocol(String),
    /// The server refused a step of the transaction.
    #[error("smarthost refused {stage}: {reply}")]
    Refused { stage: &'static str, reply: Reply },
}

/// An SMTP conversation over a stream.
pub struct Connection<S> {
    stream: S,
    buf: Vec<u8>,
    timeout: Duration,
    extensions: Vec<String>,
}

impl Connection<TcpStream> {
    /// Connects to `addr` (`host:port`) within the time-out.
    pub async fn connect(addr: &str, timeout: Duration) -> Result<Self, SmtpError> {
        let s = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| SmtpError::Timeout("connect"))??;
        let _ = s.set_nodelay(true);
        Ok(Connection::new(s, timeout))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Wraps an open stream.
    pub fn new(stream: S, timeout: Duration) -> Self {
        Connection {
            stream,
            buf: Vec::new(),
            timeout,
            extensions: Vec::new(),
        }
    }

    /// The EHLO keywords of the server, upper case (`PIPELINING`, `SIZE 1000000`, ...).
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// True when the server announced `kw` in its EHLO reply.
    pub fn has_extension(&self, kw: &str) -> bool {
        self.extensions.iter().any(|e| {
            e.split(' ')
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case(kw))
        })
    }

    /// Hands the stream back (for a STARTTLS upgrade).
    pub fn into_inner(self) -> S {
        self.stream
    }

    async fn read_line(
        &mut self,
        stage: &'static str,
        timeout: Duration,
    ) -> Result<String, SmtpError> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            if self.buf.len() > MAX_REPLY_LINE {
                return Err(SmtpError::Protocol(format!(
                    "reply line longer than {MAX_REPLY_LINE} octets"
                )));
            }
            let mut chunk = [0u8; 2048];
            let n = tokio::time::timeout(timeout, self.stream.read(&mut chunk))
                .await
                .map_err(|_| SmtpError::Timeout(stage))??;
            if n == 0 {
                return Err(SmtpError::Protocol(format!(
                    "connection closed while waiting for the reply to {stage}"
                )));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads one (possibly multi-line) reply.
    pub async fn read_reply(&mut self, stage: &'static str) -> Result<Reply, SmtpError> {
        let t = self.timeout;
        self.read_reply_within(stage, t).await
    }

    async fn read_reply_within(
        &mut self,
        stage: &'static str,
        timeout: Duration,
    ) -> Result<Reply, SmtpError> {
        let mut code: Option<u16> = None;
        let mut lines = Vec::new();
        loop {
            let line = self.read_line(stage, timeout).await?;
            let b = line.as_bytes();
            let c = match b.get(..3).and_then(|d| std::str::from_utf8(d).ok()) {
                Some(d)
                    if d.bytes().all(|x| x.is_ascii_digit()) && (b'2'..=b'5').contains(&b[0]) =>
                {
                    d.parse::<u16>()
                        .map_err(|_| SmtpError::Protocol(line.clone()))?
                }
                _ => {
                    return Err(SmtpError::Protocol(format!(
                        "not an SMTP reply: {:?}",
                        line.chars().take(80).collect::<String>()
                    )))
                }
            };
            if code.is_some_and(|p| p != c) {
                return Err(SmtpError::Protocol(format!(
                    "reply codes differ within one reply: {line:?}"
                )));
            }
            code = Some(c);
            let sep = b.get(3).copied();
            lines.push(line.get(4..).unwrap_or("").to_string());
            if lines.len() > MAX_REPLY_LINES {
                return Err(SmtpError::Protocol("reply with too many lines".into()));
            }
            match sep {
                Some(b'-') => continue,
                None | Some(b' ') => return Ok(Reply { code: c, lines }),
                Some(_) => {
                    return Err(SmtpError::Protocol(format!(
                        "bad reply separator: {line:?}"
                    )))
                }
            }
        }
    }

    async fn send_line(&mut self, line: &str) -> Result<(), SmtpError> {
        let mut v = Vec::with_capacity(line.len() + 2);
        v.extend_from_slice(line.as_bytes());
        v.extend_from_slice(b"\r\n");
        let t = self.timeout;
        tokio::time::timeout(t, async {
            self.stream.write_all(&v).await?;
            self.stream.flush().await
        })
        .await
        .map_err(|_| SmtpError::Timeout("a command"))??;
        Ok(())
    }

    /// Sends a command and reads its reply.
    pub async fn command(&mut self, line: &str, stage: &'static str) -> Result<Reply, SmtpError> {
        self.send_line(line).await?;
        self.read_reply(stage).await
    }

    /// Sends a command and requires a 2xx reply.
    async fn expect_ok(&mut self, line: &str, stage: &'static str) -> Result<Reply, SmtpError> {
        let r = self.command(line, stage).await?;
        if r.is_positive() {
            Ok(r)
        } else {
            Err(SmtpError::Refused { stage, reply: r })
        }
    }

    /// Reads the greeting (220) and introduces us: EHLO, or HELO if EHLO is refused.
    pub async fn hello(&mut self, helo: &str) -> Result<(), SmtpError> {
        let g = self.read_reply("the greeting").await?;
        if g.code != 220 {
            return Err(SmtpError::Refused {
                stage: "the connection",
                reply: g,
            });
        }
        let r = self.command(&format!("EHLO {helo}"), "EHLO").await?;
        if r.is_positive() {
            self.extensions = r
                .lines
                .iter()
                .skip(1)
                .map(|l| l.trim().to_ascii_uppercase())
                .collect();
            return Ok(());
        }
        // RFC 5321 4.1.4: an old server answers EHLO with 500/502; fall back to HELO.
        self.extensions.clear();
        self.expect_ok(&format!("HELO {helo}"), "HELO").await?;
        Ok(())
    }

    /// `MAIL FROM:<from>`.
    pub async fn mail_from(&mut self, from: &str) -> Result<(), SmtpError> {
        self.expect_ok(&format!("MAIL FROM:<{}>", clean(from)), "MAIL FROM")
            .await?;
        Ok(())
    }

    /// `RCPT TO:<to>`: the reply, positive or not (the caller decides).
    pub async fn rcpt_to(&mut self, to: &str) -> Result<Reply, SmtpError> {
        self.command(&format!("RCPT TO:<{}>", clean(to)), "RCPT TO")
            .await
    }

    /// `DATA`, the message (dot-stuffed, CRLF line ends, terminated), and the final reply.
    pub async fn data(&mut self, body: &MessageData) -> Result<Reply, SmtpError> {
        let r = self.command("DATA", "DATA").await?;
        if r.code != 354 {
            return Err(SmtpError::Refused {
                stage: "DATA",
                reply: r,
            });
        }
        let mut enc = DotStuffer::default();
        let mut out = Vec::with_capacity(CONTENT_CHUNK + 1024);
        let mut chunk = Vec::with_capacity(CONTENT_CHUNK);
        // Chunk by chunk through the store's content primitive: never the whole message.
        let content: &dyn MessageContent = body;
        let size = content.size();
        let mut offset = 0u64;
        while offset < size {
            chunk.clear();
            offset += content.append_chunk(offset, size, &mut chunk).await? as u64;
            enc.encode(&chunk, &mut out);
            self.write_all(&out).await?;
            out.clear();
        }
        enc.finish(&mut out);
        self.write_all(&out).await?;
        let t = self.timeout.saturating_mul(10);
        let r = self.read_reply_within("the end of DATA", t).await?;
        if r.is_positive() {
            Ok(r)
        } else {
            Err(SmtpError::Refused {
                stage: "the message",
                reply: r,
            })
        }
    }

    async fn write_all(&mut self, data: &[u8]) -> Result<(), SmtpError> {
        if data.is_empty() {
            return Ok(());
        }
        let t = self.timeout;
        tokio::time::timeout(t, self.stream.write_all(data))
            .await
            .map_err(|_| SmtpError::Timeout("the message data"))??;
        Ok(())
    }

    /// `RSET`, ignoring the reply's code.
    pub async fn rset(&mut self) -> Result<(), SmtpError> {
        self.command("RSET", "RSET").await.map(|_| ())
    }

    /// `QUIT`, ignoring what happens then.
    pub async fn quit(mut self) {
        let _ = self.command("QUIT", "QUIT").await;
        let _ = self.stream.shutdown().await;
    }
}

/// Strips what cannot be in a path (controls, angle brackets, spaces).
fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() && *c != '<' && *c != '>' && *c != ' ')
        .collect()
}

/// Encodes message octets for DATA (RFC 5321 4.5.2): a line starting with `.` gets one
/// more; bare LF and bare CR become CRLF; the end adds a CRLF if missing and `.` CRLF.
#[derive(Debug)]
pub struct DotStuffer {
    bol: bool,
    cr: bool,
}

impl Default for DotStuffer {
    fn default() -> Self {
        DotStuffer {
            bol: true,
            cr: false,
        }
    }
}

impl DotStuffer {
    /// Encodes `input`, appending to `out`.
    pub fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            if self.cr {
                self.cr = false;
                out.extend_from_slice(b"\r\n");
                self.bol = true;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\r' => self.cr = true,
                b'\n' => {
                    out.extend_from_slice(b"\r\n");
                    self.bol = true;
                }
                _ => {
                    if self.bol && b == b'.' {
                        out.push(b'.');
                    }
                    out.push(b);
                    self.bol = false;
                }
            }
        }
    }

    /// Ends the message: pending CR, a final CRLF if the last line has none, `.` CRLF.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.cr {
            self.cr = false;
            out.extend_from_slice(b"\r\n");
            self.bol = true;
        }
        if !self.bol {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stuff(parts: &[&[u8]]) -> Vec<u8> {
        let mut e = DotStuffer::default();
        let mut out = Vec::new();
        for p in parts {
            e.encode(p, &mut out);
        }
        e.finish(&mut out);
        out
    }

    #[test]
    fn dot_stuffing_and_line_ends() {
        assert_eq!(stuff(&[b"a\r\n.b\r\n"]), b"a\r\n..b\r\n.\r\n");
        assert_eq!(stuff(&[b".\r\n"]), b"..\r\n.\r\n");
        assert_eq!(stuff(&[b"a\nb"]), b"a\r\nb\r\n.\r\n");
        assert_eq!(stuff(&[b"a\r", b"\n.x"]), b"a\r\n..x\r\n.\r\n");
        assert_eq!(stuff(&[b"a\rb"]), b"a\r\nb\r\n.\r\n");
        assert_eq!(stuff(&[b""]), b".\r\n");
        assert_eq!(stuff(&[b"x\r"]), b"x\r\n.\r\n");
    }

    #[tokio::test]
    async fn multi_line_replies() {
        let (a, mut b) = tokio::io::duplex(4096);
        let mut c = Connection::new(a, Duration::from_secs(5));
        b.write_all(b"220 hi\r\n250-mx.test\r\n250-PIPELINING\r\n250 SIZE 100\r\n")
            .await
            .unwrap();
        let g = c.read_reply("g").await.unwrap();
        assert_eq!(g.code, 220);
        let r = c.read_reply("r").await.unwrap();
        assert_eq!(r.code, 250);
        assert_eq!(r.lines, vec!["mx.test", "PIPELINING", "SIZE 100"]);
        b.write_all(b"250-a\r\n251 b\r\n").await.unwrap();
        assert!(matches!(
            c.read_reply("x").await,
            Err(SmtpError::Protocol(_))
        ));
        b.write_all(b"hello\r\n").await.unwrap();
        assert!(matches!(
            c.read_reply("x").await,
            Err(SmtpError::Protocol(_))
        ));
    }

    #[tokio::test]
    async fn timeout() {
        let (a, _b) = tokio::io::duplex(64);
        let mut c = Connection::new(a, Duration::from_millis(50));
        assert!(matches!(
            c.read_reply("x").await,
            Err(SmtpError::Timeout(_))
        ));
    }
}
