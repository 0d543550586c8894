//! COMPRESS (RFC 4978): after the tagged OK, everything in both directions is raw DEFLATE
//! (`crate::net::deflate`), under TLS when TLS is active. Allowed once logged in (the
//! command table: `command-auth`). Input received after the command but before the OK
//! was sent broke RFC 4978 section 3 ("the client MUST NOT send any further commands
//! until it has seen the result"): it is discarded, as with STARTTLS.

use super::Reply;
use crate::imap::session::Session;
use mailroom_proto::imap::encode::{ResponseCode, Status};
use mailroom_proto::imap::{Framer, Tag};

pub(crate) async fn run(s: &mut Session, tag: &Tag, mechanism: &str) -> Reply {
    if mechanism != "DEFLATE" {
        return Reply::bad(&format!("unknown compression mechanism {mechanism}"));
    }
    if s.stream.is_compressed() {
        // RFC 4978 section 3: NO with COMPRESSIONACTIVE, saying which layer compresses.
        return Reply::no(
            Some(ResponseCode::CompressionActive),
            "DEFLATE is already active via COMPRESS",
        );
    }
    // Untagged updates are due before the tagged reply, which is the last uncompressed
    // output.
    if s.selected.is_some() {
        s.refresh(true).await;
    }
    s.line(Some(tag), Status::Ok, None, "DEFLATE active");
    if s.flush().await.is_err() {
        s.closing = true;
        return Reply::sent();
    }
    s.framer = Framer::new(s.framer.config().clone());
    s.stream.compress();
    tracing::debug!("COMPRESS DEFLATE active");
    Reply::sent()
}
