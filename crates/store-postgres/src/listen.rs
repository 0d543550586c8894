//! The change feed between nodes: PostgreSQL `LISTEN`/`NOTIFY` feeding the local hub.
//!
//! Every write transaction that changes a mailbox sends `pg_notify(channel, payload)`
//! with the payload `<mailbox id> <account key>` ([`payload`]); PostgreSQL delivers it to
//! every listening session when (and only if) the transaction commits. Each [`PgStore`]
//! keeps one connection of its own (outside the pool) that `LISTEN`s on the channel and
//! wakes the local [`LocalHub`]'s watchers of that mailbox; a woken session asks the
//! store for `changes_since` as with any other wake-up.
//!
//! Account events (IMAP NOTIFY: mailboxes created, deleted, renamed, subscriptions,
//! METADATA) travel on the same channel as [`event_payload`]s, sent in the change's
//! transaction by the node that made it, which announced them on its own hub already:
//! a listener announces the events of the other nodes and skips its own.
//!
//! A notification is not a durable message: while the listening connection is down
//! (network trouble, a database failover) some are lost. So after every (re)connection
//! the listener wakes every mailbox watched on this node (a spurious wake-up costs one
//! `changes_since`; a missed one is not allowed by the hub's contract).
//!
//! [`PgStore`]: crate::PgStore

use crate::schema::quote_ident;
use futures_util::StreamExt;
use mailroom_store::hub::{AccountEvent, LocalHub};
use mailroom_store::{AccountKey, ChangeHub, MailboxId};
use std::sync::Weak;
use std::time::Duration;
use tokio_postgres::{AsyncMessage, NoTls};

/// The payload of a change notification.
pub fn payload(key: &AccountKey, mailbox: MailboxId) -> String {
    format!("{} {}", mailbox.0, key.as_str())
}

/// The most bytes of a payload PostgreSQL takes (8000) with room to spare; longer
/// account events are announced on this node only.
const MAX_PAYLOAD: usize = 7900;

/// The payload of account events (IMAP NOTIFY) made by `node` (see [`events_of`]):
/// `E <node> <account key>` and one line per event, fields separated by tabs. `None`
/// when a field holds a tab or a line break, or the payload would be too long: those
/// events reach this node's watchers only.
pub fn event_payload(node: &str, key: &AccountKey, events: &[AccountEvent]) -> Option<String> {
    let mut p = format!("E {node} {}", key.as_str());
    let field = |p: &mut String, f: &str| -> Option<()> {
        if f.contains(['\t', '\n', '\r']) {
            return None;
        }
        p.push('\t');
        p.push_str(f);
        Some(())
    };
    for e in events {
        p.push('\n');
        match e {
            AccountEvent::Messages(_) => return None,
            AccountEvent::Created(n) => {
                p.push('C');
                field(&mut p, n)?;
            }
            AccountEvent::Deleted(n) => {
                p.push('D');
                field(&mut p, n)?;
            }
            AccountEvent::Renamed { from, to } => {
                p.push('R');
                field(&mut p, from)?;
                field(&mut p, to)?;
            }
            AccountEvent::Subscription { name, subscribed } => {
                p.push(if *subscribed { 'S' } else { 'U' });
                field(&mut p, name)?;
            }
            AccountEvent::Metadata { mailbox, entries } => {
                p.push('M');
                let m = mailbox.map_or_else(|| "-".to_string(), |m| m.0.to_string());
                field(&mut p, &m)?;
                for n in entries {
                    field(&mut p, n)?;
                }
            }
        }
    }
    (p.len() <= MAX_PAYLOAD).then_some(p)
}

/// Reads a payload made by [`event_payload`]: the node, the account and the events.
pub fn events_of(p: &str) -> Option<(String, AccountKey, Vec<AccountEvent>)> {
    let mut lines = p.split('\n');
    let head = lines.next()?.strip_prefix("E ")?;
    let (node, key) = head.split_once(' ')?;
    let (domain, name) = key.split_once('/')?;
    let key = AccountKey::new(domain, name)?;
    let mut events = Vec::new();
    for line in lines {
        let mut f = line.split('\t');
        let kind = f.next()?;
        let mut one = || f.next().map(str::to_string);
        let e = match kind {
            "C" => AccountEvent::Created(one()?),
            "D" => AccountEvent::Deleted(one()?),
            "R" => AccountEvent::Renamed {
                from: one()?,
                to: one()?,
            },
            "S" | "U" => AccountEvent::Subscription {
                name: one()?,
                subscribed: kind == "S",
            },
            "M" => {
                let m = one()?;
                let mailbox = match m.as_str() {
                    "-" => None,
                    id => Some(MailboxId(id.parse().ok()?)),
                };
                AccountEvent::Metadata {
                    mailbox,
                    entries: f.map(str::to_string).collect(),
                }
            }
            _ => return None,
        };
        events.push(e);
    }
    Some((node.to_string(), key, events))
}

