//! Statistics (I9, issue 17): the counters, gauges and histograms the sessions record,
//! through the `metrics` facade. The binary installs a Prometheus recorder
//! (`mailroom-web`, served at `/metrics` on the `[admin]` listener); without one (tests,
//! `mailroom deliver`) every call is a no-op.
//!
//! Every name and label value is a `&'static str`: recording allocates nothing, and a
//! session holds no metric state (the per-connection memory is unchanged).
//!
//! Does not live here: the exposition format (the exporter crate) and the store's own
//! commit latency (`mailroom_store_commit_duration_seconds`, recorded by the backend).

use crate::net::Protocol;
use std::time::Duration;

/// Connections open now, per module (gauge).
pub const CONNECTIONS_OPEN: &str = "mailroom_connections_open";
/// Connections accepted, per module.
pub const CONNECTIONS: &str = "mailroom_connections_total";
/// Connections refused because the module's channel limit was reached.
pub const REFUSED: &str = "mailroom_connections_refused_total";
/// TLS handshakes (implicit TLS and STARTTLS/STLS) by result.
pub const TLS_HANDSHAKES: &str = "mailroom_tls_handshakes_total";
/// Login attempts by module, mechanism and result.
pub const LOGINS: &str = "mailroom_logins_total";
/// Commands by module, name and result (IMAP `OK`/`NO`/`BAD`, POP3 `OK`/`ERR`).
pub const COMMANDS: &str = "mailroom_commands_total";
/// Command latency by module and command (histogram, seconds).
pub const COMMAND_SECONDS: &str = "mailroom_command_duration_seconds";
/// Octets received from clients.
pub const BYTES_IN: &str = "mailroom_received_bytes_total";
/// Octets sent to clients.
pub const BYTES_OUT: &str = "mailroom_sent_bytes_total";
/// LMTP deliveries (one per recipient) by result.
pub const DELIVERIES: &str = "mailroom_lmtp_deliveries_total";
/// Messages stored (delivered, appended, copied) by source.
pub const MESSAGES_STORED: &str = "mailroom_messages_stored_total";
/// Octets of the messages stored, by source.
pub const BYTES_STORED: &str = "mailroom_stored_bytes_total";
/// The store's commit latency (histogram, seconds); recorded by the backend.
pub const STORE_COMMIT_SECONDS: &str = "mailroom_store_commit_duration_seconds";

/// The `module` label of a protocol.
pub fn module(p: Protocol) -> &'static str {
    match p {
        Protocol::Imap => "imap",
        Protocol::Pop3 => "pop3",
        Protocol::Lmtp => "lmtp",
    }
}

/// Describes every metric (HELP lines); called once by whoever installs the recorder.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_gauge!(CONNECTIONS_OPEN, "Connections open now, per module");
    describe_counter!(CONNECTIONS, "Connections accepted, per module");
    describe_counter!(
        REFUSED,
        "Connections refused because the module's channel limit was reached"
    );
    describe_counter!(TLS_HANDSHAKES, "TLS handshakes by module and result");
    describe_counter!(LOGINS, "Login attempts by module, mechanism and result");
    describe_counter!(COMMANDS, "Commands by module, command and result");
    describe_histogram!(
        COMMAND_SECONDS,
        Unit::Seconds,
        "Command latency by module and command"
    );
    describe_counter!(BYTES_IN, Unit::Bytes, "Octets received from clients");
    describe_counter!(BYTES_OUT, Unit::Bytes, "Octets sent to clients");
    describe_counter!(DELIVERIES, "LMTP deliveries (per recipient) by result");
    describe_counter!(MESSAGES_STORED, "Messages stored, by source");
    describe_counter!(
        BYTES_STORED,
        Unit::Bytes,
        "Octets of messages stored, by source"
    );
    describe_histogram!(
        STORE_COMMIT_SECONDS,
        Unit::Seconds,
        "Store commit latency (one index transaction of a group commit)"
    );
}

/// A connection was accepted (and now counts as open).
pub fn connection_opened(p: Protocol) {
    metrics::counter!(CONNECTIONS, "module" => module(p)).increment(1);
    metrics::gauge!(CONNECTIONS_OPEN, "module" => module(p)).increment(1.0);
}

/// A connection ended.
pub fn connection_closed(p: Protocol) {
    metrics::gauge!(CONNECTIONS_OPEN, "module" => module(p)).decrement(1.0);
}

/// A connection was refused at the channel limit.
pub fn refused(p: Protocol) {
    metrics::counter!(REFUSED, "module" => module(p)).increment(1);
}

/// A TLS handshake ended.
pub fn tls_handshake(p: Protocol, ok: bool) {
    let result = if ok { "ok" } else { "failed" };
    metrics::counter!(TLS_HANDSHAKES, "module" => module(p), "result" => result).increment(1);
}

/// The mechanism label of a SASL mechanism name (unknown names are `other`, so a client
/// cannot create label values).
pub fn mechanism(name: &str) -> &'static str {
    const KNOWN: [&str; 6] = [
        "PLAIN",
        "LOGIN",
        "CRAM-MD5",
        "SCRAM-SHA-256",
        "SCRAM-SHA-1",
        "XOAUTH2",
    ];
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name))
        .copied()
        .unwrap_or("other")
}

/// A login attempt's outcome (`mechanism`: `LOGIN` for IMAP LOGIN, `USER` for POP3
/// USER/PASS, `APOP`, or a SASL mechanism).
pub fn login(p: Protocol, mechanism: &'static str, ok: bool) {
    let result = if ok { "ok" } else { "failed" };
    metrics::counter!(LOGINS, "module" => module(p), "mechanism" => mechanism, "result" => result)
        .increment(1);
}

/// A command ended with `result` after `took`.
pub fn command(p: Protocol, name: &'static str, result: &'static str, took: Duration) {
    metrics::counter!(COMMANDS, "module" => module(p), "command" => name, "result" => result)
        .increment(1);
    metrics::histogram!(COMMAND_SECONDS, "module" => module(p), "command" => name)
        .record(took.as_secs_f64());
}

/// `n` octets were received.
pub fn bytes_in(p: Protocol, n: usize) {
    if n > 0 {
        metrics::counter!(BYTES_IN, "module" => module(p)).increment(n as u64);
    }
}

/// `n` octets were sent.
pub fn bytes_out(p: Protocol, n: usize) {
    if n > 0 {
        metrics::counter!(BYTES_OUT, "module" => module(p)).increment(n as u64);
    }
}

/// One LMTP recipient's delivery outcome (`delivered`, `unknown`, `temporary`, ...).
pub fn delivery(result: &'static str) {
    metrics::counter!(DELIVERIES, "result" => result).increment(1);
}

/// A message of `size` octets was stored; `source`: `delivery`, `append`, `copy`.
pub fn stored(source: &'static str, size: u64) {
    metrics::counter!(MESSAGES_STORED, "source" => source).increment(1);
    metrics::counter!(BYTES_STORED, "source" => source).increment(size);
}
