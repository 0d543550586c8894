//! [`Stream`]: a connection that may be plain TCP, TLS over TCP, or the process's standard
//! input/output (`mailroom pop3 --stdio`), and may be upgraded to TLS in place (STARTTLS,
//! STLS).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A client connection.
pub enum Stream {
    /// Clear text.
    Plain(TcpStream),
    /// TLS (implicit, or after STARTTLS).
    Tls(Box<TlsStream<TcpStream>>),
    /// Standard input and output (inetd, tcpserver, systemd socket activation).
    Stdio(tokio::io::Stdin, tokio::io::Stdout),
    /// COMPRESS=DEFLATE (RFC 4978) over one of the others.
    Deflate(Box<super::deflate::Deflate>),
    /// A stream that is being upgraded (never seen by sessions).
    Upgrading,
}

impl Stream {
    /// True when the connection is encrypted. Standard I/O counts as not encrypted.
    pub fn is_tls(&self) -> bool {
        match self {
            Stream::Tls(_) => true,
            Stream::Deflate(d) => d.inner().is_tls(),
            _ => false,
        }
    }

    /// True when COMPRESS is active.
    pub fn is_compressed(&self) -> bool {
        matches!(self, Stream::Deflate(_))
    }

    /// Turns on COMPRESS=DEFLATE (after the tagged OK was sent and flushed).
    pub fn compress(&mut self) {
        let inner = std::mem::replace(self, Stream::Upgrading);
        *self = Stream::Deflate(Box::new(super::deflate::Deflate::new(inner)));
    }

    /// True when STARTTLS can be offered on this stream (clear-text TCP).
    pub fn can_starttls(&self) -> bool {
        matches!(self, Stream::Plain(_))
    }

    /// Waits until a read would not block, without holding a buffer: an idle connection
    /// then costs no read buffer at all. For TLS and standard input it returns at once
    /// (TLS may hold decrypted data already; the caller's read then waits as usual).
    pub async fn wait_readable(&self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.readable().await,
            Stream::Deflate(d) if !d.has_buffered_input() => {
                Box::pin(d.inner().wait_readable()).await
            }
            _ => Ok(()),
        }
    }

    /// Acknowledges what was received at once instead of after the delayed-ACK timer
    /// (TCP_QUICKACK). For a session waiting for the rest of a command it has partly
    /// received: a client that writes a literal and its closing CRLF in two writes (Python
    /// imaplib's APPEND) holds the CRLF back under Nagle's algorithm until the literal is
    /// acknowledged, and Linux delays that ACK by 40 ms when the server has nothing to
    /// send. Errors are ignored (the ACK then comes late, as without the call).
    pub fn ack_now(&self) {
        let tcp = match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => tls.get_ref().0,
            Stream::Deflate(d) => return d.inner().ack_now(),
            _ => return,
        };
        #[cfg(target_os = "linux")]
        let _ = socket2::SockRef::from(tcp).set_tcp_quickack(true);
        #[cfg(not(target_os = "linux"))]
        let _ = tcp;
    }

    /// Upgrades a clear-text TCP stream to TLS (after the protocol's go-ahead was sent).
    pub async fn upgrade(&mut self, acceptor: &TlsAcceptor) -> io::Result<()> {
        match std::mem::replace(self, Stream::Upgrading) {
            Stream::Plain(tcp) => {
                let tls =
                    tokio::time::timeout(std::time::Duration::from_secs(30), acceptor.accept(tcp))
                        .await
                        .map_err(|_| {
                            io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out")
                        })??;
                *self = Stream::Tls(Box::new(tls));
                Ok(())
            }
            other => {
                *self = other;
                Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "stream cannot be upgraded to TLS",
                ))
            }
        }
    }
}

fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "stream lost during TLS upgrade",
    )
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Deflate(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Stdio(i, _) => Pin::new(i).poll_read(cx, buf),
            Stream::Upgrading => Poll::Ready(Err(gone())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Deflate(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Stdio(_, o) => Pin::new(o).poll_write(cx, buf),
            Stream::Upgrading => Poll::Ready(Err(gone())),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Deflate(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Stdio(_, o) => Pin::new(o).poll_flush(cx),
            Stream::Upgrading => Poll::Ready(Err(gone())),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Deflate(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Stdio(_, o) => Pin::new(o).poll_shutdown(cx),
            Stream::Upgrading => Poll::Ready(Err(gone())),
        }
    }
}
