//! The IMAP fragmentizer: splits the client byte stream into commands before any grammar.
//!
//! What lives here: [`Framer`], an incremental state machine fed arbitrary chunks with
//! [`Framer::push`] and drained with [`Framer::next`]. It finds line ends and literal
//! announcements (`{n}`, `{n+}`), enforces hard limits, asks the caller to send `+`
//! continuations for synchronising literals, streams APPEND message literals out in
//! chunks, and recovers the tag of a command it refuses. What does not: the grammar (see
//! [`super::parse`]) and any I/O.
//!
//! # How the server drives it
//!
//! ```text
//! loop {
//!     read socket -> framer.push(&bytes)
//!     while let Some(ev) = framer.next() {
//!         Command(raw)          -> parse_command(&raw), run it
//!         Continue { size }     -> write "+ Ready\r\n", framer.accept_literal()
//!                                  (or write "tag BAD/NO ...", framer.reject_literal())
//!         StreamStart { .. }    -> APPEND message literal: check the target with
//!                                  parse::append_target(prefix), open a spool file; if
//!                                  `sync`, write "+ ..." and accept_literal() (or answer
//!                                  NO [TRYCREATE] and reject_literal())
//!         StreamData(chunk)     -> write chunk to the spool file
//!         StreamEnd             -> close the spool file (the command goes on)
//!         Error(e)              -> write "tag BAD e" (or "* BAD"); if e.fatal, "* BYE"
//!                                  and close
//!     }
//! }
//! ```
//!
//! The framer never buffers more than one incomplete command line (`max_line`), the
//! inline literals of one command (`max_literals_total`) and what the caller pushed since
//! its last drain. Callers must drain with `next` until `None` after each `push`.
//!
//! # Limits and refusals (design notes)
//!
//! * Command text (all lines of a command, literal data excluded) longer than
//!   `max_line`: error `LineTooLong` with the tag when it can be read, as soon as the
//!   limit is crossed; the rest of the line is skipped without buffering. If the skipped
//!   line announced a non-synchronising literal, its octets are skipped too.
//! * A literal over its limit: for `{n}` the client gets no `+` and sends no data; the
//!   error is not fatal. For `{n+}` the data follows anyway: up to `max_discard` octets
//!   are skipped (RFC 7888 section 4, choice 1) and the session goes on; beyond that the
//!   error is fatal (choice 2: the caller answers BAD, BYE and closes).
//!   `{99999999999}` is over every limit.
//! * With `literal_minus` (LITERAL- advertised instead of LITERAL+), `{n+}` with n > 4096
//!   is refused in the same way (RFC 7888 section 5).
//! * Literals inside APPEND and REPLACE (RFC 8508) that carry a message (every literal except a mailbox name
//!   sent as a literal) are limited by `max_append` and streamed; all other literals are
//!   limited by `max_literal` each and `max_literals_total` per command, and kept inline.
//!
//! Architecture invariant: the framer's memory is bounded by its configuration, whatever
//! the client sends.

use std::fmt;

use super::types::{is_tag_char, Tag};

/// Limits of a [`Framer`].
#[derive(Debug, Clone)]
pub struct FramerConfig {
    /// Command text limit (all lines of one command, literal data excluded).
    pub max_line: usize,
    /// Limit of one inline literal (every literal but APPEND messages).
    pub max_literal: u32,
    /// Limit of all inline literals of one command.
    pub max_literals_total: usize,
    /// Limit of one APPEND message literal (streamed).
    pub max_append: u32,
    /// LITERAL- semantics: non-synchronising literals over 4096 octets are refused.
    pub literal_minus: bool,
    /// The most octets of a refused non-synchronising literal the framer skips before it
    /// gives up (fatal error).
    pub max_discard: u64,
}

impl Default for FramerConfig {
    fn default() -> Self {
        FramerConfig {
            max_line: 64 * 1024,
            max_literal: 64 * 1024,
            max_literals_total: 256 * 1024,
            max_append: 64 * 1024 * 1024,
            literal_minus: false,
            max_discard: 1024 * 1024,
        }
    }
}

/// Where a streamed literal sits in a [`RawCommand`]: `offset` is the position in
/// [`RawCommand::data`] right after the literal's `{n}` CRLF, where its data would be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamedLiteral {
    /// Offset in the command data.
    pub offset: usize,
    /// Announced size.
    pub size: u32,
}

