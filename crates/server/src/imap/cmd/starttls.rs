//! STARTTLS (RFC 3501 6.2.1, RFC 9051): the go-ahead, then the TLS handshake on the same
//! connection. Input received before the handshake is discarded (no command injection).

use super::Reply;
use crate::imap::session::Session;
use mailroom_proto::imap::encode::Status;
use mailroom_proto::imap::{Framer, Tag};

pub(crate) async fn run(s: &mut Session, tag: &Tag) -> Reply {
    let Some(acceptor) = s.ctx.tls.clone() else {
        return Reply::no(None, "TLS is not available");
    };
    if !s.stream.can_starttls() {
        return Reply::bad("TLS is already active");
    }
    s.line(Some(tag), Status::Ok, None, "begin TLS negotiation now");
    if s.flush().await.is_err() {
        s.closing = true;
        return Reply::sent();
    }
    s.framer = Framer::new(s.framer.config().clone());
    let upgraded = s.stream.upgrade(&acceptor).await;
    crate::metrics::tls_handshake(crate::net::Protocol::Imap, upgraded.is_ok());
    if let Err(e) = upgraded {
        tracing::info!(error = %e, "TLS handshake failed");
        s.out.clear();
        s.closing = true;
        return Reply::sent();
    }
    tracing::debug!("TLS established");
    Reply::sent()
}
