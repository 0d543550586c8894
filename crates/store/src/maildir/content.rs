//! [`MessageContent`] over an open Maildir file.
//!
//! Files written by mailroom are CRLF-clean and served as they are. Files dropped in by
//! outside programs usually end lines with a bare LF; they are served in CRLF form,
//! converted on the fly. For those, a table of checkpoints (raw offset ↔ CRLF offset every
//! [`CHECKPOINT`] raw octets) is built on first use, so a read at any offset costs at most
//! one checkpoint's worth of extra reading.
//!
//! The handle owns the open file, so an expunge (unlink) during a read does not break it.

use crate::MessageContent;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::OnceLock;

/// Raw octets between two checkpoints of a converted file.
const CHECKPOINT: u64 = 64 * 1024;

/// A CRLF-clean file, served as is.
pub struct CleanFile {
    pub file: File,
    pub size: u64,
}

impl MessageContent for CleanFile {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.size {
            return Ok(0);
        }
        let want = buf.len().min((self.size - offset) as usize);
        self.file.read_at(&mut buf[..want], offset)
    }
}

/// A file with bare LFs, served with every bare LF turned into CRLF.
pub struct LfFile {
    pub file: File,
    /// Size of the file on disk.
    pub raw_size: u64,
    /// Size of the CRLF form.
    pub size: u64,
    /// `(raw offset, crlf offset, octet before raw offset was CR)`, ascending.
    checkpoints: OnceLock<Vec<(u64, u64, bool)>>,
}

impl LfFile {
    pub fn new(file: File, raw_size: u64, size: u64) -> LfFile {
        LfFile {
            file,
            raw_size,
            size,
            checkpoints: OnceLock::new(),
        }
    }

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

impl MessageContent for LfFile {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let table = self.checkpoints()?;
        let idx = match table.binary_search_by(|c| c.1.cmp(&offset)) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let (mut raw, mut crlf, mut prev_cr) = table[idx];
        let mut chunk = vec![0u8; 16 * 1024];
        let mut out = 0usize;
        // A pending LF after an inserted CR that fell at the end of `buf` is not an issue:
        // the next call restarts from a checkpoint and recomputes.
        while out < buf.len() && raw < self.raw_size {
            let n = self.file.read_at(&mut chunk, raw)?;
            if n == 0 {
                break;
            }
            for &b in &chunk[..n] {
                let insert_cr = b == b'\n' && !prev_cr;
                for octet in [b'\r', b].into_iter().skip(usize::from(!insert_cr)) {
                    if crlf >= offset {
                        if out == buf.len() {
                            return Ok(out);
                        }
                        buf[out] = octet;
                        out += 1;
                    }
                    crlf += 1;
                }
                prev_cr = b == b'\r';
            }
            raw += n as u64;
        }
        Ok(out)
    }
}
