//! POP3 commands, one file per family, each an `impl Session` block: [`auth`] (USER, PASS,
//! APOP, AUTH, the login), [`maildrop`] (STAT, LIST, UIDL, DELE, RSET, QUIT), [`retr`]
//! (RETR, TOP), [`capa`] (CAPA, STLS), [`uidl`] (the UIDL format), [`xtnd`] (XTND XMIT).

pub mod auth;
pub mod capa;
pub mod maildrop;
pub mod retr;
pub mod uidl;
pub mod xtnd;
