//! IMAP4rev1 parser and encoder (to be written).
