//! [`Deflate`]: the COMPRESS=DEFLATE layer of IMAP (RFC 4978), raw DEFLATE (RFC 1951, no
//! zlib header) in both directions over another [`Stream`] (clear text or TLS: data is
//! compressed before it is encrypted, RFC 4978 section 3).
//!
//! Writes are compressed into a pending buffer; `flush` ends them with a sync flush (an
//! empty stored block) so the client can decode everything sent so far, then drains the
//! buffer to the inner stream. Reads inflate what the inner stream delivers.
//!
//! Memory: the compressor (miniz_oxide's `CompressorOxide`: a 32 KiB window, two hash
//! tables of 64 KiB, a 64 KiB LZ code buffer and an output staging buffer) and the
//! decompressor (a 32 KiB window and its tables) live as long as the connection; the
//! pending buffers are released whenever they are drained, so an idle compressed
//! connection holds the two states and nothing else (see README, "COMPRESS").
//!
//! Architecture invariant: nothing here is unbounded. A write never leaves more than
//! [`PENDING_MAX`] compressed bytes queued before it waits for the client to read, and a
//! read inflates into the caller's buffer only.

use super::Stream;
use miniz_oxide::deflate::core::CompressorOxide;
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Compressed output queued before a write waits for the inner stream.
const PENDING_MAX: usize = 64 * 1024;
/// Compressed input read from the inner stream at a time.
const READ_CHUNK: usize = 4096;
/// Compressed output produced per compressor call.
const OUT_CHUNK: usize = 8192;
/// Compression level: the fastest, as RFC 4978 section 4 suggests for a server (IMAP
/// responses compress to 25-40% even so).
const LEVEL: u8 = 1;

/// A stream whose data is DEFLATE-compressed in both directions.
pub struct Deflate {
    inner: Stream,
    comp: Box<CompressorOxide>,
    decomp: Box<InflateState>,
    /// Compressed input read but not yet inflated, from `rpos`.
    rin: Vec<u8>,
    rpos: usize,
    /// The inflater's last call filled the caller's buffer: it may hold more output.
    rmore: bool,
    /// The client ended its DEFLATE stream (a final block): end of input.
    rend: bool,
    /// Compressed output not yet written to the inner stream, from `wpos`.
    wout: Vec<u8>,
    wpos: usize,
    /// Data was compressed since the last sync flush.
    dirty: bool,
}

fn invalid(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("COMPRESS: {why}"))
}

impl Deflate {
    /// Starts compressing over `inner` (right after the tagged OK of COMPRESS was sent).
    pub fn new(inner: Stream) -> Deflate {
        // Raw DEFLATE, no zlib header (RFC 4978 section 3).
        let mut comp = Box::<CompressorOxide>::default();
        comp.set_format_and_level(DataFormat::Raw, LEVEL);
        Deflate {
            inner,
            comp,
            decomp: InflateState::new_boxed(DataFormat::Raw),
            rin: Vec::new(),
            rpos: 0,
            rmore: false,
            rend: false,
            wout: Vec::new(),
            wpos: 0,
            dirty: false,
        }
    }

    /// The stream under the compression layer.
    pub fn inner(&self) -> &Stream {
        &self.inner
    }

    /// True when inflated data may be ready without reading the inner stream.
    pub fn has_buffered_input(&self) -> bool {
        self.rpos < self.rin.len() || self.rmore
    }

    /// Compresses `input` with `flush` into the pending output; returns bytes consumed.
    fn compress(&mut self, input: &[u8], flush: MZFlush) -> io::Result<usize> {
        let mut consumed = 0;
        let mut chunk = [0u8; OUT_CHUNK];
        loop {
            let r = miniz_oxide::deflate::stream::deflate(
                &mut self.comp,
                &input[consumed..],
                &mut chunk,
                flush,
            );
            consumed += r.bytes_consumed;
            let written = r.bytes_written;
            self.wout.extend_from_slice(&chunk[..written]);
            match r.status {
                Ok(_) | Err(MZError::Buf) => {}
                Err(e) => return Err(io::Error::other(format!("COMPRESS: deflate failed: {e:?}"))),
            }
            if consumed == input.len() && written < OUT_CHUNK {
                return Ok(consumed);
            }
        }
    }

    /// Writes the pending compressed output to the inner stream.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.wpos < self.wout.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.wout[self.wpos..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.wpos += n;
        }
        // Drained: nothing is kept while the connection is quiet.
        self.wout = Vec::new();
        self.wpos = 0;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Deflate {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.rend || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            if this.has_buffered_input() {
                let out = buf.initialize_unfilled();
                let room = out.len();
                let r = miniz_oxide::inflate::stream::inflate(
                    &mut this.decomp,
                    &this.rin[this.rpos..],
                    out,
                    MZFlush::None,
                );
                this.rpos += r.bytes_consumed;
                buf.advance(r.bytes_written);
                this.rmore = r.bytes_written == room;
                match r.status {
                    Ok(MZStatus::StreamEnd) => this.rend = true,
                    Ok(_) | Err(MZError::Buf) => {}
                    Err(_) => return Poll::Ready(Err(invalid("corrupt DEFLATE data"))),
                }
                if this.rpos == this.rin.len() {
                    this.rin = Vec::new();
                    this.rpos = 0;
                }
                if r.bytes_written > 0 || this.rend {
                    return Poll::Ready(Ok(()));
                }
                if r.bytes_consumed == 0 && this.rpos < this.rin.len() {
                    return Poll::Ready(Err(invalid("DEFLATE data makes no progress")));
                }
                this.rmore = false;
                continue;
            }
            let mut chunk = [0u8; READ_CHUNK];
            let mut rb = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut rb))?;
            if rb.filled().is_empty() {
                // End of the inner stream.
                return Poll::Ready(Ok(()));
            }
            this.rin.extend_from_slice(rb.filled());
        }
    }
}

impl AsyncWrite for Deflate {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.wout.len() - this.wpos >= PENDING_MAX {
            ready!(this.poll_drain(cx))?;
        }
        let n = this.compress(buf, MZFlush::None)?;
        this.dirty |= n > 0;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.dirty {
            this.compress(&[], MZFlush::Sync)?;
            this.dirty = false;
        }
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
