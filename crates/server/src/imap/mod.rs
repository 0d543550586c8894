//! The IMAP module (being written): session, command handlers, FETCH rendering, SEARCH.

pub mod fetch;
pub mod search;

use crate::net::{ConnInfo, Stream};
use crate::Ctx;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Serves one IMAP connection.
pub fn serve(
    ctx: Arc<Ctx>,
    stream: Stream,
    info: ConnInfo,
) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
    Box::pin(async move {
        let _ = (ctx, info);
        use tokio::io::AsyncWriteExt;
        let mut stream = stream;
        let _ = stream.write_all(b"* BYE not yet\r\n").await;
    })
}
