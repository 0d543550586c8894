//! [`MessageContent`] over an open Maildir file.
//!
//! Files written by mailroom are CRLF-clean and served as they are. Files dropped in by
//! outside programs usually end lines with a bare LF; they are served in CRLF form,
//! converted on the fly. For those, a table of checkpoints (raw offset ↔ CRLF offset every
//! [`CHECKPOINT`] raw octets) is built on first use, so a read at any offset costs at most
//! one checkpoint's worth of extra reading.
//!
//! The handle owns the open file, so an expunge (unlink) during a read does not break it.
//!
//! Reads run in place, on the caller's thread, bounded as [`CONTENT_CHUNK`] says: one
//! `pread` of at most a chunk for a clean file; for a converted file at most a chunk of
//! output from at most two chunks of the file (from the checkpoint before `offset`). The
//! checkpoint table, which reads the whole file once, is built in `spawn_blocking`.

use crate::{MessageContent, CONTENT_CHUNK};
use async_trait::async_trait;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, OnceLock};

/// Raw octets between two checkpoints of a converted file.
const CHECKPOINT: u64 = 64 * 1024;

/// A CRLF-clean file, served as is.
pub struct CleanFile {
    pub file: File,
    pub size: u64,
}

#[async_trait]
impl MessageContent for CleanFile {
    fn size(&self) -> u64 {
        self.size
    }
    async fn read_chunk(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.size {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(CONTENT_CHUNK)
            .min(usize::try_from(self.size - offset).unwrap_or(CONTENT_CHUNK));
        self.file.read_at(&mut buf[..want], offset)
    }
}

/// A file with bare LFs, served with every bare LF turned into CRLF.
pub struct LfFile(Arc<LfInner>);

struct LfInner {
    file: File,
    /// Size of the file on disk.
    pub raw_size: u64,
    /// Size of the CRLF form.
    pub size: u64,
    /// `(raw offset, crlf offset, octet before raw offset was CR)`, ascending.
    checkpoints: OnceLock<Vec<(u64, u64, bool)>>,
}

impl LfFile {
    pub fn new(file: File, raw_size: u64, size: u64) -> LfFile {
        LfFile(Arc::new(LfInner {
            file,
            raw_size,
            size,
            checkpoints: OnceLock::new(),
        }))
    }

    /// Blocking read of any length (the conversion itself; tests).
    #[cfg(test)]
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_at(offset, buf)
    }
}

impl LfInner {
    fn checkpoints(&self) -> io::Result<&[(u64, u64, bool)]> {
        if let Some(c) = self.checkpoints.get() {
            return Ok(c);
        }
        let mut table = vec![(0u64, 0u64, false)];
        let mut buf = vec![0u8; CHECKPOINT as usize];
        let (mut raw, mut crlf, mut prev_cr) = (0u64, 0u64, false);
        while raw < self.raw_size {
            let n = read_full(&self.file, &mut buf, raw)?;
            if n == 0 {
                break;
            }
            for &b in &buf[..n] {
                if b == b'\n' && !prev_cr {
                    crlf += 1;
                }
                crlf += 1;
                prev_cr = b == b'\r';
            }
            raw += n as u64;
            table.push((raw, crlf, prev_cr));
        }
        Ok(self.checkpoints.get_or_init(|| table))
    }
}

fn read_full(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let n = file.read_at(&mut buf[done..], offset + done as u64)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(done)
}

#[async_trait]
impl MessageContent for LfFile {
    fn size(&self) -> u64 {
        self.0.size
    }

    async fn read_chunk(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset > 0 && offset < self.0.size && self.0.checkpoints.get().is_none() {
            let inner = Arc::clone(&self.0);
            tokio::task::spawn_blocking(move || inner.checkpoints().map(|_| ()))
                .await
                .map_err(io::Error::other)??;
        }
        let cap = buf.len().min(CONTENT_CHUNK);
        self.0.read_at(offset, &mut buf[..cap])
    }
}

impl LfInner {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.size || buf.is_empty() {
            return Ok(0);
        }
        // A read from the start (most reads: RETR, FETCH BODY[]) needs no checkpoints.
        let (mut raw, crlf, mut prev_cr) = if offset == 0 {
            (0, 0, false)
        } else {
            let table = self.checkpoints()?;
            let idx = match table.binary_search_by(|c| c.1.cmp(&offset)) {
                Ok(i) => i,
                Err(i) => i.saturating_sub(1),
            };
            table[idx]
        };
        // CRLF-form octets between the checkpoint and `offset`, converted but not copied.
        let mut skip = offset - crlf;
        let mut out = 0usize;
        let cap = buf.len();
        let mut emit = |piece: &[u8], out: &mut usize| {
            let piece = if skip >= piece.len() as u64 {
                skip -= piece.len() as u64;
                return;
            } else {
                let s = &piece[skip as usize..];
                skip = 0;
                s
            };
            let k = piece.len().min(buf.len() - *out);
            buf[*out..*out + k].copy_from_slice(&piece[..k]);
            *out += k;
        };
        let mut chunk = vec![0u8; 16 * 1024];
        // Converted a line at a time: copy up to each LF, insert CR where it is missing.
        while out < cap && raw < self.raw_size {
            let n = self.file.read_at(&mut chunk, raw)?;
            if n == 0 {
                break;
            }
            let mut rest = &chunk[..n];
            while !rest.is_empty() && out < cap {
                match rest.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        let cr_before = if i > 0 { rest[i - 1] == b'\r' } else { prev_cr };
                        emit(&rest[..i], &mut out);
                        emit(if cr_before { b"\n" } else { b"\r\n" }, &mut out);
                        prev_cr = false;
                        rest = &rest[i + 1..];
                    }
                    None => {
                        emit(rest, &mut out);
                        prev_cr = rest.last() == Some(&b'\r');
                        rest = &[];
                    }
                }
            }
            raw += n as u64;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Write;

    fn crlf(raw: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut prev_cr = false;
        for &b in raw {
            if b == b'\n' && !prev_cr {
                out.push(b'\r');
            }
            out.push(b);
            prev_cr = b == b'\r';
        }
        out
    }

    /// Every offset and several read sizes, across checkpoint boundaries, against the
    /// octet-by-octet definition.
    #[test]
    fn lf_file_reads_equal_the_crlf_form_at_any_offset() {
        let mut raw = Vec::new();
        for i in 0..20_000u32 {
            raw.extend_from_slice(format!("line {i}").as_bytes());
            raw.extend_from_slice(match i % 5 {
                0 => b"\r\n".as_slice(),
                1 => b"\n",
                2 => b"\r",
                3 => b"\n\n",
                _ => b"",
            });
        }
        let want = crlf(&raw);
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&raw).unwrap();
        let lf = LfFile::new(f, raw.len() as u64, want.len() as u64);
        for len in [1usize, 7, 4096, 70_000] {
            let mut offset = 0u64;
            let step = if len == 1 { 997 } else { 1 };
            let mut got = Vec::new();
            while offset < want.len() as u64 {
                let mut buf = vec![0u8; len];
                let n = lf.read_at(offset, &mut buf).unwrap();
                assert!(n > 0, "no progress at {offset}");
                assert_eq!(
                    &buf[..n],
                    &want[offset as usize..offset as usize + n],
                    "len {len} offset {offset}"
                );
                if step == 1 {
                    got.extend_from_slice(&buf[..n]);
                }
                offset += if step == 1 { n as u64 } else { step };
            }
            if step == 1 {
                assert_eq!(got, want, "len {len}");
            }
        }
    }
}
