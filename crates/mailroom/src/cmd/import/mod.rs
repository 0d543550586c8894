//! `mailroom import dovecot|courier|maildir`: copies another server's Maildir++ tree into
//! an account (`--account NAME PATH`) or a whole Dovecot server (`--passwd-file FILE
//! MAILROOT`: accounts from the passwd-file, mail from MAILROOT/`--mail-template`),
//! keeping per mailbox UIDVALIDITY, every message's UID, UIDNEXT, flags, keywords and
//! internal date, the subscriptions, and the POP3 unique-ids the old server showed (so
//! POP3 clients do not download everything again).
//!
//! Resumable and idempotent: a mailbox that already has the source's UIDVALIDITY takes
//! only the messages at or above its UIDNEXT (messages are added in UID order, so an
//! interrupted run left a prefix), and the UIDLs, UIDNEXT and subscriptions are set
//! again each run. A mailbox that holds other messages under another UIDVALIDITY is
//! refused (reported; the other mailboxes go on).
//!
//! Reading the source lives in `source.rs`; the store calls used are the `Account`
//! trait's migration calls (`set_uid_validity`, `append_with_uid`, `finish_import`,
//! `set_pop3_uidls`).

mod source;

use super::{open_directory, open_store};
use crate::cli::{ImportArgs, ImportFrom};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use mailroom_server::Config;
use mailroom_store::{
    Account, AccountKey, AppendRequest, Flags, MessageSink, Store, StoreError, Uid,
};
use source::{Source, SourceFolder, SourceMessage};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Messages up to this size are staged in memory, larger ones in `<data>/spool`.
const SPILL_AT: usize = 1 << 20;

/// What was done, for the summary.
#[derive(Default)]
struct Totals {
    accounts: u64,
    mailboxes: u64,
    imported: u64,
    octets: u64,
    already: u64,
    failed: u64,
}

