//! The local admin socket: a Unix socket in the data directory (mode 0600) through which
//! the CLI talks to the running server. One request line per connection:
//! - `sessions`: the session registry, as [`crate::registry::Registry::render`] prints it;
//! - `alerts-changed`: an alert was posted; sessions re-read pending alerts (I7);
//! - `reload`: the configuration and TLS certificate are read again ([`crate::reload`]);
//!   the reply is what was done, one line each, `error: ...` when nothing changed.

use crate::Ctx;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// Binds the admin socket, replacing a stale one left by a server that died.
pub fn bind(path: &Path) -> Result<UnixListener, (PathBuf, std::io::Error)> {
    let err = |e| (path.to_path_buf(), e);
    if path.exists() {
        // A live server answers; a stale socket refuses the connection.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "another mailroom server is running on this data directory",
            )));
        }
        std::fs::remove_file(path).map_err(err)?;
    }
    let l = UnixListener::bind(path).map_err(err)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    Ok(l)
}

/// Serves admin requests until shutdown.
pub async fn serve(ctx: Arc<Ctx>, listener: UnixListener) {
    let mut shutdown = ctx.shutdown.clone();
    loop {
        let conn = tokio::select! {
            _ = shutdown.wait() => break,
            c = listener.accept() => c,
        };
        let Ok((conn, _)) = conn else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(10), handle(ctx, conn)).await;
        });
    }
}

async fn handle(ctx: Arc<Ctx>, conn: UnixStream) -> std::io::Result<()> {
    let (r, mut w) = conn.into_split();
    let mut line = String::new();
    BufReader::new(r.take(1024)).read_line(&mut line).await?;
    let reply = match line.trim() {
        "sessions" => ctx.registry.render(),
        "alerts-changed" => {
            ctx.alerts_changed();
            "ok\n".to_string()
        }
        "reload" => {
            let c = ctx.clone();
            match tokio::task::spawn_blocking(move || c.reload()).await {
                Ok(Ok(lines)) => lines.iter().map(|l| format!("{l}\n")).collect(),
                Ok(Err(e)) => format!("error: {e}\n"),
                Err(e) => format!("error: reload failed: {e}\n"),
            }
        }
        other => format!("error: unknown request {other:?}\n"),
    };
    w.write_all(reply.as_bytes()).await?;
    w.shutdown().await
}

/// Client side, for the CLI: sends one request and returns the reply.
pub fn request(path: &Path, req: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(path)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(req.as_bytes())?;
    s.write_all(b"\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}