/// One complete command as sent: its lines joined with CRLF (the last line ending
/// dropped), inline literal data in place after each `{n}` CRLF, and nothing in place
/// of streamed literals (see [`RawCommand::streamed`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawCommand {
    data: Vec<u8>,
    streamed: Vec<StreamedLiteral>,
}

impl RawCommand {
    /// A command from complete wire bytes (literals inline, final CRLF optional). For
    /// tests and for callers that have the whole command already.
    pub fn from_bytes(mut data: Vec<u8>) -> RawCommand {
        if data.ends_with(b"\r\n") {
            data.truncate(data.len() - 2);
        } else if data.ends_with(b"\n") {
            data.truncate(data.len() - 1);
        }
        RawCommand {
            data,
            streamed: Vec::new(),
        }
    }

    /// The command octets.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The streamed literals, in order (their index is the one of
    /// [`Event::StreamStart`]).
    pub fn streamed(&self) -> &[StreamedLiteral] {
        &self.streamed
    }

    /// The command as one line, when it has no literal (IDLE's `DONE`, SASL responses).
    pub fn as_line(&self) -> Option<&[u8]> {
        if self.data.contains(&b'\n') {
            None
        } else {
            Some(&self.data)
        }
    }

    /// The tag, if the command starts with a valid one.
    pub fn tag(&self) -> Option<Tag> {
        tag_of(&self.data)
    }
}

/// What went wrong while framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameErrorKind {
    /// The command text exceeded `max_line`.
    LineTooLong {
        /// The limit.
        limit: usize,
    },
    /// A literal exceeded its limit (`size` saturates at `u64::MAX`).
    LiteralTooLarge {
        /// Announced size.
        size: u64,
        /// The limit that applied.
        limit: u64,
    },
    /// A non-synchronising literal over 4096 octets under LITERAL-.
    LiteralMinus {
        /// Announced size.
        size: u64,
    },
}

/// A framing refusal. The caller answers `tag BAD <self>` (or `* BAD` without a tag);
/// when `fatal`, it then sends `* BYE` and closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// The refused command's tag, when it could be read.
    pub tag: Option<Tag>,
    /// What went wrong.
    pub kind: FrameErrorKind,
    /// The connection must be closed.
    pub fatal: bool,
}

impl FrameError {
    /// Whether the answer should carry the `TOOBIG` response code (RFC 4469, RFC 7888).
    pub fn is_too_big(&self) -> bool {
        !matches!(self.kind, FrameErrorKind::LineTooLong { .. })
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FrameErrorKind::LineTooLong { limit } => {
                write!(f, "command line too long (limit {limit} octets)")
            }
            FrameErrorKind::LiteralTooLarge { size, limit } => {
                write!(f, "literal too large ({size} octets, limit {limit})")
            }
            FrameErrorKind::LiteralMinus { size } => write!(
                f,
                "non-synchronizing literal of {size} octets exceeds 4096 (LITERAL-)"
            ),
        }
    }
}

impl std::error::Error for FrameError {}

/// One result of [`Framer::next`].
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A complete command.
    Command(RawCommand),
    /// A synchronising literal of `size` octets was announced. The framer waits: write
    /// a `+` continuation and call [`Framer::accept_literal`], or answer the command
    /// (`BAD`/`NO`) and call [`Framer::reject_literal`].
    Continue {
        /// Announced size.
        size: u32,
    },
    /// An APPEND message literal begins. `prefix` is the command so far (parse its target
    /// with [`super::parse::append_target`]); `index` its place in
    /// [`RawCommand::streamed`]. When `sync`, the framer waits as for
    /// [`Event::Continue`]; otherwise the data follows at once ([`Framer::reject_literal`]
    /// still refuses it: the data is skipped).
    StreamStart {
        /// Announced size.
        size: u32,
        /// Synchronising literal: a `+` is due.
        sync: bool,
        /// Index among the command's streamed literals.
        index: usize,
        /// The command text so far.
        prefix: &'a [u8],
    },
    /// The next chunk of the streamed literal.
    StreamData(&'a [u8]),
    /// The streamed literal is complete; the command goes on.
    StreamEnd,
    /// A refusal; see [`FrameError`].
    Error(FrameError),
}

