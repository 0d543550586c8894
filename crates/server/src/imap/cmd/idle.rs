//! IDLE (RFC 2177): `+ idling`, then updates as they happen (the store's change hub,
//! NOTIFY's events (RFC 5465 4), alerts) until the client's `DONE`, the idle time-out or shutdown.

use super::Reply;
use crate::imap::session::{Ev, Session};
use mailroom_proto::imap::encode::Status;
use mailroom_proto::imap::Tag;
use std::time::Duration;
use tokio::io::AsyncReadExt;

pub(crate) async fn run(s: &mut Session, tag: &Tag) -> Reply {
    let _ = tag;
    // With NOTIFY, IDLE sends exactly what NOTIFY asked for (RFC 5465 4): the selected
    // mailbox only through NOTIFY's SELECTED filter.
    let mut watch = s
        .selected
        .as_ref()
        .filter(|_| !s.notify.as_ref().is_some_and(|n| n.set))
        .map(|sel| s.ctx.store.hub().watch(sel.account.key(), sel.id));
    let own_key = s.user.as_ref().map(|u| u.account.key().clone());
    s.out.extend_from_slice(b"+ idling\r\n");
    s.refresh(true).await;
    s.check_alerts().await;
    let mut shutdown = s.ctx.shutdown.clone();
    let mut closed = s.reg.close_signal();
    let timeout = Duration::from_secs(s.ctx.config().imap.idle_timeout_secs.max(1));
    let deadline = tokio::time::Instant::now() + timeout;
    let mut alerts_alive = true;
    loop {
        // Input already received (a pipelined DONE) first.
        if let Some(ev) = s.next_event() {
            match ev {
                Ev::Cmd(raw) => {
                    return match raw.as_line() {
                        Some(l) if l.trim_ascii().eq_ignore_ascii_case(b"DONE") => {
                            Reply::ok("IDLE terminated")
                        }
                        _ => Reply::bad("expected DONE"),
                    };
                }
                Ev::Error(e) => {
                    if e.fatal {
                        s.closing = true;
                    }
                    return Reply::bad("expected DONE");
                }
                Ev::Continue | Ev::StreamStart { .. } => {
                    s.framer.reject_literal();
                    return Reply::bad("expected DONE");
                }
            }
        }
        if s.closing || s.flush().await.is_err() {
            s.closing = true;
            return Reply::sent();
        }
        // No buffer is held while idling: readiness first, then a short-lived read buffer.
        if s.out.is_empty() && s.out.capacity() > 0 {
            s.out = Vec::new();
        }
        s.framer.release_buffers();
        enum Wake {
            Read(std::io::Result<Vec<u8>>),
            Mailbox,
            Notify,
            Alert(bool),
            Timeout,
            Shutdown,
            Closed,
        }
        let notify_on = s.notify.is_some();
        let stream = &mut s.stream;
        let (notify, selected) = (&mut s.notify, &mut s.selected);
        let mut notified = notify_on.then(|| {
            Box::pin(crate::imap::notify::wait(
                notify,
                selected,
                own_key.as_ref(),
            ))
        });
        let wake = tokio::select! {
            r = async {
                stream.wait_readable().await?;
                let mut buf = vec![0u8; 1024];
                let n = stream.read(&mut buf).await?;
                buf.truncate(n);
                Ok(buf)
            } => Wake::Read(r),
            _ = async {
                match watch.as_mut() {
                    Some(w) => w.changed().await,
                    None => std::future::pending().await,
                }
            } => Wake::Mailbox,
            _ = async {
                match notified.as_mut() {
                    Some(f) => f.await,
                    None => std::future::pending().await,
                }
            }, if notify_on => Wake::Notify,
            r = s.alerts.changed(), if alerts_alive => Wake::Alert(r.is_ok()),
            _ = tokio::time::sleep_until(deadline) => Wake::Timeout,
            _ = shutdown.wait() => Wake::Shutdown,
            _ = closed.wait() => Wake::Closed,
        };
        drop(notified);
        match wake {
            Wake::Read(Err(_)) => {
                s.closing = true;
                s.out.clear();
                return Reply::sent();
            }
            Wake::Read(Ok(buf)) if buf.is_empty() => {
                s.closing = true;
                s.out.clear();
                return Reply::sent();
            }
            Wake::Read(Ok(buf)) => {
                crate::metrics::bytes_in(crate::net::Protocol::Imap, buf.len());
                s.framer.push(&buf)
            }
            Wake::Mailbox => s.refresh(true).await,
            Wake::Notify => Box::pin(s.notify_deliver(Some(true))).await,
            Wake::Alert(alive) => {
                alerts_alive = alive;
                if alive {
                    s.alerts.borrow_and_update();
                    s.send_alerts().await;
                }
            }
            Wake::Timeout => {
                s.line(None, Status::Bye, None, "autologout; idle for too long");
                s.closing = true;
                return Reply::sent();
            }
            Wake::Shutdown => {
                let _ = s.bye_shutdown().await;
                s.closing = true;
                return Reply::sent();
            }
            Wake::Closed => {
                tracing::info!("closed by an administrator");
                s.line(None, Status::Bye, None, "closed by the administrator");
                s.closing = true;
                return Reply::sent();
            }
        }
    }
}
