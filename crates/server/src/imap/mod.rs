//! The IMAP4rev1 and IMAP4rev2 server (RFC 3501, RFC 9051 after ENABLE, and the extensions
//! listed in [`cmd::capability`]).
//!
//! Map:
//! - [`session`]: the connection state machine: read loop driving the
//!   [`mailroom_proto::imap::Framer`], literal continuations, streamed APPEND spooling,
//!   time-outs, shutdown, output buffering, the untagged updates of multi-access (I3) and
//!   alerts (I7).
//! - [`view`]: a selected mailbox as the session shows it (sequence numbers to UIDs and
//!   metadata, pending expunges, `\Recent`).
//! - [`cmd`]: one file per command, named as in the parser (`cmd/<command>.rs`); UID
//!   variants live with their base command; the ACL family in `cmd/acl.rs` and the QUOTA
//!   family in `cmd/quota.rs`.
//!
//! Architecture invariant (sharing, I4/I5): every mailbox-name argument is resolved and
//! rights-checked through [`crate::access`]; a selected mailbox carries the owner's store
//! and the user's rights (`view::Selected`), so selected-state commands never reach
//! for the user's own store by mistake. Missing and invisible mailboxes get the same
//! `NO [NONEXISTENT]` answer.
//! - [`rev2`]: what ENABLE IMAP4rev2 (RFC 9051) and ENABLE UTF8=ACCEPT (RFC 6855)
//!   change for a session (grammar options, refused commands, text).
//! - [`fetch`], [`search`]: FETCH rendering and SEARCH evaluation (a fixed interface the
//!   FETCH and SEARCH commands call).
//!
//! Does not live here: parsing and encoding (`mailroom_proto::imap`), storage, accounts.

pub(crate) mod cmd;
pub mod comparator;
pub(crate) mod context;
pub mod fetch;
pub(crate) mod notify;
pub(crate) mod rev2;
pub mod search;
pub(crate) mod session;
pub mod sort;
pub mod sortkeys;
pub mod thread;
pub(crate) mod view;

use crate::net::{ConnInfo, Stream};
use crate::Ctx;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The special-use mailboxes every account gets: made when the account is added
/// (`mailroom account add`) and, for accounts made otherwise, at the first login.
pub const DEFAULT_MAILBOXES: &[(&str, mailroom_store::SpecialUse)] = &[
    ("Drafts", mailroom_store::SpecialUse::Drafts),
    ("Sent", mailroom_store::SpecialUse::Sent),
    ("Trash", mailroom_store::SpecialUse::Trash),
    ("Junk", mailroom_store::SpecialUse::Junk),
];

/// Serves one IMAP connection.
pub fn serve(
    ctx: Arc<Ctx>,
    stream: Stream,
    info: ConnInfo,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
    let tls = stream.is_tls();
    crate::net::logged_session(&info.clone(), tls, move || {
        session::Session::new(ctx, stream, info).run()
    })
}