pub fn run(config: &Config, args: ImportArgs) -> Result<ExitCode> {
    let dir = open_directory(config)?;
    let uidl_format = args
        .pop3_uidl_format
        .clone()
        .unwrap_or_else(|| match args.from {
            ImportFrom::Dovecot => "%08Xu%08Xv".into(),
            ImportFrom::Courier | ImportFrom::Maildir => "%f".into(),
        });
    UidlFormat::check(&uidl_format)?;
    // (account address, store key, source Maildir)
    let mut jobs: Vec<(String, AccountKey, PathBuf)> = Vec::new();
    let mut failed_lines = 0u64;
    if let Some(file) = &args.passwd_file {
        if !matches!(args.from, ImportFrom::Dovecot) {
            bail!("--passwd-file is Dovecot's whole-server form: use `import dovecot`");
        }
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let mut added = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let at = format!("{}:{}", file.display(), i + 1);
            let (name, hash) = match super::account::passwd_line(line, &args.default_scheme) {
                Ok(Some(x)) => x,
                Ok(None) => continue,
                Err(e) => {
                    eprintln!("mailroom: {at}: {e}");
                    failed_lines += 1;
                    continue;
                }
            };
            let r = if dir.account(&name).is_ok() {
                dir.set_password_hash(&name, &hash)
                    .and_then(|()| dir.account(&name))
            } else {
                dir.add_account_with_hash(&name, &hash).inspect(|a| {
                    added.push(a.clone());
                })
            };
            let a = match r {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("mailroom: {at}: {name}: {e}");
                    failed_lines += 1;
                    continue;
                }
            };
            // The passwd-file's sixth field is the user's home (Dovecot's `~`).
            let home = line.split(':').nth(5).unwrap_or_default().trim();
            let path = args.path.join(mail_path(&args.mail_template, &name, home));
            if !path.join("cur").is_dir() {
                println!(
                    "{}: no Maildir at {}, nothing to import",
                    a.address(),
                    path.display()
                );
                continue;
            }
            let (d, n) = a.store_key();
            let key = AccountKey::new(&d, &n)
                .with_context(|| format!("{}: not a valid store key", a.address()))?;
            jobs.push((a.address(), key, path));
        }
    } else if let Some(name) = &args.account {
        let a = dir
            .account(name)
            .with_context(|| format!("{name}: add the account first (`mailroom account add`)"))?;
        let (d, n) = a.store_key();
        let key = AccountKey::new(&d, &n)
            .with_context(|| format!("{}: not a valid store key", a.address()))?;
        jobs.push((a.address(), key, args.path.clone()));
    } else {
        bail!("say which account (--account NAME) or give a passwd-file (--passwd-file FILE)");
    }

    // Read every source first: the progress bar knows the total, and a source that
    // cannot be read fails before anything is written.
    let mut sources = Vec::new();
    for (addr, key, path) in jobs {
        match source::read(&path) {
            Ok(s) => sources.push((addr, key, s)),
            Err(e) => {
                eprintln!("mailroom: {addr}: {e:#}");
                failed_lines += 1;
            }
        }
    }
    let total: u64 = sources.iter().map(|s| s.2.message_count()).sum();
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} messages ({per_sec}, {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let spool = config.server.data_dir.join("spool");
    std::fs::create_dir_all(&spool).with_context(|| format!("{}", spool.display()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let store = rt.block_on(open_store(config))?;
    let mut totals = Totals {
        failed: failed_lines,
        ..Totals::default()
    };
    let uidl = UidlFormat(uidl_format);
    rt.block_on(async {
        for (addr, key, src) in &sources {
            bar.set_message(addr.clone());
            let before = (totals.imported, totals.already, totals.failed);
            if let Err(e) = import_account(&store, key, src, &uidl, &spool, &bar, &mut totals).await
            {
                bar.suspend(|| eprintln!("mailroom: {addr}: {e:#}"));
                totals.failed += 1;
            }
            totals.accounts += 1;
            bar.suspend(|| {
                println!(
                    "{addr}: {} mailboxes, {} messages imported, {} already there, {} failed",
                    src.folders.len(),
                    totals.imported - before.0,
                    totals.already - before.1,
                    totals.failed - before.2
                )
            });
        }
    });
    bar.finish_and_clear();
    println!(
        "imported {} messages ({} octets) into {} mailboxes of {} accounts; {} already there; {} failed",
        totals.imported, totals.octets, totals.mailboxes, totals.accounts, totals.already, totals.failed
    );
    Ok(if totals.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The Maildir of `user` under the mail root: `%u` the whole name, `%n` its local part,
/// `%d` its domain, `%h` the home of the passwd-file line (an absolute result does not
/// depend on the mail root), `%%` a percent sign (Dovecot's variables).
fn mail_path(template: &str, user: &str, home: &str) -> PathBuf {
    let (n, d) = user.split_once('@').unwrap_or((user, ""));
    let mut out = String::new();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('u') => out.push_str(user),
            Some('n') => out.push_str(n),
            Some('d') => out.push_str(d),
            Some('h') => out.push_str(home),
            Some(o) => out.push(o),
            None => out.push('%'),
        }
    }
    PathBuf::from(out)
}

async fn import_account(
    store: &Arc<dyn Store>,
    key: &AccountKey,
    src: &Source,
    uidl: &UidlFormat,
    spool: &Path,
    bar: &ProgressBar,
    totals: &mut Totals,
) -> Result<()> {
    let account = store.open_account(key).await?;
    account
        .ensure_mailboxes(mailroom_server::imap::DEFAULT_MAILBOXES)
        .await?;
    for folder in &src.folders {
        match import_folder(&account, folder, uidl, spool, bar, totals).await {
            Ok(()) => totals.mailboxes += 1,
            Err(e) => {
                bar.suspend(|| eprintln!("mailroom: {} {}: {e:#}", key.as_str(), folder.name));
                totals.failed += 1;
            }
        }
    }
    for name in &src.subscriptions {
        if let Err(e) = account.set_subscribed(name, true).await {
            bar.suspend(|| eprintln!("mailroom: {}: subscription {name}: {e}", key.as_str()));
            totals.failed += 1;
        }
    }
    Ok(())
}

async fn import_folder(
    account: &Arc<dyn Account>,
    folder: &SourceFolder,
    uidl: &UidlFormat,
    spool: &Path,
    bar: &ProgressBar,
    totals: &mut Totals,
) -> Result<()> {
    let target = match account.mailbox(&folder.name).await {
        Ok(m) => m,
        Err(StoreError::NotFound(_)) => match account.create_mailbox(&folder.name, None).await {
            Ok(m) => m,
            Err(StoreError::AlreadyExists(_)) => account.mailbox(&folder.name).await?,
            Err(e) => return Err(e.into()),
        },
        Err(e) => return Err(e.into()),
    };
    let status = account.status(target.id).await?;
    let v = folder.uid_validity.unwrap_or(target.uid_validity);
    let start: Uid = if status.uid_validity == v {
        status.uid_next
    } else if status.messages == 0 {
        account.set_uid_validity(target.id, v).await?;
        1
    } else {
        bail!(
            "holds {} messages under UIDVALIDITY {} (the source has {v}); not imported",
            status.messages,
            status.uid_validity
        );
    };
    let mut uidls = Vec::with_capacity(folder.messages.len());
    for m in &folder.messages {
        match uidl.render(v, m) {
            Some(u) => uidls.push((m.uid, u)),
            None => bar.suspend(|| {
                eprintln!(
                    "mailroom: warning: {} UID {}: no POP3 unique-id in the format (too long, or %g without a GUID)",
                    folder.name, m.uid
                )
            }),
        }
        if m.uid < start {
            totals.already += 1;
            bar.inc(1);
            continue;
        }
        match copy_message(account, target.id, m, spool).await {
            Ok(octets) => {
                totals.imported += 1;
                totals.octets += octets;
            }
            Err(e) => {
                bar.suspend(|| {
                    eprintln!(
                        "mailroom: {} UID {} ({}): {e:#}",
                        folder.name,
                        m.uid,
                        m.path.display()
                    )
                });
                totals.failed += 1;
            }
        }
        bar.inc(1);
    }
    for chunk in uidls.chunks(1000) {
        account.set_pop3_uidls(target.id, chunk).await?;
    }
    account.finish_import(target.id, folder.uid_next).await?;
    Ok(())
}

/// Copies one message under its UID; returns its size on disk.
async fn copy_message(
    account: &Arc<dyn Account>,
    mailbox: mailroom_store::MailboxId,
    m: &SourceMessage,
    spool: &Path,
) -> Result<u64> {
    let mut file = std::fs::File::open(&m.path)?;
    let mut sink = MessageSink::new(spool, SPILL_AT);
    let mut buf = vec![0u8; MessageSink::CHUNK];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sink.write(&buf[..n]);
    }
    let data = sink.finish()?;
    let octets = data.len();
    account
        .append_with_uid(
            mailbox,
            m.uid,
            AppendRequest {
                prefix: Vec::new(),
                data,
                flags: Flags(m.flags),
                keywords: m.keywords.clone(),
                internal_date: Some((m.mtime, 0)),
            },
        )
        .await?;
    Ok(octets)
}

/// The old server's POP3 UIDL format (Dovecot's `pop3_uidl_format`): `%u` UID, `%v`
/// UIDVALIDITY, `%f` the Maildir file's base name, `%g` Dovecot's GUID; `X` or `x` print
/// numbers in lower-case hex (as Dovecot 2.3 does for both: `%08Xu%08Xv` gives
/// `000000016b16ec60`), `0` and a width pad; `%%` is a percent sign.
struct UidlFormat(String);

impl UidlFormat {
    fn check(fmt: &str) -> Result<()> {
        let mut it = fmt.chars().peekable();
        let mut any = false;
        while let Some(c) = it.next() {
            if c != '%' {
                continue;
            }
            while it
                .peek()
                .is_some_and(|c| c.is_ascii_digit() || *c == 'X' || *c == 'x')
            {
                it.next();
            }
            match it.next() {
                Some('u' | 'f' | 'g') => any = true,
                Some('v' | '%') => {}
                other => bail!(
                    "--pop3-uidl-format {fmt:?}: %{} is not supported (only %u %v %f %g)",
                    other.map(String::from).unwrap_or_default()
                ),
            }
        }
        if !any {
            bail!("--pop3-uidl-format {fmt:?} names no message (%u, %f or %g)");
        }
        Ok(())
    }

    /// The unique-id the old server showed for `m` (its own kept one first); `None` if
    /// it is not a valid POP3 unique-id.
    fn render(&self, uid_validity: u32, m: &SourceMessage) -> Option<String> {
        let s = match &m.pop3_uidl {
            Some(kept) => kept.clone(),
            None => self.expand(uid_validity, m)?,
        };
        let ok = !s.is_empty() && s.len() <= 70 && s.bytes().all(|b| (0x21..=0x7e).contains(&b));
        ok.then_some(s)
    }

    fn expand(&self, uid_validity: u32, m: &SourceMessage) -> Option<String> {
        let mut out = String::new();
        let mut it = self.0.chars().peekable();
        while let Some(c) = it.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let mut spec = String::new();
            while let Some(&d) = it.peek() {
                if d.is_ascii_digit() || d == 'X' || d == 'x' {
                    spec.push(d);
                    it.next();
                } else {
                    break;
                }
            }
            let zero = spec.starts_with('0');
            let width: usize = spec
                .trim_end_matches(['X', 'x'])
                .parse()
                .unwrap_or(0)
                .min(20);
            let hex = spec.ends_with(['X', 'x']);
            let num = |v: u32| match (hex, zero) {
                (true, true) => format!("{v:0width$x}"),
                (true, false) => format!("{v:width$x}"),
                (false, true) => format!("{v:0width$}"),
                (false, false) => format!("{v:width$}"),
            };
            match it.next()? {
                'u' => out.push_str(&num(m.uid)),
                'v' => out.push_str(&num(uid_validity)),
                'f' => out.push_str(&m.base),
                'g' => out.push_str(m.guid.as_deref()?),
                '%' => out.push('%'),
                _ => return None,
            }
        }
        Some(out.trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn msg(uid: u32, kept: Option<&str>) -> SourceMessage {
        SourceMessage {
            uid,
            path: PathBuf::new(),
            base: "1733.M1P2.host,S=10".into(),
            flags: 0,
            keywords: Vec::new(),
            mtime: 0,
            pop3_uidl: kept.map(str::to_string),
            guid: None,
        }
    }

    #[test]
    fn uidl_formats() {
        let f = UidlFormat("%08Xu%08Xv".into());
        assert_eq!(f.render(0x675, &msg(26, None)).unwrap(), "0000001a00000675");
        assert_eq!(f.render(1, &msg(2, Some("kept-id"))).unwrap(), "kept-id");
        let f = UidlFormat("%f".into());
        assert_eq!(f.render(1, &msg(2, None)).unwrap(), "1733.M1P2.host,S=10");
        assert_eq!(UidlFormat("%g".into()).render(1, &msg(2, None)), None);
        assert!(UidlFormat::check("%08Xu%08Xv").is_ok());
        assert!(UidlFormat::check("%m").is_err());
        assert!(UidlFormat::check("%v").is_err());
    }

    #[test]
    fn mail_templates() {
        assert_eq!(
            mail_path("%u/Maildir", "user1", ""),
            PathBuf::from("user1/Maildir")
        );
        assert_eq!(
            mail_path("%d/%n/Maildir", "j@example.org", "/home/j"),
            PathBuf::from("example.org/j/Maildir")
        );
        assert_eq!(
            Path::new("/mailroot").join(mail_path("%h/Maildir", "j", "/home/j")),
            PathBuf::from("/home/j/Maildir")
        );
    }
}
