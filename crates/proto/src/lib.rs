//! I/O-free protocol code for mailroom.
//!
//! What lives here: pure functions and state machines over bytes — line and literal
//! framing with hard limits ([`line`]), the LMTP command grammar and DATA decoding
//! ([`lmtp`]) with the RFC 5321 path grammar of its senders ([`address`]), the POP3 command grammar ([`pop3`]) and the IMAP4 parser and encoder
//! ([`imap`]). What does not: sockets, TLS, timers, storage, accounts (those live in
//! `mailroom-server`, `mailroom-store`, `mailroom-directory`).
//!
//! Architecture invariant: nothing in this crate performs I/O or depends on tokio; every
//! parser has a hard limit on what it buffers and reports "incomplete" cheaply on partial
//! input.

#![forbid(unsafe_code)]

pub mod address;
pub mod imap;
pub mod line;
pub mod lmtp;
pub mod pop3;