/// An event without borrows (see `Framer::next`).
enum Out {
    Command(RawCommand),
    Continue(u32),
    StreamStart { size: u32, sync: bool, index: usize },
    StreamData(usize, usize),
    StreamEnd,
    Error(FrameError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a command line.
    Line,
    /// Copying inline literal data into the command.
    Literal(u64),
    /// Waiting for accept_literal / reject_literal.
    Paused { streamed: bool, size: u32 },
    /// Handing out streamed literal data.
    Stream(u64),
    /// Skipping literal data of a dead command.
    Discard(u64),
    /// Skipping the rest of a line of a dead command.
    DiscardLine,
    /// A fatal error was reported.
    Closed,
}

/// A literal announcement at the end of a line.
#[derive(Debug, Clone, Copy)]
struct Announce {
    /// Size, saturating.
    size: u64,
    sync: bool,
    /// Offset of `{` in the line.
    open: usize,
}

/// `literal = "{" number ["+"] "}" CRLF` at the end of `line` (CRLF already removed).
/// Also accepts `~{n}` (literal8) as a plain literal.
fn announcement(line: &[u8]) -> Option<Announce> {
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let mut digits = &body[open + 1..];
    let mut sync = true;
    if let Some(d) = digits.strip_suffix(b"+") {
        digits = d;
        sync = false;
    }
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let size = digits.iter().fold(0u64, |acc, &d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    Some(Announce { size, sync, open })
}

fn tag_of(data: &[u8]) -> Option<Tag> {
    let end = data
        .iter()
        .position(|&b| !is_tag_char(b))
        .unwrap_or(data.len());
    if data.get(end).is_some_and(|&b| b != b' ') {
        return None;
    }
    Tag::new(&data[..end])
}

const TAIL: usize = 32;

/// The incremental IMAP fragmentizer. See the module documentation.
#[derive(Debug, Clone)]
pub struct Framer {
    cfg: FramerConfig,
    input: Vec<u8>,
    pos: usize,
    /// Bytes after `pos` already searched for LF (state Line / DiscardLine).
    scanned: usize,
    cmd: Vec<u8>,
    text_len: usize,
    literal_total: usize,
    streamed: Vec<StreamedLiteral>,
    state: State,
    /// Last octets of a line being discarded (for a trailing literal announcement).
    tail: Vec<u8>,
    /// Hand out empty lines (SASL responses) instead of skipping them.
    keep_empty: bool,
}

impl Framer {
    /// A framer with these limits.
    pub fn new(cfg: FramerConfig) -> Framer {
        Framer {
            cfg,
            input: Vec::new(),
            pos: 0,
            scanned: 0,
            cmd: Vec::new(),
            text_len: 0,
            literal_total: 0,
            streamed: Vec::new(),
            state: State::Line,
            tail: Vec::new(),
            keep_empty: false,
        }
    }

    /// The limits in force.
    pub fn config(&self) -> &FramerConfig {
        &self.cfg
    }

    /// While on, an empty line is handed out as an empty command instead of being
    /// skipped: a SASL exchange needs it, since an empty response is a valid answer to a
    /// challenge (RFC 3501 6.2.2; the SCRAM client's reply to the server-final message).
    pub fn set_keep_empty_lines(&mut self, on: bool) {
        self.keep_empty = on;
    }

    /// Switches LITERAL- semantics on or off (e.g. after a capability change).
    pub fn set_literal_minus(&mut self, on: bool) {
        self.cfg.literal_minus = on;
    }

    /// Adds received octets. Drain with [`Framer::next`] until `None` before pushing more.
    pub fn push(&mut self, data: &[u8]) {
        if self.state == State::Closed {
            return;
        }
        if self.pos > 0 {
            self.input.drain(..self.pos);
            self.pos = 0;
        }
        self.input.extend_from_slice(data);
    }

    /// Frees the input buffer when everything in it has been framed (call before waiting
    /// for a silent client, so an idle connection holds no buffer).
    pub fn release_buffers(&mut self) {
        if self.pos >= self.input.len() && self.input.capacity() > 0 {
            self.input = Vec::new();
            self.pos = 0;
        }
    }

    /// Octets received but not yet framed (bounded by the limits plus the last push).
    pub fn buffered(&self) -> usize {
        self.input.len() - self.pos
    }

    /// Whether a fatal error was reported; the framer accepts nothing more.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Whether the framer waits for [`Framer::accept_literal`] or
    /// [`Framer::reject_literal`].
    pub fn is_paused(&self) -> bool {
        matches!(self.state, State::Paused { .. })
    }

    /// Whether no command is partially received (nothing buffered, between commands).
    pub fn is_idle(&self) -> bool {
        self.state == State::Line && self.cmd.is_empty() && self.buffered() == 0
    }

    /// The tag of the command being received, if readable (for answers to a refused
    /// literal).
    pub fn current_tag(&self) -> Option<Tag> {
        if self.cmd.is_empty() {
            tag_of(&self.input[self.pos..])
        } else {
            tag_of(&self.cmd)
        }
    }

    /// The caller sent `+` for the announced synchronising literal: receive it.
    pub fn accept_literal(&mut self) {
        if let State::Paused { streamed, size } = self.state {
            self.state = if streamed {
                State::Stream(u64::from(size))
            } else {
                State::Literal(u64::from(size))
            };
        }
    }

    /// The caller refused the announced literal (and answered the command). For a
    /// synchronising literal the client sends nothing more for this command; for a
    /// non-synchronising streamed literal, the rest of its data and of the command is
    /// skipped.
    pub fn reject_literal(&mut self) {
        match self.state {
            State::Paused { .. } => {
                self.reset_command();
                self.state = State::Line;
            }
            State::Stream(rest) => {
                self.reset_command();
                self.state = State::Discard(rest);
            }
            _ => {}
        }
    }

    fn reset_command(&mut self) {
        self.cmd.clear();
        self.cmd.shrink_to(1024);
        self.text_len = 0;
        self.literal_total = 0;
        self.streamed.clear();
        self.tail.clear();
    }

    /// The next event, or `None` when more input is needed (or the framer is paused or
    /// closed).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Event<'_>> {
        Some(match self.step()? {
            Out::Command(c) => Event::Command(c),
            Out::Continue(size) => Event::Continue { size },
            Out::StreamStart { size, sync, index } => Event::StreamStart {
                size,
                sync,
                index,
                prefix: &self.cmd,
            },
            Out::StreamData(start, end) => Event::StreamData(&self.input[start..end]),
            Out::StreamEnd => Event::StreamEnd,
            Out::Error(e) => Event::Error(e),
        })
    }

    fn step(&mut self) -> Option<Out> {
        loop {
            match self.state {
                State::Closed | State::Paused { .. } => return None,
                State::Literal(rest) => {
                    let avail = self.input.len() - self.pos;
                    if avail == 0 {
                        return None;
                    }
                    let n = usize::try_from(rest).unwrap_or(usize::MAX).min(avail);
                    self.cmd
                        .extend_from_slice(&self.input[self.pos..self.pos + n]);
                    self.pos += n;
                    let left = rest - n as u64;
                    self.state = if left == 0 {
                        State::Line
                    } else {
                        State::Literal(left)
                    };
                }
                State::Discard(rest) => {
                    let avail = self.input.len() - self.pos;
                    if rest == 0 {
                        self.state = State::DiscardLine;
                        self.scanned = 0;
                        continue;
                    }
                    if avail == 0 {
                        return None;
                    }
                    let n = usize::try_from(rest).unwrap_or(usize::MAX).min(avail);
                    self.pos += n;
                    self.state = State::Discard(rest - n as u64);
                }
                State::Stream(rest) => {
                    if rest == 0 {
                        self.state = State::Line;
                        self.scanned = 0;
                        return Some(Out::StreamEnd);
                    }
                    let avail = self.input.len() - self.pos;
                    if avail == 0 {
                        return None;
                    }
                    let n = usize::try_from(rest).unwrap_or(usize::MAX).min(avail);
                    let start = self.pos;
                    self.pos += n;
                    self.state = State::Stream(rest - n as u64);
                    return Some(Out::StreamData(start, start + n));
                }
                State::DiscardLine => {
                    let hay = &self.input[self.pos..];
                    match hay.iter().position(|&b| b == b'\n') {
                        None => {
                            self.keep_tail(self.pos, self.input.len());
                            self.pos = self.input.len();
                            return None;
                        }
                        Some(i) => {
                            let (start, end) = (self.pos, self.pos + i);
                            self.keep_tail(start, end);
                            self.pos = end + 1;
                            let mut tail = std::mem::take(&mut self.tail);
                            if tail.last() == Some(&b'\r') {
                                tail.pop();
                            }
                            match announcement(&tail) {
                                Some(a) if !a.sync => {
                                    if a.size > self.cfg.max_discard {
                                        self.state = State::Closed;
                                        return Some(Out::Error(FrameError {
                                            tag: None,
                                            kind: FrameErrorKind::LiteralTooLarge {
                                                size: a.size,
                                                limit: self.cfg.max_discard,
                                            },
                                            fatal: true,
                                        }));
                                    }
                                    self.state = State::Discard(a.size);
                                }
                                _ => {
                                    self.reset_command();
                                    self.state = State::Line;
                                    self.scanned = 0;
                                }
                            }
                        }
                    }
                }
                State::Line => {
                    let hay = &self.input[self.pos..];
                    let found = hay[self.scanned..].iter().position(|&b| b == b'\n');
                    match found {
                        None => {
                            self.scanned = hay.len();
                            if self.text_len + hay.len() > self.cfg.max_line + 1 {
                                let tag = self.current_tag();
                                self.tail.clear();
                                self.state = State::DiscardLine;
                                return Some(Out::Error(FrameError {
                                    tag,
                                    kind: FrameErrorKind::LineTooLong {
                                        limit: self.cfg.max_line,
                                    },
                                    fatal: false,
                                }));
                            }
                            return None;
                        }
                        Some(i) => {
                            let lf = self.pos + self.scanned + i;
                            self.scanned = 0;
                            let start = self.pos;
                            self.pos = lf + 1;
                            let mut end = lf;
                            if end > start && self.input[end - 1] == b'\r' {
                                end -= 1;
                            }
                            if let Some(ev) = self.line(start, end) {
                                return Some(ev);
                            }
                        }
                    }
                }
            }
        }
    }

    fn keep_tail(&mut self, start: usize, end: usize) {
        let seg = &self.input[start..end];
        let seg = &seg[seg.len().saturating_sub(TAIL)..];
        self.tail.extend_from_slice(seg);
        let excess = self.tail.len().saturating_sub(TAIL);
        self.tail.drain(..excess);
    }

    /// A complete line `input[start..end]` (line ending removed) of the current command.
    fn line(&mut self, start: usize, end: usize) -> Option<Out> {
        let len = end - start;
        if self.cmd.is_empty() && len == 0 && !self.keep_empty {
            return None; // empty line between commands: ignored
        }
        self.text_len += len;
        if self.text_len > self.cfg.max_line {
            // The whole line arrived at once: refuse, then skip like DiscardLine.
            let tag = if self.cmd.is_empty() {
                tag_of(&self.input[start..end])
            } else {
                tag_of(&self.cmd)
            };
            self.pos = start; // reprocess from the line start in DiscardLine
            self.tail.clear();
            self.state = State::DiscardLine;
            return Some(Out::Error(FrameError {
                tag,
                kind: FrameErrorKind::LineTooLong {
                    limit: self.cfg.max_line,
                },
                fatal: false,
            }));
        }
        self.cmd.extend_from_slice(&self.input[start..end]);
        let line_start = self.cmd.len() - len;
        let Some(a) = announcement(&self.cmd[line_start..]) else {
            let data = std::mem::take(&mut self.cmd);
            let streamed = std::mem::take(&mut self.streamed);
            self.reset_command();
            return Some(Out::Command(RawCommand { data, streamed }));
        };
        self.cmd.extend_from_slice(b"\r\n");
        let brace = line_start + a.open;
        let message = self.is_append_message(brace);
        let limit: u64 = if message {
            u64::from(self.cfg.max_append)
        } else {
            let left = self
                .cfg
                .max_literals_total
                .saturating_sub(self.literal_total);
            u64::from(self.cfg.max_literal).min(left as u64)
        };
        let kind = if !a.sync && self.cfg.literal_minus && a.size > 4096 {
            Some(FrameErrorKind::LiteralMinus { size: a.size })
        } else if a.size > limit {
            Some(FrameErrorKind::LiteralTooLarge {
                size: a.size,
                limit,
            })
        } else {
            None
        };
        if let Some(kind) = kind {
            let tag = tag_of(&self.cmd);
            self.reset_command();
            let fatal = !a.sync && a.size > self.cfg.max_discard;
            self.state = if a.sync {
                State::Line
            } else if fatal {
                State::Closed
            } else {
                State::Discard(a.size)
            };
            return Some(Out::Error(FrameError { tag, kind, fatal }));
        }
        // Checked against u32 limits above.
        let size = u32::try_from(a.size).unwrap_or(u32::MAX);
        if message {
            let index = self.streamed.len();
            self.streamed.push(StreamedLiteral {
                offset: self.cmd.len(),
                size,
            });
            self.state = if a.sync {
                State::Paused {
                    streamed: true,
                    size,
                }
            } else {
                State::Stream(u64::from(size))
            };
            return Some(Out::StreamStart {
                size,
                sync: a.sync,
                index,
            });
        }
        self.literal_total += size as usize;
        if a.sync {
            self.state = State::Paused {
                streamed: false,
                size,
            };
            return Some(Out::Continue(size));
        }
        self.state = State::Literal(u64::from(size));
        None
    }

    /// Whether the literal whose `{` is at `brace` in the command carries an APPEND
    /// message: the command is APPEND and the literal is not its mailbox argument.
    fn is_append_message(&self, brace: usize) -> bool {
        let data = &self.cmd[..brace];
        let Some(sp) = data.iter().position(|&b| b == b' ') else {
            return false;
        };
        let rest = &data[sp + 1..];
        let starts =
            |s: &[u8], p: &[u8]| s.len() >= p.len() && s[..p.len()].eq_ignore_ascii_case(p);
        if starts(rest, b"APPEND ") {
            // RFC 4469 5: `url = "URL" SP astring` inside CATENATE: a URL sent as a
            // literal is a short string kept inline, not message data.
            return rest.len() > 7 && !is_catenate_url(rest);
        }
        // RFC 8508: `[UID ]REPLACE n mailbox ... {`: a message once the mailbox is there.
        let rest = if starts(rest, b"UID ") {
            &rest[4..]
        } else {
            rest
        };
        if !starts(rest, b"REPLACE ") {
            return false;
        }
        let args = &rest[8..];
        args.iter()
            .position(|&b| b == b' ')
            .is_some_and(|p| args.len() > p + 1)
    }
}

/// Whether the literal whose `{` follows `args` (an APPEND's arguments) is the astring
/// of a CATENATE `URL` part: `... CATENATE (... URL {n}` (RFC 4469 5).
fn is_catenate_url(args: &[u8]) -> bool {
    let upper = args.to_ascii_uppercase();
    let Some(cat) = upper.windows(10).position(|w| w == b"CATENATE (") else {
        return false;
    };
    upper.len() >= cat + 10 + 4 && (upper.ends_with(b" URL ") || upper.ends_with(b"(URL "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Owned copy of an event, for comparisons.
    #[derive(Debug, PartialEq, Eq)]
    enum Ev {
        Cmd(Vec<u8>, Vec<StreamedLiteral>),
        Cont(u32),
        Start(u32, bool),
        Data(Vec<u8>),
        End,
        Err(Option<String>, bool),
    }

    fn run(cfg: FramerConfig, input: &[u8], chunk: usize) -> Vec<Ev> {
        let mut f = Framer::new(cfg);
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            f.push(piece);
            loop {
                let ev = match f.next() {
                    None => break,
                    Some(Event::Command(c)) => Ev::Cmd(c.data().to_vec(), c.streamed().to_vec()),
                    Some(Event::Continue { size }) => Ev::Cont(size),
                    Some(Event::StreamStart { size, sync, .. }) => Ev::Start(size, sync),
                    Some(Event::StreamData(d)) => Ev::Data(d.to_vec()),
                    Some(Event::StreamEnd) => Ev::End,
                    Some(Event::Error(e)) => Ev::Err(e.tag.map(|t| t.to_string()), e.fatal),
                };
                let accept = matches!(ev, Ev::Cont(_) | Ev::Start(_, true));
                out.push(ev);
                if accept {
                    f.accept_literal();
                }
            }
        }
        // Merge adjacent data chunks so results do not depend on the split.
        let mut merged: Vec<Ev> = Vec::new();
        for ev in out {
            if let (Some(Ev::Data(prev)), Ev::Data(d)) = (merged.last_mut(), &ev) {
                prev.extend_from_slice(d);
                continue;
            }
            merged.push(ev);
        }
        merged
    }

    fn all_splits(cfg: &FramerConfig, input: &[u8]) -> Vec<Ev> {
        let whole = run(cfg.clone(), input, input.len());
        for chunk in [1, 2, 3, 7] {
            assert_eq!(run(cfg.clone(), input, chunk), whole, "chunk {chunk}");
        }
        whole
    }

    #[test]
    fn simple_and_literals() {
        let cfg = FramerConfig::default();
        let ev = all_splits(
            &cfg,
            b"a1 NOOP\r\n\r\na2 LOGIN {4}\r\nuser {4+}\r\npass\r\na3 LOGOUT\n",
        );
        assert_eq!(
            ev,
            vec![
                Ev::Cmd(b"a1 NOOP".to_vec(), vec![]),
                Ev::Cont(4),
                Ev::Cmd(b"a2 LOGIN {4}\r\nuser {4+}\r\npass".to_vec(), vec![]),
                Ev::Cmd(b"a3 LOGOUT".to_vec(), vec![]),
            ]
        );
    }

    #[test]
    fn append_streams() {
        let cfg = FramerConfig::default();
        let ev = all_splits(
            &cfg,
            b"a APPEND {5}\r\nINBOX (\\Seen) {11}\r\nHello\r\nBye! {3+}\r\nxyz\r\nb NOOP\r\n",
        );
        assert_eq!(
            ev,
            vec![
                Ev::Cont(5),
                Ev::Start(11, true),
                Ev::Data(b"Hello\r\nBye!".to_vec()),
                Ev::End,
                Ev::Start(3, false),
                Ev::Data(b"xyz".to_vec()),
                Ev::End,
                Ev::Cmd(
                    b"a APPEND {5}\r\nINBOX (\\Seen) {11}\r\n {3+}\r\n".to_vec(),
                    vec![
                        StreamedLiteral {
                            offset: 34,
                            size: 11
                        },
                        StreamedLiteral {
                            offset: 41,
                            size: 3
                        }
                    ]
                ),
                Ev::Cmd(b"b NOOP".to_vec(), vec![]),
            ]
        );
    }

    #[test]
    /// RFC 4469 5: a CATENATE URL sent as a literal is kept inline (an astring); the
    /// TEXT literals around it stream as message data.
    fn catenate_url_literal_inline() {
        let cfg = FramerConfig::default();
        let ev = all_splits(
            &cfg,
            b"a APPEND Drafts CATENATE (URL {4}\r\n/a/b TEXT {2+}\r\nhi url {1+}\r\nx)\r\n",
        );
        assert_eq!(
            ev,
            vec![
                Ev::Cont(4),
                Ev::Start(2, false),
                Ev::Data(b"hi".to_vec()),
                Ev::End,
                Ev::Cmd(
                    b"a APPEND Drafts CATENATE (URL {4}\r\n/a/b TEXT {2+}\r\n url {1+}\r\nx)"
                        .to_vec(),
                    vec![StreamedLiteral {
                        offset: 51,
                        size: 2
                    }]
                ),
            ]
        );
    }

    /// RFC 8508: REPLACE's message literal streams like APPEND's; its mailbox literal and
    /// the literals of other commands naming REPLACE do not.
    #[test]
    fn replace_streams() {
        let cfg = FramerConfig::default();
        let ev = all_splits(&cfg, b"a UID REPLACE 4 {2}\r\nDr {3+}\r\nxyz\r\n");
        assert_eq!(
            ev,
            vec![
                Ev::Cont(2),
                Ev::Start(3, false),
                Ev::Data(b"xyz".to_vec()),
                Ev::End,
                Ev::Cmd(
                    b"a UID REPLACE 4 {2}\r\nDr {3+}\r\n".to_vec(),
                    vec![StreamedLiteral {
                        offset: 30,
                        size: 3
                    }]
                ),
            ]
        );
        let ev = all_splits(
            &cfg,
            b"b REPLACE 1 Drafts {1+}\r\nx\r\nc SEARCH TEXT {1+}\r\ny\r\n",
        );
        assert_eq!(ev[0], Ev::Start(1, false));
        assert_eq!(
            ev.last(),
            Some(&Ev::Cmd(b"c SEARCH TEXT {1+}\r\ny".to_vec(), vec![]))
        );
    }

    #[test]
    fn oversized_literals() {
        let cfg = FramerConfig::default();
        let ev = all_splits(&cfg, b"x1 LOGIN {99999999999}\r\nx2 NOOP\r\n");
        assert_eq!(
            ev,
            vec![
                Ev::Err(Some("x1".into()), false),
                Ev::Cmd(b"x2 NOOP".to_vec(), vec![])
            ]
        );
        // Non-sync, small enough to skip.
        let mut input = b"x1 LOGIN {70000+}\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'a', 70000));
        input.extend_from_slice(b" {3+}\r\nabc pw\r\nx2 NOOP\r\n");
        let ev = all_splits(&cfg, &input);
        assert_eq!(
            ev,
            vec![
                Ev::Err(Some("x1".into()), false),
                Ev::Cmd(b"x2 NOOP".to_vec(), vec![])
            ]
        );
        // Non-sync, huge: fatal.
        let ev = all_splits(&cfg, b"x1 APPEND INBOX {99999999999+}\r\nxxxx");
        assert_eq!(ev, vec![Ev::Err(Some("x1".into()), true)]);
        // LITERAL-.
        let cfg = FramerConfig {
            literal_minus: true,
            ..FramerConfig::default()
        };
        let mut input = b"x1 APPEND INBOX {5000+}\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'a', 5000));
        input.extend_from_slice(b"\r\nx2 NOOP\r\n");
        let ev = all_splits(&cfg, &input);
        assert_eq!(
            ev,
            vec![
                Ev::Err(Some("x1".into()), false),
                Ev::Cmd(b"x2 NOOP".to_vec(), vec![])
            ]
        );
    }

    #[test]
    fn long_lines() {
        let cfg = FramerConfig {
            max_line: 100,
            ..FramerConfig::default()
        };
        let mut input = b"t1 SEARCH ".to_vec();
        input.extend(std::iter::repeat_n(b'x', 500));
        input.extend_from_slice(b"\r\nt2 NOOP\r\n");
        let ev = all_splits(&cfg, &input);
        assert_eq!(
            ev,
            vec![
                Ev::Err(Some("t1".into()), false),
                Ev::Cmd(b"t2 NOOP".to_vec(), vec![])
            ]
        );
        // A long line that ends in a non-sync literal: the literal is skipped.
        let mut input = b"t1 LOGIN ".to_vec();
        input.extend(std::iter::repeat_n(b'x', 500));
        input.extend_from_slice(b" {4+}\r\n{1}\n\r\nt2 NOOP\r\n");
        let ev = all_splits(&cfg, &input);
        assert_eq!(
            ev,
            vec![
                Ev::Err(Some("t1".into()), false),
                Ev::Cmd(b"t2 NOOP".to_vec(), vec![])
            ]
        );
        // Endless line: memory stays bounded.
        let mut f = Framer::new(cfg);
        f.push(b"t1 X");
        for _ in 0..1000 {
            f.push(&[b'y'; 1000]);
            while f.next().is_some() {}
            assert!(f.buffered() <= 1000);
        }
    }

    #[test]
    fn reject_sync() {
        let mut f = Framer::new(FramerConfig::default());
        f.push(b"r1 APPEND nosuch {10}\r\n");
        assert!(matches!(
            f.next(),
            Some(Event::StreamStart {
                size: 10,
                sync: true,
                index: 0,
                ..
            })
        ));
        assert_eq!(
            f.current_tag().map(|t| t.to_string()).as_deref(),
            Some("r1")
        );
        assert!(f.is_paused());
        f.reject_literal();
        f.push(b"r2 NOOP\r\n");
        assert!(matches!(f.next(), Some(Event::Command(c)) if c.data() == b"r2 NOOP"));
    }
}
