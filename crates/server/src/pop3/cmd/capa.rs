//! CAPA (RFC 2449 section 5) and STLS (RFC 2595 section 4).

use crate::pop3::{Next, Session, State};

impl Session {
    /// True when STLS can be offered: TLS is configured, the stream is clear-text TCP,
    /// and the session is not logged in yet.
    fn stls_available(&self) -> bool {
        self.ctx.tls.is_some() && self.stream.can_starttls() && !self.stream.is_tls()
    }

    /// `CAPA`: what this connection offers now.
    pub(crate) fn capa(&mut self) {
        let trans = self.is_transaction();
        let mut lines: Vec<String> = vec![
            "+OK capability list follows".into(),
            "TOP".into(),
            "UIDL".into(),
        ];
        if !trans && self.plaintext_allowed() {
            lines.push("USER".into());
        }
        if !trans {
            lines.push(format!("SASL {}", self.mechanisms().join(" ")));
        }
        lines.push("RESP-CODES".into());
        lines.push("AUTH-RESP-CODE".into());
        lines.push("PIPELINING".into());
        if !trans && self.stls_available() {
            lines.push("STLS".into());
        }
        if let Some(e) = &self.ctx.config().pop3.expire {
            lines.push(format!("EXPIRE {e}"));
        }
        if let Some(d) = self.ctx.config().pop3.login_delay {
            lines.push(format!("LOGIN-DELAY {d}"));
        }
        lines.push("IMPLEMENTATION mailroom".into());
        lines.push(".".into());
        for l in lines {
            self.reply(&l);
        }
    }

    /// `STLS`: `+OK`, the TLS handshake, then a fresh AUTHORIZATION state. Input the
    /// client sent before the handshake is discarded (RFC 2595 section 4; a command
    /// injection defence). A failed handshake ends the connection.
    pub(crate) async fn stls(&mut self) -> std::io::Result<Next> {
        if self.stream.is_tls() {
            self.err("already using TLS");
            return Ok(Next::Continue);
        }
        let acceptor = match (&self.ctx.tls, self.stream.can_starttls()) {
            (Some(a), true) => a.clone(),
            _ => {
                self.err("STLS is not available on this connection");
                return Ok(Next::Continue);
            }
        };
        self.reply("+OK Begin TLS negotiation");
        self.write_out().await?;
        self.buf = Vec::new();
        self.framer = mailroom_proto::line::LineFramer::new(mailroom_proto::pop3::MAX_LINE);
        let upgraded = self.stream.upgrade(&acceptor).await;
        crate::metrics::tls_handshake(crate::net::Protocol::Pop3, upgraded.is_ok());
        if let Err(e) = upgraded {
            tracing::info!(error = %e, "STLS handshake failed");
            return Ok(Next::Close);
        }
        tracing::info!("TLS started");
        self.state = State::Authorization { user: None };
        Ok(Next::Continue)
    }
}
