//! The Maildir + SQLite index backend (to be written).
