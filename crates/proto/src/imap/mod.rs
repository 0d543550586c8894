//! IMAP4rev1 protocol code without I/O (RFC 3501 and the extensions of issue 5).
//!
//! Layout:
//! - [`frame`]: the fragmentizer. Splits the byte stream into commands and literals with
//!   hard limits, asks for `+` continuations, streams APPEND messages, recovers tags.
//! - [`parse`]: the command grammar, from a [`frame::RawCommand`] to a [`Command`].
//! - [`command`]: the typed AST and the command table ([`CommandKind`]: allowed states,
//!   use of sequence numbers).
//! - [`types`]: value types that cannot hold invalid values (tags, mailbox names,
//!   sequence sets, flags, dates).
//! - [`mutf7`]: modified UTF-7 for mailbox names.
//! - [`encode`]: response encoding helpers (strings, mailbox names, flags, dates,
//!   sequence sets, response codes).
//!
//! What does not live here: sessions, state, storage, sockets (see `mailroom-server`).

pub mod command;
pub mod encode;
pub mod frame;
pub mod mutf7;
pub mod parse;
pub mod types;
pub mod url;

pub use command::{Command, CommandBody, CommandKind, SessionState};
pub use frame::{Event, FrameError, Framer, FramerConfig, RawCommand};
pub use parse::{
    append_target, append_target_with, parse_command, parse_command_with, parse_wire, ParseError,
    ParseOptions,
};
pub use types::{Date, DateTime, Flag, Mailbox, Secret, SequenceSet, Tag};
