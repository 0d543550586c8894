//! Output: the session's output buffer (status lines, untagged lines) and flushing it.

use super::Session;
use mailroom_proto::imap::encode::{status_line, ResponseCode, Status};
use mailroom_proto::imap::Tag;
use std::io;
use tokio::io::AsyncWriteExt;

/// Output is flushed once it grows past this, even with input pending.
pub(crate) const FLUSH_AT: usize = 64 * 1024;

impl Session {
    /// Appends a status line; its text 7-bit unless the session enabled UTF-8
    /// ([`Session::text`], RFC 9051 Appendix E item 24).
    pub(crate) fn line(
        &mut self,
        tag: Option<&Tag>,
        status: Status,
        code: Option<&ResponseCode>,
        text: &str,
    ) {
        let text = self.text(text);
        status_line(&mut self.out, tag, status, code, &text);
    }

    /// Appends raw text and CRLF.
    pub(crate) fn untagged(&mut self, text: &str) {
        self.out.extend_from_slice(b"* ");
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.stream.flush().await?;
            crate::metrics::bytes_out(crate::net::Protocol::Imap, self.out.len());
            self.out.clear();
            if self.out.capacity() > 16 * 1024 {
                self.out = Vec::new();
            }
        }
        Ok(())
    }

    /// Flushes when the output buffer is large (long FETCH answers).
    pub(crate) async fn maybe_flush(&mut self) -> io::Result<()> {
        if self.out.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    pub(crate) async fn bye_shutdown(&mut self) -> io::Result<()> {
        self.line(
            None,
            Status::Bye,
            Some(&ResponseCode::Unavailable),
            "server shutting down",
        );
        self.flush().await
    }
}