/// Reads a payload made by [`payload`].
pub fn parse_payload(p: &str) -> Option<(AccountKey, MailboxId)> {
    let (id, key) = p.split_once(' ')?;
    let id: i64 = id.parse().ok()?;
    let (domain, name) = key.split_once('/')?;
    Some((AccountKey::new(domain, name)?, MailboxId(id)))
}

/// Listens until the hub is gone, reconnecting after a pause when the connection fails.
/// `ready` is told once the first `LISTEN` is in place.
pub async fn run(
    cfg: tokio_postgres::Config,
    channel: String,
    node: String,
    hub: Weak<LocalHub>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut pause = Duration::from_millis(200);
    let mut ready = Some(ready);
    loop {
        if hub.strong_count() == 0 {
            return;
        }
        match listen_once(&cfg, &channel, &node, &hub, &mut ready).await {
            Ok(()) => pause = Duration::from_millis(200),
            Err(e) => {
                tracing::warn!(error = %e, "PostgreSQL change feed: connection lost, reconnecting");
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
        tokio::time::sleep(pause).await;
    }
}

/// One connection's life: LISTEN, wake everything watched, then relay notifications
/// until the connection ends.
async fn listen_once(
    cfg: &tokio_postgres::Config,
    channel: &str,
    node: &str,
    hub: &Weak<LocalHub>,
    ready: &mut Option<tokio::sync::oneshot::Sender<()>>,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = cfg.connect(NoTls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(m) = messages.next().await {
            match m {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx.send(n.payload().to_string()).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "PostgreSQL change feed: connection error");
                    return;
                }
            }
        }
    });
    let listening = client
        .batch_execute(&format!("LISTEN {}", quote_ident(channel)))
        .await;
    if let Err(e) = listening {
        driver.abort();
        return Err(e);
    }
    if let Some(r) = ready.take() {
        let _ = r.send(());
    }
    // Whatever changed while no connection listened.
    if let Some(h) = hub.upgrade() {
        for (key, mailbox) in h.watched() {
            h.notify(&key, mailbox);
        }
    }
    while let Some(p) = rx.recv().await {
        let Some(h) = hub.upgrade() else {
            break;
        };
        if p.starts_with("E ") {
            match events_of(&p) {
                // This node's own events were announced when they were committed.
                Some((from, _, _)) if from == node => {}
                Some((_, key, events)) => h.announce_all(&key, events),
                None => tracing::warn!(payload = %p, "PostgreSQL change feed: unreadable payload"),
            }
            continue;
        }
        match parse_payload(&p) {
            Some((key, mailbox)) => h.notify(&key, mailbox),
            None => tracing::warn!(payload = %p, "PostgreSQL change feed: unreadable payload"),
        }
    }
    drop(client);
    driver.abort();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip() {
        let key = AccountKey::new("example.org", "alice").expect("key");
        let p = payload(&key, MailboxId(42));
        assert_eq!(p, "42 example.org/alice");
        assert_eq!(parse_payload(&p), Some((key, MailboxId(42))));
        assert_eq!(parse_payload("x example.org/alice"), None);
        assert_eq!(parse_payload("1 nokey"), None);
    }

    #[test]
    fn event_payload_round_trip() {
        let key = AccountKey::new("example.org", "alice").expect("key");
        let events = vec![
            AccountEvent::Created("a b".into()),
            AccountEvent::Deleted("x/y".into()),
            AccountEvent::Renamed {
                from: "INBOX".into(),
                to: "old".into(),
            },
            AccountEvent::Subscription {
                name: "s".into(),
                subscribed: true,
            },
            AccountEvent::Subscription {
                name: "s".into(),
                subscribed: false,
            },
            AccountEvent::Metadata {
                mailbox: Some(MailboxId(7)),
                entries: vec!["/private/a".into(), "/shared/b".into()],
            },
            AccountEvent::Metadata {
                mailbox: None,
                entries: vec![],
            },
        ];
        let p = event_payload("n1", &key, &events).expect("payload");
        assert_eq!(events_of(&p), Some(("n1".into(), key.clone(), events)));
        assert_eq!(
            event_payload("n1", &key, &[AccountEvent::Created("a\tb".into())]),
            None
        );
        let long = AccountEvent::Created("x".repeat(MAX_PAYLOAD));
        assert_eq!(event_payload("n1", &key, &[long]), None);
    }
}
